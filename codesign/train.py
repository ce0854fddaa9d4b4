"""Quantization-aware training: a small, deterministic loop over uint8 datasets.

Same seed, same data, same thread count -> bit-identical weights on the same kind of machine:
the batch order comes from a seeded torch.Generator, and torch is put into deterministic mode
where it supports one. Across kinds of CPU torch's kernels round differently, so the weights
differ (`machine` records what a run was trained on)."""

from __future__ import annotations

import math
import platform
import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.augment import shift_samples
from codesign.checkpoint import save_checkpoint
from codesign.data import Dataset
from codesign.errors import ConfigError, ModelError

if TYPE_CHECKING:
    import torch
    from rich.console import Console
    from torch import nn

OPTIMIZERS = ("adam", "adamw", "sgd")
# The final train accuracy is measured on the first samples of the (shuffled) training set:
# on 60k Fashion-MNIST images a full pass would cost as much as a training epoch.
TRAIN_EVAL_SAMPLES = 10_000


@dataclass(frozen=True)
class TrainResult:
    epochs: int
    seconds: float
    train_accuracy: float  # eval mode, after the last epoch, on up to TRAIN_EVAL_SAMPLES samples
    test_accuracy: float
    history: tuple[dict, ...]  # per epoch: epoch, loss, train_acc (running), test_acc, seconds, lr


def machine() -> dict[str, Any]:
    """What trained weights depend on besides seed, data and settings: the CPU, the vector
    instructions torch's kernels use on it, the thread count and torch's version. The same flow
    and seed reproduce on the same kind of machine, not across kinds: the default flow gives
    93.70 % top-1 on one machine, 94.10 % on an AMD EPYC (AVX2), 1 or 2 threads alike."""
    import torch

    return {"cpu": _cpu_name(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "threads": torch.get_num_threads(), "torch": torch.__version__,
            "system": platform.system(), "architecture": platform.machine()}


def _cpu_name() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo), else what the platform says."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch; ask torch for deterministic kernels (warn, don't fail)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def predict(model: nn.Module, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Logits (float32, shape (N, classes)) of `model` in eval mode on uint8 images `x`."""
    import torch

    outputs = []
    with _eval_mode(model), torch.no_grad():
        for start in range(0, len(x), batch_size):
            batch = torch.from_numpy(np.asarray(x[start: start + batch_size], dtype=np.float32))
            outputs.append(model(batch).float().numpy())
    if not outputs:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(outputs).astype(np.float32)


def _float32_scale(_module: Any, _inputs: Any, scale: Any) -> Any:
    return scale.float().to(scale.dtype)


