"""Explorers of the mechanism (chapter 6): sliders over the figures of :mod:`geomlib.plots.mechanism`.

:func:`toy_mechanism_explorer`: the 2-D toy of Paiton et al. (2020, figure 6), with sliders
for the LCA threshold lambda, the start point's angle and the target unit; the contours of
the LCA unit bend and its attack path swings toward the unit's atom, beside the ReLU and
linear units with the same weights. :func:`digit_mechanism_explorer`: targeted attacks on
digit classifiers in the plane of the digit and the target class's mean digit, with
sliders for the digit and the target class.

Both are a :class:`MechanismExplorer`: a figure redrawn whole from the slider values (a few
panels, no blitting: the compute dominates), as a PNG in an ``rg-figure`` image, renders
timed by :class:`~geomlib.widgets.RenderSchedule` as in the plane explorer, and a static
PNG of the current view in the saved notebook.

>>> ex = toy_mechanism_explorer(n=9, lambdas=(0.0, 0.2), angles=(90.0, 120.0), max_steps=60, dpi=30)
>>> sorted(ex.sliders), ex.values["lam"], ex.png[:4] == b"\\x89PNG"
(['angle', 'lam', 'target'], 0.2, True)
>>> ex.update(lam=0.0)["total"] > 0, ex.result["linear"].attack.reached
(True, True)
>>> ex.close()
"""

from __future__ import annotations

import base64
import html
import time
from typing import Callable, Mapping, Sequence

import ipywidgets as widgets
import numpy as np
from jax.typing import ArrayLike
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import geomlib
from geomlib import plots
from geomlib.widgets.kernel import kernel_loop
from geomlib.widgets.png import encode_png
from geomlib.widgets.schedule import DEFER, NOW, PROGRESSIVE, RenderSchedule

__all__ = ["MechanismExplorer", "TOY_ANGLES", "TOY_LAMBDAS", "digit_mechanism_explorer", "toy_mechanism_explorer"]

#: Threshold values the toy's lambda slider offers.
TOY_LAMBDAS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
#: Start angles (degrees from the x1 axis) the toy's start slider offers, on the unit circle.
TOY_ANGLES = tuple(float(a) for a in range(0, 181, 10))


