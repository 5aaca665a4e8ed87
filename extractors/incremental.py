"""Incremental extraction: what a rerun of `windvane extract` can reuse, and what it must recompute.

Evidence is a function of (the page's content, the rule's content, the extraction context). The
store remembers, per campaign, the context it last extracted with (``extract_state``: as-of date,
engine version, per-rule cap, site-rule gate, the targets' names), the version of every rule it
ran (``extract_rules``; a rule's version is the hash of its canonical text, ``extractors.rules``)
and a key of every page it read (``extract_pages``: the body's SHA-256 plus the crawl facts rules
can see: status, kind, block verdict, how it was fetched, final URL, type, encoding, stored text).

A rerun then plans:

* context changed, or nothing remembered, or ``--full``: everything is recomputed;
* otherwise the *changed rules* (new or new version) run over every site, the *removed rules* lose
  their evidence, and every rule runs over the *changed sites* (a site with a new, changed or
  removed page: the per-rule cap keeps a site's first findings in crawl order and site aggregates
  read every page of the site, so a site is the unit a page change recomputes);
* nothing changed (e.g. only points, weights or the tree were edited): no page is read at all.

A page that a changed rule cannot match is not even parsed: :func:`rule_words` reads from the
rule's matcher the words one of which any match must contain, and :func:`page_haystack` is the
page's raw body with tags, entities and whitespace removed, a cheap superset of every text the
parsed page shows a rule. Pages whose haystack holds none of the words are skipped.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import sqlite3
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from extractors.rules import ENGINE_VERSION

_SCHEMA = """
CREATE TABLE IF NOT EXISTS extract_state (
  campaign TEXT PRIMARY KEY, context_key TEXT, context TEXT, extracted_at TEXT, pages_fingerprint TEXT);
CREATE TABLE IF NOT EXISTS extract_rules (
  campaign TEXT, rule_id TEXT, rule_version TEXT, leaf_id TEXT, PRIMARY KEY (campaign, rule_id));
CREATE TABLE IF NOT EXISTS extract_pages (
  campaign TEXT, page_id INTEGER, site_id TEXT, page_key TEXT, hay_text BLOB, hay_labels BLOB, hay_title BLOB,
  PRIMARY KEY (campaign, page_id));
"""

# crawl facts of a page that rules can see besides its body (http/page matchers, gates, attachments)
_PAGE_FACTS = ("url", "final_url", "status", "kind", "block", "via", "content_type", "encoding", "depth",
               "redirects", "headers", "warc_file", "warc_offset", "rendered_warc_offset", "site_id", "platform")


def ensure_tables(conn: sqlite3.Connection) -> None:
    conn.executescript(_SCHEMA)
    if "pages_fingerprint" not in {r[1] for r in conn.execute("PRAGMA table_info(extract_state)")}:
        conn.execute("ALTER TABLE extract_state ADD COLUMN pages_fingerprint TEXT")
    if "hay_title" not in {r[1] for r in conn.execute("PRAGMA table_info(extract_pages)")}:
        conn.execute("ALTER TABLE extract_pages ADD COLUMN hay_title BLOB")


# one string over every page row of a campaign that changes whenever a page is added, removed,
# refetched (a new WARC record) or re-judged (status, block verdict, rendering): when it equals the
# one remembered, no page needs comparing one by one
_FINGERPRINT_SQL = """
SELECT count(*), coalesce(group_concat(x, '|'), '') FROM (
  SELECT id || ':' || coalesce(site_id, '') || ':' || coalesce(sha256, '') || ':' || coalesce(warc_file, '') || ':'
    || coalesce(warc_offset, '') || ':' || coalesce(rendered_warc_offset, '') || ':' || coalesce(status, '') || ':'
    || coalesce(block, '') || ':' || coalesce(kind, '') || ':' || coalesce(via, '') || ':' || coalesce(final_url, '')
    || ':' || coalesce(CASE WHEN kind = 'attachment' OR warc_file IS NULL THEN length(text) END, '') AS x
  FROM pages WHERE campaign = ? ORDER BY id)
