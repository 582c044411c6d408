"""Atomic output writing: one file (write_atomic) and a folder of files (write_files).

Only temporary folders are used (a FIFO made with os.mkfifo stands in for a device).
"""

from __future__ import annotations

import os
import stat

import pytest

from portfolio.data import output
from portfolio.data.output import write_atomic, write_files
from portfolio.errors import InputError

CONTENTS = {"a.json": '{"a": 1}\n', "b.csv": "x,y\n1,2\n", "c.png": b"\x89PNG\x00\x01",
            "d.md": "# d\n"}


def fail_on_call(monkeypatch, name: str, number: int) -> list[int]:
    """Make ``os.<name>`` raise ENOSPC on its ``number``-th call; return the call log."""
    original = getattr(os, name)
    calls: list[int] = []

    def failing(*args, **kwargs):
        calls.append(len(calls) + 1)
        if len(calls) == number:
            raise OSError(28, "No space left on device")
        return original(*args, **kwargs)

    monkeypatch.setattr(os, name, failing)
    return calls


def snapshot(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --------------------------------------------------------------------------- write_atomic


def test_write_atomic_replaces_a_regular_file_and_keeps_its_mode(tmp_path):
    path = tmp_path / "report.md"
    path.write_text("old")
    path.chmod(0o640)
    assert write_atomic(path, "new") == path
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["report.md"]


def test_write_atomic_writes_through_a_symlink_and_keeps_the_link(tmp_path):
    target = tmp_path / "real" / "target.json"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert write_atomic(link, "new") == link
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["link.json", "real"]
    assert os.listdir(target.parent) == ["target.json"]  # the temporary file went away


def test_write_atomic_through_a_dangling_symlink_creates_the_target(tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "absent.json")
    write_atomic(link, "new")
    assert link.is_symlink() and (tmp_path / "absent.json").read_text() == "new"


def test_write_atomic_refuses_a_fifo_and_leaves_it(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InputError) as caught:
        write_atomic(fifo, "text")
    message = caught.value.message
    assert message == (f"cannot write output ({fifo}): it is not a regular file. "
                       "Remove it or choose another output path.")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert os.listdir(tmp_path) == ["pipe"]


def test_write_atomic_refuses_a_symlink_to_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    link.symlink_to(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        write_atomic(link, "text")
    assert link.is_symlink() and stat.S_ISFIFO(fifo.lstat().st_mode)


def test_write_atomic_refuses_a_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    with pytest.raises(InputError, match="not a regular file"):
        write_atomic(tmp_path / "sub", "text")
    assert (tmp_path / "sub").is_dir()


# --------------------------------------------------------------------------- write_files


def test_write_files_creates_the_folder_and_every_file(tmp_path):
    folder = tmp_path / "new" / "nested"
    written = write_files(folder, CONTENTS)
    assert written == [folder / name for name in CONTENTS]
    expected = {name: c.encode() if isinstance(c, str) else c for name, c in CONTENTS.items()}
    assert snapshot(folder) == dict(sorted(expected.items()))
    umask = os.umask(0)
    os.umask(umask)
    assert {stat.S_IMODE(p.stat().st_mode) for p in written} == {0o666 & ~umask}


def test_write_files_replaces_files_and_keeps_others(tmp_path):
    (tmp_path / "a.json").write_text("old")
    (tmp_path / "a.json").chmod(0o640)
    (tmp_path / "notes.txt").write_text("mine")
    write_files(tmp_path, CONTENTS)
    assert (tmp_path / "a.json").read_text() == CONTENTS["a.json"]
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o640
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == sorted([*CONTENTS, "notes.txt"])


FS_CALLS = ("mkdir", "open", "write", "fsync", "close", "chmod", "link", "symlink", "readlink",
            "scandir", "rename", "unlink", "rmdir")
"""Every ``os`` function ``write_files`` reaches, directly or through tempfile and shutil."""


class FailAt:
    """Make the ``number``-th call of any :data:`FS_CALLS` function raise EIO (None: count)."""

    def __init__(self, number: int | None) -> None:
        self.number, self.calls, self.failed = number, 0, None

    def __enter__(self):
        self.saved = {name: getattr(os, name) for name in FS_CALLS}
        for name, original in self.saved.items():
            setattr(os, name, self._wrap(name, original))
        return self

    def __exit__(self, *exc_info):
        for name, original in self.saved.items():
            setattr(os, name, original)

    def _wrap(self, name, original):
        def call(*args, **kwargs):
            self.calls += 1
            if self.calls == self.number:
                self.failed = name
                raise OSError(5, "Input/output error")
            return original(*args, **kwargs)
        return call


def tree(folder) -> dict[str, object]:
    """Everything under ``folder``: bytes of files, link targets, folders, and modes."""
    found: dict[str, object] = {".": stat.S_IMODE(folder.stat().st_mode)}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            found[key] = ("link", os.readlink(path))
        elif path.is_dir():
            found[key] = ("dir", stat.S_IMODE(path.stat().st_mode))
        else:
            found[key] = (path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
    return found


def old_output(parent):
    """An output folder from an earlier run, with a file of the user's, a folder and a link."""
    folder = parent / "out"
    folder.mkdir(mode=0o750)
    (folder / "a.json").write_text("previous a")
    (folder / "a.json").chmod(0o640)
    (folder / "d.md").write_text("previous d")
    (folder / "notes.txt").write_text("mine")
    (folder / "plots").mkdir()
    (folder / "plots" / "old.png").write_bytes(b"old")
    (folder / "latest").symlink_to("a.json")
    return folder


def test_a_failure_at_any_step_leaves_the_complete_old_or_the_complete_new_folder(tmp_path):
    """Inject one failure at each filesystem call in turn (issue 16: no half-old folder)."""
    reference = tmp_path / "reference"
    reference.mkdir()
    write_files(old_output(reference), CONTENTS)
    new, old = tree(reference / "out"), None
    (tmp_path / "count").mkdir()
    counted = old_output(tmp_path / "count")
    with FailAt(None) as counting:
        write_files(counted, CONTENTS)
    assert counting.calls > 20
    outcomes = {"old": set(), "new": set()}
    for number in range(1, counting.calls + 2):
        parent = tmp_path / f"run{number}"
        parent.mkdir()
        folder = old_output(parent)
        old = tree(folder)
        with FailAt(number) as failing:
            try:
                write_files(folder, CONTENTS)
            except InputError as error:
                outcome = "old"
                message = error.message
                assert "\n" not in message and "the folder is as it was" in message
            else:
                outcome = "new"
        assert tree(folder) == (old if outcome == "old" else new), (number, failing.failed)
        leftovers = sorted(p.name for p in parent.iterdir() if p.name != "out")
        if outcome == "old":
            assert leftovers == [], (number, failing.failed)
        else:  # only the removal of the old copy may have failed: its leftover is hidden
            assert all(name.startswith(".out.old-") for name in leftovers)
        outcomes[outcome].add(failing.failed)
    assert {"mkdir", "open", "write", "fsync", "chmod", "rename"} <= outcomes["old"]
    assert "link" in outcomes["new"]  # a refused hard link falls back to a copy
    assert None in outcomes["new"]  # the run past the last call succeeds
    assert new["a.json"] == (b'{"a": 1}\n', 0o640) and new["notes.txt"][0] == b"mine"
    assert new["latest"] == ("link", "a.json") and new["."] == 0o750


def test_a_failed_second_rename_puts_the_old_folder_back(tmp_path, monkeypatch):
    folder = old_output(tmp_path)
    before = tree(folder)
    rename = os.rename
    calls = []

    def second_fails(source, target):
        calls.append((source, target))
        if len(calls) == 2:
            raise OSError(1, "Operation not permitted")
        return rename(source, target)

    monkeypatch.setattr(os, "rename", second_fails)
    with pytest.raises(InputError) as caught:
        write_files(folder, CONTENTS)
    assert [str(t) for _, t in calls[:2]][1] == str(folder)
    assert len(calls) == 3 and str(calls[2][1]) == str(folder)  # the undo
    assert caught.value.message == (
        f"cannot write output ({folder}): the new folder could not be swapped in (Operation "
        "not permitted); the folder is as it was. Choose another --output-dir.")
    assert tree(folder) == before
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_a_symlinked_output_folder_is_replaced_behind_its_link(tmp_path):
    real = old_output(tmp_path)
    link = tmp_path / "link"
    link.symlink_to(real)
    write_files(link, CONTENTS)
    assert link.is_symlink() and (link / "b.csv").read_text() == CONTENTS["b.csv"]
    assert (real / "notes.txt").read_text() == "mine"


def test_nested_names_and_a_failure_in_a_new_folder_leave_nothing(tmp_path, monkeypatch):
    folder = tmp_path / "new" / "nested"
    write_files(folder, {"x.toml": "a", "sub/y.toml": "b"})
    assert (folder / "sub" / "y.toml").read_text() == "b"
    fail_on_call(monkeypatch, "fsync", 2)
    with pytest.raises(InputError, match=r"\(.*other.*y.toml\): the file could not be written"):
        write_files(tmp_path / "other", {"x.toml": "a", "sub/y.toml": "b"})
    assert sorted(os.listdir(tmp_path)) == ["new"]


@pytest.mark.parametrize("kind", ["folder", "fifo", "link-to-fifo"])
def test_a_blocked_target_is_refused_before_anything_is_written(tmp_path, kind):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "a.json").write_text("previous a")
    blocked = folder / "c.png"
    if kind == "folder":
        blocked.mkdir()
    elif kind == "fifo":
        os.mkfifo(blocked)
    else:
        os.mkfifo(tmp_path / "pipe")
        blocked.symlink_to(tmp_path / "pipe")
    with pytest.raises(InputError) as caught:
        write_files(folder, CONTENTS)
    assert caught.value.message == (f"cannot write output ({blocked}): it is not a regular file."
                                    " Remove it or choose another --output-dir.")
    assert sorted(os.listdir(folder)) == ["a.json", "c.png"]
    assert (folder / "a.json").read_text() == "previous a"


def test_a_file_in_the_way_of_the_folder_is_an_input_error(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(InputError) as caught:
        write_files(tmp_path / "afile" / "sub", CONTENTS)
    where = tmp_path / "afile" / "sub"
    assert caught.value.message.startswith(f"cannot create the output folder ({where})")
    with pytest.raises(InputError, match="it is not a folder"):
        write_files(tmp_path / "afile", CONTENTS)
    assert sorted(os.listdir(tmp_path)) == ["afile"]


def test_the_module_exports_the_writers():
    assert set(output.__all__) == {"copy_files", "write_atomic", "write_files"}
