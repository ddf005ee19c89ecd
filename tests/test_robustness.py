"""Tests for geomlib._src.robustness (through the public ``geomlib.`` names): accuracy under
attack, MSD at a target confidence, gradient-ascent paths and their contour cosines, class
templates, the GAAS basis, the two adversarial-dimensionality estimates, plane coordinates.

Closed forms on linear classifiers wherever they exist:

* logits ``[0, w.x + b]``: an L-inf (L2) attack of radius eps lowers the true-class margin
  by exactly ``eps |w|_1`` (``eps |w|_2``); every gradient of the loss or of a target
  log-probability is along ``+-w``;
* a K-class linear model whose target row dominates the others coordinatewise
  (``sign(w_t - w_j) = s`` for every j): a sign step raises every logit difference
  ``z_t - z_j`` by exactly ``alpha |w_t - w_j|_1``, so the steps of the stop-at-confidence
  attack can be counted in numpy.

Speed: models are module-level functions bound with Partial (see conftest.py), so the jitted
kernels compile once per model structure and shape. Several functions here run eagerly
(validation, GAAS, the summaries with their QR and SVD), and eager JAX compiles every
primitive for every new shape; so the tests share one batch shape, (B, D) = (5, 12) with
k = 4 directions, build their inputs in numpy and compute reference values in numpy (or
through one jitted call, ``_call``).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.tree_util import Partial

import geomlib

# ----------------------------------------------------------------------------- models


def linear_binary(w, b, x):
    """Logits [0, w.x + b]: class 1 where w.x + b > 0."""
    return jnp.stack([jnp.zeros(x.shape[0], x.dtype), x @ w + b], axis=1)


def linear_multi(w, b, x):
    """Logits W x + b, W of shape (K, D)."""
    return x @ w.T + b


def linear_response(v, x):
    """The response x . v, (B, D) -> (B,)."""
    return x @ v


def mlp_logits(params, x):
    """A tanh MLP on centred inputs (as in test_attacks)."""
    return jax.vmap(geomlib.mlp, (None, 0, None))(params, 4 * (x - 0.5), "tanh")


DIM, CLASSES, BATCH, K_DIRS = 12, 4, 5, 4


def _np(x):
    return np.asarray(x, np.float64)


def _f32(x):
    """float64 values rounded to float32 (numpy), so numpy references see the same inputs."""
    return np.asarray(x, np.float32)


@jax.jit
def _call(fn, x):
    """fn(x) for a Partial fn, as one compiled program (reference values)."""
    return fn(x)


@jax.jit
def _loss_gradient(f, x, y):
    """Gradient of the cross-entropy of the label, -grad log p_y (computed independently)."""
    return jax.grad(lambda z: -jnp.sum(jnp.take_along_axis(jax.nn.log_softmax(f(z), axis=1), y[:, None], axis=1)))(x)


@jax.jit
def _response_gradient(r, x):
    return jax.grad(lambda z: r(z).sum())(x)


def _log_softmax(z):
    z = _np(z)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _binary_model(dist, seed=0):
    """Linear binary classifier (boundary through mid-gray) and one image per entry of ``dist``
    at that signed L2 distance from the boundary (> 0: class 1), near mid-gray.
    Returns f, x (float32), w, b (float64 copies of the float32 weights), y (int32 labels)."""
    rng = np.random.default_rng(seed)
    w = _np(_f32(rng.normal(size=DIM)))
    b = float(np.float32(-0.5 * w.sum()))
    dist = np.asarray(dist, np.float64)
    x = 0.5 + rng.uniform(-0.1, 0.1, size=(len(dist), DIM))
    x = x - np.outer(x @ w + b, w) / (w @ w)  # onto the boundary ...
    x = _f32(x + np.outer(dist, w / np.linalg.norm(w)))  # ... then off it
    f = Partial(linear_binary, jnp.asarray(_f32(w)), jnp.asarray(np.float32(b)))
    y = (_np(x) @ w + b > 0).astype(np.int32)
    return f, x, w, b, y


def _dominant_model(seed, num_classes, target, deficit=2.0):
    """Linear K-class model whose target row dominates coordinatewise: sign(w_t - w_j) = s for
    all j != t (s a fixed sign vector). At mid-gray the target logit is ``deficit`` below
    0 and the others are in [0, 1]. Returns f, W, b, s (numpy float64)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(num_classes, DIM))
    s = rng.choice([-1.0, 1.0], size=DIM)
    w[target] = s * (np.abs(w).max(axis=0) + 0.5 + rng.uniform(0, 1, size=DIM))
    at_gray = rng.uniform(0, 1, size=num_classes)
    at_gray[target] = -deficit
    w, b = _np(_f32(w)), _np(_f32(at_gray - 0.5 * w.sum(axis=1)))
    assert np.all(np.sign(w[target] - np.delete(w, target, axis=0)) == s)
    return Partial(linear_multi, jnp.asarray(_f32(w)), jnp.asarray(_f32(b))), w, b, s


_MLPS = {}


def _mlp_model(seed=1):
    """A small nonlinear classifier (D = 12, K = 4) and five images in [0.2, 0.8] of which a
    third of the pixels are at 0 or 1 (as in MNIST, where clipping to the box matters)."""
    if seed not in _MLPS:
        # numpy draws (LeCun normal as geomlib.init_mlp, scale 2): no jax.random kernels.
        rng = np.random.default_rng(seed)
        params = [{"w": jnp.asarray(_f32(2 * rng.normal(size=(dout, din)) / np.sqrt(din))),
                   "b": jnp.asarray(np.zeros(dout, np.float32))} for din, dout in ((DIM, 16), (16, CLASSES))]
        x = rng.uniform(0.2, 0.8, size=(BATCH, DIM))
        at_bound = rng.uniform(size=(BATCH, DIM)) < 1 / 3
        x = _f32(np.where(at_bound, rng.integers(0, 2, size=(BATCH, DIM)), x))
        _MLPS[seed] = (Partial(mlp_logits, params), x)
    return _MLPS[seed]


def _predicted(f, x):
    return np.argmax(_np(_call(f, x)), axis=1).astype(np.int32)


# ----------------------------------------------------------------------------- accuracy under attack

DIST = np.array([0.04, -0.08, 0.12, -0.16, 0.2])  # signed distances of the images to the boundary


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_accuracy_under_attack_of_a_linear_binary_classifier_is_the_exact_step_function(norm):
    f, x, w, b, y = _binary_model(DIST)
    dual = np.abs(w).sum() if norm == "inf" else np.linalg.norm(w)  # margin lost per unit eps
    radius = np.sort(np.abs(_np(x) @ w + b) / dual)  # each image is lost beyond its radius
    eps_list = np.concatenate([[0.0, 0.5 * radius[0]], (radius[1:] + radius[:-1]) / 2, [1.5 * radius[-1]]])
    # The images stay inside the box for every eps (the API always clips).
    reach = eps_list.max() * (1 if norm == "inf" else np.abs(w).max() / np.linalg.norm(w))
    assert np.all((x - reach > 0) & (x + reach < 1))
    acc = geomlib.accuracy_under_attack(f, x, y, eps_list.tolist(), steps=10, norm=norm)
    assert acc.shape == (len(eps_list),)
    expected = np.array([np.mean(radius > e) for e in eps_list])
    assert expected[0] == expected[1] == 1 and expected[-1] == 0  # the grid spans every radius
    np.testing.assert_allclose(_np(acc), expected, atol=1e-7)
    assert np.all(np.diff(_np(acc)) <= 0)


def test_accuracy_under_attack_with_a_random_start_still_reaches_the_corner():
    # L-inf, 10 steps of 0.25 eps: from any start in the ball the iterate reaches the corner.
    f, x, w, b, y = _binary_model(DIST)
    radius = np.abs(_np(x) @ w + b) / np.abs(w).sum()
    eps_list = [0.5 * radius.min(), float(np.median(radius)) * 1.01, 1.5 * radius.max()]
    expected = [np.mean(radius > e) for e in eps_list]
    for seed in (0, 1):
        acc = geomlib.accuracy_under_attack(f, x, y, eps_list, key=jax.random.PRNGKey(seed))
        np.testing.assert_allclose(_np(acc), expected, atol=1e-7)


