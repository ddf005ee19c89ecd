r"""Does measured curvature predict robustness? Curvature and robustness of classifiers,
measured side by side on the same digits, and their rank correlation across models.

For one classifier and a batch of correctly classified images :math:`x_n` (labels
:math:`y_n`, attack targets :math:`t_n`), :func:`measure_classifier` returns per image:

*curvature*

- ``boundary_curvature``: the top-k principal curvatures of the decision boundary at the
  image's DeepFool point (:func:`geomlib.boundary_curvatures`: exact, autodiff Hessian-vector
  products, Lanczos), on the model's smooth (softplus) twin, since a ReLU network's is 0
  almost everywhere; and the dimensionless ``r |kappa|`` with r the DeepFool distance;
- ``logit_bend``: the bend :math:`c_2` of the decision contour :math:`z_j - z_i = 0`
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

import json
import time
from pathlib import Path
from typing import Callable, Mapping, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial

from geomlib._src.attacks import _as_partial, _check_images, _check_labels, _num_classes, deepfool
from geomlib._src.boundary import _bisect, boundary_curvatures
from geomlib._src.checks import check_int
from geomlib._src.planes import Plane
from geomlib._src.robustness import _correct_under_attack, msd_at_confidence, template_cosine
from geomlib._src.survey import _as_bend, _bend_static, _run_chunks, run_survey

#: Window of the logit bend, in units of each image's DeepFool distance r: a in [0, 3r], b in [-r, r].
LOGIT_WINDOW = ((0.0, 3.0), (-1.0, 1.0))

#: The per-image fields of :class:`ClassifierMeasures` (all with the image axis last).
PER_IMAGE = ("label", "target", "deepfool_class", "deepfool_distance", "boundary_distance", "boundary_curvature",
             "logit_bend", "msd", "msd_reached", "pgd_correct", "template_deepfool", "template_msd")


class ClassifierMeasures(NamedTuple):
    """Curvature, robustness and semantic content of one classifier (numpy arrays, B images).

    Attributes:
      label: predicted (= true) class, int ``(B,)``.
      target: target of the sign attack, int ``(B,)``.
      deepfool_class: class DeepFool reached, int ``(B,)`` (= label where it failed).
      deepfool_distance: L2 distance to the boundary crossing on DeepFool's path, ``(B,)``
        (NaN where DeepFool did not change the class).
      boundary_distance: the same on the smooth twin (where ``boundary_curvature`` is taken), ``(B,)``.
      boundary_curvature: top-k principal curvatures of the smooth twin's decision boundary
        at its DeepFool point, largest magnitude first, ``(B, k)`` (NaN: not converged).
      logit_bend: dimensionless bend c2 of the decision contour of the model itself in a
        comparison and a random plane, ``(B, 2)`` (:func:`logit_bend`).
      msd: MSD of the targeted sign attack at the confidence, ``(B,)`` (NaN: not reached).
      msd_reached: bool ``(B,)``.
      pgd_correct: bool ``(E, B)``, still right after L-inf PGD at each radius of ``eps``.
      template_deepfool, template_msd: template cosine of the DeepFool and sign-attack
        perturbations, ``(B,)``.
      first_layer_bend: survey bends of first-layer units, ``(neurons, planes)``.
      first_layer_kind: ``"comparison"`` / ``"random"`` per plane, ``(planes,)``.
      eps: the PGD radii, ``(E,)``.
      seconds: wall time of each measurement, a dict.
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

    @property
    def largest_curvature(self) -> np.ndarray:
        """Largest principal curvature magnitude per image, ``(B,)`` (NaN where none converged)."""
        return _largest(self.boundary_curvature)


# ----------------------------------------------------------------------------- pieces


def _margin(logits_fn, i, j, origin, r, x):
    """z_j - z_i at origin + r (x - origin): the decision function of the pair, the plane's
    coordinates scaled by r (so plane units are multiples of the image's DeepFool distance)."""
    z = logits_fn(origin + r * (x - origin))
    return z[j] - z[i]


