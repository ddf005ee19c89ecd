"""Tests for geomlib._src.attacks: closed forms on linear classifiers, eps-balls, batch
independence, the stop-at-confidence sign attack, bad input, jit and float64.

Models are module-level functions bound with Partial (see conftest.py), so each attack
kernel compiles once per model structure and batch shape.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jax.tree_util import Partial

from geomlib import (
    SignAttackResult,
    attack_success,
    carlini_wagner,
    deepfool,
    fgsm,
    mean_squared_distance,
    perturbation_norm,
    pgd,
    targeted_sign_attack,
)
from geomlib._src.models import init_mlp, mlp
from geomlib._src.core.dtypes import float_dtype

# ----------------------------------------------------------------------------- models


def linear_binary(w, b, x):
    """Logits [0, w.x + b]: class 1 where w.x + b > 0, boundary w.x + b = 0."""
    return jnp.stack([jnp.zeros(x.shape[0], x.dtype), x @ w + b], axis=1)


def linear_multi(w, b, x):
    """Logits W x + b, W of shape (K, D)."""
    return x @ w.T + b


def mlp_logits(params, x):
    """A tanh MLP on centred inputs (a random softplus MLP on [0, 1] images predicts one
    class almost everywhere, and cannot reach confidence 0.9 for every target)."""
    return jax.vmap(mlp, (None, 0, None))(params, 4 * (x - 0.5), "tanh")


DIM, CLASSES, BATCH = 12, 4, 5


def _linear_binary_model(seed=0, dim=DIM):
    """Linear binary classifier and a batch of images at signed distances 0.05-0.2 from
    its boundary, on both sides (images inside [0, 1])."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=dim)
    b = -0.5 * w.sum()  # boundary through the mid-gray image
    wn = w / np.linalg.norm(w)
    x = 0.5 + rng.uniform(-0.1, 0.1, size=(BATCH, dim))
    x = x - np.outer(x @ wn - 0.5 * wn.sum(), wn)  # onto the boundary ...
    x = x + np.outer(rng.uniform(0.05, 0.2, size=BATCH) * np.array([1, -1, 1, -1, 1]), wn)  # ... then off it
    assert np.all((x > 0) & (x < 1))
    dtype = float_dtype()
    w, b = jnp.asarray(w, dtype), jnp.asarray(b, dtype)
    return Partial(linear_binary, w, b), jnp.asarray(x, dtype), w, b


_MLPS = {}


def _mlp_model(seed=1):
    key = (seed, str(float_dtype()))
    if key not in _MLPS:
        params = init_mlp(jax.random.PRNGKey(seed), (DIM, 16, CLASSES), scale=2.0)
        x = jax.random.uniform(jax.random.PRNGKey(seed + 1), (BATCH, DIM), float_dtype(), 0.2, 0.8)
        _MLPS[key] = (Partial(mlp_logits, params), x)
    return _MLPS[key]


def _np(x):
    return np.asarray(x, np.float64)


def _margin(z, label):
    """z_label - max_{i != label} z_i per row."""
    z = _np(z)
    own = z[np.arange(len(z)), label]
    other = np.where(np.arange(z.shape[1]) == np.asarray(label)[:, None], -np.inf, z).max(axis=1)
    return own - other


# ----------------------------------------------------------------------------- closed forms


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_fgsm_on_a_linear_model_is_the_optimal_step(norm, precision):
    dtype, rtol = precision
    f, x, w, b = _linear_binary_model()
    y = jnp.asarray((_np(x) @ _np(w) + float(b) > 0).astype(np.int32))
    eps = 0.03
    x_adv = fgsm(f, x, y, eps, norm, clip=False)
    assert x_adv.dtype == dtype and x_adv.shape == x.shape
    # The direction lowering the true-class margin: -w for class 1, +w for class 0.
    side = np.where(_np(y) == 1, -1.0, 1.0)[:, None]
    expected = eps * (np.sign(_np(w)) if norm == "inf" else _np(w) / np.linalg.norm(_np(w))) * side
    np.testing.assert_allclose(_np(x_adv) - _np(x), expected, rtol=rtol, atol=rtol * eps)
    # Targeting the other class takes the same step in the binary case.
    x_tgt = fgsm(f, x, None, eps, norm, target=1 - y, clip=False)
    np.testing.assert_allclose(_np(x_tgt), _np(x_adv), rtol=rtol, atol=rtol)


