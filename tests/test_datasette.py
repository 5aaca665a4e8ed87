"""The store in Datasette: trigram full-text search that also finds 2-character words, the metadata and
canned queries (audit/datasette.yaml), and `windvane datasette` serving a real store (nothing mocked)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from audit.datasette_cmd import (
    HIDE_ENV,
    METADATA,
    add_datasette_parser,
    cmd_datasette,
    hide_secrets,
    main,
    metadata_for,
)
from evidence.fulltext import build_fulltext, drop_fulltext, has_fulltext, search_pages
from evidence.store import Store, StoreError

ROOT = Path(__file__).resolve().parent.parent
WINDVANE = str(Path(sys.executable).parent / "windvane")   # the real console script
C = "2025"
SITE = "320600"
BASE = "https://www.nantong.gov.cn"

# realistic page texts; which of 12345 / 数据 / 数据开放 / 热线 each contains is in the name
TEXTS = {
    "hotline": ("政务服务便民热线", "南通市12345热线是市民反映诉求的统一入口，7×24小时人工受理，"
                                  "来电、网站、微信、App多渠道接听，诉求办理结果及时回访。"),
    "open": ("公共资源平台上线", "南通市公共数据开放平台正式上线运行，首批开放经济、交通、教育等领域"
                               "数据集120个，社会公众可免费下载使用。"),
    "both": ("一网通办工作推进会", "会议要求加快政务数据共享，推动高频事项一网通办，"
                              "将12345便民服务平台诉求办理情况纳入年度考核。"),
    "none": ("市政府常务会议", "市政府召开第二十次常务会议，研究部署安全生产和防汛抗旱工作，"
                           "审议《南通市城市管理条例（草案）》。"),
    # 数 and 据 both occur, never side by side; 1234 but not 12345
    "split": ("数字政府建设年度报告", "本市数字政府建设取得新进展，各部门证据材料齐全。"
                                  "咨询电话：0513-1234 5678。"),
}


def _url(key: str) -> str:
    return f"{BASE}/art/2025/{key}.html"


def _page(key: str, title: str, text: str) -> dict:
    return {"campaign": C, "site_id": SITE, "url": _url(key), "final_url": _url(key), "status": 200,
            "content_type": "text/html", "encoding": "utf-8", "title": title, "text": text,
            "size": len(text.encode()), "depth": 1, "kind": "html", "via": "http",
            "fetched_at": "2025-08-01T02:00:00Z"}


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "s.db")
    s.add_pages([_page(k, t, x) for k, (t, x) in TEXTS.items()])
    yield s
    s.close()


def _keys(hits: list[dict]) -> set[str]:
    return {h["url"].rsplit("/", 1)[1].removesuffix(".html") for h in hits}


EXPECTED = {"12345": {"hotline", "both"}, "数据": {"open", "both"}, "数据开放": {"open"}, "热线": {"hotline"}}


# --- search_pages ------------------------------------------------------------------------------
def test_search_pages_finds_short_and_long_words_exactly(store):
    # before any index: the same answers by scanning, and nothing written
    for q, want in EXPECTED.items():
        assert _keys(search_pages(store.conn, q)) == want, q
    assert not has_fulltext(store.conn)
    info = build_fulltext(store.conn)
    assert info["built"] and info["pages"] == 5
    for q, want in EXPECTED.items():
        hits = search_pages(store.conn, q)
        assert _keys(hits) == want, q
        for h in hits:
            assert f"«{q}»" in h["snippet"], (q, h["snippet"])
            assert set(h) >= {"id", "url", "title", "snippet"}
    # several words: every one must be there (12345 through the index, 数据 by LIKE on its hits)
    assert _keys(search_pages(store.conn, "12345 数据")) == {"both"}
    assert _keys(search_pages(store.conn, "数据 开放")) == {"open"}
    assert _keys(search_pages(store.conn, "5678")) == {"split"}           # digits through the index
    assert _keys(search_pages(store.conn, "12")) == {"hotline", "both", "split", "open"}   # 120个
    assert search_pages(store.conn, "数据", campaign="other") == []
    assert search_pages(store.conn, "   ") == []
    assert len(search_pages(store.conn, "数据", limit=1)) == 1


def test_index_follows_later_pages_and_rebuild_is_idempotent(store):
    assert build_fulltext(store.conn)["built"]
    again = build_fulltext(store.conn)
    assert again == {**again, "built": False, "reason": "up to date"}
    # a later crawl: insert, then re-fetch (upsert) a page with new text; the triggers index both
    store.add_pages([_page("later", "数据资源目录", "新增开放数据资源目录，涵盖12345工单统计。")])
    assert _keys(search_pages(store.conn, "数据开放")) == {"open"}
    assert _keys(search_pages(store.conn, "资源目录")) == {"later"}
    assert _keys(search_pages(store.conn, "12345")) == {"hotline", "both", "later"}
    store.add_pages([_page("none", "市政府常务会议", "会议听取了大数据开放工作汇报。")])
    assert _keys(search_pages(store.conn, "数据开放")) == {"open", "none"}
    assert _keys(search_pages(store.conn, "防汛抗旱")) == set()          # old text left the index
    store.conn.execute("DELETE FROM pages WHERE url = ?", [_url("open")])
    store.conn.commit()
    assert _keys(search_pages(store.conn, "数据开放")) == {"none"}
    store.conn.execute("UPDATE pages SET screenshot = 'x.png'")          # not an indexed column
    store.conn.commit()
    store.conn.execute("INSERT INTO pages_fts (pages_fts, rank) VALUES ('integrity-check', 1)")
    assert build_fulltext(store.conn)["built"] is False
    # a write the triggers did not see is caught and rebuilt: without recursive_triggers (sqlite-utils,
    # hence Store, turns them on) the delete half of a REPLACE fires no DELETE trigger
    store.conn.execute("PRAGMA recursive_triggers = off")
    store.conn.execute("INSERT OR REPLACE INTO pages (campaign, url, title, text) VALUES (?, ?, ?, ?)",
                       [C, _url("hotline"), "热线", "投诉举报热线已并入12345。"])
    store.conn.commit()
    info = build_fulltext(store.conn)
    assert info["built"] and "index holds" in info["reason"]
    store.conn.execute("INSERT INTO pages_fts (pages_fts, rank) VALUES ('integrity-check', 1)")
    assert _keys(search_pages(store.conn, "并入12345")) == {"hotline"}
    assert build_fulltext(store.conn)["built"] is False
    # a dropped trigger: text changed unseen, so the index is rebuilt, not just the trigger restored
    store.conn.execute("DROP TRIGGER pages_fts_au")
    store.conn.execute("UPDATE pages SET text = '接诉即办数据周报' WHERE url = ?", [_url("later")])
    store.conn.commit()
    assert build_fulltext(store.conn)["reason"].startswith("triggers missing")
    assert _keys(search_pages(store.conn, "接诉即办")) == {"later"}
    assert build_fulltext(store.conn)["built"] is False
    # dropped again: pages can still be written, and searched by scanning
    assert drop_fulltext(store.conn) and not has_fulltext(store.conn)
    store.add_pages([_page("after", "数据", "撤销索引后写入的页面。")])
    assert _keys(search_pages(store.conn, "接诉即办")) == {"later"}


def test_canned_queries_run_on_the_store(store):
    build_fulltext(store.conn)
    db = store.db
    db["sites"].insert_all([
        {"campaign": C, "site_id": SITE, "name_zh": "南通市", "portal_url": BASE, "status": "done", "pages": 5,
         "failures": 0},
        {"campaign": C, "site_id": "320100", "name_zh": "南京市", "portal_url": "https://www.nanjing.gov.cn",
         "status": "blocked", "error": "portal answered 412 (WAF challenge)", "pages": 0, "failures": 1,
         "coverage": json.dumps({"blocked": 1, "robots_disallowed": 0})},
        {"campaign": C, "site_id": "320200", "name_zh": "无锡市", "portal_url": "https://www.wuxi.gov.cn",
         "status": None}])
    db["targets"].insert_all([
        {"campaign": C, "target_id": f"gdp100-{s}", "grp": "gdp100", "site_id": s, "name_zh": n}
        for s, n in ((SITE, "南通市"), ("320100", "南京市"), ("320200", "无锡市"))])
    db["evidence"].insert({"campaign": C, "site_id": SITE, "leaf_id": "2.1.3", "rule_id": "open_data_portal",
                           "page_id": 2, "url": _url("open"), "snippet": "公共数据开放平台", "start": 3, "end": 11,
                           "points": 1.0})
    db["decisions"].insert({"campaign": C, "evidence_id": 1, "site_id": SITE, "leaf_id": "2.1.3",
                            "decision": "confirm", "who": "auditor1", "at": "2025-09-01T08:00:00Z", "why": "平台可访问"})
    store.conn.commit()
    queries = yaml.safe_load(METADATA.read_text(encoding="utf-8"))["databases"]["windvane"]["queries"]

    def run(name: str, **params: str) -> list[sqlite3.Row]:
        store.conn.row_factory = sqlite3.Row
        try:
            return store.conn.execute(queries[name]["sql"], params).fetchall()
        finally:
            store.conn.row_factory = None

    rows = run("targets_by_coverage", campaign="")
    assert [(r["site_id"], r["status"]) for r in rows] == [
        ("320100", "blocked"), ("320200", "not crawled"), (SITE, "done")]
    assert rows[0]["reason"].startswith("portal answered 412") and rows[0]["blocked_pages"] == 1
    assert rows[1]["reason"] == "not crawled"
    assert len(run("targets_by_coverage", campaign="1999")) == 0
    ev = run("evidence_of_leaf", campaign="", leaf_id="2.1.3")
    assert [(r["url"], r["snippet"], r["site"]) for r in ev] == [(_url("open"), "公共数据开放平台", "南通市")]
    assert run("evidence_of_leaf", campaign=C, leaf_id="9.9") == []
    dec = run("decisions_of_target", target_id=f"gdp100-{SITE}")
    assert [(r["decision"], r["who"], r["why"]) for r in dec] == [("confirm", "auditor1", "平台可访问")]
    for q, want in EXPECTED.items():
        assert _keys(run("search_text", q=q, campaign="")) == want, q
    assert _keys(run("search_text", q=" 数据 ", campaign=C)) == {"open", "both"}
    assert run("search_text", q="数据", campaign="1999") == []
    assert run("search_text", q="", campaign="") == []


def test_metadata_is_keyed_by_the_store_name(tmp_path):
    meta = metadata_for(tmp_path / "evidence-2025.db")
    assert list(meta["databases"]) == ["evidence-2025"]
    pages = meta["databases"]["evidence-2025"]["tables"]["pages"]
    assert pages["fts_table"] == "pages_fts" and pages["fts_pk"] == "id"
    assert {"targets_by_coverage", "evidence_of_leaf", "decisions_of_target", "search_text"} <= set(
        meta["databases"]["evidence-2025"]["queries"])


def test_index_only_builds_then_finds_it_up_to_date(store, capsys):
    store.close()
    assert main(["--store", str(store.path), "--index-only"]) == 0
    assert main(["--store", str(store.path), "--index-only"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == ["full-text index of 5 pages built (no index yet) in 0.0s",
                   "full-text index of 5 pages up to date in 0.0s"]


def test_hide_secrets_nulls_password_hashes_only(monkeypatch):
    monkeypatch.delenv(HIDE_ENV, raising=False)
    conn = sqlite3.connect(":memory:")
    conn.executescript("CREATE TABLE auditors (name TEXT, password_hash TEXT); INSERT INTO auditors VALUES ('a', 'h');"
                       "CREATE TABLE meta (key TEXT, value TEXT); INSERT INTO meta VALUES ('schema_version', '1');")
    hide_secrets(conn)
    assert conn.execute("SELECT name, password_hash FROM auditors").fetchall() == [("a", None)]
    assert conn.execute("SELECT * FROM auditors WHERE password_hash = 'h'").fetchall() == []
    assert conn.execute("SELECT value FROM meta").fetchall() == [("1",)]


def test_missing_store_is_one_clear_error(tmp_path, capsys):
    p = argparse.ArgumentParser()
    add_datasette_parser(p.add_subparsers(dest="command"))
    args = p.parse_args(["datasette", "--store", str(tmp_path / "nothing.db")])
    with pytest.raises(StoreError, match="no store here"):
        cmd_datasette(args)
    assert not (tmp_path / "nothing.db").exists()
    assert main(["--store", str(tmp_path / "nothing.db")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no store here" in err[0]


# --- real Datasette ----------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read().decode("utf-8"))


@pytest.fixture
def served(store, tmp_path):
    """The real `windvane datasette` serving the store on a free loopback port."""
    # what the audit app keeps in the store: auditors' password hashes, and (older stores) its secret in meta
    store.conn.execute("CREATE TABLE auditors (name TEXT PRIMARY KEY, password_hash TEXT, created_at TEXT, "
                       "active INTEGER)")
    store.conn.execute("INSERT INTO auditors VALUES ('auditor1', '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA', "
                       "'2025-08-01T00:00:00Z', 1)")
    store.conn.execute("INSERT INTO meta VALUES ('audit_secret_key', 'f00dfeedf00dfeedf00dfeedf00dfeed')")
    store.conn.commit()
    port = _free_port()
    log = open(tmp_path / "datasette.log", "w")
    proc = subprocess.Popen([WINDVANE, "datasette", "--store", str(store.path), "--port", str(port)],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                _get(base + "/-/versions.json")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "datasette.log").read_text()) from None
                time.sleep(0.1)
        yield {"base": base, "db": store.path.stem, "port": port}
    finally:
        # the whole session: the command and the Datasette server it started
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_datasette_serves_search_and_metadata(served, store):
    base, db = served["base"], served["db"]
    assert store.conn.execute("SELECT name FROM sqlite_master WHERE name = 'pages_fts'").fetchone()

    def canned(q: str) -> set[str]:
        rows = _get(f"{base}/{db}/search_text.json?" + urllib.parse.urlencode({"q": q, "_shape": "array"}))
        return _keys(rows)

    assert canned("数据") == EXPECTED["数据"]
    assert canned("12345") == EXPECTED["12345"]
    assert canned("数据开放") == EXPECTED["数据开放"]
    def box(q: str, **more: str) -> set[str]:
        """The pages table's search box (?_search=), as JSON."""
        return _keys(_get(f"{base}/{db}/pages.json?" + urllib.parse.urlencode({"_search": q, "_shape": "array", **more})))

    assert box("12345") == EXPECTED["12345"]          # through the trigram index
    assert box("数据") == EXPECTED["数据"]             # 2 characters: the plugin's LIKE filter
    assert box("热线") == EXPECTED["热线"]
    assert box("12345 数据") == {"both"}
    assert box("数据 开放") == {"open"}
    assert box("数据", kind="pdf") == set()           # with the table's other filters
    with urllib.request.urlopen(f"{base}/{db}/pages?_search=%E6%95%B0%E6%8D%AE", timeout=10) as r:
        page = r.read().decode("utf-8")
    assert '2 rows' in page and 'contains &#34;数据&#34;' in page and 'value="数据"' in page
    with urllib.request.urlopen(f"{base}/{db}/pages?" + urllib.parse.urlencode({"_search": "12345 数据"}),
                                timeout=10) as r:
        page = r.read().decode("utf-8")
    assert '1 row' in page and 'value="12345 数据"' in page            # the box keeps every word typed
    # a new search from that page's form: the hidden _contains=数据 of the last one does not stick
    form = {"_search": "热线", "_filter_column": "", "_filter_op": "exact", "_filter_value": "", "_contains": "数据"}
    with urllib.request.urlopen(f"{base}/{db}/pages?" + urllib.parse.urlencode(form), timeout=10) as r:
        page = r.read().decode("utf-8")
    assert '1 row where title, url or text contains &#34;热线&#34;' in page and "数据&#34;" not in page
    form["_search"] = "数据开放"
    with urllib.request.urlopen(f"{base}/{db}/pages?" + urllib.parse.urlencode(form), timeout=10) as r:
        page = r.read().decode("utf-8")
    assert "1 row where search matches &#34;数据开放&#34; sorted" in page
    meta = _get(f"{base}/-/metadata.json")
    assert meta["title"] == "windvane evidence store"
    tables = meta["databases"][db]["tables"]
    assert tables["pages"]["columns"]["final_url"] == "URL after redirects"
    assert "fts_table" in tables["pages"] and "description" in tables["sites"]
    with urllib.request.urlopen(f"{base}/{db}/pages", timeout=10) as r:
        html = r.read().decode("utf-8")
    assert "URL after redirects" in html and 'name="_search"' in html      # column help, search box
    # the audit app's secrets read as NULL, in the table view and in any SQL
    assert _get(f"{base}/{db}/auditors.json?_shape=array") == [
        {"name": "auditor1", "password_hash": None, "created_at": "2025-08-01T00:00:00Z", "active": 1}]
    for sql in ("select password_hash from auditors", "select value from meta where key = 'audit_secret_key'",
                "select group_concat(password_hash) || 'x' from (select * from auditors)"):
        rows = _get(f"{base}/{db}.json?" + urllib.parse.urlencode({"sql": sql, "_shape": "arrayfirst"}))
        assert rows in ([None], ["x"]), (sql, rows)
    assert _get(f"{base}/{db}.json?" + urllib.parse.urlencode(
        {"sql": "select value from meta where key = 'schema_version'", "_shape": "arrayfirst"})) == [None]
    # a second server on the same port: one clear line, no traceback
    second = subprocess.run([WINDVANE, "datasette", "--store", str(store.path), "--port", str(served["port"])],
                            capture_output=True, text=True, timeout=30)
    assert second.returncode == 2 and "Traceback" not in second.stderr
    err = [line for line in second.stderr.splitlines() if "error" in line]
    assert len(err) == 1 and "already in use" in err[0] and f"--port {served['port'] + 1}" in err[0]
