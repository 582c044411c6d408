"""Least trading that brings every limit back (``rebalance --mode minimal``) and cost basis.

Oracles: brute force over a fine grid of three-name portfolios (the least turnover and
the closest portfolio within it), the closed-form least turnover of the box-and-budget
set, hand-computed realised gains and average cost bases.
"""

from __future__ import annotations

import itertools
import json
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import assert_one_line_error, run

from portfolio.config.parse import load_config, parse_config
from portfolio.data.holdings import Holdings, parse_holdings, read_holdings
from portfolio.errors import ConfigError, InfeasibleError, InputError
from portfolio.jobs.market import DataOptions, market_data
from portfolio.jobs.rebalance import rebalance
from portfolio.optimization.constraints import (
    CashFloor,
    GroupCap,
    GroupFloor,
    MaxWeight,
    ThemeCap,
    check_all,
)
from portfolio.optimization.feasibility import minimum_turnover
from portfolio.optimization.turnover import least_turnover, turnover_set
from portfolio.trading.gains import basis_after, realised_gains
from portfolio.trading.minimal import minimal_trade_target, turnover_between
from portfolio.trading.orders import Order
from portfolio.weights import CASH

ROOT = Path(__file__).resolve().parents[1]
HOLDINGS = ROOT / "examples" / "holdings.csv"
BUNDLED = ("--offline", "--data-source", "bundled")
TICKERS = ("A", "B", "C")
STEP = 0.01


def _grid() -> np.ndarray:
    """Every (a, b, c, cash) on a 1 % grid, shape (m, 4)."""
    ticks = np.round(np.arange(0, 1 + STEP / 2, STEP), 10)
    points = [(a, b, c) for a, b in itertools.product(ticks, ticks) if a + b <= 1 + 1e-12
              for c in ticks[ticks <= 1 - a - b + 1e-12]]
    grid = np.array(points)
    return np.column_stack([grid, 1 - grid.sum(axis=1)])


GRID = _grid()


def _random_case(seed: int):
    rng = np.random.default_rng(seed)
    current = np.round(rng.dirichlet(np.ones(4)), 2)
    current[-1] = 1 - current[:3].sum()
    limits = (
        MaxWeight(float(rng.choice([0.3, 0.4, 0.5])), {"C": float(rng.choice([0.1, 0.2]))}),
        GroupCap("ab", ("A", "B"), float(rng.choice([0.5, 0.6, 0.7]))),
        ThemeCap("theme", {"A": 1.0, "C": 0.5}, float(rng.choice([0.2, 0.3]))),
        CashFloor(float(rng.choice([0.05, 0.1]))),
    )
    return pd.Series(current, index=[*TICKERS, CASH]), limits


def _grid_turnover(current: pd.Series, limits) -> tuple[np.ndarray, np.ndarray]:
    """Grid points meeting every limit and their one-way turnover."""
    ok = np.ones(len(GRID), dtype=bool)
    for item in limits:
        if isinstance(item, MaxWeight):
            ok &= np.all(GRID[:, :3] <= item.caps(TICKERS) + 1e-12, axis=1)
            continue
        loadings, offset, bound, sense = item.linear_form(TICKERS)
        values = GRID[:, :3] @ np.asarray(loadings) + offset
        ok &= values <= bound + 1e-12 if sense == "<=" else values >= bound - 1e-12
    feasible = GRID[ok]
    turnover = 0.5 * np.abs(feasible - current.to_numpy()).sum(axis=1)
    return feasible, turnover


@pytest.mark.parametrize("seed", range(6))
def test_least_turnover_matches_brute_force_on_a_grid(seed):
    current, limits = _random_case(seed)
    points, turnover = _grid_turnover(current, limits)
    target, found = minimal_trade_target(current, limits, TICKERS)
    assert all(row.ok for row in check_all(limits, target, TICKERS))
    # the LP optimum is exact; the 1 % grid can only do as well or slightly worse
    assert found <= turnover.min() + 1e-9
    assert found >= turnover.min() - 2 * STEP
    assert found == pytest.approx(turnover_between(current, target, TICKERS), abs=1e-12)
    assert len(points)


