"""Report and chart of an efficient-frontier run (presentation only)."""

from __future__ import annotations

import io
from typing import Any

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
from portfolio.weights import CASH

__all__ = ["frontier_png", "frontier_report"]

TOP_NAMES = 3  # largest weights listed per point in the table


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
    best = int(table["sharpe"].fillna(float("-inf")).to_numpy().argmax())
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

    styles = {"optimum": ("star-diamond", "#d55e00"), "current": ("diamond", "#009e73")}
    marked = [(m.label, m.volatility, m.expected_return, *styles[key])
              for key, m in (("optimum", run.optimum), ("current", run.current))
              if m is not None]
    frontier = run.frontier
    chart = frontier_chart(frontier.points, frontier.assets, marked, frontier.risk_free_rate)
    optimum = data["optimum"]["weights"] if data["optimum"] else {}
    return (chart, *allocation_charts(optimum, run.explanation, ()))


def frontier_png(run: FrontierRun) -> bytes:
    """The frontier as PNG bytes: the curve, each single name, the optimum and the holdings.

    Axes: annual volatility (x) and annual expected return (y), in percent.
    """
    from matplotlib.figure import Figure  # matplotlib loads only when a PNG is drawn
    from matplotlib.ticker import PercentFormatter

    frontier = run.frontier
    table, assets = frontier.points, frontier.assets
    figure = Figure(figsize=(8, 5.5), dpi=120)
    axes = figure.subplots()
    axes.plot(table["volatility"], table["expected_return"], "-o", color="tab:blue",
              markersize=3, label="efficient frontier (under the limits)")
    axes.scatter(assets["volatility"], assets["expected_return"], s=12, color="0.6",
                 label="single names")
    for ticker, row in assets.iterrows():
        axes.annotate(str(ticker), (row["volatility"], row["expected_return"]), fontsize=7,
                      color="0.4", xytext=(3, 2), textcoords="offset points")
    markers = ((run.optimum, "*", "tab:red", 160), (run.current, "D", "tab:green", 60))
    for marked, symbol, color, size in markers:
        if marked is not None:
            label = marked.label
            if marked.breaches:
                label += f" (breaches {len(marked.breaches)} limit rows)"
            axes.scatter([marked.volatility], [marked.expected_return], marker=symbol, s=size,
                         color=color, zorder=5, label=label)
    axes.xaxis.set_major_formatter(PercentFormatter(1.0))
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_xlabel("annual volatility")
    axes.set_ylabel("annual expected return")
    axes.set_title(f"Efficient frontier, prices up to {run.as_of.date()}")
    axes.set_xlim(left=0)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="best")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()
