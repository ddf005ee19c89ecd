"""Static figures (matplotlib). Every drawing function takes ``ax=None``: given an Axes it
draws there and touches no global state; without one it makes a new figure through pyplot.

Parts: ``axes`` (notebook style, the Axes a drawing uses), ``fields`` (contour levels and
lines, gradient arrows, colour limits: numpy only, shared with :mod:`geomlib.widgets`),
``planes`` (response and curvature maps of a plane), ``images`` (flattened images),
and one module of figures per chapter: ``lca`` (3 and 4: LCA dynamics, dictionaries, bend
histograms), ``deep`` (5: class maps, boundary curvature, walks), ``attacks`` (4) and
``defense`` (5), ``opening`` (1: adversarial examples), ``conclusions`` (9: the table of
what reproduced).
"""

from geomlib.plots.attacks import plot_accuracy_curves, plot_attack_path, show_attacks
from geomlib.plots.conclusions import (
    PUBLISHED,
    Finding,
    ResultFiles,
    accuracy_findings,
    comparison_findings,
    find_result_files,
    findings_table,
    msd_findings,
    prediction_findings,
    robustness_findings,
    survey_findings,
)
from geomlib.plots.mechanism import MODEL_COLORS, plot_digit_mechanism, plot_toy_mechanism
from geomlib.plots.axes import notebook_style
from geomlib.plots.deep import DecisionArtists, plot_curvature_histograms, plot_decision, plot_walks
from geomlib.plots.defense import (model_color, plot_correlation_table, plot_per_image, plot_robustness_vs_curvature,
                                   plot_seeded_robustness_vs_curvature)
from geomlib.plots.fields import (
    ARROW_FILL,
    arrow_field,
    arrow_indices,
    arrow_spacing,
    contour_levels,
    contour_lines,
    curvature_limit,
    plane_extent,
    scaled_arrows,
)
from geomlib.plots.images import show_images
from geomlib.plots.lca import (
    BEND_LABELS,
    draw_contour_fit,
    draw_dictionary,
    plot_bend_histograms,
    plot_bend_vs_angle,
    plot_energy,
    plot_potentials,
)
from geomlib.plots.opening import plot_adversarial_examples
from geomlib.plots.robustness import plot_minimal_distances, plot_worst_case_curves
from geomlib.plots.planes import (
    CURVATURE_LABELS,
    CURVATURE_SIGNS,
    MEI_LABEL,
    ORTHO_LABEL,
    PlaneArtists,
    plot_curvature,
    plot_plane,
    plot_response,
)

__all__ = [
    # planes (chapter 2 and the explorers)
    "ARROW_FILL",
    "CURVATURE_LABELS",
    "CURVATURE_SIGNS",
    "MEI_LABEL",
    "ORTHO_LABEL",
    "PlaneArtists",
    "arrow_field",
    "arrow_indices",
    "arrow_spacing",
    "contour_levels",
    "contour_lines",
    "curvature_limit",
    "notebook_style",
    "plane_extent",
    "plot_curvature",
    "plot_plane",
    "plot_response",
    "scaled_arrows",
    "show_images",
    # chapter 1
    "plot_adversarial_examples",
    # chapter 9
    "PUBLISHED",
    "Finding",
    "ResultFiles",
    "accuracy_findings",
    "comparison_findings",
    "find_result_files",
    "findings_table",
    "msd_findings",
    "prediction_findings",
    "robustness_findings",
    "survey_findings",
    # chapters 3 and 4
    "BEND_LABELS",
    "draw_contour_fit",
    "draw_dictionary",
    "plot_bend_histograms",
    "plot_bend_vs_angle",
    "plot_energy",
    "plot_potentials",
    # chapter 5
    "DecisionArtists",
    "plot_curvature_histograms",
    "plot_decision",
    "plot_walks",
    # chapter 6
    "plot_accuracy_curves",
    "plot_minimal_distances",
    "plot_worst_case_curves",
    "plot_attack_path",
    "show_attacks",
    "MODEL_COLORS",
    "plot_digit_mechanism",
    "plot_toy_mechanism",
    # chapter 8
    "model_color",
    "plot_correlation_table",
    "plot_per_image",
    "plot_robustness_vs_curvature",
    "plot_seeded_robustness_vs_curvature",
]
