import pytest
import torch
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
from calibration import settled
from torch import nn

from codesign.errors import ModelError
from codesign.models import ARCHS, build_model
from codesign.models.cnv import conv_geometry, smallest_input

IMAGE_ARCHS = [a for a in ARCHS if a != "cnn1d"]  # (C, H, W) models; cnn1d: test_cnn1d.py
# resnet and mobilenet reject bipolar activations (test_resnet_mobilenet.py says why)
MULTIBIT_ACTS = {"resnet", "mobilenet"}

SMALL = {"mlp": {"hidden": [16, 16]}, "cnv": {"channels": [4, 4, 8, 8], "fc": [16]},
         "resnet": {"stem": 4, "stages": [[4, 1, 1], [8, 1, 2]]},
         "mobilenet": {"stem": 8, "stem_stride": 1, "blocks": [[8, 1], [16, 2]]}}
BITS = [(1, 1), (2, 2), (4, 4), (8, 8), (1, 2), (4, 2)]


@pytest.mark.parametrize("arch", IMAGE_ARCHS)
@pytest.mark.parametrize(("wbits", "abits"), BITS)
def test_forward_shape(arch: str, wbits: int, abits: int) -> None:
    if abits == 1 and arch in MULTIBIT_ACTS:
        pytest.skip(f"{arch} takes act_bits >= 2")
    model = build_model(arch, input_shape=(1, 14, 14), num_classes=7, weight_bits=wbits,
                        act_bits=abits, **SMALL[arch])
    out = settled(model, (1, 14, 14))(torch.randint(0, 256, (5, 1, 14, 14)).float())
    assert out.shape == (5, 7)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("arch", IMAGE_ARCHS)
@pytest.mark.parametrize("wbits", [1, 2, 4, 8])
def test_weights_use_at_most_2_pow_bits_levels(arch: str, wbits: int) -> None:
    model = build_model(arch, input_shape=(1, 12, 12), num_classes=3, weight_bits=wbits,
                        act_bits=2, **SMALL[arch] | ({"channels": [4, 4]} if arch == "cnv" else {}))
    layers = [m for m in model.modules() if isinstance(m, QuantLinear | QuantConv2d)]
    assert layers
    for layer in layers:
        levels = torch.unique(layer.quant_weight().value.detach()).numel()
        # narrow range: 2^b - 1 signed levels; bipolar: exactly two
        assert levels <= (2 if wbits == 1 else 2 ** wbits - 1)


@pytest.mark.parametrize("abits", [1, 2, 3])
def test_activation_levels(abits: int) -> None:
    model = settled(build_model("mlp", input_shape=(1, 8, 8), num_classes=3,
                                    weight_bits=abits if abits == 1 else 4, act_bits=abits,
                                    hidden=[32]), (1, 8, 8))
    act = model.features[2]
    assert isinstance(act, QuantIdentity if abits == 1 else QuantReLU)
    values = model.features[:3](model.pixel_scale(torch.rand(64, 64) * 255)).detach()
    unique = torch.unique(values)
    if abits == 1:
        assert set(unique.tolist()) <= {-1.0, 1.0}
    else:
        assert unique.min() >= 0 and unique.numel() <= 2 ** abits


@pytest.mark.parametrize(("preset", "hidden"), [("tfc", [64] * 3), ("sfc", [256] * 3),
                                                 ("lfc", [1024] * 4)])
def test_mlp_presets(preset: str, hidden: list[int]) -> None:
    model = build_model("mlp", input_shape=(1, 28, 28), num_classes=10, weight_bits=1,
                        act_bits=1, preset=preset)
    widths = [m.out_features for m in model.modules() if isinstance(m, QuantLinear)]
    assert widths == hidden + [10]
    assert model.features[0].in_features == 784


