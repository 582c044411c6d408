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


@pytest.mark.parametrize("step", ["fsync", "chmod"])
def test_a_failure_on_the_third_file_changes_nothing(tmp_path, monkeypatch, step):
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "a.json").write_text("previous a")
    (kept / "d.md").write_bytes(b"previous d")
    (kept / "notes.txt").write_text("mine")
    before = snapshot(kept)

    calls = fail_on_call(monkeypatch, step, 3)
    with pytest.raises(InputError) as caught:
        write_files(kept, CONTENTS)
    assert len(calls) == 3
    message = caught.value.message
    assert message.startswith(f"cannot write output ({kept / 'c.png'}): No space left")
    assert message.endswith("Choose another --output-dir.") and "\n" not in message
    assert snapshot(kept) == before  # byte-identical, no temporary file

    calls.clear()
    new = tmp_path / "new" / "nested"
    with pytest.raises(InputError, match="No space left"):
        write_files(new, CONTENTS)
    assert not (tmp_path / "new").exists()  # the folders this call made are gone
    assert sorted(os.listdir(tmp_path)) == ["kept"]


def test_a_failed_rename_removes_the_new_files_and_temporaries(tmp_path, monkeypatch):
    (tmp_path / "a.json").write_text("previous a")
    fail_on_call(monkeypatch, "replace", 3)
    with pytest.raises(InputError, match="No space left"):
        write_files(tmp_path, CONTENTS)
    # a.json was already replaced (documented); b.csv, placed new, is removed again
    assert sorted(os.listdir(tmp_path)) == ["a.json"]


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
    assert sorted(os.listdir(tmp_path)) == ["afile"]


def test_the_module_exports_both_writers():
    assert set(output.__all__) == {"write_atomic", "write_files"}
