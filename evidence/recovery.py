"""Crash recovery of a campaign's archive: WARC files cut short, page rows without their record.

A crawl writes every WARC record, flushes and fsyncs it, and only then commits the rows that
point at it (``crawlers.pipeline.PageWriter.flush``). A crawl killed at any moment (kill -9,
power cut) can therefore leave, per WARC file it was writing:

* a **truncated last record** (part of a gzip member): ``recover_campaign`` cuts the file back
  to the end of its last complete record (``os.truncate``), so readers (``warcio check``,
  ``ArchiveIterator``, ``read_record``) never meet it;
* **orphan records**: complete records whose page row was still queued when the process died.
  They are *reported*, not indexed: they stay in the file as valid WARC records (an archive is
  append-only evidence of what was fetched), their number and URIs are recorded in
  ``warc_recoveries``, and since they have no page row the resumed crawl fetches their URLs
  again (which writes a new record and the row that points at it).

And, whatever the cause (a power cut that lost WARC bytes the OS had not yet written, a file
deleted by hand), a **page row whose record is missing, cut short or holds another body** is
dropped (its URL has no page, so the resumed crawl fetches it again); a ``done`` site that lost
a page goes back to ``crawling`` so it is crawled again. TLS probe rows are checked the same way.

Cost. A file is scanned (every gzip member decompressed, CRC-checked) once: its size after
the check is kept in ``warc_files``, and a file of the same size later is trusted with a
cheap check (every row's record lies inside the file). A file another live process is writing
(it holds an ``flock`` on it, see ``evidence.warc.WarcArchive``) is never scanned or cut.

Every action is a ``warc_recoveries`` row (``campaign``, ``at``, ``file``, ``action``:
``truncated`` / ``orphans`` / ``rows_dropped`` / ``missing_file``, ``detail``) and a line of
``RecoveryReport.lines()``, which ``windvane crawl`` prints.
"""

from __future__ import annotations

import fcntl
import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evidence.store import Store, StoreError, now_iso

_CHUNK = 1 << 20
_HEAD_KEEP = 1 << 14  # decompressed bytes kept per record: enough for its WARC headers

_TABLES = """
CREATE TABLE IF NOT EXISTS warc_files (
  campaign TEXT, file TEXT, size INTEGER, records INTEGER, checked_at TEXT,
  PRIMARY KEY (campaign, file));
CREATE TABLE IF NOT EXISTS warc_recoveries (
  id INTEGER PRIMARY KEY, campaign TEXT, at TEXT, file TEXT, action TEXT, detail TEXT);
"""


@dataclass
class Record:
    """One complete record of a WARC file: where it is and what its headers say."""

    offset: int
    length: int
    warc_type: str
    uri: str | None
    sha256: str | None  # WARC-Payload-Digest-SHA256 (windvane writes it on every record)


@dataclass
class WarcScan:
    """What ``scan_warc`` found: the complete records, where they end, and what follows."""

    path: Path
    size: int
    records: list[Record]
    good_end: int  # the end of the last complete record: everything after it is unreadable
    problem: str | None = None  # why the bytes after ``good_end`` are unreadable, None when there are none


def _warc_headers(head: bytes) -> tuple[dict[str, str], int] | None:
    """The WARC headers of a decompressed record's beginning (lower-case names) and the block's start."""
    end = head.find(b"\r\n\r\n")
    if end < 0 or not head.startswith(b"WARC/"):
        return None
    headers: dict[str, str] = {}
    for line in head[:end].decode("utf-8", "replace").split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers, end + 4


def _members(fh: Any) -> Iterator[tuple[int, int | None, bytes, int, str | None]]:
    """Every gzip member of ``fh`` from its start: (offset, length, first decompressed bytes, decompressed
    size, problem); the last one yielded has length None and a problem when the file ends inside a
    member or holds bytes that are not gzip."""
    offset = 0
    pending = b""
    while True:
        data = pending or fh.read(_CHUNK)
        if not data:
            return
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        head = bytearray()
        out_size = used = 0
        while True:
            try:
                out = d.decompress(data)
            except zlib.error as e:
                yield offset, None, bytes(head), out_size, f"not a gzip member ({e})"
                return
            out_size += len(out)
            if len(head) < _HEAD_KEEP:
                head += out[:_HEAD_KEEP - len(head)]
            if d.eof:
                used += len(data) - len(d.unused_data)
                pending = d.unused_data
                break
            used += len(data)
            data = fh.read(_CHUNK)
            if not data:
                yield offset, None, bytes(head), out_size, "the file ends inside a record (cut short)"
                return
        yield offset, used, bytes(head), out_size, None
        offset += used


