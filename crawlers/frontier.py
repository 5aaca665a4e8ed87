"""A campaign shared by crawler processes on one or more machines through Redis (``--frontier``).

``windvane crawl --frontier redis://HOST:PORT/DB`` runs this machine's workers on a campaign whose
work list and per-URL frontier live in Redis, so that any number of machines can crawl it together,
each into its own store shard (SQLite + WARC; ``windvane merge`` folds them into one store).

Why not scrapy-redis or a job queue. scrapy-redis shares one request queue per spider: any
machine pops any host's requests, so two machines hit one government server at once (per-host
politeness is per process), and a request popped by a worker that dies is gone (the queue has no
acknowledgement). A job queue (RQ, Celery, Dramatiq) hands out sites, but a site whose worker dies
is retried from its portal: every page the dead worker fetched is fetched again. windvane's unit of
politeness is the site, and its unit of recovery is the URL, so the protocol below keeps both in
Redis itself, with redis-py and a few Lua scripts (each runs atomically on the server).

Keys, all under ``windvane:<campaign>:``:

``settings``        the crawl options the campaign started with (the first machine sets them; another
                    machine with other options is refused unless ``--force``)
``todo``            sites nobody has started, in work order (slowest first)
``active``          sites started and not finished
``lease:<site>``    the worker crawling the site (``host:pid:slot``); expires unless renewed
``done``            sites finished (whatever their status: done, partial, blocked, unreachable)
``seen:<site>``     URL -> ``[depth, attachment format or null, referrer]``: everything the site scheduled
``got:<site>``      URLs whose outcome (page or failure row, or a duplicate drop) is committed in a shard
``fingerprints``    fingerprints of redirect hops (``RedisDupeFilter``): a redirect target is fetched once
``calls:<site>``    URL -> how a platform's JSON API request was made (method, body, pagination)
``meta:<site>``     the site's hosts and scheme (a portal that redirected to another host), its
                    platform branches with what each scheduled (``crawlers/scope.py``), its probes

A worker leases up to its share of sites at a time: first any active site whose lease has
expired (its worker died, or stopped cleanly and let it go), then the next of ``todo``. A heartbeat
thread renews its leases every third of the lease time; a lease it finds taken by another is
dropped (the site's pages stop being followed here). A URL enters ``seen`` when it is scheduled and
``got`` only after its row is committed to the shard (the WARC record is fsynced before that,
``crawlers/pipeline.py``), and ``seen`` is written before the ``got`` of the page that linked it.
Taking a site over therefore means: schedule ``seen`` minus ``got`` at their recorded depths. Nothing
is lost; what can be fetched twice is only what the dead worker had in flight or had stored in its
last uncommitted batch (at most a few seconds of one site's requests). A worker with nothing left
to take stays while other workers still hold sites, so that it can take over theirs if they die;
the parent of a worker that dies releases its leases at once (no wait for the expiry).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 60.0


class FrontierError(Exception):
    """The frontier cannot be used (unreachable, not Redis, a campaign started with other options)."""


_TAKE = """
local prefix, me, ttl, n = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {}
for _, sid in ipairs(redis.call('SMEMBERS', prefix .. 'active')) do
  if #out >= n then break end
  if redis.call('SET', prefix .. 'lease:' .. sid, me, 'NX', 'PX', ttl) then
    table.insert(out, 'T' .. sid)
  end
end
while #out < n do
  local sid = redis.call('LPOP', prefix .. 'todo')
  if not sid then break end
  if redis.call('SISMEMBER', prefix .. 'done', sid) == 0 then
    redis.call('SADD', prefix .. 'active', sid)
    redis.call('SET', prefix .. 'lease:' .. sid, me, 'PX', ttl)
    table.insert(out, 'N' .. sid)
  end
end
return out
"""

_RENEW = """
local prefix, me, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local lost = {}
for i = 4, #ARGV do
  local key = prefix .. 'lease:' .. ARGV[i]
  if redis.call('GET', key) == me then redis.call('PEXPIRE', key, ttl) else table.insert(lost, ARGV[i]) end
end
return lost
"""

_FINISH = """
local prefix, me, sid = ARGV[1], ARGV[2], ARGV[3]
redis.call('SADD', prefix .. 'done', sid)
redis.call('SREM', prefix .. 'active', sid)
if redis.call('GET', prefix .. 'lease:' .. sid) == me then redis.call('DEL', prefix .. 'lease:' .. sid) end
return 1
"""

_RELEASE = """
local prefix, me = ARGV[1], ARGV[2]
local freed = {}
local sites = {}
if #ARGV > 2 then for i = 3, #ARGV do table.insert(sites, ARGV[i]) end
else sites = redis.call('SMEMBERS', prefix .. 'active') end
for _, sid in ipairs(sites) do
  local key = prefix .. 'lease:' .. sid
  if redis.call('GET', key) == me then redis.call('DEL', key); table.insert(freed, sid) end
