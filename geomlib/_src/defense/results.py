"""The result of measuring one classifier: :class:`ClassifierMeasures` (the fields of the comparison files)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: The per-image fields of :class:`ClassifierMeasures` (all with the image axis last).
PER_IMAGE = ("label", "target", "deepfool_class", "deepfool_distance", "boundary_distance", "boundary_curvature",
             "logit_bend", "msd", "msd_reached", "pgd_correct", "template_deepfool", "template_msd")


class ClassifierMeasures(NamedTuple):
    """Curvature, robustness and semantic content of one classifier (numpy arrays, B images).

    Attributes:
      label: true class, int ``(B,)`` (the predicted one too, except where ``clean_correct`` is False).
      target: target of the sign attack, int ``(B,)``.
      deepfool_class: class DeepFool reached, int ``(B,)`` (= label where it failed).
      deepfool_distance: L2 distance to the boundary crossing on DeepFool's path, ``(B,)``
        (NaN where DeepFool did not change the class).
      boundary_distance: the same on the smooth twin (where ``boundary_curvature`` is taken), ``(B,)``.
      boundary_curvature: top-k principal curvatures of the smooth twin's decision boundary
        at its DeepFool point, largest magnitude first, ``(B, k)`` (NaN: not converged).
      logit_bend: dimensionless bend c2 of the decision contour of the model itself in a
        comparison and a random plane, ``(B, 2)`` (:func:`decision_contour_bend`).
      msd: MSD of the targeted sign attack at the confidence, ``(B,)`` (NaN: not reached).
      msd_reached: bool ``(B,)``.
      pgd_correct: bool ``(E, B)``, still right after L-inf PGD at each radius of ``eps``.
      template_deepfool, template_msd: template cosine of the DeepFool and sign-attack
        perturbations, ``(B,)``.
      first_layer_bend: survey bends of first-layer units, ``(neurons, planes)``.
      first_layer_kind: ``"comparison"`` / ``"random"`` per plane, ``(planes,)``.
      eps: the PGD radii, ``(E,)``.
      seconds: wall time of each measurement, a dict.
      worst_correct: bool ``(E, B)``, still right under the worst case of
        :func:`geomlib.robust_accuracy` (APGD-CE, APGD-T, Square at the budget in the
        comparison's settings) and of PGD-10 (``pgd_correct``) at each radius of ``eps``; None
        if not measured.
      worst_broken_by: int ``(E, B)``, what broke each image at each radius: 3 PGD-10 (run
        first), else the first of the ensemble run on what it left standing (0 APGD-CE, 1 APGD-T,
        2 Square, 4 BPDA; an image that fell at a smaller radius is not attacked again and keeps
        the code it got there); -1 where it stands, -2 where
        the image was misclassified before any attack; None if not measured. (Files written
        before 2026-12 ran the ensemble on every image and gave 3 only where PGD-10 alone broke it.)
      clean_correct: bool ``(B,)``, whether the model classifies each image right, or None:
        every image (a comparison of the digits every model gets right). Where False, the
        image was not measured: it counts as broken at every radius (``pgd_correct`` and
        ``worst_correct`` False, as robust accuracy over a test set counts clean errors), its
        distances, curvatures, bends, MSD and template cosines are NaN, ``msd_reached`` is
        False and ``deepfool_class`` is the class the model gives it.
    """

    label: np.ndarray
    target: np.ndarray
    deepfool_class: np.ndarray
    deepfool_distance: np.ndarray
    boundary_distance: np.ndarray
    boundary_curvature: np.ndarray
    logit_bend: np.ndarray
    msd: np.ndarray
    msd_reached: np.ndarray
    pgd_correct: np.ndarray
    template_deepfool: np.ndarray
    template_msd: np.ndarray
    first_layer_bend: np.ndarray
    first_layer_kind: np.ndarray
    eps: np.ndarray
    seconds: dict
    worst_correct: np.ndarray | None = None
    worst_broken_by: np.ndarray | None = None
    clean_correct: np.ndarray | None = None

    @property
    def largest_curvature(self) -> np.ndarray:
        """Largest principal curvature magnitude per image, ``(B,)`` (NaN where none converged)."""
        return largest_magnitude(self.boundary_curvature)


def largest_magnitude(kappa) -> np.ndarray:
    """Largest |value| along the last axis (NaN ignored; NaN where all are NaN or the axis is empty)."""
    kappa = np.asarray(kappa)
    if kappa.shape[-1] == 0:
        return np.full(kappa.shape[:-1], np.nan)
    idx = np.argmax(np.where(np.isnan(kappa), -np.inf, np.abs(kappa)), axis=-1)
    return np.abs(np.take_along_axis(kappa, idx[..., None], axis=-1)[..., 0])


#: The fields of :class:`ClassifierMeasures`, in the order of the comparison files.
FIELDS: tuple[str, ...] = ClassifierMeasures._fields
#: The fields a comparison may lack (files written before the worst case was measured, runs without
#: it, and comparisons of the digits every model gets right, which have no ``clean_correct``).
OPTIONAL: tuple[str, ...] = ("worst_correct", "worst_broken_by", "clean_correct")
#: Code of :attr:`ClassifierMeasures.worst_broken_by` for an image misclassified before any attack.
MISCLASSIFIED = -2
