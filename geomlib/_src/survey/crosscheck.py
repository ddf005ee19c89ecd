"""Do two curvature surveys agree on the planes they share? :func:`shared_planes_check` is the
check that a full survey (written once, over hours) still matches what today's code computes
at a reduced size.

A reduced survey with the same seed surveys a subset of the full survey's planes: its neurons
are the first ones of the same random permutation (:func:`geomlib.neuron_indices`), its
comparison planes the closest competitors first, and its random planes the first rows of the
same per-neuron Gaussian draw (``jax.random.fold_in(key, neuron)``; JAX's partitionable
Threefry draws a prefix of the same numbers for a smaller shape). Those planes are matched by
neuron and position, and confirmed by their partner (comparison) or angle to the MEI
(random); a plane whose identity does not match is not compared.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from geomlib._src.core.checks import check_float
from geomlib._src.survey.results import KINDS, SurveyResult

#: Settings two surveys must share for their planes' c2 to be comparable.
SHARED_SETTINGS = ("model", "dictionary_sha256", "lam", "steps", "eta", "temperature", "sigma", "exponent", "level",
                   "extent", "n_b", "n_edge", "iterations", "weighting", "min_angle_deg", "key")


class SharedPlanesCheck(NamedTuple):
    """Two surveys of one dictionary and circuit, on the planes both measured.

    Attributes:
      n_neurons: neurons in both surveys.
      n_planes: kind (``"comparison"``, ``"random"``) -> planes in both (same neuron, same
        position, same partner or angle) with a finite c2 in both.
      unmatched: planes at a shared position whose identity differs (0 when the random draws
        are prefixes of each other, as with JAX's default PRNG).
      max_abs_difference: kind -> largest ``|c2_a - c2_b|`` over those planes (NaN without any).
      within: fraction of all compared planes with ``|c2_a - c2_b| <= atol``.
      atol: the tolerance of ``within`` (c2's plane units).
    """

    n_neurons: int
    n_planes: dict[str, int]
    unmatched: int
    max_abs_difference: dict[str, float]
    within: float
    atol: float

    def report(self) -> str:
        """One line: planes compared, largest difference per kind, fraction within ``atol``."""
        kinds = ", ".join(f"{k} {self.n_planes[k]} (max |difference| {self.max_abs_difference[k]:.1e})"
                          for k in KINDS)
        extra = f"; {self.unmatched} planes at shared positions differ and were skipped" if self.unmatched else ""
        neurons = f"{self.n_neurons} neuron{'' if self.n_neurons == 1 else 's'}"
        return f"{neurons}, planes {kinds}; {self.within:.1%} within {self.atol:g}{extra}"


def _checked(result, arg: str) -> SurveyResult:
    if not isinstance(result, SurveyResult):
        raise ValueError(f"{arg}: expected a SurveyResult (run_survey / load_survey), got {type(result).__name__}")
    return result


def _blocks(r: SurveyResult) -> dict[str, np.ndarray]:
    kind = np.asarray(r.kind)
    return {k: np.flatnonzero(kind == k) for k in KINDS}


def shared_planes_check(a: SurveyResult, b: SurveyResult, *, atol: float = 1e-3) -> SharedPlanesCheck:
    """Compare two surveys of the same dictionary, circuit and settings (:data:`SHARED_SETTINGS`)
    on the planes both measured: same neuron, same position among its comparison (or random)
    planes, confirmed by the same partner (or the same angle to the MEI).

    A plane's c2 depends on nothing but the plane and the model, so two runs of the same code
    agree up to float rounding (XLA rounds differently with the batch of planes).

    Args:
      a, b: :class:`SurveyResult` (e.g. the shipped full survey and a reduced rerun).
      atol: tolerance on ``|c2_a - c2_b|`` for ``within`` (plane units, > 0).

    Returns:
      :class:`SharedPlanesCheck`.

    Raises:
      ValueError: not surveys, settings that differ (named), or no plane in common.
    """
    a, b = _checked(a, "a"), _checked(b, "b")
    atol = check_float(atol, "atol", 0.0, open_low=True)
    for key in SHARED_SETTINGS:
        if a.config.get(key) != b.config.get(key):
            raise ValueError(f"a, b: surveys with different {key} ({a.config.get(key)!r} and {b.config.get(key)!r}); "
                             "their planes' c2 are not comparable")
    rows_a = {int(n): i for i, n in enumerate(np.asarray(a.neurons))}
    shared = [(rows_a[int(n)], j) for j, n in enumerate(np.asarray(b.neurons)) if int(n) in rows_a]
    ca, cb = np.asarray(a.c2, np.float64), np.asarray(b.c2, np.float64)
    blocks_a, blocks_b = _blocks(a), _blocks(b)
    diffs, unmatched = {k: [] for k in KINDS}, 0
    for kind in KINDS:
        m = min(blocks_a[kind].size, blocks_b[kind].size)
        pa, pb = blocks_a[kind][:m], blocks_b[kind][:m]
        for i, j in shared:
            if kind == "comparison":
                same = np.asarray(a.partner)[i, pa] == np.asarray(b.partner)[j, pb]
            else:
                same = np.abs(np.asarray(a.angle, np.float64)[i, pa] - np.asarray(b.angle, np.float64)[j, pb]) < 1e-6
            unmatched += int(np.sum(~same))
            u, v = ca[i, pa][same], cb[j, pb][same]
            ok = np.isfinite(u) & np.isfinite(v)
            diffs[kind].append(np.abs(u - v)[ok])
    diffs = {k: np.concatenate(v) if v else np.zeros(0) for k, v in diffs.items()}
    every = np.concatenate(list(diffs.values()))
    if every.size == 0:
        raise ValueError(f"a, b: no plane in common ({len(shared)} neurons in common, {unmatched} planes differ)")
    return SharedPlanesCheck(
        len(shared), {k: int(v.size) for k, v in diffs.items()}, unmatched,
        {k: float(v.max()) if v.size else float("nan") for k, v in diffs.items()},
        float(np.mean(every <= atol)), atol)
