"""Another universe for one run (``--tickers NVDA,AMD,TSLA``): the config restricted to it.

:func:`with_universe` replaces a config's tickers and keeps every setting that still applies:
groups keep their members inside the new universe, and what refers only to names outside it
is dropped -- with a note for a group floor whose group has no member left (it could not
be met), a Black-Litterman view or a risk budget; silently for the caps of such groups and
the per-name overrides and custom shocks of removed names, which have no effect. Limits on
the names kept, the cash floor and the theme caps are unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from portfolio.config.schema import Config, frozen_mapping
from portfolio.weights import distinct_tickers

__all__ = ["parse_tickers", "with_universe"]


def parse_tickers(text: str | Iterable[str], where: str = "--tickers") -> tuple[str, ...]:
    """Tickers from ``"NVDA,amd, TSLA"`` (or a list): normalised, once each, CASH refused.

    Raises
    ------
    InputError
        An empty entry, a repeated ticker or ``CASH`` (see
        :func:`portfolio.weights.distinct_tickers`).
    """
    return distinct_tickers(text.split(",") if isinstance(text, str) else text, where)


def with_universe(config: Config, tickers: str | Iterable[str], where: str = "--tickers"
                  ) -> tuple[Config, tuple[str, ...]]:
    """``config`` with ``tickers`` as its universe, and notes on the settings dropped.

    Parameters
    ----------
    config : Config
        The configuration.
    tickers : str or iterable of str
        The universe for this run (``"NVDA,AMD,TSLA"`` or a list); tickers are normalised.
    where : str
        Where they were given, for messages.

    Returns
    -------
    tuple of (Config, tuple of str)
        The restricted config, and one plain-language note per setting dropped because it
        refers only to names outside the new universe.

    Raises
    ------
    InputError
        See :func:`parse_tickers`.
    """
    universe = parse_tickers(tickers, where)
    kept = set(universe)
    notes: list[str] = []
    groups = {name: tuple(t for t in members if t in kept)
              for name, members in config.groups.items()}
    groups = {name: members for name, members in groups.items() if members}
    limits = config.limits
    group_limits = {}
    outside = f"not in {where}"
    for key in ("group_caps", "group_floors"):  # a cap on an empty group is no limit at all
        group_limits[key] = _kept(getattr(limits, key), groups,
                                  notes if key == "group_floors" else [], f"limits.{key}",
                                  f"no name of the group is in {where}")
    for key in ("max_weight_overrides", "min_weight_overrides"):
        group_limits[key] = _kept(getattr(limits, key), kept, [], f"limits.{key}", outside)
    limits = replace(limits, **{key: frozen_mapping(v) for key, v in group_limits.items()})
    optimizer = config.optimizer
    views = tuple(v for v in optimizer.views if v.asset in kept and v.versus in (None, *kept))
    for view in optimizer.views:
        if view not in views:
            about = view.asset + (f" versus {view.versus}" if view.versus else "")
            notes.append(f"the optimizer view on {about} left out: {outside}")
    budgets = _kept(optimizer.risk_budgets, kept | set(groups), notes, "optimizer.risk_budgets",
                    outside)
    optimizer = replace(optimizer, views=views, risk_budgets=frozen_mapping(budgets))
    customs = tuple(replace(c, shocks=frozen_mapping(_kept(c.shocks, kept | set(groups), [],
                                                           "stress.custom", outside)))
                    for c in config.stress.custom)
    restricted = replace(config, tickers=universe, groups=frozen_mapping(groups), limits=limits,
                         optimizer=optimizer, stress=replace(config.stress, custom=customs))
    return restricted, tuple(notes)


def _kept(values: Mapping[str, Any], names: Iterable[str], notes: list[str], key: str,
          why: str) -> dict[str, Any]:
    """The entries of ``values`` whose name is in ``names``; a note names the others."""
    names = set(names)
    dropped = [name for name in values if name not in names]
    if dropped:
        notes.append(f"{key} for {', '.join(dropped)} left out: {why}")
    return {name: value for name, value in values.items() if name in names}
