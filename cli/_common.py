"""Options and helpers shared by the commands (light: click only at import time)."""

from __future__ import annotations

import datetime as dt
import functools
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import click

FORMATS = ("table", "json", "csv", "markdown", "html")


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
    timeout: float | None = None
    notes: list[str] = field(default_factory=list)  # printed with the first notice


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
        click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
                     expose_value=False, callback=_store("timeout"), metavar="SECONDS",
                     help="Most time all Yahoo requests may take together (default: "
                          "[data] timeout of the config, 20 s)."),
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
    """Option callback: refuse an output folder that cannot be written before any work is done.

    The folder is written beside itself and swapped in (``portfolio.data.output.write_files``),
    so its parent folder, or else the nearest existing ancestor, must be a writable folder.
    """
    if value is not None:
        if os.path.exists(value) and not os.path.isdir(value):
            raise click.BadParameter(f"'{value}' is not a folder")
        real = os.path.realpath(value) if os.path.islink(value) else os.path.normpath(value)
        ancestor = os.path.dirname(real) or "."
        while not os.path.lexists(ancestor):
            ancestor = os.path.dirname(ancestor.rstrip(os.sep)) or "."
        if not os.path.isdir(ancestor):
            raise click.BadParameter(f"'{ancestor}' is not a folder")
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise click.BadParameter(f"folder '{ancestor}' is not writable")
    return value


INPUT_OPTIONS = {"holdings_path": "--holdings", "holdings": "--holdings",
                 "target_path": "--target", "weights_path": "--weights"}
"""Command parameters that name an input file, and their option."""

OUTPUT_OPTIONS = {"output": "--output", "plot": "--plot"}
"""Command parameters that name an output file, and their option."""


def refuse_overwriting_inputs(params: dict[str, Any]) -> None:
    """Raise an InputError, before any work, when an output file is one of the inputs.

    Inputs: the files of :data:`INPUT_OPTIONS`, the config file, its deal graph and the
    price cache. Compared by identity on disk (``samefile``), so links and other spellings
    of a path are caught.
    """
    outputs = [(OUTPUT_OPTIONS[k], v) for k, v in params.items()
               if k in OUTPUT_OPTIONS and v and os.path.isfile(v)]
    if not outputs:
        return  # a file that does not exist yet is no input
    from portfolio.config import default_config_path
    from portfolio.data.cache import PriceCache
    from portfolio.errors import InputError

    inputs = [(INPUT_OPTIONS[k], holdings_file(v) if k.startswith("holdings") else v)
              for k, v in params.items() if k in INPUT_OPTIONS and v]
    config = settings().config_path or default_config_path()
    inputs += [("--config", config), ("the price cache", PriceCache(settings().cache_dir).path)]
    if os.path.isfile(config):
        inputs.append(("[ecosystem] file of the config", load_config().ecosystem.file))
    for flag, output in outputs:
        for role, source in inputs:
            if source is not None and os.path.isfile(source) and os.path.samefile(output, source):
                raise InputError("the output file is an input", f"{flag} {output}",
                                 f"it is also read as {role}, and writing the output would "
                                 "replace it", "write the output to another file")


def output_options(function: Callable) -> Callable:
    """Attach ``--format`` and ``--output``; an output that is an input file is refused."""

    @functools.wraps(function)
    def command(**params: Any) -> Any:
        refuse_overwriting_inputs(params)
        return function(**params)

    command = click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
                           callback=check_output_file,
                           help="Write to this file (atomically) instead of stdout.")(command)
    command = table_option(command)
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                        show_default=True,
                        help="Output format (html: one self-contained page with interactive "
                             "charts; write it with -o FILE.html and open it in a browser)."
                        )(command)


TABLE_KEY = "portfolio.table"


def _remember_table(ctx: click.Context, _param: Any, value: str | None) -> str | None:
    ctx.meta[TABLE_KEY] = value
    return value


def table_option(function: Callable) -> Callable:
    """Attach ``--table NAME``: the table ``--format csv`` writes (default the first)."""
    return click.option(
        "--table", default=None, metavar="NAME", expose_value=False, callback=_remember_table,
        help="With --format csv: which table to write (default the main, first one; an "
             "unknown name lists the others). CSV holds raw numbers: fractions, not "
             "percents.")(function)


