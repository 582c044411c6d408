"""Options and helpers shared by the commands (light: click only at import time)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import click

FORMATS = ("table", "json", "csv", "markdown")


class LazyChoice(click.Choice):
    """A choice whose values come from the library, loaded only when click needs them.

    ``portfolio --help`` then stays free of the library; ``portfolio optimize --help`` and
    a run with the option load the names from their one home (e.g. the objective registry).
    """

    def __init__(self, load: Callable[[], tuple[str, ...]]) -> None:
        self._load = load
        self._loaded: tuple[str, ...] | None = None
        super().__init__((), case_sensitive=True)

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        if self._loaded is None:
            self._loaded = tuple(self._load())
        return self._loaded

    @choices.setter
    def choices(self, value: tuple[str, ...]) -> None:  # set by click.Choice.__init__
        pass


@dataclass
class Settings:
    """Global options, merged from before and after the command name."""

    config_path: str | None = None
    data_source: str = "auto"
    offline: bool = False
    as_of: str | None = None
    cache_dir: str | None = None
    quiet: bool = False


def _settings(ctx: click.Context) -> Settings:
    root = ctx.find_root()
    if "settings" not in root.meta:
        root.meta["settings"] = Settings()
    return root.meta["settings"]


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None and value is not False:
            setattr(_settings(ctx), name, value)
        return value

    return callback


def _check_date(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date; write YYYY-MM-DD") from None
    return _store("as_of")(ctx, param, value)


def global_options(function: Callable) -> Callable:
    """Attach the global options; usable on the root group and on every command."""
    options = [
        click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                     expose_value=False, callback=_store("config_path"), is_eager=True,
                     help="Config TOML (default: the packaged default.toml)."),
        click.option("--data-source", type=click.Choice(["auto", "yahoo", "cache", "bundled"]),
                     default=None, expose_value=False, callback=_store("data_source"),
                     help="Where prices come from (default auto)."),
        click.option("--offline", is_flag=True, default=False, expose_value=False,
                     callback=_store("offline"), help="Never touch the network."),
        click.option("--as-of", default=None, expose_value=False, callback=_check_date,
                     metavar="DATE", help="Use prices up to this date (YYYY-MM-DD)."),
        click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
                     expose_value=False, callback=_store("cache_dir"),
                     help="Price cache folder (default $PORTFOLIO_CACHE_DIR or ~/.cache).",),
        click.option("--quiet", "-q", is_flag=True, default=False, expose_value=False,
                     callback=_store("quiet"), help="No notices or progress bars."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def check_output_file(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """Option callback: refuse an output file before any work is done.

    Refused: a missing folder, or an existing path that is not a regular file (a FIFO,
    a device). click's message names the option (``--output``, ``--plot``).
    """
    if value is not None:
        folder = os.path.dirname(value) or "."
        if not os.path.isdir(folder):
            raise click.BadParameter(f"folder '{folder}' does not exist; create it first")
        if os.path.exists(value) and not os.path.isfile(value):
            raise click.BadParameter(f"'{value}' exists and is not a regular file")
    return value


def check_png_file(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """Option callback: :func:`check_output_file` for a path that must end in ``.png``."""
    if value is not None and not value.lower().endswith(".png"):
        raise click.BadParameter(f"'{value}' must end in .png")
    return check_output_file(ctx, param, value)


def check_output_dir(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """Option callback: refuse an output folder that cannot be created before any work is done.

    The folder itself, or else its nearest existing ancestor, must be a writable folder.
    """
    if value is not None:
        ancestor = value
        while not os.path.lexists(ancestor):
            ancestor = os.path.dirname(ancestor.rstrip(os.sep)) or "."
        if not os.path.isdir(ancestor):
            raise click.BadParameter(f"'{ancestor}' is not a folder")
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise click.BadParameter(f"folder '{ancestor}' is not writable")
    return value


def output_options(function: Callable) -> Callable:
    """Attach ``--format`` and ``--output``."""
    function = click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
                            callback=check_output_file,
                            help="Write to this file (atomically) instead of stdout.")(function)
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                        show_default=True, help="Output format.")(function)


def settings() -> Settings:
    """Current global settings."""
    return _settings(click.get_current_context())


def load_config() -> Any:
    """Load the config named by ``--config`` (or the packaged default)."""
    from portfolio.config import load_config as load

    return load(settings().config_path)


def data_options() -> Any:
    """The library's DataOptions built from the global options."""
    from portfolio.jobs.market import DataOptions

    s = settings()
    return DataOptions(
        source=s.data_source, offline=s.offline, cache_dir=s.cache_dir, as_of=s.as_of
    )


def notice(message: str) -> None:
    """A one-line notice on stderr (suppressed by --quiet)."""
    if message and not settings().quiet:
        click.echo(message, err=True)


def emit(report: Any, fmt: str, output: str | None) -> None:
    """Render a Report and print it or write it atomically to ``output``."""
    from portfolio.data.output import write_atomic
    from portfolio.report import render

    text = render(report, fmt)
    if output:
        write_atomic(output, text)
        notice(f"Wrote {output}")
    else:
        echo(text, nl=False)


def echo(text: str, *, nl: bool = True) -> None:
    """Print on stdout; when the reader has gone (``| head``), exit 0 quietly.

    click itself would turn the broken pipe into exit status 1.
    """
    try:
        click.echo(text, nl=nl)
    except BrokenPipeError:
        try:  # the interpreter's final flush of stdout must not fail again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # stdout without a file descriptor
            pass
        sys.exit(0)


@contextmanager
def progress(description: str) -> Iterator[Callable[[int, int], None]]:
    """Yield ``update(done, total)``; shows a rich bar only on a terminal and without --quiet."""
    if settings().quiet or not sys.stderr.isatty():
        yield lambda done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
