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
    from geomlib._src.models.lca import _softplus

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
    from geomlib._src.models.lca import _log1p_unit

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


# ----------------------------------------------------------------------------- argument checks (issue 15)


_PHI = np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))[0][:, :3].astype(np.float32)
_S = np.linspace(0.2, 0.8, 4).astype(np.float32)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"phi": None}, TypeError, r"^phi: expected an array of numbers"),
    ({"phi": _PHI + 1j}, TypeError, r"^phi: expected real numbers, got complex"),
    ({"phi": np.where(_PHI > 0.5, np.nan, _PHI)}, ValueError, r"^phi: expected finite values"),
    ({"phi": _PHI[..., None]}, ValueError, r"^phi: expected a dictionary of shape \(D, N\), got shape \(4, 3, 1\)"),
    ({"phi": _PHI.T}, ValueError, r"^s: expected an input of shape \(3,\), got shape \(4,\); phi has shape \(3, 4\)"),
    ({"s": _S + 1j}, TypeError, r"^s: expected real numbers, got complex"),
    ({"s": np.array([0.1, np.inf, 0.0, 0.0])}, ValueError, r"^s: expected finite values"),
    ({"steps": -5}, ValueError, r"^steps: expected an integer in \[0, 1000000\], got -5"),
    ({"steps": 2.5}, ValueError, r"^steps: expected an integer"), ({"steps": 2 ** 31}, ValueError, r"^steps:"),
    ({"eta": -1.0}, ValueError, r"^eta: expected a finite number in \(0, 1\], got -1.0"),
    ({"lam": True}, ValueError, r"^lam: expected a finite number >= 0, got True"),
    ({"temperature": -1.0}, ValueError, r"^temperature: expected None \(hard threshold\) or a finite T > 0"),
])
def test_lca_codes_checks(kwargs, error, match):
    args = {"phi": _PHI, "s": _S, "lam": 0.15, "steps": 5, "eta": 0.1, **kwargs}
    with pytest.raises(error, match=match):
        geomlib.lca_codes(**args)


def test_lca_codes_zero_steps_is_the_initial_code():
    """steps = 0 is documented (the code of u = 0), not rejected."""
    np.testing.assert_array_equal(_np(geomlib.lca_codes(_PHI, _S, 0.15, 0)), 0.0)
    np.testing.assert_allclose(_np(geomlib.lca_codes(_PHI, _S, 0.15, 0, temperature=0.1)),
                               0.1 * np.log1p(np.exp(-1.5)), rtol=1e-6)


def test_lca_settings_traced_pass_unchecked():
    got = jax.jit(lambda lam, eta, t: geomlib.lca_codes(_PHI, _S, lam, 5, eta, t))(0.15, 0.1, 0.1)
    np.testing.assert_allclose(_np(got), _np(geomlib.lca_codes(_PHI, _S, 0.15, 5, 0.1, 0.1)), rtol=1e-6)


@pytest.mark.parametrize("args, error, match", [
    ({"u": None}, TypeError, r"^u: expected an array"), ({"u": "abc"}, TypeError, r"^u: expected an array"),
    ({"u": np.ones(3) + 1j}, TypeError, r"^u: expected real numbers"),
    ({"u": np.array([np.nan, 0.0])}, ValueError, r"^u: expected finite values"),
    ({"lam": -1.0}, ValueError, r"^lam: expected a finite number >= 0"),
    ({"lam": float("nan")}, ValueError, r"^lam:"),
    ({"temperature": 0.0}, ValueError, r"^temperature: expected None"),
    ({"temperature": "0.1"}, ValueError, r"^temperature:"),
])
def test_lca_threshold_checks(args, error, match):
    with pytest.raises(error, match=match):
        geomlib.lca_threshold(**{"u": np.linspace(-1, 1, 5), "lam": 0.15, **args})


@pytest.mark.parametrize("sizes", ["abc", None, [4, 2.5, 3], [4, True, 3]])
def test_init_mlp_bad_size_types(sizes):
    with pytest.raises(ValueError, match=r"^sizes: expected at least two positive layer widths, got"):
        geomlib.init_mlp(jax.random.key(0), sizes)


@pytest.mark.parametrize("kwargs, match", [
    ({"scale": 0.0}, r"^scale: expected a finite number > 0"), ({"scale": True}, r"^scale:"),
    ({"scale": float("nan")}, r"^scale:"), ({"key": None}, r"^key: expected a PRNG key"), ({"key": 2.5}, r"^key:"),
])
def test_init_mlp_bad_scale_and_key(kwargs, match):
    with pytest.raises(ValueError, match=match):
        geomlib.init_mlp(**{"key": jax.random.key(0), "sizes": [4, 5, 3], **kwargs})


