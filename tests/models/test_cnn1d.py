from pathlib import Path

import numpy as np
import pytest
import torch
from brevitas.nn import QuantConv1d, QuantIdentity, QuantLinear, QuantReLU
from calibration import settled
from torch import nn

from codesign.data import load_dataset
from codesign.errors import ModelError
from codesign.export import check_export, export_qonnx
from codesign.models import ARCHS, build_model
from codesign.models.cnn1d import sequence_lengths, smallest_length
from codesign.models.mlp import PixelScale
from codesign.train import set_seed, train_model

SMALL = {"channels": [4, 8], "fc": [16]}


def _cnn1d(shape: tuple[int, int] = (28, 28), classes: int = 10, wbits: int = 2, abits: int = 2,
           **options: object) -> nn.Module:
    return build_model("cnn1d", input_shape=shape, num_classes=classes, weight_bits=wbits,
                       act_bits=abits, **options)


def test_cnn1d_is_a_zoo_arch() -> None:
    assert "cnn1d" in ARCHS


@pytest.mark.parametrize(("wbits", "abits"), [(1, 1), (2, 2), (4, 4), (1, 2)])
def test_forward_shape(wbits: int, abits: int) -> None:
    model = settled(_cnn1d((6, 20), 5, wbits, abits, **SMALL), (6, 20))
    out = model(torch.randint(0, 256, (3, 6, 20)).float())
    assert out.shape == (3, 5)
    assert torch.isfinite(out).all()
    assert model.input_shape == (6, 20)  # checkpoints and pruning read it


@pytest.mark.parametrize(("abits", "activation"), [(1, QuantIdentity), (2, QuantReLU)])
def test_layers_follow_the_zoo_conventions(abits: int, activation: type) -> None:
    model = _cnn1d(wbits=1 if abits == 1 else 2, abits=abits)  # default preset kws-small
    first = list(model.children())[:2]
    # Raw uint8 values scaled by 1/255, then straight into the conv: no input quantizer.
    assert isinstance(first[0], PixelScale) and first[1] is model.conv_features
    assert isinstance(model.conv_features[0], QuantConv1d)
    kinds = [type(m) for m in model.conv_features]
    assert kinds == [QuantConv1d, nn.BatchNorm1d, activation, nn.MaxPool1d] * 3
    convs = [m for m in model.modules() if isinstance(m, QuantConv1d)]
    assert [c.out_channels for c in convs] == [32, 32, 64]
    assert all(c.kernel_size == (3,) and c.padding == (0,) and c.bias is None for c in convs)
    linears = [m for m in model.modules() if isinstance(m, QuantLinear)]
    # 28 -> 26 -> 13 -> 11 -> 5 -> 3 -> 1 time steps, 64 channels
    assert [(m.in_features, m.out_features) for m in linears] == [(64, 64), (64, 10)]
    assert all(m.bias is None for m in linears)
    assert [type(m) for m in model.fc_features] == [QuantLinear, nn.BatchNorm1d, activation]


@pytest.mark.parametrize(
    ("options", "pools", "fc_in"),
    [
        ({"channels": [8, 8], "pool_every": 0}, 0, 8 * 24),  # 28 -> 26 -> 24
        ({"channels": [8, 8], "pool_every": 2}, 1, 8 * 12),  # 28 -> 26 -> 24 -> 12
        ({"channels": [8, 8], "kernel": 5}, 2, 8 * 4),  # 28 -> 24 -> 12 -> 8 -> 4
        ({"channels": [8], "kernel": 1, "fc": []}, 1, 8 * 14),  # no hidden FC
    ],
)
def test_geometry_options(options: dict, pools: int, fc_in: int) -> None:
    model = _cnn1d(**options)
    assert sum(isinstance(m, nn.MaxPool1d) for m in model.modules()) == pools
    first_linear = next(m for m in model.modules() if isinstance(m, QuantLinear))
    assert first_linear.in_features == fc_in
    assert settled(model, (28, 28))(torch.zeros(2, 28, 28)).shape == (2, 10)


def test_vgg10_preset_on_radioml_geometry() -> None:
    model = _cnn1d((2, 1024), 24, preset="vgg10")
    convs = [m for m in model.modules() if isinstance(m, QuantConv1d)]
    assert [c.out_channels for c in convs] == [64] * 7 and convs[0].in_channels == 2
    linears = [(m.in_features, m.out_features) for m in model.modules()
               if isinstance(m, QuantLinear)]
    assert linears == [(64 * 6, 128), (128, 128), (128, 24)]


@pytest.mark.parametrize("wbits", [1, 2, 4])
def test_weights_use_at_most_2_pow_bits_levels(wbits: int) -> None:
    model = _cnn1d(wbits=wbits, **SMALL)
    for layer in (m for m in model.modules() if isinstance(m, QuantConv1d | QuantLinear)):
        levels = torch.unique(layer.quant_weight().value.detach()).numel()
        assert levels <= (2 if wbits == 1 else 2 ** wbits - 1)


@pytest.mark.parametrize(("n_convs", "kernel", "pool_every"),
                         [(1, 3, 1), (3, 3, 1), (7, 3, 1), (4, 5, 2), (2, 1, 0), (3, 3, 0)])
