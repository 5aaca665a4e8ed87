"""Leaves added in issue 3, batch C: 留言答复时效, 404错误页面, 政府信息公开指南, on the simulated web.

Uses the session-wide full demo campaign (tests/conftest.py): on a subset with every variant,
the evidence the pipeline extracted against the truth site by site (tests/leaf_checks.py), and
the graded points.
"""

from __future__ import annotations

from datetime import date

import pytest

from evidence.store import Store
from simweb.features import FEATURES  # the registry first: it imports features_extra
from simweb.features_extra import FEATURES_EXTRA
from tests.conftest import FULL_CAMPAIGN, ROOT
from tests.leaf_checks import assessed, check_leaves

CAMPAIGN = FULL_CAMPAIGN  # the session-wide full demo campaign (tests/conftest.py)
LEAVES = sorted(f.leaf_id for f in FEATURES_EXTRA if f in FEATURES)
# every variant of the three leaves (fast / half / slow / backlog / status-only / none replies;
# helpful / bare / soft-200 / redirect 404s; guide page / document / none) and all three template
# families, none of them in the other leaf tests' or test_e2e's subsets
SITES = ["320000", "410000", "450000", "530000", "370000", "440000", "500000", "520000", "620000", "650000",
         "510100", "320600"]


@pytest.fixture(scope="module")
def campaign(full_campaign) -> dict:
    """Every site of the full demo campaign (faults on), crawled once per session."""
    return full_campaign


def test_every_leaf_is_found_exactly_where_the_truth_has_it_in_the_subset(campaign) -> None:
    """On the chosen sites (every variant of the three leaves), what the pipeline extracted agrees with
    the truth site by site: found where present (and on the truth's pages), nothing where absent."""
    truth = campaign["truth"]
    sites = assessed(truth, SITES)
    assert sites == SITES  # none of them is blocked or unreachable by design
    for leaf in LEAVES:  # the subset has both sides of every leaf, and the full-points variant
        assert any(truth["sites"][s]["leaves"][leaf]["points_share"] == 1.0 for s in SITES), leaf
    checks = check_leaves(campaign["store"], CAMPAIGN, truth, SITES, LEAVES)
    wrong = {leaf: (c.missed, c.found_absent) for leaf, c in checks.items() if c.missed or c.found_absent}
    assert not wrong, wrong
    for leaf, c in checks.items():
        assert c.found_present and c.quiet_absent, leaf
        assert c.rows == c.rows_on_truth_pages, (leaf, c.rows_on_truth_pages, c.rows)
        assert not c.trap_pages_with_evidence, (leaf, c.trap_pages_with_evidence)


def test_graded_leaves_score_what_the_truth_says(campaign) -> None:
    """Leaf points (reply time: full / half; 404: helpful / bare) equal the truth's share of the leaf's points."""
    from extractors.rules import load_rules

    tree = load_rules(ROOT / "rules").tree
    truth = campaign["truth"]["sites"]
    wrong, seen = [], set()
    with Store(campaign["store"]) as st:
        rows = st.db.query("select t.site_id, s.node_id, s.points from scores s join targets t "
                           "on t.target_id = s.target_id and t.campaign = ? where s.run_id = 'r1' and s.level = 'leaf'",
                           [CAMPAIGN])
        for r in rows:
            if r["site_id"] not in SITES or r["node_id"] not in LEAVES:
                continue
            seen.add((r["site_id"], r["node_id"]))
            want = truth[r["site_id"]]["leaves"][r["node_id"]]["points_share"] * tree.nodes[r["node_id"]].points
            if abs(want - r["points"]) > 1e-9:
                wrong.append((r["site_id"], r["node_id"], r["points"], want))
    assert len(seen) == len(SITES) * len(LEAVES)
    assert not wrong, wrong


def test_soft_404_sites_still_404_on_linked_dead_links(campaign) -> None:
    """A soft-404 site answers unlinked paths with 200 / 302, but the broken links it has keep their 404."""
    truth = campaign["truth"]["sites"]
    with Store(campaign["store"]) as st:
        for s in SITES:
            how = truth[s]["leaves"]["error_page"]["how"]
            probe = st.conn.execute("select status, final_url from pages where campaign=? and site_id=? and kind='probe' "
                                    "and url like '%windvane-404-check%'", [CAMPAIGN, s]).fetchone()
            assert probe is not None, s
            assert probe[0] == (200 if how[0] in ("soft200", "redirect") else 404), (s, how, probe[0])
            if how[0] == "redirect":
                assert probe[1] == f"https://{truth[s]['host']}/"
            dead = st.conn.execute("select count(*) from pages where campaign=? and site_id=? and kind!='probe' "
                                   "and status=404", [CAMPAIGN, s]).fetchone()[0]
            assert dead >= 1, s  # every portal links to a few dead pages (simweb.generate._faults)


# --- without a crawl --------------------------------------------------------------------------
def test_probe_path_convention_agrees_with_the_crawler() -> None:
    from crawlers.probes import not_found_path
    from simweb.features_extra import probe_path

    for host in ("www.hangzhou.gov.cn", "www.beijing.gov.cn"):
        assert probe_path(host) == not_found_path(host)


def test_reply_times_pool_detail_pages_and_count_overdue_messages() -> None:
    """Messages are pooled over a site's pages, once each; a backlog of overdue ones sinks the median."""
    from extractors.engine import Context, parse_html
    from extractors.rules import load_rules
    from extractors.site_rules import run_site_rule

    rs = load_rules(ROOT / "rules")
    fast = rs.rule("message_reply_timeliness.fast")
    ctx = Context(date(2023, 10, 31))
    lst = parse_html("<html><head><title>来信选登</title></head><body><div>信件标题 办理状态 来信时间</div><ul>"
                     "<li><a href='/m1.html'>关于停车难的问题</a>[已回复] 2023-09-01</li>"
                     "<li><a href='/m2.html'>关于噪音的问题</a>[已回复] 2023-08-01</li>"
                     "<li><a href='/m3.html'>关于电梯的问题</a>[已回复] 2023-07-03</li>"
                     "<li>关于路灯的问题 [办理中] 2023-10-20</li></ul></body></html>", "https://www.a.gov.cn/xjgk.html")
    details = [parse_html(f"<html><head><title>信件</title></head><body><p>来信时间：{a}</p><p>受理时间：{a}</p>"
                          f"<p>答复时间：{b}</p></body></html>", f"https://www.a.gov.cn/m{n}.html")
               for n, (a, b) in enumerate([("2023-09-01", "2023-09-04"), ("2023-08-01", "2023-08-03"),
                                           ("2023-07-03", "2023-07-05")], 1)]
    pages = [lst, *details, details[0]]  # a detail page stored twice (two URLs) counts once
    recs = [fast.matcher.collect(p, ctx, i) for i, p in enumerate(pages)]
    found = run_site_rule(fast, recs, ctx)
    assert {f.page_id for f in found} == {1, 2, 3, 4}  # the list carries no counted message
    assert found[0].values["messages"] == 3 and found[0].values["median_days"] == 2
    backlog = parse_html("<html><body><div>信件标题 状态 来信时间</div><ul>"
                         + "".join(f"<li>第{n}件 [未回复] 2023-0{n}-02</li>" for n in range(1, 6))
                         + "</ul></body></html>", "https://www.a.gov.cn/xjgk2.html")
    recs.append(fast.matcher.collect(backlog, ctx, 9))
    assert run_site_rule(fast, recs, ctx) == []  # 3 answered in days, 5 unanswered for months
