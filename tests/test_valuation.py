"""One valuation check: a non-finite or implausible holdings value is a one-line input error.

Issue 16: ``NVDA,1e308 / MSFT,1e308 / CASH,1000`` overflowed to inf, then NaN weights that
``risk`` reported as a too-short series, ``stress`` as ``"pnl": null`` and ``rebalance
--check`` as 0 % NVDA. Every command and API entry that values holdings now stops at the same
check, naming the row.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from cli_helpers import assert_one_line_error, run

from portfolio.analytics.valuation import MAX_PORTFOLIO_VALUE, checked_total, value_holdings
from portfolio.config import Limits
from portfolio.data.holdings import Holdings
from portfolio.errors import InputError
from portfolio.jobs.rebalance import drift_check
from portfolio.trading.orders import TradingCosts, plan_rebalance

OVERFLOW = "ticker,shares\nNVDA,1e308\nMSFT,1e308\nCASH,1000\n"


@pytest.fixture
def overflowing(tmp_path):
    path = tmp_path / "huge.csv"
    path.write_text(OVERFLOW)
    return path


@pytest.mark.parametrize("command", [
    ["risk"], ["stress"], ["rebalance", "--check"], ["rebalance"], ["frontier"],
])
def test_every_command_refuses_an_overflowing_position(capsys, overflowing, command):
    code, out, err = run(capsys, *command, "--holdings", str(overflowing), "--offline",
                         "--format", "json")
    assert_one_line_error(code, out, err, "implausible value of NVDA", "huge.csv",
                          "ticker NVDA", "units error")


def test_cash_and_total_are_checked_too():
    prices = pd.Series({"NVDA": 100.0, "MSFT": 400.0}, name=pd.Timestamp("2026-07-31"))
    with pytest.raises(InputError, match=r"implausible cash amount .*ticker CASH"):
        value_holdings(Holdings({"NVDA": 1.0}, cash=1e300, source="h.csv"), prices)
    # every position plausible, the sum not: 6e14 + 6e14 > 1e15
    big = Holdings({"NVDA": 6e12, "MSFT": 1.5e12}, source="h.csv")
    with pytest.raises(InputError, match=r"the portfolio is worth 1.2e\+15 USD"):
        value_holdings(big, prices)
    with pytest.raises(InputError, match="worth nothing"):
        value_holdings(Holdings({"NVDA": 0.0}, source="h.csv"), prices)


def test_a_plausible_portfolio_sums_exactly():
    values = {"NVDA": 0.1, "MSFT": 0.2, "AMD": 0.3}
    assert checked_total(values, 0.4, "<memory>") == math.fsum([0.1, 0.2, 0.3, 0.4])
    limit = checked_total({"A": MAX_PORTFOLIO_VALUE / 2}, MAX_PORTFOLIO_VALUE / 2, "m")
    assert limit == MAX_PORTFOLIO_VALUE  # the bound itself is allowed


def test_weights_are_never_nan_treated_as_zero(config, market):
    """Without group floors, a portfolio of two overflowing names used to pass the check."""
    no_floors = replace(config, limits=replace(config.limits, group_floors={}))
    assert isinstance(no_floors.limits, Limits)
    huge = Holdings({"NVDA": 1e308, "MSFT": 1e308}, cash=1000.0, source="huge.csv")
    with pytest.raises(InputError, match="NVDA"):
        drift_check(huge, config=no_floors, market=market)


def test_plan_rebalance_uses_the_same_check():
    prices = pd.Series({"NVDA": 200.0, "MSFT": 400.0})
    target = pd.Series({"NVDA": 0.5, "MSFT": 0.5})
    with pytest.raises(InputError, match=r"implausible value of NVDA: 1e\+308 shares") as caught:
        plan_rebalance(pd.Series({"NVDA": 1e308}), 0.0, prices, target, costs=TradingCosts())
    assert "np." not in caught.value.message
    plan = plan_rebalance(pd.Series({"NVDA": 10.0}), 0.0, prices, target,
                          costs=TradingCosts(), whole_shares=False)
    assert np.isclose(plan.before_weights["NVDA"], 1.0)
