"""Politeness real servers (and their operators) expect, on top of Scrapy's own machinery.

``HostPacing`` (downloader middleware)
    Keeps a per-host *floor* under Scrapy's download slot: the delay never drops below
    robots.txt's ``Crawl-delay``, nor below what a rate limit taught us. A 429 or a 503
    carrying ``Retry-After`` (delta-seconds or an HTTP date, RFC 9110 §10.2.3) holds the
    host's slot until that moment — no request of that host leaves before — and doubles the
    host's floor (backoff, up to ``MAX_FLOOR``); a 429 without the header waits 2ⁿ seconds.
    The slot's jitter is turned off for a host with a floor, so a random draw never sends a
    request early. Scrapy's RetryMiddleware then retries the request through the same slot.
    AutoThrottle (on by default for the real web) may raise a delay; it can never lower it
    below the floor, because the floor is applied again before every request.

``RFC9309RobotsMiddleware`` (replaces Scrapy's RobotsTxtMiddleware)
    robots.txt read as RFC 9309 says: 2xx → its rules; 4xx → no rules (allow); 5xx, 429 or
    a network failure → complete disallow. An answer that is a JavaScript challenge is passed
    in the browser and robots.txt fetched again with the challenge's cookies; an answer that is
    still not a robots file (a challenge again, a block page) → complete disallow, never
    "allow all". An HTML page that is neither (a soft 404 answering every path) has no robots
    rules: allow. ``Crawl-delay`` becomes the host's floor. Every verdict that is not a plain
    robots file is kept (``verdicts``) with its reason, for the site's status.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)

MAX_FLOOR = 30.0  # seconds between two requests to a host, at most, from backoff
MAX_WAIT = 600.0  # a Retry-After further away than this is taken as this (the crawl would stall)
FIRST_BACKOFF = 0.25  # seconds between requests to a host after its first rate limit (then doubled)


def retry_after_seconds(value: str | bytes | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value (delta-seconds or HTTP-date), or None."""
    if value is None:
        return None
    v = value.decode("latin-1") if isinstance(value, bytes) else value
    v = v.strip()
    if not v:
        return None
    if v.isdigit():
        return min(float(v), MAX_WAIT)
    try:
        when = email.utils.parsedate_to_datetime(v)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return min(max(0.0, when.timestamp() - (time.time() if now is None else now)), MAX_WAIT)


class _Pacing:
    """Per-host floors and hold-until times, shared by the middlewares of one crawler."""

    def __init__(self) -> None:
        self.floor: dict[str, float] = {}
        self.hold_until: dict[str, float] = {}  # monotonic time before which the host gets no request
        self.strikes: dict[str, int] = {}
        self.rate_limited: dict[str, int] = {}  # 429/503-with-Retry-After answers per host

    @classmethod
    def of(cls, crawler: Any) -> _Pacing:
        p = getattr(crawler, "_windvane_pacing", None)
        if p is None:
            p = crawler._windvane_pacing = cls()
        return p


def _slot(crawler: Any, request: Request) -> Any:
    downloader = crawler.engine.downloader
    try:
        return downloader._get_slot(request)[1]  # creates the slot if Scrapy collected it
    except AttributeError:  # a Scrapy without _get_slot: best effort
        return downloader.slots.get(downloader.get_slot_key(request))


def apply_floor(crawler: Any, request: Request, host: str) -> None:
    """Make the host's download slot respect its floor and any hold (before the request is queued)."""
    p = _Pacing.of(crawler)
    floor = p.floor.get(host)
    hold = p.hold_until.get(host)
    if floor is None and hold is None:
        return
    slot = _slot(crawler, request)
    if slot is None:
        return
    if floor is not None and slot.delay < floor:
        slot.delay = floor
    if floor is not None or hold is not None:
        slot.jitter = 0  # a random draw must never send a request before the floor
        slot.delay = max(slot.delay, 0.001)  # a zero delay skips Scrapy's lastseen check
    if hold is not None:
        # Scrapy sends the next request when now >= lastseen + delay
        slot.lastseen = max(slot.lastseen, hold - slot.delay)