def test_accuracy_under_attack_at_zero_is_the_clean_accuracy():
    f, x, w, b, y = _binary_model(DIST)
    wrong = y.copy()
    wrong[[1, 4]] = 1 - wrong[[1, 4]]  # two labels that the classifier gets wrong
    np.testing.assert_allclose(_np(geomlib.accuracy_under_attack(f, x, wrong, [0.0])), [0.6])
    # ... and under attack those two stay wrong (a linear model cannot be attacked *into* the label
    # of a wrong image with an untargeted attack on that label: it only moves further away).
    radius = np.abs(_np(x) @ w + b) / np.abs(w).sum()
    acc = _np(geomlib.accuracy_under_attack(f, x, wrong, [0.5 * radius.min(), 1.5 * radius.max()]))
    np.testing.assert_allclose(acc, [0.6, 0.0], atol=1e-7)


def test_accuracy_under_attack_of_a_multiclass_linear_classifier_is_bounded_by_the_exact_radius():
    # The smallest L-inf perturbation that misclassifies x is min_j m_j / |w_y - w_j|_1: PGD
    # can never do better (accuracy >= the exact robust accuracy), and with room it finds one.
    rng = np.random.default_rng(5)
    k = 3
    w = _np(_f32(rng.normal(size=(k, DIM))))
    bias = _np(_f32(-0.5 * w.sum(axis=1)))  # all boundaries through mid-gray
    f = Partial(linear_multi, jnp.asarray(_f32(w)), jnp.asarray(_f32(bias)))
    x = _f32(rng.uniform(0.45, 0.55, size=(BATCH, DIM)))
    z = _np(x) @ w.T + bias
    y = z.argmax(axis=1).astype(np.int32)
    margin = z[np.arange(BATCH), y][:, None] - z
    l1 = np.abs(w[y][:, None, :] - w[None]).sum(axis=2)
    radius = np.where(np.arange(k) == y[:, None], np.inf, margin / np.where(l1 > 0, l1, 1)).min(axis=1)
    eps_list = [0.0, 0.9 * radius.min(), float(np.median(radius)), 1.1 * radius.max(), 3 * radius.max()]
    assert np.all((x - eps_list[-1] > 0) & (x + eps_list[-1] < 1))  # inside the box
    acc = _np(geomlib.accuracy_under_attack(f, x, y, eps_list, steps=20))
    exact = np.array([np.mean(radius > e) for e in eps_list])
    assert np.all(acc >= exact - 1e-7)
    assert acc[0] == acc[1] == 1 and acc[-1] == 0
    assert np.all(np.diff(acc) <= 0)


# ----------------------------------------------------------------------------- MSD at a target confidence


def _expected_sign_steps(x, w, b, s, target, alpha, confidence, max_steps, moving=None):
    """Steps and reached of the sign attack on a dominant linear model, in float64: the moving
    pixels go by alpha * s per step (the others are stuck at the box)."""
    x = _np(x)
    moving = np.ones_like(x, dtype=bool) if moving is None else moving
    z0 = x @ w.T + b
    d = z0[:, [target]] - z0  # (B, K) logit differences to the target
    a = (np.abs(w[target] - w)[None] * moving[:, None, :]).sum(axis=2)  # (B, K) gain per step

    def prob(n):
        return 1 / np.exp(-(d + n[:, None] * alpha * a)).sum(axis=1)

    n = np.zeros(len(x))
    for _ in range(max_steps):
        n = np.where(prob(n) < confidence, n + 1, n)
    # No near-ties at the stopping step (float32 would be free to decide either way).
    assert np.all(np.abs(prob(n) - confidence) > 1e-4)
    assert np.all(np.abs(prob(np.maximum(n - 1, 0))[n > 0] - confidence) > 1e-4)
    return n.astype(int), prob(n) >= confidence


@pytest.mark.parametrize("num_classes, target", [(2, 1), (4, 2)])
def test_msd_at_confidence_closed_form_on_a_dominant_linear_model(num_classes, target):
    f, w, b, s = _dominant_model(7 + num_classes, num_classes, target)
    x = _f32(np.random.default_rng(num_classes).uniform(0.45, 0.55, size=(BATCH, DIM)))
    alpha, confidence = 0.01, 0.9
    n, reached = _expected_sign_steps(x, w, b, s, target, alpha, confidence, 500)
    assert np.all(reached) and np.all(n >= 3) and len(set(n.tolist())) > 1
    x_end = _np(x) + n[:, None] * alpha * s
    assert np.all((x_end > 0) & (x_end < 1))  # no clipping on the way
    res = geomlib.msd_at_confidence(f, x, np.full(BATCH, target, np.int32), alpha, 500, confidence)
    assert isinstance(res, geomlib.MSDResult)
    np.testing.assert_array_equal(np.asarray(res.steps), n)
    np.testing.assert_array_equal(np.asarray(res.reached), True)
    np.testing.assert_allclose(_np(res.x_adv), x_end, atol=1e-6)
    np.testing.assert_allclose(_np(res.msd), (n * alpha) ** 2, rtol=1e-4)
    # ... which is the mean squared distance of the returned images,
    np.testing.assert_allclose(_np(res.msd), np.mean((_np(res.x_adv) - _np(x)) ** 2, axis=1), rtol=1e-5)
    # ... where the target is at the confidence.
    assert np.all(np.exp(_log_softmax(_call(f, res.x_adv)))[:, target] >= confidence)


def test_msd_at_confidence_counts_only_the_pixels_that_can_move():
    # The attack clips to [0, 1]: pixels already at the bound they are pushed towards stay.
    target = 1
    f, w, b, s = _dominant_model(3, 2, target, deficit=4.0)
    rng = np.random.default_rng(12)
    x = rng.uniform(0.45, 0.55, size=(BATCH, DIM))
    stuck = np.zeros((BATCH, DIM), bool)
    for i in range(BATCH):
        stuck[i, rng.choice(DIM, size=1 + i % 3, replace=False)] = True
    x = _f32(np.where(stuck, (s > 0).astype(float), x))
    alpha = 0.01
    n, reached = _expected_sign_steps(x, w, b, s, target, alpha, 0.9, 500, moving=~stuck)
    assert np.all(reached) and np.all(n >= 3)
    x_end = np.where(stuck, _np(x), _np(x) + n[:, None] * alpha * s)
    assert np.all((x_end[~stuck] > 0) & (x_end[~stuck] < 1))  # the others never reach the box
    res = geomlib.msd_at_confidence(f, x, np.full(BATCH, target, np.int32), alpha, 500)
    np.testing.assert_array_equal(np.asarray(res.steps), n)
    np.testing.assert_allclose(_np(res.x_adv), x_end, atol=1e-6)
    np.testing.assert_allclose(_np(res.msd), (n * alpha) ** 2 * (~stuck).sum(axis=1) / DIM, rtol=1e-4)