def test_norm_accepts_numbers():
    f, x, w, b = _linear_binary_model()
    y = jnp.zeros(BATCH, jnp.int32)
    for number, name in [(2, "2"), (2.0, "2"), (np.inf, "inf"), (float("inf"), "inf")]:
        np.testing.assert_array_equal(fgsm(f, x, y, 0.1, number, clip=False), fgsm(f, x, y, 0.1, name, clip=False))


@pytest.mark.parametrize("steps", [1, 50])
def test_deepfool_lands_on_the_boundary_of_a_linear_classifier_in_one_step(steps, precision):
    dtype, rtol = precision
    f, x, w, b = _linear_binary_model()
    s = _np(x) @ _np(w) + float(b)
    dist = np.abs(s) / np.linalg.norm(_np(w))
    x_adv = deepfool(f, x, steps=steps, overshoot=0.0, clip=False)
    assert x_adv.dtype == dtype
    np.testing.assert_allclose(_np(perturbation_norm(x_adv, x)), dist, rtol=10 * rtol)
    # On the boundary: w.x_adv + b = 0 up to rounding of the terms summed.
    scale = np.abs(_np(x_adv) * _np(w)).sum(axis=1) + abs(float(b))
    assert np.all(np.abs(_np(x_adv) @ _np(w) + float(b)) <= 10 * rtol * scale)
    # The step is along w (orthogonal to the boundary).
    d = _np(x_adv) - _np(x)
    cos = np.abs(d @ _np(w)) / (np.linalg.norm(d, axis=1) * np.linalg.norm(_np(w)))
    np.testing.assert_allclose(cos, 1.0, rtol=rtol)
    # With overshoot it crosses, by the overshoot factor.
    x_over = deepfool(f, x, steps=steps, overshoot=0.02, clip=False)
    np.testing.assert_allclose(_np(perturbation_norm(x_over, x)), 1.02 * dist, rtol=10 * rtol)
    assert np.all(np.sign(_np(x_over) @ _np(w) + float(b)) == -np.sign(s))


def test_deepfool_multiclass_linear_picks_the_nearest_boundary():
    rng = np.random.default_rng(3)
    w = jnp.asarray(rng.normal(size=(CLASSES, DIM)), jnp.float32)
    b = jnp.asarray(rng.normal(size=CLASSES), jnp.float32)
    f = Partial(linear_multi, w, b)
    x = jnp.asarray(rng.uniform(0.3, 0.7, size=(BATCH, DIM)), jnp.float32)
    z = _np(f(x))
    k = z.argmax(axis=1)
    wd = _np(w)[None] - _np(w)[k][:, None]  # (B, K, D)
    ratio = np.abs(z - z[np.arange(BATCH), k][:, None]) / np.maximum(np.linalg.norm(wd, axis=2), 1e-30)
    ratio[np.arange(BATCH), k] = np.inf
    x_adv = deepfool(f, x, steps=1, overshoot=0.0, clip=False)
    np.testing.assert_allclose(_np(perturbation_norm(x_adv, x)), ratio.min(axis=1), rtol=1e-4)
    x_adv = deepfool(f, x, clip=False)
    assert bool(jnp.all(attack_success(f, x_adv, jnp.asarray(k))))


def test_carlini_wagner_reaches_the_boundary_distance_of_a_linear_model():
    f, x, w, b = _linear_binary_model()
    s = _np(x) @ _np(w) + float(b)
    target = jnp.asarray((s < 0).astype(np.int32))  # the other class
    dist = np.abs(s) / np.linalg.norm(_np(w))
    x_adv = carlini_wagner(f, x, target, c=1.0, steps=300, learning_rate=0.005, clip=False)
    assert x_adv.dtype == jnp.float32
    assert bool(jnp.all(attack_success(f, x_adv, target=target)))
    l2 = _np(perturbation_norm(x_adv, x))
    assert np.all(l2 >= dist * (1 - 1e-5))
    np.testing.assert_allclose(l2, dist, rtol=0.05)
    # ... far below the L2 size of the smallest successful L-inf FGSM step, eps = dist |w| / |w|_1.
    w64 = _np(w)
    eps = dist * np.linalg.norm(w64) / np.abs(w64).sum()
    assert np.all(l2 < 0.9 * eps * np.sqrt(DIM))


