"""tools/run_tests.py (what `make test` runs): two sessions, both always run, either fails the run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `tools` lives at the repo root

from tools import run_tests  # noqa: E402


def test_names_paths():
    assert not run_tests.names_paths([], ROOT)
    assert not run_tests.names_paths(["-x", "-k", "lca and not slow", "--durations=20", "-n", "2"], ROOT)
    assert run_tests.names_paths(["tests/test_lca.py"], ROOT)
    assert run_tests.names_paths(["-q", "tests/test_lca.py::test_save_load_round_trip"], ROOT)
    assert run_tests.names_paths(["notebooks/02-linear-neurons.ipynb"], ROOT)


@pytest.fixture
def fake_sessions(monkeypatch):
    """Replace the pytest subprocesses (foreground and concurrent): record each session's
    arguments and JAX cache folder, return the exit codes set for unit / browser / notebooks."""
    calls, codes = [], {}

    def kind(args):
        return "browser" if "tests/browser" in args and "--ignore=tests/browser" not in args else \
            "notebooks" if "notebooks" in args else "unit"

    def fake_call(cmd, env=None, **kw):
        args = cmd[3:]
        calls.append((kind(args), args, (env or {}).get(run_tests.CACHE_ENV)))
        if kw.get("stdout") is not None:
            kw["stdout"].write(f"{kind(args)} session output\n".encode())
        return codes.get(kind(args), 0)

    class FakePopen:
        def __init__(self, cmd, env=None, **kw):
            self.returncode = fake_call(cmd, env, **kw)

        def poll(self):
            return self.returncode

    monkeypatch.setattr(run_tests.subprocess, "call", fake_call)
    monkeypatch.setattr(run_tests.subprocess, "Popen", FakePopen)
    monkeypatch.setenv(run_tests.CACHE_ENV, "/tmp/jax-cache")
    monkeypatch.chdir(ROOT)
    return calls, codes


CODES = [(0, 0, 0, 0), (1, 0, 0, 1), (0, 1, 0, 1), (0, 0, 1, 1), (2, 1, 0, 2), (0, 3, 1, 3), (5, 0, 0, 0),
         (5, 5, 5, 5), (5, 1, 5, 1)]


@pytest.mark.parametrize("sequential", [False, True])
@pytest.mark.parametrize("unit, browser, notebooks, expected", CODES)
def test_every_session_runs_and_any_fails_the_run(fake_sessions, capfd, sequential, unit, browser, notebooks,
                                                  expected):
    calls, codes = fake_sessions
    codes.update(unit=unit, browser=browser, notebooks=notebooks)
    assert run_tests.main(["-x", *(["--sequential"] if sequential else [])]) == expected
    assert [c[0] for c in calls] == ["unit", "browser", "notebooks"]
    (_, unit_args, unit_cache), (_, browser_args, browser_cache), (_, nb_args, nb_cache) = calls
    assert unit_args[:4] == ["-n", "2", "--dist", "loadfile"] or not run_tests._xdist_available()
    assert "tests" in unit_args and "--ignore=tests/browser" in unit_args and "notebooks" not in unit_args
    assert "-n" not in browser_args and "-n" not in nb_args and "notebooks" not in browser_args
    assert nb_args[:2] == ["--nbval-lax", "--nbval-current-env"]
    assert unit_args[-1] == browser_args[-1] == nb_args[-1] == "-x"
    # each session its own JAX cache folder (JAX writes cache files without a lock)
    assert len({unit_cache, browser_cache, nb_cache}) == 3
    assert all(c.startswith("/tmp/jax-cache/") for c in (unit_cache, browser_cache, nb_cache))
    out = capfd.readouterr().out
    if not sequential:  # buffered output of the first two sessions is printed at the end
        assert "unit session output" in out and "browser session output" in out
    assert "summary" in out


def test_one_process_for_the_unit_tests(fake_sessions):
    calls, _ = fake_sessions
    assert run_tests.main(["--workers", "0"]) == 0
    assert "-n" not in calls[0][1]


def test_named_paths_run_one_serial_session(fake_sessions):
    calls, codes = fake_sessions
    codes.update(unit=3)
    assert run_tests.main(["tests/test_lca.py", "-q"]) == 3
    assert [c[1] for c in calls] == [["--nbval-lax", "--nbval-current-env", "tests/test_lca.py", "-q"]]
