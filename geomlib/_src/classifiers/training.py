r"""Training a classifier with optax: the options (CURE penalty, PGD adversarial training),
the jitted train step, the cached LCA codes of an LCA front-end, and the epoch loop."""

from __future__ import annotations

import functools
import time
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.tree_util import Partial
from jax.typing import ArrayLike

from geomlib._src.attacks import pgd_kernel
from geomlib._src.classifiers.augment import shifted_copies
from geomlib._src.classifiers.cure import cure_kernel
from geomlib._src.classifiers.model import classifier_logits
from geomlib._src.core.checks import check_array, check_float, check_int
from geomlib._src.core.defaults import LCA_ETA, LCA_STEPS, pgd_step_size
from geomlib._src.core.dtypes import float_dtype
from geomlib._src.models import init_mlp, lca_codes


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
        step_size = (pgd_step_size(eps, steps) if adv["step_size"] is None
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
            loss = loss + cure["gamma"] * cure_kernel(lambda x: cross_entropy(params, x, y), x, cure["h"]).mean()
        return loss

    @jax.jit
    def step(params, state, x, y, key):
        x_adv = x
        if adversarial is not None:  # Madry et al.: L-inf PGD from a random start, model frozen
            x_adv = jax.lax.stop_gradient(pgd_kernel(
                Partial(_logits_of, params), x, y, jnp.bool_(False), adversarial["eps"], adversarial["step_size"],
                adversarial["steps"], key, "inf", True))
        loss, grad = jax.value_and_grad(loss_fn)(params, x, y, x_adv)
        updates, state = optimizer.update(grad, state, params)
        return optax.apply_updates(params, updates), state, loss

    return step


@functools.partial(jax.jit, static_argnames=("steps",))
def _codes_chunk(phi, x, lam, steps, eta):
    return jax.vmap(lca_codes, (None, 0, None, None, None))(phi, x, lam, steps, eta)


def lca_code_batch(phi: ArrayLike, x: ArrayLike, lam: float, steps: int = LCA_STEPS, eta: float = LCA_ETA,
                   batch_size: int = 500) -> np.ndarray:
    """Hard-threshold LCA codes ``(n, N)`` of inputs ``x`` ``(n, D)``, computed in jitted chunks."""
    phi = jnp.asarray(phi, float_dtype())
    out = [np.asarray(_codes_chunk(phi, jnp.asarray(x[i:i + batch_size], phi.dtype), lam, int(steps), eta))
           for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, phi.shape[1]), np.float32)


def _check_training_data(x, y, hidden, epochs, batch_size, lr, weight_decay):
    x = np.asarray(check_array(x, "x"))   # real, finite (TypeError: None, a string, complex)
    if isinstance(y, (str, bytes)) or y is None:
        raise TypeError(f"y: expected non-negative integer labels (n,), got {type(y).__name__} {y!r}")
    y = np.asarray(y)
    if x.ndim != 2 or y.shape != (x.shape[0],) or x.shape[0] < 1:
        raise ValueError(f"expected x (n, D) and y (n,), got {x.shape} and {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
        raise ValueError(f"y: expected non-negative integer labels, got dtype {y.dtype}, min {y.min()!r}")
    epochs = check_int(epochs, "epochs")
    batch_size = check_int(batch_size, "batch_size", 1, x.shape[0], high_label="the number of training images")
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, (list, tuple, np.ndarray)) or any(
            isinstance(h, (bool, np.bool_)) or not isinstance(h, (int, float, np.integer, np.floating))
            or int(h) != h or h < 1 for h in hidden):
        raise ValueError(f"hidden: expected positive layer widths, got {hidden!r}")
    lr = check_float(lr, "lr", 0.0, open_low=True)
    weight_decay = check_float(weight_decay, "weight_decay", 0.0)
    return x, y, epochs, batch_size


def _check_lca_option(lca) -> dict | None:
    """The ``lca`` option of :func:`train_classifier`: None, or phi (D, N) real and finite,
    lam >= 0, steps >= 1, eta > 0."""
    if lca is None:
        return None
    lca = _check_options("lca", lca, {"phi": None, "lam": None, "steps": None, "eta": None},
                         ("phi", "lam", "steps", "eta"))
    return {"phi": check_array(lca["phi"], "lca['phi']", ndim=2), "lam": check_float(lca["lam"], "lca['lam']", 0.0),
            "steps": check_int(lca["steps"], "lca['steps']"),
            "eta": check_float(lca["eta"], "lca['eta']", 0.0, open_low=True)}


