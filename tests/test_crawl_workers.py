"""`windvane crawl --workers N`: several crawler processes on one campaign (crawlers/workers.py).

Real crawls as subprocesses over loopback: the simulated web (its own request log says what
was fetched) and the small fixture web of tests/test_crawl_web.py for a worker killed mid-crawl.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from evidence.warc import read_record
from tests.test_crawl import REGISTRY, ROOT, WINDVANE, _simweb_registry, rows, run_crawl
from tests.test_crawl_web import FixtureWeb

# no platforms (crawlers/scope.py): their budgets are cut by the order of responses, and these tests
# compare the page sets of one and two processes
SIM_ARGS = ["--depth", "1", "--max-pages", "400", "--platform-pages", "0"]


def _requests(log: Path) -> collections.Counter:
    return collections.Counter((r["host"], r["path"], r["method"])
                               for r in map(json.loads, log.read_text(encoding="utf-8").splitlines()))


@pytest.fixture(scope="module")
def two_ways(tmp_path_factory):
    """Five sites (four on the simulated web) crawled by one process (campaign ``one``) and by two (``two``)."""
    simweb_server = pytest.importorskip("simweb.server")
    tmp = tmp_path_factory.mktemp("workers")
    reg = _simweb_registry(tmp, 4)  # the crawl's registry (tmp/reg.csv) has a fifth site the web does not know
    out = {"tmp": tmp}
    for campaign, workers in (("one", "1"), ("two", "2")):
        log = tmp / f"requests-{campaign}.jsonl"
        with simweb_server.SimWebProcess(str(reg), seed=2023, port=0, faults="basic", request_log=str(log)) as web:
            out[campaign] = run_crawl(tmp, web.proxy_url, *SIM_ARGS, "--workers", workers, campaign=campaign)
        out[f"log-{campaign}"] = log
    return out


def test_two_workers_store_what_one_stores(two_ways):
    db = two_ways["tmp"] / "s.db"
    assert two_ways["one"]["workers"] == 1 and two_ways["two"]["workers"] == 2
    assert two_ways["two"]["status"] == "finished" and two_ways["two"]["site_status"] == {"done": 4, "unreachable": 1}
    pages = {c: {r["url"]: r["sha256"] for r in rows(db, "select url, sha256 from pages where campaign=?", (c,))}
             for c in ("one", "two")}
    assert len(pages["one"]) > 100 and pages["two"] == pages["one"]  # same URLs, same bodies
    assert two_ways["two"]["pages"] == len(pages["two"])
    budget = rows(db, "select site_id from sites where json_extract(coverage, '$.budget_reached')")
    assert not budget  # no budget cut: the page sets do not depend on the order of responses


def test_no_url_fetched_twice_and_each_site_in_one_worker(two_ways):
    one, two = _requests(two_ways["log-one"]), _requests(two_ways["log-two"])
    # exactly the requests of one process: a site crawled twice would fetch its portal and robots.txt twice
    assert two == one
    db = two_ways["tmp"] / "s.db"
    by_site = {r["site_id"]: json.loads(r["coverage"])["worker"]
               for r in rows(db, "select site_id, coverage from sites where campaign='two'")}
    assert set(by_site.values()) == {0, 1}  # five sites spread over both workers
    # every page of a site was written by the worker that crawled it, into that worker's own WARC files
    for p in rows(db, "select site_id, warc_file from pages where campaign='two'"):
        assert f"-w{by_site[p['site_id']]}-" in p["warc_file"], (p["site_id"], p["warc_file"])


def test_every_row_points_at_its_record(two_ways):
    tmp = two_ways["tmp"]
    warc_dir = tmp / "s.files" / "two" / "warc"
    files = {p.name for p in warc_dir.glob("*.warc.gz")}
    assert any("-w0-" in f for f in files) and any("-w1-" in f for f in files)
    for p in rows(tmp / "s.db", "select * from pages where campaign='two'"):
        assert p["warc_file"] in files
        uri, _headers, body = read_record(warc_dir, p["warc_file"], p["warc_offset"])
        assert uri == p["final_url"] and hashlib.sha256(body).hexdigest() == p["sha256"]
    warcio = ROOT / ".venv" / "bin" / "warcio"
    for f in warc_dir.glob("*.warc.gz"):
        assert subprocess.run([str(warcio), "check", str(f)], capture_output=True).returncode == 0, f


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def test_a_dead_worker_is_one_line_and_its_site_resumes(tmp_path):
    (tmp_path / "reg.csv").write_text(REGISTRY.replace("province-3,province,s3,丙省,130000,"
                                                       "http://www.unreachable.gov.cn/\n", ""), encoding="utf-8")
    args = ["--depth", "6", "--max-pages", "40", "--workers", "2"]
    db = tmp_path / "s.db"

    def stored(site: str) -> int:
        try:
            return rows(db, "select count(*) from pages where campaign='k' and site_id=?", (site,))[0][0]
        except sqlite3.OperationalError:
            return 0

    with FixtureWeb(["www.s1.gov.cn", "www.s2.gov.cn"], delay=0.3) as web:
        cmd = [str(WINDVANE), "crawl", "--registry", str(tmp_path / "reg.csv"), "--proxy", web.proxy_url,
               "--store", str(db), "--campaign", "k", "--json", "--quiet", "--delay", "0", *args]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None and (stored("s1") < 3 or stored("s2") < 3):
            time.sleep(0.05)
        assert proc.poll() is None, "the crawl ended before a worker could be killed: " + proc.communicate()[1]
        # the worker that crawls s1: its WARC files are named by its slot, its command line ends with the slot
        s1_file = rows(db, "select warc_file from pages where campaign='k' and site_id='s1' limit 1")[0][0]
        slot = s1_file.split("-w")[-1].split("-")[0]
        workers = {Path(f"/proc/{c}/cmdline").read_bytes().split(b"\0")[-2].decode(): c for c in _children(proc.pid)}
        assert set(workers) == {"0", "1"}, workers
        os.kill(workers[slot], signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        summary = json.loads(out.strip().splitlines()[-1])
        died = [line for line in err.splitlines() if "stopped unexpectedly" in line]
        assert len(died) == 1 and "s1 甲省" in died[0] and "resumable" in died[0], err
        assert "Traceback" not in err
        assert summary["status"] == "crashed"
        statuses = {r["site_id"]: r["status"] for r in rows(db, "select site_id, status from sites where campaign='k'")}
        assert statuses == {"s1": "crawling", "s2": "done"}
        again = run_crawl(tmp_path, web.proxy_url, *args, campaign="k")
        run_crawl(tmp_path, web.proxy_url, "--depth", "6", "--max-pages", "40", "--workers", "1",
                              campaign="ref")
    assert again["status"] == "finished" and again["skipped_done"] == 1
    assert {r["status"] for r in rows(db, "select status from sites where campaign='k'")} == {"done"}
    urls = {c: {r["url"] for r in rows(db, "select url from pages where campaign=?", (c,))} for c in ("k", "ref")}
    assert urls["k"] == urls["ref"]
    assert not rows(db, "select url from pages group by campaign, url having count(*) > 1")
