"""What runs over the shipped files: rebuilding them (``make models``) and the full curvature
survey of the shipped dictionaries (:func:`survey_to_file`: written to one file, resumable)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable, Iterator, Mapping, NamedTuple, Sequence

from geomlib._src.core.batching import is_main_process, sync_processes
from geomlib._src.core.checks import check_choice, check_int
from geomlib._src.core.files import ResultFileError, ResumeError
from geomlib._src.lca import DICTIONARY_MODELS
from geomlib._src.params_io import SHIPPED_CLASSIFIERS, SHIPPED_MODELS, load_metadata, load_params
from geomlib._src.recipes.classifier import classifier_summary, train_classifier_and_save
from geomlib._src.recipes.dictionary import dictionary_summary, train_and_save
from geomlib._src.survey import (
    SurveyResult,
    checkpoint_planes,
    load_survey,
    run_survey,
    save_survey,
    survey_config,
    times_path,
)

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


def pair_checkpoint(folder: str | os.PathLike, pair: SurveyPair) -> Path:
    """The checkpoint folder of ``pair`` inside ``folder``."""
    return Path(folder) / f"{pair.name}--{pair.model}"


def parts_folder(out: str | os.PathLike) -> Path:
    """The folder beside ``out`` where the pair in flight keeps its finished chunks
    (``x.npz`` -> ``x.parts``)."""
    out = Path(out)
    return out.with_name((out.stem if out.suffix else out.name) + ".parts")


class SurveyResume(NamedTuple):
    """What :func:`survey_to_file` found on disk before running (keys ``"<dictionary>/<model>"``)."""

    out: Path
    parts: Path                 # parts_folder(out)
    kept: tuple[str, ...]       # pairs of the plan in ``out`` with the same settings: read back, not rerun
    rerun: tuple[str, ...]      # pairs of the plan in ``out`` with other settings: run again
    others: tuple[str, ...]     # pairs in ``out`` not in the plan: kept in it
    in_file: int                # planes of the kept pairs
    in_parts: int               # planes of the other pairs already in ``parts``
    total: int                  # planes of the whole plan


def read_survey_to_resume(plan: Sequence[SurveyPair], out: str | os.PathLike, *, restart: bool = False
                          ) -> tuple[dict[str, SurveyResult], SurveyResume]:
    """The results of ``out`` a run of ``plan`` keeps (the kept and the other pairs), and what
    is on disk. With ``restart``, ``out``, its times sidecar and its parts folder are deleted first.

    Raises:
      ResumeError: ``out`` cannot be read (kind ``"damaged"``) or holds a single result
        (``"foreign"``); nothing is changed on disk then.
    """
    out = Path(out)
    parts = parts_folder(out)
    if restart and is_main_process():
        for path in (out, times_path(out)):
            path.unlink(missing_ok=True)
        shutil.rmtree(parts, ignore_errors=True)
    sync_processes("survey: restart")  # several processes: all read what process 0 left
    results: dict = {}
    if out.exists():
        try:
            results = load_survey(out)
        except (ValueError, OSError) as err:
            raise ResumeError(f"cannot resume from {out}: {err}", "damaged") from err
        if not isinstance(results, dict):
            raise ResumeError(f"{out} holds a single survey result, not one written by this command", "foreign")
    kept = tuple(p.key for p in plan if p.key in results and same_settings(results[p.key], p))
    rerun = tuple(p.key for p in plan if p.key in results and p.key not in kept)
    for key in rerun:
        del results[key]
    others = tuple(sorted(set(results) - {p.key for p in plan}))
    in_parts = sum(min(checkpoint_planes(pair_checkpoint(parts, p)), p.planes) for p in plan if p.key not in kept)
    return results, SurveyResume(out, parts, kept, rerun, others, sum(p.planes for p in plan if p.key in kept),
                                 in_parts, sum(p.planes for p in plan))


def survey_to_file(plan: Sequence[SurveyPair], out: str | os.PathLike, *, restart: bool = False,
                   on_start: Callable[[SurveyResume], object] | None = None,
                   on_pair: Callable[[str, SurveyResult | None], object] | None = None,
                   progress: Callable[[int], object] | None = None) -> tuple[dict[str, SurveyResult], SurveyResume]:
    """Run ``plan`` (:func:`survey_plan`) into the ``.npz`` ``out``, resuming what is on disk.

    Kept on disk: ``out`` (:func:`geomlib.save_survey`, atomic) is rewritten after each
    pair, with every pair done so far, sorted by key; pairs already in it with the plan's
    settings are kept, not rerun, as are pairs of other dictionaries or models. The pair in
    flight keeps its finished chunks in ``parts_folder(out)/<dictionary>--<model>``
    (removed once the pair is in ``out``; the whole folder once the plan is done), so a
    kill loses at most one chunk. Times go to ``out``'s sidecar (``x.times.json``). The
    file is byte-identical to an uninterrupted run's.

    Args:
      restart: delete ``out``, its sidecar and its parts first.
      on_start: called once with the :class:`SurveyResume`, before anything runs.
      on_pair: called with ``(key, None)`` before a pair runs, then ``(key, result)`` when
        it is kept or computed (``key in resume.kept`` tells which).
      progress: called with the number of planes of each finished chunk.

    Returns:
      ``(results by key, resume)``: every pair of ``out`` at the end.

    Raises:
      ResumeError: ``out`` cannot be resumed (:func:`read_survey_to_resume`), or a pair's
        parts belong to another run or are damaged (kind ``"checkpoint"``).
    """
    results, resume = read_survey_to_resume(plan, out, restart=restart)
    if on_start is not None:
        on_start(resume)
    for p in plan:
        folder = pair_checkpoint(resume.parts, p)
        if p.key not in resume.kept:
            if on_pair is not None:
                on_pair(p.key, None)
            try:
                res = run_survey(p.params, **p.kwargs, progress=progress or False, checkpoint=folder)
            except (ValueError, ResultFileError) as err:
                if "checkpoint:" not in str(err):
                    raise
                raise ResumeError(str(err), "checkpoint") from err
            res.config["params"] = p.name
            results[p.key] = res
            if is_main_process():  # several processes: process 0 writes, every process holds the results
                save_survey(dict(sorted(results.items())), resume.out)
        if is_main_process():
            shutil.rmtree(folder, ignore_errors=True)  # for a kept pair: left by a kill after the file was written
        if on_pair is not None:
            on_pair(p.key, results[p.key])
    if is_main_process():
        shutil.rmtree(resume.parts, ignore_errors=True)
    return results, resume
