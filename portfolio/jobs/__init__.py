"""Jobs: the only place a Config is read and market data loaded for a job.

One module per command: :mod:`~portfolio.jobs.optimize`, :mod:`~portfolio.jobs.frontier`,
:mod:`~portfolio.jobs.risk`, :mod:`~portfolio.jobs.stress`, :mod:`~portfolio.jobs.rebalance`,
:mod:`~portfolio.jobs.backtest`, :mod:`~portfolio.jobs.starter` (``portfolio init``);
:mod:`~portfolio.jobs.market` loads prices and :mod:`~portfolio.jobs.limits` builds the
limit objects. Stage packages below take explicit arguments.
"""
