"""Every script in examples/ runs with the public API on the bundled data."""

import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(script.parent)
    monkeypatch.setenv("PORTFOLIO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PORTFOLIO_EXAMPLE_OUTPUT", str(tmp_path / "out"))
    runpy.run_path(str(script), run_name="__main__")
    assert capsys.readouterr().out.strip(), "an example prints its result"
