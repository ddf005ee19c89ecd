"""The mechanism (chapter 6): gradient ascent to a level, the curvature along its path, the 2-D
toy of Paiton et al. (2020, fig. 6), attacks drawn in the plane of a digit and its target's
template, and the explorers over them.

Closed forms: a linear unit's path is a straight segment along its weight with straight
contours (curvature 0); an LCA of an orthonormal dictionary has no competition, so at
lambda = 0 it is linear (hard threshold, where active) or pointwise (smooth threshold): its
paths are straight as well. Only a competing (overcomplete) dictionary bends them.
"""

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import pytest
from jax.tree_util import Partial

matplotlib.use("Agg")

import geomlib  # noqa: E402
from geomlib import plots, widgets  # noqa: E402

ROT = np.array([[np.cos(0.4), -np.sin(0.4)], [np.sin(0.4), np.cos(0.4)]])  # an orthonormal 2-D dictionary


def _linear(w, x):
    return x @ w


def _straightness(path, direction):
    """Largest distance of the path's points from the line through its start along ``direction``."""
    d = direction / np.linalg.norm(direction)
    rel = path - path[0]
    return float(np.max(np.linalg.norm(rel - np.outer(rel @ d, d), axis=1)))


# ----------------------------------------------------------------------------- ascent_to_level
def test_linear_path_is_a_straight_segment_along_the_weight():
    w = np.array([0.3, -1.2, 0.5, 2.0])
    x0 = np.array([0.1, 0.2, -0.3, 0.0])
    level, alpha = 2.0, 0.05
    p = geomlib.ascent_to_level(Partial(_linear, jnp.asarray(w)), x0, level, alpha, 500)
    assert p.reached
    steps = int(np.ceil((level - x0 @ w) / (alpha * np.linalg.norm(w)) - 1e-6))
    assert len(p.path) == steps + 1
    assert _straightness(p.path, w) < 1e-5
    step = alpha * w / np.linalg.norm(w)
    np.testing.assert_allclose(np.diff(p.path, axis=0), np.tile(step, (steps, 1)), atol=1e-6)
    assert p.length == pytest.approx(p.distance, rel=1e-5) and p.length == pytest.approx(steps * alpha, rel=1e-5)


def test_already_at_the_level_and_max_steps():
    f = Partial(_linear, jnp.array([1.0, 0.0]))
    p = geomlib.ascent_to_level(f, np.array([3.0, 0.0]), 1.0, 0.1, 10)
    assert p.reached and p.path.shape == (1, 2) and p.length == 0.0
    q = geomlib.ascent_to_level(f, np.array([0.0, 0.0]), 1.0, 0.1, 4)  # 4 steps reach 0.4 only
    assert not q.reached and len(q.path) == 5 and q.length == pytest.approx(0.4, rel=1e-5)


def test_zero_gradient_stops_and_clip_keeps_the_box():
    flat = geomlib.ascent_to_level(lambda x: jnp.sum(jax.nn.relu(x)), -np.ones(3), 1.0, 0.1, 20)
    assert not flat.reached and flat.path.shape == (1, 3)  # silent ReLU: no way up
    box = geomlib.ascent_to_level(Partial(_linear, jnp.array([1.0, 1.0])), np.array([0.95, 0.5]), 5.0, 0.2, 30,
                                  clip=True)
    assert box.path.min() >= 0.0 and box.path.max() <= 1.0 and not box.reached


@pytest.mark.parametrize("bad, match", [
    (dict(x=np.zeros((2, 2))), "x: expected one input"),
    (dict(f=lambda x: x), "f: expected a one-image response"),
    (dict(step_size=0.0), "step_size"),
    (dict(max_steps=0), "max_steps"),
    (dict(level=float("nan")), "level"),
    (dict(f=lambda x: jnp.log(x[0] - 5.0)), "f: expected a finite response"),
])
def test_ascent_bad_arguments(bad, match):
    args = dict(f=Partial(_linear, jnp.array([1.0, 0.0])), x=np.zeros(2), level=1.0, step_size=0.1, max_steps=5)
    args.update(bad)
    with pytest.raises((ValueError, TypeError), match=match):
        geomlib.ascent_to_level(args["f"], args["x"], args["level"], args["step_size"], args["max_steps"])


