"""Tests for geomlib._src.survey: the direct (grid-free) contour bend, response
attenuation, exact axis curvature, the survey's planes and the survey itself."""

import dataclasses
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.tree_util import Partial

import geomlib
from geomlib._src import survey as sv
from geomlib._src.core.files import ResultFileError


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
    sv.save_survey({"small/relu": res, "small/lca": res}, tmp_path / "many.npz")
    many = sv.load_survey(tmp_path / "many.npz")
    assert list(many) == ["small/relu", "small/lca"]      # in the order saved (patches-2x before patches-10x)
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
    for model in ("linear", "relu"):  # 2 neurons x 4 planes in one chunk: test_cost_benchmark_quick's kernels
        res = sv.run_survey(params, model, np.array([2, 60]), 2, 2, key=0, chunk_size=8, progress=False, **cfg)
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


# ----------------------------------------------------------------------------- argument checks (issue 15)


def test_bad_survey_arguments_are_rejected_before_anything_runs(plane3, small):
    """Every count / scalar / name argument goes through core.checks: ValueError or TypeError
    naming it, never a silent NaN (e.g. lam=nan used to give an all-NaN c2)."""
    params, cfg = small
    f = _bent(plane3, 0.1)
    run = lambda **kw: sv.run_survey(params, **{"model": "lca", "neurons": 2, "n_comparison": 1,  # noqa: E731
                                                "n_random": 1, "progress": False, **cfg, **kw})
    cases = [
        (lambda: run(lam=float("nan")), "lam"), (lambda: run(lam=-1.0), "lam"), (lambda: run(lam="0.1"), "lam"),
        (lambda: run(lam=True), "lam"), (lambda: run(lam=None), "lam"),
        (lambda: run(eta=0.0), "eta"), (lambda: run(eta=float("inf")), "eta"), (lambda: run(eta=1.5), "eta"),
        (lambda: run(steps=0), "steps"), (lambda: run(steps=2.5), "steps"), (lambda: run(steps=2**31), "steps"),
        (lambda: run(temperature=-1.0), "temperature"), (lambda: run(sigma=0.0), "sigma"),
        (lambda: run(exponent=float("nan")), "exponent"),
        (lambda: run(key=None), "key"), (lambda: run(key=True), "key"), (lambda: run(key=2.5), "key"),
        (lambda: run(key="abc"), "key"), (lambda: run(key=-1), "key"),
        (lambda: run(neurons=True), "neurons"), (lambda: run(neurons=2.5), "neurons"),
        (lambda: run(neurons="3"), "neurons"), (lambda: run(neurons=10_000), "neurons"),
        (lambda: run(level=1.5), "level"), (lambda: run(extent=None), "extent"), (lambda: run(extent="2"), "extent"),
        (lambda: run(extent=True), "extent"), (lambda: run(n_b=2**31), "n_b"), (lambda: run(n_edge=2**31), "n_edge"),
        (lambda: run(iterations=2**31), "iterations"), (lambda: run(weighting=3), "weighting"),
        (lambda: run(min_angle_deg=90.0), "min_angle_deg"), (lambda: run(chunk_size=0), "chunk_size"),
        (lambda: run(model=3), "model"),
        (lambda: sv.run_survey({"phi": np.full((4, 3), np.nan)}, "linear", 2, 1, 1, progress=False), r"params\['phi'\]"),
        (lambda: sv.survey_planes(params, [0], 1, 1, key=None), "key"),
        (lambda: sv.survey_planes({"phi": np.zeros((4, 3))}, [0], 1, 1), r"params\['phi'\]"),
        (lambda: sv.contour_bend(f, plane3, extent="0.1"), "extent"),
        (lambda: sv.contour_bend(f, plane3, extent=True), "extent"),
        (lambda: sv.contour_bend(f, plane3, n_b=2**31), "n_b"),
        (lambda: sv.contour_bend(f, plane3, iterations=2**31), "iterations"),
        (lambda: sv.response_attenuation(f, plane3, n=2**31), "n"),
        (lambda: sv.response_attenuation(f, plane3, extent=None), "extent"),
        (lambda: sv.axis_curvature(f, plane3, "0.1"), "a"), (lambda: sv.axis_curvature(f, plane3, True), "a"),
        (lambda: sv.axis_curvature(f, plane3, np.zeros(3)), "a"),
        (lambda: sv.gauss_rows(2**31), "n_b"), (lambda: sv.gauss_rows(4, (np.nan, 2.0)), "b_range"),
        (lambda: sv.gauss_rows(4, (2.0, -2.0)), "b_range"), (lambda: sv.gauss_rows(4, "abc"), "b_range"),
        (lambda: sv.gauss_rows(4, None), "b_range"),
    ]
    for call, name in cases:
        with pytest.raises((ValueError, TypeError), match=f"^{name}"):
            call()
    with pytest.raises(TypeError, match="^progress"):
        run(progress="yes")
    with pytest.raises(TypeError, match="^checkpoint"):
        run(checkpoint=3)
    with pytest.raises(TypeError, match="^normalize"):
        sv.contour_bend(f, plane3, normalize="no")


