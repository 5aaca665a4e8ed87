"""Storage of crawled responses: WARC records plus page/failure rows, written in batches.

``PageWriter`` is what the spider hands every response and every failed request to.
For a response it archives the body (as Scrapy decoded the transfer, i.e. without
Content-Encoding) as one WARC ``response`` record, extracts title and visible text
with one lxml pass, and queues a ``pages`` row pointing at the record. Rows are
written with ``executemany`` every ``batch_rows`` rows or ``batch_seconds`` seconds
and on close; the WARC file is flushed before the rows that point into it are
committed (and fsynced, with the store's ``synchronous=FULL``), so neither a kill -9 nor a
power cut leaves a row pointing at bytes that are not on disk; what a crash leaves behind (a
record cut short, records without a row) is repaired by ``evidence.recovery.recover_campaign``
before the next crawl of the campaign.

``page_text`` and ``decode_hint`` are also used by tests and benchmarks.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any

from lxml import etree

from evidence.store import Store
from evidence.warc import WarcArchive

logger = logging.getLogger(__name__)

# elements whose content is never visible text
_INVISIBLE = ("script", "style", "noscript", "template", "head", etree.Comment, etree.ProcessingInstruction)
# elements that end a line of visible text
_BLOCK = ("p", "div", "br", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol",
          "dl", "dt", "dd", "section", "article", "header", "footer", "nav", "aside", "form", "pre",
          "blockquote", "hr", "title", "option", "address", "figcaption", "main")
_SPACES = re.compile(r"[^\S\n]+")
_NEWLINES = re.compile(r" ?\n[\s]*")


def page_text(root: Any) -> tuple[str | None, str]:
    """(title, visible text) of a parsed lxml HTML tree; the tree is modified (scripts removed).

    Text of block elements is separated by newlines; runs of spaces collapse to one
    space, runs of blank lines to one newline. Inline markup adds no spaces, so
    ``数据<b>安全</b>`` stays ``数据安全``.
    """
    title = None
    t = root.find(".//title")
    if t is not None:
        title = _SPACES.sub(" ", " ".join(t.itertext())).strip() or None
    body = root.find("body")
    if body is None:
        body = root
    etree.strip_elements(body, *_INVISIBLE, with_tail=False)
    for el in body.iter(*_BLOCK):
        el.tail = "\n" + el.tail if el.tail else "\n"
    text = "".join(body.itertext())
    text = _NEWLINES.sub("\n", _SPACES.sub(" ", text)).strip()
    return title, text


def _iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def decode_hint(body: bytes) -> str | None:
    """Best guess at the encoding of bytes that declare none (no header, BOM or meta charset).

    Chinese government pages first: strict UTF-8, then strict GB18030 (a superset of GBK
    and GB2312), only then charset-normalizer (``evidence.decode.detect``).
    """
    from evidence.decode import detect

    return detect(body)


class PageWriter:
    """Writes pages, failures and site status of one campaign into a store."""

    def __init__(self, store_path: str | Path, campaign: str, *, batch_rows: int = 200,
                 batch_seconds: float = 2.0, writer_id: str | None = None):
        self.store = Store(store_path)
        # every commit reaches the disk (WAL fsynced): a power cut loses at most the last batch,
        # and never a row whose WARC record is not on disk (the WARC is fsynced before each commit)
        self.store.conn.execute("PRAGMA synchronous=FULL")
        self.campaign = campaign
        self.warc_dir = self.store.campaign_dir(campaign) / "warc"
        # one WARC file series per run: never append to a file a crashed run may have cut short
        self.warc = WarcArchive(self.warc_dir, campaign,
                                writer_id=writer_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%S"))
        self.batch_rows = batch_rows
        self.batch_seconds = batch_seconds
        self._pages: list[tuple] = []
        self._failures: list[dict] = []
        self._last_flush = time.monotonic()
        self.pages_stored = 0
        self.failures_stored = 0
        self.robots_blocked = 0
        self.bytes_stored = 0
        self.pages_browser = 0  # pages stored with via='browser'
        # called after each commit with the (site_id, url) of the rows it committed (crawlers/frontier_spider.py)
        self.on_commit: Callable[[list[tuple[str, str]]], None] | None = None

    # --- rows ----------------------------------------------------------------------------
    PAGE_COLS = ("campaign", "site_id", "url", "final_url", "status", "headers", "fetched_at", "sha256",
                 "content_type", "encoding", "title", "text", "size", "depth", "referrer", "kind", "via",
                 "warc_file", "warc_offset", "warc_length", "rendered_warc_offset", "block")

    def add_page(self, *, site_id: str, url: str, final_url: str, status: int,
                 headers: list[tuple[str, str]], body: bytes, content_type: str | None,
                 encoding: str | None, title: str | None, text: str, depth: int,
                 referrer: str | None, kind: str, browser: dict | None = None, block: str | None = None) -> None:
        """Archive a response and queue its page row.

        ``browser`` (``meta['wv_browser']`` of a rendered page, see ``crawlers.browser``): the raw
        response (``raw_status``/``raw_headers``/``raw_body``) is archived instead of ``body`` and the
        rendered DOM (``body``) is added as a WARC resource record concurrent to it; the row gets
        ``via='browser'`` and ``rendered_warc_offset``. ``{"failure": reason}`` stores the page as
        fetched and a failure row saying why it could not be rendered.
        """
        fetched_at = _iso_now()
        via, rendered_offset = "http", None
        if browser and "raw_body" in browser:
            status, headers, dom = browser["raw_status"], browser["raw_headers"], body
            body = browser["raw_body"]
            content_type = next((v for k, v in headers if k.lower() == "content-type"), content_type)
        ref = self.warc.write_response(final_url, status, _reason(status), headers, body, fetched_at)
        if browser and "raw_body" in browser:
            rref = self.warc.write_response(final_url, 200, "OK", [("Content-Type", "text/html; charset=utf-8")],
                                            dom, fetched_at, record_type="resource", concurrent_to=ref.record_id)
            via, rendered_offset = "browser", rref.offset
            self.pages_browser += 1
        hdict: dict[str, str] = {}
        for k, v in headers:
            hdict[k] = f"{hdict[k]}, {v}" if k in hdict else v
        self._pages.append((
            self.campaign, site_id, url, final_url, status, json.dumps(hdict, ensure_ascii=False),
            fetched_at, ref.sha256, content_type, encoding, title, text, len(body), depth, referrer,
            kind, via, ref.file, ref.offset, ref.length, rendered_offset, block))
        self.pages_stored += 1
        if browser and "failure" in browser:
            self.add_failure(site_id=site_id, url=url, reason=browser["failure"], referrer=referrer)
        self.bytes_stored += len(body)
        self._maybe_flush()

    def add_failure(self, *, site_id: str, url: str, reason: str, status: int | None = None,
                    referrer: str | None = None, robots: bool = False) -> None:
        self._failures.append({"campaign": self.campaign, "site_id": site_id, "url": url, "reason": reason,
                               "status": status, "at": _iso_now(), "referrer": referrer})
        if robots:
            self.robots_blocked += 1
        else:
            self.failures_stored += 1
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if (len(self._pages) + len(self._failures) >= self.batch_rows
                or time.monotonic() - self._last_flush >= self.batch_seconds):
            self.flush()

    def flush(self) -> None:
        """Write queued rows; the WARC bytes they point at are flushed first."""
        self._last_flush = time.monotonic()
        if not self._pages and not self._failures:
            return
        self.warc.flush()
        conn = self.store.conn
        if self._pages:
            cols = self.PAGE_COLS
            sql = (f"INSERT INTO pages ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                   "ON CONFLICT (campaign, url) DO UPDATE SET "
                   + ", ".join(f"{c}=excluded.{c}" for c in cols if c not in ("campaign", "url")))
            conn.executemany(sql, self._pages)
            # a URL that now has a page is no longer a failure
            conn.executemany("DELETE FROM failures WHERE campaign=? AND url=?",
                             [(r[0], r[2]) for r in self._pages])
        if self._failures:
            cols2 = list(self._failures[0])
            conn.executemany(
                f"INSERT OR REPLACE INTO failures ({', '.join(cols2)}) VALUES ({', '.join('?' * len(cols2))})",
                [[r[c] for c in cols2] for r in self._failures])
        conn.commit()
        if self.on_commit is not None:
            self.on_commit([(r[1], r[2]) for r in self._pages] + [(f["site_id"], f["url"]) for f in self._failures])
        self._pages.clear()
        self._failures.clear()

    # --- sites ---------------------------------------------------------------------------
    def site_statuses(self) -> dict[str, str | None]:
        return {r[0]: r[1] for r in self.store.conn.execute(
            "SELECT site_id, status FROM sites WHERE campaign=?", [self.campaign])}

    def site_counts(self, site_id: str) -> tuple[int, int]:
        """(pages, failures) stored for the site; robots.txt refusals are not failures."""
        conn = self.store.conn
        pages = conn.execute("SELECT count(*) FROM pages WHERE campaign=? AND site_id=?",
                             [self.campaign, site_id]).fetchone()[0]
        fails = conn.execute("SELECT count(*) FROM failures WHERE campaign=? AND site_id=? "
                             "AND reason NOT LIKE 'robots.txt%'", [self.campaign, site_id]).fetchone()[0]
        return pages, fails

    def known_urls(self, site_id: str) -> set[str]:
        """Requested URLs of the site that have a page or a failure row."""
        conn = self.store.conn
        args = [self.campaign, site_id]
        return ({r[0] for r in conn.execute("SELECT url FROM pages WHERE campaign=? AND site_id=?", args)}
                | {r[0] for r in conn.execute("SELECT url FROM failures WHERE campaign=? AND site_id=?", args)})

    def site_started(self, site_id: str) -> None:
        self.store.conn.execute(
            "UPDATE sites SET status='crawling', started_at=coalesce(started_at, ?), finished_at=NULL, "
            "error=NULL WHERE campaign=? AND site_id=?", [_iso_now(), self.campaign, site_id])
        self.store.conn.commit()

    def site_coverage(self, site_id: str, extra: dict | None = None) -> dict:
        """The site's coverage from what is stored (pages, failures by kind, blocked, robots), plus ``extra``."""
        from evidence.coverage import computed_coverage
        self.flush()
        conn = self.store.conn
        cov = computed_coverage(conn, self.campaign, site_id).get(site_id) or {
            "pages": 0, "failures": {}, "blocked": 0, "robots_disallowed": 0, "rate_limited": 0}
        cov["blocked"] = cov.get("blocked", 0) + conn.execute(
            "SELECT count(*) FROM pages WHERE campaign=? AND site_id=? AND block IS NOT NULL",
            [self.campaign, site_id]).fetchone()[0]
        cov.update(extra or {})
        return cov

    def refusal_share(self, site_id: str) -> tuple[int, int]:
        """(refused or failed, attempted) content URLs of the site: what makes a crawl ``partial``.

        Refused: block/WAF/CAPTCHA/login pages and 401/403/405/407/429/451 answers; failed: 5xx,
        timeouts, connection errors. Not counted: robots.txt refusals (our choice, not the site's),
        404/410 (the site's dead links, judged by link_health), attachments and probes.
        """
        conn = self.store.conn
        args = [self.campaign, site_id]
        ok, bad = conn.execute(
            "SELECT sum(block IS NULL AND status < 400), sum(block IS NOT NULL OR status IN "
            "(401, 403, 405, 407, 429, 451) OR status >= 500) FROM pages "
            "WHERE campaign=? AND site_id=? AND coalesce(kind, '') NOT IN ('probe', 'attachment')", args).fetchone()
        failed = conn.execute(
            "SELECT count(*) FROM failures WHERE campaign=? AND site_id=? AND status IS NULL "
            "AND reason NOT LIKE 'robots.txt%' AND reason NOT LIKE 'attachment%' "
            "AND NOT EXISTS (SELECT 1 FROM pages p WHERE p.campaign=failures.campaign AND p.url=failures.url)",
            args).fetchone()[0]
        bad = (bad or 0) + failed
        return bad, (ok or 0) + bad

    def site_finished(self, site_id: str, status: str, error: str | None = None,
                      coverage: dict | None = None) -> None:
        """Mark the site done/partial/blocked/unreachable (or 'crawling') with its counts and coverage."""
        self.flush()
        pages, fails = self.site_counts(site_id)
        self.store.conn.execute(
            "UPDATE sites SET status=?, pages=?, failures=?, finished_at=?, error=?, "
            "coverage=coalesce(?, coverage) WHERE campaign=? AND site_id=?",
            [status, pages, fails, _iso_now() if status != "crawling" else None, error,
             json.dumps(coverage, ensure_ascii=False, sort_keys=True) if coverage is not None else None,
             self.campaign, site_id])
        self.store.conn.commit()

    def close(self) -> None:
        try:
            self.flush()
            self.warc.close()
            # closed cleanly, every row committed: the next crash recovery trusts these files unscanned
            from evidence.recovery import mark_checked
            mark_checked(self.store, self.campaign, self.warc.files)
        finally:
            self.warc.close()
            self.store.close()
