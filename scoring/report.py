"""The report of a run: report.html (+ PNG charts beside it), targets.csv, leaves.csv, coverage.csv,
platforms.csv (the platform facts per target, ``scoring.platforms``), report.xlsx.

``write_report(store, run_id, ruleset, out_dir)`` reads the run's scores back, computes every
statistic with the methods named in the run's config (``scoring.stats``), draws the charts
(``scoring.charts``) and renders ``scoring/templates/report.html.j2``. The HTML is
self-contained apart from the PNG files in the same folder; every target links to a detail
section listing, per leaf, the evidence (URL and snippet) that earned its points.

Targets whose site was blocked, unreachable or not crawled are not assessed: they come first
(in report.html, targets.csv, the workbook and coverage.csv) with the site's status and reason,
and have no total, rank or tier; targets scored from a ``partial`` crawl are flagged.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from evidence.coverage import FAILURE_KINDS, NEEDS_A_PERSON
from evidence.registry import GDP_STATUS_CLASSES, GROUP_NAMES_ZH, gdp_status_counts, parse_registry
from evidence.store import Store, StoreError
from scoring import charts, fonts, platforms, stats, uncertainty
from scoring.run import leaf_frame, load_results, run_config

TEMPLATES = Path(__file__).resolve().parent / "templates"
GROUP_ORDER = ["province", "capital", "gdp100"]
MAX_EVIDENCE_SHOWN = 5  # per target and leaf in report.html; leaves.csv lists every evidence id
# award categories of the published 特色案例评选 and the index each one reads
AWARDS = [("数字能力领先奖", "数字能力"), ("统筹管理创新奖", "统筹管理"), ("强基赋能示范奖", "强基赋能"),
          ("安全规制应用奖", "安全规制"), ("公众体验优秀奖", "应用成效")]


def _groups(df: pd.DataFrame) -> list[str]:
    present = list(dict.fromkeys(df["group"])) if len(df) else []
    return [g for g in GROUP_ORDER if g in present] + [g for g in present if g not in GROUP_ORDER]


def find_previous_run(store: Store, run: dict, cfg: dict) -> dict | None:
    """The run to compute 推进率 against: ``cfg['previous_run']`` or the latest run of the latest
    earlier campaign (campaign names compared as text, e.g. '2022' < '2023')."""
    if cfg.get("previous_run"):
        return store.run(cfg["previous_run"])
    rows = list(store.db.query(
        "select * from runs where campaign < ? order by campaign desc, created_at desc, rowid desc limit 1",
        [run["campaign"]]))
    return rows[0] if rows else None


DIFF_ROWS_IN_REPORT = 40  # the largest changes shown in report.html; diff.csv has every one


def find_diff_base(store: Store, run: dict, prev_run: dict | None) -> dict | None:
    """The run the report's change section compares with: the latest earlier run of the same campaign
    (a rerun after a rule or weight edit), else the previous campaign's run (the year before)."""
    rows = list(store.db.query(
        "select * from runs where campaign = ? and run_id != ? and created_at <= ? "
        "order by created_at desc, rowid desc limit 1", [run["campaign"], run["run_id"], run["created_at"]]))
    return rows[0] if rows else prev_run