@pytest.mark.parametrize("seed", range(6))
def test_closest_to_the_reference_within_the_least_turnover_matches_brute_force(seed):
    current, limits = _random_case(seed)
    reference = pd.Series([0.3, 0.2, 0.1, 0.4], index=[*TICKERS, CASH])
    target, least = minimal_trade_target(current, limits, TICKERS, reference=reference)
    plain, _ = minimal_trade_target(current, limits, TICKERS)
    points, turnover = _grid_turnover(current, limits)
    # the least turnover is the same with and without a reference (cash may stay where
    # the reference has it: here 40 %)
    assert least == pytest.approx(turnover_between(current, plain, TICKERS), abs=1e-8)
    near = points[turnover <= least + 1e-9]
    distance = np.abs(target.to_numpy() - reference.to_numpy()).sum()
    if len(near):
        assert distance <= np.abs(near - reference.to_numpy()).sum(axis=1).min() + 1e-8


def test_without_linear_rows_the_least_turnover_is_the_closed_form():
    rng = np.random.default_rng(7)
    for _ in range(20):
        current = pd.Series(rng.dirichlet(np.ones(4)), index=[*TICKERS, CASH])
        caps = rng.uniform(0.3, 0.8, 3)
        budget = 0.9
        feasible = turnover_set([MaxWeight(1.0, dict(zip(TICKERS, caps)))], TICKERS,
                                cash_bounds=(1 - budget, 1 - budget))
        found = least_turnover(feasible, current.to_numpy()[:3], float(current[CASH]))
        closed = minimum_turnover(current.to_dict(), TICKERS, np.zeros(3), caps, budget)
        assert found[0] == pytest.approx(closed, abs=1e-9)


def test_proceeds_are_reinvested_toward_the_reference_not_parked_in_cash():
    # theme cap full: the only name the reference wants (B) carries a little theme loading
    current = pd.Series([0.6, 0.0, 0.0, 0.4], index=[*TICKERS, CASH])
    limits = (MaxWeight(0.5), ThemeCap("theme", {"A": 1.0, "B": 0.05}, 0.5), CashFloor(0.05))
    reference = pd.Series([0.2, 0.5, 0.25, 0.05], index=[*TICKERS, CASH])
    target, _ = minimal_trade_target(current, limits, TICKERS, reference=reference)
    assert target[CASH] <= 0.4 + 1e-9  # at most the current cash (above the reference's)
    assert target["A"] <= 0.5 + 1e-9
    assert all(row.ok for row in check_all(limits, target, TICKERS))


def test_a_turnover_cap_below_the_least_turnover_names_both_numbers():
    current = pd.Series([0.9, 0.0, 0.0, 0.1], index=[*TICKERS, CASH])
    with pytest.raises(InfeasibleError) as caught:
        minimal_trade_target(current, (MaxWeight(0.5),), TICKERS, max_turnover=0.2)
    text = str(caught.value)
    assert "40.00%" in text and "20.00%" in text and "max_turnover" in text


def test_limits_that_cannot_hold_together_are_an_infeasible_error():
    current = pd.Series([0.5, 0.5, 0.0, 0.0], index=[*TICKERS, CASH])
    with pytest.raises(InfeasibleError, match="cannot all hold"):
        minimal_trade_target(current, (MaxWeight(0.2), GroupFloor("abc", TICKERS, 0.7)),
                             TICKERS, reference=current)


# --------------------------------------------------------------------------- cost basis


def test_cost_basis_column_is_optional_and_checked():
    plain = parse_holdings("ticker,shares\nNVDA,10\nCASH,5\n")
    assert dict(plain.cost_basis) == {}
    held = parse_holdings("ticker,shares,cost_basis\nNVDA,10,41.2\nAMD,3,\nCASH,100,\n")
    assert dict(held.cost_basis) == {"NVDA": 41.2}
    for text, word in (("NVDA,10,-1", "negative"), ("NVDA,10,abc", "not a number"),
                       ("CASH,10,5", "CASH")):
        with pytest.raises(InputError, match=word):
            parse_holdings(f"ticker,shares,cost_basis\n{text}\n", "h.csv")
    with pytest.raises(InputError):
        Holdings({"NVDA": 1.0}, cost_basis={"AMD": 10.0})


