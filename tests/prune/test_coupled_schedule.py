"""The hardware-aware schedule end to end on residual, depthwise-separable and 1-D models
(sklearn digits, Pynq-Z2): one Taylor-scored step to 30 % fewer MACs, counts on the board's
granularity, coupled groups cut as one, and the pruned model still bit-exact in FINN."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from codesign.boards import load_board
from codesign.config import PruneConfig, TrainConfig
from codesign.prune import channel_counts, channel_groups
from codesign.prune.schedule import prune_model

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("single_thread")]
TRAIN = TrainConfig(epochs=1, batch_size=64, lr=0.02)
MODELS = {"resnet": {"preset": "resnet-small"}, "mobilenet": {"preset": "mobilenet-small"},
          "cnn1d": {"channels": [8, 16], "fc": [16], "pool_every": 0}}


@pytest.mark.parametrize("arch", sorted(MODELS))
def test_one_step_prunes_coupled_groups_to_the_boards_granularity(arch: str,
                                                                   tmp_path: Path) -> None:
    from codesign.data import load_dataset
    from codesign.export import export_qonnx
    from codesign.finn import apply_setfolding, compile_to_hw, verify_against
    from codesign.flow import reference_outputs
    from codesign.models import build_model
    from codesign.train import set_seed, train_model

    data = load_dataset("digits", seed=0, limit_train=400, limit_test=100,
                        **({"sequence": "rows"} if arch == "cnn1d" else {}))
    set_seed(0)
    model = build_model(arch, input_shape=data.input_shape, num_classes=10, weight_bits=4,
                        act_bits=4, **MODELS[arch])
    train_model(model, data, epochs=2, batch_size=64, lr=0.02, seed=0, progress=False)
    groups = channel_groups(model, data.input_shape)
    board = load_board("pynq-z2")
    pruned = copy.deepcopy(model)
    result = prune_model(pruned, data, board,
                         PruneConfig(criterion="taylor", budget="sparsity", target_sparsity=0.3,
                                     steps=1, finetune_epochs=1, final_epochs=0, fold_search=0),
                         TRAIN, workdir=tmp_path / "prune", progress=False)
    assert result.budget_met, result.budget_note
    assert result.final.macs <= 0.7 * result.baseline.macs * (1 + 1e-9)
    assert result.members == {g.name: g.members for g in groups}
    counts, grain = result.final.counts, result.final.granularity
    assert set(counts) == {g.name for g in groups}
    assert all(counts[n] % grain[n] == 0 and counts[n] >= 1 for n in counts)
    assert channel_counts(pruned, data.input_shape) == counts
    pruned.eval()  # the pruned, fine-tuned model compiles and is bit-exact
    hw = compile_to_hw(export_qonnx(pruned, data.input_shape, tmp_path / "m.onnx"),
                       part=board.part, clock_mhz=board.clock_mhz, workdir=tmp_path / "finn")
    x = np.asarray(data.x_test[:8], dtype=np.float32)
    check = verify_against(apply_setfolding(hw, target_fps=10_000), x, reference_outputs(pruned, x))
    assert check.passed and check.matched == len(x), check.details
