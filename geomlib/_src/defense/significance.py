"""Significance across seeds and images: with several seeds per configuration, their spread
(:func:`seed_spread`) and the rank correlation across configurations (:func:`hierarchical_rank_correlation`);
across the images of one model, :func:`per_image_correlation`. Statistics as in :mod:`.statistics`."""

from __future__ import annotations

import warnings
from typing import Mapping, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from geomlib._src.core.checks import check_array, check_int
from geomlib._src.defense.ranks import (check_level, pearson_rows, percentile_interval, rank_rows, spearman,
                                        spearman_permutation_test, tie_zero)
from geomlib._src.defense.results import ClassifierMeasures, largest_magnitude
from geomlib._src.defense.statistics import check_statistic, model_statistic

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

    >>> import numpy as np
    >>> from geomlib import ClassifierMeasures, seed_spread
    >>> nan = np.full(3, np.nan)    # two seeds of one configuration, 3 images: only the MSD (8th field) measured
    >>> seeds = {"0": ClassifierMeasures(*[nan] * 7, np.array([1.0, 2.0, 3.0]), *[nan] * 8),
    ...          "1": ClassifierMeasures(*[nan] * 7, np.array([2.0, 3.0, 4.0]), *[nan] * 8)}
    >>> s = seed_spread({"a": seeds}, "msd")["a"]
    >>> round(s.mean, 3), round(s.sd, 3), s.n_seeds
    (2.5, 0.707, 2)
    """
    groups = _check_groups(groups)
    statistic = check_statistic(statistic, "statistic")
    out = {}
    for name, seeds in groups.items():
        values = {s: model_statistic(m, statistic) for s, m in seeds.items()}
        out[name] = SeedSpread(*_spread(list(values.values())), values)
    return out


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
      :data:`~.ranks.EXACT_UNITS` units every ordering is enumerated (exact); otherwise
      ``n_perm`` random orderings, :math:`p = (1 + \#\{\text{as extreme}\}) / (1 + n_{perm})`.

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
    x_stat, y_stat = check_statistic(x_stat, "x_stat"), check_statistic(y_stat, "y_stat")
    n_boot, n_perm = _check_count(n_boot, "n_boot"), _check_count(n_perm, "n_perm")
    level = check_level(level)
    seed = check_int(seed, "seed", 0, 2 ** 32 - 1)
    if len(groups) < 3:
        raise ValueError(f"groups: a rank correlation needs at least 3 configurations, got {len(groups)}")
    models = [m for seeds in groups.values() for m in seeds.values()]
    sizes = {len(m.label) for m in models}
    if len(sizes) != 1:
        raise ValueError(f"groups: expected the same images for every model, got batch sizes {sorted(sizes)}")
    n = sizes.pop()

    def per_model(rows):   # configuration -> (seeds,) or (seeds, n_boot) of x and of y
        return ({c: tie_zero([model_statistic(m, x_stat, rows) for m in s.values()]) for c, s in groups.items()},
                {c: tie_zero([model_statistic(m, y_stat, rows) for m in s.values()]) for c, s in groups.items()})

    def seed_mean(v, axis=0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # a configuration without a defined seed is NaN
            return np.nanmean(v, axis=axis)

    xs, ys = per_model(None)
    a = np.array([seed_mean(xs[c]) for c in groups])
    b = np.array([seed_mean(ys[c]) for c in groups])
    rho = spearman(a, b)
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
    samples = np.array([spearman(a_all[:, j], b_all[:, j]) for j in range(n_boot)])
    low, high = percentile_interval(samples, level)
    p, test = spearman_permutation_test(a, b, n_perm, seed, "configurations")
    ma = np.concatenate([xs[c] for c in groups])
    mb = np.concatenate([ys[c] for c in groups])
    p_models, test_models = spearman_permutation_test(ma, mb, n_perm, seed, "models")
    return HierarchicalCorrelation(rho, low, high, level, samples, p, test, spearman(ma, mb),
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
        return tie_zero(np.asarray(m.logit_bend, float)[:, 0 if name == "logit_bend" else 1])
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
    :data:`~.ranks.EXACT_UNITS` images).

    Args:
      measures: one model's :class:`ClassifierMeasures` (B images).
      x_field: a name of :data:`PER_IMAGE_QUANTITIES`.
      y_values: one number per image ``(B,)``, e.g. ``minimal_perturbation(...).distance``.
      n_boot: bootstrap resamples (>= 1); level: in (0, 1); n_perm: random pairings (>= 1);
        seed: of the resampling and the pairings.

    Returns:
      :class:`ImageCorrelation`.

    Chapter 8's committed comparison (run from the repository's root), one model's 24 digits:

    >>> from geomlib import load_comparison, per_image_correlation
    >>> results, _ = load_comparison("notebooks/results/defense-mnist-24.npz")
    >>> m = results["lca-mlp-2"]
    >>> c = per_image_correlation(m, "largest_curvature", m.msd)
    >>> round(c.rho, 2), c.n_images, c.n_dropped
    (-0.48, 24, 0)
    """
    if not isinstance(measures, ClassifierMeasures):
        raise ValueError(f"measures: expected a ClassifierMeasures, got {type(measures).__name__}")
    if not isinstance(x_field, str) or x_field not in PER_IMAGE_QUANTITIES:
        raise ValueError(f"x_field: expected one of {sorted(PER_IMAGE_QUANTITIES)}, got {x_field!r}")
    b = len(measures.label)
    check_array(y_values, "y_values", shape=(b,), finite=False)
    y = np.asarray(y_values, float)
    n_boot, n_perm = _check_count(n_boot, "n_boot"), _check_count(n_perm, "n_perm")
    level = check_level(level)
    seed = check_int(seed, "seed", 0, 2 ** 32 - 1)
    x = _per_image(measures, x_field)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = int(ok.sum())
    rho = spearman(x, y)
    if n >= 3:
        rows = np.random.default_rng(seed).integers(0, n, (n_boot, n))
        samples = pearson_rows(rank_rows(x[rows]), rank_rows(y[rows]))
    else:
        samples = np.full(n_boot, np.nan)
    low, high = percentile_interval(samples, level)
    p, test = spearman_permutation_test(x, y, n_perm, seed, "images")
    return ImageCorrelation(rho, low, high, level, samples, p, test, n, b - n)
