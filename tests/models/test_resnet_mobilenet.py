"""The resnet and mobilenet zoo archs: shapes at every bit width, presets, the shared quantizer of
every residual add, option errors, QONNX export, and (slow) FINN compile of the small presets to
DuplicateStreams/ElementwiseAdd and VVAU layers, bit-exact against the Brevitas model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
from calibration import trained_looking
from torch import nn

from codesign.errors import ModelError
from codesign.models import ARCHS, build_model
from codesign.models.mobilenet import scaled_channels
from codesign.models.resnet import BasicBlock

pytestmark = pytest.mark.usefixtures("single_thread")

MNIST = (1, 28, 28)
PRESETS = [("resnet", "resnet8"), ("resnet", "resnet-small"), ("mobilenet", "ds-cnn"),
           ("mobilenet", "mobilenet-small")]
SMALL = {"resnet": "resnet-small", "mobilenet": "mobilenet-small"}
COMPILE_SHAPE = (1, 12, 12)


def _build(arch: str, shape: tuple[int, ...] = MNIST, wbits: int = 2, abits: int = 2,
           **options: object) -> nn.Module:
    torch.manual_seed(0)
    return build_model(arch, input_shape=shape, num_classes=10, weight_bits=wbits,
                       act_bits=abits, **options)


def test_archs_are_registered() -> None:
    assert {"resnet", "mobilenet"} <= set(ARCHS)


@pytest.mark.parametrize(("arch", "preset"), PRESETS)
@pytest.mark.parametrize("bits", [1, 2, 4])
def test_forward_shape(arch: str, preset: str, bits: int) -> None:
    # 1 = bipolar weights; activations need >= 2 bits in these archs (see test_bipolar_acts_...)
    model = _build(arch, wbits=bits, abits=max(bits, 2), preset=preset)
    assert model.input_shape == MNIST
    out = trained_looking(model, MNIST)(torch.randint(0, 256, (5, *MNIST)).float())
    assert out.shape == (5, 10)
    assert torch.isfinite(out).all() and out.abs().sum() > 0


@pytest.mark.parametrize("arch", ["resnet", "mobilenet"])
def test_bipolar_acts_are_rejected_with_the_fix(arch: str) -> None:
    with pytest.raises(ModelError, match=rf"{arch} does not support act_bits=1.*Use act_bits >= 2"):
        _build(arch, wbits=1, abits=1)


@pytest.mark.parametrize(("arch", "preset"), PRESETS)
@pytest.mark.parametrize("wbits", [1, 2, 4])
def test_weights_use_at_most_2_pow_bits_levels(arch: str, preset: str, wbits: int) -> None:
    model = _build(arch, wbits=wbits, preset=preset)
    layers = [m for m in model.modules() if isinstance(m, QuantLinear | QuantConv2d)]
    assert layers and all(m.bias is None for m in layers)
    for layer in layers:
        assert torch.unique(layer.quant_weight().value.detach()).numel() <= (
            2 if wbits == 1 else 2 ** wbits - 1)


def _blocks(model: nn.Module) -> list[BasicBlock]:
    return [m for m in model.modules() if isinstance(m, BasicBlock)]


def test_resnet8_is_mlperf_tiny_resnet8_with_a_max_pool_ending() -> None:
    model = _build("resnet", (3, 32, 32))
    blocks = _blocks(model)
    assert model.stem[0].out_channels == 16 and model.stem[0].stride == (1, 1)
    assert [(b.conv1.in_channels, b.conv1.out_channels, b.conv1.stride[0], b.projection)
            for b in blocks] == [(16, 16, 1, False), (16, 32, 2, True), (32, 64, 2, True)]
    convs = [m for m in model.modules() if isinstance(m, QuantConv2d)]
    assert all(c.padding == (c.kernel_size[0] // 2,) * 2 for c in convs)
    shortcuts = [b.shortcut[0] for b in blocks if b.projection]
    assert all(c.kernel_size == (1, 1) and c.stride == (2, 2) for c in shortcuts)
    # 8x8x64 after the last stage, 2x2 max-pool, flatten: 4x4x64
    assert isinstance(model.pool, nn.MaxPool2d) and model.classifier.in_features == 1024
    assert _build("resnet").classifier.in_features == 64 * 3 * 3  # 28 -> 28, 14, 7 -> 3


def test_every_residual_add_has_one_shared_quantizer() -> None:
    model = _build("resnet", preset="resnet-small")  # identity, projection, identity
    blocks = _blocks(model)
    assert [b.projection for b in blocks] == [False, True, False]
    producers = [model.stem[-1]] + [b.out_quant for b in blocks]  # who quantizes each input
    for block, made_input in zip(blocks, producers[:-1], strict=True):
        if block.projection:  # projection and residual branch through the block's own
            assert block.add_quant is not made_input
        else:  # the input is on the add quantizer's scale already
            assert block.add_quant is made_input
        assert isinstance(block.add_quant, QuantIdentity) and block.add_quant.return_quant_tensor
    assert isinstance(blocks[-1].out_quant, QuantReLU)  # the network's last activation
    # and in the forward pass both operands of each add carry one scale
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def record(block: nn.Module, args: tuple) -> None:
        x = args[0]
        y = block.add_quant(block.bn2(block.conv2(block.act1(block.bn1(block.conv1(x))))))
        s = x if block.shortcut is None else block.add_quant(block.shortcut(x))
        seen.append((y.scale, s.scale))

    model = trained_looking(model, MNIST)
    hooks = [b.register_forward_pre_hook(record) for b in _blocks(model)]
    with torch.no_grad():
        model(torch.randint(0, 256, (2, *MNIST)).float())
    for hook in hooks:
        hook.remove()
    assert len(seen) == 3 and all(torch.equal(a, b) for a, b in seen)


def test_ds_cnn_and_mobilenet_structure() -> None:
    model = _build("mobilenet")  # ds-cnn
    convs = [m for m in model.modules() if isinstance(m, QuantConv2d)]
    assert convs[0].out_channels == 64 and convs[0].stride == (2, 2)
    depthwise = convs[1::2]
    pointwise = convs[2::2]
    assert len(depthwise) == 4 and all(c.groups == c.in_channels == c.out_channels == 64
                                       and c.kernel_size == (3, 3) for c in depthwise)
    assert all(c.kernel_size == (1, 1) and c.groups == 1 for c in pointwise)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 9
    assert model.classifier.in_features == 64 * 7 * 7  # 28 -> 14, 2x2 max-pool
    v1 = _build("mobilenet", (3, 64, 64), preset="mobilenet-v1", width_multiplier=0.25)
    widths = [c.out_channels for c in v1.modules() if isinstance(c, QuantConv2d)
              and c.groups == 1]
    assert widths == [8, 16, 32, 32, 64, 64, 128, 128, 128, 128, 128, 128, 256, 256]
    small = _build("mobilenet", preset="mobilenet-small")
    assert small.stem[0].stride == (1, 1)
    assert small.classifier.in_features == 16 * 7 * 7  # 28, 28, 14 -> 7


@pytest.mark.parametrize(("channels", "multiplier", "expected"),
                         [(64, 1.0, 64), (12, 1.0, 12), (64, 0.5, 32), (64, 0.3, 24),
                          (32, 0.1, 8), (64, 0.75, 48), (1024, 0.25, 256), (64, 1.3, 80)])
def test_width_multiplier_rounds_to_multiples_of_8(channels: int, multiplier: float,
                                                   expected: int) -> None:
    assert scaled_channels(channels, multiplier) == expected


def test_width_multiplier_scales_stem_and_blocks() -> None:
    model = _build("mobilenet", width_multiplier=0.5)
    assert {c.out_channels for c in model.modules() if isinstance(c, QuantConv2d)} == {32}


@pytest.mark.parametrize(
    ("arch", "options", "fragment"),
    [
        ("resnet", {"preset": "resnet50"}, "unknown resnet preset 'resnet50'; choose one of resnet8"),
        ("resnet", {"blocks": [[8, 1]]}, "unknown resnet option.*blocks; valid options"),
        ("resnet", {"stem": 0}, "resnet stem must be an integer >= 1"),
        ("resnet", {"stages": []}, "non-empty list of \\[channels, blocks, stride\\]"),
        ("resnet", {"stages": [[16, 1]]}, "got stage \\[16, 1\\]"),
        ("resnet", {"stages": [[16, 0, 1]]}, "stage blocks must be an integer >= 1"),
        ("resnet", {"stages": [[16, 1, 3]]}, "stage stride must be 1 .* or 2"),
        ("resnet", {"stages": [[16.0, 1, 1]]}, "stage channels must be an integer"),
        ("resnet", {"final_pool": 0}, "final_pool must be an integer >= 1"),
        ("mobilenet", {"final_pool": "avg"}, "final_pool must be .* or \"global\""),
        ("resnet", {"final_pool": 8}, "7x7 map .* smaller than final_pool=8; the smallest legal "
                                      "input is 29x29"),
        ("mobilenet", {"preset": "mobilenet-v2"}, "unknown mobilenet preset"),
        ("mobilenet", {"stages": []}, "unknown mobilenet option.*stages"),
        ("mobilenet", {"width_multiplier": 0}, "width_multiplier must be a positive number"),
        ("mobilenet", {"width_multiplier": True}, "width_multiplier must be a positive number"),
        ("mobilenet", {"width_multiplier": "half"}, "width_multiplier must be a positive number"),
        ("mobilenet", {"blocks": [[64, 1, 1]]}, "\\[out_channels, stride\\].*got block"),
        ("mobilenet", {"blocks": 64}, "blocks must be a list"),
        ("mobilenet", {"blocks": [[0, 1]]}, "block out_channels must be an integer >= 1"),
        ("mobilenet", {"stem_stride": 3}, "stem_stride must be 1 .* or 2"),
        ("mobilenet", {"blocks": [[8, 2]] * 4}, "stem_stride 1, fewer stride-2 blocks"),
        ("mobilenet", {"weight_bits": 9}, "weight_bits=9"),
        ("resnet", {"input_shape": (28, 28)}, "resnet takes input_shape \\(C, H, W\\)"),
    ],
)
def test_build_errors(arch: str, options: dict, fragment: str) -> None:
    args = {"input_shape": MNIST, "num_classes": 10, "weight_bits": 2, "act_bits": 2}
    for key in ("weight_bits", "input_shape"):
        if key in options:
            args[key] = options.pop(key)
    with pytest.raises(ModelError, match=fragment):
        build_model(arch, **args, **options)


@pytest.mark.parametrize("arch", ["resnet", "mobilenet"])
def test_export_qonnx(arch: str, tmp_path: Path) -> None:
    from codesign.export import check_export, export_qonnx

    model = trained_looking(_build(arch, COMPILE_SHAPE, 4, 4, preset=SMALL[arch]), COMPILE_SHAPE)
    path = export_qonnx(model, COMPILE_SHAPE, tmp_path / "model.onnx")
    graph = onnx.load(str(path)).graph
    ops = [n.op_type for n in graph.node]
    if arch == "resnet":
        assert ops.count("Add") == 3  # one join per block, no bias adds
    else:
        groups = [a.i for n in graph.node if n.op_type == "Conv" for a in n.attribute
                  if a.name == "group"]
        assert groups.count(1) == 3 and sorted(g for g in groups if g > 1) == [8, 16]
    x = np.random.default_rng(0).integers(0, 256, (4, *COMPILE_SHAPE)).astype(np.uint8)
    assert check_export(model, path, x).passed


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["resnet", "mobilenet"])
@pytest.mark.parametrize(("wbits", "abits", "final_pool"),
                         [(4, 4, 2), (1, 2, 2), (4, 4, "global"), (2, 2, "global")])
def test_small_preset_compiles_to_finn_bit_exactly(arch: str, wbits: int, abits: int,
                                                    final_pool: int | str,
                                                    tmp_path: Path) -> None:
    from codesign.export import export_qonnx
    from codesign.finn import apply_setfolding, compile_to_hw, verify_against
    from codesign.flow import reference_outputs

    model = trained_looking(_build(arch, COMPILE_SHAPE, wbits, abits, preset=SMALL[arch],
                               final_pool=final_pool), COMPILE_SHAPE)
    onnx_path = export_qonnx(model, COMPILE_SHAPE, tmp_path / "model.onnx")
    hw = compile_to_hw(onnx_path, part="xc7z020clg400-1", clock_mhz=100.0,
                       workdir=tmp_path / "finn")
    ops = [n.op_type.rsplit("_", 1)[0] for n in hw.model.graph.node]
    expected = ("DuplicateStreams", "ElementwiseAdd") if arch == "resnet" else ("VVAU",)
    assert all(op in ops for op in expected), ops
    assert "Transpose" not in ops and "Add" not in ops, ops
    if arch == "resnet":
        assert ops.count("ElementwiseAdd") == 3
    # a global average pool is an integer sum in hardware; its 1/(H*W) joins the logits' scale
    assert ("GlobalAccPool" in ops) == (final_pool == "global"), ops
    assert hw.software_nodes() == (["Transpose"], ["Mul"])
    x = np.random.default_rng(1).integers(0, 256, (6, *COMPILE_SHAPE)).astype(np.float32)
    x[0], x[1] = 0, 255
    check = verify_against(apply_setfolding(hw, target_fps=10_000), x,
                           reference_outputs(model, x))
    assert check.passed and check.matched == len(x), check.details
