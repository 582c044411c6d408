"""What a sweep produces: every variant's metrics (or error), ranked, with the run's manifest.

Units are those of :class:`portfolio.backtesting.results.PerformanceMetrics`: fractions
(CAGR, volatility, drawdown, turnover, cost drag a year), ratios (Sharpe, Sortino,
Calmar, beta), USD (final value, total costs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from portfolio.errors import check_choice
from portfolio.sweeps.spec import METRICS, SweepConfig, parameter_label

__all__ = ["RankedRow", "SweepProgress", "SweepResult", "VariantResult"]


@dataclass(frozen=True, eq=False)
class VariantResult:
    """One variant's outcome, as stored in the results store.

    Attributes
    ----------
    index : int
        Position in the sweep (from 1).
    key : str
        Results-store key: sha256 of the variant's full config and the data.
    parameters : tuple of (str, value)
        The swept parameters' values.
    status : str
        ``"ok"`` or ``"failed"``.
    metrics : Mapping
        Strategy -> metric -> value (None for an undefined ratio).
    fingerprints : Mapping
        Strategy -> sha256 of its equity curve, daily weights and trades.
    notes : tuple of str
        The backtest engine's notes.
    error : str
        One-line error of a failed variant.
    seconds : float
        Wall time on its worker.
    worker : str
        Where it ran.
    run : str
        Identifier of the sweep run that computed it (an earlier run when resumed).
    """

    index: int
    key: str
    parameters: tuple[tuple[str, Any], ...]
    status: str
    metrics: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    error: str = ""
    seconds: float = 0.0
    worker: str = ""
    run: str = ""

    @property
    def ok(self) -> bool:
        """Whether the variant ran to the end."""
        return self.status == "ok"

    @property
    def label(self) -> str:
        """``limits.max_weight=0.2, rebalance=monthly``."""
        return parameter_label(self.parameters)


@dataclass(frozen=True, eq=False)
class RankedRow:
    """One (variant, strategy) of the ranking.

    Attributes
    ----------
    rank : int
        From 1 (best).
    variant : VariantResult
        The variant.
    strategy : str
        The strategy's name.
    metrics : Mapping
        Its metrics.
    """

    rank: int
    variant: VariantResult
    strategy: str
    metrics: Mapping[str, Any]


@dataclass(frozen=True)
class SweepProgress:
    """Where a running sweep stands (for a progress bar).

    Attributes
    ----------
    done, failed : int
        Variants finished (ok) and failed in this run.
    remaining : int
        Variants still to run.
    skipped : int
        Variants found in the results store, not run again.
    per_minute : float
        Variants finished or failed per minute of this run so far.
    """

    done: int
    failed: int
    remaining: int
    skipped: int
    per_minute: float

    @property
    def total(self) -> int:
        """Variants this run has to compute."""
        return self.done + self.failed + self.remaining


@dataclass(frozen=True, eq=False)
class SweepResult:
    """Everything a sweep produced.

    Attributes
    ----------
    config : SweepConfig
        The validated sweep.
    variants : tuple of VariantResult
        In sweep order (variants with identical configs share a result).
    ran : int
        Variants computed by this run.
    skipped : int
        Variants found already done in the results store.
    store : Path
        The SQLite results store.
    data_notice : str
        Provenance of the prices.
    manifest : Mapping
        Run manifest: sweep and data hashes, versions (Dask included), scheduler address,
        worker count, counts, timing.
    """

    config: SweepConfig
    variants: tuple[VariantResult, ...]
    ran: int
    skipped: int
    store: Path
    data_notice: str = ""
    manifest: Mapping[str, Any] = field(default_factory=dict)

    @property
    def notes(self) -> dict[str, int]:
        """Each distinct note of the backtest engine and how many variants it concerns."""
        counts: dict[str, int] = {}
        for variant in self.variants:
            for note in variant.notes:
                counts[note] = counts.get(note, 0) + 1
        return counts

    @property
    def failed(self) -> tuple[VariantResult, ...]:
        """The variants that failed, in sweep order."""
        return tuple(v for v in self.variants if not v.ok)

    def ranked(self, metric: str | None = None) -> list[RankedRow]:
        """Every (variant, strategy) of the variants that ran, best first.

        Parameters
        ----------
        metric : str, optional
            A key of :data:`portfolio.sweeps.spec.METRICS`; default the sweep's
            ``rank_by``. Higher ranks first, except for risk and cost figures (volatility,
            drawdown, turnover, costs, tracking error, beta, failures). Undefined values
            rank last; ties keep the sweep order.

        Raises
        ------
        InputError
            An unknown metric.
        """
        metric = metric or self.config.rank_by
        check_choice(metric, METRICS, "metric", where="rank_by")
        sign = -1.0 if METRICS[metric] else 1.0
        rows = [(variant, name, values) for variant in self.variants if variant.ok
                for name, values in variant.metrics.items()]

        def order(row: tuple[VariantResult, str, Mapping[str, Any]]) -> tuple[int, float, int]:
            value = row[2].get(metric)
            if value is None or not math.isfinite(value):
                return (1, 0.0, row[0].index)
            return (0, sign * value, row[0].index)

        rows.sort(key=order)
        return [RankedRow(rank, variant, name, values)
                for rank, (variant, name, values) in enumerate(rows, start=1)]

    def table(self, metric: str | None = None) -> pd.DataFrame:
        """One row per (variant, strategy), ranked, then the failed variants.

        Columns: ``rank``, ``variant`` (index), one per swept parameter, ``strategy``,
        ``status``, every metric, ``error``, ``seconds``, ``key``.
        """
        records = []
        for row in self.ranked(metric):
            records.append(self._record(row.variant, row.rank, row.strategy, row.metrics))
        for variant in self.failed:
            records.append(self._record(variant, None, "", {}))
        columns = ["rank", "variant", *self.config.parameters, "strategy", "status",
                   *_metric_names(self), "error", "seconds", "key"]
        return pd.DataFrame.from_records(records, columns=columns)

    def _record(self, variant: VariantResult, rank: int | None, strategy: str,
                metrics: Mapping[str, Any]) -> dict[str, Any]:
        return {"rank": rank, "variant": variant.index, **dict(variant.parameters),
                "strategy": strategy, "status": variant.status, **metrics,
                "error": variant.error, "seconds": variant.seconds, "key": variant.key}


def _metric_names(result: SweepResult) -> list[str]:
    for variant in result.variants:
        for values in variant.metrics.values():
            return list(values)
    return list(METRICS)
