"""Where the packaged configurations live, and the names that reach them.

The repository's ``config/`` folder ships inside the package as ``portfolio.configs``:
the default config, the deal graph, the backtests and an example holdings file. A user who
installed the package alone reaches them by name: ``portfolio backtest ai_policy``,
``--holdings example``; ``portfolio init DIR`` copies them into an editable folder.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from portfolio.errors import ConfigError, did_you_mean

__all__ = [
    "EXAMPLE_HOLDINGS",
    "STARTER_FILES",
    "backtest_path",
    "default_config_path",
    "holdings_path",
    "packaged_backtests",
    "packaged_config_path",
]

EXAMPLE_HOLDINGS = "example"
"""The name that stands for the packaged example holdings file (``--holdings example``)."""

STARTER_FILES = {
    "default.toml": "default.toml",
    "ecosystem.toml": "ecosystem.toml",
    "holdings.csv": "example_holdings.csv",
    "backtests/ai_policy.toml": "backtests/ai_policy.toml",
    "backtests/drift_band.toml": "backtests/drift_band.toml",
}
"""What ``portfolio init DIR`` writes (path inside DIR -> packaged file). The relative
paths inside them hold there: ``[ecosystem] file = "ecosystem.toml"`` beside the config,
``base_config = "../default.toml"`` in the backtests."""


def packaged_config_path(name: str = "default.toml") -> Path:
    """Return the path of a configuration shipped with the package.

    Parameters
    ----------
    name : str
        File name inside the packaged ``config/`` folder, e.g. ``"ecosystem.toml"``,
        ``"backtests/ai_policy.toml"`` or ``"example_holdings.csv"``.
    """
    try:
        return Path(str(resources.files("portfolio.configs").joinpath(name)))
    except ModuleNotFoundError:  # a source checkout: config/ sits beside portfolio/
        return Path(__file__).resolve().parents[2] / "config" / name


def default_config_path() -> Path:
    """Return the packaged default configuration's path."""
    return packaged_config_path("default.toml")


def packaged_backtests() -> tuple[str, ...]:
    """Names of the packaged backtests (``ai_policy``, ...), sorted."""
    folder = packaged_config_path("backtests")
    return tuple(sorted(p.stem for p in folder.glob("*.toml")))


def backtest_path(value: str | Path) -> Path:
    """The backtest file ``value`` names: an existing file, else a packaged backtest.

    ``"ai_policy"`` (or ``"ai_policy.toml"``) is the packaged ``backtests/ai_policy.toml``
    unless a file of that name exists in the current folder.

    Raises
    ------
    ConfigError
        Neither a file nor a packaged name, with the packaged names listed.
    """
    path = Path(value)
    if path.is_file():
        return path
    name = path.name.removesuffix(".toml")
    if str(value).removesuffix(".toml") == name and name in packaged_backtests():
        return packaged_config_path(f"backtests/{name}.toml")
    names = ", ".join(packaged_backtests())
    hint = did_you_mean(name, packaged_backtests())
    raise ConfigError(
        "backtest file not found", str(value),
        "no such file (relative paths start from the current folder), and no packaged "
        "backtest of that name",
        (f"{hint} " if hint else "") + f"Give the path of a backtest TOML file, or a packaged "
        f"name: {names}",
    )


def holdings_path(value: str | Path) -> Path:
    """The holdings file ``value`` names: ``"example"`` is the packaged example holdings.

    A file named ``example`` in the current folder wins over the packaged one.
    """
    path = Path(value)
    if str(value) == EXAMPLE_HOLDINGS and not path.exists():
        return packaged_config_path("example_holdings.csv")
    return path
