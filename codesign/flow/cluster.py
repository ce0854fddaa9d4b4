"""The Dask boundary (DESIGN.md §8): the only module that imports `distributed`.

`open_engine` gives an `Engine` on an in-process `LocalCluster` (N worker processes, one
trial per worker thread, every address on 127.0.0.1) or on an existing cluster
(`--scheduler tcp://host:port`: `dask scheduler` plus `dask worker` processes, or workers that
dask-jobqueue starts under SLURM/PBS). The engine submits plain functions of plain arguments
and hands back their results or the reason they failed; a worker that dies mid-task makes Dask
run the task again elsewhere (up to the scheduler's `allowed-failures`), after which the
failure names the killed worker."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from codesign.errors import ClusterError

CONNECT_TIMEOUT_S = 20
HARDWARE = "vivado"  # the worker resource a task with Vivado steps needs one of (a licence)


class TaskFailed(Exception):
    """A submitted task raised or lost its worker; `reason` says which and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Engine:
    """Submit tasks to a Dask cluster and collect what they return."""

    client: Any
    description: str

    def slots(self) -> int:
        """How many tasks run at once: the cluster's worker threads."""
        return max(1, sum(self.client.nthreads().values()))

    def submit(self, fn: Callable[..., Any], *args: Any, hardware: bool = False) -> Any:
        """Run fn(*args) on a worker; `hardware` tasks need one `vivado` worker resource."""
        return self.client.submit(fn, *args, pure=False,
                                  resources={HARDWARE: 1} if hardware else None)

    def wait_any(self, handles: list[Any], timeout_s: float = 1.0) -> list[Any]:
        """The handles that finished (successfully or not) within `timeout_s`."""
        from distributed import wait

        if not handles:
            return []
        try:
            done, _ = wait(handles, timeout=timeout_s, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return []
        return [h for h in handles if h in done]

    def has_resource(self, name: str) -> bool:
        """Whether some worker declares the resource (`dask worker --resources vivado=2`)."""
        workers = self.client.scheduler_info(n_workers=-1)["workers"].values()
        return any(w.get("resources", {}).get(name, 0) > 0 for w in workers)

    def finished(self, handles: list[Any]) -> list[Any]:
        """The handles whose task has already ended (no waiting)."""
        return [h for h in handles if h.done()]

    def result(self, handle: Any) -> Any:
        """What the task returned; TaskFailed with a one-line reason if it did not."""
        try:
            return handle.result()
        except Exception as exc:  # the task's own exception, re-raised here, or KilledWorker
            first = (str(exc).strip().splitlines() or [""])[0]
            raise TaskFailed(f"{type(exc).__name__}: {first}"[:500]) from None

    def cancel(self, handles: list[Any]) -> None:
        if handles:
            self.client.cancel(handles, force=True)


@contextmanager
def open_engine(workers: int = 1, scheduler: str | None = None) -> Iterator[Engine]:
    """An engine on a new local cluster of `workers` processes (bound to 127.0.0.1), or on
    the cluster whose scheduler listens at `scheduler` (e.g. tcp://127.0.0.1:8786)."""
    from distributed import Client, LocalCluster

    for name in ("distributed", "tornado", "bokeh"):
        logging.getLogger(name).setLevel(logging.ERROR)
    cluster = None
    if scheduler is None:
        if workers < 1:
            raise ClusterError(f"--workers {workers}: give at least 1 worker process")
        # memory_limit 0: training is the trial, Dask must not pause or restart a worker for it;
        # logs at CRITICAL: a task that raises is recorded as a failed trial with its reason, so
        # the worker's "Compute Failed" traceback would only repeat it on the user's terminal
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address="127.0.0.1:0", memory_limit=0,
                               silence_logs=logging.CRITICAL, resources={HARDWARE: 1})
        client = Client(cluster)
        description = f"local cluster, {workers} worker process(es)"
    else:
        try:
            client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {scheduler} ({type(exc).__name__}); start one "
                "with `dask scheduler --host 127.0.0.1 --port 8786` and workers with `dask worker "
                "tcp://127.0.0.1:8786`, or drop --scheduler to run on a local cluster") from None
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        except (TimeoutError, OSError):
            client.close()
            raise ClusterError(f"the scheduler at {scheduler} has no workers after "
                               f"{CONNECT_TIMEOUT_S} s; start some with `dask worker {scheduler}`"
                               ) from None
        description = f"cluster at {scheduler}"
    try:
        yield Engine(client, description)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
