"""Run the test suite in two pytest sessions: unit tests in parallel, notebooks serially.

Used by ``make test``::

    python -m tools.run_tests [--workers N] [pytest arguments ...]

1. **Unit tests** (``README.md``, ``tests/``, ``geomlib/`` doctests; not ``tests/browser``)
   with pytest-xdist on ``N`` worker processes (``-n N --dist loadfile``, default 2): most
   of their time is single-threaded XLA compilation, which two processes overlap; whole
   files go to one worker, so a file's jitted functions compile once.
2. **Browser tests and notebooks** (``tests/browser``, ``notebooks/`` under nbval,
   ``--nbval-lax --nbval-current-env``) in one serial session: each notebook drives a
   kernel that already uses every core, and nbval must run a notebook's cells in order.

Both sessions always run; the exit status is that of the first one that failed (a
session that selected no test, e.g. under ``-k``, counts as passed). Extra pytest
arguments go to both sessions. If they name test paths (``tests/test_lca.py``,
``notebooks/01-linear-neurons.ipynb``, a node id, ...), the split is skipped and one
serial session runs exactly what was asked, as ``pytest --nbval-lax --nbval-current-env
ARGS`` always did. ``--workers 0`` (or pytest-xdist missing) runs the unit tests serially.
``--concurrent`` runs the two sessions at the same time (the unit tests' output is
printed when both are done): much of both is single-threaded tracing and compilation.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

UNIT = ["README.md", "tests", "geomlib", "--ignore=tests/browser"]
SERIAL = ["tests/browser", "notebooks"]
NBVAL = ["--nbval-lax", "--nbval-current-env"]
NO_TESTS_COLLECTED = 5  # pytest.ExitCode.NO_TESTS_COLLECTED


def names_paths(args: list[str], root: Path) -> bool:
    """True if a positional argument is an existing file or folder (or a node id in one).

    >>> names_paths(["-x", "-k", "lca"], Path("."))
    False
    >>> names_paths(["-q", "tools/run_tests.py::names_paths"], Path("."))
    True
    """
    return any(not a.startswith("-") and (root / a.split("::")[0]).exists() for a in args)


def _xdist_available() -> bool:
    try:
        import xdist  # noqa: F401
    except ImportError:
        return False
    return True


def _pytest(args: list[str], label: str, log=None) -> tuple[int, float]:
    cmd = [sys.executable, "-m", "pytest", *args]
    print(f"\n===== {label}: {' '.join(cmd[1:])}" + (" (output shown when both are done)" if log else ""),
          flush=True)
    start = time.perf_counter()
    code = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT if log else None)
    return code, time.perf_counter() - start


def _run_concurrently(first: tuple[str, list[str]], second: tuple[str, list[str]]) -> list[tuple[str, int, float]]:
    """Both sessions at once; the first one's output is buffered and printed at the end."""
    results = {}
    with tempfile.TemporaryFile() as log:
        def run_first():
            results["first"] = _pytest(first[1], first[0], log=log)

        thread = threading.Thread(target=run_first)
        thread.start()
        results["second"] = _pytest(second[1], second[0])
        thread.join()
        log.seek(0)
        print(f"\n===== output of the {first[0]}:", flush=True)
        sys.stdout.buffer.write(log.read())
        sys.stdout.flush()
    return [(first[0], *results["first"]), (second[0], *results["second"])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=False)
    parser.add_argument("--workers", type=int, default=2,
                        help="pytest-xdist workers for the unit tests (0: serial; default 2)")
    parser.add_argument("--concurrent", action="store_true",
                        help="run the two sessions at the same time (unit output shown at the end)")
    parser.add_argument("--run-tests-help", action="help", help="show this help and exit")
    ours, extra = parser.parse_known_args(argv)
    root = Path.cwd()

    if names_paths(extra, root):
        code, seconds = _pytest([*NBVAL, *extra], "tests named on the command line (one serial session)")
        print(f"\n===== exit {code} in {seconds:.0f} s", flush=True)
        return code

    parallel = []
    if ours.workers > 0:
        if _xdist_available():
            # loadfile: a test file's tests share jitted functions; split across workers,
            # both would compile them (measured: -n 2 --dist load slower than serial).
            parallel = ["-n", str(ours.workers), "--dist", "loadfile"]
        else:
            print("run_tests: pytest-xdist is not installed; unit tests run serially", flush=True)
    phases = [("unit tests" + (f" on {ours.workers} workers" if parallel else ""), [*parallel, *UNIT, *extra]),
              ("browser tests and notebooks (serial)", [*NBVAL, *SERIAL, *extra])]
    if ours.concurrent:
        results = _run_concurrently(*phases)
    else:
        results = [(label, *_pytest(args, label)) for label, args in phases]
    print("\n===== summary", flush=True)
    return summarize(results)


def summarize(results: list[tuple[str, int, float]]) -> int:
    """Print one line per session; return the exit status of the whole run: the first
    failure's, NO_TESTS_COLLECTED if no session selected a test, else 0."""
    status = 0
    for label, code, seconds in results:
        ok = code in (0, NO_TESTS_COLLECTED)
        print(f"  {label}: {'passed' if ok else f'FAILED (exit {code})'} in {seconds:.0f} s", flush=True)
        if not ok and status == 0:
            status = code
    if all(code == NO_TESTS_COLLECTED for _, code, _ in results):
        return NO_TESTS_COLLECTED
    return status


if __name__ == "__main__":
    sys.exit(main())
