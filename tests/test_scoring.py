"""Scoring runs on a real SQLite store, statistics on known inputs, and run diffs."""

from __future__ import annotations

import json
import math
import sqlite3

import pandas as pd
import pytest
from test_scoring_fixtures import FakeRuleset, add_evidence, decide, make_store, small_tree

from scoring import stats
from scoring.diff import diff_runs
from scoring.run import competition_ranks, load_results, score
from scoring.runs import RunExists

C = "2023"


@pytest.fixture
def store(tmp_path):
    s = make_store(tmp_path / "w.db", C)
    yield s
    s.close()


@pytest.fixture
def ev(store):
    """Evidence of four sites; returns the ids by a short name."""
    ids = add_evidence(store, C, [
        ("330100", "hotline_12345", None),          # 杭州: capital + gdp100
        ("330100", "service_portal_link", 2),       # partial: 2 of 3
        ("330100", "open_data_link", 5),            # capped at the leaf's 3
        ("330100", "open_data_link", 1),
        ("440300", "digital_gov_plan", None),       # 深圳: capital + gdp100
        ("440300", "data_security_regulation", None),
        ("110000", "digital_gov_plan", 4),          # 北京: province + gdp100, everything
        ("110000", "hotline_12345", 2),
        ("110000", "service_portal_link", 3),
        ("110000", "open_data_link", 3),
        ("110000", "data_security_regulation", 4),
        ("110000", "policy_interpretation", 2),
        ("330000", "hotline_12345", None),          # 浙江省
        ("999999", "hotline_12345", None),          # a site not in the registry: ignored
        ("330000", "not_a_leaf", None),             # a leaf not in the tree: ignored, noted
    ])
    names = ["hz_hot", "hz_svc", "hz_od5", "hz_od1", "sz_plan", "sz_sec", "bj_plan", "bj_hot", "bj_svc",
             "bj_od", "bj_sec", "bj_app", "zj_hot", "ghost", "unknown"]
    return dict(zip(names, ids, strict=True))


def cells(store, run_id):
    return {(s["target_id"], s["node_id"]): s for s in store.scores(run_id)}


def test_points_rates_ranks_by_hand(store, ev):
    run_id = score(store, C, FakeRuleset(small_tree()))
    s = cells(store, run_id)
    # 杭州 as a capital: 2 + 2 + 3 of 18; as a GDP-100 city the service-portal leaf does not apply: 5 of 15
    assert s[("capital-330100", "total")]["points"] == 7
    assert s[("capital-330100", "total")]["max_points"] == 18
    assert s[("capital-330100", "total")]["rate"] == pytest.approx(7 / 18)
    assert s[("gdp100-330100", "total")]["points"] == 5
    assert s[("gdp100-330100", "total")]["max_points"] == 15
    assert ("gdp100-330100", "service_portal_link") not in s
    assert s[("capital-330100", "service_portal_link")]["points"] == 2
    assert s[("capital-330100", "open_data_link")]["points"] == 3
    assert sorted(json.loads(s[("capital-330100", "open_data_link")]["evidence_ids"])) == \
        sorted([ev["hz_od5"], ev["hz_od1"]])
    assert s[("capital-330100", "cap_portal")]["points"] == 4
    assert s[("capital-330100", "cap")]["rate"] == pytest.approx(4 / 5)
    assert s[("capital-330100", "cap")]["level"] == "index"
    assert s[("capital-330100", "cap_portal")]["level"] == "sub"
    # ranks: competition ranking within the group
    assert s[("capital-440300", "total")]["rank"] == 1       # 8
    assert s[("capital-330100", "total")]["rank"] == 2       # 7
    assert s[("capital-130100", "total")]["rank"] == 3       # 0, tied with 29 others
    assert s[("capital-330100", "cap")]["rank"] == 1
    assert s[("capital-440300", "cap")]["rank"] == 2
    assert s[("gdp100-110000", "total")]["points"] == 15
    assert s[("gdp100-110000", "total")]["rank"] == 1
    assert s[("gdp100-440300", "total")]["rank"] == 2
    assert s[("gdp100-330100", "total")]["rank"] == 3
    assert s[("gdp100-440100", "total")]["rank"] == 4
    assert s[("province-110000", "total")]["points"] == 18
    assert s[("province-110000", "total")]["rate"] == 1.0
    assert s[("province-330000", "total")]["points"] == 2
    assert s[("province-330000", "total")]["rank"] == 2
    assert s[("province-130000", "total")]["rank"] == 3
    # every target scored
    totals = [c for c in s.values() if c["node_id"] == "total"]
    assert len(totals) == 164
    run = store.run(run_id)
    cfg = json.loads(run["config"])
    assert cfg["tier_method"] == "equal_interval"
    assert cfg["correlation_method"] == "spearman"
    assert "score_100" in cfg["normalisation"]
    assert "tiers" in cfg["formulas"] and "progress" in cfg["formulas"]
    assert run["rules_version"] == "test-1"
    assert "not_a_leaf" in run["notes"]


