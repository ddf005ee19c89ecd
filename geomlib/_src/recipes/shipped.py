"""What runs over the shipped files: rebuilding them (``make models``) and the full curvature
survey of the shipped dictionaries."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Mapping, NamedTuple, Sequence

from geomlib._src.core.checks import check_choice, check_int
from geomlib._src.lca import DICTIONARY_MODELS
from geomlib._src.params_io import SHIPPED_CLASSIFIERS, SHIPPED_MODELS, load_metadata, load_params
from geomlib._src.recipes.classifier import classifier_summary, train_classifier_and_save
from geomlib._src.recipes.dictionary import dictionary_summary, train_and_save
from geomlib._src.survey import SurveyResult, run_survey, survey_config

def rebuild_shipped(names: Sequence[str] | None = None) -> Iterator[str]:
    """Rebuild the shipped files ``names`` (all by default) into the shipped directory,
    dictionaries before the classifiers that read them; yields one summary line per file."""
    names = [*SHIPPED_MODELS, *SHIPPED_CLASSIFIERS] if names is None else list(names)
    for name in sorted(names, key=lambda n: n in SHIPPED_CLASSIFIERS):
        if name in SHIPPED_CLASSIFIERS:
            yield classifier_summary(*train_classifier_and_save(name, SHIPPED_CLASSIFIERS[name]))
        else:
            yield dictionary_summary(*train_and_save(name, SHIPPED_MODELS[name]))


class SurveyPair(NamedTuple):
    """One dictionary x model of a survey of shipped dictionaries (:func:`survey_plan`)."""

    key: str        # "<dictionary>/<model>", its name in the result file
    name: str       # the shipped dictionary
    model: str
    params: dict
    kwargs: dict    # the arguments of run_survey after params (model, neurons, ..., settings, options)
    config: dict    # the config its result will have, without "seconds"
    planes: int     # neurons x planes per neuron


# Options of run_survey that change what is computed (the others only how it is shown or where it is kept).
_NOT_SETTINGS = ("progress", "checkpoint")


def survey_plan(names: Sequence[str], models: Sequence[str], neurons: int, n_comparison: int, n_random: int,
                seed: int, **options) -> list[SurveyPair]:
    """The pairs (dictionary, model) of :func:`survey_dictionaries`, every argument checked
    (as :func:`geomlib.run_survey` checks them) before anything runs.

    Raises:
      ValueError: naming the bad argument (a name not a shipped dictionary, an unknown
        model, a bad count or setting).
    """
    if isinstance(names, str) or not names:
        raise ValueError(f"names: expected a non-empty list of shipped dictionaries, got {names!r}")
    if isinstance(models, str) or not models:
        raise ValueError(f"models: expected a non-empty list of {DICTIONARY_MODELS}, got {models!r}")
    names = [check_choice(n, "names", sorted(SHIPPED_MODELS)) for n in names]
    models = [check_choice(m, "models", DICTIONARY_MODELS) for m in models]
    neurons = check_int(neurons, "neurons")
    pairs = []
    for name in dict.fromkeys(names):
        params = load_params(name)
        meta = load_metadata(name)["config"]
        lca = {k: meta[k] for k in ("lam", "steps", "eta")}
        for model in dict.fromkeys(models):
            kwargs = dict(model=model, neurons=neurons, n_comparison=n_comparison, n_random=n_random, key=seed,
                          **lca, **options)
            config = {**survey_config(params, **{k: v for k, v in kwargs.items() if k not in _NOT_SETTINGS}),
                      "params": name}
            pairs.append(SurveyPair(f"{name}/{model}", name, model, params, kwargs, config,
                                    neurons * (config["n_comparison"] + config["n_random"])))
    return pairs


def same_settings(result: SurveyResult, pair: SurveyPair) -> bool:
    """Whether ``result`` (e.g. read back from a file) was computed with ``pair``'s settings:
    then a rerun would give the same arrays, bit for bit."""
    return {k: v for k, v in result.config.items() if k != "seconds"} == pair.config


def survey_dictionaries(names: Sequence[str], models: Sequence[str], neurons: int, n_comparison: int,
                        n_random: int, seed: int, *, done: Mapping[str, SurveyResult] | None = None,
                        checkpoint=None, **options) -> Iterator[tuple[str, SurveyResult]]:
    """:func:`geomlib.run_survey` for every shipped dictionary of ``names`` (with the LCA
    settings lam, steps, eta of its file's metadata) and every model of ``models``.

    Args:
      done: results already computed, by ``"<dictionary>/<model>"`` (e.g. read with
        :func:`geomlib.load_survey`): a pair whose result there has this run's settings is
        yielded from there (the same object), not rerun.
      checkpoint: None, or a folder: each pair's finished chunks are kept in its
        subfolder ``<dictionary>--<model>`` (:func:`run_survey`'s ``checkpoint``), so a
        killed run resumes where it was.
      options: passed to :func:`geomlib.run_survey`.

    Yields:
      ``("<dictionary>/<model>", SurveyResult)`` as each finishes (its ``config["params"]``
      the dictionary's name).
    """
    done = {} if done is None else done
    for pair in survey_plan(names, models, neurons, n_comparison, n_random, seed, **options):
        old = done.get(pair.key)
        if old is not None and same_settings(old, pair):
            yield pair.key, old
            continue
        res = run_survey(pair.params, **pair.kwargs,
                         checkpoint=None if checkpoint is None else pair_checkpoint(checkpoint, pair))
        res.config["params"] = pair.name
        yield pair.key, res


def pair_checkpoint(folder, pair: SurveyPair) -> Path:
    """The checkpoint folder of ``pair`` inside ``folder``."""
    return Path(folder) / f"{pair.name}--{pair.model}"
