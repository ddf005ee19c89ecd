"""Benchmarks of geomlib's exact plane geometry and principal curvatures.

Every reported figure is a ratio of two variants timed side by side in the same
run (interleaved rounds, medians; see ``benchmarks._timing``), so it survives a
noisy, shared machine. Each ``bench_*`` function takes ``quick=True`` for tiny
sizes (the smoke test) and returns a :class:`~benchmarks._timing.BenchResult`.

Issue targets (checked at full size only; quick runs print them but mean nothing):

1. curvature field / response field on a 64 x 64 grid: MLP 784-256-256-1 <= 3.5,
   LCA (400 neurons, 50 steps, smooth threshold) <= 5;
2. plane_geometry vs forming the D x D Hessian (D = 784) and projecting: >= 150;
3. LCA response field FLOP/s / dense matmul FLOP/s on this machine: >= 0.7;
4. principal curvatures at D = 3072: matrix-free top-5 vs dense (times, ratio, error).
"""

from __future__ import annotations

import functools
import inspect
import math
import time
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial

import geomlib as gl
from benchmarks._timing import BenchResult, Check, Table, compare, fastest, ratio

# ----------------------------------------------------------------------------- sizes


@dataclass(frozen=True)
class Sizes:
    grid: int = 64  # points per axis of the plane grid
    chunks: tuple[int, ...] = (256, 1024, 4096)  # chunk_size values swept (4096 = whole grid)
    mlp: tuple[int, ...] = (784, 256, 256, 1)
    lca_dim: int = 784
    lca_neurons: int = 400
    lca_steps: int = 50
    hess_points: int = 64  # grid points given to the dense-Hessian baseline
    hess_chunk: int = 16
    pc_mlp: tuple[int, ...] = (3072, 256, 1)
    pc_k: int = 5
    dot_rows: tuple[int, ...] = (1024, 4096)  # single jnp.dot shapes shown next to the matmul chain
    repeats: int = 7  # rounds for cheap comparisons
    repeats_mid: int = 3  # rounds for comparisons whose variants take about a second
    repeats_slow: int = 2  # rounds for comparisons whose variants take seconds
    lca_fwd_chunks: tuple[int, ...] = (256, 1024)  # LCA fwd mode is the slowest variant: fewer configs
    lca_fwd_rounds: int = 1
    lca_geometry_warmup: int = 0  # untimed calls before timing LCA plane_geometry (compile is AOT anyway)
    min_sample_s: float = 0.05


FULL = Sizes()
QUICK = Sizes(
    grid=8, chunks=(32,), mlp=(16, 8, 8, 1), lca_dim=16, lca_neurons=8, lca_steps=3,
    hess_points=8, hess_chunk=4, pc_mlp=(48, 8, 1), pc_k=5, dot_rows=(16, 64),
    lca_fwd_chunks=(32,), lca_geometry_warmup=1, repeats=2, repeats_mid=2, repeats_slow=1, min_sample_s=0.0,
)

LCA_LAM = 0.1
LCA_TEMPERATURE = 0.05
LCA_ETA = 1 / 30
NEURON = 0  # the LCA neuron whose response is the field
MODES = ("adjoint", "taylor", "fwd", "rev")  # plane_geometry's Hessian modes, all timed


def _sizes(quick: bool) -> Sizes:
    return QUICK if quick else FULL


def _progress_bar(total: int, desc: str, enabled: bool):
    """A tqdm bar on stderr for the slow comparisons; a no-op callback otherwise."""
    if not enabled:
        return None, (lambda label: None)
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, leave=False, unit="call")

    def update(label: str):
        bar.set_postfix_str(label[:40], refresh=False)
        bar.update(1)

    return bar, update


# ----------------------------------------------------------------------------- models


def make_mlp(sizes: tuple[int, ...], key: int = 0) -> Partial:
    """Smooth (softplus) MLP R^D -> R with parameters bound by Partial."""
    return Partial(gl.mlp, gl.init_mlp(jax.random.PRNGKey(key), list(sizes)))


@functools.lru_cache(maxsize=None)
def _lca_model(steps: int, lam: float, temperature: float | None, neuron: int) -> Callable:
    """One module-level-stable response function per static configuration (jit cache key)."""

    def lca_response(params, x):
        return gl.lca_codes(params["phi"], x, lam, steps=steps, eta=LCA_ETA, temperature=temperature)[neuron]

    return lca_response


