import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portfolio.errors import DataError, InputError, check_choice
from portfolio.estimate.returns import PERIODS_PER_YEAR, periods_per_year, to_returns


def _prices(rows, dates, columns=("OLD", "NEW")):
    return pd.DataFrame(rows, index=pd.DatetimeIndex(dates), columns=list(columns), dtype=float)


@pytest.mark.parametrize(
    ("frequency", "expected"), [("daily", 252), ("weekly", 52), ("monthly", 12)]
)
def test_periods_per_year(frequency, expected):
    assert periods_per_year(frequency) == expected == PERIODS_PER_YEAR[frequency]


def test_periods_per_year_rejects_unknown_name_and_lists_allowed():
    with pytest.raises(InputError) as info:
        periods_per_year("dayly")
    message = str(info.value)
    assert "'dayly'" in message
    assert "daily, weekly, monthly" in message
    assert "did you mean 'daily'" in message.lower()


def test_daily_simple_returns_by_hand_with_ragged_listing():
    dates = pd.bdate_range("2024-01-01", periods=4)
    prices = _prices([[100, np.nan], [110, np.nan], [99, 20], [99, 25]], dates)
    returns = to_returns(prices)
    # The first row (no return for anyone) is dropped; NEW's first return is at its 2nd price.
    assert list(returns.index) == list(dates[1:])
    np.testing.assert_allclose(returns["OLD"], [0.10, 99 / 110 - 1, 0.0], rtol=0, atol=1e-15)
    assert np.isnan(returns["NEW"].iloc[0]) and np.isnan(returns["NEW"].iloc[1])
    assert returns["NEW"].iloc[2] == pytest.approx(0.25, abs=1e-15)


def test_log_returns_are_log_of_price_ratio():
    dates = pd.bdate_range("2024-01-01", periods=4)
    prices = _prices([[100, np.nan], [110, np.nan], [99, 20], [99, 25]], dates)
    simple = to_returns(prices)
    log = to_returns(prices, kind="log")
    np.testing.assert_allclose(log.to_numpy(), np.log1p(simple.to_numpy()), atol=1e-15)
    assert log["OLD"].iloc[0] == pytest.approx(np.log(1.1), abs=1e-15)


def test_gap_inside_history_is_not_filled():
    dates = pd.bdate_range("2024-01-01", periods=5)
    prices = _prices([[10, 5], [11, 5], [12, np.nan], [13, 6], [14, 7]], dates)
    returns = to_returns(prices)
    new = returns["NEW"]
    assert new.iloc[0] == 0.0
    assert np.isnan(new.iloc[1]) and np.isnan(new.iloc[2])  # both returns touching the gap
    assert new.iloc[3] == pytest.approx(7 / 6 - 1, abs=1e-15)


def test_weekly_returns_use_last_price_of_each_friday_week():
    dates = pd.bdate_range("2024-01-01", "2024-01-19")  # Mon 1 Jan .. Fri 19 Jan
    dates = dates.drop(pd.Timestamp("2024-01-12"))  # a Friday holiday
    old = np.arange(1.0, len(dates) + 1)  # 1..14
    new = np.where(dates >= pd.Timestamp("2024-01-10"), 50.0 + np.arange(len(dates)), np.nan)
    prices = pd.DataFrame({"OLD": old, "NEW": new}, index=dates)
    returns = to_returns(prices, frequency="weekly")
    # Week ends: Fri 5 Jan (price 5), Thu 11 Jan (price 9, Friday is a holiday), Fri 19 Jan (14).
    assert list(returns.index) == list(pd.to_datetime(["2024-01-12", "2024-01-19"]))
    np.testing.assert_allclose(returns["OLD"], [9 / 5 - 1, 14 / 9 - 1], atol=1e-15)
    # NEW lists on Wed 10 Jan: its first weekly price is Thu 11 Jan (58), first return next week.
    assert np.isnan(returns["NEW"].iloc[0])
    assert returns["NEW"].iloc[1] == pytest.approx(63 / 58 - 1, abs=1e-15)


