"""The ``portfolio`` command-line interface (click)."""