@jax.jit
def _comparison_direction(f, x, i, j):
    """Unit gradient of z_k - z_i at x for the class k (not i, not j) nearest by DeepFool's
    linearised distance |z_k - z_i| / |grad(z_k - z_i)|: the next boundary after j's."""
    def one(x, i, j):
        z, jac = f(x), jax.jacrev(f)(x)                       # (K,), (K, D)
        dz, dg = z - z[i], jac - jac[i]
        norm = jnp.linalg.norm(dg, axis=1)
        ratio = jnp.abs(dz) / jnp.where(norm > 0, norm, 1.0)
        k = jnp.arange(z.shape[0])
        ratio = jnp.where((k == i) | (k == j) | (norm == 0), jnp.inf, ratio)
        g = dg[jnp.argmin(ratio)]
        return g / jnp.maximum(jnp.linalg.norm(g), jnp.finfo(g.dtype).tiny)

    return jax.vmap(one)(x, i, j)


def logit_bend(logits_fn, x, boundary, label, other, *, key=0, n_b: int = 8, iterations: int = 4,
               chunk: int = 64) -> np.ndarray:
    r"""Dimensionless bend :math:`c_2` of the decision contour through each image's boundary point.

    In planes through x spanned by :math:`u = (p - x)/|p - x|` (p the boundary point,
    r = |p - x|) and a unit v orthogonal to u, the contour :math:`z_j - z_i = 0` is
    located by :func:`geomlib.contour_bend` (level 0, not normalised, crossings with a > 0)
    on :data:`LOGIT_WINDOW` in units of r, and fitted by :math:`a = c_0 + c_1 b + c_2 b^2`.
    Two planes per image, as the survey's two kinds: a *comparison* plane, v the gradient
    of :math:`z_k - z_i` for the next-nearest class k (by DeepFool's linearised distance;
    the analogue of another neuron's weight vector), and a *random* plane, v a Gaussian
    direction. A flat boundary gives 0; positive = bends away from x. For a smooth boundary
    :math:`c_2 \approx -r \kappa_v / 2`, :math:`\kappa_v` the normal curvature along v in the
    convention of :func:`geomlib.boundary_curvatures` (positive where the region of class i
    is locally convex, i.e. the boundary bends toward x).

    Args:
      logits_fn: classifier ``(D,) -> (K,)`` (jax-traceable), K >= 2 (with K = 2 there is
        no third class and the comparison column is NaN).
      x: images ``(B, D)``; boundary: their boundary points ``(B, D)``.
      label, other: the classes i (at x) and j (beyond the boundary), int ``(B,)``.
      key: seed of the random directions (image n uses ``fold_in(key, n)``).
      n_b, iterations: rows and Illinois steps of :func:`geomlib.contour_bend`.
      chunk: planes per compiled call.

    Returns:
      c2 ``(B, 2)``: comparison plane, random plane; NaN where the boundary point
      coincides with x or fewer than 3 rows cross (and in the comparison column for K = 2).
    """
    f = _as_partial(logits_fn)
    x, boundary = jnp.asarray(x), jnp.asarray(boundary, jnp.asarray(x).dtype)
    if x.ndim != 2 or boundary.shape != x.shape:
        raise ValueError(f"x, boundary: expected two arrays of one shape (B, D), got {x.shape} and {boundary.shape}")
    num = jax.eval_shape(f, x[0]).shape[-1]
    if num < 2:
        raise ValueError(f"logits_fn: expected at least 2 classes, got {num}")
    i, j = jnp.asarray(label, jnp.int32), jnp.asarray(other, jnp.int32)
    d = boundary - x
    r = jnp.linalg.norm(d, axis=1)
    u = d / jnp.where(r > 0, r, 1.0)[:, None]
    base = jax.random.PRNGKey(int(key)) if isinstance(key, (int, np.integer)) else key
    random = jax.vmap(lambda n: jax.random.normal(jax.random.fold_in(base, n), (x.shape[1],), x.dtype))(
        jnp.arange(x.shape[0]))
    # K = 2: no next-nearest class; the random plane stands in and its column is NaN below.
    w = jnp.stack([_comparison_direction(f, x, i, j) if num >= 3 else random, random], axis=1)  # (B, 2, D)
    w = w - jnp.sum(w * u[:, None], axis=2, keepdims=True) * u[:, None]
    v = w / jnp.maximum(jnp.linalg.norm(w, axis=2, keepdims=True), jnp.finfo(x.dtype).tiny)
    two = lambda a: jnp.repeat(a, 2, axis=0)                                 # noqa: E731  (B, ...) -> (2B, ...)
    planes = Plane(two(x), two(u), v.reshape(-1, x.shape[1]))
    i2, j2, x2 = two(i), two(j), two(x)
    r2 = two(jnp.where(r > 0, r, 1.0).astype(x.dtype))
    fp = Partial(_margin, f, i2, j2, x2, r2)
    static = _bend_static(0.0, LOGIT_WINDOW, n_b, iterations, False, True, "arclength")
    out = _run_chunks(fp, {id(i2), id(j2), id(x2), id(r2)}, planes, jnp.asarray(0.0, x.dtype), chunk_size=chunk,
                      **static)
    c2 = np.array(_as_bend(out, (x.shape[0], 2), static).c2)
    if num < 3:
        c2[:, 0] = np.nan
    return np.where(np.asarray(r)[:, None] > 0, c2, np.nan)


