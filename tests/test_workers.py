"""Worker processes: the same results as in one process, and failures handled here.

:func:`portfolio.jobs.workers.forked_map` (the backtest's estimates ahead) and
:func:`~portfolio.jobs.workers.worker_pool` (its charts) only move work to other processes:
every test compares against the same work done in this process, byte for byte, and checks
that a worker's failure leaves the work to this process, where its error is raised.
"""

from __future__ import annotations

import os
import pickle
from concurrent.futures import Executor, Future
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_backtest import (
    EQUAL,
    HOLD,
    MINVAR,
    POLICY,
    invoke,
    make_config,
    short_copy,
    synthetic_prices,
    write_base,
)

import portfolio.backtesting.strategies as strategies_module
import portfolio.jobs.workers as workers
from portfolio.backtesting.market import PastView, build_market
from portfolio.backtesting.strategies import WindowEstimates
from portfolio.errors import DataError
from portfolio.estimate.inputs import RiskSettings
from portfolio.jobs.backtest import backtest
from portfolio.report.backtest import backtest_files, plot_names

needs_fork = pytest.mark.skipif(not workers.forking_supported(), reason="fork: Linux only")
MAX_SHARPE = {"name": "maxsharpe", "kind": "max_sharpe", "expected_returns": "historical"}
STRATEGIES = [HOLD, EQUAL, MINVAR, MAX_SHARPE, POLICY]


