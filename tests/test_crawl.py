"""Real crawls over real HTTP on 127.0.0.1 through a proxy, run as `windvane crawl` subprocesses.

The web is the small fixture of tests/test_crawl_web.py (two reachable sites, one host
the proxy cannot reach); the full simulated web is exercised by bench/crawl.py.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from evidence.warc import read_record
from tests.test_crawl_web import FixtureWeb

ROOT = Path(__file__).resolve().parent.parent
WINDVANE = ROOT / ".venv" / "bin" / "windvane"
WARCIO = ROOT / ".venv" / "bin" / "warcio"

REGISTRY = """target_id,group,site_id,name_zh,admin_code,portal_url
province-1,province,s1,甲省,110000,http://www.s1.gov.cn/
province-2,province,s2,乙省,120000,http://www.s2.gov.cn/
capital-2,capital,s2,乙省,120000,http://www.s2.gov.cn/
province-3,province,s3,丙省,130000,http://www.unreachable.gov.cn/
"""


def run_crawl(tmp: Path, proxy: str, *extra: str, campaign: str = "t") -> dict:
    cmd = [str(WINDVANE) if WINDVANE.exists() else sys.executable, "crawl", "--registry", str(tmp / "reg.csv"),
           "--proxy", proxy, "--store", str(tmp / "s.db"), "--campaign", campaign, "--json", "--quiet", "--delay", "0", *extra]
    if not WINDVANE.exists():
        cmd[1:1] = ["-m", "windvane.cli"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crawl")
    (tmp / "reg.csv").write_text(REGISTRY, encoding="utf-8")
    with FixtureWeb(["www.s1.gov.cn", "www.s2.gov.cn"]) as web:
        first = run_crawl(tmp, web.proxy_url, "--depth", "3", "--max-pages", "20")
        log_after_first = list(web.log)
        second = run_crawl(tmp, web.proxy_url, "--depth", "3", "--max-pages", "20")
        yield {"tmp": tmp, "web": web, "first": first, "second": second, "log": log_after_first}


def rows(db: Path, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def test_pages_stored_with_text_and_metadata(crawled):
    db = crawled["tmp"] / "s.db"
    assert crawled["first"]["pages"] > 20
    pages = rows(db, "select * from pages where campaign='t'")
    by_url = {p["url"]: p for p in pages}
    portal = by_url["http://www.s1.gov.cn/"]
    assert portal["status"] == 200 and portal["depth"] == 0 and portal["kind"] == "html"
    assert portal["title"] == "www.s1.gov.cn 门户" and portal["via"] == "http"
    assert json.loads(portal["headers"])["Content-Type"].startswith("text/html")
    p1 = by_url["http://www.s1.gov.cn/p1"]
    assert "数据安全" in p1["text"]  # inline markup adds no spaces
    assert "不可见" not in p1["text"] and "color:red" not in p1["text"] and "comment" not in p1["text"]
    assert p1["referrer"] == "http://www.s1.gov.cn/"
    gbk = by_url["http://www.s1.gov.cn/gbk"]
    assert gbk["encoding"] == "gb18030" and "国标编码页面" in gbk["text"] and gbk["title"].endswith("编码")
    assert by_url["http://www.s1.gov.cn/missing"]["status"] == 404  # non-2xx are kept too
    # only the site's own host; the https twin of a page is the same page
    assert all(p["url"].startswith(("http://www.s1.gov.cn/", "http://www.s2.gov.cn/")) for p in pages)
    assert not any("other.example.org" in u for u in crawled["log"])
    sites = {r["site_id"]: r for r in rows(db, "select * from sites where campaign='t'")}
    assert sites["s1"]["status"] == "done" and sites["s1"]["pages"] == sum(p["site_id"] == "s1" for p in pages)


def test_every_page_points_at_its_warc_record(crawled):
    tmp = crawled["tmp"]
    warc_dir = tmp / "s.files" / "t" / "warc"
    pages = rows(tmp / "s.db", "select * from pages where campaign='t'")
    for p in pages:
        uri, headers, body = read_record(warc_dir, p["warc_file"], p["warc_offset"])
        assert uri == p["final_url"]
        assert hashlib.sha256(body).hexdigest() == p["sha256"]
        assert len(body) == p["size"]
        assert not {"Content-Length", "Content-Encoding", "Transfer-Encoding"} & set(headers)
    for f in warc_dir.glob("*.warc.gz"):
        check = subprocess.run([str(WARCIO), "check", str(f)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def test_rerun_adds_no_duplicates_and_skips_done_sites(crawled):
    tmp = crawled["tmp"]
    db = tmp / "s.db"
    dupes = rows(db, "select url, count(*) n from pages group by campaign, url having n > 1")
    assert not dupes
    assert crawled["second"]["skipped_done"] == 2  # s1, s2 done; s3 failed, so tried again
    n_before = crawled["first"]["pages"]
    assert len(rows(db, "select id from pages where campaign='t'")) == n_before
    # a third run with a new campaign name into the same store stores the pages again, separately
    with FixtureWeb(["www.s1.gov.cn"]) as web:
        summary = run_crawl(tmp, web.proxy_url, "--depth", "1", "--site", "s1", campaign="t2")
    assert summary["pages"] > 1
    assert len(rows(db, "select id from pages where campaign='t'")) == n_before


def test_unreachable_site_is_a_failure_naming_the_url(crawled):
    db = crawled["tmp"] / "s.db"
    fails = rows(db, "select * from failures where campaign='t' and site_id='s3'")
    assert [f["url"] for f in fails] == ["http://www.unreachable.gov.cn/"]
    assert "connection" in fails[0]["reason"]
    site = rows(db, "select * from sites where campaign='t' and site_id='s3'")[0]
    # not assessed, with the reason: the host did not answer (robots.txt first: RFC 9309 complete disallow)
    assert site["status"] == "unreachable" and "http://www.unreachable.gov.cn/" in site["error"]
    assert "host unreachable" in site["error"] and "connection" in site["error"]
    # the unreachable portal, two pages over the size limit, two sites' /doc.pdf (not a readable PDF)
    assert crawled["first"]["failures"] == 5


def test_page_over_the_size_limit_is_a_failure(crawled):
    db = crawled["tmp"] / "s.db"
    fails = rows(db, "select * from failures where campaign='t' and url like '%/huge'")
    assert {f["url"] for f in fails} == {"http://www.s1.gov.cn/huge", "http://www.s2.gov.cn/huge"}
    assert all("larger than the download limit (20 MB)" in f["reason"] for f in fails)
    assert not rows(db, "select * from pages where url like '%/huge'")


def test_robots_txt_is_obeyed(crawled):
    assert any(u.endswith("/robots.txt") for u in crawled["log"])
    assert not any("/private/" in u for u in crawled["log"])
    db = crawled["tmp"] / "s.db"
    blocked = rows(db, "select * from failures where reason like 'robots.txt%'")
    assert {b["url"] for b in blocked} == {"http://www.s1.gov.cn/private/secret",
                                           "http://www.s2.gov.cn/private/secret"}


def test_depth_and_page_budget(tmp_path):
    (tmp_path / "reg.csv").write_text(REGISTRY, encoding="utf-8")
    with FixtureWeb(["www.s1.gov.cn", "www.s2.gov.cn"]) as web:
        summary = run_crawl(tmp_path, web.proxy_url, "--depth", "2", "--max-pages", "8", "--site", "s1")
        log = list(web.log)
    pages = rows(tmp_path / "s.db", "select * from pages where kind != 'probe'")  # probes are outside the budget
    assert summary["sites"] == 1 and 1 < len(pages) <= 8
    assert max(p["depth"] for p in pages) <= 2
    assert all(p["site_id"] == "s1" for p in pages)
    fetched = [u for u in log if not u.endswith(("/robots.txt", "/sitemap.xml")) and "windvane-404-check" not in u]
    assert len(fetched) <= 8 and not any("s2.gov.cn" in u for u in fetched)


# --- the simulated web: real https:// registry URLs through its CONNECT proxy ---------------------
def _simweb_registry(tmp: Path, n_sites: int = 2) -> Path:
    import csv
    import io
    text = (ROOT / "data" / "registry.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    sites = list(dict.fromkeys(r["site_id"] for r in rows))[:n_sites]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(r for r in rows if r["site_id"] in sites)
    simweb_reg = tmp / "simweb-registry.csv"
    simweb_reg.write_text(buf.getvalue(), encoding="utf-8")
    # the crawl registry has one more site, on a host the simulated web does not know
    extra = dict(rows[0], target_id="province-999999", site_id="999999", admin_code="999999",
                 name_zh="无此省", portal_url="https://www.nowhere-999.gov.cn/")
    w2 = csv.DictWriter(buf2 := io.StringIO(), fieldnames=list(rows[0]))
    w2.writeheader()
    w2.writerows([*(r for r in rows if r["site_id"] in sites), extra])
    (tmp / "reg.csv").write_text(buf2.getvalue(), encoding="utf-8")
    return simweb_reg


def test_crawl_of_the_simulated_web(tmp_path):
    simweb_server = pytest.importorskip("simweb.server")
    simweb_reg = _simweb_registry(tmp_path)
    with simweb_server.SimWebProcess(str(simweb_reg), seed=2023, port=0) as web:
        first = run_crawl(tmp_path, web.proxy_url, "--depth", "2", "--max-pages", "60", campaign="sim")
        second = run_crawl(tmp_path, web.proxy_url, "--depth", "2", "--max-pages", "60", campaign="sim")
    db = tmp_path / "s.db"
    all_pages = rows(db, "select * from pages where campaign='sim'")
    assert first["pages"] == len(all_pages) > 20
    pages = [p for p in all_pages if p["kind"] != "probe"]  # probes (http://HOST/ …) are outside the budget
    assert second["pages"] == 0 and second["skipped_done"] == 2
    assert all(p["url"].startswith("https://") for p in pages)
    # the portal within --depth and --max-pages; its service and open-data platforms each within their own budget
    portal = [p for p in pages if p["platform"] == "portal"]
    assert max(p["depth"] for p in portal) <= 2
    per_site: dict[str, int] = {}
    for p in portal:
        per_site[p["site_id"]] = per_site.get(p["site_id"], 0) + 1
    assert set(per_site) == {p["site_id"] for p in pages} and max(per_site.values()) <= 60 and len(per_site) == 2
    per_platform: dict[tuple[str, str], int] = {}
    for p in pages:
        if p["platform"] != "portal":
            per_platform[p["site_id"], p["platform"]] = per_platform.get((p["site_id"], p["platform"]), 0) + 1
    assert max(per_platform.values(), default=0) <= 60  # --platform-pages (default 60)
    # robots.txt of the simulated web disallows its search pages
    assert not any(seg in p["url"] for p in pages for seg in ("/search/", "/was5/", "/jsearchfront/"))
    warc_dir = tmp_path / "s.files" / "sim" / "warc"
    for p in pages:
        _, _, body = read_record(warc_dir, p["warc_file"], p["warc_offset"])
        assert hashlib.sha256(body).hexdigest() == p["sha256"]
    for f in warc_dir.glob("*.warc.gz"):
        assert subprocess.run([str(WARCIO), "check", str(f)], capture_output=True).returncode == 0
    fails = rows(db, "select * from failures where campaign='sim' and site_id='999999'")
    assert [f["url"] for f in fails] == ["https://www.nowhere-999.gov.cn/"]
    assert "502" in fails[0]["reason"]
    assert not rows(db, "select url from pages group by campaign, url having count(*) > 1")


def interrupted_crawl(tmp: Path, web: FixtureWeb, args: list[str], until: Callable[[list[str]], bool],
                      campaign: str = "i") -> dict:
    """Run ``windvane crawl`` and stop it with Ctrl-C (SIGINT) once ``until(web.log)``; its summary."""
    import signal
    import time
    cmd = [str(WINDVANE), "crawl", "--registry", str(tmp / "reg.csv"), "--proxy", web.proxy_url,
           "--store", str(tmp / "s.db"), "--campaign", campaign, "--json", "--quiet", "--delay", "0", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not until(list(web.log)):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["status"] == "shutdown", err
    return summary


def test_interrupted_crawl_resumes_to_the_same_pages(tmp_path):
    (tmp_path / "reg.csv").write_text(REGISTRY.replace("province-3,province,s3,丙省,130000,"
                                                       "http://www.unreachable.gov.cn/\n", ""), encoding="utf-8")
    args = ["--depth", "6", "--max-pages", "40"]
    with FixtureWeb(["www.s1.gov.cn", "www.s2.gov.cn"], delay=0.08) as web:
        first = interrupted_crawl(tmp_path, web, args, lambda log: sum(u.startswith("www.s1") for u in log) >= 12)
        second = run_crawl(tmp_path, web.proxy_url, *args, campaign="i")
        reference = run_crawl(tmp_path, web.proxy_url, *args, campaign="ref")
    assert second["status"] == "finished" and 0 < first["pages"] < reference["pages"]
    db = tmp_path / "s.db"
    urls = {c: {r["url"] for r in rows(db, "select url from pages where campaign=?", (c,))} for c in ("i", "ref")}
    assert urls["i"] == urls["ref"]
    assert not rows(db, "select url from pages group by campaign, url having count(*) > 1")
    assert {r["status"] for r in rows(db, "select status from sites where campaign='i'")} == {"done"}


def test_crawl_after_a_hard_crash_completes_the_unfinished_sites(tmp_path):
    """kill -9 a running crawl once some pages are stored; the next run sees the crash and finishes the job."""
    import signal
    import time
    (tmp_path / "reg.csv").write_text(REGISTRY.replace("province-3,province,s3,丙省,130000,"
                                                       "http://www.unreachable.gov.cn/\n", ""), encoding="utf-8")
    args = ["--depth", "6", "--max-pages", "40"]
    db = tmp_path / "s.db"
    cdir = tmp_path / "s.files" / "c"

    def stored() -> int:
        try:
            return rows(db, "select count(*) from pages where campaign='c'")[0][0]
        except sqlite3.OperationalError:  # the store or its tables are not there yet
            return 0

    with FixtureWeb(["www.s1.gov.cn", "www.s2.gov.cn"], delay=0.3) as web:
        cmd = [str(WINDVANE), "crawl", "--registry", str(tmp_path / "reg.csv"), "--proxy", web.proxy_url,
               "--store", str(db), "--campaign", "c", "--json", "--quiet", "--delay", "0", *args]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None and stored() < 5:
            time.sleep(0.05)
        assert proc.poll() is None, "the crawl ended before it could be killed: " + proc.communicate()[1]
        proc.send_signal(signal.SIGKILL)  # no handler runs: no queue saved, no site finished, no row flushed
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        killed_pages = stored()
        statuses = {r["status"] for r in rows(db, "select status from sites where campaign='c'")}
        assert (cdir / "windvane-crawl.running").exists()  # the crash is visible to the next run
        assert killed_pages >= 5 and "crawling" in statuses, (killed_pages, statuses)

        again = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert again.returncode == 0, again.stderr
        assert "did not stop cleanly" in again.stderr
        summary = json.loads(again.stdout.strip().splitlines()[-1])
        reference = run_crawl(tmp_path, web.proxy_url, *args, campaign="ref")
    assert summary["status"] == "finished" and summary["pages"] > 0 and reference["status"] == "finished"
    assert not (cdir / "windvane-crawl.running").exists()
    assert {r["status"] for r in rows(db, "select status from sites where campaign='c'")} == {"done"}
    urls = {c: {r["url"] for r in rows(db, "select url from pages where campaign=?", (c,))} for c in ("c", "ref")}
    assert killed_pages < len(urls["ref"]) and urls["c"] == urls["ref"]  # the resumed crawl has every page
    assert not rows(db, "select url from pages group by campaign, url having count(*) > 1")
    # every stored row points at complete bytes, those of the killed run included
    warc_dir = cdir / "warc"
    for p in rows(db, "select url, sha256, warc_file, warc_offset from pages where campaign='c'"):
        _, _, body = read_record(warc_dir, p["warc_file"], p["warc_offset"])
        assert hashlib.sha256(body).hexdigest() == p["sha256"], p["url"]
