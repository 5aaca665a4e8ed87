"""windvane: evidence and scores for the Digital Government Construction Wind Vane Index.

Every stage lives in its own package (evidence, crawlers, extractors, scoring,
audit, simweb); this file only parses options, opens the store and calls them.
Errors a user can cause are printed as one clear message and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path

from evidence.registry import DEFAULT_REGISTRY, RegistryError, load_registry
from evidence.store import DEFAULT_STORE, Store, StoreError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RULES = ROOT / "rules"
DEFAULT_CAMPAIGN = str(date.today().year)


class UserError(Exception):
    """Anything the user can fix: printed without a traceback."""


def _user_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [UserError, RegistryError, StoreError]
    from extractors.rules import RuleError
    from scoring.stats import StatsError
    errors += [RuleError, StatsError]
    return tuple(errors)


# --- helpers ------------------------------------------------------------------------------
def _store(args: argparse.Namespace, *, create: bool = False) -> Store:
    return Store(args.store, create=create)


def _campaign(store: Store, args: argparse.Namespace) -> str:
    return store.campaign(getattr(args, "campaign", None))["campaign"]


def _rules(args: argparse.Namespace):
    from extractors.rules import load_rules
    return load_rules(Path(args.rules))


# --- subcommands --------------------------------------------------------------------------
def cmd_registry_check(args: argparse.Namespace) -> int:
    reg = load_registry(args.registry, full=not args.partial)
    groups: dict[str, int] = {}
    for t in reg.targets:
        groups[t.group] = groups.get(t.group, 0) + 1
    print(f"{reg.path}: {len(reg.targets)} targets "
          f"({', '.join(f'{g} {n}' for g, n in groups.items())}), {len(reg.sites)} sites: ok")
    return 0


def cmd_crawl(args: argparse.Namespace) -> int:
    from crawlers.campaign import SettingsChanged, campaign_settings, note_forced
    from crawlers.frontier import FrontierError
    from crawlers.run import CampaignLock, CrawlOptions, crawl
    from evidence.recovery import recover_campaign
    ca_bundle = None
    if args.ca_bundle:
        from crawlers.tls import check_ca_bundle
        try:
            ca_bundle = check_ca_bundle(args.ca_bundle)
        except ValueError as e:
            raise UserError(f"crawl: --ca-bundle {e}") from None
    with Store(args.store) as store:
        # one crawl per campaign: a second one stops here, before it records anything
        lock = CampaignLock(store.campaign_dir(args.campaign), args.campaign)
        try:
            # the campaign's own settings for what is not given; a given one that differs is refused unless --force
            try:
                cs = campaign_settings(store, args.campaign, registry_path=args.registry, as_of=args.as_of,
                                       force=args.force, options={
                                           "depth": args.depth, "max_pages": args.max_pages,
                                           "obey_robots": False if args.ignore_robots else None,
                                           "browser": args.browser, "max_attachments": args.max_attachments})
            except SettingsChanged as e:
                raise UserError(f"crawl: {e}") from None
            reg = cs.registry
            opts = CrawlOptions(
                store=str(args.store), campaign=args.campaign, proxy=args.proxy, sites=args.site or None,
                concurrency=args.concurrency, delay=args.delay, progress=not args.quiet,
                browser_tabs=args.browser_tabs, timeout=args.timeout, ca_bundle=ca_bundle,
                autothrottle=args.delay > 0,  # AutoThrottle for real servers; --delay 0 (a local web) turns it off
                frontier=args.frontier, lease_seconds=args.lease, **cs.options)
            # a platform's own budget and depth (crawlers/scope.py, crawlers/spider.py)
            opts.extra_settings.update(WINDVANE_PLATFORM_PAGES=args.platform_pages,
                                       WINDVANE_PLATFORM_DEPTH=args.platform_depth)
            if cs.changed:
                print(f"crawl: --force: campaign {args.campaign!r} crawled with {'; '.join(cs.changed)} "
                      f"(its row keeps the settings it started with; the change is in its notes)", file=sys.stderr)
            store.open_campaign(args.campaign, reg, config=opts.public(), as_of=cs.as_of, force=args.force)
            if cs.changed:
                note_forced(store, args.campaign, cs.changed)
            # a crash (kill -9, power cut) may have left a WARC record cut short or rows without records
            for line in recover_campaign(store, args.campaign).lines():
                print(f"crawl: recovery: {line}", file=sys.stderr)
        except BaseException:
            lock.release()
            raise
    try:
        summary = crawl(reg, opts, lock=lock, workers=args.workers, force=args.force)
    except FrontierError as e:
        raise UserError(f"crawl: {e}") from None
    finally:
        lock.release()
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    people = summary.pop("need_a_person", [])
    print(summary_line("crawl", summary))
    if people:  # the coverage summary: sites that were not fully assessed, each with its reason
        print(f"crawl: {len(people)} site(s) need a person (not assessed when blocked or unreachable; "
              f"`windvane report` lists them in coverage.csv):")
        for line in people[:50]:
            print(f"  {line}")
        if len(people) > 50:
            print(f"  ... and {len(people) - 50} more")
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    with _store(args) as store:
        campaign = _campaign(store, args)
        from extractors.run import default_workers, extract
        if args.workers is None:
            args.workers = default_workers()
        elif args.workers < 1:
            raise UserError(f"--workers {args.workers}: give 1 or more")
        ruleset = _rules(args)
        summary = extract(store, campaign, ruleset, as_of=args.as_of, full=args.full, workers=args.workers)
    print(summary_line("extract", summary))
    return 0


def cmd_screenshots(args: argparse.Namespace) -> int:
    from crawlers.screenshots import take_screenshots
    with _store(args) as store:
        campaign = _campaign(store, args)
        summary = take_screenshots(store, campaign, limit_per_leaf=args.per_leaf)
    print(summary_line("screenshots", summary))
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    with _store(args) as store:
        campaign = _campaign(store, args)
        from extractors.incremental import staleness
        from scoring.run import score
        ruleset = _rules(args)
        behind = staleness(store.conn, campaign, ruleset.rules)
        if behind:
            print(f"score: warning: the stored evidence is behind: {behind}; run `windvane extract` first "
                  "(scoring the evidence as it is)", file=sys.stderr)
        run_id = score(store, campaign, ruleset, run_id=args.run)
    print(f"score: run {run_id} of campaign {campaign} saved in {args.store}")
    return 0


def cmd_rerun(args: argparse.Namespace) -> int:
    """The scorers' loop in one command: bring the evidence up to date, score a new run, say what moved."""
    with _store(args) as store:
        campaign = _campaign(store, args)
        from extractors.run import extract
        from scoring.diff import format_diff, run_diff
        from scoring.run import score
        ruleset = _rules(args)
        before = store.conn.execute("select run_id from runs where campaign = ? order by created_at desc, rowid desc "
                                    "limit 1", [campaign]).fetchone()
        summary = extract(store, campaign, ruleset, workers=1)
        print(summary_line("extract", summary))
        run_id = score(store, campaign, ruleset, run_id=args.run)
        print(f"score: run {run_id} of campaign {campaign} saved in {args.store}")
        if before:
            text = format_diff(run_diff(store, before[0], run_id))
            lines = text.splitlines()
            shown = lines if args.all or len(lines) <= 60 else [*lines[:60], f"… {len(lines) - 60} more lines: "
                                                                  f"windvane diff {before[0]} {run_id}"]
            print("\n".join(shown))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from scoring.report import write_report
    ruleset = _rules(args)
    with _store(args) as store:
        run = store.run(args.run, getattr(args, "campaign", None))
        out = Path(args.out) if args.out else store.files_dir / run["campaign"] / "report" / run["run_id"]
        paths = write_report(store, run["run_id"], ruleset, out)
    for kind, p in paths.items():
        print(f"report {kind}: {p}")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from scoring.diff import format_diff, run_diff, write_diff
    with _store(args) as store:
        print(format_diff(run_diff(store, args.run_a, args.run_b)))
        out = Path(args.out) if args.out else store.files_dir / "diffs"
        paths = write_diff(store, args.run_a, args.run_b, out)
    for kind, p in paths.items():
        print(f"diff {kind}: {p}")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from scoring.runs import describe_run, format_run, format_runs, list_runs
    with _store(args) as store:
        if args.runs_command == "show":
            d = describe_run(store, args.run)
            print(json.dumps(d, ensure_ascii=False, indent=1, default=str) if args.json else format_run(d))
        else:
            rows = list_runs(store, args.campaign)
            print(json.dumps(rows, ensure_ascii=False, indent=1) if args.json else format_runs(rows))
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from evidence.merge import merge
    for res in merge(args.store, args.shards, args.campaign):
        print(res.line())
    print(f"merge: store {args.store}; run `windvane extract --store {args.store}` next "
          "(it recomputes only the sites the merge brought)")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from extractors.inspect import inspect_inputs
    ruleset = _rules(args)
    store = Store(args.store, create=False) if any("://" in p for p in args.inputs) else None
    try:
        findings = inspect_inputs(args.inputs, ruleset, target=args.target, as_of=args.as_of,
                                  store=store, registry=load_registry(args.registry) if args.target else None)
    finally:
        if store:
            store.close()
    if args.json:
        print(json.dumps(findings, ensure_ascii=False, indent=2))
    else:
        for f in findings:
            print(f"{f['input']}: {f['indicator_id']} [{f['rule_id']}] {f.get('snippet', '')!r}")
            if f["kind"] == "document":  # the metadata read, and why a check failed or is unknown
                v = f["values"]
                print(f"    文号 {v['doc_number'] or '-'} | issuer {v['issuer'] or '-'} | date {v['date']}"
                      f"{' | draft' if v['is_draft'] else ''}")
                for check, result in f["checks"].items():
                    if result is not True:
                        print(f"    {check}: {result} ({v['check_notes'].get(check, '')})")
    return 0


