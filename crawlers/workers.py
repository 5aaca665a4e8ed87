"""Several crawler processes on one campaign: ``run_workers`` (parent) and ``python -m crawlers.workers`` (child).

``windvane crawl --workers N`` (default: the number of cores) runs N Scrapy processes side by side
on one campaign; one Scrapy process is CPU-bound on a single core, so this is how a crawl uses
the whole machine. ``crawlers.run.crawl`` calls ``run_workers`` when N > 1.

Sites, not requests, are what is shared out: each site is crawled by exactly one process, so
per-host politeness (``crawlers/politeness.py``, Scrapy's per-domain concurrency and delay,
robots.txt, Retry-After holds) lives in one process as it does in a single-process crawl. The
parent keeps the work list — the campaign's sites not yet ``done``, the slowest of an earlier
campaign of the same store first — and hands sites out one request at a time over a socket:
every worker keeps ``sites_at_once`` sites in flight and asks for another when one finishes, so
the load balances itself. ``--concurrency`` is shared between the workers (requests in flight
overall), and so are the browser tabs: every worker launches its own Chromium only when a page
needs it, with ``ceil(browser_tabs / N)`` tabs, so N workers hold about as many tabs as one.

Every worker writes to the same SQLite store (WAL; the store's 30 s busy timeout makes a
writer wait for another's commit instead of failing) and to its own WARC files
(``<campaign>-<run start>-w<slot>-<NNNNN>.warc.gz``): no two processes ever append to one file.

Resuming. Worker slot *k* keeps Scrapy's JOBDIR in ``<campaign>/jobdir`` (slot 0, the same
folder a single-process crawl uses) or ``<campaign>/jobdir-<k>``. After a clean stop the next
run gives every slot back the sites its JOBDIR holds (``windvane-sites.json``), before any
other; after a hard crash (the campaign's ``windvane-crawl.running`` marker is still there)
every JOBDIR is discarded and unfinished sites start again from their portals, as in a
single-process crawl. A ``done`` site is never crawled again.

Lifetimes. Workers inherit the campaign lock's file descriptor, so the lock is held until the
last of them exits; they die with the parent (``PR_SET_PDEATHSIG``), run in their own session
(Ctrl-C reaches the parent, which passes one SIGINT on: a graceful stop that saves each
JOBDIR; a second Ctrl-C stops them at once). A worker that dies is reported in one line naming
its sites, which stay ``crawling`` — resumable by running the same command again; its output,
tracebacks included, is in ``<campaign>/logs/crawl-worker-<slot>.log``, never on the screen.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from crawlers.spider import WindvaneSpider

STATE_FILE = "windvane-sites.json"
_SUMMED = ("pages", "failures", "robots_blocked", "browser_pages")


def default_workers() -> int:
    """Crawler processes by default: one per core."""
    return os.cpu_count() or 1


def jobdir_of(campaign_dir: Path, slot: int) -> Path:
    """Scrapy's JOBDIR of worker ``slot`` (slot 0 shares the single-process crawl's folder)."""
    return campaign_dir / ("jobdir" if slot == 0 else f"jobdir-{slot}")


def discard_jobdirs(campaign_dir: Path, keep: int = 0) -> None:
    """Remove the JOBDIRs of worker slots ``keep`` and above (all of them with ``keep=0``)."""
    import shutil
    for d in [campaign_dir / "jobdir", *campaign_dir.glob("jobdir-*")]:
        tail = d.name.partition("-")[2]
        slot = 0 if d.name == "jobdir" else int(tail) if tail.isdigit() else None
        if slot is not None and slot >= keep:
            shutil.rmtree(d, ignore_errors=True)


def sites_at_once(opts: Any) -> int:
    """Sites one worker crawls at the same time: enough to keep its share of requests in flight.

    With a politeness delay a host gives about one request a second, so a worker needs as many
    sites as requests in flight; without one (a local web) a few hosts fill the slots, and fewer
    sites per worker leave a shorter tail when the work list runs dry.
    """
    if opts.delay > 0:
        return max(1, opts.concurrency)
    return max(2, math.ceil(opts.concurrency / max(opts.per_host, 1)))


def _saved_sites(jobdir: Path) -> list[str]:
    """Site ids a cleanly stopped worker left in its JOBDIR (resumed by the same slot)."""
    import json
    try:
        return list(json.loads((jobdir / STATE_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return []


def work_order(store_path: str, campaign: str, site_ids: list[str]) -> list[str]:
    """``site_ids`` with the slowest first: by seconds an earlier campaign of the store spent on the site."""
    import json
    import sqlite3
    took: dict[str, float] = {}
    try:
        conn = sqlite3.connect(store_path, timeout=30)
        try:
            for sid, cov in conn.execute("SELECT site_id, coverage FROM sites WHERE campaign != ? "
                                         "AND coverage IS NOT NULL", [campaign]):
                try:
                    took[sid] = max(took.get(sid, 0.0), float(json.loads(cov).get("seconds") or 0))
                except (ValueError, TypeError, AttributeError):
                    continue
        finally:
            conn.close()
    except sqlite3.Error:
        return list(site_ids)
    if not took:
        return list(site_ids)
    typical = sorted(took.values())[len(took) // 2]
    return sorted(site_ids, key=lambda s: -took.get(s, typical))  # stable: registry order among equals


# --- the parent ----------------------------------------------------------------------------
@dataclass
class _Worker:
    slot: int
    proc: subprocess.Popen
    conn: Connection
    log_path: Path
    sites: list[str] = field(default_factory=list)  # handed out and not reported finished
    stats: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] | None = None
    started: float | None = None
    error: str | None = None
    alive: bool = True
    name: str = ""  # the lease holder name on a Redis frontier


def _relay(stream: Any, log_path: Path, slot: int) -> None:
    """Copy a worker's output to its log file, and to stderr except tracebacks (which stay in the log)."""
    in_tb = False
    with open(log_path, "w", encoding="utf-8", errors="replace") as log:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace")
            log.write(line)
            log.flush()
            if line.startswith("Traceback (most recent call last)"):
                in_tb = True
                continue
            if in_tb:
                if line.startswith((" ", "\t")) or not line.strip() or line.startswith(
                        ("During handling", "The above exception")):
                    continue
                in_tb = False  # the exception line itself ends the traceback: not shown either
                continue
            sys.stderr.write(line)
            sys.stderr.flush()


