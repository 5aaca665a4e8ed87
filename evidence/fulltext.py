"""Full-text search over stored pages: an FTS5 ``trigram`` index, and a search that also finds 2-character words.

The index. ``pages_fts`` is an FTS5 table over ``pages`` (``title``, ``url``, ``text``) with the
``trigram`` tokenizer (SQLite >= 3.34; case-insensitive). It is an *external-content* table
(``content="pages"``, ``content_rowid="id"``): it stores only the index, never a second copy of the
text, and three triggers on ``pages`` (after insert, after delete, after update of title/url/text)
keep it in step, so pages a later crawl stores are searchable at once. :func:`build_fulltext`
creates table and triggers when they are missing and rebuilds the index only when it is missing,
was defined differently, is out of step with ``pages`` (rows the triggers did not see, e.g. an
``INSERT OR REPLACE`` written without ``recursive_triggers``), or a trigger was missing (pages may have
changed unseen); otherwise it costs a few milliseconds.

Why trigram. Chinese has no spaces; the default ``unicode61`` tokenizer makes a whole run of Han
characters one token, so 数据 would never match inside 政务数据开放. Trigram indexes every
3-character window, so any substring of 3 or more characters (数据开放, 12345, 一网通办) is found by
``MATCH`` through the index, in any script, with no dictionary or segmenter to maintain.

Short words. A trigram index cannot answer a query shorter than 3 characters (数据, 政务, 12): no
trigram is contained in it. For those :func:`search_pages` scans ``pages`` itself with ``LIKE``
(case-insensitive for ASCII, as the index is), in id order, stopping as soon as ``limit`` pages are
found. A common word such as 数据 is on most pages, so the scan stops within the first pages; a rare
one reads the whole table, about 10 ms per million characters of text (0.1 s for the 31,000 pages of
the demo store; docs/datasette.md has the numbers). ``LIKE`` on ``pages_fts`` itself would give the same answer (trigram supports
``LIKE`` through the index only for patterns of 3+ characters), by the same full scan but through the
virtual table, so the plain table is scanned. A query of several words (separated by spaces) uses the
index for every word of 3+ characters and filters its hits with ``LIKE`` for the shorter ones; only a
query made of short words alone needs the scan. :func:`search_pages` only reads: in a store without
the index yet, every word is scanned for.

Snippets mark the hits with ``«`` and ``»`` (characters rare in Chinese government pages, unlike
【】), as plain text: callers escape them like any other page text.
"""

from __future__ import annotations

import re
import sqlite3
import time

FTS_TABLE = "pages_fts"
MIN_INDEXED = 3          # trigram: the shortest word the index can find
MARKS = ("«", "»")

# the definitions the index and its triggers must have; any difference rebuilds them
_CREATE_FTS = (f'CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(title, url, text, '
               f'content="pages", content_rowid="id", tokenize="trigram")')
_TRIGGERS = {
    f"{FTS_TABLE}_ai": (
        f"CREATE TRIGGER {FTS_TABLE}_ai AFTER INSERT ON pages BEGIN "
        f"INSERT INTO {FTS_TABLE} (rowid, title, url, text) VALUES (new.id, new.title, new.url, new.text); END"),
    f"{FTS_TABLE}_ad": (
        f"CREATE TRIGGER {FTS_TABLE}_ad AFTER DELETE ON pages BEGIN "
        f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, title, url, text) "
        f"VALUES ('delete', old.id, old.title, old.url, old.text); END"),
    f"{FTS_TABLE}_au": (
        f"CREATE TRIGGER {FTS_TABLE}_au AFTER UPDATE OF id, title, url, text ON pages BEGIN "
        f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, title, url, text) "
        f"VALUES ('delete', old.id, old.title, old.url, old.text); "
        f"INSERT INTO {FTS_TABLE} (rowid, title, url, text) VALUES (new.id, new.title, new.url, new.text); END"),
}


def _norm(sql: str | None) -> str:
    return re.sub(r"\s+", " ", sql or "").strip().lower()


