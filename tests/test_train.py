import copy
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from codesign.checkpoint import load_checkpoint, save_checkpoint
from codesign.data import Dataset, load_dataset
from codesign.errors import ConfigError, ModelError
from codesign.models import build_model
from codesign.train import Teacher, evaluate, predict, set_seed, train_model

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits", seed=0)


def _tiny(ds: Dataset, wbits: int = 2, abits: int = 2, hidden: list[int] | None = None):
    return build_model("mlp", input_shape=ds.input_shape, num_classes=ds.num_classes,
                       weight_bits=wbits, act_bits=abits, hidden=hidden or [16])


def _train(ds: Dataset, seed: int, **kwargs):
    set_seed(seed)
    model = _tiny(ds)
    result = train_model(model, ds, epochs=kwargs.pop("epochs", 1), seed=seed,
                         progress=kwargs.pop("progress", False), **kwargs)
    return model, result


@pytest.mark.slow
def test_same_seed_gives_identical_weights(digits: Dataset) -> None:
    small = load_dataset("digits", limit_train=256, limit_test=64)
    a, ra = _train(small, seed=5, epochs=2)
    b, rb = _train(small, seed=5, epochs=2)
    c, _ = _train(small, seed=6, epochs=2)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa if sa[k].is_floating_point())
    assert [h["loss"] for h in ra.history] == [h["loss"] for h in rb.history]


@pytest.mark.slow
def test_few_epochs_on_digits_beat_chance_by_far(digits: Dataset) -> None:
    set_seed(0)
    model = _tiny(digits, hidden=[64])
    result = train_model(model, digits, epochs=5, lr=1e-2, progress=False)
    assert result.test_accuracy > 0.85  # chance is 0.10
    assert result.train_accuracy > 0.85
    assert result.epochs == 5 and len(result.history) == 5
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert result.test_accuracy == pytest.approx(evaluate(model, digits.x_test, digits.y_test))


def test_history_records(digits: Dataset, tmp_path: Path) -> None:
    small = load_dataset("digits", limit_train=129, limit_test=50)  # 129 % 64 == 1: dropped
    ckpt = tmp_path / "model.pt"
    model, result = _train(small, seed=0, epochs=2, checkpoint=ckpt, optimizer="sgd", lr=0.05)
    assert [h["epoch"] for h in result.history] == [1, 2]
    for h in result.history:
        assert set(h) >= {"epoch", "loss", "train_acc", "test_acc", "seconds"}
        assert 0.0 <= h["train_acc"] <= 1.0 and 0.0 <= h["test_acc"] <= 1.0 and h["seconds"] > 0
    assert result.seconds >= sum(h["seconds"] for h in result.history)
    meta = load_checkpoint(_tiny(small), ckpt)
    assert meta["epoch"] == 2 and meta["seed"] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temp files left behind


def test_predict_and_evaluate(digits: Dataset) -> None:
    set_seed(0)
    model = _tiny(digits)
    model.train()
    logits = predict(model, digits.x_test[:37], batch_size=10)
    assert logits.shape == (37, 10) and logits.dtype == np.float32
    assert model.training  # the caller's mode is restored
    expected = float(np.mean(logits.argmax(1) == digits.y_test[:37]))
    assert evaluate(model, digits.x_test[:37], digits.y_test[:37], batch_size=7) == expected
    with torch.no_grad():
        model.eval()
        direct = model(torch.from_numpy(digits.x_test[:5].astype(np.float32))).numpy()
    np.testing.assert_allclose(logits[:5], direct, rtol=1e-6)


def test_checkpoint_roundtrip(digits: Dataset, tmp_path: Path) -> None:
    set_seed(1)
    trained, _ = _train(load_dataset("digits", limit_train=128, limit_test=16), seed=1)
    path = tmp_path / "sub" / "w.pt"
    save_checkpoint(trained, path, {"note": "hello", "epochs": 1})
    fresh = _tiny(digits)
    assert not np.allclose(predict(fresh, digits.x_test[:8]), predict(trained, digits.x_test[:8]))
    assert load_checkpoint(fresh, path) == {"note": "hello", "epochs": 1}
    np.testing.assert_array_equal(predict(fresh, digits.x_test[:8]),
                                  predict(trained, digits.x_test[:8]))