def scan_warc(path: str | Path) -> WarcScan:
    """Read a gzipped WARC file member by member (one record per member, CRC-checked by zlib).

    A record is complete when its gzip member ends with a good CRC and holds the WARC headers, the
    ``Content-Length`` bytes of its block and the closing CRLF CRLF. The scan stops at the first
    incomplete or unreadable member: ``good_end`` is where it starts.
    """
    path = Path(path)
    records: list[Record] = []
    good_end, problem = 0, None
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        for offset, length, head, out_size, why in _members(fh):
            if length is None:
                problem = why
                break
            parsed = _warc_headers(head)
            if parsed is None:
                problem = f"no WARC record at offset {offset}"
                break
            headers, start = parsed
            try:
                declared = int(headers.get("content-length", ""))
            except ValueError:
                problem = f"record at offset {offset} without a Content-Length"
                break
            if out_size != start + declared + 4:
                problem = f"record at offset {offset} holds {out_size - start - 4} of {declared} bytes"
                break
            records.append(Record(offset, length, headers.get("warc-type", ""), headers.get("warc-target-uri"),
                                  headers.get("warc-payload-digest-sha256")))
            good_end = offset + length
    if problem is None and good_end != size:
        problem = "bytes after the last record"
    return WarcScan(path, size, records, good_end, problem)


@dataclass
class RecoveryReport:
    """What ``recover_campaign`` did (every action is also a ``warc_recoveries`` row)."""

    files_checked: int = 0
    files_trusted: int = 0
    files_busy: list[str] = field(default_factory=list)
    truncated: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # file: (size before, after, why)
    orphans: dict[str, int] = field(default_factory=dict)  # file: complete records no row points at
    rows_dropped: list[str] = field(default_factory=list)  # URLs whose row lost its record
    tls_dropped: list[str] = field(default_factory=list)
    sites_reopened: list[str] = field(default_factory=list)  # done sites that lost pages: crawled again

    def lines(self) -> list[str]:
        """One line per kind of action (nothing when the archive was whole)."""
        out = [f"{f}: cut back from {a} to {b} bytes, the end of its last complete record ({why})"
               for f, (a, b, why) in self.truncated.items()]
        if self.orphans:
            n = sum(self.orphans.values())
            out.append(f"{n} complete WARC record(s) in {len(self.orphans)} file(s) have no page row (the crawl "
                       f"stopped before committing them): kept in the archive, reported in warc_recoveries; "
                       f"their URLs are fetched again")
        if self.rows_dropped:
            out.append(f"{len(self.rows_dropped)} page row(s) pointed at a missing or incomplete WARC record and were "
                       f"dropped, to be fetched again (first: {self.rows_dropped[0]})")
        if self.tls_dropped:
            out.append(f"{len(self.tls_dropped)} TLS probe row(s) lost their WARC record and were dropped")
        if self.sites_reopened:
            out.append(f"site(s) {', '.join(self.sites_reopened)} lost pages and will be crawled again")
        return out


def _try_lock(fh: Any) -> bool:
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def _log(conn: Any, campaign: str, file: str, action: str, detail: Any) -> None:
    conn.execute("INSERT INTO warc_recoveries (campaign, at, file, action, detail) VALUES (?, ?, ?, ?, ?)",
                 [campaign, now_iso(), file, action, json.dumps(detail, ensure_ascii=False)])


