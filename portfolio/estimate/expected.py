"""Expected-return estimators.

Every function here returns a ``pd.Series`` of **annual simple returns as fractions**
(``0.12`` = 12 % a year), indexed by ticker in the column order of the input.

Inputs are **periodic simple returns** (``pd.DataFrame``, rows = dates, columns = tickers)
at a ``frequency`` of ``"daily"``, ``"weekly"`` or ``"monthly"``, annualised with 252, 52
and 12 periods a year. A NaN means "no observation" (e.g. before a listing): every
estimator uses each ticker's own available observations (covariances use pairwise-complete
observations).

Estimators
----------
- :func:`mean_historical` -- arithmetic (or geometric) mean of the history.
- :func:`ewma_mean` -- exponentially weighted mean with a half-life.
- :func:`james_stein` -- sample means shrunk toward their grand mean.
- :func:`capm_implied` -- equilibrium returns ``pi = delta * Sigma @ w_mkt + rf``.
- :func:`capm_beta_returns` -- ``rf + beta * (E[R_m] - rf)``.
- :func:`black_litterman` -- posterior mean of a prior blended with investor views.
- :func:`expected_returns` -- one entry point choosing any of the above by name.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import NoReturn

import numpy as np
import pandas as pd

from portfolio.config import EXPECTED_RETURN_METHODS, View, did_you_mean
from portfolio.errors import ConfigError, DataError
from portfolio.estimate.returns import check_choice, numeric_table, periods_per_year

__all__ = [
    "black_litterman",
    "capm_beta_returns",
    "capm_implied",
    "ewma_mean",
    "expected_returns",
    "james_stein",
    "market_implied_risk_aversion",
    "mean_historical",
]

# --------------------------------------------------------------------------- validation


def _is_finite_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _check_positive(value: float, name: str, fix: str) -> float:
    if not _is_finite_number(value) or value <= 0:
        raise ConfigError(f"{name} must be a positive number", name, f"got {value!r}", fix)
    return float(value)


def _check_finite(value: float, name: str) -> float:
    if not _is_finite_number(value):
        raise ConfigError(
            f"{name} must be a finite number",
            name,
            f"got {value!r}",
            "give an annual fraction, e.g. 0.04 for 4 %",
        )
    return float(value)


def _tickers_text(tickers: Iterable[object]) -> str:
    return ", ".join(str(t) for t in tickers)


def _validated_returns(returns: pd.DataFrame, min_observations: int = 1) -> pd.DataFrame:
    """Return ``returns`` as floats after checking shape, values and history lengths."""
    values = numeric_table(returns, "returns", "expected-return estimators")
    if returns.shape[1] == 0:
        raise DataError("no tickers in the returns", "returns", "the table has no columns")
    infinite = values.columns[np.isinf(values.to_numpy()).any(axis=0)]
    if len(infinite):
        raise DataError(
            f"infinite returns for {_tickers_text(infinite)}",
            "returns",
            "a price of zero or a bad tick gives an infinite return",
            "clean the prices of these tickers",
        )
    counts = values.count()
    short = counts[counts < min_observations]
    if len(short):
        detail = ", ".join(f"{ticker} has {count}" for ticker, count in short.items())
        raise DataError(
            f"too little history for {_tickers_text(short.index)}",
            "returns",
            f"at least {min_observations} return observation(s) needed; {detail}",
            "drop these tickers or use a longer lookback",
        )
    return values


def _validated_cov(cov: pd.DataFrame, tickers: pd.Index) -> pd.DataFrame:
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
            f"rows {_tickers_text(cov.index)} vs columns {_tickers_text(cov.columns)}",
            "use the same tickers for rows and columns",
        )
    _check_same_tickers(cov.index, tickers, "cov")
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


def _check_same_tickers(found: Iterable[object], expected: pd.Index, where: str) -> None:
    found = list(found)
    found_set, expected_set = set(found), set(expected)
    missing = [t for t in expected if t not in found_set]
    extra = [t for t in found if t not in expected_set]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {_tickers_text(missing)}")
        if extra:
            parts.append(f"unexpected {_tickers_text(extra)}")
        raise DataError(
            f"tickers do not match ({'; '.join(parts)})",
            where,
            f"expected exactly {_tickers_text(expected)}",
            "give one entry per ticker of the universe",
        )


def _validated_market(market_returns: pd.Series | pd.DataFrame) -> pd.Series:
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
    _check_market_variance(market)
    return market


def _check_market_variance(market: pd.Series) -> None:
    if len(market) < 2 or not market.var() > 0:
        raise DataError(
            "market returns have no variance",
            "market_returns",
            f"{len(market)} usable observation(s) on the dates of the returns",
            "use a longer history of the market proxy covering the same dates",
        )


# --------------------------------------------------------------------------- historical


def mean_historical(
    returns: pd.DataFrame, frequency: str = "daily", *, compounding: bool = False
) -> pd.Series:
    """Annualised mean of the historical returns of each ticker.

    Arithmetic (default): ``mu_i = periods * mean_t(r_it)``.
    Geometric (``compounding=True``): ``mu_i = prod_t(1 + r_it) ** (periods / T_i) - 1``,
    the compound annual growth rate. ``T_i`` is the number of observations of ticker ``i``;
    ``periods`` is 252, 52 or 12.

    Parameters
    ----------
    returns : pd.DataFrame, shape (n_dates, n_tickers)
        Periodic simple returns (fractions); NaN where a ticker has no observation.
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``returns``.
    compounding : bool
        Geometric mean instead of arithmetic.

    Returns
    -------
    pd.Series, shape (n_tickers,)
        Annual simple expected returns (fractions), indexed by ticker.

    Raises
    ------
    ConfigError
        Unknown ``frequency``.
    DataError
        A ticker without any observation, non-numeric or infinite returns.
    """
    periods = periods_per_year(frequency)
    values = _validated_returns(returns, min_observations=1)
    if compounding:
        growth = np.log1p(values).sum()
        return np.expm1(growth * periods / values.count())
    return values.mean() * periods


def ewma_mean(returns: pd.DataFrame, half_life: float, frequency: str = "daily") -> pd.Series:
    """Annualised exponentially weighted mean of the returns.

    ``mu_i = periods * ewm_mean_i`` at the last date, with pandas
    ``returns.ewm(halflife=half_life).mean()`` (weights ``(1 - alpha)**age`` with
    ``alpha = 1 - exp(-ln 2 / half_life)``, normalised over the ticker's observations).
    A ticker without an observation on the last date keeps its last weighted mean.

    Parameters
    ----------
    returns : pd.DataFrame, shape (n_dates, n_tickers)
        Periodic simple returns (fractions), oldest row first; NaN = no observation.
    half_life : float
        Half-life of the weights, in periods of ``frequency`` (63 daily = about a quarter).
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``returns``.

    Returns
    -------
    pd.Series, shape (n_tickers,)
        Annual simple expected returns (fractions), indexed by ticker.

    Raises
    ------
    ConfigError
        Unknown ``frequency`` or a non-positive ``half_life``.
    DataError
        A ticker without any observation, non-numeric or infinite returns.
    """
    periods = periods_per_year(frequency)
    half_life = _check_positive(half_life, "half_life", "give a half-life in periods, e.g. 63")
    values = _validated_returns(returns, min_observations=1)
    return values.ewm(halflife=half_life).mean().iloc[-1].rename(None) * periods


def james_stein(returns: pd.DataFrame, frequency: str = "daily") -> pd.Series:
    """Sample means shrunk toward their grand mean (positive-part James-Stein).

    With ``m_i`` the sample mean of ticker ``i`` over its ``T_i`` observations, ``s_i**2``
    its sample variance (ddof 1) and ``N`` the number of tickers::

        m_bar  = mean_i(m_i)                       grand mean
        v      = mean_i(s_i**2 / T_i)              sampling variance of a mean estimate
        D      = sum_i (m_i - m_bar)**2            dispersion of the means
        lambda = clip((N - 3) * v / D, 0, 1)       shrinkage intensity
        mu_i   = periods * (m_bar + (1 - lambda) * (m_i - m_bar))

    ``lambda = 1`` (all means equal to ``m_bar``) is the positive part; with ``N <= 3``
    James-Stein does not dominate the sample mean and ``lambda = 0``; with ``D = 0`` the
    means are already equal and are returned as they are.

    Parameters
    ----------
    returns : pd.DataFrame, shape (n_dates, n_tickers)
        Periodic simple returns (fractions); NaN = no observation.
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``returns``.

    Returns
    -------
    pd.Series, shape (n_tickers,)
        Annual simple expected returns (fractions), indexed by ticker.

    Raises
    ------
    ConfigError
        Unknown ``frequency``.
    DataError
        A ticker with fewer than 2 observations, non-numeric or infinite returns.
    """
    periods = periods_per_year(frequency)
    values = _validated_returns(returns, min_observations=2)
    means = values.mean()
    grand_mean = means.mean()
    sampling_variance = (values.var(ddof=1) / values.count()).mean()
    dispersion = float(((means - grand_mean) ** 2).sum())
    n_tickers = len(means)
    if n_tickers <= 3 or dispersion == 0.0:
        intensity = 0.0
    else:
        intensity = min(1.0, max(0.0, (n_tickers - 3) * sampling_variance / dispersion))
    return (grand_mean + (1.0 - intensity) * (means - grand_mean)) * periods


# --------------------------------------------------------------------------- CAPM


def market_implied_risk_aversion(
    market_returns: pd.Series, risk_free_rate: float = 0.0, frequency: str = "daily"
) -> float:
    """Market price of risk ``delta = (E[R_m] - rf) / Var[R_m]``, both annualised.

    ``E[R_m] = periods * mean(r_m)`` and ``Var[R_m] = periods * var(r_m)`` (ddof 1).

    Parameters
    ----------
    market_returns : pd.Series, shape (n_dates,)
        Periodic simple returns of the market proxy (e.g. SPY); NaN rows are dropped.
    risk_free_rate : float
        Annual risk-free rate (fraction).
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``market_returns``.

    Returns
    -------
    float
        Risk aversion ``delta`` (dimensionless, > 0).

    Raises
    ------
    DataError
        The market's mean return is not above the risk-free rate (delta would not be
        positive), or the market series has no variance.
    """
    periods = periods_per_year(frequency)
    risk_free_rate = _check_finite(risk_free_rate, "risk_free_rate")
    market = _validated_market(market_returns)
    annual_mean = market.mean() * periods
    annual_variance = market.var() * periods
    if annual_mean <= risk_free_rate:
        raise DataError(
            "the market-implied risk aversion is not positive",
            "market_returns",
            f"the market's mean return {annual_mean:.2%} a year is not above the "
            f"risk-free rate {risk_free_rate:.2%}",
            "pass risk_aversion explicitly (2 to 4 is typical) or use a longer history",
        )
    return float((annual_mean - risk_free_rate) / annual_variance)


def capm_implied(
    cov: pd.DataFrame,
    market_weights: pd.Series | Mapping[str, float] | None = None,
    risk_aversion: float | None = None,
    risk_free_rate: float = 0.0,
    market_returns: pd.Series | None = None,
    frequency: str = "daily",
) -> pd.Series:
    """Equilibrium (reverse-optimised) returns ``pi = delta * Sigma @ w_mkt + rf``.

    Parameters
    ----------
    cov : pd.DataFrame, shape (n_tickers, n_tickers)
        **Annual** covariance of simple returns, labelled by ticker on both axes.
    market_weights : pd.Series, optional
        Market-capitalisation weights (or the caps themselves) by ticker; normalised to sum
        to 1. Must name exactly the tickers of ``cov``. Default: equal weights ``1 / n``.
    risk_aversion : float, optional
        ``delta`` (> 0). Default: :func:`market_implied_risk_aversion` of
        ``market_returns``.
    risk_free_rate : float
        Annual risk-free rate (fraction), added to every ticker.
    market_returns : pd.Series, optional
        Periodic simple returns of the market proxy; required when ``risk_aversion`` is
        None.
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``market_returns``.

    Returns
    -------
    pd.Series, shape (n_tickers,)
        Annual simple equilibrium returns (fractions), in the order of ``cov``.

    Raises
    ------
    ConfigError
        Neither ``risk_aversion`` nor ``market_returns`` given; a non-positive
        ``risk_aversion``; negative or all-zero market weights.
    DataError
        Mismatched tickers, a bad covariance matrix or market series.
    """
    tickers = pd.Index(cov.index) if isinstance(cov, pd.DataFrame) else pd.Index([])
    return _capm_implied(
        _validated_cov(cov, tickers), market_weights, risk_aversion, risk_free_rate,
        market_returns, frequency,
    )


def _capm_implied(
    sigma: pd.DataFrame,
    market_weights: pd.Series | Mapping[str, float] | None,
    risk_aversion: float | None,
    risk_free_rate: float,
    market_returns: pd.Series | None,
    frequency: str,
) -> pd.Series:
    """:func:`capm_implied` on a covariance already checked by :func:`_validated_cov`."""
    tickers = sigma.index
    risk_free_rate = _check_finite(risk_free_rate, "risk_free_rate")
    if risk_aversion is None:
        if market_returns is None:
            raise ConfigError(
                "no risk aversion for the CAPM equilibrium",
                "risk_aversion",
                "neither risk_aversion nor market_returns was given",
                "pass risk_aversion (2 to 4 is typical) or the market proxy's returns",
            )
        delta = market_implied_risk_aversion(market_returns, risk_free_rate, frequency)
    else:
        delta = _check_positive(
            risk_aversion, "risk_aversion", "give a positive number, 2 to 4 is typical"
        )
    weights = _market_weights(market_weights, tickers)
    return delta * (sigma @ weights) + risk_free_rate


def _market_weights(
    market_weights: pd.Series | Mapping[str, float] | None, tickers: pd.Index
) -> pd.Series:
    if market_weights is None:
        return pd.Series(1.0 / len(tickers), index=tickers)
    try:
        weights = pd.Series(market_weights, dtype=float)
    except (TypeError, ValueError) as error:
        raise ConfigError(
            "market weights are not all numbers",
            "market_weights",
            str(error),
            "give one number per ticker",
        ) from None
    _check_same_tickers(weights.index, tickers, "market_weights")
    weights = weights.reindex(tickers)
    if not np.isfinite(weights.to_numpy()).all() or (weights < 0).any() or weights.sum() <= 0:
        raise ConfigError(
            "market weights must be non-negative numbers with a positive total",
            "market_weights",
            f"got {weights.to_dict()}",
            "give market capitalisations or long-only weights",
        )
    return weights / weights.sum()


def capm_beta_returns(
    returns: pd.DataFrame,
    market_returns: pd.Series | None = None,
    risk_free_rate: float = 0.0,
    frequency: str = "daily",
) -> pd.Series:
    """CAPM returns ``mu_i = rf + beta_i * (E[R_m] - rf)``.

    ``beta_i = cov(r_i, r_m) / var(r_m)`` on the dates where both ticker ``i`` and the market
    have an observation (the OLS slope over the ticker's own history).
    ``E[R_m] = periods * mean(r_m)`` (arithmetic) over the dates of ``returns``. This matches
    PyPortfolioOpt's ``capm_return(..., compounding=False)`` on complete data.

    Parameters
    ----------
    returns : pd.DataFrame, shape (n_dates, n_tickers)
        Periodic simple returns (fractions); NaN = no observation.
    market_returns : pd.Series, optional
        Periodic simple returns of the market proxy, aligned to ``returns`` by date label.
        Default: the equal-weighted mean of the available tickers on each date.
    risk_free_rate : float
        Annual risk-free rate (fraction).
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``returns`` and ``market_returns``.

    Returns
    -------
    pd.Series, shape (n_tickers,)
        Annual simple expected returns (fractions), indexed by ticker.

    Raises
    ------
    DataError
        Fewer than 2 dates shared by a ticker and the market, a market without variance,
        non-numeric or infinite returns.
    """
    periods = periods_per_year(frequency)
    risk_free_rate = _check_finite(risk_free_rate, "risk_free_rate")
    values = _validated_returns(returns, min_observations=2)
    if market_returns is None:
        market = values.mean(axis=1).dropna()
    else:
        market = _validated_market(market_returns).reindex(values.index).dropna()
    _check_market_variance(market)
    betas = {}
    for ticker in values.columns:
        pair = pd.concat([values[ticker], market], axis=1, keys=["asset", "market"]).dropna()
        if len(pair) < 2 or pair["market"].var() <= 0:
            raise DataError(
                f"cannot estimate the market beta of {ticker}",
                f"returns, {ticker}",
                f"{len(pair)} date(s) shared with the market returns, with no market variance",
                "check that the market series covers the dates of the returns",
            )
        betas[ticker] = pair["asset"].cov(pair["market"]) / pair["market"].var()
    market_mean = market.mean() * periods
    return risk_free_rate + pd.Series(betas) * (market_mean - risk_free_rate)


# --------------------------------------------------------------------------- Black-Litterman


def _describe_view(number: int, view: View) -> str:
    if view.versus is None:
        return f"view {number}: {view.asset} returns {view.value:.2%} a year"
    return f"view {number}: {view.asset} beats {view.versus} by {view.value:.2%} a year"


def _check_view_ticker(ticker: object, number: int, view: View, tickers: pd.Index) -> None:
    if ticker in tickers:
        return
    known = [str(t) for t in tickers]
    raise ConfigError(
        f"unknown ticker {ticker!r} in a view",
        _describe_view(number, view),
        f"the known tickers are {', '.join(known)}",
        did_you_mean(str(ticker), known) or "use one of the known tickers",
    )


def _view_matrices(
    views: Sequence[View], tickers: pd.Index
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Build the picking matrix ``P`` (k, n), view returns ``Q`` (k,) and confidences (k,)."""
    picking = np.zeros((len(views), len(tickers)))
    targets = np.zeros(len(views))
    confidences = np.zeros(len(views))
    for row, view in enumerate(views):
        number = row + 1
        if not isinstance(view, View):
            raise ConfigError(
                "a view is not a View",
                f"view {number}",
                f"got {type(view).__name__}",
                "build views with portfolio.config.View(asset, value, confidence, versus)",
            )
        if not _is_finite_number(view.value):
            raise ConfigError(
                "a view's value must be a finite number",
                f"view {number} on {view.asset}",
                f"got {view.value!r}",
                "give an annual fraction, e.g. 0.15",
            )
        where = _describe_view(number, view)
        _check_view_ticker(view.asset, number, view, tickers)
        picking[row, tickers.get_loc(view.asset)] = 1.0
        if view.versus is not None:
            _check_view_ticker(view.versus, number, view, tickers)
            if view.versus == view.asset:
                raise ConfigError(
                    "a relative view compares a ticker with itself",
                    where,
                    "asset and versus are the same",
                    "name two different tickers or make it an absolute view",
                )
            picking[row, tickers.get_loc(view.versus)] = -1.0
        confidence = view.confidence
        if not _is_finite_number(confidence) or not 0 < confidence <= 1:
            raise ConfigError(
                "a view's confidence must be in (0, 1]",
                where,
                f"got {confidence!r}",
                "give a fraction, e.g. 0.5 for 50 %; 1 makes the view hold exactly",
            )
        targets[row] = view.value
        confidences[row] = confidence
    return picking, targets, confidences


def black_litterman(
    prior: pd.Series,
    cov: pd.DataFrame,
    views: Sequence[View],
    tau: float = 0.05,
    risk_free_rate: float = 0.0,
) -> pd.Series:
    """Black-Litterman posterior mean of the returns.

    With ``P`` (k, n) the picking matrix, ``Q`` (k,) the view returns and ``c_k`` the view
    confidences::

        Omega_kk  = tau * (1 - c_k) / c_k * P_k Sigma P_k'      (diagonal)
        posterior = pi + tau Sigma P' (P tau Sigma P' + Omega)^-1 (Q - P pi)

    ``Omega`` is Idzorek's confidence mapping in the closed form of Walters (2014), the same
    as PyPortfolioOpt's ``omega="idzorek"`` (and a He-Litterman ``tau P Sigma P'`` scaled by
    ``(1 - c) / c``). Confidence 1 gives ``Omega_kk = 0`` and the view holds exactly
    (``P_k @ posterior == Q_k``); as the confidence goes to 0 the posterior goes to ``pi``.

    An absolute view ``View(asset, value, c)`` is the row ``e_asset`` with ``Q = value``;
    a relative view ``View(asset, value, c, versus)`` is ``+1`` on ``asset`` and ``-1`` on
    ``versus`` with ``Q = value``.

    Parameters
    ----------
    prior : pd.Series, shape (n_tickers,)
        Prior annual expected returns ``pi`` (fractions), e.g. :func:`capm_implied`.
    cov : pd.DataFrame, shape (n_tickers, n_tickers)
        **Annual** covariance ``Sigma``, labelled by ticker on both axes.
    views : sequence of View
        Investor views; annual fractions. Empty: the prior is returned.
    tau : float
        Scale of the uncertainty of the prior (> 0), typically 0.01 to 0.05.
    risk_free_rate : float
        Annual risk-free rate (fraction). ``prior`` and absolute views are total returns;
        shifting both by the risk-free rate does not change the posterior mean, so this
        argument is only checked (kept so the call mirrors :func:`capm_implied`).

    Returns
    -------
    pd.Series, shape (n_tickers,)
        Posterior annual expected returns (fractions), in the order of ``prior``.

    Raises
    ------
    ConfigError
        A view on an unknown ticker (with the known tickers and a "did you mean"), a
        confidence outside (0, 1], views at confidence 1 that are redundant or
        contradictory, a non-positive ``tau``.
    DataError
        Prior and covariance with different tickers, a bad covariance matrix.
    """
    if not isinstance(prior, pd.Series):
        raise DataError(
            "the prior must be a pandas Series",
            "prior",
            f"got {type(prior).__name__}",
            "pass annual expected returns indexed by ticker",
        )
    return _black_litterman(
        prior, _validated_cov(cov, pd.Index(prior.index)), views, tau, risk_free_rate
    )


def _black_litterman(
    prior: pd.Series,
    sigma: pd.DataFrame,
    views: Sequence[View],
    tau: float,
    risk_free_rate: float,
) -> pd.Series:
    """:func:`black_litterman` with ``sigma`` already checked and ordered like ``prior``."""
    tickers = pd.Index(prior.index)
    try:
        prior = prior.astype(float)
    except (TypeError, ValueError) as error:
        raise DataError("the prior is not all numbers", "prior", str(error),
                        "estimate the prior for every ticker") from None
    pi = prior.to_numpy()
    sigma = sigma.to_numpy()
    if not np.isfinite(pi).all():
        raise DataError(
            "the prior has missing or infinite entries",
            "prior",
            fix="estimate the prior for every ticker",
        )
    tau = _check_positive(tau, "tau", "give a positive number, typically 0.01 to 0.05")
    _check_finite(risk_free_rate, "risk_free_rate")
    views = list(views)
    if not views:
        return prior
    picking, targets, confidences = _view_matrices(views, tickers)

    scaled_cov_picking = tau * sigma @ picking.T  # (n, k)
    view_variances = np.einsum("kn,nk->k", picking, scaled_cov_picking)  # tau P_k Sigma P_k'
    omega = np.diag((1.0 - confidences) / confidences * view_variances)
    system = picking @ scaled_cov_picking + omega
    if np.linalg.matrix_rank(system) < len(views):
        _raise_singular_views(views, picking, confidences)
    solution = np.linalg.solve(system, targets - picking @ pi)
    return pd.Series(pi + scaled_cov_picking @ solution, index=tickers)


def _raise_singular_views(
    views: list[View], picking: np.ndarray, confidences: np.ndarray
) -> NoReturn:
    certain = np.flatnonzero(confidences == 1.0)
    if len(certain) and np.linalg.matrix_rank(picking[certain]) < len(certain):
        described = "; ".join(_describe_view(int(row) + 1, views[row]) for row in certain)
        raise ConfigError(
            "views held with confidence 1 are redundant or contradictory",
            described,
            "views at confidence 1 must be linearly independent to hold exactly",
            "drop one of them or lower its confidence below 1",
        )
    raise DataError(
        "the covariance matrix gives a view portfolio zero variance",
        "cov",
        "the Black-Litterman system is singular",
        "check the covariance of the tickers in the views",
    )


# --------------------------------------------------------------------------- entry point


def expected_returns(
    returns: pd.DataFrame,
    method: str,
    *,
    frequency: str = "daily",
    cov: pd.DataFrame | None = None,
    market_returns: pd.Series | None = None,
    risk_free_rate: float = 0.0,
    views: Sequence[View] = (),
    half_life: float = 63,
    tau: float = 0.05,
    risk_aversion: float | None = None,
) -> pd.Series:
    """Annual expected returns by the named method.

    ==================  ===========================================================
    method              estimator
    ==================  ===========================================================
    ``none``            zeros (the optimiser then looks at risk only)
    ``historical``      :func:`mean_historical`, arithmetic
    ``ewma``            :func:`ewma_mean` with ``half_life``
    ``james_stein``     :func:`james_stein`
    ``capm``            :func:`capm_implied`: equal market weights, ``delta`` =
                        ``risk_aversion`` or implied by ``market_returns``
    ``black_litterman`` :func:`black_litterman` with the ``capm`` result as prior
    ==================  ===========================================================

    For ``capm`` and ``black_litterman``, ``cov`` defaults to the annualised sample
    covariance of ``returns`` (pairwise-complete observations) and ``market_returns`` to the
    equal-weighted mean of the available tickers on each date.

    Parameters
    ----------
    returns : pd.DataFrame, shape (n_dates, n_tickers)
        Periodic simple returns (fractions); NaN = no observation.
    method : str
        One of ``none``, ``historical``, ``ewma``, ``james_stein``, ``capm``,
        ``black_litterman``.
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``returns`` and ``market_returns``.
    cov : pd.DataFrame, optional
        **Annual** covariance labelled by the tickers of ``returns``.
    market_returns : pd.Series, optional
        Periodic simple returns of the market proxy (e.g. SPY).
    risk_free_rate : float
        Annual risk-free rate (fraction).
    views : sequence of View
        Investor views, used by ``black_litterman`` only.
    half_life : float
        EWMA half-life in periods of ``frequency``.
    tau : float
        Black-Litterman prior uncertainty scale.
    risk_aversion : float, optional
        CAPM ``delta``; default implied by the market returns.

    Returns
    -------
    pd.Series, shape (n_tickers,)
        Annual simple expected returns (fractions), indexed by the tickers of ``returns``.

    Raises
    ------
    ConfigError
        An unknown method (listing the valid ones), views given to a method other than
        ``black_litterman``, or a bad parameter of the chosen estimator.
    DataError
        Bad or too short returns, a covariance with other tickers.
    """
    check_choice(method, EXPECTED_RETURN_METHODS, "expected-return method",
                 where="expected_returns")
    views = tuple(views)
    if views and method != "black_litterman":
        raise ConfigError(
            f"views given to the {method!r} expected-return method",
            "expected_returns",
            "only black_litterman uses views",
            "set the method to 'black_litterman' or remove the views",
        )
    periods = periods_per_year(frequency)
    if method == "none":
        tickers = _validated_returns(returns).columns
        return pd.Series(0.0, index=tickers)
    if method == "historical":
        return mean_historical(returns, frequency)
    if method == "ewma":
        return ewma_mean(returns, half_life, frequency)
    if method == "james_stein":
        return james_stein(returns, frequency)

    values = _validated_returns(returns, min_observations=2)
    sigma = _validated_cov(values.cov() * periods if cov is None else cov, values.columns)
    if risk_aversion is None and market_returns is None:
        market_returns = values.mean(axis=1)
    prior = _capm_implied(sigma, None, risk_aversion, risk_free_rate, market_returns, frequency)
    if method == "capm":
        return prior
    return _black_litterman(prior, sigma, views, tau, risk_free_rate)
