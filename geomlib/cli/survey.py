"""Run the full curvature survey and save it for the notebooks; a killed run resumes.

    python -m geomlib.cli.survey                  # 100 neurons x (300 + 300) planes,
                                                  # patches-2x, -4x and -10x, lca/linear/relu
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

Cost (``make bench BENCH_ARGS="--only survey"``, extrapolated): on 2 CPU cores the LCA
runs near the matrix-product floor of its 72 evaluations per plane, about 6 hours for the
default full run (60,000 planes per dictionary; patches-10x half of it) at the unloaded
product rate, the linear and ReLU models under a minute; ``--neurons/--comparison/--random``
scale it down. Several processes or machines (JAX's multi-process runtime:
``--coordinator host:port --num-processes n --process-id i``, or the environment variables
JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID, or a SLURM ``srun`` with nothing
more) each compute a block of every chunk; process 0 prints and writes (``--out`` and its
parts folder on a file system they share). The README says how to run it on a cluster or GPUs.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from geomlib._src.recipes.shipped import SurveyResume


def __getattr__(name: str):
    """``parts_folder`` of the library, imported on first use (``--help`` loads no JAX)."""
    if name == "parts_folder":
        from geomlib._src.recipes.shipped import parts_folder

        return parts_folder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m geomlib.cli.survey", description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="patches-2x,patches-4x,patches-10x",
                    help="comma-separated shipped dictionaries (default: patches-2x,patches-4x,patches-10x)")
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
    ap.add_argument("--coordinator", default=None,
                    help="several processes (jax.distributed): host:port of process 0 (or $JAX_COORDINATOR_ADDRESS; "
                         "under SLURM's srun nothing is needed)")
    ap.add_argument("--num-processes", type=int, default=None, help="several processes: their number "
                    "(or $JAX_NUM_PROCESSES)")
    ap.add_argument("--process-id", type=int, default=None, help="several processes: this one's, 0 to n-1 "
                    "(or $JAX_PROCESS_ID)")
    args = ap.parse_args(argv)

    from geomlib._src.core.batching import initialize_distributed, is_main_process

    try:
        processes = initialize_distributed(args.coordinator, args.num_processes, args.process_id)
    except ValueError as err:
        ap.error(f"{err} (from --coordinator, --num-processes, --process-id or the environment)")

    from pathlib import Path

    from geomlib._src.core.files import ResumeError
    from geomlib._src.recipes.shipped import parts_folder, survey_plan, survey_to_file
    from geomlib._src.survey import times_path

    names = [n.strip() for n in args.params.split(",") if n.strip()]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    options = {k: v for k, v in (("n_b", args.n_b), ("iterations", args.iterations), ("chunk_size", args.chunk_size))
               if v is not None}
    try:
        plan = survey_plan(names, models, args.neurons, args.comparison, args.random, args.seed,
                           min_angle_deg=args.min_angle, **options)
    except (ValueError, TypeError) as err:
        ap.error(f"{err} (from --params {args.params!r}, --models {args.models!r} and the sizes)")
    out = Path(args.out)
    if out.is_dir():
        ap.error(f"--out: {out} is a folder; name the .npz file to write")

    main_process = is_main_process()  # several processes: process 0 prints and writes
    screen = _Screen(f"{args.neurons} neurons x ({args.comparison} comparison + {args.random} random) planes; "
                     f"dictionaries {names}; models {models}", not args.no_progress and main_process,
                     main_process, processes)
    start = time.perf_counter()
    try:
        survey_to_file(plan, out, restart=args.restart, on_start=screen.start, on_pair=screen.pair,
                       progress=screen.update)
    except ResumeError as err:
        lead = "\n" if err.kind == "checkpoint" else ""  # after the progress bar's line
        print(f"{lead}error: {err}{_HINTS[err.kind].format(parts=parts_folder(out))}", file=sys.stderr)
        return 2
    finally:
        screen.close()
    if main_process:
        print(f"done in {time.perf_counter() - start:.0f} s; results in {out}, times in {times_path(out)} "
              f"(geomlib.load_survey({str(out)!r}))")
    return 0


#: What to do about each kind of ResumeError, after its message.
_HINTS = {"damaged": "\nRun with --restart to overwrite it, or choose another --out.",
          "foreign": "; run with --restart to overwrite it, or choose another --out.",
          "checkpoint": "\nRerun with the options of the interrupted run to resume it, or with --restart to "
                        "discard {parts}."}


class _Screen:
    """The command's messages and progress bar, fed by survey_to_file's callbacks."""

    def __init__(self, sizes: str, bar: bool, show: bool = True, processes: int = 1) -> None:
        self.sizes, self.want_bar, self.bar, self.resume = sizes, bar, None, None
        self.show, self.processes = show, processes

    def start(self, resume: SurveyResume) -> None:
        import jax

        self.resume = resume
        if not self.show:
            return
        out = resume.out
        for key in resume.rerun:
            print(f"{key}: in {out} with other settings: rerunning it", flush=True)
        where = f"{self.processes} processes, {len(jax.devices())} devices" if self.processes > 1 else \
            f"{len(jax.local_devices())} local device(s)"
        print(f"curvature survey: {self.sizes}; {where} ({jax.default_backend()}); writing {out}", flush=True)
        if resume.in_file or resume.in_parts or resume.others:
            others = f"; keeping {len(resume.others)} other pair(s) of {out}" if resume.others else ""
            print(f"resuming: {resume.in_file + resume.in_parts} of {resume.total} planes already done "
                  f"({len(resume.kept)} pair(s) in {out}, {resume.in_parts} planes in {resume.parts}){others}",
                  flush=True)
        if self.want_bar:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=resume.total, initial=resume.in_file + resume.in_parts, desc="survey",
                            unit="plane", dynamic_ncols=True)

    def pair(self, key: str, res) -> None:
        if not self.show:
            return
        if res is None:
            if self.bar is not None:
                self.bar.set_description(key)
        else:
            kept = key in self.resume.kept
            _report(key, res, f"kept from {self.resume.out}" if kept else f"{res.config['seconds']:.0f} s", self.bar)

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


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
