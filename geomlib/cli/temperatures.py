"""The boundary curvature of chapter 8's models at three softplus temperatures, and whether their ranking survives.

    python -m geomlib.cli.temperatures                      # 12 models x 24 digits x T = lam/5, lam/10, lam/20
    python -m geomlib.cli.temperatures --models linear,mlp-2,lca-mlp-2 --images 4 --out /tmp/t.npz

On the held-out digits of chapter 8's comparison file (``--comparison``), for each of
``--models``: the top-3 principal curvatures of the smooth twin's decision boundary at each
digit's DeepFool point, at T = lambda / f for each f of ``--factors`` (lambda the model's LCA
threshold; 0.25 for a model without one), with the comparison's DeepFool and Lanczos settings
(:mod:`geomlib._src.defense.temperatures`). The file is written atomically after each model and
the command **resumes** by default (``--restart`` starts afresh; other settings are refused
rather than overwritten). It stores the command and the measured seconds; at the end the
per-model medians and the rank agreement between temperatures and with the hard model's
grid-scale bend are printed.
"""

from __future__ import annotations

import sys
import time

from geomlib.cli.per_model import checked_models, command_line, per_model_parser

PROG = "python -m geomlib.cli.temperatures"


def main(argv: list[str] | None = None) -> int:
    ap = per_model_parser(PROG, __doc__.splitlines()[0], out="notebooks/results/defense-temperatures-24.npz",
                          comparison_help="chapter 8's comparison file: its digits and hard bends")
    ap.add_argument("--factors", default="5,10,20", help="comma-separated divisors f of T = lambda / f (5,10,20)")
    args = ap.parse_args(argv)
    models = checked_models(ap, args)
    command = command_line(PROG, argv)

    from geomlib._src.defense import temperatures as tm
    from geomlib._src.defense.io import load_comparison
    from geomlib._src.defense.statistics import comparison_summary

    try:
        factors = tuple(float(f) for f in args.factors.split(",") if f.strip())
    except ValueError:
        ap.error(f"--factors: expected comma-separated numbers, got {args.factors!r}")
    if not factors or any(not f > 0 for f in factors):
        ap.error(f"--factors: expected positive numbers, got {args.factors!r}")
    t0 = time.perf_counter()
    try:
        curv, meta = tm.temperatures_to_file(args.out, models, comparison=args.comparison, factors=factors,
                                             n_images=args.images, restart=args.restart,
                                             progress=not args.no_progress, command=command)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} in {time.perf_counter() - t0:.0f} s ({meta['seconds']:.0f} s over all runs on it)")
    if len(curv) >= 3:
        results, _ = load_comparison(args.comparison)
        bend = comparison_summary(results, ["logit_bend"])["logit_bend"]
        s = tm.temperature_summary(curv, {m: bend.get(m, float("nan")) for m in curv}, factors=factors)
        print(f"{'model':<17}" + "".join(f"{lab:>14}" for lab in s.labels[:-1]) + "   (median max|kappa|, converged)")
        for i, m in enumerate(s.models):
            print(f"{m:<17}" + "".join(f"{s.median[i, j]:>8.3f} {s.converged[i, j]:>4.0%}"
                                       for j in range(len(factors))))
        print(f"Spearman's rho across models ({s.test}):")
        for i in range(len(s.labels)):
            for j in range(i + 1, len(s.labels)):
                print(f"  {s.labels[i]:>12} vs {s.labels[j]:<12} rho {s.rho[i, j]:+.2f}  p {s.p_value[i, j]:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
