"""Chapter 8's grayscale CIFAR-10 comparison: an MLP with and without an LCA front-end,
trained here, then measured as the MNIST family."""

from __future__ import annotations

import os

from typing import Callable

from geomlib._src.core.checks import check_bool, check_float, check_int
from geomlib._src.core.defaults import LCA_ETA, LCA_STEPS
from geomlib._src.data import TrainTestSplit
from geomlib._src.defense.measures import ClassifierMeasures, compare_classifiers
from geomlib._src.defense.mnist import check_done, pick_images, same_images

#: Settings of the grayscale CIFAR-10 models of :func:`cifar10_models` (a scaled-down version of
#: Paiton et al. 2020: one LCA front-end, 1x overcomplete, and the same MLP without it).
CIFAR10_SETTINGS = {"n_train": 10_000, "neurons": 1024, "lam": 0.5, "steps": LCA_STEPS, "eta": LCA_ETA, "batches": 600,
                    "batch_size": 256, "dict_lr": 5e-3, "hidden": [768], "epochs": 10, "seed": 0}


def _checked_settings(cfg: dict) -> dict:
    """The settings of :func:`cifar10_models`, each checked (naming it)."""
    out = dict(cfg)
    for name in ("n_train", "neurons", "steps", "batches", "batch_size", "epochs"):
        out[name] = check_int(cfg[name], name, 1)
    out["seed"] = check_int(cfg["seed"], "seed", 0, 2 ** 32 - 1)
    out["lam"] = check_float(cfg["lam"], "lam", 0.0)
    out["eta"] = check_float(cfg["eta"], "eta", 0.0, open_low=True)
    out["dict_lr"] = check_float(cfg["dict_lr"], "dict_lr", 0.0, open_low=True)
    hidden = cfg["hidden"]
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, (list, tuple)):
        raise ValueError(f"hidden: expected a list of layer widths, got {hidden!r}")
    out["hidden"] = [check_int(h, f"hidden[{i}]", 1) for i, h in enumerate(hidden)]
    return out


def cifar10_models(folder: str | os.PathLike | None = None, *, progress: bool = True, **settings) -> tuple[dict, TrainTestSplit]:
    """Train the grayscale CIFAR-10 comparison: an MLP with and without an LCA front-end.

    Reads the CIFAR-10 python batches (:func:`geomlib.load_cifar10`: ``folder`` or
    ``$GEOMLIB_CIFAR10``; grayscale as in the paper), trains an LCA dictionary on the first
    ``n_train`` training images (:func:`geomlib.train_lca`), then two classifiers with the
    same hidden layers (:func:`geomlib.train_classifier`): on the pixels (``"mlp-2"``) and
    on the LCA codes (``"lca-mlp-2"``). Settings default to :data:`CIFAR10_SETTINGS`.

    Returns:
      ``(models, split)``: name -> ``(logits_fn, smooth_fn)`` as :func:`compare_classifiers`
      takes, and the data split (for the held-out images).

    Raises:
      ValueError: no CIFAR-10 batches at ``folder`` / ``$GEOMLIB_CIFAR10`` (the message says
      what is missing), or an unknown setting.
    """
    from geomlib._src.classifiers import bind_classifier, train_classifier
    from geomlib._src.data import load_cifar10
    from geomlib._src.lca import train_lca

    unknown = sorted(set(settings) - set(CIFAR10_SETTINGS))
    if unknown:
        raise ValueError(f"settings: unknown {unknown}; expected some of {sorted(CIFAR10_SETTINGS)}")
    cfg = _checked_settings({**CIFAR10_SETTINGS, **settings})
    progress = check_bool(progress, "progress")
    split = load_cifar10(folder)
    n = min(int(cfg["n_train"]), len(split.x_train))
    x, y = split.x_train[:n], split.y_train[:n]
    lca = {k: cfg[k] for k in ("lam", "steps", "eta")}
    dictionary, _ = train_lca(x, int(cfg["neurons"]), **lca, batches=int(cfg["batches"]),
                              batch_size=min(int(cfg["batch_size"]), n), lr=cfg["dict_lr"], seed=cfg["seed"],
                              progress=progress)
    common = {"hidden": cfg["hidden"], "epochs": int(cfg["epochs"]), "batch_size": min(128, n), "seed": cfg["seed"],
              "progress": progress}
    plain, _ = train_classifier(x, y, **common)
    coded, _ = train_classifier(x, y, lca={"phi": dictionary["phi"], **lca}, **common)
    steps = int(cfg["steps"])
    models = {"mlp-2": (bind_classifier(plain), bind_classifier(plain, smooth_temperature=0.05)),
              "lca-mlp-2": (bind_classifier(coded, lca_steps=steps),
                            bind_classifier(coded, lca_steps=steps, smooth_temperature=0.05))}
    return models, split


def cifar10_comparison(folder: str | os.PathLike | None = None, n_images: int = 24, *, seed: int = 0, progress: bool = True,
                       train: dict | None = None, on_model: Callable[[dict, dict], None] | None = None,
                       done: tuple | None = None, **kwargs) -> tuple[dict[str, ClassifierMeasures], dict]:
    """:func:`cifar10_models`, then :func:`compare_classifiers` on ``n_images`` held-out images
    both classify right (seeded random targets, class means of the training images used).
    ``done``: as :func:`mnist_comparison` (the models are trained again, the measured ones
    not measured again).

    Returns:
      ``(results, metadata)`` as :func:`mnist_comparison`.
    """
    from geomlib._src.robustness import class_means

    n_images = check_int(n_images, "n_images")
    seed = check_int(seed, "seed", 0, 2 ** 32 - 1)
    progress = check_bool(progress, "progress")
    if train is not None and not isinstance(train, dict):
        raise ValueError(f"train: expected a dict of settings (see CIFAR10_SETTINGS) or None, got {train!r}")
    done_results, done_meta = check_done(done)
    models, split = cifar10_models(folder, progress=progress, **(train or {}))
    idx, target, n_right = pick_images(models, split.x_test, split.y_test, int(n_images), seed)
    kwargs.setdefault("key", seed)
    n = min(int({**CIFAR10_SETTINGS, **(train or {})}["n_train"]), len(split.x_train))
    meta = {"data": "cifar10-gray", "images": idx.tolist(), "targets": target.tolist(), "n_right_all": n_right,
            "n_test": int(len(split.y_test)), "seed": seed, "train": {**CIFAR10_SETTINGS, **(train or {})},
            "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items() if k != "devices"}}
    same_images(done_meta, meta)
    results = compare_classifiers(models, split.x_test[idx], split.y_test[idx], target,
                                  class_means(split.x_train[:n], split.y_train[:n]), progress=progress,
                                  on_model=None if on_model is None else (lambda r: on_model(r, meta)),
                                  done=done_results, **kwargs)
    return results, meta
