"""Model-level statistics of chapter 8's measurements and their rank correlation across models;
several seeds per configuration (:func:`seed_spread`, :func:`hierarchical_rank_correlation`) and
the rank correlation across the images of one model (:func:`per_image_correlation`)."""

from __future__ import annotations

import math
import warnings
from typing import Mapping, NamedTuple, Sequence

import numpy as np
from numpy.typing import ArrayLike

from geomlib._src.core.checks import check_array, check_int
from geomlib._src.defense.results import ClassifierMeasures, largest_magnitude

#: Model-level statistics of :func:`comparison_summary`: name -> (field, reduction, description).
STATISTICS: dict[str, tuple[str, str, str]] = {
    "deepfool_distance": ("deepfool_distance", "median", "median DeepFool distance (L2)"),
    "msd": ("msd", "mean", "mean MSD of the sign attack at confidence 0.9"),
    "boundary_curvature": ("boundary_curvature", "median_abs_max", "median largest |kappa| at the DeepFool point"),
    "r_kappa": ("boundary_curvature", "median_r_kappa", "median r |kappa| (dimensionless)"),
    "logit_bend": ("logit_bend", "median_comparison", "median bend c2 of the decision contour, comparison planes"),
    "logit_bend_random": ("logit_bend", "median_random", "median bend c2 of the decision contour, random planes"),
    "first_layer_bend": ("first_layer_bend", "median", "median survey bend c2 of first-layer units"),
    "template_deepfool": ("template_deepfool", "median", "median template cosine, DeepFool perturbation"),
    "template_msd": ("template_msd", "median", "median template cosine, sign-attack perturbation"),
}


def _statistic(m: ClassifierMeasures, name: str, rows=None):
    """One model-level number from the images ``rows`` (all by default; a bootstrap resample),
    or one per resample for ``rows`` of shape ``(n_boot, n)`` (an array ``(n_boot,)``)."""
    many = rows is not None and np.ndim(rows) == 2
    if name.startswith(ACCURACY_PREFIXES):
        kind, e = name.split("@")
        e = float(e)
        hit = np.flatnonzero(np.isclose(m.eps, e))
        if not hit.size:
            raise ValueError(f"statistic {name!r}: eps {e:g} was not measured (eps {m.eps.tolist()})")
        if kind == "worst" and m.worst_correct is None:
            v = np.full(len(rows), np.nan) if many else float("nan")
            return v
        c = (m.pgd_correct if kind == "pgd" else m.worst_correct)[hit[0]]
        v = np.mean(c if rows is None else c[rows], axis=-1)
        return v if many else float(v)
    if name not in STATISTICS:
        raise ValueError(f"statistic: expected one of {sorted(STATISTICS)} or 'pgd@EPS', got {name!r}")
    field, how, _ = STATISTICS[name]
    if field == "first_layer_bend":
        v = np.asarray(m.first_layer_bend, float)
        one = float(np.nanmedian(v)) if v.size and not np.all(np.isnan(v)) else float("nan")
        return np.full(len(rows), one) if many else one
    pick = (lambda a: a) if rows is None else (lambda a: a[rows])
    if how == "median_abs_max":
        v = largest_magnitude(pick(m.boundary_curvature))
    elif how == "median_r_kappa":
        v = largest_magnitude(pick(m.boundary_curvature)) * pick(m.boundary_distance)
    elif how in ("median_comparison", "median_random"):
        v = pick(np.asarray(m.logit_bend, float)[:, 0 if how == "median_comparison" else 1])
    else:
        v = pick(np.asarray(getattr(m, field), float))
    with warnings.catch_warnings():     # an all-NaN resample is NaN, as it should be
        warnings.simplefilter("ignore", RuntimeWarning)
        out = np.nanmean(v, axis=-1) if how == "mean" else np.nanmedian(v, axis=-1)
    return np.asarray(out, float) if many else float(out)


#: Accuracy statistics ``"pgd@EPS"`` (PGD-10) and ``"worst@EPS"`` (the worst case of :func:`geomlib.robust_accuracy`).
ACCURACY_PREFIXES = ("pgd@", "worst@")


