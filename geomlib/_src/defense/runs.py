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
RESUME_KEYS = ("data", "digits", "seed", "n_images", "eps", "temperature", "worst_case", "bpda")
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
    return {"data": meta.get("data"), "digits": meta.get("digits", "common"), "seed": meta.get("seed"),
            "n_images": len(meta.get("images") or ()),
            "eps": [float(e) for e in settings.get("eps", ())] if isinstance(settings, dict) else None,
            "temperature": meta.get("temperature"),
            "worst_case": settings.get("worst_case") if isinstance(settings, dict) else None,
            "bpda": bool(settings.get("bpda", False)) if isinstance(settings, dict) else False}


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
                       seed_dir: str | os.PathLike | None = None, offset: int = 0,
                       digits: str = "common", bpda: bool = False) -> ComparisonRun:
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
      offset: MNIST only: measure the digits ``offset`` to ``offset + n_images`` of the
        comparison's list, a block of a comparison run in blocks (each block file resumes per
        model; :func:`merge_comparison_files` joins them).
      digits: MNIST only: ``"common"`` (the digits every model gets right) or ``"all"`` (every
        held-out digit, misclassified ones counted as broken); see :func:`mnist_comparison`.
      bpda: MNIST only, with ``worst_case``: BPDA joins the worst case of the LCA models
        (:func:`mnist_comparison`); part of the settings a resumed file must share.

    Under JAX's multi-process runtime the models are shared out over the processes
    (:func:`geomlib.compare_classifiers`); process 0 reads the file to resume and writes it,
    the same bytes as one process would.

    Raises:
      ResumeError: ``out`` cannot be resumed (:func:`read_comparison_to_resume`; or its
        images are not this run's: kind ``"foreign"``). Nothing is written then.
    """
    if seed_dir is not None and cifar10:
        raise ValueError("seed_dir: extra seeds are MNIST classifiers; the CIFAR-10 comparison trains its own")
    if digits != "common" and cifar10:
        raise ValueError("digits: the choice of digits is for the MNIST comparison")
    want = {"data": "cifar10-gray" if cifar10 else "mnist", "digits": digits, "seed": seed, "n_images": n_images,
            "eps": [float(e) for e in eps], "temperature": None if cifar10 else 0.05,
            "worst_case": None if worst_case is None else dict(worst_case), "bpda": bool(bpda)}
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
    if offset:
        if cifar10:
            raise ValueError("offset: blocks of digits are for the MNIST comparison")
        common["offset"] = offset
    if digits != "common":
        common["digits"] = digits
    if bpda:
        if cifar10:
            raise ValueError("bpda: BPDA is added to the LCA models of the MNIST comparison")
        common["bpda"] = True
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


#: Per-image fields whose image axis is the last (the radii first); the others have it first.
_IMAGE_AXIS_LAST = ("pgd_correct", "worst_correct", "worst_broken_by")


def merge_comparison_files(paths: Sequence[str | os.PathLike], out: str | os.PathLike
                           ) -> tuple[dict[str, ClassifierMeasures], dict]:
    """Join the block files of a comparison run in blocks (``comparison_to_file(offset=...)``,
    ``python -m geomlib.cli.defense --offset K``) into one comparison file ``out``.

    The blocks must hold the same models, measured with the same settings (:data:`RESUME_KEYS`
    but the number of digits) on disjoint digits; they are joined in the order of their
    digits' positions in the comparison's list (the order of ``paths`` does not matter), each
    model's per-image arrays concatenated, its per-model first-layer survey taken from the
    first block (the same survey in every block: it does not depend on the digits) and its
    seconds summed, as are the runs' seconds. The joined file is a comparison in blocks, not
    the bytes of one run on all digits: random starts and random planes are drawn per block.

    Returns:
      ``(results, metadata)`` as :func:`geomlib.load_comparison` reads ``out`` back.

    Raises:
      ValueError: fewer than 2 files, other models or settings, overlapping digits;
      FileNotFoundError: a missing file.
    """
    import numpy as np

    from geomlib._src.defense.results import OPTIONAL, PER_IMAGE

    if isinstance(paths, (str, os.PathLike)) or len(paths) < 2:
        raise ValueError(f"paths: expected the block files of one comparison (at least 2), got {paths!r}")
    blocks = [load_comparison(p) for p in paths]
    first_res, first_meta = blocks[0]
    keys = [k for k in RESUME_KEYS if k != "n_images"]
    for p, (res, meta) in zip(paths, blocks):
        differ = [k for k in keys if run_settings(meta)[k] != run_settings(first_meta)[k]]
        if differ or list(res) != list(first_res):
            raise ValueError(f"paths: {p} is not a block of the comparison in {paths[0]} "
                             f"({'settings ' + ', '.join(differ) if differ else 'other models'})")
    images = [i for _, meta in blocks for i in meta["images"]]
    if len(set(images)) != len(images):
        raise ValueError("paths: blocks with digits in common; expected disjoint blocks of one comparison")
    order = sorted(range(len(blocks)), key=lambda b: blocks[b][1]["images"][0])
    blocks = [blocks[b] for b in order]
    results = {}
    for name, m0 in first_res.items():
        parts = [res[name] for res, _ in blocks]
        joined = {}
        for field in PER_IMAGE + OPTIONAL:
            arrays = [getattr(m, field) for m in parts]
            if any(a is None for a in arrays):
                joined[field] = None
                continue
            joined[field] = np.concatenate(arrays, axis=-1 if field in _IMAGE_AXIS_LAST else 0)
        seconds: dict[str, float] = {}
        for m in parts:
            for k, v in m.seconds.items():
                seconds[k] = seconds.get(k, 0.0) + float(v)
        results[name] = m0._replace(**joined, seconds=seconds)
    meta = dict(blocks[0][1])
    meta["images"] = [i for _, m in blocks for i in m["images"]]
    meta["targets"] = [t for _, m in blocks for t in m["targets"]]
    total = [m.get("seconds") for _, m in blocks]
    if all(t is not None for t in total):
        meta["seconds"] = float(sum(total))
    else:
        meta.pop("seconds", None)
    save_comparison(out, results, meta)
    return load_comparison(out)
