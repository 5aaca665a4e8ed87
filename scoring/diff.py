"""Compare two scoring runs: what moved, and the evidence that moved it.

``diff_runs(store, run_a, run_b)`` returns a plain-text explanation: rules version and
config differences, then per target whose total, rank or leaves changed: the total and rank
before and after, each changed leaf with its points and the evidence ids added or removed.
A target whose rank moved while its own points did not is reported as moved by others. A
target assessed in one run and not in the other (its site blocked, unreachable or not crawled)
is reported with the site's status and reason, without leaf details.
"""

from __future__ import annotations

import json
from collections import defaultdict

from evidence.store import Store
from scoring.run import TOTAL, run_sites, targets_of


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:g}"


def _cells(store: Store, run_id: str) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = defaultdict(dict)
    for s in store.scores(run_id):
        s["evidence"] = json.loads(s["evidence_ids"] or "[]")
        out[s["target_id"]][s["node_id"]] = s
    return out


def diff_runs(store: Store, run_a: str, run_b: str) -> str:
    """A text report of the differences between runs ``run_a`` (before) and ``run_b`` (after)."""
    ra, rb = store.run(run_a), store.run(run_b)
    a, b = _cells(store, run_a), _cells(store, run_b)
    names = {t["target_id"]: (t["name_zh"], t["grp"]) for t in targets_of(store, rb["campaign"])}
    site_of = {t["target_id"]: t["site_id"] for t in targets_of(store, rb["campaign"])}
    for t in targets_of(store, ra["campaign"]):
        names.setdefault(t["target_id"], (t["name_zh"], t["grp"]))
        site_of.setdefault(t["target_id"], t["site_id"])
    sites_a, sites_b = run_sites(store, run_a), run_sites(store, run_b)

    def why(sites: dict, tid: str) -> str:
        s = sites.get(site_of.get(tid, ""), {})
        status, reason = s.get("status") or "status unknown", s.get("reason") or "no reason stored"
        return status if reason == status else f"{status}: {reason}"
    lines = [f"diff {run_a} (campaign {ra['campaign']}) -> {run_b} (campaign {rb['campaign']})"]
    if (ra.get("rules_version") or "") != (rb.get("rules_version") or ""):
        lines.append(f"rules version: {ra.get('rules_version')} -> {rb.get('rules_version')}")
    ca, cb = json.loads(ra.get("config") or "{}"), json.loads(rb.get("config") or "{}")
    for k in sorted(set(ca) | set(cb)):
        if k != "formulas" and ca.get(k) != cb.get(k):
            lines.append(f"config {k}: {json.dumps(ca.get(k), ensure_ascii=False)} -> "
                         f"{json.dumps(cb.get(k), ensure_ascii=False)}")
    only_a = sorted(set(a) - set(b))
    only_b = sorted(set(b) - set(a))
    if only_a:
        lines.append(f"targets only in {run_a}: {', '.join(only_a)}")
    if only_b:
        lines.append(f"targets only in {run_b}: {', '.join(only_b)}")

    changed = 0
    leaf_changes = 0
    own: dict[str, list[str]] = defaultdict(list)
    moved: dict[str, list[str]] = defaultdict(list)
    order = {tid: k for k, tid in enumerate(names)}
    for tid in sorted((t for t in b if t in a), key=lambda t: order.get(t, len(order))):
        ta, tb = a[tid], b[tid]
        tot_a, tot_b = ta.get(TOTAL, {}), tb.get(TOTAL, {})
        na_a, na_b = tot_a.get("points") is None, tot_b.get("points") is None
        if na_a or na_b:  # not assessed in one run or both: the site's status says why
            name, group = names.get(tid, (tid, "?"))
            if na_a and na_b:
                if why(sites_a, tid) == why(sites_b, tid):
                    continue
                line = f"  {tid} {name}: not assessed in both runs ({why(sites_a, tid)} -> {why(sites_b, tid)})"
            elif na_b:
                line = (f"  {tid} {name}: assessed -> NOT ASSESSED ({why(sites_b, tid)}); was total "
                        f"{_fmt(tot_a.get('points'))}/{_fmt(tot_a.get('max_points'))}, rank {tot_a.get('rank')}")
            else:
                line = (f"  {tid} {name}: not assessed ({why(sites_a, tid)}) -> assessed: total "
                        f"{_fmt(tot_b.get('points'))}/{_fmt(tot_b.get('max_points'))}, rank {tot_b.get('rank')}")
            changed += 1
            own[group].append(line)
            continue
        leaves = []
        for node_id in [n for n in tb if n in ta or tb[n]["level"] == "leaf"] + [n for n in ta if n not in tb]:
            la, lb = ta.get(node_id), tb.get(node_id)
            if (lb or la)["level"] != "leaf":
                continue
            pa = la["points"] if la else None
            pb = lb["points"] if lb else None
            ea = set(map(str, la["evidence"])) if la else set()
            eb = set(map(str, lb["evidence"])) if lb else set()
            if pa != pb or ea != eb:
                parts = [f"    leaf {node_id}: {_fmt(pa)} -> {_fmt(pb)}"]
                if la is None:
                    parts.append("(leaf new in this run)")
                if lb is None:
                    parts.append("(leaf gone in this run)")
                if eb - ea:
                    parts.append(f"evidence added {', '.join(sorted(eb - ea))}")
                if ea - eb:
                    parts.append(f"evidence removed {', '.join(sorted(ea - eb))}")
                leaves.append(" ".join(parts))
        pts_changed = (tot_a.get("points") != tot_b.get("points")
                       or tot_a.get("max_points") != tot_b.get("max_points"))
        rank_changed = tot_a.get("rank") != tot_b.get("rank")
        if not (pts_changed or rank_changed or leaves):
            continue
        changed += 1
        name, group = names.get(tid, (tid, "?"))
        if rank_changed and not pts_changed and not leaves:
            moved[group].append(f"{name} {tot_a.get('rank')}->{tot_b.get('rank')}")
            continue
        leaf_changes += len(leaves)
        block = [f"  {tid} {name}: total {_fmt(tot_a.get('points'))}/{_fmt(tot_a.get('max_points'))} -> "
                 f"{_fmt(tot_b.get('points'))}/{_fmt(tot_b.get('max_points'))}, "
                 f"rank {tot_a.get('rank')} -> {tot_b.get('rank')}"]
        for node_id, ib in tb.items():
            ia = ta.get(node_id)
            if ib["level"] == "index" and ia and ia["points"] != ib["points"]:
                block.append(f"    index {node_id}: {_fmt(ia['points'])} -> {_fmt(ib['points'])}, "
                             f"rank {ia['rank']} -> {ib['rank']}")
        own[group].append("\n".join(block + leaves))
    for group in dict.fromkeys([*own, *moved]):
        lines.append(f"group {group}: {len(own[group])} target(s) with changed points or evidence, "
                     f"{len(moved[group])} moved in rank by others' changes")
        lines += own[group]
        if moved[group]:
            lines.append("  rank moved by others (own points unchanged): " + ", ".join(moved[group]))
    lines.append(f"{changed} target(s) changed, {leaf_changes} leaf change(s)" if changed
                 else "no target's scores, ranks or evidence changed")
    return "\n".join(lines)
