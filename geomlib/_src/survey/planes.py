"""The survey's planes: which neurons, and for each its comparison and random planes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from geomlib._src.core.checks import check_array, check_float, check_int
from geomlib._src.core.dtypes import float_dtype
from geomlib._src.lca import dictionary_phi
from geomlib._src.planes import Plane
from geomlib._src.survey.results import SurveyPlanes


def neuron_indices(neurons, n_total: int, key) -> np.ndarray:
    """The surveyed neurons of a dictionary of ``n_total``: all (None), a count drawn at
    random with ``key`` (sorted), or the given distinct indices; ValueError otherwise."""
    if neurons is None:
        return np.arange(n_total)
    if isinstance(neurons, (bool, np.bool_, str, bytes)):
        raise ValueError(f"neurons: expected a count, None or a 1-D array of neuron indices, got {neurons!r}")
    if np.ndim(neurons) == 0 and np.issubdtype(np.asarray(neurons).dtype, np.integer):
        count = check_int(neurons, "neurons", 1, n_total, high_label="N")
        perm = np.asarray(jax.random.permutation(jax.random.fold_in(key, 2**20), n_total))
        return np.sort(perm[:count])
    try:
        idx = np.asarray(neurons)
    except (TypeError, ValueError):
        idx = np.asarray(None)
    if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
        raise ValueError(f"neurons: expected a count, None or a 1-D array of neuron indices, got {neurons!r}")
    if idx.min() < 0 or idx.max() >= n_total:
        raise ValueError(f"neurons: expected indices in [0, {n_total}), got min {idx.min()} max {idx.max()}")
    if len(np.unique(idx)) != idx.size:
        raise ValueError("neurons: expected distinct neuron indices")
    return idx.astype(np.int64)


def as_key(key) -> jax.Array:
    """A jax PRNG key from an int seed in [0, 2**32) or a key (new-style, or a legacy uint32
    ``(2,)`` array); ValueError naming ``key`` otherwise (None, bools, floats and strings included)."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        return jax.random.PRNGKey(check_int(key, "key", 0, 2**32 - 1))
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key):
        if jnp.shape(key) == ():
            return key
        raise ValueError(f"key: expected one PRNG key, got an array of keys of shape {jnp.shape(key)}")
    if dtype is not None and np.ndim(key) == 0 and jnp.issubdtype(dtype, jnp.integer):
        return jax.random.PRNGKey(check_int(key, "key", 0, 2**32 - 1))
    if dtype is not None and jnp.shape(key) == (2,) and dtype == np.uint32:
        return jnp.asarray(key)
    raise ValueError(f"key: expected an int seed in [0, 2**32) or a jax PRNG key, got {key!r}")


def check_min_angle(min_angle_deg) -> float:
    """``min_angle_deg`` as a float in [0, 90) degrees; ValueError naming it otherwise."""
    angle = check_float(min_angle_deg, "min_angle_deg")
    if not 0 <= angle < 90:
        raise ValueError(f"min_angle_deg: expected an angle in [0, 90) degrees, got {min_angle_deg!r}")
    return angle


def _orthonormal(u, w):
    """Gram-Schmidt of w against unit u (two passes), normalised; batched over leading axes."""
    v = w - jnp.sum(w * u, -1, keepdims=True) * u
    v = v - jnp.sum(v * u, -1, keepdims=True) * u
    return v / jnp.linalg.norm(v, axis=-1, keepdims=True)