def use_color(stream: Any) -> bool:
    """Colour for a terminal, none when piped, with NO_COLOR set or on a dumb terminal."""
    return (hasattr(stream, "isatty") and stream.isatty() and "NO_COLOR" not in os.environ
            and os.environ.get("TERM") != "dumb")


def settings() -> Settings:
    """Current global settings."""
    return _settings(click.get_current_context())


def load_config(tickers: str | None = None) -> Any:
    """Load the config named by ``--config`` (or the packaged default).

    ``tickers`` (``--tickers NVDA,AMD,TSLA``) replaces its universe for this run; the notes
    on the settings that no longer apply are printed.
    """
    from portfolio.config import load_config as load
    from portfolio.config import with_universe

    config = load(settings().config_path)
    if tickers is None:
        return config
    config, notes = with_universe(config, tickers)
    settings().notes.extend(f"Note: {note}" for note in notes)
    return config


def holdings_file(value: str) -> Any:
    """The holdings file ``--holdings`` names (``example``: the packaged example)."""
    from portfolio.config import holdings_path

    return holdings_path(value)


def tickers_option(function: Callable) -> Callable:
    """Attach ``--tickers NVDA,AMD,...``: another universe for one run."""
    return click.option(
        "--tickers", default=None, metavar="NVDA,AMD,...",
        help="Universe for this run instead of universe.tickers of the config (comma-separated; "
             "prices from the cache or the bundled data, see `portfolio data import`).",
    )(function)


def data_options(*, spinner: bool = True) -> Any:
    """The library's DataOptions built from the global options.

    ``spinner``: show a spinner on a terminal while prices are fetched from Yahoo (off
    where a progress bar is already shown).
    """
    from portfolio.jobs.market import DataOptions

    s = settings()
    return DataOptions(
        source=s.data_source, offline=s.offline, cache_dir=s.cache_dir, as_of=s.as_of,
        timeout=s.timeout, on_fetch=fetch_spinner() if spinner else None,
    )


def fetch_spinner() -> Callable[[int, int], None] | None:
    """``on_fetch(done, total)`` showing a spinner on stderr while Yahoo is asked.

    None when stderr is not a terminal or with --quiet. The spinner starts with the first
    request, stops when every ticker is fetched, and at the latest when the command ends.
    """
    if settings().quiet or not sys.stderr.isatty():
        return None
    ctx = click.get_current_context()
    state: dict[str, Any] = {}

    def stop() -> None:
        if state.get("status") is not None:
            state.pop("status").stop()

    def on_fetch(done: int, total: int) -> None:
        text = f"Fetching prices from Yahoo ({done}/{total} tickers)"
        if done >= total:
            stop()
        elif state.get("status") is None:
            from rich.console import Console

            state["status"] = Console(stderr=True).status(text)
            state["status"].start()
            ctx.call_on_close(stop)
        else:
            state["status"].update(text)

    return on_fetch


def notice(message: str) -> None:
    """A one-line notice on stderr (suppressed by --quiet).

    Notes kept in ``settings().notes`` come first: they are printed with the first notice
    of a command that succeeds, so that an error stays the only line on stderr.
    """
    s = settings()
    pending, s.notes[:] = list(s.notes), []
    for line in (*pending, message):
        if line and not s.quiet:
            click.echo(line, err=True)


def emit(report: Any, fmt: str, output: str | None) -> None:
    """Render a Report and print it or write it atomically to ``output``.

    On a terminal the table format follows its width and is coloured (see
    :func:`use_color`); in a file or a pipe it is 110 columns without colour.
    """
    from portfolio.data.output import write_atomic
    from portfolio.report import render

    table = click.get_current_context().meta.get(TABLE_KEY)
    if table is not None and fmt != "csv":
        raise click.UsageError("--table applies to --format csv")
    to_terminal = output is None and sys.stdout.isatty()
    width = shutil.get_terminal_size((110, 24)).columns if to_terminal else None
    text = render(report, fmt, width, table=table, color=to_terminal and use_color(sys.stdout))
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
