"""Tests of portfolio.analytics.risk and portfolio.report.risk against hand-computed oracles.

Market data is the bundled dataset (no network), loaded once per module.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from portfolio.analytics.risk import OTHER_GROUP, backcast_returns
from portfolio.analytics.valuation import value_holdings
from portfolio.data.holdings import Holdings, read_holdings
from portfolio.errors import InputError
from portfolio.estimate.inputs import MIN_USABLE_OBSERVATIONS
from portfolio.jobs.limits import constraints_from_config, theme_exposures
from portfolio.jobs.market import DataOptions, market_data
from portfolio.jobs.optimize import config_inputs
from portfolio.jobs.risk import risk_report
from portfolio.optimization.constraints import check_all
from portfolio.report import render
from portfolio.report.risk import risk_report_document

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
HOLDINGS = EXAMPLES / "holdings.csv"
BUNDLED = DataOptions(source="bundled", offline=True)
LEVELS = {"95%": 0.95, "99%": 0.99}
HORIZONS = {"1d": 1, "10d": 10}


@pytest.fixture(scope="module")
def holdings(config):
    return read_holdings(HOLDINGS, known_tickers=config.tickers)


@pytest.fixture(scope="module")
def report(config, market, holdings):
    return risk_report(holdings, config=config, market=market)


@pytest.fixture(scope="module")
def covariance(config, market):
    """The optimizer's covariance of the whole universe (an independent call)."""
    return config_inputs(config, market).covariance.matrix


@pytest.fixture(scope="module")
def daily_returns(config, market):
    """Daily simple returns of the lookback, computed here from prices."""
    window = market.prices.iloc[-(config.risk.lookback_days + 1):]
    return (window / window.shift(1) - 1.0).iloc[1:]


def risky(weights: pd.Series) -> pd.Series:
    return weights.drop("CASH")


def hand_backcast(weights: pd.Series, returns: pd.DataFrame) -> pd.Series:
    """Day by day: renormalise the held names that have a return to the full risky weight."""
    names = [t for t in risky(weights).index if weights[t] > 0]
    invested = weights[names].sum()
    values = {}
    for date, row in returns[names].iterrows():
        present = [t for t in names if not math.isnan(row[t])]
        if not present:
            continue
        scale = invested / sum(weights[t] for t in present)
        values[date] = sum(weights[t] * scale * row[t] for t in present)
    return pd.Series(values)


# --------------------------------------------------------------------------- valuation


def test_value_holdings_multiplies_shares_by_the_as_of_close():
    prices = pd.Series({"NVDA": 100.0, "AMD": 50.0, "CRWV": np.nan, "SPY": 500.0},
                       name=pd.Timestamp("2024-05-31"))
    holdings = Holdings({"NVDA": 3, "AMD": 2, "CRWV": 0}, cash=100.0, source="h.csv")
    valuation = value_holdings(holdings, prices)
    assert valuation.values.to_dict() == {"NVDA": 300.0, "AMD": 100.0, "CRWV": 0.0}
    assert valuation.total == 500.0
    assert valuation.cash == 100.0
    assert valuation.weights.to_dict() == {"NVDA": 0.6, "AMD": 0.2, "CRWV": 0.0, "CASH": 0.2}
    assert valuation.prices["NVDA"] == 100.0


def test_value_holdings_without_a_price_names_file_ticker_date_and_fix():
    prices = pd.Series({"NVDA": 100.0, "CRWV": np.nan}, name=pd.Timestamp("2024-05-31"))
    with pytest.raises(InputError) as info:
        value_holdings(Holdings({"NVDA": 1, "CRWV": 5}, source="h.csv"), prices)
    message = info.value.message
    for word in ("CRWV", "h.csv", "2024-05-31", "--as-of", "remove"):
        assert word in message


def test_holding_without_price_at_as_of_raises(config, holdings):
    early = market_data(config, dataclasses.replace(BUNDLED, as_of="2024-06-01"))
    with pytest.raises(InputError) as info:
        risk_report(holdings, config=config, market=early)
    assert "CRWV" in info.value.message and "2024-05-31" in info.value.message
    assert str(HOLDINGS) in info.value.where


