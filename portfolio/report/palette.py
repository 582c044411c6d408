"""One colour per ticker, group and strategy, in every chart and every format.

The PNGs (matplotlib) and the HTML charts (Plotly) both ask here, so NVDA is the same
green in a weights stack, a risk-contribution bar and the deal graph, in every strategy's
chart. The bundled universe has fixed colours from Kelly's 22 colours of maximum contrast
(dark/light pairs avoided next to each other); a ticker outside it gets a stable colour
from a hash of its name, so it also keeps its colour from one chart to the next. Strategies
and benchmarks use the Okabe-Ito palette, readable by colour-blind readers.

Colours are ``#rrggbb`` strings (both libraries take them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = ["CASH_COLOUR", "FRONTIER_COLOURS", "group_colour", "stack_order", "strategy_colours",
           "ticker_colour"]

CASH_COLOUR = "#d3d3d3"

TICKER_COLOURS = {
    "NVDA": "#008856", "AMD": "#be0032", "AVGO": "#875692", "TSM": "#e25822",
    "MU": "#0067a5", "INTC": "#a1caf1", "SMCI": "#8db600", "ORCL": "#f38400",
    "GOOGL": "#f3c300", "MSFT": "#604e97", "AMZN": "#882d17", "META": "#e68fac",
    "CRWV": "#b3446c", "9984.T": "#c2b280", "CASH": CASH_COLOUR, "SPY": "#222222",
    "QQQ": "#848482", "SMH": "#654522", "SOXX": "#2b3d26", "OPENAI": "#dcd300",
}
"""The bundled universe, its benchmarks and the deal graph's hub."""

GROUP_COLOURS = {
    "semiconductors": "#0067a5", "semis": "#0067a5", "hyperscalers": "#f38400",
    "platforms": "#e68fac", "emerging": "#b3446c", "japan": "#c2b280", "other": "#848482",
    "cash": CASH_COLOUR,
}

_EXTRA = ("#f99379", "#604e97", "#f6a600", "#b3446c", "#dcd300", "#882d17", "#8db600",
          "#654522", "#e25822", "#2b3d26", "#a1caf1", "#0067a5", "#e68fac", "#875692")
"""Colours for names outside the tables, picked by a hash of the name (stable)."""

FRONTIER_COLOURS = {"optimum": "#d55e00", "current": "#009e73", "max_sharpe": "#e69f00",
                    "frontier": "#0072b2", "capital_market_line": "#7f7f7f"}
"""Colours of the frontier chart's marks, the same in the PNG and the HTML chart."""

OKABE_ITO = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442",
             "#000000")


def _hashed(name: str) -> str:
    digest = hashlib.sha1(name.encode()).digest()
    return _EXTRA[digest[0] % len(_EXTRA)]


def ticker_colour(ticker: str) -> str:
    """The fixed colour of a ticker (``CASH`` light grey)."""
    return TICKER_COLOURS.get(ticker) or TICKER_COLOURS.get(ticker.upper()) or _hashed(ticker)


def group_colour(group: str) -> str:
    """The fixed colour of a group of the config (``other`` grey)."""
    return GROUP_COLOURS.get(group.lower()) or _hashed("group:" + group)


def strategy_colours(strategies: Sequence[str], benchmarks: Iterable[str] = ()) -> dict[str, str]:
    """Colours for a backtest's lines: strategies in Okabe-Ito order, benchmarks by ticker.

    Parameters
    ----------
    strategies : sequence of str
        Strategy names, in the order of the config (the same order gives the same colours).
    benchmarks : iterable of str
        Benchmark tickers (SPY dark grey, QQQ grey, ...).
    """
    colours = {name: OKABE_ITO[k % len(OKABE_ITO)] for k, name in enumerate(strategies)}
    colours.update({ticker: ticker_colour(ticker) for ticker in benchmarks})
    return colours


def stack_order(names: Iterable[str], universe: Sequence[str] = ()) -> list[str]:
    """Names in the order they are stacked (bottom first) and listed in legends.

    The universe's order first (so every strategy's stack has the same order), then other
    names alphabetically, ``CASH`` last (on top).
    """
    names = list(dict.fromkeys(names))
    position = {t: k for k, t in enumerate(universe)}
    risky = sorted((n for n in names if n != "CASH"),
                   key=lambda n: (position.get(n, len(position)), n))
    return risky + (["CASH"] if "CASH" in names else [])
