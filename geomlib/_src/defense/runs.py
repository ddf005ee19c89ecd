"""Chapter 8's comparisons run into one file, resuming what an interrupted run left in it
(what ``python -m geomlib.cli.defense`` does)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Mapping, NamedTuple, Sequence

from geomlib._src.core.batching import allgather_objects, is_main_process
from geomlib._src.core.files import ResumeError
from geomlib._src.defense.cifar import cifar10_comparison
from geomlib._src.defense.io import load_comparison, save_comparison
from geomlib._src.defense.mnist import DEFENSE_MODELS, mnist_comparison
from geomlib._src.defense.results import ClassifierMeasures
from geomlib._src.defense.statistics import RankCorrelation, comparison_summary, rank_correlation

#: What must match between a file and a run for its models to be reused (keys of :func:`run_settings`).
RESUME_KEYS = ("data", "seed", "n_images", "eps", "temperature", "worst_case")
#: The rank correlations a comparison of at least 3 models reports: (curvature, robustness) statistics.
CORRELATIONS = tuple((curv, rob) for curv in ("boundary_curvature", "logit_bend", "first_layer_bend")
                     for rob in ("deepfool_distance", "msd"))


class ComparisonRun(NamedTuple):
    """What :func:`comparison_to_file` wrote and measured."""

    results: dict[str, ClassifierMeasures]
    meta: dict
    kept: tuple[str, ...]       # models read back from the file, not measured again
    measured: tuple[str, ...]   # models measured by this run
    seconds: float              # this run's wall time (the file's metadata adds the earlier runs')
    summary: dict               # comparison_summary(results)
    correlations: dict[tuple[str, str], RankCorrelation]  # CORRELATIONS; empty with fewer than 3 models


def run_settings(meta: Mapping) -> dict:
    """The settings of a comparison's metadata that decide whether its models can be reused."""
    settings = meta.get("settings") or {}
    return {"data": meta.get("data"), "seed": meta.get("seed"), "n_images": len(meta.get("images") or ()),
            "eps": [float(e) for e in settings.get("eps", ())] if isinstance(settings, dict) else None,
            "temperature": meta.get("temperature"),
            "worst_case": settings.get("worst_case") if isinstance(settings, dict) else None}


def read_comparison_to_resume(out: str | os.PathLike, models: Sequence[str], want: Mapping
                              ) -> tuple[dict[str, ClassifierMeasures], dict] | None:
    """``(results, metadata)`` of the file ``out`` if a run with the settings ``want`` (as
    :func:`run_settings` gives) of ``models`` can resume from it; None if there is no file.

    Raises:
      ResumeError: ``out`` cannot be read (kind ``"damaged"``), or holds other settings or
        models not in ``models`` (``"foreign"``).
    """
    out = Path(out)
    if not out.exists():
        return None
    try:
        old, old_meta = load_comparison(out)
    except (OSError, ValueError) as err:
        raise ResumeError(str(err), "damaged") from err
    have = run_settings(old_meta)
    differ = [f"{k} {have[k]!r} (this run: {want[k]!r})" for k in RESUME_KEYS if have[k] != want[k]]
    extra = [m for m in old if m not in models]
    if differ or extra:
        why = f"other settings: {'; '.join(differ)}" if differ else f"models not in --models: {', '.join(extra)}"
        raise ResumeError(f"{out} holds a comparison with {why}", "foreign")
    return old, old_meta


