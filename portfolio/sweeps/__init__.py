"""Parameter sweeps: many variants of one backtest, run on Dask, stored as they finish.

* :mod:`~portfolio.sweeps.spec` -- sweep files (``config/sweeps/*.toml``), every variant
  validated when loaded; :mod:`~portfolio.sweeps.expand` -- grid, explicit variants,
  random draws.
* :mod:`~portfolio.sweeps.tasks` -- one variant's backtest, the same in every mode.
* :mod:`~portfolio.sweeps.cluster` -- in-process, embedded LocalCluster or an existing
  Dask cluster (Dask is imported there only).
* :mod:`~portfolio.sweeps.job` -- :func:`sweep`: prices once, keys, the results store
  (:mod:`portfolio.data.sweep_store`), resume.
* :mod:`~portfolio.sweeps.results` -- :class:`SweepResult`, ranking.

This package sits at the jobs layer: it reads configs and loads prices.
"""

from portfolio.sweeps.job import sweep
from portfolio.sweeps.results import RankedRow, SweepProgress, SweepResult, VariantResult
from portfolio.sweeps.spec import METRICS, SweepConfig, Variant, load_sweep, parse_sweep

__all__ = [
    "METRICS",
    "RankedRow",
    "SweepConfig",
    "SweepProgress",
    "SweepResult",
    "Variant",
    "VariantResult",
    "load_sweep",
    "parse_sweep",
    "sweep",
]