def cmd_rules_check(args: argparse.Namespace) -> int:
    from extractors.check import check_rules
    ok, message = check_rules(Path(args.rules))
    print(message)
    return 0 if ok else 1


def cmd_simweb_serve(args: argparse.Namespace) -> int:
    from simweb.server import serve_forever
    from simweb.synthetic import synthetic_registry, synthetic_web, write_synthetic_truth
    web = None
    if args.sites is not None:  # a generated registry of any size (simweb/synthetic.py)
        if args.sites < 1:
            raise UserError("simweb serve: --sites must be at least 1")
        if args.access:
            raise UserError("simweb serve: --access names sites of a registry; not with --sites")
        reg = synthetic_registry(args.sites, args.seed, args.write_registry)
        web = synthetic_web(reg, args.seed, args.faults, args.year)
        if args.truth:
            write_synthetic_truth(web, args.truth)
    else:
        if args.write_registry:
            raise UserError("simweb serve: --write-registry writes the registry generated by --sites")
        reg = load_registry(args.registry)
    from simweb.access import parse_overrides
    try:
        access = parse_overrides(args.access)
    except ValueError as e:
        raise UserError(str(e)) from None
    serve_forever(reg, host=args.host, port=args.port, seed=args.seed, truth_path=args.truth, faults=args.faults,
                  ca_cert_path=args.ca_cert, access=access, request_log=args.request_log, year=args.year, web=web)
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    from windvane import schedule
    try:
        if args.action == "show":
            print(schedule.show(args.via, args.unit_dir))
        elif args.action == "remove":
            print(schedule.remove(args.via, args.unit_dir))
        else:
            when = schedule.When.parse(args.on, args.at)
            print(schedule.install(when, args.store, args.registry, proxy=args.proxy, ca_bundle=args.ca_bundle,
                                   via=args.via, unit_dir=args.unit_dir, dry_run=args.dry_run))
    except schedule.ScheduleError as e:
        raise UserError(str(e)) from None
    return 0


