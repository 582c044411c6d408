"""Worker processes beside a command: the next dates' estimates, the charts.

Every worker is forked from this process, so it starts with its imports (no re-import of
numpy or pandas) and, for :func:`forked_map`, with its data (no pickling of what it reads).
The backtest uses two kinds:

- :func:`forked_map` computes ``function(item)`` for a sequence of items in one forked
  child, in order, ahead of the reader, and streams the results back through a pipe: the
  estimates of the next decision dates while the strategies solve the current one
  (:meth:`~portfolio.backtesting.strategies.WindowEstimates.prefetch`, through
  :meth:`ForkedWorkers.ahead`).
- :class:`ForkedWorkers` is a :class:`concurrent.futures.Executor`: its first worker is
  forked at once, imports the ``warm`` modules (matplotlib) while this process loads the
  prices, then forks the others, which start with them imported. They draw the PNG charts
  (:func:`~portfolio.report.backtest.backtest_files`) while this process writes the
  tables and report.html. matplotlib is imported once, in the workers only.

This process runs no extra thread: results are read from the pipes when they are asked
for, so its own work is not interrupted. Every result is the same without workers: a task
whose worker fails or dies is left to this process, where its error, if any, is raised.
Where fork is not the platform's way to start processes (macOS, Windows), or with
``workers=0``, :func:`worker_processes` gives None and everything runs in this process.
"""

from __future__ import annotations

import importlib
import os
import pickle
import signal
import sys
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from contextlib import contextmanager, suppress
from typing import Any, BinaryIO

__all__ = ["ForkedWorkers", "WorkerFailed", "default_workers", "forked_map",
           "forking_supported", "worker_processes"]

MAX_DEFAULT_WORKERS = 2
"""Workers by default at most: beyond two, the backtest's charts gain little."""

PIPE_BYTES = 1 << 20
"""Pipe buffer asked for (Linux caps it at /proc/sys/fs/pipe-max-size): how far the child
of :func:`forked_map` may run ahead of its reader, and how many tasks are sent to a worker
before it reads them."""


class WorkerFailed(RuntimeError):
    """A worker could not finish a task (it raised, its result did not pickle, or it died).

    The caller does the task itself, which raises the real error if there is one.
    """


def default_workers() -> int:
    """Worker processes by default: the cores this process may use, at most two, 0 on one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(cores, MAX_DEFAULT_WORKERS)


def forking_supported() -> bool:
    """Whether worker processes can be forked here (Linux; fork is unsafe on macOS)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


@contextmanager
def worker_processes(workers: int, *, warm: Sequence[str] = ()
                     ) -> Iterator[ForkedWorkers | None]:
    """:class:`ForkedWorkers` for the duration of the block, or None (run everything here).

    Parameters
    ----------
    workers : int
        Processes; 0, or a platform without fork, gives None.
    warm : sequence of str
        Modules the workers import before their first task (e.g. ``matplotlib.figure``);
        they start at once, so the imports run while this process goes on.
    """
    if workers < 1 or not forking_supported():
        yield None
        return
    pool = ForkedWorkers(workers, warm=warm)
    try:
        pool.start()
        yield pool
    finally:
        pool.shutdown()


class _LazyFuture(Future):
    """A future that reads its result from its worker's pipe when it is asked for."""

    def __init__(self, owner: ForkedWorkers, worker: int) -> None:
        super().__init__()
        self._owner, self._worker = owner, worker

    def result(self, timeout: float | None = None) -> Any:
        if not self.done():
            self._owner._collect(self._worker, self)
        return super().result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        if not self.done():
            self._owner._collect(self._worker, self)
        return super().exception(timeout)


