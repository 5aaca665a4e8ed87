"""Platform facts per target for the report (issue 11 part 4): what the crawl found on each target's
online-service portal (政务服务网) and open-data platform, read from the evidence rows of the platform
leaves the run counted (their ``values``: a share, a count, a yes) and from ``site_platforms`` (URL,
source, pages), never recomputed from the pages.

``platform_facts(store, campaign, tree, d, leaves_long, evidence)`` gives one dict per target (in the
order of ``d``) with, per platform, its state and, per fact, a cell: the value, the evidence it came
from (stable key, URL, rule) and a ``status`` saying why a value is missing:

* ``found``: the value is read from an evidence row (a counter that says 0 is ``found`` with 0);
* ``not_found``: the platform was crawled (some page answered 2xx, or it is on the portal's own host and
  was crawled as the portal) and no evidence of the leaf was found;
* ``none``: no such platform (neither the registry nor the portal's links name one);
* ``not_crawled``: a platform is known but the crawl never reached it (the portal failed first);
* ``no_answer``: the crawl tried it and no page answered 2xx (a 502, a timeout, a block page);
* ``missing``: the run counted evidence that is no longer in the store (re-extracted since);
* ``manual``: an auditor's added evidence (it carries points, no value);
* ``n/a``: the leaf is not in the run's tree or does not apply to the target's group.

``platform_frame`` flattens them into ``platforms.csv`` (see ``CSV_COLUMNS`` and docs/scoring.md).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pandas as pd

from evidence.store import Store


@dataclass(frozen=True)
class Fact:
    key: str    # the CSV column
    kind: str   # the platform: service | opendata
    leaf: str   # the leaf whose evidence holds the value
    value: str  # yes (a finding with points) | number (a count) | share (a pooled share)
    label: str  # the HTML header


PLATFORMS = {"service": "政务服务网 (service portal)", "opendata": "数据开放平台 (open-data platform)"}
FACTS = [
    Fact("service_available", "service", "service_portal_available", "yes", "可用"),
    Fact("unified_login", "service", "unified_login", "yes", "统一登录"),
    Fact("guide_completeness", "service", "guide_completeness", "share", "指南要素完整度"),
    Fact("fully_online_share", "service", "online_transaction_depth", "share", "全程网办比例"),
    Fact("hotline_web_form", "service", "hotline_web_form", "yes", "12345网上诉求"),
    Fact("opendata_available", "opendata", "open_data_available", "yes", "可用"),
    Fact("datasets", "opendata", "dataset_count", "number", "数据集"),
    Fact("apis", "opendata", "api_count", "number", "接口"),
    Fact("machine_readable_share", "opendata", "machine_readable_share", "share", "可机读比例"),
    Fact("freshness_share", "opendata", "data_freshness", "share", "半年内更新比例"),
    Fact("licence", "opendata", "open_data_licence", "yes", "开放协议"),
    Fact("data_requests", "opendata", "data_requests_feedback", "yes", "数据需求"),
    Fact("reuse_showcase", "opendata", "data_reuse_showcase", "yes", "应用展示"),
]
PLATFORM_LEAVES = {f.leaf for f in FACTS}
STATE_WORDS = {"crawled": "crawled", "on_portal": "on portal", "none": "none", "not_crawled": "not crawled",
               "no_answer": "no answer"}
CRAWLED = ("crawled", "on_portal")  # states in which a fact not found is "not found" (not "none")

_PLATFORM_COLUMNS = ["url", "source", "state", "pages", "pages_2xx", "apis", "budget_reached"]


def _fact_columns(f: Fact) -> list[str]:
    cols = [f.key, f"{f.key}_status", f"{f.key}_evidence", f"{f.key}_url", f"{f.key}_rule"]
    if f.value == "share":
        cols.insert(1, f"{f.key}_n")
    if f.value == "number":
        cols.insert(1, f"{f.key}_readings")
    return cols


def csv_columns(index_ids: list[str]) -> list[str]:
    """The columns of platforms.csv: the target, its scores (score_100, rank and every index's rate),
    then per platform its facts."""
    cols = ["target_id", "group", "name_zh", "site_id", "assessed", "site_status", "score_100", "rank",
            *(f"{i}_rate" for i in index_ids)]
    for kind in PLATFORMS:
        cols += [f"{kind}_{c}" for c in _PLATFORM_COLUMNS]
        for f in FACTS:
            if f.kind == kind:
                cols += _fact_columns(f)
    return cols


def _platform_rows(store: Store, campaign: str) -> dict[tuple[str, str], dict]:
    """``site_platforms`` by (site, kind), with the count of the site's pages of that platform that
    answered 2xx and are no block page."""
    conn = store.conn
    have = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
    if "site_platforms" not in have:
        return {}
    cur = conn.execute("select * from site_platforms where campaign = ?", [campaign])
    names = [c[0] for c in cur.description]
    out = {(r["site_id"], r["kind"]): r for r in (dict(zip(names, row, strict=True)) for row in cur)}
    for site_id, cov in conn.execute("select site_id, coverage from sites where campaign = ?", [campaign]):
        try:  # a platform on the portal's own host has no site_platforms row: it was crawled as the portal
            entries = (json.loads(cov) if cov else {}).get("platforms") or []
        except (ValueError, AttributeError):
            entries = []
        for p in entries:
            if isinstance(p, dict) and p.get("on_portal") and (site_id, p.get("kind")) not in out:
                out[(site_id, p["kind"])] = {**p, "site_id": site_id, "on_portal": True, "pages": None}
    cols = {r[1] for r in conn.execute("pragma table_info(pages)")}
    if "platform" in cols:
        block = "and block is null" if "block" in cols else ""
        for site_id, kind, n in conn.execute(
                "select site_id, platform, count(*) from pages where campaign = ? and platform in ('service', 'opendata') "
                f"and status between 200 and 299 {block} group by 1, 2", [campaign]):
            if (site_id, kind) in out:
                out[(site_id, kind)]["pages_2xx"] = n
    return out


def _state(row: dict | None) -> str:
    if row is None:
        return "none"
    if row.get("on_portal"):
        return "on_portal"
    if not row.get("stored_under"):
        return "not_crawled"
    return "crawled" if row.get("pages_2xx") else "no_answer"


def _number(values: dict, kind: str) -> float | None:
    """The value a fact reads from an evidence row's values: a share (pooled) or a count (what tiers grade)."""
    keys = ("share", "number") if kind == "share" else ()
    tier = values.get("tier") if isinstance(values.get("tier"), dict) else {}
    for v in [*(values.get(k) for k in keys), tier.get("value"), values.get("number")]:
        if v is None:
            continue
        try:
            x = float(str(v).replace(",", ""))
        except ValueError:
            continue
        if not math.isnan(x):
            return x
    return None


def _points(e: dict, leaf_points: float) -> float:
    return leaf_points if e.get("points") is None else float(e["points"])


def _cell(f: Fact, ids: list, evidence: dict[Any, dict], state: str, leaf_points: float) -> dict:
    items = [evidence[i] for i in ids if i in evidence]
    cell: dict[str, Any] = {"value": None, "status": "", "evidence": None, "url": None, "rule": None,
                            "n": None, "readings": []}
    if not items:
        cell["status"] = "missing" if ids else ("not_found" if state in CRAWLED else state)
        if cell["status"] == "not_found" and f.value == "yes":
            cell["value"] = "no"  # the platform was crawled and nothing of the kind was found on it
        return cell
    extracted = [e for e in items if e.get("rule_id") and not str(e["id"]).startswith("man_")]
    if f.value == "yes":
        best = max(items, key=lambda e: _points(e, leaf_points))
        cell["value"] = "yes" if _points(best, leaf_points) > 0 else "no"
    else:
        scored = [(e, _number(e.get("values") or {}, f.value)) for e in extracted]
        scored = [(e, x) for e, x in scored if x is not None]
        if not scored:
            best = items[0]
            cell["status"] = "manual" if not extracted else "found"
            cell.update(evidence=best["id"], url=best.get("url"), rule=best.get("rule_id"))
            return cell
        best, x = max(scored, key=lambda ex: (_points(ex[0], leaf_points), ex[1]))
        cell["value"] = x
        cell["readings"] = sorted({v for _, v in scored})
        if f.value == "share":
            cell["n"] = (best.get("values") or {}).get("total")
    cell.update(status="found", evidence=best["id"], url=best.get("url"), rule=best.get("rule_id"))
    return cell


def platform_facts(store: Store, campaign: str, tree: Any, d: pd.DataFrame, leaves_long: pd.DataFrame,
                   evidence: dict[Any, dict]) -> list[dict]:
    """Per target (rows of ``d``, the report's target frame): its platforms and facts (module docstring).

    ``evidence`` maps stable keys to rows with ``id``, ``url``, ``rule_id``, ``points`` and ``values``
    (``scoring.report._evidence_rows``); the keys read are the run's ``evidence_ids`` of each leaf."""
    plats = _platform_rows(store, campaign)
    ids: dict[tuple[str, str], list] = {}
    for r in leaves_long.itertuples():
        if r.leaf_id in PLATFORM_LEAVES:
            ids[(r.target_id, r.leaf_id)] = list(r.evidence_ids)
    out = []
    for t in d.itertuples():
        row: dict[str, Any] = {"target_id": t.target_id, "group": t.group, "name_zh": t.name_zh,
                               "site_id": t.site_id, "platforms": {}, "facts": {}}
        for kind in PLATFORMS:
            p = plats.get((t.site_id, kind))
            row["platforms"][kind] = {
                "state": _state(p), "url": (p or {}).get("url"), "source": (p or {}).get("source"),
                "pages": (p or {}).get("pages"), "pages_2xx": (p or {}).get("pages_2xx", 0) if p else None,
                "apis": (p or {}).get("apis"), "budget_reached": (p or {}).get("budget_reached"),
                "stored_under": (p or {}).get("stored_under")}
        for f in FACTS:
            node = tree.nodes.get(f.leaf)
            key = (t.target_id, f.leaf)
            if node is None or key not in ids:
                row["facts"][f.key] = {"value": None, "status": "n/a", "evidence": None, "url": None,
                                       "rule": None, "n": None, "readings": []}
                continue
            row["facts"][f.key] = _cell(f, ids[key], evidence, row["platforms"][f.kind]["state"],
                                        float(node.points))
        out.append(row)
    return out


def platform_frame(facts: list[dict], d: pd.DataFrame, index_ids: list[str]) -> pd.DataFrame:
    """``platforms.csv``: one row per target (``csv_columns``); a missing value is empty and its
    ``_status`` column says why (found / not_found / none / not_crawled / no_answer / missing / manual / n/a)."""
    info = d.set_index("target_id")
    rows = []
    for r in facts:
        t = info.loc[r["target_id"]]
        row: dict[str, Any] = {"target_id": r["target_id"], "group": r["group"], "name_zh": r["name_zh"],
                               "site_id": r["site_id"], "assessed": bool(t["assessed"]),
                               "site_status": "not crawled" if pd.isna(t["site_status"]) or not t["site_status"] else t["site_status"], "score_100": t["score_100"],
                               "rank": t["rank"]}
        for i in index_ids:
            row[f"{i}_rate"] = t.get(f"{i}_rate")
        for kind, p in r["platforms"].items():
            row.update({f"{kind}_url": p["url"], f"{kind}_source": p["source"],
                        f"{kind}_state": STATE_WORDS[p["state"]], f"{kind}_pages": p["pages"],
                        f"{kind}_pages_2xx": p["pages_2xx"], f"{kind}_apis": p["apis"],
                        f"{kind}_budget_reached": None if p["budget_reached"] is None else bool(p["budget_reached"])})
        for f in FACTS:
            c = r["facts"][f.key]
            row.update({f.key: c["value"], f"{f.key}_status": c["status"], f"{f.key}_evidence": c["evidence"],
                        f"{f.key}_url": c["url"], f"{f.key}_rule": c["rule"]})
            if f.value == "share":
                row[f"{f.key}_n"] = c["n"]
            if f.value == "number":
                row[f"{f.key}_readings"] = json.dumps([int(x) if x == int(x) else x for x in c["readings"]]) \
                    if c["readings"] else None
        rows.append(row)
    df = pd.DataFrame(rows, columns=csv_columns(index_ids))
    counts = [c for c in df.columns if c.endswith(("_pages", "_pages_2xx", "_apis", "_n")) or c in ("rank", "datasets", "apis")]
    for c in counts:  # whole numbers stay whole in the CSV (empty, not NaN, where there is none)
        df[c] = pd.to_numeric(df[c], errors="coerce").round().astype("Int64")
    return df


def platform_indices(tree: Any) -> list[str]:
    """The first-level indices the platform leaves score under (shown beside the facts), in tree order."""
    wanted = {tree.index_of(f.leaf).id for f in FACTS if f.leaf in tree.nodes}
    return [i for i in tree.order if i in wanted]


def group_tables(facts: list[dict], d: pd.DataFrame, groups: list[str]) -> dict[str, list[dict]]:
    """Per group, the targets in the order of the report's group tables (not assessed first, then by
    rank), each with its scores and its platform facts."""
    by_target = {r["target_id"]: r for r in facts}
    out: dict[str, list[dict]] = defaultdict(list)
    for g in groups:
        for t in d[d["group"] == g].sort_values(["assessed", "rank", "target_id"]).to_dict("records"):
            if t["target_id"] in by_target:
                out[g].append({**by_target[t["target_id"]], "t": t})
    return dict(out)
