"""Blocked, unreachable and uncrawled sites are not assessed, never scored zero; partial sites are
flagged; site-level rules need a 2xx portal home page and enough pages.

One real crawl of 16 sites of the simulated web (Scrapy through ``SimWebProcess``, as in
tests/test_e2e.py) into a real store; then the real ``windvane extract``, ``score``, ``report``
and ``diff`` commands. The crawler's site statuses (blocked, unreachable, partial) and its
coverage JSON are set here by SQL: this module tests the scoring and report side and the gate
of site-level rules on what the crawler writes (docs/store.md); the crawler's own detection of
blocks is tested with the crawler. The 116 registry sites not crawled here are "not crawled"
(status NULL) and so not assessed as well.
"""

from __future__ import annotations

import csv
import json
import math
import re
from datetime import UTC, datetime

import openpyxl
import pandas as pd
import pytest
from scipy import stats as sps

from evidence.registry import DEFAULT_REGISTRY, GROUP_NAMES_ZH, load_registry
from evidence.store import Store
from evidence.warc import WarcArchive
from tests.conftest import ROOT, run_cli

C = "c2023"
PREV = "c2022"
# the role of a site here -> the site preferred for it; a site the simulated web's own access
# faults keep from a full crawl is replaced by another fully crawled site (the fixture says which)
ROLE = {
    "blocked": "130000",       # 河北省 (province): a WAF answered 403
    "unreachable": "130100",   # 石家庄市 (capital): DNS failed
    "partial_403": "150100",   # 呼和浩特市 (capital): partial crawl, the portal home page answered 403
    "captcha": "140000",       # 山西省 (province): the only page is a CAPTCHA page served with 200
    "prev_blocked": "371000",  # 威海市 (GDP-100): assessed now, blocked in the previous campaign
}


def _gated_leaves() -> set[str]:
    """Leaves with a site-level rule (a site aggregate, a rule on HTTP facts or probes): held back, with a
    reason, when the portal home page failed or too few pages answered (extractors/run.py)."""
    from extractors.rules import load_rules
    from extractors.run import _judges_probes
    from extractors.site_rules import is_site_rule
    rules = load_rules(ROOT / "rules").rules
    return {r.leaf_id for r in rules if is_site_rule(r) or _judges_probes(r.matcher)}


GATED_LEAVES = _gated_leaves()
# the portal's own site-level leaves are among them, whatever the platform leaves add
assert {"link_health", "column_freshness", "policy_validity_labels", "message_reply_timeliness", "https_access",
        "gov_domain", "error_page"} <= GATED_LEAVES
CAPTCHA_HTML = ("<html><head><title>安全验证</title></head><body><div class=\"verify\"><p>访问过于频繁，"
                "请输入验证码后继续访问</p><img src=\"/verify/captcha.jpg\" alt=\"验证码\"><form action=\"/verify\">"
                "<input name=\"code\"><button>提交</button></form></div></body></html>")
MUNICIPALITIES = {"310000", "110000", "120000", "500000"}  # excluded from GDP-100 mean/SD, Z, 推进率


def _sites() -> list[str]:
    sites = [s.site_id for s in load_registry().sites]
    pick = sites[:6] + sites[32:37] + sites[-5:]
    assert set(ROLE.values()) <= set(pick)
    return pick


def _choose_roles(st: Store, pick: list[str]) -> None:
    """Keep each role's preferred site if it was crawled in full (>= 20 HTML pages answered 200),
    else take another fully crawled site of the same groups, else any fully crawled one."""
    full = {r[0] for r in st.conn.execute(
        "select site_id from pages where campaign = ? and kind = 'html' and status = 200 group by site_id "
        "having count(*) >= 20", [C])}
    groups = {s.site_id: {t.group for t in s.targets} for s in load_registry().sites}
    used: set[str] = set()
    for role, site in ROLE.items():
        if site not in full:
            spare = [s for s in pick if s in full and s not in used and s not in ROLE.values()]
            same = [s for s in spare if groups[s] == groups[site]]
            assert spare, f"no fully crawled site left for the role {role}"
            print(f"role {role}: {site} was not crawled in full; {(same or spare)[0]} takes its place")
            ROLE[role] = site = (same or spare)[0]
        used.add(site)


