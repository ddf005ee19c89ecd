"""Run the full curvature survey and save it for the notebooks; a killed run resumes.

    python -m geomlib.cli.survey                  # 100 neurons x (300 + 300) planes,
                                                  # patches-2x and patches-4x, lca/linear/relu
    python -m geomlib.cli.survey --neurons 20 --comparison 20 --random 20 --out small.npz

For every dictionary (``--params``, shipped models, LCA settings lam / steps / eta from
each file's metadata) and every model (``--models``, same weights), the survey of
:func:`geomlib.run_survey` is run and all results are written to one ``.npz``, read with
``geomlib.load_survey(path)``: a dict keyed ``"<params>/<model>"``. Every local device is
used (each chunk of planes is sharded over them; on a CPU-only machine that is one device).

Resuming (the default): the same command run again after an interruption continues where
it stopped. The ``--out`` file is rewritten (atomically) after each dictionary/model pair;
pairs already in it with the same settings are kept, not rerun (pairs of other
dictionaries or models in it are kept too). The pair in flight keeps each finished chunk
of neurons in ``OUT.parts/`` (``curvature-survey.parts/`` for ``curvature-survey.npz``),
removed when the run is done, so a kill loses at most one chunk (``--chunk-size`` planes,
at least one neuron's). The file is byte-identical to an uninterrupted run's; measured
times are not in it but in the sidecar ``OUT.times.json`` (``curvature-survey.times.json``),
which ``load_survey`` merges back into each result's ``config["seconds"]`` (NaN without
it). ``--restart`` discards the file, its sidecar and the parts, and starts afresh. A
progress bar shows the planes of the whole run, with an ETA (on resume it starts at the
planes already done).

On 2 CPU cores the LCA takes about 0.023 s per plane on patches-2x and 0.051 s on
patches-4x, the linear and ReLU models far less, so the default full run (60,000 planes
per dictionary) takes about 75 minutes; ``--neurons/--comparison/--random`` scale it down.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path


def parts_folder(out: str | Path) -> Path:
    """The folder beside ``out`` where the pair in flight keeps its finished chunks."""
    out = Path(out)
    return out.with_name((out.stem if out.suffix else out.name) + ".parts")


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
    ap.add_argument("--chunk-size", type=int, default=None,
                    help="planes per compiled call, and per checkpointed chunk (default: geomlib's)")
    ap.add_argument("--out", default="curvature-survey.npz", help="output .npz (curvature-survey.npz)")
    ap.add_argument("--restart", action="store_true",
                    help="discard the output, its times and its parts folder, and start afresh (default: resume)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)

    import jax

    from geomlib._src.core.files import ResultFileError
    from geomlib._src.recipes.shipped import pair_checkpoint, same_settings, survey_plan
    from geomlib._src.survey import SurveyResult, checkpoint_planes, load_survey, run_survey, save_survey, times_path

    names = [n.strip() for n in args.params.split(",") if n.strip()]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    options = {k: v for k, v in (("n_b", args.n_b), ("iterations", args.iterations), ("chunk_size", args.chunk_size))
               if v is not None}
    try:
        plan = survey_plan(names, models, args.neurons, args.comparison, args.random, args.seed,
                           min_angle_deg=args.min_angle, **options)
    except (ValueError, TypeError) as err:
        ap.error(f"{err} (from --params {args.params!r}, --models {args.models!r} and the sizes)")
    out, parts = Path(args.out), parts_folder(args.out)
    if out.is_dir():
        ap.error(f"--out: {out} is a folder; name the .npz file to write")

    if args.restart:
        for path in (out, times_path(out)):
            path.unlink(missing_ok=True)
        shutil.rmtree(parts, ignore_errors=True)
    results: dict[str, SurveyResult] = {}
    if out.exists():
        try:
            results = load_survey(out)
        except (ValueError, OSError) as err:
            print(f"error: cannot resume from {out}: {err}\nRun with --restart to overwrite it, or choose another --out.",
                  file=sys.stderr)
            return 2
        if not isinstance(results, dict):
            print(f"error: {out} holds a single survey result, not one written by this command; run with "
                  f"--restart to overwrite it, or choose another --out.", file=sys.stderr)
            return 2

    kept = {p.key for p in plan if p.key in results and same_settings(results[p.key], p)}
    for p in plan:
        if p.key in results and p.key not in kept:
            print(f"{p.key}: in {out} with other settings: rerunning it", flush=True)
            del results[p.key]
    others = sorted(set(results) - {p.key for p in plan})
    todo = [p for p in plan if p.key not in kept]
    total = sum(p.planes for p in plan)
    in_file = sum(p.planes for p in plan if p.key in kept)
    in_parts = sum(min(checkpoint_planes(pair_checkpoint(parts, p)), p.planes) for p in todo)
    print(f"curvature survey: {args.neurons} neurons x ({args.comparison} comparison + {args.random} random) planes; "
          f"dictionaries {names}; models {models}; {len(jax.local_devices())} local device(s) "
          f"({jax.default_backend()}); writing {out}", flush=True)
    if in_file or in_parts or others:
        print(f"resuming: {in_file + in_parts} of {total} planes already done ({len(kept)} pair(s) in {out}, "
              f"{in_parts} planes in {parts}){f'; keeping {len(others)} other pair(s) of {out}' if others else ''}",
              flush=True)

    bar = None
    if not args.no_progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=in_file + in_parts, desc="survey", unit="plane", dynamic_ncols=True)
    start = time.perf_counter()
    try:
        for p in plan:
            if p.key in kept:
                shutil.rmtree(pair_checkpoint(parts, p), ignore_errors=True)  # left by a kill after the file was written
                _report(p.key, results[p.key], f"kept from {out}", bar)
                continue
            if bar is not None:
                bar.set_description(p.key)
            folder = pair_checkpoint(parts, p)
            try:
                res = run_survey(p.params, **p.kwargs, progress=bar.update if bar is not None else False,
                                 checkpoint=folder)
            except (ValueError, ResultFileError) as err:
                if "checkpoint:" not in str(err):
                    raise
                print(f"\nerror: {err}\nRerun with the options of the interrupted run to resume it, or with "
                      f"--restart to discard {parts}.", file=sys.stderr)
                return 2
            res.config["params"] = p.name
            results[p.key] = res
            save_survey(dict(sorted(results.items())), out)
            shutil.rmtree(folder, ignore_errors=True)
            _report(p.key, res, f"{res.config['seconds']:.0f} s", bar)
    finally:
        if bar is not None:
            bar.close()
    shutil.rmtree(parts, ignore_errors=True)
    print(f"done in {time.perf_counter() - start:.0f} s; results in {out}, times in {times_path(out)} "
          f"(geomlib.load_survey({str(out)!r}))")
    return 0


def _report(key: str, res, note: str, bar) -> None:
    s = res.summary()
    line = (f"{key}: exo-origin {s['fraction_exo']:.1%} of {s['fraction_valid']:.1%} planes with a contour; "
            f"median c2 comparison {s['median_comparison']:.4g}, random {s['median_random']:.4g}; "
            f"Spearman(angle, c2) {s['spearman_angle_c2']:.2f}; {note}")
    if bar is not None:
        bar.write(line)
    else:
        print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
