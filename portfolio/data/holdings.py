"""Read the user's holdings and target-weights CSV files.

Both files are small CSV tables keyed by ticker. They are parsed with the standard library only
(``csv``, ``difflib``) so that importing this module stays cheap.

Holdings file (``ticker,shares``)::

    # my brokerage account, 2026-07-31
    ticker,shares
    NVDA,650
    9984.T,300
    CASH,6000

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

import csv
import difflib
import math
import os
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from portfolio.errors import InputError
from portfolio.weights import CASH, implied_cash, ticker_text

__all__ = [
    "CASH",
    "Holdings",
    "parse_holdings",
    "parse_target_weights",
    "read_holdings",
    "read_target_weights",
]

MEMORY_SOURCE = "<memory>"
_PERCENT_SUM_TOLERANCE = 1.0
"""Weights written without '%' whose sum is within this of 100 are taken for percents."""

_MAX_LISTED_TICKERS = 20
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_CURRENCY_NOISE = re.compile(r"[$€£¥\s]|USD|JPY|EUR", re.IGNORECASE)


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
    """

    shares: Mapping[str, float]
    cash: float = 0.0
    source: str = MEMORY_SOURCE

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
        object.__setattr__(self, "shares", MappingProxyType(shares))

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
    return parse_holdings(_read_text(path, "holdings"), str(path), known_tickers)


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
        ignored); one row per ticker; a row ``CASH,<amount>`` holds cash in USD.
    source : str
        Name of the file, used in error messages.
    known_tickers : collection of str, optional
        The configured universe; when given, any other ticker is an error.

    Returns
    -------
    Holdings
        ``shares`` (ticker -> shares >= 0, file order, no CASH), ``cash`` in USD (0 if absent).

    Raises
    ------
    InputError
        On an empty file, a missing header or column, a row with the wrong number of fields,
        an empty, duplicate or unknown ticker, a duplicate CASH row, a share count or cash
        amount that is not a finite number >= 0, or a file with no rows at all.
    """
    shares: dict[str, float] = {}
    cash: float | None = None
    for row in _rows(text, source, "shares", known_tickers):
        noun = "cash amount" if row.ticker == CASH else "share count"
        value = _parse_number(row.value, noun, row.ticker, row.where)
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
    return Holdings(shares=shares, cash=0.0 if cash is None else cash, source=source)


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
    return parse_target_weights(_read_text(path, "target weights"), str(path), known_tickers)


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
    for row in _rows(text, source, "weight", known_tickers):
        raw = row.value.strip()
        is_percent = raw.endswith("%")
        number_text = raw[:-1].strip() if is_percent else raw
        value = _parse_number(number_text, "weight", row.ticker, row.where, shown=raw)
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
    if abs(plain_sum - 100.0) <= _PERCENT_SUM_TOLERANCE:
        raise InputError(
            "weights look like percents",
            source,
            f"the weights written without '%' sum to {plain_sum:g}, not 1",
            "write fractions (0.25) or percents with the sign (25%)",
        )

    for ticker, weight in weights.items():
        _check_weight_range(ticker, weight, percent_signs[ticker], where_of[ticker])

    cash = implied_cash(weights, "target weights", source)
    if CASH not in weights:
        weights[CASH] = cash
    return MappingProxyType(weights)


# ---------------------------------------------------------------------------------------------
# Shared machinery
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    """One data row: normalised ticker, raw text of the value column, and its location."""

    ticker: str
    value: str
    where: str


def _read_text(path: str | os.PathLike[str], kind: str) -> str:
    """Return the text of a UTF-8 file, turning every I/O problem into an InputError."""
    where = str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise InputError(
            f"{kind} file not found",
            where,
            "no file exists at this path",
            f"check the path (relative paths start from {os.getcwd()}); "
            "examples/holdings.csv and examples/target_weights.csv show the format",
        ) from None
    except IsADirectoryError:
        raise InputError(
            f"{kind} path is a directory",
            where,
            "a CSV file is expected",
            "give the path of the CSV file itself",
        ) from None
    except OSError as error:
        raise InputError(
            f"cannot read {kind} file",
            where,
            error.strerror or str(error),
            "check that the file exists and that you may read it",
        ) from None

    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(
            f"{kind} file is UTF-16, not UTF-8",
            where,
            "the file must be UTF-8 text",
            "save it as 'CSV UTF-8' (Excel: File > Save As > CSV UTF-8)",
        )
    if data.startswith(b"PK\x03\x04"):
        raise InputError(
            f"{kind} file is a spreadsheet workbook, not CSV",
            where,
            "the file must be plain CSV text",
            "export it as 'CSV UTF-8' (Excel: File > Save As > CSV UTF-8)",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InputError(
            f"{kind} file is not UTF-8 text",
            f"{where}, line {line}",
            f"byte {data[error.start : error.start + 1]!r} is not valid UTF-8",
            "save the file as 'CSV UTF-8' (Excel: File > Save As > CSV UTF-8)",
        ) from None


def _rows(
    text: str,
    source: str,
    value_column: str,
    known_tickers: Collection[str] | None,
) -> Iterator[_Row]:
    """Yield the data rows of a ``ticker,<value_column>`` file after the shared checks.

    Checks the header, the field count of every row, empty, duplicate and unknown tickers.
    The value column is returned as raw text for the caller to parse.
    """
    known = None if known_tickers is None else {ticker_text(str(t)) for t in known_tickers}
    header: list[str] | None = None
    header_line = 0
    ticker_index = value_index = 0
    first_line_of: dict[str, int] = {}
    for line_no, fields in _records(text, source):
        where = f"{source}, line {line_no}"
        if header is None:
            header = [field.strip().lower() for field in fields]
            header_line = line_no
            ticker_index, value_index = _column_indices(header, value_column, where)
            continue
        if len(fields) != len(header):
            _raise_field_count(fields, header, header_line, value_index, value_column, where)
        ticker = ticker_text(fields[ticker_index])
        if not ticker:
            raise InputError(
                "empty ticker",
                where,
                f"every row needs a ticker in the '{header[ticker_index]}' column",
                "fill in the ticker or delete the line",
            )
        if any(char.isspace() for char in ticker):
            raise InputError(
                f"ticker {ticker!r} contains a space",
                where,
                "a ticker is a single symbol such as NVDA or 9984.T",
                "put one ticker per line",
            )
        if ticker in first_line_of:
            label = "CASH row" if ticker == CASH else f"ticker {ticker!r}"
            raise InputError(
                f"duplicate {label}",
                where,
                f"{ticker} is already listed on line {first_line_of[ticker]}",
                f"keep one {ticker} line (lines {first_line_of[ticker]} and {line_no}): "
                "add the amounts together yourself if both are meant",
            )
        if known is not None and ticker != CASH and ticker not in known:
            raise _unknown_ticker(ticker, known, where)
        first_line_of[ticker] = line_no
        yield _Row(ticker=ticker, value=fields[value_index], where=where)
    if header is None:
        raise InputError(
            "empty file",
            source,
            "the file has no header and no rows",
            f"start the file with the header line 'ticker,{value_column}' and add one row per "
            f"ticker, e.g. NVDA,{'100' if value_column == 'shares' else '0.10'}",
        )


def _records(text: str, source: str) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(physical line number, fields)`` for every non-blank, non-comment line."""
    text = text.removeprefix("\ufeff")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for line_no, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            fields = next(csv.reader([line], skipinitialspace=True, strict=True))
        except csv.Error as error:
            raise InputError(
                "malformed CSV line",
                f"{source}, line {line_no}",
                str(error),
                "check the quotes on this line; a quoted field must end with a quote",
            ) from None
        if not any(field.strip() for field in fields):
            continue  # a line of only commas, as spreadsheets sometimes export
        yield line_no, fields