def _start_worker(slot: int, opts: Any, lock_fd: int | None, campaign_dir: Path) -> _Worker:
    parent_end, child_end = socket.socketpair()
    logs = campaign_dir / "logs"
    logs.mkdir(exist_ok=True)
    log_path = logs / f"crawl-worker-{slot}.log"
    fds = [child_end.fileno()] + ([lock_fd] if lock_fd is not None and lock_fd >= 0 else [])
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.Popen([sys.executable, "-m", "crawlers.workers", str(child_end.fileno()), str(slot)],
                            pass_fds=fds, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, env=env)
    child_end.close()
    conn = Connection(parent_end.detach())
    threading.Thread(target=_relay, args=(proc.stdout, log_path, slot), daemon=True).start()
    return _Worker(slot, proc, conn, log_path)


def _progress_line(workers: list[_Worker], total_sites: int, sites_done: int, started: float,
                   frontier: Any = None) -> str:
    elapsed = max(time.monotonic() - started, 1e-6)
    if frontier is not None:  # the campaign across every machine sharing it
        try:
            c = frontier.counts()
            total_sites, sites_done = c["todo"] + c["active"] + c["done"], c["done"]
        except Exception:  # noqa: BLE001 - Redis unreachable: this machine's figures
            pass
    pages = sum(w.stats.get("pages", 0) for w in workers)
    failures = sum(w.stats.get("failures", 0) for w in workers)
    browser = sum(w.stats.get("browser_pages", 0) for w in workers)
    via_browser = f" ({browser} via browser)" if browser else ""
    return (f"crawl: {pages} pages stored{via_browser}, {pages / elapsed:.1f} pages/s, "
            f"sites {sites_done}/{total_sites} done, {failures} failures, {elapsed:.0f}s")


def _died(w: _Worker, names: dict[str, str]) -> str:
    rc = w.proc.poll()
    how = (f"killed by {signal.Signals(-rc).name}" if rc is not None and rc < 0
           else f"exit code {rc}" if rc is not None else "lost its connection")
    if w.error:
        how += f": {w.error}"
    sites = ", ".join(f"{s} {names.get(s, '')}".strip() for s in w.sites)
    what = (f"while crawling {sites}; {'that site stays' if len(w.sites) == 1 else 'those sites stay'} resumable: "
            "run the same command again" if w.sites else "between sites")
    return f"crawl: worker {w.slot} stopped unexpectedly ({how}) {what} (its log: {w.log_path})"


