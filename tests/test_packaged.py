"""Runs after ``pip install`` alone: packaged backtests by name, ``--holdings example`` and
``portfolio init DIR`` (issue 16: ``portfolio backtest ai_policy`` was "config file not
found" and no example holdings file was packaged).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cli_helpers import assert_one_line_error, run

from portfolio.backtesting.spec import load_backtest
from portfolio.config import (
    backtest_path,
    holdings_path,
    load_config,
    packaged_backtests,
    packaged_config_path,
)
from portfolio.config.paths import STARTER_FILES
from portfolio.data.holdings import read_holdings
from portfolio.errors import ConfigError, InputError
from portfolio.jobs.starter import init_folder

ROOT = Path(__file__).resolve().parents[1]


def test_packaged_backtests_are_reached_by_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert packaged_backtests() == ("ai_policy", "dotcom_to_now", "drift_band")
    for name in ("ai_policy", "ai_policy.toml"):
        assert backtest_path(name) == packaged_config_path("backtests/ai_policy.toml")
    config = load_backtest("ai_policy")
    assert Path(config.base_source).resolve() == packaged_config_path("default.toml").resolve()
    (tmp_path / "ai_policy").write_text("a file of that name wins")
    assert backtest_path("ai_policy") == Path("ai_policy")
    with pytest.raises(ConfigError) as caught:
        backtest_path("ai_polcy")
    assert "Did you mean 'ai_policy'?" in caught.value.message
    assert "ai_policy, dotcom_to_now, drift_band" in caught.value.message
    with pytest.raises(ConfigError, match="backtest file not found"):
        backtest_path("sub/ai_policy")  # a path is a path, never a packaged name


def test_the_example_holdings_are_the_repository_example(tmp_path, monkeypatch, config):
    monkeypatch.chdir(tmp_path)
    packaged = read_holdings(holdings_path("example"), known_tickers=config.tickers)
    repository = read_holdings(ROOT / "examples" / "holdings.csv")
    assert dict(packaged.shares) == dict(repository.shares)
    assert packaged.cash == repository.cash
    assert dict(packaged.cost_basis) == dict(repository.cost_basis)
    (tmp_path / "example").write_text("ticker,shares\nNVDA,1\n")
    assert holdings_path("example") == Path("example")  # a file of that name wins


def test_holdings_example_on_the_command_line(capsys):
    code, out, err = run(capsys, "stress", "--holdings", "example", "--offline", "--format",
                         "json")
    assert code == 0, err
    assert round(json.loads(out)["total_value"]) == 316780  # "worth about 317,000 USD"


def test_init_writes_a_folder_whose_relative_paths_work(tmp_path, capsys):
    folder = tmp_path / "mine"
    code, out, err = run(capsys, "init", str(folder))
    assert code == 0, err
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == \
        sorted(STARTER_FILES)
    assert f"portfolio --config {folder / 'default.toml'} risk" in out
    for name, source in STARTER_FILES.items():
        assert (folder / name).read_bytes() == packaged_config_path(source).read_bytes()
    config = load_config(folder / "default.toml")
    assert config.ecosystem.file == folder / "ecosystem.toml"
    backtest = load_backtest(folder / "backtests" / "ai_policy.toml")
    assert Path(backtest.base_source).resolve() == (folder / "default.toml").resolve()
    read_holdings(folder / "holdings.csv", known_tickers=config.tickers)
    code, out, err = run(capsys, "--config", str(folder / "default.toml"), "risk", "--holdings",
                         str(folder / "holdings.csv"), "--offline", "--format", "json")
    assert code == 0, err


def test_init_never_writes_over_files(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "default.toml").write_text("my own")
    code, out, err = run(capsys, "init", str(folder))
    assert_one_line_error(code, out, err, "the folder is not new or empty", "mine")
    assert os.listdir(folder) == ["default.toml"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert len(init_folder(empty)) == len(STARTER_FILES)
    with pytest.raises(InputError, match="not new or empty"):
        init_folder(empty)


@pytest.mark.slow
def test_the_installed_package_alone_runs_the_tour(tmp_path):
    """Build the wheel, unpack it away from the checkout, run the tour by names only."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path / "wheel"), str(ROOT)], check=True, timeout=300,
                   capture_output=True)
    wheel = next((tmp_path / "wheel").glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "portfolio/configs/example_holdings.csv" in names
    assert "portfolio/__init__.pyi" in names  # the type stub of the lazy names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "PORTFOLIO_CACHE_DIR": str(tmp_path / "c")}

    def portfolio(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "portfolio.cli.main", *args], cwd=work,
                              env=env, capture_output=True, text=True, timeout=300, check=False)

    done = portfolio("risk", "--holdings", "example", "--offline", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["value"]["total"] > 0
    where = subprocess.run([sys.executable, "-c", "from portfolio.config import holdings_path;"
                            " print(holdings_path('example'))"], cwd=work, env=env,
                           capture_output=True, text=True, timeout=60, check=True)
    assert where.stdout.startswith(str(site))  # the packaged file, not the clone's
    done = portfolio("backtest", "ai_policy", "--offline", "--as-of", "2019-09-30")
    assert done.returncode == 0, done.stderr
    assert (work / "backtest-output" / "ai_policy" / "manifest.json").is_file()
    done = portfolio("init", "mine")
    assert done.returncode == 0, done.stderr
    done = portfolio("--config", "mine/default.toml", "stress", "--holdings", "mine/holdings.csv",
                     "--offline", "--format", "json")
    assert done.returncode == 0, done.stderr
