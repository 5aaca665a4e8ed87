"""Rank uncertainty (scoring/uncertainty.py): a seeded Monte Carlo over weights, aggregation and one dropped
index, checked against a plain-Python recomputation of every draw from the documented formulas."""

from __future__ import annotations

import csv
import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_scoring_fixtures import FakeRuleset, add_evidence, make_store, small_tree

from evidence.registry import load_registry
from scoring.report import write_report
from scoring.run import load_results, score
from scoring.stats import StatsError
from scoring.uncertainty import check_config, rank_uncertainty

ROOT = Path(__file__).resolve().parents[1]
EPS = 0.001
# hand-built scores: leaf points per target of the small tree (see test_scoring_fixtures.small_tree)
# leaves: digital_gov_plan 4, hotline_12345 2, service_portal_link 3 (not gdp100), open_data_link 3,
#         data_security_regulation 4, policy_interpretation 2
TABLE = {
    "p-top": ("province", {"digital_gov_plan": 4, "hotline_12345": 2, "service_portal_link": 3, "open_data_link": 3,
                           "data_security_regulation": 4, "policy_interpretation": 2}),
    "p-a": ("province", {"digital_gov_plan": 4, "hotline_12345": 0, "service_portal_link": 3, "open_data_link": 0,
                         "data_security_regulation": 2, "policy_interpretation": 2}),
    "p-b": ("province", {"digital_gov_plan": 0, "hotline_12345": 2, "service_portal_link": 0, "open_data_link": 3,
                         "data_security_regulation": 4, "policy_interpretation": 0}),
    "p-twin1": ("province", {"digital_gov_plan": 2, "hotline_12345": 1, "service_portal_link": 3, "open_data_link": 1,
                             "data_security_regulation": 1, "policy_interpretation": 2}),
    "p-c": ("province", {"digital_gov_plan": 3, "hotline_12345": 2, "service_portal_link": 0, "open_data_link": 2,
                         "data_security_regulation": 1, "policy_interpretation": 0}),
    "p-none": ("province", None),  # not assessed
    "g-a": ("gdp100", {"digital_gov_plan": 4, "hotline_12345": 0, "open_data_link": 3, "data_security_regulation": 0,
                       "policy_interpretation": 2}),
    "g-b": ("gdp100", {"digital_gov_plan": 1, "hotline_12345": 2, "open_data_link": 1, "data_security_regulation": 3,
                       "policy_interpretation": 0}),
    "g-c": ("gdp100", {"digital_gov_plan": 2, "hotline_12345": 1, "open_data_link": 2, "data_security_regulation": 2,
                       "policy_interpretation": 1}),
}
TABLE["p-twin2"] = ("province", dict(TABLE["p-twin1"][1]))  # the same leaf points as p-twin1
# totals: p-top 18, p-a 11, twins 10, p-b 9, p-c 8 (of 18); g-a 9, g-c 8, g-b 7 (of 15)
NOMINAL = {"p-top": 1, "p-a": 2, "p-b": 5, "p-twin1": 3, "p-twin2": 3, "p-c": 6, "g-a": 1, "g-b": 3, "g-c": 2}


def leaf_table() -> tuple[pd.DataFrame, dict[str, str]]:
    tree = small_tree()
    rows = []
    for tid, (group, points) in TABLE.items():
        for leaf in tree.leaves:
            if leaf.applies_to(group):
                rows.append({"target_id": tid, "leaf_id": leaf.id, "max_points": float(leaf.points),
                             "points": None if points is None else float(points[leaf.id])})
    return pd.DataFrame(rows), {tid: group for tid, (group, _) in TABLE.items()}


# --- an independent recomputation, one draw at a time, in plain Python ------------------------
def weight(tree, node_id: str, group: str) -> float:
    """Nominal weight: points of the applicable leaves under the node."""
    return sum(leaf.points for leaf in tree.leaves_under(node_id) if leaf.applies_to(group))


def share(tree, node_id: str, group: str, u: dict[str, float]) -> float:
    """w_n u_n / sum over siblings of w_m u_m (the renormalised weight divided by the parent's weight)."""
    parent = tree.nodes[node_id].parent
    sibs = [n.id for n in tree.children(parent)]
    return weight(tree, node_id, group) * u[node_id] / sum(weight(tree, s, group) * u[s] for s in sibs)


def node_rate(tree, node_id: str, group: str, points: dict[str, float], u: dict[str, float]) -> float:
    node = tree.nodes[node_id]
    if node.level == "leaf":
        return points[node_id] / node.points
    return sum(share(tree, c.id, group, u) * node_rate(tree, c.id, group, points, u)
               for c in tree.children(node_id) if weight(tree, c.id, group) > 0)