def first_layer_survey(logits_fn, neurons: int = 8, n_comparison: int = 4, n_random: int = 4, key: int = 0,
                       progress: bool = False):
    """Survey bends (:func:`geomlib.run_survey`) of a loaded classifier's first-layer units.

    For an LCA front-end (``params["lca"]``) the LCA neurons with the classifier's own lam,
    eta and steps (hard threshold); otherwise the first layer's ReLU units
    :math:`\\mathrm{relu}(w_k \\cdot x)` (bias dropped: it moves a straight contour, never bends it).

    Args:
      logits_fn: a classifier from :func:`geomlib.load_classifier` / :func:`geomlib.bind_classifier`.
      neurons, n_comparison, n_random, key: of :func:`geomlib.run_survey`.

    Returns:
      :class:`geomlib.SurveyResult`.
    """
    params, steps = _classifier_parts(logits_fn)
    if "lca" in params:
        lca = params["lca"]
        return run_survey({"phi": lca["phi"]}, "lca", neurons, n_comparison, n_random, key, lam=float(lca["lam"]),
                          steps=steps, eta=float(lca["eta"]), progress=progress)
    w = params["layers"][0]["w"]
    return run_survey({"phi": jnp.asarray(w).T}, "relu", neurons, n_comparison, n_random, key, lam=0.0,
                      progress=progress)


def _classifier_parts(logits_fn) -> tuple[dict, int]:
    func = getattr(logits_fn, "func", None)
    args = getattr(logits_fn, "args", ())
    if not isinstance(logits_fn, Partial) or not args or not isinstance(args[0], dict) or "layers" not in args[0]:
        raise ValueError("logits_fn: expected a classifier from geomlib.load_classifier or geomlib.bind_classifier "
                         f"(its parameters are needed for the first-layer survey), got {type(logits_fn).__name__}")
    return args[0], int(getattr(func, "lca_steps", 75))


# ----------------------------------------------------------------------------- one classifier


