"""The public API is curated: these names, and no others, are what `codesign` and each
subpackage export. Changing the surface means changing this test on purpose (as httpx does)."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "codesign": [
        "Board", "CodesignError", "FlowConfig", "FlowResult", "FoldingConfig", "PruneConfig",
        "RunResult", "SimulateConfig", "SpaceConfig", "__version__", "build_model",
        "build_user_model", "compile_to_hw", "estimate", "explore", "export_qonnx",
        "fold_for_board", "fold_model", "list_boards", "load_board", "load_dataset", "load_flow",
        "load_space", "parse_flow", "prune_model",
        "run_flow", "simulate_hardware", "simulate_run", "train_model", "verify_against",
        "with_pruning",
    ],
    "codesign.cli": ["EXIT_USER_ERROR", "app", "main"],
    "codesign.flow": [
        "AcceleratorResult", "Accuracy", "FlowResult", "FoldingOutcome", "PruneOutcome",
        "RunResult", "StageTimer", "build_accelerator", "build_user_model", "fold_model",
        "load_flow_data", "load_trained_model", "prune_stage", "reference_outputs", "run_flow",
        "run_sensitivity", "simulate_run", "train_flow_model", "with_pruning",
    ],
    "codesign.folding": [
        "BudgetCheck", "Candidate", "FoldingPlan", "FoldingSpace", "LayerSpace", "Link",
        "ResourceUse", "Tie", "brute_force", "check_board", "check_budget", "divisors",
        "explain_infeasible",
        "fits", "gap_note", "maximize_throughput", "minimize_resources", "pareto_front", "prune_dominated",
        "within",
    ],
    "codesign.finn": [
        "Estimates", "HWGraph", "LayerEstimate", "LayerFolding", "Verification",
        "apply_folding_config", "apply_folding_file", "apply_setfolding", "check_folding_legal",
        "compile_to_hw", "estimate", "execute_hw", "layer_foldings", "read_folding",
        "verify_against", "write_build_config", "write_fifo_config", "write_folding_config",
    ],
    "codesign.models": ["ARCHS", "build_model"],
    "codesign.prune": [
        "CRITERIA", "ChannelGroup", "LayerCost", "ModelCost", "PruneResult", "StepRecord",
        "channel_counts", "channel_groups", "channel_importance", "keep_top", "model_cost",
        "prune_channels", "prune_model", "shrink_to_counts", "weight_layers", "weight_sparsity",
    ],
    "codesign.sim": [
        "ChainResult", "Divergence", "FifoDepth", "LayerSim", "PipelineSim", "SimulationStalled",
        "StageResult", "StreamCheck", "cache_dir", "check_simulation", "check_streams",
        "find_verilator", "render_simulation_markdown", "simulate_chain", "simulate_hardware",
        "simulate_layers", "simulate_pipeline", "write_simulation",
    ],
}


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_exported_names_are_pinned(package: str) -> None:
    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(PUBLIC[package])


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_every_exported_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    missing = [name for name in module.__all__ if getattr(module, name, None) is None]
    assert not missing, f"{package} lists names it does not provide: {missing}"


def test_importing_codesign_does_not_import_torch_or_finn() -> None:
    import subprocess
    import sys

    code = ("import sys, codesign, codesign.cli; "
            "print(sorted(m for m in ('torch', 'finn', 'brevitas', 'qonnx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
