r"""The curvature survey: one bend statistic per plane, for many neurons x planes.

Paiton et al. (2020) measured how the iso-response contours of sparse-coding (LCA)
neurons bend by sampling each plane on a 30 x 30 grid of the window [-2, 2]^2,
min-max normalising the response, extracting the 0.5 contour with
``skimage.measure.find_contours``, keeping the part on the positive MEI side (a > 0)
and fitting :math:`a = c_0 + c_1 b + c_2 b^2`; :math:`c_2 > 0` is exo-origin
(:func:`geomlib.fit_contour_curvature` does that, in plane units). A survey needs one
number per plane, so this module finds the contour *directly*:

* :func:`contour_bend`: samples the window's two vertical edges (min-max range, hence
  the level, and where the contour enters and leaves the window), then for ``n_b``
  rows :math:`b_j` (Gauss-Legendre nodes of the contour's b-range) locates the
  crossing :math:`g(a, b_j) = L` along the MEI axis a by vectorised bracketing +
  Illinois (regula falsi) iterations, and fits the parabola to the crossings by
  weighted least squares: the continuous fit that a grid approaches as it is refined.
  72 model evaluations per plane by default (12.5x fewer than a 30 x 30 grid), in
  plane units, independent of any grid. Planes are ``vmap``-ed and evaluated in
  chunks, so the rows of all planes of a chunk become one matrix-matrix product per
  LCA step.
* :func:`response_attenuation`: the second statistic of the original work, a
  quadratic fit of the response along a vertical line at fixed a; divided by the
  slope along a it is the same bend in the same units as :math:`c_2`.
* :func:`axis_curvature`: exact autodiff curvature of the contour where it crosses the
  MEI axis (for smooth models: the LCA with a softplus threshold).
* :func:`survey_planes` builds the survey's planes (comparison and random) and
  :func:`run_survey` runs the whole survey (neurons x planes, chunked, sharded over
  the local devices), returning a :class:`SurveyResult` that saves to / loads from
  ``.npz`` (:func:`load_survey`).

Sign convention everywhere: positive = exo-origin (the contour bends around the MEI
axis, away from the origin, i.e. the response falls off away from the MEI axis).
For :math:`g = h(a - c\,b^2)` with h increasing: ``contour_bend(...).c2 = c``,
``response_attenuation(...).bend = c`` and ``axis_curvature = 2 c``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import tempfile
import time
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial

from geomlib._src.checks import check_float, check_int
from geomlib._src.geometry import _VGH, Response, _as_partial, contour_curvature
from geomlib._src.lca import DICTIONARY_MODELS, _phi, dictionary_neuron
from geomlib._src.planes import Extent, Plane, float_dtype, parse_extent

#: Defaults of :func:`contour_bend`: rows and Illinois iterations per plane (measured by
#: ``make bench``: agree with the 30 x 30 grid method within its resolution error).
DEFAULT_ROWS = 9
DEFAULT_ITERATIONS = 4
DEFAULT_EDGE_ROWS = 7
#: Illinois steps locating where the contour leaves the window through a vertical edge.
EXIT_ITERATIONS = 2
#: Planes per compiled call (``contour_bend``) / per chunk of the survey.
DEFAULT_PLANE_CHUNK = 256

# Crossings with a > -_SIDE_TOL * (amax - amin) count as on the positive side: a contour
# lying exactly on the a = 0 line (a linear neuron at level 0.5) is kept despite rounding.
_SIDE_TOL = 1e-6


# --------------------------------------------------------------------------- results


class ContourBend(NamedTuple):
    r"""Parabola :math:`a = c_0 + c_1 b + c_2 b^2` fitted to the iso-response contour of
    each plane of a batch (plane units), with the points it was fitted to.

    Attributes (batch shape ``S`` = the planes' leading shape):
      c2: bend, shape ``S``; positive = exo-origin. NaN when fewer than 3 crossings
        were found (``n_valid < 3``) or the response is constant on the window.
      c0: contour position on the MEI axis (b = 0), shape ``S``.
      c1: slope, shape ``S``.
      n_valid: number of rows where a crossing was found, shape ``S`` (int).
      level: the absolute response level of the contour, shape ``S``
        (``lo + level * (hi - lo)`` when normalising).
      lo, hi: the response range used to normalise (min and max over the samples on
        the window's left and right edges), shape ``S``.
      points: the crossings (a, b), shape ``S + (n_b, 2)``; a is NaN for rows without
        a crossing (on the positive side).
      evaluations: model evaluations used per plane (a Python int,
        ``2 n_edge + 4 + n_b (2 + iterations)``).
    """

    c2: jax.Array
    c0: jax.Array
    c1: jax.Array
    n_valid: jax.Array
    level: jax.Array
    lo: jax.Array
    hi: jax.Array
    points: jax.Array
    evaluations: int

    @property
    def tip_curvature(self) -> jax.Array:
        r"""Curvature of the fitted parabola at its vertex-side point b = 0:
        :math:`2 c_2 / (1 + c_1^2)^{3/2}` (compare with :func:`axis_curvature`)."""
        return 2 * self.c2 / (1 + self.c1**2) ** 1.5


class ResponseAttenuation(NamedTuple):
    r"""Quadratic fit :math:`g(a, b) \approx r_0 + r_1 b + r_2 b^2` along the vertical line
    at fixed a, per plane (batch shape ``S``).

    Attributes:
      r0, r1, r2: fit coefficients (response units), shape ``S``.
      on_axis: the response g(a, 0) on the MEI axis, shape ``S``.
      slope: exact :math:`\partial g / \partial a` at (a, 0) (autodiff), shape ``S``.
      attenuation: :math:`-r_2 / g(a, 0)`: the fraction of the on-axis response lost
        per unit :math:`b^2`; positive = the response falls off away from the MEI axis
        (exo-origin). NaN where g(a, 0) <= 0.
      bend: :math:`-r_2 / (\partial g/\partial a)`: the same fall-off converted to the
        horizontal shift of the contour, in plane units, directly comparable with
        :attr:`ContourBend.c2` (for g = h(a - c b^2) both equal c). NaN where the slope is 0.
      evaluations: model evaluations per plane (``n`` values + one forward-mode
        derivative, counted as 2).
    """

    r0: jax.Array
    r1: jax.Array
    r2: jax.Array
    on_axis: jax.Array
    slope: jax.Array
    attenuation: jax.Array
    bend: jax.Array
    evaluations: int


class SurveyPlanes(NamedTuple):
    """The planes of a curvature survey, batched as ``(n_neurons, n_planes)``.

    Attributes:
      planes: :class:`Plane` whose arrays have shape ``(n_neurons, n_planes, D)``;
        origin 0, u = the neuron's MEI axis (its unit dictionary element), v orthonormal.
        The first ``n_comparison`` planes of each neuron are comparison planes (closest
        first), the rest random planes.
      kind: ``(n_planes,)`` strings, ``"comparison"`` or ``"random"``.
      angle: ``(n_neurons, n_planes)`` angle in degrees between the MEI axis and the raw
        vertical direction before Gram-Schmidt (the comparison neuron's dictionary
        element, or the random vector).
      partner: ``(n_neurons, n_planes)`` index of the comparison neuron; -1 for random planes.
      neurons: ``(n_neurons,)`` the surveyed neurons.
    """

    planes: Plane
    kind: np.ndarray
    angle: np.ndarray
    partner: np.ndarray
    neurons: np.ndarray


KINDS = ("comparison", "random")


@dataclasses.dataclass(frozen=True)
class SurveyResult:
    """Per-plane bend of a curvature survey (arrays of shape ``(n_neurons, n_planes)``).

    Attributes:
      c2, c0, c1: :class:`ContourBend` coefficients per neuron x plane (c2 > 0: exo-origin).
      n_valid: crossings found per plane (out of ``config["n_b"]``).
      angle, partner, kind, neurons: as in :class:`SurveyPlanes`.
      model: ``"lca"``, ``"linear"``, ``"relu"`` or ``"divisive"``.
      config: everything needed to rerun it (model settings, window, rows, iterations,
        seed, dictionary shape) and ``"seconds"``, ``"evaluations_per_plane"``,
        ``"devices"``.
    """

    c2: np.ndarray
    c0: np.ndarray
    c1: np.ndarray
    n_valid: np.ndarray
    angle: np.ndarray
    partner: np.ndarray
    kind: np.ndarray
    neurons: np.ndarray
    model: str
    config: dict

    def values(self, kind: str | None = None) -> np.ndarray:
        """Finite c2 values of all planes of ``kind`` (``"comparison"``, ``"random"`` or None
        for all), flattened."""
        if kind is not None and kind not in KINDS:
            raise ValueError(f"kind: expected None or one of {KINDS}, got {kind!r}")
        c2 = self.c2 if kind is None else self.c2[:, self.kind == kind]
        c2 = np.asarray(c2, np.float64).ravel()
        return c2[np.isfinite(c2)]

    def fraction_exo(self, kind: str | None = None) -> float:
        """Fraction of the planes (with a finite c2) whose contour is exo-origin (c2 > 0)."""
        v = self.values(kind)
        return float(np.mean(v > 0)) if v.size else math.nan

    def fraction_valid(self, kind: str | None = None) -> float:
        """Fraction of the planes of ``kind`` with a finite c2 (a contour was found)."""
        c2 = self.c2 if kind is None else self.c2[:, self.kind == kind]
        return float(np.mean(np.isfinite(c2))) if c2.size else math.nan

    def median(self, kind: str | None = None) -> float:
        """Median c2 over the planes of ``kind`` (finite values only)."""
        v = self.values(kind)
        return float(np.median(v)) if v.size else math.nan

    def summary(self) -> dict:
        """Headline numbers: fraction exo-origin, median / 90th percentile of c2 per kind,
        fraction of planes with a contour, and the Spearman correlation between the
        comparison neuron's angle and c2 (negative: closer neurons bend more)."""
        out = {"model": self.model, "neurons": int(self.c2.shape[0]), "planes_per_neuron": int(self.c2.shape[1]),
               "fraction_exo": self.fraction_exo(), "fraction_valid": self.fraction_valid()}
        for kind in KINDS:
            v = self.values(kind)
            out[f"median_{kind}"] = float(np.median(v)) if v.size else math.nan
            out[f"p90_{kind}"] = float(np.percentile(v, 90)) if v.size else math.nan
            out[f"fraction_exo_{kind}"] = self.fraction_exo(kind)
        out["spearman_angle_c2"] = self.angle_correlation()
        return out

    def angle_correlation(self) -> float:
        """Spearman rank correlation between angle and c2 over the comparison planes."""
        sel = self.kind == "comparison"
        a = np.asarray(self.angle[:, sel], np.float64).ravel()
        c = np.asarray(self.c2[:, sel], np.float64).ravel()
        ok = np.isfinite(a) & np.isfinite(c)
        if ok.sum() < 3:
            return math.nan
        from scipy.stats import spearmanr

        return float(spearmanr(a[ok], c[ok]).statistic)

    def save(self, path) -> None:
        """Write the result to a compressed ``.npz`` (no pickles; read it with :func:`load_survey`)."""
        save_survey(self, path)

    def _arrays(self, prefix: str = "") -> dict:
        arrays = {prefix + f.name: np.asarray(getattr(self, f.name)) for f in dataclasses.fields(self)
                  if f.name not in ("model", "config")}
        arrays[prefix + "kind"] = arrays[prefix + "kind"].astype("U10")
        arrays[prefix + "model"] = np.array(self.model)
        arrays[prefix + "config"] = np.array(json.dumps(self.config))
        return arrays


def save_survey(results, path) -> None:
    """Write one :class:`SurveyResult`, or a dict ``name -> SurveyResult`` (names without ``":"``),
    to a compressed ``.npz`` at ``path`` (atomically: a temporary file renamed); read it back
    with :func:`load_survey`."""
    if isinstance(results, SurveyResult):
        arrays = results._arrays()
    elif isinstance(results, dict) and results and all(isinstance(r, SurveyResult) for r in results.values()):
        if any(":" in str(k) for k in results):
            raise ValueError("results: names must not contain ':'")
        arrays = {k: v for name, r in results.items() for k, v in r._arrays(f"{name}:").items()}
    else:
        raise ValueError("results: expected a SurveyResult or a non-empty dict of them")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=directory)
    os.close(fd)
    try:
        np.savez_compressed(tmp, **arrays)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_survey(path) -> SurveyResult | dict[str, SurveyResult]:
    """Read a survey written by :func:`save_survey` / :meth:`SurveyResult.save`: one
    :class:`SurveyResult`, or, for a file holding several (as written by
    ``python -m geomlib.survey``), a dict keyed by name, e.g. ``"patches-2x/lca"``."""
    with np.load(path, allow_pickle=False) as npz:
        data = {k: npz[k] for k in npz.files}
    if "model" in data:
        return _result_from(data, "")
    names = sorted({k.split(":", 1)[0] for k in data if ":" in k})
    if not names:
        raise ValueError(f"path: {path} holds no survey result")
    return {name: _result_from(data, name + ":") for name in names}


def _result_from(data: dict, prefix: str) -> SurveyResult:
    kw = {}
    for f in dataclasses.fields(SurveyResult):
        v = data[prefix + f.name]
        if f.name == "model":
            v = str(v)
        elif f.name == "config":
            v = json.loads(str(v))
        kw[f.name] = v
    return SurveyResult(**kw)


# --------------------------------------------------------------------------- checks


def _check_planes(planes) -> Plane:
    if not isinstance(planes, Plane):
        raise ValueError(f"planes: expected a geomlib.Plane (possibly batched), got {type(planes).__name__}")
    shapes = {jnp.shape(planes.origin), jnp.shape(planes.u), jnp.shape(planes.v)}
    if len(shapes) != 1 or jnp.ndim(planes.u) < 1:
        raise ValueError(f"planes: expected origin, u and v of one shape (..., D), got {sorted(shapes)}")
    return planes


# --------------------------------------------------------------------------- contour bend


def _solve3(m, r):
    """Solve the 3 x 3 system m d = r by Cramer's rule (compiles far faster than an LU
    solve; the normal equations here are well conditioned, b being scaled to [-1, 1])."""
    def det(c0, c1, c2):
        return jnp.dot(c0, jnp.cross(c1, c2))

    cols = [m[:, 0], m[:, 1], m[:, 2]]
    full = det(*cols)
    out = []
    for k in range(3):
        c = list(cols)
        c[k] = r
        out.append(det(*c) / full)
    return jnp.stack(out)


def _fit_parabola(a, b, ok, scale, weights=None):
    """Weighted least squares a = c0 + c1 b + c2 b^2 over rows where ok; b scaled by ``scale``."""
    t = b / scale
    basis = jnp.stack([jnp.ones_like(t), t, t * t], axis=-1)  # (n, 3)
    w = ok.astype(a.dtype) if weights is None else jnp.where(ok, weights, 0.0)
    aw = jnp.where(ok, a, 0.0)
    gram = jnp.einsum("n,ni,nj->ij", w, basis, basis)
    rhs = jnp.einsum("n,n,ni->i", w, aw, basis)
    n_valid = jnp.sum(ok)
    good = n_valid >= 3
    d = _solve3(jnp.where(good, gram, jnp.eye(3, dtype=a.dtype)), rhs)
    d = jnp.where(good, d, jnp.nan)
    return d[0], d[1] / scale, d[2] / scale**2, n_valid


def _secant(x0, x1, f0, f1):
    den = f1 - f0
    ok = den > 0
    x = jnp.where(ok, (x0 * f1 - x1 * f0) / jnp.where(ok, den, 1.0), 0.5 * (x0 + x1))
    return jnp.clip(x, jnp.minimum(x0, x1), jnp.maximum(x0, x1))


def _illinois(h, x0, x1, f0, f1, iterations: int):
    """Vectorised Illinois (modified regula falsi) for h(x) = 0 from brackets with
    f0 = h(x0) < 0 <= f1 = h(x1) (elementwise); ``iterations`` evaluations of h, then a final
    secant interpolation. Rows without a valid bracket return some point of [x0, x1]."""

    def step(_, state):
        x0, x1, f0, f1, side = state
        x = _secant(x0, x1, f0, f1)
        fx = h(x)
        right = fx >= 0  # x replaces x1
        f0h = jnp.where(right & (side > 0), 0.5 * f0, f0)  # same end replaced twice: halve the other
        f1h = jnp.where(~right & (side < 0), 0.5 * f1, f1)
        return (jnp.where(right, x0, x), jnp.where(right, x, x1), jnp.where(right, f0h, fx),
                jnp.where(right, fx, f1h), jnp.where(right, 1, -1))

    state = (x0, x1, f0, f1, jnp.zeros(x0.shape, jnp.int32))
    x0, x1, f0, f1, _ = jax.lax.fori_loop(0, iterations, step, state)
    return _secant(x0, x1, f0, f1)


def _oriented(x_lo, x_hi, f_lo, f_hi):
    """Order each bracket so that the first end has the negative value."""
    neg = f_lo < 0
    return (jnp.where(neg, x_lo, x_hi), jnp.where(neg, x_hi, x_lo), jnp.where(neg, f_lo, f_hi),
            jnp.where(neg, f_hi, f_lo))


def _slopes(a, b, ok):
    """da/db at each row from its valid neighbours (mean of the one-sided differences)."""
    db = jnp.diff(b)
    d = jnp.diff(a) / db
    okd = ok[1:] & ok[:-1]
    fwd = jnp.concatenate([jnp.where(okd, d, 0.0), jnp.zeros((1,), a.dtype)])
    bwd = jnp.concatenate([jnp.zeros((1,), a.dtype), jnp.where(okd, d, 0.0)])
    nf = jnp.concatenate([okd, jnp.zeros((1,), bool)]).astype(a.dtype)
    nb = jnp.concatenate([jnp.zeros((1,), bool), okd]).astype(a.dtype)
    return (jnp.abs(fwd) * nf + jnp.abs(bwd) * nb) / jnp.maximum(nf + nb, 1.0)


def _bend_one(f, p: Plane, level, *, a_range, b_range, n_b, n_edge, iterations, exit_iterations, normalize,
              positive_side, weighting):
    (amin, amax), (bmin, bmax) = a_range, b_range
    dt = p.u.dtype

    def g(a, b):  # responses at the points (a_k, b_k)
        return jax.vmap(lambda ai, bi: f(p.origin + ai * p.u + bi * p.v))(a, b)

    # Pass 1: both vertical edges at n_edge evenly spaced rows -> range, level, b-extent.
    be = jnp.linspace(bmin, bmax, n_edge, dtype=dt)

    def edges(b):  # g on the left and right edges at rows b, in one batch
        n = b.shape[0]
        both = g(jnp.concatenate([jnp.full((n,), amin, dt), jnp.full((n,), amax, dt)]), jnp.concatenate([b, b]))
        return both[:n], both[n:]

    g_left, g_right = edges(be)
    lo = jnp.minimum(jnp.min(g_left), jnp.min(g_right))
    hi = jnp.maximum(jnp.max(g_left), jnp.max(g_right))
    if normalize:
        target = lo + level * (hi - lo)
        flat = ~(hi > lo)
    else:
        target = jnp.asarray(level, dt)
        flat = jnp.zeros((), bool)
    fl, fr = g_left - target, g_right - target
    straddle = (fl < 0) != (fr < 0)
    found = jnp.any(straddle) & ~flat
    j0 = jnp.argmax(straddle)  # first and last rows where the contour crosses the window
    j1 = n_edge - 1 - jnp.argmax(straddle[::-1])

    # Where the contour leaves the window through a vertical edge between two edge rows,
    # locate that exit along the edge (Illinois in b, both exits batched).
    def exit_bracket(j_in, j_out):
        right = (fr[j_in] < 0) != (fr[j_out] < 0)  # else it leaves through the left edge
        fe = jnp.where(right, fr, fl)
        return jnp.where(right, amax, amin), be[j_out], be[j_in], fe[j_out], fe[j_in]

    j_before = jnp.maximum(j0 - 1, 0)
    j_after = jnp.minimum(j1 + 1, n_edge - 1)
    e0, e1 = exit_bracket(j0, j_before), exit_bracket(j1, j_after)
    a_exit = jnp.stack([e0[0], e1[0]]).astype(dt)
    x0, x1, f0, f1 = _oriented(*(jnp.stack([u0, u1]) for u0, u1 in zip(e0[1:], e1[1:])))
    b_exit = _illinois(lambda b: g(a_exit, b) - target, x0, x1, f0, f1, exit_iterations)
    b_start = jnp.where(j0 > 0, b_exit[0], bmin)
    b_end = jnp.where(j1 < n_edge - 1, b_exit[1], bmax)

    # Pass 2: Gauss-Legendre rows over the contour's b-extent; crossing along a in each.
    xg, wg = np.polynomial.legendre.leggauss(n_b)
    half = 0.5 * (b_end - b_start)
    bs = 0.5 * (b_start + b_end) + half * jnp.asarray(xg, dt)
    qw = half * jnp.asarray(wg, dt)
    ga, gb = edges(bs)
    ga, gb = ga - target, gb - target
    bracketed = (ga < 0) != (gb < 0)
    x0, x1, f0, f1 = _oriented(jnp.full((n_b,), amin, dt), jnp.full((n_b,), amax, dt), ga, gb)
    root = _illinois(lambda a: g(a, bs) - target, x0, x1, f0, f1, iterations)
    ok = bracketed & found
    if positive_side:
        ok = ok & (root > -_SIDE_TOL * (amax - amin))
    root = jnp.where(ok, root, jnp.nan)
    w = qw
    if weighting == "arclength":
        w = qw * (1 + _slopes(jnp.where(ok, root, 0.0), bs, ok))
    c0, c1, c2, n_valid = _fit_parabola(root, bs, ok, max(abs(bmin), abs(bmax)), w)
    points = jnp.stack([root, bs], axis=-1)
    return c2, c0, c1, n_valid, target, lo, hi, points


def gauss_rows(n_b: int, b_range=(-2.0, 2.0)) -> tuple[np.ndarray, np.ndarray]:
    """The rows :math:`b_j` of :func:`contour_bend` and their quadrature weights: the n_b
    Gauss-Legendre nodes and weights of the interval ``b_range`` (weights sum to its length).

    >>> b, w = gauss_rows(3, (-2.0, 2.0))
    >>> np.round(b, 4).tolist(), np.round(w, 4).tolist()
    ([-1.5492, 0.0, 1.5492], [1.1111, 1.7778, 1.1111])
    """
    n_b = check_int(n_b, "n_b")
    lo, hi = (float(x) for x in b_range)
    x, w = np.polynomial.legendre.leggauss(n_b)
    return 0.5 * (lo + hi) + 0.5 * (hi - lo) * x, 0.5 * (hi - lo) * w


@functools.partial(jax.jit, static_argnames=("treedef", "batched", "a_range", "b_range", "n_b", "n_edge",
                                             "iterations", "exit_iterations", "normalize", "positive_side",
                                             "weighting"))
def _bend_batch(leaves, planes, level, *, treedef, batched, a_range, b_range, n_b, n_edge, iterations,
                exit_iterations, normalize, positive_side, weighting):
    """Bend of a flat batch of planes (P, D); leaves marked ``batched`` have a leading P axis."""

    def one(plane_leaves, p):
        f = jax.tree_util.tree_unflatten(treedef, plane_leaves)
        return _bend_one(f, p, level, a_range=a_range, b_range=b_range, n_b=n_b, n_edge=n_edge,
                         iterations=iterations, exit_iterations=exit_iterations, normalize=normalize,
                         positive_side=positive_side, weighting=weighting)

    in_axes = ([0 if m else None for m in batched], 0)
    return jax.vmap(one, in_axes=in_axes)(list(leaves), planes)


def _flat_planes(planes: Plane) -> tuple[Plane, tuple[int, ...]]:
    shape = jnp.shape(planes.u)[:-1]
    d = jnp.shape(planes.u)[-1]
    return Plane(*(jnp.reshape(x, (-1, d)) for x in planes)), shape


def _pad(x, n: int):
    """Pad the leading axis of array x to length n by repeating its first entry."""
    extra = n - x.shape[0]
    if extra <= 0:
        return x
    return jnp.concatenate([x, jnp.broadcast_to(x[:1], (extra,) + x.shape[1:])])


def _run_chunks(fp: Partial, batched_leaf_ids, planes: Plane, level, *, chunk_size: int, sharding=None,
                progress=None, **static):
    """Evaluate _bend_batch over a flat batch in chunks of ``chunk_size`` planes (the last one
    padded, so every chunk has the same shape and the kernel compiles once)."""
    leaves, treedef = jax.tree_util.tree_flatten(fp)
    batched = tuple(id(x) in batched_leaf_ids for x in leaves)
    n = planes.u.shape[0]
    size = min(chunk_size, n)
    if sharding is not None:
        ndev = sharding.mesh.size
        size = -(-size // ndev) * ndev
    outs = []
    for start in range(0, n, size):
        stop = min(start + size, n)
        p = Plane(*(_pad(x[start:stop], size) for x in planes))
        lv = [(_pad(x[start:stop], size) if m else x) for x, m in zip(leaves, batched)]
        if sharding is not None:
            p = jax.device_put(p, sharding)
            lv = [jax.device_put(x, sharding) if m else x for x, m in zip(lv, batched)]
        out = _bend_batch(lv, p, level, treedef=treedef, batched=batched, **static)
        outs.append(jax.tree_util.tree_map(lambda y, k=stop - start: y[:k], out))
        if progress is not None:
            progress(stop - start)
    return [jnp.concatenate(parts) for parts in zip(*outs)]


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
      n_b: rows of crossings (>= 3). The result converges as n_b grows (it is in
        plane units, not grid units).
      iterations: Illinois steps per row (>= 1).
      n_edge: rows sampled on the window's vertical edges (>= 2).
      normalize: min-max normalise as in step 2.
      positive_side: keep only crossings on the MEI side a > 0.
      weighting: ``"arclength"`` or ``"b"`` (step 5).
      chunk_size: planes per compiled call (bounds memory: a chunk evaluates
        ``chunk_size * n_b`` inputs at once).

    Returns:
      :class:`ContourBend` with arrays of batch shape ``S``.

    Raises:
      ValueError: naming the bad argument (not a Plane, bad level / extent / n_b /
        iterations / weighting / chunk_size, f not callable).

    >>> import geomlib
    >>> p = geomlib.plane(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]))
    >>> bend = contour_bend(lambda x: x[0] - 0.2 * x[1] ** 2, p, 0.5, normalize=False)
    >>> round(float(bend.c2), 4), round(float(bend.c0), 4), bend.evaluations  # contour a = 0.5 + 0.2 b^2
    (0.2, 0.5, 72)
    """
    fp = _as_partial(f)
    planes = _check_planes(planes)
    static = _bend_static(level, extent, n_b, iterations, normalize, positive_side, weighting, n_edge)
    chunk_size = check_int(chunk_size, "chunk_size")
    flat, shape = _flat_planes(planes)
    out = _run_chunks(fp, set(), flat, jnp.asarray(level, flat.u.dtype), chunk_size=chunk_size, **static)
    return _as_bend(out, shape, static)


WEIGHTINGS = ("arclength", "b")


def _bend_static(level, extent, n_b, iterations, normalize, positive_side, weighting="arclength",
                 n_edge=DEFAULT_EDGE_ROWS) -> dict:
    level = check_float(level, "level")
    if normalize and not 0 < level < 1:
        raise ValueError(f"level: with normalize=True expected a fraction in (0, 1), got {level!r}")
    a_range, b_range = parse_extent(extent)
    return {"a_range": a_range, "b_range": b_range, "n_b": check_int(n_b, "n_b", 3),
            "n_edge": check_int(n_edge, "n_edge", 2), "iterations": check_int(iterations, "iterations"),
            "exit_iterations": EXIT_ITERATIONS, "normalize": bool(normalize), "positive_side": bool(positive_side),
            "weighting": _weighting(weighting)}


def _evaluations(static) -> int:
    return 2 * static["n_edge"] + 2 * static["exit_iterations"] + static["n_b"] * (2 + static["iterations"])


def _weighting(weighting) -> str:
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting: expected one of {WEIGHTINGS}, got {weighting!r}")
    return weighting


def _as_bend(out, shape, static) -> ContourBend:
    c2, c0, c1, n_valid, target, lo, hi, points = out
    r = lambda x: jnp.reshape(x, shape + x.shape[1:])  # noqa: E731
    return ContourBend(r(c2), r(c0), r(c1), r(n_valid), r(target), r(lo), r(hi), r(points), _evaluations(static))


# --------------------------------------------------------------------------- attenuation


@functools.partial(jax.jit, static_argnames=("b_range", "n"))
def _attenuation_batch(fp, planes, a, *, b_range, n):
    bmin, bmax = b_range
    scale = max(abs(bmin), abs(bmax))

    def one(p):
        dt = p.u.dtype
        bs = jnp.linspace(bmin, bmax, n, dtype=dt)
        vals = jax.vmap(lambda b: fp(p.origin + a * p.u + b * p.v))(bs)
        on_axis, slope = jax.jvp(lambda s: fp(p.origin + s * p.u), (jnp.asarray(a, dt),), (jnp.ones((), dt),))
        r0, r1, r2, _ = _fit_parabola(vals, bs, jnp.ones((n,), bool), scale)
        att = jnp.where(on_axis > 0, -r2 / jnp.where(on_axis > 0, on_axis, 1.0), jnp.nan)
        bend = jnp.where(slope != 0, -r2 / jnp.where(slope != 0, slope, 1.0), jnp.nan)
        return r0, r1, r2, on_axis, slope, att, bend

    return jax.vmap(one)(planes)


def response_attenuation(f: Response, planes: Plane, a: float = 1.0, extent: Extent = 2.0, *, n: int = 21
                         ) -> ResponseAttenuation:
    r"""Response attenuation: how fast the response falls off away from the MEI axis.

    The second statistic of Paiton et al. (2020): the response along the vertical line
    at fixed ``a``, :math:`g(a, b_k)` for n values :math:`b_k` evenly spaced over the
    window's b range, is fitted by least squares with :math:`r_0 + r_1 b + r_2 b^2`.
    Positive :attr:`~ResponseAttenuation.attenuation` :math:`= -r_2 / g(a, 0)` means the
    response falls off away from the MEI axis (exo-origin). Dividing instead by the exact
    slope along the MEI axis gives :attr:`~ResponseAttenuation.bend`
    :math:`= -r_2 / g_a(a, 0)`, in plane units: for :math:`g = h(a - c b^2)` it is c,
    like :attr:`ContourBend.c2`. Pick ``a`` where the neuron responds (inside the
    contour region, e.g. a little beyond :attr:`ContourBend.c0`).

    Args:
      f: scalar response R^D -> R.
      planes: :class:`Plane` with any batch shape ``S``.
      a: position of the vertical line along the MEI axis.
      extent: window (its b range is used), as in :func:`contour_bend`.
      n: points on the line (>= 3).

    Returns:
      :class:`ResponseAttenuation` with arrays of shape ``S``.

    >>> import geomlib
    >>> p = geomlib.plane(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]))
    >>> att = response_attenuation(lambda x: 3 * (x[0] - 0.25 * x[1] ** 2), p, a=1.0)
    >>> round(float(att.bend), 4), round(float(att.attenuation), 4)
    (0.25, 0.25)
    """
    fp = _as_partial(f)
    planes = _check_planes(planes)
    a = check_float(a, "a")
    n = check_int(n, "n", 3)
    _, b_range = parse_extent(extent)
    flat, shape = _flat_planes(planes)
    out = _attenuation_batch(fp, flat, jnp.asarray(a, flat.u.dtype), b_range=b_range, n=n)
    out = [jnp.reshape(x, shape) for x in out]
    return ResponseAttenuation(*out, n + 2)


# --------------------------------------------------------------------------- exact curvature


@functools.partial(jax.jit, static_argnames=("mode",))
def _axis_curvature_batch(fp, planes, a, mode):
    def one(p, ai):
        g = lambda ab: fp(p.origin + ab[0] * p.u + ab[1] * p.v)  # noqa: E731
        _, grad, hess = _VGH[mode](g, jnp.stack([ai, jnp.zeros_like(ai)]))
        return contour_curvature(grad, hess)

    return jax.vmap(one)(planes, a)


def axis_curvature(f: Response, planes: Plane, a, *, mode: str = "rev") -> jax.Array:
    r"""Exact (autodiff) curvature of the iso-response contour through (a, 0), on the MEI axis.

    :math:`\kappa = -(g_{aa} g_b^2 - 2 g_{ab} g_a g_b + g_{bb} g_a^2)/|\nabla g|^3` at the
    point (a, 0) of each plane (positive = exo-origin; see
    :func:`geomlib.contour_curvature`). Meaningful for smooth f, e.g. the LCA with a
    softplus threshold (``dictionary_neuron(..., temperature=T)``); for piecewise-linear f it
    is 0 almost everywhere. For g = h(a - c b^2) it is 2c: compare with
    :attr:`ContourBend.tip_curvature` (at ``a = bend.c0``).

    Args:
      f: scalar response R^D -> R.
      planes: :class:`Plane` with batch shape ``S``.
      a: point on the MEI axis, a scalar or an array of shape ``S`` (e.g. ``bend.c0``).
      mode: ``"rev"`` (forward-over-reverse), ``"adjoint"``, ``"taylor"`` or ``"fwd"``
        (see :func:`geomlib.plane_geometry`).

    Returns:
      shape ``S``; NaN where the gradient vanishes or a is NaN.
    """
    if mode not in _VGH:
        raise ValueError(f"mode: expected one of {tuple(_VGH)}, got {mode!r}")
    fp = _as_partial(f)
    planes = _check_planes(planes)
    flat, shape = _flat_planes(planes)
    a = jnp.broadcast_to(jnp.asarray(a, flat.u.dtype), shape).reshape(-1)
    return _axis_curvature_batch(fp, flat, a, mode).reshape(shape)


# --------------------------------------------------------------------------- survey planes


def _neuron_indices(neurons, n_total: int, key) -> np.ndarray:
    if neurons is None:
        return np.arange(n_total)
    if isinstance(neurons, (int, np.integer)) and not isinstance(neurons, bool):
        if not 1 <= neurons <= n_total:
            raise ValueError(f"neurons: expected a count in [1, {n_total}], got {neurons!r}")
        perm = np.asarray(jax.random.permutation(jax.random.fold_in(key, 2**20), n_total))
        return np.sort(perm[: int(neurons)])
    idx = np.asarray(neurons)
    if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
        raise ValueError(f"neurons: expected a count, None or a 1-D array of neuron indices, got {neurons!r}")
    if idx.min() < 0 or idx.max() >= n_total:
        raise ValueError(f"neurons: expected indices in [0, {n_total}), got min {idx.min()} max {idx.max()}")
    if len(np.unique(idx)) != idx.size:
        raise ValueError("neurons: expected distinct neuron indices")
    return idx.astype(np.int64)


def _as_key(key):
    if key is None:
        key = 0
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return jax.random.PRNGKey(int(key))
    try:
        return jnp.asarray(key) if not jnp.issubdtype(jnp.asarray(key).dtype, jax.dtypes.prng_key) else key
    except TypeError as err:
        raise ValueError(f"key: expected an int seed or a jax PRNG key, got {key!r}") from err


def _orthonormal(u, w):
    """Gram-Schmidt of w against unit u (two passes), normalised; batched over leading axes."""
    v = w - jnp.sum(w * u, -1, keepdims=True) * u
    v = v - jnp.sum(v * u, -1, keepdims=True) * u
    return v / jnp.linalg.norm(v, axis=-1, keepdims=True)


def survey_planes(
    params,
    neurons,
    n_comparison: int = 300,
    n_random: int = 300,
    key=0,
    min_angle_deg: float = 15.0,
) -> SurveyPlanes:
    """The planes of the curvature survey (Paiton et al. 2020), for each neuron.

    For neuron i with unit dictionary element :math:`\\phi_i` (its MEI axis, u):

    * comparison planes: v = another neuron's element :math:`\\phi_j`, made orthogonal to u
      by Gram-Schmidt, for the ``n_comparison`` neurons j whose angle
      :math:`\\arccos(\\phi_i \\cdot \\phi_j)` (in [0, 180] degrees) exceeds ``min_angle_deg``,
      closest first (ties broken by index);
    * random planes: v = a standard Gaussian vector made orthogonal to u; the vector of
      neuron i is drawn from ``jax.random.fold_in(key, i)``, so a neuron gets the same
      planes whichever other neurons are surveyed with it.

    All planes pass through the origin 0 (the mean patch / mid-gray image).

    Args:
      params: ``{"phi": (D, N)}`` dictionary (columns are normalised here).
      neurons: 1-D array of neuron indices (or one int index).
      n_comparison: comparison planes per neuron (>= 0; at most the number of neurons
        beyond ``min_angle_deg``).
      n_random: random planes per neuron (>= 0); n_comparison + n_random >= 1.
      key: int seed or jax PRNG key for the random planes.
      min_angle_deg: minimum angle between :math:`\\phi_i` and a comparison element, in [0, 90).

    Returns:
      :class:`SurveyPlanes` with planes of shape ``(n_neurons, n_comparison + n_random, D)``.

    Raises:
      ValueError: naming the bad argument.
    """
    phi = _phi(params)
    phi = phi / jnp.linalg.norm(phi, axis=0)
    dim, n_total = phi.shape
    key = _as_key(key)
    if isinstance(neurons, (int, np.integer)) and not isinstance(neurons, bool):
        neurons = [int(neurons)]
    if neurons is None:
        raise ValueError("neurons: expected a neuron index or a 1-D array of them, got None")
    idx = _neuron_indices(np.asarray(neurons), n_total, key)
    n_comparison = check_int(n_comparison, "n_comparison", 0)
    n_random = check_int(n_random, "n_random", 0)
    if n_comparison + n_random < 1:
        raise ValueError("n_comparison, n_random: expected at least one plane per neuron, got 0 + 0")
    min_angle_deg = check_float(min_angle_deg, "min_angle_deg")
    if not 0 <= min_angle_deg < 90:
        raise ValueError(f"min_angle_deg: expected an angle in [0, 90) degrees, got {min_angle_deg!r}")

    phi_np = np.asarray(phi, np.float64)
    u = phi_np[:, idx].T  # (n, D)
    cos = np.clip(u @ phi_np, -1.0, 1.0)  # (n, N)
    angles = np.degrees(np.arccos(cos))
    eligible = angles > min_angle_deg
    eligible[np.arange(len(idx)), idx] = False
    too_few = eligible.sum(axis=1) < n_comparison
    if np.any(too_few):
        raise ValueError(f"n_comparison: expected at most {int(eligible.sum(axis=1).min())} (neurons at more than "
                         f"{min_angle_deg:g} degrees from neuron {int(idx[np.argmax(too_few)])}), got {n_comparison}")
    order = np.argsort(np.where(eligible, angles, np.inf), axis=1, kind="stable")[:, :n_comparison]
    partner_c = order
    angle_c = np.take_along_axis(angles, order, axis=1)

    dt = float_dtype()
    uj = jnp.asarray(u, dt)
    w_c = jnp.asarray(np.transpose(phi_np[:, order], (1, 2, 0)), dt)  # (n, n_comparison, D)
    w_r = jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(key, i), (n_random, dim), dt))(
        jnp.asarray(idx, jnp.int32))
    w = jnp.concatenate([w_c, w_r], axis=1)
    ub = jnp.broadcast_to(uj[:, None, :], w.shape)
    v = _orthonormal(ub, w)
    wr = np.asarray(w_r, np.float64)
    angle_r = np.degrees(np.arccos(np.clip(np.einsum("npd,nd->np", wr, u) / np.linalg.norm(wr, axis=-1), -1, 1)))
    kind = np.array(["comparison"] * n_comparison + ["random"] * n_random)
    return SurveyPlanes(
        Plane(jnp.zeros_like(ub), ub, v), kind,
        np.concatenate([angle_c, angle_r], axis=1), np.concatenate(
            [partner_c, np.full((len(idx), n_random), -1)], axis=1), idx)


# --------------------------------------------------------------------------- survey


def _mesh_sharding(devices):
    devices = jax.local_devices() if devices is None else list(devices)
    if not devices:
        raise ValueError("devices: expected at least one device")
    mesh = jax.sharding.Mesh(np.array(devices), ("planes",))
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("planes"))


def run_survey(
    params,
    model: str = "lca",
    neurons=100,
    n_comparison: int = 300,
    n_random: int = 300,
    key=0,
    *,
    lam: float = 0.15,
    steps: int = 75,
    eta: float = 1 / 30,
    temperature: float | None = None,
    sigma: float = 1.0,
    exponent: float = 2.0,
    level: float = 0.5,
    extent: Extent = 2.0,
    n_b: int = DEFAULT_ROWS,
    iterations: int = DEFAULT_ITERATIONS,
    n_edge: int = DEFAULT_EDGE_ROWS,
    weighting: str = "arclength",
    min_angle_deg: float = 15.0,
    chunk_size: int = DEFAULT_PLANE_CHUNK,
    devices: Sequence | None = None,
    progress: bool | Callable[[int], None] = True,
) -> SurveyResult:
    """The curvature survey: :func:`contour_bend` of neurons x (comparison + random) planes.

    For each surveyed neuron i of the dictionary, the planes of :func:`survey_planes` and
    the response ``dictionary_neuron(params, i, model, ...)`` (same weights for every
    model). All planes of all neurons form one flat batch in which each plane carries
    its neuron index as a traced value, so one compiled kernel serves every neuron; the
    batch is evaluated ``chunk_size`` planes at a time, each chunk sharded over
    ``devices`` along the plane axis (``jax.sharding``; one CPU device works too).
    Planes are built per chunk of neurons, so memory stays bounded at any survey size.

    The original survey: 100 neurons x (300 comparison + 300 random) planes, window
    [-2, 2]^2, level 0.5 of the min-max normalised response (the defaults).

    Args:
      params: ``{"phi": (D, N)}``.
      model: one of ``"lca"``, ``"linear"``, ``"relu"``, ``"divisive"`` (see
        :func:`geomlib.dictionary_neuron`).
      neurons: a count n (n neurons drawn at random, seeded by ``key``, sorted), a 1-D array
        of indices, or None (all).
      n_comparison, n_random, min_angle_deg: planes per neuron (:func:`survey_planes`).
      key: int seed or PRNG key (neuron draw and random planes).
      lam, steps, eta, temperature, sigma, exponent: model settings
        (:func:`geomlib.dictionary_neuron`); take lam / steps / eta from the dictionary's
        metadata (``load_metadata(name)["config"]``).
      level, extent, n_b, iterations, n_edge, weighting: the bend statistic (:func:`contour_bend`).
      chunk_size: planes evaluated per compiled call (rounded up to a multiple of the
        number of devices); ``chunk_size * n_b`` inputs are in flight at once.
      devices: devices to shard each chunk over; all local devices by default.
      progress: show a tqdm bar (True), nothing (False), or a callback given the number
        of planes just finished.

    Returns:
      :class:`SurveyResult`.
    """
    if model not in DICTIONARY_MODELS:
        raise ValueError(f"model: expected one of {DICTIONARY_MODELS}, got {model!r}")
    phi = _phi(params)
    key = _as_key(key)
    idx = _neuron_indices(neurons, phi.shape[1], key)
    static = _bend_static(level, extent, n_b, iterations, True, True, weighting, n_edge)
    chunk_size = check_int(chunk_size, "chunk_size")
    n_comparison = check_int(n_comparison, "n_comparison", 0)
    n_random = check_int(n_random, "n_random", 0)
    n_planes = n_comparison + n_random
    if n_planes < 1:
        raise ValueError("n_comparison, n_random: expected at least one plane per neuron, got 0 + 0")
    sharding = _mesh_sharding(devices)
    f0 = dictionary_neuron(params, 0, model, lam=lam, steps=steps, eta=eta, temperature=temperature, sigma=sigma,
                           exponent=exponent)
    start = time.perf_counter()
    bar = None
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(idx) * n_planes, desc=f"survey {model} N={phi.shape[1]}", unit="plane")
        tick = bar.update
    elif callable(progress):
        tick = progress
    else:
        tick = None

    per_chunk = max(1, chunk_size // n_planes)  # neurons whose planes are built together
    results, meta = [], []
    for s in range(0, len(idx), per_chunk):
        sp = survey_planes(params, idx[s:s + per_chunk], n_comparison, n_random, key, min_angle_deg)
        flat, _ = _flat_planes(sp.planes)
        index = jnp.repeat(jnp.asarray(sp.neurons, jnp.int32), n_planes)
        fi = _with_index(f0, index)
        out = _run_chunks(fi, {id(index)}, flat, jnp.asarray(level, flat.u.dtype), chunk_size=chunk_size,
                          sharding=sharding, progress=tick, **static)
        results.append([np.asarray(x).reshape((len(sp.neurons), n_planes) + x.shape[1:]) for x in out])
        meta.append((sp.angle, sp.partner))
        kind = sp.kind
    if bar is not None:
        bar.close()
    c2, c0, c1, n_valid = (np.concatenate([r[k] for r in results]) for k in range(4))
    config = {"model": model, "dictionary_shape": list(map(int, phi.shape)), "lam": float(lam), "steps": int(steps),
              "eta": float(eta), "temperature": None if temperature is None else float(temperature),
              "sigma": float(sigma), "exponent": float(exponent), "level": float(level),
              "extent": [list(static["a_range"]), list(static["b_range"])], "n_b": static["n_b"],
              "iterations": static["iterations"], "weighting": static["weighting"], "n_comparison": n_comparison, "n_random": n_random,
              "min_angle_deg": float(min_angle_deg), "key": np.asarray(jax.random.key_data(key)
                                                                        if jnp.issubdtype(key.dtype,
                                                                                          jax.dtypes.prng_key)
                                                                        else key).tolist(),
              "n_edge": static["n_edge"], "evaluations_per_plane": _evaluations(static),
              "devices": int(sharding.mesh.size), "seconds": time.perf_counter() - start}
    return SurveyResult(c2=c2, c0=c0, c1=c1, n_valid=n_valid,
                        angle=np.concatenate([m[0] for m in meta]), partner=np.concatenate([m[1] for m in meta]),
                        kind=kind, neurons=idx, model=model, config=config)


def _with_index(f: Partial, index) -> Partial:
    """``f`` (from :func:`dictionary_neuron`) with its neuron index leaf replaced by ``index``."""
    func, args = f.func, list(f.args)
    # dictionary_neuron binds (params, index, hyper): the index is the only integer leaf.
    pos = [k for k, x in enumerate(args) if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jnp.integer)]
    if len(pos) != 1:  # pragma: no cover - guards against a change of dictionary_neuron
        raise RuntimeError("dictionary_neuron's bound arguments changed: cannot find the neuron index")
    args[pos[0]] = index
    return Partial(func, *args, **f.keywords)
