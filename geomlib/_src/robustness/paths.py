r"""Responses and paths through input space: the target log-probability as a response, the
path of gradient ascent on it, how each step of a path crosses the iso-response contours,
a path's coordinates in a plane, and a batched response as a one-image one (for planes).

A *response* ``response_fn`` maps a batch ``(B, D)`` to one number per image ``(B,)``.
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial
from jax.typing import ArrayLike

from geomlib._src.attacks import BATCHED_LOGITS, Logits, check_steps, clip_box, unit_vectors
from geomlib._src.core.checks import check_array, check_bool, check_callable, check_images, check_scalar
from geomlib._src.core.dtypes import is_concrete
from geomlib._src.planes import Plane, check_plane

Response = Callable[[jax.Array], jax.Array]

#: The contract of ``response_fn``, as the error messages state it.
BATCHED_RESPONSE = "(B, D) -> (B,)"


def _target_log_prob(logits_fn, target, x):
    lp = jax.nn.log_softmax(logits_fn(x), axis=1)
    if target.shape[0] != lp.shape[0]:  # shapes are static: checked under tracing too
        raise ValueError(f"target: expected one target per image, shape (B,) = ({lp.shape[0]},), "
                         f"got shape {target.shape}")
    k = lp.shape[1]
    if is_concrete(target) and np.any(np.asarray(target) >= k):  # NumPy: no op staged inside a trace
        raise ValueError(f"target: expected labels in [0, {k}) (K = {k} classes), got values up to "
                         f"{int(np.max(np.asarray(target)))}")
    return jnp.take_along_axis(lp, target[:, None], axis=1)[:, 0]


def target_log_probability(logits_fn: Logits, target: ArrayLike) -> Partial:
    r"""The response :math:`x \mapsto \log p_t(x)` (log-softmax of the target), ``(B, D) -> (B,)``.

    ``target`` is an int array ``(B,)`` of labels >= 0 (one target per image of the batch it
    will be called on; another batch size raises ValueError when the response is called).
    K is not known until then: a target >= K raises ValueError when the response is called
    with a concrete target, and gives NaN under ``jit`` (where :func:`gradient_ascent_path`
    rejects it as a non-finite response). Returned as a ``jax.tree_util.Partial`` so that
    jitted kernels are reused.
    """
    check_array(target, "target", finite=False)
    target = jnp.asarray(target)
    if target.ndim != 1 or not jnp.issubdtype(target.dtype, jnp.integer):
        raise ValueError(f"target: expected integer labels of shape (B,), got shape {target.shape}, "
                         f"dtype {target.dtype}")
    if not bool(jnp.all(target >= 0)):
        raise ValueError(f"target: expected labels >= 0, got values down to {int(jnp.min(target))}")
    return Partial(_target_log_prob, check_callable(logits_fn, "logits_fn", BATCHED_LOGITS), target.astype(jnp.int32))


def _check_response(response_fn, x) -> Partial:
    f = check_callable(response_fn, "response_fn", BATCHED_RESPONSE)
    out = jax.eval_shape(f, jax.ShapeDtypeStruct(x.shape, x.dtype))
    if getattr(out, "shape", None) != (x.shape[0],):
        raise ValueError(f"response_fn: expected output shape (B,) = ({x.shape[0]},), "
                         f"got {getattr(out, 'shape', type(out).__name__)}")
    return f


@functools.partial(jax.jit, static_argnames=("steps", "clip"))
def _ascent_path(f, x, step_size, steps, clip):
    grad = jax.grad(lambda z: f(z).sum())

    def body(x_t, _):
        x_next = clip_box(x_t + step_size * unit_vectors(grad(x_t)), clip)
        return x_next, x_next

    _, path = jax.lax.scan(body, x, None, length=steps)
    return jnp.concatenate([x[None], path], axis=0)


def gradient_ascent_path(response_fn: Response, x: ArrayLike, step_size: ArrayLike, steps: int, *,
                         clip: bool = True) -> jax.Array:
    r"""Path of normalised (L2) gradient ascent on a response: the steepest way up the contour map.

    .. math:: x^{t+1} = \Pi_{[0,1]}\big(x^t + \alpha\, \nabla r(x^t) / |\nabla r(x^t)|\big).

    Unlike a sign step, each (unclipped) step is along the gradient, i.e. orthogonal to the
    iso-response contour through :math:`x^t`. With ``response_fn = target_log_probability(...)``
    this is an L2 targeted attack (PGD-L2 without a ball).

    Args:
      response_fn: ``(B, D) -> (B,)``.
      x: start images ``(B, D)``.
      step_size: alpha > 0 (L2 length of a step).
      steps: number of steps (static), an integer in [0, ``MAX_STEPS`` = 10**7]; 0 gives the
        path ``x[None]`` of one point.
      clip: keep the images in [0, 1] (a bool).

    Returns:
      the path, shape ``(steps + 1, B, D)``, starting with ``x``.

    Raises:
      ValueError: bad arguments, or a response that is not finite at ``x``.

    >>> path = gradient_ascent_path(lambda x: x @ jnp.array([3.0, 4.0]), jnp.zeros((1, 2)), 0.5, 2, clip=False)
    >>> [[round(v, 4) for v in p] for p in path[:, 0].tolist()]
    [[0.0, 0.0], [0.3, 0.4], [0.6, 0.8]]
    """
    x = check_images(x, check_bool(clip, "clip"))
    f = _check_response(response_fn, x)
    step_size = check_scalar(step_size, "step_size", x.dtype, strict=True)
    steps = check_steps(steps, "steps", 0)
    bad = ~np.isfinite(np.asarray(f(x)))
    if bad.any():  # the gradient of a NaN response is 0 there: the path would silently stand still
        raise ValueError(f"response_fn: expected finite responses at x, got non-finite values for images "
                         f"{np.flatnonzero(bad)[:10].tolist()} (e.g. a target outside [0, K) in "
                         f"target_log_probability)")
    return _ascent_path(f, x, step_size, steps, bool(clip))


@jax.jit
def _step_cosines(f, path):
    grad = jax.vmap(jax.grad(lambda z: f(z).sum()))(path[:-1])  # (T, B, D)
    step = path[1:] - path[:-1]
    cos = jnp.sum(unit_vectors(grad) * unit_vectors(step), axis=-1)
    ok = (jnp.linalg.norm(grad, axis=-1) > 0) & (jnp.linalg.norm(step, axis=-1) > 0)
    return jnp.where(ok, cos, jnp.nan)


def step_contour_cosines(response_fn: Response, path: ArrayLike) -> jax.Array:
    r"""Cosine between each step of a path and the normal of the iso-response contour it leaves.

    .. math:: c_t = \frac{(x^{t+1} - x^t) \cdot \nabla r(x^t)}{|x^{t+1} - x^t|\,|\nabla r(x^t)|}

    1 means the step crosses the contour at a right angle, uphill (the contour normal is
    the gradient direction). Clipping to [0, 1] and sign steps lower it; for a sign step
    on a linear response :math:`w \cdot x` it is :math:`|w|_1 / (\sqrt D |w|_2)`.

    Args:
      response_fn: ``(B, D) -> (B,)``.
      path: ``(T + 1, B, D)`` (e.g. from :func:`gradient_ascent_path`), T >= 1, real and finite.

    Returns:
      cosines ``(T, B)``; NaN for a zero step or a zero gradient.

    >>> path = jnp.array([[[0.0, 0.0]], [[0.3, 0.4]], [[0.3, 0.4]]])
    >>> step_contour_cosines(lambda x: x @ jnp.array([3.0, 4.0]), path).tolist()
    [[1.0], [nan]]
    """
    check_array(path, "path")
    path = jnp.asarray(path)
    if path.ndim != 3 or path.shape[0] < 2 or path.shape[1] < 1:
        raise ValueError(f"path: expected shape (T + 1, B, D) with T >= 1, got shape {path.shape}")
    path = path.astype(jnp.result_type(path.dtype, jnp.float32))
    f = _check_response(response_fn, path[0])
    return _step_cosines(f, path)


def path_plane_coordinates(path: ArrayLike, plane: Plane) -> jax.Array:
    r"""Coordinates :math:`(a, b) = ((x^t - o) \cdot u, (x^t - o) \cdot v)` of a path in a plane.

    Args:
      path: ``(T + 1, D)`` (one image's path) or ``(T + 1, B, D)``.
      plane: a :class:`geomlib.Plane` (``origin``, orthonormal ``u``, ``v``).

    Returns:
      ``(T + 1, 2)`` resp. ``(T + 1, B, 2)``.

    Raises:
      ValueError / TypeError: ``path`` None, a string, complex, of the wrong shape or with
        NaN / infinite entries (where concrete); ``plane`` not a plane of orthonormal
        ``u``, ``v`` (see :func:`geomlib.plane`) of the path's D.
    """
    if not isinstance(plane, Plane):
        raise ValueError(f"plane: expected a geomlib.Plane (from geomlib.plane(u, v, origin)), got {type(plane).__name__}")
    plane = check_plane(plane, "plane")
    path = check_array(path, "path")
    if path.ndim not in (2, 3) or path.shape[-1] != plane.u.shape[0]:
        raise ValueError(f"path: expected shape (T + 1, D) or (T + 1, B, D) with D = {plane.u.shape[0]}, "
                         f"got shape {path.shape}")
    d = path - plane.origin
    return jnp.stack([d @ plane.u, d @ plane.v], axis=-1)


def _single_image(response_fn, x):
    return response_fn(x[None])[0]


def single_image_response(response_fn: Response) -> Partial:
    """A batched response ``(B, D) -> (B,)`` as a one-image response ``(D,) -> ()`` (for
    :func:`geomlib.plane_values`), kept a ``Partial`` so that bound parameters stay traced
    (a closure would bake them into the compiled code as constants)."""
    return Partial(_single_image, check_callable(response_fn, "response_fn", BATCHED_RESPONSE))


one_image = single_image_response  # alias, to be removed after the next release