def test_reject_confirm_and_add_decisions(store, ev):
    rs = FakeRuleset(small_tree())
    decide(store, C, ev["bj_plan"], "reject")
    decide(store, C, None, "add", site_id="330000", leaf_id="open_data_link", url="https://www.zj.gov.cn/od")
    r1 = score(store, C, rs)
    s = cells(store, r1)
    assert s[("province-110000", "total")]["points"] == 14
    assert s[("province-110000", "digital_gov_plan")]["points"] == 0
    assert s[("province-110000", "digital_gov_plan")]["evidence_ids"] == "[]"
    assert s[("gdp100-110000", "total")]["points"] == 11
    assert s[("province-330000", "total")]["points"] == 5
    assert json.loads(s[("province-330000", "open_data_link")]["evidence_ids"]) == [
        f"man_{store.decisions(C)[-1]['id']}"]
    # the latest decision per evidence id wins
    decide(store, C, ev["bj_plan"], "confirm")
    s = cells(store, score(store, C, rs))
    assert s[("province-110000", "total")]["points"] == 18


def test_run_ids_unique_and_rerun_deterministic(store, ev):
    rs = FakeRuleset(small_tree())
    a = score(store, C, rs)
    b = score(store, C, rs)
    assert a != b and a.startswith("2023-") and b.startswith("2023-")

    def strip(rows):
        return sorted((r["target_id"], r["node_id"], r["points"], r["max_points"], r["rate"], r["rank"],
                       r["evidence_ids"]) for r in rows)
    assert strip(store.scores(a)) == strip(store.scores(b))
    # a named run is made once: runs are immutable, a taken name is refused and the run kept as it was
    assert score(store, C, rs, run_id="named") == "named"
    kept = strip(store.scores("named"))
    with pytest.raises(RunExists, match="immutable"):
        score(store, C, rs, run_id="named")
    assert strip(store.scores("named")) == kept == strip(store.scores(a))
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        store.conn.execute("UPDATE scores SET points = 0 WHERE run_id = 'named'")
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        store.conn.execute("DELETE FROM runs WHERE run_id = 'named'")


def test_load_results_frame(store, ev):
    run_id = score(store, C, FakeRuleset(small_tree()))
    df = load_results(store, run_id, small_tree())
    assert len(df) == 164
    assert df.groupby("group").size().to_dict() == {"capital": 32, "gdp100": 100, "province": 32}
    hz = df.set_index("target_id").loc["capital-330100"]
    assert hz["score_100"] == pytest.approx(700 / 18)
    assert hz["cap_rate"] == pytest.approx(0.8)
    assert df.attrs["index_ids"] == ["mgmt", "cap", "base", "sec", "app"]


def test_diff_shows_changed_leaf_and_evidence(store, ev):
    rs = FakeRuleset(small_tree())
    a = score(store, C, rs, run_id="a")
    decide(store, C, ev["sz_plan"], "reject")
    b = score(store, C, rs, run_id="b")
    text = diff_runs(store, a, b)
    assert "capital-440300 深圳市: total 8/18 -> 4/18, rank 1 -> 2" in text
    assert f"leaf digital_gov_plan: 4 -> 0 evidence removed {ev['sz_plan']}" in text
    assert "杭州市 2->1" in text  # moved by 深圳's change, its own points unchanged
    assert diff_runs(store, a, a).endswith("no target's scores, ranks or evidence changed")


