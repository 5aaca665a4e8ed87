"""The whole demo campaign against the simulated web's truth: every leaf, every target.

One session-wide crawl of all 132 sites with every fault on (script-built menus, cookie
challenges, attachment-only regulations, charset faults, oversized and stalling pages;
tests/conftest.py ``full_campaign``), then extract and score. The table printed here is
the per-indicator precision and recall of the evidence against the truth.
"""

from __future__ import annotations

from evidence.store import Store
from tests.conftest import ROOT
from windvane.truth import evaluate, format_quality, score_agreement


def test_every_leaf_against_the_truth(full_campaign) -> None:
    from extractors.rules import load_rules

    leaves = {leaf.id for leaf in load_rules(ROOT / "rules").tree.leaves}
    with Store(full_campaign["store"]) as st:
        quality = evaluate(st, full_campaign["campaign"], full_campaign["truth"])
    print()
    print(format_quality(quality))
    assert set(quality) == leaves, "every leaf of rules/ has truth in the simulated web"
    bad = [q for q in quality.values()
           if q.precision < 0.98 or q.recall < 0.95 or q.evidence_precision < 0.98]
    assert not bad, bad


def test_scores_equal_the_truth_for_98_percent_of_targets(full_campaign) -> None:
    from extractors.rules import load_rules

    tree = load_rules(ROOT / "rules").tree
    with Store(full_campaign["store"]) as st:
        agree, total, wrong = score_agreement(st, "r1", full_campaign["truth"], tree)
    print(f"\ntargets whose leaf points equal the truth's: {agree}/{total} {wrong}")
    assert total == 164
    assert agree / total >= 0.98, wrong


def test_the_browser_was_needed_for_a_minority_of_pages(full_campaign) -> None:
    with Store(full_campaign["store"]) as st:
        browser, total = st.conn.execute(
            "select sum(via = 'browser'), count(*) from pages where campaign = ?",
            [full_campaign["campaign"]]).fetchone()
        sites = st.conn.execute("select status, count(*) from sites where campaign = ? group by 1",
                                [full_campaign["campaign"]]).fetchall()
    print(f"\npages {total}, via browser {browser} ({browser / total:.1%}); sites {sites}")
    assert 0 < browser < 0.05 * total
    assert dict(sites) == {"done": 132}
