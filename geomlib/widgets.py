r"""Interactive plane explorer (ipywidgets) for iso-response contours and curvature.

The plane has the fixed horizontal axis u (a neuron's MEI) and the vertical axis

.. math:: v(\theta) = \cos\theta \, v_1 + \sin\theta \, v_2,

which rotates between two directions orthogonal to u. Its origin moves along u and
v(theta). One matplotlib ``Figure`` (Agg, not pyplot) is kept; each change updates its
artists in place and sends a PNG to an ``ipywidgets.Image``. The slider ranges are
owned here (:data:`THETA_RANGE`, :data:`ORIGIN_SPAN`, :data:`ORIGIN_STEPS`).

Saved notebooks: :meth:`PlaneExplorer._repr_mimebundle_` returns the widget view
*and* an ``image/png`` of the current view, so a static renderer (GitHub, nbviewer, a
notebook executed headless) shows the figure while JupyterLab shows the live widget.

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
import io
import time
from typing import Callable, Mapping

import ipywidgets as widgets
import jax
import jax.numpy as jnp
import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image as PILImage

import geomlib
from geomlib import plots

__all__ = ["COALESCE_SECONDS", "ORIGIN_SPAN", "ORIGIN_STEPS", "PlaneExplorer", "THETA_RANGE", "VIEWS"]

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
_CONTROLS = ("theta", "origin_a", "origin_b", "neuron", "view")


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


class PlaneExplorer(widgets.VBox):
    """Sliders and dropdowns over the response geometry of a few neurons on a plane.

    Args:
      neurons: name -> f, each f: R^D -> R JAX-traceable (bind parameters with
        ``jax.tree_util.Partial`` so compiled code is reused).
      u: horizontal axis (the MEI), shape ``(D,)``.
      v1, v2: the vertical axis rotates from v1 (theta = 0) to v2 (theta = 90);
        both are orthonormalised against u (and v2 against v1), shape ``(D,)``.
      origin: base origin x0 ``(D,)``; zeros if None. The plane's origin is
        ``x0 + origin_a u + origin_b v(theta)``.
      extent: half-width of the square window, in plane units.
      n: grid points per axis (``n x n`` autodiff evaluations per update).
      labels: names of (u, v1, v2) for axis labels and titles.
      view, neuron: initial choices (default: response view, first neuron).
      dpi, figsize: of the rendered PNG.
      continuous_update: re-render while a slider is dragged (True) or on release.

    Drive it from code with :meth:`update` (renders at once). Setting a control's
    ``.value`` inside a running kernel renders ``COALESCE_SECONDS`` later, after the cell.

    Attributes:
      geometry: last :class:`geomlib.PlaneGeometry`, numpy arrays ``(n, n)``...
      field: last field drawn ``(n, n)`` (response, or curvature with NaN where undefined).
      coords: the grid ``(n, n, 2)`` (relative to the current origin).
      png: bytes of the last rendered PNG.
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
        figsize: tuple[float, float] = (5.6, 4.5),
        arrows: int = 11,
        levels: int = 12,
        continuous_update: bool = True,
    ):
        if not isinstance(neurons, Mapping) or not neurons or not all(callable(f) for f in neurons.values()):
            raise ValueError(f"neurons: expected a non-empty dict name -> callable, got {neurons!r:.80}")
        if view not in VIEWS:
            raise ValueError(f"view: expected one of {tuple(VIEWS)}, got {view!r}")
        if neuron is not None and neuron not in neurons:
            raise ValueError(f"neuron: expected one of {tuple(neurons)}, got {neuron!r}")
        if not np.ndim(extent) == 0 or not float(extent) > 0:
            raise ValueError(f"extent: expected a positive half-width, got {extent!r}")
        self.neurons = dict(neurons)
        self.u, self.v1, self.v2 = _orthonormal(u, v1, v2)
        x0 = np.zeros_like(self.u) if origin is None else np.asarray(origin, dtype=np.float64)
        if x0.shape != self.u.shape:
            raise ValueError(f"origin: expected shape {self.u.shape}, got {x0.shape}")
        self.x0 = x0
        self.extent = float(extent)
        self.labels = tuple(labels)
        self.dpi = dpi
        self.arrows, self.levels = arrows, levels
        self.coords = np.asarray(geomlib.grid(n, self.extent))
        self._coords_jax = jnp.asarray(self.coords, geomlib.float_dtype())
        self.geometry = self.field = self.png = self.last_error = None
        self.timings: collections.deque = collections.deque(maxlen=500)
        self._holding = self._pending = False

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
        self.image = widgets.Image(format="png", layout=widgets.Layout(width=f"{figsize[0] * dpi:.0f}px"))
        self.status = widgets.HTML()
        for w, cls in ((self.theta_slider, "rg-slider-theta"), (self.origin_a_slider, "rg-slider-origin-a"),
                       (self.origin_b_slider, "rg-slider-origin-b"), (self.neuron_dropdown, "rg-dropdown-neuron"),
                       (self.view_dropdown, "rg-dropdown-view"), (self.image, "rg-figure"),
                       (self.status, "rg-status")):
            w.add_class(cls)
            if w is not self.image and w is not self.status:
                w.observe(self._on_change, names="value")
        self._build_figure(figsize)
        super().__init__([widgets.HBox([self.neuron_dropdown, self.view_dropdown]), self.theta_slider,
                          self.origin_a_slider, self.origin_b_slider, self.image, self.status])
        self.add_class("rg-plane-explorer")
        self.render()

    # ------------------------------------------------------------------ state
    theta = property(lambda self: float(self.theta_slider.value), doc="Rotation of v, degrees.")
    origin_a = property(lambda self: float(self.origin_a_slider.value), doc="Origin offset along u.")
    origin_b = property(lambda self: float(self.origin_b_slider.value), doc="Origin offset along v(theta).")
    neuron = property(lambda self: self.neuron_dropdown.value, doc="Name of the neuron shown.")
    view = property(lambda self: self.view_dropdown.value, doc="Key of the view shown (see VIEWS).")

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
        """Set any of theta, origin_a, origin_b, neuron, view; render once; return the timing.

        Slider values outside their range are clipped by the slider; an unknown neuron
        or view raises.
        """
        unknown = set(values) - set(_CONTROLS)
        if unknown:
            raise ValueError(f"update: expected keys among {_CONTROLS}, got {sorted(unknown)}")
        with self._hold():
            for key, value in values.items():
                getattr(self, f"{key}_{'dropdown' if key in ('neuron', 'view') else 'slider'}").value = value
        self.render()
        return self.last_timing

    def _on_change(self, change):
        """Slider/dropdown observer. In a running kernel the render is deferred by
        ``COALESCE_SECONDS`` on the event loop, so the burst of messages of a fast drag
        (including those queued during the previous render) becomes one render of the latest
        values instead of a growing backlog. Without a running loop it renders at once."""
        if self._holding:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            self._safe_render()
        elif not self._pending:
            self._pending = True
            loop.call_later(COALESCE_SECONDS, self._flush)

    def _flush(self):
        self._pending = False
        self._safe_render()

    def _safe_render(self):
        try:
            self.render()
            self.last_error = None
        except Exception as err:  # shown in the widget instead of vanishing into the kernel log
            self.last_error = err
            self.status.value = f"<span style='color:#b00'>error: {type(err).__name__}: {err}</span>"

    # ---------------------------------------------------------------- drawing
    def _build_figure(self, figsize):
        self.figure = Figure(figsize=figsize, dpi=self.dpi)
        FigureCanvasAgg(self.figure)
        ax = self.figure.add_axes([0.11, 0.11, 0.62, 0.77])
        cax = self.figure.add_axes([0.755, 0.11, 0.03, 0.77])
        zeros = np.zeros(self.coords.shape[:2])
        self._image = ax.imshow(zeros, extent=plots.plane_extent(self.coords), origin="lower",
                                interpolation="bilinear", aspect="equal")
        self._colorbar = self.figure.colorbar(self._image, cax=cax)
        X, Y, U, V = plots.arrow_field(self.coords, np.zeros(self.coords.shape), self.arrows)
        self._quiver = ax.quiver(X, Y, U, V, angles="xy", scale_units="xy", scale=1.0, color="w", edgecolor="k",
                                 linewidth=0.4, width=0.006, minlength=0, zorder=4)
        self._contours = None
        ax.plot([0.0], [0.0], marker="+", ms=10, mew=1.5, color="crimson", ls="none", zorder=5)
        ax.set_xlabel(f"a: {self.labels[0]} direction (u)")
        ax.set_ylabel(f"b: v(θ) = cos θ·{self.labels[1]} + sin θ·{self.labels[2]}")
        for axis in (ax.xaxis, ax.yaxis):  # fewer tick labels: text is most of the drawing time
            axis.set_major_locator(MaxNLocator(5, steps=[1, 2, 5, 10]))
        self._ax = ax
        self._cmaps = {"response": mpl.colormaps["viridis"],
                       "curvature": mpl.colormaps["RdBu_r"].with_extremes(bad="0.82")}

    def _compute(self):
        f = self.neurons[self.neuron]
        p = self.plane
        geo = geomlib.plane_geometry(f, p, self._coords_jax)
        geo = jax.tree_util.tree_map(np.asarray, jax.block_until_ready(geo))
        if self.view == "grid":
            field = np.asarray(geomlib.grid_curvature(f, p, self._coords_jax))
        elif self.view == "exact":
            field = geo.curvature
        else:
            field = geo.value
        return geo, np.asarray(field, dtype=np.float64)

    def _draw_artists(self, geo, field):
        ax, im = self._ax, self._image
        values = np.asarray(geo.value, dtype=np.float64)
        if self._contours is not None:
            self._contours.remove()
        levels = plots.contour_levels(values, self.levels)
        if self.view == "response":
            finite = field[np.isfinite(field)]
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            if not hi > lo:
                lo, hi = lo - 0.5, hi + 0.5
            im.set_cmap(self._cmaps["response"])
            im.set_data(field)
            im.set_clim(lo, hi)
            self._colorbar.set_label(f"response of {self.neuron}")
            X, Y, U, V = plots.arrow_field(self.coords, geo.grad, self.arrows)
            self._quiver.set_UVC(U, V)
            self._quiver.set_visible(True)
            color, width = "k", 0.8
        else:
            lim = plots.curvature_limit(field, self.coords)
            im.set_cmap(self._cmaps["curvature"])
            im.set_data(np.ma.masked_invalid(field))
            im.set_clim(-lim, lim)
            self._colorbar.set_label(f"curvature κ, {plots.CURVATURE_LABELS[self.view]}\n{plots.CURVATURE_SIGNS}")
            self._quiver.set_visible(False)
            color, width = "0.35", 0.6
        A, B = self.coords[..., 0], self.coords[..., 1]
        self._contours = ax.contour(A, B, values, levels=levels, colors=color, linewidths=width,
                                    negative_linestyles="solid") if levels.size else None
        origin = f"origin + ({self.origin_a:.2f} u, {self.origin_b:.2f} v)"
        ax.set_title(f"{self.neuron}   θ = {self.theta:.0f}°   {origin}", fontsize="medium")

    def render(self) -> dict:
        """Recompute the field for the current controls, redraw, and update the image."""
        t0 = time.perf_counter()
        geo, field = self._compute()
        t1 = time.perf_counter()
        self._draw_artists(geo, field)
        t2 = time.perf_counter()
        canvas = self.figure.canvas
        canvas.draw()
        t3 = time.perf_counter()
        buf = io.BytesIO()
        PILImage.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1) \
            .convert("RGB").save(buf, format="png", compress_level=3)
        png = buf.getvalue()
        self.image.value = png
        t4 = time.perf_counter()
        self.geometry, self.field, self.png = geo, field, png
        timing = {"compute": t1 - t0, "artists": t2 - t1, "draw": t3 - t2, "png": t4 - t3, "total": t4 - t0}
        self.timings.append(timing)
        ms = {key: f"{1e3 * value:.0f}" for key, value in timing.items()}
        self.status.value = (f"<small>v(θ) = cos θ·{self.labels[1]} + sin θ·{self.labels[2]}, both orthogonal to "
                             f"u = {self.labels[0]}; {field.shape[0]}×{field.shape[1]} grid; update {ms['total']} ms "
                             f"(field {ms['compute']}, artists {ms['artists']}, draw {ms['draw']}, png {ms['png']})"
                             "</small>")
        return timing

    # ---------------------------------------------------------------- display
    def _repr_mimebundle_(self, **kwargs):
        """The live widget view plus a static PNG of the current figure (for saved notebooks)."""
        data = super()._repr_mimebundle_(**kwargs) or {}
        if self.png is not None:
            data["image/png"] = base64.b64encode(self.png).decode("ascii")
        return data

    def close(self):
        """Close the widget and its controls (frees their comms)."""
        names = ("theta_slider", "origin_a_slider", "origin_b_slider", "neuron_dropdown", "view_dropdown",
                 "image", "status")
        if not all(name in self.__dict__ for name in names):
            return  # __del__ of an instance whose __init__ raised: nothing was opened
        for w in (*(self.__dict__[name] for name in names), *self.children):
            w.close()
        super().close()
