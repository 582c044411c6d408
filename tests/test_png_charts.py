"""The PNG charts read well: palette colours, legend order = stack order, legends outside the
axes, labelled log ticks, frontier labels apart, the max-Sharpe point and the capital market
line. Assertions are on the matplotlib Figures (not pixels), drawn from synthetic data."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.path import Path as MplPath
from test_backtest import EQUAL, HOLD, MINVAR, TICKERS, run, synthetic_prices, write_base

from portfolio.jobs.frontier import FrontierRun
from portfolio.optimization.frontier import Frontier, MarkedPortfolio
from portfolio.report.backtest import drawdowns_figure, equity_figure, weights_figure
from portfolio.report.figures import label_box, log_ticks, place_labels, short_usd
from portfolio.report.frontier import frontier_figure, frontier_marks
from portfolio.report.palette import CASH_COLOUR, stack_order, strategy_colours, ticker_colour
from portfolio.weights import CASH


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    folder = tmp_path_factory.mktemp("backtest")
    write_base(folder)
    return run(folder, synthetic_prices(), [HOLD, EQUAL, MINVAR])


def renderer(figure):
    canvas = figure.canvas if isinstance(figure.canvas, FigureCanvasAgg) else FigureCanvasAgg(
        figure)
    return canvas.get_renderer()


def outside_right(figure) -> bool:
    """The legend of the figure's first axes lies wholly right of the axes."""
    axes = figure.axes[0]
    draw = renderer(figure)
    return axes.get_legend().get_window_extent(draw).x0 >= axes.get_window_extent(draw).x1


# ------------------------------------------------------------------------------- backtest


def stack(figure) -> list[tuple[str, str]]:
    """(label, colour) of each stacked layer, bottom first."""
    return [(layer.get_label(), to_hex(layer.get_facecolor()[0]))
            for layer in figure.axes[0].collections]


def test_weights_stack_wears_the_palette_in_the_universe_order(result):
    positions = {}
    for name in result.strategies:
        layers = stack(weights_figure(result, name))
        labels = [label for label, _ in layers]
        assert labels == stack_order(labels, TICKERS)
        assert all(colour == ticker_colour(label) for label, colour in layers)
        for a, b in itertools.combinations(labels, 2):  # same relative place everywhere
            positions.setdefault((a, b), labels.index(a) < labels.index(b))
            assert positions[(a, b)] == (labels.index(a) < labels.index(b))
    assert len(positions) > 1


def test_cash_is_light_grey_on_top_of_the_stack(result):
    layers = stack(weights_figure(result, "minvar"))  # cash floor 5 %
    assert layers[-1] == (CASH, CASH_COLOUR)


def test_weights_legend_reads_top_of_the_stack_first_outside_the_axes(result):
    for name in result.strategies:
        figure = weights_figure(result, name)
        labels = [label for label, _ in stack(figure)]
        legend = figure.axes[0].get_legend()
        assert [text.get_text() for text in legend.get_texts()] == labels[::-1]
        colours = [to_hex(handle.get_facecolor()) for handle in legend.legend_handles]
        assert colours == [ticker_colour(label) for label in labels[::-1]]
        assert outside_right(figure)


@pytest.mark.parametrize("draw", [equity_figure, drawdowns_figure])
def test_lines_use_strategy_colours_benchmarks_dashed_legend_outside(result, draw):
    figure = draw(result)
    colours = strategy_colours(list(result.strategies), result.benchmarks.columns)
    lines = figure.axes[0].get_lines()
    assert [line.get_label() for line in lines] == list(result.equity.columns)
    for line in lines:
        assert to_hex(line.get_color()) == colours[line.get_label()]
        assert line.get_linestyle() == ("--" if line.get_label() in ("SPY", "QQQ") else "-")
    assert outside_right(figure)


def test_equity_axis_is_labelled_with_several_usd_ticks(result):
    axis = equity_figure(result).axes[0]
    low, high = axis.get_ylim()
    ticks = [t for t in axis.yaxis.get_major_locator()() if low <= t <= high]
    labels = [axis.yaxis.get_major_formatter()(t) for t in ticks]
    assert len(labels) >= 4 and all(labels)
    assert "USD" in axis.get_ylabel()


def test_log_ticks_step_1_2_5_and_get_finer_for_a_narrow_range():
    assert log_ticks(40e3, 2.5e6) == [50e3, 100e3, 200e3, 500e3, 1e6, 2e6]
    assert log_ticks(0.9, 2e4) == [1, 10, 100, 1e3, 1e4]
    assert log_ticks(95e3, 135e3) == [100e3, 110e3, 120e3, 130e3]
    narrow = log_ticks(100e3, 104e3)
    assert len(narrow) >= 4 and all(100e3 <= t <= 104e3 for t in narrow)
    assert narrow == pytest.approx([100e3, 101e3, 102e3, 103e3, 104e3])
    assert log_ticks(100e3, 100.5e3) == pytest.approx([100e3, 100.1e3, 100.2e3, 100.3e3,
                                                       100.4e3, 100.5e3])
    assert log_ticks(0.0, 1.0) == []


def test_short_usd_labels():
    assert [short_usd(v) for v in (950, 50e3, 100e3, 1.5e6, 2e9)] == [
        "950", "50k", "100k", "1.5M", "2B"]


# ------------------------------------------------------------------------------- frontier

