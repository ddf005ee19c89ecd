"""Execute notebooks in place with the project's kernel and save them.

Used by ``make notebooks``::

    python -m tools.execute_notebooks notebooks/*.ipynb

Each notebook runs with nbclient in its own folder (``notebooks/``), with the kernel
``response-geometry``; outputs (and widget state) are saved back into the file, so
the notebooks read on GitHub without a kernel. Cell timing metadata is not recorded
(it would change every run). Exits non-zero if a cell raises.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

KERNEL_NAME = "response-geometry"
KERNEL_DISPLAY_NAME = "Python (response-geometry)"


def execute_notebook(path: str | Path, *, timeout: int = 600, kernel_name: str = KERNEL_NAME) -> float:
    """Execute one notebook in place; return the wall time in seconds."""
    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = {"name": kernel_name, "display_name": KERNEL_DISPLAY_NAME, "language": "python"}
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        store_widget_state=True,
    )
    start = time.perf_counter()
    try:
        client.execute()
    finally:
        elapsed = time.perf_counter() - start
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="notebook files to execute in place")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (default 600)")
    parser.add_argument("--kernel", default=KERNEL_NAME, help=f"kernel name (default {KERNEL_NAME})")
    args = parser.parse_args(argv)
    failed = []
    for path in args.notebooks:
        print(f"executing {path} ...", flush=True)
        try:
            seconds = execute_notebook(path, timeout=args.timeout, kernel_name=args.kernel)
        except CellExecutionError as err:
            failed.append(path)
            print(f"FAILED {path}:\n{err}", file=sys.stderr, flush=True)
            continue
        size = path.stat().st_size / 1e6
        print(f"  done in {seconds:.1f} s, {size:.2f} MB", flush=True)
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(map(str, failed))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