# --- statistics on known inputs ---------------------------------------------------------
def test_competition_ranks():
    assert competition_ranks({"a": 3, "b": 2, "c": 2, "d": 1}) == {"a": 1, "b": 2, "c": 2, "d": 4}


def test_tiers_equal_interval():
    v = pd.Series([100, 90, 80, 60, 50, 0])
    # width 20: cuts at 80, 60, 40, 20; a score on a cut joins the higher tier
    assert stats.assign_tiers(v, "equal_interval").tolist() == [1, 1, 1, 2, 3, 5]
    assert stats.assign_tiers(pd.Series([7, 7]), "equal_interval").tolist() == [1, 1]
    b = stats.tier_bounds(v, "equal_interval")
    assert b[0] == (80, 100) and b[4] == (0, 20)


def test_tiers_quantile_with_ties():
    assert stats.assign_tiers(pd.Series(range(10, 0, -1)), "quantile").tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert stats.assign_tiers(pd.Series([5, 5, 5, 4, 3, 2, 1]), "quantile").tolist() == [1, 1, 1, 2, 3, 4, 5]
    sizes = stats.assign_tiers(pd.Series(range(32)), "quantile").value_counts().sort_index().tolist()
    assert sizes == [7, 7, 6, 6, 6]
    with pytest.raises(stats.StatsError):
        stats.assign_tiers(pd.Series([1.0]), "kmeans")


def test_rank_correlation():
    assert stats.rank_correlation_xy([1, 2, 3, 4, 5], [1, 2, 3, 4, 5])[0] == pytest.approx(1.0)
    assert stats.rank_correlation_xy([1, 2, 3, 4, 5], [5, 4, 3, 2, 1])[0] == pytest.approx(-1.0)
    # 1 - 6 * sum(d^2) / (n (n^2 - 1)) = 1 - 6 * 4 / 120
    assert stats.rank_correlation_xy([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])[0] == pytest.approx(0.8)
    rho, _, n = stats.rank_correlation_xy([1, 2, None, 4], [1, 2, 3, 4])
    assert n == 3 and rho == pytest.approx(1.0)
    df = pd.DataFrame({"group": ["a"] * 4 + ["b"] * 4, "gdp_rank": [1, 2, 3, 4] * 2,
                       "rank": [1, 2, 3, 4, 4, 3, 2, 1]})
    res = stats.rank_correlation(df)
    assert res["a"]["rho"] == pytest.approx(1.0) and res["b"]["rho"] == pytest.approx(-1.0)


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "target_id": ["p1", "p2", "p3", "g1", "g2", "g3", "g4"],
        "group": ["province"] * 3 + ["gdp100"] * 4,
        "admin_code": ["1", "2", "3", "110000", "4", "5", "6"],
        "score_100": [50.0, 60.0, 70.0, 99.0, 10.0, 20.0, 30.0],
        "rank": [3, 2, 1, 1, 4, 3, 2],
        "x_rate": [0.5, 0.6, 0.7, 1.0, 0.0, 0.5, 0.5], "x_points": [1, 1.2, 1.4, 2, 0, 1, 1],
        "x_max": [2.0] * 7,
    })


def test_dispersion_zscore_and_exclusions():
    df = _frame()
    ex = {"gdp100": {"admin_codes": ["110000"], "statistics": ["mean_sd", "zscore", "progress"]}}
    disp = stats.dispersion(df, threshold=5, ddof=1, exclusions=ex, tier_col=None).set_index("group")
    assert disp.loc["province", "mean"] == pytest.approx(60)
    assert disp.loc["province", "sd"] == pytest.approx(10)
    assert bool(disp.loc["province", "sd_over_threshold"]) is True
    assert disp.loc["province", "n_beyond_threshold"] == 2
    assert disp.loc["gdp100", "n"] == 3 and disp.loc["gdp100", "mean"] == pytest.approx(20)
    z = stats.zscores(df, ddof=1, exclusions=ex)
    assert z.tolist()[:3] == pytest.approx([-1, 0, 1])
    assert math.isnan(z[3]) and z[4] == pytest.approx(-1)
    z0 = stats.zscores(df, ddof=0)
    assert z0[0] == pytest.approx(-10 / math.sqrt(200 / 3))