CROWDED = pd.DataFrame(  # NVDA/ORCL and AMZN/META nearly on top of each other
    {"volatility": [0.50, 0.505, 0.33, 0.335, 0.31, 0.27, 0.62, 0.63, 0.60],
     "expected_return": [0.182, 0.183, 0.173, 0.170, 0.157, 0.132, 0.20, 0.201, 0.199]},
    index=pd.Index(["NVDA", "ORCL", "AMZN", "META", "GOOGL", "MSFT", "AMD", "MU", "INTC"],
                   name="ticker"))
RF = 0.04


def frontier_run(risk_free_rate: float = RF) -> FrontierRun:
    volatility = np.linspace(0.24, 0.36, 10)
    expected = 0.16 + 0.3 * np.sqrt(volatility - 0.239)
    sharpe = (expected - risk_free_rate) / volatility
    points = pd.DataFrame({"volatility": volatility, "expected_return": expected,
                           "sharpe": sharpe}).rename_axis("point")
    weights = pd.DataFrame(1.0 / len(CROWDED), points.index, [*CROWDED.index, CASH])
    frontier = Frontier(points, weights, risk_free_rate, CROWDED)
    optimum = MarkedPortfolio("optimum (min_variance)", 0.24, expected[0], sharpe[0],
                              weights.iloc[0])
    return FrontierRun(frontier=frontier, optimum=optimum, current=None,
                       as_of=pd.Timestamp("2026-07-31"), data_source="bundled", notice="",
                       warnings=(), covariance_method="ledoit_wolf",
                       expected_returns_method="historical")


def test_marks_pick_the_highest_sharpe_point_and_the_line_through_it():
    run_ = frontier_run()
    marks = frontier_marks(run_)
    sharpe = run_.frontier.points["sharpe"].to_numpy()
    assert marks.max_sharpe_point == int(sharpe.argmax())
    assert 0 < marks.max_sharpe_point < len(sharpe) - 1  # an interior point of this curve
    assert marks.max_sharpe == pytest.approx(sharpe.max())
    start, end = marks.capital_market_line
    assert start == (0.0, RF)
    slope = (end[1] - start[1]) / (end[0] - start[0])
    assert slope == pytest.approx(marks.max_sharpe)
    assert RF + slope * marks.max_sharpe_volatility == pytest.approx(marks.max_sharpe_return)
    assert end[0] >= marks.max_sharpe_volatility


def test_marks_are_none_without_any_sharpe_ratio():
    run_ = frontier_run()
    points = run_.frontier.points.assign(sharpe=np.nan)
    flat = FrontierRun(**{**run_.__dict__,
                          "frontier": Frontier(points, run_.frontier.weights, RF, CROWDED)})
    assert frontier_marks(flat) is None
    assert frontier_figure(flat).axes  # the chart is still drawn


def test_frontier_chart_draws_the_marks_and_the_line():
    run_ = frontier_run()
    marks = frontier_marks(run_)
    axes = frontier_figure(run_).axes[0]
    lines = {line.get_label(): line for line in axes.get_lines()}
    line = next(v for k, v in lines.items() if k.startswith("capital market line"))
    assert list(zip(line.get_xdata(), line.get_ydata())) == list(marks.capital_market_line)
    offsets = [c.get_offsets() for c in axes.collections if c.get_label().startswith("max Sharpe")]
    np.testing.assert_allclose(offsets[0], [[marks.max_sharpe_volatility,
                                             marks.max_sharpe_return]])


def test_frontier_single_names_wear_their_ticker_colours():
    axes = frontier_figure(frontier_run()).axes[0]
    names = next(c for c in axes.collections if len(c.get_offsets()) == len(CROWDED))
    assert [to_hex(c) for c in names.get_facecolors()] == [ticker_colour(t)
                                                            for t in CROWDED.index]


def labels_apart(figure, labels, lines_too: bool = True) -> bool:
    """No two labels' texts overlap, and (``lines_too``) no leader line runs through another
    label."""
    draw = renderer(figure)
    texts = [label_box(label, draw).padded(-0.5) for label in labels]  # touching is apart
    if any(a.overlaps(b) for a, b in itertools.combinations(texts, 2)):
        return False
    for i, label in enumerate(labels):
        if lines_too and label.arrow_patch is not None:
            centre = (texts[i].x0 + texts[i].width / 2, texts[i].y0 + texts[i].height / 2)
            line = MplPath([label.axes.transData.transform(label.xy), centre])
            if any(line.intersects_bbox(box) for j, box in enumerate(texts) if j != i):
                return False
    return True


def test_frontier_labels_do_not_collide_and_stay_inside_the_axes():
    figure = frontier_figure(frontier_run())
    axes = figure.axes[0]
    labels = axes.texts
    assert sorted(label.get_text() for label in labels) == sorted(CROWDED.index)
    assert labels_apart(figure, labels)
    frame = axes.get_window_extent(renderer(figure))
    for label in labels:
        box = label_box(label, renderer(figure))
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 <= frame.y1


def test_labels_of_points_on_top_of_each_other_are_spread_out():
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4, 3), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    points = [(0.5, 0.5)] * 6 + [(0.52, 0.5)] * 3
    axes.scatter(*zip(*points))
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    labels = place_labels(axes, points, [f"NAME{k}" for k in range(len(points))])
    assert labels_apart(figure, labels, lines_too=False)  # 8 labels fence the point in
    again = place_labels(axes, points, [f"NAME{k}" for k in range(len(points))])
    assert [a.xyann for a in again] == [b.xyann for b in labels]  # deterministic
