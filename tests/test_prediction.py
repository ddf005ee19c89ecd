"""geomlib._src.defense.prediction: the quadric prediction of the minimal adversarial distance
(closed form against brute force, spheres, cylinders, planes and a measured parabolic boundary)
and robustness to random noise (against the closed forms of a linear classifier)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import geomlib as g


def _brute_1d(r, kappa, n=400_001):
    """min over t of |(t, r - kappa t^2 / 2)| on a fine grid."""
    span = 3 * r + 3 + (np.sqrt(2 * r / kappa) if kappa > 0 else 0)
    t = np.linspace(-span, span, n)
    return np.sqrt(t ** 2 + (r - 0.5 * kappa * t ** 2) ** 2).min()


@pytest.mark.parametrize("r, kappa", [(1.0, 0.5), (1.0, 1.0), (3.0, 0.5), (2.0, 4.0), (1.5, -2.0), (0.7, 0.0),
                                      (5.0, 10.0)])
def test_quadric_distance_is_the_brute_force_minimum(r, kappa):
    got = g.quadric_distance(r, [kappa])
    assert got == pytest.approx(_brute_1d(r, kappa), rel=1e-6, abs=1e-9)


def test_several_curvatures_only_the_largest_positive_counts():
    # the two-curvature paraboloid s = (k1 t1^2 + k2 t2^2) / 2 on a fine 2-D grid
    r, k1, k2 = 3.0, 0.8, 0.3
    t = np.linspace(-4, 4, 2001)
    t1, t2 = np.meshgrid(t, t, indexing="ij")
    brute = np.sqrt(t1 ** 2 + t2 ** 2 + (r - 0.5 * (k1 * t1 ** 2 + k2 * t2 ** 2)) ** 2).min()
    want = np.sqrt(2 * r / k1 - 1 / k1 ** 2)
    assert brute == pytest.approx(want, rel=1e-5)
    for kappa in ([k1, k2], [k2, k1], [k1, -5.0, k2, np.nan]):
        assert g.quadric_distance(r, kappa) == pytest.approx(want, rel=1e-12)


def test_spheres_cylinders_and_planes():
    big_r = 2.0
    # the image inside a ball of radius R (the boundary bends toward it, kappa = 1/R) no
    # deeper than R: the nearest boundary point is the foot of the normal, at distance r
    depth = np.array([0.1, 0.5, 1.0, 1.9, 2.0])
    np.testing.assert_allclose(g.quadric_distance(depth, np.full((5, 3), 1 / big_r)), depth)
    # outside the ball (kappa = -1/R) the distance is r at any distance
    far = np.array([0.1, 1.0, 10.0, 1e3])
    np.testing.assert_allclose(g.quadric_distance(far, np.full((4, 3), -1 / big_r)), far)
    # a cylinder: one curvature 1/R, the rest 0
    np.testing.assert_allclose(g.quadric_distance(depth, np.tile([1 / big_r, 0.0, 0.0], (5, 1))), depth)
    # a plane
    np.testing.assert_allclose(g.quadric_distance(far, np.zeros((4, 2))), far)
    # beyond the focal point the paraboloid and the osculating sphere part: sqrt(2rR - R^2) vs 2R - r
    r = 3.0
    assert g.quadric_distance(r, [1 / big_r]) == pytest.approx(np.sqrt(2 * r * big_r - big_r ** 2))


@settings(max_examples=60, deadline=None)
@given(r=st.floats(0, 50), k1=st.floats(-20, 20), k2=st.floats(-20, 20), scale=st.floats(0.1, 10))
def test_quadric_distance_properties(r, k1, k2, scale):
    d = g.quadric_distance(r, [k1, k2])
    top = max(k1, k2)
    assert 0 <= d <= r * (1 + 1e-12)
    if top <= 0 or r * top <= 1:
        assert d == r
    else:
        assert d >= 1 / top * (1 - 1e-9) and d < r            # d^2 = r^2 - (r - rho)^2 >= rho^2 (2 r rho - rho^2)
    # more curvature toward the image: never farther
    assert g.quadric_distance(r, [top + 1.0]) <= g.quadric_distance(r, [top]) * (1 + 1e-12)
    # lengths scale, curvatures scale inversely
    assert g.quadric_distance(scale * r, [k1 / scale, k2 / scale]) == pytest.approx(scale * d, rel=1e-9, abs=1e-12)


def test_quadric_distance_shapes_and_nan():
    r = np.array([[1.0, 2.0], [3.0, np.nan]])
    kappa = np.zeros((2, 2, 4))
    assert g.quadric_distance(r, kappa).shape == (2, 2)
    assert np.isnan(g.quadric_distance(r, kappa)[1, 1])
    assert np.isnan(g.quadric_distance(1.0, [np.nan, np.nan]))                    # none converged
    assert g.quadric_distance(1.0, [np.nan, 0.5]) == 1.0                          # one did


@pytest.mark.parametrize("r, kappa, name", [(-1.0, [0.1], "r"), ("a", [0.1], "r"), (1.0, 0.5, "kappa"),
                                             (1.0, [np.inf], "kappa"), (np.ones(3), np.ones((2, 1)), "kappa"),
                                             (np.ones(3), np.ones((1, 2)), "r"),
                                             (1.0, None, "kappa"), (1.0, [1j], "kappa")])
def test_quadric_distance_bad_arguments(r, kappa, name):
    with pytest.raises((ValueError, TypeError), match=name):
        g.quadric_distance(r, kappa)


def test_the_measured_curvature_of_a_parabolic_boundary_predicts_its_distance():
    # class 0 where x0 > kappa x1^2 / 2: the image (r, 0, 0, 0) is inside the cup, its DeepFool
    # point the vertex, the boundary bends toward it with curvature +kappa (the sign of
    # boundary_curvatures), and the paraboloid model is the boundary itself
    kappa, r = 1.0, 3.0

    def logits(x):
        s = x[:, 0] - 0.5 * kappa * x[:, 1] ** 2
        return jnp.stack([s, -s], axis=1)

    bc = g.boundary_curvatures(logits, jnp.array([[r, 0.0, 0.0, 0.0]]), k=2, iterations=3)
    assert float(bc.distance[0]) == pytest.approx(r, rel=1e-4)
    np.testing.assert_allclose(np.sort(np.asarray(bc.curvatures[0])), [0.0, kappa], atol=1e-4)
    got = g.quadric_distance(np.asarray(bc.distance), np.asarray(bc.curvatures))[0]
    assert got == pytest.approx(_brute_1d(r, kappa), rel=1e-4)
    assert got < r - 0.1


def test_prediction_test():
    rng = np.random.default_rng(0)
    r = rng.uniform(0.5, 3, 40)
    kappa = rng.uniform(-1, 2, (40, 3))
    exact = g.quadric_distance(r, kappa)
    res = g.prediction_test(r, kappa, exact)
    assert res.r2 == pytest.approx(1.0) and res.r2_flat < 1 and res.n_images == 40 and res.n_dropped == 0
    assert res.n_curved == int(np.sum(exact < r)) > 0
    # a flat family: the two predictions are one; dropped rows counted
    found = r * rng.uniform(0.8, 1.2, 40)
    found[:3] = [np.inf, 0.0, np.nan]
    flat = g.prediction_test(r, -np.abs(kappa), found)
    assert flat.r2 == flat.r2_flat and flat.n_images == 37 and flat.n_dropped == 3 and flat.n_curved == 0
    lf = np.log(found[3:])
    want = 1 - np.sum((lf - np.log(r[3:])) ** 2) / np.sum((lf - lf.mean()) ** 2)
    assert flat.r2 == pytest.approx(want)
    for kw, name in [(dict(found=-r), "found"), (dict(found=r[:5]), "found"), (dict(kappa=kappa[:, 0]), "kappa"),
                     (dict(r=r[:, None]), "r")]:
        with pytest.raises(ValueError, match=name):
            g.prediction_test(**{**dict(r=r, kappa=kappa, found=exact), **kw})


# ----------------------------------------------------------------------------- random noise on a linear classifier

D = 20
W = np.random.default_rng(1).normal(size=D)
B0 = 0.3


def _linear(x):
    s = x @ jnp.asarray(W, x.dtype) + B0
    return jnp.stack([-s, s], axis=1)         # class 0 where w.x + b < 0


def _images(margins):
    """Images of class 0 at L2 distance ``margins`` from the hyperplane w.x + b = 0."""
    base = np.random.default_rng(2).normal(size=(len(margins), D))
    w = W / np.linalg.norm(W)
    base -= ((base @ W + B0) / np.linalg.norm(W))[:, None] * w            # onto the plane
    return (base - np.asarray(margins)[:, None] * w).astype(np.float32)


def _cos2_sf(c2):
    return stats.beta.sf(c2, 0.5, (D - 1) / 2)


def test_noise_robustness_of_a_linear_classifier_is_the_closed_form():
    m = 1.0
    x = _images([m])
    radii = np.array([0.5, 1.0, 1.5, 3.0, 10.0])
    n = 4000
    frac = np.asarray(g.noise_robustness(_linear, x, np.array([0]), radii, n_directions=n, key=jax.random.key(0)))
    want = 1 - 0.5 * _cos2_sf(np.minimum(1.0, (m / radii) ** 2))
    assert frac.shape == (1, 5)
    np.testing.assert_allclose(frac[0], want, atol=4 * np.sqrt(0.25 / n))
    assert frac[0, 0] == 1.0 and frac[0, 1] == 1.0


def test_noise_distance_of_a_linear_classifier_per_direction_and_fawzi_ratio():
    margins = np.array([0.5, 2.0])
    x = _images(margins)
    n, key, cap = 1500, jax.random.key(3), 60.0
    res = g.noise_distance(_linear, x, np.array([0, 0]), n_directions=n, key=key, max_radius=cap)
    assert res.distances.shape == (2, n) and res.median.shape == (2,)
    # per direction: |w.x + b| / |w.v| (directions drawn as the docstring states), inf beyond the cap
    for b, k in enumerate(jax.random.split(key, 2)):
        v = np.asarray(jax.random.normal(k, (n, D), jnp.float32), np.float64)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        want = np.abs(x[b] @ W + B0) / np.abs(v @ W)
        want = np.where(want <= cap, want, np.inf)
        got = np.asarray(res.distances[b], np.float64)
        sure = np.abs(want - cap) > 1e-3 * cap
        np.testing.assert_allclose(got[sure], want[sure], rtol=1e-4)
        # Fawzi et al.: ratio to the adversarial distance is 1 / |cos|, cos^2 ~ Beta(1/2, (D - 1)/2)
        ratio = got / margins[b]
        finite = ratio[np.isfinite(ratio)]
        cdf = lambda s: _cos2_sf(1 / np.asarray(s) ** 2) / _cos2_sf((margins[b] / cap) ** 2)  # noqa: E731
        assert stats.kstest(finite, cdf).pvalue > 1e-3
    median_ratio = 1 / np.sqrt(stats.beta.ppf(0.5, 0.5, (D - 1) / 2))       # ~ sqrt(D) / 0.674
    np.testing.assert_allclose(np.asarray(res.median) / margins, median_ratio, rtol=0.08)
    # an image classified otherwise is at distance 0
    wrong = g.noise_distance(_linear, x, np.array([1, 0]), n_directions=4, key=key, max_radius=cap)
    assert np.all(np.asarray(wrong.distances[0]) == 0)


@pytest.mark.parametrize("kw, name", [(dict(radii=[-1.0]), "radii"), (dict(radii=[]), "radii"),
                                      (dict(n_directions=0), "n_directions"), (dict(key=None), "key"),
                                      (dict(key="abc"), "key"), (dict(y=[5]), "y"), (dict(x=np.ones(D)), "x"),
                                      (dict(logits_fn="abc"), "logits_fn")])
def test_noise_bad_arguments(kw, name):
    base = dict(logits_fn=_linear, x=_images([1.0]), y=[0], radii=[1.0], n_directions=3, key=jax.random.key(0))
    with pytest.raises((ValueError, TypeError), match=name):
        g.noise_robustness(**{**base, **kw})


@pytest.mark.parametrize("kw, name", [(dict(max_radius=0.0), "max_radius"), (dict(max_radius=np.inf), "max_radius"),
                                      (dict(grid=0), "grid"), (dict(iters=100), "iters")])
def test_noise_distance_bad_arguments(kw, name):
    base = dict(logits_fn=_linear, x=_images([1.0]), y=[0], n_directions=3, key=jax.random.key(0), max_radius=5.0)
    with pytest.raises(ValueError, match=name):
        g.noise_distance(**{**base, **kw})
