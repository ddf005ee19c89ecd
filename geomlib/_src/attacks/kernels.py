"""The compiled pieces every attack shares: argument set-up, the loss gradient, steepest
steps, eps-ball projection and random start, and the PGD loop (also used by adversarial
training in :mod:`geomlib._src.classifiers`)."""

from __future__ import annotations

import functools
from typing import Callable, Union

import jax
import jax.numpy as jnp
import optax
from jax.tree_util import Partial

from geomlib._src.core.checks import (
    check_array,
    check_bool,
    check_callable,
    check_images,
    check_int,
    check_labels,
    num_classes,
)

Logits = Callable[[jax.Array], jax.Array]
Norm = Union[str, int, float]

#: The contract of ``logits_fn`` in every attack, as the error messages state it.
BATCHED_LOGITS = "(B, D) -> (B, K)"

#: The most steps an attack loop takes: its counter is an int32 (at most 2**31 - 1), and
#: attacks use tens to thousands of steps, so a larger count is a mistake, not a request.
MAX_STEPS = 10_000_000


def check_steps(value, name: str, low: int = 1) -> int:
    """A step count as an ``int`` in ``[low, MAX_STEPS]``: the message of :func:`check_int`
    below ``low`` (and for anything not an integer), one naming ``MAX_STEPS`` above it."""
    n = check_int(value, name, low)
    if n > MAX_STEPS:
        raise ValueError(f"{name}: expected an integer in [{low}, MAX_STEPS = {MAX_STEPS:_}], got {value!r}")
    return n


def check_class_labels(labels, batch: int, k: int, name: str) -> jax.Array:
    """:func:`check_labels` after rejecting what is not an array of real numbers (None, a
    string, a bool, complex values) with a TypeError naming ``name``."""
    if not isinstance(labels, jax.Array):  # a JAX array is numeric: check_labels checks its dtype
        check_array(labels, name, finite=False)
    return check_labels(labels, batch, k, name)


def classes_of(f, x: jax.Array, name: str) -> int:
    """:func:`num_classes` of ``f`` at images ``x``; an error of ``f`` itself on their shape
    (e.g. a model of another D) is re-raised naming ``name``."""
    try:
        return num_classes(f, x)
    except (TypeError, ValueError) as err:
        if str(err).startswith((f"{name}:", "logits_fn:")):
            raise
        kind = TypeError if isinstance(err, TypeError) else ValueError
        raise kind(f"{name}: logits_fn cannot take images of shape {tuple(x.shape)}: {err}") from err


def attack_labels(y, target, batch: int, k: int) -> tuple[jax.Array, jax.Array]:
    """(labels, targeted) for the gradient attacks: the target if given, else y."""
    if target is None:
        if y is None:
            raise ValueError("y: expected labels of shape (B,) (or a target for a targeted attack), got None")
        return check_class_labels(y, batch, k, "y"), jnp.bool_(False)
    if y is not None:
        check_class_labels(y, batch, k, "y")
    return check_class_labels(target, batch, k, "target"), jnp.bool_(True)


def attack_setup(logits_fn, x, clip: bool) -> tuple[Partial, jax.Array, int]:
    """The checked classifier (a ``Partial``), images ``(B, D)`` and number of classes K
    (``clip`` must be a bool)."""
    f = check_callable(logits_fn, "logits_fn", BATCHED_LOGITS)
    x = check_images(x, check_bool(clip, "clip"))
    return f, x, classes_of(f, x, "x")


def clip_box(x: jax.Array, clip: bool) -> jax.Array:
    """``x`` clipped to the pixel box [0, 1] when ``clip``, else unchanged."""
    return jnp.clip(x, 0, 1) if clip else x


def pick_class(z: jax.Array, labels: jax.Array) -> jax.Array:
    """``z[b, labels[b]]`` for each row b: ``(B, K), (B,) -> (B,)``."""
    return jnp.take_along_axis(z, labels[:, None], axis=1)[:, 0]


def attack_loss_grad(f, x, labels, targeted) -> jax.Array:
    """Gradient of the loss the attack *ascends*: cross-entropy of the true label
    (untargeted) or minus cross-entropy of the target (``targeted`` may be traced).
    A sum over the batch, so each row of the result is that image's own gradient."""
    sign = jnp.where(targeted, -1, 1).astype(x.dtype)

    def loss(x):
        return sign * optax.softmax_cross_entropy_with_integer_labels(f(x), labels).sum()

    return jax.grad(loss)(x)


def unit_vectors(g) -> jax.Array:
    """``g / |g|_2`` along the last axis (0 where g = 0)."""
    n = jnp.linalg.norm(g, axis=-1, keepdims=True)
    return jnp.where(n > 0, g / jnp.where(n > 0, n, 1), 0)


def steepest_direction(g, norm: str) -> jax.Array:
    """Unit-norm steepest-ascent direction for gradient g: sign(g) or g / |g|_2 (0 if g = 0)."""
    return jnp.sign(g) if norm == "inf" else unit_vectors(g)


def project_ball(delta, eps, norm: str) -> jax.Array:
    """Euclidean projection onto the eps-ball of the norm."""
    if norm == "inf":
        return jnp.clip(delta, -eps, eps)
    n = jnp.linalg.norm(delta, axis=1, keepdims=True)
    return delta * jnp.where(n > eps, eps / jnp.where(n > eps, n, 1), 1)


def random_start(key, shape, eps, norm: str, dtype) -> jax.Array:
    """Uniform sample from the eps-ball of the norm (per image)."""
    k1, k2 = jax.random.split(key)
    if norm == "inf":
        return jax.random.uniform(k1, shape, dtype, -1, 1) * eps
    direction = jax.random.normal(k1, shape, dtype)
    direction = direction / jnp.linalg.norm(direction, axis=1, keepdims=True)
    radius = jax.random.uniform(k2, (shape[0], 1), dtype) ** (1 / shape[1])
    return eps * radius * direction


@functools.partial(jax.jit, static_argnames=("norm", "clip"))
def pgd_kernel(f, x, labels, targeted, eps, step_size, steps, key, norm, clip) -> jax.Array:
    """``steps`` PGD steps from x (or from a random point of the ball when ``key``), on
    checked arguments; ``norm`` and ``clip`` are static, everything else traced."""
    delta = jnp.zeros_like(x) if key is None else random_start(key, x.shape, eps, norm, x.dtype)
    x_adv = clip_box(x + delta, clip)

    def body(_, x_adv):
        x_new = x_adv + step_size * steepest_direction(attack_loss_grad(f, x_adv, labels, targeted), norm)
        return clip_box(x + project_ball(x_new - x, eps, norm), clip)

    return jax.lax.fori_loop(0, steps, body, x_adv)
