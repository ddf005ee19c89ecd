"""geomlib._src.core.files: atomic, reproducible .npz writes and reads that name the file."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest

from geomlib._src.core.files import ResultFileError, read_npz, require, write_npz

ARRAYS = {"a": np.arange(6.0).reshape(2, 3), "b/c": np.array("text"), "n": np.int64(3)}


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_round_trip_and_np_load(tmp_path):
    path = write_npz(tmp_path / "sub" / "r.npz", ARRAYS)
    back = read_npz(path, what="test", command="make it")
    assert set(back) == set(ARRAYS)
    for k, v in ARRAYS.items():
        np.testing.assert_array_equal(back[k], v)
        assert back[k].dtype == np.asarray(v).dtype
    with np.load(path) as npz:  # NumPy's own reader takes it
        np.testing.assert_array_equal(npz["a"], ARRAYS["a"])
    assert oct(path.stat().st_mode & 0o777) == "0o644"


@pytest.mark.parametrize("compress", [True, False])
def test_same_arrays_same_bytes(tmp_path, compress):
    p1 = write_npz(tmp_path / "1.npz", ARRAYS, compress=compress)
    os.utime(tmp_path, (0, 0))
    p2 = write_npz(tmp_path / "2.npz", {k: np.array(v, copy=True) for k, v in ARRAYS.items()}, compress=compress)
    assert _digest(p1) == _digest(p2)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = write_npz(tmp_path / "r.npz", ARRAYS)
    before = _digest(path)
    with pytest.raises(ValueError):
        write_npz(path, {"bad": np.array([object()], dtype=object)})
    assert _digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.npz"]


@pytest.mark.parametrize("damage", ["missing", "empty", "truncated", "folder", "npy", "garbage"])
def test_read_errors_name_the_file_and_the_command(tmp_path, damage):
    path = tmp_path / "r.npz"
    if damage != "missing":
        write_npz(path, ARRAYS)
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:40])
    elif damage == "folder":
        path.unlink()
        path.mkdir()
    elif damage == "npy":
        path.unlink()
        with open(path, "wb") as fh:
            np.save(fh, np.arange(3))
    elif damage == "garbage":
        path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    error = FileNotFoundError if damage == "missing" else ResultFileError
    with pytest.raises(error, match=rf"^{path}: .*test file.*"):
        read_npz(path, what="test", command="python -m make.it")
    with pytest.raises(error, match=r"python -m make\.it"):
        read_npz(path, what="test", command="python -m make.it")


def test_require_names_what_is_missing(tmp_path):
    require({"a": 1}, ["a"], "f.npz", what="test", command="c")
    with pytest.raises(ResultFileError, match=r"^f\.npz: not a complete test file \(missing b, c\); write it again with `c`$"):
        require({"a": 1}, ["a", "b", "c"], "f.npz", what="test", command="c")


def test_result_file_error_is_a_value_error():
    assert issubclass(ResultFileError, ValueError)


def test_times_path_is_beside_the_file():
    from pathlib import Path

    from geomlib._src.core.files import times_path

    assert times_path("d/r.npz") == Path("d/r.times.json")
    assert times_path("d/r") == Path("d/r.times.json")
