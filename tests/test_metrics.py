import math
import statistics

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from portfolio.analytics.metrics import (
    Drawdown,
    annualized_volatility,
    beta,
    cagr,
    calmar,
    max_drawdown,
    sharpe,
    sortino,
    tracking_error,
)
from portfolio.analytics.risk_measures import (
    TRADING_DAYS_PER_YEAR,
    effective_number_of_bets,
    effective_number_of_names,
    hhi,
    historical_cvar,
    historical_var,
    parametric_cvar,
    parametric_var,
    percent_risk_contributions,
    portfolio_volatility,
    risk_contributions,
    top_n_share,
)
from portfolio.errors import DataError, InputError

# Two assets: vols 20 % and 30 %, correlation 0.5; w = 60/40.
# variance = 0.36*0.04 + 0.16*0.09 + 2*0.6*0.4*0.5*0.2*0.3 = 0.0432
COV = pd.DataFrame([[0.04, 0.03], [0.03, 0.09]], index=["A", "B"], columns=["A", "B"])
WEIGHTS = pd.Series({"A": 0.6, "B": 0.4})
VOLATILITY = math.sqrt(0.0432)


# --------------------------------------------------------------------------- covariance risk


def test_portfolio_volatility_by_hand_and_aligned_by_label():
    assert portfolio_volatility(WEIGHTS, COV) == pytest.approx(VOLATILITY, rel=1e-14)
    reversed_weights = WEIGHTS.iloc[::-1]
    assert portfolio_volatility(reversed_weights, COV) == pytest.approx(VOLATILITY, rel=1e-14)
    assert portfolio_volatility({"B": 0.4, "A": 0.6}, COV) == pytest.approx(VOLATILITY, rel=1e-14)


def test_risk_contributions_by_hand():
    # Sigma w = (0.6*0.04 + 0.4*0.03, 0.6*0.03 + 0.4*0.09) = (0.036, 0.054)
    contributions = risk_contributions(WEIGHTS, COV)
    expected = [0.6 * 0.036 / VOLATILITY, 0.4 * 0.054 / VOLATILITY]
    np.testing.assert_allclose(contributions.to_numpy(), expected, rtol=1e-14)
    shares = percent_risk_contributions(WEIGHTS, COV)
    np.testing.assert_allclose(shares.to_numpy(), [0.0216 / 0.0432, 0.0216 / 0.0432], rtol=1e-14)


def test_unequal_risk_contributions_by_hand_are_checked_by_label():
    # w = 70/30: Sigma w = (0.7*0.04 + 0.3*0.03, 0.7*0.03 + 0.3*0.09) = (0.037, 0.048)
    # w_i (Sigma w)_i = (0.0259, 0.0144); variance = 0.0403
    volatility = math.sqrt(0.0403)
    for weights in (pd.Series({"A": 0.7, "B": 0.3}), {"B": 0.3, "A": 0.7}):
        contributions = risk_contributions(weights, COV)
        assert contributions["A"] == pytest.approx(0.0259 / volatility, rel=1e-13)
        assert contributions["B"] == pytest.approx(0.0144 / volatility, rel=1e-13)
        assert contributions["A"] > contributions["B"]  # swapped shares would fail here
        shares = percent_risk_contributions(weights, COV)
        assert shares["A"] == pytest.approx(0.0259 / 0.0403, rel=1e-13)  # 0.6427
        assert shares["B"] == pytest.approx(0.0144 / 0.0403, rel=1e-13)  # 0.3573


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    size=st.integers(1, 12),
    long_only=st.booleans(),
)
def test_risk_contributions_sum_to_volatility(seed, size, long_only):
    rng = np.random.default_rng(seed)
    tickers = [f"T{i}" for i in range(size)]
    loadings = rng.normal(0, 0.1, (size, size + 2))
    cov = pd.DataFrame(loadings @ loadings.T, index=tickers, columns=tickers)
    raw = rng.uniform(0, 1, size) if long_only else rng.normal(0, 1, size)
    weights = pd.Series(raw / np.abs(raw).sum(), index=tickers)
    volatility = portfolio_volatility(weights, cov)
    assert risk_contributions(weights, cov).sum() == pytest.approx(volatility, abs=1e-10)
    assert percent_risk_contributions(weights, cov).sum() == pytest.approx(1.0, abs=1e-10)


