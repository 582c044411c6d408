import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.covariance import OAS, LedoitWolf

from portfolio.errors import DataError, InputError
from portfolio.estimate.covariance import METHODS, CovarianceEstimate, covariance
from portfolio.estimate.estimators import (
    ewma_covariance,
    factor_covariance,
    ledoit_wolf_covariance,
    ledoit_wolf_matrix,
    oas_covariance,
    oas_matrix,
    sample_covariance,
)
from portfolio.estimate.psd import is_psd, nearest_psd, schur_complement_repair

LONG = ["NVDA", "AMD", "MSFT"]


def _assert_psd(matrix: pd.DataFrame) -> None:
    values = matrix.to_numpy()
    np.testing.assert_array_equal(values, values.T)
    eigenvalues = np.linalg.eigvalsh(values)
    assert eigenvalues.min() >= -1e-12 * eigenvalues.max()


def _market(seed: int = 0, periods: int = 600, young: dict[str, int] | None = None):
    """Daily returns driven by SPY/SMH factors; ``young`` maps extra names to their history."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2021-01-04", periods=periods)
    factors = pd.DataFrame(
        rng.multivariate_normal([3e-4, 5e-4], [[1e-4, 1.2e-4], [1.2e-4, 2.5e-4]], periods),
        index=dates,
        columns=["SPY", "SMH"],
    )
    names = LONG + list(young or {})
    betas = rng.uniform(0.5, 1.8, (len(names), 2))
    noise = rng.normal(0, 0.012, (periods, len(names)))
    returns = pd.DataFrame(factors.to_numpy() @ betas.T + noise, index=dates, columns=names)
    for name, history in (young or {}).items():
        returns.iloc[: periods - history, returns.columns.get_loc(name)] = np.nan
    return returns, factors


# --------------------------------------------------------------------------- estimators


def test_sample_equals_numpy_cov_annualised():
    returns, _ = _market()
    expected = np.cov(returns.to_numpy(), rowvar=False) * 252
    np.testing.assert_allclose(sample_covariance(returns).to_numpy(), expected, rtol=1e-12)
    weekly = sample_covariance(returns, frequency="weekly").to_numpy()
    np.testing.assert_allclose(weekly, expected / 252 * 52, rtol=1e-12)


@pytest.mark.parametrize(
    ("function", "oracle"), [(ledoit_wolf_covariance, LedoitWolf), (oas_covariance, OAS)]
)
def test_shrinkage_equals_sklearn(function, oracle):
    returns, _ = _market(seed=1, periods=150)
    expected = oracle(assume_centered=False).fit(returns.to_numpy()).covariance_ * 252
    result = function(returns)
    assert list(result.index) == list(result.columns) == LONG
    np.testing.assert_allclose(result.to_numpy(), expected, rtol=0, atol=1e-10)


def _real_returns() -> np.ndarray:
    """Three years of the bundled universe's daily returns (complete names only)."""
    from portfolio.data.prices import load_prices

    prices = load_prices(["NVDA", "AMD", "AVGO", "TSM", "MSFT", "GOOGL", "AMZN", "META",
                          "ORCL", "INTC", "MU", "SPY"], source="bundled").prices
    return prices.pct_change().iloc[-756:].dropna().to_numpy()


@pytest.mark.parametrize(("numpy_version", "oracle"),
                         [(ledoit_wolf_matrix, LedoitWolf), (oas_matrix, OAS)])
@pytest.mark.parametrize(("periods", "names", "seed"),
                         [(500, 20, 0), (60, 120, 1), (30, 1, 2), (2, 3, 3), (1000, 5, 4)])
def test_numpy_shrinkage_equals_sklearn_to_1e_12(numpy_version, oracle, periods, names, seed):
    # T > N, T < N (singular sample covariance), one name, two days, heavy tails
    rng = np.random.default_rng(seed)
    values = rng.standard_t(4, (periods, names)) * 0.02 + rng.normal(0, 0.01, (periods, 1))
    expected = oracle(assume_centered=False).fit(values).covariance_
    result = numpy_version(values)
    np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize(("numpy_version", "oracle"),
                         [(ledoit_wolf_matrix, LedoitWolf), (oas_matrix, OAS)])
