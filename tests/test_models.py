"""Tests for geomlib._src.models: nonlinearities, neurons, MLPs and the LCA."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.tree_util import Partial

import geomlib

Z = np.linspace(-4.0, 4.0, 81)


def _np(x):
    return np.asarray(x, np.float64)


def _reference_activation(z, name, t):
    return {
        "linear": z,
        "relu": np.maximum(z, 0.0),
        "sigmoid": 1 / (1 + np.exp(-z / t)),
        "softplus": t * np.log1p(np.exp(z / t)),
        "tanh": np.tanh(z / t),
    }[name]


# ----------------------------------------------------------------------------- activations


@pytest.mark.parametrize("name", geomlib.NONLINEARITIES)
@pytest.mark.parametrize("t", [1.0, 0.5])
def test_activation_values(name, t):
    got = geomlib.activation(jnp.asarray(Z, jnp.float32), name, t)
    assert got.dtype == jnp.float32 and got.shape == Z.shape
    np.testing.assert_allclose(_np(got), _reference_activation(Z, name, t), rtol=1e-5, atol=1e-6)


def test_nonlinearities_constant():
    assert geomlib.NONLINEARITIES == ("linear", "relu", "sigmoid", "softplus", "tanh")


def test_softplus_tends_to_relu_as_temperature_goes_to_zero():
    z = jnp.asarray(Z, jnp.float32)
    relu = np.maximum(Z, 0.0)
    errors = []
    for t in (1.0, 0.1, 0.01, 0.001):
        gap = _np(geomlib.activation(z, "softplus", t)) - relu
        # 0 <= T log(1 + e^{z/T}) - max(z, 0) = T log(1 + e^{-|z|/T}) <= T log 2, at z = 0.
        assert np.all(gap >= -1e-6)
        np.testing.assert_allclose(gap.max(), t * np.log(2), rtol=1e-4)
        errors.append(gap.max())
    assert errors[-1] < 1e-3 and np.all(np.diff(errors) < 0)


def test_sigmoid_and_tanh_tend_to_steps():
    z = jnp.asarray([-1.0, -0.1, 0.1, 1.0])
    np.testing.assert_allclose(_np(geomlib.activation(z, "sigmoid", 1e-3)), [0, 0, 1, 1], atol=1e-6)
    np.testing.assert_allclose(_np(geomlib.activation(z, "tanh", 1e-3)), [-1, -1, 1, 1], atol=1e-6)


def test_unknown_nonlinearity_raises():
    params = {"w": jnp.ones(3), "b": jnp.zeros(())}
    match = r"nonlinearity: expected one of \('linear', 'relu', 'sigmoid', 'softplus', 'tanh'\), got 'gelu'"
    with pytest.raises(ValueError, match=match):
        geomlib.activation(jnp.ones(3), "gelu")
    with pytest.raises(ValueError, match=match):
        geomlib.pointwise_neuron(params, jnp.ones(3), "gelu")
    with pytest.raises(ValueError, match=match):
        geomlib.mlp(geomlib.init_mlp(jax.random.key(0), [3, 2, 1]), jnp.ones(3), "gelu")


# ----------------------------------------------------------------------------- neurons and MLPs


def test_linear_and_pointwise_neurons():
    rng = np.random.default_rng(0)
    w, x = rng.normal(size=(2, 6))
    params = {"w": jnp.asarray(w, jnp.float32), "b": jnp.float32(-0.25)}
    z = w @ x - 0.25
    lin = geomlib.linear_neuron(params, jnp.asarray(x, jnp.float32))
    assert lin.shape == ()
    np.testing.assert_allclose(float(lin), z, rtol=1e-5)
    for name in geomlib.NONLINEARITIES:
        got = geomlib.pointwise_neuron(params, jnp.asarray(x, jnp.float32), name, 0.7)
        np.testing.assert_allclose(float(got), _reference_activation(z, name, 0.7), rtol=1e-5, atol=1e-6)
    batch = jax.vmap(geomlib.pointwise_neuron, (None, 0, None))(params, jnp.ones((4, 6)), "tanh")
    assert batch.shape == (4,)


def test_init_mlp_shapes_dtypes_and_determinism():
    params = geomlib.init_mlp(jax.random.key(0), [5, 7, 3])
    assert [(p["w"].shape, p["b"].shape) for p in params] == [((7, 5), (7,)), ((3, 7), (3,))]
    assert all(p["w"].dtype == jnp.float32 and p["b"].dtype == jnp.float32 for p in params)
    assert all(np.all(_np(p["b"]) == 0) for p in params)
    again = geomlib.init_mlp(jax.random.key(0), [5, 7, 3])
    other = geomlib.init_mlp(jax.random.key(1), [5, 7, 3])
    np.testing.assert_array_equal(_np(params[0]["w"]), _np(again[0]["w"]))
    assert not np.allclose(_np(params[0]["w"]), _np(other[0]["w"]))
    doubled = geomlib.init_mlp(jax.random.key(0), [5, 7, 3], scale=2.0)
    np.testing.assert_allclose(_np(doubled[1]["w"]), 2 * _np(params[1]["w"]), rtol=1e-6)


def test_init_mlp_is_lecun_normal():
    w = _np(geomlib.init_mlp(jax.random.key(3), [400, 300])[0]["w"])  # 120,000 draws
    assert abs(w.mean()) < 5 * w.std() / np.sqrt(w.size)
    np.testing.assert_allclose(w.std(), 1 / np.sqrt(400), rtol=0.02)


def test_init_mlp_float64(x64):
    params = geomlib.init_mlp(jax.random.key(0), [2, 3, 1])
    assert params[0]["w"].dtype == np.float64 and params[1]["b"].dtype == np.float64


@pytest.mark.parametrize("sizes", [[3], [], [3, 0], [0, 3], [4, -1, 2]])
def test_init_mlp_bad_sizes(sizes):
    with pytest.raises(ValueError, match=r"sizes: expected at least two positive layer widths, got"):
        geomlib.init_mlp(jax.random.key(0), sizes)


@pytest.mark.parametrize("name", ["softplus", "tanh", "relu"])
def test_mlp_matches_numpy_forward_pass(name):
    params = geomlib.init_mlp(jax.random.key(4), [4, 6, 5, 3])
    x = np.random.default_rng(4).normal(size=4)
    h = x
    for layer in params[:-1]:
        h = _reference_activation(_np(layer["w"]) @ h + _np(layer["b"]), name, 0.5)
    want = _np(params[-1]["w"]) @ h + _np(params[-1]["b"])
    got = jax.jit(geomlib.mlp, static_argnums=2)(params, jnp.asarray(x, jnp.float32), name, 0.5)
    assert got.shape == (3,)
    np.testing.assert_allclose(_np(got), want, rtol=1e-5, atol=1e-6)


def test_mlp_single_output_is_scalar():
    params = geomlib.init_mlp(jax.random.key(5), [4, 6, 1])
    assert geomlib.mlp(params, jnp.ones(4)).shape == ()
    assert geomlib.mlp(geomlib.init_mlp(jax.random.key(5), [4, 1]), jnp.ones(4)).shape == ()


# ----------------------------------------------------------------------------- LCA


@pytest.fixture(scope="module")
def dictionary():
    rng = np.random.default_rng(0)
    phi = rng.normal(size=(8, 16))
    phi /= np.linalg.norm(phi, axis=0)  # unit-norm columns
    s = rng.normal(size=8)
    return phi, s


def _lca_reference(phi, s, lam, steps, eta, temperature=None):
    """Plain numpy Euler steps of tau du/dt + u = Phi^T s - (Phi^T Phi - I) a."""

    def threshold(u):
        if temperature is None:
            return np.maximum(u - lam, 0.0)
        return temperature * np.logaddexp(0.0, (u - lam) / temperature)

    u = np.zeros(phi.shape[1])
    for _ in range(steps):
        a = threshold(u)
        u = u + eta * (phi.T @ s - u - (phi.T @ phi @ a - a))
    return threshold(u)


def _energy(phi, s, lam, a):
    return 0.5 * np.sum((s - phi @ a) ** 2) + lam * np.sum(np.abs(a))


def test_lca_threshold():
    u = jnp.asarray(Z, jnp.float32)
    np.testing.assert_allclose(_np(geomlib.lca_threshold(u, 0.5)), np.maximum(Z - 0.5, 0), atol=1e-6)
    gaps = [np.abs(_np(geomlib.lca_threshold(u, 0.5, t)) - np.maximum(Z - 0.5, 0)).max() for t in (0.1, 0.01)]
    np.testing.assert_allclose(gaps, [0.1 * np.log(2), 0.01 * np.log(2)], rtol=1e-3)


def test_lca_smooth_threshold_softplus_accuracy_and_exact_derivatives():
    """The LCA's softplus (max(y, 0) + series log(1 + e^-|y|), custom derivative) against float64
    logaddexp: within a few float32 ulps *relative*, far into the tail where log(1 + z) would round to 0;
    its first and second derivatives are sigmoid's, finite far out in both tails."""
    from geomlib._src.models import _softplus

    y = np.concatenate([np.linspace(-80, 30, 11001), [-1e4, -100.0, 0.0, 100.0, 1e4]]).astype(np.float32)
    want = np.logaddexp(0.0, y.astype(np.float64))
    got = _np(_softplus(jnp.asarray(y)))
    assert np.all(np.isfinite(got))
    normal = want > 1e-37  # below, e^-|y| / 2 is subnormal and XLA flushes it to 0
    np.testing.assert_allclose(got[normal], want[normal], rtol=4e-7)
    np.testing.assert_array_less(got[~normal], 1e-37)
    d1 = _np(jax.vmap(jax.grad(_softplus))(jnp.asarray(y)))
    d2 = _np(jax.vmap(jax.grad(jax.grad(_softplus)))(jnp.asarray(y)))
    sig = np.exp(-np.logaddexp(0.0, -y.astype(np.float64)))  # sigmoid without overflow
    np.testing.assert_allclose(d1, sig, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(d2, sig * (1.0 - sig), rtol=1e-5, atol=1e-7)
    assert d2[y == 0.0][0] == pytest.approx(0.25)  # the kink of max(y, 0) does not leak into it


@pytest.mark.parametrize("dtype, ulps", [(np.float32, 3), (np.float64, 4)])
def test_log1p_series_within_a_few_ulps_of_log1p(dtype, ulps, x64):
    """log(1 + z) on [0, 1] by the atanh series: a few ulps of numpy's float64 log1p in float32 and in
    float64 (where the series is 16 terms long), relative accuracy down to the smallest normal numbers."""
    from geomlib._src.models import _log1p_unit

    tiny = 4 * np.finfo(dtype).tiny  # z / (2 + z) must stay normal (XLA flushes subnormals)
    z = np.concatenate([np.linspace(0, 1, 100001)[1:], np.logspace(np.log10(tiny), 0, 3000)]).astype(dtype)
    out = _log1p_unit(jnp.asarray(z))
    assert out.dtype == dtype
    got = np.asarray(out)
    want = np.log1p(z.astype(np.longdouble))
    err = np.abs(got.astype(np.longdouble) - want) / np.spacing(want.astype(dtype)).astype(np.longdouble)
    assert err.max() <= ulps, (float(err.max()), z[np.argmax(err)])
    assert _np(_log1p_unit(jnp.zeros(3, dtype))).tolist() == [0.0, 0.0, 0.0]


def test_lca_inhibition_both_forms_are_gram_minus_identity(x64):
    from geomlib._src.models import lca_inhibition

    rng = np.random.default_rng(3)
    for n in (16, 24):  # N <= 2 D: one matrix; N > 2 D: Phi^T (Phi a) - a
        phi = rng.normal(size=(8, n))
        a = rng.normal(size=n)
        np.testing.assert_allclose(_np(lca_inhibition(jnp.asarray(phi))(jnp.asarray(a))),
                                   (phi.T @ phi - np.eye(n)) @ a, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("temperature", [None, 0.05])
def test_lca_matches_numpy_reference(dictionary, x64, temperature):
    phi, s = dictionary
    got = geomlib.lca_codes(jnp.asarray(phi), jnp.asarray(s), 0.3, steps=50, eta=0.05, temperature=temperature)
    assert got.shape == (16,) and got.dtype == np.float64
    np.testing.assert_allclose(_np(got), _lca_reference(phi, s, 0.3, 50, 0.05, temperature), rtol=1e-10, atol=1e-12)


def test_lca_very_overcomplete_dictionary_matches_reference(x64):
    """N > 2 D takes the Phi^T (Phi a) route instead of the Gram matrix: same numbers."""
    rng = np.random.default_rng(1)
    phi = rng.normal(size=(8, 24))
    phi /= np.linalg.norm(phi, axis=0)
    s = rng.normal(size=8)
    got = geomlib.lca_codes(jnp.asarray(phi), jnp.asarray(s), 0.3, steps=50, eta=0.05)
    want = _lca_reference(phi, s, 0.3, 50, 0.05)
    assert np.count_nonzero(want) >= 2
    np.testing.assert_allclose(_np(got), want, rtol=1e-10, atol=1e-12)


def test_lca_float32_matches_reference(dictionary):
    phi, s = dictionary
    got = geomlib.lca_codes(jnp.asarray(phi, jnp.float32), jnp.asarray(s, jnp.float32), 0.3)
    assert got.dtype == jnp.float32
    want = _lca_reference(phi, s, 0.3, 75, 1 / 30)
    assert np.count_nonzero(want) >= 2 and np.count_nonzero(want == 0) >= 2  # sparse but not empty
    np.testing.assert_allclose(_np(got), want, rtol=1e-4, atol=1e-5)


def test_lca_energy_decreases_along_the_steps(dictionary, x64):
    phi, s = dictionary
    lam = 0.3
    energies = []
    for steps in (0, 10, 20, 40, 80, 160, 320):
        a = _np(geomlib.lca_codes(jnp.asarray(phi), jnp.asarray(s), lam, steps=steps))
        assert np.all(a >= 0)
        energies.append(_energy(phi, s, lam, a))
    assert energies[0] == pytest.approx(0.5 * s @ s)  # a = 0 before any step
    assert np.all(np.diff(energies) <= 1e-12), energies
    assert energies[-1] < energies[0] - 0.1


def test_lca_converges_to_the_nonnegative_lasso_solution(dictionary, x64):
    """Fixed point: Phi^T (s - Phi a) = lambda on the active set and <= lambda elsewhere
    (the KKT conditions of min 1/2 |s - Phi a|^2 + lambda |a|_1 subject to a >= 0)."""
    phi, s = dictionary
    lam = 0.3
    a = _np(geomlib.lca_codes(jnp.asarray(phi), jnp.asarray(s), lam, steps=3000, eta=0.05))
    corr = phi.T @ (s - phi @ a)
    active = a > 0
    assert 1 <= active.sum() < 16
    np.testing.assert_allclose(corr[active], lam, atol=1e-6)
    assert np.all(corr[~active] <= lam + 1e-6)


def test_smooth_lca_approaches_hard_lca(dictionary, x64):
    phi, s = dictionary
    hard = _np(geomlib.lca_codes(jnp.asarray(phi), jnp.asarray(s), 0.3))
    errors = [
        np.abs(_np(geomlib.lca_codes(jnp.asarray(phi), jnp.asarray(s), 0.3, temperature=t)) - hard).max()
        for t in (0.1, 0.01, 0.001)
    ]
    assert np.all(np.diff(errors) < 0), errors
    assert errors[-1] < 5e-3


def _lca_unit(phi, lam, temperature, x):
    return geomlib.lca_codes(phi, x, lam, steps=40, temperature=temperature)[0]


def _hard_lca_unit(phi, lam, x):
    return geomlib.lca_codes(phi, x, lam, steps=40)[0]


def test_hard_lca_is_piecewise_linear_smooth_lca_is_curved(dictionary):
    """Hard-threshold LCA run for a fixed number of steps is piecewise linear in its
    input: exact curvature 0 wherever the unit is active; the smooth variant bends."""
    phi, _ = dictionary
    phi = jnp.asarray(phi, jnp.float32)
    p = geomlib.plane(_np(phi[:, 0]), np.random.default_rng(1).normal(size=8), 0.3 * _np(phi[:, 1]))
    coords = p.grid(5, ((1.0, 3.0), (-1.0, 1.0)))  # along the unit's own atom: active
    hard = geomlib.plane_geometry(Partial(_hard_lca_unit, phi, 0.3), p, coords)
    active = _np(hard.value) > 0
    assert active.sum() >= 10
    np.testing.assert_array_equal(_np(hard.curvature)[active], 0.0)
    smooth = geomlib.plane_geometry(Partial(_lca_unit, phi, 0.3, jnp.float32(0.1)), p, coords)
    assert np.abs(_np(smooth.curvature)[active]).max() > 1e-2
