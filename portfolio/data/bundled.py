"""The real daily prices shipped inside the package (offline default).

See ``bundled/PROVENANCE.md`` for sources. Frames returned here are copies, so callers
may modify them freely.
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


@cache
def _read(name: str) -> pd.DataFrame:
    with resources.files("portfolio.data").joinpath("bundled", name).open("rb") as handle:
        frame = pd.read_csv(handle, compression="gzip", index_col="Date", parse_dates=["Date"])
    frame.index.name = "date"
    return frame.astype(float)


def bundled_prices() -> pd.DataFrame:
    """Adjusted daily closes, NYSE dates x 18 tickers, listing currency (9984.T in JPY).

    Returns
    -------
    DataFrame
        2015-01-02 .. 2026-07-31; NaN before a listing (CRWV before 2025-03-28) and for
        9984.T on NYSE days when Tokyo was closed.
    """
    return _read("prices_daily.csv.gz").copy()


def bundled_aux() -> pd.DataFrame:
    """Auxiliary daily series on NYSE dates: ``IRX_pct`` (percent/year), BIL, SGOV, FXY."""
    return _read("aux_daily.csv.gz").copy()


def bundled_tokyo_prices() -> pd.Series:
    """9984.T adjusted close on the Tokyo calendar (JPY), 2015-01-05 .. 2026-07-31."""
    return _read("9984.T_tokyo.csv.gz").iloc[:, 0].rename("9984.T")


def treasury_bill_rates() -> pd.Series:
    """Daily 13-week T-bill yield as an annual fraction (``IRX_pct / 100``), NYSE dates.

    The one bond-market holiday on an NYSE day (2016-11-11) carries the previous value.
    """
    return (bundled_aux()["IRX_pct"] / 100.0).ffill(limit=1).rename("risk_free")


def treasury_bill_rate(as_of: pd.Timestamp | str | None = None) -> float:
    """Annual risk-free rate (fraction) at ``as_of``: the last T-bill yield on or before it.

    Raises
    ------
    DataError
        If ``as_of`` is before the first bundled date.
    """
    rates = treasury_bill_rates().dropna()
    if as_of is not None:
        rates = rates.loc[: pd.Timestamp(as_of)]
    if rates.empty:
        raise DataError(
            "no T-bill yield available", f"as of {as_of}",
            "the bundled IRX series starts 2015-01-02",
            "use a later --as-of or set optimizer.risk_free_rate in the config",
        )
    return float(rates.iloc[-1])
