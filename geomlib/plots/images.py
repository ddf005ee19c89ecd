"""Flattened images (digits, weight vectors, plane directions) in a row or a grid."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from jax.typing import ArrayLike

__all__ = ["show_images"]


def show_images(
    images: ArrayLike,
    titles: Sequence[str] | None = None,
    *,
    axes=None,
    ncols: int | None = None,
    shape: tuple[int, int] | None = None,
    symmetric: bool | None = None,
    cmap: str | None = None,
    size: float = 1.7,
):
    """Show flattened images (digits, weight vectors, plane directions) in a row or grid.

    Args:
      images: ``(n, D)`` or ``(D,)``; each reshaped to ``shape`` (default: square,
        e.g. 28 x 28 for D = 784).
      titles: one per image.
      axes: Axes to use (at least n of them); None makes a new figure.
      ncols: images per row (default: all in one row, at most 8).
      symmetric: diverging colours centred at 0 with limits +-max|image| (weights,
        directions); default: whenever an image has negative entries. Otherwise grey
        scale from each image's min to max.
      cmap: override the colour map.
      size: inches per image when a figure is made.

    Returns:
      list of ``AxesImage``, one per image.
    """
    imgs = np.asarray(images, dtype=np.float64)
    imgs = imgs[None] if imgs.ndim == 1 else imgs
    if imgs.ndim != 2:
        raise ValueError(f"images: expected shape (n, D) or (D,), got {np.shape(images)}")
    n, d = imgs.shape
    if shape is None:
        side = int(round(np.sqrt(d)))
        if side * side != d:
            raise ValueError(f"shape: expected it for non-square images, got D = {d}")
        shape = (side, side)
    if int(np.prod(shape)) != d:
        raise ValueError(f"shape: expected a shape with {d} pixels, got {shape}")
    if titles is not None and len(titles) != n:
        raise ValueError(f"titles: expected {n} titles, got {len(titles)}")
    if axes is None:
        import matplotlib.pyplot as plt  # creating a figure is the point here

        ncols = ncols or min(n, 8)
        nrows = -(-n // ncols)
        _, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3 * (titles is not None)),
                               squeeze=False, layout="constrained")
    axes = list(np.ravel(axes))
    if len(axes) < n:
        raise ValueError(f"axes: expected at least {n} Axes, got {len(axes)}")
    out = []
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        if i >= n:
            continue
        img = imgs[i].reshape(shape)
        sym = bool(np.nanmin(img) < 0) if symmetric is None else symmetric
        if sym:
            m = float(np.nanmax(np.abs(img))) or 1.0
            im = ax.imshow(img, cmap=cmap or "RdBu_r", vmin=-m, vmax=m, origin="upper")
        else:
            im = ax.imshow(img, cmap=cmap or "gray", origin="upper")
        if titles is not None:
            ax.set_title(titles[i], fontsize="medium")
        out.append(im)
    return out
