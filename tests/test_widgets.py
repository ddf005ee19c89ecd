"""In-kernel robustness of the PlaneExplorer widget, and the static plot helpers."""

import base64
import functools
import io
import time

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import PIL.Image
import pytest
import traitlets
from jax.tree_util import Partial
from matplotlib.figure import Figure

matplotlib.use("Agg")

import geomlib  # noqa: E402
from geomlib import plots, widgets  # noqa: E402
from geomlib.widgets import PlaneExplorer  # noqa: E402

D = 50
N = 16  # small grid: the tests drive hundreds of renders


def _quadratic(params, x):
    """A curved neuron: w.x - 1/2 sum_i q_i x_i^2 (bent, non-trivial contours)."""
    return params["w"] @ x - 0.5 * jnp.sum(params["q"] * x**2)


@pytest.fixture(scope="module")
def setup():
    k = jax.random.split(jax.random.key(0), 5)
    w = jax.random.normal(k[0], (D,)) / np.sqrt(D)
    lin = {"w": w, "b": jnp.asarray(0.3)}
    neurons = {nl: Partial(functools.partial(geomlib.pointwise_neuron, nonlinearity=nl), lin)
               for nl in ("linear", "relu", "sigmoid")}
    neurons["mlp"] = Partial(geomlib.mlp, geomlib.init_mlp(k[1], [D, 8, 1]))
    neurons["quadratic"] = Partial(_quadratic, {"w": w, "q": jnp.abs(jax.random.normal(k[2], (D,)))})
    v1, v2 = jax.random.normal(k[3], (D,)), jax.random.normal(k[4], (D,))
    return neurons, w, v1, v2


@pytest.fixture
def explorer(setup):
    neurons, w, v1, v2 = setup
    ex = PlaneExplorer(neurons, w, v1, v2, n=N, dpi=40, neuron="quadratic")
    yield ex
    ex.close()


def _check_state(ex):
    assert ex.last_error is None, repr(ex.last_error)
    assert ex.png[:8] == b"\x89PNG\r\n\x1a\n" and ex.image.value == ex.png
    assert ex.field.shape == (N, N) and ex.coords.shape == (N, N, 2)
    assert np.all(np.isfinite(ex.geometry.value))
    if ex.view == "response":  # the gradient only where arrows are drawn
        assert ex.geometry.grad is None and ex.geometry.hess is None
        assert ex.arrows_grad.shape == ex.arrows_coords.shape and np.all(np.isfinite(ex.arrows_grad))
    else:
        assert ex.arrows_grad is None and np.all(np.isfinite(ex.geometry.grad))
        assert (ex.geometry.hess is None) == (ex.view == "grid")
    if ex.view == "response":
        assert np.all(np.isfinite(ex.field))
    else:  # curvature: finite, or NaN exactly where the image is masked
        assert not np.any(np.isinf(ex.field))
        mask = np.ma.getmaskarray(ex._image.get_array())
        np.testing.assert_array_equal(mask, np.isnan(ex.field))


def _slider_values(slider, rng, n_random=3):
    inner = np.linspace(slider.min, slider.max, 5)[1:-1]
    return [slider.min, slider.max, *inner, *rng.uniform(slider.min, slider.max, n_random)]


@pytest.mark.parametrize("view", list(widgets.VIEWS))
def test_every_slider_over_its_whole_range(explorer, view):
    rng = np.random.default_rng(0)
    explorer.update(view=view)
    for slider in (explorer.theta_slider, explorer.origin_a_slider, explorer.origin_b_slider):
        for value in _slider_values(slider, rng):
            before, old = explorer.png, slider.value
            slider.value = float(value)  # the observer path a browser drag takes
            _check_state(explorer)
            if not np.isclose(slider.value, old):
                assert explorer.png != before, f"{slider.description} = {value}: figure did not change"
        slider.value = float(np.clip(0.0, slider.min, slider.max))


def test_ranges_are_the_modules(explorer):
    lo, hi, step = widgets.THETA_RANGE
    assert (explorer.theta_slider.min, explorer.theta_slider.max, explorer.theta_slider.step) == (lo, hi, step)
    span = widgets.ORIGIN_SPAN * explorer.extent
    for s in (explorer.origin_a_slider, explorer.origin_b_slider):
        assert (s.min, s.max) == (-span, span)
        assert np.isclose(s.step, explorer.extent / widgets.ORIGIN_STEPS)


def test_every_dropdown_option(explorer):
    for neuron in explorer.neuron_dropdown.options:
        explorer.neuron_dropdown.value = neuron
        for _, view in explorer.view_dropdown.options:
            explorer.view_dropdown.value = view
            _check_state(explorer)
            explorer.update(theta=widgets.THETA_RANGE[1], origin_a=explorer.origin_a_slider.max)
            _check_state(explorer)
            explorer.update(theta=0.0, origin_a=0.0)


