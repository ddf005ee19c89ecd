"""Tests of geomlib._src.defense: curvature and robustness of classifiers side by side.

Closed forms wherever they exist:

* a linear classifier ``bind_classifier({"layers": [{"w": W, "b": b}]})`` (logits W x + b):
  the DeepFool distance is the distance to the nearest pairwise boundary,
  ``min_j |z_i - z_j| / |w_i - w_j|``; every curvature and bend is 0; the DeepFool
  perturbation is along ``w_j - w_i`` (so its template cosine is a cosine of numpy vectors);
* binary, logits ``[0, w.x + b]``: a sign step of the targeted attack raises the margin by
  ``alpha |w|_1`` (steps counted in numpy), L-inf PGD of radius eps lowers it by ``eps |w|_1``;
* a quadratic boundary (3 classes; class 1 beyond ``w.s + c |P s|^2 = beta``, s = x - x0, P
  a projection orthogonal to w): at the DeepFool point the principal curvatures are 2c
  along range(P) (positive: the label's region is convex there), and in the plane spanned
  by u = w and a unit v the decision contour is exactly ``a = 1 - c r |P v|^2 b^2`` in units
  of r, i.e. ``c2 = -r kappa_v / 2``.

Speed: every measured model has (B, D) = (3, 16); measurements are module-scoped fixtures
shared by several tests, and the zero-gradient model has the shape of the 3-class linear
one, so the jitted kernels compile once per model structure.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.tree_util import Partial
from scipy.stats import spearmanr

import geomlib
from geomlib._src import defense as d
from test_training_data import write_cifar

DIM, BATCH = 16, 3
ROOT = Path(__file__).resolve().parents[1]


def _f32(a):
    return np.asarray(a, np.float32)


def _linear(w, b, **kw):
    return geomlib.bind_classifier({"layers": [{"w": jnp.asarray(_f32(w)), "b": jnp.asarray(_f32(b))}]}, **kw)


# ----------------------------------------------------------------------------- models and their measures


def linear_case():
    """3-class linear classifier, 3 interior images (labels 2, 1, 1), targets, class means."""
    rng = np.random.default_rng(3)
    w = _f32(rng.normal(size=(3, DIM)))
    x = _f32(0.5 + rng.uniform(-0.2, 0.2, size=(BATCH, DIM)))
    b = _f32(rng.normal(size=3))
    y = np.argmax(x @ w.T + b, axis=1).astype(np.int32)
    target = ((y + 1) % 3).astype(np.int32)
    means = _f32(rng.uniform(size=(3, DIM)))
    return w, b, x, y, target, means


MEASURE = dict(eps=(0.0, 0.05, 0.2), msd_steps=400)


@pytest.fixture(scope="module")
def linear3():
    w, b, x, y, target, means = linear_case()
    f = _linear(w, b)
    m = geomlib.measure_classifier(f, f, x, y, target, means, survey=(3, 2, 1), devices=[jax.devices()[0]], **MEASURE)
    return (w, b, x, y, target, means), m


def binary_case():
    """Logits [0, w.x + b] (bound as a 2-class linear layer), 3 images at margins -0.2, -1, -2.5."""
    rng = np.random.default_rng(0)
    s = rng.choice([-1.0, 1.0], size=DIM)
    w = _f32(s * rng.uniform(0.5, 1.5, size=DIM))
    b = np.float32(-0.5 * w.sum() - 1.0)
    x = 0.5 + rng.uniform(-0.03, 0.03, size=(BATCH, DIM))
    margin = np.array([-0.2, -1.0, -2.5])
    x = _f32(x + np.outer((margin - (x @ w + b)) / np.abs(w).sum(), np.sign(w)))
    return w, b, x


@pytest.fixture(scope="module")
def binary():
    w, b, x = binary_case()
    f = _linear(np.stack([np.zeros(DIM), w]), [0.0, b])
    means = _f32(np.stack([np.zeros(DIM), 0.5 + 0.1 * np.arange(DIM)]))
    y, target = np.zeros(BATCH, np.int32), np.ones(BATCH, np.int32)
    m = geomlib.measure_classifier(f, f, x, y, target, means, survey=None, eps=(0.02, 0.1), msd_step=0.005)
    return (w, b, x, means), m


def bowl(w, w2, p, c, x0, beta, x):
    """Logits (0, w.s + c |P s|^2 - beta, w2.s - 2 beta), s = x - x0, P = p p^T (p orthonormal,
    orthogonal to w): a quadratic boundary between classes 0 and 1, flat for c = 0; class 2
    (w2 in range(P)) is twice as far and gives the comparison plane its direction."""
    s = x - x0
    z1 = s @ w + c * jnp.sum((s @ p) ** 2, axis=-1) - beta
    z2 = s @ w2 - 2 * beta
    return jnp.stack([jnp.zeros_like(z1), z1, z2], axis=-1)


BETA = 0.2
CURVATURES = (-1.0, 0.0, 0.5, 1.0, 2.0)


def bowl_case():
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(DIM, DIM)))
    q = _f32(q)
    w, p, w2 = q[:, 0], q[:, 1:5], q[:, 1]
    x0 = np.full(DIM, 0.5, np.float32)
    # along w (distance to the boundary BETA - t) plus offsets in directions the logits ignore
    t = np.array([0.0, -0.05, 0.05])
    x = _f32(x0 + np.outer(t, w) + 0.1 * q[:, 8:11].T)
    return w, w2, p, x0, x, BETA - t


@pytest.fixture(scope="module")
def bowls():
    w, w2, p, x0, x, r = bowl_case()
    y, target = np.zeros(BATCH, np.int32), np.array([1, 2, 1], np.int32)
    means = _f32(np.random.default_rng(2).uniform(size=(3, DIM)))
    out = {}
    for c in CURVATURES:
        f = Partial(bowl, *map(jnp.asarray, (w, w2, p, np.float32(c), x0, np.float32(BETA))))
        out[c] = geomlib.measure_classifier(f, f, x, y, target, means, survey=None, eps=(0.05,), msd_steps=50)
    return r, out


# ----------------------------------------------------------------------------- closed forms: linear


def test_linear_deepfool_distance_is_the_nearest_pairwise_boundary(linear3):
    (w, b, x, y, _, _), m = linear3
    w64, z = w.astype(np.float64), x.astype(np.float64) @ w.T.astype(np.float64) + b
    dist = np.array([[abs(z[n, y[n]] - z[n, j]) / np.linalg.norm(w64[y[n]] - w64[j]) if j != y[n] else np.inf
                      for j in range(3)] for n in range(BATCH)])
    assert len(set(y.tolist())) > 1  # the images are not all of one class
    np.testing.assert_allclose(m.deepfool_distance, dist.min(axis=1), rtol=1e-5)
    np.testing.assert_array_equal(m.deepfool_class, dist.argmin(axis=1))
    np.testing.assert_allclose(m.boundary_distance, dist.min(axis=1), rtol=1e-5)


def test_linear_curvatures_and_bends_are_zero(linear3):
    _, m = linear3
    assert m.boundary_curvature.shape == (BATCH, 3) and m.logit_bend.shape == (BATCH, 2)
    np.testing.assert_allclose(m.boundary_curvature, 0.0, atol=1e-5)
    np.testing.assert_allclose(m.logit_bend, 0.0, atol=1e-5)  # both planes, to rounding
    # first-layer survey of the 3 ReLU units relu(w_k . x): straight contours
    assert m.first_layer_bend.shape == (3, 3) and m.first_layer_kind.tolist() == ["comparison"] * 2 + ["random"]
    np.testing.assert_allclose(m.first_layer_bend, 0.0, atol=1e-5)


def test_linear_template_and_pgd(linear3):
    (w, _, _, y, _, means), m = linear3
    j = m.deepfool_class
    dw, dm = w[j] - w[y], means[j] - means[y]  # the DeepFool step of a linear model is along w_j - w_i
    cos = np.sum(dw * dm, axis=1) / (np.linalg.norm(dw, axis=1) * np.linalg.norm(dm, axis=1))
    np.testing.assert_allclose(m.template_deepfool, cos, atol=1e-4)
    assert m.pgd_correct.shape == (3, BATCH) and m.pgd_correct.dtype == bool
    assert m.pgd_correct[0].all()  # eps 0: the images themselves
    np.testing.assert_array_equal(m.eps, MEASURE["eps"])
    assert set(m.seconds) >= {"deepfool", "logit bend", "msd", "pgd", "boundary curvature", "first-layer survey"}


def test_binary_closed_forms(binary):
    """DeepFool distance |m| / |w|, MSD of the sign attack by counted steps, PGD by eps |w|_1."""
    (w, b, x, means), m = binary
    w64 = w.astype(np.float64)
    margin = x.astype(np.float64) @ w64 + b
    np.testing.assert_allclose(margin, [-0.2, -1.0, -2.5], atol=1e-5)
    np.testing.assert_allclose(m.deepfool_distance, -margin / np.linalg.norm(w64), rtol=1e-5)
    assert np.all(m.deepfool_class == 1)
    # sign attack (msd_at_confidence's doctest logic): n steps of alpha sign(w) raise the margin
    # by n alpha |w|_1; p_1 = sigmoid(margin) first reaches 0.9 at n = ceil((logit(0.9) - m) / (alpha |w|_1))
    steps = (math.log(0.9 / 0.1) - margin) / (0.005 * np.abs(w64).sum())
    assert np.all(np.abs(steps - np.round(steps)) > 0.05)  # no step lands on the threshold to rounding
    n = np.ceil(steps)
    assert np.all(x - n[:, None] * 0.005 > 0) and np.all(x + n[:, None] * 0.005 < 1)  # clipping never active
    assert m.msd_reached.all()
    np.testing.assert_allclose(m.msd, (n * 0.005) ** 2, rtol=1e-4)  # (1/D) |n alpha sign(w)|^2
    cos_msd = np.sign(w64) @ (means[1] - means[0]) / (np.sqrt(DIM) * np.linalg.norm(means[1] - means[0]))
    np.testing.assert_allclose(m.template_msd, cos_msd, atol=1e-5)
    np.testing.assert_allclose(m.template_deepfool, w64 @ (means[1] - means[0]) / (
        np.linalg.norm(w64) * np.linalg.norm(means[1] - means[0])), atol=1e-5)
    # L-inf PGD at eps (10 steps of 2.5 eps / 10: at the corner of the box after 4) lowers the margin by eps |w|_1
    expected = np.stack([margin + e * np.abs(w64).sum() < 0 for e in (0.02, 0.1)])
    assert expected.any() and not expected.all()
    np.testing.assert_array_equal(m.pgd_correct, expected)
    np.testing.assert_allclose(m.boundary_curvature, 0.0, atol=1e-5)
    # two classes: no comparison plane (NaN), the random plane is flat
    assert np.isnan(m.logit_bend[:, 0]).all()
    np.testing.assert_allclose(m.logit_bend[:, 1], 0.0, atol=1e-5)


# ----------------------------------------------------------------------------- quadratic boundary: size and sign


def test_quadratic_boundary_curvature_and_logit_bend(bowls):
    r, results = bowls
    for c, m in results.items():
        np.testing.assert_allclose(m.deepfool_distance, r, rtol=1e-5)
        np.testing.assert_array_equal(m.deepfool_class, 1)
        # principal curvatures: 2c along range(P) (4 of them), in boundary_curvatures' sign convention
        np.testing.assert_allclose(m.boundary_curvature, 2 * c, atol=1e-4)
        # the docstring's relation, sign and size: c2 = -r kappa_v / 2, kappa_v = 2c along v = w2 in range(P)
        np.testing.assert_allclose(m.logit_bend[:, 0], -r * m.boundary_curvature[:, 0] / 2, rtol=1e-2, atol=1e-5)
        np.testing.assert_allclose(m.logit_bend[:, 0], -r * c, rtol=1e-2, atol=1e-5)
    # positive c2 (exo-origin, bends away from the image) where kappa < 0, and vice versa
    assert np.all(results[-1.0].logit_bend > 0) and np.all(results[2.0].logit_bend < 0)
    # random planes: the same v for every c, kappa_v = 2c |P v|^2 with 0 < |P v|^2 < 1
    ratio = np.stack([results[c].logit_bend[:, 1] / results[c].logit_bend[:, 0] for c in CURVATURES if c])
    assert np.all(ratio > 0) and np.all(ratio < 1)
    np.testing.assert_allclose(ratio, ratio[:1].repeat(len(ratio), 0), rtol=2e-2)


def test_less_curved_by_construction_scores_lower(bowls):
    _, results = bowls
    flat_to_curved = {c: results[c] for c in CURVATURES if c >= 0}
    summary = geomlib.comparison_summary(flat_to_curved, ["boundary_curvature", "r_kappa", "logit_bend",
                                                          "logit_bend_random"])
    for stat, values in summary.items():
        v = np.abs(list(values.values()))
        assert v[0] < 1e-5 and np.all(np.diff(v) > 0), (stat, v)
    rc = geomlib.rank_correlation(flat_to_curved, "boundary_curvature", "logit_bend", n_boot=20)
    assert rc.rho == pytest.approx(-1.0) and rc.low == pytest.approx(-1.0) and rc.high == pytest.approx(-1.0)


# ----------------------------------------------------------------------------- undefined geometry, bad input


def test_nan_where_deepfool_cannot_move(linear3):
    """A constant logit difference: no gradient, no boundary; NaN, never a silent number."""
    (_, _, x, _, _, means), _ = linear3
    f = _linear(np.zeros((3, DIM)), [1.0, 0.0, -1.0])
    y, target = np.zeros(BATCH, np.int32), np.ones(BATCH, np.int32)
    m = geomlib.measure_classifier(f, f, x, y, target, means, survey=None, **MEASURE)
    assert np.all(m.deepfool_class == 0)
    for field in ("deepfool_distance", "boundary_distance", "boundary_curvature", "logit_bend", "msd",
                  "template_deepfool", "template_msd"):
        assert np.isnan(getattr(m, field)).all(), field
    assert not m.msd_reached.any() and m.pgd_correct.all()
    assert m.first_layer_bend.shape == (0, 0)
    assert np.isnan(geomlib.comparison_summary({"flat": m}, ["deepfool_distance"])["deepfool_distance"]["flat"])


def test_measure_empty_eps(linear3):
    (w, b, x, y, target, means), _ = linear3
    f = _linear(w, b)
    m = geomlib.measure_classifier(f, None, x, y, target, means, survey=None, eps=(), msd_steps=1)
    assert m.pgd_correct.shape == (0, BATCH) and m.eps.shape == (0,)
    assert np.isnan(m.boundary_curvature).all() and m.boundary_curvature.shape == (BATCH, 3)


def _bad(case):
    w, b, x, y, target, means = linear_case()
    kw = dict(x=x, y=y, target=target, means=means)
    other = dict(x1=np.where(np.arange(DIM) < 2, np.nan, x), wrong=(y + 1) % 3)
    edits = {
        "1-D x": dict(x=x[0]),
        "wrong D": dict(x=x[:, :-1]),
        "outside [0, 1]": dict(x=x + 1.0),
        "non-finite": dict(x=other["x1"]),
        "y shape": dict(y=y[:2]),
        "y float": dict(y=y.astype(float)),
        "target == label": dict(target=y),
        "wrong images": dict(y=other["wrong"], target=(other["wrong"] + 1) % 3),
        "means shape": dict(means=means[:2]),
        "eps < 0": dict(eps=(0.1, -0.05)),
        "eps nan": dict(eps=(float("nan"),)),
        "no devices": dict(devices=[]),
    }
    kw.update(edits[case])
    extra = {k: kw.pop(k) for k in ("eps", "devices") if k in kw}
    return _linear(w, b), kw, extra


@pytest.mark.parametrize("case, match", [
    ("1-D x", r"x: expected a batch of flattened images of shape \(B, D\), got shape \(16,\)"),
    ("wrong D", r"x: expected .* D = 16, got shape \(3, 15\)"),
    ("outside [0, 1]", r"x: expected pixel values in \[0, 1\]"),
    ("non-finite", r"x: expected finite entries, got 6 non-finite"),
    ("y shape", r"y: expected integer labels of shape \(B,\) = \(3,\), got shape \(2,\)"),
    ("y float", r"y: expected integer labels, got dtype float"),
    ("target == label", r"target: expected a class other than the label"),
    ("wrong images", r"x, y: expected images the classifier gets right \(y its predictions\); wrong at rows \[0, 1, 2\]"),
    ("means shape", r"means: expected class means of shape \(K, D\) = \(3, 16\), got \(2, 16\)"),
    ("eps < 0", r"eps: expected finite radii >= 0, got \[0.1, -0.05\]"),
    ("eps nan", r"eps: expected finite values, got 1 NaN or infinite entry"),
    ("no devices", r"devices: expected at least one device"),
])
def test_measure_classifier_bad_input(case, match):
    f, kw, extra = _bad(case)
    with pytest.raises(ValueError, match=match):
        geomlib.measure_classifier(f, f, kw["x"], kw["y"], kw["target"], kw["means"], survey=None, **extra)


@pytest.mark.parametrize("change, error, match", [
    (dict(survey=(2, 1)), ValueError, r"survey: expected \(neurons, comparison planes, random planes\), three integers"),
    (dict(survey=(0, 1, 1)), ValueError, r"survey\[0\] \(neurons\): expected an integer >= 1, got 0"),
    (dict(survey=(2, 0, 0)), ValueError, r"survey: expected at least one plane"),
    (dict(survey="abc"), ValueError, "survey: expected"),
    (dict(pgd_steps=0), ValueError, r"pgd_steps: expected an integer in \[1, 2147483647\], got 0"),
    (dict(pgd_steps=True), ValueError, "pgd_steps: expected an integer .* got True"),
    (dict(pgd_steps=2 ** 31), ValueError, "pgd_steps: expected an integer"),
    (dict(msd_steps=2.5), ValueError, "msd_steps: expected an integer"),
    (dict(lanczos_iterations=0), ValueError, "lanczos_iterations: expected an integer"),
    (dict(k=0), ValueError, "k: expected an integer >= 1, got 0"),
    (dict(k=17), ValueError, r"k: expected an integer in \[1, D = 16\], got 17"),
    (dict(msd_step=0.0), ValueError, r"msd_step: expected a finite number > 0, got 0.0"),
    (dict(msd_step=float("nan")), ValueError, "msd_step: expected a finite number"),
    (dict(curvature_tol=-1.0), ValueError, "curvature_tol: expected a finite number > 0"),
    (dict(confidence=1.0), ValueError, r"confidence: expected a finite number in \(0, 1\)"),
    (dict(confidence="0.9"), ValueError, "confidence: expected a finite number"),
    (dict(eps=None), TypeError, "eps: expected an array of numbers, got NoneType"),
    (dict(eps="0.1"), TypeError, "eps: expected an array of numbers, got str"),
    (dict(eps=True), TypeError, "eps: expected an array of numbers, got bool"),
    (dict(eps=[[0.1]]), ValueError, r"eps: expected a radius or a sequence of radii, got shape \(1, 1\)"),
    (dict(key=True), TypeError, "key: expected an integer seed"),
    (dict(key=-1), ValueError, r"key: expected an integer in \[0, 4294967295\], got -1"),
    (dict(key="0"), TypeError, "key: expected an integer seed"),
    (dict(smooth_fn="abc"), ValueError, "smooth_fn: expected a callable"),
    (dict(progress="yes"), TypeError, "progress: expected a callable"),
    (dict(means=None), TypeError, "means: expected an array of numbers, got NoneType"),
    (dict(means=np.where(np.eye(3, DIM) > 0, np.nan, 0.5)), ValueError,
     r"means: expected finite class means .* rows \[0, 1, 2\]"),
])
def test_measure_classifier_bad_settings(change, error, match):
    """Every setting checked, naming the argument, before anything is measured."""
    w, b, x, y, target, means = linear_case()
    f = _linear(w, b)
    kw = {"smooth_fn": f, "means": means, "survey": None, **change}
    smooth, means = kw.pop("smooth_fn"), kw.pop("means")
    with pytest.raises(error, match=match):
        geomlib.measure_classifier(f, smooth, x, y, target, means, **kw)


def test_compare_and_mnist_comparison_bad_input(linear3):
    (w, b, x, y, target, means), m = linear3
    f = _linear(w, b)
    with pytest.raises(ValueError, match="models: expected a non-empty dict"):
        geomlib.compare_classifiers({}, x, y, target, means, progress=False)
    with pytest.raises(ValueError, match=r"models\['a'\]: expected a \(logits_fn, smooth_fn\) pair"):
        geomlib.compare_classifiers({"a": f}, x, y, target, means, progress=False)
    with pytest.raises(TypeError, match="progress: expected True or False"):
        geomlib.compare_classifiers({"a": (f, f)}, x, y, target, means, progress="no")
    with pytest.raises(ValueError, match=r"done\['a'\]: measured on other images"):
        geomlib.compare_classifiers({"a": (f, f)}, x, y, (target + 1) % 3, means, progress=False, done={"a": m},
                                    eps=MEASURE["eps"])
    with pytest.raises(ValueError, match=r"done\['a'\]: measured at eps \[0.0, 0.05, 0.2\], this call has \[0.1\]"):
        geomlib.compare_classifiers({"a": (f, f)}, x, y, target, means, progress=False, done={"a": m}, eps=(0.1,))
    for models, match in [("linear", "models: expected a non-empty list or tuple"), ((), "models: expected"),
                          (("linear", "linear"), "models: expected distinct names")]:
        with pytest.raises(ValueError, match=match):
            geomlib.mnist_comparison(models, 2, progress=False)
    with pytest.raises(ValueError, match="temperature: expected a finite number > 0"):
        geomlib.mnist_comparison(("linear",), 2, temperature=0.0, progress=False)
    with pytest.raises(ValueError, match="n_images: expected an integer >= 1, got 0"):
        geomlib.mnist_comparison(("linear",), 0, progress=False)
    with pytest.raises(ValueError, match=r"done: expected \(results, metadata\)"):
        geomlib.mnist_comparison(("linear",), 2, progress=False, done={"linear": m})


def test_compare_classifiers_reuses_done_models(linear3):
    """Models in ``done`` are returned as they are (not measured); the rest are measured and
    passed to on_model with the done ones, in the order of ``models``."""
    (w, b, x, y, target, means), m = linear3
    f = _linear(w, b)
    seen = []
    out = geomlib.compare_classifiers({"a": (f, f), "b": (f, None)}, x, y, target, means, progress=False,
                                      done={"a": m, "zzz": m}, on_model=lambda r: seen.append(list(r)),
                                      survey=None, devices=[jax.devices()[0]], **MEASURE)
    assert list(out) == ["a", "b"] and out["a"] is m and seen == [["a", "b"]]
    np.testing.assert_array_equal(out["b"].deepfool_distance, m.deepfool_distance)


def test_decision_contour_bend_and_first_layer_survey_bad_input():
    f = _linear(np.eye(3, DIM), np.zeros(3))
    x = np.full((2, DIM), 0.5, np.float32)
    with pytest.raises(ValueError, match=r"x, boundary: expected two arrays of one shape \(B, D\)"):
        geomlib.decision_contour_bend(f, x, x[:1], [0, 0], [1, 1])
    with pytest.raises(ValueError, match="logits_fn: expected a classifier from geomlib.load_classifier"):
        d.first_layer_survey(Partial(bowl, *[jnp.zeros(1)] * 6))


def test_first_layer_survey_of_an_lca_front_end():
    """The LCA neurons with the classifier's own lam, eta and LCA steps."""
    rng = np.random.default_rng(4)
    phi = rng.normal(size=(DIM, 6))
    phi = _f32(phi / np.linalg.norm(phi, axis=0))
    params = {"lca": {"phi": jnp.asarray(phi), "lam": jnp.float32(0.1), "eta": jnp.float32(0.2)},
              "layers": [{"w": jnp.asarray(_f32(rng.normal(size=(3, 6)))), "b": jnp.zeros(3)}]}
    sv = d.first_layer_survey(geomlib.bind_classifier(params, lca_steps=12), 2, 1, 1, key=5, progress=False)
    ref = geomlib.run_survey({"phi": phi}, "lca", 2, 1, 1, 5, lam=0.1, steps=12, eta=0.2, progress=False)
    assert np.asarray(sv.c2).shape == (2, 2) and np.isfinite(np.asarray(sv.c2)).all()
    np.testing.assert_allclose(sv.c2, ref.c2, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(sv.kind, ref.kind)


# ----------------------------------------------------------------------------- summaries and rank correlation


def fake(dist, kappa=None, bend=None, msd=None, first=(0.0,), eps=(0.1,), correct=None):
    """ClassifierMeasures built by hand: per-image distances ``dist`` (B,), curvatures (B, k),
    bends (B, 2), MSD (B,), first-layer bends, PGD correctness (E, B)."""
    dist = np.asarray(dist, float)
    n = len(dist)
    kappa = np.zeros((n, 2)) if kappa is None else np.asarray(kappa, float)
    bend = np.zeros((n, 2)) if bend is None else np.asarray(bend, float)
    msd = dist**2 if msd is None else np.asarray(msd, float)
    correct = np.ones((len(eps), n), bool) if correct is None else np.asarray(correct, bool)
    return d.ClassifierMeasures(
        label=np.zeros(n, np.int64), target=np.ones(n, np.int64), deepfool_class=np.ones(n, np.int64),
        deepfool_distance=dist, boundary_distance=dist, boundary_curvature=kappa, logit_bend=bend, msd=msd,
        msd_reached=np.isfinite(msd), pgd_correct=correct, template_deepfool=dist / 10, template_msd=-dist / 10,
        first_layer_bend=np.asarray(first, float).reshape(1, -1), first_layer_kind=np.array(["comparison"] * len(first)),
        eps=np.asarray(eps, float), seconds={"deepfool": 0.5})


def test_comparison_summary_statistics():
    kappa = [[0.5, -2.0], [np.nan, 1.0], [-3.0, 0.1], [0.2, 0.2]]
    bend = [[0.1, -0.01], [0.3, 0.02], [np.nan, 0.03], [-0.2, 0.04]]
    m = fake([1.0, 2.0, np.nan, 4.0], kappa, bend, msd=[0.1, np.nan, 0.3, 0.5], first=[0.2, -0.1, 0.5],
             eps=(0.05, 0.1), correct=[[1, 1, 1, 0], [0, 1, 0, 0]])
    s = geomlib.comparison_summary({"a": m})
    assert list(s) == [*d.STATISTICS, "pgd@0.05", "pgd@0.1"]
    one = {k: v["a"] for k, v in s.items()}
    assert one["deepfool_distance"] == pytest.approx(2.0)  # median, NaN ignored
    assert one["msd"] == pytest.approx(0.3)  # mean, NaN ignored
    assert one["boundary_curvature"] == pytest.approx(np.median([2.0, 1.0, 3.0, 0.2]))  # largest |kappa|
    assert one["r_kappa"] == pytest.approx(np.median([2.0, 2.0, 0.8]))  # times boundary_distance
    assert one["logit_bend"] == pytest.approx(0.1) and one["logit_bend_random"] == pytest.approx(0.025)
    assert one["first_layer_bend"] == pytest.approx(0.2)
    assert one["template_deepfool"] == pytest.approx(0.2) and one["template_msd"] == pytest.approx(-0.2)
    assert one["pgd@0.05"] == pytest.approx(0.75) and one["pgd@0.1"] == pytest.approx(0.25)
    assert geomlib.comparison_summary({"a": m}, ["msd"]) == {"msd": {"a": pytest.approx(0.3)}}
    with pytest.raises(ValueError, match=r"statistic 'pgd@0.3': eps 0.3 was not measured"):
        geomlib.comparison_summary({"a": m}, ["pgd@0.3"])
    with pytest.raises(ValueError, match=r"statistics: expected one of .* or 'pgd@EPS', got 'speed'"):
        geomlib.comparison_summary({"a": m}, ["speed"])
    with pytest.raises(ValueError, match=r"statistics: expected a list of statistic names or None, got 'msd'"):
        geomlib.comparison_summary({"a": m}, "msd")
    for bad in (None, {}, {"a": "abc"}):
        with pytest.raises(ValueError, match="results: expected"):
            geomlib.comparison_summary(bad)


def _family(n=12, spread=10.0, seed=0):
    """4 models, model k: distances k + u_n (u shared by the models), MSD their squares, one
    curvature 100 - (k + u_n) per image: every paired resample keeps the order of the models."""
    u = np.random.default_rng(seed).uniform(0, spread, n)
    return {f"m{k}": fake(k + u, kappa=np.stack([100 - k - u, np.zeros(n)], axis=1)) for k in range(4)}


def test_rank_correlation_monotone_and_reversed():
    results = _family()
    rc = geomlib.rank_correlation(results, "deepfool_distance", "msd", n_boot=50, seed=1)  # msd = distance^2
    assert rc.rho == pytest.approx(1.0) and rc.n_models == 4 and rc.level == 0.95
    assert -1 <= rc.low <= rc.rho <= rc.high <= 1 and rc.samples.shape == (50,)
    # largest |kappa| = 100 - distance: reversed
    rc = geomlib.rank_correlation(results, "boundary_curvature", "deepfool_distance", n_boot=50, seed=1)
    assert rc.rho == pytest.approx(-1.0) and rc.low == pytest.approx(-1.0) and rc.high == pytest.approx(-1.0)


def test_rank_correlation_bootstrap_is_paired_and_seeded():
    results = _family(n=12, spread=10.0)  # model offsets 1 apart, per-image spread 10
    rc = geomlib.rank_correlation(results, "deepfool_distance", "msd", n_boot=200, seed=3)
    # paired: every resample keeps the order of the 4 models, so every sample is exactly 1 ...
    np.testing.assert_allclose(rc.samples, 1.0)
    # ... while resampling each model on its own would often reorder their medians
    rng = np.random.default_rng(3)
    unpaired = [spearmanr(np.arange(4), [np.median(m.deepfool_distance[rng.integers(0, 12, 12)])
                                         for m in results.values()])[0] for _ in range(200)]
    assert np.mean(np.asarray(unpaired) < 1) > 0.5
    # seeded: the same seed gives the same samples, another seed others (on a case that varies)
    noisy = {k: v._replace(msd=v.msd * np.random.default_rng(i).uniform(0.5, 2, 12))
             for i, (k, v) in enumerate(results.items())}
    a, b = (geomlib.rank_correlation(noisy, "deepfool_distance", "msd", n_boot=100, seed=s) for s in (7, 7))
    np.testing.assert_array_equal(a.samples, b.samples)
    assert (a.rho, a.low, a.high) == (b.rho, b.low, b.high)
    c = geomlib.rank_correlation(noisy, "deepfool_distance", "msd", n_boot=100, seed=8)
    assert not np.array_equal(a.samples, c.samples, equal_nan=True)


def test_rank_correlation_ties_rounding_noise_at_zero():
    bends = [1e-8, -3e-7, 0.5, 0.9]  # the first two: straight contours to rounding
    results = {f"m{k}": fake(np.full(5, k + 1.0), bend=np.tile([b, 0.0], (5, 1))) for k, b in enumerate(bends)}
    rc = geomlib.rank_correlation(results, "logit_bend", "deepfool_distance", n_boot=10)
    assert rc.rho == pytest.approx(spearmanr([0, 0, 0.5, 0.9], [1, 2, 3, 4])[0])  # ranks 1.5, 1.5, 3, 4
    assert rc.rho != pytest.approx(spearmanr(bends, [1, 2, 3, 4])[0])
    # all ties: no ranking, NaN (never a number)
    flat = {k: v._replace(logit_bend=v.logit_bend * 0) for k, v in results.items()}
    rc = geomlib.rank_correlation(flat, "logit_bend", "deepfool_distance", n_boot=10)
    assert math.isnan(rc.rho) and math.isnan(rc.low) and np.isnan(rc.samples).all()


@pytest.mark.parametrize("change, match", [
    (dict(models=["m0", "m1"]), "models: a rank correlation needs at least 3 models, got 2"),
    (dict(models=["m0", "m1", "mx"]), r"models: not in results: \['mx'\]"),
    (dict(x_stat="speed"), r"x_stat: expected one of .*, got 'speed'"),
    (dict(y_stat=None), r"y_stat: expected one of .*, got None"),
    (dict(seed=-1), r"seed: expected an integer in \[0, 4294967295\], got -1"),
    (dict(level="0.1"), r"level: expected a fraction in \(0, 1\), got '0.1'"),
    (dict(models="m0"), r"models: expected a list of model names or None, got 'm0'"),
    (dict(n_boot=0), "n_boot: expected an integer >= 1, got 0"),
    (dict(n_boot=2.5), "n_boot: expected an integer >= 1, got 2.5"),
    (dict(level=1.0), r"level: expected a fraction in \(0, 1\), got 1.0"),
    (dict(level=0.0), r"level: expected a fraction in \(0, 1\), got 0.0"),
    (dict(results="mismatched"), r"results: expected the same images for every model, got batch sizes \[5, 12\]"),
])
def test_rank_correlation_bad_input(change, match):
    results = _family()
    if change.pop("results", None):
        results["m3"] = fake(np.arange(5.0))
    kw = {"x_stat": "deepfool_distance", "y_stat": "msd", "n_boot": 5, **change}
    with pytest.raises(ValueError, match=match):
        geomlib.rank_correlation(results, kw.pop("x_stat"), kw.pop("y_stat"), **kw)


# ----------------------------------------------------------------------------- files


def test_save_load_round_trip(tmp_path, linear3):
    _, m = linear3
    results = {"lin": m, "fake": fake([1.0, np.nan, 3.0], eps=(0.05, 0.1, 0.2), correct=np.eye(3))}
    meta = {"data": "test", "images": [3, 1, 2], "models": "metadata may use any key", "nested": {"a": 1.5}}
    path = geomlib.save_comparison(tmp_path / "sub" / "cmp.npz", results, meta)
    back, meta_back = geomlib.load_comparison(path)
    assert meta_back == meta and list(back) == ["lin", "fake"]
    for name, m0 in results.items():
        for field in d.ClassifierMeasures._fields:
            a, b = getattr(m0, field), getattr(back[name], field)
            if field == "seconds" or a is None:  # worst_correct, worst_broken_by: None when not measured
                assert a == b
            else:
                np.testing.assert_array_equal(np.asarray(a), b, err_msg=f"{name}.{field}")
                assert np.asarray(a).dtype.kind == b.dtype.kind, (name, field)


def test_worst_case_columns_closed_form(tmp_path, binary):
    """Logits [0, w.x + b] at margins -0.2, -1, -2.5, x near 0.5 (the box does not bind): an L-inf
    attack lowers the margin by exactly eps |w|_1, so the worst case breaks the digits whose margin
    is below it, as PGD does; the columns are saved and read back, and summarised as worst@EPS."""
    (w, b, x, means), _ = binary
    f = _linear(np.stack([np.zeros(DIM), w]), [0.0, b])
    y, target = np.zeros(BATCH, np.int32), np.ones(BATCH, np.int32)
    m = geomlib.measure_classifier(f, None, x, y, target, means, survey=None, eps=(0.02, 0.1), msd_steps=5,
                                   worst_case={"steps": 10, "n_targets": 1, "queries": 20})
    reach = np.array([0.02, 0.1])[:, None] * np.abs(w).sum()
    expected = np.array([0.2, 1.0, 2.5])[None] > reach
    np.testing.assert_array_equal(m.worst_correct, expected)
    np.testing.assert_array_equal(m.worst_correct, m.pgd_correct)
    assert m.worst_broken_by.dtype == np.int8 and np.all((m.worst_broken_by >= 0) == ~expected)
    assert np.all(m.worst_broken_by[~expected] == 3)    # PGD-10 runs first and breaks all of them
    assert "worst case" in m.seconds
    s = geomlib.comparison_summary({"a": m})
    assert s["worst@0.02"]["a"] == pytest.approx(2 / 3) and s["worst@0.1"]["a"] == pytest.approx(1 / 3)
    back, _ = geomlib.load_comparison(geomlib.save_comparison(tmp_path / "w.npz", {"a": m, "old": fake([1.0] * 3, eps=(0.02, 0.1))}))
    np.testing.assert_array_equal(back["a"].worst_correct, m.worst_correct)
    np.testing.assert_array_equal(back["a"].worst_broken_by, m.worst_broken_by)
    assert back["old"].worst_correct is None and np.isnan(geomlib.comparison_summary(back)["worst@0.1"]["old"])
    with pytest.raises(ValueError, match="worst_case"):
        geomlib.measure_classifier(f, None, x, y, target, means, survey=None, worst_case={"queries": 0})
    with pytest.raises(ValueError, match="worst_case"):
        geomlib.measure_classifier(f, None, x, y, target, means, survey=None, worst_case={"speed": 1})


def test_save_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no-such\.npz: no such comparison file.*python -m geomlib.cli.defense"):
        geomlib.load_comparison(tmp_path / "no-such.npz")
    with pytest.raises(ValueError, match="results: model names must be non-empty strings without '/'.* got 'a/b'"):
        geomlib.save_comparison(tmp_path / "x.npz", {"a/b": fake([1.0])})
    with pytest.raises(ValueError, match="results: expected a non-empty dict"):
        geomlib.save_comparison(tmp_path / "x.npz", {})
    with pytest.raises(ValueError, match=r"results\['a'\]: expected a ClassifierMeasures, got str"):
        geomlib.save_comparison(tmp_path / "x.npz", {"a": "abc"})
    with pytest.raises(ValueError, match="metadata: expected a dict"):
        geomlib.save_comparison(tmp_path / "x.npz", {"a": fake([1.0])}, "abc")
    with pytest.raises(ValueError, match="metadata: expected JSON-storable values"):
        geomlib.save_comparison(tmp_path / "x.npz", {"a": fake([1.0])}, {"x": object()})
    with pytest.raises(ValueError, match="path: expected a file to write the comparison to, got the folder"):
        geomlib.save_comparison(tmp_path, {"a": fake([1.0])})
    with pytest.raises(TypeError, match="path: expected a file path"):
        geomlib.load_comparison(None)
    assert not list(tmp_path.iterdir())  # nothing written by a refused call


def _damaged(tmp_path, kind):
    """A comparison file damaged in one way (from a good one of two models)."""
    from geomlib._src.core.files import write_npz

    good = geomlib.save_comparison(tmp_path / "good.npz", {"a": fake([1.0, 2.0]), "b": fake([3.0, 4.0])},
                                   {"data": "test"})
    path = tmp_path / "bad.npz"
    arrays = dict(np.load(good))
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif kind == "folder":
        path.mkdir()
    elif kind == "garbage":
        path.write_bytes(os.urandom(300))
    elif kind == "a single .npy":
        np.save(path.with_suffix(".npy"), np.arange(3.0))
        path.with_suffix(".npy").rename(path)
    elif kind == "a survey file":
        write_npz(path, {"model:c2": np.zeros((2, 2)), "model:config": np.asarray("{}")})
    elif kind == "no __models__":
        write_npz(path, {k: v for k, v in arrays.items() if k != "__models__"})
    elif kind == "a missing field":
        write_npz(path, {k: v for k, v in arrays.items() if k != "b/msd"})
    elif kind == "metadata not JSON":
        write_npz(path, {**arrays, "__meta__": np.asarray("{not json")})
    elif kind == "metadata not an object":
        write_npz(path, {**arrays, "__meta__": np.asarray("[1, 2]")})
    elif kind == "models not a list":
        write_npz(path, {**arrays, "__models__": np.asarray('"a"')})
    elif kind == "a field of the wrong length":
        write_npz(path, {**arrays, "a/msd": np.zeros(5)})
    elif kind == "pgd_correct of the wrong shape":
        write_npz(path, {**arrays, "a/pgd_correct": np.zeros((2, 2), bool)})
    return path


@pytest.mark.parametrize("kind, error, match", [
    ("missing", FileNotFoundError, "no such comparison file"),
    ("empty", ValueError, "not a readable comparison file"),
    ("truncated", ValueError, "not a readable comparison file"),
    ("folder", ValueError, "expected a comparison file, found a folder"),
    ("garbage", ValueError, "not a readable comparison file"),
    ("a single .npy", ValueError, "not a readable comparison file"),
    ("a survey file", ValueError, r"not a comparison file \(no __meta__; arrays model:c2, model:config\)"),
    ("no __models__", ValueError, "not a valid comparison file: no __models__"),
    ("a missing field", ValueError, r"not a complete comparison file \(missing b/msd\)"),
    ("metadata not JSON", ValueError, "not a valid comparison file: __meta__ is not JSON"),
    ("metadata not an object", ValueError, "__meta__ is a JSON list, expected a dict"),
    ("models not a list", ValueError, "__models__ is a JSON str, expected a list"),
    ("a field of the wrong length", ValueError, r"a/msd is float64 of shape \(5,\), expected numbers for 2 images"),
    ("pgd_correct of the wrong shape", ValueError, r"a/pgd_correct has shape \(2, 2\), expected \(eps, images\)"),
])
def test_load_comparison_damaged(tmp_path, kind, error, match):
    """Whatever is wrong, FileNotFoundError or a ValueError naming the file and the command that writes it."""
    path = _damaged(tmp_path, kind)
    with pytest.raises(error, match=match) as info:
        geomlib.load_comparison(path)
    assert str(path) in str(info.value) and "`python -m geomlib.cli.defense`" in str(info.value)
    assert isinstance(info.value, (FileNotFoundError, d.io.ResultFileError))


def test_save_comparison_is_reproducible_and_keeps_times_apart(tmp_path):
    """Same results, other times: the same bytes; the times in the sidecar, merged back on load;
    without the sidecar (or with a stale one) seconds are empty."""
    a = {"m": fake([1.0, 2.0]), "n": fake([3.0, 4.0])}
    b = {k: v._replace(seconds={"deepfool": 99.0}) for k, v in a.items()}
    one = geomlib.save_comparison(tmp_path / "one.npz", a, {"data": "test", "seconds": 5.0})
    two = geomlib.save_comparison(tmp_path / "two.npz", b, {"data": "test", "seconds": 7.0})
    assert one.read_bytes() == two.read_bytes()
    assert "seconds" not in np.load(one)["__meta__"].item() and "m/seconds" not in np.load(one).files
    back, meta = geomlib.load_comparison(two)
    assert meta == {"data": "test", "seconds": 7.0} and back["m"].seconds == {"deepfool": 99.0}
    sidecar = tmp_path / "two.times.json"
    assert json.loads(sidecar.read_text())["models"]["n"] == {"deepfool": 99.0}
    # a stale sidecar (another version of the file): a warning, no times
    geomlib.save_comparison(two, {"m": a["m"]}, {"data": "test"})
    sidecar.write_text((tmp_path / "one.times.json").read_text())
    with pytest.warns(UserWarning, match="times of another version of two.npz"):
        back, meta = geomlib.load_comparison(two)
    assert back["m"].seconds == {} and "seconds" not in meta
    sidecar.unlink()
    back, meta = geomlib.load_comparison(two)
    assert back["m"].seconds == {} and meta == {"data": "test"}
    # no times at all: no sidecar
    geomlib.save_comparison(two, {"m": a["m"]._replace(seconds={})}, {"data": "test"})
    assert not sidecar.exists()


# ----------------------------------------------------------------------------- sharding


_SHARDED = """
import sys, numpy as np, jax
sys.path.insert(0, {tests!r})
import geomlib
from test_defense import MEASURE, _linear, linear_case
assert len(jax.devices()) == 2, jax.devices()
w, b, x, y, target, means = linear_case()
f = _linear(w, b)
m = geomlib.measure_classifier(f, None, x, y, target, means, survey=None, **MEASURE)
np.savez({out!r}, **{{k: v for k, v in m._asdict().items() if k not in ("seconds", "first_layer_kind")}})
"""


def test_sharded_over_two_devices_matches_one_device(tmp_path, linear3):
    """3 images on 2 devices (padded to 4) give the numbers of one device."""
    _, one = linear3
    out = tmp_path / "sharded.npz"
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", _SHARDED.format(tests=str(ROOT / "tests"), out=str(out))],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    two = np.load(out)
    for field in ("label", "target", "deepfool_class", "msd_reached", "pgd_correct", "eps"):
        np.testing.assert_array_equal(two[field], getattr(one, field), err_msg=field)
    for field in ("deepfool_distance", "logit_bend", "msd", "template_deepfool", "template_msd"):
        np.testing.assert_allclose(two[field], getattr(one, field), rtol=1e-5, atol=1e-6, err_msg=field)
    assert np.isfinite(two["msd"]).all() and np.isfinite(two["logit_bend"]).all()
    assert np.isnan(two["boundary_curvature"]).all()  # no smooth twin


# ----------------------------------------------------------------------------- CIFAR-10


def write_learnable_cifar(directory, n=48, seed=0):
    """The fake CIFAR-10 batches of test_training_data, made learnable: labels 0 (dark
    images) and 9 (bright ones), so tiny models trained for a few steps get them right."""
    from geomlib._src.data import CIFAR10_TEST, CIFAR10_TRAIN

    write_cifar(directory, n=n, seed=seed)
    rng = np.random.default_rng(seed)
    for name in (*CIFAR10_TRAIN, CIFAR10_TEST):
        with open(directory / name, "rb") as fh:
            batch = pickle.load(fh)
        labels = np.where(np.asarray(batch[b"labels"]) < 5, 0, 9)
        level = np.where(labels == 0, 50, 200)[:, None] + rng.integers(-30, 30, (n, 3072))
        batch[b"labels"], batch[b"data"] = labels.tolist(), level.astype(np.uint8)
        with open(directory / name, "wb") as fh:
            pickle.dump(batch, fh, protocol=2)


TINY_TRAIN = {"n_train": 64, "neurons": 16, "batches": 5, "epochs": 1500, "hidden": [8], "steps": 5, "lam": 0.1}


def test_cifar10_comparison_on_a_fake_folder(tmp_path):
    write_learnable_cifar(tmp_path)
    results, meta = geomlib.cifar10_comparison(tmp_path, 2, train=TINY_TRAIN, progress=False, survey=None,
                                               eps=(0.05,), msd_steps=5, pgd_steps=2, k=1, lanczos_iterations=8,
                                               curvature_tol=1.0)
    assert list(results) == ["mlp-2", "lca-mlp-2"]
    for m in results.values():
        assert m.deepfool_distance.shape == (2,) and np.isfinite(m.deepfool_distance).all()
        assert np.all(m.deepfool_class != m.label)
    assert meta["data"] == "cifar10-gray" and len(meta["images"]) == 2 and meta["train"]["neurons"] == 16
    assert json.dumps(meta)  # storable by save_comparison


def test_cifar10_comparison_needs_a_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("GEOMLIB_CIFAR10", raising=False)
    with pytest.raises(ValueError, match="GEOMLIB_CIFAR10"):
        geomlib.cifar10_comparison(None, 2, progress=False)
    with pytest.raises(ValueError, match=r"settings: unknown \['speed'\]"):
        geomlib.cifar10_comparison(tmp_path, 2, train={"speed": 1}, progress=False)


# ----------------------------------------------------------------------------- the CLI


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "geomlib.cli.defense", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_cli_help_and_bad_models(capsys):
    from geomlib.cli.defense import main

    with pytest.raises(SystemExit) as info:   # the help in this process; the refusal below in a real one
        main(["--help"])
    out = capsys.readouterr().out
    assert info.value.code == 0 and "--models" in out and "--cifar10" in out
    proc = _cli("--models", "nonsense")
    assert proc.returncode == 2 and "--models: expected shipped classifiers" in proc.stderr
    assert "nonsense" in proc.stderr and proc.stdout == ""  # rejected before anything is loaded or printed


def test_defense_plots_give_every_model_its_own_style_and_one_legend_entry():
    """Chapter 8's figures: one (colour, marker) per shipped model, families by colour shade,
    no text labels by default, and the legend handles name each model once."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgb

    from geomlib import plots

    names = list(geomlib.DEFENSE_MODELS)
    summary = {"x": {m: float(k) for k, m in enumerate(names)}, "y": {m: float(k % 3) for k, m in enumerate(names)}}
    fig, ax = plt.subplots()
    plots.plot_robustness_vs_curvature(summary, "x", "y", ax=ax)
    styles = [(to_rgb(line.get_color()), line.get_marker()) for line in ax.lines]
    assert len(styles) == len(names) == len(set(styles))
    assert not ax.texts
    labels = ax.get_legend_handles_labels()[1]
    assert labels == names
    for (rgb, _), m in zip(styles, names):   # LCA front-ends bluish: blue channel above red
        assert (rgb[2] > rgb[0]) == m.startswith("lca"), m
    plt.close(fig)

    fig, ax = plt.subplots()
    rng = np.random.default_rng(0)
    plots.plot_per_image({m: None for m in names}, {m: rng.random(4) for m in names}, {m: rng.random(4) for m in names},
                         ax=ax)
    assert len({(to_rgb(line.get_color()), line.get_marker()) for line in ax.lines}) == len(names)
    with pytest.raises(ValueError, match="different shapes"):
        plots.plot_per_image({"a": None}, {"a": np.zeros(3)}, {"a": np.zeros(2)}, ax=ax)
    plt.close(fig)
