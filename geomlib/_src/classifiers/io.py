r"""Classifiers on disk: the flat layer dict that is saved, the fingerprint that ties a
classifier to its LCA dictionary, and loading a shipped or trained classifier as a
``logits_fn``."""

from __future__ import annotations

import hashlib
import os

import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial
from jax.typing import ArrayLike

from geomlib._src.classifiers.model import bind_classifier, check_params
from geomlib._src.core.defaults import LCA_STEPS
from geomlib._src.params_io import how_to_rebuild, load_metadata, load_params, params_path, split_seeded_name

MNIST_PIXELS, MNIST_CLASSES = 784, 10


def flatten_classifier(params: dict) -> dict:
    """The layers of a classifier as the flat dict ``{"w0", "b0", "w1", ...}`` that
    :func:`geomlib.save_params` writes (an LCA front-end is not included: the shipped
    classifiers refer to their dictionary file by name)."""
    check_params(params)
    flat = {}
    for k, layer in enumerate(params["layers"]):
        flat[f"w{k}"], flat[f"b{k}"] = layer["w"], layer["b"]
    return flat


def dictionary_fingerprint(phi: ArrayLike) -> str:
    """SHA-256 (first 16 hex digits) of a dictionary's float32 bytes: ties a classifier to its LCA."""
    return hashlib.sha256(np.ascontiguousarray(np.asarray(phi, np.float32)).tobytes()).hexdigest()[:16]


def load_classifier(name: str, *, smooth_temperature: float | None = None,
                    directory: str | os.PathLike | None = None) -> Partial:
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
        dictionary), named in the message with the command that rebuilds it; also a
        file whose layer shapes do not chain, or (an MNIST classifier, ``config["data"]``)
        do not take 784 pixels to 10 logits, e.g. a transposed weight (the message names it).

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
        dim = check_params(params)
        config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
        if config.get("data") == "mnist" and (meta.get("lca") is None and dim != MNIST_PIXELS):
            raise ValueError(f"w0: expected shape (out, {MNIST_PIXELS}) for an MNIST classifier (its first layer "
                             f"takes the 28 x 28 pixels), got {tuple(np.shape(flat['w0']))}")
        if config.get("data") == "mnist" and np.shape(flat[f"w{n_layers - 1}"])[0] != MNIST_CLASSES:
            raise ValueError(f"w{n_layers - 1}: expected shape ({MNIST_CLASSES}, in) for an MNIST classifier "
                             f"(10 digits), got {tuple(np.shape(flat[f'w{n_layers - 1}']))}")
        lca = meta.get("lca")
        steps = LCA_STEPS
        if lca is not None:
            steps = int(lca["steps"])
            dict_name = lca["dictionary"]
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"parameter file {path} is not a classifier ({type(err).__name__}: {err}). "
                         f"{how_to_rebuild(name, directory)}") from err
    if lca is not None:
        # A seeded dictionary ("mnist-768-s1") lives beside its seeded classifiers only.
        here = directory is not None and (params_path(dict_name, directory).is_file()
                                          or split_seeded_name(dict_name) is not None)
        dict_dir = directory if here else None
        stored = load_params(dict_name, dict_dir)
        if "phi" not in stored:
            raise ValueError(f"parameter file {params_path(dict_name, dict_dir)} (the LCA dictionary of {name!r}) has "
                             f"no 'phi', got keys {sorted(stored)}. {how_to_rebuild(dict_name, dict_dir)}")
        phi = stored["phi"]
        if config.get("data") == "mnist" and np.shape(phi)[0] != MNIST_PIXELS:
            raise ValueError(f"parameter file {params_path(dict_name, dict_dir)} (the LCA dictionary of {name!r}): "
                             f"expected phi of shape ({MNIST_PIXELS}, N) for an MNIST classifier, got "
                             f"{tuple(np.shape(phi))}. {how_to_rebuild(dict_name, dict_dir)}")
        if dictionary_fingerprint(phi) != lca["phi_sha256"]:
            raise ValueError(f"parameter file {path} was trained on another {dict_name!r} dictionary than "
                             f"{params_path(dict_name, directory if here else None)}. {how_to_rebuild(name, directory)}")
        params["lca"] = {"phi": phi, "lam": jnp.asarray(lca["lam"], phi.dtype), "eta": jnp.asarray(lca["eta"], phi.dtype)}
    return bind_classifier(params, lca_steps=steps, smooth_temperature=smooth_temperature)
