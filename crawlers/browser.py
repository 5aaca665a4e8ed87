"""The browser path: Playwright driving Debian's Chromium, for the pages that need it.

``launch_chromium(playwright, proxy)`` is the one place Chromium is started (the crawl and
``crawlers.screenshots`` both use it): ``/usr/bin/chromium`` (never a Playwright download),
headless, with the flags stack-notes §2 measured, through the crawl's proxy if any.

``BrowserPool`` keeps one browser, one context (``ignore_https_errors``; its cookie jar
is where passed challenges live) and up to ``size`` reused pages: a new page per request
is the dominant cost (stack-notes §4), a reused page costs a ``goto``. ``render(url)``
navigates, follows a JavaScript challenge through its reloads until the page is no
longer one (``crawlers.detect.challenge_reason`` on the live DOM), waits for the network
to go idle (at most ``idle_ms``) and ``settle_ms`` more for timers, and returns the main
document's last HTTP response (status, headers, body) with the rendered DOM. A browser
that dies (crash, killed) is relaunched on the next request; a renderer crash replaces
the page. Errors come back as ``BrowserError`` with a reason that names the URL.
Playwright runs on the pool's own thread and event loop (``render``, ``cookies_for``,
``warm`` and ``close`` hand their coroutine over with ``run_coroutine_threadsafe`` and
await the future from the caller's loop): its driver protocol is many small round trips,
and on the crawl's event loop, busy with Scrapy, a Chromium launch took 15 s and a
``goto`` 8 s instead of ~1.5 s and ~0.5 s. Chromium is launched lazily, by the first
render, or in the background by ``start_warm`` (at spider open when a crawl or a site is
``browser=always``/``yes``; as soon as the first page needing the browser is detected).

Scrapy integration (two downloader middlewares, enabled unless ``WINDVANE_BROWSER`` is
"never"; they share one ``BrowserService`` per crawler):

* ``BrowserMiddleware`` (priority 540, i.e. after redirects, retries and decompression):
  - a response that is a JavaScript challenge (``challenge_reason``) is archived as it
    came (a WARC response record, e.g. the raw 412 shell), then the browser opens the
    URL, passes the challenge, and the rendered page replaces the response. The
    context's cookies for that host are handed to every later Scrapy request of the
    host (``BrowserCookiesMiddleware``), so the rest of the site is crawled over plain
    HTTP. A request that was sent with older cookies and meets the challenge is simply
    sent again with the new ones; a challenge that comes back on fresh cookies is solved
    again (at most ``MAX_SOLVES`` times per host, then the URL fails with that reason);
  - an HTML page whose links are built by script (``script_built_reason``) is rendered,
    once per distinct link-building script and host (``script_fingerprint``), so a
    scripted navigation bar repeated on every page costs one render per site;
  - a site whose registry row has ``browser=yes`` gets every HTML page rendered after
    its plain fetch; ``browser=always`` (or ``CrawlOptions.browser="always"``) fetches
    every page with the browser directly (``process_request``), falling back to plain
    HTTP for downloads (PDF, DOCX...).
  The middleware awaits the render inline (the response is held until the pool's future
  resolves), so the page's links are followed in the same order as without a browser;
  only that page waits, the crawl's event loop does not.
  The rendered response carries ``meta['wv_browser']`` (the raw status, headers and body,
  and why the browser was used); ``PageWriter.add_page`` archives the raw response and the
  rendered DOM (a WARC resource record concurrent to it) and stores ``via='browser'``.
  When rendering fails, the plain page is kept and a failure row says why.
* ``BrowserCookiesMiddleware`` (priority 701, just after Scrapy's CookiesMiddleware): adds
  the browser's cookies of the request's host to its ``Cookie`` header.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from scrapy import signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import HtmlResponse, Request, Response

from crawlers.detect import (
    FEW_LINKS,
    challenge_reason,
    onclick_links,
    script_built_reason,
    script_fingerprint,
)

logger = logging.getLogger(__name__)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
POOL_SIZE = 4
MAX_SOLVES = 4
MAX_CHALLENGE_LOADS = 8  # page loads one render may spend following a challenge before giving up
_BINARY = re.compile(r"\.(?:pdf|docx?|xlsx?|pptx?|wps|zip|rar|7z|gz|tgz|exe|apk|mp4|mp3|jpe?g|png|gif|ofd|"
                     r"txt|xml|json|css|js)(?:[?#].*)?$", re.I)


LAUNCH_TIMEOUT = 60.0  # seconds a Chromium launch may take before it counts as failed


async def launch_chromium(playwright: Any, proxy: str | None = None) -> Any:
    """Launch Debian's Chromium headless through Playwright (never a downloaded browser)."""
    kwargs: dict[str, Any] = {"executable_path": CHROMIUM, "headless": True, "args": CHROMIUM_ARGS}
    if proxy:
        kwargs["proxy"] = {"server": proxy}
    return await playwright.chromium.launch(**kwargs)


