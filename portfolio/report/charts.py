"""Chart specifications for the HTML reports: Plotly figures as plain dicts.

Each builder returns a :class:`~portfolio.report.Chart` whose ``figure`` is a Plotly
figure in JSON form (``{"data": [...], "layout": {...}}``), built from numbers with no
Plotly import: the page renders it with the inlined plotly.js. Colours come from
:mod:`portfolio.report.palette`, so a ticker, a group or a strategy has one colour in every
chart. Numbers are fractions unless a builder says USD; dates are ``YYYY-MM-DD``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from portfolio.report import Chart
from portfolio.report.figures import log_ticks, short_usd
from portfolio.report.palette import (
    CASH_COLOUR,
    FRONTIER_COLOURS,
    group_colour,
    stack_order,
    ticker_colour,
)

__all__ = [
    "bar_chart",
    "clustered_order",
    "correlation_heatmap",
    "deal_graph_chart",
    "distribution_chart",
    "equity_chart",
    "frontier_chart",
    "group_colours",
    "group_weights",
    "grouped_bars",
    "limit_usage_chart",
    "log_ticks",
    "monthly_heatmap",
    "path_chart",
    "pnl_heatmap",
    "rolling_chart",
    "scenario_chart",
    "stacked_area",
    "underwater_chart",
    "weight_risk_chart",
]

MAX_POINTS = 1500
"""Longest series drawn per trace for stacked areas (a longer one is thinned evenly)."""

_BASE_LAYOUT: dict[str, Any] = {
    "margin": {"l": 60, "r": 20, "t": 30, "b": 45},
    "font": {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 12},
    "hovermode": "x unified",
    "legend": {"orientation": "h", "y": -0.15},
    "plot_bgcolor": "#ffffff",
    "paper_bgcolor": "#ffffff",
}


GAIN_LOSS = [[0.0, "#b2182b"], [0.5, "#f7f7f7"], [1.0, "#1b7837"]]
"""Diverging colour scale: losses red, gains green (plotly.js has no RdYlGn built in)."""


def _layout(**overrides: Any) -> dict[str, Any]:
    layout = {**_BASE_LAYOUT, **overrides}
    for axis in ("xaxis", "yaxis"):
        layout[axis] = {"gridcolor": "#e5e5e5", "zerolinecolor": "#bbbbbb",
                        **layout.get(axis, {})}
    return layout


def _numbers(values: Any, digits: int = 6) -> list[float | None]:
    """Plain floats rounded to ``digits`` significant decimals; NaN and inf -> None."""
    rounded = np.round(np.asarray(values, dtype=float), digits)
    numbers: list[float | None] = rounded.tolist()
    for k in np.flatnonzero(~np.isfinite(rounded)).tolist():
        numbers[k] = None
    return numbers


def _dates(index: pd.Index) -> list[str]:
    return np.datetime_as_string(pd.DatetimeIndex(index).to_numpy(), unit="D").tolist()


def _thin(frame: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    step = max(1, math.ceil(len(frame) / MAX_POINTS))
    return frame if step == 1 else frame.iloc[::step]


def equity_chart(equity: pd.DataFrame, colours: Mapping[str, str],
                 dashed: Sequence[str] = ()) -> Chart:
    """Value of each strategy and benchmark (USD, log axis labelled 1-2-5).

    Parameters
    ----------
    equity : DataFrame
        Dates x series, USD.
    colours : mapping
        Series name -> colour.
    dashed : sequence of str
        Series drawn dashed (benchmarks).
    """
    traces = [{
        "type": "scatter", "mode": "lines", "name": name, "x": _dates(equity.index),
        "y": _numbers(equity[name], 2),
        "line": {"color": colours.get(name), "width": 1.5,
                 "dash": "dash" if name in dashed else "solid"},
        "hovertemplate": "%{y:,.0f} USD",
    } for name in equity.columns]
    values = equity.to_numpy(dtype=float)
    finite = values[np.isfinite(values) & (values > 0)]
    ticks = log_ticks(float(finite.min()), float(finite.max())) if finite.size else []
    layout = _layout(yaxis={"type": "log", "title": {"text": "USD (log scale)"},
                            "tickvals": ticks, "ticktext": [short_usd(t) for t in ticks]},
                     xaxis={"rangeslider": {"visible": False}})
    return Chart("Equity", {"data": traces, "layout": layout},
                 "Value of each strategy and benchmark; drag to zoom, double-click to reset.")


def underwater_chart(equity: pd.DataFrame, colours: Mapping[str, str],
                     dashed: Sequence[str] = ()) -> Chart:
    """Drawdown from the running peak of each series (fractions, <= 0)."""
    values = equity.to_numpy(dtype=float)
    drawdown = values / np.fmax.accumulate(values, axis=0) - 1.0
    dates = _dates(equity.index)
    traces = [{
        "type": "scatter", "mode": "lines", "name": name, "x": dates,
        "y": _numbers(drawdown[:, k], 5),
        "line": {"color": colours.get(name), "width": 1.2,
                 "dash": "dash" if name in dashed else "solid"},
        "hovertemplate": "%{y:.1%}",
    } for k, name in enumerate(equity.columns)]
    layout = _layout(yaxis={"tickformat": ".0%", "title": {"text": "below the peak"}})
    return Chart("Underwater (drawdown)", {"data": traces, "layout": layout})


def monthly_heatmap(returns: pd.Series, title: str) -> Chart:
    """Calendar of monthly returns (years x months) from daily simple returns."""
    monthly = (1.0 + returns.fillna(0.0)).groupby(
        [returns.index.year, returns.index.month]).prod() - 1.0
    years = sorted({year for year, _ in monthly.index})
    grid = np.full((len(years), 12), np.nan)
    for (year, month), value in monthly.items():
        grid[years.index(year), month - 1] = value
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
              "Dec"]
    bound = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 0.1
    trace = {
        "type": "heatmap", "z": [_numbers(row, 5) for row in grid], "x": months,
        "y": [str(y) for y in years], "colorscale": GAIN_LOSS, "zmin": -bound, "zmax": bound,
        "texttemplate": "%{z:.1%}", "hovertemplate": "%{y} %{x}: %{z:.2%}<extra></extra>",
        "colorbar": {"tickformat": ".0%"}, "xgap": 1, "ygap": 1,
    }
    layout = _layout(yaxis={"autorange": "reversed", "type": "category"},
                     height=max(260, 22 * len(years) + 90), hovermode="closest")
    return Chart(title, {"data": [trace], "layout": layout})


def grouped_bars(table: pd.DataFrame, colours: Mapping[str, str], title: str,
                 *, percent: bool = True, note: str = "") -> Chart:
    """One bar group per row label, one bar per column (a column = a series)."""
    traces = [{
        "type": "bar", "name": str(column), "x": [str(i) for i in table.index],
        "y": _numbers(table[column], 6), "marker": {"color": colours.get(column)},
        "hovertemplate": "%{y:.2%}" if percent else "%{y:,.2f}",
    } for column in table.columns]
    layout = _layout(barmode="group", yaxis={"tickformat": ".0%" if percent else ",.0f"},
                     hovermode="closest")
    return Chart(title, {"data": traces, "layout": layout}, note)


def rolling_chart(returns: pd.DataFrame, market: pd.Series | None,
                  colours: Mapping[str, str], window: int = 126,
                  periods_per_year: int = 252) -> Chart:
    """Rolling volatility, Sharpe ratio (excess of nothing) and beta to ``market``.

    Parameters
    ----------
    returns : DataFrame
        Daily simple returns, dates x strategies.
    market : Series or None
        Daily returns of the benchmark for the beta (no beta panel when None).
    window : int
        Trading days per window (126: about six months).
    """
    dates = _dates(returns.index)
    rolling = returns.rolling(window, min_periods=window)
    volatility = rolling.std() * math.sqrt(periods_per_year)
    sharpe = rolling.mean() * periods_per_year / volatility.replace(0.0, np.nan)
    panels = [("volatility", volatility, ".0%"), ("Sharpe ratio", sharpe, ".1f")]
    if market is not None:
        aligned = market.reindex(returns.index)
        beta = returns.apply(lambda column: column.rolling(window, min_periods=window)
                             .cov(aligned) / aligned.rolling(window, min_periods=window).var())
        panels.append((f"beta to {market.name}", beta, ".2f"))
    traces, layout = [], _layout(height=220 * len(panels) + 60, hovermode="x unified")
    gap = 0.06
    size = (1.0 - gap * (len(panels) - 1)) / len(panels)
    for k, (label, frame, fmt) in enumerate(panels):
        axis = "" if k == 0 else str(k + 1)
        top = 1.0 - k * (size + gap)
        layout[f"yaxis{axis}"] = {"domain": [top - size, top], "tickformat": fmt,
                                  "title": {"text": label}, "gridcolor": "#e5e5e5"}
        layout[f"xaxis{axis}"] = {"anchor": f"y{axis}", "showticklabels": k == len(panels) - 1,
                                  "gridcolor": "#e5e5e5", **({"matches": "x"} if k else {})}
        for name in frame.columns:
            traces.append({
                "type": "scatter", "mode": "lines", "name": name, "x": dates,
                "y": _numbers(frame[name], 4), "xaxis": f"x{axis}", "yaxis": f"y{axis}",
                "line": {"color": colours.get(name), "width": 1.2}, "legendgroup": name,
                "showlegend": k == 0, "hovertemplate": f"%{{y:{fmt}}}",
            })
    return Chart(f"Rolling {window}-day volatility, Sharpe and beta",
                 {"data": traces, "layout": layout},
                 "Annualised over a moving window of about six months.")


def distribution_chart(returns: Mapping[str, pd.Series], colours: Mapping[str, str],
                       title: str, confidence: float = 0.95) -> Chart:
    """Histogram of daily returns with the historical VaR and CVaR marked.

    One series is shown at a time (a menu picks it).

    VaR is the loss at the ``1 - confidence`` quantile; CVaR the mean loss beyond it. Both
    are vertical lines (dashed VaR, dotted CVaR) labelled with their values.
    """
    series = {name: s.dropna().to_numpy(dtype=float) for name, s in returns.items()}
    series = {name: values for name, values in series.items() if values.size}
    traces, views = [], []
    for name, values in series.items():
        var = -float(np.quantile(values, 1.0 - confidence))
        tail = values[values <= -var]
        cvar = -float(tail.mean()) if tail.size else var
        traces.append({"type": "histogram", "name": name, "x": _numbers(values, 6),
                       "histnorm": "probability density", "nbinsx": 80,
                       "marker": {"color": colours.get(name)}, "visible": not traces})
        shapes, annotations = [], []
        for k, (value, dash, label) in enumerate(((var, "dash", "VaR"), (cvar, "dot", "CVaR"))):
            shapes.append({"type": "line", "x0": -value, "x1": -value, "yref": "paper",
                           "y0": 0, "y1": 1, "line": {"color": "#c0392b", "dash": dash,
                                                      "width": 1.5}})
            annotations.append({"x": -value, "yref": "paper", "y": 1 - 0.08 * k,
                                "text": f"{label} {value:.2%}", "showarrow": False,
                                "xanchor": "right", "font": {"size": 11, "color": "#c0392b"}})
        views.append((name, shapes, annotations))
    buttons = [{"label": name, "method": "update",
                "args": [{"visible": [j == k for j in range(len(views))]},
                         {"shapes": shapes, "annotations": annotations}]}
               for k, (name, shapes, annotations) in enumerate(views)]
    layout = _layout(shapes=views[0][1] if views else [],
                     annotations=views[0][2] if views else [],
                     xaxis={"tickformat": ".0%", "title": {"text": "daily return"}},
                     yaxis={"title": {"text": "density"}}, hovermode="closest",
                     showlegend=False)
    if len(buttons) > 1:
        layout["updatemenus"] = [{"buttons": buttons, "direction": "down", "x": 1.0,
                                  "xanchor": "right", "y": 1.15, "yanchor": "top"}]
    level = f"{100 * confidence:.0f} %"
    return Chart(title, {"data": traces, "layout": layout},
                 f"Dashed: 1-day historical VaR at {level}; dotted: CVaR (the mean loss beyond "
                 "it). The menu picks the series.")


def stacked_area(weights: pd.DataFrame, title: str, colours: Mapping[str, str] | None = None,
                 universe: Sequence[str] = ()) -> Chart:
    """Weights over time as a stack (bottom = first of :func:`stack_order`, CASH on top).

    The legend lists the stack from the top down, as it is drawn. Columns are tickers
    (``colours`` default :func:`ticker_colour`) or groups (pass ``colours``).
    """
    held = [c for c in weights.columns if (weights[c].abs() > 1e-9).any()]
    order = stack_order(held, universe or list(weights.columns))
    thinned = _thin(weights)
    dates = _dates(thinned.index)
    traces = [{
        "type": "scatter", "mode": "lines", "name": name, "x": dates,
        "y": _numbers(np.maximum(thinned[name].to_numpy(), 0.0), 5), "stackgroup": "weights",
        "line": {"width": 0}, "legendrank": len(order) - k,
        "fillcolor": (colours or {}).get(name) or ticker_colour(name),
        "hovertemplate": "%{y:.1%}",
    } for k, name in enumerate(order)]
    layout = _layout(yaxis={"tickformat": ".0%", "range": [0, 1]}, height=440,
                     legend={"orientation": "v", "x": 1.02, "y": 1, "traceorder": "normal"})
    return Chart(title, {"data": traces, "layout": layout})


def group_weights(weights: pd.DataFrame, groups: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Weights summed per group (dates x groups, ``other`` and ``CASH`` kept apart)."""
    member = {t: g for g, names in groups.items() for t in names}
    labels = [("CASH" if c == "CASH" else member.get(c, "other")) for c in weights.columns]
    return weights.T.groupby(labels, sort=False).sum().T


