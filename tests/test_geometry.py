"""Tests for geomlib._src.geometry: exact plane geometry, contour curvature, grid curvature.

Sign convention (README; Paiton et al. 2020): positive curvature = exo-origin (the contour
bends around the direction of increasing response), negative = endo-origin.
"""

import math

import jax
import jax.numpy as jnp
import jax.test_util
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from jax.tree_util import Partial

import geomlib

# ----------------------------------------------------------------------------- models
# Module-level functions bound with Partial, so the jitted kernels compile once per
# model structure (the parameters stay traced arguments).


def _pointwise(nonlinearity):
    def f(params, x):
        return geomlib.pointwise_neuron(params, x, nonlinearity)

    return f


POINTWISE = {name: _pointwise(name) for name in geomlib.NONLINEARITIES}


def any_pointwise(index, params, x):
    """pointwise_neuron with the nonlinearity NONLINEARITIES[index] chosen by a traced
    index (lax.switch): one compiled kernel serves all five neurons."""
    branches = [_pointwise(name) for name in geomlib.NONLINEARITIES]
    return jax.lax.switch(index, branches, params, x)


def parabola(x0, u, v, c, x):
    """g(a, b) = a - c b^2 on the plane (x0, u, v): its contours are a = level + c b^2."""
    d = x - x0
    return d @ u - c * (d @ v) ** 2


def radial(x):
    return jnp.sqrt(x @ x)


def squared_norm(x):
    return x @ x


def relu_pair(w1, w2, x):
    """relu(w1.x) + relu(w2.x): piecewise linear, contours kinked where w1.x = 0 or w2.x = 0."""
    return jax.nn.relu(w1 @ x) + jax.nn.relu(w2 @ x)


def vector_valued(x):
    return jnp.stack([x[0], x[1], x[0] * x[1]])


# Weights of the increasing transform h (see conftest.increasing): one of exp,
# t^3 + t, sigmoid, or a random positive combination of the four.
THETAS = st.one_of(
    st.sampled_from([(1.0, 0, 0, 0), (0, 1.0, 0, 0), (0, 0, 1.0, 0)]),
    st.tuples(*[st.floats(0.0, 2.0)] * 4).filter(lambda t: sum(t) > 0.1),
)

COORDS = hnp.arrays(np.float64, (5, 2), elements=st.floats(-1.5, 1.5, allow_nan=False))
SEEDS = st.integers(0, 2**16)


def _parabola_model(p, c):
    return Partial(parabola, p.origin, p.u, p.v, jnp.asarray(c, geomlib.float_dtype()))


def _np(x):
    return np.asarray(x, np.float64)


# ----------------------------------------------------------------------------- closed forms


FLAT_CASES = [(name, "float64") for name in geomlib.NONLINEARITIES] + [("relu", "float32"), ("tanh", "float32")]


@pytest.mark.parametrize("nonlinearity, dtype", FLAT_CASES)
def test_linear_and_pointwise_neurons_have_flat_contours(nonlinearity, dtype, rand_plane):
    rtol = 1e-6 if dtype == "float64" else 1e-5
    with jax.enable_x64(dtype == "float64"):
        rng = np.random.default_rng(10)
        params = {"w": jnp.asarray(rng.normal(size=4), dtype), "b": jnp.asarray(0.3, dtype)}
        p = rand_plane(10, 4)
        coords = p.grid(9, 2.0)
        index = jnp.int32(geomlib.NONLINEARITIES.index(nonlinearity))
        geo = geomlib.plane_geometry(Partial(any_pointwise, index, params), p, coords)
        expected_value = geomlib.activation(p.embed(coords) @ params["w"] + params["b"], nonlinearity)
    for field in geo:
        assert field.dtype == dtype
    np.testing.assert_allclose(_np(geo.value), _np(expected_value), rtol=rtol, atol=rtol)
    gnorm = np.linalg.norm(_np(geo.grad), axis=-1)
    kappa = _np(geo.curvature)
    live = gnorm > 0
    if nonlinearity == "relu":
        # The dead side has an exactly zero gradient: curvature undefined -> NaN.
        assert 0 < live.sum() < live.size
        np.testing.assert_array_equal(np.isnan(kappa), ~live)
    else:
        assert live.all()
    # Zero up to rounding: the numerator cancels exactly in exact arithmetic, and its
    # rounding error is a few ulps of |H| / |grad| (the size a wrong formula would give).
    scale = np.abs(_np(geo.hess)).max(axis=(-2, -1))[live] / gnorm[live]
    if nonlinearity in ("sigmoid", "softplus", "tanh"):
        assert scale.max() > 0.1  # the Hessian is not trivially zero: the test can fail
    assert np.all(np.abs(kappa[live]) <= rtol * (scale + 1e-30))


