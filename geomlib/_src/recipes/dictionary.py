"""Training an LCA dictionary from its configuration (a value of :data:`geomlib.SHIPPED_MODELS`
or one alike: data, sizes, settings and seeds), and writing it with its metadata."""

from __future__ import annotations

import platform
from importlib import metadata as _metadata
from pathlib import Path

import numpy as np

from geomlib._src.lca import lca_statistics, train_lca
from geomlib._src.params_io import PARAMS_DIR, SHIPPED_MODELS, rebuild_command, save_params

#: The configuration a custom dictionary starts from, by data (``python -m geomlib.cli.train lca``).
DICTIONARY_DEFAULTS = {"patches": SHIPPED_MODELS["patches-2x"], "mnist": SHIPPED_MODELS["mnist-768"]}


def load_training_data(config: dict) -> tuple[np.ndarray, np.ndarray]:
    """Training and evaluation inputs ``(n, D)`` float32 described by ``config``."""
    if config["data"] == "patches":
        from geomlib._src.images import natural_image_patches

        size = config["patch_size"]
        train = natural_image_patches(config["n_patches"], size, seed=config["data_seed"])
        evaluation = natural_image_patches(config["n_eval"], size, seed=config["eval_seed"])
        return train, evaluation
    if config["data"] == "mnist":
        from geomlib._src.data import load_mnist_subset

        split = load_mnist_subset(n_test=config["n_test"], seed=config["split_seed"])
        return split.x_train, split.x_test
    raise ValueError(f"config['data']: expected 'patches' or 'mnist', got {config['data']!r}")


def train_from_config(config: dict, progress: bool = True) -> tuple[dict, dict, dict]:
    """Train an LCA dictionary as ``config`` says (a value of ``SHIPPED_MODELS`` or alike).

    Returns:
      ``(params, history, metrics)``: ``{"phi": (D, N)}``, the training curves of
      :func:`geomlib.train_lca`, and :func:`geomlib.lca_statistics` on the evaluation set.
    """
    train, evaluation = load_training_data(config)
    lca = {k: config[k] for k in ("lam", "steps", "eta")}
    params, history = train_lca(train, config["neurons"], **lca, batches=config["batches"],
                                batch_size=config["batch_size"], lr=config["lr"], seed=config["seed"],
                                progress=progress)
    metrics = lca_statistics(params, evaluation, **lca)
    return params, history, metrics


def package_versions() -> dict:
    """Versions of Python and of the packages a model is trained with (None: not installed)."""
    out = {"python": platform.python_version()}
    for pkg in ("jax", "jaxlib", "numpy", "optax", "scikit-image", "mlxtend"):
        try:
            out[pkg] = _metadata.version(pkg)
        except _metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def dictionary_config(data: str, neurons: int, **settings) -> dict:
    """The configuration of a custom dictionary: :data:`DICTIONARY_DEFAULTS` of ``data``
    with ``neurons`` and the ``settings`` that are not None."""
    return dict(DICTIONARY_DEFAULTS[data], neurons=neurons, **{k: v for k, v in settings.items() if v is not None})


def train_and_save(name: str, config: dict, directory=None, progress: bool = True, *,
                   rebuild: str | None = None) -> tuple[Path, dict]:
    """Train from ``config`` and write ``<directory>/<name>.npz``; returns the path and the metadata.

    ``rebuild``: the command that remakes the file, stored in its metadata (None: the
    ``shipped`` command for a shipped name and config, else none)."""
    params, history, metrics = train_from_config(config, progress)
    usage = metrics.pop("usage")
    tail = history["loss"][-max(1, len(history["loss"]) // 10):]
    meta = {
        "config": config,
        "metrics": {**metrics, "train_loss_last_tenth": float(np.mean(tail)),
                    "train_dead_neurons": history["dead_neurons"]},
        "train_seconds": round(history["seconds"], 1),
        "versions": package_versions(),
        "rebuild": rebuild if rebuild is not None else (
            rebuild_command(name) if name in SHIPPED_MODELS and SHIPPED_MODELS[name] == config else None),
    }
    hist = {"loss": history["loss"], "active_fraction": history["active_fraction"], "eval_usage": usage}
    path = save_params(name, params, meta, hist, PARAMS_DIR if directory is None else directory)
    return path, meta


def dictionary_summary(path: Path, meta: dict) -> str:
    """One line on a dictionary file written by :func:`train_and_save`."""
    m = meta["metrics"]
    return (f"{path} ({path.stat().st_size / 1e6:.2f} MB): eval loss {m['loss']:.4f}, relative error "
            f"{m['relative_error']:.3f}, active {m['active_fraction']:.4f}, dead {m['dead_neurons']}, "
            f"trained in {meta['train_seconds']:.0f} s")
