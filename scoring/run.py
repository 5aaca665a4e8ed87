"""Scoring runs: evidence + auditors' decisions + the indicator tree -> stored scores.

``score(store, campaign, ruleset)`` computes, for every target of the campaign, the points of
every applicable leaf, second-level indicator (sub), first-level index and the total, with
max points, score rate (得分率) and competition rank within the target's group, and saves
them as one named run (tables ``runs`` and ``scores``). ``load_results`` reads a run back as
a pandas DataFrame with one row per target (the input of ``scoring.stats``).

Arithmetic (also in docs/scoring.md):

* evidence of a site counts for every target of that site;
* decisions (audit/ledger.py) are append-only and refer to the stable evidence key; the latest
  not-undone review decision per key wins ('reject' drops the evidence, 'confirm' keeps it); an
  'add' adds manual evidence for (site, leaf) worth the leaf's points; an 'override' sets a
  target's leaf points (capped at the leaf's points); QC decisions and orphaned decisions (their
  evidence is no longer found) change nothing. Each leaf row keeps ``machine_points`` (the points
  without any decision) and the run keeps the decisions it applied (``run_decisions``);
* leaf points = min(leaf.points, max over the leaf's evidence of evidence.points, None
  counting as leaf.points), only for leaves that apply to the target's group;
* a node's points and max points are sums over its applicable leaves;
  rate = points / max_points (None when max is 0); score_100 = rate × 100;
* a target whose site is ``blocked``, ``unreachable`` or was not crawled (``sites.status``, see
  ``evidence.coverage``) is not assessed: every points, rate and rank of it is None (max points
  are kept), it takes no rank and enters no statistic; ``partial`` sites are scored and flagged.
  The site's status, reason, coverage and not-evaluated site rules are kept per run (``run_sites``).
"""

from __future__ import annotations

import copy
import json
import math
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from audit.ledger import Ledger, load_ledger
from evidence.coverage import not_evaluated, site_facts
from evidence.store import Store

TOTAL = "total"
LEVELS = ("leaf", "sub", "index", "total")
MUNICIPALITIES = ["310000", "110000", "120000", "500000"]  # 上海, 北京, 天津, 重庆

DEFAULT_CONFIG: dict[str, Any] = {
    "leaf_points": "min(leaf points, max over the leaf's accepted evidence of evidence points; "
                   "evidence without points counts as the leaf's points)",
    "decisions": "latest not-undone review decision per stable evidence key wins: reject removes, confirm "
                 "keeps; 'add' adds manual evidence worth the leaf's points; 'override' sets a target's leaf "
                 "points (capped at the leaf's points); QC and orphaned decisions change nothing",
    "weights": "points as written in rules/; a node's weight is its share of the group's max points",
    "max_points": "per group: sum of the points of the leaves that apply to the group",
    "normalisation": "score_100 = points / max_points * 100 (the 100-point scale of the published "
                     "report); total points are kept raw",
    "score_column": "score_100",
    "rank_method": "competition ('1224'): points descending within the group",
    "tier_method": "equal_interval",
    "tier_count": 5,
    "mean_rate_method": "mean_of_ratios",
    "correlation_method": "spearman",
    "correlation_x": "gdp_rank",
    "correlation_y": "rank",
    "sd_ddof": 1,
    "dispersion_threshold": 5.0,
    "progress_method": "relative_change",
    "previous_run": None,
    "leaders_n": 3,
    # rank uncertainty (scoring/uncertainty.py): Monte Carlo over weights, aggregation and one dropped index
    "uncertainty": {"draws": 1000, "seed": 2023, "weight_spread": 0.25, "aggregations": ["arithmetic", "geometric"],
                    "drop_index": True, "geometric_epsilon": 0.001},
    "exclusions": {
        "gdp100": {"admin_codes": MUNICIPALITIES, "statistics": ["mean_sd", "zscore", "progress"]},
    },
}


def _merge(base: dict, over: dict | None) -> dict:
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def make_config(overrides: dict | None = None) -> dict:
    """The default scoring config with ``overrides`` merged in (dicts merge key by key)."""
    from scoring import stats  # local import: stats is pure and knows the method formulas

    cfg = _merge(DEFAULT_CONFIG, overrides)
    stats.check_config(cfg)
    cfg["formulas"] = stats.method_formulas(cfg)
    return cfg