def template_env() -> Environment:
    """The report's Jinja2 environment: its templates, autoescaping, and the ``num`` and ``pct`` filters."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    env.filters["num"] = _num
    env.filters["pct"] = _pct
    return env


def _num(v: Any, fmt: str = "{:.2f}") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return "–"
    try:
        return fmt.format(v)
    except (TypeError, ValueError):
        return str(v)


def _pct(v: Any) -> str:
    return _num(None if v is None or (isinstance(v, float) and math.isnan(v)) else v * 100, "{:.1f}%")


def _evidence_rows(store: Store, campaign: str) -> dict[Any, dict]:
    """Every piece of evidence of the campaign by its stable key (audit/ledger.py), with its human state."""
    from audit.ledger import load_ledger

    rows: dict[Any, dict] = {}
    for item in load_ledger(store, campaign).items.values():
        rule = item.rule_id or f"manual ({(item.values or {}).get('added_by') or '?'}: {(item.values or {}).get('note') or ''})"
        rows[item.id] = {"id": item.id, "url": item.url, "snippet": item.snippet, "rule_id": rule,
                         "points": item.points, "status": item.status, "values": item.values or {}}
    return rows


def write_report(store: Store, run_id: str, ruleset: Any, out_dir: str | Path) -> dict[str, Path]:
    """Write report.html, charts, targets.csv, leaves.csv and report.xlsx into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tree = ruleset.tree
    run = store.run(run_id)
    cfg = run_config(run)
    df = load_results(store, run_id, tree)
    if df.empty:
        raise StoreError(f"{store.path}: run {run_id} has no scored targets (campaign {run['campaign']} "
                         "has no targets in the store?)")
    index_ids: list[str] = df.attrs.get("index_ids", [])
    labels = {i: (tree.nodes[i].name_zh if i in tree.nodes else i) for i in index_ids}
    leaves_long = leaf_frame(store, run_id)
    prev_run = find_previous_run(store, run, cfg)
    previous = load_results(store, prev_run["run_id"], tree) if prev_run else None
    summ = stats.summary(df, cfg, index_ids, previous=previous,
                         leaf_points=leaves_long[["target_id", "leaf_id", "points"]])
    d: pd.DataFrame = summ["targets"]
    ok = stats.assessed_mask(d)
    d["assessed"] = ok
    d["partial"] = d["site_status"] == "partial"
    sites: dict[str, dict] = df.attrs.get("sites", {})
    groups = _groups(d)
    names = {g: GROUP_NAMES_ZH.get(g, g) for g in groups}
    code_names = dict(zip(d["admin_code"].astype(str), d["name_zh"], strict=False))
    # rank uncertainty: Monte Carlo rank intervals (scoring/uncertainty.py), assessed targets only
    unc = uncertainty.run_uncertainty(leaves_long, tree, dict(zip(d["target_id"], d["group"], strict=True)), cfg)
    for c in uncertainty.COLUMNS:
        d[c] = d["target_id"].map(unc.table[c])
    paths: dict[str, Path] = {}

    # --- CSV ------------------------------------------------------------------------------
    cols = ["target_id", "group", "name_zh", "site_id", "admin_code", "gdp", "gdp_rank", "total_points",
            "max_points", "score_rate", "score_100", "rank", "tier", "z_score", "phi_z", "progress",
            "pages", "site_status", "site_reason", "assessed", "partial", "audited_leaves"]
    cols[cols.index("rank") + 1:cols.index("rank") + 1] = uncertainty.COLUMNS  # rank_p05, rank_p50, rank_p95
    audited = leaves_long.groupby("target_id")["audited"].sum() if len(leaves_long) else pd.Series(dtype=int)
    d["audited_leaves"] = d["target_id"].map(audited).fillna(0).astype(int)
    for i in index_ids:
        cols += [f"{i}_points", f"{i}_max", f"{i}_rate", f"{i}_rank"]
    # not-assessed targets first (registry order among them), then every assessed target
    targets_csv = pd.concat([d[~ok], d[ok]])[cols]
    paths["targets.csv"] = out / "targets.csv"
    targets_csv.to_csv(paths["targets.csv"], index=False, encoding="utf-8-sig")

    tinfo = d.set_index("target_id")
    leaf_nodes = {leaf.id: leaf for leaf in tree.leaves}
    lrows = []
    for r in leaves_long.itertuples():
        node = leaf_nodes.get(r.leaf_id)
        t = tinfo.loc[r.target_id] if r.target_id in tinfo.index else None
        gap = "" if t is None else (sites.get(t["site_id"], {}).get("not_evaluated") or {}).get(r.leaf_id, "")
        if t is not None and not t["assessed"]:
            gap = f"target not assessed: {t['site_status']} ({t['site_reason']})"
        lrows.append({
            "target_id": r.target_id, "group": None if t is None else t["group"],
            "name_zh": None if t is None else t["name_zh"], "leaf_id": r.leaf_id,
            "leaf_name_zh": node.name_zh if node else "", "index_id": tree.index_of(r.leaf_id).id if node else "",
            "sub_id": node.parent if node else "", "points": r.points, "max_points": r.max_points,
            "evidence_count": r.evidence_count, "evidence_ids": json.dumps(r.evidence_ids),
            "not_evaluated": gap, "machine_points": r.machine_points, "audited": bool(r.audited)})
    leaves_df = pd.DataFrame(lrows, columns=["target_id", "group", "name_zh", "leaf_id", "leaf_name_zh",
                                             "index_id", "sub_id", "points", "max_points", "evidence_count",
                                             "evidence_ids", "not_evaluated", "machine_points", "audited"])
    paths["leaves.csv"] = out / "leaves.csv"
    leaves_df.to_csv(paths["leaves.csv"], index=False, encoding="utf-8-sig")
    coverage_df = coverage_table(d, sites, groups)
    paths["coverage.csv"] = out / "coverage.csv"
    coverage_df.to_csv(paths["coverage.csv"], index=False, encoding="utf-8-sig")
    # platform facts (scoring/platforms.py): read from the run's evidence rows and site_platforms
    ev = _evidence_rows(store, run["campaign"])
    pfacts = platforms.platform_facts(store, run["campaign"], tree, d, leaves_long, ev)
    platforms_df = platforms.platform_frame(pfacts, d, index_ids)
    paths["platforms.csv"] = out / "platforms.csv"
    platforms_df.to_csv(paths["platforms.csv"], index=False, encoding="utf-8-sig")

    # --- charts ---------------------------------------------------------------------------
    chart_files: dict[str, str] = {}
    scored = d[ok]  # the charts show assessed targets only
    for g in groups:
        part = scored[scored["group"] == g]
        c = summ["correlation"].get(g, {})
        p = charts.scatter_gdp(part, names[g], c.get("rho"), cfg["correlation_method"],
                               out / f"scatter_{g}.png")
        chart_files[f"scatter_{g}"] = p.name
        p = charts.radar(summ["index_rates"].loc[[g]], labels, names, f"{names[g]}平均得分率雷达图",
                         out / f"radar_{g}.png")
        chart_files[f"radar_{g}"] = p.name
        if part["z_score"].notna().any():
            p = charts.zscore_bars(part, f"{names[g]}总得分Z-分数", out / f"zscore_{g}.png")
            chart_files[f"zscore_{g}"] = p.name
        if part["rank_p50"].notna().any():
            p = charts.rank_intervals(part, f"{names[g]}排名不确定性 (Monte Carlo 5%–95%)", out / f"rank_interval_{g}.png")
            chart_files[f"rank_interval_{g}"] = p.name
    if groups and index_ids:
        chart_files["radar_all"] = charts.radar(summ["index_rates"].loc[groups], labels, names,
                                                "平均得分率雷达图", out / "radar_all.png").name
        if len(scored):  # nobody assessed: no distribution, no leaders
            chart_files["distribution"] = charts.distribution(scored, index_ids, labels, names,
                                                              out / "index_rates.png").name
            chart_files["leaders"] = charts.leaders_bars(scored, names, out / "leaders.png").name
    if len(summ["dispersion"]):
        chart_files["mean_sd"] = charts.mean_sd(summ["dispersion"], names, float(cfg["dispersion_threshold"]),
                                                out / "mean_sd.png").name
    for name in chart_files.values():
        paths[name] = out / name

    # --- Excel ----------------------------------------------------------------------------
    paths["report.xlsx"] = out / "report.xlsx"
    method_rows = _method_rows(run, cfg, summ, names, code_names) + _gdp_status_rows(store, run["campaign"], names)
    method_rows += uncertainty.method_rows(unc.methods)
    with pd.ExcelWriter(paths["report.xlsx"], engine="openpyxl") as xw:
        pd.DataFrame(method_rows, columns=["item", "value"]).to_excel(xw, sheet_name="方法", index=False)
        for g in groups:  # not-assessed targets first, then by rank
            targets_csv[targets_csv["group"] == g].sort_values(["assessed", "rank", "target_id"]) \
                .to_excel(xw, sheet_name=names[g][:31], index=False)
        targets_csv[~targets_csv["assessed"]].to_excel(xw, sheet_name="未评估", index=False)
        coverage_df.to_excel(xw, sheet_name="采集覆盖", index=False)
        platforms_df.to_excel(xw, sheet_name="平台", index=False)
        stat_rows = summ["dispersion"].copy()
        stat_rows["group"] = stat_rows["group"].map(names)
        stat_rows.to_excel(xw, sheet_name="均值与标准差", index=False)
        summ["index_rates"].rename(columns=labels, index=names).to_excel(xw, sheet_name="平均得分率")
        leaves_df.to_excel(xw, sheet_name="叶指标", index=False)

    # --- HTML -----------------------------------------------------------------------------
    env = template_env()
    from scoring.diff import fmt_points, run_diff, write_diff_csv

    base = find_diff_base(store, run, prev_run)
    changes = run_diff(store, base["run_id"], run_id) if base else None
    if changes is not None:
        paths["diff.csv"] = write_diff_csv(changes, out / "diff.csv")
    html = env.get_template("report.html.j2").render(
        diff=changes, fmt=fmt_points, limit=DIFF_ROWS_IN_REPORT,
        font_problem=None if charts.CJK_FONT else fonts.NO_FONT_MESSAGE,
        run=run, cfg=cfg, method_rows=method_rows, uncertainty=unc.methods, groups=groups, names=names, index_ids=index_ids,
        labels=labels, charts=chart_files, tables=_group_tables(d, groups),
        leaders={g: summ["leaders"][g].to_dict("records") for g in groups if g in summ["leaders"]},
        tiers=_tier_tables(d, groups, summ["tier_bounds"], int(cfg.get("tier_count", 5))),
        correlation=summ["correlation"], dispersion=summ["dispersion"].to_dict("records"),
        index_rates=summ["index_rates"], progress_available=summ["progress_available"],
        previous_run=prev_run, zscore_rows=_z_rows(d, groups),
        excluded={k: stats.exclusion_note(cfg.get("exclusions"), k, code_names)
                  for k in ("mean_sd", "zscore", "progress")},
        coverage=_coverage(tree, leaves_long, d, groups), awards=_awards(d[ok], index_ids, labels),
        tree_rows=_tree_rows(tree, groups), crawl=crawl_coverage(store, run["campaign"]),
        uncrawled=d[ok & (d["pages"] == 0)].to_dict("records") if "pages" in d else [],
        not_assessed=d[~ok].to_dict("records"), partial=d[ok & d["partial"]].to_dict("records"),
        site_coverage=coverage_df.to_dict("records"), failure_kinds=FAILURE_KINDS,
        needs_a_person=NEEDS_A_PERSON, platform_tables=platforms.group_tables(pfacts, d, groups),
        platform_by_target={r["target_id"]: r for r in pfacts}, platform_facts_list=platforms.FACTS,
        platform_kinds=platforms.PLATFORMS, platform_indices=platforms.platform_indices(tree),
        details=_details(store, run["campaign"], tree, d, leaves_long, sites, ev))
    paths["report.html"] = out / "report.html"
    paths["report.html"].write_text(html, encoding="utf-8")
    # the PNG charts sit beside report.html; the main files are what callers print
    return {k: paths[k] for k in ["report.html", "targets.csv", "leaves.csv", "coverage.csv", "platforms.csv",
                                  "report.xlsx"]}