def test_random_combinations(explorer):
    rng = np.random.default_rng(1)
    names, views = list(explorer.neurons), list(widgets.VIEWS)
    for _ in range(12):
        explorer.update(theta=rng.uniform(*widgets.THETA_RANGE[:2]),
                        origin_a=rng.uniform(explorer.origin_a_slider.min, explorer.origin_a_slider.max),
                        origin_b=rng.uniform(explorer.origin_b_slider.min, explorer.origin_b_slider.max),
                        neuron=names[rng.integers(len(names))], view=views[rng.integers(len(views))])
        _check_state(explorer)


def test_relu_curvature_is_nan_masked_where_gradient_vanishes(explorer):
    explorer.update(neuron="relu", view="exact")
    _check_state(explorer)
    flat = np.all(explorer.geometry.grad == 0, axis=-1)
    assert flat.any() and np.all(np.isnan(explorer.field[flat]))
    np.testing.assert_allclose(explorer.field[~flat], 0.0, atol=1e-4)


def test_field_matches_the_library(explorer, setup):
    neurons = setup[0]
    explorer.update(theta=33.0, origin_a=0.4, origin_b=-0.7, view="response")
    p = explorer.plane
    np.testing.assert_allclose(np.linalg.norm(p.v), 1.0, rtol=1e-5)
    np.testing.assert_allclose(float(p.u @ p.v), 0.0, atol=1e-6)
    want = geomlib.plane_values(neurons["quadratic"], p, explorer.coords)
    np.testing.assert_allclose(explorer.field, np.asarray(want), rtol=1e-5, atol=1e-6)
    explorer.update(view="grid")
    want = geomlib.grid_curvature(neurons["quadratic"], p, explorer.coords)
    np.testing.assert_allclose(explorer.field, np.asarray(want), rtol=1e-4, atol=1e-5)


def test_vertical_axis_rotates_between_orthonormal_directions(explorer):
    u = explorer.u
    for theta in (0.0, 45.0, 90.0, 180.0):
        explorer.update(theta=theta)
        v = explorer.v
        assert abs(v @ u) < 1e-12 and abs(np.linalg.norm(v) - 1) < 1e-12
    explorer.update(theta=0.0)
    np.testing.assert_allclose(explorer.v, explorer.v1)
    explorer.update(theta=90.0)
    np.testing.assert_allclose(explorer.v, explorer.v2, atol=1e-12)


def test_update_api_and_timings(explorer):
    n = len(explorer.timings)
    timing = explorer.update(theta=10.0)
    assert set(timing) == {"compute", "artists", "draw", "png", "total", "grid", "preview"}
    assert timing["grid"] == N and timing["preview"] is False  # update() always draws at full resolution
    assert all(t >= 0 for t in timing.values()) and len(explorer.timings) == n + 1
    assert explorer.theta == 10.0 and explorer.neuron == "quadratic" and explorer.view == "response"
    with pytest.raises(ValueError, match="expected keys"):
        explorer.update(phi=1.0)
    with pytest.raises(traitlets.TraitError):
        explorer.update(neuron="no such neuron")


def test_failing_neuron_is_reported_not_raised(setup):
    neurons, w, v1, v2 = setup

    def broken(x):
        raise RuntimeError("boom")

    ex = PlaneExplorer({"ok": neurons["linear"], "broken": broken}, w, v1, v2, n=N, dpi=40)
    ex.neuron_dropdown.value = "broken"
    assert isinstance(ex.last_error, RuntimeError) and "boom" in ex.status.value
    ex.neuron_dropdown.value = "ok"
    assert ex.last_error is None
    ex.close()


def test_css_classes_for_browser_tests(explorer):
    for w, cls in ((explorer.theta_slider, "rg-slider-theta"), (explorer.origin_a_slider, "rg-slider-origin-a"),
                   (explorer.origin_b_slider, "rg-slider-origin-b"), (explorer.neuron_dropdown, "rg-dropdown-neuron"),
                   (explorer.view_dropdown, "rg-dropdown-view"), (explorer.image, "rg-figure")):
        assert cls in w._dom_classes


def test_mimebundle_has_widget_view_and_png(explorer):
    data = explorer._repr_mimebundle_()
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.model_id
    assert base64.b64decode(data["image/png"]) == explorer.png  # no side panels: the title has the values


def test_one_figure_updated_in_place(explorer):
    fig, image, quiver = explorer.figure, explorer._image, explorer._quiver
    for view in widgets.VIEWS:
        explorer.update(view=view, theta=20.0)
    assert explorer.figure is fig and explorer._image is image and explorer._quiver is quiver
    assert len(fig.axes) == 2  # main axes + colorbar (D = 50: no side panels), nothing accumulates
    assert len(explorer._ax.collections) <= 3  # quiver, contour lines, boundary line


def test_png_encoder_is_lossless():
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (7, 5, 4), dtype=np.uint8)
    img = PIL.Image.open(io.BytesIO(widgets.encode_png(rgba)))
    assert img.mode == "RGB" and img.size == (5, 7)
    np.testing.assert_array_equal(np.asarray(img), rgba[..., :3])


