"""The `portfolio` command line: exit codes, one-line errors, global options, formats, output.

Most tests call ``cli.main.main`` in-process (stdout/stderr captured by capsys); a few run
the installed console script in a subprocess from a temporary folder. Never the network:
every run is offline or on a local cache (see conftest.py).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import run
from test_config import BAD_CONFIGS, BASE_TOML

from cli.main import main
from portfolio.config.parse import load_config
from portfolio.data.bundled import BUNDLED_TICKERS
from portfolio.data.cache import PriceCache
from portfolio.jobs.limits import constraints_from_config, theme_exposures
from portfolio.optimization.constraints import check_all

HEAVY_MODULES = ("pandas", "numpy", "cvxpy", "yfinance", "sklearn", "matplotlib", "scipy")
OPTIONAL_HEAVY_MODULES = ("cvxpy", "yfinance", "sklearn", "matplotlib", "rich", "dask")
"""Loaded only where used: the installed script (portfolio.cli imports the package, and so
numpy and pandas) must not load these for --help."""
SCRIPT = Path(sys.executable).parent / "portfolio"
ROOT = Path(__file__).resolve().parents[1]


def assert_one_error_line(err: str, *, only_line: bool = True) -> str:
    """The contract: one ``Error:`` line, no traceback; return that line."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1, err
    if only_line:
        assert lines == errors, err
    return errors[0]


def optimize_json(capsys, *args: str) -> dict:
    code, out, err = run(capsys, *args)
    assert code == 0, err
    return json.loads(out)


def comparable(result: dict) -> dict:
    """An optimize JSON without the timing that differs between runs."""
    result = dict(result)
    result["solver"] = {k: v for k, v in result["solver"].items() if k != "seconds"}
    return result


