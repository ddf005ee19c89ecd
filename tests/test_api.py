"""The public namespace of geomlib and the layering of its private modules.

When the public API grows, add the new names to PUBLIC (grouped by the private module or
package that defines them): this file is the deliberate, reviewed list of what geomlib
promises. The layers are stated once, in README.md, and enforced here.
"""

import ast
import inspect
import pathlib
import re
import subprocess
import sys

import geomlib

# Public names, by defining module (None: constants, which carry no __module__).
PUBLIC = {
    "core": ["float_dtype"],
    "planes": ["Plane", "grid", "plane"],
    "geometry": ["PlaneGeometry", "contour_curvature", "grid_curvature", "grid_curvature_from_gradient", "plane_geometry",
                 "plane_gradients", "plane_values"],
    "hypersurface": ["LanczosCurvatures", "lanczos_curvatures", "principal_curvatures"],
    "contours": ["ContourFit", "contour_points", "fit_contour_curvature"],
    "models": ["activation", "init_mlp", "lca_codes", "lca_threshold", "linear_neuron", "mlp",
               "pointwise_neuron"],
    "lca": ["dictionary_neuron", "divisive_normalization_neuron", "init_dictionary", "lca_energy",
            "lca_neuron", "lca_statistics", "mei_axis", "neuron_weights", "train_lca"],
    "training": ["fit_linear_neuron"],
    "data": ["Split", "TrainTestSplit", "load_cifar10", "load_mnist_idx", "load_mnist_subset"],
    "classifiers": ["bind_classifier", "classifier_accuracy", "classifier_logits", "cure_penalty", "load_classifier",
                    "train_classifier"],
    "images": ["load_photographs", "natural_image_patches", "whiten"],
    "params_io": ["load_metadata", "load_params", "save_params"],
    "attacks": ["SignAttackResult", "apgd", "apgd_targeted", "attack_success", "square_attack", "carlini_wagner", "deepfool", "fgsm", "mean_squared_distance",
                "perturbation_norm", "pgd", "targeted_sign_attack"],
    "lca_views": ["ContourTurning", "LCATrajectory", "contour_turning", "energy_neuron", "lca_trajectory",
                  "quadrature_pair", "toy_lca_dictionary"],
    "survey": ["ContourBend", "ResponseAttenuation", "SurveyPlanes", "SurveyResult", "axis_curvature",
               "contour_bend", "gauss_rows", "load_survey", "response_attenuation", "run_survey", "save_survey",
               "survey_planes", "GroupTest", "PairedTest", "SurveySignificance", "holm_adjust",
               "survey_significance", "SharedPlanesCheck", "shared_planes_check"],
    "boundary": ["BoundaryCurvature", "StraightLineWalk", "Walk", "adversarial_direction", "boundary_curvatures", "boundary_point",
                 "decision_function", "nearest_other_class", "plane_logits", "same_class_pairs",
                 "straight_line_walk", "top_two", "top_two_classes"],
    "robustness": ["AdversarialDirections", "MSDResult", "MinimalPerturbation", "RobustAccuracy", "robust_accuracy",
                   "RobustnessChecks", "StepsSweep",
                   "accuracy_interval", "bpda_logits", "load_robustness_run", "model_attacks", "lca_bpda", "lca_implicit_logits", "minimal_perturbation", "pgd_attack",
                   "robustness_checks", "steps_sweep", "surrogate_attack", "transfer_attack",
                   "zero_gradient_fraction",
                   "accuracy_under_attack", "class_means", "gaas_basis",
                   "gaas_directions", "gradient_ascent_path", "msd_at_confidence", "one_image",
                   "orthogonal_adversarial_directions", "path_plane_coordinates", "single_image_response",
                   "step_contour_cosines",
                   "target_log_probability", "template_cosine",
                   "LevelPath", "PlaneAttack", "ToyAttack", "ascent_to_level", "path_contour_curvature",
                   "plane_attacks", "toy_attacks", "toy_circuits"],
    "defense": ["ClassifierMeasures", "RankCorrelation", "cifar10_comparison", "cifar10_models", "compare_classifiers",
                "comparison_summary", "decision_contour_bend", "first_layer_survey", "load_comparison", "logit_bend",
                "measure_classifier", "mnist_comparison", "rank_correlation", "save_comparison",
                "HierarchicalCorrelation", "ImageCorrelation", "NoiseDistance", "PredictionTest", "SeedSpread",
                "hierarchical_rank_correlation", "noise_distance", "noise_robustness", "per_image_correlation",
                "prediction_test", "quadric_distance", "seed_spread", "SharedDigitsCheck", "shared_digits_check",
                "seed_groups",
                "TemperatureCurvatures", "TemperatureSummary", "load_temperatures", "smooth_temperatures",
                "temperature_curvatures", "temperature_summary",
                "PredictionMeasures", "PredictionSummary", "flat_noise_ratio", "load_predictions",
                "prediction_measures", "prediction_summary", "predictions_to_file"],
    None: ["CIFAR10_SETTINGS", "PREDICTION_SETTINGS", "DEFENSE_MODELS", "DICTIONARY_MODELS", "NONLINEARITIES", "PHOTOGRAPHS", "SHIPPED_CLASSIFIERS", "SHIPPED_MODELS", "TOY_LCA", "TOY_LEVEL", "TOY_TEMPERATURE"],
}
ALL_PUBLIC = sorted(name for names in PUBLIC.values() for name in names)

