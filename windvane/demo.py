"""`windvane demo`: the whole campaign on the simulated government web.

Starts the simulated web as a local HTTP proxy, crawls every site of the registry
through it by the registry's real URLs, extracts evidence, scores all targets and
writes the report; then stops the server and prints where everything is, with how
well the pipeline recovered the simulated web's truth.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from evidence.registry import DEFAULT_REGISTRY, load_registry
from evidence.store import Store

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / "data" / "demo"
DEMO_CAMPAIGN = "demo-2023"
AS_OF = "2023-10-31"


def _step(msg: str) -> None:
    print(f"demo: {msg}", flush=True)


def run_demo(args: argparse.Namespace) -> int:
    from extractors.rules import load_rules
    from extractors.run import extract
    from scoring.report import write_report
    from scoring.run import score
    from simweb.server import SimWebProcess
    from windvane.truth import evaluate, format_quality, load_truth, score_agreement, status_agreement

    started = time.monotonic()
    ruleset = load_rules(ROOT / "rules")  # a broken rule file stops the demo before any work
    registry_path = DEFAULT_REGISTRY
    reg = load_registry(registry_path, full=True)
    store_path = Path(args.store) if args.store else DEMO_DIR / "windvane-demo.db"
    if not args.store:  # the demo's own store is rebuilt from scratch each time
        for p in (store_path, store_path.with_suffix(".files"),
                  Path(f"{store_path}-wal"), Path(f"{store_path}-shm")):
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    store_path.parent.mkdir(parents=True, exist_ok=True)
    truth_path = store_path.parent / "truth.json"
    sites = [s.site_id for s in reg.sites][: args.sites] if args.sites else None

    _step(f"{len(reg.targets)} targets, {len(reg.sites)} sites; starting the simulated web")
    with SimWebProcess(str(registry_path), seed=args.seed, truth_path=str(truth_path), faults="full") as web:
        _step(f"simulated web listening as proxy {web.proxy_url}; crawling")
        cmd = [sys.executable, "-m", "windvane.cli", "crawl", "--registry", str(registry_path),
               "--proxy", web.proxy_url, "--ca-bundle", web.ca_path, "--store", str(store_path), "--campaign", DEMO_CAMPAIGN,
               "--as-of", AS_OF, "--delay", "0"]
        for s in sites or []:
            cmd += ["--site", s]
        rc = subprocess.call(cmd, cwd=ROOT)
        if rc != 0:
            _step(f"crawl failed with exit code {rc}; what was stored is kept in {store_path}")
            return rc
    crawl_s = time.monotonic() - started

    with Store(store_path) as store:
        _step("extracting evidence from the stored pages")
        ex = extract(store, DEMO_CAMPAIGN, ruleset, as_of=AS_OF)
        _step(f"extract: {ex}")
        from crawlers.screenshots import take_screenshots
        # two pages per site (those proving the most leaves) keep the demo within minutes;
        # `windvane screenshots` shoots every evidence page
        shots = take_screenshots(store, DEMO_CAMPAIGN, max_pages=2 * len(reg.sites))
        _step(f"screenshots: {shots['screenshots']} of {shots['pages']} evidence pages in {shots['folder']}")
        run_id = score(store, DEMO_CAMPAIGN, ruleset)
        _step(f"scored run {run_id}")
        out = store.files_dir / DEMO_CAMPAIGN / "report" / run_id
        paths = write_report(store, run_id, ruleset, out)
        truth = load_truth(truth_path)
        quality = evaluate(store, DEMO_CAMPAIGN, truth, sites)
        agree, total, _bad = score_agreement(store, run_id, truth, ruleset.tree, sites)
        wrong_status = status_agreement(store, DEMO_CAMPAIGN, truth, sites)
        statuses: dict[str, int] = {}
        for sid, st in store.conn.execute("select site_id, coalesce(status, 'not crawled') from sites "
                                          "where campaign = ?", [DEMO_CAMPAIGN]):
            if not sites or sid in sites:
                statuses[st] = statuses.get(st, 0) + 1
        n_pages = store.conn.execute("select count(*) from pages where campaign=?", [DEMO_CAMPAIGN]).fetchone()[0]

    print()
    print("evidence against the simulated web's truth (site level; ev.prec = evidence rows on true pages):")
    print(format_quality(quality))
    print(f"targets whose leaf points equal the truth's: {agree}/{total} (not-assessed targets agree when unscored)")
    n_sites = sum(statuses.values())
    print(f"site statuses: {', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))}; "
          f"as the simulated web's access faults deserve: {n_sites - len(wrong_status)}/{n_sites}")
    for sid, want, got, reason in wrong_status:
        print(f"  {sid}: expected {want}, got {got} ({reason})")
    print()
    print(f"pages stored: {n_pages} (crawl took {crawl_s:.0f}s)")
    print(f"store:  {store_path}")
    print(f"WARC:   {store_path.with_suffix('.files') / DEMO_CAMPAIGN / 'warc'}")
    print(f"truth:  {truth_path}")
    for kind, p in paths.items():
        print(f"report {kind}: {p}")
    print(f"review the evidence in a browser: windvane audit user add NAME --store {store_path} "
          f"(password on stdin), then windvane audit serve --store {store_path}")
    print(f"ask the store anything: windvane datasette --store {store_path}")
    print(f"demo finished in {time.monotonic() - started:.0f}s")
    return 0
