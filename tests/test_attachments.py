"""Attachments, encodings and probe pages, through a real crawl of the simulated web with ``faults="full"``.

One `windvane crawl` (Scrapy over real HTTP on 127.0.0.1 through the simulated web's proxy)
of six sites picked from the truth file for their faults:

* 410000 and 370100 (TRS): an attachment-only regulation each, ``./P0….docx`` and ``./P0….pdf``
  (since the sites' leaves come from simweb/profile.py, 410000 no longer has the PDF one);
* 320800 (Hanweb, GBK without any declaration): an attachment-only regulation behind
  ``downfile.jsp?filename=….pdf`` (302 to the file);
* 330200: a truncated PDF and a 30 MB page;
* 330000: a 60 MB attachment;
* 530000 (GBK): document pages sent with ``charset=UTF-8`` in the HTTP header.

Then `windvane extract` over the store, and `windvane inspect` on GBK files written here.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from evidence.registry import DEFAULT_REGISTRY
from evidence.warc import read_record
from tests.conftest import run_cli

SITES = {"410000": {"attachment_only"}, "370100": {"attachment_only"}, "320800": {"attachment_only", "charset_undeclared"},
         "330200": {"corrupt_attachment", "oversized_page"}, "330000": {"huge_attachment"},
         "530000": {"charset_header_utf8"}}
CAMPAIGN = "att"


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    from simweb.server import SimWebProcess

    tmp = tmp_path_factory.mktemp("attachments")
    store, truth_path = tmp / "s.db", tmp / "truth.json"
    with SimWebProcess(str(DEFAULT_REGISTRY), seed=2023, truth_path=str(truth_path), faults="full") as web:
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        for sid, faults in SITES.items():  # the truth still gives these sites the faults we test
            assert faults <= set(truth["sites"][sid]["faults"]), (sid, truth["sites"][sid]["faults"])
        args = ["crawl", "--proxy", web.proxy_url, "--ca-bundle", web.ca_path, "--store", str(store), "--campaign", CAMPAIGN,
                "--browser", "never", "--timeout", "10", "--json", "--quiet", "--delay", "0"]
        for sid in SITES:
            args += ["--site", sid]
        p = run_cli(*args, check=True, timeout=240)
    summary = json.loads(p.stdout.strip().splitlines()[-1])
    run_cli("extract", "--store", str(store), "--campaign", CAMPAIGN, check=True, timeout=240)
    conn = sqlite3.connect(store)
    conn.row_factory = sqlite3.Row
    yield {"tmp": tmp, "store": store, "truth": truth, "summary": summary, "conn": conn}
    conn.close()


def _details(truth: dict, sid: str, kind: str) -> list[dict]:
    return [d for d in truth["sites"][sid]["fault_details"] if d["kind"] == kind]


def test_crawl_finishes_every_site(crawl):
    assert crawl["summary"]["status"] == "finished"
    rows = crawl["conn"].execute("select site_id, status, pages from sites where campaign=? and status is not null",
                                 [CAMPAIGN]).fetchall()
    assert {r["site_id"]: r["status"] for r in rows} == dict.fromkeys(SITES, "done")
    assert all(r["pages"] > 100 for r in rows)  # the failures below did not stop anything


def test_attachment_only_regulations_are_stored_and_found(crawl):
    conn, truth = crawl["conn"], crawl["truth"]
    checked = 0
    for sid in ("410000", "370100", "320800"):
        for d in _details(truth, sid, "attachment_only"):
            final = d["urls"][0]
            row = conn.execute("select * from pages where campaign=? and final_url=?", [CAMPAIGN, final]).fetchone()
            assert row is not None, f"{final} not stored"
            assert row["kind"] == "attachment" and row["status"] == 200
            assert row["url"] == d["link"]  # as linked (Hanweb: the downfile.jsp gateway, before its 302)
            assert row["referrer"] == d["parent"]
            parent = conn.execute("select url from pages where id=?", [row["parent_id"]]).fetchone()
            assert parent is not None and parent["url"] == d["parent"]
            assert "发布机构" in row["text"] and "成文日期" in row["text"] and row["title"]
            # the raw file is in the WARC, byte for byte what the row's sha256 says
            folder = crawl["store"].with_suffix(".files") / CAMPAIGN / "warc"
            _uri, _h, body = read_record(folder, row["warc_file"], row["warc_offset"])
            assert body[:4] in (b"%PDF", b"PK\x03\x04")
            import hashlib
            assert hashlib.sha256(body).hexdigest() == row["sha256"]
            # windvane extract found the regulation in the attachment, as evidence of its leaf
            ev = conn.execute("select * from evidence where campaign=? and page_id=? and leaf_id=?",
                              [CAMPAIGN, row["id"], d["leaf"]]).fetchall()
            assert ev, f"no {d['leaf']} evidence on {final}"
            values = json.loads(ev[0]["values"])
            assert values["doc_number"] and values["issuer"] and values["written_date"]
            assert final in truth["sites"][sid]["leaves"][d["leaf"]]["attachment_urls"]
            checked += 1
    assert checked == 3  # a DOCX and a PDF on TRS, a PDF behind Hanweb's gateway


def test_broken_and_oversized_files_are_failures_with_reasons(crawl):
    conn, truth = crawl["conn"], crawl["truth"]
    fails = {r["url"]: r for r in conn.execute("select * from failures where campaign=?", [CAMPAIGN])}
    corrupt = _details(truth, "330200", "corrupt_attachment")[0]["urls"][0]
    assert "truncated or corrupt PDF" in fails[corrupt]["reason"] and corrupt in fails[corrupt]["reason"]
    # ... and its raw response is still archived
    row = conn.execute("select * from pages where campaign=? and url=?", [CAMPAIGN, corrupt]).fetchone()
    assert row["kind"] == "attachment" and row["warc_file"] and row["size"] > 0 and row["text"] == ""
    huge = _details(truth, "330000", "huge_attachment")[0]["urls"][0]
    assert fails[huge]["reason"] == f"attachment larger than the 20 MB limit: {huge}"
    big_page = _details(truth, "330200", "oversized_page")[0]["urls"][0]
    assert "larger than the download limit" in fails[big_page]["reason"]
    for url in (huge, big_page):
        assert conn.execute("select count(*) from pages where url=?", [url]).fetchone()[0] == 0


def test_gbk_pages_decode_whatever_they_declare(crawl):
    conn, truth = crawl["conn"], crawl["truth"]
    for sid, kind in (("530000", "charset_header_utf8"), ("320800", "charset_undeclared")):
        urls = _details(truth, sid, kind)[0]["urls"][:20]
        rows = conn.execute(f"select url, encoding, text from pages where campaign=? and kind='html' and final_url in "
                            f"({','.join('?' * len(urls))})", [CAMPAIGN, *urls]).fetchall()
        assert len(rows) >= 5, (sid, kind)
        for r in rows:
            assert r["encoding"] == "gb18030", r["url"]
            assert "李堃" in r["text"] and "王喆" in r["text"], r["url"]
            # the only bad bytes are headlines the CMS cut by byte count (gbk_cut_titles): one replacement
            # character right before the "..." of a cut title, nowhere else (no mojibake, no other script)
            assert "\ufffd" not in re.sub("\ufffd(?=\\.\\.\\.)", "", r["text"]), r["url"]
    # the header says UTF-8: the WARC keeps those original bytes (GBK), not a re-encoding
    url = _details(truth, "530000", "charset_header_utf8")[0]["urls"][0]
    row = conn.execute("select * from pages where final_url=?", [url]).fetchone()
    folder = crawl["store"].with_suffix(".files") / CAMPAIGN / "warc"
    _uri, headers, body = read_record(folder, row["warc_file"], row["warc_offset"])
    assert "utf-8" in headers.get("Content-Type", "").lower()
    assert "李堃".encode("gbk") in body


def test_probe_pages(crawl):
    conn = crawl["conn"]
    for sid in SITES:
        host = crawl["truth"]["sites"][sid]["host"]
        probes = {r["url"]: r for r in conn.execute("select * from pages where campaign=? and site_id=? "
                                                      "and kind='probe'", [CAMPAIGN, sid])}
        home = probes[f"http://{host}/"]
        assert home["final_url"] == f"https://{host}/" and home["status"] == 200
        chain = json.loads(home["redirects"])
        assert chain[0] == {"url": f"http://{host}/", "status": 301, "location": f"https://{host}/"}
        assert probes[f"https://{host}/robots.txt"]["status"] == 200
        assert "Disallow" in probes[f"https://{host}/robots.txt"]["text"]
        assert f"https://{host}/sitemap.xml" in probes
        missing = [r for u, r in probes.items() if "windvane-404-check" in u]
        soft = not crawl["truth"]["sites"][sid]["leaves"]["error_page"]["present"]  # a soft 404: 200 or 302 → home
        assert len(missing) == 1 and missing[0]["status"] == (200 if soft else 404)
    # the http matcher waiting for the probe fires: https_access.redirect on the http://HOST/ probe
    ev = conn.execute("select e.site_id from evidence e join pages p on p.id=e.page_id where "
                      "e.rule_id='https_access.redirect' and p.kind='probe'").fetchall()
    assert {r["site_id"] for r in ev} == set(SITES)


GBK_PAGE = ("<html><head>{meta}<title>石家庄市人民政府</title></head><body>"
            "<p>市政府办公室关于印发数据安全管理办法的通知</p><p>责任编辑：李堃　审核：王喆</p>"
            '<a href="https://www.sjz.gov.cn/12345/">12345政务服务便民热线</a></body></html>')


@pytest.mark.parametrize("meta", ['<meta http-equiv="Content-Type" content="text/html; charset=gb2312">', ""])
def test_inspect_decodes_gbk_files(tmp_path: Path, meta: str):
    f = tmp_path / "page.html"
    f.write_bytes(GBK_PAGE.format(meta=meta).encode("gbk"))
    p = run_cli("inspect", str(f), "--json", check=True, timeout=120)
    findings = json.loads(p.stdout)
    if isinstance(findings, dict):
        findings = findings.get("findings", [])
    hot = [x for x in findings if x["indicator_id"] == "hotline_12345"]
    assert hot and "热线" in hot[0]["snippet"]


def test_attachment_recognition_and_reading():
    from crawlers.attachments import AttachmentError, extract_text, link_format, response_format

    assert link_format("https://x.gov.cn/art/2021/P020210208962292772338.pdf") == "pdf"
    assert link_format("https://x.gov.cn/module/download/downfile.jsp?classid=0&filename=ab12.docx") == "docx"
    assert link_format("https://x.gov.cn/download?id=7", "附件1：实施方案.DOC") == "doc"
    assert link_format("https://x.gov.cn/file.ofd") == "ofd"
    assert link_format("https://x.gov.cn/art/2021/index.html", "通知") is None
    assert response_format("application/octet-stream", 'attachment; filename="a.pdf"') == "pdf"
    assert response_format("text/html; charset=utf-8", None) is None
    with pytest.raises(AttachmentError, match="no %%EOF"):
        extract_text("pdf", b"%PDF-1.4\n1 0 obj << >> endobj\n" * 10, "https://x.gov.cn/a.pdf")
    with pytest.raises(AttachmentError, match="corrupt DOCX.*https://x.gov.cn/a.docx"):
        extract_text("docx", b"PK\x03\x04 not really a zip", "https://x.gov.cn/a.docx")
