"""Train the LCA dictionaries and MNIST classifiers that ship with geomlib (``make models``).

Usage::

    python -m geomlib.cli.train all                       # rebuild every shipped model
    python -m geomlib.cli.train shipped patches-2x        # rebuild one (or several) by name
    python -m geomlib.cli.train shipped mlp-2 lca-mlp-2   # ... classifiers too
    python -m geomlib.cli.train list                      # shipped names and their configs
    python -m geomlib.cli.train lca --data patches --neurons 512 --lam 0.15 --out DIR
                                                          # a custom model, written to DIR/NAME.npz
    python -m geomlib.cli.train seeds                     # seeds 1, 2 of chapter 8's 12 classifiers, into seeds/
    python -m geomlib.cli.train seeds --names mlp-2,lca-mlp-2 --seeds 1,2 --out DIR   # some of them

Every run is seeded: the data (patches cut with ``data_seed``, or the seeded MNIST
split), the initial dictionary or weights, the shifted copies and the batch order
(``seed``), so rebuilding gives the same model up to floating-point differences between
machines. ``all`` trains the dictionaries first, then the classifiers (the ``lca-*``
classifiers read ``mnist-768`` or another ``mnist-*`` dictionary; ``shipped lca-mlp-2``
trains its dictionary first if that file is missing).

``seeds`` trains extra seeds of shipped configurations (seed 0 is the shipped file):
``<name>-s<k>.npz`` in ``--out`` (default ``seeds/``, git-ignored), the configuration with
every model seed set to k, an LCA classifier's dictionary reseeded too (``<dictionary>-s<k>``,
trained once per seed and shared, as the shipped classifiers share theirs; see
``geomlib._src.recipes.seeds``). It resumes: a file in ``--out`` whose metadata holds its
configuration is kept. ``geomlib.load_classifier("lca-mlp-2-s1", directory="seeds")``
loads one; ``python -m geomlib.cli.defense --seeds 0,1,2 --seed-dir seeds`` compares them.
"""

from __future__ import annotations

import argparse
import json
import sys

from geomlib._src.params_io import SHIPPED_CLASSIFIERS, SHIPPED_MODELS
from geomlib._src.recipes import dictionary_config, dictionary_summary, rebuild_shipped, train_and_save

_SETTINGS = ("lam", "steps", "eta", "batches", "batch_size", "lr", "seed", "patch_size", "n_patches")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m geomlib.cli.train", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("all", help="rebuild every shipped model into geomlib/params")
    shipped = sub.add_parser("shipped", help="rebuild shipped models by name")
    shipped.add_argument("names", nargs="+", choices=sorted({**SHIPPED_MODELS, **SHIPPED_CLASSIFIERS}))
    sub.add_parser("list", help="list the shipped models (dictionaries, classifiers) and their configurations")
    lca = sub.add_parser("lca", help="train a custom LCA dictionary")
    lca.add_argument("--data", choices=("patches", "mnist"), required=True)
    lca.add_argument("--neurons", type=int, required=True)
    for flag, kind in (("--lam", float), ("--steps", int), ("--eta", float), ("--batches", int),
                       ("--batch-size", int), ("--lr", float), ("--seed", int), ("--patch-size", int),
                       ("--n-patches", int)):
        lca.add_argument(flag, type=kind, default=None, help="default: as the shipped models")
    lca.add_argument("--name", default=None, help="file name without .npz (default: DATA-NEURONS)")
    lca.add_argument("--out", default=".", help="output directory (default: the current one)")
    lca.add_argument("--quiet", action="store_true", help="no progress bar")
    seeds = sub.add_parser("seeds", help="train extra seeds of shipped models into --out (resumable)")
    seeds.add_argument("--names", default=None,
                       help="comma-separated shipped classifiers or dictionaries (default: the 12 of chapter 8)")
    seeds.add_argument("--seeds", default="1,2", help="comma-separated seeds >= 1 (default 1,2; 0 is the shipped file)")
    seeds.add_argument("--out", default=None, help="output folder (default: seeds)")
    seeds.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                       help="replace a classifier setting for a quick check, e.g. epochs=1 (recorded in each file)")
    seeds.add_argument("--set-dictionary", action="append", default=[], metavar="KEY=JSON",
                       help="replace a dictionary setting, e.g. batches=5 (recorded in each file)")
    seeds.add_argument("--dry-run", action="store_true", help="print the plan and what is done; train nothing")
    seeds.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)

    if args.command == "seeds":
        return _seeds(parser, args)
    if args.command == "list":
        for name, config in {**SHIPPED_MODELS, **SHIPPED_CLASSIFIERS}.items():
            print(f"{name}: {json.dumps(config)}")
        return 0
    if args.command in ("all", "shipped"):
        for line in rebuild_shipped(None if args.command == "all" else args.names):
            print(line)
        return 0
    settings = {key: getattr(args, key) for key in _SETTINGS}
    for key in ("patch_size", "n_patches"):
        if args.data == "mnist" and settings[key] is not None:
            parser.error(f"--{key.replace('_', '-')} applies to --data patches only")
    config = dictionary_config(args.data, args.neurons, **settings)
    name = args.name or f"{args.data}-{args.neurons}"
    print(dictionary_summary(*train_and_save(name, config, args.out, progress=not args.quiet)))
    return 0


