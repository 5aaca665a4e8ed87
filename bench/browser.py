"""Browser path against plain path on the same pages of the simulated web, in the same run.

Two ``windvane crawl`` runs of one site (``--max-pages N``, default 100) through the simulated
web: ``--browser never`` (plain Scrapy) and ``--browser always`` (every page fetched and
rendered by Chromium, ``--browser-tabs`` pages at once, reused). Prints ``name: value``
lines, the ratio (plain pages/s over browser pages/s) last; exits non-zero only when a
run could not be made.

    .venv/bin/python bench/browser.py [--pages 100] [--site 110000] [--tabs 4]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run(reg: Path, proxy: str, store: Path, mode: str, pages: int, tabs: int) -> dict:
    cmd = [str(ROOT / ".venv" / "bin" / "windvane"), "crawl", "--registry", str(reg), "--proxy", proxy,
           "--store", str(store), "--campaign", mode, "--max-pages", str(pages), "--browser", mode,
           "--browser-tabs", str(tabs), "--delay", "0", "--json", "--quiet"]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=900)
    if p.returncode != 0:
        raise SystemExit(f"bench/browser.py: crawl --browser {mode} failed: {p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument("--site", default="110000")
    ap.add_argument("--tabs", type=int, default=4)
    args = ap.parse_args()
    from simweb.server import SimWebProcess

    with tempfile.TemporaryDirectory(prefix="bench-browser-") as tmp:
        t = Path(tmp)
        lines = (ROOT / "data" / "registry.csv").read_text(encoding="utf-8").splitlines()
        rows = [lines[0]] + [ln for ln in lines[1:] if ln.split(",")[2] == args.site]
        if len(rows) < 2:
            raise SystemExit(f"bench/browser.py: no site {args.site} in data/registry.csv")
        reg = t / "reg.csv"
        reg.write_text("\n".join(rows) + "\n", encoding="utf-8")
        with SimWebProcess(str(reg), seed=2023, truth_path=str(t / "truth.json")) as web:
            plain = run(reg, web.proxy_url, t / "plain.db", "never", args.pages, args.tabs)
            browser = run(reg, web.proxy_url, t / "browser.db", "always", args.pages, args.tabs)
    print(f"pages_plain: {plain['pages']}")
    print(f"pages_browser: {browser['pages']} (via browser: {browser['browser_pages']})")
    print(f"browser_pages_at_once: {args.tabs}")
    print(f"plain_seconds: {plain['seconds']}")
    print(f"browser_seconds: {browser['seconds']}")
    print(f"plain_pages_per_s: {plain['pages_per_s']}")
    print(f"browser_pages_per_s: {browser['pages_per_s']}")
    ratio = plain["pages_per_s"] / browser["pages_per_s"] if browser["pages_per_s"] else float("inf")
    print(f"plain_over_browser_ratio: {ratio:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
