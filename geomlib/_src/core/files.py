"""Result and parameter files: written atomically and byte-for-byte reproducibly, read back
with errors that name the file and the command that writes it.

:func:`write_npz` writes a ``.npz`` (NumPy's zip of ``.npy`` arrays, readable by
``np.load``) to a temporary file in the target folder, flushes it to disk and renames it
over the target, so a kill at any moment leaves either the old file or the new one, never
a truncated one. Unlike ``np.savez``, it stamps every member with a fixed date, so the
same arrays always give the same bytes: a run resumed after an interruption can be
compared with an uninterrupted one by the files' hashes.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np

# The earliest date a zip member can carry: a constant, so the bytes depend on the arrays only.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class ResultFileError(ValueError):
    """A result or parameter file that exists but cannot be read as what it should be."""


class ResumeError(ValueError):
    """A long run that cannot resume from what is on disk: ``kind`` says why.

    ``"damaged"``: the output file cannot be read; ``"foreign"``: it (or ``done``) holds
    another kind of file, another run's settings or results the run would drop;
    ``"checkpoint"``: a folder of finished chunks belongs to another run or is damaged.
    Nothing on disk has been changed when it is raised.
    """

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def write_npz(path: str | os.PathLike, arrays: Mapping[str, np.ndarray], *, compress: bool = True) -> Path:
    """Write ``arrays`` (name -> array; no object arrays) to the ``.npz`` at ``path``,
    atomically and reproducibly. Makes the parent folder if needed; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", compression=method, allowZip64=True) as zf:
                for name, value in arrays.items():
                    buffer = io.BytesIO()
                    np.lib.format.write_array(buffer, np.asanyarray(value), allow_pickle=False)
                    info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
                    info.compress_type = method
                    info.external_attr = 0o644 << 16
                    zf.writestr(info, buffer.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; result files are world-readable
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, as :func:`write_npz` writes arrays; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def times_path(path: str | os.PathLike) -> Path:
    """The sidecar beside a result file that holds its measured times, kept out of the file so
    that the file's bytes depend on the results only (``x.npz`` -> ``x.times.json``)."""
    path = Path(path)
    return path.with_name(path.stem + ".times.json") if path.suffix else path.with_name(path.name + ".times.json")


def read_npz(path: str | os.PathLike, *, what: str, command: str) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` at ``path``, loaded (no pickles).

    Args:
      path: the file.
      what: what the file holds, for messages (e.g. ``"survey"``).
      command: the command that writes it, for messages (e.g. ``"python -m geomlib.cli.survey"``).

    Raises:
      FileNotFoundError: no file at ``path``; the message names it and ``command``.
      ResultFileError (a ValueError): anything else wrong (a folder, empty, truncated, not
        a zip of arrays); the message names the file, the reason and ``command``.
    """
    path = Path(path)
    hint = f"write it again with `{command}`"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such {what} file; {hint}")
    if not path.is_file():
        kind = "folder" if path.is_dir() else "special file"
        raise ResultFileError(f"{path}: expected a {what} file, found a {kind}; {hint}")
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an .npz archive")
        with npz:
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as err:
        raise ResultFileError(f"{path}: not a readable {what} file ({type(err).__name__}: {err}); {hint}") from err


def require(data: Mapping, keys, path: str | os.PathLike, *, what: str, command: str) -> None:
    """Raise :class:`ResultFileError` naming ``path`` and ``command`` if ``data`` lacks any of ``keys``."""
    missing = [k for k in keys if k not in data]
    if missing:
        raise ResultFileError(f"{path}: not a complete {what} file (missing {', '.join(map(str, missing))}); "
                              f"write it again with `{command}`")
