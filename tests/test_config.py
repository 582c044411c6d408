"""Configuration: the default loads; every bad input is a ConfigError naming file and key."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portfolio.config import COVARIANCE_METHODS
from portfolio.config.parse import load_config, parse_config
from portfolio.config.paths import default_config_path, packaged_config_path
from portfolio.config.schema import Config
from portfolio.data.bundled import BUNDLED_TICKERS
from portfolio.errors import ConfigError

BENCHMARKS = ("SPY", "QQQ", "SMH", "SOXX")

# A small valid config: every ticker is bundled, so the CLI tests can run it offline.
BASE_TOML = """\
[universe]
tickers = ["NVDA", "AMD", "MSFT", "GOOGL", "9984.T"]
benchmark = "SPY"

[groups]
chips = ["NVDA", "AMD"]
cloud = ["MSFT", "GOOGL"]
japan = ["9984.T"]

[limits]
max_weight = 0.30
cash_floor = 0.05

[limits.group_caps]
chips = 0.50
japan = 0.10

[risk]
method = "ledoit_wolf"
lookback_days = 252

[optimizer]
objective = "min_variance"

[[optimizer.views]]
asset = "NVDA"
return = 0.15
confidence = 0.5

[data]
start = "2020-01-01"
"""


@dataclasses.dataclass(frozen=True)
class BadConfig:
    """One bad edit of BASE_TOML and what its error message must contain."""

    name: str
    old: str
    new: str
    key: str  # the key named in the message ("" when the file itself is wrong)
    expected: tuple[str, ...]  # more fragments of the message (case-insensitive)

    def text(self) -> str:
        assert BASE_TOML.count(self.old) == 1, self.old
        return BASE_TOML.replace(self.old, self.new)

    def write(self, folder: Path) -> Path:
        path = folder / f"{self.name}.toml"
        path.write_text(self.text(), encoding="utf-8")
        return path


def _line_of(fragment: str) -> int:
    return BASE_TOML[: BASE_TOML.index(fragment)].count("\n") + 1


BAD_CONFIGS = (
    BadConfig("unknown_key", "max_weight = 0.30", "max_wieght = 0.30", "limits.max_wieght",
              ("unknown key", "did you mean 'max_weight'")),
    BadConfig("wrong_type", "max_weight = 0.30", 'max_weight = "30%"', "limits.max_weight",
              ("expected a fraction",)),
    BadConfig("negative_limit", "cash_floor = 0.05", "cash_floor = -0.05", "limits.cash_floor",
              ("must be >= 0",)),
    BadConfig("limit_above_one", "max_weight = 0.30", "max_weight = 25", "limits.max_weight",
              ("must be <= 1", "write 0.25 for 25 %")),
    BadConfig("group_ticker_outside_universe", 'chips = ["NVDA", "AMD"]',
              'chips = ["NVDA", "AMD", "INTC"]', "groups.chips",
              ("'INTC' is not in the universe",)),
    BadConfig("unknown_group_cap", "japan = 0.10", "japn = 0.10", "limits.group_caps.japn",
              ("unknown group 'japn'", "did you mean 'japan'")),
    BadConfig("malformed_toml", "cash_floor = 0.05", "cash_floor = 0.05 = 0.06", "",
              ("malformed toml", f"line {_line_of('cash_floor = 0.05')}")),
    BadConfig("cash_in_universe", '"9984.T"]\nbenchmark', '"9984.T", "CASH"]\nbenchmark',
              "universe.tickers", ("cash is not a ticker",)),
    BadConfig("duplicate_ticker", '"9984.T"]\nbenchmark', '"9984.T", "AMD"]\nbenchmark',
              "universe.tickers", ("duplicate ticker amd",)),
    BadConfig("unknown_covariance", 'method = "ledoit_wolf"', 'method = "ledoit_wolff"',
              "risk.method", ("unknown value 'ledoit_wolff'", "did you mean 'ledoit_wolf'")),
    BadConfig("bad_start_date", 'start = "2020-01-01"', 'start = "2020-02-30"', "data.start",
              ("invalid date '2020-02-30'", "yyyy-mm-dd")),
    BadConfig("view_unknown_asset", 'asset = "NVDA"', 'asset = "NVDAA"',
              "optimizer.views[0].asset",
              ("'nvdaa' is not in the universe", "did you mean 'nvda'")),
)


def _error_for(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value


# --------------------------------------------------------------------------- valid configs


def test_base_config_used_by_the_bad_cases_is_valid(tmp_path):
    path = tmp_path / "base.toml"
    path.write_text(BASE_TOML, encoding="utf-8")
    config = load_config(path)

    assert config.tickers == ("NVDA", "AMD", "MSFT", "GOOGL", "9984.T")
    assert config.limits.max_weight == 0.30
    assert config.limits.group_caps == {"chips": 0.50, "japan": 0.10}
    assert config.optimizer.views[0].asset == "NVDA"
    assert config.optimizer.views[0].value == 0.15
    assert config.source == str(path)


def test_default_config_encodes_the_universe_and_limits():
    config = load_config()  # the packaged default

    assert Path(config.source) == default_config_path()
    expected_universe = set(BUNDLED_TICKERS) - set(BENCHMARKS)
    assert set(config.tickers) == expected_universe
    assert len(config.tickers) == 14
    assert config.benchmark == "SPY"
    # every ticker the default needs is bundled, so it runs offline
    assert set(config.market_tickers) <= set(BUNDLED_TICKERS)
    for name, members in config.groups.items():
        assert members and set(members) <= set(config.tickers), name
    assert set(config.limits.group_caps) <= set(config.groups)
    assert set(config.limits.group_floors) <= set(config.groups)
    assert 0 < config.limits.max_weight <= 1
    assert 0 < config.limits.cash_floor < 1
    for ticker in config.tickers:
        assert 0 <= config.limits.floor_of(ticker) <= config.limits.cap_of(ticker) <= 1
    # the short-history names are capped tighter than the global cap
    assert config.limits.cap_of("CRWV") < config.limits.max_weight
    assert config.risk.method in COVARIANCE_METHODS
    assert config.risk.lookback_days >= 252
    assert config.ecosystem.file is not None and config.ecosystem.file.is_file()
    assert config.ecosystem.file == packaged_config_path("ecosystem.toml")


def test_parse_config_is_pure_and_names_its_source():
    config = parse_config({"universe": {"tickers": ["NVDA"]}}, source="inline.toml")
    assert config.tickers == ("NVDA",)
    assert config.limits.max_weight == 1.0  # documented defaults
    assert config.data.max_fill_days == 5

    with pytest.raises(ConfigError, match=r"inline\.toml, key universe\.tickers"):
        parse_config({"universe": {"tickers": []}}, source="inline.toml")


def test_config_is_frozen():
    config = load_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.tickers = ("NVDA",)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.limits.max_weight = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.groups["new"] = ("NVDA",)  # type: ignore[index]
    with pytest.raises(TypeError):
        config.limits.group_caps["semiconductors"] = 1.0  # type: ignore[index]
    assert isinstance(config, Config)


# --------------------------------------------------------------------------- bad configs


@pytest.mark.parametrize("case", BAD_CONFIGS, ids=lambda case: case.name)
def test_bad_config_raises_config_error_with_file_and_key(case, tmp_path):
    path = case.write(tmp_path)
    error = _error_for(path)
    message = error.message

    assert str(path) in message
    if case.key:
        assert f"key {case.key}" in message
    for fragment in case.expected:
        assert fragment.lower() in message.lower(), (fragment, message)
    assert "\n" not in message
    assert error.fix  # every message says how to fix it
    assert error.exit_code == 2


def test_malformed_toml_reports_line_and_column(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('[universe]\ntickers = ["NVDA"]\n\n[limits]\nmax_weight = = 0.2\n')
    message = _error_for(path).message
    assert re.search(r"broken\.toml, line 5, column \d+\)", message), message


def test_unclosed_array_reports_a_line(tmp_path):
    path = tmp_path / "unclosed.toml"
    path.write_text('[universe]\ntickers = ["NVDA",\n')
    message = _error_for(path).message
    assert "line ?" not in message
    assert re.search(r"unclosed\.toml, line \d+\)", message), message


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere" / "missing.toml"
    error = _error_for(path)
    assert str(path) in error.message
    assert "not found" in error.message
    assert "path" in error.fix


def test_unknown_table_gets_a_suggestion(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text(BASE_TOML.replace("[risk]", "[rsk]"))
    message = _error_for(path).message
    assert "key rsk" in message
    assert "did you mean 'risk'?" in message.lower()


def test_section_that_is_not_a_table(tmp_path):
    path = tmp_path / "scalar.toml"
    path.write_text('limits = 5\n[universe]\ntickers = ["NVDA"]\n')
    message = _error_for(path).message
    assert "key limits" in message
    assert "must be a table" in message


def test_boolean_is_not_a_number(tmp_path):
    path = tmp_path / "bool.toml"
    path.write_text(BASE_TOML.replace("max_weight = 0.30", "max_weight = true"))
    assert "key limits.max_weight" in _error_for(path).message


@settings(max_examples=25, deadline=None)
@given(percent=st.integers(min_value=2, max_value=100))
def test_percent_written_as_a_whole_number_gets_the_fraction_hint(percent):
    data = {"universe": {"tickers": ["NVDA"]}, "limits": {"max_weight": percent}}
    with pytest.raises(ConfigError) as caught:
        parse_config(data, source="p.toml")
    assert f"write {percent / 100:g} for {percent} %" in caught.value.message


@settings(max_examples=25, deadline=None)
@given(key=st.from_regex(r"[a-z][a-z_]{2,15}", fullmatch=True))
def test_any_unknown_limit_key_is_named(key):
    known = {"max_weight", "min_weight", "max_weight_overrides", "min_weight_overrides",
             "group_caps", "group_floors", "cash_floor", "max_turnover", "theme_caps"}
    if key in known:
        return
    data = {"universe": {"tickers": ["NVDA"]}, "limits": {key: 0.1}}
    with pytest.raises(ConfigError) as caught:
        parse_config(data, source="k.toml")
    assert f"key limits.{key}" in caught.value.message
    assert f"unknown key '{key}'" in caught.value.message


def test_cash_floor_of_100_percent_is_rejected_at_load(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[universe]\ntickers = ["NVDA"]\n[limits]\ncash_floor = 1.0\n')
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "limits.cash_floor" in error.value.message and "below 1" in error.value.message


def test_market_tickers_include_the_tracking_benchmark(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[universe]\ntickers = ["NVDA"]\nbenchmark = "SPY"\n'
                    '[optimizer]\ntracking_benchmark = "QQQ"\n')
    assert load_config(path).market_tickers == ("NVDA", "SPY", "QQQ", "SMH")
