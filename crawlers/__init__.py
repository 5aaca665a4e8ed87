"""Crawling: Scrapy spiders that fetch every registry site into the evidence store.

- ``crawlers.run``: ``CrawlOptions``, ``crawl(registry, opts)`` and the Scrapy settings.
- ``crawlers.spider``: the breadth-first, same-host, budgeted spider.
- ``crawlers.pipeline``: ``PageWriter`` (WARC records + page/failure rows, batched) and text extraction.
- ``crawlers.extensions``: proxy-for-every-request middleware and the progress line.
"""