def comparison_summary(results: Mapping[str, ClassifierMeasures], statistics: Sequence[str] | None = None
                       ) -> dict[str, dict[str, float]]:
    """One number per model and statistic (:data:`STATISTICS`, plus ``"pgd@EPS"`` accuracies under
    PGD-10 and, where the worst case was measured, ``"worst@EPS"`` accuracies under it; a model
    without it gives NaN there).

    Returns:
      statistic -> {model: value}.
    """
    results = _check_results(results)
    first = next(iter(results.values()))
    if statistics is None:
        names = [*STATISTICS, *(f"pgd@{e:g}" for e in first.eps)]
        if any(r.worst_correct is not None for r in results.values()):
            names += [f"worst@{e:g}" for e in first.eps]
    else:
        if isinstance(statistics, (str, bytes)) or not isinstance(statistics, (list, tuple)):
            raise ValueError(f"statistics: expected a list of statistic names or None, got {statistics!r}")
        names = [_check_statistic(s, "statistics") for s in statistics]
    return {s: {m: _statistic(r, s) for m, r in results.items()} for s in names}


def _check_results(results) -> Mapping[str, ClassifierMeasures]:
    if not isinstance(results, Mapping) or not results:
        raise ValueError(f"results: expected a non-empty dict name -> ClassifierMeasures, got {type(results).__name__}")
    bad = [k for k, v in results.items() if not isinstance(v, ClassifierMeasures)]
    if bad:
        raise ValueError(f"results: expected ClassifierMeasures for every model, not for {bad[:5]}")
    return results


def _check_statistic(name, arg: str) -> str:
    """A statistic name of :data:`STATISTICS` or ``"pgd@EPS"`` (EPS a number), else a ValueError naming ``arg``."""
    ok = isinstance(name, str) and (name in STATISTICS or name.startswith(ACCURACY_PREFIXES))
    if ok and name.startswith(ACCURACY_PREFIXES):
        try:
            float(name.split("@", 1)[1])
        except ValueError:
            ok = False
    if not ok:
        raise ValueError(f"{arg}: expected one of {sorted(STATISTICS)}, 'worst@EPS' or 'pgd@EPS', got {name!r}")
    return name


class RankCorrelation(NamedTuple):
    """Spearman rank correlation across models with a bootstrap confidence interval.

    Attributes:
      rho: on all images.
      low, high: the central ``level`` percentile interval of the bootstrap.
      level: e.g. 0.95.
      samples: the bootstrap values ``(n_boot,)`` (NaN where undefined, e.g. all ties).
      n_models: models with both statistics defined.
    """

    rho: float
    low: float
    high: float
    level: float
    samples: np.ndarray
    n_models: int


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _spearman(a, b) -> float:
    from scipy.stats import rankdata

    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float("nan")
    ra, rb = rankdata(a[ok]), rankdata(b[ok])
    if np.ptp(ra) == 0 or np.ptp(rb) == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def _tie_zero(v):
    """Bends below 1e-6 in magnitude are the rounding noise of straight contours: tie them at 0."""
    v = np.asarray(v, float)
    return np.where(np.abs(v) < 1e-6, 0.0, v)


