"""`windvane demo`: two campaigns on the simulated government web, shaped like the published year.

Starts the simulated web of 2022 and of 2023 (the same portals a year apart: ``simweb/years.py``,
``simweb/profile.py``) as two local HTTP proxies, crawls every site of the registry through both at
once, by the registry's real URLs, into one store as campaigns ``demo-2022`` (as-of 2022-10-31) and
``demo-2023`` (as-of 2023-10-31); extracts evidence and scores both; writes the 2023 report, whose
推进率 comes from the 2022 run, and the diff of the two runs beside it (``diff-2022-2023.txt``); then
stops the servers and prints where everything is, with how well the pipeline recovered each year's
truth.
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
YEARS = (2022, 2023)
CAMPAIGNS = {y: f"demo-{y}" for y in YEARS}
AS_OF = {y: f"{y}-10-31" for y in YEARS}
DEMO_CAMPAIGN = CAMPAIGNS[2023]


def _step(msg: str) -> None:
    print(f"demo: {msg}", flush=True)


def _crawl_both(args: argparse.Namespace, registry_path: Path, store_path: Path, sites: list[str] | None,
                truth_paths: dict[int, Path]) -> int:
    """Serve both years and crawl them at the same time (one crawl per campaign, one store)."""
    from contextlib import ExitStack

    from simweb.server import SimWebProcess

    with ExitStack() as stack:
        webs = {y: stack.enter_context(SimWebProcess(str(registry_path), seed=args.seed, truth_path=str(truth_paths[y]),
                                                     faults="full", year=y, startup_timeout=300)) for y in YEARS}
        procs = {}
        for y, web in webs.items():
            _step(f"simulated web of {y} listening as proxy {web.proxy_url}; crawling campaign {CAMPAIGNS[y]} "
                  f"(as-of {AS_OF[y]})")
            cmd = [sys.executable, "-m", "windvane.cli", "crawl", "--registry", str(registry_path),
                   "--proxy", web.proxy_url, "--ca-bundle", web.ca_path, "--store", str(store_path),
                   "--campaign", CAMPAIGNS[y], "--as-of", AS_OF[y], "--delay", "0"]
            if y != 2023:  # one year's progress lines are enough on the screen; both end with their summary
                cmd.append("--quiet")
            for s in sites or []:
                cmd += ["--site", s]
            procs[y] = subprocess.Popen(cmd, cwd=ROOT)
        codes = {y: p.wait() for y, p in procs.items()}
    for y, rc in codes.items():
        if rc != 0:
            _step(f"crawl of {CAMPAIGNS[y]} failed with exit code {rc}; what was stored is kept in {store_path}")
            return rc
    return 0


def _top_progress(targets_csv: Path, n: int = 3) -> dict[str, list[tuple[str, float]]]:
    """Per group, the n targets with the largest 推进率 in the report's targets.csv."""
    import pandas as pd

    df = pd.read_csv(targets_csv, encoding="utf-8-sig")
    out = {}
    for g, part in df.dropna(subset=["progress"]).groupby("group", sort=False):
        top = part.sort_values("progress", ascending=False).head(n)
        out[g] = [(str(r.name_zh), float(r.progress)) for r in top.itertuples()]
    return out


