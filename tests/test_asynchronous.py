"""The asynchronous-close correction of cross-exchange covariances (Tokyo vs New York)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from portfolio.estimate.asynchronous import lagged_covariance, lead_lag_corrected
from portfolio.estimate.estimators import sample_covariance
from portfolio.estimate.psd import is_psd
from portfolio.jobs.optimize import config_inputs

MARKETS = {"US1": "new_york", "US2": "new_york", "TKY": "tokyo"}


def lagged_market(days: int = 20_000, rho: float = 0.6, seed: int = 3) -> pd.DataFrame:
    """Daily returns where Tokyo sees each day's common move one day late.

    The common factor ``f_t`` happens during the New York session, after Tokyo's close:
    US names have ``f_t``, Tokyo has ``f_{t-1}``. The correlation of US1 and TKY over
    any horizon longer than a day is ``rho``; same-day it is 0.
    """
    rng = np.random.default_rng(seed)
    f = rng.normal(0, 0.01, days + 1)
    noise = rng.normal(0, 0.01 * np.sqrt(1 / rho - 1), (days, 3))  # pair correlation rho
    us1 = f[1:] + noise[:, 0]
    us2 = f[1:] + noise[:, 1]
    tky = f[:-1] + noise[:, 2]
    dates = pd.bdate_range("2000-01-03", periods=days)
    return pd.DataFrame({"US1": us1, "US2": us2, "TKY": tky}, index=dates)


def correlation(matrix: pd.DataFrame, a: str, b: str) -> float:
    return float(matrix.loc[a, b] / np.sqrt(matrix.loc[a, a] * matrix.loc[b, b]))


def test_lagged_covariance_by_hand():
    leader = pd.Series([0.01, -0.02, 0.03, 0.0, 0.01] * 5)
    follower = pd.Series([0.0, 0.02, -0.01, 0.01, 0.0] * 5)
    a, b = follower.to_numpy()[1:], leader.to_numpy()[:-1]
    expected = np.cov(a, b, ddof=1)[0, 1]
    assert lagged_covariance(leader, follower) == pytest.approx(expected, rel=1e-12)
    assert np.isnan(lagged_covariance(leader.iloc[:10], follower.iloc[:10]))  # < 20 pairs


def test_a_known_correlation_seen_one_day_late_is_recovered():
    returns = lagged_market()
    same_day = sample_covariance(returns)
    assert abs(correlation(same_day, "US1", "TKY")) < 0.03  # the plain estimate misses it
    corrected, repair, notes = lead_lag_corrected(same_day, returns, MARKETS)
    assert correlation(corrected, "US1", "TKY") == pytest.approx(0.6, abs=0.03)
    assert correlation(corrected, "US2", "TKY") == pytest.approx(0.6, abs=0.03)
    # same-exchange pairs and every variance are the estimator's
    assert corrected.loc["US1", "US2"] == same_day.loc["US1", "US2"]
    np.testing.assert_array_equal(np.diag(corrected), np.diag(same_day))
    assert is_psd(corrected) and repair == 0.0
    assert notes == ("TKY: covariances with New York names corrected for the different "
                     "closing time (one-day lead-lag).",)


def test_one_exchange_or_weekly_returns_are_left_alone():
    returns = lagged_market(days=500)
    matrix = sample_covariance(returns)
    assert lead_lag_corrected(matrix, returns, {"US1": "ny", "US2": "ny", "TKY": "ny"})[0] \
        is matrix
    assert lead_lag_corrected(matrix, returns, MARKETS, frequency="weekly")[0] is matrix


def test_a_correction_that_breaks_psd_is_repaired_keeping_the_home_block():
    returns = lagged_market(days=400)
    matrix = sample_covariance(returns)
    extreme = returns.copy()
    extreme["TKY"] = returns["US1"].shift(-1).fillna(0.0) * 5  # an implausible lead
    corrected, repair, notes = lead_lag_corrected(matrix, extreme, MARKETS)
    assert is_psd(corrected)
    assert repair > 0 and "positive semi-definite" in notes[0]
    pd.testing.assert_frame_equal(corrected.loc[["US1", "US2"], ["US1", "US2"]],
                                  matrix.loc[["US1", "US2"], ["US1", "US2"]])


def test_softbank_and_tsm_on_the_bundled_data(config, market):
    corrected = config_inputs(config, market).covariance.matrix
    off = replace(config, risk=replace(config.risk, asynchronous="off"))
    plain = config_inputs(off, market).covariance.matrix
    assert correlation(plain, "9984.T", "TSM") < 0.2
    assert correlation(corrected, "9984.T", "TSM") >= 0.35
    assert correlation(corrected, "NVDA", "TSM") == correlation(plain, "NVDA", "TSM")


def test_the_vectorised_correction_equals_the_pairwise_formula_on_ragged_data():
    rng = np.random.default_rng(11)
    names = ["US1", "US2", "US3", "TKY", "TKY2"]
    returns = pd.DataFrame(rng.normal(0, 0.02, (300, 5)), columns=names)
    returns.iloc[:120, 2] = np.nan  # a young US name
    returns.iloc[rng.choice(300, 30, replace=False), 3] = np.nan  # Tokyo holidays
    returns.iloc[:290, 4] = np.nan  # too few pairs: left as is
    base = returns.cov() * 252
    markets = {"US1": "new_york", "US2": "new_york", "US3": "new_york", "TKY": "tokyo",
               "TKY2": "tokyo"}
    corrected, _, _ = lead_lag_corrected(base, returns, markets)
    for a in names[:3]:
        expected = base.loc[a, "TKY"] + 252 * (lagged_covariance(returns[a], returns["TKY"])
                                               + lagged_covariance(returns["TKY"], returns[a]))
        assert corrected.loc[a, "TKY"] == pytest.approx(expected, rel=1e-12)
        assert corrected.loc[a, "TKY2"] == base.loc[a, "TKY2"]
