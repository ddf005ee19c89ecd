"""What the plane explorer shows, from its controls: the plane (axes built for the
current parameters, orthonormal), the response function, and the same in words (the
readout, the title).

Attributes the explorer sets before using these: the controls (``theta_slider``,
``origin_a_slider``, ``origin_b_slider``, ``neuron_dropdown``, ``view_dropdown``,
``v1_dropdown``, ``v2_dropdown``, ``parameter_sliders``), ``neurons``, ``labels``,
``v1_options``, ``v2_options``, ``_u``, ``_x0``, ``_parameter_values`` (until the sliders
exist), ``timings`` and ``_built`` (an :class:`~geomlib.widgets.cache.LRU`).
"""

from __future__ import annotations

from typing import Callable

import jax.numpy as jnp
import numpy as np

import geomlib
from geomlib.widgets.tunable import Tunable, orthonormal

__all__ = ["PlaneState"]


class PlaneState:
    """The plane explorer's state, read from its controls (a mixin of
    :class:`~geomlib.widgets.PlaneExplorer`)."""

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

        def build():
            built = x.build(**used)
            if kind == "neuron" and not callable(built):
                raise ValueError(f"Tunable {name!r}: build returned {built!r:.80}, expected a function")
            return built

        return self._built.get((kind, name, *used.items()), build)

    def _basis(self, a: str | None = None, b: str | None = None):
        """Orthonormal (u, v1, v2) for the chosen (or given) axes and current parameters."""
        a = self.v1_dropdown.value if a is None else a
        b = self.v2_dropdown.value if b is None else b
        xs = (("u", self._u), (f"v1:{a}", self.v1_options[a]), (f"v2:{b}", self.v2_options[b]))
        used: dict = {}
        for _, x in xs:
            if isinstance(x, Tunable):
                used.update(x.uses(self.parameter_values))
        return self._built.get(("basis", a, b, *sorted(used.items())),
                               lambda: orthonormal(*(self._resolve(name, x, "axis") for name, x in xs)))

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


    # ------------------------------------------------------------------ in words
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
