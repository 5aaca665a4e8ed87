"""Compare two scoring runs: what moved, and the evidence and edits that moved it.

``run_diff(store, run_a, run_b)`` builds the comparison once (a :class:`RunDiff`); it is then
written as text (``diff_runs``, what ``windvane diff`` prints), as CSV (``write_diff_csv``: one
row per changed target, leaf and evidence item, and one per rule, weight or config edit) and as a
section of the HTML report (``scoring/templates/_diff.html.j2``).

What it holds:

* the edits between the runs, read from their snapshots (``scoring.runs``): rules added, removed or
  changed (per-rule hashes), leaves whose points (weights), groups or parent changed, config keys;
* per target whose total, first-level index scores, rank or tier changed, sorted by the size of the
  change of its total (score_100) and then of its rank: the totals, ranks and tiers before and
  after, the indices that changed, and each changed leaf with its points and the evidence added or
  removed (stable key, rule id, URL, snippet; read from the runs' evidence snapshots, so an old
  run's evidence shows as it was). A target whose rank moved while its own points did not is
  marked as moved by others. A target assessed in one run and not in the other (its site blocked,
  unreachable or not crawled) is reported with the site's status and reason.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from evidence.store import Store
from scoring.run import TOTAL, run_config, run_sites, targets_of


def fmt_points(v: float | None) -> str:
    return "–" if v is None else f"{v:g}"


def _cells(store: Store, run_id: str) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = defaultdict(dict)
    for s in store.scores(run_id):
        s["evidence"] = json.loads(s["evidence_ids"] or "[]")
        out[s["target_id"]][s["node_id"]] = s
    return out


def _evidence(store: Store, run: dict) -> dict[str, dict]:
    """Evidence items of a run by key: its snapshot, else the store's evidence as it is now."""
    from scoring.runs import run_evidence

    snap = run_evidence(store, run["run_id"])
    if snap:
        return {e["eid"]: e for e in snap}
    rows = store.db.query("select eid, id, rule_id, url, snippet, points from evidence where campaign = ?",
                          [run["campaign"]])
    out = {}
    for r in rows:
        out[r["eid"] or str(r["id"])] = r
        out[str(r["id"])] = r
    return out


def _tiers(store: Store, run_id: str) -> dict[str, int | None]:
    from scoring import stats
    from scoring.run import load_results

    df = load_results(store, run_id)
    if df.empty:
        return {}
    cfg = run_config(store.run(run_id))
    t = stats.tiers(df, cfg["tier_method"], int(cfg["tier_count"]), cfg["score_column"])
    return {tid: (None if pd.isna(v) else int(v)) for tid, v in zip(df["target_id"], t, strict=True)}


@dataclass
class LeafChange:
    leaf_id: str
    points_a: float | None
    points_b: float | None
    note: str = ""
    added: list[dict] = field(default_factory=list)  # {"key", "rule_id", "url", "snippet"}
    removed: list[dict] = field(default_factory=list)


@dataclass
class TargetChange:
    target_id: str
    name_zh: str
    group: str
    total_a: float | None
    total_b: float | None
    max_a: float | None
    max_b: float | None
    score_a: float | None  # score_100
    score_b: float | None
    rank_a: int | None
    rank_b: int | None
    tier_a: int | None
    tier_b: int | None
    kind: str  # "own" | "moved by others" | "not assessed"
    status_line: str = ""  # for kind "not assessed"
    indices: list[tuple[str, float | None, float | None, int | None, int | None]] = field(default_factory=list)
    leaves: list[LeafChange] = field(default_factory=list)

    @property
    def score_change(self) -> float:
        if self.score_a is None or self.score_b is None:
            return float("inf")  # assessed in one run only: first
        return self.score_b - self.score_a

    @property
    def rank_change(self) -> int:
        if self.rank_a is None or self.rank_b is None:
            return 0
        return self.rank_a - self.rank_b  # positive: moved up