def _pixels(png):
    return np.asarray(PIL.Image.open(io.BytesIO(png)).convert("RGB"))


# ------------------------------------------------- images (D = side**2): the side panels

SIDE = 7


@pytest.fixture(scope="module")
def image_setup():
    """Neurons on 7 x 7 "images"; the plane contains the MEI of the pointwise neurons, so
    their field is the same for every theta and vertical origin (as in notebook 1)."""
    d = SIDE * SIDE
    k = jax.random.split(jax.random.key(1), 4)
    w = jax.random.normal(k[0], (d,)) / np.sqrt(d)
    lin = {"w": w, "b": jnp.asarray(0.3)}
    neurons = {nl: Partial(functools.partial(geomlib.pointwise_neuron, nonlinearity=nl), lin)
               for nl in ("linear", "sigmoid")}
    neurons["quadratic"] = Partial(_quadratic, {"w": w, "q": jnp.abs(jax.random.normal(k[1], (d,)))})
    return neurons, w, jax.random.normal(k[2], (d,)), jax.random.normal(k[3], (d,))


@pytest.fixture
def imaged(image_setup):
    neurons, w, v1, v2 = image_setup
    ex = PlaneExplorer(neurons, w, v1, v2, n=N, dpi=40, labels=("MEI", "noise", "other"))
    yield ex
    ex.close()


def test_panels_show_the_axes_and_the_window(imaged):
    ex = imaged
    assert len(ex.figure.axes) == 5  # plane, colorbar, v(theta), u, window
    np.testing.assert_allclose(ex._v_image.get_array(), ex.v1.reshape(SIDE, SIDE))
    ex.update(theta=90.0, origin_a=0.5, origin_b=-1.0)
    np.testing.assert_allclose(ex._v_image.get_array(), ex.v.reshape(SIDE, SIDE))
    np.testing.assert_allclose(ex._v_image.get_array(), ex.v2.reshape(SIDE, SIDE), atol=1e-12)
    x, y = ex._window_origin.get_data()
    assert (x[0], y[0]) == (0.5, -1.0)
    xs, ys = ex._window.get_data()
    np.testing.assert_allclose([min(xs), max(xs), min(ys), max(ys)],
                               [0.5 - ex.extent, 0.5 + ex.extent, -1.0 - ex.extent, -1.0 + ex.extent])
    assert "θ = 90°" in ex.readout.value and "0.50 u" in ex.readout.value and "-1.00 v(θ)" in ex.readout.value


@pytest.mark.parametrize("neuron", ["linear", "sigmoid"])
def test_every_slider_changes_the_image_where_the_field_does_not(imaged, neuron):
    """What the browser test checks, here in the kernel: for a plane through the MEI the
    field ignores theta and the vertical origin; the figure must still change (v(theta)
    image, window map)."""
    ex = imaged
    ex.update(neuron=neuron)
    for key, value in (("theta", 40.0), ("origin_b", 1.0), ("origin_a", -0.5), ("theta", 130.0)):
        field, png = ex.field.copy(), ex.png
        ex.update(**{key: value})
        assert ex.png != png, f"{key} = {value}: figure did not change"
        if key != "origin_a":
            np.testing.assert_allclose(ex.field, field, rtol=1e-5, atol=1e-5)


def test_blitted_frame_equals_a_fresh_render(imaged, image_setup):
    """The cached backgrounds and partial redraws leave nothing stale: after a tour of
    every view and neuron, the frame is the one a new explorer draws for the same state."""
    ex = imaged
    rng = np.random.default_rng(2)
    neurons, w, v1, v2 = image_setup
    # the linear and sigmoid curvature maps are both flat (same colour scale, same label):
    # only the title tells them apart
    for final in ("quadratic", "response"), ("sigmoid", "exact"), ("linear", "grid"):
        for neuron in ex.neurons:
            for view in widgets.VIEWS:
                ex.update(neuron=neuron, view=view, theta=rng.uniform(0, 180), origin_a=rng.uniform(-1, 1),
                          origin_b=rng.uniform(-1, 1))
        state = dict(theta=33.0, origin_a=0.25, origin_b=-0.5, neuron=final[0], view=final[1])
        ex.update(**state)
        fresh = PlaneExplorer(neurons, w, v1, v2, n=N, dpi=40, labels=("MEI", "noise", "other"))
        try:
            fresh.update(**state)
            np.testing.assert_array_equal(_pixels(ex.png), _pixels(fresh.png), err_msg=str(final))
        finally:
            fresh.close()


