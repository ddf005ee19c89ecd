r"""A complex cell (energy model) built from a dictionary element.

:func:`quadrature_pair` shifts the phase of an oriented (Gabor-like) element by 90
degrees, and :func:`energy_neuron` is the classical complex cell
:math:`\sqrt{(w_1 \cdot x)^2 + (w_2 \cdot x)^2}` (Adelson & Bergen 1985), whose
contours in the plane of a quadrature pair are circles: endo-origin curvature, the
geometric signature of invariance (to phase).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from geomlib._src.core.checks import check_array


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