COVERAGE_COLUMNS = ["target_id", "site_id", "group", "name_zh", "site_status", "reason", "pages",
                    *(f"failures_{k}" for k in FAILURE_KINDS), "failures_total", "blocked", "robots_disallowed",
                    "rate_limited", "budget_reached", "seconds", "site_rules_not_evaluated"]


def coverage_table(d: pd.DataFrame, sites: dict[str, dict], groups: list[str]) -> pd.DataFrame:
    """One row per target: its site's crawl status, reason and coverage (``coverage.csv``).

    Sites needing a person (blocked, unreachable, not crawled, partial) first, then by group and registry order.
    """
    rank_status = {s: k for k, s in enumerate(NEEDS_A_PERSON)}
    rows = []
    for pos, t in enumerate(d.itertuples()):
        site = sites.get(t.site_id) or {}
        cov = site.get("coverage") or {}
        fails = cov.get("failures") or {}
        gaps = site.get("not_evaluated") or {}
        status = t.site_status or "not crawled"
        row = {"target_id": t.target_id, "site_id": t.site_id, "group": t.group, "name_zh": t.name_zh,
               "site_status": status, "reason": t.site_reason or "",
               "pages": cov.get("pages") if cov.get("pages") is not None else t.pages}
        for k in FAILURE_KINDS:
            row[f"failures_{k}"] = int(fails.get(k, 0) or 0)
        extra = sum(int(v or 0) for k, v in fails.items() if k not in FAILURE_KINDS)
        row["failures_other"] += extra  # kinds the crawler may add later count as other
        row["failures_total"] = sum(int(v or 0) for v in fails.values())
        row.update({"blocked": int(cov.get("blocked") or 0), "robots_disallowed": int(cov.get("robots_disallowed") or 0),
                    "rate_limited": int(cov.get("rate_limited") or 0), "budget_reached": cov.get("budget_reached"),
                    "seconds": cov.get("seconds"),
                    "site_rules_not_evaluated": "; ".join(sorted(set(gaps.values())))})
        order = (rank_status.get(status, len(NEEDS_A_PERSON)),
                 groups.index(t.group) if t.group in groups else len(groups), pos)
        rows.append((order, row))
    rows.sort(key=lambda kv: kv[0])
    return pd.DataFrame([r for _, r in rows], columns=COVERAGE_COLUMNS)


