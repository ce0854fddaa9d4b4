import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest

from codesign.data import DATASETS, FASHION_MNIST_DIR, Dataset, load_dataset
from codesign.errors import DatasetError


def _check_arrays(ds: Dataset) -> None:
    assert ds.x_train.dtype == np.uint8 and ds.x_test.dtype == np.uint8
    assert ds.y_train.dtype == np.int64 and ds.y_test.dtype == np.int64
    assert ds.x_train.ndim == 4 and ds.x_train.shape[1:] == ds.x_test.shape[1:]
    assert ds.input_shape == tuple(ds.x_train.shape[1:])
    assert len(ds.x_train) == len(ds.y_train) and len(ds.x_test) == len(ds.y_test)
    assert 0 <= ds.y_train.min() and ds.y_train.max() < ds.num_classes


def test_mnist5k_shapes_and_stratified_split() -> None:
    ds = load_dataset("mnist5k")
    _check_arrays(ds)
    assert ds.x_train.shape == (4000, 1, 28, 28) and ds.x_test.shape == (1000, 1, 28, 28)
    assert ds.num_classes == 10 and ds.input_shape == (1, 28, 28)
    assert np.array_equal(np.bincount(ds.y_test), np.full(10, 100))
    assert np.array_equal(np.bincount(ds.y_train), np.full(10, 400))
    assert ds.x_train.max() == 255 and ds.x_train.min() == 0
    # Real digits, not noise: a "1" has far fewer ink pixels than an "8" on average.
    ink = (ds.x_train > 127).reshape(len(ds.x_train), -1).sum(axis=1)
    assert ink[ds.y_train == 1].mean() < 0.7 * ink[ds.y_train == 8].mean()


def test_mnist5k_split_is_seeded_and_disjoint() -> None:
    a, b = load_dataset("mnist5k", seed=3), load_dataset("mnist5k", seed=3)
    c = load_dataset("mnist5k", seed=4)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.y_train, c.y_train)
    train_rows = {row.tobytes() for row in a.x_train.reshape(len(a.x_train), -1)}
    overlap = sum(row.tobytes() in train_rows for row in a.x_test.reshape(len(a.x_test), -1))
    assert overlap <= 2  # MNIST holds a handful of pixel-identical duplicates, no more


@pytest.mark.parametrize(("fraction", "n_test"), [(0.1, 500), (0.5, 2500)])
def test_mnist5k_test_fraction(fraction: float, n_test: int) -> None:
    ds = load_dataset("mnist5k", test_fraction=fraction)
    assert len(ds.y_test) == n_test and len(ds.y_train) == 5000 - n_test


def test_limits_take_a_prefix_of_the_seeded_shuffle() -> None:
    full = load_dataset("mnist5k", seed=1)
    small = load_dataset("mnist5k", seed=1, limit_train=100, limit_test=30)
    assert small.x_train.shape[0] == 100 and small.x_test.shape[0] == 30
    assert np.array_equal(small.x_train, full.x_train[:100])
    assert np.array_equal(small.y_test, full.y_test[:30])
    assert len(np.unique(small.y_train)) == 10  # shuffled, not sorted by class


def test_digits_scaled_to_pixels() -> None:
    ds = load_dataset("digits")
    _check_arrays(ds)
    assert ds.input_shape == (1, 8, 8) and ds.num_classes == 10
    assert len(ds.y_train) + len(ds.y_test) == 1797
    assert ds.x_train.max() == 255
    assert set(np.unique(ds.x_train)) <= {round(v * 255 / 16) for v in range(17)}


