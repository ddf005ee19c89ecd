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
  scale-dependent bend, see chapter 2) in planes through the image spanned by the DeepFool
  direction u and a direction v orthogonal to it: a *comparison* plane (v toward the
  next-nearest class, the analogue of the survey's other-neuron planes) and a *random*
  one. The contour is found and fitted by the survey code (:func:`geomlib.contour_bend`:
  :math:`a = c_0 + c_1 b + c_2 b^2`) on the window :math:`a \in [0, 3r], b \in [-r, r]`,
  in units of the image's DeepFool distance r, so :math:`c_2` is dimensionless
  (:math:`c_2 = 0` for a flat boundary; for a smooth one :math:`c_2 \approx -r \kappa_v / 2`
  with :math:`\kappa_v` the boundary's normal curvature along v in the sign convention of
  :func:`geomlib.boundary_curvatures`, positive where the image's class region is locally
  convex). Positive c2 = exo-origin: the boundary bends away from the image (:math:`\kappa_v < 0`).

and per model, ``first_layer_bend``: the survey statistic of chapter 4 (:func:`geomlib.run_survey`:
0.5 contour of the min-max normalised response on comparison and random planes through 0)
of first-layer units: LCA neurons for an LCA front-end, ReLU units (straight contours,
:math:`c_2 = 0` up to rounding) for an MLP;

*robustness*

- ``deepfool_distance``: L2 distance from the image to the decision boundary along
  DeepFool's path (:func:`geomlib.deepfool`, then bisection to the crossing);
- ``msd``: mean squared distance of the targeted sign attack at target confidence 0.9
  (:func:`geomlib.msd_at_confidence`, Paiton et al. 2020);
- ``pgd_correct``: whether the image is still classified right after L-inf PGD at each
  radius (:func:`geomlib.pgd`, 10 steps, one start: the earlier chapters' attack);
- ``worst_correct``: whether it is still right under the worst case of several attacks at each
  radius: PGD-10 above, then (:func:`geomlib.robust_accuracy`) APGD-CE, APGD-T and Square, and
  for a model with a differentiable twin BPDA, each on the images the earlier ones left standing
  (at a larger radius, only those standing at the smaller ones), every adversarial checked, at a
  stated budget (:data:`WORST_CASE_BUDGET` by default in the comparisons);

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
from geomlib._src.core.batching import allgather_objects, shard_batch
from geomlib._src.core.checks import (check_array, check_bool, check_callable, check_float, check_images,
                                      check_int, check_key, check_labels, num_classes)
from geomlib._src.core.defaults import PGD_STEP_FACTOR
from geomlib._src.defense.bends import decision_contour_bend, first_layer_survey
from geomlib._src.defense.results import MISCLASSIFIED, ClassifierMeasures
from geomlib._src.robustness import (correct_under_attack, msd_at_confidence, predict_classes, robust_accuracy,
                                    template_cosine)
from geomlib._src.robustness.adaptive import surrogate_attack
from geomlib._src.robustness.worst import apgd_attack

#: The attack budget of the worst case in chapter 8's comparisons, sized to a 2-core CPU: APGD-CE
#: 100 steps, APGD-T on the 3 runner-up classes (100 steps each), Square 1,000 queries; one restart.
#: The chapter checks on a subset that a larger budget (APGD-T 9 targets, Square 5,000, 2 restarts)
#: does not lower the accuracies.
WORST_CASE_BUDGET = {"steps": 100, "restarts": 1, "n_targets": 3, "queries": 1000}
#: The worst case's standard attacks (:func:`geomlib.robust_accuracy`), codes 0, 1, 2 of ``worst_broken_by``.
STANDARD_ATTACKS = ("apgd-ce", "apgd-t", "square")
#: ``worst_broken_by`` codes of PGD-10 (run first: the ensemble attacks what it left standing) and of BPDA.
BROKEN_BY_PGD, BROKEN_BY_BPDA = 3, 4


def worst_case_attacks(budget: Mapping[str, int], bpda_fn: Callable | None = None) -> list:
    """The ``attacks`` of :func:`geomlib.robust_accuracy` in the comparison's worst case: the
    standard three (:data:`STANDARD_ATTACKS`) and, given a differentiable twin ``bpda_fn``, BPDA
    after them: APGD-CE following the twin's gradient at the ``budget``'s steps and restarts."""
    attacks: list = list(STANDARD_ATTACKS)
    if bpda_fn is not None:
        steps, restarts = budget.get("steps", WORST_CASE_BUDGET["steps"]), budget.get("restarts", 1)
        attacks.append(("bpda", surrogate_attack(bpda_fn, apgd_attack("ce", steps, restarts))))
    return attacks


# ----------------------------------------------------------------------------- one classifier


_INT32_MAX = 2 ** 31 - 1


def _checked_settings(smooth_fn, pgd_steps, k, lanczos_iterations, curvature_tol, msd_step, msd_steps, confidence,
                      survey, key, progress, worst_case=None) -> dict:
    """The scalar settings of :func:`measure_classifier` checked (before any image is evaluated)."""
    if smooth_fn is not None:
        smooth_fn = check_callable(smooth_fn, "smooth_fn", "(B, D) -> (B, K) or None")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress: expected a callable taking the name of each measurement, or None, "
                        f"got {type(progress).__name__}")
    out = {"smooth_fn": smooth_fn,
           "pgd_steps": check_int(pgd_steps, "pgd_steps", 1, _INT32_MAX),
           "k": check_int(k, "k", 1),
           "lanczos_iterations": check_int(lanczos_iterations, "lanczos_iterations", 1, _INT32_MAX),
           "curvature_tol": check_float(curvature_tol, "curvature_tol", 0.0, open_low=True),
           "msd_step": check_float(msd_step, "msd_step", 0.0, open_low=True),
           "msd_steps": check_int(msd_steps, "msd_steps", 1, _INT32_MAX),
           "confidence": check_float(confidence, "confidence", 0.0, 1.0, open_low=True)}
    if out["confidence"] >= 1.0:
        raise ValueError(f"confidence: expected a finite number in (0, 1) (a softmax never reaches 1), "
                         f"got {confidence!r}")
    if survey is not None:
        if isinstance(survey, (str, bytes)) or not isinstance(survey, (tuple, list)) or len(survey) != 3:
            raise ValueError(f"survey: expected (neurons, comparison planes, random planes), three integers, or None; "
                             f"got {survey!r}")
        survey = (check_int(survey[0], "survey[0] (neurons)", 1),
                  check_int(survey[1], "survey[1] (comparison planes)", 0),
                  check_int(survey[2], "survey[2] (random planes)", 0))
        if survey[1] + survey[2] < 1:
            raise ValueError(f"survey: expected at least one plane (comparison + random >= 1), got {survey!r}")
    out["survey"] = survey
    if worst_case is not None:
        if not isinstance(worst_case, Mapping) or set(worst_case) - set(WORST_CASE_BUDGET):
            raise ValueError(f"worst_case: expected a dict with keys among {sorted(WORST_CASE_BUDGET)} "
                             f"(robust_accuracy's budget) or None, got {worst_case!r}")
        worst_case = {k: check_int(worst_case.get(k, v), f"worst_case[{k!r}]", 1, _INT32_MAX)
                      for k, v in WORST_CASE_BUDGET.items()}
    out["worst_case"] = worst_case
    if isinstance(key, (bool, np.bool_)) or not (isinstance(key, (int, np.integer)) or hasattr(key, "dtype")):
        raise TypeError(f"key: expected an integer seed in [0, 2**32) or a PRNG key, got {type(key).__name__} {key!r}")
    out["key"] = check_int(key, "key", 0, 2 ** 32 - 1) if isinstance(key, (int, np.integer)) else check_key(key)
    return out


def _checked_inputs(f, x, y, target, means, eps):
    """The arguments of :func:`measure_classifier` checked and converted; also the number of classes."""
    eps = _checked_eps(eps)
    for value, name in ((x, "x"), (y, "y"), (target, "target")):
        check_array(value, name, finite=False)  # None, a string, a bool, complex: TypeError naming it
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
        raise ValueError(f"x, y: expected images the classifier gets right (y its predictions); wrong at rows {wrong}")
    means = check_array(means, "means", finite=False).astype(x.dtype)
    if means.shape != (num, x.shape[1]):
        raise ValueError(f"means: expected class means of shape (K, D) = ({num}, {x.shape[1]}), got {means.shape}")
    # a row of NaN is a class without images (class_means gives it; its template cosine is NaN)
    nan = np.isnan(np.asarray(means))
    partial = np.flatnonzero(nan.any(axis=1) & ~nan.all(axis=1))
    if partial.size or np.isinf(np.asarray(means)).any():
        raise ValueError(f"means: expected finite class means (or a row all NaN for a class without images), got "
                         f"NaN in part of rows {partial[:10].tolist()} or infinite entries")
    return x, y, target, means, eps, num


def _checked_eps(eps) -> np.ndarray:
    """The PGD radii as float64 ``(E,)`` (kept at full precision: they are stored with the results)."""
    check_array(eps, "eps")          # a bool, a string, None, complex or NaN: TypeError / ValueError naming eps
    if np.ndim(eps) > 1:
        raise ValueError(f"eps: expected a radius or a sequence of radii, got shape {np.shape(eps)}")
    out = np.asarray(eps, np.float64).reshape(-1)
    if np.any(out < 0):
        raise ValueError(f"eps: expected finite radii >= 0, got {out.tolist()}")
    return out


def measure_classifier(logits_fn: Callable[[jax.Array], jax.Array], smooth_fn: Callable[[jax.Array], jax.Array], x: ArrayLike, y: ArrayLike, target: ArrayLike, means: ArrayLike, *,
                       eps: Sequence[float] = (0.05, 0.1), pgd_steps: int = 10, k: int = 3,
                       lanczos_iterations: int = 30, curvature_tol: float = 1e-3,
                       msd_step: float = 0.005, msd_steps: int = 400, confidence: float = 0.9,
                       survey: tuple[int, int, int] = (8, 4, 4), key: int = 0, devices: Sequence | None = None,
                       progress: Callable[[str], None] | None = None,
                       worst_case: Mapping[str, int] | None = None,
                       bpda_fn: Callable[[jax.Array], jax.Array] | None = None) -> ClassifierMeasures:
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
      worst_case: the budget of :func:`geomlib.robust_accuracy` at each radius of ``eps`` (keys
        among ``steps``, ``restarts``, ``n_targets``, ``queries``; missing ones from
        :data:`WORST_CASE_BUDGET`), or None to skip it (``worst_correct`` None). Its random
        starts come from ``key``; it runs on the unsharded batch.
      bpda_fn: None, or a differentiable twin of the classifier (an LCA model's softplus twin at
        T = lambda / 10, as :func:`geomlib.lca_bpda`): the worst case then also runs,
        after Square, APGD-CE following the twin's gradient and judged on ``logits_fn`` (BPDA,
        Athalye et al. 2018; ``worst_broken_by`` 4), at the budget's steps and restarts.

    Returns:
      :class:`ClassifierMeasures`.

    Raises:
      ValueError or TypeError naming the argument: every argument is checked before any
      measurement (counts are integers >= 1, bools are not numbers; ``survey`` is exactly
      three integers; ``k`` <= D; ``confidence`` in (0, 1); images the classifier gets
      wrong, targets equal to the label).
    """
    f = check_callable(logits_fn, "logits_fn", "(B, D) -> (B, K)")
    cfg = _checked_settings(smooth_fn, pgd_steps, k, lanczos_iterations, curvature_tol, msd_step, msd_steps,
                            confidence, survey, key, progress, worst_case)
    if bpda_fn is not None:
        bpda_fn = check_callable(bpda_fn, "bpda_fn", "(B, D) -> (B, K) or None")
        if cfg["worst_case"] is None:
            raise ValueError("bpda_fn: BPDA is an attack of the worst case; give worst_case a budget, or drop bpda_fn")
    smooth_fn, survey, key = cfg["smooth_fn"], cfg["survey"], cfg["key"]
    pgd_steps, k, lanczos_iterations, msd_steps = (cfg[a] for a in ("pgd_steps", "k", "lanczos_iterations", "msd_steps"))
    curvature_tol, msd_step, confidence = cfg["curvature_tol"], cfg["msd_step"], cfg["confidence"]
    x, y, target, means, eps, num = _checked_inputs(f, x, y, target, means, eps)
    if k > x.shape[1]:
        raise ValueError(f"k: expected an integer in [1, D = {x.shape[1]}], got {k}")
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
    worst = broken_by = None
    if cfg["worst_case"] is not None:
        base = jax.random.key(key) if isinstance(key, int) else key
        worst, broken_by = timed("worst case", lambda: worst_case_columns(f, x, y, eps, correct[:, :n], base,
                                                                          cfg["worst_case"], bpda_fn))
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
        first_layer_bend=first, first_layer_kind=kind, eps=eps, seconds=seconds, worst_correct=worst,
        worst_broken_by=broken_by)


def worst_case_columns(f, x, y, eps: np.ndarray, pgd_correct: np.ndarray, base, budget: Mapping[str, int],
                       bpda_fn=None) -> tuple[np.ndarray, np.ndarray]:
    """``(worst_correct, worst_broken_by)`` ``(E, B)`` of :func:`measure_classifier`.

    The radii in increasing order; at each, :func:`geomlib.robust_accuracy` attacks only the
    images still standing: not broken by PGD-10 at that radius, nor at any smaller radius (whose
    ball lies inside this one). Codes: 3 PGD-10 broke it at this radius; else, if it fell at a
    smaller radius, the code it got at the next smaller one; else the ensemble attack that broke it
    here (0 APGD-CE, 1 APGD-T, 2 Square, 4 BPDA); -1 it stands.
    """
    attacks = worst_case_attacks(budget, bpda_fn)
    n = pgd_correct.shape[1]
    robust = np.zeros((len(eps), n), bool)
    broken_by = np.full((len(eps), n), -1, np.int8)
    done: list[int] = []
    for i in np.argsort(eps, kind="stable"):
        smaller = [j for j in done if eps[j] < eps[i]]
        standing = pgd_correct[i].copy()
        for j in smaller:
            standing &= robust[j]
        run = robust_accuracy(f, x, y, float(eps[i]), "inf", attacks=attacks, key=jax.random.fold_in(base, int(i)),
                              standing=standing, **budget)
        code = np.asarray(run.broken_by).astype(np.int8)
        code = np.where(code == len(STANDARD_ATTACKS), BROKEN_BY_BPDA, code)      # BPDA's index in the list
        if smaller:
            last = max(smaller, key=lambda j: eps[j])                               # codes carried up from there
            code = np.where(pgd_correct[i] & ~standing, broken_by[last], code)
        code = np.where(pgd_correct[i], code, BROKEN_BY_PGD)
        robust[i] = np.asarray(run.robust, bool) & standing
        broken_by[i] = code
        done.append(int(i))
    return robust, broken_by


def on_every_image(m: ClassifierMeasures, right: ArrayLike, y: ArrayLike, target: ArrayLike,
                   predicted: ArrayLike) -> ClassifierMeasures:
    """``m``, measured on the images ``right`` of a batch of B, spread over all B: the
    images the model misclassifies get what :class:`ClassifierMeasures` states for
    ``clean_correct`` False (broken at every radius, NaN geometry).

    Args:
      m: :func:`measure_classifier` on the images ``right`` (in their order).
      right: bool ``(B,)``, the images the model classifies right (``m``'s images).
      y, target: labels and targets of all B images; predicted: the model's classes ``(B,)``.

    Returns:
      :class:`ClassifierMeasures` of B images, ``clean_correct`` = ``right``.
    """
    right = np.asarray(right, bool)
    y, target, predicted = (np.asarray(a) for a in (y, target, predicted))
    if right.ndim != 1 or int(right.sum()) != len(m.label) or not y.shape == target.shape == predicted.shape == right.shape:
        raise ValueError(f"right: expected bools (B,) with one True per measured image ({len(m.label)}), "
                         f"and y, target, predicted of the same shape; got {right.shape} with {int(right.sum())} True, "
                         f"{y.shape}, {target.shape}, {predicted.shape}")
    n = len(right)

    def spread(a, fill, last=False):   # last: the image axis is the last (radii first)
        a = np.asarray(a)
        shape = (*a.shape[:-1], n) if last else (n, *a.shape[1:])
        out = np.full(shape, fill, dtype=a.dtype)
        if last:
            out[:, right] = a
        else:
            out[right] = a
        return out

    nan = float("nan")
    worst = {} if m.worst_correct is None else {"worst_correct": spread(m.worst_correct, False, True),
                                                 "worst_broken_by": spread(m.worst_broken_by, MISCLASSIFIED, True)}
    return m._replace(
        label=y.astype(np.asarray(m.label).dtype), target=target.astype(np.asarray(m.target).dtype),
        deepfool_class=np.where(right, spread(m.deepfool_class, 0), predicted).astype(np.asarray(m.deepfool_class).dtype),
        deepfool_distance=spread(m.deepfool_distance, nan), boundary_distance=spread(m.boundary_distance, nan),
        boundary_curvature=spread(m.boundary_curvature, nan), logit_bend=spread(m.logit_bend, nan),
        msd=spread(m.msd, nan), msd_reached=spread(m.msd_reached, False), pgd_correct=spread(m.pgd_correct, False, True),
        template_deepfool=spread(m.template_deepfool, nan), template_msd=spread(m.template_msd, nan),
        clean_correct=right.copy(), **worst)


#: What :func:`compare_classifiers` does with images a model misclassifies.
MISCLASSIFIED_POLICIES = ("raise", "broken")


def compare_classifiers(models: Mapping[str, tuple], x: ArrayLike, y: ArrayLike, target: ArrayLike,
                        means: ArrayLike, *, progress: bool = True,
                        on_model: Callable[[dict], None] | None = None,
                        done: Mapping[str, ClassifierMeasures] | None = None,
                        misclassified: str = "raise", bpda: Mapping[str, Callable] | None = None,
                        **kwargs) -> dict[str, ClassifierMeasures]:
    """:func:`measure_classifier` for every model on the same images, with a tqdm progress bar
    over models (its ETA from the models measured in this call).

    Under JAX's multi-process runtime (``jax.distributed.initialize``, e.g. through
    :func:`geomlib._src.core.batching.initialize_distributed`) the models are shared out over
    the processes, P at a time, and every process returns every result: the same as one
    process (each model is measured on the same images with the same key).

    Each model is measured independently of the others (its random directions come from
    ``key`` alone; nothing carries over between models), so a model's results are the same
    whether it is measured first, last or alone; that is what makes a resumed comparison
    exact.

    Args:
      models: name -> ``(logits_fn, smooth_fn)``.
      x, y, target, means, kwargs: as :func:`measure_classifier`.
      on_model: called with the results so far (in the order of ``models``) after each
        model measured (e.g. to save them).
      done: name -> :class:`ClassifierMeasures` already measured on these images (e.g. read
        back from an interrupted run's file): those models of ``models`` are not measured
        again but returned as they are; each must have this call's labels, targets and
        radii ``eps``. Entries not in ``models`` are ignored.
      misclassified: ``"raise"`` (every model must classify every image right) or
        ``"broken"``: each model is measured on the images it classifies right and the others
        count as broken (:func:`on_every_image`; ``clean_correct`` says which), so that
        robust accuracy is over all the images, as on a test set (Croce et al. 2021).
      bpda: None, or name -> differentiable twin of that model: its worst case adds BPDA
        (``bpda_fn`` of :func:`measure_classifier`); names not in ``models`` are refused.

    Returns:
      name -> :class:`ClassifierMeasures`, in the order of ``models``.

    Raises:
      ValueError: no models, a model that is not a pair, a ``done`` entry measured on
        other images or radii; and what :func:`measure_classifier` raises.
    """
    if not isinstance(models, Mapping) or not models:
        raise ValueError(f"models: expected a non-empty dict name -> (logits_fn, smooth_fn), got "
                         f"{type(models).__name__} {models!r}"[:300])
    for name, pair in models.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"models[{name!r}]: expected a (logits_fn, smooth_fn) pair, got {type(pair).__name__}")
    progress = check_bool(progress, "progress")
    if bpda is not None and (not isinstance(bpda, Mapping) or set(bpda) - set(models)):
        raise ValueError(f"bpda: expected None or a dict model name -> twin for models in models, got "
                         f"{bpda if not isinstance(bpda, Mapping) else sorted(set(bpda) - set(models))!r}"[:300])
    bpda = dict(bpda or {})
    if not isinstance(misclassified, str) or misclassified not in MISCLASSIFIED_POLICIES:
        raise ValueError(f"misclassified: expected one of {MISCLASSIFIED_POLICIES}, got {misclassified!r}")
    if on_model is not None and not callable(on_model):
        raise TypeError(f"on_model: expected a callable or None, got {type(on_model).__name__}")
    if done is not None and not isinstance(done, Mapping):
        raise TypeError(f"done: expected a dict name -> ClassifierMeasures or None, got {type(done).__name__}")
    done = {n: m for n, m in (done or {}).items() if n in models}
    if done:
        _check_done(done, y, target, kwargs.get("eps", (0.05, 0.1)))
    from tqdm.auto import tqdm

    processes, index = jax.process_count(), jax.process_index()
    bar = tqdm(total=len(models), initial=len(done), desc="models", unit="model",
               disable=not progress or index != 0)

    def measure(name):
        pair = models[name]
        tick = (lambda step: bar.set_postfix_str(f"{name}: {step}"))
        extra = {"bpda_fn": bpda[name]} if name in bpda else {}
        if misclassified == "raise":
            return measure_classifier(pair[0], pair[1], x, y, target, means, progress=tick, **extra, **kwargs)
        f = check_callable(pair[0], f"models[{name!r}][0]", "(B, D) -> (B, K)")
        xa, ya, ta = np.asarray(x), np.asarray(y), np.asarray(target)
        predicted = predict_classes(f, xa)     # as robust_accuracy decides which images are clean
        right = predicted == ya
        if not right.any():
            raise ValueError(f"models[{name!r}]: classifies none of the {len(ya)} images right; nothing to measure")
        m = measure_classifier(pair[0], pair[1], xa[right], ya[right], ta[right], means, progress=tick, **extra,
                               **kwargs)
        return on_every_image(m, right, ya, ta, predicted)

    out = dict(done)
    todo = [name for name in models if name not in done]
    names = list(models)
    # One process: the models in turn. Several (JAX's multi-process runtime): in rounds, model
    # r * P + p of the round on process p, then every process gets the round's results
    # (allgather_objects); each model is measured as it would be alone, so the results are
    # the same. A process without a model in the last round waits.
    for start in range(0, len(todo), processes):
        round_ = todo[start:start + processes]
        mine = measure(round_[index]) if index < len(round_) else None
        out.update(zip(round_, allgather_objects(mine)))  # one process: [mine]
        for name in round_:
            bar.update()
            if on_model is not None:  # what one process has after measuring `name`, in the order of models
                on_model({n: out[n] for n in names[:names.index(name) + 1] if n in out})
    bar.close()
    return {name: out[name] for name in models}


def _check_done(done: Mapping[str, ClassifierMeasures], y, target, eps) -> None:
    """Raise unless every entry of ``done`` was measured on these labels, targets and radii."""
    y, target, eps = np.asarray(y), np.asarray(target), _checked_eps(eps)
    for name, m in done.items():
        if not isinstance(m, ClassifierMeasures):
            raise ValueError(f"done[{name!r}]: expected a ClassifierMeasures, got {type(m).__name__}")
        if not (np.array_equal(np.asarray(m.label), y) and np.array_equal(np.asarray(m.target), target)):
            raise ValueError(f"done[{name!r}]: measured on other images (labels or targets differ from this call's)")
        if not np.array_equal(np.asarray(m.eps, np.float64), eps):
            raise ValueError(f"done[{name!r}]: measured at eps {np.asarray(m.eps).tolist()}, "
                             f"this call has {eps.tolist()}")