def run_workers(opts: Any, todo: list[Any], n: int, campaign_dir: Path, lock_fd: int | None,
                run_stamp: str, frontier: Any = None) -> dict[str, Any]:
    """Crawl ``todo`` (registry sites) with ``n`` worker processes; the summary keys of ``crawl``.

    Returns pages, failures, robots_blocked, browser_pages, seconds (first worker's crawl start to
    the last one's end), pages_per_s, status (``finished``, ``shutdown`` or ``crashed``), the
    browser figures summed, ``workers`` and ``clean`` (every worker stopped cleanly: its JOBDIR is
    trustworthy).

    ``frontier``: a :class:`crawlers.frontier.RedisFrontier` whose work list the workers take their
    sites from themselves (``--frontier``; the parent then hands nothing out, releases the leases of
    a worker that dies and reports the campaign's progress across machines).
    """
    names = {s.site_id: s.name_zh for s in todo}
    ids = [s.site_id for s in todo]
    queue = [] if frontier is not None else work_order(opts.store, opts.campaign, ids)
    resumed: dict[int, list[str]] = {}
    for slot in range(n):
        mine = [s for s in _saved_sites(jobdir_of(campaign_dir, slot)) if s in names and s in queue]
        for s in mine:
            queue.remove(s)
        resumed[slot] = mine
    wopts = replace(opts, concurrency=max(1, math.ceil(opts.concurrency / n)),
                    browser_tabs=max(1, math.ceil(opts.browser_tabs / n)), progress=False)
    at_once = sites_at_once(wopts)
    stopping = {"signals": 0}
    workers: list[_Worker] = []

    def on_signal(signum: int, _frame: Any) -> None:
        stopping["signals"] += 1
        for w in workers:
            if w.alive:
                try:
                    os.kill(w.proc.pid, signum)
                except ProcessLookupError:
                    pass

    old_handlers = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    started = time.monotonic()
    sites_done = 0
    last_progress = started
    try:
        for slot in range(n):
            w = _start_worker(slot, wopts, lock_fd, campaign_dir)
            workers.append(w)
            w.sites = list(resumed[slot])
            cfg = {"opts": wopts, "slot": slot, "initial": w.sites, "sites": ids, "at_once": at_once,
                   "jobdir": str(jobdir_of(campaign_dir, slot)), "writer_id": f"{run_stamp}-w{slot}",
                   "parent": os.getpid()}
            if frontier is not None:
                from crawlers.frontier import worker_name
                w.name = worker_name(slot)
                cfg.update(frontier=frontier.url, worker_name=w.name, lease=frontier.lease_ms / 1000)
            w.conn.send(cfg)
        while any(w.alive for w in workers):
            live = {w.conn: w for w in workers if w.alive}
            for c in wait(list(live), timeout=0.5):
                w = live[c]
                try:
                    msg = c.recv()
                except (EOFError, OSError):
                    w.alive = False
                    w.proc.wait()
                    if w.summary is None:
                        print(_died(w, names), file=sys.stderr, flush=True)
                    if frontier is not None and w.name:
                        _release_dead(frontier, w)
                    continue
                kind = msg[0]
                if kind == "want":
                    give: list[str] = []
                    if not stopping["signals"]:
                        # no more than a fair share of what is left, so that a few sites spread over every worker
                        alive = [x for x in workers if x.alive]
                        fair = math.ceil((len(queue) + sum(len(x.sites) for x in alive)) / len(alive)) - len(w.sites)
                        k = max(0, min(msg[1], fair)) or min(1, msg[1])
                        give, queue[:] = queue[:k], queue[k:]
                    w.sites += give
                    c.send(give)
                elif kind == "started":
                    w.started = msg[1]
                elif kind == "stats":
                    w.stats = msg[1]
                elif kind == "done":
                    if msg[1] in w.sites:
                        w.sites.remove(msg[1])
                    sites_done += 1
                elif kind == "summary":
                    w.summary = msg[1]
                    w.stats = msg[1]
                elif kind == "error":
                    w.error = msg[1]
            if opts.progress and time.monotonic() - last_progress >= 5.0:
                last_progress = time.monotonic()
                print(_progress_line(workers, len(todo), sites_done, started, frontier), file=sys.stderr, flush=True)
    finally:
        for sig, h in old_handlers.items():
            signal.signal(sig, h)
        for w in workers:
            if w.proc.poll() is None:
                w.proc.kill()
            w.proc.wait()
            w.conn.close()
    return _aggregate(workers, n)


