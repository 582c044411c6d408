"""The OpenAI look-through cap in the optimiser: it always holds, and it binds when it must."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from portfolio.analytics.exposure import lookthrough_exposure
from portfolio.config.ecosystem import load_ecosystem
from portfolio.config.schema import ThemeCapSpec
from portfolio.jobs.optimize import optimize_from_config
from portfolio.optimization.constraints import CashFloor, MaxWeight, ThemeCap
from portfolio.optimization.problem import PortfolioProblem


def independent_exposure(config, weights):
    """sum_i w_i * x_i with x from the packaged deal graph, computed apart from the optimiser."""
    graph = load_ecosystem(config.ecosystem.file)
    x = lookthrough_exposure(graph, "OpenAI", config.ecosystem.damping, list(config.tickers))
    return float(sum(weights.get(t, 0.0) * x[t] for t in config.tickers))


def with_theme_cap(config, cap):
    spec = ThemeCapSpec(name="openai_lookthrough", hub="OpenAI", cap=cap)
    return replace(config, limits=replace(config.limits, theme_caps=(spec,)))


@pytest.mark.parametrize("objective", ["min_variance", "max_sharpe", "risk_parity"])
def test_default_config_respects_the_cap(config, market, objective):
    run = optimize_from_config(config, market=market, objective=objective)
    exposure = independent_exposure(config, run.allocation.weights)
    assert exposure <= config.limits.theme_caps[0].cap + 1e-6


def test_cap_binds_when_it_must(config, market):
    loose = optimize_from_config(with_theme_cap(config, 1.0), market=market,
                                 objective="min_variance")
    free_exposure = independent_exposure(config, loose.allocation.weights)
    cap = free_exposure / 2  # below what the optimiser would choose on its own
    tight = optimize_from_config(with_theme_cap(config, cap), market=market,
                                 objective="min_variance")
    assert independent_exposure(config, tight.allocation.weights) == pytest.approx(cap, abs=1e-6)
    assert "theme_cap[openai_lookthrough]" in tight.allocation.binding
    assert tight.allocation.volatility >= loose.allocation.volatility - 1e-9


def test_cap_binds_on_a_synthetic_universe():
    # A is the least risky name but fully exposed to the hub; B and C are not exposed.
    tickers = ["A", "B", "C"]
    cov = pd.DataFrame(np.diag([0.01, 0.04, 0.09]), index=tickers, columns=tickers)
    exposures = {"A": 1.0, "B": 0.0, "C": 0.0}
    limits = [MaxWeight(1.0), CashFloor(0.0), ThemeCap("openai", exposures, 0.30)]
    allocation = PortfolioProblem(tickers, "min_variance", limits).solve(cov)
    assert allocation.weights["A"] == pytest.approx(0.30, abs=1e-6)
    # Closed form for B, C given A = 0.3: weights proportional to 1/variance on the rest.
    rest = np.array([1 / 0.04, 1 / 0.09])
    expected = 0.70 * rest / rest.sum()
    assert allocation.weights[["B", "C"]].to_numpy() == pytest.approx(expected, abs=1e-6)
    assert "theme_cap[openai]" in allocation.binding