def survey_planes(
    params: dict,
    neurons: ArrayLike,
    n_comparison: int = 300,
    n_random: int = 300,
    key: int | jax.Array = 0,
    min_angle_deg: float = 15.0,
) -> SurveyPlanes:
    """The planes of the curvature survey (Paiton et al. 2020), for each neuron.

    For neuron i with unit dictionary element :math:`\\phi_i` (its MEI axis, u):

    * comparison planes: v = another neuron's element :math:`\\phi_j`, made orthogonal to u
      by Gram-Schmidt, for the ``n_comparison`` neurons j whose angle
      :math:`\\arccos(\\phi_i \\cdot \\phi_j)` (in [0, 180] degrees) exceeds ``min_angle_deg``,
      closest first (ties broken by index);
    * random planes: v = a standard Gaussian vector made orthogonal to u; the vector of
      neuron i is drawn from ``jax.random.fold_in(key, i)``, so a neuron gets the same
      planes whichever other neurons are surveyed with it.

    All planes pass through the origin 0 (the mean patch / mid-gray image).

    Args:
      params: ``{"phi": (D, N)}`` dictionary (columns are normalised here).
      neurons: 1-D array of neuron indices (or one int index).
      n_comparison: comparison planes per neuron (>= 0; at most the number of neurons
        beyond ``min_angle_deg``).
      n_random: random planes per neuron (>= 0); n_comparison + n_random >= 1.
      key: int seed or jax PRNG key for the random planes.
      min_angle_deg: minimum angle between :math:`\\phi_i` and a comparison element, in [0, 90).

    Returns:
      :class:`SurveyPlanes` with planes of shape ``(n_neurons, n_comparison + n_random, D)``.

    Raises:
      ValueError: naming the bad argument.
    """
    phi = check_array(dictionary_phi(params), "params['phi']", ndim=2)
    norms = jnp.linalg.norm(phi, axis=0)
    if not bool(jnp.all(norms > 0)):
        raise ValueError(f"params['phi']: expected no zero columns, got {int(jnp.sum(norms == 0))}")
    phi = phi / norms
    dim, n_total = phi.shape
    key = as_key(key)
    if neurons is None:
        raise ValueError("neurons: expected a neuron index or a 1-D array of them, got None")
    if (not isinstance(neurons, (bool, np.bool_)) and np.ndim(neurons) == 0
            and np.issubdtype(np.asarray(neurons).dtype, np.integer)):
        neurons = [int(neurons)]  # one index, not a count
    if isinstance(neurons, (bool, np.bool_, str, bytes)):
        raise ValueError(f"neurons: expected a neuron index or a 1-D array of them, got {neurons!r}")
    idx = neuron_indices(neurons if isinstance(neurons, list) else np.asarray(neurons), n_total, key)
    n_comparison = check_int(n_comparison, "n_comparison", 0)
    n_random = check_int(n_random, "n_random", 0)
    if n_comparison + n_random < 1:
        raise ValueError("n_comparison, n_random: expected at least one plane per neuron, got 0 + 0")
    min_angle_deg = check_min_angle(min_angle_deg)

    phi_np = np.asarray(phi, np.float64)
    u = phi_np[:, idx].T  # (n, D)
    cos = np.clip(u @ phi_np, -1.0, 1.0)  # (n, N)
    angles = np.degrees(np.arccos(cos))
    eligible = angles > min_angle_deg
    eligible[np.arange(len(idx)), idx] = False
    too_few = eligible.sum(axis=1) < n_comparison
    if np.any(too_few):
        raise ValueError(f"n_comparison: expected at most {int(eligible.sum(axis=1).min())} (neurons at more than "
                         f"{min_angle_deg:g} degrees from neuron {int(idx[np.argmax(too_few)])}), got {n_comparison}")
    order = np.argsort(np.where(eligible, angles, np.inf), axis=1, kind="stable")[:, :n_comparison]
    partner_c = order
    angle_c = np.take_along_axis(angles, order, axis=1)

    dt = float_dtype()
    uj = jnp.asarray(u, dt)
    w_c = jnp.asarray(np.transpose(phi_np[:, order], (1, 2, 0)), dt)  # (n, n_comparison, D)
    w_r = jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(key, i), (n_random, dim), dt))(
        jnp.asarray(idx, jnp.int32))
    w = jnp.concatenate([w_c, w_r], axis=1)
    ub = jnp.broadcast_to(uj[:, None, :], w.shape)
    v = _orthonormal(ub, w)
    wr = np.asarray(w_r, np.float64)
    angle_r = np.degrees(np.arccos(np.clip(np.einsum("npd,nd->np", wr, u) / np.linalg.norm(wr, axis=-1), -1, 1)))
    kind = np.array(["comparison"] * n_comparison + ["random"] * n_random)
    return SurveyPlanes(
        Plane(jnp.zeros_like(ub), ub, v), kind,
        np.concatenate([angle_c, angle_r], axis=1), np.concatenate(
            [partner_c, np.full((len(idx), n_random), -1)], axis=1), idx)
