"""Leaves of the 统筹管理 (coordination) and 数字能力 (capability) indices on the simulated web.

One real crawl of 12 simulated portals (Scrapy over HTTP on 127.0.0.1 through the simulated
web's proxy), then ``windvane extract``; the evidence is compared with the truth table and a
per-leaf precision / recall table is printed (``pytest -s`` shows it).
"""

from __future__ import annotations

import pytest

from evidence.registry import DEFAULT_REGISTRY, load_registry
from evidence.store import Store
from simweb.features_coordination import COORDINATION_FEATURES
from tests.conftest import run_cli
from windvane.truth import evaluate, format_quality, load_truth

CAMPAIGN = "coord"
LEAVES = sorted(f.leaf_id for f in COORDINATION_FEATURES)


def pick_sites() -> list[str]:
    """Twelve sites across the three groups, none of them in tests/test_e2e.py's subset."""
    sites = [s.site_id for s in load_registry().sites]
    return sites[5:9] + sites[38:42] + sites[-9:-5]


@pytest.fixture(scope="module")
def campaign(tmp_path_factory) -> dict:
    from simweb.server import SimWebProcess

    tmp = tmp_path_factory.mktemp("coord")
    pick = pick_sites()
    store = tmp / "store.db"
    truth = tmp / "truth.json"
    with SimWebProcess(str(DEFAULT_REGISTRY), seed=2023, truth_path=str(truth), faults="full") as web:
        args = ["crawl", "--proxy", web.proxy_url, "--store", str(store), "--campaign", CAMPAIGN,
                "--as-of", "2023-10-31", "--quiet", "--delay", "0"]
        for s in pick:
            args += ["--site", s]
        run_cli(*args, check=True, timeout=600)
    run_cli("extract", "--store", str(store), check=True)
    return {"store": store, "truth": load_truth(truth), "sites": pick}


def test_every_leaf_is_present_somewhere_in_the_subset(campaign) -> None:
    truth = campaign["truth"]["sites"]
    for leaf in LEAVES:
        assert any(truth[s]["leaves"][leaf]["present"] for s in campaign["sites"]), leaf
        assert any(not truth[s]["leaves"][leaf]["present"] for s in campaign["sites"]), leaf


def test_coordination_and_capability_leaves_match_the_truth(campaign) -> None:
    with Store(campaign["store"]) as st:
        quality = evaluate(st, CAMPAIGN, campaign["truth"], campaign["sites"])
    mine = {k: q for k, q in quality.items() if k in LEAVES}
    assert set(mine) == set(LEAVES)
    print()
    print(format_quality(mine))
    bad = [q for q in mine.values() if q.precision < 0.98 or q.recall < 0.95]
    assert not bad, bad
