"""Helpers shared by the CLI tests: run ``portfolio`` in-process, check the error contract."""

from __future__ import annotations

from cli.main import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    capsys.readouterr()  # drop anything printed before
    try:
        main(list(args))
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    else:  # pragma: no cover - main always exits
        code = 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, out: str, err: str, *words: str) -> None:
    """Exit 2, nothing on stdout, exactly one ``Error:`` line naming ``words``, no traceback."""
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: ")
    for word in words:
        assert word.lower() in lines[0].lower(), (word, lines[0])