def test_checkpoint_errors(digits: Dataset, tmp_path: Path) -> None:
    model = _tiny(digits)
    with pytest.raises(ModelError, match="does not exist"):
        load_checkpoint(model, tmp_path / "none.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"garbage")
    with pytest.raises(ModelError, match="cannot read checkpoint"):
        load_checkpoint(model, junk)
    save_checkpoint(model, tmp_path / "w.pt", {})
    with pytest.raises(ModelError, match="does not fit this model"):
        load_checkpoint(_tiny(digits, hidden=[32]), tmp_path / "w.pt")
    torch.save({"state_dict": {}}, tmp_path / "foreign.pt")
    with pytest.raises(ModelError, match="not a codesign checkpoint"):
        load_checkpoint(model, tmp_path / "foreign.pt")


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"optimizer": "lbfgs"}, ConfigError, "adam, adamw, sgd"),
        ({"epochs": 0}, ConfigError, "epochs >= 1"),
        ({"lr": 0.0}, ConfigError, "lr > 0"),
        ({"shift_pixels": -1}, ConfigError, "shift_pixels: -1 must be 0"),
        ({"shift_pixels": 8}, ConfigError, r"below the input's size \(8, 8\)"),
    ],
)
def test_bad_training_arguments(digits: Dataset, kwargs: dict, error: type, fragment: str) -> None:
    args = {"epochs": 1, "progress": False, **kwargs}
    with pytest.raises(error, match=fragment):
        train_model(_tiny(digits), digits, **args)


def test_input_shape_mismatch(digits: Dataset) -> None:
    model = build_model("mlp", input_shape=(1, 28, 28), num_classes=10, weight_bits=2,
                        act_bits=2, hidden=[8])
    with pytest.raises(ModelError, match=r"built for inputs \(1, 28, 28\).*\(1, 8, 8\)"):
        train_model(model, digits, epochs=1, progress=False)


def test_progress_bar_run() -> None:
    small = load_dataset("digits", limit_train=64, limit_test=16)
    _, result = _train(small, seed=0, epochs=2, progress=True, batch_size=32)
    assert len(result.history) == 2  # the rich progress path trains like the quiet one
    _, quiet = _train(small, seed=0, epochs=2, progress=False, batch_size=32)
    assert [h["loss"] for h in result.history] == [h["loss"] for h in quiet.history]


@pytest.mark.parametrize("weight", [0.0, 0.3, 1.0])
def test_teacher_blends_label_loss_with_its_softened_outputs(digits: Dataset, weight: float) -> None:
    """The student's loss is (1-w) * label loss + w * T² KL(teacher || student) at T; a student
    identical to its teacher has nothing to learn from it (KL 0)."""
    set_seed(0)
    student = _tiny(digits).eval()
    x = torch.from_numpy(digits.x_train[:32].astype(np.float32))
    logits = student(x)
    label_loss = torch.tensor(1.25)
    same = Teacher(copy.deepcopy(student), weight, temperature=4.0)
    assert same.blend(label_loss, logits, x).item() == pytest.approx((1 - weight) * 1.25, abs=1e-5)
    other = _tiny(digits).eval()  # another draw of the weights disagrees with the student
    blended = Teacher(other, weight, temperature=4.0).blend(label_loss, logits, x).item()
    if weight == 0.0:
        assert blended == pytest.approx(1.25)
    else:
        assert blended > (1 - weight) * 1.25 + 1e-4


class _Relabelled(torch.nn.Module):
    """A teacher that answers class perm[c] where the labels say c."""

    def __init__(self, model: torch.nn.Module, perm: list[int]) -> None:
        super().__init__()
        self.model, self.perm = model, perm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.empty_like(logits := self.model(x))
        out[:, self.perm] = logits
        return out