def test_static_png_has_the_values_in_the_title(imaged):
    """The saved image (no readout beside it): the live frame, plus the values in the title."""
    ex = imaged
    ex.update(theta=20.0, origin_a=0.5)
    live = ex.png
    static = base64.b64decode(ex._repr_mimebundle_()["image/png"])
    assert ex.png == live and ex._title.get_text() == "linear"  # the live figure is untouched
    a, b = _pixels(live), _pixels(static)
    assert a.shape == b.shape
    rows, cols = np.nonzero(np.any(a != b, axis=-1))
    assert rows.size, "static image has no title values"
    ex._title.set_text(ex._readout())
    box = ex._title.get_window_extent(ex.figure.canvas.get_renderer())
    ex._title.set_text("linear")
    h = a.shape[0]
    assert box.x0 - 2 <= cols.min() and cols.max() <= box.x1 + 2
    assert h - box.y1 - 2 <= rows.min() and rows.max() <= h - box.y0 + 2


@pytest.mark.parametrize("bad, match", [
    ("neurons", "neurons"),
    ("v2", "v2"),
    ("view", "view"),
    ("neuron", "neuron"),
    ("extent", "extent"),
    ("origin", "origin"),
])
def test_bad_arguments(setup, bad, match):
    neurons, w, v1, v2 = setup
    args = dict(neurons=neurons, u=w, v1=v1, v2=v2, n=N)
    args[bad] = {"neurons": {}, "v2": 2.0 * v1 - 3.0 * w, "view": "nope", "neuron": "nope", "extent": -1.0,
                 "origin": np.zeros(3)}[bad]
    with pytest.raises(ValueError, match=match):
        PlaneExplorer(**args)


# ----------------------------------------------------------------------------- plots


@pytest.fixture(scope="module")
def curved():
    p = geomlib.plane(jnp.array([1.0, 0.0, 0.0]), jnp.array([0.0, 1.0, 0.0]))
    coords = p.grid(24, 1.5)
    return geomlib.plane_geometry(lambda x: x[0] - 0.3 * x[1] ** 2, p, coords), coords


def test_plot_response_returns_artists(curved):
    geo, coords = curved
    ax = Figure().add_subplot()
    art = plots.plot_response(geo, coords, ax=ax, arrows=6, title="t")
    assert isinstance(art, plots.PlaneArtists)
    assert art.image is not None and art.contours is not None and art.quiver is not None
    assert art.colorbar is not None and art.origin is not None
    assert ax.get_aspect() == 1.0 and ax.get_xlabel() == plots.MEI_LABEL
    assert plots.plot_response(geo.value, coords, ax=Figure().add_subplot(), fill=None).quiver is None


def test_plot_response_ax_none_makes_a_figure(curved):
    import matplotlib.pyplot as plt

    geo, coords = curved
    art = plots.plot_response(geo, coords, fill="contourf")
    assert art.contours.axes.figure is not None
    plt.close("all")


def test_arrows_are_along_the_gradient(curved):
    geo, coords = curved
    X, Y, U, V = plots.arrow_field(coords, geo.grad, 6)
    g = np.asarray(geo.grad)
    ia = [np.argmin(np.abs(coords[0, :, 0] - x)) for x in X[0]]
    ib = [np.argmin(np.abs(coords[:, 0, 1] - y)) for y in Y[:, 0]]
    sub = g[np.ix_(ib, ia)]
    cross = U * sub[..., 1] - V * sub[..., 0]
    np.testing.assert_allclose(cross, 0.0, atol=1e-6)
    assert np.all(U * sub[..., 0] + V * sub[..., 1] > 0)
    # no arrow leaves the window by more than one spacing
    assert X.min() > coords[..., 0].min() and X.max() < coords[..., 0].max()


def test_plot_curvature_masks_nan_and_labels_kind(curved):
    geo, coords = curved
    kappa = np.array(geo.curvature)
    kappa[:3] = np.nan
    ax = Figure().add_subplot()
    art = plots.plot_curvature(kappa, coords, ax=ax, kind="grid", values=geo.value)
    assert np.ma.getmaskarray(art.image.get_array())[:3].all()
    lo, hi = art.image.get_clim()
    assert lo == -hi > -np.inf
    assert plots.CURVATURE_LABELS["grid"] in art.colorbar.ax.get_ylabel()
    ax2 = Figure().add_subplot()
    plots.plot_curvature(geo, coords, ax=ax2, colorbar=False)
    assert plots.CURVATURE_LABELS["exact"] in ax2.get_title()
    with pytest.raises(ValueError, match="kind"):
        plots.plot_curvature(kappa, coords, ax=ax, kind="local")


def test_plot_plane_two_panels(curved):
    import matplotlib.pyplot as plt

    geo, coords = curved
    fig, arts = plots.plot_plane(geo, coords)
    assert len(arts) == 2 and arts[1].quiver is None
    fig2, arts2 = plots.plot_plane(geo, coords, curvature=False, axes=Figure().add_subplot())
    assert len(arts2) == 1
    plt.close("all")


