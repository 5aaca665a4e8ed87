"""The worker's spider on a Redis frontier (``--frontier``): sites leased from Redis, URLs mirrored there.

:class:`FrontierSpider` is :class:`crawlers.workers.FeedSpider` with its sites taken from
:class:`crawlers.frontier.RedisFrontier` instead of the parent's work list, every scheduled URL and
every committed outcome written to Redis, and sites of dead workers taken over from what Redis
holds (see ``crawlers/frontier.py`` for the protocol).
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.http import HtmlResponse

from crawlers.detect import ApiCall
from crawlers.frontier import Heartbeat, RedisFrontier
from crawlers.workers import FeedSpider, _Feed

logger = logging.getLogger(__name__)


class _Recorded(dict):
    """A site's ``seen`` that remembers which URLs were added since the last write to Redis."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fresh: list[str] = []

    def __setitem__(self, key: str, value: int) -> None:
        if key not in self:
            self.fresh.append(key)
        super().__setitem__(key, value)


class FrontierFeed(_Feed):
    """Sites from Redis; progress and ``done`` still go to the parent over the socket."""

    def __init__(self, conn: Any, frontier: RedisFrontier):
        super().__init__(conn)
        self.frontier = frontier
        self.taken_over: set[str] = set()
        self.on_done: Any = None  # called with a site id before its ``done`` goes to the parent

    def send(self, *msg: Any) -> None:
        if msg and msg[0] == "done" and self.on_done is not None:
            self.on_done(msg[1])
        super().send(*msg)

    def want(self, n: int) -> list[str]:
        import redis
        if self.exhausted or n <= 0:
            return []
        try:
            got = self.frontier.take(n)
        except redis.RedisError as e:
            logger.warning("frontier %s: could not take sites (%s); trying again later", self.frontier.url, e)
            return []
        self.taken_over |= {sid for sid, over in got if over}
        return [sid for sid, _ in got]


