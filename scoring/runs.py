"""Runs as immutable snapshots: what a scoring run was made from, kept with it for good.

A run (``runs`` row) keeps, besides its scores (``scores``), everything needed to say later what it
rested on, however the store changes after it:

* ``campaign``, ``as_of`` (the campaign's cut-off), ``created_at`` and ``created_by`` (the OS user,
  or ``WINDVANE_USER``);
* ``rules_version`` (hash of every rules file) and ``rule_versions`` (per rule: the hash of its text);
* ``tree`` (every node with its parent, level, points and groups: the weights) and ``config``;
* ``run_decisions`` (the auditors' decisions it applied) and ``run_sites`` (each site's status);
* ``run_evidence``: every evidence item it counted (stable key, rule, URL, snippet, points), so a
  diff or a report of an old run shows the evidence as it was, after any re-extraction.

SQLite triggers refuse any UPDATE or DELETE of ``runs``, ``scores`` and ``run_evidence`` rows, and
scoring refuses a run name already taken: a stored run never changes when later runs are made.
"""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
from typing import Any

from evidence.store import Store, StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS run_evidence (
  run_id TEXT, eid TEXT, site_id TEXT, leaf_id TEXT, rule_id TEXT, rule_version TEXT, url TEXT,
  snippet TEXT, points REAL, manual INTEGER, status TEXT, PRIMARY KEY (run_id, eid, site_id, leaf_id));