def rank_correlation(results: Mapping[str, ClassifierMeasures], x_stat: str, y_stat: str, *, n_boot: int = 2000,
                     level: float = 0.95, seed: int = 0, models: Sequence[str] | None = None) -> RankCorrelation:
    """Spearman's rho across models between two statistics of :func:`comparison_summary`.

    The confidence interval resamples the images with replacement (the same resample for
    every model, so the comparison stays paired) ``n_boot`` times and recomputes both
    statistics of every model and rho; model-level statistics (``first_layer_bend``) stay
    fixed. Values below 1e-6 in magnitude tie at 0 (straight contours).

    Args:
      results: name -> :class:`ClassifierMeasures` (same images for all).
      x_stat, y_stat: statistic names (:data:`STATISTICS`, ``"pgd@EPS"`` or ``"worst@EPS"``).
      n_boot: bootstrap resamples (>= 1); level: in (0, 1); seed: of the resampling.
      models: a subset of the models (all by default).

    Returns:
      :class:`RankCorrelation`.
    """
    results = _check_results(results)
    x_stat, y_stat = _check_statistic(x_stat, "x_stat"), _check_statistic(y_stat, "y_stat")
    if models is not None and (isinstance(models, (str, bytes)) or not isinstance(models, (list, tuple))):
        raise ValueError(f"models: expected a list of model names or None, got {models!r}")
    names = list(results) if models is None else list(models)
    missing = [m for m in names if m not in results]
    if missing:
        raise ValueError(f"models: not in results: {missing}")
    if len(names) < 3:
        raise ValueError(f"models: a rank correlation needs at least 3 models, got {len(names)}")
    n_boot = check_int(n_boot, "n_boot")
    if not (_is_number(level) and 0 < level < 1):
        raise ValueError(f"level: expected a fraction in (0, 1), got {level!r}")
    seed = check_int(seed, "seed", 0, 2 ** 32 - 1)
    sizes = {len(results[m].label) for m in names}
    if len(sizes) != 1:
        raise ValueError(f"results: expected the same images for every model, got batch sizes {sorted(sizes)}")
    n = sizes.pop()

    def both(rows):
        a = np.array([_statistic(results[m], x_stat, rows) for m in names])
        b = np.array([_statistic(results[m], y_stat, rows) for m in names])
        return _tie_zero(a), _tie_zero(b)

    a, b = both(None)
    rho = _spearman(a, b)
    rng = np.random.default_rng(seed)
    # every resample drawn at once (the same numbers as one draw of n per resample, in turn);
    # each model's statistic for all resamples at once: (models, n_boot)
    rows = rng.integers(0, n, (int(n_boot), n))
    a_all, b_all = both(rows)
    samples = np.array([_spearman(a_all[:, i], b_all[:, i]) for i in range(int(n_boot))])
    tail = 100 * (1 - level) / 2
    ok = samples[np.isfinite(samples)]
    low, high = (np.percentile(ok, [tail, 100 - tail]) if ok.size else (np.nan, np.nan))
    return RankCorrelation(rho, float(low), float(high), float(level), samples,
                           int(np.sum(np.isfinite(a) & np.isfinite(b))))


# ----------------------------------------------------------------------------- several seeds per configuration


def _check_groups(groups) -> dict[str, dict[str, ClassifierMeasures]]:
    """``groups`` as configuration -> {seed label -> ClassifierMeasures}, else a ValueError naming it."""
    if not isinstance(groups, Mapping) or not groups:
        raise ValueError(f"groups: expected a non-empty dict configuration -> {{seed: ClassifierMeasures}}, "
                         f"got {type(groups).__name__}")
    out = {}
    for name, seeds in groups.items():
        if not isinstance(seeds, Mapping) or not seeds:
            raise ValueError(f"groups: expected a non-empty dict seed -> ClassifierMeasures for configuration "
                             f"{name!r}, got {type(seeds).__name__}")
        bad = [s for s, m in seeds.items() if not isinstance(m, ClassifierMeasures)]
        if bad:
            raise ValueError(f"groups: expected ClassifierMeasures for every seed, not for {name!r} seeds {bad[:5]}")
        out[name] = dict(seeds)
    return out


class SeedSpread(NamedTuple):
    """One statistic of one configuration over its seeds (:func:`seed_spread`).

    Attributes:
      mean: mean over the seeds where the statistic is defined (NaN if none).
      sd: between-seed standard deviation (ddof = 1; NaN with fewer than 2 seeds).
      n_seeds: seeds where the statistic is defined.
      values: seed label -> the statistic of that seed's model.
    """

    mean: float
    sd: float
    n_seeds: int
    values: dict


def _spread(values) -> tuple[float, float, int]:
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if not v.size:
        return float("nan"), float("nan"), 0
    return float(v.mean()), (float(v.std(ddof=1)) if v.size > 1 else float("nan")), int(v.size)


