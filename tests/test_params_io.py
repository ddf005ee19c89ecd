"""Parameter files (geomlib._src.params_io), issue 15: every kind of damage is read back as
FileNotFoundError or a ValueError naming the file and the command that rebuilds it;
save_params checks its arguments and writes atomically and reproducibly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from geomlib._src.core.files import ResultFileError
from geomlib._src.params_io import PARAMS_DIR, load_metadata, load_params, save_params

SHIPPED = "patches-test"          # a shipped dictionary: its rebuild command is known
COMMAND = f"python -m geomlib.cli.train shipped {SHIPPED}"
META = json.dumps({"name": SHIPPED, "config": {"data": "patches", "patch_size": 8, "neurons": 128}})


def _npz(path, **arrays):
    np.savez_compressed(path, **arrays)


def _damage(kind: str, path):
    good = (PARAMS_DIR / f"{SHIPPED}.npz").read_bytes()
    phi = np.ones((64, 128), np.float32)
    if kind == "folder":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif kind == "garbage":
        path.write_bytes(b"not an npz file at all")
    elif kind == "one .npy array":
        np.save(open(path, "wb"), phi)
    elif kind == "pickled object":
        np.save(open(path, "wb"), np.array([{"phi": 1}], dtype=object), allow_pickle=True)
    elif kind == "a survey file":
        _npz(path, **{"a/lca:c2": np.ones((2, 2)), "a/lca:model": np.array("lca")})
    elif kind == "another model's file":
        path.write_bytes((PARAMS_DIR / "mnist-768.npz").read_bytes())
    elif kind == "no metadata":
        _npz(path, **{"params/phi": phi})
    elif kind == "metadata not JSON":
        _npz(path, **{"params/phi": phi, "metadata": np.array("{oops")})
    elif kind == "metadata a list":
        _npz(path, **{"params/phi": phi, "metadata": np.array("[1]")})
    elif kind == "metadata an array":
        _npz(path, **{"params/phi": phi, "metadata": np.ones(3)})
    elif kind == "no parameters":
        _npz(path, **{"history/loss": np.ones(3), "metadata": np.array(META)})
    elif kind == "NaN parameters":
        _npz(path, **{"params/phi": np.full((64, 128), np.nan, np.float32), "metadata": np.array(META)})
    elif kind == "integer parameters":
        _npz(path, **{"params/phi": np.ones((64, 128), np.int32), "metadata": np.array(META)})
    elif kind == "empty parameters":
        _npz(path, **{"params/phi": np.ones((0, 128), np.float32), "metadata": np.array(META)})
    elif kind == "phi 1-D":
        _npz(path, **{"params/phi": np.ones(64, np.float32), "metadata": np.array(META)})
    elif kind == "phi transposed":
        _npz(path, **{"params/phi": phi.T, "metadata": np.array(META)})
    elif kind == "phi with fewer neurons":
        _npz(path, **{"params/phi": phi[:, :100], "metadata": np.array(META)})
    else:  # pragma: no cover
        raise AssertionError(kind)


DAMAGE = ["folder", "empty", "truncated", "garbage", "one .npy array", "pickled object", "a survey file",
          "another model's file", "no metadata", "metadata not JSON", "metadata a list", "metadata an array",
          "no parameters", "NaN parameters", "integer parameters", "empty parameters", "phi 1-D", "phi transposed",
          "phi with fewer neurons"]


@pytest.mark.parametrize("reader", [load_params, load_metadata])
@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_parameter_file_names_itself_and_the_rebuild_command(tmp_path, kind, reader):
    path = tmp_path / f"{SHIPPED}.npz"
    _damage(kind, path)
    with pytest.raises(ValueError) as err:
        reader(SHIPPED, directory=tmp_path)
    assert isinstance(err.value, ResultFileError)
    assert str(path) in str(err.value) and COMMAND in str(err.value), str(err.value)


@pytest.mark.parametrize("kind", ["transposed first weight", "bias of another length", "a layer missing",
                                  "784 inputs expected"])
def test_a_classifier_file_with_misfit_shapes_is_named(tmp_path, kind):
    name = "mlp-2"
    flat = dict(load_params(name))
    meta = {k: v for k, v in load_metadata(name).items() if k not in ("history", "name", "format")}
    flat = {k: np.asarray(v) for k, v in flat.items()}
    if kind == "transposed first weight":
        flat["w0"] = flat["w0"].T
    elif kind == "bias of another length":
        flat["b1"] = flat["b1"][:5]
    elif kind == "a layer missing":
        del flat["b1"], flat["w1"]
    else:
        flat["w0"] = flat["w0"][:, :700]
    save_params(name, flat, meta, directory=tmp_path)
    with pytest.raises(ValueError) as err:
        load_params(name, directory=tmp_path)
    assert str(tmp_path / f"{name}.npz") in str(err.value) and "python -m geomlib.cli.train shipped mlp-2" in str(err.value)


def test_missing_file_or_folder(tmp_path):
    for directory in (tmp_path, tmp_path / "nowhere"):
        for reader in (load_params, load_metadata):
            with pytest.raises(FileNotFoundError) as err:
                reader(SHIPPED, directory=directory)
            assert str(directory / f"{SHIPPED}.npz") in str(err.value) and COMMAND in str(err.value)
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(ValueError, match=r"^directory: expected a folder, got the file .*a-file"):
        load_metadata(SHIPPED, directory=a_file)
    with pytest.raises(TypeError, match="^directory"):
        load_params(SHIPPED, directory=3)
    with pytest.raises(FileNotFoundError, match=r"not a shipped model.*--name mine"):
        load_params("mine", directory=tmp_path)


def test_save_params_checks_its_arguments(tmp_path):
    ok = dict(name="saved", params={"w": np.ones(3)}, metadata={"config": {}}, directory=tmp_path)
    cases = [
        (dict(params=None), TypeError, "^params"),
        (dict(params={}), TypeError, "^params"),
        (dict(params={"w": "abc"}), TypeError, r"^params\['w'\]"),
        (dict(params={"w": np.array([1.0, np.nan])}), ValueError, r"^params\['w'\]: expected finite"),
        (dict(params={"w": np.arange(3)}), TypeError, r"^params\['w'\]: expected a non-empty float array"),
        (dict(params={"a/b": np.ones(2)}), ValueError, "^params: expected names without '/'"),
        (dict(history={"loss": "x"}), TypeError, r"^history\['loss'\]"),
        (dict(history=[1]), TypeError, "^history"),
        (dict(metadata=None), TypeError, "^metadata"),
        (dict(metadata={"x": object()}), ValueError, r"^metadata: .*\['x'\]"),
        (dict(metadata={"x": float("nan")}), ValueError, r"^metadata: .*\['x'\]"),
        (dict(storage="int8"), ValueError, "^storage"),
        (dict(name="../escape"), ValueError, "^name"),
        (dict(directory=PARAMS_DIR / f"{SHIPPED}.npz"), ValueError, "^directory: expected a folder"),
    ]
    for change, error, match in cases:
        with pytest.raises(error, match=match):
            save_params(**{**ok, **change})
    assert not list(tmp_path.iterdir())  # nothing written by a refused call


def test_save_params_is_atomic_and_reproducible(tmp_path):
    args = ("toy", {"phi": np.arange(12.0).reshape(3, 4)}, {"config": {"lam": 0.1}}, {"loss": np.arange(3)})
    path = save_params(*args, directory=tmp_path)
    first = path.read_bytes()
    assert save_params(*args, directory=tmp_path).read_bytes() == first
    assert [p.name for p in tmp_path.iterdir()] == ["toy.npz"]  # no temporary file left
    assert load_metadata("toy", tmp_path)["history"]["loss"].dtype.kind == "i"
    np.testing.assert_array_equal(load_params("toy", tmp_path)["phi"], np.arange(12.0).reshape(3, 4))
