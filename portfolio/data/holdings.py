"""Read the user's holdings and target-weights CSV files.

Both files are small CSV tables keyed by ticker. They are parsed with the standard library only
(``csv``, ``difflib``) so that importing this module stays cheap.

Holdings file (``ticker,shares``, optionally ``cost_basis``)::

    # my brokerage account, 2026-07-31
    ticker,shares,cost_basis
    NVDA,650,41.20
    9984.T,300,
    CASH,6000,

``cost_basis`` is the average price paid per share in USD (the base currency, also for
9984.T); a blank cell means unknown. With it, ``rebalance`` shows the gain or loss each
sell realises (a number, not tax advice; tax lots are out of scope).

Target-weights file (``ticker,weight``)::

    ticker,weight
    NVDA,0.10
    MSFT,12%
    CASH,0.05

Common rules for both files:

* The first line that is neither blank nor a comment is the header. Header names are
  case-insensitive and may carry surrounding whitespace; the columns may come in any order.
  Extra columns (e.g. ``note``) are allowed and ignored, but every row must have as many
  fields as the header.
* Blank lines, lines holding only commas, and lines whose first non-blank character is ``#``
  are skipped. A UTF-8 byte-order mark and Windows (CRLF) line endings are accepted.
* Tickers are stripped and upper-cased (``"nvda "`` -> ``"NVDA"``, ``"9984.t"`` -> ``"9984.T"``).
  The pseudo-ticker ``CASH`` holds cash. A ticker (or ``CASH``) may appear only once.
* When ``known_tickers`` is given, every ticker other than ``CASH`` must be in it
  (case-insensitive); an unknown one is reported with a "did you mean".

Every problem raises :class:`portfolio.errors.InputError` whose ``where`` is
``"<file>, line N"`` (N is the 1-based physical line number) or just ``"<file>"`` for
problems that concern the file as a whole.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from portfolio.data.csvrows import (
    PERCENT_SUM_TOLERANCE,
    Row,
    check_weight_range,
    parse_number,
    read_text,
    rows,
)
from portfolio.errors import InputError
from portfolio.weights import CASH, implied_cash

__all__ = [
    "CASH",
    "Holdings",
    "parse_holdings",
    "parse_target_weights",
    "read_holdings",
    "read_target_weights",
]

MEMORY_SOURCE = "<memory>"


@dataclass(frozen=True)
class Holdings:
    """What the investor holds now.

    Parameters
    ----------
    shares : Mapping[str, float]
        Ticker -> number of shares (>= 0, fractional allowed), in file order. Never contains
        ``"CASH"``. Stored as a read-only mapping.
    cash : float
        Cash in USD (>= 0); 0 when the file has no ``CASH`` row.
    source : str
        The file the holdings came from, or ``"<memory>"``.
    cost_basis : Mapping[str, float]
        Ticker -> average price paid per share, USD (>= 0), for the held tickers whose
        basis is known; may be empty. Stored as a read-only mapping.
    """

    shares: Mapping[str, float]
    cash: float = 0.0
    source: str = MEMORY_SOURCE
    cost_basis: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shares = dict(self.shares)
        for ticker, count in shares.items():
            if ticker == CASH:
                raise InputError(
                    "CASH listed as a position",
                    self.source,
                    "cash is held in Holdings.cash, not in Holdings.shares",
                    "pass the cash amount as cash=...",
                )
            if not math.isfinite(count) or count < 0:
                raise InputError(
                    f"invalid share count {count!r} for {ticker}",
                    self.source,
                    "share counts must be finite and >= 0",
                    "fix the share count",
                )
        if not math.isfinite(self.cash) or self.cash < 0:
            raise InputError(
                f"invalid cash amount {self.cash!r}",
                self.source,
                "cash must be a finite amount in USD, >= 0",
                "fix the cash amount",
            )
        for ticker, basis in dict(self.cost_basis).items():
            if ticker not in shares or not math.isfinite(basis) or basis < 0:
                raise InputError(
                    f"invalid cost basis {basis!r} for {ticker}", self.source,
                    "a cost basis is a finite USD price per share >= 0 of a held ticker",
                    "fix the cost basis or leave it blank",
                )
        object.__setattr__(self, "shares", MappingProxyType(shares))
        object.__setattr__(self, "cost_basis", MappingProxyType(dict(self.cost_basis)))

    def tickers(self) -> tuple[str, ...]:
        """Tickers held, in file order (``CASH`` excluded).

        Returns
        -------
        tuple of str
        """
        return tuple(self.shares)


# ---------------------------------------------------------------------------------------------
# Public readers
# ---------------------------------------------------------------------------------------------


def read_holdings(
    path: str | os.PathLike[str], known_tickers: Collection[str] | None = None
) -> Holdings:
    """Read a holdings CSV file (``ticker,shares``; a ``CASH,<USD>`` row holds cash).

    Parameters
    ----------
    path : str or path-like
        The CSV file, UTF-8 (a byte-order mark is fine).
    known_tickers : collection of str, optional
        The configured universe; when given, any other ticker is an error.

    Returns
    -------
    Holdings
        Shares per ticker in file order, cash in USD, and ``source=str(path)``.

    Raises
    ------
    InputError
        If the file is missing, unreadable or malformed (see :func:`parse_holdings`).
    """
    return parse_holdings(read_text(path, "holdings"), str(path), known_tickers)


def parse_holdings(
    text: str,
    source: str = MEMORY_SOURCE,
    known_tickers: Collection[str] | None = None,
) -> Holdings:
    """Parse the text of a holdings CSV file.

    Parameters
    ----------
    text : str
        The whole file. Header ``ticker,shares`` (any case, any column order, extra columns
        ignored) with an optional ``cost_basis`` column (USD per share, blank = unknown);
        one row per ticker; a row ``CASH,<amount>`` holds cash in USD.
    source : str
        Name of the file, used in error messages.
    known_tickers : collection of str, optional
        The configured universe; when given, any other ticker is an error.

    Returns
    -------
    Holdings
        ``shares`` (ticker -> shares >= 0, file order, no CASH), ``cash`` in USD (0 if absent),
        ``cost_basis`` (ticker -> USD per share, where given).

    Raises
    ------
    InputError
        On an empty file, a missing header or column, a row with the wrong number of fields,
        an empty, duplicate or unknown ticker, a duplicate CASH row, a share count or cash
        amount that is not a finite number >= 0, a cost basis that is not a finite number
        >= 0 or is given for CASH, or a file with no rows at all.
    """
    shares: dict[str, float] = {}
    cost_basis: dict[str, float] = {}
    cash: float | None = None
    for row in rows(text, source, "shares", known_tickers, optional_columns=("cost_basis",)):
        basis = _cost_basis(row)
        if basis is not None:
            cost_basis[row.ticker] = basis
        noun = "cash amount" if row.ticker == CASH else "share count"
        value = parse_number(row.value, noun, row.ticker, row.where)
        if value < 0:
            if row.ticker == CASH:
                raise InputError(
                    f"negative cash {row.value.strip()!r}",
                    row.where,
                    "cash must be >= 0 (margin debt is not supported)",
                    "write the cash balance in USD, e.g. CASH,5000",
                )
            raise InputError(
                f"negative share count {row.value.strip()!r} for {row.ticker}",
                row.where,
                "share counts must be >= 0 (short positions are not supported)",
                f"write the number of {row.ticker} shares you own, or remove the line",
            )
        value = abs(value)  # turns -0.0 into 0.0
        if row.ticker == CASH:
            cash = value
        else:
            shares[row.ticker] = value
    if not shares and cash is None:
        raise InputError(
            "no holdings",
            source,
            "the file has a header but no positions and no CASH row",
            "add one line per position, e.g. NVDA,100, and a line CASH,<USD amount>",
        )
    return Holdings(shares=shares, cash=0.0 if cash is None else cash, source=source,
                    cost_basis=cost_basis)


def _cost_basis(row: Row) -> float | None:
    """The row's cost basis in USD per share, or None when blank or absent."""
    raw = row.optional.get("cost_basis", "")
    if not raw:
        return None
    if row.ticker == CASH:
        raise InputError("a cost basis on the CASH row", row.where,
                         "cash has no cost basis", "leave the cost_basis cell of CASH blank")
    basis = parse_number(raw, "cost basis", row.ticker, row.where)
    if basis < 0:
        raise InputError(f"negative cost basis {raw!r} for {row.ticker}", row.where,
                         "the cost basis is the average USD price paid per share, >= 0",
                         "write the price paid per share, or leave the cell blank")
    return abs(basis)


