"""The dense solves of the optimisers answer alike on the numpy side and the scipy side."""

import numpy as np
import pytest

from portfolio.optimization import lapack

SIDES = {"numpy": 10**9, "scipy": 0}  # SCIPY_FROM values that force each side


@pytest.fixture(params=sorted(SIDES))
def side(request, monkeypatch):
    """Force one side; after the test, check that scipy answered exactly on its side."""
    monkeypatch.setattr(lapack, "SCIPY_FROM", SIDES[request.param])
    loads = []
    original = lapack._scipy_lapack
    monkeypatch.setattr(lapack, "_scipy_lapack", lambda: loads.append(1) or original())
    yield request.param
    if request.node.get_closest_marker("answers"):
        assert bool(loads) == (request.param == "scipy")


def spd(n: int, seed: int = 0) -> np.ndarray:
    root = np.random.default_rng(seed).normal(size=(n, n))
    return root @ root.T + n * np.eye(n)


@pytest.mark.answers
@pytest.mark.parametrize("n", [1, 5, 80])
def test_solve_matches_a_hand_check(side, n):
    rng = np.random.default_rng(n)
    matrix, rhs = rng.normal(size=(n, n)) + n * np.eye(n), rng.normal(size=(n, 3))
    assert np.allclose(matrix @ lapack.solve(matrix, rhs), rhs, atol=1e-10)
    assert lapack.solve(matrix, rhs[:, 0]).shape == (n,)


@pytest.mark.answers
@pytest.mark.parametrize("n", [1, 6, 70])
def test_cholesky_is_an_upper_factor_and_solves(side, n):
    matrix = spd(n, seed=n)
    factor = lapack.cholesky(matrix)
    assert np.allclose(np.triu(factor), factor)
    assert np.allclose(factor.T @ factor, matrix, atol=1e-9)
    rhs = np.arange(2.0 * n).reshape(n, 2)
    assert np.allclose(lapack.cholesky_solve(factor, rhs), np.linalg.solve(matrix, rhs))


@pytest.mark.answers
def test_not_positive_definite_is_none(side):
    indefinite = np.diag([1.0, -1e-3, 2.0])
    assert lapack.cholesky(indefinite) is None
    assert lapack.cholesky(np.zeros((2, 2))) is None


@pytest.mark.answers
def test_lu_factor_solves_several_right_hand_sides(side):
    rng = np.random.default_rng(3)
    matrix = rng.normal(size=(7, 7)) + 7 * np.eye(7)
    factor = lapack.LUFactor(matrix)
    for rhs in (rng.normal(size=7), rng.normal(size=(7, 2))):
        assert np.allclose(factor.solve(rhs), np.linalg.solve(matrix, rhs))


@pytest.mark.answers
def test_singular_systems_raise_on_both_sides(side):
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(np.linalg.LinAlgError):
        lapack.solve(singular, np.ones(2))
    with pytest.raises(np.linalg.LinAlgError):
        lapack.LUFactor(singular).solve(np.ones(2))  # small: at the solve; large: at once


def test_non_finite_entries_are_refused(side):
    with pytest.raises(ValueError, match="non-finite"):
        lapack.LUFactor(np.array([[1.0, np.nan], [0.0, 1.0]]))
