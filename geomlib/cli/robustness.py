"""Evaluate the chapter-7 classifiers the way the field does, and save the results.

    python -m geomlib.cli.robustness                                   # 200 digits, every part (chapter 7's file)
    python -m geomlib.cli.robustness --parts worst --models mlp-2 --images 50 --out /tmp/r.npz

On the first ``--images`` held-out digits of ``load_mnist_subset(seed=0)`` (chapter 6's), for
each of ``--models``: accuracy under PGD-10 (the old measure) and under the worst case over
APGD-CE, APGD-T and Square (plus BPDA, implicit-gradient and transfer attacks for the LCA
models) at each L-inf radius of ``--eps``; the minimal L2 perturbation per digit; the
robustness checks of ``mlp-2`` and ``lca-mlp-2``; the attacker-steps sweep on ``lca-mlp-2``
(:mod:`geomlib._src.robustness.runs`). The file is written atomically after each chunk of
``--chunk`` digits and the command **resumes** by default (``--restart`` starts afresh;
other settings are refused rather than overwritten). Each chunk's measured time is stored
in the file, with the command. Two processes may run different parts into two files at
once; ``--merge OTHER`` then copies OTHER's parts into ``--out``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m geomlib.cli.robustness", description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=None, help="comma-separated shipped classifiers "
                    "(default: lca-mlp-2,mlp-2,linear,mlp-3,lca-mlp-3)")
    ap.add_argument("--parts", default="worst,minimal,checks,sweep,budget", help="comma-separated parts to run "
                    "(worst,minimal,checks,sweep,budget)")
    ap.add_argument("--images", type=int, default=200, help="held-out digits (200)")
    ap.add_argument("--eps", default="0.05,0.1,0.15", help="comma-separated increasing L-inf radii")
    ap.add_argument("--chunk", type=int, default=100, help="digits per saved chunk (100)")
    ap.add_argument("--steps", type=int, default=50, help="APGD steps per attack (50; AutoAttack: 100)")
    ap.add_argument("--targets", type=int, default=2, help="APGD-T target classes (2; AutoAttack: 9)")
    ap.add_argument("--queries", type=int, default=500, help="Square attack queries (500; AutoAttack: 5000)")
    ap.add_argument("--check-images", type=int, default=100, help="digits for the checks and the sweep (100)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the attacks' random starts (0)")
    ap.add_argument("--out", default="notebooks/results/robustness-mnist-200.npz", help="output .npz")
    ap.add_argument("--restart", action="store_true", help="start afresh, overwriting --out")
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    ap.add_argument("--merge", default=None, metavar="OTHER",
                    help="only copy into --out the parts of OTHER (same settings) that --out lacks, then exit")
    args = ap.parse_args(argv)

    from geomlib._src.params_io import SHIPPED_CLASSIFIERS
    from geomlib._src.robustness import runs

    models = runs.EVAL_MODELS if args.models is None else tuple(m.strip() for m in args.models.split(",") if m.strip())
    bad = [m for m in models if m not in SHIPPED_CLASSIFIERS]
    if bad or not models:
        ap.error(f"--models: expected shipped classifiers ({', '.join(SHIPPED_CLASSIFIERS)}), got {bad or models}")
    parts = tuple(p.strip() for p in args.parts.split(",") if p.strip())
    if not parts or any(p not in runs.PARTS for p in parts):
        ap.error(f"--parts: expected some of {','.join(runs.PARTS)}, got {args.parts!r}")
    try:
        eps = tuple(float(e) for e in args.eps.split(",") if e.strip())
    except ValueError:
        ap.error(f"--eps: expected comma-separated numbers, got {args.eps!r}")
    if not eps or any(not 0 < e <= 1 for e in eps) or list(eps) != sorted(eps):
        ap.error(f"--eps: expected increasing radii in (0, 1], got {args.eps!r}")
    for name in ("images", "chunk", "steps", "targets", "queries", "check_images"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')}: expected a positive integer, got {getattr(args, name)}")
    if args.targets > 9:
        ap.error(f"--targets: expected at most 9 (10 classes), got {args.targets}")
    if args.merge:
        try:
            keys = runs.merge_robustness_runs(args.out, args.merge)
        except (ValueError, FileNotFoundError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(f"merged {len(keys)} arrays of {args.merge} into {args.out}")
        return 0
    command = "python -m geomlib.cli.robustness " + " ".join(shlex.quote(a) for a in (argv if argv is not None
                                                                                         else sys.argv[1:]))
    t0 = time.perf_counter()
    try:
        runs.robustness_run(args.out, models=models, parts=parts, images=args.images, eps=eps, chunk=args.chunk,
                            steps=args.steps, n_targets=args.targets, queries=args.queries, seed=args.seed,
                            check_images=args.check_images, restart=args.restart, progress=not args.no_progress,
                            command=command.strip())
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
