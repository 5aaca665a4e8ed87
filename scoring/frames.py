"""A scored run as pandas DataFrames, for notebooks (docs/notebook.md).

>>> from scoring.frames import load_run
>>> f = load_run("data/demo/windvane-demo.db")          # the latest run
>>> f.targets.sort_values("score_100", ascending=False).groupby("group").head(10)

``load_run`` opens the store read-only (SQLite ``mode=ro``): it never migrates or writes the store, so
it is safe beside a running crawl, extraction or audit server.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import sqlite_utils

from evidence.store import Store, StoreError
from scoring.run import leaf_frame, load_results

DEFAULT_RULES = Path(__file__).resolve().parent.parent / "rules"

LEAF_COLUMNS = ["target_id", "group", "name_zh", "site_id", "leaf_id", "leaf_name_zh", "sub_id", "index_id",
                "index_name_zh", "points", "max_points", "rate", "evidence_count", "evidence_ids",
                "machine_points", "audited"]
EVIDENCE_COLUMNS = ["target_id", "group", "name_zh", "site_id", "leaf_id", "eid", "rule_id", "url", "snippet",
                    "points", "manual", "audit_status"]


@dataclass
class RunFrames:
    """One scored run as DataFrames.

    * ``targets``: one row per target of the run (``scoring.run.load_results``: total, score_100, rank,
      site status, per index ``<id>_points/_max/_rate/_rank``), registry order;
    * ``leaves``: one row per (target, applicable leaf) (``scoring.run.leaf_frame``) with the target's
      group, name and site and the leaf's name, second-level indicator and index;
    * ``evidence``: one row per (target, leaf, evidence item) the run counted, ``eid`` being the stable
      evidence key of the leaf's ``evidence_ids``; ``audit_status`` is ``confirmed``, ``unreviewed``,
      ``rejected`` or ``added`` (by hand) in the campaign's decision ledger now, or as the run kept it;
    * ``run``: the ``runs`` row (``config`` is JSON text: ``scoring.run.run_config(run)`` parses it).

    ``evidence_source`` says where the evidence details came from: ``run_evidence`` (the snapshot kept
    with the run) or ``evidence`` (the campaign's current evidence table, for runs without a snapshot).
    """

    run: dict
    targets: pd.DataFrame
    leaves: pd.DataFrame
    evidence: pd.DataFrame
    evidence_source: str = "evidence"
    notes: list[str] = field(default_factory=list)


class _ReadOnlyStore(Store):
    """A Store on a read-only SQLite connection: no schema creation, no migration, no WAL switch."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise StoreError(f"{self.path}: no store here")
        try:
            self.conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
            self.conn.execute("SELECT count(*) FROM runs").fetchone()
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path}: not a usable windvane store ({e})") from None
        self.db = sqlite_utils.Database(self.conn)


def _tree_rows(rules: Any, run: dict) -> tuple[list[dict], Any]:
    """The indicator tree as rows (id, parent, level, name_zh) and the Tree object if there is one:
    ``rules`` (a RuleSet, a Tree or a rules folder), else the tree kept with the run, else ``rules/``."""
    tree = None
    if rules is None and run.get("tree"):
        return json.loads(run["tree"]), None
    if rules is None or isinstance(rules, str | Path):
        from extractors.rules import load_rules

        tree = load_rules(Path(rules) if rules is not None else DEFAULT_RULES).tree
    else:
        tree = getattr(rules, "tree", rules)
    rows = [{"id": n.id, "parent": n.parent, "level": n.level, "name_zh": n.name_zh}
            for n in (tree.nodes[i] for i in tree.order)]
    return rows, tree


def _leaf_info(tree_rows: list[dict]) -> pd.DataFrame:
    """Per leaf: its name, second-level indicator and index (with the index's name)."""
    by_id = {r["id"]: r for r in tree_rows}
    out = []
    for r in tree_rows:
        if r["level"] != "leaf":
            continue
        top = r
        while top.get("parent") in by_id:
            top = by_id[top["parent"]]
        out.append({"leaf_id": r["id"], "leaf_name_zh": r["name_zh"], "sub_id": r.get("parent"),
                    "index_id": top["id"], "index_name_zh": top["name_zh"]})
    return pd.DataFrame(out, columns=["leaf_id", "leaf_name_zh", "sub_id", "index_id", "index_name_zh"])


def _table_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [name]).fetchone() is not None


def _ledger_status(store: Store, campaign: str) -> dict[str, dict] | None:
    """Per evidence key, its state in the decision ledger now (None when it cannot be read read-only)."""
    from audit.ledger import load_ledger

    try:
        items = load_ledger(store, campaign).items
    except sqlite3.OperationalError:  # evidence rows without keys: the ledger would have to write them
        return None
    return {k: {"audit_status": "added" if i.manual else i.status, "manual": i.manual, "rule_id": i.rule_id,
                "url": i.url, "snippet": i.snippet, "points": i.points, "site_id": i.site_id, "leaf_id": i.leaf_id}
            for k, i in items.items()}


