"""Chart specifications of the HTML reports: colours, orders and figures (no browser).

The browser tests (tests/test_html_browser.py) check that the pages render; these check
what the figures say, against hand-computed values.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from portfolio.report import Chart, Report, Section, cell, render
from portfolio.report.charts import (
    clustered_order,
    distribution_chart,
    group_weights,
    limit_usage_chart,
    monthly_heatmap,
    stacked_area,
)
from portfolio.report.html import _shared_axes
from portfolio.report.palette import (
    CASH_COLOUR,
    group_colour,
    stack_order,
    strategy_colours,
    ticker_colour,
)

UNIVERSE = ["NVDA", "AMD", "AVGO", "TSM", "MU", "INTC", "SMCI", "ORCL", "GOOGL", "MSFT",
            "AMZN", "META", "CRWV", "9984.T"]


def test_every_bundled_ticker_has_its_own_fixed_colour():
    colours = [ticker_colour(t) for t in UNIVERSE]
    assert len(set(colours)) == len(UNIVERSE)
    assert ticker_colour("CASH") == CASH_COLOUR
    assert ticker_colour("nvda") == ticker_colour("NVDA")


def test_a_ticker_outside_the_table_keeps_one_colour():
    assert ticker_colour("TSLA") == ticker_colour("TSLA")
    assert ticker_colour("TSLA").startswith("#") and len(ticker_colour("TSLA")) == 7
    assert group_colour("semiconductors") == group_colour("Semiconductors")


def test_strategies_keep_their_colour_by_position_and_benchmarks_by_ticker():
    colours = strategy_colours(["policy", "equal"], ["SPY", "QQQ"])
    assert colours["SPY"] == ticker_colour("SPY") and colours["QQQ"] == ticker_colour("QQQ")
    assert colours["policy"] != colours["equal"]
    assert strategy_colours(["policy", "equal"])["policy"] == colours["policy"]


def test_the_stack_follows_the_universe_then_cash_on_top():
    assert stack_order(["CASH", "MSFT", "NVDA", "TSLA", "AMD"], UNIVERSE) == [
        "NVDA", "AMD", "MSFT", "TSLA", "CASH"]


def test_two_strategies_stack_the_same_names_in_the_same_order_and_colour():
    dates = pd.bdate_range("2024-01-01", periods=5)
    first = pd.DataFrame({"MSFT": 0.5, "NVDA": 0.3, "CASH": 0.2}, index=dates)
    second = pd.DataFrame({"CASH": 0.1, "NVDA": 0.6, "AMD": 0.0, "MSFT": 0.3}, index=dates)
    charts = [stacked_area(w, "w", universe=UNIVERSE) for w in (first, second)]
    for chart in charts:
        traces = chart.figure["data"]
        assert [t["name"] for t in traces] == ["NVDA", "MSFT", "CASH"]  # AMD never held
        assert [t["fillcolor"] for t in traces] == [ticker_colour(t["name"]) for t in traces]
        # legend from the top of the stack down, as drawn
        ranks = [t["legendrank"] for t in traces]
        assert ranks == sorted(ranks, reverse=True)


def test_monthly_heatmap_compounds_the_daily_returns_of_each_month():
    dates = pd.to_datetime(["2024-01-02", "2024-01-03", "2024-02-01"])
    returns = pd.Series([0.10, -0.05, 0.02], index=dates)
    z = monthly_heatmap(returns, "m").figure["data"][0]["z"]
    assert z[0][0] == pytest.approx(1.10 * 0.95 - 1.0)
    assert z[0][1] == pytest.approx(0.02)
    assert z[0][2] is None


def test_the_distribution_marks_the_historical_var_and_cvar():
    rng = np.random.default_rng(3)
    returns = pd.Series(rng.normal(0.0005, 0.02, 1000))
    layout = distribution_chart({"s": returns}, {"s": "#000000"}, "d").figure["layout"]
    var = -np.quantile(returns, 0.05)
    cvar = -returns[returns <= -var].mean()
    assert [s["x0"] for s in layout["shapes"]] == pytest.approx([-var, -cvar])
    assert f"{var:.2%}" in layout["annotations"][0]["text"]


def test_limit_usage_is_a_share_of_the_bound_and_breaches_are_red():
    rows = [{"name": "cap", "value": 0.1, "limit": 0.2, "sense": "<=", "ok": True},
            {"name": "floor", "value": 0.02, "limit": 0.05, "sense": ">=", "ok": False},
            {"name": "full", "value": 0.2, "limit": 0.2, "sense": "<=", "ok": True}]
    trace = limit_usage_chart(rows).figure["data"][0]
    assert trace["x"] == pytest.approx([0.5, 2.0, 1.0])  # a floor: bound / value, shown <= 200 %
    assert trace["marker"]["color"] == ["#2e7d32", "#c0392b", "#e69f00"]


def test_clustering_puts_correlated_names_side_by_side():
    names = ["A", "X", "B", "Y"]
    corr = pd.DataFrame(np.eye(4), index=names, columns=names)
    corr.loc["A", "B"] = corr.loc["B", "A"] = 0.9
    corr.loc["X", "Y"] = corr.loc["Y", "X"] = 0.8
    order = clustered_order(corr)
    assert abs(order.index("A") - order.index("B")) == 1
    assert abs(order.index("X") - order.index("Y")) == 1


def test_group_weights_sum_the_members_and_keep_cash_apart():
    weights = pd.DataFrame({"NVDA": [0.5], "AMD": [0.2], "TSLA": [0.1], "CASH": [0.2]})
    grouped = group_weights(weights, {"semis": ("NVDA", "AMD")})
    assert grouped.iloc[0].to_dict() == pytest.approx({"semis": 0.7, "other": 0.1, "CASH": 0.2})


def test_the_page_stores_repeated_dates_once():
    dates = [f"2024-01-{d:02d}" for d in range(1, 29)] * 3
    figure = {"data": [{"x": dates, "y": [0] * len(dates)}, {"x": list(dates), "y": []}],
              "layout": {}}
    specs, shared = _shared_axes([figure, figure])
    assert len(shared) == 1 and shared[0] == dates
    assert all(t["x"] == "$ref:0" for spec in specs for t in spec["data"])


def test_the_html_table_carries_raw_values_and_charts_their_json():
    report = Report("T", ("Warning: careful",),
                    (Section("Main", ("name", "weight"), (("A", cell(0.2, "20.00 %")),)),),
                    {}, (Chart("C", {"data": [{"type": "bar", "x": ["</script>"], "y": [1]}],
                                     "layout": {}}),))
    page = render(report, "html")
    assert 'data-value="0.2">20.00 %</td>' in page
    assert '<p class="warning">Warning: careful</p>' in page
    start = page.index('data-chart-for="chart-0-plot">') + len('data-chart-for="chart-0-plot">')
    spec = json.loads(page[start:page.index("</script>", start)])
    assert spec["data"][0]["x"] == ["</script>"]  # escaped as \u003c/script> in the page
