r"""MNIST digit classifiers with and without an LCA front-end (Paiton et al. 2020, "w/ LCA").

A classifier is the pytree ``params = {"layers": [{"w": (out, in), "b": (out,)}, ...]}``,
optionally with ``"lca": {"phi": (784, N), "lam": (), "eta": ()}``: then the input of the
first layer is the LCA code :math:`a = \mathrm{LCA}(\Phi, x)` (:func:`geomlib.lca_codes`,
a fixed number of Euler steps), so the LCA is *part of the model function* and attacks
differentiate through its recurrence. Between layers the nonlinearity is ReLU; with a
``smooth_temperature`` T the same weights are evaluated with the softplus surrogate
:math:`T \log(1 + e^{z/T})` (and the LCA with its smooth threshold at the same T), a
smooth twin whose Hessian is defined everywhere and which tends to the ReLU model as
T -> 0 (for exact, autodiff curvature of piecewise-linear models).

The shipped classifiers (:data:`geomlib.SHIPPED_CLASSIFIERS`, trained on the 4,000
training digits of :func:`geomlib.load_mnist_subset`) are loaded with
:func:`load_classifier` as ``logits_fn: (B, 784) -> (B, 10)`` for the attacks.
:func:`train_classifier` also trains robust MLPs: with the CURE curvature penalty
(:func:`cure_penalty`, Moosavi-Dezfooli et al. 2019) or on PGD examples (Madry et al.
2018, the attack of :mod:`geomlib._src.attacks`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import time
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.tree_util import Partial

from geomlib._src.attacks import _pgd
from geomlib._src.checks import check_float, check_int
from geomlib._src.models import activation, init_mlp, lca_codes
from geomlib._src.params_io import _how_to_rebuild, load_metadata, load_params, params_path
from geomlib._src.planes import float_dtype


def _concrete(*xs) -> bool:
    return not any(isinstance(x, jax.core.Tracer) for x in xs)


def _check_params(params) -> int:
    """Input dimension D of a classifier ``params`` (ValueError on a malformed pytree)."""
    layers = params.get("layers") if isinstance(params, dict) else None
    if not isinstance(layers, (list, tuple)) or not layers or not all(
            isinstance(p, dict) and "w" in p and "b" in p for p in layers):
        raise ValueError(f"params: expected a dict with 'layers', a non-empty list of {{'w': (out, in), 'b': (out,)}}, "
                         f"got {type(params).__name__} with keys {sorted(params) if isinstance(params, dict) else None}")
    shapes = [tuple(jnp.shape(p["w"])) for p in layers]
    for k, (prev, cur) in enumerate(zip(shapes[:-1], shapes[1:])):
        if len(cur) != 2 or cur[1] != prev[0]:
            raise ValueError(f"params['layers'][{k + 1}]['w']: expected shape (out, {prev[0]}), got {cur}")
    if "lca" in params:
        phi_shape = tuple(jnp.shape(params["lca"]["phi"]))
        if len(phi_shape) != 2 or phi_shape[1] != shapes[0][1]:
            raise ValueError(f"params['lca']['phi']: expected shape (D, {shapes[0][1]}), got {phi_shape}")
        return phi_shape[0]
    return shapes[0][1]


def classifier_logits(params: dict, x, *, lca_steps: int = 75, smooth_temperature=None) -> jax.Array:
    r"""Logits of a classifier: MLP (ReLU between layers), optionally on LCA codes.

    .. math:: h_0 = x \ \text{or}\ \mathrm{LCA}(\Phi, x), \qquad
              h_{l+1} = \mathrm{relu}(W_l h_l + b_l), \qquad z = W_L h_L + b_L.

    Args:
      params: ``{"layers": [{"w": (out, in), "b": (out,)}, ...]}`` and optionally
        ``"lca": {"phi": (D, N), "lam": (), "eta": ()}`` (then the first layer takes N inputs).
      x: one image ``(D,)`` or a batch ``(B, D)``, pixels in [0, 1] for the shipped models.
      lca_steps: LCA Euler steps (static; the shipped models use 75).
      smooth_temperature: None for ReLU (and the hard LCA threshold); T > 0 for the
        softplus twin with the same weights.

    Returns:
      logits ``(K,)`` for one image, ``(B, K)`` for a batch.

    >>> params = {"layers": [{"w": jnp.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]), "b": jnp.zeros(3)},
    ...                      {"w": jnp.eye(3)[:2], "b": jnp.zeros(2)}]}
    >>> classifier_logits(params, jnp.array([0.5, -2.0])).tolist()
    [0.5, 0.0]
    >>> classifier_logits(params, jnp.ones((4, 2))).shape
    (4, 2)
    """
    dim = _check_params(params)
    x = jnp.asarray(x, dtype=jnp.result_type(params["layers"][0]["w"], float_dtype()))
    if x.ndim not in (1, 2) or x.shape[-1] != dim:
        raise ValueError(f"x: expected one image (D,) or a batch (B, D) with D = {dim}, got shape {x.shape}")
    lca_steps = check_int(lca_steps, "lca_steps")
    temperature = smooth_temperature
    if temperature is not None and _concrete(temperature):
        if np.shape(temperature) != () or not float(temperature) > 0:
            raise ValueError(f"smooth_temperature: expected None (ReLU) or a scalar T > 0, got {smooth_temperature!r}")
    h = x[None] if x.ndim == 1 else x
    if "lca" in params:
        lca = params["lca"]
        h = jax.vmap(lca_codes, (None, 0, None, None, None, None))(
            lca["phi"], h, lca["lam"], int(lca_steps), lca["eta"], temperature)
    for layer in params["layers"][:-1]:
        z = h @ layer["w"].T + layer["b"]
        h = jax.nn.relu(z) if temperature is None else activation(z, "softplus", temperature)
    out = h @ params["layers"][-1]["w"].T + params["layers"][-1]["b"]
    return out[0] if x.ndim == 1 else out


@dataclasses.dataclass(frozen=True)
class _Logits:
    """Static part of a loaded classifier (hashable, so ``jit`` caches across instances)."""

    lca_steps: int = 75
    smooth: bool = False

    def __call__(self, params, temperature, x):
        return classifier_logits(params, x, lca_steps=self.lca_steps,
                                 smooth_temperature=temperature if self.smooth else None)


def bind_classifier(params: dict, *, lca_steps: int = 75, smooth_temperature: float | None = None) -> Partial:
    """``logits_fn(x)`` of :func:`classifier_logits` with ``params`` bound (``jax.tree_util.Partial``).

    Parameters and the temperature stay traced arguments, so compiled code is shared
    between models of one architecture and between temperatures.
    """
    _check_params(params)
    if smooth_temperature is not None and not (np.shape(smooth_temperature) == () and smooth_temperature > 0):
        raise ValueError(f"smooth_temperature: expected None (ReLU) or a scalar T > 0, got {smooth_temperature!r}")
    temperature = jnp.asarray(1.0 if smooth_temperature is None else smooth_temperature, float_dtype())
    return Partial(_Logits(int(lca_steps), smooth_temperature is not None), params, temperature)


def classifier_accuracy(logits_fn, x, y, batch_size: int = 500) -> float:
    """Fraction of images ``x`` ``(n, D)`` whose arg-max logit equals the label ``y`` ``(n,)``.

    ``logits_fn`` maps ``(B, D)`` to ``(B, K)`` (e.g. from :func:`load_classifier`); it is
    jitted and evaluated in chunks of ``batch_size``.
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"expected x (n, D) and y (n,), got {x.shape} and {y.shape}")
    f = jax.jit(logits_fn)
    correct = 0
    for i in range(0, len(x), batch_size):
        correct += int(jnp.sum(jnp.argmax(f(jnp.asarray(x[i:i + batch_size], float_dtype())), axis=1)
                               == jnp.asarray(y[i:i + batch_size])))
    return correct / len(x)


