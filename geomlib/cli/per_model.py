"""The arguments every per-model run over chapter 8's comparison digits shares
(``python -m geomlib.cli.temperatures``, ``python -m geomlib.cli.prediction``)."""

from __future__ import annotations

import argparse
import shlex
import sys

COMPARISON = "notebooks/results/defense-mnist-24.npz"


def per_model_parser(prog: str, description: str, *, out: str, comparison_help: str) -> argparse.ArgumentParser:
    """A parser with ``--models``, ``--images``, ``--comparison``, ``--out``, ``--restart`` and
    ``--no-progress``; the command adds its own options."""
    ap = argparse.ArgumentParser(prog=prog, description=description)
    ap.add_argument("--models", default=None, help="comma-separated shipped classifiers (default: chapter 8's 12)")
    ap.add_argument("--images", type=int, default=None, help="the first N digits of the comparison file (all)")
    ap.add_argument("--comparison", default=COMPARISON, help=comparison_help)
    ap.add_argument("--out", default=out, help="output .npz")
    ap.add_argument("--restart", action="store_true", help="start afresh, overwriting --out")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    return ap


def checked_models(ap: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[str, ...]:
    """``--models`` as names (chapter 8's 12 by default), every one a shipped classifier, and
    ``--images`` positive; ``ap.error`` otherwise."""
    from geomlib._src.defense.mnist import DEFENSE_MODELS
    from geomlib._src.params_io import SHIPPED_CLASSIFIERS

    models = DEFENSE_MODELS if args.models is None else tuple(m.strip() for m in args.models.split(",") if m.strip())
    bad = [m for m in models if m not in SHIPPED_CLASSIFIERS]
    if bad or not models:
        ap.error(f"--models: expected shipped classifiers ({', '.join(SHIPPED_CLASSIFIERS)}), got {bad or models}")
    if args.images is not None and args.images < 1:
        ap.error(f"--images: expected a positive integer, got {args.images}")
    return models


def command_line(prog: str, argv: list[str] | None) -> str:
    """The command as run (``prog`` and the arguments, shell-quoted), for the results file."""
    return " ".join([prog, *(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))])