def _training_features(x, y, lca, copies, shift, seed):
    """``(x, y, features, phi)``: the training set with its translated copies, and the
    inputs of the first trained layer (the images, or their LCA codes)."""
    if copies:
        x = shifted_copies(x, copies, shift, seed)
        y = np.tile(y, int(copies) + 1)
    if lca is None:
        return x, y, x, None
    phi = np.asarray(lca["phi"], dtype=x.dtype)
    if phi.ndim != 2 or phi.shape[0] != x.shape[1]:
        raise ValueError(f"lca['phi']: expected shape ({x.shape[1]}, N), got {phi.shape}")
    return x, y, lca_code_batch(phi, x, float(lca["lam"]), int(lca["steps"]), float(lca["eta"])), phi


def _run_epochs(step, params, state, features, labels, batch_size, seed, bar) -> tuple[dict, list]:
    """Shuffled minibatch steps over ``bar`` (the epochs); the mean loss of each epoch."""
    per_epoch = features.shape[0] // batch_size
    root = jax.random.PRNGKey(seed)
    rng = np.random.default_rng(seed)
    losses = []
    for epoch in bar:
        order = rng.permutation(features.shape[0])
        total = 0.0
        for b in range(per_epoch):
            idx = order[b * batch_size:(b + 1) * batch_size]
            key = jax.random.fold_in(root, epoch * per_epoch + b)
            params, state, loss = step(params, state, features[idx], labels[idx], key)
            total += loss
        losses.append(float(total) / per_epoch)
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    bar.close()
    return params, losses


def train_classifier(x: ArrayLike, y: ArrayLike, *, hidden: Sequence[int] = (768,), lca: dict | None = None,
                     epochs: int = 30, batch_size: int = 128, lr: float = 1e-3, weight_decay: float = 1e-4,
                     copies: int = 0, shift: int = 2, seed: int = 0, cure: dict | None = None,
                     adversarial: dict | None = None, progress: bool = True) -> tuple[dict, dict]:
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
      x: training images, shape ``(n, D)``, real and finite.
      y: integer labels in [0, K), shape ``(n,)``; K = ``max(y) + 1`` (a class with no
        images gets an output unit trained only as a negative: e.g. a small sample).
      hidden: widths of the hidden layers.
      lca: None, or ``{"phi": (D, N), "lam": float, "steps": int, "eta": float}``.
      epochs: passes over the (augmented) training set.
      batch_size: images per Adam step (the last partial batch of an epoch is dropped).
      lr: peak learning rate, finite > 0.
      weight_decay: AdamW decoupled weight decay, finite >= 0.
      copies: translated copies of every image added to the training set (an int >= 0).
      shift: maximal translation (pixels) of the copies.
      seed: random seed, an int >= 0 (also of the PGD random starts: step t uses
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
    x, y, epochs, batch_size = _check_training_data(x, y, hidden, epochs, batch_size, lr, weight_decay)
    copies = check_int(copies, "copies", 0)
    shift = check_int(shift, "shift", 0)
    seed = check_int(seed, "seed", 0)
    lca = _check_lca_option(lca)
    cure, adversarial = _check_robust_options(cure, adversarial, lca)
    from tqdm.auto import tqdm

    start = time.perf_counter()
    n_classes = int(y.max()) + 1
    x, y, features, phi = _training_features(x, y, lca, copies, shift, seed)
    params = {"layers": init_mlp(jax.random.PRNGKey(seed), (features.shape[1], *map(int, hidden), n_classes))}
    schedule = optax.cosine_decay_schedule(lr, epochs * (x.shape[0] // batch_size))
    optimizer = optax.adamw(schedule, weight_decay=weight_decay)
    step = _make_train_step(optimizer, cure, adversarial)
    kind = " (CURE)" if cure is not None else " (PGD)" if adversarial is not None else ""
    bar = tqdm(range(epochs), desc=f"classifier {'lca-' if lca is not None else ''}"
               f"{'-'.join(map(str, (features.shape[1], *hidden, n_classes)))}{kind}", disable=not progress)
    params, losses = _run_epochs(step, params, optimizer.init(params), features, y.astype(np.int32), batch_size,
                                 seed, bar)
    if lca is not None:
        params["lca"] = {"phi": jnp.asarray(phi), "lam": jnp.asarray(lca["lam"], phi.dtype),
                         "eta": jnp.asarray(lca["eta"], phi.dtype)}
    return params, {"loss": np.asarray(losses), "seconds": time.perf_counter() - start}