def measure_classifier(logits_fn, smooth_fn, x, y, target, means, *, eps: Sequence[float] = (0.05, 0.1),
                       pgd_steps: int = 10, k: int = 3, lanczos_iterations: int = 30, curvature_tol: float = 1e-3,
                       msd_step: float = 0.005, msd_steps: int = 400, confidence: float = 0.9,
                       survey: tuple[int, int, int] = (8, 4, 4), key: int = 0, devices=None,
                       progress: Callable[[str], None] | None = None) -> ClassifierMeasures:
    r"""Curvature, robustness and semantic content of one classifier on the images ``x``.

    Args:
      logits_fn: the classifier, ``(B, D) -> (B, K)`` and ``(D,) -> (K,)`` (e.g.
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
    f = _as_partial(logits_fn)
    x = _check_images(x, True)
    n = x.shape[0]
    num = _num_classes(f, x)
    y = _check_labels(y, n, num, "y")
    target = _check_labels(target, n, num, "target")
    if bool(jnp.any(target == y)):
        raise ValueError("target: expected a class other than the label for every image")
    pred = np.asarray(jnp.argmax(f(x), axis=1))
    if np.any(pred != np.asarray(y)):
        raise ValueError(f"x: expected images the classifier gets right; wrong at rows {np.flatnonzero(pred != np.asarray(y))[:10].tolist()}")
    means = jnp.asarray(means, x.dtype)
    if means.shape != (num, x.shape[1]):
        raise ValueError(f"means: expected class means of shape (K, D) = ({num}, {x.shape[1]}), got {means.shape}")
    eps = np.asarray(eps, np.float64).reshape(-1)
    if not np.all(np.isfinite(eps)) or np.any(eps < 0):
        raise ValueError(f"eps: expected finite radii >= 0, got {eps.tolist()}")
    xs, ys, ts = _shard(devices, x, y, target)
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
    point = timed("boundary point", lambda: _bisect(f, xs, safe_far, ys.astype(jnp.int32), other, 30))
    dist = np.where(moved, np.linalg.norm(np.asarray(point - xs), axis=1), np.nan)
    bend = timed("logit bend", lambda: logit_bend(f, xs, point, ys, other, key=key))
    bend = np.where(moved[:, None], bend, np.nan)
    msd = timed("msd", lambda: msd_at_confidence(f, xs, ts, msd_step, msd_steps, confidence))
    correct = timed("pgd", lambda: np.asarray(_correct_under_attack(f, xs, ys, eps, pgd_steps, 2.5, "inf", None)))
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


def _shard(devices, *arrays):
    """Put the batch axis of ``arrays`` on a 1-D mesh of ``devices`` (padded to a multiple of their number)."""
    devices = jax.local_devices() if devices is None else list(devices)
    if not devices:
        raise ValueError("devices: expected at least one device")
    n = arrays[0].shape[0]
    pad = -n % len(devices)
    if pad:
        arrays = tuple(jnp.concatenate([a, jnp.repeat(a[-1:], pad, axis=0)]) for a in arrays)
    if len(devices) > 1:
        mesh = jax.sharding.Mesh(np.array(devices), ("batch",))
        arrays = tuple(jax.device_put(a, jax.sharding.NamedSharding(
            mesh, jax.sharding.PartitionSpec("batch", *([None] * (a.ndim - 1))))) for a in arrays)
    return arrays


# ----------------------------------------------------------------------------- many classifiers


def compare_classifiers(models: Mapping[str, tuple], x, y, target, means, *, progress: bool = True,
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


#: Model-level statistics of :func:`comparison_summary`: name -> (field, reduction, description).
STATISTICS: dict[str, tuple[str, str, str]] = {
    "deepfool_distance": ("deepfool_distance", "median", "median DeepFool distance (L2)"),
    "msd": ("msd", "mean", "mean MSD of the sign attack at confidence 0.9"),
    "boundary_curvature": ("boundary_curvature", "median_abs_max", "median largest |kappa| at the DeepFool point"),
    "r_kappa": ("boundary_curvature", "median_r_kappa", "median r |kappa| (dimensionless)"),
    "logit_bend": ("logit_bend", "median_comparison", "median bend c2 of the decision contour, comparison planes"),
    "logit_bend_random": ("logit_bend", "median_random", "median bend c2 of the decision contour, random planes"),
    "first_layer_bend": ("first_layer_bend", "median", "median survey bend c2 of first-layer units"),
    "template_deepfool": ("template_deepfool", "median", "median template cosine, DeepFool perturbation"),
    "template_msd": ("template_msd", "median", "median template cosine, sign-attack perturbation"),
}


def _largest(kappa):
    kappa = np.asarray(kappa)
    if kappa.shape[-1] == 0:
        return np.full(kappa.shape[:-1], np.nan)
    idx = np.argmax(np.where(np.isnan(kappa), -np.inf, np.abs(kappa)), axis=-1)
    return np.abs(np.take_along_axis(kappa, idx[..., None], axis=-1)[..., 0])


def _statistic(m: ClassifierMeasures, name: str, rows=None) -> float:
    """One model-level number from the images ``rows`` (all by default; a bootstrap resample)."""
    if name.startswith("pgd@"):
        e = float(name[4:])
        hit = np.flatnonzero(np.isclose(m.eps, e))
        if not hit.size:
            raise ValueError(f"statistic {name!r}: eps {e:g} was not measured (eps {m.eps.tolist()})")
        c = m.pgd_correct[hit[0]]
        return float(np.mean(c if rows is None else c[rows]))
    if name not in STATISTICS:
        raise ValueError(f"statistic: expected one of {sorted(STATISTICS)} or 'pgd@EPS', got {name!r}")
    field, how, _ = STATISTICS[name]
    if field == "first_layer_bend":
        v = np.asarray(m.first_layer_bend, float)
        return float(np.nanmedian(v)) if v.size else float("nan")
    pick = (lambda a: a) if rows is None else (lambda a: a[rows])
    if how == "median_abs_max":
        v = _largest(pick(m.boundary_curvature))
    elif how == "median_r_kappa":
        v = _largest(pick(m.boundary_curvature)) * pick(m.boundary_distance)
    elif how in ("median_comparison", "median_random"):
        v = pick(np.asarray(m.logit_bend, float)[:, 0 if how == "median_comparison" else 1])
    else:
        v = pick(np.asarray(getattr(m, field), float))
    if np.all(np.isnan(v)):
        return float("nan")
    return float(np.nanmean(v) if how == "mean" else np.nanmedian(v))


def comparison_summary(results: Mapping[str, ClassifierMeasures], statistics: Sequence[str] | None = None
              ) -> dict[str, dict[str, float]]:
    """One number per model and statistic (:data:`STATISTICS`, plus ``"pgd@EPS"`` accuracies).

    Returns:
      statistic -> {model: value}.
    """
    first = next(iter(results.values()))
    names = list(statistics) if statistics is not None else [*STATISTICS, *(f"pgd@{e:g}" for e in first.eps)]
    return {s: {m: _statistic(r, s) for m, r in results.items()} for s in names}


class RankCorrelation(NamedTuple):
    """Spearman rank correlation across models with a bootstrap confidence interval.

    Attributes:
      rho: on all images.
      low, high: the central ``level`` percentile interval of the bootstrap.
      level: e.g. 0.95.
      samples: the bootstrap values ``(n_boot,)`` (NaN where undefined, e.g. all ties).
      n_models: models with both statistics defined.
    """

    rho: float
    low: float
    high: float
    level: float
    samples: np.ndarray
    n_models: int


def _spearman(a, b) -> float:
    from scipy.stats import rankdata

    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float("nan")
    ra, rb = rankdata(a[ok]), rankdata(b[ok])
    if np.ptp(ra) == 0 or np.ptp(rb) == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def _tie_zero(v):
    """Bends below 1e-6 in magnitude are the rounding noise of straight contours: tie them at 0."""
    v = np.asarray(v, float)
    return np.where(np.abs(v) < 1e-6, 0.0, v)


def rank_correlation(results: Mapping[str, ClassifierMeasures], x_stat: str, y_stat: str, *, n_boot: int = 2000,
                     level: float = 0.95, seed: int = 0, models: Sequence[str] | None = None) -> RankCorrelation:
    """Spearman's rho across models between two statistics of :func:`comparison_summary`.

    The confidence interval resamples the images with replacement (the same resample for
    every model, so the comparison stays paired) ``n_boot`` times and recomputes both
    statistics of every model and rho; model-level statistics (``first_layer_bend``) stay
    fixed. Values below 1e-6 in magnitude tie at 0 (straight contours).

    Args:
      results: name -> :class:`ClassifierMeasures` (same images for all).
      x_stat, y_stat: statistic names (:data:`STATISTICS` or ``"pgd@EPS"``).
      n_boot: bootstrap resamples (>= 1); level: in (0, 1); seed: of the resampling.
      models: a subset of the models (all by default).

    Returns:
      :class:`RankCorrelation`.
    """
    names = list(results) if models is None else list(models)
    missing = [m for m in names if m not in results]
    if missing:
        raise ValueError(f"models: not in results: {missing}")
    if len(names) < 3:
        raise ValueError(f"models: a rank correlation needs at least 3 models, got {len(names)}")
    n_boot = check_int(n_boot, "n_boot")
    if not 0 < level < 1:
        raise ValueError(f"level: expected a fraction in (0, 1), got {level!r}")
    sizes = {len(results[m].label) for m in names}
    if len(sizes) != 1:
        raise ValueError(f"results: expected the same images for every model, got batch sizes {sorted(sizes)}")
    n = sizes.pop()

    def both(rows):
        a = np.array([_statistic(results[m], x_stat, rows) for m in names])
        b = np.array([_statistic(results[m], y_stat, rows) for m in names])
        return _tie_zero(a), _tie_zero(b)

    a, b = both(None)
    rho = _spearman(a, b)
    rng = np.random.default_rng(seed)
    samples = np.array([_spearman(*both(rng.integers(0, n, n))) for _ in range(int(n_boot))])
    tail = 100 * (1 - level) / 2
    ok = samples[np.isfinite(samples)]
    low, high = (np.percentile(ok, [tail, 100 - tail]) if ok.size else (np.nan, np.nan))
    return RankCorrelation(rho, float(low), float(high), float(level), samples,
                           int(np.sum(np.isfinite(a) & np.isfinite(b))))


# ----------------------------------------------------------------------------- files


def save_comparison(path, results: Mapping[str, ClassifierMeasures], metadata: dict | None = None) -> Path:
    """Write the measurements of every model (and JSON ``metadata``) to one ``.npz``."""
    path = Path(path)
    arrays = {}
    for name, m in results.items():
        if "/" in name:
            raise ValueError(f"results: model names may not contain '/', got {name!r}")
        for field in ClassifierMeasures._fields:
            value = getattr(m, field)
            arrays[f"{name}/{field}"] = np.asarray(json.dumps(value) if field == "seconds" else value)
    # The model names apart from the metadata, so a metadata key "models" cannot replace them.
    arrays["__models__"] = np.asarray(json.dumps(list(results)))
    arrays["__meta__"] = np.asarray(json.dumps(dict(metadata or {})))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return path


def load_comparison(path) -> tuple[dict[str, ClassifierMeasures], dict]:
    """Read a file of :func:`save_comparison`: ``(results, metadata)``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such comparison file (write one with `python -m geomlib.defense`)")
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["__meta__"]))
        # files written before "__models__" kept the names in the metadata
        names = json.loads(str(data["__models__"])) if "__models__" in data.files else meta.pop("models")
        out = {}
        for name in names:
            kw = {}
            for field in ClassifierMeasures._fields:
                v = data[f"{name}/{field}"]
                kw[field] = json.loads(str(v)) if field == "seconds" else v
            out[name] = ClassifierMeasures(**kw)
    return out, meta


