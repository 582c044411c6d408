"""Tickers and weights: the one contract every stage uses.

* A **ticker** is normalised once, wherever it enters (config, holdings, targets, weights
  given in code): surrounding whitespace removed and upper-cased (``" nvda"`` -> ``"NVDA"``,
  ``"9984.t"`` -> ``"9984.T"``).
* ``CASH`` is the pseudo-ticker of cash (a weight like the others; in holdings, USD).
* **Weights** are fractions of portfolio value by ticker (0.25 = 25 %), long only, aligned
  by label and never by position. The implicit-cash rule: with a ``CASH`` entry all
  weights, cash included, sum to 1 (within :data:`WEIGHT_TOLERANCE`); without one they sum
  to at most 1 and the remainder is cash.
* :data:`WEIGHT_TOLERANCE` is also the slack of every limit check (a cap of 20 % holds at
  20.00005 %).

This module is light (numpy and pandas only) and sits below every stage.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from portfolio.errors import InputError, did_you_mean

__all__ = [
    "CASH",
    "WEIGHT_TOLERANCE",
    "aligned_weight_vector",
    "check_known",
    "distinct_tickers",
    "implied_cash",
    "normalize_ticker",
    "parse_weights",
    "ticker_text",
    "weights_and_cash",
    "weights_vector",
]

CASH = "CASH"
"""Pseudo-ticker of cash."""

WEIGHT_TOLERANCE = 1e-6
"""Absolute tolerance (fraction of value) on a sum of weights and on every limit check."""


def normalize_ticker(value: Any, where: str = "ticker") -> str:
    """A ticker as the toolkit writes it: stripped and upper-cased.

    Raises
    ------
    InputError
        An empty ticker or one that is not text.
    """
    if not isinstance(value, str) or not value.strip():
        raise InputError(
            f"invalid ticker {value!r}", where, "a ticker is a non-empty text such as 'NVDA'",
            "write the exchange ticker, e.g. NVDA or 9984.T",
        )
    return ticker_text(value)


def ticker_text(text: str) -> str:
    """The normalisation rule itself: surrounding whitespace removed, upper-cased."""
    return text.strip().upper()


def distinct_tickers(values: Iterable[Any], where: str) -> tuple[str, ...]:
    """Tickers normalised (:func:`normalize_ticker`), each listed once, ``CASH`` refused.

    Raises
    ------
    InputError
        An empty or non-text entry, a ticker listed twice, or ``CASH``.
    """
    tickers = tuple(normalize_ticker(value, where) for value in values)
    duplicates = sorted({t for t in tickers if tickers.count(t) > 1})
    if duplicates:
        raise InputError(f"duplicate ticker {duplicates[0]}", where,
                         "each ticker may appear once", "remove the repeated entry")
    if CASH in tickers:
        raise InputError("CASH is not a ticker", where, "cash is always part of the portfolio",
                         "remove CASH (set limits.cash_floor for a cash reserve)")
    return tickers


def check_known(tickers: Iterable[str], universe: Sequence[str], where: str,
                universe_source: str = "the configured universe") -> None:
    """Raise :class:`InputError` for the first ticker (``CASH`` aside) outside ``universe``.

    Parameters
    ----------
    tickers : iterable of str
        Normalised tickers to check.
    universe : sequence of str
        The known tickers.
    where : str
        The user's file or argument the tickers come from.
    universe_source : str
        Where the universe is defined (e.g. the config file), for the message.
    """
    known = set(universe)
    for ticker in tickers:
        if ticker != CASH and ticker not in known:
            raise InputError(
                f"unknown ticker {ticker!r}", where,
                f"it is not in the universe ({universe_source})",
                did_you_mean(str(ticker), universe)
                or f"add {ticker} to universe.tickers or remove it",
            )


def parse_weights(
    weights: pd.Series | Mapping[str, Any],
    *,
    universe: Sequence[str] | None = None,
    what: str = "weights",
    where: str | None = None,
    universe_source: str = "the configured universe",
) -> pd.Series:
    """Validate weights and apply the implicit-cash rule (module docstring).

    Parameters
    ----------
    weights : pandas.Series or mapping
        Fractions by ticker, ``CASH`` optional. Values within :data:`WEIGHT_TOLERANCE`
        outside [0, 1] (float noise such as ``1 - sum(...)``) are clipped into it.
    universe : sequence of str, optional
        When given, every ticker but ``CASH`` must be in it.
    what : str
        What the weights are, for messages (``"weights"``, ``"target weights"``).
    where : str, optional
        Where they come from (a file, ``"<memory>"``); default ``what``.
    universe_source : str
        Where the universe is defined, for messages.

    Returns
    -------
    pandas.Series
        Named ``weight``: the tickers in input order (normalised), then ``CASH``; sums to 1.

    Raises
    ------
    InputError
        Weights given by position, a ticker twice, an unknown ticker, a weight that is not a
        finite fraction in [0, 1], a sum other than 1 (with CASH) or above 1 (without).
    """
    where = where or what
    if not isinstance(weights, pd.Series | Mapping):
        raise InputError(
            f"{what} have no tickers", where, "weights are aligned by ticker, never by position",
            "pass a mapping or a pandas Series indexed by ticker",
        )
    items = list(weights.items())
    tickers = [normalize_ticker(ticker, where) for ticker, _ in items]
    repeated = sorted({t for t in tickers if tickers.count(t) > 1})
    if repeated:
        raise InputError(f"duplicate ticker {repeated[0]} in the {what}", where,
                         "each ticker may appear once", "merge the duplicate weights")
    if universe is not None:
        check_known(tickers, universe, where, universe_source)
    values = _checked_fractions(tickers, [raw for _, raw in items], what, where)
    cash = implied_cash(values, what, where)
    values.pop(CASH, None)
    return pd.Series({**values, CASH: cash}, dtype=float, name="weight")


def aligned_weight_vector(weights: Any, universe: Sequence[str]) -> np.ndarray | None:
    """The risky weights as a vector in ``universe`` order, when no parsing is needed.

    A float Series indexed exactly by ``universe`` (no CASH) whose values are finite, within
    [0, 1] up to :data:`WEIGHT_TOLERANCE` and sum to at most 1 + tolerance is what
    :func:`parse_weights` would accept unchanged: its values, clipped into [0, 1], are
    returned as they are (a backtest's strategies produce such Series at every rebalance).
    Anything else gives None: parse it with :func:`parse_weights` (which names the error).

    Parameters
    ----------
    weights : Any
        A strategy's target.
    universe : sequence of str
        The tickers, in order.

    Returns
    -------
    ndarray, shape (len(universe),) or None
    """
    if not isinstance(weights, pd.Series) or weights.dtype != float:
        return None
    if tuple(weights.index) != tuple(universe):
        return None
    values = weights.to_numpy()
    if (not np.all(np.isfinite(values)) or values.min(initial=0.0) < -WEIGHT_TOLERANCE
            or values.max(initial=0.0) > 1 + WEIGHT_TOLERANCE
            or math.fsum(values) > 1.0 + WEIGHT_TOLERANCE):
        return None
    return np.clip(values, 0.0, 1.0)


def _checked_fractions(tickers: list[str], raws: list[Any], what: str, where: str
                       ) -> dict[str, float]:
    """Each weight as a float in [0, 1] (noise clipped), or the first bad one as an error."""
    values = {t: _fraction(raw) for t, raw in zip(tickers, raws)}
    raw_of = dict(zip(tickers, raws))
    noun = what[:-1] if what.endswith("s") else what
    checks = (
        (lambda v: not math.isfinite(v), f"{what} are fractions between 0 and 1 (numbers)"),
        (lambda v: v < -WEIGHT_TOLERANCE,
         f"negative {what} are short positions, which are not supported"),
        (lambda v: v > 1 + WEIGHT_TOLERANCE, f"{what} are fractions between 0 and 1"),
    )
    for test, why in checks:
        bad = next((t for t, v in values.items() if test(v)), None)
        if bad is not None:
            raise InputError(f"invalid {noun} {raw_of[bad]!r} for {bad}", where, why,
                             "write e.g. 0.25 for 25 %")
    return {t: min(max(v, 0.0), 1.0) for t, v in values.items()}


def implied_cash(values: Mapping[str, float], what: str = "weights", where: str | None = None
                 ) -> float:
    """The cash weight under the implicit-cash rule, after checking the sum.

    Parameters
    ----------
    values : mapping
        Fractions by ticker (already checked to lie in [0, 1]), ``CASH`` optional.
    what, where : str
        For messages, as in :func:`parse_weights`.

    Raises
    ------
    InputError
        With ``CASH``, a sum other than 1; without, a sum above 1.
    """
    where = where or what
    total = math.fsum(values.values())
    if CASH in values:
        if abs(total - 1.0) > WEIGHT_TOLERANCE:
            invested = total - values[CASH]
            fix = "make the weights sum to 1"
            if 0 <= 1.0 - invested <= 1:
                fix += f", e.g. set CASH to {1.0 - invested:.6g}"
            raise InputError(
                f"{what} sum to {total:.6g}, not 1", where,
                "with a CASH weight, all weights including CASH must sum to 1 (100 %)",
                fix + ", or leave CASH out to hold the remainder as cash",
            )
        return float(values[CASH])
    if total > 1.0 + WEIGHT_TOLERANCE:
        raise InputError(
            f"{what} sum to {total:.6g}, more than 1", where,
            "the weights must sum to at most 1 (100 %); the remainder is held as cash",
            f"reduce the weights by {total - 1.0:.6g} in total",
        )
    cash = max(1.0 - total, 0.0)
    return cash if cash > 1e-12 else 0.0


def _fraction(raw: Any) -> float:
    """A weight as a float (NaN when it is not a number)."""
    try:
        return float(raw)
    except (TypeError, ValueError):
        return math.nan


def weights_vector(weights: pd.Series | Mapping[str, float], tickers: Sequence[str]) -> np.ndarray:
    """Risky weights in ``tickers`` order; absent tickers count 0, ``CASH`` is ignored.

    Raises
    ------
    InputError
        If ``weights`` holds a ticker outside ``tickers`` (align by label, never by position),
        the same ticker twice, or a value that is not a number.
    """
    try:
        series = pd.Series(weights, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(
            "weights must be numbers", "weights", f"could not read them as fractions ({exc})",
            "give every ticker a number, e.g. 0.25 for 25 %",
        ) from None
    repeated = sorted(set(series.index[series.index.duplicated()]))
    if repeated:
        raise InputError(
            f"repeated weight for {', '.join(map(str, repeated))}", "weights",
            "each ticker may have one weight", "merge or remove the repeated entries",
        )
    extra = sorted(set(series.index) - set(tickers) - {CASH})
    if extra:
        raise InputError(
            f"weights for tickers outside the universe: {', '.join(extra)}",
            "weights", "every weight must belong to a configured ticker",
            "add them to universe.tickers or remove them",
        )
    return series.reindex(list(tickers)).fillna(0.0).to_numpy()


def weights_and_cash(
    weights: pd.Series | Mapping[str, float], tickers: Sequence[str]
) -> tuple[np.ndarray, float]:
    """Risky weights in ``tickers`` order (:func:`weights_vector`) and the cash weight.

    Cash is the ``CASH`` entry when there is one, else ``1 - sum(risky weights)``.
    """
    risky = weights_vector(weights, tickers)
    return risky, float(weights.get(CASH, 1.0 - risky.sum()))
