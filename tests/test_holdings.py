"""Tests of portfolio.data.holdings: the holdings and target-weights CSV readers."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portfolio.data.holdings import (
    Holdings,
    parse_holdings,
    parse_target_weights,
    read_holdings,
    read_target_weights,
)
from portfolio.errors import InputError
from portfolio.weights import CASH

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
UNIVERSE = "NVDA AMD ORCL CRWV GOOGL MSFT META AVGO AMZN TSM SMCI INTC MU 9984.T".split()
SRC = "h.csv"


def input_error(parse, text: str, **kwargs) -> InputError:
    """Parse ``text`` with source ``SRC``, expecting an InputError, and return it."""
    with pytest.raises(InputError) as info:
        parse(text, SRC, **kwargs)
    error = info.value
    assert error.exit_code == 2
    assert str(error) == error.message
    assert error.why and error.fix, "every message says why and how to fix"
    return error


def assert_error(error: InputError, where: str, *words: str) -> None:
    """Check ``where`` exactly and that every word appears in the one-line message."""
    assert error.where == where
    message = error.message.lower()
    for word in words:
        assert word.lower() in message, f"{word!r} not in {error.message!r}"


# ---------------------------------------------------------------------------------------------
# Holdings: valid input
# ---------------------------------------------------------------------------------------------


def test_parse_holdings_basic_keeps_file_order_and_separates_cash():
    holdings = parse_holdings("ticker,shares\nNVDA,650\nCRWV,670\nCASH,6000\n9984.T,300\n")
    assert dict(holdings.shares) == {"NVDA": 650.0, "CRWV": 670.0, "9984.T": 300.0}
    assert holdings.tickers() == ("NVDA", "CRWV", "9984.T")
    assert holdings.cash == 6000.0
    assert holdings.source == "<memory>"
    assert CASH not in holdings.shares


def test_parse_holdings_without_cash_row_has_zero_cash_and_allows_fractions_and_zero():
    holdings = parse_holdings("ticker,shares\nNVDA,1.5\nAMD,0\n")
    assert holdings.cash == 0.0
    assert dict(holdings.shares) == {"NVDA": 1.5, "AMD": 0.0}


def test_parse_holdings_cash_only_is_fine():
    holdings = parse_holdings("ticker,shares\nCASH,1000\n")
    assert holdings.shares == {}
    assert holdings.cash == 1000.0


def test_parse_holdings_tolerates_bom_whitespace_case_crlf_comments_and_blank_lines():
    text = (
        "\ufeff# my account\r\n"
        "\r\n"
        "  Ticker , SHARES \r\n"
        "  nvda , 650 \r\n"
        "# a comment in the middle\r\n"
        "   # an indented comment\r\n"
        ",\r\n"
        "9984.t,300\r\n"
        "cash, 6000.50\r\n"
        "\r\n"
    )
    holdings = parse_holdings(text)
    assert dict(holdings.shares) == {"NVDA": 650.0, "9984.T": 300.0}
    assert holdings.cash == 6000.5


def test_parse_holdings_columns_in_any_order_and_extra_columns_ignored():
    text = 'note,shares,ticker\n"core, long term",10,NVDA\n,5,amd\nrainy day,200,CASH\n'
    holdings = parse_holdings(text)
    assert dict(holdings.shares) == {"NVDA": 10.0, "AMD": 5.0}
    assert holdings.cash == 200.0


def test_parse_holdings_accepts_quoted_fields_and_scientific_notation():
    holdings = parse_holdings('ticker,shares\n"NVDA", "1e3"\n')
    assert dict(holdings.shares) == {"NVDA": 1000.0}


def test_parse_holdings_known_tickers_is_case_insensitive_and_allows_cash():
    holdings = parse_holdings(
        "ticker,shares\nnvda,1\n9984.t,100\nCASH,5\n", known_tickers=["nvda", "9984.T"]
    )
    assert holdings.tickers() == ("NVDA", "9984.T")


def test_negative_zero_shares_become_zero():
    holdings = parse_holdings("ticker,shares\nNVDA,-0\nCASH,-0.0\n")
    assert math.copysign(1.0, holdings.shares["NVDA"]) == 1.0
    assert math.copysign(1.0, holdings.cash) == 1.0


def test_read_holdings_reads_bom_crlf_file_and_records_source(tmp_path):
    path = tmp_path / "holdings.csv"
    path.write_bytes("\ufeffticker,shares\r\nNVDA,10\r\nCASH,100\r\n".encode())
    holdings = read_holdings(path)
    assert dict(holdings.shares) == {"NVDA": 10.0}
    assert holdings.cash == 100.0
    assert holdings.source == str(path)


def test_holdings_is_frozen_and_its_shares_read_only():
    holdings = parse_holdings("ticker,shares\nNVDA,10\n")
    with pytest.raises(AttributeError):
        holdings.cash = 5.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        holdings.shares["NVDA"] = 1.0  # type: ignore[index]


def test_holdings_constructor_copies_and_validates():
    source = {"NVDA": 1.0}
    holdings = Holdings(shares=source, cash=2.0)
    source["AMD"] = 3.0
    assert holdings.tickers() == ("NVDA",)
    for bad in ({"NVDA": -1.0}, {"NVDA": math.nan}, {"CASH": 1.0}):
        with pytest.raises(InputError):
            Holdings(shares=bad)
    with pytest.raises(InputError, match="cash"):
        Holdings(shares={}, cash=-1.0)


tickers_strategy = st.lists(
    st.sampled_from(UNIVERSE), min_size=1, max_size=len(UNIVERSE), unique=True
)


@settings(max_examples=25, deadline=None)
@given(
    tickers=tickers_strategy,
    data=st.data(),
    cash=st.none() | st.floats(min_value=0, max_value=1e9, allow_nan=False),
)
def test_parse_holdings_round_trips_written_values(tickers, data, cash):
    counts = data.draw(
        st.lists(
            st.floats(min_value=0, max_value=1e9, allow_nan=False),
            min_size=len(tickers),
            max_size=len(tickers),
        )
    )
    lines = ["ticker,shares"] + [f"{t.lower()},{c!r}" for t, c in zip(tickers, counts)]
    if cash is not None:
        lines.append(f"CASH,{cash!r}")
    holdings = parse_holdings("\n".join(lines), known_tickers=UNIVERSE)
    assert holdings.tickers() == tuple(tickers)
    assert list(holdings.shares.values()) == counts
    assert holdings.cash == (cash or 0.0)


# ---------------------------------------------------------------------------------------------
# Holdings: errors
# ---------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(InputError) as info:
        read_holdings(path)
    assert_error(info.value, str(path), "holdings file not found", "check the path")


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(InputError) as info:
        read_holdings(tmp_path)
    assert_error(info.value, str(tmp_path), "directory", "csv file")


def test_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("ticker,shares\nNVDA,1\nSOCIÉTÉ,2\n".encode("latin-1"))
    with pytest.raises(InputError) as info:
        read_holdings(path)
    assert_error(info.value, f"{path}, line 3", "not utf-8", "csv utf-8")


def test_utf16_file_is_explained(tmp_path):
    path = tmp_path / "utf16.csv"
    path.write_bytes("ticker,shares\nNVDA,1\n".encode("utf-16"))
    with pytest.raises(InputError) as info:
        read_holdings(path)
    assert_error(info.value, str(path), "utf-16", "csv utf-8")


def test_excel_workbook_is_explained(tmp_path):
    path = tmp_path / "holdings.xlsx"
    path.write_bytes(b"PK\x03\x04rest-of-a-zip")
    with pytest.raises(InputError) as info:
        read_holdings(path)
    assert_error(info.value, str(path), "workbook", "export")


@pytest.mark.parametrize("text", ["", "\n\n  \n", "# only a comment\n\n", "\ufeff"])
def test_empty_file(text):
    error = input_error(parse_holdings, text)
    assert_error(error, SRC, "empty file", "ticker,shares")


def test_empty_file_on_disk(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(InputError) as info:
        read_holdings(path)
    assert_error(info.value, str(path), "empty file")


def test_header_only_is_an_error():
    error = input_error(parse_holdings, "# comment\nticker,shares\n\n")
    assert_error(error, SRC, "no holdings", "no positions and no cash", "CASH,")


def test_missing_header_first_line_is_data():
    error = input_error(parse_holdings, "\nNVDA,100\nAMD,5\n")
    assert_error(error, f"{SRC}, line 2", "missing", "looks like data", "ticker,shares")


def test_missing_shares_column_suggests_rename():
    error = input_error(parse_holdings, "ticker,share\nNVDA,1\n")
    assert_error(error, f"{SRC}, line 1", "missing 'shares' column", "rename 'share'")


def test_missing_ticker_column():
    error = input_error(parse_holdings, "symbol,shares\nNVDA,1\n")
    assert_error(error, f"{SRC}, line 1", "missing 'ticker' column", "'symbol'", "ticker,shares")


def test_semicolon_separator_is_explained():
    error = input_error(parse_holdings, "ticker;shares\nNVDA;1\n")
    assert_error(error, f"{SRC}, line 1", "missing", "';'", "commas")


def test_duplicate_header_column():
    error = input_error(parse_holdings, "ticker,shares,Shares\nNVDA,1,2\n")
    assert_error(error, f"{SRC}, line 1", "duplicate column 'shares'", "columns 2 and 3")


def test_row_with_too_many_fields():
    error = input_error(parse_holdings, "ticker,shares\nNVDA,1\nAMD,5,x\n")
    assert_error(error, f"{SRC}, line 3", "wrong number of fields", "3 fields", "has 2")


def test_row_with_too_few_fields():
    error = input_error(parse_holdings, "ticker,shares\n# c\nNVDA\n")
    assert_error(error, f"{SRC}, line 3", "wrong number of fields", "1 field ", "add the shares")


def test_unquoted_thousands_separator_is_explained():
    error = input_error(parse_holdings, "ticker,shares\nNVDA,1,000\n")
    assert_error(error, f"{SRC}, line 2", "wrong number of fields", "thousands", "write 1000")


def test_malformed_quotes():
    error = input_error(parse_holdings, 'ticker,shares\nNVDA,"1\n')
    assert_error(error, f"{SRC}, line 2", "malformed csv", "quote")


def test_empty_ticker():
    error = input_error(parse_holdings, "ticker,shares\nNVDA,1\n  ,5\n")
    assert_error(error, f"{SRC}, line 3", "empty ticker", "fill in the ticker")


def test_ticker_with_space():
    error = input_error(parse_holdings, "ticker,shares\nNVDA AMD,5\n")
    assert_error(error, f"{SRC}, line 2", "'NVDA AMD'", "space", "one ticker per line")


def test_duplicate_ticker_names_both_lines():
    error = input_error(parse_holdings, "ticker,shares\nNVDA,1\n\nAMD,2\nnvda ,3\n")
    assert_error(error, f"{SRC}, line 5", "duplicate ticker 'NVDA'", "line 2", "lines 2 and 5")


def test_duplicate_cash_is_an_error_not_a_sum():
    error = input_error(parse_holdings, "ticker,shares\nCASH,1\nNVDA,1\ncash,2\n")
    assert_error(error, f"{SRC}, line 4", "duplicate cash row", "line 2", "lines 2 and 4")


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("abc", "such as 1000"),
        ('"1,000"', "'1000' without thousands"),
        ('"12,5"', "'12.5' with a decimal point"),
        ("100 shares", "such as 1000"),
        ("25%", "such as 1000"),
    ],
)
def test_non_numeric_shares(value, hint):
    error = input_error(parse_holdings, f"ticker,shares\nNVDA,{value}\n")
    assert_error(error, f"{SRC}, line 2", "share count", "for NVDA is not a number", hint)


def test_non_numeric_cash_with_currency_sign():
    error = input_error(parse_holdings, 'ticker,shares\nCASH,"$5,000"\n')
    assert_error(error, f"{SRC}, line 2", "cash amount", "not a number", "'5000'")


def test_empty_share_count():
    error = input_error(parse_holdings, "ticker,shares\nNVDA,\n")
    assert_error(error, f"{SRC}, line 2", "missing share count for NVDA")


def test_negative_shares():
    error = input_error(parse_holdings, "ticker,shares\nNVDA,1\nAMD,-5\n")
    assert_error(error, f"{SRC}, line 3", "negative share count '-5' for AMD", "short")


def test_negative_cash():
    error = input_error(parse_holdings, "ticker,shares\nNVDA,1\nCASH,-100\n")
    assert_error(error, f"{SRC}, line 3", "negative cash", ">= 0", "CASH,5000")


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity"])
def test_nan_and_inf_shares(value):
    error = input_error(parse_holdings, f"ticker,shares\nNVDA,{value}\n")
    assert_error(error, f"{SRC}, line 2", "not a finite number", "nan and infinity")


def test_nan_cash():
    error = input_error(parse_holdings, "ticker,shares\nCASH,nan\n")
    assert_error(error, f"{SRC}, line 2", "cash amount", "not a finite number")


def test_unknown_ticker_did_you_mean():
    error = input_error(parse_holdings, "ticker,shares\nAMD,1\nnvdaa,3\n", known_tickers=UNIVERSE)
    assert_error(
        error,
        f"{SRC}, line 3",
        "unknown ticker 'NVDAA'",
        "not in the configured universe",
        "did you mean 'NVDA'",
        "Known: 9984.T, AMD, AMZN, AVGO",
    )


def test_unknown_ticker_without_close_match_lists_known():
    error = input_error(parse_holdings, "ticker,shares\nXYZQ,3\n", known_tickers=["NVDA", "AMD"])
    assert "did you mean" not in error.message
    assert_error(error, f"{SRC}, line 2", "unknown ticker 'XYZQ'", "Known: AMD, NVDA", "config")


def test_unknown_ticker_list_is_truncated_for_large_universes():
    universe = [f"T{i:03d}" for i in range(50)]
    error = input_error(parse_holdings, "ticker,shares\nNVDA,1\n", known_tickers=universe)
    assert "(30 more)" in error.message
    assert "T049" not in error.message


def test_read_holdings_error_names_the_path_and_line(tmp_path):
    path = tmp_path / "holdings.csv"
    path.write_text("# header below\nticker,shares\nNVDA,abc\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_holdings(path)
    assert info.value.where == f"{path}, line 3"


# ---------------------------------------------------------------------------------------------
# Target weights
# ---------------------------------------------------------------------------------------------


def test_target_weights_with_cash_summing_to_one():
    weights = parse_target_weights("ticker,weight\nNVDA,0.5\nCASH,0.2\nAMD,0.3\n")
    assert list(weights) == ["NVDA", "CASH", "AMD"]
    assert weights == {"NVDA": 0.5, "CASH": 0.2, "AMD": 0.3}


def test_target_weights_remainder_becomes_explicit_cash():
    weights = parse_target_weights("ticker,weight\nNVDA,0.5\nAMD,0.25\n")
    assert list(weights) == ["NVDA", "AMD", "CASH"]
    assert weights["CASH"] == pytest.approx(0.25)
    assert math.fsum(weights.values()) == pytest.approx(1.0, abs=1e-12)


def test_target_weights_summing_to_one_get_zero_cash():
    weights = parse_target_weights("ticker,weight\nNVDA,0.7\nAMD,0.2\nORCL,0.1\n")
    assert weights["CASH"] == 0.0


def test_target_weights_within_tolerance_of_one_are_accepted():
    weights = parse_target_weights("ticker,weight\nNVDA,0.6000005\nCASH,0.4\n")
    assert weights["NVDA"] == 0.6000005
    weights = parse_target_weights("ticker,weight\nNVDA,0.6000005\nAMD,0.4\n")
    assert weights["CASH"] == 0.0


def test_target_weights_percent_strings_are_converted():
    weights = parse_target_weights("Weight , TICKER\n25%,nvda\n 50 % ,AMD\n20%,CASH\n5%,ORCL\n")
    assert weights == pytest.approx({"NVDA": 0.25, "AMD": 0.5, "CASH": 0.2, "ORCL": 0.05})


def test_target_weights_explicit_percent_and_fraction_may_mix():
    weights = parse_target_weights("ticker,weight\nNVDA,25%\nAMD,0.25\n")
    assert weights == pytest.approx({"NVDA": 0.25, "AMD": 0.25, "CASH": 0.5})


def test_target_weights_immutable_and_bom_crlf(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("\ufeff# c\r\nticker,weight,note\r\nNVDA,0.4,x\r\n".encode())
    weights = read_target_weights(path, known_tickers=["nvda"])
    assert weights == pytest.approx({"NVDA": 0.4, "CASH": 0.6})
    with pytest.raises(TypeError):
        weights["NVDA"] = 0.1  # type: ignore[index]


def test_target_weights_missing_file(tmp_path):
    path = tmp_path / "missing.csv"
    with pytest.raises(InputError) as info:
        read_target_weights(path)
    assert_error(info.value, str(path), "target weights file not found")


def test_target_weights_that_look_like_percents():
    error = input_error(parse_target_weights, "ticker,weight\nNVDA,40\nAMD,35\nCASH,25\n")
    assert_error(error, SRC, "look like percents", "sum to 100", "0.25", "25%")


def test_target_weights_that_look_like_percents_without_cash():
    error = input_error(parse_target_weights, "ticker,weight\nNVDA,60\nAMD,39.5\n")
    assert_error(error, SRC, "look like percents", "99.5")


def test_target_weight_above_one_hints_at_percent():
    error = input_error(parse_target_weights, "ticker,weight\nNVDA,0.2\nAMD,15\n")
    assert_error(error, f"{SRC}, line 3", "weight 15 for AMD is above 100 %", "0.15 or 15%")


def test_target_weight_percent_above_hundred():
    error = input_error(parse_target_weights, "ticker,weight\nNVDA,150%\n")
    assert_error(error, f"{SRC}, line 2", "weight 150% for NVDA", "between 0 and 1")


def test_negative_target_weight():
    error = input_error(parse_target_weights, "ticker,weight\nNVDA,0.5\nAMD,-0.1\n")
    assert_error(error, f"{SRC}, line 3", "negative weight -0.1 for AMD", "short")


@pytest.mark.parametrize("value", ["nan", "inf", "nan%"])
def test_non_finite_target_weight(value):
    error = input_error(parse_target_weights, f"ticker,weight\nNVDA,{value}\n")
    assert_error(error, f"{SRC}, line 2", "not a finite number")


@pytest.mark.parametrize(("value", "hint"), [("abc", "0.25 or 25%"), ('"0,25"', "'0.25'")])
def test_non_numeric_target_weight(value, hint):
    error = input_error(parse_target_weights, f"ticker,weight\nNVDA,{value}\n")
    assert_error(error, f"{SRC}, line 2", "weight", "not a number", hint)


def test_target_weights_sum_above_one_without_cash():
    error = input_error(parse_target_weights, "ticker,weight\nNVDA,0.6\nAMD,0.5\n")
    assert_error(error, SRC, "sum to 1.1", "at most 1", "reduce the weights by 0.1")


def test_target_weights_with_cash_must_sum_to_exactly_one():
    error = input_error(parse_target_weights, "ticker,weight\nNVDA,0.6\nAMD,0.3\nCASH,0.05\n")
    assert_error(error, SRC, "sum to 0.95, not 1", "including cash", "set CASH to 0.1")
    error = input_error(parse_target_weights, "ticker,weight\nNVDA,0.6\nAMD,0.3\nCASH,0.2\n")
    assert_error(error, SRC, "sum to 1.1, not 1", "set CASH to 0.1")


def test_target_weights_header_only():
    error = input_error(parse_target_weights, "ticker,weight\n")
    assert_error(error, SRC, "no target weights")


def test_target_weights_empty_file():
    error = input_error(parse_target_weights, "# nothing\n")
    assert_error(error, SRC, "empty file", "ticker,weight")


def test_target_weights_missing_weight_column():
    error = input_error(parse_target_weights, "ticker,weights\nNVDA,0.5\n")
    assert_error(error, f"{SRC}, line 1", "missing 'weight' column", "rename 'weights'")


def test_target_weights_shares_header_is_rejected():
    error = input_error(parse_target_weights, "ticker,shares\nNVDA,0.5\n")
    assert_error(error, f"{SRC}, line 1", "missing 'weight' column", "ticker,weight")


def test_target_weights_wrong_field_count():
    error = input_error(parse_target_weights, "ticker,weight\nNVDA,0.5,1\n")
    assert_error(error, f"{SRC}, line 2", "wrong number of fields")


def test_target_weights_duplicate_ticker_and_cash():
    error = input_error(parse_target_weights, "ticker,weight\nNVDA,0.1\nNVDA,0.2\n")
    assert_error(error, f"{SRC}, line 3", "duplicate ticker 'NVDA'", "line 2")
    error = input_error(parse_target_weights, "ticker,weight\nCASH,0.1\nCash,0.2\n")
    assert_error(error, f"{SRC}, line 3", "duplicate cash row", "line 2")


def test_target_weights_empty_ticker():
    error = input_error(parse_target_weights, "ticker,weight\n,0.2\n")
    assert_error(error, f"{SRC}, line 2", "empty ticker")


def test_target_weights_unknown_ticker():
    error = input_error(parse_target_weights, "ticker,weight\nGOOG,0.2\n", known_tickers=UNIVERSE)
    assert_error(error, f"{SRC}, line 2", "unknown ticker 'GOOG'", "did you mean 'GOOGL'")


# ---------------------------------------------------------------------------------------------
# Example files
# ---------------------------------------------------------------------------------------------

# Approximate prices on 2026-07-31 in USD (9984.T: 5260 JPY ~ 35 USD), used to size the example.
EXAMPLE_PRICES = {
    "NVDA": 180.0,
    "CRWV": 71.8,
    "AMD": 476.0,
    "ORCL": 130.0,
    "AVGO": 300.0,
    "MSFT": 500.0,
    "9984.T": 35.0,
}


def test_example_holdings_parse_and_breach_the_article_limits():
    holdings = read_holdings(EXAMPLES / "holdings.csv", known_tickers=UNIVERSE)
    assert set(holdings.tickers()) <= set(EXAMPLE_PRICES)
    assert all(count == int(count) for count in holdings.shares.values()), "whole shares"
    values = {t: count * EXAMPLE_PRICES[t] for t, count in holdings.shares.items()}
    total = math.fsum(values.values()) + holdings.cash
    assert 250_000 <= total <= 400_000
    weight = {t: v / total for t, v in values.items()}
    assert 0.35 <= weight["NVDA"] <= 0.40
    assert weight["CRWV"] > 0.15
    assert max(weight.values()) > 0.20  # per-name cap breached
    assert weight["NVDA"] + weight["AMD"] + weight["AVGO"] > 0.40  # semiconductor group
    assert 0.0 < holdings.cash / total < 0.05  # cash floor breached


def test_example_target_weights_parse_and_are_diversified():
    weights = read_target_weights(EXAMPLES / "target_weights.csv", known_tickers=UNIVERSE)
    assert set(weights) == {*UNIVERSE, CASH}
    assert weights[CASH] == pytest.approx(0.05)
    assert math.fsum(weights.values()) == pytest.approx(1.0, abs=1e-9)
    assert max(w for t, w in weights.items() if t != CASH) <= 0.15
    assert min(weights.values()) > 0.0
