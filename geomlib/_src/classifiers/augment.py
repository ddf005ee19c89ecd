r"""Data augmentation for training: randomly translated copies of square images."""

from __future__ import annotations

import numpy as np
from jax.typing import ArrayLike

from geomlib._src.core.checks import check_int


def shifted_copies(x: ArrayLike, copies: int, shift: int, seed: int = 0) -> np.ndarray:
    """``x`` ``(n, side*side)`` followed by ``copies`` randomly translated versions of every image.

    Each copy moves each image by integers (dy, dx) drawn uniformly from
    [-shift, shift]^2 (numpy, seeded), filling with zeros. Returns ``((copies + 1) n, D)``,
    originals first, then copy 1 of every image, and so on.

    >>> x = np.arange(9.0).reshape(1, 9)
    >>> shifted_copies(x, 1, 1, seed=2).reshape(2, 3, 3)[1].tolist()
    [[0.0, 0.0, 0.0], [1.0, 2.0, 0.0], [4.0, 5.0, 0.0]]
    """
    x = np.asarray(x)
    side = int(round(np.sqrt(x.shape[1]))) if x.ndim == 2 else 0
    if x.ndim != 2 or side * side != x.shape[1]:
        raise ValueError(f"x: expected square images flattened to (n, side * side), got shape {x.shape}")
    copies = check_int(copies, "copies", 0)
    shift = check_int(shift, "shift", 0, side - 1, high_label="side - 1")
    rng = np.random.default_rng(seed)
    images = x.reshape(-1, side, side)
    padded = np.pad(images, ((0, 0), (shift, shift), (shift, shift)))
    out = [x]
    rows = np.arange(side)
    for _ in range(int(copies)):
        dy, dx = rng.integers(-shift, shift + 1, size=(2, len(x), 1, 1))
        r = (shift - dy + rows[None, :, None])
        c = (shift - dx + rows[None, None, :])
        out.append(padded[np.arange(len(x))[:, None, None], r, c].reshape(x.shape))
    return np.concatenate(out)
