"""The plane explorer's controls: slider ranges, the views it offers, the parameter
sliders' checks, and the ipywidgets themselves (with the CSS classes the browser tests
find them by)."""

from __future__ import annotations

from typing import Mapping, Sequence

import ipywidgets as widgets

from geomlib import plots

__all__ = ["CONTROLS", "ORIGIN_SPAN", "ORIGIN_STEPS", "THETA_RANGE", "VIEWS", "check_parameters", "make_controls"]

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
#: The controls every explorer has (parameter sliders take other names).
CONTROLS = ("theta", "origin_a", "origin_b", "neuron", "view", "v1", "v2")


def check_parameters(parameters: Mapping[str, Sequence] | None,
                     parameter_values: Mapping[str, object] | None) -> tuple[dict[str, list], dict]:
    """The parameter sliders' values (name -> list) and initial values (the first value,
    unless ``parameter_values`` names another); ValueError for a bad name or value."""
    parameters = {str(k): list(v) for k, v in (parameters or {}).items()}
    for key, values in parameters.items():
        if key in CONTROLS or not key.isidentifier():
            raise ValueError(f"parameters: expected identifiers other than {CONTROLS}, got {key!r}")
        if not values:
            raise ValueError(f"parameters[{key!r}]: expected a non-empty sequence of values, got []")
    initial = {k: v[0] for k, v in parameters.items()}
    for key, value in (parameter_values or {}).items():
        if key not in parameters or value not in parameters[key]:
            raise ValueError(f"parameter_values[{key!r}]: expected one of {parameters.get(key)}, got {value!r}")
        initial[key] = value
    return parameters, initial


def make_controls(neurons: Sequence[str], neuron: str, view: str, v1: Sequence[str], v2: Sequence[str],
                  parameters: Mapping[str, list], initial: Mapping[str, object],
                  parameter_labels: Mapping[str, str] | None, extent: float,
                  continuous_update: bool) -> dict[str, widgets.ValueWidget]:
    """The controls, by key (:data:`CONTROLS`, then the parameters), each with its CSS
    class (``rg-slider-theta``, ``rg-dropdown-neuron``, ``rg-slider-<parameter>``, ...).

    Args:
      neurons, v1, v2: the names the neuron and axis menus offer.
      neuron, view: initial choices.
      parameters, initial: as :func:`check_parameters` returns them.
      parameter_labels: slider label per parameter (default: its name).
      extent: half-width of the window (the origin sliders' scale).
      continuous_update: sliders report while dragged (True) or on release.
    """
    lo, hi, step = THETA_RANGE
    span, ostep = ORIGIN_SPAN * extent, extent / ORIGIN_STEPS
    common = dict(continuous_update=continuous_update, style={"description_width": "110px"},
                  layout=widgets.Layout(width="460px"))
    controls = {
        "theta": widgets.FloatSlider(0.0, min=lo, max=hi, step=step, description="θ (degrees)",
                                     readout_format=".0f", **common),
        "origin_a": widgets.FloatSlider(0.0, min=-span, max=span, step=ostep, description="origin along u",
                                        readout_format=".2f", **common),
        "origin_b": widgets.FloatSlider(0.0, min=-span, max=span, step=ostep, description="origin along v(θ)",
                                        readout_format=".2f", **common),
        "neuron": widgets.Dropdown(options=list(neurons), value=neuron, description="neuron",
                                   layout=widgets.Layout(width="260px")),
        "view": widgets.Dropdown(options=[(label, key) for key, label in VIEWS.items()], value=view,
                                 description="show", layout=widgets.Layout(width="360px")),
        "v1": widgets.Dropdown(options=list(v1), description="v₁ (θ = 0°)", layout=widgets.Layout(width="360px"),
                               style={"description_width": "110px"}),
        "v2": widgets.Dropdown(options=list(v2), description="v₂ (θ = 90°)", layout=widgets.Layout(width="360px"),
                               style={"description_width": "110px"}),
    }
    labels = dict(parameter_labels or {})
    for key, values in parameters.items():
        controls[key] = widgets.SelectionSlider(
            options=[(f"{v:g}" if isinstance(v, (int, float)) else str(v), v) for v in values],
            value=initial[key], description=labels.get(key, key), **common)
    classes = {"theta": "rg-slider-theta", "origin_a": "rg-slider-origin-a", "origin_b": "rg-slider-origin-b",
               "neuron": "rg-dropdown-neuron", "view": "rg-dropdown-view", "v1": "rg-dropdown-v1",
               "v2": "rg-dropdown-v2", **{k: f"rg-slider-{k.replace('_', '-')}" for k in parameters}}
    for key, w in controls.items():
        w.add_class(classes[key])
    return controls
