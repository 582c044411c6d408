"""Conditional stress: the Gaussian closed form against a second algebra and a hand case; the
historical method converging on synthetic data with a known joint law (normal and t)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from portfolio.analytics.conditional import (
    gaussian_conditional,
    historical_conditional,
    horizon_returns,
)
from portfolio.analytics.inputs import horizon_label, parse_horizon, parse_shocks
from portfolio.data.holdings import read_holdings
from portfolio.errors import DataError, InputError
from portfolio.jobs.market import DataOptions
from portfolio.jobs.optimize import config_inputs
from portfolio.jobs.scenarios import conditional_stress

EXAMPLE = Path(__file__).parents[1] / "examples" / "holdings.csv"
TICKERS = ["A", "B", "C", "D"]
SD = np.array([0.010, 0.0075, 0.005, 0.0125])  # daily
RHO = np.array([[1.0, 0.6, 0.3, 0.5], [0.6, 1.0, 0.2, 0.4], [0.3, 0.2, 1.0, 0.1],
                [0.5, 0.4, 0.1, 1.0]])
DAILY_COV = RHO * np.outer(SD, SD)
VALUES = pd.Series({"A": 1000.0, "B": 2000.0, "C": 3000.0, "D": 500.0})


def annual(cov=DAILY_COV):
    return pd.DataFrame(cov * 252, index=TICKERS, columns=TICKERS)


# --------------------------------------------------------------------------- Gaussian


def test_gaussian_equals_the_closed_form_through_the_precision_matrix():
    shocks = {"A": -0.30, "D": -0.20}
    result = gaussian_conditional(annual(), shocks, VALUES, 21, cash=500.0)
    # second algebra: with precision Q = Sigma^-1, E[r_O | r_S] = -Q_OO^-1 Q_OS s and
    # Cov[r_O | r_S] = Q_OO^-1 (Schur complement)
    q = np.linalg.inv(DAILY_COV * 21)
    o, g = [1, 2], [0, 3]
    s = np.array([-0.30, -0.20])
    mean = -np.linalg.solve(q[np.ix_(o, o)], q[np.ix_(o, g)] @ s)
    cov = np.linalg.inv(q[np.ix_(o, o)])
    np.testing.assert_allclose(result.moves[["B", "C"]], mean, rtol=1e-10)
    np.testing.assert_allclose(result.spread[["B", "C"]], np.sqrt(np.diag(cov)), rtol=1e-10)
    assert result.moves["A"] == -0.30 and result.spread["A"] == 0.0
    v = VALUES[["B", "C"]].to_numpy()
    pnl_mean = 1000 * -0.30 + 500 * -0.20 + v @ mean
    pnl_sd = math.sqrt(v @ cov @ v)
    assert result.pnl_mean == pytest.approx(pnl_mean, rel=1e-10)
    for q_level, value in result.pnl_quantiles.items():
        assert value == pytest.approx(pnl_mean + NormalDist().inv_cdf(q_level) * pnl_sd,
                                      rel=1e-10)
    assert result.total_value == 7000.0
    assert result.pnl_pct["5%"] == pytest.approx(result.pnl_quantiles[0.05] / 7000.0)


def test_gaussian_two_names_by_hand():
    cov = pd.DataFrame([[0.09, 0.036], [0.036, 0.04]], index=["X", "Y"], columns=["X", "Y"])
    result = gaussian_conditional(cov, {"X": -0.3}, pd.Series({"Y": 100.0}), 252)
    # rho = 0.036 / (0.3 * 0.2) = 0.6: E[Y | X] = 0.6 * 0.2 / 0.3 * -0.3 = -0.12,
    # sd = 0.2 * sqrt(1 - 0.36) = 0.16 over a year
    assert result.moves["Y"] == pytest.approx(-0.12)
    assert result.spread["Y"] == pytest.approx(0.16)
    assert result.pnl_quantiles[0.05] == pytest.approx(-12 - 1.6448536269514722 * 16)


# --------------------------------------------------------------------------- historical


def test_horizon_returns_compound_each_window():
    daily = pd.DataFrame({"A": [0.1, -0.2, 0.05, 0.0]}, index=pd.bdate_range("2024-01-01",
                                                                          periods=4))
    windows = horizon_returns(daily, 2)
    np.testing.assert_allclose(windows["A"], [1.1 * 0.8 - 1, 0.8 * 1.05 - 1, 1.05 - 1])
    assert list(windows.index) == list(daily.index[1:])


def draws(law: str, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal(np.zeros(4), DAILY_COV, size=n)
    if law == "t":  # multivariate t with 5 degrees of freedom, same scale matrix
        z = z / np.sqrt(rng.chisquare(5, size=(n, 1)) / 5)
    return pd.DataFrame(z, columns=TICKERS)


def error_of_mean(law: str, n: int, seed: int) -> float:
    shock = {"A": -0.025}  # 2.5 daily standard deviations (of the scale)
    result = historical_conditional(draws(law, n, seed), shock, VALUES[["B", "C", "D"]], 1)
    truth = DAILY_COV[1:, 0] / DAILY_COV[0, 0] * -0.025  # linear for elliptical laws
    return float(np.max(np.abs(result.moves[["B", "C", "D"]].to_numpy() - truth)))


@pytest.mark.parametrize("law", ["normal", "t"])
def test_historical_mean_converges_to_the_known_conditional_mean(law):
    small = np.mean([error_of_mean(law, 2_000, seed) for seed in range(3)])
    large = np.mean([error_of_mean(law, 400_000, seed) for seed in range(3)])
    assert large < small / 2
    assert large < 0.0012  # on moves of -0.4 % to -1.6 %


def test_historical_quantile_converges_to_the_t_law_not_the_normal():
    # bivariate t: Y | X = x is t with nu + 1 dof, location rho sy/sx x and scale
    # sy^2 (1 - rho^2) (nu + x^2/sx^2) / (nu + 1) -- wider than the normal conditional
    from scipy.stats import t

    nu, x = 5, -0.03  # a shock of 3 scale deviations
    estimate = np.mean([
        historical_conditional(draws("t", 400_000, seed)[["A", "B"]], {"A": x},
                               pd.Series({"B": 1.0}), 1).pnl_quantiles[0.05]
        for seed in range(4)])
    rho, sx, sy = RHO[0, 1], SD[0], SD[1]
    location = rho * sy / sx * x
    scale = sy * math.sqrt((1 - rho**2) * (nu + (x / sx) ** 2) / (nu + 1))
    truth = location + scale * t.ppf(0.05, nu + 1)
    assert estimate == pytest.approx(truth, abs=0.002)  # 3 standard errors of the average
    # the t law's covariance is nu/(nu-2) times the scale matrix; its normal conditional
    # quantile is much too narrow after a large shock
    cov_t = DAILY_COV[:2, :2] * nu / (nu - 2) * 252
    gaussian = gaussian_conditional(pd.DataFrame(cov_t, index=["A", "B"], columns=["A", "B"]),
                                    {"A": x}, pd.Series({"B": 1.0}), 1)
    assert abs(gaussian.pnl_quantiles[0.05] - truth) > 2 * abs(estimate - truth)


def test_historical_needs_complete_returns_and_enough_windows():
    data = draws("normal", 500, 0)
    data.iloc[3, 1] = np.nan
    with pytest.raises(DataError, match="missing or impossible"):
        historical_conditional(data, {"A": -0.05}, VALUES[["B"]], 1)
    with pytest.raises(DataError, match="too little history"):
        historical_conditional(draws("normal", 30, 0), {"A": -0.05}, VALUES[["B"]], 1)


# --------------------------------------------------------------------------- inputs


def test_horizons_and_shocks_are_parsed_and_checked():
    assert [parse_horizon(h) for h in ("1d", "2w", "1m", "3M", "1y", 10)] == [1, 10, 21, 63,
                                                                              252, 10]
    assert [horizon_label(d) for d in (252, 21, 5, 7)] == ["1y", "1m", "1w", "7d"]
    for bad in ("2x", "1.5y", "0d", "11y", ""):
        with pytest.raises(InputError):
            parse_horizon(bad)
    known = ["NVDA", "TSM", "SPY"]
    assert parse_shocks("nvda=-0.30, TSM=-0.2", known) == {"NVDA": -0.30, "TSM": -0.2}
    cases = {"NVDA=abc": "invalid shock 'abc'", "NVDAA=-0.3": "Did you mean 'NVDA'",
             "NVDA=-1": "out of range", "NVDA=-30": "Write NVDA=-0.3 for a 30 % fall",
             "NVDA": "TICKER=RETURN", "NVDA=-0.1,NVDA=-0.2": "shocked twice", " , ": "no shock"}
    for text, message in cases.items():
        with pytest.raises(InputError, match=message.replace("(", r"\(")):
            parse_shocks(text, known)


# --------------------------------------------------------------------------- the job


@pytest.fixture(scope="module")
def example():
    return conditional_stress(read_holdings(EXAMPLE), "NVDA=-0.30",
                              options=DataOptions(source="bundled", offline=True))


def test_job_uses_the_risk_models_covariance(example, config, market):
    names = [*config.tickers]
    cov = config_inputs(config, market).covariance.matrix.loc[names, names]
    direct = gaussian_conditional(cov, {"NVDA": -0.30}, example.values, 21, example.cash)
    pd.testing.assert_series_equal(direct.moves, example.gaussian.moves)
    assert example.horizon_days == 21
    assert example.gaussian.moves["NVDA"] == -0.30
    assert (example.gaussian.moves.drop("NVDA") < 0).all()  # everything falls with Nvidia
    historical = example.historical
    assert historical.samples == round(math.sqrt(historical_windows(example)))
    assert example.history[0] < pd.Timestamp("1999-02-01")
    assert (historical.moves.drop("NVDA") < 0).all()
    assert historical.pnl_quantiles[0.01] < historical.pnl_quantiles[0.05] < historical.pnl_mean
    assert any("CRWV before 2025-03-28" in w for w in example.warnings)


def historical_windows(result) -> int:
    start, end = result.history
    from portfolio.data.bundled import bundled_prices

    dates = bundled_prices().loc[start:end].index
    return len(dates) - result.horizon_days + 1


def test_a_shocked_factor_that_is_not_held(config, market):
    result = conditional_stress(read_holdings(EXAMPLE), {"SMH": -0.2}, config=config,
                                market=market, horizon="1w")
    assert "SMH" not in result.values.index and result.horizon_days == 5
    assert result.gaussian.pnl_mean < 0


def test_cli_given_in_every_format_and_bad_input(capsys):
    from cli.main import main

    def run(*args):
        with pytest.raises(SystemExit) as done:
            main(["stress", "--holdings", str(EXAMPLE), "--offline", "--quiet", *args])
        return done.value.code, capsys.readouterr()

    code, out = run("--given", "NVDA=-0.30", "--given", "TSM=-0.2", "--format", "json")
    assert code == 0
    data = json.loads(out.out)
    assert data["given"] == {"NVDA": -0.30, "TSM": -0.2} and data["horizon"] == "1m"
    assert set(data["methods"]) == {"gaussian", "historical"}
    assert set(data["methods"]["gaussian"]["pnl_quantiles"]) == {"5%", "1%"}
    for fmt in ("table", "markdown"):
        code, out = run("--given", "NVDA=-0.30", "--format", fmt)
        assert code == 0 and "P&L distribution" in out.out and "historical" in out.out
    code, out = run("--given", "NVDA=-0.30", "--format", "csv")  # the moves, raw numbers
    assert code == 0 and out.out.startswith("ticker,value (USD),gaussian move")
    code, out = run("--given", "NVDA=-0.30", "--format", "csv", "--table", "p-l-distribution")
    assert code == 0 and "historical" in out.out
    for args, message in ((("--given", "NVDA=abc"), "invalid shock 'abc' for NVDA (--given)"),
                          (("--given", "NVDAA=-0.3"), "Did you mean 'NVDA'?"),
                          (("--given", "NVDA=-1.2"), "out of range"),
                          (("--given", "NVDA=-0.3", "--horizon", "2x"), "invalid horizon"),
                          (("--horizon", "1m"), "--horizon applies to --given"),
                          (("--given", "NVDA=-0.3", "--scenario", "covid_crash"),
                           "cannot be combined")):
        code, out = run(*args)
        assert code == 2 and out.out == "", args
        lines = out.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]