class BrowserError(IgnoreRequest):
    """The browser could not produce the page; the message is the failure reason with the URL."""


class NotRenderable(Exception):
    """The URL is not a page (a download starts): fetch it over plain HTTP instead."""


@dataclass
class Rendered:
    url: str  # final URL in the browser
    status: int
    headers: list[tuple[str, str]]
    body: bytes  # the main document's last HTTP response body, as the browser received it
    dom: str  # the DOM after scripts ran
    challenge: str | None = None  # the challenge passed on the way, if any
    seconds: float = 0.0


def _classify(e: BaseException, url: str, timeout: float) -> BaseException:
    msg = str(e)
    name = type(e).__name__
    low = msg.lower()
    if "download is starting" in low or "net::err_aborted" in low:
        return NotRenderable(url)
    if name == "TimeoutError" or "timeout" in low and "exceeded" in low:
        return BrowserError(f"browser: page did not finish loading within {timeout:.0f}s: {url}")
    if "crash" in low:
        return BrowserError(f"browser: the page's renderer crashed: {url}")
    if "closed" in low or "disconnected" in low or "target" in low and "gone" in low:
        return BrowserError(f"browser: Chromium crashed or was closed while rendering {url}")
    m = re.search(r"net::ERR_[A-Z_]+", msg)
    if m:
        return BrowserError(f"browser: navigation failed ({m.group(0)}): {url}")
    first = msg.strip().splitlines()[0] if msg.strip() else name
    return BrowserError(f"browser: {name}: {first[:200]}: {url}")


