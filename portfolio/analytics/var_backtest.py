"""VaR that is checked: a rolling out-of-sample backtest of 1-day value at risk.

For each day ``t`` after the first ``window`` days of a daily return series, the 1-day VaR
at confidence ``c`` is estimated from the ``window`` returns before ``t`` only, and day
``t`` is an *exceedance* when its loss is larger: ``r_t < -VaR_t``.

* historical: ``VaR_t = -quantile(r_{t-window} .. r_{t-1}, 1 - c)`` (numpy's linear
  interpolation, as :func:`portfolio.analytics.risk_measures.historical_var`);
* parametric: ``VaR_t = z_c * sd(r_{t-window} .. r_{t-1})`` (normal, zero mean, ``ddof=1``;
  for today's weights applied to past returns this is the sample-covariance version of
  the report's parametric VaR).

A correct VaR is exceeded on a fraction ``p = 1 - c`` of the days, independently from one
day to the next. Two likelihood-ratio tests, each chi-squared with one degree of freedom
under that hypothesis:

* Kupiec's proportion of failures (1995), ``x`` exceedances in ``n`` days::

      LR_pof = -2 ln[(1 - p)^(n - x) p^x] + 2 ln[(1 - x/n)^(n - x) (x/n)^x]

* Christoffersen's independence (1998), with ``n_ij`` the days in state ``j`` after a day in
  state ``i`` (1 = exceedance), ``pi_01 = n_01 / (n_00 + n_01)``,
  ``pi_11 = n_11 / (n_10 + n_11)`` and ``pi = (n_01 + n_11) / (n_00 + n_01 + n_10 + n_11)``::

      LR_ind = -2 ln[(1 - pi)^(n_00 + n_10) pi^(n_01 + n_11)]
               + 2 ln[(1 - pi_01)^n_00 pi_01^n_01 (1 - pi_11)^n_10 pi_11^n_11]

with ``0 ln 0 = 0``. A small p-value (below :data:`TEST_LEVEL`) rejects the VaR: too many
or too few exceedances (Kupiec), or exceedances that cluster (Christoffersen).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from portfolio.analytics.validation import clean_series
from portfolio.errors import InputError

__all__ = [
    "CONFIDENCES",
    "METHODS",
    "TEST_LEVEL",
    "VaRBacktest",
    "VaRBacktestRow",
    "chi2_sf_1",
    "christoffersen_independence",
    "kupiec_pof",
    "rolling_var",
    "var_backtest",
]

CONFIDENCES = (0.95, 0.99)
METHODS = ("historical", "parametric")
TEST_LEVEL = 0.05
"""A test rejects the VaR when its p-value is below this level."""


@dataclass(frozen=True)
class VaRBacktestRow:
    """One method and confidence level of a VaR backtest.

    Attributes
    ----------
    method : str
        ``"historical"`` or ``"parametric"``.
    confidence : float
        E.g. 0.99.
    days : int
        Out-of-sample days tested.
    exceedances : int
        Days whose loss exceeded the VaR estimated the day before.
    expected : float
        ``days * (1 - confidence)``.
    kupiec_lr, kupiec_p : float
        Kupiec's statistic and p-value.
    christoffersen_lr, christoffersen_p : float
        Christoffersen's independence statistic and p-value (NaN without any exceedance
        or without any quiet day).
    """

    method: str
    confidence: float
    days: int
    exceedances: int
    expected: float
    kupiec_lr: float
    kupiec_p: float
    christoffersen_lr: float
    christoffersen_p: float

    @property
    def rate(self) -> float:
        """Fraction of days with an exceedance."""
        return self.exceedances / self.days if self.days else float("nan")

    @property
    def verdict(self) -> str:
        """``"rejected (too many, clustered)"`` naming the failures, or ``"not rejected"``.

        Kupiec's test fails with ``too many`` or ``too few`` exceedances, Christoffersen's
        with ``clustered`` ones, each at :data:`TEST_LEVEL`.
        """
        count = "too many" if self.exceedances > self.expected else "too few"
        failed = [name for name, p in ((count, self.kupiec_p),
                                       ("clustered", self.christoffersen_p))
                  if not math.isnan(p) and p < TEST_LEVEL]
        return f"rejected ({', '.join(failed)})" if failed else "not rejected"


@dataclass(frozen=True)
class VaRBacktest:
    """A rolling 1-day VaR backtest (module docstring).

    Attributes
    ----------
    window : int
        Trading days each VaR is estimated on.
    start, end : Timestamp or None
        First and last day tested.
    rows : tuple of VaRBacktestRow
        One per method and confidence level.
    """

    window: int
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    rows: tuple[VaRBacktestRow, ...]

    def row(self, method: str, confidence: float) -> VaRBacktestRow:
        """The row of one method and confidence level."""
        return next(r for r in self.rows
                    if r.method == method and math.isclose(r.confidence, confidence))


def chi2_sf_1(statistic: float) -> float:
    """Survival function of the chi-squared law with one degree of freedom."""
    if math.isnan(statistic):
        return float("nan")
    return math.erfc(math.sqrt(max(statistic, 0.0) / 2.0))


def _xlogy(x: float, y: float) -> float:
    return 0.0 if x == 0 else x * math.log(y)


def kupiec_pof(exceedances: int, days: int, probability: float) -> tuple[float, float]:
    """Kupiec's proportion-of-failures statistic and p-value (module docstring).

    Parameters
    ----------
    exceedances : int
        ``x``, days with a loss beyond the VaR.
    days : int
        ``n`` > 0, days tested.
    probability : float
        ``p = 1 - confidence``, the expected exceedance rate.

    Returns
    -------
    (float, float)
        ``LR_pof`` and its chi-squared(1) p-value.
    """
    x, n, p = exceedances, days, probability
    if n <= 0 or not 0 <= x <= n or not 0 < p < 1:
        raise InputError("invalid Kupiec test input", "kupiec_pof",
                         f"{x} exceedances in {n} days at p = {p}",
                         "give 0 <= exceedances <= days, days > 0 and 0 < p < 1")
    observed = x / n
    null = _xlogy(n - x, 1 - p) + _xlogy(x, p)
    alternative = _xlogy(n - x, 1 - observed) + _xlogy(x, observed)
    statistic = max(-2.0 * (null - alternative), 0.0)
    return statistic, chi2_sf_1(statistic)


def christoffersen_independence(hits: np.ndarray | pd.Series) -> tuple[float, float]:
    """Christoffersen's independence statistic and p-value of an exceedance sequence.

    Parameters
    ----------
    hits : array-like of bool
        Day by day, whether the loss exceeded the VaR.

    Returns
    -------
    (float, float)
        ``LR_ind`` and its chi-squared(1) p-value; NaN when the sequence has no exceedance
        or no quiet day after the first (no transition to test).
    """
    h = np.asarray(hits, dtype=bool)
    before, after = h[:-1], h[1:]
    n00 = int(np.sum(~before & ~after))
    n01 = int(np.sum(~before & after))
    n10 = int(np.sum(before & ~after))
    n11 = int(np.sum(before & after))
    if n01 + n11 == 0 or n00 + n10 == 0:
        return float("nan"), float("nan")
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    null = _xlogy(n00 + n10, 1 - pi) + _xlogy(n01 + n11, pi)
    alternative = (_xlogy(n00, 1 - pi01) + _xlogy(n01, pi01)
                   + _xlogy(n10, 1 - pi11) + _xlogy(n11, pi11))
    statistic = max(-2.0 * (null - alternative), 0.0)
    return statistic, chi2_sf_1(statistic)


def rolling_var(returns: pd.Series, window: int, confidence: float,
                method: str = "historical") -> pd.Series:
    """1-day VaR of each day from the ``window`` returns before it (module docstring).

    Parameters
    ----------
    returns : pd.Series
        Daily simple returns (fractions, no NaN).
    window : int
        Returns each estimate uses (>= 20).
    confidence : float
        E.g. 0.99.
    method : {"historical", "parametric"}

    Returns
    -------
    pd.Series
        Positive loss fractions on the dates from ``returns.index[window]`` on.
    """
    if method not in METHODS:
        raise InputError(f"unknown VaR method {method!r}", "rolling_var",
                         f"use one of {', '.join(METHODS)}", "e.g. historical")
    past = returns.rolling(window)
    if method == "historical":
        var = -past.quantile(1.0 - confidence, interpolation="linear")
    else:
        var = NormalDist().inv_cdf(confidence) * past.std(ddof=1)
    return var.shift(1).iloc[window:].rename(f"var_{method}_{round(100 * confidence)}")


def var_backtest(returns: pd.Series, window: int = 756,
                 confidences: tuple[float, ...] = CONFIDENCES,
                 methods: tuple[str, ...] = METHODS) -> VaRBacktest:
    """Backtest rolling 1-day VaR forecasts on a daily return series.

    Parameters
    ----------
    returns : pd.Series
        Daily simple returns (fractions), e.g. the back-cast of today's weights.
    window : int
        Trading days behind each estimate (the risk model's lookback by default).
    confidences : tuple of float
        Confidence levels in (0, 1).
    methods : tuple of str
        Among ``"historical"`` and ``"parametric"``.

    Returns
    -------
    VaRBacktest

    Raises
    ------
    InputError
        A window below 20 days, or a series not longer than the window.
    """
    data = clean_series(returns, "var_backtest")
    if not isinstance(window, int) or window < 20 or len(data) <= window:
        raise InputError(
            "too little history for a VaR backtest", f"{len(data)} daily returns",
            f"a window of {window} days needs more returns than that, and at least 20",
            "use a shorter window or more data",
        )
    rows = []
    for method in methods:
        for confidence in confidences:
            var = rolling_var(data, window, confidence, method)
            hits = (data.loc[var.index] < -var).to_numpy()
            x, n = int(hits.sum()), len(hits)
            pof = kupiec_pof(x, n, 1.0 - confidence)
            independence = christoffersen_independence(hits)
            rows.append(VaRBacktestRow(method, confidence, n, x, n * (1.0 - confidence),
                                       *pof, *independence))
    tested = data.index[window:]
    return VaRBacktest(window, tested[0], tested[-1], tuple(rows))
