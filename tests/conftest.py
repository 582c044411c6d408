"""Shared fixtures: every test gets its own price cache and no network.

* ``PORTFOLIO_CACHE_DIR`` points to a fresh ``tmp_path`` folder (``XDG_CACHE_HOME`` too), so
  no test reads or writes ``~/.cache``.
* Any attempt to open a network connection fails the test at once: Python sockets are
  refused and ``yfinance.download`` (curl, which bypasses Python sockets) is replaced. The
  failure is a ``pytest.fail`` (a BaseException), so no ``except Exception`` in the code
  under test (retries, the ``auto`` fallback) can swallow it.
"""

from __future__ import annotations

import socket
import sys

import pytest


def _refuse_network(*args, **kwargs):
    pytest.fail("a test tried to access the network; inject a fake fetch/download instead")


@pytest.fixture(autouse=True)
def isolated_cache_dir(monkeypatch, tmp_path):
    """A private, initially absent cache folder for each test."""
    cache_dir = tmp_path / "price-cache"
    monkeypatch.setenv("PORTFOLIO_CACHE_DIR", str(cache_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return cache_dir


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Make every real network access fail the test."""
    monkeypatch.setattr(socket.socket, "connect", _refuse_network)
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse_network)
    monkeypatch.setattr(socket, "create_connection", _refuse_network)
    monkeypatch.setattr(socket, "getaddrinfo", _refuse_network)
    if "yfinance" not in sys.modules:
        try:
            import yfinance  # noqa: F401  (imported once per session, ~0.5 s)
        except ImportError:  # pragma: no cover - yfinance is a hard dependency
            return
    monkeypatch.setattr(sys.modules["yfinance"], "download", _refuse_network)


@pytest.fixture(scope="session")
def config():
    """The packaged default configuration."""
    from portfolio.config.parse import load_config

    return load_config()


@pytest.fixture(scope="session")
def market(config):
    """Bundled prices for the default config's tickers (loaded once per test session)."""
    from portfolio.jobs.market import DataOptions, market_data

    return market_data(config, DataOptions(source="bundled", offline=True))
