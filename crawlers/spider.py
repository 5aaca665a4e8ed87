"""The windvane Scrapy spider: every registry site, breadth-first, within its own host.

One spider crawls all sites of a run. Each request carries its ``site_id`` in meta;
the spider keeps, per site, the set of URLs it has scheduled (the page budget
counts them) and how many are still outstanding (a site whose count drops to zero
is finished and marked ``done`` in the store). Links are followed only to the
site's own host(s): the portal's host and, if the portal redirected, the host it
redirected to; ``http``/``https`` links of those hosts are rewritten to the scheme
the portal answered on, so one page is not fetched twice. Nothing here knows
about the simulated web: a proxy, if any, is configuration (``meta['proxy']``).

Storage is optional: without a ``writer`` the spider only crawls (used by the
benchmark's baseline and for dry runs).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from pathlib import Path
from typing import Any

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from scrapy.http import HtmlResponse, Request, Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from twisted.python.failure import Failure

from crawlers.attachments import AttachmentsMixin
from crawlers.blocks import REFUSAL_STATUSES, block_reason
from crawlers.detect import onclick_links
from crawlers.pipeline import PageWriter, page_text
from crawlers.probes import ProbesMixin
from evidence.decode import html_encoding

logger = logging.getLogger(__name__)

# obvious binaries beyond Scrapy's IGNORED_EXTENSIONS (deny_extensions default)
DENY_PATTERNS = [r"\.(?:apk|ipa|dmg|msi|iso|bin|tar|gz|tgz|bz2|xz|7z|rar|zip|exe|jar|mp4|flv|swf|mp3|"
                 r"wav|avi|mov|wmv|ofd|ceb|caj)(?:[?#].*)?$"]


def make_link_extractor() -> LinkExtractor:
    """The link extractor windvane (and the benchmark's plain spider) uses."""
    return LinkExtractor(deny=DENY_PATTERNS)


def _host_of(url: str) -> str:
    """Lower-case host of an absolute URL (no port, no credentials); '' if none."""
    try:
        netloc = url.split("/", 3)[2]
    except IndexError:
        return ""
    netloc = netloc.rpartition("@")[2]
    if netloc.startswith("["):
        return netloc.partition("]")[0][1:].lower()
    return netloc.partition(":")[0].lower()


def same_site_url(url: str, hosts: set[str], scheme: str) -> str | None:
    """``url`` in the site's scheme if it is on one of the site's hosts, else None."""
    if _host_of(url) not in hosts:
        return None
    if url.startswith(scheme + ":"):
        return url
    if url.startswith("http://") or url.startswith("https://"):
        return scheme + url[url.index(":"):]
    return None


class _SiteState:
    __slots__ = ("site_id", "hosts", "scheme", "seen", "dropped", "outstanding", "resumed", "portal_error",
                 "pages", "portal_block", "budget_reached", "started", "att_count", "att_bytes")

    def __init__(self, site_id: str, host: str, scheme: str):
        self.site_id = site_id
        self.hosts = {host.lower()}
        self.scheme = scheme
        self.seen: dict[str, int] = {}  # URL scheduled -> its depth
        self.dropped: set[str] = set()  # scheduled, then dropped by Scrapy as a duplicate
        self.outstanding = 0
        self.resumed = False
        self.portal_error: str | None = None  # the portal could not be fetched (reason)
        self.portal_block: str | None = None  # the portal answered with a refusal (reason)
        self.budget_reached = False
        self.att_count = 0  # attachments scheduled and bytes received: capped per site (crawlers/attachments.py)
        self.att_bytes = 0
        self.started = time.monotonic()
        self.pages = 0


_INNER = re.compile(r"(?:twisted\.\w+\.)*error\.(\w+)|\b(\w+(?:Error|Lost|Done|Received))\b")


def failure_reason(failure: Failure, maxsize: int) -> str:
    """A one-line, user-readable reason for a failed request."""
    exc = failure.value
    name = type(exc).__name__
    msg = str(exc)
    if name in ("DownloadFailedError", "ResponseFailed", "DownloadConnectionRefusedError") or not msg.strip():
        inner = [a or b for a, b in _INNER.findall(msg)]
        inner = [n for n in inner if n != name]
        if inner:
            name = inner[0]
    if isinstance(exc, IgnoreRequest) and msg.startswith("windvane: "):
        return msg[len("windvane: "):]  # robots.txt unreadable: why the whole host is refused (crawlers/politeness.py)
    if isinstance(exc, IgnoreRequest) and "robots.txt" in msg:
        return "robots.txt disallows this URL"
    if "max size" in msg or name == "DownloadCancelledError" and "larger" in msg:
        return f"response larger than the download limit ({maxsize // (1 << 20)} MB)"
    if name == "DNSLookupError":
        return "DNS lookup failed (host not found)"
    if name in ("TimeoutError", "TCPTimedOutError", "UserTimeoutError"):
        return "timed out"
    if name == "ConnectionRefusedError":
        return "connection refused"
    if name == "TunnelError":
        return f"proxy refused the connection: {msg}"
    if name in ("ResponseNeverReceived", "ConnectionLost", "ConnectionDone", "ResponseFailed",
                "DownloadFailedError"):
        return f"connection closed before a complete response ({name})"
    return f"{name}: {msg}" if msg else name


PARTIAL_SHARE = 0.3  # refused or failed share of a site's pages that makes its crawl partial ...
PARTIAL_MIN_PAGES = 10  # ... once this many were attempted


def site_status_of_failure(reason: str) -> str:
    """``blocked`` or ``unreachable`` for a portal that could not be fetched, from the failure's reason."""
    r = reason.lower()
    if "robots.txt disallows" in r:
        return "blocked"  # the site asks crawlers to stay out of its portal
    if "blocked:" in r or "rate limited" in r or "challenge" in r or "http 429" in r or re.search(r"http (?:401|403|405|407|451)\b", r):
        return "blocked"
    return "unreachable"  # DNS, TLS, connection, timeouts, 5xx, robots.txt 5xx or unreachable (RFC 9309)


class WindvaneSpider(AttachmentsMixin, ProbesMixin, scrapy.Spider):
    name = "windvane"

    def __init__(self, sites: list[Any], depth: int, max_pages: int, proxy: str | None = None,
                 writer: PageWriter | None = None, state_path: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.state_path = Path(state_path) if state_path else None
        self.sites = sites
        self.max_depth = depth
        self.max_pages = max_pages
        self.proxy = proxy
        self.writer = writer
        self.run_id = uuid.uuid4().hex[:12]
        self.link_extractor = make_link_extractor()
        self.site_state: dict[str, _SiteState] = {}
        self.sites_done = 0
        self.pages_seen = 0
        self.maxsize = 0
        self._recovered = False
        self.coverage_extra: dict[str, Any] = {}  # added to every site's coverage (crawlers/workers.py: the worker)

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> WindvaneSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(spider._closed, signal=signals.spider_closed)
        crawler.signals.connect(spider._idle, signal=signals.spider_idle)
        spider.maxsize = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        return spider

    # --- start ---------------------------------------------------------------------------
    async def start(self):  # noqa: D401 - Scrapy >= 2.13 entry point
        saved = self._saved_state()
        for site in self.sites:
            yield self._begin_site(site, saved.get(site.site_id))

    def _begin_site(self, site: Any, old: dict | None) -> Request:
        """Start crawling a site: its state (``old``: what an earlier, cleanly stopped run saved) and its portal request."""
        scheme = site.portal_url.split(":", 1)[0].lower()
        st = _SiteState(site.site_id, site.host, scheme)
        if old:  # resuming after a clean stop: keep what was scheduled, the queue holds the rest
            st.hosts |= set(old["hosts"])
            st.scheme = old["scheme"]
            st.seen = dict(old["seen"])
            st.dropped = set(old.get("dropped", ()))
            st.resumed = True
        self.site_state[site.site_id] = st
        if self.writer:
            self.writer.site_started(site.site_id)
        st.seen[site.portal_url] = 0
        # the portal is always (re)fetched: a site that failed last time gets another chance
        return self._request(site.portal_url, st, dont_filter=True)

    def _saved_state(self) -> dict[str, dict]:
        """Per-site state an earlier, cleanly stopped run left in JOBDIR ({} if none or unreadable)."""
        if not self.state_path or not self.state_path.exists():
            return {}
        try:
            saved = json.loads(self.state_path.read_text(encoding="utf-8"))
            for v in saved.values():
                if not (isinstance(v["seen"], dict) and isinstance(v["hosts"], list)):
                    raise ValueError("unexpected layout")
            return saved
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            logger.warning("%s: ignoring unreadable crawl state (%s)", self.state_path, e)
            return {}

    def _request(self, url: str, st: _SiteState, *, dont_filter: bool = False) -> Request:
        meta: dict[str, Any] = {"site_id": st.site_id, "wv_run": self.run_id}
        if self.proxy:
            meta["proxy"] = self.proxy
        st.outstanding += 1
        return Request(url, callback=self.parse, errback=self.on_error, meta=meta, dont_filter=dont_filter)

    # --- responses -----------------------------------------------------------------------
    def parse(self, response: Response):
        meta = response.meta
        st = self.site_state.get(meta.get("site_id", ""))
        if st is None:  # from a queue of an older run for a site not in this run
            return
        depth = meta.get("depth", 0)
        requested = meta.get("redirect_urls", [response.url])[0]
        block = self._block(response, depth)
        if depth == 0:
            if block:
                st.portal_block = f"portal {requested}: {block}"
            elif response.status in REFUSAL_STATUSES or response.status in (405, 429):
                st.portal_block = f"portal {requested} answered HTTP {response.status}"
            elif 400 <= response.status < 500:
                st.portal_error = f"portal answered HTTP {response.status}: {requested}"
        if depth == 0 and response.status < 400 and not block:
            # a portal that redirects (http -> https, bare -> www) brings its final host and scheme
            st.hosts.add(_host_of(response.url))
            st.scheme = response.url.split(":", 1)[0].lower()
            self.send_probes(requested, response.url, st)  # HTTP facts (crawlers/probes.py), once a site
        if depth == 0 and response.status >= 500:
            st.portal_error = f"portal answered HTTP {response.status}: {requested}"
        try:
            yield from self._follow(response, st, depth, block)
        finally:
            self.pages_seen += 1
            self._done_one(meta, st)

    def _block(self, response: Response, depth: int) -> str | None:
        """Why this response is a refusal (block/WAF/CAPTCHA page, login wall, 429), or None (``crawlers.blocks``)."""
        if not isinstance(response, TextResponse) and response.status < 400:
            return None
        ctype = response.headers.get(b"Content-Type", b"").decode("latin-1") or None
        found = block_reason(response.status, response.body, ctype)
        if found is None:
            return None
        kind, reason = found
        if kind == "login":
            # a login page the site links to is content; one the crawl is sent to instead is a wall
            if depth > 0 and not response.meta.get("redirect_urls"):
                return None
            reason = f"login wall: {reason}"
        return reason

    def _follow(self, response: Response, st: _SiteState, depth: int, block: str | None = None):
        is_html = isinstance(response, HtmlResponse)
        if is_html:  # declarations lie (GBK sent as UTF-8, none at all): validate them
            enc = html_encoding(response.body, response.headers.get(b"Content-Type", b"").decode("latin-1"))
            if enc != response.encoding:
                response = response.replace(encoding=enc)
        if block:  # a refusal: archived as evidence of who blocked the crawl, never followed
            if self.writer is not None:
                self._store(response, st, depth, is_html, block)
            return
        if is_html and response.status < 400 and self.writer is not None:
            self.attachment_links(response, st, depth)  # at any depth (crawlers/attachments.py)
        if is_html and depth < self.max_depth and response.status < 400:
            budget_left = self.max_pages - len(st.seen)
            if budget_left > 0:
                for link_url in self._link_urls(response):
                    url = same_site_url(link_url, st.hosts, st.scheme)
                    if url is None or url in st.seen:
                        continue
                    if budget_left <= 0:
                        st.budget_reached = True
                        break
                    st.seen[url] = depth + 1
                    yield self._request(url, st)
                    budget_left -= 1
            else:
                st.budget_reached = True
        if self.writer is None:
            return
        try:
            self._store(response, st, depth, is_html)
        except Exception as e:  # a page we cannot store must not stop the crawl
            logger.exception("could not store %s", response.url)
            self.writer.add_failure(site_id=st.site_id, url=response.url, reason=f"storage error: {e}")

    def _link_urls(self, response: HtmlResponse):
        """Links of a page: Scrapy's link extractor, then ``window.open('…')`` targets of onclick attributes."""
        for link in self.link_extractor.extract_links(response):
            yield link.url
        try:
            for href in onclick_links(response.selector.root):
                yield response.urljoin(href)
        except (ValueError, TypeError, AttributeError):  # not parseable as HTML
            return

    def _store(self, response: Response, st: _SiteState, depth: int, is_html: bool, block: str | None = None) -> None:
        meta = response.meta
        requested = meta.get("redirect_urls", [response.url])[0]
        headers = [(k.decode("latin-1"), v.decode("latin-1"))
                   for k, vs in response.headers.items() for v in vs
                   if k.lower() not in (b"content-encoding", b"transfer-encoding", b"content-length")]
        ctype = response.headers.get(b"Content-Type")
        ctype = ctype.decode("latin-1") if ctype else None
        title, text, encoding = None, "", None
        if is_html:
            encoding = response.encoding
            try:
                title, text = page_text(response.selector.root)
            except (ValueError, TypeError, AttributeError):  # not parseable as HTML
                text = response.text
            kind = "html"
        elif isinstance(response, TextResponse):
            encoding = response.encoding
            text = " ".join(response.text.split())
            kind = "xml" if "xml" in (ctype or "") else "text"
        else:
            main = (ctype or "").split(";")[0].strip().lower()
            kind = main.rsplit("/", 1)[-1] if main else "binary"
        referrer = response.request.headers.get(b"Referer") if response.request else None
        self.writer.add_page(
            site_id=st.site_id, url=requested, final_url=response.url, status=response.status,
            headers=headers, body=response.body, content_type=ctype, encoding=encoding, title=title,
            text=text.encode("utf-8", "replace").decode("utf-8"), depth=depth,
            referrer=referrer.decode("latin-1") if referrer else None, kind=kind, browser=meta.get("wv_browser"),
            block=block)
        if response.status >= 500:
            self.writer.add_failure(site_id=st.site_id, url=requested, status=response.status,
                                    reason=f"HTTP {response.status} after retries",
                                    referrer=referrer.decode("latin-1") if referrer else None)
        st.pages += 1

    def on_error(self, failure: Failure):
        request = failure.request
        meta = request.meta
        st = self.site_state.get(meta.get("site_id", ""))
        if st is None:
            return
        reason = failure_reason(failure, self.maxsize)
        if meta.get("wv_attachment"):
            reason = self.attachment_failure(reason, meta.get("redirect_urls", [request.url])[0])
        url = meta.get("redirect_urls", [request.url])[0]
        if meta.get("depth", 0) == 0 and url == next((s.portal_url for s in self.sites
                                                      if s.site_id == st.site_id), None):
            st.portal_error = f"portal {url}: {reason}"
        if self.writer:
            ref = request.headers.get(b"Referer")
            self.writer.add_failure(site_id=st.site_id, url=url, reason=reason,
                                    referrer=ref.decode("latin-1") if ref else None,
                                    robots=reason.startswith("robots.txt"))
        logger.info("failed %s: %s", url, reason)
        self._done_one(meta, st)

    def _request_dropped(self, request: Request, spider: Any = None) -> None:
        st = self.site_state.get(request.meta.get("site_id", ""))
        if st is not None:
            st.dropped.add(request.meta.get("redirect_urls", [request.url])[0])
            self._done_one(request.meta, st)

    def _idle(self, spider: Any = None) -> None:
        """Before closing a resumed crawl: fetch what the interrupted run had in flight.

        Scrapy's JOBDIR keeps the queue, but requests that were already being downloaded
        when the crawl was stopped are neither in the queue nor stored; whatever a resumed
        site scheduled and has neither a page, a failure nor a duplicate-drop for is
        fetched again now (once), at its recorded depth.
        """
        if self._recovered or self.writer is None:
            return
        self._recovered = True
        self.writer.flush()
        lost: list[Request] = []
        for st in self.site_state.values():
            if not st.resumed:
                continue
            have = self.writer.known_urls(st.site_id)
            for url, depth in st.seen.items():
                if url not in have and url not in st.dropped:
                    req = self._request(url, st, dont_filter=True)
                    req.meta["depth"] = depth
                    lost.append(req)
        if lost:
            logger.info("resumed crawl: fetching %d requests the interrupted run had in flight", len(lost))
            for req in lost:
                self.crawler.engine.crawl(req)
            raise DontCloseSpider

    # --- site completion -----------------------------------------------------------------
    def _done_one(self, meta: dict, st: _SiteState) -> None:
        if meta.get("wv_run") != self.run_id:
            return  # a request restored from an earlier run's queue was never counted
        st.outstanding -= 1
        if st.outstanding <= 0 and not st.resumed:
            self._finish_site(st)

    def _finish_site(self, st: _SiteState) -> None:
        if st.outstanding < 0:
            return
        st.outstanding = -1  # finished; never again
        self.sites_done += 1
        if self.writer:
            status, reason = self._site_status(st)
            pacing = getattr(self.crawler, "_windvane_pacing", None)
            limited = sum(pacing.rate_limited.get(h, 0) for h in st.hosts) if pacing else 0
            coverage = self.writer.site_coverage(st.site_id, {
                "budget_reached": st.budget_reached, "seconds": round(time.monotonic() - st.started, 2),
                **self.coverage_extra})
            coverage["rate_limited"] = max(coverage.get("rate_limited") or 0, limited)
            self.writer.site_finished(st.site_id, status, reason, coverage)

    def _site_status(self, st: _SiteState) -> tuple[str, str | None]:
        """done | partial | blocked | unreachable, with the reason (see docs/store.md)."""
        if st.portal_block:
            return "blocked", st.portal_block
        if st.portal_error and st.pages <= 1:
            return site_status_of_failure(st.portal_error), st.portal_error
        bad, attempted = self.writer.refusal_share(st.site_id) if self.writer else (0, 0)
        if attempted >= PARTIAL_MIN_PAGES and bad >= PARTIAL_SHARE * attempted:
            return "partial", f"{bad} of {attempted} pages refused or failed (block pages, 4xx refusals, 5xx, errors)"
        if st.portal_error:
            return "partial", f"the portal failed this time, pages from an earlier run kept: {st.portal_error}"
        return "done", None

    def _closed(self, spider: Any, reason: str) -> None:
        if reason == "finished":
            for st in self.site_state.values():
                if st.outstanding >= 0:
                    self._finish_site(st)
        # what a resumed run needs beside Scrapy's JOBDIR queue: per unfinished site, what was scheduled
        if self.state_path:
            state = {sid: v for sid, v in self._saved_state().items() if sid not in self.site_state}
            state |= {sid: {"hosts": sorted(st.hosts), "scheme": st.scheme, "seen": st.seen,
                           "dropped": sorted(st.dropped)}
                     for sid, st in self.site_state.items() if st.outstanding >= 0}
            self.state_path.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
        if self.writer:
            for st in self.site_state.values():
                if st.outstanding >= 0:  # interrupted: keep 'crawling', refresh counts
                    self.writer.site_finished(st.site_id, "crawling")
            self.writer.flush()
            self.finish_extras()  # attachments' parent_id, probes' redirect chains
