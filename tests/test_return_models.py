"""Expected-return estimators against PyPortfolioOpt, pandas and hand-computed values."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypfopt import black_litterman as pypfopt_bl
from pypfopt import expected_returns as pypfopt_er

from portfolio.config import EXPECTED_RETURN_METHODS
from portfolio.errors import DataError, InputError
from portfolio.estimate.equilibrium import (
    View,
    black_litterman,
    capm_beta_returns,
    capm_implied,
    market_implied_risk_aversion,
)
from portfolio.estimate.expected import ewma_mean, expected_returns, james_stein, mean_historical

TICKERS = ["NVDA", "AMD", "ORCL", "MSFT", "CRWV"]
TOL = 1e-8


def _synthetic_returns(n_days: int = 600, seed: int = 2) -> pd.DataFrame:
    """Correlated daily returns driven by one market factor, with positive drift."""
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0006, 0.011, n_days)
    betas = np.array([1.8, 1.5, 0.9, 1.0, 2.2])
    drifts = np.array([0.0012, 0.0006, 0.0003, 0.0004, 0.0010])
    noise = rng.normal(0.0, 0.015, (n_days, len(TICKERS)))
    values = drifts + np.outer(market, betas) + noise
    dates = pd.bdate_range("2023-01-02", periods=n_days)
    return pd.DataFrame(values, index=dates, columns=TICKERS)


@pytest.fixture
def returns() -> pd.DataFrame:
    return _synthetic_returns()


@pytest.fixture
def ragged_returns(returns: pd.DataFrame) -> pd.DataFrame:
    """CRWV lists 250 days after the start of the window; ORCL misses a few days."""
    ragged = returns.copy()
    ragged.iloc[:250, ragged.columns.get_loc("CRWV")] = np.nan
    ragged.iloc[[10, 11, 400], ragged.columns.get_loc("ORCL")] = np.nan
    return ragged


@pytest.fixture
def market(returns: pd.DataFrame) -> pd.Series:
    rng = np.random.default_rng(11)
    proxy = returns.mean(axis=1) * 0.8 + rng.normal(0.0002, 0.004, len(returns))
    return proxy.rename("SPY")


@pytest.fixture
def annual_cov(returns: pd.DataFrame) -> pd.DataFrame:
    return returns.cov() * 252


# --------------------------------------------------------------------------- historical


@pytest.mark.filterwarnings("ignore:Some returns are NaN:UserWarning")
@pytest.mark.parametrize("frequency, periods", [("daily", 252), ("weekly", 52), ("monthly", 12)])
@pytest.mark.parametrize("compounding", [False, True])
def test_mean_historical_matches_pypfopt(ragged_returns, frequency, periods, compounding):
    ours = mean_historical(ragged_returns, frequency, compounding=compounding)
    oracle = pypfopt_er.mean_historical_return(
        ragged_returns, returns_data=True, compounding=compounding, frequency=periods
    )
    pd.testing.assert_series_equal(ours, oracle, check_names=False, rtol=TOL, atol=TOL)


def test_mean_historical_uses_each_tickers_own_history(ragged_returns):
    ours = mean_historical(ragged_returns)
    assert ours["CRWV"] == pytest.approx(ragged_returns["CRWV"].iloc[250:].mean() * 252, abs=1e-12)


@pytest.mark.filterwarnings("ignore:Some returns are NaN:UserWarning")
def test_ewma_mean_matches_pypfopt_span(ragged_returns):
    half_life = 63.0
    alpha = 1.0 - math.exp(-math.log(2.0) / half_life)
    span = 2.0 / alpha - 1.0
    oracle = pypfopt_er.ema_historical_return(
        ragged_returns, returns_data=True, compounding=False, span=span, frequency=252
    )
    ours = ewma_mean(ragged_returns, half_life)
    pd.testing.assert_series_equal(ours, oracle, check_names=False, rtol=TOL, atol=TOL)


def test_ewma_mean_matches_hand_weights():
    returns = pd.DataFrame({"A": [0.01, 0.02, 0.04]})
    # half-life 1: weights 1/4, 1/2, 1 for ages 2, 1, 0
    expected = (0.25 * 0.01 + 0.5 * 0.02 + 1.0 * 0.04) / 1.75 * 12
    assert ewma_mean(returns, 1.0, "monthly")["A"] == pytest.approx(expected, abs=1e-14)


# --------------------------------------------------------------------------- James-Stein


def _james_stein_example() -> pd.DataFrame:
    # means 0.02, 0.01, 0.03, 0.00; every sample variance 1e-4; 3 observations each
    return pd.DataFrame(
        {
            "A": [0.01, 0.03, 0.02],
            "B": [0.00, 0.02, 0.01],
            "C": [0.02, 0.04, 0.03],
            "D": [-0.01, 0.01, 0.00],
        }
    )


def test_james_stein_hand_computed():
    # grand mean 0.015; dispersion 2*0.005^2 + 2*0.015^2 = 5e-4; v = 1e-4 / 3
    # lambda = (4 - 3) * v / dispersion = 1/15; mu = 12 * (0.015 + 14/15 * (m - 0.015))
    ours = james_stein(_james_stein_example(), "monthly")
    expected = pd.Series([0.236, 0.124, 0.348, 0.012], index=list("ABCD"))
    pd.testing.assert_series_equal(ours, expected, check_names=False, rtol=0, atol=1e-12)


def test_james_stein_positive_part_gives_grand_mean():
    # tiny dispersion of the means against large noise: (N-3) v / D > 1 -> all at grand mean
    returns = pd.DataFrame(
        {
            "A": [0.10, -0.10, 0.011],
            "B": [0.12, -0.12, 0.010],
            "C": [-0.09, 0.09, 0.012],
            "D": [0.08, -0.08, 0.013],
            "E": [-0.11, 0.11, 0.009],
        }
    )
    ours = james_stein(returns, "monthly")
    grand_mean = returns.mean().mean() * 12
    np.testing.assert_allclose(ours.to_numpy(), grand_mean, rtol=0, atol=1e-14)


def test_james_stein_three_names_keeps_sample_means():
    example = _james_stein_example()[["A", "B", "C"]]
    pd.testing.assert_series_equal(
        james_stein(example, "monthly"), mean_historical(example, "monthly"), atol=1e-14
    )


def test_james_stein_invariants_on_ragged_data(ragged_returns):
    shrunk = james_stein(ragged_returns)
    sample = mean_historical(ragged_returns)
    grand_mean = sample.mean()
    # one common factor 1 - lambda in [0, 1] scales every deviation from the grand mean
    factors = (shrunk - grand_mean) / (sample - grand_mean)
    assert shrunk.mean() == pytest.approx(grand_mean, abs=1e-12)
    np.testing.assert_allclose(factors, factors.iloc[0], rtol=1e-9, atol=1e-12)
    assert -1e-12 <= factors.iloc[0] <= 1.0 + 1e-12


# --------------------------------------------------------------------------- CAPM


def test_market_implied_risk_aversion_matches_pypfopt(market):
    prices = pd.concat([pd.Series([100.0]), 100.0 * (1.0 + market).cumprod()])
    prices.index = pd.bdate_range("2022-12-30", periods=len(prices))
    oracle = pypfopt_bl.market_implied_risk_aversion(prices, frequency=252, risk_free_rate=0.02)
    ours = market_implied_risk_aversion(market, risk_free_rate=0.02)
    assert ours == pytest.approx(oracle, rel=TOL)


def test_capm_implied_matches_pypfopt(annual_cov, market):
    caps = pd.Series({"NVDA": 4.4e12, "AMD": 2.6e11, "ORCL": 5.5e11, "MSFT": 3.7e12, "CRWV": 6e10})
    delta = market_implied_risk_aversion(market, risk_free_rate=0.03)
    oracle = pypfopt_bl.market_implied_prior_returns(caps, delta, annual_cov, risk_free_rate=0.03)
    ours = capm_implied(annual_cov, caps, risk_free_rate=0.03, market_returns=market)
    pd.testing.assert_series_equal(ours, oracle, check_names=False, rtol=TOL, atol=TOL)


def test_capm_implied_defaults_to_equal_weights(annual_cov):
    ours = capm_implied(annual_cov, risk_aversion=2.5, risk_free_rate=0.01)
    expected = 2.5 * annual_cov.to_numpy() @ np.full(5, 0.2) + 0.01
    np.testing.assert_allclose(ours.to_numpy(), expected, rtol=1e-14)
    assert list(ours.index) == TICKERS


def test_capm_implied_aligns_weights_by_label(annual_cov):
    weights = pd.Series({"CRWV": 0.1, "MSFT": 0.3, "ORCL": 0.2, "AMD": 0.1, "NVDA": 0.3})
    ours = capm_implied(annual_cov, weights, risk_aversion=3.0)
    expected = 3.0 * annual_cov.to_numpy() @ weights.reindex(TICKERS).to_numpy()
    np.testing.assert_allclose(ours.to_numpy(), expected, rtol=1e-14)


def test_capm_beta_returns_matches_pypfopt(returns, market):
    oracle = pypfopt_er.capm_return(
        returns.copy(),
        market_prices=market.to_frame().copy(),
        returns_data=True,
        risk_free_rate=0.03,
        compounding=False,
        frequency=252,
    )
    ours = capm_beta_returns(returns, market, risk_free_rate=0.03)
    pd.testing.assert_series_equal(ours, oracle, check_names=False, rtol=TOL, atol=TOL)


def test_capm_beta_returns_equal_weight_proxy_matches_pypfopt(returns):
    oracle = pypfopt_er.capm_return(returns.copy(), returns_data=True, compounding=False)
    ours = capm_beta_returns(returns)
    pd.testing.assert_series_equal(ours, oracle, check_names=False, rtol=TOL, atol=TOL)


def test_capm_beta_returns_regresses_each_ticker_on_its_own_dates(ragged_returns, market):
    ours = capm_beta_returns(ragged_returns, market, risk_free_rate=0.02)
    market_mean = market.mean() * 252
    for ticker in TICKERS:
        both = pd.concat([ragged_returns[ticker], market], axis=1).dropna()
        slope = np.polyfit(both.iloc[:, 1], both.iloc[:, 0], 1)[0]
        assert ours[ticker] == pytest.approx(0.02 + slope * (market_mean - 0.02), rel=1e-10)


# --------------------------------------------------------------------------- Black-Litterman


@pytest.fixture
def prior(annual_cov) -> pd.Series:
    return capm_implied(annual_cov, risk_aversion=2.5, risk_free_rate=0.03)


def test_black_litterman_matches_pypfopt_idzorek(prior, annual_cov):
    views = [
        View("NVDA", 0.35, 0.6),
        View("ORCL", 0.05, 0.3),
        View("AMD", 0.04, 0.8, versus="MSFT"),
    ]
    picking = np.array(
        [
            [1.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, -1.0, 0.0],
        ]
    )
    model = pypfopt_bl.BlackLittermanModel(
        annual_cov,
        pi=prior,
        Q=np.array([0.35, 0.05, 0.04]),
        P=picking,
        omega="idzorek",
        view_confidences=[0.6, 0.3, 0.8],
        tau=0.05,
    )
    ours = black_litterman(prior, annual_cov, views, tau=0.05)
    pd.testing.assert_series_equal(ours, model.bl_returns(), check_names=False, rtol=TOL, atol=TOL)


def test_black_litterman_absolute_views_match_pypfopt_dict(prior, annual_cov):
    model = pypfopt_bl.BlackLittermanModel(
        annual_cov,
        pi=prior,
        absolute_views={"CRWV": -0.10, "MSFT": 0.20},
        omega="idzorek",
        view_confidences=[0.25, 0.9],
        tau=0.02,
    )
    views = [View("CRWV", -0.10, 0.25), View("MSFT", 0.20, 0.9)]
    ours = black_litterman(prior, annual_cov, views, tau=0.02)
    pd.testing.assert_series_equal(ours, model.bl_returns(), check_names=False, rtol=TOL, atol=TOL)


def test_full_confidence_absolute_view_holds_exactly(prior, annual_cov):
    posterior = black_litterman(prior, annual_cov, [View("NVDA", 0.42, 1.0)])
    assert posterior["NVDA"] == pytest.approx(0.42, abs=1e-12)
    # the other names move with their covariance to NVDA: pi + Sigma_.N / Sigma_NN * gap
    gap = 0.42 - prior["NVDA"]
    expected = prior + annual_cov["NVDA"] / annual_cov.loc["NVDA", "NVDA"] * gap
    pd.testing.assert_series_equal(posterior, expected, check_names=False, atol=1e-12)


def test_full_confidence_views_hold_alongside_uncertain_ones(prior, annual_cov):
    views = [
        View("NVDA", 0.30, 1.0),
        View("AMD", 0.05, 1.0, versus="ORCL"),
        View("MSFT", 0.50, 0.2),
    ]
    posterior = black_litterman(prior, annual_cov, views)
    assert posterior["NVDA"] == pytest.approx(0.30, abs=1e-12)
    assert posterior["AMD"] - posterior["ORCL"] == pytest.approx(0.05, abs=1e-12)


def test_relative_view_moves_both_assets_in_the_right_direction(prior, annual_cov):
    spread = prior["AMD"] - prior["ORCL"]
    posterior = black_litterman(prior, annual_cov, [View("AMD", spread + 0.10, 0.5, "ORCL")])
    assert posterior["AMD"] > prior["AMD"]
    assert posterior["ORCL"] < prior["ORCL"]
    assert spread < posterior["AMD"] - posterior["ORCL"] < spread + 0.10


def test_more_confidence_pulls_closer_to_the_view(prior, annual_cov):
    gaps = [
        abs(black_litterman(prior, annual_cov, [View("ORCL", 0.40, c)])["ORCL"] - 0.40)
        for c in (0.1, 0.5, 0.9, 1.0)
    ]
    assert gaps == sorted(gaps, reverse=True)
    assert gaps[-1] < 1e-12


def test_black_litterman_without_views_returns_the_prior(prior, annual_cov):
    pd.testing.assert_series_equal(black_litterman(prior, annual_cov, []), prior)


def test_black_litterman_aligns_cov_by_label(prior, annual_cov):
    views = [View("CRWV", 0.25, 0.7), View("NVDA", 0.05, 0.4, versus="MSFT")]
    shuffled = annual_cov.loc[TICKERS[::-1], TICKERS[::-1]]
    pd.testing.assert_series_equal(
        black_litterman(prior, shuffled, views), black_litterman(prior, annual_cov, views)
    )


def test_black_litterman_posterior_is_invariant_to_the_risk_free_rate(prior, annual_cov):
    views = [View("NVDA", 0.30, 0.5), View("AMD", 0.02, 0.5, versus="ORCL")]
    pd.testing.assert_series_equal(
        black_litterman(prior, annual_cov, views, risk_free_rate=0.05),
        black_litterman(prior, annual_cov, views),
    )


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    value=st.floats(-0.5, 1.0),
    asset=st.sampled_from(TICKERS),
    tau=st.floats(0.005, 1.0),
)
def test_full_confidence_view_holds_for_any_covariance(seed, value, asset, tau):
    rng = np.random.default_rng(seed)
    factor = rng.normal(0.0, 0.2, (len(TICKERS), len(TICKERS)))
    cov = pd.DataFrame(factor @ factor.T + 0.01 * np.eye(len(TICKERS)), TICKERS, TICKERS)
    prior = pd.Series(rng.normal(0.08, 0.05, len(TICKERS)), index=TICKERS)
    posterior = black_litterman(prior, cov, [View(asset, value, 1.0)], tau=tau)
    assert posterior[asset] == pytest.approx(value, abs=1e-9)


# --------------------------------------------------------------------------- entry point


def test_expected_returns_dispatches_to_each_estimator(returns, market, annual_cov):
    assert (expected_returns(returns, "none") == 0.0).all()
    assert list(expected_returns(returns, "none").index) == TICKERS
    pd.testing.assert_series_equal(
        expected_returns(returns, "historical", frequency="weekly"),
        mean_historical(returns, "weekly"),
    )
    pd.testing.assert_series_equal(
        expected_returns(returns, "ewma", half_life=20), ewma_mean(returns, 20)
    )
    pd.testing.assert_series_equal(expected_returns(returns, "james_stein"), james_stein(returns))
    pd.testing.assert_series_equal(
        expected_returns(
            returns, "capm", cov=annual_cov, market_returns=market, risk_free_rate=0.02
        ),
        capm_implied(annual_cov, risk_free_rate=0.02, market_returns=market),
    )


def test_expected_returns_capm_defaults_to_sample_cov_and_equal_weight_market(returns):
    proxy = returns.mean(axis=1)
    expected = capm_implied(returns.cov() * 252, market_returns=proxy, risk_free_rate=0.01)
    ours = expected_returns(returns, "capm", risk_free_rate=0.01)
    pd.testing.assert_series_equal(ours, expected)


def test_expected_returns_black_litterman_uses_the_capm_prior(returns, annual_cov):
    views = (View("NVDA", 0.5, 0.5), View("ORCL", 0.01, 0.5, versus="MSFT"))
    prior = expected_returns(returns, "capm", cov=annual_cov, risk_aversion=2.0)
    ours = expected_returns(
        returns, "black_litterman", cov=annual_cov, risk_aversion=2.0, views=views, tau=0.1
    )
    pd.testing.assert_series_equal(ours, black_litterman(prior, annual_cov, views, tau=0.1))
    no_views = expected_returns(returns, "black_litterman", cov=annual_cov, risk_aversion=2.0)
    pd.testing.assert_series_equal(no_views, prior)


def test_expected_returns_black_litterman_aligns_the_covariance_by_label(returns, annual_cov):
    views = (View("NVDA", 0.5, 0.5), View("ORCL", 0.01, 0.5, versus="MSFT"))
    shuffled = annual_cov.loc[TICKERS[::-1], TICKERS[::-1]]
    for method in ("capm", "black_litterman"):
        ours = expected_returns(returns, method, cov=shuffled, risk_aversion=2.0, views=views
                                if method == "black_litterman" else ())
        prior = capm_implied(annual_cov, risk_aversion=2.0)
        expected = prior if method == "capm" else black_litterman(prior, annual_cov, views)
        pd.testing.assert_series_equal(ours, expected)
        assert list(ours.index) == TICKERS


def test_default_covariance_without_overlap_is_a_data_error():
    dates = pd.bdate_range("2024-01-01", periods=8)
    early = [0.01, -0.02, 0.03, 0.01] + [np.nan] * 4
    late = [np.nan] * 4 + [0.02, -0.01, 0.01, 0.03]
    disjoint = pd.DataFrame({"OLD": early, "NEW": late}, index=dates)
    for method in ("capm", "black_litterman"):
        with pytest.raises(DataError, match="missing or infinite entries"):
            expected_returns(disjoint, method, risk_aversion=2.0)


@pytest.mark.parametrize("method", EXPECTED_RETURN_METHODS)
@pytest.mark.parametrize("ragged", [False, True])
def test_every_configured_method_is_available(returns, ragged_returns, method, ragged):
    result = expected_returns(ragged_returns if ragged else returns, method)
    assert list(result.index) == TICKERS
    assert np.isfinite(result.to_numpy()).all()


# --------------------------------------------------------------------------- errors


def test_unknown_method_lists_the_valid_ones(returns):
    with pytest.raises(InputError) as caught:
        expected_returns(returns, "jamesstein")
    message = str(caught.value)
    assert "'jamesstein'" in message
    assert all(method in message for method in EXPECTED_RETURN_METHODS)
    assert re.search(r"(?i)did you mean 'james_stein'", message)


def test_views_with_another_method_are_an_error(returns):
    with pytest.raises(InputError, match="only black_litterman uses views"):
        expected_returns(returns, "historical", views=[View("NVDA", 0.2, 0.5)])


def test_unknown_frequency(returns):
    with pytest.raises(InputError, match=r"(?i)daily, weekly, monthly.*did you mean 'weekly'"):
        mean_historical(returns, "weakly")


@pytest.mark.parametrize("half_life", [0, -3.0, float("nan")])
def test_bad_half_life(returns, half_life):
    with pytest.raises(InputError, match="half_life must be a positive number"):
        ewma_mean(returns, half_life)


def test_view_on_unknown_ticker_names_view_and_known_tickers(prior, annual_cov):
    views = [View("NVDA", 0.2, 0.5), View("AMD", 0.03, 0.5, versus="ORCLE")]
    with pytest.raises(InputError) as caught:
        black_litterman(prior, annual_cov, views)
    message = str(caught.value)
    assert "unknown ticker 'ORCLE'" in message
    assert "view 2: AMD beats ORCLE by 3.00% a year" in message
    assert "NVDA, AMD, ORCL, MSFT, CRWV" in message
    assert re.search(r"(?i)did you mean 'ORCL'", message)


def test_unknown_asset_is_suggested_case_insensitively(prior, annual_cov):
    with pytest.raises(InputError, match=r"(?i)did you mean 'NVDA'"):
        black_litterman(prior, annual_cov, [View("nvda", 0.2, 0.5)])


@pytest.mark.parametrize("confidence", [0.0, -0.1, 1.5, float("nan")])
def test_confidence_outside_unit_interval(prior, annual_cov, confidence):
    with pytest.raises(InputError, match=r"confidence must be in \(0, 1\]"):
        black_litterman(prior, annual_cov, [View("NVDA", 0.2, confidence)])


def test_relative_view_on_itself(prior, annual_cov):
    with pytest.raises(InputError, match="compares a ticker with itself"):
        black_litterman(prior, annual_cov, [View("NVDA", 0.2, 0.5, versus="NVDA")])


def test_contradictory_certain_views(prior, annual_cov):
    views = [View("NVDA", 0.2, 1.0), View("NVDA", 0.3, 1.0)]
    with pytest.raises(InputError, match="redundant or contradictory"):
        black_litterman(prior, annual_cov, views)


def test_non_view_objects_are_rejected(prior, annual_cov):
    with pytest.raises(InputError, match="a view is not a View"):
        black_litterman(prior, annual_cov, [("NVDA", 0.2, 0.5)])


def test_cov_with_other_tickers(prior, annual_cov):
    with pytest.raises(DataError, match="missing CRWV"):
        black_litterman(prior, annual_cov.drop(index="CRWV", columns="CRWV"), [])
    with pytest.raises(DataError, match="missing CRWV"):
        expected_returns(
            _synthetic_returns(), "capm", cov=annual_cov.drop(index="CRWV", columns="CRWV")
        )


def test_non_numeric_prior_is_a_data_error(prior, annual_cov):
    text_prior = prior.astype(object)
    text_prior["NVDA"] = "x"
    with pytest.raises(DataError, match=r"the prior is not all numbers \(prior\)"):
        black_litterman(text_prior, annual_cov, [View("NVDA", 0.5, 0.5)])


def test_market_weights_with_other_tickers(annual_cov):
    with pytest.raises(DataError, match="unexpected TSM"):
        capm_implied(annual_cov, {**dict.fromkeys(TICKERS, 1.0), "TSM": 1.0}, risk_aversion=2.0)


def test_ticker_without_history_is_named(returns):
    empty = returns.assign(SMCI=np.nan)
    with pytest.raises(DataError, match="too little history for SMCI"):
        mean_historical(empty)
    with pytest.raises(DataError, match="SMCI has 1"):
        james_stein(empty.assign(SMCI=[0.01] + [np.nan] * (len(empty) - 1)))


def test_capm_needs_a_risk_aversion(annual_cov):
    with pytest.raises(InputError, match=r"(?i)pass risk_aversion"):
        capm_implied(annual_cov)


def test_falling_market_gives_a_clear_error(annual_cov, market):
    with pytest.raises(DataError, match="not above the risk-free rate"):
        capm_implied(annual_cov, market_returns=market - 0.01)


def test_market_without_shared_dates(returns, market):
    elsewhere = market.set_axis(market.index + pd.Timedelta(days=3650))
    with pytest.raises(DataError, match="market returns have no variance"):
        capm_beta_returns(returns, elsewhere)


def test_james_stein_matches_the_pandas_moments_on_ragged_data(ragged_returns):
    # the formula with pandas' NaN-skipping mean, var and count (the numpy core's oracle)
    means = ragged_returns.mean()
    grand_mean = means.mean()
    variance = (ragged_returns.var(ddof=1) / ragged_returns.count()).mean()
    dispersion = ((means - grand_mean) ** 2).sum()
    intensity = min(1.0, max(0.0, (len(means) - 3) * variance / dispersion))
    expected = (grand_mean + (1 - intensity) * (means - grand_mean)) * 252
    pd.testing.assert_series_equal(james_stein(ragged_returns), expected, check_names=False,
                                   rtol=1e-13, atol=1e-15)