class BrowserPool:
    """One Chromium, one context, up to ``size`` reused pages; relaunched after a crash."""

    def __init__(self, proxy: str | None = None, size: int = POOL_SIZE, timeout: float = 20.0,
                 idle_ms: int = 3000, settle_ms: int = 500):
        self.proxy = proxy
        self.size = size
        self.timeout = timeout
        self.idle_ms = idle_ms
        self.settle_ms = settle_ms
        self._pw: Any = None
        self._browser: Any = None
        self._context: Any = None
        self._idle: list[Any] = []
        self._sem = asyncio.Semaphore(size)
        self._lock = asyncio.Lock()
        self.launches = 0
        self.crashes = 0
        self.renders = 0
        self.busy = 0
        self.max_busy = 0
        self._loop: asyncio.AbstractEventLoop | None = None  # Playwright's own loop, on its own thread
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()
        self._warming: Any = None  # concurrent.futures.Future of a background launch

    def _own_loop(self) -> asyncio.AbstractEventLoop:
        """The pool's event loop, running on its own daemon thread (started on first use)."""
        with self._thread_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=loop.run_forever, name="windvane-browser", daemon=True)
                self._thread.start()
                self._loop = loop
            return self._loop

    async def _on_own_loop(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coro`` on the pool's thread and event loop; await its result from the caller's loop."""
        fut = asyncio.run_coroutine_threadsafe(coro, self._own_loop())
        return await asyncio.wrap_future(fut)

    def start_warm(self) -> None:
        """Launch Chromium in the background now (once); a failure is left to the first render."""
        if self._warming is not None or self._browser is not None:
            return
        self._warming = asyncio.run_coroutine_threadsafe(self._warm_quietly(), self._own_loop())

    async def _warm_quietly(self) -> None:
        try:
            await self._ensure()
        except Exception as e:  # noqa: BLE001 - the first render that needs Chromium reports it
            logger.warning("browser: could not launch Chromium in the background: %s", e)

    async def warm(self) -> None:
        """Launch Chromium now and wait for it (it is otherwise launched by the first render)."""
        await self._on_own_loop(self._ensure())

    @property
    def pid(self) -> int | None:
        """Process id of the running Chromium (tests use it), if known."""
        try:
            return self._browser._impl_obj._browser_process_pid  # not public; best effort
        except AttributeError:
            return None

    async def _ensure(self) -> Any:
        async with self._lock:
            if self._context is not None and self._browser is not None and self._browser.is_connected():
                return self._context
            if self._browser is not None:
                self.crashes += 1
                logger.warning("browser: Chromium is gone; launching a new one")
            self._idle.clear()
            if self._pw is None:
                from playwright.async_api import async_playwright
                self._pw = await async_playwright().start()
            try:  # a launch that hangs (a driver left wedged by a killed Chromium) must not hold the lock forever
                self._browser = await asyncio.wait_for(launch_chromium(self._pw, self.proxy), LAUNCH_TIMEOUT)
            except TimeoutError:
                self._browser = None
                raise BrowserError(f"browser: Chromium did not start within {LAUNCH_TIMEOUT:.0f}s") from None
            self._context = await self._browser.new_context(ignore_https_errors=True, locale="zh-CN",
                                                            viewport={"width": 1280, "height": 900})
            self._context.set_default_timeout(self.timeout * 1000)
            self.launches += 1
            return self._context

    async def _acquire(self) -> Any:
        ctx = await self._ensure()
        while self._idle:
            page = self._idle.pop()
            if not page.is_closed() and page.context is ctx:
                return page
        return await ctx.new_page()

    def _release(self, page: Any, ok: bool) -> None:
        if ok and not page.is_closed() and page.context is self._context:
            self._idle.append(page)
            return
        if not page.is_closed():
            asyncio.ensure_future(_close_quietly(page))

    async def cookies_for(self, url: str) -> dict[str, str]:
        """The context's cookies that a request to ``url`` would carry (none if Chromium does not answer:
        a browser killed at that moment must not stall the crawl)."""
        try:
            return await asyncio.wait_for(self._on_own_loop(self._cookies_for(url)), LAUNCH_TIMEOUT)
        except TimeoutError:
            logger.warning("browser: no cookies from Chromium within %.0fs for %s", LAUNCH_TIMEOUT, url)
            return {}

    async def _cookies_for(self, url: str) -> dict[str, str]:
        if self._context is None:
            return {}
        return {c["name"]: c["value"] for c in await self._context.cookies([url])}

    async def render(self, url: str) -> Rendered:
        """Open ``url``, pass a challenge if there is one, let scripts finish; the rendered page.

        Never waits forever: a render (a relaunch of Chromium included) that has not answered within
        a generous bound fails as a BrowserError, so a wedged browser costs pages, never the crawl."""
        bound = 3 * self.timeout + LAUNCH_TIMEOUT
        try:
            return await asyncio.wait_for(self._on_own_loop(self._render_pooled(url)), bound)
        except TimeoutError:
            raise BrowserError(f"browser: no answer within {bound:.0f}s (Chromium wedged?): {url}") from None

    async def _render_pooled(self, url: str) -> Rendered:
        await self._sem.acquire()
        self.busy += 1
        self.max_busy = max(self.max_busy, self.busy)
        page = None
        ok = False
        started = time.monotonic()
        try:
            try:
                page = await self._acquire()
                result = await self._render(page, url)
            except (BrowserError, NotRenderable):
                raise
            except Exception as e:  # Playwright errors: timeouts, crashes, closed targets, net errors
                raise _classify(e, url, self.timeout) from None
            ok = True
            self.renders += 1
            result.seconds = time.monotonic() - started
            return result
        finally:
            self.busy -= 1
            if page is not None:
                self._release(page, ok)
            self._sem.release()

    async def _render(self, page: Any, url: str) -> Rendered:
        mains: list[Any] = []

        def on_response(resp: Any) -> None:
            try:
                if resp.frame == page.main_frame and resp.request.is_navigation_request():
                    mains.append(resp)
            except Exception:  # a response of a frame already gone
                pass

        page.on("response", on_response)
        deadline = time.monotonic() + self.timeout
        challenge = None
        try:
            await page.goto(url, wait_until="load", timeout=self.timeout * 1000)
            while True:  # follow challenges: the page sets its cookie and reloads, maybe more than once
                html = await _content(page, deadline)
                last = mains[-1] if mains else None
                status = last.status if last else 200
                hdrs = await last.all_headers() if last else {}
                why = challenge_reason(status, hdrs, html.encode("utf-8"))
                if not why:
                    break
                challenge = challenge or why
                if len(mains) > MAX_CHALLENGE_LOADS:  # a challenge that reloads forever: stop asking the server
                    raise BrowserError(f"browser: JavaScript challenge not passed after {len(mains)} page loads "
                                       f"({why}): {url}")
                if time.monotonic() > deadline:
                    raise BrowserError(f"browser: JavaScript challenge not passed within {self.timeout:.0f}s "
                                       f"({why}): {url}")
                await page.wait_for_timeout(250)
            try:
                remaining = max(100, min(self.idle_ms, int((deadline - time.monotonic()) * 1000)))
                await page.wait_for_load_state("networkidle", timeout=remaining)
            except Exception as e:
                if "crash" in str(e).lower() or "closed" in str(e).lower():
                    raise
            await page.wait_for_timeout(self.settle_ms)
            dom = await _content(page, deadline)
            last = mains[-1] if mains else None
            status, headers, body = 200, [("Content-Type", "text/html; charset=utf-8")], dom.encode("utf-8")
            if last is not None:
                status = last.status
                headers = [(h["name"], h["value"]) for h in await last.headers_array()]
                try:
                    body = await last.body()
                except Exception:  # body no longer available (e.g. after a client-side redirect)
                    pass
            return Rendered(url=page.url, status=status, headers=headers, body=body, dom=dom, challenge=challenge)
        finally:
            page.remove_listener("response", on_response)

    async def close(self) -> None:
        """Close Chromium and Playwright, then stop the pool's thread."""
        if self._loop is None:
            return
        try:
            await self._on_own_loop(self._close())
        finally:
            with self._thread_lock:
                loop, thread = self._loop, self._thread
                self._loop = self._thread = None
                self._warming = None
            if loop is not None:
                loop.call_soon_threadsafe(loop.stop)
                if thread is not None:
                    thread.join(timeout=10)
                if not loop.is_running():
                    loop.close()

    async def _close(self) -> None:
        try:
            if self._browser is not None:
                await self._browser.close()
        except Exception:  # already gone
            pass
        try:
            if self._pw is not None:
                await self._pw.stop()
        except Exception:
            pass
        self._browser = self._context = self._pw = None