def _release_dead(frontier: Any, w: _Worker) -> None:
    """A dead worker's leases go at once: another worker takes its sites over from Redis."""
    try:
        freed = frontier.release(worker=w.name)
    except Exception as e:  # noqa: BLE001 - the leases then expire on their own
        print(f"crawl: frontier {frontier.url}: could not release worker {w.slot}'s sites ({e}); "
              "they are taken over when their leases expire", file=sys.stderr, flush=True)
        return
    if freed:
        print(f"crawl: frontier: worker {w.slot}'s sites {', '.join(freed)} are free for another worker "
              "to take over", file=sys.stderr, flush=True)


def _aggregate(workers: list[_Worker], n: int) -> dict[str, Any]:
    out: dict[str, Any] = {k: sum(w.stats.get(k, 0) for w in workers) for k in _SUMMED}
    starts = [w.started for w in workers if w.started is not None]
    ends = [w.summary["ended"] for w in workers if w.summary]
    seconds = (max(ends) - min(starts)) if starts and ends else 0.0
    reasons = [w.summary["status"] if w.summary else "crashed" for w in workers]
    status = next((r for r in ("crashed", "shutdown") if r in reasons), None) or next(
        (r for r in reasons if r != "finished"), "finished")
    out.update(seconds=round(seconds, 2), pages_per_s=round(out["pages"] / seconds, 1) if seconds else 0.0,
               status=status, browser_share=round(out["browser_pages"] / out["pages"], 3) if out["pages"] else 0.0)
    browser: dict[str, int] = {}
    for w in workers:
        for k, v in (w.summary or {}).get("browser", {}).items():
            browser[k] = browser.get(k, 0) + v
    out.update(browser)
    out["workers"] = n
    out["clean"] = all(w.summary is not None and w.summary["status"] != "crashed" for w in workers)
    return out


# --- the worker ----------------------------------------------------------------------------
class _Feed:
    """The worker's end of the socket: asks the parent for sites, reports progress."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.exhausted = False
        self.stop_asked: list[int] = []  # signals received before the crawl started

    def want(self, n: int) -> list[str]:
        if self.exhausted or n <= 0:
            return []
        try:
            self.conn.send(("want", n))
            got = self.conn.recv()
        except (EOFError, OSError):
            got = []
        if not got:
            self.exhausted = True
        return got

    def send(self, *msg: Any) -> None:
        try:
            self.conn.send(msg)
        except (EOFError, OSError):
            self.exhausted = True


class FeedSpider(WindvaneSpider):
    """The windvane spider fed one site at a time by the parent: ``sites_at_once`` sites in flight."""

    def __init__(self, *args: Any, feed: _Feed, initial: list[str], at_once: int, worker: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.coverage_extra["worker"] = worker  # which worker slot crawled the site (sites.coverage)
        self.feed = feed
        self.initial = initial
        self.at_once = at_once
        self.by_id = {s.site_id: s for s in self.sites}
        self._saved: dict[str, dict] = {}
        self._closing = False
        self._ticker: Any = None

    async def start(self):  # noqa: D401 - Scrapy >= 2.13 entry point
        from twisted.internet import task
        self._saved = self._saved_state()
        self._ticker = task.LoopingCall(self._send_stats)
        self._ticker.start(1.0, now=False)
        for sid in self.initial:
            yield self._begin_site(self.by_id[sid], self._saved.get(sid))
        for req in self._more_sites():
            yield req

    def _more_sites(self) -> list[Any]:
        if self._closing or self.feed.exhausted:
            return []
        active = sum(1 for st in self.site_state.values() if st.outstanding >= 0 and not st.resumed)
        return [self._begin_site(self.by_id[sid], self._saved.get(sid)) for sid in self.feed.want(self.at_once - active)]

    def _top_up(self) -> bool:
        engine = self.crawler.engine
        if engine is None or not engine.running:
            return False
        reqs = self._more_sites()
        for r in reqs:
            engine.crawl(r)
        return bool(reqs)

    def _stats(self) -> dict[str, Any]:
        w = self.writer
        return {"pages": w.pages_stored, "failures": w.failures_stored, "robots_blocked": w.robots_blocked,
                "browser_pages": w.pages_browser} if w else {}

    def _send_stats(self) -> None:
        self.feed.send("stats", self._stats())

    def _finish_site(self, st: Any) -> None:
        if st.outstanding < 0:
            return
        super()._finish_site(st)
        self.feed.send("done", st.site_id)
        self._top_up()

    def _idle(self, spider: Any = None) -> None:
        from scrapy.exceptions import DontCloseSpider
        super()._idle(spider)
        if self._top_up():
            raise DontCloseSpider

    def _closed(self, spider: Any, reason: str) -> None:
        self._closing = True
        if self._ticker is not None and self._ticker.running:
            self._ticker.stop()
        super()._closed(spider, reason)


def _die_with_parent(parent: int) -> None:
    """Linux: SIGKILL this process when the parent dies (a hard crash of the crawl is one of all its processes)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)


