"""Walk-forward backtests: the config file, calendars, strategies, the engine, the results.

A strategy sees only a :class:`~portfolio.backtesting.market.PastView` of the data strictly
before its decision date; the engine (:func:`~portfolio.backtesting.engine.simulate`) steps
every strategy through the same days.
"""