def read_target_weights(
    path: str | os.PathLike[str], known_tickers: Collection[str] | None = None
) -> Mapping[str, float]:
    """Read a target-weights CSV file (``ticker,weight``).

    Parameters
    ----------
    path : str or path-like
        The CSV file, UTF-8 (a byte-order mark is fine).
    known_tickers : collection of str, optional
        The configured universe; when given, any other ticker is an error.

    Returns
    -------
    Mapping[str, float]
        Ticker -> weight fraction; always contains ``"CASH"`` (see
        :func:`parse_target_weights`). The weights sum to 1.

    Raises
    ------
    InputError
        If the file is missing, unreadable or malformed (see :func:`parse_target_weights`).
    """
    return parse_target_weights(read_text(path, "target weights"), str(path), known_tickers)


def parse_target_weights(
    text: str,
    source: str = MEMORY_SOURCE,
    known_tickers: Collection[str] | None = None,
) -> Mapping[str, float]:
    """Parse the text of a target-weights CSV file.

    Parameters
    ----------
    text : str
        The whole file. Header ``ticker,weight`` (any case, any column order, extra columns
        ignored). Weights are fractions (``0.25``) or percents with the sign (``25%``), each
        in [0, 1] (0 % to 100 %). A ``CASH`` row is optional.
    source : str
        Name of the file, used in error messages.
    known_tickers : collection of str, optional
        The configured universe; when given, any other ticker is an error.

    Returns
    -------
    Mapping[str, float]
        Read-only ticker -> weight fraction, in file order, always including ``"CASH"``:
        with a CASH row all weights must sum to 1 (within 1e-6); without one the weights must
        sum to at most 1 and the remainder is added as ``"CASH"`` at the end (0.0 when they
        already sum to 1).

    Raises
    ------
    InputError
        On the header, row, duplicate and unknown-ticker problems of :func:`parse_holdings`,
        a weight that is not a finite number, a weight outside [0, 1], weights written without
        '%' that sum to about 100 (they look like percents), a sum above 1, or, with a CASH row,
        a sum different from 1.
    """
    weights: dict[str, float] = {}
    percent_signs: dict[str, bool] = {}
    where_of: dict[str, str] = {}
    for row in rows(text, source, "weight", known_tickers):
        raw = row.value.strip()
        is_percent = raw.endswith("%")
        number_text = raw[:-1].strip() if is_percent else raw
        value = parse_number(number_text, "weight", row.ticker, row.where, shown=raw)
        weights[row.ticker] = value / 100.0 if is_percent else value
        percent_signs[row.ticker] = is_percent
        where_of[row.ticker] = row.where
    if not weights:
        raise InputError(
            "no target weights",
            source,
            "the file has a header but no rows",
            "add one line per ticker, e.g. NVDA,0.10 (or NVDA,10%)",
        )

    plain_sum = math.fsum(w for t, w in weights.items() if not percent_signs[t])
    if abs(plain_sum - 100.0) <= PERCENT_SUM_TOLERANCE:
        raise InputError(
            "weights look like percents",
            source,
            f"the weights written without '%' sum to {plain_sum:g}, not 1",
            "write fractions (0.25) or percents with the sign (25%)",
        )

    for ticker, weight in weights.items():
        check_weight_range(ticker, weight, percent_signs[ticker], where_of[ticker])

    cash = implied_cash(weights, "target weights", source)
    if CASH not in weights:
        weights[CASH] = cash
    return MappingProxyType(weights)


# ---------------------------------------------------------------------------------------------
# Shared machinery
# ---------------------------------------------------------------------------------------------


