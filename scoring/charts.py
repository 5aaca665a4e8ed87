"""The report's charts (matplotlib, Agg backend, a CJK font registered by scoring/fonts.py), written as PNGs.

Each function takes already computed statistics and a path, draws one figure and returns the path.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from scoring.fonts import ensure_cjk_font  # noqa: E402

plt.rcParams["font.sans-serif"] = ["Noto Sans CJK SC", "DejaVu Sans"]
plt.rcParams["font.family"] = "sans-serif"
plt.rcParams["axes.unicode_minus"] = False
# the CJK font registered from its file: a font cache built before the font was installed cannot hide it
CJK_FONT = ensure_cjk_font()

COLORS = ["#1f6fb4", "#e07b28", "#2e9e4f", "#c23b3b", "#7a4fb0"]


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def scatter_gdp(part: pd.DataFrame, title: str, rho: float, method: str, path: Path,
                x: str = "gdp_rank", y: str = "rank") -> Path:
    """GDP rank (x) against total-score rank (y) of one group, with the coefficient in the title."""
    fig, ax = plt.subplots(figsize=(6, 5))
    d = part.dropna(subset=[x, y])
    ax.scatter(d[x], d[y], s=28, color=COLORS[0], alpha=0.8)
    if len(d) <= 40:
        for _, r in d.iterrows():
            ax.annotate(str(r["name_zh"]).removesuffix("市"), (r[x], r[y]), fontsize=7,
                        xytext=(3, 2), textcoords="offset points")
    if len(d) >= 2:
        lim = max(d[x].max(), d[y].max()) + 1
        ax.plot([1, lim], [1, lim], ls="--", lw=0.8, color="grey")
    sym = "ρ" if method == "spearman" else "τ"
    rho_s = "n/a" if rho is None or (isinstance(rho, float) and math.isnan(rho)) else f"{rho:.4f}"
    ax.set_title(f"{title}：GDP排名与总得分排名 ({sym} = {rho_s})")
    ax.set_xlabel("GDP排名")
    ax.set_ylabel("总得分排名")
    ax.invert_yaxis()
    return _save(fig, path)


def radar(rates: pd.DataFrame, labels: dict[str, str], series_names: dict[str, str], title: str,
          path: Path) -> Path:
    """Radar of mean index score rates: rows of ``rates`` are series (groups), columns indices."""
    cols = list(rates.columns)
    n = len(cols)
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False).tolist()
    fig, ax = plt.subplots(figsize=(6, 6), subplot_kw={"polar": True})
    ax.set_theta_offset(np.pi / 2)
    ax.set_theta_direction(-1)
    for k, (g, row) in enumerate(rates.iterrows()):
        vals = [0.0 if pd.isna(v) else float(v) * 100 for v in row.tolist()]
        ax.plot(angles + angles[:1], vals + vals[:1], color=COLORS[k % len(COLORS)], lw=1.6,
                label=series_names.get(g, g))
        ax.fill(angles + angles[:1], vals + vals[:1], color=COLORS[k % len(COLORS)], alpha=0.12)
    ax.set_xticks(angles)
    ax.set_xticklabels([labels.get(c, c) for c in cols])
    ax.set_ylim(0, 100)
    ax.set_yticks([20, 40, 60, 80, 100])
    ax.set_yticklabels(["20%", "40%", "60%", "80%", "100%"], fontsize=7)
    ax.set_title(title, pad=18)
    ax.legend(loc="upper right", bbox_to_anchor=(1.25, 1.1), fontsize=8)
    return _save(fig, path)


def mean_sd(disp: pd.DataFrame, names: dict[str, str], threshold: float, path: Path) -> Path:
    """Bars of the group means with SD error bars, SD values written, threshold named."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    xs = np.arange(len(disp))
    ax.bar(xs, disp["mean"], yerr=disp["sd"], capsize=6, color=COLORS[: len(disp)], alpha=0.85)
    for i, r in enumerate(disp.itertuples()):
        flag = " > 阈值" if r.sd_over_threshold else ""
        ax.text(i, (r.mean or 0) + (r.sd if not pd.isna(r.sd) else 0) + 1,
                f"均值 {r.mean:.2f}\n标准差 {r.sd:.2f}{flag}", ha="center", fontsize=8)
    ax.set_xticks(xs)
    ax.set_xticklabels([names.get(g, g) for g in disp["group"]])
    ax.set_ylabel("总得分（百分制）")
    ax.set_ylim(0, 115)
    ax.set_title(f"总得分平均值及标准差（离散阈值 {threshold:g}）")
    return _save(fig, path)


