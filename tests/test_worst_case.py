"""Worst-case robustness (APGD, APGD-T, Square, robust_accuracy) against closed forms and known
gradient masking.

A linear classifier z = x W + b has an exact L-inf robust accuracy inside [0, 1]: image x with
label y survives iff for every other class j the minimum of the linear function
(W_y - W_j) . x' + b_y - b_j over the box [max(0, x - eps), min(1, x + eps)] is positive, and that
minimum is taken coordinate by coordinate. The tests keep images away from ties (|min| > a margin)
so that float rounding cannot decide them.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import geomlib
from geomlib._src.attacks import apgd, apgd_checkpoints, apgd_targeted, square_attack
from geomlib._src.robustness import RobustAccuracy, ball_tolerance, robust_accuracy

D = 16  # 4 x 4 images: Square's default image shape
K = 4


def linear_logits(w, b, s, x):
    """s (x W + b). One module-level function for every linear model (not a lambda per model), so
    the attacks' jitted kernels compile once per shape, not once per model (hypothesis's examples too)."""
    return s * (x @ w + b)


def linear_model(seed, k=K, d=D, scale=1.0):
    rng = np.random.default_rng(seed)
    w = jnp.asarray(rng.normal(size=(d, k)), jnp.float32)
    b = jnp.asarray(rng.normal(size=k) * 0.5, jnp.float32)
    return jax.tree_util.Partial(linear_logits, w, b, jnp.float32(scale)), np.asarray(w), np.asarray(b)


def exact_linf_margins(w, b, x, y, eps):
    """Per image, min over the box-clipped eps-ball of min_j (z_y - z_j), in float64."""
    w, b, x = np.asarray(w, np.float64), np.asarray(b, np.float64), np.asarray(x, np.float64)
    lo, hi = np.maximum(x - eps, 0), np.minimum(x + eps, 1)
    out = np.full(len(x), np.inf)
    for j in range(w.shape[1]):
        v = w[:, y] - w[:, [j]]                    # (D, B)
        m = np.sum(np.where(v.T > 0, v.T * lo, v.T * hi), axis=1) + b[y] - b[j]
        out = np.where(np.asarray(y) == j, out, np.minimum(out, m))
    return out


def data(seed, n, w, b, eps, gap=0.05):
    """n images in [0, 1] labelled by the model, with clean margin > gap and the exact worst-case
    margin away from 0 by more than gap."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(20 * n, w.shape[0])).astype(np.float32)
    z = x.astype(np.float64) @ w + b
    y = np.argmax(z, axis=1)
    clean_margin = np.sort(z, axis=1)[:, -1] - np.sort(z, axis=1)[:, -2]
    m = exact_linf_margins(w, b, x, y, eps)
    keep = (clean_margin > gap) & (np.abs(m) > gap)
    x, y, m = x[keep][:n], y[keep][:n], m[keep][:n]
    assert len(x) == n
    return jnp.asarray(x), jnp.asarray(y, jnp.int32), m


def assert_valid(res: RobustAccuracy, f, x, y):
    """Every reported adversarial: in the ball, in the box, misclassified; robust ones untouched."""
    x, y = np.asarray(x, np.float64), np.asarray(y)
    a = np.asarray(res.x_adv, np.float64)
    size = np.max(np.abs(a - x), axis=1) if res.norm == "inf" else np.linalg.norm(a - x, axis=1)
    assert np.all(size <= res.eps + res.tolerance)
    assert a.min() >= 0 and a.max() <= 1
    pred = np.asarray(jnp.argmax(f(jnp.asarray(res.x_adv)), axis=1))
    broken = res.clean & ~res.robust
    assert np.all(pred[broken] != y[broken])
    assert np.all(a[res.robust] == x[res.robust])
    assert np.all((res.broken_by >= 0) == broken)
    assert res.accuracies[-1] == pytest.approx(res.robust_accuracy)


@pytest.mark.parametrize(("k", "eps"), [(2, 0.3), (K, 0.05)])
def test_linear_linf_equals_closed_form(k, eps):
    f, w, b = linear_model(0, k)
    x, y, m = data(1, 48, w, b, eps)
    res = robust_accuracy(f, x, y, eps, steps=20, queries=200, key=jax.random.key(0))
    assert_valid(res, f, x, y)
    np.testing.assert_array_equal(res.robust, m > 0)
    assert 0 < res.robust_accuracy < 1
    assert "clean accuracy: 100.00%" in repr(res) and "after APGD-T" in res.report()


