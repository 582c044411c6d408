"""Presentation of a backtest: the metrics Report, the output files' text and the PNG plots.

Nothing is computed here beyond drawdown curves for the plot; every figure comes from
:class:`portfolio.backtesting.results.BacktestResult`. Plots are drawn on matplotlib
Figures (no global backend is set), imported inside the plotting function so that
importing this module stays light. Files are written by :mod:`portfolio.data.output`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from portfolio.backtesting.results import BacktestResult
from portfolio.backtesting.spec import strategy_slug
from portfolio.data.output import write_files
from portfolio.report import (
    Cell,
    Report,
    Section,
    fmt_money,
    fmt_number,
    fmt_pct,
    render,
    to_jsonable,
)
from portfolio.report.figures import (
    figure_png,
    fit_legend_beside,
    legend_beside,
    log_ticks,
    short_usd,
)
from portfolio.report.palette import stack_order, strategy_colours, ticker_colour

__all__ = [
    "backtest_files",
    "backtest_markdown",
    "backtest_plots",
    "backtest_report",
    "drawdowns_figure",
    "equity_csv",
    "equity_figure",
    "manifest_json",
    "metrics_json",
    "trades_csv",
    "weights_csv",
    "weights_figure",
    "weights_plot_name",
    "write_backtest_outputs",
]

DPI = 110


def _ratio(value: float | None) -> Cell:
    return fmt_number(value)


def _date(value: Any) -> str:
    return "-" if value is None else pd.Timestamp(value).date().isoformat()


def _rows(result: BacktestResult) -> list[tuple[str, Any]]:
    rows = [(name, strategy.metrics) for name, strategy in result.strategies.items()]
    rows += [(f"{ticker} (benchmark)", m) for ticker, m in result.benchmark_metrics.items()]
    return rows


def _summary(result: BacktestResult) -> list[str]:
    """Period, schedule, lookback, capital, costs, cash yield, benchmark and the notes."""
    config = result.config
    cash = ("the 13-week T-bill yield" if config.cash_yield == "tbill"
            else f"{fmt_pct(float(config.cash_yield))} a year")
    return [
        *(f"Warning: {warning}" for warning in result.warnings),
        f"{len(result.strategies)} strategies, {result.start.date()} .. {result.end.date()}, "
        f"{config.rebalance} rebalancing"
        + (f" (drift band {fmt_pct(config.drift_threshold)})"
           if config.rebalance == "drift" else "")
        + f", lookback {config.lookback_days} days, {fmt_money(config.initial_capital)} USD.",
        f"Costs {config.cost_bps:g} bps (min {fmt_money(config.min_fee)} USD per name traded); "
        f"cash earns {cash}; beta and tracking error against {config.benchmarks[0]}.",
        *([result.hindsight] if result.hindsight else []),
        *result.notes,
    ]


def backtest_report(result: BacktestResult, files: Sequence[Path | str] = ()) -> Report:
    """The metrics of every strategy and benchmark as a :class:`Report`.

    Parameters
    ----------
    result : BacktestResult
        From :func:`portfolio.backtesting.engine.backtest`.
    files : sequence of path, optional
        Output files written, listed in the JSON data.

    Returns
    -------
    Report
        Sections Performance, Trading, Drawdowns (and Failed rebalances when any);
        ``data`` = {"metrics": {strategy: {...}}, "benchmarks": {...}, "start", "end",
        "notes", "failures", "files"}.
    """
    config = result.config
    lead = config.benchmarks[0]
    summary = _summary(result)
    performance = tuple(
        (name, fmt_pct(m.total_return), fmt_pct(m.cagr), fmt_pct(m.volatility),
         _ratio(m.sharpe), _ratio(m.sortino), fmt_pct(m.max_drawdown), _ratio(m.calmar),
         _ratio(m.beta), fmt_pct(m.tracking_error))
        for name, m in _rows(result)
    )
    trading = tuple(
        (name, fmt_number(m.final_value, 0, thousands=True), str(m.rebalances), fmt_pct(m.turnover),
         fmt_pct(m.annual_turnover), fmt_money(m.total_costs), fmt_pct(m.cost_drag),
         str(m.failures))
        for name, m in result.metrics.items()
    )
    drawdowns = tuple(
        (name, fmt_pct(m.max_drawdown), _date(m.drawdown_peak), _date(m.drawdown_trough),
         _date(m.drawdown_recovery) if m.drawdown_recovery is not None else "not yet")
        for name, m in _rows(result)
    )
    sections = [
        Section("Performance", ("strategy", "total return", "CAGR", "volatility", "Sharpe",
                                "Sortino", "max drawdown", "Calmar", f"beta {lead}",
                                f"TE {lead}"),
                performance,
                "Sharpe and Sortino in excess of the cash rate; TE = annual tracking error; "
                "daily returns, 252 a year"
                + ("." if _annualised(result) else "; '-': not annualised, the period is "
                   "under a year.")),
        Section("Trading", ("strategy", "final USD", "rebalances", "avg turnover",
                            "turnover/year", "costs USD", "cost drag/year", "failed"), trading,
                "Turnover is one-way per rebalance after inception; cost drag counts every "
                "cost as a fraction of the value traded from."),
        Section("Drawdowns", ("strategy", "depth", "peak", "trough", "recovered"), drawdowns),
    ]
    failures = tuple(
        (name, failure.date.date().isoformat(), failure.error)
        for name, strategy in result.strategies.items() for failure in strategy.failures
    )
    if failures:
        sections.append(Section("Failed rebalances (positions kept)",
                                ("strategy", "date", "error"), failures))
    data = {
        **_metrics_data(result),
        "start": result.start,
        "end": result.end,
        "failures": [{"strategy": s, "date": d, "error": e} for s, d, e in failures],
        "files": [str(path) for path in files],
    }
    title = f"Backtest {Path(config.source).name}"
    return Report(title, tuple(summary), tuple(sections), data)


def _annualised(result: BacktestResult) -> bool:
    return all(m.annualised for m in result.metrics.values())


def _metrics_data(result: BacktestResult) -> dict[str, Any]:
    return {
        "metrics": {name: m.as_dict() for name, m in result.metrics.items()},
        "benchmarks": {name: m.as_dict() for name, m in result.benchmark_metrics.items()},
        "annualised": _annualised(result),
        "hindsight": result.hindsight,
        "warnings": list(result.warnings),
        "notes": list(result.notes),
    }


def metrics_json(result: BacktestResult) -> str:
    """``metrics.json``: metrics by strategy and benchmark, hindsight, warnings, notes.

    ``{"metrics": {strategy: {"total_return", "cagr", ...}}, "benchmarks": {ticker: {...}},
    "annualised", "hindsight", "warnings", "notes"}``.
    """
    return json.dumps(to_jsonable(_metrics_data(result)), indent=2) + "\n"


def manifest_json(result: BacktestResult) -> str:
    """The run manifest as JSON."""
    return json.dumps(to_jsonable(dict(result.manifest)), indent=2) + "\n"


def _csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(float_format="%.10g", date_format="%Y-%m-%d", lineterminator="\n")


def equity_csv(result: BacktestResult) -> str:
    """Dates x (strategies + benchmarks), USD."""
    return _csv(result.equity.rename_axis("date"))


def weights_csv(result: BacktestResult) -> str:
    """Long table: strategy, date, one column per ticker and CASH (post-trade weights)."""
    frames = [strategy.weights.assign(strategy=name).reset_index()
              for name, strategy in result.strategies.items()]
    table = pd.concat(frames, ignore_index=True)
    columns = ["strategy", "date", *[c for c in table.columns if c not in ("strategy", "date")]]
    return _csv(table[columns].set_index("strategy"))


def trades_csv(result: BacktestResult) -> str:
    """Long table: strategy, date, ticker, side, shares, price, notional, cost."""
    frames = [strategy.trades.assign(strategy=name) for name, strategy in result.strategies.items()]
    table = pd.concat(frames, ignore_index=True)
    columns = ["strategy", "date", "ticker", "side", "shares", "price", "notional", "cost"]
    return _csv(table[columns].set_index("strategy"))


def weights_plot_name(strategy: str) -> str:
    """File name of a strategy's weights plot (``weights_<slug>.png``)."""
    return f"weights_{strategy_slug(strategy)}.png"


