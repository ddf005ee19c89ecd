r"""Adversarial attacks on batched classifiers, and how big and how successful they are.

Every attack takes ``logits_fn``, a JAX-traceable map from a batch of images ``(B, D)``
to logits ``(B, K)`` in which each row depends on its own image only (e.g.
``jax.vmap`` of a one-image model), and returns adversarial images ``(B, D)``.
Losses are *sums* over the batch, so each image's gradient is its own and attacking a
batch equals attacking its images one by one. Images stay in [0, 1] (``clip=True``,
the default); ``clip=False`` is for unbounded inputs such as whitened patches.

Bind the model's parameters with ``jax.tree_util.Partial(batched_model, params)``:
the kernels are jit-compiled once per model *structure* (and norm, clip, batch shape)
and the parameters, eps, step sizes and step counts stay traced arguments (a plain
function or lambda is keyed by identity instead).

Arguments are checked on the host, once per call, before the compiled kernel runs: images
real, finite and (with ``clip``) in [0, 1]; labels integers in [0, K); eps and step sizes
real numbers in range (a bool or a string is a TypeError); step counts integers in
[0 or 1, ``MAX_STEPS`` = 10**7]; ``clip`` a bool. A value traced by an enclosing ``jit``
passes unchecked: a NaN there gives NaN images, a negative eps or step size meaningless ones.

Attack size is reported as in Paiton et al. (2020): the mean squared distance
:math:`\mathrm{MSD} = \frac1D \sum_j (x^{adv}_j - x_j)^2` per image.

Parts: ``kernels`` (set-up, loss gradient, steps, projection, the PGD loop),
``gradient`` (:func:`fgsm`, :func:`pgd`), ``apgd`` (:func:`apgd`, :func:`apgd_targeted`:
Auto-PGD, with an optional ``surrogate`` for the gradient), ``square`` (:func:`square_attack`,
gradient-free), ``sign`` (:func:`targeted_sign_attack`),
``minimal`` (:func:`deepfool`, :func:`carlini_wagner`), ``measures`` (size and success).
"""

from geomlib._src.attacks.apgd import (
    apgd,
    apgd_checkpoints,
    apgd_kernel,
    apgd_loss,
    apgd_targeted,
    margin_loss_parts,
    padded_rows,
)
from geomlib._src.attacks.gradient import fgsm, pgd
from geomlib._src.attacks.kernels import (
    BATCHED_LOGITS,
    MAX_STEPS,
    Logits,
    Norm,
    attack_loss_grad,
    check_class_labels,
    check_steps,
    classes_of,
    clip_box,
    pgd_kernel,
    unit_vectors,
)
from geomlib._src.attacks.measures import attack_success, mean_squared_distance, perturbation_norm
from geomlib._src.attacks.minimal import carlini_wagner, deepfool
from geomlib._src.attacks.sign import SignAttackResult, targeted_sign_attack
from geomlib._src.attacks.square import image_shape_of, square_attack, square_kernel, square_sides

__all__ = [
    "BATCHED_LOGITS",
    "Logits",
    "MAX_STEPS",
    "Norm",
    "SignAttackResult",
    "apgd",
    "apgd_checkpoints",
    "apgd_kernel",
    "apgd_loss",
    "apgd_targeted",
    "attack_loss_grad",
    "attack_success",
    "carlini_wagner",
    "check_class_labels",
    "check_steps",
    "classes_of",
    "clip_box",
    "deepfool",
    "fgsm",
    "image_shape_of",
    "margin_loss_parts",
    "mean_squared_distance",
    "padded_rows",
    "perturbation_norm",
    "pgd",
    "pgd_kernel",
    "square_attack",
    "square_kernel",
    "square_sides",
    "targeted_sign_attack",
    "unit_vectors",
]
