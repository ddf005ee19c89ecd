"""A results file measured one model at a time: written after each model, resumed where it stopped,
and the digits of chapter 8's comparison file that such runs measure.

Chapter 8's extra measurements (:mod:`.temperatures`, :mod:`.prediction_run`) each measure every
model of the family on the digits of the comparison file and keep the arrays in one ``.npz``:

- ``settings``: a JSON string (digits, measurement settings); a file with other settings is
  refused rather than mixed;
- ``models``: the names measured so far, in the order asked;
- ``command``: the command line of each run that wrote to it, joined by `` && ``;
- ``seconds``: the wall time of all runs together;
- per model m: ``m/<array>`` for each array its measurement returned, and ``m/seconds``.

:func:`per_model_file` runs the measurements and :func:`read_per_model` reads such a file back;
:func:`comparison_digits` and :func:`check_classifiers` are the checks and data every such run
starts from.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from geomlib._src.core.checks import check_bool, check_path
from geomlib._src.core.files import ResultFileError, read_npz, require, write_npz

Arrays = Mapping[str, np.ndarray]


def read_per_model(path: str | os.PathLike, *, what: str, command: str,
                   build: Callable[[dict[str, np.ndarray]], Any] | None = None) -> tuple[dict[str, Any], dict]:
    """A per-model file read back: ``(name -> {array name -> array}, metadata)``, or with ``build``
    ``(name -> build(that model's arrays), metadata)``.

    The metadata holds ``settings`` (the decoded JSON), ``models``, ``command``, ``seconds`` (all
    runs) and ``model_seconds`` (name -> seconds). A ``build`` that fails on a model's arrays
    (a missing array, a KeyError, ValueError or TypeError) makes the file incomplete.

    Raises:
      FileNotFoundError: no file (the message names ``command``, which writes it);
      ResultFileError (a ValueError): a file that is not a complete per-model file.
    """
    path = check_path(path)
    data = read_npz(path, what=what, command=command)
    require(data, ("settings", "models", "command", "seconds"), path, what=what, command=command)
    try:
        settings = json.loads(str(data["settings"]))
        models = [str(m) for m in np.asarray(data["models"]).reshape(-1)]
        arrays = {m: {k[len(m) + 1:]: np.asarray(v) for k, v in data.items()
                      if k.startswith(f"{m}/") and k != f"{m}/seconds"} for m in models}
        model_seconds = {m: float(data[f"{m}/seconds"]) for m in models}
        if build is not None:
            arrays = {m: build(a) for m, a in arrays.items()}
    except (KeyError, ValueError, TypeError) as err:
        raise ResultFileError(f"{path}: not a complete {what} file ({type(err).__name__}: {err}); "
                              f"write it again with `{command}`") from err
    meta = {"settings": settings, "models": models, "command": str(data["command"]),
            "seconds": float(data["seconds"]), "model_seconds": model_seconds}
    return arrays, meta


def check_classifiers(models: Sequence[str], directory: str | os.PathLike | None = None) -> None:
    """FileNotFoundError naming ``models`` unless every name is a classifier file (shipped, or in
    ``directory``): checked before anything is measured."""
    from geomlib._src.params_io import load_metadata

    for m in models:
        try:
            load_metadata(m, directory)
        except FileNotFoundError as err:
            raise FileNotFoundError(f"models: no classifier {m!r} ({err})") from err


def comparison_digits(comparison: str | os.PathLike, n_images: int | None = None
                      ) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The held-out MNIST digits of a chapter-8 comparison file (its ``meta["images"]``), the first
    ``n_images`` of them (all by default): ``(indices, x (B, 784) float32, y (B,))``."""
    from geomlib._src.core.checks import check_int
    from geomlib._src.data import load_mnist_subset
    from geomlib._src.defense.io import load_comparison

    _, meta = load_comparison(comparison)
    images = list(meta["images"])
    if n_images is not None:
        images = images[:check_int(n_images, "n_images", 1, len(images))]
    data = load_mnist_subset(seed=0)
    rows = np.asarray(images)
    return images, np.asarray(data.x_test[rows], np.float32), np.asarray(data.y_test[rows])


def per_model_file(out: str | os.PathLike, models: Sequence[str], settings: dict,
                   measure: Callable[[str], Arrays], *, what: str, command: str, restart: bool = False,
                   progress: bool = True) -> None:
    """Measure each of ``models`` with ``measure(name) -> {array name -> array}`` into the ``.npz``
    ``out``, written atomically after each model, resuming what is there.

    Unless ``restart``, the models already in ``out`` are kept, not measured again, and a file
    written with other ``settings`` is refused (ValueError). The file stores the command of
    each run (joined by ``&&``), the seconds of all runs and each model's seconds. A tqdm bar
    counts the models.

    Args:
      out: the file; models: the names, in order; settings: JSON-serialisable, compared on resume.
      measure: one model's measurement: arrays (no object arrays) keyed by name (no ``/``).
      what, command: for messages and the file: what it holds, the command that writes it.
      restart, progress: start afresh; show a bar.
    """
    from tqdm.auto import tqdm

    out = check_path(out, "out")
    restart, progress = check_bool(restart, "restart"), check_bool(progress, "progress")
    if not isinstance(command, str) or not command:
        raise ValueError(f"command: expected the command line that runs this (a non-empty str), got {command!r}")
    settings = json.loads(json.dumps(settings, sort_keys=True))   # as read back: lists, not tuples
    done: dict[str, Arrays] = {}
    seconds: dict[str, float] = {}
    before, commands = 0.0, [command]
    if out.exists() and not restart:
        done, meta = read_per_model(out, what=what, command=command)
        if meta["settings"] != settings:
            raise ValueError(f"out: {out} was written with other settings {meta['settings']}; pass restart "
                             f"(--restart) or another file to run with {settings}")
        seconds, before = meta["model_seconds"], meta["seconds"]
        commands = list(dict.fromkeys(meta["command"].split(" && ") + [command]))
    start = time.perf_counter()

    def save() -> None:
        names = [m for m in models if m in done] + [m for m in done if m not in models]
        arrays = {"settings": np.asarray(json.dumps(settings, sort_keys=True)), "models": np.asarray(names),
                  "command": np.asarray(" && ".join(commands)),
                  "seconds": np.asarray(before + time.perf_counter() - start)}
        for m in names:
            arrays.update({f"{m}/{k}": np.asarray(v) for k, v in done[m].items()})
            arrays[f"{m}/seconds"] = np.asarray(seconds[m])
        write_npz(out, arrays)

    bar = tqdm(total=len(models), initial=sum(m in done for m in models), desc="models", unit="model",
               disable=not progress)
    for m in models:
        if m in done:
            continue
        bar.set_postfix_str(m)
        t0 = time.perf_counter()
        arrays = dict(measure(m))
        bad = [k for k in arrays if not isinstance(k, str) or not k or "/" in k or k == "seconds"]
        if bad:
            raise ValueError(f"measure: expected array names without '/' (and not 'seconds'), got {bad}")
        done[m] = arrays
        seconds[m] = time.perf_counter() - t0
        save()
        bar.update()
    bar.close()
    if not out.exists():
        save()