def test_smallest_length_is_the_legal_boundary(n_convs: int, kernel: int, pool_every: int) -> None:
    least = smallest_length(n_convs, kernel, pool_every)
    assert sequence_lengths(least, n_convs, kernel, pool_every) is not None
    assert sequence_lengths(least - 1, n_convs, kernel, pool_every) is None


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"widths": [8]}, "unknown cnn1d option.*widths; valid options are channels, kernel"),
        ({"preset": "resnet"}, "unknown cnn1d preset 'resnet'; choose one of kws-small, vgg10"),
        ({"channels": []}, "at least one conv"),
        ({"channels": [8, 0]}, "cnn1d channels must be a list of positive integers"),
        ({"channels": 8}, "cnn1d channels must be a list"),
        ({"fc": [1.5]}, "cnn1d fc must be a list of positive integers"),
        ({"kernel": 0}, r"cnn1d kernel must be an integer >= 1"),
        ({"kernel": 3.0}, r"cnn1d kernel must be an integer >= 1"),
        ({"pool_every": -1}, r"cnn1d pool_every must be an integer >= 0 \(.*0 = no pools\)"),
        ({"pool_every": True}, "cnn1d pool_every"),
        ({"weight_bits": 0}, "weight_bits=0 is not supported.*1..8"),
        ({"act_bits": 9}, "act_bits=9"),
        ({"weight_bits": 4, "act_bits": 1}, "act_bits=1 with weight_bits=4"),
        ({"num_classes": 1}, "num_classes"),
        ({"channels": [8, 8, 8, 8], "input_shape": (28, 20)},
         r"cannot process a sequence of length 20: the smallest legal length is 46\. Use fewer"),
    ],
)
def test_build_errors(kwargs: dict, fragment: str) -> None:
    args = {"input_shape": (28, 28), "num_classes": 10, "weight_bits": 2, "act_bits": 2, **kwargs}
    with pytest.raises(ModelError, match=fragment):
        build_model("cnn1d", **args)


@pytest.mark.parametrize(
    ("arch", "shape", "fragment"),
    [
        ("cnn1d", (1, 28, 28), r"^cnn1d takes input_shape \(C, L\), got \(1, 28, 28\): a 1-D model "
         "needs channels and length; for MNIST rows as a sequence use dataset sequence: rows$"),
        ("cnn1d", (28,), r"cnn1d takes input_shape \(C, L\), got \(28,\)"),
        ("cnn1d", (28, 0), "every dimension must be a positive integer"),
        ("mlp", (28, 28), r"^mlp takes input_shape \(C, H, W\), got \(28, 28\): .*use arch cnn1d$"),
        ("cnv", (28, 28), r"cnv takes input_shape \(C, H, W\)"),
    ],
)
def test_input_rank_depends_on_the_arch(arch: str, shape: tuple, fragment: str) -> None:
    with pytest.raises(ModelError, match=fragment):
        build_model(arch, input_shape=shape, num_classes=10, weight_bits=2, act_bits=2)


def test_image_archs_still_take_numpy_dims() -> None:
    model = build_model("mlp", input_shape=tuple(np.array([1, 8, 8])), num_classes=10,
                        weight_bits=2, act_bits=2, hidden=[8])
    assert model.input_shape == (1, 8, 8) and all(type(d) is int for d in model.input_shape)


@pytest.mark.parametrize("wbits", [1, 2])
def test_qonnx_export_of_a_sequence_model(tmp_path: Path, wbits: int) -> None:
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper

    shape = (8, 12)
    model = settled(_cnn1d(shape, 4, wbits, wbits, channels=[4, 4], pool_every=2, fc=[8]), shape)
    path = export_qonnx(model, shape, tmp_path / "cnn1d.onnx")
    wrapped = ModelWrapper(str(path))
    iname = wrapped.graph.input[0].name
    assert wrapped.get_tensor_shape(iname) == [1, 8, 12]
    assert wrapped.get_tensor_datatype(iname) == DataType["UINT8"]
    ops = [n.op_type for n in wrapped.graph.node]
    assert ops[0] == "Mul" and ops.count("Conv") == 2 and ops.count("MaxPool") == 1
    # The uint8 stream meets the first Conv through the 1/255 Mul only, with no input quantizer.
    conv = next(n for n in wrapped.graph.node if n.op_type == "Conv")
    assert wrapped.find_producer(conv.input[0]).op_type == "Mul"
    assert len(wrapped.get_tensor_shape(conv.input[1])) == 3  # (out, in, k): a 1-D conv
    x = np.random.default_rng(0).integers(0, 256, (6, *shape), dtype=np.uint8)
    assert check_export(model, path, x).passed


def test_train_rejects_images_for_a_sequence_model() -> None:
    data = load_dataset("digits", limit_train=32, limit_test=8)
    model = _cnn1d((8, 8), 10, channels=[4], pool_every=0, fc=[])
    with pytest.raises(ModelError, match=r"built for inputs \(8, 8\).*\(1, 8, 8\) \(\(C, H, W\) images\)"):
        train_model(model, data, epochs=1, progress=False)


@pytest.mark.slow
def test_short_training_on_digits_rows(single_thread: None) -> None:
    data = load_dataset("digits", sequence="rows")
    set_seed(0)
    model = _cnn1d(data.input_shape, data.num_classes, channels=[16, 32], pool_every=2, fc=[32])
    result = train_model(model, data, epochs=3, progress=False)
    assert data.input_shape == (8, 8)
    assert result.test_accuracy > 0.5  # 10 classes: chance is 10 %; measured 91.6 %
