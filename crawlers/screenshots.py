"""Screenshots as visual evidence, rendered offline from the campaign's WARC archive.

``take_screenshots(store, campaign, limit_per_leaf=2)`` picks, per (site, leaf) with
evidence, the first ``limit_per_leaf`` cited pages (shallowest first, then by id),
deduplicated across leaves, and takes a full-page PNG of each with Chromium
(``crawlers.browser.launch_chromium``). No network is touched: ``page.route`` answers
every request from the archive (the page's own record; any other URL from the latest
archived response for it) and with 404 for anything never archived, so the screenshot
shows exactly what was archived. A page fetched through the browser (``via='browser'``)
is shown from its rendered DOM (the WARC resource record at ``rendered_warc_offset``);
scripts are off, so nothing runs twice and nothing asks for what was never fetched.

PNGs go to ``store.campaign_dir(campaign)/shots/<page_id>.png``; ``pages.screenshot``
holds that path relative to the campaign folder. Evidence rows reach it by ``page_id``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from crawlers.browser import launch_chromium
from evidence.store import Store
from evidence.warc import read_record

logger = logging.getLogger(__name__)

VIEWPORT = {"width": 1280, "height": 900}
MAX_HEIGHT = 12000  # px: a full page longer than this is clipped (a 30 MB page is not visual evidence)


def pick_pages(store: Store, campaign: str, limit_per_leaf: int = 2) -> list[dict]:
    """Pages to screenshot: per (site, leaf) the first ``limit_per_leaf`` evidence pages, shallowest first."""
    rows = store.conn.execute(
        "SELECT e.site_id, e.leaf_id, p.id, p.url, p.final_url, p.depth, p.via, p.warc_file, p.warc_offset, "
        "p.rendered_warc_offset, p.content_type FROM evidence e JOIN pages p ON p.id = e.page_id "
        "WHERE e.campaign = ? GROUP BY e.site_id, e.leaf_id, p.id "
        "ORDER BY e.site_id, e.leaf_id, coalesce(p.depth, 99), p.id", [campaign]).fetchall()
    per_leaf: dict[tuple[str, str], int] = {}
    picked: dict[int, dict] = {}
    for site_id, leaf_id, pid, url, final_url, _depth, via, wfile, woff, roff, ctype in rows:
        key = (site_id, leaf_id)
        if per_leaf.get(key, 0) >= limit_per_leaf:
            continue
        if ctype and "html" not in ctype.lower() and not (via == "browser" and roff is not None):
            continue  # attachments (PDF, DOCX) and other non-pages are not screenshotted
        per_leaf[key] = per_leaf.get(key, 0) + 1
        if pid not in picked:
            picked[pid] = {"id": pid, "site_id": site_id, "url": url, "final_url": final_url or url, "via": via, "warc_file": wfile,
                           "warc_offset": woff, "rendered_warc_offset": roff, "leaves": []}
        picked[pid]["leaves"].append(leaf_id)
    return list(picked.values())


class ArchiveIndex:
    """URL -> (file, offset) of the latest archived response of that URL in the campaign's WARC files."""

    def __init__(self, warc_dir: Path):
        self.dir = warc_dir
        self.by_url: dict[str, tuple[str, int]] = {}
        for f in sorted(warc_dir.glob("*.warc.gz")):
            with open(f, "rb") as fh:
                it = ArchiveIterator(fh)
                for rec in it:
                    if rec.rec_type != "response":
                        continue
                    uri = rec.rec_headers.get_header("WARC-Target-URI")
                    status = rec.http_headers.get_statuscode() if rec.http_headers else "200"
                    if uri and (uri not in self.by_url or str(status).startswith(("2", "3"))):
                        self.by_url[uri] = (f.name, it.get_record_offset())

    def get(self, url: str) -> tuple[dict[str, str], bytes] | None:
        """(HTTP headers, body) of the archived response for ``url``, or None."""
        ref = self.by_url.get(url.split("#", 1)[0])
        if ref is None:
            return None
        _uri, headers, body = read_record(self.dir, *ref)
        return headers, body


def _html_headers(headers: dict[str, str]) -> dict[str, str]:
    keep = {}
    for k, v in headers.items():
        if k.lower() in ("content-type", "location"):
            keep[k] = v
    return keep or {"Content-Type": "text/html"}


