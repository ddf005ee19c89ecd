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
    assert run_tests.names_paths(["notebooks/01-linear-neurons.ipynb"], ROOT)


@pytest.fixture
def fake_pytest(monkeypatch):
    """Replace the pytest subprocess: record each session's arguments, return set exit codes."""
    calls, codes = [], []

    def fake(args, label, log=None):
        calls.append(args)
        if log is not None:
            log.write(b"unit session output\n")
        return codes.pop(0), 1.0

    monkeypatch.setattr(run_tests, "_pytest", fake)
    monkeypatch.chdir(ROOT)
    return calls, codes


@pytest.mark.parametrize("first, second, expected", [(0, 0, 0), (1, 0, 1), (0, 1, 1), (2, 1, 2), (5, 0, 0),
                                                     (0, 5, 0), (5, 5, 5), (5, 1, 1)])
def test_both_sessions_run_and_either_fails_the_run(fake_pytest, first, second, expected):
    calls, codes = fake_pytest
    codes += [first, second]
    assert run_tests.main(["-x"]) == expected
    unit, serial = calls
    assert unit[:4] == ["-n", "2", "--dist", "loadfile"] or not run_tests._xdist_available()
    assert "tests" in unit and "--ignore=tests/browser" in unit and "notebooks" not in unit
    assert serial[:2] == ["--nbval-lax", "--nbval-current-env"] and "-n" not in serial
    assert "tests/browser" in serial and "notebooks" in serial
    assert unit[-1] == serial[-1] == "-x"


def test_serial_workers(fake_pytest):
    calls, codes = fake_pytest
    codes += [0, 0]
    assert run_tests.main(["--workers", "0"]) == 0
    assert "-n" not in calls[0]


def test_named_paths_run_one_serial_session(fake_pytest):
    calls, codes = fake_pytest
    codes += [3]
    assert run_tests.main(["tests/test_lca.py", "-q"]) == 3
    assert calls == [["--nbval-lax", "--nbval-current-env", "tests/test_lca.py", "-q"]]


@pytest.mark.parametrize("unit_code, serial_code, expected", [(0, 0, 0), (1, 0, 1), (0, 2, 2)])
def test_concurrent_sessions(monkeypatch, capfd, unit_code, serial_code, expected):
    calls = []

    def fake(args, label, log=None):
        calls.append(args)
        unit = "tests/browser" not in args
        assert (log is not None) == unit  # the unit session's output is buffered
        if log is not None:
            log.write(b"unit session output\n")
        return (unit_code if unit else serial_code), 1.0

    monkeypatch.setattr(run_tests, "_pytest", fake)
    monkeypatch.chdir(ROOT)
    assert run_tests.main(["--concurrent"]) == expected
    assert len(calls) == 2
    assert "unit session output" in capfd.readouterr().out