# ----------------------------------------------------------------------------- the standard comparisons

#: The MNIST model family of chapter 5 (all shipped: :data:`geomlib.SHIPPED_CLASSIFIERS`), by what varies:
#: no front-end (linear; MLPs plain, with a curvature penalty, adversarially trained) and LCA
#: front-ends varying sparsity (lam), overcompleteness (1568 neurons) and LCA steps.
DEFENSE_MODELS = ("linear", "mlp-2", "mlp-2-cure", "mlp-2-pgd", "mlp-3", "lca-mlp-2", "lca-mlp-2-lam0.1",
                  "lca-mlp-2-lam0.5", "lca-mlp-2-t25", "lca-mlp-2-t150", "lca1568-mlp-2", "lca-mlp-3")


def _pick_images(nets, x, y, n_images, seed, num_classes=10):
    right = np.all([np.asarray(jnp.argmax(_predict(f, x), axis=1)) == y for f, _ in nets.values()], axis=0)
    idx = np.flatnonzero(right)[:n_images]
    if len(idx) < n_images:
        raise ValueError(f"n_images: only {len(idx)} held-out images are right for every model, asked {n_images}")
    rng = np.random.default_rng(seed)
    target = (y[idx] + rng.integers(1, num_classes, len(idx))) % num_classes
    return idx, target, int(right.sum())


