"""What a crawl covered per site, whether the site can be assessed, and the site-rule gate.

Read by extraction (``extractors.run``: the gate of site-level rules) and by scoring and the
report (``scoring``: who is assessed, the coverage table and ``coverage.csv``). Nothing here
writes pages or sites; see docs/store.md for the columns it reads.

* Site status after a crawl (``sites.status``): ``done``, ``partial`` (assessed; partial is
  flagged), ``blocked``, ``unreachable`` (not assessed). Older stores say ``failed``
  (= unreachable); ``crawling`` or NULL means the site was not crawled (not assessed).
* ``sites.coverage`` (JSON, written by the crawler): pages, failures by kind, blocked pages,
  robots-disallowed URLs, budget reached, seconds, 429 answers. A store without that column,
  or a site without a value, gets the same numbers computed from the pages and failures tables.
* ``not_evaluated``: one row per (campaign, site, leaf) whose site-level rules extraction did
  not evaluate, with the reason (e.g. "portal home page answered 403"); replaced by every
  ``windvane extract``.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import defaultdict
from typing import Any

ASSESSED = ("done", "partial")
NOT_ASSESSED = ("blocked", "unreachable", "not crawled")
STATUSES = ("done", "partial", "blocked", "unreachable", "not crawled")
# sites needing a person first (coverage.csv, the report's coverage table)
NEEDS_A_PERSON = ("blocked", "unreachable", "not crawled", "partial")
FAILURE_KINDS = ("http_4xx", "http_5xx", "timeout", "dns", "connection", "tls", "too_large", "blocked", "other")
COVERAGE_KEYS = ("pages", "failures", "blocked", "robots_disallowed", "budget_reached", "seconds", "rate_limited")

_HTTP = re.compile(r"\bHTTP\s*(\d{3})\b", re.I)


def normalise_status(status: str | None) -> str:
    """done | partial | blocked | unreachable | not crawled (old 'failed' = unreachable)."""
    s = (status or "").strip().lower()
    if s in ("done", "partial", "blocked", "unreachable"):
        return s
    if s == "failed":
        return "unreachable"
    return "not crawled"


def is_assessed(status: str | None) -> bool:
    """Whether targets of a site with this (raw or normalised) status are scored."""
    return normalise_status(status) in ASSESSED


def failure_kind(reason: str | None, status: int | None = None) -> str:
    """The kind of one failures-table row (one of ``FAILURE_KINDS``; robots refusals are not failures)."""
    text = (reason or "").lower()
    code = status
    if code is None:
        m = _HTTP.search(reason or "")
        code = int(m.group(1)) if m else None
    if any(w in text for w in ("captcha", "waf", "login wall", "blocked", "challenge")):
        return "blocked"
    if code is not None and 400 <= code < 500:
        return "http_4xx"
    if code is not None and 500 <= code < 600:
        return "http_5xx"
    if "timed out" in text or "timeout" in text:
        return "timeout"
    if "dns" in text or "host not found" in text:
        return "dns"
    if "ssl" in text or "tls" in text or "certificate" in text:
        return "tls"
    if "larger than" in text or "too large" in text or "max size" in text:
        return "too_large"
    if "connection" in text or "refused" in text or "proxy" in text:
        return "connection"
    return "other"


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}


def computed_coverage(conn: sqlite3.Connection, campaign: str, site_id: str | None = None) -> dict[str, dict]:
    """Coverage of every site (or of ``site_id`` alone) computed from the pages and failures tables."""
    where, args = ("campaign = ?", [campaign]) if site_id is None else ("campaign = ? and site_id = ?",
                                                                          [campaign, site_id])
    out: dict[str, dict] = defaultdict(lambda: {"pages": 0, "failures": {}, "blocked": 0, "robots_disallowed": 0,
                                                "budget_reached": None, "seconds": None, "rate_limited": 0})
    for sid, n, n429 in conn.execute(
            f"select site_id, count(*), sum(status = 429) from pages where {where} group by site_id", args):
        out[sid]["pages"] = n
        out[sid]["rate_limited"] += n429 or 0
    for sid, reason, status in conn.execute(f"select site_id, reason, status from failures where {where}", args):
        cov = out[sid]
        if (reason or "").lower().startswith("robots.txt"):
            cov["robots_disallowed"] += 1
            continue
        kind = failure_kind(reason, status)
        cov["failures"][kind] = cov["failures"].get(kind, 0) + 1
        if kind == "blocked":
            cov["blocked"] += 1
        if status == 429 or re.search(r"\b429\b", reason or ""):
            cov["rate_limited"] += 1
    return dict(out)


def _parse_coverage(value: Any) -> dict | None:
    if not value:
        return None
    try:
        data = json.loads(value) if isinstance(value, str) else value
    except (TypeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def site_facts(conn: sqlite3.Connection, campaign: str) -> dict[str, dict]:
    """Per site of the campaign: ``status`` (normalised), ``raw_status``, ``reason``, ``assessed``,
    ``portal_url`` and ``coverage`` (``COVERAGE_KEYS``; the crawler's JSON where present, else computed)."""
    cols = _columns(conn, "sites")
    has_cov = "coverage" in cols
    sql = ("select site_id, portal_url, status, error" + (", coverage" if has_cov else ", NULL")
           + " from sites where campaign = ?")
    computed = computed_coverage(conn, campaign)
    out: dict[str, dict] = {}
    for sid, portal, raw, error, cov_json in conn.execute(sql, [campaign]):
        status = normalise_status(raw)
        base = computed.get(sid) or {"pages": 0, "failures": {}, "blocked": 0, "robots_disallowed": 0,
                                     "budget_reached": None, "seconds": None, "rate_limited": 0}
        given = _parse_coverage(cov_json) or {}
        cov = {k: given.get(k, base.get(k)) for k in COVERAGE_KEYS}
        if not isinstance(cov["failures"], dict):
            cov["failures"] = base["failures"]
        reason = (error or "").strip() or None
        if status == "not crawled":
            reason = "not crawled" + (f" (status {raw})" if raw and raw.strip().lower() != "crawling" else "")
        elif status in ("blocked", "unreachable") and not reason:
            reason = f"site {status} (no reason stored)"
        elif status == "partial" and not reason:
            reason = "partly crawled (no reason stored)"
        out[sid] = {"site_id": sid, "portal_url": portal, "raw_status": raw, "status": status,
                    "reason": reason, "assessed": status in ASSESSED, "coverage": cov}
    return out


# --- the gate of site-level rules ------------------------------------------------------------
def site_rule_gates(conn: sqlite3.Connection, campaign: str, min_html_pages: int) -> dict[str, str]:
    """Sites whose site-level rules cannot be evaluated, with the reason: ``{site_id: reason}``.

    Site-level rules need the portal home page (``depth`` 0 or the registry's portal URL, not a
    probe) answered with 2xx and not recognised as a block page (``pages.block``), and at least
    ``min_html_pages`` HTML pages answered with 2xx that are not block pages.
    """
    out: dict[str, str] = {}
    block = "block" if "block" in _columns(conn, "pages") else "NULL"
    portals = {sid: url for sid, url in conn.execute("select site_id, portal_url from sites where campaign = ?",
                                                     [campaign])}
    statuses = {sid: normalise_status(s) for sid, s in conn.execute(
        "select site_id, status from sites where campaign = ?", [campaign])}
    html_ok = dict(conn.execute(
        "select site_id, count(*) from pages where campaign = ? and coalesce(kind, 'html') = 'html' "
        f"and (status is null or (status >= 200 and status < 300)) and coalesce({block}, '') = '' "
        "group by site_id", [campaign]).fetchall())
    home: dict[str, tuple] = {}
    for sid, url, final, status, depth, blocked in conn.execute(
            f"select site_id, url, final_url, status, depth, {block} from pages where campaign = ? "
            "and coalesce(kind, 'html') not in ('probe', 'attachment') order by id", [campaign]):
        portal = portals.get(sid)
        is_home = depth == 0 or (portal is not None and portal in (url, final))
        if is_home and (sid not in home or url == portal):
            home[sid] = (url, status, blocked)
    failed = {}
    for sid, url, reason in conn.execute("select site_id, url, reason from failures where campaign = ?", [campaign]):
        if portals.get(sid) == url:
            failed[sid] = reason
    for sid in portals:
        status = statuses.get(sid, "not crawled")
        if status == "not crawled":  # not assessed at all: scoring says so, no gate needed
            continue
        if sid not in home:
            why = failed.get(sid)
            out[sid] = "portal home page not stored" + (f" ({why})" if why else "")
            continue
        _url, code, blocked = home[sid]
        if code is not None and not 200 <= int(code) < 300:
            out[sid] = f"portal home page answered {code}"
            continue
        if blocked:
            out[sid] = f"portal home page is a block page ({str(blocked)[:120]})"
            continue
        n = html_ok.get(sid, 0)
        if n < min_html_pages:
            out[sid] = f"only {n} HTML page{'s' if n != 1 else ''} answered 2xx (at least {min_html_pages} needed)"
    return out


_NOT_EVALUATED = """
CREATE TABLE IF NOT EXISTS not_evaluated (
  campaign TEXT, site_id TEXT, leaf_id TEXT, rule_ids TEXT, reason TEXT, at TEXT,
  PRIMARY KEY (campaign, site_id, leaf_id))
"""


def replace_not_evaluated(conn: sqlite3.Connection, campaign: str, rows: list[dict]) -> None:
    """Replace the campaign's not-evaluated records (rows: site_id, leaf_id, rule_ids list, reason, at)."""
    with conn:
        conn.execute(_NOT_EVALUATED)
        conn.execute("DELETE FROM not_evaluated WHERE campaign = ?", [campaign])
        conn.executemany("INSERT OR REPLACE INTO not_evaluated VALUES (?, ?, ?, ?, ?, ?)",
                         [(campaign, r["site_id"], r["leaf_id"], json.dumps(r.get("rule_ids") or []),
                           r["reason"], r.get("at")) for r in rows])


def not_evaluated(conn: sqlite3.Connection, campaign: str) -> dict[str, dict[str, str]]:
    """``{site_id: {leaf_id: reason}}`` of the campaign's last extraction (empty in older stores)."""
    if "campaign" not in _columns(conn, "not_evaluated"):
        return {}
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for sid, leaf, reason in conn.execute(
            "select site_id, leaf_id, reason from not_evaluated where campaign = ? order by site_id, leaf_id",
            [campaign]):
        out[sid][leaf] = reason
    return dict(out)
