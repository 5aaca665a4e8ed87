"""The evidence store: one SQLite file (WAL) plus per-campaign blob folders beside it.

Layout on disk, for a store at ``data/windvane.db``::

    data/windvane.db                      SQLite: campaigns, sites, targets, pages, ...
    data/windvane.files/<campaign>/warc/  WARC files (ISO 28500, gzip per record)
    data/windvane.files/<campaign>/shots/ screenshots

Every table is documented in docs/store.md. Writes are idempotent: pages are
unique per (campaign, url), evidence per (campaign, eid) — the stable evidence key of audit/ledger.py —,
scores per (run_id, target_id, node_id); re-running a stage replaces its own
rows and never duplicates them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from evidence.registry import Registry, parse_registry

DEFAULT_STORE = Path(__file__).resolve().parent.parent / "data" / "windvane.db"
SCHEMA_VERSION = 1


class StoreError(Exception):
    """The store cannot be opened or used; the message names the path."""


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS campaigns (
  campaign TEXT PRIMARY KEY, created_at TEXT, updated_at TEXT, status TEXT,
  registry_path TEXT, registry_csv TEXT, config TEXT, as_of TEXT, notes TEXT);
CREATE TABLE IF NOT EXISTS sites (
  campaign TEXT, site_id TEXT, name_zh TEXT, portal_url TEXT, status TEXT,
  pages INTEGER DEFAULT 0, failures INTEGER DEFAULT 0, started_at TEXT, finished_at TEXT,
  error TEXT, coverage TEXT, PRIMARY KEY (campaign, site_id));
CREATE TABLE IF NOT EXISTS targets (
  campaign TEXT, target_id TEXT, grp TEXT, site_id TEXT, name_zh TEXT, name_en TEXT,
  admin_code TEXT, province TEXT, gdp REAL, gdp_rank INTEGER, portal_url TEXT, gdp_status TEXT,
  PRIMARY KEY (campaign, target_id));
CREATE TABLE IF NOT EXISTS pages (
  id INTEGER PRIMARY KEY, campaign TEXT NOT NULL, site_id TEXT, url TEXT NOT NULL,
  final_url TEXT, status INTEGER, headers TEXT, fetched_at TEXT, sha256 TEXT,
  content_type TEXT, encoding TEXT, title TEXT, text TEXT, size INTEGER, depth INTEGER,
  referrer TEXT, kind TEXT, via TEXT, warc_file TEXT, warc_offset INTEGER,
  warc_length INTEGER, rendered_warc_offset INTEGER, screenshot TEXT, parent_id INTEGER,
  redirects TEXT, block TEXT, UNIQUE (campaign, url));
CREATE INDEX IF NOT EXISTS pages_site ON pages (campaign, site_id);
-- covering the per-site page and HTTP status counts every score and report reads (evidence/coverage.py)
CREATE INDEX IF NOT EXISTS pages_site_status ON pages (campaign, site_id, status);
CREATE TABLE IF NOT EXISTS tls_probes (
  campaign TEXT, site_id TEXT, host TEXT, port INTEGER, verified INTEGER, problem TEXT, error TEXT,
  error_code INTEGER, issuer TEXT, subject TEXT, san TEXT, not_before TEXT, not_after TEXT,
  tls_version TEXT, cipher TEXT, trust TEXT, via_proxy INTEGER, probed_at TEXT, warc_file TEXT,
  warc_offset INTEGER, PRIMARY KEY (campaign, host, port));
-- the platforms of a site's presence (crawlers/scope.py): from the registry or discovered on the portal
CREATE TABLE IF NOT EXISTS site_platforms (
  campaign TEXT, site_id TEXT, kind TEXT, url TEXT, host TEXT, prefix TEXT, source TEXT, label TEXT,
  found_on TEXT, stored_under TEXT, pages INTEGER DEFAULT 0, apis INTEGER DEFAULT 0,
  budget_reached INTEGER DEFAULT 0, at TEXT, PRIMARY KEY (campaign, site_id, kind));
CREATE TABLE IF NOT EXISTS failures (
  id INTEGER PRIMARY KEY, campaign TEXT, site_id TEXT, url TEXT, reason TEXT,
  status INTEGER, at TEXT, referrer TEXT, UNIQUE (campaign, url));
CREATE TABLE IF NOT EXISTS evidence (
  id INTEGER PRIMARY KEY, campaign TEXT NOT NULL, site_id TEXT, leaf_id TEXT, rule_id TEXT,
  rule_version TEXT, page_id INTEGER, url TEXT, snippet TEXT, start INTEGER, "end" INTEGER,
  "values" TEXT, points REAL, extracted_at TEXT,
  UNIQUE (campaign, rule_id, page_id, start));
CREATE INDEX IF NOT EXISTS evidence_site ON evidence (campaign, site_id, leaf_id);
CREATE TABLE IF NOT EXISTS decisions (
  id INTEGER PRIMARY KEY, campaign TEXT, evidence_id INTEGER, site_id TEXT, leaf_id TEXT,
  decision TEXT, who TEXT, at TEXT, why TEXT, url TEXT, snippet TEXT);
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY, campaign TEXT, created_at TEXT, rules_version TEXT,
  config TEXT, notes TEXT);
CREATE TABLE IF NOT EXISTS scores (
  run_id TEXT, target_id TEXT, node_id TEXT, level TEXT, points REAL, max_points REAL,
  rate REAL, rank INTEGER, evidence_ids TEXT, PRIMARY KEY (run_id, target_id, node_id));
"""