@asynccontextmanager
async def host_turn(crawler: Any, url: str, timeout: float = 120.0) -> AsyncIterator[None]:
    """A browser render takes its turn in the host's download slot, like a plain request.

    It waits until the slot's delay (and any Retry-After hold) has passed and a transfer place is
    free, then holds that place while Chromium loads the page, so renders and plain requests
    together never exceed the host's concurrency nor come closer than its delay.
    """
    req = Request(url, dont_filter=True)
    try:
        slot = _slot(crawler, req)
    except Exception:  # noqa: BLE001 - no engine (a render outside a crawl): no pacing to respect
        slot = None
    if slot is None:
        yield
        return
    apply_floor(crawler, req, urlparse_cached(req).hostname or "")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        wait = slot.lastseen + slot.delay - time.monotonic() if slot.delay else 0.0
        if wait <= 0 and slot.free_transfer_slots() > 0:
            break
        await asyncio.sleep(min(max(wait, 0.05), 1.0))
    slot.lastseen = time.monotonic()
    slot.transferring.add(req)
    try:
        yield
    finally:
        slot.transferring.discard(req)


class HostPacing:
    """Retry-After, 429 backoff and Crawl-delay as per-host floors of Scrapy's download slots."""

    def __init__(self, crawler: Any):
        self.crawler = crawler
        self.pacing = _Pacing.of(crawler)

    @classmethod
    def from_crawler(cls, crawler: Any) -> HostPacing:
        return cls(crawler)

    def process_request(self, request: Request, spider: Any = None) -> None:
        apply_floor(self.crawler, request, urlparse_cached(request).hostname or "")

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Response:
        if response.status not in (429, 503):
            return response
        wait = retry_after_seconds(response.headers.get(b"Retry-After"))
        if wait is None and response.status == 503:
            return response  # a plain 503: Scrapy's retry handles it
        host = urlparse_cached(request).hostname or ""
        p = self.pacing
        p.rate_limited[host] = p.rate_limited.get(host, 0) + 1
        now = time.monotonic()
        # answers to requests that were already in flight belong to the same episode: one strike
        new_episode = now >= p.hold_until.get(host, 0.0)
        strikes = p.strikes[host] = p.strikes.get(host, 0) + int(new_episode)
        if wait is None:  # 429 without Retry-After: exponential backoff
            wait = min(2.0 ** max(strikes, 1), MAX_WAIT)
        p.hold_until[host] = max(p.hold_until.get(host, 0.0), now + wait)
        if new_episode:
            p.floor[host] = min(MAX_FLOOR, max(p.floor.get(host, 0.0) * 2, FIRST_BACKOFF))
        logger.info("%s answered %d, Retry-After %.1fs: holding the host, delay now %.2fs",
                    host, response.status, wait, p.floor[host])
        apply_floor(self.crawler, request, host)
        return response


class _DisallowAll:
    def __init__(self, reason: str):
        self.reason = reason

    def allowed(self, url: str | bytes, user_agent: str | bytes) -> bool:
        return False

    def crawl_delay(self, user_agent: str | bytes) -> float | None:
        return None


class _AllowAll(_DisallowAll):
    def allowed(self, url: str | bytes, user_agent: str | bytes) -> bool:
        return True


def _is_robots_file(response: Response) -> bool:
    ctype = response.headers.get(b"Content-Type", b"").decode("latin-1").lower()
    head = response.body[:512].lstrip().lower()
    if "html" in ctype or head.startswith((b"<!doctype", b"<html", b"<head", b"<script", b"<body", b"<?xml")):
        return False
    return True


