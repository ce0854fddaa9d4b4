from pathlib import Path

import numpy as np
import pytest

from codesign.config import DatasetConfig, parse_flow
from codesign.data import FASHION_MNIST_DIR, SEQUENCES, load_dataset
from codesign.errors import ConfigError, DatasetError


@pytest.mark.parametrize(("name", "hw"), [("mnist5k", (28, 28)), ("digits", (8, 8))])
def test_rows_are_time_steps(name: str, hw: tuple[int, int]) -> None:
    images = load_dataset(name, seed=2, limit_test=50)
    rows = load_dataset(name, seed=2, limit_test=50, sequence="rows")
    h, w = hw
    assert rows.sequence == "rows" and images.sequence is None
    assert rows.x_train.shape == (len(images.x_train), w, h)
    assert rows.x_test.shape == (50, w, h)
    assert rows.input_shape == (w, h)  # (C = W pixel features, L = H time steps)
    assert rows.x_train.dtype == np.uint8 and rows.x_train.flags.c_contiguous
    # Same split, same order, same labels: only the layout of each sample changes.
    assert np.array_equal(rows.y_train, images.y_train) and np.array_equal(rows.y_test, images.y_test)
    assert rows.num_classes == images.num_classes
    for i in (0, 7, len(images.x_train) - 1):
        for r in (0, h // 2, h - 1):
            assert np.array_equal(rows.x_train[i, :, r], images.x_train[i, 0, r, :])
    assert np.array_equal(rows.x_test, images.x_test[:, 0].transpose(0, 2, 1))


def test_rows_of_multichannel_images_are_channel_major(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (12, 3, 5, 4), dtype=np.uint8)
    x_test = rng.integers(0, 256, (6, 3, 5, 4), dtype=np.uint8)
    path = tmp_path / "rgb.npz"
    np.savez(path, x_train=x_train, y_train=np.arange(12) % 3, x_test=x_test,
             y_test=np.arange(6) % 3)
    images = load_dataset("npz", path=str(path))
    rows = load_dataset("npz", path=str(path), sequence="rows")
    assert rows.input_shape == (3 * 4, 5)
    c, h, w = 2, 3, 1
    assert rows.x_train[4, c * 4 + w, h] == images.x_train[4, c, h, w]
    assert np.array_equal(rows.x_train[:, :, h].reshape(12, 3, 4), images.x_train[:, :, h, :])


@pytest.mark.skipif(not (FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").is_file(),
                    reason="Debian package dataset-fashion-mnist is not installed")
def test_fashion_mnist_rows() -> None:
    rows = load_dataset("fashion-mnist", sequence="rows", limit_train=100, limit_test=10)
    assert rows.x_train.shape == (100, 28, 28) and rows.input_shape == (28, 28)


def test_default_is_unchanged_images() -> None:
    ds = load_dataset("digits")
    assert ds.sequence is None and ds.x_train.ndim == 4 and ds.input_shape == (1, 8, 8)


@pytest.mark.parametrize("sequence", ["cols", "ROWS", ""])
def test_unknown_sequence_lists_the_allowed_ones(sequence: str) -> None:
    with pytest.raises(DatasetError, match=f"unknown sequence {sequence!r}; choose one of rows"):
        load_dataset("digits", sequence=sequence)


def test_flow_dataset_sequence() -> None:
    assert DatasetConfig().sequence is None and SEQUENCES == ("rows",)
    flow = parse_flow({"name": "f", "dataset": {"name": "mnist5k", "sequence": "rows"}})
    assert flow.dataset.sequence == "rows"
    with pytest.raises(ConfigError, match="dataset.sequence: 'columns' is not one of rows"):
        parse_flow({"name": "f", "dataset": {"sequence": "columns"}})
    with pytest.raises(ConfigError, match="dataset.sequence: expected a string"):
        parse_flow({"name": "f", "dataset": {"sequence": 1}})


def test_shipped_cnn1d_flow_loads() -> None:
    from codesign.config import load_flow

    flow = load_flow(Path(__file__).parent.parent / "flows" / "cnn1d_w2a2_mnist5k_rows.yaml")
    assert flow.dataset.sequence == "rows" and flow.model.arch == "cnn1d"
    assert (flow.model.weight_bits, flow.model.act_bits) == (2, 2)
    assert (flow.folding.mode, flow.folding.objective, flow.verify.samples) == (
        "optimize", "maximize", 20)