def _column_indices(header: list[str], value_column: str, where: str) -> tuple[int, int]:
    """Return the positions of the ``ticker`` and value columns in the header."""
    expected = f"ticker,{value_column}"
    seen: dict[str, int] = {}
    for index, name in enumerate(header):
        if name and name in seen:
            raise InputError(
                f"duplicate column {name!r} in the header",
                where,
                f"columns {seen[name] + 1} and {index + 1} have the same name",
                f"keep one '{name}' column; the header should be '{expected}'",
            )
        seen[name] = index
    missing = [name for name in ("ticker", value_column) if name not in seen]
    if not missing:
        return seen["ticker"], seen[value_column]

    found = ", ".join(repr(name) for name in header)
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        separator = "';'" if ";" in header[0] else "a tab"
        why = f"the header uses {separator} as separator, not ','"
        fix = f"save the file with commas as separators; the header should be '{expected}'"
    elif any(_is_number(name) for name in header):
        why = "the first line looks like data, not a header"
        fix = f"add the header line '{expected}' at the top of the file"
    else:
        why = f"the header has the columns {found}"
        hints = []
        for name in missing:
            close = difflib.get_close_matches(name, [h for h in header if h], n=1, cutoff=0.6)
            if close:
                hints.append(f"rename {close[0]!r} to '{name}'")
        fix = f"the header should be '{expected}'"
        if hints:
            fix = "; ".join(hints) + "; " + fix
    names = " and ".join(f"'{name}'" for name in missing)
    plural = "s" if len(missing) > 1 else ""
    raise InputError(f"missing {names} column{plural}", where, why, fix)


