"""The pruning section of report.md: its settings table and its step-by-step schedule."""

from __future__ import annotations

import dataclasses

import pytest

from codesign.config import PruneConfig
from codesign.prune.report import prune_section, render_prune_markdown


def _step(step: int, macs: int) -> dict:
    res = {"LUT": 10.0 * macs, "BRAM_18K": 4.0, "URAM": 0.0, "DSP": 0.0}
    return {"step": step, "counts": {"a": macs // 10}, "granularity": {"a": 8}, "params": macs,
            "macs": macs, "bops": 4 * macs, "accuracy": 0.9, "seconds": 1.0, "search": None,
            "hardware": {"fps": 1000.0, "bottleneck": "a", "resources_at_reference": res,
                         "fps_at_reference": None, "reference_note": "n"}}


def _markdown(steps: list[int], settings: dict) -> str:
    result = {"steps": [_step(n, 1000 - 100 * n) for n in steps], "budget": "sparsity",
              "budget_met": True, "budget_note": "removed 60 %", "seconds": 1.0}
    return "\n".join(render_prune_markdown(prune_section(result, settings, 1000.0, None)))


def _schedule_steps(md: str) -> list[str]:
    table = md.split("### Schedule")[1].split("\n\n")[1]
    return [line.split(" | ")[0].removeprefix("| ") for line in table.splitlines()[2:]]


def test_settings_are_a_table_of_plain_values() -> None:
    settings = dataclasses.asdict(PruneConfig(step_sparsity=(0.2, 0.5), steps=2,
                                              target_fps=100_000.0,
                                              layer_max_sparsity={"l0": 0.5, "l2": 0}))
    md = _markdown([0, 1, 2, 3], settings)
    assert "{" not in md and "'criterion'" not in md
    assert "| setting | value |" in md
    assert "| criterion | taylor |" in md
    assert "| step_sparsity | 0.2, 0.5 |" in md
    assert "| finetune_lr | — |" in md
    assert "| target_fps | 100,000 |" in md
    assert "| align | true |" in md and "| step_fraction | 0.3 |" in md
    assert "| layer_max_sparsity | l0=0.5, l2=0 |" in md
    assert "| layer_max_sparsity | — |" in _markdown([0, 1], dataclasses.asdict(PruneConfig()))


def test_skipped_steps_are_named_with_the_reason() -> None:
    md = _markdown([0, 1, 2, 3, 5, 6], {})
    assert _schedule_steps(md) == ["0", "1", "2", "3", "5", "6"]
    assert "Skipped step 4: at that step the model's MACs were already at or below" in md
    assert "Skipped steps 2, 4:" in _markdown([0, 1, 3, 5], {})


def test_a_schedule_without_gaps_has_no_note() -> None:
    assert "Skipped" not in _markdown([0, 1, 2], {})


def test_the_final_fine_tune_is_labelled() -> None:
    """With final_epochs, the last record is the final fine-tune (numbered after the last
    pruning step), not a pruning step."""
    assert _schedule_steps(_markdown([0, 1, 3, 4], {"final_epochs": 2}))[-1] == "4 (final fine-tune)"
    assert _schedule_steps(_markdown([0, 1, 2], {"final_epochs": 0}))[-1] == "2"


def test_a_coupled_group_is_shown_by_its_member_layers() -> None:
    result = {"steps": [_step(n, 1000 - 100 * n) for n in (0, 1)], "budget": "sparsity",
              "budget_met": True, "budget_note": "removed 10 %", "seconds": 1.0,
              "members": {"a": ["a", "blocks.0.conv2", "blocks.1.shortcut.0"]}}
    md = "\n".join(render_prune_markdown(prune_section(result, {}, 1000.0, None)))
    assert "| channels a + blocks.0.conv2 + blocks.1.shortcut.0 | 100 | 90 |" in md
    single = "\n".join(render_prune_markdown(prune_section({**result, "members": {}}, {},
                                                           1000.0, None)))
    assert "| channels a | 100 | 90 |" in single


def _searched(trials: list[dict] | None, workers: int = 1, evaluated: int = 5) -> str:
    step = _step(1, 900)
    step["counts"] = {"a": 8, "b": 4}
    step["search"] = {"allocated": {"a": 8, "b": 8}, "fps_allocated": 900.0,
                      "chosen": {"a": 8, "b": 8}, "fps": 1000.0, "evaluated": evaluated,
                      "moves": ["b 8 -> 4"], "ties": [{"a": 8, "b": 8}, {"a": 8, "b": 4}],
                      "seconds": 12.4, "workers": workers,
                      **({"trials": trials} if trials is not None else {})}
    result = {"steps": [_step(0, 1000), step], "budget": "sparsity", "budget_met": True,
              "budget_note": "removed 10 %", "seconds": 1.0}
    return "\n".join(render_prune_markdown(prune_section(result, {}, 1000.0, None)))


@pytest.mark.parametrize("trials", [None, [{"counts": {"a": 8, "b": 8}, "train_loss": 0.512},
                                           {"counts": {"a": 8, "b": 4}, "train_loss": 0.498}]])
def test_shape_trials_are_listed_with_their_losses_and_the_kept_shape(trials) -> None:
    line = next(x for x in _searched(trials).splitlines() if x.startswith("- step 1:"))
    assert "5 foldings measured (12 s, 1 process), 900 -> 1,000 FPS: b 8 -> 4" in line
    if trials is None:
        assert "trials" not in line
    else:
        assert line.endswith("shape trials at that FPS (training loss after the fine-tune): "
                             "8-8 0.512, 8-4 0.498; kept 8-4")


@pytest.mark.parametrize(("evaluated", "workers", "text"), [
    (5, 2, "5 foldings measured (12 s, 2 processes)"),
    (5, 8, "5 foldings measured (12 s, 8 processes)"),
    (1, 1, "1 folding measured (12 s, 1 process)"),
])
def test_the_search_line_says_how_long_it_took_in_how_many_processes(
        evaluated: int, workers: int, text: str) -> None:
    line = next(x for x in _searched(None, workers, evaluated).splitlines()
                if x.startswith("- step 1:"))
    assert f"{text}, 900 -> 1,000 FPS" in line
