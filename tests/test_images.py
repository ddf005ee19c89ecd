"""Whitened natural-image patches from skimage.data."""

import numpy as np
import pytest

from geomlib._src.images import PHOTOGRAPHS, load_photographs, natural_image_patches, whiten


def test_photographs_are_bundled_grayscale_images():
    images = load_photographs()
    assert len(images) == len(PHOTOGRAPHS) == 12
    for img in images:
        assert img.ndim == 2 and img.min() >= 0 and img.max() <= 1 and min(img.shape) >= 150


def test_whitening_flattens_the_amplitude_spectrum():
    """Natural images fall off roughly as 1/f; after whitening the mid band is nearly flat."""
    img = load_photographs(("camera",))[0]

    def band_amplitude(x, lo, hi):
        amp = np.abs(np.fft.fft2(x - x.mean()))
        f = np.hypot(*np.meshgrid(np.fft.fftfreq(x.shape[1]), np.fft.fftfreq(x.shape[0]))) / 0.5
        return amp[(f >= lo) & (f < hi)].mean()

    # low band vs a band below the roll-off: a factor ~6 apart before, within 1.6x after
    raw = band_amplitude(img, 0.02, 0.05) / band_amplitude(img, 0.1, 0.2)
    white = band_amplitude(whiten(img), 0.02, 0.05) / band_amplitude(whiten(img), 0.1, 0.2)
    assert raw > 4 and 1 / 1.6 < white < 1.6


def test_patches_shape_scale_and_determinism():
    p = natural_image_patches(2000, 16, seed=3)
    assert p.shape == (2000, 256) and p.dtype == np.float32
    np.testing.assert_allclose(p.mean(axis=1), 0, atol=1e-6)
    assert np.linalg.norm(p, axis=1).mean() == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_array_equal(p, natural_image_patches(2000, 16, seed=3))
    assert not np.array_equal(p, natural_image_patches(2000, 16, seed=4))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: whiten(np.zeros((4, 4, 3))), "image: expected a grayscale image"),
        (lambda: whiten(np.zeros((8, 8)), f0=0), "f0: expected"),
        (lambda: natural_image_patches(0), "expected n >= 1"),
        (lambda: load_photographs(("no_such_photo",)), "not an image of skimage.data"),
    ],
)
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: natural_image_patches(2 ** 31, 4, names=("camera",)), ValueError, r"^n: expected n \* size\*\*2 <= 2\*\*30"),
        (lambda: natural_image_patches(4, 10 ** 5, names=("camera",)), ValueError, r"^size: expected at most 496"),
        (lambda: natural_image_patches(4, 4, seed=None, names=("camera",)), ValueError, r"^seed: expected an integer >= 0"),
        (lambda: natural_image_patches(4, 4, border=-5, names=("camera",)), ValueError, r"^border: expected an integer >= 0"),
        (lambda: natural_image_patches(2.5, 4), ValueError, r"^n: expected an integer"),
        (lambda: natural_image_patches(4, 4, f0=True), ValueError, r"^f0: expected a finite number"),
        (lambda: whiten(np.zeros((8, 8)) + 1j), TypeError, r"^image: expected a grayscale image \(H, W\) of real numbers"),
        (lambda: whiten(np.full((8, 8), np.nan)), ValueError, r"^image: expected finite values"),
        (lambda: whiten(np.zeros((8, 8)), f0=True), ValueError, r"^f0: expected a fraction of Nyquist"),
        (lambda: load_photographs("camera"), TypeError, r"^names: expected a sequence"),
        (lambda: load_photographs(()), ValueError, r"^names: expected at least one image name"),
    ],
)
def test_image_argument_checks(call, error, match):
    with pytest.raises(error, match=match):
        call()
