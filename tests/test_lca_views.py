"""Views of sparse coding for the recurrent-neuron chapter: LCA trajectory, toy dictionary,
quadrature pairs, the energy model, contour turning, and their figures."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.tree_util import Partial
from matplotlib.figure import Figure

import geomlib
from geomlib import plots
from geomlib._src.lca_views import (
    TOY_LCA,
    ContourTurning,
    contour_turning,
    energy_neuron,
    lca_trajectory,
    quadrature_pair,
    toy_lca_dictionary,
)


def _dictionary(d=6, n=10, seed=0):
    phi = np.random.default_rng(seed).normal(size=(d, n))
    return jnp.asarray(phi / np.linalg.norm(phi, axis=0), jnp.float32)


# ----------------------------------------------------------------------------- trajectory


def test_trajectory_shapes_and_start():
    phi = _dictionary()
    traj = lca_trajectory(phi, jnp.ones(6), lam=0.1, steps=12, eta=0.1)
    assert traj.u.shape == traj.a.shape == (13, 10)
    assert traj.energy.shape == (13,)
    np.testing.assert_array_equal(traj.u[0], 0.0)
    # at u = 0 the code is 0 and the energy is |s|^2 / 2
    assert float(traj.energy[0]) == pytest.approx(3.0)


@pytest.mark.parametrize("temperature", [None, 0.05])
def test_trajectory_ends_at_lca_codes(temperature):
    phi = _dictionary()
    s = jnp.asarray(np.random.default_rng(1).normal(size=6), jnp.float32)
    traj = lca_trajectory(phi, s, 0.2, 40, 1 / 30, temperature)
    codes = geomlib.lca_codes(phi, s, 0.2, 40, 1 / 30, temperature)
    np.testing.assert_allclose(traj.a[-1], codes, rtol=1e-5, atol=1e-6)
    for k in (1, 7, 23):
        np.testing.assert_allclose(traj.a[k], geomlib.lca_codes(phi, s, 0.2, k, 1 / 30, temperature),
                                   rtol=1e-5, atol=1e-6)


def test_trajectory_energy_matches_lca_energy_and_descends():
    phi = _dictionary()
    s = jnp.asarray(np.random.default_rng(2).normal(size=6), jnp.float32)
    traj = lca_trajectory(phi, s, 0.1, 300, 0.05)
    for k in (0, 10, 300):
        assert float(traj.energy[k]) == pytest.approx(float(geomlib.lca_energy(phi, s, traj.a[k], 0.1)), rel=1e-5)
    # the LCA descends its energy (Rozell et al. 2008); small Euler steps keep that true step by step
    assert np.all(np.diff(np.asarray(traj.energy)) <= 1e-5)


def test_trajectory_single_neuron_closed_form():
    # one unit-norm element: u(t) = (phi.s)(1 - (1 - eta)^t) until threshold; fixed point a = phi.s - lam
    traj = lca_trajectory(jnp.eye(1), jnp.array([1.0]), lam=0.25, steps=500, eta=0.1)
    np.testing.assert_allclose(traj.u[:4, 0], 1 - 0.9 ** np.arange(4), rtol=1e-6)
    assert float(traj.a[-1, 0]) == pytest.approx(0.75, abs=1e-5)


def test_trajectory_under_jit_and_vmap_and_float64(x64):
    phi = jnp.asarray(_dictionary(), jnp.float64)
    s = jnp.asarray(np.random.default_rng(3).normal(size=(4, 6)))
    batched = jax.jit(jax.vmap(lambda x: lca_trajectory(phi, x, 0.1, 20, 0.1).energy))(s)
    assert batched.shape == (4, 21) and batched.dtype == jnp.float64
    np.testing.assert_allclose(batched[2], lca_trajectory(phi, s[2], 0.1, 20, 0.1).energy, rtol=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    ({"steps": 0}, "steps"), ({"steps": 2.5}, "steps"), ({"steps": True}, "steps"),
    ({"lam": -0.1}, "lam"), ({"eta": 0.0}, "eta"), ({"temperature": 0.0}, "temperature"),
])
def test_trajectory_bad_arguments(kwargs, match):
    args = {"lam": 0.1, "steps": 5, "eta": 0.1, **kwargs}
    with pytest.raises(ValueError, match=match):
        lca_trajectory(_dictionary(), jnp.ones(6), **args)


def test_trajectory_bad_shapes():
    with pytest.raises(ValueError, match=r"phi: expected .*\(D, N\), got shape \(6,\)"):
        lca_trajectory(jnp.ones(6), jnp.ones(6), 0.1)
    with pytest.raises(ValueError, match=r"s: expected an input of shape \(6,\), got shape \(5,\)"):
        lca_trajectory(_dictionary(), jnp.ones(5), 0.1)


# ----------------------------------------------------------------------------- toy dictionary


def test_toy_dictionary_columns():
    phi = np.asarray(toy_lca_dictionary()["phi"], np.float64)
    assert phi.shape == (2, 3)
    np.testing.assert_allclose(np.linalg.norm(phi, axis=0), 1.0, rtol=1e-6)
    np.testing.assert_allclose(phi.T @ phi[:, 0], [1.0, 2**-0.5, 2**-0.5], rtol=1e-6)
    assert TOY_LCA == {"lam": 0.05, "eta": 0.1, "steps": 50}


def test_toy_lca_converges_to_the_closed_form_fixed_point():
    # With neuron 0 and one competitor active: a0 = a - |b| - (2 - sqrt 2) lam (see the chapter).
    toy, lam = toy_lca_dictionary(), TOY_LCA["lam"]
    f = geomlib.dictionary_neuron(toy, 0, "lca", lam=lam, eta=0.1, steps=2000)
    pts = jnp.array([[0.8, 0.0], [0.8, 0.01], [0.8, 0.3], [0.8, -0.5], [0.3, 0.4], [-0.5, 0.0]])
    got = np.asarray(jax.vmap(f)(pts))
    a, b = np.asarray(pts).T
    want = np.maximum(0, np.minimum(a - lam, a - np.abs(b) - (2 - np.sqrt(2)) * lam))
    np.testing.assert_allclose(got, want, atol=1e-5)


# ----------------------------------------------------------------------------- quadrature pair


def test_quadrature_pair_of_a_gabor_is_its_sine_phase():
    y, x = np.mgrid[-8:8, -8:8] + 0.5
    envelope = np.exp(-(x**2 + y**2) / (2 * 3.0**2))
    k = 2 * np.pi * 0.2 * np.array([np.cos(0.6), np.sin(0.6)])
    cos_gabor = envelope * np.cos(k[0] * x + k[1] * y)
    sin_gabor = envelope * np.sin(k[0] * x + k[1] * y)
    q = quadrature_pair(cos_gabor.ravel())
    assert q.shape == (256,)
    assert np.linalg.norm(q) == pytest.approx(1.0)
    assert abs(q @ cos_gabor.ravel()) < 1e-10  # exactly orthogonal
    match = abs(q @ sin_gabor.ravel()) / np.linalg.norm(sin_gabor)
    assert match > 0.98


def test_quadrature_pair_twice_flips_the_sign():
    # H(H(w)) = -w for a w with no power on the line k . k0 = 0 (a pure grating)
    x = np.arange(16)
    w = np.cos(2 * np.pi * (2 * x[None, :] + 3 * x[:, None]) / 16)
    q2 = quadrature_pair(quadrature_pair(w))
    np.testing.assert_allclose(q2, -w / np.linalg.norm(w), atol=1e-12)


def test_quadrature_pair_bad_input():
    with pytest.raises(ValueError, match="shape"):
        quadrature_pair(np.ones(10))
    with pytest.raises(ValueError, match="shape"):
        quadrature_pair(np.ones(16), shape=(3, 5))
    with pytest.raises(ValueError, match=r"w: expected an image of shape \(D,\) or \(h, w\)"):
        quadrature_pair(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="nonzero"):
        quadrature_pair(np.zeros(16))
    with pytest.raises(ValueError, match="oriented"):
        quadrature_pair(np.ones(16))  # DC only


# ----------------------------------------------------------------------------- energy model


def test_energy_neuron_circles_have_curvature_minus_one_over_r():
    f = Partial(energy_neuron, {"w": jnp.eye(3)[:2]})
    p = geomlib.plane(jnp.array([1.0, 0.0, 0.0]), jnp.array([0.0, 1.0, 0.0]))
    pts = jnp.array([[0.5, 0.0], [1.0, 1.0], [-2.0, 0.5]])
    geo = geomlib.plane_geometry(f, p, pts)
    r = np.linalg.norm(np.asarray(pts), axis=1)
    np.testing.assert_allclose(geo.value, r, rtol=1e-6)
    np.testing.assert_allclose(geo.curvature, -1 / r, rtol=1e-4)


def test_energy_neuron_bad_filters():
    with pytest.raises(ValueError, match=r"params\['w'\]: expected filters of shape \(K, D\)"):
        energy_neuron({"w": jnp.ones(3)}, jnp.ones(3))


# ----------------------------------------------------------------------------- contour turning

_P2 = geomlib.plane(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]))


def _parabola(x, c):
    return x[0] - c * x[1] ** 2


@pytest.mark.parametrize("c", [0.25, -0.4])
def test_turning_of_a_parabola(c):
    b = np.linspace(-1.5, 1.5, 301)
    pts = np.stack([c * b**2, b], axis=-1)
    turn = contour_turning(Partial(_parabola, c=c), _P2, pts)
    assert isinstance(turn, ContourTurning)
    assert turn.turning == pytest.approx(2 * np.arctan(2 * c * 1.5), rel=1e-5)
    length = np.sum(np.linalg.norm(np.diff(pts, axis=0), axis=1))
    assert turn.length == pytest.approx(length)
    assert turn.mean_curvature == pytest.approx(turn.turning / length)
    # the order of the points does not matter
    assert contour_turning(Partial(_parabola, c=c), _P2, pts[::-1]).turning == pytest.approx(turn.turning)


def test_turning_sign_follows_the_response_not_the_picture():
    # the same curve a = 0.3 b^2 is exo-origin for g = a - 0.3 b^2 and endo-origin for -g
    b = np.linspace(-1, 1, 101)
    pts = np.stack([0.3 * b**2, b], axis=-1)
    up = contour_turning(lambda x: x[0] - 0.3 * x[1] ** 2, _P2, pts)
    down = contour_turning(lambda x: -x[0] + 0.3 * x[1] ** 2, _P2, pts)
    assert up.turning > 0 and down.turning == pytest.approx(-up.turning)


def test_turning_of_a_circle_arc_is_endo_origin():
    theta = np.linspace(-1.0, 1.0, 201)
    pts = 2.0 * np.stack([np.cos(theta), np.sin(theta)], axis=-1)
    turn = contour_turning(lambda x: jnp.sum(x**2), _P2, pts)
    assert turn.turning == pytest.approx(-2.0, rel=1e-5)
    assert turn.mean_curvature == pytest.approx(-0.5, rel=1e-3)


def test_turning_matches_the_integral_of_exact_curvature():
    # smooth LCA of the toy: integrate kappa ds densely and compare with the two-gradient formula
    toy = toy_lca_dictionary()
    f = geomlib.dictionary_neuron(toy, 0, "lca", lam=0.05, eta=0.1, steps=300, temperature=0.05)
    b = np.linspace(-0.6, 0.6, 601)
    level = float(f(jnp.array([0.7, 0.0])))
    # contour by bisection along a for each b
    lo, hi = np.zeros_like(b), np.full_like(b, 2.0)
    g = jax.jit(jax.vmap(lambda a, bb: f(jnp.stack([a, bb]))))
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        above = np.asarray(g(jnp.asarray(mid), jnp.asarray(b))) > level
        hi, lo = np.where(above, mid, hi), np.where(above, lo, mid)
    pts = np.stack([0.5 * (lo + hi), b], axis=-1)
    kappa = np.asarray(geomlib.plane_geometry(f, _P2, pts).curvature, np.float64)
    ds = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    integral = np.sum(0.5 * (kappa[1:] + kappa[:-1]) * ds)
    assert contour_turning(f, _P2, pts).turning == pytest.approx(integral, rel=2e-2)


def test_turning_bad_points_and_flat_response():
    with pytest.raises(ValueError, match=r"points: expected contour points of shape \(m, 2\)"):
        contour_turning(lambda x: x[0], _P2, np.ones((3, 3)))
    with pytest.raises(ValueError, match="at least 2 finite"):
        contour_turning(lambda x: x[0], _P2, np.array([[0.0, 0.0], [np.nan, 1.0]]))
    flat = contour_turning(lambda x: 0.0 * x[0], _P2, np.array([[0.0, 0.0], [0.0, 1.0]]))
    assert np.isnan(flat.turning) and np.isnan(flat.mean_curvature) and flat.length == 1.0


# ----------------------------------------------------------------------------- figures


def test_plot_energy_and_potentials_draw_on_given_axes():
    phi = _dictionary()
    s = jnp.asarray(np.random.default_rng(4).normal(size=(3, 6)), jnp.float32)
    traj = jax.vmap(lambda x: lca_trajectory(phi, x, 0.1, 60, 0.1))(s)
    ax = Figure().add_subplot()
    assert plots.plot_potentials(traj.u[0], 0.1, 0.1, ax=ax, top=3, marks=(20,)) is ax
    silent = jnp.concatenate([traj.energy, jnp.full((1, 61), 2.0)])  # one input that never moves
    ax = Figure().add_subplot()
    plots.plot_energy(silent, 0.1, ax=ax, marks=(10,), show=30)
    assert "1 with no active neuron left out" in ax.get_legend_handles_labels()[1][0]
    assert ax.get_yscale() == "log"


def test_plot_energy_bad_input():
    with pytest.raises(ValueError, match="energy"):
        plots.plot_energy(np.ones((2, 2, 2)), 0.1)
    with pytest.raises(ValueError, match="show"):
        plots.plot_energy(np.linspace(2, 1, 11), 0.1, show=10)
    with pytest.raises(ValueError, match="no neuron ever active"):
        plots.plot_energy(np.ones((2, 11)), 0.1)
    with pytest.raises(ValueError, match="u: expected potentials"):
        plots.plot_potentials(np.ones(5), 0.1, 0.1)


def test_bend_histograms_and_contour_fit_drawing():
    ax = Figure().add_subplot()
    bars = plots.plot_bend_histograms({"comparison": np.array([0.1, 0.2, np.nan]), "random": np.array([0.05])},
                                          ax=ax, kind="fit", bins=5)
    assert set(bars) == {"comparison", "random"}
    assert "1 without contour" in ax.get_legend_handles_labels()[1][0]
    assert "contour-fit c2" in ax.get_xlabel()
    with pytest.raises(ValueError, match="kind"):
        plots.plot_bend_histograms({"random": np.ones(3)}, ax=ax, kind="mystery")
    with pytest.raises(ValueError, match="finite"):
        plots.plot_bend_histograms({"random": np.full(3, np.nan)}, ax=ax)
    fit = geomlib.fit_contour_curvature(lambda x: x[0] - 0.2 * x[1] ** 2, _P2, 0.5, n=16, return_fit=True)
    ax = Figure().add_subplot()
    plots.draw_contour_fit(fit, ax=ax)
    assert len(ax.lines) == 2


def test_draw_dictionary():
    ax = Figure().add_subplot()
    plots.draw_dictionary(toy_lca_dictionary()["phi"], ax=ax, highlight=0)
    assert [t.get_text() for t in ax.texts if t.get_text()] == ["φ0", "φ1", "φ2"]
    with pytest.raises(ValueError, match=r"phi: expected a 2-D dictionary of shape \(2, N\)"):
        plots.draw_dictionary(np.ones((3, 2)), ax=ax)


# ---------------------------------------------------------------- argument checks (issue 15)

@pytest.mark.parametrize("params, x, exc, match", [
    ({"w": np.eye(4)[:2]}, None, TypeError, "x"), ({"w": np.eye(4)[:2]}, np.ones(3), ValueError, "x"),
    ({"w": np.eye(4)[:2]}, np.ones((4, 1)), ValueError, "x"), ({"w": np.eye(4)[:2]}, np.ones(4) + 1j, TypeError, "x"),
    ({"w": np.eye(4)[:2]}, np.full(4, np.nan), ValueError, "x"), (None, np.ones(4), ValueError, "params"),
    ({}, np.ones(4), ValueError, "params"),
])
def test_energy_neuron_arguments(params, x, exc, match):
    with pytest.raises(exc, match=match):
        geomlib.energy_neuron(params, x)


@pytest.mark.parametrize("w, shape, exc, match", [
    ("abc", None, TypeError, "w"), (np.ones(16) + 1j, None, TypeError, "w"), (np.ones(15), None, ValueError, "w"),
    (np.ones(16), "abc", ValueError, "shape"), (np.ones(16), (2, 2, 4), ValueError, "shape"),
])
def test_quadrature_pair_arguments(w, shape, exc, match):
    with pytest.raises(exc, match=match):
        geomlib.quadrature_pair(w, shape)


@pytest.mark.parametrize("points, exc", [("abc", TypeError), (np.zeros((3, 2)) + 1j, TypeError), (None, TypeError)])
def test_contour_turning_points(points, exc):
    p = geomlib.plane(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]))
    with pytest.raises(exc, match="points"):
        geomlib.contour_turning(lambda x: x[0] - 0.5 * x[1] ** 2, p, points)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"phi": None}, TypeError, r"^phi: expected an array of numbers"),
    ({"phi": "abc"}, TypeError, r"^phi: expected an array"),
    ({"phi": _dictionary() + 1j}, TypeError, r"^phi: expected real numbers, got complex"),
    ({"s": np.ones(6) + 1j}, TypeError, r"^s: expected real numbers, got complex"),
    ({"s": np.array([np.nan, 0, 0, 0, 0, 0.0])}, ValueError, r"^s: expected finite values"),
    ({"lam": None}, ValueError, r"^lam: expected a finite number >= 0"), ({"lam": True}, ValueError, r"^lam:"),
    ({"lam": float("inf")}, ValueError, r"^lam:"), ({"eta": "0.1"}, ValueError, r"^eta: expected a finite number"),
    ({"eta": 1.5}, ValueError, r"^eta: expected a finite number in \(0, 1\]"),
    ({"steps": 2 ** 31}, ValueError, r"^steps: expected an integer in \[1, 1000000\]"),
    ({"temperature": True}, ValueError, r"^temperature: expected None"),
    ({"temperature": float("inf")}, ValueError, r"^temperature:"),
])
def test_trajectory_checks_through_the_shared_lca_checks(kwargs, error, match):
    args = {"phi": _dictionary(), "s": np.ones(6), "lam": 0.1, "steps": 5, "eta": 0.1, **kwargs}
    with pytest.raises(error, match=match):
        lca_trajectory(**args)


def test_bend_vs_angle_draws_a_median_and_quartiles_per_angle_bin():
    from types import SimpleNamespace
    rng = np.random.default_rng(0)
    kind = np.array(["comparison"] * 40 + ["random"] * 10)
    angle = np.concatenate([rng.uniform(30, 90, (20, 40)), np.full((20, 10), 90.0)], axis=1)
    c2 = np.where(kind == "comparison", 0.5 - angle / 200, 0.05) + 0.01 * rng.standard_normal(angle.shape)
    c2[0, 0] = np.nan                                    # a plane without a contour is left out
    ax = Figure().add_subplot()
    lines = plots.plot_bend_vs_angle({"2x": SimpleNamespace(c2=c2, angle=angle, kind=kind),
                                      "4x": SimpleNamespace(c2=c2 + 0.1, angle=angle, kind=kind)},
                                     ax=ax, width=10, min_planes=20)
    x, y = lines["2x"].get_data()
    assert np.all(np.diff(x) == 10) and np.all(np.diff(y) < 0)      # closer competitors bend more
    np.testing.assert_allclose(y, 0.5 - np.asarray(x) / 200, atol=0.03)
    np.testing.assert_allclose(lines["4x"].get_data()[1], y + 0.1, atol=1e-12)
    assert len(ax.collections) == 2                                   # a quartile band per survey
    dashed = [ln for ln in ax.lines if ln.get_linestyle() == "--" and len(ln.get_ydata()) == 2]
    assert sorted(round(ln.get_ydata()[0], 2) for ln in dashed) == [0.05, 0.15]   # random medians
    assert "2x (n = 799)" in ax.get_legend_handles_labels()[1] and "angle" in ax.get_xlabel()
    with pytest.raises(ValueError, match="surveys: expected at least one"):
        plots.plot_bend_vs_angle({}, ax=ax)
    with pytest.raises(ValueError, match="width"):
        plots.plot_bend_vs_angle({"2x": SimpleNamespace(c2=c2, angle=angle, kind=kind)}, ax=ax, width=0)
    with pytest.raises(ValueError, match="min_planes"):
        plots.plot_bend_vs_angle({"2x": SimpleNamespace(c2=c2, angle=angle, kind=kind)}, ax=ax, min_planes=0)
    with pytest.raises(ValueError, match=r"surveys\['x'\]: expected a survey"):
        plots.plot_bend_vs_angle({"x": np.ones(3)}, ax=ax)
    with pytest.raises(ValueError, match="finite c2"):
        plots.plot_bend_vs_angle({"2x": SimpleNamespace(c2=c2 * np.nan, angle=angle, kind=kind)}, ax=ax)