@pytest.fixture(scope="module")
def just_listed(config):
    """Prices up to 2025-04-10: CRWV (listed 2025-03-28) has a price but only 9 returns."""
    return market_data(config, dataclasses.replace(BUNDLED, as_of="2025-04-10"))


def test_held_name_with_too_short_a_history_names_ticker_count_minimum_and_fix(
    config, holdings, just_listed
):
    crwv_returns = just_listed.prices["CRWV"].pct_change(fill_method=None).count()
    assert crwv_returns == 9 < MIN_USABLE_OBSERVATIONS == 20
    with pytest.raises(InputError) as info:
        risk_report(holdings, config=config, market=just_listed)
    error = info.value
    assert error.where == f"{HOLDINGS}, ticker CRWV"
    for word in ("CRWV", "2025-04-10", "has 9 daily returns", "at least 20", "--as-of",
                 "give CRWV a weight of 0"):
        assert word in error.message
    with pytest.raises(InputError, match=r"\(weights, ticker CRWV\).*CRWV has 9 daily"):
        risk_report({"NVDA": 0.5, "CRWV": 0.3, "CASH": 0.2}, config=config, market=just_listed)


def test_unheld_name_with_too_short_a_history_is_left_out_with_a_warning(config, just_listed):
    result = risk_report({"NVDA": 0.5, "CRWV": 0.0, "CASH": 0.5}, config=config,
                         market=just_listed)
    assert "CRWV" not in result.covariance.matrix.index
    assert any("CRWV" in w and "left out of the risk model" in w for w in result.warnings)
    assert list(result.risk_contributions.index) == ["NVDA"]
    assert result.volatility == pytest.approx(
        0.5 * math.sqrt(result.covariance.matrix.loc["NVDA", "NVDA"]), rel=1e-12
    )


def test_unheld_name_without_price_is_left_out_with_a_warning(config):
    early = market_data(config, dataclasses.replace(BUNDLED, as_of="2024-06-01"))
    result = risk_report({"NVDA": 0.5, "AMD": 0.3, "CASH": 0.2}, config=config, market=early)
    assert "CRWV" not in result.covariance.matrix.index
    assert any("CRWV" in w and "left out" in w for w in result.warnings)
    assert result.as_of == pd.Timestamp("2024-05-31")


# --------------------------------------------------------------------------- risk figures


def test_risk_contributions_sum_to_volatility(report, covariance):
    w = report.weights.reindex(covariance.index).fillna(0.0).to_numpy()
    expected = math.sqrt(w @ covariance.to_numpy() @ w)
    assert report.volatility == pytest.approx(expected, rel=1e-12)
    assert abs(report.risk_contributions.sum() - report.volatility) <= 1e-10
    assert abs(report.risk_contributions_pct.sum() - 1.0) <= 1e-10
    marginal = covariance.to_numpy() @ w / expected
    by_name = dict(zip(covariance.index, w * marginal))
    for ticker, value in report.risk_contributions.items():
        assert value == pytest.approx(by_name[ticker], rel=1e-10)


def test_parametric_var_and_cvar_equal_the_normal_formula(report):
    for level, c in LEVELS.items():
        for horizon, h in HORIZONS.items():
            sigma = report.volatility * math.sqrt(h / 252)
            z = norm.ppf(c)
            assert report.var["parametric"][level][horizon] == pytest.approx(z * sigma, rel=1e-9)
            assert report.cvar["parametric"][level][horizon] == pytest.approx(
                sigma * norm.pdf(z) / (1 - c), rel=1e-9
            )


def test_backcast_renormalises_names_without_a_return(report, daily_returns):
    expected = hand_backcast(report.weights, daily_returns)
    assert list(report.backcast.index) == list(expected.index)
    np.testing.assert_allclose(report.backcast.to_numpy(), expected.to_numpy(), rtol=0,
                               atol=1e-14)
    before_listing = daily_returns.index[daily_returns["CRWV"].isna()]
    assert len(before_listing) > 300  # CRWV listed 2025-03-28, inside the 3-year lookback
    assert any("CRWV" in w and "pro rata" in w for w in report.warnings)