# ----------------------------------------------------------------------------- curvature along a path
def test_path_curvature_closed_forms():
    # g = a - c b^2: kappa = +2c at b = 0 (exo-origin); a circle's contour |x| = r: -1/r (endo-origin)
    k = geomlib.path_contour_curvature(lambda x: x[0] - 0.3 * x[1] ** 2, np.array([[0.2, 0.0], [1.0, 0.0]]))
    np.testing.assert_allclose(k, [0.6, 0.6], atol=1e-5)
    k = geomlib.path_contour_curvature(lambda x: jnp.linalg.norm(x), np.array([[2.0, 0.0], [0.0, 0.5]]))
    np.testing.assert_allclose(k, [-0.5, -2.0], atol=1e-4)
    points = np.random.default_rng(0).normal(size=(5, 2))
    lin = geomlib.path_contour_curvature(Partial(_linear, jnp.array([1.0, 2.0])), points)
    np.testing.assert_allclose(lin, 0.0, atol=1e-6)


def test_path_curvature_in_a_plane_of_higher_dimension():
    p = geomlib.plane(jnp.eye(3)[0], jnp.eye(3)[1], origin=jnp.array([0.0, 0.0, 1.0]))
    k = geomlib.path_contour_curvature(lambda x: x[0] - 0.25 * x[1] ** 2 + x[2], np.array([[0.5, 0.0, 1.0]]), p)
    np.testing.assert_allclose(k, [0.5], atol=1e-5)
    with pytest.raises(ValueError, match="in_plane"):
        geomlib.path_contour_curvature(lambda x: x[0], np.zeros((2, 3)))


# ----------------------------------------------------------------------------- the 2-D toy
@pytest.fixture(scope="module")
def coords():
    return np.asarray(geomlib.grid(9, 1.5))


def test_toy_linear_and_relu_paths_are_straight_with_zero_curvature(coords):
    start = np.array([np.cos(np.radians(110)), np.sin(np.radians(110))])
    toy = geomlib.toy_attacks(geomlib.toy_lca_dictionary(), 0, 0.05, start, coords, max_steps=150)
    phi0 = np.array([1.0, 0.0])
    for name in ("linear", "ReLU"):
        t = toy[name]
        assert t.attack.reached
        assert _straightness(t.attack.path, phi0) < 1e-5
        np.testing.assert_allclose(t.curvature, 0.0, atol=1e-5)
        # straight contours: the response depends on phi0 . x only, so every grid row is the same
        np.testing.assert_allclose(t.value, np.broadcast_to(t.value[:1], t.value.shape), atol=1e-5)
    assert toy["linear"].attack.length == pytest.approx(toy["linear"].attack.distance, rel=1e-5)
    np.testing.assert_allclose(toy["linear"].response[-1], 0.5, atol=0.02 + 1e-6)


def test_toy_lca_path_swings_toward_the_target_atom(coords):
    start = np.array([np.cos(np.radians(110)), np.sin(np.radians(110))])
    toy = geomlib.toy_attacks(geomlib.toy_lca_dictionary(), 0, 0.05, start, coords, max_steps=150)
    lca, lin = toy["LCA"].attack, toy["linear"].attack
    assert lca.reached and lca.length > 1.5 * lin.length
    assert lca.length > lca.distance + 0.02  # the path bends
    angle = lambda p: np.degrees(np.arctan2(abs(p[-1][1]), p[-1][0]))  # noqa: E731
    assert angle(lca.path) < 15 < 45 < angle(lin.path)
    assert np.nanmax(toy["LCA"].curvature) > 1.0  # exo-origin where a competitor switches off


def test_orthonormal_lca_at_lambda_zero_is_linear():
    params = {"phi": jnp.asarray(ROT, jnp.float32)}
    steps, eta = 50, 0.1
    x = np.array([[0.8, 0.3], [0.2, 0.9], [1.1, -0.2]])
    f = geomlib.dictionary_neuron(params, 0, "lca", lam=0.0, steps=steps, eta=eta)  # hard threshold
    c = 1 - (1 - eta) ** steps  # no competition: u_i(t) = (1 - (1 - eta)^t) phi_i . x
    want = c * np.maximum(x @ ROT[:, 0], 0)
    np.testing.assert_allclose([float(f(jnp.asarray(v, jnp.float32))) for v in x], want, rtol=1e-5, atol=1e-6)
    start = np.array([0.3, 0.4])
    assert start @ ROT[:, 0] > 0
    p = geomlib.ascent_to_level(f, start, 1.0, 0.05, 100)
    assert p.reached and _straightness(p.path, ROT[:, 0]) < 1e-5
    np.testing.assert_allclose(geomlib.path_contour_curvature(f, p.path), 0.0, atol=1e-5)


def test_orthonormal_smooth_lca_has_straight_paths(coords):
    """The toy's smooth LCA on an orthonormal dictionary: no competition, a pointwise unit."""
    toy = geomlib.toy_attacks({"phi": jnp.asarray(ROT, jnp.float32)}, 1, 0.0, np.array([0.2, -0.5]), coords)
    lca = toy["LCA"]
    assert lca.attack.reached and _straightness(lca.attack.path, ROT[:, 1]) < 1e-4
    np.testing.assert_allclose(lca.curvature, 0.0, atol=1e-3)


