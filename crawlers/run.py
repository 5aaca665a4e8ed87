"""Running a crawl campaign: ``CrawlOptions`` and ``crawl(registry, opts) -> summary``.

``crawl`` runs Scrapy's CrawlerProcess in this process (the Twisted reactor can run
only once per process, so call it once; tests run ``windvane crawl`` as a subprocess).

Resuming. Scrapy's JOBDIR lives in ``<store>.files/<campaign>/jobdir``: after a clean
stop (Ctrl-C once, SIGTERM, or a finished crawl) the next ``windvane crawl`` with the
same campaign continues from the saved queue. After a hard crash (kill -9, power loss)
the queue on disk is not trustworthy; a marker file shows that, the JOBDIR is
discarded and every site not yet ``done`` is crawled again from its portal. Pages are
upserted by (campaign, url), so nothing is ever stored twice, and sites already
``done`` are skipped in both cases.

``browser``: "auto" (default) sends through Playwright + Chromium only the pages that
need it: JavaScript challenges (their cookies are then handed to the plain requests of
that host), pages whose links are built by script, and sites whose registry row says
``browser=yes|always`` (see ``crawlers.browser``); "never" fetches everything over plain
HTTP; "always" fetches every page with the browser. The summary's ``browser_pages`` is
how many stored pages needed the browser (``pages.via = 'browser'``).
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from evidence.registry import Registry, RegistryError
from evidence.store import StoreError

logger = logging.getLogger(__name__)

USER_AGENT = "windvane/0.1 (+https://github.com/windvane; digital-government evaluation crawler)"
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024
_RUNNING_MARKER = "windvane-crawl.running"


@dataclass
class CrawlOptions:
    """Everything a crawl run needs; ``public()`` is what the campaign config records."""

    store: str
    campaign: str
    proxy: str | None = None
    ca_bundle: str | None = None  # CA bundle (PEM) for the verified TLS probe; None: the system's trust store
    depth: int = 4
    max_pages: int = 400
    sites: list[str] | None = None
    concurrency: int = 32
    delay: float = 0.0
    obey_robots: bool = True
    progress: bool = True
    browser: str = "auto"  # "auto" | "never" | "always" (see crawlers.browser)
    browser_tabs: int = 4  # browser pages (tabs) rendering at once, reused
    per_host: int = 4
    max_attachments: int = 300  # per site (crawlers/attachments.py); bytes are capped at 300 MB per site
    autothrottle: bool = False
    timeout: float = 20.0
    retries: int = 2
    frontier: str | None = None  # redis://HOST:PORT/DB: a campaign shared by machines (crawlers/frontier.py)
    lease_seconds: float = 60.0  # a frontier site's lease: a dead worker's sites are taken over after this
    extra_settings: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict:
        d = asdict(self)
        d.pop("extra_settings")
        d["user_agent"] = USER_AGENT
        return d


def scrapy_settings(opts: CrawlOptions, jobdir: str | None = None) -> dict[str, Any]:
    """The Scrapy settings of a windvane crawl (also used by the benchmark's baseline)."""
    s: dict[str, Any] = {
        "USER_AGENT": USER_AGENT,
        "ROBOTSTXT_OBEY": opts.obey_robots,
        "CONCURRENT_REQUESTS": opts.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": opts.per_host,
        "CONCURRENT_REQUESTS_PER_IP": 0,
        "DOWNLOAD_DELAY": opts.delay,
        "DOWNLOAD_DELAY_JITTER": 0.5,
        "AUTOTHROTTLE_ENABLED": opts.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(opts.delay, 0.5),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(min(opts.per_host, 2)),
        "AUTOTHROTTLE_MAX_DELAY": 30.0,
        "DOWNLOAD_TIMEOUT": opts.timeout,
        "DOWNLOAD_MAXSIZE": DOWNLOAD_MAXSIZE,
        "DOWNLOAD_WARNSIZE": DOWNLOAD_MAXSIZE // 2,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": opts.retries,
        "HTTPERROR_ALLOW_ALL": True,  # 404s and 5xx reach the spider and are archived
        "REDIRECT_ENABLED": True,
        "DEPTH_LIMIT": opts.depth,
        "DEPTH_PRIORITY": 1,  # breadth-first ...
        "SCHEDULER_DISK_QUEUE": "scrapy.squeues.PickleFifoDiskQueue",  # ... with FIFO queues
        "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
        # many hosts at once: hand the downloader the host with the fewest requests in flight
        "SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.DownloaderAwarePriorityQueue",
        "TELNETCONSOLE_ENABLED": False,
        "COOKIES_ENABLED": True,
        "LOG_LEVEL": "WARNING",
        "LOGSTATS_INTERVAL": 0,
        "REACTOR_THREADPOOL_MAXSIZE": 20,
        "DOWNLOADER_MIDDLEWARES": {"crawlers.extensions.ProxyEverywhereMiddleware": 740,
                                   # robots.txt per RFC 9309, challenge-aware (crawlers/politeness.py)
                                   "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
                                   "crawlers.politeness.RFC9309RobotsMiddleware": 100,
                                   # Retry-After / 429 backoff / Crawl-delay floors, seen before RetryMiddleware (550)
                                   "crawlers.politeness.HostPacing": 560,
                                   # below RedirectMiddleware (600) and HttpCompression (590): final, decoded responses
                                   "crawlers.attachments.AttachmentRouter": 580,
                                   "crawlers.browser.BrowserMiddleware": 540,
                                   "crawlers.browser.BrowserCookiesMiddleware": 701},
        "WINDVANE_BROWSER": opts.browser,
        "WINDVANE_MAX_ATTACHMENTS": opts.max_attachments,
        "WINDVANE_BROWSER_PAGES": opts.browser_tabs,
        "EXTENSIONS": {"crawlers.extensions.ProgressLog": 500},
        "WINDVANE_PROXY": opts.proxy,
        "WINDVANE_CA_BUNDLE": opts.ca_bundle,  # crawlers.tls: the verified TLS probe only
        "WINDVANE_PROGRESS": opts.progress,
    }
    if jobdir:
        s["JOBDIR"] = jobdir
    s.update(opts.extra_settings)
    return s


class CampaignLock:
    """One ``windvane crawl`` per campaign: an exclusive ``flock`` on ``<campaign dir>/crawl.lock``.

    The kernel drops the lock when its process dies, however it dies (kill -9 included), so a
    crashed crawl never leaves a stale lock; a second crawl of a running campaign is refused
    with a ``StoreError`` naming the holder, before it touches the first one's state.
    """

    def __init__(self, campaign_dir: Any, campaign: str):
        import fcntl
        import os
        self.path = campaign_dir / "crawl.lock"
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(self.fd, 200).decode("utf-8", "replace").strip() or "another process"
            os.close(self.fd)
            raise StoreError(f"{self.path}: campaign {campaign!r} is being crawled right now ({holder}); "
                             f"wait for that crawl to end or stop it (Ctrl-C), then run this command again") from None
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"pid {os.getpid()}, since {time.strftime('%Y-%m-%dT%H:%M:%S')}".encode())

    def release(self) -> None:
        import fcntl
        import os
        if self.fd >= 0:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = -1