def children() -> set[int]:
    """Processes whose parent is this one, zombies included (from /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            found.add(int(stat.parent.name))
    return found


def square_in_child(value: int) -> tuple[int, int]:
    return value * value, os.getpid()


def fails_on_three(value: int) -> int:
    if value == 3:
        raise ValueError("three")
    return value


# ---------------------------------------------------------------------------- forked_map


@needs_fork
def test_forked_map_computes_every_item_in_order_in_another_process():
    results = list(workers.forked_map(square_in_child, list(range(40))))
    assert [ok for ok, _ in results] == [True] * 40
    assert [value for _, (value, _) in results] == [k * k for k in range(40)]
    assert {pid for _, (_, pid) in results} != {os.getpid()}


@needs_fork
def test_a_failing_item_is_left_to_the_reader_and_the_others_still_come():
    results = list(workers.forked_map(fails_on_three, [1, 2, 3, 4]))
    assert results == [(True, 1), (True, 2), (False, None), (True, 4)]


@needs_fork
def test_a_result_that_does_not_pickle_is_left_to_the_reader():
    results = list(workers.forked_map(lambda k: (lambda: k) if k == 1 else k, [0, 1, 2]))
    assert results == [(True, 0), (False, None), (True, 2)]


@needs_fork
def test_closing_early_stops_and_reaps_the_child():
    big = np.ones(200_000)  # results larger than the pipe: the child blocks on writing
    before = children()
    results = workers.forked_map(lambda k: big * k, list(range(50)))
    ok, first = next(results)
    assert ok and first[0] == 0.0
    started = children() - before
    assert len(started) == 1
    results.close()
    assert not children() & started  # the child stopped and was reaped (no zombie)


def test_without_fork_every_item_is_left_to_the_reader(monkeypatch):
    monkeypatch.setattr(workers, "forking_supported", lambda: False)
    assert list(workers.forked_map(square_in_child, [1, 2])) == [(False, None)] * 2


# ---------------------------------------------------------------------------- estimates


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_base(tmp_path)
    return tmp_path


def assert_same_backtest(one, other):
    assert list(one.strategies) == list(other.strategies)
    for name in one.strategies:
        a, b = one.strategies[name], other.strategies[name]
        pd.testing.assert_frame_equal(a.daily_weights, b.daily_weights, check_exact=True)
        pd.testing.assert_series_equal(a.equity, b.equity, check_exact=True)
        assert a.metrics == b.metrics and a.solvers == b.solvers
    assert one.notes == other.notes


@needs_fork
def test_estimates_made_ahead_give_the_same_backtest_to_the_last_bit(folder):
    config = make_config(folder, STRATEGIES)
    prices = synthetic_prices()
    alone = backtest(config, market=prices)
    with workers.worker_processes(1) as pool:
        ahead = backtest(config, market=prices, workers=pool)
    assert_same_backtest(alone, ahead)


def test_a_date_whose_estimate_failed_elsewhere_is_estimated_here(folder, monkeypatch):
    made = []

    def nothing_ahead(function, items):  # every item left to the reader
        made.append(len(items))
        return iter([(False, None)] * len(items))

    config = make_config(folder, STRATEGIES)
    prices = synthetic_prices()
    assert_same_backtest(backtest(config, market=prices),
                         backtest(config, market=prices, workers=Ahead(nothing_ahead)))
    assert made and made[0] > 5  # one list of every calendar decision date


def test_estimates_ahead_are_read_once_per_decision_date_in_order(folder, monkeypatch):
    served = []

    def in_this_process(function, items):
        for past in items:
            served.append(past.date)
            yield True, function(past)

    prices = synthetic_prices()
    config = make_config(folder, [MINVAR, MAX_SHARPE])
    assert_same_backtest(backtest(config, market=prices),
                         backtest(config, market=prices, workers=Ahead(in_this_process)))
    assert served == sorted(served) and len(served) == len(set(served)) > 5


def test_a_date_that_was_not_planned_is_estimated_here_not_taken_from_another(folder):
    estimates = WindowEstimates(RiskSettings(factors=()), 40)
    estimates.request("ledoit_wolf", None)
    market, _, _ = build_market(make_config(folder, [MINVAR]), synthetic_prices(), [])
    planned = [PastView.at(market, 60), PastView.at(market, 80)]
    estimates.prefetch(planned, lambda function, items: iter([(True, "not used")] * 2))
    between = PastView.at(market, 70)
    inputs = estimates.at(between, "ledoit_wolf", None)
    alone = WindowEstimates(RiskSettings(factors=()), 40).at(between, "ledoit_wolf", None)
    pd.testing.assert_frame_equal(inputs.covariance.matrix, alone.covariance.matrix)


def test_window_estimates_ignore_an_estimate_made_for_other_listed_names(folder):
    estimates = WindowEstimates(RiskSettings(factors=()), 40)
    estimates.request("ledoit_wolf", None)
    market, _, _ = build_market(make_config(folder, [MINVAR]), synthetic_prices(), [])
    planned = PastView.at(market, 60)
    moved = replace(planned, available=planned.available[:-1])
    estimates.prefetch([planned], lambda function, items: iter([(True, "not used")]))
    inputs = estimates.at(moved, "ledoit_wolf", None)  # estimated here, for its own names
    assert inputs.available == moved.available


def test_a_failing_estimate_raises_the_same_error_with_or_without_estimates_ahead(
        folder, monkeypatch):
    real = strategies_module.estimate_inputs

    def broken(returns, *args, **keys):
        if keys.get("where", "") >= "2021-10-01":
            raise DataError("no estimate", keys["where"], "broken on purpose", "none")
        return real(returns, *args, **keys)

    monkeypatch.setattr(strategies_module, "estimate_inputs", broken)
    config = make_config(folder, [MINVAR])
    prices = synthetic_prices()
    alone = backtest(config, market=prices)
    with workers.worker_processes(1) as pool:
        ahead = backtest(config, market=prices, workers=pool)
    failures = alone.strategies["minvar"].failures
    assert failures and failures == ahead.strategies["minvar"].failures


# ---------------------------------------------------------------------------- charts


class Ahead:
    """Workers whose ahead() is the given map (no process): the backtest's side only."""

    def __init__(self, ahead):
        self.ahead = ahead


class BrokenPool(Executor):
    """An executor whose every task fails, as a pool whose workers died."""

    def submit(self, fn, /, *args, **kwargs):
        future: Future = Future()
        future.set_exception(RuntimeError("worker died"))
        return future


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    folder = tmp_path_factory.mktemp("charts")
    write_base(folder)
    return backtest(make_config(folder, [HOLD, EQUAL, MINVAR]), market=synthetic_prices())


