"""Kill-and-resume of chapter 8's comparison (``python -m geomlib.cli.defense``), issue 15.

A tiny comparison (3 cheap shipped classifiers, 2 digits, one PGD radius) runs once
uninterrupted; then a chain of runs on a second file is killed with SIGKILL at two points
(right after the first model is saved: the file appears; in the middle of a model: its
progress bar names a late measurement) and restarted until it finishes. The final file must
be byte-identical (SHA-256) to the uninterrupted run's, each kill must lose at most the
model in flight, and the times must be in the sidecar, not in the file.

The same comparison across two processes (JAX's multi-process runtime: ``--coordinator
localhost:PORT --num-processes 2 --process-id i``): the models are shared out over the
processes (2 in the first round, 1 in the second: process 1 waits), and the file process 0
writes must be the uninterrupted single process's, byte for byte; resumed by two processes,
it stays so.

The subprocesses share one JAX persistent compilation cache (a temporary folder), so only
the first run compiles.
"""

from __future__ import annotations

import hashlib
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import geomlib

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("linear", "mlp-2", "mlp-3")
# The worst case (on by default) is skipped here: it adds minutes of compilation on a shared CPU, and its
# columns are deterministic per model like the others (tests/test_defense.py checks them).
ARGS = ("--models", ",".join(MODELS), "--images", "2", "--eps", "0.1", "--worst-case", "none")
TIMEOUT = 300


@pytest.fixture(scope="module")
def env(cli_env):
    return cli_env


def _start(out: Path, env: dict, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "geomlib.cli.defense", *ARGS, "--out", str(out), *extra],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(proc: subprocess.Popen) -> tuple[str, str]:
    stdout, stderr = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, stderr.decode()[-3000:]
    return stdout.decode(), stderr.decode()


def _models_in(path: Path) -> list[str]:
    return list(geomlib.load_comparison(path)[0]) if path.exists() else []


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _kill_when(proc: subprocess.Popen, ready, what: str) -> None:
    """Poll ``ready()`` every 20 ms; SIGKILL ``proc`` the moment it holds (fail if the run ends first)."""
    deadline = time.monotonic() + TIMEOUT
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"the run ended (code {proc.returncode}) before {what}: {proc.stderr.read().decode()[-2000:]}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


class _Stderr:
    """Collects a process's stderr (the tqdm bar) in a thread, to watch for a measurement's name."""

    def __init__(self, proc: subprocess.Popen):
        self.text = ""
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc):
        for chunk in iter(lambda: proc.stderr.read1(256), b""):
            self.text += chunk.decode(errors="replace")


@pytest.fixture(scope="module")
def straight(tmp_path_factory, env):
    """The uninterrupted run, written over a damaged file with --restart (which overwrites it)."""
    out = tmp_path_factory.mktemp("straight") / "straight.npz"
    out.write_bytes(b"not a comparison")
    _finish(_start(out, env, "--no-progress", "--restart"))
    return out


def test_killed_and_resumed_run_writes_the_uninterrupted_file(tmp_path, env, straight):
    assert _models_in(straight) == list(MODELS)
    # no measured time in the file (it is reproducible): the times are in the sidecar, merged back
    results, meta = geomlib.load_comparison(straight)
    assert "seconds" in meta and all(m.seconds and "deepfool" in m.seconds for m in results.values())
    assert straight.with_name("straight.times.json").is_file()

    resumed = tmp_path / "resumed.npz"
    # kill 1: the moment the first model is saved (the second has just started): the file and then its
    # times (the sidecar, written just after the file: killed in between, the model's times are lost)
    proc = _start(resumed, env, "--no-progress")
    _kill_when(proc, lambda: resumed.exists() and resumed.with_name("resumed.times.json").exists(),
               "the first model was saved")
    assert _models_in(resumed) == ["linear"]
    first = _sha(resumed)

    # kill 2: after a resume, in the middle of the second model (its bar has reached the sign attack)
    proc = _start(resumed, env)
    err = _Stderr(proc)
    _kill_when(proc, lambda: "mlp-2: msd" in err.text or "mlp-2: pgd" in err.text, "mlp-2 was mid-way")
    assert _models_in(resumed) == ["linear"] and _sha(resumed) == first  # only the model in flight was lost

    # the run to the end: reads linear back, measures mlp-2 and mlp-3
    stdout, _ = _finish(_start(resumed, env, "--no-progress"))
    assert f"resuming {resumed}: 1 of 3 models done (linear); measuring 2" in stdout
    assert _sha(resumed) == _sha(straight)
    back, meta_back = geomlib.load_comparison(resumed)
    assert meta_back["seconds"] > 0 and all(back[m].seconds.keys() == results[m].seconds.keys() for m in MODELS)


