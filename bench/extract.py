"""Extraction benchmark: the full rule set (`windvane extract`) against one bare regex scan.

Both run in this process over the same stored pages of one campaign, with the same I/O:
each HTML page's body is read back from its WARC record and decoded exactly as
``extractors.run`` does (attachments: the text the crawler stored). The full run is
``extractors.run.extract`` itself (parse, every rule, site aggregates, evidence rows written);
the baseline only runs ONE combined regex — the literal keyword alternatives of every rule
joined into one alternation — over each decoded page. Prints ``name: value`` lines, the
headline ratio last::

    python bench/extract.py [--store PATH --campaign NAME] [--sites 10] [--repeat 1]

``extract_ratio`` is full-rule-set time / baseline time (the goal: within 3×). Without
``--store`` it builds a store itself: starts the simulated web (simweb.server.SimWebProcess)
and crawls the first ``--sites`` sites of the registry with ``windvane crawl`` (subprocess)
into a temp dir. A given store is never written: its database is copied into a temp dir
(its WARC files are linked, read-only) and evidence is written to the copy.
Exits non-zero only if it could not run.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_LITERAL = re.compile(r"[\u4e00-\u9fff\uff10-\uff19A-Za-z0-9]{2,}")
_META = re.compile(r"\\[dDsSwWbB]|\\u[0-9a-fA-F]{4}|\\x[0-9a-fA-F]{2}|\[[^\]]*\]|\{\d*,?\d*\}|\(\?[:!=<>P]*[<>!=]?")


def keyword_pattern(ruleset: Any) -> re.Pattern:
    """One alternation of every rule's literal keywords (runs of CJK/alphanumerics in its regexes)."""
    words: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("text", "pattern", "near", "title", "href") and isinstance(v, str):
                    words.update(w for w in _LITERAL.findall(_META.sub(" ", v)) if not w.isdigit() or len(w) >= 4)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for rule in ruleset.rules:
        walk(rule.spec.get("match"))
    return re.compile("|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w))))


def page_text(store: Any, campaign: str, row: dict, warc_dir: Path) -> str | None:
    """A page's text read the way ``extractors.run.page_doc_from_row`` reads it, unparsed."""
    from evidence.warc import read_record
    from extractors.engine import decode_body

    ctype = (row.get("content_type") or "").lower()
    if row.get("kind") == "attachment":
        return row.get("text") or None
    is_html = not ctype or "html" in ctype or "xml" in ctype
    if is_html and row.get("warc_file") and row.get("warc_offset") is not None:
        try:
            offset = row.get("rendered_warc_offset") if row.get("via") == "browser" else None
            offset = offset if offset is not None else row["warc_offset"]
            _uri, headers, body = read_record(warc_dir, row["warc_file"], int(offset))
            ct = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
            enc = "utf-8" if offset != row["warc_offset"] else row.get("encoding")
            return decode_body(body, ct, enc)[0]
        except (OSError, ValueError):
            pass
    return row.get("text") or None


def run_baseline(store: Any, campaign: str, pattern: re.Pattern) -> tuple[int, int, float]:
    """(pages, keyword hits, seconds) of the bare scan over the pages ``extract`` reads."""
    started = time.monotonic()
    warc_dir = store.campaign_dir(campaign) / "warc"
    pages = hits = 0
    for row in store.iter_pages(campaign):
        status = row.get("status")
        if not (status is None or 200 <= int(status) < 300) and row.get("kind") != "probe":
            continue
        pages += 1
        text = page_text(store, campaign, row, warc_dir)
        if text:
            hits += sum(1 for _ in pattern.finditer(text))
    return pages, hits, time.monotonic() - started


def copy_store(src: Path, dst_dir: Path) -> Path:
    """A private copy of a store's database (consistent, via the backup API); WARC files linked."""
    dst = dst_dir / src.name
    with sqlite3.connect(f"file:{src}?mode=ro", uri=True) as s, sqlite3.connect(dst) as d:
        s.backup(d)
    files = src.with_suffix(".files")
    if files.is_dir():
        os.symlink(files.resolve(), dst.with_suffix(".files"))
    return dst


def build_store(tmp: Path, sites: int, registry: Path, max_pages: int | None) -> tuple[Path, str]:
    """Crawl the first ``sites`` sites of the simulated web into a fresh store."""
    import csv

    from simweb.server import SimWebProcess

    with open(registry, encoding="utf-8") as fh:
        site_ids = [r["site_id"] for r in csv.DictReader(fh)][:sites]
    store, campaign = tmp / "bench.db", "bench-extract"
    with SimWebProcess(str(registry), seed=2023, truth_path=None, port=0) as web:
        cmd = [sys.executable, "-m", "windvane.cli", "crawl", "--registry", str(registry), "--proxy",
               web.proxy_url, "--ca-bundle", web.ca_path, "--store", str(store), "--campaign", campaign,
               "--as-of", "2023-10-31", "--quiet", "--delay", "0"]
        if max_pages:
            cmd += ["--max-pages", str(max_pages)]
        for s in site_ids:
            cmd += ["--site", s]
        rc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL).returncode
        if rc != 0:
            raise RuntimeError(f"windvane crawl exited with {rc}")
    return store, campaign


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", help="an existing store (read-only: its database is copied)")
    ap.add_argument("--campaign", help="the campaign of --store")
    ap.add_argument("--sites", type=int, default=10, help="sites to crawl when no --store is given")
    ap.add_argument("--max-pages", type=int, default=None, help="per-site page budget of that crawl")
    ap.add_argument("--registry", default=str(ROOT / "data" / "registry.csv"))
    ap.add_argument("--rules", default=str(ROOT / "rules"))
    ap.add_argument("--repeat", type=int, default=1, help="runs of each; the best time counts")
    args = ap.parse_args(argv)
    if bool(args.store) != bool(args.campaign):
        ap.error("--store and --campaign go together")

    from evidence.store import Store
    from extractors.rules import load_rules
    from extractors.run import extract

    ruleset = load_rules(Path(args.rules))
    pattern = keyword_pattern(ruleset)
    with tempfile.TemporaryDirectory(prefix="wv-bench-extract-") as td:
        tmp = Path(td)
        try:
            if args.store:
                store_path, campaign = copy_store(Path(args.store), tmp), args.campaign
            else:
                store_path, campaign = build_store(tmp, args.sites, Path(args.registry), args.max_pages)
        except Exception as e:  # noqa: BLE001 - report why the bench could not run
            print(f"error: no store to measure ({e})", file=sys.stderr)
            return 2
        with Store(store_path, create=False) as store:
            full_s = base_s = float("inf")
            summary: dict = {}
            pages = hits = 0
            for _ in range(max(1, args.repeat)):
                pages, hits, secs = run_baseline(store, campaign, pattern)
                base_s = min(base_s, secs)
                summary = extract(store, campaign, ruleset, full=True)
                full_s = min(full_s, float(summary["seconds"]) or 1e-9)
    if not pages:
        print("error: the store holds no pages for that campaign", file=sys.stderr)
        return 2
    print(f"pages: {pages}")
    print(f"rules: {len(ruleset.rules)}")
    print(f"keywords: {pattern.pattern.count('|') + 1}")
    print(f"findings: {summary.get('findings', 0)}")
    print(f"baseline_hits: {hits}")
    print(f"baseline_seconds: {base_s:.2f}")
    print(f"baseline_pages_per_s: {pages / base_s:.1f}")
    print(f"extract_seconds: {full_s:.2f}")
    print(f"extract_pages_per_s: {pages / full_s:.1f}")
    print(f"extract_ratio: {full_s / base_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