def reference_outputs(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """The Brevitas model's outputs on uint8 images `x`, computed exactly: the reference that
    the exported graph and the hardware must reproduce bit-exactly.

    Exactly means: the numbers the float32 model uses (its parameters, and the quantizer scales
    it derives from them, which is what the export writes) in float64 arithmetic, which is
    exact to ~1e-16 here. Evaluated in float32, a pre-activation within a few float32 ulps of a
    quantisation boundary rounds either way, not even the same way at every position of one
    tensor (measured: a stem BatchNorm output 2.4e-7 steps from a boundary). A plain float64
    copy is no better: it derives every scale anew in float64 (14 of ResNet-8's 19 differ from
    the float32 ones, by up to 3e-8), a slightly different model; so here each quantizer's
    scale is rounded to float32 as the float32 model computes it (one correctly rounded
    division, so rounding the float64 quotient gives the same float32 number)."""
    import copy

    import torch

    reference = copy.deepcopy(model).double().eval()
    for name, module in reference.named_modules():
        if name.rsplit(".", 1)[-1] == "scaling_impl":  # a Brevitas quantizer's scale
            module.register_forward_hook(_float32_scale)
    with torch.no_grad():
        return reference(torch.from_numpy(np.asarray(x, dtype=np.float64))).numpy()


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> float:
    """Top-1 accuracy in [0, 1]."""
    if len(x) == 0:
        return 0.0
    return float(np.mean(predict(model, x, batch_size).argmax(axis=1) == np.asarray(y)))


def _make_optimizer(model: nn.Module, name: str, lr: float, weight_decay: float) -> Any:
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    raise ConfigError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def _check_input_shape(model: nn.Module, dataset: Dataset) -> None:
    expected = getattr(model, "input_shape", None)
    if expected is not None and tuple(expected) != dataset.input_shape:
        raise ModelError(
            f"the model was built for inputs {tuple(expected)} but dataset {dataset.name} has "
            f"{dataset.input_shape} ({_shape_kind(dataset)}); build it with "
            "input_shape=dataset.input_shape"
        )


def _shape_kind(dataset: Dataset) -> str:
    return "(C, H, W) images" if len(dataset.input_shape) == 3 else "(C, L) sequences"


def _cosine_lr(base_lr: float, step: int, total_steps: int) -> float:
    # Cosine decay to 0 over the whole run; QAT settles its scales best on a decaying LR.
    return 0.5 * base_lr * (1.0 + math.cos(math.pi * step / max(1, total_steps)))


@dataclass(frozen=True)
class Teacher:
    """Knowledge distillation: a frozen model whose outputs, softened at `temperature`, the
    student learns besides the labels; `weight` of the loss comes from them (Hinton et al.'s
    KL term, scaled by temperature² so its gradients keep their size)."""

    model: nn.Module
    weight: float
    temperature: float

    def blend(self, label_loss: torch.Tensor, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        import torch
        import torch.nn.functional as F

        with torch.no_grad(), _eval_mode(self.model):
            target = F.softmax(self.model(x) / self.temperature, dim=1)
        soft = F.kl_div(F.log_softmax(logits / self.temperature, dim=1), target,
                        reduction="batchmean") * self.temperature ** 2
        return (1 - self.weight) * label_loss + self.weight * soft


def train_model(
    model: nn.Module,
    dataset: Dataset,
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float = 1e-2,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    seed: int = 0,
    checkpoint: Path | None = None,
    progress: bool = True,
    teacher: Teacher | None = None,
    shift_pixels: int = 0,
    after_step: Callable[[int, int], None] | None = None,
) -> TrainResult:
    """Train with cross-entropy (blended with a teacher's softened outputs when given) and a
    per-step cosine LR schedule; checkpoint after every epoch. With `shift_pixels`, every
    training sample is moved by up to that many pixels per batch (codesign.augment).
    `after_step(done, total)` runs after every optimizer step (done counts from 1)."""
    import torch

    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise ConfigError(
            f"need epochs >= 1, batch_size >= 1 and lr > 0 (got {epochs}, {batch_size}, {lr})"
        )
    if not 0 <= shift_pixels < min(dataset.input_shape[1:]):
        raise ConfigError(f"shift_pixels: {shift_pixels} must be 0 (off) or a positive number of "
                          f"pixels below the input's size {dataset.input_shape[1:]}; lower "
                          "train.shift_pixels (or prune.finetune_shift_pixels for the fine-tunes)")
    _check_input_shape(model, dataset)
    opt = _make_optimizer(model, optimizer, lr, weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss()
    x_all = torch.from_numpy(dataset.x_train.astype(np.float32))
    y_all = torch.from_numpy(dataset.y_train.astype(np.int64))
    n = len(y_all)
    # A trailing batch of one sample would make BatchNorm fail in training mode: drop it.
    steps_per_epoch = n // batch_size + (1 if n % batch_size > 1 else 0)
    total_steps = steps_per_epoch * epochs
    generator = torch.Generator().manual_seed(seed)
    shifts = torch.Generator().manual_seed(seed)  # apart, so the batch order stays the seed's
    history: list[dict] = []
    start = time.perf_counter()
    step = 0
    with _progress(progress, epochs, steps_per_epoch) as bar:
        for epoch in range(1, epochs + 1):
            epoch_start = time.perf_counter()
            model.train()
            order = torch.randperm(n, generator=generator)
            loss_sum, correct, seen = 0.0, 0, 0
            for b in range(steps_per_epoch):
                idx = order[b * batch_size: (b + 1) * batch_size]
                xb, yb = shift_samples(x_all[idx], shift_pixels, shifts), y_all[idx]
                for group in opt.param_groups:
                    group["lr"] = _cosine_lr(lr, step, total_steps)
                opt.zero_grad(set_to_none=True)
                logits = model(xb)
                loss = loss_fn(logits, yb)
                if teacher is not None:
                    loss = teacher.blend(loss, logits, xb)
                loss.backward()
                opt.step()
                step += 1
                if after_step is not None:
                    after_step(step, total_steps)
                loss_sum += loss.item() * len(yb)
                correct += int((logits.argmax(dim=1) == yb).sum())
                seen += len(yb)
                bar.advance_batch(epoch, loss_sum / seen)
            test_acc = evaluate(model, dataset.x_test, dataset.y_test)
            record = {"epoch": epoch, "loss": loss_sum / max(1, seen),
                      "train_acc": correct / max(1, seen), "test_acc": test_acc,
                      "seconds": time.perf_counter() - epoch_start, "lr": opt.param_groups[0]["lr"]}
            history.append(record)
            bar.end_epoch(record)
            if checkpoint is not None:
                save_checkpoint(model, checkpoint, {"epoch": epoch, "seed": seed,
                                                    "history": history})
    train_acc = evaluate(model, dataset.x_train[:TRAIN_EVAL_SAMPLES],
                         dataset.y_train[:TRAIN_EVAL_SAMPLES])
    return TrainResult(epochs=epochs, seconds=time.perf_counter() - start,
                       train_accuracy=train_acc, test_accuracy=history[-1]["test_acc"],
                       history=tuple(history))


class _Bar:
    """Rich progress over epochs and batches; a no-op when progress is off."""

    def __init__(self, progress: Any, epochs: int, steps: int) -> None:
        self.progress = progress
        if progress is not None:
            self.epoch_task = progress.add_task("epochs", total=epochs)
            self.batch_task = progress.add_task("epoch 1", total=steps)
        self.steps = steps

    def advance_batch(self, epoch: int, loss: float) -> None:
        if self.progress is not None:
            self.progress.update(self.batch_task, advance=1,
                                 description=f"epoch {epoch} loss {loss:.3f}")

    def end_epoch(self, record: dict) -> None:
        if self.progress is not None:
            self.progress.update(self.epoch_task, advance=1,
                                 description=f"epochs (test acc {record['test_acc']:.2%})")
            self.progress.reset(self.batch_task, total=self.steps)


@contextmanager
def _progress(enabled: bool, epochs: int, steps: int) -> Iterator[_Bar]:
    """Live bars on stderr, beside the command line's stage lines, erased when training ends.

    None where they cannot be drawn live (stderr piped into a file or a CI log): rich draws
    nothing there but still ends every Progress with an empty line."""
    console = _live_console() if enabled else None
    if console is None:
        yield _Bar(None, epochs, steps)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    # print() output goes above the bars only when it is bound for the same terminal.
    redirect_stdout = sys.stdout is not None and sys.stdout.isatty()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True,
                  redirect_stdout=redirect_stdout) as progress:
        yield _Bar(progress, epochs, steps)


def _live_console() -> Console | None:
    """A console on stderr if it can redraw progress bars in place, else None."""
    from rich.console import Console

    console = Console(stderr=True)
    return console if console.is_interactive or console.is_jupyter else None
