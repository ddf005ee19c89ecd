r"""The two bends of chapter 8 measured on a classifier: the bend of its decision contour
near each image (:func:`decision_contour_bend`) and the survey bend of its first-layer
units (:func:`first_layer_survey`), both with the survey code of chapter 4.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial
from jax.typing import ArrayLike

from geomlib._src.boundary import image_logits_of
from geomlib._src.core.checks import check_array, check_bool, check_callable, check_int, check_labels
from geomlib._src.core.defaults import LCA_STEPS
from geomlib._src.planes import Plane
from geomlib._src.survey import SurveyResult, as_bend, bend_static, run_plane_chunks, run_survey

#: Plane window of :func:`decision_contour_bend`, in units of each image's DeepFool distance r:
#: a in [0, 3r], b in [-r, r].
CONTOUR_WINDOW = ((0.0, 3.0), (-1.0, 1.0))


def _margin(image_logits, i, j, origin, r, x):
    """z_j - z_i at origin + r (x - origin): the decision function of the pair, the plane's
    coordinates scaled by r (so plane units are multiples of the image's DeepFool distance)."""
    z = image_logits(origin + r * (x - origin))
    return z[j] - z[i]


@jax.jit
def _comparison_direction(image_logits, x, i, j):
    """Unit gradient of z_k - z_i at x for the class k (not i, not j) nearest by DeepFool's
    linearised distance |z_k - z_i| / |grad(z_k - z_i)|: the next boundary after j's."""
    def one(x, i, j):
        z, jac = image_logits(x), jax.jacrev(image_logits)(x)   # (K,), (K, D)
        dz, dg = z - z[i], jac - jac[i]
        norm = jnp.linalg.norm(dg, axis=1)
        ratio = jnp.abs(dz) / jnp.where(norm > 0, norm, 1.0)
        k = jnp.arange(z.shape[0])
        ratio = jnp.where((k == i) | (k == j) | (norm == 0), jnp.inf, ratio)
        g = dg[jnp.argmin(ratio)]
        return g / jnp.maximum(jnp.linalg.norm(g), jnp.finfo(g.dtype).tiny)

    return jax.vmap(one)(x, i, j)


def decision_contour_bend(logits_fn: Callable[[jax.Array], jax.Array], x: ArrayLike, boundary: ArrayLike, label: ArrayLike, other: ArrayLike, *,
                          key: int | jax.Array = 0, n_b: int = 8, iterations: int = 4, chunk: int = 64) -> np.ndarray:
    r"""Dimensionless bend :math:`c_2` of the decision contour through each image's boundary point.

    In planes through x spanned by :math:`u = (p - x)/|p - x|` (p the boundary point,
    r = |p - x|) and a unit v orthogonal to u, the contour :math:`z_j - z_i = 0` is
    located by :func:`geomlib.contour_bend` (level 0, not normalised, crossings with a > 0)
    on :data:`CONTOUR_WINDOW` in units of r, and fitted by :math:`a = c_0 + c_1 b + c_2 b^2`.
    Two planes per image, as the survey's two kinds: a *comparison* plane, v the gradient
    of :math:`z_k - z_i` for the next-nearest class k (by DeepFool's linearised distance;
    the analogue of another neuron's weight vector), and a *random* plane, v a Gaussian
    direction. A flat boundary gives 0; positive = bends away from x. For a smooth boundary
    :math:`c_2 \approx -r \kappa_v / 2`, :math:`\kappa_v` the normal curvature along v in the
    convention of :func:`geomlib.boundary_curvatures` (positive where the region of class i
    is locally convex, i.e. the boundary bends toward x).

    Args:
      logits_fn: batched classifier ``(B, D) -> (B, K)`` (jax-traceable), K >= 2 (with
        K = 2 there is no third class and the comparison column is NaN).
      x: images ``(B, D)``; boundary: their boundary points ``(B, D)``.
      label, other: the classes i (at x) and j (beyond the boundary), int ``(B,)`` in [0, K).
      key: seed of the random directions (image n uses ``fold_in(key, n)``), an int >= 0
        or a PRNG key.
      n_b, iterations: rows and Illinois steps of :func:`geomlib.contour_bend`.
      chunk: planes per compiled call.

    Returns:
      c2 ``(B, 2)``: comparison plane, random plane; NaN where the boundary point
      coincides with x or fewer than 3 rows cross (and in the comparison column for K = 2).
    """
    f = image_logits_of(check_callable(logits_fn, "logits_fn", "(B, D) -> (B, K)"))
    x, boundary = check_array(x, "x"), check_array(boundary, "boundary")
    if x.ndim != 2 or boundary.shape != x.shape:
        raise ValueError(f"x, boundary: expected two arrays of one shape (B, D), got {x.shape} and {boundary.shape}")
    num = jax.eval_shape(f, x[0]).shape[-1]
    if num < 2:
        raise ValueError(f"logits_fn: expected at least 2 classes, got {num}")
    i = check_labels(check_array(label, "label", kind="int"), x.shape[0], num, "label")
    j = check_labels(check_array(other, "other", kind="int"), x.shape[0], num, "other")
    if key is None or isinstance(key, (bool, np.bool_, float, np.floating, str, bytes)):
        raise TypeError(f"key: expected an integer seed >= 0 or a PRNG key, got {type(key).__name__} {key!r}")
    if isinstance(key, (int, np.integer)):
        key = check_int(key, "key", 0)
    chunk = check_int(chunk, "chunk", 1)
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
    static = bend_static(0.0, CONTOUR_WINDOW, n_b, iterations, False, True, "arclength")
    out = run_plane_chunks(fp, {id(i2), id(j2), id(x2), id(r2)}, planes, jnp.asarray(0.0, x.dtype), chunk_size=chunk,
                      **static)
    c2 = np.array(as_bend(out, (x.shape[0], 2), static).c2)
    if num < 3:
        c2[:, 0] = np.nan
    return np.where(np.asarray(r)[:, None] > 0, c2, np.nan)


logit_bend = decision_contour_bend  # alias, to be removed after the next release


def first_layer_survey(logits_fn: Callable[[jax.Array], jax.Array], neurons: int = 8, n_comparison: int = 4, n_random: int = 4, key: int = 0,
                       progress: bool = False) -> SurveyResult:
    """Survey bends (:func:`geomlib.run_survey`) of a loaded classifier's first-layer units.

    For an LCA front-end (``params["lca"]``) the LCA neurons with the classifier's own lam,
    eta and steps (hard threshold); otherwise the first layer's ReLU units
    :math:`\\mathrm{relu}(w_k \\cdot x)` (bias dropped: it moves a straight contour, never bends it).

    Args:
      logits_fn: a classifier from :func:`geomlib.load_classifier` / :func:`geomlib.bind_classifier`.
      neurons, n_comparison, n_random, key: of :func:`geomlib.run_survey`.

    It runs in this process alone (``run_survey(..., distribute=False)``): a model's
    measurement is one process's task when a comparison runs on several.

    Returns:
      :class:`geomlib.SurveyResult`.
    """
    neurons = check_int(neurons, "neurons", 1)
    n_comparison, n_random = check_int(n_comparison, "n_comparison", 0), check_int(n_random, "n_random", 0)
    progress = check_bool(progress, "progress")
    params, steps = _classifier_parts(logits_fn)
    if "lca" in params:
        lca = params["lca"]
        return run_survey({"phi": lca["phi"]}, "lca", neurons, n_comparison, n_random, key, lam=float(lca["lam"]),
                          steps=steps, eta=float(lca["eta"]), progress=progress, distribute=False)
    w = params["layers"][0]["w"]
    return run_survey({"phi": jnp.asarray(w).T}, "relu", neurons, n_comparison, n_random, key, lam=0.0,
                      progress=progress, distribute=False)


def _classifier_parts(logits_fn) -> tuple[dict, int]:
    """The parameters of a bound classifier and its LCA step count."""
    func = getattr(logits_fn, "func", None)
    args = getattr(logits_fn, "args", ())
    if not isinstance(logits_fn, Partial) or not args or not isinstance(args[0], dict) or "layers" not in args[0]:
        raise ValueError("logits_fn: expected a classifier from geomlib.load_classifier or geomlib.bind_classifier "
                         f"(its parameters are needed for the first-layer survey), got {type(logits_fn).__name__}")
    return args[0], int(getattr(func, "lca_steps", LCA_STEPS))