def test_carlini_wagner_search_raises_a_too_small_constant():
    f, x, w, b = _linear_binary_model()
    s = _np(x) @ _np(w) + float(b)
    target = jnp.asarray((s < 0).astype(np.int32))
    fixed = carlini_wagner(f, x, target, c=1e-3, steps=300, learning_rate=0.005, clip=False)
    assert not bool(jnp.any(attack_success(f, fixed, target=target)))
    searched = carlini_wagner(f, x, target, c=1e-3, steps=300, learning_rate=0.005, search_steps=5, clip=False)
    assert bool(jnp.all(attack_success(f, searched, target=target)))
    np.testing.assert_allclose(_np(perturbation_norm(searched, x)), np.abs(s) / np.linalg.norm(_np(w)), rtol=0.1)


def test_measurements_closed_form():
    x = jnp.zeros((2, 4))
    x_adv = jnp.array([[0.5, 0.0, 0.0, 0.0], [0.1, -0.2, 0.2, 0.4]])
    np.testing.assert_allclose(mean_squared_distance(x_adv, x), [0.0625, 0.0625], rtol=1e-6)
    np.testing.assert_allclose(perturbation_norm(x_adv, x), [0.5, 0.5], rtol=1e-6)
    np.testing.assert_allclose(perturbation_norm(x_adv, x, np.inf), [0.5, 0.4], rtol=1e-6)
    f = Partial(linear_binary, jnp.array([1.0, 0, 0, 0]), jnp.array(-0.25))
    np.testing.assert_array_equal(attack_success(f, x_adv, jnp.array([0, 0])), [True, False])
    np.testing.assert_array_equal(attack_success(f, x_adv, target=jnp.array([0, 0])), [False, True])


# ----------------------------------------------------------------------------- PGD


@given(seed=st.integers(0, 2**16), eps=st.floats(0.0, 0.5), step_size=st.floats(0.01, 0.5),
       steps=st.integers(0, 4), norm=st.sampled_from(["inf", "2"]), targeted=st.booleans())
def test_pgd_stays_in_its_ball_and_in_the_box(seed, eps, step_size, steps, norm, targeted):
    f, x = _mlp_model()
    y = jnp.arange(BATCH, dtype=jnp.int32) % CLASSES
    target = (y + 1) % CLASSES if targeted else None
    x_adv = pgd(f, x, y, eps, steps, step_size, norm, target=target, key=jax.random.PRNGKey(seed))
    assert x_adv.shape == x.shape and x_adv.dtype == jnp.float32
    size = _np(perturbation_norm(x_adv, x, norm))
    assert np.all(size <= eps * (1 + 1e-5) + 1e-6)
    assert np.all((_np(x_adv) >= 0) & (_np(x_adv) <= 1))


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_pgd_random_start_is_random_and_inside_the_ball(norm):
    rng = np.random.default_rng(4)
    f = Partial(linear_binary, jnp.ones(DIM), jnp.array(-6.0))
    x = jnp.asarray(rng.uniform(0.3, 0.7, size=(BATCH, DIM)), jnp.float32)
    y = jnp.zeros(BATCH, jnp.int32)
    starts = [pgd(f, x, y, 0.2, 0, 0.1, norm, key=jax.random.PRNGKey(s), clip=False) for s in (0, 1)]
    for start in starts:
        size = _np(perturbation_norm(start, x, norm))
        assert np.all(size <= 0.2 * (1 + 1e-5)) and np.all(size > 0)
    assert not np.allclose(_np(starts[0]), _np(starts[1]))
    np.testing.assert_array_equal(pgd(f, x, y, 0.2, 0, 0.1, norm), x)  # no key: starts at x


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_targeted_pgd_increases_the_target_margin(norm):
    f, x = _mlp_model()
    target = (jnp.argmax(f(x), axis=1) + 1) % CLASSES
    x_adv = pgd(f, x, None, 0.3, 10, 0.05, norm, target=target)
    assert np.all(_margin(f(x_adv), target) > _margin(f(x), target))


