"""Leaves of the 统筹管理 (coordination) and 数字能力 (capability) indices on the simulated web.

Uses the session-wide full demo campaign (tests/conftest.py): the evidence the pipeline
extracted for this group's leaves, site by site and page by page, against the truth
(tests/leaf_checks.py).
"""

from __future__ import annotations

import pytest

from simweb.features_coordination import COORDINATION_FEATURES
from tests.conftest import FULL_CAMPAIGN
from tests.leaf_checks import assessed, check_leaves

CAMPAIGN = FULL_CAMPAIGN  # the session-wide full demo campaign (tests/conftest.py)
LEAVES = sorted(f.leaf_id for f in COORDINATION_FEATURES)


@pytest.fixture(scope="module")
def campaign(full_campaign) -> dict:
    """Every site of the full demo campaign (faults on), crawled once per session."""
    return full_campaign


def test_every_leaf_is_found_where_the_truth_has_it_and_nowhere_else(campaign) -> None:
    """What the pipeline extracted (evidence worth points) against the truth, for this group's leaves:
    found on the sites that have it, not on the sites that do not (each side non-empty), on the
    truth's pages, and not on the decoys built to look like the leaf."""
    truth = campaign["truth"]
    sites = assessed(truth, campaign["sites"])
    checks = check_leaves(campaign["store"], CAMPAIGN, truth, sites, LEAVES)
    problems = [p for c in checks.values() for p in c.problems()]
    assert not problems, "\n".join(problems)
