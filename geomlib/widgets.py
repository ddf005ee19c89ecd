r"""Interactive plane explorer (ipywidgets) for iso-response contours and curvature.

The plane has the fixed horizontal axis u (a neuron's MEI) and the vertical axis

.. math:: v(\theta) = \cos\theta \, v_1 + \sin\theta \, v_2,

which rotates between two directions orthogonal to u. Its origin moves along u and
v(theta). The slider ranges are owned here (:data:`THETA_RANGE`, :data:`ORIGIN_SPAN`,
:data:`ORIGIN_STEPS`). Optional controls: menus that choose v1 and v2 among several
directions (pass dicts), and sliders over model parameters (``parameters=``) that
rebuild the neurons given as :class:`Tunable` (e.g. an LCA's threshold and step count).

What is computed is what is shown: the response view evaluates the response on the grid
and the exact gradient only where an arrow is drawn; the grid-curvature view needs the
gradient everywhere; only the exact-curvature view needs Hessians. A neuron too slow
to redraw at full resolution while a slider moves (a full update above
:data:`PREVIEW_SECONDS`) is first drawn on a coarse ``preview x preview`` grid, then at
full resolution once the slider rests.

Drawing: one matplotlib ``Figure`` (Agg, not pyplot) is kept, and an update redraws
only what changes. The static parts (axes frames, ticks, labels) are drawn once; the
colorbar and title are drawn into a cached background when the colour scale or the
neuron changes; each update restores that background and draws the changed artists
over it (field image, contour lines, gradient arrows, the v(theta) image, the window
map), then sends a PNG to an ``ipywidgets.Image``. The current values of the controls
are written in an HTML readout above the figure. When D is a square number (images),
the figure shows v(theta) and u as images and where the window sits, so every slider
visibly changes it even where the field does not change (a plane through the MEI of a
pointwise neuron looks the same for every theta and vertical offset).

Saved notebooks: :meth:`PlaneExplorer._repr_mimebundle_` returns the widget view
*and* an ``image/png`` of the current view (with the values of the controls in its
title), so a static renderer (GitHub, nbviewer, a notebook executed headless) shows the
figure while JupyterLab shows the live widget.

>>> import jax.numpy as jnp
>>> from jax.tree_util import Partial
>>> import geomlib
>>> params = {"w": jnp.arange(1.0, 6.0), "b": jnp.asarray(0.0)}
>>> ex = PlaneExplorer({"linear": Partial(geomlib.linear_neuron, params)},
...                    params["w"], jnp.eye(5)[0], jnp.eye(5)[1], n=16)
>>> ex.update(theta=45.0, origin_a=0.5)["total"] > 0
True
>>> ex.field.shape, ex.png[:4] == b"\x89PNG"
((16, 16), True)
>>> ex.close()
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import html
import inspect
import struct
import time
import zlib
from typing import Callable, Mapping, Sequence

import ipywidgets as widgets
import jax
import jax.numpy as jnp
import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

import geomlib
from geomlib import plots

__all__ = ["COALESCE_SECONDS", "ORIGIN_SPAN", "ORIGIN_STEPS", "PREVIEW_SECONDS", "PlaneExplorer", "SLOW_SECONDS",
           "THETA_RANGE", "Tunable", "VIEWS"]

#: Rotation of the vertical axis, degrees: (min, max, step). 0..180 covers every plane
#: through u in span(u, v1, v2); 180 is the reflection of 0.
THETA_RANGE = (0.0, 180.0, 1.0)
#: Origin sliders run over +-ORIGIN_SPAN times the window half-width ...
ORIGIN_SPAN = 1.0
#: ... in steps of half-width / ORIGIN_STEPS.
ORIGIN_STEPS = 40
#: What the figure shows: key -> dropdown label.
VIEWS = {
    "response": "response + gradient arrows",
    "exact": "curvature: " + plots.CURVATURE_LABELS["exact"],
    "grid": "curvature: " + plots.CURVATURE_LABELS["grid"],
}
#: Slider messages arriving within this many seconds are drawn once (see ``_on_change``).
COALESCE_SECONDS = 0.03
#: ... unless the last render took longer than this: then the next one runs at once.
SLOW_SECONDS = 0.25
#: A slider-driven update of a neuron whose last full update took longer than this is
#: drawn first on the coarse preview grid, then at full resolution.
PREVIEW_SECONDS = 0.2
#: The full-resolution update follows a preview after this many idle seconds.
FULL_AFTER_SECONDS = 0.05
_CONTROLS = ("theta", "origin_a", "origin_b", "neuron", "view", "v1", "v2")
#: Built functions of Tunable neurons kept (one per neuron and parameter setting).
_BUILT = 32
#: Default figure size, inches: plane + colorbar, and with the side panels (square D).
_FIGSIZE, _FIGSIZE_PANELS = (5.6, 4.5), (6.55, 4.5)
#: Backgrounds (static parts + colorbar + title) kept, one per colour state and title.
_BACKGROUNDS = 16


def _kernel_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop of the IPython kernel we run in, or None outside a kernel.

    Asking only for a running loop is not enough: a library that drives its own loop
    from synchronous code (Playwright's sync API, for one) leaves that loop registered
    as running in the main thread, and a render deferred onto it would never happen."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _png(rgba: np.ndarray, level: int = 1) -> bytes:
    """Lossless RGB PNG of an ``(h, w, 4)`` uint8 buffer (alpha dropped): rows unfiltered,
    zlib at the fastest level. About twice as fast as PIL's encoder for the same size on
    these figures (flat colour, lines, text)."""
    h, w, _ = rgba.shape
    raw = np.empty((h, 3 * w + 1), np.uint8)
    raw[:, 0] = 0  # filter type None
    raw[:, 1:] = rgba[..., :3].reshape(h, 3 * w)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw.data, level)) + chunk(b"IEND", b""))


def _orthonormal(u, v1, v2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gram-Schmidt on (u, v1, v2) in float64; ValueError if they are not independent."""
    rows = []
    for name, x in (("u", u), ("v1", v1), ("v2", v2)):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 1 or (rows and x.shape != rows[0].shape):
            want = f"({rows[0].size},)" if rows else "(D,)"
            raise ValueError(f"{name}: expected shape {want}, got {x.shape}")
        if not np.all(np.isfinite(x)) or np.linalg.norm(x) == 0:
            raise ValueError(f"{name}: expected a finite nonzero direction")
        w = x.copy()
        for _ in range(2):  # two passes: orthogonal to rounding error
            for r in rows:
                w -= (w @ r) * r
        if np.linalg.norm(w) < 1e-6 * np.linalg.norm(x):
            raise ValueError(f"{name}: expected a direction independent of the previous ones, got a dependent one")
        rows.append(w / np.linalg.norm(w))
    return rows[0], rows[1], rows[2]