@pytest.fixture
def base_config(tmp_path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(BASE_TOML, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def default_json(tmp_path_factory) -> tuple[dict, str]:
    """``portfolio optimize --offline --format json`` on the default config, run once.

    Module scope runs before conftest's per-test fixtures, so it isolates the cache itself.
    """
    out, err = io.StringIO(), io.StringIO()
    with (
        pytest.MonkeyPatch.context() as patch,
        redirect_stdout(out),
        redirect_stderr(err),
        pytest.raises(SystemExit) as done,
    ):
        patch.setenv("PORTFOLIO_CACHE_DIR", str(tmp_path_factory.mktemp("cache") / "empty"))
        main(["optimize", "--offline", "--format", "json"])
    assert done.value.code == 0, err.getvalue()
    return json.loads(out.getvalue()), err.getvalue()


# --------------------------------------------------------------------------- config errors


@pytest.mark.parametrize("case", BAD_CONFIGS, ids=lambda case: case.name)
def test_config_error_exits_2_with_one_line(case, tmp_path, capsys):
    path = case.write(tmp_path)
    code, out, err = run(capsys, "--config", str(path), "optimize", "--offline")
    assert code == 2
    assert out == ""
    line = assert_one_error_line(err)
    assert str(path) in line
    if case.key:
        assert f"key {case.key}" in line
    for fragment in case.expected:
        assert fragment.lower() in line.lower()


def test_missing_config_file_exits_2(tmp_path, capsys):
    path = tmp_path / "absent.toml"
    code, out, err = run(capsys, "--config", str(path), "optimize", "--offline")
    assert code == 2 and out == ""
    assert str(path) in assert_one_error_line(err)


def test_config_error_after_the_command_name_too(tmp_path, capsys):
    path = BAD_CONFIGS[0].write(tmp_path)
    code, _, err = run(capsys, "optimize", "--offline", "--config", str(path))
    assert code == 2
    assert "did you mean 'max_weight'" in assert_one_error_line(err).lower()


# --------------------------------------------------------------------------- command line


@pytest.mark.parametrize(
    "args",
    [
        ("--as-of", "not-a-date", "optimize", "--offline"),
        ("optimize", "--offline", "--as-of", "not-a-date"),
        ("optimize", "--offline", "--bogus"),
        ("--bogus", "optimize", "--offline"),
        ("optimize", "--offline", "--format", "xml"),
        ("no-such-command",),
    ],
    ids=["as-of-before", "as-of-after", "option-after", "option-before", "format", "command"],
)
def test_bad_command_line_exits_2_with_one_line(args, capsys):
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    line = assert_one_error_line(err)
    assert ".." not in line.replace(" .. ", "")  # no doubled full stop
    if "not-a-date" in args:
        assert "'not-a-date' is not a date" in line


def test_offline_data_update_exits_2(capsys):
    for args in (("data", "update", "--offline"), ("--offline", "data", "update", "NVDA")):
        code, out, err = run(capsys, *args)
        assert code == 2 and out == ""
        assert "needs the network" in assert_one_error_line(err)


def test_yahoo_source_with_offline_exits_2(capsys):
    for args in (
        ("optimize", "--data-source", "yahoo", "--offline"),
        ("--offline", "--data-source", "yahoo", "optimize"),
    ):
        code, out, err = run(capsys, *args)
        assert code == 2 and out == ""
        assert "--offline conflicts with --data-source yahoo" in assert_one_error_line(err)


def test_empty_cache_source_exits_2_with_the_fix(capsys):
    code, _, err = run(capsys, "optimize", "--offline", "--data-source", "cache")
    assert code == 2
    assert "portfolio data update" in assert_one_error_line(err)


def test_help_and_bare_command(capsys):
    code, out, err = run(capsys, "--help")
    assert code == 0
    for command in ("optimize", "data", "--offline", "--config", "--as-of", "--data-source"):
        assert command in out
    code, out, err = run(capsys, "optimize", "--help")
    assert code == 0 and "--format" in out and "--offline" in out
    code, out, err = run(capsys)  # no command: the help, not an error squeezed into one line
    assert code == 2
    assert err.startswith("Usage: portfolio") and "Commands:" in err


def test_cli_main_imports_nothing_heavy(tmp_path):
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import cli.main"],  # the checkout's cli/
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=True,
    )
    imported = {
        line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line
    }
    assert "cli.main" in imported and "click" in imported
    roots = {name.split(".")[0] for name in imported}
    assert not roots & set(HEAVY_MODULES), sorted(roots & set(HEAVY_MODULES))


FREEZE_COUNTS = """
import gc, sys
from cli.main import main
counts = []
for argv in (["--version"], None):
    sys.argv = ["portfolio", "--version"]
    try:
        main(argv)
    except SystemExit:
        counts.append(gc.get_freeze_count())
print(counts[0] == 0 and counts[1] > 0)
"""


def test_a_command_line_run_skips_the_final_collection_an_in_process_call_does_not():
    done = subprocess.run([sys.executable, "-c", FREEZE_COUNTS], capture_output=True,
                          text=True, cwd=ROOT, timeout=60, check=True)
    assert done.stdout.splitlines()[-1] == "True"  # after the two version lines


HELP_THEN_LIST_MODULES = """
import json, sys
from cli.main import main
try:
    main(["--help"])
except SystemExit as done:
    print(json.dumps({"code": done.code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def test_help_loads_every_command_module_and_nothing_heavy(tmp_path):
    # `--help` lists the commands, so LazyGroup imports every cli/*.py module (through
    # importlib.import_module, which -X importtime does not report: sys.modules is checked)
    done = subprocess.run(
        [sys.executable, "-c", HELP_THEN_LIST_MODULES],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=True,
    )
    assert "backtest" in done.stdout and "optimize" in done.stdout
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result["code"] == 0
    loaded = set(result["modules"])
    assert {f"cli.{name}" for name in ("_common", "backtest", "data", "frontier", "optimize",
                                       "rebalance", "risk", "stress")} <= loaded
    roots = {name.split(".")[0] for name in loaded}
    heavy = roots & {*HEAVY_MODULES, "rich", "portfolio"}  # the library is loaded on use only
    assert not heavy, sorted(heavy)


def test_a_closed_stdout_pipe_exits_0_quietly(tmp_path):
    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone before anything is written (like `| head -0`)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "portfolio.cli.main", "--offline", "--cache-dir",
             str(tmp_path / "c"),
             "data", "show", "--format", "json"],
            stdout=writer, stderr=subprocess.PIPE, text=True, cwd=tmp_path, timeout=60,
        )
    finally:
        os.close(writer)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Error" not in done.stderr
    assert "Exception ignored" not in done.stderr  # the final flush did not complain either


def test_a_broken_pipe_in_process_exits_0(capsys, monkeypatch):
    import click

    def broken_echo(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(click, "echo", broken_echo)
    code, out, err = run(capsys, "--offline", "data", "show", "--format", "json")
    assert (code, out, err) == (0, "", "")


# --------------------------------------------------------------------------- optimize


def test_optimize_json_is_one_object_meeting_every_default_limit(default_json):
    result, err = default_json
    weights = result["weights"]
    config = load_config()
    assert set(weights) == {*config.tickers, "CASH"}
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-9)
    assert min(weights.values()) >= -1e-9
    # the limits checked independently of the optimizer's own limit table
    limits = constraints_from_config(config, exposures=theme_exposures(config))
    rows = check_all(limits, weights, config.tickers, tol=1e-6)
    names = {row.name for row in rows}
    assert {f"group_cap[{g}]" for g in config.limits.group_caps} <= names
    assert {f"theme_cap[{t.name}]" for t in config.limits.theme_caps} <= names
    assert "cash_floor" in names
    breaches = [(row.name, row.value, row.limit) for row in rows if not row.ok]
    assert breaches == []
    assert weights["CASH"] >= config.limits.cash_floor - 1e-6
    assert result["as_of"] == "2026-07-31"
    assert result["data_source"] == "bundled"
    # the notice is on stderr, one line, naming the source and its last date
    assert err.strip().splitlines() == [err.strip()]
    assert err.startswith("Data: bundled prices up to 2026-07-31")


def test_global_options_before_or_after_the_command(default_json, capsys):
    after, _ = default_json
    before = optimize_json(capsys, "--offline", "optimize", "--format", "json")
    assert comparable(before) == comparable(after)


def test_as_of_before_or_after_the_command(capsys):
    before = optimize_json(capsys, "--as-of", "2026-01-30", "optimize", "--offline",
                           "--format", "json")
    after = optimize_json(capsys, "optimize", "--offline", "--as-of", "2026-01-30",
                          "--format", "json")
    assert before["as_of"] == "2026-01-30"
    assert comparable(before) == comparable(after)


def test_config_before_or_after_the_command(base_config, capsys):
    before = optimize_json(capsys, "--config", str(base_config), "optimize", "--offline",
                           "--format", "json")
    after = optimize_json(capsys, "optimize", "--offline", "--format", "json",
                          "--config", str(base_config))
    assert comparable(before) == comparable(after)
    weights = before["weights"]
    assert set(weights) == {"NVDA", "AMD", "MSFT", "GOOGL", "9984.T", "CASH"}
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-9)
    assert max(w for t, w in weights.items() if t != "CASH") <= 0.30 + 1e-6
    assert weights["9984.T"] <= 0.10 + 1e-6


def test_optimize_markdown_and_csv(default_json, capsys):
    weights = default_json[0]["weights"]
    code, out, _ = run(capsys, "optimize", "--offline", "--format", "markdown")
    assert code == 0
    assert out.startswith("# Optimal allocation")
    assert "| ticker | weight | risk share | marginal risk | why |" in out
    for ticker, weight in weights.items():
        if ticker != "CASH":
            assert f"| {ticker} | {100 * weight:.2f} % |" in out

    code, out, _ = run(capsys, "optimize", "--offline", "--format", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))  # the main table, raw numbers
    assert rows[0] == ["ticker", "weight", "risk share", "marginal risk", "why"]
    weight_rows = {row[0]: float(row[1]) for row in rows[1:]}
    assert weight_rows == pytest.approx({t: w for t, w in weights.items() if t != "CASH"},
                                        abs=1e-12)
    code, out, _ = run(capsys, "optimize", "--offline", "--format", "csv", "--table", "limits")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["limit", "value", "bound", "bound flag", "status"]


def test_output_file_is_written_atomically(default_json, tmp_path, capsys):
    target = tmp_path / "out" / "allocation.json"
    target.parent.mkdir()
    code, out, err = run(capsys, "optimize", "--offline", "--format", "json",
                         "--output", str(target))
    assert code == 0
    assert out == ""
    assert f"Wrote {target}" in err
    assert comparable(json.loads(target.read_text())) == comparable(default_json[0])
    assert os.listdir(target.parent) == ["allocation.json"]  # no temporary file left
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600

    # replacing a file keeps its permissions
    target.chmod(0o640)
    code, _, _ = run(capsys, "data", "show", "--offline", "--format", "json", "-o", str(target))
    assert code == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert len(json.loads(target.read_text())["tickers"]) == 18


def test_output_into_a_missing_folder_exits_2_without_a_file(tmp_path, capsys):
    target = tmp_path / "missing" / "allocation.json"
    code, out, err = run(capsys, "optimize", "--offline", "--format", "json", "-o", str(target))
    assert code == 2 and out == ""
    assert "does not exist" in assert_one_error_line(err)
    assert not target.parent.exists()


def must_not_run(*args, **kwargs):
    pytest.fail("the expensive work ran before the bad path was refused")


@pytest.mark.parametrize("where", ["missing-folder", "fifo"])
def test_a_bad_plot_path_is_refused_before_the_frontier_runs(tmp_path, capsys, monkeypatch,
                                                             where):
    import portfolio.jobs.frontier

    monkeypatch.setattr(portfolio.jobs.frontier, "frontier_from_config", must_not_run)
    plot = tmp_path / "nodir" / "f.png"
    if where == "fifo":
        plot = tmp_path / "f.png"
        os.mkfifo(plot)
    code, out, err = run(capsys, "--offline", "frontier", "--plot", str(plot))
    assert code == 2 and out == ""
    line = assert_one_error_line(err)
    assert "'--plot'" in line and "'--output'" not in line
    assert "does not exist" in line if where == "missing-folder" else "not a regular file" in line


def test_an_output_fifo_is_refused_and_left_alone(tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code, out, err = run(capsys, "--offline", "data", "show", "-o", str(fifo))
    assert code == 2 and out == ""
    assert "'--output'" in assert_one_error_line(err)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


@pytest.mark.parametrize("output_dir", ["afile/sub", "afile/sub/deeper", "afile"])
def test_an_output_dir_under_a_file_is_refused_before_the_backtest_runs(
    tmp_path, capsys, monkeypatch, output_dir
):
    import portfolio.backtesting.spec
    import portfolio.jobs.backtest

    monkeypatch.setattr(portfolio.backtesting.spec, "load_backtest", must_not_run)
    monkeypatch.setattr(portfolio.jobs.backtest, "backtest", must_not_run)
    (tmp_path / "afile").write_text("not a folder")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "--offline", "backtest", "policy.toml",
                         "--output-dir", output_dir)
    assert code == 2 and out == ""
    line = assert_one_error_line(err)
    assert "'--output-dir'" in line and "'afile'" in line
    assert sorted(os.listdir(tmp_path)) == ["afile"]


def test_an_output_dir_check_accepts_new_and_existing_folders(tmp_path, capsys, monkeypatch):
    from portfolio.errors import InputError

    def stop(*args, **kwargs):  # reached only when the folder passed the check
        raise InputError("reached the run", "test")

    import portfolio.backtesting.spec

    monkeypatch.setattr(portfolio.backtesting.spec, "load_backtest", stop)
    for folder in (tmp_path, tmp_path / "new" / "nested"):
        code, _, err = run(capsys, "--offline", "backtest", "policy.toml",
                           "--output-dir", str(folder))
        assert code == 2 and "reached the run" in assert_one_error_line(err)
    assert not (tmp_path / "new").exists()  # checking creates nothing


# --------------------------------------------------------------------------- data show


def test_data_show_lists_the_bundled_tickers(capsys):
    code, out, err = run(capsys, "data", "show", "--offline", "--format", "json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["source"] == "bundled"
    assert list(shown["tickers"]) == list(BUNDLED_TICKERS)
    assert shown["tickers"]["CRWV"]["first_date"] == "2025-03-28"
    assert shown["tickers"]["NVDA"]["first_date"] == "1999-01-22"
    assert {t["last_date"] for t in shown["tickers"].values()} == {"2026-07-31"}

    code, out, _ = run(capsys, "--offline", "data", "show", "--format", "csv")
    assert code == 0
    rows = [row for row in csv.reader(io.StringIO(out)) if row]
    assert rows[0][:3] == ["ticker", "first date", "last date"]
    assert len(rows) == 1 + 18
    assert {row[0]: row[1] for row in rows[1:]}["CRWV"] == "2025-03-28"

    code, out, _ = run(capsys, "data", "show", "--offline", "--format", "markdown")
    assert code == 0 and "| CRWV | 2025-03-28 |" in out


def test_data_show_reads_the_cache_dir_given_either_way(tmp_path, capsys):
    cache_dir = tmp_path / "my-cache"
    index = pd.bdate_range("2024-01-02", periods=3)
    PriceCache(cache_dir).write(pd.DataFrame({"NVDA": [1.0, 2.0, 3.0]}, index=index), "yahoo")
    for args in (("--cache-dir", str(cache_dir), "data", "show"),
                 ("data", "show", "--cache-dir", str(cache_dir))):
        code, out, err = run(capsys, *args, "--offline", "--format", "json")
        assert code == 0, err
        shown = json.loads(out)
        assert shown["source"] == "cache"
        assert shown["location"] == str(cache_dir / "prices.sqlite")
        assert shown["tickers"]["NVDA"]["rows"] == 3
        assert shown["tickers"]["NVDA"]["last_date"] == "2024-01-04"


# --------------------------------------------------------------------------- installed script


def script_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PORTFOLIO_CACHE_DIR": str(tmp_path / "cache"),
        # any network attempt of the child fails at once
        "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
        "ALL_PROXY": "http://127.0.0.1:9", "NO_PROXY": "",
    })
    env.pop("PORTFOLIO_DEBUG", None)
    return env


def run_script(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, cwd=tmp_path,
                          env=script_env(tmp_path), timeout=120)


def test_installed_script_help_and_config_error(tmp_path):
    done = run_script(tmp_path, "--help")
    assert done.returncode == 0 and "optimize" in done.stdout

    bad = BAD_CONFIGS[0].write(tmp_path)
    done = run_script(tmp_path, "--config", bad.name, "optimize", "--offline")
    assert done.returncode == 2 and done.stdout == ""
    line = assert_one_error_line(done.stderr)
    assert re.search(r"unknown_key\.toml, key limits\.max_wieght", line)


@pytest.mark.slow  # about 5-8 s: a fresh interpreter imports pandas, cvxpy and scikit-learn
def test_installed_script_optimizes_offline_from_any_folder(tmp_path):
    done = run_script(tmp_path, "optimize", "--offline", "--format", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert sum(result["weights"].values()) == pytest.approx(1.0, abs=1e-9)
    assert all(row["ok"] for row in result["limits"])
    assert done.stderr.startswith("Data: bundled prices up to 2026-07-31")
    assert "Traceback" not in done.stderr


INSTALLED_HELP_MODULES = """
import json, sys
from portfolio.cli.main import main
try:
    main(["--help"])
except SystemExit:
    print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def test_installed_cli_help_loads_no_optional_heavy_module(tmp_path):
    # the installed package: portfolio.cli lives inside portfolio (no top-level `cli`)
    done = subprocess.run([sys.executable, "-c", INSTALLED_HELP_MODULES], capture_output=True,
                          text=True, cwd=tmp_path, timeout=60, check=True)
    loaded = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert "portfolio.cli.optimize" in loaded
    roots = {name.split(".")[0] for name in loaded}
    assert not roots & set(OPTIONAL_HEAVY_MODULES), sorted(roots & set(OPTIONAL_HEAVY_MODULES))
