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

#: Natural photographs shipped inside the scikit-image wheel (no download).
PHOTOGRAPHS: tuple[str, ...] = (
    "camera", "astronaut", "coffee", "chelsea", "rocket", "grass",
    "gravel", "brick", "moon", "clock", "coins", "hubble_deep_field",
)


def load_photographs(names: tuple[str, ...] = PHOTOGRAPHS) -> list[np.ndarray]:
    """Grayscale float64 images in [0, 1] from ``skimage.data``."""
    from skimage import color, data, util

    images = []
    for name in names:
        if not hasattr(data, name):
            raise ValueError(f"names: {name!r} is not an image of skimage.data")
        img = getattr(data, name)()
        if img.ndim == 3:
            img = color.rgb2gray(img[..., :3])
        images.append(util.img_as_float64(img))
    return images


def whiten(image, f0: float = 0.4) -> np.ndarray:
    """Whiten one grayscale image with the filter f exp(-(f/f0)^4) (f in cycles/pixel / Nyquist).

    Args:
      image: shape ``(H, W)``.
      f0: roll-off frequency as a fraction of Nyquist.

    Returns:
      the whitened image, shape ``(H, W)``, zero mean.
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"image: expected a grayscale image of shape (H, W), got {image.shape}")
    if not 0 < f0 <= 1:
        raise ValueError(f"f0: expected a fraction of Nyquist in (0, 1], got {f0!r}")
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

    Returns:
      float32 array of shape ``(n, size * size)``.
    """
    if n < 1 or size < 2:
        raise ValueError(f"expected n >= 1 and size >= 2, got n={n!r}, size={size!r}")
    rng = np.random.default_rng(seed)
    images = [whiten(img, f0) for img in load_photographs(names)]
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
