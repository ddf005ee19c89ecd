"""Train the LCA dictionaries that ship with geomlib (``make models``).

Usage::

    python -m geomlib.train all                       # rebuild every shipped model
    python -m geomlib.train shipped patches-2x        # rebuild one (or several) by name
    python -m geomlib.train list                      # shipped names and their configs
    python -m geomlib.train lca --data patches --neurons 512 --lam 0.15 --out DIR
                                                      # a custom model, written to DIR/NAME.npz

Every run is seeded: the data (patches cut with ``data_seed``, or the seeded MNIST
split), the initial dictionary and the batch order (``seed``), so rebuilding gives the
same dictionary up to floating-point differences between machines.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from importlib import metadata as _metadata
from pathlib import Path

import numpy as np

from geomlib._src.lca import lca_statistics, train_lca
from geomlib._src.params_io import PARAMS_DIR, SHIPPED_MODELS, rebuild_command, save_params

_DEFAULTS = {"patches": SHIPPED_MODELS["patches-2x"], "mnist": SHIPPED_MODELS["mnist-768"]}


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


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("jax", "jaxlib", "numpy", "optax", "scikit-image", "mlxtend"):
        try:
            out[pkg] = _metadata.version(pkg)
        except _metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def train_and_save(name: str, config: dict, directory=None, progress: bool = True) -> tuple[Path, dict]:
    """Train from ``config`` and write ``<directory>/<name>.npz``; returns the path and the metadata."""
    params, history, metrics = train_from_config(config, progress)
    usage = metrics.pop("usage")
    tail = history["loss"][-max(1, len(history["loss"]) // 10):]
    meta = {
        "config": config,
        "metrics": {**metrics, "train_loss_last_tenth": float(np.mean(tail)),
                    "train_dead_neurons": history["dead_neurons"]},
        "train_seconds": round(history["seconds"], 1),
        "versions": _versions(),
        "rebuild": rebuild_command(name) if name in SHIPPED_MODELS and SHIPPED_MODELS[name] == config else None,
    }
    hist = {"loss": history["loss"], "active_fraction": history["active_fraction"], "eval_usage": usage}
    path = save_params(name, params, meta, hist, PARAMS_DIR if directory is None else directory)
    return path, meta


def _summary(path: Path, meta: dict) -> str:
    m = meta["metrics"]
    return (f"{path} ({path.stat().st_size / 1e6:.2f} MB): eval loss {m['loss']:.4f}, relative error "
            f"{m['relative_error']:.3f}, active {m['active_fraction']:.4f}, dead {m['dead_neurons']}, "
            f"trained in {meta['train_seconds']:.0f} s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m geomlib.train", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("all", help="rebuild every shipped model into geomlib/params")
    shipped = sub.add_parser("shipped", help="rebuild shipped models by name")
    shipped.add_argument("names", nargs="+", choices=sorted(SHIPPED_MODELS))
    sub.add_parser("list", help="list the shipped models and their configurations")
    lca = sub.add_parser("lca", help="train a custom LCA dictionary")
    lca.add_argument("--data", choices=("patches", "mnist"), required=True)
    lca.add_argument("--neurons", type=int, required=True)
    for flag, kind in (("--lam", float), ("--steps", int), ("--eta", float), ("--batches", int),
                       ("--batch-size", int), ("--lr", float), ("--seed", int), ("--patch-size", int),
                       ("--n-patches", int)):
        lca.add_argument(flag, type=kind, default=None, help="default: as the shipped models")
    lca.add_argument("--name", default=None, help="file name without .npz (default: DATA-NEURONS)")
    lca.add_argument("--out", default=".", help="output directory (default: the current one)")
    lca.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    if args.command == "list":
        for name, config in SHIPPED_MODELS.items():
            print(f"{name}: {json.dumps(config)}")
        return 0
    if args.command in ("all", "shipped"):
        for name in SHIPPED_MODELS if args.command == "all" else args.names:
            print(_summary(*train_and_save(name, SHIPPED_MODELS[name])))
        return 0
    config = dict(_DEFAULTS[args.data], neurons=args.neurons)
    for key in ("lam", "steps", "eta", "batches", "batch_size", "lr", "seed", "patch_size", "n_patches"):
        if getattr(args, key) is not None:
            if args.data == "mnist" and key in ("patch_size", "n_patches"):
                parser.error(f"--{key.replace('_', '-')} applies to --data patches only")
            config[key] = getattr(args, key)
    name = args.name or f"{args.data}-{args.neurons}"
    print(_summary(*train_and_save(name, config, args.out, progress=not args.quiet)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
