"""Interactive figures (ipywidgets): :class:`PlaneExplorer`, sliders and menus over the
response geometry of neurons on a plane, and the chapters' ready-made explorers.

Parts: ``explorer`` (:class:`PlaneExplorer`: its arguments and render), ``compute`` (what
a view needs, only that), ``controls`` (slider ranges, views, the ipywidgets), ``state``
(the plane and function the controls choose, and the readout), ``figure`` (the
matplotlib figure, redrawn by blitting), ``schedule`` (when to render: coalescing, coarse
preview, deferred full resolution; pure), ``tunable`` (:class:`Tunable` and the
orthonormal axes), ``cache``, ``png`` (the PNG encoder), ``kernel`` (the IPython kernel's
event loop), ``explorers`` (:func:`dictionary_explorer`, chapter 3;
:func:`digit_explorer`, chapter 5) and ``mechanism`` (:func:`toy_mechanism_explorer`,
:func:`digit_mechanism_explorer`, chapter 6).
"""

from geomlib.widgets.controls import ORIGIN_SPAN, ORIGIN_STEPS, THETA_RANGE, VIEWS
from geomlib.widgets.explorer import PlaneExplorer
from geomlib.widgets.explorers import DIGIT_FUNCTIONS, LAMBDAS, STEPS, dictionary_explorer, digit_explorer
from geomlib.widgets.mechanism import (TOY_ANGLES, TOY_LAMBDAS, MechanismExplorer, digit_mechanism_explorer,
                                      toy_mechanism_explorer)
from geomlib.widgets.png import encode_png
from geomlib.widgets.schedule import COALESCE_SECONDS, FULL_AFTER_SECONDS, PREVIEW_SECONDS, SLOW_SECONDS, RenderSchedule
from geomlib.widgets.tunable import Tunable

__all__ = ["COALESCE_SECONDS", "DIGIT_FUNCTIONS", "FULL_AFTER_SECONDS", "LAMBDAS", "ORIGIN_SPAN", "ORIGIN_STEPS",
           "PREVIEW_SECONDS", "PlaneExplorer", "RenderSchedule", "SLOW_SECONDS", "STEPS", "THETA_RANGE", "Tunable",
           "VIEWS", "dictionary_explorer", "digit_explorer", "encode_png",
           "MechanismExplorer", "TOY_ANGLES", "TOY_LAMBDAS", "digit_mechanism_explorer", "toy_mechanism_explorer"]
