"""Analytics: pure measures of a portfolio -- metrics, risk, look-through exposure, stress.

No config and no I/O: every function takes weights, returns and estimates explicitly.
"""