@dataclass
class RunDiff:
    run_a: dict
    run_b: dict
    rule_edits: list[dict] = field(default_factory=list)  # {"rule_id", "change", "leaf_id"}
    weight_edits: list[dict] = field(default_factory=list)  # {"node_id", "what", "a", "b"}
    config_edits: list[dict] = field(default_factory=list)  # {"key", "a", "b"}
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    targets: list[TargetChange] = field(default_factory=list)

    @property
    def leaf_changes(self) -> int:
        return sum(len(t.leaves) for t in self.targets if t.kind == "own")


def _edits(ra: dict, rb: dict) -> tuple[list[dict], list[dict], list[dict]]:
    rules: list[dict] = []
    va, vb = json.loads(ra.get("rule_versions") or "null"), json.loads(rb.get("rule_versions") or "null")
    if va is not None and vb is not None:
        for rid in sorted(set(va) | set(vb)):
            if rid not in va:
                rules.append({"rule_id": rid, "change": "added", "a": None, "b": vb[rid]})
            elif rid not in vb:
                rules.append({"rule_id": rid, "change": "removed", "a": va[rid], "b": None})
            elif va[rid] != vb[rid]:
                rules.append({"rule_id": rid, "change": "edited", "a": va[rid], "b": vb[rid]})
    elif (ra.get("rules_version") or "") != (rb.get("rules_version") or ""):
        rules.append({"rule_id": "*", "change": "rules files changed (per-rule hashes not recorded)",
                      "a": ra.get("rules_version"), "b": rb.get("rules_version")})
    weights: list[dict] = []
    ta, tb = json.loads(ra.get("tree") or "null"), json.loads(rb.get("tree") or "null")
    if ta is not None and tb is not None:
        na, nb = {n["id"]: n for n in ta}, {n["id"]: n for n in tb}
        for nid in [*nb, *(i for i in na if i not in nb)]:
            a, b = na.get(nid), nb.get(nid)
            if a is None or b is None:
                weights.append({"node_id": nid, "what": "node added" if a is None else "node removed",
                                "a": None if a is None else a.get("points"), "b": None if b is None else b.get("points")})
                continue
            for k in ("points", "groups", "parent"):
                if a.get(k) != b.get(k):
                    weights.append({"node_id": nid, "what": k, "a": a.get(k), "b": b.get(k)})
    config: list[dict] = []
    ca, cb = json.loads(ra.get("config") or "{}"), json.loads(rb.get("config") or "{}")
    for k in sorted(set(ca) | set(cb)):
        if k != "formulas" and ca.get(k) != cb.get(k):
            config.append({"key": k, "a": ca.get(k), "b": cb.get(k)})
    return rules, weights, config