@pytest.mark.parametrize("c", [-1.5, -0.3, 0.4, 2.0])
def test_parabola_curvature_closed_form(c, precision, rand_plane):
    dtype, rtol = precision
    p = rand_plane(11, 4)
    a, b = np.meshgrid([-1.0, 0.0, 0.5, 2.0], [0.0, 0.3, -0.7], indexing="xy")
    coords = np.stack([a, b], axis=-1)
    geo = geomlib.plane_geometry(_parabola_model(p, c), p, coords)
    assert all(field.dtype == dtype for field in geo)
    # kappa = +2c at b = 0; along the parabola a = level + c b^2 in general
    # 2c / (1 + (2cb)^2)^(3/2) (curvature of a graph a(b)).
    expected = 2 * c / (1 + (2 * c * b) ** 2) ** 1.5
    np.testing.assert_allclose(_np(geo.curvature)[0], 2 * c, rtol=rtol)
    np.testing.assert_allclose(_np(geo.curvature), expected, rtol=rtol)
    np.testing.assert_allclose(_np(geo.grad), np.stack([np.ones_like(b), -2 * c * b], -1), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(_np(geo.hess)[..., 1, 1], -2 * c, rtol=rtol)


def test_radial_function_has_curvature_minus_one_over_r(precision):
    dtype, rtol = precision
    rng = np.random.default_rng(12)
    q, _ = np.linalg.qr(rng.normal(size=(6, 3)))
    u, v, n = q.T
    p = geomlib.plane(u, v, 0.8 * n)  # the plane misses the origin: contours are circles
    r = rng.uniform(0.2, 3.0, size=10)
    t = rng.uniform(-np.pi, np.pi, size=10)
    coords = np.stack([r * np.cos(t), r * np.sin(t)], -1)
    kappa = geomlib.plane_geometry(radial, p, coords).curvature
    assert kappa.dtype == dtype
    np.testing.assert_allclose(_np(kappa), -1 / r, rtol=rtol)


# ----------------------------------------------------------------------------- invariances


@given(seed=SEEDS, coords=COORDS, theta=THETAS)
def test_curvature_invariant_under_increasing_transform(smooth_model, rand_plane, seed, coords, theta):
    with jax.enable_x64(True):
        p = rand_plane(seed, 4)
        base = geomlib.plane_geometry(smooth_model(0, 4), p, coords)
        new = geomlib.plane_geometry(smooth_model(0, 4, theta=theta), p, coords)
        t = _np(base.value)
        h = theta[0] * np.exp(t) + theta[1] * (t**3 + t) + theta[2] / (1 + np.exp(-t)) + theta[3] * t
        np.testing.assert_allclose(_np(new.value), h, rtol=1e-12)
        np.testing.assert_allclose(_np(new.curvature), _np(base.curvature), rtol=1e-6, atol=1e-9)


@given(seed=SEEDS, coords=COORDS, theta=st.floats(-math.pi, math.pi))
def test_curvature_invariant_under_rotation_of_the_basis(smooth_model, rand_plane, seed, coords, theta):
    with jax.enable_x64(True):
        f = smooth_model(1, 4)
        p = rand_plane(seed, 4)
        c, s = math.cos(theta), math.sin(theta)
        q = geomlib.plane(c * p.u + s * p.v, -s * p.u + c * p.v, p.origin)
        rot = np.array([[c, s], [-s, c]])  # (a', b') = rot @ (a, b) names the same point
        coords_q = coords @ rot.T
        np.testing.assert_allclose(_np(q.embed(coords_q)), _np(p.embed(coords)), atol=1e-12)
        gp = geomlib.plane_geometry(f, p, coords)
        gq = geomlib.plane_geometry(f, q, coords_q)
        np.testing.assert_allclose(_np(gq.value), _np(gp.value), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(_np(gq.grad), _np(gp.grad) @ rot.T, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(_np(gq.hess), rot @ _np(gp.hess) @ rot.T, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(_np(gq.curvature), _np(gp.curvature), rtol=1e-6, atol=1e-9)


@given(seed=SEEDS, coords=COORDS, reflection=st.sampled_from(["flip_v", "flip_u", "swap"]))
def test_curvature_invariant_under_reflection_of_the_basis(smooth_model, rand_plane, seed, coords, reflection):
    with jax.enable_x64(True):
        f = smooth_model(1, 4)
        p = rand_plane(seed, 4)
        a, b = coords[:, 0], coords[:, 1]
        q, coords_q = {
            "flip_v": (geomlib.Plane(p.origin, p.u, -p.v), np.stack([a, -b], -1)),
            "flip_u": (geomlib.Plane(p.origin, -p.u, p.v), np.stack([-a, b], -1)),
            "swap": (geomlib.Plane(p.origin, p.v, p.u), np.stack([b, a], -1)),
        }[reflection]
        np.testing.assert_allclose(_np(q.embed(coords_q)), _np(p.embed(coords)), atol=1e-12)
        gp = geomlib.plane_geometry(f, p, coords)
        gq = geomlib.plane_geometry(f, q, coords_q)
        np.testing.assert_allclose(_np(gq.curvature), _np(gp.curvature), rtol=1e-6, atol=1e-9)


def test_invariance_model_is_genuinely_curved(smooth_model, rand_plane):
    """The invariance tests above compare nonzero numbers: the model is curved."""
    for seed in (0, 1):
        p = rand_plane(seed, 4)
        kappa = _np(geomlib.plane_geometry(smooth_model(seed, 4), p, p.grid(9, 1.5)).curvature)
        assert np.all(np.isfinite(kappa))
        assert np.median(np.abs(kappa)) > 0.03
        assert np.abs(kappa).max() > 0.2


# ----------------------------------------------------------------------------- autodiff vs differences


def test_gradient_and_hessian_match_central_differences(x64, smooth_model, rand_plane):
    f = smooth_model(2, 4)
    p = rand_plane(2, 4)
    coords = np.random.default_rng(2).uniform(-1.5, 1.5, size=(5, 2))
    h = 1e-5
    steps = np.array([[h, 0.0], [-h, 0.0], [0.0, h], [0.0, -h]])
    shifted = coords[:, None, :] + steps  # (5, 4, 2)
    values = geomlib.plane_values(f, p, shifted)
    _, grads = geomlib.plane_gradients(f, p, shifted)
    assert values.dtype == grads.dtype == np.float64
    values, grads = _np(values), _np(grads)
    grad_fd = np.stack([values[:, 0] - values[:, 1], values[:, 2] - values[:, 3]], -1) / (2 * h)
    hess_fd = np.stack([grads[:, 0] - grads[:, 1], grads[:, 2] - grads[:, 3]], -1) / (2 * h)
    # Second differences of values only (no autodiff at all), coarser step.
    h2 = 1e-3
    g = lambda da, db: _np(geomlib.plane_values(f, p, coords + np.array([da, db])))  # noqa: E731
    g0 = g(0, 0)
    hess_vv = np.empty((5, 2, 2))
    hess_vv[:, 0, 0] = (g(h2, 0) - 2 * g0 + g(-h2, 0)) / h2**2
    hess_vv[:, 1, 1] = (g(0, h2) - 2 * g0 + g(0, -h2)) / h2**2
    hess_vv[:, 0, 1] = hess_vv[:, 1, 0] = (g(h2, h2) - g(h2, -h2) - g(-h2, h2) + g(-h2, -h2)) / (4 * h2**2)
    for mode in ("adjoint", "taylor", "fwd", "rev"):
        geo = geomlib.plane_geometry(f, p, coords, mode=mode)
        assert all(field.dtype == np.float64 for field in geo)
        np.testing.assert_allclose(_np(geo.value), g0, rtol=1e-14)
        # Central differences: truncation h^2 |g'''| ~ 1e-10, rounding eps/h ~ 1e-11.
        np.testing.assert_allclose(_np(geo.grad), grad_fd, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(_np(geo.hess), hess_fd, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(_np(geo.hess), hess_vv, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(_np(geo.hess)[:, 0, 1], _np(geo.hess)[:, 1, 0], rtol=1e-12)


def test_plane_values_check_grads_and_consistent_gradients(x64, smooth_model, rand_plane):
    f = smooth_model(3, 4)
    p = rand_plane(3, 4)
    coords = jnp.asarray(np.random.default_rng(3).uniform(-1, 1, size=(5, 2)))
    # The restricted function g(a, b) (through plane_values) against numerical derivatives.
    jax.test_util.check_grads(lambda c: geomlib.plane_values(f, p, c), (coords,), order=1, modes=("fwd", "rev"))
    _, grads = geomlib.plane_gradients(f, p, coords)
    np.testing.assert_allclose(_np(geomlib.plane_geometry(f, p, coords).grad), _np(grads), rtol=1e-12)


@pytest.mark.parametrize("mode", ["adjoint", "taylor", "fwd"])
def test_modes_agree_with_rev(mode, smooth_model, rand_plane):
    f = smooth_model(4, 4)
    p = rand_plane(4, 4)
    coords = p.grid(9, 2.0)
    fwd = geomlib.plane_geometry(f, p, coords, mode=mode)
    rev = geomlib.plane_geometry(f, p, coords, mode="rev")
    for a, b in zip(fwd, rev):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-5, atol=1e-6)


def test_curvature_is_differentiable(x64):
    """A curvature loss differentiated with respect to the model's parameters (as a curvature
    regularizer would be): the adjoint and Taylor modes give forward-over-reverse's gradient, which
    matches finite differences."""
    params = geomlib.init_mlp(jax.random.PRNGKey(0), [5, 8, 1])
    p = geomlib.plane(jnp.arange(5.0) + 1, jnp.ones(5).at[0].set(-1.0))
    coords = p.grid(4, 1.0)

    def loss(params, mode):
        return jnp.sum(geomlib.plane_geometry(Partial(geomlib.mlp, params), p, coords, mode=mode).curvature)

    want = jax.grad(loss)(params, "rev")
    for mode in ("adjoint", "taylor"):
        got = jax.grad(loss)(params, mode)
        for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
            np.testing.assert_allclose(_np(a), _np(b), rtol=1e-9, atol=1e-12)
    jax.test_util.check_grads(lambda q: loss(q, "adjoint"), (params,), order=1, modes=("rev",))


# ----------------------------------------------------------------------------- jit / vmap / shapes


def test_plane_geometry_inside_jit_with_partial(smooth_model, rand_plane):
    f = smooth_model(5, 4)
    p = rand_plane(5, 4)
    coords = p.grid(9, 1.5)
    traces = []

    @jax.jit
    def curvature(params, w, coords):
        traces.append(1)
        return geomlib.plane_geometry(Partial(f.func, params, w), p, coords).curvature

    params, w = f.args
    got = curvature(params, w, coords)
    np.testing.assert_allclose(_np(got), _np(geomlib.plane_geometry(f, p, coords).curvature), rtol=1e-5, atol=1e-6)
    # New parameter values reuse the compiled code and are not baked in as constants.
    params2 = jax.tree_util.tree_map(lambda x: 1.7 * x, params)
    got2 = curvature(params2, w, coords)
    want2 = geomlib.plane_geometry(Partial(f.func, params2, w), p, coords).curvature
    np.testing.assert_allclose(_np(got2), _np(want2), rtol=1e-5, atol=1e-6)
    assert not np.allclose(_np(got2), _np(got))
    assert len(traces) == 1
    # f (a Partial) and the plane may also be jit arguments themselves.
    geo = jax.jit(geomlib.plane_geometry, static_argnames="mode")(f, p, coords, mode="rev")
    np.testing.assert_allclose(_np(geo.curvature), _np(got), rtol=1e-5, atol=1e-6)


def test_vmap_over_planes_built_under_the_transformation(smooth_model):
    f = smooth_model(6, 4)
    rng = np.random.default_rng(6)
    u, v, x0 = (jnp.asarray(a, geomlib.float_dtype()) for a in rng.normal(size=(3, 4, 4)))
    coords = jnp.asarray(rng.uniform(-1, 1, size=(5, 2)), geomlib.float_dtype())

    def geometry_on(u, v, x0):
        return geomlib.plane_geometry(f, geomlib.plane(u, v, x0), coords)

    batched = jax.vmap(geometry_on)(u, v, x0)
    assert batched.curvature.shape == (4, 5) and batched.hess.shape == (4, 5, 2, 2)
    # ... and over an already stacked Plane pytree.
    planes = [geomlib.plane(u[i], v[i], x0[i]) for i in range(4)]
    stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *planes)
    from_stack = jax.vmap(lambda p: geomlib.plane_geometry(f, p, coords).curvature)(stacked)
    for i, p in enumerate(planes):
        want = geomlib.plane_geometry(f, p, coords)
        np.testing.assert_allclose(_np(batched.curvature[i]), _np(want.curvature), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(_np(batched.value[i]), _np(want.value), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(_np(from_stack[i]), _np(want.curvature), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", ["adjoint", "taylor", "fwd", "rev"])
@pytest.mark.parametrize("lead", [(), (3, 4)], ids=["scalar", "batched"])
def test_output_shapes(lead, mode, rand_plane):
    p = rand_plane(7, 4)
    f = _parabola_model(p, 0.5)
    coords = jnp.asarray(np.random.default_rng(7).uniform(-1, 1, size=lead + (2,)), geomlib.float_dtype())
    geo = geomlib.plane_geometry(f, p, coords, mode=mode)
    assert isinstance(geo, geomlib.PlaneGeometry)
    assert geo.value.shape == lead
    assert geo.grad.shape == lead + (2,)
    assert geo.hess.shape == lead + (2, 2)
    assert geo.curvature.shape == lead
    if mode == "fwd":
        assert geomlib.plane_values(f, p, coords).shape == lead
        values, grads = geomlib.plane_gradients(f, p, coords)
        assert values.shape == lead and grads.shape == lead + (2,)
        np.testing.assert_allclose(_np(values), _np(geo.value), rtol=1e-6)
    # Batched results equal point-by-point (scalar) results.
    flat = coords.reshape(-1, 2)
    one = geomlib.plane_geometry(f, p, flat[0], mode=mode)
    np.testing.assert_allclose(_np(one.curvature), _np(geo.curvature.reshape(-1)[0]), rtol=1e-6)
    np.testing.assert_allclose(_np(one.hess), _np(geo.hess.reshape(-1, 2, 2)[0]), rtol=1e-6, atol=1e-7)


def test_chunking_does_not_change_results(smooth_model, rand_plane):
    f = smooth_model(8, 4)
    p = rand_plane(8, 4)
    coords = p.grid((11, 13), 1.5)
    assert coords.shape == (13, 11, 2)
    # 143 points: one ragged chunk of 1024, or 20 chunks of 7 and a remainder of 3.
    big = geomlib.plane_geometry(f, p, coords, chunk_size=1024)
    small = geomlib.plane_geometry(f, p, coords, chunk_size=7)
    for a, b in zip(small, big):
        assert a.shape == b.shape
        # Not bitwise: XLA vectorises a batch of 7 and one of 143 differently, so float32
        # results differ by a few ulps (2e-7 absolute seen on curvatures of order 1).
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- contour_curvature


def test_contour_curvature_matches_the_formula():
    rng = np.random.default_rng(13)
    grad = rng.normal(size=(3, 4, 2))
    sym = rng.normal(size=(3, 4, 2, 2))
    hess = sym + np.swapaxes(sym, -1, -2)
    ga, gb = grad[..., 0], grad[..., 1]
    gaa, gab, gbb = hess[..., 0, 0], hess[..., 0, 1], hess[..., 1, 1]
    want = -(gaa * gb**2 - 2 * gab * ga * gb + gbb * ga**2) / (ga**2 + gb**2) ** 1.5
    got = geomlib.contour_curvature(jnp.asarray(grad, jnp.float32), jnp.asarray(hess, jnp.float32))
    assert got.shape == (3, 4)
    np.testing.assert_allclose(_np(got), want, rtol=2e-4, atol=1e-5 * np.abs(want).max())


def test_contour_curvature_nan_at_zero_gradient():
    got = geomlib.contour_curvature(jnp.zeros((2, 2)), jnp.ones((2, 2, 2)))
    assert np.all(np.isnan(_np(got)))


@pytest.mark.parametrize("grad_shape, hess_shape", [((3,), (3, 3)), ((2,), (2,)), ((4, 2), (3, 2, 2)), ((2,), (1, 2, 2))])
def test_contour_curvature_bad_shapes(grad_shape, hess_shape):
    with pytest.raises(ValueError, match=r"expected grad \(\.\.\., 2\) and hess \(\.\.\., 2, 2\), got"):
        geomlib.contour_curvature(jnp.ones(grad_shape), jnp.ones(hess_shape))


# ----------------------------------------------------------------------------- grid_curvature


def test_grid_curvature_converges_to_exact_curvature(x64, smooth_model, rand_plane):
    f = smooth_model(2, 4)
    p = rand_plane(2, 4)
    grids = [p.grid(n, 1.0) for n in (17, 33)]  # the spacing halves
    exact_all = _np(geomlib.plane_geometry(f, p, jnp.concatenate([g.reshape(-1, 2) for g in grids])).curvature)
    assert np.abs(exact_all).max() > 0.1
    interior, border, start = [], [], 0
    for coords in grids:
        exact = exact_all[start:start + coords.shape[0] * coords.shape[1]].reshape(coords.shape[:2])
        start += exact.size
        approx = geomlib.grid_curvature(f, p, coords)
        assert approx.dtype == np.float64 and approx.shape == coords.shape[:2]
        err = np.abs(_np(approx) - exact)
        interior.append(err[1:-1, 1:-1].max())
        border.append(err.max())
    interior, border = np.array(interior), np.array(border)
    # Central differences inside: second order (error / 4 per halving, 3.9 measured);
    # one-sided differences on the border: first order (error / 2 per halving).
    assert np.all(interior[:-1] / interior[1:] > 3.5), interior
    assert np.all(border[:-1] / border[1:] > 1.8), border
    assert interior[-1] < 2e-3 * np.abs(exact_all).max()


def test_grid_curvature_is_zero_for_a_linear_neuron(rand_plane):
    p = rand_plane(14, 4)
    params = {"w": jnp.asarray(np.random.default_rng(14).normal(size=4), jnp.float32), "b": jnp.float32(0.5)}
    kappa = geomlib.grid_curvature(Partial(geomlib.linear_neuron, params), p, p.grid(9, 2.0))
    assert kappa.shape == (9, 9)
    np.testing.assert_allclose(_np(kappa), 0.0, atol=1e-6)


def test_grid_curvature_nan_at_and_next_to_zero_gradient():
    # A grid containing the exact critical point of |x|^2 (0.25 is exact in binary).
    p = geomlib.plane([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0])
    t = np.arange(-4, 5) * 0.25
    coords = np.stack(np.meshgrid(t, t, indexing="xy"), axis=-1)
    kappa = _np(geomlib.grid_curvature(squared_norm, p, coords))
    nan = np.isnan(kappa)
    assert nan[4, 4] and nan[3, 4] and nan[5, 4] and nan[4, 3] and nan[4, 5]
    assert nan.sum() == 5
    # Away from it: the concentric circles of radius r, curvature ~ -1/r.
    r = np.hypot(coords[..., 0], coords[..., 1])
    far = r >= 0.75
    far[[0, -1], :] = far[:, [0, -1]] = False  # border: one-sided differences
    np.testing.assert_allclose(kappa[far], -1 / r[far], rtol=0.15)


def test_grid_curvature_nan_on_the_dead_side_of_a_relu(rand_plane):
    p = rand_plane(15, 4)
    params = {"w": p.u, "b": -(p.u @ p.origin)}  # relu(a): dead for a < 0
    coords = p.grid(9, ((-1.05, 0.95), (-1.0, 1.0)))  # a never exactly 0
    kappa = _np(geomlib.grid_curvature(Partial(POINTWISE["relu"], params), p, coords))
    a = _np(coords[0, :, 0])
    dead = a < 0
    first_live = np.flatnonzero(~dead)[0]
    assert np.all(np.isnan(kappa[:, dead]))
    assert np.all(np.isnan(kappa[:, first_live]))  # its stencil reaches the dead side
    np.testing.assert_allclose(kappa[:, first_live + 1:], 0.0, atol=1e-6)


def test_grid_curvature_sees_relu_kinks_that_exact_curvature_misses(x64):
    """g = relu(a + b) + relu(a - b): straight pieces meeting at kinks on a = +-b.

    Exact (autodiff) curvature is 0 wherever it is defined; the grid-scale measure is
    nonzero near the kink, endo-origin (the contour turns back toward smaller a at
    both kinks), and grows like 1/h: it is honest only as a scale-dependent number.
    """
    p = geomlib.plane([0.6, 0.8, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.8, -0.6, 0.0, 0.0])
    f = Partial(relu_pair, p.u + p.v, p.u - p.v)
    extent = ((0.3, 2.3), (-1.1, 0.9))
    peaks = []
    for n in (17, 33):  # with this extent no grid point lies exactly on a kink
        coords = p.grid(n, extent)
        h = 2.0 / (n - 1)
        if n == 17:
            exact = _np(geomlib.plane_geometry(f, p, coords).curvature)
            assert np.all(exact == 0)
        kappa = _np(geomlib.grid_curvature(f, p, coords))
        a, b = _np(coords[..., 0]), _np(coords[..., 1])
        dist = np.minimum(np.abs(a - b), np.abs(a + b)) / np.sqrt(2)  # to the nearest kink line
        far = dist > 2 * h
        near = dist < 0.5 * h
        np.testing.assert_allclose(kappa[far], 0.0, atol=1e-12)
        assert np.all(kappa[near] < -0.1 / h)
        peaks.append(np.abs(kappa).max())
    # Halving the spacing doubles the measured bend: scale-dependent by construction.
    assert 1.6 < peaks[1] / peaks[0] < 2.4


def test_grid_curvature_accepts_fine_and_offset_float32_grids():
    """Float32 grids from Plane.grid far from 0 are regular up to rounding (regression)."""
    p = geomlib.plane([1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0])
    f = _parabola_model(p, 0.2)
    # Far from 0 the float32 steps scatter by ~ulp(1000) / h = 6e-4 relative (the check
    # used to reject such grids); and a rectangular grid with unequal spacings.
    for n, extent in (((11, 13), ((1000.0, 1001.0), (-1.0, 1.0))), (9, ((0.0, 3.0), (-1.0, 1.0)))):
        coords = p.grid(n, extent)
        kappa = _np(geomlib.grid_curvature(f, p, coords))
        b = _np(coords[..., 1])
        exact = 0.4 / (1 + (0.4 * b) ** 2) ** 1.5
        # Interior points: central differences of the exact normal, error ~ h^2.
        np.testing.assert_allclose(kappa[1:-1, 1:-1], exact[1:-1, 1:-1], rtol=2e-2)


def _irregular_grids():
    good = np.asarray(geomlib.grid(6, 1.0), np.float64)
    squared = good.copy()
    squared[..., 0] = np.sign(good[..., 0]) * good[..., 0] ** 2
    jitter = good + 1e-3 * np.random.default_rng(0).normal(size=good.shape)
    return {
        "flat_points": good.reshape(-1, 2),
        "too_small": np.asarray(geomlib.grid(2, 1.0)),
        "three_columns": np.concatenate([good, good[..., :1]], -1),
        "uneven_a": squared,
        "decreasing_a": good[:, ::-1],
        "transposed": np.swapaxes(good, 0, 1),
        "jittered": jitter,
    }


@pytest.mark.parametrize("name", sorted(_irregular_grids()))
def test_grid_curvature_rejects_irregular_grids(name):
    coords = _irregular_grids()[name]
    p = geomlib.plane([1.0, 0.0], [0.0, 1.0])
    with pytest.raises(ValueError, match=r"coords: expected a regular grid"):
        geomlib.grid_curvature(squared_norm, p, coords)


# ----------------------------------------------------------------------------- bad input

_P = geomlib.plane([1.0, 0.0, 0.0], [0.0, 1.0, 0.0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(coords=np.zeros((4, 3))), r"coords: expected shape \(\.\.\., 2\), got \(4, 3\)"),
        (dict(coords=np.float32(0.0)), r"coords: expected shape \(\.\.\., 2\), got \(\)"),
        (dict(coords=np.array([[0.0, np.nan]])), r"coords: expected finite plane coordinates"),
        (dict(coords=np.array([np.inf, 0.0])), r"coords: expected finite plane coordinates"),
        (dict(plane=(np.zeros(3), np.ones(3), np.ones(3))), r"plane: expected a geomlib.Plane.*got tuple"),
        (dict(f=3.0), r"f: expected a callable R\^D -> R, got float"),
        (dict(f=vector_valued), r"f: expected a scalar response per input, got output shape \(3,\)"),
    ],
    ids=["coords_last_dim", "coords_scalar", "coords_nan", "coords_inf", "plane_tuple", "f_not_callable", "f_vector"],
)
@pytest.mark.parametrize("func", ["plane_geometry", "plane_values", "plane_gradients"])
def test_bad_input_raises(func, kwargs, match):
    args = dict(f=squared_norm, plane=_P, coords=np.zeros((4, 2)))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        getattr(geomlib, func)(args["f"], args["plane"], args["coords"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(mode="bwd"), r"mode: expected .*'adjoint', 'taylor', 'fwd' or 'rev', got 'bwd'"),
        (dict(mode=None), r"mode: expected .*'adjoint', 'taylor', 'fwd' or 'rev', got None"),
        (dict(chunk_size=0), r"chunk_size: expected an integer >= 1, got 0"),
        (dict(chunk_size=-5), r"chunk_size: expected an integer >= 1"),
    ],
)
def test_plane_geometry_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        geomlib.plane_geometry(squared_norm, _P, np.zeros((4, 2)), **kwargs)


def test_grid_curvature_bad_f():
    with pytest.raises(ValueError, match=r"f: expected a scalar response"):
        geomlib.grid_curvature(vector_valued, _P, _P.grid(4))


# ---------------------------------------------------------------- argument checks and float32 edge (issue 15)

def test_curvature_is_nan_below_the_float32_gradient_underflow():
    """In float32, g_a^2 + g_b^2 underflows below 1.18e-38: a gradient norm below 1.08e-19 reads as zero."""
    if jax.config.jax_enable_x64:
        pytest.skip("float32 only")
    hess = jnp.array([[0.0, 0.0], [0.0, -0.5]])
    assert np.isfinite(float(geomlib.contour_curvature(jnp.array([1.2e-19, 0.0]), hess)))
    assert np.isnan(float(geomlib.contour_curvature(jnp.array([1.0e-19, 0.0]), hess)))
    p = geomlib.plane(jnp.array([1.0, 0.0, 0.0]), jnp.array([0.0, 1.0, 0.0]))
    at = jnp.array([[0.3, 0.0]])
    assert float(geomlib.plane_geometry(lambda x: 1e-18 * (x[0] - 0.25 * x[1] ** 2), p, at).curvature[0]) == \
        pytest.approx(0.5, rel=1e-5)
    assert np.isnan(float(geomlib.plane_geometry(lambda x: 1e-20 * (x[0] - 0.25 * x[1] ** 2), p, at).curvature[0]))


@pytest.mark.parametrize("fn", ["plane_values", "plane_gradients", "plane_geometry", "grid_curvature"])
@pytest.mark.parametrize("coords, exc", [(None, TypeError), ("abc", TypeError), (np.zeros((5, 5, 2)) + 1j, TypeError)])
def test_plane_functions_check_coords(fn, coords, exc):
    p = geomlib.plane(jnp.array([1.0, 0.0, 0.0]), jnp.array([0.0, 1.0, 0.0]))
    with pytest.raises(exc, match="coords"):
        getattr(geomlib, fn)(lambda x: x[0], p, coords)


@pytest.mark.parametrize("grad, hess, name", [(None, np.eye(2), "grad"), (np.ones(2), "abc", "hess"),
                                              (np.ones(2) + 1j, np.eye(2), "grad"),
                                              (np.ones(2), np.full((2, 2), np.nan), "hess")])
def test_contour_curvature_checks_its_arrays(grad, hess, name):
    with pytest.raises((TypeError, ValueError), match=name):
        geomlib.contour_curvature(grad, hess)


def test_grid_curvature_from_gradient_checks_grad():
    coords = geomlib.grid(5, 1.0)
    with pytest.raises((TypeError, ValueError), match="grad"):
        geomlib.grid_curvature_from_gradient(np.full((5, 5, 2), np.nan), coords)
    with pytest.raises(TypeError, match="grad"):
        geomlib.grid_curvature_from_gradient(None, coords)