def test_show_images():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    imgs = plots.show_images(rng.uniform(size=(3, 784)), ["a", "b", "c"])
    assert len(imgs) == 3 and imgs[0].get_array().shape == (28, 28)
    fig = Figure()
    axes = fig.subplots(1, 2)
    (w,) = plots.show_images(rng.normal(size=784), axes=axes)
    lo, hi = w.get_clim()
    assert lo == -hi  # signed images: symmetric limits
    with pytest.raises(ValueError, match="shape"):
        plots.show_images(np.zeros((2, 50)))
    with pytest.raises(ValueError, match="titles"):
        plots.show_images(np.zeros((2, 784)), ["only one"])
    plt.close("all")


def test_levels_and_limits():
    assert plots.contour_levels(np.zeros((4, 4))).size == 0
    assert plots.contour_levels(np.full((4, 4), np.nan)).size == 0
    coords = np.asarray(geomlib.grid(8, 2.0))
    assert plots.curvature_limit(np.zeros((8, 8)), coords) == pytest.approx(0.05 / 2.0)
    assert plots.curvature_limit(np.full((8, 8), 3.0), coords) == pytest.approx(3.0)


@pytest.fixture
def live_kernel():
    """A real kernel (ipykernel's spec: this interpreter): yields (run, send_value), where
    run(code) executes code and returns its stdout, and send_value(model_id, value) sends
    the comm message a browser sends when a slider moves, returning its msg_id."""
    import textwrap

    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")

    def run(code):
        msg_id = kc.execute(textwrap.dedent(code))
        out = []
        while True:
            msg = kc.get_iopub_msg(timeout=120)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                raise AssertionError("\n".join(msg["content"]["traceback"]))
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(out).strip()

    def send_value(model_id, value):
        content = {"comm_id": model_id, "data": {"method": "update", "state": {"value": value}, "buffer_paths": []}}
        msg = kc.session.msg("comm_msg", content)
        kc.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    run.client = kc
    try:
        yield run, send_value
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


_LIVE_EXPLORER = """
    import jax, jax.numpy as jnp
    from jax.tree_util import Partial
    from geomlib.widgets import PlaneExplorer
    k = jax.random.split(jax.random.key(0), 3)
    f = Partial(lambda w, x: w @ x - 0.1 * jnp.sum(x ** 2), jnp.ones(50))
    ex = PlaneExplorer({"q": f}, jnp.ones(50), jax.random.normal(k[1], (50,)),
                       jax.random.normal(k[2], (50,)), n=24, dpi=40)
    print(ex.theta_slider.model_id)
"""


def _wait_rendered(run, theta):
    for _ in range(100):  # until the kernel has drawn the last value
        out = run("print(ex.theta, len(ex.timings) - 1, ex.last_error, ex._pending)").split()
        if float(out[0]) == theta and out[3] == "False":
            break
        time.sleep(0.2)
    return float(out[0]), int(out[1]), out[2]


def test_slider_burst_in_a_live_kernel_is_coalesced(live_kernel):
    """Send a fast drag's worth of comm messages to a real kernel, as the browser does:
    the explorer must end on the last value, without error, and without one render per
    message (no backlog)."""
    run, send_value = live_kernel
    slider = run(_LIVE_EXPLORER)
    n_messages = 30
    for i in range(n_messages):
        send_value(slider, float(i + 1))
    time.sleep(0.5)
    theta, renders, error = _wait_rendered(run, n_messages)
    assert theta == n_messages and error == "None"
    assert run("print(ex.field is not None and abs(ex.v @ ex.u) < 1e-9)") == "True"
    assert 1 <= renders < n_messages


def test_slow_render_keeps_the_kernel_busy(live_kernel):
    """A slow neuron (render > SLOW_SECONDS) is drawn inside the slider's message, so the
    kernel reports busy until the new figure is sent (a browser, or the browser tests,
    can tell "still drawing" from "nothing to draw"); bursts are still coalesced."""
    run, send_value = live_kernel
    slider = run(_LIVE_EXPLORER)
    run("""
        import time
        from geomlib import widgets
        _compute = ex._compute
        ex._compute = lambda coords: (time.sleep(widgets.SLOW_SECONDS + 0.1), _compute(coords))[1]
        ex.update(theta=1.0)  # the last render is now a slow one
    """)
    time.sleep(0.1)
    t0 = time.perf_counter()
    msg_id = send_value(slider, 2.0)
    while True:
        msg = run.client.get_iopub_msg(timeout=60)
        if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"):
            break
    busy = time.perf_counter() - t0
    assert busy > float(run("print(widgets.SLOW_SECONDS)")), busy
    # initial render, update(), this message: a coarse preview (the last full update was slow) ...
    # (under load the deferred full-resolution render below may already be done: 3 or 4 timings)
    assert run("print(ex.theta, len(ex.timings) in (3, 4), ex.timings[2]['preview'], ex.timings[2]['grid'])") \
        == "2.0 True True 16"
    for _ in range(50):  # ... then, with the slider at rest, the full-resolution update
        if run("print(len(ex.timings))") == "4":
            break
        time.sleep(0.1)
    assert run("print(ex.timings[3]['preview'], ex.field.shape, ex.last_error)") == "False (24, 24) None"
    n_messages = 10
    for i in range(n_messages):
        send_value(slider, float(i + 3))
    theta, renders, error = _wait_rendered(run, n_messages + 2)
    assert theta == n_messages + 2 and error == "None"
    assert 1 <= renders + 1 - 4 < n_messages  # renders since theta = 2: fewer than messages
    for _ in range(50):  # the drag ends on a full-resolution view
        if run("print(ex._full_handle is None and not ex.timings[-1]['preview'])") == "True":
            break
        time.sleep(0.1)
    assert run("print(ex.field.shape, ex.theta, ex.last_error)") == "(24, 24) 12.0 None"


