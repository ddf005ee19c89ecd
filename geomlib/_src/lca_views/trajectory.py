r"""The LCA seen step by step: :func:`lca_trajectory` records the dynamics (membrane
potentials, codes and energy), so a figure can show the network settling, and
:func:`toy_lca_dictionary` is the three-element dictionary in R^2 of Paiton et al. (2020),
small enough to draw the *whole* input space (with its settings :data:`TOY_LCA`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from geomlib._src.core.defaults import LCA_ETA, LCA_STEPS
from geomlib._src.core.dtypes import float_dtype
from geomlib._src.lca import lca_energy
from geomlib._src.models import check_lca_inputs, check_lca_settings, lca_potentials, soft_threshold

#: LCA settings of the 2-D toy example (Paiton et al. 2020): threshold, Euler step, steps.
TOY_LCA = {"lam": 0.05, "eta": 0.1, "steps": 50}


class LCATrajectory(NamedTuple):
    r"""The LCA state after each Euler step, step 0 (u = 0) included.

    Attributes:
      u: membrane potentials, shape ``(steps + 1, N)``.
      a: codes threshold(u), shape ``(steps + 1, N)``; ``a[-1]`` is
        :func:`geomlib.lca_codes` of the same input.
      energy: :math:`\tfrac12 |s - \Phi a|^2 + \lambda |a|_1` of each code, shape ``(steps + 1,)``.
    """

    u: jax.Array
    a: jax.Array
    energy: jax.Array


def _check_dictionary(phi, s):
    phi = jnp.asarray(phi, dtype=float_dtype())
    s = jnp.asarray(s, dtype=float_dtype())
    if phi.ndim != 2:
        raise ValueError(f"phi: expected a dictionary of shape (D, N), got shape {phi.shape}")
    if s.shape != (phi.shape[0],):
        raise ValueError(f"s: expected an input of shape ({phi.shape[0]},), got shape {s.shape}")
    return phi, s


def lca_trajectory(phi: ArrayLike, s: ArrayLike, lam: float, steps: int = LCA_STEPS, eta: float = LCA_ETA,
                   temperature: float | None = None) -> LCATrajectory:
    r"""Run the LCA on one input and keep every step.

    Euler steps (``eta`` = dt / tau) of

    .. math:: \tau \dot u + u = \Phi^T s - (\Phi^T \Phi - I)\, a, \qquad a = \max(u - \lambda, 0),

    from u = 0, exactly as :func:`geomlib.lca_codes` (which keeps only the last code).
    The energy :math:`E(a) = \tfrac12|s - \Phi a|^2 + \lambda|a|_1` is the quantity
    the dynamics descend (Rozell et al. 2008); at a fixed point, every active neuron
    has :math:`u_i = \lambda + a_i` and every silent one :math:`u_i \le \lambda`.

    Args:
      phi: dictionary, shape ``(D, N)``, unit-norm columns.
      s: input, shape ``(D,)``.
      lam: threshold lambda (>= 0).
      steps: number of Euler steps (an int in [1, 10^6], static under ``jit``).
      eta: dt / tau, in (0, 1].
      temperature: None for the rectified threshold, T > 0 for its softplus surrogate.

    Checked as :func:`geomlib.lca_codes` (real, finite where concrete; under ``jit`` a NaN
    in phi or s propagates to the trajectory).

    Returns:
      :class:`LCATrajectory` with ``u``, ``a`` of shape ``(steps + 1, N)`` and
      ``energy`` of shape ``(steps + 1,)``.

    >>> traj = lca_trajectory(jnp.eye(2), jnp.array([1.0, 0.0]), lam=0.2, steps=300, eta=0.1)
    >>> traj.a.shape, [round(float(x), 4) for x in traj.a[-1]]
    ((301, 2), [0.8, 0.0])
    """
    lam, steps, eta, temperature = check_lca_settings(lam, steps, eta, temperature)
    check_lca_inputs(phi, s)
    phi, s = _check_dictionary(phi, s)
    return _trajectory(phi, s, jnp.asarray(lam, phi.dtype), int(steps), jnp.asarray(eta, phi.dtype),
                       None if temperature is None else jnp.asarray(temperature, phi.dtype))


@jax.jit
def _energies(phi, s, codes, lam):
    return jax.vmap(lca_energy, (None, None, 0, None))(phi, s, codes, lam)


def _trajectory(phi, s, lam, steps, eta, temperature):
    us = lca_potentials(phi, s, lam, steps, eta, temperature, every_step=True)
    u = jnp.concatenate([jnp.zeros((1, phi.shape[1]), us.dtype), us])
    a = soft_threshold(u, lam, temperature)
    return LCATrajectory(u, a, _energies(phi, s, a, lam))


def toy_lca_dictionary() -> dict:
    r"""The 2-D toy dictionary of Paiton et al. (2020): three unit-norm elements in R^2.

    Columns (1, 0), (1, 1)/sqrt 2 and (1, -1)/sqrt 2: neuron 0 points right and its two
    neighbours at +-45 degrees compete with it. Use it with :data:`TOY_LCA`
    (lambda 0.05, Euler step 0.1, 50 steps).

    Returns:
      ``{"phi": (2, 3)}`` in the default float dtype.

    >>> np.round(np.asarray(toy_lca_dictionary()["phi"], np.float64), 4).tolist()
    [[1.0, 0.7071, 0.7071], [0.0, 0.7071, -0.7071]]
    """
    phi = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, -1.0]]).T
    return {"phi": jnp.asarray(phi / np.linalg.norm(phi, axis=0), float_dtype())}
