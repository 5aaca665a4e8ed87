"""Crawl benchmark: `windvane crawl` against a plain Scrapy spider over the same pages.

Starts the simulated web (simweb.server.SimWebProcess) for the first ``--sites``
sites of the registry, crawls them once with a plain Scrapy spider (one process: the same
settings but none of windvane's downloader middlewares except the proxy one, the same
link extraction and host/depth/page limits, nothing stored), once with ``windvane crawl
--workers 1`` and once with ``windvane crawl --workers N`` (N = ``--workers``, default the
number of cores: one crawler process per core), each into a fresh store, all as subprocesses,
and prints ``name: value`` lines, the headline ratio last::

    python bench/crawl.py [--sites 10] [--depth 4] [--max-pages 400] [--repeat 2] [--workers N]

``crawl_ratio_one_worker`` is windvane in one process against plain Scrapy, ``crawl_ratio`` (the
headline) windvane on every core against plain Scrapy in its one process.
Pages/s is measured inside the crawler processes, from the start of the crawl to
the end (process start-up excluded for all; with several workers, from the first worker's
start to the last one's end). If the simulated web is not
available, ``--web fixture`` uses the small proxy web of the tests with larger pages.
Exits non-zero only if it could not run.

``web_cores_during_*``: cores the simulated web's server process used during each run (its CPU
seconds over the run's wall seconds). On a small machine the web being crawled competes with the
crawlers for the same cores, which caps what more crawler processes can gain.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# --- the plain Scrapy baseline (runs in a subprocess: python bench/crawl.py --plain ...) -----
def run_plain(args: argparse.Namespace) -> int:
    import scrapy
    from scrapy.crawler import CrawlerProcess

    from crawlers.run import CrawlOptions, scrapy_settings
    from crawlers.spider import _host_of, make_link_extractor, same_site_url
    from evidence.registry import load_registry

    reg = load_registry(args.registry)
    opts = CrawlOptions(store="", campaign="plain", proxy=args.proxy, depth=args.depth,
                        max_pages=args.max_pages, concurrency=args.concurrency, progress=False)

    class PlainSpider(scrapy.Spider):
        """Breadth-first within the portal host, depth and page budget; stores nothing."""

        name = "plain"

        def __init__(self, **kw: Any):
            super().__init__(**kw)
            self.le = make_link_extractor()
            self.seen: dict[str, set[str]] = {}
            self.pages = 0

        async def start(self):
            for s in reg.sites:
                self.seen[s.site_id] = {s.portal_url}
                yield scrapy.Request(s.portal_url, meta={"site": s.site_id, "host": s.host, "proxy": args.proxy},
                                     dont_filter=True)

        hosts: dict[str, set[str]] = {s.site_id: {s.host} for s in reg.sites}
        schemes: dict[str, str] = {s.site_id: s.portal_url.split(":")[0] for s in reg.sites}

        def parse(self, response):
            self.pages += 1
            meta = response.meta
            if meta.get("depth", 0) >= args.depth or not isinstance(response, scrapy.http.HtmlResponse):
                return
            site = meta["site"]
            if meta.get("depth", 0) == 0 and response.status < 400:  # the portal may redirect
                self.hosts[site].add(_host_of(response.url))
                self.schemes[site] = response.url.split(":")[0]
            seen = self.seen[site]
            for link in self.le.extract_links(response):
                if len(seen) >= args.max_pages:
                    break
                url = same_site_url(link.url, self.hosts[site], self.schemes[site])
                if url is None or url in seen:
                    continue
                seen.add(url)
                yield scrapy.Request(url, meta={"site": site, "host": meta["host"], "proxy": args.proxy})

    settings = scrapy_settings(opts)
    settings["EXTENSIONS"] = {}
    # plain Scrapy: none of windvane's downloader middlewares (browser, attachments), only the proxy
    settings["DOWNLOADER_MIDDLEWARES"] = {"crawlers.extensions.ProxyEverywhereMiddleware": 740}
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(PlainSpider)
    started = time.monotonic()
    process.crawl(crawler)
    process.start()
    seconds = time.monotonic() - started
    pages = crawler.spider.pages
    print(json.dumps({"pages": pages, "seconds": round(seconds, 2),
                      "pages_per_s": round(pages / seconds, 1)}))
    return 0


# --- the benchmark -----------------------------------------------------------------------
def subset_registry(path: Path, n: int, out: Path, *, http_only: bool = False) -> None:
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    keep: list[str] = []
    for r in rows:
        if r["site_id"] not in keep:
            keep.append(r["site_id"])
    keep = keep[:n]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    for r in rows:
        if r["site_id"] in keep:
            if http_only:  # the fixture web speaks plain http only
                r["portal_url"] = r["portal_url"].replace("https://", "http://", 1)
            w.writerow(r)
    out.write_text(buf.getvalue(), encoding="utf-8")


def start_web(kind: str, registry: Path):
    if kind == "simweb":
        from simweb.server import SimWebProcess
        return SimWebProcess(str(registry), seed=2023, truth_path=None, port=0)
    from tests.test_crawl_web import FixtureWeb
    hosts = []
    for r in csv.DictReader(io.StringIO(registry.read_text(encoding="utf-8"))):
        hosts.append(r["portal_url"].split("/")[2])
    return FixtureWeb(hosts, page_filler=18000)


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc; 0 where unknown)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _timed(cmd: list[str], web_pid: int | None, **kw: Any) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``cmd``; also return the cores the web server process used meanwhile (CPU seconds / wall seconds)."""
    cpu0, t0 = _cpu_seconds(web_pid), time.monotonic()
    done = subprocess.run(cmd, **kw)
    wall = max(time.monotonic() - t0, 1e-6)
    return done, (_cpu_seconds(web_pid) - cpu0) / wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plain", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--proxy", help=argparse.SUPPRESS)
    ap.add_argument("--registry", default=str(ROOT / "data" / "registry.csv"))
    ap.add_argument("--sites", type=int, default=10)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--max-pages", type=int, default=400)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=2, help="runs of each crawler; the best of each counts")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="crawler processes of the all-cores windvane run (default: the cores, %(default)s)")
    ap.add_argument("--web", choices=["simweb", "fixture"], default=None,
                    help="simulated web to crawl (default: simweb if available, else fixture)")
    args = ap.parse_args()
    if args.plain:
        return run_plain(args)

    web_kind = args.web
    if web_kind is None:
        try:
            import simweb.server  # noqa: F401
            web_kind = "simweb"
        except ImportError:
            web_kind = "fixture"
    py = sys.executable
    windvane = [py, "-m", "windvane.cli"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="")
    with tempfile.TemporaryDirectory(prefix="wv-bench-crawl-") as tmp_s:
        tmp = Path(tmp_s)
        reg = tmp / "registry.csv"
        subset_registry(Path(args.registry), args.sites, reg, http_only=web_kind == "fixture")
        try:
            web = start_web(web_kind, reg)
            web.__enter__()
        except Exception as e:  # noqa: BLE001
            print(f"bench/crawl: could not start the {web_kind} web: {e}", file=sys.stderr)
            return 1
        try:
            common = ["--depth", str(args.depth), "--max-pages", str(args.max_pages),
                      "--concurrency", str(args.concurrency)]
            # the simulated web on localhost: no politeness delay; the portals only, as the plain spider
            # crawls them (platform hosts, crawlers/scope.py, would add pages plain Scrapy never asks for)
            no_delay = ["--delay", "0", "--platform-pages", "0"]
            p: dict = {}
            w: dict = {}  # windvane, one process
            wn: dict = {}  # windvane, --workers N
            # alternate the two crawlers and keep each one's best run: other load on the machine
            # then slows both alike instead of whichever happened to run at the wrong moment
            for i in range(args.repeat):
                web_pid = getattr(getattr(web, "proc", None), "pid", None)  # simweb's own process
                plain, web_cores = _timed([py, __file__, "--plain", "--proxy", web.proxy_url, "--registry",
                                           str(reg), *common], web_pid, capture_output=True, text=True, env=env,
                                          cwd=ROOT)
                if plain.returncode != 0:
                    print(f"bench/crawl: plain Scrapy run failed:\n{plain.stderr[-3000:]}", file=sys.stderr)
                    return 1
                res = json.loads(plain.stdout.strip().splitlines()[-1])
                if res["pages_per_s"] > p.get("pages_per_s", -1):
                    p = {**res, "web_cores": web_cores}
                for best, workers in ((w, 1), (wn, args.workers)):
                    wv, web_cores = _timed([*windvane, "crawl", "--registry", str(reg), "--proxy", web.proxy_url,
                                            "--store", str(tmp / f"bench{i}-{workers}.db"), "--campaign", "bench",
                                            "--quiet", "--json", "--workers", str(workers), *common, *no_delay],
                                           web_pid, capture_output=True, text=True, env=env, cwd=ROOT)
                    if wv.returncode != 0:
                        print(f"bench/crawl: windvane crawl --workers {workers} failed:\n{wv.stderr[-3000:]}",
                              file=sys.stderr)
                        return 1
                    res = json.loads(wv.stdout.strip().splitlines()[-1])
                    if res["pages_per_s"] > best.get("pages_per_s", -1):
                        best.clear()
                        best.update(res, web_cores=web_cores)
        finally:
            web.__exit__(None, None, None)
    print(f"web: {web_kind}")
    print(f"sites: {args.sites}")
    print(f"depth: {args.depth}")
    print(f"runs_each: {args.repeat}")
    print(f"plain_pages: {p['pages']}")
    print(f"plain_seconds: {p['seconds']}")
    print(f"windvane_pages: {w['pages']}")
    print(f"windvane_seconds: {w['seconds']}")
    print(f"windvane_failures: {w['failures']}")
    print(f"workers: {wn['workers']}")
    print(f"windvane_workers_pages: {wn['pages']}")
    print(f"windvane_workers_seconds: {wn['seconds']}")
    print(f"windvane_workers_failures: {wn['failures']}")
    # the simulated web runs on the same cores as the crawlers: what it takes is not theirs
    print(f"cores: {os.cpu_count()}")
    print(f"web_cores_during_plain: {p['web_cores']:.2f}")
    print(f"web_cores_during_windvane: {w['web_cores']:.2f}")
    print(f"web_cores_during_windvane_workers: {wn['web_cores']:.2f}")
    print(f"plain_pages_per_s: {p['pages_per_s']}")
    print(f"windvane_pages_per_s: {w['pages_per_s']}")
    print(f"windvane_workers_pages_per_s: {wn['pages_per_s']}")
    one = w["pages_per_s"] / p["pages_per_s"] if p["pages_per_s"] else 0.0
    print(f"crawl_ratio_one_worker: {one:.2f}")
    ratio = wn["pages_per_s"] / p["pages_per_s"] if p["pages_per_s"] else 0.0
    print(f"crawl_ratio: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