def test_backcast_is_daily_when_the_risk_model_is_weekly(report, config, market,
                                                        daily_returns):
    weekly = dataclasses.replace(config, risk=dataclasses.replace(config.risk, frequency="weekly"))
    result = risk_report(report.weights, config=weekly, market=market)
    assert result.covariance.frequency == "weekly"
    expected = hand_backcast(report.weights, daily_returns)
    assert list(result.backcast.index) == list(expected.index)
    np.testing.assert_allclose(result.backcast.to_numpy(), expected.to_numpy(), rtol=0,
                               atol=1e-14)
    pd.testing.assert_series_equal(result.backcast, report.backcast)


def test_backcast_drops_days_without_any_held_return_and_keeps_cash_at_zero():
    returns = pd.DataFrame({"A": [0.1, np.nan, 0.2], "B": [np.nan, np.nan, -0.1]},
                           index=pd.date_range("2024-01-01", periods=3))
    weights = pd.Series({"A": 0.3, "B": 0.2, "CASH": 0.5})
    series, renormalised = backcast_returns(weights, returns)
    assert list(series.index) == [returns.index[0], returns.index[2]]
    assert series.iloc[0] == pytest.approx(0.5 * 0.1)  # A carries the whole risky 50 %
    assert series.iloc[1] == pytest.approx(0.3 * 0.2 + 0.2 * -0.1)
    assert renormalised.to_dict() == {"A": 0, "B": 1}


def test_historical_var_and_cvar_are_empirical_quantiles_of_the_backcast(report):
    daily = report.backcast.to_numpy()
    ten_day = np.array([np.prod(1 + daily[i:i + 10]) - 1 for i in range(len(daily) - 9)])
    for level, c in LEVELS.items():
        for horizon, sample in (("1d", daily), ("10d", ten_day)):
            cutoff = np.quantile(sample, 1 - c)
            assert report.var["historical"][level][horizon] == pytest.approx(-cutoff, rel=1e-12)
            assert report.cvar["historical"][level][horizon] == pytest.approx(
                -sample[sample <= cutoff].mean(), rel=1e-12
            )


def test_var_in_usd_is_the_fraction_times_the_value(report):
    total = report.valuation.total
    for method in ("parametric", "historical"):
        for level in LEVELS:
            for horizon in HORIZONS:
                assert report.var_usd[method][level][horizon] == pytest.approx(
                    report.var[method][level][horizon] * total, rel=1e-12
                )


def test_max_drawdown_matches_an_independent_computation(report):
    value, peak_value, peak_date = 1.0, 1.0, report.backcast.index[0]
    worst = (0.0, None, None)
    for date, r in report.backcast.items():
        value *= 1 + r
        if value >= peak_value:
            peak_value, peak_date = value, date
        depth = 1 - value / peak_value
        if depth > worst[0]:
            worst = (depth, peak_date, date)
    drawdown = report.max_drawdown
    assert drawdown.depth == pytest.approx(worst[0], rel=1e-12)
    assert (drawdown.peak, drawdown.trough) == (worst[1], worst[2])


def test_beta_and_tracking_error_against_the_benchmark(report, daily_returns):
    spy = daily_returns["SPY"].loc[report.backcast.index].to_numpy()
    portfolio = report.backcast.to_numpy()
    assert report.beta == pytest.approx(np.polyfit(spy, portfolio, 1)[0], rel=1e-9)
    assert report.tracking_error == pytest.approx(
        np.std(portfolio - spy, ddof=1) * math.sqrt(252), rel=1e-12
    )


def test_correlation_is_implied_by_the_covariance(report, covariance):
    names = list(report.risk_contributions.index)
    assert list(report.correlation.index) == names == list(report.correlation.columns)
    sub = covariance.loc[names, names].to_numpy()
    sd = np.sqrt(np.diag(sub))
    np.testing.assert_allclose(report.correlation.to_numpy(), sub / np.outer(sd, sd),
                               atol=1e-12)