def flatten_classifier(params: dict) -> dict:
    """The layers of a classifier as the flat dict ``{"w0", "b0", "w1", ...}`` that
    :func:`geomlib.save_params` writes (an LCA front-end is not included: the shipped
    classifiers refer to their dictionary file by name)."""
    _check_params(params)
    flat = {}
    for k, layer in enumerate(params["layers"]):
        flat[f"w{k}"], flat[f"b{k}"] = layer["w"], layer["b"]
    return flat


def dictionary_fingerprint(phi) -> str:
    """SHA-256 (first 16 hex digits) of a dictionary's float32 bytes: ties a classifier to its LCA."""
    return hashlib.sha256(np.ascontiguousarray(np.asarray(phi, np.float32)).tobytes()).hexdigest()[:16]


def load_classifier(name: str, *, smooth_temperature: float | None = None, directory=None) -> Partial:
    r"""A trained MNIST classifier as ``logits_fn: (B, 784) -> (B, 10)`` (also ``(784,) -> (10,)``).

    Ready for the attacks (:func:`geomlib.pgd`, :func:`geomlib.carlini_wagner`, ...):
    a ``jax.tree_util.Partial`` of :func:`classifier_logits` whose bound arguments are the
    parameters (``logits_fn.args[0]``) and the temperature. For the ``lca*`` models the
    dictionary file named in the metadata (e.g. ``mnist-768``) is loaded too, with the lam,
    steps and eta the classifier was trained with (its metadata ``"lca"``: the dictionary's
    own, or the classifier's overrides such as ``lca_steps`` = 25 for ``lca-mlp-2-t25``);
    gradients flow through the LCA recurrence.

    Args:
      name: a shipped classifier (a key of :data:`geomlib.SHIPPED_CLASSIFIERS`, e.g.
        ``"linear"``, ``"mlp-2"``, ``"lca-mlp-2"``, ``"mlp-2-pgd"``) or a file written by
        ``python -m geomlib.cli.train`` into ``directory``.
      smooth_temperature: None for the ReLU model; T > 0 for its softplus twin (same
        weights, smooth LCA threshold at the same T).
      directory: where to look (shipped ``geomlib/params`` by default); the LCA dictionary
        is read from there too if present, else from the shipped files.

    Raises:
      FileNotFoundError, ValueError: a missing or corrupt file (classifier or its
        dictionary), named in the message with the command that rebuilds it.

    >>> f = load_classifier("mlp-2")
    >>> f(jnp.zeros((3, 784))).shape
    (3, 10)
    """
    flat, meta = load_params(name, directory), load_metadata(name, directory)
    path = params_path(name, directory)
    n_layers = len(flat) // 2
    try:
        layers = [{"w": flat[f"w{k}"], "b": flat[f"b{k}"]} for k in range(n_layers)]
        if 2 * n_layers != len(flat) or n_layers < 1:
            raise KeyError(f"expected keys w0, b0, w1, ..., got {sorted(flat)}")
        params = {"layers": layers}
        _check_params(params)
        lca = meta.get("lca")
        steps = 75
        if lca is not None:
            steps = int(lca["steps"])
            dict_name = lca["dictionary"]
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"parameter file {path} is not a classifier ({type(err).__name__}: {err}). "
                         f"{_how_to_rebuild(name)}") from err
    if lca is not None:
        here = directory is not None and params_path(dict_name, directory).is_file()
        phi = load_params(dict_name, directory if here else None)["phi"]
        if dictionary_fingerprint(phi) != lca["phi_sha256"]:
            raise ValueError(f"parameter file {path} was trained on another {dict_name!r} dictionary than "
                             f"{params_path(dict_name, directory if here else None)}. {_how_to_rebuild(name)}")
        params["lca"] = {"phi": phi, "lam": jnp.asarray(lca["lam"], phi.dtype), "eta": jnp.asarray(lca["eta"], phi.dtype)}
    return bind_classifier(params, lca_steps=steps, smooth_temperature=smooth_temperature)