def group_colours(names: Sequence[str]) -> dict[str, str]:
    """Colours of groups (``CASH`` light grey)."""
    return {name: CASH_COLOUR if name == "CASH" else group_colour(name) for name in names}


def bar_chart(values: pd.Series, title: str, *, colours: Mapping[str, str] | None = None,
              percent: bool = True, note: str = "", horizontal: bool = False) -> Chart:
    """One bar per label, coloured by ticker (or by ``colours``)."""
    labels = [str(i) for i in values.index]
    colour = [(colours or {}).get(label) or ticker_colour(label) for label in labels]
    fmt = ".2%" if percent else ",.2f"
    trace = {"type": "bar", "marker": {"color": colour}, "hovertemplate": f"%{{y:{fmt}}}"
             "<extra>%{x}</extra>"}
    numbers = _numbers(values.to_numpy(dtype=float), 6)
    if horizontal:
        trace.update(orientation="h", x=numbers, y=labels,
                     hovertemplate=f"%{{x:{fmt}}}<extra>%{{y}}</extra>")
        layout = _layout(xaxis={"tickformat": ".0%" if percent else ",.0f"},
                         yaxis={"autorange": "reversed"}, hovermode="closest",
                         height=max(240, 26 * len(labels) + 80))
    else:
        trace.update(x=labels, y=numbers)
        layout = _layout(yaxis={"tickformat": ".0%" if percent else ",.0f"},
                         hovermode="closest")
    return Chart(title, {"data": [trace], "layout": layout}, note)


