"""Estimation: returns from prices, covariance models, expected returns, risk inputs.

Pure functions of their arguments (no config, no I/O). Units: returns are periodic simple
returns (fractions per period); covariances and expected returns are annual.
"""
