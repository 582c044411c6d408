"""The real daily prices shipped inside the package (offline default).

See ``bundled/PROVENANCE.md`` for sources. Frames returned here are copies, so callers
may modify them freely.

The dataset is split by period: ``prices_daily`` / ``aux_daily`` hold 2015-01-02 ..
2026-07-31 and ``prices_1999_2014`` / ``aux_1999_2014`` the NYSE sessions before
(1999-01-04 .. 2014-12-31). The older files are read only when a caller asks for dates
up to :data:`HISTORY_END` (``start=None`` asks for everything), so commands that need
recent years only do not pay for the long history.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import pandas as pd

from portfolio.errors import DataError

__all__ = [
    "BUNDLED_TICKERS",
    "bundled_aux",
    "bundled_prices",
    "bundled_tokyo_prices",
    "treasury_bill_rate",
    "treasury_bill_rates",
]

BUNDLED_TICKERS = (
    "NVDA", "AMD", "ORCL", "CRWV", "GOOGL", "MSFT", "META", "AVGO", "AMZN",
    "TSM", "SMCI", "INTC", "MU", "9984.T", "SPY", "QQQ", "SMH", "SOXX",
)
HISTORY_END = pd.Timestamp("2014-12-31")
"""Last date of the 1999-2014 files; the recent files start on the next session."""


@cache
def _read(name: str) -> pd.DataFrame:
    with resources.files("portfolio.data").joinpath("bundled", name).open("rb") as handle:
        frame = pd.read_csv(handle, compression="gzip", index_col="Date", parse_dates=["Date"])
    frame.index.name = "date"
    return frame.astype(float)


def _periods(recent: str, history: str, start: pd.Timestamp | str | None) -> pd.DataFrame:
    """The recent file, preceded by the 1999-2014 file when ``start`` is before it."""
    frame = _read(recent)
    if start is None or pd.Timestamp(start) <= HISTORY_END:
        older = _read(history).reindex(columns=frame.columns)
        frame = pd.concat([older, frame])
    return frame.copy()


def bundled_prices(start: pd.Timestamp | str | None = None) -> pd.DataFrame:
    """Adjusted daily closes, NYSE dates x 18 tickers, listing currency (9984.T in JPY).

    Parameters
    ----------
    start : date-like, optional
        First date the caller needs; the 1999-2014 file is read only when it is on or
        before :data:`HISTORY_END` or None (earlier rows may still be returned).

    Returns
    -------
    DataFrame
        1999-01-04 .. 2026-07-31 (from 2015-01-02 when ``start`` is later); NaN before a
        listing (NVDA before 1999-01-22, QQQ before 1999-03-10, SMH before 2000-06-05,
        CRWV before 2025-03-28, ...; 9984.T before 2015-01-05) and for 9984.T on NYSE days
        when Tokyo was closed.
    """
    return _periods("prices_daily.csv.gz", "prices_1999_2014.csv.gz", start)


def bundled_aux(start: pd.Timestamp | str | None = None) -> pd.DataFrame:
    """Auxiliary daily series on NYSE dates: ``IRX_pct`` (percent/year), BIL, SGOV, FXY.

    1999-01-04 .. 2026-07-31 (``start`` as for :func:`bundled_prices`); NaN before a
    series starts (BIL 2007-05-30, FXY 2007-02-13, SGOV 2020-06-01) and for IRX on bond
    market holidays that are NYSE sessions.
    """
    return _periods("aux_daily.csv.gz", "aux_1999_2014.csv.gz", start)


def bundled_tokyo_prices() -> pd.Series:
    """9984.T adjusted close on the Tokyo calendar (JPY), 2015-01-05 .. 2026-07-31."""
    return _read("9984.T_tokyo.csv.gz").iloc[:, 0].rename("9984.T")


def treasury_bill_rates(start: pd.Timestamp | str | None = None) -> pd.Series:
    """Daily 13-week T-bill yield as an annual fraction (``IRX_pct / 100``), NYSE dates.

    A bond-market holiday on an NYSE day (Columbus and Veterans Day in some years, e.g.
    2016-11-11) carries the previous value.
    """
    return (bundled_aux(start)["IRX_pct"] / 100.0).ffill(limit=1).rename("risk_free")


def treasury_bill_rate(as_of: pd.Timestamp | str | None = None) -> float:
    """Annual risk-free rate (fraction) at ``as_of``: the last T-bill yield on or before it.

    Raises
    ------
    DataError
        If ``as_of`` is before the first bundled date.
    """
    rates = treasury_bill_rates(as_of).dropna()
    if as_of is not None:
        rates = rates.loc[: pd.Timestamp(as_of)]
    if rates.empty:
        raise DataError(
            "no T-bill yield available", f"as of {as_of}",
            f"the bundled IRX series starts {treasury_bill_rates().dropna().index[0].date()}",
            "use a later --as-of or set optimizer.risk_free_rate in the config",
        )
    return float(rates.iloc[-1])
