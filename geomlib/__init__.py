"""geomlib: exact response geometry of neurons on 2-D planes of input space.

Layers (lower never import upper): planes -> geometry (hypersurface, contours)
-> models -> lca, training, data, images, params_io, attacks -> lca_views, survey, classifiers
-> plots -> widgets. The public names are re-exported here; ``geomlib.plots`` and
``geomlib.widgets`` are imported on demand (they need matplotlib / ipywidgets).
"""

from geomlib._src.attacks import (
    SignAttackResult,
    attack_success,
    carlini_wagner,
    deepfool,
    fgsm,
    mean_squared_distance,
    perturbation_norm,
    pgd,
    targeted_sign_attack,
)
from geomlib._src.classifiers import (
    bind_classifier,
    classifier_accuracy,
    classifier_logits,
    load_classifier,
    train_classifier,
)
from geomlib._src.contours import ContourFit, contour_points, fit_contour_curvature
from geomlib._src.data import Split, load_mnist_idx, load_mnist_subset
from geomlib._src.geometry import (
    PlaneGeometry,
    contour_curvature,
    grid_curvature,
    plane_geometry,
    plane_gradients,
    plane_values,
)
from geomlib._src.hypersurface import principal_curvatures
from geomlib._src.images import PHOTOGRAPHS, load_photographs, natural_image_patches, whiten
from geomlib._src.lca import (
    DICTIONARY_MODELS,
    dictionary_neuron,
    divisive_normalization_neuron,
    init_dictionary,
    lca_energy,
    lca_neuron,
    lca_statistics,
    mei_axis,
    neuron_weights,
    train_lca,
)
from geomlib._src.lca_views import (
    TOY_LCA,
    ContourTurning,
    LCATrajectory,
    contour_turning,
    energy_neuron,
    lca_trajectory,
    quadrature_pair,
    toy_lca_dictionary,
)
from geomlib._src.models import (
    NONLINEARITIES,
    activation,
    init_mlp,
    lca_codes,
    lca_threshold,
    linear_neuron,
    mlp,
    pointwise_neuron,
)
from geomlib._src.params_io import SHIPPED_CLASSIFIERS, SHIPPED_MODELS, load_metadata, load_params, save_params
from geomlib._src.planes import Plane, float_dtype, grid, plane
from geomlib._src.survey import (
    ContourBend,
    ResponseAttenuation,
    SurveyPlanes,
    SurveyResult,
    axis_curvature,
    contour_bend,
    gauss_rows,
    load_survey,
    response_attenuation,
    run_survey,
    save_survey,
    survey_planes,
)
from geomlib._src.training import fit_linear_neuron

__all__ = [
    "ContourBend",
    "ContourFit",
    "ContourTurning",
    "DICTIONARY_MODELS",
    "LCATrajectory",
    "NONLINEARITIES",
    "PHOTOGRAPHS",
    "Plane",
    "PlaneGeometry",
    "ResponseAttenuation",
    "SHIPPED_CLASSIFIERS",
    "SHIPPED_MODELS",
    "SignAttackResult",
    "Split",
    "SurveyPlanes",
    "SurveyResult",
    "TOY_LCA",
    "activation",
    "attack_success",
    "axis_curvature",
    "bind_classifier",
    "carlini_wagner",
    "classifier_accuracy",
    "classifier_logits",
    "contour_bend",
    "contour_curvature",
    "contour_points",
    "contour_turning",
    "deepfool",
    "dictionary_neuron",
    "divisive_normalization_neuron",
    "energy_neuron",
    "fgsm",
    "fit_contour_curvature",
    "fit_linear_neuron",
    "float_dtype",
    "gauss_rows",
    "grid",
    "grid_curvature",
    "init_dictionary",
    "init_mlp",
    "lca_codes",
    "lca_energy",
    "lca_neuron",
    "lca_statistics",
    "lca_threshold",
    "lca_trajectory",
    "linear_neuron",
    "load_classifier",
    "load_metadata",
    "load_mnist_idx",
    "load_mnist_subset",
    "load_params",
    "load_photographs",
    "load_survey",
    "mean_squared_distance",
    "mei_axis",
    "mlp",
    "natural_image_patches",
    "neuron_weights",
    "perturbation_norm",
    "pgd",
    "plane",
    "plane_geometry",
    "plane_gradients",
    "plane_values",
    "pointwise_neuron",
    "principal_curvatures",
    "quadrature_pair",
    "response_attenuation",
    "run_survey",
    "save_params",
    "save_survey",
    "survey_planes",
    "targeted_sign_attack",
    "toy_lca_dictionary",
    "train_classifier",
    "train_lca",
    "whiten",
]

__version__ = "0.1.0"
