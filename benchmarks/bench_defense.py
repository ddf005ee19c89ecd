"""Benchmark 8: throughput of the curvature-vs-robustness measurements, batched vs a per-image loop.

:func:`geomlib.measure_classifier` measures a batch of images at once (DeepFool, MSD and PGD
jit-compiled on the whole batch; boundary curvatures by Lanczos vmapped over the images;
logit bends by the survey's chunked contour kernel). This benchmark times it on the shipped
``mlp-2`` and ``lca-mlp-2`` (smooth twins at T = 0.05 for the curvature) on held-out digits
both classify right:

* batched: one call per model on all ``images`` digits;
* per-image loop: the same call on one digit at a time (``loop_images`` digits per model).

Each call records the wall time of each measurement (``ClassifierMeasures.seconds``), so one
run gives two throughputs per variant, in models x images per second: *robustness*
(DeepFool, the boundary crossing on its path, MSD of the sign attack, PGD at each radius) and
*curvature* (boundary principal curvatures on the smooth twin, logit bend). The first-layer
survey is per model, not per image, and is left out (``survey=None``). Both variants are
warmed up first (compilation excluded) and timed in interleaved rounds
(``benchmarks._timing.compare``); the speed-up is the median over rounds of the paired ratio
of per-image times. The loop's results are checked against the batched ones on the same digits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

import geomlib as gl
from benchmarks._timing import BenchResult, Check, Table, compare, ratio
from geomlib._src import defense as _df

ROBUSTNESS = ("deepfool", "boundary point", "msd", "pgd")
CURVATURE = ("boundary curvature", "logit bend")


@dataclass(frozen=True)
class DefenseSizes:
    models: tuple = ("mlp-2", "lca-mlp-2")
    images: int = 16  # held-out digits in the batched call
    loop_images: int = 4  # digits measured one at a time
    repeats: int = 3  # interleaved timing rounds
    temperature: float = 0.05
    settings: dict = field(default_factory=dict)  # measure_classifier keywords (its defaults if empty)


FULL = DefenseSizes()
QUICK = DefenseSizes(models=("mlp-2",), images=2, loop_images=1, repeats=1,
                     settings={"eps": (0.05,), "pgd_steps": 2, "msd_steps": 20, "k": 1, "lanczos_iterations": 6,
                               "curvature_tol": 1.0})


def _seconds(records, names):
    """Seconds spent in the measurements ``names``, summed over a list of seconds dicts."""
    return sum(r[n] for r in records for n in names if n in r)


def bench_defense(quick: bool = False) -> BenchResult:
    s = QUICK if quick else FULL
    t0 = time.perf_counter()
    data = gl.load_mnist_subset()
    nets = {m: (gl.load_classifier(m), gl.load_classifier(m, smooth_temperature=s.temperature)) for m in s.models}
    idx, target, _ = _df.pick_images(nets, data.x_test, data.y_test, s.images, seed=0)
    x, y = data.x_test[idx], data.y_test[idx]
    means = gl.class_means(data.x_train, data.y_train)
    kw = dict(survey=None, **s.settings)
    n_loop = min(s.loop_images, s.images)
    log = {"batched": [], "loop": []}  # per call: (model, seconds dict, measures)

    def batched():
        out = []
        for name, (f, smooth) in nets.items():
            m = gl.measure_classifier(f, smooth, x, y, target, means, **kw)
            out.append((name, m.seconds, m))
        log["batched"].append(out)

    def loop():
        out = []
        for name, (f, smooth) in nets.items():
            for i in range(n_loop):
                m = gl.measure_classifier(f, smooth, x[i:i + 1], y[i:i + 1], target[i:i + 1], means, **kw)
                out.append((name, m.seconds, m))
        log["loop"].append(out)

    t = compare({"batched": batched, "loop": loop}, repeats=s.repeats, warmup=1)
    rounds = {v: log[v][-s.repeats:] for v in log}  # the timed calls (warm-up dropped)
    n_models = len(nets)
    per = {v: n_models * (s.images if v == "batched" else n_loop) for v in log}  # model-images per call

    def rates(kind):
        names = ROBUSTNESS if kind == "robustness" else CURVATURE
        secs = {v: [_seconds([sec for _, sec, _ in calls], names) for calls in rounds[v]] for v in log}
        rate = {v: per[v] / float(np.median(secs[v])) for v in log}
        speedup = float(np.median([(a / per["loop"]) / (b / per["batched"])
                                   for a, b in zip(secs["loop"], secs["batched"])]))
        return rate, speedup

    rob, rob_speedup = rates("robustness")
    curv, curv_speedup = rates("curvature")
    total_speedup = ratio(t["loop"], t["batched"], num_scale=1 / per["loop"], den_scale=1 / per["batched"])
    # the loop measures the first n_loop digits: same numbers as the batched call on them
    last_b = {name: m for name, _, m in log["batched"][-1]}
    diffs = {"deepfool_distance": 0.0, "msd": 0.0, "logit_bend": 0.0, "boundary_curvature": 0.0}
    for k, (name, _, m) in enumerate(log["loop"][-1]):
        i = k % n_loop
        for fld in diffs:
            a, b = np.asarray(getattr(m, fld), float)[0], np.asarray(getattr(last_b[name], fld), float)[i]
            if fld == "logit_bend":  # the random plane of image n is drawn by its position n in the batch:
                a, b = a[:1], b[:1]  # compare the comparison plane only
            ok = np.isfinite(a) & np.isfinite(b)
            if fld in ("deepfool_distance", "msd") and np.any(np.isfinite(a) != np.isfinite(b)):
                diffs[fld] = np.inf
            elif ok.any():  # curvatures: a NaN (unconverged) on one side only is not a difference
                diffs[fld] = max(diffs[fld], float(np.max(np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-3))))
    rows = []
    for label, v in (("batched", "batched"), ("per-image loop", "loop")):
        n = s.images if v == "batched" else n_loop
        rows.append([f"{label} ({n} digits x {n_models} models)", t[v].median, rob[v], curv[v],
                     per[v] / t[v].median])
    rows.append(["speed-up per image, batched vs loop (x)", None, rob_speedup, curv_speedup, total_speedup])
    res = BenchResult(
        title=(f"8. Curvature and robustness measurements (geomlib.measure_classifier) on "
               f"{', '.join(s.models)}: batched vs per-image loop"),
        tables=[Table(f"median of {s.repeats} interleaved rounds; rates in models x images per second",
                      ["variant", "s per call", "robustness / s", "curvature / s", "all / s"], rows)],
        checks=[Check("robustness (DeepFool + MSD + PGD) batched, models x images / s", rob["batched"], None),
                Check("robustness, per-image loop, models x images / s", rob["loop"], None),
                Check("curvature (boundary curvature + logit bend) batched, models x images / s", curv["batched"], None),
                Check("curvature, per-image loop, models x images / s", curv["loop"], None),
                Check("speed-up per image, robustness, batched vs loop (x)", rob_speedup, None),
                Check("speed-up per image, curvature, batched vs loop (x)", curv_speedup, None),
                Check("max rel. difference loop vs batched, DeepFool distance", diffs["deepfool_distance"], 1e-4),
                Check("max rel. difference loop vs batched, MSD", diffs["msd"], 1e-4),
                Check("max rel. difference loop vs batched, logit bend (comparison plane)", diffs["logit_bend"], None),
                Check("max rel. difference loop vs batched, boundary curvature", diffs["boundary_curvature"], None)],
        notes=[f"robustness: {', '.join(ROBUSTNESS)}; curvature: {', '.join(CURVATURE)} (as timed inside "
               "measure_classifier, block_until_ready after each); 'all' is the whole call incl. validation "
               "and template cosines",
               f"per-image loop: the same measure_classifier call on one digit at a time, first {n_loop} digits "
               "per model; warm-up (compilation of both batch shapes) excluded",
               "the random plane of each digit is drawn by its position in the batch (fold_in(key, n)), so the "
               "loop (always position 0) and the batch bend it differently: only the comparison planes are compared",
               f"settings: measure_classifier defaults{'' if not s.settings else ' except ' + str(s.settings)}, "
               f"survey off, smooth twins at T = {s.temperature:g}"],
        ratios={"per-image time loop/batched, robustness": rob_speedup,
                "per-image time loop/batched, curvature": curv_speedup,
                "per-image time loop/batched, whole call": total_speedup},
    )
    res.seconds = time.perf_counter() - t0
    return res


BENCHMARKS = {"defense": bench_defense}


def run(name: str = "defense", quick: bool = False) -> BenchResult:
    return BENCHMARKS[name](quick=quick)