def campaign_scoring_config(store: Store, campaign: str) -> dict:
    """Overrides kept with the campaign: the ``scoring`` key of the campaign's config JSON."""
    row = store.campaign(campaign, missing_ok=True) or {}
    try:
        value = json.loads(row.get("config") or "{}").get("scoring")
    except (json.JSONDecodeError, AttributeError):
        return {}
    return value if isinstance(value, dict) else {}


def _now() -> datetime:
    return datetime.now(UTC)


def _unique_run_id(store: Store, campaign: str) -> str:
    base = f"{campaign}-{_now():%Y%m%d-%H%M%S}"
    taken = {r["run_id"] for r in store.db.query(
        "select run_id from runs where run_id = ? or run_id like ?", [base, base + "-%"])}
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def accepted_evidence(store: Store, campaign: str) -> tuple[dict[tuple[str, str], list[dict]], dict, Ledger]:
    """Evidence after auditors' decisions, keyed by (site_id, leaf_id), counts for the notes, and the
    ledger it came from (audit/ledger.py: stable keys, append-only decisions, overrides).

    Each item is ``{"id", "points", "url", "snippet", "manual"}``; ``id`` is the stable evidence key
    (``ev_…``; manual evidence added by hand: ``man_<decision id>``). Rejected evidence is left out.
    """
    led = load_ledger(store, campaign, light=True)
    by_leaf: dict[tuple[str, str], list[dict]] = defaultdict(list)
    counts = {"evidence": 0, "rejected": 0, "confirmed": 0, "added": 0, "overrides": len(led.overrides),
              "orphaned": len(led.orphans)}
    for item in sorted(led.items.values(), key=lambda i: (i.manual, i.row_id or 0, i.id)):
        counts["added" if item.manual else "evidence"] += 1
        if item.status == "rejected":
            counts["rejected"] += 1
            continue
        if item.status == "confirmed":
            counts["confirmed"] += 1
        by_leaf[(item.site_id, item.leaf_id)].append(
            {"id": item.id, "points": item.points, "url": item.url, "snippet": item.snippet, "manual": item.manual,
             "rule_id": item.rule_id, "rule_version": item.rule_version, "status": item.status})
    return by_leaf, counts, led


def _leaf_points(leaf: Any, items: list[dict]) -> float:
    if not items:
        return 0.0
    best = max(leaf.points if e["points"] is None else float(e["points"]) for e in items)
    return max(0.0, min(float(leaf.points), best))


def targets_of(store: Store, campaign: str) -> list[dict]:
    """The campaign's targets in registry order."""
    return list(store.db.query("select * from targets where campaign = ? order by rowid", [campaign]))


def competition_ranks(values: dict[str, float]) -> dict[str, int]:
    """Competition ranking ('1224') by value descending; values are compared rounded to 9 places."""
    keyed = {k: round(v, 9) for k, v in values.items()}
    ordered = sorted(keyed.values(), reverse=True)
    first: dict[float, int] = {}
    for i, v in enumerate(ordered, start=1):
        first.setdefault(v, i)
    return {k: first[v] for k, v in keyed.items()}


