r"""Exact differential geometry of a response function restricted to a plane.

For a scalar response f: R^D -> R and a plane x = x0 + a u + b v, let
g(a, b) = f(x0 + a u + b v). Everything here is computed by automatic
differentiation of the 2-variable function g, so the cost per point is a small
constant times one evaluation of f (never a D x D Hessian).

Iso-response contour curvature (positive = exo-origin, see ``contour_curvature``):

.. math::

   \kappa = -\frac{g_{aa} g_b^2 - 2 g_{ab} g_a g_b + g_{bb} g_a^2}{(g_a^2 + g_b^2)^{3/2}}
          = -\nabla \cdot \frac{\nabla g}{|\nabla g|}.

Parts: ``modes`` (the four Hessian modes and :func:`auto_mode`), ``fields`` (values,
gradients and geometry at points of a plane; :func:`contour_curvature`), ``grid``
(grid-scale curvature on a regular grid).
"""

from geomlib._src.geometry.fields import (
    PlaneGeometry,
    contour_curvature,
    plane_geometry,
    plane_gradients,
    plane_values,
)
from geomlib._src.geometry.grid import (
    grid_curvature,
    grid_curvature_from_gradient,
    grid_spacing,
    minus_divergence_of_normal,
)
from geomlib._src.geometry.modes import (
    ADJOINT_TAPE_BYTES,
    DEFAULT_CHUNK,
    VALUE_GRAD_HESS,
    Mode,
    Response,
    auto_mode,
    scalar_response,
)

__all__ = [
    "ADJOINT_TAPE_BYTES", "DEFAULT_CHUNK", "VALUE_GRAD_HESS", "Mode", "PlaneGeometry", "Response", "auto_mode",
    "contour_curvature", "grid_curvature", "grid_curvature_from_gradient", "grid_spacing",
    "minus_divergence_of_normal", "plane_geometry", "plane_gradients", "plane_values", "scalar_response",
]
