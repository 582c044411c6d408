"""One time budget for every network request of a command.

A :class:`Deadline` is a point in time by which all of a command's requests to Yahoo must
end (``--timeout SECONDS``, ``[data] timeout``, default :data:`DEFAULT_TIMEOUT`). Its
:meth:`Deadline.session` is the HTTP session handed to yfinance: every request made through
it -- the price downloads and yfinance's own cookie, crumb and consent requests, which
yfinance otherwise sends with a fixed 30 s timeout of its own -- gets at most the time left,
and once the budget is spent a request fails at once with :class:`TimeoutError`. A proxy or
server that accepts connections and never answers therefore costs at most the budget.

yfinance keeps the last session it was given for later calls; outside
:meth:`Deadline.bounding` (after the toolkit's own download) the session makes plain
requests, so a script that uses yfinance afterwards is not held to a spent budget.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["DEFAULT_TIMEOUT", "Deadline"]

DEFAULT_TIMEOUT = 20.0
"""Seconds all Yahoo requests of one command may take together, by default."""


class Deadline:
    """A total time budget, in seconds of ``clock``, shared by every request of a command.

    The budget is counted from the first time it is consulted (just before the first
    request), so that loading yfinance on a slow machine does not use it up.

    Parameters
    ----------
    seconds : float
        The budget (> 0).
    clock : callable
        Monotonic clock in seconds (injected by tests).

    Attributes
    ----------
    seconds : float
        The whole budget, for messages.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        if not seconds > 0:
            raise ValueError(f"a time budget is > 0 seconds, got {seconds!r}")
        self.seconds = float(seconds)
        self.clock = clock
        self._end: float | None = None
        self._session: Any = None
        self._bounding = 0

    def __repr__(self) -> str:
        return f"Deadline({self.seconds:g} s, {self.remaining():.3g} s left)"

    def remaining(self) -> float:
        """Seconds left (0 once the budget is spent); the first call starts the count."""
        if self._end is None:
            self._end = self.clock() + self.seconds
        return max(self._end - self.clock(), 0.0)

    @property
    def is_bounding(self) -> bool:
        """True inside :meth:`bounding`: requests through :meth:`session` are bounded."""
        return self._bounding > 0

    @contextlib.contextmanager
    def bounding(self) -> Iterator[Deadline]:
        """Bound the requests made through :meth:`session` within the ``with`` block."""
        self._bounding += 1
        try:
            yield self
        finally:
            self._bounding -= 1

    def session(self) -> Any:
        """The HTTP session for yfinance whose every request ends by this deadline.

        A ``curl_cffi`` session impersonating a browser (what yfinance uses itself), or a
        ``requests`` session when ``curl_cffi`` is not installed; made once per deadline so
        that yfinance's cookie and crumb are fetched once per command.
        """
        if self._session is None:
            self._session = _bounded_session(self)
        return self._session


def _bounded_session(deadline: Deadline) -> Any:
    """A session of yfinance's HTTP backend with :meth:`request` bounded by ``deadline``."""
    try:
        from curl_cffi import requests as backend  # yfinance's preferred backend

        options: dict[str, Any] = {"impersonate": "chrome"}
    except ImportError:  # pragma: no cover - yfinance falls back to requests the same way
        import requests as backend

        options = {}

    class BoundedSession(backend.Session):  # type: ignore[misc, name-defined]
        """Gives each request at most the time left; refuses any once none is left."""

        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            if not deadline.is_bounding:  # yfinance used later, outside the toolkit's calls
                return super().request(method, url, *args, **kwargs)
            left = deadline.remaining()
            if left <= 0:
                raise TimeoutError(f"no answer within the {deadline.seconds:g} s time limit")
            asked = kwargs.get("timeout")
            kwargs["timeout"] = min(asked, left) if isinstance(asked, int | float) else left
            return super().request(method, url, *args, **kwargs)

    return BoundedSession(**options)
