"""The efficient frontier: invariants, oracles (min-variance solve, an LP, PyPortfolioOpt),
the report, the PNG chart and ``portfolio frontier`` on the bundled prices (no network)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from cli.main import main
from portfolio.config import packaged_config_path
from portfolio.data.output import write_atomic
from portfolio.errors import InfeasibleError, InputError
from portfolio.jobs.frontier import FrontierRun, frontier_from_config
from portfolio.jobs.limits import constraints_from_config
from portfolio.optimization.constraints import CashFloor, GroupCap, GroupFloor, MaxWeight, check_all
from portfolio.optimization.frontier import Frontier, MarkedPortfolio, efficient_frontier
from portfolio.optimization.problem import PortfolioProblem
from portfolio.report import render
from portfolio.report.frontier import frontier_png, frontier_report
from portfolio.weights import CASH

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TICKERS = ["A", "B", "C", "D", "E", "F"]
LIMITS = [MaxWeight(0.35), GroupCap("abc", ("A", "B", "C"), 0.5),
          GroupFloor("de", ("D", "E"), 0.1), CashFloor(0.05)]
RF = 0.03


def market(n: int = 6, seed: int = 3) -> tuple[pd.DataFrame, pd.Series]:
    """Positive-definite annual covariance and positive expected returns, labelled."""
    rng = np.random.default_rng(seed)
    names = TICKERS if n == 6 else [f"T{i}" for i in range(n)]
    factor = rng.normal(size=(n, n)) * 0.12
    cov = factor @ factor.T + 0.02 * np.eye(n)
    mu = 0.04 + 0.5 * np.sqrt(np.diag(cov)) * rng.uniform(0.5, 1.5, n)
    return pd.DataFrame(cov, names, names), pd.Series(mu, names)


@pytest.fixture(scope="module")
def frontier() -> Frontier:
    cov, mu = market()
    return efficient_frontier(cov, mu, LIMITS, points=12, risk_free_rate=RF)


def test_volatility_increases_with_target_return(frontier):
    returns = frontier.points["expected_return"].to_numpy()
    volatility = frontier.points["volatility"].to_numpy()
    assert len(returns) == 12
    assert (np.diff(returns) > 0).all()
    assert (np.diff(volatility) >= -1e-8).all()
    # evenly spaced targets: the constraint mu @ w >= target binds after the first point
    assert np.diff(returns)[1:] == pytest.approx(np.diff(returns)[1], rel=1e-4)


def test_every_point_meets_every_limit(frontier):
    assert list(frontier.weights.columns) == [*TICKERS, CASH]
    for _, weights in frontier.weights.iterrows():
        assert weights.sum() == pytest.approx(1.0, abs=1e-9)
        rows = check_all(LIMITS, weights, TICKERS, tol=1e-6)
        assert all(row.ok for row in rows), [row for row in rows if not row.ok]


def test_first_point_is_the_min_variance_solution(frontier):
    cov, _ = market()
    allocation = PortfolioProblem(TICKERS, "min_variance", LIMITS).solve(cov)
    first = frontier.weights.iloc[0]
    np.testing.assert_allclose(first.to_numpy(), allocation.weights[first.index].to_numpy(),
                               atol=1e-6)
    assert frontier.points["volatility"].iloc[0] == pytest.approx(allocation.volatility, abs=1e-8)


def test_last_point_is_the_largest_feasible_return(frontier):
    """Oracle: scipy's linprog on the same limits written out by hand."""
    _, mu = market()
    member = {"abc": [1, 1, 1, 0, 0, 0], "de": [0, 0, 0, 1, 1, 0]}
    result = linprog(-mu.to_numpy(), A_ub=[member["abc"], [-x for x in member["de"]]],
                     b_ub=[0.5, -0.1], A_eq=[np.ones(6)], b_eq=[0.95], bounds=[(0, 0.35)] * 6)
    assert result.status == 0
    assert frontier.points["expected_return"].iloc[-1] == pytest.approx(-result.fun, abs=1e-6)


def test_sharpe_column_uses_the_risk_free_rate(frontier):
    points = frontier.points
    expected = (points["expected_return"] - RF) / points["volatility"]
    np.testing.assert_allclose(points["sharpe"], expected, rtol=1e-12)
    assert frontier.risk_free_rate == RF
    cov, mu = market()
    np.testing.assert_allclose(frontier.assets["volatility"], np.sqrt(np.diag(cov)))
    np.testing.assert_allclose(frontier.assets["expected_return"], mu)


def test_points_match_pyportfolioopt_efficient_return():
    pypfopt = pytest.importorskip("pypfopt")
    cov, mu = market()
    ours = efficient_frontier(cov, mu, [MaxWeight(0.3)], points=6)
    for i in (1, 3, 4):
        target = float(ours.points["expected_return"].iloc[i])
        reference = pypfopt.EfficientFrontier(mu, cov, weight_bounds=(0, 0.3))
        weights = pd.Series(reference.efficient_return(target * (1 - 1e-9)))
        np.testing.assert_allclose(ours.weights.iloc[i][TICKERS], weights[TICKERS], atol=1e-4)
        volatility = np.sqrt(weights @ cov @ weights)
        assert ours.points["volatility"].iloc[i] == pytest.approx(volatility, rel=1e-5)