def select_sites(registry: Registry, wanted: list[str] | None) -> list[Any]:
    sites = registry.sites
    if not wanted:
        return sites
    known = {s.site_id for s in sites}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise RegistryError(f"{registry.path}: no site_id {', '.join(map(repr, unknown))} in this registry")
    return [s for s in sites if s.site_id in set(wanted)]


def _quiet_loggers() -> None:
    # an unreachable host makes RobotsTxtMiddleware log a full traceback; the failure row says it all
    logging.getLogger("scrapy.downloadermiddlewares.robotstxt").setLevel(logging.CRITICAL)
    logging.getLogger("scrapy.core.scraper").setLevel(logging.CRITICAL)
    # "Gave up retrying ...": the failure is recorded (and counted in the progress line)
    logging.getLogger("scrapy.downloadermiddlewares.retry").setLevel(logging.CRITICAL)


def crawler_process(opts: CrawlOptions, jobdir: str | None, spider_cls: type) -> tuple[Any, Any, dict[str, str]]:
    """(CrawlerProcess, its crawler of ``spider_cls``, close reason: ``{"reason": ...}`` once the spider closed)."""
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    process = CrawlerProcess(scrapy_settings(opts, jobdir))
    _quiet_loggers()
    crawler = process.create_crawler(spider_cls)
    close_reason: dict[str, str] = {}

    def _closed(spider: Any, reason: str) -> None:
        close_reason["reason"] = reason

    crawler.signals.connect(_closed, signal=signals.spider_closed, weak=False)  # outlives this function
    return process, crawler, close_reason


