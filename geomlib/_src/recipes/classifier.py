"""Training an MNIST classifier from its configuration (a value of
:data:`geomlib.SHIPPED_CLASSIFIERS` or one alike), and writing it with its metadata."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from geomlib._src.core.checks import check_float, check_int
from geomlib._src.core.defaults import LCA_STEPS
from geomlib._src.params_io import (
    PARAMS_DIR,
    SHIPPED_CLASSIFIERS,
    SHIPPED_MODELS,
    load_metadata,
    load_params,
    params_path,
    rebuild_command,
    save_params,
)
from geomlib._src.recipes.dictionary import dictionary_summary, package_versions, train_and_save

def _classifier_dictionary(name: str, directory, progress: bool) -> tuple[np.ndarray, dict]:
    """The LCA dictionary ``name`` (from ``directory``, else the shipped files) and its config;
    a shipped dictionary whose file is missing is trained first."""
    for where in dict.fromkeys((directory, None)):
        if params_path(name, where).is_file():
            return np.asarray(load_params(name, where)["phi"]), load_metadata(name, where)["config"]
    if name not in SHIPPED_MODELS:
        raise ValueError(f"config['lca']: expected a shipped dictionary ({', '.join(SHIPPED_MODELS)}) or a "
                         f"file in {directory}, got {name!r}")
    print(f"{params_path(name)} is missing: training it first")
    print(dictionary_summary(*train_and_save(name, SHIPPED_MODELS[name], progress=progress)))
    return np.asarray(load_params(name)["phi"]), SHIPPED_MODELS[name]


def lca_overrides(config: dict) -> dict:
    """The LCA inference settings a classifier ``config`` sets itself instead of taking its
    dictionary's: ``{"steps": 25}`` for ``"lca_steps": 25`` (keys ``lca_lam``, ``lca_steps``,
    ``lca_eta``; absent or None: the dictionary's value). ValueError on a bad value, or on an
    override without an LCA front-end (``config["lca"]`` None).

    >>> lca_overrides({"lca": "mnist-768", "lca_steps": 25})
    {'steps': 25}
    """
    out = {}
    for key in ("lam", "steps", "eta"):
        value, name = config.get(f"lca_{key}"), f"config['lca_{key}'] (None: the dictionary's)"
        if value is not None:
            out[key] = check_int(value, name) if key == "steps" else check_float(value, name, 0.0, open_low=True)
    if out and config.get("lca") is None:
        raise ValueError(f"config: {', '.join('lca_' + k for k in out)} given without an LCA front-end "
                         f"(config['lca'] is None); expected a dictionary name in config['lca']")
    return out


def classifier_from_config(config: dict, directory=None, progress: bool = True) -> tuple[dict, dict, dict]:
    """Train an MNIST classifier as ``config`` says (a value of ``SHIPPED_CLASSIFIERS`` or alike).

    Optional keys beyond those of ``mlp-2``: ``lca_lam``, ``lca_steps``, ``lca_eta`` (LCA
    inference settings that replace the dictionary's, see :func:`lca_overrides`; recorded in
    the file's ``"lca"`` metadata, which :func:`geomlib.load_classifier` uses), ``cure`` and
    ``adversarial`` (options of :func:`geomlib.train_classifier`).

    The weights are rounded to the storage precision (``config["storage"]``) before the
    metrics are computed, so the metrics are those of the model that is saved.

    Returns:
      ``(params, history, metrics)``: params for :func:`geomlib.classifier_logits`, the
      training curves of :func:`geomlib.train_classifier` (plus ``"lca"``: the dictionary
      name, lam, steps, eta and fingerprint, or None), and held-out / training metrics.
    """
    from geomlib._src.classifiers import (
        bind_classifier,
        classifier_accuracy,
        dictionary_fingerprint,
        train_classifier,
    )
    from geomlib._src.data import load_mnist_subset

    split = load_mnist_subset(n_test=config["n_test"], seed=config["split_seed"])
    x, y = split.x_train, split.y_train
    if config.get("n_train") is not None:
        x, y = x[:config["n_train"]], y[:config["n_train"]]
    lca, lca_meta = None, None
    overrides = lca_overrides(config)
    if config["lca"] is not None:
        phi, dict_config = _classifier_dictionary(config["lca"], directory, progress)
        settings = {k: dict_config[k] if overrides.get(k) is None else overrides[k] for k in ("lam", "steps", "eta")}
        lca = {"phi": phi, **settings}
        lca_meta = {"dictionary": config["lca"], **settings, "phi_sha256": dictionary_fingerprint(phi)}
    params, history = train_classifier(
        x, y, hidden=config["hidden"], lca=lca, epochs=config["epochs"], batch_size=config["batch_size"],
        lr=config["lr"], weight_decay=config["weight_decay"], copies=config["copies"], shift=config["shift"],
        seed=config["seed"], cure=config.get("cure"), adversarial=config.get("adversarial"), progress=progress)
    steps = lca["steps"] if lca is not None else LCA_STEPS
    full = bind_classifier(params, lca_steps=steps)
    storage = np.dtype(config["storage"])
    params["layers"] = [{k: np.asarray(v).astype(storage).astype(np.float32) for k, v in layer.items()}
                        for layer in params["layers"]]
    start = time.perf_counter()
    stored = bind_classifier(params, lca_steps=steps)
    smooth = bind_classifier(params, lca_steps=steps, smooth_temperature=config["smooth_temperature"])
    metrics = {
        "test_accuracy": classifier_accuracy(stored, split.x_test, split.y_test),
        "test_accuracy_float32": classifier_accuracy(full, split.x_test, split.y_test),
        "smooth_test_accuracy": classifier_accuracy(smooth, split.x_test, split.y_test),
        "train_accuracy": classifier_accuracy(stored, x, y),
        "train_loss_last_epoch": float(history["loss"][-1]),
        "n_train": int(len(x)),
        "n_test": int(len(split.x_test)),
    }
    history["eval_seconds"] = time.perf_counter() - start
    history["lca"] = lca_meta
    return params, history, metrics


def train_classifier_and_save(name: str, config: dict, directory=None, progress: bool = True, *,
                              rebuild: str | None = None) -> tuple[Path, dict]:
    """Train a classifier from ``config`` and write ``<directory>/<name>.npz``; returns the path and metadata.

    ``rebuild``: the command that remakes the file, stored in its metadata (None: the
    ``shipped`` command for a shipped name and config, else none)."""
    from geomlib._src.classifiers import flatten_classifier

    params, history, metrics = classifier_from_config(config, directory, progress)
    meta = {
        "config": config,
        "metrics": metrics,
        "lca": history["lca"],
        "train_seconds": round(history["seconds"], 1),
        "versions": package_versions(),
        "rebuild": rebuild if rebuild is not None else (
            rebuild_command(name) if name in SHIPPED_CLASSIFIERS and SHIPPED_CLASSIFIERS[name] == config else None),
    }
    path = save_params(name, flatten_classifier(params), meta, {"loss": history["loss"]},
                       PARAMS_DIR if directory is None else directory, storage=config["storage"])
    return path, meta


def classifier_summary(path: Path, meta: dict) -> str:
    """One line on a classifier file written by :func:`train_classifier_and_save`."""
    m = meta["metrics"]
    return (f"{path} ({path.stat().st_size / 1e6:.2f} MB): held-out accuracy {100 * m['test_accuracy']:.1f}% "
            f"(float32 weights {100 * m['test_accuracy_float32']:.1f}%, softplus twin at T = "
            f"{meta['config']['smooth_temperature']:g}: {100 * m['smooth_test_accuracy']:.1f}%), training "
            f"accuracy {100 * m['train_accuracy']:.1f}%, last-epoch loss {m['train_loss_last_epoch']:.4f}, "
            f"trained in {meta['train_seconds']:.0f} s")
