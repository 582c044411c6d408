"""Running a sweep's variants: in this process, on an embedded LocalCluster, or on a cluster.

``dask.distributed`` is imported here only, and this module only when a sweep runs on
Dask, so ``import portfolio`` stays light.

* Embedded (the default): a ``LocalCluster`` of worker *processes* with one thread each,
  scheduler and workers bound to 127.0.0.1, no dashboard (DESIGN principle 14).
* Existing cluster: ``Client(address)``; used only when an address is given. The sweep
  waits for at least one worker, and every worker must run this version of the package.
* In-process: every variant in turn in this process (for debugging; no Dask at all).

The price frame is scattered once to every worker (``broadcast``); each task carries
only its variant's config. Results come back to this process, which stores each one as
it arrives (the callback ``record``); workers never write files.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from portfolio.data.prices import PriceFrame
from portfolio.data.sweep_store import StoredVariant
from portfolio.errors import InputError
from portfolio.sweeps.tasks import Task, run_task

__all__ = [
    "ClusterInfo", "check_scheduler", "default_workers", "run_in_process", "run_on_dask",
]


@dataclass(frozen=True)
class ClusterInfo:
    """Where a sweep ran (for the run manifest).

    Attributes
    ----------
    mode : str
        ``in-process``, ``local`` (embedded LocalCluster) or ``remote``.
    scheduler : str or None
        The scheduler's address (None in-process).
    workers : int
        Worker processes (1 in-process).
    threads_per_worker : int
        Threads of each worker.
    dask_version : str
        ``dask.distributed``'s version ("" in-process).
    """

    mode: str
    scheduler: str | None = None
    workers: int = 1
    threads_per_worker: int = 1
    dask_version: str = ""


def default_workers() -> int:
    """The cores this process may use (the embedded cluster's default worker count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def run_in_process(tasks: Sequence[Task], frame: PriceFrame,
                   record: Callable[[StoredVariant], None]) -> ClusterInfo:
    """Run the tasks one after the other in this process."""
    for task in tasks:
        record(run_task(task, frame))
    return ClusterInfo("in-process")


def run_on_dask(
    tasks: Sequence[Task],
    frame: PriceFrame,
    record: Callable[[StoredVariant], None],
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    connect_timeout: float = 10.0,
) -> ClusterInfo:
    """Run the tasks on Dask; ``record`` each outcome as soon as it arrives.

    Parameters
    ----------
    tasks : sequence of Task
        Variants to run.
    frame : PriceFrame
        The sweep's prices, scattered once to every worker.
    record : callable
        Called in this process with each :class:`StoredVariant`, in the order they finish.
    scheduler : str, optional
        Address of an existing scheduler (``tcp://host:8786``); default an embedded
        LocalCluster.
    workers : int, optional
        Worker processes of the embedded cluster (default: the cores available).
    connect_timeout : float
        Seconds to reach the scheduler, and to wait for its first worker.

    Returns
    -------
    ClusterInfo

    Raises
    ------
    InputError
        The scheduler cannot be reached in time, has no worker, or its workers cannot
        run this package.
    DataError
        The connection to the cluster was lost during the sweep (finished variants are
        stored; run again to resume).
    """
    import distributed

    with _quiet_logs(), _client(scheduler, workers, connect_timeout) as (client, info):
        data = client.scatter(frame, broadcast=True)
        futures = {client.submit(_on_worker, task, data, key=f"sweep-{task.key}",
                                 pure=False): task for task in tasks}
        try:
            for future in distributed.as_completed(futures, loop=client.loop):
                record(_outcome(future, futures[future], info))
        finally:
            with contextlib.suppress(Exception):  # the cluster may be gone already
                client.cancel(list(futures))
    return info


def _on_worker(task: Task, frame: PriceFrame) -> StoredVariant:
    """The function Dask runs: :func:`run_task` labelled with the worker's address."""
    from distributed import get_worker

    return run_task(task, frame, worker=get_worker().address)


def _outcome(future: Any, task: Task, info: ClusterInfo) -> StoredVariant:
    """The future's outcome; a task that killed its workers is a failed variant."""
    from distributed import KilledWorker

    from portfolio.errors import DataError

    try:
        return future.result()
    except KilledWorker as error:
        return StoredVariant(task.key, "failed", dict(task.parameters),
                             error=f"the variant stopped its workers ({error})")
    except Exception as error:
        raise DataError(
            "lost the Dask cluster during the sweep", info.scheduler or "embedded cluster",
            f"{type(error).__name__}: {error}",
            "variants finished so far are stored; run the sweep again to resume") from None