def test_realised_gain_is_proceeds_less_fee_less_basis():
    orders = (Order("NVDA", "sell", 100, 200.0, 20_000.0, 10.0),
              Order("AMD", "sell", 10, 50.0, 500.0, 1.0),
              Order("MSFT", "buy", 5, 400.0, 2_000.0, 1.0))
    gains, unknown = realised_gains(orders, {"NVDA": 40.0, "MSFT": 300.0})
    assert [(g.ticker, g.gain) for g in gains] == [("NVDA", 20_000.0 - 10.0 - 4_000.0)]
    assert unknown == ("AMD",)
    basis = basis_after(orders, {"NVDA": 150, "MSFT": 5}, {"NVDA": 40.0, "MSFT": 300.0})
    assert basis["NVDA"] == 40.0  # a sell leaves the basis per share alone
    assert basis["MSFT"] == pytest.approx((5 * 300.0 + 2_000.0) / 10)


# --------------------------------------------------------------------------- job and CLI


@pytest.fixture(scope="module")
def market():
    return market_data(load_config(), DataOptions(source="bundled", offline=True))


@pytest.fixture(scope="module")
def runs(market):
    holdings = read_holdings(HOLDINGS)
    return {mode: rebalance(holdings, market=market, mode=mode) for mode in ("target", "minimal")}


def test_minimal_mode_fixes_every_breach_with_less_turnover(runs):
    minimal, target = runs["minimal"], runs["target"]
    assert minimal.breaches_before and not minimal.breaches_after
    assert minimal.turnover < 0.45 < target.turnover
    assert minimal.reference is not None and minimal.mode == "minimal"
    assert minimal.plan.after_weights[CASH] < 0.10  # proceeds reinvested
    assert minimal.notes[0].startswith("minimal mode:")
    # the realised gain of the smaller sale is smaller
    assert 0 < minimal.realised_total < target.realised_total


def test_realised_gains_in_the_run_match_the_orders_and_the_file(runs):
    run = runs["target"]
    basis = read_holdings(HOLDINGS).cost_basis
    for item in run.realised:
        order = next(o for o in run.orders if o.ticker == item.ticker and o.side == "sell")
        assert item.gain == pytest.approx(order.notional - order.cost
                                          - order.shares * basis[order.ticker])
    assert run.realised_total == pytest.approx(sum(item.gain for item in run.realised))
    assert set(run.after_holdings.cost_basis) <= set(run.after_holdings.shares)


def test_cli_minimal_json_and_realised_gains(capsys):
    code, out, err = run(capsys, "rebalance", "--holdings", str(HOLDINGS), "--mode", "minimal",
                         *BUNDLED, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["mode"] == "minimal" and data["reference"]["CASH"] == pytest.approx(0.05)
    sells = [o for o in data["orders"] if o["side"] == "sell"]
    assert data["realised_gain_total"] == pytest.approx(sum(o["realised_gain"] for o in sells))
    assert all(o["realised_gain"] is None for o in data["orders"] if o["side"] == "buy")


def test_cli_table_shows_the_realised_gain_column(capsys):
    code, out, _ = run(capsys, "rebalance", "--holdings", str(HOLDINGS), "--mode", "minimal",
                       *BUNDLED, "--format", "markdown")
    assert code == 0
    assert "realised gain (USD)" in out and "not tax advice" in out
    assert "least trading that brings every limit back" in out


def test_cli_max_turnover_below_the_least_is_one_line_naming_the_number(capsys):
    for mode in ("minimal", "target"):
        code, out, err = run(capsys, "rebalance", "--holdings", str(HOLDINGS), "--mode", mode,
                             "--max-turnover", "0.3", *BUNDLED)
        assert_one_line_error(code, out, err, "max_turnover", "37.3")


def test_cli_max_turnover_at_the_least_is_met(capsys):
    # the turnover the error names (exact LP over every limit, not the per-name bound)
    code, out, err = run(capsys, "rebalance", "--holdings", str(HOLDINGS), "--mode", "target",
                         "--max-turnover", "0.3738", *BUNDLED, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["turnover"] <= 0.3738 + 0.005  # whole-share rounding


def test_trading_mode_in_the_config():
    data = tomllib.loads((ROOT / "config" / "default.toml").read_text(encoding="utf-8"))
    data["trading"]["mode"] = "minimal"
    assert parse_config(data, "c.toml", ROOT / "config").trading.mode == "minimal"
    data["trading"]["mode"] = "least"
    with pytest.raises(ConfigError, match="minimal"):
        parse_config(data, "c.toml", ROOT / "config")
