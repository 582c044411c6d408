"""Price data: bundled dataset, Yahoo source, SQLite cache, FX, user files (the I/O edge)."""