class ForkedWorkers(Executor):
    """``count`` worker processes forked from this one (module docstring).

    Parameters
    ----------
    count : int
        Workers (at least 1).
    warm : sequence of str
        Modules imported by the first worker before it forks the others.
    """

    def __init__(self, count: int, *, warm: Sequence[str] = ()) -> None:
        self.count = max(1, int(count))
        self.warm = tuple(warm)
        self._first: int | None = None  # pid of the first worker (it forks the others)
        self._tasks: list[BinaryIO | None] = []
        self._results: list[BinaryIO | None] = []
        self._pending: list[deque[_LazyFuture]] = []
        self._turn = 0
        self._closed = False

    def start(self) -> None:
        """Fork the first worker now (else at the first :meth:`submit`)."""
        if self._first is not None or self._closed:
            return
        pipes = [(_pipe(), _pipe()) for _ in range(self.count)]  # (task, result) per worker
        child = _fork()
        if child == 0:  # pragma: no cover -- a worker; its results are tested from here
            _first_worker(pipes, self.warm)
        self._first = child
        for (task_read, task_write), (result_read, result_write) in pipes:
            os.close(task_read)
            os.close(result_write)
            self._tasks.append(os.fdopen(task_write, "wb"))
            self._results.append(os.fdopen(result_read, "rb"))
            self._pending.append(deque())

    @staticmethod
    def ahead(function: Callable[[Any], Any], items: Sequence[Any]
              ) -> Iterator[tuple[bool, Any]]:
        """:func:`forked_map`: ``function(item)`` per item, in a child forked now, in order.

        An :data:`~portfolio.backtesting.strategies.AheadMap` for the backtest's estimates.
        """
        return forked_map(function, items)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Run ``fn(*args, **kwargs)`` in a worker (round robin); the call is pickled."""
        if self._closed:
            raise RuntimeError("submit after shutdown")
        self.start()
        worker = self._turn % self.count
        self._turn += 1
        future = _LazyFuture(self, worker)
        channel = self._tasks[worker]
        try:
            if channel is None:
                raise WorkerFailed(f"worker {worker} stopped")
            channel.write(pickle.dumps((fn, args, kwargs), pickle.HIGHEST_PROTOCOL))
            channel.flush()
        except (OSError, pickle.PicklingError, AttributeError, TypeError, WorkerFailed) as error:
            future.set_exception(WorkerFailed(f"task not sent to worker {worker}: {error}"))
            return future
        self._pending[worker].append(future)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the workers: their pipes close, they finish the task at hand and exit."""
        if self._closed:
            return
        self._closed = True
        for channel in (*self._tasks, *self._results):
            if channel is not None:
                with suppress(OSError):
                    channel.close()
        for pending in self._pending:
            for future in pending:
                future.set_exception(WorkerFailed("the workers were stopped"))
            pending.clear()
        if self._first is not None:
            with suppress(ChildProcessError):
                os.waitpid(self._first, 0)

    def _collect(self, worker: int, future: _LazyFuture) -> None:
        """Read ``worker``'s results in order until ``future`` has its own."""
        while not future.done() and self._pending[worker]:
            waiting = self._pending[worker].popleft()
            message = self._read(worker)
            if message is not None and message[0]:
                waiting.set_result(message[1])
            else:
                waiting.set_exception(WorkerFailed(f"worker {worker} could not finish"))
        if not future.done():
            future.set_exception(WorkerFailed(f"worker {worker} lost the task"))

    def _read(self, worker: int) -> tuple[bool, Any] | None:
        """The next message from ``worker``, or None once it died (its pipes are closed)."""
        channel = self._results[worker]
        if channel is None:
            return None
        try:
            return pickle.load(channel)
        except (EOFError, OSError, pickle.UnpicklingError, AttributeError, ImportError):
            for channels in (self._results, self._tasks):
                if channels[worker] is not None:
                    with suppress(OSError):
                        channels[worker].close()
                    channels[worker] = None
            return None