def seed_spread(groups: Mapping[str, Mapping[str, ClassifierMeasures]], statistic: str) -> dict[str, SeedSpread]:
    """Mean and between-seed spread of a model-level statistic, per configuration.

    Each configuration was trained with several seeds (one model each); the statistic of
    each model is that of :func:`comparison_summary` on all its images, and the spread is
    the standard deviation (ddof = 1) of those numbers across the seeds.

    Args:
      groups: configuration -> {seed label -> :class:`ClassifierMeasures`}.
      statistic: a name of :data:`STATISTICS`, ``"pgd@EPS"`` or ``"worst@EPS"``.

    Returns:
      configuration -> :class:`SeedSpread` ``(mean, sd, n_seeds, values)``.

    >>> m = _toy_measures([1.0, 2.0, 3.0])
    >>> s = seed_spread({"a": {"0": m, "1": m._replace(msd=m.msd + 1)}}, "msd")["a"]
    >>> round(s.mean, 3), round(s.sd, 3), s.n_seeds
    (2.5, 0.707, 2)
    """
    groups = _check_groups(groups)
    statistic = _check_statistic(statistic, "statistic")
    out = {}
    for name, seeds in groups.items():
        values = {s: _statistic(m, statistic) for s, m in seeds.items()}
        out[name] = SeedSpread(*_spread(list(values.values())), values)
    return out


def _toy_measures(msd) -> ClassifierMeasures:
    """A :class:`ClassifierMeasures` of B images with the given MSDs and nothing else measured (for examples)."""
    msd = np.asarray(msd, float)
    b = msd.size
    nan = np.full(b, np.nan)
    return ClassifierMeasures(
        label=np.zeros(b, int), target=np.ones(b, int), deepfool_class=np.ones(b, int), deepfool_distance=nan,
        boundary_distance=nan, boundary_curvature=np.full((b, 1), np.nan), logit_bend=np.full((b, 2), np.nan),
        msd=msd, msd_reached=np.ones(b, bool), pgd_correct=np.ones((1, b), bool), template_deepfool=nan,
        template_msd=nan, first_layer_bend=np.zeros((0, 0)), first_layer_kind=np.zeros(0, str),
        eps=np.array([0.1]), seconds={})


#: Permutation tests enumerate every ordering up to this many units (8! = 40,320), else draw ``n_perm`` at random.
EXACT_UNITS = 8


def _check_level(level) -> float:
    if not (_is_number(level) and 0 < level < 1):
        raise ValueError(f"level: expected a fraction in (0, 1), got {level!r}")
    return float(level)


def _rank_rows(v) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(v, axis=-1)


def _pearson_rows(a, b) -> np.ndarray:
    """Pearson correlation along the last axis (NaN where either row is constant)."""
    a = a - a.mean(-1, keepdims=True)
    b = b - b.mean(-1, keepdims=True)
    den = np.sqrt((a * a).sum(-1) * (b * b).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(-1) / np.where(den > 0, den, 1.0), np.nan)


def _permutation_p(a, b, n_perm: int, seed: int, units: str) -> tuple[float, str]:
    """Two-sided permutation p-value of Spearman's rho between the finite pairs of ``a``, ``b``,
    and the name of the test (exact enumeration up to :data:`EXACT_UNITS` units)."""
    from scipy.stats import permutation_test

    ok = np.isfinite(a) & np.isfinite(b)
    n = int(ok.sum())
    ra, rb = _rank_rows(a[ok]), _rank_rows(b[ok])
    if n < 3 or np.ptp(ra) == 0 or np.ptp(rb) == 0:
        return float("nan"), f"permutation test of Spearman's rho over {units}: undefined ({n} units with both values)"
    count = math.factorial(n) if n <= 20 else None          # beyond 20! no n_perm comes near
    resamples = max(count, n_perm) if n <= EXACT_UNITS else n_perm
    res = permutation_test((ra,), lambda x, axis: _pearson_rows(np.moveaxis(x, axis, -1), rb),
                           permutation_type="pairings", vectorized=True, alternative="two-sided",
                           n_resamples=resamples, batch=2000, rng=np.random.default_rng(seed))
    exact = count is not None and count <= resamples         # scipy enumerates them all then
    how = (f"exact over {n}! = {count} orderings" if exact
           else f"Monte Carlo over {n_perm} random orderings (each one-sided p = (1 + hits) / (1 + {n_perm}))")
    return float(res.pvalue), f"permutation test of Spearman's rho over {n} {units}, {how}, two-sided"