def distribution(df: pd.DataFrame, index_ids: list[str], labels: dict[str, str], names: dict[str, str],
                 path: Path) -> Path:
    """Grouped bars: mean score rate of each index per group (不同评估对象得分率分布)."""
    groups = list(dict.fromkeys(df["group"]))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    width = 0.8 / max(1, len(groups))
    xs = np.arange(len(index_ids))
    for k, g in enumerate(groups):
        part = df[df["group"] == g]
        vals = [pd.to_numeric(part[f"{i}_rate"], errors="coerce").mean() * 100 for i in index_ids]
        ax.bar(xs + k * width - 0.4 + width / 2, vals, width, label=names.get(g, g), color=COLORS[k % 5])
    ax.set_xticks(xs)
    ax.set_xticklabels([labels.get(i, i) for i in index_ids])
    ax.set_ylabel("平均得分率 (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    ax.set_title("不同评估对象各一级指数平均得分率")
    return _save(fig, path)


def zscore_bars(part: pd.DataFrame, title: str, path: Path, top: int = 15) -> Path:
    """Horizontal bars of the best Z-scores of one group (with 推进率 when available)."""
    d = part.dropna(subset=["z_score"]).sort_values("z_score", ascending=False).head(top)
    fig, ax = plt.subplots(figsize=(6.5, max(2.5, 0.32 * len(d) + 1)))
    ax.barh(range(len(d)), d["z_score"], color=COLORS[0])
    ax.set_yticks(range(len(d)))
    ax.set_yticklabels(d["name_zh"].tolist(), fontsize=8)
    ax.invert_yaxis()
    for i, r in enumerate(d.itertuples()):
        txt = f"{r.z_score:.2f}"
        if "progress" in d and not pd.isna(r.progress):
            txt += f" / 推进率 {r.progress:.2f}"
        ax.text(r.z_score, i, " " + txt, va="center", fontsize=7)
    ax.set_xlabel("Z-分数")
    ax.set_title(title)
    return _save(fig, path)


def leaders_bars(df: pd.DataFrame, names: dict[str, str], path: Path, n: int = 5) -> Path:
    """Score rate of the top targets of each group (头部地区平均得分率)."""
    groups = list(dict.fromkeys(df["group"]))
    fig, axes = plt.subplots(1, len(groups), figsize=(4 * len(groups), 3.6), squeeze=False)
    for ax, g in zip(axes[0], groups, strict=True):
        d = df[df["group"] == g].sort_values(["rank", "target_id"]).head(n)
        ax.bar(d["name_zh"].str.removesuffix("市"), d["score_rate"] * 100, color=COLORS[groups.index(g) % 5])
        for i, v in enumerate(d["score_rate"] * 100):
            ax.text(i, v + 1, f"{v:.1f}%", ha="center", fontsize=7)
        ax.set_ylim(0, 110)
        ax.set_title(names.get(g, g), fontsize=10)
        ax.tick_params(axis="x", labelsize=8, rotation=30)
    fig.suptitle("头部地区得分率")
    return _save(fig, path)


def rank_intervals(part: pd.DataFrame, title: str, path: Path) -> Path:
    """Rank uncertainty of one group: targets top to bottom by nominal rank, a bar from the 5th to the
    95th percentile of their Monte Carlo rank, a dot at the median and a red tick at the nominal rank."""
    d = part.dropna(subset=["rank", "rank_p05", "rank_p95"]).sort_values(["rank", "target_id"])
    n = len(d)
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.2 * n + 1.3)))
    ys = np.arange(n)
    lo, hi = d["rank_p05"].to_numpy(float), d["rank_p95"].to_numpy(float)
    ax.barh(ys, np.maximum(hi - lo, 0.15), left=lo - np.where(hi > lo, 0, 0.075), height=0.55,
            color=COLORS[0], alpha=0.35, label="5%–95% 区间")
    ax.scatter(d["rank_p50"], ys, s=14, color=COLORS[0], zorder=3, label="中位数 (p50)")
    ax.scatter(d["rank"], ys, marker="|", s=90, color=COLORS[3], zorder=4, label="名义排名")
    ax.set_yticks(ys)
    ax.set_yticklabels([f"{int(r)}. {name}" for r, name in zip(d["rank"], d["name_zh"], strict=True)],
                       fontsize=7 if n > 40 else 8)
    ax.set_ylim(n - 0.5, -0.5)  # rank 1 at the top
    top = max(float(hi.max()) if n else 1.0, float(d["rank"].max()) if n else 1.0)
    ax.set_xlim(0.5, top + 0.5)
    ax.set_xlabel("排名 (1 = 最好)")
    ax.grid(axis="x", lw=0.4, alpha=0.5)
    ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    ax.set_title(title, pad=20)
    return _save(fig, path)
