r"""Does measured curvature predict robustness? Curvature and robustness of classifiers,
measured side by side on the same digits, and their rank correlation across models.

For one classifier and a batch of correctly classified images :math:`x_n` (labels
:math:`y_n`, attack targets :math:`t_n`), :func:`measure_classifier` returns per image:

*curvature*

- ``boundary_curvature``: the top-k principal curvatures of the decision boundary at the
  image's DeepFool point (:func:`geomlib.boundary_curvatures`: exact, autodiff Hessian-vector
  products, Lanczos), on the model's smooth (softplus) twin, since a ReLU network's is 0
  almost everywhere; and the dimensionless ``r |kappa|`` with r the DeepFool distance;
- ``logit_bend`` (:func:`decision_contour_bend`): the bend :math:`c_2` of the decision contour :math:`z_j - z_i = 0`
  (i the label, j DeepFool's class) of the model itself (for a ReLU network a
  scale-dependent bend, see chapter 1) in planes through the image spanned by the DeepFool
  direction u and a direction v orthogonal to it: a *comparison* plane (v toward the
  next-nearest class, the analogue of the survey's other-neuron planes) and a *random*
  one. The contour is found and fitted by the survey code (:func:`geomlib.contour_bend`:
  :math:`a = c_0 + c_1 b + c_2 b^2`) on the window :math:`a \in [0, 3r], b \in [-r, r]`,
  in units of the image's DeepFool distance r, so :math:`c_2` is dimensionless
  (:math:`c_2 = 0` for a flat boundary; for a smooth one :math:`c_2 \approx -r \kappa_v / 2`
  with :math:`\kappa_v` the boundary's normal curvature along v in the sign convention of
  :func:`geomlib.boundary_curvatures`, positive where the image's class region is locally
  convex). Positive c2 = exo-origin: the boundary bends away from the image (:math:`\kappa_v < 0`).

and per model, ``first_layer_bend``: the survey statistic of chapter 2 (:func:`geomlib.run_survey`:
0.5 contour of the min-max normalised response on comparison and random planes through 0)
of first-layer units: LCA neurons for an LCA front-end, ReLU units (straight contours,
:math:`c_2 = 0` up to rounding) for an MLP;

*robustness*

- ``deepfool_distance``: L2 distance from the image to the decision boundary along
  DeepFool's path (:func:`geomlib.deepfool`, then bisection to the crossing);
- ``msd``: mean squared distance of the targeted sign attack at target confidence 0.9
  (:func:`geomlib.msd_at_confidence`, Paiton et al. 2020);
- ``pgd_correct``: whether the image is still classified right after L-inf PGD at each
  radius (:func:`geomlib.pgd`);

*semantic content*

- ``template_deepfool`` / ``template_msd``: :func:`geomlib.template_cosine` of the
  DeepFool (L2) and sign-attack perturbations: how much the perturbation looks like
  "mean target digit minus mean source digit".

:func:`comparison_summary` reduces them to one number per model, and :func:`rank_correlation` gives
Spearman's rank correlation across models of any two of those numbers, with a bootstrap
confidence interval (resampling the images, the same resample for every model).
"""

from __future__ import annotations

import time
from typing import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from geomlib._src.attacks import deepfool
from geomlib._src.boundary import bisect_boundary, boundary_curvatures, image_logits_of
from geomlib._src.core.batching import shard_batch
from geomlib._src.core.checks import check_callable, check_images, check_labels, num_classes
from geomlib._src.core.defaults import PGD_STEP_FACTOR
from geomlib._src.defense.bends import decision_contour_bend, first_layer_survey
from geomlib._src.defense.results import ClassifierMeasures
from geomlib._src.robustness import correct_under_attack, msd_at_confidence, template_cosine


# ----------------------------------------------------------------------------- one classifier