USAGE_SHOWN = 2.0
"""Longest bar of the limit-usage chart (200 % of a limit); the text gives the figures."""


def limit_usage_chart(limits: Sequence[Mapping[str, Any]], title: str = "Limit usage") -> Chart:
    """Each limit's value as a share of its bound (1 = at the limit; red when breached).

    ``limits`` are the JSON limit rows (``name``, ``value``, ``limit``, ``sense``, ``ok``).
    A cap's usage is ``value / limit``; a floor's is ``limit / value`` (above 1 breached).
    """
    names, usage, colours, texts = [], [], [], []
    for row in limits:
        value, limit = row.get("value"), row.get("limit")
        if value is None or limit is None:
            continue
        if row.get("sense") == ">=":
            share = (limit / value) if value > 0 else (math.inf if limit > 0 else 0.0)
        else:
            share = (value / limit) if limit > 0 else (0.0 if value <= 0 else math.inf)
        names.append(str(row["name"]))
        usage.append(min(share, USAGE_SHOWN))
        colours.append("#c0392b" if not row.get("ok", True) else
                       ("#e69f00" if share >= 0.999 else "#2e7d32"))
        texts.append(f"{value:.2%} {row.get('sense', '<=')} {limit:.2%}")
    trace = {"type": "bar", "orientation": "h", "x": _numbers(usage, 4), "y": names,
             "marker": {"color": colours}, "text": texts, "textposition": "outside",
             "cliponaxis": False,
             "hovertemplate": "%{y}: %{text}<extra></extra>"}
    right = max([1.0, *usage]) * 1.45
    layout = _layout(xaxis={"tickformat": ".0%", "range": [0, right],
                            "title": {"text": "share of the limit used"}},
                     yaxis={"autorange": "reversed", "automargin": True},
                     shapes=[{"type": "line", "x0": 1, "x1": 1, "yref": "paper", "y0": 0,
                              "y1": 1, "line": {"color": "#c0392b", "dash": "dash"}}],
                     hovermode="closest", height=max(240, 24 * len(names) + 90))
    return Chart(title, {"data": [trace], "layout": layout},
                 "Green: room left; amber: at the limit; red: breached. A floor's usage is "
                 "its bound over the value.")


