r"""Robustness measurements built on the attacks.

Conventions as in :mod:`geomlib._src.attacks`: ``logits_fn`` maps a batch ``(B, D)`` to
logits ``(B, K)``, each row depending on its own image only; a *response* ``response_fn``
maps a batch ``(B, D)`` to one number per image ``(B,)`` (e.g. :func:`target_log_probability`).
Images are in [0, 1] when ``clip=True``. Bind parameters with ``jax.tree_util.Partial``
so that the compiled kernels are reused (plain functions are keyed by identity).

Parts: ``evaluation`` (accuracy under attack, attack size at a target confidence),
``paths`` (responses, gradient-ascent paths and how they cross the contours, plane
coordinates), ``semantics`` (class means, template cosine), ``subspaces`` (how many
orthogonal adversarial directions exist at an image).
"""

from geomlib._src.robustness.evaluation import MSDResult, accuracy_under_attack, correct_under_attack, msd_at_confidence
from geomlib._src.robustness.paths import (
    gradient_ascent_path,
    one_image,
    path_plane_coordinates,
    single_image_response,
    step_contour_cosines,
    target_log_probability,
)
from geomlib._src.robustness.semantics import class_means, template_cosine
from geomlib._src.robustness.subspaces import (
    AdversarialDirections,
    gaas_basis,
    gaas_directions,
    orthogonal_adversarial_directions,
)

__all__ = [
    "AdversarialDirections",
    "MSDResult",
    "accuracy_under_attack",
    "class_means",
    "correct_under_attack",
    "gaas_basis",
    "gaas_directions",
    "gradient_ascent_path",
    "msd_at_confidence",
    "one_image",
    "orthogonal_adversarial_directions",
    "path_plane_coordinates",
    "single_image_response",
    "step_contour_cosines",
    "target_log_probability",
    "template_cosine",
]
