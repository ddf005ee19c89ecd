r"""Significance tests for curvature surveys, with the NEURON as the unit.

The planes of one neuron share its dictionary element and its competitors, so they are
not independent samples: a test over planes would shrink its p-value by merely measuring
more planes per neuron. Every test here first reduces each neuron to one number (the
median :math:`c_2` over its finite planes of a kind) and tests over neurons:

* comparison vs random planes (per dictionary and circuit): per neuron
  :math:`d_i = \operatorname{median}_\text{comparison} c_2 - \operatorname{median}_\text{random} c_2`,
  a one-sided Wilcoxon signed-rank test of :math:`d_i > 0` over neurons
  (``scipy.stats.wilcoxon``), and the median of :math:`d_i` with a percentile bootstrap
  CI over neurons (``scipy.stats.bootstrap``);
* across dictionaries (per circuit and kind of plane): the per-neuron medians of each
  dictionary (different neurons, independent groups), a Kruskal-Wallis test
  (``scipy.stats.kruskal``) and pairwise two-sided Mann-Whitney U tests
  (``scipy.stats.mannwhitneyu``) with Holm's step-down correction (Holm, 1979), with each
  dictionary's median and bootstrap CI over neurons.

NaN :math:`c_2` (planes without a contour) are dropped and counted; a neuron without a
finite plane of a kind it needs is dropped and counted. A test that cannot be computed
(too few neurons, all values equal) gives NaN.
"""

from __future__ import annotations

import math
import warnings
from typing import Mapping, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from geomlib._src.core.checks import check_array, check_float, check_int
from geomlib._src.survey.results import KINDS, SurveyResult

#: The names of the tests, as stored in the results.
PAIRED_TEST = "one-sided Wilcoxon signed-rank over neurons of median c2 (comparison - random)"
GROUP_TEST = "Kruskal-Wallis over neurons' median c2 across dictionaries"
PAIRWISE_TEST = "two-sided Mann-Whitney U over neurons' median c2, Holm-corrected"


class PairedTest(NamedTuple):
    """Comparison vs random planes of one survey (one dictionary and circuit).

    Attributes:
      test: the test's name (:data:`PAIRED_TEST`).
      n_neurons: neurons tested (with a finite plane of both kinds).
      median_difference: median over neurons of (median comparison c2 - median random c2).
      ci: ``(low, high)`` bootstrap CI of ``median_difference`` over neurons.
      statistic: the Wilcoxon statistic (sum of the ranks of positive differences).
      p_value: one-sided p-value of "comparison planes bend more" (NaN if not computable).
      nan_planes: planes dropped for a NaN c2.
      dropped_neurons: neurons dropped for having no finite plane of one kind.
    """

    test: str
    n_neurons: int
    median_difference: float
    ci: tuple[float, float]
    statistic: float
    p_value: float
    nan_planes: int
    dropped_neurons: int


class GroupTest(NamedTuple):
    """One kind of plane across the dictionaries of one circuit.

    Attributes:
      test: the test's name (:data:`GROUP_TEST`).
      kind: ``"comparison"`` or ``"random"``.
      dictionaries: the dictionaries, in the order given.
      n_neurons: neurons per dictionary (with a finite plane of ``kind``).
      medians: median over neurons of the per-neuron median c2, per dictionary.
      cis: ``(low, high)`` bootstrap CI of each median over neurons.
      statistic, p_value: Kruskal-Wallis H and p (NaN with fewer than 2 dictionaries).
      pairwise: ``{(a, b): (U, p, p_holm)}`` for each pair of dictionaries
        (:data:`PAIRWISE_TEST`).
      nan_planes: planes of ``kind`` dropped for a NaN c2 (all dictionaries).
      dropped_neurons: neurons dropped for having no finite plane of ``kind``.
    """

    test: str
    kind: str
    dictionaries: tuple[str, ...]
    n_neurons: tuple[int, ...]
    medians: tuple[float, ...]
    cis: tuple[tuple[float, float], ...]
    statistic: float
    p_value: float
    pairwise: dict
    nan_planes: int
    dropped_neurons: int


class SurveySignificance(NamedTuple):
    """The tests of one circuit: ``comparison_vs_random[dictionary]`` (:class:`PairedTest`)
    and ``across_dictionaries[kind]`` (:class:`GroupTest`); ``angles``: the range of
    competitor angles (degrees) the comparison planes were restricted to, or None (all)."""

    circuit: str
    comparison_vs_random: dict
    across_dictionaries: dict
    angles: tuple[float, float] | None = None

    def report(self) -> str:
        """The tests as lines of text (medians in c2's plane units, 95% etc. CIs as stored)."""
        span = f" at {self.angles[0]:g}-{self.angles[1]:g} degrees" if self.angles else ""
        at = f" (comparison planes{span})" if self.angles else ""
        lines = [f"{self.circuit}: comparison vs random planes{at} ({PAIRED_TEST})"]
        for name, t in self.comparison_vs_random.items():
            lines.append(f"  {name}: {t.n_neurons} neurons, median difference {t.median_difference:+.3f} "
                         f"[{t.ci[0]:+.3f}, {t.ci[1]:+.3f}], W = {t.statistic:g}, p = {t.p_value:.2g}"
                         + (f" ({t.nan_planes} NaN planes dropped)" if t.nan_planes else ""))
        for kind, g in self.across_dictionaries.items():
            lines.append(f"{self.circuit}, {kind} planes{span if kind == 'comparison' else ''} across dictionaries: "
                         f"Kruskal-Wallis H = {g.statistic:.2f}, p = {g.p_value:.2g}")
            for name, n, m, ci in zip(g.dictionaries, g.n_neurons, g.medians, g.cis):
                lines.append(f"  {name}: {n} neurons, median {m:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]")
            for (a, b), (u, p, p_holm) in g.pairwise.items():
                lines.append(f"  {a} vs {b}: Mann-Whitney U = {u:g}, p = {p:.2g}, Holm p = {p_holm:.2g}")
        return "\n".join(lines)