def cmd_campaign_run(args: argparse.Namespace) -> int:
    from windvane.schedule import ScheduleError, run_campaign
    load_registry(args.registry)  # a bad registry: one clear message before anything runs
    try:
        rc, summary = run_campaign(str(args.store), args.registry, args.campaign, args.proxy, args.ca_bundle,
                                   args.crawl_arg)
    except ScheduleError as e:
        raise UserError(str(e)) from None
    print(summary.read_text(encoding="utf-8"), end="")
    print(f"campaign-run: summary in {summary}")
    return rc


def cmd_demo(args: argparse.Namespace) -> int:
    from windvane.demo import run_demo
    return run_demo(args)


def summary_line(stage: str, summary: dict) -> str:
    return f"{stage}: " + ", ".join(f"{k} {v}" for k, v in summary.items())


# --- parser -------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="windvane", description=__doc__.splitlines()[0].rstrip("."))
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_store(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--store", default=str(DEFAULT_STORE), help="SQLite store file (default: %(default)s)")
        sp.add_argument("--campaign", default=None, help="campaign name (default: the latest in the store)")

    def with_rules(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--rules", default=str(DEFAULT_RULES), help="rules folder (default: %(default)s)")

    sp = sub.add_parser("demo", help="start the simulated web and run the whole campaign on it")
    sp.add_argument("--store", default=None, help="store file (default: a fresh one under data/demo/)")
    sp.add_argument("--sites", type=int, default=None, help="crawl only the first N sites (quick look)")
    sp.add_argument("--seed", type=int, default=2023)
    sp.set_defaults(func=cmd_demo)

    sp = sub.add_parser("registry", help="target registry tools")
    rsub = sp.add_subparsers(dest="registry_command", required=True)
    rc = rsub.add_parser("check", help="validate a registry CSV")
    rc.add_argument("--registry", default=str(DEFAULT_REGISTRY))
    rc.add_argument("--partial", action="store_true", help="do not demand the full 32/32/100 groups")
    rc.set_defaults(func=cmd_registry_check)

    sp = sub.add_parser("crawl", help="crawl every site of the registry into the store")
    sp.add_argument("--registry", default=None,
                    help=f"registry CSV (default: a new campaign {DEFAULT_REGISTRY}, a resumed one its own snapshot)")
    sp.add_argument("--proxy", default=None, help="HTTP proxy for every request, e.g. http://127.0.0.1:8899")
    sp.add_argument("--ca-bundle", default=None, metavar="FILE",
                    help="CA certificates (PEM) the verified TLS probe trusts (https_access); "
                         "default: the system's trust store")
    sp.add_argument("--store", default=str(DEFAULT_STORE))
    sp.add_argument("--campaign", default=DEFAULT_CAMPAIGN)
    sp.add_argument("--as-of", default=None, help="cut-off date for documents (YYYY-MM-DD)")
    sp.add_argument("--depth", type=int, default=None, help="link depth from the portal (default: 4)")
    sp.add_argument("--max-pages", type=int, default=None, help="page budget per site (default: 400)")
    sp.add_argument("--concurrency", type=int, default=32, help="requests in flight overall")
    sp.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="N",
                    help="crawler processes, each crawling its own sites (default: the number of cores, "
                         "%(default)s; 1: one process)")
    sp.add_argument("--delay", type=float, default=1.0,
                    help="seconds between requests to one host, at least (default 1: polite on real servers, with AutoThrottle "
                         "slowing down further for slow hosts; 0 for a local or simulated web: no delay, no AutoThrottle). "
                         "robots.txt Crawl-delay and Retry-After always apply")
    sp.add_argument("--site", action="append", help="crawl only this site_id (repeatable)")
    sp.add_argument("--max-attachments", type=int, default=None,
                    help="PDF/DOC/DOCX attachments fetched per site at most (default: 300; 300 MB per site)")
    sp.add_argument("--ignore-robots", action="store_true", default=None)
    sp.add_argument("--browser", choices=["auto", "never", "always"], default=None,
                    help="auto: Chromium only for JavaScript challenges, script-built pages and sites marked "
                         "browser=yes|always in the registry; never; always (default: auto)")
    sp.add_argument("--force", action="store_true",
                    help="resume a campaign with settings other than those it started with (registry, --as-of, "
                         "--depth, --max-pages, --ignore-robots, --browser, --max-attachments); without it such a "
                         "resume is refused, naming each difference")
    sp.add_argument("--frontier", default=None, metavar="redis://HOST:PORT/DB",
                    help="share the campaign with workers on other machines through this Redis: each machine "
                         "crawls the sites it leases into its own --store (a shard; `windvane merge` folds the "
                         "shards); a dead worker's sites are taken over where it stopped")
    sp.add_argument("--lease", type=float, default=60.0, metavar="SECONDS",
                    help="with --frontier: a worker that has not renewed its sites for this long is taken for "
                         "dead and its sites are taken over (default: %(default)s)")
    sp.add_argument("--platform-pages", type=int, default=60, metavar="N",
                    help="page budget of each service portal and open-data platform of a site, apart from "
                         "--max-pages (default: %(default)s)")
    sp.add_argument("--platform-depth", type=int, default=3, metavar="N",
                    help="link depth from a platform's entry page (default: %(default)s)")
    sp.add_argument("--browser-tabs", type=int, default=4, help="browser pages rendering at once (default: 4)")
    sp.add_argument("--timeout", type=float, default=20.0,
                    help="seconds per download or browser render (default: %(default)s)")
    sp.add_argument("--quiet", action="store_true")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_crawl)

    sp = sub.add_parser("extract", help="run the rules over stored pages")
    with_store(sp)
    with_rules(sp)
    sp.add_argument("--as-of", default=None)
    sp.add_argument("--full", action="store_true",
                    help="recompute every rule over every page (default: only what changed since the last extraction)")
    sp.add_argument("--workers", type=int, default=None, metavar="N",
                    help="processes sharing the sites (default: the number of cores)")
    sp.set_defaults(func=cmd_extract)

    sp = sub.add_parser("screenshots", help="full-page PNGs of evidence pages, rendered offline from the WARC archive")
    with_store(sp)
    sp.add_argument("--per-leaf", type=int, default=2, help="evidence pages per site and leaf (default: 2)")
    sp.set_defaults(func=cmd_screenshots)

    sp = sub.add_parser("score", help="compute scores and indices for a named run")
    with_store(sp)
    with_rules(sp)
    sp.add_argument("--run", default=None, help="run id (default: generated)")
    sp.set_defaults(func=cmd_score)

    sp = sub.add_parser("rerun", help="the scorers' loop: extract what changed, score a new run, print what moved")
    with_store(sp)
    with_rules(sp)
    sp.add_argument("--run", default=None, help="run id (default: generated)")
    sp.add_argument("--all", action="store_true", help="print the whole diff (default: its first 60 lines)")
    sp.set_defaults(func=cmd_rerun)

    sp = sub.add_parser("report", help="write the HTML/CSV report of a run")
    with_store(sp)
    with_rules(sp)
    sp.add_argument("--run", default=None, help="run id (default: the latest)")
    sp.add_argument("--out", default=None, help="output folder")
    sp.set_defaults(func=cmd_report)

    sp = sub.add_parser("diff", help="compare two runs")
    sp.add_argument("run_a")
    sp.add_argument("run_b")
    sp.add_argument("--store", default=str(DEFAULT_STORE))
    sp.add_argument("--out", default=None,
                    help="folder for diff-A-B.txt/.csv/.html (default: diffs/ next to the store's campaign files)")
    sp.set_defaults(func=cmd_diff)

    sp = sub.add_parser("runs", help="stored scoring runs (immutable snapshots)")
    rsub = sp.add_subparsers(dest="runs_command", required=True, metavar="ACTION")
    rl = rsub.add_parser("list", help="every run, newest first: who, when, as-of, size")
    rl.add_argument("--store", default=str(DEFAULT_STORE))
    rl.add_argument("--campaign", default=None, help="only this campaign's runs")
    rl.add_argument("--json", action="store_true")
    rs = rsub.add_parser("show", help="one run's snapshot: rules, tree, config, decisions, results per group")
    rs.add_argument("run")
    rs.add_argument("--store", default=str(DEFAULT_STORE))
    rs.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_runs)

    sp = sub.add_parser("merge", help="fold store shards (one per machine or worker) into one campaign store")
    sp.add_argument("shards", nargs="+", metavar="SHARD", help="store files of the shards (their WARC folders beside)")
    sp.add_argument("--store", default=str(DEFAULT_STORE), help="the store to merge into (created if missing)")
    sp.add_argument("--campaign", default=None, help="merge only this campaign (default: every campaign of a shard)")
    sp.set_defaults(func=cmd_merge)

    sp = sub.add_parser("inspect", help="run the rules over files or stored URLs and print findings")
    sp.add_argument("inputs", nargs="+", metavar="PATH_OR_URL")
    sp.add_argument("--target", default=None, help="target_id whose page this is")
    sp.add_argument("--as-of", default=None)
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--store", default=str(DEFAULT_STORE))
    sp.add_argument("--registry", default=str(DEFAULT_REGISTRY))
    with_rules(sp)
    sp.set_defaults(func=cmd_inspect)

    sp = sub.add_parser("rules", help="rule tools")
    rsub = sp.add_subparsers(dest="rules_command", required=True)
    rc = rsub.add_parser("check", help="validate rules/ and run every rule's examples")
    with_rules(rc)
    rc.set_defaults(func=cmd_rules_check)

    sp = sub.add_parser("simweb", help="the simulated government web")
    ssub = sp.add_subparsers(dest="simweb_command", required=True)
    sc = ssub.add_parser("serve", help="serve the simulated web as an HTTP proxy")
    sc.add_argument("--registry", default=str(DEFAULT_REGISTRY))
    sc.add_argument("--sites", type=int, default=None, metavar="N",
                    help="serve N generated sites instead of a registry (www.sNNNN.gov.cn, simweb/synthetic.py; "
                         "leaves by seeded coin flips); --write-registry FILE saves their registry for `windvane crawl`")
    sc.add_argument("--write-registry", default=None, metavar="FILE", help="with --sites: write the generated registry here")
    sc.add_argument("--host", default="127.0.0.1")
    sc.add_argument("--port", type=int, default=8899)
    sc.add_argument("--seed", type=int, default=2023)
    sc.add_argument("--year", type=int, choices=[2022, 2023], default=2023,
                    help="the web of this year: 2023 (default) or 2022, the same portals a year earlier with fewer "
                         "features (simweb/years.py, simweb/profile.py)")
    sc.add_argument("--truth", default=None, help="write the truth table to this JSON file")
    sc.add_argument("--ca-cert", default=None, metavar="FILE",
                    help="write the throwaway CA's certificate (PEM) here, for `windvane crawl --ca-bundle FILE`")
    sc.add_argument("--faults", choices=["basic", "full"], default="full",
                    help="full (default, as `windvane demo` uses): portals with JS-built menus, cookie challenges, attachment-only "
                         "documents, charset faults, oversized and stalling pages (see simweb/faults.py); basic: without them")
    sc.add_argument("--access", action="append", default=[], metavar="SITE=KIND",
                    help="give SITE an access fault (WAF, CAPTCHA, login wall, rate limit, unreachable...; "
                         "see simweb/access.py); with --faults full a full registry gets one site per kind anyway")
    sc.add_argument("--request-log", default=None, metavar="FILE",
                    help="append one JSON line per request (time, host, path, status, Retry-After) to FILE")
    sc.set_defaults(func=cmd_simweb_serve)

    from audit.cli import add_audit_parser
    add_audit_parser(sub)

    from audit.datasette_cmd import add_datasette_parser
    add_datasette_parser(sub)

    sp = sub.add_parser("schedule", help="install, show or remove the yearly campaign (systemd timer or crontab entry)")
    sp.add_argument("action", nargs="?", choices=["install", "show", "remove"], default="install",
                    help="install (default), show or remove")
    sp.add_argument("--on", default="08-01", metavar="MM-DD", help="day of the year (default: %(default)s)")
    sp.add_argument("--at", default="02:00", metavar="HH:MM", help="time of day (default: %(default)s)")
    sp.add_argument("--store", default=str(DEFAULT_STORE))
    sp.add_argument("--registry", default=str(DEFAULT_REGISTRY))
    sp.add_argument("--proxy", default=None, help="HTTP proxy the yearly crawl goes through")
    sp.add_argument("--ca-bundle", default=None, metavar="FILE", help="passed to `windvane crawl --ca-bundle`")
    sp.add_argument("--via", choices=["auto", "systemd", "cron"], default="auto",
                    help="auto (default): a systemd timer when systemd runs here (system-wide as root, else --user), "
                         "else a crontab entry")
    sp.add_argument("--unit-dir", default=None, metavar="DIR",
                    help="write (show, remove) the systemd units in DIR and do not call systemctl")
    sp.add_argument("--dry-run", action="store_true", help="print the units or crontab line, install nothing")
    sp.set_defaults(func=cmd_schedule)

    sp = sub.add_parser("campaign-run", help="the yearly job: crawl, extract, score and report one campaign, "
                        "with a log and a summary under the store's logs/ folder")
    sp.add_argument("--store", default=str(DEFAULT_STORE))
    sp.add_argument("--registry", default=str(DEFAULT_REGISTRY))
    sp.add_argument("--campaign", default=None, help="campaign name (default: crawl-YEAR, the year it runs in)")
    sp.add_argument("--proxy", default=None)
    sp.add_argument("--ca-bundle", default=None, metavar="FILE")
    sp.add_argument("--crawl-arg", action="append", default=[], metavar="ARG",
                    help="one more `windvane crawl` argument (repeatable), e.g. --crawl-arg=--delay --crawl-arg=0")
    sp.set_defaults(func=cmd_campaign_run)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.monotonic()
    try:
        rc = args.func(args)
    except _user_errors() as e:
        print(f"windvane {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"windvane {args.command}: interrupted; what was stored so far is kept", file=sys.stderr)
        return 130
    if args.command not in ("inspect",) and not getattr(args, "json", False):
        print(f"({args.command} took {time.monotonic() - started:.1f}s)", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