def score(store: Store, campaign: str, ruleset: Any, run_id: str | None = None,
          config: dict | None = None, notes: str | None = None) -> str:
    """Score every target of ``campaign`` with ``ruleset.tree`` and save the run; return its id.

    The statistics' methods come from ``DEFAULT_CONFIG``, overridden by the ``scoring`` key of the
    campaign's config JSON, then by ``config``; the merged config is saved with the run.
    """
    from scoring.runs import check_new_run, ensure_run_tables, save_run_evidence, snapshot_fields

    ensure_run_tables(store.conn)
    if run_id:
        check_new_run(store, run_id)
    tree = ruleset.tree
    cfg = make_config(_merge(campaign_scoring_config(store, campaign), config))
    targets = targets_of(store, campaign)
    facts = site_facts(store.conn, campaign)
    gaps = not_evaluated(store.conn, campaign)
    evidence, counts, ledger = accepted_evidence(store, campaign)
    machine = machine_evidence(ledger)
    leaves = tree.leaves
    leaf_ids = {leaf.id for leaf in leaves}
    unknown = sorted({leaf for (_, leaf) in evidence if leaf not in leaf_ids})
    inner = [tree.nodes[i] for i in tree.order if tree.nodes[i].level != "leaf"]
    under = {n.id: [leaf.id for leaf in tree.leaves_under(n.id)] for n in inner}

    rows: list[dict] = []
    by_group: dict[str, list[str]] = defaultdict(list)
    assessed: dict[str, bool] = {}
    for t in targets:
        group, tid = t["grp"], t["target_id"]
        by_group[group].append(tid)
        ok = assessed[tid] = bool(facts.get(t["site_id"], {}).get("assessed"))
        pts: dict[str, float] = {}
        ev_ids: dict[str, list] = {}
        for leaf in leaves:
            if not leaf.applies_to(group):
                continue
            items = evidence.get((t["site_id"], leaf.id), [])
            p = _leaf_points(leaf, items)
            mp = _leaf_points(leaf, machine.get((t["site_id"], leaf.id), []))
            override = ledger.overrides.get((tid, leaf.id))
            if override is not None:  # an auditor's override of the leaf's points, capped at the leaf's points
                p = max(0.0, min(float(leaf.points), float(override["points"])))
            pts[leaf.id] = p
            ev_ids[leaf.id] = [e["id"] for e in items]
            rows.append({"run_id": None, "target_id": tid, "node_id": leaf.id, "level": "leaf",
                         "points": p if ok else None, "max_points": float(leaf.points),
                         "rate": (p / leaf.points if leaf.points else None) if ok else None, "rank": None,
                         "evidence_ids": json.dumps(ev_ids[leaf.id]), "machine_points": mp if ok else None})
        for n in [*inner, None]:
            ids = [i for i in (under[n.id] if n else leaf_ids) if i in pts]
            p = sum(pts[i] for i in ids)
            mx = sum(float(tree.nodes[i].points) for i in ids)
            evs = [e for i in ids for e in ev_ids[i]]
            rows.append({"run_id": None, "target_id": tid, "node_id": n.id if n else TOTAL,
                         "level": n.level if n else TOTAL, "points": p if ok else None, "max_points": mx,
                         "rate": (p / mx if mx else None) if ok else None, "rank": None,
                         "evidence_ids": json.dumps(evs), "machine_points": None})
    # ranks within group for every non-leaf node, among the assessed targets only
    group_of = {t["target_id"]: t["grp"] for t in targets}
    cells: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    for r in rows:
        if r["level"] != "leaf" and assessed[r["target_id"]]:
            cells[(group_of[r["target_id"]], r["node_id"])][r["target_id"]] = r
    for cell in cells.values():
        ranks = competition_ranks({tid: r["points"] for tid, r in cell.items()})
        for tid, r in cell.items():
            r["rank"] = ranks[tid]

    run_id = run_id or _unique_run_id(store, campaign)
    for r in rows:
        r["run_id"] = run_id
        if r["rate"] is not None and math.isnan(r["rate"]):
            r["rate"] = None
    note_parts = [f"{len(targets)} targets, {len(leaves)} leaves; evidence {counts['evidence']} rows, "
                  f"{counts['rejected']} rejected, {counts['confirmed']} confirmed, "
                  f"{counts['added']} added by hand, {counts['overrides']} leaf override(s)"]
    if counts["orphaned"]:
        note_parts.append(f"{counts['orphaned']} decision(s) orphaned: their evidence is no longer found")
    status_of = {t["target_id"]: facts.get(t["site_id"], {}).get("status", "not crawled") for t in targets}
    missing = [tid for tid, ok in assessed.items() if not ok]
    if missing:
        by_status: dict[str, int] = defaultdict(int)
        for tid in missing:
            by_status[status_of[tid]] += 1
        note_parts.append(f"{len(missing)} target(s) not assessed ("
                          + ", ".join(f"{k} {v}" for k, v in sorted(by_status.items())) + ")")
    partial = sum(1 for s in status_of.values() if s == "partial")
    if partial:
        note_parts.append(f"{partial} target(s) scored from a partial crawl")
    if unknown:
        note_parts.append(f"evidence for leaves not in the tree ignored: {', '.join(unknown)}")
    if notes:
        note_parts.append(notes)
    run = {"run_id": run_id, "campaign": campaign,
           "created_at": _now().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
           "rules_version": str(getattr(ruleset, "version", "") or ""),
           "config": json.dumps(cfg, ensure_ascii=False), "notes": "; ".join(note_parts),
           **snapshot_fields(store, campaign, ruleset)}
    store.save_run(run, rows)
    save_run_decisions(store, run_id, ledger)
    sites_used = {t["site_id"] for t in targets}
    save_run_evidence(store, run_id, [
        {**e, "site_id": sid, "leaf_id": leaf} for (sid, leaf), items in evidence.items()
        if sid in sites_used and leaf in leaf_ids for e in items])
    sites = {t["site_id"] for t in targets}
    save_run_sites(store, run_id, [
        {**(facts.get(sid) or {"site_id": sid, "status": "not crawled", "reason": "not crawled", "assessed": False,
                               "coverage": {}}), "site_id": sid, "not_evaluated": gaps.get(sid, {})}
        for sid in sorted(sites)])
    return run_id