class FrontierSpider(FeedSpider):
    """FeedSpider on a Redis frontier (see the module docstring)."""

    def __init__(self, *args: Any, frontier: RedisFrontier, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.frontier = frontier
        self._attachment_of: dict[str, tuple[str, str]] = {}  # url -> (format, referrer)
        self._got: dict[str, list[str]] = {}
        self._meta_dirty: set[str] = set()
        self._calls: dict[str, dict[str, dict]] = {}  # site -> API request key -> how it was made
        self._probes: dict[str, list] = {}  # site -> [portal asked, portal final, probe URLs] (crawlers/probes.py)
        self.heartbeat = Heartbeat(frontier, self._held)
        if self.writer is not None:
            self.writer.on_commit = self._committed
        self.feed.on_done = self._site_done

    def _held(self) -> list[str]:
        return [sid for sid, st in list(self.site_state.items()) if st.outstanding >= 0]

    async def start(self):  # noqa: D401 - Scrapy >= 2.13 entry point
        self.heartbeat.start()
        async for req in super().start():
            yield req

    # --- sites -------------------------------------------------------------------------------
    def _more_sites(self) -> list[Any]:
        if self._closing:
            return []
        active = sum(1 for st in self.site_state.values() if st.outstanding >= 0)
        out: list[Any] = []
        for sid in self.feed.want(self.at_once - active):
            site = self.by_id.get(sid)
            if site is None:  # not in this machine's registry: hand it back
                logger.warning("frontier: site %s is not in this crawl's registry; left to another worker", sid)
                self.frontier.release([sid])
                continue
            if sid in self.feed.taken_over:
                out += self._take_over(site)
            else:
                out.append(self._begin_site(site, None))
                st = self.site_state[sid]
                st.seen = _Recorded(st.seen)
                st.seen.fresh.extend(st.seen)
                self._meta_dirty.add(sid)
        return out

    def _take_over(self, site: Any) -> list[Any]:
        """Continue a site another worker started: everything it scheduled that has no committed outcome.

        The site's state is rebuilt as a cleanly stopped run's would be (``_begin_site`` with the
        portal's hosts, the URLs scheduled and the platform branches, from Redis); then the portal
        (unless it is stored), the portal's URLs and every branch's URLs without an outcome are sent.
        """
        sid = site.site_id
        state = self.frontier.site_state(sid)
        got = state["got"]
        old = {"hosts": state["hosts"] or [site.host],
               "scheme": state["scheme"] or site.portal_url.split(":", 1)[0].lower(),
               "seen": {u: e[0] for u, e in state["seen"].items()}, "dropped": [], "branches": state["branches"]}
        portal_req = self._begin_site(site, old)
        st = self.site_state[sid]
        st.resumed = False  # finished as any other site, when its last request is answered
        st.seen = _Recorded(st.seen)
        reqs = []
        if site.portal_url in got:
            st.outstanding -= 1  # the portal request ``_begin_site`` made is not sent
            st.platforms_started = True  # it answered: platforms are crawled as they are found
            probed = state["probes"]
            if probed and any(u not in got for u in probed[2]):  # HTTP facts not all stored: asked again
                self.send_probes(probed[0], probed[1], st)
        else:
            reqs.append(portal_req)
        for url, depth in list(st.seen.items()):
            if url in got or url == site.portal_url:
                continue
            entry = state["seen"].get(url) or [depth, None, None]
            if entry[1]:  # an attachment: fetched as one, outside the depth limit
                reqs.append(self.attachment_request(url, entry[1], st, entry[2] or site.portal_url, depth))
            else:
                req = self._request(url, st)
                req.meta["depth"] = depth
                reqs.append(req)
        for branch in self._crawled_by(sid):
            for url, pdepth in list(branch.seen.items()):
                if url not in got:
                    reqs.append(self._platform_again(url, st, branch, pdepth, state["calls"].get(url)))
        for req in reqs:  # their redirects are filtered in this process only (crawlers/frontier.py)
            req.meta["wv_takeover"] = True
        logger.info("frontier: took over %s: %d URLs without a stored outcome", sid, len(reqs))
        if not reqs:  # the dead worker had everything stored: only the site's end was missing
            st.outstanding = 0
            self._finish_site(st)
        return reqs

    def _platform_again(self, url: str, st: Any, branch: Any, pdepth: int, recipe: dict | None) -> Any:
        """A platform request the dead worker made, made again: a JSON API call as it was (method, body, page)."""
        api = (recipe or {}).get("api")
        if not api:
            return self._lost_platform_request(url, st, branch, pdepth).replace(dont_filter=False)
        call = ApiCall(api["method"], api["url"], api.get("body"), api.get("page_param"))
        return self._platform_request(api["url"], st, branch, pdepth, recipe.get("depth", pdepth + 1),
                                      api.get("page"), call=call, n=api.get("n", 1), prev=api.get("prev"))

    def send_probes(self, portal_requested: str, portal_final: str, st: Any) -> None:
        from urllib.parse import urlsplit

        from crawlers.probes import probe_urls
        super().send_probes(portal_requested, portal_final, st)
        host = urlsplit(portal_final).hostname or ""
        self._probes[st.site_id] = [portal_requested, portal_final,
                                    probe_urls(portal_requested, host, portal_final.split(":", 1)[0].lower())]
        self._meta_dirty.add(st.site_id)

    def _send(self, request: Any) -> None:
        api = request.meta.get("wv_api")
        if api:  # kept so that a worker taking the site over can make the same call
            key = request.meta.get("wv_store_url") or request.url
            self._calls.setdefault(request.meta["site_id"], {})[key] = {"api": api, "depth": request.meta.get("depth")}
        super()._send(request)

    def attachment_request(self, url: str, fmt: str, st: Any, referrer: str, depth: int) -> Any:
        self._attachment_of[url] = (fmt, referrer)
        return super().attachment_request(url, fmt, st, referrer, depth)

    def _follow(self, response: Any, st: Any, depth: int, block: str | None = None):
        if depth == 0:
            self._meta_dirty.add(st.site_id)  # the portal may have brought another host or scheme
        if st.site_id in self.heartbeat.lost:  # another worker has the site now: store, follow nothing
            if self.writer is not None:
                self._store(response, st, depth, isinstance(response, HtmlResponse), block)
            return
        yield from super()._follow(response, st, depth, block)

    # --- what goes to Redis -----------------------------------------------------------------
    def _committed(self, rows: list[tuple[str, str]]) -> None:
        """The writer committed these (site, url) rows: they have an outcome now."""
        for sid, url in rows:
            self._got.setdefault(sid, []).append(url)
        self._sync()

    def _request_dropped(self, request: Any, spider: Any = None) -> None:
        st = self.site_state.get(request.meta.get("site_id", ""))
        if st is not None:
            self._got.setdefault(st.site_id, []).append(request.meta.get("redirect_urls", [request.url])[0])
        super()._request_dropped(request, spider)

    def _sync(self) -> None:
        """Write fresh ``seen`` entries, hosts, then committed outcomes; kept for the next try on an error."""
        import redis
        seen: dict[str, dict[str, list]] = {}
        for sid, st in list(self.site_state.items()):
            fresh = getattr(st.seen, "fresh", None)
            if fresh:
                seen[sid] = {u: [st.seen[u], *self._attachment_of.get(u, (None, None))] for u in fresh}
        meta = {sid: {"hosts": _json(sorted(self.site_state[sid].hosts)), "scheme": self.site_state[sid].scheme}
                for sid in self._meta_dirty if sid in self.site_state}
        for sid, m in meta.items():
            if sid in self._probes:
                m["probes"] = _json(self._probes[sid])
        for sid, st in list(self.site_state.items()):  # platform branches: what each scheduled (crawlers/scope.py)
            branches = [b.state() for b in self._crawled_by(sid)] if st.outstanding >= 0 else []
            if branches:
                meta.setdefault(sid, {})["branches"] = _json(branches)
        got = {sid: urls for sid, urls in self._got.items() if urls}
        if not (seen or meta or got or self._calls):
            return
        try:
            if self._calls:
                self.frontier.record_calls(self._calls)
                self._calls = {}
            self.frontier.record(seen, got, meta)
        except redis.RedisError as e:
            logger.warning("frontier %s: could not record progress (%s); retrying", self.frontier.url, e)
            return
        for sid in seen:
            self.site_state[sid].seen.fresh.clear()  # type: ignore[attr-defined]
        self._meta_dirty.clear()
        self._got = {}

    def _send_stats(self) -> None:
        self._sync()  # duplicate drops and scheduled URLs reach Redis within a second
        super()._send_stats()

    # --- ends --------------------------------------------------------------------------------
    def _site_done(self, sid: str) -> None:
        """The site's rows and status are committed (``FeedSpider._finish_site``): finished in Redis too."""
        import redis
        self._sync()
        if sid in self.heartbeat.lost:
            return
        try:
            self.frontier.finish(sid)
        except redis.RedisError as e:
            logger.warning("frontier %s: could not mark %s finished (%s); another worker will redo its end",
                           self.frontier.url, sid, e)

    def _idle(self, spider: Any = None) -> None:
        from scrapy.exceptions import DontCloseSpider
        super()._idle(spider)  # takes more sites, if any are free
        mine = {sid for sid, st in self.site_state.items() if st.outstanding >= 0}
        try:
            waiting = not self._closing and self.frontier.others_active(mine)
        except Exception:  # noqa: BLE001 - Redis gone: nothing to wait for
            waiting = False
        if waiting:  # another worker holds sites: stay, to take them over if it dies (asked again in 5 s)
            raise DontCloseSpider

    def _closed(self, spider: Any, reason: str) -> None:
        super()._closed(spider, reason)
        self.heartbeat.stop.set()
        self._sync()
        unfinished = [sid for sid, st in self.site_state.items() if st.outstanding >= 0]
        if unfinished:  # a clean stop: another worker (or the next run) takes them over at once
            try:
                self.frontier.release(unfinished)
            except Exception as e:  # noqa: BLE001 - the leases then expire on their own
                logger.warning("frontier %s: could not release leases (%s)", self.frontier.url, e)


def _json(v: Any) -> str:
    import json
    return json.dumps(v, ensure_ascii=False)