def run_diff(store: Store, run_a: str, run_b: str) -> RunDiff:
    """Everything that differs between runs ``run_a`` (before) and ``run_b`` (after)."""
    ra, rb = store.run(run_a), store.run(run_b)
    out = RunDiff(ra, rb)
    out.rule_edits, out.weight_edits, out.config_edits = _edits(ra, rb)
    a, b = _cells(store, run_a), _cells(store, run_b)
    ev_a, ev_b = _evidence(store, ra), _evidence(store, rb)
    tiers_a, tiers_b = _tiers(store, run_a), _tiers(store, run_b)
    names = {t["target_id"]: (t["name_zh"], t["grp"]) for t in targets_of(store, rb["campaign"])}
    site_of = {t["target_id"]: t["site_id"] for t in targets_of(store, rb["campaign"])}
    for t in targets_of(store, ra["campaign"]):
        names.setdefault(t["target_id"], (t["name_zh"], t["grp"]))
        site_of.setdefault(t["target_id"], t["site_id"])
    sites_a, sites_b = run_sites(store, run_a), run_sites(store, run_b)
    out.only_a = sorted(set(a) - set(b))
    out.only_b = sorted(set(b) - set(a))

    def why(sites: dict, tid: str) -> str:
        s = sites.get(site_of.get(tid, ""), {})
        status, reason = s.get("status") or "status unknown", s.get("reason") or "no reason stored"
        return status if reason == status else f"{status}: {reason}"

    def item(key: str, snap: dict) -> dict:
        e = snap.get(key) or {}
        return {"key": key, "rule_id": e.get("rule_id") or "", "url": e.get("url") or "",
                "snippet": (e.get("snippet") or "")[:160]}

    order = {tid: k for k, tid in enumerate(names)}
    for tid in sorted((t for t in b if t in a), key=lambda t: order.get(t, len(order))):
        ta, tb = a[tid], b[tid]
        tot_a, tot_b = ta.get(TOTAL, {}), tb.get(TOTAL, {})
        name, group = names.get(tid, (tid, "?"))

        def pct(c: dict) -> float | None:
            return None if c.get("rate") is None else c["rate"] * 100

        tc = TargetChange(tid, name, group, tot_a.get("points"), tot_b.get("points"), tot_a.get("max_points"),
                          tot_b.get("max_points"), pct(tot_a), pct(tot_b), tot_a.get("rank"), tot_b.get("rank"),
                          tiers_a.get(tid), tiers_b.get(tid), "own")
        na_a, na_b = tot_a.get("points") is None, tot_b.get("points") is None
        if na_a or na_b:  # not assessed in one run or both: the site's status says why
            if na_a and na_b:
                if why(sites_a, tid) == why(sites_b, tid):
                    continue
                tc.status_line = f"not assessed in both runs ({why(sites_a, tid)} -> {why(sites_b, tid)})"
            elif na_b:
                tc.status_line = (f"assessed -> NOT ASSESSED ({why(sites_b, tid)}); was total "
                                  f"{fmt_points(tot_a.get('points'))}/{fmt_points(tot_a.get('max_points'))}, "
                                  f"rank {tot_a.get('rank')}")
            else:
                tc.status_line = (f"not assessed ({why(sites_a, tid)}) -> assessed: total "
                                  f"{fmt_points(tot_b.get('points'))}/{fmt_points(tot_b.get('max_points'))}, "
                                  f"rank {tot_b.get('rank')}")
            tc.kind = "not assessed"
            out.targets.append(tc)
            continue
        for node_id in [n for n in tb if n in ta or tb[n]["level"] == "leaf"] + [n for n in ta if n not in tb]:
            la, lb = ta.get(node_id), tb.get(node_id)
            if (lb or la)["level"] != "leaf":
                continue
            pa = la["points"] if la else None
            pb = lb["points"] if lb else None
            ea = list(map(str, la["evidence"])) if la else []
            eb = list(map(str, lb["evidence"])) if lb else []
            if pa != pb or set(ea) != set(eb):
                note = "leaf new in this run" if la is None else "leaf gone in this run" if lb is None else ""
                tc.leaves.append(LeafChange(node_id, pa, pb, note,
                                            [item(k, ev_b) for k in eb if k not in set(ea)],
                                            [item(k, ev_a) for k in ea if k not in set(eb)]))
        for node_id, ib in tb.items():
            ia = ta.get(node_id)
            if ib["level"] == "index" and ia and (ia["points"] != ib["points"] or ia["rank"] != ib["rank"]):
                tc.indices.append((node_id, ia["points"], ib["points"], ia["rank"], ib["rank"]))
        pts_changed = tc.total_a != tc.total_b or tc.max_a != tc.max_b
        if not (pts_changed or tc.rank_a != tc.rank_b or tc.tier_a != tc.tier_b or tc.leaves or tc.indices):
            continue
        if not pts_changed and not tc.leaves:
            tc.kind = "moved by others"
        out.targets.append(tc)
    out.targets.sort(key=lambda t: (-abs(t.score_change), -abs(t.rank_change), order.get(t.target_id, 0)))
    return out