def _raise_field_count(
    fields: list[str],
    header: list[str],
    header_line: int,
    value_index: int,
    value_column: str,
    where: str,
) -> None:
    """Raise the InputError for a row whose field count differs from the header's."""
    why = (
        f"the row has {len(fields)} field{'s' if len(fields) != 1 else ''} but the header "
        f"(line {header_line}) has {len(header)}"
    )
    fix = f"write one value per column ({', '.join(h or '<blank>' for h in header)})"
    extra = len(fields) - len(header)
    if extra > 0:
        joined = ",".join(field.strip() for field in fields[value_index : value_index + extra + 1])
        if _THOUSANDS.match(joined):
            why += f"; '{joined}' was split at its thousands separator"
            fix = f"write {joined.replace(',', '')} without the comma"
        else:
            fix += "; remove the extra commas"
    elif len(fields) <= value_index:
        fix = f"add the {value_column} value; " + fix
    raise InputError("wrong number of fields", where, why, fix)


def _unknown_ticker(ticker: str, known: set[str], where: str) -> InputError:
    """Build the InputError for a ticker outside the configured universe."""
    ordered = sorted(known)
    listed = ", ".join(ordered[:_MAX_LISTED_TICKERS])
    if len(ordered) > _MAX_LISTED_TICKERS:
        listed += f", ... ({len(ordered) - _MAX_LISTED_TICKERS} more)"
    close = difflib.get_close_matches(ticker, ordered, n=3, cutoff=0.6)
    fix = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    fix += f"Known: {listed}; or add {ticker} to the universe in your config"
    return InputError(
        f"unknown ticker {ticker!r}", where, "it is not in the configured universe", fix
    )


def _parse_number(raw: str, noun: str, ticker: str, where: str, shown: str | None = None) -> float:
    """Parse a finite float from a CSV field, with a suggestion when the text is close to one.

    ``shown`` is the text quoted in messages (defaults to ``raw``).
    """
    text = raw.strip()
    shown = text if shown is None else shown.strip()
    if not text:
        raise InputError(
            f"missing {noun} for {ticker}",
            where,
            f"the {noun} field is empty",
            f"write the {noun} or delete the line",
        )
    try:
        value = float(text)
    except ValueError:
        raise InputError(
            f"{noun} {shown!r} for {ticker} is not a number",
            where,
            f"the {noun} must be a plain number",
            _number_suggestion(text, noun),
        ) from None
    if not math.isfinite(value):
        raise InputError(
            f"{noun} {shown!r} for {ticker} is not a finite number",
            where,
            "NaN and infinity are not allowed",
            f"write the actual {noun}",
        )
    return value


def _number_suggestion(text: str, noun: str) -> str:
    """Say how to turn ``text`` into a plain number, guessing the user's intent."""
    if _THOUSANDS.match(text):
        return f"write {text.replace(',', '')!r} without thousands separators"
    if _DECIMAL_COMMA.match(text):
        return f"write {text.replace(',', '.')!r} with a decimal point"
    cleaned = _CURRENCY_NOISE.sub("", text)
    if cleaned != text and (_is_number(cleaned) or _THOUSANDS.match(cleaned)):
        return f"write {cleaned.replace(',', '')!r} without currency signs, units or spaces"
    example = "0.25 or 25%" if noun == "weight" else "1000 or 12.5"
    return f"write a number such as {example}"


def _check_weight_range(ticker: str, weight: float, is_percent: bool, where: str) -> None:
    """Raise an InputError unless ``0 <= weight <= 1`` (``weight`` is a fraction)."""
    shown = f"{weight * 100:g}%" if is_percent else f"{weight:g}"
    if weight < 0:
        raise InputError(
            f"negative weight {shown} for {ticker}",
            where,
            "weights must be between 0 and 1 (short positions are not supported)",
            f"write a weight >= 0 for {ticker}, or remove the line",
        )
    if weight > 1:
        fix = "write a fraction between 0 and 1"
        if not is_percent and weight <= 100:
            fix = f"if you meant {weight:g} %, write {weight / 100:g} or {weight:g}%"
        raise InputError(
            f"weight {shown} for {ticker} is above 100 %",
            where,
            "a weight is a fraction of the portfolio between 0 and 1",
            fix,
        )


def _is_number(text: str) -> bool:
    """Whether ``text`` parses as a float."""
    try:
        float(text)
    except ValueError:
        return False
    return True