def _predict(f, x, batch: int = 500):
    return np.concatenate([np.asarray(f(jnp.asarray(x[s:s + batch]))) for s in range(0, len(x), batch)])


def mnist_comparison(models: Sequence[str] = DEFENSE_MODELS, n_images: int = 24, *, seed: int = 0,
                     temperature: float = 0.05, directory=None, progress: bool = True,
                     on_model: Callable[[dict, dict], None] | None = None, **kwargs
                     ) -> tuple[dict[str, ClassifierMeasures], dict]:
    """Measure the shipped MNIST classifiers ``models`` on the same held-out digits.

    The digits are the first ``n_images`` of the 1,000 held-out digits of
    :func:`geomlib.load_mnist_subset` (``seed`` 0 split) that every model classifies right;
    the sign attack's target for each is a seeded random other class; the template
    cosine uses the training digits' class means; the boundary curvature uses each
    model's softplus twin at ``temperature``.

    Args:
      models: shipped classifier names (or files in ``directory``).
      n_images: digits measured.
      seed: of the targets (and of the random planes, unless ``key`` is given).
      on_model: called with ``(results so far, metadata)`` after each model.
      kwargs: passed to :func:`measure_classifier` (eps, survey, msd_steps, devices, ...).

    Returns:
      ``(results, metadata)``: name -> :class:`ClassifierMeasures`, and a dict with the
      digit indices, targets, sizes and settings (what :func:`save_comparison` stores).
    """
    from geomlib._src.classifiers import load_classifier
    from geomlib._src.data import load_mnist_subset
    from geomlib._src.robustness import class_means

    n_images = check_int(n_images, "n_images")
    data = load_mnist_subset(seed=0)
    nets = {m: (load_classifier(m, directory=directory),
                load_classifier(m, smooth_temperature=temperature, directory=directory)) for m in models}
    idx, target, n_right = _pick_images(nets, data.x_test, data.y_test, int(n_images), seed)
    kwargs.setdefault("key", seed)
    meta = {"data": "mnist", "images": idx.tolist(), "targets": target.tolist(), "n_right_all": n_right,
            "n_test": int(len(data.y_test)), "temperature": temperature, "seed": seed,
            "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items() if k != "devices"},
            "devices": [str(d) for d in (kwargs.get("devices") or jax.local_devices())]}
    results = compare_classifiers(nets, data.x_test[idx], data.y_test[idx], target,
                                  class_means(data.x_train, data.y_train), progress=progress,
                                  on_model=None if on_model is None else (lambda r: on_model(r, meta)), **kwargs)
    return results, meta