def test_cnv_default_is_finn_cnv_on_32x32() -> None:
    model = build_model("cnv", input_shape=(3, 32, 32), num_classes=10, weight_bits=1,
                        act_bits=1)
    convs = [m for m in model.modules() if isinstance(m, QuantConv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256]
    assert all(c.kernel_size == (3, 3) and c.padding == (0, 0) for c in convs)
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == 2
    linears = [(m.in_features, m.out_features) for m in model.modules()
               if isinstance(m, QuantLinear)]
    assert linears == [(256, 512), (512, 512), (512, 10)]


def test_cnv_pads_28x28_to_the_cnv_geometry() -> None:
    model = build_model("cnv", input_shape=(1, 28, 28), num_classes=10, weight_bits=2,
                        act_bits=2)
    first = next(m for m in model.modules() if isinstance(m, QuantConv2d))
    assert first.padding == (2, 2)
    assert model.fc_features[0].in_features == 256  # 1x1x256, as on 32x32


def test_cnv_small_preset_on_fashion_geometry() -> None:
    model = build_model("cnv", input_shape=(1, 28, 28), num_classes=10, weight_bits=2,
                        act_bits=2, preset="cnv-small")
    convs = [m for m in model.modules() if isinstance(m, QuantConv2d)]
    assert [c.out_channels for c in convs] == [16, 16, 32, 32]
    assert convs[0].padding == (0, 0)
    assert model.fc_features[0].in_features == 32 * 8 * 8


def test_cnv_geometry_helpers() -> None:
    geometry = conv_geometry((32, 32), 6, 2, 0)
    assert geometry.valid and geometry.output == (1, 1)
    assert not conv_geometry((28, 28), 6, 2, 0).valid
    assert smallest_input(6, 2, 0) == 32
    assert smallest_input(6, 2, 2) == 28
    assert smallest_input(2, 2, 0) == 5


@pytest.mark.parametrize(
    ("arch", "kwargs", "fragment"),
    [
        ("mlp", {"weight_bits": 0}, "weight_bits=0"),
        ("mlp", {"weight_bits": 9}, "weight_bits=9"),
        ("cnv", {"act_bits": 0}, "act_bits=0"),
        ("cnv", {"act_bits": 9}, "act_bits=9"),
        ("mlp", {"weight_bits": 2.0}, "weight_bits=2.0"),
        ("mlp", {"weight_bits": 4, "act_bits": 1}, "act_bits=1 with weight_bits=4"),
        ("vgg", {}, "unknown model arch 'vgg'; choose one of mlp, cnv, cnn1d, resnet, mobilenet"),
        ("mlp", {"preset": "xfc"}, "unknown mlp preset"),
        ("mlp", {"preset": "tfc", "hidden": [8]}, "either"),
        ("mlp", {"hidden": [8, 0]}, "positive integers"),
        ("mlp", {"widths": [8]}, "unknown mlp option"),
        ("cnv", {"preset": "vgg"}, "unknown cnv preset"),
        ("cnv", {"pool_every": 0}, "pool_every"),
        ("cnv", {"channels": []}, "at least one conv"),
        ("cnv", {"input_padding": -1}, "input_padding"),
        ("mlp", {"num_classes": 1}, "num_classes"),
        ("mlp", {"input_shape": (28, 28)}, "input_shape"),
    ],
)
def test_build_errors(arch: str, kwargs: dict, fragment: str) -> None:
    args = {"input_shape": (1, 28, 28), "num_classes": 10, "weight_bits": 2, "act_bits": 2,
            **kwargs}
    with pytest.raises(ModelError, match=fragment):
        build_model(arch, **args)


@pytest.mark.parametrize(
    ("shape", "options", "fragment"),
    [
        ((1, 8, 8), {}, "32x32 with input_padding=0 or 28x28 with input_padding=2"),
        ((3, 24, 24), {}, "cannot process a 24x24 input"),
        ((1, 8, 8), {"preset": "cnv-small"}, "14x14 with input_padding=0 or 10x10 with"),
        ((1, 28, 28), {"input_padding": 0}, "smallest legal input is 32x32 with input_padding=0\\. "),
    ],
)
def test_impossible_geometry(shape: tuple, options: dict, fragment: str) -> None:
    with pytest.raises(ModelError, match=fragment):
        build_model("cnv", input_shape=shape, num_classes=10, weight_bits=2, act_bits=2,
                    **options)


def test_pixel_scale_is_the_float32_constant_in_float64_too() -> None:
    """A float64 copy of a zoo model multiplies by the 1/255 the float32 model and its exported
    Mul use; 1.0 / 255.0 in float64 is another number (5.9e-8 relative)."""
    from codesign.models.mlp import PIXEL_SCALE, PixelScale

    pixels = torch.arange(256, dtype=torch.float64)
    float32_constant = torch.tensor(1.0 / 255.0, dtype=torch.float32).double()
    assert torch.equal(PixelScale()(pixels), pixels * float32_constant)
    assert PIXEL_SCALE != 1.0 / 255.0