def machine_evidence(ledger: Ledger) -> dict[tuple[str, str], list[dict]]:
    """What the machine alone found (no decision applied), keyed like ``accepted_evidence``."""
    out: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for item in ledger.items.values():
        if not item.manual:
            out[(item.site_id, item.leaf_id)].append({"points": item.points})
    return out


_RUN_DECISIONS = """
CREATE TABLE IF NOT EXISTS run_decisions (
  run_id TEXT, decision_id INTEGER, decision TEXT, evidence_key TEXT, target_id TEXT, site_id TEXT,
  leaf_id TEXT, PRIMARY KEY (run_id, decision_id))
"""


def save_run_decisions(store: Store, run_id: str, ledger: Ledger) -> None:
    """Keep, with the run, which decisions it applied (effective verdicts on current evidence,
    additions, overrides); orphaned, undone and QC decisions are not applied."""
    used = ledger.used_decisions()
    with store.conn:
        store.conn.execute(_RUN_DECISIONS)
        store.conn.execute("DELETE FROM run_decisions WHERE run_id = ?", [run_id])
        store.conn.executemany(
            "INSERT OR IGNORE INTO run_decisions VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(run_id, d["id"], d["decision"], d.get("evidence_key"), d.get("target_id"), d.get("site_id"),
              d.get("leaf_id")) for d in used])


def run_decisions(store: Store, run_id: str) -> list[dict]:
    """The decisions a run applied (``[]`` for runs saved before ``run_decisions`` existed)."""
    have = {r[1] for r in store.conn.execute("PRAGMA table_info(run_decisions)")}
    if "run_id" not in have:
        return []
    return list(store.db.query("select * from run_decisions where run_id = ? order by decision_id", [run_id]))


_RUN_SITES = """
CREATE TABLE IF NOT EXISTS run_sites (
  run_id TEXT, site_id TEXT, status TEXT, reason TEXT, assessed INTEGER, coverage TEXT,
  not_evaluated TEXT, PRIMARY KEY (run_id, site_id))
"""


def save_run_sites(store: Store, run_id: str, sites: list[dict]) -> None:
    """Keep, with the run, each site's status, reason, coverage and not-evaluated site rules as scored."""
    with store.conn:
        store.conn.execute(_RUN_SITES)
        store.conn.execute("DELETE FROM run_sites WHERE run_id = ?", [run_id])
        store.conn.executemany(
            "INSERT INTO run_sites VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(run_id, s["site_id"], s.get("status"), s.get("reason"), int(bool(s.get("assessed"))),
              json.dumps(s.get("coverage") or {}, ensure_ascii=False),
              json.dumps(s.get("not_evaluated") or {}, ensure_ascii=False)) for s in sites])


def run_sites(store: Store, run_id: str) -> dict[str, dict]:
    """Per site, as the run scored it: status, reason, assessed, coverage, not_evaluated ({leaf: reason}).

    Runs saved before ``run_sites`` existed have none: ``{}``.
    """
    have = {r[1] for r in store.conn.execute("PRAGMA table_info(run_sites)")}
    if "run_id" not in have:
        return {}
    out = {}
    for sid, status, reason, ok, cov, gaps in store.conn.execute(
            "select site_id, status, reason, assessed, coverage, not_evaluated from run_sites where run_id = ?",
            [run_id]):
        out[sid] = {"site_id": sid, "status": status, "reason": reason, "assessed": bool(ok),
                    "coverage": json.loads(cov or "{}"), "not_evaluated": json.loads(gaps or "{}")}
    return out


def run_config(run: dict) -> dict:
    """The config a run was made with (defaults filled in for keys it lacks)."""
    try:
        saved = json.loads(run.get("config") or "{}")
    except json.JSONDecodeError:
        saved = {}
    saved.pop("formulas", None)
    return make_config(saved)