def test_equal_expected_returns_give_one_point():
    cov, _ = market()
    flat = pd.Series(0.1, TICKERS)
    result = efficient_frontier(cov, flat, [MaxWeight(0.5)], points=10)
    assert len(result.points) == 1
    assert result.points["expected_return"].iloc[0] == pytest.approx(0.1, abs=1e-9)


def test_bad_inputs_are_named_errors():
    cov, mu = market()
    with pytest.raises(InputError, match="frontier points"):
        efficient_frontier(cov, mu, points=1)
    with pytest.raises(InputError, match="no expected return for F"):
        efficient_frontier(cov, mu.drop("F"))
    with pytest.raises(InputError, match="no ticker labels"):
        efficient_frontier(cov.to_numpy(), mu.to_numpy())


def test_available_as_a_mapping_or_a_sequence_gives_the_same_frontier():
    cov, mu = market()
    flags = [True, True, False, True, True, True]
    by_name = efficient_frontier(cov, mu, LIMITS, points=5,
                                 available=dict(zip(TICKERS, flags)))
    by_position = efficient_frontier(cov, mu, LIMITS, points=5, available=flags)
    pd.testing.assert_frame_equal(by_position.points, by_name.points)
    pd.testing.assert_frame_equal(by_position.weights, by_name.weights)
    pd.testing.assert_frame_equal(by_position.assets, by_name.assets)
    assert "C" not in by_position.assets.index
    assert (by_position.weights["C"] == 0).all()
    with pytest.raises(InputError, match="available has the wrong length"):
        efficient_frontier(cov, mu, LIMITS, available=flags[:-1])


def test_infeasible_limits_raise_the_diagnosis():
    cov, mu = market()
    with pytest.raises(InfeasibleError) as info:
        efficient_frontier(cov, mu, [MaxWeight(0.1)])
    assert "limits.max_weight" in info.value.message


