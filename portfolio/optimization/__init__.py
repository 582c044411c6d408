"""Optimisation: limit objects, objective specs, the problem and its solver backends.

One object per limit (:mod:`~portfolio.optimization.constraints`), frozen objective specs
with a registry (:mod:`~portfolio.optimization.objectives`), a problem built once and
re-solved (:mod:`~portfolio.optimization.problem`), fast backends (active set, OSQP) and
the cvxpy chain, infeasibility diagnosis and the efficient frontier. No config, no I/O.
"""
