"""Atomic file writing: a temporary file in the target folder renamed into place."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from portfolio.errors import InputError

__all__ = ["write_atomic"]


def write_atomic(path: str | Path, content: str | bytes) -> Path:
    """Write ``content`` to ``path`` so readers see the old file or the whole new one.

    Raises
    ------
    InputError
        When the folder does not exist or is not writable (nothing is left behind).
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(
            "output folder does not exist", str(folder), "cannot write the report there",
            "create the folder or choose another --output path",
        )
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise InputError("cannot write output", str(path), exc.strerror or str(exc),
                         "check the folder's permissions") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
            os.chmod(temp_name, _file_mode(path))  # mkstemp's 0600 would hide the report
        os.replace(temp_name, path)
    except OSError as exc:
        Path(temp_name).unlink(missing_ok=True)
        raise InputError("cannot write output", str(path), exc.strerror or str(exc),
                         "choose another --output path") from None
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path


def _file_mode(path: Path) -> int:
    """Permissions for the written file: the replaced file's, else ``0o666`` less the umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
