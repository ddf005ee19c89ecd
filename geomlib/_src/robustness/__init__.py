r"""Robustness measurements built on the attacks.

Conventions as in :mod:`geomlib._src.attacks`: ``logits_fn`` maps a batch ``(B, D)`` to
logits ``(B, K)``, each row depending on its own image only; a *response* ``response_fn``
maps a batch ``(B, D)`` to one number per image ``(B,)`` (e.g. :func:`target_log_probability`).
Images are in [0, 1] when ``clip=True``. Bind parameters with ``jax.tree_util.Partial``
so that the compiled kernels are reused (plain functions are keyed by identity).

Parts: ``evaluation`` (accuracy under attack, attack size at a target confidence),
``adaptive`` (BPDA, implicit LCA gradients, steps sweep, transfer), ``worst`` (attacks as
functions, for the worst case of ``autoattack``), ``checks`` (the sanity checks that expose gradient masking),
``minimal_distance`` (smallest adversarial distance per image over several attacks),
``runs`` (chapter 7's resumable evaluation behind ``python -m geomlib.cli.robustness``),
``paths`` (responses, gradient-ascent paths and how they cross the contours, plane
coordinates), ``semantics`` (class means, template cosine), ``subspaces`` (how many
orthogonal adversarial directions exist at an image), ``autoattack`` (robust accuracy under
an ensemble of attacks, AutoAttack's way, every adversarial checked).
"""

from geomlib._src.robustness.adaptive import (
    StepsSweep,
    bpda_logits,
    default_bpda_temperature,
    lca_bpda,
    lca_implicit_logits,
    steps_sweep,
    surrogate_attack,
    transfer_attack,
)
from geomlib._src.robustness.autoattack import (
    CHECK_BATCH,
    PGD_BASELINE_STEPS,
    WORST_CASE_ATTACKS,
    WORST_CASE_BATCH,
    RobustAccuracy,
    ball_tolerance,
    check_adversarials,
    predict_classes,
    robust_accuracy,
)
from geomlib._src.robustness.checks import Check, RobustnessChecks, robustness_checks, zero_gradient_fraction
from geomlib._src.robustness.evaluation import MSDResult, accuracy_under_attack, correct_under_attack, msd_at_confidence
from geomlib._src.robustness.minimal_distance import MINIMAL_METHODS, MinimalPerturbation, minimal_perturbation
from geomlib._src.robustness.runs import EVAL_EPS, EVAL_MODELS, accuracy_interval, load_robustness_run, model_attacks
from geomlib._src.robustness.paths import (
    gradient_ascent_path,
    one_image,
    path_plane_coordinates,
    single_image_response,
    step_contour_cosines,
    target_log_probability,
)
from geomlib._src.robustness.paths2d import (
    TOY_LEVEL,
    TOY_TEMPERATURE,
    LevelPath,
    PlaneAttack,
    ToyAttack,
    ascent_to_level,
    path_contour_curvature,
    plane_attacks,
    toy_attacks,
    toy_circuits,
)
from geomlib._src.robustness.semantics import class_means, template_cosine
from geomlib._src.robustness.subspaces import (
    AdversarialDirections,
    gaas_basis,
    gaas_directions,
    orthogonal_adversarial_directions,
)
from geomlib._src.robustness.worst import (
    Attack,
    apgd_attack,
    default_attack,
    pgd_attack,
)

__all__ = [
    "AdversarialDirections",
    "CHECK_BATCH",
    "Attack",
    "Check",
    "EVAL_EPS",
    "EVAL_MODELS",
    "accuracy_interval",
    "load_robustness_run",
    "model_attacks",
    "MINIMAL_METHODS",
    "MSDResult",
    "PGD_BASELINE_STEPS",
    "RobustAccuracy",
    "WORST_CASE_ATTACKS",
    "WORST_CASE_BATCH",
    "MinimalPerturbation",
    "RobustnessChecks",
    "StepsSweep",
    "apgd_attack",
    "bpda_logits",
    "default_attack",
    "default_bpda_temperature",
    "lca_bpda",
    "lca_implicit_logits",
    "minimal_perturbation",
    "pgd_attack",
    "robustness_checks",
    "steps_sweep",
    "surrogate_attack",
    "transfer_attack",
    "zero_gradient_fraction",
    "accuracy_under_attack",
    "ball_tolerance",
    "check_adversarials",
    "class_means",
    "correct_under_attack",
    "gaas_basis",
    "gaas_directions",
    "gradient_ascent_path",
    "msd_at_confidence",
    "one_image",
    "orthogonal_adversarial_directions",
    "path_plane_coordinates",
    "predict_classes",
    "robust_accuracy",
    "single_image_response",
    "step_contour_cosines",
    "target_log_probability",
    "template_cosine",
    # paths2d: the mechanism
    "LevelPath",
    "PlaneAttack",
    "TOY_LEVEL",
    "TOY_TEMPERATURE",
    "ToyAttack",
    "ascent_to_level",
    "path_contour_curvature",
    "plane_attacks",
    "toy_attacks",
    "toy_circuits",
]