def test_group_contributions_sum_over_members_and_to_volatility(report, config):
    groups = report.group_risk
    assert abs(groups["risk_contribution"].sum() - report.volatility) <= 1e-10
    assert groups["weight"].sum() == pytest.approx(1 - report.weights["CASH"], abs=1e-12)
    for group, members in config.groups.items():
        held = [t for t in members if t in report.risk_contributions.index]
        assert groups.at[group, "risk_contribution"] == pytest.approx(
            report.risk_contributions[held].sum(), abs=1e-15
        )
        assert groups.at[group, "weight"] == pytest.approx(report.weights[held].sum(), abs=1e-15)
    assert OTHER_GROUP not in groups.index  # every held name of the example is in a group


def test_names_in_no_group_go_to_other(config, market):
    limits = dataclasses.replace(config.limits, group_caps={}, group_floors={})
    ungrouped = dataclasses.replace(config, groups={"chips": ("NVDA",)}, limits=limits)
    result = risk_report({"NVDA": 0.4, "MSFT": 0.3, "ORCL": 0.3}, config=ungrouped,
                         market=market)
    assert list(result.group_risk.index) == ["chips", OTHER_GROUP]
    assert result.group_risk.at[OTHER_GROUP, "risk_contribution"] == pytest.approx(
        result.risk_contributions[["MSFT", "ORCL"]].sum(), abs=1e-15
    )


def test_concentration_measures(report):
    invested = risky(report.weights)
    v = invested / invested.sum()
    c = report.concentration
    assert c.hhi == pytest.approx(float((v**2).sum()), rel=1e-12)
    assert c.effective_names == pytest.approx(1 / c.hhi, rel=1e-12)
    assert c.top5_share == pytest.approx(float(v.sort_values().iloc[-5:].sum()), rel=1e-12)
    p = report.risk_contributions_pct
    assert c.effective_bets == pytest.approx(1 / float((p**2).sum()), rel=1e-10)


def test_limit_table_is_the_optimizer_limits_and_flags_nvda(report, config):
    nvda = next(row for row in report.limits if row.name == "max_weight[NVDA]")
    assert not nvda.ok
    assert nvda.limit == 0.20
    assert nvda.value == pytest.approx(report.weights["NVDA"], abs=1e-15)
    expected = check_all(constraints_from_config(config, exposures=theme_exposures(config)),
                         report.weights, config.tickers)
    assert report.limits == expected
    assert {"max_weight[NVDA]", "group_cap[semiconductors]", "cash_floor"} <= {
        row.name for row in report.breaches
    }


def test_openai_exposure_is_weight_times_lookthrough(report, config):
    x = theme_exposures(config)["OpenAI"]
    expected = sum(report.weights[t] * x[t] for t in risky(report.weights).index)
    assert report.exposure_hub == "OpenAI"
    assert report.exposure.total == pytest.approx(expected, rel=1e-12)
    assert report.exposure.per_holding["CASH"] == 0.0
    theme = next(row for row in report.limits if row.name.startswith("theme_cap"))
    assert theme.value == pytest.approx(report.exposure.total, rel=1e-12)
    assert report.exposure_cap == 0.15


# --------------------------------------------------------------------------- weights input


def test_weights_and_holdings_give_the_same_risk(report, config, market):
    from_weights = risk_report(report.valuation.weights, config=config, market=market)
    assert from_weights.volatility == pytest.approx(report.volatility, rel=1e-12)
    assert from_weights.var == report.var
    assert from_weights.valuation is None and from_weights.var_usd is None


def test_cash_has_zero_risk(report, config, market):
    scale = 0.5
    invested = risky(report.weights) * scale
    half = pd.concat([invested, pd.Series({"CASH": 1.0 - invested.sum()})])
    halved = risk_report(half, config=config, market=market)
    assert halved.volatility == pytest.approx(report.volatility * scale, rel=1e-10)
    for level in LEVELS:
        assert halved.var["historical"][level]["1d"] == pytest.approx(
            report.var["historical"][level]["1d"] * scale, rel=1e-10
        )
    assert halved.beta == pytest.approx(report.beta * scale, rel=1e-10)
    assert halved.concentration.hhi == pytest.approx(report.concentration.hhi, rel=1e-12)


