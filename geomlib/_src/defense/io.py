"""Files of chapter 8's measurements: every model's :class:`ClassifierMeasures` in one ``.npz``.

The ``.npz`` holds what a rerun with the same settings reproduces exactly, and nothing
else: it is written with :func:`geomlib._src.core.files.write_npz` (atomic: a temporary
file, flushed and renamed, so a kill leaves the old file or the new one, never a truncated
one; reproducible: the same results give the same bytes). A comparison killed and resumed
(``python -m geomlib.cli.defense`` resumes by default) therefore writes the same bytes as one
that ran straight through. Measured wall times differ from run to run, so they are kept out
of it: each model's ``seconds`` and the metadata's ``"seconds"`` go to a small JSON sidecar
next to the file (:func:`comparison_times_path`: ``x.npz`` -> ``x.times.json``, written
atomically after the ``.npz`` and holding its SHA-256), and :func:`load_comparison` merges
them back. Without the sidecar (or with one that belongs to another version of the file)
every ``seconds`` is ``{}`` and the metadata has no ``"seconds"``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from pathlib import Path
from typing import Mapping

import numpy as np

from geomlib._src.core.checks import check_path
from geomlib._src.core.files import ResultFileError, read_npz, require, write_npz, write_text
from geomlib._src.core.files import times_path as comparison_times_path
from geomlib._src.defense.results import FIELDS, OPTIONAL, PER_IMAGE, ClassifierMeasures

#: The command that writes comparison files, named in every error about one.
COMPARISON_COMMAND = "python -m geomlib.cli.defense"
_WHAT = "comparison"
_TIMES_FORMAT = 1
#: Fields stored in the ``.npz`` (``seconds`` goes to the sidecar).
_STORED = tuple(f for f in FIELDS if f != "seconds")


def _finite_seconds(value) -> dict[str, float]:
    """The finite numeric entries of a ``seconds`` dict (anything else dropped)."""
    if not isinstance(value, Mapping):
        return {}
    return {str(k): float(v) for k, v in value.items()
            if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)}


def save_comparison(path: str | os.PathLike, results: Mapping[str, ClassifierMeasures], metadata: dict | None = None) -> Path:
    """Write the measurements of every model (and JSON ``metadata``) to one ``.npz``; read it
    back with :func:`load_comparison`.

    Atomic and reproducible (see the module): the same results and metadata give the same
    bytes, whatever the measured times. Each model's ``seconds`` and ``metadata["seconds"]``
    (if any) go to the sidecar :func:`comparison_times_path` instead (removed when there are
    no times).

    Raises:
      ValueError: ``results`` is not a non-empty dict of :class:`ClassifierMeasures` with
        names free of ``'/'``, ``metadata`` is not a JSON-storable dict, or ``path`` is a
        folder; TypeError: ``path`` is not a path.
    """
    path = check_path(path)
    if not isinstance(results, Mapping) or not results:
        raise ValueError(f"results: expected a non-empty dict name -> ClassifierMeasures, got {type(results).__name__}")
    for name, m in results.items():
        if not isinstance(name, str) or not name or "/" in name or name.startswith("__"):
            raise ValueError(f"results: model names must be non-empty strings without '/' (nor a leading '__'), "
                             f"got {name!r}")
        if not isinstance(m, ClassifierMeasures):
            raise ValueError(f"results[{name!r}]: expected a ClassifierMeasures, got {type(m).__name__}")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise ValueError(f"metadata: expected a dict (stored as JSON) or None, got {type(metadata).__name__}")
    meta = dict(metadata or {})
    total = meta.pop("seconds", None)
    try:
        meta_json = json.dumps(meta)
    except (TypeError, ValueError) as err:
        raise ValueError(f"metadata: expected JSON-storable values ({err})") from None
    if path.is_dir():
        raise ValueError(f"path: expected a file to write the comparison to, got the folder {path}")
    arrays = {}
    for name, m in results.items():
        for field in _STORED:
            if field in OPTIONAL and getattr(m, field) is None:
                continue
            arrays[f"{name}/{field}"] = np.asarray(getattr(m, field))
    # The model names apart from the metadata, so a metadata key "models" cannot replace them.
    arrays["__models__"] = np.asarray(json.dumps(list(results)))
    arrays["__meta__"] = np.asarray(meta_json)
    write_npz(path, arrays)
    times = {name: _finite_seconds(m.seconds) for name, m in results.items()}
    times = {k: v for k, v in times.items() if v}
    total = _finite_seconds({"": total}).get("")
    sidecar = comparison_times_path(path)
    if times or total is not None:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        record = {"format": _TIMES_FORMAT, "file": path.name, "file_sha256": digest, "models": times}
        if total is not None:
            record["seconds"] = total
        write_text(sidecar, json.dumps(record, indent=1) + "\n")
    elif sidecar.exists():
        sidecar.unlink()
    return path


def _bad(path, reason: str) -> ResultFileError:
    return ResultFileError(f"{path}: not a valid {_WHAT} file: {reason}; write it again with `{COMPARISON_COMMAND}`")


def _json_string(data, key, path, kind):
    value = data[key]
    if value.shape != () or value.dtype.kind != "U":
        raise _bad(path, f"{key} is {value.dtype} of shape {value.shape}, expected a JSON string")
    try:
        out = json.loads(str(value))
    except ValueError as err:
        raise _bad(path, f"{key} is not JSON ({err})") from None
    if not isinstance(out, kind):
        raise _bad(path, f"{key} is a JSON {type(out).__name__}, expected a {kind.__name__}")
    return out


def _read_times(path: Path) -> dict:
    """The sidecar's record, if it belongs to the file at ``path``; {} (and a warning if damaged or stale) else."""
    sidecar = comparison_times_path(path)
    if not sidecar.is_file():
        return {}
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
        digest = record["file_sha256"]
        models = {str(k): _finite_seconds(v) for k, v in record["models"].items()}
        total = record.get("seconds")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        warnings.warn(f"{sidecar}: unreadable times of {path.name} ({type(err).__name__}: {err}); "
                      f"seconds left empty", stacklevel=3)
        return {}
    if digest != hashlib.sha256(path.read_bytes()).hexdigest():
        warnings.warn(f"{sidecar}: times of another version of {path.name}, ignored; seconds left empty",
                      stacklevel=3)
        return {}
    out = {"models": models}
    total = _finite_seconds({"": total}).get("")
    if total is not None:
        out["seconds"] = total
    return out


