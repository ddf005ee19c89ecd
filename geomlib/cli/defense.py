"""Measure curvature and robustness of the chapter-5 model family and save the results.

    python -m geomlib.cli.defense                               # default size: 24 digits, all models
    python -m geomlib.cli.defense --digits all --bpda --images 1000 --out defense-mnist-1000.npz   # full size
    python -m geomlib.cli.defense --models mlp-2,lca-mlp-2 --images 64          # a subset
    python -m geomlib.cli.defense --cifar10 PATH --images 200   # grayscale CIFAR-10 (trains its models)
    python -m geomlib.cli.defense --images 24 --out notebooks/results/defense-mnist-24.npz   # chapter 8's file
    python -m geomlib.cli.defense --convergence notebooks/results/defense-convergence.json \
        --models mlp-2,lca-mlp-2 --images 12     # does a larger worst-case budget lower the accuracies?
    python -m geomlib.cli.defense --seeds 0,1,2 --seed-dir seeds --digits all --bpda --images 1000   # x 3 seeds
    python -m geomlib.cli.defense --digits all --bpda --images 100 --offset 300 --out block-3.npz   # one block
    python -m geomlib.cli.defense --merge block-*.npz --out defense-mnist-1000.npz  # the blocks joined

Every model in ``--models`` (shipped classifiers, :data:`geomlib.DEFENSE_MODELS` by
default) is measured on the same held-out digits by :func:`geomlib.measure_classifier`. With
``--digits common`` (the default) those are the first ``--images`` that every model classifies
right (867 of the 1,000 for the 12 shipped models, fewer with seeds); with ``--digits all``
the first ``--images`` held-out digits, each model measured on those it classifies right and
the others counted as broken, so the accuracies are over the held-out set as on a test set.
Measured: DeepFool distance, MSD of the targeted sign attack at confidence 0.9, L-inf PGD-10 accuracy,
the worst-case accuracy (``geomlib.robust_accuracy``: APGD-CE, APGD-T, Square at the budget
``--worst-case``, by default APGD-CE 100 steps, APGD-T 3 targets x 100 steps, Square 1,000 queries;
with ``--bpda`` also, for the LCA models, APGD-CE on the gradient of the softplus twin at T = lambda/10),
boundary principal curvatures at the DeepFool point (smooth twin), the bend of the
decision contour and of first-layer units (survey code), and the template cosine of the
perturbations. The image batch is sharded over every local device (``jax.sharding``), so
the same command uses a GPU, or all of them, when JAX finds them; on a CPU-only machine it
is one device.

The file is written atomically after each model (a temporary file renamed over it), so a
killed run loses at most the model in flight; the command **resumes** by default: when
``--out`` exists and holds models measured with the same settings (data, images, seed,
eps), those are read back, not measured again, and only the rest run (``--restart`` starts
afresh; other settings are refused rather than overwritten). A resumed run writes the same
bytes as an uninterrupted one: measured times are not in the file but in a sidecar
(``OUT.times.json``) that ``geomlib.load_comparison(path)`` merges back. Chapter 8 loads the
file and draws the same plots. On 2 CPU cores the default 24 digits x 12 models take a few
minutes, most of it compiling; the time per digit and model is printed at the end.

Several processes (JAX's multi-process runtime, ``jax.distributed.initialize``): start the
same command once per process (or per host, or under ``srun``) with ``--coordinator
host:port --num-processes n --process-id i`` (or the ``JAX_COORDINATOR_ADDRESS``,
``JAX_NUM_PROCESSES``, ``JAX_PROCESS_ID`` variables, or nothing inside a SLURM job); the
models are shared out, n at a time, every process gets every result, and process 0 alone
prints and writes ``--out`` (on a file system it can read back to resume): the same bytes
as one process.

Seeds: ``--seeds 0,1,2`` measures every configuration of ``--models`` at each seed, seed 0
being the shipped model and seed k >= 1 the file ``<name>-s<k>`` in ``--seed-dir`` (default
``seeds``) that ``python -m geomlib.cli.train seeds --seeds 1,2 --out seeds`` trains; such
names may also be listed in ``--models``. One file holds every seed, keyed by model name
(default ``defense-mnist-N-seeds.npz``), resumable as above. With ``--digits common`` the digits are those every
measured model classifies right, so they depend on the set of models: a seeded file is its
own comparison, not an extension of the shipped-only one; with ``--digits all`` they are the
held-out digits whatever the models.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m geomlib.cli.defense", description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=None, help="comma-separated shipped classifiers (default: DEFENSE_MODELS)")
    ap.add_argument("--images", type=int, default=24, help="held-out digits (or CIFAR-10 images) per model (24)")
    ap.add_argument("--eps", default="0.05,0.1", help="comma-separated L-inf PGD radii (0.05,0.1)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the targets and random planes (0)")
    ap.add_argument("--cifar10", default=None, metavar="PATH",
                    help="run the grayscale CIFAR-10 comparison on the python batches in PATH instead")
    ap.add_argument("--out", default=None, help="output .npz (default: defense-mnist-N.npz / defense-cifar10-N.npz)")
    ap.add_argument("--restart", action="store_true",
                    help="measure every model again, overwriting --out (default: resume from the models in it)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    ap.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                    help="JAX multi-process runtime: address of process 0 (with --num-processes, --process-id; "
                         "default: JAX_COORDINATOR_ADDRESS, or a SLURM/Open MPI job detected by JAX)")
    ap.add_argument("--num-processes", type=int, default=None, help="processes in the run (JAX_NUM_PROCESSES)")
    ap.add_argument("--process-id", type=int, default=None, help="this process, 0..n-1 (JAX_PROCESS_ID)")
    ap.add_argument("--worst-case", default="100,3,1000,1", metavar="STEPS,TARGETS,QUERIES,RESTARTS",
                    help="budget of the worst case (APGD steps, APGD-T targets, Square queries, restarts; "
                         "default 100,3,1000,1), or 'none' to skip it")
    ap.add_argument("--convergence", default=None, metavar="OUT.json",
                    help="instead of the comparison: the worst case at --worst-case and at --larger on the first "
                         "--images digits of the comparison, per model of --models, into OUT.json")
    ap.add_argument("--larger", default="100,9,5000,2", metavar="STEPS,TARGETS,QUERIES,RESTARTS",
                    help="the larger budget of --convergence (default 100,9,5000,2)")
    ap.add_argument("--seeds", default=None, metavar="0,1,2",
                    help="measure every configuration of --models at these seeds (0: the shipped model; "
                         "k >= 1: <name>-s<k> from --seed-dir)")
    ap.add_argument("--seed-dir", default=None, metavar="DIR",
                    help="folder of the extra seeds <name>-s<k> (python -m geomlib.cli.train seeds; default: seeds)")
    ap.add_argument("--offset", type=int, default=0, metavar="K",
                    help="measure the digits K to K + --images of the comparison's list: one block of a run in "
                         "blocks (each block file resumes per model), joined by --merge (default 0)")
    ap.add_argument("--digits", choices=("common", "all"), default="common",
                    help="MNIST: 'common', the digits every model gets right (default), or 'all', every held-out "
                         "digit with each model's misclassified ones counted as broken (the full-size run)")
    ap.add_argument("--bpda", action="store_true",
                    help="add BPDA (APGD-CE on the softplus twin's gradient, T = lambda/10) to the worst case of the "
                         "LCA models (the full-size run)")
    ap.add_argument("--merge", nargs="+", default=None, metavar="BLOCK.npz",
                    help="join these block files (--offset) into --out, and print the comparison")
    args = ap.parse_args(argv)

    from geomlib._src.core.batching import initialize_distributed, is_main_process

    try:  # first, before any JAX computation
        processes = initialize_distributed(args.coordinator, args.num_processes, args.process_id)
    except ValueError as err:
        ap.error(f"{err} (from --coordinator, --num-processes, --process-id or the environment)")

    import jax
    import numpy as np

    from geomlib._src import defense as d

    try:
        eps = tuple(float(e) for e in args.eps.split(",") if e.strip())
    except ValueError:
        ap.error(f"--eps: expected comma-separated numbers, got {args.eps!r}")
    if not all(np.isfinite(e) and e >= 0 for e in eps):
        ap.error(f"--eps: expected finite radii >= 0, got {args.eps!r}")
    if args.images < 1:
        ap.error(f"--images: expected a positive integer, got {args.images}")
    if args.offset < 0:
        ap.error(f"--offset: expected an integer >= 0, got {args.offset}")
    if args.offset and args.cifar10:
        ap.error("--offset: blocks of digits are for the MNIST comparison; drop --offset or --cifar10")
    if args.bpda and args.cifar10:
        ap.error("--bpda: BPDA is added to the LCA models of the MNIST comparison; drop --bpda or --cifar10")
    if args.bpda and args.worst_case.strip().lower() == "none":
        ap.error("--bpda: BPDA is an attack of the worst case; drop --bpda or give --worst-case a budget")
    if args.digits != "common" and args.cifar10:
        ap.error("--digits: the choice of held-out digits is for the MNIST comparison; drop --digits or --cifar10")
    if args.merge is not None:
        if args.out is None:
            ap.error("--merge: needs --out, the joined file")
        from geomlib._src.defense.runs import merge_comparison_files

        try:
            results, meta = merge_comparison_files(args.merge, args.out)
        except (ValueError, FileNotFoundError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(f"wrote {args.out}: {len(results)} models x {len(meta['images'])} digits from {len(args.merge)} blocks")
        return 0
    if not 0 <= args.seed < 2 ** 32:
        ap.error(f"--seed: expected an integer in [0, 2**32), got {args.seed}")
    worst_case = _budget(ap, "--worst-case", args.worst_case)
    larger = _budget(ap, "--larger", args.larger)
    # Checked before anything is printed or loaded: a typo fails at once.
    if args.cifar10 and args.models is not None:
        ap.error("--models: the CIFAR-10 comparison trains its own two models; drop --models or --cifar10")
    models = d.DEFENSE_MODELS if args.models is None else tuple(m.strip() for m in args.models.split(",") if m.strip())
    seed_dir = None
    if args.cifar10 and (args.seeds is not None or args.seed_dir is not None):
        ap.error("--seeds/--seed-dir: extra seeds are MNIST classifiers; the CIFAR-10 comparison trains its own")
    if not args.cifar10:
        from geomlib._src.params_io import SHIPPED_CLASSIFIERS, split_seeded_name

        if args.seeds is not None:
            models = _expand_seeds(ap, models, args.seeds)
        seeded = [m for m in models if m not in SHIPPED_CLASSIFIERS and split_seeded_name(m) is not None
                  and split_seeded_name(m)[0] in SHIPPED_CLASSIFIERS]
        bad = [m for m in models if m not in SHIPPED_CLASSIFIERS and m not in seeded]
        if bad or not models:
            ap.error(f"--models: expected shipped classifiers ({', '.join(SHIPPED_CLASSIFIERS)}), got {bad or models}")
        if len(set(models)) != len(models):
            ap.error(f"--models: expected distinct names, got {','.join(models)}")
        if seeded or args.seed_dir is not None:
            from geomlib._src.recipes import SEEDS_DIR, seed_file_problems

            seed_dir = args.seed_dir or SEEDS_DIR
            if seeded and args.convergence:
                ap.error("--convergence: runs on shipped models only; drop the seeds <name>-s<k>")
            problems = seed_file_problems(seeded, seed_dir)
            if problems:
                ap.error("--seed-dir: the extra seeds are not all there:\n  " + "\n  ".join(problems))
    kind = "cifar10" if args.cifar10 else "mnist"
    out = Path(args.out or f"defense-{kind}-{args.images}{f'-from{args.offset}' if args.offset else ''}"
               f"{'-seeds' if args.seeds is not None else ''}.npz")
    if out.is_dir():
        ap.error(f"--out: {out} is a folder; expected a file name")

    if args.convergence:
        if args.cifar10 or worst_case is None or larger is None:
            ap.error("--convergence: needs MNIST models and two budgets (--worst-case and --larger, not 'none')")
        from geomlib._src.defense.convergence import worst_case_convergence

        print(f"worst case of {', '.join(models)} on {args.images} digits at eps {list(eps)}: budget {worst_case} "
              f"vs {larger}{', BPDA for the LCA models at both' if args.bpda else ''}; writing {args.convergence}",
              flush=True)
        record = worst_case_convergence(models, args.images, eps=eps, budgets={"stated": worst_case, "larger": larger},
                                        seed=args.seed, out=args.convergence, progress=not args.no_progress,
                                        bpda=args.bpda)
        for m, r in record["models"].items():
            for i, e in enumerate(record["eps"]):
                print(f"{m:<17} eps {e:<5g} " + "  ".join(
                    f"{b}: {np.mean(r['robust'][b][i]):.1%} ({r['seconds'][b][i]:.0f} s)" for b in record["budgets"]))
        print(f"done in {record['seconds']:.0f} s; {args.convergence}")
        return 0

    from geomlib._src.core.files import ResumeError
    from geomlib._src.defense.runs import comparison_to_file

    main_process = is_main_process()
    if processes > 1 and (args.convergence or args.cifar10):
        ap.error("--coordinator: the multi-process run shares out the MNIST models of a comparison; "
                 "--convergence and --cifar10 run in one process")

    def start(kept: tuple[str, ...] | None) -> None:
        if not main_process:
            return
        if processes > 1:
            print(f"{processes} processes ({len(jax.devices())} devices): the models shared out, process 0 writes",
                  flush=True)
        if kept is not None:
            print(f"resuming {out}: {len(kept)} of {len(models)} models done ({', '.join(kept) or 'none'}); "
                  f"measuring {len(models) - len(kept)}", flush=True)
        if seed_dir is not None:
            print(f"{len(models)} models; extra seeds from {seed_dir}", flush=True)
        which = " (all held-out digits from the first; misclassified ones count as broken)" \
            if args.digits == "all" else ""
        print(f"{kind}: {args.images} images per model{which}; {len(jax.local_devices())} local device(s) "
              f"({jax.default_backend()}); worst case {worst_case or 'skipped'}{' + BPDA on LCA models' if args.bpda else ''}"
              f"; writing {out}", flush=True)

    try:
        run = comparison_to_file(out, models, args.images, cifar10=args.cifar10, seed=args.seed, eps=eps,
                                 restart=args.restart, progress=not args.no_progress, on_start=start,
                                 worst_case=worst_case, offset=args.offset, digits=args.digits, bpda=args.bpda,
                                 **({} if seed_dir is None else {"seed_dir": seed_dir}))
    except ResumeError as err:
        hint = "\n(--restart overwrites it)" if err.kind == "damaged" else ". Use another --out, or --restart to overwrite it."
        print(f"error: {err}{hint}", file=sys.stderr)
        return 2
    if main_process:
        _print_run(run, out, args.images)
    return 0


def _expand_seeds(ap, models: tuple[str, ...], text: str) -> tuple[str, ...]:
    """``--seeds``: every configuration of ``models`` at each seed (0: the shipped name)."""
    from geomlib._src.recipes import seeded_names

    try:
        seeds = [int(k) for k in text.split(",") if k.strip()]
    except ValueError:
        ap.error(f"--seeds: expected comma-separated integers >= 0, got {text!r}")
    try:
        return seeded_names(list(models), seeds)
    except ValueError as err:
        arg = str(err).split(":", 1)[0]
        ap.error(f"{'--models' if arg == 'names' else '--seeds'}{str(err)[len(arg):]}")


def _budget(ap, flag: str, text: str) -> dict | None:
    """``STEPS,TARGETS,QUERIES[,RESTARTS]`` as robust_accuracy's budget, or None for 'none'."""
    if text.strip().lower() == "none":
        return None
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (3, 4) or min(values) < 1:
        ap.error(f"{flag}: expected STEPS,TARGETS,QUERIES[,RESTARTS] (positive integers) or 'none', got {text!r}")
    values += [1] * (4 - len(values))
    return dict(zip(("steps", "n_targets", "queries", "restarts"), values))