def test_toy_circuits_share_the_weights():
    c = geomlib.toy_circuits(geomlib.toy_lca_dictionary(), 1, 0.1, temperature=0.01)
    assert list(c) == ["LCA", "ReLU", "linear"]
    x = jnp.array([0.3, 0.9])
    w = np.array([1.0, 1.0]) / np.sqrt(2)
    assert float(c["linear"](x)) == pytest.approx(float(np.asarray(x) @ w), abs=1e-6)
    assert float(c["ReLU"](x)) == pytest.approx(float(np.asarray(x) @ w) - 0.1, abs=1e-3)
    with pytest.raises(ValueError, match="lam"):
        geomlib.toy_circuits(geomlib.toy_lca_dictionary(), 0, -0.1)
    with pytest.raises(ValueError, match="2 dimensions"):
        geomlib.toy_attacks({"phi": jnp.eye(3)}, 0, 0.1, np.zeros(2), np.zeros((3, 3, 2)))


# ----------------------------------------------------------------------------- attacks in a digit plane
def _fake_logits(w, b, x):
    return w @ x + b


@pytest.fixture(scope="module")
def fake_models():
    rng = np.random.default_rng(1)
    d, k = 16, 3
    models = {}
    for name in ("lca-fake", "mlp-fake"):
        w, b = jnp.asarray(rng.normal(size=(k, d)), jnp.float32), jnp.asarray(rng.normal(size=k), jnp.float32)
        models[name] = Partial(_fake_logits, w, b)
    images = rng.uniform(0.2, 0.8, size=(6, d))
    labels = np.array([int(np.argmax(models["mlp-fake"](jnp.asarray(v, jnp.float32)))) for v in images])
    means = rng.uniform(0, 1, size=(k, d))
    return models, images, labels, means


def test_plane_attacks_geometry(fake_models):
    models, images, labels, means = fake_models
    x, s = images[0], int(labels[0])
    t = (s + 1) % 3
    views = geomlib.plane_attacks(models, x, t, means[t], means[t] - means[s], n=7, max_steps=200)
    for name, v in views.items():
        # the plane: origin x, u toward the template, both images in it
        np.testing.assert_allclose(np.asarray(v.plane.origin), x, atol=1e-6)
        template = np.asarray(v.plane.embed(jnp.asarray(v.template_ab, jnp.float32)))
        np.testing.assert_allclose(template, means[t], atol=1e-5)
        # the value map is the target's logit at the embedded grid points
        w = np.asarray(models[name].args[0])
        pts = np.asarray(v.plane.embed(jnp.asarray(v.coords, jnp.float32)))
        np.testing.assert_allclose(v.value, pts @ w[t] + np.asarray(models[name].args[1])[t], rtol=1e-4, atol=1e-4)
        # the path: projected coordinates, cosines as template_cosine, the stop at p_t >= 0.9
        ab = np.asarray(geomlib.path_plane_coordinates(v.attack.path, v.plane))
        np.testing.assert_allclose(v.path_ab, ab, atol=1e-5)
        cos = geomlib.template_cosine(v.attack.path[1:], np.tile(x, (len(v.attack.path) - 1, 1)),
                                      np.full(len(v.attack.path) - 1, s), np.full(len(v.attack.path) - 1, t), means)
        np.testing.assert_allclose(v.cosine, np.asarray(cos), atol=1e-5)
        p = jax.nn.softmax(models[name](jnp.asarray(v.attack.path[-1], jnp.float32)))
        assert v.attack.reached == bool(p[t] >= 0.9)
        assert 0.0 <= v.in_plane <= 1.0 + 1e-9
    assert len({v.coords.tobytes() for v in views.values()}) == 1  # one window for every model


@pytest.mark.parametrize("bad, match", [
    (dict(target=5), "target"),
    (dict(template="x"), "template"),
    (dict(confidence=1.0), "confidence"),
    (dict(n=2), "n"),
    (dict(models={}), "models"),
])
def test_plane_attacks_bad_arguments(fake_models, bad, match):
    models, images, labels, means = fake_models
    args = dict(models=models, x=images[0], target=1, template=means[1], direction=means[1] - means[0],
                confidence=0.9, n=5)
    args.update(bad)
    if isinstance(args["template"], str):
        args["template"] = args["x"]
    with pytest.raises((ValueError, TypeError), match=match):
        geomlib.plane_attacks(args["models"], args["x"], args["target"], args["template"], args["direction"],
                              confidence=args["confidence"], n=args["n"])