def test_renders_at_once_outside_a_kernel_even_under_a_running_loop(setup):
    """Synchronous code can run inside someone else's event loop (Playwright's sync API
    leaves its loop registered as running): outside an IPython kernel a slider change must
    still render at once, not be deferred onto a loop that may never run it."""
    import asyncio
    import concurrent.futures

    neurons, w, v1, v2 = setup

    async def drag():
        ex = PlaneExplorer(neurons, w, v1, v2, n=N, dpi=40, neuron="quadratic")
        before = ex.png
        ex.theta_slider.value = 60.0
        after = ex.png
        ex.close()
        return before, after

    # in a thread of its own: this process may already have a loop registered as running
    # (the browser tests' Playwright), and asyncio.run refuses to nest
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        before, after = pool.submit(asyncio.run, drag()).result()
    assert before != after


def _scaled_quadratic(scale, x, *, w, q):
    return scale * (w @ x) - 0.5 * jnp.sum(q * x**2)


@pytest.fixture
def tunable(setup):
    neurons, w, v1, v2 = setup
    q = jnp.abs(jax.random.normal(jax.random.key(9), (D,)))
    built = []

    def build(scale, curv):
        built.append((scale, curv))
        return Partial(functools.partial(_scaled_quadratic, w=w, q=curv * q), jnp.asarray(scale))

    ex = PlaneExplorer({"tuned": widgets.Tunable(build), "linear": neurons["linear"]}, w,
                       {"first": v1, "second": v2}, {"third": v2 + v1, "fourth": jnp.roll(v1, 3)}, n=N, dpi=40,
                       parameters={"scale": [0.5, 1.0, 2.0], "curv": [0.0, 1.0, 4.0]},
                       parameter_values={"curv": 1.0}, parameter_labels={"curv": "curvature scale"}, preview=8)
    yield ex, built, q
    ex.close()


def test_parameter_sliders_rebuild_tunable_neurons(tunable, setup):
    ex, built, q = tunable
    w = setup[1]
    assert ex.parameter_values == {"scale": 0.5, "curv": 1.0} and built == [(0.5, 1.0)]
    assert ex.parameter_sliders["curv"].description == "curvature scale"
    assert "rg-slider-curv" in ex.parameter_sliders["curv"]._dom_classes
    for key, slider in ex.parameter_sliders.items():
        for value in slider.options[::-1]:
            before = ex.png
            slider.value = value[1]  # the observer path of a browser drag
            _check_state(ex)
            want = geomlib.plane_values(Partial(functools.partial(_scaled_quadratic, w=w, q=ex.parameter_values["curv"] * q),
                                                jnp.asarray(ex.parameter_values["scale"])), ex.plane, ex.coords)
            np.testing.assert_allclose(ex.field, np.asarray(want), rtol=1e-5, atol=1e-6)
            assert before != ex.png or value == slider.options[-1]  # the first value set is the current one
    assert "curvature scale = 0" in ex.readout.value.replace("&nbsp;", " ")
    n_built = len(built)
    ex.update(scale=2.0, curv=1.0)  # built during the sweep: cached
    assert len(built) == n_built
    ex.update(scale=2.0, curv=0.0)  # a new setting: built once
    assert len(built) == n_built + 1 and built[-1] == (2.0, 0.0)
    ex.update(neuron="linear")  # a plain neuron ignores the parameters
    png = ex.png
    ex.update(scale=1.0)
    assert ex.png == png and "scale" not in ex.readout.value


def test_axis_menus_choose_v1_and_v2(tunable):
    ex, _, _ = tunable
    assert "rg-dropdown-v1" in ex.v1_dropdown._dom_classes and ex.labels[1:] == ("v₁", "v₂")
    seen = set()
    for a in ex.v1_options:
        for b in ex.v2_options:
            ex.update(v1=a, v2=b, theta=45.0)
            _check_state(ex)
            u, v1, v2 = ex.u, ex.v1, ex.v2
            np.testing.assert_allclose(np.array([[u @ u, u @ v1, u @ v2], [0, v1 @ v1, v1 @ v2], [0, 0, v2 @ v2]]),
                                       np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1.0]]), atol=1e-9)
            raw = np.asarray(ex.v1_options[a])
            assert np.linalg.norm(raw - (raw @ u) * u - (raw @ v1) * v1) < 1e-6 * np.linalg.norm(raw)  # v1 from a
            assert f"v₁ = {a}, v₂ = {b}" in ex.status.value
            seen.add(ex.png)
    assert len(seen) == 4
    with pytest.raises(traitlets.TraitError):
        ex.update(v1="no such axis")


