r"""Principal curvatures of an iso-response hypersurface in R^D.

At a point x with gradient \nabla f \ne 0, the level set {f = f(x)} is a smooth
hypersurface with unit normal n = \nabla f / |\nabla f|. Its shape operator on the
tangent space is

.. math:: S = -P H P / |\nabla f|, \qquad P = I - n n^T,

and its D - 1 eigenvalues on the tangent space are the principal curvatures
(positive = exo-origin, the sign convention of :func:`contour_curvature`).

A Householder reflection Q (symmetric, orthogonal, Q n = -s e_1) gives an explicit
orthonormal basis of the tangent space: columns 2..D of Q. The tangent block of
Q H Q is therefore the shape operator in that basis, without forming P.

:func:`principal_curvatures` (``dense``) handles one point (dense, or ARPACK on Hessian-vector
products); :func:`lanczos_curvatures` (``lanczos``) the top k at a batch of points, with a fixed-step
Lanczos in JAX vmapped over the points (used by :func:`geomlib.boundary_curvatures`).
"""

from geomlib._src.hypersurface.dense import principal_curvatures
from geomlib._src.hypersurface.lanczos import LanczosCurvatures, lanczos_curvatures

__all__ = ["LanczosCurvatures", "lanczos_curvatures", "principal_curvatures"]
