"""Putting the batch axis of arrays on the local devices (``jax.sharding``).

One CPU device works too: nothing is moved, and the same code runs on a machine with
several devices, or on several processes under ``jax.distributed``.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np


def local_devices(devices: Sequence | None = None) -> list:
    """``devices`` as a non-empty list (None: all local devices)."""
    devices = jax.local_devices() if devices is None else list(devices)
    if not devices:
        raise ValueError("devices: expected at least one device, got none")
    return devices


def batch_sharding(devices: Sequence | None = None, axis: str = "batch") -> jax.sharding.NamedSharding:
    """A sharding of an array's leading axis over a 1-D mesh of ``devices`` named ``axis``."""
    mesh = jax.sharding.Mesh(np.array(local_devices(devices)), (axis,))
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(axis))


def shard_batch(devices: Sequence | None, *arrays: jax.Array) -> tuple[jax.Array, ...]:
    """``arrays`` (same leading length B) padded to a multiple of the number of devices by
    repeating the last row, and with the leading axis sharded over them (one device: padded only)."""
    devices = local_devices(devices)
    pad = -arrays[0].shape[0] % len(devices)
    if pad:
        arrays = tuple(jnp.concatenate([a, jnp.repeat(a[-1:], pad, axis=0)]) for a in arrays)
    if len(devices) > 1:
        sharding = batch_sharding(devices)
        arrays = tuple(jax.device_put(a, sharding) for a in arrays)
    return arrays


# --------------------------------------------------------------------------- several processes

#: Environment variables read by :func:`initialize_distributed` (JAX itself reads the first).
DISTRIBUTED_ENV = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")


def initialize_distributed(coordinator_address: str | None = None, num_processes: int | None = None,
                           process_id: int | None = None) -> int:
    """Join JAX's multi-process runtime (``jax.distributed.initialize``), if asked to.

    The three settings come from the arguments, else from the environment variables
    ``JAX_COORDINATOR_ADDRESS`` (``host:port`` of process 0), ``JAX_NUM_PROCESSES`` and
    ``JAX_PROCESS_ID``; with none of them set, a cluster that JAX detects by itself (SLURM,
    Open MPI, ...; e.g. under ``srun``) is joined, and otherwise nothing is done (one
    process). Call it first, before any JAX computation. On CPU, the collectives across
    processes are JAX's default ("gloo").

    Returns:
      the number of processes (1 when nothing was initialised).

    Raises:
      ValueError: naming a setting that is given but malformed, or given without the others.
    """
    env = os.environ
    address = coordinator_address if coordinator_address is not None else env.get(DISTRIBUTED_ENV[0]) or None
    nproc = num_processes if num_processes is not None else env.get(DISTRIBUTED_ENV[1]) or None
    pid = process_id if process_id is not None else env.get(DISTRIBUTED_ENV[2]) or None
    given = [x is not None for x in (address, nproc, pid)]
    if any(given):
        if not all(given):
            raise ValueError("coordinator_address, num_processes, process_id: expected all three (or none: cluster "
                             f"auto-detection), got {address!r}, {nproc!r}, {pid!r} (arguments or "
                             f"{', '.join(DISTRIBUTED_ENV)})")
        try:
            nproc, pid = int(nproc), int(pid)
        except (TypeError, ValueError):
            raise ValueError(f"num_processes, process_id: expected integers, got {nproc!r}, {pid!r}") from None
        if not (nproc >= 1 and 0 <= pid < nproc) or ":" not in str(address):
            raise ValueError(f"coordinator_address, num_processes, process_id: expected 'host:port', n >= 1 and "
                             f"0 <= id < n, got {address!r}, {nproc}, {pid}")
        jax.distributed.initialize(str(address), nproc, pid)
    elif _cluster_detected():
        jax.distributed.initialize()
    return jax.process_count()