class HierarchicalCorrelation(NamedTuple):
    """Spearman's rho across configurations of their seed-mean statistics (:func:`hierarchical_rank_correlation`).

    Attributes:
      rho: across configurations, between the seed means of the two statistics.
      low, high: the central ``level`` interval of the hierarchical bootstrap.
      level: e.g. 0.95.
      samples: the bootstrap values ``(n_boot,)`` (NaN where undefined).
      p_value: two-sided permutation p-value of ``rho`` with configurations as the units.
      test: the name of that test (exact enumeration or Monte Carlo, and over how many units).
      rho_models: rho across the individual models (every seed of every configuration a unit).
      p_models: the permutation p-value of ``rho_models``, models as the units.
      test_models: the name of that test.
      n_configurations: configurations with both seed means defined.
      n_models: models with both statistics defined.
    """

    rho: float
    low: float
    high: float
    level: float
    samples: np.ndarray
    p_value: float
    test: str
    rho_models: float
    p_models: float
    test_models: str
    n_configurations: int
    n_models: int


def _check_count(value, name: str) -> int:
    return check_int(value, name, 1, 10 ** 7)


def hierarchical_rank_correlation(groups: Mapping[str, Mapping[str, ClassifierMeasures]], x_stat: str, y_stat: str,
                                  *, n_boot: int = 2000, level: float = 0.95, n_perm: int = 9999,
                                  seed: int = 0) -> HierarchicalCorrelation:
    r"""Spearman's rho across configurations between two seed-mean statistics, with a hierarchical
    bootstrap interval and permutation tests.

    Each configuration c has seeds s (one trained model each, all measured on the same B
    images). The statistic of a configuration is the mean over its seeds of the model-level
    statistic (:func:`comparison_summary`; values below 1e-6 in magnitude tie at 0), and
    rho is Spearman's rank correlation of those means across configurations.

    - Interval: a hierarchical bootstrap, ``n_boot`` times: resample the images with
      replacement (one resample for every model, so the comparison stays paired), then in
      each configuration resample its seeds with replacement (the same seeds for both
      statistics), average, and recompute rho; the central ``level`` percentile interval.
      Between-seed variation (a different training run) and image sampling both enter.
    - Tests: permutation tests of Spearman's rho (two-sided, twice the smaller one-sided
      p-value, as ``scipy.stats.permutation_test``): with configurations as the units
      (``p_value``), and with every model as a unit (``p_models``; models of one
      configuration are not independent, so this one is optimistic). With at most
      :data:`EXACT_UNITS` units every ordering is enumerated (exact); otherwise ``n_perm``
      random orderings, :math:`p = (1 + \#\{\text{as extreme}\}) / (1 + n_{perm})`.

    With one seed per configuration it is :func:`rank_correlation` over the same models
    (the same rho and, for the same ``seed`` and ``n_boot``, the same bootstrap samples).

    Args:
      groups: configuration -> {seed label -> :class:`ClassifierMeasures`} (the same images
        for every model), at least 3 configurations.
      x_stat, y_stat: statistic names (:data:`STATISTICS`, ``"pgd@EPS"`` or ``"worst@EPS"``).
      n_boot: bootstrap resamples (>= 1); level: in (0, 1); n_perm: random orderings of the
        Monte Carlo tests (>= 1); seed: of the resampling and the orderings.

    Returns:
      :class:`HierarchicalCorrelation`.

    Reference: Saravanan, Berman & Sober (2020), Application of the hierarchical bootstrap
    to multi-level data in neuroscience, Neurons, Behavior, Data analysis, and Theory 3(5).
    """
    groups = _check_groups(groups)
    x_stat, y_stat = _check_statistic(x_stat, "x_stat"), _check_statistic(y_stat, "y_stat")
    n_boot, n_perm = _check_count(n_boot, "n_boot"), _check_count(n_perm, "n_perm")
    level = _check_level(level)
    seed = check_int(seed, "seed", 0, 2 ** 32 - 1)
    if len(groups) < 3:
        raise ValueError(f"groups: a rank correlation needs at least 3 configurations, got {len(groups)}")
    models = [m for seeds in groups.values() for m in seeds.values()]
    sizes = {len(m.label) for m in models}
    if len(sizes) != 1:
        raise ValueError(f"groups: expected the same images for every model, got batch sizes {sorted(sizes)}")
    n = sizes.pop()

    def per_model(rows):   # configuration -> (seeds,) or (seeds, n_boot) of x and of y
        return ({c: _tie_zero([_statistic(m, x_stat, rows) for m in s.values()]) for c, s in groups.items()},
                {c: _tie_zero([_statistic(m, y_stat, rows) for m in s.values()]) for c, s in groups.items()})

    def seed_mean(v, axis=0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # a configuration without a defined seed is NaN
            return np.nanmean(v, axis=axis)

    xs, ys = per_model(None)
    a = np.array([seed_mean(xs[c]) for c in groups])
    b = np.array([seed_mean(ys[c]) for c in groups])
    rho = _spearman(a, b)
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, n, (n_boot, n))     # drawn first: one seed per configuration is rank_correlation
    xb, yb = per_model(rows)
    a_all, b_all = np.empty((len(groups), n_boot)), np.empty((len(groups), n_boot))
    cols = np.arange(n_boot)[:, None]
    for i, c in enumerate(groups):
        k = len(groups[c])
        pick = rng.integers(0, k, (n_boot, k)) if k > 1 else np.zeros((n_boot, 1), int)
        a_all[i] = seed_mean(xb[c].reshape(k, n_boot)[pick, cols], axis=1)
        b_all[i] = seed_mean(yb[c].reshape(k, n_boot)[pick, cols], axis=1)
    samples = np.array([_spearman(a_all[:, j], b_all[:, j]) for j in range(n_boot)])
    tail = 100 * (1 - level) / 2
    ok = samples[np.isfinite(samples)]
    low, high = np.percentile(ok, [tail, 100 - tail]) if ok.size else (np.nan, np.nan)
    p, test = _permutation_p(a, b, n_perm, seed, "configurations")
    ma = np.concatenate([xs[c] for c in groups])
    mb = np.concatenate([ys[c] for c in groups])
    p_models, test_models = _permutation_p(ma, mb, n_perm, seed, "models")
    return HierarchicalCorrelation(rho, float(low), float(high), level, samples, p, test, _spearman(ma, mb),
                                   p_models, test_models, int(np.sum(np.isfinite(a) & np.isfinite(b))),
                                   int(np.sum(np.isfinite(ma) & np.isfinite(mb))))


