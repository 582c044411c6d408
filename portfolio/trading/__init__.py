"""Trading: holdings and a target become whole-share orders under a cash rule.

Costs (:mod:`~portfolio.trading.costs`), the aligned book (:mod:`~portfolio.trading.book`),
orders (:mod:`~portfolio.trading.orders`), the rounding search
(:mod:`~portfolio.trading.rounding`) and the limit repair (:mod:`~portfolio.trading.repair`).
"""
