"""Scrapy plumbing for the windvane crawl: the proxy middleware and the progress extension.

``ProxyEverywhereMiddleware`` puts the configured proxy (setting ``WINDVANE_PROXY``) in
``meta['proxy']`` of every request that has none, including the robots.txt requests
Scrapy's RobotsTxtMiddleware makes itself; it sits just before HttpProxyMiddleware.

``ProgressLog`` prints one line to stderr every ``WINDVANE_PROGRESS_INTERVAL`` seconds
(default 5) while the crawl runs, when ``WINDVANE_PROGRESS`` is true.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task


class ProxyEverywhereMiddleware:
    def __init__(self, proxy: str):
        self.proxy = proxy

    @classmethod
    def from_crawler(cls, crawler: Any) -> ProxyEverywhereMiddleware:
        proxy = crawler.settings.get("WINDVANE_PROXY")
        if not proxy:
            raise NotConfigured
        return cls(proxy)

    def process_request(self, request: Any, spider: Any = None) -> None:
        if "proxy" not in request.meta:
            request.meta["proxy"] = self.proxy


class ProgressLog:
    def __init__(self, crawler: Any, interval: float):
        self.crawler = crawler
        self.interval = interval
        self.task: task.LoopingCall | None = None
        self.started = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler: Any) -> ProgressLog:
        if not crawler.settings.getbool("WINDVANE_PROGRESS"):
            raise NotConfigured
        ext = cls(crawler, crawler.settings.getfloat("WINDVANE_PROGRESS_INTERVAL", 5.0))
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Any) -> None:
        self.started = time.monotonic()
        self.task = task.LoopingCall(self.log, spider)
        self.task.start(self.interval, now=False)

    def log(self, spider: Any) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        writer = getattr(spider, "writer", None)
        pages = writer.pages_stored if writer else spider.pages_seen
        failures = writer.failures_stored if writer else 0
        total = len(spider.site_state) or len(spider.sites)
        via_browser = f" ({writer.pages_browser} via browser)" if writer and writer.pages_browser else ""
        print(f"crawl: {pages} pages stored{via_browser}, {pages / elapsed:.1f} pages/s, "
              f"sites {spider.sites_done}/{total} done, {failures} failures, {elapsed:.0f}s",
              file=sys.stderr, flush=True)

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self.task and self.task.running:
            self.task.stop()