def test_preview_renders_on_the_coarse_grid(tunable):
    ex, _, _ = tunable
    ex.render(preview=True)
    assert ex.field.shape == (ex.preview,) * 2 and ex.last_timing["preview"] and ex.arrows_grad is None
    assert not ex._quiver.get_visible()
    ex.render()
    assert ex.field.shape == (N, N) and not ex.last_timing["preview"] and ex._quiver.get_visible()
    ex.update(view="exact")
    ex.render(preview=True)
    assert ex.field.shape == (ex.preview,) * 2 and ex.geometry.curvature.shape == (ex.preview,) * 2


def test_bad_parameters_and_axes_raise(setup):
    neurons, w, v1, v2 = setup
    t = widgets.Tunable(lambda scale: neurons["linear"])
    cases = [
        (dict(neurons={"t": t}), "parameters"),
        (dict(neurons={"t": t}, parameters={"theta": [1]}), "parameters"),
        (dict(neurons={"t": t}, parameters={"scale": []}), r"parameters\['scale'\]"),
        (dict(neurons={"t": t}, parameters={"scale": [1, 2]}, parameter_values={"scale": 3}),
         r"parameter_values\['scale'\]"),
        (dict(neurons=neurons, v2={"a": v2, "b": v1}), "v2"),  # b is v1: not independent
        (dict(neurons=neurons, v1={}), "v1"),
        (dict(neurons=neurons, preview=2), "preview"),
    ]
    for kwargs, match in cases:
        args = {"neurons": kwargs.pop("neurons"), "u": w, "v1": kwargs.pop("v1", v1), "v2": kwargs.pop("v2", v2)}
        with pytest.raises(ValueError, match=f"^{match}"):
            PlaneExplorer(**args, n=N, dpi=40, **kwargs)
    with pytest.raises(ValueError, match="^build"):
        widgets.Tunable(3.0)


def _tanh_bowl(w, x):
    return jnp.tanh(w @ x) - 0.1 * jnp.sum(x**2)


def test_tunable_axes_follow_a_parameter():
    """u and an axis choice built from a parameter (a neuron index, as in chapter 3): the
    plane, the u panel and the title follow the slider; images of D = 7 x 7."""
    d = 49
    W = jax.random.normal(jax.random.key(3), (4, d))
    rand = jax.random.normal(jax.random.key(4), (d,))

    def neuron(index):  # one function for every index: the four neurons' grids compile once
        return Partial(_tanh_bowl, W[index])

    ex = PlaneExplorer({"tanh": widgets.Tunable(neuron)}, widgets.Tunable(lambda index: W[index]),
                       {"random": rand}, {"next neuron": widgets.Tunable(lambda index: W[(index + 1) % 4])},
                       parameters={"index": [0, 1, 2, 3]}, labels=("weights of {index}", "", ""), n=N, dpi=40)
    try:
        assert ex._side == 7 and ex._u_image is not None
        pngs = set()
        for index in range(4):
            ex.update(index=index)
            _check_state(ex)
            np.testing.assert_allclose(ex.u, np.asarray(W[index]) / np.linalg.norm(W[index]), rtol=1e-5)
            raw = np.asarray(W[(index + 1) % 4])
            resid = raw - (raw @ ex.u) * ex.u - (raw @ ex.v1) * ex.v1 - (raw @ ex.v2) * ex.v2
            assert np.linalg.norm(resid) < 1e-6 * np.linalg.norm(raw)
            np.testing.assert_allclose(ex._u_image.get_array(), ex.u.reshape(7, 7))
            assert f"u = weights of {index}" in ex._title.get_text() and f"weights of {index}" in ex.status.value
            pngs.add(ex.png)
        assert len(pngs) == 4
    finally:
        ex.close()
    with pytest.raises(ValueError, match="^parameters"):
        PlaneExplorer({"tanh": neuron(0)}, widgets.Tunable(lambda index: W[index]), rand, W[1], n=N)


def test_tunable_origin_follows_a_parameter(setup):
    neurons, w, v1, v2 = setup
    images = jax.random.normal(jax.random.key(5), (3, D))
    ex = PlaneExplorer({"quadratic": neurons["quadratic"]}, w, v1, v2, origin=widgets.Tunable(lambda digit: images[digit]),
                       parameters={"digit": [0, 1, 2]}, n=N, dpi=40)
    try:
        for digit in (2, 0, 1):
            ex.update(digit=digit, origin_a=0.5)
            _check_state(ex)
            np.testing.assert_allclose(ex.x0, np.asarray(images[digit]), rtol=1e-6)
            np.testing.assert_allclose(np.asarray(ex.plane.origin), np.asarray(images[digit]) + 0.5 * ex.u,
                                       rtol=1e-5, atol=1e-5)
            assert "digit = " in ex.readout.value
    finally:
        ex.close()
    with pytest.raises(ValueError, match="^parameters"):
        PlaneExplorer(neurons, w, v1, v2, origin=widgets.Tunable(lambda digit: images[digit]), n=N)