def _main(capsys, *args):
    from geomlib.cli.defense import main

    code = main([*args, "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def test_resume_refuses_other_settings_and_damaged_files(tmp_path, straight, capsys):
    """In process: refused before anything is measured (no data is even loaded)."""
    other = tmp_path / "other.npz"
    other.write_bytes(straight.read_bytes())
    code, out, err = _main(capsys, *ARGS[:4], "--eps", "0.05", "--out", str(other))
    assert code == 2 and "other settings: eps [0.1] (this run: [0.05])" in err and "--restart" in err
    code, out, err = _main(capsys, "--models", "linear,mlp-2", *ARGS[2:], "--out", str(other))
    assert code == 2 and "models not in --models: mlp-3" in err
    code, out, err = _main(capsys, *ARGS[:6], "--worst-case", "100,3,1000", "--out", str(other))
    assert code == 2 and "other settings: worst_case None (this run: {'steps': 100" in err
    assert other.read_bytes() == straight.read_bytes()
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(straight.read_bytes()[:100])
    code, out, err = _main(capsys, *ARGS, "--out", str(damaged))
    assert code == 2 and "damaged.npz: not a readable comparison file" in err and "--restart" in err


def test_fewer_than_three_models_print_the_summary(tmp_path, straight, capsys):
    """A file of one model, resumed with nothing left to measure: the summary table, and one
    line saying why there are no rank correlations (exit 0)."""
    results, meta = geomlib.load_comparison(straight)
    assert meta["images"] == [0, 1]  # the first two digits: any subset of the models picks them too
    one = tmp_path / "one.npz"
    geomlib.save_comparison(one, {"mlp-2": results["mlp-2"]}, meta)
    code, out, err = _main(capsys, "--models", "mlp-2", *ARGS[2:], "--out", str(one))
    assert code == 0, err
    assert "resuming" in out and "nothing to measure" in out
    assert "no rank correlations: they need at least 3 models, this comparison has 1" in out
    assert any(line.startswith("mlp-2 ") for line in out.splitlines())


# ----------------------------------------------------------------------------- across two processes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _two_processes(out: Path, env: dict) -> list[str]:
    """Run the comparison as two processes (one coordinator port); both must succeed: their stdouts."""
    address = f"localhost:{_free_port()}"
    procs = [_start(out, env, "--no-progress", "--coordinator", address, "--num-processes", "2", "--process-id", str(i))
             for i in range(2)]
    try:
        return [_finish(p)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


def test_two_processes_write_the_single_process_file_and_resume_it(tmp_path, env, straight):
    two = tmp_path / "two.npz"
    printed = _two_processes(two, env)
    assert two.read_bytes() == straight.read_bytes()
    results, meta = geomlib.load_comparison(two)
    assert list(results) == list(MODELS) and len(meta["images"]) == 2
    assert "2 processes" in printed[0] and "done in" in printed[0]
    assert "done in" not in printed[1] and "mlp-3" not in printed[1], printed[1]  # process 1 prints nothing
    # resumed by two processes: process 0 reads the file, both skip every model, the same bytes
    printed = _two_processes(two, env)
    assert "3 of 3 models done" in printed[0] and two.read_bytes() == straight.read_bytes()
