"""Scale benchmark: `windvane crawl` over generated registries of growing size, same budget per site.

For each size N (default 50, 200, 1000 sites) it serves a synthetic registry of N sites
(``windvane simweb serve --sites N``, simweb/synthetic.py; basic faults), crawls it with
``windvane crawl`` into a fresh store with the same per-site budget (``--max-pages``,
``--depth``), and prints, per size: pages, pages/s (measured inside the crawl, start-up
excluded), the peak memory of the crawl's process tree (every process it starts: crawl workers,
a browser; PSS summed from /proc every 0.2 s by a wrapper process that runs only the crawl) and of
its largest process (``getrusage(RUSAGE_CHILDREN).ru_maxrss`` of that wrapper), and the store's
bytes per page (SQLite file + WAL + the WARC folder). Then the figures the goal is stated in, the headline ratio last::

    rss_growth = (rss_largest / rss_smallest) / (sites_largest / sites_smallest)   (< 1: sub-linear)
    scale_ratio = pages_per_s_largest / pages_per_s_smallest                        (goal >= 0.9)

    python bench/scale.py [--sizes 50,200,1000] [--max-pages 20] [--depth 3]

``--browser never`` by default: the browser (``auto``) is a fixed cost per crawl worker, not one
that grows with the registry. The baseline (the smallest size) is measured in the same run. Exits non-zero only if it
could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def tree_rss_kib(root: int) -> int:
    """The memory of ``root`` and all its descendants now (Linux /proc), in KiB: each process's PSS (its
    shared pages divided among the processes sharing them, so a browser's many processes are not counted
    several times), or its RSS where PSS cannot be read."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        for name, field in (("smaps_rollup", "Pss:"), ("status", "VmRSS:")):
            try:
                text = Path(f"/proc/{pid}/{name}").read_text()
            except OSError:
                continue
            kib = next((int(ln.split()[1]) for ln in text.splitlines() if ln.startswith(field)), None)
            if kib is not None:
                total += kib
                break
    return total


def run_measured(cmd: list[str]) -> int:
    """Wrapper mode: run ``cmd``, pass its output through, then print on stderr the peak RSS (KiB) of its
    process tree (sampled every 0.2 s) and of its largest process (getrusage)."""
    proc = subprocess.Popen(cmd)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss_kib(proc.pid))
        time.sleep(0.2)
    largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"peak_tree_rss_kib: {peak or largest}", file=sys.stderr)
    print(f"peak_rss_kib: {largest}", file=sys.stderr)
    return proc.returncode


def store_bytes(db: Path) -> int:
    """The store on disk: the SQLite file, its WAL, and the folder of WARC files beside it."""
    total = sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())
    files = Path(f"{db}.files")
    if files.is_dir():
        total += sum(p.stat().st_size for p in files.rglob("*") if p.is_file() and "jobdir" not in p.parts)
    return total


def crawl_size(n: int, args: argparse.Namespace, tmp: Path, env: dict[str, str]) -> dict:
    """Serve N generated sites, crawl them, return the figures of this size."""
    from simweb.server import SimWebProcess

    reg = tmp / f"registry-{n}.csv"
    db = tmp / f"scale-{n}.db"
    with SimWebProcess(str(reg), seed=args.seed, sites=n, faults="basic", startup_timeout=300) as web:
        cmd = [sys.executable, "-m", "windvane.cli", "crawl", "--registry", str(reg), "--proxy", web.proxy_url,
               "--store", str(db), "--campaign", "scale", "--delay", "0", "--max-pages", str(args.max_pages),
               "--depth", str(args.depth), "--concurrency", str(args.concurrency), "--browser", args.browser,
               "--quiet", "--json"]
        started = time.monotonic()
        proc = subprocess.run([sys.executable, __file__, "--measure", "--", *cmd], capture_output=True, text=True,
                              env=env, cwd=ROOT)
        wall = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"windvane crawl of {n} sites failed:\n{proc.stderr[-3000:]}")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    if summary.get("status") != "finished":
        raise RuntimeError(f"windvane crawl of {n} sites did not finish (status {summary.get('status')!r})")
    rss = {k: int(v) for k, _, v in (ln.partition(": ") for ln in proc.stderr.splitlines()) if k.startswith("peak_")}
    pages = summary["pages"]
    return {"sites": n, "pages": pages, "seconds": summary["seconds"], "wall_seconds": round(wall, 1),
            "pages_per_s": summary["pages_per_s"], "failures": summary["failures"],
            "browser_pages": summary.get("browser_pages", 0),
            "not_done": sum(v for k, v in summary.get("site_status", {}).items() if k != "done"),
            "peak_rss_mib": round(rss["peak_tree_rss_kib"] / 1024, 1),
            "peak_largest_process_rss_mib": round(rss["peak_rss_kib"] / 1024, 1),
            "store_bytes_per_page": round(store_bytes(db) / pages) if pages else 0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--sizes", default="50,200,1000", help="registry sizes in sites, comma-separated (default: %(default)s)")
    ap.add_argument("--max-pages", type=int, default=20, help="page budget per site, the same at every size (default: 20)")
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--browser", choices=["auto", "never"], default="never",
                    help="never (default): the crawler alone; auto: Chromium for the script-built pages some "
                         "generated sites have, a fixed cost per crawl worker (bench/browser.py measures it)")
    ap.add_argument("--seed", type=int, default=2023)
    args, rest = ap.parse_known_args()
    if args.measure:
        return run_measured(rest[1:] if rest[:1] == ["--"] else rest)
    try:
        sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        print(f"bench/scale: --sizes {args.sizes!r}: expected numbers such as 50,200,1000", file=sys.stderr)
        return 1
    if len(sizes) < 2 or sizes[0] < 1:
        print("bench/scale: --sizes needs at least two sizes of 1 site or more", file=sys.stderr)
        return 1
    env = dict(os.environ, PYTHONPATH=str(ROOT), TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="")
    results = []
    with tempfile.TemporaryDirectory(prefix="wv-bench-scale-") as tmp:
        for n in sizes:
            try:
                r = crawl_size(n, args, Path(tmp), env)
            except (RuntimeError, OSError) as e:
                print(f"bench/scale: {e}", file=sys.stderr)
                return 1
            results.append(r)
            for k, v in r.items():
                if k != "sites":
                    print(f"sites_{n}_{k}: {v}", flush=True)
    small, large = results[0], results[-1]
    growth = (large["peak_rss_mib"] / small["peak_rss_mib"]) / (large["sites"] / small["sites"])
    ratio = large["pages_per_s"] / small["pages_per_s"] if small["pages_per_s"] else 0.0
    figures = {"budget_pages_per_site": args.max_pages, "depth": args.depth, "browser": args.browser,
               "rss_growth": f"{growth:.3f}", "scale_ratio": f"{ratio:.2f}"}  # the headline ratio last
    for name, value in figures.items():
        print(f"{name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
