"""Shared timing helper: side-by-side, interleaved, median-based.

The machine the benchmarks run on is small and shared, so absolute times drift by
factors of two within a minute. Every figure the suite reports is therefore a
*ratio* of variants timed in the same run, in interleaved rounds:

1. warm-up: each variant is called ``warmup`` times and the result blocked on
   (``jax.block_until_ready``), so compilation and first-run effects are excluded;
2. calibration: a variant faster than ``min_sample_s`` is repeated ``number``
   times per sample so that timer and dispatch noise stay small;
3. rounds: in each of ``repeats`` rounds every variant is timed once, in an order
   rotated from round to round (no variant always runs first or last);
4. ratios are the median over rounds of the per-round ratio (:func:`ratio`), so
   both sides of a ratio were measured seconds apart under the same load.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import jax


_CALIBRATE_BELOW_S = 2.0


def block(x: Any) -> Any:
    """Wait for every array in ``x`` (any pytree) to be computed."""
    return jax.block_until_ready(x)


def _time_once(fn: Callable[[], Any], number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        block(fn())
    return (time.perf_counter() - t0) / number


@dataclass
class Timing:
    """Per-call times of one variant, one sample per round (seconds)."""

    name: str
    samples: list[float]
    number: int = 1
    warmup_s: float = math.nan  # first call(s), compilation included

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """(max - min) / median of the samples: a rough noise indicator."""
        return (max(self.samples) - min(self.samples)) / self.median


def compare(
    variants: Mapping[str, Callable[[], Any]],
    *,
    repeats: int = 5,
    warmup: int | Mapping[str, int] = 1,
    rounds: Mapping[str, int] | None = None,
    min_sample_s: float = 0.0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Timing]:
    """Time zero-argument callables side by side in interleaved rounds.

    Args:
      variants: name -> callable returning JAX arrays (blocked on after each call).
      repeats: number of interleaved rounds, >= 1.
      warmup: untimed calls per variant before the rounds (compilation), >= 0; an
        int for all variants or a mapping name -> count (missing names: 1). Use 0
        only for callables that are already compiled (``jit(...).lower().compile()``).
      rounds: optional name -> number of rounds (<= repeats) for expensive variants;
        they take part in the first rounds only, so they stay paired with the others.
      min_sample_s: a variant whose warm-up call is faster than this is called
        ``number = ceil(min_sample_s / t)`` times per sample (per-call time reported).
      progress: called with a short label after each warm-up and each timed call.

    Returns:
      name -> :class:`Timing`, in the order of ``variants``.
    """
    names = list(variants)
    warm_n = {n: (warmup if isinstance(warmup, int) else warmup.get(n, 1)) for n in names}
    n_rounds = {n: min(repeats, (rounds or {}).get(n, repeats)) for n in names}
    if repeats < 1 or min(warm_n.values(), default=0) < 0 or min(n_rounds.values(), default=1) < 1:
        raise ValueError(f"expected repeats and rounds >= 1 and warmup >= 0, got {repeats}, {rounds}, {warmup}")
    number: dict[str, int] = {}
    warm: dict[str, float] = {}
    for name in names:
        fn = variants[name]
        warmup = warm_n[name]
        t0 = time.perf_counter()
        for _ in range(warmup):
            block(fn())
        warm[name] = time.perf_counter() - t0
        number[name] = 1
        if min_sample_s > 0 and (warmup == 0 or warm[name] / warmup < _CALIBRATE_BELOW_S):
            # One more (warm) call to calibrate; skipped for variants whose warm-up call was
            # slow, so that calibration never costs more than ~_CALIBRATE_BELOW_S per variant.
            t = _time_once(fn, 1)
            if t < min_sample_s:
                number[name] = max(1, math.ceil(min_sample_s / max(t, 1e-9)))
        if progress is not None:
            progress(f"warm-up {name}")
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        active = [n for n in names if n_rounds[n] > r]
        k = r % len(active)
        for name in active[k:] + active[:k]:
            samples[name].append(_time_once(variants[name], number[name]))
            if progress is not None:
                progress(f"round {r + 1}/{repeats} {name}")
    return {name: Timing(name, samples[name], number[name], warm[name]) for name in names}


def ratio(num: Timing, den: Timing, *, num_scale: float = 1.0, den_scale: float = 1.0) -> float:
    """Median over rounds of ``(num * num_scale) / (den * den_scale)``, paired by round.

    Both timings must come from the same :func:`compare` call; when one variant took
    part in fewer rounds, the rounds both took part in are paired.
    """
    return statistics.median(
        (a * num_scale) / (b * den_scale) for a, b in zip(num.samples, den.samples)
    )


def fastest(timings: Sequence[Timing]) -> Timing:
    """The timing with the smallest median."""
    return min(timings, key=lambda t: t.median)


@dataclass
class Check:
    """A reported figure against its target: PASS/MISS, never adjusted."""

    name: str
    value: float
    target: float | None  # None: reported only, the issue sets no target
    sense: str = "<="  # "<=" or ">="

    @property
    def passed(self) -> bool | None:
        if self.target is None:
            return None
        if not math.isfinite(self.value):
            return False
        return self.value <= self.target if self.sense == "<=" else self.value >= self.target

    @property
    def status(self) -> str:
        return {True: "PASS", False: "MISS", None: "(report)"}[self.passed]


@dataclass
class Table:
    caption: str
    headers: list[str]
    rows: list[list[Any]]


@dataclass
class BenchResult:
    """What one benchmark function returns (printed by ``python -m benchmarks``)."""

    title: str
    checks: list[Check] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ratios: dict[str, float] = field(default_factory=dict)  # every ratio reported
    seconds: float = math.nan  # wall time of the benchmark itself


def fmt(x: Any) -> str:
    """Compact human formatting of numbers for tables."""
    if isinstance(x, str):
        return x
    if x is None:
        return "-"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    ax = abs(x)
    if ax == 0:
        return "0"
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 0.01:
        return f"{x:.3g}" if ax < 1 else f"{x:.2f}"
    return f"{x:.2e}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), sep] + [line(r) for r in cells[1:]])


def format_checks(checks: Sequence[Check]) -> str:
    rows = [[c.name, c.value, "no target" if c.target is None else f"{c.sense} {fmt(c.target)}", c.status]
            for c in checks]
    return format_table(["figure", "measured", "target", "status"], rows)