def make_lca(dim: int, neurons: int, steps: int, key: int = 2) -> tuple[Partial, jax.Array]:
    """Response of one neuron of an LCA network with a smooth threshold; also returns Phi (D, N)."""
    phi = jax.random.normal(jax.random.PRNGKey(key), (dim, neurons))
    phi = phi / jnp.linalg.norm(phi, axis=0)
    return Partial(_lca_model(steps, LCA_LAM, LCA_TEMPERATURE, NEURON), {"phi": phi}), phi


def mlp_plane(dim: int) -> gl.Plane:
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(1), 3)
    return gl.plane(jax.random.normal(k1, (dim,)), jax.random.normal(k2, (dim,)),
                    origin=0.5 * jax.random.normal(k3, (dim,)))


def lca_plane(phi: jax.Array) -> gl.Plane:
    """Plane through 0 spanned by the neuron's own dictionary element and a random direction."""
    v = jax.random.normal(jax.random.PRNGKey(3), (phi.shape[0],))
    return gl.plane(phi[:, NEURON], v)


# ----------------------------------------------------------------------------- helpers


def _chunk_label(cs: int, n_points: int) -> str:
    return f"{cs} (=full vmap)" if cs >= n_points else str(cs)


# ----------------------------------------------------------------------------- benchmark 1


def _compiled(fn: Callable, *args):
    """``jit(fn)`` compiled ahead of time for ``args``, and XLA's temp-buffer size in MB.

    Timing the compiled executable excludes compilation without spending a warm-up
    execution (LCA calls take seconds). It skips only the public functions' Python-side
    input checks (microseconds); the computation is the one the public call runs.
    """
    compiled = jax.jit(fn).lower(*args).compile()
    try:
        mb = compiled.memory_analysis().temp_size_in_bytes / 1e6
    except Exception:  # memory analysis is backend-dependent; report "-" then
        mb = math.nan
    return functools.partial(compiled, *args), mb


