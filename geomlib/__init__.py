"""geomlib: exact response geometry of neurons on 2-D planes of input space.

Layers (lower never import upper): planes -> geometry -> models -> training/data
-> plots -> widgets. The public names are re-exported here; ``geomlib.plots`` and
``geomlib.widgets`` are imported on demand (they need matplotlib / ipywidgets).
"""

from geomlib._src.contours import ContourFit, contour_points, fit_contour_curvature
from geomlib._src.data import Split, load_mnist_subset
from geomlib._src.geometry import (
    PlaneGeometry,
    contour_curvature,
    grid_curvature,
    plane_geometry,
    plane_gradients,
    plane_values,
)
from geomlib._src.hypersurface import principal_curvatures
from geomlib._src.models import (
    NONLINEARITIES,
    activation,
    init_mlp,
    lca_codes,
    lca_threshold,
    linear_neuron,
    mlp,
    pointwise_neuron,
)
from geomlib._src.planes import Plane, float_dtype, grid, plane
from geomlib._src.training import fit_linear_neuron

__all__ = [
    "ContourFit",
    "NONLINEARITIES",
    "Plane",
    "PlaneGeometry",
    "Split",
    "activation",
    "contour_curvature",
    "contour_points",
    "fit_contour_curvature",
    "fit_linear_neuron",
    "float_dtype",
    "grid",
    "grid_curvature",
    "init_mlp",
    "lca_codes",
    "lca_threshold",
    "linear_neuron",
    "load_mnist_subset",
    "mlp",
    "plane",
    "plane_geometry",
    "plane_gradients",
    "plane_values",
    "pointwise_neuron",
    "principal_curvatures",
]

__version__ = "0.1.0"
