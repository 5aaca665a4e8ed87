"""scoring.frames.load_run: a scored run as DataFrames, read-only, on a small real store."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from test_scoring_fixtures import FakeRuleset, add_evidence, decide, make_store, small_tree

from evidence.store import StoreError
from scoring.frames import EVIDENCE_COLUMNS, LEAF_COLUMNS, load_run
from scoring.run import score

C = "2023"


@pytest.fixture
def scored(tmp_path):
    """Evidence of three sites, one rejected, one confirmed, one added by hand; two runs."""
    db = tmp_path / "w.db"
    store = make_store(db, C)
    ids = add_evidence(store, C, [
        ("330100", "hotline_12345", None), ("330100", "open_data_link", 2),  # 杭州: capital + gdp100
        ("110000", "digital_gov_plan", 4), ("110000", "hotline_12345", 2),   # 北京: province + gdp100
        ("330000", "hotline_12345", None),                                   # 浙江省
    ])
    first = score(store, C, FakeRuleset(small_tree()), run_id="first")
    decide(store, C, ids[2], "reject")
    decide(store, C, ids[3], "confirm")
    decide(store, C, None, "add", site_id="330000", leaf_id="open_data_link", url="https://www.zj.gov.cn/od")
    latest = score(store, C, FakeRuleset(small_tree()), run_id="latest")
    store.close()
    return db, ids, first, latest


def _store_counts(db, run_id):
    with sqlite3.connect(db) as conn:
        targets = conn.execute("select count(*) from scores where run_id = ? and node_id = 'total'", [run_id])
        leaves = conn.execute("select target_id, node_id, evidence_ids from scores where run_id = ? and level = 'leaf'",
                              [run_id]).fetchall()
        return targets.fetchone()[0], leaves


def test_frames_match_the_store(scored):
    db, ids, first, latest = scored
    f = load_run(db, rules=FakeRuleset(small_tree()))
    assert f.run["run_id"] == latest  # run_id=None: the latest run
    n_targets, leaves = _store_counts(db, latest)
    assert len(f.targets) == n_targets == 164
    assert {"target_id", "group", "name_zh", "total_points", "score_100", "rank", "assessed"} <= set(f.targets)
    assert list(f.leaves.columns) == LEAF_COLUMNS and len(f.leaves) == len(leaves)
    assert f.leaves["group"].notna().all() and f.leaves["leaf_name_zh"].notna().all()
    hz = f.leaves[(f.leaves.target_id == "capital-330100") & (f.leaves.leaf_id == "hotline_12345")].iloc[0]
    assert (hz["name_zh"], hz["leaf_name_zh"], hz["sub_id"], hz["index_id"], hz["index_name_zh"]) == \
        ("杭州市", "12345热线", "cap_portal", "cap", "数字能力")

    # one evidence row per (target, leaf, evidence id) of the run's leaf scores
    assert list(f.evidence.columns) == EVIDENCE_COLUMNS
    expected = sorted((t, leaf, str(e)) for t, leaf, ev in leaves for e in json.loads(ev or "[]"))
    assert sorted(zip(f.evidence.target_id, f.evidence.leaf_id, f.evidence.eid, strict=True)) == expected
    assert f.evidence[["url", "snippet"]].notna().all().all()
    assert f.evidence.loc[~f.evidence["manual"].astype(bool), "rule_id"].notna().all()  # by hand: no rule
    by_key = f.evidence.drop_duplicates("eid").set_index("eid")
    assert ids[2] not in by_key.index  # rejected: not counted by the latest run
    assert by_key.loc[ids[3], "audit_status"] == "confirmed"
    assert by_key.loc[ids[0], "audit_status"] == "unreviewed"
    manual = by_key[by_key["manual"].astype(bool)]
    assert list(manual["audit_status"]) == ["added"] and list(manual["url"]) == ["https://www.zj.gov.cn/od"]
    assert manual.index[0].startswith("man_")
    # 杭州's evidence counts for both of its targets
    assert set(f.evidence.loc[f.evidence.eid == ids[0], "target_id"]) == {"capital-330100", "gdp100-330100"}


def test_named_run_campaign_and_evidence_sources(scored, tmp_path):
    db, ids, first, latest = scored
    f = load_run(db, run_id=first, rules=FakeRuleset(small_tree()))
    assert f.run["run_id"] == first and ids[2] in set(f.evidence.eid)  # not yet rejected then
    assert load_run(db, campaign=C, rules=FakeRuleset(small_tree())).run["run_id"] == latest

    # without the run's own snapshot (runs scored before run_evidence): the campaign's evidence table
    copy = tmp_path / "copy.db"
    shutil.copy(db, copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("drop table if exists run_evidence")
    g = load_run(copy, run_id=latest, rules=FakeRuleset(small_tree()))
    assert g.evidence_source == "evidence"
    cols = ["target_id", "leaf_id", "eid", "url", "snippet", "rule_id", "audit_status"]
    same = load_run(db, run_id=latest, rules=FakeRuleset(small_tree())).evidence
    assert sorted(map(tuple, g.evidence[cols].fillna("").values.tolist())) == \
        sorted(map(tuple, same[cols].fillna("").values.tolist()))
    assert sorted(g.evidence.eid) == sorted(_run_eids(db, latest))

    # with a snapshot: its rows are read, not the (since changed) evidence table
    with sqlite3.connect(copy) as conn:
        conn.execute("create table run_evidence (run_id TEXT, eid TEXT, site_id TEXT, leaf_id TEXT, rule_id TEXT, "
                     "rule_version TEXT, url TEXT, snippet TEXT, points REAL, manual INTEGER, status TEXT)")
        conn.executemany("insert into run_evidence values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         [(latest, e, s, leaf, "r", "v", "https://kept/", "as scored", 1, 0, "unreviewed")
                          for e, s, leaf in g.evidence[["eid", "site_id", "leaf_id"]].drop_duplicates().values])
    h = load_run(copy, run_id=latest, rules=FakeRuleset(small_tree()), audit=False)
    assert h.evidence_source == "run_evidence" and len(h.evidence) == len(g.evidence)
    assert set(h.evidence.snippet) == {"as scored"} and set(h.evidence.audit_status) == {"unreviewed"}


def _run_eids(db, run_id):
    _, leaves = _store_counts(db, run_id)
    return [str(e) for _, _, ev in leaves for e in json.loads(ev or "[]")]


def test_read_only_and_errors(scored, tmp_path):
    db, *_ = scored
    before = db.read_bytes()
    load_run(db, rules=FakeRuleset(small_tree()))
    assert db.read_bytes() == before  # no migration, no write
    with pytest.raises(StoreError, match="no store here"):
        load_run(tmp_path / "none.db")
    with pytest.raises(StoreError, match="no run nope"):
        load_run(db, run_id="nope")