def _master(conn: sqlite3.Connection) -> dict[str, str]:
    return {name: sql for name, sql in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE name = ? OR (type = 'trigger' AND tbl_name = 'pages')",
        [FTS_TABLE])}


def _out_of_step(conn: sqlite3.Connection) -> str | None:
    """Why the index does not hold exactly the rows of ``pages`` (None: it does).

    Compares row ids only (the ``_docsize`` shadow table has one row per indexed page): counts,
    and indexed ids no longer in ``pages``. Integer keys: milliseconds for 100,000 pages.
    """
    indexed = conn.execute(f"SELECT count(*) FROM {FTS_TABLE}_docsize").fetchone()[0]
    pages = conn.execute("SELECT count(*) FROM pages").fetchone()[0]
    if indexed != pages:
        return f"index holds {indexed} pages, the store {pages}"
    stale = conn.execute(f"SELECT count(*) FROM {FTS_TABLE}_docsize d "
                         "WHERE NOT EXISTS (SELECT 1 FROM pages p WHERE p.id = d.id)").fetchone()[0]
    if stale:
        return f"index holds {stale} pages no longer in the store"
    return None


def build_fulltext(conn: sqlite3.Connection, *, force: bool = False) -> dict:
    """Create or refresh the trigram index ``pages_fts`` over pages (title, url, text) and its triggers.

    Idempotent: when the index and triggers exist as defined here and the index holds exactly the
    rows of ``pages``, nothing is written. Returns ``{"built": bool, "reason": str, "pages": int,
    "seconds": float}``; ``reason`` says why it was (re)built, or ``"up to date"``.
    """
    started = time.monotonic()
    master = _master(conn)
    if "pages" not in {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}:
        raise sqlite3.OperationalError("no pages table: not a windvane store")
    reason = None
    if force:
        reason = "rebuild asked for"
    elif FTS_TABLE not in master:
        reason = "no index yet"
    elif _norm(master[FTS_TABLE]) != _norm(_CREATE_FTS):
        reason = "index defined differently"
    else:
        reason = _out_of_step(conn)
    if reason is None and not all(_norm(master.get(name)) == _norm(sql) for name, sql in _TRIGGERS.items()):
        reason = "triggers missing or changed (pages may have changed unseen)"
    pages = conn.execute("SELECT count(*) FROM pages").fetchone()[0]
    if reason is None:
        return {"built": False, "reason": "up to date", "pages": pages,
                "seconds": round(time.monotonic() - started, 3)}
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN IMMEDIATE")   # one transaction: DDL too (sqlite3 would autocommit it)
    try:
        for name in _TRIGGERS:
            conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        if FTS_TABLE in master and _norm(master[FTS_TABLE]) != _norm(_CREATE_FTS):
            conn.execute(f"DROP TABLE {FTS_TABLE}")
        conn.execute(_CREATE_FTS.replace("CREATE VIRTUAL TABLE", "CREATE VIRTUAL TABLE IF NOT EXISTS"))
        # 'rebuild' reads every row of the content table afresh (drops whatever was indexed)
        conn.execute(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}) VALUES ('rebuild')")
        for sql in _TRIGGERS.values():
            conn.execute(sql)
    except BaseException:
        if own:
            conn.rollback()
        raise
    if own:
        conn.commit()
    return {"built": True, "reason": reason, "pages": pages, "seconds": round(time.monotonic() - started, 3)}


def drop_fulltext(conn: sqlite3.Connection) -> bool:
    """Remove the index and its triggers, together (triggers without the table would fail every page write)."""
    had = has_fulltext(conn)
    with conn:
        for name in _TRIGGERS:
            conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        conn.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    return had