def test_weights_and_covariance_must_cover_the_same_tickers():
    with pytest.raises(InputError, match="no weight for B"):
        portfolio_volatility(pd.Series({"A": 1.0}), COV)
    with pytest.raises(InputError, match="no covariance for NVDA"):
        risk_contributions(pd.Series({"A": 0.5, "B": 0.3, "NVDA": 0.2}), COV)
    with pytest.raises(InputError, match="never by position"):
        portfolio_volatility(np.array([0.6, 0.4]), COV)


@pytest.mark.parametrize(
    "weights",
    [pd.Series({"A": "x", "B": 0.5}), {"A": "x", "B": 0.5}],
    ids=["series", "mapping"],
)
def test_non_numeric_weights_are_an_input_error(weights):
    for function in (portfolio_volatility, risk_contributions, percent_risk_contributions):
        with pytest.raises(InputError, match=r"weights are not numbers \(weights\)"):
            function(weights, COV)
    with pytest.raises(InputError, match="weights are not numbers"):
        portfolio_volatility(["x", 0.5], COV.to_numpy())
    with pytest.raises(InputError, match="weights are not numbers"):
        hhi(weights)


def test_trading_days_per_year_is_the_daily_annualisation():
    assert TRADING_DAYS_PER_YEAR == 252


def test_parametric_var_and_cvar_match_normal_oracle():
    horizon, confidence = 10, 0.99
    sigma_h = VOLATILITY * math.sqrt(horizon / 252)
    z = norm.ppf(confidence)
    assert parametric_var(WEIGHTS, COV, horizon, confidence) == pytest.approx(z * sigma_h, 1e-12)
    expected_cvar = sigma_h * norm.pdf(z) / (1 - confidence)
    assert parametric_cvar(WEIGHTS, COV, horizon, confidence) == pytest.approx(expected_cvar, 1e-12)
    # an annual mean of 25.2 % shifts a 10-day loss down by 1 %
    shifted = parametric_var(WEIGHTS, COV, horizon, confidence, mean=0.252)
    assert shifted == pytest.approx(z * sigma_h - 0.01, rel=1e-12)


def test_parametric_var_rejects_bad_confidence_and_horizon():
    with pytest.raises(InputError, match="confidence"):
        parametric_var(WEIGHTS, COV, 1, 95)
    with pytest.raises(InputError, match="horizon"):
        parametric_cvar(WEIGHTS, COV, 0, 0.95)


# --------------------------------------------------------------------------- historical tail


def test_historical_var_is_the_empirical_quantile():
    returns = pd.Series(np.random.default_rng(1).standard_t(3, 1000) * 0.01)
    for confidence in (0.9, 0.95, 0.99):
        expected = -np.quantile(returns.to_numpy(), 1 - confidence)
        assert historical_var(returns, confidence) == expected


def test_historical_var_and_cvar_by_hand():
    returns = [-0.05, -0.03, -0.01, 0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06]
    # 20 % quantile, linear: position 0.2 * 9 = 1.8 -> -0.03 + 0.8 * 0.02 = -0.014
    assert historical_var(returns, 0.8) == pytest.approx(0.014, abs=1e-15)
    assert historical_cvar(returns, 0.8) == pytest.approx(0.04, abs=1e-15)