def load_comparison(path: str | os.PathLike) -> tuple[dict[str, ClassifierMeasures], dict]:
    """Read a file of :func:`save_comparison` / ``python -m geomlib.cli.defense``: ``(results, metadata)``.

    Each model's ``seconds`` (wall time of each measurement) and the metadata's
    ``"seconds"`` (wall time of the runs that wrote the file, summed over resumed runs) come
    from the sidecar :func:`comparison_times_path` when it is there and belongs to this file
    (its SHA-256 matches); otherwise ``seconds`` is ``{}`` and the metadata has no
    ``"seconds"`` (a damaged or stale sidecar only warns: times are not part of the result).

    Raises:
      FileNotFoundError: no file at ``path``.
      ResultFileError (a ValueError): anything wrong with the file (a folder, empty,
        truncated, not an ``.npz``, not a comparison, missing models or fields, fields of
        the wrong shape, unreadable metadata); every message names the file and the command
        that writes it (``python -m geomlib.cli.defense``).
    """
    path = check_path(path)
    data = read_npz(path, what=_WHAT, command=COMPARISON_COMMAND)
    if "__meta__" not in data:
        shown = ", ".join(sorted(data)[:6]) + (", ..." if len(data) > 6 else "")
        raise ResultFileError(f"{path}: not a {_WHAT} file (no __meta__; arrays {shown or 'none'}); "
                              f"write it again with `{COMPARISON_COMMAND}`")
    meta = _json_string(data, "__meta__", path, dict)
    # files written before "__models__" kept the names in the metadata
    if "__models__" in data:
        names = _json_string(data, "__models__", path, list)
    elif isinstance(meta.get("models"), list):
        names = meta.pop("models")
    else:
        raise _bad(path, "no __models__ (the list of models)")
    if not names or not all(isinstance(n, str) and n for n in names):
        raise _bad(path, f"__models__ is {names!r}, expected a non-empty list of model names")
    times = _read_times(path)
    out = {}
    for name in names:
        require(data, [f"{name}/{f}" for f in _STORED if f not in OPTIONAL], path, what=_WHAT,
                command=COMPARISON_COMMAND)
        kw = {f: data[f"{name}/{f}"] for f in _STORED if f not in OPTIONAL or f"{name}/{f}" in data}
        n = kw["label"].shape[-1] if kw["label"].ndim == 1 else -1
        if n < 0:
            raise _bad(path, f"{name}/label has shape {kw['label'].shape}, expected (images,)")
        for f in PER_IMAGE:
            v = kw[f]
            if v.ndim < 1 or v.dtype.kind not in "biuf" or (v.shape[-1] if f == "pgd_correct" else v.shape[0]) != n:
                raise _bad(path, f"{name}/{f} is {v.dtype} of shape {v.shape}, expected numbers for {n} images")
        if "clean_correct" in kw and (kw["clean_correct"].shape != (n,) or kw["clean_correct"].dtype.kind != "b"):
            raise _bad(path, f"{name}/clean_correct is {kw['clean_correct'].dtype} of shape "
                             f"{kw['clean_correct'].shape}, expected bools for {n} images")
        for f in ("pgd_correct", "worst_correct", "worst_broken_by"):
            if f in kw and kw[f].shape != (kw["eps"].size, n):
                raise _bad(path, f"{name}/{f} has shape {kw[f].shape}, expected (eps, images) = "
                                 f"({kw['eps'].size}, {n})")
        # stored before the sidecar existed: a JSON string inside the file
        old = f"{name}/seconds"
        if name in times.get("models", {}):
            kw["seconds"] = times["models"][name]
        elif old in data and data[old].shape == () and data[old].dtype.kind == "U":
            try:
                kw["seconds"] = _finite_seconds(json.loads(str(data[old])))
            except ValueError:
                kw["seconds"] = {}
        else:
            kw["seconds"] = {}
        out[name] = ClassifierMeasures(**kw)
    if "seconds" in times:
        meta["seconds"] = times["seconds"]
    return out, meta
