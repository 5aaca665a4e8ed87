"""Resume after kill -9, anywhere; a campaign keeps the settings it started with (issue 10, items 3 and 5).

The kill test crawls three sites of the simulated web (``faults="full"``) through its proxy with
real ``windvane crawl`` subprocesses: 410000 and 530100 from the page that links their
attachment-only regulation (a DOCX; a PDF behind a ``downfile.jsp`` 302), so attachments are
fetched at depth 1, and 371300, whose portal is a 412 JavaScript cookie challenge Chromium
renders. An uninterrupted crawl is the reference; the same sites are then crawled into another
campaign of the same store, and the crawl's whole process group is SIGKILLed five times at
seeded random moments (when the campaign's WARC files have grown by a random share of what is
left to crawl, plus a random pause: mid-site, mid-record, mid-attachment, during the browser),
each time resumed with ``windvane crawl --campaign NAME``. The end: the same (url, sha256) set
as the reference, every row's sha256 that of its WARC payload, ``warcio check`` passing on
every file.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from evidence.recovery import recover_campaign, scan_warc
from evidence.registry import DEFAULT_REGISTRY, load_registry
from evidence.store import Store
from evidence.warc import WarcArchive, read_record
from tests.conftest import ROOT, WINDVANE

WARCIO = str(Path(WINDVANE).parent / "warcio")
SEED = 20261201
KILLS = 5
TORN_AT = 2  # after this kill, the newest WARC file also ends inside a record
# site: the page its crawl starts from (None: its portal)
SITES = {
    "410000": "https://www.henan.gov.cn/zwgk/zcwj/202107/t20210722_3591.html",
    "530100": "https://www.km.gov.cn/art/2023/4/30/art_566671_2650.html",
    "371300": None,  # 临沂: the portal is a 412 cookie challenge, rendered by Chromium
}
KEPT = ["--depth", "1", "--max-pages", "1000", "--as-of", "2023-10-31"]  # the campaign's settings
# no platforms (crawlers/scope.py): their budgets are cut by the order of answers, and this test compares page
# sets (tests/test_crawl_presence.py resumes an interrupted crawl of platforms)
RUN = ["--timeout", "6", "--delay", "0", "--platform-pages", "0"]  # this run's


def _registry(tmp: Path) -> Path:
    rows = list(csv.DictReader(io.StringIO(DEFAULT_REGISTRY.read_text(encoding="utf-8-sig"))))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    for r in rows:
        if r["site_id"] in SITES:
            w.writerow({**r, "portal_url": SITES[r["site_id"]] or r["portal_url"]})
    p = tmp / "reg.csv"
    p.write_text(buf.getvalue(), encoding="utf-8")
    return p


def _crawl_cmd(db: Path, campaign: str, proxy: str, *extra: str) -> list[str]:
    return [WINDVANE, "crawl", "--store", str(db), "--campaign", campaign, "--proxy", proxy, "--json", "--quiet",
            *extra]


def _query(db: Path, sql: str, args: tuple = ()) -> list[tuple]:
    try:
        conn = sqlite3.connect(db, timeout=10)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return []


def _warc_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.glob("*.warc.gz")) if folder.is_dir() else 0


def _torn_record() -> bytes:
    """The first half of a gzipped WARC response record, as a write cut short leaves it."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=True)
    body = b"<html><body>" + "数字政府".encode() * 4000
    w.write_record(w.create_warc_record("https://www.henan.gov.cn/torn.html", "response", payload=io.BytesIO(body),
                                        http_headers=StatusAndHeaders("200 OK", [], protocol="HTTP/1.1")))
    return buf.getvalue()[: len(buf.getvalue()) // 2]


def _wait_for_lock(path: Path, timeout: float = 30.0) -> None:
    import fcntl
    deadline = time.monotonic() + timeout
    with open(path, "a+") as fh:
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
                return
            except OSError:
                assert time.monotonic() < deadline, f"{path}: still held {timeout} s after the kill"
                time.sleep(0.05)


def _browsers_of(proxy: str, grace: float = 10.0) -> list[int]:
    """Chromium processes still running with this proxy (only this test's crawls use it), after a grace period."""
    deadline = time.monotonic() + grace
    while True:
        pids = []
        for d in Path("/proc").iterdir():
            try:
                if d.name.isdigit() and f"--proxy-server={proxy}".encode() in (d / "cmdline").read_bytes():
                    pids.append(int(d.name))
            except OSError:
                continue
        if not pids or time.monotonic() > deadline:
            return pids
        time.sleep(0.2)


def _check_archive(db: Path, campaign: str) -> int:
    """Every page row's sha256 is its WARC payload's; ``warcio check`` passes on every file; returns the files."""
    warc_dir = db.with_suffix(".files") / campaign / "warc"
    for url, sha, f, off, roff in _query(db, "SELECT url, sha256, warc_file, warc_offset, rendered_warc_offset "
                                             "FROM pages WHERE campaign=?", (campaign,)):
        _u, _h, body = read_record(warc_dir, f, off)
        assert hashlib.sha256(body).hexdigest() == sha, url
        if roff is not None:
            assert read_record(warc_dir, f, roff)[2], url  # the rendered DOM is there too
    files = sorted(str(f) for f in warc_dir.glob("*.warc.gz"))
    check = subprocess.run([WARCIO, "check", *files], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-2000:]
    return len(files)


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    from simweb.server import SimWebProcess

    tmp = tmp_path_factory.mktemp("kill")
    reg = _registry(tmp)
    db = tmp / "s.db"
    rnd = random.Random(SEED)
    kills: list[dict] = []
    torn: tuple[str, int] | None = None
    with SimWebProcess(str(reg), seed=2023, faults="full") as web:
        ref = subprocess.run(_crawl_cmd(db, "ref", web.proxy_url, "--registry", str(reg), *KEPT, *RUN),
                             capture_output=True, text=True, timeout=180, cwd=ROOT)
        assert ref.returncode == 0, ref.stderr[-3000:]
        ref_bytes = _warc_bytes(tmp / "s.files" / "ref" / "warc")
        ref_pages = dict(_query(db, "SELECT site_id, count(*) FROM pages WHERE campaign='ref' GROUP BY site_id"))
        warc_dir = tmp / "s.files" / "k" / "warc"
        first = [*KEPT, "--registry", str(reg)]  # the campaign starts with these; resumes name none of them
        for i in range(KILLS):
            done = {r[0] for r in _query(db, "SELECT site_id FROM sites WHERE campaign='k' AND status='done'")}
            left = sum(n for s, n in ref_pages.items() if s not in done) / sum(ref_pages.values())
            assert left > 0, f"kill {i + 1}: every site is done already; kill earlier"
            # a resumed site is crawled again from its portal: what is left to write is about left * ref_bytes
            grow = rnd.uniform(0.03, 0.5) * left * ref_bytes
            pause = rnd.uniform(0.0, 0.25)
            start = _warc_bytes(warc_dir)
            proc = subprocess.Popen(_crawl_cmd(db, "k", web.proxy_url, *RUN, *(first if i == 0 else [])), cwd=ROOT,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline and _warc_bytes(warc_dir) - start < grow:
                time.sleep(0.02)
            time.sleep(pause)
            assert proc.poll() is None, f"kill {i + 1}: the crawl ended before it could be killed: {proc.stderr.read()}"
            os.killpg(proc.pid, signal.SIGKILL)  # the crawl and every process it started (workers, Chromium's driver)
            _out, err = proc.communicate(timeout=30)
            assert proc.returncode == -signal.SIGKILL
            _wait_for_lock(tmp / "s.files" / "k" / "crawl.lock")  # workers die with their parent (PDEATHSIG)
            if i == TORN_AT:
                # warcio flushes every record whole, so a kill lands inside a record's write only now and
                # then: leave what such a kill leaves, the first part of a record, at the end of the newest file
                newest = max(warc_dir.glob("*.warc.gz"), key=lambda f: f.stat().st_mtime_ns)
                with open(newest, "ab") as fh:
                    fh.write(_torn_record())
                torn = (newest.name, newest.stat().st_size)
            kills.append({"grew": _warc_bytes(warc_dir) - start, "target": int(grow), "stderr": err, "done": len(done),
                          "pages": _query(db, "SELECT count(*) FROM pages WHERE campaign='k'")[0][0]})
        last = subprocess.run(_crawl_cmd(db, "k", web.proxy_url, *RUN), capture_output=True, text=True, timeout=180,
                              cwd=ROOT)
        leftover = _browsers_of(web.proxy_url)
    assert last.returncode == 0, last.stderr[-3000:]
    return {"db": db, "tmp": tmp, "kills": kills, "last": last, "leftover": leftover, "torn": torn, "ref": json.loads(ref.stdout.strip().splitlines()[-1]),
            "summary": json.loads(last.stdout.strip().splitlines()[-1])}


def test_killed_and_resumed_crawl_equals_an_uninterrupted_one(killed):
    db = killed["db"]
    assert len(killed["kills"]) == KILLS
    assert all(k["done"] < len(SITES) for k in killed["kills"])  # every kill came while there was work left
    pages = {c: set(_query(db, "SELECT url, sha256 FROM pages WHERE campaign=?", (c,))) for c in ("ref", "k")}
    assert pages["k"] == pages["ref"]
    assert {r[0] for r in _query(db, "SELECT status FROM sites WHERE campaign='k'")} == {"done"}
    kinds = dict(_query(db, "SELECT kind || '/' || via, count(*) FROM pages WHERE campaign='k' GROUP BY 1"))
    assert kinds.get("attachment/http", 0) >= 2 and kinds.get("html/browser", 0) >= 1, kinds
    # every run after a kill saw the crash, and said what recovery found (records without a row, cut records)
    said = [k["stderr"] for k in killed["kills"][1:]]
    if killed["summary"]["status"] != "nothing to do":  # (the last kill may have come as the crawl was ending)
        said.append(killed["last"].stderr)
    # (a kill that lands before the crash marker is written leaves only WARC records without rows behind:
    # such a run says what recovery found instead)
    assert all("did not stop cleanly" in e or "crawl: recovery: " in e for e in said), said
    assert any("did not stop cleanly" in e for e in said) and any("crawl: recovery: " in e for e in said), said
    assert "Traceback" not in "".join(said)
    assert not killed["leftover"], f"Chromium processes outlived the killed crawls: {killed['leftover']}"
    # the last run finishes what the kills left (or finds it finished when a kill came after the last site)
    assert killed["summary"]["status"] in ("finished", "nothing to do"), killed["summary"]
    assert killed["ref"]["status"] == "finished"


def test_every_row_has_its_record_and_every_warc_file_is_whole(killed):
    db = killed["db"]
    assert _check_archive(db, "k") >= KILLS + 1  # one file series per run, each cut back to whole records
    assert _check_archive(db, "ref") >= 1
    # what recovery did is recorded: every file of the killed runs was checked
    actions = {r[0] for r in _query(db, "SELECT action FROM warc_recoveries WHERE campaign='k'")}
    assert actions <= {"truncated", "orphans", "rows_dropped", "missing_file"}
    # the record cut short was cut off, back to the size the file had before it, and recorded
    name, size = killed["torn"]
    cut = [json.loads(r[0]) for r in _query(db, "SELECT detail FROM warc_recoveries WHERE campaign='k' AND "
                                                "action='truncated' AND file=?", (name,))]
    assert cut and cut[0]["size_after"] < cut[0]["size_before"] == size, cut
    assert (killed["tmp"] / "s.files" / "k" / "warc" / name).stat().st_size == cut[0]["size_after"]
    resumed = killed["kills"][TORN_AT + 1]["stderr"] if TORN_AT + 1 < KILLS else killed["last"].stderr
    assert f"crawl: recovery: {name}: cut back from {size} to {cut[0]['size_after']} bytes" in resumed
    checked = {r[0] for r in _query(db, "SELECT file FROM warc_files WHERE campaign='k'")}
    assert checked == {p.name for p in (killed["tmp"] / "s.files" / "k" / "warc").glob("*.warc.gz")}


# --- recovery on a hand-made crash: a record cut short, an orphan, a row whose record is gone ------------------
def test_recovery_cuts_a_torn_record_drops_rows_without_records_and_reports_orphans(tmp_path):
    reg = load_registry()
    with Store(tmp_path / "s.db") as st:
        st.open_campaign("c", reg)
        warc_dir = st.campaign_dir("c") / "warc"
        arch = WarcArchive(warc_dir, "c", writer_id="crash")
        refs = [arch.write_response(f"https://www.hangzhou.gov.cn/{i}", 200, "OK", [("Content-Type", "text/html")],
                                    f"<p>页面 {i}</p>".encode() * 500, "2026-12-01T00:00:00Z") for i in range(4)]
        arch.flush()
        name = refs[0].file
        path = warc_dir / name
        whole = path.stat().st_size
        arch._fh.close()  # the process "dies": no row for records 2 and 3 is ever committed
        rows = [{"campaign": "c", "site_id": "330100", "url": f"https://www.hangzhou.gov.cn/{i}", "status": 200,
                 "sha256": r.sha256, "warc_file": r.file, "warc_offset": r.offset, "warc_length": r.length}
                for i, r in enumerate(refs[:2])]
        rows.append({**rows[1], "url": "https://www.hangzhou.gov.cn/lost", "warc_offset": whole + 10})
        st.add_pages(rows)
        st.conn.execute("UPDATE sites SET status='done' WHERE campaign='c' AND site_id='330100'")
        st.conn.commit()
        # a record cut short at the end of the file, as a kill -9 in the middle of a write leaves it
        torn = gzip.compress(b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 9999\r\n\r\n" + b"x" * 5000)
        with open(path, "ab") as fh:
            fh.write(torn[: len(torn) // 2])
        assert scan_warc(path).problem
        assert subprocess.run([WARCIO, "check", str(path)], capture_output=True).returncode != 0

        report = recover_campaign(st, "c")
        assert path.stat().st_size == whole and scan_warc(path).problem is None
        assert subprocess.run([WARCIO, "check", str(path)], capture_output=True).returncode == 0
        assert report.truncated[name][:2] == (whole + len(torn) // 2, whole)
        assert report.orphans == {name: 2}  # records 2 and 3: kept, reported
        assert report.rows_dropped == ["https://www.hangzhou.gov.cn/lost"]
        assert report.sites_reopened == ["330100"]  # it lost a page: crawled again
        kept = {r[0] for r in st.conn.execute("SELECT url FROM pages WHERE campaign='c'")}
        assert kept == {"https://www.hangzhou.gov.cn/0", "https://www.hangzhou.gov.cn/1"}
        lines = report.lines()
        assert any("cut back" in x for x in lines) and any("have no page row" in x for x in lines)
        logged = {r[0]: json.loads(r[1]) for r in st.conn.execute(
            "SELECT action, detail FROM warc_recoveries WHERE campaign='c'")}
        assert logged["truncated"]["size_after"] == whole and logged["orphans"]["records"] == 2
        # a second recovery trusts the checked file and finds nothing to do
        again = recover_campaign(st, "c")
        assert again.files_trusted == 1 and not again.lines()


def test_recovery_leaves_a_file_a_live_writer_holds_alone(tmp_path):
    with Store(tmp_path / "s.db") as st:
        st.open_campaign("c", load_registry())
        arch = WarcArchive(st.campaign_dir("c") / "warc", "c", writer_id="live")
        arch.write_response("https://www.hangzhou.gov.cn/", 200, "OK", [], b"x" * 100_000, "2026-12-01T00:00:00Z")
        # the record is only partly written out (Python's buffer holds the rest): a reader sees a torn end
        report = recover_campaign(st, "c")
        assert report.files_busy == [arch.files[0].name] and not report.truncated
        arch.close()
        assert scan_warc(arch.files[0]).problem is None


# --- a campaign keeps the settings it started with ------------------------------------------------------------
def _settings_campaign(tmp: Path) -> tuple[Path, Path]:
    from crawlers.run import CrawlOptions

    reg_path = tmp / "reg.csv"
    reg_path.write_text(REGISTRY_ONE, encoding="utf-8")
    db = tmp / "s.db"
    with Store(db) as st:
        opts = CrawlOptions(store=str(db), campaign="c", depth=4, max_pages=400, browser="auto")
        st.open_campaign("c", load_registry(reg_path), config=opts.public(), as_of="2023-10-31")
    return db, reg_path


REGISTRY_ONE = """target_id,group,site_id,name_zh,admin_code,portal_url
province-1,province,s1,甲省,110000,http://www.s1.gov.cn/
"""


def test_resume_with_other_settings_is_refused_naming_each(tmp_path, cli):
    db, reg_path = _settings_campaign(tmp_path)
    other = tmp_path / "other.csv"
    other.write_text(REGISTRY_ONE + "province-2,province,s2,乙省,120000,http://www.s2.gov.cn/\n", encoding="utf-8")
    p = cli("crawl", "--store", str(db), "--campaign", "c", "--registry", str(other), "--as-of", "2022-10-31",
            "--depth", "2", "--max-pages", "50", "--ignore-robots", "--browser", "never", "--max-attachments", "5")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    err = p.stderr.strip()
    assert len(err.splitlines()) == 1, err  # one clear line
    for said in (f"registry {reg_path} (1 rows", f"→ {other} (2 rows", "as-of 2023-10-31 → 2022-10-31",
                 "--depth 4 → 2", "--max-pages 400 → 50", "robots.txt obeyed yes → no", "--browser auto → never",
                 "--max-attachments 300 → 5", "--force"):
        assert said in err, (said, err)
    # the same registry at another path is the same registry; the proxy is not a setting of the campaign
    same = tmp_path / "copy.csv"
    same.write_text(REGISTRY_ONE, encoding="utf-8")
    p = cli("crawl", "--store", str(db), "--campaign", "c", "--registry", str(same), "--depth", "3",
            "--proxy", "http://127.0.0.1:9")
    assert p.returncode == 2 and "--depth 4 → 3" in p.stderr and "registry" not in p.stderr.split("settings:")[1]
    row = _query(db, "SELECT registry_csv, config, as_of, notes FROM campaigns WHERE campaign='c'")[0]
    assert row[0] == REGISTRY_ONE and json.loads(row[1])["depth"] == 4 and row[2] == "2023-10-31" and row[3] is None


def test_forced_resume_keeps_the_campaign_settings_and_notes_the_change(tmp_path, cli):
    from tests.test_crawl_web import FixtureWeb

    db, reg_path = _settings_campaign(tmp_path)
    with FixtureWeb(["www.s1.gov.cn"]) as web:
        p = cli("crawl", "--store", str(db), "--campaign", "c", "--proxy", web.proxy_url, "--depth", "1",
                "--as-of", "2022-10-31", "--delay", "0", "--quiet", "--json", "--force", timeout=120)
        assert p.returncode == 0, p.stderr
        assert "--force" in p.stderr and "--depth 4 → 1" in p.stderr and "as-of 2023-10-31 → 2022-10-31" in p.stderr
        assert json.loads(p.stdout.strip().splitlines()[-1])["status"] == "finished"
        assert max(r[0] for r in _query(db, "SELECT depth FROM pages WHERE campaign='c'")) == 1  # forced: used
        row = _query(db, "SELECT registry_csv, config, as_of, notes FROM campaigns WHERE campaign='c'")[0]
        assert row[0] == REGISTRY_ONE and json.loads(row[1])["depth"] == 4 and row[2] == "2023-10-31"
        assert "resumed with --force: as-of 2023-10-31 → 2022-10-31; --depth 4 → 1" in row[3]
        # resuming with no options at all: the campaign's own settings and registry snapshot, no refusal
        p = cli("crawl", "--store", str(db), "--campaign", "c", "--proxy", web.proxy_url, "--delay", "0",
                "--quiet", "--json", timeout=120)
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout.strip().splitlines()[-1])["status"] == "nothing to do"