def test_msd_at_confidence_is_nan_where_the_confidence_is_not_reached():
    target = 2
    f, w, b, s = _dominant_model(7 + 4, 4, target)
    x = _f32(np.random.default_rng(4).uniform(0.45, 0.55, size=(BATCH, DIM)))
    alpha = 0.01
    n, _ = _expected_sign_steps(x, w, b, s, target, alpha, 0.9, 500)
    max_steps = int(np.sort(n)[BATCH // 2]) - 1  # some images get there, not all
    reach = n <= max_steps
    assert 0 < reach.sum() < BATCH
    res = geomlib.msd_at_confidence(f, x, np.full(BATCH, target, np.int32), alpha, max_steps)
    np.testing.assert_array_equal(np.asarray(res.reached), reach)
    np.testing.assert_array_equal(np.asarray(res.steps), np.minimum(n, max_steps))
    msd = _np(res.msd)
    assert np.all(np.isnan(msd[~reach])) and not np.any(np.isnan(msd[reach]))
    np.testing.assert_allclose(msd[reach], (n[reach] * alpha) ** 2, rtol=1e-4)
    # The images that did not get there are still returned, after max_steps steps.
    np.testing.assert_allclose(_np(res.x_adv)[~reach], (_np(x) + max_steps * alpha * s)[~reach], atol=1e-6)


def test_msd_at_confidence_is_zero_for_images_already_at_the_confidence():
    f, w, b, s = _dominant_model(7 + 4, 4, 2)
    x = _f32(np.random.default_rng(3).uniform(0.45, 0.55, size=(BATCH, DIM)))
    z = _np(_call(f, x))
    pred = z.argmax(axis=1).astype(np.int32)
    conf = np.exp(_log_softmax(z)).max(axis=1).min()
    res = geomlib.msd_at_confidence(f, x, pred, 0.01, 100, confidence=0.5 * conf)
    np.testing.assert_array_equal(np.asarray(res.steps), 0)
    np.testing.assert_array_equal(np.asarray(res.reached), True)
    np.testing.assert_array_equal(_np(res.msd), 0.0)  # 0, not NaN
    np.testing.assert_array_equal(np.asarray(res.x_adv), x)


# ----------------------------------------------------------------------------- target log-probability


def test_target_log_probability_is_the_log_softmax_of_the_target():
    f, x = _mlp_model()
    target = np.array([0, 3, 1, 2, 3], np.int32)
    r = geomlib.target_log_probability(f, target)
    assert isinstance(r, Partial)
    out = r(x)
    assert out.shape == (BATCH,)
    np.testing.assert_allclose(_np(out), _log_softmax(_call(f, x))[np.arange(BATCH), target], atol=1e-5)
    assert np.all(_np(out) < 0)
    # Its gradient (what the paths follow) is that of log p_t: central differences.
    g = _np(_response_gradient(r, x))
    h, e = 1e-2, np.eye(DIM)[4]
    fd = (_np(_call(r, _f32(x + h * e))) - _np(_call(r, _f32(x - h * e)))) / (2 * h)
    np.testing.assert_allclose(g[:, 4], fd, rtol=2e-2, atol=1e-3)


# ----------------------------------------------------------------------------- gradient-ascent paths

STEPS = 6


def test_gradient_ascent_path_of_a_linear_response_is_a_straight_line():
    rng = np.random.default_rng(0)
    v = _f32(rng.normal(size=DIM))
    x = _f32(rng.normal(size=(BATCH, DIM)))  # unclipped: any image
    alpha = 0.3
    path = geomlib.gradient_ascent_path(Partial(linear_response, jnp.asarray(v)), x, alpha, STEPS, clip=False)
    assert path.shape == (STEPS + 1, BATCH, DIM) and path.dtype == jnp.float32
    expected = _np(x)[None] + alpha * np.arange(STEPS + 1)[:, None, None] * (v / np.linalg.norm(v))
    np.testing.assert_allclose(_np(path), expected, atol=1e-5)


@pytest.mark.parametrize("target", [0, 1])
def test_gradient_ascent_on_a_binary_log_probability_is_an_l2_step_along_w(target):
    # grad log p_1 = (1 - p_1) w and grad log p_0 = -p_1 w: always along +-w.
    f, x, w, b, _ = _binary_model(DIST)
    r = geomlib.target_log_probability(f, np.full(BATCH, target, np.int32))
    alpha = 0.05
    path = geomlib.gradient_ascent_path(r, x, alpha, STEPS, clip=False)
    direction = (2 * target - 1) * w / np.linalg.norm(w)
    expected = _np(x)[None] + alpha * np.arange(STEPS + 1)[:, None, None] * direction
    np.testing.assert_allclose(_np(path), expected, atol=1e-5)
    # ... and the target log-probability rises at every step.
    values = np.stack([_np(_call(r, p)) for p in np.asarray(path)])
    assert np.all(np.diff(values, axis=0) > 0)


def test_clipped_gradient_ascent_path_of_a_linear_response():
    # A constant gradient: clipping every step is clipping the whole displacement.
    rng = np.random.default_rng(1)
    v = _f32(rng.normal(size=DIM))
    x = _f32(rng.uniform(0, 1, size=(BATCH, DIM)))
    alpha = 0.35
    r = Partial(linear_response, jnp.asarray(v))
    path = geomlib.gradient_ascent_path(r, x, alpha, STEPS)
    p = _np(path)
    assert np.all((p >= 0) & (p <= 1))
    expected = np.clip(_np(x)[None] + alpha * np.arange(STEPS + 1)[:, None, None] * (v / np.linalg.norm(v)), 0, 1)
    np.testing.assert_allclose(p, expected, atol=1e-5)
    assert np.any(p == 0) and np.any(p == 1)  # the box was hit
    # Clipped steps leave the contours at an angle: cos = (step . v) / (|step| |v|) < 1.
    step = np.diff(expected, axis=0)
    cos = _np(geomlib.step_contour_cosines(r, path))
    np.testing.assert_allclose(cos, step @ v / (np.linalg.norm(step, axis=-1) * np.linalg.norm(v)), atol=1e-5)
    assert np.all(cos[-1] < 0.99) and np.all(cos > 0)


def test_unclipped_steps_have_the_step_length_and_cross_the_contours_at_right_angles():
    f, x = _mlp_model()
    target = (_predicted(f, x) + 1) % CLASSES
    r = geomlib.target_log_probability(f, target)
    alpha = 0.05
    path = geomlib.gradient_ascent_path(r, x, alpha, STEPS, clip=False)
    assert path.shape == (STEPS + 1, BATCH, DIM)
    p = np.asarray(path)
    np.testing.assert_array_equal(p[0], x)
    np.testing.assert_allclose(np.linalg.norm(np.diff(_np(p), axis=0), axis=-1), alpha, rtol=1e-5)
    cos = geomlib.step_contour_cosines(r, path)
    assert cos.shape == (STEPS, BATCH)
    np.testing.assert_allclose(_np(cos), 1.0, atol=1e-5)
    # Small steps uphill: the response rises along the path.
    values = np.stack([_np(_call(r, q)) for q in p])
    assert np.all(np.diff(values, axis=0) > 0)
    # With clipping the steps are at most alpha long, and the path stays in the box.
    clipped = _np(geomlib.gradient_ascent_path(r, x, alpha, STEPS))
    assert np.all((clipped >= 0) & (clipped <= 1))
    assert np.all(np.linalg.norm(np.diff(clipped, axis=0), axis=-1) <= alpha * (1 + 1e-5))
    assert np.any(clipped != _np(p))  # the box mattered


def test_gradient_ascent_path_of_an_image_does_not_depend_on_the_rest_of_the_batch():
    # Equivalent to one image at a time, without compiling again for a batch of one:
    # reversing the batch reverses the paths; replacing other images leaves a path unchanged.
    f, x = _mlp_model()
    target = np.arange(BATCH, dtype=np.int32) % CLASSES
    batch = _np(geomlib.gradient_ascent_path(geomlib.target_log_probability(f, target), x, 0.05, STEPS))
    rev = _np(geomlib.gradient_ascent_path(geomlib.target_log_probability(f, target[::-1]), x[::-1], 0.05, STEPS))
    np.testing.assert_allclose(rev[:, ::-1], batch, atol=1e-6)
    mixed_x = np.concatenate([x[:1], 1 - x[1:]])
    mixed = _np(geomlib.gradient_ascent_path(geomlib.target_log_probability(f, target), mixed_x, 0.05, STEPS))
    np.testing.assert_allclose(mixed[:, 0], batch[:, 0], atol=1e-6)
    empty = geomlib.gradient_ascent_path(geomlib.target_log_probability(f, target), x, 0.05, 0)
    assert empty.shape == (1, BATCH, DIM)
    np.testing.assert_array_equal(np.asarray(empty)[0], x)


# ----------------------------------------------------------------------------- step-contour cosines


def test_step_contour_cosine_of_sign_steps_on_a_linear_response():
    rng = np.random.default_rng(2)
    v = _np(_f32(rng.normal(size=DIM)))
    r = Partial(linear_response, jnp.asarray(_f32(v)))
    x = rng.normal(size=(BATCH, DIM))
    t = np.arange(STEPS + 1)[:, None, None]
    cos = geomlib.step_contour_cosines(r, _f32(x[None] + 0.1 * t * np.sign(v)))
    assert cos.shape == (STEPS, BATCH)
    expected = np.abs(v).sum() / (np.sqrt(DIM) * np.linalg.norm(v))  # as in the docstring
    assert expected < 0.95  # not trivially 1
    np.testing.assert_allclose(_np(cos), expected, rtol=1e-5)
    # Downhill steps give -1, steps along the contour 0.
    np.testing.assert_allclose(_np(geomlib.step_contour_cosines(r, _f32(x[None] - 0.1 * t * v))), -1.0, rtol=1e-5)
    e = rng.normal(size=DIM)
    e -= (e @ v) / (v @ v) * v
    np.testing.assert_allclose(_np(geomlib.step_contour_cosines(r, _f32(x[None] + t * e))), 0.0, atol=1e-5)


def test_step_contour_cosines_are_nan_for_zero_steps_and_zero_gradients():
    rng = np.random.default_rng(3)
    v = rng.normal(size=DIM)
    x = rng.normal(size=(BATCH, DIM))
    t = np.array([0, 1, 1, 3, 4, 5, 6])[:, None, None]  # the second step is zero
    path = _f32(x[None] + 0.1 * t * v)
    cos = _np(geomlib.step_contour_cosines(Partial(linear_response, jnp.asarray(_f32(v))), path))
    assert np.all(np.isnan(cos[1]))
    np.testing.assert_allclose(np.delete(cos, 1, axis=0), 1.0, rtol=1e-5)
    flat = geomlib.step_contour_cosines(Partial(linear_response, jnp.asarray(np.zeros(DIM, np.float32))), path)
    assert np.all(np.isnan(_np(flat)))


# ----------------------------------------------------------------------------- semantic content


def test_class_means_match_numpy_and_are_nan_for_empty_classes():
    rng = np.random.default_rng(0)
    x = _f32(rng.uniform(size=(20, DIM)))
    y = rng.choice([0, 1, 3], size=20).astype(np.int32)  # class 2 has no images
    y[:3] = [0, 1, 3]
    means = geomlib.class_means(x, y, CLASSES)
    assert means.shape == (CLASSES, DIM) and means.dtype == jnp.float32
    for k in (0, 1, 3):
        np.testing.assert_allclose(_np(means[k]), _np(x)[y == k].mean(axis=0), rtol=1e-6)
    assert np.all(np.isnan(_np(means)[2]))


def test_template_cosine_matches_numpy():
    rng = np.random.default_rng(1)
    means = _np(_f32(rng.uniform(size=(CLASSES, DIM))))
    x = _np(_f32(rng.uniform(size=(BATCH, DIM))))
    d = _np(_f32(rng.normal(size=(BATCH, DIM))))
    source = np.array([0, 1, 2, 3, 0], np.int32)
    target = np.array([1, 2, 3, 0, 3], np.int32)
    t = means[target] - means[source]

    def cosine(perturbation, src=source):
        return _np(geomlib.template_cosine(_f32(x + perturbation), _f32(x), src, target, _f32(means)))

    cos = cosine(d)
    d32 = _np(_f32(x + d)) - _np(_f32(x))
    np.testing.assert_allclose(cos, (d32 * t).sum(1) / (np.linalg.norm(d32, axis=1) * np.linalg.norm(t, axis=1)),
                               atol=1e-6)
    # Perturbations that draw the template score +1 (or -1 backwards), whatever their size.
    np.testing.assert_allclose(cosine(0.3 * t), 1.0, atol=1e-5)
    np.testing.assert_allclose(cosine(-2.0 * t), -1.0, atol=1e-5)
    # Positive rescaling of the perturbation does not change the score.
    np.testing.assert_allclose(cosine(3 * d), cos, atol=1e-5)
    # No perturbation: NaN for that image only. Same source and target (no template): NaN.
    unmoved = d.copy()
    unmoved[2] = 0
    zero = cosine(unmoved)
    assert np.isnan(zero[2]) and not np.any(np.isnan(np.delete(zero, 2)))
    assert np.all(np.isnan(cosine(d, src=target)))


# ----------------------------------------------------------------------------- GAAS basis


@pytest.mark.parametrize("dim, k", [(4, 1), (DIM, K_DIRS), (50, 50)])
def test_gaas_basis_is_orthonormal_and_equiangular_with_the_gradient(dim, k):
    rng = np.random.default_rng(dim * 100 + k)
    # float32: rounding in a k-term orthonormalization grows like k eps (seen 2.2e-6 at k = 50
    # on one CPU); a wrong basis is off by O(1/sqrt(k)) or more.
    tol = 1e-5
    g = _f32(rng.normal(size=(BATCH, dim)) * np.array([1.0, 1e-3, 50.0, 1.0, 3.0])[:, None])  # any scale
    r = _np(geomlib.gaas_basis(g, k))
    assert r.shape == (BATCH, k, dim)
    np.testing.assert_allclose(np.einsum("bid,bjd->bij", r, r), np.broadcast_to(np.eye(k), (BATCH, k, k)), atol=tol)
    g_hat = _np(g) / np.linalg.norm(_np(g), axis=1, keepdims=True)
    np.testing.assert_allclose(np.einsum("bkd,bd->bk", r, g_hat), np.full((BATCH, k), 1 / np.sqrt(k)), atol=tol)
    # The k directions sum to sqrt(k) g_hat (the Householder reflection maps 1/sqrt(k) to e_1).
    np.testing.assert_allclose(r.sum(axis=1), np.sqrt(k) * g_hat, atol=tol)
    # Positive rescaling of g does not change the directions; flipping g flips their angle to it.
    np.testing.assert_allclose(_np(geomlib.gaas_basis(_f32(7 * g), k)), r, atol=tol)
    flipped = _np(geomlib.gaas_basis(-g, k))
    np.testing.assert_allclose(np.einsum("bkd,bd->bk", flipped, g_hat), np.full((BATCH, k), -1 / np.sqrt(k)),
                               atol=tol)


def test_gaas_basis_of_a_zero_gradient_is_still_orthonormal():
    g = _f32(np.random.default_rng(0).normal(size=(BATCH, DIM)))
    g[2] = 0.0  # e.g. an image where the softmax saturates
    r = _np(geomlib.gaas_basis(g, K_DIRS))
    np.testing.assert_allclose(r[2] @ r[2].T, np.eye(K_DIRS), atol=1e-6)


# ----------------------------------------------------------------------------- GAAS directions


def _predictions(f, x, delta):
    """argmax of f at x + delta_i for every direction i, (B, k)."""
    delta = np.asarray(delta)
    return np.stack([_predicted(f, x + delta[:, i]) for i in range(delta.shape[1])], axis=1)


def test_gaas_directions_on_a_linear_binary_classifier():
    # The loss gradient is along (1 - 2y) w, so each of the k directions lowers the true-class
    # margin by eps |w| / sqrt(k): an image is lost along all of them or none, exactly when its
    # distance to the boundary is below eps / sqrt(k).
    dist = np.array([0.05, -0.1, 0.16, -0.2, 0.3])
    f, x, w, b, y = _binary_model(dist)
    eps, k = 0.26, K_DIRS
    res = geomlib.gaas_directions(f, x, y, k, eps, clip=False)
    assert isinstance(res, geomlib.AdversarialDirections)
    assert res.delta.shape == (BATCH, k, DIM)
    delta = _np(res.delta)
    np.testing.assert_allclose(np.linalg.norm(delta, axis=-1), eps, rtol=1e-5)
    g = _f32((1 - 2 * y)[:, None] * w)
    np.testing.assert_allclose(delta, eps * _np(geomlib.gaas_basis(g, k)), atol=1e-6)
    true_margin = (2 * y - 1)[:, None] * ((_np(x)[:, None] + delta) @ w + b)
    expected = (np.abs(dist) - eps / np.sqrt(k)) * np.linalg.norm(w)
    np.testing.assert_allclose(true_margin, np.repeat(expected[:, None], k, axis=1), atol=1e-5)
    lost = np.abs(dist) < eps / np.sqrt(k)
    assert 0 < lost.sum() < BATCH
    np.testing.assert_array_equal(np.asarray(res.success), np.repeat(lost[:, None], k, axis=1))
    assert np.all(_np(res.max_overlap) < 1e-5)
    # Orthonormal successful directions: rank and participation ratio both count them.
    np.testing.assert_array_equal(np.asarray(res.rank), k * lost)
    np.testing.assert_allclose(_np(res.effective_dim), k * lost, rtol=1e-4)


def test_gaas_directions_with_clipping_stay_in_the_box_but_lose_orthogonality():
    f, x = _mlp_model()
    y = _predicted(f, x)
    eps, k = 0.8, K_DIRS
    res = geomlib.gaas_directions(f, x, y, k, eps)
    delta = _np(res.delta)
    x_adv = _np(x)[:, None] + delta
    assert np.all((x_adv >= 0) & (x_adv <= 1))
    # The applied perturbation is the clipped GAAS one ...
    r = _np(geomlib.gaas_basis(_loss_gradient(f, x, y), k))
    np.testing.assert_allclose(x_adv, np.clip(_np(x)[:, None] + eps * r, 0, 1), atol=1e-5)
    assert np.all(np.linalg.norm(delta, axis=-1) <= eps * (1 + 1e-5))
    # ... and, with a third of the pixels at the bounds, far from orthogonal.
    assert np.all(_np(res.max_overlap) > 0.05)
    # The summary, recomputed from the applied perturbations.
    success = np.asarray(res.success)
    np.testing.assert_array_equal(success, _predictions(f, x, res.delta) != y[:, None])
    assert np.any(success)
    u = delta / np.linalg.norm(delta, axis=-1, keepdims=True)
    overlap = np.abs(np.einsum("bid,bjd->bij", u, u)) - np.eye(k)
    np.testing.assert_allclose(_np(res.max_overlap), overlap.max(axis=(1, 2)), atol=1e-5)
    for i in range(BATCH):
        sv = np.linalg.svd(u[i][success[i]], compute_uv=False) if success[i].any() else np.zeros(1)
        assert int(res.rank[i]) == int(np.sum(sv > max(1e-3 * sv.max(), 1e-30)))
        eff = np.sum(sv**2) ** 2 / np.sum(sv**4) if success[i].any() else 0.0
        np.testing.assert_allclose(float(res.effective_dim[i]), eff, rtol=1e-4)
        assert eff <= success[i].sum() + 1e-4  # at most the count (equal only when orthogonal)


# ----------------------------------------------------------------------------- orthogonal directions


def test_orthogonal_directions_on_a_linear_binary_classifier():
    # Only one direction (along -+w) changes the logits: the first perturbation is eps times
    # the unit vector lowering the true margin; every later one is orthogonal to w, so never
    # successful (the adversarial subspace of a K-class linear model has K - 1 dimensions).
    dist = np.array([0.05, -0.1, 0.15, -0.2, 0.3])
    f, x, w, b, y = _binary_model(dist)
    eps, k = 0.12, K_DIRS
    res = geomlib.orthogonal_adversarial_directions(f, x, y, k, eps, clip=False)
    delta = _np(res.delta)
    assert delta.shape == (BATCH, k, DIM)
    wn = w / np.linalg.norm(w)
    np.testing.assert_allclose(delta[:, 0], eps * (1 - 2 * y)[:, None] * wn, atol=1e-6)
    assert np.all(np.linalg.norm(delta, axis=-1) <= eps * (1 + 1e-5))
    np.testing.assert_allclose(delta[:, 1:] @ wn, 0.0, atol=1e-5)
    lost = np.abs(dist) < eps
    assert 0 < lost.sum() < BATCH
    success = np.asarray(res.success)
    np.testing.assert_array_equal(success[:, 0], lost)
    assert not np.any(success[:, 1:])
    assert np.all(_np(res.max_overlap) < 1e-5)
    np.testing.assert_array_equal(np.asarray(res.rank), lost.astype(int))
    np.testing.assert_allclose(_np(res.effective_dim), lost, rtol=1e-5)


def test_orthogonal_directions_of_a_linear_k_class_model_span_k_minus_1_dimensions():
    # The loss gradient lies in span{w_j - w_y}: at most K - 1 orthogonal directions change
    # the logits, and with ample room all K - 1 of them misclassify.
    rng = np.random.default_rng(6)
    k_cls, k = 3, K_DIRS
    w = _np(_f32(rng.normal(size=(k_cls, DIM))))
    f = Partial(linear_multi, jnp.asarray(_f32(w)), jnp.asarray(np.zeros(k_cls, np.float32)))
    x = _f32(rng.uniform(0.4, 0.6, size=(BATCH, DIM)))
    y = _predicted(f, x)
    res = geomlib.orthogonal_adversarial_directions(f, x, y, k, 2.0, clip=False)
    np.testing.assert_array_equal(np.asarray(res.success), np.broadcast_to(np.arange(k) < k_cls - 1, (BATCH, k)))
    assert np.all(_np(res.max_overlap) < 1e-4)
    np.testing.assert_array_equal(np.asarray(res.rank), k_cls - 1)
    np.testing.assert_allclose(_np(res.effective_dim), k_cls - 1, rtol=1e-4)
    # The successful perturbations lie in span{w_j - w_y}.
    delta = _np(res.delta)
    for i in range(BATCH):
        span = np.linalg.qr((w - w[y[i]])[np.arange(k_cls) != y[i]].T)[0]  # (D, K - 1), orthonormal
        d = delta[i, :k_cls - 1]
        np.testing.assert_allclose(d - d @ span @ span.T, 0.0, atol=1e-4 * np.abs(d).max())


def test_orthogonal_directions_with_clipping_are_orthogonal_in_the_box_and_in_the_ball():
    f, x = _mlp_model()
    y = _predicted(f, x)
    eps, k = 0.8, K_DIRS
    res = geomlib.orthogonal_adversarial_directions(f, x, y, k, eps)
    delta = _np(res.delta)
    x_adv = _np(x)[:, None] + delta
    assert np.all((x_adv >= 0) & (x_adv <= 1))
    norms = np.linalg.norm(delta, axis=-1)
    assert np.all(norms <= eps * (1 + 1e-5)) and np.all(norms > 0)
    # Orthogonal up to the convergence of the alternating projections (30 by default).
    assert np.all(_np(res.max_overlap) < 1e-3)
    u = delta / norms[..., None]
    np.testing.assert_allclose(np.einsum("bid,bjd->bij", u, u), np.broadcast_to(np.eye(k), (BATCH, k, k)), atol=1e-3)
    # Orthogonal: the rank and the participation ratio both equal the number of successes.
    success = np.asarray(res.success)
    np.testing.assert_array_equal(success, _predictions(f, x, res.delta) != y[:, None])
    count = success.sum(axis=1)
    assert np.all(count >= 1) and np.any(count < k)
    np.testing.assert_array_equal(np.asarray(res.rank), count)
    np.testing.assert_allclose(_np(res.effective_dim), count, rtol=1e-4)
    # Same images with the naive GAAS estimate: clipping costs it its orthogonality.
    gaas = geomlib.gaas_directions(f, x, y, k, eps)
    assert np.all(_np(gaas.max_overlap) > 100 * _np(res.max_overlap))


def test_orthogonal_directions_with_zero_steps_find_nothing():
    # No perturbation is no success, even for an image that is misclassified to begin with.
    f, x = _mlp_model()
    y = _predicted(f, x)
    y[[0, 3]] = (y[[0, 3]] + 1) % CLASSES
    none = geomlib.orthogonal_adversarial_directions(f, x, y, K_DIRS, 0.8, steps=0)
    np.testing.assert_array_equal(np.asarray(none.delta), 0.0)
    assert not np.any(np.asarray(none.success))
    np.testing.assert_array_equal(np.asarray(none.rank), 0)
    np.testing.assert_array_equal(_np(none.effective_dim), 0.0)


@pytest.mark.parametrize("method", ["gaas", "orthogonal"])
def test_directions_of_an_image_do_not_depend_on_the_rest_of_the_batch(method):
    # Equivalent to one image at a time, without compiling again for a batch of one:
    # reversing the batch reverses the results; replacing other images leaves a result unchanged.
    f, x = _mlp_model()
    run = {"gaas": geomlib.gaas_directions, "orthogonal": geomlib.orthogonal_adversarial_directions}[method]
    y = _predicted(f, x)
    res = run(f, x, y, K_DIRS, 0.8)
    rev = run(f, x[::-1], y[::-1], K_DIRS, 0.8)
    mixed_x = np.concatenate([x[:1], 1 - x[1:]])
    mixed = run(f, mixed_x, _predicted(f, mixed_x), K_DIRS, 0.8)
    assert not np.allclose(_np(mixed.delta)[1:], _np(res.delta)[1:], atol=1e-3)  # the others did change
    np.testing.assert_allclose(_np(rev.delta)[::-1], _np(res.delta), atol=1e-5)
    np.testing.assert_allclose(_np(mixed.delta)[0], _np(res.delta)[0], atol=1e-5)
    for field in ("success", "rank"):
        np.testing.assert_array_equal(np.asarray(getattr(rev, field))[::-1], np.asarray(getattr(res, field)))
        np.testing.assert_array_equal(np.asarray(getattr(mixed, field))[0], np.asarray(getattr(res, field))[0])
    np.testing.assert_allclose(_np(rev.max_overlap)[::-1], _np(res.max_overlap), atol=1e-5)
    np.testing.assert_allclose(_np(mixed.effective_dim)[0], _np(res.effective_dim)[0], rtol=1e-4)


def test_orthogonal_directions_of_one_image_equal_its_row_of_the_batch():
    # (The same for GAAS is covered by the test above: its eager kernels would compile again
    # for a batch of one, about as long as all its other tests together.)
    f, x = _mlp_model()
    y = _predicted(f, x)
    batch = geomlib.orthogonal_adversarial_directions(f, x, y, K_DIRS, 0.8)
    i = 3
    single = geomlib.orthogonal_adversarial_directions(f, x[i:i + 1], y[i:i + 1], K_DIRS, 0.8)
    np.testing.assert_allclose(_np(single.delta)[0], _np(batch.delta)[i], atol=1e-5)
    for field in ("success", "rank"):
        np.testing.assert_array_equal(np.asarray(getattr(single, field))[0], np.asarray(getattr(batch, field))[i])
    np.testing.assert_allclose(_np(single.effective_dim)[0], _np(batch.effective_dim)[i], rtol=1e-4)


# ----------------------------------------------------------------------------- plane coordinates, one image


def test_path_plane_coordinates_closed_form():
    rng = np.random.default_rng(0)
    u, v, origin = rng.normal(size=(3, DIM))
    p = geomlib.plane(u, v, origin)
    pu, pv, po = _np(p.u), _np(p.v), _np(p.origin)
    ab = rng.normal(size=(STEPS + 1, BATCH, 2))
    off = rng.normal(size=(STEPS + 1, BATCH, DIM))
    off -= (off @ pu)[..., None] * pu + (off @ pv)[..., None] * pv  # components off the plane do not count
    path = po + ab[..., :1] * pu + ab[..., 1:] * pv + off
    coords = geomlib.path_plane_coordinates(_f32(path), p)
    assert coords.shape == (STEPS + 1, BATCH, 2)
    np.testing.assert_allclose(_np(coords), ab, atol=1e-5)
    single = geomlib.path_plane_coordinates(_f32(path[:, 1]), p)
    assert single.shape == (STEPS + 1, 2)
    np.testing.assert_allclose(_np(single), ab[:, 1], atol=1e-5)
    # u is the normalised first direction, v the part of the second orthogonal to it.
    line = po + np.arange(STEPS + 1)[:, None] * u
    np.testing.assert_allclose(_np(geomlib.path_plane_coordinates(_f32(line), p)),
                               np.stack([np.arange(STEPS + 1) * np.linalg.norm(u), np.zeros(STEPS + 1)], axis=1),
                               atol=1e-5)
    v_perp = v - (v @ u) / (u @ u) * u
    np.testing.assert_allclose(_np(geomlib.path_plane_coordinates(_f32(po + np.stack([u, v])), p)),
                               [[np.linalg.norm(u), 0], [v @ u / np.linalg.norm(u), np.linalg.norm(v_perp)]],
                               atol=1e-5)


def test_one_image_response_on_a_plane():
    f, x = _mlp_model()
    r1 = geomlib.one_image(geomlib.target_log_probability(f, np.array([2], np.int32)))
    assert isinstance(r1, Partial)
    out = r1(x[0])
    assert out.shape == ()
    np.testing.assert_allclose(float(out), _log_softmax(_call(f, x))[0, 2], atol=1e-5)
    # plane_values of the one-image response = the batched response at origin + a u + b v.
    p = geomlib.plane(x[1] - x[0], x[2] - x[0], x[0])
    coords = np.asarray(p.grid(3, extent=0.5))
    values = _np(geomlib.plane_values(r1, p, coords))
    points = _np(p.origin) + _np(coords)[..., :1] * _np(p.u) + _np(coords)[..., 1:] * _np(p.v)
    expected = _log_softmax(_call(f, _f32(points.reshape(-1, DIM))))[:, 2].reshape(3, 3)
    np.testing.assert_allclose(values, expected, atol=1e-5)


# ----------------------------------------------------------------------------- bad input


def _bad_calls():
    f, x, w, b, y = _binary_model(DIST)
    r = geomlib.target_log_probability(f, np.zeros(BATCH, np.int32))
    logits_r = Partial(linear_multi, jnp.asarray(np.ones((2, DIM), np.float32)), jnp.asarray(np.zeros(2, np.float32)))
    path = np.broadcast_to(x, (3, BATCH, DIM))
    p = geomlib.plane(np.eye(DIM)[0], np.eye(DIM)[1])
    means = np.ones((2, DIM), np.float32)
    yf = y.astype(np.float32)
    return [
        # accuracy_under_attack
        (lambda: geomlib.accuracy_under_attack(f, x, y, [0.1, -0.1]), r"eps_list: expected a non-empty sequence"),
        (lambda: geomlib.accuracy_under_attack(f, x, y, []), r"eps_list: expected a non-empty sequence"),
        (lambda: geomlib.accuracy_under_attack(f, x, y, 0.1), r"eps_list: expected .* got 0.1"),
        (lambda: geomlib.accuracy_under_attack(f, x, y, [np.nan]), r"eps_list: expected .* finite radii"),
        (lambda: geomlib.accuracy_under_attack(f, x, y, [0.1], steps=0), r"steps: expected an integer >= 1, got 0"),
        (lambda: geomlib.accuracy_under_attack(f, x, y, [0.1], steps=2.5), r"steps: expected an integer >= 1, got 2.5"),
        (lambda: geomlib.accuracy_under_attack(f, x, y, [0.1], step_size_factor=0.0),
         r"step_size_factor: expected a scalar > 0, got 0.0"),
        (lambda: geomlib.accuracy_under_attack(f, x, y + 2, [0.1]), r"y: expected labels in \[0, 2\)"),
        (lambda: geomlib.accuracy_under_attack(f, x, y[:3], [0.1]), r"y: expected integer labels of shape \(B,\)"),
        (lambda: geomlib.accuracy_under_attack(f, x + 1, y, [0.1]), r"x: expected pixel values in \[0, 1\]"),
        (lambda: geomlib.accuracy_under_attack(f, x, y, [0.1], norm="L1"), r"norm: expected 'inf' or '2'"),
        (lambda: geomlib.accuracy_under_attack("model", x, y, [0.1]), r"logits_fn: expected a callable"),
        # msd_at_confidence
        (lambda: geomlib.msd_at_confidence(f, x, y, step_size=0.0),
         r"step_size: expected a finite value in \(0, inf\), got 0.0"),
        (lambda: geomlib.msd_at_confidence(f, x, y, confidence=1.0),
         r"confidence: expected a finite value in \(0, 1\), got 1.0"),
        (lambda: geomlib.msd_at_confidence(f, x, y, max_steps=-1), r"max_steps: expected an integer >= 0"),
        (lambda: geomlib.msd_at_confidence(f, x, y + 2), r"target: expected labels in \[0, 2\)"),
        (lambda: geomlib.msd_at_confidence(f, x - 1, y), r"x: expected pixel values in \[0, 1\]"),
        (lambda: geomlib.msd_at_confidence(f, x[0], y), r"x: expected a batch of flattened images"),
        # target_log_probability
        (lambda: geomlib.target_log_probability(f, yf), r"target: expected integer labels of shape \(B,\)"),
        (lambda: geomlib.target_log_probability(f, y[:, None]),
         r"target: expected integer labels of shape \(B,\), got shape \(5, 1\)"),
        (lambda: geomlib.target_log_probability(3, y), r"logits_fn: expected a callable"),
        # gradient_ascent_path
        (lambda: geomlib.gradient_ascent_path(r, x, 0.0, 3), r"step_size: expected a finite value in \(0, inf\)"),
        (lambda: geomlib.gradient_ascent_path(r, x, 0.1, -1), r"steps: expected an integer >= 0, got -1"),
        (lambda: geomlib.gradient_ascent_path(r, x + 1, 0.1, 3), r"x: expected pixel values in \[0, 1\]"),
        (lambda: geomlib.gradient_ascent_path(r, x[0], 0.1, 3, clip=False), r"x: expected a batch of flattened images"),
        (lambda: geomlib.gradient_ascent_path(None, x, 0.1, 3), r"response_fn: expected a callable \(B, D\) -> \(B,\)"),
        (lambda: geomlib.gradient_ascent_path(logits_r, x, 0.1, 3),
         r"response_fn: expected output shape \(B,\) = \(5,\), got \(5, 2\)"),
        # step_contour_cosines
        (lambda: geomlib.step_contour_cosines(r, x), r"path: expected shape \(T \+ 1, B, D\) with T >= 1, got shape"),
        (lambda: geomlib.step_contour_cosines(r, path[:1]), r"path: expected .* got shape \(1, 5, 12\)"),
        (lambda: geomlib.step_contour_cosines(logits_r, path), r"response_fn: expected output shape \(B,\)"),
        (lambda: geomlib.step_contour_cosines("r", path), r"response_fn: expected a callable"),
        # class_means, template_cosine
        (lambda: geomlib.class_means(x, y[:3], 2), r"y: expected integer labels of shape \(B,\) = \(5,\), got shape \(3,\)"),
        (lambda: geomlib.class_means(x[0], y, 2), r"x: expected images of shape \(n, D\), got shape"),
        (lambda: geomlib.template_cosine(x[:3], x, y, y, means), r"x_adv: expected the shape \(B, D\) of x"),
        (lambda: geomlib.template_cosine(x, x, y, y, means[:, :3]), r"means: expected shape \(K, 12\), got \(2, 3\)"),
        (lambda: geomlib.template_cosine(x, x, y + 2, y, means), r"source: expected labels in \[0, 2\)"),
        (lambda: geomlib.template_cosine(x, x, y, y - 1, means), r"target: expected labels in \[0, 2\)"),
        (lambda: geomlib.template_cosine(x, x, y, y[:2], means), r"target: expected integer labels of shape"),
        (lambda: geomlib.template_cosine(x, x, yf, y, means), r"source: expected integer labels, got dtype float32"),
        # gaas_basis
        (lambda: geomlib.gaas_basis(x[0], 2), r"g: expected gradients of shape \(B, D\), got shape \(12,\)"),
        (lambda: geomlib.gaas_basis(x, 0), r"k: expected an integer in \[1, D = 12\], got 0"),
        (lambda: geomlib.gaas_basis(x, 13), r"k: expected an integer in \[1, D = 12\], got 13"),
        (lambda: geomlib.gaas_basis(x, 2.0), r"k: expected an integer .* got 2.0"),
        (lambda: geomlib.gaas_basis(x, True), r"k: expected an integer .* got True"),
        # gaas_directions, orthogonal_adversarial_directions
        (lambda: geomlib.gaas_directions(f, x, y, 2, 0.0), r"eps: expected a finite value in \(0, inf\), got 0.0"),
        (lambda: geomlib.gaas_directions(f, x, y, 2, -0.5), r"eps: expected a finite value in \(0, inf\)"),
        (lambda: geomlib.gaas_directions(f, x, y, 13, 0.5), r"k: expected an integer in \[1, D = 12\]"),
        (lambda: geomlib.gaas_directions(f, x, y + 5, 2, 0.5), r"y: expected labels in \[0, 2\)"),
        (lambda: geomlib.gaas_directions(f, x, yf, 2, 0.5), r"y: expected integer labels"),
        (lambda: geomlib.gaas_directions(f, x + 1, y, 2, 0.5), r"x: expected pixel values in \[0, 1\]"),
        (lambda: geomlib.gaas_directions(Partial(linear_response, np.ones(DIM, np.float32)), x, y, 2, 0.5),
         r"logits_fn: expected output shape \(B, K\)"),
        (lambda: geomlib.orthogonal_adversarial_directions(f, x, y, 0, 0.5),
         r"k: expected an integer in \[1, D = 12\], got 0"),
        (lambda: geomlib.orthogonal_adversarial_directions(f, x, y, 2, -1.0), r"eps: expected a finite value"),
        (lambda: geomlib.orthogonal_adversarial_directions(f, x, y, 2, 0.5, steps=-1),
         r"steps: expected an integer >= 0, got -1"),
        (lambda: geomlib.orthogonal_adversarial_directions(f, x, y, 2, 0.5, step_size=0.0),
         r"step_size: expected a finite value in \(0, inf\)"),
        (lambda: geomlib.orthogonal_adversarial_directions(f, x, y, 2, 0.5, alternations=-3),
         r"alternations: expected an integer >= 0, got -3"),
        (lambda: geomlib.orthogonal_adversarial_directions(f, x, y[:2], 2, 0.5),
         r"y: expected integer labels of shape \(B,\) = \(5,\), got shape \(2,\)"),
        (lambda: geomlib.orthogonal_adversarial_directions(object(), x, y, 2, 0.5), r"logits_fn: expected a callable"),
        # path_plane_coordinates, one_image
        (lambda: geomlib.path_plane_coordinates(x[0], p), r"path: expected shape \(T \+ 1, D\) or \(T \+ 1, B, D\) "
                                                          r"with D = 12, got shape \(12,\)"),
        (lambda: geomlib.path_plane_coordinates(x[:, :5], p), r"path: expected .* got shape \(5, 5\)"),
        (lambda: geomlib.path_plane_coordinates(path[None], p), r"path: expected .* got shape \(1, 3, 5, 12\)"),
        (lambda: geomlib.one_image("r"), r"response_fn: expected a callable \(B, D\) -> \(B,\), got str"),
    ]


@pytest.mark.parametrize("index", range(len(_bad_calls())))
def test_bad_input_raises_a_clear_value_error(index):
    call, match = _bad_calls()[index]
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------- known bugs


def test_class_means_rejects_labels_out_of_range():
    x = np.ones((3, DIM), np.float32)
    with pytest.raises(ValueError, match=r"y: expected labels in \[0, 2\)"):
        geomlib.class_means(x, np.array([0, 1, 5], np.int32), 2)


def test_accuracy_under_attack_checks_the_norm_even_at_eps_zero():
    f, x, w, b, y = _binary_model(DIST)
    with pytest.raises(ValueError, match=r"norm: expected 'inf' or '2'"):
        geomlib.accuracy_under_attack(f, x, y, [0.0], norm="L1")


def test_gradient_ascent_path_rejects_a_target_out_of_range():
    f, x, w, b, y = _binary_model(DIST)
    r = geomlib.target_log_probability(f, np.full(BATCH, 5, np.int32))
    with pytest.raises(ValueError, match=r"target"):
        geomlib.gradient_ascent_path(r, x, 0.05, STEPS)


# ----------------------------------------------------------------------------- argument types and bounds (issue 15)


def _typed_bad_calls():
    """(call, exception type, message): values that are not what the argument is, each named."""
    f, x, w, b, y = _binary_model(DIST)
    r = geomlib.target_log_probability(f, np.zeros(BATCH, np.int32))
    path = np.broadcast_to(x, (3, BATCH, DIM)).copy()
    means = np.ones((2, DIM), np.float32)
    nan_x = x.copy()
    nan_x[0, 0] = np.nan
    return [
        # accuracy_under_attack
        (lambda: geomlib.accuracy_under_attack(f, x, y, "abc"), TypeError, r"eps_list: expected a non-empty sequence"),
        (lambda: geomlib.accuracy_under_attack(f, x, y, None), TypeError, r"eps_list: expected .* got None"),
        (lambda: geomlib.accuracy_under_attack(f, x, y, [True]), TypeError, r"eps_list: expected .* got \[True\]"),
        (lambda: geomlib.accuracy_under_attack(f, x, y, [0.1], step_size_factor=True), TypeError,
         r"step_size_factor: expected a scalar > 0, got True"),
        (lambda: geomlib.accuracy_under_attack(f, x, y, [0.1], step_size_factor="2.5"), TypeError,
         r"step_size_factor: expected a scalar > 0, got '2.5'"),
        (lambda: geomlib.accuracy_under_attack(f, x, y, [0.1], step_size_factor=np.inf), ValueError,
         r"step_size_factor: expected a scalar > 0, got inf \(not finite\)"),
        (lambda: geomlib.accuracy_under_attack(f, x, y, [0.1], steps=2 ** 31), ValueError,
         r"steps: expected an integer in \[1, MAX_STEPS = 10_000_000\], got 2147483648"),
        (lambda: geomlib.accuracy_under_attack(f, None, y, [0.1]), TypeError, r"x: expected an array of numbers"),
        (lambda: geomlib.accuracy_under_attack(f, x, "abc", [0.1]), TypeError, r"y: expected an array of numbers"),
        # msd_at_confidence, gradient_ascent_path, step_contour_cosines, target_log_probability
        (lambda: geomlib.msd_at_confidence(f, x, y, step_size=True), TypeError, r"step_size: expected a real number"),
        (lambda: geomlib.msd_at_confidence(f, x, y, max_steps=2 ** 31), ValueError,
         r"max_steps: expected .* MAX_STEPS"),
        (lambda: geomlib.gradient_ascent_path(r, x, 0.1, 2 ** 31), ValueError, r"steps: expected .* MAX_STEPS"),
        (lambda: geomlib.gradient_ascent_path(r, x, "0.1", 3), TypeError, r"step_size: expected a real number"),
        (lambda: geomlib.gradient_ascent_path(r, x, 0.1, 3, clip="yes"), TypeError, r"clip: expected True or False"),
        (lambda: geomlib.step_contour_cosines(r, None), TypeError, r"path: expected an array of numbers"),
        (lambda: geomlib.step_contour_cosines(r, path + 0j), TypeError, r"path: expected real numbers"),
        (lambda: geomlib.step_contour_cosines(r, np.where(np.arange(DIM) == 0, np.nan, path)), ValueError,
         r"path: expected finite values"),
        (lambda: geomlib.target_log_probability(f, None), TypeError, r"target: expected an array of numbers"),
        (lambda: geomlib.target_log_probability(f, -np.ones(BATCH, np.int32)), ValueError,
         r"target: expected labels >= 0, got values down to -1"),
        (lambda: geomlib.target_log_probability(f, np.full(BATCH, 5, np.int32))(x), ValueError,
         r"target: expected labels in \[0, 2\) \(K = 2 classes\), got values up to 5"),
        (lambda: geomlib.target_log_probability(f, np.zeros(BATCH - 1, np.int32))(x), ValueError,
         r"target: expected one target per image, shape \(B,\) = \(5,\), got shape \(4,\)"),
        # template_cosine, gaas_basis, gaas_directions, orthogonal_adversarial_directions
        (lambda: geomlib.template_cosine(x, x, y, y, means + 0j), TypeError, r"means: expected real numbers"),
        (lambda: geomlib.template_cosine(nan_x, x, y, y, means), ValueError, r"x_adv: expected finite values"),
        (lambda: geomlib.template_cosine(x, x, "abc", y, means), TypeError, r"source: expected an array of numbers"),
        (lambda: geomlib.gaas_basis(nan_x, 2), ValueError, r"g: expected finite values"),
        (lambda: geomlib.gaas_basis(x + 0j, 2), TypeError, r"g: expected real numbers"),
        (lambda: geomlib.gaas_directions(f, x, y, 2, 0.5, rank_tol=-1.0), ValueError,
         r"rank_tol: expected a finite number >= 0, got -1.0"),
        (lambda: geomlib.gaas_directions(f, x, y, 2, True), TypeError, r"eps: expected a real number, got bool True"),
        (lambda: geomlib.orthogonal_adversarial_directions(f, x, y, 2, 0.5, alternations=0), ValueError,
         r"alternations: expected an integer >= 1 with clip=True"),
        (lambda: geomlib.orthogonal_adversarial_directions(f, x, y, 2, 0.5, steps=2 ** 31), ValueError,
         r"steps: expected .* MAX_STEPS"),
        (lambda: geomlib.orthogonal_adversarial_directions(f, x, y, 2, 0.5, clip=None), TypeError,
         r"clip: expected True or False"),
    ]


@pytest.mark.parametrize("index", range(len(_typed_bad_calls())))
def test_values_of_the_wrong_kind_are_rejected_naming_the_argument(index):
    call, kind, match = _typed_bad_calls()[index]
    with pytest.raises(kind, match=match):
        call()


def test_orthogonal_directions_without_clip_need_no_alternation():
    # Without the box, the projected gradient steps stay orthogonal: alternations=0 is exact.
    f, x = _mlp_model()
    y = _predicted(f, x)
    none = geomlib.orthogonal_adversarial_directions(f, x, y, 2, 0.8, clip=False, alternations=0)
    some = geomlib.orthogonal_adversarial_directions(f, x, y, 2, 0.8, clip=False, alternations=3)
    np.testing.assert_allclose(_np(none.delta), _np(some.delta), atol=1e-5)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"x": None}, TypeError, r"^x: expected an array of numbers"),
    ({"x": np.ones((2, 4)) + 1j}, TypeError, r"^x: expected real numbers"),
    ({"x": np.full((2, 4), np.nan)}, ValueError, r"^x: expected finite values"),
    ({"y": "abc"}, TypeError, r"^y: expected an array of numbers"),
    ({"y": np.array([0.5, 1.0])}, TypeError, r"^y: expected integers"),
    ({"num_classes": 2 ** 31}, ValueError, r"^num_classes: expected an integer in \[1, 1048576\]"),
])
def test_class_means_argument_checks(kwargs, error, match):
    args = {"x": np.ones((2, 4)), "y": np.array([0, 1]), "num_classes": 3, **kwargs}
    with pytest.raises(error, match=match):
        geomlib.class_means(**args)