def clustered_order(correlation: pd.DataFrame) -> list[str]:
    """Labels ordered by average-linkage clustering on ``1 - correlation`` (numpy only).

    Clusters merge closest first; the order lists each merged cluster's members side by
    side, so correlated names sit next to each other in a heatmap.
    """
    labels = list(correlation.index)
    distance = 1.0 - correlation.to_numpy(dtype=float)
    clusters: list[list[int]] = [[k] for k in range(len(labels))]
    while len(clusters) > 1:
        best, pair = math.inf, (0, 1)
        for a in range(len(clusters)):
            for b in range(a + 1, len(clusters)):
                mean = float(np.nanmean(distance[np.ix_(clusters[a], clusters[b])]))
                if mean < best:
                    best, pair = mean, (a, b)
        a, b = pair
        clusters[a] = clusters[a] + clusters[b]
        del clusters[b]
    return [labels[k] for k in clusters[0]] if clusters else []


def correlation_heatmap(correlation: pd.DataFrame, title: str = "Correlation (clustered)"
                        ) -> Chart:
    """Correlation matrix, names ordered by :func:`clustered_order`."""
    order = clustered_order(correlation)
    matrix = correlation.loc[order, order].to_numpy(dtype=float)
    trace = {"type": "heatmap", "z": [_numbers(row, 3) for row in matrix], "x": order,
             "y": order, "zmin": -1, "zmax": 1, "colorscale": "RdBu",
             "texttemplate": "%{z:.2f}", "hovertemplate": "%{y} / %{x}: %{z:.2f}<extra></extra>"}
    layout = _layout(yaxis={"autorange": "reversed"}, hovermode="closest",
                     height=max(320, 34 * len(order) + 120))
    return Chart(title, {"data": [trace], "layout": layout},
                 "Names that move together are placed next to each other.")


