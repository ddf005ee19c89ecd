r"""Decision boundaries of a classifier: decision functions, their curvature at the
DeepFool point, and straight-line walks between images (chapter 5).

A classifier with logits :math:`f_1, \dots, f_K` assigns x to :math:`\arg\max_k f_k(x)`.
The boundary between classes i and j is the zero level set of the *decision function*

.. math:: g_{ij}(x) = f_i(x) - f_j(x),

so it is an iso-response hypersurface like those of chapters 2 and 3, and its principal
curvatures (:func:`geomlib.principal_curvatures`) follow the same sign convention:
positive where the hypersurface bends around the side where g grows (the region of
class i is locally convex there), negative where it bends the other way.

:func:`boundary_curvatures` follows Moosavi-Dezfooli et al.: find the closest boundary
point with DeepFool, locate the boundary exactly on the segment from the image to it,
and compute the top-k principal curvatures there (matrix-free, Lanczos).
:func:`straight_line_walk` checks whether the segment between two images stays in
one class region.

The functions take ``image_logits``, a classifier of ONE image ``(D,) -> (K,)``, except
:func:`boundary_curvatures`, which runs DeepFool and takes a batched ``logits_fn``
``(B, D) -> (B, K)`` like the attacks (:func:`geomlib.load_classifier` gives both in one).

Parts: ``decision`` (decision functions, top two classes), ``directions`` (steepest
descent of a decision function), ``curvature`` (boundary point, boundary curvatures),
``walks`` (straight-line walks, pairs of images), ``plane`` (all logits on a plane).

>>> import jax.numpy as jnp
>>> logits = lambda x: jnp.stack([x[..., 0], x[..., 1], jnp.zeros_like(x[..., 0])], axis=-1)
>>> g = decision_function(logits, 0, 1)
>>> float(g(jnp.array([3.0, 1.0])))
2.0
>>> straight_line_walk(logits, jnp.array([2.0, 1.0]), jnp.array([1.0, -1.0]), n=9).inside.tolist()
True
"""

from geomlib._src.boundary.curvature import BoundaryCurvature, bisect_boundary, boundary_curvatures, boundary_point
from geomlib._src.boundary.decision import IMAGE_LOGITS, decision_function, image_logits_of, top_two, top_two_classes
from geomlib._src.boundary.directions import adversarial_direction
from geomlib._src.boundary.plane import plane_logits
from geomlib._src.boundary.walks import (
    StraightLineWalk,
    Walk,
    nearest_other_class,
    same_class_pairs,
    straight_line_walk,
)

__all__ = [
    "BoundaryCurvature",
    "IMAGE_LOGITS",
    "StraightLineWalk",
    "Walk",
    "adversarial_direction",
    "bisect_boundary",
    "boundary_curvatures",
    "boundary_point",
    "decision_function",
    "image_logits_of",
    "nearest_other_class",
    "plane_logits",
    "same_class_pairs",
    "straight_line_walk",
    "top_two",
    "top_two_classes",
]
