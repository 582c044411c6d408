"""One weights contract (portfolio.weights): ticker normalisation and the implicit-cash rule."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import portfolio as pf
from portfolio.data.holdings import parse_target_weights
from portfolio.errors import InputError
from portfolio.weights import CASH, WEIGHT_TOLERANCE, implied_cash, normalize_ticker


def test_tickers_are_normalised_once():
    assert normalize_ticker(" nvda ") == "NVDA"
    assert normalize_ticker("9984.t") == "9984.T"
    with pytest.raises(InputError, match="invalid ticker"):
        normalize_ticker("  ")
    with pytest.raises(InputError, match="invalid ticker"):
        normalize_ticker(3)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"nvda": 0.5, "AMD": 0.3}, {"NVDA": 0.5, "AMD": 0.3, CASH: 0.2}),
        ({"NVDA": 0.5, "AMD": 0.5}, {"NVDA": 0.5, "AMD": 0.5, CASH: 0.0}),
        ({"NVDA": 0.5, CASH: 0.5}, {"NVDA": 0.5, CASH: 0.5}),
        ({"NVDA": 1 + 0.5 * WEIGHT_TOLERANCE, CASH: 0.0}, {"NVDA": 1.0, CASH: 0.0}),
        ({}, {CASH: 1.0}),
    ],
)
def test_implicit_cash_rule(given, expected):
    parsed = pf.parse_weights(given)
    assert list(parsed.index) == list(expected)
    assert parsed.to_dict() == pytest.approx(expected)


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({"NVDA": 0.7, "AMD": 0.4}, ("sum to 1.1, more than 1", "Reduce the weights by 0.1")),
        ({"NVDA": 0.5, CASH: 0.2}, ("sum to 0.7, not 1", "set CASH to 0.5")),
        ({"NVDA": -0.1, "AMD": 0.2}, ("invalid weight -0.1 for NVDA", "negative weights")),
        ({"NVDA": "half"}, ("invalid weight 'half' for NVDA",)),
        ({"NVDA": 0.5, "nvda": 0.1}, ("duplicate ticker NVDA",)),
    ],
)
def test_bad_weights_are_one_line_input_errors(given, words):
    with pytest.raises(InputError) as info:
        pf.parse_weights(given)
    for word in words:
        assert word in info.value.message


def test_weights_by_position_are_refused():
    with pytest.raises(InputError, match="never by position"):
        pf.parse_weights([0.5, 0.5])


def test_risk_rebalance_orders_and_files_share_the_contract(config, market, tmp_path):
    given = {"nvda": 0.5, "AMD": 0.3}
    expected = pf.parse_weights(given)
    report = pf.risk_report(given, config=config, market=market)
    assert report.weights[CASH] == pytest.approx(expected[CASH])
    holdings = pf.Holdings({"NVDA": 10.0}, cash=10_000.0)
    run = pf.rebalance(holdings, config=config, market=market, target=given)
    assert run.target[["NVDA", "AMD", CASH]].tolist() == pytest.approx(expected.tolist())
    plan = pf.plan_rebalance(pd.Series({"NVDA": 10.0}), 10_000.0,
                             market.prices.iloc[-1], pd.Series(given), whole_shares=False)
    assert plan.target_weights[CASH] == pytest.approx(expected[CASH])
    from_file = parse_target_weights("ticker,weight\nnvda,0.5\nAMD,0.3\n", "t.csv")
    assert dict(from_file) == pytest.approx(expected.to_dict())
    assert implied_cash({"NVDA": 0.5, "AMD": 0.3}) == pytest.approx(0.2)


def test_the_aligned_fast_path_accepts_exactly_what_parse_weights_accepts_unchanged():
    import numpy as np
    import pandas as pd

    from portfolio.weights import aligned_weight_vector, parse_weights

    universe = ["NVDA", "AMD", "MSFT"]
    good = pd.Series([0.5, 0.2, 0.3 + 1e-12], index=universe)
    vector = aligned_weight_vector(good, universe)
    parsed = parse_weights(good, universe=universe).reindex(universe).to_numpy()
    assert vector is not None and np.array_equal(vector, parsed)
    # anything parse_weights would change or refuse goes to parse_weights
    assert aligned_weight_vector(good[["AMD", "NVDA", "MSFT"]], universe) is None
    assert aligned_weight_vector(pd.Series([0.5, 0.2, 0.4], index=universe), universe) is None
    assert aligned_weight_vector(pd.Series([0.5, -0.1, 0.1], index=universe), universe) is None
    assert aligned_weight_vector(pd.Series([0.5, np.nan, 0.1], index=universe), universe) is None
    assert aligned_weight_vector({"NVDA": 0.5}, universe) is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(-0.01, 0.6), st.just(float("nan")),
                          st.just(-WEIGHT_TOLERANCE / 2), st.just(1 + WEIGHT_TOLERANCE / 2)),
                min_size=3, max_size=3))
def test_the_aligned_fast_path_never_disagrees_with_parse_weights(values):
    # whenever the fast path answers, parse_weights accepts the same weights and gives the
    # same vector; whenever parse_weights refuses them, the fast path declines
    import numpy as np
    import pandas as pd

    from portfolio.errors import InputError
    from portfolio.weights import aligned_weight_vector, parse_weights

    universe = ["NVDA", "AMD", "MSFT"]
    weights = pd.Series(values, index=universe, dtype=float)
    fast = aligned_weight_vector(weights, universe)
    try:
        parsed = parse_weights(weights, universe=universe).reindex(universe).to_numpy()
    except InputError:
        assert fast is None
    else:
        assert fast is None or np.array_equal(fast, parsed)
