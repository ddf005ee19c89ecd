"""Chapter 8's MNIST comparison: the shipped model family measured on the same held-out digits."""

from __future__ import annotations

import os

from typing import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from geomlib._src.core.checks import check_bool, check_float, check_int
from geomlib._src.defense.measures import ClassifierMeasures, compare_classifiers

#: The MNIST model family of chapter 8 (all shipped: :data:`geomlib.SHIPPED_CLASSIFIERS`), by what varies:
#: no front-end (linear; MLPs plain, with a curvature penalty, adversarially trained) and LCA
#: front-ends varying sparsity (lam), overcompleteness (1568 neurons) and LCA steps.
DEFENSE_MODELS = ("linear", "mlp-2", "mlp-2-cure", "mlp-2-pgd", "mlp-3", "lca-mlp-2", "lca-mlp-2-lam0.1",
                  "lca-mlp-2-lam0.5", "lca-mlp-2-t25", "lca-mlp-2-t150", "lca1568-mlp-2", "lca-mlp-3")


#: Which held-out digits :func:`mnist_comparison` measures.
DIGIT_CHOICES = ("common", "all")


def pick_images(nets: Mapping[str, tuple], x: ArrayLike, y: np.ndarray, n_images: int, seed: int,
                num_classes: int = 10, every: bool = False) -> tuple[np.ndarray, np.ndarray, int]:
    """The first ``n_images`` rows of ``x`` that every model of ``nets`` (name -> ``(logits_fn,
    smooth_fn)``) classifies right (with ``every``: the first ``n_images`` rows), and a seeded
    random other class for each.

    Returns:
      ``(rows, targets, number right for every model)``.
    """
    right = np.all([np.asarray(jnp.argmax(predict_in_batches(f, x), axis=1)) == y for f, _ in nets.values()], axis=0)
    idx = (np.arange(len(y)) if every else np.flatnonzero(right))[:n_images]
    if len(idx) < n_images:
        raise ValueError(f"n_images: only {len(idx)} held-out images are right for every model, asked {n_images}")
    rng = np.random.default_rng(seed)
    target = (y[idx] + rng.integers(1, num_classes, len(idx))) % num_classes
    return idx, target, int(right.sum())


def bpda_twins(nets: Mapping[str, Callable], directories: Mapping[str, str | os.PathLike | None]) -> dict:
    """name -> the softplus twin at T = lambda / 10 (as :func:`geomlib.lca_bpda`) of every loaded
    classifier of ``nets`` with an LCA front-end, loaded from its folder in ``directories``: the
    gradients BPDA follows in the comparison's worst case."""
    from geomlib._src.classifiers import load_classifier
    from geomlib._src.robustness.adaptive import default_bpda_temperature

    return {m: load_classifier(m, directory=directories.get(m),
                               smooth_temperature=default_bpda_temperature(f.args[0]))
            for m, f in nets.items() if "lca" in f.args[0]}


def predict_in_batches(f, x: ArrayLike, batch: int = 500) -> np.ndarray:
    """``f`` (batched logits) on ``x`` in slices of ``batch`` rows, as one numpy array."""
    return np.concatenate([np.asarray(f(jnp.asarray(x[s:s + batch]))) for s in range(0, len(x), batch)])


