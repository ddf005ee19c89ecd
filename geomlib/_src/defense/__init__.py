"""Chapter 8: does measured curvature predict robustness? The parts:

- :mod:`.bends`: the decision-contour bend near each image and the first-layer survey;
- :mod:`.results`: :class:`ClassifierMeasures`, what one classifier's measurement gives;
- :mod:`.measures`: one classifier (:func:`measure_classifier`) and many on the same
  images (:func:`compare_classifiers`);
- :mod:`.ranks`: Spearman's rho, its permutation test and bootstrap intervals (numpy pieces);
- :mod:`.statistics`: one number per model (:func:`comparison_summary`) and the rank
  correlation across models (:func:`rank_correlation`);
- :mod:`.significance`: with several seeds per configuration their spread (:func:`seed_spread`)
  and :func:`hierarchical_rank_correlation`; across the images of one model,
  :func:`per_image_correlation`;
- :mod:`.prediction`: the per-image prediction of the minimal adversarial distance from the
  boundary's second-order geometry (:func:`quadric_distance`, :func:`prediction_test`) and
  robustness to random noise (:func:`noise_robustness`, :func:`noise_distance`);
- :mod:`.prediction_run`: both measured on chapter 8's models and digits (:func:`prediction_measures`,
  :func:`prediction_summary`, the resumable file of :func:`predictions_to_file`, ``python -m geomlib.cli.prediction``);
- :mod:`.per_model`: the resumable per-model results file behind it and :mod:`.temperatures`;
- :mod:`.io`: :func:`save_comparison` / :func:`load_comparison`;
- :mod:`.mnist`, :mod:`.cifar`: the two comparisons of chapter 8 (shipped MNIST family;
  grayscale CIFAR-10 models trained on the spot);
- :mod:`.runs`: :func:`comparison_to_file`, either comparison written to one file that an
  interrupted run resumes (what ``python -m geomlib.cli.defense`` runs);
- :mod:`.crosscheck`: :func:`shared_digits_check`, two comparison files compared on the digits
  both measured;
- :mod:`.temperatures`: the boundary curvature at T = lambda / 5, / 10, / 20 (:func:`temperature_curvatures`),
  whether the ranking of models survives the temperature (:func:`temperature_summary`), and the
  resumable file of chapter 8 (:func:`temperatures_to_file`, ``python -m geomlib.cli.temperatures``);
- :mod:`.convergence`: :func:`worst_case_convergence`, the worst case at the chapter's budget and a
  larger one on the same digits (``python -m geomlib.cli.defense --convergence``).
"""

from geomlib._src.defense.bends import CONTOUR_WINDOW, decision_contour_bend, first_layer_survey, logit_bend
from geomlib._src.defense.convergence import worst_case_convergence
from geomlib._src.defense.cifar import CIFAR10_SETTINGS, cifar10_comparison, cifar10_models
from geomlib._src.defense.io import load_comparison, save_comparison
from geomlib._src.defense.measures import WORST_CASE_BUDGET, compare_classifiers, measure_classifier
from geomlib._src.defense.results import PER_IMAGE, ClassifierMeasures
from geomlib._src.defense.mnist import DEFENSE_MODELS, mnist_comparison, pick_images, seed_groups
from geomlib._src.defense.runs import ComparisonRun, comparison_to_file, merge_comparison_files
from geomlib._src.defense.crosscheck import SharedDigitsCheck, shared_digits_check
from geomlib._src.defense.prediction import (
    NoiseDistance,
    PredictionTest,
    noise_distance,
    noise_robustness,
    prediction_test,
    quadric_distance,
)
from geomlib._src.defense.prediction_run import (
    PREDICTION_SETTINGS,
    PredictionMeasures,
    PredictionSummary,
    flat_noise_ratio,
    load_predictions,
    prediction_measures,
    prediction_summary,
    predictions_to_file,
)
from geomlib._src.defense.significance import (
    PER_IMAGE_QUANTITIES,
    HierarchicalCorrelation,
    ImageCorrelation,
    SeedSpread,
    hierarchical_rank_correlation,
    per_image_correlation,
    seed_spread,
)
from geomlib._src.defense.statistics import STATISTICS, RankCorrelation, comparison_summary, rank_correlation
from geomlib._src.defense.temperatures import (
    TemperatureCurvatures,
    TemperatureSummary,
    load_temperatures,
    smooth_temperatures,
    temperature_curvatures,
    temperature_summary,
    temperatures_to_file,
)

__all__ = [
    "CIFAR10_SETTINGS", "CONTOUR_WINDOW", "ComparisonRun", "comparison_to_file", "merge_comparison_files", "DEFENSE_MODELS", "PER_IMAGE", "STATISTICS", "ClassifierMeasures",
    "RankCorrelation", "cifar10_comparison", "cifar10_models", "compare_classifiers", "comparison_summary",
    "decision_contour_bend", "first_layer_survey", "load_comparison", "logit_bend", "measure_classifier",
    "mnist_comparison", "pick_images", "rank_correlation", "save_comparison", "WORST_CASE_BUDGET",
    "worst_case_convergence", "SharedDigitsCheck", "shared_digits_check", "seed_groups",
    "HierarchicalCorrelation", "ImageCorrelation", "NoiseDistance", "PER_IMAGE_QUANTITIES", "PredictionTest",
    "SeedSpread", "hierarchical_rank_correlation", "noise_distance", "noise_robustness", "per_image_correlation",
    "prediction_test", "quadric_distance", "seed_spread",
    "PREDICTION_SETTINGS", "PredictionMeasures", "PredictionSummary", "flat_noise_ratio", "load_predictions",
    "prediction_measures", "prediction_summary", "predictions_to_file",
    "TemperatureCurvatures", "TemperatureSummary", "load_temperatures", "smooth_temperatures",
    "temperature_curvatures", "temperature_summary", "temperatures_to_file",
]
