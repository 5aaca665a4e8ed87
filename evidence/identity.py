"""Stable evidence identity: what a finding is, hashed, instead of a row counter.

``evidence_key(campaign, rule_id, url, page_sha256, start, snippet)`` is the key every piece of
evidence is stored under (``evidence.eid``) and every auditor's decision refers to
(``decisions.evidence_key``; audit/ledger.py). Re-extracting after a rule edit gives a finding that
is still found the same key; a finding on a page whose content changed, or one the edited rule
no longer finds, is another key or none, never silently another finding.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3

_WS = re.compile(r"\s+")


def evidence_key(campaign: str, rule_id: str, url: str, page_sha256: str | None,
                 start: int | None, snippet: str | None = None) -> str:
    """The stable id of a finding: ``ev_`` + 24 hex digits of SHA-256 over what the finding is."""
    anchor = str(int(start)) if start is not None else "s:" + _WS.sub(" ", snippet or "").strip()
    raw = "\x1f".join([campaign or "", rule_id or "", url or "", page_sha256 or "", anchor])
    return "ev_" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:24]


_TRIGGERS = """
CREATE TRIGGER IF NOT EXISTS decisions_append_only_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only: record a new decision instead'); END;
CREATE TRIGGER IF NOT EXISTS decisions_append_only_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only: record an undo decision instead'); END;
"""


def ensure_identity(conn: sqlite3.Connection) -> None:
    """Give evidence rows without a stable key one (stores from before keys), index the keys, and
    make ``decisions`` append-only. Called by ``Store`` on open; cheap when nothing is missing."""
    missing = conn.execute("SELECT count(*) FROM evidence WHERE eid IS NULL").fetchone()[0]
    if missing:
        rows = conn.execute(
            "SELECT e.id, e.campaign, e.rule_id, e.url, coalesce(e.page_sha256, p.sha256), e.start, e.snippet "
            "FROM evidence e LEFT JOIN pages p ON p.id = e.page_id WHERE e.eid IS NULL").fetchall()
        seen: set[tuple[str, str]] = {(c, k) for c, k in conn.execute(
            "SELECT campaign, eid FROM evidence WHERE eid IS NOT NULL")}
        updates = []
        for rid, campaign, rule_id, url, sha, start, snippet in rows:
            key = evidence_key(campaign, rule_id, url, sha, start, snippet)
            if (campaign, key) in seen:  # a duplicate finding: keep the first, key the rest by row
                key = f"{key}_{rid}"
            seen.add((campaign, key))
            updates.append((key, sha, rid))
        conn.executemany("UPDATE evidence SET eid = ?, page_sha256 = ? WHERE id = ?", updates)
    conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS evidence_eid ON evidence (campaign, eid)")
    conn.executescript(_TRIGGERS)


