"""The survey runner: neurons x planes, chunked and sharded over the local devices."""

from __future__ import annotations

import time
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jax.tree_util import Partial

from geomlib._src.core.batching import batch_sharding
from geomlib._src.core.checks import check_int
from geomlib._src.core.defaults import LCA_ETA, LCA_STEPS
from geomlib._src.lca import DICTIONARY_MODELS, dictionary_neuron, dictionary_phi
from geomlib._src.planes import Extent
from geomlib._src.survey.bend import (DEFAULT_EDGE_ROWS, DEFAULT_ITERATIONS, DEFAULT_PLANE_CHUNK, DEFAULT_ROWS,
                                      bend_static, evaluations_per_plane)
from geomlib._src.survey.kernel import flat_planes, run_plane_chunks
from geomlib._src.survey.planes import as_key, neuron_indices, survey_planes
from geomlib._src.survey.results import SurveyResult

def run_survey(
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
    progress: bool | Callable[[int], None] = True,
) -> SurveyResult:
    """The curvature survey: :func:`contour_bend` of neurons x (comparison + random) planes.

    For each surveyed neuron i of the dictionary, the planes of :func:`survey_planes` and
    the response ``dictionary_neuron(params, i, model, ...)`` (same weights for every
    model). All planes of all neurons form one flat batch in which each plane carries
    its neuron index as a traced value, so one compiled kernel serves every neuron; the
    batch is evaluated ``chunk_size`` planes at a time, each chunk sharded over
    ``devices`` along the plane axis (``jax.sharding``; one CPU device works too).
    Planes are built per chunk of neurons, so memory stays bounded at any survey size.

    The original survey: 100 neurons x (300 comparison + 300 random) planes, window
    [-2, 2]^2, level 0.5 of the min-max normalised response (the defaults).

    Args:
      params: ``{"phi": (D, N)}``.
      model: one of ``"lca"``, ``"linear"``, ``"relu"``, ``"divisive"`` (see
        :func:`geomlib.dictionary_neuron`).
      neurons: a count n (n neurons drawn at random, seeded by ``key``, sorted), a 1-D array
        of indices, or None (all).
      n_comparison, n_random, min_angle_deg: planes per neuron (:func:`survey_planes`).
      key: int seed or PRNG key (neuron draw and random planes).
      lam, steps, eta, temperature, sigma, exponent: model settings
        (:func:`geomlib.dictionary_neuron`); take lam / steps / eta from the dictionary's
        metadata (``load_metadata(name)["config"]``).
      level, extent, n_b, iterations, n_edge, weighting: the bend statistic (:func:`contour_bend`).
      chunk_size: planes evaluated per compiled call (rounded up to a multiple of the
        number of devices); ``chunk_size * n_b`` inputs are in flight at once.
      devices: devices to shard each chunk over; all local devices by default.
      progress: show a tqdm bar (True), nothing (False), or a callback given the number
        of planes just finished.

    Returns:
      :class:`SurveyResult`.
    """
    if model not in DICTIONARY_MODELS:
        raise ValueError(f"model: expected one of {DICTIONARY_MODELS}, got {model!r}")
    phi = dictionary_phi(params)
    key = as_key(key)
    idx = neuron_indices(neurons, phi.shape[1], key)
    static = bend_static(level, extent, n_b, iterations, True, True, weighting, n_edge)
    chunk_size = check_int(chunk_size, "chunk_size")
    n_comparison = check_int(n_comparison, "n_comparison", 0)
    n_random = check_int(n_random, "n_random", 0)
    n_planes = n_comparison + n_random
    if n_planes < 1:
        raise ValueError("n_comparison, n_random: expected at least one plane per neuron, got 0 + 0")
    sharding = batch_sharding(devices, "planes")
    f0 = dictionary_neuron(params, 0, model, lam=lam, steps=steps, eta=eta, temperature=temperature, sigma=sigma,
                           exponent=exponent)
    start = time.perf_counter()
    bar, tick = _progress(progress, len(idx) * n_planes, f"survey {model} N={phi.shape[1]}")
    per_chunk = max(1, chunk_size // n_planes)  # neurons whose planes are built together
    results, meta = [], []
    for s in range(0, len(idx), per_chunk):
        sp = survey_planes(params, idx[s:s + per_chunk], n_comparison, n_random, key, min_angle_deg)
        flat, _ = flat_planes(sp.planes)
        index = jnp.repeat(jnp.asarray(sp.neurons, jnp.int32), n_planes)
        fi = _with_index(f0, index)
        out = run_plane_chunks(fi, {id(index)}, flat, jnp.asarray(level, flat.u.dtype), chunk_size=chunk_size,
                               sharding=sharding, progress=tick, **static)
        results.append([np.asarray(x).reshape((len(sp.neurons), n_planes) + x.shape[1:]) for x in out])
        meta.append((sp.angle, sp.partner))
        kind = sp.kind
    if bar is not None:
        bar.close()
    c2, c0, c1, n_valid = (np.concatenate([r[k] for r in results]) for k in range(4))
    key_data = np.asarray(jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key)
    config = {"model": model, "dictionary_shape": list(map(int, phi.shape)), "lam": float(lam), "steps": int(steps),
              "eta": float(eta), "temperature": None if temperature is None else float(temperature),
              "sigma": float(sigma), "exponent": float(exponent), "level": float(level),
              "extent": [list(static["a_range"]), list(static["b_range"])], "n_b": static["n_b"],
              "iterations": static["iterations"], "weighting": static["weighting"], "n_comparison": n_comparison,
              "n_random": n_random, "min_angle_deg": float(min_angle_deg), "key": key_data.tolist(),
              "n_edge": static["n_edge"], "evaluations_per_plane": evaluations_per_plane(static),
              "devices": int(sharding.mesh.size), "seconds": time.perf_counter() - start}
    return SurveyResult(c2=c2, c0=c0, c1=c1, n_valid=n_valid,
                        angle=np.concatenate([m[0] for m in meta]), partner=np.concatenate([m[1] for m in meta]),
                        kind=kind, neurons=idx, model=model, config=config)


def _progress(progress, total: int, desc: str):
    """(tqdm bar or None, per-chunk callback or None) for ``progress`` True / a callable / False."""
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=desc, unit="plane")
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