def _print_run(run, out: Path, images: int) -> None:
    """The summary table, the rank correlations (or why there are none) and the times."""
    print(f"{'model':<17}" + "".join(f"{s[:12]:>13}" for s in run.summary))
    for m in run.results:
        print(f"{m:<17}" + "".join(f"{run.summary[s][m]:>13.4g}" for s in run.summary))
    clean = {m: r.clean_correct for m, r in run.results.items() if r.clean_correct is not None}
    if clean:   # --digits all: the accuracies above count each model's misclassified digits as broken
        print("clean accuracy (misclassified digits count as broken in the accuracies above): "
              + ", ".join(f"{m} {c.mean():.1%}" for m, c in clean.items()))
    for (curv, rob), rc in run.correlations.items():
        print(f"Spearman({curv}, {rob}) = {rc.rho:+.2f}, 95% CI [{rc.low:+.2f}, {rc.high:+.2f}] "
              f"({rc.n_models} models)")
    if not run.correlations:
        print(f"no rank correlations: they need at least 3 models, this comparison has {len(run.results)}")
    if run.measured:
        per = run.seconds / (len(run.measured) * images)
        print(f"done in {run.seconds:.0f} s ({per:.2f} s per image and model measured in this run, compilation "
              f"included); results in {out} (geomlib.load_comparison({str(out)!r}))")
    else:
        print(f"nothing to measure: every model was in {out} (geomlib.load_comparison({str(out)!r}))")


if __name__ == "__main__":
    sys.exit(main())