def recover_campaign(store: Store, campaign: str) -> RecoveryReport:
    """Make the campaign's WARC files and page rows agree again after a crash (see the module doc).

    Call it while holding the campaign's crawl lock (``crawlers.run.CampaignLock``), before the
    crawl reads which sites are ``done``. Cheap when nothing crashed: files already checked at
    their current size are only compared with the rows' offsets.
    """
    conn = store.conn
    conn.executescript(_TABLES)
    warc_dir = store.files_dir / campaign / "warc"
    report = RecoveryReport()
    checked = {r[0]: r[1] for r in conn.execute("SELECT file, size FROM warc_files WHERE campaign=?", [campaign])}
    # every row that points into the archive: (table, key, url, site, file, offsets that must be record starts)
    refs: dict[str, list[tuple[str, Any, str, str, list[tuple[int, int | None, str | None]]]]] = {}
    for pid, url, site, f, off, length, sha, roff in conn.execute(
            "SELECT id, url, site_id, warc_file, warc_offset, warc_length, sha256, rendered_warc_offset "
            "FROM pages WHERE campaign=? AND warc_file IS NOT NULL", [campaign]):
        want = [(off, length, sha)] + ([(roff, None, None)] if roff is not None else [])
        refs.setdefault(f, []).append(("pages", pid, url, site, want))
    for host, port, site, f, off in conn.execute(
            "SELECT host, port, site_id, warc_file, warc_offset FROM tls_probes WHERE campaign=? "
            "AND warc_file IS NOT NULL", [campaign]):
        refs.setdefault(f, []).append(("tls_probes", (host, port), f"https://{host}:{port}/", site, [(off, None, None)]))
    bad: list[tuple[str, Any, str, str]] = []
    names = sorted(p.name for p in warc_dir.glob("*.warc.gz")) if warc_dir.is_dir() else []
    for name in names:
        try:
            fh = open(warc_dir / name, "rb+")  # noqa: SIM115 - closed below
        except OSError as e:
            raise StoreError(f"{warc_dir / name}: cannot check this WARC file after a crash ({e.strerror}); "
                             f"nothing was changed") from None
        with fh:
            if not _try_lock(fh):  # a live writer (another process) holds it: not ours to judge
                report.files_busy.append(name)
                continue
            size = os.fstat(fh.fileno()).st_size
            rows = refs.get(name, [])
            if checked.get(name) == size:  # checked before at this size: only the bounds of its rows
                report.files_trusted += 1
                bad += [(t, k, u, s) for t, k, u, s, want in rows
                        if any(off is None or off >= size or (ln is not None and off + ln > size)
                               for off, ln, _sha in want)]
                continue
            scan = scan_warc(warc_dir / name)
            report.files_checked += 1
            if scan.problem is not None and scan.good_end < size:
                fh.truncate(scan.good_end)
                fh.flush()
                os.fsync(fh.fileno())
                if scan.good_end == 0:  # not even its warcinfo record was complete: an empty file helps no one
                    (warc_dir / name).unlink()
                report.truncated[name] = (size, scan.good_end, scan.problem)
                _log(conn, campaign, name, "truncated", {"size_before": size, "size_after": scan.good_end,
                                                         "why": scan.problem})
            starts = {r.offset: r for r in scan.records}
            used: set[int] = set()
            for t, k, u, s, want in rows:
                ok = True
                for off, ln, sha in want:
                    rec = starts.get(off)
                    if rec is None or (ln is not None and rec.length != ln) or (sha and rec.sha256 and rec.sha256 != sha):
                        ok = False
                    else:
                        used.add(off)
                if not ok:
                    bad.append((t, k, u, s))
            orphans = [r for r in scan.records if r.offset not in used and r.warc_type in ("response", "resource")]
            if orphans:
                # challenge shells (crawlers.browser) are archived without a row by design: only those the
                # crawl stores as pages are orphans, but a record cannot tell which; all are listed
                report.orphans[name] = len(orphans)
                _log(conn, campaign, name, "orphans", {"records": len(orphans),
                                                       "uris": [r.uri for r in orphans][:200]})
            if scan.good_end:
                conn.execute("INSERT OR REPLACE INTO warc_files (campaign, file, size, records, checked_at) "
                             "VALUES (?, ?, ?, ?, ?)", [campaign, name, scan.good_end, len(scan.records), now_iso()])
    missing = sorted(set(refs) - {n for n in names if (warc_dir / n).exists()})
    for name in missing:
        bad += [(t, k, u, s) for t, k, u, s, _w in refs[name]]
        _log(conn, campaign, name, "missing_file", {"rows": len(refs[name])})
    pages = [(k, u, s) for t, k, u, s in bad if t == "pages"]
    tls = [(k, u, s) for t, k, u, s in bad if t == "tls_probes"]
    if pages:
        conn.executemany("DELETE FROM pages WHERE id=?", [(k,) for k, _u, _s in pages])
        report.rows_dropped = [u for _k, u, _s in pages]
        _log(conn, campaign, "", "rows_dropped", {"urls": report.rows_dropped[:500], "count": len(pages)})
    if tls:
        conn.executemany("DELETE FROM tls_probes WHERE campaign=? AND host=? AND port=?",
                         [(campaign, *k) for k, _u, _s in tls])
        report.tls_dropped = [u for _k, u, _s in tls]
    lost_sites = sorted({s for _k, _u, s in pages + tls if s})
    if lost_sites:
        marks = ", ".join("?" * len(lost_sites))
        report.sites_reopened = [r[0] for r in conn.execute(
            f"SELECT site_id FROM sites WHERE campaign=? AND status='done' AND site_id IN ({marks})",
            [campaign, *lost_sites])]
        conn.executemany("UPDATE sites SET status='crawling', finished_at=NULL WHERE campaign=? AND site_id=?",
                         [(campaign, s) for s in report.sites_reopened])
    conn.commit()
    return report


def mark_checked(store: Store, campaign: str, files: list[Path]) -> None:
    """Record files a writer closed cleanly (flushed, fsynced) as checked at their size: the next
    ``recover_campaign`` trusts them without a scan."""
    conn = store.conn
    conn.executescript(_TABLES)
    rows = [(campaign, p.name, p.stat().st_size, None, now_iso()) for p in files if p.exists()]
    conn.executemany("INSERT OR REPLACE INTO warc_files (campaign, file, size, records, checked_at) "
                     "VALUES (?, ?, ?, ?, ?)", rows)
    conn.commit()