def forked_map(function: Callable[[Any], Any], items: Sequence[Any]
               ) -> Iterator[tuple[bool, Any]]:
    """``function(item)`` for each item, computed ahead in a child forked now, in order.

    Parameters
    ----------
    function : callable
        Run in the child, which inherits this process's memory: neither the function nor
        the items are pickled, only the results.
    items : sequence
        The arguments, in the order the results are read.

    Returns
    -------
    iterator of (bool, object)
        Per item, ``(True, result)``, or ``(False, None)`` where the child failed (the
        function raised, a result would not pickle, or the child died): the caller
        computes that item itself and sees the error there.

    Notes
    -----
    The child runs at most a pipe buffer (:data:`PIPE_BYTES`) ahead of the reader.
    Closing the iterator early, or this process ending, stops the child. Without fork
    (see :func:`forking_supported`) every item yields ``(False, None)``.
    """
    if not forking_supported() or not items:
        return iter([(False, None)] * len(items))
    read_end, write_end = _pipe()
    child = _fork()
    if child == 0:  # pragma: no cover -- the child; its results are tested from here
        code = 0
        try:
            os.close(read_end)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            out = os.fdopen(write_end, "wb")
            with suppress(OSError):
                for item in items:
                    _send(out, function, (item,), {})
        except BaseException:  # never a traceback from a worker
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    return _read_ahead(os.fdopen(read_end, "rb"), child, len(items))


def _read_ahead(reader: BinaryIO, child: int, count: int) -> Iterator[tuple[bool, Any]]:
    """The reader's side of :func:`forked_map`: ``count`` results, then the child reaped."""
    try:
        for _ in range(count):
            try:
                yield pickle.load(reader)
            except (EOFError, OSError, pickle.UnpicklingError, AttributeError, ImportError):
                yield False, None
    finally:
        reader.close()  # a child still writing gets a broken pipe and stops
        os.waitpid(child, 0)


def _pipe() -> tuple[int, int]:
    """A pipe with a buffer of :data:`PIPE_BYTES` where the platform allows."""
    read_end, write_end = os.pipe()
    with suppress(OSError, AttributeError, ImportError):  # F_SETPIPE_SZ: Linux only
        import fcntl

        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    return read_end, write_end


def _fork() -> int:
    with warnings.catch_warnings():  # Python 3.12+: fork of a process with threads
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


# ---------------------------------------------------------------------- the workers


def _first_worker(pipes: list[tuple[tuple[int, int], tuple[int, int]]],
                  warm: tuple[str, ...]) -> None:  # pragma: no cover -- in a worker
    """The first worker: ``warm`` imports, then the other workers forked, then its tasks."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the main process
        for (_, task_write), (result_read, _) in pipes:  # the main process's ends
            os.close(task_write)
            os.close(result_read)
        for name in warm:
            with suppress(ImportError):
                importlib.import_module(name)
        others = []
        for k in range(1, len(pipes)):
            pid = os.fork()
            if pid == 0:
                _close_all_but(pipes, k)
                _serve(os.fdopen(pipes[k][0][0], "rb"), os.fdopen(pipes[k][1][1], "wb"))
                os._exit(0)
            others.append(pid)
        _close_all_but(pipes, 0)
        _serve(os.fdopen(pipes[0][0][0], "rb"), os.fdopen(pipes[0][1][1], "wb"))
        for pid in others:
            with suppress(ChildProcessError):
                os.waitpid(pid, 0)
    except BaseException:  # never a traceback from a worker
        code = 1
    finally:
        os._exit(code)


def _close_all_but(pipes: list[tuple[tuple[int, int], tuple[int, int]]],
                   kept: int) -> None:  # pragma: no cover -- in a worker
    """Close the pipe ends of the other workers (so each pipe's end is seen by one reader)."""
    for k, ((task_read, _), (_, result_write)) in enumerate(pipes):
        if k != kept:
            with suppress(OSError):
                os.close(task_read)
            with suppress(OSError):
                os.close(result_write)


def _serve(tasks: BinaryIO, out: BinaryIO) -> None:  # pragma: no cover -- in a worker
    """Run the tasks read from ``tasks`` one by one until the pipe closes."""
    with suppress(EOFError, OSError):
        while True:
            function, args, kwargs = pickle.load(tasks)
            _send(out, function, args, kwargs)


def _send(out: BinaryIO, function: Callable[..., Any], args: tuple,
          kwargs: dict) -> None:  # pragma: no cover -- in a worker
    """``function(*args, **kwargs)`` pickled into ``out``, or ``(False, None)`` if it fails."""
    try:
        message = pickle.dumps((True, function(*args, **kwargs)), pickle.HIGHEST_PROTOCOL)
    except Exception:  # the main process does this task itself, and raises there
        message = pickle.dumps((False, None))
    out.write(message)
    out.flush()
