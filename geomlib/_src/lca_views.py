r"""Small views of sparse coding for the notebooks: the LCA's trajectory, the 2-D toy
dictionary, and a complex cell (energy model) built from a dictionary element.

* :func:`lca_trajectory` records the LCA dynamics step by step (membrane potentials,
  codes and energy), so a figure can show the network settling;
* :func:`toy_lca_dictionary` is the three-element dictionary in R^2 of Paiton et al.
  (2020), small enough to draw the *whole* input space;
* :func:`quadrature_pair` shifts the phase of an oriented (Gabor-like) element by 90
  degrees, and :func:`energy_neuron` is the classical complex cell
  :math:`\sqrt{(w_1 \cdot x)^2 + (w_2 \cdot x)^2}` (Adelson & Bergen 1985), whose
  contours in the plane of a quadrature pair are circles: endo-origin curvature, the
  geometric signature of invariance (to phase).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from geomlib._src.core.checks import check_array
from geomlib._src.core.defaults import LCA_ETA, LCA_STEPS
from geomlib._src.core.dtypes import float_dtype
from geomlib._src.geometry import Response, plane_gradients
from geomlib._src.lca import lca_energy
from geomlib._src.models import check_lca_inputs, check_lca_settings, lca_potentials, soft_threshold
from geomlib._src.planes import Plane

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


def quadrature_pair(w: ArrayLike, shape: tuple[int, int] | None = None) -> np.ndarray:
    r"""The 90-degree phase-shifted partner of an oriented image (a 2-D Hilbert transform).

    With :math:`\hat w(k)` the 2-D Fourier transform of the image and :math:`k_0` its
    strongest non-zero frequency, the partner is

    .. math:: w_\perp = \mathcal F^{-1}\big[-i\,\operatorname{sign}(k \cdot k_0)\, \hat w(k)\big],

    which turns :math:`\cos(k_0 \cdot x)\,\text{envelope}` into
    :math:`\sin(k_0 \cdot x)\,\text{envelope}` for a Gabor-like element (:math:`k_0` taken
    in the half-plane :math:`k_y > 0`, or :math:`k_y = 0, k_x > 0`). The multiplier
    is odd and imaginary, so :math:`w_\perp \perp w` exactly (up to rounding); the
    result is scaled to unit norm.

    Args:
      w: image, flattened ``(D,)`` or ``(h, w)``.
      shape: ``(h, w)`` of a flattened image; default square.

    Returns:
      float64 array of the same shape as ``w``, unit norm.

    >>> x = np.arange(16)
    >>> w = np.tile(np.cos(2 * np.pi * 3 * x / 16), (16, 1))
    >>> q = quadrature_pair(w)
    >>> bool(np.allclose(q[0], np.sin(2 * np.pi * 3 * x / 16) / np.linalg.norm(w))), abs(float(np.sum(q * w))) < 1e-12
    (True, True)
    """
    check_array(w, "w", finite=False)   # None, strings, complex: TypeError (finiteness below)
    arr = np.asarray(w, dtype=np.float64)
    if shape is not None:
        if (isinstance(shape, (str, bytes)) or np.ndim(shape) != 1 or len(shape) != 2
                or not all(isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_)) and s >= 1
                           for s in shape)):
            raise ValueError(f"shape: expected (h, w), two integers >= 1, got {shape!r}")
    if arr.ndim == 1:
        if shape is None:
            side = int(round(np.sqrt(arr.size)))
            if side * side != arr.size:
                raise ValueError(f"shape: expected it for a non-square image, got D = {arr.size} (w of shape {arr.shape})")
            shape = (side, side)
        if int(np.prod(shape)) != arr.size:
            raise ValueError(f"shape: expected a shape with {arr.size} pixels, got {shape}")
        img = arr.reshape(shape)
    elif arr.ndim == 2:
        img = arr
    else:
        raise ValueError(f"w: expected an image of shape (D,) or (h, w), got shape {arr.shape}")
    if not np.all(np.isfinite(img)) or not np.any(img):
        raise ValueError("w: expected a finite, nonzero image")
    spectrum = np.fft.fft2(img)
    ky = np.fft.fftfreq(img.shape[0])[:, None]
    kx = np.fft.fftfreq(img.shape[1])[None, :]
    power = np.abs(spectrum) ** 2
    power[0, 0] = 0.0
    iy, ix = np.unravel_index(np.argmax(power), power.shape)
    k0 = np.array([ky[iy, 0], kx[0, ix]])
    if k0[0] < 0 or (k0[0] == 0 and k0[1] < 0):  # +-k0 carry the same power: fix the half-plane
        k0 = -k0
    sign = np.sign(ky * k0[0] + kx * k0[1])
    partner = np.real(np.fft.ifft2(-1j * sign * spectrum))
    norm = np.linalg.norm(partner)
    if norm == 0:
        raise ValueError("w: expected an oriented image, got one with no power off the DC term")
    return (partner / norm).reshape(arr.shape)


def energy_neuron(params: dict, x: ArrayLike) -> jax.Array:
    r"""Complex cell (energy model): :math:`f(x) = \sqrt{\sum_k (w_k \cdot x)^2}`.

    With a quadrature pair :math:`w_1 \perp w_2` of equal norm this is the local
    contrast energy of Adelson & Bergen (1985): invariant to the phase of a grating.
    In the plane spanned by :math:`w_1, w_2` its contours are circles around the origin,
    with curvature :math:`-1/r` (endo-origin).

    Args:
      params: ``{"w": (K, D)}``, the K linear filters.
      x: input, shape ``(D,)``.

    Returns:
      shape ``()``. The gradient is undefined (NaN) where every :math:`w_k \cdot x = 0`.

    Raises:
      ValueError / TypeError: ``params`` without ``"w"`` of shape ``(K, D)``, ``x`` not of
        shape ``(D,)``, complex or non-numeric; NaN in a NumPy / list ``x``. A JAX array
        ``x`` (e.g. traced) is not read: a NaN in it propagates to the output.

    >>> float(energy_neuron({"w": jnp.eye(2)}, jnp.array([3.0, 4.0])))
    5.0
    """
    if not isinstance(params, dict) or "w" not in params:
        raise ValueError(f"params: expected {{'w': (K, D)}}, got "
                         f"{sorted(params) if isinstance(params, dict) else type(params).__name__}")
    w = params["w"] if isinstance(params["w"], jax.Array) else check_array(params["w"], "params['w']")
    if w.ndim != 2:
        raise ValueError(f"params['w']: expected filters of shape (K, D), got shape {w.shape}")
    if isinstance(x, jax.Array):   # traced (inside plane_geometry) or on device: dtype and shape only
        if not (jnp.issubdtype(x.dtype, jnp.floating) or jnp.issubdtype(x.dtype, jnp.integer)):
            raise TypeError(f"x: expected real numbers, got a JAX array of dtype {x.dtype}")
    else:
        x = check_array(x, "x")
    if x.shape != (w.shape[1],):
        raise ValueError(f"x: expected shape (D,) = ({w.shape[1]},) (params['w'] is {tuple(w.shape)}), "
                         f"got {tuple(x.shape)}")
    return jnp.sqrt(jnp.sum((w @ x) ** 2))


class ContourTurning(NamedTuple):
    r"""How much an iso-response contour turns between its two ends.

    Attributes:
      turning: total turning :math:`\int \kappa\, ds` (radians), the signed angle between
        the contour's normals at its two ends; positive = exo-origin.
      length: arc length L of the contour (polyline through the points), plane units.
      mean_curvature: :math:`\bar\kappa = \frac1L \int \kappa\, ds` (plane units⁻¹).
    """

    turning: float
    length: float
    mean_curvature: float


def contour_turning(f: Response, plane: Plane, points: ArrayLike) -> ContourTurning:
    r"""Mean exact curvature of an iso-response contour, from the gradients at its two ends.

    Along a plane curve the integral of the curvature is the total turning of its
    normal (the "theorem of turning tangents" for an arc):

    .. math:: \int_C \kappa\, ds = \theta_{\text{end}} - \theta_{\text{start}},
       \qquad \bar\kappa = \frac{1}{L}\int_C \kappa\, ds,

    and the normal of a contour is the normalised gradient, :math:`\nabla g / |\nabla g|`.
    So two exact (autodiff) gradients give the *average* of the exact curvature over the
    whole contour, however sharply it is concentrated (e.g. at the kinks of a
    piecewise-linear model, where the local curvature is a delta function). The sign
    follows :func:`geomlib.contour_curvature` (positive = exo-origin): the contour is
    traversed with the higher responses on its right, along :math:`t = (-n_b, n_a)` for
    the mean n of the two end normals, whatever the order of ``points``. The total turning
    must stay below 180 degrees (an arc, not a closed loop).

    Args:
      f: scalar response R^D -> R.
      plane: a :class:`geomlib.Plane`.
      points: plane coordinates ``(m, 2)`` along one contour, in order (e.g. the
        crossings of ``geomlib.contour_bend(...).points``); rows with NaN are
        dropped; at least 2 must remain.

    Returns:
      :class:`ContourTurning` of floats (NaN if a gradient at an end vanishes).

    >>> import geomlib
    >>> p = geomlib.plane(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]))
    >>> b = np.linspace(-1.0, 1.0, 201)
    >>> turn = contour_turning(lambda x: x[0] - 0.5 * x[1] ** 2, p, np.stack([0.5 * b**2, b], axis=-1))
    >>> round(turn.turning, 4), round(float(2 * np.arctan(1.0)), 4)
    (1.5708, 1.5708)
    """
    check_array(points, "points", finite=False)   # None, strings, complex: TypeError (NaN rows dropped below)
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points: expected contour points of shape (m, 2), got shape {pts.shape}")
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    if len(pts) < 2:
        raise ValueError(f"points: expected at least 2 finite contour points, got {len(pts)}")
    _, grad = plane_gradients(f, plane, pts[[0, -1]])
    g = np.asarray(grad, dtype=np.float64)
    norms = np.linalg.norm(g, axis=1)
    length = float(np.sum(np.linalg.norm(np.diff(pts, axis=0), axis=1)))
    if not np.all(norms > 0):
        return ContourTurning(np.nan, length, np.nan)
    n = g / norms[:, None]
    mean_normal = n[0] + n[1]
    tangent = np.array([-mean_normal[1], mean_normal[0]])
    direction = 1.0 if (pts[-1] - pts[0]) @ tangent >= 0 else -1.0
    delta = np.arctan2(n[0, 0] * n[1, 1] - n[0, 1] * n[1, 0], n[0] @ n[1])  # signed angle n_start -> n_end
    turning = float(-direction * delta)
    return ContourTurning(turning, length, turning / length if length > 0 else np.nan)