def draw_score(tree, group: str, points: dict[str, float], u: dict[str, float], aggregation: str,
               dropped: str | None) -> float:
    kept = [i.id for i in tree.indices if i.id != dropped and weight(tree, i.id, group) > 0]
    shares = {i: share(tree, i, group, u) for i in kept}
    total = sum(shares.values())
    rates = {i: node_rate(tree, i, group, points, u) for i in kept}
    if aggregation == "arithmetic":
        return sum(shares[i] / total * rates[i] for i in kept)
    return math.exp(sum(shares[i] / total * math.log(max(rates[i], EPS)) for i in kept))


def competition(scores: dict[str, float]) -> dict[str, int]:
    return {t: 1 + sum(1 for o in scores.values() if o > s + 1e-9) for t, s in scores.items()}


def inverted_cdf(values: list[float], q: float) -> float:
    """The smallest value v with at least q of the values <= v (Hyndman-Fan definition 1)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def recompute(result, tree) -> dict[str, dict[str, float]]:
    """Every draw's ranks from the draw's own factors, aggregation and dropped index, then the percentiles."""
    ranks: dict[str, list[int]] = {t: [] for t in TABLE if TABLE[t][1] is not None}
    for d in range(len(result.aggregation)):
        u = {nid: float(result.factors[nid][d]) for nid in tree.order}
        for group in ("province", "gdp100"):
            scores = {t: draw_score(tree, group, {k: float(v) for k, v in pts.items()}, u, result.aggregation[d],
                                    result.dropped[d])
                      for t, (g, pts) in TABLE.items() if g == group and pts is not None}
            for t, r in competition(scores).items():
                ranks[t].append(r)
    return {t: {"rank_p05": inverted_cdf(r, 0.05), "rank_p50": inverted_cdf(r, 0.50), "rank_p95": inverted_cdf(r, 0.95),
                "draws": r} for t, r in ranks.items()}


SETTINGS = {"draws": 200, "seed": 7, "weight_spread": 0.25, "aggregations": ["arithmetic", "geometric"],
            "drop_index": True, "geometric_epsilon": EPS}


def test_intervals_match_an_independent_recomputation():
    tree = small_tree()
    leaves, groups = leaf_table()
    res = rank_uncertainty(leaves, tree, groups, SETTINGS)
    expected = recompute(res, tree)
    t = res.table
    for tid, exp in expected.items():
        col = list(t.index).index(tid)
        assert res.ranks[:, col].tolist() == exp["draws"], tid
        for name in ("rank_p05", "rank_p50", "rank_p95"):
            assert t.loc[tid, name] == exp[name], (tid, name)
        assert t.loc[tid, "rank"] == NOMINAL[tid]
    # the draws did vary what they say they vary
    for nid in tree.order:
        assert 0.75 <= res.factors[nid].min() and res.factors[nid].max() <= 1.25
    assert set(res.aggregation) == {"arithmetic", "geometric"}
    assert None in res.dropped and {i.id for i in tree.indices} <= set(res.dropped)
    assert res.methods["draws"] == 200 and res.methods["seed"] == 7 and res.methods["weight_spread"] == 0.25
    assert res.methods["drop_index_probability"] == pytest.approx(5 / 6)
    assert "inverted_cdf" in res.methods["text"] and "tiers do not enter ranks" in res.methods["text"]
    # somebody's rank moves (the perturbation is not a no-op on this table)
    assert (t["rank_p95"] > t["rank_p05"]).any()


def test_dominant_target_and_identical_twins():
    leaves, groups = leaf_table()
    t = rank_uncertainty(leaves, small_tree(), groups, SETTINGS).table
    assert (t.loc["p-top", "rank_p05"], t.loc["p-top", "rank_p50"], t.loc["p-top", "rank_p95"]) == (1, 1, 1)
    twins = t.loc[["p-twin1", "p-twin2"], ["rank_p05", "rank_p50", "rank_p95"]]
    assert twins.iloc[0].tolist() == twins.iloc[1].tolist()


def test_no_perturbation_collapses_to_the_nominal_rank():
    leaves, groups = leaf_table()
    t = rank_uncertainty(leaves, small_tree(), groups, {**SETTINGS, "weight_spread": 0, "aggregations": ["arithmetic"],
                                                       "drop_index": False}).table
    assessed = t[t["rank"].notna()]
    for name in ("rank_p05", "rank_p50", "rank_p95"):
        assert assessed[name].tolist() == [NOMINAL[tid] for tid in assessed.index], name


def test_seed_reproducible_and_not_assessed_is_nan():
    leaves, groups = leaf_table()
    a = rank_uncertainty(leaves, small_tree(), groups, SETTINGS)
    b = rank_uncertainty(leaves, small_tree(), groups, SETTINGS)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert np.array_equal(a.ranks, b.ranks, equal_nan=True)
    c = rank_uncertainty(leaves, small_tree(), groups, {**SETTINGS, "seed": 8})
    assert not np.array_equal(a.ranks, c.ranks, equal_nan=True)  # another seed, other draws
    assert a.table.loc["p-none", ["rank", "rank_p05", "rank_p50", "rank_p95"]].isna().all()
    assert np.isnan(a.ranks[:, list(a.table.index).index("p-none")]).all()
    # the not-assessed target takes no part: the others' ranks are those of the table without it
    without = leaves[leaves["target_id"] != "p-none"]
    d = rank_uncertainty(without, small_tree(), {k: v for k, v in groups.items() if k != "p-none"}, SETTINGS)
    pd.testing.assert_frame_equal(a.table.drop(index="p-none"), d.table)


def test_config_is_checked():
    check_config(None)
    check_config(SETTINGS)
    for bad in ({"draws": 0}, {"weight_spread": 1.2}, {"aggregations": ["median"]}, {"aggregations": []},
                {"drop_index": "yes"}, {"seed": -1}, {"geometric_epsilon": 0}, {"spread": 0.1}):
        with pytest.raises(StatsError):
            check_config(bad)
    leaves, groups = leaf_table()
    with pytest.raises(StatsError, match="tier"):
        rank_uncertainty(leaves, small_tree(), groups, SETTINGS, rank_method="by tier, then points")


def test_thousand_draws_of_164_targets_give_ordered_intervals_within_each_group():
    """The real indicator tree and 164 registry targets (bench/uncertainty.py's data; the speed is
    measured there, never asserted here): every interval is ordered and inside its group's ranks."""
    spec = importlib.util.spec_from_file_location("bench_uncertainty", ROOT / "bench" / "uncertainty.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    tree, leaves, groups = bench.synthetic_run(seed=0)
    res = rank_uncertainty(leaves, tree, groups, {"draws": 1000})
    t = res.table
    assert len(t) == 164 and t["rank_p50"].notna().all()
    size = pd.Series(groups).value_counts()
    for _tid, row in t.iterrows():  # indexed by target_id
        assert 1 <= row["rank_p05"] <= row["rank_p50"] <= row["rank_p95"] <= size[row["group"]]


def test_report_writes_rank_intervals(tmp_path):
    store = make_store(tmp_path / "w.db", "2023")
    tree = small_tree()
    rows = [(site.site_id, leaf.id, None) for k, site in enumerate(load_registry().sites)
            for j, leaf in enumerate(tree.leaves) if (k + j) % 3]
    add_evidence(store, "2023", rows)
    store.conn.execute("update sites set status = 'blocked' where campaign = '2023' and site_id = '330100'")
    store.conn.commit()
    run_id = score(store, "2023", FakeRuleset(tree), run_id="r1", config={"uncertainty": {"draws": 300}})
    out = tmp_path / "report"
    paths = write_report(store, run_id, FakeRuleset(tree), out)
    with paths["targets.csv"].open(encoding="utf-8-sig") as f:
        got = {r["target_id"]: r for r in csv.DictReader(f)}
    header = list(next(iter(got.values())))
    assert header[header.index("rank") + 1:header.index("rank") + 4] == ["rank_p05", "rank_p50", "rank_p95"]
    assert got["capital-330100"]["rank_p50"] == "" and got["capital-330100"]["rank"] == ""  # not assessed
    df = load_results(store, run_id, tree).set_index("target_id")
    for tid, r in got.items():
        if r["rank"]:
            assert int(r["rank"]) == df.loc[tid, "rank"]
            assert float(r["rank_p05"]) <= float(r["rank_p50"]) <= float(r["rank_p95"])
    for g in ("province", "capital", "gdp100"):
        assert (out / f"rank_interval_{g}.png").stat().st_size > 5000, g
    html = paths["report.html"].read_text(encoding="utf-8")
    assert 'id="uncertainty"' in html and "Rank uncertainty" in html
    assert 'src="rank_interval_gdp100.png"' in html
    assert "300 Monte Carlo draws" in html and "seed 2023" in html
    store.close()