async def _shoot(pages: list[dict], index: ArchiveIndex, warc_dir: Path, shots: Path) -> dict[int, str]:
    from playwright.async_api import async_playwright

    done: dict[int, str] = {}
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)  # no proxy: nothing may leave the machine
        ctx = await browser.new_context(java_script_enabled=False, viewport=VIEWPORT, locale="zh-CN",
                                        ignore_https_errors=True, service_workers="block")
        page = await ctx.new_page()
        main: dict[str, Any] = {}

        async def route(r: Any) -> None:
            url = r.request.url
            if url.split("#", 1)[0] == main.get("url"):
                await r.fulfill(status=200, headers=main["headers"], body=main["body"])
                return
            hit = index.get(url)
            if hit is None:
                await r.fulfill(status=404, headers={"Content-Type": "text/plain"}, body=b"not archived")
                return
            headers, body = hit
            await r.fulfill(status=200, headers=_html_headers(headers), body=body)

        await page.route("**/*", route)
        for p in pages:
            try:
                if p["via"] == "browser" and p["rendered_warc_offset"] is not None:
                    _u, _h, body = read_record(warc_dir, p["warc_file"], p["rendered_warc_offset"])
                    headers = {"Content-Type": "text/html; charset=utf-8"}
                else:
                    _u, h, body = read_record(warc_dir, p["warc_file"], p["warc_offset"])
                    headers = _html_headers(h)
                main.update(url=p["final_url"].split("#", 1)[0], headers=headers, body=body)
                await page.goto(p["final_url"], wait_until="load", timeout=15000)
                path = shots / f"{p['id']}.png"
                height = await page.evaluate("() => document.documentElement.scrollHeight")
                if height > MAX_HEIGHT:
                    await page.screenshot(path=str(path), clip={"x": 0, "y": 0, "width": VIEWPORT["width"],
                                                                 "height": MAX_HEIGHT}, full_page=True)
                else:
                    await page.screenshot(path=str(path), full_page=True, timeout=30000)
                done[p["id"]] = f"shots/{path.name}"
            except Exception as e:  # one page that cannot be shown must not stop the others
                logger.warning("screenshot of %s failed: %s", p["final_url"], str(e).splitlines()[0])
        await browser.close()
    return done


def spread(pages: list[dict], max_pages: int) -> list[dict]:
    """At most ``max_pages`` pages, taken round-robin over sites, each site's pages that prove the
    most leaves first (the home page usually), so a capped run still covers every site."""
    by_site: dict[str, list[dict]] = {}
    for p in pages:
        by_site.setdefault(p.get("site_id", ""), []).append(p)
    queues = [sorted(ps, key=lambda p: -len(p["leaves"])) for ps in by_site.values()]
    out: list[dict] = []
    i = 0
    while len(out) < max_pages and any(queues):
        q = queues[i % len(queues)]
        if q:
            out.append(q.pop(0))
        i += 1
    return out


def take_screenshots(store: Store, campaign: str, limit_per_leaf: int = 2, max_pages: int | None = None) -> dict:
    """Full-page PNGs of the pages that yield evidence, from the archive; returns a summary.

    ``max_pages`` caps the run (see ``spread``); by default every picked page is shot.
    """
    started = time.monotonic()
    pages = pick_pages(store, campaign, limit_per_leaf)
    if max_pages is not None and len(pages) > max_pages:
        pages = spread(pages, max_pages)
    cdir = store.campaign_dir(campaign)
    shots = cdir / "shots"
    shots.mkdir(parents=True, exist_ok=True)
    warc_dir = cdir / "warc"
    if not pages:
        return {"pages": 0, "screenshots": 0, "failed": 0, "seconds": 0.0, "folder": str(shots)}
    index = ArchiveIndex(warc_dir)
    done = asyncio.run(_shoot(pages, index, warc_dir, shots))
    store.conn.executemany("UPDATE pages SET screenshot = ? WHERE id = ?", [(v, k) for k, v in done.items()])
    store.conn.commit()
    return {"pages": len(pages), "screenshots": len(done), "failed": len(pages) - len(done),
            "seconds": round(time.monotonic() - started, 1), "folder": str(shots)}
