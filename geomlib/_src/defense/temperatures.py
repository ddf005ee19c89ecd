r"""The boundary curvature at several softplus temperatures: does the ranking of models survive the choice?

A ReLU network's decision boundary is piecewise flat, so chapter 8 measures its curvature on the
smooth twin (``load_classifier(name, smooth_temperature=T)``: every ReLU and the LCA threshold
replaced by :math:`T \log(1 + e^{(\cdot)/T})`), at one temperature, T = 0.05 for every model.
The curvature of the twin depends on T (chapter 3: the softplus inflates local curvature about
twofold against the converged value), so a ranking of models by curvature could be a ranking
by how each model reacts to the smoothing. Here each model is measured at temperatures tied to
its own threshold,

.. math:: T_f = \lambda_m / f, \qquad f \in (5, 10, 20),

with :math:`\lambda_m` the model's LCA threshold (its metadata ``"lca"["lam"]``). A model
without an LCA front-end has no threshold; it gets the family's default
:data:`DEFAULT_THRESHOLD` (:math:`\lambda = 0.25`, the threshold of ``lca-mlp-2``), so that
:math:`T_5 = 0.05` is the shipped temperature for the MLPs and for every LCA model at
:math:`\lambda = 0.25` (``lca-mlp-2-lam0.1`` and ``lca-mlp-2-lam0.5`` get 0.02 and 0.1 there).

- :func:`smooth_temperatures`: the temperatures :math:`\lambda / f`;
- :func:`temperature_curvatures`: one model's top-k principal curvatures of the decision
  boundary at each image's DeepFool point (:func:`geomlib.boundary_curvatures`, the settings
  of :func:`geomlib.measure_classifier`) at every temperature;
- :func:`temperature_summary`: per model the median largest :math:`|\kappa|` at each
  temperature, and Spearman's rho between the rankings of the models at each pair of
  temperatures and against the hard model's own grid-scale bend (the ``logit_bend`` of the
  comparison), with permutation p-values over models;
- :func:`temperatures_to_file` / :func:`load_temperatures`: every model of chapter 8 on the
  digits of its comparison file, resumable per model (``python -m geomlib.cli.temperatures``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Mapping, NamedTuple, Sequence

import numpy as np
from jax.typing import ArrayLike

from geomlib._src.boundary import boundary_curvatures
from geomlib._src.core.checks import check_bool, check_callable, check_float, check_images, check_int, check_path
from geomlib._src.defense.mnist import DEFENSE_MODELS, check_model_names
from geomlib._src.defense.per_model import check_classifiers, comparison_digits, per_model_file, read_per_model
from geomlib._src.defense.ranks import spearman, spearman_permutation_test, tie_zero
from geomlib._src.defense.results import largest_magnitude

#: The divisors f of the temperatures :math:`T = \lambda / f`.
THRESHOLD_FACTORS = (5, 10, 20)
#: The threshold that sets the temperatures of a model without an LCA front-end: the family's
#: default :math:`\lambda` (``lca-mlp-2``), so that :math:`\lambda / 5` = 0.05 is the shipped temperature.
DEFAULT_THRESHOLD = 0.25
#: The curvature settings of :func:`geomlib.measure_classifier` (chapter 8's comparison): principal
#: curvatures per image, Lanczos steps, relative tolerance (DeepFool: the defaults of
#: :func:`geomlib.boundary_curvatures`, 50 steps, overshoot 0.02, no clipping).
CURVATURE_SETTINGS = {"k": 3, "iterations": 30, "tol": 1e-3}
#: The command that writes a temperatures file.
COMMAND = "python -m geomlib.cli.temperatures"
#: The comparison file whose digits (and hard bends) the temperatures file shares.
COMPARISON = Path("notebooks/results/defense-mnist-24.npz")


class TemperatureCurvatures(NamedTuple):
    """One model's boundary curvature at F temperatures on B images (:func:`temperature_curvatures`).

    Attributes:
      temperatures: ``(F,)`` the softplus temperatures T, in the order of the factors.
      curvatures: ``(F, B, k)`` the top-k principal curvatures (in the order and
        sign convention of :func:`geomlib.boundary_curvatures`); NaN where DeepFool did not
        cross a boundary, where the point found is not on the decision boundary (a third
        class on top), or where the Lanczos iteration did not converge to the tolerance.
      distances: ``(F, B)`` the DeepFool distance to the twin's boundary; NaN where
        DeepFool did not cross or the point is not on the decision boundary.
      lam: the threshold the temperatures were computed from (:data:`DEFAULT_THRESHOLD`
        for a model without an LCA front-end).
    """

    temperatures: np.ndarray
    curvatures: np.ndarray
    distances: np.ndarray
    lam: float

    @property
    def largest(self) -> np.ndarray:
        """``(F, B)`` the largest :math:`|\\kappa|` of each image at each temperature (NaN: none converged)."""
        return largest_magnitude(self.curvatures)


def _check_factors(factors) -> tuple[float, ...]:
    if isinstance(factors, (str, bytes)) or not isinstance(factors, (tuple, list, np.ndarray)) or len(factors) < 1:
        raise ValueError(f"factors: expected a non-empty sequence of numbers > 0, got {factors!r}")
    out = tuple(check_float(f, f"factors[{i}]", 0.0, open_low=True) for i, f in enumerate(factors))
    if len(set(out)) != len(out):
        raise ValueError(f"factors: expected distinct numbers, got {list(factors)}")
    return out


def smooth_temperatures(lam: float | None, factors: Sequence[float] = THRESHOLD_FACTORS) -> np.ndarray:
    r"""The softplus temperatures :math:`T = \lambda / f` for each factor f, ``(F,)`` float64.

    Args:
      lam: the LCA threshold :math:`\lambda > 0`; None for a model without an LCA front-end
        (then :data:`DEFAULT_THRESHOLD`, 0.25).
      factors: the divisors f > 0 (distinct), default (5, 10, 20).

    >>> smooth_temperatures(0.25).tolist()
    [0.05, 0.025, 0.0125]
    >>> smooth_temperatures(None, (5,)).tolist()
    [0.05]
    """
    lam = DEFAULT_THRESHOLD if lam is None else check_float(lam, "lam", 0.0, open_low=True)
    return np.array([lam / f for f in _check_factors(factors)], np.float64)


def model_threshold(name: str, directory: str | os.PathLike | None = None) -> float | None:
    """The LCA threshold lam of the classifier ``name`` (shipped, or a file in ``directory``) from
    its metadata; None for a classifier without an LCA front-end."""
    from geomlib._src.params_io import load_metadata

    lca = load_metadata(name, directory).get("lca")
    return None if not lca else float(lca["lam"])


def decision_boundary_at_deepfool(f, x: np.ndarray, k: int = CURVATURE_SETTINGS["k"],
                                  iterations: int = CURVATURE_SETTINGS["iterations"],
                                  tol: float = CURVATURE_SETTINGS["tol"]) -> tuple[np.ndarray, np.ndarray]:
    """The top-k principal curvatures ``(B, k)`` and the distance ``(B,)`` of a classifier's decision
    boundary at each image's DeepFool point (:func:`geomlib.boundary_curvatures`, chapter 8's settings
    by default), float64, NaN where DeepFool did not cross or a third class is on top there (not
    the decision boundary of the image's class and the one DeepFool reached)."""
    bc = boundary_curvatures(f, x, k, iterations=iterations, tol=tol)
    on = np.asarray(bc.top_two, bool)
    return (np.where(on[:, None], np.asarray(bc.curvatures, np.float64), np.nan),
            np.where(on, np.asarray(bc.distance, np.float64), np.nan))


def temperature_curvatures(model: str | Callable[[float], Callable], x: ArrayLike, *, lam: float | None = None,
                           factors: Sequence[float] = THRESHOLD_FACTORS, k: int = CURVATURE_SETTINGS["k"],
                           iterations: int = CURVATURE_SETTINGS["iterations"], tol: float = CURVATURE_SETTINGS["tol"],
                           directory: str | os.PathLike | None = None) -> TemperatureCurvatures:
    r"""The top-k principal curvatures of one model's decision boundary at several softplus temperatures.

    At each temperature :math:`T = \lambda / f` (:func:`smooth_temperatures`) the smooth twin
    is built and :func:`geomlib.boundary_curvatures` runs on it (DeepFool from each image,
    bisection to the boundary point, Lanczos on Hessian-vector products), with chapter 8's
    settings (:data:`CURVATURE_SETTINGS`) by default: at :math:`T = 0.05` it gives the
    ``boundary_curvature`` of :func:`geomlib.measure_classifier`.

    Args:
      model: a shipped classifier name (or a file in ``directory``): its twin is
        ``load_classifier(model, smooth_temperature=T)`` and its threshold is read from its
        metadata; or a callable ``T -> logits_fn`` (batched ``(B, D) -> (B, K)``) building
        the twin at temperature T.
      x: images ``(B, D)``.
      lam: the threshold of the temperatures; None: the model's LCA threshold for a name
        (:data:`DEFAULT_THRESHOLD` if it has no LCA front-end), :data:`DEFAULT_THRESHOLD`
        for a callable.
      factors: the divisors f of :math:`T = \lambda / f`, default (5, 10, 20).
      k, iterations, tol: principal curvatures per image and the Lanczos settings of
        :func:`geomlib.boundary_curvatures` (1 <= k <= D - 2, iterations >= k, tol > 0).
      directory: where a named model's file is (the shipped ``geomlib/params`` by default).

    Returns:
      :class:`TemperatureCurvatures` ``(temperatures (F,), curvatures (F, B, k), distances (F, B), lam)``.
      Undefined or unconverged values are NaN, never a number the solver did not reach.

    Raises:
      ValueError or TypeError naming the argument (before anything is measured);
      FileNotFoundError for a name that is no classifier file.
    """
    xb = check_images(x, False)
    if xb.shape[0] < 1:
        raise ValueError(f"x: expected at least one image (B, D), got shape {tuple(xb.shape)}")
    k = check_int(k, "k", 1, xb.shape[1] - 2, high_label="D - 2")
    iterations = check_int(iterations, "iterations", k, low_label="k")
    tol = check_float(tol, "tol", 0.0, open_low=True)
    factors = _check_factors(factors)
    if isinstance(model, str):
        if not model:
            raise ValueError("model: expected a classifier name or a callable T -> logits_fn, got ''")
        from geomlib._src.classifiers import load_classifier

        try:
            threshold = model_threshold(model, directory) if lam is None else lam
        except FileNotFoundError as err:
            raise FileNotFoundError(f"model: no classifier {model!r} ({err})") from err
        temperatures = smooth_temperatures(threshold, factors)
        threshold = DEFAULT_THRESHOLD if threshold is None else float(threshold)
        build = lambda t: load_classifier(model, smooth_temperature=t, directory=directory)  # noqa: E731
    elif callable(model) and not isinstance(model, type):
        temperatures = smooth_temperatures(lam, factors)
        threshold = DEFAULT_THRESHOLD if lam is None else float(lam)
        build = model
    else:
        raise TypeError(f"model: expected a classifier name or a callable T -> logits_fn, got "
                        f"{type(model).__name__} {model!r}"[:200])
    curv = np.full((len(factors), xb.shape[0], k), np.nan)
    dist = np.full((len(factors), xb.shape[0]), np.nan)
    for i, t in enumerate(temperatures):
        fn = check_callable(build(float(t)), "model", "T -> logits_fn (B, D) -> (B, K)")
        curv[i], dist[i] = decision_boundary_at_deepfool(fn, xb, k, iterations, tol)
    return TemperatureCurvatures(temperatures, curv, dist, threshold)


# ----------------------------------------------------------------------------- across models


class TemperatureSummary(NamedTuple):
    """Per model and temperature the median largest :math:`|\\kappa|`, and how the rankings agree
    (:func:`temperature_summary`).

    Attributes:
      models: the M model names, in order.
      factors: ``(F,)`` the divisors f of the temperatures :math:`\\lambda_m / f`.
      temperatures: ``(M, F)`` each model's temperatures.
      median: ``(M, F)`` median over the images of the largest :math:`|\\kappa|` (NaN: none converged).
      converged: ``(M, F)`` fraction of the images with a defined largest :math:`|\\kappa|`.
      labels: the F + 1 rankings compared: ``"T = lam/5"``, ..., and ``"hard bend"``.
      rho: ``(F + 1, F + 1)`` Spearman's rho across models between each pair of rankings
        (the last one the hard grid-scale bend; NaN without it).
      p_value: ``(F + 1, F + 1)`` two-sided permutation p-values of ``rho`` over models.
      test: the name of that test.
    """

    models: tuple[str, ...]
    factors: np.ndarray
    temperatures: np.ndarray
    median: np.ndarray
    converged: np.ndarray
    labels: tuple[str, ...]
    rho: np.ndarray
    p_value: np.ndarray
    test: str


def _check_measured(curvatures) -> dict[str, TemperatureCurvatures]:
    if not isinstance(curvatures, Mapping) or not curvatures:
        raise ValueError(f"curvatures: expected a non-empty dict name -> TemperatureCurvatures, got "
                         f"{type(curvatures).__name__}")
    bad = [n for n, c in curvatures.items() if not isinstance(c, TemperatureCurvatures)]
    if bad:
        raise ValueError(f"curvatures: expected TemperatureCurvatures for every model, not for {bad[:5]}")
    shapes = {np.shape(c.curvatures)[:2] for c in curvatures.values()}
    if len(shapes) != 1:
        raise ValueError(f"curvatures: expected the same temperatures and images for every model, got (F, B) "
                         f"{sorted(shapes)}")
    return dict(curvatures)


def temperature_summary(curvatures: Mapping[str, TemperatureCurvatures], bend: Mapping[str, float] | None = None, *,
                        factors: Sequence[float] = THRESHOLD_FACTORS, n_perm: int = 9999,
                        seed: int = 0) -> TemperatureSummary:
    r"""Does the ranking of models by boundary curvature survive the choice of temperature?

    Each model's statistic at each temperature is the median over the images of the largest
    :math:`|\kappa|` (the ``boundary_curvature`` statistic of :func:`geomlib.comparison_summary`).
    Spearman's rho compares the rankings of the models at each pair of temperatures, and at
    each temperature against ``bend``, the hard (unsmoothed) model's own decision-contour bend
    at the attack's scale (``comparison_summary(results)["logit_bend"]``: median :math:`c_2`,
    comparison planes). Values below 1e-6 in magnitude tie at 0 (flat boundaries, straight
    contours). The p-values are two-sided permutation tests of rho with the models as the
    units (exact enumeration up to 8 models, else ``n_perm`` random orderings;
    ``scipy.stats.permutation_test``).

    Args:
      curvatures: name -> :class:`TemperatureCurvatures` (same temperatures count and images
        for every model), at least 3 models.
      bend: name -> the hard grid-scale bend of each model (every model of ``curvatures``),
        or None (then the last row and column are NaN).
      factors: the divisors f the curvatures were measured at (for the labels), F of them.
      n_perm: random orderings of a Monte Carlo test (>= 1); seed: of those orderings.

    Returns:
      :class:`TemperatureSummary`.
    """
    measured = _check_measured(curvatures)
    if len(measured) < 3:
        raise ValueError(f"curvatures: a rank correlation needs at least 3 models, got {len(measured)}")
    factors = _check_factors(factors)
    n_f = np.shape(next(iter(measured.values())).curvatures)[0]
    if len(factors) != n_f:
        raise ValueError(f"factors: expected {n_f} factors (the curvatures' temperatures), got {len(factors)}")
    n_perm = check_int(n_perm, "n_perm", 1, 10 ** 7)
    seed = check_int(seed, "seed", 0, 2 ** 32 - 1)
    names = tuple(measured)
    if bend is not None:
        if not isinstance(bend, Mapping):
            raise ValueError(f"bend: expected a dict name -> bend or None, got {type(bend).__name__}")
        missing = [m for m in names if m not in bend]
        if missing:
            raise ValueError(f"bend: expected a value for every model, missing {missing[:5]}")
        hard = np.array([_bend_value(bend[m], m) for m in names])
    else:
        hard = np.full(len(names), np.nan)
    largest = {m: c.largest for m, c in measured.items()}
    with np.errstate(all="ignore"):
        median = np.array([[np.nanmedian(row) if np.isfinite(row).any() else np.nan for row in largest[m]]
                           for m in names])
    converged = np.array([np.isfinite(largest[m]).mean(axis=1) for m in names])
    columns = [tie_zero(median[:, j]) for j in range(n_f)] + [tie_zero(hard)]
    labels = tuple(f"T = lam/{f:g}" for f in factors) + ("hard bend",)
    rho = np.full((n_f + 1, n_f + 1), np.nan)
    p = np.full_like(rho, np.nan)
    test = ""
    for i in range(n_f + 1):
        for j in range(n_f + 1):
            if i == j:
                rho[i, j], p[i, j] = (1.0, 0.0) if np.isfinite(columns[i]).sum() >= 3 else (np.nan, np.nan)
                continue
            if j < i:
                rho[i, j], p[i, j] = rho[j, i], p[j, i]
                continue
            rho[i, j] = spearman(columns[i], columns[j])
            p[i, j], name = spearman_permutation_test(columns[i], columns[j], n_perm, seed, "models")
            if np.isfinite(p[i, j]) and not test:
                test = name
    temps = np.array([measured[m].temperatures for m in names])
    return TemperatureSummary(names, np.asarray(factors), temps, median, converged, labels, rho, p,
                              test or "permutation test of Spearman's rho over models: undefined")


def _bend_value(v, name) -> float:
    """One model's bend as a float: a real number, NaN allowed (undefined), not a bool or inf."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ValueError(f"bend[{name!r}]: expected a number, got {type(v).__name__} {v!r}"[:200])
    if np.isinf(v):
        raise ValueError(f"bend[{name!r}]: expected a finite number (or NaN: undefined), got {v!r}")
    return float(v)


# ----------------------------------------------------------------------------- the file of chapter 8


def _settings(images: list[int], factors, comparison: str) -> dict:
    return {"images": list(map(int, images)), "factors": [float(f) for f in factors], "comparison": comparison,
            "default_threshold": DEFAULT_THRESHOLD, **CURVATURE_SETTINGS,
            "data": "load_mnist_subset(seed=0).x_test[images]"}


def load_temperatures(path: str | os.PathLike) -> tuple[dict[str, TemperatureCurvatures], dict]:
    """A temperatures file (:func:`temperatures_to_file`) read back: ``(name -> TemperatureCurvatures,
    metadata)``; the metadata holds ``settings`` (digits, factors, Lanczos settings), ``models``,
    ``command``, ``seconds`` (all runs on the file) and ``model_seconds`` (name -> seconds).

    Raises:
      FileNotFoundError: no file (the message names the command that writes it);
      ResultFileError (a ValueError): a file that is not a complete temperatures file.
    """
    return read_per_model(path, what="temperatures", command=COMMAND,
                          build=lambda a: TemperatureCurvatures(np.asarray(a["temperatures"], np.float64),
                                                                np.asarray(a["curvatures"], np.float64),
                                                                np.asarray(a["distances"], np.float64),
                                                                float(a["lam"])))


def temperatures_to_file(out: str | os.PathLike, models: Sequence[str] = DEFENSE_MODELS, *,
                         comparison: str | os.PathLike = COMPARISON, factors: Sequence[float] = THRESHOLD_FACTORS,
                         n_images: int | None = None, restart: bool = False, progress: bool = True,
                         command: str = COMMAND) -> tuple[dict[str, TemperatureCurvatures], dict]:
    """:func:`temperature_curvatures` of every model of ``models`` on the digits of the chapter-8
    comparison file ``comparison``, written to the ``.npz`` ``out`` after each model (atomically,
    :func:`geomlib._src.core.files.write_npz`), resuming what is there.

    The digits are the held-out MNIST digits ``meta["images"]`` of ``comparison``
    (:func:`geomlib.load_comparison`), the first ``n_images`` of them (all by default). Unless
    ``restart``, the models already in ``out`` are read back, not measured again; a file
    written with other settings (digits, factors, Lanczos settings) is refused. The file
    stores the command (each run's, joined by ``&&``), the total seconds of all runs and each
    model's seconds. A tqdm bar counts the models.

    Returns:
      ``(name -> TemperatureCurvatures, metadata)`` as :func:`load_temperatures` gives.

    Raises:
      ValueError: other settings in ``out``, unknown models, a bad count; FileNotFoundError:
        no ``comparison`` file.
    """
    out = check_path(out, "out")
    models = check_model_names(models)
    comparison = check_path(comparison, "comparison")
    factors = _check_factors(factors)
    check_bool(restart, "restart"), check_bool(progress, "progress")
    check_classifiers(models)
    images, x, _ = comparison_digits(comparison, n_images)

    def measure(m: str) -> dict:
        c = temperature_curvatures(m, x, factors=factors)
        return {"temperatures": c.temperatures, "curvatures": c.curvatures, "distances": c.distances,
                "lam": np.asarray(c.lam)}

    per_model_file(out, models, _settings(images, factors, comparison.name), measure, what="temperatures",
                   command=command, restart=restart, progress=progress)
    return load_temperatures(out)
