"""Report and chart of an efficient-frontier run (presentation only).

:func:`frontier_marks` computes what the charts add to the frontier (the highest-Sharpe
point and the capital market line), so the PNG here and the HTML chart draw the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from portfolio.jobs.frontier import FrontierRun
from portfolio.optimization.frontier import MarkedPortfolio
from portfolio.report import Chart, Report, Section, fmt_number, fmt_pct
from portfolio.report.explain import (
    expected_returns_data,
    expected_returns_section,
    explanation_data,
    explanation_section,
)
from portfolio.report.figures import figure_png, legend_beside, place_labels
from portfolio.report.palette import FRONTIER_COLOURS, ticker_colour
from portfolio.weights import CASH

__all__ = ["FrontierMarks", "frontier_figure", "frontier_marks", "frontier_png",
           "frontier_report"]

TOP_NAMES = 3  # largest weights listed per point in the table
LINE_REACH = 1.25  # the capital market line runs at least this far past the max-Sharpe point


@dataclass(frozen=True)
class FrontierMarks:
    """The frontier point with the highest Sharpe ratio and the capital market line.

    Attributes
    ----------
    max_sharpe_point : int
        Position of the point in ``frontier.points`` (0 = minimum variance).
    max_sharpe_volatility, max_sharpe_return : float
        Its annual volatility and expected return (fractions).
    max_sharpe : float
        Its Sharpe ratio, ``(max_sharpe_return - risk_free_rate) / max_sharpe_volatility``.
    risk_free_rate : float
        Annual risk-free rate of the frontier (fraction).
    capital_market_line : ((float, float), (float, float))
        Two (volatility, expected return) end points of the line from the risk-free rate
        through the max-Sharpe point: ``(0, risk_free_rate)`` and a point at the frontier's
        largest volatility (at least ``LINE_REACH`` times the max-Sharpe volatility).
    """

    max_sharpe_point: int
    max_sharpe_volatility: float
    max_sharpe_return: float
    max_sharpe: float
    risk_free_rate: float
    capital_market_line: tuple[tuple[float, float], tuple[float, float]]


def frontier_marks(run: FrontierRun) -> FrontierMarks | None:
    """The max-Sharpe point and the capital market line of a frontier run (pure).

    Parameters
    ----------
    run : FrontierRun
        From :func:`portfolio.jobs.frontier.frontier_from_config`.

    Returns
    -------
    FrontierMarks or None
        None when no point has a Sharpe ratio (every volatility is zero). Ties go to the
        first (least risky) point.
    """
    frontier = run.frontier
    sharpe = frontier.points["sharpe"].to_numpy(dtype=float)
    if not np.isfinite(sharpe).any():
        return None
    best = int(np.where(np.isfinite(sharpe), sharpe, -np.inf).argmax())
    volatility = float(frontier.points["volatility"].iloc[best])
    expected = float(frontier.points["expected_return"].iloc[best])
    rf = float(frontier.risk_free_rate)
    reach = max(float(frontier.points["volatility"].max()), LINE_REACH * volatility)
    line = ((0.0, rf), (reach, rf + float(sharpe[best]) * reach))
    return FrontierMarks(best, volatility, expected, float(sharpe[best]), rf, line)


def _ratio(value: float) -> str:
    return fmt_number(value)  # NaN (shown "-") when volatility is 0


def _largest(weights: pd.Series) -> str:
    risky = weights.drop(CASH).sort_values(ascending=False)
    return ", ".join(f"{t} {fmt_pct(w, 1)}" for t, w in risky.head(TOP_NAMES).items() if w > 0)


def _marked_data(marked: MarkedPortfolio | None) -> dict[str, Any] | None:
    if marked is None:
        return None
    return {
        "label": marked.label, "volatility": marked.volatility,
        "expected_return": marked.expected_return, "sharpe": marked.sharpe,
        "weights": {t: float(w) for t, w in marked.weights.items()},
        "breaches": list(marked.breaches),
    }


def frontier_report(run: FrontierRun) -> Report:
    """Points, the optimum and the current holdings of a frontier run.

    JSON: ``points`` (list of ``{volatility, expected_return, sharpe, weights}``),
    ``optimum`` and ``current`` (``{label, volatility, expected_return, sharpe, weights}``
    or null), ``risk_free_rate``, ``as_of``, ``data_source``, ``covariance_method``,
    ``expected_returns_method``, ``warnings``. All values are annual fractions.
    """
    frontier = run.frontier
    table, weights = frontier.points, frontier.weights
    rows = tuple(
        (str(i + 1), fmt_pct(p.volatility), fmt_pct(p.expected_return), _ratio(p.sharpe),
         _largest(weights.iloc[i]))
        for i, p in enumerate(table.itertuples())
    )
    marked = [m for m in (run.optimum, run.current) if m is not None]
    marked_rows = tuple(
        (m.label, fmt_pct(m.volatility), fmt_pct(m.expected_return), _ratio(m.sharpe),
         _largest(m.weights))
        for m in marked
    )
    columns = ("point", "volatility", "expected return", "sharpe", "largest weights")
    marks = frontier_marks(run)
    best = 0 if marks is None else marks.max_sharpe_point
    summary = [
        f"{len(table)} minimum-variance portfolios under the config's limits, "
        f"{run.covariance_method} covariance and {run.expected_returns_method} expected returns, "
        f"prices up to {run.as_of.date()} ({run.data_source}).",
        f"Volatility {fmt_pct(table['volatility'].iloc[0])} to "
        f"{fmt_pct(table['volatility'].iloc[-1])} for expected returns "
        f"{fmt_pct(table['expected_return'].iloc[0])} to "
        f"{fmt_pct(table['expected_return'].iloc[-1])} a year; highest Sharpe ratio "
        f"{_ratio(table['sharpe'].iloc[best])} at point {best + 1} "
        f"(risk-free rate {fmt_pct(frontier.risk_free_rate)}).",
        *(f"The {m.label} breach {len(m.breaches)} limit rows ({', '.join(m.breaches[:5])}"
          f"{', ...' if len(m.breaches) > 5 else ''}), so they can lie above the frontier."
          for m in marked if m.breaches),
        *run.warnings,
    ]
    data = {
        "points": [
            {"volatility": p.volatility, "expected_return": p.expected_return,
             "sharpe": p.sharpe, "weights": {t: float(w) for t, w in weights.iloc[i].items()}}
            for i, p in enumerate(table.itertuples())
        ],
        "optimum": _marked_data(run.optimum),
        "current": _marked_data(run.current),
        "risk_free_rate": frontier.risk_free_rate,
        "as_of": run.as_of,
        "data_source": run.data_source,
        "covariance_method": run.covariance_method,
        "expected_returns_method": run.expected_returns_method,
        "warnings": list(run.warnings),
        "explanation": None if run.explanation is None else explanation_data(run.explanation),
        "expected_returns": expected_returns_data(run.expected_model),
    }
    sections = [
        Section("Frontier", columns, rows, "Annual figures; weights include cash."),
        Section("Marked portfolios", ("portfolio", *columns[1:]), marked_rows),
    ]
    if run.explanation is not None:
        sections.append(explanation_section(run.explanation, "The optimum's weights and why"))
    returns = expected_returns_section(run.expected_model)
    if returns is not None:
        sections.append(returns)
    return Report("Efficient frontier", tuple(summary), tuple(sections), data,
                  _frontier_charts(run, data))


def _frontier_charts(run: FrontierRun, data: dict[str, Any]) -> tuple[Chart, ...]:
    """The frontier chart, then the optimum's weights, risk contributions and limits."""
    from portfolio.report.charts import frontier_chart
    from portfolio.report.optimize import allocation_charts

    styles = {"optimum": ("star-diamond", FRONTIER_COLOURS["optimum"]),
              "current": ("diamond", FRONTIER_COLOURS["current"])}
    marks = frontier_marks(run)
    marked = [(m.label, m.volatility, m.expected_return, *styles[key])
              for key, m in (("optimum", run.optimum), ("current", run.current))
              if m is not None]
    frontier = run.frontier
    chart = frontier_chart(frontier.points, frontier.assets, marked, marks)
    optimum = data["optimum"]["weights"] if data["optimum"] else {}
    return (chart, *allocation_charts(optimum, run.explanation, ()))


