r"""Decision functions :math:`g_{ij} = f_i - f_j` of a one-image classifier, and the predicted
class and runner-up of each image.

Every function of :mod:`geomlib._src.boundary` but :func:`boundary_curvatures` takes
``image_logits``, a classifier of ONE image ``(D,) -> (K,)`` (a batched ``logits_fn``
``(B, D) -> (B, K)`` is what the attacks take; :func:`geomlib.load_classifier` returns a
function that is both).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from jax.tree_util import Partial
from jax.typing import ArrayLike

from geomlib._src.core.checks import check_array, check_callable, check_int
from geomlib._src.core.dtypes import float_dtype, is_concrete

ImageLogits = Callable[[jax.Array], jax.Array]

#: The contract of ``image_logits``, as the error messages state it.
IMAGE_LOGITS = "(D,) -> (K,)"


def as_partial(fn) -> Partial:
    """``fn`` as a ``jax.tree_util.Partial`` (a plain function becomes static, a bound Partial
    keeps its parameters traced), so it can be passed to jitted kernels."""
    return fn if isinstance(fn, Partial) else Partial(fn)


def _image_of_batch(logits_fn, x):
    return logits_fn(x[None])[0]


def image_logits_of(logits_fn) -> Partial:
    """The one-image classifier ``(D,) -> (K,)`` of a batched ``logits_fn`` ``(B, D) -> (B, K)``
    (a ``Partial``: bound parameters stay traced)."""
    return Partial(_image_of_batch, as_partial(logits_fn))


def image_num_classes(image_logits, dim: int) -> int:
    """K of a one-image classifier ``(D,) -> (K,)``, from one abstract evaluation (no FLOPs)."""
    shape = jax.eval_shape(image_logits, jax.ShapeDtypeStruct((dim,), float_dtype())).shape
    if len(shape) != 1:
        raise ValueError(f"image_logits: expected logits (K,) for one image (D,), got shape {shape}")
    return int(shape[0])


def decision_value(image_logits, i, j, x) -> jax.Array:
    """:math:`f_i(x) - f_j(x)` for one image x, or :math:`f_i(x)` when ``j < 0`` (i, j may be traced).

    A class index >= K raises a ValueError where i and j are concrete; under tracing it gives NaN."""
    z = image_logits(x)
    k = z.shape[0]
    if is_concrete(i) and is_concrete(j):
        for name, c in (("i", i), ("j", j)):
            if int(c) >= k:
                raise ValueError(f"{name}: expected a class index in [0, K) = [0, {k}) (K from image_logits), "
                                 f"got {int(c)}")
    zi = z.at[i].get(mode="fill", fill_value=jnp.nan)
    return zi - jnp.where(j < 0, 0.0, z.at[jnp.maximum(j, 0)].get(mode="fill", fill_value=jnp.nan))


def decision_function(image_logits: ImageLogits, i: int, j: int | None = None) -> Partial:
    r"""The decision function :math:`g(x) = f_i(x) - f_j(x)` of classes i and j (or the logit
    :math:`f_i` itself when ``j`` is None), as a scalar response R^D -> R.

    Its zero level set is the boundary between the regions of classes i and j (where those
    two are the leading classes). The class indices are bound as traced arguments of a
    ``jax.tree_util.Partial``, so every pair shares one compiled kernel in
    :func:`geomlib.plane_geometry` and friends.

    Args:
      image_logits: classifier of one image ``(D,)`` -> logits ``(K,)`` (e.g. from
        :func:`geomlib.load_classifier`, which also accepts batches).
      i: the class whose logit counts positively.
      j: the class subtracted, or None for the logit :math:`f_i` alone; ``j != i``.
        K is not known until ``g`` is called: a class index >= K then raises a ValueError
        (called directly) or gives NaN (called under ``jit``, where i and j are traced).

    Returns:
      ``g``: ``(D,) -> ()``.

    >>> logits = lambda x: jnp.stack([x.sum(), 2 * x[0]])
    >>> g = decision_function(logits, 1, 0)
    >>> float(g(jnp.array([1.0, 3.0])))
    -2.0
    """
    f = check_callable(image_logits, "image_logits", IMAGE_LOGITS)
    i = check_int(i, "i", 0)
    if j is not None:
        j = check_int(j, "j", 0)
        if j == i:
            raise ValueError(f"j: expected a class other than i = {i}, got {j}")
    return Partial(decision_value, f, jnp.int32(i), jnp.int32(-1 if j is None else j))


def check_batch(x, name: str) -> tuple[jax.Array, bool]:
    """``(batch (B, D), single)``: one image ``(D,)`` becomes a batch of one; real, finite entries
    (TypeError for None, a string or a complex array)."""
    x = check_array(x, name, finite=False)
    if x.ndim not in (1, 2) or x.shape[-1] < 2:
        raise ValueError(f"{name}: expected one image (D,) or a batch (B, D), got shape {x.shape}")
    if not bool(jnp.all(jnp.isfinite(x))):
        raise ValueError(f"{name}: expected finite entries, got non-finite values")
    return (x[None], True) if x.ndim == 1 else (x, False)


@jax.jit
def _top_two(image_logits, x):
    z = jax.vmap(image_logits)(x)
    order = jnp.argsort(-z, axis=1)
    return order[:, 0], order[:, 1]


def top_two_classes(image_logits: ImageLogits, x: ArrayLike) -> tuple[jax.Array, jax.Array]:
    """The predicted class and the runner-up of each image.

    Args:
      image_logits: classifier of one image ``(D,) -> (K,)``, K >= 2.
      x: one image ``(D,)`` or a batch ``(B, D)``.

    Returns:
      ``(label, runner_up)``, integer arrays ``()`` or ``(B,)``.
    """
    image_logits = check_callable(image_logits, "image_logits", IMAGE_LOGITS)
    xb, single = check_batch(x, "x")
    if image_num_classes(image_logits, xb.shape[1]) < 2:
        raise ValueError("image_logits: expected at least 2 classes")
    a, b = _top_two(as_partial(image_logits), xb)
    return (a[0], b[0]) if single else (a, b)


top_two = top_two_classes  # alias, to be removed after the next release
