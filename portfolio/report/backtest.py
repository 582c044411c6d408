"""Presentation of a backtest: the metrics Report, the output files' text and the PNG plots.

Nothing is computed here beyond drawdown curves for the plot; every figure comes from
:class:`portfolio.backtesting.results.BacktestResult`. Plots are drawn on matplotlib
Figures (no global backend is set), imported inside the plotting function so that
importing this module stays light. Files are written by :mod:`portfolio.data.output`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, replace
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
    "ChartData",
    "backtest_files",
    "backtest_markdown",
    "backtest_plots",
    "backtest_report",
    "drawdowns_figure",
    "equity_csv",
    "equity_figure",
    "manifest_json",
    "metrics_json",
    "plot_names",
    "plot_png",
    "plot_pngs",
    "start_plots",
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


@dataclass(frozen=True)
class ChartData:
    """What the PNG charts of a backtest draw, apart from the rest of the result.

    Small and picklable, so a chart can be drawn in a worker process
    (:func:`backtest_files` with an executor).

    Attributes
    ----------
    equity : DataFrame
        Trading dates x (strategies + benchmarks), USD (:attr:`BacktestResult.equity`).
    strategies : tuple of str
        Strategy names in the config's order (it sets their colours).
    benchmarks : tuple of str
        Benchmark tickers (dashed lines).
    tickers : tuple of str
        The universe (the order of the weights stacks).
    weights : mapping of str to DataFrame
        Daily weights (dates x tickers and ``CASH``, fractions) of the strategies whose
        weights chart is drawn.
    """

    equity: pd.DataFrame
    strategies: tuple[str, ...]
    benchmarks: tuple[str, ...]
    tickers: tuple[str, ...]
    weights: Mapping[str, pd.DataFrame]

    @classmethod
    def of(cls, result: BacktestResult | ChartData, weights_of: Sequence[str] | None = None,
           *, equity: bool = True) -> ChartData:
        """The chart data of a result, with the weights of ``weights_of`` (default all).

        ``equity=False`` leaves the equity curves out (an empty frame): a weights chart
        alone does not need them.
        """
        if isinstance(result, ChartData):
            return result
        names = list(result.strategies) if weights_of is None else weights_of
        return cls(result.equity if equity else pd.DataFrame(), tuple(result.strategies),
                   tuple(result.benchmarks.columns), tuple(result.config.tickers),
                   {name: result.strategies[name].daily_weights for name in names})


def plot_names(result: BacktestResult) -> dict[str, str | None]:
    """The PNG files of a backtest, by name: the strategy of a weights chart, else None."""
    return {"equity.png": None, "drawdowns.png": None,
            **{weights_plot_name(name): name for name in result.strategies}}


def plot_png(name: str, data: ChartData, strategy: str | None = None) -> bytes:
    """The PNG file ``name`` of :func:`plot_names` (``strategy`` for a weights chart)."""
    return plot_pngs({name: strategy}, data)[name]


def plot_pngs(names: Mapping[str, str | None], data: ChartData) -> dict[str, bytes]:
    """PNG bytes of several files of :func:`plot_names` (file name -> strategy or None).

    The weights charts are drawn in turn on one figure (:func:`weights_figure` with
    ``figure``): a seventh faster than a figure each, and the same bytes.
    """
    pngs: dict[str, bytes] = {}
    weights = None
    for name, strategy in names.items():
        if strategy is not None:
            figure = weights = weights_figure(data, strategy, weights)
        else:
            figure = equity_figure(data) if name == "equity.png" else drawdowns_figure(data)
        pngs[name] = figure_png(figure, crop=False)
    return pngs


def backtest_plots(result: BacktestResult, executor: Executor | None = None
                   ) -> dict[str, bytes]:
    """PNG bytes by file name: equity curves, drawdowns and weights per strategy.

    The figures are laid out by :func:`~portfolio.report.figures.fit_legend_beside`, so
    they are saved uncropped (a third faster). With an executor they are drawn in its
    workers (:func:`start_plots`).
    """
    return {name: png() for name, png in start_plots(result, executor).items()}


def start_plots(result: BacktestResult, executor: Executor | None = None
                ) -> dict[str, Callable[[], bytes]]:
    """Start drawing the plots in ``executor``; each callable waits for its PNG bytes.

    The plots go in up to four tasks, in this order: the equity curves, the drawdowns,
    and the weights charts in two halves (the smaller first, as the equity chart takes
    longest), so that two workers finish together. A task whose worker fails (e.g. the
    pool broke) is drawn again in this process, where its error, if any, is raised.
    Without an executor a task is drawn when one of its plots is first asked for.
    """
    names = plot_names(result)
    weights = [name for name, strategy in names.items() if strategy is not None]
    half = len(weights) // 2
    plots: dict[str, Callable[[], bytes]] = {}
    for batch in (["equity.png"], ["drawdowns.png"], weights[:half], weights[half:]):
        if not batch:
            continue
        strategies = [names[name] for name in batch if names[name] is not None]
        data = (ChartData.of(result, strategies, equity=False) if strategies
                else ChartData.of(result, ()))
        draw = functools.partial(plot_pngs, {name: names[name] for name in batch}, data)
        pngs = functools.cache(draw if executor is None else functools.partial(
            _result_or_redraw, executor.submit(draw), draw))
        plots.update({name: functools.partial(_png_of, pngs, name) for name in batch})
    return {name: plots[name] for name in names}


def _png_of(pngs: Callable[[], Mapping[str, bytes]], name: str) -> bytes:
    return pngs()[name]


def _result_or_redraw(work: Future, draw: Callable[[], dict[str, bytes]]
                      ) -> dict[str, bytes]:
    try:
        return work.result()
    except Exception:  # drawn again here, where its error is raised
        return draw()


def _lines(data: ChartData, axis: Any, values: pd.DataFrame, width: float) -> None:
    """One line per strategy and benchmark (dashed), in the palette's strategy colours."""
    colours = strategy_colours(list(data.strategies), data.benchmarks)
    dates = values.index.to_numpy()  # datetime64: no per-date Python conversion
    for name in values.columns:
        axis.plot(dates, values[name].to_numpy(), "--" if name in data.benchmarks else "-",
                  color=colours[name], linewidth=width, label=name)