def test_apgd_reaches_the_closed_form_distance_on_a_linear_binary_model():
    """z = [0, w.x + b]: the best decrease of the margin in the L2 (L-inf) ball is eps |w|_2 (eps |w|_1)
    when the box does not bind; APGD's best point (the image not broken) attains it."""
    rng = np.random.default_rng(3)
    w = rng.normal(size=D).astype(np.float32)
    x = rng.uniform(0.4, 0.6, size=(1, D)).astype(np.float32)
    for norm, eps, size in [("2", 0.05, np.linalg.norm(w)), ("inf", 0.02, np.abs(w).sum())]:
        margin = float(x[0] @ w)
        y = jnp.array([1 if margin > 0 else 0])
        b = -margin + np.sign(margin) * 2 * eps * size  # margin 2 eps |w|: not breakable, reducible by eps |w|
        fb = jax.tree_util.Partial(lambda w, b, x: jnp.stack([jnp.zeros(len(x)), x @ w + b], axis=1), jnp.asarray(w),
                                   jnp.float32(b))
        x_adv = apgd(fb, jnp.asarray(x), y, eps, norm, steps=50)
        reached = abs(float(fb(x_adv)[0, 1]))
        assert reached == pytest.approx(eps * size, rel=1e-3)


def test_apgd_l2_breaks_at_the_closed_form_distance():
    """Binary linear model, no box in the way: broken iff eps > |margin| / |w|."""
    rng = np.random.default_rng(4)
    w = jnp.asarray(rng.normal(size=D), jnp.float32)
    f = jax.tree_util.Partial(lambda w, x: jnp.stack([jnp.zeros(len(x)), x @ w - 0.5 * w.sum()], axis=1), w)
    x = jnp.asarray(rng.uniform(0.45, 0.55, size=(32, D)), jnp.float32)
    z = np.asarray(f(x))[:, 1]
    y = jnp.asarray(z > 0, jnp.int32)
    dist = np.abs(z) / float(jnp.linalg.norm(w))
    eps = float(np.median(dist))
    keep = np.abs(dist - eps) > 0.02 * eps
    x_adv = apgd(f, x, y, eps, "2", steps=30, key=jax.random.key(1))
    broken = np.asarray(jnp.argmax(f(x_adv), axis=1)) != np.asarray(y)
    np.testing.assert_array_equal(broken[keep], (dist < eps)[keep])
    assert np.all(np.linalg.norm(np.asarray(x_adv - x, np.float64), axis=1) <= eps + ball_tolerance(eps, "2", np.float32))


@pytest.mark.parametrize("masking", ["quantised", "stop_gradient"])
def test_zero_gradient_masking_square_breaks_it(masking):
    f0, w, b = linear_model(5)
    front = {"quantised": lambda x: jnp.round(x * 255) / 255, "stop_gradient": jax.lax.stop_gradient}[masking]
    f = jax.tree_util.Partial(lambda w, b, x: front(x) @ w + b, jnp.asarray(w), jnp.asarray(b))
    eps = 0.1
    x, y, m = data(6, 32, w, b, eps, gap=0.3)  # quantisation moves margins by < 0.3 here
    pgd_only = robust_accuracy(f, x, y, eps, attacks=("pgd", "apgd-ce"))
    assert pgd_only.robust_accuracy == 1.0                 # gradient attacks see a zero gradient
    res = robust_accuracy(f, x, y, eps, attacks=("pgd", "apgd-ce", "square"), queries=300)  # APGD from x
    assert_valid(res, f, x, y)
    np.testing.assert_array_equal(res.robust, m > 0)
    assert set(res.broken_by[~res.robust].tolist()) == {2}  # all by Square


def test_bpda_surrogate_breaks_the_quantised_model():
    f0, w, b = linear_model(5)
    f = jax.tree_util.Partial(lambda w, b, x: (jnp.round(x * 255) / 255) @ w + b, jnp.asarray(w), jnp.asarray(b))
    eps = 0.1
    x, y, m = data(6, 32, w, b, eps, gap=0.3)
    res = robust_accuracy(f, x, y, eps, attacks=("apgd-ce",), surrogates={"linear": f0}, steps=20)
    assert_valid(res, f, x, y)
    np.testing.assert_array_equal(res.robust, m > 0)
    assert res.attack_names == ("APGD-CE", "APGD-CE (linear)", "APGD-DLR (linear)")
    assert set(res.broken_by_name[i] for i in np.flatnonzero(~res.robust)) == {"APGD-CE (linear)"}


