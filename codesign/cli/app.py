"""The `codesign` command line: a thin client of the library.

Each command parses its options, calls one library function and renders the result. Every
`CodesignError` is printed as a one-line message (no traceback) with a non-zero exit code.
Commands import the orchestration (codesign.flow, which brings numpy and the toolchain
boundaries) and the renderers of its results when they run, so `codesign --help` and
`codesign boards` stay instant."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from codesign.atomic import staged_directory
from codesign.boards import list_boards, load_board
from codesign.cli.boards_view import render_board_detail, render_board_table
from codesign.cli.docker import docker_app
from codesign.config import (
    PRUNE_CRITERIA,
    FlowConfig,
    FoldingConfig,
    SimulateConfig,
    layer_fractions,
    load_flow,
)
from codesign.errors import EXIT_INTERRUPTED, CodesignError, ConfigError, ToolchainMissing

if TYPE_CHECKING:
    from codesign.flow import FlowResult

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="FPGA co-design for quantized neural networks (Brevitas → QONNX → FINN).")
boards_app = typer.Typer(no_args_is_help=True, help="List and inspect FPGA boards.")
app.add_typer(boards_app, name="boards")
app.add_typer(docker_app, name="docker")
# Piped output (CI logs, files) gets a wide console so tables are not squeezed to 80 columns.
console = Console() if sys.stdout.isatty() else Console(width=160)
err_console = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=160)

EXIT_USER_ERROR = 2
CRITERION_HELP = "channel ranking: " + " | ".join(PRUNE_CRITERIA)
WORKERS_HELP = ("processes compiling the pruning fold search's candidates (default: one per "
                "core, up to 8; the results do not depend on it)")


@app.command()
def run(
    flow_file: Annotated[Path, typer.Argument(help="flow YAML file, e.g. flows/tfc_w2a2_mnist5k.yaml")],
    board: Annotated[str | None, typer.Option(help="board name, alias or YAML file")] = None,
    out: Annotated[Path | None, typer.Option(help="output directory (default runs/<flow name>)")] = None,
    seed: Annotated[int | None, typer.Option(help="override the flow's seed")] = None,
    workers: Annotated[int | None, typer.Option(help=WORKERS_HELP)] = None,
    quiet: Annotated[bool, typer.Option(help="no progress bars")] = False,
) -> None:
    """Run a whole co-design flow: train, export, compile with FINN, fold, verify, report."""

    flow = load_flow(flow_file)
    if seed is not None:
        flow = flow.replace(seed=seed)
    _run_and_summarise(flow, board, out, quiet, workers)


def _run_and_summarise(flow: FlowConfig, board: str | None, out: Path | None, quiet: bool,
                       workers: int | None) -> None:
    """Run a flow into a staging directory (earlier results stay intact on failure)."""
    from codesign.flow import run_flow
    from codesign.prune.measure import check_workers

    processes = check_workers(workers)
    the_board = load_board(board or flow.board)
    on_stage = None if quiet else lambda s: err_console.print(f"[dim]» {s}[/dim]")
    _staged_and_summarised(out or Path("runs") / flow.name, lambda staging: run_flow(
        flow, the_board, staging, progress=not quiet, on_stage=on_stage, workers=processes))


def _staged_and_summarised(out_dir: Path, run: Callable[[Path], FlowResult]) -> None:
    """Run into a staging directory that replaces `out_dir` only on success (earlier results
    stay intact), then print the summary. A missing tool (Vivado for hardware outputs,
    Verilator for RTL simulation) still keeps the results that were complete without it."""
    from codesign.cli.render import print_run

    missing_tools: ToolchainMissing | None = None
    with staged_directory(out_dir) as staging:
        try:
            result = run(staging)
        except ToolchainMissing as exc:
            missing_tools = exc
    if missing_tools is not None:
        console.print(f"results without the missing tool's part kept in {out_dir}")
        raise missing_tools
    print_run(console, result.result, out_dir)


@app.command()
def prune(
    flow_file: Annotated[Path, typer.Argument(help="flow YAML file (prune: section optional)")],
    board: Annotated[str | None, typer.Option(help="board name, alias or YAML file")] = None,
    out: Annotated[Path | None, typer.Option(help="output directory (default runs/<flow name>)")] = None,
    criterion: Annotated[str | None, typer.Option(help=CRITERION_HELP)] = None,
    budget: Annotated[str | None, typer.Option(help="sparsity | fps | fit")] = None,
    target_sparsity: Annotated[float | None, typer.Option(help="fraction of MACs to remove")] = None,
    target_fps: Annotated[float | None, typer.Option(help="budget fps: FPS to reach within the caps")] = None,
    steps: Annotated[int | None, typer.Option(help="prune -> fine-tune iterations")] = None,
    align: Annotated[bool | None, typer.Option(help="align kept counts to the board's PE/SIMD")] = None,
    allocation: Annotated[str | None, typer.Option(
        help="hardware (where LUTs/cycles go) | criterion | uniform (baselines)")] = None,
    fold_search: Annotated[int | None, typer.Option(
        help="rounds per step of the fold-in-the-loop count search (0 = off)")] = None,
    fold_shapes: Annotated[int | None, typer.Option(
        help="after the fold search, measure up to this many whole shapes near its counts and "
             "keep the fastest (0 = off)")] = None,
    shape_order: Annotated[str | None, typer.Option(
        help="the order the shape sweep measures its shapes in: importance (least removed "
             "first) | balanced (the narrowest group widest first) | even (around the uniform "
             "cut at the step's fraction, the most even first; of the fastest, the one "
             "nearest that cut is kept)")] = None,
    shape_trials: Annotated[int | None, typer.Option(
        help="fine-tune up to this many of the fold search's equally fast shapes and keep the "
             "one with the lowest training loss (0 = off)")] = None,
    max_overshoot: Annotated[float | None, typer.Option(
        help="budget sparsity: the most of the unpruned MACs the fold search may remove past "
             "the target, e.g. 0.01 (default: 5 % of a step's MACs past its allocation; "
             "with --shape-order even, no deeper than the uniform cut either)")]
    = None,
    fold_targets: Annotated[bool | None, typer.Option(
        help="let the search try each bottleneck's exact folding count (default: budget fps "
             "only)")] = None,
    max_layer_sparsity: Annotated[float | None, typer.Option(
        help="the most of its channels any layer may lose, e.g. 0.5 (1 = no cap)")] = None,
    layer_max_sparsity: Annotated[list[str] | None, typer.Option(
        help="per layer, LAYER=FRACTION (repeatable), e.g. stem.0=0.5; 0 keeps a layer whole")]
    = None,
    seed: Annotated[int | None, typer.Option(help="override the flow's seed")] = None,
    workers: Annotated[int | None, typer.Option(help=WORKERS_HELP)] = None,
    quiet: Annotated[bool, typer.Option(help="no progress bars")] = False,
) -> None:
    """Run a flow with hardware-aware structured pruning (its prune: section or the defaults,
    with these overrides); the report puts the pruned model beside the unpruned one."""
    from codesign.flow.prune import with_pruning

    flow = with_pruning(load_flow(flow_file), criterion=criterion, budget=budget,
                        target_sparsity=target_sparsity, target_fps=target_fps, steps=steps,
                        align=align, allocation=allocation, fold_search=fold_search,
                        fold_shapes=fold_shapes, shape_order=shape_order,
                        shape_trials=shape_trials,
                        max_overshoot=max_overshoot,
                        fold_targets=fold_targets,
                        max_layer_sparsity=max_layer_sparsity,
                        layer_max_sparsity=layer_fractions(layer_max_sparsity))
    if seed is not None:
        flow = flow.replace(seed=seed)
    _run_and_summarise(flow, board, out, quiet, workers)


@app.command()
def sensitivity(
    flow_file: Annotated[Path, typer.Argument(help="flow YAML file")],
    out: Annotated[Path | None, typer.Option(help="output directory (default runs/<flow>-sensitivity)")]
    = None,
    criterion: Annotated[str | None, typer.Option(help=CRITERION_HELP)]
    = None,
    quiet: Annotated[bool, typer.Option(help="no progress bars")] = False,
) -> None:
    """Per-layer pruning sensitivity: train the flow's model, then prune each layer alone by
    25/50/75 % and measure validation accuracy (sensitivity.json + sensitivity.png)."""
    from rich.table import Table

    from codesign.flow.prune import run_sensitivity, with_pruning

    flow = with_pruning(load_flow(flow_file), criterion=criterion)
    out_dir = out or Path("runs") / f"{flow.name}-sensitivity"
    with staged_directory(out_dir) as staging:
        result = run_sensitivity(flow, staging, progress=not quiet)
    table = Table(title=f"pruning sensitivity — {flow.name} ({result['criterion']}, validation "
                        f"top-1 {result['baseline_accuracy']:.2%} unpruned)")
    table.add_column("layer")
    table.add_column("channels")
    for fraction in result["fractions"]:
        table.add_column(f"−{fraction:.0%}")
    table.add_column("score")
    for layer in result["layers"]:
        table.add_row(layer["name"], str(layer["channels"]),
                      *(f"{layer['accuracy'][f'{f:g}']:.2%}" for f in result["fractions"]),
                      f"{layer['score']:.2f}")
    console.print(table)
    console.print(f"sensitivity: {out_dir / 'sensitivity.json'}, {out_dir / 'sensitivity.png'}")


@app.command()
def build(
    model: Annotated[str, typer.Argument(
        help="QONNX file (.onnx) or Brevitas module: pkg.mod:attr or file.py:attr")],
    board: Annotated[str, typer.Option(help="board name, alias or YAML file")],
    target_fps: Annotated[float | None, typer.Option(help="FINN SetFolding target")] = None,
    folding: Annotated[Path | None, typer.Option(help="FINN folding_config.json to apply")] = None,
    input_shape: Annotated[str | None, typer.Option(
        help="C,H,W for a Brevitas module (C,L for a 1-D one)")] = None,
    out: Annotated[Path | None, typer.Option(help="output directory (default runs/build-<name>)")] = None,
    samples: Annotated[int, typer.Option(help="verification inputs")] = 20,
    seed: Annotated[int, typer.Option(help="seed of the verification inputs")] = 0,
    simulate: Annotated[bool, typer.Option(
        help="also simulate without hardware (functional chain, Verilator RTL)")] = False,
    mvau_rtl: Annotated[bool, typer.Option(
        help="RTL (DSP-based) MVAUs instead of HLS: an MLP becomes RTL end to end")] = False,
) -> None:
    """Compile your own model for a board: fold, estimate, verify, report (no training)."""
    from codesign.flow.build import build_user_model, parse_input_shape

    if target_fps is not None and folding is not None:
        raise ConfigError("give either --target-fps or --folding, not both")
    fold = (FoldingConfig(mode="file", file=str(folding), mvau_rtl=mvau_rtl)
            if folding is not None
            else FoldingConfig(target_fps=target_fps or FoldingConfig.target_fps,
                               mvau_rtl=mvau_rtl))
    the_board = load_board(board)
    shape = parse_input_shape(input_shape) if input_shape else None
    name = Path(model.split(":")[-1] if not model.endswith(".onnx") else model).stem
    _staged_and_summarised(out or Path("runs") / f"build-{name}", lambda staging: build_user_model(
        model, the_board, fold, staging, input_shape=shape, samples=samples, seed=seed,
        simulate=SimulateConfig(enabled=simulate)))


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Argument(help="output directory of `codesign run` or `codesign build`")],
    samples: Annotated[int, typer.Option(help="test-set samples for the functional chain")] = 10,
    random_inputs: Annotated[int, typer.Option(help="random inputs for the chain, besides all-min/max")] = 8,
    rtl: Annotated[bool, typer.Option(help="per-layer Verilator simulation of the RTL layers")] = True,
    layer_frames: Annotated[int, typer.Option(help="frames per layer in Verilator")] = 3,
    pipeline: Annotated[str, typer.Option(
        help="whole-pipeline Verilator run: auto (when every layer is RTL) | on | off")] = "auto",
    pipeline_frames: Annotated[int, typer.Option(help="frames through the whole pipeline")] = 8,
    cache_dir: Annotated[Path | None, typer.Option(
        help="Verilator build cache (default $CODESIGN_CACHE_DIR or ~/.cache/codesign/verilator)")] = None,
) -> None:
    """Simulate a built accelerator without hardware: bit-exact functional chain through every
    toolchain stage, stream packing, Verilator RTL per layer and whole pipeline. Writes
    simulation.json and simulation.md into OUT_DIR; exits non-zero on a mismatch."""
    from rich.table import Table

    from codesign.flow import simulate_run
    from codesign.sim.report import summary_rows
    from codesign.sim.run import check_simulation

    options = SimulateConfig(samples=samples, random_inputs=random_inputs, rtl=rtl,
                                layer_frames=layer_frames, pipeline=pipeline,
                                pipeline_frames=pipeline_frames,
                                cache_dir=None if cache_dir is None else str(cache_dir))
    section = simulate_run(out_dir, options=options)
    table = Table(title=f"codesign simulate — {out_dir}", show_header=False)
    for check, result in summary_rows(section):
        table.add_row(check, result)
    console.print(table)
    verdict = "[green]passed[/green]" if section["passed"] else "[bold red]FAILED[/bold red]"
    console.print(f"simulation {verdict}; report: {out_dir / 'simulation.md'}")
    check_simulation(section, out_dir / "simulation.md")


@app.command()
def fold(
    model: Annotated[Path, typer.Argument(help="QONNX model (.onnx), e.g. runs/<flow>/model.qonnx.onnx")],
    board: Annotated[str, typer.Option(help="board name, alias or YAML file")],
    target_fps: Annotated[float | None, typer.Option(help="least resources that reach this FPS")] = None,
    maximize: Annotated[bool, typer.Option(help="highest FPS within the caps (the default)")] = False,
    caps: Annotated[str | None, typer.Option(help="cap overrides, e.g. LUT=0.7,BRAM_18K=0.5")] = None,
    out: Annotated[Path | None, typer.Option(help="output directory (default runs/fold-<model>-<board>)")]
    = None,
    mvau_rtl: Annotated[bool, typer.Option(
        help="fold for RTL (DSP-based) MVAUs instead of HLS ones")] = False,
) -> None:
    """Choose the folding (PE/SIMD, memory and compute styles) for a board with codesign's exact
    optimizer; writes folding_config.json, fold_report.json and a Pareto front (JSON + PNG)."""
    from rich.table import Table

    from codesign.flow.fold import fold_model
    from codesign.folding import gap_note

    the_board = load_board(board)
    out_dir = out or Path("runs") / f"fold-{model.stem.split('.')[0]}-{the_board.aliases[0]}"
    with staged_directory(out_dir) as staging:
        summary = fold_model(model, the_board, target_fps=target_fps, maximize=maximize, caps=caps,
                             out_dir=staging, mvau_rtl=mvau_rtl)
    table = Table(title=f"codesign fold — {model.name} on {the_board.name}", show_header=False)
    table.add_row("objective", summary["objective"])
    table.add_row("throughput", f"{summary['fps']:,.0f} FPS as built, {summary['bound']}-bound "
                  f"(compute {summary['compute_fps']:,.0f} FPS at {summary['max_cycles']:,} "
                  f"cycles/frame, I/O {summary['io_fps']:,.0f} FPS)")
    for kind, limit in summary["budget"].items():
        used = summary["totals"][kind] + summary["converter_totals"].get(kind, 0.0)
        table.add_row(kind, f"{used:,.0f} / {limit:,.0f} budget (incl. data-width converters)")
    table.add_row("fits", "yes" if summary["fits"] else "no")
    table.add_row("solve time", f"{summary['seconds']['solve']:.2f} s")
    if gap_note(summary["plan"]["gap"]):
        table.add_row("resources", gap_note(summary["plan"]["gap"]))
    console.print(table)
    console.print(f"folding: {out_dir / 'folding_config.json'}")


@app.command("explore")
def explore_command(
    space_file: Annotated[Path, typer.Argument(help="space YAML file, e.g. flows/spaces/tfc_space.yaml")],
    trials: Annotated[int | None, typer.Option(
        help="trials to have finished in total (default: the space's trials)")] = None,
    workers: Annotated[int, typer.Option(help="local Dask worker processes (not with --scheduler)")]
    = 1,
    scheduler: Annotated[str | None, typer.Option(
        help="join a running Dask cluster, e.g. tcp://127.0.0.1:8786")] = None,
    out: Annotated[Path | None, typer.Option(
        help="output directory (default runs/explore-<space name>); re-run to resume")] = None,
    quiet: Annotated[bool, typer.Option(help="no live table of trials")] = False,
) -> None:
    """Explore a design space (bit widths, pruning, any flow key) across boards with Optuna,
    trials distributed on Dask; writes Pareto fronts (JSON, CSV, PNG) and report.md."""
    from rich.live import Live

    from codesign.cli.explore_view import progress_table, result_lines
    from codesign.flow.explore import explore
    from codesign.space import load_space

    space = load_space(space_file)
    out_dir = out or Path("runs") / f"explore-{space.name}"
    if quiet:
        result = explore(space, out_dir, trials=trials, workers=workers, scheduler=scheduler)
    else:
        with Live(console=console, refresh_per_second=2) as live:
            result = explore(space, out_dir, trials=trials, workers=workers, scheduler=scheduler,
                             on_progress=lambda progress: live.update(progress_table(progress)))
    for line in result_lines(result):
        console.print(line)


@boards_app.command("list")
def boards_list() -> None:
    """List the boards codesign knows."""

    console.print(render_board_table(list_boards()))


@boards_app.command("show")
def boards_show(name: Annotated[str, typer.Argument(help="board name, alias or YAML file")]) -> None:
    """Show one board's part, resources, clock and utilisation caps."""

    console.print(render_board_detail(load_board(name)))


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning CodesignError into a clean message and exit code."""
    try:
        _invoke(sys.argv[1:] if argv is None else argv)
    except CodesignError as exc:
        from rich.markup import escape

        err_console.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False,
                          soft_wrap=True)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        err_console.print("interrupted; earlier results were left intact", highlight=False,
                          soft_wrap=True)
        return EXIT_INTERRUPTED
    except typer.Exit as exc:  # --help, or a command's typer.Exit(code)
        return exc.exit_code
    except typer.Abort:
        return 1
    except typer.TyperException as exc:  # usage errors (typer's own copy of click's exceptions)
        from typer.rich_utils import rich_format_error

        rich_format_error(exc)
        return exc.exit_code
    except BrokenPipeError:  # e.g. `codesign boards list | head` stopped reading: exit quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the final flush succeeds
        return 1
    return 0


def _invoke(args: list[str]) -> None:
    """Run the click command behind `app` with every exception reaching main().

    Not `app(standalone_mode=False)`: typer's main loop turns Ctrl-C (and a command's
    typer.Exit) into an exit code it *returns*, which main() took for success, and prints
    nothing."""
    command = typer.main.get_command(app)
    with command.make_context("codesign", list(args)) as ctx:
        command.invoke(ctx)


if __name__ == "__main__":
    sys.exit(main())
