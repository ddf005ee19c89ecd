"""Tests for geomlib._src.hypersurface: principal curvatures of iso-response hypersurfaces.

Shape operator S = -P H P / |grad f| on the tangent space (science.md section 2);
positive = exo-origin, as for the 2-D contour curvature.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.tree_util import Partial

import geomlib

D_DIAG = np.array([1.0, 2.0, -0.5, 3.0, 0.25, -1.0])


def quadratic(d, x):
    """x^T diag(d) x."""
    return x @ (d * x)


def squared_norm(x):
    return x @ x


def rotated(q, f, y):
    """f(Q y): the same function in rotated input coordinates."""
    return f(q @ y)


def vector_valued(x):
    return x * 2.0


def _np(x):
    return np.asarray(x, np.float64)


def _shape_operator(f, x):
    """Reference S = -P H P / |grad f| (D x D) and the unit normal, by the definition."""
    grad = _np(jax.jit(jax.grad(f))(x))
    hess = _np(jax.jit(jax.hessian(f))(x))
    g = np.linalg.norm(grad)
    n = grad / g
    proj = np.eye(len(n)) - np.outer(n, n)
    return -proj @ hess @ proj / g, n


# ----------------------------------------------------------------------------- closed form


@pytest.mark.parametrize("axis, r", [(0, -1.5), (3, 0.7), (4, 2.0)])
def test_diagonal_quadratic_closed_form(axis, r, precision):
    dtype, rtol = precision
    f = Partial(quadratic, jnp.asarray(D_DIAG, dtype))
    x = np.zeros(6)
    x[axis] = r  # on an axis: the normal is +-e_axis and the tangent space is the other axes
    grad_norm = 2 * abs(D_DIAG[axis] * r)
    expected = np.sort(-2 * np.delete(D_DIAG, axis) / grad_norm)[::-1]
    kappa = geomlib.principal_curvatures(f, x)
    assert kappa.shape == (5,) and kappa.dtype == dtype
    np.testing.assert_allclose(_np(kappa), expected, rtol=rtol)
    # Matrix-free top-k on the same closed form.
    top = geomlib.principal_curvatures(f, x, k=2, which="LA")
    assert top.shape == (2,) and top.dtype == dtype
    np.testing.assert_allclose(_np(top), expected[:2], rtol=max(rtol, 1e-5))


def test_sphere_is_endo_origin():
    x = np.array([1.0, -2.0, 2.0, 0.0])  # |x| = 3
    np.testing.assert_allclose(_np(geomlib.principal_curvatures(squared_norm, x)), -1 / 3, rtol=1e-6)


def test_nan_at_zero_gradient():
    dense = geomlib.principal_curvatures(squared_norm, np.zeros(4))
    assert dense.shape == (3,) and np.all(np.isnan(_np(dense)))
    top = geomlib.principal_curvatures(squared_norm, np.zeros(4), k=2)
    assert top.shape == (2,) and np.all(np.isnan(_np(top)))


# ----------------------------------------------------------------------------- dense vs top-k


@pytest.mark.parametrize("which", ["LA", "SA", "LM"])
def test_dense_and_top_k_agree(which, smooth_model, x64):
    """A random smooth function in D = 100 (float32 top-k: the closed-form test above)."""
    dim = 100
    f = smooth_model(20, dim, hidden=32, scale=2.0, slope=0.5)
    x = np.random.default_rng(21).normal(size=dim)
    dense = _np(geomlib.principal_curvatures(f, x))
    top = geomlib.principal_curvatures(f, x, k=3, which=which)
    assert dense.shape == (dim - 1,) and top.shape == (3,) and top.dtype == np.float64
    assert np.all(np.diff(dense) <= 0)  # sorted, decreasing
    expected = {
        "LA": dense[:3],
        "SA": dense[-3:],
        "LM": np.sort(dense[np.argsort(-np.abs(dense))[:3]])[::-1],
    }[which]
    scale = np.abs(dense).max()
    assert scale > 0.05 and abs(expected[0] - expected[-1]) > 1e-3  # nontrivial spectrum
    # eigsh is asked for tol=1e-6 relative accuracy of the eigenvalues.
    np.testing.assert_allclose(_np(top), expected, rtol=1e-5, atol=1e-5 * scale)


# ----------------------------------------------------------------------------- invariance


@settings(max_examples=10)
@given(seed=st.integers(0, 2**16))
def test_dense_curvatures_invariant_under_orthogonal_change_of_coordinates(seed, smooth_model):
    with jax.enable_x64(True):
        rng = np.random.default_rng(seed)
        f = smooth_model(22, 6)
        q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
        x = rng.normal(size=6)
        base = geomlib.principal_curvatures(f, x)
        moved = geomlib.principal_curvatures(Partial(rotated, jnp.asarray(q), f), q.T @ x)
    assert np.abs(_np(base)).max() > 1e-3
    np.testing.assert_allclose(_np(moved), _np(base), rtol=1e-6, atol=1e-10)


# ----------------------------------------------------------------------------- relation with the 2-D curvature


def test_plane_through_the_normal_gives_the_normal_curvature(x64, smooth_model):
    """Euler / Meusnier: in the plane spanned by n and a tangent t, the 2-D contour
    curvature is t^T S t; along an eigenvector of S it is that principal curvature;
    tilting the plane by an angle phi from n divides it by cos(phi)."""
    dim = 6
    f = smooth_model(23, dim)
    x = np.random.default_rng(23).normal(size=dim)
    shape_op, n = _shape_operator(f, jnp.asarray(x))
    rng = np.random.default_rng(24)
    # Random unit tangents, and the eigenvectors of S on the tangent space.
    tangents = rng.normal(size=(3, dim))
    tangents -= np.outer(tangents @ n, n)
    tangents /= np.linalg.norm(tangents, axis=1, keepdims=True)
    basis = np.linalg.svd(np.eye(dim) - np.outer(n, n))[0][:, : dim - 1]  # tangent basis
    evals, evecs = np.linalg.eigh(basis.T @ shape_op @ basis)
    principal = (basis @ evecs).T  # (dim - 1, dim)
    np.testing.assert_allclose(np.sort(evals)[::-1], _np(geomlib.principal_curvatures(f, x)), rtol=1e-9, atol=1e-12)
    # Tilted planes: u = cos(phi) n + sin(phi) m with m a unit tangent orthogonal to t.
    t0 = tangents[0]
    m = rng.normal(size=dim)
    m -= (m @ n) * n + (m @ t0) * t0
    m /= np.linalg.norm(m)
    phi = 0.6
    tilted_u = np.cos(phi) * n + np.sin(phi) * m

    us = np.concatenate([np.tile(n, (len(tangents) + len(principal), 1)), tilted_u[None]])
    vs = np.concatenate([tangents, principal, t0[None]])
    planes = jax.vmap(geomlib.plane, (0, 0, None))(jnp.asarray(us), jnp.asarray(vs), jnp.asarray(x))
    kappa = _np(jax.vmap(lambda p: geomlib.plane_geometry(f, p, jnp.zeros(2)).curvature)(planes))

    normal_curvature = np.einsum("ki,ij,kj->k", tangents, shape_op, tangents)
    assert np.abs(normal_curvature).max() > 1e-2
    np.testing.assert_allclose(kappa[: len(tangents)], normal_curvature, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(kappa[len(tangents): -1], evals, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(kappa[-1], normal_curvature[0] / np.cos(phi), rtol=1e-8)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "x, kwargs, match",
    [
        (np.zeros((3, 3)), {}, r"x: expected a point of shape \(D,\) with D >= 2, got shape \(3, 3\)"),
        (np.zeros(1), {}, r"x: expected a point .*got shape \(1,\)"),
        (np.float32(1.0), {}, r"x: expected a point .*got shape \(\)"),
        (np.array([1.0, np.nan, 0.0]), {}, r"x: expected finite entries"),
        (np.array([1.0, np.inf, 0.0]), {}, r"x: expected finite entries"),
        (np.ones(5), dict(k=0), r"k: expected an integer with 1 <= k < D - 1 = 4, got 0"),
        (np.ones(5), dict(k=4), r"k: expected an integer with 1 <= k < D - 1 = 4, got 4"),
        (np.ones(5), dict(k=-1), r"k: expected an integer .*got -1"),
        (np.ones(5), dict(k=1.5), r"k: expected an integer .*got 1.5"),
        (np.ones(5), dict(k=2, which="XX"), r"which: expected 'LA', 'SA' or 'LM', got 'XX'"),
        (np.ones(5), dict(which="largest"), r"which: expected 'LA', 'SA' or 'LM', got 'largest'"),
    ],
)
def test_bad_input_raises(x, kwargs, match):
    with pytest.raises(ValueError, match=match):
        geomlib.principal_curvatures(squared_norm, x, **kwargs)


@pytest.mark.parametrize("k", [None, 2])
def test_non_scalar_or_non_callable_f_raises(k):
    with pytest.raises(ValueError, match=r"f: expected a scalar response per input, got output shape \(5,\)"):
        geomlib.principal_curvatures(vector_valued, np.ones(5), k=k)
    with pytest.raises(ValueError, match=r"f: expected a callable"):
        geomlib.principal_curvatures("x @ x", np.ones(5), k=k)
