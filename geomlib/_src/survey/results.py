"""The survey's result types: one contour bend, one response attenuation, the survey's
planes, and the whole survey's per-plane bends (:class:`SurveyResult`)."""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import numpy as np

from geomlib._src.planes import Plane

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


def _check_kind(kind) -> None:
    if kind is not None and (not isinstance(kind, str) or kind not in KINDS):
        raise ValueError(f"kind: expected None or one of {KINDS}, got {kind!r}")


@dataclasses.dataclass(frozen=True)
class SurveyResult:
    """Per-plane bend of a curvature survey (arrays of shape ``(n_neurons, n_planes)``).

    Attributes:
      c2, c0, c1: :class:`ContourBend` coefficients per neuron x plane (c2 > 0: exo-origin).
      n_valid: crossings found per plane (out of ``config["n_b"]``).
      angle, partner, kind, neurons: as in :class:`SurveyPlanes`.
      model: ``"lca"``, ``"linear"``, ``"relu"`` or ``"divisive"``.
      config: everything needed to rerun it (model settings, window, rows, iterations,
        seed, dictionary shape and fingerprint, chunk size, ``"devices"``),
        ``"evaluations_per_plane"`` and ``"seconds"``: the compute time (summed over the
        runs of a resumed survey). Saved files leave the time out (it differs between
        runs) and keep it in a sidecar, see :func:`save_survey`; a result loaded without
        its sidecar has ``seconds`` NaN.
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
        _check_kind(kind)
        c2 = self.c2 if kind is None else self.c2[:, self.kind == kind]
        c2 = np.asarray(c2, np.float64).ravel()
        return c2[np.isfinite(c2)]

    def fraction_exo(self, kind: str | None = None) -> float:
        """Fraction of the planes (with a finite c2) whose contour is exo-origin (c2 > 0)."""
        v = self.values(kind)
        return float(np.mean(v > 0)) if v.size else math.nan

    def fraction_valid(self, kind: str | None = None) -> float:
        """Fraction of the planes of ``kind`` with a finite c2 (a contour was found)."""
        _check_kind(kind)
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
        """Write the result to a compressed ``.npz`` (no pickles; read it with :func:`load_survey`),
        atomically, and its time to a sidecar: see :func:`save_survey`."""
        from geomlib._src.survey.io import save_survey  # io imports this module

        save_survey(self, path)