def _checked_inputs(f, x, y, target, means, eps):
    """The arguments of :func:`measure_classifier` checked and converted; also the number of classes."""
    x = check_images(x, True)
    n = x.shape[0]
    num = num_classes(f, x)
    y = check_labels(y, n, num, "y")
    target = check_labels(target, n, num, "target")
    if bool(jnp.any(target == y)):
        raise ValueError("target: expected a class other than the label for every image")
    pred = np.asarray(jnp.argmax(f(x), axis=1))
    if np.any(pred != np.asarray(y)):
        wrong = np.flatnonzero(pred != np.asarray(y))[:10].tolist()
        raise ValueError(f"x: expected images the classifier gets right; wrong at rows {wrong}")
    means = jnp.asarray(means, x.dtype)
    if means.shape != (num, x.shape[1]):
        raise ValueError(f"means: expected class means of shape (K, D) = ({num}, {x.shape[1]}), got {means.shape}")
    eps = np.asarray(eps, np.float64).reshape(-1)
    if not np.all(np.isfinite(eps)) or np.any(eps < 0):
        raise ValueError(f"eps: expected finite radii >= 0, got {eps.tolist()}")
    return x, y, target, means, eps, num


def measure_classifier(logits_fn, smooth_fn, x: ArrayLike, y: ArrayLike, target: ArrayLike, means: ArrayLike, *,
                       eps: Sequence[float] = (0.05, 0.1), pgd_steps: int = 10, k: int = 3,
                       lanczos_iterations: int = 30, curvature_tol: float = 1e-3,
                       msd_step: float = 0.005, msd_steps: int = 400, confidence: float = 0.9,
                       survey: tuple[int, int, int] = (8, 4, 4), key: int = 0, devices=None,
                       progress: Callable[[str], None] | None = None) -> ClassifierMeasures:
    r"""Curvature, robustness and semantic content of one classifier on the images ``x``.

    Args:
      logits_fn: the classifier, batched ``(B, D) -> (B, K)`` (e.g.
        :func:`geomlib.load_classifier`; a bound classifier for the first-layer survey).
      smooth_fn: its smooth twin (``load_classifier(name, smooth_temperature=T)``), for
        the boundary curvature; None to skip it (NaN).
      x: images ``(B, D)`` in [0, 1] that the classifier gets right; y: their labels ``(B,)``.
      target: target classes of the sign attack ``(B,)`` (each != y).
      means: class means ``(K, D)`` (:func:`geomlib.class_means`) for the template cosine.
      eps: L-inf PGD radii (may be empty); pgd_steps: PGD steps per radius (step 2.5 eps / steps, no random start).
      k, lanczos_iterations, curvature_tol: principal curvatures per image and the Lanczos
        settings of :func:`geomlib.boundary_curvatures`.
      msd_step, msd_steps, confidence: the sign attack of :func:`geomlib.msd_at_confidence`.
      survey: (neurons, comparison planes, random planes) of the first-layer survey;
        None to skip it.
      key: seed of the random plane directions (logit bend and survey).
      devices: shard the image batch over these devices (``jax.sharding``; all local
        devices by default; the batch is padded to a multiple of their number).
      progress: called with the name of each measurement as it starts.

    Returns:
      :class:`ClassifierMeasures`.
    """
    f = check_callable(logits_fn, "logits_fn", "(B, D) -> (B, K)")
    x, y, target, means, eps, num = _checked_inputs(f, x, y, target, means, eps)
    n = x.shape[0]
    xs, ys, ts = shard_batch(devices, x, y, target)
    tick = progress or (lambda name: None)
    seconds = {}

    def timed(name, fn):
        tick(name)
        start = time.perf_counter()
        out = jax.block_until_ready(fn())
        seconds[name] = time.perf_counter() - start
        return out

    # Robustness: DeepFool distance (the model itself), then the boundary crossing on its path.
    x_df = timed("deepfool", lambda: deepfool(f, xs, overshoot=0.02, clip=False))
    df_class = np.asarray(jnp.argmax(f(x_df), axis=1))
    moved = df_class != np.asarray(ys)
    safe_far = jnp.where(jnp.asarray(moved)[:, None], x_df, xs)
    other = jnp.asarray(np.where(moved, df_class, (np.asarray(ys) + 1) % num), jnp.int32)
    point = timed("boundary point", lambda: bisect_boundary(image_logits_of(f), xs, safe_far, ys.astype(jnp.int32),
                                                            other, 30))
    dist = np.where(moved, np.linalg.norm(np.asarray(point - xs), axis=1), np.nan)
    bend = timed("logit bend", lambda: decision_contour_bend(f, xs, point, ys, other, key=key))
    bend = np.where(moved[:, None], bend, np.nan)
    msd = timed("msd", lambda: msd_at_confidence(f, xs, ts, msd_step, msd_steps, confidence))
    correct = timed("pgd", lambda: np.asarray(
        correct_under_attack(f, xs, ys, eps, pgd_steps, PGD_STEP_FACTOR, "inf", None)))
    tmpl_df = np.where(moved, np.asarray(template_cosine(x_df, xs, ys, other, means)), np.nan)
    tmpl_msd = np.where(np.asarray(msd.reached), np.asarray(template_cosine(msd.x_adv, xs, ys, ts, means)), np.nan)
    if smooth_fn is not None:
        bc = timed("boundary curvature", lambda: boundary_curvatures(
            smooth_fn, xs, k, iterations=lanczos_iterations, tol=curvature_tol))
        curv, bdist = np.asarray(bc.curvatures), np.asarray(bc.distance)
    else:
        curv, bdist = np.full((len(xs), k), np.nan), np.full(len(xs), np.nan)
    if survey is not None:
        sv = timed("first-layer survey", lambda: first_layer_survey(f, *survey, key=key))
        first, kind = np.asarray(sv.c2), np.asarray(sv.kind)
    else:
        first, kind = np.zeros((0, 0)), np.zeros((0,), str)
    keep = slice(0, n)
    return ClassifierMeasures(
        label=np.asarray(ys)[keep], target=np.asarray(ts)[keep], deepfool_class=df_class[keep],
        deepfool_distance=dist[keep], boundary_distance=bdist[keep], boundary_curvature=curv[keep],
        logit_bend=bend[keep], msd=np.asarray(msd.msd)[keep], msd_reached=np.asarray(msd.reached)[keep],
        pgd_correct=correct[:, keep], template_deepfool=tmpl_df[keep], template_msd=tmpl_msd[keep],
        first_layer_bend=first, first_layer_kind=kind, eps=eps, seconds=seconds)


