"""Run the full curvature survey and save it for the notebooks.

    python -m geomlib.cli.survey                  # 100 neurons x (300 + 300) planes,
                                                  # patches-2x and patches-4x, lca/linear/relu
    python -m geomlib.cli.survey --neurons 20 --comparison 20 --random 20 --out small.npz

For every dictionary (``--params``, shipped models, LCA settings lam / steps / eta from
each file's metadata) and every model (``--models``, same weights), the survey of
:func:`geomlib.run_survey` is run and all results are written to one ``.npz``
(rewritten after each model, so an interrupted run keeps what is done). Read it with
``geomlib.load_survey(path)``, a dict keyed ``"<params>/<model>"``. Every local device
is used (each chunk of planes is sharded over them; on a CPU-only machine that is one
device). Each model prints its wall time. On 2 CPU cores the LCA takes about 0.023 s per
plane on patches-2x and 0.051 s on patches-4x, the linear and ReLU models far less, so the
default full run (60,000 planes per dictionary) takes about 75 minutes;
``--neurons/--comparison/--random`` scale it down.
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m geomlib.cli.survey", description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="patches-2x,patches-4x",
                    help="comma-separated shipped dictionaries (default: patches-2x,patches-4x)")
    ap.add_argument("--models", default="lca,linear,relu",
                    help="comma-separated models: lca, linear, relu, divisive (default: lca,linear,relu)")
    ap.add_argument("--neurons", type=int, default=100, help="neurons per dictionary, drawn at random (100)")
    ap.add_argument("--comparison", type=int, default=300, help="comparison planes per neuron (300)")
    ap.add_argument("--random", type=int, default=300, help="random planes per neuron (300)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the neuron draw and random planes (0)")
    ap.add_argument("--min-angle", type=float, default=15.0, help="min angle of comparison neurons, degrees (15)")
    ap.add_argument("--n-b", type=int, default=None, help="rows per plane (default: geomlib's)")
    ap.add_argument("--iterations", type=int, default=None, help="root-finding steps per row (default: geomlib's)")
    ap.add_argument("--chunk-size", type=int, default=None, help="planes per compiled call (default: geomlib's)")
    ap.add_argument("--out", default="curvature-survey.npz", help="output .npz (curvature-survey.npz)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)

    import jax

    from geomlib._src.lca import DICTIONARY_MODELS
    from geomlib._src.recipes import survey_dictionaries
    from geomlib._src.survey import save_survey

    names = [n.strip() for n in args.params.split(",") if n.strip()]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in models if m not in DICTIONARY_MODELS]
    if bad or not models or not names:
        ap.error(f"--models: expected some of {DICTIONARY_MODELS}, got {args.models!r}; --params: {args.params!r}")
    options = {k: v for k, v in (("n_b", args.n_b), ("iterations", args.iterations), ("chunk_size", args.chunk_size))
               if v is not None}
    print(f"curvature survey: {args.neurons} neurons x ({args.comparison} comparison + {args.random} random) planes; "
          f"dictionaries {names}; models {models}; {len(jax.local_devices())} local device(s) "
          f"({jax.default_backend()}); writing {args.out}", flush=True)
    results = {}
    start = time.perf_counter()
    for key, res in survey_dictionaries(names, models, args.neurons, args.comparison, args.random, args.seed,
                                        min_angle_deg=args.min_angle, progress=not args.no_progress, **options):
        results[key] = res
        save_survey(results, args.out)
        s = res.summary()
        print(f"{key}: exo-origin {s['fraction_exo']:.1%} of {s['fraction_valid']:.1%} planes with a "
              f"contour; median c2 comparison {s['median_comparison']:.4g}, random {s['median_random']:.4g}; "
              f"Spearman(angle, c2) {s['spearman_angle_c2']:.2f}; {res.config['seconds']:.0f} s", flush=True)
    print(f"done in {time.perf_counter() - start:.0f} s; results in {args.out} "
          f"(geomlib.load_survey({args.out!r}))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
