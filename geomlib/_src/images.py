r"""Whitened natural-image patches cut from the photographs bundled with scikit-image.

Whitening follows Olshausen & Field (1997): multiply the image's Fourier transform by
the ramp-and-rolloff filter

.. math:: W(f) = f \, e^{-(f / f_0)^4}, \qquad f_0 = 0.4 \times \text{Nyquist},

which flattens the 1/f amplitude spectrum of natural scenes and removes the
highest, aliased frequencies. Patches are then cut at random, their mean removed,
and the set scaled to unit mean L2 norm ("image scale" of the original work).
"""

from __future__ import annotations

import numpy as np
from jax.typing import ArrayLike

from geomlib._src.core.checks import check_float, check_int

#: Upper bound of the values (n * size * size) that :func:`natural_image_patches` builds.
MAX_PATCH_VALUES = 2 ** 30

#: Natural photographs shipped inside the scikit-image wheel (no download).
PHOTOGRAPHS: tuple[str, ...] = (
    "camera", "astronaut", "coffee", "chelsea", "rocket", "grass",
    "gravel", "brick", "moon", "clock", "coins", "hubble_deep_field",
)


def load_photographs(names: tuple[str, ...] = PHOTOGRAPHS) -> list[np.ndarray]:
    """Grayscale float64 images in [0, 1] from ``skimage.data``.

    ``names``: a non-empty sequence of names from :data:`PHOTOGRAPHS` (or any image of
    ``skimage.data``); a single string is not a sequence of names (TypeError)."""
    from skimage import color, data, util

    if isinstance(names, (str, bytes)) or not isinstance(names, (list, tuple)):
        raise TypeError(f"names: expected a sequence of skimage.data image names such as ('camera',), got "
                        f"{type(names).__name__} {names!r}")
    if not names:
        raise ValueError("names: expected at least one image name, got an empty sequence")
    images = []
    for name in names:
        if not isinstance(name, str) or not hasattr(data, name):
            raise ValueError(f"names: {name!r} is not an image of skimage.data")
        img = getattr(data, name)()
        if img.ndim == 3:
            img = color.rgb2gray(img[..., :3])
        images.append(util.img_as_float64(img))
    return images


def whiten(image: ArrayLike, f0: float = 0.4) -> np.ndarray:
    """Whiten one grayscale image with the filter f exp(-(f/f0)^4) (f in cycles/pixel / Nyquist).

    Args:
      image: shape ``(H, W)``, real and finite (TypeError for None, a string or complex).
      f0: roll-off frequency as a fraction of Nyquist, in (0, 1].

    Returns:
      the whitened image, shape ``(H, W)``, zero mean.
    """
    if image is None or isinstance(image, (str, bytes, bool, np.bool_)):
        raise TypeError(f"image: expected a grayscale image (H, W) of real numbers, got {type(image).__name__} {image!r}")
    raw = np.asarray(image)
    if raw.dtype.kind not in "iuf":
        raise TypeError(f"image: expected a grayscale image (H, W) of real numbers, got dtype {raw.dtype}")
    image = raw.astype(np.float64)
    if image.ndim != 2:
        raise ValueError(f"image: expected a grayscale image of shape (H, W), got {image.shape}")
    if not np.isfinite(image).all():
        raise ValueError(f"image: expected finite values, got {int((~np.isfinite(image)).sum())} NaN or infinite")
    if isinstance(f0, (bool, np.bool_, str, bytes)) or f0 is None or not 0 < f0 <= 1:
        raise ValueError(f"f0: expected a fraction of Nyquist in (0, 1], got {f0!r}")
    f0 = check_float(f0, "f0", 0.0, 1.0, open_low=True)
    fy = np.fft.fftfreq(image.shape[0])[:, None] / 0.5
    fx = np.fft.fftfreq(image.shape[1])[None, :] / 0.5
    f = np.hypot(fx, fy)
    spectrum = np.fft.fft2(image - image.mean()) * f * np.exp(-((f / f0) ** 4))
    return np.real(np.fft.ifft2(spectrum))


def natural_image_patches(
    n: int = 200_000, size: int = 16, *, seed: int = 0, border: int = 8, f0: float = 0.4,
    names: tuple[str, ...] = PHOTOGRAPHS,
) -> np.ndarray:
    """Random whitened ``size x size`` patches, flattened, mean removed, mean L2 norm 1.

    Patches are drawn uniformly over images (then positions), skipping a ``border``
    of pixels where the whitening filter wraps around.

    Args:
      n: number of patches, an integer >= 1 with ``n * size**2 <= 2**30``.
      size: patch side, an integer >= 2 that fits in every photograph inside ``border``.
      seed: numpy seed, an integer >= 0 (None is rejected: the patches are reproducible).
      border: pixels skipped at each edge, an integer >= 0.
      f0: whitening roll-off (:func:`whiten`), in (0, 1].
      names: photographs (:func:`load_photographs`).

    Returns:
      float32 array of shape ``(n, size * size)``.
    """
    def whole(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))

    if whole(n) and whole(size) and (n < 1 or size < 2):
        raise ValueError(f"expected n >= 1 and size >= 2, got n={n!r}, size={size!r}")
    n = check_int(n, "n", 1)
    size = check_int(size, "size", 2)
    seed = check_int(seed, "seed", 0)
    border = check_int(border, "border", 0)
    f0 = check_float(f0, "f0", 0.0, 1.0, open_low=True)
    photos = load_photographs(names)
    room = min(min(img.shape) for img in photos) - 2 * border
    if size > room:
        raise ValueError(f"size: expected at most {room} (the smallest photograph's side minus 2 * border = "
                         f"{2 * border}), got {size}")
    if n * size * size > MAX_PATCH_VALUES:
        raise ValueError(f"n: expected n * size**2 <= 2**30 values ({MAX_PATCH_VALUES // (size * size)} patches of "
                         f"{size} x {size}), got n = {n}")
    rng = np.random.default_rng(seed)
    images = [whiten(img, f0) for img in photos]
    which = rng.integers(len(images), size=n)
    patches = np.empty((n, size * size), dtype=np.float64)
    for k, img in enumerate(images):
        idx = np.flatnonzero(which == k)
        h, w = img.shape
        rows = rng.integers(border, h - border - size + 1, size=idx.size)
        cols = rng.integers(border, w - border - size + 1, size=idx.size)
        win = np.lib.stride_tricks.sliding_window_view(img, (size, size))
        patches[idx] = win[rows, cols].reshape(idx.size, -1)
    patches -= patches.mean(axis=1, keepdims=True)
    patches /= np.linalg.norm(patches, axis=1).mean()
    return patches.astype(np.float32)