def test_saturated_softmax_dlr_breaks_it():
    """Logits x 1e3: the float32 softmax is exactly one-hot, the cross-entropy gradient exactly 0;
    DLR is invariant to the scale."""
    f, w, b = linear_model(7, scale=1e3)
    eps = 0.1
    x, y, m = data(8, 32, w, b, eps, gap=0.2)  # clean margins x 1e3 > 200: exp(-200) = 0 in float32
    ce = robust_accuracy(f, x, y, eps, attacks=("pgd", "apgd-ce", "fgsm"), steps=20)
    assert ce.robust_accuracy == 1.0
    for attack in ("apgd-dlr", "apgd-t"):
        res = robust_accuracy(f, x, y, eps, attacks=(attack,), steps=20)
        assert_valid(res, f, x, y)
        np.testing.assert_array_equal(res.robust, m > 0)


def test_batch_equals_one_by_one():
    """Deterministic variants (no key): a batch gives what its images give one at a time."""
    rng = np.random.default_rng(9)
    w1, w2 = (jnp.asarray(rng.normal(size=s), jnp.float32) for s in [(D, 8), (8, K)])

    def net(w1, w2, x):  # rows independent, no matrix product across the batch
        h = jnp.tanh(jnp.sum(x[:, :, None] * w1[None], axis=1))
        return jnp.sum(h[:, :, None] * w2[None], axis=1)

    f = jax.tree_util.Partial(net, w1, w2)
    x = jnp.asarray(rng.uniform(0, 1, size=(5, D)), jnp.float32)
    y = jnp.argmax(f(x), axis=1)
    batch = apgd(f, x, y, 0.2, steps=15)
    single = jnp.concatenate([apgd(f, x[i:i + 1], y[i:i + 1], 0.2, steps=15) for i in range(5)])
    np.testing.assert_allclose(batch, single, atol=1e-6)
    attacks = ("apgd-dlr", "apgd-t")
    res = robust_accuracy(f, x, y, 0.2, attacks=attacks, steps=15, n_targets=2)
    for i in range(5):
        one = robust_accuracy(f, x[i:i + 1], y[i:i + 1], 0.2, attacks=attacks, steps=15, n_targets=2)
        assert one.robust[0] == res.robust[i] and one.broken_by[0] == res.broken_by[i]
        np.testing.assert_allclose(one.x_adv[0], res.x_adv[i], atol=1e-6)


def test_restarts_only_help():
    """A second restart runs on the images the first left standing and never loses a broken one."""
    f, w, b = linear_model(0)
    x, y, m = data(1, 16, w, b, 0.05)
    one = apgd(f, x, y, 0.05, steps=3, key=jax.random.key(0))
    two = apgd(f, x, y, 0.05, steps=3, restarts=2, key=jax.random.key(0))
    broken = lambda xa: np.asarray(jnp.argmax(f(xa), axis=1)) != np.asarray(y)  # noqa: E731
    assert np.all(broken(two) >= broken(one))
    np.testing.assert_array_equal(np.asarray(two)[broken(one)], np.asarray(one)[broken(one)])
    res = robust_accuracy(f, x, y, 0.05, attacks=("apgd-ce",), steps=3, restarts=2, key=jax.random.key(0))
    assert_valid(res, f, x, y)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), eps=st.floats(0.0, 0.3))
def test_never_below_the_exact_robust_accuracy(seed, eps):
    """Soundness: an image that is exactly robust is never reported broken (every adversarial is checked)."""
    f, w, b = linear_model(seed)
    x = jnp.asarray(np.random.default_rng(seed).uniform(0, 1, size=(16, D)), jnp.float32)
    y = jnp.argmax(f(x), axis=1)
    m = exact_linf_margins(w, b, x, np.asarray(y), eps)
    res = robust_accuracy(f, x, y, eps, attacks=("apgd-ce", "square"), steps=10, queries=50, key=jax.random.key(seed))
    assert_valid(res, f, x, y)
    assert np.all(res.robust[m > 1e-4])