def crawl_coverage(store: Store, campaign: str) -> dict:
    """What the crawl collected: pages by kind and by path (plain HTTP or browser), failures by reason."""
    q = store.conn.execute
    total = q("select count(*) from pages where campaign = ?", [campaign]).fetchone()[0]
    by_via = dict(q("select coalesce(via, 'http'), count(*) from pages where campaign = ? group by 1",
                    [campaign]).fetchall())
    by_kind = dict(q("select coalesce(kind, 'html'), count(*) from pages where campaign = ? group by 1",
                     [campaign]).fetchall())
    reasons: dict[str, int] = {}
    for (reason,) in q("select reason from failures where campaign = ?", [campaign]):
        key = (reason or "unknown").split(":")[0].strip()[:80]
        reasons[key] = reasons.get(key, 0) + 1
    sites = dict(q("select coalesce(status, 'not crawled'), count(*) from sites where campaign = ? group by 1",
                   [campaign]).fetchall())
    browser = by_via.get("browser", 0)
    return {"pages": total, "by_via": by_via, "by_kind": by_kind, "sites": sites,
            "browser_pages": browser, "browser_share": browser / total if total else 0.0,
            "failures": sum(reasons.values()),
            "reasons": sorted(reasons.items(), key=lambda kv: -kv[1])[:12]}