def _mlp_layers():
    return geomlib.init_mlp(jax.random.key(0), [4, 5, 3])


@pytest.mark.parametrize("make, error, match", [
    (lambda p, x: (None, x), ValueError, r"^params: expected a non-empty list of layers"),
    (lambda p, x: ([], x), ValueError, r"^params: expected a non-empty list"),
    (lambda p, x: ([{**p[0], "w": p[0]["w"].T}, p[1]], x), ValueError, r"^params\[0\]\['b'\]: expected shape \(4,\)"),
    (lambda p, x: ([p[0], {**p[1], "w": jnp.ones((3, 4))}], x), ValueError,
     r"^params\[1\]\['w'\]: expected shape \(out, 5\)"),
    (lambda p, x: ([{**p[0], "w": p[0]["w"].at[0, 0].set(jnp.nan)}, p[1]], x), ValueError,
     r"^params\[0\]\['w'\]: expected finite values"),
    (lambda p, x: (p, None), TypeError, r"^x: expected an array of numbers"),
    (lambda p, x: (p, x + 1j), TypeError, r"^x: expected real numbers"),
    (lambda p, x: (p, x[:3]), ValueError, r"^x: expected one input of shape \(4,\)"),
    (lambda p, x: (p, x.at[0].set(jnp.nan)), ValueError, r"^x: expected finite values"),
])
def test_mlp_checks(make, error, match):
    params, x = make(_mlp_layers(), jnp.ones(4))
    with pytest.raises(error, match=match):
        geomlib.mlp(params, x)


@pytest.mark.parametrize("temperature", [0.0, -1.0, True, float("inf"), "1"])
def test_mlp_bad_temperature(temperature):
    with pytest.raises(ValueError, match=r"^temperature: expected a finite number > 0"):
        geomlib.mlp(_mlp_layers(), jnp.ones(4), temperature=temperature)


def test_mlp_traced_unchanged():
    params, xs = _mlp_layers(), jnp.asarray(np.random.default_rng(1).normal(size=(6, 4)), jnp.float32)
    eager = jnp.stack([geomlib.mlp(params, x) for x in xs])
    np.testing.assert_allclose(_np(jax.jit(jax.vmap(geomlib.mlp, (None, 0)))(params, xs)), _np(eager), rtol=1e-6)


# ---------------------------------------------------------------- argument checks (issue 15)

_W = {"w": np.eye(4, dtype=np.float32)[0], "b": 0.0}


@pytest.mark.parametrize("params, x, exc, match", [
    (_W, None, TypeError, "x"), (_W, "abc", TypeError, "x"), (_W, np.ones((4, 1)), ValueError, "x"),
    (_W, np.ones(3), ValueError, "x"), (_W, np.ones(4) + 1j, TypeError, "x"), (_W, np.full(4, np.nan), ValueError, "x"),
    (None, np.ones(4), ValueError, "params"), ({}, np.ones(4), ValueError, "params"),
])
def test_linear_neuron_arguments(params, x, exc, match):
    for fn in (geomlib.linear_neuron, geomlib.pointwise_neuron):
        with pytest.raises(exc, match=match):
            fn(params, x)


@pytest.mark.parametrize("t", [None, "0.1", True, float("nan"), float("inf"), -1.0, 0.0])
def test_temperature_is_a_positive_number(t):
    with pytest.raises(ValueError, match="temperature"):
        geomlib.pointwise_neuron(_W, np.ones(4), "relu", t)
    with pytest.raises(ValueError, match="temperature"):
        geomlib.activation(np.linspace(-1, 1, 5), "softplus", t)


def test_activation_z_and_tracing():
    with pytest.raises(TypeError, match="z"):
        geomlib.activation(None)
    with pytest.raises(TypeError, match="z"):
        geomlib.activation(np.ones(3) + 1j)
    out = np.asarray(geomlib.activation(np.array([np.nan, 0.0, 1.0]), "softplus", 1.0))   # elementwise NaN
    assert np.isnan(out[0]) and np.all(np.isfinite(out[1:]))
    # traced temperature and x pass unchecked (inside plane_geometry / jit)
    f = jax.jit(lambda x, t: geomlib.pointwise_neuron({"w": jnp.ones(4), "b": 0.0}, x, "softplus", t))
    assert np.isfinite(float(f(jnp.ones(4), 0.5)))
