"""Prices for a job: the config's tickers from the chosen source, up to the as-of date.

:func:`market_data` is the one place a job loads prices (through
:func:`portfolio.data.prices.load_prices`); every other job function takes the
:class:`MarketData` it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from portfolio.config import Config
from portfolio.data.prices import PriceFrame, load_prices

__all__ = ["DataOptions", "MarketData", "lookback_prices", "market_data"]


@dataclass(frozen=True)
class DataOptions:
    """Where prices come from (the CLI's global options).

    Attributes
    ----------
    source : str
        ``auto``, ``yahoo``, ``cache`` or ``bundled``.
    offline : bool
        Never touch the network.
    cache_dir : str or Path, optional
        Price cache folder.
    as_of : str, optional
        Last date used (ISO); default the last date available.
    timeout : float, optional
        Seconds all Yahoo requests may take together; default the config's
        ``[data] timeout``.
    on_fetch : callable, optional
        ``on_fetch(done, total)`` in tickers while prices are fetched from Yahoo (the CLI
        shows a spinner with it); not part of equality.
    """

    source: str = "auto"
    offline: bool = False
    cache_dir: str | Path | None = None
    as_of: str | None = None
    timeout: float | None = None
    on_fetch: Callable[[int, int], object] | None = field(default=None, compare=False,
                                                          repr=False)

    def timeout_for(self, config: Config) -> float:
        """``timeout``, else the config's ``[data] timeout`` (seconds)."""
        return self.timeout if self.timeout is not None else config.data.timeout


@dataclass(frozen=True)
class MarketData:
    """Prices for a config's universe, benchmark and factors up to the as-of date.

    Attributes
    ----------
    frame : PriceFrame
        Prices (USD, NYSE dates) with provenance.
    as_of : Timestamp
        Last date of the prices.
    """

    frame: PriceFrame
    as_of: pd.Timestamp

    @property
    def prices(self) -> pd.DataFrame:
        """Dates x tickers, USD."""
        return self.frame.prices


def market_data(config: Config, options: DataOptions = DataOptions(),
                extra: Sequence[str] = (), **kwargs: Any) -> MarketData:
    """Load prices for every ticker the config needs, up to ``options.as_of``.

    ``extra`` adds tickers a job needs beyond :attr:`Config.market_tickers` (the stress
    proxies); ``kwargs`` go to :func:`~portfolio.data.prices.load_prices`.

    Raises
    ------
    DataError
        When ``as_of`` is before the first price or prices are missing.
    """
    frame = load_prices(
        list(dict.fromkeys((*config.market_tickers, *extra))), start=config.data.start,
        end=options.as_of, source=options.source, cache_dir=options.cache_dir,
        offline=options.offline, max_fill_days=config.data.max_fill_days,
        timeout=options.timeout_for(config), on_fetch=options.on_fetch, **kwargs,
    )
    as_of = frame.prices.index[-1]
    if options.as_of is not None and pd.Timestamp(options.as_of) > as_of + pd.Timedelta(days=7):
        frame = PriceFrame(
            frame.prices, frame.source,
            f"{frame.notice}; --as-of {options.as_of} is after the last price, "
            f"using {as_of.date()}",
            frame.converted,
        )
    return MarketData(frame=frame, as_of=as_of)


def lookback_prices(config: Config, market: MarketData) -> pd.DataFrame:
    """The last ``lookback_days`` returns' worth of prices (``lookback_days + 1`` rows)."""
    return market.prices.iloc[-(config.risk.lookback_days + 1):]
