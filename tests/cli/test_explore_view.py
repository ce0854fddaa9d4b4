"""The live table of `codesign explore` (codesign.cli.explore_view), rendered to text."""

from __future__ import annotations

from rich.console import Console

from codesign.cli.explore_view import progress_table
from codesign.flow.explore import ExploreProgress, TrialRow


def render(progress: ExploreProgress) -> str:
    console = Console(width=160, record=True)
    console.print(progress_table(progress))
    return console.export_text()


def test_the_table_shows_each_state_the_failure_reason_and_the_best_so_far() -> None:
    rows = (TrialRow(0, "done", (("model.weight_bits", 2),), 0.94, 2_040_816.0, 50.5),
            TrialRow(1, "failed", (("model.weight_bits", 3),), reason="ModelError: act_bits=1"),
            TrialRow(2, "cached", (("model.weight_bits", 2),), 0.94, 2_040_816.0, 0.0),
            TrialRow(3, "running", (("prune.target_sparsity", 0.36255),)))
    text = render(ExploreProgress(rows, 24, 3, "local cluster, 2 worker process(es)",
                                  (("accuracy", "max", 0.94), ("lut", "min", 21757.0))))
    assert "3/24 trials finished (local cluster, 2 worker process(es))" in text
    for word in ("done", "failed", "cached", "running", "ModelError: act_bits=1",
                 "target_sparsity=0.363", "2,040,816", "94.00%", "50.5"):
        assert word in text, word
    assert "accuracy 94.00%, lut 21,757" in text


def test_before_any_feasible_design_the_table_says_so() -> None:
    text = render(ExploreProgress((TrialRow(0, "running", ()),), 4, 0, "cluster at tcp://x"))
    assert "none yet" in text