def equity_figure(result: BacktestResult | ChartData) -> Any:
    """Equity curves of the strategies and benchmarks on a log scale, in USD.

    Ticks at 1-2-5 steps (or finer when the range is narrow) labelled ``50k``, ``100k``,
    ``1M``; the legend sits right of the axes.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure  # matplotlib loads only when a PNG is drawn
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    data = ChartData.of(result, ())
    figure = Figure(figsize=(10, 5.5), dpi=DPI)
    axis = figure.subplots()
    _lines(data, axis, data.equity, 1.2)
    axis.set_yscale("log")
    axis.yaxis.set_major_locator(FixedLocator(log_ticks(*axis.get_ylim())))
    axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: short_usd(value)))
    axis.yaxis.set_minor_formatter(NullFormatter())
    axis.set_ylabel("value (USD, log scale)")
    axis.set_title("Equity", y=1.0)
    axis.grid(True, which="major", alpha=0.35)
    axis.grid(True, which="minor", alpha=0.12)
    fit_legend_beside(figure, legend_beside(axis))
    return figure


def drawdowns_figure(result: BacktestResult | ChartData) -> Any:
    """Drawdown from the running peak of every strategy and benchmark, in percent.

    Returns
    -------
    matplotlib.figure.Figure
        The legend sits right of the axes, clear of the troughs.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    data = ChartData.of(result, ())
    equity = data.equity
    drawdowns = equity / np.fmax.accumulate(equity.to_numpy(), axis=0) - 1.0
    figure = Figure(figsize=(10, 4.5), dpi=DPI)
    axis = figure.subplots()
    _lines(data, axis, drawdowns, 1.0)
    axis.yaxis.set_major_formatter(PercentFormatter(1.0))
    axis.set_ylabel("below the running peak")
    axis.set_title("Drawdown from the running peak", y=1.0)
    axis.grid(True, alpha=0.3)
    fit_legend_beside(figure, legend_beside(axis))
    return figure