class MechanismExplorer(widgets.VBox):
    """Selection sliders over a figure that ``draw`` redraws from their values.

    Args:
      draw: ``draw(figure, values) -> (result, text)``: draws into the (cleared) matplotlib
        ``Figure`` for the slider values (name -> value); ``result`` is kept as
        :attr:`result`, ``text`` (HTML) is shown under the sliders.
      sliders: name -> ``(label, options, value)``; options a list of values or of
        ``(text, value)`` pairs. Each slider has the CSS class ``rg-slider-<name>``.
      figsize, dpi: of the figure (inches, dots per inch).
      continuous_update: re-render while a slider is dragged (True) or on release.

    Attributes:
      values: the current slider values.
      result: what the last ``draw`` returned first (e.g. the computed attacks).
      png: the last rendered PNG; figure: the matplotlib Figure.
      timings: per-render seconds (compute and draw, png, total), the last 100.
      last_error: the exception of the last failed slider-driven render, else None.
    """

    def __init__(self, draw: Callable, sliders: Mapping[str, tuple], *, figsize: tuple[float, float] = (10.5, 6.6),
                 dpi: float = 80, continuous_update: bool = False):
        if not callable(draw):
            raise ValueError(f"draw: expected a callable draw(figure, values), got {type(draw).__name__}")
        if not isinstance(sliders, Mapping) or not sliders:
            raise ValueError(f"sliders: expected a non-empty dict name -> (label, options, value), got {sliders!r:.80}")
        self._draw = draw
        self.sliders: dict[str, widgets.SelectionSlider] = {}
        for name, spec in sliders.items():
            label, options, value = spec
            options = [o if isinstance(o, tuple) else (f"{o:g}" if isinstance(o, float) else str(o), o)
                       for o in options]
            if value not in [v for _, v in options]:
                raise ValueError(f"sliders[{name!r}]: expected a value among its options, got {value!r}")
            w = widgets.SelectionSlider(options=options, value=value, description=label,
                                        continuous_update=continuous_update, style={"description_width": "150px"},
                                        layout=widgets.Layout(width="520px"))
            w.add_class(f"rg-slider-{name.replace('_', '-')}")
            w.observe(self._on_change, names="value")
            self.sliders[name] = w
        self.figure = Figure(figsize=figsize, dpi=dpi, layout="constrained")
        FigureCanvasAgg(self.figure)
        self.image = widgets.Image(format="png", layout=widgets.Layout(width=f"{figsize[0] * dpi:.0f}px"))
        self.readout, self.status = widgets.HTML(), widgets.HTML()
        for w, cls in ((self.image, "rg-figure"), (self.readout, "rg-readout"), (self.status, "rg-status")):
            w.add_class(cls)
        self.schedule = RenderSchedule()
        self.result = self.png = self.last_error = None
        self.timings: list[dict] = []
        super().__init__([*self.sliders.values(), self.readout, self.image, self.status])
        self.add_class("rg-mechanism-explorer")
        self.render()

    @property
    def values(self) -> dict:
        """The current slider values, by name."""
        return {name: w.value for name, w in self.sliders.items()}

    @property
    def last_timing(self) -> dict | None:
        return self.timings[-1] if self.timings else None

    def render(self) -> dict:
        """Redraw the figure for the current slider values and update the image; returns the timing."""
        t0 = time.perf_counter()
        self.result, text = self._draw(self.figure, self.values)
        self.figure.canvas.draw()
        t1 = time.perf_counter()
        png = encode_png(np.asarray(self.figure.canvas.buffer_rgba()))
        self.image.value = self.png = png
        t2 = time.perf_counter()
        timing = {"draw": t1 - t0, "png": t2 - t1, "total": t2 - t0}
        self.timings = [*self.timings[-99:], timing]
        self.schedule.rendered(timing["total"], False, time.perf_counter())
        self.readout.value = text or ""
        self.status.value = (f"<small>update {1e3 * timing['total']:.0f} ms (compute and draw "
                             f"{1e3 * timing['draw']:.0f}, png {1e3 * timing['png']:.0f})</small>")
        return timing

    def update(self, **values) -> dict:
        """Set sliders by name and render once; returns the timing."""
        unknown = set(values) - set(self.sliders)
        if unknown:
            raise ValueError(f"update: expected keys among {tuple(self.sliders)}, got {sorted(unknown)}")
        with self.schedule.hold():
            for name, value in values.items():
                self.sliders[name].value = value
        return self.render()

    def _on_change(self, change):
        if self.schedule.holding:
            return
        loop = kernel_loop()
        # the slowest of the last renders: one fast render (a message, a cached view) must not
        # send the next slow one to a deferred render, which runs while the kernel reports idle
        last = max((t["total"] for t in self.timings[-5:]), default=None)
        action = self.schedule.on_change(time.perf_counter(), loop is not None, last)
        if action in (NOW, PROGRESSIVE):
            self._safe_render()
        elif action == DEFER:
            loop.call_later(self.schedule.coalesce, self._flush)

    def _flush(self):
        self.schedule.flushed()
        self._safe_render()

    def _safe_render(self) -> bool:
        try:
            self.render()
            self.last_error = None
            return True
        except Exception as err:  # shown in the widget instead of vanishing into the kernel log
            self.last_error = err
            self.status.value = (f"<span style='color:#b00'>error: {html.escape(type(err).__name__)}: "
                                 f"{html.escape(str(err))}</span>")
            return False

    def _repr_mimebundle_(self, **kwargs):
        """The live widget view plus a static PNG of the current figure (for saved notebooks)."""
        data = super()._repr_mimebundle_(**kwargs) or {}
        if self.png is not None:
            data["image/png"] = base64.b64encode(self.png).decode("ascii")
        return data

    def close(self):
        """Close the widget and its controls (frees their comms)."""
        if not all(name in self.__dict__ for name in ("sliders", "image", "readout", "status")):
            return  # __del__ of an instance whose __init__ raised: nothing was opened
        for w in (*self.sliders.values(), self.image, self.readout, self.status):
            w.close()
        super().close()


def _toy_text(result: Mapping) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{t.attack.length:.2f}</td><td>{t.attack.distance:.2f}</td>"
        f"<td>{np.nanmax(t.curvature):.2f}</td><td>{'yes' if t.attack.reached else 'no'}</td></tr>"
        for name, t in result.items())
    return ("<table><tr><th>unit</th><th>path length</th><th>final distance</th><th>max κ on the path</th>"
            f"<th>level reached</th></tr>{rows}</table>")


