"""VaR that is checked: Kupiec and Christoffersen against hand computations, rolling VaR
against a loop, a mis-specified VaR rejected and a correct one not (fixed seeds)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from portfolio.analytics.backcast import backcast_returns
from portfolio.analytics.var_backtest import (
    chi2_sf_1,
    christoffersen_independence,
    kupiec_pof,
    rolling_var,
    var_backtest,
)
from portfolio.data.holdings import read_holdings
from portfolio.errors import InputError
from portfolio.jobs.market import DataOptions
from portfolio.jobs.risk import risk_context, risk_report

EXAMPLE = Path(__file__).parents[1] / "examples" / "holdings.csv"

# A small known sequence: 3 exceedances in 10 days, two of them back to back.
HITS = [0, 0, 1, 0, 0, 0, 1, 1, 0, 0]


def test_kupiec_by_hand():
    # x = 3, n = 10, p = 0.05:
    # LR = -2 [7 ln 0.95 + 3 ln 0.05 - 7 ln 0.7 - 3 ln 0.3]
    expected = -2.0 * (7 * math.log(0.95) + 3 * math.log(0.05)
                       - 7 * math.log(0.7) - 3 * math.log(0.3))
    statistic, p = kupiec_pof(3, 10, 0.05)
    assert statistic == pytest.approx(expected, rel=1e-12)
    assert statistic == pytest.approx(6.4752, abs=1e-4)
    assert p == pytest.approx(0.010939, abs=1e-6)  # chi-squared(1) tail of 6.4752
    # no exceedance: LR = -2 n ln(1 - p)
    assert kupiec_pof(0, 100, 0.01)[0] == pytest.approx(-200 * math.log(0.99))
    assert kupiec_pof(5, 100, 0.05) == (0.0, 1.0)  # exactly the expected rate


def test_chi_squared_one_tail_matches_scipy():
    from scipy.stats import chi2

    for statistic in (0.0, 0.5, 3.841458820694124, 6.634896601021214, 20.0):
        assert chi2_sf_1(statistic) == pytest.approx(chi2.sf(statistic, 1), rel=1e-10)


def test_christoffersen_by_hand():
    # transitions of HITS: 00 x4 (0-1, 3-4, 4-5, 8-9), 01 x2, 10 x2, 11 x1
    n00, n01, n10, n11 = 4, 2, 2, 1
    pi01, pi11, pi = n01 / (n00 + n01), n11 / (n10 + n11), (n01 + n11) / 9
    null = (n00 + n10) * math.log(1 - pi) + (n01 + n11) * math.log(pi)
    alternative = (n00 * math.log(1 - pi01) + n01 * math.log(pi01)
                   + n10 * math.log(1 - pi11) + n11 * math.log(pi11))
    statistic, p = christoffersen_independence(np.array(HITS, dtype=bool))
    assert statistic == pytest.approx(-2 * (null - alternative), rel=1e-12)
    assert p == pytest.approx(math.erfc(math.sqrt(statistic / 2)), rel=1e-12)
    # never two in a row: n11 = 0 (0 ln 0 = 0)
    spaced = [0, 1, 0, 0, 1, 0, 0, 0, 1, 0]
    statistic, _ = christoffersen_independence(np.array(spaced, dtype=bool))
    n00, n01, n10 = 3, 3, 3
    pi01, pi = n01 / (n00 + n01), 3 / 9
    expected = -2 * ((n00 + n10) * math.log(1 - pi) + 3 * math.log(pi)
                     - n00 * math.log(1 - pi01) - n01 * math.log(pi01))
    assert statistic == pytest.approx(expected, rel=1e-12)
    assert all(math.isnan(v) for v in christoffersen_independence(np.zeros(10, dtype=bool)))


def test_rolling_var_equals_a_loop():
    rng = np.random.default_rng(3)
    returns = pd.Series(rng.standard_t(4, 80) * 0.01, index=pd.bdate_range("2024-01-01",
                                                                         periods=80))
    window = 30
    historical = rolling_var(returns, window, 0.95, "historical")
    parametric = rolling_var(returns, window, 0.99, "parametric")
    assert historical.index[0] == returns.index[window]
    for i, date in enumerate(returns.index[window:], start=window):
        past = returns.iloc[i - window:i].to_numpy()
        assert historical[date] == pytest.approx(-np.quantile(past, 0.05), rel=1e-12)
        assert parametric[date] == pytest.approx(
            NormalDist().inv_cdf(0.99) * past.std(ddof=1), rel=1e-10)


def test_backtest_counts_exceedances_of_the_day_before_estimate():
    returns = pd.Series([0.01, -0.01] * 20 + [-0.05, 0.0, -0.05], dtype=float)
    result = var_backtest(returns, window=20, confidences=(0.95,), methods=("historical",))
    row = result.rows[0]
    # every tested day before the crashes is +-1 %, never below the -1 % VaR; the two
    # -5 % days are exceedances (the VaR estimated before each was at most 5 %)
    assert row.days == len(returns) - 20
    assert row.exceedances == 2
    assert row.expected == pytest.approx(0.05 * row.days)


def test_a_correct_var_is_not_rejected_and_a_misspecified_one_is():
    rng = np.random.default_rng(2024)
    returns = pd.Series(rng.normal(0.0, 0.01, 4000))
    correct = var_backtest(returns, window=500)
    for row in correct.rows:
        assert row.kupiec_p > 0.05 and row.christoffersen_p > 0.05, row
        assert row.verdict == "not rejected"
    # fat tails: the normal VaR is too small at 99 % (too many exceedances)
    fat = pd.Series(rng.standard_t(3, 4000) * 0.01)
    normal99 = var_backtest(fat, window=500).row("parametric", 0.99)
    assert normal99.exceedances > 1.5 * normal99.expected
    assert normal99.kupiec_p < 0.01 and normal99.verdict.startswith("rejected")


def test_clustered_exceedances_are_rejected_by_christoffersen():
    rng = np.random.default_rng(7)
    # calm and stormy regimes of 50 days: the rolling VaR lags, exceedances bunch together
    scale = np.repeat(rng.choice([0.005, 0.03], size=80), 50)
    returns = pd.Series(rng.normal(0.0, 1.0, len(scale)) * scale)
    row = var_backtest(returns, window=250).row("historical", 0.95)
    assert row.christoffersen_p < 0.001
    assert "clustered" in row.verdict


def test_bad_inputs():
    with pytest.raises(InputError, match="too little history"):
        var_backtest(pd.Series(np.zeros(30)), window=50)
    with pytest.raises(InputError, match="Kupiec"):
        kupiec_pof(5, 3, 0.05)


# --------------------------------------------------------------------------- risk report


@pytest.fixture(scope="module")
def context():
    return risk_context(options=DataOptions(source="bundled", offline=True))


def test_risk_report_backtests_todays_weights_over_the_whole_history(context):
    report = risk_report(read_holdings(EXAMPLE), context=context)
    checked = report.var_backtest
    backcast, _ = backcast_returns(report.weights, context.history)
    assert checked.window == len(context.daily) == 756
    assert backcast.index[0] < pd.Timestamp("1999-02-01")  # the 1999 history is used
    assert checked.start == backcast.index[756] and checked.end == pd.Timestamp("2026-07-31")
    again = var_backtest(backcast, 756)
    assert again == checked
    assert {(r.method, r.confidence) for r in checked.rows} == {
        ("historical", 0.95), ("historical", 0.99), ("parametric", 0.95), ("parametric", 0.99)}
    assert any("CRWV before 2025-03-31" in note for note in report.history_notes)  # 1st return


def test_var_backtest_in_every_cli_format(capsys):
    from cli.main import main

    def run(fmt, *extra):
        with pytest.raises(SystemExit) as done:
            main(["risk", "--holdings", str(EXAMPLE), "--offline", "--quiet", "--format", fmt,
                  *extra])
        assert done.value.code == 0
        return capsys.readouterr().out

    data = json.loads(run("json"))["var_backtest"]
    assert data["window"] == 756 and len(data["rows"]) == 4
    row = next(r for r in data["rows"] if r["method"] == "historical" and r["confidence"] == 0.99)
    assert {"exceedances", "expected", "kupiec_lr", "kupiec_p", "christoffersen_lr",
            "christoffersen_p", "verdict"} <= set(row)
    for fmt in ("table", "markdown"):
        out = run(fmt)
        assert "VaR backtest" in out and "Kupiec" in out and "Christoffersen" in out
        assert str(row["exceedances"]) in out
    csv_rows = run("csv", "--table", "var-backtest-out-of-sample").splitlines()
    assert csv_rows[0].startswith("method,confidence,days,exceedances") and len(csv_rows) == 5
    assert any(line.startswith("historical,0.99,") for line in csv_rows)
