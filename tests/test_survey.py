"""Tests for geomlib._src.survey: the direct (grid-free) contour bend, response
attenuation, exact axis curvature, the survey's planes and the survey itself."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.tree_util import Partial

import geomlib
from geomlib._src import survey as sv


def bent(x0, u, v, coef, x):
    """g(a, b) = h(a - q b - c b^2 - e log(1 + b^2)) with coef = (c, e, s, o, k, q):
    h(t) = s t + o + k tanh(t), strictly increasing for s > 0, k >= 0.

    Its contour at any level is a = const + q b + c b^2 + e log(1 + b^2): a parabola for
    e = 0. One module-level function for every case, so the kernels compile once.
    """
    d = x - x0
    a, b = d @ u, d @ v
    c, e, s, o, k, q = coef[0], coef[1], coef[2], coef[3], coef[4], coef[5]
    t = a - q * b - c * b**2 - e * jnp.log1p(b**2)
    return s * t + o + k * jnp.tanh(t)


def _bent(p, c=0.0, e=0.0, s=1.0, o=0.0, k=0.0, q=0.0):
    return Partial(bent, p.origin, p.u, p.v, jnp.asarray([c, e, s, o, k, q], geomlib.float_dtype()))


@pytest.fixture(scope="module")
def plane3():
    return geomlib.plane([1.0, 0.5, 0.0], [0.0, 1.0, 1.0], [0.2, -0.3, 0.4])


@pytest.fixture(scope="module")
def small():
    """The small shipped dictionary (D = 64, N = 128) with its LCA settings."""
    cfg = geomlib.load_metadata("patches-test")["config"]
    return geomlib.load_params("patches-test"), {k: cfg[k] for k in ("lam", "steps", "eta")}


EVALUATIONS = 2 * sv.DEFAULT_EDGE_ROWS + 2 * sv.EXIT_ITERATIONS + sv.DEFAULT_ROWS * (2 + sv.DEFAULT_ITERATIONS)


def _take(planes, *index):
    return jax.tree_util.tree_map(lambda x: x[index], planes)


# ----------------------------------------------------------------------------- known bend


@pytest.mark.parametrize("c", [-0.3, -0.1, 0.0, 0.05, 0.2, 0.45])
def test_parabola_returns_c(c, plane3):
    """Absolute level: the contour a = 1.5 + c b^2 (leaving the window through its right
    edge for c > 0.125: then the rows are placed where it is inside)."""
    bend = sv.contour_bend(_bent(plane3, c), plane3, 1.5, normalize=False)
    assert isinstance(bend, sv.ContourBend)
    assert bend.c2.shape == () and int(bend.n_valid) == sv.DEFAULT_ROWS
    assert abs(float(bend.c2) - c) < 1e-4
    assert abs(float(bend.c0) - 1.5) < 1e-4 and abs(float(bend.c1)) < 1e-4
    assert bend.evaluations == EVALUATIONS
    pts = np.asarray(bend.points)
    np.testing.assert_allclose(pts[:, 0], 1.5 + c * pts[:, 1] ** 2, atol=1e-4)
    assert abs(float(bend.tip_curvature) - 2 * c) < 2e-4


@pytest.mark.parametrize("c", [-0.25, 0.15, 0.3])
def test_normalised_nonlinear_response_returns_c(c, plane3):
    """A strictly increasing h of a - c b^2 (nonlinear, offset, scaled): same contours, so
    the normalised 0.5 contour has c2 = c, wherever the level falls."""
    f = _bent(plane3, c, s=0.3, o=4.0, k=2.0)
    bend = sv.contour_bend(f, plane3, 0.8)
    assert int(bend.n_valid) >= 5
    assert abs(float(bend.c2) - c) < 2e-4
    # The level is 0.8 of the response range sampled on the two vertical edges.
    assert float(bend.lo) < float(bend.level) < float(bend.hi)
    np.testing.assert_allclose(float(bend.level), float(bend.lo) + 0.8 * (float(bend.hi) - float(bend.lo)), rtol=1e-6)


def test_contour_leaving_the_window_is_fitted_where_it_is_inside(plane3):
    # a = 0.5 + 0.6 b^2 leaves [-2, 2]^2 through the right edge at |b| = sqrt(2.5) = 1.58:
    # the exits are located on the edge and every row is placed inside them.
    bend = sv.contour_bend(_bent(plane3, 0.6), plane3, 0.5, normalize=False)
    b = np.asarray(bend.points)[:, 1]
    assert int(bend.n_valid) == sv.DEFAULT_ROWS
    assert np.all(np.abs(b) < np.sqrt(2.5)) and np.max(np.abs(b)) > 0.95 * np.sqrt(2.5)
    assert abs(float(bend.c2) - 0.6) < 1e-4
    # leaving on one side only (tilted contour a = 1 + 0.4 b + 0.3 b^2, exits at b = 1.277)
    bend = sv.contour_bend(_bent(plane3, 0.3, q=0.4), plane3, 1.0, normalize=False)
    b = np.asarray(bend.points)[:, 1]
    assert int(bend.n_valid) == sv.DEFAULT_ROWS and b.min() < -1.9 and 1.2 < b.max() < 1.277
    np.testing.assert_allclose([float(bend.c0), float(bend.c1), float(bend.c2)], [1.0, 0.4, 0.3], atol=1e-4)


def test_positive_side_only(plane3):
    # a = -0.5 + 0.3 b^2 is on the positive side only for |b| > 1.29.
    f = _bent(plane3, 0.3)
    kept = sv.contour_bend(f, plane3, -0.5, normalize=False)
    everything = sv.contour_bend(f, plane3, -0.5, normalize=False, positive_side=False)
    assert int(everything.n_valid) == sv.DEFAULT_ROWS
    assert 0 < int(kept.n_valid) < sv.DEFAULT_ROWS
    assert np.all(np.asarray(kept.points)[:, 0][np.isfinite(np.asarray(kept.points)[:, 0])] > 0)
    assert abs(float(everything.c2) - 0.3) < 1e-4


def test_too_few_points_or_flat_response_is_nan(plane3):
    far = sv.contour_bend(_bent(plane3, 0.0), plane3, 5.0, normalize=False)  # contour outside the window
    assert int(far.n_valid) == 0 and math.isnan(float(far.c2))
    flat = sv.contour_bend(_bent(plane3, 0.0, s=0.0, o=1.0), plane3)  # constant response
    assert int(flat.n_valid) == 0 and math.isnan(float(flat.c2))


def test_resolution_independent(plane3):
    """In plane units: more rows or more root-finding steps change c2 only by the
    sampling of a non-parabolic contour (a = L + 0.2 b^2 + 0.1 log(1 + b^2))."""
    f = _bent(plane3, 0.2, e=0.1)
    values = {(n_b, it): float(sv.contour_bend(f, plane3, 0.3, normalize=False, n_b=n_b, iterations=it).c2)
              for n_b, it in ((sv.DEFAULT_ROWS, sv.DEFAULT_ITERATIONS), (31, 12))}
    ref = values[(31, 12)]
    for (n_b, it), c2 in values.items():
        assert abs(c2 - ref) < 3e-3, (n_b, it, c2, ref)
    # the non-parabolic part adds a genuine, resolution-independent bend
    assert 0.23 < ref < 0.3
    # and the parabola is exact at every resolution
    for n_b, it in ((sv.DEFAULT_ROWS, sv.DEFAULT_ITERATIONS), (31, 12)):
        c2 = float(sv.contour_bend(_bent(plane3, 0.2), plane3, 0.3, normalize=False, n_b=n_b, iterations=it).c2)
        assert abs(c2 - 0.2) < 1e-4


def test_weighting_choice(plane3):
    f = _bent(plane3, 0.25)
    for w in sv.WEIGHTINGS:
        assert abs(float(sv.contour_bend(f, plane3, 0.3, normalize=False, weighting=w).c2) - 0.25) < 1e-4


def test_gauss_rows():
    b, w = sv.gauss_rows(9, (-2.0, 2.0))
    assert b.shape == w.shape == (9,)
    assert np.all(np.diff(b) > 0) and abs(b[4]) < 1e-12 and -2 < b[0] and b[-1] < 2
    np.testing.assert_allclose(w.sum(), 4.0)
    np.testing.assert_allclose(np.sum(w * b**4), 2 * 2**5 / 5)  # exact for polynomials


# ----------------------------------------------------------------------------- batching


def test_batch_equals_one_by_one(small, rand_plane):
    params, cfg = small
    sp = sv.survey_planes(params, [3, 40], 3, 2, key=1)
    f = geomlib.dictionary_neuron(params, 3, **cfg)
    planes = _take(sp.planes, 0)  # (5, D): neuron 3's planes
    batch = sv.contour_bend(f, planes, chunk_size=2)  # 3 chunks, the last one padded
    assert batch.c2.shape == (5,) and batch.points.shape == (5, sv.DEFAULT_ROWS, 2)
    for k in (0, 4):
        one = sv.contour_bend(f, _take(planes, k))
        np.testing.assert_allclose(float(one.c2), float(batch.c2[k]), rtol=1e-4, atol=1e-6)
    # a 2-D batch shape is kept
    two = sv.contour_bend(f, jax.tree_util.tree_map(lambda x: x.reshape((5, 1, -1)), planes), chunk_size=2)
    assert two.c2.shape == (5, 1)
    np.testing.assert_allclose(np.asarray(two.c2)[:, 0], np.asarray(batch.c2), rtol=1e-5, atol=1e-7)


def test_run_survey_matches_contour_bend_per_neuron(small):
    params, cfg = small
    res = sv.run_survey(params, "lca", np.array([5, 17, 90]), 3, 2, key=4, chunk_size=4, progress=False, **cfg)
    assert res.c2.shape == (3, 5) and list(res.kind) == ["comparison"] * 3 + ["random"] * 2
    sp = sv.survey_planes(params, [5, 17, 90], 3, 2, key=4)
    for i, neuron in enumerate([5, 17, 90]):
        f = geomlib.dictionary_neuron(params, neuron, **cfg)
        bend = sv.contour_bend(f, _take(sp.planes, i), chunk_size=2)
        np.testing.assert_allclose(res.c2[i], np.asarray(bend.c2), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(res.angle, sp.angle, atol=1e-9)
    np.testing.assert_array_equal(res.partner, sp.partner)
    assert res.config["evaluations_per_plane"] == EVALUATIONS
    # a neuron's planes do not depend on which other neurons are surveyed with it
    alone = sv.run_survey(params, "lca", np.array([17]), 3, 2, key=4, chunk_size=4, progress=False, **cfg)
    np.testing.assert_allclose(alone.c2[0], res.c2[1], rtol=1e-4, atol=1e-6)


def test_survey_result_summary_and_roundtrip(small, tmp_path):
    params, cfg = small
    ticks = []
    res = sv.run_survey(params, "lca", 4, 2, 2, key=0, chunk_size=4, progress=ticks.append, **cfg)
    assert sum(ticks) == 4 * 4
    assert len(set(res.neurons.tolist())) == 4
    s = res.summary()
    for k in ("fraction_exo", "median_comparison", "median_random", "spearman_angle_c2", "fraction_valid"):
        assert k in s
    assert 0 <= s["fraction_exo"] <= 1
    assert res.fraction_exo("comparison") == s["fraction_exo_comparison"]
    path = tmp_path / "one.npz"
    res.save(path)
    back = sv.load_survey(path)
    np.testing.assert_array_equal(back.c2, res.c2)
    np.testing.assert_array_equal(back.kind, res.kind)
    assert back.model == "lca" and back.config == res.config
    sv.save_survey({"small/lca": res, "small/relu": res}, tmp_path / "many.npz")
    many = sv.load_survey(tmp_path / "many.npz")
    assert sorted(many) == ["small/lca", "small/relu"]
    np.testing.assert_array_equal(many["small/relu"].angle, res.angle)
    with pytest.raises(ValueError, match="kind"):
        res.values("other")


# ----------------------------------------------------------------------------- survey planes


def test_survey_planes_geometry(small):
    params, _ = small
    phi = np.asarray(params["phi"], np.float64)
    phi = phi / np.linalg.norm(phi, axis=0)
    sp = sv.survey_planes(params, [0, 7, 100], 20, 6, key=3, min_angle_deg=15.0)
    n, p, d = sp.planes.u.shape
    assert (n, p, d) == (3, 26, 64)
    u, v = np.asarray(sp.planes.u, np.float64), np.asarray(sp.planes.v, np.float64)
    np.testing.assert_allclose(np.linalg.norm(u, axis=-1), 1, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(v, axis=-1), 1, atol=1e-5)
    np.testing.assert_allclose(np.sum(u * v, -1), 0, atol=1e-5)
    assert np.all(np.asarray(sp.planes.origin) == 0)
    for i, neuron in enumerate([0, 7, 100]):
        np.testing.assert_allclose(u[i], np.broadcast_to(phi[:, neuron], (p, d)), atol=1e-6)
        partners = sp.partner[i, :20]
        angles = np.degrees(np.arccos(np.clip(phi[:, partners].T @ phi[:, neuron], -1, 1)))
        np.testing.assert_allclose(sp.angle[i, :20], angles, atol=1e-4)
        assert np.all(angles > 15) and np.all(np.diff(angles) >= 0) and neuron not in partners
        # closest first: no neuron beyond 15 degrees was skipped
        all_angles = np.degrees(np.arccos(np.clip(phi.T @ phi[:, neuron], -1, 1)))
        eligible = np.sort(all_angles[(all_angles > 15) & (np.arange(phi.shape[1]) != neuron)])
        np.testing.assert_allclose(angles, eligible[:20], atol=1e-4)
        # v spans the same plane as (MEI, partner)
        w = phi[:, partners].T
        resid = w - (w @ phi[:, neuron])[:, None] * phi[:, neuron]
        np.testing.assert_allclose(v[i, :20], resid / np.linalg.norm(resid, axis=1, keepdims=True), atol=1e-5)
        assert np.all(sp.partner[i, 20:] == -1)
    assert list(sp.kind) == ["comparison"] * 20 + ["random"] * 6
    # random planes: reproducible, per neuron
    again = sv.survey_planes(params, [7], 20, 6, key=3)
    np.testing.assert_allclose(np.asarray(again.planes.v[0]), v[1], atol=1e-6)
    other = sv.survey_planes(params, [7], 20, 6, key=4)
    assert not np.allclose(np.asarray(other.planes.v[0, 20:]), v[1, 20:])


# ----------------------------------------------------------------------------- controls and LCA


def test_linear_and_relu_controls_are_straight(small):
    params, cfg = small
    for model in ("linear", "relu"):
        res = sv.run_survey(params, model, np.array([2, 60]), 3, 3, key=0, progress=False, **cfg)
        assert np.all(np.isfinite(res.c2)), model
        assert np.max(np.abs(res.c2)) < 1e-4, (model, res.c2)


def test_lca_bends_exo_origin(small):
    params, cfg = small
    res = sv.run_survey(params, "lca", 6, 4, 4, key=0, chunk_size=4, progress=False, **cfg)
    assert res.fraction_valid() == 1.0
    assert res.fraction_exo() >= 0.9
    assert res.median("comparison") > res.median("random") > 0


def test_agrees_with_the_full_grid_method(small):
    """On real LCA neurons (natural-image dictionary, its LCA settings), c2 found directly
    agrees with the full-grid fit of geomlib.fit_contour_curvature (0.5 contour of the
    min-max normalised response) within the grid method's own resolution error, measured
    as |grid 30x30 - grid 120x120|. (``make bench`` does the same on patches-2x.)"""
    params, cfg = small
    neurons = [11, 60]
    sp = sv.survey_planes(params, neurons, 2, 0, key=0)
    root, g30, fine = [], [], []
    for i, neuron in enumerate(neurons):
        f = geomlib.dictionary_neuron(params, neuron, **cfg)
        root.extend(np.asarray(sv.contour_bend(f, _take(sp.planes, i)).c2).tolist())
        for k in range(2):
            p = _take(sp.planes, i, k)
            g30.append(geomlib.fit_contour_curvature(f, p, 0.5, n=30, normalize=True))
            fine.append(geomlib.fit_contour_curvature(f, p, 0.5, n=120, normalize=True))
    root, g30, fine = map(np.asarray, (root, g30, fine))
    grid_error = np.abs(g30 - fine)
    err = np.abs(root - fine)
    assert np.all(fine > 0.03) and np.all(root > 0.03)
    assert np.median(err) <= np.median(grid_error), (err, grid_error)
    assert np.max(err) <= np.max(grid_error), (err, grid_error)


def test_three_ways_agree_on_a_smooth_lca_neuron(small):
    """Contour fit (hard LCA), response attenuation and exact autodiff curvature (smooth LCA)
    agree in sign and order of magnitude."""
    params, cfg = small
    sp = sv.survey_planes(params, [9], 1, 1, key=0)
    planes = _take(sp.planes, 0)
    hard = geomlib.dictionary_neuron(params, 9, **cfg)
    smooth = geomlib.dictionary_neuron(params, 9, temperature=0.05, **cfg)
    bend = sv.contour_bend(hard, planes, chunk_size=2)
    att = sv.response_attenuation(hard, planes, a=float(jnp.nanmax(bend.c0)) + 0.3)
    kappa = sv.axis_curvature(smooth, planes, bend.c0)  # where the hard LCA's contour crosses the MEI axis
    tip = np.asarray(bend.tip_curvature)
    for name, x in (("attenuation bend x2", 2 * np.asarray(att.bend)), ("autodiff", np.asarray(kappa))):
        assert np.all(x > 0) and np.all(tip > 0), (name, x, tip)
        ratio = x / tip
        assert np.all((ratio > 0.1) & (ratio < 10)), (name, x, tip)


def test_response_attenuation_and_axis_curvature_on_known_bend(plane3):
    f = _bent(plane3, 0.35, s=2.0, o=1.0)
    att = sv.response_attenuation(f, plane3, a=1.0)
    assert isinstance(att, sv.ResponseAttenuation)
    np.testing.assert_allclose(float(att.bend), 0.35, atol=1e-4)
    np.testing.assert_allclose(float(att.on_axis), 3.0, rtol=1e-5)
    np.testing.assert_allclose(float(att.attenuation), 2 * 0.35 / 3.0, rtol=1e-4)
    np.testing.assert_allclose(float(att.slope), 2.0, rtol=1e-5)
    np.testing.assert_allclose(float(sv.axis_curvature(f, plane3, 0.7)), 0.7, rtol=1e-4)
    # batched
    planes = jax.tree_util.tree_map(lambda x: jnp.stack([x, x]), plane3)
    np.testing.assert_allclose(np.asarray(sv.axis_curvature(f, planes, jnp.array([0.3, 1.0]))), [0.7, 0.7], rtol=1e-4)
    assert sv.response_attenuation(f, planes).bend.shape == (2,)


# ----------------------------------------------------------------------------- errors


def test_bad_input_names_the_argument(plane3, small):
    params, cfg = small
    f = _bent(plane3, 0.1)
    cases = [
        (lambda: sv.contour_bend(f, "plane"), "planes"),
        (lambda: sv.contour_bend(3.0, plane3), "f"),
        (lambda: sv.contour_bend(f, plane3, 1.5), "level"),
        (lambda: sv.contour_bend(f, plane3, float("nan"), normalize=False), "level"),
        (lambda: sv.contour_bend(f, plane3, extent=-1.0), "extent"),
        (lambda: sv.contour_bend(f, plane3, n_b=2), "n_b"),
        (lambda: sv.contour_bend(f, plane3, iterations=0), "iterations"),
        (lambda: sv.contour_bend(f, plane3, weighting="x"), "weighting"),
        (lambda: sv.contour_bend(f, plane3, chunk_size=0), "chunk_size"),
        (lambda: sv.response_attenuation(f, plane3, n=2), "n"),
        (lambda: sv.response_attenuation(f, plane3, a=float("inf")), "a"),
        (lambda: sv.axis_curvature(f, plane3, 0.5, mode="x"), "mode"),
        (lambda: sv.survey_planes(params, [0], 10_000, 0), "n_comparison"),
        (lambda: sv.survey_planes(params, [0], 0, 0), "n_comparison, n_random"),
        (lambda: sv.survey_planes(params, [500], 1, 1), "neurons"),
        (lambda: sv.survey_planes(params, [0], 1, 1, min_angle_deg=95), "min_angle_deg"),
        (lambda: sv.survey_planes({"w": 1}, [0], 1, 1), "params"),
        (lambda: sv.run_survey(params, "cnn", 2, 1, 1, progress=False), "model"),
        (lambda: sv.run_survey(params, "lca", 0, 1, 1, progress=False), "neurons"),
        (lambda: sv.run_survey(params, "lca", np.array([1, 1]), 1, 1, progress=False), "neurons"),
        (lambda: sv.run_survey(params, "lca", 2, -1, 1, progress=False), "n_comparison"),
        (lambda: sv.save_survey([], "x.npz"), "results"),
    ]
    for call, name in cases:
        with pytest.raises(ValueError, match=f"^{name}"):
            call()
