"""Sweep files: grid, explicit variants, random draws, overrides; errors give key and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sweep_helpers import GRID, ROOT, write_sweep

from portfolio.data.tomllines import key_lines
from portfolio.errors import ConfigError
from portfolio.sweeps import load_sweep


def _load(tmp_path: Path, sweep: str):
    return load_sweep(write_sweep(tmp_path, sweep))


def _error(tmp_path: Path, sweep: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, sweep)
    return caught.value.message


HEAD = 'backtest = "backtest.toml"\nstrategies = ["Policy"]\n'


def test_key_lines_find_dotted_quoted_nested_and_array_keys():
    text = (
        'backtest = "x"\n\n[grid]\nlimits.max_weight = [1]\n"limits.cash_floor" = [2]\n'
        "[grid.risk]\nmethod = ['a']  # note\n[[variants]]\ncost_bps = 1\n[[variants]]\n"
        "cost_bps = 2\n"
    )
    lines = key_lines(text)
    assert lines["backtest"] == 1
    assert lines["grid"] == 3
    assert lines["grid.limits.max_weight"] == 4
    assert lines["grid.limits.cash_floor"] == 5
    assert lines["grid.risk.method"] == 7
    assert lines["variants[0].cost_bps"] == 9
    assert lines["variants[1].cost_bps"] == 11


def test_grid_is_every_combination_in_file_order(tmp_path):
    config = _load(tmp_path, GRID)
    assert config.mode == "grid"
    assert config.parameters == ("limits.max_weight", "rebalance")
    assert [v.parameters for v in config.variants] == [
        (("limits.max_weight", 0.15), ("rebalance", "monthly")),
        (("limits.max_weight", 0.15), ("rebalance", "quarterly")),
        (("limits.max_weight", 0.25), ("rebalance", "monthly")),
        (("limits.max_weight", 0.25), ("rebalance", "quarterly")),
    ]
    assert [v.index for v in config.variants] == [1, 2, 3, 4]
    last = config.variants[-1].config
    assert last.base.limits.max_weight == 0.25 and last.rebalance == "quarterly"
    assert [s.name for s in last.strategies] == ["Policy", "Min variance"]
    assert config.heatmap == ("limits.max_weight", "rebalance")
    assert len({v.fingerprint for v in config.variants}) == 4
    # the policy strategy uses the theme cap: its exposures travel with the variant
    assert "OpenAI" in config.variants[0].exposures


def test_overrides_reach_backtest_base_config_strategies_and_named_tables(tmp_path):
    sweep = HEAD + """
[fixed]
cost_bps = 12.5
"limits.theme_caps.openai_lookthrough.cap" = 0.2

[[variants]]
risk.method = "oas"

[[variants]]
"strategy.covariance" = "sample"
lookback_days = 200
limits.group_caps.emerging = 0.1
"""
    config = _load(tmp_path, sweep)
    assert config.mode == "variants"
    assert config.parameters == ("risk.method", "strategy.covariance", "lookback_days",
                                 "limits.group_caps.emerging")
    first, second = (v.config for v in config.variants)
    assert first.cost_bps == second.cost_bps == 12.5
    assert first.base.limits.theme_caps[0].cap == 0.2
    assert first.base.risk.method == "oas"
    assert first.strategies[0].covariance == "oas"  # a strategy's default follows the base
    assert second.base.risk.method == "ledoit_wolf"  # variants are independent
    assert second.strategies[0].covariance == "sample"
    assert second.lookback_days == 200 and second.base.limits.group_caps["emerging"] == 0.1


def test_random_draws_are_seeded_distinct_and_inside_their_ranges(tmp_path):
    sweep = HEAD + """
[random]
draws = 6
seed = 7

