"""Compare what a campaign found with the simulated web's truth table.

Used by `windvane demo` to print how well the pipeline recovered the truth, and by
the end-to-end tests to assert it. Two views per leaf:

* site level: a site "has" a leaf when the truth says present; the pipeline found it
  when at least one evidence row worth points exists for the site and leaf (a 0-point
  row, e.g. ``https_access.certificate_invalid``, records why a leaf is not met).
  Precision and recall are over sites.
* evidence level: every evidence row's page must be one the truth lists for that
  leaf (``urls``); evidence precision is the share of rows that are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from evidence.store import Store


@dataclass
class LeafQuality:
    leaf_id: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    evidence_rows: int = 0
    evidence_ok: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def evidence_precision(self) -> float:
        return self.evidence_ok / self.evidence_rows if self.evidence_rows else 1.0


def load_truth(path: str | Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


NOT_ASSESSABLE = ("blocked", "unreachable")


def expected_status(site: dict) -> str:
    """The site status a correct crawl ends with: the access fault's (``simweb/access.py``) or ``done``."""
    access = site.get("access") or {}
    return access.get("expect_status", "done")


def status_agreement(store: Store, campaign: str, truth: dict,
                     sites: list[str] | None = None) -> list[tuple[str, str, str | None, str | None]]:
    """Sites whose crawl status differs from the truth's: ``[(site_id, expected, got, reason)]``."""
    got = {r[0]: (r[1], r[2]) for r in store.conn.execute(
        "select site_id, status, error from sites where campaign = ?", [campaign])}
    out = []
    for sid in sites or sorted(truth["sites"]):
        want = expected_status(truth["sites"][sid])
        status, reason = got.get(sid, (None, None))
        if status != want:
            out.append((sid, want, status, reason))
    return out


def evaluate(store: Store, campaign: str, truth: dict, sites: list[str] | None = None) -> dict[str, LeafQuality]:
    """Per-leaf quality of the campaign's evidence against the truth table.

    Sites the truth says a crawler cannot assess (blocked, unreachable) are left out: what
    they have is invisible from outside (``status_agreement`` checks they were recognised).
    """
    site_ids = [s for s in (sites or sorted(truth["sites"]))
                if expected_status(truth["sites"][s]) not in NOT_ASSESSABLE]
    rows = store.conn.execute(
        "select e.site_id, e.leaf_id, e.url, p.final_url from evidence e "
        "left join pages p on p.id = e.page_id where e.campaign = ? "
        "and (e.points is null or e.points > 0)", [campaign]).fetchall()
    found: dict[tuple[str, str], list[tuple[str, str | None]]] = {}
    for site_id, leaf_id, url, final_url in rows:
        found.setdefault((site_id, leaf_id), []).append((url, final_url))
    leaves = sorted({leaf for s in site_ids for leaf in truth["sites"][s]["leaves"]})
    out = {leaf: LeafQuality(leaf) for leaf in leaves}
    for s in site_ids:
        for leaf, t in truth["sites"][s]["leaves"].items():
            q = out[leaf]
            ev = found.get((s, leaf), [])
            urls = set(t.get("urls", []))
            if t["present"] and ev:
                q.tp += 1
            elif t["present"]:
                q.fn += 1
            elif ev:
                q.fp += 1
            q.evidence_rows += len(ev)
            q.evidence_ok += sum(1 for u, f in ev if t["present"] and (u in urls or f in urls))
    return out


def format_quality(quality: dict[str, LeafQuality]) -> str:
    lines = [f"{'leaf':28} {'precision':>9} {'recall':>7} {'ev.prec':>8}  tp  fp  fn  evidence"]
    for q in quality.values():
        lines.append(f"{q.leaf_id:28} {q.precision:9.3f} {q.recall:7.3f} {q.evidence_precision:8.3f} "
                     f"{q.tp:3d} {q.fp:3d} {q.fn:3d}  {q.evidence_rows}")
    return "\n".join(lines)