#: Settings of the grayscale CIFAR-10 models of :func:`cifar10_models` (a scaled-down version of
#: Paiton et al. 2020: one LCA front-end, 1x overcomplete, and the same MLP without it).
CIFAR10_SETTINGS = {"n_train": 10_000, "neurons": 1024, "lam": 0.5, "steps": 75, "eta": 1 / 30, "batches": 600,
                    "batch_size": 256, "dict_lr": 5e-3, "hidden": [768], "epochs": 10, "seed": 0}


def cifar10_models(folder=None, *, progress: bool = True, **settings) -> tuple[dict, "object"]:
    """Train the grayscale CIFAR-10 comparison: an MLP with and without an LCA front-end.

    Reads the CIFAR-10 python batches (:func:`geomlib.load_cifar10`: ``folder`` or
    ``$GEOMLIB_CIFAR10``; grayscale as in the paper), trains an LCA dictionary on the first
    ``n_train`` training images (:func:`geomlib.train_lca`), then two classifiers with the
    same hidden layers (:func:`geomlib.train_classifier`): on the pixels (``"mlp-2"``) and
    on the LCA codes (``"lca-mlp-2"``). Settings default to :data:`CIFAR10_SETTINGS`.

    Returns:
      ``(models, split)``: name -> ``(logits_fn, smooth_fn)`` as :func:`compare_classifiers`
      takes, and the data split (for the held-out images).

    Raises:
      ValueError: no CIFAR-10 batches at ``folder`` / ``$GEOMLIB_CIFAR10`` (the message says
      what is missing), or an unknown setting.
    """
    from geomlib._src.classifiers import bind_classifier, train_classifier
    from geomlib._src.data import load_cifar10
    from geomlib._src.lca import train_lca

    unknown = sorted(set(settings) - set(CIFAR10_SETTINGS))
    if unknown:
        raise ValueError(f"settings: unknown {unknown}; expected some of {sorted(CIFAR10_SETTINGS)}")
    cfg = {**CIFAR10_SETTINGS, **settings}
    split = load_cifar10(folder)
    n = min(int(cfg["n_train"]), len(split.x_train))
    x, y = split.x_train[:n], split.y_train[:n]
    lca = {k: cfg[k] for k in ("lam", "steps", "eta")}
    dictionary, _ = train_lca(x, int(cfg["neurons"]), **lca, batches=int(cfg["batches"]),
                              batch_size=min(int(cfg["batch_size"]), n), lr=cfg["dict_lr"], seed=cfg["seed"],
                              progress=progress)
    common = {"hidden": cfg["hidden"], "epochs": int(cfg["epochs"]), "batch_size": min(128, n), "seed": cfg["seed"],
              "progress": progress}
    plain, _ = train_classifier(x, y, **common)
    coded, _ = train_classifier(x, y, lca={"phi": dictionary["phi"], **lca}, **common)
    steps = int(cfg["steps"])
    models = {"mlp-2": (bind_classifier(plain), bind_classifier(plain, smooth_temperature=0.05)),
              "lca-mlp-2": (bind_classifier(coded, lca_steps=steps),
                            bind_classifier(coded, lca_steps=steps, smooth_temperature=0.05))}
    return models, split


