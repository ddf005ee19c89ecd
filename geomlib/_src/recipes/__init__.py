"""Training the shipped models from their configurations, and the full curvature survey.

A configuration (a value of :data:`geomlib.SHIPPED_MODELS` or
:data:`geomlib.SHIPPED_CLASSIFIERS`, or one alike) says everything a model is trained
from: data, sizes, settings and seeds, so rebuilding gives the same model up to
floating-point differences between machines. :func:`train_and_save` and
:func:`train_classifier_and_save` write the parameter file with its metadata (config,
metrics, training time, package versions, the command that rebuilds it);
:func:`rebuild_shipped` rebuilds shipped files by name; :func:`survey_dictionaries` runs
:func:`geomlib.run_survey` on shipped dictionaries with each one's own LCA settings;
:func:`seeded_config` gives seed k of a shipped configuration and :func:`train_seeds` trains
the extra seeds (``python -m geomlib.cli.train seeds``).

The parts: :mod:`.dictionary` (LCA dictionaries), :mod:`.classifier` (MNIST classifiers,
with or without an LCA front-end), :mod:`.shipped` (over the shipped files), :mod:`.seeds`
(extra seeds of the shipped models).
"""

from geomlib._src.recipes.classifier import (
    classifier_from_config,
    classifier_summary,
    lca_overrides,
    train_classifier_and_save,
)
from geomlib._src.recipes.dictionary import (
    DICTIONARY_DEFAULTS,
    dictionary_config,
    dictionary_summary,
    load_training_data,
    package_versions,
    train_and_save,
    train_from_config,
)
from geomlib._src.recipes.seeds import (
    DEFAULT_SEEDS,
    SEEDS_DIR,
    SeededModel,
    SeedJob,
    SeedStep,
    check_seeds,
    seed_file_problems,
    seed_file_status,
    seeded_config,
    seeded_names,
    seeds_plan,
    train_seeds,
)
from geomlib._src.recipes.shipped import rebuild_shipped, survey_dictionaries

__all__ = [
    "DICTIONARY_DEFAULTS", "classifier_from_config", "classifier_summary", "dictionary_config", "dictionary_summary",
    "lca_overrides", "load_training_data", "package_versions", "rebuild_shipped", "survey_dictionaries",
    "train_and_save", "train_classifier_and_save", "train_from_config",
    "DEFAULT_SEEDS", "SEEDS_DIR", "SeedJob", "SeedStep", "SeededModel", "check_seeds", "seed_file_problems",
    "seed_file_status", "seeded_config", "seeded_names", "seeds_plan", "train_seeds",
]