[random.parameters]
"limits.max_weight" = { min = 0.1, max = 0.3 }
lookback_days = { min = 100, max = 300, step = 50 }
rebalance = ["monthly", "quarterly"]
"""
    first = _load(tmp_path / "a", sweep)
    again = _load(tmp_path / "b", sweep)
    other = _load(tmp_path / "c", sweep.replace("seed = 7", "seed = 8"))
    values = [v.parameters for v in first.variants]
    assert values == [v.parameters for v in again.variants]
    assert values != [v.parameters for v in other.variants]
    assert len(set(values)) == 6
    for point in values:
        cap, lookback, schedule = (value for _, value in point)
        assert 0.1 <= cap <= 0.3 and round(cap, 6) == cap
        assert lookback in (100, 150, 200, 250, 300)
        assert schedule in ("monthly", "quarterly")


def test_random_draws_beyond_the_distinct_points_are_refused(tmp_path):
    sweep = HEAD + '[random]\ndraws = 3\n[random.parameters]\nrebalance = ["monthly", "weekly"]\n'
    message = _error(tmp_path, sweep)
    assert "3 draws" in message and "only 2 distinct" in message and "line 4" in message


def test_an_unknown_parameter_names_file_key_line_and_a_suggestion(tmp_path):
    message = _error(tmp_path, HEAD + '\n[grid]\n"limits.max_wieght" = [0.1, 0.2]\n')
    assert "sweep.toml, key grid.limits.max_wieght, line 5" in message
    assert "unknown key 'max_wieght'" in message and "Did you mean 'max_weight'" in message
    assert "variant 1" in message


def test_a_bad_value_names_the_variant_and_its_line(tmp_path):
    message = _error(tmp_path, HEAD + "[grid]\nlimits.cash_floor = [0.05, 5]\n")
    assert message.startswith("variant 2 (limits.cash_floor=5): invalid value 5")
    assert "key grid.limits.cash_floor, line 4" in message
    assert "write 0.05 for 5 %" in message


def test_an_inconsistent_combination_names_the_variant(tmp_path):
    message = _error(tmp_path, HEAD + "[grid]\ndrift_threshold = [0.03]\n")
    assert 'only used with rebalance = "drift"' in message
    assert "key grid.drift_threshold, line 4" in message


@pytest.mark.parametrize(("body", "words"), [
    ("", ("exactly one of [grid], [[variants]] or [random]", "found none")),
    ("[grid]\nrebalance = ['weekly']\n[random]\ndraws = 1\n", ("found grid, random",)),
    ("[grid]\nrebalance = 'weekly'\n", ("grid.rebalance, line 4", "lists the values")),
    ("[grid]\n", ("empty grid", "key grid, line 3")),
    ("[grid]\nlimts.max_weight = [0.1]\n", ("unknown parameter 'limts.max_weight'",
                                            "did you mean 'limits'")),
    ("[grid]\ndata.max_fill_days = [1, 2]\n", ("cannot be swept", "loaded once")),
    ("[grid]\nstrategies = [['x']]\n", ("cannot be swept",)),
    ("[grid]\nstrategy.name = ['x']\n", ("invalid parameter 'strategy.name'",)),
    ("[grid]\nrebalance = ['weekly']\n[report]\nrank_by = 'sharp'\n",
     ("unknown value 'sharp'", "report.rank_by, line 6", "did you mean 'sharpe'")),
    ("[grid]\nrebalance = ['weekly']\n[report]\nheatmap = ['rebalance', 'cost_bps']\n",
     ("report.heatmap",)),
    ("[grid]\nrebalance = ['weekly']\n[sweep]\nworkers = 2\n",
     ("unknown key 'workers'", "sweep.workers, line 6")),
    ("[random]\ndraws = 2\n[random.parameters]\ncost_bps = { min = 5, max = 1 }\n",
     ("invalid range", "random.parameters.cost_bps, line 6")),
])
def test_sweep_file_errors(tmp_path, body, words):
    message = _error(tmp_path, HEAD + body)
    assert "sweep.toml" in message
    for word in words:
        assert word.lower() in message.lower(), (word, message)


def test_unknown_strategy_and_missing_backtest(tmp_path):
    message = _error(tmp_path, 'backtest = "backtest.toml"\nstrategies = ["Polcy"]\n'
                               "[grid]\nrebalance = ['weekly']\n")
    assert "unknown strategy 'Polcy'" in message and "Did you mean 'Policy'" in message
    message = _error(tmp_path, 'backtest = "nope.toml"\n[grid]\nrebalance = ["weekly"]\n')
    assert "backtest file not found" in message and "key backtest, line 1" in message


@pytest.mark.parametrize(("name", "count"), [("policy_small.toml", 12),
                                             ("article_policy.toml", 90)])
def test_the_shipped_sweeps_load(name, count):
    config = load_sweep(ROOT / "config" / "sweeps" / name)
    assert len(config.variants) == count
    assert config.strategies == ("Article policy",)
    assert config.heatmap == ("limits.max_weight", "limits.cash_floor")
