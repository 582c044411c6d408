"""Root command: global options, lazy sub-commands, error translation in one place.

Only click is imported here so that ``portfolio --help`` stays fast; each command
imports the library inside its callback.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys

import click

from ._common import global_options

COMMANDS = {
    "init": (".init", "init"),
    "data": (".data", "data"),
    "optimize": (".optimize", "optimize"),
    "frontier": (".frontier", "frontier"),
    "risk": (".risk", "risk"),
    "stress": (".stress", "stress"),
    "rebalance": (".rebalance", "rebalance"),
    "backtest": (".backtest", "backtest"),
    "sweep": (".sweep", "sweep"),
}
"""Sub-command modules, relative to this package (``cli`` in a checkout, ``portfolio.cli``
when installed)."""

# click >= 8.2 raises this for a group run without a command (8.1 prints the help and exits 0)
NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


class LazyGroup(click.Group):
    """Loads a sub-command's module only when it is listed or run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if self.get_command(ctx, name) is not None]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module_name, attribute = COMMANDS[name]
        try:
            module = importlib.import_module(module_name, __package__)
        except ModuleNotFoundError as exc:
            if exc.name == f"{__package__}{module_name}":
                return None
            raise
        return getattr(module, attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@global_options
@click.version_option(package_name="portfolio-ai-infra", prog_name="portfolio")
def cli() -> None:
    """Exposure, risk, allocation, rebalancing and backtests for AI-infrastructure portfolios.

    Global options work before or after the command name. Prices come from Yahoo
    Finance through a local cache, or from the bundled dataset (1999-01 .. 2026-07)
    when offline. Examples:

    \b
      portfolio --offline optimize
      portfolio risk --holdings example --offline --horizon 1y
      portfolio stress --holdings example --offline --given NVDA=-0.30
      portfolio rebalance --holdings example --format markdown
      portfolio backtest ai_policy --offline
      portfolio sweep config/sweeps/policy_small.toml --offline
      portfolio init my-portfolio    (an editable copy of the config)
    """


def _usage_error_line(error: click.UsageError) -> str:
    command = error.ctx.command_path if error.ctx else "portfolio"
    message = " ".join(error.format_message().split()).rstrip(".")
    end = "" if message.endswith(("?", "!")) else "."
    return (
        f"Error: invalid command line ({command}): {message}{end}"
        f" Run '{command} --help' for usage."
    )


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: exit 0 ok, 2 bad input, 1 bug, 3 limit breach (--check)."""
    try:
        _run(argv)
    finally:
        if argv is None:  # the process ends now: its objects need no final collection
            gc.freeze()  # the interpreter's exit is about 0.07 s faster


def _run(argv: list[str] | None) -> None:
    try:
        code = cli.main(args=argv, prog_name="portfolio", standalone_mode=False)
    except NO_ARGS_IS_HELP as error:  # bare `portfolio` or `portfolio data`: show the help
        error.show()
        sys.exit(error.exit_code)
    except click.UsageError as error:
        click.echo(_usage_error_line(error), err=True)
        sys.exit(2)
    except click.ClickException as error:
        click.echo(f"Error: {' '.join(error.format_message().split())}", err=True)
        sys.exit(error.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as error:  # one place translates every error
        from portfolio.errors import PortfolioError

        if isinstance(error, PortfolioError):
            click.echo(f"Error: {error.message}", err=True)
            sys.exit(error.exit_code)
        if os.environ.get("PORTFOLIO_DEBUG"):
            raise
        click.echo(
            f"Error: internal error ({type(error).__name__}): {error}. This is a bug; please "
            "report it with the command you ran (set PORTFOLIO_DEBUG=1 to see the traceback).",
            err=True,
        )
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
