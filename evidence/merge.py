"""`windvane merge`: fold store shards (one per machine or worker) into one campaign store.

A shard is an ordinary windvane store (SQLite + WARC folder) that crawled some of a campaign's
sites, e.g. each machine of a multi-machine crawl with its own ``--site`` share. Merging copies into
the target store, for each campaign of the shard (or the one asked for):

* the campaign row (created from the shard's when missing; a campaign started with another
  registry is refused), its targets and sites (a site's status and coverage are taken from the shard
  that crawled it: one that finished the site wins over one that did not, then the one with more
  pages; a site's page count is what the merged store holds);
* every page, TLS probe and failure; a page whose URL the target already holds is kept as it is
  (same body: nothing to do; another body: reported as a conflict, the target's row kept);
* every WARC file the copied rows point at, copied beside the target's own under the same name, or
  under a name prefixed by the shard's digest when the target holds a different file of that name;
  the rows' ``warc_file`` pointers are rewritten to the copied names, ``parent_id`` to the new row
  ids, and screenshots are copied with their paths kept.

Merging is idempotent: a shard merged twice adds nothing the second time (pages are matched by
URL, WARC files by name and SHA-256). Evidence, decisions and runs are not merged: extract and score
the merged store (``windvane extract`` recomputes only what the merge changed).
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from evidence.registry import parse_registry
from evidence.store import TLS_COLS, Store, StoreError


@dataclass
class MergeResult:
    shard: str
    campaigns: list[str] = field(default_factory=list)
    pages: int = 0
    pages_present: int = 0
    conflicts: list[str] = field(default_factory=list)  # URLs held with another body
    warc_files: int = 0
    failures: int = 0
    tls_probes: int = 0
    screenshots: int = 0

    def line(self) -> str:
        out = (f"merge {self.shard}: campaigns {', '.join(self.campaigns) or '–'}; pages added {self.pages}, "
               f"already held {self.pages_present}; WARC files copied {self.warc_files}; failures {self.failures}; "
               f"TLS probes {self.tls_probes}; screenshots {self.screenshots}")
        if self.conflicts:
            out += (f"; {len(self.conflicts)} URL(s) held with another body, the target's kept "
                    f"(e.g. {self.conflicts[0]})")
        return out


def _sha256_file(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _rows(conn: sqlite3.Connection, sql: str, args: list) -> list[dict]:
    cur = conn.execute(sql, args)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur]


def merge_shard(target: Store, shard_path: str | Path, campaign: str | None = None) -> MergeResult:
    """Fold one shard store into ``target`` (see the module docstring)."""
    shard_path = Path(shard_path)
    if not shard_path.is_file():
        raise StoreError(f"{shard_path}: no store here to merge")
    if shard_path.resolve() == Path(target.path).resolve():
        raise StoreError(f"{shard_path}: a store cannot be merged into itself")
    try:
        src = sqlite3.connect(f"file:{shard_path}?mode=ro", uri=True)
        camps = _rows(src, "SELECT * FROM campaigns" + (" WHERE campaign = ?" if campaign else ""),
                      [campaign] if campaign else [])
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{shard_path}: not a usable windvane store ({e}); nothing merged") from None
    if campaign and not camps:
        raise StoreError(f"{shard_path}: no campaign {campaign!r} in this shard")
    res = MergeResult(str(shard_path))
    shard_files = shard_path.with_suffix(".files")
    digest = hashlib.sha256(str(shard_path.resolve()).encode()).hexdigest()[:8]
    try:
        for camp in camps:
            name = camp["campaign"]
            res.campaigns.append(name)
            _merge_campaign(target, src, camp, shard_files, digest, res)
    finally:
        src.close()
    return res


def _merge_campaign(target: Store, src: sqlite3.Connection, camp: dict, shard_files: Path, digest: str,
                    res: MergeResult) -> None:
    name = camp["campaign"]
    mine = target.campaign(name, missing_ok=True)
    if mine is None:
        target.open_campaign(name, parse_registry(camp["registry_csv"], camp["registry_path"]),
                             as_of=camp.get("as_of"))
        with target.conn:
            target.conn.execute("UPDATE campaigns SET config = ?, created_at = ?, status = ? WHERE campaign = ?",
                                [camp.get("config"), camp.get("created_at"), camp.get("status"), name])
    elif mine["registry_csv"] != camp["registry_csv"]:
        raise StoreError(f"{target.path}: campaign {name!r} was started with another registry than the shard's; "
                         "nothing of it merged")
    warc_dst = target.campaign_dir(name) / "warc"
    warc_dst.mkdir(parents=True, exist_ok=True)
    warc_src = shard_files / name / "warc"
    renamed: dict[str, str] = {}

    def warc_name(file: str | None) -> str | None:
        """The target's name of a shard WARC file, copying it on first use."""
        if not file:
            return file
        if file in renamed:
            return renamed[file]
        src_file = warc_src / file
        if not src_file.is_file():
            raise StoreError(f"{src_file}: a WARC file the shard's rows point at is missing; nothing of "
                             f"campaign {name!r} merged from this shard")
        dst = warc_dst / file
        if dst.exists() and _sha256_file(dst) != _sha256_file(src_file):
            dst = warc_dst / f"{digest}-{file}"
        if not dst.exists():
            shutil.copy2(src_file, dst)
            res.warc_files += 1
        renamed[file] = dst.name
        return dst.name

    held = {u: (pid, sha) for pid, u, sha in target.conn.execute(
        "SELECT id, url, sha256 FROM pages WHERE campaign = ?", [name])}
    pages = _rows(src, "SELECT * FROM pages WHERE campaign = ? ORDER BY id", [name])
    new_id: dict[int, int] = {}
    with target.conn:
        for p in pages:
            if p["url"] in held:
                pid, sha = held[p["url"]]
                new_id[p["id"]] = pid
                res.pages_present += 1
                if sha != p["sha256"]:
                    res.conflicts.append(p["url"])
                continue
            row = {k: v for k, v in p.items() if k != "id"}
            row["warc_file"] = warc_name(p.get("warc_file"))
            row["parent_id"] = None  # rewritten below, once every page has its new id
            cols = list(row)
            cur = target.conn.execute(f"INSERT INTO pages ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                                      [row[c] for c in cols])
            new_id[p["id"]] = int(cur.lastrowid)
            res.pages += 1
            if p.get("screenshot"):
                s_src, s_dst = shard_files / name / p["screenshot"], target.campaign_dir(name) / p["screenshot"]
                if s_src.is_file() and not s_dst.exists():
                    s_dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(s_src, s_dst)
                    res.screenshots += 1
        target.conn.executemany("UPDATE pages SET parent_id = ? WHERE id = ? AND parent_id IS NULL", [
            (new_id[p["parent_id"]], new_id[p["id"]]) for p in pages
            if p.get("parent_id") in new_id and p["id"] in new_id and p["url"] not in held])
        for f in _rows(src, "SELECT * FROM failures WHERE campaign = ?", [name]):
            if target.conn.execute("SELECT 1 FROM pages WHERE campaign = ? AND url = ?", [name, f["url"]]).fetchone():
                continue  # fetched by another shard: not a failure of the campaign
            cols = [c for c in f if c != "id"]
            cur = target.conn.execute(f"INSERT OR IGNORE INTO failures ({', '.join(cols)}) "
                                      f"VALUES ({', '.join('?' * len(cols))})", [f[c] for c in cols])
            res.failures += cur.rowcount
        for t in _rows(src, "SELECT * FROM tls_probes WHERE campaign = ?", [name]):
            t["warc_file"] = warc_name(t.get("warc_file"))
            cur = target.conn.execute(f"INSERT OR IGNORE INTO tls_probes ({', '.join(TLS_COLS)}) "
                                      f"VALUES ({', '.join('?' * len(TLS_COLS))})", [t.get(c) for c in TLS_COLS])
            res.tls_probes += cur.rowcount
        # a site's status as the shard that crawled it found it: one that finished it wins over one that
        # did not (a worker that died mid-site, its site taken over on a Redis frontier), then more pages
        for s in _rows(src, "SELECT * FROM sites WHERE campaign = ? AND status IS NOT NULL", [name]):
            have = target.conn.execute("SELECT pages, status FROM sites WHERE campaign = ? AND site_id = ?",
                                       [name, s["site_id"]]).fetchone()
            if have is None or have[1] is None or _site_rank(s["status"], s.get("pages")) > _site_rank(*have[::-1]):
                cols = [c for c in s if c not in ("campaign", "site_id")]
                target.conn.execute(f"UPDATE sites SET {', '.join(f'{c} = ?' for c in cols)} "
                                    "WHERE campaign = ? AND site_id = ?", [s[c] for c in cols] + [name, s["site_id"]])
        # pages of a site may come from several shards: its count is what the merged store holds
        target.conn.execute("UPDATE sites SET pages = (SELECT count(*) FROM pages p WHERE p.campaign = sites.campaign "
                            "AND p.site_id = sites.site_id) WHERE campaign = ? AND status IS NOT NULL", [name])


def _site_rank(status: str | None, pages: int | None) -> tuple[bool, int]:
    """Which of two shards' rows of one site to keep: a finished crawl first, then the one with more pages."""
    return (status not in (None, "crawling", "pending"), pages or 0)


def merge(target_path: str | Path, shards: list[str | Path], campaign: str | None = None) -> list[MergeResult]:
    """Fold every shard into the store at ``target_path`` (created if missing)."""
    with Store(target_path) as target:
        return [merge_shard(target, s, campaign) for s in shards]
