"""Run every benchmark and print one table per benchmark plus a summary.

Usage: ``python -m benchmarks [--quick] [--only mlp,lca,hessian,throughput,principal,survey,attacks,defense,defense-cost,autoattack,browser]``.
``survey`` compares the curvature survey's direct contour bend with the 30 x 30 full-grid contour fit
(model evaluations and time per plane, agreement); ``attacks`` compares PGD-40 throughput (images per
second) of the batched, jit-compiled ``geomlib.pgd`` with a per-image Python loop; ``defense`` compares the
throughput (models x images per second) of ``geomlib.measure_classifier``'s robustness and curvature
measurements, batched vs one image at a time; ``autoattack`` times APGD per step against PGD per step and
the AutoAttack-grade worst case (``geomlib.robust_accuracy``) of ``mlp-2`` on 1,000 digits and of ``lca-mlp-2``
on a few (extrapolated; ``--lca-images 1000`` measures it on 1,000); ``defense-cost`` measures
``measure_classifier``'s cost per model x image at the comparison's settings on a chunk of ``--cost-images``
digits (default 64) and plans the full-size comparison from it (extrapolated); ``browser`` times slider-to-paint latency of every
notebook explorer in JupyterLab + headless Chromium.
Exit status is 0 whether targets are met or missed (the table says which).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time


def _loadavg() -> str:
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv=None) -> int:
    from benchmarks import bench_attacks as ba
    from benchmarks import bench_autoattack as baa
    from benchmarks import bench_defense as bd
    from benchmarks import bench_geometry as bg
    from benchmarks import bench_survey as bs

    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke run; targets meaningless)")
    choices = (*bg.BENCHMARKS, *bs.BENCHMARKS, *ba.BENCHMARKS, *bd.BENCHMARKS, *baa.BENCHMARKS, "browser")
    ap.add_argument("--lca-images", type=int, default=None, metavar="N",
                    help="autoattack: digits of the lca-mlp-2 worst case (default 24, extrapolated; 1000 measures it)")
    ap.add_argument("--cost-images", type=int, default=None, metavar="N",
                    help="defense-cost: digits per measure_classifier call (the chunk; default 64)")
    ap.add_argument("--only", default=",".join(choices), help="comma-separated subset of " + ", ".join(choices))
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in choices]
    if unknown:
        ap.error(f"unknown benchmark(s) {unknown}; choose from {list(choices)}")
    if args.lca_images is not None and not 1 <= args.lca_images <= 10000:
        ap.error(f"--lca-images: expected a number of digits in [1, 10000], got {args.lca_images}")
    if args.cost_images is not None and not 1 <= args.cost_images <= 1000:
        ap.error(f"--cost-images: expected a number of digits in [1, 1000], got {args.cost_images}")

    import jax

    from benchmarks._timing import format_checks, format_table

    t_start = time.perf_counter()
    print("geomlib benchmarks" + (" (QUICK: tiny sizes, targets not meaningful)" if args.quick else ""))
    print(f"jax {jax.__version__} on {jax.default_backend()} ({len(jax.devices())} device), "
          f"{os.cpu_count()} CPU cores, python {platform.python_version()}, "
          f"x64={'on' if jax.config.jax_enable_x64 else 'off'}; load average at start {_loadavg()}")
    print("All figures are ratios of variants timed in the same run: warm-up (compile) excluded, "
          "interleaved rounds, medians.", flush=True)
    results = []
    for name in [n for n in names if n != "browser"]:
        module = next((m for m in (bs, ba, bd, baa) if name in m.BENCHMARKS), bg)
        res = (module.run(name, quick=args.quick, lca_images=args.lca_images) if module is baa
               else module.run(name, quick=args.quick, cost_images=args.cost_images) if module is bd
               else module.run(name, quick=args.quick))
        results.append(res)
        print()
        print("=" * 100)
        print(f"{res.title}   [{res.seconds:.0f} s]")
        print("=" * 100)
        for table in res.tables:
            if table.caption:
                print(table.caption)
            print(format_table(table.headers, table.rows))
        print()
        for note in res.notes:
            print(f"  * {note}")
        print()
        print(format_checks(res.checks), flush=True)

    if "browser" in names:
        from benchmarks import bench_browser

        print()
        print("=" * 100)
        print("6. Slider change -> painted figure, in JupyterLab + headless Chromium")
        print("=" * 100, flush=True)
        browser_checks = bench_browser.checks(bench_browser.run(quick=args.quick))
    else:
        browser_checks = []

    print()
    print("=" * 100)
    print("Summary")
    print("=" * 100)
    print(format_checks([c for r in results for c in r.checks] + browser_checks))
    print(f"\ntotal runtime {time.perf_counter() - t_start:.0f} s; load average at end {_loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
