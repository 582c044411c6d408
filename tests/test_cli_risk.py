"""Tests of ``portfolio risk``: output formats and one-line errors for bad holdings.

Most cases call ``cli.main.main`` in-process (capturing stdout/stderr); two run the
installed entry point in a subprocess end to end. Prices: the bundled dataset (no network).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import assert_one_line_error, run

ROOT = Path(__file__).resolve().parents[1]
HOLDINGS = ROOT / "examples" / "holdings.csv"
WEIGHTS = ROOT / "examples" / "target_weights.csv"
BUNDLED = ("--offline", "--data-source", "bundled")
REQUIRED_KEYS = {"volatility", "risk_contributions", "risk_contributions_pct", "group_risk",
                 "var", "cvar", "max_drawdown", "beta", "tracking_error", "concentration",
                 "limits", "exposure", "correlation", "weights", "as_of", "data_source",
                 "warnings"}


def test_json_output_has_required_keys_and_contributions_sum(capsys):
    code, out, err = run(capsys, "risk", "--holdings", str(HOLDINGS), *BUNDLED,
                         "--format", "json")
    assert code == 0
    data = json.loads(out)  # stdout holds the JSON object and nothing else
    assert REQUIRED_KEYS <= set(data)
    assert abs(sum(data["risk_contributions"].values()) - data["volatility"]) <= 1e-10
    assert abs(sum(data["risk_contributions_pct"].values()) - 1.0) <= 1e-10
    nvda = next(row for row in data["limits"] if row["name"] == "max_weight[NVDA]")
    assert nvda["ok"] is False and nvda["limit"] == 0.2
    assert set(nvda) == {"name", "value", "limit", "sense", "ok"}
    assert set(data["var"]) == {"parametric", "historical"}
    assert set(data["var"]["historical"]) == {"95%", "99%"}
    assert set(data["var"]["historical"]["99%"]) == {"1d", "10d"}
    assert data["var_usd"]["parametric"]["95%"]["1d"] == pytest.approx(
        data["var"]["parametric"]["95%"]["1d"] * data["value"]["total"], rel=1e-12
    )
    assert err.startswith("Data: bundled prices")


@pytest.mark.parametrize("fmt", ["markdown", "csv", "table"])
def test_other_formats_show_the_same_numbers(capsys, fmt):
    code, out, _ = run(capsys, "risk", "--holdings", str(HOLDINGS), *BUNDLED, "--format", fmt)
    assert code == 0
    if fmt == "markdown":
        assert out.startswith("# Portfolio risk")
        assert "## Limits" in out
        assert "| max_weight[NVDA] | 41.19 % | <= 20.00 % | BREACH |" in out
    elif fmt == "csv":
        rows = [row for row in csv.reader(io.StringIO(out)) if row]  # the main table
        assert rows[0] == ["ticker", "value (USD)", "weight", "risk contrib.", "% of risk",
                           "OpenAI exp.", "OpenAI contrib."]
        code, out, _ = run(capsys, "risk", "--holdings", str(HOLDINGS), *BUNDLED,
                           "--format", "csv", "--table", "limits")
        limits = [row for row in csv.reader(io.StringIO(out)) if row]
        nvda = next(row for row in limits if row[0] == "max_weight[NVDA]")
        assert float(nvda[1]) == pytest.approx(0.4119, abs=1e-4)
        assert nvda[2:] == ["0.2", "<=", "BREACH"]
    else:
        assert "Portfolio risk" in out and "BREACH" in out and "Value at risk" in out


def test_weights_file_and_output_file(capsys, tmp_path):
    target = tmp_path / "risk.json"
    code, out, err = run(capsys, "--offline", "risk", "--weights", str(WEIGHTS),
                         "--data-source", "bundled", "--format", "json", "--output", str(target))
    assert code == 0 and out == ""
    data = json.loads(target.read_text())
    assert data["weights"]["CASH"] == pytest.approx(0.05)
    assert "value" not in data
    assert abs(sum(data["risk_contributions"].values()) - data["volatility"]) <= 1e-10
    assert f"Wrote {target}" in err


def test_holdings_or_weights_is_required(capsys):
    code, out, err = run(capsys, "risk", *BUNDLED)
    assert_one_line_error(code, out, err, "--holdings", "--weights")


BAD_HOLDINGS = {
    "missing header": ("NVDA,650\nCASH,6000\n", ("missing", "line 1", "ticker,shares")),
    "missing column": ("ticker,amount\nNVDA,650\n", ("missing 'shares' column",)),
    "empty file": ("", ("empty",)),
    "duplicate ticker": ("ticker,shares\nNVDA,1\nAMD,2\nNVDA,3\n", ("duplicate", "line 4")),
    "non-numeric shares": ("ticker,shares\nNVDA,ten\n", ("not a number", "line 2")),
    "negative shares": ("ticker,shares\nNVDA,-5\n", ("negative", "line 2")),
    "unknown ticker": ("ticker,shares\nNVDAA,5\n", ("unknown ticker", "did you mean 'NVDA'",
                                                   "line 2")),
}


@pytest.mark.parametrize("case", sorted(BAD_HOLDINGS))
def test_bad_holdings_exit_2_with_one_line(capsys, tmp_path, case):
    text, words = BAD_HOLDINGS[case]
    path = tmp_path / "holdings.csv"
    path.write_text(text, encoding="utf-8")
    code, out, err = run(capsys, "risk", "--holdings", str(path), *BUNDLED)
    assert_one_line_error(code, out, err, str(path), *words)


def test_held_ticker_without_price_at_as_of_exits_2(capsys):
    code, out, err = run(capsys, "risk", "--holdings", str(HOLDINGS), *BUNDLED,
                         "--as-of", "2024-06-01")
    assert_one_line_error(code, out, err, "CRWV", "2024-05-31", str(HOLDINGS), "--as-of")


def test_held_ticker_with_too_short_a_history_exits_2(capsys):
    # CRWV listed 2025-03-28: priced on 2025-04-10 but with only 9 daily returns (< 20).
    code, out, err = run(capsys, "risk", "--holdings", str(HOLDINGS), *BUNDLED,
                         "--as-of", "2025-04-10")
    assert_one_line_error(code, out, err, "CRWV", "9 daily returns", "at least 20",
                          str(HOLDINGS), "--as-of", "weight of 0")
    assert "internal error" not in err


def test_bom_and_whitespace_are_accepted(capsys, tmp_path):
    path = tmp_path / "holdings.csv"
    path.write_bytes("\ufeff Ticker , Shares \r\n nvda , 10 \r\nCASH , 1000\r\n".encode())
    code, out, _ = run(capsys, "risk", "--holdings", str(path), *BUNDLED, "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert set(data["weights"]) == {"NVDA", "CASH"}
    assert data["value"]["positions"]["NVDA"] == pytest.approx(
        10 * data["value"]["prices"]["NVDA"]
    )


# --------------------------------------------------------------------------- end to end


def _portfolio(*args: str, cache_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PORTFOLIO_CACHE_DIR": str(cache_dir)}
    env.pop("PORTFOLIO_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "portfolio.cli.main", *args], cwd=cache_dir,
                          env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.slow
def test_end_to_end_json_offline(tmp_path):
    done = _portfolio("risk", "--holdings", str(ROOT / "examples" / "holdings.csv"), "--offline",
                      "--format", "json", cache_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert REQUIRED_KEYS <= set(data)
    assert abs(sum(data["risk_contributions"].values()) - data["volatility"]) <= 1e-10
    assert data["data_source"] == "bundled"  # an empty cache falls back to bundled offline


def test_end_to_end_bad_holdings(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("ticker,shares\nNVDA,1\nNVDA,2\n")
    done = _portfolio("risk", "--holdings", str(path), "--offline", cache_dir=tmp_path)
    assert_one_line_error(done.returncode, done.stdout, done.stderr, "duplicate", "line 3")
