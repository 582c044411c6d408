"""Tests of ``portfolio rebalance``: formats, --check exit codes, atomic --output, bad input.

Most cases call ``cli.main.main`` in-process (capturing stdout/stderr); the end-to-end
cases run ``python -m portfolio.cli.main`` (the installed package) in a subprocess.
Prices: the bundled dataset (no network).
Runs toward the config's optimizer take about 4 s; most cases use ``--target`` instead.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import assert_one_line_error, run

from portfolio.config.parse import load_config
from portfolio.jobs.market import DataOptions, market_data

ROOT = Path(__file__).resolve().parents[1]
HOLDINGS = ROOT / "examples" / "holdings.csv"
TARGET = ROOT / "examples" / "target_weights.csv"
BUNDLED = ("--offline", "--data-source", "bundled")
WITH_TARGET = ("rebalance", "--holdings", str(HOLDINGS), "--target", str(TARGET), *BUNDLED)

# A diversified allocation meeting every limit of the default config.
COMPLIANT = {"TSM": 0.19, "INTC": 0.06, "GOOGL": 0.19, "MSFT": 0.19, "AMZN": 0.05,
             "META": 0.19, "9984.T": 0.04}


@pytest.fixture(scope="module")
def closes():
    config = load_config()
    market = market_data(config, DataOptions(source="bundled", offline=True))
    return market.prices.loc[market.as_of]


@pytest.fixture
def compliant_file(tmp_path, closes):
    """Holdings worth about 1 million USD at the COMPLIANT weights, the rest in cash."""
    value = 1_000_000.0
    shares = {t: math.floor(w * value / closes[t]) for t, w in COMPLIANT.items()}
    cash = value - sum(s * closes[t] for t, s in shares.items())
    path = tmp_path / "compliant.csv"
    lines = ["ticker,shares", *(f"{t},{s}" for t, s in shares.items()), f"CASH,{cash:.2f}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- formats


def test_json_has_orders_before_after_turnover_and_cost(capsys):
    code, out, err = run(capsys, *WITH_TARGET, "--format", "json")
    assert code == 0
    data = json.loads(out)  # stdout holds the JSON object and nothing else
    assert {"orders", "before", "after", "turnover", "cost", "notes", "as_of",
            "data_source"} <= set(data)
    assert data["orders"], "the example holdings need orders"
    for order in data["orders"]:
        assert set(order) == {"ticker", "side", "shares", "price", "notional", "cost",
                              "realised_gain"}
        assert order["side"] in ("buy", "sell") and order["shares"] == int(order["shares"])
    assert data["cost"] == pytest.approx(sum(o["cost"] for o in data["orders"]), abs=1e-9)
    for side in ("before", "after"):
        assert {"weights", "limits", "volatility", "var", "risk_contributions",
                "exposure"} <= set(data[side])
    # the after shares are the before shares plus the orders
    after = dict(data["before"]["shares"])
    for order in data["orders"]:
        sign = 1 if order["side"] == "buy" else -1
        after[order["ticker"]] = after.get(order["ticker"], 0) + sign * order["shares"]
    assert {t: s for t, s in after.items() if s > 0} == data["after"]["shares"]
    assert err.startswith("Data: bundled prices")


def test_markdown_starts_with_a_summary_paragraph(capsys):
    code, out, _ = run(capsys, *WITH_TARGET, "--format", "markdown")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "# Rebalancing" and lines[1] == "" and lines[3] == ""
    summary = lines[2]
    assert not summary.startswith(("#", "|"))
    for words in ("7 positions worth", "limits are breached", "orders", "USD in fees",
                  "turnover", "target_weights.csv"):
        assert words in summary
    assert lines[4] == "## Orders"
    assert "| max_weight[NVDA] | <= 20.00 % | 41.19 % | BREACH |" in out


@pytest.mark.parametrize("fmt", ["csv", "table"])
def test_csv_and_table(capsys, fmt):
    code, out, _ = run(capsys, *WITH_TARGET, "--format", fmt)
    assert code == 0
    if fmt == "csv":
        rows = [row for row in csv.reader(io.StringIO(out)) if row]  # the orders
        assert rows[0] == ["ticker", "side", "shares", "price (USD)", "notional (USD)",
                           "cost (USD)", "realised gain (USD)"]
        code, out, _ = run(capsys, *WITH_TARGET, "--format", "csv", "--table", "limits")
        rows = [row for row in csv.reader(io.StringIO(out)) if row]
        assert any(row[0] == "max_weight[NVDA]" for row in rows)
    else:
        assert "Rebalancing" in out and "Orders" in out and "BREACH" in out


def test_fractional_orders(capsys):
    code, out, _ = run(capsys, *WITH_TARGET, "--fractional", "--format", "json")
    assert code == 0
    assert any(o["shares"] != int(o["shares"]) for o in json.loads(out)["orders"])


def test_default_target_is_the_optimizer(capsys):
    code, out, _ = run(capsys, "rebalance", "--holdings", str(HOLDINGS), *BUNDLED,
                       "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["objective"] == "group_risk_budget"  # the default config's objective
    assert data["before"]["breaches"] and not data["after"]["breaches"]


# --------------------------------------------------------------------------- --check


def test_check_exits_3_and_prints_the_breaches(capsys):
    code, out, _ = run(capsys, "rebalance", "--check", "--holdings", str(HOLDINGS), *BUNDLED)
    assert code == 3
    assert "6 of 22 limits breached" in out
    for name in ("max_weight[NVDA]", "max_weight[CRWV]", "cash_floor"):
        assert name in out


def test_check_json_exits_3(capsys):
    code, out, _ = run(capsys, "rebalance", "--check", "--holdings", str(HOLDINGS), *BUNDLED,
                       "--format", "json")
    assert code == 3
    data = json.loads(out)
    assert data["ok"] is False and len(data["breaches"]) == 6


def test_check_exits_0_when_all_limits_hold(capsys, compliant_file):
    code, out, _ = run(capsys, "rebalance", "--check", "--holdings", str(compliant_file),
                       *BUNDLED)
    assert code == 0
    assert "all 22 limits hold" in out


def test_check_rejects_target(capsys):
    code, out, err = run(capsys, "rebalance", "--check", "--holdings", str(HOLDINGS),
                         "--target", str(TARGET), *BUNDLED)
    assert_one_line_error(code, out, err, "--check takes no --target")


def test_holdings_is_required(capsys):
    code, out, err = run(capsys, "rebalance", *BUNDLED)
    assert_one_line_error(code, out, err, "--holdings")


# --------------------------------------------------------------------------- --output


def test_output_is_written_and_nothing_else_on_stdout(capsys, tmp_path):
    path = tmp_path / "orders.json"
    code, out, err = run(capsys, *WITH_TARGET, "--format", "json", "--output", str(path))
    assert code == 0 and out == ""
    assert json.loads(path.read_text())["orders"]
    assert f"Wrote {path}" in err
    assert [p.name for p in tmp_path.iterdir()] == ["orders.json"]


def _fail(*args, **kwargs):
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_a_failed_write_leaves_no_partial_file(capsys, tmp_path, monkeypatch, step):
    monkeypatch.setattr(os, step, _fail)
    path = tmp_path / "report.md"
    code, out, err = run(capsys, *WITH_TARGET, "--format", "markdown", "--output", str(path))
    assert code == 2 and out == "" and "Traceback" not in err
    *notices, last = err.strip().splitlines()
    assert len(notices) == 1 and notices[0].startswith("Data: bundled prices up to 2026-07-31")
    assert last.startswith("Error: cannot write output") and "No space left" in last
    assert list(tmp_path.iterdir()) == []  # neither the report nor a temporary file


def test_a_failed_write_keeps_the_previous_file(capsys, tmp_path, monkeypatch):
    path = tmp_path / "report.md"
    path.write_text("previous report\n")
    monkeypatch.setattr(os, "replace", _fail)
    code, _, _ = run(capsys, *WITH_TARGET, "--format", "markdown", "--output", str(path))
    assert code == 2
    assert path.read_text() == "previous report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


# --------------------------------------------------------------------------- bad input


BAD_TARGETS = {
    "sum not 1": ("ticker,weight\nNVDA,0.5\nMSFT,0.3\nCASH,0.1\n", ("sum to 0.9", "line")),
    "sum above 1": ("ticker,weight\nNVDA,0.7\nMSFT,0.4\n", ("more than 1",)),
    "unknown ticker": ("ticker,weight\nNVDAA,0.5\n", ("unknown ticker", "did you mean 'NVDA'",
                                                     "line 2")),
}


@pytest.mark.parametrize("case", sorted(BAD_TARGETS))
def test_bad_target_exits_2_without_output(capsys, tmp_path, case):
    text, words = BAD_TARGETS[case]
    target = tmp_path / "target.csv"
    target.write_text(text, encoding="utf-8")
    output = tmp_path / "out.json"
    code, out, err = run(capsys, "rebalance", "--holdings", str(HOLDINGS), "--target",
                         str(target), *BUNDLED, "--format", "json", "--output", str(output))
    assert_one_line_error(code, out, err, *[w for w in words if w != "line"])
    if "line" in words:
        assert str(target) in err
    assert not output.exists()


BAD_HOLDINGS = {
    "negative cash": ("ticker,shares\nNVDA,10\nCASH,-500\n", ("negative cash", "line 3")),
    "unknown ticker": ("ticker,shares\nTSLA,10\n", ("unknown ticker 'TSLA'", "line 2")),
    "non-numeric shares": ("ticker,shares\nNVDA,ten\n", ("not a number", "line 2")),
}


@pytest.mark.parametrize("check", [False, True], ids=["orders", "check"])
@pytest.mark.parametrize("case", sorted(BAD_HOLDINGS))
def test_bad_holdings_exit_2_without_output(capsys, tmp_path, case, check):
    text, words = BAD_HOLDINGS[case]
    holdings = tmp_path / "holdings.csv"
    holdings.write_text(text, encoding="utf-8")
    output = tmp_path / "out.md"
    args = ["rebalance", "--holdings", str(holdings), *BUNDLED, "--output", str(output)]
    args += ["--check"] if check else ["--target", str(TARGET)]
    code, out, err = run(capsys, *args)
    assert_one_line_error(code, out, err, str(holdings), *words)
    assert not output.exists()


@pytest.mark.parametrize("check", [False, True], ids=["orders", "check"])
def test_held_ticker_without_price_at_as_of_exits_2(capsys, tmp_path, check):
    output = tmp_path / "out.md"
    args = ["rebalance", "--holdings", str(HOLDINGS), *BUNDLED, "--as-of", "2024-06-01",
            "--output", str(output)]
    args += ["--check"] if check else ["--target", str(TARGET)]
    code, out, err = run(capsys, *args)
    assert_one_line_error(code, out, err, "no price for CRWV on 2024-05-31", str(HOLDINGS),
                          "--as-of")
    assert not output.exists()


def test_targeted_ticker_without_price_at_as_of_exits_2(capsys, tmp_path, compliant_file):
    target = tmp_path / "target.csv"
    target.write_text("ticker,weight\nCRWV,0.05\nMSFT,0.5\nCASH,0.45\n", encoding="utf-8")
    code, out, err = run(capsys, "rebalance", "--holdings", str(compliant_file), "--target",
                         str(target), *BUNDLED, "--as-of", "2024-06-01")
    assert_one_line_error(code, out, err, "no price for CRWV on 2024-05-31",
                          "target weight of 0")


# --------------------------------------------------------------------------- end to end


def _portfolio(*args: str, cache_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PORTFOLIO_CACHE_DIR": str(cache_dir)}
    env.pop("PORTFOLIO_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "portfolio.cli.main", *args], cwd=cache_dir,
                          env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_end_to_end_check_exit_code(tmp_path):
    done = _portfolio("rebalance", "--holdings", str(ROOT / "examples" / "holdings.csv"), "--check",
                      "--offline", "--format", "json", cache_dir=tmp_path)
    assert done.returncode == 3, done.stderr
    assert json.loads(done.stdout)["ok"] is False


@pytest.mark.slow
def test_end_to_end_markdown_to_file(tmp_path):
    path = tmp_path / "rebalance.md"
    done = _portfolio("rebalance", "--holdings", str(ROOT / "examples" / "holdings.csv"),
                      "--offline", "--format", "markdown", "--output", str(path),
                      cache_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    text = path.read_text()
    assert text.startswith("# Rebalancing\n\n") and "fix all 6 breaches" in text