def _csv(path) -> list[dict]:
    with open(path, encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def _f(v: str) -> float:
    return float(v) if v not in ("", None) else math.nan


def _make_captcha_only(st: Store, site_id: str) -> None:
    """Leave the site with one stored HTML page: its portal URL answering a CAPTCHA page with 200
    (archived in the WARC as the crawler would); the probes stay."""
    portal = st.conn.execute("select portal_url from sites where campaign = ? and site_id = ?",
                             [C, site_id]).fetchone()[0]
    st.conn.execute("delete from pages where campaign = ? and site_id = ? and coalesce(kind, 'html') != 'probe' "
                    "and url != ?", [C, site_id, portal])
    st.conn.execute("delete from failures where campaign = ? and site_id = ?", [C, site_id])
    warc = WarcArchive(st.campaign_dir(C) / "warc", C, writer_id="captcha")
    body = CAPTCHA_HTML.encode("utf-8")
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ref = warc.write_response(portal, 200, "OK", [("Content-Type", "text/html; charset=utf-8")], body, at)
    warc.close()
    st.conn.execute(
        "update pages set final_url = ?, status = 200, headers = ?, sha256 = ?, content_type = 'text/html', "
        "encoding = 'utf-8', title = '安全验证', text = '访问过于频繁，请输入验证码后继续访问', size = ?, depth = 0, "
        "kind = 'html', via = 'http', warc_file = ?, warc_offset = ?, warc_length = ?, rendered_warc_offset = NULL "
        "where campaign = ? and url = ?",
        [portal, json.dumps({"Content-Type": "text/html; charset=utf-8"}), ref.sha256, len(body), ref.file,
         ref.offset, ref.length, C, portal])
    n = st.conn.execute("select count(*) from pages where campaign = ? and site_id = ? and kind = 'html'",
                        [C, site_id]).fetchone()[0]
    assert n == 1
    st.conn.commit()


def _set_site(st: Store, campaign: str, site_id: str, status: str, error: str | None,
              coverage: dict | None = None) -> None:
    st.conn.execute("update sites set status = ?, error = ? where campaign = ? and site_id = ?",
                    [status, error, campaign, site_id])
    if coverage is not None:
        st.conn.execute("update sites set coverage = ? where campaign = ? and site_id = ?",
                        [json.dumps(coverage), campaign, site_id])
    st.conn.commit()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from simweb.server import SimWebProcess

    tmp = tmp_path_factory.mktemp("not_assessed")
    store = tmp / "store.db"
    pick = _sites()
    with SimWebProcess(str(DEFAULT_REGISTRY), seed=2023, truth_path=str(tmp / "truth.json"), faults="full") as web:
        args = ["crawl", "--proxy", web.proxy_url, "--store", str(store), "--campaign", C,
                "--as-of", "2023-10-31", "--quiet", "--delay", "0"]
        for s in pick:
            args += ["--site", s]
        run_cli(*args, check=True, timeout=900)
    common = ["--store", str(store), "--campaign", C]
    with Store(store) as st:
        # the sites given a role here were crawled in full (their status is set below)
        _choose_roles(st, pick)
        for site in ROLE.values():
            _set_site(st, C, site, "done", None)
    run_cli("extract", *common, check=True, timeout=900)
    run_cli("score", *common, "--run", "before", check=True)

    # what the crawler writes for sites it could not (fully) crawl; the lead's migration adds
    # sites.coverage — added here when this store predates it
    with Store(store) as st:
        if "coverage" not in {r[1] for r in st.conn.execute("PRAGMA table_info(sites)")}:
            st.conn.execute("alter table sites add column coverage TEXT")
        _set_site(st, C, ROLE["blocked"], "blocked", "portal answered 403 with a WAF block page",
                  {"pages": 3, "failures": {"http_4xx": 2, "blocked": 1}, "blocked": 3, "robots_disallowed": 0,
                   "budget_reached": False, "seconds": 4.5, "rate_limited": 0})
        _set_site(st, C, ROLE["unreachable"], "unreachable", "DNS lookup failed (host not found)")
        _set_site(st, C, ROLE["partial_403"], "partial", "62% of the requested pages failed or were refused",
                  {"pages": 40, "failures": {"http_5xx": 50, "timeout": 15}, "blocked": 0, "robots_disallowed": 2,
                   "budget_reached": False, "seconds": 33.0, "rate_limited": 4})
        st.conn.execute("update pages set status = 403 where campaign = ? and site_id = ? and depth = 0 "
                        "and coalesce(kind, 'html') = 'html'", [C, ROLE["partial_403"]])
        st.conn.commit()
        _make_captcha_only(st, ROLE["captcha"])

        # the previous campaign: the same registry and evidence, minus the 12345 leaf; one site blocked
        st.open_campaign(PREV, st.registry(C))
        st.conn.execute("update sites set status = 'done' where campaign = ?", [PREV])
        st.conn.execute(
            "insert into evidence (campaign, site_id, leaf_id, rule_id, rule_version, page_id, url, snippet, "
            "start, \"end\", \"values\", points, extracted_at) select ?, site_id, leaf_id, rule_id, rule_version, "
            "page_id, url, snippet, start, \"end\", \"values\", points, extracted_at from evidence "
            "where campaign = ? and leaf_id != 'hotline_12345'", [PREV, C])
        st.conn.commit()
        _set_site(st, PREV, ROLE["prev_blocked"], "blocked", "every page answered 429")
        from extractors.rules import load_rules
        from scoring.run import score
        score(st, PREV, load_rules(ROOT / "rules"), run_id="p2022")

    extract = run_cli("extract", *common, check=True, timeout=900)
    run_cli("score", *common, "--run", "after", check=True)
    out = tmp / "report"
    report = run_cli("report", "--store", str(store), "--run", "after", "--out", str(out), check=True)
    diff = run_cli("diff", "before", "after", "--store", str(store), check=True)
    targets = {t.target_id: t for t in load_registry().targets}
    with Store(store) as st:
        status = {r[0]: r[1] for r in st.conn.execute("select site_id, status from sites where campaign = ?", [C])}
        html = dict(st.conn.execute("select site_id, count(*) from pages where campaign = ? and kind = 'html' "
                                    "and status = 200 group by 1", [C]).fetchall())
    # the other crawled sites keep the crawler's own verdict; healthy = done with a real crawl
    healthy = {s for s in pick if status.get(s) == "done" and html.get(s, 0) >= 20} - {ROLE["captcha"],
                                                                                        ROLE["partial_403"]}
    return {"store": store, "out": out, "extract": extract.stdout, "report": report.stdout, "diff": diff.stdout,
            "pick": pick, "targets": targets, "status": status, "healthy": healthy}


def _targets_of(world, site_id: str) -> list[str]:
    return [t for t, v in world["targets"].items() if v.site_id == site_id]


def _not_assessed_ids(world) -> set[str]:
    """Targets whose site is blocked, unreachable or not crawled (old 'failed' = unreachable)."""
    return {t for t, v in world["targets"].items() if world["status"].get(v.site_id) not in ("done", "partial")}


def test_not_assessed_targets_have_no_total_rank_tier_or_statistic(world):
    rows = _csv(world["out"] / "targets.csv")
    assert len(rows) == 164
    by_id = {r["target_id"]: r for r in rows}
    missing = _not_assessed_ids(world)
    assert len(missing) > 100  # the 116 sites not crawled here, the blocked one and the unreachable one
    for tid in missing:
        r = by_id[tid]
        for col in ("total_points", "score_rate", "score_100", "rank", "tier", "z_score", "phi_z", "progress"):
            assert r[col] == "", (tid, col, r[col])
        assert r["assessed"] == "False"
    for tid in _targets_of(world, ROLE["blocked"]):
        assert by_id[tid]["site_status"] == "blocked"
        assert by_id[tid]["site_reason"] == "portal answered 403 with a WAF block page"
    for tid in _targets_of(world, ROLE["unreachable"]):
        assert by_id[tid]["site_status"] == "unreachable"
        assert "DNS" in by_id[tid]["site_reason"]
    uncrawled = next(t for t, v in world["targets"].items() if v.site_id not in world["pick"])
    assert by_id[uncrawled]["site_status"] == "not crawled" and by_id[uncrawled]["site_reason"] == "not crawled"
    # the assessed ones all have a total and a rank among the assessed of their group only
    for group in ("province", "capital", "gdp100"):
        ok = [r for r in rows if r["group"] == group and r["assessed"] == "True"]
        assert len(ok) >= 4, group
        assert all(r["total_points"] != "" and r["rank"] != "" and r["tier"] != "" for r in ok)
        assert max(int(r["rank"]) for r in ok) <= len(ok)
        assert min(int(r["rank"]) for r in ok) == 1
    # listed first: every not-assessed row precedes every assessed row
    flags = [r["assessed"] for r in rows]
    assert flags == sorted(flags, key=lambda f: f == "True")
    assert flags[0] == "False"
    # the blocked target had evidence and a score before the status changed: it is not a zero
    with Store(world["store"]) as st:
        before = {r["target_id"]: r["points"] for r in st.db.query(
            "select target_id, points from scores where run_id = 'before' and node_id = 'total'")}
        after = {r["target_id"]: r for r in st.db.query(
            "select target_id, points, rank, rate from scores where run_id = 'after' and level != 'leaf'")}
        leaf_after = list(st.db.query(
            "select points from scores where run_id = 'after' and level = 'leaf' and target_id = ?",
            [_targets_of(world, ROLE["blocked"])[0]]))
    assert before[_targets_of(world, ROLE["blocked"])[0]] > 0
    assert after[_targets_of(world, ROLE["blocked"])[0]]["points"] is None
    assert leaf_after and all(r["points"] is None for r in leaf_after)


def test_statistics_use_the_assessed_targets_only(world):
    rows = _csv(world["out"] / "targets.csv")
    wb = openpyxl.load_workbook(world["out"] / "report.xlsx", read_only=True)
    disp = {r[0]: r for r in wb["均值与标准差"].iter_rows(min_row=2, values_only=True)}
    header = [c for c in next(wb["均值与标准差"].iter_rows(max_row=1, values_only=True))]
    rates_sheet = list(wb["平均得分率"].iter_rows(values_only=True))
    html = (world["out"] / "report.html").read_text(encoding="utf-8")
    index_ids = [c[:-5] for c in rows[0] if c.endswith("_rate") and c != "score_rate"]
    for group in ("province", "capital", "gdp100"):
        ok = [r for r in rows if r["group"] == group and r["assessed"] == "True"]
        # mean / SD (municipalities are excluded from the GDP-100 statistics by config)
        inc = [r for r in ok if not (group == "gdp100" and r["admin_code"] in MUNICIPALITIES)]
        x = pd.Series([_f(r["score_100"]) for r in inc])
        mean, sd = float(x.mean()), float(x.std(ddof=1))
        row = dict(zip(header, disp[GROUP_NAMES_ZH[group]], strict=True))
        assert row["n"] == len(inc)
        assert row["mean"] == pytest.approx(mean)
        assert row["sd"] == pytest.approx(sd)
        assert row["n_beyond_threshold"] == int(((x - mean).abs() > 5).sum())
        # Z-scores from that mean and SD
        for r in inc:
            assert _f(r["z_score"]) == pytest.approx((_f(r["score_100"]) - mean) / sd), r["target_id"]
        # Spearman of GDP rank and total rank over the assessed targets, as printed in the report
        pairs = [(_f(r["gdp_rank"]), _f(r["rank"])) for r in ok if r["gdp_rank"] != ""]
        rho = sps.spearmanr([a for a, _ in pairs], [b for _, b in pairs]).statistic
        m = re.search(rf"<tr><td>{GROUP_NAMES_ZH[group]}</td><td class=\"n\">([^<]+)</td><td class=\"n\">[^<]*</td>"
                      rf"<td class=\"n\">(\d+)</td></tr>", html)
        assert m, group
        assert int(m.group(2)) == len(pairs)
        if math.isnan(rho):
            assert m.group(1) == "–"
        else:
            assert float(m.group(1)) == pytest.approx(rho, abs=1e-4)
        # radar: mean index score rate over the assessed targets
        sheet_row = next(r for r in rates_sheet if r[0] == GROUP_NAMES_ZH[group])
        for k, i in enumerate(index_ids, start=1):
            assert sheet_row[k] == pytest.approx(pd.Series([_f(r[f"{i}_rate"]) for r in ok]).mean()), (group, i)
        # tiers: equal intervals of the assessed scores only; tier 1 holds the best assessed score
        best = max(ok, key=lambda r: _f(r["score_100"]))
        assert best["tier"] == "1" and best["rank"] == "1"


def test_progress_skips_targets_not_assessed_in_either_campaign(world):
    from evidence.store import Store as S
    from scoring.run import load_results

    rows = {r["target_id"]: r for r in _csv(world["out"] / "targets.csv")}
    with S(world["store"]) as st:
        prev = load_results(st, "p2022").set_index("target_id")
    html = (world["out"] / "report.html").read_text(encoding="utf-8")
    assert "推进率 against run p2022" in html
    checked = 0
    for tid, r in rows.items():
        if r["assessed"] != "True" or (r["group"] == "gdp100" and r["admin_code"] in MUNICIPALITIES):
            assert r["progress"] == "", tid
            continue
        if world["targets"][tid].site_id == ROLE["prev_blocked"]:  # not assessed last time: no previous score
            assert not prev.loc[tid, "assessed"]
            assert r["progress"] == "", tid
            continue
        p = prev.loc[tid, "score_100"]
        expected = (_f(r["score_100"]) - p) / p if p else math.nan
        if math.isnan(expected):
            assert r["progress"] == ""
        else:
            assert _f(r["progress"]) == pytest.approx(expected), tid
            checked += 1
    assert checked >= 6


def test_partial_is_scored_and_flagged(world):
    rows = {r["target_id"]: r for r in _csv(world["out"] / "targets.csv")}
    html = (world["out"] / "report.html").read_text(encoding="utf-8")
    for tid in _targets_of(world, ROLE["partial_403"]):
        r = rows[tid]
        assert r["site_status"] == "partial" and r["partial"] == "True" and r["assessed"] == "True"
        assert r["total_points"] != "" and r["rank"] != ""
        assert "62% of the requested pages failed" in r["site_reason"]
        name = world["targets"][tid].name_zh
        assert re.search(rf"{name}</a> <span class=\"partial\"[^>]*>partial</span>", html), name


def test_report_lists_not_assessed_first_with_reasons(world):
    html = (world["out"] / "report.html").read_text(encoding="utf-8")
    section = html.index('id="not-assessed-table"')
    assert section < html.index('<h2 id="method">') < html.index('<h2 id="results">')
    table = html[section:html.index("</table>", section)]
    for site, reason in ((ROLE["blocked"], "portal answered 403 with a WAF block page"),
                         (ROLE["unreachable"], "DNS lookup failed (host not found)")):
        for tid in _targets_of(world, site):
            assert tid in table
        assert reason in table
    assert "not crawled" in table
    # in each group table the not-assessed rows come before rank 1
    blocked = world["targets"][_targets_of(world, ROLE["blocked"])[0]]
    results = html[html.index('<h2 id="results">'):html.index('<h2 id="leaders">')]
    start = results.index(f"<h3>{GROUP_NAMES_ZH[blocked.group]} (")
    prov = results[start:results.index("</table>", start)]
    name_blocked = blocked.name_zh
    assert prov.index(name_blocked) < prov.index('<td class="n">1</td>')
    assert "not assessed — blocked: portal answered 403 with a WAF block page" in prov
    wb = openpyxl.load_workbook(world["out"] / "report.xlsx", read_only=True)
    assert "未评估" in wb.sheetnames and "采集覆盖" in wb.sheetnames
    na_rows = list(wb["未评估"].iter_rows(min_row=2, values_only=True))
    assert len(na_rows) == len(_not_assessed_ids(world))
    sheet = list(wb[GROUP_NAMES_ZH[blocked.group]].iter_rows(values_only=True))
    ids = [r[0] for r in sheet[1:]]
    assert ids.index(_targets_of(world, ROLE["blocked"])[0]) < ids.index(next(
        r[0] for r in sheet[1:] if r[sheet[0].index("rank")] == 1))


def test_coverage_csv_lists_sites_needing_a_person_first(world):
    assert "report coverage.csv:" in world["report"]
    rows = _csv(world["out"] / "coverage.csv")
    assert len(rows) == 164
    for col in ("target_id", "site_id", "group", "site_status", "reason", "pages", "failures_http_4xx",
                "failures_http_5xx", "failures_timeout", "failures_dns", "failures_connection", "failures_tls",
                "failures_too_large", "failures_blocked", "failures_other", "blocked", "robots_disallowed",
                "budget_reached", "seconds"):
        assert col in rows[0], col
    order = [r["site_status"] for r in rows]
    person = {"blocked", "unreachable", "not crawled", "partial"}
    first_done = order.index("done")
    assert set(order[:first_done]) == person
    assert all(s == "done" for s in order[first_done:])
    blocked = next(r for r in rows if r["site_id"] == ROLE["blocked"])
    assert blocked["reason"] == "portal answered 403 with a WAF block page"
    assert (blocked["pages"], blocked["failures_http_4xx"], blocked["failures_blocked"], blocked["blocked"]) == \
        ("3", "2", "1", "3")
    partial = next(r for r in rows if r["site_id"] == ROLE["partial_403"])
    assert (partial["failures_http_5xx"], partial["failures_timeout"], partial["robots_disallowed"],
            partial["seconds"]) == ("50", "15", "2", "33.0")
    # a site without coverage JSON (a store from before sites.coverage): computed from the tables
    site = sorted(world["healthy"])[0]
    with Store(world["store"]) as st:
        st.conn.execute("update sites set coverage = NULL where campaign = ? and site_id = ?", [C, site])
        st.conn.commit()
        n = st.conn.execute("select count(*) from pages where campaign = ? and site_id = ?", [C, site]).fetchone()[0]
        robots = st.conn.execute("select count(*) from failures where campaign = ? and site_id = ? "
                                 "and reason like 'robots.txt%'", [C, site]).fetchone()[0]
        from evidence.coverage import site_facts
        cov = site_facts(st.conn, C)[site]["coverage"]
    assert cov["pages"] == n > 50 and cov["robots_disallowed"] == robots
    row = next(r for r in rows if r["site_id"] == site)
    assert row["site_status"] == "done" and int(row["pages"]) == n
    html = (world["out"] / "report.html").read_text(encoding="utf-8")
    assert 'id="site-coverage"' in html


def test_site_rules_need_a_2xx_portal_home_page_and_enough_pages(world):
    with Store(world["store"]) as st:
        leaves = {(r["site_id"], r["leaf_id"]) for r in st.db.query(
            "select distinct site_id, leaf_id from evidence where campaign = ?", [C])}
        gaps = {(r["site_id"], r["leaf_id"]): r["reason"] for r in st.db.query(
            "select site_id, leaf_id, reason from not_evaluated where campaign = ?", [C])}
        after = {(r["target_id"], r["node_id"]): r["points"] for r in st.db.query(
            "select target_id, node_id, points from scores where run_id = 'after' and level = 'leaf'")}
    for site in (ROLE["captcha"], ROLE["partial_403"]):
        assert not {leaf for s, leaf in leaves if s == site} & GATED_LEAVES, site
        for leaf in GATED_LEAVES:
            assert (site, leaf) in gaps, (site, leaf)
    assert gaps[(ROLE["captcha"], "link_health")] == \
        "link_health not evaluated: only 1 HTML page answered 2xx (at least 5 needed)"
    assert gaps[(ROLE["partial_403"], "link_health")] == "link_health not evaluated: portal home page answered 403"
    # sites with a healthy crawl are evaluated, and earn the site-level leaves
    healthy = world["healthy"] - {ROLE["blocked"], ROLE["unreachable"]}
    assert len(healthy) >= 8
    assert not [k for k in gaps if k[0] in healthy]
    assert sum(1 for s in healthy if (s, "link_health") in leaves) >= len(healthy) - 2
    assert sum(1 for s in healthy if (s, "https_access") in leaves) >= len(healthy) - 2
    # the CAPTCHA site is assessed (status done) but earns no site-level points
    for tid in _targets_of(world, ROLE["captcha"]):
        assert after[(tid, "link_health")] == 0
    # said where a person sees it: the extract summary, the report and leaves.csv
    assert "site_rules_not_evaluated" in world["extract"] and "portal home page answered 403" in world["extract"]
    html = (world["out"] / "report.html").read_text(encoding="utf-8")
    assert "link_health not evaluated: portal home page answered 403" in html
    assert "link_health not evaluated: only 1 HTML page answered 2xx" in html
    leaves_csv = _csv(world["out"] / "leaves.csv")
    tid = _targets_of(world, ROLE["captcha"])[0]
    row = next(r for r in leaves_csv if r["target_id"] == tid and r["leaf_id"] == "link_health")
    assert row["not_evaluated"].startswith("link_health not evaluated: only 1 HTML page")
    # and `windvane inspect` on the stored page: the CAPTCHA page alone is a site of one page, but the
    # store says the site's site-level rules were not evaluated, and why
    portal = world["targets"][tid].portal_url
    found = json.loads(run_cli("inspect", portal, "--store", str(world["store"]), "--json", check=True).stdout)
    gaps_seen = {f["indicator_id"]: f["snippet"] for f in found if f["kind"] == "not_evaluated"}
    assert set(gaps_seen) == GATED_LEAVES
    assert gaps_seen["link_health"] == "link_health not evaluated: only 1 HTML page answered 2xx (at least 5 needed)"


def test_diff_names_targets_that_went_from_assessed_to_not_assessed(world):
    out = world["diff"]
    for tid in _targets_of(world, ROLE["blocked"]):
        assert re.search(rf"{tid} \S+: assessed -> NOT ASSESSED \(blocked: portal answered 403 with a WAF block "
                         rf"page\); was total [\d.]+/[\d.]+, rank \d+", out), out[:3000]
    for tid in _targets_of(world, ROLE["unreachable"]):
        assert f"{tid}" in out and "NOT ASSESSED (unreachable: DNS lookup failed" in out


def test_statistics_functions_leave_out_rows_not_assessed():
    """The statistics that would otherwise count a not-assessed row (its max points, its leaves)."""
    from scoring import stats

    df = pd.DataFrame({
        "target_id": ["a", "b", "c", "x"], "group": ["g"] * 4, "admin_code": ["1", "2", "3", "9"],
        "gdp_rank": [1, 2, 3, 4], "rank": pd.array([1, 2, 3, None], dtype="Int64"),
        "score_100": [80.0, 50.0, 20.0, None], "assessed": [True, True, True, False],
        "i_points": [8.0, 5.0, 2.0, None], "i_max": [10.0, 10.0, 10.0, 10.0], "i_rate": [0.8, 0.5, 0.2, None]})
    rates = stats.index_rate_means(df, ["i"], "ratio_of_sums")
    assert rates.loc["g", "i"] == pytest.approx(15 / 30)  # not 15 / 40
    leaves = pd.DataFrame({"target_id": ["a", "a", "b", "b", "c", "c", "x", "x"],
                           "leaf_id": ["l1", "l2"] * 4, "points": [1, 1, 1, 0, 0, 0, None, None]})
    share = stats.progress(df, "leaf_share", leaf_points=leaves)
    assert list(share[:3]) == [1.0, 0.5, 0.0] and math.isnan(share[3])
    above = stats.progress(df, "leaf_above_mean", leaf_points=leaves)
    assert math.isnan(above[3])
    # leaf means over a, b, c only: l1 mean 2/3 (a, b above), l2 mean 1/3 (a above)
    assert list(above[:3]) == [1.0, 0.5, 0.0]
    z = stats.zscores(df)
    assert z[0] == pytest.approx((80 - 50) / 30) and math.isnan(z[3])
    t = stats.tiers(df)
    assert list(t[:3]) == [1, 3, 5] and pd.isna(t[3])
    assert list(stats.leaders(df, 3)["g"]["target_id"]) == ["a", "b", "c"]
    corr = stats.rank_correlation(df)["g"]
    assert corr["n"] == 3 and corr["rho"] == pytest.approx(1.0)
    disp = stats.dispersion(df).iloc[0]
    assert disp["n"] == 3 and disp["mean"] == pytest.approx(50.0)


def test_site_rule_gate_reasons(tmp_path):
    """The gate on a real store's tables: every reason, and a healthy site passing."""
    from evidence.coverage import site_rule_gates

    with Store(tmp_path / "g.db") as st:
        st.open_campaign("g", load_registry())
        sites = {"ok": "110000", "blockpage": "120000", "few": "130000", "forbidden": "140000", "lost": "150000",
                 "blocked_status": "210000"}
        for name, sid in sites.items():
            st.conn.execute("update sites set status = ? where campaign = 'g' and site_id = ?",
                            ["blocked" if name == "blocked_status" else "done", sid])
        portal = dict(st.conn.execute("select site_id, portal_url from sites where campaign = 'g'").fetchall())
        rows = []
        for name, sid in sites.items():
            if name == "lost":
                st.add_failures([{"campaign": "g", "site_id": sid, "url": portal[sid], "reason": "timed out"}])
            else:
                rows.append({"campaign": "g", "site_id": sid, "url": portal[sid], "status": 403 if name == "forbidden"
                             else 200, "depth": 0, "kind": "html",
                             "block": "CAPTCHA shell (slider)" if name == "blockpage" else None})
            for k in range(3 if name == "few" else 8):
                rows.append({"campaign": "g", "site_id": sid, "url": f"{portal[sid]}a/{k}.html", "status": 200,
                             "depth": 1, "kind": "html", "block": None})
            rows.append({"campaign": "g", "site_id": sid, "url": f"{portal[sid]}robots.txt", "status": 200,
                         "depth": 0, "kind": "probe", "block": None})
        st.add_pages(rows)
        gates = site_rule_gates(st.conn, "g", 5)
    assert sites["ok"] not in gates
    assert gates[sites["blockpage"]] == "portal home page is a block page (CAPTCHA shell (slider))"
    assert gates[sites["few"]] == "only 4 HTML pages answered 2xx (at least 5 needed)"
    assert gates[sites["forbidden"]] == "portal home page answered 403"
    assert gates[sites["lost"]] == "portal home page not stored (timed out)"
    assert sites["blocked_status"] not in gates  # its pages are fine; scoring leaves it out anyway
    assert "310000" not in gates  # not crawled: no gate, not assessed