def _evidence_details(store: Store, run: dict, keys: set[str],
                      ledger: dict[str, dict] | None) -> tuple[pd.DataFrame, str]:
    """Details of the run's evidence keys: from the run's snapshot (``run_evidence``) when it has rows,
    else from the campaign's evidence table (and the ledger, for evidence added by hand)."""
    cols = ["site_id", "leaf_id", "eid", "rule_id", "url", "snippet", "points", "manual", "audit_status"]
    conn = store.conn
    if _table_exists(conn, "run_evidence"):
        have = {r[1] for r in conn.execute("PRAGMA table_info(run_evidence)")}
        pick = [c for c in ("site_id", "leaf_id", "eid", "rule_id", "url", "snippet", "points", "manual", "status")
                if c in have]
        rows = conn.execute(f"SELECT {', '.join(pick)} FROM run_evidence WHERE run_id = ?", [run["run_id"]]).fetchall()
        if rows:
            df = pd.DataFrame(rows, columns=pick).rename(columns={"status": "audit_status"})
            if "manual" in df:
                df["manual"] = df["manual"].astype(bool)
            return df.reindex(columns=cols), "run_evidence"
    rows = conn.execute("SELECT site_id, leaf_id, eid, rule_id, url, snippet, points, id FROM evidence "
                        "WHERE campaign = ?", [run["campaign"]]).fetchall()
    # a run scored before stable keys names evidence rows by their id: such a row is matched by its id
    picked = [(*r[:7], r[2]) for r in rows if r[2] in keys]
    picked += [(*r[:2], str(r[7]), *r[3:7], r[2]) for r in rows if str(r[7]) in keys and r[2] not in keys]
    df = pd.DataFrame(picked, columns=["site_id", "leaf_id", "eid", "rule_id", "url", "snippet", "points", "key_now"])
    df["manual"] = False
    missing = keys - set(df["eid"])  # evidence added by hand lives in the decisions, not the evidence table
    extra = [{"eid": k, **{c: v for c, v in ledger[k].items() if c != "audit_status"}}
             for k in sorted(missing) if ledger and k in ledger]
    if extra:
        df = pd.concat([df, pd.DataFrame(extra)], ignore_index=True)
    return df.reindex(columns=[*cols, "key_now"]), "evidence"


def load_run(store_path: str | Path, run_id: str | None = None, campaign: str | None = None,
             rules: Any = None, *, audit: bool = True) -> RunFrames:
    """Load one scored run of a store as DataFrames (see ``RunFrames``), opening the store read-only.

    ``run_id=None``: the latest run of ``campaign``, or the latest run of the store. ``rules``: a rules
    folder, a ``RuleSet`` or a ``Tree`` for the leaf names and index order; by default the tree kept
    with the run, else the project's ``rules/``. ``audit=False`` skips reading the decision ledger
    (``audit_status`` then comes from the run's snapshot, or stays empty).
    Raises ``evidence.store.StoreError`` for a missing store or run.
    """
    store = _ReadOnlyStore(store_path)
    try:
        run = store.run(run_id, campaign)
        tree_rows, tree = _tree_rows(rules, run)
        targets = load_results(store, run["run_id"], tree)
        info = targets[["target_id", "group", "name_zh", "site_id"]] if len(targets) else \
            pd.DataFrame(columns=["target_id", "group", "name_zh", "site_id"])
        leaves = leaf_frame(store, run["run_id"]).merge(info, on="target_id", how="left") \
            .merge(_leaf_info(tree_rows), on="leaf_id", how="left").reindex(columns=LEAF_COLUMNS)
        used = leaves[["target_id", "group", "name_zh", "site_id", "leaf_id", "evidence_ids"]] \
            .explode("evidence_ids").dropna(subset=["evidence_ids"]).rename(columns={"evidence_ids": "eid"})
        used["eid"] = used["eid"].astype(str)
        ledger = _ledger_status(store, run["campaign"]) if audit else None
        details, source = _evidence_details(store, run, set(used["eid"]), ledger)
        evidence = used.merge(details, on=["site_id", "leaf_id", "eid"], how="left")
        notes = []
        if ledger is not None:
            keys_now = evidence["key_now"].fillna(evidence["eid"]) if "key_now" in evidence else evidence["eid"]
            now = keys_now.map(lambda k: (ledger.get(k) or {}).get("audit_status"))
            evidence["audit_status"] = now.fillna(evidence["audit_status"])
        elif audit:
            notes.append("the decision ledger could not be read without writing (evidence rows without keys): "
                         "audit_status is the run's own, where it kept one")
        evidence = evidence.reindex(columns=EVIDENCE_COLUMNS).reset_index(drop=True)
        return RunFrames(run=run, targets=targets, leaves=leaves, evidence=evidence, evidence_source=source,
                         notes=notes)
    finally:
        store.close()
