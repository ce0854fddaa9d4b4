import sys
import textwrap
from pathlib import Path

import pytest
import torch
from brevitas.nn import QuantLinear, QuantReLU, TruncAvgPool2d
from torch import nn

from codesign.errors import ModelError
from codesign.models import build_model
from codesign.models.user import build_user_module, check_supported_layers, load_user_model

USER_MODULE = textwrap.dedent(
    """
    from brevitas.nn import QuantLinear, QuantReLU
    from torch import nn

    class Net(nn.Module):
        def __init__(self, width=8):
            super().__init__()
            self.fc1 = QuantLinear(16, width, bias=False, weight_bit_width=2)
            self.act = QuantReLU(bit_width=2)
            self.fc2 = QuantLinear(width, 3, bias=False, weight_bit_width=2)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x.flatten(1) / 255.0)))

    instance = Net(width=4)

    def make():
        return Net(width=5)

    def broken():
        raise RuntimeError("no weights here")

    def needs_args(width):
        return Net(width)

    not_a_model = 42
    """
)


@pytest.fixture()
def user_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_net.py"
    path.write_text(USER_MODULE)
    return path


@pytest.mark.parametrize(("attr", "width"), [("instance", 4), ("make", 5), ("Net", 8)])
def test_load_from_file(user_file: Path, attr: str, width: int) -> None:
    model = load_user_model(f"{user_file}:{attr}")
    assert model.fc1.out_features == width
    assert model(torch.zeros(2, 1, 4, 4)).shape == (2, 3)
    check_supported_layers(model)


def test_load_from_module(user_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(user_file.parent))
    model = load_user_model("my_net:make")
    assert model.fc1.out_features == 5


def test_load_dotted_attr_from_installed_package() -> None:
    model = load_user_model("torch.nn:Identity")
    assert isinstance(model, nn.Identity)


@pytest.mark.parametrize(
    ("attr", "fragment"),
    [
        ("missing", "has no attribute 'missing'; it defines: .*Net"),
        ("broken", "RuntimeError: no weights here"),
        ("needs_args", "takes no arguments"),
        ("not_a_model", "is a int, not an nn.Module"),
    ],
)
def test_load_errors_in_attr(user_file: Path, attr: str, fragment: str) -> None:
    with pytest.raises(ModelError, match=fragment):
        load_user_model(f"{user_file}:{attr}")


