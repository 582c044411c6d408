"""``--format csv`` is one table programs can read: a header row and raw numbers.

For every command and every table it can write (``--table``), ``pandas.read_csv`` loads
the output, and no cell is a number formatted for display (``20.00 %``, ``130,487.50``,
``+95.5``, ``126 d``): percents are fractions, amounts plain numbers, flags in their own
column.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import run

from portfolio.report import render, section_names

ROOT = Path(__file__).resolve().parents[1]

DISPLAY_NUMBER = re.compile(
    r"^(<=|>=|<|>)?\s*[+\-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?\s*(%|d|bp|bps|x)?\s*\*?$")
"""A whole cell that is a number formatted for display (plain numbers are fine)."""

COMMANDS = {
    "optimize": ("optimize",),
    "optimize_capital": ("optimize", "--capital", "100000", "--objective", "max_sharpe"),
    "frontier": ("frontier", "--points", "5", "--holdings", "example"),
    "risk": ("risk", "--holdings", "example"),
    "stress": ("stress", "--holdings", "example"),
    "rebalance": ("rebalance", "--holdings", "example"),
    "rebalance_check": ("rebalance", "--holdings", "example", "--check"),
    "stress_given": ("stress", "--holdings", "example", "--given", "NVDA=-0.3"),
    "stress_reverse": ("stress", "--holdings", "example", "--reverse", "0.2"),
    "risk_horizon": ("risk", "--holdings", "example", "--horizon", "1m"),
    "data": ("data", "show"),
}


def _report(capsys, args):
    """The JSON of the command, to learn its table names through the report builder."""
    code, out, err = run(capsys, "--offline", *args, "--format", "csv")
    assert code in (0, 3), err
    return out


def _tables(capsys, args) -> list[str]:
    code, _, err = run(capsys, "--offline", *args, "--format", "csv", "--table", "?")
    assert code == 2 and "its tables are" in err
    return err.split("its tables are ")[1].split(".")[0].split(", ")


def _assert_machine_readable(text: str, where: str) -> None:
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    assert len(frame.columns) == len(set(frame.columns)), where
    for column in frame.columns:
        for value in frame[column]:
            assert not DISPLAY_NUMBER.match(value.strip()) or _plain(value), (
                where, column, value)


def _plain(value: str) -> bool:
    """A plain number (digits, sign, decimal point, exponent) is what CSV should hold."""
    return re.fullmatch(r"[+\-]?\d+(\.\d+)?(e[+\-]?\d+)?", value.strip()) is not None \
        and not value.startswith("+")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_table_of_every_command_is_machine_readable(capsys, name):
    args = COMMANDS[name]
    tables = _tables(capsys, args)
    assert tables
    for table in tables:
        code, out, err = run(capsys, "--offline", *args, "--format", "csv", "--table", table)
        assert code in (0, 3), err
        _assert_machine_readable(out, f"{name} --table {table}")
    default = _report(capsys, args)
    _, first, _ = run(capsys, "--offline", *args, "--format", "csv", "--table", tables[0])
    assert default == first  # the main table is the first


def test_percent_columns_hold_fractions(capsys):
    _, out, _ = run(capsys, "--offline", "optimize", "--format", "csv")
    frame = pd.read_csv(io.StringIO(out))
    assert frame["weight"].sum() == pytest.approx(0.95, abs=1e-9)  # 5 % cash not listed


def test_table_applies_to_csv_only(capsys):
    code, _, err = run(capsys, "--offline", "optimize", "--table", "limits")
    assert code == 2 and "--table applies to --format csv" in err


def test_section_names_are_slugs():
    from portfolio.report import Report, Section

    report = Report("t", (), (Section("Weights and why", ("a",), ()),
                              Section("Risk (annual)", ("a",), ())))
    assert section_names(report) == ("weights-and-why", "risk-annual")
    assert render(report, "csv", table="risk-annual") == "a\n"


def test_backtest_tables_are_machine_readable(capsys, tmp_path):
    base = ROOT / "config" / "default.toml"
    path = tmp_path / "short.toml"
    path.write_text(f'base_config = "{base.as_posix()}"\nstart = "2025-06-02"\n'
                    'end = "2026-07-31"\nlookback_days = 250\nrebalance = "quarterly"\n'
                    '[[strategies]]\nname = "Policy"\nkind = "policy"\n')
    args = ("backtest", str(path), "--output-dir", str(tmp_path / "out"))
    for table in _tables(capsys, args):
        code, out, err = run(capsys, "--offline", *args, "--format", "csv", "--table", table)
        assert code == 0, err
        _assert_machine_readable(out, f"backtest --table {table}")


def test_a_narrow_terminal_gets_narrow_tables_and_colour_only_on_request():
    from portfolio.report import Report, Section

    report = Report("Limits", ("Warning: something",), (Section(
        "Limits", ("limit", "value", "status"),
        (("group_cap[semiconductors]", "62.46 %", "BREACH"), ("cash_floor", "5.00 %", "ok")),
        "A note long enough to wrap on a narrow terminal, " * 3),))
    narrow = render(report, "table", 50)
    assert max(len(line) for line in narrow.splitlines()) <= 50
    assert "\x1b[" not in narrow  # no colour unless asked
    coloured = render(report, "table", 80, color=True)
    assert "\x1b[" in coloured and "BREACH" in coloured


def test_colour_follows_the_terminal_and_no_color(monkeypatch):
    from cli._common import use_color

    class Stream:
        def __init__(self, tty):
            self.tty = tty

        def isatty(self):
            return self.tty

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert use_color(Stream(True)) and not use_color(Stream(False))
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(Stream(True))