async def _close_quietly(page: Any) -> None:
    try:
        await page.close()
    except Exception:
        pass


async def _content(page: Any, deadline: float) -> str:
    """``page.content()``, retried while a navigation (a challenge's reload) is under way."""
    while True:
        try:
            return await page.content()
        except Exception as e:
            if "navigat" not in str(e).lower() or time.monotonic() > deadline:
                raise
            await page.wait_for_timeout(100)


# --- Scrapy side --------------------------------------------------------------------------------
def _host(url: str) -> str:
    from crawlers.spider import _host_of
    return _host_of(url)


@dataclass
class BrowserService:
    """State shared by the two middlewares of one crawl, and the figures for its summary."""

    mode: str
    pool: BrowserPool
    cookies: dict[str, dict[str, str]] = field(default_factory=dict)  # host -> browser cookies
    generation: dict[str, int] = field(default_factory=dict)  # host -> how many times solved
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    rendered_scripts: dict[str, set[str]] = field(default_factory=dict)
    site_flags: dict[str, str] | None = None
    stats: dict[str, int] = field(default_factory=lambda: {
        "browser_renders": 0, "challenges_detected": 0, "challenges_solved": 0, "script_pages_rendered": 0,
        "script_pages_skipped": 0, "browser_failures": 0, "browser_fallbacks": 0, "challenge_retries": 0})

    @classmethod
    def for_crawler(cls, crawler: Any) -> BrowserService:
        svc = getattr(crawler, "_windvane_browser", None)
        if svc is None:
            s = crawler.settings
            mode = s.get("WINDVANE_BROWSER", "auto")
            if mode == "never":
                raise NotConfigured
            pool = BrowserPool(s.get("WINDVANE_PROXY"), size=s.getint("WINDVANE_BROWSER_PAGES", POOL_SIZE),
                               timeout=s.getfloat("DOWNLOAD_TIMEOUT", 20.0))
            svc = cls(mode, pool)
            crawler._windvane_browser = svc
            crawler.signals.connect(svc.spider_opened, signal=signals.spider_opened)
            crawler.signals.connect(svc.spider_closed, signal=signals.spider_closed)
        return svc

    def spider_opened(self, spider: Any = None) -> None:
        """Start launching Chromium in the background when the crawl will surely need it.

        That is ``--browser always`` or a registry row with ``browser=yes``/``always``; the
        crawl does not wait for the launch. Otherwise Chromium starts with the first page
        that needs it (``BrowserMiddleware.process_response``).
        """
        if self.mode == "always" or any(v in ("yes", "always") for v in self._flags(spider).values()):
            self.pool.start_warm()

    async def spider_closed(self, spider: Any = None, reason: str = "") -> None:
        await self.pool.close()

    def _flags(self, spider: Any) -> dict[str, str]:
        """site id -> the registry's ``browser`` column ('' | 'yes' | 'always'), read once."""
        if self.site_flags is None:
            self.site_flags = {}
            for s in getattr(spider, "sites", []):
                v = ""
                for t in getattr(s, "targets", ()):
                    v = (t.get("browser") or v).strip().lower()
                self.site_flags[s.site_id] = {"true": "yes", "1": "yes", "y": "yes"}.get(v, v)
        return self.site_flags

    def flag(self, spider: Any, site_id: str) -> str:
        """The registry's ``browser`` column for the site ('' | 'yes' | 'always'), or the crawl's mode."""
        flags = self._flags(spider)
        if self.mode == "always":
            return "always"
        return flags.get(site_id, "")

    def lock(self, host: str) -> asyncio.Lock:
        return self.locks.setdefault(host, asyncio.Lock())

    def summary(self) -> dict[str, int]:
        return {**self.stats, "browser_launches": self.pool.launches, "browser_crashes": self.pool.crashes,
                "browser_pages_at_once": self.pool.size}