# the columns of tls_probes, in order (crawlers.tls writes them, extract reads them)
TLS_COLS = ("campaign", "site_id", "host", "port", "verified", "problem", "error", "error_code", "issuer",
            "subject", "san", "not_before", "not_after", "tls_version", "cipher", "trust", "via_proxy",
            "probed_at", "warc_file", "warc_offset")


# columns added after a table was first created: (table, column, type); added to older stores on open
_LATER_COLUMNS = [("pages", "redirects", "TEXT"), ("pages", "block", "TEXT"), ("sites", "coverage", "TEXT"),
                  # stable evidence identity (audit/ledger.py): the key, the page body's hash, first extraction
                  ("evidence", "eid", "TEXT"), ("evidence", "page_sha256", "TEXT"), ("evidence", "first_seen", "TEXT"),
                  # the decision ledger: what a decision is about and why (append-only, see audit/ledger.py)
                  ("decisions", "evidence_key", "TEXT"), ("decisions", "target_id", "TEXT"),
                  ("decisions", "role", "TEXT"), ("decisions", "reason", "TEXT"), ("decisions", "note", "TEXT"),
                  ("decisions", "points", "REAL"), ("decisions", "undoes", "INTEGER"),
                  ("decisions", "rule_id", "TEXT"), ("decisions", "page_sha256", "TEXT"),
                  ("decisions", "start", "INTEGER"), ("decisions", '"end"', "INTEGER"),
                  ("decisions", "page_id", "INTEGER"), ("decisions", "file", "TEXT"),
                  # scores: the leaf points the machine alone gave (auditors' changes are the difference)
                  ("scores", "machine_points", "REAL"),
                  # how the registry's GDP figure was checked (evidence.registry.gdp_status_class)
                  ("targets", "gdp_status", "TEXT"),
                  # which part of the site's presence a page came from: portal | service | opendata (NULL: portal)
                  ("pages", "platform", "TEXT")]


def _add_columns(conn: sqlite3.Connection) -> None:
    for table, col, typ in _LATER_COLUMNS:
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        if col.strip('"') not in have:
            try:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {col} {typ}")
            except sqlite3.OperationalError as e:  # another process opening the store added it just now
                if "duplicate column" not in str(e):
                    raise