def _method_rows(run: dict, cfg: dict, summ: dict, names: dict[str, str],
                 code_names: dict[str, str]) -> list[tuple[str, str]]:
    f = cfg["formulas"]
    rows = [
        ("run", run["run_id"]), ("campaign", run["campaign"]), ("created_at", run["created_at"]),
        ("rules_version", run.get("rules_version") or ""), ("notes", run.get("notes") or ""),
        ("leaf points", cfg["leaf_points"]), ("auditors' decisions", cfg["decisions"]),
        ("weights / points", cfg["weights"]), ("max points", cfg["max_points"]),
        ("normalisation", cfg["normalisation"]), ("rank", cfg["rank_method"]),
        ("tier cut (梯队)", f["tiers"]), ("mean score rate (平均得分率)", f["mean_rate"]),
        ("rank correlation (GDP排名 vs 总得分排名)", f["correlation"]),
        ("Z-score", f["zscore"]), ("推进率 (progress rate)", f["progress"]),
        ("mean / SD and threshold", f["dispersion"]),
        ("leaders", f"targets ranked 1..{cfg.get('leaders_n', 3)} in their group (ties included)"),
    ]
    for key in ("mean_sd", "zscore", "progress"):
        for g, note in stats.exclusion_note(cfg.get("exclusions"), key, code_names).items():
            rows.append((f"exclusion ({key})", f"{names.get(g, g)}: {note}"))
    return rows