def test_sample_covariance_override_matches_numpy(config, market, daily_returns):
    weights = {"NVDA": 0.5, "MSFT": 0.3, "AMD": 0.15, "CASH": 0.05}
    result = risk_report(weights, config=config, market=market, covariance_method="sample")
    names = ["NVDA", "MSFT", "AMD"]
    sigma = np.cov(daily_returns[names].to_numpy(), rowvar=False, ddof=1) * 252
    w = np.array([weights[t] for t in names])
    assert result.covariance_method == "sample"
    assert result.volatility == pytest.approx(math.sqrt(w @ sigma @ w), rel=1e-10)


@pytest.mark.parametrize(
    ("weights", "words"),
    [
        ({"NVDA": 0.5, "AMD": 0.3, "CASH": 0.1}, ("sum to 0.9", "CASH")),
        ({"NVDA": 0.7, "AMD": 0.4, "CASH": 0.0}, ("sum to 1.1",)),
        ({"NVDA": 0.7, "AMD": 0.4}, ("sum to 1.1", "more than 1")),
        ({"NVDA": 1.2, "CASH": -0.2}, ("invalid weight",)),
        ({"NVDAA": 1.0}, ("unknown ticker", "Did you mean 'NVDA'")),
        ({"NVDA": float("nan"), "CASH": 1.0}, ("invalid weight",)),
    ],
)
def test_bad_weights_raise_input_error(config, market, weights, words):
    with pytest.raises(InputError) as info:
        risk_report(weights, config=config, market=market)
    for word in words:
        assert word in info.value.message


def test_weights_without_cash_hold_the_rest_as_cash(config, market):
    # one weights contract with rebalance targets and target files: the rest is cash
    implicit = risk_report({"NVDA": 0.5, "AMD": 0.3}, config=config, market=market)
    explicit = risk_report({"NVDA": 0.5, "AMD": 0.3, "CASH": 0.2}, config=config, market=market)
    assert implicit.weights["CASH"] == pytest.approx(0.2)
    assert implicit.volatility == explicit.volatility


def test_result_is_immutable(report):
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.volatility = 0.0
    with pytest.raises(TypeError):
        report.var["parametric"]["95%"]["1d"] = 0.0


# --------------------------------------------------------------------------- document


def test_document_json_carries_the_required_keys(report):
    document = risk_report_document(report)
    data = json.loads(render(document, "json"))
    required = {"volatility", "risk_contributions", "risk_contributions_pct", "group_risk",
                "var", "cvar", "max_drawdown", "beta", "tracking_error", "concentration",
                "limits", "exposure", "correlation", "weights", "as_of", "data_source",
                "warnings"}
    assert required <= set(data)
    assert abs(sum(data["risk_contributions"].values()) - data["volatility"]) <= 1e-10
    assert data["var"]["historical"]["99%"]["10d"] == report.var["historical"]["99%"]["10d"]
    assert set(data["max_drawdown"]) >= {"depth", "peak", "trough"}
    assert data["max_drawdown"]["peak"] == str(report.max_drawdown.peak.date())
    assert set(data["concentration"]) >= {"hhi", "effective_names", "effective_bets",
                                          "top5_share"}
    assert {"name": "max_weight[NVDA]", "value": report.weights["NVDA"], "limit": 0.2,
            "sense": "<=", "ok": False} in data["limits"]
    assert data["exposure"]["hub"] == "OpenAI"
    assert data["correlation"]["NVDA"]["NVDA"] == 1.0
    assert data["as_of"] == "2026-07-31" and data["data_source"] == "bundled"
    assert sum(data["weights"].values()) == pytest.approx(1.0, abs=1e-12)


def test_document_sections_and_summary(report):
    document = risk_report_document(report)
    titles = [s.title for s in document.sections]
    assert titles[:3] == ["Positions", "Groups", "Value at risk"]
    assert "Limits" in titles and "Concentration" in titles
    positions = document.sections[0]
    assert [row[0] for row in positions.rows] == list(report.weights.index)
    summary = " ".join(document.summary)
    assert "39.52 %" in summary or f"{100 * report.volatility:.2f} %" in summary
    assert f"{len(report.breaches)} of {len(report.limits)} limits breached" in summary
    assert "OpenAI look-through exposure" in summary