PACKAGE = pathlib.Path(geomlib.__file__).parent
SRC = PACKAGE / "_src"
README = PACKAGE.parent / "README.md"


def _layers() -> dict[str, int]:
    """The layer of each name in the README's layer list (the one place it is stated)."""
    text = README.read_text()
    block = text.split("<!-- layers -->", 1)[1].split("```", 2)[1]
    layers = {}
    for level, line in enumerate(row for row in block.splitlines() if row.strip()):
        names = re.split(r"\s{2,}", line.strip())[0]
        for name in names.split(","):
            assert name.strip() not in layers, f"README lists layer {name.strip()!r} twice"
            layers[name.strip()] = level
    return layers


LAYER = _layers()


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
            assert obj.__module__.split(".")[:3] == ["geomlib", "_src", module], (name, obj.__module__)
            assert inspect.getdoc(obj), f"{name} has no docstring"


def _module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer_key(module: str) -> str | None:
    """The README name of the layer a dotted module name belongs to (None: not geomlib)."""
    parts = module.split(".")
    if parts[0] != "geomlib":
        return None
    if parts[1:2] == ["_src"]:
        return parts[2] if len(parts) > 2 else "geomlib"
    for k in range(len(parts), 0, -1):
        if ".".join(parts[:k]) in LAYER:
            return ".".join(parts[:k])
    return module


def _is_module(dotted: str) -> bool:
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if p != SRC / "__init__.py")


def _imports(path):
    """Absolute names of the modules imported by a source file (relative ones resolved),
    with the names each ``from`` import takes."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = _module_name(path).split(".")
    if path.name != "__init__.py":
        here = here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else [])) if node.level else node.module or ""
            found += [(module, alias.name) for alias in node.names]
    return found


def test_every_module_has_a_layer():
    missing = {_module_name(p) for p in _modules() if _layer_key(_module_name(p)) not in LAYER}
    assert not missing, f"modules with no layer in README.md's layer list: {sorted(missing)}"


def test_src_never_imports_plots_or_widgets():
    for path in sorted(SRC.rglob("*.py")):
        for name, _ in _imports(path):
            for upper in ("geomlib.plots", "geomlib.widgets", "matplotlib", "ipywidgets"):
                assert not (name == upper or name.startswith(upper + ".")), f"{path.name} imports {name}"


def test_lower_layers_never_import_upper_ones():
    for path in _modules():
        here = _layer_key(_module_name(path))
        for module, name in _imports(path):
            dotted = f"{module}.{name}" if name and _is_module(f"{module}.{name}") else module
            target = _layer_key(dotted)
            if target is None:
                continue
            if path.parent.is_relative_to(SRC) or path == SRC / "__init__.py":
                assert not module.startswith("geomlib") or module.startswith("geomlib._src"), (
                    f"{_module_name(path)} imports the public package: {module}")
            assert LAYER[target] <= LAYER[here], (
                f"{_module_name(path)} (layer {here}) imports {module} (layer {target}, higher)")


def test_no_private_name_crosses_modules():
    crossings = [f"{_module_name(path)} imports {name} from {module}" for path in _modules()
                 for module, name in _imports(path)
                 if module.startswith("geomlib") and name and name.startswith("_") and name != "__version__"]
    assert not crossings, "\n".join(crossings)


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
    modules = {p.stem for p in PACKAGE.glob("*.py")} | {p.name for p in PACKAGE.iterdir() if p.is_dir()}
    assert not modules & set(geomlib.__all__)


def test_every_public_function_is_typed():
    """Every argument and the result of each public function carry a type annotation
    (``ArrayLike`` in, ``jax.Array`` out for arrays)."""
    untyped = []
    for name in geomlib.__all__:
        obj = getattr(geomlib, name)
        if not inspect.isfunction(obj):
            continue
        sig = inspect.signature(obj)
        bare = [p.name for p in sig.parameters.values()
                if p.annotation is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if bare or sig.return_annotation is inspect.Signature.empty:
            untyped.append(f"{name}: {', '.join(bare) or 'result'}")
    assert not untyped, "untyped public functions:\n" + "\n".join(untyped)
