"""Tests for geomlib._src.hypersurface: principal curvatures of iso-response hypersurfaces.

Shape operator S = -P H P / |grad f| on the tangent space (README, `principal_curvatures`);
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
from geomlib._src import hypersurface as H

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
        (np.ones(5), dict(k=0), r"k: expected an integer in \[1, D - 2 = 3\], got 0"),
        (np.ones(5), dict(k=4), r"k: expected an integer in \[1, D - 2 = 3\], got 4"),
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


# ----------------------------------------------------------------------------- batched Lanczos


def quadratic_per_point(x, d):
    """x^T diag(d) x with d passed per point (an ``args`` row of lanczos_curvatures)."""
    return x @ (d * x)


def _top_k(dense, k, which):
    """The top k of each row of decreasing dense curvatures, by ``which``, decreasing."""
    rows = {"LA": lambda d: d[:k], "SA": lambda d: d[-k:],
            "LM": lambda d: np.sort(d[np.argsort(-np.abs(d))[:k]])[::-1]}[which]
    return np.stack([rows(d) for d in dense])


def _smooth_points(smooth_model):
    """A smooth function in D = 60 with a nontrivial spectrum, and 5 points."""
    f = smooth_model(20, 60, hidden=32, scale=2.0, slope=0.5)
    return f, np.random.default_rng(5).normal(size=(5, 60))


@pytest.mark.parametrize("which", ["LA", "SA", "LM"])
def test_lanczos_closed_form_with_per_point_arguments(which, x64):
    """x^T diag(d) x on an axis: curvatures -2 d_i / |grad f| (i off the axis), each point
    with its own d (traced per-row args), all points in one batch."""
    dim = 8
    rng = np.random.default_rng(30)
    d = rng.uniform(0.2, 3.0, size=(4, dim)) * rng.choice([-1.0, 1.0], size=(4, dim))
    axes, r = np.array([0, 3, 5, 7]), np.array([1.5, -0.7, 2.0, 0.4])
    x = np.zeros((4, dim))
    x[np.arange(4), axes] = r
    expected = np.stack([np.sort(-2 * np.delete(d[b], axes[b]) / (2 * abs(d[b, axes[b]] * r[b])))[::-1]
                         for b in range(4)])
    out = H.lanczos_curvatures(quadratic_per_point, x, 3, args=(d,), which=which)
    assert out.curvatures.shape == out.residuals.shape == (4, 3) and out.curvatures.dtype == np.float64
    np.testing.assert_allclose(_np(out.curvatures), _top_k(expected, 3, which), rtol=1e-10)
    assert np.all(_np(out.residuals) <= 1e-8 * np.abs(_np(out.curvatures)))


@pytest.mark.parametrize("which", ["LA", "SA", "LM"])
def test_lanczos_equals_dense_eigenvalues(which, smooth_model, x64):
    f, x = _smooth_points(smooth_model)
    dense = np.stack([_np(geomlib.principal_curvatures(f, p)) for p in x])
    expected = _top_k(dense, 3, which)
    assert np.all(np.abs(np.diff(expected, axis=1)) > 1e-3)  # distinct values: order matters
    out = H.lanczos_curvatures(f, x, 3, which=which, iterations=30, tol=1e-8)
    np.testing.assert_allclose(_np(out.curvatures), expected, rtol=1e-6)
    # The ARPACK path (the per-point reference) agrees too.
    arpack = np.stack([_np(geomlib.principal_curvatures(f, p, k=3, which=which, tol=1e-10)) for p in x[:2]])
    np.testing.assert_allclose(_np(out.curvatures[:2]), arpack, rtol=1e-6)


def test_lanczos_batch_equals_one_by_one_and_chunks(smooth_model, x64):
    f, x = _smooth_points(smooth_model)
    batch = H.lanczos_curvatures(f, x, 3, iterations=30)
    for b in (0, 3):
        one = H.lanczos_curvatures(f, x[b:b + 1], 3, iterations=30)
        np.testing.assert_allclose(_np(one.curvatures[0]), _np(batch.curvatures[b]), rtol=1e-10)
    chunked = H.lanczos_curvatures(f, x, 3, iterations=30, chunk=2)  # 3 chunks of 2, one padded row
    np.testing.assert_allclose(_np(chunked.curvatures), _np(batch.curvatures), rtol=1e-10)
    np.testing.assert_allclose(_np(chunked.residuals), _np(batch.residuals), rtol=1e-6, atol=1e-20)


def test_lanczos_not_converged_is_nan_never_wrong(smooth_model, x64):
    """Too few iterations: each curvature is either NaN (residual above tol) or right."""
    f, x = _smooth_points(smooth_model)
    dense = np.stack([_np(geomlib.principal_curvatures(f, p)) for p in x])
    tol = 1e-6
    out = H.lanczos_curvatures(f, x, 3, which="LA", iterations=15, tol=tol)
    kappa, res = _np(out.curvatures), _np(out.residuals)
    nan = np.isnan(kappa)
    assert nan.any() and (~nan).any() and np.all(np.isfinite(res))
    assert np.all(res[nan] > tol * np.abs(dense).max() * 1e-3)
    np.testing.assert_allclose(kappa[~nan], _top_k(dense, 3, "LA")[~nan], rtol=tol)
    assert np.all(res[~nan] <= tol * np.abs(kappa[~nan]))
    # More iterations converge them all.
    assert not np.isnan(_np(H.lanczos_curvatures(f, x, 3, which="LA", iterations=30, tol=tol).curvatures)).any()


def quadric(a, w, x):
    """w . x + x^T A x: flat (A = 0), a sphere, a paraboloid... one compiled Lanczos kernel."""
    return w @ x + x @ (a @ x)


def _quadric(a, w):
    return Partial(quadric, jnp.asarray(a, jnp.float32), jnp.asarray(w, jnp.float32))


def test_lanczos_flat_is_exactly_zero_and_zero_gradient_is_nan():
    rng = np.random.default_rng(31)
    flat = H.lanczos_curvatures(_quadric(np.zeros((6, 6)), rng.normal(size=6)), rng.normal(size=(2, 6)), 3)
    assert np.all(_np(flat.curvatures) == 0.0) and np.all(_np(flat.residuals) == 0.0)  # S == 0: breakdown
    sphere = H.lanczos_curvatures(_quadric(np.eye(6), np.zeros(6)), np.array([np.zeros(6), [3.0, 0, 4, 0, 0, 0]]), 3)
    assert np.all(np.isnan(_np(sphere.curvatures[0]))) and np.all(np.isnan(_np(sphere.residuals[0])))
    np.testing.assert_allclose(_np(sphere.curvatures[1]), -0.2, rtol=1e-6)  # -1/r, multiplicity 5


@pytest.mark.parametrize("seed", range(4))
def test_lanczos_finds_a_repeated_curvature_with_its_multiplicity(seed):
    """x_0 - |x_rest|^2 / 2: at the origin S = I on the tangent space (one curvature, 1, of
    multiplicity D - 1: Lanczos breaks down after one step, often with an exactly zero vector)."""
    paraboloid = _quadric(np.diag([0.0, -0.5, -0.5, -0.5, -0.5, -0.5]), np.eye(6)[0])
    out = H.lanczos_curvatures(paraboloid, np.zeros((2, 6)), 5, which="LA", seed=seed)
    np.testing.assert_allclose(_np(out.curvatures), 1.0, rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(x=np.ones(5)), r"x: expected points of shape \(B, D\)"),
        (dict(x=np.full((2, 5), np.nan)), "x: expected finite"),
        (dict(k=0), r"k: expected an integer in \[1, min\(iterations, D - 1\) = 4\], got 0"),
        (dict(k=5), r"k: .* = 4\], got 5"),
        (dict(k=3, iterations=2), r"k: .* = 2\], got 3"),
        (dict(iterations=0), "iterations: expected an integer >= 1"),
        (dict(which="XX"), "which: expected 'LA', 'SA' or 'LM'"),
        (dict(chunk=0), "chunk: expected an integer >= 1"),
        (dict(tol=0.0), "tol: expected a finite number > 0, got 0.0"),
        (dict(args=(np.ones(3),)), r"args: expected arrays with leading axis B = 2"),
    ],
)
def test_lanczos_bad_input_raises(kwargs, match):
    call = dict(f=squared_norm, x=np.ones((2, 5)), k=2) | kwargs
    with pytest.raises(ValueError, match=match):
        H.lanczos_curvatures(call.pop("f"), call.pop("x"), call.pop("k"), **call)


# ---------------------------------------------------------------- argument checks (issue 15)

@pytest.mark.parametrize("kw, exc, match", [
    (dict(x=None), TypeError, "x"), (dict(x="abc"), TypeError, "x"), (dict(x=np.ones(4) + 1j), TypeError, "x"),
    (dict(tol=None), ValueError, "tol"), (dict(tol=-1.0), ValueError, "tol"), (dict(tol=True), ValueError, "tol"),
])
def test_principal_curvatures_arguments(kw, exc, match):
    args = dict(x=np.ones(4, np.float32), tol=1e-6) | kw
    with pytest.raises(exc, match=match):
        geomlib.principal_curvatures(lambda x: x @ x, args.pop("x"), **args)


def test_principal_curvatures_tol_zero_is_machine_precision():
    x = jnp.array([3.0, 0.0, 4.0, 1.0])
    np.testing.assert_allclose(geomlib.principal_curvatures(lambda y: y @ y, x, 1, tol=0.0),
                               geomlib.principal_curvatures(lambda y: y @ y, x, 1), rtol=1e-5)


@pytest.mark.parametrize("kw, exc, match", [
    (dict(x="abc"), TypeError, "x"), (dict(x=np.ones((2, 4)) + 1j), TypeError, "x"),
    (dict(seed=None), ValueError, "seed"), (dict(seed=-1), ValueError, "seed"), (dict(seed=2.5), ValueError, "seed"),
    (dict(seed=True), ValueError, "seed"),
])
def test_lanczos_curvatures_arguments(kw, exc, match):
    args = dict(x=np.ones((2, 4), np.float32), seed=0) | kw
    with pytest.raises(exc, match=match):
        geomlib.lanczos_curvatures(lambda x: x @ x, args.pop("x"), 1, iterations=3, **args)
