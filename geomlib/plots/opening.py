"""Figures of chapter 1 (adversarial examples): a digit beside its adversarial versions and
their perturbations, one row per model, every panel with its colour bar.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from jax.typing import ArrayLike

__all__ = ["plot_adversarial_examples"]


def _square(d: int) -> tuple[int, int]:
    side = int(round(np.sqrt(d)))
    if side * side != d:
        raise ValueError(f"shape: expected it for non-square images, got D = {d}")
    return side, side


def plot_adversarial_examples(
    x: ArrayLike,
    x_adv: ArrayLike,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    *,
    captions: Sequence[Sequence[str]] | None = None,
    vmax: Sequence[float] | None = None,
    shape: tuple[int, int] | None = None,
    axes=None,
    size: float = 2.3,
):
    """A clean image and, per row (model) and column (attack), the perturbation and the
    adversarial image.

    Row r shows ``x``, then for each attack c the perturbation ``x_adv[r, c] - x`` on a
    diverging scale centred at 0 (its L-inf and L2 norms written under it) and the
    adversarial image on the grey scale [0, 1]. One
    perturbation colour scale per attack, shared by the rows, so two models attacked alike
    compare at a glance; every panel has its colour bar.

    Args:
      x: the clean image ``(D,)`` in [0, 1].
      x_adv: adversarial images ``(R, C, D)``: R rows (models), C columns (attacks).
      row_labels: R names, written left of each row.
      column_labels: C attack names, written over the perturbation panels.
      captions: ``(R, 1 + C)`` strings under the panels: the model's answer on ``x``, then on
        each adversarial image (e.g. "says 9 (p = 0.71)"); None for none.
      vmax: C colour limits of the perturbations (symmetric, +-vmax); default: the largest
        ``|x_adv - x|`` of each column.
      shape: image shape (default square, 28 x 28 for D = 784).
      axes: an ``(R, 1 + 2 C)`` array of Axes to draw in; None makes a new figure.
      size: inches per panel when a figure is made.

    Returns:
      the ``(R, 1 + 2 C)`` array of Axes.
    """
    x = np.asarray(x, dtype=np.float64)
    adv = np.asarray(x_adv, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"x: expected shape (D,), got {x.shape}")
    if adv.ndim != 3 or adv.shape[2] != x.shape[0]:
        raise ValueError(f"x_adv: expected shape (R, C, {x.shape[0]}), got {adv.shape}")
    n_rows, n_cols = adv.shape[:2]
    if len(row_labels) != n_rows:
        raise ValueError(f"row_labels: expected {n_rows} labels, got {len(row_labels)}")
    if len(column_labels) != n_cols:
        raise ValueError(f"column_labels: expected {n_cols} labels, got {len(column_labels)}")
    if captions is not None and (len(captions) != n_rows or any(len(c) != 1 + n_cols for c in captions)):
        raise ValueError(f"captions: expected {n_rows} rows of {1 + n_cols} strings, got {captions!r}")
    shape = _square(x.shape[0]) if shape is None else tuple(shape)
    if int(np.prod(shape)) != x.shape[0]:
        raise ValueError(f"shape: expected a shape with {x.shape[0]} pixels, got {shape}")
    delta = adv - x
    limits = np.max(np.abs(delta), axis=(0, 2)) if vmax is None else np.asarray(vmax, dtype=np.float64)
    if limits.shape != (n_cols,) or not np.all(limits > 0):
        raise ValueError(f"vmax: expected {n_cols} positive limits, got {vmax!r}")
    if axes is None:
        import matplotlib.pyplot as plt  # creating a figure is the point here

        _, axes = plt.subplots(n_rows, 1 + 2 * n_cols, figsize=(size * (1 + 2 * n_cols), size * n_rows + 0.4),
                               layout="constrained", squeeze=False)
    axes = np.asarray(axes).reshape(n_rows, 1 + 2 * n_cols)
    fig = axes[0, 0].figure
    for r in range(n_rows):
        panels = [(x, "gray", 0.0, 1.0, "clean x")]
        for c in range(n_cols):
            panels.append((delta[r, c], "RdBu_r", -limits[c], limits[c], f"{column_labels[c]}: δ"))
            panels.append((adv[r, c], "gray", 0.0, 1.0, f"{column_labels[c]}: x + δ"))
        for k, (img, cmap, lo, hi, title) in enumerate(panels):
            ax = axes[r, k]
            im = ax.imshow(img.reshape(shape), cmap=cmap, vmin=lo, vmax=hi)
            fig.colorbar(im, ax=ax, shrink=0.75, pad=0.03, aspect=15)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize="small")
            if k % 2:  # a perturbation: its size
                ax.set_xlabel(f"L∞ {np.max(np.abs(img)):.3f}, L2 {np.linalg.norm(img):.2f}", fontsize="small")
            elif captions is not None:
                ax.set_xlabel(captions[r][k // 2], fontsize="small")
        axes[r, 0].set_ylabel(row_labels[r])
    return axes
