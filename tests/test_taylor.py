"""Second-order forward mode and the second-order adjoint (geomlib._src.taylor) against JAX's
own dense Hessian of g: R^2 -> R.

Every rule (unary elementwise, linear, dot with a moving right operand, bilinear, the
generic jvp-of-jvp fallback, calls into jitted functions, lax.scan) is exercised by a
function that routes through it, in float64, where agreement is to rounding, by both
methods (the ``vgh`` fixture).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import geomlib
from geomlib._src import taylor
from geomlib._src.geometry import auto_mode


METHODS = {"taylor": taylor.value_grad_hess, "adjoint": taylor.value_grad_hess_adjoint}


@pytest.fixture(params=sorted(METHODS))
def vgh(request):
    return METHODS[request.param]


def _reference(g, ab):
    """JAX's value, gradient and dense Hessian of g at ab, compiled as one function (eager,
    op by op, the Hessian of a small model took up to half a minute: one XLA compilation per op)."""
    return jax.jit(lambda z: (g(z), jax.grad(g)(z), jax.hessian(g)(z)))(ab)


def _assert_matches(vgh, g, ab, rtol=1e-10, atol=1e-12):
    _assert_close(jax.jit(lambda z: vgh(g, z))(ab), _reference(g, ab), rtol, atol)


def _assert_close(got, want, rtol=1e-10, atol=1e-12):
    for name, a, b in zip(("value", "grad", "hess"), got, want):
        assert a.shape == b.shape, name
        assert np.all(np.isfinite(np.asarray(b))), f"{name}: the reference is not finite; pick another test point"
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol, err_msg=name)


def _lift(f, dim, seed):
    """g(a, b) = f(x0 + a u + b v) for a random plane in R^dim."""
    u, v, x0 = jnp.asarray(np.random.default_rng(seed).normal(size=(3, dim)))
    return lambda ab: f(x0 + ab[0] * u + ab[1] * v)


ACTIVATIONS = {
    "tanh": jnp.tanh,
    "softplus": jax.nn.softplus,  # a custom_jvp inside a jitted call
    "sigmoid": jax.nn.sigmoid,
    "gelu": jax.nn.gelu,
    "sin": jnp.sin,
    "cube": lambda z: z**3,
    "square-exp": lambda z: jnp.exp(-(z**2)),
}


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_mlp_matches_dense_hessian(x64, vgh, act):
    rng = np.random.default_rng(0)
    w1, w2, w3 = (jnp.asarray(rng.normal(size=s) / np.sqrt(s[1])) for s in ((7, 5), (6, 7), (1, 6)))
    b1 = jnp.asarray(rng.normal(size=7))
    phi = ACTIVATIONS[act]

    def f(x):
        return (w3 @ phi(w2 @ phi(w1 @ x + b1)))[0]

    _assert_matches(vgh, _lift(f, 5, 1), jnp.array([0.3, -0.7]))


@pytest.mark.parametrize("method", sorted(METHODS))
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), a=st.floats(-2, 2), b=st.floats(-2, 2))
def test_random_points_and_planes(method, seed, a, b):
    with jax.enable_x64(True):
        _random_point_case(method, seed, a, b)


def _random_point_case(method, seed, a, b):
    rng = np.random.default_rng(seed)
    params = (jnp.asarray(rng.normal(size=(4, 3))), jnp.asarray(rng.normal(size=(3, 3))))
    plane = jnp.asarray(np.random.default_rng(seed).normal(size=(3, 3)))  # u, v, x0
    _assert_close(*_random_point_results(params, plane, jnp.array([a, b]), method))


@functools.partial(jax.jit, static_argnames="method")
def _random_point_results(params, plane, ab, method):
    """(method's, reference) value, gradient, Hessian; the random model and plane are arguments,
    so each method compiles once for all examples."""
    w, q = params
    u, v, x0 = plane

    def g(z):
        x = x0 + z[0] * u + z[1] * v
        h = jax.nn.softplus(w @ x)
        return jnp.sum(h * jnp.tanh(h)) + x @ q @ x + jnp.log1p(jnp.sum(x**2)) / (1.0 + h[0] ** 2)

    return METHODS[method](g, ab), _reference(g, ab)


def test_products_quotients_and_matrix_products(x64, vgh):
    """Both operands moving (bilinear rule), quotients and powers (generic rule), and a
    moving right operand with free dimensions (matrix @ matrix, batched einsum)."""
    m = jnp.asarray(np.random.default_rng(2).normal(size=(3, 4)))
    bm = jnp.asarray(np.random.default_rng(3).normal(size=(2, 3, 4)))

    def f(x):
        xm = x[:4, None] * x[None, 4:]  # (4, 2), both factors move
        y = m @ xm  # dot_general with the moving operand on the right, free dims on both sides
        z = jnp.einsum("bij,bjk->bik", bm, jnp.stack([xm, 2 * xm]))  # batch dimensions
        r = x[0] / (1.5 + x[1] ** 2) + (1.0 + x[2] ** 2) ** jnp.tanh(x[3]) + jnp.maximum(x[2], 0.1) ** 3
        return jnp.sum(y * y) + jnp.sum(jnp.sin(z)) + jnp.sum(xm @ xm.T) + r

    _assert_matches(vgh, _lift(f, 6, 4), jnp.array([0.2, 0.4]))


def test_scan_with_carries_xs_and_ys(x64, vgh):
    """The scan rule: a carry that starts constant and moves after one step, moving xs and ys,
    and a constant carry that stays constant."""
    rng = np.random.default_rng(5)
    w = jnp.asarray(rng.normal(size=(4, 4)) / 2)
    xs_const = jnp.asarray(rng.normal(size=(6, 4)))

    def f(x):
        def step(carry, inp):
            h, count, late = carry
            xc, xm = inp
            h = jnp.tanh(w @ h + xm)
            late = late + jnp.sin(h[0]) * xc[0]
            return (h, count + 1, late), h[1] * xc[1]

        xm = xs_const * x[None, :]
        (h, count, late), ys = jax.lax.scan(step, (x, 0, jnp.zeros(())), (xs_const, xm))
        return jnp.sum(h**2) + late + jnp.sum(ys**2) + count

    _assert_matches(vgh, _lift(f, 4, 6), jnp.array([-0.3, 0.5]))


def test_lca_response_matches(x64, vgh):
    phi = jax.random.normal(jax.random.PRNGKey(0), (12, 9))
    phi = phi / jnp.linalg.norm(phi, axis=0)

    def f(x):
        return geomlib.lca_codes(phi, x, 0.1, steps=20, temperature=0.05)[2]

    g = _lift(f, 12, 7)
    _assert_matches(vgh, g, jnp.array([0.4, 0.1]), rtol=1e-9, atol=1e-11)


def test_loops_and_branches_through_the_generic_rule(x64):
    """Taylor mode only: the adjoint cannot transpose a while loop (auto mode picks "rev")."""

    def f(x):
        y = jax.lax.fori_loop(0, 3, lambda i, y: jnp.tanh(y + x), x)  # while loop
        z = jax.lax.cond(x[0] > 0, jnp.sin, jnp.cos, x[1] * x[0])
        return jnp.sum(y**2) + z + jnp.argmax(x).astype(x.dtype)

    _assert_matches(taylor.value_grad_hess, _lift(f, 3, 8), jnp.array([0.6, -0.2]))


def test_branches_through_the_generic_rule(x64, vgh):
    def f(x):
        y = jax.lax.fori_loop(0, 3, lambda i, y: jnp.tanh(y + x), x, unroll=True)
        z = jax.lax.cond(x[0] > 0, jnp.sin, jnp.cos, x[1] * x[0])
        return jnp.sum(y**2) + z + jnp.argmax(x).astype(x.dtype) + jnp.max(jnp.cumsum(x * x[::-1]))

    _assert_matches(vgh, _lift(f, 3, 8), jnp.array([0.6, -0.2]))


def test_custom_jvp_rule_is_used(x64, vgh):
    """The custom rule, not the implementation, defines the derivatives (as in jax.hessian)."""

    @jax.custom_jvp
    def h(z):
        return jnp.where(z > 0, z, 0.0)  # implementation: piecewise linear

    h.defjvp(lambda p, t: (h(p[0]), jnp.tanh(p[0]) * t[0]))  # declared derivative: tanh

    def g(ab):
        return jnp.sum(h(jnp.array([ab[0] + ab[1], ab[0] - 2 * ab[1]])))

    ab = jnp.array([0.3, 0.1])
    _, _, hess = vgh(g, ab)
    assert abs(float(hess[0, 0])) > 0.1  # tanh' != 0: the custom rule was differentiated
    _assert_matches(vgh, g, ab)


def test_constant_linear_function_and_bad_output(x64, vgh):
    value, grad, hess = vgh(lambda ab: jnp.float64(2.0), jnp.array([0.1, 0.2]))
    assert float(value) == 2.0 and not np.any(np.asarray(grad)) and not np.any(np.asarray(hess))
    value, grad, hess = vgh(lambda ab: 3 * ab[0] - ab[1] / 2, jnp.array([0.1, 0.2]))
    np.testing.assert_array_equal(np.asarray(grad), [3.0, -0.5])
    assert not np.any(np.asarray(hess))
    with pytest.raises(ValueError, match="expected a scalar output"):
        vgh(lambda ab: ab * 2, jnp.array([0.1, 0.2]))


def test_auto_mode_picks_adjoint_unless_while_loops_or_custom_vjp():
    p = geomlib.plane(jnp.array([1.0, 0.0, 0.0]), jnp.array([0.0, 1.0, 0.0]))
    assert auto_mode(lambda x: jnp.sum(jnp.tanh(x)), p) == "adjoint"
    scan = lambda x: jax.lax.scan(lambda c, _: (jnp.tanh(c), None), x, None, length=3)[0][0]  # noqa: E731
    assert auto_mode(scan, p) == "adjoint"
    # A long loop over a wide state: the adjoint would store 3 x 1000 steps x 1000 floats per point
    # (12 MB; 12 GB per chunk of 1024 points), so auto falls back to Taylor mode (no tape) unless
    # the chunks are small.
    wide = lambda x: jax.lax.scan(lambda c, _: (jnp.tanh(c), None), jnp.tile(x, 334)[:1000], None,  # noqa: E731
                                  length=1000)[0][0]
    assert auto_mode(wide, p) == "taylor"
    assert auto_mode(wide, p, chunk_size=16) == "adjoint"
    n = jnp.int32(2)  # a traced trip count makes fori_loop a while loop
    assert auto_mode(lambda x: jax.lax.fori_loop(0, n + 0 * x[0].astype(jnp.int32), lambda i, y: jnp.tanh(y), x)[0],
                     p) == "rev"

    @jax.custom_vjp
    def h(x):
        return jnp.sin(x)

    h.defvjp(lambda x: (jnp.sin(x), x), lambda x, g: (jnp.cos(x) * g,))
    assert auto_mode(lambda x: jnp.sum(h(x)), p) == "rev"
    geo = geomlib.plane_geometry(lambda x: jnp.sum(h(x)), p, jnp.array([[0.2, 0.3]]))  # auto: works
    np.testing.assert_allclose(np.asarray(geo.hess[0]), -np.diag(np.sin([0.2, 0.3])), rtol=1e-5, atol=1e-6)


def test_float32_default_agrees_with_other_modes(smooth_model, rand_plane):
    f = smooth_model(11, 6)
    p = rand_plane(11, 6)
    coords = p.grid(7, 1.5)
    t = geomlib.plane_geometry(f, p, coords, mode="taylor")
    assert t.value.dtype == jnp.float32
    for mode in ("adjoint", "fwd", "rev"):
        other = geomlib.plane_geometry(f, p, coords, mode=mode)
        for a, b in zip(t, other):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=2e-6)
