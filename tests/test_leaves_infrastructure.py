"""Leaves of 强基赋能 (infrastructure), 安全规制 (security) and 应用成效 (effectiveness) on the simulated web.

Uses the session-wide full demo campaign (tests/conftest.py): the evidence the pipeline
extracted for these leaves against the truth (tests/leaf_checks.py), and their graded points.
"""

from __future__ import annotations

import pytest

from evidence.store import Store
from simweb.features import FEATURES  # the registry first: it imports features_infrastructure
from simweb.features_infrastructure import FEATURES_INFRASTRUCTURE
from tests.conftest import FULL_CAMPAIGN, ROOT, run_cli
from tests.leaf_checks import assessed, check_leaves

CAMPAIGN = FULL_CAMPAIGN  # the session-wide full demo campaign (tests/conftest.py)
LEAVES = sorted(f.leaf_id for f in FEATURES_INFRASTRUCTURE if f in FEATURES)
# a leaf every simulated portal has (the registry's portals are all on .gov.cn); https_access is not
# met on the portals with an expired, self-signed or wrong-host certificate (faults=full)
ALWAYS = {"gov_domain"}


@pytest.fixture(scope="module")
def campaign(full_campaign) -> dict:
    """Every site of the full demo campaign (faults on), crawled once per session."""
    return full_campaign


def test_rules_check_passes() -> None:
    proc = run_cli("rules", "check", check=True)
    assert "ok" in proc.stdout


def test_every_leaf_is_found_where_the_truth_has_it_and_nowhere_else(campaign) -> None:
    """What the pipeline extracted (evidence worth points) against the truth, for this group's leaves:
    found on the sites that have it, not on the sites that do not (each side non-empty, but for the
    leaves every portal has), on the truth's pages, and not on the decoys built to look like the leaf
    (for https_access: the home pages of hosts whose certificate fails verification)."""
    truth = campaign["truth"]
    sites = assessed(truth, campaign["sites"])
    checks = check_leaves(campaign["store"], CAMPAIGN, truth, sites, LEAVES)
    problems = [p for leaf, c in checks.items() for p in c.problems(always_present=leaf in ALWAYS)]
    assert not problems, "\n".join(problems)
    tls_sites = [s for s in sites if any(f.startswith("tls_") for f in truth["sites"][s]["faults"])]
    assert tls_sites and set(tls_sites) <= set(checks["https_access"].quiet_absent), tls_sites


def test_graded_leaves_score_what_the_truth_says(campaign) -> None:
    """Leaf points (graded: HTTPS with or without HSTS, fresh or merely recent columns) equal the truth's."""
    from extractors.rules import load_rules

    tree = load_rules(ROOT / "rules").tree
    truth = campaign["truth"]["sites"]
    sites = set(assessed(campaign["truth"], campaign["sites"]))  # blocked / unreachable by design: not scored
    wrong, seen = [], set()
    with Store(campaign["store"]) as st:
        rows = st.db.query("select t.site_id, s.node_id, s.points from scores s join targets t "
                           "on t.target_id = s.target_id and t.campaign = ? where s.run_id = 'r1' and s.level = 'leaf'",
                           [CAMPAIGN])
        for r in rows:
            if r["site_id"] not in sites or r["node_id"] not in LEAVES:
                continue
            seen.add(r["site_id"])
            want = truth[r["site_id"]]["leaves"][r["node_id"]]["points_share"] * tree.nodes[r["node_id"]].points
            if r["points"] is None or abs(want - r["points"]) > 1e-9:
                wrong.append((r["site_id"], r["node_id"], r["points"], want))
    assert seen == sites
    assert not wrong, wrong


# --- the rule language additions, without a crawl ------------------------------------------------
def _leaf(tmp_path, match: str) -> str:
    """A rules folder with one leaf whose only rule has ``match``; returns the RuleError text or ''."""
    import shutil

    from extractors.rules import RuleError, load_rules

    (tmp_path / "leaves").mkdir()
    shutil.copy(ROOT / "rules" / "tree.yaml", tmp_path / "tree.yaml")
    shutil.copy(ROOT / "rules" / "schema.json", tmp_path / "schema.json")
    (tmp_path / "leaves" / "x.yaml").write_text(
        "id: x\nname_zh: x\nname_en: x\nparent: security_site\npoints: 1\ngroups: [province]\n"
        "description: x\nrules:\n  - id: x.a\n    description: x\n    points: 1\n    match:\n"
        + "".join(f"      {line}\n" for line in match.splitlines())
        + "    examples: {match: ['<p>x</p>'], no_match: ['<p>y</p>']}\n", encoding="utf-8")
    try:
        load_rules(tmp_path)
    except RuleError as e:
        return str(e)
    return ""


def test_bad_css_selector_and_page_kind_are_reported_with_file_and_line(tmp_path) -> None:
    err = _leaf(tmp_path, "css: {selector: 'a[[['}")
    assert "x.yaml:13" in err and "CSS selector" in err
    (tmp_path / "leaves" / "x.yaml").unlink()
    (tmp_path / "leaves").rmdir()
    err = _leaf(tmp_path, "page: {kind: homepage}")
    assert "x.yaml:13" in err


def test_site_aggregates_over_several_pages() -> None:
    """Link health and freshness judged over a site of several pages, failed ones included."""
    from datetime import date

    from extractors.engine import Context, PageDoc, parse_html
    from extractors.rules import load_rules
    from extractors.site_rules import run_site_rule

    rs = load_rules(ROOT / "rules")
    health = rs.rule("link_health.broken_share")
    home = parse_html("<html><head><title>首页</title></head><body>x</body></html>", "https://www.a.gov.cn/")
    home.info = {"status": 200, "depth": 0}
    ctx = Context(date(2023, 10, 31))
    pages = [home]
    for n in range(19):
        p = parse_html("<html><head><title>新闻</title></head><body><h1>新闻</h1></body></html>",
                       f"https://www.a.gov.cn/art/{n}.html")
        p.info = {"status": 200, "depth": 1}
        pages.append(p)
    ok = [health.matcher.collect(p, ctx, i) for i, p in enumerate(pages)]
    assert [f.page_id for f in run_site_rule(health, ok, ctx)] == [0]
    dead = PageDoc("https://www.a.gov.cn/old.html", "", "", [], [])
    dead.info = {"status": 404, "depth": 1}
    bad = ok + [health.matcher.collect(dead, ctx, 99), health.matcher.collect(dead, ctx, 98)]
    assert run_site_rule(health, bad, ctx) == []  # 2 of 22 pages broken: 9% > 5%

    fresh = rs.rule("column_freshness.fresh")
    rows = "".join(f'<li><a href="/art/{d}.html">我市召开第{d}次工作推进会议</a><span>2023-{d}</span></li>'
                   for d in ("10-02", "09-30", "09-21", "09-11", "09-01"))
    news = parse_html(f"<html><head><title>今日要闻_某市</title></head><body><ul>{rows}</ul></body></html>",
                      "https://www.a.gov.cn/col/col1/index.html")
    notice_rows = rows.replace("10-02", "10-25")
    notices = parse_html(f"<html><head><title>通知公告_某市</title></head><body><ul>{notice_rows}</ul></body></html>",
                         "https://www.a.gov.cn/col/col2/index.html")
    found = run_site_rule(fresh, [fresh.matcher.collect(news, ctx, 1), fresh.matcher.collect(notices, ctx, 2)], ctx)
    assert [(f.page_id, f.values["newest"], f.values["age_days"]) for f in found] == [(2, "2023-10-25", 6)]
