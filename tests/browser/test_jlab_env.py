"""The harness's server environment (no browser needed): kernels get GEOMLIB_SMOKE=1."""

from __future__ import annotations

from geomlib import smoke

from . import jlab


def test_kernels_run_at_smoke_size(tmp_path, monkeypatch):
    monkeypatch.delenv(smoke.ENV_VAR, raising=False)
    assert jlab.SMOKE_ENV == smoke.ENV_VAR
    env = jlab.LabServer(tmp_path / "root", tmp_path / "work")._prepare()
    assert env[smoke.ENV_VAR] == "1"


def test_full_size_server_drops_an_inherited_setting(tmp_path, monkeypatch):
    monkeypatch.setenv(smoke.ENV_VAR, "1")
    env = jlab.LabServer(tmp_path / "root", tmp_path / "work", smoke=False)._prepare()
    assert smoke.ENV_VAR not in env
