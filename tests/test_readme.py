"""The README's Python example runs as written (from the repository root)."""

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_readme_python_block_runs(monkeypatch, capsys):
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the README shows the library"
    monkeypatch.chdir(ROOT)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    assert "volatility" in capsys.readouterr().out


def test_readme_quick_start_has_exactly_two_commands():
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)```", quick, flags=re.S)
    assert len(commands) == 2
    assert "--offline" in commands[0] and "pytest" in commands[1]
