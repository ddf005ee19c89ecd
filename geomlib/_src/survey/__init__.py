r"""The curvature survey: one bend statistic per plane, for many neurons x planes.

Paiton et al. (2020) measured how the iso-response contours of sparse-coding (LCA)
neurons bend by sampling each plane on a 30 x 30 grid of the window [-2, 2]^2,
min-max normalising the response, extracting the 0.5 contour with
``skimage.measure.find_contours``, keeping the part on the positive MEI side (a > 0)
and fitting :math:`a = c_0 + c_1 b + c_2 b^2`; :math:`c_2 > 0` is exo-origin
(:func:`geomlib.fit_contour_curvature` does that, in plane units). A survey needs one
number per plane, so this package finds the contour *directly*:

* :func:`contour_bend` (``bend``; its kernel in ``kernel``, root finding in ``roots``):
  samples the window's two vertical edges (min-max range, hence the level, and where
  the contour enters and leaves the window), then for ``n_b`` rows :math:`b_j`
  (Gauss-Legendre nodes of the contour's b-range) locates the crossing
  :math:`g(a, b_j) = L` along the MEI axis a by vectorised bracketing + Illinois
  (regula falsi) iterations, and fits the parabola to the crossings by weighted least
  squares: the continuous fit that a grid approaches as it is refined. 72 model
  evaluations per plane by default (12.5x fewer than a 30 x 30 grid), in plane units,
  independent of any grid. Planes are ``vmap``-ed and evaluated in chunks, so the rows
  of all planes of a chunk become one matrix-matrix product per LCA step.
* :func:`response_attenuation` (``axis``): the second statistic of the original work,
  a quadratic fit of the response along a vertical line at fixed a; divided by the
  slope along a it is the same bend in the same units as :math:`c_2`.
* :func:`axis_curvature` (``axis``): exact autodiff curvature of the contour where it
  crosses the MEI axis (for smooth models: the LCA with a softplus threshold).
* :func:`survey_planes` (``planes``) builds the survey's planes (comparison and
  random) and :func:`run_survey` (``runner``) runs the whole survey (neurons x planes,
  chunked, sharded over the local devices; with ``checkpoint=`` a folder, each finished
  chunk of neurons is kept there and a killed run resumes, bit for bit), returning a
  :class:`SurveyResult` (``results``) that saves to / loads from ``.npz`` (``io``:
  :func:`save_survey` writes atomically and reproducibly, the measured times in a
  sidecar; :func:`load_survey` names the file and the command that writes it whatever
  is wrong with it).
* :func:`survey_significance` (``significance``) tests a survey's findings with the
  neuron as the unit: comparison vs random planes (Wilcoxon signed-rank over neurons)
  and across dictionaries (Kruskal-Wallis, pairwise Mann-Whitney U with Holm's
  correction, :func:`holm_adjust`), medians with bootstrap CIs over neurons.
* :func:`shared_planes_check` (``crosscheck``) compares two surveys on the planes both
  measured: a reduced rerun against the shipped full survey.

Sign convention everywhere: positive = exo-origin (the contour bends around the MEI
axis, away from the origin, i.e. the response falls off away from the MEI axis).
For :math:`g = h(a - c\,b^2)` with h increasing: ``contour_bend(...).c2 = c``,
``response_attenuation(...).bend = c`` and ``axis_curvature = 2 c``.
"""

from geomlib._src.survey.axis import axis_curvature, response_attenuation
from geomlib._src.survey.bend import (
    DEFAULT_EDGE_ROWS,
    DEFAULT_ITERATIONS,
    DEFAULT_PLANE_CHUNK,
    DEFAULT_ROWS,
    EXIT_ITERATIONS,
    WEIGHTINGS,
    as_bend,
    bend_static,
    contour_bend,
    evaluations_per_plane,
)
from geomlib._src.survey.io import SURVEY_COMMAND, load_survey, save_survey, times_path
from geomlib._src.survey.kernel import run_plane_chunks
from geomlib._src.survey.planes import as_key, neuron_indices, survey_planes
from geomlib._src.survey.results import KINDS, ContourBend, ResponseAttenuation, SurveyPlanes, SurveyResult
from geomlib._src.survey.roots import gauss_rows
from geomlib._src.survey.runner import checkpoint_planes, run_survey, survey_config
from geomlib._src.survey.crosscheck import SHARED_SETTINGS, SharedPlanesCheck, shared_planes_check
from geomlib._src.survey.significance import GroupTest, PairedTest, SurveySignificance, holm_adjust, survey_significance

__all__ = [
    "DEFAULT_EDGE_ROWS", "DEFAULT_ITERATIONS", "DEFAULT_PLANE_CHUNK", "DEFAULT_ROWS", "EXIT_ITERATIONS", "KINDS",
    "SURVEY_COMMAND", "WEIGHTINGS", "ContourBend", "ResponseAttenuation", "SurveyPlanes", "SurveyResult", "as_bend",
    "as_key", "axis_curvature", "bend_static", "checkpoint_planes", "contour_bend", "evaluations_per_plane",
    "gauss_rows", "load_survey", "neuron_indices", "response_attenuation", "run_plane_chunks", "run_survey",
    "save_survey", "survey_config", "survey_planes", "times_path",
    "SHARED_SETTINGS", "SharedPlanesCheck", "shared_planes_check",
    "GroupTest", "PairedTest", "SurveySignificance", "holm_adjust", "survey_significance",
]