def score_agreement(store: Store, run_id: str, truth: dict, tree,
                    sites: list[str] | None = None) -> tuple[int, int, list[str]]:
    """How many targets' leaf points equal the truth's: (agreeing, total, disagreeing target ids).

    Only targets of ``sites`` (default: every site of the truth) are considered.
    """
    expected: dict[tuple[str, str], float] = {}
    targets = {r["target_id"]: r for r in store.db.query(
        "select t.target_id, t.site_id, t.grp from targets t join runs r on r.campaign = t.campaign "
        "where r.run_id = ?", [run_id])}
    not_assessed: set[str] = set()
    for tid, t in targets.items():
        site = truth["sites"].get(t["site_id"])
        if site is None or (sites is not None and t["site_id"] not in sites):
            continue
        if expected_status(site) in NOT_ASSESSABLE:
            not_assessed.add(tid)  # agrees when the run gives it no points at all (not assessed)
            continue
        for leaf in tree.leaves:
            if not leaf.applies_to(t["grp"]):
                continue
            lt = site["leaves"].get(leaf.id)
            if lt is None:
                continue
            share = lt.get("points_share", 1.0 if lt["present"] else 0.0)
            expected[(tid, leaf.id)] = float(share) * leaf.points
    got = {(r["target_id"], r["node_id"]): r["points"] for r in store.db.query(
        "select target_id, node_id, points from scores where run_id = ? and level = 'leaf'", [run_id])}
    bad = {tid for (tid, leaf), pts in expected.items() if abs((got.get((tid, leaf)) or 0.0) - pts) > 1e-9}
    bad |= {tid for (tid, _leaf), pts in got.items() if tid in not_assessed and pts is not None}
    bad = sorted(bad)
    considered = {tid for tid, _ in expected} | not_assessed
    return len(considered) - len(bad), len(considered), bad


def truth_results(truth: dict, registry, tree, assessable_only: bool = True):
    """The truth's own scores as a frame shaped like ``scoring.run.load_results`` (one row per target:
    target_id, group, name_zh, admin_code, gdp_rank, score_100, rank, ``<index>_rate``, assessed), so the
    statistics of ``scoring.stats`` can be computed on what a perfect pipeline would score.
    Targets of sites the truth says a crawler cannot assess are not assessed (``assessable_only``)."""
    import pandas as pd

    index_of = {leaf.id: tree.index_of(leaf.id).id for leaf in tree.leaves}
    rows = []
    for t in registry.targets:
        site = truth["sites"].get(t.site_id)
        if site is None:
            continue
        pts: dict[str, float] = {idx.id: 0.0 for idx in tree.indices}
        mx: dict[str, float] = {idx.id: 0.0 for idx in tree.indices}
        for leaf in tree.leaves:
            if not leaf.applies_to(t.group):
                continue
            lt = site["leaves"].get(leaf.id) or {}
            share = float(lt.get("points_share", 1.0 if lt.get("present") else 0.0))
            pts[index_of[leaf.id]] += share * leaf.points
            mx[index_of[leaf.id]] += leaf.points
        assessed = not assessable_only or expected_status(site) not in NOT_ASSESSABLE
        row = {"target_id": t.target_id, "group": t.group, "name_zh": t.name_zh, "site_id": t.site_id,
               "admin_code": t.admin_code, "gdp_rank": t.gdp_rank, "assessed": assessed,
               "total_points": sum(pts.values()), "max_points": sum(mx.values())}
        row["score_100"] = row["total_points"] / row["max_points"] * 100 if row["max_points"] else None
        for i in pts:
            row[f"{i}_points"], row[f"{i}_max"] = pts[i], mx[i]
            row[f"{i}_rate"] = pts[i] / mx[i] if mx[i] else None
        if not assessed:
            row["score_100"] = None
        rows.append(row)
    df = pd.DataFrame(rows)
    df["rank"] = df.groupby("group")["total_points"].rank(method="min", ascending=False)
    df.loc[~df["assessed"], "rank"] = None
    return df
