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

``defense-cost`` (issue 17): what the full-size comparison (``python -m geomlib.cli.defense``, the 12
``DEFENSE_MODELS`` x 3 seeds x 1,000 digits) costs on this CPU. ``measure_classifier`` with exactly the
command's settings (worst case at ``WORST_CASE_BUDGET``, with BPDA for the LCA models as ``--bpda`` adds, eps 0.05 and 0.1, the first-layer survey, smooth
twins at T = 0.05) runs on a chunk of ``--cost-images`` digits (default 64) of ``mlp-2``, ``lca-mlp-2`` and
``lca-mlp-2-t25``, twice (the second call, compilation excluded, is the one reported): seconds per model x
image of each measurement, MEASURED. Every configuration's forward pass is timed, and each one not measured
is costed as the measured model of its family nearest in forward cost, scaled by the forward-cost ratio:
the plan in hours on 2 cores and 2.5-hour sessions is EXTRAPOLATED and printed as such, with the load
average beside it. Side by side on ``lca-mlp-2-t25``: the worst case as the comparison runs it (the
ensemble only on what PGD-10 and the smaller radii left standing) against the ensemble on every digit.
"""

from __future__ import annotations

import inspect
import os
import time
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

import geomlib as gl
from geomlib._src.defense.measures import worst_case_attacks, worst_case_columns
from geomlib._src.robustness.adaptive import default_bpda_temperature
from benchmarks._timing import BenchResult, Check, Table, block, compare, ratio
from geomlib._src import defense as _df
from geomlib._src.defense.mnist import predict_in_batches

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


# ----------------------------------------------------------------------------- the full-size run's cost

#: The per-image measurements of ``measure_classifier``, in the order it runs them (keys of its ``seconds``).
MEASUREMENTS = ("deepfool", "boundary point", "logit bend", "msd", "pgd", "worst case", "boundary curvature")
#: The full-size comparison to plan: every configuration of ``DEFENSE_MODELS`` x 3 seeds x 1,000 digits.
FULL_RUN_SEEDS, FULL_RUN_DIGITS, SESSION_HOURS = 3, 1000, 2.5


@dataclass(frozen=True)
class CostSizes:
    models: tuple = ("mlp-2", "lca-mlp-2", "lca-mlp-2-t25")  # measured; the others extrapolated
    images: int = 64  # the chunk: digits per measure_classifier call (--cost-images)
    forward_batch: int = 256  # digits per timed forward pass of every configuration
    forward_repeats: int = 7  # cheap (a forward pass); the machine is shared, so many rounds
    pool: int | None = None  # held-out digits the chunk is picked from (None: all, as the comparison)
    settings: dict = field(default_factory=dict)  # overrides of the comparison's settings (quick only)
    standing_model: str = "lca-mlp-2-t25"  # (f): the cheapest LCA model, worst case side by side
    standing_repeats: int = 2


COST_FULL = CostSizes()
COST_QUICK = CostSizes(models=("mlp-2",), images=2, forward_batch=4, forward_repeats=1, pool=64,
                       standing_model="mlp-2", standing_repeats=1,
                       settings={"eps": (0.05,), "pgd_steps": 2, "msd_steps": 20, "k": 1, "lanczos_iterations": 6,
                                 "curvature_tol": 1.0, "survey": (2, 1, 1),
                                 "worst_case": {"steps": 2, "n_targets": 1, "queries": 10, "restarts": 1}})


def comparison_settings() -> tuple[dict, float]:
    """``measure_classifier``'s keywords in ``python -m geomlib.cli.defense`` and the smooth twins'
    temperature: the function's defaults (survey, k, Lanczos, MSD, PGD) with the command's eps
    (0.05, 0.1), key (its ``--seed`` 0) and worst-case budget (``WORST_CASE_BUDGET``); the
    temperature is ``mnist_comparison``'s default."""
    params = inspect.signature(gl.measure_classifier).parameters.values()
    kw = {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY and p.name not in ("devices", "progress")}
    kw.update(eps=(0.05, 0.1), key=0, worst_case=dict(_df.WORST_CASE_BUDGET))
    return kw, inspect.signature(_df.mnist_comparison).parameters["temperature"].default