# ----------------------------------------------------------------------------- within one model, across images


#: Per-image quantities of :func:`per_image_correlation`: name -> description.
PER_IMAGE_QUANTITIES: dict[str, str] = {
    "largest_curvature": "largest |kappa| of the decision boundary at the DeepFool point",
    "max_curvature": "largest signed kappa there (positive: the boundary bends toward the image)",
    "r_kappa": "boundary distance r times the largest |kappa| (dimensionless)",
    "boundary_distance": "L2 distance to the boundary point on the smooth twin",
    "deepfool_distance": "L2 distance to DeepFool's boundary crossing",
    "msd": "MSD of the targeted sign attack",
    "logit_bend": "bend c2 of the decision contour, comparison plane",
    "logit_bend_random": "bend c2 of the decision contour, random plane",
    "template_deepfool": "template cosine of the DeepFool perturbation",
    "template_msd": "template cosine of the sign-attack perturbation",
}


def _per_image(m: ClassifierMeasures, name: str) -> np.ndarray:
    k = np.asarray(m.boundary_curvature, float)
    if name == "largest_curvature":
        return largest_magnitude(k)
    if name == "max_curvature":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # all NaN: NaN
            return np.nanmax(k, axis=-1) if k.shape[-1] else np.full(k.shape[:-1], np.nan)
    if name == "r_kappa":
        return largest_magnitude(k) * np.asarray(m.boundary_distance, float)
    if name in ("logit_bend", "logit_bend_random"):
        return _tie_zero(np.asarray(m.logit_bend, float)[:, 0 if name == "logit_bend" else 1])
    return np.asarray(getattr(m, name), float)