def toy_mechanism_explorer(params: dict | None = None, *, lambdas: Sequence[float] = TOY_LAMBDAS,
                           angles: Sequence[float] = TOY_ANGLES, lam: float | None = None, angle: float | None = None,
                           target: int = 0, radius: float = 1.0, extent: float = 1.5, n: int = 41,
                           level: float = geomlib.TOY_LEVEL, step_size: float = 0.02, max_steps: int = 200,
                           temperature: float = geomlib.TOY_TEMPERATURE, dpi: float = 80,
                           continuous_update: bool = False) -> MechanismExplorer:
    """The 2-D toy of :func:`geomlib.toy_attacks`, live: sliders for lambda, the start point
    (its angle on the circle of ``radius``) and the target unit.

    Args:
      params: ``{"phi": (2, N)}`` (default :func:`geomlib.toy_lca_dictionary`, three atoms).
      lambdas, angles: the values the lambda and angle sliders offer.
      lam, angle, target: initial values (default: the second lambda, and 110 degrees if offered
        else the middle angle).
      radius: distance of the start point from 0.
      extent, n: the window [-extent, extent]^2 and its grid points per axis.
      level, step_size, max_steps, temperature: of :func:`geomlib.toy_attacks`.
      dpi, continuous_update: of the :class:`MechanismExplorer`.

    Returns:
      the explorer; :attr:`MechanismExplorer.result` is the dict of :func:`geomlib.toy_attacks`.
    """
    params = geomlib.toy_lca_dictionary() if params is None else params
    phi = np.asarray(params["phi"], dtype=np.float64)
    lambdas, angles = [float(v) for v in lambdas], [float(v) for v in angles]
    lam = lambdas[min(1, len(lambdas) - 1)] if lam is None else float(lam)
    angle = (110.0 if 110.0 in angles else angles[len(angles) // 2]) if angle is None else float(angle)
    coords = np.asarray(geomlib.grid(n, extent))

    def draw(fig, v):
        a = np.deg2rad(v["angle"])
        start = radius * np.array([np.cos(a), np.sin(a)])
        result = geomlib.toy_attacks(params, v["target"], v["lam"], start, coords, level=level, step_size=step_size,
                                     max_steps=max_steps, temperature=temperature)
        plots.plot_toy_mechanism(result, coords, phi, v["target"], level=level, fig=fig,
                                 title=f"unit {v['target']}, λ = {v['lam']:g}, start at {v['angle']:.0f}°: "
                                       f"gradient ascent until the response is {level:g}")
        return result, _toy_text(result)

    return MechanismExplorer(draw, {
        "lam": ("λ (LCA threshold)", lambdas, lam),
        "angle": ("start angle (degrees)", angles, angle),
        "target": ("target unit", list(range(phi.shape[1])), int(target)),
    }, figsize=(10.5, 6.6), dpi=dpi, continuous_update=continuous_update)


def digit_mechanism_explorer(models: Mapping[str, Callable], images: ArrayLike, labels: ArrayLike,
                             digits: Sequence[int], means: ArrayLike, *, digit: int | None = None,
                             target: int | None = None, n: int = 15, confidence: float = 0.9,
                             step_size: float = 0.1, max_steps: int = 100, dpi: float = 80,
                             continuous_update: bool = False) -> MechanismExplorer:
    """Targeted attacks on digit classifiers (:func:`geomlib.plane_attacks`), live: sliders
    for the digit and the target class. The template is the target's class mean, the
    cosine direction the target mean minus the digit's class mean.

    Args:
      models: name -> classifier ``(D,) -> (K,)`` (e.g. ``lca-mlp-2`` and ``mlp-2``).
      images, labels: the pool of digits ``(N, D)``, ``(N,)``.
      digits: indices into ``images`` the digit slider offers.
      means: class means ``(K, D)`` (:func:`geomlib.class_means`).
      digit, target: initial values (default: the first digit, its class + 3 mod K, or + 1 when
        that is its own class).
      n, confidence, step_size, max_steps: of :func:`geomlib.plane_attacks`. An LCA
        classifier costs about 90 MFLOP per grid point, so n = 15 takes a few seconds
        on 2 CPU cores.
      dpi, continuous_update: of the :class:`MechanismExplorer`.

    Returns:
      the explorer; :attr:`MechanismExplorer.result` is the dict of :func:`geomlib.plane_attacks`
      (None when the target is the digit's own class).
    """
    images, labels, means = np.asarray(images, np.float64), np.asarray(labels), np.asarray(means, np.float64)
    digits = [int(i) for i in digits]
    if not digits or any(not 0 <= i < len(images) for i in digits):
        raise ValueError(f"digits: expected indices in [0, {len(images)}), got {digits}")
    k = means.shape[0]
    digit = digits[0] if digit is None else int(digit)
    if target is None:  # another class than the digit's
        source = int(labels[digit])
        target = (source + 3) % k if (source + 3) % k != source else (source + 1) % k
    target = int(target)

    def draw(fig, v):
        x, s, t = images[v["digit"]], int(labels[v["digit"]]), v["target"]
        if t == s:
            fig.clear()
            fig.text(0.5, 0.5, f"digit #{v['digit']} is a {s}: choose a target class other than {s}",
                     ha="center", va="center", fontsize="large")
            return None, ""
        views = geomlib.plane_attacks(models, x, t, means[t], means[t] - means[s], confidence=confidence,
                                      step_size=step_size, max_steps=max_steps, n=n)
        plots.plot_digit_mechanism(views, source=s, target=t, fig=fig)
        rows = "".join(f"<tr><td>{html.escape(name)}</td><td>{w.attack.length:.2f}</td><td>{w.attack.distance:.2f}"
                       f"</td><td>{w.cosine[-1]:.2f}</td><td>{w.in_plane:.0%}</td></tr>" for name, w in views.items())
        return views, ("<table><tr><th>model</th><th>path length</th><th>final distance</th>"
                       f"<th>template cosine at the end</th><th>of δ in the plane</th></tr>{rows}</table>")

    return MechanismExplorer(draw, {
        "digit": ("digit #", digits, digit),
        "target": ("target class", list(range(k)), target),
    }, figsize=(11.0, 3.9), dpi=dpi, continuous_update=continuous_update)
