"""Chapter 8's per-image prediction test and random-noise curve: every model on the comparison's digits.

    python -m geomlib.cli.prediction                      # 12 models x 24 digits
    python -m geomlib.cli.prediction --models linear,mlp-2 --images 4 --out /tmp/p.npz

On the held-out digits of chapter 8's comparison file (``--comparison``), for each of
``--models``, on the model's smooth twin at T = lambda / 5 (lambda its LCA threshold; 0.25
without one): the DeepFool distance to the decision boundary and the principal curvatures
there, the smallest adversarial L2 distance found without the pixel box (DeepFool,
Carlini-Wagner, a radius search), and the distances along 32 random lines
(:mod:`geomlib._src.defense.prediction_run`). The file is written atomically after each model and
the command **resumes** by default (``--restart`` starts afresh; other settings are refused).
It stores the command and the measured seconds; at the end it prints, per model, the variance
of log distance explained by the second-order prediction and by r alone, and the median ratio
of random to adversarial distance against the flat boundary's.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m geomlib.cli.prediction", description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=None, help="comma-separated shipped classifiers (default: chapter 8's 12)")
    ap.add_argument("--images", type=int, default=None, help="the first N digits of the comparison file (all)")
    ap.add_argument("--comparison", default="notebooks/results/defense-mnist-24.npz",
                    help="chapter 8's comparison file: its digits")
    ap.add_argument("--out", default="notebooks/results/defense-prediction-24.npz", help="output .npz")
    ap.add_argument("--restart", action="store_true", help="start afresh, overwriting --out")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)

    from geomlib._src.defense import prediction_run as pr
    from geomlib._src.params_io import SHIPPED_CLASSIFIERS

    models = pr.DEFENSE_MODELS if args.models is None else tuple(m.strip() for m in args.models.split(",") if m.strip())
    bad = [m for m in models if m not in SHIPPED_CLASSIFIERS]
    if bad or not models:
        ap.error(f"--models: expected shipped classifiers ({', '.join(SHIPPED_CLASSIFIERS)}), got {bad or models}")
    if args.images is not None and args.images < 1:
        ap.error(f"--images: expected a positive integer, got {args.images}")
    command = "python -m geomlib.cli.prediction " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    t0 = time.perf_counter()
    try:
        measures, meta = pr.predictions_to_file(args.out, models, comparison=args.comparison, n_images=args.images,
                                                restart=args.restart, progress=not args.no_progress,
                                                command=command.strip())
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} in {time.perf_counter() - t0:.0f} s ({meta['seconds']:.0f} s over all runs on it)")
    summary = pr.prediction_summary(measures)
    print(f"{'model':<17} {'R2 quadric':>10} {'R2 r':>8} {'digits':>6} {'curved':>6} {'noise/adv':>9}   "
          f"(flat boundary: {next(iter(summary.values())).flat_ratio:.1f})")
    for m, s in summary.items():
        print(f"{m:<17} {s.test.r2:>10.3f} {s.test.r2_flat:>8.3f} {s.test.n_images:>6d} {s.test.n_curved:>6d} "
              f"{s.median_ratio:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
