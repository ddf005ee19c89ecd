"""geomlib.smoke: notebook sizes switch to their smoke values only under GEOMLIB_SMOKE=1."""

from __future__ import annotations

import pytest

from geomlib import smoke


@pytest.mark.parametrize("value", [None, "", "0", " 0 "])
def test_full_size_unless_asked(monkeypatch, value):
    if value is None:
        monkeypatch.delenv(smoke.ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(smoke.ENV_VAR, value)
    assert not smoke.active()
    assert smoke.size(48, smoke=4) == 48
    full = {"neurons": 8, "n_random": 5}
    assert smoke.size(full, smoke={"neurons": 1, "n_random": 1}) is full


@pytest.mark.parametrize("value", ["1", " 1\n", "yes"])
def test_smoke_size_when_set(monkeypatch, value):
    monkeypatch.setenv(smoke.ENV_VAR, value)
    assert smoke.active()
    assert smoke.size(48, smoke=4) == 4
    assert smoke.size((0.0, 0.05, 0.1), smoke=(0.0, 0.1)) == (0.0, 0.1)


def test_read_at_each_call(monkeypatch):
    """No state cached at import: switching the variable switches the next call."""
    monkeypatch.setenv(smoke.ENV_VAR, "1")
    assert smoke.size(10, smoke=2) == 2
    monkeypatch.setenv(smoke.ENV_VAR, "0")
    assert smoke.size(10, smoke=2) == 10
    monkeypatch.delenv(smoke.ENV_VAR)
    assert smoke.size(10, smoke=2) == 10


def test_env_var_name():
    """The browser harness (tests/browser/jlab.py) sets this exact name for the kernel."""
    assert smoke.ENV_VAR == "GEOMLIB_SMOKE"