def _field_sweep(title: str, model_desc: str, f: Partial, p: gl.Plane, sizes: Sizes, target: float, *,
                 chunks: dict[str, tuple[int, ...]], repeats: int, rounds: dict[str, int],
                 warmup: dict[str, int], progress: bool, extra_notes: tuple[str, ...] = (),
                 references: dict[str, Callable] | None = None) -> BenchResult:
    """Curvature field (plane_geometry) vs response field (plane_values), modes x chunk sizes.

    chunks / rounds / warmup are keyed by kind: "values" or a mode of ``MODES`` (rounds, warmup:
    default ``repeats`` and 1). ``references``: more callables timed in the same rounds and listed
    with their ratio to the fastest response field (not candidates for either).
    """
    coords = p.grid(sizes.grid)
    n = coords.shape[0] * coords.shape[1]
    variants: dict[str, Callable] = {}
    memory: dict[str, float] = {}
    n_rounds: dict[str, int] = {}
    n_warm: dict[str, int] = {}
    for kind in ("values", *MODES):
        for cs in chunks[kind]:
            if kind == "values":
                name = f"plane_values            chunk {_chunk_label(cs, n)}"
                fn = functools.partial(gl.plane_values, chunk_size=cs)
            else:
                name = f"plane_geometry mode={kind} chunk {_chunk_label(cs, n)}"
                fn = functools.partial(gl.plane_geometry, mode=kind, chunk_size=cs)
            variants[name], memory[name] = _compiled(fn, f, p, coords)
            n_rounds[name] = min(repeats, rounds.get(kind, repeats))
            n_warm[name] = warmup.get(kind, 1)
    for name, fn in (references or {}).items():
        variants[name], memory[name] = fn, math.nan
        n_rounds[name], n_warm[name] = repeats, 1
    total = sum(n_warm[k] + n_rounds[k] for k in variants)
    bar, update = _progress_bar(total, title[:30], progress)
    try:
        t = compare(variants, repeats=repeats, rounds=n_rounds, warmup=n_warm, min_sample_s=sizes.min_sample_s,
                    progress=update)
    finally:
        if bar is not None:
            bar.close()
    values = [t[k] for k in t if k.startswith("plane_values")]
    geoms = [t[k] for k in t if k.startswith("plane_geometry")]
    v_best = fastest(values)
    rows, ratios = [], {}
    for name, tm in t.items():
        r = ratio(tm, v_best)
        ratios[name] = r
        rows.append([name, tm.median * 1e3, r, "-" if math.isnan(memory[name]) else memory[name], len(tm.samples),
                     f"{100 * tm.spread:.0f}%" if len(tm.samples) > 1 else "-"])

    def best(ts):  # ranked by the paired ratio, which is robust to load changing between rounds
        return min(ts, key=lambda g: ratios[g.name])

    g_best = best(geoms)
    by_mode = {m: best([g for g in geoms if f"mode={m} " in g.name]) for m in MODES}
    dflt = inspect.signature(gl.plane_geometry).parameters
    dmode, dchunk = dflt["mode"].default, dflt["chunk_size"].default
    if dmode == "auto":
        from geomlib._src.geometry import auto_mode

        dmode = f"auto -> {auto_mode(f, p)}"
    default = t.get(f"plane_geometry mode={dmode.split(' -> ')[-1]} chunk {_chunk_label(dchunk, n)}")
    head = ratio(g_best, v_best)
    ratios["best_geometry/best_values"] = head
    # Modes compared through their ratios to the common reference (they may have different round counts).
    for m in MODES:
        ratios[f"best_{m}/best_values"] = ratios[by_mode[m].name]
    for a, b in (("fwd", "rev"), ("taylor", "fwd"), ("taylor", "rev"), ("adjoint", "taylor"), ("adjoint", "rev")):
        ratios[f"best_{a}/best_{b}"] = ratios[f"best_{a}/best_values"] / ratios[f"best_{b}/best_values"]
    checks = [Check(f"curvature/response field time, {model_desc.split(',')[0]}", head, target, "<=")]
    cold = sorted(k for k, w in warmup.items() if w == 0)
    how = ("compile excluded (ahead-of-time compiled executables), then one untimed warm-up call each"
           + (f" except {'/'.join(cold)} (seconds per call, no measurable first-call effect once compiled)"
              if cold else ""))
    notes = [
        model_desc,
        f"{coords.shape[0]} x {coords.shape[1]} grid = {n} points; float32; {how}; 'x values' = time / fastest "
        f"plane_values ({v_best.name.split('chunk')[1].strip()}), paired per round, median over the rounds "
        f"the variant took part in (column 'rounds').",
        f"fastest curvature field: {g_best.name.replace('plane_geometry ', '')} -> ratio {head:.2f}; "
        "best of each mode / best values: "
        + ", ".join(f"{m} {ratios[f'best_{m}/best_values']:.2f}" for m in MODES)
        + f"; adjoint / taylor time = {ratios['best_adjoint/best_taylor']:.2f}, adjoint / rev = "
        f"{ratios['best_adjoint/best_rev']:.2f}, taylor / fwd = {ratios['best_taylor/best_fwd']:.2f}.",
    ]
    if default is not None:
        ratios["default_geometry/best_values"] = ratio(default, v_best)
        notes.append(f"library default (mode={dmode!r}, chunk_size={dchunk}): ratio "
                     f"{ratios['default_geometry/best_values']:.2f}.")
    notes.extend(extra_notes)
    notes.append("XLA temp MB = temporary buffers of that compiled call (compiled.memory_analysis()), a proxy for "
                 "peak working memory on top of inputs/outputs; spread = (max - min) / median over rounds.")
    table = Table("", ["variant", "median ms", "x values", "XLA temp MB", "rounds", "spread"], rows)
    return BenchResult(title, checks=checks, tables=[table], notes=notes, ratios=ratios)


def bench_mlp_curvature_field(quick: bool = False) -> BenchResult:
    """Benchmark 1a: curvature field / response field for a smooth MLP, modes x chunk sizes."""
    s = _sizes(quick)
    f = make_mlp(s.mlp)
    desc = f"MLP {'-'.join(map(str, s.mlp))}, softplus, plane through a random origin, extent [-2, 2]^2"
    chunks = {"values": s.chunks, "adjoint": s.chunks, "taylor": s.chunks, "fwd": s.chunks, "rev": s.chunks}
    return _field_sweep("1a. Curvature field / response field: smooth MLP", desc, f, mlp_plane(s.mlp[0]), s, 3.5,
                        chunks=chunks, repeats=s.repeats, rounds={}, warmup={}, progress=False)


