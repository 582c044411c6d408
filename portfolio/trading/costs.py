"""The fee model of an order: a proportional cost with a minimum fee."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from portfolio.errors import InputError

__all__ = ["DEFAULT_COSTS", "TradingCosts", "is_real"]


def is_real(value: object) -> bool:
    """Whether ``value`` is an int or float (numpy included) and not a bool."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


@dataclass(frozen=True)
class TradingCosts:
    """Per-order trading cost.

    Parameters
    ----------
    bps : float
        Proportional cost in basis points of the order notional (5.0 = 0.05 %), in
        ``[0, 10000)``.
    min_fee : float
        Minimum fee per order, USD, >= 0.

    Notes
    -----
    The cost of an order of notional ``n`` USD is ``max(min_fee, bps / 1e4 * n)``;
    an empty order costs nothing.
    """

    bps: float = 5.0
    min_fee: float = 1.0

    def __post_init__(self) -> None:
        for name, value in (("bps", self.bps), ("min_fee", self.min_fee)):
            if not is_real(value) or not math.isfinite(value) or value < 0:
                raise InputError(
                    f"invalid trading cost {name}={value!r}",
                    f"TradingCosts.{name}",
                    "costs must be finite numbers >= 0",
                    "use e.g. TradingCosts(bps=5.0, min_fee=1.0)",
                )
        if self.bps >= 10_000:
            raise InputError(
                f"invalid trading cost bps={self.bps!r}",
                "TradingCosts.bps",
                "a cost of 10000 bps or more eats the whole order",
                "give the cost in basis points (5.0 = 0.05 %)",
            )

    def cost(self, notional: float) -> float:
        """Fee of one order.

        Parameters
        ----------
        notional : float
            Order notional in USD (sign ignored).

        Returns
        -------
        float
            Fee in USD: 0 for a zero notional, else ``max(min_fee, bps / 1e4 * |notional|)``.
        """
        if notional == 0:
            return 0.0
        return float(max(self.min_fee, self.bps / 1e4 * abs(notional)))

    @property
    def is_free(self) -> bool:
        """True when trading costs nothing (``bps == min_fee == 0``)."""
        return self.bps == 0 and self.min_fee == 0


DEFAULT_COSTS = TradingCosts()
"""Default fee model: 5 bps, 1 USD minimum per order."""