# --------------------------------------------------------------------------------------
# Training


def shifted_copies(x, copies: int, shift: int, seed: int = 0) -> np.ndarray:
    """``x`` ``(n, side*side)`` followed by ``copies`` randomly translated versions of every image.

    Each copy moves each image by integers (dy, dx) drawn uniformly from
    [-shift, shift]^2 (numpy, seeded), filling with zeros. Returns ``((copies + 1) n, D)``,
    originals first, then copy 1 of every image, and so on.

    >>> x = np.arange(9.0).reshape(1, 9)
    >>> shifted_copies(x, 1, 1, seed=2).reshape(2, 3, 3)[1].tolist()
    [[0.0, 0.0, 0.0], [1.0, 2.0, 0.0], [4.0, 5.0, 0.0]]
    """
    x = np.asarray(x)
    side = int(round(np.sqrt(x.shape[1]))) if x.ndim == 2 else 0
    if x.ndim != 2 or side * side != x.shape[1]:
        raise ValueError(f"x: expected square images flattened to (n, side * side), got shape {x.shape}")
    copies = check_int(copies, "copies", 0)
    shift = check_int(shift, "shift", 0, side - 1, high_label="side - 1")
    rng = np.random.default_rng(seed)
    images = x.reshape(-1, side, side)
    padded = np.pad(images, ((0, 0), (shift, shift), (shift, shift)))
    out = [x]
    rows = np.arange(side)
    for _ in range(int(copies)):
        dy, dx = rng.integers(-shift, shift + 1, size=(2, len(x), 1, 1))
        r = (shift - dy + rows[None, :, None])
        c = (shift - dx + rows[None, None, :])
        out.append(padded[np.arange(len(x))[:, None, None], r, c].reshape(x.shape))
    return np.concatenate(out)