def run_demo(args: argparse.Namespace) -> int:
    from extractors.rules import load_rules
    from extractors.run import default_workers, extract
    from scoring.diff import diff_runs
    from scoring.report import write_report
    from scoring.run import score
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
    truth_paths = {y: store_path.parent / ("truth.json" if y == 2023 else f"truth-{y}.json") for y in YEARS}
    sites = [s.site_id for s in reg.sites][: args.sites] if args.sites else None

    _step(f"{len(reg.targets)} targets, {len(reg.sites)} sites; starting the simulated web of "
          f"{' and '.join(map(str, YEARS))}")
    rc = _crawl_both(args, registry_path, store_path, sites, truth_paths)
    if rc != 0:
        return rc
    crawl_s = time.monotonic() - started

    runs: dict[int, str] = {}
    with Store(store_path) as store:
        for y in YEARS:  # the earlier year first: the later run's 推进率 is computed against it
            _step(f"extracting evidence of {CAMPAIGNS[y]} from the stored pages")
            ex = extract(store, CAMPAIGNS[y], ruleset, as_of=AS_OF[y], workers=default_workers())
            _step(f"extract {CAMPAIGNS[y]}: {ex}")
            runs[y] = score(store, CAMPAIGNS[y], ruleset)
            _step(f"scored run {runs[y]}")
        from crawlers.screenshots import take_screenshots
        # two pages per site (those proving the most leaves) of the reported year keep the demo within
        # minutes; `windvane screenshots` shoots every evidence page
        shots = take_screenshots(store, DEMO_CAMPAIGN, max_pages=2 * len(reg.sites))
        _step(f"screenshots: {shots['screenshots']} of {shots['pages']} evidence pages in {shots['folder']}")
        run_id = runs[2023]
        out = store.files_dir / DEMO_CAMPAIGN / "report" / run_id
        paths = write_report(store, run_id, ruleset, out)
        diff_path = out / "diff-2022-2023.txt"
        diff_path.write_text(diff_runs(store, runs[2022], run_id) + "\n", encoding="utf-8")
        top = _top_progress(paths["targets.csv"]) if "targets.csv" in paths else {}
        results = {}
        for y in YEARS:
            truth = load_truth(truth_paths[y])
            results[y] = (evaluate(store, CAMPAIGNS[y], truth, sites),
                          score_agreement(store, runs[y], truth, ruleset.tree, sites),
                          status_agreement(store, CAMPAIGNS[y], truth, sites))
        statuses: dict[str, int] = {}
        for sid, st in store.conn.execute("select site_id, coalesce(status, 'not crawled') from sites "
                                          "where campaign = ?", [DEMO_CAMPAIGN]):
            if not sites or sid in sites:
                statuses[st] = statuses.get(st, 0) + 1
        n_pages = {y: store.conn.execute("select count(*) from pages where campaign=?", [CAMPAIGNS[y]]).fetchone()[0]
                   for y in YEARS}

    quality, (agree, total, _bad), wrong_status = results[2023]
    print()
    print("evidence of 2023 against the simulated web's truth (site level; ev.prec = evidence rows on true pages):")
    print(format_quality(quality))
    print(f"targets whose leaf points equal the truth's: {agree}/{total} (not-assessed targets agree when unscored)")
    n_sites = sum(statuses.values())
    print(f"site statuses: {', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))}; "
          f"as the simulated web's access faults deserve: {n_sites - len(wrong_status)}/{n_sites}")
    for sid, want, got, reason in wrong_status:
        print(f"  {sid}: expected {want}, got {got} ({reason})")
    q22, (agree22, total22, _), wrong22 = results[2022]
    worst = min(q22.values(), key=lambda q: min(q.precision, q.recall))
    print(f"2022: targets whose leaf points equal the 2022 truth's: {agree22}/{total22}; statuses as deserved: "
          f"{n_sites - len(wrong22)}/{n_sites}; weakest leaf {worst.leaf_id} (precision {worst.precision:.3f}, "
          f"recall {worst.recall:.3f})")
    print("推进率 (2023 against 2022, largest per group): " + "; ".join(
        f"{g}: " + ", ".join(f"{name} {v:.2f}" for name, v in rows) for g, rows in top.items()))
    print()
    print(f"pages stored: 2022 {n_pages[2022]}, 2023 {n_pages[2023]} (both crawls took {crawl_s:.0f}s)")
    print(f"store:  {store_path}")
    for y in YEARS:
        print(f"WARC {y}: {store_path.with_suffix('.files') / CAMPAIGNS[y] / 'warc'}")
        print(f"truth {y}: {truth_paths[y]}")
    print(f"runs: {runs[2022]} (2022), {run_id} (2023)")
    for kind, p in paths.items():
        print(f"report {kind}: {p}")
    print(f"diff 2022 -> 2023: {diff_path} (windvane diff {runs[2022]} {run_id} --store {store_path})")
    print(f"review the evidence in a browser: windvane audit user add NAME --store {store_path} "
          f"(password on stdin), then windvane audit serve --store {store_path}")
    print(f"ask the store anything: windvane datasette --store {store_path}")
    print(f"demo finished in {time.monotonic() - started:.0f}s")
    return 0