def test_pgd_under_jit_equals_eager():
    f, x = _mlp_model()
    y = jnp.argmax(f(x), axis=1)
    eager = pgd(f, x, y, 0.1, 4, 0.03, key=jax.random.PRNGKey(0))
    jitted = jax.jit(lambda x, y, eps, key: pgd(f, x, y, eps, 4, 0.03, key=key))(x, y, 0.1, jax.random.PRNGKey(0))
    np.testing.assert_allclose(_np(jitted), _np(eager), atol=1e-6)


# ----------------------------------------------------------------------------- stop-at-confidence sign attack


def test_sign_attack_stops_at_the_target_confidence():
    f, x = _mlp_model()
    target = (jnp.argmax(f(x), axis=1) + 1) % CLASSES
    res = targeted_sign_attack(f, x, target, 0.01, 300)
    assert isinstance(res, SignAttackResult)
    assert bool(jnp.all(res.reached)), res.target_prob
    prob = _np(jax.nn.softmax(f(res.x_adv), axis=1))[np.arange(BATCH), _np(target).astype(int)]
    np.testing.assert_allclose(_np(res.target_prob), prob, rtol=1e-5)
    assert np.all(prob >= 0.9)
    steps = np.asarray(res.steps)
    assert np.all(steps >= 1)
    # Each step moves every pixel by at most the step size.
    assert np.all(_np(perturbation_norm(res.x_adv, x, "inf")) <= 0.01 * steps + 1e-6)
    for i in range(BATCH):
        # One step earlier the target confidence was still below 0.9.
        before = targeted_sign_attack(f, x[i:i + 1], target[i:i + 1], 0.01, int(steps[i]) - 1)
        assert int(before.steps[0]) == steps[i] - 1
        assert float(before.target_prob[0]) < 0.9 and not bool(before.reached[0])
        # ... and the same attack with room to spare stops at the same image.
        again = targeted_sign_attack(f, x[i:i + 1], target[i:i + 1], 0.01, int(steps[i]) + 50)
        np.testing.assert_allclose(_np(again.x_adv[0]), _np(res.x_adv[i]), atol=1e-6)


def test_sign_attack_leaves_confident_images_and_respects_max_steps():
    f, x = _mlp_model()
    pred = jnp.argmax(f(x), axis=1)
    conf = float(jnp.min(jnp.max(jax.nn.softmax(f(x), axis=1), axis=1)))
    res = targeted_sign_attack(f, x, pred, 0.01, 100, confidence=0.5 * conf)
    np.testing.assert_array_equal(res.x_adv, x)
    np.testing.assert_array_equal(res.steps, 0)
    assert bool(jnp.all(res.reached))
    res = targeted_sign_attack(f, x, (pred + 1) % CLASSES, 0.001, 2)
    np.testing.assert_array_equal(res.steps, 2)
    assert not bool(jnp.any(res.reached))


def test_sign_attack_under_jit():
    f, x = _mlp_model()
    target = (jnp.argmax(f(x), axis=1) + 1) % CLASSES
    eager = targeted_sign_attack(f, x, target, 0.01, 300)
    jitted = jax.jit(lambda x, t: targeted_sign_attack(f, x, t, 0.01, 300))(x, target)
    np.testing.assert_array_equal(jitted.steps, eager.steps)
    np.testing.assert_allclose(_np(jitted.x_adv), _np(eager.x_adv), atol=1e-6)


# ----------------------------------------------------------------------------- batch independence


