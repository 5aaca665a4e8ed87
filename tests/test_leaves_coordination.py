"""Leaves of the 统筹管理 (coordination) and 数字能力 (capability) indices on the simulated web.

Uses the session-wide full demo campaign (tests/conftest.py); precision and recall of every
leaf against the truth are asserted in tests/test_full_campaign.py.
"""

from __future__ import annotations

import pytest

from simweb.features_coordination import COORDINATION_FEATURES
from tests.conftest import FULL_CAMPAIGN

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