class RFC9309RobotsMiddleware(RobotsTxtMiddleware):
    """robots.txt per RFC 9309, challenge-aware; the reasons of unusual verdicts in ``verdicts``."""

    def __init__(self, crawler: Any):
        super().__init__(crawler)
        self.verdicts: dict[str, str] = {}  # netloc -> why the site's robots.txt was not a plain file
        crawler._windvane_robots = self

    async def robot_parser(self, request: Request) -> Any:
        """The host's parser, also for requests that waited while robots.txt was being fetched.

        Scrapy hands every waiting request the same Deferred, through ``asFuture``, whose callback
        returns None: the first waiter gets the parser and every other one None, which Scrapy takes
        as "no robots.txt, allow all". Many requests of one host wait at once when a resumed crawl
        replays its queue; so the parser is read again from where it is settled.
        """
        rp = await super().robot_parser(request)
        settled = self._parsers.get(urlparse_cached(request).netloc, rp)
        return rp if isinstance(settled, Deferred) else settled

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        from crawlers.blocks import block_reason
        from crawlers.detect import challenge_reason

        status = response.status
        rp: Any = None
        hdrs = {k.decode("latin-1"): b", ".join(v).decode("latin-1") for k, v in response.headers.items()}
        if status != 429 and challenge_reason(status, hdrs, response.body):
            again = await self._after_challenge(response)
            if again is not None and again.status < 400 and _is_robots_file(again):
                response, status = again, again.status
            else:
                rp = _DisallowAll("blocked: robots.txt is behind a JavaScript challenge that could not be passed; "
                                  "complete disallow assumed")
        if rp is not None:
            pass
        elif status >= 500 or status == 429:
            what = "rate limited" if status == 429 else "server error"
            rp = _DisallowAll(f"{what}: robots.txt answered HTTP {status}; complete disallow assumed (RFC 9309)")
        elif status >= 400:
            rp = _AllowAll("")  # unavailable: no rules (RFC 9309 §2.3.1.3)
        elif not _is_robots_file(response):
            if block_reason(status, response.body, hdrs.get("Content-Type")):
                rp = _DisallowAll("blocked: robots.txt answered by a block page; complete disallow assumed")
            else:
                rp = _AllowAll("")  # a soft 404: an HTML page for every path, no robots rules
                self.verdicts.setdefault(netloc, "robots.txt answered by an HTML page (no rules): allowed")
        if rp is None:
            await super()._parse_robots(response, netloc, request)
            parser = self._parsers.get(netloc)
            delay = parser.crawl_delay(self._robotstxt_useragent or self._default_useragent) if parser else None
            if delay:
                host = netloc.rpartition("@")[2].partition(":")[0].lower()
                pacing = _Pacing.of(self.crawler)
                pacing.floor[host] = max(pacing.floor.get(host, 0.0), min(float(delay), MAX_FLOOR))
            return
        if isinstance(rp, _DisallowAll) and not isinstance(rp, _AllowAll):
            self.verdicts[netloc] = rp.reason
        self._settle(netloc, rp)

    def _settle(self, netloc: str, rp: Any) -> None:
        dfd = self._parsers[netloc]
        self._parsers[netloc] = rp
        if hasattr(dfd, "callback"):
            dfd.callback(rp)

    async def _after_challenge(self, response: Response) -> Response | None:
        """Pass the challenge in the browser, then fetch robots.txt again with its cookies (None: could not)."""
        try:
            from crawlers.browser import BrowserError, BrowserService, NotRenderable
            svc = BrowserService.for_crawler(self.crawler)
            host = urlparse_cached(response).hostname or ""
            async with svc.lock(host), host_turn(self.crawler, response.url):
                r = await svc.pool.render(response.url)
                svc.cookies[host] = await svc.pool.cookies_for(r.url)
                svc.generation[host] = svc.generation.get(host, 0) + 1
        except (BrowserError, NotRenderable, ImportError, RuntimeError, OSError) as e:
            logger.info("robots.txt behind a challenge at %s: %s", response.url, e)
            return None
        req = Request(response.url, priority=self.DOWNLOAD_PRIORITY, dont_filter=True,
                      meta={"dont_obey_robotstxt": True, "wv_plain": True})
        try:
            return await self.crawler.engine.download_async(req)
        except Exception as e:  # noqa: BLE001 - any failure means: not readable
            logger.info("robots.txt again after the challenge at %s: %s", response.url, e)
            return None

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        """robots.txt unreachable (DNS, TLS, connection, timeout): complete disallow (RFC 9309 §2.3.1.4)."""
        if isinstance(exc, IgnoreRequest):
            super()._robots_error(exc, netloc)
            return
        from twisted.python.failure import Failure

        from crawlers.spider import failure_reason
        why = failure_reason(Failure(exc), self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
        reason = f"host unreachable: robots.txt could not be fetched ({why}); complete disallow assumed (RFC 9309)"
        self.verdicts[netloc] = reason
        self._settle(netloc, _DisallowAll(reason))

    def process_request_2(self, rp: Any, request: Request) -> None:
        if isinstance(rp, _DisallowAll) and not isinstance(rp, _AllowAll):
            self._stats.inc_value("robotstxt/forbidden")
            raise IgnoreRequest(f"windvane: {rp.reason}")
        super().process_request_2(rp, request)
