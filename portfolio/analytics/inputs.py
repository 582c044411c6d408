"""The user's words for a horizon and for shocks, checked: ``"1y"``, ``"NVDA=-0.30,TSM=-0.2"``.

Horizons are counted in trading days: ``d`` = 1, ``w`` = 5, ``m`` = 21, ``y`` = 252
(``"1m"`` = 21 trading days, ``"1y"`` = 252). Shocks are simple returns as fractions
(``-0.30`` = a 30 % fall), above -1 (a price cannot fall more than 100 %).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from portfolio.errors import InputError, did_you_mean
from portfolio.weights import ticker_text

__all__ = ["HORIZON_UNITS", "MAX_HORIZON_DAYS", "horizon_label", "parse_horizon", "parse_shocks"]

HORIZON_UNITS = {"d": 1, "w": 5, "m": 21, "y": 252}
"""Trading days per unit of a horizon."""
MAX_HORIZON_DAYS = 10 * 252
"""Longest horizon accepted (ten years)."""
MAX_SHOCK = 10.0
"""Largest shock accepted (+1,000 %), as for the config's custom scenarios."""
_HORIZON = re.compile(r"^\s*(\d+)\s*([dwmy])\s*$", re.IGNORECASE)


def parse_horizon(value: str | int, where: str = "--horizon") -> int:
    """Trading days of a horizon written ``"1m"``, ``"1y"``, ``"10d"`` or given as a number.

    Parameters
    ----------
    value : str or int
        A whole number of days, weeks, months (21 days) or years (252 days) with its unit
        letter, or a whole number of trading days.
    where : str
        The option or argument, for messages.

    Returns
    -------
    int
        Trading days, 1 .. :data:`MAX_HORIZON_DAYS`.

    Raises
    ------
    InputError
        Anything else (``"2x"``, ``"0d"``, ``"1.5y"``, ``"20y"``).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        days = value
    else:
        match = _HORIZON.match(str(value))
        if match is None:
            raise InputError(
                f"invalid horizon {str(value)!r}", where,
                "a horizon is a whole number with a unit: d (trading days), w (weeks), "
                "m (months of 21 trading days) or y (years of 252)",
                "write e.g. 1m or 1y",
            )
        days = int(match.group(1)) * HORIZON_UNITS[match.group(2).lower()]
    if not 1 <= days <= MAX_HORIZON_DAYS:
        raise InputError(
            f"horizon of {days} trading days out of range", where,
            f"it must be between 1 day and 10 years ({MAX_HORIZON_DAYS} trading days)",
            "write e.g. 1m or 1y",
        )
    return days


def horizon_label(days: int) -> str:
    """``252`` -> ``"1y"``, ``21`` -> ``"1m"``, ``5`` -> ``"1w"``, ``7`` -> ``"7d"``."""
    for unit in ("y", "m", "w"):
        size = HORIZON_UNITS[unit]
        if days % size == 0:
            return f"{days // size}{unit}"
    return f"{days}d"


def parse_shocks(value: str | Mapping[str, float], known: Iterable[str],
                 where: str = "--given") -> dict[str, float]:
    """Shocks by ticker from ``"NVDA=-0.30,TSM=-0.20"`` or a mapping, checked.

    Parameters
    ----------
    value : str or mapping
        Comma-separated ``TICKER=RETURN`` pairs (returns as fractions), or a mapping.
    known : iterable of str
        Tickers that may be shocked (the names with prices: universe, benchmark,
        factors).
    where : str
        The option or argument, for messages.

    Returns
    -------
    dict
        Normalised ticker -> shock (fraction, in (-1, 10]), in the order given.

    Raises
    ------
    InputError
        No pair, a pair without ``=``, a return that is not a number or is at or below
        -1 (or above 10), an unknown ticker (with the closest known one), a repeated ticker.
    """
    known = list(known)
    pairs = list(value.items()) if isinstance(value, Mapping) else _pairs(str(value), where)
    if not pairs:
        raise InputError("no shock given", where, "at least one TICKER=RETURN is needed",
                         "write e.g. NVDA=-0.30")
    shocks: dict[str, float] = {}
    for raw_ticker, raw_shock in pairs:
        ticker = ticker_text(str(raw_ticker))
        if ticker not in known:
            raise InputError(
                f"unknown ticker {ticker!r}", where,
                "a shocked name needs prices (the universe, the benchmark or a factor)",
                did_you_mean(ticker, known) or f"use one of {', '.join(known)}",
            )
        if ticker in shocks:
            raise InputError(f"{ticker} is shocked twice", where, "each name takes one shock",
                             f"keep one {ticker}=... pair")
        shocks[ticker] = _shock(ticker, raw_shock, where)
    return shocks


def _pairs(text: str, where: str) -> list[tuple[str, str]]:
    pairs = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        ticker, sep, shock = item.partition("=")
        if not sep or not ticker.strip():
            raise InputError(
                f"invalid shock {item!r}", where, "a shock is written TICKER=RETURN",
                "write e.g. NVDA=-0.30 (a 30 % fall)",
            )
        pairs.append((ticker.strip(), shock.strip()))
    return pairs


def _shock(ticker: str, raw: object, where: str) -> float:
    try:
        shock = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(
            f"invalid shock {raw!r} for {ticker}", where,
            "a shock is a return as a fraction", f"write e.g. {ticker}=-0.30 for a 30 % fall",
        ) from None
    if not math.isfinite(shock) or shock <= -1.0 or shock > MAX_SHOCK:
        percent = -100.0 < shock <= -2.0  # a percent written as a number, e.g. -30
        raise InputError(
            f"shock {raw} for {ticker} out of range", where,
            "a return is a fraction above -1 (a price cannot fall more than 100 %) and at "
            f"most {MAX_SHOCK:g}",
            f"write {ticker}={shock / 100:g} for a {-shock:g} % fall" if percent
            else f"write e.g. {ticker}=-0.30 for a 30 % fall",
        )
    return shock
