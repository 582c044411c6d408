"""A real cache writer to be killed mid-transaction by ``tests/test_cache_crash.py``.

``python cache_writer.py CACHE_DIR READY_FILE ROWS`` writes a large update through
:meth:`PriceCache.write` (new tickers, and NVDA's history replaced), pausing inside the
transaction after ``ROWS`` price rows: it then creates ``READY_FILE`` and sleeps until it is
killed. Nothing is mocked but the pause.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import portfolio.data.cache as cache_module
from portfolio.data.cache import PriceCache

TICKERS = 30
DATES = 8000


def main(directory: str, ready_file: str, rows_before_pause: int) -> None:
    rows = cache_module._price_rows

    def paused(prices: pd.DataFrame):
        for count, row in enumerate(rows(prices)):
            if count == rows_before_pause:
                Path(ready_file).write_text("inside the transaction")
                time.sleep(600)  # killed long before this ends
            yield row

    cache_module._price_rows = paused
    dates = pd.bdate_range("1990-01-01", periods=DATES)
    columns = ["NVDA", *(f"T{i:02d}" for i in range(TICKERS - 1))]
    frame = pd.DataFrame(np.full((DATES, TICKERS), 7.0), index=dates, columns=columns)
    PriceCache(directory).write(frame, source="killed", replace=["NVDA"])
    raise SystemExit("the writer was not killed")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
