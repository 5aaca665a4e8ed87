"""`windvane crawl --frontier redis://…`: one campaign shared by crawls on several "machines" (crawlers/frontier.py).

A real redis-server on 127.0.0.1 (Debian's, started here), real ``windvane crawl`` processes, each
with its own store shard as a machine would have, over the simulated web whose request log says
what was fetched. Killing one crawl (kill -9, the whole process group: a machine that dies) leaves
its sites to the other, which takes them over from Redis where the dead one stopped.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from evidence.warc import read_record
from tests.test_crawl import ROOT, WINDVANE, _simweb_registry, rows, run_crawl

# two sites at a time per crawl (--concurrency 2 with a delay): the sites are shared between the crawls
ARGS = ["--depth", "1", "--max-pages", "400", "--platform-pages", "1000", "--concurrency", "2", "--delay", "0.05"]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    exe = shutil.which("redis-server")
    assert exe, "redis-server is missing: apt-get install -y redis-server (./setup.sh installs it)"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(d)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis
    r = redis.Redis(port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            r.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline and proc.poll() is None, "redis-server did not start"
            time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


def _crawl_cmd(tmp: Path, proxy: str, store: str, campaign: str, *extra: str) -> list[str]:
    return [str(WINDVANE), "crawl", "--registry", str(tmp / "reg.csv"), "--proxy", proxy, "--store", str(tmp / store),
            "--campaign", campaign, "--json", "--quiet", *ARGS, *extra]


def _requests(log: Path) -> dict[str, list[float]]:
    """host+path of every GET the simulated web answered -> the times it was asked."""
    out: dict[str, list[float]] = collections.defaultdict(list)
    for r in map(json.loads, log.read_text("utf-8").splitlines()):
        if r["method"] == "GET":
            out[f"{r['host']}{r['path']}"].append(r["t"])
    return out


def _host_path(url: str) -> str:
    return url.split("://", 1)[1]


def _stored(db: Path, campaign: str = "fc") -> int:
    try:
        return rows(db, "select count(*) from pages where campaign=?", (campaign,))[0][0]
    except sqlite3.OperationalError:
        return 0


@pytest.fixture(scope="module")
def shared(tmp_path_factory, redis_url):
    """Crawl ``fc`` by two crawls sharing the frontier, one killed halfway; ``ref`` by one plain crawl."""
    import redis

    from simweb.server import SimWebProcess
    tmp = tmp_path_factory.mktemp("frontier")
    reg = _simweb_registry(tmp, 4)
    # the unknown fifth site is a copy of the first: without its platforms, so that no branch is shared
    # by two sites (a branch shared across machines is not deduplicated: see crawlers/frontier.py)
    crawl_reg = (tmp / "reg.csv").read_text(encoding="utf-8").splitlines()
    head = crawl_reg[0].split(",")
    last = crawl_reg[-1].split(",")
    for col in ("zwfw_url", "opendata_url"):
        last[head.index(col)] = ""
    (tmp / "reg.csv").write_text("\n".join([*crawl_reg[:-1], ",".join(last)]) + "\n", encoding="utf-8")
    out: dict = {"tmp": tmp}
    frontier = redis_url
    r = redis.Redis.from_url(frontier, decode_responses=True)
    log = tmp / "requests-fc.jsonl"
    with SimWebProcess(str(reg), seed=2023, port=0, faults="basic", request_log=str(log)) as web:
        lease = ["--frontier", frontier, "--lease", "3", "--workers", "1"]
        a = subprocess.Popen(_crawl_cmd(tmp, web.proxy_url, "a.db", "fc", *lease), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True)
        b = subprocess.Popen(_crawl_cmd(tmp, web.proxy_url, "b.db", "fc", *lease), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=ROOT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and a.poll() is None and _stored(tmp / "a.db") < 40:
            time.sleep(0.05)
        assert a.poll() is None, "crawl A ended before it could be killed: " + a.communicate()[1]
        held = {k.rsplit(":", 1)[1] for k in r.keys("windvane:fc:lease:*")
                if r.get(k).split(":")[1] != str(b.pid)}
        os.killpg(a.pid, signal.SIGKILL)  # the whole crawl, its worker too: a machine that dies
        killed_at = time.time()
        a.wait()
        # what the dead crawl may have fetched without a committed row: the only URLs that may come twice
        at_risk, held_hosts = set(), set()
        for sid in held:
            got = r.smembers(f"windvane:fc:got:{sid}")
            at_risk |= {_host_path(u) for u in r.hkeys(f"windvane:fc:seen:{sid}") if u not in got}
            branches = json.loads(r.hget(f"windvane:fc:meta:{sid}", "branches") or "[]")
            at_risk |= {_host_path(u.partition("#")[0]) for b in branches for u in b["seen"] if u not in got}
            held_hosts |= {u.split("/")[2] for u in r.hkeys(f"windvane:fc:seen:{sid}")}
            held_hosts |= {h for b in branches for h in b["hosts"]}
        out.update(held=held, at_risk=at_risk, held_hosts=held_hosts, a_pages=_stored(tmp / "a.db"),
                   killed_at=killed_at)
        b_out, b_err = b.communicate(timeout=180)
        assert b.returncode == 0, b_err
        out["b"] = json.loads(b_out.strip().splitlines()[-1])
        out["b_err"] = b_err
        out["frontier"] = {k: r.type(k) for k in r.keys("windvane:fc:*")}
        out["done"] = r.smembers("windvane:fc:done")
    out["log-fc"] = log
    ref_log = tmp / "requests-ref.jsonl"
    with SimWebProcess(str(reg), seed=2023, port=0, faults="basic", request_log=str(ref_log)) as web:
        out["ref"] = run_crawl(tmp, web.proxy_url, *ARGS, "--workers", "1", campaign="ref")
    out["log-ref"] = ref_log
    merge = subprocess.run([str(WINDVANE), "merge", str(tmp / "a.db"), str(tmp / "b.db"), "--store", str(tmp / "m.db")],
                           capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert merge.returncode == 0, merge.stderr
    return out


def test_a_dead_crawls_sites_are_taken_over_and_finished(shared):
    assert shared["held"], "the killed crawl held no site"
    assert len(shared["held"]) < 4  # the other crawl had sites of its own
    assert shared["a_pages"] >= 40
    assert shared["b"]["status"] == "finished", shared["b_err"]
    assert shared["b"]["frontier"] == {"todo": 0, "active": 0, "done": 5}
    assert "Traceback" not in shared["b_err"]
    # the survivor crawled the dead one's sites: its shard holds them, finished
    b_sites = {r["site_id"]: r["status"] for r in rows(shared["tmp"] / "b.db", "select site_id, status from sites "
                                                       "where campaign='fc' and status is not null")}
    assert shared["held"] <= set(b_sites)
    merged = {r["site_id"]: r["status"] for r in rows(shared["tmp"] / "m.db", "select site_id, status from sites "
                                                      "where campaign='fc'")}
    assert sorted(merged.values()).count("done") == 4 and "crawling" not in merged.values()


def test_the_shards_merged_hold_what_one_crawl_holds(shared):
    tmp = shared["tmp"]
    ref = {r["url"]: r["sha256"] for r in rows(tmp / "s.db", "select url, sha256 from pages where campaign='ref'")}
    merged = {r["url"]: r["sha256"] for r in rows(tmp / "m.db", "select url, sha256 from pages where campaign='fc'")}
    assert len(ref) > 100
    assert {u: merged.get(u) for u in ref} == ref  # nothing lost, same bodies
    # a row more: a request of the dead crawl sent again whose redirect (a login page) one process had
    # reached from another link first and dropped as a duplicate; the same body, under one more URL
    extra = {u: h for u, h in merged.items() if u not in ref}
    assert all(_host_path(u) in shared["at_risk"] and h in set(ref.values()) for u, h in extra.items()), extra
    assert len(extra) <= 5
    # both shards contributed, and every merged row points at its WARC record
    from_a = rows(tmp / "a.db", "select count(*) from pages where campaign='fc'")[0][0]
    assert 0 < from_a < len(merged)
    warc_dir = tmp / "m.files" / "fc" / "warc"
    for p in rows(tmp / "m.db", "select * from pages where campaign='fc'"):
        uri, _h, body = read_record(warc_dir, p["warc_file"], p["warc_offset"])
        assert uri == p["final_url"] and hashlib.sha256(body).hexdigest() == p["sha256"]
    warcio = ROOT / ".venv" / "bin" / "warcio"
    for f in (tmp / "b.files" / "fc" / "warc").glob("*.warc.gz"):  # the survivor's files (the dead one's may end cut)
        assert subprocess.run([str(warcio), "check", str(f)], capture_output=True).returncode == 0, f


def test_no_url_fetched_twice_but_what_the_dead_crawl_had_in_flight(shared):
    fc, ref = _requests(shared["log-fc"]), _requests(shared["log-ref"])
    assert set(fc) == set(ref)  # the same pages fetched
    twice = {u for u, ts in fc.items() if len(ts) > len(ref[u])}
    # robots.txt is read by every process that crawls a host (politeness rules are never taken on trust)
    robots = {u for u in twice if u.endswith("/robots.txt")}
    assert {u.split("/")[0] for u in robots} <= shared["held_hosts"] | {"tyrz." + h.split(".", 1)[1]
                                                                        for h in shared["held_hosts"]}
    twice -= robots
    # a URL fetched again is one the dead crawl had asked for in its last seconds: in flight, or stored
    # in a batch not yet committed (2 s) or not yet recorded in Redis (1 s); never one from before
    window = 6.0
    early = {u: shared["killed_at"] - min(fc[u]) for u in twice if min(fc[u]) < shared["killed_at"] - window}
    assert not early, early
    assert len(twice) <= 40, sorted(twice)


def test_a_campaign_started_with_other_settings_is_refused(shared, redis_url):
    tmp = shared["tmp"]
    p = subprocess.run(_crawl_cmd(tmp, "http://127.0.0.1:9", "c.db", "fc", "--frontier", redis_url, "--depth", "3"),
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert "other settings" in p.stderr and "depth: 1 there, 3 here" in p.stderr and "--force" in p.stderr


def test_an_unreachable_frontier_is_one_line(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    _simweb_registry(tmp_path, 1)
    p = subprocess.run(_crawl_cmd(tmp_path, "http://127.0.0.1:9", "s.db", "x", "--frontier",
                                  f"redis://127.0.0.1:{port}/0"), capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot reach Redis" in lines[0] and f"127.0.0.1:{port}" in lines[0], p.stderr


def test_a_dead_worker_on_this_machine_frees_its_sites_at_once(shared, redis_url):
    """--workers 2 on one machine, a lease far longer than the crawl: only the parent's release lets the
    surviving worker take the dead one's sites over."""
    import redis

    from simweb.server import SimWebProcess
    from tests.test_crawl_workers import _children
    tmp = shared["tmp"]
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    with SimWebProcess(str(tmp / "simweb-registry.csv"), seed=2023, port=0, faults="basic") as web:
        cmd = _crawl_cmd(tmp, web.proxy_url, "w.db", "fw", "--frontier", redis_url, "--lease", "600", "--workers", "2")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None and _stored(tmp / "w.db", "fw") < 40:
            time.sleep(0.05)
        workers = {Path(f"/proc/{c}/cmdline").read_bytes().split(b"\0")[-2].decode(): c for c in _children(proc.pid)}
        assert set(workers) == {"0", "1"}, workers
        held = {k.rsplit(":", 1)[1] for k in r.keys("windvane:fw:lease:*") if r.get(k).endswith(":1")}
        assert held, "worker 1 held no site when it was killed"
        os.kill(workers["1"], signal.SIGKILL)
        out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert "worker 1 stopped unexpectedly" in err and "free for another worker to take over" in err
    assert "Traceback" not in err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["frontier"] == {"todo": 0, "active": 0, "done": 5}
    pages = {p["url"]: p["sha256"] for p in rows(tmp / "w.db", "select url, sha256 from pages where campaign='fw'")}
    ref = {p["url"]: p["sha256"] for p in rows(tmp / "s.db", "select url, sha256 from pages where campaign='ref'")}
    assert {u: pages.get(u) for u in ref} == ref  # nothing lost, same bodies
    extra = {u: h for u, h in pages.items() if u not in ref}  # see test_the_shards_merged_hold_what_one_crawl_holds
    assert len(extra) <= 5 and set(extra.values()) <= set(ref.values()), extra
    statuses = {p["site_id"]: p["status"] for p in rows(tmp / "w.db", "select site_id, status from sites "
                                                        "where campaign='fw'")}
    assert "crawling" not in statuses.values() and list(statuses.values()).count("done") == 4
