"""Chapter 5's MNIST comparison: the shipped model family measured on the same held-out digits."""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from geomlib._src.core.checks import check_int
from geomlib._src.defense.measures import ClassifierMeasures, compare_classifiers

#: The MNIST model family of chapter 5 (all shipped: :data:`geomlib.SHIPPED_CLASSIFIERS`), by what varies:
#: no front-end (linear; MLPs plain, with a curvature penalty, adversarially trained) and LCA
#: front-ends varying sparsity (lam), overcompleteness (1568 neurons) and LCA steps.
DEFENSE_MODELS = ("linear", "mlp-2", "mlp-2-cure", "mlp-2-pgd", "mlp-3", "lca-mlp-2", "lca-mlp-2-lam0.1",
                  "lca-mlp-2-lam0.5", "lca-mlp-2-t25", "lca-mlp-2-t150", "lca1568-mlp-2", "lca-mlp-3")


def pick_images(nets: Mapping[str, tuple], x: ArrayLike, y: np.ndarray, n_images: int, seed: int,
                num_classes: int = 10) -> tuple[np.ndarray, np.ndarray, int]:
    """The first ``n_images`` rows of ``x`` that every model of ``nets`` (name -> ``(logits_fn,
    smooth_fn)``) classifies right, and a seeded random other class for each.

    Returns:
      ``(rows, targets, number right for every model)``.
    """
    right = np.all([np.asarray(jnp.argmax(predict_in_batches(f, x), axis=1)) == y for f, _ in nets.values()], axis=0)
    idx = np.flatnonzero(right)[:n_images]
    if len(idx) < n_images:
        raise ValueError(f"n_images: only {len(idx)} held-out images are right for every model, asked {n_images}")
    rng = np.random.default_rng(seed)
    target = (y[idx] + rng.integers(1, num_classes, len(idx))) % num_classes
    return idx, target, int(right.sum())


def predict_in_batches(f, x: ArrayLike, batch: int = 500) -> np.ndarray:
    """``f`` (batched logits) on ``x`` in slices of ``batch`` rows, as one numpy array."""
    return np.concatenate([np.asarray(f(jnp.asarray(x[s:s + batch]))) for s in range(0, len(x), batch)])


def mnist_comparison(models: Sequence[str] = DEFENSE_MODELS, n_images: int = 24, *, seed: int = 0,
                     temperature: float = 0.05, directory=None, progress: bool = True,
                     on_model: Callable[[dict, dict], None] | None = None, **kwargs
                     ) -> tuple[dict[str, ClassifierMeasures], dict]:
    """Measure the shipped MNIST classifiers ``models`` on the same held-out digits.

    The digits are the first ``n_images`` of the 1,000 held-out digits of
    :func:`geomlib.load_mnist_subset` (``seed`` 0 split) that every model classifies right;
    the sign attack's target for each is a seeded random other class; the template
    cosine uses the training digits' class means; the boundary curvature uses each
    model's softplus twin at ``temperature``.

    Args:
      models: shipped classifier names (or files in ``directory``).
      n_images: digits measured.
      seed: of the targets (and of the random planes, unless ``key`` is given).
      on_model: called with ``(results so far, metadata)`` after each model.
      kwargs: passed to :func:`measure_classifier` (eps, survey, msd_steps, devices, ...).

    Returns:
      ``(results, metadata)``: name -> :class:`ClassifierMeasures`, and a dict with the
      digit indices, targets, sizes and settings (what :func:`save_comparison` stores).
    """
    from geomlib._src.classifiers import load_classifier
    from geomlib._src.data import load_mnist_subset
    from geomlib._src.robustness import class_means

    n_images = check_int(n_images, "n_images")
    data = load_mnist_subset(seed=0)
    nets = {m: (load_classifier(m, directory=directory),
                load_classifier(m, smooth_temperature=temperature, directory=directory)) for m in models}
    idx, target, n_right = pick_images(nets, data.x_test, data.y_test, int(n_images), seed)
    kwargs.setdefault("key", seed)
    meta = {"data": "mnist", "images": idx.tolist(), "targets": target.tolist(), "n_right_all": n_right,
            "n_test": int(len(data.y_test)), "temperature": temperature, "seed": seed,
            "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items() if k != "devices"},
            "devices": [str(d) for d in (kwargs.get("devices") or jax.local_devices())]}
    results = compare_classifiers(nets, data.x_test[idx], data.y_test[idx], target,
                                  class_means(data.x_train, data.y_train), progress=progress,
                                  on_model=None if on_model is None else (lambda r: on_model(r, meta)), **kwargs)
    return results, meta