def frontier_png(run: FrontierRun) -> bytes:
    """:func:`frontier_figure` as PNG bytes."""
    return figure_png(frontier_figure(run))


def frontier_figure(run: FrontierRun) -> Any:
    """The frontier chart: the curve, the capital market line, the single names, the marks.

    Axes: annual volatility (x) and annual expected return (y), in percent. Single names
    wear their :func:`~portfolio.report.palette.ticker_colour` and labels placed so none
    overlaps another (:func:`~portfolio.report.figures.place_labels`); the legend sits to
    the right of the axes.

    Returns
    -------
    matplotlib.figure.Figure
        With an Agg canvas (labels were placed by measuring text).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # loads only for a PNG
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    frontier = run.frontier
    table, assets = frontier.points, frontier.assets
    figure = Figure(figsize=(8, 5.5), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.plot(table["volatility"], table["expected_return"], "-o",
              color=FRONTIER_COLOURS["frontier"], markersize=3,
              label="efficient frontier (under the limits)", zorder=3)
    marks = frontier_marks(run)
    if marks is not None:
        (x0, y0), (x1, y1) = marks.capital_market_line
        axes.plot([x0, x1], [y0, y1], "--", color=FRONTIER_COLOURS["capital_market_line"],
                  linewidth=1.0, zorder=2,
                  label=f"capital market line (risk-free {fmt_pct(marks.risk_free_rate)})")
        axes.scatter([marks.max_sharpe_volatility], [marks.max_sharpe_return], s=60,
                     color=FRONTIER_COLOURS["max_sharpe"], edgecolor="black", linewidth=1.0,
                     zorder=5, label=f"max Sharpe {_ratio(marks.max_sharpe)} "
                                     f"(point {marks.max_sharpe_point + 1})")
    axes.scatter(assets["volatility"], assets["expected_return"], s=24, zorder=4,
                 color=[ticker_colour(str(t)) for t in assets.index], edgecolor="0.3",
                 linewidth=0.4)
    axes.scatter([], [], s=24, color="0.7", edgecolor="0.3", linewidth=0.4,
                 label="single names (one colour per ticker)")  # legend entry only
    marked = [(key, m) for key, m in (("optimum", run.optimum), ("current", run.current))
              if m is not None]
    for key, portfolio in marked:
        label = portfolio.label + (f" (breaches {len(portfolio.breaches)} limit rows)"
                                   if portfolio.breaches else "")
        axes.scatter([portfolio.volatility], [portfolio.expected_return],
                     marker="*" if key == "optimum" else "D", s=160 if key == "optimum" else 50,
                     color=FRONTIER_COLOURS[key], edgecolor="black", linewidth=0.5, zorder=6,
                     label=label)
    axes.xaxis.set_major_formatter(PercentFormatter(1.0))
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_xlabel("annual volatility")
    axes.set_ylabel("annual expected return")
    axes.set_title(f"Efficient frontier, prices up to {run.as_of.date()}")
    axes.set_xlim(left=0)
    axes.set_xlim(axes.get_xlim())  # final limits before labels are measured
    axes.set_ylim(axes.get_ylim())
    axes.grid(alpha=0.3)
    legend_beside(axes)
    obstacles = [*zip(table["volatility"], table["expected_return"]),
                 *((m.volatility, m.expected_return) for _, m in marked)]
    place_labels(axes, list(zip(assets["volatility"], assets["expected_return"])),
                 [str(t) for t in assets.index], obstacles=obstacles)
    return figure
