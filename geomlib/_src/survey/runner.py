"""The survey runner: neurons x planes, chunked and sharded over the local devices (and split
over the processes of a multi-process run), each finished chunk of neurons optionally
checkpointed to a folder so that a killed run resumes."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jax.tree_util import Partial

from geomlib._src.core.batching import batch_sharding, map_over_processes
from geomlib._src.core.checks import check_array, check_bool, check_choice, check_float, check_int
from geomlib._src.core.defaults import LCA_ETA, LCA_STEPS
from geomlib._src.core.files import ResultFileError, read_npz, require, write_npz
from geomlib._src.lca import DICTIONARY_MODELS, dictionary_neuron, dictionary_phi
from geomlib._src.planes import Extent, Plane
from geomlib._src.survey.bend import (DEFAULT_EDGE_ROWS, DEFAULT_ITERATIONS, DEFAULT_PLANE_CHUNK, DEFAULT_ROWS,
                                      bend_static, evaluations_per_plane)
from geomlib._src.survey.io import SURVEY_COMMAND
from geomlib._src.survey.kernel import flat_planes, run_plane_chunks
from geomlib._src.survey.planes import as_key, check_min_angle, neuron_indices, survey_planes
from geomlib._src.survey.results import KINDS, SurveyResult

#: Largest LCA step count run_survey accepts (the recurrence is a traced loop).
MAX_STEPS = 1_000_000
#: Names of the checkpoint files: ``chunk-<first neuron's position, 6 digits>.npz``.
_CHUNK_GLOB = "chunk-*.npz"
_CHUNK_ARRAYS = ("c2", "c0", "c1", "n_valid", "angle", "partner", "neurons", "settings", "seconds")


class _Setup(NamedTuple):
    """The checked arguments of one survey and everything derived from them."""
    phi: jax.Array
    key: jax.Array
    idx: np.ndarray
    static: dict
    n_comparison: int
    n_random: int
    min_angle_deg: float
    chunk_size: int
    per_chunk: int
    sharding: object
    model_kw: dict
    config: dict      # the result's config without "seconds"
    settings: dict    # config + the neuron list and chunking: what a checkpoint must match


def _setup(params, model, neurons, n_comparison, n_random, key, *, lam, steps, eta, temperature, sigma, exponent,
           level, extent, n_b, iterations, n_edge, weighting, min_angle_deg, chunk_size, devices, capacity=None,
           tol=None) -> _Setup:
    model = check_choice(model, "model", DICTIONARY_MODELS)
    phi = check_array(dictionary_phi(params), "params['phi']", ndim=2)
    n_comparison = check_int(n_comparison, "n_comparison", 0)
    n_random = check_int(n_random, "n_random", 0)
    n_planes = n_comparison + n_random
    if n_planes < 1:
        raise ValueError("n_comparison, n_random: expected at least one plane per neuron, got 0 + 0")
    key = as_key(key)
    idx = neuron_indices(neurons, phi.shape[1], key)
    lam = check_float(lam, "lam", 0.0)
    steps = check_int(steps, "steps", 1, MAX_STEPS)
    eta = check_float(eta, "eta", 0.0, 1.0, open_low=True)
    if temperature is not None:
        temperature = check_float(temperature, "temperature", 0.0, open_low=True)
    sigma = check_float(sigma, "sigma", 0.0, open_low=True)
    exponent = check_float(exponent, "exponent", 0.0, open_low=True)
    min_angle_deg = check_min_angle(min_angle_deg)
    capacity = None if capacity is None else check_int(capacity, "capacity", 1)
    tol = None if tol is None else check_float(tol, "tol", 0.0, open_low=True)
    static = bend_static(level, extent, n_b, iterations, True, True, weighting, n_edge)
    chunk_size = check_int(chunk_size, "chunk_size")
    sharding = batch_sharding(devices, "planes")
    key_data = np.asarray(jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key)
    phi32 = np.ascontiguousarray(np.asarray(phi, np.float32))
    config = {"model": model, "dictionary_shape": list(map(int, phi.shape)),
              "dictionary_sha256": hashlib.sha256(phi32.tobytes()).hexdigest()[:16], "lam": lam, "steps": steps,
              "eta": eta, "temperature": temperature, "sigma": sigma, "exponent": exponent,
              "level": float(level), "extent": [list(static["a_range"]), list(static["b_range"])],
              "n_b": static["n_b"], "iterations": static["iterations"], "weighting": static["weighting"],
              "n_comparison": n_comparison, "n_random": n_random, "min_angle_deg": min_angle_deg,
              "key": key_data.tolist(), "n_edge": static["n_edge"],
              "evaluations_per_plane": evaluations_per_plane(static),
              "devices": int(sharding.mesh.size) * jax.process_count(),
              "chunk_size": chunk_size}
    if model == "lca":  # the LCA's accelerations, recorded only when used (older files stay comparable)
        config.update({k: v for k, v in (("capacity", capacity if temperature is None else None), ("tol", tol))
                       if v is not None})
    per_chunk = max(1, chunk_size // n_planes)  # neurons whose planes are built (and checkpointed) together
    settings = {**config, "neurons": idx.tolist(), "neurons_per_chunk": per_chunk}
    model_kw = {"model": model, "lam": lam, "steps": steps, "eta": eta, "temperature": temperature, "sigma": sigma,
                "exponent": exponent, "capacity": capacity, "tol": tol}
    return _Setup(phi, key, idx, static, n_comparison, n_random, min_angle_deg, chunk_size, per_chunk, sharding,
                  model_kw, config, settings)


def survey_config(
    params: dict,
    model: str = "lca",
    neurons: int | ArrayLike | None = 100,
    n_comparison: int = 300,
    n_random: int = 300,
    key=0,
    *,
    lam: float = 0.15,
    steps: int = LCA_STEPS,
    eta: float = LCA_ETA,
    temperature: float | None = None,
    sigma: float = 1.0,
    exponent: float = 2.0,
    level: float = 0.5,
    extent: Extent = 2.0,
    n_b: int = DEFAULT_ROWS,
    iterations: int = DEFAULT_ITERATIONS,
    n_edge: int = DEFAULT_EDGE_ROWS,
    weighting: str = "arclength",
    min_angle_deg: float = 15.0,
    chunk_size: int = DEFAULT_PLANE_CHUNK,
    devices: Sequence | None = None,
    capacity: int | None = None,
    tol: float | None = None,
) -> dict:
    """The ``config`` that :func:`run_survey` with these arguments records, without
    ``"seconds"`` and without running anything: equal configs mean equal results, bit for
    bit (on the same machine and software). Arguments are checked as by :func:`run_survey`."""
    return dict(_setup(params, model, neurons, n_comparison, n_random, key, lam=lam, steps=steps, eta=eta,
                       temperature=temperature, sigma=sigma, exponent=exponent, level=level, extent=extent, n_b=n_b,
                       iterations=iterations, n_edge=n_edge, weighting=weighting, min_angle_deg=min_angle_deg,
                       chunk_size=chunk_size, devices=devices, capacity=capacity, tol=tol).config)


def run_survey(
    params: dict,
    model: str = "lca",
    neurons: int | ArrayLike | None = 100,
    n_comparison: int = 300,
    n_random: int = 300,
    key: int | jax.Array = 0,
    *,
    lam: float = 0.15,
    steps: int = LCA_STEPS,
    eta: float = LCA_ETA,
    temperature: float | None = None,
    sigma: float = 1.0,
    exponent: float = 2.0,
    level: float = 0.5,
    extent: Extent = 2.0,
    n_b: int = DEFAULT_ROWS,
    iterations: int = DEFAULT_ITERATIONS,
    n_edge: int = DEFAULT_EDGE_ROWS,
    weighting: str = "arclength",
    min_angle_deg: float = 15.0,
    chunk_size: int = DEFAULT_PLANE_CHUNK,
    devices: Sequence | None = None,
    progress: bool | Callable[[int], None] = True,
    checkpoint: str | os.PathLike | None = None,
    capacity: int | None = None,
    tol: float | None = None,
    distribute: bool = True,
) -> SurveyResult:
    """The curvature survey: :func:`contour_bend` of neurons x (comparison + random) planes.

    For each surveyed neuron i of the dictionary, the planes of :func:`survey_planes` and
    the response ``dictionary_neuron(params, i, model, ...)`` (same weights for every
    model). All planes of all neurons form one flat batch in which each plane carries
    its neuron index as a traced value, so one compiled kernel serves every neuron; the
    batch is evaluated ``chunk_size`` planes at a time, each chunk sharded over
    ``devices`` along the plane axis (``jax.sharding``; one CPU device works too).
    Planes are built per chunk of neurons (``max(1, chunk_size // planes per neuron)``
    neurons), so memory stays bounded at any survey size.

    Several processes (JAX's multi-process runtime, joined first with
    ``jax.distributed.initialize``; :func:`geomlib._src.core.batching.initialize_distributed`
    reads the usual environment variables or SLURM's): every process builds the same
    planes, computes its block of each chunk's planes (in process order) on its local
    devices, and the blocks are gathered on every process
    (``multihost_utils.process_allgather``); each process returns the whole result, equal
    to one process's within float32 rounding (the products round differently with the batch
    size). Only process 0 writes ``checkpoint`` chunks, which must then be on a file system
    every process sees.

    Resuming: with ``checkpoint`` (a folder, made if needed), each finished chunk of
    neurons is written there (``chunk-NNNNNN.npz``, atomically, with the run's settings)
    and chunks already there are loaded instead of computed. A run killed at any moment
    loses at most the chunk in flight, and the same call run again returns a result
    equal, bit for bit, to an uninterrupted run's (chunks are computed independently of
    each other, with the same compiled kernel). The folder is left in place (delete it
    when the result is saved; ``python -m geomlib.cli.survey`` does).

    The original survey: 100 neurons x (300 comparison + 300 random) planes, window
    [-2, 2]^2, level 0.5 of the min-max normalised response (the defaults).

    Args:
      params: ``{"phi": (D, N)}``, finite.
      model: one of ``"lca"``, ``"linear"``, ``"relu"``, ``"divisive"`` (see
        :func:`geomlib.dictionary_neuron`).
      neurons: a count n in [1, N] (n neurons drawn at random, seeded by ``key``, sorted),
        a 1-D integer array of distinct indices, or None (all).
      n_comparison, n_random, min_angle_deg: planes per neuron (:func:`survey_planes`):
        counts >= 0, not both 0; an angle in [0, 90).
      key: int seed in [0, 2**32) or PRNG key (neuron draw and random planes).
      lam, steps, eta, temperature, sigma, exponent: model settings
        (:func:`geomlib.dictionary_neuron`): lam >= 0, steps in [1, 10**6], eta in (0, 1],
        temperature None or > 0, sigma > 0, exponent > 0, all finite; take lam / steps /
        eta from the dictionary's metadata (``load_metadata(name)["config"]``).
      level, extent, n_b, iterations, n_edge, weighting: the bend statistic
        (:func:`contour_bend`; level in (0, 1)).
      chunk_size: planes evaluated per compiled call (rounded up to a multiple of the
        number of devices); ``chunk_size * n_b`` inputs are in flight at once.
      devices: devices to shard each chunk over; all local devices by default.
      progress: show a tqdm bar (True; on resume it starts at the planes loaded from
        ``checkpoint``), nothing (False), or a callback given the number of planes just
        computed (chunks loaded from ``checkpoint`` are not reported).
      checkpoint: None, or the folder of this run's finished chunks (see above).
      capacity, tol: the LCA's accelerations (:func:`geomlib.dictionary_neuron`; None: the
        plain loop): the active-set capacity K >= 1 (exact up to the order of sums; hard
        threshold only) and the convergence tolerance > 0 (not exact). Recorded in
        ``config`` when set.
      distribute: with several processes, share the planes out over them (True, above);
        False: this process computes every plane alone, with no collective (a survey that
        is itself one process's task, e.g. a model of a comparison run by several).

    Returns:
      :class:`SurveyResult`; ``config["seconds"]`` is the compute time, summed over the
      runs that computed its chunks (their set-up and compilation included).

    Raises:
      ValueError: naming the bad argument; for ``checkpoint``, a folder holding chunks
        of a run with other settings (the message names the folder and what differs) or
        a damaged chunk file (named; delete it to recompute that chunk).
      TypeError: ``progress`` neither a bool nor a callable, ``checkpoint`` not a path.
    """
    start = time.perf_counter()
    s = _setup(params, model, neurons, n_comparison, n_random, key, lam=lam, steps=steps, eta=eta,
               temperature=temperature, sigma=sigma, exponent=exponent, level=level, extent=extent, n_b=n_b,
               iterations=iterations, n_edge=n_edge, weighting=weighting, min_angle_deg=min_angle_deg,
               chunk_size=chunk_size, devices=devices, capacity=capacity, tol=tol)
    if not (isinstance(progress, (bool, np.bool_)) or callable(progress)):
        raise TypeError(f"progress: expected True, False or a callable, got {type(progress).__name__} {progress!r}")
    distribute = check_bool(distribute, "distribute")
    processes = jax.process_count() if distribute else 1
    if not distribute:
        s.config["devices"] = int(s.sharding.mesh.size)
    folder = None if checkpoint is None else _checkpoint_folder(checkpoint)
    n_planes = s.n_comparison + s.n_random
    starts = list(range(0, len(s.idx), s.per_chunk))
    done = {} if folder is None else _load_chunks(folder, s, n_planes)
    if processes > 1:
        _same_everywhere(np.array([first in done for first in starts]), folder)
    loaded_seconds = sum(float(c["seconds"]) for c in done.values())
    n_total = len(s.idx) * n_planes
    n_done = sum(c["c2"].size for c in done.values())
    bar, tick = _progress(progress, n_total, n_done, f"survey {s.model_kw['model']} N={s.phi.shape[1]}")
    if tick is not None and processes > 1:  # this process's planes stand for every process's
        tick = (lambda n, t=tick, k=processes: t(n * k)) if jax.process_index() == 0 else None
    f0 = dictionary_neuron(params, 0, **s.model_kw)
    level_arr = None
    setup_seconds = time.perf_counter() - start
    compute_seconds = 0.0
    chunks = []
    try:
        for first in starts:
            if first in done:
                chunks.append(done[first])
                continue
            t0 = time.perf_counter()
            sp = survey_planes(params, s.idx[first:first + s.per_chunk], s.n_comparison, s.n_random, s.key,
                               s.min_angle_deg)
            flat, _ = flat_planes(sp.planes)
            if level_arr is None:
                level_arr = jnp.asarray(s.config["level"], flat.u.dtype)
            index = jnp.repeat(jnp.asarray(sp.neurons, jnp.int32), n_planes)

            def bend(*block, level=level_arr):  # this process's planes (all of them with one process)
                fi = _with_index(f0, block[-1])
                out = run_plane_chunks(fi, {id(block[-1])}, Plane(*block[:-1]), level, chunk_size=s.chunk_size,
                                       sharding=s.sharding, progress=tick, **s.static)
                return tuple(out[:4])

            out = (map_over_processes(bend, *flat, index) if processes > 1
                   else tuple(np.asarray(o) for o in bend(*flat, index)))
            k = len(sp.neurons)
            chunk = {name: np.asarray(x).reshape((k, n_planes)) for name, x in zip(("c2", "c0", "c1", "n_valid"), out)}
            chunk.update(angle=np.asarray(sp.angle), partner=np.asarray(sp.partner), neurons=np.asarray(sp.neurons))
            seconds = time.perf_counter() - t0
            compute_seconds += seconds
            if folder is not None and jax.process_index() == 0:
                write_npz(_chunk_path(folder, first), {**chunk, "settings": np.array(json.dumps(s.settings)),
                                                       "seconds": np.array(seconds)})
            chunks.append(chunk)
    finally:
        if bar is not None:
            bar.close()
    cat = {name: np.concatenate([c[name] for c in chunks]) for name in ("c2", "c0", "c1", "n_valid", "angle",
                                                                        "partner", "neurons")}
    config = {**s.config, "seconds": setup_seconds + compute_seconds + loaded_seconds}
    kind = np.array([KINDS[0]] * s.n_comparison + [KINDS[1]] * s.n_random)
    return SurveyResult(c2=cat["c2"], c0=cat["c0"], c1=cat["c1"], n_valid=cat["n_valid"], angle=cat["angle"],
                        partner=cat["partner"], kind=kind, neurons=s.idx, model=s.model_kw["model"], config=config)


def _checkpoint_folder(checkpoint) -> Path:
    if isinstance(checkpoint, (bool, bytes)) or not isinstance(checkpoint, (str, os.PathLike)) \
            or not os.fspath(checkpoint):
        raise TypeError(f"checkpoint: expected None or a folder path, got {type(checkpoint).__name__} {checkpoint!r}")
    folder = Path(checkpoint)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"checkpoint: expected a folder for the survey's chunks, got the file {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(".chunk-*.tmp"):  # a write killed before its rename
        stale.unlink(missing_ok=True)
    return folder


def _chunk_path(folder: Path, first: int) -> Path:
    return folder / f"chunk-{first:06d}.npz"


def checkpoint_planes(folder: str | os.PathLike) -> int:
    """Planes held by the chunk files in a :func:`run_survey` checkpoint folder (0 if there is
    none; unreadable files count 0): what a resumed run will load instead of computing."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    total = 0
    for path in folder.glob(_CHUNK_GLOB):
        try:
            total += int(read_npz(path, what="survey checkpoint", command=SURVEY_COMMAND)["c2"].size)
        except (ValueError, KeyError, OSError):
            pass
    return total


def _differences(theirs: dict, ours: dict) -> str:
    def show(v):
        text = json.dumps(v)
        return text if len(text) <= 40 else text[:37] + "..."

    keys = [k for k in sorted(set(theirs) | set(ours)) if theirs.get(k, "<none>") != ours.get(k, "<none>")]
    return "; ".join(f"{k}: {show(theirs.get(k, '<none>'))} there, {show(ours.get(k, '<none>'))} here" for k in keys)


def _load_chunks(folder: Path, s: _Setup, n_planes: int) -> dict[int, dict]:
    """The chunk files of ``folder`` by first neuron position, checked against this run's settings."""
    done = {}
    for path in sorted(folder.glob(_CHUNK_GLOB)):
        try:
            data = read_npz(path, what="survey checkpoint", command=SURVEY_COMMAND)
            require(data, _CHUNK_ARRAYS, path, what="survey checkpoint", command=SURVEY_COMMAND)
            settings = json.loads(str(data["settings"]))
        except (ResultFileError, ValueError) as err:
            raise ValueError(f"checkpoint: {path} is damaged ({err}); delete it to recompute that chunk") from err
        if settings != s.settings:
            raise ValueError(f"checkpoint: the folder {folder} holds chunks of another survey run ({path.name} "
                             f"differs in {_differences(settings, s.settings)}); use another folder, or delete "
                             f"this one to start afresh")
        first = int(path.stem.split("-", 1)[1]) if path.stem.split("-", 1)[1].isdigit() else -1
        expect = s.idx[first:first + s.per_chunk] if first >= 0 and first % s.per_chunk == 0 else None
        shape = None if expect is None else (len(expect), n_planes)
        ok = (expect is not None and first < len(s.idx) and data["c2"].shape == shape
              and all(data[k].shape == shape for k in ("c0", "c1", "n_valid", "angle", "partner"))
              and np.array_equal(data["neurons"], expect))
        if not ok:
            raise ValueError(f"checkpoint: {path} does not hold the chunk its name says (neurons "
                             f"{'?' if expect is None else expect.tolist()}); delete it to recompute that chunk")
        done[first] = {k: data[k] for k in _CHUNK_ARRAYS if k != "settings"}
    return done


def _same_everywhere(done: np.ndarray, folder) -> None:
    """Several processes: every one must find the same checkpointed chunks (a shared folder)."""
    from jax.experimental import multihost_utils

    seen = np.asarray(multihost_utils.process_allgather(done))
    if not (seen == seen[:1]).all():
        raise ValueError(f"checkpoint: the processes see different chunks in {folder}; with several processes "
                         f"the folder must be on a file system they all share")


def _progress(progress, total: int, initial: int, desc: str):
    """(tqdm bar or None, per-chunk callback or None) for ``progress`` True / a callable / False;
    with several processes, the bar is process 0's only."""
    if (progress is True or progress is np.True_) and jax.process_index() == 0:
        from tqdm.auto import tqdm

        if initial:
            desc += f" (resumed: {initial} planes on disk)"
        bar = tqdm(total=total, initial=initial, desc=desc, unit="plane")
        return bar, bar.update
    return None, (progress if callable(progress) else None)


def _with_index(f: Partial, index) -> Partial:
    """``f`` (from :func:`dictionary_neuron`) with its neuron index leaf replaced by ``index``."""
    func, args = f.func, list(f.args)
    # dictionary_neuron binds (params, index, hyper): the index is the only integer leaf.
    pos = [k for k, x in enumerate(args) if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jnp.integer)]
    if len(pos) != 1:  # pragma: no cover - guards against a change of dictionary_neuron
        raise RuntimeError("dictionary_neuron's bound arguments changed: cannot find the neuron index")
    args[pos[0]] = index
    return Partial(func, *args, **f.keywords)
