"""`windvane extract`: run the rules over a campaign's stored pages and write evidence rows.

Reads each page's body back from its WARC record (never the network), decodes it with the
encoding the crawler stored, parses it once and runs every rule in one pass. Pages without an
HTML body (attachments) are read from the text the crawler extracted. Evidence of a site is
judged against the site's own government (the targets of a site share evidence). Evidence is
upserted by its stable key, so a rerun gives the same rows, never duplicates; a rerun recomputes
only what changed since the last one (``extractors.incremental``; ``--full`` recomputes all).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator
from datetime import date
from html import escape as html_escape
from typing import Any
from urllib.parse import urlsplit

from evidence.coverage import replace_not_evaluated, site_rule_gates
from evidence.store import Store, now_iso
from evidence.warc import read_record
from extractors.document import TargetNames
from extractors.engine import (
    DEFAULT_AS_OF,
    Context,
    PageDoc,
    decode_body,
    parse_html,
    parse_json,
    parse_text,
    run_rule,
)
from extractors.matchers import AllMatcher, AnyMatcher, NotMatcher
from extractors.matchers_platform import reads_login_walls
from extractors.rules import RuleSet
from extractors.site_rules import HttpMatcher, PageMatcher, is_site_rule, page_info, run_site_rule

_HTML_TYPES = ("html", "xml")


def as_of_date(value: object) -> date:
    """A cut-off from an argument, a stored string or None (the default 2023-10-31)."""
    if value is None or value == "":
        return DEFAULT_AS_OF
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        from extractors.rules import RuleError
        raise RuleError(f"<as-of>:1: {value!r} is not a date (YYYY-MM-DD)") from None


def read_body(store: Store, campaign: str, row: dict, warc_dir=None) -> tuple[str, bool] | None:
    """A stored page's text as rules read it: (decoded HTML body, True) from its WARC record, else
    (the text the crawler stored, False); None when there is neither."""
    ctype = (row.get("content_type") or "").lower()
    if row.get("kind") == "attachment":  # PDF/DOC/DOCX: the text the crawler extracted, never the binary
        return (row["text"], False) if row.get("text") else None
    is_html = not ctype or any(t in ctype for t in _HTML_TYPES)
    is_json = is_json_row(row)  # an API response: read from its WARC record too, parsed as JSON
    is_html = is_html and not is_json
    if (is_html or is_json) and row.get("warc_file") and row.get("warc_offset") is not None:
        try:
            folder = warc_dir or store.campaign_dir(campaign) / "warc"
            # a page the browser rendered is read as rendered (the raw record is the script shell)
            offset = row.get("rendered_warc_offset") if row.get("via") == "browser" else None
            offset = offset if offset is not None else row["warc_offset"]
            _uri, headers, body = read_record(folder, row["warc_file"], int(offset))
            ct = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
            # the rendered DOM was serialised as UTF-8 whatever the raw page's encoding was
            enc = "utf-8" if offset != row["warc_offset"] else row.get("encoding")
            text, _enc = decode_body(body, ct, enc)
            return text, is_html
        except (OSError, ValueError):
            pass  # fall back to the stored text
    text = row.get("text")
    if text is None and row.get("warc_file") and row.get("id") is not None:  # a light row: the text on demand
        got = store.conn.execute("SELECT text FROM pages WHERE id = ?", [row["id"]]).fetchone()
        text = got[0] if got else None
    return (text, False) if text else None


def is_json_row(row: dict) -> bool:
    """A stored JSON API response (content type …json, or the crawl's kind ``json``)."""
    return row.get("kind") == "json" or "json" in (row.get("content_type") or "").lower()


def parse_body(row: dict, body: tuple[str, bool]) -> PageDoc:
    url = row.get("final_url") or row.get("url") or ""
    text, is_html = body
    if not is_html and is_json_row(row):
        return parse_json(text, url)
    if is_html:
        return parse_html(text, url)
    doc = parse_text(text, url)
    if row.get("kind") == "attachment":
        doc.title = row.get("title") or doc.title
    return doc


def page_doc_from_row(store: Store, campaign: str, row: dict, warc_dir=None) -> PageDoc | None:
    """Parse one stored page (WARC body, else its stored text)."""
    body = read_body(store, campaign, row, warc_dir)
    return None if body is None else parse_body(row, body)


def site_targets(registry, site_id: str) -> TargetNames | None:
    for site in registry.sites:
        if site.site_id == site_id:
            return TargetNames.from_target(site.targets[0], registry)
    return None


def foreign_platforms(conn: Any, campaign: str, site_id: str, target: TargetNames | None) -> dict[str, str]:
    """The site's platforms whose front page is titled as another government's (another city's branch of
    a provincial platform, linked by mistake): kind -> that title. None of their pages are the target's
    evidence (crawlers/scope.py records the platform; the judgement is the rules' ``of_target``)."""
    from extractors.matchers_platform import OfTargetMatcher
    if target is None:
        return {}
    try:
        rows = conn.execute(
            "SELECT sp.kind, p.title FROM site_platforms sp JOIN pages p ON p.campaign = sp.campaign "
            "AND p.url = sp.url WHERE sp.campaign = ? AND sp.site_id = ? AND p.title IS NOT NULL",
            [campaign, site_id]).fetchall()
    except Exception:  # noqa: BLE001 - a store from before platforms: none
        return {}
    check, ctx, out = OfTargetMatcher({}, ("foreign_platforms",)), Context(target=target), {}
    for kind, title in rows:
        page = parse_html(f"<html><head><title>{html_escape(title)}</title></head><body></body></html>", "http://x/")
        if not check.evaluate(page, ctx):
            out[kind] = title
    return out


MAX_PER_RULE = 5
DEFAULT_MIN_HTML_PAGES = 5  # rules/tree.yaml site_rules.min_html_pages overrides it


def _http_facts_only(matcher: object) -> bool:
    """True if every leaf of the matcher tree is an ``http`` or ``page`` matcher (no page content)."""
    if isinstance(matcher, (HttpMatcher, PageMatcher)):
        return True
    if isinstance(matcher, (AllMatcher, AnyMatcher)):
        return all(_http_facts_only(m) for m in matcher.members)
    if isinstance(matcher, NotMatcher):
        return _http_facts_only(matcher.member)
    return False


def _judges_probes(matcher: object) -> bool:
    """A rule for probe pages: on HTTP facts only, or one that asks for probes (``page: {kind: probe}``)."""
    if _http_facts_only(matcher):
        return True
    members = matcher.members if isinstance(matcher, AllMatcher) else [matcher]
    return any(isinstance(m, PageMatcher) and m.kinds is not None and "probe" in m.kinds for m in members)


_PAGE_COLUMNS = ("id, campaign, site_id, url, final_url, status, headers, fetched_at, sha256, content_type, encoding, "
                 "title, size, depth, referrer, kind, via, warc_file, warc_offset, warc_length, rendered_warc_offset, "
                 "block, platform, CASE WHEN kind = 'attachment' OR warc_file IS NULL THEN text END AS text")
_PLAN_COLUMNS = ("id, site_id, url, final_url, status, kind, block, via, content_type, encoding, depth, redirects, "
                 "platform, "
                 "headers, warc_file, warc_offset, rendered_warc_offset, sha256, "
                 "CASE WHEN kind = 'attachment' OR warc_file IS NULL THEN text END AS text")


def _split_sites(store: Store, campaign: str, workers: int) -> list[list[str]]:
    """The campaign's sites in ``workers`` shares of about equal pages (largest first into the
    lightest share); one share when one worker is asked or there is one site."""
    counts = store.conn.execute("SELECT coalesce(site_id, ''), count(*) FROM pages WHERE campaign = ? "
                                "GROUP BY site_id ORDER BY count(*) DESC, site_id", [campaign]).fetchall()
    n = max(1, min(workers, len(counts)))
    if n == 1:
        return [[sid for sid, _ in counts]]
    shares: list[list[str]] = [[] for _ in range(n)]
    load = [0] * n
    for sid, c in counts:
        i = load.index(min(load))
        shares[i].append(sid)
        load[i] += c
    return shares


_JOB: Any = None  # the page pass a forked worker runs (set just before the pool forks)


def _run_job(sites: list[str]) -> Any:
    return _JOB(sites)


def _in_workers(job: Any, parts: list[list[str]]) -> list[Any]:
    """``job(part)`` for every part, each in a forked process (the rules, the plan and the kept
    haystacks are inherited, never pickled); results in the order of ``parts``."""
    import multiprocessing

    global _JOB
    _JOB = job
    try:
        with multiprocessing.get_context("fork").Pool(len(parts)) as pool:
            return pool.map(_run_job, parts, chunksize=1)
    finally:
        _JOB = None


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def extract(store: Store, campaign: str, ruleset: RuleSet, as_of: object = None,
            max_per_rule: int = MAX_PER_RULE, full: bool = False, workers: int = 1) -> dict:
    """Run ``ruleset`` over the stored pages of ``campaign`` and bring its evidence up to date.

    Incremental (``extractors.incremental``): only rules whose text changed run over every site,
    and every rule over sites with a new or changed page; nothing runs when neither changed.
    ``full`` recomputes everything. The result is the same evidence a full run gives.

    A rule that fires on every page of a site (a footer line, a header link) would otherwise
    write one row per page; ``max_per_rule`` keeps the first pages in crawl order (the
    shallowest, as the crawl is breadth-first) per site and rule, and the summary counts
    the findings left out. 0 keeps every finding.
    """
    from extractors import incremental as inc

    started = time.monotonic()
    row = store.campaign(campaign)
    cutoff = as_of_date(as_of if as_of else row.get("as_of"))
    registry = store.registry(campaign)
    names: dict[str, TargetNames | None] = {}
    foreign: dict[str, dict[str, str]] = {}  # site -> its platforms titled as another government's
    warc_dir = store.campaign_dir(campaign) / "warc"
    stats = {"pages": 0, "unreadable": 0, "capped": 0, "read": 0, "parsed": 0, "skipped": 0}
    kept: dict[tuple[str, str], int] = {}
    tls_facts = store.tls_probes(campaign)
    at = now_iso()
    min_html = min_html_pages(ruleset)
    context = inc.context_of(cutoff.isoformat(), max_per_rule, min_html, registry, tls_facts)
    fingerprint = inc.pages_fingerprint(store.conn, campaign)

    def facts() -> list[dict]:
        return list(store.iter_pages(campaign, columns=_PLAN_COLUMNS))
    todo = inc.plan(store.conn, campaign, ruleset.rules, context, facts, fingerprint, full=full)

    page_rules = [r for r in ruleset.rules if not is_site_rule(r)]
    # a probe (e.g. http://HOST/) that ends on the home page would repeat its content evidence:
    # probes are judged only by rules on HTTP facts (http/page matchers), rules asking for probes, site rules
    probe_rules = [r for r in page_rules if _judges_probes(r.matcher)]
    site_rules = [r for r in ruleset.rules if is_site_rule(r)]
    # site-level rules (site aggregates, rules on HTTP facts or probes) need the portal home page
    # answered 2xx and enough HTML pages (rules/tree.yaml site_rules); else they give nothing, and say why
    gated = {r.id for r in site_rules} | {r.id for r in probe_rules}
    # the gates depend on the pages alone: read when pages changed or a changed rule is gated
    gates_matter = todo.full or todo.pages_moved or bool(set(todo.changed_rules) & gated)
    gates = site_rule_gates(store.conn, campaign, min_html) if gates_matter else {}
    # what this run recomputes: every rule on changed sites, changed rules everywhere
    dirty_sites = set(todo.changed_sites)
    changed = set(todo.changed_rules)
    some_page_rules = [r for r in page_rules if r.id in changed]
    some_probe_rules = [r for r in probe_rules if r.id in changed]
    some_site_rules = [r for r in site_rules if r.id in changed]
    # a login-wall page (crawlers/blocks.py) is no evidence of content, but where a service's login
    # leads is the evidence of a unified login: read by the rules that ask for one (login_wall), only
    wall_ids = {r.id for r in page_rules if reads_login_walls(r.matcher)}
    words = {r.id: inc.rule_words(r.matcher) for r in some_page_rules}
    # site aggregates: records per (site, rule) collected in the page pass, judged after it
    records: dict[tuple[str, str], list] = {}
    urls: dict[int, str] = {}
    shas: dict[int, str | None] = {}
    # what rules could see of each page, kept from earlier parses (to skip pages a changed rule cannot match)
    kinds = {where for req in words.values() if req for where, _w in req}
    prefilters = {rid: inc.compile_requirement(req) for rid, req in words.items()}
    old_hay = {} if todo.full or not kinds else inc.stored_haystacks(store.conn, campaign, kinds)
    new_hay: dict[int, tuple[bytes, bytes, bytes]] = {}

    def row(sid: str, page_id: int, url: str, f) -> dict:
        values = dict(f.values)
        if f.checks:
            values["checks"] = f.checks
        return {"campaign": campaign, "site_id": sid, "leaf_id": f.leaf_id, "rule_id": f.rule_id,
                "rule_version": f.rule_version, "page_id": page_id, "url": url,
                "snippet": f.snippet, "start": f.start, "end": f.end,
                "values": json.dumps(values, ensure_ascii=False, sort_keys=True),
                "points": f.points, "extracted_at": at, "page_sha256": shas.get(page_id)}

    def rows(store: Store = store, sites: list[str] | None = None) -> Iterator[dict]:
        # a rerun of a few rules reads the pages' facts without their stored text (fetched when needed)
        for page in store.iter_pages(campaign, columns="*" if todo.full else _PAGE_COLUMNS, site_ids=sites):
            sid = page.get("site_id") or ""
            everything = todo.full or sid in dirty_sites
            p_rules = page_rules if everything else some_page_rules
            pr_rules = probe_rules if everything else some_probe_rules
            s_rules = site_rules if everything else some_site_rules
            if not (p_rules or pr_rules or s_rules):
                continue  # nothing of this page changed and no rule it could feed changed
            wall = str(page.get("block") or "").startswith("login wall")
            status = page.get("status")
            ok = status is None or 200 <= int(status) < 300
            if page.get("block"):  # a block/WAF/CAPTCHA/login page (crawlers/blocks.py): no evidence of anything
                stats["blocked"] = stats.get("blocked", 0) + 1
                if not (wall and ok and any(r.id in wall_ids for r in p_rules)):
                    continue
            probe = page.get("kind") == "probe"  # HTTP probes are judged whatever their status
            if sid not in names:
                names[sid] = site_targets(registry, sid)
                foreign[sid] = foreign_platforms(store.conn, campaign, sid, names[sid])
            if page.get("platform") in foreign[sid]:  # another government's branch: not this target's evidence
                stats["foreign"] = stats.get("foreign", 0) + 1
                continue
            ctx = Context(cutoff, names[sid])
            if not ok and not probe:
                if s_rules and sid not in gates:  # a failed page still counts in site aggregates (e.g. broken links)
                    doc = PageDoc(page.get("final_url") or page.get("url") or "", "", "", [], [])
                    doc.info = page_info(page)
                    for rule in s_rules:
                        records.setdefault((sid, rule.id), []).append(rule.matcher.collect(doc, ctx, page["id"]))
                continue
            stats["pages"] += 1
            got: list = []

            def read(page: dict = page, got: list = got) -> tuple[str, bool]:
                if not got:
                    stats["read"] += 1
                    got.append(read_body(store, campaign, page, warc_dir))
                return got[0]
            if (everything or page["id"] not in old_hay) and read() is None:
                stats["unreadable"] += 1
                continue
            these = pr_rules if probe else p_rules
            if wall:  # only the rules reading login walls, and no site aggregate
                these = [r for r in these if r.id in wall_ids]
            if not everything:  # only changed rules: leave out those the page surely cannot match
                hay = None
                keep = []
                for rule in these:
                    if max_per_rule and kept.get((sid, rule.id), 0) >= max_per_rule:
                        continue  # the site's first findings of this rule are kept already
                    w = prefilters.get(rule.id)
                    if w is not None and hay is None:
                        blobs = old_hay.get(page["id"])
                        hay = inc.open_haystacks(blobs) if blobs else inc.raw_haystacks(*read())
                    if inc.may_match(w, hay):
                        keep.append(rule)
                these = keep
                if not these and not (s_rules and sid not in gates and not wall):
                    stats["skipped"] += 1
                    continue
            if read() is None:
                stats["unreadable"] += 1
                continue
            doc = parse_body(page, read())
            stats["parsed"] += 1
            new_hay[page["id"]] = inc.doc_haystacks(doc)
            doc.info = page_info(page)
            doc.info["block"] = page.get("block")
            tls = tls_facts.get(urlsplit(doc.url).hostname or "")
            if tls is not None:  # the verified TLS probe of the page's host (http: {certificate: …})
                doc.info["tls"] = tls
            urls[page["id"]] = doc.url
            shas[page["id"]] = page.get("sha256")
            for rule in these:
                if sid in gates and rule.id in gated:
                    continue
                for f in run_rule(rule, doc, ctx):
                    key = (sid, rule.id)
                    kept[key] = kept.get(key, 0) + 1
                    if max_per_rule and kept[key] > max_per_rule:
                        stats["capped"] += 1
                        continue
                    yield row(sid, page["id"], doc.url, f)
            for rule in s_rules if sid not in gates and not wall else []:
                records.setdefault((sid, rule.id), []).append(rule.matcher.collect(doc, ctx, page["id"]))
        for (sid, rule_id), recs in records.items():
            rule = ruleset.rule(rule_id)
            ctx = Context(cutoff, names.get(sid))
            for f in run_site_rule(rule, recs, ctx):
                yield row(sid, f.page_id, urls.get(f.page_id, ""), f)

    parts = [] if todo.nothing else _split_sites(store, campaign, workers)
    found: Iterable[dict] = rows()
    if len(parts) > 1:  # the page pass in worker processes, a share of the sites each; rows written here

        def job(sites: list[str]) -> tuple[list[dict], dict, dict]:
            with Store(store.path, create=False) as own:  # never the parent's connection across a fork
                got = list(rows(own, sites))
            return got, new_hay, stats

        found = []
        for got, hay, st in _in_workers(job, parts):
            found += got
            new_hay.update(hay)
            for k, v in st.items():
                stats[k] = stats.get(k, 0) + v
        out_workers = len(parts)
    else:
        out_workers = 1
    if todo.full:
        n = store.replace_evidence(campaign, found)
    elif not todo.nothing:
        n = store.replace_evidence(campaign, found, site_ids=sorted(dirty_sites),
                                   rule_ids=sorted(changed | set(todo.removed_rules)))
    else:
        n = 0
    total = store.conn.execute("SELECT count(*) FROM evidence WHERE campaign = ?", [campaign]).fetchone()[0]
    gated_leaves: dict[str, list[str]] = {}
    for r in ruleset.rules:
        if r.id in gated:
            gated_leaves.setdefault(r.leaf_id, []).append(r.id)
    if gates_matter:
        replace_not_evaluated(store.conn, campaign, [
            {"site_id": sid, "leaf_id": leaf, "rule_ids": ids, "at": at,
             "reason": f"{leaf} not evaluated: {reason}"}
            for sid, reason in sorted(gates.items()) for leaf, ids in gated_leaves.items()])
    if not todo.nothing or todo.pages_moved:
        inc.remember(store.conn, campaign, ruleset.rules, context,
                     facts() if todo.full or todo.pages_moved else None, fingerprint, at, new_hay)
    secs = time.monotonic() - started
    out: dict = {}
    if todo.full:
        out["mode"] = f"full ({todo.why})"
    elif todo.nothing:
        out["mode"] = "reused (no rule and no page changed since the last extraction; no page read)"
    else:
        out["mode"] = "incremental"
        shown = ", ".join(todo.changed_rules[:8]) + (f", … {len(todo.changed_rules) - 8} more"
                                                    if len(todo.changed_rules) > 8 else "")
        out["rules_recomputed"] = f"{len(todo.changed_rules)}" + (f" ({shown})" if shown else "")
        out["rules_reused"] = todo.reused_rules
        if todo.removed_rules:
            out["rules_removed"] = ", ".join(todo.removed_rules)
        out["sites_recomputed"] = f"{len(dirty_sites)} ({todo.changed_pages} new, changed or gone pages)"
    if out_workers > 1:
        out["workers"] = out_workers
    out.update({"pages": stats["pages"], "findings": n, "seconds": round(secs, 2),
                "pages_per_s": round(stats["pages"] / secs, 1) if secs > 0 else 0.0,
                "rules": len(ruleset.rules), "rules_version": ruleset.version, "as_of": cutoff.isoformat()})
    if not todo.full:
        out["pages_parsed"] = stats["parsed"]
        if stats["skipped"]:
            out["pages_skipped_by_prefilter"] = stats["skipped"]
        out["evidence_rows"] = (f"{total} ({n} recomputed, {max(0, total - n)} reused, "
                                f"{store.last_removed} removed)")
    if stats["capped"] and todo.full:  # an incremental run stops a rule on a site once its cap is reached
        out["findings_beyond_cap"] = stats["capped"]
    if stats["unreadable"]:
        out["unreadable"] = stats["unreadable"]
    if stats.get("blocked"):
        out["block_pages_skipped"] = stats["blocked"]
    if stats.get("foreign"):  # another city's branch of a provincial platform, linked as the target's
        out["platform_pages_of_another_government"] = stats["foreign"]
    if gates and gated_leaves:
        shown = "; ".join(f"{sid}: {why}" for sid, why in sorted(gates.items())[:5])
        more = f"; … {len(gates) - 5} more" if len(gates) > 5 else ""
        out["site_rules_not_evaluated"] = f"{len(gates)} site(s) ({shown}{more})"
    return out


def min_html_pages(ruleset: RuleSet) -> int:
    """The fewest 2xx HTML pages a site needs for its site-level rules (rules/tree.yaml ``site_rules``)."""
    settings = getattr(ruleset, "settings", None) or {}
    return int((settings.get("site_rules") or {}).get("min_html_pages", DEFAULT_MIN_HTML_PAGES))