def bench_lca_curvature_field(quick: bool = False) -> BenchResult:
    """Benchmark 1b: curvature field / response field for an LCA neuron, modes x chunk sizes.

    The forward-over-forward variants cost 2-3x the reverse ones here (several seconds
    per call), so they are timed at fewer chunk sizes and in the first round only.
    """
    s = _sizes(quick)
    f, phi = make_lca(s.lca_dim, s.lca_neurons, s.lca_steps)
    desc = (f"LCA D={s.lca_dim}, N={s.lca_neurons} neurons, {s.lca_steps} Euler steps (eta=1/30), lambda={LCA_LAM}, "
            f"smooth threshold T={LCA_TEMPERATURE}; response = code of neuron {NEURON}; plane spanned by its "
            f"dictionary element and a random direction, extent [-2, 2]^2")
    chunks = {"values": s.chunks, "adjoint": s.chunks, "taylor": s.chunks, "fwd": s.lca_fwd_chunks, "rev": s.chunks}
    # The matmuls alone: the response field does one (chunk x N) @ (N x N) product per step; the
    # adjoint three in its forward pass (value and two streams) and one in its reverse sweep; the
    # Taylor mode six (value and five streams). The products of one step are independent.
    n_pts, nn, cs = s.grid ** 2, s.lca_neurons, min(DEFAULT_CHUNK, s.grid ** 2)
    x = jax.random.normal(jax.random.PRNGKey(6), (n_pts // cs, 6, cs, nn))
    q = jnp.linalg.qr(jax.random.normal(jax.random.PRNGKey(7), (nn, nn)))[0]
    one, three, six = (f"matmuls only: {k} chain{'s' if k > 1 else ''}, chunk {cs}" for k in (1, 3, 6))
    res = _field_sweep("1b. Curvature field / response field: LCA", desc, f, lca_plane(phi), s, 5.0,
                       chunks=chunks, repeats=s.repeats_mid, rounds={"fwd": s.lca_fwd_rounds},
                       warmup={m: s.lca_geometry_warmup for m in MODES}, progress=not quick,
                       extra_notes=(f"mode='fwd' is timed at chunk sizes {s.lca_fwd_chunks} and in {s.lca_fwd_rounds} "
                                    f"round(s) only, to keep `make bench` short: it is the slowest variant here.",),
                       references={one: functools.partial(matmul_chains, x[:, :1], q, s.lca_steps),
                                   three: functools.partial(matmul_chains, x[:, :3], q, s.lca_steps),
                                   six: functools.partial(matmul_chains, x, q, s.lca_steps)})
    r = res.ratios
    res.notes.append(
        f"'matmuls only': the field's (chunk x N) @ (N x N) products and nothing else, {s.lca_steps} dependent steps "
        f"per chunk. 6 chains / 1 chain = {r[six] / r[one]:.2f}, not 6: independent products keep both cores busier "
        f"than one. Taylor mode: six products per step (value and five streams), {r[six]:.2f} x the response field "
        f"alone; with its elementwise work {r['best_taylor/best_values']:.2f}. Adjoint: three forward chains (value "
        f"and two streams), then one reverse chain, {r[three] + r[one]:.2f} x alone; with its elementwise work and "
        f"the stored carry streams {r['best_adjoint/best_values']:.2f}. The response field is one chain plus one "
        f"threshold, so making it faster raises these ratios: this target (<= 5) and benchmark 3's throughput "
        f"(>= 0.7) bound the response time from both sides, the adjoint's 4 products per step leave room between.")
    return res


# ----------------------------------------------------------------------------- benchmark 2


@functools.partial(jax.jit, static_argnames=("chunk",))
def dense_hessian_geometry(f: Partial, p: gl.Plane, coords: jax.Array, chunk: int):
    """Baseline: per point, the full D x D Hessian (jax.hessian) projected onto [u, v].

    Returns the same quantities as plane_geometry: value, in-plane gradient and
    Hessian, contour curvature.
    """
    basis = jnp.stack([p.u, p.v], axis=1)  # (D, 2)

    def one(ab):
        x = p.origin + ab[0] * p.u + ab[1] * p.v
        value, grad = jax.value_and_grad(f)(x)
        hess = jax.hessian(f)(x)  # (D, D)
        g2 = basis.T @ grad
        h2 = basis.T @ hess @ basis
        return value, g2, h2, gl.contour_curvature(g2, h2)

    return jax.lax.map(one, coords, batch_size=chunk)


def bench_hessian_baseline(quick: bool = False) -> BenchResult:
    """Benchmark 2: plane_geometry vs forming and projecting the dense D x D Hessian."""
    s = _sizes(quick)
    f, p = make_mlp(s.mlp), mlp_plane(s.mlp[0])
    coords = p.grid(s.grid)
    flat = coords.reshape(-1, 2)
    n_all = flat.shape[0]
    idx = np.linspace(0, n_all - 1, s.hess_points).round().astype(int)
    sub = flat[idx]
    t = compare(
        {
            "plane_geometry (library defaults)": functools.partial(gl.plane_geometry, f, p, coords),
            "dense jax.hessian + projection": functools.partial(dense_hessian_geometry, f, p, sub, s.hess_chunk),
        },
        repeats=s.repeats, min_sample_s=s.min_sample_s,
    )
    geo, base = t.values()
    speedup = ratio(base, geo, num_scale=1 / len(idx), den_scale=1 / n_all)
    # Sanity: both give the same in-plane Hessian on the subset.
    h_geo = gl.plane_geometry(f, p, coords).hess.reshape(-1, 2, 2)[idx]
    h_base = dense_hessian_geometry(f, p, sub, s.hess_chunk)[2]
    rel = float(jnp.max(jnp.abs(h_geo - h_base)) / jnp.max(jnp.abs(h_base)))
    rows = [
        [geo.name, n_all, geo.median, geo.median / n_all * 1e6],
        [base.name, len(idx), base.median, base.median / len(idx) * 1e6],
    ]
    notes = [
        f"MLP {'-'.join(map(str, s.mlp))} softplus, D = {s.mlp[0]}, {s.grid} x {s.grid} grid. The baseline (jit + "
        f"lax.map over chunks of {s.hess_chunk} points, value_and_grad + jax.hessian per point, then [u v]^T H [u v]) "
        f"is timed on {len(idx)} evenly spread grid points and scaled per point; a full-grid run would take "
        f"~{base.median / len(idx) * n_all:.0f} s.",
        f"speed-up = (baseline s/point) / (plane_geometry s/point), paired per round, median of {s.repeats}.",
        f"check: max |in-plane Hessian difference| / max |entry| on the subset = {rel:.1e}.",
    ]
    return BenchResult(
        "2. Speed-up over the dense D x D Hessian",
        checks=[Check(f"speed-up vs dense Hessian, D={s.mlp[0]}", speedup, 150.0, ">=")],
        tables=[Table("", ["variant", "points", "median s", "us / point"], rows)],
        notes=notes, ratios={"speedup": speedup},
    )


# ----------------------------------------------------------------------------- benchmark 3


@functools.partial(jax.jit, static_argnames=("steps", "temperature", "chunk"))
def lca_batched(phi: jax.Array, s: jax.Array, steps: int, temperature: float | None, chunk: int) -> jax.Array:
    """Hand-written matrix-matrix LCA on inputs ``s`` (B, D), ``chunk`` rows at a time: the reference formulation."""
    inhibition = phi.T @ phi - jnp.eye(phi.shape[1], dtype=phi.dtype)  # (Phi^T Phi - I), symmetric

    def block_codes(sb):
        drive = sb @ phi  # (chunk, N)

        def step(u, _):
            a = gl.lca_threshold(u, LCA_LAM, temperature)
            return u + LCA_ETA * (drive - u - a @ inhibition), None

        u, _ = jax.lax.scan(step, jnp.zeros_like(drive), None, length=steps)
        return gl.lca_threshold(u, LCA_LAM, temperature)[:, NEURON]

    return jax.lax.map(block_codes, s.reshape(-1, chunk, s.shape[-1])).reshape(-1)


@functools.partial(jax.jit, static_argnames=("steps",))
def matmul_chains(a: jax.Array, q: jax.Array, steps: int) -> jax.Array:
    """Pure matmuls shaped like the LCA field: for each block ``a[i]`` of k (chunk, N) arrays,
    ``steps`` dependent products ``x_j <- x_j @ q`` per array with an (N, N) matrix (orthogonal, so
    values stay bounded); the k products of a step are independent and may run side by side."""

    def block(xs):
        chains = tuple(xs)
        return jnp.stack(jax.lax.scan(lambda c, _: (tuple(y @ q for y in c), None), chains, None, length=steps)[0])

    return jax.lax.map(block, a)


_matmul = jax.jit(jnp.dot)
DEFAULT_CHUNK = inspect.signature(gl.plane_values).parameters["chunk_size"].default
PV = f"plane_values (default chunk {DEFAULT_CHUNK})"


def bench_lca_throughput(quick: bool = False) -> BenchResult:
    """Benchmark 3: LCA response-field FLOP/s as a fraction of this machine's dense matmul FLOP/s."""
    s = _sizes(quick)
    f, phi = make_lca(s.lca_dim, s.lca_neurons, s.lca_steps)
    p = lca_plane(phi)
    coords = p.grid(s.grid)
    n_pts = coords.shape[0] * coords.shape[1]
    d, nn, steps = s.lca_dim, s.lca_neurons, s.lca_steps
    flops_point = 2 * d * nn + steps * 2 * nn * nn  # drive Phi^T s once, then Gram matvec per step
    flops_field = n_pts * flops_point
    x = p.embed(coords.reshape(-1, 2))
    k1, k2 = jax.random.split(jax.random.PRNGKey(4))
    q = jnp.linalg.qr(jax.random.normal(k2, (nn, nn)))[0]
    chunk = min(DEFAULT_CHUNK, n_pts)
    chain = f"dense matmul chain: {n_pts // chunk} x {steps} x ({chunk} x {nn}) @ ({nn} x {nn})"
    variants: dict[str, Callable] = {
        PV: functools.partial(gl.plane_values, f, p, coords),
        f"hand-written matmul scan, chunk {chunk}, smooth threshold":
            functools.partial(lca_batched, phi, x, steps, LCA_TEMPERATURE, chunk),
        f"hand-written matmul scan, chunk {chunk}, hard threshold":
            functools.partial(lca_batched, phi, x, steps, None, chunk),
        chain: functools.partial(matmul_chains, jax.random.normal(k1, (n_pts // chunk, 1, chunk, nn)), q, steps),
    }
    flops = {name: flops_field for name in variants}
    flops[chain] = n_pts * steps * 2 * nn * nn
    machine = [chain]
    for m in s.dot_rows:
        name = f"single jnp.dot ({m} x {nn}) @ ({nn} x {nn})"
        variants[name] = functools.partial(_matmul, jax.random.normal(k1, (m, nn)), q)
        flops[name] = 2 * m * nn * nn
        machine.append(name)
    t = compare(variants, repeats=s.repeats_mid, min_sample_s=s.min_sample_s)
    n_r = s.repeats_mid

    def rate(name, r):  # FLOP/s of variant `name` in round r
        return flops[name] / t[name].samples[r]

    def peak(r):  # strict: the best matmul rate seen in that round
        return max(rate(m, r) for m in machine)

    frac = {name: float(np.median([rate(name, r) / peak(r) for r in range(n_r)])) for name in variants}
    rows = [[name, t[name].median * 1e3, float(np.median([rate(name, r) for r in range(n_r)])) / 1e9, frac[name]]
            for name in variants]
    peak_gf = float(np.median([peak(r) for r in range(n_r)])) / 1e9
    vmap_vs_hand = ratio(t[PV], t[f"hand-written matmul scan, chunk {chunk}, smooth threshold"])
    smooth_vs_hard = ratio(t[f"hand-written matmul scan, chunk {chunk}, smooth threshold"],
                           t[f"hand-written matmul scan, chunk {chunk}, hard threshold"])
    notes = [
        f"LCA D={d}, N={nn}, {steps} steps, smooth threshold T={LCA_TEMPERATURE}, {n_pts} grid points. Counted FLOPs "
        f"per point = 2*D*N (drive) + steps*2*N^2 (Gram matvec) = {flops_point / 1e6:.2f} MFLOP "
        f"({flops_field / 1e9:.1f} GFLOP per field); elementwise work (threshold, Euler update) and the Gram "
        f"matrix formed once per chunk are not counted.",
        f"machine rate = the best of the matmul rows in each round (median {peak_gf:.0f} GFLOP/s in this run); the "
        f"chain has the field's matmul shapes, count and duration, so it sees the same load. 'x matmul' = achieved / "
        f"machine rate, paired per round, median of {n_r}.",
        f"plane_values / hand-written matmul scan (same chunk) = {vmap_vs_hand:.2f} (about 1: vmap already turns the "
        f"per-point Gram matvec inside lax.scan into one (chunk x N) @ (N x N) matmul per step); smooth / hard "
        f"threshold = {smooth_vs_hard:.2f} (cost of softplus on the (chunk x N) state every step).",
    ]
    return BenchResult(
        "3. LCA response-field throughput vs dense matmul",
        checks=[Check("LCA plane_values FLOP/s / matmul FLOP/s", frac[PV], 0.7, ">=")],
        tables=[Table("", ["variant", "median ms", "GFLOP/s", "x matmul"], rows)],
        notes=notes,
        ratios={"fraction": frac[PV], "vmap_vs_hand": vmap_vs_hand, "smooth_vs_hard": smooth_vs_hard,
                **{f"fraction {k}": v for k, v in frac.items()}},
    )


# ----------------------------------------------------------------------------- benchmark 4


def bench_principal_curvatures(quick: bool = False) -> BenchResult:
    """Benchmark 4: principal curvatures at D = 3072, matrix-free top-k vs dense.

    The dense call takes ~10 s here (eigvalsh of a 3071 x 3071 matrix), so it gets one
    warm-up call and ``repeats_slow`` timed rounds; the matrix-free call gets more rounds.
    """
    s = _sizes(quick)
    f = make_mlp(s.pc_mlp)
    dim = s.pc_mlp[0]
    x = jax.random.normal(jax.random.PRNGKey(5), (dim,))
    dense_name = "dense (k=None): jax.hessian + eigvalsh"
    variants = {
        dense_name: functools.partial(gl.principal_curvatures, f, x),
        f"matrix-free top-{s.pc_k} (HVP + scipy eigsh)": functools.partial(gl.principal_curvatures, f, x, s.pc_k),
    }
    rounds = {dense_name: s.repeats_slow}
    bar, update = _progress_bar(2 + s.repeats_slow + s.repeats_mid, "4. principal curvatures", not quick)
    try:
        t = compare(variants, repeats=s.repeats_mid, rounds=rounds, min_sample_s=s.min_sample_s, progress=update)
    finally:
        if bar is not None:
            bar.close()
    dense, mf = t.values()
    speedup = ratio(dense, mf)
    kd = np.asarray(gl.principal_curvatures(f, x), np.float64)
    km = np.asarray(gl.principal_curvatures(f, x, s.pc_k), np.float64)
    top = np.sort(kd[np.argsort(-np.abs(kd))[: s.pc_k]])[::-1]  # which="LM": largest |kappa|
    err = float(np.max(np.abs(top - km)))
    rows = [[dense.name, dense.median, len(dense.samples)], [mf.name, mf.median, len(mf.samples)]]
    notes = [
        f"MLP {'-'.join(map(str, s.pc_mlp))} softplus at a random point x (D = {dim}); float32; one warm-up call "
        f"each; ratio paired per round (median over the rounds both took part in).",
        f"top-{s.pc_k} by magnitude (which='LM'): dense {np.array2string(top, precision=5)}, "
        f"matrix-free {np.array2string(km, precision=5)}; max |difference| = {err:.1e} "
        f"(relative to max |kappa| {err / np.max(np.abs(top)):.1e}).",
    ]
    return BenchResult(
        f"4. Principal curvatures at D = {dim}: matrix-free top-{s.pc_k} vs dense",
        checks=[Check(f"dense time / matrix-free top-{s.pc_k} time", speedup, None),
                Check(f"max |top-{s.pc_k} difference| (dense vs matrix-free)", err, None)],
        tables=[Table("", ["variant", "median s", "rounds"], rows)],
        notes=notes, ratios={"dense/matrix-free": speedup},
    )


BENCHMARKS: dict[str, Callable[..., BenchResult]] = {
    "mlp": bench_mlp_curvature_field,
    "lca": bench_lca_curvature_field,
    "hessian": bench_hessian_baseline,
    "throughput": bench_lca_throughput,
    "principal": bench_principal_curvatures,
}


def run(name: str, quick: bool = False) -> BenchResult:
    t0 = time.perf_counter()
    res = BENCHMARKS[name](quick=quick)
    res.seconds = time.perf_counter() - t0
    return res
