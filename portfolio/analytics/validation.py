"""Input checks shared by the metrics and risk measures (series, weights, covariances).

Each helper returns the input cleaned (floats, aligned by ticker or date) or raises an
:class:`~portfolio.errors.InputError` / :class:`~portfolio.errors.DataError` naming the
argument at fault and the function that received it.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np
import pandas as pd

from portfolio.errors import DataError, InputError
from portfolio.estimate.returns import periods_per_year

__all__ = [
    "aligned_weights",
    "check_confidence",
    "check_horizon",
    "clean_series",
    "common_dates",
    "excess_returns",
    "numbers_of",
    "weight_values",
]


def aligned_weights(weights, cov) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """Weights and covariance as arrays in the covariance's ticker order.

    A labelled covariance (DataFrame) needs weights by ticker covering exactly its tickers;
    a plain array covariance needs a plain array of weights of the same size.
    """
    if isinstance(cov, pd.DataFrame):
        w, sigma, labels = _labelled(weights, cov)
    else:
        w, sigma, labels = _plain(weights, cov)
    if not (np.isfinite(w).all() and np.isfinite(sigma).all()):
        raise InputError(
            "missing or infinite numbers",
            "weights/cov",
            "weights and covariance must be finite",
            "Fill or drop the missing values",
        )
    return w, sigma, labels


def _labelled(weights, cov: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    if list(cov.index) != list(cov.columns):
        raise InputError(
            "covariance rows and columns differ",
            "cov",
            "they must list the same tickers in the same order",
            "Reindex it with cov.loc[tickers, tickers]",
        )
    if not isinstance(weights, pd.Series | Mapping):
        raise InputError(
            "weights have no tickers",
            "weights",
            "weights are aligned with the covariance by ticker, never by position",
            "Pass a pandas Series indexed by ticker",
        )
    weights = pd.Series(weights) if isinstance(weights, Mapping) else weights
    labels = cov.index
    missing = [t for t in labels if t not in weights.index]
    extra = [t for t in weights.index if t not in labels]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"no weight for {', '.join(map(str, missing))}")
        if extra:
            parts.append(f"no covariance for {', '.join(map(str, extra))}")
        raise InputError(
            "weights and covariance cover different tickers",
            "weights",
            "; ".join(parts),
            "Give a weight (0 if none) for every ticker of the covariance and no other",
        )
    if weights.index.duplicated().any():
        raise InputError(
            "duplicate tickers in weights",
            ", ".join(map(str, weights.index[weights.index.duplicated()])),
            "each ticker must appear once",
            "Merge the duplicate weights",
        )
    return numbers_of(weights.loc[labels], "weights"), numbers_of(cov, "cov"), labels


def _plain(weights, cov) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    if isinstance(weights, pd.Series | Mapping):
        raise InputError(
            "covariance has no tickers",
            "cov",
            "labelled weights cannot be aligned with an unlabelled covariance",
            "Pass the covariance as a DataFrame indexed by ticker",
        )
    w = numbers_of(weights, "weights").ravel()
    sigma = numbers_of(cov, "cov")
    if sigma.shape != (len(w), len(w)):
        raise InputError(
            "weights and covariance sizes differ",
            f"{len(w)} weights, covariance {sigma.shape}",
            "the covariance must be N x N for N weights",
            None,
        )
    return w, sigma, pd.RangeIndex(len(w))


def numbers_of(values, what: str) -> np.ndarray:
    """``values`` as a float array; InputError naming ``what`` if they are not numbers."""
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{what} are not numbers", what, str(exc), "Pass numbers, e.g. 0.25 for 25 %"
        ) from None


def weight_values(weights) -> np.ndarray:
    """Weights (Series, mapping or array) as a finite float array."""
    if isinstance(weights, Mapping):
        weights = pd.Series(weights)
    w = numbers_of(weights, "weights").ravel()
    if not np.isfinite(w).all():
        raise InputError(
            "missing or infinite weight", "weights", "weights must be finite", "Fill them with 0"
        )
    return w


def clean_series(series, function: str, minimum: int = 1) -> pd.Series:
    """Return the data as a float Series with no NaN and at least ``minimum`` values."""
    data = series if isinstance(series, pd.Series) else pd.Series(np.asarray(series).ravel())
    try:
        data = data.astype(float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{function} needs numbers", function, str(exc), None) from None
    missing = int(data.isna().sum())
    if missing:
        raise DataError(
            f"{missing} missing value(s) in the series",
            f"{function}, first at {data.index[data.isna().to_numpy()][0]}",
            "metrics need a complete series",
            "Drop (series.dropna()) or fill the missing values first",
        )
    if not np.isfinite(data.to_numpy()).all():
        raise DataError("infinite value in the series", function, "values must be finite", None)
    if len(data) < minimum:
        raise DataError(
            "series too short",
            function,
            f"{len(data)} value(s); at least {minimum} needed",
            "Use a longer history",
        )
    return data


def excess_returns(returns, risk_free, frequency: str, function: str):
    """Per-period excess returns over an annual risk-free rate (number or series)."""
    per_year = periods_per_year(frequency)
    data = clean_series(returns, function, minimum=2)
    if isinstance(risk_free, pd.Series):
        missing = data.index.difference(risk_free.index)
        if len(missing):
            raise DataError(
                f"risk-free rate missing on {len(missing)} date(s)",
                f"{function}, first {missing[0]}",
                "the risk-free series must cover every return date",
                "Forward-fill the rate series onto the return dates",
            )
        annual = clean_series(risk_free.loc[data.index], function).to_numpy()
    elif isinstance(risk_free, numbers.Real) and not isinstance(risk_free, bool):
        annual = float(risk_free)
    else:
        raise InputError(
            f"invalid risk-free rate {risk_free!r}",
            f"{function}(risk_free=...)",
            "the risk-free rate is an annual fraction, a number or a series by date",
            "Use e.g. 0.04 for 4 % a year",
        )
    per_period = (1.0 + annual) ** (1.0 / per_year) - 1.0
    return data.to_numpy() - per_period, per_year


def common_dates(returns, benchmark_returns, function: str):
    """Both series on their common dates, as arrays (complete, at least 2 values)."""
    for name, series in (("returns", returns), ("benchmark_returns", benchmark_returns)):
        if not isinstance(series, pd.Series):
            raise DataError(
                f"{name} must be a series indexed by date",
                function,
                "series are aligned by date, never by position",
                "Pass a pandas Series",
            )
    dates = returns.index.intersection(benchmark_returns.index)
    portfolio = clean_series(returns.loc[dates], function, minimum=2)
    benchmark = clean_series(benchmark_returns.loc[dates], function, minimum=2)
    return portfolio.to_numpy(), benchmark.to_numpy()


def check_confidence(confidence: float) -> None:
    """Raise an :class:`InputError` unless 0 < confidence < 1."""
    if isinstance(confidence, bool) or not isinstance(confidence, int | float | np.number):
        valid = False
    else:
        valid = 0.0 < confidence < 1.0
    if not valid:
        raise InputError(
            f"invalid confidence {confidence!r}",
            "confidence",
            "the confidence level must lie strictly between 0 and 1",
            "Use e.g. 0.95 or 0.99",
        )


def check_horizon(horizon_days: int) -> None:
    """Raise an :class:`InputError` unless the horizon is a whole number of days >= 1."""
    if (
        isinstance(horizon_days, bool)
        or not isinstance(horizon_days, int | np.integer)
        or horizon_days < 1
    ):
        raise InputError(
            f"invalid horizon {horizon_days!r}",
            "horizon_days",
            "the horizon must be a whole number of trading days >= 1",
            "Use e.g. 1, 5 or 21",
        )
