"""Checks shared by the expected-return estimators (tables, covariance, market series).

Each check returns the value cleaned (floats, reordered by ticker) or raises a
:class:`~portfolio.errors.DataError` / :class:`~portfolio.errors.InputError` naming the
argument at fault.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import numpy as np
import pandas as pd

from portfolio.errors import DataError, InputError
from portfolio.estimate.returns import numeric_table

__all__ = [
    "check_finite",
    "check_market_variance",
    "check_positive",
    "check_same_tickers",
    "is_finite_number",
    "tickers_text",
    "validated_cov",
    "validated_market",
    "validated_returns",
]


def is_finite_number(value: object) -> bool:
    """Whether ``value`` is a real number (not a bool) and finite."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def check_positive(value: float, name: str, fix: str) -> float:
    """``value`` as a float when it is a finite number > 0, else an :class:`InputError`."""
    if not is_finite_number(value) or value <= 0:
        raise InputError(f"{name} must be a positive number", name, f"got {value!r}", fix)
    return float(value)


def check_finite(value: float, name: str) -> float:
    """``value`` as a float when it is a finite number, else an :class:`InputError`."""
    if not is_finite_number(value):
        raise InputError(
            f"{name} must be a finite number",
            name,
            f"got {value!r}",
            "give an annual fraction, e.g. 0.04 for 4 %",
        )
    return float(value)


def tickers_text(tickers: Iterable[object]) -> str:
    """Tickers joined by commas, for messages."""
    return ", ".join(str(t) for t in tickers)


def validated_returns(returns: pd.DataFrame, min_observations: int = 1) -> pd.DataFrame:
    """Return ``returns`` as floats after checking shape, values and history lengths."""
    values = numeric_table(returns, "returns", "expected-return estimators")
    if returns.shape[1] == 0:
        raise DataError("no tickers in the returns", "returns", "the table has no columns")
    infinite = values.columns[np.isinf(values.to_numpy()).any(axis=0)]
    if len(infinite):
        raise DataError(
            f"infinite returns for {tickers_text(infinite)}",
            "returns",
            "a price of zero or a bad tick gives an infinite return",
            "clean the prices of these tickers",
        )
    counts = values.count()
    short = counts[counts < min_observations]
    if len(short):
        detail = ", ".join(f"{ticker} has {count}" for ticker, count in short.items())
        raise DataError(
            f"too little history for {tickers_text(short.index)}",
            "returns",
            f"at least {min_observations} return observation(s) needed; {detail}",
            "drop these tickers or use a longer lookback",
        )
    return values


def validated_cov(cov: pd.DataFrame, tickers: pd.Index) -> pd.DataFrame:
    """Return ``cov`` reordered to ``tickers``, checking labels, values and symmetry."""
    if not isinstance(cov, pd.DataFrame):
        raise DataError(
            "the covariance matrix must be a table",
            "cov",
            f"got {type(cov).__name__}",
            "pass a pandas DataFrame labelled by ticker on both axes",
        )
    if set(cov.index) != set(cov.columns) or len(cov.index) != len(cov.columns):
        raise DataError(
            "the covariance matrix is not labelled alike on both axes",
            "cov",
            f"rows {tickers_text(cov.index)} vs columns {tickers_text(cov.columns)}",
            "use the same tickers for rows and columns",
        )
    check_same_tickers(cov.index, tickers, "cov")
    matrix = cov.loc[tickers, tickers].astype(float)
    values = matrix.to_numpy()
    if not np.isfinite(values).all():
        raise DataError(
            "the covariance matrix has missing or infinite entries",
            "cov",
            "every pair of tickers needs a covariance",
            "estimate it on a window where every pair overlaps",
        )
    if not np.allclose(values, values.T, rtol=1e-10, atol=1e-14):
        raise DataError(
            "the covariance matrix is not symmetric", "cov", fix="pass a symmetric matrix"
        )
    return matrix


def check_same_tickers(found: Iterable[object], expected: pd.Index, where: str) -> None:
    """Raise a :class:`DataError` unless ``found`` holds exactly the ``expected`` tickers."""
    found = list(found)
    found_set, expected_set = set(found), set(expected)
    missing = [t for t in expected if t not in found_set]
    extra = [t for t in found if t not in expected_set]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {tickers_text(missing)}")
        if extra:
            parts.append(f"unexpected {tickers_text(extra)}")
        raise DataError(
            f"tickers do not match ({'; '.join(parts)})",
            where,
            f"expected exactly {tickers_text(expected)}",
            "give one entry per ticker of the universe",
        )


def validated_market(market_returns: pd.Series | pd.DataFrame) -> pd.Series:
    """Return the market's periodic returns as a float Series without NaN."""
    if isinstance(market_returns, pd.DataFrame):
        if market_returns.shape[1] != 1:
            raise DataError(
                "market returns must be one series",
                "market_returns",
                f"got {market_returns.shape[1]} columns",
                "pass the returns of a single market proxy, e.g. SPY",
            )
        market_returns = market_returns.iloc[:, 0]
    if not isinstance(market_returns, pd.Series):
        raise DataError(
            "market returns must be a pandas Series",
            "market_returns",
            f"got {type(market_returns).__name__}",
            "pass periodic returns indexed by date",
        )
    try:
        market = market_returns.astype(float).dropna()
    except (TypeError, ValueError) as error:
        raise DataError(
            "market returns are not all numbers", "market_returns", str(error)
        ) from None
    if not np.isfinite(market.to_numpy()).all():
        raise DataError("infinite market returns", "market_returns", fix="clean the market prices")
    if market.index.has_duplicates:
        raise DataError(
            "duplicated dates in the market returns",
            "market_returns",
            "each date must appear once",
            "drop the duplicated rows",
        )
    check_market_variance(market)
    return market


def check_market_variance(market: pd.Series) -> None:
    """Raise a :class:`DataError` when the market series has < 2 points or no variance."""
    if len(market) < 2 or not market.var() > 0:
        raise DataError(
            "market returns have no variance",
            "market_returns",
            f"{len(market)} usable observation(s) on the dates of the returns",
            "use a longer history of the market proxy covering the same dates",
        )