@needs_fork
def test_charts_drawn_by_workers_are_the_same_files_byte_for_byte(result):
    alone = backtest_files(result)
    with workers.worker_processes(2, warm=("matplotlib.figure",)) as pool:
        assert pool is not None
        with_pool = backtest_files(result, executor=pool)
    assert list(with_pool) == list(alone)  # same files in the same order
    assert all(with_pool[name] == alone[name] for name in plot_names(result))
    assert with_pool["metrics.json"] == alone["metrics.json"]


def test_a_chart_whose_worker_failed_is_drawn_here(result):
    alone = backtest_files(result, html=False)
    assert backtest_files(result, html=False, executor=BrokenPool()) == alone


def test_weights_charts_drawn_on_one_figure_are_the_same_bytes_as_on_new_figures(
        result, monkeypatch):
    import matplotlib.figure

    from portfolio.report.backtest import ChartData, plot_png, plot_pngs, weights_figure

    weights = {name: strategy for name, strategy in plot_names(result).items() if strategy}
    data = ChartData.of(result)
    first, second = list(weights.values())[:2]
    figure = weights_figure(data, first)
    assert weights_figure(data, second, figure) is figure  # drawn again, not a new one
    alone = {name: plot_png(name, data, strategy) for name, strategy in weights.items()}
    made = []

    class Counted(matplotlib.figure.Figure):
        def __init__(self, *args, **keys):
            made.append(self)
            super().__init__(*args, **keys)

    monkeypatch.setattr(matplotlib.figure, "Figure", Counted)
    in_turn = plot_pngs(weights, data)
    assert len(made) == 1  # one figure for every weights chart
    backwards = plot_pngs(dict(reversed(weights.items())), data)
    assert in_turn == alone and backwards == alone


def test_a_weights_chart_gets_only_its_strategy_and_the_data_pickles(result):
    from portfolio.report.backtest import ChartData

    data = ChartData.of(result, ("hold",), equity=False)
    assert list(data.weights) == ["hold"] and data.equity.empty
    back = pickle.loads(pickle.dumps(data))
    pd.testing.assert_frame_equal(back.weights["hold"], result.strategies["hold"].daily_weights)
    assert (back.strategies, back.benchmarks, back.tickers) == (
        data.strategies, data.benchmarks, data.tickers)


# ---------------------------------------------------------------------------- the pool


def test_no_pool_for_zero_workers_or_without_fork(monkeypatch):
    with workers.worker_processes(0) as pool:
        assert pool is None
    monkeypatch.setattr(workers, "forking_supported", lambda: False)
    with workers.worker_processes(2) as pool:
        assert pool is None


@needs_fork
def test_pool_workers_are_other_processes_that_imported_the_warm_modules():
    with workers.worker_processes(2, warm=("json",)) as pool:
        answers = [pool.submit(_pid_and_loaded, "json") for _ in range(4)]
        found = [answer.result() for answer in answers]
    assert all(loaded for _, loaded in found)
    pids = {pid for pid, _ in found}
    assert len(pids) == 2 and os.getpid() not in pids  # round robin over both workers


def _pid_and_loaded(module: str) -> tuple[int, bool]:
    import sys

    return os.getpid(), module in sys.modules


def test_default_workers_are_the_cores_at_most_two(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0}, raising=False)
    assert workers.default_workers() == 0
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: set(range(8)), raising=False)
    assert workers.default_workers() == 2


# ---------------------------------------------------------------------------- the CLI


@needs_fork
def test_cli_backtest_writes_the_same_files_with_and_without_workers(tmp_path):
    config = short_copy(tmp_path)
    for workers_option in ("0", "2"):
        done = invoke(["--offline", "backtest", str(config), "--workers", workers_option,
                       "--output-dir", str(tmp_path / workers_option), "--format", "json"])
        assert done.exit_code == 0, done.output
    alone, pooled = tmp_path / "0", tmp_path / "2"
    names = sorted(path.name for path in alone.iterdir())
    assert names == sorted(path.name for path in pooled.iterdir())
    stamped = {"manifest.json", "report.md", "report.html"}  # creation time and run time
    for name in set(names) - stamped:
        assert (alone / name).read_bytes() == (pooled / name).read_bytes(), name


def test_cli_backtest_refuses_a_negative_worker_count(tmp_path):
    done = invoke(["--offline", "backtest", str(short_copy(tmp_path)), "--workers", "-1"])
    assert done.exit_code == 2
    assert "--workers" in done.output