# --- text ------------------------------------------------------------------------------------
def _ev_line(sign: str, e: dict) -> str:
    return f"      {sign} {e['key']} {e['rule_id'] or 'manual'} {e['url']} «{e['snippet']}»"


def format_diff(d: RunDiff) -> str:
    ra, rb = d.run_a, d.run_b
    lines = [f"diff {ra['run_id']} (campaign {ra['campaign']}) -> {rb['run_id']} (campaign {rb['campaign']})"]
    if (ra.get("rules_version") or "") != (rb.get("rules_version") or ""):
        lines.append(f"rules version: {ra.get('rules_version')} -> {rb.get('rules_version')}")
    for e in d.rule_edits:
        lines.append(f"rule {e['rule_id']}: {e['change']}")
    for e in d.weight_edits:
        lines.append(f"tree {e['node_id']} {e['what']}: {json.dumps(e['a'], ensure_ascii=False)} -> "
                     f"{json.dumps(e['b'], ensure_ascii=False)}")
    for e in d.config_edits:
        lines.append(f"config {e['key']}: {json.dumps(e['a'], ensure_ascii=False)} -> "
                     f"{json.dumps(e['b'], ensure_ascii=False)}")
    if d.only_a:
        lines.append(f"targets only in {ra['run_id']}: {', '.join(d.only_a)}")
    if d.only_b:
        lines.append(f"targets only in {rb['run_id']}: {', '.join(d.only_b)}")
    own: dict[str, list[str]] = defaultdict(list)
    moved: dict[str, list[str]] = defaultdict(list)
    for t in d.targets:
        if t.kind == "not assessed":
            own[t.group].append(f"  {t.target_id} {t.name_zh}: {t.status_line}")
            continue
        if t.kind == "moved by others":
            moved[t.group].append(f"{t.name_zh} {t.rank_a}->{t.rank_b}")
            continue
        tier = f", tier {t.tier_a} -> {t.tier_b}" if t.tier_a != t.tier_b else ""
        block = [f"  {t.target_id} {t.name_zh}: total {fmt_points(t.total_a)}/{fmt_points(t.max_a)} -> "
                 f"{fmt_points(t.total_b)}/{fmt_points(t.max_b)}, rank {t.rank_a} -> {t.rank_b}{tier}"]
        for node_id, pa, pb, rka, rkb in t.indices:
            block.append(f"    index {node_id}: {fmt_points(pa)} -> {fmt_points(pb)}, rank {rka} -> {rkb}")
        for lc in t.leaves:
            parts = [f"    leaf {lc.leaf_id}: {fmt_points(lc.points_a)} -> {fmt_points(lc.points_b)}"]
            if lc.note:
                parts.append(f"({lc.note})")
            if lc.added:
                parts.append(f"evidence added {', '.join(sorted(e['key'] for e in lc.added))}")
            if lc.removed:
                parts.append(f"evidence removed {', '.join(sorted(e['key'] for e in lc.removed))}")
            block.append(" ".join(parts))
            block += [_ev_line("+", e) for e in lc.added] + [_ev_line("-", e) for e in lc.removed]
        own[t.group].append("\n".join(block))
    for group in dict.fromkeys([*own, *moved]):
        lines.append(f"group {group}: {len(own[group])} target(s) with changed points or evidence, "
                     f"{len(moved[group])} moved in rank by others' changes")
        lines += own[group]
        if moved[group]:
            lines.append("  rank moved by others (own points unchanged): " + ", ".join(moved[group]))
    n = len(d.targets)
    lines.append(f"{n} target(s) changed, {d.leaf_changes} leaf change(s)" if n
                 else "no target's scores, ranks or evidence changed")
    return "\n".join(lines)


def diff_runs(store: Store, run_a: str, run_b: str) -> str:
    """A text report of the differences between runs ``run_a`` (before) and ``run_b`` (after)."""
    return format_diff(run_diff(store, run_a, run_b))


