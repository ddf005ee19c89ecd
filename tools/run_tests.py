"""Run the test suite in three pytest sessions: unit tests, browser tests, notebooks.

Used by ``make test``::

    python -m tools.run_tests [--workers N] [--sequential] [pytest arguments ...]

1. **Unit tests** (``README.md``, ``tests/``, ``geomlib/`` doctests; not ``tests/browser``)
   with pytest-xdist on ``N`` worker processes (``-n N --dist loadfile``, default 2): whole
   files go to one worker, so a file's jitted functions compile once; the heaviest files
   first (``--no-loadscope-reorder``: the order of tests/conftest.py's ``FILE_SECONDS``).
2. **Browser tests** (``tests/browser``): JupyterLab and headless Chromium, serially.
3. **Notebooks** under nbval (``notebooks/``, ``--nbval-lax --nbval-current-env``), serially:
   nbval must run a notebook's cells in order.

By default the three sessions run **at the same time**: much of each is single-threaded
(tracing and XLA compilation, a browser waiting for a kernel, a notebook kernel between
cells), so on 2 cores they overlap well; the summary line prints each session's time and
the total, so a run with ``--sequential`` (one after another) can be compared on the same
machine. The notebooks' output streams live; the other two sessions' output is printed,
in order, when all are done. Each session keeps JAX's persistent compilation cache
(``$JAX_COMPILATION_CACHE_DIR``) in its own sub-folder, since JAX writes cache files
without a lock.

All sessions always run; the exit status is that of the first one (in the order above)
that failed (a session that selected no test, e.g. under ``-k``, counts as passed).
Extra pytest arguments go to every session. If they name test paths
(``tests/test_lca.py``, ``notebooks/02-linear-neurons.ipynb``, a node id, ...), the split
is skipped and one serial session runs exactly what was asked, as ``pytest --nbval-lax
--nbval-current-env ARGS`` always did. ``--workers 0`` (or pytest-xdist missing) runs the
unit tests in one process.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

UNIT = ["README.md", "tests", "geomlib", "--ignore=tests/browser"]
BROWSER = ["tests/browser"]
NOTEBOOKS = ["notebooks"]
NBVAL = ["--nbval-lax", "--nbval-current-env"]
NO_TESTS_COLLECTED = 5  # pytest.ExitCode.NO_TESTS_COLLECTED
CACHE_ENV = "JAX_COMPILATION_CACHE_DIR"


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


def _env(cache: str | None) -> dict | None:
    """The environment of a session with its own JAX cache sub-folder (None: inherit as is)."""
    if cache is None or not os.environ.get(CACHE_ENV):
        return None
    return {**os.environ, CACHE_ENV: str(Path(os.environ[CACHE_ENV]) / cache)}


def _command(args: list[str], label: str, buffered: bool = False) -> list[str]:
    cmd = [sys.executable, "-m", "pytest", *args]
    print(f"\n===== {label}: {' '.join(cmd[1:])}" + (" (output shown when all are done)" if buffered else ""),
          flush=True)
    return cmd


def _pytest(args: list[str], label: str, cache: str | None = None) -> tuple[int, float]:
    """One session in the foreground: (exit code, seconds)."""
    cmd = _command(args, label)
    start = time.perf_counter()
    code = subprocess.call(cmd, env=_env(cache))
    return code, time.perf_counter() - start


def _run_concurrently(phases: list[tuple[str, list[str], str]]) -> list[tuple[str, int, float]]:
    """All sessions at once; the last one streams, the others' output is printed at the end."""
    start = time.perf_counter()
    running = []
    for i, (label, args, cache) in enumerate(phases):
        live = i == len(phases) - 1
        log = None if live else tempfile.TemporaryFile()
        cmd = _command(args, label, buffered=not live)
        proc = subprocess.Popen(cmd, env=_env(cache), stdout=log, stderr=None if live else subprocess.STDOUT)
        running.append((label, proc, log))
    seconds = {}
    while len(seconds) < len(running):  # record each session's own wall time as it ends
        for label, proc, _ in running:
            if label not in seconds and proc.poll() is not None:
                seconds[label] = time.perf_counter() - start
        time.sleep(0.2)
    results = []
    for label, proc, log in running:
        if log is not None:
            log.seek(0)
            print(f"\n===== output of the {label}:", flush=True)
            sys.stdout.buffer.write(log.read())
            sys.stdout.flush()
            log.close()
        results.append((label, proc.returncode, seconds[label]))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=False)
    parser.add_argument("--workers", type=int, default=2,
                        help="pytest-xdist workers for the unit tests (0: one process; default 2)")
    parser.add_argument("--sequential", action="store_true",
                        help="run the three sessions one after another (default: at the same time)")
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
            # --no-loadscope-reorder: the files go out in collection order, which
            # tests/conftest.py makes heaviest first (xdist's order, by number of tests,
            # started the few-test subprocess files last: a long tail on one worker).
            parallel = ["-n", str(ours.workers), "--dist", "loadfile", "--no-loadscope-reorder"]
        else:
            print("run_tests: pytest-xdist is not installed; unit tests run in one process", flush=True)
    phases = [("unit tests" + (f" on {ours.workers} worker{'s' * (ours.workers > 1)}" if parallel else ""), [*parallel, *UNIT, *extra], "unit"),
              ("browser tests", [*BROWSER, *extra], "browser"),
              ("notebooks (nbval)", [*NBVAL, *NOTEBOOKS, *extra], "notebooks")]
    start = time.perf_counter()
    if ours.sequential:
        results = [(label, *_pytest(args, label, cache)) for label, args, cache in phases]
    else:
        results = _run_concurrently(phases)
    print(f"\n===== summary ({'one after another' if ours.sequential else 'at the same time'}, "
          f"{time.perf_counter() - start:.0f} s in all)", flush=True)
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