# ----------------------------------------------------------------------------- robust training


def _unit_sign(g):
    """sign(g) / |sign(g)|_2 per row (0 where g = 0): CURE's finite-difference direction."""
    z = jnp.sign(g)
    n = jnp.linalg.norm(z, axis=1, keepdims=True)
    return jnp.where(n > 0, z / jnp.where(n > 0, n, 1), 0)


def _cure(loss_fn, x, h):
    """Per-row CURE penalty of a batched per-example loss ``(B, D) -> (B,)`` (differentiable)."""
    grad = jax.grad(lambda x: jnp.sum(loss_fn(x)))
    g = grad(x)
    z = jax.lax.stop_gradient(_unit_sign(g))
    return jnp.sum((grad(x + h * z) - g) ** 2, axis=1)


def cure_penalty(fn, x, h, y=None) -> jax.Array:
    r"""CURE curvature penalty per image (Moosavi-Dezfooli et al. 2019): how much the input
    gradient of the loss changes over a step of length h.

    .. math:: R(x) = ig|
abla_x L(x + h z) - 
abla_x L(x)ig|_2^2, \qquad
              z = \operatorname{sign}
abla_x L(x) / |\operatorname{sign}
abla_x L(x)|_2 ,

    a finite-difference estimate of :math:`h^2 |H z|^2` (H the Hessian of L in x) along
    the direction an L-inf attack takes first. It is zero wherever L is linear in x on the
    segment, and :math:`h^2 |A z|^2` for :math:`L = 	frac12 x^	op A x`. ``x + h z`` is not
    clipped to [0, 1]. Where the gradient is 0, z = 0 and R = 0.

    Args:
      fn: a per-example loss ``(B, D) -> (B,)`` (each row depending on its own image); or,
        with ``y``, a classifier ``logits_fn: (B, D) -> (B, K)`` whose softmax
        cross-entropy with the labels ``y`` is the loss.
      x: images ``(B, D)``.
      h: step length (Euclidean), scalar > 0; for MNIST pixels in [0, 1] a unit L2 step
        is ``1 / 28`` per pixel along ``sign``.
      y: integer labels ``(B,)``, or None when ``fn`` is the loss itself.

    Returns:
      penalties, shape ``(B,)``.

    Reference: Moosavi-Dezfooli, Fawzi, Uesato & Frossard (2019), Robustness via curvature
    regularization, and vice versa, CVPR.

    >>> a = jnp.diag(jnp.array([1.0, 3.0]))
    >>> quadratic = lambda x: 0.5 * jnp.einsum("bi,ij,bj->b", x, a, x)
    >>> round(float(cure_penalty(quadratic, jnp.array([[1.0, 1.0]]), 2.0)[0]), 4)   # h^2 |A z|^2 = 4 * 10 / 2
    20.0
    >>> cure_penalty(lambda x: x @ jnp.array([1.0, -2.0]), jnp.ones((3, 2)), 2.0).tolist()
    [0.0, 0.0, 0.0]
    """
    if not callable(fn):
        raise ValueError(f"fn: expected a callable (B, D) -> (B,) (or logits (B, K) with y), got {type(fn).__name__}")
    x = jnp.asarray(x, dtype=float_dtype())
    if x.ndim != 2:
        raise ValueError(f"x: expected a batch of images of shape (B, D), got shape {x.shape}")
    if not (np.ndim(h) == 0 and (not _concrete(h) or 0 < float(h) < np.inf)):
        raise ValueError(f"h: expected a finite scalar > 0, got {h!r}")
    loss_fn = fn
    if y is not None:
        y = jnp.asarray(y)
        if y.shape != x.shape[:1] or not jnp.issubdtype(y.dtype, jnp.integer):
            raise ValueError(f"y: expected integer labels of shape ({x.shape[0]},), got {y.dtype} {y.shape}")

        def loss_fn(x):
            return optax.softmax_cross_entropy_with_integer_labels(fn(x), y)

    out = jax.eval_shape(loss_fn, jax.ShapeDtypeStruct(x.shape, x.dtype))
    if getattr(out, "shape", None) != x.shape[:1]:
        raise ValueError(f"fn: expected a per-example loss of shape ({x.shape[0]},)"
                         f"{' (from logits and y)' if y is not None else ''}, got {getattr(out, 'shape', out)}")
    return _cure(loss_fn, x, jnp.asarray(h, x.dtype))


