"""Putting the batch axis of arrays on the local devices (``jax.sharding``).

One CPU device works too: nothing is moved, and the same code runs on a machine with
several devices, or on several processes under ``jax.distributed``.
"""

from __future__ import annotations

from typing import Sequence

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
