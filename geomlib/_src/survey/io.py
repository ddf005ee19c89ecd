"""Reading and writing :class:`SurveyResult` as ``.npz`` (no pickles; several results per file)."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile

import numpy as np

from geomlib._src.survey.results import SurveyResult


def save_survey(results, path) -> None:
    """Write one :class:`SurveyResult`, or a dict ``name -> SurveyResult`` (names without ``":"``),
    to a compressed ``.npz`` at ``path`` (atomically: a temporary file renamed); read it back
    with :func:`load_survey`."""
    if isinstance(results, SurveyResult):
        arrays = _arrays(results)
    elif isinstance(results, dict) and results and all(isinstance(r, SurveyResult) for r in results.values()):
        if any(":" in str(k) for k in results):
            raise ValueError("results: names must not contain ':'")
        arrays = {k: v for name, r in results.items() for k, v in _arrays(r, f"{name}:").items()}
    else:
        raise ValueError("results: expected a SurveyResult or a non-empty dict of them")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=directory)
    os.close(fd)
    try:
        np.savez_compressed(tmp, **arrays)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _arrays(result: SurveyResult, prefix: str = "") -> dict:
    arrays = {prefix + f.name: np.asarray(getattr(result, f.name)) for f in dataclasses.fields(result)
              if f.name not in ("model", "config")}
    arrays[prefix + "kind"] = arrays[prefix + "kind"].astype("U10")
    arrays[prefix + "model"] = np.array(result.model)
    arrays[prefix + "config"] = np.array(json.dumps(result.config))
    return arrays


def load_survey(path) -> SurveyResult | dict[str, SurveyResult]:
    """Read a survey written by :func:`save_survey` / :meth:`SurveyResult.save`: one
    :class:`SurveyResult`, or, for a file holding several (as written by
    ``python -m geomlib.cli.survey``), a dict keyed by name, e.g. ``"patches-2x/lca"``."""
    with np.load(path, allow_pickle=False) as npz:
        data = {k: npz[k] for k in npz.files}
    if "model" in data:
        return _result_from(data, "")
    names = sorted({k.split(":", 1)[0] for k in data if ":" in k})
    if not names:
        raise ValueError(f"path: {path} holds no survey result")
    return {name: _result_from(data, name + ":") for name in names}


def _result_from(data: dict, prefix: str) -> SurveyResult:
    kw = {}
    for f in dataclasses.fields(SurveyResult):
        v = data[prefix + f.name]
        if f.name == "model":
            v = str(v)
        elif f.name == "config":
            v = json.loads(str(v))
        kw[f.name] = v
    return SurveyResult(**kw)