def test_index_rate_means():
    df = _frame()
    m = stats.index_rate_means(df, ["x"])
    assert m.loc["province", "x"] == pytest.approx(0.6)
    r = stats.index_rate_means(df, ["x"], "ratio_of_sums")
    assert r.loc["gdp100", "x"] == pytest.approx(4 / 8)


def test_progress_methods():
    df = _frame()
    prev = pd.DataFrame({"target_id": ["p1", "p2", "p3"], "score_100": [40.0, 60.0, 35.0]})
    rel = stats.progress(df, "relative_change", previous=prev)
    assert rel[0] == pytest.approx(0.25) and rel[1] == pytest.approx(0) and rel[2] == pytest.approx(1.0)
    assert math.isnan(rel[3])
    gap = stats.progress(df, "gap_closed", previous=prev)
    assert gap[0] == pytest.approx(10 / 60)
    assert stats.progress(df, "relative_change").isna().all()  # no previous campaign
    phi = stats.progress(df, "phi_z")
    assert phi[1] == pytest.approx(0.5) and phi[2] == pytest.approx(0.8413, abs=1e-4)
    mm = stats.progress(df, "minmax")
    assert mm.tolist()[:3] == pytest.approx([0, 0.5, 1])
    leaves = pd.DataFrame({"target_id": ["p1", "p1", "p2", "p2", "p3", "p3"], "leaf_id": ["a", "b"] * 3,
                           "points": [0, 1, 1, 1, 0, 0]})
    share = stats.progress(df, "leaf_share", leaf_points=leaves)
    assert share.tolist()[:3] == pytest.approx([0.5, 1.0, 0.0])
    above = stats.progress(df, "leaf_above_mean", leaf_points=leaves)
    assert above.tolist()[:3] == pytest.approx([0.5, 1.0, 0.0])


def test_leaders_and_summary():
    df = _frame()
    lead = stats.leaders(df, n=1)
    assert lead["province"]["target_id"].tolist() == ["p3"]
    cfg = {"tier_method": "equal_interval", "correlation_method": "spearman", "mean_rate_method": "mean_of_ratios",
           "progress_method": "phi_z", "sd_ddof": 1, "dispersion_threshold": 5}
    df["gdp_rank"] = [3, 2, 1, 1, 4, 3, 2]
    out = stats.summary(df, cfg, ["x"])
    assert out["correlation"]["province"]["rho"] == pytest.approx(1.0)
    assert out["targets"]["tier"].tolist()[:3] == [5, 3, 1]
    assert out["progress_available"] is True
    with pytest.raises(stats.StatsError):
        stats.check_config({**cfg, "progress_method": "vibes"})


def test_calibrate_progress_picks_the_matching_method():
    df = _frame()
    phi = stats.progress(df, "phi_z")
    published = {"p1": float(phi[0]), "p3": float(phi[2])}
    cal = stats.calibrate_progress(df, published)
    assert cal.iloc[0]["method"] == "phi_z" and cal.iloc[0]["mae"] == pytest.approx(0)
    assert "relative_change" not in set(cal["method"])  # needs a previous campaign


def test_config_overrides_from_campaign_and_call(tmp_path):
    from evidence.registry import load_registry
    from evidence.store import Store

    with Store(tmp_path / "c.db") as st:
        st.open_campaign("c", load_registry(), config={"scoring": {"tier_method": "quantile"}})
        rs = FakeRuleset(small_tree())
        cfg = json.loads(st.run(score(st, "c", rs))["config"])
        assert cfg["tier_method"] == "quantile" and "quintiles" in cfg["formulas"]["tiers"]
        cfg = json.loads(st.run(score(st, "c", rs, config={"sd_ddof": 0}))["config"])
        assert cfg["sd_ddof"] == 0 and cfg["tier_method"] == "quantile"
        assert cfg["exclusions"]["gdp100"]["admin_codes"] == ["310000", "110000", "120000", "500000"]
        with pytest.raises(stats.StatsError):
            score(st, "c", rs, config={"tier_method": "kmeans"})
