"""Edge-case inputs of the holdings-driven commands: no traceback, no exit 1, no wrong number."""

from __future__ import annotations

import json

import numpy as np
from cli_helpers import run

from portfolio.jobs.frontier import frontier_from_config
from portfolio.jobs.market import market_data
from portfolio.optimization.frontier import efficient_frontier


def test_frontier_before_a_listing_holds_the_unlisted_name_at_zero(capsys, tmp_path):
    # CRWV listed in 2025-03: at 2024-12-25 it has no returns in the lookback.
    holdings = tmp_path / "holdings.csv"
    holdings.write_text("ticker,shares\nNVDA,100\nCASH,1000\n")
    code, out, err = run(capsys, "frontier", "--offline", "--as-of", "2024-12-25",
                         "--points", "3", "--holdings", str(holdings), "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["as_of"] == "2024-12-24"
    text = json.dumps(data)
    assert "CRWV" in text  # named in a warning


def test_efficient_frontier_keeps_unavailable_names_at_zero(config, market):
    from portfolio.jobs.limits import constraints_from_config, theme_exposures
    from portfolio.jobs.optimize import config_inputs

    inputs = config_inputs(config, market, with_returns=True)
    tickers = list(config.tickers)
    available = {t: t != "NVDA" for t in tickers}
    constraints = constraints_from_config(config, exposures=theme_exposures(config))
    frontier = efficient_frontier(
        inputs.padded_covariance(tickers), inputs.expected_returns, constraints, points=3,
        available=available,
    )
    np.testing.assert_allclose(frontier.weights["NVDA"].to_numpy(), 0.0, atol=1e-8)
    assert "NVDA" not in frontier.assets.index
    np.testing.assert_allclose(frontier.weights.sum(axis=1).to_numpy(), 1.0, atol=1e-6)


def test_frontier_from_config_early_as_of(config):
    from portfolio.jobs.market import DataOptions

    market = market_data(config, DataOptions(source="bundled", offline=True, as_of="2024-12-25"))
    run_ = frontier_from_config(config, market=market, points=2)
    np.testing.assert_allclose(run_.frontier.weights["CRWV"].to_numpy(), 0.0, atol=1e-8)
    assert "CRWV" not in run_.frontier.assets.index
    assert any("CRWV" in w for w in run_.warnings)
