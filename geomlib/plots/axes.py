"""Where a figure's drawing goes: the notebooks' matplotlib defaults, and the Axes a
drawing function uses (the one given, or a new figure's)."""

from __future__ import annotations

import matplotlib as mpl

__all__ = ["new_axes", "notebook_style"]


def notebook_style(dpi: float = 80) -> None:
    """Set matplotlib defaults for the notebooks: modest dpi (small files), PNG output size."""
    mpl.rcParams.update({"figure.dpi": dpi, "savefig.dpi": dpi})


def new_axes(ax, figsize: tuple[float, float] | None = None, layout: str | None = "constrained"):
    """``ax`` if given (nothing else is touched); else the Axes of a new pyplot figure of
    ``figsize`` inches (None: matplotlib's default) with ``layout`` (None: matplotlib's
    default), so that it shows inline in a notebook."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # creating a figure is the point here

    return plt.subplots(figsize=figsize, layout=layout)[1]