def has_fulltext(conn: sqlite3.Connection) -> bool:
    """Whether the store has the ``pages_fts`` index (built by :func:`build_fulltext`)."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", [FTS_TABLE]).fetchone() is not None


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _mark(snippet: str, terms: list[str], marks: tuple[str, str]) -> str:
    """Wrap every (case-insensitive) occurrence of the terms not already inside marks."""
    if not terms:
        return snippet
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.IGNORECASE)
    out, depth, i = [], 0, 0
    for m in re.finditer("|".join(map(re.escape, marks)), snippet):
        seg = snippet[i:m.start()]
        out.append(seg if depth else pattern.sub(lambda h: marks[0] + h.group(0) + marks[1], seg))
        out.append(m.group(0))
        depth = 1 if m.group(0) == marks[0] else 0
        i = m.end()
    tail = snippet[i:]
    out.append(tail if depth else pattern.sub(lambda h: marks[0] + h.group(0) + marks[1], tail))
    return "".join(out)


def _window(text: str, terms: list[str], width: int) -> str:
    """About ``width`` characters of text around the first occurrence of any term."""
    low = text.casefold()
    hits = [p for p in (low.find(t.casefold()) for t in terms) if p >= 0]
    if not hits:
        return text[:width] + ("…" if len(text) > width else "")
    at = min(hits)
    start = max(at - width // 3, 0)
    end = min(start + width, len(text))
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


def search_pages(conn: sqlite3.Connection, query: str, campaign: str | None = None, limit: int = 50,
                 *, marks: tuple[str, str] = MARKS, width: int = 60) -> list[dict]:
    """Pages whose title, URL or text contain every word of ``query`` (words split at spaces).

    Words of 3+ characters go through the trigram index (best match first); shorter ones (数据, 12)
    filter with ``LIKE``; a query of short words only scans ``pages`` in id order (see the module
    docstring). Each hit: ``id``, ``campaign``, ``site_id``, ``url``, ``title``, ``snippet`` (about
    ``width`` characters of text around the hit, hits wrapped in ``marks``). Only reads: without
    the index (:func:`build_fulltext` not run yet) every word is scanned for, in id order.
    """
    terms = [t for t in query.split() if t]
    if not terms:
        return []
    indexed = has_fulltext(conn)          # no index yet: every word is scanned for (never built here)
    long = [t for t in terms if len(t) >= MIN_INDEXED and indexed]
    short = [t for t in terms if t not in long]
    where: list[str] = []
    args: list = []
    for t in short:
        where.append("(p.title LIKE ? ESCAPE '\\' OR p.url LIKE ? ESCAPE '\\' OR p.text LIKE ? ESCAPE '\\')")
        args += [_like(t)] * 3
    if campaign:
        where.append("p.campaign = ?")
        args.append(campaign)
    cond = "".join(f" AND {w}" for w in where)
    if long:
        tokens = max(8, width // 2)
        sql = (f"SELECT p.id, p.campaign, p.site_id, p.url, p.title, "
               f"snippet({FTS_TABLE}, -1, ?, ?, '…', {tokens}) AS snippet "
               f"FROM {FTS_TABLE} JOIN pages p ON p.id = {FTS_TABLE}.rowid "
               f"WHERE {FTS_TABLE} MATCH ?{cond} ORDER BY {FTS_TABLE}.rank LIMIT ?")
        rows = conn.execute(sql, [marks[0], marks[1], " ".join(map(_phrase, long)), *args, limit]).fetchall()
        return [{"id": r[0], "campaign": r[1], "site_id": r[2], "url": r[3], "title": r[4],
                 "snippet": _mark(r[5] or "", short, marks)} for r in rows]
    sql = (f"SELECT p.id, p.campaign, p.site_id, p.url, p.title, p.text FROM pages p "
           f"WHERE 1{cond} ORDER BY p.id LIMIT ?")
    out = []
    for r in conn.execute(sql, [*args, limit]):
        text = r[5] or ""
        snippet = _window(text, short, width) if any(t.casefold() in text.casefold() for t in short) \
            else _window(r[4] or "", short, width)
        out.append({"id": r[0], "campaign": r[1], "site_id": r[2], "url": r[3], "title": r[4],
                    "snippet": _mark(snippet, short, marks)})
    return out