def _version_probe() -> str:
    """Run on every worker: the version of this package there."""
    import portfolio

    return portfolio.__version__


@contextlib.contextmanager
def _client(scheduler: str | None, workers: int | None, timeout: float
            ) -> Iterator[tuple[Any, ClusterInfo]]:
    """A Client on the embedded LocalCluster or the given scheduler; closed on exit."""
    import distributed

    version = distributed.__version__
    if scheduler is None:
        count = workers or default_workers()
        with distributed.LocalCluster(
            n_workers=count, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, worker_dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster, distributed.Client(cluster, set_as_default=False) as client:
            yield client, ClusterInfo("local", cluster.scheduler_address, count, 1, version)
        return
    client = _connect(scheduler, timeout)
    try:
        _check_workers(client, scheduler, timeout)
        threads = client.nthreads()
        yield client, ClusterInfo("remote", client.scheduler.address, len(threads),
                                  max(threads.values(), default=1), version)
    finally:
        client.close()


def _connect(scheduler: str, timeout: float) -> Any:
    """A Client of the scheduler at ``scheduler``, after a bounded check that one answers."""
    import distributed

    check_scheduler(scheduler, timeout)
    return distributed.Client(scheduler, timeout=timeout, set_as_default=False)


def check_scheduler(scheduler: str, timeout: float = 10.0) -> None:
    """Raise a one-line :class:`InputError` unless a Dask scheduler answers at ``scheduler``.

    Parameters
    ----------
    scheduler : str
        Address, e.g. ``tcp://10.0.0.5:8786``.
    timeout : float
        Seconds allowed for the answer (the check never takes much longer).

    Raises
    ------
    InputError
        A malformed address, nothing answering in time, or a server that is not a Dask
        scheduler.
    """
    import distributed

    fix = ("start it with `dask scheduler` and give its address as tcp://HOST:8786, or "
           "leave --scheduler out to run on this machine")
    from distributed.comm.registry import backends

    scheme, location = distributed.comm.parse_address(scheduler)
    if scheme not in backends or not location:
        raise InputError("invalid Dask scheduler address", f"--scheduler {scheduler}",
                         f"the address reads as protocol '{scheme}', place '{location}'; "
                         f"known protocols: {', '.join(sorted(backends))}", fix)
    why = _probe(scheduler, timeout)
    if why:
        raise InputError("cannot reach the Dask scheduler", f"--scheduler {scheduler}", why,
                         fix)


def _probe(address: str, timeout: float) -> str:
    """Why no Dask scheduler answers at ``address`` within ``timeout`` seconds ("" if one does).

    Runs on its own event loop in a helper thread, so neither a silent host nor a
    server speaking another protocol can hold the sweep longer than the timeout.
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures import TimeoutError as Late

    from distributed.comm import connect

    async def identity() -> Any:
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    async def bounded() -> Any:
        return await asyncio.wait_for(identity(), timeout)

    pool = ThreadPoolExecutor(1)
    try:
        reply = pool.submit(asyncio.run, bounded()).result(timeout + 5.0)
    except (TimeoutError, Late, OSError):
        return f"no Dask scheduler answered within {timeout:g} s"
    except Exception as error:  # garbage from a server of another kind
        return f"the server there does not answer as a Dask scheduler ({type(error).__name__})"
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        kind = reply.get("type") if isinstance(reply, dict) else type(reply).__name__
        return f"the server there is a Dask {kind}, not a scheduler"
    return ""


def _check_workers(client: Any, scheduler: str, timeout: float) -> None:
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, OSError):
        raise InputError("no Dask worker", f"--scheduler {scheduler}",
                         f"none joined the scheduler within {timeout:g} s",
                         f"start workers with `dask worker {scheduler}`") from None
    import portfolio

    versions = client.run(_version_probe, on_error="return")
    wrong = {address: value for address, value in versions.items()
             if value != portfolio.__version__}
    if wrong:
        address, value = next(iter(wrong.items()))
        found = value if isinstance(value, str) else f"cannot import it ({value})"
        raise InputError(
            f"{len(wrong)} Dask worker(s) cannot run this sweep", f"worker {address}",
            f"portfolio-ai-infra {portfolio.__version__} is needed, the worker has {found}",
            "install the same version of portfolio-ai-infra on every worker machine")


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """Only errors from distributed's loggers while a sweep runs (no INFO/WARNING noise)."""
    logger = logging.getLogger("distributed")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
