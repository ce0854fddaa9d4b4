"""codesign's settings against Torch-Pruning at Torch-Pruning's landing point, on one picture:
FPS within the caps (codesign / TP) against top-1 (codesign minus TP), per seed and as medians.

Each input is a JSON of benchmarks/pruning_torch_pruning.py combined with an `--aligned-at-tp`
run (rows with `aligned_at_tp`: codesign's schedule with one flow setting, its target set to
where Torch-Pruning landed). Per setting and seed: the FPS ratio, top-1 codesign minus TP on the
flow's test set and on the held-out images, the kept counts; per setting the medians, the mean
held-out difference and the seeds at or above TP held out. The goal of issue 20 is the shaded
corner: x1.1 or more at no worse accuracy.

Usage: python3 benchmarks/pruning_tp_tradeoff.py --runs "shipped=a.json" "stream>=12=b.json" ...
         [--variant tp-magnitude8] --out benchmarks/results/x.json

Last run (8 Dec 2026, AVX512 EPYC; the user's 1-D ResNet at TP's 70.0 %, seeds 0-7;
pruning_tp_tradeoff_user_res1d_avx512.{json,png}): see docs/pruning-measurements.md, "A
user's 1-D ResNet".
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from pruning_torch_pruning import RESULTS, VARIANT_NAMES
from rich.console import Console
from rich.table import Table

from codesign.atomic import atomic_path, write_json
from codesign.prune.fold_search import shape_text

JITTER = 0.006  # FPS ratio between settings drawn at one ratio


def seed_rows(path: Path, variant: str) -> list[dict[str, Any]]:
    """Per seed of the file's one family: codesign at TP's landing point against `variant`."""
    families = json.loads(path.read_text())["families"]
    if len(families) != 1:
        raise SystemExit(f"{path}: one flow per file, found {len(families)}; split the run")
    rows = []
    for row in families[0]["rows"]:
        ours, theirs = row.get("aligned_at_tp"), row.get(variant)
        if ours is None or theirs is None:
            raise SystemExit(f"{path}: seed {row['seed']} lacks aligned_at_tp or {variant}; "
                             "combine the --aligned-at-tp run with the Torch-Pruning rows")
        rows.append({"seed": row["seed"], "counts": ours["counts"], "tp_counts": theirs["counts"],
                     "macs_removed": ours["macs_reduction"], "tp_macs_removed": theirs["macs_reduction"],
                     "fps_ratio": ours["fps"] / theirs["fps"],
                     "test_points": 100 * (ours["accuracy"] - theirs["accuracy"]),
                     "held_out_points": 100 * (ours["held_out"]["accuracy"]
                                               - theirs["held_out"]["accuracy"])})
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    held = [r["held_out_points"] for r in rows]
    return {"seeds": len(rows),
            "median_fps_ratio": statistics.median(r["fps_ratio"] for r in rows),
            "median_test_points": statistics.median(r["test_points"] for r in rows),
            "median_held_out_points": statistics.median(held),
            "mean_held_out_points": statistics.mean(held),
            "held_out_at_or_above": sum(h >= 0 for h in held),
            "at_least_1_1": sum(r["fps_ratio"] >= 1.1 - 1e-9 for r in rows)}


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9.0, 6.4))
    settings = report["settings"]
    xs = [r["fps_ratio"] for s in settings for r in s["rows"]]
    ys = [r["held_out_points"] for s in settings for r in s["rows"]]
    right, top = max(xs + [1.2]) + 0.06, max(ys + [0.3]) + 0.2
    ax.fill_between([1.1, right], 0, top, color="tab:green", alpha=0.12,
                    label="the goal: x1.1 or more at no worse accuracy")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.axvline(1.1, color="gray", linestyle="--", linewidth=1)
    for k, s in enumerate(settings):
        colour = f"C{k}"
        shift = (k - (len(settings) - 1) / 2) * JITTER  # settings at one FPS ratio side by side
        ax.scatter([r["fps_ratio"] + shift for r in s["rows"]],
                   [r["held_out_points"] for r in s["rows"]], s=18, color=colour, alpha=0.5)
        m = s["summary"]
        ax.scatter([m["median_fps_ratio"] + shift], [m["median_held_out_points"]], s=110, marker="D",
                   color=colour, edgecolor="black", zorder=3,
                   label=f"{s['name']}: x{m['median_fps_ratio']:.2f}, "
                         f"{m['median_held_out_points']:+.2f} pt (median)")
    ax.set_xlim(min(xs + [1.0]) - 0.06, right)
    ax.set_ylim(min(ys) - 0.2, top)
    ax.set_xlabel(f"FPS within the caps, codesign / Torch-Pruning {report['variant']}")
    ax.set_ylabel("top-1 held out, codesign minus TP (points)")
    ax.set_title(f"{report['flow']} at Torch-Pruning's landing point\n"
                 "dots: seeds; diamonds: medians (settings at one FPS ratio drawn side by side)",
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def print_report(console: Console, report: dict[str, Any]) -> None:
    table = Table(title=f"{report['flow']}: codesign at Torch-Pruning's landing point, "
                        f"against {report['variant']}")
    for col in ("setting", "seeds", "kept counts (per seed)", "FPS x (median)", "x1.1 or more",
                "test pt (median)", "held out pt (median / mean)", "held out >= TP"):
        table.add_column(col, justify="right")
    for s in report["settings"]:
        m = s["summary"]
        shapes = sorted({shape_text(r["counts"]) for r in s["rows"]})
        table.add_row(s["name"], str(m["seeds"]), ", ".join(shapes), f"x{m['median_fps_ratio']:.2f}",
                      f"{m['at_least_1_1']} of {m['seeds']}", f"{m['median_test_points']:+.2f}",
                      f"{m['median_held_out_points']:+.2f} / {m['mean_held_out_points']:+.2f}",
                      f"{m['held_out_at_or_above']} of {m['seeds']}")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="+", required=True, metavar="NAME=JSON",
                        help="a setting's name and its combined pruning_torch_pruning JSON")
    parser.add_argument("--variant", choices=VARIANT_NAMES, default="tp-magnitude8")
    parser.add_argument("--out", type=Path, default=RESULTS / "pruning_tp_tradeoff.json")
    args = parser.parse_args()
    settings, flows = [], set()
    for run in args.runs:
        name, sep, file = run.rpartition("=")
        if not sep or not name:
            raise SystemExit(f"--runs {run!r}: write NAME=JSON, e.g. shipped=results/a.json")
        path = Path(file)
        flows.add(json.loads(path.read_text())["families"][0]["flow"])
        rows = seed_rows(path, args.variant)
        settings.append({"name": name, "file": path.name, "rows": rows, "summary": summary(rows)})
    if len(flows) != 1:
        raise SystemExit(f"--runs: one flow for every run, found {sorted(flows)}")
    report = {"benchmark": "pruning_tp_tradeoff", "flow": flows.pop(), "variant": args.variant,
              "settings": settings}
    write_json(args.out, report)
    plot(report, args.out.with_suffix(".png"))
    print_report(Console(width=200), report)


if __name__ == "__main__":
    main()
