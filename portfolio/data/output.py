"""Atomic output writing: a file (:func:`write_atomic`) or a whole folder (:func:`write_files`).

A file is written to a temporary file beside it and renamed into place; a folder is
written as a fresh sibling folder and swapped in with directory renames. Readers see the
old version or the complete new one, never a mix. Only regular files are ever replaced: a
FIFO, device, socket or folder in the way is refused, never swapped for a regular file.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from portfolio.errors import InputError

__all__ = ["copy_files", "write_atomic", "write_files"]


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
    """Write a folder of files so that it is either the complete old or the complete new one.

    The files are written into a fresh sibling folder (``.<name>.new-*``); entries of the
    old folder that ``contents`` does not name are carried over into it (hard links, or
    copies); then two directory renames swap it in: old folder -> ``.<name>.old-*``, new
    folder -> ``folder``; last the old copy is removed. Whichever single operation fails,
    ``folder`` is left as the complete old folder (everything done is undone, the new
    folder removed) or, when only the final clean-up fails, as the complete new one.

    Parameters
    ----------
    folder : str or Path
        Destination folder; created with its missing parents. A symbolic link to a folder
        is followed: the folder it points to is replaced, the link kept.
    contents : Mapping of str to str or bytes
        Path inside ``folder`` (``"a.json"``, ``"backtests/b.toml"``) to its content: text
        (written as UTF-8) or bytes. A replaced file keeps its permissions.

    Returns
    -------
    list of Path
        ``folder / name`` for every name, in the order of ``contents``.

    Raises
    ------
    InputError
        When a target exists and is not a regular file, or ``folder`` is not a folder
        (checked before anything is written), or any step fails; ``folder`` is then as
        it was and no temporary folder is left.
    """
    folder = Path(folder)
    fix = "choose another --output-dir"
    real = Path(os.path.realpath(folder))
    if real.exists() and not real.is_dir():
        raise InputError("cannot write output", str(folder), "it is not a folder", fix)
    if real == real.parent:
        raise InputError("cannot write output", str(folder), "the root folder cannot be "
                         "replaced", fix)
    for name in contents:  # a folder, FIFO or device in the way is refused, never replaced
        _regular_target(folder / name, fix)
    created = [p for p in (real.parent, *real.parent.parents) if not p.exists()]
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _remove_folders(created)
        raise InputError("cannot create the output folder", str(folder),
                         exc.strerror or str(exc), fix) from None
    staging: Path | None = None
    where, step = folder, "a new folder beside it could not be created"
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{real.name}.new-", dir=real.parent))
        step = "the file could not be written"
        for name, content in contents.items():
            where = folder / name
            _write_new(staging / name, content, _file_mode(real / name))
        where, step = folder, "its other files could not be kept"
        if real.exists():
            _carry_over(real, staging, {Path(name).parts[0] for name in contents})
        os.chmod(staging, _folder_mode(real))
        step = "the new folder could not be swapped in"
        _swap(real, staging)
    except BaseException as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        _remove_folders(created)
        if isinstance(exc, OSError):
            raise InputError("cannot write output", str(where),
                             f"{step} ({exc.strerror or exc}); the folder is as it was",
                             fix) from None
        raise
    return [folder / name for name in contents]


def copy_files(sources: Mapping[str, str | Path], folder: str | Path) -> list[Path]:
    """Copy files into a new (or empty) folder, all of them or none (:func:`write_files`).

    Parameters
    ----------
    sources : Mapping of str to path
        Path inside ``folder`` (``"backtests/a.toml"``) to the file copied there.
    folder : str or Path
        A folder that does not exist yet, or an empty one.

    Returns
    -------
    list of Path
        The files written, in the order of ``sources``.

    Raises
    ------
    InputError
        ``folder`` exists and is not an empty folder (nothing in it is ever replaced), a
        source cannot be read, or writing fails (then nothing is left).
    """
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError("the folder is not new or empty", str(folder),
                         "the files are written into a new or empty folder, never over others",
                         "choose a new folder name")
    contents: dict[str, bytes] = {}
    for name, source in sources.items():
        try:
            contents[name] = Path(source).read_bytes()
        except OSError as exc:
            raise InputError("cannot read a packaged file", str(source),
                             exc.strerror or str(exc), "reinstall the package") from None
    return write_files(folder, contents)


def _write_new(path: Path, content: str | bytes, mode: int) -> None:
    """Write a new file (and its missing folders) with ``mode``, synced to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(handle, view):]
        os.fsync(handle)
        os.chmod(path, mode)
    finally:
        os.close(handle)


def _carry_over(old: Path, new: Path, replaced: set[str]) -> None:
    """Put every entry of ``old`` not in ``replaced`` into ``new``, leaving ``old`` as it was.

    Files are hard-linked (copied where a link is refused); folders are copied with their
    symbolic links kept as links.
    """
    for entry in os.scandir(old):
        if entry.name in replaced:
            continue
        target = new / entry.name
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), target)
        elif entry.is_dir():
            shutil.copytree(entry.path, target, symlinks=True)
        else:
            try:
                os.link(entry.path, target)
            except OSError:
                shutil.copy2(entry.path, target)


def _swap(real: Path, staging: Path) -> None:
    """Rename ``real`` away, ``staging`` to ``real``, then remove the old copy.

    If the second rename fails the first is undone. The old copy's removal is best effort:
    ``real`` is already the complete new folder.
    """
    if not real.exists():
        os.rename(staging, real)
        return
    backup = real.parent / f".{real.name}.old-{secrets.token_hex(8)}"
    os.rename(real, backup)
    try:
        os.rename(staging, real)
    except BaseException:
        os.rename(backup, real)
        raise
    shutil.rmtree(backup, ignore_errors=True)


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
    return _mode(path, 0o666)


def _folder_mode(path: Path) -> int:
    """Permissions for the new folder: the replaced folder's, else ``0o777`` less the umask."""
    return _mode(path, 0o777)


def _mode(path: Path, default: int) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return default & ~umask