# ------------------------------------------------- the scheduling policy, without a kernel

from geomlib.widgets import schedule as sched  # noqa: E402


def test_schedule_outside_a_kernel_renders_every_change_at_once():
    s = sched.RenderSchedule()
    assert [s.on_change(t, False, 10.0) for t in (0.0, 0.001, 0.002)] == [sched.NOW] * 3
    assert not s.pending
    s.rendered(10.0, preview=False, at=0.0)
    assert not s.preview_first(in_kernel=False, has_preview=True)


def test_schedule_coalesces_a_burst_into_one_deferred_render():
    s = sched.RenderSchedule()
    actions = [s.on_change(0.001 * i, True, 0.01) for i in range(20)]
    assert actions == [sched.DEFER] + [sched.SKIP] * 19 and s.pending
    s.flushed()  # the deferred render starts: the next change is new
    assert not s.pending and s.on_change(0.1, True, 0.01) == sched.DEFER


def test_schedule_renders_a_slow_neuron_at_once_once_the_last_render_has_ended():
    s = sched.RenderSchedule(coalesce=0.03, slow=0.25)
    s.rendered(0.4, preview=False, at=1.0)
    assert s.on_change(1.0 + 0.01, True, 0.4) == sched.DEFER  # too soon after the last render: coalesce
    s.flushed()
    assert s.on_change(1.0 + 0.03, True, 0.4) == sched.PROGRESSIVE and not s.pending
    assert s.on_change(2.0, True, 0.2) == sched.DEFER  # a fast last render: coalesce
    assert s.on_change(3.0, True, 0.4) == sched.SKIP  # a deferred render is pending: it shows this change
    s.flushed()
    assert s.on_change(3.0, True, None) == sched.DEFER  # nothing recorded yet: coalesce


def test_schedule_previews_only_neurons_whose_full_render_is_slow():
    s = sched.RenderSchedule(preview=0.2)
    assert not s.preview_first(True, True)  # nothing rendered yet
    s.rendered(0.3, preview=False, at=0.0)
    assert s.preview_first(True, True) and s.full_seconds == 0.3
    assert not s.preview_first(True, False) and not s.preview_first(False, True)
    s.rendered(0.01, preview=True, at=1.0)  # a preview does not make the neuron fast
    assert s.preview_first(True, True) and s.rendered_at == 1.0
    s.rendered(0.1, preview=False, at=2.0)
    assert not s.preview_first(True, True)


def test_schedule_hold():
    s = sched.RenderSchedule()
    with pytest.raises(RuntimeError):
        with s.hold():
            assert s.holding
            raise RuntimeError
    assert not s.holding


class _FakeLoop:
    """call_later without an event loop: run() calls what is due, in order."""

    class Handle:
        def __init__(self, fn):
            self.fn, self.cancelled = fn, False

        def cancel(self):
            self.cancelled = True

    def __init__(self):
        self.handles = []

    def call_later(self, delay, fn):
        self.handles.append(self.Handle(fn))
        return self.handles[-1]

    def run(self):
        while self.handles:
            h = self.handles.pop(0)
            if not h.cancelled:
                h.fn()


def test_explorer_follows_the_schedule_on_a_fake_kernel_loop(tunable, monkeypatch):
    """A drag in a kernel, driven by a fake event loop: one deferred render for a burst,
    a coarse preview first for a slow neuron, the full resolution once the slider rests;
    a slow last render draws at once, and the next change cancels the pending full one."""
    ex, _, _ = tunable
    loop = _FakeLoop()
    monkeypatch.setattr("geomlib.widgets.explorer.kernel_loop", lambda: loop)
    ex.schedule.preview = 0.0  # every neuron is slow enough for a preview
    n = len(ex.timings)
    for theta in range(1, 11):
        ex.theta_slider.value = float(theta)
    assert len(ex.timings) == n and ex._pending and len(loop.handles) == 1
    loop.run()
    assert [(t["preview"], t["grid"]) for t in list(ex.timings)[n:]] == [(True, ex.preview), (False, N)]
    assert ex.theta == 10.0 and ex.field.shape == (N, N) and not ex._pending and ex._full_handle is None
    ex.schedule.slow, ex.schedule.coalesce = 0.0, 0.0  # the last render counts as slow: draw inside the message
    n = len(ex.timings)
    ex.theta_slider.value = 20.0
    assert len(ex.timings) == n + 1 and ex.last_timing["preview"] and ex._full_handle is not None
    first = ex._full_handle
    ex.theta_slider.value = 30.0
    assert first.cancelled and len(ex.timings) == n + 2
    loop.run()
    assert len(ex.timings) == n + 3 and not ex.last_timing["preview"] and ex.theta == 30.0
