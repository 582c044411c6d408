"""``portfolio init DIR``: an editable copy of the packaged configuration, ready to run.

Writes the default config, the deal graph, the example holdings and the backtests
(:data:`portfolio.config.paths.STARTER_FILES`) into a new folder, where their relative paths
hold: the config finds ``ecosystem.toml`` beside it, the backtests ``../default.toml``.
"""

from __future__ import annotations

from pathlib import Path

from portfolio.config.paths import STARTER_FILES, packaged_config_path
from portfolio.data.output import copy_files

__all__ = ["init_folder"]


def init_folder(folder: str | Path) -> list[Path]:
    """Copy the packaged config, deal graph, example holdings and backtests into ``folder``.

    Parameters
    ----------
    folder : str or Path
        A folder that does not exist yet, or an empty one.

    Returns
    -------
    list of Path
        The files written: ``default.toml``, ``ecosystem.toml``, ``holdings.csv``,
        ``backtests/ai_policy.toml``, ``backtests/drift_band.toml``.

    Raises
    ------
    InputError
        ``folder`` is not new or empty, or writing fails (then nothing is written).
    """
    sources = {name: packaged_config_path(source) for name, source in STARTER_FILES.items()}
    return copy_files(sources, folder)