def _attacks(f, x):
    pred = jnp.argmax(f(x), axis=1)
    target = (pred + 1) % CLASSES
    return {
        "fgsm": lambda s: fgsm(f, x[s], pred[s], 0.05),
        "fgsm_l2": lambda s: fgsm(f, x[s], pred[s], 0.3, "2"),
        "pgd": lambda s: pgd(f, x[s], pred[s], 0.1, 5, 0.03),
        "pgd_targeted_l2": lambda s: pgd(f, x[s], pred[s], 0.5, 5, 0.2, "2", target=target[s]),
        "sign": lambda s: targeted_sign_attack(f, x[s], target[s], 0.01, 300).x_adv,
        "deepfool": lambda s: deepfool(f, x[s]),
        "carlini_wagner": lambda s: carlini_wagner(f, x[s], target[s], steps=60),
    }


@pytest.mark.parametrize("name", ["fgsm", "fgsm_l2", "pgd", "pgd_targeted_l2", "sign", "deepfool", "carlini_wagner"])
def test_batch_attack_equals_attacks_one_by_one(name):
    f, x = _mlp_model()
    attack = _attacks(f, x)[name]
    batch = attack(slice(None))
    single = np.concatenate([_np(attack(slice(i, i + 1))) for i in range(BATCH)])
    assert not np.allclose(_np(batch), _np(x))  # the attack did something
    np.testing.assert_allclose(_np(batch), single, atol=1e-5)


# ----------------------------------------------------------------------------- float64


def test_attacks_run_in_float64(x64):
    # FGSM, PGD and DeepFool run in float64 in the closed-form tests (precision fixture).
    f, x = _mlp_model()
    assert x.dtype == jnp.float64
    target = (jnp.argmax(f(x), axis=1) + 1) % CLASSES
    res = targeted_sign_attack(f, x, target, 0.01, 300)
    x_cw = carlini_wagner(f, x, target, steps=200, learning_rate=0.02)
    for x_adv in (res.x_adv, x_cw):
        assert x_adv.dtype == jnp.float64
        assert mean_squared_distance(x_adv, x).dtype == jnp.float64
        assert bool(jnp.all(attack_success(f, x_adv, target=target)))
    assert res.target_prob.dtype == jnp.float64 and bool(jnp.all(res.target_prob >= 0.9))


# ----------------------------------------------------------------------------- bad input