def rendered_response(request: Request, r: Rendered, *, raw: Response | None, why: str) -> HtmlResponse:
    """The response the spider sees: the rendered DOM, with the raw response in ``meta['wv_browser']``."""
    if raw is not None:
        raw_status, raw_body, raw_url = raw.status, raw.body, raw.url
        raw_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, vs in raw.headers.items() for v in vs]
    else:
        raw_status, raw_body, raw_url, raw_headers = r.status, r.body, r.url, r.headers
    request.meta["wv_browser"] = {"raw_status": raw_status, "raw_headers": raw_headers, "raw_body": raw_body,
                                  "raw_url": raw_url, "why": why, "challenge": r.challenge}
    headers = [(k, v) for k, v in raw_headers
               if k.lower() not in ("content-type", "content-length", "content-encoding", "transfer-encoding")]
    headers.append(("Content-Type", "text/html; charset=utf-8"))
    return HtmlResponse(url=r.url or request.url, status=raw_status, headers=headers, body=r.dom.encode("utf-8"),
                        encoding="utf-8", request=request, flags=["wv-browser"])


def _failed(request: Request, reason: str) -> None:
    """Keep the plain page, but let its page row come with a failure row saying why it was not rendered."""
    request.meta["wv_browser"] = {"failure": reason}