# --- CSV ---------------------------------------------------------------------------------------
CSV_COLUMNS = ["row", "target_id", "name_zh", "group", "score_a", "score_b", "score_change", "total_a", "total_b",
               "rank_a", "rank_b", "tier_a", "tier_b", "kind", "node_id", "points_a", "points_b", "evidence",
               "evidence_key", "rule_id", "url", "snippet", "note"]


def _csv_safe(v: Any) -> Any:
    """Spreadsheet formulas are never written: a text cell starting with = + - @ gets a quote."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


def diff_rows(d: RunDiff) -> list[dict]:
    """One row per edit, per changed target, per changed index or leaf, and per evidence item."""
    rows: list[dict] = []
    for e in d.rule_edits:
        rows.append({"row": "rule edit", "rule_id": e["rule_id"], "note": e["change"]})
    for e in d.weight_edits:
        rows.append({"row": "tree edit", "node_id": e["node_id"], "points_a": json.dumps(e["a"], ensure_ascii=False),
                     "points_b": json.dumps(e["b"], ensure_ascii=False), "note": e["what"]})
    for e in d.config_edits:
        rows.append({"row": "config edit", "node_id": e["key"], "points_a": json.dumps(e["a"], ensure_ascii=False),
                     "points_b": json.dumps(e["b"], ensure_ascii=False)})
    for t in d.targets:
        base = {"target_id": t.target_id, "name_zh": t.name_zh, "group": t.group,
                "score_a": None if t.score_a is None else round(t.score_a, 4),
                "score_b": None if t.score_b is None else round(t.score_b, 4),
                "score_change": None if t.score_change == float("inf") else round(t.score_change, 4),
                "total_a": t.total_a, "total_b": t.total_b, "rank_a": t.rank_a, "rank_b": t.rank_b,
                "tier_a": t.tier_a, "tier_b": t.tier_b, "kind": t.kind}
        rows.append({**base, "row": "target", "note": t.status_line})
        for node_id, pa, pb, _ra, _rb in t.indices:
            rows.append({**base, "row": "index", "node_id": node_id, "points_a": pa, "points_b": pb})
        for lc in t.leaves:
            rows.append({**base, "row": "leaf", "node_id": lc.leaf_id, "points_a": lc.points_a,
                         "points_b": lc.points_b, "note": lc.note})
            for sign, items in (("added", lc.added), ("removed", lc.removed)):
                for e in items:
                    rows.append({**base, "row": "evidence", "node_id": lc.leaf_id, "evidence": sign,
                                 "evidence_key": e["key"], "rule_id": e["rule_id"], "url": e["url"],
                                 "snippet": e["snippet"]})
    return rows


def write_diff_csv(d: RunDiff, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "w", encoding="utf-8-sig", newline="") as fh:  # BOM: spreadsheets read the Chinese right
        w = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        w.writeheader()
        for r in diff_rows(d):
            w.writerow({k: _csv_safe(r.get(k)) for k in CSV_COLUMNS})
    return p


def write_diff(store: Store, run_a: str, run_b: str, out_dir: str | Path) -> dict[str, Path]:
    """``diff-A-B.txt``, ``diff-A-B.csv`` and ``diff-A-B.html`` in ``out_dir``."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from scoring.report import TEMPLATES

    d = run_diff(store, run_a, run_b)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"diff-{run_a}-{run_b}"
    paths = {"text": out / f"{stem}.txt", "csv": out / f"{stem}.csv", "html": out / f"{stem}.html"}
    paths["text"].write_text(format_diff(d) + "\n", encoding="utf-8")
    write_diff_csv(d, paths["csv"])
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    paths["html"].write_text(env.get_template("diff.html.j2").render(diff=d, fmt=fmt_points, limit=None),
                             encoding="utf-8")
    return paths