def deal_graph_chart(deals: Sequence[tuple[str, str, float, str]], hub: str,
                     exposures: Mapping[str, float], holdings: Mapping[str, float],
                     members: Sequence[str] = ()) -> Chart:
    """The deal graph around ``hub``: the hub at the centre, every entity on a circle.

    Parameters
    ----------
    deals : sequence of (source, target, annual flow in USD bn, kind)
        Edges; line width grows with the flow.
    hub : str
        The centre (e.g. ``OpenAI``); ``members`` (its private parts) sit beside it.
    exposures : mapping
        Look-through exposure of each ticker to the hub (fraction of its revenue).
    holdings : mapping
        The portfolio's weight x exposure per holding (fraction of the portfolio): a held
        node's size shows it.
    """
    names = list(dict.fromkeys([n for deal in deals for n in deal[:2]]))
    centre = [n for n in names if n == hub or n in members]
    ring = [n for n in names if n not in centre]
    position = {name: (0.0, -0.3 * k) for k, name in enumerate(centre)}
    for k, name in enumerate(ring):
        angle = math.pi / 2 - 2 * math.pi * k / max(len(ring), 1)
        position[name] = (math.cos(angle), math.sin(angle))
    traces = []
    largest = max((d[2] for d in deals), default=1.0) or 1.0
    for source, target, flow, kind in deals:
        (x0, y0), (x1, y1) = position[source], position[target]
        traces.append({"type": "scatter", "mode": "lines", "x": [x0, x1], "y": [y0, y1],
                       "line": {"width": 0.8 + 5 * flow / largest, "color": "#9e9e9e"},
                       "hoverinfo": "text", "showlegend": False,
                       "text": f"{source} - {target}: {kind}, {flow:g} bn USD a year"})
    sizes, texts, colours = [], [], []
    for name in names:
        held = float(holdings.get(name, 0.0))
        sizes.append(14 + 120 * math.sqrt(max(held, 0.0)))
        exposure = exposures.get(name)
        texts.append(f"{name}<br>look-through exposure {exposure:.1%}<br>"
                     f"your holding x exposure {held:.2%}" if exposure is not None
                     else name)
        colours.append("#dcd300" if name in centre else
                       ticker_colour(name) if name in exposures else "#bdbdbd")
    traces.append({"type": "scatter", "mode": "markers+text",
                   "x": [position[n][0] for n in names], "y": [position[n][1] for n in names],
                   "text": names, "hovertext": texts,
                   "textposition": ["middle right" if n in centre else "top center"
                                    for n in names],
                   "hoverinfo": "text", "showlegend": False,
                   "marker": {"size": sizes, "color": colours,
                              "line": {"width": 1, "color": "#424242"}}})
    axis = {"visible": False, "range": [-1.3, 1.3]}
    layout = _layout(xaxis=axis, yaxis={**axis, "scaleanchor": "x"}, height=620,
                     hovermode="closest")
    return Chart(f"Deal graph around {hub}", {"data": traces, "layout": layout},
                 "Lines: deals (wider = larger annual flow). Marker size: the holding's "
                 "look-through exposure to the hub (weight x exposure); hover for figures.")


