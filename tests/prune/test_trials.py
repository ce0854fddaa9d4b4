"""Shape trials (codesign.prune.trials): each shape cut from a copy and fine-tuned, scored by its
training loss; the lowest is kept."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from codesign.data import Dataset
from codesign.errors import PruneError
from codesign.prune.graph import channel_groups
from codesign.prune.importance import channel_importance
from codesign.prune.surgery import channel_counts
from codesign.prune.trials import ShapeTrial, best_trial, training_loss, try_shapes
from codesign.train import train_model


class _Logits(torch.nn.Module):
    """Returns fixed logits for every sample."""

    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = torch.tensor(logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(len(x), -1)


def _data(labels: list[int], classes: int = 3) -> Dataset:
    x = np.zeros((len(labels), 1, 2, 2), dtype=np.uint8)
    y = np.asarray(labels, dtype=np.int64)
    return Dataset("tiny", x, y, x[:1], y[:1], classes)


@pytest.mark.parametrize(("logits", "labels"), [
    ([0.0, 0.0, 0.0], [0, 1, 2]),
    ([2.0, 0.0, -1.0], [0, 0, 1]),
    ([50.0, 0.0, 0.0], [0, 2]),  # large logits: no overflow
])
def test_training_loss_is_the_mean_cross_entropy(logits: list[float], labels: list[int]) -> None:
    expected = float(torch.nn.functional.cross_entropy(
        torch.tensor(logits).expand(len(labels), -1), torch.tensor(labels)))
    assert training_loss(_Logits(logits), _data(labels)) == pytest.approx(expected, rel=1e-6)
    if logits == [0.0, 0.0, 0.0]:
        assert training_loss(_Logits(logits), _data(labels)) == pytest.approx(math.log(3))


@pytest.mark.parametrize(("losses", "kept"), [
    ([0.5, 0.3, 0.4], 1),
    ([0.3, 0.3, 0.4], 0),  # ties: the first
    ([0.7], 0),
])
def test_the_lowest_training_loss_wins(losses: list[float], kept: int) -> None:
    trials = [ShapeTrial({"a": 8 * (i + 1)}, loss) for i, loss in enumerate(losses)]
    assert best_trial(trials) is trials[kept]


def test_nothing_to_try_is_refused() -> None:
    with pytest.raises(PruneError, match="no shape trials"):
        best_trial([])
    with pytest.raises(PruneError, match="no shapes to try"):
        try_shapes(torch.nn.Linear(1, 1), {}, [], _data([0]), lambda m: None)


@pytest.mark.parametrize("tune_epochs", [0, 1])
def test_each_shape_is_cut_from_a_copy_tuned_and_scored(trained, tune_epochs: int) -> None:
    model, data = trained
    model = copy.deepcopy(model)
    groups = channel_groups(model, data.input_shape)
    scores = channel_importance(model, groups, "l1")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    shapes = [{"features.0": 32, "features.3": 16}, {"features.0": 16, "features.3": 32},
              {"features.0": 48, "features.3": 8}]
    tuned: list[dict[str, int]] = []

    def tune(cut: torch.nn.Module) -> None:
        tuned.append(channel_counts(cut, data.input_shape))
        if tune_epochs:
            train_model(cut, data, epochs=tune_epochs, batch_size=64, lr=0.02, seed=1,
                        progress=False)

    trials = try_shapes(model, scores, shapes, data, tune)
    assert tuned == shapes  # every shape tuned once, in order, already cut
    assert [t.counts for t in trials] == shapes
    assert all(np.isfinite(t.train_loss) and t.train_loss > 0 for t in trials)
    # the model itself is left as it was
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    # each score is the tuned copy's training loss: a trial repeated scores the same
    again = try_shapes(model, scores, shapes[:1], data, tune)
    assert again[0].train_loss == trials[0].train_loss
    if tune_epochs:  # the score is taken after the tune: training lowers it on every shape
        untuned = try_shapes(model, scores, shapes, data, lambda cut: None)
        assert all(t.train_loss < u.train_loss for t, u in zip(trials, untuned, strict=True))
