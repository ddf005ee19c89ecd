"""Train the LCA dictionaries and MNIST classifiers that ship with geomlib (``make models``).

Usage::

    python -m geomlib.cli.train all                       # rebuild every shipped model
    python -m geomlib.cli.train shipped patches-2x        # rebuild one (or several) by name
    python -m geomlib.cli.train shipped mlp-2 lca-mlp-2   # ... classifiers too
    python -m geomlib.cli.train list                      # shipped names and their configs
    python -m geomlib.cli.train lca --data patches --neurons 512 --lam 0.15 --out DIR
                                                          # a custom model, written to DIR/NAME.npz

Every run is seeded: the data (patches cut with ``data_seed``, or the seeded MNIST
split), the initial dictionary or weights, the shifted copies and the batch order
(``seed``), so rebuilding gives the same model up to floating-point differences between
machines. ``all`` trains the dictionaries first, then the classifiers (the ``lca-*``
classifiers read ``mnist-768`` or another ``mnist-*`` dictionary; ``shipped lca-mlp-2``
trains its dictionary first if that file is missing).
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
    args = parser.parse_args(argv)

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


if __name__ == "__main__":
    sys.exit(main())