def test_square_l2_and_checkpoints():
    f, w, b = linear_model(10, d=49)
    x = jnp.asarray(np.random.default_rng(0).uniform(0, 1, size=(8, 49)), jnp.float32)
    y = jnp.argmax(f(x), axis=1)
    x_adv = square_attack(f, x, y, 0.5, "2", queries=100, key=jax.random.key(0))
    d = np.linalg.norm(np.asarray(x_adv, np.float64) - np.asarray(x, np.float64), axis=1)
    assert np.all(d <= 0.5 + ball_tolerance(0.5, "2", np.float32)) and float(x_adv.min()) >= 0
    assert np.any(np.asarray(jnp.argmax(f(x_adv), axis=1)) != np.asarray(y))
    res = robust_accuracy(f, x, y, 0.5, "2", attacks=("square",), queries=100, key=jax.random.key(0))
    assert_valid(res, f, x, y)
    # the published checkpoints: p = 0, 0.22, 0.41, 0.57, ... of N = 100
    assert (np.flatnonzero(apgd_checkpoints(100)) + 1).tolist()[:4] == [22, 41, 57, 70]


def test_custom_attacks_join_and_are_checked():
    f, w, b = linear_model(0)
    x, y, m = data(12, 8, w, b, 0.1)
    noop = ("noop", lambda f, x, y, eps, norm, key: x)
    res = robust_accuracy(f, x, y, 0.1, attacks=(noop,))
    assert res.robust_accuracy == 1.0 and res.attack_names == ("noop",)

    pool_x, pool_y, _ = data(15, 64, w, b, 0.1)
    assert len(set(np.asarray(pool_y).tolist())) > 1

    def cheat(f, x, y, eps, norm, key):  # images of other classes: misclassified, far outside the ball
        return pool_x[np.argmax(np.asarray(pool_y)[None] != np.asarray(y)[:, None], axis=1)]

    with pytest.raises(ValueError, match="attacks: cheat"):
        robust_accuracy(f, x, y, 0.1, attacks=(("cheat", cheat),))


def test_bad_input():
    f, w, b = linear_model(13)
    x, y, _ = data(14, 4, w, b, 0.1)
    with pytest.raises(ValueError, match="eps"):
        robust_accuracy(f, x, y, -0.1)
    with pytest.raises(ValueError, match="eps"):
        robust_accuracy(f, x, y, float("nan"))
    with pytest.raises(TypeError, match="eps"):
        robust_accuracy(f, x, y, "0.1")
    with pytest.raises(ValueError, match="attacks: unknown attack 'fab'"):
        robust_accuracy(f, x, y, 0.1, attacks=("apgd-ce", "fab"))
    with pytest.raises(TypeError, match="attacks"):
        robust_accuracy(f, x, y, 0.1, attacks="apgd-ce")
    with pytest.raises(TypeError, match="surrogates"):
        robust_accuracy(f, x, y, 0.1, surrogates=[f])
    with pytest.raises(ValueError, match="norm"):
        robust_accuracy(f, x, y, 0.1, norm="1")
    with pytest.raises(ValueError, match="x"):
        robust_accuracy(f, x + 1.0, y, 0.1)
    with pytest.raises(ValueError, match="y"):
        robust_accuracy(f, x, y + K, 0.1)
    with pytest.raises(ValueError, match="y"):
        robust_accuracy(f, x, y[:2], 0.1)
    with pytest.raises(ValueError, match="x"):
        robust_accuracy(f, x[0], y, 0.1)
    with pytest.raises(ValueError, match="steps"):
        robust_accuracy(f, x, y, 0.1, steps=0)
    with pytest.raises(ValueError, match="image_shape"):
        square_attack(f, x, y, 0.1, image_shape=(3, 5))
    f15, _, _ = linear_model(13, d=15)
    x15 = jnp.full((2, 15), 0.5)
    with pytest.raises(ValueError, match="image_shape"):
        square_attack(f15, x15, jnp.array([0, 1]), 0.1)
    with pytest.raises(ValueError, match="loss"):
        apgd(f, x, y, 0.1, loss="margin")
    with pytest.raises(ValueError, match="n_targets"):
        apgd_targeted(f, x, y, 0.1, n_targets=0)
    with pytest.raises(ValueError, match="surrogate"):
        apgd(f, x, y, 0.1, surrogate=linear_model(1, k=3)[0])
    with pytest.raises(ValueError, match="y"):
        apgd(f, x, None, 0.1)


def test_public_names():
    assert geomlib.apgd is apgd and geomlib.apgd_targeted is apgd_targeted
    assert geomlib.square_attack is square_attack and geomlib.robust_accuracy is robust_accuracy
    assert geomlib.RobustAccuracy is RobustAccuracy