class Tunable:
    """A neuron (or a plane axis) that depends on the explorer's parameter sliders.

    ``build(**values)`` returns the response function ``f: R^D -> R`` (or the direction
    ``(D,)``) for the current values of the parameters it names (all of them if it takes
    ``**kwargs``). Results are cached per setting of those parameters, so moving back to
    a value reuses its compiled code, and a slider a neuron does not use leaves it alone.

    >>> import functools
    >>> t = Tunable(lambda lam: functools.partial(lambda x, lam: lam * x.sum(), lam=lam))
    >>> float(t.build(lam=2.0)(jnp.ones(3))), t.uses({"lam": 2.0, "steps": 5})
    (6.0, {'lam': 2.0})
    """

    def __init__(self, build: Callable[..., object]):
        if not callable(build):
            raise ValueError(f"build: expected a callable returning a response function, got {build!r:.80}")
        self.build = build
        try:
            sig = inspect.signature(build)
        except (TypeError, ValueError):  # some builtins: pass everything
            sig = None
        if sig is None or any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
            self.names = None
        else:
            self.names = tuple(n for n, p in sig.parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))

    def uses(self, values: Mapping[str, object]) -> dict:
        """The parameter values ``build`` receives: those it names, in ``values``."""
        return dict(values) if self.names is None else {k: v for k, v in values.items() if k in self.names}

    def __repr__(self) -> str:
        return f"Tunable({getattr(self.build, '__name__', self.build)!r})"


def _directions(name: str, x) -> dict[str, object]:
    """A direction, or a dict of named directions, as a dict name -> float64 array or Tunable."""
    def one(v):
        return v if isinstance(v, Tunable) else np.asarray(v, dtype=np.float64)

    if isinstance(x, Mapping):
        if not x:
            raise ValueError(f"{name}: expected a direction (D,) or a non-empty dict name -> direction, got {{}}")
        return {str(k): one(v) for k, v in x.items()}
    return {name: one(x)}