def weights_figure(result: BacktestResult | ChartData, strategy: str,
                   figure: Any | None = None) -> Any:
    """A strategy's weights at each close, stacked to 100 %.

    Every ticker wears its :func:`~portfolio.report.palette.ticker_colour` and takes its
    place in :func:`~portfolio.report.palette.stack_order` of the universe (cash light
    grey on top), so a name looks the same in every strategy's chart. The legend, right of
    the axes, lists the names top of the stack first.

    Parameters
    ----------
    result : BacktestResult or ChartData
        The backtest (chart data holding ``strategy``'s weights).
    strategy : str
        A key of ``result.strategies``.
    figure : matplotlib.figure.Figure, optional
        Another strategy's weights figure, drawn on again: its stack, legend and title
        are replaced, and the picture is the same as on a new figure, without the cost of
        setting up the axes. None: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        ``figure`` when given (a new one for a strategy that held nothing).
    """
    from matplotlib.dates import date2num
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    data = ChartData.of(result, (strategy,), equity=False)
    weights = data.weights[strategy]
    held = stack_order([c for c in weights.columns if (weights[c].abs() > 1e-9).any()],
                       data.tickers)  # the HTML stack's order too
    if figure is None or not held:
        figure = Figure(figsize=(10, 4.5), dpi=DPI)
        axis = figure.subplots()
    else:
        axis = figure.axes[0]
        for layer in list(axis.collections):
            layer.remove()
        if axis.get_legend() is not None:
            axis.get_legend().remove()
        axis.ignore_existing_data_limits = True  # the limits of this stack alone
    legend = None
    if held:
        axis.xaxis_date()  # dates as matplotlib's day numbers, converted once for all layers
        layers = axis.stackplot(date2num(weights.index.to_numpy()),
                                *np.clip(weights[held].to_numpy().T, 0.0, None),
                                labels=held, colors=[ticker_colour(c) for c in held],
                                linewidth=0)
        legend = legend_beside(axis, layers[::-1], held[::-1], fontsize=7)
    fit_legend_beside(figure, legend)
    axis.set_ylim(0, 1)
    axis.yaxis.set_major_formatter(PercentFormatter(1.0))
    axis.set_title(f"{strategy}: weights at each close", y=1.0)
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
                           html: bool = True, executor: Executor | None = None) -> list[Path]:
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
    executor : concurrent.futures.Executor, optional
        Workers that draw the PNG charts meanwhile (:func:`backtest_files`).

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
    return write_files(folder, backtest_files(result, html=html, executor=executor))


def backtest_tearsheet(result: BacktestResult, files: Sequence[Path | str] = ()) -> Report:
    """:func:`backtest_report` with the tearsheet's charts, for the HTML format.

    The charts are :func:`portfolio.report.backtest_charts.backtest_charts`.
    """
    from portfolio.report.backtest_charts import backtest_charts

    return replace(backtest_report(result, files), charts=backtest_charts(result))


def backtest_html(result: BacktestResult) -> str:
    """``report.html``: the tearsheet (:func:`backtest_tearsheet`) in one self-contained page."""
    return render(backtest_tearsheet(result), "html")


def backtest_files(result: BacktestResult, *, html: bool = True,
                   executor: Executor | None = None) -> dict[str, str | bytes]:
    """The output folder's files by name, rendered in memory (no file is touched).

    ``html=False`` leaves ``report.html`` out. With an executor the PNG charts are drawn
    in its workers while this process renders the tables and the HTML page; the files
    are the same byte for byte.
    """
    plots = start_plots(result, executor)
    texts = {
        "metrics.json": metrics_json(result),
        "equity.csv": equity_csv(result),
        "weights.csv": weights_csv(result),
        "trades.csv": trades_csv(result),
        "report.md": backtest_markdown(result, tuple(plots)),
        **({"report.html": backtest_html(result)} if html else {}),
        "manifest.json": manifest_json(result),
    }
    first = ("metrics.json", "equity.csv", "weights.csv", "trades.csv")
    return {**{name: texts.pop(name) for name in first},
            **{name: png() for name, png in plots.items()}, **texts}
