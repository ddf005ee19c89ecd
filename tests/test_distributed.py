"""The curvature survey on several devices and several processes (JAX's multi-process runtime).

A tiny survey (the shipped ``patches-test`` dictionary, LCA, 3 neurons x (2 comparison + 3
random) planes: 15 planes, an odd count, so the blocks of the processes and the shards of the
devices are padded) is run three ways and must give the same arrays as one process on one
device: the counts, planes and neurons bit for bit, the fitted coefficients within float32
rounding (relative 2e-5: XLA's matrix products round differently with the batch size, and
a device's share of a chunk is a smaller batch):

* one process with two local CPU devices (``--xla_force_host_platform_device_count=2``):
  each chunk of planes sharded over the devices (``jax.sharding``);
* two processes (``python -m geomlib.cli.survey --coordinator localhost:PORT
  --num-processes 2 --process-id i``: ``jax.distributed.initialize`` through
  :func:`geomlib._src.core.batching.initialize_distributed`; CPU collectives: JAX's
  default, gloo), each computing its block of every chunk, the blocks gathered with
  ``multihost_utils.process_allgather``; process 0 alone prints and writes the file;
* the helper the per-image loops can use (``map_over_processes``), on a row-wise function.

The subprocesses share one JAX compilation cache (a temporary folder).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import geomlib
from geomlib._src.core.batching import initialize_distributed, process_block

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 240
SURVEY = dict(neurons=3, n_comparison=2, n_random=3, key=0, chunk_size=8)
FIELDS = ("c2", "c0", "c1", "n_valid", "angle", "partner", "neurons")
#: Tolerance of the fitted coefficients (float32; the statistic's own resolution is ~1e-3).
RTOL, ATOL = 2e-5, 1e-6

WORKER = r"""
import sys
from geomlib.cli.survey import main
out, distributed, sizes = sys.argv[1], sys.argv[2:-1], sys.argv[-1].split()
flags = dict(zip(("--coordinator", "--num-processes", "--process-id"), distributed))
code = main(["--params", "patches-test", "--models", "lca", "--no-progress", "--out", out + ".npz", *sizes,
             *(x for kv in flags.items() for x in kv)])
assert code == 0, code
import jax, jax.numpy as jnp, numpy as np
import geomlib as gl
from geomlib._src.core.batching import map_over_processes, sync_processes
sync_processes("written")  # process 0 wrote the file
res = gl.load_survey(out + ".npz")["patches-test/lca"]
rows = map_over_processes(lambda x: (jnp.sum(x * x, axis=1), x[:, :2] + 1.0), jnp.arange(21.0).reshape(7, 3))
arrays = {f: np.asarray(getattr(res, f)) for f in %r}
arrays.update(sq=rows[0], shifted=rows[1], devices=res.config["devices"], count=jax.process_count(),
              local=len(jax.local_devices()), index=jax.process_index())
np.savez(out + f".{jax.process_index()}.npz", **arrays)
""" % (FIELDS,)
#: The worker's survey, as command-line flags of ``python -m geomlib.cli.survey``.
SIZES = (f"--neurons {SURVEY['neurons']} --comparison {SURVEY['n_comparison']} --random {SURVEY['n_random']} "
         f"--seed {SURVEY['key']} --chunk-size {SURVEY['chunk_size']}")


@pytest.fixture(scope="module")
def reference():
    """The survey in this process (one process; the test session's devices: one CPU)."""
    params = geomlib.load_params("patches-test")
    cfg = {k: geomlib.load_metadata("patches-test")["config"][k] for k in ("lam", "steps", "eta")}
    res = geomlib.run_survey(params, "lca", progress=False, devices=[__import__("jax").devices()[0]], **SURVEY,
                             **cfg)
    return {f: np.asarray(getattr(res, f)) for f in FIELDS}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "XLA_"))}
    env.update(JAX_PLATFORMS="cpu", JAX_COMPILATION_CACHE_DIR=str(tmp_path_factory.mktemp("jax-cache")),
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", PYTHONPATH=str(ROOT))
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _worker(out: Path, env: dict, *distributed: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WORKER, str(out), *distributed, SIZES], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait(procs: list[subprocess.Popen]) -> list[str]:
    outs = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=TIMEOUT)
            assert p.returncode == 0, err.decode()[-3000:]
            outs.append(out.decode())
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return outs


def _assert_same(got: dict, reference: dict) -> None:
    for f in FIELDS:
        if f in ("c2", "c0", "c1"):
            # float32 rounding: a device computes a batch of another size than one device alone, and
            # XLA's matrix products round differently with the batch size (measured: 3e-6 relative)
            np.testing.assert_allclose(got[f], reference[f], rtol=RTOL, atol=ATOL, err_msg=f)  # NaN where NaN
        else:
            np.testing.assert_array_equal(got[f], reference[f], err_msg=f)
    sq = np.sum(np.arange(21.0).reshape(7, 3) ** 2, axis=1)
    np.testing.assert_array_equal(got["sq"], sq)
    np.testing.assert_array_equal(got["shifted"], np.arange(21.0).reshape(7, 3)[:, :2] + 1.0)


def test_two_local_devices_equal_one(tmp_path, env, reference):
    out = tmp_path / "two-devices"
    _wait([_worker(out, {**env, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"})])
    got = dict(np.load(f"{out}.0.npz"))
    assert int(got["local"]) == 2 and int(got["devices"]) == 2 and int(got["count"]) == 1
    _assert_same(got, reference)


def test_two_processes_equal_one(tmp_path, env, reference):
    out = tmp_path / "two-processes"
    address = f"localhost:{_free_port()}"
    printed = _wait([_worker(out, env, address, "2", str(i)) for i in range(2)])
    got = [dict(np.load(f"{out}.{i}.npz")) for i in range(2)]
    for i, g in enumerate(got):
        assert int(g["count"]) == 2 and int(g["index"]) == i and int(g["devices"]) == 2
        _assert_same(g, reference)
    assert "2 processes, 2 devices" in printed[0] and "done in" in printed[0]
    # process 1 computes its blocks and prints nothing of its own (gloo may print its connections)
    assert "curvature survey" not in printed[1] and "done in" not in printed[1], printed[1]
    assert not Path(f"{out}.parts").exists()  # process 0 removed the checkpoints once the file was written


def test_initialize_distributed_settings(monkeypatch):
    for name in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID", "SLURM_NTASKS",
                 "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert initialize_distributed() == 1  # nothing asked: one process, nothing initialised
    assert process_block(7) == (0, 7, 7)
    with pytest.raises(ValueError, match="expected all three"):
        initialize_distributed("localhost:1234")
    monkeypatch.setenv("JAX_NUM_PROCESSES", "two")
    with pytest.raises(ValueError, match="expected integers"):
        initialize_distributed("localhost:1234", process_id=0)
    with pytest.raises(ValueError, match="0 <= id < n"):
        initialize_distributed("localhost:1234", 2, 2)


# Chapter 8's comparison across two processes (written byte for byte as one process writes it, and
# resumed): tests/test_comparison_resume.py, whose uninterrupted run is the reference.