def weight_risk_chart(weights: pd.Series, risk_share: pd.Series, title: str,
                      colours: Mapping[str, str] | None = None) -> Chart:
    """Weight (light bars) beside share of the portfolio's risk (solid bars), per label.

    Parameters
    ----------
    weights, risk_share : Series
        Fractions by ticker or group (risk shares sum to 1 over the risky labels).
    colours : mapping, optional
        Label -> colour (default :func:`ticker_colour`).
    """
    labels = [str(label) for label in weights.index]
    colour = [(colours or {}).get(label) or ticker_colour(label) for label in labels]
    traces = [
        {"type": "bar", "name": "weight", "x": labels, "y": _numbers(weights, 6),
         "marker": {"color": colour, "opacity": 0.45, "line": {"color": colour, "width": 1}},
         "hovertemplate": "weight %{y:.2%}<extra>%{x}</extra>"},
        {"type": "bar", "name": "share of risk", "x": labels,
         "y": _numbers(risk_share.reindex(weights.index).fillna(0.0), 6),
         "marker": {"color": colour},
         "hovertemplate": "share of risk %{y:.2%}<extra>%{x}</extra>"},
    ]
    layout = _layout(barmode="group", yaxis={"tickformat": ".0%"}, hovermode="closest")
    return Chart(title, {"data": traces, "layout": layout},
                 "Light bars: weight; solid bars: share of the portfolio's volatility. A name "
                 "whose solid bar is taller adds more risk than its weight.")


