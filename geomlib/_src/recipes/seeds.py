"""Extra seeds of the shipped models: the configuration of seed k of a shipped model, and
training every seed a comparison needs into one folder, resuming what is there
(``python -m geomlib.cli.train seeds``).

Seed 0 of a configuration is the shipped file itself (``geomlib/params/<name>.npz``,
unchanged). Seed k >= 1 is the file ``<name>-s<k>.npz`` trained from the shipped
configuration with every random choice of the *model* reseeded to k, and nothing else:

* an MLP (``linear``, ``mlp-2``, ``mlp-3``): ``"seed": k``, that is the initial weights,
  the randomly shifted copies of the training digits and the minibatch order;
* ``mlp-2-cure`` and ``mlp-2-pgd``: the same (``"seed": k``). Both are trained from scratch
  (no pretrained base), so nothing else is shared; the PGD random starts follow the seed
  too. For a given k, ``mlp-2-s<k>``, ``mlp-2-cure-s<k>`` and ``mlp-2-pgd-s<k>`` start from
  the same weights and see the same batches, as the shipped three do for seed 0: the
  defenses are compared paired, seed by seed;
* an LCA classifier: its dictionary is reseeded too. ``"lca": "<dictionary>-s<k>"``, a
  dictionary trained from the shipped dictionary's configuration with ``"seed": k`` (its
  initial atoms and batch order), then the classifier head with ``"seed": k`` on its codes.
  A dictionary is shared by the configurations of the same seed that read the same shipped
  dictionary (``lca-mlp-2``, ``-t25``, ``-t150`` and ``lca-mlp-3`` all read
  ``mnist-768-s<k>``), as the shipped ones share ``mnist-768``, and is trained once per seed.

Kept fixed for every seed: the data (the MNIST split, ``"split_seed"`` 0, so the 1,000
held-out digits the comparison measures on are held out for every seed; the patches of a
patch dictionary, ``"data_seed"``) and every other setting. Each file's metadata holds its
configuration (with its seed) and the command that retrains it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable, Iterator, Mapping, NamedTuple, Sequence

from geomlib._src.core.checks import check_bool
from geomlib._src.defense import DEFENSE_MODELS
from geomlib._src.params_io import (
    PARAMS_DIR,
    SHIPPED_CLASSIFIERS,
    SHIPPED_MODELS,
    load_metadata,
    load_params,
    params_path,
    seeded_name,
    seeds_command,
    split_seeded_name,
)
from geomlib._src.recipes.classifier import classifier_summary, train_classifier_and_save
from geomlib._src.recipes.dictionary import dictionary_summary, train_and_save

#: Where ``python -m geomlib.cli.train seeds`` writes by default (relative to the current
#: folder: run it from the repository root, whose ``.gitignore`` lists ``seeds/``).
SEEDS_DIR = "seeds"
#: The extra seeds trained by default (seed 0 is the shipped file).
DEFAULT_SEEDS = (1, 2)
# Keys a seed sets itself: an override may not change them.
_SEED_KEYS = ("seed", "lca")
# Optional classifier keys that an override may add (see classifier_from_config).
_OPTIONAL = ("n_train", "lca_lam", "lca_steps", "lca_eta", "cure", "adversarial")


class SeededModel(NamedTuple):
    """Seed ``seed`` of the shipped model ``base`` (:func:`seeded_config`)."""

    name: str                      # its file name: ``base`` for seed 0, ``"<base>-s<seed>"`` otherwise
    base: str                      # the shipped configuration it is a seed of
    seed: int
    kind: str                      # "classifier" or "dictionary"
    config: dict                   # its training configuration
    dictionary: str | None         # a classifier's LCA dictionary file name (None: no LCA front-end)
    dictionary_config: dict | None  # that dictionary's training configuration


class SeedJob(NamedTuple):
    """One file of a seeded training plan (:func:`seeds_plan`)."""

    name: str       # file name, e.g. "mnist-768-s1" or "lca-mlp-2-s1"
    kind: str       # "dictionary" (trained first) or "classifier"
    config: dict    # its training configuration (overrides applied)
    rebuild: str    # the command that trains it, stored in its metadata


class SeedStep(NamedTuple):
    """What :func:`train_seeds` did with one job."""

    job: SeedJob
    status: str             # before: "done" (kept), or why it was trained: "missing", "other config", ...
    path: Path
    seconds: float | None   # measured wall time of its training (None: kept)
    summary: str | None     # the one-line summary of the trained file (None: kept)


def _check_seed(seed, label: str = "seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 32:
        raise ValueError(f"{label}: expected an integer in [0, 2**32), got {seed!r}")
    return seed


def seeded_config(name: str, seed: int) -> SeededModel:
    """The configuration of seed ``seed`` of the shipped model ``name`` (module docstring).

    Args:
      name: a shipped classifier (:data:`geomlib.SHIPPED_CLASSIFIERS`) or dictionary
        (:data:`geomlib.SHIPPED_MODELS`).
      seed: 0 (the shipped file and configuration, unchanged) or k >= 1.

    Returns:
      a :class:`SeededModel`: file name ``"<name>-s<k>"``, the shipped configuration with
      ``"seed": k`` and, for an LCA classifier, ``"lca": "<dictionary>-s<k>"`` and that
      dictionary's configuration (the shipped one with ``"seed": k``).

    Raises:
      ValueError: ``name`` not a shipped model, ``seed`` not an integer >= 0.

    >>> s = seeded_config("lca-mlp-2-t25", 1)
    >>> s.name, s.config["seed"], s.dictionary, s.dictionary_config["seed"]
    ('lca-mlp-2-t25-s1', 1, 'mnist-768-s1', 1)
    """
    if not isinstance(name, str) or (name not in SHIPPED_CLASSIFIERS and name not in SHIPPED_MODELS):
        raise ValueError(f"name: expected a shipped classifier ({', '.join(SHIPPED_CLASSIFIERS)}) or dictionary "
                         f"({', '.join(SHIPPED_MODELS)}), got {name!r}")
    seed = _check_seed(seed)
    if name in SHIPPED_MODELS:
        config = dict(SHIPPED_MODELS[name]) if seed == 0 else {**SHIPPED_MODELS[name], "seed": seed}
        return SeededModel(seeded_name(name, seed), name, seed, "dictionary", config, None, None)
    shipped = SHIPPED_CLASSIFIERS[name]
    config = dict(shipped) if seed == 0 else {**shipped, "seed": seed}
    dictionary = dict_config = None
    if shipped["lca"] is not None:
        dictionary = seeded_name(shipped["lca"], seed)
        dict_config = seeded_config(shipped["lca"], seed).config
        config["lca"] = dictionary
    return SeededModel(seeded_name(name, seed), name, seed, "classifier", config, dictionary, dict_config)


def check_seeds(seeds: Sequence[int], allow_zero: bool = True) -> tuple[int, ...]:
    """``seeds`` as a non-empty tuple of distinct integers >= 0 (>= 1 unless ``allow_zero``)."""
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (tuple, list, range)) or not len(seeds):
        raise ValueError(f"seeds: expected a non-empty list of integers >= {0 if allow_zero else 1}, got {seeds!r}")
    out = tuple(_check_seed(s, "seeds") for s in seeds)
    if len(set(out)) != len(out):
        raise ValueError(f"seeds: expected distinct seeds, got {list(out)}")
    if not allow_zero and 0 in out:
        raise ValueError("seeds: 0 is the shipped model (geomlib/params), not trained here; expected seeds >= 1, "
                         f"got {list(out)}")
    return out


def _check_names(names, kinds=(SHIPPED_CLASSIFIERS, SHIPPED_MODELS)) -> tuple[str, ...]:
    known = {k: None for d in kinds for k in d}
    if isinstance(names, (str, bytes)) or not isinstance(names, (tuple, list)) or not names:
        raise ValueError(f"names: expected a non-empty list of shipped model names, got {names!r}")
    bad = [n for n in names if n not in known]
    if bad:
        raise ValueError(f"names: expected shipped models ({', '.join(known)}), got {bad}")
    if len(set(names)) != len(names):
        raise ValueError(f"names: expected distinct names, got {list(names)}")
    return tuple(names)


def seeded_names(names: Sequence[str] = DEFENSE_MODELS, seeds: Sequence[int] = (0, *DEFAULT_SEEDS)) -> tuple[str, ...]:
    """Every seed of every configuration: ``name`` for seed 0, ``"<name>-s<k>"`` for k >= 1,
    by configuration then seed (the model names of a seeded comparison).

    >>> seeded_names(["mlp-2", "lca-mlp-2"], [0, 1])
    ('mlp-2', 'mlp-2-s1', 'lca-mlp-2', 'lca-mlp-2-s1')
    """
    names = _check_names(names, (SHIPPED_CLASSIFIERS,))
    seeds = check_seeds(seeds)
    return tuple(seeded_name(n, k) for n in names for k in seeds)


def _overrides(overrides, label: str, allowed) -> dict:
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise ValueError(f"{label}: expected None or a dict of configuration values, got {overrides!r}")
    bad = [k for k in overrides if k in _SEED_KEYS or k not in allowed]
    if bad:
        raise ValueError(f"{label}: expected keys of the configuration other than {', '.join(_SEED_KEYS)} "
                         f"({', '.join(sorted(k for k in allowed if k not in _SEED_KEYS))}), got {bad}")
    try:
        json.dumps(dict(overrides), allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{label}: expected values that JSON can write ({err})") from None
    return dict(overrides)


def _flags(flag: str, overrides: dict) -> str:
    return "".join(f" {flag} {k}={json.dumps(v, separators=(',', ':'))}" for k, v in overrides.items())


def seeds_plan(names: Sequence[str] = DEFENSE_MODELS, seeds: Sequence[int] = DEFAULT_SEEDS,
               out: str | os.PathLike = SEEDS_DIR, *, overrides: Mapping | None = None,
               dictionary_overrides: Mapping | None = None) -> list[SeedJob]:
    """The files that seeds ``seeds`` (>= 1) of the shipped models ``names`` need, in training
    order: for each seed, each configuration's dictionary (once per seed, before its first
    classifier), then the classifier.

    Args:
      names: shipped classifiers and/or dictionaries (a dictionary name trains that dictionary only).
      seeds: integers >= 1 (seed 0 is the shipped file: refused here).
      out: the folder of the files (only written into the commands stored in the metadata).
      overrides, dictionary_overrides: configuration values that replace the seeded ones of
        every classifier / dictionary (e.g. ``{"epochs": 1, "n_train": 200}`` for a quick
        check); recorded in each file's configuration and command. Not ``"seed"`` or ``"lca"``.

    Raises:
      ValueError: naming the bad argument.
    """
    names = _check_names(names)
    seeds = check_seeds(seeds, allow_zero=False)
    if isinstance(out, bool) or not isinstance(out, (str, os.PathLike)) or not str(out):
        raise ValueError(f"out: expected a folder path, got {out!r}")
    over = _overrides(overrides, "overrides", {k for c in SHIPPED_CLASSIFIERS.values() for k in c} | set(_OPTIONAL))
    dict_over = _overrides(dictionary_overrides, "dictionary_overrides", {k for c in SHIPPED_MODELS.values() for k in c})
    flags = _flags("--set", over) + _flags("--set-dictionary", dict_over)
    jobs: dict[str, SeedJob] = {}
    for seed in seeds:
        for name in names:
            s = seeded_config(name, seed)
            if s.kind == "dictionary":
                jobs.setdefault(s.name, SeedJob(s.name, "dictionary", {**s.config, **dict_over},
                                                seeds_command(name, seed, out) + flags))
                continue
            if s.dictionary is not None and s.dictionary not in jobs:
                jobs[s.dictionary] = SeedJob(s.dictionary, "dictionary", {**s.dictionary_config, **dict_over},
                                             seeds_command(SHIPPED_CLASSIFIERS[name]["lca"], seed, out) + flags)
            jobs[s.name] = SeedJob(s.name, "classifier", {**s.config, **over}, seeds_command(name, seed, out) + flags)
    return list(jobs.values())


def _as_json(config: dict) -> dict:
    return json.loads(json.dumps(config))


def seed_file_status(job: SeedJob, out: str | os.PathLike) -> str:
    """Whether ``<out>/<job.name>.npz`` is the file ``job`` makes: ``"done"`` (its metadata
    holds ``job.config``, and a classifier's dictionary fingerprint is that of the dictionary
    file in ``out``), else why not: ``"missing"``, ``"damaged"``, ``"other config"``,
    ``"no dictionary"``, ``"other dictionary"``."""
    from geomlib._src.classifiers import dictionary_fingerprint

    if not params_path(job.name, out).is_file():
        return "missing"
    try:
        meta = load_metadata(job.name, out)
    except (OSError, ValueError):
        return "damaged"
    if meta.get("config") != _as_json(job.config):
        return "other config"
    lca = job.config.get("lca") if job.kind == "classifier" else None
    if lca is not None:
        try:
            phi = load_params(lca, out)["phi"]
        except (OSError, ValueError, KeyError):
            return "no dictionary"
        if (meta.get("lca") or {}).get("phi_sha256") != dictionary_fingerprint(phi):
            return "other dictionary"
    return "done"


def train_seeds(plan: Sequence[SeedJob], out: str | os.PathLike = SEEDS_DIR, *, progress: bool = True,
                on_job: Callable[[int, SeedJob, str], object] | None = None) -> Iterator[SeedStep]:
    """Train the files of ``plan`` (:func:`seeds_plan`) into the folder ``out``, resuming:
    a file already there whose metadata holds the job's configuration (:func:`seed_file_status`
    ``"done"``) is kept, not trained again; any other is (re)written, atomically.

    Args:
      progress: the training progress bars.
      on_job: called with ``(index, job, status)`` before each job (status ``"done"``: kept).

    Yields:
      a :class:`SeedStep` per job, after it is kept or trained (with its measured wall time).
    """
    progress = check_bool(progress, "progress")
    if isinstance(out, bool) or not isinstance(out, (str, os.PathLike)) or not str(out):
        raise ValueError(f"out: expected a folder path, got {out!r}")
    if Path(out).exists() and not Path(out).is_dir():
        raise ValueError(f"out: expected a folder, got the file {out}")
    if Path(out).resolve() == PARAMS_DIR.resolve():
        raise ValueError(f"out: expected a folder other than the shipped {PARAMS_DIR}")
    for i, job in enumerate(plan):
        if not isinstance(job, SeedJob):
            raise ValueError(f"plan: expected SeedJob entries (seeds_plan), got {type(job).__name__}")
        status = seed_file_status(job, out)
        if on_job is not None:
            on_job(i, job, status)
        if status == "done":
            yield SeedStep(job, status, params_path(job.name, out), None, None)
            continue
        start = time.perf_counter()
        if job.kind == "dictionary":
            path, meta = train_and_save(job.name, job.config, out, progress=progress, rebuild=job.rebuild)
            summary = dictionary_summary(path, meta)
        else:
            path, meta = train_classifier_and_save(job.name, job.config, out, progress=progress, rebuild=job.rebuild)
            summary = classifier_summary(path, meta)
        yield SeedStep(job, status, path, time.perf_counter() - start, summary)


def seed_file_problems(names: Sequence[str], directory: str | os.PathLike) -> list[str]:
    """What is wrong with the seeded classifier files ``names`` (``"<shipped>-s<k>"``; other
    names are skipped) in ``directory`` for a comparison: one line per file that is missing,
    damaged, or not trained from its seeded configuration (e.g. with overrides), naming the
    command that trains it; empty when every file is right."""
    problems = []
    for name in names:
        seeded = split_seeded_name(name)
        if seeded is None or seeded[0] not in SHIPPED_CLASSIFIERS:
            continue
        base, seed = seeded
        for job in seeds_plan([base], [seed], directory):
            status = seed_file_status(job, directory)
            if status != "done":
                problems.append(f"{params_path(job.name, directory)}: {status}; train it with `{job.rebuild}`")
    return problems