"""


def pages_fingerprint(conn: sqlite3.Connection, campaign: str) -> str:
    n, joined = conn.execute(_FINGERPRINT_SQL, [campaign]).fetchone()
    return f"{n}:" + hashlib.sha256(joined.encode("utf-8", "replace")).hexdigest()[:32]


def page_key(row: dict) -> str:
    """The key of one stored page as extraction sees it: body hash, crawl facts, stored text."""
    h = hashlib.sha256()
    h.update((row.get("sha256") or "").encode())
    for k in _PAGE_FACTS:
        h.update(b"\0" + str(row.get(k)).encode("utf-8", "replace"))
    if row.get("kind") == "attachment" or not row.get("warc_file"):
        h.update(b"\0" + (row.get("text") or "").encode("utf-8", "replace"))
    return h.hexdigest()[:32]


def context_of(as_of: str, max_per_rule: int, min_html_pages: int, registry: Any, tls: dict) -> dict:
    """Everything besides pages and rules that evidence depends on."""
    names = sorted(json.dumps({k: t.get(k) for k in ("target_id", "site_id", "name_zh", "admin_code", "province",
                                                       "grp", "group")}, ensure_ascii=False, sort_keys=True)
                   for t in getattr(registry, "targets", []))
    return {"as_of": as_of, "engine": ENGINE_VERSION, "max_per_rule": max_per_rule,
            "min_html_pages": min_html_pages,
            "targets": hashlib.sha256("\n".join(names).encode()).hexdigest()[:16],
            "tls": hashlib.sha256(json.dumps(tls, sort_keys=True, default=str).encode()).hexdigest()[:16]}


def _key(context: dict) -> str:
    return hashlib.sha256(json.dumps(context, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Plan:
    """What a rerun recomputes. ``full``: everything (``why`` says why)."""

    full: bool
    why: str = ""
    changed_rules: list[str] = field(default_factory=list)  # new or edited: run over every site
    removed_rules: list[str] = field(default_factory=list)  # gone from rules/: their evidence goes
    changed_sites: list[str] = field(default_factory=list)  # a page new, changed or gone: every rule
    changed_pages: int = 0
    reused_rules: int = 0
    pages_moved: bool = False  # the pages' fingerprint changed (page keys must be remembered anew)

    @property
    def nothing(self) -> bool:
        return not (self.full or self.changed_rules or self.removed_rules or self.changed_sites)


def plan(conn: sqlite3.Connection, campaign: str, rules: list[Any], context: dict,
         pages: Callable[[], list[dict]], fingerprint: str, full: bool = False) -> Plan:
    """Compare what the store last extracted with the rules, context and pages of now (``pages``
    is called only when the pages' fingerprint differs from the one remembered)."""
    ensure_tables(conn)
    if full:
        return Plan(True, "--full asked")
    row = conn.execute("SELECT context_key, context, pages_fingerprint FROM extract_state WHERE campaign = ?",
                       [campaign]).fetchone()
    if row is None:
        return Plan(True, "no earlier extraction remembered for this campaign")
    if row[0] != _key(context):
        old = json.loads(row[1] or "{}")
        what = [k for k in sorted(set(old) | set(context)) if old.get(k) != context.get(k)]
        return Plan(True, "extraction context changed: " + ", ".join(what))
    done = dict(conn.execute("SELECT rule_id, rule_version FROM extract_rules WHERE campaign = ?", [campaign]))
    changed = [r.id for r in rules if done.get(r.id) != r.version]
    now_ids = {r.id for r in rules}
    removed = sorted(set(done) - now_ids)
    out = Plan(False, "", changed, removed, [], 0, len(rules) - len(changed))
    if row[2] == fingerprint:
        return out
    seen = {pid: (sid, key) for pid, sid, key in conn.execute(
        "SELECT page_id, site_id, page_key FROM extract_pages WHERE campaign = ?", [campaign])}
    sites: set[str] = set()
    for p in pages():
        old_ = seen.pop(p["id"], None)
        if old_ is None or old_[1] != page_key(p):
            out.changed_pages += 1
            sites.add(p.get("site_id") or "")
    for sid, _gone in seen.values():  # pages gone since
        out.changed_pages += 1
        sites.add(sid or "")
    out.changed_sites = sorted(sites)
    out.pages_moved = True
    return out


def remember(conn: sqlite3.Connection, campaign: str, rules: list[Any], context: dict,
             pages: list[dict] | None, fingerprint: str, at: str,
             haystacks: dict[int, tuple[bytes, bytes, bytes]] | None = None) -> None:
    """Record what the store's evidence now reflects (called after the evidence is written): the
    context, every rule's version, the pages' fingerprint, the key of every page (``pages``; None
    when no page changed) and the haystacks of the pages parsed in this run (a page whose key
    changed and was not parsed loses its)."""
    ensure_tables(conn)
    haystacks = haystacks or {}
    with conn:
        conn.execute("INSERT OR REPLACE INTO extract_state VALUES (?, ?, ?, ?, ?)",
                     [campaign, _key(context), json.dumps(context, sort_keys=True), at, fingerprint])
        conn.execute("DELETE FROM extract_rules WHERE campaign = ?", [campaign])
        conn.executemany("INSERT INTO extract_rules VALUES (?, ?, ?, ?)",
                         [(campaign, r.id, r.version, r.leaf_id) for r in rules])
        if pages is not None:
            old = {pid: key for pid, key in conn.execute(
                "SELECT page_id, page_key FROM extract_pages WHERE campaign = ?", [campaign])}
            now = {p["id"]: (p.get("site_id"), page_key(p)) for p in pages}
            conn.executemany("DELETE FROM extract_pages WHERE campaign = ? AND page_id = ?",
                             [(campaign, pid) for pid in old if pid not in now])
            conn.executemany(
                "INSERT INTO extract_pages VALUES (?, ?, ?, ?, NULL, NULL, NULL) ON CONFLICT (campaign, page_id) "
                "DO UPDATE SET site_id = excluded.site_id, page_key = excluded.page_key, hay_text = NULL, "
                "hay_labels = NULL, hay_title = NULL",
                [(campaign, pid, sid, key) for pid, (sid, key) in now.items() if old.get(pid) != key])
        conn.executemany("UPDATE extract_pages SET hay_text = ?, hay_labels = ?, hay_title = ? "
                         "WHERE campaign = ? AND page_id = ?",
                         [(t, lb, ti, campaign, pid) for pid, (t, lb, ti) in haystacks.items()])


def stored_haystacks(conn: sqlite3.Connection, campaign: str,
                     kinds: set[str] | None = None) -> dict[int, dict[str, bytes]]:
    """The haystacks (of ``kinds``, default all) kept from earlier parses, by page id (pages never
    parsed since their last change have none)."""
    ensure_tables(conn)
    kinds = sorted(kinds or {"text", "labels", "title"})
    cols = ", ".join(f"hay_{k}" for k in kinds)
    where = " AND ".join(f"hay_{k} IS NOT NULL" for k in kinds)
    return {row[0]: dict(zip(kinds, row[1:], strict=True)) for row in conn.execute(
        f"SELECT page_id, {cols} FROM extract_pages WHERE campaign = ? AND {where}", [campaign])}


def staleness(conn: sqlite3.Connection, campaign: str, rules: list[Any]) -> str | None:
    """Why the stored evidence is behind the rules or pages (None when it is current): a cheap check
    for `windvane score`, which scores the stored evidence as it is."""
    ensure_tables(conn)
    if conn.execute("SELECT 1 FROM extract_state WHERE campaign = ?", [campaign]).fetchone() is None:
        return None  # extracted before incremental extraction (or never): nothing to compare with
    done = dict(conn.execute("SELECT rule_id, rule_version FROM extract_rules WHERE campaign = ?", [campaign]))
    edited = [r.id for r in rules if done.get(r.id) != r.version] + sorted(set(done) - {r.id for r in rules})
    n, last = conn.execute("SELECT count(*), max(id) FROM pages WHERE campaign = ?", [campaign]).fetchone()
    m, mlast = conn.execute("SELECT count(*), max(page_id) FROM extract_pages WHERE campaign = ?", [campaign]).fetchone()
    why = []
    if edited:
        why.append(f"{len(edited)} rule(s) added, edited or removed since the last extraction "
                   f"({', '.join(edited[:5])}{', …' if len(edited) > 5 else ''})")
    if (n, last) != (m, mlast):
        why.append(f"pages stored since the last extraction ({n} now, {m} then)")
    return "; ".join(why) or None


# --- the prefilter -----------------------------------------------------------------------------
# A rule's requirement is a set of (haystack, word) pairs one of which a page must show for the rule
# to match: haystack "text" (visible text, title, h1, meta values), "labels" (every link's label) or
# "title" (the page's title).
Requirement = frozenset[tuple[str, str]]

_COMMENT = re.compile(r"<!--.*?-->", re.S)
_TAG = re.compile(r"<[^>]*>")
_ATTR = re.compile(r"""=\s*(?:"([^"]*)"|'([^']*)')""")
_SPACE = re.compile(r"\s+")


def squeeze(s: str) -> str:
    """``s`` without any whitespace (the parsed text collapses and inserts whitespace at will)."""
    return _SPACE.sub("", s)


def doc_haystacks(doc: Any) -> tuple[bytes, bytes, bytes]:
    """What rules can see of a parsed page, squeezed and compressed, kept to judge later rule edits:
    (visible text + title + h1 + meta values, every link label, the title)."""
    text = "\n".join([doc.text, doc.title or "", *doc.h1, *(doc.meta or {}).values()])
    labels = "\n".join(lk.label for lk in doc.links)
    return tuple(zlib.compress(squeeze(x).encode("utf-8"), 6) for x in (text, labels, doc.title or ""))  # type: ignore[return-value]


class StoredHaystacks(dict):
    """A page's kept haystacks, each decompressed when a rule first asks for it."""

    def __init__(self, blobs: dict[str, bytes]):
        super().__init__()
        self.blobs = blobs

    def __missing__(self, where: str) -> str:
        value = self[where] = zlib.decompress(self.blobs[where]).decode("utf-8")
        return value


def open_haystacks(blobs: dict[str, bytes]) -> dict[str, str]:
    return StoredHaystacks(blobs)


def raw_haystacks(body: str, is_html: bool = True) -> dict[str, str]:
    """For a page never parsed before: a superset of everything a rule can see of it (the body with
    comments and tags dropped and entities decoded, then every attribute value), for both haystacks."""
    if not is_html:
        hay = squeeze(body)
    else:
        stripped = _COMMENT.sub("", body)
        attrs = "\n".join(a or b for t in _TAG.findall(stripped) for a, b in _ATTR.findall(t))
        hay = squeeze(html.unescape(_TAG.sub("", stripped)) + "\n" + html.unescape(attrs))
    return {"text": hay, "labels": hay, "title": hay}


def rule_words(matcher: Any) -> Requirement | None:
    """The (haystack, word) pairs one of which a page must show for ``matcher`` to match, or None
    when the matcher tells none (it may match any page: HTTP facts, URLs, CSS, negations)."""
    from extractors.engine import required_literals
    from extractors.matchers import AllMatcher, AnyMatcher, DocumentMatcher, LinkMatcher, TextMatcher

    def tagged(where: str, words: frozenset[str] | None) -> Requirement | None:
        if not words:
            return None
        out = frozenset((where, squeeze(w)) for w in words)
        return None if any(not w for _, w in out) else out

    if isinstance(matcher, TextMatcher):
        return tagged("title" if matcher.where == "title" else "text", matcher.words)
    if isinstance(matcher, LinkMatcher):
        return tagged("labels", matcher.words)
    if isinstance(matcher, DocumentMatcher):
        return tagged("text", required_literals(matcher.title))
    if isinstance(matcher, AllMatcher):  # every positive member must match: any one member's words do
        best: Requirement | None = None
        for m in matcher.members:
            w = rule_words(m) if m.positive else None
            if w is not None and (best is None or min(len(x) for _, x in w) > min(len(x) for _, x in best)):
                best = w
        return best
    if isinstance(matcher, AnyMatcher):  # one member must match: the union, if every member tells
        union: set[tuple[str, str]] = set()
        for m in matcher.members:
            w = rule_words(m) if m.positive else None
            if w is None:
                return None
            union |= w
        return frozenset(union)
    return None


Compiled = list[tuple[str, re.Pattern]]


def compile_requirement(words: Requirement | None) -> Compiled | None:
    """One alternation per haystack (a single scan of each haystack a rule needs)."""
    if words is None:
        return None
    by: dict[str, list[str]] = {}
    for where, w in words:
        by.setdefault(where, []).append(w)
    return [(where, re.compile("|".join(re.escape(w) for w in sorted(ws, key=len, reverse=True))))
            for where, ws in sorted(by.items())]


def may_match(req: Compiled | None, hay: dict[str, str] | None) -> bool:
    """False only when the page surely cannot match (no required word in its haystack)."""
    if req is None or hay is None:
        return True
    return any(p.search(hay[where]) for where, p in req)
