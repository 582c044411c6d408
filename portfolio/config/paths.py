"""Where the packaged configurations live.

The repository's ``config/`` folder ships inside the package as ``portfolio.configs``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["default_config_path", "packaged_config_path"]


def packaged_config_path(name: str = "default.toml") -> Path:
    """Return the path of a configuration shipped with the package.

    Parameters
    ----------
    name : str
        File name inside the packaged ``config/`` folder, e.g. ``"ecosystem.toml"``
        or ``"backtests/ai_policy.toml"``.
    """
    try:
        return Path(str(resources.files("portfolio.configs").joinpath(name)))
    except ModuleNotFoundError:  # a source checkout: config/ sits beside portfolio/
        return Path(__file__).resolve().parents[2] / "config" / name


def default_config_path() -> Path:
    """Return the packaged default configuration's path."""
    return packaged_config_path("default.toml")
