"""Reverse stress: the closed form against a numerical search, and its invariants."""

from __future__ import annotations

import json
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import LinearConstraint, minimize

from portfolio.analytics.reverse import reverse_stress_move
from portfolio.analytics.risk_measures import percent_risk_contributions
from portfolio.data.holdings import read_holdings
from portfolio.errors import InputError
from portfolio.jobs.optimize import config_inputs
from portfolio.jobs.scenarios import reverse_stress

EXAMPLE = Path(__file__).parents[1] / "examples" / "holdings.csv"
NAMES = ["A", "B", "C", "D", "E"]


def covariance(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    loadings = rng.normal(size=(5, 3)) * 0.15
    cov = loadings @ loadings.T + np.diag(rng.uniform(0.01, 0.05, 5))
    return pd.DataFrame(cov, index=NAMES, columns=NAMES)


def searched(cov: pd.DataFrame, values: pd.Series, target: float, floor: bool) -> np.ndarray:
    """The least Mahalanobis move losing ``target`` USD, by a general-purpose solver."""
    names = list(values.index) + [t for t in cov.index if t not in values.index]
    sigma = cov.loc[names, names].to_numpy()
    v = values.reindex(names).fillna(0.0).to_numpy()
    precision = np.linalg.inv(sigma)
    bounds = [(-1.0 if (floor and v[i] > 0) else None, None) for i in range(len(v))]
    done = minimize(lambda r: r @ precision @ r, np.full(len(v), -0.1), method="trust-constr",
                    jac=lambda r: 2 * precision @ r, hess=lambda r: 2 * precision,
                    bounds=bounds if floor else None,
                    constraints=[LinearConstraint(v[None, :], -target, -target)],
                    options={"gtol": 1e-12, "xtol": 1e-12, "maxiter": 5000})
    return done.x


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_closed_form_equals_a_numerical_search(seed):
    cov = covariance(seed)
    values = pd.Series({"A": 400.0, "B": 300.0, "C": 200.0})
    result = reverse_stress_move(cov, values, cash=100.0, loss=0.2)
    assert result.method == "closed form"
    found = searched(cov, values, 200.0, floor=False)
    np.testing.assert_allclose(result.moves.to_numpy(), found, atol=1e-6)
    # the loss is exactly met, and the distance is loss / portfolio sd
    assert float((values * result.moves[values.index]).sum()) == pytest.approx(-200.0)
    sd = np.sqrt(values.to_numpy() @ cov.loc[values.index, values.index].to_numpy()
                 @ values.to_numpy())
    assert result.distance == pytest.approx(200.0 / sd)
    assert result.probability == pytest.approx(NormalDist().cdf(-200.0 / sd))


def test_shares_of_the_loss_are_the_shares_of_variance():
    cov = covariance(3)
    values = pd.Series({"A": 500.0, "B": 100.0, "D": 400.0})
    result = reverse_stress_move(cov, values, loss=0.1)
    weights = values / values.sum()
    expected = percent_risk_contributions(weights, cov.loc[values.index, values.index])
    pd.testing.assert_series_equal(result.shares.sort_index(), expected.sort_index(),
                                   check_names=False, atol=1e-12)
    assert result.shares.sum() == pytest.approx(1.0)
    assert result.drivers[0] == result.shares.index[0]
    assert result.shares[list(result.drivers)].sum() >= 0.8


def test_a_loss_beyond_the_linear_floor_is_searched_with_moves_at_least_minus_one():
    cov = covariance(4)
    values = pd.Series({"A": 300.0, "B": 700.0})
    assert reverse_stress_move(cov, values, loss=0.5).method == "closed form"
    result = reverse_stress_move(cov, values, cash=0.0, loss=0.9)
    assert result.method.startswith("numerical")
    assert (result.moves[["A", "B"]] >= -1.0 - 1e-9).all()
    assert float((values * result.moves[["A", "B"]]).sum()) == pytest.approx(-900.0, rel=1e-6)
    found = searched(cov, values, 900.0, floor=True)
    np.testing.assert_allclose(result.moves.to_numpy(), found, atol=1e-4)


def test_impossible_losses_are_input_errors():
    cov = covariance()
    with pytest.raises(InputError, match="invalid loss"):
        reverse_stress_move(cov, pd.Series({"A": 100.0}), loss=1.2)
    with pytest.raises(InputError, match="impossible"):
        reverse_stress_move(cov, pd.Series({"A": 100.0}), cash=900.0, loss=0.2)
    with pytest.raises(InputError, match="no risk estimate for Z"):
        reverse_stress_move(cov, pd.Series({"Z": 100.0}), loss=0.2)


def test_job_on_the_example_and_cli(config, market, capsys):
    result = reverse_stress(read_holdings(EXAMPLE), config=config, market=market)
    cov = config_inputs(config, market).covariance.matrix
    held = list(result.pnl.index)
    direct = reverse_stress_move(cov, market.prices.iloc[-1][held] * pd.Series(
        read_holdings(EXAMPLE).shares)[held], cash=6000.0)
    np.testing.assert_allclose(result.moves[held], direct.moves[held], rtol=1e-10)
    assert result.loss == 0.2 and result.drivers[0] == "NVDA"
    assert set(result.moves.index) == set(config.tickers)  # the co-moves of unheld names
    from cli.main import main

    for fmt in ("json", "table", "markdown", "csv"):  # csv: the main table, by holding
        with pytest.raises(SystemExit) as done:
            main(["stress", "--holdings", str(EXAMPLE), "--offline", "--quiet", "--reverse",
                  "0.25", "--format", fmt])
        out = capsys.readouterr().out
        assert done.value.code == 0
        if fmt == "json":
            data = json.loads(out)
            assert data["loss"] == 0.25 and data["drivers"][0] == "NVDA"
            assert sum(data["pnl"].values()) == pytest.approx(-data["loss_usd"])
        elif fmt == "csv":  # the main table, raw numbers
            assert out.startswith("ticker,") and "\nNVDA," in out
        else:
            assert "Move and loss by holding" in out and "NVDA" in out
    with pytest.raises(SystemExit) as done:
        main(["stress", "--holdings", str(EXAMPLE), "--offline", "--reverse", "2"])
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.startswith("Error: invalid loss 2.0")
