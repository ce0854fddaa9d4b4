"""The stages every flow shares before the hardware: timing, data, the trained model and its
float64 reference outputs.

A flow run (`run_flow`), the pruning benchmarks and the simulation of a finished run all load
data and build models through these functions, so a finished run is rebuilt exactly as it was
trained."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codesign.checkpoint import load_checkpoint, save_checkpoint
from codesign.config import FlowConfig
from codesign.data import Dataset, load_dataset
from codesign.models import build_model
from codesign.models.user import build_user_module
from codesign.prune.schedule import check_before_training
from codesign.train import TrainResult, set_seed, train_model

if TYPE_CHECKING:
    from torch import nn

CHECKPOINT = "model.pt"
UNPRUNED_CHECKPOINT = "model_unpruned.pt"


@dataclass
class StageTimer:
    """Wall time per named stage, in the order the stages ran."""

    seconds: dict[str, float] = field(default_factory=dict)
    on_stage: Callable[[str], None] | None = None

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self.on_stage:
            self.on_stage(name)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


def load_flow_data(flow: FlowConfig) -> Dataset:
    """The flow's dataset, split with the flow's seed."""
    ds = flow.dataset
    return load_dataset(ds.name, path=ds.path, test_fraction=ds.test_fraction, seed=flow.seed,
                        limit_train=ds.limit_train, limit_test=ds.limit_test, sequence=ds.sequence)


def build_flow_model(flow: FlowConfig, data: Dataset) -> nn.Module:
    """The flow's (untrained) Brevitas model for `data`: the zoo's, or the user's module."""
    m = flow.model
    if m.module is not None:
        return build_user_module(m.module, data.input_shape, data.num_classes)
    return build_model(m.arch, input_shape=data.input_shape, num_classes=data.num_classes,
                       weight_bits=m.weight_bits, act_bits=m.act_bits, **m.options)


def train_flow_model(flow: FlowConfig, out_dir: Path, *, progress: bool = True,
                     timer: StageTimer | None = None) -> tuple[nn.Module, Dataset, TrainResult]:
    """Load the flow's dataset and train its model (checkpoint in out_dir/model.pt).
    Returns (model, dataset, TrainResult)."""
    import torch

    timer = timer or StageTimer()
    with timer.stage("data"):
        data = load_flow_data(flow)
    with timer.stage("train"):
        torch.set_num_threads(flow.train.threads)
        set_seed(flow.seed)
        model = build_flow_model(flow, data)
        if flow.prune is not None:
            check_before_training(model, data.input_shape, flow.prune)
        t = flow.train
        trained = train_model(model, data, epochs=t.epochs, batch_size=t.batch_size, lr=t.lr,
                              optimizer=t.optimizer, weight_decay=t.weight_decay, seed=flow.seed,
                              shift_pixels=t.shift_pixels,
                              checkpoint=out_dir / CHECKPOINT, progress=progress)
    return model, data, trained


def save_trained_model(model: nn.Module, path: Path, flow: FlowConfig, **meta: Any) -> None:
    """The checkpoint of a flow's model, with the flow's seed in its meta."""
    save_checkpoint(model, path, {"seed": flow.seed, **meta})


def load_trained_model(flow: FlowConfig, data: Dataset, run_dir: Path) -> nn.Module:
    """The model a finished run of `flow` left in `run_dir` (pruned or not), in eval mode."""
    model = build_flow_model(flow, data)
    load_checkpoint(model, run_dir / CHECKPOINT, data.input_shape)
    return model.eval()