def frontier_chart(points: pd.DataFrame, assets: pd.DataFrame, marked: Sequence[tuple[
        str, float, float, str, str]], marks: Any = None) -> Chart:
    """The efficient frontier, single names, marked portfolios, max Sharpe and the CML.

    All figures are annual fractions.

    Parameters
    ----------
    points : DataFrame
        Columns ``volatility``, ``expected_return``: the frontier.
    assets : DataFrame
        Index tickers; columns ``volatility``, ``expected_return``.
    marked : sequence of (label, volatility, expected_return, symbol, colour)
        Portfolios to mark (the chosen optimum, current holdings).
    marks : FrontierMarks, optional
        The max-Sharpe point and the capital market line
        (:func:`portfolio.report.frontier.frontier_marks`); none drawn when None.
    """
    traces = [{"type": "scatter", "mode": "lines+markers", "name": "efficient frontier",
               "x": _numbers(points["volatility"]), "y": _numbers(points["expected_return"]),
               "line": {"color": FRONTIER_COLOURS["frontier"]}, "marker": {"size": 5},
               "hovertemplate": "vol %{x:.1%}, return %{y:.1%}"}]
    traces.append({"type": "scatter", "mode": "markers+text", "name": "single names",
                   "x": _numbers(assets["volatility"]), "y": _numbers(assets["expected_return"]),
                   "text": [str(t) for t in assets.index], "textposition": "top center",
                   "marker": {"size": 8, "color": [ticker_colour(str(t)) for t in assets.index]},
                   "hovertemplate": "%{text}: vol %{x:.1%}, return %{y:.1%}<extra></extra>"})
    if marks is not None:
        (x0, y0), (x1, y1) = marks.capital_market_line
        traces.append({"type": "scatter", "mode": "lines", "name": "capital market line",
                       "x": _numbers([x0, x1]), "y": _numbers([y0, y1]),
                       "line": {"color": FRONTIER_COLOURS["capital_market_line"], "dash": "dash"},
                       "hoverinfo": "skip"})
        marked = [(f"max Sharpe {marks.max_sharpe:.2f}", marks.max_sharpe_volatility,
                   marks.max_sharpe_return, "star", FRONTIER_COLOURS["max_sharpe"]), *marked]
    for label, volatility, expected, symbol, colour in marked:
        traces.append({"type": "scatter", "mode": "markers", "name": label,
                       "x": _numbers([volatility]), "y": _numbers([expected]),
                       "marker": {"symbol": symbol, "size": 13, "color": colour},
                       "hovertemplate": f"{label}: vol %{{x:.1%}}, return %{{y:.1%}}"
                                        "<extra></extra>"})
    layout = _layout(xaxis={"tickformat": ".0%", "title": {"text": "annual volatility"},
                            "rangemode": "tozero"},
                     yaxis={"tickformat": ".0%", "title": {"text": "annual expected return"}},
                     hovermode="closest", height=520)
    return Chart("Efficient frontier", {"data": traces, "layout": layout},
                 "Dashed: the capital market line from the risk-free rate through the "
                 "max-Sharpe portfolio on the frontier.")


def scenario_chart(pnl: pd.Series, title: str, note: str = "") -> Chart:
    """Profit and loss per scenario (fractions of the portfolio; losses red, gains green)."""
    colours = ["#c0392b" if v < 0 else "#2e7d32" for v in pnl.fillna(0.0)]
    trace = {"type": "bar", "orientation": "h", "y": [str(i) for i in pnl.index],
             "x": _numbers(pnl, 6), "marker": {"color": colours},
             "hovertemplate": "%{x:.2%}<extra>%{y}</extra>"}
    layout = _layout(xaxis={"tickformat": ".0%"}, yaxis={"autorange": "reversed",
                                                         "automargin": True},
                     hovermode="closest", height=max(260, 28 * len(pnl) + 90))
    return Chart(title, {"data": [trace], "layout": layout}, note)


def pnl_heatmap(table: pd.DataFrame, title: str) -> Chart:
    """Rows (scenarios) x columns (positions) of P&L in USD, losses red."""
    values = table.to_numpy(dtype=float)
    bound = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    trace = {"type": "heatmap", "z": [_numbers(row, 2) for row in values],
             "x": [str(c) for c in table.columns], "y": [str(i) for i in table.index],
             "colorscale": GAIN_LOSS, "zmin": -bound, "zmax": bound,
             "texttemplate": "%{z:,.0f}", "hovertemplate": "%{y}, %{x}: %{z:,.0f} USD"
                                                            "<extra></extra>"}
    layout = _layout(yaxis={"autorange": "reversed", "automargin": True}, hovermode="closest",
                     height=max(280, 30 * len(table) + 110))
    return Chart(title, {"data": [trace], "layout": layout}, "USD per position.")


def path_chart(paths: pd.DataFrame, title: str, note: str = "") -> Chart:
    """Lines of cumulative returns (dates x names, fractions), one colour per ticker.

    A column named ``portfolio`` is drawn thick and black.
    """
    dates = _dates(paths.index)
    traces = [{"type": "scatter", "mode": "lines", "name": str(name), "x": dates,
               "y": _numbers(paths[name], 5),
               "line": ({"color": "#000000", "width": 2.6} if name == "portfolio" else
                        {"color": ticker_colour(str(name)), "width": 1.3}),
               "hovertemplate": "%{y:.1%}"} for name in paths.columns]
    layout = _layout(yaxis={"tickformat": ".0%"}, xaxis={"tickformat": "%Y-%m-%d"})
    return Chart(title, {"data": traces, "layout": layout}, note)
