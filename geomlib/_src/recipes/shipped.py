"""What runs over the shipped files: rebuilding them (``make models``) and the full curvature
survey of the shipped dictionaries."""

from __future__ import annotations

from typing import Iterator, Sequence

from geomlib._src.params_io import SHIPPED_CLASSIFIERS, SHIPPED_MODELS, load_metadata, load_params
from geomlib._src.recipes.classifier import classifier_summary, train_classifier_and_save
from geomlib._src.recipes.dictionary import dictionary_summary, train_and_save
from geomlib._src.survey import SurveyResult, run_survey

def rebuild_shipped(names: Sequence[str] | None = None) -> Iterator[str]:
    """Rebuild the shipped files ``names`` (all by default) into the shipped directory,
    dictionaries before the classifiers that read them; yields one summary line per file."""
    names = [*SHIPPED_MODELS, *SHIPPED_CLASSIFIERS] if names is None else list(names)
    for name in sorted(names, key=lambda n: n in SHIPPED_CLASSIFIERS):
        if name in SHIPPED_CLASSIFIERS:
            yield classifier_summary(*train_classifier_and_save(name, SHIPPED_CLASSIFIERS[name]))
        else:
            yield dictionary_summary(*train_and_save(name, SHIPPED_MODELS[name]))


def survey_dictionaries(names: Sequence[str], models: Sequence[str], neurons: int, n_comparison: int,
                        n_random: int, seed: int, **options) -> Iterator[tuple[str, SurveyResult]]:
    """:func:`geomlib.run_survey` for every shipped dictionary of ``names`` (with the LCA
    settings lam, steps, eta of its file's metadata) and every model of ``models``.

    Yields:
      ``("<dictionary>/<model>", SurveyResult)`` as each finishes (its ``config["params"]``
      the dictionary's name); ``options`` are passed to :func:`geomlib.run_survey`.
    """
    for name in names:
        params = load_params(name)
        config = load_metadata(name)["config"]
        settings = {k: config[k] for k in ("lam", "steps", "eta")}
        for model in models:
            res = run_survey(params, model, neurons, n_comparison, n_random, seed, **settings, **options)
            res.config["params"] = name
            yield f"{name}/{model}", res