def _check_options(name: str, options, allowed: dict, required: tuple[str, ...]) -> dict:
    """``options`` (a dict) completed with ``allowed`` defaults; ValueError naming what is wrong."""
    if not isinstance(options, dict):
        raise ValueError(f"{name}: expected None or a dict with keys {sorted(allowed)}, got {options!r}")
    unknown = sorted(set(options) - set(allowed))
    missing = [k for k in required if k not in options]
    if unknown or missing:
        raise ValueError(f"{name}: expected keys {sorted(allowed)} ({', '.join(required)} required), got "
                         f"{sorted(options)}" + (f": unknown {unknown}" if unknown else f": missing {missing}"))
    return {**allowed, **options}


#: Defaults of the ``adversarial`` option of :func:`train_classifier` (None: computed).
ADVERSARIAL_DEFAULTS = {"eps": None, "steps": 7, "step_size": None, "clean_weight": 0.0}


def _check_robust_options(cure, adversarial, lca) -> tuple[dict | None, dict | None]:
    if cure is not None:
        cure = _check_options("cure", cure, {"h": None, "gamma": None}, ("h", "gamma"))
        cure = {"h": check_float(cure["h"], "cure['h']", 0.0, open_low=True),
                "gamma": check_float(cure["gamma"], "cure['gamma']", 0.0)}
    if adversarial is not None:
        adv = _check_options("adversarial", adversarial, ADVERSARIAL_DEFAULTS, ("eps",))
        eps = check_float(adv["eps"], "adversarial['eps']", 0.0, 1.0, open_low=True)
        steps = check_int(adv["steps"], "adversarial['steps']")
        step_size = (2.5 * eps / steps if adv["step_size"] is None
                     else check_float(adv["step_size"], "adversarial['step_size']", 0.0, open_low=True))
        clean = check_float(adv["clean_weight"], "adversarial['clean_weight']", 0.0)
        if clean >= 1:
            raise ValueError(f"adversarial['clean_weight']: expected a weight in [0, 1), got {adv['clean_weight']!r}")
        adversarial = {"eps": eps, "steps": steps, "step_size": step_size, "clean_weight": clean}
    if lca is not None and (cure is not None or adversarial is not None):
        raise ValueError(f"{'cure' if cure is not None else 'adversarial'}: only supported for plain MLPs "
                         "(lca=None); CURE and adversarial training through an LCA front-end are not implemented")
    if cure is not None and adversarial is not None:
        raise ValueError("cure and adversarial: expected at most one of them, got both")
    return cure, adversarial


def _logits_of(params, x):
    return classifier_logits(params, x)


