"""The plane explorer's figure: one matplotlib ``Figure`` (Agg, not pyplot), laid out
once, where an update redraws only what changes (blitting) before it is sent as a PNG.

The static parts (axes frames, ticks, labels) are drawn once; the colorbar and title are
drawn into a cached background when the colour scale or the neuron changes; each update
restores that background and draws the changed artists over it (field image, contour
lines, gradient arrows, the v(theta) image, the window map). When D is a square number
(images), the figure shows v(theta) and u as images and where the window sits, so every
slider visibly changes it even where the field does not change (a plane through the MEI
of a pointwise neuron looks the same for every theta and vertical offset).
"""

from __future__ import annotations

import html

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from geomlib import plots
from geomlib.plots.deep import BOUNDARY_COLOR
from geomlib.widgets.cache import LRU
from geomlib.widgets.controls import ORIGIN_SPAN
from geomlib.widgets.png import encode_png
from geomlib.widgets.tunable import Tunable

__all__ = ["BACKGROUNDS", "FIGSIZE", "FIGSIZE_PANELS", "PlaneFigure"]

#: Default figure size, inches: plane + colorbar, and with the side panels (square D).
FIGSIZE, FIGSIZE_PANELS = (5.6, 4.5), (6.55, 4.5)
#: Backgrounds (static parts + colorbar + title) kept, one per colour state and title.
BACKGROUNDS = 16


class PlaneFigure:
    """The plane explorer's figure (a mixin of :class:`~geomlib.widgets.PlaneExplorer`,
    drawing the state of :class:`~geomlib.widgets.state.PlaneState`)."""

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
        w0, h0 = FIGSIZE_PANELS if self._side else FIGSIZE
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
        # the boundary level (e.g. 0 of a decision function f_c - f_r), thick and red as
        # in plots.plot_decision, over the other contours
        self._boundary = LineCollection([], colors=BOUNDARY_COLOR, linewidths=2.2, zorder=3, animated=True)
        ax.add_collection(self._boundary, autolim=False)
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
        self._titled = LRU(BACKGROUNDS)  # title -> static + title
        self._backgrounds = LRU(BACKGROUNDS)  # _background_key() -> + colorbar

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
        level = self.boundary_level()
        self._boundary.set_segments([] if level is None else plots.contour_lines(values, coords, [level]))
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
        line = (f" &nbsp; <span style='color:{BOUNDARY_COLOR}'>red line</span>: response = {level:g}"
                if level is not None else "")
        self.readout.value = (f"<b>{html.escape(self._name())}</b> &nbsp; θ = {self.theta:.0f}° &nbsp; "
                              f"origin = x₀ + {self.origin_a:.2f} u + {self.origin_b:.2f} v(θ){tuned}{line}")

    def _background_key(self):
        """Everything in the cached background that can change: colours, colorbar label and,
        when it does not change with the sliders, the title."""
        im = self._image
        return (im.get_cmap().name, im.get_clim(), self._cax.get_ylabel(),
                self._title.get_text() if self._side else None)

    def _layer(self, cache: LRU, key, base, artist):
        """The whole figure: region ``base`` with ``artist`` drawn over it, cached in
        ``cache`` under ``key``."""
        def draw():
            canvas = self.figure.canvas
            canvas.restore_region(base)
            self.figure.draw_artist(artist)
            return canvas.copy_from_bbox(self.figure.bbox)

        return cache.get(key, draw)

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
        # the order of a full draw (zorder): field, contours, boundary, frame, arrows, origin marker
        ax.draw_artist(self._image)
        ax.draw_artist(self._contours)
        ax.draw_artist(self._boundary)
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
        return encode_png(np.asarray(self.figure.canvas.buffer_rgba()))

