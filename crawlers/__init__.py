"""Crawling: Scrapy spiders that fetch every registry site into the evidence store.

- ``crawlers.run``: ``CrawlOptions``, ``crawl(registry, opts)`` and the Scrapy settings.
- ``crawlers.spider``: the breadth-first, same-host, budgeted spider.
- ``crawlers.pipeline``: ``PageWriter`` (WARC records + page/failure rows, batched) and text extraction.
- ``crawlers.extensions``: proxy-for-every-request middleware and the progress line.
"""

import os as _os

# Scrapy's cookie middleware builds a tldextract extractor at import time, which tries to
# download the public-suffix list. Only crawlers touch the network, and only the sites being
# crawled: use the snapshot tldextract ships instead (set before anything imports scrapy).
_os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