def backtest_plots(result: BacktestResult) -> dict[str, bytes]:
    """PNG bytes by file name: equity curves, drawdowns and weights per strategy.

    The figures are laid out by :func:`~portfolio.report.figures.fit_legend_beside`, so
    they are saved uncropped (a third faster).
    """
    plots = {"equity.png": figure_png(equity_figure(result), DPI, crop=False),
             "drawdowns.png": figure_png(drawdowns_figure(result), DPI, crop=False)}
    for name in result.strategies:
        plots[weights_plot_name(name)] = figure_png(weights_figure(result, name), DPI,
                                                    crop=False)
    return plots


def _lines(result: BacktestResult, axis: Any, values: pd.DataFrame, width: float) -> None:
    """One line per strategy and benchmark (dashed), in the palette's strategy colours."""
    benchmarks = list(result.benchmarks.columns)
    colours = strategy_colours(list(result.strategies), benchmarks)
    dates = values.index.to_numpy()  # datetime64: no per-date Python conversion
    for name in values.columns:
        axis.plot(dates, values[name].to_numpy(), "--" if name in benchmarks else "-",
                  color=colours[name], linewidth=width, label=name)


def equity_figure(result: BacktestResult) -> Any:
    """Equity curves of the strategies and benchmarks on a log scale, in USD.

    Ticks at 1-2-5 steps (or finer when the range is narrow) labelled ``50k``, ``100k``,
    ``1M``; the legend sits right of the axes.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure  # matplotlib loads only when a PNG is drawn
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    figure = Figure(figsize=(10, 5.5))
    axis = figure.subplots()
    _lines(result, axis, result.equity, 1.2)
    axis.set_yscale("log")
    axis.yaxis.set_major_locator(FixedLocator(log_ticks(*axis.get_ylim())))
    axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: short_usd(value)))
    axis.yaxis.set_minor_formatter(NullFormatter())
    axis.set_ylabel("value (USD, log scale)")
    axis.set_title("Equity")
    axis.grid(True, which="major", alpha=0.35)
    axis.grid(True, which="minor", alpha=0.12)
    fit_legend_beside(figure, legend_beside(axis))
    return figure


def drawdowns_figure(result: BacktestResult) -> Any:
    """Drawdown from the running peak of every strategy and benchmark, in percent.

    Returns
    -------
    matplotlib.figure.Figure
        The legend sits right of the axes, clear of the troughs.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    equity = result.equity
    drawdowns = equity / np.fmax.accumulate(equity.to_numpy(), axis=0) - 1.0
    figure = Figure(figsize=(10, 4.5))
    axis = figure.subplots()
    _lines(result, axis, drawdowns, 1.0)
    axis.yaxis.set_major_formatter(PercentFormatter(1.0))
    axis.set_ylabel("below the running peak")
    axis.set_title("Drawdown from the running peak")
    axis.grid(True, alpha=0.3)
    fit_legend_beside(figure, legend_beside(axis))
    return figure


