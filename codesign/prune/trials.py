"""Shape trials: among kept-count shapes that fold to the same FPS, keep the one that trains best.

The fold search ranks shapes by FPS alone, and several often fold to exactly the same FPS (a
folding moves in whole steps): its tie-break (the first shape found) knows nothing of accuracy.
ResNet-8 / Pynq-Z2 at 71.3-72.1 % of the MACs removed (AVX512 EPYC, 13 seeds,
benchmarks/pruning_shape_trials.py): 6 seeds have 2-5 such shapes; on seed 8 the two at
25,510 FPS, 8-4-28-8-40-64 (the search's pick) and 8-4-28-12-40-48, reach 81.84 and 82.95 %
top-1 on 8,000 test images no step sees after the same 3-epoch fine-tune, and the trials keep
the second. Over the 13 seeds the trials' pick gains +0.09 pt held out on average (median 0,
never less than the search's pick); the best shape in hindsight would gain +0.12.

A trial cuts a copy of the model to one shape (the highest-scored channels kept), fine-tunes
it as the step would (`tune`), and scores it by its cross-entropy on the training set (eval
mode, no augmentation, labels only): at one FPS and about one MAC count, the shape whose
fine-tune fits the training data best. No test image is looked at. Ties: the first shape."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.errors import PruneError
from codesign.prune.surgery import keep_top, prune_channels
from codesign.train import predict

if TYPE_CHECKING:
    from torch import nn

    from codesign.data import Dataset


@dataclass(frozen=True)
class ShapeTrial:
    counts: dict[str, int]
    train_loss: float  # cross-entropy on the training set after the trial's fine-tune

    def to_dict(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "train_loss": self.train_loss}


def training_loss(model: nn.Module, data: Dataset, batch_size: int = 256) -> float:
    """Mean cross-entropy of `model`'s logits on the training set (eval mode, labels only)."""
    import torch

    logits = predict(model, data.x_train, batch_size).astype(np.float64)
    if len(logits) == 0:
        raise PruneError("the training set is empty: a shape trial has nothing to score")
    labels = np.asarray(data.y_train, dtype=np.int64)
    return float(torch.nn.functional.cross_entropy(torch.from_numpy(logits),
                                                    torch.from_numpy(labels)))


def try_shapes(model: nn.Module, scores: Mapping[str, np.ndarray],
               shapes: Sequence[Mapping[str, int]], data: Dataset,
               tune: Callable[[nn.Module], None]) -> list[ShapeTrial]:
    """One trial per shape, in order, each on its own copy of `model` (left as it is)."""
    if not shapes:
        raise PruneError("no shapes to try: give at least one kept-count shape")
    trials = []
    for counts in shapes:
        cut = copy.deepcopy(model)
        prune_channels(cut, keep_top(scores, counts), data.input_shape)
        tune(cut)
        trials.append(ShapeTrial(dict(counts), training_loss(cut, data)))
    return trials


def best_trial(trials: Sequence[ShapeTrial]) -> ShapeTrial:
    """The trial with the lowest training loss (ties: the first)."""
    if not trials:
        raise PruneError("no shape trials to choose from")
    return min(trials, key=lambda t: t.train_loss)
