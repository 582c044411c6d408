"""Deal graph parsing and the look-through exposure model, against hand-computed values."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from portfolio.analytics.exposure import (
    dependence_matrix,
    direct_exposure,
    hub_failure_shocks,
    lookthrough_exposure,
    portfolio_exposure,
)
from portfolio.config import ecosystem as ecosystem_module
from portfolio.config.ecosystem import load_ecosystem, parse_ecosystem
from portfolio.errors import ConfigError, DataError, InputError
from portfolio.jobs.limits import hub_exposure, theme_exposures

PACKAGED_ECOSYSTEM = Path(__file__).parents[1] / "config" / "ecosystem.toml"

# A sells to the hub (40 bn over 2 years = 20 bn/yr on revenue 100 -> s_A = 0.2).
# B buys from A (30 bn over 3 years = 10 bn/yr): A[A, B] = 10/100, A[B, A] = 10/50.
# C only deals with another hub.
THREE_COMPANIES = {
    "entities": {
        "A": {"revenue_bn": 100.0},
        "B": {"revenue_bn": 50.0},
        "C": {"revenue_bn": 20.0},
        "Hub": {"kind": "private"},
        "Other": {"kind": "private"},
    },
    "deals": [
        {"from": "Hub", "to": "A", "amount_bn": 40.0, "years": 2, "kind": "customer_contract"},
        {"from": "B", "to": "A", "amount_bn": 30.0, "years": 3, "kind": "purchase_commitment"},
        {"from": "C", "to": "Other", "amount_bn": 5.0, "years": 1, "kind": "investment"},
    ],
}


def three_companies(**changes):
    data = copy.deepcopy(THREE_COMPANIES)
    data.update(changes)
    return data


@pytest.fixture
def graph():
    return parse_ecosystem(three_companies(), source="test.toml")


@pytest.fixture(scope="module")
def packaged():
    return load_ecosystem(PACKAGED_ECOSYSTEM)


# --------------------------------------------------------------------------- model


def test_direct_exposure_hand_computed(graph):
    direct = direct_exposure(graph, "Hub")
    assert list(direct.index) == ["A", "B", "C"]
    np.testing.assert_allclose(direct.to_numpy(), [0.2, 0.0, 0.0], rtol=0, atol=1e-12)


def test_dependence_matrix_hand_computed(graph):
    matrix = dependence_matrix(graph)
    expected = np.array([[0.0, 0.1, 0.0], [0.2, 0.0, 0.0], [0.0, 0.0, 0.0]])
    assert list(matrix.index) == list(matrix.columns) == ["A", "B", "C"]
    np.testing.assert_allclose(matrix.to_numpy(), expected, rtol=0, atol=1e-12)


def test_lookthrough_hand_computed(graph):
    # I - 0.5 A = [[1, -0.05], [-0.1, 1]] on {A, B}; det = 0.995;
    # inverse = [[1, 0.05], [0.1, 1]] / 0.995, applied to s = (0.2, 0).
    x = lookthrough_exposure(graph, "Hub", damping=0.5)
    assert x["A"] == pytest.approx(0.2 / 0.995, abs=1e-12)
    assert x["B"] == pytest.approx(0.02 / 0.995, abs=1e-12)
    assert x["C"] == 0.0
    assert x.attrs["missing"] == ()


@pytest.mark.parametrize("alpha", [0.1, 0.3, 0.7, 0.9])
def test_lookthrough_closed_form_any_damping(graph, alpha):
    determinant = 1 - 0.02 * alpha**2
    x = lookthrough_exposure(graph, "Hub", damping=alpha)
    np.testing.assert_allclose(
        x.to_numpy(), [0.2 / determinant, 0.04 * alpha / determinant, 0.0], rtol=0, atol=1e-12
    )


def test_default_damping_comes_from_model_table():
    graph = parse_ecosystem(three_companies(model={"default_damping": 0.9}))
    assert graph.default_damping == 0.9
    pd.testing.assert_series_equal(
        lookthrough_exposure(graph, "Hub"), lookthrough_exposure(graph, "Hub", damping=0.9)
    )
    assert parse_ecosystem(three_companies()).default_damping == 0.5


def test_damping_zero_gives_direct_exposure(graph, packaged):
    for g, hub in ((graph, "Hub"), (packaged, "OpenAI"), (packaged, "Scale AI")):
        np.testing.assert_allclose(
            lookthrough_exposure(g, hub, damping=0.0).to_numpy(),
            direct_exposure(g, hub).to_numpy(),
            rtol=0,
            atol=1e-12,
        )


def test_lookthrough_monotone_in_damping(graph, packaged):
    for g, hub in ((graph, "Hub"), (packaged, "OpenAI")):
        previous = direct_exposure(g, hub)
        for alpha in np.linspace(0.0, 0.95, 20):
            current = lookthrough_exposure(g, hub, damping=float(alpha))
            assert (current >= previous - 1e-12).all()
            previous = current


def test_private_part_of_hub_counts_as_hub_and_internal_deals_are_ignored():
    data = three_companies()
    data["entities"]["D"] = {"revenue_bn": 10.0}
    data["entities"]["JV"] = {"kind": "private", "part_of": "Hub"}
    data["deals"] += [
        # 8 bn over 4 years = 2 bn/yr on revenue 10 -> 0.2, through the hub's venture
        {"from": "D", "to": "JV", "amount_bn": 8.0, "years": 4, "kind": "joint_venture"},
        {"from": "Hub", "to": "JV", "amount_bn": 100.0, "years": 1, "kind": "joint_venture"},
    ]
    direct = direct_exposure(parse_ecosystem(data), "Hub")
    assert direct["D"] == pytest.approx(0.2, abs=1e-12)
    assert direct["A"] == pytest.approx(0.2, abs=1e-12)
    # exposure to the venture alone does not include the hub's other deals
    assert direct_exposure(parse_ecosystem(data), "JV")["A"] == 0.0


def test_exposure_capped_at_one():
    data = three_companies()
    data["deals"].append(
        {"from": "Hub", "to": "C", "amount_bn": 50.0, "years": 1, "kind": "customer_contract"}
    )
    graph = parse_ecosystem(data)
    assert direct_exposure(graph, "Hub")["C"] == 1.0
    assert lookthrough_exposure(graph, "Hub", damping=0.9).max() <= 1.0


def test_non_transmitting_kind_is_ignored():
    model = {"transmitting_kinds": ["customer_contract", "investment"]}
    graph = parse_ecosystem(three_companies(model=model))
    assert (dependence_matrix(graph).to_numpy() == 0.0).all()
    x = lookthrough_exposure(graph, "Hub", damping=0.5)
    np.testing.assert_allclose(x.to_numpy(), [0.2, 0.0, 0.0], rtol=0, atol=1e-12)


def test_listed_hub_is_fully_exposed_to_itself(graph):
    # s = (1, 0.2, 0); A with the hub's column removed = [[0, 0.1, 0], 0, 0].
    x = lookthrough_exposure(graph, "A", damping=0.5)
    np.testing.assert_allclose(x.to_numpy(), [1.0, 0.2, 0.0], rtol=0, atol=1e-12)


def test_tickers_absent_from_graph_get_zero_and_are_reported(graph):
    x = lookthrough_exposure(graph, "Hub", damping=0.5, tickers=["B", "ZZZ", "CASH", "Hub"])
    assert list(x.index) == ["B", "ZZZ", "CASH", "Hub"]
    assert x["B"] == pytest.approx(0.02 / 0.995, abs=1e-12)
    assert x[["ZZZ", "CASH", "Hub"]].tolist() == [0.0, 0.0, 0.0]
    assert x.attrs["missing"] == ("ZZZ", "Hub")


def test_divergent_damping_is_a_config_error_with_fix():
    # three companies of revenue 1 all dealing 5 bn/yr with each other: A = ones - I,
    # spectral radius 2, so the damping must stay below 0.5.
    names = ["X", "Y", "Z"]
    data = {
        "entities": {n: {"revenue_bn": 1.0} for n in names} | {"Hub": {"kind": "private"}},
        "deals": [
            {"from": a, "to": b, "amount_bn": 5.0, "years": 1, "kind": "customer_contract"}
            for a, b in (("X", "Y"), ("Y", "Z"), ("X", "Z"), ("Hub", "X"))
        ],
    }
    graph = parse_ecosystem(data)
    lookthrough_exposure(graph, "Hub", damping=0.45)
    with pytest.raises(InputError, match=r"(?i)lower the damping below 0\.500"):
        lookthrough_exposure(graph, "Hub", damping=0.6)


@pytest.mark.parametrize("damping", [1.0, -0.1, float("nan")])
def test_damping_out_of_range(graph, damping):
    with pytest.raises(InputError, match="damping"):
        lookthrough_exposure(graph, "Hub", damping=damping)


def test_unknown_hub_has_suggestion(graph):
    with pytest.raises(InputError, match=r"(?i)did you mean 'Hub'"):
        lookthrough_exposure(graph, "hubb")


@settings(max_examples=25, deadline=None)
@given(
    revenues=st.lists(st.floats(1.0, 100.0), min_size=2, max_size=5),
    flows=st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 5), st.floats(0.1, 50.0)), max_size=10
    ),
    alpha=st.floats(0.0, 0.95),
)
def test_lookthrough_invariants_on_random_graphs(revenues, flows, alpha):
    names = [f"T{i}" for i in range(len(revenues))]
    nodes = [*names, "Hub"]
    deals = [
        {
            "from": nodes[a % len(nodes)],
            "to": nodes[b % len(nodes)],
            "amount_bn": amount,
            "years": 1,
            "kind": "customer_contract",
        }
        for a, b, amount in flows
        if nodes[a % len(nodes)] != nodes[b % len(nodes)]
    ]
    entities = {n: {"revenue_bn": r} for n, r in zip(names, revenues)} | {
        "Hub": {"kind": "private"}
    }
    graph = parse_ecosystem({"entities": entities, "deals": deals})
    radius = max(abs(np.linalg.eigvals(dependence_matrix(graph).to_numpy())))
    assume(alpha * radius < 0.999)
    direct = direct_exposure(graph, "Hub")
    x = lookthrough_exposure(graph, "Hub", damping=alpha)
    assert ((x >= direct - 1e-12) & (x >= 0.0) & (x <= 1.0)).all()


# --------------------------------------------------------------------------- validation


def with_deal(index, **changes):
    data = three_companies()
    data["deals"][index].update(changes)
    return data


def test_unknown_entity_in_edge_names_deal_and_suggests():
    with pytest.raises(ConfigError) as info:
        parse_ecosystem(with_deal(0, **{"from": "Hbu"}), source="eco.toml")
    message = str(info.value)
    assert "unknown entity 'Hbu'" in message
    assert "deal 0 (Hbu -> A)" in message
    assert "eco.toml" in message
    assert "did you mean 'hub'?" in message.lower()


@pytest.mark.parametrize("amount", [-30.0, 0.0])
def test_non_positive_amount_names_deal(amount):
    with pytest.raises(ConfigError, match=r"deal 1 \(B -> A\), key deals\[1\]\.amount_bn"):
        parse_ecosystem(with_deal(1, amount_bn=amount))


@pytest.mark.parametrize("years", [0, -2])
def test_non_positive_years_names_deal(years):
    with pytest.raises(ConfigError, match=r"deal 1 \(B -> A\).*years.*must be positive"):
        parse_ecosystem(with_deal(1, years=years))


def test_listed_company_without_revenue_is_missing_scale():
    data = three_companies()
    del data["entities"]["A"]["revenue_bn"]
    with pytest.raises(ConfigError) as info:
        parse_ecosystem(data)
    message = str(info.value)
    assert "'A' has no revenue_bn" in message and "deal 0 (Hub -> A)" in message


def test_listed_company_without_deals_may_omit_revenue():
    data = three_companies()
    data["entities"]["AMZN"] = {}
    graph = parse_ecosystem(data)
    assert graph.entity("AMZN").revenue_bn is None
    assert lookthrough_exposure(graph, "Hub")["AMZN"] == 0.0


def test_unknown_key_in_deal_names_deal_and_suggests():
    with pytest.raises(ConfigError) as info:
        parse_ecosystem(with_deal(1, yeras=3))
    message = str(info.value)
    assert "unknown key 'yeras'" in message
    assert "deal 1 (B -> A)" in message
    assert "did you mean 'years'?" in message.lower()


def test_self_loop_names_deal():
    with pytest.raises(ConfigError, match=r"with itself.*deal 1 \(A -> A\)"):
        parse_ecosystem(with_deal(1, **{"from": "A"}))


def test_unknown_kind_names_deal_and_suggests():
    with pytest.raises(ConfigError, match=r"(?i)deal 2 \(C -> Other\).*did you mean 'investment'"):
        parse_ecosystem(with_deal(2, kind="investmnet"))


@pytest.mark.parametrize("key", ["amount_bn", "years", "kind", "to"])
def test_missing_deal_key(key):
    data = three_companies()
    del data["deals"][1][key]
    with pytest.raises(ConfigError, match=f"missing key '{key}'.*deals\\[1\\]"):
        parse_ecosystem(data)


def test_unknown_model_key_and_kind_suggest():
    with pytest.raises(ConfigError, match=r"(?i)did you mean 'default_damping'"):
        parse_ecosystem(three_companies(model={"default_dampng": 0.5}))
    with pytest.raises(ConfigError, match=r"(?i)did you mean 'joint_venture'"):
        parse_ecosystem(three_companies(model={"transmitting_kinds": ["joint_ventur"]}))
    with pytest.raises(ConfigError, match="below 1"):
        parse_ecosystem(three_companies(model={"default_damping": 1.0}))


def test_entity_validation():
    data = three_companies()
    data["entities"]["A"]["kind"] = "publc"
    with pytest.raises(
        ConfigError, match=r"unknown value 'publc'.*entities\.A\.kind.*listed, private"
    ):
        parse_ecosystem(data)
    data = three_companies()
    data["entities"]["A"]["part_of"] = "Hub"
    with pytest.raises(ConfigError, match="only a private entity"):
        parse_ecosystem(data)
    data = three_companies()
    data["entities"]["Other"]["part_of"] = "Hbu"
    with pytest.raises(ConfigError, match=r"(?i)did you mean 'Hub'"):
        parse_ecosystem(data)
    data = three_companies()
    data["entities"]["B"]["revenue_bn"] = 0.0
    with pytest.raises(ConfigError, match="revenue must be positive"):
        parse_ecosystem(data)


def test_load_ecosystem_reports_file_and_deal(tmp_path):
    path = tmp_path / "eco.toml"
    path.write_text(
        "[entities.NVDA]\nrevenue_bn = 130.5\n[entities.OpenAI]\nkind = 'private'\n"
        "[[deals]]\nfrom = 'NVDIA'\nto = 'OpenAI'\namount_bn = 100\nyears = 4\n"
        "kind = 'investment'\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"eco\.toml, deal 0 \(NVDIA -> OpenAI\).*'NVDA'"):
        load_ecosystem(path)
    path.write_text("[entities.NVDA\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="malformed TOML"):
        load_ecosystem(path)


# --------------------------------------------------------------------------- packaged file


def test_load_ecosystem_defaults_to_packaged_file(monkeypatch):
    asked = []

    def fake_packaged_path(name):
        asked.append(name)
        return PACKAGED_ECOSYSTEM

    monkeypatch.setattr(ecosystem_module, "packaged_config_path", fake_packaged_path)
    assert load_ecosystem() == load_ecosystem(PACKAGED_ECOSYSTEM)
    assert asked == ["ecosystem.toml"]


def test_packaged_ecosystem_content(packaged):
    assert set(packaged.listed) >= {
        "NVDA",
        "AMD",
        "ORCL",
        "CRWV",
        "GOOGL",
        "MSFT",
        "META",
        "AVGO",
        "TSM",
        "9984.T",
        "AMZN",
    }
    assert all(packaged.entity(t).revenue_bn > 0 for t in packaged.listed)
    assert packaged.hub_members("OpenAI") == {"OpenAI", "Stargate"}
    oracle = next(d for d in packaged.deals if d.ends == ("OpenAI", "ORCL"))
    assert (oracle.amount_bn, oracle.years, oracle.annual_flow_bn) == (300.0, 5.0, 60.0)
    assumed = {d.ends for d in packaged.deals if d.assumed}
    assert {("OpenAI", "GOOGL"), ("OpenAI", "AVGO"), ("AMD", "OpenAI")} <= assumed
    assert packaged.default_damping == 0.5


def test_packaged_openai_exposures(packaged):
    x = lookthrough_exposure(packaged, "OpenAI")
    assert x["ORCL"] >= 0.9 and x["CRWV"] >= 0.9
    assert x["AMZN"] <= 0.05
    # Nvidia: 25 bn/yr invested on 130.5 revenue, plus half of its links to ORCL (10 bn/yr)
    # and CRWV (0.9 bn/yr) times their look-through exposure, which is at least 1 before
    # clipping and only slightly more (their own feedback is second order).
    first_order = 25.0 / 130.5 + 0.5 * (10.0 / 130.5 + 0.9 / 130.5)
    assert first_order <= x["NVDA"] <= first_order + 0.002
    assert x["NVDA"] > direct_exposure(packaged, "OpenAI")["NVDA"]


# --------------------------------------------------------------------------- portfolio


def test_portfolio_exposure_totals():
    weights = pd.Series({"A": 0.5, "B": 0.3, "CASH": 0.1, "ZZZ": 0.1})
    exposures = pd.Series({"B": 0.5, "A": 0.2, "C": 1.0, "CASH": 0.7})
    report = portfolio_exposure(weights, exposures)
    assert report.per_holding.to_dict() == pytest.approx(
        {"A": 0.1, "B": 0.15, "CASH": 0.0, "ZZZ": 0.0}, abs=1e-15
    )
    assert report.total == pytest.approx(0.25, abs=1e-15)
    assert report.exposures.to_dict() == {"A": 0.2, "B": 0.5, "CASH": 0.0, "ZZZ": 0.0}
    assert report.unmapped == ("ZZZ",)


def test_portfolio_exposure_rejects_bad_weights():
    with pytest.raises(InputError, match="duplicate ticker A"):
        portfolio_exposure(pd.Series([0.5, 0.5], index=["A", "A"]), pd.Series({"A": 0.1}))
    with pytest.raises(InputError, match="non-numeric weights for B"):
        portfolio_exposure(pd.Series({"A": 0.5, "B": "x"}), pd.Series({"A": 0.1}))
    with pytest.raises(InputError, match="non-numeric weights for B"):
        portfolio_exposure({"A": 0.5, "B": "x"}, pd.Series({"A": 0.1}))


def test_hub_failure_shocks_hand_computed():
    exposures = pd.Series({"B": 0.5, "A": 0.2, "C": 1.0})
    betas = pd.Series({"A": 1.5, "B": 0.8, "CASH": 0.0})
    shocks = hub_failure_shocks(exposures, betas, severity=0.5, market_shock=-0.1)
    assert list(shocks.index) == ["A", "B", "CASH"]
    # A: -0.5 * 0.2 + 1.5 * -0.1; B: -0.5 * 0.5 + 0.8 * -0.1; CASH: 0
    np.testing.assert_allclose(shocks.to_numpy(), [-0.25, -0.33, 0.0], rtol=0, atol=1e-15)


def test_hub_failure_shocks_errors():
    exposures = pd.Series({"A": 0.2})
    with pytest.raises(InputError, match="no exposure for B"):
        hub_failure_shocks(exposures, pd.Series({"A": 1.0, "B": 1.0}), 0.5, -0.1)
    with pytest.raises(DataError, match="betas for A"):
        hub_failure_shocks(exposures, pd.Series({"A": np.nan}), 0.5, -0.1)
    with pytest.raises(InputError, match="hub_severity"):
        hub_failure_shocks(exposures, pd.Series({"A": 1.0}), 50, -0.1)
    with pytest.raises(InputError, match="market_shock"):
        hub_failure_shocks(exposures, pd.Series({"A": 1.0}), 0.5, -10)
    for severity in ("0.5", None, True):
        with pytest.raises(InputError, match="invalid hub severity"):
            hub_failure_shocks(exposures, pd.Series({"A": 1.0}), severity, -0.1)
    with pytest.raises(InputError, match="invalid market shock"):
        hub_failure_shocks(exposures, pd.Series({"A": 1.0}), 0.5, "-0.1")


# --------------------------------------------------------------------------- config helpers


def test_hub_exposure_is_the_lookthrough_of_the_configured_graph(config):
    graph = load_ecosystem(config.ecosystem.file)
    tickers = [*config.tickers, "CASH"]
    expected = lookthrough_exposure(graph, "OpenAI", config.ecosystem.damping, tickers)
    ours = hub_exposure(config, "OpenAI", tickers)
    pd.testing.assert_series_equal(ours, expected, rtol=0, atol=0)
    assert ours["NVDA"] > 0 and ours["CASH"] == 0.0
    pd.testing.assert_series_equal(
        hub_exposure(config, "OpenAI", tickers, graph=graph), expected, rtol=0, atol=0
    )


def test_hub_exposure_uses_a_given_graph_and_the_config_damping(config, graph):
    # The three-company graph at the packaged damping 0.5 (hand-computed above).
    assert config.ecosystem.damping == 0.5
    x = hub_exposure(config, "Hub", ["B", "A", "ZZZ"], graph=graph)
    assert list(x.index) == ["B", "A", "ZZZ"]
    assert x["A"] == pytest.approx(0.2 / 0.995, abs=1e-12)
    assert x["B"] == pytest.approx(0.02 / 0.995, abs=1e-12)
    assert x["ZZZ"] == 0.0 and x.attrs["missing"] == ("ZZZ",)


def test_theme_exposures_cover_every_capped_hub(config):
    hubs = sorted({spec.hub for spec in config.limits.theme_caps})
    assert hubs  # the packaged config caps OpenAI
    exposures = theme_exposures(config)
    assert sorted(exposures) == hubs
    for hub in hubs:
        assert exposures[hub] == hub_exposure(config, hub, config.tickers).to_dict()
