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

import sys
import time

from geomlib.cli.per_model import checked_models, command_line, per_model_parser

PROG = "python -m geomlib.cli.prediction"


def main(argv: list[str] | None = None) -> int:
    ap = per_model_parser(PROG, __doc__.splitlines()[0], out="notebooks/results/defense-prediction-24.npz",
                          comparison_help="chapter 8's comparison file: its digits")
    args = ap.parse_args(argv)
    models = checked_models(ap, args)
    command = command_line(PROG, argv)

    from geomlib._src.defense import prediction_run as pr

    t0 = time.perf_counter()
    try:
        measures, meta = pr.predictions_to_file(args.out, models, comparison=args.comparison, n_images=args.images,
                                                restart=args.restart, progress=not args.no_progress,
                                                command=command)
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