class BrowserMiddleware:
    """Sends the responses that need it (challenges, script-built pages, flagged sites) through the browser."""

    def __init__(self, crawler: Any):
        self.crawler = crawler
        self.svc = BrowserService.for_crawler(crawler)

    @classmethod
    def from_crawler(cls, crawler: Any) -> BrowserMiddleware:
        return cls(crawler)

    async def _render(self, url: str) -> Rendered:
        """Render in Chromium, in the host's turn: renders count against its concurrency and delay."""
        from crawlers.politeness import host_turn
        async with host_turn(self.crawler, url, timeout=max(60.0, 3 * self.svc.pool.timeout)):
            return await self.svc.pool.render(url)

    def _writer(self) -> Any:
        return getattr(self.crawler.spider, "writer", None)

    async def process_request(self, request: Request, spider: Any = None) -> Response | None:
        meta = request.meta
        if "site_id" not in meta or meta.get("wv_plain") or _BINARY.search(request.url.split("?")[0]):
            return None
        if self.svc.flag(self.crawler.spider, meta["site_id"]) != "always":
            return None
        try:
            r = await self._render(request.url)
        except NotRenderable:
            self.svc.stats["browser_fallbacks"] += 1
            meta["wv_plain"] = True
            return None
        except BrowserError:
            self.svc.stats["browser_failures"] += 1
            raise
        self.svc.stats["browser_renders"] += 1
        if r.challenge:
            self.svc.stats["challenges_detected"] += 1
            self.svc.stats["challenges_solved"] += 1
            await self._hand_off(r.url)
        return rendered_response(request, r, raw=None, why="browser=always")

    async def _hand_off(self, url: str) -> None:
        host = _host(url)
        self.svc.cookies[host] = await self.svc.pool.cookies_for(url)
        self.svc.generation[host] = self.svc.generation.get(host, 0) + 1

    def _archive(self, response: Response) -> None:
        """Keep a response that will not become a page row (a challenge shell) in the WARC archive."""
        writer = self._writer()
        if writer is None:
            return
        from crawlers.pipeline import _iso_now, _reason
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, vs in response.headers.items() for v in vs]
        writer.warc.write_response(response.url, response.status, _reason(response.status), headers,
                                   response.body, _iso_now())

    async def process_response(self, request: Request, response: Response, spider: Any = None) -> Response | Request:
        meta = request.meta
        if "site_id" not in meta or "wv-browser" in response.flags or meta.get("wv_browser"):
            return response
        svc = self.svc
        hdrs = {k.decode("latin-1"): b", ".join(vs).decode("latin-1") for k, vs in response.headers.items()}
        why = challenge_reason(response.status, hdrs, response.body) if response.body is not None else None
        if why:
            return await self._challenge(request, response, why)
        if not isinstance(response, HtmlResponse) or response.status >= 400:
            return response
        flag = svc.flag(self.crawler.spider, meta["site_id"])
        try:
            root = response.selector.root
        except Exception:  # not parseable: leave it to the spider
            return response
        if flag in ("yes", "always"):
            reason = f"the registry marks site {meta['site_id']} browser={flag}"
        else:
            links = 0  # static links, counted only as far as the near-empty test needs
            for a in root.iter("a"):
                href = (a.get("href") or "").strip().lower()
                if href and not href.startswith(("javascript:", "#")):
                    links += 1
                    if links >= FEW_LINKS:
                        break
            reason = script_built_reason(root, links, url=response.url)
            if not reason:
                return response
            svc.pool.start_warm()  # the first page that needs Chromium: start it now, off the crawl's loop
            fp = script_fingerprint(root, response.url)
            seen = svc.rendered_scripts.setdefault(_host(response.url), set())
            if fp in seen:
                svc.stats["script_pages_skipped"] += 1
                return response
            seen.add(fp)
        try:
            r = await self._render(response.url)
        except NotRenderable:
            svc.stats["browser_fallbacks"] += 1
            return response
        except BrowserError as e:
            svc.stats["browser_failures"] += 1
            logger.info("%s", e)
            _failed(request, str(e))
            return response
        svc.stats["browser_renders"] += 1
        svc.stats["script_pages_rendered"] += 1
        return rendered_response(request, r, raw=response, why=reason)

    async def _challenge(self, request: Request, response: Response, why: str) -> Response | Request:
        svc = self.svc
        meta = request.meta
        host = _host(response.url)
        svc.stats["challenges_detected"] += 1
        self._archive(response)  # the raw challenge answer is evidence too (which layer blocked us)
        tries = meta.get("wv_challenge_tries", 0)
        if tries >= MAX_SOLVES:
            svc.stats["browser_failures"] += 1
            raise BrowserError(f"browser: JavaScript challenge keeps coming back after {tries} attempts "
                               f"({why}): {response.url}")
        async with svc.lock(host):
            if svc.generation.get(host, 0) > meta.get("wv_cookie_gen", 0):
                # cookies from a solve that happened after this request went out: just send it again
                svc.stats["challenge_retries"] += 1
                return request.replace(dont_filter=True, meta={**meta, "wv_challenge_tries": tries + 1})
            if svc.generation.get(host, 0) >= MAX_SOLVES:
                svc.stats["browser_failures"] += 1
                raise BrowserError(f"browser: JavaScript challenge solved {MAX_SOLVES} times on {host} and still "
                                   f"returned ({why}): {response.url}")
            try:
                r = await self._render(response.url)
            except NotRenderable:
                raise BrowserError(f"browser: challenge page turned into a download: {response.url}") from None
            except BrowserError as e:
                svc.stats["browser_failures"] += 1
                if "challenge" in str(e):
                    raise
                raise BrowserError(f"browser: JavaScript challenge not passed ({why}): {e}") from None
            svc.stats["browser_renders"] += 1
            svc.stats["challenges_solved"] += 1
            await self._hand_off(r.url)
        r.challenge = r.challenge or why
        return rendered_response(request, r, raw=None, why=f"challenge: {why}")


class BrowserCookiesMiddleware:
    """Adds the browser's cookies for the request's host (after a passed challenge) to the Cookie header."""

    def __init__(self, crawler: Any):
        self.svc = BrowserService.for_crawler(crawler)

    @classmethod
    def from_crawler(cls, crawler: Any) -> BrowserCookiesMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Any = None) -> None:
        host = _host(request.url)
        jar = self.svc.cookies.get(host)
        request.meta["wv_cookie_gen"] = self.svc.generation.get(host, 0)
        if not jar:
            return
        have: dict[str, str] = {}
        for raw in request.headers.getlist(b"Cookie"):
            for part in raw.decode("latin-1").split(";"):
                k, sep, v = part.strip().partition("=")
                if sep:
                    have[k] = v
        have.update(jar)
        request.headers[b"Cookie"] = "; ".join(f"{k}={v}" for k, v in have.items()).encode("latin-1")


def extra_links(root: Any) -> list[str]:
    """Links a plain crawl takes from ``onclick``/``javascript:`` attributes (no browser needed)."""
    return onclick_links(root)
