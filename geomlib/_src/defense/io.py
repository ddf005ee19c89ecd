"""Files of chapter 5's measurements: every model's :class:`ClassifierMeasures` in one ``.npz``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import numpy as np

from geomlib._src.defense.results import FIELDS, ClassifierMeasures

def save_comparison(path, results: Mapping[str, ClassifierMeasures], metadata: dict | None = None) -> Path:
    """Write the measurements of every model (and JSON ``metadata``) to one ``.npz``."""
    path = Path(path)
    arrays = {}
    for name, m in results.items():
        if "/" in name:
            raise ValueError(f"results: model names may not contain '/', got {name!r}")
        for field in FIELDS:
            value = getattr(m, field)
            arrays[f"{name}/{field}"] = np.asarray(json.dumps(value) if field == "seconds" else value)
    # The model names apart from the metadata, so a metadata key "models" cannot replace them.
    arrays["__models__"] = np.asarray(json.dumps(list(results)))
    arrays["__meta__"] = np.asarray(json.dumps(dict(metadata or {})))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return path


def load_comparison(path) -> tuple[dict[str, ClassifierMeasures], dict]:
    """Read a file of :func:`save_comparison`: ``(results, metadata)``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such comparison file (write one with `python -m geomlib.cli.defense`)")
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["__meta__"]))
        # files written before "__models__" kept the names in the metadata
        names = json.loads(str(data["__models__"])) if "__models__" in data.files else meta.pop("models")
        out = {}
        for name in names:
            kw = {}
            for field in FIELDS:
                v = data[f"{name}/{field}"]
                kw[field] = json.loads(str(v)) if field == "seconds" else v
            out[name] = ClassifierMeasures(**kw)
    return out, meta
