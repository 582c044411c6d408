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
  forked at once and waits; told to go (by the child of :func:`forked_map` near its end,
  when a core is about to be free, or by the first task), it imports the ``warm`` modules
  (matplotlib), then forks the others, which start with them imported. They draw the PNG
  charts (:func:`~portfolio.report.backtest.backtest_files`) while this process writes
  the tables and report.html. matplotlib is imported once, in the workers only.

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
import select
import signal
import struct
import sys
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from contextlib import contextmanager, suppress
from typing import Any, BinaryIO

__all__ = ["ForkedWorkers", "WorkerFailed", "default_workers", "forked_map",
           "forking_supported", "worker_processes"]

GO_AFTER = 0.75
"""Share of its items after which the child of :func:`forked_map` tells the first worker
to go: its imports then overlap the child's last items (measured: 0.5 to 1.0 within the
noise, 0.75 the best median)."""

MAX_DEFAULT_WORKERS = 2
"""Workers by default at most: beyond two, the backtest's charts gain little."""

HEADER = struct.Struct("<Q")
"""Each result travels as its pickle's length in bytes, then the pickle."""

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
        self._tasks: list[int | None] = []  # non-blocking write ends, one per worker
        self._outbox: list[bytearray] = []  # task bytes not yet taken by the pipe
        self._results: list[int | None] = []  # non-blocking read ends, one per worker
        self._inbox: list[bytearray] = []  # result bytes read, not yet a whole message
        self._pending: list[deque[_LazyFuture]] = []  # futures of the tasks sent, in order
        self._turn = 0
        self._closed = False
        self._go: int | None = None  # write end of the first worker's go-ahead pipe
        self._told = False  # this process wrote its go

    def start(self) -> None:
        """Fork the first worker now; it imports ``warm`` once told to go (see :meth:`go`).

        A worker started early costs nothing while it waits; the child of :meth:`ahead`
        tells it to go near its end, :meth:`submit` at the latest.
        """
        if self._first is not None or self._closed:
            return
        pipes = [(_pipe(), _pipe()) for _ in range(self.count)]  # (task, result) per worker
        go_read, go_write = os.pipe()
        child = _fork()
        if child == 0:  # pragma: no cover -- a worker; its results are tested from here
            os.close(go_write)
            _first_worker(pipes, go_read, self.warm)
        os.close(go_read)
        self._first, self._go = child, go_write
        for (task_read, task_write), (result_read, result_write) in pipes:
            os.close(task_read)
            os.close(result_write)
            for end in (task_write, result_read):  # this process waits only in poll
                os.set_blocking(end, False)
            self._tasks.append(task_write)
            self._outbox.append(bytearray())
            self._results.append(result_read)
            self._inbox.append(bytearray())
            self._pending.append(deque())

    def go(self) -> None:
        """Let the first worker import ``warm`` and fork the others now.

        Extra go bytes (from the child of :meth:`ahead` too) are harmless: the worker
        reads one.
        """
        if self._go is not None and not self._told:
            self._told = True
            with suppress(OSError):
                os.write(self._go, b"g")

    def ahead(self, function: Callable[[Any], Any], items: Sequence[Any]
              ) -> Iterator[tuple[bool, Any]]:
        """:func:`forked_map`: ``function(item)`` per item, in a child forked now, in order.

        An :data:`~portfolio.backtesting.strategies.AheadMap` for the backtest's
        estimates. The child tells the first worker to go near its end.
        """
        if self._go is None:
            return forked_map(function, items)
        workers = [fd for fd in self._tasks if fd is not None]
        workers += [fd for fd in self._results if fd is not None]
        return forked_map(function, items, done_fd=self._go, close_fds=workers)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Run ``fn(*args, **kwargs)`` in a worker (round robin); the call is pickled.

        Never waits: what the worker's pipe cannot take yet stays in an outbox, sent
        while this process later waits for a result.
        """
        if self._closed:
            raise RuntimeError("submit after shutdown")
        self.start()
        self.go()
        worker = self._turn % self.count
        self._turn += 1
        future = _LazyFuture(self, worker)
        try:
            if self._tasks[worker] is None:
                raise WorkerFailed(f"worker {worker} stopped")
            message = pickle.dumps((fn, args, kwargs), pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, AttributeError, TypeError, WorkerFailed) as error:
            future.set_exception(WorkerFailed(f"task not sent to worker {worker}: {error}"))
            return future
        self._outbox[worker] += message
        self._pending[worker].append(future)
        self._send(worker)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the workers: their pipes close, they finish the task at hand and exit."""
        if self._closed:
            return
        self._closed = True
        if self._first is not None and not self._turn:  # no task: nothing to wait for
            with suppress(OSError):
                os.kill(self._first, signal.SIGKILL)
        for worker in range(len(self._tasks)):
            self._stop(worker, "the workers were stopped")
        if self._go is not None:
            with suppress(OSError):
                os.close(self._go)
        if self._first is not None:
            with suppress(ChildProcessError):
                os.waitpid(self._first, 0)

    def _send(self, worker: int) -> None:
        """Write of ``worker``'s outbox what its pipe takes now."""
        fd, box = self._tasks[worker], self._outbox[worker]
        while fd is not None and box:
            try:
                written = os.write(fd, box[:PIPE_BYTES])
            except BlockingIOError:
                return
            except OSError:
                self._stop(worker, f"worker {worker} stopped")
                return
            del box[:written]

    def _collect(self, worker: int, future: _LazyFuture) -> None:
        """Move tasks and results through the pipes until ``future`` has its result.

        One ``poll`` waits on every pipe: each worker gets the rest of its tasks as its
        pipe takes them and its results are read as they come, so no worker waits for a
        task while this process waits for another's result.
        """
        while not future.done() and self._pending[worker]:
            waiting = select.poll()
            for fd, box in zip(self._tasks, self._outbox, strict=True):
                if fd is not None and box:
                    waiting.register(fd, select.POLLOUT)
            for fd, pending in zip(self._results, self._pending, strict=True):
                if fd is not None and pending:
                    waiting.register(fd, select.POLLIN)
            for fd, _ in waiting.poll():  # an error or hang-up shows in the read or write
                if fd in self._tasks:
                    self._send(self._tasks.index(fd))
                elif fd in self._results:
                    self._receive(self._results.index(fd))
        if not future.done():
            future.set_exception(WorkerFailed(f"worker {worker} lost the task"))

    def _receive(self, worker: int) -> None:
        """Read what ``worker`` sent; settle the futures of its whole messages, in order."""
        try:
            data = os.read(self._results[worker], PIPE_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the worker died
            self._stop(worker, f"worker {worker} could not finish")
            return
        inbox = self._inbox[worker]
        inbox += data
        while len(inbox) >= HEADER.size:
            end = HEADER.size + HEADER.unpack_from(inbox)[0]
            if len(inbox) < end:
                return
            try:
                done, result = pickle.loads(inbox[HEADER.size:end])
            except Exception:  # a result that does not unpickle here
                self._stop(worker, f"worker {worker} sent what this process cannot read")
                return
            del inbox[:end]
            waiting = self._pending[worker].popleft()
            if done:
                waiting.set_result(result)
            else:
                waiting.set_exception(WorkerFailed(f"worker {worker} could not finish"))

    def _stop(self, worker: int, why: str) -> None:
        """Close ``worker``'s pipes and fail the tasks it still had."""
        if self._tasks[worker] is not None:
            with suppress(OSError):
                os.close(self._tasks[worker])
            self._tasks[worker] = None
        if self._results[worker] is not None:
            with suppress(OSError):
                os.close(self._results[worker])
            self._results[worker] = None
        self._outbox[worker].clear()
        self._inbox[worker].clear()
        for waiting in self._pending[worker]:
            if not waiting.done():
                waiting.set_exception(WorkerFailed(why))
        self._pending[worker].clear()


def forked_map(function: Callable[[Any], Any], items: Sequence[Any], *,
               done_fd: int | None = None, close_fds: Sequence[int] = ()
               ) -> Iterator[tuple[bool, Any]]:
    """``function(item)`` for each item, computed ahead in a child forked now, in order.

    Parameters
    ----------
    function : callable
        Run in the child, which inherits this process's memory: neither the function nor
        the items are pickled, only the results.
    items : sequence
        The arguments, in the order the results are read.
    done_fd : int, optional
        A pipe's write end the child writes one byte to once it has done
        :data:`GO_AFTER` of the items.
    close_fds : sequence of int
        Descriptors of this process the child closes at once (pipes of other workers,
        whose readers must see them close when this process closes them).

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
            for fd in (read_end, *close_fds):
                with suppress(OSError):
                    os.close(fd)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            out = os.fdopen(write_end, "wb")
            told = int(GO_AFTER * len(items))
            with suppress(OSError):
                for k, item in enumerate(items):
                    if k == told and done_fd is not None:
                        with suppress(OSError):
                            os.write(done_fd, b"g")
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
                header = reader.read(HEADER.size)
                message = reader.read(HEADER.unpack(header)[0])
                yield pickle.loads(message)
            except Exception:  # the child died, or a result that does not unpickle here
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


def _first_worker(pipes: list[tuple[tuple[int, int], tuple[int, int]]], go: int,
                  warm: tuple[str, ...]) -> None:  # pragma: no cover -- in a worker
    """The first worker: waits to go, imports ``warm``, forks the others, runs its tasks."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the main process
        for (_, task_write), (result_read, _) in pipes:  # the main process's ends
            os.close(task_write)
            os.close(result_read)
        if not os.read(go, 1):  # closed without a go: the main process stopped
            return
        os.close(go)
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
    out.write(HEADER.pack(len(message)))
    out.write(message)
    out.flush()
