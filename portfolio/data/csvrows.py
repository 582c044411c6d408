"""Rows of a small ``ticker,value`` CSV file (holdings, target weights, imported prices).

The shared machinery of :mod:`portfolio.data.holdings`: the file read as text (BOM, CRLF),
comments and blank lines skipped, a case-insensitive header found, each row's ticker
normalised and its number parsed with a suggestion when it is written oddly (thousands
separators, decimal commas, currency signs). Every error is an
:class:`~portfolio.errors.InputError` whose ``where`` is ``"<file>, line N"``.
"""

from __future__ import annotations

import csv
import difflib
import math
import os
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field

from portfolio.errors import InputError
from portfolio.weights import CASH, ticker_text

__all__ = [
    "PERCENT_SUM_TOLERANCE", "Row", "check_weight_range", "parse_number", "read_text", "records",
    "rows",
]

PERCENT_SUM_TOLERANCE = 1.0
"""Weights written without '%' whose sum is within this of 100 are taken for percents."""


_MAX_LISTED_TICKERS = 20


_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")


_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")


_CURRENCY_NOISE = re.compile(r"[$€£¥\s]|USD|JPY|EUR", re.IGNORECASE)


@dataclass(frozen=True)
class Row:
    """One data row: normalised ticker, raw text of the value column, and its location.

    ``optional`` maps each optional column the header has (see :func:`rows`) to the raw
    text of this row's field, stripped (``""`` when blank).
    """

    ticker: str
    value: str
    where: str
    optional: Mapping[str, str] = field(default_factory=dict)


def read_text(path: str | os.PathLike[str], kind: str,
              formats: str = "`--holdings example` reads the packaged example holdings, "
                             "and `portfolio init DIR` copies it") -> str:
    """Return the text of a UTF-8 file, turning every I/O problem into an InputError.

    ``formats`` is the hint on the file's format added when the file is missing.
    """
    where = str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise InputError(
            f"{kind} file not found",
            where,
            "no file exists at this path",
            f"check the path (relative paths start from {os.getcwd()}); {formats}",
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


def rows(
    text: str,
    source: str,
    value_column: str,
    known_tickers: Collection[str] | None,
    optional_columns: tuple[str, ...] = (),
) -> Iterator[Row]:
    """Yield the data rows of a ``ticker,<value_column>`` file after the shared checks.

    Checks the header, the field count of every row, empty, duplicate and unknown tickers.
    The value column is returned as raw text for the caller to parse, and so is each of
    ``optional_columns`` the header has (in ``Row.optional``).
    """
    known = None if known_tickers is None else {ticker_text(str(t)) for t in known_tickers}
    header: list[str] | None = None
    header_line = 0
    ticker_index = value_index = 0
    optional_index: dict[str, int] = {}
    first_line_of: dict[str, int] = {}
    for line_no, fields in records(text, source):
        where = f"{source}, line {line_no}"
        if header is None:
            header = [cell.strip().lower() for cell in fields]
            header_line = line_no
            ticker_index, value_index = _column_indices(header, value_column, where)
            optional_index = {name: header.index(name) for name in optional_columns
                              if name in header}
            continue
        if len(fields) != len(header):
            _raise_field_count(fields, header, header_line, value_index, value_column, where)
        ticker = _checked_ticker(fields[ticker_index], header[ticker_index], where)
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
        yield Row(ticker=ticker, value=fields[value_index], where=where,
                  optional={name: fields[index].strip() for name, index in optional_index.items()})
    if header is None:
        raise InputError(
            "empty file",
            source,
            "the file has no header and no rows",
            f"start the file with the header line 'ticker,{value_column}' and add one row per "
            f"ticker, e.g. NVDA,{'100' if value_column == 'shares' else '0.10'}",
        )


def _checked_ticker(raw: str, column: str, where: str) -> str:
    """The normalised ticker of a row; an empty one or one with a space is an error."""
    ticker = ticker_text(raw)
    if not ticker:
        raise InputError(
            "empty ticker",
            where,
            f"every row needs a ticker in the '{column}' column",
            "fill in the ticker or delete the line",
        )
    if any(char.isspace() for char in ticker):
        raise InputError(
            f"ticker {ticker!r} contains a space",
            where,
            "a ticker is a single symbol such as NVDA or 9984.T",
            "put one ticker per line",
        )
    return ticker


def records(text: str, source: str) -> Iterator[tuple[int, list[str]]]:
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
        if not any(cell.strip() for cell in fields):
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
    elif any(is_number(name) for name in header):
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
        joined = ",".join(cell.strip() for cell in fields[value_index : value_index + extra + 1])
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


def parse_number(raw: str, noun: str, ticker: str, where: str, shown: str | None = None) -> float:
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
    if cleaned != text and (is_number(cleaned) or _THOUSANDS.match(cleaned)):
        return f"write {cleaned.replace(',', '')!r} without currency signs, units or spaces"
    example = "0.25 or 25%" if noun == "weight" else "1000 or 12.5"
    return f"write a number such as {example}"


def check_weight_range(ticker: str, weight: float, is_percent: bool, where: str) -> None:
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


def is_number(text: str) -> bool:
    """Whether ``text`` parses as a float."""
    try:
        float(text)
    except ValueError:
        return False
    return True