# ----------------------------------------------------------------------------- figures and explorers
def test_plots_draw_every_panel(coords, fake_models):
    # max_steps of the toy_attacks tests above: their compiled attack is reused
    toy = geomlib.toy_attacks(geomlib.toy_lca_dictionary(), 0, 0.1, np.array([0.0, 1.0]), coords, max_steps=150)
    fig = plots.plot_toy_mechanism(toy, coords, geomlib.toy_lca_dictionary()["phi"], 0, level=0.5)
    assert len(fig.axes) == 3 + 2 + 3  # maps, line panels, colour bars
    models, images, labels, means = fake_models
    views = geomlib.plane_attacks(models, images[0], 1, means[1], means[1] - means[0], n=5)
    fig = plots.plot_digit_mechanism(views, source=0, target=1)
    assert len(fig.axes) == 2 + 1 + 2
    assert any("logit of class 1" in ax.get_ylabel() for ax in fig.axes)  # colour bars, not probabilities


@pytest.fixture(scope="module")
def toy_explorer():
    # the grid and max_steps of the toy_attacks tests above: their compiled attack is reused (with its own
    # max_steps the explorer compiled the attack again: ~20 s)
    ex = widgets.toy_mechanism_explorer(n=9, lambdas=(0.0, 0.05, 0.3), angles=(60.0, 110.0, 150.0), max_steps=150,
                                        dpi=30)
    yield ex
    ex.close()


def test_toy_explorer_defaults_and_classes(toy_explorer):
    ex = toy_explorer
    assert ex.values == {"lam": 0.05, "angle": 110.0, "target": 0}
    assert {c for w in ex.sliders.values() for c in w._dom_classes} == {"rg-slider-lam", "rg-slider-angle",
                                                                       "rg-slider-target"}
    assert "rg-figure" in ex.image._dom_classes and ex.png[:4] == b"\x89PNG"
    bundle = ex._repr_mimebundle_()
    assert "image/png" in bundle and "application/vnd.jupyter.widget-view+json" in bundle
    assert "path length" in ex.readout.value


def test_toy_explorer_every_slider_redraws(toy_explorer):
    ex = toy_explorer
    ex.update(lam=0.05, angle=110.0, target=0)
    for name, value in (("lam", 0.3), ("angle", 60.0), ("target", 2)):
        before = ex.png
        ex.sliders[name].value = value  # outside a kernel: renders at once
        assert ex.png != before, name
        assert ex.last_error is None
    want = geomlib.toy_attacks(geomlib.toy_lca_dictionary(), 2, 0.3, np.array([np.cos(np.radians(60)),
                               np.sin(np.radians(60))]), np.asarray(geomlib.grid(9, 1.5)), max_steps=150)
    np.testing.assert_allclose(ex.result["LCA"].attack.path, want["LCA"].attack.path, atol=1e-6)
    with pytest.raises(ValueError, match="update"):
        ex.update(theta=3.0)


def test_digit_explorer_sliders_and_same_class_target(fake_models):
    models, images, labels, means = fake_models
    ex = widgets.digit_mechanism_explorer(models, images, labels, [0, 1, 2], means, n=5, dpi=30)
    try:
        assert set(ex.sliders) == {"digit", "target"}
        assert ex.values["target"] == (labels[0] + 1) % 3  # + 3 mod 3 would be its own class
        before = ex.png
        ex.update(target=int(labels[0]))  # its own class: nothing to attack, said in the figure
        assert ex.result is None and ex.png != before
        ex.update(target=(int(labels[0]) + 1) % 3)
        assert set(ex.result) == set(models)
        other = next(i for i in (1, 2) if labels[i] != ex.values["target"])
        before = ex.png
        ex.sliders["digit"].value = other
        assert ex.png != before and ex.last_error is None
    finally:
        ex.close()


def test_explorer_reports_a_failing_draw():
    calls = []

    def draw(fig, values):
        calls.append(values)
        if values["k"] == 2:
            raise RuntimeError("deliberate")
        fig.clear()
        fig.add_subplot().plot([0, values["k"]])
        return values["k"], f"k = {values['k']}"

    ex = widgets.MechanismExplorer(draw, {"k": ("k", [1, 2, 3], 1)}, figsize=(2, 2), dpi=20)
    try:
        assert ex.result == 1 and ex.readout.value == "k = 1"
        ex.sliders["k"].value = 2
        assert isinstance(ex.last_error, RuntimeError) and "deliberate" in ex.status.value
        ex.sliders["k"].value = 3
        assert ex.last_error is None and ex.result == 3
    finally:
        ex.close()
    with pytest.raises(ValueError, match="sliders"):
        widgets.MechanismExplorer(draw, {"k": ("k", [1, 2], 5)})