def _family(name: str) -> str:
    return "LCA" if name.startswith("lca") else "MLP / linear"


def _reference(name: str, measured: Sequence[str], forward: Mapping[str, float]) -> str:
    """The measured model a configuration's cost is scaled from: itself if measured, else the
    measured model of its family (any family if none) nearest in forward cost."""
    if name in measured:
        return name
    pool = [m for m in measured if _family(m) == _family(name)] or list(measured)
    return min(pool, key=lambda m: abs(np.log(forward[m] / forward[name])))


def bench_defense_cost(quick: bool = False, cost_images: int | None = None) -> BenchResult:
    s = COST_QUICK if quick else COST_FULL
    if cost_images is not None:
        s = replace(s, images=cost_images)
    load_start = _loadavg()
    t0 = time.perf_counter()
    kw, temperature = comparison_settings()
    kw.update(s.settings)
    data = gl.load_mnist_subset(seed=0)
    pool = len(data.y_test) if s.pool is None else s.pool
    x_pool, y_pool = data.x_test[:pool], data.y_test[:pool]
    configs = tuple(_df.DEFENSE_MODELS)
    nets = {m: gl.load_classifier(m) for m in configs}
    # The comparison's digits: those every configuration gets right, in order, with seeded targets.
    n_right = int(np.all([np.argmax(predict_in_batches(f, x_pool), axis=1) == y_pool for f in nets.values()],
                         axis=0).sum())
    idx_all, target_all, _ = _df.pick_images({m: (f, None) for m, f in nets.items()}, x_pool, y_pool, n_right, seed=0)
    idx, target = idx_all[:s.images], target_all[:s.images]
    if len(idx) < s.images:
        raise ValueError(f"cost_images: only {n_right} held-out digits are right for every configuration, "
                         f"asked {s.images}")
    x, y = jnp.asarray(x_pool[idx]), jnp.asarray(y_pool[idx])
    means = gl.class_means(data.x_train, data.y_train)

    # Forward cost of every configuration: one jit-compiled batched forward pass, interleaved rounds.
    xf = jnp.asarray(x_pool[:s.forward_batch])
    apply = jax.jit(lambda f, v: f(v))
    for f in nets.values():
        block(apply(f, xf))
    t_fwd = compare({m: (lambda f=f: apply(f, xf)) for m, f in nets.items()}, repeats=s.forward_repeats, warmup=0)
    forward = {m: t_fwd[m].median / len(xf) for m in configs}  # s per image

    # The measured models: a first call (compilation included), then the same call warm.
    per_image, survey, rest, first_s, warm_s, cpu, twins, pgd_cols = {}, {}, {}, {}, {}, {}, {}, {}
    for m in s.models:
        smooth = gl.load_classifier(m, smooth_temperature=temperature)
        params = nets[m].args[0]    # the full-size run adds BPDA to the LCA models' worst case (--bpda)
        bpda = gl.load_classifier(m, smooth_temperature=default_bpda_temperature(params)) if "lca" in params else None
        calls = []
        for call in ("first", "warm"):
            print(f"  defense-cost: {m}, {call} call on {s.images} digits (load average {_loadavg()})", flush=True)
            c0, p0 = time.perf_counter(), time.process_time()
            res = gl.measure_classifier(nets[m], smooth, x, y, target, means, **{**kw, "bpda_fn": bpda})
            calls.append((time.perf_counter() - c0, res.seconds, time.process_time() - p0))
        (first_s[m], _, _), (warm_s[m], sec, cpu_s) = calls
        cpu[m] = cpu_s / warm_s[m]  # CPU seconds this process got per wall second (2 = both cores)
        twins[m], pgd_cols[m] = bpda, np.asarray(res.pgd_correct)
        per_image[m] = {k: sec.get(k, 0.0) / s.images for k in MEASUREMENTS}
        survey[m] = sec.get("first-layer survey", 0.0)
        rest[m] = max(warm_s[m] - sum(sec.values()), 0.0) / s.images  # checks, template cosines, host work
    measured = tuple(s.models)

    # Side by side: the worst case as the comparison runs it (the ensemble only on what PGD-10 and the
    # smaller radii left standing) against the ensemble on every digit at every radius (before 2026-12).
    sm = s.standing_model
    budget, eps_sm, base = dict(kw["worst_case"]), np.asarray(kw["eps"], np.float64), jax.random.key(kw["key"])
    attacks = worst_case_attacks(budget, twins[sm])
    outcome = {}

    def standing_variant():
        outcome["standing"] = worst_case_columns(nets[sm], x, y, eps_sm, pgd_cols[sm], base, budget, twins[sm])[0]
        return jnp.zeros(())

    def every_variant():
        runs = [gl.robust_accuracy(nets[sm], x, y, float(e), "inf", attacks=attacks, key=jax.random.fold_in(base, i),
                                   **budget) for i, e in enumerate(eps_sm)]
        outcome["every"] = np.array([r.robust for r in runs]) & pgd_cols[sm]
        return jnp.zeros(())

    print(f"  defense-cost: {sm}, worst case standing vs every digit, side by side", flush=True)
    t_w = compare({"standing": standing_variant, "every digit": every_variant}, repeats=s.standing_repeats)
    standing_ratio = ratio(t_w["every digit"], t_w["standing"])
    standing_rows = [[name, t_w[name].median / s.images, t_w[name].spread] for name in t_w]
    standing_rows.append(["every digit / standing (median of paired rounds)", standing_ratio, None])
    same = float(np.mean(outcome["standing"] == outcome["every"]))

    # The sign attack's while loop runs until the slowest digit of the batch stops: every digit pays the
    # largest step count. Step counts on the MLP family's measured models (cheap): chunk vs every digit.
    sign_rows = []
    for m in (m for m in measured if _family(m) != "LCA"):
        steps_all = np.asarray(gl.targeted_sign_attack(nets[m], jnp.asarray(x_pool[idx_all]), jnp.asarray(target_all),
                                                       kw["msd_step"], kw["msd_steps"], kw["confidence"]).steps)
        steps_chunk = np.asarray(gl.targeted_sign_attack(nets[m], x, jnp.asarray(target), kw["msd_step"],
                                                         kw["msd_steps"], kw["confidence"]).steps)
        sign_rows.append([m, f"chunk ({s.images})", float(np.mean(steps_chunk)), int(steps_chunk.max()),
                          100 * (1 - np.mean(steps_chunk) / max(steps_chunk.max(), 1))])
        sign_rows.append([m, f"all the comparison's ({n_right})", float(np.mean(steps_all)), int(steps_all.max()),
                          100 * (1 - np.mean(steps_all) / max(steps_all.max(), 1))])

    # The plan: every configuration's cost per image scaled from its reference by the forward-cost ratio.
    plan, plan_rows = {}, []
    for m in configs:
        ref = _reference(m, measured, forward)
        r = forward[m] / forward[ref]
        img = {k: r * v for k, v in per_image[ref].items()}
        img["rest of the call"] = r * rest[ref]
        fixed = r * survey[ref] + max(first_s[ref] - warm_s[ref], 0.0)  # per model run: survey + compilation
        hours = FULL_RUN_SEEDS * (FULL_RUN_DIGITS * sum(img.values()) + fixed) / 3600
        plan[m] = {"img": img, "fixed": fixed, "hours": hours, "ref": ref}
        plan_rows.append([m, _family(m), forward[m] * 1e3, ref, r, sum(img.values()),
                          "MEASURED" if m in measured else "EXTRAPOLATED", hours / FULL_RUN_SEEDS, hours])
    fam_rows, total = [], sum(p["hours"] for p in plan.values())
    for fam in ("MLP / linear", "LCA"):
        ms = [m for m in configs if _family(m) == fam]
        h = sum(plan[m]["hours"] for m in ms)
        fam_rows.append([fam, len(ms), FULL_RUN_SEEDS * len(ms), h, 100 * h / total, h / SESSION_HOURS])
    sessions = int(np.ceil(total / SESSION_HOURS))
    fam_rows.append(["all", len(configs), FULL_RUN_SEEDS * len(configs), total, 100.0, total / SESSION_HOURS])
    by_measure = {k: FULL_RUN_SEEDS * FULL_RUN_DIGITS * sum(p["img"][k] for p in plan.values()) / 3600
                  for k in (*MEASUREMENTS, "rest of the call")}
    by_measure["first-layer survey + compilation (per model run)"] = FULL_RUN_SEEDS * sum(
        p["fixed"] for p in plan.values()) / 3600
    dominant = max(by_measure, key=by_measure.get)

    rows_a = [[k, *(per_image[m][k] for m in measured)] for k in MEASUREMENTS]
    rows_a += [["rest of the call (checks, template cosines)", *(rest[m] for m in measured)],
               ["ALL, s per image", *(sum(per_image[m].values()) + rest[m] for m in measured)],
               ["first-layer survey (s per model)", *(survey[m] for m in measured)],
               ["first call - warm call: compilation, < 0 = load noise (s per model)",
                *(first_s[m] - warm_s[m] for m in measured)],
               ["CPU s this process got per wall s, warm call (2 = both cores)", *(cpu[m] for m in measured)]]
    load_end = _loadavg()
    tables = [
        Table(f"(a) MEASURED: one geomlib.measure_classifier call per model on {s.images} held-out digits (the first "
              f"{s.images} the comparison picks), its settings, warm (second) call; seconds per model x image "
              f"[load average {load_start} at start]", ["measurement", *measured], rows_a),
        Table(f"(b) every configuration: jit forward pass on {len(xf)} digits (median of {s.forward_repeats} "
              f"interleaved rounds) and its cost per image, the reference's scaled by the forward-cost ratio; "
              f"hours for {FULL_RUN_SEEDS} seeds x {FULL_RUN_DIGITS:,} digits",
              ["model", "family", "forward ms/image", "reference", "cost ratio", "s per image", "how",
               "hours per seed", "hours (3 seeds)"], plan_rows),
        Table(f"(c) PLAN, EXTRAPOLATED: {len(configs)} configurations x {FULL_RUN_SEEDS} seeds x "
              f"{FULL_RUN_DIGITS:,} digits, one process on this 2-core CPU: {total:.1f} h = {sessions} sessions "
              f"of {SESSION_HOURS:g} h [load average {load_end} at end]",
              ["family", "configurations", "model runs", "hours", "share (%)", f"{SESSION_HOURS:g} h sessions"],
              fam_rows),
        Table(f"(d) which measurement dominates the full run (EXTRAPOLATED): {dominant}",
              ["measurement", "hours", "share (%)"],
              [[k, v, 100 * v / total] for k, v in sorted(by_measure.items(), key=lambda kv: -kv[1])]),
    ]
    if sign_rows:
        tables.append(Table("(e) the sign attack (MSD) at the comparison's settings: the batch runs until its "
                            "slowest digit stops, so every digit pays the largest step count",
                            ["model", "digits", "mean steps", "max steps", "gradients on stopped digits (%)"],
                            sign_rows))
    tables.append(Table(f"(f) MEASURED side by side on {sm} ({s.standing_repeats} interleaved rounds, "
                        f"{s.images} digits): the worst case with the ensemble only on what PGD-10 and the smaller "
                        f"radii left standing (the comparison's) vs on every digit at every radius; the same "
                        f"verdict on {same:.0%} of digits x radii (random starts differ)",
                        ["worst case", "s per image", "spread"], standing_rows))
    checks = [Check(f"{m}: all measurements, s per image (chunk {s.images}, MEASURED)",
                    sum(per_image[m].values()) + rest[m], None) for m in measured]
    checks += [Check(f"full-size run, {len(configs)} x {FULL_RUN_SEEDS} seeds x {FULL_RUN_DIGITS:,} digits, "
                     f"EXTRAPOLATED (h)", total, None),
               Check(f"full-size run in {SESSION_HOURS:g} h sessions (EXTRAPOLATED)", float(sessions), None),
               Check(f"held-out digits every configuration gets right (of {pool})", float(n_right), None),
               Check(f"{sm} worst case: ensemble on every digit / on what PGD-10 left standing (x, side by side)",
                     standing_ratio, None)]
    notes = [f"settings ({'QUICK: tiny, not ' if s.settings else ''}python -m geomlib.cli.defense --digits all "
             f"--bpda's): {', '.join(f'{k}={v}' for k, v in kw.items() if k != 'bpda_fn')}; BPDA in the LCA models' "
             f"worst case (APGD-CE on the softplus twin at T = lambda/10); smooth twins at T = {temperature:g}",
             "per image = the measurement's seconds in ClassifierMeasures.seconds / digits in the call; the "
             "first-layer survey is per model; 'compilation' is the first call's extra time (paid once per model "
             "and shape in a run; an upper bound, as seeds share compiled code; small when JAX's persistent "
             "compilation cache, which make bench sets, already holds the shapes; the plan counts it as >= 0)",
             "EXTRAPOLATED: a configuration not measured costs its reference's seconds per image x its forward-cost "
             "ratio (same family; LCA cost scales with steps x neurons^2); the worst case also scales with the "
             "digits still standing after each attack, which the ratio does not see (adversarially trained MLPs "
             "keep most digits standing, so all three attacks run on nearly all of them)",
             "all seconds are wall time on this shared machine at the load averages printed: the plan's hours hold "
             "at that load (the CPU-seconds row of (a) says how much of the 2 cores the measured calls got)",
             f"the comparison measures all digits in one call per model: per-image costs at {s.images} digits "
             f"are taken to hold at {FULL_RUN_DIGITS:,} (loops that run until the slowest digit stops, DeepFool "
             f"and the sign attack, cost more per digit on a larger batch; see (e))"]
    per_seed = {m: plan[m]["hours"] / FULL_RUN_SEEDS for m in configs}
    too_long = [f"{m} {h:.1f} h" for m, h in per_seed.items() if h > SESSION_HOURS]
    if too_long:
        notes.append(f"one model run (one seed) longer than a {SESSION_HOURS:g} h session, EXTRAPOLATED: "
                     f"{', '.join(too_long)}; "
                     "the command resumes per model (a killed run loses the model in flight), so such a model "
                     "is run in blocks of digits (--offset K --images 100, one block file each, joined by --merge)")
    if n_right < FULL_RUN_DIGITS and pool == len(data.y_test):
        notes.append(f"only {n_right} of the {pool} held-out digits are right for every configuration: the "
                     f"full-size run takes every held-out digit (--digits all) and measures each model on the "
                     f"digits it gets right, so {FULL_RUN_DIGITS:,} digits per model is an upper bound (x its clean "
                     f"accuracy); the chunk above is of digits every configuration gets right")
    if len(measured) > 1:
        for m in measured:
            others = [o for o in measured if o != m and _family(o) == _family(m)]
            if others:
                o = min(others, key=lambda o: abs(np.log(forward[o] / forward[m])))
                pred = (sum(per_image[o].values()) + rest[o]) * forward[m] / forward[o]
                notes.append(f"check of the forward-cost scaling: {m} predicted from {o} {pred:.3g} s per image, "
                             f"measured {sum(per_image[m].values()) + rest[m]:.3g}")
    lca = next((m for m in configs if _family(m) == "LCA"), None)
    ratios = {f"forward cost {lca}/mlp-2": forward[lca] / forward["mlp-2"]} if lca else {}
    ratios["full-run hours"] = total
    res = BenchResult(title=f"8b. The full-size comparison's cost: measure_classifier per model x image on "
                            f"{', '.join(measured)}, and the plan for {len(configs)} x {FULL_RUN_SEEDS} seeds x "
                            f"{FULL_RUN_DIGITS:,} digits", tables=tables, checks=checks, notes=notes, ratios=ratios)
    res.seconds = time.perf_counter() - t0
    return res


def _loadavg() -> str:
    try:
        return "/".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


BENCHMARKS = {"defense": bench_defense, "defense-cost": bench_defense_cost}


def run(name: str = "defense", quick: bool = False, cost_images: int | None = None) -> BenchResult:
    if name == "defense-cost":
        return bench_defense_cost(quick=quick, cost_images=cost_images)
    return BENCHMARKS[name](quick=quick)