def test_monthly_returns_use_last_available_price_of_each_month():
    dates = pd.to_datetime(["2024-01-30", "2024-01-31", "2024-02-15", "2024-02-28", "2024-03-29"])
    prices = _prices([[10, 1], [11, np.nan], [12, 2], [13, np.nan], [26, 4]], dates)
    returns = to_returns(prices, frequency="monthly")
    assert list(returns.index) == list(pd.to_datetime(["2024-02-29", "2024-03-31"]))
    np.testing.assert_allclose(returns["OLD"], [13 / 11 - 1, 1.0], atol=1e-15)
    # NEW's last January price is 1 (30 Jan), last February price 2 (15 Feb).
    np.testing.assert_allclose(returns["NEW"], [1.0, 1.0], atol=1e-15)


def test_matches_pandas_resample_oracle_on_ragged_random_prices():
    rng = np.random.default_rng(3)
    dates = pd.bdate_range("2020-01-01", periods=700)
    prices = pd.DataFrame(
        100 * np.exp(np.cumsum(rng.normal(0, 0.02, (700, 3)), axis=0)),
        index=dates,
        columns=["A", "B", "C"],
    )
    prices.loc[: dates[400], "C"] = np.nan
    for frequency, rule in (("weekly", "W-FRI"), ("monthly", "ME")):
        sampled = prices.resample(rule).last()
        expected = (sampled / sampled.shift(1) - 1).dropna(how="all")
        pd.testing.assert_frame_equal(to_returns(prices, frequency=frequency), expected)


def test_unsorted_dates_are_sorted():
    dates = pd.bdate_range("2024-01-01", periods=3)
    prices = _prices([[1, 2], [2, 4], [4, 8]], dates)
    shuffled = prices.iloc[[2, 0, 1]]
    pd.testing.assert_frame_equal(to_returns(shuffled), to_returns(prices), check_freq=False)


@pytest.mark.parametrize("bad", [0.0, -5.0, np.inf])
def test_non_positive_or_infinite_price_is_a_named_data_error(bad):
    dates = pd.bdate_range("2024-01-01", periods=3)
    prices = _prices([[1, 2], [2, bad], [4, 8]], dates)
    with pytest.raises(DataError) as info:
        to_returns(prices)
    assert "NEW on 2024-01-02" in str(info.value)


def test_duplicate_dates_and_non_date_index_are_data_errors():
    dates = pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-02"])
    with pytest.raises(DataError, match="duplicate dates"):
        to_returns(_prices([[1, 2], [2, 3], [4, 8]], dates))
    with pytest.raises(DataError, match="not indexed by date"):
        to_returns(pd.DataFrame({"A": [1.0, 2.0]}))


def test_unknown_kind_is_a_config_error():
    dates = pd.bdate_range("2024-01-01", periods=3)
    with pytest.raises(InputError, match="simple, log"):
        to_returns(_prices([[1, 2], [2, 3], [4, 8]], dates), kind="arithmetic")
    with pytest.raises(InputError, match=r"(?i)unknown return kind 'Log' \(kind\).*'log'"):
        to_returns(_prices([[1, 2], [2, 3], [4, 8]], dates), kind="Log")


def test_check_choice_names_value_place_choices_and_suggestion():
    check_choice("oas", ("sample", "oas"), "method")  # allowed: no error
    with pytest.raises(InputError) as info:
        check_choice("ledoitwolf", ("sample", "ledoit_wolf"), "method", where="risk.method")
    error = info.value
    assert error.what == "unknown method 'ledoitwolf'"
    assert error.where == "risk.method"
    assert "sample, ledoit_wolf" in error.why
    assert "ledoit_wolf" in error.fix
    with pytest.raises(InputError) as info:
        check_choice([1, 2], PERIODS_PER_YEAR, "frequency")  # unhashable, nothing close
    assert info.value.where == "frequency"
    assert info.value.fix == "Use one of daily, weekly, monthly"


@settings(max_examples=25, deadline=None)
@given(
    listing=st.integers(min_value=0, max_value=30),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_compounded_returns_rebuild_each_price_path(listing, seed):
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2024-01-01", periods=40)
    prices = pd.DataFrame(
        50 * np.exp(np.cumsum(rng.normal(0, 0.03, (40, 2)), axis=0)),
        index=dates,
        columns=["A", "B"],
    )
    prices.iloc[:listing, 1] = np.nan
    returns = to_returns(prices)
    for name in prices:
        path = prices[name].dropna()
        growth = (1 + returns[name].dropna()).prod()
        assert returns[name].notna().sum() == len(path) - 1
        assert growth == pytest.approx(path.iloc[-1] / path.iloc[0], rel=1e-12)