def crawl(registry: Registry, opts: CrawlOptions, lock: CampaignLock | None = None, workers: int = 1,
          force: bool = False) -> dict:
    """Crawl the registry's sites (or ``opts.sites``) into the store; return a summary.

    ``lock``: the campaign's lock when the caller took it already (the command line takes it before
    it records the campaign's options); otherwise the crawl takes it and releases it at the end.
    ``workers``: crawler processes (``crawlers/workers.py``); 1 crawls in this process.
    ``opts.frontier``: the campaign is shared through Redis (``crawlers/frontier.py``): its work list
    there decides which sites this machine crawls; ``force`` joins a campaign started with other
    settings.
    """
    from crawlers.pipeline import PageWriter
    from crawlers.spider import WindvaneSpider

    if opts.browser not in ("auto", "never", "always"):
        raise ValueError(f"browser must be auto, never or always, not {opts.browser!r}")
    if opts.depth < 0 or opts.max_pages < 1 or opts.concurrency < 1 or workers < 1:
        raise RegistryError("crawl: --depth must be >= 0, --max-pages, --concurrency and --workers >= 1")
    sites = select_sites(registry, opts.sites)
    from evidence.store import Store
    with Store(opts.store) as store:
        statuses = {r[0]: r[1] for r in store.conn.execute(
            "SELECT site_id, status FROM sites WHERE campaign=?", [opts.campaign])}
        cdir = store.campaign_dir(opts.campaign)
    todo = [s for s in sites if statuses.get(s.site_id) != "done"]
    skipped = len(sites) - len(todo)
    frontier = None
    if opts.frontier:
        from crawlers.frontier import RedisFrontier, settings_of, worker_name
        from crawlers.workers import work_order
        frontier = RedisFrontier(opts.frontier, opts.campaign, worker=worker_name(-1),
                                 lease_seconds=opts.lease_seconds)
        ids = [s.site_id for s in sites]
        frontier.init(work_order(opts.store, opts.campaign, ids), settings_of(opts, ids), force=force)
    summary: dict[str, Any] = {"sites": len(todo), "skipped_done": skipped, "pages": 0, "failures": 0,
                               "browser_pages": 0, "robots_blocked": 0, "seconds": 0.0, "pages_per_s": 0.0,
                               "workers": 0}
    if frontier is not None:
        summary["frontier"] = frontier.counts()
        if summary["frontier"]["todo"] + summary["frontier"]["active"] == 0:
            summary["status"] = "nothing to do"
            return summary
        todo = sites  # the frontier's work list decides what this machine crawls
    elif not todo:
        summary["status"] = "nothing to do"
        return summary

    own_lock = lock is None
    lock = lock or CampaignLock(cdir, opts.campaign)
    from crawlers.workers import discard_jobdirs, run_workers
    jobdir = cdir / "jobdir"
    marker = cdir / _RUNNING_MARKER
    if marker.exists():
        print(f"crawl: the previous crawl of campaign {opts.campaign!r} did not stop cleanly; "
              f"unfinished sites are crawled again from their portals (stored pages are kept)",
              file=sys.stderr)
        discard_jobdirs(cdir)
    n = workers if frontier is not None else min(workers, len(todo))
    discard_jobdirs(cdir, keep=0 if frontier is not None else n)  # the queues of worker slots this run does not have: their sites start afresh
    jobdir.mkdir(parents=True, exist_ok=True)
    marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%S"), encoding="utf-8")
    summary["workers"] = n
    if n > 1 or frontier is not None:
        try:
            result = run_workers(opts, todo, n, cdir, lock.fd, datetime.now(UTC).strftime("%Y%m%dT%H%M%S"),
                                 frontier=frontier)
        finally:
            if own_lock:
                lock.release()
        if result.pop("clean"):
            marker.unlink(missing_ok=True)
        summary.update(result)
        if frontier is not None:
            summary["frontier"] = frontier.counts()
            with Store(opts.store) as store:  # this shard's sites: those this machine's workers took
                mine = {r[0] for r in store.conn.execute("SELECT site_id FROM sites WHERE campaign=? AND "
                                                         "status IS NOT NULL", [opts.campaign])}
            todo = [s for s in todo if s.site_id in mine]
            summary["sites"] = len(todo)
        summary.update(site_outcomes(opts.store, opts.campaign, [s.site_id for s in todo]))
        return summary

    writer = PageWriter(opts.store, opts.campaign)
    process, crawler, close_reason = crawler_process(opts, str(jobdir), WindvaneSpider)
    started = time.monotonic()
    try:
        process.crawl(crawler, sites=todo, depth=opts.depth, max_pages=opts.max_pages, proxy=opts.proxy,
                      writer=writer, state_path=str(jobdir / "windvane-sites.json"))
        process.start()
    finally:
        seconds = time.monotonic() - started
        writer.close()
        if own_lock:
            lock.release()
    # Scrapy saved its queue (any clean stop): the next run can resume from JOBDIR
    if close_reason:
        marker.unlink(missing_ok=True)
    pages = writer.pages_stored
    summary.update(pages=pages, failures=writer.failures_stored, robots_blocked=writer.robots_blocked,
                   seconds=round(seconds, 2), pages_per_s=round(pages / seconds, 1) if seconds else 0.0,
                   status=close_reason.get("reason", "crashed"), browser_pages=writer.pages_browser,
                   browser_share=round(writer.pages_browser / pages, 3) if pages else 0.0)
    svc = getattr(crawler, "_windvane_browser", None)
    if svc is not None:
        summary.update(svc.summary())
    summary.update(site_outcomes(opts.store, opts.campaign, [s.site_id for s in todo]))
    return summary


def site_outcomes(store_path: str, campaign: str, site_ids: list[str]) -> dict[str, Any]:
    """``site_status`` counts of the crawled sites and ``need_a_person``: one line per site not ``done``."""
    from evidence.store import Store
    wanted = set(site_ids)
    counts: dict[str, int] = {}
    lines: list[str] = []
    order = {"blocked": 0, "unreachable": 1, "partial": 2, "crawling": 3}
    with Store(store_path) as store:
        rows = [r for r in store.conn.execute(
            "SELECT site_id, name_zh, status, error FROM sites WHERE campaign=?", [campaign]) if r[0] in wanted]
    for sid, name, status, error in sorted(rows, key=lambda r: (order.get(r[2] or "", 9), r[0])):
        status = status or "not crawled"
        counts[status] = counts.get(status, 0) + 1
        if status != "done":
            lines.append(f"{sid} {name or ''}: {status}" + (f" — {error}" if error else ""))
    return {"site_status": counts, "need_a_person": lines}