def _bad_calls():
    f, x, _, _ = _linear_binary_model()
    y = jnp.zeros(BATCH, jnp.int32)

    def vector_fn(x):
        return x.sum(axis=1)

    return [
        (lambda: fgsm(f, x, y, -0.1), r"eps: expected a finite value in \[0, inf\), got -0.1"),
        (lambda: pgd(f, x, y, np.nan, 3, 0.1), r"eps: expected a finite value"),
        (lambda: pgd(f, x, y, jnp.ones(BATCH), 3, 0.1), r"eps: expected a scalar, got shape \(5,\)"),
        (lambda: pgd(f, x, y, 0.1, 3, 0.0), r"step_size: expected a finite value in \(0, inf\), got 0.0"),
        (lambda: pgd(f, x, y, 0.1, -1, 0.1), r"steps: expected an integer >= 0, got -1"),
        (lambda: pgd(f, x, y, 0.1, 2.5, 0.1), r"steps: expected an integer >= 0, got 2.5"),
        (lambda: pgd(f, x, None, 0.1, 3, 0.1), r"y: expected labels .* got None"),
        (lambda: pgd(f, x, y, 0.1, 3, 0.1, key="seed"), r"key: expected a PRNG key"),
        (lambda: fgsm(f, x + 1.0, y, 0.1), r"x: expected pixel values in \[0, 1\] \(clip=True\), got values in"),
        (lambda: fgsm(f, x.at[0, 0].set(jnp.nan), y, 0.1, clip=False),
         r"x: expected finite entries, got 1 non-finite"),
        (lambda: fgsm(f, x[0], y, 0.1),
         r"x: expected a batch of flattened images of shape \(B, D\), got shape \(12,\)"),
        (lambda: fgsm(f, x, y[:3], 0.1), r"y: expected integer labels of shape \(B,\) = \(5,\), got shape \(3,\)"),
        (lambda: fgsm(f, x, y + 2, 0.1), r"y: expected labels in \[0, 2\) \(K = 2 classes\), got values in \[2, 2\]"),
        (lambda: fgsm(f, x, y - 1, 0.1), r"y: expected labels in \[0, 2\)"),
        (lambda: fgsm(f, x, y.astype(jnp.float32), 0.1), r"y: expected integer labels, got dtype float32"),
        (lambda: fgsm(f, x, y, 0.1, "L1"), r"norm: expected 'inf' or '2' \(or np.inf, 2\), got 'L1'"),
        (lambda: fgsm(f, x, y, 0.1, 1), r"norm: expected .* got 1"),
        (lambda: fgsm(f, x, y, 0.1, target=y + 5), r"target: expected labels in \[0, 2\)"),
        (lambda: fgsm(vector_fn, x, y, 0.1),
         r"logits_fn: expected output shape \(B, K\) = \(5, K\) with K >= 2, got \(5,\)"),
        (lambda: fgsm("model", x, y, 0.1), r"logits_fn: expected a callable"),
        (lambda: targeted_sign_attack(f, x, y + 3, 0.01, 10), r"target: expected labels in \[0, 2\)"),
        (lambda: targeted_sign_attack(f, x, y, 0.01, 10, confidence=1.5),
         r"confidence: expected a finite value in \(0, 1\)"),
        (lambda: targeted_sign_attack(f, x, y, -0.01, 10), r"step_size: expected a finite value in \(0, inf\)"),
        (lambda: targeted_sign_attack(f, x, y, 0.01, -5), r"max_steps: expected an integer >= 0, got -5"),
        (lambda: deepfool(f, x, overshoot=-0.1), r"overshoot: expected a finite value in \[0, inf\), got -0.1"),
        (lambda: deepfool(f, x[:, :, None]), r"x: expected a batch of flattened images"),
        (lambda: carlini_wagner(f, x, y, c=0.0), r"c: expected a finite value in \(0, inf\)"),
        (lambda: carlini_wagner(f, x, y, search_steps=0), r"search_steps: expected an integer >= 1, got 0"),
        (lambda: carlini_wagner(f, x, jnp.zeros((BATCH, 1), jnp.int32)), r"target: expected integer labels of shape"),
        (lambda: mean_squared_distance(x[:2], x), r"x_adv: expected the shape of x \(5, 12\), got \(2, 12\)"),
        (lambda: perturbation_norm(x, x, "fro"), r"norm: expected 'inf' or '2'"),
        (lambda: attack_success(f, x), r"y, target: expected exactly one of y \(untargeted\) or target"),
        (lambda: attack_success(f, x, y, target=y), r"got both"),
    ]


@pytest.mark.parametrize("index", range(len(_bad_calls())))
def test_bad_input_raises_a_clear_value_error(index):
    call, match = _bad_calls()[index]
    with pytest.raises(ValueError, match=match):
        call()


def test_unclipped_attacks_accept_unbounded_inputs():
    f, x, _, _ = _linear_binary_model()
    y = jnp.zeros(BATCH, jnp.int32)
    x_big = 3 * x - 1  # outside [0, 1]: e.g. whitened patches
    x_adv = fgsm(f, x_big, y, 0.5, clip=False)
    assert float(jnp.max(jnp.abs(x_adv))) > 1
    np.testing.assert_allclose(_np(perturbation_norm(x_adv, x_big, "inf")), 0.5, rtol=1e-6)


# ----------------------------------------------------------------------------- argument types and bounds (issue 15)


