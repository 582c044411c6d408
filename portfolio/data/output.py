"""Atomic file writing: temporary files in the target folder renamed into place.

Only regular files are ever replaced: a symbolic link is followed (its target is
written, the link kept) and a FIFO, device, socket or folder in the way is refused,
never swapped for a regular file.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from portfolio.errors import InputError

__all__ = ["write_atomic", "write_files"]


def write_atomic(path: str | Path, content: str | bytes) -> Path:
    """Write ``content`` to ``path`` so readers see the old file or the whole new one.

    Parameters
    ----------
    path : str or Path
        File to write. A symbolic link is followed: its target is replaced, the link kept.
    content : str or bytes
        Text (written as UTF-8) or bytes.

    Returns
    -------
    Path
        ``path`` as given.

    Raises
    ------
    InputError
        When the folder does not exist or is not writable, or ``path`` exists and is not
        a regular file (a FIFO, a device, a folder). Nothing is left behind.
    """
    path = Path(path)
    target = _regular_target(path, "choose another output path")
    if not target.parent.is_dir():
        folder = target.parent if path.is_symlink() else path.parent
        raise InputError(
            "output folder does not exist", str(folder), "cannot write the report there",
            "create the folder or choose another --output path",
        )
    try:
        temp_name = _stage(target, content)
    except OSError as exc:
        raise InputError("cannot write output", str(path), exc.strerror or str(exc),
                         "check the folder's permissions or choose another --output path",
                         ) from None
    try:
        os.replace(temp_name, target)
    except OSError as exc:
        Path(temp_name).unlink(missing_ok=True)
        raise InputError("cannot write output", str(path), exc.strerror or str(exc),
                         "choose another --output path") from None
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path


def write_files(folder: str | Path, contents: Mapping[str, str | bytes]) -> list[Path]:
    """Write several files into ``folder``, all of them or none.

    Every file is first written in full to a temporary file in the folder; only when all
    are written are they renamed into place. A failure before the renames removes the
    temporary files and the folders this call created, and leaves existing files as
    they were.

    Parameters
    ----------
    folder : str or Path
        Destination folder; created with its missing parents.
    contents : Mapping of str to str or bytes
        File name (inside ``folder``) to its content: text (written as UTF-8) or bytes.
        Files of other names already in the folder are left alone.

    Returns
    -------
    list of Path
        ``folder / name`` for every name, in the order of ``contents``.

    Raises
    ------
    InputError
        When a target exists and is not a regular file (checked before anything is
        written), the folder cannot be created, or a file cannot be written.

    Notes
    -----
    The renames themselves are not one atomic step: should a rename inside the folder
    fail (the folder changed under us), the files already renamed stay; new files this
    call placed and every temporary file are removed.
    """
    folder = Path(folder)
    fix = "choose another --output-dir"
    paths = [folder / name for name in contents]
    targets = [_regular_target(path, fix) for path in paths]
    created = [p for p in (folder, *folder.parents) if not p.exists()]  # innermost first
    existed = {target for target in targets if target.exists()}
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _remove_folders(created)
        raise InputError("cannot create the output folder", str(folder),
                         exc.strerror or str(exc), fix) from None
    staged: list[tuple[str, Path]] = []
    placed: list[Path] = []
    try:
        try:
            for path, target, content in zip(paths, targets, contents.values(), strict=True):
                where = path
                staged.append((_stage(target, content), target))
            for (temp_name, target), path in zip(staged, paths, strict=True):
                where = path
                os.replace(temp_name, target)
                placed.append(target)
        except OSError as exc:
            raise InputError("cannot write output", str(where), exc.strerror or str(exc),
                             fix) from None
    except BaseException:
        for temp_name, _ in staged:
            Path(temp_name).unlink(missing_ok=True)
        for target in placed:
            if target not in existed:
                target.unlink(missing_ok=True)
        _remove_folders(created)
        raise
    return paths


def _regular_target(path: Path, alternative: str) -> Path:
    """The file to replace for ``path``: a link's target; refuse anything but a regular file."""
    target = Path(os.path.realpath(path))
    try:
        mode = target.lstat().st_mode
    except (FileNotFoundError, NotADirectoryError):  # a missing folder is reported later
        return target
    except OSError as exc:
        raise InputError("cannot write output", str(path), exc.strerror or str(exc),
                         alternative) from None
    if not stat.S_ISREG(mode):
        raise InputError("cannot write output", str(path), "it is not a regular file",
                         f"remove it or {alternative}")
    return target


def _remove_folders(folders: list[Path]) -> None:
    """Remove the folders a call created, innermost first, stopping at one not empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            break


def _stage(target: Path, content: str | bytes) -> str:
    """Write ``content`` to a new temporary file next to ``target``; return its name.

    The file is synced to disk and given ``target``'s permissions; it is removed again
    when writing fails.
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                         dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
            os.chmod(temp_name, _file_mode(target))  # mkstemp's 0600 would hide the report
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return temp_name


def _file_mode(path: Path) -> int:
    """Permissions for the written file: the replaced file's, else ``0o666`` less the umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