def test_fraction_valid_checks_kind():
    res = _fake_result()
    for kind in ("other", 3):
        with pytest.raises(ValueError, match="^kind"):
            res.fraction_valid(kind)


# ----------------------------------------------------------------------------- files (issue 15)


def _fake_result(seed: int = 0, seconds: float = 1.25) -> sv.SurveyResult:
    """A small SurveyResult with the arrays run_survey makes (no survey run)."""
    rng = np.random.default_rng(seed)
    shape = (3, 4)
    return sv.SurveyResult(c2=rng.normal(size=shape).astype(np.float32), c0=rng.normal(size=shape).astype(np.float32),
                           c1=rng.normal(size=shape).astype(np.float32), n_valid=np.full(shape, 9, np.int32),
                           angle=rng.uniform(20, 90, shape), partner=np.tile([5, 6, -1, -1], (3, 1)),
                           kind=np.array(["comparison"] * 2 + ["random"] * 2), neurons=np.array([1, 4, 7]),
                           model="lca", config={"model": "lca", "lam": 0.15, "seconds": seconds})


def test_survey_files_are_reproducible_and_keep_the_times_in_a_sidecar(tmp_path):
    a, b = _fake_result(0, 1.5), _fake_result(1, 2.5)
    path = tmp_path / "s.npz"
    sv.save_survey({"x/lca": a, "y/lca": b}, path)
    first = path.read_bytes()
    sidecar = sv.times_path(path)
    assert sidecar == tmp_path / "s.times.json" and sidecar.is_file()
    # other times, same results: the same bytes (the times are not in the file)
    sv.save_survey({"x/lca": dataclasses.replace(a, config={**a.config, "seconds": 9.0}), "y/lca": b}, path)
    assert path.read_bytes() == first
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*"))
    back = sv.load_survey(path)
    assert back["x/lca"].config["seconds"] == 9.0 and back["y/lca"].config["seconds"] == 2.5
    assert back["y/lca"].config == b.config
    # without the sidecar: NaN, documented
    sidecar.unlink()
    assert all(math.isnan(r.config["seconds"]) for r in sv.load_survey(path).values())
    # a stale sidecar (times of other results under the same names) is not merged
    sv.save_survey({"x/lca": b, "y/lca": b}, tmp_path / "other.npz")
    sv.times_path(tmp_path / "other.npz").rename(sidecar)
    back = sv.load_survey(path)
    assert math.isnan(back["x/lca"].config["seconds"]) and back["y/lca"].config["seconds"] == 2.5
    # a damaged sidecar warns, naming it; the results load
    sidecar.write_text("{not json")
    with pytest.warns(UserWarning, match="s.times.json"):
        back = sv.load_survey(path)
    assert math.isnan(back["x/lca"].config["seconds"])
    # a result without a finite time: no sidecar
    sv.save_survey(dataclasses.replace(a, config={"model": "lca"}), path)
    assert not sidecar.exists() and math.isnan(sv.load_survey(path).config["seconds"])


def _survey_npz(path, **arrays):
    np.savez(path, **arrays)


