r"""Interactive plane explorer (ipywidgets) for iso-response contours and curvature.

The plane has the fixed horizontal axis u (a neuron's MEI) and the vertical axis

.. math:: v(\theta) = \cos\theta \, v_1 + \sin\theta \, v_2,

which rotates between two directions orthogonal to u. Its origin moves along u and
v(theta). The slider ranges are :mod:`geomlib.widgets.controls`' (``THETA_RANGE``,
``ORIGIN_SPAN``, ``ORIGIN_STEPS``). Optional controls: menus that choose v1 and v2 among several
directions (pass dicts), and sliders over model parameters (``parameters=``) that
rebuild the neurons given as :class:`Tunable` (e.g. an LCA's threshold and step count).

What is computed is what is shown: the response view evaluates the response on the grid
and the exact gradient only where an arrow is drawn; the grid-curvature view needs the
gradient everywhere; only the exact-curvature view needs Hessians. A neuron too slow
to redraw at full resolution while a slider moves (a full update above
``PREVIEW_SECONDS``) is first drawn on a coarse ``preview x preview`` grid, then at
full resolution once the slider rests (:mod:`geomlib.widgets.schedule`). The figure is
redrawn in place, only what changes (:mod:`geomlib.widgets.figure`).

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

import base64
import collections
import html
import time
from typing import Callable, Mapping, Sequence

import ipywidgets as widgets
import numpy as np
from jax.typing import ArrayLike

import geomlib
from geomlib import plots
from geomlib.widgets.cache import LRU
from geomlib.widgets.compute import view_fields
from geomlib.widgets.controls import VIEWS, check_parameters, make_controls
from geomlib.widgets.figure import PlaneFigure
from geomlib.widgets.kernel import kernel_loop
from geomlib.widgets.schedule import DEFER, NOW, PROGRESSIVE, RenderSchedule
from geomlib.widgets.state import PlaneState
from geomlib.widgets.tunable import Tunable, directions

__all__ = ["BUILT", "PlaneExplorer"]

#: Built functions of Tunable neurons kept (one per neuron and parameter setting).
BUILT = 32


class PlaneExplorer(PlaneState, PlaneFigure, widgets.VBox):
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
      boundary: a response level drawn as a thick red contour over the others, e.g. 0 for
        a decision function f_i - f_j (its decision boundary); or a function of the
        parameter values returning that level, or None where there is none; None: no line.

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
        neurons: Mapping[str, Callable | Tunable],
        u: ArrayLike | Tunable,
        v1: ArrayLike | Tunable | Mapping[str, ArrayLike | Tunable],
        v2: ArrayLike | Tunable | Mapping[str, ArrayLike | Tunable],
        *,
        origin: ArrayLike | Tunable | None = None,
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
        boundary: float | Callable[[Mapping[str, object]], float | None] | None = None,
    ):
        if (not isinstance(neurons, Mapping) or not neurons
                or not all(callable(f) or isinstance(f, Tunable) for f in neurons.values())):
            raise ValueError(f"neurons: expected a non-empty dict name -> callable or Tunable, got {neurons!r:.80}")
        parameters, initial = check_parameters(parameters, parameter_values)
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
        if not (boundary is None or callable(boundary) or (isinstance(boundary, (int, float, np.number))
                                                          and not isinstance(boundary, bool) and np.isfinite(boundary))):
            raise ValueError(f"boundary: expected None, a finite level or a function of the parameter values, "
                             f"got {boundary!r:.80}")
        self.boundary = boundary
        self.neurons = dict(neurons)
        self.parameters = parameters
        self._parameter_values = initial  # until the sliders exist
        self._built = LRU(BUILT)
        self._set_axes(u, v1, v2, origin)
        self.preview = None if preview is None else int(preview)
        self.schedule = RenderSchedule()
        self._full_handle = None  # the full-resolution update scheduled after a preview
        self.extent = float(extent)
        labels = tuple(labels)
        if self._choose_axes:  # the menus name the axes
            labels = (labels[0], "v₁", "v₂")
        self.labels = labels
        self.dpi = dpi
        self.arrows, self.levels = arrows, levels
        self._set_grids(n)
        self.geometry = self.field = self.png = self.last_error = self.arrows_grad = None
        self.timings: collections.deque = collections.deque(maxlen=500)
        super().__init__(self._build_widgets(neuron or next(iter(self.neurons)), view, initial, parameter_labels,
                                             continuous_update, figsize))
        self.add_class("rg-plane-explorer")
        self.render()

    def boundary_level(self) -> float | None:
        """The level drawn as the red boundary line for the current parameters, or None."""
        level = self.boundary(self.parameter_values) if callable(self.boundary) else self.boundary
        return None if level is None else float(level)

    def _set_axes(self, u, v1, v2, origin):
        """u, the menus of v1 and v2, and the base origin; ValueError for directions that are
        not independent (for any choice of the menus) or an origin of another shape."""
        self._u = u if isinstance(u, Tunable) else np.asarray(u, dtype=np.float64)
        self.v1_options, self.v2_options = directions("v1", v1), directions("v2", v2)
        self._choose_axes = isinstance(v1, Mapping) or isinstance(v2, Mapping)
        if not self.parameters and any(isinstance(x, Tunable) for x in (u, *self.v1_options.values(),
                                                                         *self.v2_options.values())):
            raise ValueError("parameters: expected the sliders that Tunable axes are built from, got none")
        for a in self.v1_options:  # every pair: a bad direction fails here, not under a slider
            for b in self.v2_options:
                u0 = self._basis(a, b)[0]
        if isinstance(origin, Tunable):
            if not self.parameters:
                raise ValueError("parameters: expected the sliders that a Tunable origin is built from, got none")
            self._x0 = origin
            x0 = np.asarray(self._resolve("x0", origin, "axis"), dtype=np.float64)
        else:
            x0 = self._x0 = np.zeros_like(u0) if origin is None else np.asarray(origin, dtype=np.float64)
        if x0.shape != u0.shape:
            raise ValueError(f"origin: expected shape {u0.shape}, got {x0.shape}")

    def _set_grids(self, n):
        """The grid ``(n, n, 2)``, the arrow points on it, and the coarse preview grid."""
        self.coords = np.asarray(geomlib.grid(n, self.extent))
        ib, ia = plots.arrow_indices(self.coords.shape[:2], self.arrows)
        self.arrows_coords = self.coords[np.ix_(ib, ia)]
        self._arrow_spacing = plots.arrow_spacing(self.coords, ib, ia)
        self._preview_coords = (None if self.preview is None or self.preview >= n
                                else np.asarray(geomlib.grid(self.preview, self.extent)))

    def _build_widgets(self, neuron, view, initial, parameter_labels, continuous_update, figsize):
        """The controls (observed), the figure, its image, readout and status: this box's children."""
        self._controls = make_controls(list(self.neurons), neuron, view,
                                       list(self.v1_options), list(self.v2_options), self.parameters, initial,
                                       parameter_labels, self.extent, continuous_update)
        self.theta_slider, self.origin_a_slider, self.origin_b_slider = (
            self._controls[k] for k in ("theta", "origin_a", "origin_b"))
        self.neuron_dropdown, self.view_dropdown, self.v1_dropdown, self.v2_dropdown = (
            self._controls[k] for k in ("neuron", "view", "v1", "v2"))
        self.parameter_sliders = {key: self._controls[key] for key in self.parameters}
        self.status = widgets.HTML()
        self.readout = widgets.HTML()
        self._build_figure(figsize)
        self.image = widgets.Image(format="png", layout=widgets.Layout(
            width=f"{self.figure.get_figwidth() * self.dpi:.0f}px"))
        for w in self._controls.values():
            w.observe(self._on_change, names="value")
        for w, cls in ((self.image, "rg-figure"), (self.status, "rg-status"), (self.readout, "rg-readout")):
            w.add_class(cls)
        menus = [self.neuron_dropdown, self.view_dropdown]
        axes = [w for w, opts in ((self.v1_dropdown, self.v1_options), (self.v2_dropdown, self.v2_options))
                if self._choose_axes]
        return [widgets.HBox(menus), *([widgets.HBox(axes)] if axes else []), self.theta_slider,
                self.origin_a_slider, self.origin_b_slider, *self.parameter_sliders.values(),
                self.readout, self.image, self.status]

    @property
    def _pending(self) -> bool:
        """A deferred render is scheduled (:attr:`RenderSchedule.pending`)."""
        return self.schedule.pending

    @property
    def _full_seconds(self) -> float:
        """Duration of the last full-resolution update (:attr:`RenderSchedule.full_seconds`)."""
        return self.schedule.full_seconds

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
        with self.schedule.hold():
            for key, value in values.items():
                self._controls[key].value = value
        self.render()
        return self.last_timing

    def _on_change(self, change):
        """Slider/dropdown observer: renders as :class:`RenderSchedule` decides (at once,
        progressively, or deferred onto the kernel's event loop to coalesce a burst)."""
        if self.schedule.holding:
            return
        self._cancel_full()
        loop = kernel_loop()
        # the slowest of the last few renders: one fast render (a cached preview) must not send
        # the next slow one to a deferred render, which runs while the kernel reports idle
        last = max((t["total"] for t in list(self.timings)[-5:]), default=None)
        action = self.schedule.on_change(time.perf_counter(), loop is not None, last)
        if action == NOW:
            self._safe_render()
        elif action == PROGRESSIVE:
            self._render_progressively(loop)
        elif action == DEFER:
            loop.call_later(self.schedule.coalesce, self._flush)

    def _flush(self):
        self.schedule.flushed()
        self._render_progressively(kernel_loop())

    def _render_progressively(self, loop):
        if not self.schedule.preview_first(loop is not None, self._preview_coords is not None):
            self._safe_render()
        elif self._safe_render(preview=True):
            self._full_handle = loop.call_later(self.schedule.full_after, self._full)

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

    def _compute(self, coords):
        """What the view needs on ``coords``: (PlaneGeometry with the fields computed, the
        field drawn, the gradient at the arrow points or None)."""
        arrows = self.arrows_coords if coords is self.coords else None  # arrows at full resolution only
        return view_fields(self.function, self.plane, self.view, coords, arrows)

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
        self.schedule.rendered(timing["total"], timing["preview"], time.perf_counter())
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