def load_results(store: Store, run_id: str, tree: Any = None) -> pd.DataFrame:
    """One row per target of the run: registry facts, total, and per-index points/rates/ranks.

    Columns: target_id, group, name_zh, site_id, admin_code, province, gdp, gdp_rank,
    total_points, max_points, score_rate, score_100, rank, pages (stored pages of the site in
    the campaign), site_status (done, partial, blocked, unreachable or not crawled, as scored),
    site_reason, assessed (False: not assessed, every score empty), partial, and for every
    first-level index ``<id>_points``, ``<id>_max``, ``<id>_rate``, ``<id>_rank``. Rows keep
    registry order. ``df.attrs["sites"]`` holds the run's per-site facts (``run_sites``).
    """
    run = store.run(run_id)
    targets = targets_of(store, run["campaign"])
    scores = store.scores(run_id)
    by_target: dict[str, dict[str, dict]] = defaultdict(dict)
    index_ids: list[str] = []
    for s in scores:
        by_target[s["target_id"]][s["node_id"]] = s
        if s["level"] == "index" and s["node_id"] not in index_ids:
            index_ids.append(s["node_id"])
    if tree is not None:
        index_ids = [n.id for n in tree.indices if n.id in index_ids] + \
            [i for i in index_ids if i not in tree.nodes]
    pages = {r["site_id"]: r["n"] for r in store.db.query(
        "select site_id, count(*) as n from pages where campaign = ? group by site_id", [run["campaign"]])}
    sites = run_sites(store, run_id)
    if not sites:  # a run saved before run_sites: the sites as they are now
        sites = site_facts(store.conn, run["campaign"])
        for f in sites.values():
            f["not_evaluated"] = {}
    out = []
    for t in targets:
        cells = by_target.get(t["target_id"])
        if not cells or TOTAL not in cells:
            continue
        tot = cells[TOTAL]
        site = sites.get(t["site_id"]) or {"status": "not crawled", "reason": "not crawled"}
        row = {"target_id": t["target_id"], "group": t["grp"], "name_zh": t["name_zh"],
               "site_id": t["site_id"], "admin_code": t["admin_code"], "province": t.get("province"),
               "gdp": t.get("gdp"), "gdp_rank": t.get("gdp_rank"),
               "total_points": tot["points"], "max_points": tot["max_points"],
               "score_rate": tot["rate"],
               "score_100": None if tot["rate"] is None else tot["rate"] * 100, "rank": tot["rank"],
               "pages": pages.get(t["site_id"], 0), "site_status": site.get("status"),
               "site_reason": site.get("reason"), "assessed": tot["points"] is not None,
               "partial": site.get("status") == "partial"}
        for i in index_ids:
            c = cells.get(i, {})
            row[f"{i}_points"] = c.get("points")
            row[f"{i}_max"] = c.get("max_points")
            row[f"{i}_rate"] = c.get("rate")
            row[f"{i}_rank"] = c.get("rank")
        out.append(row)
    df = pd.DataFrame(out)
    df.attrs["index_ids"] = index_ids
    df.attrs["run"] = run
    df.attrs["sites"] = sites
    for col in ("total_points", "max_points", "score_rate", "score_100", "gdp", "gdp_rank"):
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    for col in ["rank", *(f"{i}_rank" for i in index_ids)]:  # not-assessed targets have no rank
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    for col in [*(f"{i}_points" for i in index_ids), *(f"{i}_rate" for i in index_ids)]:
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


def leaf_frame(store: Store, run_id: str) -> pd.DataFrame:
    """One row per (target, applicable leaf) of the run: points, max, rate, evidence ids, the machine's
    own points and whether an auditor's decisions changed them (``audited``)."""
    rows = list(store.db.query(
        "select target_id, node_id as leaf_id, points, max_points, rate, evidence_ids, machine_points "
        "from scores where run_id = ? and level = 'leaf'", [run_id]))
    df = pd.DataFrame(rows, columns=["target_id", "leaf_id", "points", "max_points", "rate", "evidence_ids",
                                     "machine_points"])
    df["audited"] = [bool(m == m and p == p and m is not None and p is not None and abs(p - m) > 1e-9)
                     for p, m in zip(df["points"], df["machine_points"], strict=True)]
    df["evidence_ids"] = df["evidence_ids"].map(lambda s: json.loads(s) if s else [])
    df["evidence_count"] = df["evidence_ids"].map(len)
    return df
