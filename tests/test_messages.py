"""The smaller points of issue 16: messages that name config keys and show plain numbers,
the ecosystem path hint, and tickers normalised once wherever they enter.
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib

import numpy as np
import pandas as pd
import pytest
from cli_helpers import assert_one_line_error, run

from portfolio.backtesting.spec import parse_backtest
from portfolio.config.parse import load_config, parse_config
from portfolio.config.paths import default_config_path
from portfolio.data.holdings import parse_holdings, parse_target_weights
from portfolio.errors import ConfigError, DataError, InputError, plain_numbers
from portfolio.estimate.inputs import MIN_USABLE_OBSERVATIONS, min_lookback_days, window_returns
from portfolio.estimate.returns import to_returns
from portfolio.weights import parse_weights


def _default_mapping() -> dict:
    return tomllib.loads(default_config_path().read_text())


# ------------------------------------------------------------------------- plain numbers
def test_price_errors_show_plain_numbers():
    prices = pd.DataFrame({"NVDA": [1.0, 0.0, 2.0]},
                          index=pd.date_range("2024-01-01", periods=3))
    with pytest.raises(DataError) as caught:
        to_returns(prices)
    assert "invalid price 0.0 (NVDA on 2024-01-02)" in caught.value.message
    assert "np." not in str(caught.value)


def test_numpy_scalars_in_any_message_are_written_plainly():
    with pytest.raises(InputError) as caught:
        parse_weights({"NVDA": np.float64(-0.5)})
    assert "invalid weight -0.5 for NVDA" in caught.value.message
    text = (f"{np.float64(0.0)!r} {np.int64(3)!r} {np.float32(1.5)!r} {np.str_('x')!r} "
            f"{np.True_!r} {np.float64(np.inf)!r}")
    assert plain_numbers(text) == "0.0 3 1.5 'x' True inf"
    assert InputError(f"got {np.float64(2.5)!r}", "w").message == "got 2.5 (w)."


# ------------------------------------------------------------- config keys in messages
@pytest.mark.parametrize("frequency", ["weekly", "monthly"])
def test_a_lookback_too_short_for_its_frequency_names_both_keys(frequency):
    data = _default_mapping()
    data["risk"].update(frequency=frequency, lookback_days=min_lookback_days(frequency) - 1)
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "my.toml")
    message = caught.value.message
    assert "(my.toml, key risk.lookback_days)" in message
    assert "risk.frequency" in message
    assert f"at least {min_lookback_days(frequency)}" in message
    data["risk"]["lookback_days"] = min_lookback_days(frequency)
    parse_config(data, "my.toml")  # the minimum itself is accepted


@pytest.mark.parametrize("frequency", ["daily", "weekly", "monthly"])
def test_the_minimum_lookback_gives_enough_returns_on_real_prices(market, frequency):
    """Oracle: every window of the minimum length, ending anywhere, has >= 20 returns."""
    spy = market.prices[["SPY"]]
    days = min_lookback_days(frequency)
    counts = [window_returns(spy.iloc[:end], days, frequency)["SPY"].count()
              for end in range(days + 1, len(spy), 37)]
    assert min(counts) >= MIN_USABLE_OBSERVATIONS


def test_backtest_lookback_names_its_key_and_the_base_frequency(tmp_path):
    base = tmp_path / "base.toml"
    text = default_config_path().read_text().replace('frequency = "daily"',
                                                     'frequency = "monthly"')
    base.write_text(text.replace('lookback_days = 756', 'lookback_days = 504'))
    shutil.copy(default_config_path().parent / "ecosystem.toml", tmp_path / "ecosystem.toml")
    data = {"base_config": "base.toml", "lookback_days": 300,
            "strategies": [{"name": "EW", "kind": "equal_weight"}]}
    with pytest.raises(ConfigError) as caught:
        parse_backtest(data, "bt.toml", base_dir=tmp_path)
    assert "(bt.toml, key lookback_days)" in caught.value.message
    assert "risk.frequency of the base config" in caught.value.message


def test_too_little_history_points_at_the_lookback_keys(capsys):
    code, out, err = run(capsys, "optimize", "--offline", "--as-of", "1999-01-20")
    assert_one_line_error(code, out, err, "risk.lookback_days", "risk.frequency", "--as-of")
    assert "shorter" not in err


# ---------------------------------------------------------------- ecosystem path hint
def test_a_copied_config_without_its_deal_graph_names_the_key(capsys, tmp_path, monkeypatch):
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(default_config_path(), folder / "default.toml")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "--config", "mine/default.toml", "optimize", "--offline")
    assert_one_line_error(code, out, err, "ecosystem file not found", "key ecosystem.file",
                          "[ecosystem] file", "config file's folder", "portfolio init DIR")
    assert "start from the current folder" not in err
    shutil.copy(default_config_path().parent / "ecosystem.toml", folder / "ecosystem.toml")
    assert load_config(folder / "default.toml").ecosystem.file == folder / "ecosystem.toml"


# ---------------------------------------------------------------- tickers normalised once
def _lowercased(data: dict) -> dict:
    """The default config with every ticker written in lower case (keys and values)."""
    text = default_config_path().read_text()
    text = re.sub(r'"([A-Z0-9.]+)"', lambda m: f'"{m[1].lower()}"', text)
    for key in ("CRWV = ", "SMCI = "):
        text = text.replace(key, key.lower())
    return tomllib.loads(text)


def test_a_lower_case_config_is_the_same_config():
    data = _default_mapping()
    lower = _lowercased(data)
    assert lower["universe"]["tickers"][0] == "nvda"
    assert "crwv" in lower["limits"]["max_weight_overrides"]
    folder = default_config_path().parent
    assert (parse_config(lower, "c.toml", folder) == parse_config(data, "c.toml", folder))


def test_holdings_and_targets_meet_a_lower_case_universe(config):
    universe = [t.lower() for t in config.tickers]
    holdings = parse_holdings("ticker,shares\n nvda ,10\n9984.t,5\n", "h.csv", universe)
    assert tuple(holdings.shares) == ("NVDA", "9984.T")
    target = parse_target_weights("ticker,weight\nNvda,0.5\n", "t.csv", universe)
    assert dict(target) == {"NVDA": 0.5, "CASH": 0.5}
    assert list(parse_weights({" amd": 0.25}, universe=config.tickers).index) == ["AMD", "CASH"]


# ------------------------------------------------------------------ --output over an input
def _must_not_run(*args, **kwargs):
    raise AssertionError("the command did work before refusing its output")


@pytest.mark.parametrize(("args", "role"), [
    (["risk", "--holdings", "{h}", "--output", "{h}"], "--holdings"),
    (["stress", "--holdings", "{h}", "--output", "{h}"], "--holdings"),
    (["rebalance", "--holdings", "{h}", "--output", "{h}"], "--holdings"),
    (["rebalance", "--holdings", "{h}", "--check", "--output", "{h}"], "--holdings"),
    (["rebalance", "--holdings", "{h}", "--target", "{t}", "--output", "{t}"], "--target"),
    (["risk", "--weights", "{t}", "--output", "{t}"], "--weights"),
    (["--config", "{c}", "optimize", "--output", "{c}"], "--config"),
    (["--config", "{c}", "optimize", "--output", "{e}"], "[ecosystem] file"),
    (["frontier", "--holdings", "{h}", "--output", "{link}"], "--holdings"),
    (["data", "show", "--output", "{cache}"], "the price cache"),
])
def test_an_output_that_is_an_input_is_refused_before_any_work(tmp_path, capsys, monkeypatch,
                                                               args, role):
    import portfolio.jobs.frontier
    import portfolio.jobs.optimize
    import portfolio.jobs.rebalance
    import portfolio.jobs.risk
    import portfolio.jobs.stress

    for module, name in ((portfolio.jobs.risk, "risk_report"),
                         (portfolio.jobs.stress, "stress_test"),
                         (portfolio.jobs.rebalance, "rebalance"),
                         (portfolio.jobs.rebalance, "drift_check"),
                         (portfolio.jobs.optimize, "optimize_from_config"),
                         (portfolio.jobs.frontier, "frontier_from_config")):
        monkeypatch.setattr(module, name, _must_not_run)
    shutil.copy(default_config_path(), tmp_path / "c.toml")
    shutil.copy(default_config_path().parent / "ecosystem.toml", tmp_path / "ecosystem.toml")
    files = {"h": tmp_path / "h.csv", "t": tmp_path / "t.csv", "c": tmp_path / "c.toml",
             "e": tmp_path / "ecosystem.toml", "link": tmp_path / "link.csv",
             "cache": tmp_path / "cache" / "prices.sqlite"}
    files["h"].write_text("ticker,shares\nNVDA,10\nCASH,100\n")
    files["t"].write_text("ticker,weight\nNVDA,0.5\n")
    files["link"].symlink_to(files["h"])
    files["cache"].parent.mkdir()
    files["cache"].write_bytes(b"")
    before = {name: path.read_bytes() for name, path in files.items()}
    filled = [a.format(**files) for a in args]
    code, out, err = run(capsys, *filled, "--cache-dir", str(files["cache"].parent), "--offline")
    assert_one_line_error(code, out, err, "the output file is an input", role,
                          "write the output to another file")
    assert {name: path.read_bytes() for name, path in files.items()} == before


def test_a_lower_case_universe_meets_upper_case_holdings_on_the_command_line(tmp_path, capsys):
    """Issue 16: holdings failed with a "did you mean 'nvda'" that could not be followed."""
    text = re.sub(r'"([A-Z0-9.]+)"', lambda m: f'"{m[1].lower()}"',
                  default_config_path().read_text())
    (tmp_path / "lower.toml").write_text(text.replace("CRWV = ", "crwv = "))
    shutil.copy(default_config_path().parent / "ecosystem.toml", tmp_path / "ecosystem.toml")
    holdings = tmp_path / "h.csv"
    holdings.write_text("ticker,shares\nNVDA,10\n9984.T,100\nCASH,1000\n")
    code, out, err = run(capsys, "--config", str(tmp_path / "lower.toml"), "risk", "--holdings",
                         str(holdings), "--offline", "--format", "json")
    assert code == 0, err
    code, same, err = run(capsys, "risk", "--holdings", str(holdings), "--offline", "--format",
                          "json")
    assert json.loads(out)["weights"] == json.loads(same)["weights"]
