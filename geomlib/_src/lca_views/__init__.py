r"""Small views of sparse coding for the notebooks.

* ``trajectory``: the LCA's trajectory (potentials, codes, energy after each Euler step)
  and the 2-D toy dictionary of Paiton et al. (2020);
* ``complex_cell``: the quadrature pair of an oriented element and the energy neuron
  (complex cell) built from it;
* ``turning``: the total turning and mean curvature of one iso-response contour.
"""

from geomlib._src.lca_views.complex_cell import energy_neuron, quadrature_pair
from geomlib._src.lca_views.trajectory import TOY_LCA, LCATrajectory, lca_trajectory, toy_lca_dictionary
from geomlib._src.lca_views.turning import ContourTurning, contour_turning

__all__ = [
    "TOY_LCA", "ContourTurning", "LCATrajectory", "contour_turning", "energy_neuron", "lca_trajectory",
    "quadrature_pair", "toy_lca_dictionary",
]
