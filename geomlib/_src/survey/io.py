"""Reading and writing :class:`SurveyResult` as ``.npz`` (no pickles; several results per file).

The ``.npz`` holds everything that a rerun with the same settings reproduces exactly, and
nothing else: it is written with :func:`geomlib._src.core.files.write_npz` (atomic and
byte-for-byte reproducible), so a survey that was killed and resumed writes the same bytes
as one that ran straight through. Measured wall times differ from run to run, so they are
kept out of it: ``config["seconds"]`` goes to a small JSON sidecar next to the file
(:func:`times_path`: ``x.npz`` -> ``x.times.json``, written atomically just before the
``.npz``, each time with the SHA-256 of the result it belongs to) and :func:`load_survey`
merges it back. Without a sidecar, or for a result whose entry there belongs to another
result (a stale sidecar), ``config["seconds"]`` is NaN.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import warnings
from pathlib import Path
from typing import Mapping

import numpy as np

from geomlib._src.core.checks import check_path
from geomlib._src.core.files import ResultFileError, read_npz, require, times_path, write_npz, write_text
from geomlib._src.survey.results import KINDS, SurveyResult

#: The command that writes survey files, named in every error about one.
SURVEY_COMMAND = "python -m geomlib.cli.survey"
_WHAT = "survey"
_FIELDS = tuple(f.name for f in dataclasses.fields(SurveyResult))
_TIMES_FORMAT = 1


def _check_results(results) -> dict[str, SurveyResult] | SurveyResult:
    if isinstance(results, SurveyResult):
        return results
    if not (isinstance(results, dict) and results and all(isinstance(r, SurveyResult) for r in results.values())):
        raise ValueError(f"results: expected a SurveyResult or a non-empty dict of them, got {type(results).__name__}")
    bad = [k for k in results if not isinstance(k, str) or not k or ":" in k]
    if bad:
        raise ValueError(f"results: names must be non-empty strings without ':', got {bad!r}")
    return results


def save_survey(results: SurveyResult | Mapping[str, SurveyResult], path: str | os.PathLike) -> None:
    """Write one :class:`SurveyResult`, or a dict ``name -> SurveyResult`` (names without ``":"``),
    to a compressed ``.npz`` at ``path``; read it back with :func:`load_survey`.

    The file is written atomically (a temporary file, flushed and renamed: a kill leaves
    the old file or the new one) and reproducibly (the same results give the same bytes;
    a dict is stored in its order). ``config["seconds"]`` is not in it: the times go to
    the sidecar :func:`times_path` (removed when no result has a finite time).

    Raises:
      ValueError: ``results`` is not a SurveyResult or a non-empty dict of them, or
        ``path`` is a folder; TypeError: ``path`` is not a path.
    """
    results = _check_results(results)
    path = check_path(path)
    if path.is_dir():
        raise ValueError(f"path: expected a file to write the survey to, got the folder {path}")
    single = isinstance(results, SurveyResult)
    named = {"": results} if single else results
    arrays, times = {}, {}
    for name, r in named.items():
        mine = _arrays(r, f"{name}:" if name else "")
        arrays.update(mine)
        t = r.config.get("seconds") if isinstance(r.config, dict) else None
        if isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t):
            times[name] = {"seconds": float(t), "sha256": _fingerprint(mine, f"{name}:" if name else "")}
    sidecar = times_path(path)
    # The sidecar first: a kill between the two writes leaves times that still match the old file's results.
    if times:
        write_text(sidecar, json.dumps({"format": _TIMES_FORMAT, "results": times}, indent=1, sort_keys=True) + "\n")
    elif sidecar.exists():
        sidecar.unlink()
    write_npz(path, arrays)


def _fingerprint(arrays: dict, prefix: str) -> str:
    """SHA-256 of one result's arrays as stored (names without ``prefix``, dtypes, shapes, bytes):
    ties a time in the sidecar to the result it was measured for."""
    h = hashlib.sha256()
    for k in sorted(arrays):
        a = np.ascontiguousarray(arrays[k])
        h.update(f"{k[len(prefix):]}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _arrays(result: SurveyResult, prefix: str = "") -> dict:
    arrays = {prefix + f: np.asarray(getattr(result, f)) for f in _FIELDS if f not in ("model", "config")}
    arrays[prefix + "kind"] = arrays[prefix + "kind"].astype("U10")
    arrays[prefix + "model"] = np.array(str(result.model))
    config = {k: v for k, v in result.config.items() if k != "seconds"}
    arrays[prefix + "config"] = np.array(json.dumps(config))
    return arrays


def load_survey(path: str | os.PathLike) -> SurveyResult | dict[str, SurveyResult]:
    """Read a survey written by :func:`save_survey` / :meth:`SurveyResult.save`: one
    :class:`SurveyResult`, or, for a file holding several (as written by
    ``python -m geomlib.cli.survey``), a dict keyed by name, e.g. ``"patches-2x/lca"``, in the
    order they were saved.

    ``config["seconds"]`` comes from the sidecar :func:`times_path` when it is there and
    its entry belongs to this result (its SHA-256 matches); otherwise it is NaN (a
    damaged sidecar only warns: the times are not part of the result).

    Raises:
      FileNotFoundError: no file at ``path``.
      ResultFileError (a ValueError): anything wrong with the file (a folder, empty,
        truncated, not an ``.npz``, not a survey, missing arrays, arrays of the wrong
        shape or type, an unreadable config); every message names the file and the
        command that writes it (``python -m geomlib.cli.survey``).
    """
    path = check_path(path)
    data = read_npz(path, what=_WHAT, command=SURVEY_COMMAND)
    if "model" in data or "c2" in data:
        names = [""]
    else:
        names = list(dict.fromkeys(k.split(":", 1)[0] for k in data if ":" in k))   # in the order saved
    if not names:
        shown = ", ".join(sorted(data)[:6]) + (", ..." if len(data) > 6 else "")
        raise ResultFileError(f"{path}: not a {_WHAT} file (it holds no survey result: arrays {shown or 'none'}); "
                              f"write it again with `{SURVEY_COMMAND}`")
    times = _read_times(path)
    out = {}
    for name in names:
        prefix = f"{name}:" if name else ""
        res = _result_from(data, prefix, path, name)
        entry = times.get(name)
        stored = {k: v for k, v in data.items() if k.startswith(prefix) and (prefix or ":" not in k)}
        t = entry["seconds"] if entry is not None and entry["sha256"] == _fingerprint(stored, prefix) else math.nan
        out[name] = dataclasses.replace(res, config={**res.config, "seconds": t})
    return out[""] if names == [""] else out


def _read_times(path: Path) -> dict[str, dict]:
    """The sidecar's entries (name -> {"seconds", "sha256"}); {} (and a warning if it is damaged) without one."""
    sidecar = times_path(path)
    if not sidecar.is_file():
        return {}
    try:
        times = json.loads(sidecar.read_text(encoding="utf-8"))["results"]
        return {str(k): {"seconds": float(v["seconds"]), "sha256": str(v["sha256"])} for k, v in times.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        warnings.warn(f"{sidecar}: unreadable times of {path.name} ({type(err).__name__}: {err}); "
                      f"config['seconds'] is NaN", stacklevel=3)
        return {}


def _bad(path, name: str, reason: str) -> ResultFileError:
    where = f" (result {name!r})" if name else ""
    return ResultFileError(f"{path}: not a valid {_WHAT} file{where}: {reason}; write it again with `{SURVEY_COMMAND}`")


def _result_from(data: dict, prefix: str, path: Path, name: str) -> SurveyResult:
    require(data, [prefix + f for f in _FIELDS], path, what=_WHAT, command=SURVEY_COMMAND)
    kw = {f: data[prefix + f] for f in _FIELDS}
    for f in ("model", "config"):
        if kw[f].shape != () or kw[f].dtype.kind != "U":
            raise _bad(path, name, f"{f} is not a string")
    try:
        kw["config"] = json.loads(str(kw["config"]))
    except ValueError as err:
        raise _bad(path, name, f"config is not JSON ({err})") from err
    if not isinstance(kw["config"], dict):
        raise _bad(path, name, "config is not a JSON object")
    kw["model"] = str(kw["model"])
    c2 = kw["c2"]
    if c2.ndim != 2:
        raise _bad(path, name, f"c2 has shape {c2.shape}, expected (neurons, planes)")
    n, p = c2.shape
    for f in ("c2", "c0", "c1", "angle"):
        if kw[f].shape != (n, p) or kw[f].dtype.kind != "f":
            raise _bad(path, name, f"{f} is {kw[f].dtype} of shape {kw[f].shape}, expected floats of shape {(n, p)}")
    for f in ("n_valid", "partner"):
        if kw[f].shape != (n, p) or kw[f].dtype.kind not in "iu":
            raise _bad(path, name, f"{f} is {kw[f].dtype} of shape {kw[f].shape}, expected integers of shape {(n, p)}")
    if kw["neurons"].shape != (n,) or kw["neurons"].dtype.kind not in "iu":
        raise _bad(path, name, f"neurons is {kw['neurons'].dtype} of shape {kw['neurons'].shape}, "
                               f"expected integers of shape ({n},)")
    kind = kw["kind"]
    if kind.shape != (p,) or kind.dtype.kind != "U" or not set(kind.tolist()) <= set(KINDS):
        raise _bad(path, name, f"kind is {kind.dtype} of shape {kind.shape}, expected ({p},) of {KINDS}")
    if not np.all(np.isfinite(kw["angle"])):
        raise _bad(path, name, "angle has non-finite entries")
    return SurveyResult(**kw)