def comparison_to_file(out: str | os.PathLike, models: Sequence[str] = DEFENSE_MODELS, n_images: int = 24, *,
                       cifar10: str | os.PathLike | None = None, seed: int = 0, eps: Sequence[float] = (0.05, 0.1),
                       restart: bool = False, progress: bool = True, n_boot: int = 1000,
                       on_start: Callable[[tuple[str, ...] | None], object] | None = None,
                       worst_case: Mapping[str, int] | None = None,
                       seed_dir: str | os.PathLike | None = None) -> ComparisonRun:
    """:func:`mnist_comparison` of ``models`` (or, with ``cifar10`` a folder of the CIFAR-10
    batches, :func:`cifar10_comparison`; ``models`` then only bounds what the file may
    hold) on ``n_images`` images, written to the ``.npz`` ``out``, resuming it.

    Kept on disk: ``out`` (:func:`save_comparison`: atomic, reproducible) is rewritten after
    each model with every model done so far, so a kill loses at most the model in flight;
    its metadata's ``"seconds"`` (the time of every run on it) and each model's times go to
    the sidecar ``x.times.json``. Unless ``restart``, the models of an existing ``out``
    measured with this run's settings (:data:`RESUME_KEYS`) are read back, not measured
    again, and the file is the same bytes as an uninterrupted run's.

    Args:
      on_start: called before anything is measured with the models read back from
        ``out`` (None: no file to resume).
      worst_case: the budget of the worst-case accuracy (:func:`measure_classifier`), or None
        to skip it; part of the settings a resumed file must share.
      seed_dir: None, or the folder of extra seeds ``"<shipped>-s<k>"`` among ``models``
        (:func:`mnist_comparison`); one file then holds every seed, keyed by model name.

    Under JAX's multi-process runtime the models are shared out over the processes
    (:func:`geomlib.compare_classifiers`); process 0 reads the file to resume and writes it,
    the same bytes as one process would.

    Raises:
      ResumeError: ``out`` cannot be resumed (:func:`read_comparison_to_resume`; or its
        images are not this run's: kind ``"foreign"``). Nothing is written then.
    """
    if seed_dir is not None and cifar10:
        raise ValueError("seed_dir: extra seeds are MNIST classifiers; the CIFAR-10 comparison trains its own")
    want = {"data": "cifar10-gray" if cifar10 else "mnist", "seed": seed, "n_images": n_images,
            "eps": [float(e) for e in eps], "temperature": None if cifar10 else 0.05,
            "worst_case": None if worst_case is None else dict(worst_case)}
    # Process 0 reads the file to resume and every process takes its reading (JAX's
    # multi-process runtime; one process: as is), so all agree on what is left to measure.
    read, error = None, None
    if is_main_process() and not restart:
        try:
            read = read_comparison_to_resume(out, models, want)
        except ResumeError as err:
            error = (str(err), err.kind)
    read, error = allgather_objects((read, error))[0]
    if error is not None:
        raise ResumeError(*error)
    done = read
    before = float(done[1].get("seconds", 0.0)) if done is not None else 0.0
    if on_start is not None:
        on_start(None if done is None else tuple(m for m in models if m in done[0]))
    start, measured = time.perf_counter(), []

    def save(results: dict, meta: dict) -> None:
        measured.append(next(reversed(results)))
        if is_main_process():  # process 0 writes; the others hold the same results
            save_comparison(out, results, {**meta, "seconds": before + time.perf_counter() - start})

    common = dict(seed=seed, eps=tuple(eps), progress=progress, on_model=save, done=done)
    if worst_case is not None:
        common["worst_case"] = dict(worst_case)
    if seed_dir is not None:
        common["seed_dir"] = seed_dir
    try:
        if cifar10:
            results, meta = cifar10_comparison(cifar10, n_images, **common)
        else:
            results, meta = mnist_comparison(models, n_images, **common)
    except ValueError as err:
        if done is None or not str(err).startswith(("done", "done[")):
            raise
        raise ResumeError(f"{out}: {err}", "foreign") from err
    elapsed = time.perf_counter() - start
    meta["seconds"] = before + elapsed
    if is_main_process():
        save_comparison(out, results, meta)
    correlations = {} if len(results) < 3 else {
        (c, r): rank_correlation(results, c, r, n_boot=n_boot, seed=seed) for c, r in CORRELATIONS}
    return ComparisonRun(results, meta, tuple(m for m in results if m not in measured), tuple(measured), elapsed,
                         comparison_summary(results), correlations)