def _make_train_step(optimizer, cure: dict | None = None, adversarial: dict | None = None):
    def cross_entropy(params, x, y):
        return optax.softmax_cross_entropy_with_integer_labels(classifier_logits(params, x), y)

    def loss_fn(params, x, y, x_adv):
        if adversarial is not None:
            w = adversarial["clean_weight"]
            loss = (1 - w) * cross_entropy(params, x_adv, y).mean()
            return loss + w * cross_entropy(params, x, y).mean() if w else loss
        loss = cross_entropy(params, x, y).mean()
        if cure is not None:
            loss = loss + cure["gamma"] * _cure(lambda x: cross_entropy(params, x, y), x, cure["h"]).mean()
        return loss

    @jax.jit
    def step(params, state, x, y, key):
        x_adv = x
        if adversarial is not None:  # Madry et al.: L-inf PGD from a random start, model frozen
            x_adv = jax.lax.stop_gradient(_pgd(
                Partial(_logits_of, params), x, y, jnp.bool_(False), adversarial["eps"], adversarial["step_size"],
                adversarial["steps"], key, "inf", True))
        loss, grad = jax.value_and_grad(loss_fn)(params, x, y, x_adv)
        updates, state = optimizer.update(grad, state, params)
        return optax.apply_updates(params, updates), state, loss

    return step


@functools.partial(jax.jit, static_argnames=("steps",))
def _codes_chunk(phi, x, lam, steps, eta):
    return jax.vmap(lca_codes, (None, 0, None, None, None))(phi, x, lam, steps, eta)


def lca_code_batch(phi, x, lam: float, steps: int = 75, eta: float = 1 / 30, batch_size: int = 500) -> np.ndarray:
    """Hard-threshold LCA codes ``(n, N)`` of inputs ``x`` ``(n, D)``, computed in jitted chunks."""
    phi = jnp.asarray(phi, float_dtype())
    out = [np.asarray(_codes_chunk(phi, jnp.asarray(x[i:i + batch_size], phi.dtype), lam, int(steps), eta))
           for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, phi.shape[1]), np.float32)