def _cluster_detected() -> bool:
    """Whether this process is one task of a multi-task SLURM or Open MPI job (which JAX's
    ``jax.distributed.initialize()`` then configures by itself)."""
    env = os.environ
    for size in ("SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE"):
        try:
            if int(env.get(size, "1")) > 1 and (size != "SLURM_NTASKS" or "SLURM_STEP_ID" in env):
                return True
        except ValueError:
            pass
    return False


def process_block(n: int) -> tuple[int, int, int]:
    """This process's block of n items split over the processes in order: ``(start, stop,
    size)`` with ``size = ceil(n / processes)`` (every block padded to it by the caller, so
    all processes run the same shapes); ``(0, n, n)`` for one process."""
    count, index = jax.process_count(), jax.process_index()
    size = -(-n // count)
    start = min(index * size, n)
    return start, min(start + size, n), size


def pad_rows(x: jax.Array, size: int) -> jax.Array:
    """``x`` with its leading axis padded to ``size`` by repeating its last row (its first
    if empty is impossible: x must have a row)."""
    extra = size - x.shape[0]
    if extra <= 0:
        return x
    return jnp.concatenate([x, jnp.repeat(x[-1:], extra, axis=0)])


def gather_blocks(tree: Any, n: int) -> Any:
    """Every process's block (:func:`process_block` of n; each leaf with a leading axis of
    the block ``size``, padded) concatenated in process order and cut to n rows: the same
    arrays on every process (``multihost_utils.process_allgather``), as NumPy. One process:
    the leaves as NumPy, cut to n."""
    if jax.process_count() == 1:
        return jax.tree_util.tree_map(lambda x: np.asarray(x)[:n], tree)
    from jax.experimental import multihost_utils

    gathered = multihost_utils.process_allgather(tree, tiled=True)
    return jax.tree_util.tree_map(lambda x: np.asarray(x)[:n], gathered)


def map_over_processes(fn: Callable[..., Any], *arrays: jax.Array) -> Any:
    """``fn(*block)`` on this process's block of rows of ``arrays`` (same leading length n;
    the block padded to the common size), the results (a pytree of arrays with a leading
    axis of the block's length) gathered from every process in order, cut to n rows: the
    same NumPy arrays on every process as ``fn(*arrays)`` on one (row-wise fn). One
    process: ``fn(*arrays)`` as NumPy. For per-item loops (images, planes) run by
    several processes (:func:`initialize_distributed`)."""
    n = arrays[0].shape[0]
    start, stop, size = process_block(n)
    block = tuple(pad_rows(a[start:stop] if stop > start else a[-1:], size) for a in arrays)
    return gather_blocks(fn(*block), n)


def is_main_process() -> bool:
    """Whether this is process 0 (the one that writes files and prints); True with one process."""
    return jax.process_index() == 0


def sync_processes(name: str) -> None:
    """Wait here until every process arrives (``multihost_utils.sync_global_devices``); nothing
    with one process. ``name`` labels the meeting point (the same string on every process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def allgather_objects(obj: Any) -> list:
    """Every process's ``obj`` (any picklable Python object, e.g. one model's measurements),
    in process order, on every process: pickled to bytes and exchanged as ``uint8`` arrays with
    ``multihost_utils.process_allgather`` (padded to the longest), so the transport is JAX's
    multi-process runtime. One process: ``[obj]``. Every process must call it, in the same
    order."""
    if jax.process_count() == 1:
        return [obj]
    import pickle

    from jax.experimental import multihost_utils

    data = np.frombuffer(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), np.uint8)
    sizes = np.asarray(multihost_utils.process_allgather(np.asarray([data.size], np.int64))).reshape(-1)
    padded = np.zeros(int(sizes.max()), np.uint8)
    padded[:data.size] = data
    rows = np.asarray(multihost_utils.process_allgather(padded)).reshape(len(sizes), -1)
    return [pickle.loads(row[:int(size)].tobytes()) for row, size in zip(rows, sizes)]
