"""The windvane Scrapy spider: every registry site, breadth-first, within its web presence.

One spider crawls all sites of a run. Each request carries its ``site_id`` in meta;
the spider keeps, per site, the set of URLs it has scheduled (the page budget
counts them) and how many are still outstanding (a site whose count drops to zero
is finished and marked ``done`` in the store). Portal links are followed only to the
site's own host(s): the portal's host and, if the portal redirected, the host it
redirected to; ``http``/``https`` links of those hosts are rewritten to the scheme
the portal answered on, so one page is not fetched twice. Nothing here knows
about the simulated web: a proxy, if any, is configuration (``meta['proxy']``).

A site is a government's web presence, not one host (``crawlers/scope.py``): once its portal
answered, its service portal and open-data platform — from the registry (``zwfw_url``,
``opendata_url``) or, where the registry has none, discovered from the portal's links on pages
up to depth 1 — are crawled too, each *branch* (host + path prefix) with its own page budget
and depth from its entry page (settings ``WINDVANE_PLATFORM_PAGES``, default 60, and
``WINDVANE_PLATFORM_DEPTH``, 3), counted apart from the portal's ``--max-pages``. Platform
requests are sent through the engine (like attachments and probes: outside Scrapy's
``DEPTH_LIMIT``); their ``depth`` is still counted from the portal, so a platform page is never
taken for the portal's home page (depth 0). Politeness is per host as for every request.
A branch shared by sites of one crawl is fetched once: a URL belongs to the most specific
branch that covers it (the province's whole-host branch leaves a city's ``/hefei/`` to the
city); two sites naming the very same branch share it: it is crawled by the first, and at the
end its pages are also given to every other owner as rows of their own (``url`` + ``#shared=<site_id>``,
same WARC record), so extraction, which reads pages per site, sees them for each.
Platform pages look for the JSON APIs their scripts fetch (``crawlers.detect.api_calls``, inline
and same-host external scripts, ``data-api`` attributes) and fetch them within the branch's
budget, following a list's pagination up to ``WINDVANE_API_PAGES`` (10) pages; responses are
archived like pages (``kind='json'``; a POST's row ``url`` is the endpoint + ``#post=<JSON body>``).
At the end of a site every one of its pages gets ``pages.platform`` (portal | service | opendata)
and the site's ``site_platforms`` rows and ``coverage.platforms`` say what was crawled.

Storage is optional: without a ``writer`` the spider only crawls (used by the
benchmark's baseline and for dry runs).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from scrapy.http import HtmlResponse, Request, Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from twisted.python.failure import Failure

from crawlers.attachments import AttachmentsMixin
from crawlers.blocks import REFUSAL_STATUSES, block_reason
from crawlers.detect import (
    ApiCall,
    api_calls,
    api_calls_in_script,
    json_links,
    list_done,
    next_page,
    onclick_links,
    script_sources,
)
from crawlers.pipeline import PageWriter, page_text
from crawlers.probes import ProbesMixin
from crawlers.scope import (
    DEFAULT_PLATFORM_DEPTH,
    DEFAULT_PLATFORM_PAGES,
    DISCOVER_DEPTH,
    PLATFORM_KINDS,
    Branch,
    BranchIndex,
    Platform,
    classify,
    discover_platforms,
    host_of,
    page_links,
    registry_platforms,
)
from evidence.decode import html_encoding

logger = logging.getLogger(__name__)

# obvious binaries beyond Scrapy's IGNORED_EXTENSIONS (deny_extensions default)
DENY_PATTERNS = [r"\.(?:apk|ipa|dmg|msi|iso|bin|tar|gz|tgz|bz2|xz|7z|rar|zip|exe|jar|mp4|flv|swf|mp3|"
                 r"wav|avi|mov|wmv|ofd|ceb|caj)(?:[?#].*)?$"]


def make_link_extractor() -> LinkExtractor:
    """The link extractor windvane (and the benchmark's plain spider) uses."""
    return LinkExtractor(deny=DENY_PATTERNS)


_host_of = host_of  # the one host parser (crawlers/scope.py)
DEFAULT_API_PAGES = 10  # pages of one paged list API (WINDVANE_API_PAGES): a sample of 100 at 10 a page
SCRIPTS_PER_BRANCH = 10  # external scripts of a branch read for API calls


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
                 "pages", "portal_block", "budget_reached", "started", "att_count", "att_bytes", "platforms",
                 "name_zh", "platforms_started")

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
        self.platforms: dict[str, Platform] = {}  # kind -> the platform of the site's presence
        self.name_zh = ""
        self.platforms_started = False  # the portal answered: platforms are crawled as they are known


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
        # the web presence beyond the portal (crawlers/scope.py): every platform branch of this crawl
        self.branches = BranchIndex()
        self.platform_pages = DEFAULT_PLATFORM_PAGES
        self.platform_depth = DEFAULT_PLATFORM_DEPTH
        self.api_pages = DEFAULT_API_PAGES
        self._fetched_elsewhere: set[str] = set()  # API and script URLs asked once for the whole crawl
        self._foreign_synced = 0.0

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> WindvaneSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(spider._closed, signal=signals.spider_closed)
        crawler.signals.connect(spider._idle, signal=signals.spider_idle)
        spider.maxsize = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        spider.platform_pages = max(0, crawler.settings.getint("WINDVANE_PLATFORM_PAGES", DEFAULT_PLATFORM_PAGES))
        spider.platform_depth = max(0, crawler.settings.getint("WINDVANE_PLATFORM_DEPTH", DEFAULT_PLATFORM_DEPTH))
        spider.api_pages = max(1, crawler.settings.getint("WINDVANE_API_PAGES", DEFAULT_API_PAGES))
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
        st.name_zh = getattr(site, "name_zh", "") or ""
        st.platforms = {p.kind: p for p in registry_platforms(site)}
        if old:  # resuming after a clean stop: keep what was scheduled, the queue holds the rest
            st.hosts |= set(old["hosts"])
            st.scheme = old["scheme"]
            st.seen = dict(old["seen"])
            st.dropped = set(old.get("dropped", ()))
            st.resumed = True
            for b in old.get("branches", ()):
                try:
                    branch = Branch.from_state(b)
                except (KeyError, TypeError, ValueError):
                    continue
                st.platforms.setdefault(branch.kind, branch.platform)
                got = self.branches.add(branch)
                if got is not branch and (got.site_id == branch.site_id or not got.seen):
                    # claimed by a site begun earlier that has not started it: this site's crawl of it goes on
                    got.seen.update(branch.seen)
                    got.scheme, got.site_id, got.foreign = branch.scheme, branch.site_id, False
                    got.owners = [branch.site_id] + [o for o in got.owners if o != branch.site_id]
                for host in branch.hosts:
                    self.branches.add_host(got, host)
        for p in st.platforms.values():  # the registry's branches are claimed before any is discovered
            if p.host not in st.hosts and p.key not in self.branches:
                self.branches.add(Branch(p, st.site_id))
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
            st.platforms_started = True
            for p in list(st.platforms.values()):  # the registry's platforms (crawlers/scope.py)
                self._start_platform(st, p, response.url, depth)
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
        if response.meta.get("wv_branch"):  # a page of a platform (crawlers/scope.py)
            branch = self.branches.by_key.get(response.meta["wv_branch"])
            if branch is not None and response.status < 400:
                try:
                    self._follow_platform(response, st, branch, is_html)
                except (ValueError, TypeError, AttributeError) as e:  # not parseable as HTML or JSON
                    logger.info("platform page %s not followed: %s", response.url, e)
        else:
            yield from self._follow_portal(response, st, depth, is_html)
        if self.writer is None:
            return
        try:
            self._store(response, st, depth, is_html)
        except Exception as e:  # a page we cannot store must not stop the crawl
            logger.exception("could not store %s", response.url)
            self.writer.add_failure(site_id=st.site_id, url=response.url, reason=f"storage error: {e}")

    def _follow_portal(self, response: Response, st: _SiteState, depth: int, is_html: bool):
        """Links of a portal page: the portal's own (yielded, within ``--depth`` and ``--max-pages``),
        its attachments, and links naming the site's platforms (discovered, or into their branches)."""
        if is_html and response.status < 400 and self.writer is not None:
            self.attachment_links(response, st, depth)  # at any depth (crawlers/attachments.py)
        if is_html and response.status < 400 and depth <= DISCOVER_DEPTH and st.platforms_started:
            self._discover(response, st, depth)
        if is_html and depth < self.max_depth and response.status < 400:
            budget_left = self.max_pages - len(st.seen)
            if budget_left > 0:
                for link_url in self._link_urls(response):
                    url = same_site_url(link_url, st.hosts, st.scheme)
                    if url is None:  # a link into one of the site's platforms: that platform's budget
                        branch = self.branches.owner(link_url)
                        if branch is not None and branch.site_id == st.site_id and not branch.foreign:
                            self._schedule_platform(st, branch, link_url, 1, depth + 1, response.url)
                        continue
                    if url in st.seen:
                        continue
                    if budget_left <= 0:
                        st.budget_reached = True
                        break
                    st.seen[url] = depth + 1
                    yield self._request(url, st)
                    budget_left -= 1
            else:
                st.budget_reached = True

    # --- platforms (crawlers/scope.py) ---------------------------------------------------
    def _discover(self, response: Response, st: _SiteState, depth: int) -> None:
        """Platforms the registry does not name, from this portal page's links (recorded as discovered)."""
        wanted = [k for k in PLATFORM_KINDS if k not in st.platforms]
        if not wanted:
            return
        try:
            links = page_links(response.selector.root, response.url)
        except (ValueError, TypeError, AttributeError):  # not parseable as HTML
            return
        for p in discover_platforms(links, st.hosts, st.name_zh, wanted, found_on=response.url):
            st.platforms[p.kind] = p
            self._start_platform(st, p, response.url, depth)

    def _start_platform(self, st: _SiteState, p: Platform, referrer: str, depth: int) -> None:
        """Crawl platform ``p`` of the site from its entry page, unless its branch is crawled already
        (by this site after a resume, or by another site: then the branch is shared)."""
        if p.host in st.hosts:
            return  # a section of the portal's own host: the portal's crawl covers it
        self._sync_foreign()
        branch = self.branches.add(Branch(p, st.site_id))
        if branch.foreign and branch.site_id == st.site_id:
            branch.foreign = False  # this site's own claim from an earlier run: crawled here again
        elif branch.site_id != st.site_id and not branch.seen and not branch.foreign \
                and self.site_state[branch.site_id].outstanding < 0:  # claimed by a site that ended without it
            branch.site_id = st.site_id
            branch.owners = [st.site_id] + [o for o in branch.owners if o != st.site_id]
        if branch.site_id == st.site_id and not branch.seen:
            other = self._claimed_elsewhere(branch)
            if other is not None:  # another worker's site (or an earlier run's) crawls it: share that
                branch.site_id, branch.foreign = other, True
                branch.owners = [other] + [s for s in branch.owners if s != other]
        self._record_platform(st, p, branch)
        if branch.site_id != st.site_id:
            logger.info("%s: %s %s is shared with site %s, crawled once", st.site_id, p.kind, p.key, branch.site_id)
            return
        if p.url in branch.seen or self._over_budget(branch):
            return
        branch.seen[p.url] = 0
        self._send(self._platform_request(p.url, st, branch, 0, depth + 1, referrer))

    def _claimed_elsewhere(self, branch: Branch) -> str | None:
        """The site, crawled by another process or an earlier run, whose ``site_platforms`` row claims this branch."""
        if self.writer is None:
            return None
        for (sid,) in self.writer.store.conn.execute(
                "SELECT site_id FROM site_platforms WHERE campaign=? AND host=? AND prefix=? AND stored_under=site_id "
                "ORDER BY at", [self.writer.campaign, branch.platform.host, branch.platform.prefix]):
            if sid not in self.site_state:
                return sid
        return None

    def _over_budget(self, branch: Branch) -> bool:
        if len(branch.seen) >= self.platform_pages:
            branch.budget_reached = True
            return True
        return False

    def _send(self, request: Request) -> None:
        """Schedule a platform request through the engine (outside DEPTH_LIMIT, like attachments)."""
        self.crawler.engine.crawl(request)

    def _platform_request(self, url: str, st: _SiteState, branch: Branch, pdepth: int, depth: int,
                          referrer: str | None, *, call: ApiCall | None = None, n: int = 1,
                          prev: str | None = None, callback: Any = None) -> Request:
        meta: dict[str, Any] = {"site_id": st.site_id, "wv_run": self.run_id, "depth": depth,
                                "wv_branch": branch.key, "wv_pdepth": pdepth}
        if self.proxy:
            meta["proxy"] = self.proxy
        headers = {"Referer": referrer} if referrer else {}
        method, body = "GET", None
        if call is not None:  # a JSON API the platform's scripts fetch
            meta["wv_api"] = {"method": call.method, "url": call.url, "body": call.body,
                              "page_param": call.page_param, "n": n, "page": referrer, "prev": prev}
            headers.update({"Accept": "application/json, text/javascript, */*; q=0.01",
                            "X-Requested-With": "XMLHttpRequest"})
            if call.method == "POST":
                method, body = "POST", (call.body or "").encode("utf-8")
                headers["Content-Type"] = "application/json;charset=UTF-8"
                meta["wv_store_url"] = call.key
        st.outstanding += 1
        return Request(url, callback=callback or self.parse, errback=self.on_error, meta=meta, headers=headers,
                       method=method, body=body, priority=-depth)

    def _schedule_platform(self, st: _SiteState, branch: Branch, link_url: str, pdepth: int, depth: int,
                           referrer: str) -> None:
        """Fetch a page of ``branch`` (a link of its own, not of a more specific branch), within its budget."""
        if self.branches.owner(link_url) is not branch:
            return
        url = same_site_url(link_url, branch.hosts, branch.scheme)
        if url is None or url in branch.seen or self._over_budget(branch):
            return
        branch.seen[url] = pdepth
        self._send(self._platform_request(url, st, branch, pdepth, depth, referrer))

    def _schedule_api(self, st: _SiteState, branch: Branch, call: ApiCall, pdepth: int, depth: int,
                      referrer: str | None, n: int = 1, prev: str | None = None) -> None:
        """Fetch a JSON API of ``branch``'s host (not one under another site's more specific branch), once a crawl."""
        if host_of(call.url) not in branch.hosts:
            return
        owner = self.branches.owner(call.url)
        if owner is not None and owner is not branch and len(owner.platform.prefix) >= len(branch.platform.prefix):
            return  # under another branch of the host (another city's)
        if call.key in branch.seen or call.key in self._fetched_elsewhere or self._over_budget(branch):
            return
        branch.seen[call.key] = pdepth
        branch.apis += 1
        self._fetched_elsewhere.add(call.key)
        self._send(self._platform_request(call.url, st, branch, pdepth, depth, referrer, call=call, n=n, prev=prev))

    def _follow_platform(self, response: Response, st: _SiteState, branch: Branch, is_html: bool) -> None:
        """A platform page's links within its branch, its scripts' JSON APIs; a JSON list's next page."""
        meta = response.meta
        pdepth, depth = meta.get("wv_pdepth", 0), meta.get("depth", 0)
        api = meta.get("wv_api")
        if api is not None:
            self._follow_api(response, st, branch, api, pdepth, depth)
            return
        if pdepth == 0:  # the entry: a redirect brings its final host (and scheme: http -> https) to the branch
            final = host_of(response.url)
            if final and final not in branch.hosts and meta.get("redirect_urls") and self.branches.owner(response.url) is None:
                self.branches.add_host(branch, final)
            if final in branch.hosts:
                branch.scheme = response.url.split(":", 1)[0].lower()
        if not is_html:
            return
        self._sync_foreign()
        if pdepth < self.platform_depth:
            for link_url in self._link_urls(response):
                self._schedule_platform(st, branch, link_url, pdepth + 1, depth + 1, response.url)
        root = response.selector.root
        for call in api_calls(root, response.url):
            self._schedule_api(st, branch, call, pdepth + 1, depth + 1, response.url)
        for src in script_sources(root, response.url):
            if host_of(src) in branch.hosts and src not in self._fetched_elsewhere and branch.scripts < SCRIPTS_PER_BRANCH:
                self._fetched_elsewhere.add(src)
                branch.scripts += 1
                req = self._platform_request(src, st, branch, pdepth, depth + 1, response.url, callback=self.parse_script)
                req.meta["wv_page"] = response.url
                self._send(req)

    def parse_script(self, response: Response):
        """An external script of a platform page: the JSON APIs it fetches (the script itself is not stored)."""
        meta = response.meta
        st = self.site_state.get(meta.get("site_id", ""))
        if st is None:
            return
        try:
            branch = self.branches.by_key.get(meta.get("wv_branch", ""))
            if branch is not None and response.status < 400 and isinstance(response, TextResponse):
                page = meta.get("wv_page") or response.url
                for call in api_calls_in_script(response.text, page):
                    self._schedule_api(st, branch, call, meta.get("wv_pdepth", 0) + 1, meta.get("depth", 0), page)
        finally:
            self._done_one(meta, st)

    def _follow_api(self, response: Response, st: _SiteState, branch: Branch, api: dict, pdepth: int,
                    depth: int) -> None:
        """A JSON API response: the list's next page (up to ``api_pages``) and the pages its items link."""
        if not isinstance(response, TextResponse):
            return
        try:
            payload = json.loads(response.text)
        except ValueError:
            return  # not JSON after all: archived as it is
        call = ApiCall(api["method"], api["url"], api.get("body"), api.get("page_param"))
        page = api.get("page") or response.url
        digest = hashlib.sha1(response.body).hexdigest()
        if api.get("n", 1) < self.api_pages and api.get("prev") != digest and not list_done(call, payload):
            nxt = next_page(call)
            if nxt is not None:
                self._schedule_api(st, branch, nxt, pdepth, depth, page, n=api.get("n", 1) + 1, prev=digest)
        if pdepth < self.platform_depth:
            for link in json_links(payload):
                self._schedule_platform(st, branch, urljoin(page, link), pdepth + 1, depth + 1, page)

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
        requested = meta.get("wv_store_url") or meta.get("redirect_urls", [response.url])[0]
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
            kind = "json" if "json" in (ctype or "").lower() else "xml" if "xml" in (ctype or "") else "text"
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
            for branch in self._crawled_by(st.site_id):
                for url, pdepth in branch.seen.items():
                    if url not in have and url.split("#", 1)[0] not in st.dropped:
                        lost.append(self._lost_platform_request(url, st, branch, pdepth))
        if lost:
            logger.info("resumed crawl: fetching %d requests the interrupted run had in flight", len(lost))
            for req in lost:
                self.crawler.engine.crawl(req)
            raise DontCloseSpider

    def _lost_platform_request(self, url: str, st: _SiteState, branch: Branch, pdepth: int) -> Request:
        """A platform request an interrupted run had in flight, again (a POST from its stored key)."""
        call = None
        if "#post=" in url:
            endpoint, _, body = url.partition("#post=")
            call = ApiCall("POST", endpoint, body, None)
        req = self._platform_request(url.partition("#post=")[0], st, branch, pdepth, pdepth + 1, None, call=call)
        return req.replace(dont_filter=True)

    def _hand_over(self, st: _SiteState) -> None:
        """A branch this site claimed but never started (its portal failed) goes to another owner still crawling."""
        for b in self._crawled_by(st.site_id):
            if b.seen:
                continue
            others = [o for o in b.owners if o != st.site_id and o in self.site_state
                      and self.site_state[o].outstanding >= 0 and self.site_state[o].platforms_started]
            if not others:
                continue
            b.owners = others + [o for o in b.owners if o not in others and o != st.site_id]
            b.site_id = others[0]
            heir = self.site_state[others[0]]
            b.seen[b.platform.url] = 0
            try:
                self._send(self._platform_request(b.platform.url, heir, b, 0, 1, None))
            except (AttributeError, RuntimeError):  # the engine is gone (the crawl is closing)
                heir.outstanding -= 1

    def _crawled_by(self, site_id: str) -> list[Branch]:
        """The platform branches this site crawls (not the ones it shares with a site that crawls them)."""
        return [b for b in self.branches.by_key.values() if b.site_id == site_id and not b.foreign]

    def _sync_foreign(self) -> None:
        """Learn the branches sites crawled elsewhere claimed (other workers, earlier runs): read from
        ``site_platforms`` at most every few seconds, so this crawl keeps out of them or shares them."""
        if self.writer is None or time.monotonic() - self._foreign_synced < 3.0:
            return
        self._foreign_synced = time.monotonic()
        rows = self.writer.store.conn.execute(
            "SELECT site_id, kind, url, host, prefix, source FROM site_platforms WHERE campaign=? "
            "AND stored_under = site_id", [self.writer.campaign]).fetchall()
        for sid, kind, url, host, prefix, source in rows:
            if sid in self.site_state or host + prefix in self.branches:
                continue
            self.branches.add(Branch(Platform(kind, url, host, prefix, source), sid, foreign=True))

    def _record_platform(self, st: _SiteState, p: Platform, branch: Branch, pages: int = 0) -> dict[str, Any]:
        """Write the site's ``site_platforms`` row for ``p`` (its branch crawled by ``branch.site_id``)."""
        row = {**p.as_dict(), "pages": pages, "apis": branch.apis if branch.site_id == st.site_id else 0,
               "budget_reached": branch.budget_reached}
        if branch.site_id != st.site_id:
            row["stored_under"] = branch.site_id
        # NULL: not crawled (the portal failed before the platform's entry was fetched)
        crawled_by = branch.site_id if st.platforms_started and (branch.seen or branch.site_id != st.site_id) else None
        if crawled_by is None:
            row["not_crawled"] = True
        if self.writer is not None:
            conn = self.writer.store.conn
            conn.execute(
                "INSERT INTO site_platforms (campaign, site_id, kind, url, host, prefix, source, label, found_on, "
                "stored_under, pages, apis, budget_reached, at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (campaign, site_id, kind) DO UPDATE SET url=excluded.url, host=excluded.host, "
                "prefix=excluded.prefix, source=excluded.source, label=excluded.label, found_on=excluded.found_on, "
                "stored_under=excluded.stored_under, pages=excluded.pages, apis=excluded.apis, "
                "budget_reached=excluded.budget_reached, at=excluded.at",
                [self.writer.campaign, st.site_id, p.kind, p.url, p.host, p.prefix, p.source, p.label or None,
                 p.found_on or None, crawled_by, pages, row["apis"], int(branch.budget_reached),
                 time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())])
            conn.commit()
        return row

    def _finish_platforms(self, st: _SiteState) -> list[dict[str, Any]]:
        """At a site's end: every page of the site gets ``platform``; a shared branch's pages are given to
        each of its owners; the site's ``site_platforms`` rows get their counts. Returns ``coverage.platforms``."""
        assert self.writer is not None
        self.writer.flush()
        conn, campaign = self.writer.store.conn, self.writer.campaign
        mine = self._crawled_by(st.site_id)
        asked = {url: b.kind for b in mine for url in b.seen}
        rows = conn.execute("SELECT id, url FROM pages WHERE campaign=? AND site_id=? AND platform IS NULL",
                            [campaign, st.site_id]).fetchall()
        conn.executemany("UPDATE pages SET platform=? WHERE id=?",
                         [(asked.get(url) or classify(url, mine), pid) for pid, url in rows])
        conn.commit()
        for b in mine:
            for other in b.owners[1:]:
                self._share_rows(b, other)
                self._update_sharer(other, b)
        out = []
        for p in st.platforms.values():
            branch = self.branches.by_key.get(p.key)
            if branch is None:  # on the portal's own host: crawled as the portal
                out.append({**p.as_dict(), "on_portal": True})
                continue
            if branch.site_id != st.site_id and st.platforms_started:
                self._share_rows(branch, st.site_id)  # what the crawling site stored so far
            pages = conn.execute("SELECT count(*) FROM pages WHERE campaign=? AND site_id=? AND platform=?",
                                 [campaign, st.site_id, p.kind]).fetchone()[0]
            out.append(self._record_platform(st, p, branch, pages))
        return out

    def _update_sharer(self, site_id: str, branch: Branch) -> None:
        """A site sharing ``branch`` that ended before the branch's crawl did: its ``site_platforms`` row
        and ``coverage.platforms`` entry now name the site that crawled it and count the pages it was given."""
        assert self.writer is not None
        conn, campaign = self.writer.store.conn, self.writer.campaign
        pages = conn.execute("SELECT count(*) FROM pages WHERE campaign=? AND site_id=? AND platform=?",
                             [campaign, site_id, branch.kind]).fetchone()[0]
        conn.execute("UPDATE site_platforms SET stored_under=?, pages=? WHERE campaign=? AND site_id=? AND kind=? "
                     "AND stored_under IS NOT NULL", [branch.site_id, pages, campaign, site_id, branch.kind])
        row = conn.execute("SELECT coverage FROM sites WHERE campaign=? AND site_id=?", [campaign, site_id]).fetchone()
        try:
            cov = json.loads(row[0]) if row and row[0] else None
        except ValueError:
            cov = None
        if cov and isinstance(cov.get("platforms"), list):
            for entry in cov["platforms"]:
                if entry.get("kind") == branch.kind and "stored_under" in entry:
                    entry.update(stored_under=branch.site_id, pages=pages)
            cov["pages"] = conn.execute("SELECT count(*) FROM pages WHERE campaign=? AND site_id=?",
                                        [campaign, site_id]).fetchone()[0]
            conn.execute("UPDATE sites SET coverage=?, pages=? WHERE campaign=? AND site_id=?",
                         [json.dumps(cov, ensure_ascii=False, sort_keys=True), cov["pages"], campaign, site_id])
        conn.commit()

    def _share_rows(self, branch: Branch, to_site: str) -> None:
        """Give site ``to_site`` the pages of a branch another site crawled: rows of its own (``url`` +
        ``#shared=<site>``) pointing at the same WARC records, so extraction reads them for that site too."""
        assert self.writer is not None
        conn, campaign = self.writer.store.conn, self.writer.campaign
        cols = [r[1] for r in conn.execute("PRAGMA table_info(pages)") if r[1] != "id"]
        cur = conn.execute(f"SELECT {', '.join(cols)} FROM pages WHERE campaign=? AND site_id=? "
                           "AND coalesce(platform, ?) = ? AND url NOT LIKE '%#shared=%'",
                           [campaign, branch.site_id, branch.kind, branch.kind])
        copies = []
        for r in cur.fetchall():
            row = dict(zip(cols, r, strict=True))
            if host_of(row["url"]) not in branch.hosts:
                continue
            row.update(site_id=to_site, url=f"{row['url']}#shared={to_site}", platform=branch.kind)
            copies.append([row[c] for c in cols])
        if copies:
            conn.executemany(
                f"INSERT INTO pages ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                "ON CONFLICT (campaign, url) DO UPDATE SET "
                + ", ".join(f"{c}=excluded.{c}" for c in cols if c not in ("campaign", "url")), copies)
            conn.commit()

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
        self._hand_over(st)
        if self.writer:
            platforms = self._finish_platforms(st)
            status, reason = self._site_status(st)
            pacing = getattr(self.crawler, "_windvane_pacing", None)
            limited = sum(pacing.rate_limited.get(h, 0) for h in st.hosts) if pacing else 0
            coverage = self.writer.site_coverage(st.site_id, {
                "budget_reached": st.budget_reached, "seconds": round(time.monotonic() - st.started, 2),
                **self.coverage_extra})
            coverage["rate_limited"] = max(coverage.get("rate_limited") or 0, limited)
            if platforms:
                coverage["platforms"] = platforms
                coverage["portal_pages"] = coverage.get("pages", 0) - sum(p.get("pages", 0) for p in platforms)
            self.writer.site_finished(st.site_id, status, reason, coverage)

    def _site_status(self, st: _SiteState) -> tuple[str, str | None]:
        """done | partial | blocked | unreachable, with the reason (see docs/store.md)."""
        if st.portal_block:
            return "blocked", st.portal_block
        if st.portal_error and st.pages <= 1:
            return site_status_of_failure(st.portal_error), st.portal_error
        bad, attempted = self.writer.refusal_share(st.site_id) if self.writer else (0, 0)
        pbad, ptried = self._platform_refusals(st)  # the portal's crawl is judged on the portal's pages
        bad, attempted = bad - pbad, attempted - ptried
        if attempted >= PARTIAL_MIN_PAGES and bad >= PARTIAL_SHARE * attempted:
            return "partial", f"{bad} of {attempted} pages refused or failed (block pages, 4xx refusals, 5xx, errors)"
        if st.portal_error:
            return "partial", f"the portal failed this time, pages from an earlier run kept: {st.portal_error}"
        return "done", None

    def _platform_refusals(self, st: _SiteState) -> tuple[int, int]:
        """(refused or failed, attempted) of the site's platform pages, counted as ``refusal_share`` counts
        them: a service portal's login walls (在线办理 -> 统一身份认证) or a dead open-data platform do not
        make the portal's crawl partial (their pages are ``platform`` service/opendata by now)."""
        if self.writer is None:
            return 0, 0
        conn, args = self.writer.store.conn, [self.writer.campaign, st.site_id]
        ok, bad = conn.execute(
            "SELECT sum(block IS NULL AND status < 400), sum(NOT (block IS NULL AND status < 400) AND (block IS NOT "
            "NULL OR status IN (401, 403, 405, 407, 429, 451) OR status >= 500)) FROM pages WHERE campaign=? AND "
            "site_id=? AND coalesce(platform, 'portal') != 'portal' AND coalesce(kind, '') != 'attachment'",
            args).fetchone()
        hosts = {h for b in self._crawled_by(st.site_id) for h in b.hosts}
        failed = sum(1 for (url,) in conn.execute(
            "SELECT url FROM failures WHERE campaign=? AND site_id=? AND status IS NULL AND reason NOT LIKE 'robots.txt%' "
            "AND reason NOT LIKE 'attachment%' AND NOT EXISTS (SELECT 1 FROM pages p WHERE p.campaign=failures.campaign "
            "AND p.url=failures.url)", args) if host_of(url) in hosts)
        return (bad or 0) + failed, (ok or 0) + (bad or 0) + failed

    def _closed(self, spider: Any, reason: str) -> None:
        if reason == "finished":
            for st in self.site_state.values():
                if st.outstanding >= 0:
                    self._finish_site(st)
        # what a resumed run needs beside Scrapy's JOBDIR queue: per unfinished site, what was scheduled
        if self.state_path:
            state = {sid: v for sid, v in self._saved_state().items() if sid not in self.site_state}
            state |= {sid: {"hosts": sorted(st.hosts), "scheme": st.scheme, "seen": st.seen,
                           "dropped": sorted(st.dropped), "branches": [b.state() for b in self._crawled_by(sid)]}
                     for sid, st in self.site_state.items() if st.outstanding >= 0}
            self.state_path.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
        if self.writer:
            for st in self.site_state.values():
                if st.outstanding >= 0:  # interrupted: keep 'crawling', refresh counts
                    self.writer.site_finished(st.site_id, "crawling")
            self.writer.flush()
            self.finish_extras()  # attachments' parent_id, probes' redirect chains
