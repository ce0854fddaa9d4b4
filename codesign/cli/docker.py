"""`codesign docker build` / `codesign docker run`: the docker commands that build the image
(docker/Dockerfile) and run a flow inside it with the user's Xilinx tools mounted from the host.

Every host path is mounted at the same path inside the container, so paths in a flow file, a
board file or an output directory mean the same inside and out. The container starts as root
only long enough for docker/entrypoint.sh to switch to the host user's uid/gid."""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer

from codesign import __version__
from codesign.config import is_file_spec, load_flow
from codesign.errors import ConfigError, ToolchainMissing
from codesign.finn.xilinx import XilinxInstall, inspect_xilinx_install

DEFAULT_TAG = f"codesign:{__version__}"
UID_ENV, GID_ENV = "CODESIGN_UID", "CODESIGN_GID"  # read by docker/entrypoint.sh
LICENSE_ENVS = ("XILINXD_LICENSE_FILE", "LM_LICENSE_FILE")
SHM_SIZE = "2g"  # FINN's FIFO-sizing simulation talks through shared memory; docker's default is 64 MB


def source_root() -> Path:
    """The codesign checkout that holds docker/Dockerfile (the build context)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "docker" / "Dockerfile").is_file() or not (root / "scripts" / "install.sh").is_file():
        raise ConfigError(f"`codesign docker build` needs a source checkout of codesign, but "
                          f"{root} has no docker/Dockerfile; clone the repository and run it there")
    return root


def docker_build_command(tag: str = DEFAULT_TAG, root: Path | None = None) -> list[str]:
    root = root or source_root()
    return ["docker", "build", "--file", str(root / "docker" / "Dockerfile"), "--tag", tag, str(root)]


def _inside(path: Path, directory: Path) -> bool:
    return path == directory or directory in path.parents


def _license_paths(value: str) -> list[Path]:
    """Files/directories in a FlexLM licence list ("2100@server" entries need no mount)."""
    return [Path(p) for p in value.split(os.pathsep) if p.startswith("/") and Path(p).exists()]


def docker_run_command(
    flow_file: str | os.PathLike[str], xilinx: XilinxInstall, *, board: str | None = None,
    out: str | os.PathLike[str] | None = None, tag: str = DEFAULT_TAG, cwd: Path | None = None,
    env: Mapping[str, str] | None = None, uid: int | None = None, gid: int | None = None,
    tty: bool = False,
) -> list[str]:
    """The `docker run` that runs `codesign run FLOW` in the image with the right mounts, env,
    user and working directory. Loads the flow to mount the files it refers to."""
    cwd = (cwd or Path.cwd()).absolute()
    env = os.environ if env is None else env
    flow_path = (cwd / Path(flow_file).expanduser()).absolute()
    flow = load_flow(flow_path)
    wanted: list[tuple[Path, bool]] = [(cwd, False)]  # (path, read-only)
    if out is not None:
        out_path = (cwd / Path(out).expanduser()).absolute()
        if out_path.parent == Path(out_path.anchor):
            raise ConfigError(f"--out {out_path} sits directly in {out_path.anchor}, which cannot be "
                              "mounted; choose a directory below another one, e.g. ~/runs/<name>")
        wanted.append((out_path.parent, False))  # runs stage into <out>.partial beside <out>
    wanted.append((flow_path.parent, True))
    wanted += [(Path(p), True) for p in (flow.dataset.path, flow.folding.file) if p and Path(p).exists()]
    module_root, pythonpath = _module_mount(flow.model.module) if flow.model.module else (None, None)
    if module_root is not None:
        wanted.append((module_root, True))
    board_spec = board or flow.board
    if board_spec.endswith((".yaml", ".yml")) or "/" in board_spec:
        board_path = (cwd / Path(board_spec).expanduser()).absolute()
        wanted.append((board_path, True))
        board = str(board_path) if board else None
    wanted += [(p, True) for p in xilinx.mounts]
    licenses = {name: env[name] for name in LICENSE_ENVS if env.get(name)}
    wanted += [(p.absolute(), True) for value in licenses.values() for p in _license_paths(value)]

    mounts: list[tuple[Path, bool]] = []
    for path, readonly in sorted(wanted, key=lambda item: len(item[0].parts)):  # outer dirs first
        if "," in str(path):
            raise ConfigError(f"docker cannot mount {path} (a comma in the path); move or rename it")
        holder = next(((m, ro) for m, ro in mounts if _inside(path, m)), None)
        if holder is None:
            mounts.append((path, readonly))
        elif holder[1] and not readonly:
            raise ConfigError(f"{path} must be writable but lies inside the read-only mount "
                              f"{holder[0]}; choose an output directory outside it")
    argv = ["docker", "run", "--rm", "--init", "--pull", "never", f"--shm-size={SHM_SIZE}"]
    if tty:
        argv.append("-it")
    for path, readonly in mounts:
        argv += ["--mount", f"type=bind,source={path},target={path}" + (",readonly" if readonly else "")]
    ids = {UID_ENV: os.getuid() if uid is None else uid, GID_ENV: os.getgid() if gid is None else gid}
    tools = {"XILINX_VIVADO": xilinx.vivado, "XILINX_HLS": xilinx.hls, "XILINX_VITIS": xilinx.vitis}
    module_env = {"PYTHONPATH": pythonpath} if pythonpath else {}
    for name, value in [*ids.items(), *tools.items(), *licenses.items(), *module_env.items()]:
        if value is not None:
            argv += ["--env", f"{name}={value}"]
    argv += ["--workdir", str(cwd), tag, "codesign", "run", str(flow_path)]
    if board:
        argv += ["--board", board]
    if out is not None:
        argv += ["--out", str(out_path)]
    return argv


def _module_mount(spec: str) -> tuple[Path, str | None]:
    """What the container needs of a flow's own Brevitas module (model.module): the folder of a
    file (it may import its siblings), or the sys.path folder of a package, which then goes on
    PYTHONPATH. ConfigError, saying the fix, where the host has nothing to mount."""
    target = spec.rsplit(":", 1)[0]
    if is_file_spec(spec):
        path = Path(target)
        if not path.is_file():
            raise ConfigError(f"model.module: {path} does not exist; fix the path in the flow "
                              "file (relative to it)")
        return path.parent, None
    top = target.split(".")[0]
    found = importlib.util.find_spec(top)
    locations = list(found.submodule_search_locations or []) if found else []
    if found is not None and found.has_location and found.origin:
        root = Path(found.origin).parent  # a module file, or a package's __init__.py
        root = root.parent if locations else root
    elif locations:  # a namespace package: its folder
        root = Path(locations[0]).parent
    else:
        raise ConfigError(f"model.module: package {top!r} is not importable here, so docker "
                          f"cannot mount it; give the module as a file (path/to/{top}.py:attr) "
                          "or put its folder on PYTHONPATH")
    if root.name in ("site-packages", "dist-packages"):
        raise ConfigError(f"model.module: package {top!r} is installed in this Python "
                          f"({root}), which the image does not share; give the module as a "
                          f"file (path/to/module.py:attr) or install it into the image")
    return root, str(root)


def ensure_docker(image: str | None = None) -> str:
    """The docker client's path, once the daemon (and `image`, if given) are known to be there."""
    client = shutil.which("docker")
    if client is None:
        raise ToolchainMissing("the docker client is not installed (no `docker` on PATH); install "
                               "Docker Engine, or run the flow on a machine with Vivado instead")
    probe = subprocess.run([client, "version", "--format", "{{.Server.Version}}"],
                           capture_output=True, text=True, timeout=60, check=False)
    if probe.returncode != 0:
        detail = (probe.stderr or probe.stdout).strip().splitlines()
        raise ToolchainMissing(
            f"the docker daemon is not reachable ({detail[-1] if detail else 'no answer'}); start "
            "it (e.g. `sudo systemctl start docker`) and make sure you may use it (a member of "
            "the `docker` group, or rootless docker)")
    if image and subprocess.run([client, "image", "inspect", image], capture_output=True,
                                check=False).returncode != 0:
        raise ToolchainMissing(f"the docker image {image} does not exist here; build it with "
                               f"`codesign docker build --tag {image}`")
    return client