def worker_main(fd: int) -> int:
    """A worker process: one Scrapy crawl fed by the parent over the socket ``fd``."""
    # a stop asked for before Scrapy installs its own handlers (the worker still starting): no crawl at all
    asked: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: asked.append(signum))
    conn = Connection(fd)
    feed = _Feed(conn)
    feed.stop_asked = asked
    try:
        cfg = conn.recv()
        _die_with_parent(cfg["parent"])
        return _work(cfg, feed)
    except Exception as e:
        import traceback
        traceback.print_exc()
        feed.send("error", f"{type(e).__name__}: {e}")
        return 1


def _work(cfg: dict, feed: _Feed) -> int:
    from crawlers.pipeline import PageWriter
    from crawlers.run import crawler_process
    from evidence.store import Store

    opts = cfg["opts"]
    spider_cls: type = FeedSpider
    extra: dict[str, Any] = {}
    jobdir_arg: str | None = cfg["jobdir"]
    if cfg.get("frontier"):  # sites from Redis, no JOBDIR: Redis holds the frontier
        from crawlers.frontier import RedisFrontier
        from crawlers.frontier_spider import FrontierFeed, FrontierSpider
        frontier = RedisFrontier(cfg["frontier"], opts.campaign, worker=cfg["worker_name"],
                                 lease_seconds=cfg["lease"])
        asked = feed.stop_asked
        feed = FrontierFeed(feed.conn, frontier)
        feed.stop_asked = asked
        spider_cls, extra, jobdir_arg = FrontierSpider, {"frontier": frontier}, None
        opts = replace(opts, extra_settings={**opts.extra_settings, "WINDVANE_FRONTIER": cfg["frontier"],
                                             "WINDVANE_CAMPAIGN": opts.campaign,
                                             "DUPEFILTER_CLASS": "crawlers.frontier.RedisDupeFilter"})
    with Store(opts.store) as store:
        registry = store.registry(opts.campaign)
    wanted = set(cfg["sites"])
    sites = [s for s in registry.sites if s.site_id in wanted]
    jobdir = Path(cfg["jobdir"])
    jobdir.mkdir(parents=True, exist_ok=True)
    if feed.stop_asked:
        feed.send("summary", {"status": "shutdown", "ended": time.monotonic()})
        return 0
    writer = PageWriter(opts.store, opts.campaign, writer_id=cfg["writer_id"])
    process, crawler, close_reason = crawler_process(opts, jobdir_arg, spider_cls)
    if feed.stop_asked:  # asked while Scrapy was being set up
        writer.close()
        feed.send("summary", {"status": "shutdown", "ended": time.monotonic()})
        return 0
    feed.send("started", time.monotonic())
    try:
        process.crawl(crawler, sites=sites, depth=opts.depth, max_pages=opts.max_pages, proxy=opts.proxy,
                      writer=writer, state_path=str(jobdir / STATE_FILE) if jobdir_arg else None, feed=feed,
                      initial=cfg["initial"], at_once=cfg["at_once"], worker=cfg["slot"], **extra)
        process.start()
    finally:
        ended = time.monotonic()
        writer.close()
    summary: dict[str, Any] = {"pages": writer.pages_stored, "failures": writer.failures_stored,
                               "robots_blocked": writer.robots_blocked, "browser_pages": writer.pages_browser,
                               "status": close_reason.get("reason", "crashed"), "ended": ended}
    svc = getattr(crawler, "_windvane_browser", None)
    if svc is not None:
        summary["browser"] = svc.summary()
    feed.send("summary", summary)
    return 0


if __name__ == "__main__":  # python -m crawlers.workers FD SLOT (the slot only names the process)
    sys.exit(worker_main(int(sys.argv[1])))