end
return freed
"""

_INIT = """
local prefix, settings = ARGV[1], ARGV[2]
if redis.call('SET', prefix .. 'settings', settings, 'NX') then
  for i = 3, #ARGV do redis.call('RPUSH', prefix .. 'todo', ARGV[i]) end
  return {1, settings}
end
return {0, redis.call('GET', prefix .. 'settings')}
"""


def worker_name(slot: int) -> str:
    """The lease holder name of worker ``slot`` of this process: ``host:pid:slot``."""
    return f"{socket.gethostname()}:{os.getpid()}:{slot}"


def settings_of(opts: Any, site_ids: list[str]) -> dict[str, Any]:
    """What machines sharing a campaign must agree on: the options a campaign keeps (``crawlers.campaign.KEPT``,
    those that change what a crawl fetches) and the sites."""
    from crawlers.campaign import KEPT
    return {**{k: getattr(opts, k) for k in KEPT}, "sites": sorted(site_ids)}


class RedisFrontier:
    """One campaign's shared work list and per-URL frontier in Redis (see the module docstring)."""

    def __init__(self, url: str, campaign: str, worker: str = "", lease_seconds: float = DEFAULT_LEASE_SECONDS):
        try:
            import redis
        except ImportError as e:  # pragma: no cover - a dependency of the package
            raise FrontierError("--frontier needs the Python package redis: run ./setup.sh") from e
        self.url = url
        self.campaign = campaign
        self.worker = worker
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self.prefix = f"windvane:{campaign}:"
        try:
            self.r = redis.Redis.from_url(url, decode_responses=True, socket_timeout=30, socket_connect_timeout=10,
                                          health_check_interval=30)
            self.r.ping()
        except ValueError as e:
            raise FrontierError(f"--frontier {url}: not a Redis URL ({e}); "
                                "write redis://HOST:PORT/DB") from None
        except redis.RedisError as e:
            raise FrontierError(f"--frontier {url}: cannot reach Redis ({e}); start redis-server there "
                                "or fix the address") from None
        self._take = self.r.register_script(_TAKE)
        self._renew = self.r.register_script(_RENEW)
        self._finish = self.r.register_script(_FINISH)
        self._release = self.r.register_script(_RELEASE)
        self._init = self.r.register_script(_INIT)

    def key(self, name: str) -> str:
        return self.prefix + name

    # --- the campaign ----------------------------------------------------------------------
    def init(self, site_ids: list[str], settings: dict[str, Any], force: bool = False) -> bool:
        """Start the campaign's work list with ``site_ids`` (in work order) unless another machine did.

        Returns True when this call started it. A campaign started with other settings is refused
        (``FrontierError`` naming what differs) unless ``force``: then this machine joins it as it is.
        """
        mine = json.dumps(settings, sort_keys=True, ensure_ascii=False)
        started, theirs = self._init(args=[self.prefix, mine, *site_ids])
        if started:
            return True
        try:
            old = json.loads(theirs)
        except (TypeError, ValueError):
            old = {}
        differ = [k for k in settings if old.get(k) != settings[k]]
        if differ and not force:
            what = "; ".join(f"{k}: {_short(old.get(k))} there, {_short(settings[k])} here" for k in differ)
            raise FrontierError(f"--frontier {self.url}: campaign {self.campaign!r} was started with other "
                                f"settings ({what}); run with the same options, or --force to join it as it is")
        return False

    def counts(self) -> dict[str, int]:
        """Sites not started, being crawled, and finished."""
        p = self.r.pipeline()
        p.llen(self.key("todo"))
        p.scard(self.key("active"))
        p.scard(self.key("done"))
        todo, active, done = p.execute()
        return {"todo": todo, "active": active, "done": done}

    def others_active(self, mine: set[str]) -> bool:
        """Sites are being crawled by other workers (a dry worker waits: it may have to take one over)."""
        return any(s not in mine for s in self.r.smembers(self.key("active")))

    # --- leases ----------------------------------------------------------------------------
    def take(self, n: int) -> list[tuple[str, bool]]:
        """Lease up to ``n`` sites: ``(site_id, taken_over)``, orphans of dead workers first."""
        if n <= 0:
            return []
        got = self._take(args=[self.prefix, self.worker, self.lease_ms, n])
        return [(g[1:], g[0] == "T") for g in got]

    def renew(self, sites: list[str]) -> list[str]:
        """Extend the leases of ``sites``; returns those this worker no longer holds."""
        if not sites:
            return []
        return list(self._renew(args=[self.prefix, self.worker, self.lease_ms, *sites]))

    def finish(self, site_id: str) -> None:
        self._finish(args=[self.prefix, self.worker, site_id])

    def release(self, sites: list[str] | None = None, worker: str | None = None) -> list[str]:
        """Give up leases (of ``worker``, this one by default): the sites stay active, for another to take over."""
        return list(self._release(args=[self.prefix, worker or self.worker, *(sites or [])]))

    # --- one site's frontier ---------------------------------------------------------------
    def record(self, seen: dict[str, dict[str, list]], got: dict[str, list[str]],
               meta: dict[str, dict[str, str]]) -> None:
        """Write what sites scheduled (``seen``), what is committed (``got``) and hosts (``meta``), in that order."""
        p = self.r.pipeline(transaction=True)
        for sid, entries in seen.items():
            if entries:
                p.hset(self.key(f"seen:{sid}"), mapping={u: json.dumps(v, ensure_ascii=False)
                                                          for u, v in entries.items()})
        for sid, m in meta.items():
            p.hset(self.key(f"meta:{sid}"), mapping=m)
        for sid, urls in got.items():
            if urls:
                p.sadd(self.key(f"got:{sid}"), *urls)
        p.execute()

    def record_calls(self, calls: dict[str, dict[str, Any]]) -> None:
        """How API requests were made (site -> url -> recipe), written before the site's next ``record``."""
        p = self.r.pipeline(transaction=True)
        for sid, entries in calls.items():
            if entries:
                p.hset(self.key(f"calls:{sid}"), mapping={u: json.dumps(v, ensure_ascii=False)
                                                           for u, v in entries.items()})
        p.execute()

    def site_state(self, site_id: str) -> dict[str, Any]:
        """What a worker taking ``site_id`` over needs: hosts, scheme, seen (url -> entry), got."""
        p = self.r.pipeline()
        p.hgetall(self.key(f"seen:{site_id}"))
        p.smembers(self.key(f"got:{site_id}"))
        p.hgetall(self.key(f"meta:{site_id}"))
        p.hgetall(self.key(f"calls:{site_id}"))
        seen, got, meta, calls = p.execute()
        return {"seen": {u: json.loads(v) for u, v in seen.items()}, "got": set(got),
                "hosts": json.loads(meta.get("hosts") or "[]"), "scheme": meta.get("scheme"),
                "branches": json.loads(meta.get("branches") or "[]"),
                "probes": json.loads(meta.get("probes") or "null"),
                "calls": {u: json.loads(v) for u, v in calls.items()}}


