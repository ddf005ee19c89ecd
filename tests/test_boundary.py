"""Tests of geomlib._src.boundary: decision functions, boundary curvature, straight-line walks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.tree_util import Partial

import geomlib
from geomlib._src import boundary as B

W = jnp.array([[1.0, 0.5, 0.0, -0.3], [-1.0, 0.2, 0.4, 0.1], [0.2, -0.6, 0.3, 0.5]])
BIAS = jnp.array([0.1, -0.2, 0.0])


def _linear(w, b, x):
    return x @ w.T + b


def _quadratic(c, x):
    """Two classes: f_0 = x_0 - c |x_rest|^2, f_1 = 0. The boundary x_0 = c |x_rest|^2 is a
    paraboloid whose curvature at the origin is 2c in every tangent direction; the region
    of class 0 (x_0 > c |x_rest|^2) is convex there: positive curvature."""
    f0 = x[..., 0] - c * jnp.sum(x[..., 1:] ** 2, axis=-1)
    return jnp.stack([f0, jnp.zeros_like(f0)], axis=-1)


def _ball(x):
    """Two classes: f_0 = 1 - |x|^2, f_1 = 0. Class 0 is the unit ball (convex): curvature
    +1 in every tangent direction of its boundary. At the origin the decision function has
    zero gradient: DeepFool cannot move the image."""
    f0 = 1.0 - jnp.sum(x**2, axis=-1)
    return jnp.stack([f0, jnp.zeros_like(f0)], axis=-1)


def _softplus_mlp(w1, b1, w2, x):
    return jax.nn.softplus(x @ w1.T + b1) @ w2.T


def _smooth_classifier(dim=30, hidden=10, classes=3, seed=42):
    rng = np.random.default_rng(seed)
    dtype = geomlib.float_dtype()
    return Partial(_softplus_mlp, jnp.asarray(2.0 * rng.normal(size=(hidden, dim)) / np.sqrt(dim), dtype),
                   jnp.asarray(rng.normal(size=hidden), dtype),
                   jnp.asarray(rng.normal(size=(classes, hidden)) / np.sqrt(hidden), dtype))


LINEAR = Partial(_linear, W, BIAS)


def test_decision_function_values_and_logit():
    x = jnp.array([0.3, -0.2, 0.5, 1.0])
    z = LINEAR(x)
    assert float(B.decision_function(LINEAR, 0, 2)(x)) == pytest.approx(float(z[0] - z[2]), abs=1e-6)
    assert float(B.decision_function(LINEAR, 1)(x)) == pytest.approx(float(z[1]), abs=1e-6)
    g = jax.jit(jax.grad(B.decision_function(LINEAR, 0, 1)))(x)
    np.testing.assert_allclose(g, W[0] - W[1], atol=1e-6)


@pytest.mark.parametrize("kwargs, match", [(dict(i=-1), "i:"), (dict(i=0, j=0), "j:"), (dict(i=1.5), "i:"),
                                           (dict(i=True), "i:")])
def test_decision_function_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        B.decision_function(LINEAR, **kwargs)
    with pytest.raises(ValueError, match="image_logits"):
        B.decision_function(3, 0, 1)


def test_linear_classifier_has_flat_boundaries():
    x = jnp.asarray(np.random.default_rng(0).normal(size=(3, 4)), jnp.float32)
    res = B.boundary_curvatures(LINEAR, x, k=1)
    assert np.all(np.asarray(res.label) != np.asarray(res.target))
    np.testing.assert_allclose(res.curvatures, 0.0, atol=1e-5)
    assert np.all(np.asarray(res.curvatures) == 0.0) and np.all(np.asarray(res.residuals) == 0.0)
    # DeepFool on a linear classifier reaches the closest boundary in one step: the
    # distance is |g(x)| / |grad g| for the pair it crosses.
    for r in range(3):
        i, j = int(res.label[r]), int(res.target[r])
        g = B.decision_function(LINEAR, i, j)
        want = abs(float(g(x[r]))) / float(jnp.linalg.norm(W[i] - W[j]))
        assert float(res.distance[r]) == pytest.approx(want, rel=1e-3)
        assert abs(float(g(res.point[r]))) < 1e-4


def test_quadratic_boundary_curvature_closed_form(x64):
    c = 0.7
    f = Partial(_quadratic, c)
    x = jnp.array([0.5, 0.0, 0.0, 0.0, 0.0])   # DeepFool goes straight to the tip, the origin
    res = B.boundary_curvatures(f, x, k=2, tol=1e-8)
    assert (int(res.label), int(res.target)) == (0, 1)
    assert float(res.distance) == pytest.approx(0.5, abs=1e-6)
    np.testing.assert_allclose(res.curvatures, [2 * c, 2 * c], rtol=1e-5)
    assert bool(res.top_two)


def test_batch_equals_single():
    x = jnp.asarray(np.random.default_rng(1).normal(size=(3, 4)), jnp.float32)
    f = Partial(_quadratic, 0.3)
    batch = B.boundary_curvatures(f, x, k=1)
    for r in range(3):
        one = B.boundary_curvatures(f, x[r], k=1)
        np.testing.assert_allclose(one.curvatures, batch.curvatures[r], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(one.point, batch.point[r], atol=1e-5)
    walk = B.straight_line_walk(LINEAR, x[:2], x[1:], n=7)
    for r in range(2):
        one = B.straight_line_walk(LINEAR, x[r], x[r + 1], n=7)
        assert bool(one.inside) == bool(walk.inside[r])
        np.testing.assert_array_equal(one.classes, walk.classes[r])
    d = B.adversarial_direction(LINEAR, x)
    np.testing.assert_allclose(B.adversarial_direction(LINEAR, x[0]), d[0], atol=1e-6)


@pytest.mark.parametrize("which", ["LM", "LA", "SA"])
def test_boundary_curvatures_match_the_dense_shape_operator(which, x64):
    """Per-image class pairs in one batch: each row equals the dense curvatures of its own
    decision function f_label - f_target at its boundary point (the reference path)."""
    f = _smooth_classifier()
    x = jnp.asarray(np.random.default_rng(41).normal(size=(6, 30)))
    res = B.boundary_curvatures(f, x, k=3, which=which, tol=1e-8, iterations=16)  # < D - 1 = 29
    assert len(set(zip(np.asarray(res.label).tolist(), np.asarray(res.target).tolist()))) > 1
    for r in range(len(x)):
        i, j = int(res.label[r]), int(res.target[r])
        assert i != j
        g = B.decision_function(f, i, j)
        assert abs(float(g(res.point[r]))) < 1e-6
        dense = np.asarray(geomlib.principal_curvatures(g, res.point[r]))
        want = {"LA": dense[:3], "SA": dense[-3:],
                "LM": np.sort(dense[np.argsort(-np.abs(dense))[:3]])[::-1]}[which]
        np.testing.assert_allclose(res.curvatures[r], want, rtol=1e-6)
        assert np.all(np.asarray(res.residuals[r]) <= 1e-8 * np.abs(want))


def test_ball_closed_form_and_unmoved_image(x64):
    """Class 0 is the unit ball: curvature +1/|p| (multiplicity D - 1, found by restarts);
    the image at the origin cannot be moved: NaN row, label == target."""
    x = jnp.array([[0.5, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0], [0.1, -0.3, 0.2, 0.0, 0.4]])
    res = B.boundary_curvatures(Partial(_ball), x, k=3)
    moved = np.array([True, False, True])
    np.testing.assert_array_equal(np.asarray(res.label) != np.asarray(res.target), moved)
    np.testing.assert_allclose(np.linalg.norm(res.point[moved], axis=1), 1.0, rtol=1e-8)
    np.testing.assert_allclose(res.curvatures[moved], 1 / np.linalg.norm(res.point[moved], axis=1)[:, None]
                               * np.ones((1, 3)), rtol=1e-10)
    assert np.all(np.isnan(np.asarray(res.curvatures[1]))) and np.all(np.isnan(np.asarray(res.residuals[1])))
    assert np.isnan(float(res.distance[1])) and not bool(res.top_two[1])
    np.testing.assert_array_equal(np.asarray(res.top_two)[moved], True)
    # Fewer Lanczos steps than wanted curvatures is an error, not a silent NaN.
    with pytest.raises(ValueError, match="iterations"):
        B.boundary_curvatures(Partial(_ball), x, k=3, iterations=2)


def test_boundary_curvatures_bad_input():
    with pytest.raises(ValueError, match="k:"):
        B.boundary_curvatures(LINEAR, jnp.ones((2, 4)), k=3)
    with pytest.raises(ValueError, match="x:"):
        B.boundary_curvatures(LINEAR, jnp.ones((2, 2, 4)))
    with pytest.raises(ValueError, match="x:"):
        B.boundary_curvatures(LINEAR, jnp.array([[jnp.nan, 0.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="which:"):
        B.boundary_curvatures(LINEAR, jnp.ones((2, 4)), k=1, which="XX")


def test_boundary_point_on_a_segment():
    x, far = jnp.array([1.0, 0.0, 0.0, 0.0]), jnp.array([-1.0, 0.0, 0.0, 0.0])
    f = Partial(_quadratic, 0.0)   # boundary: x_0 = 0
    p, i, j = B.boundary_point(f, x, far)
    assert (int(i), int(j)) == (0, 1) and float(p[0]) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="x_far"):
        B.boundary_point(f, x, x)
    with pytest.raises(ValueError, match="iters"):
        B.boundary_point(f, x, far, iters=0)


def test_straight_line_walk_convex_and_nonconvex():
    # Linear classifiers have convex class regions: every same-class walk stays inside.
    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.normal(size=(40, 4)), jnp.float32)
    lab = np.asarray(B.top_two_classes(LINEAR, x)[0])
    pairs = B.same_class_pairs(lab, 20, seed=0)
    walk = B.straight_line_walk(LINEAR, x[pairs[:, 0]], x[pairs[:, 1]], n=33)
    assert bool(jnp.all(walk.inside)) and float(jnp.min(walk.fraction)) == 1.0
    # Class 1 of the quadratic classifier (x_0 < c |x_rest|^2) is not convex: the walk
    # between (0, 1) and (0, -1) passes through the origin, which is class 0's boundary
    # side... (x_0 = 0.1 > c * 0) -> leaves class 1.
    f = Partial(_quadratic, 1.0)
    w = B.straight_line_walk(f, jnp.array([0.1, 1.0]), jnp.array([0.1, -1.0]), n=11)
    assert int(w.label) == 1 and not bool(w.inside) and 0 < float(w.fraction) < 1


def test_straight_line_walk_bad_input():
    with pytest.raises(ValueError, match="x1"):
        B.straight_line_walk(LINEAR, jnp.ones(4), jnp.ones(3))
    with pytest.raises(ValueError, match="n:"):
        B.straight_line_walk(LINEAR, jnp.ones(4), jnp.zeros(4), n=1)
    with pytest.raises(ValueError, match="label"):
        B.straight_line_walk(LINEAR, jnp.ones(4), jnp.zeros(4), label=-1)


def test_same_class_pairs():
    labels = np.array([0, 1, 0, 1, 2, 0])
    pairs = B.same_class_pairs(labels, 50, seed=3)
    assert pairs.shape == (50, 2)
    assert np.all(labels[pairs[:, 0]] == labels[pairs[:, 1]]) and np.all(pairs[:, 0] != pairs[:, 1])
    np.testing.assert_array_equal(pairs, B.same_class_pairs(labels, 50, seed=3))
    assert not np.isin(pairs, [1, 3]).any() or True
    masked = B.same_class_pairs(labels, 20, seed=0, allowed=labels != 1)
    assert not np.isin(masked, [1, 3]).any()
    with pytest.raises(ValueError, match="n_pairs"):
        B.same_class_pairs(labels, 0)
    with pytest.raises(ValueError, match="allowed"):
        B.same_class_pairs(labels, 2, allowed=[True])


def test_plane_logits_matches_direct_evaluation():
    p = geomlib.plane(jnp.array([1.0, 0.0, 0.0, 0.0]), jnp.array([0.0, 1.0, 1.0, 0.0]), jnp.full(4, 0.2))
    coords = geomlib.grid(5, 1.0)
    z = B.plane_logits(LINEAR, p, coords)
    pts = p.origin + coords[..., :1] * p.u + coords[..., 1:] * p.v
    np.testing.assert_allclose(z, LINEAR(pts), atol=1e-5)
    with pytest.raises(ValueError, match="coords"):
        B.plane_logits(LINEAR, p, jnp.ones((3, 3)))


def test_nearest_other_class_and_top_two_classes():
    images = np.array([[0.0, 0.0], [0.1, 0.0], [0.5, 0.0], [2.0, 0.0]])
    assert B.nearest_other_class(images, np.array([0, 0, 1, 1]), 0) == 2
    with pytest.raises(ValueError, match="index"):
        B.nearest_other_class(images, np.array([0, 0, 1, 1]), 4)
    top, runner = B.top_two_classes(LINEAR, jnp.array([1.0, 0.0, 0.0, 0.0]))
    assert (int(top), int(runner)) == (0, 2)
    with pytest.raises(ValueError, match="target"):
        B.adversarial_direction(LINEAR, jnp.array([1.0, 0.0, 0.0, 0.0]), target=0)


@pytest.mark.parametrize("kwargs, kind, match", [
    (dict(target=3), ValueError, r"target: expected class indices in \[0, 3\) \(K = 3 classes\), got 3"),
    (dict(target=-1), ValueError, r"target: expected class indices in \[0, 3\)"),
    (dict(target="abc"), TypeError, r"target: expected an array of numbers, got str 'abc'"),
    (dict(target=np.array([1, 2])), ValueError, r"target: expected a class index of shape \(\), got shape \(2,\)"),
    (dict(image_logits=None), ValueError, r"image_logits: expected a callable \(D,\) -> \(K,\)"),
    (dict(x=None), TypeError, r"x: expected an array of numbers, got NoneType"),
    (dict(x=jnp.array([1.0, 0.0, 0.0, 0.0]) + 0j), TypeError, r"x: expected real numbers, got complex values"),
])
def test_adversarial_direction_bad_arguments(kwargs, kind, match):
    args = dict(image_logits=LINEAR, x=jnp.array([1.0, 0.0, 0.0, 0.0])) | kwargs
    with pytest.raises(kind, match=match):
        B.adversarial_direction(**args)


def test_adversarial_direction_takes_a_target_per_image_or_one_for_all():
    x = jnp.array([[1.0, 0.0, 0.0, 0.0], [1.0, 0.1, 0.0, 0.0]])
    np.testing.assert_allclose(B.adversarial_direction(LINEAR, x, target=1),
                               B.adversarial_direction(LINEAR, x, target=np.array([1, 1])), atol=1e-7)
    with pytest.raises(ValueError, match=r"target: expected a class index of shape \(\) or \(B,\) = \(2,\)"):
        B.adversarial_direction(LINEAR, x, target=np.array([1, 1, 1]))


# ----------------------------------------------------------------------------- argument checks (issue 15)

X2 = jnp.array([[1.0, 0.0, 0.0, 0.0], [-1.0, 0.5, 0.0, 0.0]])
PLANE4 = geomlib.plane(jnp.array([1.0, 0.0, 0.0, 0.0]), jnp.array([0.0, 1.0, 0.0, 0.0]))


@pytest.mark.parametrize("call, error, match", [
    (lambda: B.top_two_classes(None, X2), ValueError, r"^image_logits: expected a callable"),
    (lambda: B.top_two_classes(LINEAR, "abc"), TypeError, r"^x: expected an array of numbers"),
    (lambda: B.top_two_classes(LINEAR, X2 + 1j), TypeError, r"^x: expected real numbers, got complex"),
    (lambda: B.decision_function(LINEAR, 3, 0)(X2[0]), ValueError, r"^i: expected a class index in \[0, K\) = \[0, 3\)"),
    (lambda: B.decision_function(LINEAR, 0, 7)(X2[0]), ValueError, r"^j: expected a class index in \[0, K\)"),
    (lambda: B.boundary_point(LINEAR, X2, None), TypeError, r"^x_far: expected an array of numbers"),
    (lambda: B.boundary_point(LINEAR, X2, X2[::-1], iters=2 ** 31), ValueError, r"^iters: expected an integer in \[1, 1000\]"),
    (lambda: B.boundary_curvatures(LINEAR, X2, k=1, steps=0), ValueError, r"^steps: expected an integer in \[1, 10000\]"),
    (lambda: B.boundary_curvatures(LINEAR, X2, k=1, overshoot=True), ValueError, r"^overshoot: expected a finite number >= 0"),
    (lambda: B.plane_logits(LINEAR, "abc", geomlib.grid(4, 1.0)), TypeError, r"^plane: expected a geomlib.Plane"),
    (lambda: B.plane_logits(LINEAR, PLANE4, geomlib.grid(4, 1.0).at[0, 0, 0].set(jnp.nan)), ValueError,
     r"^coords: expected finite values"),
    (lambda: B.straight_line_walk(LINEAR, X2[0], X2[1], n=2 ** 31), ValueError, r"^n: expected an integer in \[2, 100000\]"),
    (lambda: B.straight_line_walk(LINEAR, X2, X2[::-1], label=np.array([0, 3])), ValueError,
     r"^label: expected non-negative class indices in \[0, K\) = \[0, 3\)"),
    (lambda: B.straight_line_walk(LINEAR, X2, X2[::-1], label=np.array([0.5, 1.0])), TypeError, r"^label: expected integers"),
    (lambda: B.straight_line_walk(LINEAR, X2[0], X2[1], label=np.array([0])), ValueError,
     r"^label: expected a class \(\) for one pair"),
    (lambda: B.same_class_pairs(np.array([-1, -1, 0, 0]), 2), ValueError, r"^labels: expected non-negative class labels"),
    (lambda: B.same_class_pairs(np.array([0, 0, 1, 1]), 2, seed=None), ValueError, r"^seed: expected an integer >= 0"),
    (lambda: B.nearest_other_class(X2, np.array([0.5, 1.5]), 0), TypeError, r"^labels: expected integers"),
    (lambda: B.nearest_other_class(X2.at[1, 0].set(jnp.nan), np.array([0, 1]), 0), ValueError,
     r"^images: expected finite values"),
])
def test_boundary_argument_checks(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_decision_function_class_out_of_range_under_jit_is_nan():
    """Passed into a jitted function (as plane_geometry takes it) the class indices are traced: a
    class >= K gives NaN (documented), a class in range its value."""
    x = jnp.array([1.0, 0.5, -0.2, 0.3])
    run = jax.jit(lambda g, x: g(x))
    assert np.isnan(float(run(B.decision_function(LINEAR, 5, 0), x)))
    z = LINEAR(x)
    assert float(run(B.decision_function(LINEAR, 2, 0), x)) == pytest.approx(float(z[2] - z[0]), abs=1e-6)


def test_plane_logits_rejects_a_plane_built_directly_that_is_not_orthonormal():
    e = np.eye(4, dtype=np.float32)
    skewed = geomlib.Plane(np.zeros(4, np.float32), e[0], (e[0] + e[1]) / np.sqrt(2, dtype=np.float32))
    with pytest.raises(ValueError, match=r"^plane: expected orthonormal u, v, got \|u\| = 1"):
        B.plane_logits(LINEAR, skewed, geomlib.grid(4, 1.0))
    ok = geomlib.Plane(np.zeros(4, np.float32), e[0], e[1])
    assert B.plane_logits(LINEAR, ok, geomlib.grid(4, 1.0)).shape == (4, 4, 3)
