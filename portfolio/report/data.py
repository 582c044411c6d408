"""Report for the data inventory."""

from __future__ import annotations

from typing import Any

import pandas as pd

from portfolio.data.inventory import DataInventory
from portfolio.report import Report, Section, cell


def _date(value: Any) -> str:
    return "" if value is None or pd.isna(value) else str(pd.Timestamp(value).date())


def inventory_report(inventory: DataInventory) -> Report:
    """Per-ticker coverage of :class:`~portfolio.data.inventory.DataInventory`."""
    table = inventory.table
    rows = tuple(
        (t, _date(r["first_date"]), _date(r["last_date"]), str(int(r["rows"])), str(r["source"]),
         cell(int(r["age_days"]), f"{int(r['age_days'])} d"))
        for t, r in table.iterrows()
    )
    data = {
        "source": inventory.source,
        "location": inventory.location,
        "tickers": {
            t: {"first_date": _date(r["first_date"]), "last_date": _date(r["last_date"]),
                "rows": int(r["rows"]), "source": r["source"], "age_days": int(r["age_days"]),
                "fetched_at": None if r.get("fetched_at") is None or pd.isna(r.get("fetched_at"))
                else str(r["fetched_at"])}
            for t, r in table.iterrows()
        },
    }
    return Report(
        f"Price data ({inventory.source}: {inventory.location})", (),
        (Section("Coverage", ("ticker", "first date", "last date", "rows", "source", "age"),
                 rows),),
        data,
    )