class ImageCorrelation(NamedTuple):
    """Spearman's rho across the images of one model (:func:`per_image_correlation`).

    Attributes:
      rho: on the images where both values are finite.
      low, high: the central ``level`` percentile interval of the bootstrap over images.
      level: e.g. 0.95.
      samples: the bootstrap values ``(n_boot,)`` (NaN where undefined).
      p_value: two-sided permutation p-value of ``rho``.
      test: the name of that test.
      n_images: images used; n_dropped: images dropped for a NaN or infinite value.
    """

    rho: float
    low: float
    high: float
    level: float
    samples: np.ndarray
    p_value: float
    test: str
    n_images: int
    n_dropped: int


def per_image_correlation(measures: ClassifierMeasures, x_field: str, y_values: ArrayLike, *, n_boot: int = 2000,
                          level: float = 0.95, n_perm: int = 9999, seed: int = 0) -> ImageCorrelation:
    """Spearman's rho across the images of one model between a per-image quantity and ``y_values``.

    E.g. the largest boundary curvature at the DeepFool point against each image's minimal
    adversarial distance: does a more curved boundary near an image go with a more (or less)
    robust image? Images where either value is NaN or infinite are dropped (counted in
    ``n_dropped``; an attack that found nothing gives inf: cap it first to rank it last).
    The interval resamples the images with replacement ``n_boot`` times; the p-value is a
    permutation test (two-sided, ``n_perm`` random pairings, or every pairing for at most
    :data:`EXACT_UNITS` images).

    Args:
      measures: one model's :class:`ClassifierMeasures` (B images).
      x_field: a name of :data:`PER_IMAGE_QUANTITIES`.
      y_values: one number per image ``(B,)``, e.g. ``minimal_perturbation(...).distance``.
      n_boot: bootstrap resamples (>= 1); level: in (0, 1); n_perm: random pairings (>= 1);
        seed: of the resampling and the pairings.

    Returns:
      :class:`ImageCorrelation`.

    >>> m = _toy_measures([1.0, 2.0, 3.0, 4.0, 5.0])
    >>> c = per_image_correlation(m, "msd", [0.1, 0.3, 0.2, 0.5, float("nan")])
    >>> round(c.rho, 3), c.n_images, c.n_dropped
    (0.8, 4, 1)
    """
    if not isinstance(measures, ClassifierMeasures):
        raise ValueError(f"measures: expected a ClassifierMeasures, got {type(measures).__name__}")
    if not isinstance(x_field, str) or x_field not in PER_IMAGE_QUANTITIES:
        raise ValueError(f"x_field: expected one of {sorted(PER_IMAGE_QUANTITIES)}, got {x_field!r}")
    b = len(measures.label)
    check_array(y_values, "y_values", shape=(b,), finite=False)
    y = np.asarray(y_values, float)
    n_boot, n_perm = _check_count(n_boot, "n_boot"), _check_count(n_perm, "n_perm")
    level = _check_level(level)
    seed = check_int(seed, "seed", 0, 2 ** 32 - 1)
    x = _per_image(measures, x_field)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = int(ok.sum())
    rho = _spearman(x, y)
    if n >= 3:
        rows = np.random.default_rng(seed).integers(0, n, (n_boot, n))
        samples = _pearson_rows(_rank_rows(x[rows]), _rank_rows(y[rows]))
    else:
        samples = np.full(n_boot, np.nan)
    tail = 100 * (1 - level) / 2
    fin = samples[np.isfinite(samples)]
    low, high = np.percentile(fin, [tail, 100 - tail]) if fin.size else (np.nan, np.nan)
    p, test = _permutation_p(x, y, n_perm, seed, "images")
    return ImageCorrelation(rho, float(low), float(high), level, samples, p, test, n, b - n)
