r"""Neuron models as small pure functions ``model(params, x) -> response``.

Parameters are pytrees (dicts of arrays); ``x`` is one input of shape ``(D,)``;
batching is the caller's ``vmap``. Bind parameters with
``jax.tree_util.Partial(model, params)`` to get the ``f: R^D -> R`` that the
geometry functions take.

* ``pointwise``: the nonlinearities, the linear and the pointwise neuron;
* ``mlp``: the multi-layer perceptron;
* ``lca``: the core of the Locally Competitive Algorithm (checks, threshold, Euler loop, codes).
"""

from geomlib._src.models.lca import (
    LCA_MAX_STEPS,
    check_lca_inputs,
    check_lca_settings,
    lca_codes,
    lca_inhibition,
    lca_potentials,
    lca_threshold,
    soft_threshold,
)
from geomlib._src.models.mlp import init_mlp, mlp
from geomlib._src.models.pointwise import NONLINEARITIES, Nonlinearity, activation, linear_neuron, pointwise_neuron

__all__ = [
    "LCA_MAX_STEPS", "NONLINEARITIES", "Nonlinearity", "activation", "check_lca_inputs", "check_lca_settings",
    "init_mlp", "lca_codes", "lca_inhibition", "lca_potentials", "lca_threshold", "linear_neuron", "mlp",
    "pointwise_neuron", "soft_threshold",
]