def _short(v: Any) -> str:
    s = json.dumps(v, ensure_ascii=False)
    return s if len(s) <= 40 else s[:37] + "..."


class Heartbeat(threading.Thread):
    """Renews a worker's leases every third of the lease time; collects the ones it lost."""

    def __init__(self, frontier: RedisFrontier, held: Any):
        super().__init__(daemon=True, name="windvane-lease")
        self.frontier = frontier
        self.held = held  # a callable giving the site ids this worker holds now
        self.lost: set[str] = set()
        self.stop = threading.Event()

    def run(self) -> None:
        import redis
        every = self.frontier.lease_ms / 3000
        while not self.stop.wait(every):
            try:
                lost = self.frontier.renew(sorted(self.held()))
            except redis.RedisError as e:
                logger.warning("frontier %s: could not renew leases (%s); retrying", self.frontier.url, e)
                continue
            for sid in lost:
                if sid not in self.lost:
                    logger.warning("frontier: the lease of site %s was taken by another worker; "
                                   "this worker stops following its links", sid)
                self.lost.add(sid)


class RedisDupeFilter:
    """Scrapy's duplicate filter (``DUPEFILTER_CLASS``), redirects shared through the campaign's Redis.

    Links are already scheduled once per site (``seen`` in Redis); what a process cannot know alone
    is the redirect target another machine fetched (a unified-login page, a moved column reached from
    many links): a redirect hop's fingerprint is therefore checked in Redis, every other request in
    this process as plain Scrapy does. A hop of a request sent again by a worker taking a site over
    (``meta['wv_takeover']``) is checked here only: the dead worker may have asked for it and never
    received it. Should Redis fail, this process filters alone, and says so once.
    """

    def __init__(self, url: str, campaign: str, fingerprinter: Any):
        import redis
        from scrapy.dupefilters import RFPDupeFilter
        self.local = RFPDupeFilter(fingerprinter=fingerprinter)
        self.key = f"windvane:{campaign}:fingerprints"
        self.url = url
        self.r = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=10)
        self.failed = False

    @classmethod
    def from_crawler(cls, crawler: Any) -> RedisDupeFilter:
        s = crawler.settings
        return cls(s.get("WINDVANE_FRONTIER"), s.get("WINDVANE_CAMPAIGN"), crawler.request_fingerprinter)

    def request_seen(self, request: Any) -> bool:
        import redis
        if not request.meta.get("redirect_urls") or request.meta.get("wv_takeover"):
            return self.local.request_seen(request)
        if not self.failed:
            try:
                return self.r.sadd(self.key, self.local._fingerprint(request)) == 0
            except redis.RedisError as e:
                self.failed = True
                logger.warning("frontier %s: duplicate filter unreachable (%s); this process filters alone",
                               self.url, e)
        return self.local.request_seen(request)

    def open(self) -> None:
        return None

    def close(self, reason: str) -> None:
        self.r.close()

    def log(self, request: Any, spider: Any) -> None:
        self.local.log(request, spider)