@pytest.mark.skipif(not (FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").is_file(),
                    reason="Debian package dataset-fashion-mnist is not installed")
def test_fashion_mnist_official_split() -> None:
    ds = load_dataset("fashion-mnist", test_fraction=0.5, limit_test=2000)
    _check_arrays(ds)
    assert ds.x_train.shape == (60000, 1, 28, 28) and ds.x_test.shape == (2000, 1, 28, 28)
    assert np.array_equal(np.bincount(ds.y_train), np.full(10, 6000))


def _write_idx(path: Path, arr: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def test_fashion_mnist_from_path(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", 20), ("t10k", 10)):
        _write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    ds = load_dataset("fashion-mnist", path=str(tmp_path))
    assert ds.x_train.shape == (20, 1, 28, 28) and ds.x_test.shape == (10, 1, 28, 28)
    assert sorted(ds.y_test.tolist()) == list(range(10))


def test_fashion_mnist_missing_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion-mnist", path=str(tmp_path))


def test_fashion_mnist_bad_magic(tmp_path: Path) -> None:
    for split in ("train", "t10k"):
        for kind in ("images-idx3", "labels-idx1"):
            with gzip.open(tmp_path / f"{split}-{kind}-ubyte.gz", "wb") as f:
                f.write(b"not an idx file")
    with pytest.raises(DatasetError, match="bad magic"):
        load_dataset("fashion-mnist", path=str(tmp_path))


def _write_cifar(directory: Path, n: int = 6) -> np.ndarray:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (n * 6, 3072), dtype=np.uint8)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for i, name in enumerate(names):
        batch = {b"data": images[i * n:(i + 1) * n], b"labels": [j % 10 for j in range(n)]}
        with open(directory / name, "wb") as f:
            pickle.dump(batch, f)
    return images


def test_cifar10_batches(tmp_path: Path) -> None:
    images = _write_cifar(tmp_path)
    ds = load_dataset("cifar10", path=str(tmp_path))
    _check_arrays(ds)
    assert ds.x_train.shape == (30, 3, 32, 32) and ds.x_test.shape == (6, 3, 32, 32)
    # The row layout is 1024 R, then G, then B values: exactly a (3, 32, 32) reshape.
    train_rows = {img.tobytes() for img in images[:30]}
    assert all(img.reshape(-1).tobytes() in train_rows for img in ds.x_train)


def test_cifar10_missing_batch_named(tmp_path: Path) -> None:
    _write_cifar(tmp_path)
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(DatasetError, match="data_batch_3"):
        load_dataset("cifar10", path=str(tmp_path))


@pytest.mark.parametrize("payload", [{b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]},
                                     {"wrong": 1}, ["not", "a", "dict"]])
def test_cifar10_malformed_batch(tmp_path: Path, payload: object) -> None:
    _write_cifar(tmp_path)
    with open(tmp_path / "test_batch", "wb") as f:
        pickle.dump(payload, f)
    with pytest.raises(DatasetError, match="test_batch"):
        load_dataset("cifar10", path=str(tmp_path))


def test_cifar10_refuses_code_in_pickles(tmp_path: Path) -> None:
    _write_cifar(tmp_path)

    class Evil:
        def __reduce__(self):  # would run os.system on a plain pickle.load
            import os
            return (os.system, ("echo pwned",))

    with open(tmp_path / "test_batch", "wb") as f:
        pickle.dump({b"data": Evil(), b"labels": [0]}, f)
    with pytest.raises(DatasetError, match="refusing to load"):
        load_dataset("cifar10", path=str(tmp_path))


@pytest.mark.parametrize(
    ("x_train", "expected_shape"),
    [
        (np.full((12, 5, 6), 7, np.uint8), (1, 5, 6)),  # (N, H, W)
        (np.full((12, 3, 5, 6), 7, np.uint8), (3, 5, 6)),  # NCHW
        (np.full((12, 5, 6, 3), 7, np.uint8), (3, 5, 6)),  # NHWC
        (np.full((12, 5, 6), 7 / 255, np.float32), (1, 5, 6)),  # floats in [0, 1]
        (np.full((12, 5, 6), 7, np.int64), (1, 5, 6)),  # wide ints holding pixels
    ],
)
def test_npz_layouts_and_dtypes(tmp_path: Path, x_train: np.ndarray, expected_shape: tuple) -> None:
    path = tmp_path / "d.npz"
    x_test = x_train[:4]
    np.savez(path, x_train=x_train, y_train=np.arange(12) % 3, x_test=x_test,
             y_test=np.arange(4) % 3)
    ds = load_dataset("npz", path=str(path))
    _check_arrays(ds)
    assert ds.input_shape == expected_shape and ds.num_classes == 3
    assert np.all(ds.x_train == 7)


@pytest.mark.parametrize(
    ("arrays", "fragment"),
    [
        ({"x_train": np.zeros((4, 5, 5), np.uint8), "y_train": np.zeros(4, int)}, "lacks arrays"),
        ({"x_train": np.full((4, 5, 5), 1.5), "y_train": np.zeros(4, int)}, r"\[0, 1\]"),
        ({"x_train": np.full((4, 5, 5), 300), "y_train": np.zeros(4, int)}, "0..255"),
        ({"x_train": np.zeros((4, 25), np.uint8), "y_train": np.zeros(4, int)}, "shape"),
        ({"x_train": np.zeros((4, 5, 5), np.uint8), "y_train": np.zeros(3, int)}, "3 labels"),
        ({"x_train": np.zeros((4, 5, 5), np.uint8), "y_train": np.zeros(4)}, "integer"),
        ({"x_train": np.zeros((4, 5, 5), np.uint8), "y_train": -np.ones(4, int)}, "negative"),
        ({"x_train": np.zeros((4, 6, 6), np.uint8), "y_train": np.zeros(4, int)}, "share one"),
    ],
)
def test_npz_problems_explained(tmp_path: Path, arrays: dict, fragment: str) -> None:
    path = tmp_path / "bad.npz"
    full = {"x_test": np.zeros((2, 5, 5), np.uint8), "y_test": np.zeros(2, int), **arrays}
    if fragment == "lacks arrays":
        del full["x_test"]
    np.savez(path, **full)
    with pytest.raises(DatasetError, match=fragment):
        load_dataset("npz", path=str(path))


def test_npz_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "junk.npz"
    path.write_text("hello")
    with pytest.raises(DatasetError, match="cannot read npz"):
        load_dataset("npz", path=str(path))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"name": "imagenet"}, "mnist5k, fashion-mnist, digits, cifar10, npz"),
        ({"name": "cifar10"}, "needs a path"),
        ({"name": "npz", "path": "/nonexistent/x.npz"}, "not found"),
        ({"name": "cifar10", "path": "/nonexistent"}, "does not exist"),
        ({"name": "mnist5k", "test_fraction": 0.0}, "test_fraction"),
        ({"name": "mnist5k", "limit_train": 0}, "limit_train"),
    ],
)
def test_bad_requests(kwargs: dict, fragment: str) -> None:
    name = kwargs.pop("name")
    with pytest.raises(DatasetError, match=fragment):
        load_dataset(name, **kwargs)


def test_dataset_names_listed() -> None:
    assert DATASETS == ("mnist5k", "fashion-mnist", "digits", "cifar10", "npz")