def _typed_bad_calls():
    """(call, exception type, message): values that are not what the argument is, each named."""
    f, x, _, _ = _linear_binary_model()
    y = jnp.zeros(BATCH, jnp.int32)
    return [
        (lambda: fgsm(f, x, y, True), TypeError, r"eps: expected a real number, got bool True"),
        (lambda: fgsm(f, x, y, "0.1"), TypeError, r"eps: expected a real number, got str '0.1'"),
        (lambda: fgsm(f, x, y, None), TypeError, r"eps: expected a real number, got NoneType"),
        (lambda: fgsm(f, x, y, 0.1 + 0j), TypeError, r"eps: expected a real number, got complex"),
        (lambda: pgd(f, x, y, 0.1, 3, np.bool_(True)), TypeError, r"step_size: expected a real number, got bool"),
        (lambda: fgsm(f, None, y, 0.1), TypeError, r"x: expected an array of numbers, got NoneType"),
        (lambda: fgsm(f, "abc", y, 0.1), TypeError, r"x: expected an array of numbers, got str 'abc'"),
        (lambda: fgsm(f, x + 0j, y, 0.1), TypeError, r"x: expected real numbers, got complex values"),
        (lambda: fgsm(f, x, "abc", 0.1), TypeError, r"y: expected an array of numbers, got str 'abc'"),
        (lambda: pgd(f, x, y, 0.1, 3, 0.1, target="abc"), TypeError, r"target: expected an array of numbers"),
        (lambda: carlini_wagner(f, x, None), TypeError, r"target: expected an array of numbers, got NoneType"),
        (lambda: fgsm(f, x, y, 0.1, clip="no"), TypeError, r"clip: expected True or False, got str 'no'"),
        (lambda: fgsm(f, x, y, 0.1, clip=None), TypeError, r"clip: expected True or False, got NoneType"),
        (lambda: deepfool(f, x, clip=1), TypeError, r"clip: expected True or False, got int"),
        (lambda: pgd(f, x, y, 0.1, 2 ** 31, 0.1), ValueError,
         r"steps: expected an integer in \[0, MAX_STEPS = 10_000_000\], got 2147483648"),
        (lambda: targeted_sign_attack(f, x, y, 0.01, 10 ** 7 + 1), ValueError, r"max_steps: expected .* MAX_STEPS"),
        (lambda: carlini_wagner(f, x, y, steps=2 ** 31), ValueError, r"steps: expected .* MAX_STEPS"),
        (lambda: carlini_wagner(f, x, y, search_steps=2 ** 31), ValueError, r"search_steps: expected .* MAX_STEPS"),
        (lambda: deepfool(f, x, steps=0), ValueError, r"steps: expected an integer >= 1, got 0"),
        (lambda: carlini_wagner(f, x, y, steps=0), ValueError, r"steps: expected an integer >= 1, got 0"),
        # the model's own error (here a TypeError of its matrix product), named after the images
        (lambda: attack_success(f, x[:, :-1], y), TypeError, r"x_adv: logits_fn cannot take images of shape \(5, 11\)"),
        (lambda: fgsm(f, x[:, :-1], y, 0.1), TypeError, r"x: logits_fn cannot take images of shape \(5, 11\)"),
        (lambda: mean_squared_distance(x, None), TypeError, r"x: expected an array of numbers"),
        (lambda: perturbation_norm("abc", x), TypeError, r"x_adv: expected an array of numbers"),
    ]


@pytest.mark.parametrize("index", range(len(_typed_bad_calls())))
def test_values_of_the_wrong_kind_are_rejected_naming_the_argument(index):
    call, kind, match = _typed_bad_calls()[index]
    with pytest.raises(kind, match=match):
        call()


def test_zero_steps_are_documented_where_allowed():
    # pgd and the sign attack accept 0 steps: the start point, and "already at the confidence?".
    f, x, _, _ = _linear_binary_model()
    y = jnp.zeros(BATCH, jnp.int32)
    np.testing.assert_array_equal(pgd(f, x, y, 0.1, 0, 0.05), x)
    res = targeted_sign_attack(f, x, y, 0.01, 0)
    np.testing.assert_array_equal(res.x_adv, x)
    np.testing.assert_array_equal(res.steps, 0)
    np.testing.assert_array_equal(res.reached, res.target_prob >= 0.9)


def test_traced_arguments_pass_the_checks_under_jit():
    # The host checks pass traced images, labels and eps through unchecked: the attack runs under jit.
    f, x, _, _ = _linear_binary_model()
    y = jnp.zeros(BATCH, jnp.int32)
    jitted = jax.jit(lambda x, y, e: fgsm(f, x, y, e))(x, y, 0.1)
    np.testing.assert_allclose(_np(jitted), _np(fgsm(f, x, y, 0.1)), atol=1e-7)