def _settings(parser, flag: str, items: list[str]) -> dict:
    """``KEY=JSON`` items as a dict (a value that is not JSON is kept as a string)."""
    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            parser.error(f"{flag}: expected KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = json.loads(text)
        except ValueError:
            out[key.strip()] = text
    return out


def _seeds(parser, args) -> int:
    """``python -m geomlib.cli.train seeds``: plan, then train what is not done, with times."""
    import time

    from geomlib._src.defense import DEFENSE_MODELS
    from geomlib._src.recipes import SEEDS_DIR, seeds_plan, train_seeds

    names = DEFENSE_MODELS if args.names is None else tuple(n.strip() for n in args.names.split(",") if n.strip())
    try:
        seeds = tuple(int(k) for k in args.seeds.split(",") if k.strip())
    except ValueError:
        parser.error(f"--seeds: expected comma-separated integers, got {args.seeds!r}")
    if 0 in seeds:
        print("seed 0 is the shipped file (geomlib/params): not trained here")
        seeds = tuple(k for k in seeds if k != 0)
        if not seeds:
            return 0
    out = args.out or SEEDS_DIR
    try:
        plan = seeds_plan(names, seeds, out, overrides=_settings(parser, "--set", args.set) or None,
                          dictionary_overrides=_settings(parser, "--set-dictionary", args.set_dictionary) or None)
    except ValueError as err:
        arg = str(err).split(":", 1)[0]
        flag = {"names": "--names", "seeds": "--seeds", "out": "--out", "overrides": "--set",
                "dictionary_overrides": "--set-dictionary"}.get(arg, arg)
        parser.error(f"{flag}{str(err)[len(arg):]}")
    print(f"{len(plan)} files for seeds {', '.join(map(str, seeds))} of {', '.join(names)} in {out}", flush=True)
    if args.dry_run:
        from geomlib._src.recipes import seed_file_status

        for i, job in enumerate(plan):
            print(f"[{i + 1}/{len(plan)}] {job.name}: {seed_file_status(job, out)}")
        return 0

    def start(i, job, status) -> None:
        what = "kept (its file holds this configuration)" if status == "done" else f"training ({status})"
        print(f"[{i + 1}/{len(plan)}] {job.name}: {what}", flush=True)

    from pathlib import Path

    from geomlib._src.params_io import PARAMS_DIR

    if Path(out).exists() and not Path(out).is_dir():
        parser.error(f"--out: expected a folder, got the file {out}")
    if Path(out).resolve() == PARAMS_DIR.resolve():
        parser.error(f"--out: expected a folder other than the shipped {PARAMS_DIR}")
    begin, trained = time.perf_counter(), 0
    for step in train_seeds(plan, out, progress=not args.quiet, on_job=start):
        if step.seconds is not None:
            trained += 1
            print(f"    {step.summary}; {step.seconds:.0f} s wall time", flush=True)
    print(f"{trained} trained, {len(plan) - trained} kept, in {time.perf_counter() - begin:.0f} s; load one with "
          f"geomlib.load_classifier({plan[-1].name!r}, directory={str(out)!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
