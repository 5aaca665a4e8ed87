"""Probe pages: what a site answers at a few fixed URLs, for the rules judged from HTTP facts.

Per site the spider fetches and stores, as pages of ``kind='probe'``:

* ``http://HOST/`` — to see the http→https redirect (skipped when the portal URL itself is
  that URL: the portal's own row then shows it). Redirects are followed; the row keeps the
  requested URL (``url``), the final one (``final_url``) and the chain in ``redirects``
  (JSON: ``[{"url", "status", "location"}, …]``, so the first status and ``Location`` are kept;
  written when the crawl stops);
* ``/robots.txt`` — always fetched (robots.txt is always allowed);
* ``/sitemap.xml``;
* a never-linked path (``/windvane-404-check-<hash of the host>.html``, the same on every run,
  so reruns upsert rather than add rows) — how the site answers a missing page (a real 404,
  a soft 200, a redirect to the home page).

Beside them, when the portal answers over https, a verified TLS probe of the portal's final
host (``crawlers.tls``: certificate chain against ``--ca-bundle`` or the system trust store,
host name, validity period) is stored in the ``tls_probes`` table and as a WARC ``metadata``
record; ``https_access`` needs it to have passed.

Probes are sent once the portal has answered (a site that cannot be reached gets none),
on the portal's final host; they do not count against the page budget, sit outside the
depth limit and follow no links. Apart from robots.txt they obey robots.txt like every
other request. The rules read ``kind`` and the requested
URL (``extractors.site_rules.page_info``: ``requested_url`` is the row's ``url``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import urlsplit

PROBE_PATHS = ("/robots.txt", "/sitemap.xml")


def not_found_path(host: str) -> str:
    """A path no portal links to, stable per host."""
    return f"/windvane-404-check-{hashlib.sha1(host.encode()).hexdigest()[:10]}.html"


def probe_urls(portal_url: str, host: str, scheme: str) -> list[str]:
    """The probe URLs of a site whose portal is ``portal_url`` on ``host``."""
    urls = []
    plain = f"http://{host}/"
    if portal_url.rstrip("/") != plain.rstrip("/"):
        urls.append(plain)
    base = f"{scheme}://{host}"
    urls += [base + p for p in PROBE_PATHS]
    urls.append(base + not_found_path(host))
    return urls


def redirect_chain(meta: dict, final_url: str) -> str | None:
    """The redirects a response went through as JSON (None if none): url, status, location per hop."""
    urls = meta.get("redirect_urls")
    if not urls:
        return None
    reasons = meta.get("redirect_reasons") or []
    hops = []
    for i, url in enumerate(urls):
        status = reasons[i] if i < len(reasons) else None
        location = urls[i + 1] if i + 1 < len(urls) else final_url
        hops.append({"url": url, "status": status, "location": location})
    return json.dumps(hops, ensure_ascii=False)


class ProbesMixin:
    """Probe requests and their callback, for :class:`crawlers.spider.WindvaneSpider`."""

    probe_redirects: dict[str, str]

    def finish_extras(self) -> None:
        """At the end of a crawl (rows flushed): probes' redirect chains, attachments' parent_id."""
        writer = self.writer  # type: ignore[attr-defined]
        if writer is None:
            return
        from crawlers.attachments import link_parents

        conn = writer.store.conn
        chains = getattr(self, "probe_redirects", {})
        if chains:
            conn.executemany("UPDATE pages SET redirects=? WHERE campaign=? AND url=?",
                             [(c, writer.campaign, u) for u, c in chains.items()])
            conn.commit()
            chains.clear()
        link_parents(conn, writer.campaign)

    def send_probes(self, portal_requested: str, portal_final: str, st: Any) -> None:
        """Once per site, when its portal has answered: schedule the probes on the portal's final host.

        Sent through the engine (not the spider middlewares): probes sit outside the depth
        limit and the page budget; they are counted as outstanding, so the site is not
        finished before they are stored.
        """
        from scrapy import Request

        sent = self.__dict__.setdefault("_probed_sites", set())
        if st.site_id in sent:
            return
        sent.add(st.site_id)
        if not hasattr(self, "probe_redirects"):
            self.probe_redirects = {}
        host = urlsplit(portal_final).hostname or ""
        scheme = portal_final.split(":", 1)[0].lower()
        if scheme == "https" and host:
            self.send_tls_probe(host, st)
        for url in probe_urls(portal_requested, host, scheme):
            meta: dict[str, Any] = {"site_id": st.site_id, "wv_run": self.run_id, "wv_probe": True,  # type: ignore[attr-defined]
                                    "depth": 0}
            if url.endswith("/robots.txt"):
                meta["dont_obey_robotstxt"] = True
            if self.proxy:  # type: ignore[attr-defined]
                meta["proxy"] = self.proxy  # type: ignore[attr-defined]
            st.outstanding += 1
            self.crawler.engine.crawl(Request(url, callback=self.parse_probe, errback=self.on_error,  # type: ignore[attr-defined]
                                              meta=meta, dont_filter=True))

    def send_tls_probe(self, host: str, st: Any) -> None:
        """The verified TLS probe of the portal's host (``crawlers.tls``), in a thread of a pool of
        four; stored when done.

        Counted as outstanding like a request, and the spider is kept open (``spider_idle``)
        until every probe has been stored.
        """
        from scrapy import signals
        from twisted.internet import reactor
        from twisted.internet.threads import deferToThreadPool

        from crawlers.tls import probe_tls, store_tls

        settings = self.crawler.settings  # type: ignore[attr-defined]
        pending = self.__dict__.setdefault("_tls_pending", set())
        if not self.__dict__.get("_tls_idle_connected"):
            self._tls_idle_connected = True
            self.crawler.signals.connect(self._tls_idle, signal=signals.spider_idle)  # type: ignore[attr-defined]
        meta = {"site_id": st.site_id, "wv_run": self.run_id}  # type: ignore[attr-defined]
        st.outstanding += 1
        pending.add(host)
        d = deferToThreadPool(reactor, self._tls_pool(), probe_tls, host, 443,
                              proxy=self.proxy,  # type: ignore[attr-defined]
                              ca_bundle=settings.get("WINDVANE_CA_BUNDLE"),
                              timeout=settings.getfloat("DOWNLOAD_TIMEOUT", 20.0))

        def stored(facts: Any) -> None:
            if self.writer is not None:  # type: ignore[attr-defined]
                store_tls(self.writer, st.site_id, facts)  # type: ignore[attr-defined]

        def done(result: Any) -> None:
            pending.discard(host)
            self._done_one(meta, st)  # type: ignore[attr-defined]
            if hasattr(result, "getTraceback"):  # a bug, not a TLS problem: say so, keep crawling
                import logging

                logging.getLogger(__name__).error("TLS probe of %s: %s", host, result.getTraceback())

        d.addCallback(stored)
        d.addBoth(done)

    def _tls_pool(self) -> Any:
        """A small thread pool of its own: a slow TLS host never holds the reactor's threads (DNS)."""
        pool = self.__dict__.get("_tls_threads")
        if pool is None:
            from twisted.internet import reactor
            from twisted.python.threadpool import ThreadPool

            pool = self._tls_threads = ThreadPool(minthreads=0, maxthreads=4, name="windvane-tls-probe")
            pool.start()
            reactor.addSystemEventTrigger("during", "shutdown", pool.stop)
        return pool

    def _tls_idle(self, spider: Any = None) -> None:
        if self.__dict__.get("_tls_pending"):
            from scrapy.exceptions import DontCloseSpider

            raise DontCloseSpider

    def parse_probe(self, response: Any):
        """Store a probe response as a page of kind 'probe'; follow nothing."""
        from scrapy.http import TextResponse

        from crawlers.attachments import response_headers
        from crawlers.pipeline import page_text
        from evidence.decode import decode_html

        meta = response.meta
        st = self.site_state.get(meta.get("site_id", ""))  # type: ignore[attr-defined]
        if st is None:
            return
        try:
            if self.writer is None:  # type: ignore[attr-defined]
                return
            ctype_b = response.headers.get(b"Content-Type")
            ctype = ctype_b.decode("latin-1") if ctype_b else None
            title, text, encoding = None, "", None
            if isinstance(response, TextResponse) or not response.body:
                text, encoding = decode_html(response.body, ctype)
                if "html" in (ctype or "") or text.lstrip()[:1] == "<" and "html" in text[:1000].lower():
                    import lxml.etree
                    import lxml.html

                    try:
                        title, text = page_text(lxml.html.document_fromstring(text))
                    except (ValueError, TypeError, lxml.etree.LxmlError):
                        pass
                else:
                    text = text[:200_000]
            requested = meta.get("redirect_urls", [response.url])[0]
            self.writer.add_page(  # type: ignore[attr-defined]
                site_id=st.site_id, url=requested, final_url=response.url, status=response.status,
                headers=response_headers(response), body=response.body, content_type=ctype,
                encoding=encoding, title=title, text=text.encode("utf-8", "replace").decode("utf-8"),
                depth=0, referrer=None, kind="probe")
            chain = redirect_chain(meta, response.url)
            if chain:
                self.probe_redirects[requested] = chain
        finally:
            self._done_one(meta, st)  # type: ignore[attr-defined]
