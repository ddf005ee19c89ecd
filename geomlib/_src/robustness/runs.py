r"""The full robustness evaluation of the chapter-7 classifiers, resumable in chunks of images,
behind ``python -m geomlib.cli.robustness`` (no library logic in the command).

Parts, each saved to one ``.npz`` after every chunk (atomically, with
:func:`geomlib._src.core.files.write_npz`), so a killed run loses at most the chunk in flight:

- ``worst``: per model, image and radius, correct under PGD-10 (the old measure), and under
  the worst case over the attacks of :func:`model_attacks` (each run only on the images still
  standing, a radius only on the images that survived the smaller ones);
- ``minimal``: per model, on the first ``check_images`` digits, the minimal L2 perturbation
  (:func:`minimal_perturbation`; through BPDA for the LCA models, so the search is adaptive);
- ``checks``: :func:`robustness_checks` of ``mlp-2`` and ``lca-mlp-2`` (those in ``models``);
- ``sweep``: :func:`steps_sweep` on ``lca-mlp-2``;
- ``budget``: the digits left standing by the worst case of ``mlp-2`` and ``lca-mlp-2``,
  attacked again with four times the steps and two restarts (and BPDA at four times the
  steps for the LCA): does a larger budget lower the worst case further?
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from geomlib._src.attacks.apgd import apgd, apgd_targeted
from geomlib._src.attacks import check_steps
from geomlib._src.classifiers import load_classifier
from geomlib._src.core.checks import check_choice, check_float, check_int, check_path
from geomlib._src.core.files import ResultFileError, read_npz, require, write_npz
from geomlib._src.data import load_mnist_subset
from geomlib._src.params_io import SHIPPED_CLASSIFIERS
from geomlib._src.robustness.adaptive import (
    bpda_logits,
    default_bpda_temperature,
    lca_implicit_logits,
    steps_sweep,
    transfer_attack,
)
from geomlib._src.robustness.autoattack import robust_accuracy
from geomlib._src.robustness.worst import Attack, apgd_attack, square_attack_fn
from geomlib._src.robustness.checks import robustness_checks
from geomlib._src.robustness.evaluation import correct_under_attack
from geomlib._src.robustness.minimal_distance import minimal_perturbation

EVAL_MODELS = ("lca-mlp-2", "mlp-2", "linear", "mlp-3", "lca-mlp-3")
EVAL_EPS = (0.05, 0.1, 0.15)
COMMAND = "python -m geomlib.cli.robustness"
PARTS = ("worst", "minimal", "checks", "sweep", "budget")


def _apgd(loss: str, steps: int, surrogate=None) -> Attack:
    def attack(f, x, y, eps, norm, key):
        return apgd(f, x, y, eps, norm=norm, loss=loss, steps=steps, key=key, surrogate=surrogate)
    return attack


def _apgd_t(steps: int, n_targets: int) -> Attack:
    def attack(f, x, y, eps, norm, key):
        return apgd_targeted(f, x, y, eps, norm=norm, n_targets=n_targets, steps=steps, key=key)
    return attack


def model_attacks(name: str, *, steps: int = 50, n_targets: int = 2, queries: int = 500) -> dict:
    r"""The attacks of the worst case for the shipped classifier ``name``, in the order they run:
    ``apgd-ce`` (``steps``), ``apgd-t`` (targeted DLR, ``n_targets`` runner-up classes x
    ``steps``), ``square`` (``queries``); for an LCA model also ``bpda`` (APGD-CE following the
    softplus twin's gradient, T = lambda / 10), ``implicit`` (APGD-CE following the fixed-point
    gradient) and ``transfer-mlp-2`` (APGD-CE computed on ``mlp-2``). Returns name -> Attack."""
    check_choice(name, "name", SHIPPED_CLASSIFIERS)
    steps, queries = check_steps(steps, "steps"), check_steps(queries, "queries")
    n_targets = check_int(n_targets, "n_targets", 1)
    attacks = {"apgd-ce": _apgd("ce", steps), "apgd-t": _apgd_t(steps, n_targets), "square": square_attack_fn(queries)}
    if name.startswith("lca"):
        f = load_classifier(name)
        params, lca_steps = f.args[0], f.func.lca_steps
        smooth = load_classifier(name, smooth_temperature=default_bpda_temperature(params))
        attacks["bpda"] = _apgd("ce", steps, surrogate=smooth)
        attacks["implicit"] = _apgd("ce", steps, surrogate=lca_implicit_logits(params, lca_steps=lca_steps))
        attacks["transfer-mlp-2"] = transfer_attack(load_classifier("mlp-2"), _apgd("ce", steps))
    return attacks


def accuracy_interval(correct: np.ndarray, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> tuple:
    r"""Accuracy and its percentile bootstrap interval over images.

    ``correct`` bool ``(..., n)`` (n images on the last axis; leading axes, e.g. radii, share
    the same resampled images so curves stay paired). Returns ``(acc, lo, hi)``, each of
    shape ``correct.shape[:-1]``: the fraction correct and the ``(1 - level) / 2`` and
    ``(1 + level) / 2`` quantiles of the fraction over ``n_boot`` resamplings of the images
    with replacement (Efron & Tibshirani 1993).

    >>> acc, lo, hi = accuracy_interval(np.array([True] * 80 + [False] * 20))
    >>> float(acc), round(float(lo), 2), round(float(hi), 2)
    (0.8, 0.72, 0.88)
    """
    raw = np.asarray(correct) if correct is not None and not isinstance(correct, (str, bytes)) else None
    if raw is None or raw.dtype != np.bool_:
        raise TypeError(f"correct: expected a bool array (..., n), got {type(correct).__name__}"
                        + ("" if raw is None else f" of dtype {raw.dtype}"))
    c = raw
    if c.ndim < 1 or c.shape[-1] < 1:
        raise ValueError(f"correct: expected a bool array (..., n) with n >= 1, got shape {c.shape}")
    n_boot = check_int(n_boot, "n_boot", 1, 10 ** 7)
    level = check_float(level, "level", 0.0, 1.0, open_low=True)
    if not level < 1:
        raise ValueError(f"level: expected a finite number in (0, 1), got {level!r}")
    seed = check_int(seed, "seed", 0)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, c.shape[-1], size=(n_boot, c.shape[-1]))
    boot = c[..., idx].mean(axis=-1)  # (..., n_boot)
    q = [(1 - level) / 2, (1 + level) / 2]
    lo, hi = np.quantile(boot, q, axis=-1)
    return c.mean(axis=-1), lo, hi


def _settings(images, eps, chunk, steps, n_targets, queries, seed) -> dict:
    return {"images": images, "eps": list(eps), "chunk": chunk, "steps": steps, "n_targets": n_targets,
            "queries": queries, "seed": seed, "data": "load_mnist_subset(seed=0).x_test[:images]"}


def load_robustness_run(path: str | Path) -> dict:
    """The arrays of a results file of :func:`robustness_run` (``settings`` parsed from JSON).

    Raises:
      ResultFileError (a ValueError): not such a file, e.g. another command's results with
        ``settings`` and ``command`` too (its settings lack a robustness run's keys).
    """
    data = read_npz(check_path(path), what="robustness results", command=COMMAND)
    require(data, ("settings", "command"), path, what="robustness results", command=COMMAND)
    try:
        settings = json.loads(str(data["settings"]))
    except ValueError:
        settings = None
    want = _settings(0, (), 0, 0, 0, 0, 0)
    if (not isinstance(settings, dict) or set(want) - set(settings) or isinstance(settings["images"], bool)
            or not isinstance(settings["images"], int)):
        raise ResultFileError(f"{path}: not a robustness results file (its settings lack "
                              f"{sorted(set(want) - set(settings)) if isinstance(settings, dict) else 'a JSON dict'}"
                              f" or have no digit count); write it with `{COMMAND}`")
    data["settings"] = settings
    return data


def merge_robustness_runs(out: str | Path, other: str | Path) -> list[str]:
    """Copy into ``out`` the parts of ``other`` (a results file of the same settings, e.g. from
    a second process run at the same time) that ``out`` lacks; write ``out`` atomically.
    Returns the keys copied. ValueError if the settings differ."""
    a, b = load_robustness_run(out), load_robustness_run(other)
    if a["settings"] != b["settings"]:
        raise ValueError(f"{other}: written with other settings {b['settings']} than {out} ({a['settings']})")
    prefixes = {k.rsplit("/", 1)[0] for k in b if "/" in k and k.rsplit("/", 1)[0] + "/" not in
                {p.rsplit("/", 1)[0] + "/" for p in a if "/" in p}}
    new = [k for k in b if "/" in k and k.rsplit("/", 1)[0] in prefixes]
    arrays = {k: v for k, v in a.items() if k != "settings"}
    arrays.update({k: b[k] for k in new})
    commands = [c for c in f"{a['command']} && {b['command']}".split(" && ") if c]
    arrays["command"] = np.asarray(" && ".join(dict.fromkeys(commands)))  # each command once, in order
    arrays["settings"] = np.asarray(json.dumps(a["settings"], sort_keys=True))
    write_npz(out, arrays)
    return new


def robustness_run(out, *, models: Sequence[str] = EVAL_MODELS, parts: Sequence[str] = PARTS, images: int = 200,
                   eps: Sequence[float] = EVAL_EPS, chunk: int = 100, steps: int = 50, n_targets: int = 2,
                   queries: int = 500, seed: int = 0, check_images: int = 100, restart: bool = False,
                   progress: bool = True, command: str = COMMAND) -> dict:
    """Run (or resume) the evaluation into ``out``; returns the arrays written. See the module doc."""
    from tqdm.auto import tqdm

    out = Path(out)
    settings = _settings(images, eps, chunk, steps, n_targets, queries, seed)
    data: dict = {}
    if out.exists() and not restart:
        data = load_robustness_run(out)
        if data["settings"] != settings:
            raise ValueError(f"{out}: written with other settings {data['settings']}; pass --restart "
                             f"(or another --out) to run with {settings}")
    data["settings"] = settings
    before = str(data.get("command", ""))
    data["command"] = np.asarray(command if before in ("", command) else f"{before} && {command}")

    def save():
        arrays = {k: v for k, v in data.items() if k != "settings"}
        arrays["settings"] = np.asarray(json.dumps(settings, sort_keys=True))
        write_npz(out, arrays)

    split = load_mnist_subset(seed=0)
    x_all = np.asarray(split.x_test[:images], np.float32)
    y_all = np.asarray(split.y_test[:images], np.int32)
    key = jax.random.key(seed)
    eps = np.asarray(eps, np.float64)
    starts = list(range(0, images, chunk))

    if "worst" in parts:
        for m, name in enumerate(models):
            f = load_classifier(name)
            attacks = model_attacks(name, steps=steps, n_targets=n_targets, queries=queries)
            names = ("pgd-10",) + tuple(attacks)
            p = f"worst/{name}/"
            if p + "done" not in data:
                data.update({p + "done": np.zeros(len(starts), bool), p + "clean": np.zeros(images, bool),
                             p + "pgd10": np.zeros((len(eps), images), bool),
                             p + "robust": np.zeros((len(eps), images), bool),
                             p + "broken_by": np.full((len(eps), images), -2, np.int8),
                             p + "attacks": np.asarray(names), p + "seconds": np.zeros(len(starts))})
            todo = [c for c in range(len(starts)) if not data[p + "done"][c]]
            for c in tqdm(todo, desc=f"worst case {name}", disable=not progress):
                t0 = time.perf_counter()
                sl = slice(starts[c], starts[c] + chunk)
                x, y = jnp.asarray(x_all[sl]), jnp.asarray(y_all[sl])
                pgd10 = np.asarray(correct_under_attack(f, x, y, eps, 10, 2.5, "inf", None))
                standing = np.asarray(jnp.argmax(f(x), axis=1) == y)
                data[p + "clean"][sl] = standing
                by = np.where(standing, -1, -2).astype(np.int8)
                for e in range(len(eps)):
                    by = np.where(standing & ~pgd10[e], 0, by).astype(np.int8)
                    standing = standing & pgd10[e]
                    res = robust_accuracy(f, x, y, float(eps[e]), "inf", attacks=list(attacks.items()),
                                          key=jax.random.fold_in(jax.random.fold_in(key, m), c * 100 + e),
                                          standing=standing)
                    by = np.where(res.broken_by >= 0, res.broken_by + 1, by).astype(np.int8)
                    standing = res.robust
                    data[p + "pgd10"][e, sl], data[p + "robust"][e, sl], data[p + "broken_by"][e, sl] = \
                        pgd10[e], standing, by
                data[p + "done"][c] = True
                data[p + "seconds"][c] = time.perf_counter() - t0
                save()

    if "budget" in parts:
        for m, name in enumerate([n for n in ("mlp-2", "lca-mlp-2") if n in models]):
            p = f"budget/{name}/"
            if p + "robust" in data or f"worst/{name}/robust" not in data:
                continue
            t0 = time.perf_counter()
            f = load_classifier(name)
            big = {f"apgd-ce-{4 * steps}x2": apgd_attack("ce", 4 * steps, 2)}
            if name.startswith("lca"):
                smooth = load_classifier(name, smooth_temperature=default_bpda_temperature(f.args[0]))
                big[f"bpda-{4 * steps}"] = _apgd("ce", 4 * steps, surrogate=smooth)
            rows = []
            for e in tqdm(range(len(eps)), desc=f"budget x4 {name}", disable=not progress):
                standing = data[f"worst/{name}/robust"][e]
                if standing.any():
                    standing = robust_accuracy(f, jnp.asarray(x_all), jnp.asarray(y_all), float(eps[e]), "inf",
                                               attacks=list(big.items()), key=jax.random.fold_in(key, 1000 + 10 * m + e),
                                               standing=standing).robust
                rows.append(standing)
            data[p + "robust"], data[p + "attacks"] = np.stack(rows), np.asarray(list(big))
            data[p + "seconds"] = np.asarray(time.perf_counter() - t0)
            save()

    if "minimal" in parts:
        for name in models:
            f = load_classifier(name)
            if name.startswith("lca"):
                params = f.args[0]
                f = bpda_logits(f, load_classifier(name, smooth_temperature=default_bpda_temperature(params)))
            p = f"minimal/{name}/"
            if p + "done" not in data:
                data.update({p + "done": np.zeros(len(starts), bool), p + "distance": np.full(images, np.inf),
                             p + "method": np.full(images, -2, np.int8), p + "per_method": np.full((3, images), np.inf),
                             p + "methods": np.asarray(("deepfool", "cw", "search")),
                             p + "seconds": np.zeros(len(starts))})
            todo = [c for c in range(len(starts)) if not data[p + "done"][c] and starts[c] < check_images]
            for c in tqdm(todo, desc=f"minimal L2 {name}", disable=not progress):
                t0 = time.perf_counter()
                sl = slice(starts[c], starts[c] + chunk)
                res = minimal_perturbation(f, jnp.asarray(x_all[sl]), jnp.asarray(y_all[sl]), "2", cw_targets=1,
                                           cw_steps=100, cw_search_steps=1, search_rounds=6, search_steps=20)
                data[p + "distance"][sl], data[p + "method"][sl], data[p + "per_method"][:, sl] = \
                    res.distance, res.method, res.per_method
                data[p + "done"][c] = True
                data[p + "seconds"][c] = time.perf_counter() - t0
                save()

    if "checks" in parts:
        x, y = jnp.asarray(x_all[:check_images]), jnp.asarray(y_all[:check_images])
        for name in [m for m in ("mlp-2", "lca-mlp-2") if m in models]:
            p = f"checks/{name}/"
            if p + "ok" in data:
                continue
            t0 = time.perf_counter()
            print(f"checks {name} ({check_images} digits, eps 0.1) ...", flush=True)
            res = robustness_checks(load_classifier(name), x, y, eps=0.1, attack="apgd", steps=25,
                                    transfer_from=load_classifier("mlp-3" if name == "mlp-2" else "mlp-2"),
                                    gradient_free=square_attack_fn(queries), key=jax.random.fold_in(key, 7))
            data[p + "names"] = np.asarray([c.name for c in res.checks])
            data[p + "ok"] = np.asarray([-1 if c.ok is None else int(c.ok) for c in res.checks], np.int8)
            data[p + "value"] = np.asarray([c.value for c in res.checks], np.float64)
            data[p + "detail"] = np.asarray([c.detail for c in res.checks])
            data[p + "acc_names"] = np.asarray(list(res.accuracy))
            data[p + "acc"] = np.asarray(list(res.accuracy.values()), np.float64)
            data[p + "seconds"] = np.asarray(time.perf_counter() - t0)
            save()

    if "sweep" in parts:
        x, y = jnp.asarray(x_all[:check_images]), jnp.asarray(y_all[:check_images])
        params = load_classifier("lca-mlp-2").args[0]
        for e in (0.05, 0.1):
            p = f"sweep/{e:g}/"
            if p + "names" in data:
                continue
            t0 = time.perf_counter()
            print(f"steps sweep lca-mlp-2 ({check_images} digits, eps {e:g}) ...", flush=True)
            res = steps_sweep(params, x, y, e, attacker_steps=(10, 25, 75, 150), defender_steps=75,
                              attack=_apgd("ce", steps), key=jax.random.fold_in(key, 11))
            data[p + "names"] = np.asarray(list(res.accuracy))
            data[p + "correct"] = np.stack([res.correct[k] for k in res.accuracy])
            data[p + "seconds"] = np.asarray(time.perf_counter() - t0)
            save()
    save()
    return data
