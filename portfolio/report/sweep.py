"""Presentation of a sweep: the ranked table, ``results.csv``, the plots and the manifest.

Every figure comes from :class:`portfolio.sweeps.results.SweepResult`; nothing is
computed here beyond grouping for the heatmap. Plots are drawn on matplotlib Figures
imported inside the plotting function. Files are written by :mod:`portfolio.data.output`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from portfolio.backtesting.spec import strategy_slug
from portfolio.data.output import write_files
from portfolio.report import Report, Section, fmt_number, fmt_pct, render, to_jsonable
from portfolio.report.figures import figure_png, legend_beside
from portfolio.report.palette import strategy_colours
from portfolio.sweeps.results import RankedRow, SweepResult
from portfolio.sweeps.spec import METRICS

__all__ = [
    "heatmap_figure",
    "heatmap_name",
    "results_csv",
    "scatter_figure",
    "sweep_files",
    "sweep_plots",
    "sweep_report",
    "write_sweep_outputs",
]

DPI = 110
PERCENT_METRICS = ("cagr", "volatility", "max_drawdown", "turnover", "annual_turnover",
                   "cost_drag", "tracking_error")
TITLES = {"cagr": "CAGR", "volatility": "volatility", "sharpe": "Sharpe", "sortino": "Sortino",
          "max_drawdown": "max drawdown", "calmar": "Calmar", "turnover": "avg turnover",
          "annual_turnover": "turnover/year", "cost_drag": "cost drag/year",
          "total_costs": "costs USD", "tracking_error": "TE", "beta": "beta",
          "final_value": "final USD", "failures": "failed dates"}
SHOWN = ("sharpe", "cagr", "volatility", "max_drawdown", "calmar", "annual_turnover",
         "failures")
HEADERS = {**TITLES, "volatility": "vol", "max_drawdown": "max DD", "annual_turnover": "turn/yr",
           "failures": "fails", "final_value": "final", "total_costs": "costs",
           "cost_drag": "cost/yr", "turnover": "turnover"}


def _cell(metric: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return fmt_number(None)
    if metric in PERCENT_METRICS:
        return fmt_pct(value, 1)
    if metric in ("final_value", "total_costs"):
        return fmt_number(value, 0, thousands=True)
    if metric == "failures":
        return str(int(value))
    return fmt_number(value)


def _value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _shown(metric: str) -> tuple[str, ...]:
    return (metric, *(m for m in SHOWN if m != metric))


def _headers(parameters: Sequence[str]) -> list[str]:
    """Column headers of the parameters: the last part of the name when that is unique."""
    short = [name.rsplit(".", 1)[-1] for name in parameters]
    return [s if short.count(s) == 1 else name for s, name in zip(short, parameters)]


def _summary(result: SweepResult, metric: str) -> list[str]:
    config, manifest = result.config, result.manifest
    cluster = manifest.get("cluster", {})
    run = manifest.get("run", {})
    where = cluster.get("mode", "")
    if cluster.get("scheduler"):
        where += f" ({cluster['scheduler']}, {cluster.get('workers')} workers)"
    strategies = ", ".join(config.strategies)
    this_run = (
        f"This run: {result.ran} computed ({run.get('failed', 0)} failed), {result.skipped} "
        f"found in {result.store.name}; {run.get('variants_per_minute', 0):g} variants/min "
        f"on {where}." if result.ran else
        f"This run: nothing to compute, every variant was found in {result.store.name}.")
    return [
        f"{len(result.variants)} variants of {Path(config.backtest_source).name} "
        f"({config.mode}: {', '.join(config.parameters)}), strategies: {strategies}.",
        this_run,
        f"Ranked by {TITLES[metric]} ({'higher' if METRICS[metric] else 'lower'} first).",
    ]


def sweep_report(result: SweepResult, metric: str | None = None,
                 files: Sequence[Path | str] = ()) -> Report:
    """The ranked variants (and the failed ones) as a :class:`Report`.

    Parameters
    ----------
    result : SweepResult
        From :func:`portfolio.sweep`.
    metric : str, optional
        Ranking metric (default the sweep's ``rank_by``).
    files : sequence of path, optional
        Output files written, listed in the JSON data.

    Returns
    -------
    Report
        Sections "Ranking" (one row per variant and strategy: rank, variant number, the
        swept values, the metrics) and "Failed variants" when any; ``data`` =
        {"rank_by", "ranking": [{rank, variant, key, parameters, strategy, metrics}],
        "failed": [{variant, key, parameters, error}], "notes": [{note, variants}],
        "manifest", "files"}.
    """
    metric = metric or result.config.rank_by
    ranked = result.ranked(metric)
    parameters = result.config.parameters
    shown = _shown(metric)
    multi = len(result.config.strategies) > 1
    rows = tuple(
        (str(row.rank), str(row.variant.index),
         *(_value(dict(row.variant.parameters).get(p, "-")) for p in parameters),
         *((row.strategy,) if multi else ()),
         *(_cell(m, row.metrics.get(m)) for m in shown))
        for row in ranked)
    columns = ("rank", "#", *_headers(parameters), *(("strategy",) if multi else ()),
               *(HEADERS[m] for m in shown))
    sections = [Section(f"Ranking by {TITLES[metric]}", columns, rows,
                        "Sharpe in excess of the cash rate; vol and CAGR annual; max DD = "
                        "largest drawdown; turn/yr = one-way turnover a year; fails = "
                        "rebalance dates whose solve failed (positions kept).")]
    if result.failed:
        sections.append(Section(
            "Failed variants", ("#", *_headers(parameters), "error"),
            tuple((str(v.index), *(_value(dict(v.parameters).get(p, "-")) for p in parameters),
                   v.error) for v in result.failed)))
    data = {
        "rank_by": metric,
        "ranking": [_ranked_data(row) for row in ranked],
        "failed": [{"variant": v.index, "key": v.key, "parameters": dict(v.parameters),
                    "error": v.error} for v in result.failed],
        "notes": [{"note": note, "variants": count} for note, count in result.notes.items()],
        "manifest": dict(result.manifest),
        "files": [str(path) for path in files],
    }
    title = f"Sweep {Path(result.config.source).name}"
    return Report(title, tuple(_summary(result, metric)), tuple(sections), data)


def _ranked_data(row: RankedRow) -> dict[str, Any]:
    return {"rank": row.rank, "variant": row.variant.index, "key": row.variant.key,
            "parameters": dict(row.variant.parameters), "strategy": row.strategy,
            "metrics": dict(row.metrics)}


def results_csv(result: SweepResult, metric: str | None = None) -> str:
    """``results.csv``: :meth:`SweepResult.table` (raw numbers, one row per variant x strategy)."""
    return result.table(metric).to_csv(index=False, float_format="%.10g", lineterminator="\n")


def heatmap_name(strategy: str) -> str:
    """File name of a strategy's heatmap (``heatmap_<slug>.png``)."""
    return f"heatmap_{strategy_slug(strategy)}.png"


def _grid(result: SweepResult, strategy: str, metric: str) -> pd.DataFrame | None:
    """Best ``metric`` over the other parameters, rows = first heatmap axis, cols = second."""
    if result.config.heatmap is None:
        return None
    rows_key, columns_key = result.config.heatmap
    records = [(dict(v.parameters).get(rows_key), dict(v.parameters).get(columns_key),
                v.metrics[strategy].get(metric))
               for v in result.variants if v.ok and strategy in v.metrics]
    frame = pd.DataFrame(records, columns=["row", "column", "value"]).dropna()
    if frame.empty:
        return None
    frame["row"], frame["column"] = frame["row"].map(_value), frame["column"].map(_value)
    best = frame.groupby(["row", "column"], sort=False)["value"]
    table = (best.max() if METRICS[metric] else best.min()).unstack("column")
    order = [_value(v) for v in dict.fromkeys(dict(v.parameters).get(rows_key)
                                              for v in result.variants)]
    columns = [_value(v) for v in dict.fromkeys(dict(v.parameters).get(columns_key)
                                                for v in result.variants)]
    return table.reindex(index=[o for o in order if o in table.index],
                         columns=[c for c in columns if c in table.columns])


def sweep_plots(result: SweepResult, metric: str | None = None) -> dict[str, bytes]:
    """PNG bytes by file name: ``scatter.png`` and ``heatmap_<strategy>.png`` per strategy."""
    metric = metric or result.config.rank_by
    plots = {"scatter.png": figure_png(scatter_figure(result, metric), DPI)}
    for strategy in result.config.strategies:
        figure = heatmap_figure(result, strategy, metric)
        if figure is not None:
            plots[heatmap_name(strategy)] = figure_png(figure, DPI)
    return plots


def scatter_figure(result: SweepResult, metric: str) -> Any:
    """Every variant on the ``[report] scatter`` metrics.

    One strategy: points coloured by ``metric`` (with a colour bar). Several: each in its
    :func:`~portfolio.report.palette.strategy_colours` colour, the legend right of the axes.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure  # matplotlib loads only when a PNG is drawn

    strategies = result.config.strategies
    colours = strategy_colours(strategies)
    x_metric, y_metric = result.config.scatter
    figure = Figure(figsize=(8, 5.5))
    axis = figure.subplots()
    for strategy in strategies:
        points = [(row.metrics.get(x_metric), row.metrics.get(y_metric),
                   row.metrics.get(metric)) for row in result.ranked(metric)
                  if row.strategy == strategy]
        points = [p for p in points if p[0] is not None and p[1] is not None]
        if not points:
            continue
        x, y, colour = (np.array([p[i] if p[i] is not None else np.nan for p in points],
                                 dtype=float) for i in range(3))
        scale = 100.0
        drawn = axis.scatter(x * (scale if x_metric in PERCENT_METRICS else 1),
                             y * (scale if y_metric in PERCENT_METRICS else 1),
                             c=colour if len(strategies) == 1 else colours[strategy],
                             s=28, alpha=0.85, label=strategy)
        if len(strategies) == 1:
            figure.colorbar(drawn, ax=axis, label=TITLES[metric])
    axis.set_xlabel(TITLES[x_metric] + (" (%)" if x_metric in PERCENT_METRICS else ""))
    axis.set_ylabel(TITLES[y_metric] + (" (%)" if y_metric in PERCENT_METRICS else ""))
    axis.set_title(f"{len(result.variants)} variants: {TITLES[y_metric]} vs "
                   f"{TITLES[x_metric]}")
    axis.grid(True, alpha=0.3)
    if len(strategies) > 1:
        legend_beside(axis)
    return figure


def heatmap_figure(result: SweepResult, strategy: str, metric: str) -> Any:
    """A strategy's ``metric`` over the two ``[report] heatmap`` parameters.

    Returns
    -------
    matplotlib.figure.Figure or None
        None when the sweep has no heatmap (fewer than two parameters vary).
    """
    from matplotlib.figure import Figure

    grid = _grid(result, strategy, metric)
    if grid is None:
        return None
    figure = Figure(figsize=(1.3 * len(grid.columns) + 3, 0.55 * len(grid.index) + 2.2))
    axis = figure.subplots()
    image = axis.imshow(grid.to_numpy(dtype=float), cmap="viridis", aspect="auto")
    axis.set_xticks(range(len(grid.columns)), list(grid.columns))
    axis.set_yticks(range(len(grid.index)), list(grid.index))
    low, high = image.get_clim()
    for (i, j), value in np.ndenumerate(grid.to_numpy(dtype=float)):
        if np.isfinite(value):
            light = high > low and (value - low) / (high - low) > 0.6
            axis.text(j, i, _cell(metric, value), ha="center", va="center",
                      color="black" if light else "white", fontsize=8)
    rows_key, columns_key = result.config.heatmap
    axis.set_xlabel(columns_key)
    axis.set_ylabel(rows_key)
    axis.set_title(f"{strategy}: {TITLES[metric]} (best over the other parameters)")
    figure.colorbar(image, ax=axis, label=TITLES[metric])
    return figure


def sweep_markdown(result: SweepResult, metric: str | None, images: Sequence[str]) -> str:
    """``report.md``: the ranked table, the failed variants and the plots by relative path."""
    lines = [render(sweep_report(result, metric), "markdown").rstrip("\n"), ""]
    if images:
        lines += ["## Plots", ""] + [f"![{image}]({image})\n" for image in images]
    manifest = result.manifest
    cluster = manifest.get("cluster", {})
    lines += ["## Run", "",
              f"Sweep sha256 `{manifest.get('sweep', {}).get('sha256', '')}`; prices sha256 "
              f"`{manifest.get('data', {}).get('sha256', '')}`; {cluster.get('mode', '')} "
              f"with {cluster.get('workers', '')} worker(s), Dask "
              f"{cluster.get('dask_version') or '-'}; created "
              f"{manifest.get('created_utc', '')}. See `manifest.json`; every variant is in "
              f"`{result.store.name}`.", ""]
    return "\n".join(lines)


def sweep_files(result: SweepResult, metric: str | None = None) -> dict[str, str | bytes]:
    """The output folder's files by name, rendered in memory (no file is touched)."""
    plots = sweep_plots(result, metric)
    return {
        "results.csv": results_csv(result, metric),
        **plots,
        "report.md": sweep_markdown(result, metric, tuple(plots)),
        "manifest.json": json.dumps(to_jsonable(dict(result.manifest)), indent=2) + "\n",
    }


def write_sweep_outputs(result: SweepResult, folder: str | Path,
                        metric: str | None = None) -> list[Path]:
    """Write a sweep's report files next to its results store (all files or none).

    Files: ``results.csv`` (:meth:`SweepResult.table`), ``scatter.png``,
    ``heatmap_<strategy>.png`` (when two parameters vary), ``report.md`` and
    ``manifest.json``. The results store ``results.sqlite`` is left as it is.

    Parameters
    ----------
    result : SweepResult
        From :func:`portfolio.sweep`.
    folder : str or Path
        Usually the sweep's output folder; created if missing.
    metric : str, optional
        Ranking metric (default the sweep's ``rank_by``).

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    InputError
        An unknown metric, or a folder that cannot be written (nothing is then changed).
    """
    return write_files(folder, sweep_files(result, metric))