def _damage(kind: str, path, good: dict):
    """Write a damaged survey file of ``kind`` at ``path`` (``good``: the arrays of a valid one)."""
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        sv.save_survey(_fake_result(), path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "folder":
        path.mkdir()
    elif kind == "garbage":
        path.write_bytes(b"this is not a survey file")
    elif kind == "pickle":
        np.save(open(path, "wb"), np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif kind == "one array":
        np.save(open(path, "wb"), np.ones(3))
    elif kind == "parameter file":
        path.write_bytes((Path(geomlib.__file__).parent / "params" / "patches-test.npz").read_bytes())
    elif kind == "missing c2":
        _survey_npz(path, **{k: v for k, v in good.items() if k != "c2"})
    elif kind == "missing key in a named result":
        _survey_npz(path, **{f"a/lca:{k}": v for k, v in good.items() if k != "partner"})
    elif kind == "c2 1-D":
        _survey_npz(path, **{**good, "c2": good["c2"].ravel()})
    elif kind == "c0 of another shape":
        _survey_npz(path, **{**good, "c0": good["c0"][:, :2]})
    elif kind == "float n_valid":
        _survey_npz(path, **{**good, "n_valid": good["n_valid"].astype(float)})
    elif kind == "unknown kind":
        _survey_npz(path, **{**good, "kind": np.array(["x"] * 4)})
    elif kind == "non-finite angle":
        _survey_npz(path, **{**good, "angle": np.full(good["angle"].shape, np.nan)})
    elif kind == "config not JSON":
        _survey_npz(path, **{**good, "config": np.array("{oops")})
    elif kind == "config a list":
        _survey_npz(path, **{**good, "config": np.array("[1, 2]")})
    elif kind == "model a number":
        _survey_npz(path, **{**good, "model": np.array(3)})
    else:  # pragma: no cover
        raise AssertionError(kind)


DAMAGE = ["empty", "truncated", "folder", "garbage", "pickle", "one array", "parameter file", "missing c2",
          "missing key in a named result", "c2 1-D", "c0 of another shape", "float n_valid", "unknown kind",
          "non-finite angle", "config not JSON", "config a list", "model a number"]


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_survey_file_names_itself_and_the_command(tmp_path, kind):
    good_path = tmp_path / "good.npz"
    sv.save_survey(_fake_result(), good_path)
    with np.load(good_path) as npz:
        good = {k: npz[k] for k in npz.files}
    path = tmp_path / "damaged.npz"
    _damage(kind, path, good)
    with pytest.raises(ValueError) as err:
        sv.load_survey(path)
    assert isinstance(err.value, ResultFileError)
    assert str(path) in str(err.value) and "python -m geomlib.cli.survey" in str(err.value), str(err.value)


def test_a_missing_survey_file_names_itself_and_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing.npz: no such survey file; .*python -m geomlib.cli.survey"):
        sv.load_survey(tmp_path / "missing.npz")
    with pytest.raises(TypeError, match="^path"):
        sv.load_survey(None)
    with pytest.raises(ValueError, match="^path: .*folder"):
        sv.save_survey(_fake_result(), tmp_path)
    with pytest.raises(TypeError, match="^path"):
        sv.save_survey(_fake_result(), None)
    with pytest.raises(ValueError, match="^results"):
        sv.save_survey({"a:b": _fake_result()}, tmp_path / "x.npz")


# ----------------------------------------------------------------------------- the LCA's levers (issue 19)

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from geomlib._src.models.lca import lca_potentials, lca_potentials_fast  # noqa: E402

#: Float32 tolerance of the active-set product (the same sums in another order): potentials
#: are O(1), each step's rounding is ~1e-7 and 75 steps accumulate it.
ACTIVE_ATOL = 2e-5


def _dictionary(seed, dim, n):
    phi = np.random.default_rng(seed).normal(size=(dim, n)).astype(np.float32)
    return jnp.asarray(phi / np.linalg.norm(phi, axis=0))


@given(seed=st.integers(0, 2**16), dim=st.sampled_from([4, 8]), ratio=st.sampled_from([1, 2, 3]),
       capacity=st.integers(1, 12), lam=st.sampled_from([0.05, 0.15, 0.4]), scale=st.sampled_from([0.5, 2.0]))
def test_active_set_inhibition_equals_the_dense_one(seed, dim, ratio, capacity, lam, scale):
    """Lever (a): the active-set product with any capacity (below the active count it falls back
    to the dense product) gives the dense loop's potentials; both forms (Gram for N <= 2 D,
    factorised beyond) and batched under vmap, where one member's overflow is the batch's."""
    n = dim * ratio
    phi = _dictionary(seed, dim, n)
    s = jnp.asarray(np.random.default_rng(seed + 1).normal(size=(3, dim)).astype(np.float32)) * scale
    dense = jax.vmap(lambda x: lca_potentials(phi, x, lam, 40, 0.1))(s)
    fast, steps = jax.vmap(lambda x: lca_potentials_fast(phi, x, lam, 40, 0.1, capacity=capacity))(s)
    np.testing.assert_allclose(fast, dense, rtol=0, atol=ACTIVE_ATOL)
    assert steps.tolist() == [40, 40, 40]


def test_no_lever_is_the_plain_loop_and_a_smooth_threshold_ignores_the_capacity(small):
    params, cfg = small
    phi = params["phi"]
    x = phi[:, 3] + 0.5 * phi[:, 7]
    plain = lca_potentials(phi, x, cfg["lam"], cfg["steps"], cfg["eta"])
    u, steps = lca_potentials_fast(phi, x, cfg["lam"], cfg["steps"], cfg["eta"])
    np.testing.assert_array_equal(u, plain)
    smooth = lca_potentials(phi, x, cfg["lam"], cfg["steps"], cfg["eta"], 0.05)
    np.testing.assert_array_equal(lca_potentials_fast(phi, x, cfg["lam"], cfg["steps"], cfg["eta"], 0.05,
                                                      capacity=4)[0], smooth)
    assert int(steps) == cfg["steps"]


def test_convergence_stop(small):
    """Lever (b): a tolerance no step reaches runs every step (the plain result); a loose one
    stops early, the potentials then within about tol / eta of the full run's."""
    params, cfg = small
    phi = params["phi"]
    x = phi[:, 3] + 0.5 * phi[:, 7]
    plain = lca_potentials(phi, x, cfg["lam"], cfg["steps"], cfg["eta"])
    u, steps = lca_potentials_fast(phi, x, cfg["lam"], cfg["steps"], cfg["eta"], tol=1e-12)
    assert int(steps) == cfg["steps"]
    np.testing.assert_allclose(u, plain, rtol=0, atol=1e-6)
    tol = 1e-2
    u, steps = lca_potentials_fast(phi, x, cfg["lam"], cfg["steps"], cfg["eta"], tol=tol)
    assert 1 < int(steps) < cfg["steps"]
    assert float(jnp.max(jnp.abs(u - plain))) < 2 * tol / cfg["eta"]


def test_survey_levers_agree_and_undefined_stays_nan(small):
    """The survey with the active set equals the plain one within float32 rounding (c2 to
    1e-4 in plane units: the statistic's resolution is ~1e-3); fewer evaluations per plane
    (lever c: 7 rows, 5 edge rows) stays within the resolution; a plane
    where the neuron never responds has no contour: NaN with every lever."""
    params, cfg = small
    # 2 neurons x 4 planes in one chunk of 8: the plain and the fewer-rows surveys are test_cost_benchmark_quick's
    # (the same calls: compiled once for both tests)
    base = geomlib.run_survey(params, "lca", 2, 2, 2, key=0, chunk_size=8, progress=False, **cfg)
    active = geomlib.run_survey(params, "lca", 2, 2, 2, key=0, chunk_size=8, progress=False, capacity=16, **cfg)
    fewer = geomlib.run_survey(params, "lca", 2, 2, 2, key=0, chunk_size=8, progress=False, n_b=7, n_edge=5, **cfg)
    assert active.config["capacity"] == 16 and "capacity" not in base.config
    np.testing.assert_allclose(active.c2, base.c2, rtol=0, atol=1e-4)
    np.testing.assert_array_equal(active.n_valid, base.n_valid)
    assert fewer.config["evaluations_per_plane"] == 2 * 5 + 2 * sv.EXIT_ITERATIONS + 7 * (2 + 4) == 56
    assert float(np.median(np.abs(fewer.c2 - base.c2))) < 2e-3
    assert float(np.max(np.abs(fewer.c2 - base.c2))) < 1e-2
    # a threshold no input in the window reaches: the response is 0 everywhere, no contour
    p = _take(geomlib.survey_planes(params, [0], 1, 0).planes, 0, 0)
    quiet = {**cfg, "lam": 100.0}
    for kw in ({}, {"capacity": 16}, {"tol": 1e-3}):
        f = geomlib.dictionary_neuron(params, 0, "lca", **quiet, **kw)
        assert math.isnan(float(geomlib.contour_bend(f, p).c2)), kw
    f = geomlib.dictionary_neuron(params, 0, "lca", **quiet)
    assert math.isnan(float(geomlib.contour_bend(f, p, n_b=7, n_edge=5).c2))


def test_lever_arguments_are_checked(small):
    params, cfg = small
    for kw, name in (({"capacity": 0}, "capacity"), ({"capacity": 2.5}, "capacity"), ({"tol": 0.0}, "tol"),
                     ({"tol": float("nan")}, "tol")):
        with pytest.raises((ValueError, TypeError), match=name):
            geomlib.dictionary_neuron(params, 0, "lca", **cfg, **kw)
        with pytest.raises((ValueError, TypeError), match=name):
            geomlib.run_survey(params, "lca", 1, 1, 1, progress=False, **cfg, **kw)


def test_cost_benchmark_quick():
    """``make bench``'s survey cost and lever tables (benchmarks/bench_survey.py) at tiny sizes."""
    from benchmarks import bench_survey as bs
    from benchmarks._timing import format_checks, format_table

    tables, checks, notes = bs.bench_survey_cost(quick=True, resolution=1e-3)
    assert len(tables) == 3 and len(checks) == 2 and notes
    for table in tables:
        assert table.rows and all(len(row) == len(table.headers) for row in table.rows)
        assert format_table(table.headers, table.rows)
    assert all(math.isfinite(c.value) and c.value > 0 for c in checks)
    assert format_checks(checks)
    active = [row for row in tables[2].rows if row[1] == "active set"]
    assert active and active[0][4] < 1e-4 and active[0][5]  # exact up to rounding, NaN where NaN