def test_multi_day_historical_var_uses_overlapping_compounded_returns():
    daily = np.random.default_rng(2).normal(0.0005, 0.02, 300)
    horizon = 5
    windows = [np.prod(1 + daily[i : i + horizon]) - 1 for i in range(len(daily) - horizon + 1)]
    expected_var = -np.quantile(windows, 0.05)
    tail = [x for x in windows if x <= np.quantile(windows, 0.05)]
    assert historical_var(daily, 0.95, horizon) == pytest.approx(expected_var, rel=1e-12)
    assert historical_cvar(daily, 0.95, horizon) == pytest.approx(-np.mean(tail), rel=1e-12)
    assert historical_cvar(daily, 0.95, horizon) >= historical_var(daily, 0.95, horizon)


def test_historical_var_rejects_missing_values():
    with pytest.raises(DataError, match="missing"):
        historical_var(pd.Series([0.01, np.nan, -0.02]), 0.95)


# --------------------------------------------------------------------------- path metrics

DATES = pd.bdate_range("2024-01-01", periods=10)  # Jan 1-5, 8-12
VALUES = pd.Series([100, 110, 105, 120, 90, 96, 108, 121, 100, 95], index=DATES, dtype=float)


def test_max_drawdown_on_values_by_hand():
    drawdown = max_drawdown(VALUES)
    assert drawdown == Drawdown(
        depth=pytest.approx(0.25, abs=1e-15),
        peak=pd.Timestamp("2024-01-04"),
        trough=pd.Timestamp("2024-01-05"),
        recovery=pd.Timestamp("2024-01-10"),
    )


def test_max_drawdown_from_returns_matches_values():
    drawdown = max_drawdown(VALUES.pct_change().dropna(), kind="returns")
    assert drawdown.depth == pytest.approx(0.25, abs=1e-12)
    assert (drawdown.peak, drawdown.trough, drawdown.recovery) == (
        pd.Timestamp("2024-01-04"),
        pd.Timestamp("2024-01-05"),
        pd.Timestamp("2024-01-10"),
    )


def test_max_drawdown_not_recovered_and_first_period_loss():
    unrecovered = max_drawdown(pd.Series([100.0, 80.0, 90.0], index=DATES[:3]))
    assert unrecovered == Drawdown(pytest.approx(0.2), DATES[0], DATES[1], None)
    # A loss in the first period counts: the path starts at 1.0, dated at the first label.
    first_loss = max_drawdown(pd.Series([-0.1, 0.05], index=DATES[:2]), kind="returns")
    assert first_loss == Drawdown(pytest.approx(0.1), DATES[0], DATES[0], None)
    rising = max_drawdown(pd.Series([1.0, 2.0, 3.0], index=DATES[:3]))
    assert rising == Drawdown(0.0, DATES[0], DATES[0], DATES[0])


def test_cagr_by_hand():
    assert cagr([0.01] * 24, "monthly") == pytest.approx(1.01**12 - 1, rel=1e-12)
    daily = [1.21 ** (1 / 504) - 1] * 504  # +21 % over two years of trading days
    assert cagr(daily) == pytest.approx(0.10, rel=1e-12)
    assert cagr([-1.0, 0.5], "monthly") == -1.0


MONTHLY = pd.Series(
    [0.02, -0.01, 0.03, 0.005, -0.02, 0.015],
    index=pd.date_range("2024-01-31", periods=6, freq="ME"),
)


def test_annualized_volatility_by_hand():
    expected = statistics.stdev(MONTHLY) * math.sqrt(12)
    assert annualized_volatility(MONTHLY, "monthly") == pytest.approx(expected, rel=1e-12)


def test_sharpe_by_hand_with_rate_and_series():
    expected = statistics.mean(MONTHLY) / statistics.stdev(MONTHLY) * math.sqrt(12)
    assert sharpe(MONTHLY, 0.0, "monthly") == pytest.approx(expected, rel=1e-12)
    per_month = 1.03 ** (1 / 12) - 1
    excess = [r - per_month for r in MONTHLY]
    expected = statistics.mean(excess) / statistics.stdev(excess) * math.sqrt(12)
    assert sharpe(MONTHLY, 0.03, "monthly") == pytest.approx(expected, rel=1e-12)
    rates = pd.Series(0.03, index=MONTHLY.index[::-1])  # aligned by date, not position
    assert sharpe(MONTHLY, rates, "monthly") == pytest.approx(expected, rel=1e-12)
    with pytest.raises(DataError, match="risk-free rate missing"):
        sharpe(MONTHLY, rates.iloc[1:], "monthly")