def cifar10_comparison(folder=None, n_images: int = 24, *, seed: int = 0, progress: bool = True,
                       train: dict | None = None, on_model: Callable[[dict, dict], None] | None = None, **kwargs) -> tuple[dict[str, ClassifierMeasures], dict]:
    """:func:`cifar10_models`, then :func:`compare_classifiers` on ``n_images`` held-out images
    both classify right (seeded random targets, class means of the training images used).

    Returns:
      ``(results, metadata)`` as :func:`mnist_comparison`.
    """
    from geomlib._src.robustness import class_means

    models, split = cifar10_models(folder, progress=progress, **(train or {}))
    idx, target, n_right = _pick_images(models, split.x_test, split.y_test, int(n_images), seed)
    kwargs.setdefault("key", seed)
    n = min(int({**CIFAR10_SETTINGS, **(train or {})}["n_train"]), len(split.x_train))
    meta = {"data": "cifar10-gray", "images": idx.tolist(), "targets": target.tolist(), "n_right_all": n_right,
            "n_test": int(len(split.y_test)), "seed": seed, "train": {**CIFAR10_SETTINGS, **(train or {})},
            "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items() if k != "devices"}}
    results = compare_classifiers(models, split.x_test[idx], split.y_test[idx], target,
                                  class_means(split.x_train[:n], split.y_train[:n]), progress=progress,
                                  on_model=None if on_model is None else (lambda r: on_model(r, meta)), **kwargs)
    return results, meta