def _gdp_status_rows(store: Store, campaign: str, names: dict[str, str]) -> list[tuple[str, str]]:
    """Per group, how many GDP figures (behind the rank correlation) are confirmed, corrected or unverified,
    from the registry's ``gdp_status`` (the targets table; a store opened before that column: the campaign's
    registry CSV)."""
    pairs = [(r[0], r[1]) for r in store.conn.execute(
        "select grp, gdp_status from targets where campaign = ? order by rowid", [campaign])]
    if not any(status for _, status in pairs):
        row = store.campaign(campaign, missing_ok=True)
        if row and row.get("registry_csv"):
            pairs = [(t.group, t.get("gdp_status")) for t in parse_registry(row["registry_csv"]).targets]
    rows = []
    for g, counts in gdp_status_counts(pairs).items():
        parts = [f"{counts[k]} {k}" for k in GDP_STATUS_CLASSES if counts[k]]
        other = [f"{n} '{k}'" for k, n in counts.items() if k not in GDP_STATUS_CLASSES]
        text = ", ".join(parts) + " (registry gdp_status; confirmed includes near-confirmed)" if parts else ""
        if other:
            text += ("; " if text else "no check recorded; ") + "status of no class: " + ", ".join(other)
        rows.append((f"GDP figures ({names.get(g, g)})", f"{sum(counts.values())}: {text}"))
    return rows


def _group_tables(d: pd.DataFrame, groups: list[str]) -> dict[str, list[dict]]:
    """Per group: the not-assessed targets first, then the assessed ones by rank."""
    return {g: d[d["group"] == g].sort_values(["assessed", "rank", "target_id"]).to_dict("records")
            for g in groups}


def _tier_tables(d: pd.DataFrame, groups: list[str], bounds: dict, n: int) -> dict[str, list[dict]]:
    out = {}
    for g in groups:
        part = d[d["group"] == g].sort_values(["rank", "target_id"])
        rows = []
        for k in range(1, n + 1):
            members = part[(part["tier"] == k).fillna(False).astype(bool)]
            lo, hi = bounds.get(g, [(math.nan, math.nan)] * n)[k - 1] if bounds.get(g) else (math.nan, math.nan)
            rows.append({"tier": k, "low": lo, "high": hi, "n": len(members),
                         "members": [(r.target_id, r.name_zh, r.score_100) for r in members.itertuples()]})
        out[g] = rows
    return out


def _z_rows(d: pd.DataFrame, groups: list[str]) -> dict[str, list[dict]]:
    out = {}
    for g in groups:
        part = d[(d["group"] == g) & d["assessed"]].copy()
        part["_z"] = part["z_score"].fillna(-1e9)
        out[g] = part.sort_values(["_z", "rank"], ascending=[False, True]).to_dict("records")
    return out