def train_classifier(x, y, *, hidden: Sequence[int] = (768,), lca: dict | None = None, epochs: int = 30,
                     batch_size: int = 128, lr: float = 1e-3, weight_decay: float = 1e-4, copies: int = 0,
                     shift: int = 2, seed: int = 0, cure: dict | None = None, adversarial: dict | None = None,
                     progress: bool = True) -> tuple[dict, dict]:
    r"""Train a softmax classifier (MLP with ReLU hidden layers, optionally on LCA codes) with optax.

    Minimises the mean softmax cross-entropy of :func:`classifier_logits` by AdamW
    (decoupled weight decay, learning rate decaying on a cosine schedule to zero) over
    ``epochs`` passes of shuffled minibatches. ``hidden=()`` is multinomial logistic
    regression. ``copies`` > 0 augments the training set with that many randomly
    translated copies of every image (:func:`shifted_copies`, up to ``shift`` pixels;
    square images only), drawn once. With ``lca`` the LCA is frozen and the codes of all
    training images (copies included) are computed once (hard threshold) and cached;
    only the layers on top are trained. Reproducible: ``seed`` fixes the copies, the
    initial weights and the batch order.

    Args:
      x: training images, shape ``(n, D)``.
      y: integer labels in [0, K), shape ``(n,)``; K = ``max(y) + 1``.
      hidden: widths of the hidden layers.
      lca: None, or ``{"phi": (D, N), "lam": float, "steps": int, "eta": float}``.
      epochs: passes over the (augmented) training set.
      batch_size: images per Adam step (the last partial batch of an epoch is dropped).
      lr: peak learning rate.
      weight_decay: AdamW decoupled weight decay.
      copies: translated copies of every image added to the training set.
      shift: maximal translation (pixels) of the copies.
      seed: random seed (also of the PGD random starts: step t uses
        ``jax.random.fold_in(jax.random.PRNGKey(seed), t)``).
      cure: None, or ``{"h": float > 0, "gamma": float >= 0}``: add the CURE curvature
        penalty ``gamma * mean(cure_penalty(...))`` of every minibatch (:func:`cure_penalty`,
        step h in input units, the penalty differentiated through by JAX). Plain MLPs only.
      adversarial: None, or ``{"eps": float in (0, 1], "steps": int = 7, "step_size": float
        = 2.5 eps / steps, "clean_weight": float in [0, 1) = 0}``: PGD adversarial training
        (Madry et al. 2018). Each minibatch is *replaced* by its L-inf PGD examples
        (:func:`geomlib.pgd` with a random start, pixels kept in [0, 1], against the current
        weights); with ``clean_weight`` w > 0 the loss is ``(1 - w) L(x_adv) + w L(x)``
        instead. Plain MLPs only; not together with ``cure``.
      progress: show a ``tqdm`` progress bar with the running loss.

    Returns:
      ``(params, history)``: params for :func:`classifier_logits` (with ``"lca"``:
      ``phi``, ``lam``, ``eta``; pass ``lca_steps`` = ``lca["steps"]``), and ``history``
      with ``"loss"`` (mean training loss per epoch, ``(epochs,)``: with ``cure`` the
      penalty included, with ``adversarial`` the loss on the PGD examples) and
      ``"seconds"`` (including the LCA codes).

    Raises:
      ValueError: bad shapes or options (the message names the argument or the option key).

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(64, 5)).astype(np.float32)
    >>> params, history = train_classifier(x, (x[:, 0] > 0).astype(int), hidden=(8,), epochs=3,
    ...                                    batch_size=16, progress=False)
    >>> [p["w"].shape for p in params["layers"]], history["loss"].shape
    ([(8, 5), (2, 8)], (3,))
    """
    x = np.asarray(x, dtype=float_dtype())
    y = np.asarray(y)
    if x.ndim != 2 or y.shape != (x.shape[0],) or x.shape[0] < 1:
        raise ValueError(f"expected x (n, D) and y (n,), got {x.shape} and {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
        raise ValueError(f"y: expected non-negative integer labels, got dtype {y.dtype}, min {y.min()!r}")
    epochs = check_int(epochs, "epochs")
    batch_size = check_int(batch_size, "batch_size", 1, x.shape[0], high_label="the number of training images")
    if any(int(h) != h or h < 1 for h in hidden):
        raise ValueError(f"hidden: expected positive layer widths, got {tuple(hidden)!r}")
    if not lr > 0 or not weight_decay >= 0:
        raise ValueError(f"expected lr > 0 and weight_decay >= 0, got lr={lr!r}, weight_decay={weight_decay!r}")
    cure, adversarial = _check_robust_options(cure, adversarial, lca)
    from tqdm.auto import tqdm

    start = time.perf_counter()
    n_classes = int(y.max()) + 1
    if copies:
        x = shifted_copies(x, copies, shift, seed)
        y = np.tile(y, int(copies) + 1)
    features = x
    if lca is not None:
        phi = np.asarray(lca["phi"], dtype=x.dtype)
        if phi.ndim != 2 or phi.shape[0] != x.shape[1]:
            raise ValueError(f"lca['phi']: expected shape ({x.shape[1]}, N), got {phi.shape}")
        features = lca_code_batch(phi, x, float(lca["lam"]), int(lca["steps"]), float(lca["eta"]))
    layers = init_mlp(jax.random.PRNGKey(seed), (features.shape[1], *map(int, hidden), n_classes))
    params = {"layers": layers}
    per_epoch = x.shape[0] // batch_size
    schedule = optax.cosine_decay_schedule(lr, epochs * per_epoch)
    optimizer = optax.adamw(schedule, weight_decay=weight_decay)
    state = optimizer.init(params)
    step = _make_train_step(optimizer, cure, adversarial)
    root = jax.random.PRNGKey(seed)
    rng = np.random.default_rng(seed)
    labels = y.astype(np.int32)
    losses = []
    kind = " (CURE)" if cure is not None else " (PGD)" if adversarial is not None else ""
    bar = tqdm(range(epochs), desc=f"classifier {'lca-' if lca is not None else ''}"
               f"{'-'.join(map(str, (features.shape[1], *hidden, n_classes)))}{kind}", disable=not progress)
    for epoch in bar:
        order = rng.permutation(x.shape[0])
        total = 0.0
        for b in range(per_epoch):
            idx = order[b * batch_size:(b + 1) * batch_size]
            key = jax.random.fold_in(root, epoch * per_epoch + b)
            params, state, loss = step(params, state, features[idx], labels[idx], key)
            total += loss
        losses.append(float(total) / per_epoch)
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    bar.close()
    if lca is not None:
        params["lca"] = {"phi": jnp.asarray(phi), "lam": jnp.asarray(lca["lam"], phi.dtype),
                         "eta": jnp.asarray(lca["eta"], phi.dtype)}
    return params, {"loss": np.asarray(losses), "seconds": time.perf_counter() - start}
