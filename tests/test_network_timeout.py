"""Bounded network time: every Yahoo request of a command ends by one deadline.

The end-to-end tests run the installed CLI in a subprocess whose proxy variables point at
:class:`StalledServer`, a server on 127.0.0.1 that accepts connections and never answers
(what a broken proxy or a black-holed network looks like). yfinance's own cookie request is
the first to go through it. The server stops itself after a bounded time.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import run

from portfolio.config.parse import parse_config
from portfolio.data.network import DEFAULT_TIMEOUT, Deadline
from portfolio.data.prices import load_prices
from portfolio.data.yahoo import TIMED_OUT, YahooUnavailableError, fetch_yahoo
from portfolio.errors import ConfigError, DataError
from portfolio.jobs.market import DataOptions


class StalledServer:
    """A TCP server on 127.0.0.1 that accepts connections and never sends a byte.

    It records how long each connection stayed open (until the client gave up) and stops
    by itself after ``lifetime`` seconds, or when the ``with`` block ends.
    """

    def __init__(self, lifetime: float = 120.0) -> None:
        self.lifetime = lifetime
        self.held: list[float] = []  # seconds each connection was kept by the client
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> StalledServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _serve(self) -> None:
        open_since: dict[socket.socket, float] = {}
        end = time.monotonic() + self.lifetime
        while not self._stop.is_set() and time.monotonic() < end:
            try:
                connection, _ = self._listener.accept()
                connection.setblocking(False)
                open_since[connection] = time.monotonic()
            except TimeoutError:
                pass
            for connection, since in list(open_since.items()):
                try:
                    if connection.recv(65536) == b"":  # the client closed: it gave up
                        self.held.append(time.monotonic() - since)
                        connection.close()
                        del open_since[connection]
                except BlockingIOError:
                    pass  # still waiting for an answer that never comes
        for connection in open_since:
            connection.close()
        self._listener.close()


def _portfolio(tmp_path: Path, port: int, *args: str) -> subprocess.CompletedProcess:
    """Run the installed CLI with every proxy variable pointing at the stalled server."""
    proxy = f"http://127.0.0.1:{port}"
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "xdg"),
           "PORTFOLIO_CACHE_DIR": str(tmp_path / "cache"), "NO_PROXY": "", "no_proxy": ""}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = proxy
    env.pop("PORTFOLIO_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "portfolio.cli.main", *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
def test_auto_falls_back_to_bundled_data_after_the_timeout(tmp_path):
    with StalledServer() as server:
        done = _portfolio(tmp_path, server.port, "optimize", "--timeout", "2",
                                   "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["data_source"] == "bundled"
    assert "Yahoo did not answer within 2 s" in done.stderr
    assert server.held, "no request reached the stalled server"
    # the request waited until the deadline (counted from just before the first request)
    # and no longer
    assert 1.5 <= max(server.held) <= 3.5


@pytest.mark.slow
@pytest.mark.parametrize("command", [["optimize", "--data-source", "yahoo"],
                                     ["data", "update", "NVDA"]])
def test_yahoo_fails_with_one_line_error_after_the_timeout(tmp_path, command):
    with StalledServer() as server:
        done = _portfolio(tmp_path, server.port, *command, "--timeout", "1")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: Yahoo Finance returned no data")
    assert "no answer within the 1 s time limit" in lines[0] and "--timeout" in lines[0]
    assert server.held and 0.5 <= max(server.held) <= 2.5


# ------------------------------------------------------------------ the deadline itself
class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_session_gives_each_request_at_most_the_time_left(monkeypatch):
    clock = FakeClock()
    deadline = Deadline(20, clock)
    session = deadline.session()
    assert deadline.session() is session  # one session (one cookie) per command
    seen = []
    base = type(session).__mro__[1]
    monkeypatch.setattr(base, "request", lambda self, method, url, **kw: seen.append(kw))
    with deadline.bounding():
        session.get("https://fc.yahoo.com", timeout=30)  # yfinance's cookie request
        clock.now += 15
        session.get("https://query2.finance.yahoo.com/x", timeout=(3, 30))
        session.get("https://query2.finance.yahoo.com/y", timeout=2)
        assert [kw["timeout"] for kw in seen] == [20, 5, 2]
        clock.now += 5
        with pytest.raises(TimeoutError, match="20 s time limit"):
            session.get("https://query2.finance.yahoo.com/z")
        assert deadline.remaining() == 0
    # yfinance keeps the session: a later call of the user's own is not held to the budget
    session.get("https://query2.finance.yahoo.com/later", timeout=30)
    assert seen[-1]["timeout"] == 30
    with pytest.raises(ValueError):
        Deadline(0)


def test_fetch_reports_requests_cut_by_the_deadline_as_timed_out():
    """yfinance turns a request cut short into "no data"; after the deadline it is a timeout."""
    clock = FakeClock()

    def slow_download(tickers, **options):
        assert options["timeout"] <= 10 and options["session"] is deadline.session()
        clock.now += 30  # the request took the whole budget and more
        return pd.DataFrame()

    deadline = Deadline(10, clock)
    with pytest.raises(YahooUnavailableError) as caught:
        fetch_yahoo(["NVDA", "AMD"], download=slow_download, deadline=deadline,
                    sleep=lambda s: None, clock=clock)
    error = caught.value
    assert error.timed_out and error.reasons == {"NVDA": TIMED_OUT, "AMD": TIMED_OUT}
    assert "no answer within the 10 s time limit" in error.message


def test_timeout_comes_from_the_option_else_the_config(capsys, monkeypatch, config):
    budgets = []

    def unreachable(tickers, start=None, end=None, *, deadline):
        budgets.append(deadline.seconds)
        raise YahooUnavailableError(tickers, dict.fromkeys(tickers, TIMED_OUT), deadline.seconds)

    import portfolio.data.prices as prices_module

    monkeypatch.setattr(prices_module, "fetch_yahoo", unreachable)
    code, _, err = run(capsys, "optimize", "--timeout", "7", "--format", "json")
    assert code == 0 and "Yahoo did not answer within 7 s" in err
    code, _, err = run(capsys, "optimize", "--format", "json")
    assert code == 0 and budgets == [7.0, DEFAULT_TIMEOUT]
    assert DataOptions(timeout=3).timeout_for(config) == 3
    assert DataOptions().timeout_for(config) == config.data.timeout == DEFAULT_TIMEOUT
    with pytest.raises(DataError, match="no answer within the 7 s"):
        load_prices(["NVDA"], source="yahoo", timeout=7)


def test_data_timeout_is_a_config_key(config):
    mapping = {"universe": {"tickers": ["NVDA"]}, "data": {"timeout": 5}}
    assert parse_config(mapping).data.timeout == 5.0
    assert config.data.timeout == DEFAULT_TIMEOUT == 20.0
    with pytest.raises(ConfigError, match=r"key data\.timeout"):
        parse_config({"universe": {"tickers": ["NVDA"]}, "data": {"timeout": 0}})


def test_a_spinner_shows_on_a_terminal_while_yahoo_is_asked(monkeypatch):
    import click
    from rich.console import Console

    from cli._common import fetch_spinner

    events = []

    class Status:
        def __init__(self, text):
            events.append(("show", text))

        def start(self):
            events.append(("start",))

        def update(self, text):
            events.append(("update", text))

        def stop(self):
            events.append(("stop",))

    monkeypatch.setattr(Console, "status", lambda self, text: Status(text))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with click.Context(click.Command("optimize")):
        on_fetch = fetch_spinner()
        on_fetch(0, 3)
        on_fetch(1, 3)
        on_fetch(3, 3)
    assert events == [("show", "Fetching prices from Yahoo (0/3 tickers)"), ("start",),
                      ("update", "Fetching prices from Yahoo (1/3 tickers)"), ("stop",)]
    events.clear()
    with click.Context(click.Command("optimize")):  # the command ends (an error) mid-fetch
        fetch_spinner()(0, 3)
    assert events[-1] == ("stop",)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    with click.Context(click.Command("optimize")):
        assert fetch_spinner() is None  # piped: no spinner
