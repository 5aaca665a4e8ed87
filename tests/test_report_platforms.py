"""The report's platform facts (issue 11 part 4) through the real path: a registry subset crawled over
the simulated web (service portals and open-data platforms, SPA and server-rendered, a POST list API,
a counter that says 0 beside a statistics API, a "coming soon" service portal, a registry open-data
URL that answers 502, a target with no open-data platform), then `extract`, `score` and `report`.
Every value of platforms.csv is checked against the evidence row it names, that row against the run,
and its link against the archived page; "none" / "no answer" / "not found" are not 0.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3

import openpyxl
import pytest

from scoring.platforms import FACTS, PLATFORMS, csv_columns
from tests.conftest import run_cli
from tests.test_crawl import run_crawl

SITES = ("110000", "120000", "130000", "130100", "210000")
DEAD_OPENDATA = "https://data.hebei.gov.cn/"  # not a host of the simulated web (its registry names none): 502
CAMPAIGN = "plat"


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    simweb_server = pytest.importorskip("simweb.server")
    from evidence.registry import DEFAULT_REGISTRY, load_registry
    from tests.test_simweb import write_subset

    tmp = tmp_path_factory.mktemp("report-platforms")
    web_reg = write_subset(load_registry(DEFAULT_REGISTRY), SITES, tmp / "web.csv")  # the simulated web's
    reg = tmp / "reg.csv"  # the crawl's: the same, but for an open-data URL the simulated web does not serve
    rows = list(csv.DictReader(io.StringIO(web_reg.read_text(encoding="utf-8"))))
    for r in rows:
        if r["site_id"] == "130000":
            assert not r["opendata_url"]  # the registry names none: this test gives it one that is down
            r["opendata_url"] = DEAD_OPENDATA
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    reg.write_text(out.getvalue(), encoding="utf-8")
    with simweb_server.SimWebProcess(str(web_reg), seed=2023, port=0) as web:
        run_crawl(tmp, web.proxy_url, "--workers", "1", "--browser", "never", "--depth", "1", "--max-pages", "15",
                  "--platform-pages", "40", "--as-of", "2023-10-31", campaign=CAMPAIGN)
        with open(web.truth_path, encoding="utf-8") as f:
            truth = json.load(f)["sites"]
    db = tmp / "s.db"
    run_cli("extract", "--store", str(db), check=True, timeout=600)
    run_cli("score", "--store", str(db), "--run", "r1", check=True)
    rep = tmp / "report"
    proc = run_cli("report", "--store", str(db), "--run", "r1", "--out", str(rep), check=True)
    assert f"report platforms.csv: {rep / 'platforms.csv'}" in proc.stdout
    with (rep / "platforms.csv").open(encoding="utf-8-sig") as f:
        table = {r["target_id"]: r for r in csv.DictReader(f)}
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    yield {"db": db, "tmp": tmp, "report": rep, "table": table, "conn": conn, "truth": truth}
    conn.close()


def _evidence(conn: sqlite3.Connection, eid: str) -> dict:
    row = conn.execute("select * from evidence where campaign = ? and eid = ?", [CAMPAIGN, eid]).fetchone()
    assert row is not None, eid
    return {**dict(row), "values": json.loads(row["values"] or "{}")}


def _run_leaf(conn: sqlite3.Connection, target_id: str, leaf_id: str) -> dict:
    row = conn.execute("select points, evidence_ids from scores where run_id = 'r1' and level = 'leaf' "
                       "and target_id = ? and node_id = ?", [target_id, leaf_id]).fetchone()
    return {"points": row["points"], "ids": json.loads(row["evidence_ids"] or "[]")}


def test_columns_and_one_row_per_target(reported):
    table, conn = reported["table"], reported["conn"]
    targets = [r[0] for r in conn.execute("select target_id from targets where campaign = ?", [CAMPAIGN])]
    assert sorted(table) == sorted(targets) and len(targets) == 8
    index_ids = [c[:-5] for c in next(iter(table.values())) if c.endswith("_rate")]
    assert list(next(iter(table.values()))) == csv_columns(index_ids)
    assert {"capability", "infrastructure"} <= set(index_ids)
    with (reported["report"] / "targets.csv").open(encoding="utf-8-sig") as f:
        scores = {r["target_id"]: r for r in csv.DictReader(f)}
    for tid, r in table.items():  # the scores beside the facts are the run's
        for c in ("score_100", "rank", *(f"{i}_rate" for i in index_ids)):
            assert r[c] == scores[tid][c], (tid, c)


def test_every_value_is_the_evidence_row_the_run_counted(reported):
    table, conn = reported["table"], reported["conn"]
    found = 0
    for tid, r in table.items():
        for f in FACTS:
            if r[f"{f.key}_status"] != "found":
                assert not r[f"{f.key}_evidence"] or r[f"{f.key}_status"] == "manual"
                continue
            found += 1
            eid = r[f"{f.key}_evidence"]
            e = _evidence(conn, eid)
            leaf = _run_leaf(conn, tid, f.leaf)
            assert e["leaf_id"] == f.leaf and e["site_id"] == r["site_id"] and eid in leaf["ids"], (tid, f.key)
            assert r[f"{f.key}_url"] == e["url"] and r[f"{f.key}_rule"] == e["rule_id"]
            if f.value == "yes":
                assert r[f.key] == ("yes" if e["points"] > 0 else "no")
                continue
            v = e["values"]
            got = float(r[f.key])
            if f.value == "share":
                assert got == pytest.approx(float(v["share"])), (tid, f.key)
                assert int(r[f"{f.key}_n"]) == v["total"] and 0 <= got <= 1
            else:
                assert got == pytest.approx(float(v["tier"]["value"])), (tid, f.key)
                assert got in json.loads(r[f"{f.key}_readings"])
            # the value shown is the one that earned the leaf's points
            assert e["points"] == pytest.approx(leaf["points"]), (tid, f.key)
    assert found >= 40


def test_links_resolve_to_archived_pages_of_the_target(reported):
    from evidence.store import Store
    from evidence.warc import read_record

    table, conn = reported["table"], reported["conn"]
    with Store(reported["db"]) as st:
        warc_dir = st.files_dir / CAMPAIGN / "warc"
    checked = 0
    for r in table.values():
        for f in FACTS:
            url = r[f"{f.key}_url"]
            if not url:
                continue
            e = _evidence(conn, r[f"{f.key}_evidence"])
            page = conn.execute("select * from pages where campaign = ? and id = ?", [CAMPAIGN, e["page_id"]]).fetchone()
            # a POSTed list's row is endpoint + #post=<body>, its evidence the endpoint; a shared branch's #shared=
            assert page is not None and page["url"].split("#")[0] == url.split("#")[0], url
            assert page["site_id"] == r["site_id"], url
            _, _, body = read_record(warc_dir, page["warc_file"], page["warc_offset"])
            assert hashlib.sha256(body).hexdigest() == page["sha256"] == e["page_sha256"], url
            checked += 1
    assert checked >= 40
    for kind in PLATFORMS:  # the platforms' own URLs are the crawl's (site_platforms)
        for r in table.values():
            row = conn.execute("select url, pages from site_platforms where campaign = ? and site_id = ? and kind = ?",
                               [CAMPAIGN, r["site_id"], kind]).fetchone()
            assert (r[f"{kind}_url"] or None) == (row["url"] if row else None)
            assert (r[f"{kind}_pages"] or None) == (str(row["pages"]) if row and row["pages"] is not None else None)


def test_absent_blocked_and_zero_are_told_apart(reported):
    t = reported["table"]
    # 河北: the registry's open-data URL answers 502: no answer, no value (not 0)
    hb = t["province-130000"]
    assert hb["opendata_state"] == "no answer" and hb["opendata_pages_2xx"] == "0"
    for f in FACTS:
        if f.kind == "opendata":
            assert hb[f"{f.key}_status"] == "no_answer" and hb[f.key] == "", f.key
    assert hb["service_state"] == "crawled" and hb["service_available"] == "yes"
    # 石家庄: no open-data platform at all; a service portal "coming soon", crawled: available no
    sjz = t["capital-130100"]
    assert sjz["opendata_state"] == "none" and sjz["opendata_url"] == ""
    assert {sjz[f"{f.key}_status"] for f in FACTS if f.kind == "opendata"} == {"none"}
    assert sjz["datasets"] == "" and sjz["service_state"] == "crawled"
    assert (sjz["service_available"], sjz["service_available_status"]) == ("no", "not_found")
    assert sjz["guide_completeness"] == "" and sjz["guide_completeness_status"] == "not_found"
    # 辽宁: the front page's counter says 0, the statistics API 615: both read, 615 counted, 0 kept in sight
    ln = t["province-210000"]
    assert json.loads(ln["datasets_readings"])[0] == 0 and float(ln["datasets"]) > 0
    # 北京: the POST list API's datasets give the shares
    bj = t["province-110000"]
    assert bj["machine_readable_share_status"] == "found" and "/api/" in bj["machine_readable_share_url"]


def test_html_table_beside_the_scores_and_in_the_details(reported):
    html = (reported["report"] / "report.html").read_text(encoding="utf-8")
    table = reported["table"]
    assert 'href="#platforms"' in html and 'id="platforms"' in html
    for g in ("province", "capital", "gdp100"):
        assert f'id="platforms-{g}"' in html
    for tid, r in table.items():
        row = html[html.index(f'id="pf-{tid}"'):]
        row = row[:row.index("</tr>")]
        assert f'href="#t-{tid}"' in row
        if r["score_100"]:
            assert f">{float(r['score_100']):.2f}<" in row
        for f in FACTS:
            eid = r[f"{f.key}_evidence"]
            if r[f"{f.key}_status"] == "found":
                url = r[f"{f.key}_url"].replace("&", "&amp;")
                assert f'href="{url}" title="{eid} · {r[f.key + "_rule"]}" data-eid="{eid}"' in row, (tid, f.key)
            else:
                assert f'data-status="{r[f.key + "_status"]}"' in row, (tid, f.key)
        detail = html[html.index(f'id="t-{tid}"'):]
        detail = detail[:detail.index("</details>")]
        assert 'class="platforms"' in detail
        assert all(r[f"{f.key}_evidence"] in detail for f in FACTS if r[f"{f.key}_evidence"])
    assert "无应答 (no answer)" in html and "无平台 (none)" in html and "未发现 (not found)" in html


def test_workbook_sheet(reported):
    wb = openpyxl.load_workbook(reported["report"] / "report.xlsx", read_only=True)
    rows = list(wb["平台"].iter_rows(values_only=True))
    assert rows[0][:3] == ("target_id", "group", "name_zh") and len(rows) == 1 + len(reported["table"])
    by_id = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert by_id["province-210000"]["datasets"] == int(float(reported["table"]["province-210000"]["datasets"]))


def test_states_the_simulated_campaign_does_not_reach():
    """A platform the crawl never reached, one on the portal's own host, evidence gone since the run,
    and an auditor's added evidence: each says so, none is a value."""
    from scoring.platforms import _cell, _state

    datasets = next(f for f in FACTS if f.key == "datasets")
    login = next(f for f in FACTS if f.key == "unified_login")
    assert _state(None) == "none"
    assert _state({"stored_under": None, "pages": 0}) == "not_crawled"
    assert _state({"stored_under": "330000", "pages": 3, "pages_2xx": 0}) == "no_answer"
    assert _state({"stored_under": "330000", "pages": 3, "pages_2xx": 2}) == "crawled"
    assert _state({"on_portal": True, "kind": "service"}) == "on_portal"
    assert _cell(datasets, [], {}, "not_crawled", 2)["status"] == "not_crawled"
    on_portal = _cell(login, [], {}, "on_portal", 1)
    assert (on_portal["status"], on_portal["value"]) == ("not_found", "no")
    gone = _cell(datasets, ["ev_gone"], {}, "crawled", 2)
    assert (gone["status"], gone["value"]) == ("missing", None)
    manual = {"id": "man_7", "url": "https://data.example.gov.cn/", "rule_id": "manual (qc: seen)", "points": None,
              "values": {"note": "seen"}}
    added = _cell(datasets, ["man_7"], {"man_7": manual}, "crawled", 2)
    assert (added["status"], added["value"], added["evidence"]) == ("manual", None, "man_7")
    zero = {"id": "ev_0", "url": "https://data.example.gov.cn/", "rule_id": "dataset_count.counter_label_first",
            "points": 0.0, "values": {"number": "0", "tier": {"min": None, "points": 0.0, "value": 0.0}}}
    said0 = _cell(datasets, ["ev_0"], {"ev_0": zero}, "crawled", 2)
    assert (said0["status"], said0["value"], said0["evidence"]) == ("found", 0.0, "ev_0")


# the simulated web's truth (simweb/platforms.py) for the facts a crawl of this budget reaches whole
TRUTH_YES = {"service_available": ("service", "available"), "opendata_available": ("data", "available"),
             "licence": ("data", "open_licence"), "data_requests": ("data", "data_requests"),
             "reuse_showcase": ("data", "reuse_showcase"), "unified_login": ("service", "unified_login")}


def test_facts_agree_with_the_simulated_web(reported):
    table, truth = reported["table"], reported["truth"]
    compared = 0
    for r in table.values():
        plats = truth[r["site_id"]]["platforms"]
        if r["opendata_state"] == "crawled" and plats["data"]["available"]:
            assert int(r["datasets"]) == plats["data"]["dataset_count"], r["target_id"]
            assert int(r["apis"]) == plats["data"]["api_count"], r["target_id"]
            compared += 2
        for key, (kind, fact) in TRUTH_YES.items():
            state = r["service_state" if kind == "service" else "opendata_state"]
            if state == "crawled":
                assert r[key] == ("yes" if plats[kind][fact] else "no"), (r["target_id"], key)
                compared += 1
    assert compared >= 30