def weights_figure(result: BacktestResult, strategy: str) -> Any:
    """A strategy's weights at each close, stacked to 100 %.

    Every ticker wears its :func:`~portfolio.report.palette.ticker_colour` and takes its
    place in :func:`~portfolio.report.palette.stack_order` of the universe (cash light
    grey on top), so a name looks the same in every strategy's chart. The legend, right of
    the axes, lists the names top of the stack first.

    Parameters
    ----------
    result : BacktestResult
        The backtest.
    strategy : str
        A key of ``result.strategies``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    weights = result.strategies[strategy].daily_weights
    held = stack_order([c for c in weights.columns if (weights[c].abs() > 1e-9).any()],
                       result.config.tickers)  # the HTML stack's order too
    figure = Figure(figsize=(10, 4.5))
    axis = figure.subplots()
    legend = None
    if held:
        layers = axis.stackplot(weights.index.to_numpy(),
                                *(weights[c].clip(lower=0).to_numpy() for c in held),
                                labels=held, colors=[ticker_colour(c) for c in held],
                                linewidth=0)
        legend = legend_beside(axis, layers[::-1], held[::-1], fontsize=7)
    fit_legend_beside(figure, legend)
    axis.set_ylim(0, 1)
    axis.yaxis.set_major_formatter(PercentFormatter(1.0))
    axis.set_title(f"{strategy}: weights at each close")
    return figure


def backtest_markdown(result: BacktestResult, images: Sequence[str] = ()) -> str:
    """``report.md``: the metrics tables, notes and the plots embedded by relative path."""
    text = render(backtest_report(result), "markdown")
    lines = [text.rstrip("\n"), ""]
    titles = {"equity.png": "Equity curves", "drawdowns.png": "Drawdowns"}
    for name, strategy in result.strategies.items():
        titles[weights_plot_name(name)] = f"Weights: {strategy.name}"
    if images:
        lines += ["## Plots", ""]
        for image in images:
            lines += [f"![{titles.get(image, image)}]({image})", ""]
    manifest = result.manifest
    if manifest:
        data = manifest.get("data", {})
        lines += ["## Run", "",
                  f"Config sha256 `{manifest.get('config', {}).get('sha256', '')}`; "
                  f"prices: {data.get('source', '')} (sha256 `{data.get('sha256', '')}`); "
                  f"created {manifest.get('created_utc', '')}. See `manifest.json`.", ""]
    return "\n".join(lines)


def write_backtest_outputs(result: BacktestResult, folder: str | Path, *,
                           html: bool = True) -> list[Path]:
    """Write the output folder of a backtest (all files or none).

    Files: ``metrics.json`` (see :func:`metrics_json`), ``equity.csv``,
    ``weights.csv``, ``trades.csv``, ``equity.png``, ``drawdowns.png``,
    ``weights_<strategy>.png`` (one per strategy), ``report.md`` (metrics tables and the
    plots by relative path), ``report.html`` (the interactive tearsheet, see
    :func:`backtest_html`) and ``manifest.json``.

    Parameters
    ----------
    result : BacktestResult
        From :func:`backtest`.
    folder : str or Path
        Created (with parents) if missing; existing files of the same names are replaced,
        other files are kept.
    html : bool
        Write ``report.html`` (a few MB; False leaves it out).

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    InputError
        When the folder cannot be created or written; the folder is then as it was
        (:func:`portfolio.data.output.write_files`: the new folder is written in full
        beside the old one, then swapped in with directory renames).
    """
    return write_files(folder, backtest_files(result, html=html))


def backtest_tearsheet(result: BacktestResult, files: Sequence[Path | str] = ()) -> Report:
    """:func:`backtest_report` with the tearsheet's charts, for the HTML format.

    The charts are :func:`portfolio.report.backtest_charts.backtest_charts`.
    """
    from portfolio.report.backtest_charts import backtest_charts

    return replace(backtest_report(result, files), charts=backtest_charts(result))


def backtest_html(result: BacktestResult) -> str:
    """``report.html``: the tearsheet (:func:`backtest_tearsheet`) in one self-contained page."""
    return render(backtest_tearsheet(result), "html")


def backtest_files(result: BacktestResult, *, html: bool = True) -> dict[str, str | bytes]:
    """The output folder's files by name, rendered in memory (no file is touched).

    ``html=False`` leaves ``report.html`` out.
    """
    plots = backtest_plots(result)
    return {
        "metrics.json": metrics_json(result),
        "equity.csv": equity_csv(result),
        "weights.csv": weights_csv(result),
        "trades.csv": trades_csv(result),
        **plots,
        "report.md": backtest_markdown(result, tuple(plots)),
        **({"report.html": backtest_html(result)} if html else {}),
        "manifest.json": manifest_json(result),
    }
