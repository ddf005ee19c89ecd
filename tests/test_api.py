"""The public namespace of geomlib and the layering of its private modules.

When the public API grows, add the new names to PUBLIC (grouped by the private module
that defines them) and new private modules to LAYER: this file is the deliberate,
reviewed list of what geomlib promises.
"""

import ast
import inspect
import pathlib
import subprocess
import sys

import geomlib

# Public names, by defining module (None: constants, which carry no __module__).
PUBLIC = {
    "planes": ["Plane", "float_dtype", "grid", "plane"],
    "geometry": ["PlaneGeometry", "contour_curvature", "grid_curvature", "plane_geometry",
                 "plane_gradients", "plane_values"],
    "hypersurface": ["LanczosCurvatures", "lanczos_curvatures", "principal_curvatures"],
    "contours": ["ContourFit", "contour_points", "fit_contour_curvature"],
    "models": ["activation", "init_mlp", "lca_codes", "lca_threshold", "linear_neuron", "mlp",
               "pointwise_neuron"],
    "lca": ["dictionary_neuron", "divisive_normalization_neuron", "init_dictionary", "lca_energy",
            "lca_neuron", "lca_statistics", "mei_axis", "neuron_weights", "train_lca"],
    "training": ["fit_linear_neuron"],
    "data": ["Split", "load_cifar10", "load_mnist_idx", "load_mnist_subset"],
    "classifiers": ["bind_classifier", "classifier_accuracy", "classifier_logits", "cure_penalty", "load_classifier",
                    "train_classifier"],
    "images": ["load_photographs", "natural_image_patches", "whiten"],
    "params_io": ["load_metadata", "load_params", "save_params"],
    "attacks": ["SignAttackResult", "attack_success", "carlini_wagner", "deepfool", "fgsm", "mean_squared_distance",
                "perturbation_norm", "pgd", "targeted_sign_attack"],
    "lca_views": ["ContourTurning", "LCATrajectory", "contour_turning", "energy_neuron", "lca_trajectory",
                  "quadrature_pair", "toy_lca_dictionary"],
    "survey": ["ContourBend", "ResponseAttenuation", "SurveyPlanes", "SurveyResult", "axis_curvature",
               "contour_bend", "gauss_rows", "load_survey", "response_attenuation", "run_survey", "save_survey",
               "survey_planes"],
    "boundary": ["BoundaryCurvature", "Walk", "adversarial_direction", "boundary_curvatures", "boundary_point",
                 "decision_function", "nearest_other_class", "plane_logits", "same_class_pairs",
                 "straight_line_walk", "top_two"],
    "robustness": ["AdversarialDirections", "MSDResult", "accuracy_under_attack", "class_means", "gaas_basis",
                   "gaas_directions", "gradient_ascent_path", "msd_at_confidence", "one_image",
                   "orthogonal_adversarial_directions", "path_plane_coordinates", "step_contour_cosines",
                   "target_log_probability", "template_cosine"],
    "defense": ["ClassifierMeasures", "RankCorrelation", "cifar10_comparison", "cifar10_models", "compare_classifiers",
                "comparison_summary", "first_layer_survey", "load_comparison", "logit_bend", "measure_classifier",
                "mnist_comparison", "rank_correlation", "save_comparison"],
    None: ["CIFAR10_SETTINGS", "DEFENSE_MODELS", "DICTIONARY_MODELS", "NONLINEARITIES", "PHOTOGRAPHS", "SHIPPED_CLASSIFIERS", "SHIPPED_MODELS", "TOY_LCA"],
}
ALL_PUBLIC = sorted(name for names in PUBLIC.values() for name in names)

SRC = pathlib.Path(geomlib.__file__).parent / "_src"

# Lower layers never import upper ones (geomlib/__init__.py): checks, planes -> geometry
# (hypersurface, contours) -> models -> lca, training, data, images, params_io, attacks
# -> lca_views, survey, classifiers, boundary, robustness -> defense -> plots -> widgets.
LAYER = {
    "checks": 0, "planes": 0, "taylor": 0,
    "geometry": 1, "hypersurface": 1, "contours": 1,
    "models": 2,
    "lca": 3, "training": 3, "data": 3, "images": 3, "params_io": 3, "attacks": 3,
    "lca_views": 4, "survey": 4, "classifiers": 4, "boundary": 4, "robustness": 4,
    "defense": 5,
}


def test_all_is_exactly_the_public_names():
    assert sorted(geomlib.__all__) == ALL_PUBLIC
    assert len(set(geomlib.__all__)) == len(geomlib.__all__)


def test_every_public_name_is_importable_documented_and_private_underneath():
    namespace = {}
    exec("from geomlib import *", namespace)
    for module, names in PUBLIC.items():
        for name in names:
            assert name in namespace, name
            obj = getattr(geomlib, name)
            assert obj is namespace[name]
            if module is None:
                assert not callable(obj), name
                continue
            assert obj.__module__ == f"geomlib._src.{module}", (name, obj.__module__)
            assert inspect.getdoc(obj), f"{name} has no docstring"


def _imports(path):
    """Absolute names of the modules imported by a source file (relative ones resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ["geomlib", "_src"][: max(0, 3 - node.level)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _src_modules():
    return sorted(p for p in SRC.glob("*.py") if p.stem != "__init__")


def test_every_private_module_has_a_layer():
    assert {p.stem for p in _src_modules()} == set(LAYER)


def test_src_never_imports_plots_or_widgets():
    for path in sorted(SRC.glob("*.py")):
        for name in _imports(path):
            for upper in ("geomlib.plots", "geomlib.widgets", "matplotlib", "ipywidgets"):
                assert not (name == upper or name.startswith(upper + ".")), f"{path.name} imports {name}"


def test_lower_layers_never_import_upper_ones():
    for path in _src_modules():
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] != "geomlib":
                continue
            assert parts[:2] == ["geomlib", "_src"], f"{path.name} imports the public package: {name}"
            if len(parts) > 2 and parts[2] in LAYER:
                assert LAYER[parts[2]] <= LAYER[path.stem], f"{path.name} (layer {LAYER[path.stem]}) imports {name}"


def test_importing_geomlib_does_not_load_the_upper_layers():
    code = (
        "import sys, geomlib; "
        "bad = [m for m in ('geomlib.plots', 'geomlib.widgets', 'ipywidgets') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_public_name_is_shadowed_by_a_submodule():
    # importing geomlib.<name> (pytest's doctest collection does) would replace the public
    # function geomlib.<name> by the module of that name
    package = SRC.parent
    modules = {p.stem for p in package.glob("*.py")} | {p.name for p in package.iterdir() if p.is_dir()}
    assert not modules & set(geomlib.__all__)