class Store:
    """An open evidence store. Use as a context manager or call close()."""

    def __init__(self, path: str | Path | None = None, *, create: bool = True):
        self.path = Path(path) if path else DEFAULT_STORE
        if self.path.exists() and self.path.is_dir():
            raise StoreError(f"{self.path}: is a directory, not a store file")
        if not self.path.exists() and not create:
            raise StoreError(f"{self.path}: no store here (run `windvane crawl --store {self.path}` first)")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            _add_columns(conn)
            from evidence.identity import ensure_identity
            ensure_identity(conn)
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            conn.commit()
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path}: not a usable windvane store ({e}); "
                             "nothing was changed in it") from None
        except OSError as e:
            raise StoreError(f"{self.path}: cannot open store ({e.strerror})") from None
        self.conn = conn
        self.db = sqlite_utils.Database(conn)

    # --- lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def files_dir(self) -> Path:
        return self.path.with_suffix(".files")

    def campaign_dir(self, campaign: str) -> Path:
        d = self.files_dir / campaign
        d.mkdir(parents=True, exist_ok=True)
        return d

    # --- campaigns -----------------------------------------------------------------------
    def open_campaign(self, campaign: str, registry: Registry, *, config: dict | None = None,
                      as_of: str | None = None, force: bool = False) -> None:
        """Create the campaign, or reopen it (resume) if it exists with the same registry.

        A reopened campaign keeps the registry snapshot, ``config`` and ``as_of`` it started with;
        ``force`` reopens it with another registry too (its sites and targets are added or updated,
        the snapshot stays: see crawlers/campaign.py)."""
        row = self.campaign(campaign, missing_ok=True)
        if row and row["registry_csv"] != registry.text and not force:
            raise StoreError(f"{self.path}: campaign {campaign!r} was started with registry "
                             f"{row['registry_path']}; use another --campaign name for a different registry")
        now = now_iso()
        if not row:
            self.db["campaigns"].insert({
                "campaign": campaign, "created_at": now, "updated_at": now, "status": "crawling",
                "registry_path": registry.path, "registry_csv": registry.text,
                "config": json.dumps(config or {}, ensure_ascii=False), "as_of": as_of,
            })
        else:
            self.db["campaigns"].update(campaign, {"updated_at": now, "status": "crawling"})
        self.db["targets"].upsert_all(
            [{"campaign": campaign, "target_id": t.target_id, "grp": t.group, "site_id": t.site_id,
              "name_zh": t.name_zh, "name_en": t.get("name_en"), "admin_code": t.admin_code,
              "province": t.get("province"), "gdp": t.gdp, "gdp_rank": t.gdp_rank,
              "portal_url": t.portal_url, "gdp_status": t.get("gdp_status")} for t in registry.targets],
            pk=("campaign", "target_id"))
        self.db["sites"].upsert_all(
            [{"campaign": campaign, "site_id": s.site_id, "name_zh": s.name_zh,
              "portal_url": s.portal_url} for s in registry.sites],
            pk=("campaign", "site_id"))
        self.conn.commit()

    def campaign(self, campaign: str | None = None, *, missing_ok: bool = False) -> dict | None:
        """The named campaign, or the most recently updated one."""
        if campaign:
            rows = list(self.db.query("select * from campaigns where campaign = ?", [campaign]))
        else:
            rows = list(self.db.query("select * from campaigns order by updated_at desc, created_at desc limit 1"))
        if rows:
            return rows[0]
        if missing_ok:
            return None
        which = f"campaign {campaign!r}" if campaign else "any campaign"
        raise StoreError(f"{self.path}: no {which} in this store (run `windvane crawl` first)")

    def registry(self, campaign: str) -> Registry:
        row = self.campaign(campaign)
        return parse_registry(row["registry_csv"], row["registry_path"])

    def set_campaign_status(self, campaign: str, status: str) -> None:
        self.db["campaigns"].update(campaign, {"status": status, "updated_at": now_iso()})
        self.conn.commit()

    # --- pages ---------------------------------------------------------------------------
    def add_pages(self, rows: list[dict]) -> None:
        """Insert fetched pages; a URL already stored for the campaign is replaced in place."""
        if rows:
            self._insert_pages(rows)
            self.conn.commit()

    def _insert_pages(self, rows: list[dict]) -> None:
        cols = list(rows[0].keys())
        sql = (f"INSERT INTO pages ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
               f"ON CONFLICT (campaign, url) DO UPDATE SET "
               + ", ".join(f"{c}=excluded.{c}" for c in cols if c not in ("campaign", "url")))
        self.conn.executemany(sql, [[r.get(c) for c in cols] for r in rows])
        # a URL that now succeeded is no longer a failure
        self.conn.executemany("DELETE FROM failures WHERE campaign=? AND url=?",
                              [(r["campaign"], r["url"]) for r in rows])

    def add_failures(self, rows: list[dict]) -> None:
        if rows:
            cols = list(rows[0].keys())
            self.conn.executemany(
                f"INSERT OR REPLACE INTO failures ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                [[r.get(c) for c in cols] for r in rows])
            self.conn.commit()

    def stored_urls(self, campaign: str, site_id: str | None = None) -> set[str]:
        sql = "select url from pages where campaign = ?"
        args: list = [campaign]
        if site_id:
            sql += " and site_id = ?"
            args.append(site_id)
        return {r[0] for r in self.conn.execute(sql, args)}

    def iter_pages(self, campaign: str, site_id: str | None = None,
                   columns: str = "*", site_ids: list[str] | None = None) -> Iterator[dict]:
        """The campaign's pages in crawl order (of one site, or of ``site_ids``), as dicts."""
        sql = f"select {columns} from pages where campaign = ?"
        args: list = [campaign]
        if site_id:
            sql += " and site_id = ?"
            args.append(site_id)
        if site_ids is not None:
            sql += f" and coalesce(site_id, '') in ({', '.join('?' * len(site_ids))})"
            args += site_ids
        cur = self.conn.execute(sql + " order by id", args)
        names = [d[0] for d in cur.description]
        for row in cur:
            yield dict(zip(names, row, strict=True))

    def tls_probes(self, campaign: str) -> dict[str, dict]:
        """The verified TLS probes of a campaign (port 443), by host: verified (bool), problem, error,
        issuer, subject, san (list), not_before, not_after, tls_version, … (see docs/store.md)."""
        cur = self.conn.execute(f"SELECT {', '.join(TLS_COLS)} FROM tls_probes WHERE campaign=? AND port=443",
                                [campaign])
        out: dict[str, dict] = {}
        for r in cur.fetchall():
            d = dict(zip(TLS_COLS, r, strict=True))
            d["verified"] = bool(d["verified"])
            d["via_proxy"] = bool(d["via_proxy"])
            d["san"] = json.loads(d["san"] or "[]")
            out[d["host"]] = d
        return out

    def page(self, page_id: int) -> dict:
        rows = list(self.db.query("select * from pages where id = ?", [page_id]))
        if not rows:
            raise StoreError(f"{self.path}: no page with id {page_id}")
        return rows[0]

    def page_by_url(self, url: str, campaign: str | None = None) -> dict | None:
        sql = "select * from pages where (url = ? or final_url = ?)"
        args: list = [url, url]
        if campaign:
            sql += " and campaign = ?"
            args.append(campaign)
        rows = list(self.db.query(sql + " order by fetched_at desc limit 1", args))
        return rows[0] if rows else None

    # --- evidence ------------------------------------------------------------------------
    last_removed = 0  # evidence rows the last replace_evidence removed

    def replace_evidence(self, campaign: str, rows: Iterable[dict], site_ids: list[str] | None = None,
                         rule_ids: list[str] | None = None) -> int:
        """Make the campaign's evidence exactly ``rows``, keyed by the stable evidence key (``eid``,
        audit/ledger.py): a finding found again keeps its row and its ``first_seen``; findings no
        longer found are removed; new ones are added. With ``site_ids`` and/or ``rule_ids`` only the
        evidence of those sites or of those rules is replaced (the scope an incremental extraction
        recomputed); without either, the whole campaign's."""
        from evidence.identity import evidence_key

        sha: dict | None = None  # the pages' body hashes, read only if a row does not bring its own
        keyed: dict[str, dict] = {}
        for r in rows:
            r = dict(r)
            if not r.get("page_sha256"):
                if sha is None:
                    sha = dict(self.conn.execute("SELECT id, sha256 FROM pages WHERE campaign = ?", [campaign]))
                r["page_sha256"] = sha.get(r.get("page_id"))
            r["eid"] = r.get("eid") or evidence_key(campaign, r["rule_id"], r.get("url") or "", r["page_sha256"],
                                                    r.get("start"), r.get("snippet"))
            keyed.setdefault(r["eid"], r)  # one row per finding
        now = now_iso()
        with self.conn:
            self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS _found (eid TEXT PRIMARY KEY)")
            self.conn.execute("DELETE FROM _found")
            self.conn.executemany("INSERT INTO _found VALUES (?)", [(k,) for k in keyed])
            gone = "campaign = ? AND (eid IS NULL OR eid NOT IN (SELECT eid FROM _found))"
            before = self.conn.total_changes
            if site_ids is None and rule_ids is None:
                self.conn.execute(f"DELETE FROM evidence WHERE {gone}", [campaign])
            else:
                self.conn.executemany(f"DELETE FROM evidence WHERE site_id = ? AND {gone}",
                                      [(s, campaign) for s in site_ids or []])
                self.conn.executemany(f"DELETE FROM evidence WHERE rule_id = ? AND {gone}",
                                      [(r, campaign) for r in rule_ids or []])
            self.last_removed = self.conn.total_changes - before
            if keyed:
                cols = [c for c in next(iter(keyed.values())) if c not in ("id", "first_seen")]
                quoted = [f'"{c}"' for c in cols]
                sql = (f"INSERT INTO evidence ({', '.join(quoted)}, first_seen) "
                       f"VALUES ({', '.join('?' * len(cols))}, ?) ON CONFLICT (campaign, eid) DO UPDATE SET "
                       + ", ".join(f"{q} = excluded.{q}" for c, q in zip(cols, quoted, strict=True)
                                   if c not in ("campaign", "eid")))
                self.conn.executemany(sql, [[r.get(c) for c in cols] + [r.get("extracted_at") or now]
                                            for r in keyed.values()])
        return len(keyed)

    def evidence(self, campaign: str, site_id: str | None = None) -> list[dict]:
        sql = "select * from evidence where campaign = ?"
        args: list = [campaign]
        if site_id:
            sql += " and site_id = ?"
            args.append(site_id)
        return list(self.db.query(sql + " order by id", args))

    def decisions(self, campaign: str) -> list[dict]:
        return list(self.db.query("select * from decisions where campaign = ? order by id", [campaign]))

    # --- runs and scores -----------------------------------------------------------------
    def save_run(self, run: dict, scores: list[dict]) -> None:
        """Store a new run and its scores (runs are immutable: scoring.runs refuses a taken name)."""
        with self.conn:
            self.db["runs"].insert(run, pk="run_id", alter=True)
            if scores:
                cols = list(scores[0])
                self.conn.executemany(
                    f"INSERT INTO scores ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                    [[r.get(c) for c in cols] for r in scores])

    def run(self, run_id: str | None = None, campaign: str | None = None) -> dict:
        if run_id:
            rows = list(self.db.query("select * from runs where run_id = ?", [run_id]))
        else:
            sql, args = "select * from runs", []
            if campaign:
                sql, args = sql + " where campaign = ?", [campaign]
            rows = list(self.db.query(sql + " order by created_at desc, rowid desc limit 1", args))
        if not rows:
            raise StoreError(f"{self.path}: no run {run_id or ''} (run `windvane score` first)".replace("  ", " "))
        return rows[0]

    def scores(self, run_id: str) -> list[dict]:
        return list(self.db.query("select * from scores where run_id = ?", [run_id]))
