"""Spearman's rank correlation, its permutation test and bootstrap intervals: the numpy pieces that
:mod:`.statistics` (across models) and :mod:`.significance` (across seeds and images) share."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

#: Permutation tests enumerate every ordering up to this many units (8! = 40,320), else draw ``n_perm`` at random.
EXACT_UNITS = 8


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def check_level(level: float) -> float:
    """The confidence level of an interval as a float, a number in (0, 1) such as 0.95, else a
    ValueError naming ``level`` (a bool or a string is refused, not converted)."""
    if not (_is_number(level) and 0 < level < 1):
        raise ValueError(f"level: expected a fraction in (0, 1), got {level!r}")
    return float(level)


def tie_zero(v: ArrayLike) -> np.ndarray:
    """``v`` as a float array of the same shape with the values below 1e-6 in magnitude set to 0.

    Bends of straight contours come out as rounding noise of either sign; tied at 0, they
    rank as equal rather than in an order the noise decides.
    """
    v = np.asarray(v, float)
    return np.where(np.abs(v) < 1e-6, 0.0, v)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two 1-D arrays ``(n,)`` on the pairs where both are finite.

    The Pearson correlation of the ranks (ties get their mean rank); NaN with fewer than 3
    finite pairs or when either side is all ties.
    """
    from scipy.stats import rankdata

    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float("nan")
    ra, rb = rankdata(a[ok]), rankdata(b[ok])
    if np.ptp(ra) == 0 or np.ptp(rb) == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def rank_rows(v: ArrayLike) -> np.ndarray:
    """Ranks along the last axis of ``v`` ``(..., n)``, ties at their mean rank (1 to n), same shape."""
    from scipy.stats import rankdata

    return rankdata(v, axis=-1)


def pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation along the last axis of ``a`` and ``b`` (shapes broadcasting to ``(..., n)``),
    one value per row ``(...)``; NaN where either row is constant. On ranks it is Spearman's rho."""
    a = a - a.mean(-1, keepdims=True)
    b = b - b.mean(-1, keepdims=True)
    den = np.sqrt((a * a).sum(-1) * (b * b).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(-1) / np.where(den > 0, den, 1.0), np.nan)


def percentile_interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    """The central ``level`` percentile interval ``(low, high)`` of the finite values of
    ``samples`` ``(n_boot,)`` (a bootstrap); NaN, NaN when none is finite."""
    tail = 100 * (1 - level) / 2
    ok = samples[np.isfinite(samples)]
    low, high = np.percentile(ok, [tail, 100 - tail]) if ok.size else (np.nan, np.nan)
    return float(low), float(high)


def spearman_permutation_test(a: np.ndarray, b: np.ndarray, n_perm: int, seed: int, units: str
                              ) -> tuple[float, str]:
    r"""Two-sided permutation p-value of Spearman's rho between the finite pairs of ``a`` and ``b``
    ``(n,)``, and the name of the test.

    The ranks of ``a`` are paired with those of ``b`` in other orders
    (``scipy.stats.permutation_test``, pairings; two-sided: twice the smaller one-sided
    p-value). With at most :data:`EXACT_UNITS` finite pairs every ordering is enumerated
    (exact); otherwise ``n_perm`` random orderings drawn with ``seed``,
    :math:`p = (1 + \#\{\text{as extreme}\}) / (1 + n_{perm})`. ``units`` names what a pair is
    (``"models"``, ``"images"``) in the returned name. NaN (and a name saying why) with fewer
    than 3 finite pairs or when either side is all ties.
    """
    from scipy.stats import permutation_test

    ok = np.isfinite(a) & np.isfinite(b)
    n = int(ok.sum())
    ra, rb = rank_rows(a[ok]), rank_rows(b[ok])
    if n < 3 or np.ptp(ra) == 0 or np.ptp(rb) == 0:
        return float("nan"), f"permutation test of Spearman's rho over {units}: undefined ({n} units with both values)"
    count = math.factorial(n) if n <= 20 else None          # beyond 20! no n_perm comes near
    resamples = max(count, n_perm) if n <= EXACT_UNITS else n_perm
    res = permutation_test((ra,), lambda x, axis: pearson_rows(np.moveaxis(x, axis, -1), rb),
                           permutation_type="pairings", vectorized=True, alternative="two-sided",
                           n_resamples=resamples, batch=2000, rng=np.random.default_rng(seed))
    exact = count is not None and count <= resamples         # scipy enumerates them all then
    how = (f"exact over {n}! = {count} orderings" if exact
           else f"Monte Carlo over {n_perm} random orderings (each one-sided p = (1 + hits) / (1 + {n_perm}))")
    return float(res.pvalue), f"permutation test of Spearman's rho over {n} {units}, {how}, two-sided"