"""
_FROZEN = ("runs", "scores", "run_evidence")
_LATER = [("runs", "as_of", "TEXT"), ("runs", "created_by", "TEXT"), ("runs", "rule_versions", "TEXT"),
          ("runs", "tree", "TEXT")]


class RunExists(StoreError):
    """A run name that is taken: runs are immutable."""


def ensure_run_tables(conn: sqlite3.Connection) -> None:
    """The snapshot columns and table, and the triggers that keep stored runs immutable."""
    conn.executescript(_SCHEMA)
    for table, col, typ in _LATER:
        if col not in {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {col} {typ}")
    for table in _FROZEN:
        for op in ("UPDATE", "DELETE"):
            conn.execute(
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'windvane: stored runs are immutable ({table} {op.lower()} refused)'); END")
    conn.commit()


def who() -> str:
    """Who makes a run: ``WINDVANE_USER``, else the OS user."""
    try:
        return os.environ.get("WINDVANE_USER") or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return f"uid {os.getuid()}"


def check_new_run(store: Store, run_id: str) -> None:
    if store.conn.execute("SELECT 1 FROM runs WHERE run_id = ?", [run_id]).fetchone():
        raise RunExists(f"{store.path}: run {run_id!r} exists and runs are immutable; "
                        "score again under a new --run name (or leave --run out for a dated one)")


def tree_snapshot(tree: Any) -> list[dict]:
    """Every node of the tree in file order: id, parent, level, points (leaves), groups (leaves)."""
    out = []
    for i in tree.order:
        n = tree.nodes[i]
        row = {"id": n.id, "parent": n.parent, "level": n.level, "name_zh": n.name_zh}
        if n.level == "leaf":
            row["points"] = float(n.points)
            row["groups"] = list(n.groups)
        out.append(row)
    return out


def snapshot_fields(store: Store, campaign: str, ruleset: Any) -> dict:
    """The snapshot columns of a new ``runs`` row."""
    camp = store.campaign(campaign, missing_ok=True) or {}
    return {"as_of": camp.get("as_of"), "created_by": who(),
            "rule_versions": json.dumps({r.id: r.version for r in getattr(ruleset, "rules", [])}, sort_keys=True),
            "tree": json.dumps(tree_snapshot(ruleset.tree), ensure_ascii=False)}


def save_run_evidence(store: Store, run_id: str, items: list[dict]) -> None:
    """Keep the evidence items the run counted (``scoring.run.accepted_evidence`` items with their
    site and leaf), as they were."""
    rows = [(run_id, e["id"], e["site_id"], e["leaf_id"], e.get("rule_id"), e.get("rule_version"), e.get("url"),
             e.get("snippet"), e.get("points"), int(bool(e.get("manual"))), e.get("status")) for e in items]
    with store.conn:
        store.conn.executemany("INSERT OR IGNORE INTO run_evidence VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def run_evidence(store: Store, run_id: str) -> list[dict] | None:
    """The evidence a run counted, as it was when scored; None for runs made before snapshots."""
    ensure_run_tables(store.conn)
    rows = list(store.db.query("SELECT * FROM run_evidence WHERE run_id = ? ORDER BY site_id, leaf_id, eid",
                               [run_id]))
    if rows:
        return rows
    run = store.run(run_id)
    return [] if run.get("rule_versions") is not None else None


def list_runs(store: Store, campaign: str | None = None) -> list[dict]:
    """Every run (newest first), with its size: targets, assessed targets, evidence, decisions applied."""
    ensure_run_tables(store.conn)
    sql = ("SELECT r.run_id, r.campaign, r.created_at, r.created_by, r.as_of, r.rules_version, r.notes, "
           "(SELECT count(*) FROM scores s WHERE s.run_id = r.run_id AND s.node_id = 'total') AS targets, "
           "(SELECT count(*) FROM scores s WHERE s.run_id = r.run_id AND s.node_id = 'total' "
           " AND s.points IS NOT NULL) AS assessed, "
           "(SELECT count(*) FROM run_evidence e WHERE e.run_id = r.run_id) AS evidence FROM runs r")
    args: list = []
    if campaign:
        sql += " WHERE r.campaign = ?"
        args.append(campaign)
    rows = list(store.db.query(sql + " ORDER BY r.created_at DESC, r.rowid DESC", args))
    have = {r[1] for r in store.conn.execute("PRAGMA table_info(run_decisions)")}
    for r in rows:
        r["decisions"] = (store.conn.execute("SELECT count(*) FROM run_decisions WHERE run_id = ?",
                                             [r["run_id"]]).fetchone()[0] if "run_id" in have else 0)
    return rows


def describe_run(store: Store, run_id: str) -> dict:
    """One run in full: its snapshot, the decisions it applied, and per group the mean score and leader."""
    from scoring.run import load_results, run_decisions

    ensure_run_tables(store.conn)
    run = store.run(run_id)
    out: dict[str, Any] = {k: run.get(k) for k in ("run_id", "campaign", "created_at", "created_by", "as_of",
                                                   "rules_version", "notes")}
    versions = json.loads(run.get("rule_versions") or "null")
    tree = json.loads(run.get("tree") or "null")
    out["rules"] = len(versions) if versions is not None else None
    out["rule_versions"] = versions
    if tree is not None:
        levels: dict[str, int] = {}
        for n in tree:
            levels[n["level"]] = levels.get(n["level"], 0) + 1
        out["tree"] = levels
        out["weights"] = {n["id"]: n["points"] for n in tree if n["level"] == "leaf"}
    out["config"] = {k: v for k, v in json.loads(run.get("config") or "{}").items() if k != "formulas"}
    out["decisions"] = run_decisions(store, run_id)
    ev = run_evidence(store, run_id)
    out["evidence"] = None if ev is None else len(ev)
    df = load_results(store, run_id)
    groups = {}
    for g, part in df.groupby("group", sort=False):
        ok = part[part["assessed"]]
        best = ok.sort_values("score_100", ascending=False).head(1)
        groups[g] = {"targets": len(part), "assessed": len(ok),
                     "mean_score_100": None if ok.empty else round(float(ok["score_100"].mean()), 2),
                     "first": None if best.empty else f"{best.iloc[0]['name_zh']} {best.iloc[0]['score_100']:.2f}"}
    out["groups"] = groups
    return out


def format_runs(rows: list[dict]) -> str:
    if not rows:
        return "no runs in this store (run `windvane score` first)"
    head = f"{'run':<34} {'campaign':<14} {'created (UTC)':<20} {'by':<10} {'as of':<10} " \
           f"{'targets':>7} {'assessed':>8} {'evidence':>8} {'decisions':>9}"
    lines = [head]
    for r in rows:
        lines.append(f"{r['run_id']:<34} {r['campaign'] or '':<14} {(r['created_at'] or '')[:19]:<20} "
                     f"{(r['created_by'] or '–'):<10} {(r['as_of'] or '–'):<10} {r['targets']:>7} "
                     f"{r['assessed']:>8} {r['evidence']:>8} {r['decisions']:>9}")
    return "\n".join(lines)


def format_run(d: dict) -> str:
    lines = [f"run {d['run_id']}",
             f"  campaign {d['campaign']}, as of {d['as_of'] or 'not recorded'}",
             f"  created {d['created_at']} by {d['created_by'] or 'not recorded'}",
             f"  rules version {d['rules_version']}; "
             + (f"{d['rules']} rules with their hashes kept" if d["rules"] is not None
                else "per-rule hashes not recorded (run made before snapshots)")]
    if d.get("tree"):
        lines.append("  tree " + ", ".join(f"{v} {k}" for k, v in d["tree"].items())
                     + f"; leaf points (weights) total {sum(d['weights'].values()):g}")
    cfg = d["config"]
    lines.append("  scoring config " + ", ".join(f"{k}={cfg[k]}" for k in ("score_column", "rank_method",
                                                                           "tier_method", "progress_method")
                                                 if k in cfg))
    lines.append(f"  decisions applied {len(d['decisions'])}"
                 + (": " + ", ".join(f"#{x['decision_id']} {x['decision']}" for x in d["decisions"][:10])
                    if d["decisions"] else ""))
    lines.append(f"  evidence counted {d['evidence'] if d['evidence'] is not None else 'not recorded'}")
    for g, s in d["groups"].items():
        lines.append(f"  {g}: {s['assessed']}/{s['targets']} assessed, mean score {s['mean_score_100']}, "
                     f"first {s['first']}")
    if d.get("notes"):
        lines.append(f"  notes {d['notes']}")
    return "\n".join(lines)
