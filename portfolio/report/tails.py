"""The tail checks of a risk report: the VaR backtest and the Monte Carlo loss distribution.

Presentation only. JSON keys (fractions unless stated):

* ``var_backtest``: ``{"window", "start", "end", "test_level", "rows": [{"method",
  "confidence", "days", "exceedances", "expected", "rate", "kupiec_lr", "kupiec_p",
  "christoffersen_lr", "christoffersen_p", "verdict"}]}`` (statistics chi-squared(1)).
* ``loss_distribution``: ``{"horizon_days", "horizon", "paths", "mean_block", "seed",
  "drift", "sample": {"start", "end", "days", "mean", "volatility"} (annualised),
  "loss_probability": {"10%": p, ...}, "drawdown_probability": {...},
  "return_quantiles": {"1%": r, ...}, "drawdown_quantiles": {"50%": d, ...},
  "expected_return"}``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from portfolio.analytics.bootstrap import LossDistribution
from portfolio.analytics.inputs import horizon_label
from portfolio.analytics.var_backtest import TEST_LEVEL, VaRBacktest
from portfolio.report import Cell, Section, fmt_number, fmt_pct
from portfolio.report.figures import figure_png

__all__ = [
    "loss_distribution_data",
    "loss_distribution_png",
    "loss_distribution_section",
    "loss_distribution_summary",
    "var_backtest_data",
    "var_backtest_section",
    "var_backtest_summary",
]


def _level(value: float) -> Cell:
    return Cell(f"{100 * value:g}%", value)


def _p(value: float) -> Cell:
    if math.isnan(value):
        return Cell("-", None)
    return Cell(f"{value:.4f}" if value >= 1e-4 else f"{value:.1e}", value)


def var_backtest_summary(backtest: VaRBacktest | None) -> list[str]:
    """One sentence: the period and, per method and level, exceedances against expected."""
    if backtest is None:
        return []
    parts = [f"{row.method} {_level(row.confidence)}: {row.exceedances} exceedances vs "
             f"{row.expected:.0f} expected, {row.verdict}" for row in backtest.rows]
    days = backtest.rows[0].days if backtest.rows else 0
    return [f"VaR backtest {backtest.start.date()} .. {backtest.end.date()} ({days:,} days, "
            f"each 1-day VaR from the {backtest.window} days before): " + "; ".join(parts)
            + "."]


def var_backtest_section(backtest: VaRBacktest) -> Section:
    """Exceedances and the Kupiec and Christoffersen tests per method and level."""
    rows = tuple(
        (row.method, _level(row.confidence), fmt_number(row.days, 0, thousands=True),
         str(row.exceedances), fmt_number(row.expected, 1), fmt_pct(row.rate),
         fmt_number(row.kupiec_lr), _p(row.kupiec_p), fmt_number(row.christoffersen_lr),
         _p(row.christoffersen_p), row.verdict)
        for row in backtest.rows
    )
    return Section(
        "VaR backtest (out of sample)",
        ("method", "confidence", "days", "exceedances", "expected", "rate", "Kupiec LR",
         "Kupiec p", "Christoffersen LR", "Christoffersen p", "verdict"),
        rows,
        f"Today's weights on every day of the history; each day's 1-day VaR from the "
        f"{backtest.window} days before it. Kupiec: the exceedance count; Christoffersen: "
        f"exceedances independent of the day before; p < {TEST_LEVEL:g} rejects.",
    )


def var_backtest_data(backtest: VaRBacktest | None) -> dict[str, Any] | None:
    """The ``var_backtest`` JSON object (module docstring)."""
    if backtest is None:
        return None
    return {
        "window": backtest.window, "start": backtest.start, "end": backtest.end,
        "test_level": TEST_LEVEL,
        "rows": [{"method": r.method, "confidence": r.confidence, "days": r.days,
                  "exceedances": r.exceedances, "expected": r.expected, "rate": r.rate,
                  "kupiec_lr": r.kupiec_lr, "kupiec_p": r.kupiec_p,
                  "christoffersen_lr": r.christoffersen_lr,
                  "christoffersen_p": r.christoffersen_p, "verdict": r.verdict}
                 for r in backtest.rows],
    }


def loss_distribution_summary(result: LossDistribution | None) -> list[str]:
    """Two sentences: how it was simulated, and the loss probabilities."""
    if result is None:
        return []
    horizon = horizon_label(result.horizon_days)
    drift = ("the sample demeaned (its own mean, "
             f"{fmt_pct(result.sample_mean, 1)} a year, is not assumed to repeat)"
             if result.drift == "zero" else
             f"the sample's mean return kept ({fmt_pct(result.sample_mean, 1)} a year)")
    losses = " / ".join(fmt_pct(p, 1) for p in result.loss_probability.values())
    levels = " / ".join(f"{100 * level:g}" for level in result.loss_probability)
    return [
        f"Monte Carlo over {horizon}: {result.paths:,} paths of a stationary block bootstrap "
        f"(mean block {result.mean_block:g} days, seed {result.seed}) of the back-cast "
        f"{result.sample_start.date()} .. {result.sample_end.date()}, {drift}.",
        f"Probability of losing at least {levels} % over {horizon}: {losses}; worst drawdown "
        f"within {horizon}: median {fmt_pct(result.drawdown_quantiles[0.5], 1)}, 1 in 20 "
        f"{fmt_pct(result.drawdown_quantiles[0.95], 1)}.",
    ]


def loss_distribution_section(result: LossDistribution) -> Section:
    """Probabilities and quantiles of the return and the worst drawdown over the horizon."""
    horizon = horizon_label(result.horizon_days)
    rows = [(f"P(loss >= {_level(level)} at the end of {horizon})", fmt_pct(p, 2))
            for level, p in result.loss_probability.items()]
    rows += [(f"P(drawdown >= {_level(level)} within {horizon})", fmt_pct(p, 2))
             for level, p in result.drawdown_probability.items()]
    rows += [(f"return over {horizon}, {_level(q)} quantile", fmt_pct(r))
             for q, r in result.terminal_quantiles.items()]
    rows.append((f"expected return over {horizon}", fmt_pct(result.expected_return)))
    rows += [(f"worst drawdown within {horizon}, {_level(q)} quantile", fmt_pct(d))
             for q, d in result.drawdown_quantiles.items()]
    return Section(f"Loss distribution over {horizon} (Monte Carlo)", ("measure", "value"),
                   tuple(rows),
                   f"{result.paths:,} bootstrapped paths of today's weights on "
                   f"{result.sample_days:,} daily returns; drift {result.drift}.")


def loss_distribution_data(result: LossDistribution | None) -> dict[str, Any] | None:
    """The ``loss_distribution`` JSON object (module docstring)."""
    if result is None:
        return None

    def keyed(mapping: Any) -> dict[str, float]:
        return {_level(k): float(v) for k, v in mapping.items()}

    return {
        "horizon_days": result.horizon_days, "horizon": horizon_label(result.horizon_days),
        "paths": result.paths, "mean_block": result.mean_block, "seed": result.seed,
        "drift": result.drift,
        "sample": {"start": result.sample_start, "end": result.sample_end,
                   "days": result.sample_days, "mean": result.sample_mean,
                   "volatility": result.sample_volatility},
        "loss_probability": keyed(result.loss_probability),
        "drawdown_probability": keyed(result.drawdown_probability),
        "return_quantiles": keyed(result.terminal_quantiles),
        "drawdown_quantiles": keyed(result.drawdown_quantiles),
        "expected_return": result.expected_return,
    }


def loss_distribution_png(result: LossDistribution, title: str = "") -> bytes:
    """Histograms of the return over the horizon and of the worst drawdown, as PNG bytes."""
    from matplotlib.figure import Figure  # matplotlib loads only when a PNG is drawn
    from matplotlib.ticker import PercentFormatter

    horizon = horizon_label(result.horizon_days)
    figure = Figure(figsize=(10, 4.2), dpi=120)
    returns, drawdowns = figure.subplots(1, 2)
    shown = result.terminal[result.terminal <= np.quantile(result.terminal, 0.995)]
    returns.hist(shown, bins=80, color="tab:blue", alpha=0.8)
    for (level, p), style in zip(result.loss_probability.items(), ("--", "-.", ":")):
        returns.axvline(-level, color="tab:red", lw=1.2, ls=style,
                        label=f"loss of {100 * level:g} % or more: {100 * p:.1f} % of paths")
    returns.legend(fontsize=7, loc="upper right")
    returns.set_xlabel(f"return over {horizon} (top 0.5 % of paths not shown)")
    drawdowns.hist(result.drawdowns, bins=80, color="tab:orange", alpha=0.8)
    drawdowns.set_xlabel(f"worst drawdown within {horizon}")
    for axes in (returns, drawdowns):
        axes.xaxis.set_major_formatter(PercentFormatter(1.0))
        axes.set_ylabel("paths")
        axes.grid(alpha=0.3)
    figure.suptitle(title or f"Monte Carlo loss distribution over {horizon} "
                    f"({result.paths:,} paths, seed {result.seed})")
    return figure_png(figure)