def _coverage(tree: Any, leaves_long: pd.DataFrame, d: pd.DataFrame, groups: list[str]) -> list[dict]:
    grp = dict(zip(d["target_id"], d["group"], strict=False))
    lf = leaves_long.assign(group=leaves_long["target_id"].map(grp))
    lf = lf[lf["target_id"].isin(set(d.loc[d["assessed"], "target_id"]))]  # assessed targets only
    d = d[d["assessed"]]
    rows = []
    for leaf in tree.leaves:
        cells = {}
        for g in groups:
            sub = lf[(lf["leaf_id"] == leaf.id) & (lf["group"] == g)]
            if not leaf.applies_to(g):
                cells[g] = None
            else:
                cells[g] = {"earned": int((sub["points"] > 0).sum()), "n": int((d["group"] == g).sum()),
                            "full": int((sub["points"] >= leaf.points).sum()) if leaf.points else 0}
        rows.append({"id": leaf.id, "name": leaf.name_zh, "index": tree.index_of(leaf.id).name_zh,
                     "points": leaf.points, "cells": cells})
    return rows


def _awards(d: pd.DataFrame, index_ids: list[str], labels: dict[str, str], n: int = 5) -> list[dict]:
    """Featured-case candidates: per award category, the sites with the best rate of its index."""
    out = []
    by_label = {v: k for k, v in labels.items()}
    for award, index_name in AWARDS:
        iid = by_label.get(index_name) or next((i for i in index_ids if index_name in labels.get(i, "")), None)
        if not iid:
            continue
        best = d.sort_values([f"{iid}_rate", "score_100"], ascending=False).drop_duplicates("site_id").head(n)
        out.append({"award": award, "index": index_name,
                    "candidates": [(r.target_id, r.name_zh, getattr(r, f"{iid}_rate")) for r in best.itertuples()]})
    return out


def _tree_rows(tree: Any, groups: list[str]) -> list[dict]:
    rows = []
    for nid in tree.order:
        n = tree.nodes[nid]
        rows.append({"id": n.id, "name": n.name_zh, "level": n.level, "points": n.points,
                     "groups": ", ".join(n.groups) if n.level == "leaf" else "",
                     "max": {g: tree.max_points(n.id, g) for g in groups}})
    return rows


def _details(store: Store, campaign: str, tree: Any, d: pd.DataFrame, leaves_long: pd.DataFrame,
             sites: dict[str, dict] | None = None, ev: dict[Any, dict] | None = None) -> list[dict]:
    ev = _evidence_rows(store, campaign) if ev is None else ev
    per_target: dict[str, list] = defaultdict(list)
    for r in leaves_long.itertuples():
        per_target[r.target_id].append(r)
    order = {leaf.id: k for k, leaf in enumerate(tree.leaves)}
    out = []
    for t in d.sort_values(["group", "assessed", "rank", "target_id"]).itertuples():
        gaps = ((sites or {}).get(t.site_id) or {}).get("not_evaluated") or {}
        leaves = []
        for r in sorted(per_target.get(t.target_id, []), key=lambda r: order.get(r.leaf_id, 1e9)):
            node = tree.nodes.get(r.leaf_id)
            items = []
            for eid in r.evidence_ids[:MAX_EVIDENCE_SHOWN]:
                e = ev.get(eid)
                items.append({"id": eid, "url": (e or {}).get("url"), "snippet": ((e or {}).get("snippet") or "")[:300],
                              "rule_id": (e or {}).get("rule_id"), "missing": e is None,
                              "status": (e or {}).get("status")})
            leaves.append({"id": r.leaf_id, "name": node.name_zh if node else r.leaf_id,
                           "points": r.points, "max": r.max_points, "evidence": items,
                           "machine_points": r.machine_points, "audited": bool(r.audited),
                           "more": max(0, len(r.evidence_ids) - MAX_EVIDENCE_SHOWN),
                           "not_evaluated": gaps.get(r.leaf_id)})
        out.append({"target_id": t.target_id, "name_zh": t.name_zh, "group": t.group,
                    "rank": None if pd.isna(t.rank) else int(t.rank),
                    "score_100": t.score_100, "total_points": t.total_points, "max_points": t.max_points,
                    "assessed": bool(t.assessed), "site_status": t.site_status, "site_reason": t.site_reason,
                    "leaves": leaves, "audited_leaves": sum(1 for x in leaves if x["audited"])})
    return out
