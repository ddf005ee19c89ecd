"""Kill-and-resume of the curvature survey (``python -m geomlib.cli.survey``), issue 15.

A tiny survey (the shipped ``patches-test`` dictionary, the LCA and linear models, 6
neurons x 4 planes, one neuron per checkpointed chunk: 6 chunks per pair) runs once
uninterrupted; then a chain of runs on a second file is killed with SIGKILL at three
points, each run resuming from what the one before left: right after the first chunk
file appears, mid-way through the first pair (two more chunks on disk), and right after
the first pair is written to the output (the second in flight). The last run finishes;
its file must be byte-identical (SHA-256) to the uninterrupted run's, with the times in
the sidecar and the parts folder gone. Also (in-process, on the parts of the first kill,
before anything is computed): ``run_survey(checkpoint=...)`` and the command refuse a
folder of another run's chunks, naming it and what differs, and a damaged chunk.

The subprocesses share one JAX persistent compilation cache (a temporary folder), so only
the first run compiles.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import geomlib
from geomlib._src.survey import load_survey, run_survey, times_path
from geomlib.cli.survey import main, parts_folder

ROOT = Path(__file__).resolve().parents[1]
NEURONS, PLANES = 6, 4
ARGS = ("--params", "patches-test", "--models", "lca,linear", "--neurons", str(NEURONS), "--comparison", "2",
        "--random", "2", "--chunk-size", "4")
TIMEOUT = 300


@pytest.fixture(scope="module")
def env(cli_env):
    return cli_env


def _start(out: Path, env: dict, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "geomlib.cli.survey", *ARGS, "--out", str(out), *extra],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(proc: subprocess.Popen) -> str:
    stdout, stderr = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, stderr.decode()[-3000:]
    return stdout.decode()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _chunks(out: Path, model: str) -> list[str]:
    folder = parts_folder(out) / f"patches-test--{model}"
    return sorted(p.name for p in folder.glob("chunk-*.npz")) if folder.is_dir() else []


def _kill_when(proc: subprocess.Popen, ready, what: str) -> None:
    """Poll ``ready()`` every 5 ms; SIGKILL ``proc`` the moment it holds (fail if the run ends first)."""
    deadline = time.monotonic() + TIMEOUT
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"the run ended (code {proc.returncode}) before {what}: {proc.stderr.read().decode()[-2000:]}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"the run ended before it was killed ({what})"


def test_killed_and_resumed_survey_writes_the_uninterrupted_file(tmp_path, env, capsys):
    straight = tmp_path / "straight.npz"
    _finish(_start(straight, env, "--no-progress"))
    results = load_survey(straight)
    assert sorted(results) == ["patches-test/lca", "patches-test/linear"]
    assert all(r.c2.shape == (NEURONS, PLANES) and r.config["seconds"] > 0 for r in results.values())
    assert times_path(straight).is_file() and not parts_folder(straight).exists()

    resumed = tmp_path / "resumed.npz"
    # kill 1: the moment the first chunk of the first pair is on disk
    proc = _start(resumed, env, "--no-progress")
    _kill_when(proc, lambda: _chunks(resumed, "lca"), "the first chunk was written")
    after_first = _chunks(resumed, "lca")
    assert 1 <= len(after_first) < NEURONS and not resumed.exists()
    _check_refusals(resumed, capsys)
    assert _chunks(resumed, "lca") == after_first  # refused: nothing written

    # kill 2: mid-way through the first pair, two chunks further (chunks on disk are loaded, not lost)
    proc = _start(resumed, env)
    _kill_when(proc, lambda: len(_chunks(resumed, "lca")) >= len(after_first) + 2, "two more chunks were written")
    mid = _chunks(resumed, "lca")
    assert set(after_first) < set(mid) and not resumed.exists()

    # kill 3: the moment the first pair is in the output (the second pair is in flight)
    proc = _start(resumed, env, "--no-progress")
    _kill_when(proc, resumed.exists, "the first pair was written")
    assert sorted(load_survey(resumed)) == ["patches-test/lca"]

    # the run to the end: keeps the first pair, resumes the second
    stdout = _finish(_start(resumed, env, "--no-progress"))
    assert "resuming: " in stdout and f"of {2 * NEURONS * PLANES} planes already done" in stdout
    assert "patches-test/lca: " in stdout and "kept from" in stdout
    assert _sha(resumed) == _sha(straight)
    print(f"kill points: {len(after_first)} chunk(s) of {NEURONS}, then {len(mid)}, then the first pair written; "
          f"sha256 {_sha(resumed)[:16]} == uninterrupted")
    assert not parts_folder(resumed).exists()
    back = load_survey(resumed)
    assert all(math.isfinite(r.config["seconds"]) for r in back.values())
    for key, r in back.items():
        np.testing.assert_array_equal(r.c2, results[key].c2)


def _check_refusals(out: Path, capsys) -> None:
    """run_survey and the command refuse the parts of ``out``'s lca pair with other settings
    (checked before anything is computed), naming the folder and what differs; a damaged
    chunk is named with what to do (on a copy)."""
    folder = parts_folder(out) / "patches-test--lca"
    params = geomlib.load_params("patches-test")
    lca = {k: geomlib.load_metadata("patches-test")["config"][k] for k in ("lam", "steps", "eta")}
    kw = dict(model="lca", neurons=NEURONS, n_comparison=2, n_random=2, key=0, chunk_size=4, progress=False, **lca)
    with pytest.raises(ValueError, match=rf"^checkpoint: the folder {folder} holds chunks of another survey run "
                                         r"\(chunk-000000.npz differs in lam: 0.15 there, 0.2 here\)"):
        run_survey(params, **{**kw, "lam": 0.2}, checkpoint=folder)
    with pytest.raises(ValueError, match=r"checkpoint: .*differs in .*key: \[0, 0\] there, \[0, 1\] here"):
        run_survey(params, **{**kw, "key": 1}, checkpoint=folder)
    with pytest.raises(ValueError, match=r"checkpoint: .*differs in .*neurons"):
        run_survey(params, **{**kw, "neurons": 5}, checkpoint=folder)
    with pytest.raises(ValueError, match=r"checkpoint: .*differs in .*dictionary_sha256"):
        run_survey({"phi": params["phi"][:, ::-1]}, **kw, checkpoint=folder)
    with pytest.raises(ValueError, match=r"checkpoint: .*differs in chunk_size: 4 there, 8 here"):
        run_survey(params, **{**kw, "chunk_size": 8}, checkpoint=folder)
    copy = out.parent / "copy"
    shutil.copytree(folder, copy)
    (copy / "chunk-000000.npz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"checkpoint: .*chunk-000000.npz is damaged .*delete it"):
        run_survey(params, **kw, checkpoint=copy)
    with pytest.raises(ValueError, match="checkpoint: expected a folder"):
        run_survey(params, **kw, checkpoint=copy / "chunk-000000.npz")
    # the command: the run asks for 5 neurons, the parts are of a run with 6
    args = [*ARGS, "--out", str(out), "--no-progress"]
    assert main([*args, "--neurons", "5"]) == 2
    err = capsys.readouterr().err
    assert f"{folder} holds chunks of another survey run" in err and "--restart" in err


def test_the_command_does_not_overwrite_a_damaged_output(tmp_path, capsys):
    out = tmp_path / "s.npz"
    assert parts_folder(out) == tmp_path / "s.parts"
    out.write_bytes(b"not a survey")
    assert main([*ARGS, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"cannot resume from {out}" in err and "--restart" in err and out.read_bytes() == b"not a survey"
