"""Model-level statistics of chapter 8's measurements (:func:`comparison_summary`) and their rank
correlation across models (:func:`rank_correlation`). Several seeds per configuration and the
images of one model: :mod:`.significance`."""

from __future__ import annotations

import warnings
from typing import Mapping, NamedTuple, Sequence

import numpy as np

from geomlib._src.core.checks import check_int
from geomlib._src.defense.ranks import check_level, percentile_interval, spearman, tie_zero
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


def model_statistic(m: ClassifierMeasures, name: str, rows: np.ndarray | None = None) -> float | np.ndarray:
    """One model-level number of the statistic ``name`` (:data:`STATISTICS`, ``"pgd@EPS"`` or
    ``"worst@EPS"``) of the model measured in ``m`` (B images), from the images ``rows``: all
    of them by default (a float), indices ``(n,)`` into the B images (a bootstrap resample; a
    float), or one resample per row of ``(n_boot, n)`` (an array ``(n_boot,)``). NaN where
    the statistic is undefined (no image with a value, ``"worst@EPS"`` not measured);
    model-level fields (``first_layer_bend``) ignore ``rows``.
    """
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
        names = [check_statistic(s, "statistics") for s in statistics]
    return {s: {m: model_statistic(r, s) for m, r in results.items()} for s in names}


def _check_results(results) -> Mapping[str, ClassifierMeasures]:
    if not isinstance(results, Mapping) or not results:
        raise ValueError(f"results: expected a non-empty dict name -> ClassifierMeasures, got {type(results).__name__}")
    bad = [k for k, v in results.items() if not isinstance(v, ClassifierMeasures)]
    if bad:
        raise ValueError(f"results: expected ClassifierMeasures for every model, not for {bad[:5]}")
    return results


def check_statistic(name: str, arg: str) -> str:
    """``name`` if it is a statistic name of :data:`STATISTICS`, ``"pgd@EPS"`` or ``"worst@EPS"``
    (EPS a number; whether it was measured is checked by :func:`model_statistic`), else a
    ValueError naming the argument ``arg``."""
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
    x_stat, y_stat = check_statistic(x_stat, "x_stat"), check_statistic(y_stat, "y_stat")
    if models is not None and (isinstance(models, (str, bytes)) or not isinstance(models, (list, tuple))):
        raise ValueError(f"models: expected a list of model names or None, got {models!r}")
    names = list(results) if models is None else list(models)
    missing = [m for m in names if m not in results]
    if missing:
        raise ValueError(f"models: not in results: {missing}")
    if len(names) < 3:
        raise ValueError(f"models: a rank correlation needs at least 3 models, got {len(names)}")
    n_boot = check_int(n_boot, "n_boot")
    check_level(level)
    seed = check_int(seed, "seed", 0, 2 ** 32 - 1)
    sizes = {len(results[m].label) for m in names}
    if len(sizes) != 1:
        raise ValueError(f"results: expected the same images for every model, got batch sizes {sorted(sizes)}")
    n = sizes.pop()

    def both(rows):
        a = np.array([model_statistic(results[m], x_stat, rows) for m in names])
        b = np.array([model_statistic(results[m], y_stat, rows) for m in names])
        return tie_zero(a), tie_zero(b)

    a, b = both(None)
    rho = spearman(a, b)
    rng = np.random.default_rng(seed)
    # every resample drawn at once (the same numbers as one draw of n per resample, in turn);
    # each model's statistic for all resamples at once: (models, n_boot)
    rows = rng.integers(0, n, (int(n_boot), n))
    a_all, b_all = both(rows)
    samples = np.array([spearman(a_all[:, i], b_all[:, i]) for i in range(int(n_boot))])
    low, high = percentile_interval(samples, level)
    return RankCorrelation(rho, low, high, float(level), samples,
                           int(np.sum(np.isfinite(a) & np.isfinite(b))))
