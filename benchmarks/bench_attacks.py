"""Benchmark 7: attack throughput, batched and jit-compiled vs a per-image Python loop.

The issue: "attack throughput (images per second) for PGD-40 (L-inf) on the mlp-2
classifier, batched (geomlib.pgd on a batch, jit-compiled) versus a plain per-image Python
loop of the same attack (one image at a time, same steps)".

* batched: one call of :func:`geomlib.pgd` on the whole batch (the kernel is compiled once;
  the 40 steps run inside a ``fori_loop``);
* per-image loop: a plain Python loop over images and over the 40 steps, one jit-compiled
  gradient per step on a batch of one image (sign step, projection and clipping in NumPy), i.e.
  the attack written the obvious way. Only a subset of the images is timed for it; rates are
  per image.

Both variants are timed side by side in interleaved rounds (``benchmarks._timing.compare``)
and checked to give the same adversarial images.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

import geomlib as gl
from benchmarks._timing import BenchResult, Check, Table, compare, ratio
from geomlib._src.attacks import attack_loss_grad


@dataclass(frozen=True)
class AttackSizes:
    model: str = "mlp-2"
    batch: int = 256  # images in the batched call
    loop_images: int = 8  # images timed in the per-image loop
    steps: int = 40
    eps: float = 0.1
    repeats: int = 3


FULL = AttackSizes()
QUICK = AttackSizes(batch=8, loop_images=2, steps=3, repeats=2)


def _loop_attack(grad_fn, x, y, eps, steps, step_size):
    """PGD-L-inf one image at a time, the steps in Python (the per-image baseline)."""
    out = []
    for i in range(len(x)):
        x0 = x[i:i + 1]
        xa = x0.copy()
        for _ in range(steps):
            g = np.asarray(grad_fn(jnp.asarray(xa), y[i:i + 1]))
            xa = np.clip(x0 + np.clip(xa + step_size * np.sign(g) - x0, -eps, eps), 0, 1)
        out.append(xa)
    return np.concatenate(out)


def bench_attacks(quick: bool = False) -> BenchResult:
    s = QUICK if quick else FULL
    t0 = time.perf_counter()
    data = gl.load_mnist_subset()
    x = np.asarray(data.x_test[:s.batch])
    y = np.asarray(data.y_test[:s.batch])
    f = gl.load_classifier(s.model)
    step_size = 2.5 * s.eps / s.steps
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    grad_fn = jax.jit(lambda xa, ya: attack_loss_grad(f, xa, ya, jnp.bool_(False)))
    n_loop = min(s.loop_images, s.batch)

    def batched():
        return gl.pgd(f, xj, yj, s.eps, s.steps, step_size)

    def loop():
        return _loop_attack(grad_fn, x[:n_loop], y[:n_loop], s.eps, s.steps, step_size)

    t = compare({"batched": batched, "loop": loop}, repeats=s.repeats, warmup=1)
    agree = float(np.max(np.abs(np.asarray(batched())[:n_loop] - loop())))
    per_image = {"batched": t["batched"].median / s.batch, "loop": t["loop"].median / n_loop}
    speedup = ratio(t["loop"], t["batched"], num_scale=1 / n_loop, den_scale=1 / s.batch)
    rows = [[f"batched gl.pgd ({s.batch} images, jit)", t["batched"].median, per_image["batched"] * 1e3,
             1 / per_image["batched"]],
            [f"per-image Python loop ({n_loop} images)", t["loop"].median, per_image["loop"] * 1e3,
             1 / per_image["loop"]]]
    res = BenchResult(
        title=f"7. Attack throughput: PGD-{s.steps} (L-inf, eps {s.eps:g}) on {s.model}, batched vs per-image loop",
        tables=[Table(f"median of {s.repeats} interleaved rounds", ["variant", "s per call", "ms per image",
                                                                   "images / s"], rows)],
        checks=[Check("speed-up per image, batched vs loop (x)", speedup, None),
                Check("max |x_adv batched - x_adv loop|", agree, 1e-4)],
        notes=[f"speed-up per image {speedup:.0f}x (median over rounds of paired per-image times)",
               "the loop computes one jit-compiled gradient per step per image; only its first "
               f"{n_loop} images are timed"],
        ratios={"per-image time loop/batched": speedup},
    )
    res.seconds = time.perf_counter() - t0
    return res


BENCHMARKS = {"attacks": bench_attacks}


def run(name: str = "attacks", quick: bool = False) -> BenchResult:
    return BENCHMARKS[name](quick=quick)
