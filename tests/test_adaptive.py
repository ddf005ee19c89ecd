"""Tests for geomlib._src.robustness.adaptive: BPDA, the LCA's BPDA and implicit gradients,
the worst case over attacks (closed form on a linear classifier), the steps sweep, transfer.

A tiny LCA classifier from random parameters (D = 9 pixels, N = 6 atoms, 4 classes) keeps
every compiled kernel small. Its implicit gradient is checked where it is exact: after
enough Euler steps for the LCA to converge, against the unrolled gradient and against
central finite differences.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.tree_util import Partial

import geomlib
from geomlib._src.robustness import default_bpda_temperature

D, N, K = 9, 6, 4


def linear_binary(w, b, x):
    return jnp.stack([jnp.zeros(x.shape[0], x.dtype), x @ w + b], axis=1)


def masked_binary(w, b, x):
    """linear_binary with its gradient stopped: plain PGD cannot move."""
    return linear_binary(w, b, jax.lax.stop_gradient(x))


def quantised(x):
    return jnp.round(x * 4) / 4


def tiny_lca_params(seed=0, lam=0.1, eta=0.2):
    rng = np.random.default_rng(seed)
    phi = rng.normal(size=(D, N))
    phi /= np.linalg.norm(phi, axis=0)
    return {"lca": {"phi": jnp.asarray(phi, jnp.float32), "lam": jnp.float32(lam), "eta": jnp.float32(eta)},
            "layers": [{"w": jnp.asarray(rng.normal(size=(8, N)), jnp.float32), "b": jnp.zeros(8, jnp.float32)},
                       {"w": jnp.asarray(rng.normal(size=(K, 8)), jnp.float32), "b": jnp.zeros(K, jnp.float32)}]}


def ce_grad(f, x, y):
    return jax.grad(lambda z: optax.softmax_cross_entropy_with_integer_labels(f(z), y).sum())(x)


@pytest.fixture(scope="module")
def lca_data():
    params = tiny_lca_params()
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.uniform(0.2, 0.8, size=(6, D)), jnp.float32)
    y = jnp.argmax(geomlib.bind_classifier(params, lca_steps=400)(x), axis=1)
    return params, x, y


def test_bpda_value_of_one_gradient_of_other():
    h = geomlib.bpda_logits(quantised, lambda x: 2 * x)
    x = jnp.array([[0.3, 0.6], [0.1, 0.9]])
    np.testing.assert_array_equal(h(x), quantised(x))
    np.testing.assert_array_equal(jax.grad(lambda z: h(z).sum())(x), 2 * np.ones((2, 2)))
    np.testing.assert_array_equal(jax.jit(jax.grad(lambda z: h(z).sum()))(x), 2 * np.ones((2, 2)))


def test_bpda_bound_parameters_get_zero_cotangents():
    w = jnp.array([1.0, -1.0])
    h = geomlib.bpda_logits(Partial(masked_binary, w, 0.0), Partial(linear_binary, w, 0.0))
    g = jax.grad(lambda z: h(z)[:, 1].sum())(jnp.array([[0.5, 0.5]]))
    np.testing.assert_array_equal(g, [[1.0, -1.0]])


def test_bpda_rejects_bad_arguments():
    with pytest.raises(ValueError, match="surrogate_fn"):
        geomlib.bpda_logits(quantised, 3)
    with pytest.raises(ValueError, match="surrogate_fn: expected the output shape"):
        geomlib.bpda_logits(quantised, lambda x: x[:, :1])(jnp.ones((2, 2)))


def test_lca_bpda_forward_hard_backward_smooth(lca_data):
    params, x, y = lca_data
    f = geomlib.lca_bpda(params, lca_steps=30)
    hard = geomlib.bind_classifier(params, lca_steps=30)
    t = default_bpda_temperature(params)
    assert t == pytest.approx(0.01)
    smooth = geomlib.bind_classifier(params, lca_steps=30, smooth_temperature=t)
    np.testing.assert_array_equal(f(x), hard(x))
    # the loss is the hard model's; its cotangent goes back through the smooth twin
    ct = jax.nn.softmax(hard(x)) - jax.nn.one_hot(y, K)
    np.testing.assert_allclose(ce_grad(f, x, y), jax.vjp(smooth, x)[1](ct)[0], rtol=1e-5, atol=1e-6)


def test_lca_bpda_rejects_a_model_without_lca():
    with pytest.raises(ValueError, match="params: expected an LCA classifier"):
        geomlib.lca_bpda({"layers": tiny_lca_params()["layers"]})


def test_implicit_gradient_matches_unrolled_and_finite_differences_when_converged(lca_data):
    params, x, y = lca_data
    steps = 400  # eta 0.2: 80 time constants, converged
    unrolled = geomlib.bind_classifier(params, lca_steps=steps)
    implicit = geomlib.lca_implicit_logits(params, lca_steps=steps)
    np.testing.assert_array_equal(implicit(x), unrolled(x))
    g_imp, g_unr = ce_grad(implicit, x, y), ce_grad(unrolled, x, y)
    np.testing.assert_allclose(g_imp, g_unr, rtol=2e-3, atol=2e-4)
    # central differences of the loss of image 0 along a few random directions
    loss = lambda z: float(optax.softmax_cross_entropy_with_integer_labels(unrolled(z), y[:1]).sum())
    rng = np.random.default_rng(2)
    for v in rng.normal(size=(3, D)):
        v = jnp.asarray(v / np.linalg.norm(v), jnp.float32)
        h = 1e-3
        fd = (loss(x[:1] + h * v) - loss(x[:1] - h * v)) / (2 * h)
        assert float(g_imp[0] @ v) == pytest.approx(fd, rel=2e-2, abs=2e-3)


def test_implicit_gradient_differs_from_unrolled_before_convergence(lca_data):
    params, x, y = lca_data
    g_imp = ce_grad(geomlib.lca_implicit_logits(params, lca_steps=3), x, y)
    g_unr = ce_grad(geomlib.bind_classifier(params, lca_steps=3), x, y)
    assert not np.allclose(g_imp, g_unr, rtol=1e-2, atol=1e-3)


def _exact_linf_correct(w, b, x, y, eps):
    """Closed form for logits [0, w.x + b]: the worst point of the box-clipped eps-ball,
    coordinate by coordinate, lowers the true margin as much as possible."""
    x = np.asarray(x, np.float64)
    lo, hi = np.maximum(x - eps, 0), np.minimum(x + eps, 1)
    s = np.where(np.asarray(y)[:, None] == 1, 1, -1) * np.asarray(w, np.float64)  # margin = s.x + sign * b
    worst = np.where(s > 0, lo, hi)
    margin = (worst * np.asarray(w)).sum(1) + b
    return np.where(np.asarray(y) == 1, margin > 0, margin < 0)


def test_custom_attacks_in_robust_accuracy_match_the_closed_form_and_unmask_a_stopped_gradient():
    """The attack factories as ``(name, fn)`` pairs of :func:`geomlib.robust_accuracy`."""
    rng = np.random.default_rng(3)
    w = jnp.asarray(rng.normal(size=16), jnp.float32)
    x = jnp.asarray(rng.uniform(0, 1, size=(40, 16)), jnp.float32)
    b = -float(np.median(np.asarray(x @ w)))
    y = jnp.asarray((np.asarray(x @ w) + b > 0).astype(np.int32))
    eps = 0.05
    exact = _exact_linf_correct(w, b, x, y, eps)
    assert 0 < exact.mean() < 1
    plain = Partial(linear_binary, w, b)
    masked = Partial(masked_binary, w, b)
    pgd20 = ("pgd", geomlib.pgd_attack(20))
    res = geomlib.robust_accuracy(plain, x, y, eps, attacks=[pgd20])
    np.testing.assert_array_equal(res.robust, exact)
    assert set(np.unique(res.broken_by)) <= {-1, 0}
    assert np.all(np.abs(res.x_adv - np.asarray(x)) <= eps + 1e-6) and res.x_adv.min() >= 0 and res.x_adv.max() <= 1
    only_pgd = geomlib.robust_accuracy(masked, x, y, eps, attacks=[pgd20])
    assert only_pgd.robust.mean() == 1.0  # masked: plain PGD moves nothing
    adaptive = geomlib.robust_accuracy(masked, x, y, eps, attacks=[
        pgd20, ("bpda", geomlib.surrogate_attack(plain, geomlib.pgd_attack(20))),
        ("transfer", geomlib.transfer_attack(plain, geomlib.pgd_attack(20)))])
    np.testing.assert_array_equal(adaptive.robust, exact)
    assert adaptive.accuracies[0] == 1.0 and adaptive.accuracies[1] == adaptive.accuracies[2] == exact.mean()
    assert set(np.unique(adaptive.broken_by)) <= {-1, 1}  # BPDA broke every image that falls; transfer none left
    # images already broken (standing=False) are not attacked and stay broken
    again = geomlib.robust_accuracy(plain, x, y, eps, attacks=[pgd20], standing=np.zeros(40, bool))
    assert not again.robust.any() and np.all(again.broken_by == -2)
    np.testing.assert_array_equal(again.x_adv, np.asarray(x))
    assert set(again.broken_by_name) == {"before"}


def test_custom_attacks_batch_equal_one_by_one():
    rng = np.random.default_rng(4)
    w = jnp.asarray(rng.normal(size=16), jnp.float32)
    x = jnp.asarray(rng.uniform(0, 1, size=(6, 16)), jnp.float32)
    y = jnp.asarray((np.asarray(x @ w) > np.median(np.asarray(x @ w))).astype(np.int32))
    f = Partial(linear_binary, w, -float(np.median(np.asarray(x @ w))))
    attacks = [("pgd", geomlib.pgd_attack(10))]
    batch = geomlib.robust_accuracy(f, x, y, 0.03, attacks=attacks).robust
    single = [geomlib.robust_accuracy(f, x[i:i + 1], y[i:i + 1], 0.03, attacks=attacks).robust[0] for i in range(6)]
    np.testing.assert_array_equal(batch, single)


def test_robust_accuracy_rejects_a_bad_standing_mask():
    f = Partial(linear_binary, jnp.ones(4), 0.0)
    x, y = jnp.full((2, 4), 0.5), jnp.array([0, 1])
    attacks = [("pgd", geomlib.pgd_attack(2))]
    with pytest.raises(ValueError, match="standing"):
        geomlib.robust_accuracy(f, x, y, 0.1, attacks=attacks, standing=np.ones(3, bool))
    with pytest.raises(TypeError, match="standing"):
        geomlib.robust_accuracy(f, x, y, 0.1, attacks=attacks, standing=np.ones(2))


def test_steps_sweep_rows(lca_data):
    params, x, y = lca_data
    sweep = geomlib.steps_sweep(params, x, y, 0.1, attacker_steps=(5, 20), defender_steps=20,
                                attack=geomlib.pgd_attack(5))
    assert list(sweep.accuracy) == ["unrolled-5", "unrolled-20", "bpda", "implicit"]
    assert all(0 <= a <= 1 for a in sweep.accuracy.values())
    defended = geomlib.bind_classifier(params, lca_steps=20)
    x_adv = geomlib.pgd(defended, x, y, 0.1, 5, geomlib.pgd_attack.__globals__["pgd_step_size"](0.1, 5))
    plain = np.asarray(jnp.argmax(defended(x_adv), axis=1) == y)
    np.testing.assert_array_equal(sweep.correct["unrolled-20"], plain)
    with pytest.raises(ValueError, match="adaptive"):
        geomlib.steps_sweep(params, x, y, 0.1, adaptive=("eot",))