def mnist_comparison(models: Sequence[str] = DEFENSE_MODELS, n_images: int = 24, *, seed: int = 0,
                     temperature: float = 0.05, directory: str | os.PathLike | None = None, progress: bool = True,
                     on_model: Callable[[dict, dict], None] | None = None,
                     done: tuple[Mapping[str, ClassifierMeasures], Mapping] | None = None,
                     seed_dir: str | os.PathLike | None = None, offset: int = 0, digits: str = "common",
                     bpda: bool = False, **kwargs) -> tuple[dict[str, ClassifierMeasures], dict]:
    """Measure the shipped MNIST classifiers ``models`` on the same held-out digits.

    The digits are the first ``n_images`` of the 1,000 held-out digits of
    :func:`geomlib.load_mnist_subset` (``seed`` 0 split) that every model classifies right
    (``digits="common"``), or simply the first ``n_images`` (``digits="all"``: each model is
    measured on those it classifies right, and the others count as broken, so that robust
    accuracy is over the held-out digits as on a test set: ``clean_correct`` of
    :class:`ClassifierMeasures`); the sign attack's target for each is a seeded random other class; the template
    cosine uses the training digits' class means; the boundary curvature uses each
    model's softplus twin at ``temperature``.

    Args:
      models: shipped classifier names (or files in ``directory``); with ``seed_dir``, also
        extra seeds ``"<shipped>-s<k>"`` (``python -m geomlib.cli.train seeds``).
      n_images: digits measured.
      seed: of the targets (and of the random planes, unless ``key`` is given).
      on_model: called with ``(results so far, metadata)`` after each model measured.
      done: ``(results, metadata)`` of an earlier run of this comparison (what
        :func:`load_comparison` returns for an interrupted run's file): its models are not
        measured again (see :func:`compare_classifiers`); its digits and targets must be
        this call's.
      seed_dir: None, or the folder of the extra seeds: every ``"<shipped>-s<k>"`` of
        ``models`` is loaded from there (the others as without it).
      offset: skip the first ``offset`` of those digits (and their targets): a block of a
        comparison measured in blocks, merged afterwards with
        :func:`geomlib._src.defense.runs.merge_comparison_files`; 0 by default.
      digits: ``"common"`` (the digits every model gets right; the default) or ``"all"``
        (every held-out digit; with all 1,000 the full-size comparison).
      bpda: with a worst-case budget (``worst_case=``), add BPDA to the worst case of every
        model with an LCA front-end: APGD-CE following the gradient of its softplus twin at
        T = lambda / 10 (as :func:`geomlib.lca_bpda`), judged on the model itself
        (``bpda_fn`` of :func:`measure_classifier`). Chapter 7 found it the adaptive attack that
        breaks digits the standard ones miss on these models (the implicit gradient and transfer
        from ``mlp-2`` broke none). False by default (the default-size file's worst case).
      kwargs: passed to :func:`measure_classifier` (eps, survey, msd_steps, devices, ...).

    Returns:
      ``(results, metadata)``: name -> :class:`ClassifierMeasures`, and a dict with the
      digit indices, targets, sizes and settings (what :func:`save_comparison` stores).
    """
    from geomlib._src.classifiers import load_classifier
    from geomlib._src.data import load_mnist_subset
    from geomlib._src.robustness import class_means

    from geomlib._src.params_io import SHIPPED_CLASSIFIERS, split_seeded_name

    models = check_model_names(models)
    if seed_dir is not None and (isinstance(seed_dir, bool) or not isinstance(seed_dir, (str, os.PathLike))
                                 or not str(seed_dir)):
        raise ValueError(f"seed_dir: expected None or a folder path, got {seed_dir!r}")

    def seeded(m: str) -> bool:
        base = split_seeded_name(m) if seed_dir is not None else None
        return base is not None and base[0] in SHIPPED_CLASSIFIERS

    if directory is None:
        unknown = [m for m in models if m not in SHIPPED_CLASSIFIERS and not seeded(m)]
        if unknown:
            also = " or their seeds <name>-s<k> (seed_dir)" if seed_dir is not None else ""
            raise ValueError(f"models: expected shipped classifiers ({', '.join(SHIPPED_CLASSIFIERS)}){also}, "
                             f"got {unknown}")
    n_images = check_int(n_images, "n_images")
    offset = check_int(offset, "offset", 0)
    seed = check_int(seed, "seed", 0, 2 ** 32 - 1)
    temperature = check_float(temperature, "temperature", 0.0, open_low=True)
    progress = check_bool(progress, "progress")
    bpda = check_bool(bpda, "bpda")
    if bpda and kwargs.get("worst_case") is None:
        raise ValueError("bpda: BPDA is an attack of the worst case; give worst_case a budget, or bpda=False")
    if not isinstance(digits, str) or digits not in DIGIT_CHOICES:
        raise ValueError(f"digits: expected one of {DIGIT_CHOICES}, got {digits!r}")
    done_results, done_meta = check_done(done)
    data = load_mnist_subset(seed=0)
    if n_images + offset > len(data.y_test):
        raise ValueError(f"n_images, offset: expected at most the {len(data.y_test)} held-out digits, got "
                         f"{n_images} from digit {offset}")
    where = {m: seed_dir if seeded(m) else directory for m in models}
    nets = {m: (load_classifier(m, directory=where[m]),
                load_classifier(m, smooth_temperature=temperature, directory=where[m])) for m in models}
    idx, target, n_right = pick_images(nets, data.x_test, data.y_test, int(n_images + offset), seed,
                                       every=digits == "all")
    idx, target = idx[offset:], target[offset:]   # a block: the targets drawn as for the whole list
    kwargs.setdefault("key", seed)
    if digits == "all":
        kwargs["misclassified"] = "broken"
    if bpda:
        kwargs["bpda"] = bpda_twins({m: nets[m][0] for m in models}, where)
    meta = {"data": "mnist", **({"digits": digits} if digits != "common" else {}),
            "images": idx.tolist(), "targets": target.tolist(), "n_right_all": n_right,
            "n_test": int(len(data.y_test)), "temperature": temperature, "seed": seed,
            "settings": {**{k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items()
                            if k not in ("devices", "misclassified", "bpda")}, **({"bpda": True} if bpda else {})},
            "devices": [str(d) for d in (kwargs.get("devices") or jax.local_devices())]}
    same_images(done_meta, meta)
    results = compare_classifiers(nets, data.x_test[idx], data.y_test[idx], target,
                                  class_means(data.x_train, data.y_train), progress=progress,
                                  on_model=None if on_model is None else (lambda r: on_model(r, meta)),
                                  done=done_results, **kwargs)
    return results, meta


