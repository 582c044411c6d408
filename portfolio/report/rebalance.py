"""Reports for a :class:`~portfolio.jobs.rebalance.RebalanceRun` and a drift check.

Display cells are formatted strings (percents of portfolio value, USD with thousands
separators); the JSON ``data`` keeps plain numbers:

* ``orders``: [{ticker, side, shares, price, notional, cost}] with prices, notionals and
  costs in USD, sells first.
* ``before`` / ``after``: {``weights`` (fractions incl. CASH), ``shares``, ``value`` and
  ``cash`` (USD), ``group_weights``, ``limits`` ([{name, value, limit, sense, ok}]),
  ``breaches`` (names), ``volatility`` (annual fraction), ``var`` ({"parametric"|
  "historical": {"95%"|"99%": {"1d"|"10d": loss fraction}}}), ``var_usd``,
  ``risk_contributions`` (annual, summing to the volatility), ``exposure`` ({hub, total,
  cap, per_holding})}.
* ``orders[].realised_gain``: USD gain (negative: loss) of a sell at the holdings'
  ``cost_basis`` (null for buys and unknown bases); ``realised_gain_total`` (null when no
  sell has a basis); ``realised_unknown``: tickers sold without a basis.
* ``mode``: ``target`` or ``minimal``; ``reference``: in minimal mode the allocation the
  trades reinvest toward (else null).
* ``target``: the target weights asked for (minimal mode: the least-trading target);
  ``turnover``: one-way fraction of the value before; ``cost``: total fees in USD;
  ``cost_bps``: the same in basis points of the value before; ``notes``, ``unreachable``
  (limit rows), ``as_of``, ``data_source``.
"""

from __future__ import annotations

from typing import Any

from portfolio.data.holdings import MEMORY_SOURCE
from portfolio.jobs.rebalance import DriftCheck, RebalanceRun
from portfolio.report import (
    Cell,
    Chart,
    Report,
    Section,
    cell,
    fmt_money,
    fmt_number,
    fmt_pct,
)
from portfolio.report.explain import explanation_data, explanation_section
from portfolio.report.optimize import bound_cell, limits_data, limits_section
from portfolio.weights import CASH

__all__ = ["drift_report", "rebalance_report"]

SUMMARY_BREACHES = 4
"""Most breached limits named one by one in a summary sentence."""


# --------------------------------------------------------------------------- helpers


def _shares(value: float) -> Cell:
    if float(value).is_integer():
        return fmt_number(value, 0, thousands=True)
    return cell(value, f"{value:,.6f}".rstrip("0"))


