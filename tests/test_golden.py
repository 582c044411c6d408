"""Behaviour pinned: every command's JSON on the bundled data equals its golden copy.

The golden files (``tests/golden/*.json``) are written by ``python tests/golden_outputs.py``.
A change to them is a behaviour change and is named in the commit that makes it. Numbers
may differ by floating-point noise only: 1e-9 absolute (fractions) or 1e-12 relative (USD
amounts in the millions, where a changed summation order moves the last digits).
"""

from __future__ import annotations

import json
import math

import pytest
from golden_outputs import BACKTESTS, COMMANDS, GOLDEN, backtest_metrics, normalised, run_json

TOLERANCE = 1e-9
RELATIVE_TOLERANCE = 1e-12


def differences(expected, actual, path="$"):
    """Paths where ``actual`` differs from ``expected`` (floats within TOLERANCE agree)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = [f"{path}.{k}: missing" for k in expected if k not in actual]
        found += [f"{path}.{k}: unexpected" for k in actual if k not in expected]
        for key in expected.keys() & actual.keys():
            found += differences(expected[key], actual[key], f"{path}.{key}")
        return found
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path}: {len(expected)} items, now {len(actual)}"]
        return [d for i, (e, a) in enumerate(zip(expected, actual))
                for d in differences(e, a, f"{path}[{i}]")]
    numbers = (int, float)
    if (isinstance(expected, numbers) and isinstance(actual, numbers)
            and not isinstance(expected, bool) and not isinstance(actual, bool)):
        if math.isclose(expected, actual, rel_tol=RELATIVE_TOLERANCE, abs_tol=TOLERANCE):
            return []
        return [f"{path}: {expected!r} -> {actual!r}"]
    return [] if expected == actual else [f"{path}: {expected!r} -> {actual!r}"]


def _golden(name):
    return json.loads((GOLDEN / f"{name}.json").read_text())


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_json_equals_golden(name):
    found = differences(_golden(name), normalised(run_json(COMMANDS[name])))
    assert not found, "\n".join(found[:20])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BACKTESTS))
def test_backtest_metrics_equal_golden(name):
    found = differences(_golden(name), normalised(backtest_metrics(BACKTESTS[name])))
    assert not found, "\n".join(found[:20])


def test_comparison_sees_a_changed_number():
    assert differences({"a": [1.0, {"b": 0.2}]}, {"a": [1.0, {"b": 0.2 + 1e-6}]})
    assert not differences({"a": 0.2}, {"a": 0.2 + 1e-12})
    assert not differences({"usd": 569038.6920774084}, {"usd": 569038.6920774073})
    assert differences({"usd": 569038.69}, {"usd": 569038.69 + 1e-5})