def test_load_errors_in_spec(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no ':attr' part"):
        load_user_model("my_net")
    with pytest.raises(ModelError, match="does not exist"):
        load_user_model(f"{tmp_path}/absent.py:Net")
    with pytest.raises(ModelError, match="cannot import module 'no_such_pkg_xyz.models'"):
        load_user_model("no_such_pkg_xyz.models:Net")
    bad = tmp_path / "syntax.py"
    bad.write_text("def broken(:\n")
    with pytest.raises(ModelError, match="importing .*syntax.py failed: SyntaxError"):
        load_user_model(f"{bad}:x")


def test_a_flow_gets_a_fresh_checked_copy_of_the_users_module(
        user_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An instance in an imported module is copied, never trained in place; building is
    seeded like a zoo model (the same seed, the same weights) and the check that the model
    takes the data leaves its state as built."""
    monkeypatch.syspath_prepend(str(user_file.parent))
    monkeypatch.delitem(sys.modules, "my_net", raising=False)
    first = build_user_module("my_net:instance", (1, 4, 4), 3)
    assert first is not load_user_model("my_net:instance") and first.fc1.out_features == 4
    with torch.no_grad():
        first.fc1.weight.add_(1.0)
    assert not torch.equal(build_user_module("my_net:instance", (1, 4, 4), 3).fc1.weight,
                           first.fc1.weight)
    torch.manual_seed(3)
    a = build_user_module(f"{user_file}:make", (1, 4, 4), 3)
    torch.manual_seed(3)
    b = build_user_module(f"{user_file}:make", (1, 4, 4), 3)
    assert a.training and all(torch.equal(x, y) for x, y in
                              zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    del sys.modules["my_net"]  # the next test imports its own my_net


@pytest.mark.parametrize(("shape", "classes", "fragment"), [
    ((1, 4, 4), 10, r"returns outputs of shape \(3,\) per sample, but the dataset has 10 classes; "
                    "make its last layer return 10 logits"),
    ((1, 5, 5), 3, r"cannot take inputs of shape \(1, 5, 5\) \(RuntimeError"),
])
def test_a_module_that_does_not_fit_the_data_is_named_with_the_fix(
        user_file: Path, shape: tuple[int, ...], classes: int, fragment: str) -> None:
    with pytest.raises(ModelError, match=fragment):
        build_user_module(f"{user_file}:Net", shape, classes)


def test_a_module_returning_a_quant_tensor_is_named_with_the_fix(tmp_path: Path) -> None:
    """Training, verification and the build take plain logits: a last layer with
    return_quant_tensor=True stops the flow (and `codesign build`) before any work."""
    path = tmp_path / "quant_out.py"
    quant_out = "bias=False, weight_bit_width=2, return_quant_tensor=True)"
    path.write_text(USER_MODULE
                    .replace("QuantReLU(bit_width=2)", "QuantReLU(bit_width=2, return_quant_tensor=True)")
                    .replace("QuantLinear(width, 3, bias=False, weight_bit_width=2)",
                             f"QuantLinear(width, 3, {quant_out}"))
    assert path.read_text().count("return_quant_tensor=True") == 2
    with pytest.raises(ModelError, match=r"returns a value of type \w*QuantTensor, not a tensor of "
                                         r"logits; set return_quant_tensor=False on its last layer, "
                                         r"or return out\.value"):
        build_user_module(f"{path}:Net", (1, 4, 4), 3)


def test_a_flow_refuses_a_module_finn_cannot_build(tmp_path: Path) -> None:
    path = tmp_path / "float_head.py"
    path.write_text(USER_MODULE.replace("self.fc2 = QuantLinear(width, 3, bias=False, "
                                        "weight_bit_width=2)", "self.fc2 = nn.Linear(width, 3)"))
    with pytest.raises(ModelError, match="layer fc2 \\(Linear\\) cannot be built by FINN"):
        build_user_module(f"{path}:Net", (1, 4, 4), 3)


@pytest.mark.parametrize(("arch", "opts", "bits"), [
    ("mlp", {}, ((1, 1), (2, 2))), ("cnv", {"preset": "cnv-small"}, ((1, 1), (2, 2))),
    ("resnet", {"preset": "resnet-small"}, ((4, 4),)),
    ("resnet", {"preset": "resnet-small", "final_pool": "global"}, ((4, 4),)),
    ("mobilenet", {"preset": "mobilenet-small", "final_pool": "global"}, ((4, 4),)),
])
def test_zoo_models_are_supported(arch: str, opts: dict, bits: tuple) -> None:
    """Every layer the zoo builds (and FINN compiles), the global average pool included, is one
    a user's module may use too."""
    for wbits, abits in bits:
        check_supported_layers(build_model(arch, input_shape=(1, 28, 28), num_classes=10,
                                           weight_bits=wbits, act_bits=abits, **opts))


class Block(nn.Module):
    def __init__(self, tail: nn.Module) -> None:
        super().__init__()
        self.fc = QuantLinear(8, 8, bias=False, weight_bit_width=2)
        self.bn = nn.BatchNorm1d(8)
        self.tail = tail


class Scale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.ones(1))


@pytest.mark.parametrize(
    ("tail", "name", "fragment"),
    [
        (nn.Linear(8, 3), "body.1.tail", "nn.Linear is not quantized; use brevitas.nn.QuantLinear"),
        (nn.Conv2d(1, 1, 3), "body.1.tail", "QuantConv2d"),
        (nn.LSTM(8, 8), "body.1.tail", "recurrent"),
        (nn.Softmax(dim=1), "body.1.tail", "drop it and return logits"),
        (nn.ReLU(), "body.1.tail", "use brevitas.nn.QuantReLU"),
        (nn.GELU(), "body.1.tail", "not a layer type the FINN flow knows"),
        (nn.AvgPool2d(2), "body.1.tail", "use nn.AdaptiveAvgPool2d(1) for a global average pool"),
        (nn.AdaptiveAvgPool2d(2), "body.1.tail", "only AdaptiveAvgPool2d(1) has a FINN layer"),
        (Scale(), "body.1.tail", "not a layer type"),
        (QuantLinear(8, 3, bias=False, weight_quant=None), "body.1.tail", "not quantized"),
        (QuantReLU(act_quant=None), "body.1.tail", "output is not quantized"),
        (TruncAvgPool2d(2), "body.1.tail", "float_to_int_impl_type='ROUND', Brevitas's default"),
        (TruncAvgPool2d(2, float_to_int_impl_type="ROUND"), "body.1.tail",
         "pass float_to_int_impl_type='FLOOR' (in brevitas_examples: round_average_pool=False)"),
    ],
)
def test_first_unsupported_layer_named(tail: nn.Module, name: str, fragment: str) -> None:
    model = nn.Module()
    model.body = nn.Sequential(QuantReLU(bit_width=4), Block(tail))
    with pytest.raises(ModelError, match=rf"layer {name} \({type(tail).__name__}\)") as info:
        check_supported_layers(model)
    assert fragment in str(info.value)
    assert "Supported layers:" in str(info.value) and "QuantConv2d" in str(info.value)


@pytest.mark.parametrize("mode", ["FLOOR", "floor"])
def test_a_truncating_average_pool_is_supported(mode: str) -> None:
    """FINN's pool truncates its sum, as a TruncAvgPool2d with FLOOR does."""
    check_supported_layers(nn.Sequential(QuantReLU(bit_width=4),
                                         TruncAvgPool2d(2, float_to_int_impl_type=mode)))


def test_first_of_several_is_reported() -> None:
    model = nn.Sequential(QuantLinear(4, 4, bias=False), nn.Linear(4, 4), nn.LSTM(4, 4))
    with pytest.raises(ModelError, match=r"layer 1 \(Linear\)"):
        check_supported_layers(model)


def test_a_model_file_imports_its_sibling_modules(tmp_path: Path) -> None:
    """As `python my_net.py` would: the file's directory is importable while it loads."""
    (tmp_path / "blocks.py").write_text(USER_MODULE)
    (tmp_path / "my_net.py").write_text("from blocks import Net\n\ndef make():\n    return Net(6)\n")
    model = load_user_model(f"{tmp_path / 'my_net.py'}:make")
    assert model.fc1.out_features == 6
    assert str(tmp_path) not in sys.path  # and is not left behind