def seed_groups(results: Mapping[str, ClassifierMeasures]) -> dict[str, dict[int, ClassifierMeasures]]:
    """A seeded comparison's results (keyed ``name`` for seed 0, ``"<name>-s<k>"`` for seed k,
    see ``mnist_comparison(seed_dir=...)``) grouped by configuration: ``{name: {seed: measures}}``,
    in the order of the results (what :func:`geomlib.seed_spread` takes). A name that is
    neither a shipped classifier nor one of its seeds is a configuration of its own (seed 0).

    >>> seed_groups({"mlp-2": 1, "mlp-2-s1": 2, "linear": 3})
    {'mlp-2': {0: 1, 1: 2}, 'linear': {0: 3}}
    """
    from geomlib._src.params_io import split_seeded_name

    if not isinstance(results, Mapping):
        raise ValueError(f"results: expected a dict of model name -> measures, got {type(results).__name__}")
    groups: dict[str, dict[int, ClassifierMeasures]] = {}
    for name, measures in results.items():
        base, seed = split_seeded_name(name) or (name, 0)
        groups.setdefault(base, {})[seed] = measures
    return groups


def check_model_names(models) -> tuple[str, ...]:
    """``models`` as a non-empty tuple of names (a single string is refused: it is not a list)."""
    if isinstance(models, (str, bytes)) or not isinstance(models, (tuple, list)) or not models:
        raise ValueError(f"models: expected a non-empty list or tuple of classifier names, got {models!r}")
    bad = [m for m in models if not isinstance(m, str) or not m]
    if bad:
        raise ValueError(f"models: expected classifier names (strings), got {bad!r}")
    if len(set(models)) != len(models):
        raise ValueError(f"models: expected distinct names, got {list(models)}")
    return tuple(models)


def check_done(done) -> tuple[dict | None, dict | None]:
    """``done`` of the comparisons: None or ``(results, metadata)``."""
    if done is None:
        return None, None
    if not (isinstance(done, (tuple, list)) and len(done) == 2 and isinstance(done[0], Mapping)
            and isinstance(done[1], Mapping)):
        raise ValueError("done: expected (results, metadata) as load_comparison returns, or None")
    return dict(done[0]), dict(done[1])


def same_images(done_meta, meta) -> None:
    """Raise unless an earlier run (``done_meta``) picked the images and targets of this one (``meta``)."""
    if done_meta is None:
        return
    for key in ("data", "images", "targets"):
        if done_meta.get(key) != meta[key]:
            raise ValueError(f"done: measured on other {key} ({str(done_meta.get(key))[:80]} vs this run's "
                             f"{str(meta[key])[:80]}): not the same comparison")