@needs_fork
def test_a_task_that_raises_or_does_not_pickle_fails_here_and_the_worker_goes_on():
    with workers.worker_processes(1) as pool:
        failed = pool.submit(fails_on_three, 3)
        unpicklable = pool.submit(lambda: 1)  # a lambda does not pickle: never sent
        fine = pool.submit(fails_on_three, 4)
        with pytest.raises(workers.WorkerFailed):
            failed.result()
        with pytest.raises(workers.WorkerFailed):
            unpicklable.result()
        assert fine.result() == 4


@needs_fork
def test_a_dead_worker_fails_its_tasks_here_and_shutdown_still_returns():
    with workers.worker_processes(1) as pool:
        pid = pool.submit(os.getpid).result()
        os.kill(pid, 9)
        with pytest.raises(workers.WorkerFailed):
            pool.submit(os.getpid).result()
    before = children()
    assert not any(pid == child for child in before)


@needs_fork
def test_shutdown_reaps_every_worker():
    before = children()
    with workers.worker_processes(2) as pool:
        assert len({pool.submit(os.getpid).result() for _ in range(2)}) == 2
        assert len(children() - before) == 1  # the first worker forked the second
    assert children() == before


def die_at_once(value: int) -> int:
    os._exit(1)


@needs_fork
def test_workers_still_start_when_the_child_that_should_tell_them_died_early():
    import signal

    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("the first worker never started"))
    signal.alarm(30)
    try:
        with workers.worker_processes(2) as pool:
            assert list(pool.ahead(die_at_once, list(range(8)))) == [(False, None)] * 8
            assert {pool.submit(os.getpid).result() for _ in range(2)} - {os.getpid()}
    finally:
        signal.alarm(0)


def test_estimates_made_ahead_are_used_not_made_again(folder, monkeypatch):
    config = make_config(folder, [MINVAR, MAX_SHARPE])
    prices = synthetic_prices()
    alone = backtest(config, market=prices)
    real, walking = strategies_module.estimate_inputs, []

    def only_ahead(*args, **keys):
        assert not walking, "a planned date was estimated again during the walk"
        return real(*args, **keys)

    def all_before_the_walk(function, items):
        made = [(True, function(past)) for past in items]
        walking.append(True)
        return iter(made)

    monkeypatch.setattr(strategies_module, "estimate_inputs", only_ahead)
    ahead = backtest(config, market=prices, workers=Ahead(all_before_the_walk))
    assert walking
    assert_same_backtest(alone, ahead)


def wait_for_file(path: str) -> bool:
    """True once ``path`` exists, False after 20 s."""
    import time

    deadline = time.monotonic() + 20
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def make_file(path: str, payload: bytes) -> int:
    Path(path).write_text("made")
    return len(payload)


@needs_fork
def test_a_task_larger_than_its_pipe_reaches_its_worker_while_another_result_is_awaited(
        tmp_path):
    """Worker 0 waits for a file that worker 1's second task makes. Worker 1 is busy when
    that task is sent, and it does not fit in its pipe: the rest of it must be sent while
    this process waits for worker 0 (else worker 0 gives up after 20 s)."""
    import time

    flag = str(tmp_path / "flag")
    payload = bytes(3 * workers.PIPE_BYTES)
    with workers.worker_processes(2) as pool:  # tasks go to workers 0, 1, 0, 1
        waiting = pool.submit(wait_for_file, flag)
        pool.submit(time.sleep, 0.5)
        pool.submit(os.getpid)
        making = pool.submit(make_file, flag, payload)
        assert waiting.result() is True
        assert making.result() == len(payload)


def big_result(size: int) -> bytes:
    return bytes([size % 251]) * size


@needs_fork
def test_results_larger_than_their_pipes_arrive_whole_in_any_order():
    sizes = [3 * workers.PIPE_BYTES + k for k in range(4)]
    with workers.worker_processes(2) as pool:
        futures = [pool.submit(big_result, size) for size in sizes]
        for future, size in reversed(list(zip(futures, sizes, strict=True))):
            assert future.result() == big_result(size)
