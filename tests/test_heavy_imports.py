"""Which heavy modules each command loads on the bundled data (deterministic, not a timing).

A command pays for cvxpy (about 1 s with scipy.stats), scikit-learn, matplotlib, Dask and
scipy.linalg (0.1-0.2 s: the optimisers solve the bundled 18 names through numpy.linalg)
only on the paths that use them. Each case runs the CLI in a fresh interpreter and lists
the heavy modules in ``sys.modules`` afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("cvxpy", "sklearn", "matplotlib", "scipy.stats", "scipy.optimize", "scipy.linalg",
         "scipy.sparse", "dask", "distributed", "plotly")

PROBE = """
import json, sys
from cli.main import main  # the checkout's cli/ (an installed wheel maps it to portfolio.cli)
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr)
"""


def heavy_modules(*args: str) -> list[str]:
    """The heavy modules loaded by ``portfolio ARGS`` (offline, bundled data)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), "--offline", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
    )
    return json.loads(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [
    ("optimize",),                                           # group_risk_budget: interior point
    ("optimize", "--objective", "min_variance"),              # active set
    ("optimize", "--objective", "max_sharpe"),                # active set, Black-Litterman
    ("risk", "--holdings", "examples/holdings.csv"),          # numpy Ledoit-Wolf
    ("stress", "--holdings", "examples/holdings.csv"),
    ("rebalance", "--holdings", "examples/holdings.csv"),
], ids=lambda args: " ".join(args))
def test_everyday_commands_load_no_heavy_module(args):
    assert heavy_modules(*args, "--format", "json") == []


def test_the_paths_that_need_them_load_them(tmp_path):
    # min-CVaR is a cvxpy LP; the least-trading rebalance two HiGHS LPs (scipy.optimize,
    # which loads scipy.linalg and scipy.sparse); a frontier plot is matplotlib
    assert "cvxpy" in heavy_modules("optimize", "--objective", "min_cvar", "--format", "json")
    assert heavy_modules("rebalance", "--holdings", "examples/holdings.csv", "--mode",
                         "minimal", "--format", "json") == ["scipy.linalg", "scipy.optimize",
                                                            "scipy.sparse"]
    plot = tmp_path / "frontier.png"
    assert "matplotlib" in heavy_modules("frontier", "--points", "3", "--plot", str(plot),
                                         "--format", "json")


@pytest.mark.slow
def test_the_article_backtest_loads_only_matplotlib_for_its_plots(tmp_path):
    # every strategy of ai_policy has a fast path (active set, interior point); a date
    # where max-Sharpe has no positive excess return is refused before any solver runs.
    # With worker processes (the default on two cores) the charts are drawn there, and
    # the main process does not load matplotlib at all.
    assert heavy_modules("backtest", "ai_policy", "--output-dir", str(tmp_path / "alone"),
                         "--workers", "0", "--format", "json") == ["matplotlib"]
    assert heavy_modules("backtest", "ai_policy", "--output-dir", str(tmp_path / "workers"),
                         "--workers", "2", "--format", "json") == []
