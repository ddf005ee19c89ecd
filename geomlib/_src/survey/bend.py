"""The bend statistic :func:`contour_bend`: its settings, checks and result."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from geomlib._src.core.checks import check_bool, check_callable, check_choice, check_float, check_int
from geomlib._src.geometry import Response
from geomlib._src.planes import Extent, Plane, parse_extent
from geomlib._src.survey.kernel import check_planes, flat_planes, run_plane_chunks
from geomlib._src.survey.results import ContourBend

#: Defaults of :func:`contour_bend`: rows and Illinois iterations per plane (measured by
#: ``make bench``: agree with the 30 x 30 grid method within its resolution error).
DEFAULT_ROWS = 9
DEFAULT_ITERATIONS = 4
DEFAULT_EDGE_ROWS = 7
#: Illinois steps locating where the contour leaves the window through a vertical edge.
EXIT_ITERATIONS = 2
#: Planes per compiled call (``contour_bend``) / per chunk of the survey.
DEFAULT_PLANE_CHUNK = 256
#: Largest n_b / n_edge (rows per plane) and iterations accepted (each row of each plane of a
#: chunk is evaluated at once: beyond these, memory or the traced loop counter overflows).
MAX_ROWS = 10_000
MAX_ITERATIONS = 1_000
#: Weightings of the parabola fit (:func:`contour_bend`, step 6).
WEIGHTINGS = ("arclength", "b")


def contour_bend(
    f: Response,
    planes: Plane,
    level: float = 0.5,
    extent: Extent = 2.0,
    *,
    n_b: int = DEFAULT_ROWS,
    iterations: int = DEFAULT_ITERATIONS,
    n_edge: int = DEFAULT_EDGE_ROWS,
    normalize: bool = True,
    positive_side: bool = True,
    weighting: str = "arclength",
    chunk_size: int = DEFAULT_PLANE_CHUNK,
) -> ContourBend:
    r"""Bend :math:`c_2` of the iso-response contour in each plane of a batch, found directly.

    The statistic of :func:`geomlib.fit_contour_curvature` (the original survey's: 0.5
    contour of the min-max normalised response, positive MEI side, fit
    :math:`a = c_0 + c_1 b + c_2 b^2` in plane units), without a grid. For every plane,
    with g(a, b) = f(origin + a u + b v) and the window ``[amin, amax] x [bmin, bmax]``
    (``extent``):

    1. edges: g on both vertical edges of the window at ``n_edge`` evenly spaced rows
       (end points and, for odd n_edge, the MEI axis b = 0 included);
    2. range (``normalize=True``): ``lo`` and ``hi`` are the min and max of those
       2 n_edge values and the contour level is ``L = lo + level (hi - lo)``. Whenever g
       is monotone along a in every row (true of the dictionary neurons on the usual
       window: their drive grows along the MEI axis) the window's extremes lie on those
       edges, so this is the original min-max normalisation over the window up to where
       the edges are sampled (hi within ~1% of the grid's on LCA neurons, which moves c2
       by < 1e-3). With ``normalize=False``, ``level`` is the absolute level L;
    3. extent: the contour crosses the window in the rows whose two edge values straddle
       L. Where it leaves through a vertical edge (a row straddles, its neighbour does
       not), the exit point on that edge is located by 2 Illinois steps along the edge.
       This gives the b-range [b_start, b_end] of the contour inside the window (the
       whole [bmin, bmax] when it leaves through the top and bottom);
    4. crossings: ``n_b`` rows at the Gauss-Legendre nodes of [b_start, b_end]
       (:func:`gauss_rows`); in each, the crossing g(a, b_j) = L is bracketed by the
       window's edges and located by ``iterations`` Illinois (modified regula falsi)
       steps, all rows of all planes evaluated together, then a final secant
       interpolation (no evaluation). Illinois converges superlinearly and never leaves
       the bracket; 4 steps locate the piecewise-linear LCA's crossing well enough that
       c2 does not change with more;
    5. side: with ``positive_side`` only crossings with a > 0 (the MEI side, up to a
       rounding tolerance of 1e-6 of the window, so that a contour lying on a = 0 is
       kept) count, as in the original statistic. A row whose edge values do not
       straddle L has no point;
    6. fit: weighted least squares :math:`a = c_0 + c_1 b + c_2 b^2` over the rows with a
       point; NaN when fewer than 3. The weights are the Gauss-Legendre weights, so the
       fit is the continuous least-squares fit over the contour's b-range (the fine-grid
       limit of the grid method) computed from n_b points; with
       ``weighting="arclength"`` (default) times :math:`1 + |da/db|` (differences of
       neighbouring crossings), because the grid method places one point per grid-line
       crossing, i.e. :math:`(1 + |da/db|)/h` points per unit b. ``"b"``: Gauss weights only.

    Cost: ``2 n_edge + 4 + n_b (2 + iterations)`` model evaluations per plane, 72 by
    default (12.5x fewer than the 900 of a 30 x 30 grid). ``make bench`` measures the
    agreement on 32 planes of patches-2x LCA neurons: against the grid method at 90 x 90,
    c2 differs by a median 1e-3 (max 5e-3), closer than the 30 x 30 grid does (median
    2e-3, max 1.1e-2); the grid's c2 is still rising between 60 and 90 points, toward
    this value.

    Args:
      f: scalar response R^D -> R (e.g. :func:`geomlib.dictionary_neuron`); bind
        parameters with ``jax.tree_util.Partial`` so the kernel compiles once per model
        structure.
      planes: a :class:`Plane` whose arrays have shape ``S + (D,)`` with any batch shape
        ``S`` (e.g. ``(n_neurons, n_planes)`` from :func:`survey_planes`; ``()`` for one
        plane). u is the MEI (horizontal) axis.
      level: contour level; with ``normalize`` a fraction in (0, 1) of the window's range.
      extent: the window: half-width e of [-e, e]^2, or ``((amin, amax), (bmin, bmax))``.
      n_b: rows of crossings (in [3, 10**4]). The result converges as n_b grows (it is in
        plane units, not grid units).
      iterations: Illinois steps per row (in [1, 1000]).
      n_edge: rows sampled on the window's vertical edges (in [2, 10**4]).
      normalize: min-max normalise as in step 2 (a bool).
      positive_side: keep only crossings on the MEI side a > 0 (a bool).
      weighting: ``"arclength"`` or ``"b"`` (step 5).
      chunk_size: planes per compiled call (bounds memory: a chunk evaluates
        ``chunk_size * n_b`` inputs at once).

    Returns:
      :class:`ContourBend` with arrays of batch shape ``S``.

    Raises:
      ValueError: naming the bad argument (not a Plane, bad level / extent / n_b /
        iterations / n_edge / weighting / chunk_size, f not callable).
      TypeError: ``normalize`` or ``positive_side`` not a bool.

    >>> import geomlib
    >>> p = geomlib.plane(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]))
    >>> bend = contour_bend(lambda x: x[0] - 0.2 * x[1] ** 2, p, 0.5, normalize=False)
    >>> round(float(bend.c2), 4), round(float(bend.c0), 4), bend.evaluations  # contour a = 0.5 + 0.2 b^2
    (0.2, 0.5, 72)
    """
    fp = check_callable(f, "f", "R^D -> R")
    planes = check_planes(planes)
    static = bend_static(level, extent, n_b, iterations, normalize, positive_side, weighting, n_edge)
    chunk_size = check_int(chunk_size, "chunk_size")
    flat, shape = flat_planes(planes)
    out = run_plane_chunks(fp, set(), flat, jnp.asarray(level, flat.u.dtype), chunk_size=chunk_size, **static)
    return as_bend(out, shape, static)


def bend_static(level, extent, n_b, iterations, normalize, positive_side, weighting="arclength",
                n_edge=DEFAULT_EDGE_ROWS) -> dict:
    """The checked settings of :func:`contour_bend` as the kernel's static keyword arguments
    (:func:`run_plane_chunks`); ValueError naming a bad one."""
    level = check_float(level, "level")
    normalize = check_bool(normalize, "normalize")
    positive_side = check_bool(positive_side, "positive_side")
    if normalize and not 0 < level < 1:
        raise ValueError(f"level: with normalize=True expected a fraction in (0, 1), got {level!r}")
    a_range, b_range = check_extent(extent)
    return {"a_range": a_range, "b_range": b_range, "n_b": check_int(n_b, "n_b", 3, MAX_ROWS),
            "n_edge": check_int(n_edge, "n_edge", 2, MAX_ROWS),
            "iterations": check_int(iterations, "iterations", 1, MAX_ITERATIONS),
            "exit_iterations": EXIT_ITERATIONS, "normalize": normalize, "positive_side": positive_side,
            "weighting": check_choice(weighting, "weighting", WEIGHTINGS)}


def check_extent(extent) -> tuple[tuple[float, float], tuple[float, float]]:
    """``extent`` (a half-width e > 0, or ``((amin, amax), (bmin, bmax))``) as the two ranges;
    ValueError naming ``extent`` for anything else (None, strings and bools included)."""
    if extent is None or isinstance(extent, (bool, np.bool_, str, bytes)):
        raise ValueError(f"extent: expected a half-width > 0 or ((amin, amax), (bmin, bmax)), got {extent!r}")
    if np.ndim(extent) == 0:
        check_float(extent, "extent", 0.0, open_low=True)
    else:
        try:
            arr = np.asarray(extent)
        except (TypeError, ValueError):
            arr = np.asarray(None)
        if arr.dtype.kind not in "iuf":
            raise ValueError(f"extent: expected a half-width > 0 or ((amin, amax), (bmin, bmax)) of numbers, "
                             f"got {extent!r}")
    return parse_extent(extent)


def evaluations_per_plane(static) -> int:
    """Model evaluations per plane of the kernel with settings ``static`` (:func:`bend_static`)."""
    return 2 * static["n_edge"] + 2 * static["exit_iterations"] + static["n_b"] * (2 + static["iterations"])


def as_bend(out, shape, static) -> ContourBend:
    """The outputs of :func:`run_plane_chunks` (flat batch) as a :class:`ContourBend` of batch shape ``shape``."""
    c2, c0, c1, n_valid, target, lo, hi, points = out
    r = lambda x: jnp.reshape(x, shape + x.shape[1:])  # noqa: E731
    return ContourBend(r(c2), r(c0), r(c1), r(n_valid), r(target), r(lo), r(hi), r(points),
                       evaluations_per_plane(static))
