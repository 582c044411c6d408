"""The results store of a parameter sweep: one SQLite row per finished variant.

A sweep writes each variant the moment it finishes, in its own transaction, so a sweep
that is stopped (Ctrl-C, a killed process, a lost machine) keeps every variant finished
before; the next run of the same sweep reads the keys already stored and runs only the
rest. Only the process that drives the sweep writes (workers return their results to it).

Schema (version :data:`SCHEMA_VERSION`)::

    variants(key TEXT PRIMARY KEY,   -- sha256 of the variant's full config and the data
             status TEXT,            -- 'ok' or 'failed'
             parameters TEXT,        -- JSON {parameter: value}
             metrics TEXT,           -- JSON {strategy: {metric: value}}
             fingerprints TEXT,      -- JSON {strategy: sha256 of its paths}
             notes TEXT,             -- JSON [note, ...]
             error TEXT, seconds REAL, worker TEXT, run TEXT, finished_utc TEXT)
    meta(key TEXT PRIMARY KEY, value TEXT)   -- 'schema_version'

Numbers are stored as JSON text written with Python's shortest round-trip ``repr``, so a
float read back is the float written, bit for bit.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portfolio.errors import DataError

__all__ = ["RESULTS_FILE_NAME", "SCHEMA_VERSION", "StoredVariant", "SweepStore"]

SCHEMA_VERSION = "1"
RESULTS_FILE_NAME = "results.sqlite"
_COLUMNS = ("key", "status", "parameters", "metrics", "fingerprints", "notes", "error",
            "seconds", "worker", "run", "finished_utc")
_JSON_COLUMNS = ("parameters", "metrics", "fingerprints", "notes")
_FIX = "delete it or choose another --output-dir"


@dataclass(frozen=True)
class StoredVariant:
    """One finished variant as stored.

    Attributes
    ----------
    key : str
        sha256 (hex) of the variant's full config and the data.
    status : str
        ``"ok"`` or ``"failed"``.
    parameters : dict
        Swept parameter -> value (JSON types).
    metrics : dict
        Strategy -> metric -> value (JSON types; see
        :meth:`portfolio.backtesting.results.PerformanceMetrics.as_dict`).
    fingerprints : dict
        Strategy -> sha256 of its equity curve, daily weights and trades.
    notes : list of str
        What the backtest engine told the user (moved start, ignored settings).
    error : str
        One-line error of a failed variant ("" when ok).
    seconds : float
        Wall time of the variant on its worker.
    worker : str
        Where it ran (a worker address, or ``in-process``).
    run : str
        Identifier of the sweep run that computed it.
    finished_utc : str
        ISO time the result was stored.
    """

    key: str
    status: str
    parameters: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0
    worker: str = ""
    run: str = ""
    finished_utc: str = ""


class SweepStore:
    """The SQLite results file of one sweep output folder.

    Parameters
    ----------
    path : str or Path
        Database file; created (with its folder) if missing.

    Raises
    ------
    DataError
        The file is not a sweep results store (corrupt, another schema) or cannot be
        created.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30.0)
        except (OSError, sqlite3.Error) as exc:
            raise DataError("cannot open the sweep results store", str(self.path),
                            str(exc), _FIX) from None
        try:
            self._prepare()
        except sqlite3.Error as exc:
            self._db.close()
            raise DataError("not a sweep results store", str(self.path), str(exc),
                            _FIX) from None

    def _prepare(self) -> None:
        with self._db:
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS variants (key TEXT PRIMARY KEY, status TEXT NOT NULL,"
                " parameters TEXT, metrics TEXT, fingerprints TEXT, notes TEXT, error TEXT,"
                " seconds REAL, worker TEXT, run TEXT, finished_utc TEXT)")
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                             (SCHEMA_VERSION,))
        version = self._db.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(variants)")}
        if version != SCHEMA_VERSION or not set(_COLUMNS) <= columns:
            self._db.close()
            raise DataError("not a sweep results store of this version", str(self.path),
                            f"schema {version}, columns {', '.join(sorted(columns))}", _FIX)

    def __enter__(self) -> SweepStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def keys(self) -> set[str]:
        """Keys of every variant stored (finished or failed)."""
        return {row[0] for row in self._db.execute("SELECT key FROM variants")}

    def record(self, variant: StoredVariant) -> None:
        """Store one finished variant in its own transaction (replacing a row of that key)."""
        values = [getattr(variant, name) for name in _COLUMNS]
        for i, name in enumerate(_COLUMNS):
            if name in _JSON_COLUMNS:
                values[i] = json.dumps(values[i], default=str)  # dates as ISO text
        try:
            with self._db:
                self._db.execute(
                    f"INSERT OR REPLACE INTO variants ({', '.join(_COLUMNS)}) "
                    f"VALUES ({', '.join('?' for _ in _COLUMNS)})", values)
        except sqlite3.Error as exc:
            raise DataError("cannot write the sweep results store", str(self.path), str(exc),
                            "check the disk space and the folder's permissions") from None

    def read(self, keys: Iterable[str] | None = None) -> dict[str, StoredVariant]:
        """Stored variants by key (only ``keys`` when given; missing keys are left out)."""
        rows = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM variants").fetchall()
        wanted = None if keys is None else set(keys)
        found = {}
        for row in rows:
            if wanted is not None and row[0] not in wanted:
                continue
            found[row[0]] = _variant(dict(zip(_COLUMNS, row)))
        return found


def _variant(row: Mapping[str, Any]) -> StoredVariant:
    values = dict(row)
    for name in _JSON_COLUMNS:
        empty: Any = [] if name == "notes" else {}
        values[name] = json.loads(values[name]) if values[name] else empty
    values["error"] = values["error"] or ""
    return StoredVariant(**values)