@st.composite
def limits_around_a_portfolio(draw):
    """Random caps, a group cap and a cash floor that a random portfolio meets."""
    n = draw(st.integers(3, 7))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    cash = float(rng.choice([0.0, 0.05]))
    w = rng.dirichlet(np.ones(n)) * (1 - cash)
    names = [f"T{i}" for i in range(n)]
    members = tuple(names[: max(1, n // 2)])
    limits = [MaxWeight(float(w.max()) + rng.uniform(0, 0.2)), CashFloor(cash),
              GroupCap("g", members, float(w[: len(members)].sum()) + rng.uniform(0, 0.2))]
    return n, int(rng.integers(0, 1000)), limits


@settings(max_examples=25, deadline=None)
@given(limits_around_a_portfolio())
def test_random_limits_give_a_monotone_frontier_within_the_limits(case):
    n, seed, limits = case
    cov, mu = market(n, seed)
    result = efficient_frontier(cov, mu, limits, points=4)
    assert (np.diff(result.points["volatility"].to_numpy()) >= -1e-7).all()
    for _, weights in result.weights.iterrows():
        assert all(row.ok for row in check_all(limits, weights, list(cov.index), tol=1e-6))


# --------------------------------------------------------------------------- report and chart


def marked(label: str, weights: pd.Series, cov: pd.DataFrame, mu: pd.Series,
           breaches: tuple[str, ...] = ()) -> MarkedPortfolio:
    risky = weights[TICKERS].to_numpy()
    volatility = float(np.sqrt(risky @ cov.to_numpy() @ risky))
    expected = float(mu.to_numpy() @ risky)
    return MarkedPortfolio(label, volatility, expected, (expected - RF) / volatility, weights,
                           breaches)


@pytest.fixture
def run(frontier) -> FrontierRun:
    cov, mu = market()
    current = pd.Series([0.5, 0.3, 0.1, 0.0, 0.0, 0.05, 0.05], [*TICKERS, CASH])
    return FrontierRun(
        frontier=frontier,
        optimum=marked("optimum (min_variance)", frontier.weights.iloc[0], cov, mu),
        current=marked("current holdings", current, cov, mu, ("max_weight[A]",)),
        as_of=pd.Timestamp("2026-07-31"), data_source="bundled", notice="", warnings=(),
        covariance_method="ledoit_wolf", expected_returns_method="historical",
    )


def test_report_lists_every_point_and_the_marked_portfolios(run):
    report = frontier_report(run)
    data = json.loads(render(report, "json"))
    assert len(data["points"]) == 12
    assert data["points"][0]["volatility"] == pytest.approx(run.frontier.points["volatility"][0])
    assert set(data["points"][0]["weights"]) == {*TICKERS, CASH}
    assert data["current"]["breaches"] == ["max_weight[A]"]
    assert data["optimum"]["label"] == "optimum (min_variance)"
    assert data["as_of"] == "2026-07-31"
    assert any("breach 1 limit rows" in line for line in report.summary)
    markdown = render(report, "markdown")
    assert "| 12 |" in markdown and "current holdings" in markdown
    assert render(report, "csv").startswith("point,volatility")


def test_plot_writes_a_png(run, tmp_path):
    folder = tmp_path / "plots"
    folder.mkdir()
    path = write_atomic(folder / "frontier.png", frontier_png(run))
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert [p.name for p in folder.iterdir()] == ["frontier.png"]  # no temporary file left
    without_holdings = FrontierRun(**{**run.__dict__, "current": None})
    assert frontier_png(without_holdings)[:8] == PNG_MAGIC


def test_plot_into_a_missing_folder_is_an_input_error(run, tmp_path):
    with pytest.raises(InputError, match="folder does not exist"):
        write_atomic(tmp_path / "missing" / "frontier.png", frontier_png(run))


# --------------------------------------------------------------------------- bundled data


@pytest.fixture(scope="module")
def bundled_run(tmp_path_factory):
    from portfolio.config.parse import load_config
    from portfolio.data.holdings import Holdings
    from portfolio.jobs.market import DataOptions

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PORTFOLIO_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        config = load_config()
        config = replace(config, optimizer=replace(config.optimizer, objective="min_variance"))
        holdings = Holdings({"NVDA": 100.0, "MSFT": 10.0}, cash=1000.0)
        options = DataOptions(source="bundled", offline=True)
        return config, frontier_from_config(config, options, points=6, holdings=holdings)


def test_frontier_from_config_marks_the_optimum_and_the_holdings(bundled_run):
    from portfolio.jobs.limits import theme_exposures

    config, result = bundled_run
    points = result.frontier.points
    assert len(points) == 6
    # with min_variance the optimum is the frontier's first point
    assert config.optimizer.objective == "min_variance"
    assert result.optimum.volatility == pytest.approx(points["volatility"].iloc[0], abs=1e-6)
    assert result.current is not None
    assert result.current.weights.sum() == pytest.approx(1.0)
    assert result.current.weights["NVDA"] > 0.2  # 100 NVDA shares outweigh 10 MSFT and cash
    assert "max_weight[NVDA]" in result.current.breaches
    limits = constraints_from_config(config, exposures=theme_exposures(config),
                                     current_weights=result.current.weights)
    for _, weights in result.frontier.weights.iterrows():
        assert all(row.ok for row in check_all(limits, weights, config.tickers, tol=1e-6))


# --------------------------------------------------------------------------- command line


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_cli_frontier_json_and_plot(capsys, tmp_path):
    holdings = tmp_path / "holdings.csv"
    holdings.write_text("ticker,shares\nNVDA,100\nMSFT,10\nCASH,1000\n")
    png = tmp_path / "out.png"
    default = packaged_config_path("default.toml")
    min_variance = tmp_path / "min_variance.toml"
    min_variance.write_text(default.read_text().replace(
        'objective = "group_risk_budget"', 'objective = "min_variance"').replace(
        'file = "ecosystem.toml"', f'file = "{default.parent / "ecosystem.toml"}"'))
    code, out, err = run_cli(capsys, "frontier", "--offline", "--format", "json", "--points", "5",
                             "--plot", str(png), "--holdings", str(holdings),
                             "--config", str(min_variance))
    assert code == 0, err
    data = json.loads(out)
    assert len(data["points"]) == 5
    assert data["current"]["label"] == "current holdings"
    assert data["optimum"]["volatility"] == pytest.approx(data["points"][0]["volatility"],
                                                          abs=1e-6)
    assert png.read_bytes().startswith(PNG_MAGIC)
    assert f"Wrote {png}" in err


def test_cli_rejects_a_plot_path_that_is_not_png(capsys, tmp_path):
    code, out, err = run_cli(capsys, "frontier", "--offline", "--plot", str(tmp_path / "x.jpg"))
    assert code == 2 and out == ""
    assert err.startswith("Error: ") and ".png" in err


def test_cli_infeasible_limits_exit_2_with_the_conflict(capsys, tmp_path):
    config = tmp_path / "tight.toml"
    config.write_text(
        '[universe]\ntickers = ["NVDA", "AMD", "MSFT", "GOOGL", "META"]\n'
        '[groups]\nchips = ["NVDA", "AMD", "MSFT"]\ncloud = ["MSFT", "GOOGL", "META"]\n'
        "[limits]\nmax_weight = 0.5\ncash_floor = 0.05\n"
        "[limits.max_weight_overrides]\nMSFT = 0.05\n"
        "[limits.group_floors]\nchips = 0.6\ncloud = 0.5\n"
    )
    code, out, err = run_cli(capsys, "--config", str(config), "frontier", "--offline")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith("Error: the limits cannot all hold at once")
    assert "lower limits.group_floors.chips from 60 % to 50 %" in lines[0].lower()