def _split_key(key) -> tuple[str, str]:
    if isinstance(key, tuple) and len(key) == 2 and all(isinstance(k, str) for k in key):
        return key
    if isinstance(key, str) and key.count("/") == 1 and all(key.split("/")):
        return tuple(key.split("/"))
    raise ValueError(f"surveys: expected keys 'dictionary/circuit' (or (dictionary, circuit) pairs), got {key!r}")


def _neuron_medians(result: SurveyResult, kind: str, angles: tuple[float, float] | None = None
                    ) -> tuple[np.ndarray, int]:
    """Per-neuron median of the finite c2 of ``kind`` (NaN for a neuron without one), and
    the number of NaN planes; with ``angles``, only the planes whose angle is in that range."""
    columns = np.asarray(result.kind) == kind
    c2 = np.asarray(result.c2, np.float64)[:, columns]
    inside = np.ones(c2.shape, bool)
    if angles is not None:
        angle = np.asarray(result.angle, np.float64)[:, columns]
        inside = (angle >= angles[0]) & (angle <= angles[1])
    finite = np.isfinite(c2) & inside
    med = np.full(c2.shape[0], np.nan)
    for i in range(c2.shape[0]):
        if finite[i].any():
            med[i] = np.median(c2[i, finite[i]])
    return med, int((inside & ~np.isfinite(c2)).sum())


