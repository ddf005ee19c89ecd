"""Is the worst-case budget of chapter 8 large enough? The worst case at the stated budget and at
a larger one on the same digits: if the larger budget breaks no more digits, the stated one has
converged (Carlini et al. 2019: "more steps and restarts stop lowering accuracy")."""

from __future__ import annotations

import json
import os
import time
from typing import Mapping, Sequence

import jax
import numpy as np

from geomlib._src.core.checks import check_bool, check_int
from geomlib._src.core.files import write_text
from geomlib._src.defense.measures import worst_case_attacks
from geomlib._src.defense.mnist import DEFENSE_MODELS, bpda_twins, check_model_names, pick_images
from geomlib._src.robustness import robust_accuracy


def worst_case_convergence(models: Sequence[str], n_images: int, *, eps: Sequence[float] = (0.05, 0.1),
                           budgets: Mapping[str, Mapping[str, int]], seed: int = 0,
                           pick_models: Sequence[str] = DEFENSE_MODELS, out: str | os.PathLike | None = None,
                           progress: bool = True, bpda: bool = False) -> dict:
    """:func:`geomlib.robust_accuracy` of each model at each budget, on the first ``n_images``
    digits of chapter 8's comparison (the held-out digits every model of ``pick_models`` gets
    right, in order, as :func:`geomlib.mnist_comparison` picks them).

    Args:
      models: shipped classifier names.
      n_images: digits, an integer >= 1.
      eps: L-inf radii.
      budgets: name -> budget (keys among ``steps``, ``restarts``, ``n_targets``, ``queries``).
      seed: the worst case's random starts (``jax.random.key(seed)`` folded with the radius index,
        as :func:`geomlib.measure_classifier` does).
      pick_models: the models whose common right digits are used.
      out: a JSON file to write (atomically), or None.
      bpda: BPDA joins the worst case of the LCA models at every budget (as in
        ``mnist_comparison(bpda=True)``: :func:`geomlib._src.defense.measures.worst_case_attacks`).

    Returns:
      a JSON-ready dict: ``images`` (indices into the held-out digits), ``eps``, ``budgets``,
      ``models`` -> {``robust``: budget -> ``(E, n)`` lists of bools, ``broken_by``: the same
      with indices into ``attacks`` (the attacks' names, in the order they ran), ``seconds``: budget ->
      per-radius seconds}, ``bpda``, ``seconds`` (total) and ``command``.
    """
    from geomlib._src.classifiers import load_classifier
    from geomlib._src.data import load_mnist_subset

    models = check_model_names(models)
    n_images = check_int(n_images, "n_images")
    seed = check_int(seed, "seed", 0, 2 ** 32 - 1)
    progress = check_bool(progress, "progress")
    bpda = check_bool(bpda, "bpda")
    if not isinstance(budgets, Mapping) or not budgets:
        raise ValueError(f"budgets: expected a non-empty dict name -> budget, got {budgets!r}")
    start = time.perf_counter()
    data = load_mnist_subset(seed=0)
    nets = {m: (load_classifier(m), None) for m in check_model_names(pick_models)}
    idx, _, _ = pick_images(nets, data.x_test, data.y_test, n_images, seed)
    x, y = data.x_test[idx], data.y_test[idx]
    record = {"command": "python -m geomlib.cli.defense --convergence", "images": idx.tolist(),
              "eps": [float(e) for e in eps], "budgets": {k: dict(v) for k, v in budgets.items()}, "seed": seed,
              "bpda": bpda, "models": {}}
    classifiers = {m: load_classifier(m) for m in models}
    twins = bpda_twins(classifiers, {}) if bpda else {}
    for m in models:
        f = classifiers[m]
        entry = {"robust": {}, "broken_by": {}, "seconds": {}}
        for name, budget in budgets.items():
            runs = []
            for i, e in enumerate(eps):
                runs.append(robust_accuracy(f, x, y, float(e), "inf", key=jax.random.fold_in(jax.random.key(seed), i),
                                            attacks=worst_case_attacks(budget, twins.get(m)), **budget))
                if progress:
                    print(f"  {m}, {name}, eps {e:g}: {runs[-1].robust_accuracy:.1%} ({sum(runs[-1].seconds):.0f} s)",
                          flush=True)
            entry["robust"][name] = [np.asarray(r.robust, bool).tolist() for r in runs]
            entry["broken_by"][name] = [np.asarray(r.broken_by, int).tolist() for r in runs]
            entry["seconds"][name] = [float(sum(r.seconds)) for r in runs]
            entry["attacks"] = list(runs[0].attack_names) if runs else []
        record["models"][m] = entry
        record["seconds"] = time.perf_counter() - start
        if out is not None:
            write_text(out, json.dumps(record, indent=1) + "\n")
    record["seconds"] = time.perf_counter() - start
    if out is not None:
        write_text(out, json.dumps(record, indent=1) + "\n")
    return record