@pytest.mark.parametrize("rate", ["4%", None, "0.04", True])
def test_risk_free_rate_that_is_not_a_number_is_a_config_error(rate):
    for function in (sharpe, sortino):
        with pytest.raises(InputError, match=r"invalid risk-free rate.*annual fraction"):
            function(MONTHLY, rate, "monthly")


def test_sortino_by_hand():
    # mean 0.04 / 6; downside sqrt((0.01^2 + 0.02^2) / 6)
    expected = (0.04 / 6) / math.sqrt(0.0005 / 6) * math.sqrt(12)
    assert sortino(MONTHLY, 0.0, "monthly") == pytest.approx(expected, rel=1e-12)
    assert sortino(pd.Series([0.01, 0.02]), 0.0, "monthly") == math.inf


def test_calmar_by_hand():
    returns = pd.Series([0.10, -0.20, 0.05, 0.10, 0.10, 0.02])
    growth = 1.10 * 0.80 * 1.05 * 1.10 * 1.10 * 1.02
    expected = (growth**2 - 1) / 0.20  # six months -> squared; drawdown 1.1 -> 0.88
    assert calmar(returns, "monthly") == pytest.approx(expected, rel=1e-12)


def test_beta_and_tracking_error_align_by_date():
    rng = np.random.default_rng(3)
    dates = pd.bdate_range("2024-01-01", periods=250)
    benchmark = pd.Series(rng.normal(0, 0.01, 250), index=dates)
    portfolio = (0.0002 + 1.5 * benchmark).iloc[5:]  # fewer dates; common ones are used
    shuffled = benchmark.sample(frac=1.0, random_state=0)
    assert beta(portfolio, shuffled) == pytest.approx(1.5, rel=1e-12)
    active = (portfolio - benchmark.loc[portfolio.index]).to_list()
    expected = statistics.stdev(active) * math.sqrt(252)
    assert tracking_error(portfolio, shuffled) == pytest.approx(expected, rel=1e-10)


# --------------------------------------------------------------------------- concentration


def test_concentration_measures_by_hand():
    weights = pd.Series({"NVDA": 0.4, "AMD": 0.3, "ORCL": 0.2, "CRWV": 0.1})
    assert hhi(weights) == pytest.approx(0.30, abs=1e-15)
    assert effective_number_of_names(weights) == pytest.approx(1 / 0.30, rel=1e-14)
    assert top_n_share(weights, 2) == pytest.approx(0.7, abs=1e-15)
    assert top_n_share(weights) == pytest.approx(1.0, abs=1e-15)
    with pytest.raises(InputError):
        top_n_share(weights, 0)
    with pytest.raises(InputError):
        effective_number_of_names({"A": 0.0})


def test_effective_number_of_bets_is_inverse_hhi_of_risk_shares():
    tickers = list("ABCD")
    diagonal = pd.DataFrame(np.eye(4) * 0.09, index=tickers, columns=tickers)
    equal = pd.Series(0.25, index=tickers)
    assert effective_number_of_bets(equal, diagonal) == pytest.approx(4.0, rel=1e-12)
    # unit variances, weights 2:1 -> variance shares 0.8 and 0.2 -> 1 / (0.64 + 0.04)
    two = pd.DataFrame(np.eye(2), index=["X", "Y"], columns=["X", "Y"])
    bets = effective_number_of_bets(pd.Series({"X": 2 / 3, "Y": 1 / 3}), two)
    assert bets == pytest.approx(1 / 0.68, rel=1e-12)
