"""Presentation of an allocation's explanation and of the expected returns behind it."""

from __future__ import annotations

from typing import Any

from portfolio.estimate.expected import ExpectedReturnModel
from portfolio.optimization.explain import Explanation
from portfolio.report import Chart, Section, fmt_money, fmt_pct

__all__ = ["expected_returns_data", "expected_returns_section", "explanation_charts",
           "explanation_data", "explanation_section", "explanation_summary"]


def explanation_section(explanation: Explanation, title: str = "Weights and why") -> Section:
    """Per name: weight, USD (with a capital), risk share, marginal risk and the reason."""
    money = explanation.capital is not None
    columns = ("ticker", "weight", *(("USD",) if money else ()), "risk share",
               "marginal risk", "why")
    rows = tuple(
        (n.ticker, fmt_pct(n.weight), *((fmt_money(n.amount),) if money else ()),
         fmt_pct(n.risk_share, 1), fmt_pct(n.marginal_risk, 1), n.reason)
        for n in explanation.names
    )
    groups = "; ".join(f"{g.group} {fmt_pct(g.weight, 1)} of value, {fmt_pct(g.risk_share, 1)} "
                       "of risk" for g in explanation.groups)
    note = (f"Cash {fmt_pct(explanation.cash)}. Groups: {groups}. Risk share: part of the "
            "annual volatility; marginal risk: volatility added per unit of weight.")
    return Section(title, columns, rows, note)


def explanation_summary(explanation: Explanation) -> str:
    """One sentence: effective number of names, groups held, return and Sharpe."""
    held = [g.group for g in explanation.groups if g.weight > 0]
    text = (f"Effective number of names {explanation.effective_names:.1f}; "
            f"{len(held)} of {len(explanation.groups)} groups held")
    if explanation.sharpe is not None and explanation.expected_return is not None:
        text += (f"; expected return {fmt_pct(explanation.expected_return)}, Sharpe "
                 f"{explanation.sharpe:.2f}")
    return text + "."


def explanation_data(explanation: Explanation) -> dict[str, Any]:
    """The explanation as JSON: names, groups, effective names, return and Sharpe."""
    return {
        "names": [dict(vars(n), binding=list(n.binding)) for n in explanation.names],
        "groups": [dict(vars(g), binding=list(g.binding)) for g in explanation.groups],
        "cash": explanation.cash,
        "volatility": explanation.volatility,
        "effective_names": explanation.effective_names,
        "expected_return": explanation.expected_return,
        "sharpe": explanation.sharpe,
        "capital": explanation.capital,
    }


def expected_returns_data(model: ExpectedReturnModel | None) -> dict[str, Any] | None:
    """Prior, views and posterior side by side (annual fractions), or None."""
    if model is None:
        return None
    return {
        "method": model.method,
        "risk_aversion": model.risk_aversion,
        "prior": None if model.prior is None else model.prior.to_dict(),
        "views": [{"asset": v.asset, "versus": v.versus, "value": v.value,
                   "confidence": v.confidence} for v in model.views],
        "posterior": model.posterior.to_dict(),
    }


def expected_returns_section(model: ExpectedReturnModel | None) -> Section | None:
    """Per name: the prior and the posterior annual expected return, or None."""
    if model is None:
        return None
    prior = model.prior
    columns = ("ticker", *(("prior",) if prior is not None else ()), model.method)
    rows = tuple(
        (t, *((fmt_pct(prior[t], 1),) if prior is not None else ()), fmt_pct(value, 1))
        for t, value in model.posterior.sort_values(ascending=False).items()
    )
    views = "; ".join(
        f"{v.asset}{' vs ' + v.versus if v.versus else ''} {fmt_pct(v.value, 1)} "
        f"(confidence {v.confidence:g})" for v in model.views)
    note = f"Annual expected returns. Views: {views}." if views else "Annual expected returns."
    return Section("Expected returns", columns, rows, note)


def explanation_charts(explanation: Explanation) -> tuple[Chart, ...]:
    """Weight beside share of risk, per name and per group (HTML charts)."""
    import pandas as pd

    from portfolio.report.charts import group_colours, weight_risk_chart

    names = pd.DataFrame([(n.ticker, n.weight, n.risk_share) for n in explanation.names],
                         columns=["label", "weight", "risk"]).set_index("label")
    groups = pd.DataFrame([(g.group, g.weight, g.risk_share) for g in explanation.groups],
                          columns=["label", "weight", "risk"]).set_index("label")
    return (
        weight_risk_chart(names["weight"], names["risk"], "Risk contributions by name"),
        weight_risk_chart(groups["weight"], groups["risk"], "Risk contributions by group",
                          group_colours(list(groups.index))),
    )