def _bps(value: float) -> Cell:
    return fmt_number(value, 1, suffix=" bps")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _names(names: list[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + f" and {names[-1]}"


def _breach_list(rows: Any) -> str:
    shown = [f"{row.name} {fmt_pct(row.value)} ({row.sense} {fmt_pct(row.limit)})"
             for row in rows[:SUMMARY_BREACHES]]
    if len(rows) > SUMMARY_BREACHES:
        shown.append(f"{len(rows) - SUMMARY_BREACHES} more")
    return _names(shown)


def _target_phrase(run: RebalanceRun) -> str:
    if run.objective is not None:
        phrase = f"the config's {run.objective} allocation"
    elif run.target_source == MEMORY_SOURCE:
        phrase = "the given target weights"
    else:
        phrase = f"the target weights in {run.target_source}"
    if run.mode == "minimal":
        return f"with the least trading that brings every limit back, reinvesting toward {phrase}"
    return f"toward {phrase}"


def _var_95_1d(report: Any, method: str = "parametric") -> float:
    return float(report.var[method]["95%"]["1d"])


def _held(report: Any) -> list[str]:
    return [t for t in report.weights.index if t != CASH]


# --------------------------------------------------------------------------- summary


def _summary(run: RebalanceRun) -> tuple[str, ...]:
    before, after = run.before, run.after
    n_limits = len(before.limits)
    sentences = [
        f"{_count(len(_held(before)), 'position')} worth {fmt_money(run.value_before)} USD "
        f"({fmt_pct(before.weights[CASH])} cash) at the {run.as_of.date()} close "
        f"({run.data_source} prices), rebalanced {_target_phrase(run)}.",
        (f"Before trading, {len(run.breaches_before)} of {n_limits} limits are breached: "
         f"{_breach_list(run.breaches_before)}." if run.breaches_before
         else f"Before trading, all {n_limits} limits hold."),
    ]
    sentences.append(_orders_sentence(run))
    if run.orders:
        sentences.append(
            f"They cost {fmt_money(run.total_cost)} USD in fees "
            f"({_bps(1e4 * run.total_cost / run.value_before)} of the portfolio value) for a "
            f"one-way turnover of {fmt_pct(run.turnover)}; cash goes from "
            f"{fmt_pct(before.weights[CASH])} to {fmt_pct(after.weights[CASH])}."
        )
    sentences.append(
        f"Annual volatility {fmt_pct(before.volatility)} before, {fmt_pct(after.volatility)} "
        f"after; 95 % 1-day VaR {fmt_pct(_var_95_1d(before))} before, "
        f"{fmt_pct(_var_95_1d(after))} after (parametric); {before.exposure_hub} look-through "
        f"exposure {fmt_pct(before.exposure.total)} before, {fmt_pct(after.exposure.total)} "
        "after."
    )
    if run.unreachable:
        sentences.append(
            "Whole-share rounding and the trading rules leave "
            + _names([f"{row.name} off by {fmt_pct(row.excess)}" for row in run.unreachable])
            + " although the target meets them (see the notes)."
        )
    elif run.adjusted:
        sentences.append(
            f"To keep every limit the target meets with whole shares, {_names(list(run.adjusted))}"
            " end slightly off their targets (see the notes)."
        )
    if run.breaches_after and not run.unreachable:
        sentences.append("Every limit still breached is breached by the target itself.")
    if run.realised_total is not None:
        sentences.append(_realised_sentence(run))
    return tuple(sentences)


def _realised_sentence(run: RebalanceRun) -> str:
    total = run.realised_total or 0.0
    text = (f"At the holdings' cost basis the sells realise a {'gain' if total >= 0 else 'loss'}"
            f" of {fmt_money(abs(total))} USD ("
            + ", ".join(f"{item.ticker} {_signed_money(item.gain)}" for item in run.realised)
            + ")")
    if run.realised_unknown:
        text += f"; no cost basis for {_names(list(run.realised_unknown))}"
    return text + ". A number, not tax advice."


def _signed_money(value: float) -> Cell:
    return cell(value, f"{'+' if value >= 0 else '-'}{fmt_money(abs(value))}")


def _orders_sentence(run: RebalanceRun) -> str:
    sells = sum(order.side == "sell" for order in run.orders)
    buys = len(run.orders) - sells
    still = [row.name for row in run.breaches_after]
    fixed = list(run.fixed)
    if not run.orders:
        text = "No orders are needed (or all fall inside the no-trade band)"
        return text + (f"; {_names(still)} stay breached." if still else ".")
    sides = ", ".join(_count(n, side) for n, side in ((sells, "sell"), (buys, "buy")) if n)
    one = len(run.orders) == 1
    text = f"The {_count(len(run.orders), 'order')} ({sides})"
    if run.breaches_before:
        if not still:
            text += f" {'fixes' if one else 'fix'} all {len(fixed)} breaches"
        elif fixed:
            text += f" {'fixes' if one else 'fix'} {_names(fixed)}"
        else:
            text += f" {'fixes' if one else 'fix'} none of them"
    elif not still:
        text += f" {'keeps' if one else 'keep'} every limit"
    if still:
        text += f"; breached after trading: {_breach_list(run.breaches_after)}"
    return text + "."


# --------------------------------------------------------------------------- sections


def _orders_section(run: RebalanceRun) -> Section:
    columns: tuple[str, ...] = ("ticker", "side", "shares", "price (USD)", "notional (USD)",
                                "cost (USD)")
    rows = tuple(
        (order.ticker, order.side, _shares(order.shares), fmt_money(order.price),
         fmt_money(order.notional), fmt_money(order.cost))
        for order in run.orders
    )
    if run.realised_total is not None:
        gains = _gains_by_ticker(run)
        columns += ("realised gain (USD)",)
        rows = tuple((*row, _signed_money(gains[row[0]]) if row[0] in gains and row[1] == "sell"
                      else "") for row in rows)
    bought = sum(o.notional for o in run.orders if o.side == "buy")
    sold = sum(o.notional for o in run.orders if o.side == "sell")
    note = (f"Sold {fmt_money(sold)} USD, bought {fmt_money(bought)} USD, fees "
            f"{fmt_money(run.total_cost)} USD paid from cash; prices are the "
            f"{run.as_of.date()} closes in USD." if run.orders else "No orders.")
    if run.plan.skipped:
        note += f" Inside the no-trade band, not traded: {', '.join(run.plan.skipped)}."
    return Section("Orders", columns, rows, note)


def _gains_by_ticker(run: RebalanceRun) -> dict[str, float]:
    return {item.ticker: item.gain for item in run.realised}


def _weight_tickers(run: RebalanceRun) -> list[str]:
    before, after, target = run.plan.before_weights, run.plan.after_weights, run.target
    wanted = {t for series in (before, after, target) for t, w in series.items() if w > 0}
    universe = [t for t in target.index if t != CASH]
    ordered = [t for t in universe if t in wanted]
    ordered += sorted(t for t in wanted if t not in universe and t != CASH)
    return [*ordered, CASH]


def _weights_section(run: RebalanceRun) -> Section:
    before, after, target = run.plan.before_weights, run.plan.after_weights, run.target
    rows = []
    for ticker in _weight_tickers(run):
        b, t, a = (float(series.get(ticker, 0.0)) for series in (before, target, after))
        rows.append((ticker, fmt_pct(b), fmt_pct(t), fmt_pct(a), fmt_pct(a - b)))
    return Section(
        "Weights", ("ticker", "before", "target", "after", "change"), tuple(rows),
        "Fractions of portfolio value: before trading, and after trading and fees.",
    )


def _before_after_rows(keys: Any, before: Any, after: Any) -> tuple[tuple[str, str, str], ...]:
    """``(key, before %, after %)`` per key of two Series (0 where a key is absent)."""
    return tuple(
        (key, fmt_pct(float(before.get(key, 0.0))), fmt_pct(float(after.get(key, 0.0))))
        for key in keys
    )


def _groups_section(run: RebalanceRun) -> Section:
    before = run.before.group_risk["weight"]
    after = run.after.group_risk["weight"]
    groups = [*before.index, *(g for g in after.index if g not in before.index)]
    return Section("Groups", ("group", "before", "after"),
                   _before_after_rows(groups, before, after),
                   "Each name counts in its first group; names in no group are in 'other'.")


def _risk_section(run: RebalanceRun) -> Section:
    before, after = run.before, run.after

    def var_usd(report: Any, method: str) -> str:
        return fmt_money(float(report.var_usd[method]["95%"]["1d"]))

    hub = before.exposure_hub
    cap = f" (cap {fmt_pct(before.exposure_cap)})" if before.exposure_cap is not None else ""
    rows = (
        ("value (USD)", fmt_money(run.value_before), fmt_money(run.value_after)),
        ("cash", fmt_pct(before.weights[CASH]), fmt_pct(after.weights[CASH])),
        ("volatility (annual)", fmt_pct(before.volatility), fmt_pct(after.volatility)),
        ("VaR 95 % 1-day, parametric", fmt_pct(_var_95_1d(before)), fmt_pct(_var_95_1d(after))),
        ("VaR 95 % 1-day, parametric (USD)", var_usd(before, "parametric"),
         var_usd(after, "parametric")),
        ("VaR 95 % 1-day, historical", fmt_pct(_var_95_1d(before, "historical")),
         fmt_pct(_var_95_1d(after, "historical"))),
        (f"{hub} look-through exposure{cap}", fmt_pct(before.exposure.total),
         fmt_pct(after.exposure.total)),
        ("effective number of names", f"{before.concentration.effective_names:.2f}",
         f"{after.concentration.effective_names:.2f}"),
    )
    return Section("Risk", ("measure", "before", "after"), rows,
                   "VaR: loss as a positive fraction of value, same prices and covariance "
                   "before and after.")


def _contributions_section(run: RebalanceRun) -> Section:
    before, after = run.before.risk_contributions, run.after.risk_contributions
    tickers = [t for t in _weight_tickers(run) if t in before.index or t in after.index]
    return Section("Risk contributions", ("ticker", "before", "after"),
                   _before_after_rows(tickers, before, after),
                   "Annual volatility contributed by each name; sums to the volatility.")


def _limits_section(run: RebalanceRun) -> Section:
    after = {row.name: row for row in run.after.limits}
    rows = []
    for row in run.before.limits:
        later = after[row.name]
        rows.append((
            row.name, bound_cell(row),
            fmt_pct(row.value), "ok" if row.ok else "BREACH",
            fmt_pct(later.value), "ok" if later.ok else "BREACH",
        ))
    return Section(
        "Limits", ("limit", "bound", "before", "status before", "after", "status after"),
        tuple(rows),
    )


def _notes_section(run: RebalanceRun) -> Section | None:
    lines = [*run.notes, *(f"warning: {w}" for w in run.warnings)]
    if not lines:
        return None
    return Section("Notes", ("note",), tuple((line,) for line in lines))


# --------------------------------------------------------------------------- data


def _side_data(report: Any, shares: Any) -> dict[str, Any]:
    exposure = report.exposure
    return {
        "weights": {t: float(w) for t, w in report.weights.items()},
        "shares": {t: float(s) for t, s in shares.items() if s > 0},
        "value": float(report.total_value),
        "cash": float(report.valuation.cash),
        "group_weights": {g: float(w) for g, w in report.group_risk["weight"].items()},
        "limits": limits_data(report.limits),
        "breaches": [row.name for row in report.breaches],
        "volatility": report.volatility,
        "var": _plain(report.var),
        "var_usd": _plain(report.var_usd),
        "risk_contributions": {t: float(v) for t, v in report.risk_contributions.items()},
        "exposure": {
            "hub": report.exposure_hub,
            "total": exposure.total,
            "cap": report.exposure_cap,
            "per_holding": {t: float(v) for t, v in exposure.per_holding.items()},
        },
    }


def _plain(table: Any) -> Any:
    if hasattr(table, "items"):
        return {key: _plain(value) for key, value in table.items()}
    return float(table)


def _data(run: RebalanceRun) -> dict[str, Any]:
    gains = _gains_by_ticker(run)
    return {
        "orders": [
            {"ticker": o.ticker, "side": o.side, "shares": o.shares, "price": o.price,
             "notional": o.notional, "cost": o.cost,
             "realised_gain": gains.get(o.ticker) if o.side == "sell" else None}
            for o in run.orders
        ],
        "realised_gain_total": run.realised_total,
        "realised_unknown": list(run.realised_unknown),
        "mode": run.mode,
        "reference": (None if run.reference is None
                      else {t: float(w) for t, w in run.reference.items()}),
        "before": _side_data(run.before, run.plan.before_shares),
        "after": _side_data(run.after, run.plan.after_shares),
        "target": {t: float(w) for t, w in run.target.items()},
        "target_source": run.target_source,
        "objective": run.objective,
        "turnover": run.turnover,
        "cost": run.total_cost,
        "cost_bps": 1e4 * run.total_cost / run.value_before,
        "skipped": list(run.plan.skipped),
        "fixed": list(run.fixed),
        "unreachable": limits_data(run.unreachable),
        "adjusted": list(run.adjusted),
        "notes": list(run.notes),
        "warnings": list(run.warnings),
        "as_of": run.as_of,
        "data_source": run.data_source,
        "notice": run.notice,
        "explanation": None if run.explanation is None else explanation_data(run.explanation),
    }


# --------------------------------------------------------------------------- public


def rebalance_report(run: RebalanceRun) -> Report:
    """Turn a :class:`~portfolio.jobs.rebalance.RebalanceRun` into a :class:`Report`.

    Summary sentences first (breaches before, what the orders fix, their count, cost,
    turnover, risk before and after, limits rounding could not keep); sections: orders,
    weights, groups, risk, risk contributions, limits before / after, notes. ``data`` is
    the JSON object described in the module docstring.
    """
    sections = [
        _orders_section(run),
        _weights_section(run),
        _groups_section(run),
        _risk_section(run),
        _contributions_section(run),
        _limits_section(run),
    ]
    if run.explanation is not None:
        title = ("Reference allocation and why" if run.mode == "minimal"
                 else "Target weights and why")
        sections.insert(2, explanation_section(run.explanation, title))
    notes = _notes_section(run)
    if notes is not None:
        sections.append(notes)
    return Report("Rebalancing", _summary(run), tuple(sections), _data(run),
                  rebalance_charts(run))


def rebalance_charts(run: RebalanceRun) -> tuple[Chart, ...]:
    """Orders, weights and groups before / after, risk shares and limit usage (HTML)."""
    import pandas as pd

    from portfolio.report import charts

    sides = {"before": "#9e9e9e", "after": "#0072b2", "target": "#e69f00"}
    tickers = _weight_tickers(run)
    weights = pd.DataFrame({"before": run.before.weights, "after": run.after.weights,
                            "target": run.target}).reindex(tickers).fillna(0.0)
    groups = pd.DataFrame({"before": run.before.group_risk["weight"],
                           "after": run.after.group_risk["weight"]}).fillna(0.0)
    risk = pd.DataFrame({"before": run.before.risk_contributions_pct,
                         "after": run.after.risk_contributions_pct}).fillna(0.0)
    risk = risk.reindex([t for t in tickers if t in risk.index])
    made = []
    if run.orders:
        signed = pd.Series({o.ticker: (o.notional if o.side == "buy" else -o.notional)
                            for o in run.orders})
        made.append(charts.bar_chart(signed, "Orders (USD; buys up, sells down)",
                                     percent=False))
    made += [
        charts.grouped_bars(weights, sides, "Weights before and after the orders, and the "
                            "target"),
        charts.grouped_bars(groups, sides, "Group weights before and after"),
        charts.grouped_bars(risk, sides, "Share of the portfolio's risk before and after"),
        charts.limit_usage_chart(limits_data(run.before.limits), "Limit usage before"),
        charts.limit_usage_chart(limits_data(run.after.limits), "Limit usage after"),
    ]
    return tuple(made)


def drift_report(check: DriftCheck) -> Report:
    """Turn a :class:`~portfolio.jobs.rebalance.DriftCheck` into a :class:`Report`.

    The summary names every breach (or says that all limits hold); one section, the
    limit table. ``data``: ``ok``, ``breaches`` and ``limits`` ([{name, value, limit,
    sense, ok}]), ``weights``, ``value`` (USD), ``as_of``, ``data_source``.
    """
    held = [t for t in check.weights.index if t != CASH]
    where = (f"{_count(len(held), 'position')} worth {fmt_money(check.value)} USD at the "
             f"{check.as_of.date()} close ({check.data_source} prices)")
    breaches = check.breaches
    if breaches:
        rows = [f"{row.name} {fmt_pct(row.value)} ({row.sense} {fmt_pct(row.limit)})"
                for row in breaches]
        summary = (f"{where}: {len(breaches)} of {len(check.limits)} limits breached: "
                   f"{_names(rows)}.",)
    else:
        summary = (f"{where}: all {len(check.limits)} limits hold.",)
    data = {
        "ok": check.ok,
        "breaches": limits_data(breaches),
        "limits": limits_data(check.limits),
        "weights": {t: float(w) for t, w in check.weights.items()},
        "value": check.value,
        "as_of": check.as_of,
        "data_source": check.data_source,
        "notice": check.notice,
    }
    return Report("Limit check", summary, (limits_section(check.limits),), data)