def docker_is_rootless() -> bool:
    """True for rootless docker, where the container's root is the host user (so codesign must
    stay root inside); False when that cannot be asked (no client or daemon)."""
    client = shutil.which("docker")
    if client is None:
        return False
    probe = subprocess.run([client, "info", "--format", "{{json .SecurityOptions}}"],
                           capture_output=True, text=True, timeout=60, check=False)
    return probe.returncode == 0 and "rootless" in probe.stdout


docker_app = typer.Typer(no_args_is_help=True, help="Build the codesign docker image and run "
                         "flows in it with your own Vivado/Vitis HLS install mounted.")


def _execute(argv: list[str], image: str | None = None) -> None:
    argv = [ensure_docker(image), *argv[1:]]
    code = subprocess.run(argv, check=False).returncode
    if code:
        raise typer.Exit(code)


@docker_app.command("build")
def build(
    tag: Annotated[str, typer.Option(help="image name:tag")] = DEFAULT_TAG,
    dry_run: Annotated[bool, typer.Option(help="print the docker command instead of running it")] = False,
) -> None:
    """Build the image: Ubuntu 22.04, Python 3.11, codesign via scripts/install.sh, FINN's deps."""
    argv = docker_build_command(tag)
    if dry_run:
        typer.echo(shlex.join(argv))
        return
    _execute(argv)


@docker_app.command("run")
def run(
    flow_file: Annotated[Path, typer.Argument(help="flow YAML file")],
    xilinx: Annotated[Path, typer.Option(help="Vivado install, e.g. /tools/Xilinx/Vivado/2022.2")],
    board: Annotated[str | None, typer.Option(help="board name, alias or YAML file")] = None,
    out: Annotated[Path | None, typer.Option(help="output directory (default runs/<flow name>)")] = None,
    tag: Annotated[str, typer.Option(help="image name:tag")] = DEFAULT_TAG,
    dry_run: Annotated[bool, typer.Option(help="print the docker command instead of running it")] = False,
) -> None:
    """Run a flow (including its hardware outputs) in the image with your Xilinx tools mounted."""
    install = inspect_xilinx_install(xilinx)
    ids = (0, 0) if docker_is_rootless() else (None, None)
    argv = docker_run_command(flow_file, install, board=board, out=out, tag=tag, uid=ids[0],
                              gid=ids[1], tty=sys.stdin.isatty() and sys.stdout.isatty())
    if dry_run:
        typer.echo(shlex.join(argv))
        return
    if install.hls is None:
        typer.echo(f"note: no Vitis HLS found beside {install.vivado}; outputs that need it will "
                   "stop with an explanation", err=True)
    if out is not None:  # created by docker as root otherwise
        Path(out).expanduser().absolute().parent.mkdir(parents=True, exist_ok=True)
    _execute(argv, image=tag)
