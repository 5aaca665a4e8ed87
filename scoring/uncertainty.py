"""Rank uncertainty of a run: a seeded Monte Carlo over the choices behind the index.

The composite-indicator handbooks (OECD/JRC *Handbook on Constructing Composite Indicators*, 2008,
§1.7 and step 7; COINr's ``get_sensitivity``) judge a ranking by how far each unit's rank moves when
the modeller's choices change within plausible bounds. ``rank_uncertainty`` does that over the leaf
points of a scored run (``scoring.run.leaf_frame``): every draw

(a) multiplies the nominal weight of every node of the indicator tree (leaf, sub, first-level index;
    nominal weight = the points of the applicable leaves under it, per group) by a factor drawn
    uniformly from ``[1 - spread, 1 + spread]`` and renormalises among siblings, so each parent's
    total weight is unchanged: ``w''_n = w_n u_n * (sum_siblings w_m) / (sum_siblings w_m u_m)``.
    A node's share within its parent is then ``q_n = w_n u_n / sum_siblings(w_m u_m)``; a leaf's
    weight within its index is the product of the shares on its path below the index, and an index
    rate is ``sum_l coef_l * points_l / max_l`` — with spread 0 exactly the run's index rate;
(b) aggregates the first-level index rates with one of ``aggregations``, chosen with equal
    probability: ``arithmetic`` = sum_i q_i rate_i (with nominal weights exactly total points / max
    points, the run's score), ``geometric`` = exp(sum_i q_i ln max(rate_i, epsilon)) — the
    weighted geometric mean, a rate of 0 raised to ``epsilon`` so that one empty index does not
    zero the whole score;
(c) when ``drop_index``, leaves out one first-level index or none, each of the K + 1 outcomes with
    probability 1 / (K + 1) (the remaining index weights renormalised to sum 1);
(d) ranks the assessed targets within their group: competition ranking ('1224') by score
    descending, as ``scoring.run.competition_ranks`` does (scores closer than 1e-9 tie).

Per target the result gives the nominal rank (the run's: total points, competition ranking) and
the 5th, 50th and 95th percentiles of its rank over the draws, by the inverted empirical CDF
(numpy ``method="inverted_cdf"``, Hyndman & Fan definition 1: the smallest rank r such that at
least q of the draws rank the target r or better), so every percentile is a rank some draw gave.
Targets not assessed (points None) take no part and get no rank (<NA>; NaN in ``ranks``).

Tiers do not enter ranks (the run ranks by points), so the tier method (equal-interval vs quantile)
is not a perturbed choice; a config that ranked by tier would need it and is refused here.
The random numbers come from ``numpy.random.default_rng(seed)`` in a fixed order (weight
factors, aggregation per draw, dropped index per draw), so one seed always gives the same result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scoring.run import DEFAULT_CONFIG, competition_ranks
from scoring.stats import StatsError

AGGREGATIONS = ("arithmetic", "geometric")
PERCENTILES = (("rank_p05", 5), ("rank_p50", 50), ("rank_p95", 95))
COLUMNS = [name for name, _ in PERCENTILES]
PERCENTILE_METHOD = "inverted_cdf"
TIE_TOLERANCE = 1e-9
DEFAULTS: dict[str, Any] = DEFAULT_CONFIG["uncertainty"]  # the settings live in the scoring config


def check_config(spec: Any) -> None:
    """Raise StatsError naming the key when the ``uncertainty`` settings cannot be used (None is fine)."""
    if spec is None:
        return
    if not isinstance(spec, Mapping):
        raise StatsError("scoring config: uncertainty must be an object")
    s = {**DEFAULTS, **spec}
    unknown = sorted(set(spec) - set(DEFAULTS))
    if unknown:
        raise StatsError(f"scoring config: uncertainty has unknown key(s) {', '.join(unknown)}")
    if not isinstance(s["draws"], int) or isinstance(s["draws"], bool) or s["draws"] < 1:
        raise StatsError("scoring config: uncertainty.draws must be an integer >= 1")
    if not isinstance(s["seed"], int) or isinstance(s["seed"], bool) or s["seed"] < 0:
        raise StatsError("scoring config: uncertainty.seed must be an integer >= 0")
    spread = s["weight_spread"]
    if isinstance(spread, bool) or not isinstance(spread, int | float) or not 0 <= spread < 1:
        raise StatsError("scoring config: uncertainty.weight_spread must be a number in [0, 1)")
    aggs = s["aggregations"]
    if not isinstance(aggs, list | tuple) or not aggs or any(a not in AGGREGATIONS for a in aggs):
        raise StatsError(f"scoring config: uncertainty.aggregations must be a non-empty list of "
                         f"{', '.join(AGGREGATIONS)}")
    if not isinstance(s["drop_index"], bool):
        raise StatsError("scoring config: uncertainty.drop_index must be true or false")
    eps = s["geometric_epsilon"]
    if isinstance(eps, bool) or not isinstance(eps, int | float) or not 0 < eps < 1:
        raise StatsError("scoring config: uncertainty.geometric_epsilon must be a number in (0, 1)")


@dataclass
class UncertaintyResult:
    """What ``rank_uncertainty`` found.

    ``table``: one row per target (index target_id, in the order of ``groups``): group, rank
    (nominal), rank_p05, rank_p50, rank_p95 (nullable integers; <NA> when not assessed). ``methods``: what was
    perturbed, for the report's methods section (``methods["text"]`` is one sentence of it).
    ``ranks``: (draws × targets) rank of every target in every draw, columns in ``table`` order.
    ``factors``: node id → the (draws,) weight factor u before renormalisation; ``aggregation``:
    per draw the aggregation used; ``dropped``: per draw the index left out, or None.
    """

    table: pd.DataFrame
    methods: dict[str, Any]
    ranks: np.ndarray
    factors: dict[str, np.ndarray] = field(default_factory=dict)
    aggregation: list[str] = field(default_factory=list)
    dropped: list[str | None] = field(default_factory=list)


def _competition(scores: np.ndarray) -> np.ndarray:
    """(draws × n) scores -> competition ranks per row: 1 + how many in the row score more (by > 1e-9).

    One sort for all rows: row k is shifted by k × (span + 1), so rows do not interleave, and a
    search counts per value the scores of its row up to value + 1e-9."""
    d, n = scores.shape
    shift = (float(scores.max() - scores.min()) + 1.0) * np.arange(d)[:, None]
    keyed = scores + shift
    at_most = np.searchsorted(np.sort(keyed, axis=None), keyed + TIE_TOLERANCE, side="right") - n * np.arange(d)[:, None]
    return n - at_most + 1


def rank_uncertainty(leaves: pd.DataFrame, tree: Any, groups: Mapping[str, str],
                     settings: Mapping[str, Any] | None = None,
                     rank_method: str = "competition ('1224'): points descending within the group") -> UncertaintyResult:
    """Monte Carlo rank intervals of every target (module docstring: the formulas).

    ``leaves``: one row per (target_id, leaf_id) with ``points`` (None/NaN for a target not
    assessed) and ``max_points`` (``scoring.run.leaf_frame``); ``tree``: the indicator tree
    (``extractors.model.Tree``); ``groups``: target_id → group (every target to report, in order);
    ``settings``: the ``uncertainty`` key of the scoring config (defaults: ``DEFAULTS``);
    ``rank_method``: the run's rank method, to tell whether tiers enter ranks.
    """
    check_config(settings)
    s = {**DEFAULTS, **(settings or {})}
    if "tier" in str(rank_method).lower():
        raise StatsError("rank uncertainty: this run ranks by tier; swapping the tier method "
                         "(equal-interval vs quantile) per draw is not implemented")
    n_draws, spread, eps = int(s["draws"]), float(s["weight_spread"]), float(s["geometric_epsilon"])
    aggs = list(dict.fromkeys(s["aggregations"]))
    indices = [n.id for n in tree.indices]
    nodes = list(tree.order)
    pos = {nid: k for k, nid in enumerate(nodes)}
    root = len(nodes)  # the parent slot of the first-level indices
    parent = np.array([pos[tree.nodes[n].parent] if tree.nodes[n].parent is not None else root for n in nodes])
    leaf_ids = [leaf.id for leaf in tree.leaves]
    index_pos = np.array([pos[tree.index_of(lid).id] for lid in leaf_ids])
    # path of each leaf below its index (the leaf itself, its sub, ...), padded with the root slot
    paths = []
    for lid in leaf_ids:
        path, nid = [], lid
        while tree.nodes[nid].parent is not None:
            path.append(pos[nid])
            nid = tree.nodes[nid].parent
        paths.append(path)
    sibling_sum = np.zeros((len(nodes), len(nodes) + 1))  # node -> its parent's slot
    sibling_sum[np.arange(len(nodes)), parent] = 1.0
    depth = max((len(p) for p in paths), default=0)
    path_arr = np.array([p + [root] * (depth - len(p)) for p in paths], dtype=int).reshape(len(leaf_ids), depth)

    rng = np.random.default_rng(int(s["seed"]))
    u = rng.uniform(1 - spread, 1 + spread, size=(n_draws, len(nodes))) if spread > 0 \
        else np.ones((n_draws, len(nodes)))
    agg_draw = rng.integers(0, len(aggs), size=n_draws)
    drop_draw = rng.integers(-1, len(indices), size=n_draws) if s["drop_index"] and indices \
        else np.full(n_draws, -1)

    target_ids = list(groups)
    col = {t: k for k, t in enumerate(target_ids)}
    leaf_col = {lid: k for k, lid in enumerate(leaf_ids)}
    lf = leaves[leaves["leaf_id"].isin(leaf_col) & leaves["target_id"].isin(col)]
    points = pd.to_numeric(lf["points"], errors="coerce").to_numpy(float)
    not_assessed = set(lf["target_id"][np.isnan(points)]) | (set(target_ids) - set(lf["target_id"]))
    at = (lf["target_id"].map(col).to_numpy(int), lf["leaf_id"].map(leaf_col).to_numpy(int))
    all_points = np.zeros((len(target_ids), len(leaf_ids)))  # target × leaf; 0 where not applicable
    all_points[at] = np.nan_to_num(points)
    all_max = np.zeros_like(all_points)
    all_max[at] = pd.to_numeric(lf["max_points"], errors="coerce").fillna(0.0).to_numpy(float)
    ranks = np.full((n_draws, len(target_ids)), np.nan)
    nominal = np.full(len(target_ids), np.nan)
    geometric = np.array([aggs[a] == "geometric" for a in agg_draw])

    for g in dict.fromkeys(groups.values()):
        tids = [t for t in target_ids if groups[t] == g and t not in not_assessed]
        if not tids:
            continue
        cols = [col[t] for t in tids]
        # nominal leaf weights of the group: the leaf's max points as the run scored it (0: not applicable)
        w_leaf = all_max[cols].max(axis=0)
        w = _node_weights(w_leaf, paths, index_pos, len(nodes))
        pts = all_points[cols]
        rate = np.divide(pts, w_leaf, out=np.zeros_like(pts), where=w_leaf > 0)  # (T, L)
        # q: a node's share among its siblings after the perturbation (D × N, root slot = 1)
        wu = w[None, :-1] * u
        denom = (wu @ sibling_sum)[:, parent]  # per node: the perturbed weights of it and its siblings
        q = np.ones((n_draws, len(nodes) + 1))
        q[:, :-1] = np.divide(wu, denom, out=np.zeros_like(wu), where=denom > 0)
        coef = q[:, path_arr].prod(axis=2) if depth else np.ones((n_draws, len(leaf_ids)))  # (D, L)
        idx_rates = np.zeros((n_draws, len(tids), len(indices)))
        for i, iid in enumerate(indices):
            under = index_pos == pos[iid]
            idx_rates[:, :, i] = (rate[:, under] @ coef[:, under].T).T
        v = q[:, [pos[i] for i in indices]].copy()  # (D, I)
        dropped = drop_draw >= 0
        rows = np.nonzero(dropped)[0]
        kept = v.copy()
        kept[rows, drop_draw[rows]] = 0.0
        total = kept.sum(axis=1, keepdims=True)
        v = np.where(total > 0, kept / np.where(total > 0, total, 1.0), v)  # dropping the only weighted index: keep all
        arith = (v[:, None, :] * idx_rates).sum(axis=2)
        geo = np.exp((v[:, None, :] * np.log(np.maximum(idx_rates, eps))).sum(axis=2))
        scores = np.where(geometric[:, None], geo, arith)
        ranks[:, cols] = _competition(scores)
        nominal_of = competition_ranks(dict(zip(tids, pts.sum(axis=1).tolist(), strict=True)))  # the run's rank
        nominal[cols] = [nominal_of[t] for t in tids]

    table = pd.DataFrame({"target_id": target_ids, "group": [groups[t] for t in target_ids], "rank": nominal})
    for name in COLUMNS:
        table[name] = np.nan
    ok = ~np.isnan(nominal)
    if ok.any():
        vals = np.percentile(ranks[:, ok], [p for _, p in PERCENTILES], axis=0, method=PERCENTILE_METHOD)
        for k, (name, _) in enumerate(PERCENTILES):
            table.loc[ok, name] = vals[k]
    for name in ["rank", *COLUMNS]:  # every value is a rank some draw gave: integers, <NA> when not assessed
        table[name] = table[name].round().astype("Int64")
    table = table.set_index("target_id")
    methods = _methods(s, aggs, indices, agg_draw, drop_draw)
    return UncertaintyResult(table=table, methods=methods, ranks=ranks,
                             factors={nid: u[:, k] for k, nid in enumerate(nodes)},
                             aggregation=[aggs[a] for a in agg_draw],
                             dropped=[indices[k] if k >= 0 else None for k in drop_draw])


def _node_weights(w_leaf: np.ndarray, paths: list[list[int]], index_pos: np.ndarray, n_nodes: int) -> np.ndarray:
    """Nominal weight of every node (and the root slot): the points of the applicable leaves under it."""
    w = np.zeros(n_nodes + 1)
    for k, path in enumerate(paths):
        for p in {*path, int(index_pos[k])}:
            w[p] += w_leaf[k]
    w[n_nodes] = w_leaf.sum()
    return w


def _methods(s: dict, aggs: list[str], indices: list[str], agg_draw: np.ndarray,
             drop_draw: np.ndarray) -> dict[str, Any]:
    k = len(indices)
    drop_p = k / (k + 1) if s["drop_index"] and k else 0.0
    spread = float(s["weight_spread"])
    parts = [f"{int(s['draws'])} Monte Carlo draws (numpy default_rng, seed {int(s['seed'])})",
             f"every node weight (leaf, sub, first-level index) times U(1 - {spread:g}, 1 + {spread:g}), "
             "renormalised among siblings so each parent's total weight is unchanged",
             "aggregation of the first-level index rates drawn with equal probability from "
             + " / ".join(aggs)
             + (f" (weighted geometric mean with rates below {float(s['geometric_epsilon']):g} raised to "
                f"{float(s['geometric_epsilon']):g}, so an index at 0 does not zero the score)"
                if "geometric" in aggs else ""),
             (f"one first-level index left out or none, each of the {k + 1} outcomes with probability 1/{k + 1}"
              if drop_p else "no index left out"),
             "ranks within the group by competition ranking (points descending) among assessed targets",
             f"intervals = 5th, 50th and 95th percentiles of the rank over the draws ({PERCENTILE_METHOD}, "
             "Hyndman-Fan 1: a rank some draw gave)",
             "tiers do not enter ranks, so the tier method (equal-interval vs quantile) is not varied",
             "not-assessed targets take no part"]
    return {"draws": int(s["draws"]), "seed": int(s["seed"]), "weight_spread": spread,
            "weights": "uniform factor per node, renormalised among siblings",
            "aggregations": aggs, "geometric_epsilon": float(s["geometric_epsilon"]),
            "drop_index": bool(s["drop_index"]), "drop_index_probability": drop_p,
            "aggregation_counts": {a: int((agg_draw == j).sum()) for j, a in enumerate(aggs)},
            "dropped_counts": {"none": int((drop_draw < 0).sum()),
                               **{i: int((drop_draw == j).sum()) for j, i in enumerate(indices)}},
            "percentile_method": PERCENTILE_METHOD, "tiers": "do not enter ranks (not varied)",
            "text": "; ".join(parts) + "."}


def method_rows(methods: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The report's methods rows (item, value) of a rank-uncertainty analysis."""
    return [("rank uncertainty (排名不确定性)", str(methods["text"])),
            ("rank uncertainty: draws / seed", f"{methods['draws']} / {methods['seed']}")]


def run_uncertainty(leaves: pd.DataFrame, tree: Any, groups: Mapping[str, str], cfg: Mapping[str, Any]) -> UncertaintyResult:
    """``rank_uncertainty`` with the settings and rank method of a run's scoring config."""
    return rank_uncertainty(leaves, tree, groups, cfg.get("uncertainty"),
                            rank_method=str(cfg.get("rank_method", "")))
