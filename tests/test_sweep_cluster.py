"""Sweeps on Dask: a LocalCluster of 2 processes, a killed sweep, a scheduler the test starts.

Everything with sockets runs in subprocesses (the installed ``portfolio`` script,
``python -m dask scheduler`` / ``dask worker``), all bound to 127.0.0.1; the test
process itself opens no connection (conftest refuses them). Every process is started in
its own session and killed as a group when the test ends, within bounded time.

Oracles: the in-process run of the same sweep, compared key by key to the last bit
(metrics as stored floats, and the sha256 of every equity curve, daily weights and trades).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sweep_helpers import GRID, write_sweep

import portfolio as pf
from portfolio.data.sweep_store import SweepStore

SCRIPT = Path(sys.executable).parent / "portfolio"
OFFLINE = pf.DataOptions(source="bundled", offline=True)
pytestmark = pytest.mark.slow


def _cli(path: Path, out: Path, *args: str, timeout: float = 240
         ) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SCRIPT), "sweep", str(path), "--offline", "--output-dir", str(out),
         "--format", "json", *args],
        capture_output=True, text=True, cwd=path.parent, timeout=timeout,
    )


def _stored(folder: Path) -> dict:
    with SweepStore(folder / "results.sqlite") as store:
        return store.read()


def _same_bits(serial: dict, other: dict) -> None:
    assert serial.keys() == other.keys()
    for key, row in serial.items():
        assert other[key].status == row.status
        assert other[key].metrics == row.metrics  # floats read back bit for bit
        assert other[key].fingerprints == row.fingerprints


def _serial(path: Path, out: Path) -> dict:
    pf.sweep(path, output_dir=out, options=OFFLINE, in_process=True)
    return _stored(out)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the process group, then SIGKILL after 15 s."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def _started(*command: str, cwd: Path) -> Iterator[tuple[subprocess.Popen, queue.Queue]]:
    """A process in its own session; its stderr lines arrive on a queue."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, start_new_session=True, cwd=cwd)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stderr],
                     daemon=True).start()
    try:
        yield process, lines
    finally:
        _stop(process)


def _wait_for(lines: queue.Queue, marker: str, seconds: float = 90) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        if marker in line:
            return line
    pytest.fail(f"no '{marker}' within {seconds} s")


def test_a_local_cluster_of_two_processes_equals_the_serial_run_to_the_last_bit(tmp_path):
    path = write_sweep(tmp_path, GRID)
    serial = _serial(path, tmp_path / "serial")
    done = _cli(path, tmp_path / "cluster", "--workers", "2")
    assert done.returncode == 0, done.stderr
    manifest = json.loads(done.stdout)["manifest"]
    assert manifest["cluster"]["mode"] == "local" and manifest["cluster"]["workers"] == 2
    assert manifest["cluster"]["scheduler"].startswith("tcp://127.0.0.1:")
    assert manifest["cluster"]["dask_version"] and manifest["versions"]["distributed"]
    cluster = _stored(tmp_path / "cluster")
    _same_bits(serial, cluster)
    workers = {row.worker for row in cluster.values()}
    assert len(workers) == 2 and all(w.startswith("tcp://127.0.0.1:") for w in workers)


KILL_SWEEP = """
backtest = "backtest.toml"
strategies = ["Policy"]

[fixed]
start = "2024-01-02"

[grid]
"limits.max_weight" = [0.12, 0.15, 0.18, 0.21, 0.24, 0.27]
rebalance = ["weekly", "monthly"]
"""


def test_a_killed_sweep_resumes_and_runs_only_what_was_missing(tmp_path):
    path = write_sweep(tmp_path, KILL_SWEEP)
    out = tmp_path / "out"
    store = out / "results.sqlite"
    process = subprocess.Popen(
        [str(SCRIPT), "sweep", str(path), "--offline", "--output-dir", str(out), "--workers",
         "1", "-q"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and process.poll() is None:
            if store.exists() and len(_stored(out)) >= 3:
                break
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)  # the sweep and its workers, mid-way
        process.wait(30)
    finally:
        _stop(process)
    before = _stored(out)
    assert 3 <= len(before) < 12, f"the sweep was not stopped mid-way ({len(before)} stored)"
    resumed = pf.sweep(path, output_dir=out, options=OFFLINE, in_process=True)
    assert resumed.skipped == len(before) and resumed.ran == 12 - len(before)
    after = _stored(out)
    for key, row in before.items():  # the stored variants were not run again
        assert after[key].run == row.run and after[key].finished_utc == row.finished_utc
    assert {row.run for key, row in after.items() if key not in before} == {
        resumed.manifest["run"]["id"]}
    _same_bits(_serial(path, tmp_path / "fresh"), after)


def test_an_existing_scheduler_started_by_the_test_runs_the_sweep(tmp_path):
    path = write_sweep(tmp_path, GRID)
    serial = _serial(path, tmp_path / "serial")
    dask = [sys.executable, "-m", "dask"]
    with _started(*dask, "scheduler", "--host", "127.0.0.1", "--port", "0",
                  "--no-dashboard", cwd=tmp_path) as (_, scheduler_log):
        address = _wait_for(scheduler_log, "Scheduler at:").split("Scheduler at:")[1].strip()
        assert address.startswith("tcp://127.0.0.1:")
        with _started(*dask, "worker", address, "--nworkers", "1", "--nthreads", "1",
                      "--host", "127.0.0.1", "--no-dashboard", cwd=tmp_path) as (_, worker_log):
            _wait_for(worker_log, "Registered to")
            done = _cli(path, tmp_path / "remote", "--scheduler", address)
    assert done.returncode == 0, done.stderr
    cluster = json.loads(done.stdout)["manifest"]["cluster"]
    assert cluster == {"mode": "remote", "scheduler": address, "workers": 1,
                       "threads_per_worker": 1, "dask_version": cluster["dask_version"]}
    _same_bits(serial, _stored(tmp_path / "remote"))


def test_a_bad_scheduler_address_is_a_one_line_error_in_bounded_time(tmp_path):
    path = write_sweep(tmp_path, GRID)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for address, words in ((f"tcp://127.0.0.1:{port}", "no Dask scheduler answered"),
                           ("smtp://127.0.0.1:25", "invalid Dask scheduler address")):
        started = time.monotonic()
        done = _cli(path, tmp_path / "out", "--scheduler", address, timeout=60)
        assert time.monotonic() - started < 45
        assert done.returncode == 2 and done.stdout == ""
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and words in lines[0]
        assert f"--scheduler {address}" in lines[0]
    assert not (tmp_path / "out").exists()  # nothing written before the check
