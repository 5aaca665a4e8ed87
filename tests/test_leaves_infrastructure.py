"""Leaves of 强基赋能 (infrastructure), 安全规制 (security) and 应用成效 (effectiveness) on the simulated web.

One real crawl of 12 simulated portals (Scrapy over HTTP on 127.0.0.1 through the simulated
web's proxy), then ``windvane extract``; the evidence is compared with the truth table and a
per-leaf precision / recall table is printed (``pytest -s`` shows it). Run:

    .venv/bin/python -m pytest -q -s tests/test_leaves_infrastructure.py
"""

from __future__ import annotations

import pytest

from evidence.registry import DEFAULT_REGISTRY, load_registry
from evidence.store import Store
from simweb.features import FEATURES  # the registry first: it imports features_infrastructure
from simweb.features_infrastructure import FEATURES_INFRASTRUCTURE
from tests.conftest import ROOT, run_cli
from windvane.truth import evaluate, format_quality, load_truth

CAMPAIGN = "infra"
LEAVES = sorted(f.leaf_id for f in FEATURES_INFRASTRUCTURE if f in FEATURES)
# leaves every simulated portal has (the registry's portals are all https:// on .gov.cn)
ALWAYS = {"https_access", "gov_domain"}


def pick_sites() -> list[str]:
    """Twelve sites across the three groups, none of them in test_e2e's or test_leaves_coordination's subsets."""
    sites = [s.site_id for s in load_registry().sites]
    return sites[10:14] + sites[45:49] + sites[-18:-14]


@pytest.fixture(scope="module")
def campaign(tmp_path_factory) -> dict:
    from simweb.server import SimWebProcess

    tmp = tmp_path_factory.mktemp("infra")
    pick = pick_sites()
    store = tmp / "store.db"
    truth = tmp / "truth.json"
    with SimWebProcess(str(DEFAULT_REGISTRY), seed=2023, truth_path=str(truth)) as web:
        args = ["crawl", "--proxy", web.proxy_url, "--store", str(store), "--campaign", CAMPAIGN,
                "--as-of", "2023-10-31", "--quiet"]
        for s in pick:
            args += ["--site", s]
        run_cli(*args, check=True, timeout=600)
    run_cli("extract", "--store", str(store), check=True)
    run_cli("score", "--store", str(store), "--run", "r1", check=True)
    return {"store": store, "truth": load_truth(truth), "sites": pick}


def test_rules_check_passes() -> None:
    proc = run_cli("rules", "check", check=True)
    assert "ok" in proc.stdout


def test_every_leaf_is_present_somewhere_in_the_subset(campaign) -> None:
    truth = campaign["truth"]["sites"]
    for leaf in LEAVES:
        assert any(truth[s]["leaves"][leaf]["present"] for s in campaign["sites"]), leaf
        if leaf not in ALWAYS:
            assert any(not truth[s]["leaves"][leaf]["present"] for s in campaign["sites"]), leaf


def test_infrastructure_security_effectiveness_leaves_match_the_truth(campaign) -> None:
    with Store(campaign["store"]) as st:
        quality = evaluate(st, CAMPAIGN, campaign["truth"], campaign["sites"])
    mine = {k: q for k, q in quality.items() if k in LEAVES}
    assert set(mine) == set(LEAVES)
    print()
    print(format_quality(mine))
    bad = [q for q in mine.values() if q.precision < 0.98 or q.recall < 0.95 or q.evidence_precision < 0.95]
    assert not bad, bad


def test_graded_leaves_score_what_the_truth_says(campaign) -> None:
    """Leaf points (graded: HTTPS with or without HSTS, fresh or merely recent columns) equal the truth's."""
    from extractors.rules import load_rules

    tree = load_rules(ROOT / "rules").tree
    truth = campaign["truth"]["sites"]
    wrong = []
    with Store(campaign["store"]) as st:
        rows = st.db.query("select t.site_id, s.node_id, s.points from scores s join targets t "
                           "on t.target_id = s.target_id and t.campaign = ? where s.run_id = 'r1' and s.level = 'leaf'",
                           [CAMPAIGN])
        for r in rows:
            if r["site_id"] not in campaign["sites"] or r["node_id"] not in LEAVES:
                continue
            want = truth[r["site_id"]]["leaves"][r["node_id"]]["points_share"] * tree.nodes[r["node_id"]].points
            if abs(want - r["points"]) > 1e-9:
                wrong.append((r["site_id"], r["node_id"], r["points"], want))
    assert not wrong, wrong