@pytest.mark.slow
def test_distillation_learns_the_teacher_not_the_labels(digits: Dataset) -> None:
    """A student that learns from its teacher's outputs alone (weight 1) follows the teacher even
    where it contradicts the labels; with weight 0 it follows the labels; the teacher stays frozen."""
    set_seed(1)
    trained = _tiny(digits, hidden=[64])
    train_model(trained, digits, epochs=5, seed=1, progress=False)
    perm = [(c + 1) % digits.num_classes for c in range(digits.num_classes)]
    teacher = _Relabelled(trained, perm)
    frozen = {k: v.clone() for k, v in teacher.state_dict().items()}
    relabelled = np.array(perm)[digits.y_test]
    accuracy = {}
    for weight in (0.0, 1.0):
        set_seed(2)
        student = _tiny(digits, hidden=[32])
        train_model(student, digits, epochs=5, seed=2, progress=False,
                    teacher=Teacher(teacher, weight, temperature=4.0))
        guess = predict(student, digits.x_test).argmax(1)
        accuracy[weight] = (np.mean(guess == digits.y_test), np.mean(guess == relabelled))
    assert accuracy[0.0][0] > 0.8 and accuracy[0.0][1] < 0.2
    assert accuracy[1.0][1] > 0.8 and accuracy[1.0][0] < 0.2
    assert all(torch.equal(frozen[k], v) for k, v in teacher.state_dict().items())


def test_reference_outputs_keep_the_float32_models_quantizer_scales() -> None:
    """Just below a rounding boundary of the float32 model's scale s = fl32(2/15): a float64
    copy that derived 2/15 anew (a different model, 7e-9 lower) rounded it up."""
    from brevitas.nn import QuantReLU
    from brevitas.quant import Uint8ActPerTensorFloatMaxInit

    from codesign.train import reference_outputs

    model = torch.nn.Sequential(QuantReLU(act_quant=Uint8ActPerTensorFloatMaxInit, bit_width=4,
                                          max_val=2.0)).eval()
    scale = float(model[0].act_quant.scale().detach())
    assert scale != 2.0 / 15.0  # the float32 scale, as the export writes it
    below = np.array([[np.nextafter(7.5 * scale, 0.0)]])
    assert reference_outputs(model, below)[0, 0] == 7 * scale
    with torch.no_grad():  # what the plain float64 copy computes instead
        assert copy.deepcopy(model).double()(torch.from_numpy(below))[0, 0] == 8 * 2.0 / 15.0


def test_machine_names_what_trained_weights_depend_on() -> None:
    import torch

    from codesign.train import machine

    found = machine()
    assert found["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert found["threads"] == torch.get_num_threads() >= 1
    assert found["torch"] == torch.__version__
    assert isinstance(found["cpu"], str) and found["cpu"]
    assert set(found) == {"cpu", "cpu_capability", "threads", "torch", "system", "architecture"}


@pytest.mark.parametrize("processor, expected", [("x86_64", "x86_64"), ("", "unknown")])
def test_machine_without_proc_cpuinfo_asks_the_platform(monkeypatch: pytest.MonkeyPatch,
                                                         processor: str, expected: str) -> None:
    from codesign import train

    def unreadable(self: Path, *args: object, **kwargs: object) -> str:
        raise OSError("no /proc here")

    monkeypatch.setattr(Path, "read_text", unreadable)
    monkeypatch.setattr(train.platform, "processor", lambda: processor)
    assert train.machine()["cpu"] == expected


def test_shifted_training_is_seeded_and_trains_other_weights(digits: Dataset) -> None:
    """Shifts come from the trainer's seed: the same seed, the same model; without them the
    same seed trains other weights."""
    shifted = [_train(digits, 0, shift_pixels=1)[0].state_dict() for _ in range(2)]
    plain = _train(digits, 0)[0].state_dict()
    weights = [k for k in plain if k.endswith("weight") and plain[k].dim() == 2]
    assert weights
    assert all(torch.equal(shifted[0][k], shifted[1][k]) for k in weights)
    assert not all(torch.equal(shifted[0][k], plain[k]) for k in weights)


@pytest.mark.parametrize(("samples", "batch_size", "epochs"), [(200, 64, 1), (201, 50, 2)])
def test_after_step_sees_every_optimizer_step_once(digits: Dataset, samples: int,
                                                   batch_size: int, epochs: int) -> None:
    """(done, total) after every step, done from 1 to total; a trailing batch of one sample is
    dropped (BatchNorm), so 201 samples in 50s make 4 steps an epoch, not 5."""
    subset = dataclasses.replace(digits, x_train=digits.x_train[:samples],
                                 y_train=digits.y_train[:samples])
    calls: list[tuple[int, int]] = []
    train_model(_tiny(subset), subset, epochs=epochs, batch_size=batch_size, seed=0,
                progress=False, after_step=lambda done, total: calls.append((done, total)))
    total = (samples // batch_size + (samples % batch_size > 1)) * epochs
    assert calls == [(done, total) for done in range(1, total + 1)]
