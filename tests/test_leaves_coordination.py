"""Leaves of the 统筹管理 (coordination) and 数字能力 (capability) indices on the simulated web.

One real crawl of 12 simulated portals (Scrapy over HTTP on 127.0.0.1 through the simulated
web's proxy), then ``windvane extract``; the evidence is compared with the truth table and a
per-leaf precision / recall table is printed (``pytest -s`` shows it).
"""

from __future__ import annotations

import pytest

from evidence.store import Store
from simweb.features_coordination import COORDINATION_FEATURES
from tests.conftest import FULL_CAMPAIGN
from windvane.truth import evaluate, format_quality

CAMPAIGN = FULL_CAMPAIGN  # the session-wide full demo campaign (tests/conftest.py)
LEAVES = sorted(f.leaf_id for f in COORDINATION_FEATURES)


@pytest.fixture(scope="module")
def campaign(full_campaign) -> dict:
    """Every site of the full demo campaign (faults on), crawled once per session."""
    return full_campaign


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
