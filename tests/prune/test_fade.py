"""Soft masking before the cut (codesign.prune.fade, `prune.soft_epochs`): the faded weights
shrink by (n - k) / n, the rest stays, a fully faded model computes what the cut model computes
on every family and quantizer kind, the schedule fades exactly the channels it cuts, and bad
requests are refused."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from codesign.config import PruneConfig, TrainConfig
from codesign.errors import PruneError
from codesign.models import build_model
from codesign.prune import channel_groups, keep_top, prune_channels
from codesign.prune.fade import Fade
from codesign.prune.importance import channel_importance
from codesign.prune.schedule import finetune
from codesign.prune.surgery import consumer_inputs
from tests.prune.families import FAMILIES, family_model
from tests.prune.test_surgery import _settled as settled

pytestmark = pytest.mark.usefixtures("single_thread")


def _every_other(model: torch.nn.Module, shape: tuple[int, ...]) -> dict[str, list[int]]:
    return {g.name: list(range(0, g.channels, 2)) for g in channel_groups(model, shape)}


def _zoo(arch: str, preset: str, bits: int) -> tuple[torch.nn.Module, tuple[int, ...]]:
    torch.manual_seed(0)
    shape = (1, 28, 28)
    return build_model(arch, input_shape=shape, num_classes=10, weight_bits=bits, act_bits=bits,
                       preset=preset).eval(), shape


CASES = [(family, quant) for family in sorted(FAMILIES)
         for quant in ("per-tensor", "per-channel")] + [("tfc-w2a2", "zoo"), ("cnv-small-28", "zoo")]


def _model(family: str, quant: str) -> tuple[torch.nn.Module, tuple[int, ...]]:
    if quant == "zoo":
        return settled(family)  # BatchNorm statistics and activation scales that have seen data
    model, shape = family_model(family, quant)
    return model.eval(), shape


@pytest.mark.parametrize(("family", "quant"), CASES)
def test_a_fully_faded_model_computes_what_the_cut_model_computes(family: str,
                                                                   quant: str) -> None:
    """Per-tensor weight scales included: the members' faded rows no longer hold the max."""
    model, shape = _model(family, quant)
    keep = _every_other(model, shape)
    x = torch.rand(8, *shape) * 255
    with torch.no_grad():
        before = model(x)
    fade = Fade(model, keep, shape)
    for done in range(1, 5):
        fade(done, 4)
    with torch.no_grad():
        faded = model(x)
    prune_channels(model, keep, shape)
    with torch.no_grad():
        cut = model(x)
    assert not torch.allclose(before, faded, atol=1e-3)  # the fade removed something
    assert torch.allclose(faded, cut, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("steps", [1, 3, 8])
def test_after_k_of_n_steps_the_removed_channels_hold_n_minus_k_over_n(family: str,
                                                                        steps: int) -> None:
    """Members' rows and consumers' columns of the removed channels; a weight in both (a layer
    reading one fading group and writing another) fades by both; every other weight stays."""
    model, shape = family_model(family, "per-tensor")
    original = copy.deepcopy(model)
    keep = _every_other(model, shape)
    fade = Fade(model, keep, shape)
    total = steps + 2
    for done in range(1, steps + 1):
        fade(done, total)
    share = (total - steps) / total
    modules = dict(model.named_modules())
    expected = {name: m.weight.detach().clone() for name, m in original.named_modules()
                if name in modules and getattr(m, "weight", None) is not None}
    for group in channel_groups(original, shape):
        gone = torch.tensor([c for c in range(group.channels) if c not in keep[group.name]])
        for member in group.members:
            expected[member][gone] *= share
        for consumer, per in zip(group.consumers, group.consumer_features, strict=True):
            expected[consumer][:, consumer_inputs(gone, per)] *= share
    for name, weight in expected.items():
        assert torch.allclose(modules[name].weight, weight, rtol=1e-5, atol=1e-7), name


def test_a_group_kept_whole_fades_nothing() -> None:
    model, shape = family_model("mobilenet", "per-tensor")
    state = copy.deepcopy(model.state_dict())
    fade = Fade(model, {g.name: range(g.channels) for g in channel_groups(model, shape)}, shape)
    fade(1, 1)
    assert not fade.rows and not fade.columns
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize(("make", "keep", "match"), [
    (lambda: _zoo("mlp", "tfc", 1), None,
     r"layer features\.\d+ has 1-bit \(bipolar\) weights, which have no zero; set "
     r"prune\.soft_epochs to 0"),
    (lambda: family_model("cnn1d", "per-tensor"), {"nowhere": [0]},
     r"cannot fade channels of nowhere: it names no channel group of this model \("),
])
def test_bad_fades_are_refused(make, keep: dict | None, match: str) -> None:
    model, shape = make()
    with pytest.raises(PruneError, match=match):
        Fade(model, keep or _every_other(model, shape), shape)


@pytest.mark.parametrize("done", [0, 5, -1])
def test_a_step_outside_the_run_is_refused(done: int) -> None:
    model, shape = family_model("cnn1d", "per-tensor")
    state = copy.deepcopy(model.state_dict())
    with pytest.raises(PruneError, match=rf"fade step {done} lies outside the run's steps 1\.\.4"):
        Fade(model, _every_other(model, shape), shape)(done, 4)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize(("settings", "added"), [
    (PruneConfig(steps=1, finetune_epochs=8, final_epochs=0), 8),
    (PruneConfig(steps=1, soft_epochs=3, finetune_epochs=5, final_epochs=0), 8),
    (PruneConfig(steps=3, soft_epochs=1, finetune_epochs=2, final_epochs=2), 11),
])
def test_the_epochs_a_control_matches_count_the_fades(settings: PruneConfig, added: int) -> None:
    assert settings.epochs_added == added


@pytest.mark.slow
def test_the_schedule_fades_exactly_the_channels_it_cuts(trained, tmp_path: Path) -> None:
    """One step of prune.soft_epochs 1 and no fine-tune after the cut: the pruned model is the
    fully faded one, cut (the same outputs), and replaying the fade by hand (same scores,
    counts and seed) gives the same weights."""
    from codesign.boards import load_board
    from codesign.prune.schedule import prune_model

    model, data = trained
    settings = PruneConfig(criterion="l1", target_sparsity=0.4, steps=1, soft_epochs=1,
                           finetune_epochs=0, final_epochs=0, fold_search=0)
    train = TrainConfig(epochs=1, batch_size=64, lr=0.02)
    pruned = copy.deepcopy(model)
    result = prune_model(pruned, data, load_board("pynq-z1"), settings, train,
                         workdir=tmp_path / "run", progress=False)
    counts = result.final.counts
    assert counts != result.baseline.counts

    replay = copy.deepcopy(model)
    shape = data.input_shape
    groups = channel_groups(replay, shape)
    scores = channel_importance(replay, groups, "l1", (data.x_train, data.y_train), seed=1)
    keep = keep_top(scores, counts)
    finetune(replay, data, train, settings, 1, 501, False, after_step=Fade(replay, keep, shape))
    x = torch.from_numpy(data.x_test[:64].astype("float32"))
    replay.eval(), pruned.eval()  # forward passes in training mode would move BatchNorm stats
    with torch.no_grad():
        faded = replay(x)
        prune_channels(replay, keep, shape)
        cut, scheduled = replay(x), pruned(x)
    assert torch.allclose(faded, cut, rtol=1e-5, atol=1e-5)
    assert torch.equal(cut, scheduled)
    for (name, a), (_, b) in zip(replay.state_dict().items(), pruned.state_dict().items(),
                                 strict=True):
        assert torch.equal(a, b), name
