"""The PNG charts read well: palette colours, legend order = stack order, legends outside the
axes, labelled log ticks. Assertions are on the matplotlib Figures (not pixels), drawn from
synthetic data."""

from __future__ import annotations

import itertools

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from test_backtest import EQUAL, HOLD, MINVAR, TICKERS, run, synthetic_prices, write_base

from portfolio.report.backtest import (
    drawdowns_figure,
    equity_figure,
    log_ticks,
    short_usd,
    weights_figure,
)
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
    assert log_ticks(0.0, 1.0) == []


def test_short_usd_labels():
    assert [short_usd(v) for v in (950, 50e3, 100e3, 1.5e6, 2e9)] == [
        "950", "50k", "100k", "1.5M", "2B"]
