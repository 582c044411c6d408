"""Monte Carlo loss distribution: the stationary block bootstrap against its known moments."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from portfolio.analytics.backcast import backcast_returns
from portfolio.analytics.bootstrap import loss_distribution, stationary_bootstrap
from portfolio.data.holdings import read_holdings
from portfolio.errors import InputError
from portfolio.jobs.market import DataOptions
from portfolio.jobs.risk import risk_context, risk_report

EXAMPLE = Path(__file__).parents[1] / "examples" / "holdings.csv"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(11)
    days = pd.bdate_range("2010-01-01", periods=3000)
    return pd.Series(rng.standard_t(4, len(days)) * 0.012 + 0.0004, index=days)


def test_bootstrap_draws_have_the_sample_mean_and_variance(sample):
    values = sample.to_numpy()
    index = stationary_bootstrap(values, 252, 2000, 21.0, np.random.default_rng(0))
    drawn = values[index]
    # every drawn day is uniform over the sample: its mean and variance (ddof 0)
    assert drawn.mean() == pytest.approx(values.mean(), abs=3e-5)
    assert drawn.var() == pytest.approx(values.var(), rel=0.03)
    # blocks: a day continues the previous one with probability 1 - 1/21
    continued = np.mean((index[:, 1:] - index[:, :-1]) % len(values) == 1)
    assert continued == pytest.approx(1 - 1 / 21, abs=0.003)


def test_same_seed_same_numbers_other_seed_other_numbers(sample):
    first = loss_distribution(sample, 21, paths=2000, seed=5)
    again = loss_distribution(sample, 21, paths=2000, seed=5)
    other = loss_distribution(sample, 21, paths=2000, seed=6)
    np.testing.assert_array_equal(first.terminal, again.terminal)
    assert dict(first.loss_probability) == dict(again.loss_probability)
    assert not np.array_equal(first.terminal, other.terminal)


def test_iid_bootstrap_mean_return_compounds_the_sample_mean(sample):
    # mean_block = 1: independent days, so E[prod(1 + r)] = (1 + mean)^h exactly
    result = loss_distribution(sample, 21, paths=20_000, mean_block=1.0, seed=1,
                               drift="sample")
    expected = (1 + sample.mean()) ** 21 - 1
    standard_error = result.terminal.std() / np.sqrt(result.paths)
    assert abs(result.expected_return - expected) < 4 * standard_error
    assert result.sample_mean == pytest.approx(252 * sample.mean())
    assert result.sample_volatility == pytest.approx(np.sqrt(252) * sample.std(ddof=0))


def test_zero_drift_demeans_and_the_figures_follow_from_the_paths(sample):
    result = loss_distribution(sample, 63, paths=3000, seed=2)
    growth_mean = ((1 + sample - sample.mean()).mean())
    assert growth_mean == pytest.approx(1.0)
    for level, p in result.loss_probability.items():
        assert p == pytest.approx(np.mean(result.terminal <= -level))
    for level, p in result.drawdown_probability.items():
        assert p == pytest.approx(np.mean(result.drawdowns >= level))
    assert result.drawdown_quantiles[0.95] == pytest.approx(np.quantile(result.drawdowns, 0.95))
    # the worst drawdown is at least the loss at the end, never negative
    assert (result.drawdowns >= np.maximum(-result.terminal, 0) - 1e-12).all()
    assert (result.drawdowns >= 0).all()
    assert 0 < result.loss_probability[0.10] < 1


def test_drawdowns_and_returns_equal_a_loop_over_the_same_draws(sample):
    result = loss_distribution(sample, 30, paths=200, mean_block=5.0, seed=9, drift="sample")
    values = sample.to_numpy()
    index = stationary_bootstrap(values, 30, 200, 5.0, np.random.default_rng(9))
    for path, terminal, drawdown in zip(index, result.terminal, result.drawdowns):
        value, peak, worst = 1.0, 1.0, 0.0
        for day in path:
            value *= 1.0 + values[day]
            peak = max(peak, value)
            worst = max(worst, 1.0 - value / peak)
        assert terminal == pytest.approx(value - 1.0, rel=1e-12)
        assert drawdown == pytest.approx(worst, abs=1e-12)


def test_bad_settings_are_input_errors(sample):
    for kwargs in ({"paths": 0}, {"mean_block": 0.5}, {"drift": "up"}):
        with pytest.raises(InputError):
            loss_distribution(sample, 21, **kwargs)
    with pytest.raises(InputError, match="daily_returns"):
        loss_distribution(sample.iloc[:30], 21)


def test_risk_report_horizon_bootstraps_the_history_backcast():
    context = risk_context(options=DataOptions(source="bundled", offline=True))
    report = risk_report(read_holdings(EXAMPLE), context=context, horizon="1m", paths=500,
                         seed=3)
    result = report.loss_distribution
    backcast, _ = backcast_returns(report.weights, context.history)
    assert result.horizon_days == 21 and result.paths == 500 and result.drift == "zero"
    assert result.sample_days == len(backcast) and result.sample_start == backcast.index[0]
    direct = loss_distribution(backcast, 21, paths=500, seed=3)
    np.testing.assert_array_equal(direct.terminal, result.terminal)
    assert risk_report(read_holdings(EXAMPLE), context=context).loss_distribution is None


def test_cli_risk_horizon_in_every_format_and_a_plot(capsys, tmp_path):
    from cli.main import main

    def run(*args):
        with pytest.raises(SystemExit) as done:
            main(["risk", "--holdings", str(EXAMPLE), "--offline", "--quiet", "--paths", "500",
                  *args])
        return done.value.code, capsys.readouterr()

    code, out = run("--horizon", "1y", "--format", "json")
    assert code == 0
    data = json.loads(out.out)["loss_distribution"]
    assert data["horizon"] == "1y" and data["horizon_days"] == 252 and data["paths"] == 500
    assert set(data["loss_probability"]) == {"10%", "25%", "50%"}
    for fmt in ("table", "markdown"):
        code, out = run("--horizon", "1y", "--format", fmt)
        assert code == 0 and "Loss distribution over 1y" in out.out
    code, out = run("--horizon", "1y", "--format", "csv", "--table",
                    "loss-distribution-over-1y-monte-carlo")
    assert code == 0 and "P(loss >= 25% at the end of 1y)" in out.out
    plot = tmp_path / "loss.png"
    code, out = run("--horizon", "1m", "--plot", str(plot))
    assert code == 0 and plot.read_bytes().startswith(PNG_MAGIC)
    code, out = run("--horizon", "2x")
    assert code == 2 and out.out == ""
    assert out.err.startswith("Error: invalid horizon '2x' (--horizon)")
    assert len(out.err.strip().splitlines()) == 1