def _bootstrap_median(x: np.ndarray, n_boot: int, level: float, seed: int) -> tuple[float, float]:
    if x.size < 2 or np.all(x == x[0]):
        v = float(x[0]) if x.size else math.nan
        return (v, v) if x.size >= 2 else (math.nan, math.nan)
    res = stats.bootstrap((x,), np.median, n_resamples=n_boot, confidence_level=level, method="percentile",
                          rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _quiet(fn, *args, **kwargs):
    """(statistic, p) of a scipy test, NaN where it cannot be computed (all equal, too few)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            r = fn(*args, **kwargs)
        except ValueError:
            return math.nan, math.nan
    return float(r.statistic), float(r.pvalue)


def holm_adjust(p_values: ArrayLike) -> np.ndarray:
    r"""Holm's (1979) step-down adjustment of p-values for multiple comparisons.

    Sorted ascending :math:`p_{(1)} \le \dots \le p_{(m)}`, the adjusted values are
    :math:`\tilde p_{(k)} = \min(1, \max_{j \le k} (m - j + 1)\, p_{(j)})`; NaN stay NaN
    and do not count in m.

    Args:
      p_values: shape ``(m,)``.

    Raises:
      TypeError: not an array of real numbers.
      ValueError: not one axis.

    Returns:
      shape ``(m,)``, the adjusted p-values in the input order.

    >>> holm_adjust([0.01, 0.04, 0.03]).round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    check_array(p_values, "p_values", ndim=1, finite=False)   # the checks; the values stay float64
    p = np.asarray(p_values, np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    out[order] = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    return out


def _check_surveys(surveys) -> dict[str, dict[str, SurveyResult]]:
    if not isinstance(surveys, Mapping):
        raise TypeError(f"surveys: expected a dict 'dictionary/circuit' -> SurveyResult, got {type(surveys).__name__}")
    if not surveys:
        raise ValueError("surveys: expected at least one survey, got an empty dict")
    by_circuit: dict[str, dict[str, SurveyResult]] = {}
    for key, result in surveys.items():
        dictionary, circuit = _split_key(key)
        if not isinstance(result, SurveyResult):
            raise TypeError(f"surveys[{key!r}]: expected a SurveyResult, got {type(result).__name__}")
        kinds = set(np.asarray(result.kind).tolist())
        if not kinds <= set(KINDS) or np.ndim(result.c2) != 2:
            raise ValueError(f"surveys[{key!r}]: expected c2 of shape (n_neurons, n_planes) and kinds in {KINDS}, "
                             f"got shape {np.shape(result.c2)} and kinds {sorted(kinds)}")
        by_circuit.setdefault(circuit, {})[dictionary] = result
    return by_circuit


def survey_significance(surveys: Mapping, *, n_boot: int = 2000, confidence: float = 0.95,
                        seed: int = 0, angles: tuple[float, float] | None = None) -> dict[str, SurveySignificance]:
    r"""Significance of the survey's two findings, with the neuron as the unit, per circuit.

    For each circuit (the part after ``/`` in the keys) and each of its dictionaries, are
    comparison-plane bends larger than random-plane bends (one-sided Wilcoxon signed-rank
    over neurons of :math:`\operatorname{med}_\text{comp} c_2 - \operatorname{med}_\text{rand} c_2`);
    and for each kind of plane, do the dictionaries differ (Kruskal-Wallis over the
    per-neuron medians, pairwise Mann-Whitney U with Holm's correction). Medians come
    with percentile bootstrap CIs over neurons. NaN c2 are dropped and counted.
    Deterministic for a given ``seed``.

    A larger dictionary has more competitors at small angles, so its closest comparison
    planes reach less far and bend more for that reason alone; ``angles=(lo, hi)`` keeps
    only the comparison planes whose competitor's angle is in ``[lo, hi]`` degrees, which
    compares dictionaries (and comparison with random planes) at equal angle.

    Args:
      surveys: dict ``"dictionary/circuit"`` (or a ``(dictionary, circuit)`` pair) ->
        :class:`SurveyResult` (c2 of shape ``(n_neurons, n_planes)``), as returned by
        :func:`load_survey` for a file written by ``python -m geomlib.cli.survey``.
      n_boot: bootstrap resamples (of neurons) per CI.
      confidence: the CIs' confidence level, in (0, 1).
      seed: the bootstrap's random seed.
      angles: ``(lo, hi)`` in degrees, 0 <= lo < hi <= 180: the comparison planes kept
        (a neuron without one in range is dropped and counted); None keeps all.

    Returns:
      dict circuit -> :class:`SurveySignificance`, circuits and dictionaries in the order given.

    Raises:
      TypeError: ``surveys`` not a dict, a value not a :class:`SurveyResult`.
      ValueError: an empty dict, a key not ``"dictionary/circuit"``, bad ``n_boot``,
        ``confidence``, ``seed`` or ``angles``.

    Reference: the survey of Paiton et al., J. Vision 20(12):10 (2020).
    """
    n_boot = check_int(n_boot, "n_boot", 10)
    confidence = check_float(confidence, "confidence", 0.0, 1.0, open_low=True)
    if confidence == 1.0:
        raise ValueError(f"confidence: expected a finite number in (0, 1), got {confidence!r}")
    seed = check_int(seed, "seed", 0)
    if angles is not None:
        if isinstance(angles, (str, bytes)) or np.shape(angles) != (2,):
            raise ValueError(f"angles: expected (lo, hi) in degrees or None, got {angles!r}")
        angles = (check_float(angles[0], "angles[0]", 0.0, 180.0), check_float(angles[1], "angles[1]", 0.0, 180.0))
        if not angles[0] < angles[1]:
            raise ValueError(f"angles: expected lo < hi, got {angles!r}")
    out = {}
    for circuit, results in _check_surveys(surveys).items():
        paired = {}
        for name, result in results.items():
            comp, nan_c = _neuron_medians(result, "comparison", angles)
            rand, nan_r = _neuron_medians(result, "random")
            ok = np.isfinite(comp) & np.isfinite(rand)
            d = comp[ok] - rand[ok]
            w, p = _quiet(stats.wilcoxon, d, alternative="greater") if d.size else (math.nan, math.nan)
            paired[name] = PairedTest(PAIRED_TEST, int(d.size), float(np.median(d)) if d.size else math.nan,
                                      _bootstrap_median(d, n_boot, confidence, seed), w, p, nan_c + nan_r,
                                      int((~ok).sum()))
        groups = {}
        for kind in KINDS:
            meds, nans, dropped = [], 0, 0
            for result in results.values():
                m, n = _neuron_medians(result, kind, angles if kind == "comparison" else None)
                meds.append(m[np.isfinite(m)])
                nans, dropped = nans + n, dropped + int((~np.isfinite(m)).sum())
            names = tuple(results)
            usable = [m for m in meds if m.size]
            h, p = _quiet(stats.kruskal, *usable) if len(usable) >= 2 else (math.nan, math.nan)
            pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
            tests = [_quiet(stats.mannwhitneyu, meds[i], meds[j]) if meds[i].size and meds[j].size
                     else (math.nan, math.nan) for i, j in pairs]
            adjusted = holm_adjust([t[1] for t in tests]) if pairs else []
            groups[kind] = GroupTest(
                GROUP_TEST, kind, names, tuple(int(m.size) for m in meds),
                tuple(float(np.median(m)) if m.size else math.nan for m in meds),
                tuple(_bootstrap_median(m, n_boot, confidence, seed) for m in meds), h, p,
                {(names[i], names[j]): (t[0], t[1], float(a)) for (i, j), t, a in zip(pairs, tests, adjusted)},
                nans, dropped)
        out[circuit] = SurveySignificance(circuit, paired, groups, angles)
    return out
