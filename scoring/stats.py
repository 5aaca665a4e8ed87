"""Statistics of the published report, as pure functions over per-target results.

Input: a pandas DataFrame with one row per target (``scoring.run.load_results``): columns
``group``, ``admin_code``, ``gdp_rank``, ``rank``, the score column (``score_100`` by
default) and per-index ``<index>_rate`` columns. Every method is a named option; the
formulas are in ``FORMULAS`` and printed in the report (docs/scoring.md repeats them).

* tiers (五个梯队): ``tiers`` — 'equal_interval' (default) or 'quantile';
* leaders: ``leaders``;
* rank correlation of GDP rank and index rank: ``rank_correlation`` — 'spearman' (default)
  or 'kendall';
* mean / SD and the dispersion threshold 5: ``dispersion``;
* mean score rate per first-level index and group (radar): ``index_rate_means``;
* Z-scores: ``zscores``; 推进率 (progress rate): ``progress``.

Targets that were not assessed (column ``assessed`` False: their site was blocked, unreachable
or not crawled; without that column, a missing score) take part in no statistic: no tier, no
leader place, no Z-score, 推进率 or Φ(z), and they are left out of every mean, SD, correlation,
radar mean and threshold count (``assessed_mask``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

TIER_METHODS = ("equal_interval", "quantile")
CORRELATION_METHODS = ("spearman", "kendall")
MEAN_RATE_METHODS = ("mean_of_ratios", "ratio_of_sums")
PROGRESS_METHODS = ("relative_change", "gap_closed", "phi_z", "leaf_share", "leaf_above_mean", "minmax")
PROGRESS_NEEDS_PREVIOUS = {"relative_change", "gap_closed"}

FORMULAS: dict[str, str] = {
    "equal_interval": "five equal-width intervals of [min, max] of the group's scores; "
                      "w = (max - min) / 5, tier = clip(ceil((max - x) / w), 1, 5) (tier 1 = top; a score "
                      "exactly on a cut joins the higher tier; all scores equal -> tier 1)",
    "quantile": "quintiles by count: sort descending, sizes n//5 (+1 for the first n%5 tiers); "
                "tied scores share the tier of the best of them",
    "spearman": "Spearman rho = Pearson correlation of the (average) ranks of GDP rank and total-score "
                "rank within the group (scipy.stats.spearmanr)",
    "kendall": "Kendall tau-b of GDP rank and total-score rank (scipy.stats.kendalltau)",
    "mean_of_ratios": "mean over the group's targets of (index points / index max points)",
    "ratio_of_sums": "sum of the group's index points / sum of the group's index max points",
    "zscore": "z = (x - mean_group) / sd_group, x = score_100; sd with ddof as configured",
    "relative_change": "H5: (x_t - x_prev) / x_prev, x = score_100 of the same target in the previous run",
    "gap_closed": "(x_t - x_prev) / (100 - x_prev): share of last campaign's gap to full marks closed",
    "phi_z": "H1: Phi(z), the standard-normal CDF of the target's Z-score within its group",
    "leaf_share": "H2: share of the target's applicable leaves with points > 0",
    "leaf_above_mean": "H3: share of the target's applicable leaves whose leaf z-score within the group is > 0",
    "minmax": "H4: (x - min_group) / (max_group - min_group)",
    "dispersion": "per group: mean and SD of score_100 (ddof as configured); flags: (b) SD > threshold "
                  "= strongly dispersed (the report's reading), (a) targets with |x - mean| > threshold, "
                  "(c) adjacent tier means closer than threshold",
}


class StatsError(ValueError):
    """An unknown method name or a config value that cannot be used."""


def check_config(cfg: dict) -> None:
    """Raise StatsError naming the key when a method in ``cfg`` is unknown."""
    for key, allowed in (("tier_method", TIER_METHODS), ("correlation_method", CORRELATION_METHODS),
                         ("mean_rate_method", MEAN_RATE_METHODS), ("progress_method", PROGRESS_METHODS)):
        if cfg.get(key) not in allowed:
            raise StatsError(f"scoring config: {key} {cfg.get(key)!r} is not one of {', '.join(allowed)}")
    if int(cfg.get("tier_count", 5)) < 1:
        raise StatsError("scoring config: tier_count must be >= 1")
    from scoring.uncertainty import check_config as check_uncertainty  # local: uncertainty imports stats

    check_uncertainty(cfg.get("uncertainty"))


def method_formulas(cfg: dict) -> dict[str, str]:
    """The formulas of the methods ``cfg`` selects, keyed by what they compute."""
    return {
        "tiers": f"{cfg['tier_method']}: {FORMULAS[cfg['tier_method']]}",
        "correlation": f"{cfg['correlation_method']}: {FORMULAS[cfg['correlation_method']]}",
        "mean_rate": f"{cfg['mean_rate_method']}: {FORMULAS[cfg['mean_rate_method']]}",
        "zscore": FORMULAS["zscore"] + f" (ddof={cfg.get('sd_ddof', 1)})",
        "progress": f"{cfg['progress_method']}: {FORMULAS[cfg['progress_method']]}",
        "dispersion": FORMULAS["dispersion"] + f" (threshold {cfg.get('dispersion_threshold', 5)})",
    }


def assessed_mask(df: pd.DataFrame, score_col: str = "score_100") -> pd.Series:
    """Boolean mask of the targets that were assessed (column ``assessed``; else a score is present)."""
    if "assessed" in df:
        return df["assessed"].astype("boolean").fillna(False).astype(bool)
    if score_col in df:
        return pd.to_numeric(df[score_col], errors="coerce").notna()
    return pd.Series(True, index=df.index)


# --- tiers ----------------------------------------------------------------------------------
def assign_tiers(values: pd.Series, method: str = "equal_interval", n: int = 5) -> pd.Series:
    """Tier (1 = top .. n) of every value of one group; NaN values get no tier (<NA>)."""
    if method not in TIER_METHODS:
        raise StatsError(f"unknown tier method {method!r} (one of {', '.join(TIER_METHODS)})")
    out = pd.Series(pd.NA, index=values.index, dtype="Int64")
    v = pd.to_numeric(values, errors="coerce").dropna().round(9)
    if v.empty:
        return out
    if method == "equal_interval":
        hi, lo = v.max(), v.min()
        width = (hi - lo) / n
        if width <= 0:
            out[v.index] = 1
            return out
        t = np.ceil((hi - v) / width - 1e-9).astype(int)
        out[v.index] = t.clip(lower=1, upper=n)
        return out
    order = v.sort_values(ascending=False, kind="mergesort")
    size, extra = divmod(len(order), n)
    sizes = [size + (1 if i < extra else 0) for i in range(n)]
    positional: list[int] = []
    for tier, s in enumerate(sizes, start=1):
        positional += [tier] * s
    tier_of_value: dict[float, int] = {}
    for value, tier in zip(order.values, positional, strict=True):
        tier_of_value.setdefault(value, tier)
    out[v.index] = [tier_of_value[x] for x in v.values]
    return out


def tiers(df: pd.DataFrame, method: str = "equal_interval", n: int = 5,
          score_col: str = "score_100", group_col: str = "group") -> pd.Series:
    """Tier of every assessed target within its group (<NA> for targets not assessed)."""
    ok = assessed_mask(df, score_col)
    parts = [assign_tiers(g[score_col].where(ok[g.index]), method, n) for _, g in df.groupby(group_col, sort=False)]
    return pd.concat(parts).reindex(df.index) if parts else pd.Series(dtype="Int64")


def tier_bounds(values: pd.Series, method: str = "equal_interval", n: int = 5) -> list[tuple[float, float]]:
    """(low, high) score bounds of each tier 1..n for one group (equal_interval: the cut points)."""
    v = pd.to_numeric(values, errors="coerce").dropna()
    if v.empty:
        return []
    if method == "equal_interval":
        hi, lo = float(v.max()), float(v.min())
        w = (hi - lo) / n
        return [(hi - (k + 1) * w, hi - k * w) for k in range(n)]
    t = assign_tiers(v, method, n)
    return [(float(v[t == k].min()), float(v[t == k].max())) if (t == k).any() else (math.nan, math.nan)
            for k in range(1, n + 1)]


# --- leaders --------------------------------------------------------------------------------
def leaders(df: pd.DataFrame, n: int = 3, rank_col: str = "rank",
            group_col: str = "group") -> dict[str, pd.DataFrame]:
    """Per group, the assessed targets ranked 1..n (ties at rank n included), best first."""
    out = {}
    ok = assessed_mask(df)
    for g, part in df.groupby(group_col, sort=False):
        rank = pd.to_numeric(part[rank_col], errors="coerce")
        out[g] = part[((rank <= n) & ok[part.index]).fillna(False).astype(bool)].sort_values([rank_col, "target_id"] if "target_id" in part
                                                       else [rank_col])
    return out


# --- correlation ----------------------------------------------------------------------------
def rank_correlation_xy(x: Any, y: Any, method: str = "spearman") -> tuple[float, float, int]:
    """(coefficient, p-value, n) of two paired sequences; pairs with a missing value are dropped."""
    if method not in CORRELATION_METHODS:
        raise StatsError(f"unknown correlation method {method!r} (one of {', '.join(CORRELATION_METHODS)})")
    a = pd.to_numeric(pd.Series(list(x)), errors="coerce")
    b = pd.to_numeric(pd.Series(list(y)), errors="coerce")
    ok = a.notna() & b.notna()
    a, b = a[ok].to_numpy(float), b[ok].to_numpy(float)
    n = len(a)
    if n < 3 or np.all(a == a[0]) or np.all(b == b[0]):
        return math.nan, math.nan, n
    from scipy import stats as sps  # imported when needed: it takes a second to load

    res = sps.spearmanr(a, b) if method == "spearman" else sps.kendalltau(a, b)
    return float(res.statistic), float(res.pvalue), n


def rank_correlation(df: pd.DataFrame, method: str = "spearman", x: str = "gdp_rank", y: str = "rank",
                     group_col: str = "group") -> dict[str, dict]:
    """Per group: {"rho", "p", "n", "method"} of GDP rank vs index rank (assessed targets only)."""
    out = {}
    ok = assessed_mask(df)
    for g, part in df[ok].groupby(group_col, sort=False):
        rho, p, n = rank_correlation_xy(part[x], part[y], method)
        out[g] = {"rho": rho, "p": p, "n": n, "method": method}
    for g in dict.fromkeys(df[group_col]):  # a group with nobody assessed
        out.setdefault(g, {"rho": math.nan, "p": math.nan, "n": 0, "method": method})
    return out


# --- exclusions -----------------------------------------------------------------------------
def included(df: pd.DataFrame, exclusions: dict | None, statistic: str,
             group_col: str = "group") -> pd.Series:
    """Boolean mask: rows that take part in ``statistic``: assessed targets, minus the exclusion
    lists per group by admin code."""
    mask = assessed_mask(df)
    for g, spec in (exclusions or {}).items():
        if statistic in spec.get("statistics", []):
            codes = {str(c) for c in spec.get("admin_codes", [])}
            mask &= ~((df[group_col] == g) & df["admin_code"].astype(str).isin(codes))
    return mask


def exclusion_note(exclusions: dict | None, statistic: str, names: dict[str, str] | None = None) -> dict[str, str]:
    """Per group, a human note of who is excluded from ``statistic``."""
    out = {}
    for g, spec in (exclusions or {}).items():
        if statistic in spec.get("statistics", []) and spec.get("admin_codes"):
            who = [(names or {}).get(str(c), str(c)) for c in spec["admin_codes"]]
            out[g] = "、".join(who) + "除外"
    return out


# --- mean / SD / threshold ------------------------------------------------------------------
def dispersion(df: pd.DataFrame, threshold: float = 5.0, ddof: int = 1, score_col: str = "score_100",
               exclusions: dict | None = None, tier_col: str | None = "tier",
               group_col: str = "group") -> pd.DataFrame:
    """Per group: n, mean, sd, the three threshold flags (see FORMULAS['dispersion'])."""
    rows = []
    mask = included(df, exclusions, "mean_sd", group_col)
    for g, part in df[mask].groupby(group_col, sort=False):
        x = pd.to_numeric(part[score_col], errors="coerce").dropna()
        mean = float(x.mean()) if len(x) else math.nan
        sd = float(x.std(ddof=ddof)) if len(x) > ddof else math.nan
        row = {"group": g, "n": len(x), "mean": mean, "sd": sd,
               "sd_over_threshold": bool(sd > threshold) if not math.isnan(sd) else False,
               "n_beyond_threshold": int(((x - mean).abs() > threshold).sum()),
               "min_adjacent_tier_gap": math.nan, "tier_gap_under_threshold": False}
        if tier_col and tier_col in part:
            means = part.assign(_x=pd.to_numeric(part[score_col], errors="coerce")) \
                .dropna(subset=[tier_col]).groupby(tier_col)["_x"].mean().sort_index()
            gaps = (-means.diff()).dropna()
            if len(gaps):
                row["min_adjacent_tier_gap"] = float(gaps.min())
                row["tier_gap_under_threshold"] = bool(gaps.min() < threshold)
        rows.append(row)
    return pd.DataFrame(rows, columns=["group", "n", "mean", "sd", "sd_over_threshold", "n_beyond_threshold",
                                       "min_adjacent_tier_gap", "tier_gap_under_threshold"])


# --- index score rates (radar) --------------------------------------------------------------
def index_rate_means(df: pd.DataFrame, index_ids: list[str], method: str = "mean_of_ratios",
                     group_col: str = "group") -> pd.DataFrame:
    """Group × index table of mean score rates (0..1)."""
    if method not in MEAN_RATE_METHODS:
        raise StatsError(f"unknown mean-rate method {method!r}")
    out = {}
    ok = assessed_mask(df)
    for g in dict.fromkeys(df[group_col]):  # a group with nobody assessed: NaN rates
        out[g] = {i: math.nan for i in index_ids}
    for g, part in df[ok].groupby(group_col, sort=False):
        row = {}
        for i in index_ids:
            if method == "mean_of_ratios":
                row[i] = float(pd.to_numeric(part[f"{i}_rate"], errors="coerce").mean())
            else:
                mx = pd.to_numeric(part[f"{i}_max"], errors="coerce").sum()
                row[i] = float(pd.to_numeric(part[f"{i}_points"], errors="coerce").sum() / mx) if mx else math.nan
        out[g] = row
    return pd.DataFrame.from_dict(out, orient="index", columns=index_ids)


# --- Z-scores and progress ------------------------------------------------------------------
def zscores(df: pd.DataFrame, ddof: int = 1, score_col: str = "score_100", exclusions: dict | None = None,
            group_col: str = "group") -> pd.Series:
    """Z-score of every target within its group (NaN for excluded targets or SD 0)."""
    out = pd.Series(np.nan, index=df.index, dtype=float)
    mask = included(df, exclusions, "zscore", group_col)
    for _, part in df[mask].groupby(group_col, sort=False):
        x = pd.to_numeric(part[score_col], errors="coerce")
        sd = x.std(ddof=ddof)
        if len(x.dropna()) > ddof and sd and not math.isnan(sd):
            out[part.index] = (x - x.mean()) / sd
    return out


def progress(df: pd.DataFrame, method: str = "relative_change", previous: pd.DataFrame | None = None,
             leaf_points: pd.DataFrame | None = None, score_col: str = "score_100",
             exclusions: dict | None = None, ddof: int = 1, group_col: str = "group") -> pd.Series:
    """推进率 of every target by the named method (see FORMULAS); NaN where it cannot be computed.

    ``previous``: the previous campaign's results (same columns; matched by target_id), needed by
    'relative_change' and 'gap_closed'. ``leaf_points``: long frame (target_id, leaf_id, points)
    needed by 'leaf_share' and 'leaf_above_mean'.
    """
    if method not in PROGRESS_METHODS:
        raise StatsError(f"unknown progress method {method!r} (one of {', '.join(PROGRESS_METHODS)})")
    out = pd.Series(np.nan, index=df.index, dtype=float)
    mask = included(df, exclusions, "progress", group_col)
    x = pd.to_numeric(df[score_col], errors="coerce")
    if method in PROGRESS_NEEDS_PREVIOUS:
        if previous is None or previous.empty:
            return out
        # a target not assessed in the previous campaign has no previous score
        before = previous[assessed_mask(previous, score_col)]
        prev = pd.to_numeric(df["target_id"].map(before.set_index("target_id")[score_col]), errors="coerce")
        if method == "relative_change":
            val = (x - prev) / prev.where(prev != 0)
        else:
            val = (x - prev) / (100 - prev).where(prev != 100)
        out[mask] = val[mask]
        return out
    if method == "phi_z":
        z = zscores(df, ddof, score_col, exclusions, group_col)
        from scipy import stats as sps

        out[mask] = sps.norm.cdf(z[mask])
        out[z.isna()] = np.nan
        return out
    if method == "minmax":
        for _, part in df[mask].groupby(group_col, sort=False):
            v = x[part.index]
            span = v.max() - v.min()
            out[part.index] = (v - v.min()) / span if span else np.nan
        return out
    if leaf_points is None or leaf_points.empty:
        return out
    # leaf statistics over the assessed targets only (a not-assessed target's leaves have no points)
    lp = leaf_points.merge(df.loc[assessed_mask(df, score_col), ["target_id", group_col]], on="target_id")
    if method == "leaf_share":
        share = lp.assign(hit=lp["points"] > 0).groupby("target_id")["hit"].mean()
    else:
        grp = lp.groupby([group_col, "leaf_id"])["points"]
        sd = grp.transform(lambda s: s.std(ddof=ddof))
        z = (lp["points"] - grp.transform("mean")) / sd.where(sd > 0)
        share = lp.assign(hit=z.fillna(0) > 0).groupby("target_id")["hit"].mean()
    val = df["target_id"].map(share).astype(float)
    out[mask] = val[mask]
    return out


def summary(df: pd.DataFrame, cfg: dict, index_ids: list[str], previous: pd.DataFrame | None = None,
            leaf_points: pd.DataFrame | None = None) -> dict[str, Any]:
    """Every statistic of the report for one run, with the methods of ``cfg``.

    Adds columns ``tier``, ``z_score``, ``phi_z`` and ``progress`` to a copy of ``df``
    (returned as ``"targets"``).
    """
    score_col = cfg.get("score_column", "score_100")
    ddof = int(cfg.get("sd_ddof", 1))
    ex = cfg.get("exclusions") or {}
    d = df.copy()
    d["tier"] = tiers(d, cfg["tier_method"], int(cfg.get("tier_count", 5)), score_col)
    d["z_score"] = zscores(d, ddof, score_col, ex)
    d["phi_z"] = progress(d, "phi_z", score_col=score_col, exclusions=ex, ddof=ddof)
    d["progress"] = progress(d, cfg["progress_method"], previous=previous, leaf_points=leaf_points,
                             score_col=score_col, exclusions=ex, ddof=ddof)
    needs_prev = cfg["progress_method"] in PROGRESS_NEEDS_PREVIOUS
    return {
        "targets": d,
        "leaders": leaders(d, int(cfg.get("leaders_n", 3))),
        "correlation": rank_correlation(d, cfg["correlation_method"], cfg.get("correlation_x", "gdp_rank"),
                                        cfg.get("correlation_y", "rank")),
        "dispersion": dispersion(d, float(cfg.get("dispersion_threshold", 5)), ddof, score_col, ex),
        "index_rates": index_rate_means(d, index_ids, cfg["mean_rate_method"]),
        "progress_available": (not needs_prev) or (previous is not None and not previous.empty),
        "tier_bounds": {g: tier_bounds(part[score_col].where(assessed_mask(part, score_col)), cfg["tier_method"],
                                       int(cfg.get("tier_count", 5)))
                        for g, part in d.groupby("group", sort=False)},
        "not_assessed": d[~assessed_mask(d, score_col)],
    }


def calibrate_progress(df: pd.DataFrame, published: dict[str, float], previous: pd.DataFrame | None = None,
                       leaf_points: pd.DataFrame | None = None, score_col: str = "score_100",
                       exclusions: dict | None = None, ddof: int = 1) -> pd.DataFrame:
    """Compare every 推进率 candidate with published values ({target_id: value}).

    Returns one row per method that could be computed: method, n (targets compared),
    mean absolute error, max absolute error; best (smallest MAE) first. This is how the
    default can be re-chosen once a full score table of a published edition exists.
    """
    rows = []
    ids = df["target_id"]
    for method in PROGRESS_METHODS:
        val = progress(df, method, previous=previous, leaf_points=leaf_points, score_col=score_col,
                       exclusions=exclusions, ddof=ddof)
        got = pd.Series(val.to_numpy(), index=ids)
        err = [abs(got[t] - v) for t, v in published.items() if t in got.index and not pd.isna(got[t])]
        if err:
            rows.append({"method": method, "n": len(err), "mae": float(np.mean(err)), "max_error": float(max(err))})
    return pd.DataFrame(rows, columns=["method", "n", "mae", "max_error"]).sort_values("mae", kind="mergesort") \
        .reset_index(drop=True)
