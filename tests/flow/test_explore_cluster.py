"""`codesign explore --scheduler` on a real Dask cluster the test starts: one `dask scheduler`
and two `dask worker` processes, every address on 127.0.0.1, stopped by process id. Trials run
on both workers; a worker killed mid-trial costs that trial a retry (or a recorded failure),
and the study still completes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from explore_spaces import results, tiny_space

from codesign.cli import main
from codesign.flow.explore import explore
from codesign.space import load_space

pytestmark = pytest.mark.slow
START_TIMEOUT_S = 60


@dataclass
class Cluster:
    address: str
    workers: list[subprocess.Popen]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, "dask scheduler exited"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    pytest.fail(f"dask scheduler did not listen on 127.0.0.1:{port}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    logs = tmp_path_factory.mktemp("dask-logs")
    port = _free_port()
    dask = [sys.executable, "-m", "dask"]
    procs = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=subprocess.DEVNULL,
                              stderr=(logs / "scheduler.log").open("w"), start_new_session=True)]
    try:
        _wait_for_port(port, procs[0])
        address = f"tcp://127.0.0.1:{port}"
        workers = [subprocess.Popen([*dask, "worker", address, "--host", "127.0.0.1",
                                     "--nthreads", "1", "--no-nanny", "--no-dashboard",
                                     "--memory-limit", "0", "--name", f"w{i}"],
                                    stdout=subprocess.DEVNULL,
                                    stderr=(logs / f"worker{i}.log").open("w"),
                                    start_new_session=True) for i in range(2)]
        procs += workers
        from distributed import Client

        with Client(address, timeout="20s") as client:
            client.wait_for_workers(2, timeout=START_TIMEOUT_S)
        yield Cluster(address, workers)
    finally:
        for proc in reversed(procs):
            _stop(proc)


def test_trials_run_on_both_workers_of_a_cluster(cluster: Cluster, tmp_path: Path) -> None:
    space = tiny_space(tmp_path, sampler="grid", trials=2)
    out = tmp_path / "out"
    assert main(["explore", str(space), "--out", str(out), "--scheduler", cluster.address,
                 "--quiet"]) == 0
    doc = results(out)
    assert [t["complete"] for t in doc["trials"]] == [True, True]
    assert {t["params"]["model.weight_bits"] for t in doc["trials"]} == {1, 2}
    pids = {int(t["worker"].rsplit(":", 1)[1]) for t in doc["trials"]}
    assert pids == {w.pid for w in cluster.workers}


def test_hardware_trials_need_a_worker_with_the_vivado_resource(cluster: Cluster,
                                                                tmp_path: Path) -> None:
    space = tiny_space(tmp_path, trials=1, base_changes={"outputs": ["estimates", "ip"]})
    out = tmp_path / "out"
    assert main(["explore", str(space), "--out", str(out), "--scheduler", cluster.address,
                 "--quiet"]) == 0
    (trial,) = results(out)["trials"]
    assert not trial["complete"] and "--resources vivado=N" in trial["reason"]
    assert not (out / "variants").exists()  # it never reached a worker


def test_a_worker_killed_mid_trial_costs_a_retry_and_the_study_completes(
        cluster: Cluster, tmp_path: Path) -> None:
    from distributed import Client

    space = load_space(tiny_space(tmp_path, sampler="grid", trials=3,
                                  space={"model.weight_bits": [1, 2, 3], "model.act_bits": [2]}))
    out = tmp_path / "out"
    finished: list = []
    runner = threading.Thread(target=lambda: finished.append(
        explore(space, out, scheduler=cluster.address)))
    victim = None
    with Client(cluster.address, timeout="20s") as client:  # before the runner's, not alongside
        pids = client.run(os.getpid)  # worker address -> process id
        assert sorted(pids.values()) == sorted(w.pid for w in cluster.workers)
        runner.start()
        deadline = time.monotonic() + 120
        while victim is None and time.monotonic() < deadline:
            busy = [addr for addr, keys in client.processing().items() if keys]
            victim = next((pids[a] for a in busy if a in pids), None)
            time.sleep(0.2)
    assert victim is not None, "no trial started on the cluster"
    time.sleep(1.0)  # mid-trial: training has begun
    os.kill(victim, signal.SIGKILL)
    runner.join(timeout=240)
    assert not runner.is_alive() and finished, "the study did not complete"
    trials = finished[0].trials
    assert len(trials) == 3 and finished[0].new_trials == 3
    survivor = next(w.pid for w in cluster.workers if w.pid != victim)
    for t in trials:
        assert t.complete or "KilledWorker" in t.reason, t.reason
    assert any(t.outcome is not None and t.outcome.worker.endswith(f":{survivor}") for t in trials)
    print(f"killed worker {victim}; trials: " + "; ".join(
        f"{t.number} {'on ' + t.outcome.worker if t.outcome else t.reason}" for t in trials))