def compare_classifiers(models: Mapping[str, tuple], x: ArrayLike, y: ArrayLike, target: ArrayLike,
                        means: ArrayLike, *, progress: bool = True,
                        on_model: Callable[[dict], None] | None = None, **kwargs) -> dict[str, ClassifierMeasures]:
    """:func:`measure_classifier` for every model on the same images, with a tqdm progress bar.

    Args:
      models: name -> ``(logits_fn, smooth_fn)``.
      x, y, target, means, kwargs: as :func:`measure_classifier`.
      on_model: called with the results so far after each model (e.g. to save them).

    Returns:
      name -> :class:`ClassifierMeasures`, in the order of ``models``.
    """
    if not models:
        raise ValueError("models: expected at least one (logits_fn, smooth_fn) pair")
    from tqdm.auto import tqdm

    out = {}
    bar = tqdm(total=len(models), desc="models", unit="model", disable=not progress)
    for name, pair in models.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"models[{name!r}]: expected a (logits_fn, smooth_fn) pair, got {type(pair).__name__}")
        out[name] = measure_classifier(pair[0], pair[1], x, y, target, means,
                                       progress=lambda step, name=name: bar.set_postfix_str(f"{name}: {step}"),
                                       **kwargs)
        bar.update()
        if on_model is not None:
            on_model(dict(out))
    bar.close()
    return out
