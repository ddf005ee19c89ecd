r"""The per-image prediction test and the random-noise curve of chapter 8's models, on its digits.

For one model and its smooth twin at the temperature of chapter 8's curvature measurement
(:math:`T = \lambda / 5`, :func:`geomlib.smooth_temperatures`), per digit
(:func:`prediction_measures`):

- ``distance``, ``curvatures``: the distance r to the twin's decision boundary at the DeepFool
  point and the top-k principal curvatures there (:func:`geomlib.boundary_curvatures`, chapter 8's
  settings), the inputs of the second-order prediction (:func:`geomlib.quadric_distance`);
- ``found``: the smallest adversarial L2 distance the attacks find on the same twin
  (:func:`geomlib.minimal_perturbation`: DeepFool, Carlini-Wagner toward the two runner-up
  classes, a radius search) *without* the pixel box, i.e. the distance to the same
  function's decision boundary that the prediction is about;
- ``noise``: the distance to the boundary along random lines (:func:`geomlib.noise_distance`),
  Fawzi et al.'s robustness to random noise.

:func:`prediction_summary` reduces them per model: the variance of log ``found`` explained by the
quadric and by r alone (:func:`geomlib.prediction_test`), and the ratio of random to adversarial
distance against the flat boundary's :func:`flat_noise_ratio`. :func:`predictions_to_file` writes
every model of chapter 8 to one resumable file (``python -m geomlib.cli.prediction``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, NamedTuple, Sequence

import jax
import numpy as np
from jax.typing import ArrayLike

from geomlib._src.core.checks import check_bool, check_float, check_images, check_int, check_labels, check_path
from geomlib._src.defense.mnist import DEFENSE_MODELS, check_model_names
from geomlib._src.defense.per_model import check_classifiers, comparison_digits, per_model_file, read_per_model
from geomlib._src.defense.prediction import PredictionTest, noise_distance, prediction_test
from geomlib._src.defense.temperatures import (CURVATURE_SETTINGS, decision_boundary_at_deepfool, model_threshold,
                                               smooth_temperatures)
from geomlib._src.robustness import MINIMAL_METHODS, minimal_perturbation

#: The settings of :func:`prediction_measures` in chapter 8: random lines per digit, how far
#: along each (L2, in pixel units; about 40 times the largest adversarial distances of the family, the
#: flat boundary's ratio), the scan steps and bisection halvings along a line, Carlini-Wagner's
#: runner-up targets, and the seed of the directions.
PREDICTION_SETTINGS = {"n_directions": 32, "max_radius": 100.0, "grid": 25, "iters": 12, "cw_targets": 2, "seed": 0}
#: The command that writes the file of chapter 8.
COMMAND = "python -m geomlib.cli.prediction"
#: The comparison file whose digits the prediction file shares.
COMPARISON = Path("notebooks/results/defense-mnist-24.npz")


class PredictionMeasures(NamedTuple):
    """One model's per-digit measurements of :func:`prediction_measures` (B digits).

    Attributes:
      temperature: the twin's softplus temperature T.
      distance: ``(B,)`` DeepFool distance r to the twin's boundary (NaN where DeepFool did not
        cross, or a third class is on top at the point found).
      curvatures: ``(B, k)`` principal curvatures there (NaN: undefined or not converged).
      found: ``(B,)`` smallest adversarial L2 distance found, no pixel box (0: the twin
        misclassifies the digit; inf: none found).
      method: ``(B,)`` index into :data:`geomlib.MINIMAL_METHODS` of the method that found it
        (-1 misclassified, -2 none).
      noise: ``(B, n)`` distance along each random line (inf: not crossed within the radius).
    """

    temperature: float
    distance: np.ndarray
    curvatures: np.ndarray
    found: np.ndarray
    method: np.ndarray
    noise: np.ndarray


def prediction_measures(model: str, x: ArrayLike, y: ArrayLike, *, temperature: float | None = None,
                        n_directions: int = PREDICTION_SETTINGS["n_directions"],
                        max_radius: float = PREDICTION_SETTINGS["max_radius"], grid: int = PREDICTION_SETTINGS["grid"],
                        iters: int = PREDICTION_SETTINGS["iters"], cw_targets: int = PREDICTION_SETTINGS["cw_targets"],
                        seed: int = PREDICTION_SETTINGS["seed"],
                        directory: str | os.PathLike | None = None) -> PredictionMeasures:
    r"""Boundary distance and curvature, the smallest adversarial distance and the distances along
    random lines of one model's smooth twin, per image.

    Args:
      model: a shipped classifier name (or a file in ``directory``).
      x: images ``(B, D)`` in [0, 1]; y: their labels ``(B,)``.
      temperature: the twin's temperature; None: :math:`\lambda / 5` with :math:`\lambda` the
        model's LCA threshold (0.25 without an LCA front-end), as in chapter 8.
      n_directions, max_radius, grid, iters: :func:`geomlib.noise_distance`'s settings.
      cw_targets: runner-up classes of Carlini-Wagner in :func:`geomlib.minimal_perturbation`.
      seed: the seed of the random directions (the same lines for every model).
      directory: where a named model's file is (the shipped ``geomlib/params`` by default).

    Returns:
      :class:`PredictionMeasures`.

    Raises:
      ValueError or TypeError naming the argument (before anything is measured);
      FileNotFoundError for a name that is no classifier file.
    """
    from geomlib._src.classifiers import load_classifier

    xb = check_images(x, True)
    y = check_labels(y, xb.shape[0], 10, "y")
    if not isinstance(model, str) or not model:
        raise ValueError(f"model: expected a classifier name, got {model!r}"[:200])
    if temperature is None:
        temperature = float(smooth_temperatures(model_threshold(model, directory), (5,))[0])
    temperature = check_float(temperature, "temperature", 0.0, open_low=True)
    n_directions = check_int(n_directions, "n_directions", 1, 10 ** 6)
    max_radius = check_float(max_radius, "max_radius", 0.0, open_low=True)
    grid, iters = check_int(grid, "grid", 1, 10 ** 4), check_int(iters, "iters", 1, 64)
    cw_targets = check_int(cw_targets, "cw_targets", 1)
    seed = check_int(seed, "seed", 0, 2 ** 32 - 1)
    f = load_classifier(model, smooth_temperature=temperature, directory=directory)
    curvatures, distance = decision_boundary_at_deepfool(f, xb)
    mp = minimal_perturbation(f, xb, y, "2", cw_targets=cw_targets, box=False)
    noise = noise_distance(f, xb, y, n_directions=n_directions, key=jax.random.key(seed), max_radius=max_radius,
                           grid=grid, iters=iters)
    return PredictionMeasures(temperature, distance, curvatures, np.asarray(mp.distance, np.float64),
                              np.asarray(mp.method), np.asarray(noise.distances, np.float64))


def flat_noise_ratio(dim: int) -> float:
    r"""The median ratio of the distance along a random line to the distance to a flat boundary in R^D.

    Along a direction v uniform on the sphere the distance to a hyperplane at distance r is
    :math:`r / |\cos(n, v)|`, and :math:`\cos^2 \sim \mathrm{Beta}(\tfrac12, \tfrac{D-1}2)`, so the
    median ratio is :math:`1 / \sqrt{m}` with m the median of that Beta distribution (about
    :math:`\sqrt{D} / 0.674`; Fawzi, Moosavi-Dezfooli & Frossard 2016).

    >>> round(flat_noise_ratio(784), 1)
    41.5
    """
    from scipy.stats import beta

    dim = check_int(dim, "dim", 2, 2 ** 31 - 1)
    return float(1.0 / np.sqrt(beta.ppf(0.5, 0.5, (dim - 1) / 2)))


class PredictionSummary(NamedTuple):
    """One model's row of :func:`prediction_summary`.

    Attributes:
      test: :func:`geomlib.prediction_test` of r, the curvatures and ``found``
        (fraction of the variance of log ``found`` explained by the quadric and by r alone).
      noise_ratio: ``(B,)`` per digit, the median distance along the random lines over ``found``
        (NaN where undefined: inf or 0 found, or most lines not crossed).
      median_ratio: the median of ``noise_ratio`` over the digits where it is defined.
      flat_ratio: the flat boundary's ratio in this dimension (:func:`flat_noise_ratio`).
      noise_median: ``(B,)`` per digit, the median distance along its random lines (inf where
        most lines do not cross).
    """

    test: PredictionTest
    noise_ratio: np.ndarray
    median_ratio: float
    flat_ratio: float
    noise_median: np.ndarray


def prediction_summary(measures: Mapping[str, PredictionMeasures], dim: int = 784) -> dict[str, PredictionSummary]:
    """Per model the prediction test and the ratio of random to adversarial distance
    (:class:`PredictionSummary`); ``dim`` is the input dimension D of the images (784 for MNIST)."""
    flat = flat_noise_ratio(dim)
    if not isinstance(measures, Mapping) or not measures:
        raise ValueError(f"measures: expected a non-empty dict name -> PredictionMeasures, got {measures!r}"[:200])
    out = {}
    for name, m in measures.items():
        if not isinstance(m, PredictionMeasures):
            raise ValueError(f"measures[{name!r}]: expected PredictionMeasures, got {type(m).__name__}")
        found = np.asarray(m.found, np.float64)
        med = np.median(m.noise, axis=1)
        ok = np.isfinite(found) & (found > 0) & np.isfinite(med)
        ratio = np.where(ok, med / np.where(ok, found, 1.0), np.nan)
        med_ratio = float(np.median(ratio[ok])) if ok.any() else float("nan")
        out[name] = PredictionSummary(prediction_test(m.distance, m.curvatures, found), ratio, med_ratio, flat, med)
    return out


def _settings(images: list[int], comparison: str, settings: dict) -> dict:
    return {"images": list(map(int, images)), "comparison": comparison, **CURVATURE_SETTINGS, **settings,
            "temperature": "lam / 5", "minimal_methods": list(MINIMAL_METHODS), "box": False,
            "data": "load_mnist_subset(seed=0).x_test[images]"}


def load_predictions(path: str | os.PathLike) -> tuple[dict[str, PredictionMeasures], dict]:
    """A prediction file (:func:`predictions_to_file`) read back: ``(name -> PredictionMeasures, metadata)``
    with the metadata of :func:`geomlib.load_temperatures` (settings, models, command, seconds, model_seconds).

    Raises:
      FileNotFoundError: no file (the message names the command that writes it);
      ResultFileError (a ValueError): a file that is not a complete prediction file.
    """
    return read_per_model(path, what="prediction", command=COMMAND,
                          build=lambda a: PredictionMeasures(float(a["temperature"]), a["distance"].astype(np.float64),
                                                             a["curvatures"].astype(np.float64),
                                                             a["found"].astype(np.float64),
                                                             a["method"].astype(np.int64),
                                                             a["noise"].astype(np.float64)))


def predictions_to_file(out: str | os.PathLike, models: Sequence[str] = DEFENSE_MODELS, *,
                        comparison: str | os.PathLike = COMPARISON, n_images: int | None = None,
                        restart: bool = False, progress: bool = True,
                        command: str = COMMAND) -> tuple[dict[str, PredictionMeasures], dict]:
    """:func:`prediction_measures` of every model of ``models`` on the digits of chapter 8's comparison
    file ``comparison`` (the first ``n_images``; all by default), with :data:`PREDICTION_SETTINGS`,
    written to ``out`` after each model and resumed (:func:`geomlib._src.defense.per_model.per_model_file`).

    Returns:
      ``(name -> PredictionMeasures, metadata)`` as :func:`load_predictions` gives.

    Raises:
      ValueError: other settings in ``out``, unknown models, a bad count; FileNotFoundError: no
        ``comparison`` file.
    """
    out = check_path(out, "out")
    models = check_model_names(models)
    comparison = check_path(comparison, "comparison")
    check_bool(restart, "restart"), check_bool(progress, "progress")
    check_classifiers(models)
    images, x, y = comparison_digits(comparison, n_images)

    def measure(m: str) -> dict:
        p = prediction_measures(m, x, y)
        return {"temperature": np.asarray(p.temperature), "distance": p.distance, "curvatures": p.curvatures,
                "found": p.found, "method": p.method, "noise": p.noise}

    per_model_file(out, models, _settings(images, comparison.name, PREDICTION_SETTINGS), measure,
                   what="prediction", command=command, restart=restart, progress=progress)
    return load_predictions(out)