def test_numpy_shrinkage_equals_sklearn_on_the_bundled_prices(numpy_version, oracle):
    values = _real_returns()
    expected = oracle(assume_centered=False).fit(values).covariance_
    np.testing.assert_allclose(numpy_version(values), expected, rtol=1e-12,
                               atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize("half_life", [5, 63, 1000])
def test_ewma_equals_pandas_ewm_cov_at_last_date(half_life):
    returns, _ = _market(seed=2)
    expected = returns.ewm(halflife=half_life).cov().loc[returns.index[-1]] * 252
    result = ewma_covariance(returns, half_life)
    np.testing.assert_allclose(result.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-12)


def test_complete_estimators_reject_missing_returns():
    returns, _ = _market(young={"CRWV": 80})
    with pytest.raises(DataError, match="CRWV"):
        sample_covariance(returns)


@pytest.mark.parametrize(
    ("function", "name"),
    [
        (sample_covariance, "sample_covariance"),
        (ledoit_wolf_covariance, "ledoit_wolf_covariance"),
        (oas_covariance, "oas_covariance"),
        (ewma_covariance, "ewma_covariance"),
    ],
)
def test_every_complete_estimator_checks_its_inputs(function, name):
    returns, _ = _market(young={"CRWV": 80})
    with pytest.raises(DataError, match=rf"{name} needs complete returns \(CRWV\)"):
        function(returns)
    with pytest.raises(DataError, match=rf"too few observations \({name}\)"):
        function(returns[LONG].iloc[:1])
    with pytest.raises(DataError, match="returns are not numeric"):
        function(returns[LONG].astype(object).assign(AMD="x"))
    with pytest.raises(InputError, match="frequency"):
        function(returns[LONG], frequency="hourly")


def test_ewma_covariance_checks_its_half_life():
    returns, _ = _market()
    for half_life in (0, -3.0, float("nan"), True, "63"):
        with pytest.raises(InputError, match="half-life"):
            ewma_covariance(returns, half_life)


def test_factor_model_betas_and_variances_match_per_name_ols():
    returns, factors = _market(seed=4, young={"CRWV": 90})
    model = factor_covariance(returns, factors)
    for name in returns:
        rows = returns[name].notna()
        design = np.column_stack([np.ones(rows.sum()), factors[rows].to_numpy()])
        coefficients, residual_ss, *_ = np.linalg.lstsq(design, returns[name][rows], rcond=None)
        np.testing.assert_allclose(model.betas.loc[name], coefficients[1:], rtol=1e-10)
        expected_specific = residual_ss[0] / (rows.sum() - 3) * 252
        assert model.specific_var[name] == pytest.approx(expected_specific, rel=1e-10)
        assert model.observations[name] == rows.sum()
    np.testing.assert_allclose(model.factor_cov, np.cov(factors.T) * 252, rtol=1e-12)
    rebuilt = model.betas @ model.factor_cov @ model.betas.T + np.diag(model.specific_var)
    np.testing.assert_allclose(model.matrix, rebuilt, rtol=1e-12)


def test_factor_model_recovers_the_covariance_it_was_generated_from():
    # T = 200,000 daily draws: sampling error of each entry is about 0.3 % of
    # sqrt(Sigma_ii Sigma_jj); we allow 2 %.
    rng = np.random.default_rng(5)
    periods, names = 200_000, [f"N{i}" for i in range(6)]
    factor_cov = np.array([[1.0e-4, 0.6e-4], [0.6e-4, 2.0e-4]])
    betas = rng.uniform(0.3, 1.7, (6, 2))
    specific = rng.uniform(0.5e-4, 2e-4, 6)
    true_cov = betas @ factor_cov @ betas.T + np.diag(specific)
    factors = rng.multivariate_normal(np.zeros(2), factor_cov, periods)
    noise = rng.normal(0, np.sqrt(specific), (periods, 6))
    dates = pd.RangeIndex(periods)
    returns = pd.DataFrame(factors @ betas.T + noise, index=dates, columns=names)
    returns.iloc[:50_000, 5] = np.nan  # a ragged name still recovers its risk
    model = factor_covariance(returns, pd.DataFrame(factors, index=dates, columns=["F1", "F2"]))
    scale = np.sqrt(np.outer(np.diag(true_cov), np.diag(true_cov)))
    assert np.abs(model.matrix.to_numpy() / 252 - true_cov).max() <= 0.02 * scale.min()
    np.testing.assert_allclose(model.betas.to_numpy(), betas, atol=0.02)


def test_factor_returns_must_cover_every_date():
    returns, factors = _market()
    with pytest.raises(DataError, match="miss 1 date"):
        factor_covariance(returns, factors.drop(factors.index[10]))


def test_duplicated_dates_with_factor_returns_are_a_data_error():
    returns, factors = _market()
    repeated_factors = pd.concat([factors, factors.iloc[[3]]])
    repeated_returns = pd.concat([returns, returns.iloc[[3]]])
    day = str(returns.index[3].date())
    for call in (
        lambda: factor_covariance(returns, repeated_factors),
        lambda: covariance(returns, "factor", factor_returns=repeated_factors),
        lambda: covariance(returns, ragged="factor", factor_returns=repeated_factors),
    ):
        with pytest.raises(DataError, match=rf"duplicate dates in factor returns \({day}\)"):
            call()
    with pytest.raises(DataError, match=rf"duplicate dates in returns \({day}\)"):
        covariance(repeated_returns, "factor", factor_returns=factors)


def test_factor_method_is_the_factor_model_of_every_name():
    returns, factors = _market(seed=6, young={"CRWV": 90})
    estimate = covariance(returns, "factor", factor_returns=factors)
    model = factor_covariance(returns, factors)
    # kept in factor form: the parts are the model's (the complete names regressed
    # together, CRWV on its own rows), the N x N matrix is formed only when read
    assert estimate.dense is None and estimate.psd == "factor"
    parts = estimate.factor
    np.testing.assert_allclose(parts.loadings, model.betas.to_numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(parts.factor_cov, model.factor_cov.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(parts.specific, model.specific_var.to_numpy(), rtol=1e-10)
    assert parts.tickers == tuple(returns.columns) and parts.factors == tuple(factors.columns)
    pd.testing.assert_frame_equal(estimate.matrix, model.matrix, rtol=1e-12, atol=1e-15)
    assert estimate.repair == 0.0


# --------------------------------------------------------------------------- PSD repairs


def test_nearest_psd_clips_negative_eigenvalues_only():
    matrix = pd.DataFrame(
        [[1.0, 0.9, 0.9], [0.9, 1.0, -0.9], [0.9, -0.9, 1.0]],
        index=list("ABC"),
        columns=list("ABC"),
    )
    eigenvalues = np.linalg.eigvalsh(matrix)
    assert eigenvalues.min() < 0
    repaired, size = nearest_psd(matrix)
    _assert_psd(repaired)
    assert list(repaired.index) == list("ABC")
    # Oracle: the Frobenius distance of eigenvalue clipping is the norm of the negative part.
    assert size == pytest.approx(np.sqrt(np.sum(np.minimum(eigenvalues, 0) ** 2)), rel=1e-10)
    assert size == pytest.approx(np.linalg.norm(repaired - matrix), rel=1e-12)


def test_nearest_psd_leaves_a_psd_matrix_alone():
    returns, _ = _market()
    matrix = sample_covariance(returns)
    repaired, size = nearest_psd(matrix)
    assert size == 0.0
    pd.testing.assert_frame_equal(repaired, matrix)


def test_schur_repair_keeps_block_and_matches_formula():
    matrix = pd.DataFrame(
        [[1.0, -0.8, 0.9], [-0.8, 1.0, 0.9], [0.9, 0.9, 1.0]],
        index=list("ABC"),
        columns=list("ABC"),
    )
    repaired, size = schur_complement_repair(matrix, ["A", "B"])
    a, b, c = matrix.iloc[:2, :2].to_numpy(), matrix.iloc[:2, 2:].to_numpy(), matrix.iloc[2:, 2:]
    explained = b.T @ np.linalg.inv(a) @ b
    schur = c.to_numpy() - explained
    assert schur[0, 0] < 0
    np.testing.assert_array_equal(repaired.iloc[:2, :].to_numpy(), matrix.iloc[:2, :].to_numpy())
    assert repaired.iloc[2, 2] == pytest.approx(explained[0, 0], rel=1e-12)
    assert size == pytest.approx(explained[0, 0] - c.iat[0, 0], rel=1e-12)
    _assert_psd(repaired)


# --------------------------------------------------------------------------- ragged histories


@pytest.mark.parametrize(
    ("method", "ragged", "with_factors"),
    [
        (method, ragged, with_factors)
        for method in METHODS
        for ragged, with_factors in (("pairwise", False), ("factor", True), ("factor", False))
        if method != "factor" or with_factors  # the factor method always needs factors
    ],
)
def test_long_block_is_unaffected_by_short_names(method, ragged, with_factors):
    returns, factors = _market(seed=7, young={"CRWV": 82, "SMCI": 300})
    options = {"ragged": ragged, "factor_returns": factors if with_factors else None}
    alone = covariance(returns[LONG], method, **options)
    together = covariance(returns, method, **options)
    assert isinstance(together, CovarianceEstimate)
    assert list(together.matrix.index) == list(returns.columns)
    np.testing.assert_allclose(
        together.matrix.loc[LONG, LONG].to_numpy(), alone.matrix.to_numpy(), rtol=0, atol=1e-12
    )
    _assert_psd(together.matrix)
    _assert_psd(alone.matrix)
    assert together.observations.to_dict() == {
        "NVDA": 600,
        "AMD": 600,
        "MSFT": 600,
        "CRWV": 82,
        "SMCI": 300,
    }


@pytest.mark.parametrize("method", ["sample", "ledoit_wolf", "oas", "ewma"])
def test_full_block_equals_the_estimator_alone(method):
    returns, factors = _market(seed=8, young={"CRWV": 82})
    estimators = {
        "sample": sample_covariance,
        "ledoit_wolf": ledoit_wolf_covariance,
        "oas": oas_covariance,
        "ewma": lambda r: ewma_covariance(r, 63),
    }
    result = covariance(returns, method, factor_returns=factors).matrix
    expected = estimators[method](returns[LONG])
    np.testing.assert_array_equal(result.loc[LONG, LONG].to_numpy(), expected.to_numpy())


def test_pairwise_fill_is_overlap_correlation_times_own_volatilities():
    returns, _ = _market(seed=9, young={"CRWV": 150})
    estimate = covariance(returns, "sample", ragged="pairwise")
    assert estimate.repair == 0.0
    overlap = returns.dropna()
    own_vol = returns["CRWV"].dropna().std() * np.sqrt(252)
    for name in LONG:
        correlation = np.corrcoef(overlap["CRWV"], overlap[name])[0, 1]
        long_vol = returns[name].std() * np.sqrt(252)
        expected = correlation * own_vol * long_vol
        assert estimate.matrix.loc["CRWV", name] == pytest.approx(expected, rel=1e-10)
    assert estimate.matrix.loc["CRWV", "CRWV"] == pytest.approx(own_vol**2, rel=1e-12)


def test_factor_fill_is_implied_by_betas_on_factors():
    returns, factors = _market(seed=10, young={"CRWV": 120})
    estimate = covariance(returns, "sample", factor_returns=factors, ragged="factor")
    rows = returns["CRWV"].notna()
    design = np.column_stack([np.ones(rows.sum()), factors[rows]])
    coefficients, residual_ss, *_ = np.linalg.lstsq(design, returns["CRWV"][rows], rcond=None)
    beta = coefficients[1:]
    joint = np.cov(np.column_stack([factors, returns[LONG]]), rowvar=False) * 252
    expected_cross = beta @ joint[:2, 2:]
    expected_var = beta @ joint[:2, :2] @ beta + residual_ss[0] / (rows.sum() - 3) * 252
    assert estimate.repair == 0.0
    np.testing.assert_allclose(estimate.matrix.loc["CRWV", LONG], expected_cross, rtol=1e-10)
    assert estimate.matrix.loc["CRWV", "CRWV"] == pytest.approx(expected_var, rel=1e-10)
    _assert_psd(estimate.matrix)


def test_indefinite_pairwise_matrix_is_repaired_and_reported():
    # A and B are strongly negatively correlated over the window, but during the
    # last 30 days (CRWV's whole history) both move with CRWV: the pairwise
    # correlations [[1, -0.8, ~1], [-0.8, 1, ~1], [~1, ~1, 1]] cannot all hold.
    rng = np.random.default_rng(11)
    dates = pd.bdate_range("2023-01-02", periods=300)
    x = rng.normal(0, 0.02, 300)
    a = x.copy()
    b = -0.9 * x + rng.normal(0, 0.005, 300)
    common = rng.normal(0, 0.02, 30)
    a[-30:], b[-30:] = common, common + rng.normal(0, 0.001, 30)
    crwv = np.full(300, np.nan)
    crwv[-30:] = common + rng.normal(0, 0.001, 30)
    returns = pd.DataFrame({"A": a, "B": b, "CRWV": crwv}, index=dates)
    assert np.linalg.eigvalsh(returns.corr()).min() < 0  # the raw pairwise matrix is indefinite

    estimate = covariance(returns, "sample", ragged="pairwise")
    alone = covariance(returns[["A", "B"]], "sample")
    assert estimate.repair > 0
    _assert_psd(estimate.matrix)
    np.testing.assert_array_equal(
        estimate.matrix.loc[["A", "B"], ["A", "B"]].to_numpy(), alone.matrix.to_numpy()
    )
    assert any("repaired" in note and "CRWV" in note for note in estimate.warnings)
    assert any("CRWV has 30 observations" in note for note in estimate.warnings)


def test_warnings_name_short_histories_and_how_they_were_filled():
    returns, factors = _market(seed=12, young={"CRWV": 82, "SMCI": 300})
    estimate = covariance(returns, factor_returns=factors, min_observations=126)
    assert estimate.warnings == (
        "CRWV has 82 observations in the lookback, fewer than the minimum 126; "
        "its risk is estimated from SPY/SMH factor betas",
    )
    pairwise = covariance(returns, min_observations=400)
    assert len(pairwise.warnings) == 2
    assert all("pairwise" in note for note in pairwise.warnings)
    assert "SMCI has 300 observations" in pairwise.warnings[1]
    on_names = covariance(returns, ragged="factor")
    assert "betas on the 3 full-history names" in on_names.warnings[0]


def test_every_name_ragged_still_gives_psd_pairwise_matrix():
    returns, _ = _market(seed=13, young={"CRWV": 60})
    for column in range(3):
        returns.iloc[column, column] = np.nan  # no name is complete any more
    estimate = covariance(returns, "ledoit_wolf")
    _assert_psd(estimate.matrix)
    with pytest.raises(DataError, match="no name has a full history"):
        covariance(returns, ragged="factor")


def test_name_with_one_observation_is_a_named_error_with_a_fix():
    returns, _ = _market(young={"CRWV": 1})
    with pytest.raises(DataError) as info:
        covariance(returns)
    message = str(info.value)
    assert "CRWV" in message
    assert "shorter" in message.lower() or "longer lookback" in message.lower()
    assert "drop CRWV" in message


def test_bad_options_are_config_errors():
    returns, _ = _market()
    with pytest.raises(InputError, match="ledoit_wolf"):
        covariance(returns, "ledoitwolf")
    suggestion = r"(?i)unknown method 'ledoitwolf'.*did you mean 'ledoit_wolf'"
    with pytest.raises(InputError, match=suggestion):
        covariance(returns, "ledoitwolf")
    with pytest.raises(InputError, match=r"(?i)unknown ragged 'pairwize'.*'pairwise'"):
        covariance(returns, ragged="pairwize")
    with pytest.raises(InputError, match="factor returns"):
        covariance(returns, "factor")
    with pytest.raises(InputError, match="ragged"):
        covariance(returns, ragged="truncate")
    with pytest.raises(InputError, match="half-life"):
        covariance(returns, "ewma", half_life=0)
    with pytest.raises(InputError, match="frequency"):
        covariance(returns, frequency="hourly")


def test_no_short_names_returns_the_estimator_with_no_repair():
    returns, _ = _market()
    estimate = covariance(returns, "oas", frequency="weekly", min_observations=10)
    pd.testing.assert_frame_equal(estimate.matrix, oas_covariance(returns, "weekly"))
    assert estimate.repair == 0.0 and estimate.warnings == () and estimate.frequency == "weekly"


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    method=st.sampled_from(["sample", "ledoit_wolf", "oas", "ewma"]),
    ragged=st.sampled_from(["pairwise", "factor"]),
    histories=st.lists(st.integers(5, 199), min_size=1, max_size=4),
)
def test_random_ragged_panels_are_psd_and_keep_the_long_block(seed, method, ragged, histories):
    rng = np.random.default_rng(seed)
    periods = 200
    names = LONG + [f"Y{i}" for i in range(len(histories))]
    mixing = rng.normal(0, 0.01, (len(names), len(names)))
    returns = pd.DataFrame(
        rng.standard_t(4, (periods, len(names))) @ mixing,
        columns=names,
        index=pd.bdate_range("2022-01-03", periods=periods),
    )
    for name, history in zip(names[3:], histories):
        returns.iloc[: periods - history, returns.columns.get_loc(name)] = np.nan
    estimate = covariance(returns, method, ragged=ragged)
    _assert_psd(estimate.matrix)
    assert is_psd(estimate.matrix)
    alone = covariance(returns[LONG], method).matrix
    np.testing.assert_allclose(estimate.matrix.loc[LONG, LONG], alone, rtol=0, atol=1e-12)