class PlaneExplorer(widgets.VBox):
    """Sliders and dropdowns over the response geometry of a few neurons on a plane.

    Args:
      neurons: name -> f, each f: R^D -> R JAX-traceable (bind parameters with
        ``jax.tree_util.Partial`` so compiled code is reused).
      u: horizontal axis (the MEI), shape ``(D,)``.
      v1, v2: the vertical axis rotates from v1 (theta = 0) to v2 (theta = 90);
        both are orthonormalised against u (and v2 against v1), shape ``(D,)``. Either
        may be a dict name -> direction: a menu then chooses it (its names label the axis).
      origin: base origin x0 ``(D,)`` (or a :class:`Tunable` building it, e.g. from a digit
        index); zeros if None. The plane's origin is
        ``x0 + origin_a u + origin_b v(theta)``.
      extent: half-width of the square window, in plane units.
      n: grid points per axis (``n x n`` autodiff evaluations per update).
      labels: names of (u, v1, v2) for axis labels and titles.
      view, neuron: initial choices (default: response view, first neuron).
      dpi, figsize: of the rendered PNG; figsize defaults to 5.6 x 4.5 inches, or
        6.55 x 4.5 with the side panels (v(theta), u and the window map, shown when D
        is a square number, e.g. 784 = 28 x 28).
      continuous_update: re-render while a slider is dragged (True) or on release.
      parameters: name -> the values a slider offers (``SelectionSlider``), passed by name
        to the ``build`` of every :class:`Tunable` neuron; other neurons ignore them.
      parameter_values: initial value per parameter (default: the first of its values).
      parameter_labels: slider label per parameter (default: its name).
      preview: grid points per axis of the coarse preview of slow neurons (None: never).

    Drive it from code with :meth:`update` (renders at once). Setting a control's
    ``.value`` inside a running kernel renders ``COALESCE_SECONDS`` later, after the cell
    (at once if the last render was slow, see ``_on_change``).

    Attributes:
      geometry: last :class:`geomlib.PlaneGeometry`, numpy arrays ``(n, n)``...; only
        what the view needs: ``value`` always, ``grad`` in the curvature views,
        ``hess`` and ``curvature`` in the exact view (the others None).
      arrows_grad: exact gradient at the arrow points :attr:`arrows_coords`
        ``(m, m, 2)``, in the response view (else None).
      field: last field drawn ``(n, n)`` (response, or curvature with NaN where undefined).
      coords: the grid ``(n, n, 2)`` (relative to the current origin).
      png: bytes of the last rendered PNG (see also :meth:`static_png`).
      readout: ``ipywidgets.HTML`` with the neuron and the values of theta and the origin.
      timings: recent per-update seconds: dicts with compute / artists / draw / png / total.
      last_error: the exception of the last failed slider-driven update, else None.
    """

    def __init__(
        self,
        neurons: Mapping[str, Callable],
        u,
        v1,
        v2,
        *,
        origin=None,
        extent: float = 2.0,
        n: int = 64,
        labels: tuple[str, str, str] = ("MEI", "v1", "v2"),
        view: str = "response",
        neuron: str | None = None,
        dpi: float = 80,
        figsize: tuple[float, float] | None = None,
        arrows: int = 11,
        levels: int = 12,
        continuous_update: bool = True,
        parameters: Mapping[str, Sequence] | None = None,
        parameter_values: Mapping[str, object] | None = None,
        parameter_labels: Mapping[str, str] | None = None,
        preview: int | None = 16,
    ):
        if (not isinstance(neurons, Mapping) or not neurons
                or not all(callable(f) or isinstance(f, Tunable) for f in neurons.values())):
            raise ValueError(f"neurons: expected a non-empty dict name -> callable or Tunable, got {neurons!r:.80}")
        parameters = {str(k): list(v) for k, v in (parameters or {}).items()}
        for key, values in parameters.items():
            if key in _CONTROLS or not key.isidentifier():
                raise ValueError(f"parameters: expected identifiers other than {_CONTROLS}, got {key!r}")
            if not values:
                raise ValueError(f"parameters[{key!r}]: expected a non-empty sequence of values, got []")
        initial = {k: v[0] for k, v in parameters.items()}
        for key, value in (parameter_values or {}).items():
            if key not in parameters or value not in parameters[key]:
                raise ValueError(f"parameter_values[{key!r}]: expected one of {parameters.get(key)}, got {value!r}")
            initial[key] = value
        if any(isinstance(f, Tunable) for f in neurons.values()) and not parameters:
            raise ValueError("parameters: expected the sliders that Tunable neurons are built from, got none")
        if preview is not None and (int(preview) != preview or not 3 <= preview):
            raise ValueError(f"preview: expected None or an integer >= 3, got {preview!r}")
        if view not in VIEWS:
            raise ValueError(f"view: expected one of {tuple(VIEWS)}, got {view!r}")
        if neuron is not None and neuron not in neurons:
            raise ValueError(f"neuron: expected one of {tuple(neurons)}, got {neuron!r}")
        if not np.ndim(extent) == 0 or not float(extent) > 0:
            raise ValueError(f"extent: expected a positive half-width, got {extent!r}")
        self.neurons = dict(neurons)
        self.parameters = parameters
        self._parameter_values = initial  # until the sliders exist
        self._built: collections.OrderedDict = collections.OrderedDict()
        self._u = u if isinstance(u, Tunable) else np.asarray(u, dtype=np.float64)
        self.v1_options, self.v2_options = _directions("v1", v1), _directions("v2", v2)
        self._choose_axes = isinstance(v1, Mapping) or isinstance(v2, Mapping)
        if not parameters and any(isinstance(x, Tunable) for x in (u, *self.v1_options.values(),
                                                                    *self.v2_options.values())):
            raise ValueError("parameters: expected the sliders that Tunable axes are built from, got none")
        for a in self.v1_options:  # every pair: a bad direction fails here, not under a slider
            for b in self.v2_options:
                u0 = self._basis(a, b)[0]
        self.preview = None if preview is None else int(preview)
        self._full_handle = None  # the full-resolution update scheduled after a preview
        if isinstance(origin, Tunable):
            if not parameters:
                raise ValueError("parameters: expected the sliders that a Tunable origin is built from, got none")
            self._x0 = origin
            x0 = np.asarray(self._resolve("x0", origin, "axis"), dtype=np.float64)
        else:
            x0 = self._x0 = np.zeros_like(u0) if origin is None else np.asarray(origin, dtype=np.float64)
        if x0.shape != u0.shape:
            raise ValueError(f"origin: expected shape {u0.shape}, got {x0.shape}")
        self.extent = float(extent)
        labels = tuple(labels)
        if self._choose_axes:  # the menus name the axes
            labels = (labels[0], "v₁", "v₂")
        self.labels = labels
        self._u_label = labels[0]
        self.dpi = dpi
        self.arrows, self.levels = arrows, levels
        self.coords = np.asarray(geomlib.grid(n, self.extent))
        self._coords_jax = jnp.asarray(self.coords, geomlib.float_dtype())
        ib, ia = plots.arrow_indices(self.coords.shape[:2], arrows)
        self.arrows_coords = self.coords[np.ix_(ib, ia)]
        self._arrow_spacing = plots.arrow_spacing(self.coords, ib, ia)
        self._preview_coords = (None if self.preview is None or self.preview >= n
                                else np.asarray(geomlib.grid(self.preview, self.extent)))
        self.geometry = self.field = self.png = self.last_error = self.arrows_grad = None
        self._full_seconds = 0.0  # duration of the last full-resolution update
        self.timings: collections.deque = collections.deque(maxlen=500)
        self._holding = self._pending = False
        self._rendered_at = -np.inf  # time.perf_counter() at the end of the last render

        lo, hi, step = THETA_RANGE
        span, ostep = ORIGIN_SPAN * self.extent, self.extent / ORIGIN_STEPS
        common = dict(continuous_update=continuous_update, style={"description_width": "110px"},
                      layout=widgets.Layout(width="460px"))
        self.theta_slider = widgets.FloatSlider(0.0, min=lo, max=hi, step=step, description="θ (degrees)",
                                                readout_format=".0f", **common)
        self.origin_a_slider = widgets.FloatSlider(0.0, min=-span, max=span, step=ostep,
                                                   description=f"origin along u", readout_format=".2f", **common)
        self.origin_b_slider = widgets.FloatSlider(0.0, min=-span, max=span, step=ostep,
                                                   description=f"origin along v(θ)", readout_format=".2f", **common)
        self.neuron_dropdown = widgets.Dropdown(options=list(self.neurons), value=neuron or next(iter(self.neurons)),
                                                description="neuron", layout=widgets.Layout(width="260px"))
        self.view_dropdown = widgets.Dropdown(options=[(label, key) for key, label in VIEWS.items()], value=view,
                                              description="show", layout=widgets.Layout(width="360px"))
        self.v1_dropdown = widgets.Dropdown(options=list(self.v1_options), description="v₁ (θ = 0°)",
                                            layout=widgets.Layout(width="360px"), style={"description_width": "110px"})
        self.v2_dropdown = widgets.Dropdown(options=list(self.v2_options), description="v₂ (θ = 90°)",
                                            layout=widgets.Layout(width="360px"), style={"description_width": "110px"})
        labels_ = dict(parameter_labels or {})
        self.parameter_sliders = {
            key: widgets.SelectionSlider(options=[(f"{v:g}" if isinstance(v, (int, float)) else str(v), v)
                                                  for v in values],
                                         value=initial[key], description=labels_.get(key, key), **common)
            for key, values in self.parameters.items()}
        self.status = widgets.HTML()
        self.readout = widgets.HTML()
        self._build_figure(figsize)
        self.image = widgets.Image(format="png", layout=widgets.Layout(
            width=f"{self.figure.get_figwidth() * dpi:.0f}px"))
        self._controls = {"theta": self.theta_slider, "origin_a": self.origin_a_slider,
                          "origin_b": self.origin_b_slider, "neuron": self.neuron_dropdown,
                          "view": self.view_dropdown, "v1": self.v1_dropdown, "v2": self.v2_dropdown,
                          **self.parameter_sliders}
        classes = {"theta": "rg-slider-theta", "origin_a": "rg-slider-origin-a", "origin_b": "rg-slider-origin-b",
                   "neuron": "rg-dropdown-neuron", "view": "rg-dropdown-view", "v1": "rg-dropdown-v1",
                   "v2": "rg-dropdown-v2", **{k: f"rg-slider-{k.replace('_', '-')}" for k in self.parameter_sliders}}
        for key, w in self._controls.items():
            w.add_class(classes[key])
            w.observe(self._on_change, names="value")
        for w, cls in ((self.image, "rg-figure"), (self.status, "rg-status"), (self.readout, "rg-readout")):
            w.add_class(cls)
        menus = [self.neuron_dropdown, self.view_dropdown]
        axes = [w for w, opts in ((self.v1_dropdown, self.v1_options), (self.v2_dropdown, self.v2_options))
                if self._choose_axes]
        super().__init__([widgets.HBox(menus), *([widgets.HBox(axes)] if axes else []), self.theta_slider,
                          self.origin_a_slider, self.origin_b_slider, *self.parameter_sliders.values(),
                          self.readout, self.image, self.status])
        self.add_class("rg-plane-explorer")
        self.render()

    # ------------------------------------------------------------------ state
    theta = property(lambda self: float(self.theta_slider.value), doc="Rotation of v, degrees.")
    origin_a = property(lambda self: float(self.origin_a_slider.value), doc="Origin offset along u.")
    origin_b = property(lambda self: float(self.origin_b_slider.value), doc="Origin offset along v(theta).")
    neuron = property(lambda self: self.neuron_dropdown.value, doc="Name of the neuron shown.")
    view = property(lambda self: self.view_dropdown.value, doc="Key of the view shown (see VIEWS).")

    @property
    def u(self) -> np.ndarray:
        """The horizontal axis (unit), shape ``(D,)``."""
        return self._basis()[0]

    @property
    def v1(self) -> np.ndarray:
        """The vertical axis at theta = 0 (orthonormalised against u), shape ``(D,)``."""
        return self._basis()[1]

    @property
    def v2(self) -> np.ndarray:
        """The vertical axis at theta = 90 (orthonormalised against u and v1), shape ``(D,)``."""
        return self._basis()[2]

    @property
    def x0(self) -> np.ndarray:
        """The base origin (built for the current parameters if it is Tunable), ``(D,)``."""
        return np.asarray(self._resolve("x0", self._x0, "axis"), dtype=np.float64)

    @property
    def parameter_values(self) -> dict:
        """Current value of each parameter slider."""
        if "parameter_sliders" not in self.__dict__:
            return dict(self._parameter_values)
        return {key: w.value for key, w in self.parameter_sliders.items()}

    def _resolve(self, name, x, kind: str):
        """``x``, or if it is a :class:`Tunable`, what it builds for the current parameter
        values (cached per setting of the parameters it uses)."""
        if not isinstance(x, Tunable):
            return x
        used = x.uses(self.parameter_values)
        key = (kind, name, *used.items())
        built = self._built.get(key)
        if built is None:
            built = x.build(**used)
            if kind == "neuron" and not callable(built):
                raise ValueError(f"Tunable {name!r}: build returned {built!r:.80}, expected a function")
            self._built[key] = built
            while len(self._built) > _BUILT:
                self._built.popitem(last=False)
        else:
            self._built.move_to_end(key)
        return built

    def _basis(self, a: str | None = None, b: str | None = None):
        """Orthonormal (u, v1, v2) for the chosen (or given) axes and current parameters."""
        a = self.v1_dropdown.value if a is None else a
        b = self.v2_dropdown.value if b is None else b
        xs = (("u", self._u), (f"v1:{a}", self.v1_options[a]), (f"v2:{b}", self.v2_options[b]))
        used: dict = {}
        for _, x in xs:
            if isinstance(x, Tunable):
                used.update(x.uses(self.parameter_values))
        key = ("basis", a, b, *sorted(used.items()))
        basis = self._built.get(key)
        if basis is None:
            basis = self._built[key] = _orthonormal(*(self._resolve(name, x, "axis") for name, x in xs))
            while len(self._built) > _BUILT:
                self._built.popitem(last=False)
        else:
            self._built.move_to_end(key)
        return basis

    @property
    def function(self) -> Callable:
        """The response function drawn: the chosen neuron (built for the current parameter
        values if it is :class:`Tunable`)."""
        return self._resolve(self.neuron, self.neurons[self.neuron], "neuron")

    @property
    def v(self) -> np.ndarray:
        """Current vertical axis v(theta) = cos(theta) v1 + sin(theta) v2, shape ``(D,)``."""
        t = np.deg2rad(self.theta)
        return np.cos(t) * self.v1 + np.sin(t) * self.v2

    @property
    def plane(self) -> geomlib.Plane:
        """Current plane: origin x0 + origin_a u + origin_b v(theta), axes u and v(theta)."""
        v = self.v
        dt = geomlib.float_dtype()
        origin = self.x0 + self.origin_a * self.u + self.origin_b * v
        return geomlib.Plane(jnp.asarray(origin, dt), jnp.asarray(self.u, dt), jnp.asarray(v, dt))

    @property
    def last_timing(self) -> dict | None:
        """Seconds spent in the last update: compute, artists, draw, png, total."""
        return self.timings[-1] if self.timings else None

    @contextlib.contextmanager
    def _hold(self):
        self._holding = True
        try:
            yield
        finally:
            self._holding = False

    def update(self, **values) -> dict:
        """Set any of theta, origin_a, origin_b, neuron, view, v1, v2 and the parameters;
        render once at full resolution; return the timing.

        Slider values outside their range are clipped by the slider; an unknown neuron,
        view, axis or parameter value raises.
        """
        unknown = set(values) - set(self._controls)
        if unknown:
            raise ValueError(f"update: expected keys among {tuple(self._controls)}, got {sorted(unknown)}")
        self._cancel_full()
        with self._hold():
            for key, value in values.items():
                self._controls[key].value = value
        self.render()
        return self.last_timing

    def _on_change(self, change):
        """Slider/dropdown observer. In a running kernel the render is deferred by
        ``COALESCE_SECONDS`` on the event loop, so the burst of messages of a fast drag
        (including those queued during the previous render) becomes one render of the latest
        values instead of a growing backlog. Exception: when the last render took more than
        ``SLOW_SECONDS`` (a slow neuron, where waiting is pointless) and ended at least
        ``COALESCE_SECONDS`` ago, the render runs at once, inside the message, so that the
        kernel shows busy while it draws (a deferred render runs while the kernel reports
        idle); messages queued meanwhile are coalesced as above. Without a running loop it
        renders at once, at full resolution.

        Slow neurons (last full update above ``PREVIEW_SECONDS``) are drawn on the coarse
        preview grid first; the full-resolution update is scheduled ``FULL_AFTER_SECONDS``
        later and cancelled by the next change, so it runs once the controls rest."""
        if self._holding:
            return
        self._cancel_full()
        loop = _kernel_loop()
        last = self.last_timing
        if loop is None:
            self._safe_render()
        elif self._pending:
            return
        elif (last is not None and last["total"] > SLOW_SECONDS
              and time.perf_counter() - self._rendered_at >= COALESCE_SECONDS):
            self._render_progressively(loop)
        else:
            self._pending = True
            loop.call_later(COALESCE_SECONDS, self._flush)

    def _flush(self):
        self._pending = False
        self._render_progressively(_kernel_loop())

    def _render_progressively(self, loop):
        if loop is None or self._preview_coords is None or self._full_seconds <= PREVIEW_SECONDS:
            self._safe_render()
        elif self._safe_render(preview=True):
            self._full_handle = loop.call_later(FULL_AFTER_SECONDS, self._full)

    def _full(self):
        self._full_handle = None
        self._safe_render()

    def _cancel_full(self):
        if self._full_handle is not None:
            self._full_handle.cancel()
            self._full_handle = None

    def _safe_render(self, preview: bool = False) -> bool:
        try:
            self.render(preview=preview)
            self.last_error = None
            return True
        except Exception as err:  # shown in the widget instead of vanishing into the kernel log
            self.last_error = err
            self.status.value = f"<span style='color:#b00'>error: {type(err).__name__}: {err}</span>"
            return False

    # ---------------------------------------------------------------- drawing
    def _build_figure(self, figsize):
        """Lay out the figure once (positions in inches of the default size, scaled to
        ``figsize``): the plane and its colorbar; when D is a square number also, on the
        right, the plane's axes as images (v(theta), which turns with theta, and u) and a
        map of where the window sits (it moves with the origin sliders).

        Everything that changes with the controls is *animated*, i.e. left out of a full
        draw and painted by :meth:`_blit` over a cached background: the field image,
        contour lines, arrows, origin marker, v(theta) image and window map (and the title
        when there are no panels: it then carries the values of the sliders). The colorbar
        axes, and the title otherwise, are drawn into the cached backgrounds."""
        d = self.u.size
        side = int(round(np.sqrt(d)))
        self._side = side if side * side == d and side >= 4 else None
        w0, h0 = _FIGSIZE_PANELS if self._side else _FIGSIZE
        width, height = figsize or (w0, h0)
        self.figure = fig = Figure(figsize=(width, height), dpi=self.dpi)
        FigureCanvasAgg(fig)

        def box(left, bottom, w, h):
            return [left / w0, bottom / h0, w / w0, h / h0]

        ext = plots.plane_extent(self.coords)
        ax = fig.add_axes(box(0.62, 0.5, 3.47, 3.47))
        cax = fig.add_axes(box(4.23, 0.5, 0.17, 3.47))
        zeros = np.zeros(self.coords.shape[:2])
        self._image = ax.imshow(zeros, extent=ext, origin="lower", interpolation="bilinear", aspect="equal",
                                animated=True)
        # The colorbar: a colour ramp in its own axes whose y axis is the colour scale (what
        # ``Figure.colorbar`` draws, but a change of limits is just new y limits)
        self._ramp = cax.imshow(np.linspace(0.0, 1.0, 256)[:, None], origin="lower", aspect="auto",
                                extent=(0.0, 1.0, 0.0, 1.0), interpolation="nearest")
        cax.set(xlim=(0.0, 1.0), ylim=(0.0, 1.0), xticks=[])
        cax.yaxis.tick_right()
        # fewer tick labels than the default (about 8): their text is most of a redraw
        cax.yaxis.set_major_locator(MaxNLocator(6, steps=[1, 2, 2.5, 5, 10]))
        cax.yaxis.set_label_position("right")
        cax.set_animated(True)
        self._contours = LineCollection([], colors="k", linewidths=0.8, zorder=2, animated=True)
        ax.add_collection(self._contours, autolim=False)
        X, Y, U, V = plots.arrow_field(self.coords, np.zeros(self.coords.shape), self.arrows)
        self._quiver = ax.quiver(X, Y, U, V, angles="xy", scale_units="xy", scale=1.0, color="w", edgecolor="k",
                                 linewidth=0.4, width=0.006, minlength=0, zorder=4, animated=True)
        (self._origin,) = ax.plot([0.0], [0.0], marker="+", ms=10, mew=1.5, color="crimson", ls="none", zorder=5,
                                  animated=True)
        self._title = ax.set_title(" ", fontsize="medium")
        self._title.set_animated(True)
        ax.set_xlim(ext[0], ext[1])
        ax.set_ylim(ext[2], ext[3])
        ax.set_xlabel("a: along u" if isinstance(self._u, Tunable) else f"a: {self.labels[0]} direction (u)")
        ax.set_ylabel(f"b: v(θ) = cos θ·{self.labels[1]} + sin θ·{self.labels[2]}")
        for axis in (ax.xaxis, ax.yaxis):  # fewer tick labels: less text to draw
            axis.set_major_locator(MaxNLocator(5, steps=[1, 2, 5, 10]))
        self._ax, self._cax = ax, cax
        self._panels: list = []  # animated artists of the side panels
        self._v_image = self._window = None
        if self._side:
            self._build_panels(fig, box)
        self._cmaps = {"response": mpl.colormaps["viridis"],
                       "curvature": mpl.colormaps["RdBu_r"].with_extremes(bad="0.82")}
        self._static = self._static_key = None  # the figure without any animated artist
        self._titled: collections.OrderedDict = collections.OrderedDict()  # title -> static + title
        self._backgrounds: collections.OrderedDict = collections.OrderedDict()  # _background_key() -> + colorbar

    def _build_panels(self, fig, box):
        """v(theta) and u as images (signed colours, as ``plots.show_images``), and a map of
        the window: the square of the plane shown, inside the range the origin sliders reach,
        in plane coordinates (u across, v(theta) up) relative to the base origin x0."""
        shape = (self._side, self._side)
        tuned_u = isinstance(self._u, Tunable)
        self._u_image = None
        for bottom, title, img in ((2.95, "v(θ)", self.v1), (1.6, "u" if tuned_u else f"u: {self.labels[0]}", self.u)):
            iax = fig.add_axes(box(5.38, bottom, 1.05, 1.05))
            iax.set_axis_off()
            iax.set_title(title, fontsize="small", pad=3)
            m = float(np.max(np.abs(img))) or 1.0
            im = iax.imshow(img.reshape(shape), cmap="RdBu_r", vmin=-m, vmax=m, interpolation="nearest")
            if self._v_image is None:
                self._v_image = im
                im.set_animated(True)
            elif tuned_u:  # u changes with the parameters
                self._u_image = im
                im.set_animated(True)
        e, reach = self.extent, (1 + ORIGIN_SPAN) * self.extent
        wax = fig.add_axes(box(5.53, 0.5, 0.75, 0.75))
        wax.set(xlim=(-reach, reach), ylim=(-reach, reach), xticks=[], yticks=[], aspect="equal")
        wax.set_title("window", fontsize="small", pad=3)
        wax.set_xlabel("u", fontsize="small", labelpad=1)
        wax.set_ylabel("v(θ)", fontsize="small", labelpad=1)
        for spine in wax.spines.values():
            spine.set_color("0.6")
        wax.axhline(0.0, color="0.85", lw=0.6)
        wax.axvline(0.0, color="0.85", lw=0.6)
        square = np.array([[-e, -e], [e, -e], [e, e], [-e, e], [-e, -e]])
        (self._window,) = wax.plot(*square.T, color="k", lw=1.0, animated=True)
        self._window_square = square
        (self._window_origin,) = wax.plot([0.0], [0.0], marker="+", ms=5, mew=1.0, color="crimson", ls="none",
                                          animated=True)
        self._panels = [self._v_image, self._window, self._window_origin, *([self._u_image] if tuned_u else [])]

    def _compute(self, coords):
        """What the view needs on ``coords``: (PlaneGeometry with the fields computed, the
        field drawn, the gradient at the arrow points or None)."""
        f, p = self.function, self.plane
        dt = geomlib.float_dtype()
        c = jnp.asarray(coords, dt)
        arrows = None
        if self.view == "exact":
            geo = geomlib.plane_geometry(f, p, c)
            field = geo.curvature
        elif self.view == "grid":
            value, grad = geomlib.plane_gradients(f, p, c)
            field = geomlib.grid_curvature_from_gradient(grad, coords)
            geo = geomlib.PlaneGeometry(value, grad, None, None)
        else:
            value = geomlib.plane_values(f, p, c)
            if coords is self.coords:  # arrows at full resolution only
                _, arrows = geomlib.plane_gradients(f, p, jnp.asarray(self.arrows_coords, dt))
            geo = geomlib.PlaneGeometry(value, None, None, None)
            field = value
        geo, field, arrows = jax.tree_util.tree_map(np.asarray, jax.block_until_ready((geo, field, arrows)))
        return geo, np.asarray(field, dtype=np.float64), arrows

    def _set_colors(self, cmap, lo, hi, label):
        """Colour map, limits (rounded to 1/1000 of their range, so that rounding noise in
        the field does not count as a change) and colorbar label, touching only what changed."""
        q = 10.0 ** (np.floor(np.log10(hi - lo)) - 3)
        if np.isfinite(q) and q > 0:
            lo, hi = float(np.floor(lo / q) * q), float(np.ceil(hi / q) * q)
        im, cax = self._image, self._cax
        if im.get_cmap() is not cmap:
            im.set_cmap(cmap)
            self._ramp.set_cmap(cmap)
        if im.get_clim() != (lo, hi):
            im.set_clim(lo, hi)
            self._ramp.set_extent((0.0, 1.0, lo, hi))
            cax.set_ylim(lo, hi)
        if cax.get_ylabel() != label:
            cax.set_ylabel(label)

    def _u_text(self) -> str:
        """The label of u, formatted with the parameter values when u depends on them
        (``labels=("MEI of neuron {index}", ...)``)."""
        label = self.labels[0]
        return label.format(**self.parameter_values) if isinstance(self._u, Tunable) else label

    def _name(self) -> str:
        """The neuron's name, and u's when u changes with the parameters."""
        return f"{self.neuron}, u = {self._u_text()}" if isinstance(self._u, Tunable) else self.neuron

    def _tuned(self) -> bool:
        return any(isinstance(x, Tunable) for x in (self.neurons[self.neuron], self._u, self._x0))

    def _parameters_text(self) -> str:
        # the label of the current option (SelectionSlider.label is empty until the value first changes)
        return "".join(f"   {w.description} = {next(label for label, v in w.options if v == w.value)}"
                       for w in self.parameter_sliders.values())

    def _readout(self) -> str:
        where = f"θ = {self.theta:.0f}°   origin + ({self.origin_a:.2f} u, {self.origin_b:.2f} v)"
        if not self._tuned():
            return f"{self._name()}   {where}"
        # two lines: too wide for one. Parameters u is built from are in its name already;
        # slider labels without their explanation in brackets
        in_name = self._u.uses(self.parameter_values) if isinstance(self._u, Tunable) else {}
        values = ", ".join(f"{w.description.split(' (')[0]} = {next(lb for lb, v in w.options if v == w.value)}"
                           for k, w in self.parameter_sliders.items() if k not in in_name)
        return f"{self._name()}\nθ = {self.theta:.0f}°, origin + ({self.origin_a:.2f} u, {self.origin_b:.2f} v)" + (
            f", {values}" if values else "")

    def _draw_artists(self, geo, field, arrows, coords):
        values = np.asarray(geo.value, dtype=np.float64)
        levels = plots.contour_levels(values, self.levels)
        if self.view == "response":
            finite = field[np.isfinite(field)]
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            if not hi > lo:
                lo, hi = lo - 0.5, hi + 0.5
            self._image.set_data(field)
            self._set_colors(self._cmaps["response"], lo, hi, f"response of {self.neuron}")
            if arrows is not None:
                U, V = plots.scaled_arrows(arrows, self._arrow_spacing)
                self._quiver.set_UVC(U, V)
            self._quiver.set_visible(arrows is not None)  # a coarse preview draws none
            color, width = "k", 0.8
        else:
            lim = plots.curvature_limit(field, coords)
            self._image.set_data(np.ma.masked_invalid(field))
            self._set_colors(self._cmaps["curvature"], -lim, lim,
                             f"curvature κ, {plots.CURVATURE_LABELS[self.view]}\n{plots.CURVATURE_SIGNS}")
            self._quiver.set_visible(False)
            color, width = "0.35", 0.6
        self._contours.set_segments(plots.contour_lines(values, coords, levels))
        self._contours.set_color(color)
        self._contours.set_linewidth(width)
        if self._side:
            v = self.v
            m = float(np.max(np.abs(v))) or 1.0
            self._v_image.set_data(v.reshape(self._side, self._side))
            self._v_image.set_clim(-m, m)
            if self._u_image is not None:
                u = self.u
                m = float(np.max(np.abs(u))) or 1.0
                self._u_image.set_data(u.reshape(self._side, self._side))
                self._u_image.set_clim(-m, m)
            shift = np.array([self.origin_a, self.origin_b])
            self._window.set_data(*(self._window_square + shift).T)
            self._window_origin.set_data([shift[0]], [shift[1]])
            self._title.set_text(self._name())  # the values are in the readout, and in the panels
        else:  # no panels: the title says where the plane is
            self._title.set_text(self._readout())
        tuned = " &nbsp; " + html.escape(self._parameters_text().strip()) if self._tuned() else ""
        self.readout.value = (f"<b>{html.escape(self._name())}</b> &nbsp; θ = {self.theta:.0f}° &nbsp; "
                              f"origin = x₀ + {self.origin_a:.2f} u + {self.origin_b:.2f} v(θ){tuned}")

    def _background_key(self):
        """Everything in the cached background that can change: colours, colorbar label and,
        when it does not change with the sliders, the title."""
        im = self._image
        return (im.get_cmap().name, im.get_clim(), self._cax.get_ylabel(),
                self._title.get_text() if self._side else None)

    def _layer(self, cache, key, base, artist):
        """The whole figure: region ``base`` with ``artist`` drawn over it, cached in
        ``cache`` under ``key`` (the ``_BACKGROUNDS`` last used are kept)."""
        region = cache.get(key)
        if region is None:
            canvas = self.figure.canvas
            canvas.restore_region(base)
            self.figure.draw_artist(artist)
            region = cache[key] = canvas.copy_from_bbox(self.figure.bbox)
            while len(cache) > _BACKGROUNDS:
                cache.popitem(last=False)
        else:
            cache.move_to_end(key)
        return region

    def _blit(self):
        """Paint the figure into the canvas buffer: restore the background for the current
        colour state (static parts, drawn once; plus the title, when it is the neuron's name;
        plus the colorbar) and draw only the animated artists over it."""
        fig, canvas, ax = self.figure, self.figure.canvas, self._ax
        size = (*canvas.get_width_height(physical=True), fig.dpi)
        if self._static_key != size:  # first render, or the figure was resized
            canvas.draw()  # leaves out the animated artists
            self._static, self._static_key = canvas.copy_from_bbox(fig.bbox), size
            self._titled.clear()
            self._backgrounds.clear()
        key = self._background_key()
        base = self._static
        if self._side:  # the title changes with the neuron only
            base = self._layer(self._titled, key[-1], base, self._title)
        canvas.restore_region(self._layer(self._backgrounds, key, base, self._cax))
        # the order of a full draw (zorder): field, contours, frame, arrows, origin marker
        ax.draw_artist(self._image)
        ax.draw_artist(self._contours)
        for spine in ax.spines.values():
            ax.draw_artist(spine)
        if self._quiver.get_visible():
            ax.draw_artist(self._quiver)
        ax.draw_artist(self._origin)
        if not self._side:
            ax.draw_artist(self._title)
        for artist in self._panels:
            fig.draw_artist(artist)

    def _encode(self) -> bytes:
        return _png(np.asarray(self.figure.canvas.buffer_rgba()))

    def render(self, preview: bool = False) -> dict:
        """Recompute the field for the current controls, redraw, and update the image
        (on the coarse preview grid if ``preview`` and the explorer has one)."""
        coords = self._preview_coords if preview and self._preview_coords is not None else self.coords
        t0 = time.perf_counter()
        geo, field, arrows = self._compute(coords)
        t1 = time.perf_counter()
        self._draw_artists(geo, field, arrows, coords)
        t2 = time.perf_counter()
        self._blit()
        t3 = time.perf_counter()
        png = self._encode()
        self.image.value = png
        t4 = time.perf_counter()
        self.geometry, self.field, self.png, self.arrows_grad = geo, field, png, arrows
        timing = {"compute": t1 - t0, "artists": t2 - t1, "draw": t3 - t2, "png": t4 - t3, "total": t4 - t0,
                  "grid": field.shape[0], "preview": coords is not self.coords}
        self.timings.append(timing)
        self._rendered_at = time.perf_counter()
        if not timing["preview"]:
            self._full_seconds = timing["total"]
        ms = {key: f"{1e3 * timing[key]:.0f}" for key in ("total", "compute", "artists", "draw", "png")}
        axes = (f"v₁ = {html.escape(self.v1_dropdown.value)}, v₂ = {html.escape(self.v2_dropdown.value)}"
                if self._choose_axes else f"v(θ) = cos θ·{self.labels[1]} + sin θ·{self.labels[2]}")
        kind = "coarse preview, full resolution follows" if timing["preview"] else "grid"
        self.status.value = (f"<small>{axes}, orthogonal to u = {html.escape(self._u_text())}; "
                             f"{field.shape[0]}×{field.shape[1]} {kind}; update {ms['total']} ms "
                             f"(field {ms['compute']}, artists {ms['artists']}, draw {ms['draw']}, png {ms['png']})"
                             "</small>")
        return timing

    def static_png(self) -> bytes:
        """PNG of the current view for a static copy (no readout beside it): as :attr:`png`,
        with the values of the controls in the title."""
        if self.png is None or not self._side:
            return self.png
        title = self._title.get_text()
        try:
            self._title.set_text(self._readout())
            self._blit()
            return self._encode()
        finally:
            self._title.set_text(title)
            self._blit()

    # ---------------------------------------------------------------- display
    def _repr_mimebundle_(self, **kwargs):
        """The live widget view plus a static PNG of the current figure (for saved notebooks)."""
        data = super()._repr_mimebundle_(**kwargs) or {}
        if self.png is not None:
            data["image/png"] = base64.b64encode(self.static_png()).decode("ascii")
        return data

    def close(self):
        """Close the widget and its controls (frees their comms)."""
        names = ("_controls", "image", "status", "readout")
        if not all(name in self.__dict__ for name in names):
            return  # __del__ of an instance whose __init__ raised: nothing was opened
        self._cancel_full()
        for w in (*self._controls.values(), self.image, self.status, self.readout, *self.children):
            w.close()
        super().close()
