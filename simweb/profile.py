"""Per-target profiles of the simulated web: which leaves each site meets, in 2023 and in 2022.

A real edition of the index is not a set of independent coin flips: rich provinces and cities
score high, four provinces lead by far, provinces are stronger in 统筹管理 / 数字能力 / 强基赋能 and
cities in 安全规制 / 应用成效, and from one year to the next some governments gain a lot. The
profile reproduces the shape the 2023 edition publishes (../shared/seed/000_bcc288fad2ab52c2.txt;
README, "The simulated government web"):

* every site gets a **target score** (0–100, the report's ``score_100``) from the GDP rank of its
  target in its group (read from the registry at run time) plus seeded noise whose size is tuned,
  per group, so that Spearman's ρ of GDP rank and score rank is the published one (provinces
  0.6246, capitals & planned cities 0.7691, GDP-100 0.6248). Anchors the report names are pinned:
  浙江 88.73, 北京 88.60, 上海 80.50, 广东 80.13 (alone in the provincial first tier: the rest stay
  below 76 and the weakest provinces near 38, so the equal-interval cut falls between them);
  杭州, 深圳, 广州 the only capitals or planned cities above 80. A site shared by several targets
  (a capital that is also a GDP-100 city, a municipality that is also a GDP-100 city) has one
  profile: its capital (or provincial) score.
* every site gets a **progress** g (推进率 by ``relative_change``): its 2022 target score is the
  2023 one / (1 + g). 山东 0.58, 海南 0.53 (the largest among provinces, the rest at most 0.40),
  青岛 0.85 (the largest among cities, the rest at most 0.60).
* leaves are then **chosen, not flipped**: each applicable leaf of the site gets a key — the
  leaf's difficulty (from its feature's ``presence``: rare leaves come late), seeded per-site noise,
  and an offset by level and first-level index (provinces favour coordination, capability and
  infrastructure; cities security and effectiveness) — and leaves are switched on in key order
  while the expected points stay within the target (leaf points from rules/). Leaves the site
  cannot choose (``https_access`` from the scheme, ``gov_domain`` from the host,
  ``policy_validity_labels`` from the template) count as fixed points first.
* the 2022 set is a subset of the 2023 set (re-ordered with more noise, filled to the 2022
  target) plus a few leaves the site had in 2022 and lost by 2023.

The simulated web imports no rule code (it depends on the registry only), so leaf points and
parents are read from ``rules/tree.yaml`` and ``rules/leaves/*.yaml`` directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from evidence.registry import DEFAULT_REGISTRY, Registry, load_registry
from simweb.content import rng_for

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"
YEARS = (2022, 2023)
DEFAULT_YEAR = 2023
GROUP_SIZES = {"province": 32, "capital": 32, "gdp100": 100}

# published statements (the 2023 edition) the profile is calibrated to
TARGET_RHO = {"province": 0.6246, "capital": 0.7691, "gdp100": 0.6248}
ANCHOR_SCORES = {  # name_zh -> 2023 score_100
    "浙江省": 88.73, "北京市": 88.60, "上海市": 80.50, "广东省": 80.13,
    "杭州市": 86.0, "深圳市": 84.0, "广州市": 82.0,
}
ANCHOR_PROGRESS = {"山东省": 0.58, "海南省": 0.53, "青岛市": 0.85}
# non-anchor scores are spread over [low, high] per group; the top stays below the leaders and the
# lowest provinces sit near 38 so that the equal-interval first tier holds the four leaders alone
SPREAD = {"province": (42.0, 76.0), "capital": (44.0, 75.0), "gdp100": (40.0, 72.0)}
FLOOR_GROUP = {"province": (38.0, 39.0, 39.8)}  # the weakest few pinned this low (one may be blocked)
PROGRESS_RANGE = {"province": (0.02, 0.40), "city": (0.02, 0.60)}

# first-level index -> key offset by level: negative comes earlier (more often present)
INDEX_OFFSET = {
    "province": {"coordination": -0.45, "capability": -0.2, "infrastructure": -0.35,
                 "security": -0.05, "effectiveness": -0.1},
    "city": {"coordination": -0.05, "capability": 0.15, "infrastructure": 0.2,
             "security": -0.4, "effectiveness": -0.5},
}
NOISE = 0.9  # per-site noise of a leaf's key (standard normal units)
NOISE_2022 = 0.8  # extra noise of the order in which 2023 leaves were gained
FIXED = ("https_access", "gov_domain", "policy_validity_labels")  # not chosen: decided by the site
EXPECTED_SHARE = {"column_freshness": 0.85, "message_reply_timeliness": 0.8, "policy_validity_labels": 0.95}


@dataclass(frozen=True)
class Leaf:
    id: str
    points: float
    index: str


@dataclass
class SiteProfile:
    """What the profile decided for one site."""

    site_id: str
    level: str  # province | city
    score: float  # 2023 target score_100
    progress: float  # g: score_2022 = score / (1 + g)
    groups: tuple[str, ...] = ()
    corrections: dict[int, float] = field(default_factory=dict)  # year -> points the built site missed its target by
    _chosen: dict[tuple, frozenset[str]] = field(default_factory=dict, repr=False)

    def target(self, year: int) -> float:
        return self.score if year >= DEFAULT_YEAR else self.score / (1 + self.progress)

    def present(self, year: int, seed: int, fixed_points: float, total_points: float) -> frozenset[str]:
        """The chosen (non-fixed) leaves present in ``year`` given the site's fixed points."""
        key = (year, seed, round(fixed_points, 3), tuple(sorted(self.corrections.items())))
        if key not in self._chosen:
            self._chosen[key] = frozenset(choose(self, year, seed, fixed_points, total_points))
        return self._chosen[key]


# --- rules, read directly ---------------------------------------------------------------------------
@lru_cache(maxsize=4)
def leaves(rules_dir: str = str(RULES_DIR)) -> tuple[Leaf, ...]:
    """Every leaf of the tree with its points and first-level index (rules/tree.yaml + leaves/)."""
    root = Path(rules_dir)
    tree = yaml.safe_load((root / "tree.yaml").read_text(encoding="utf-8"))
    sub_index = {s["id"]: idx["id"] for idx in tree["indices"] for s in idx.get("subs", [])}
    out = []
    for p in sorted((root / "leaves").glob("*.yaml")):
        d = yaml.safe_load(p.read_text(encoding="utf-8"))
        out.append(Leaf(d["id"], float(d.get("points", 1)), sub_index.get(d.get("parent", ""), "")))
    return tuple(out)


def _presence() -> dict[str, float]:
    from simweb.features import FEATURES
    return {f.leaf_id: f.presence for f in FEATURES}


def _difficulty(p: float) -> float:
    """Standard-normal quantile of 1 - presence: common leaves come first."""
    from statistics import NormalDist
    p = min(max(p, 0.02), 0.98)
    return NormalDist().inv_cdf(1 - p)


def fixed_points(scheme: str, host: str, has_validity: bool) -> float:
    """Expected points of the leaves a site does not choose (see FIXED)."""
    pts = {lf.id: lf.points for lf in leaves()}
    return ((pts["https_access"] if scheme == "https" else 0.0)
            + (pts["gov_domain"] if host.endswith(".gov.cn") else 0.0)
            + (pts["policy_validity_labels"] * EXPECTED_SHARE["policy_validity_labels"] if has_validity else 0.0))


def _keys(prof: SiteProfile, seed: int) -> dict[str, float]:
    presence = _presence()
    off = INDEX_OFFSET["province" if prof.level == "province" else "city"]
    out = {}
    for lf in leaves():
        if lf.id in FIXED or lf.id not in presence:
            continue
        noise = rng_for(seed, prof.site_id, lf.id, "profile").gauss(0.0, 1.0)
        out[lf.id] = _difficulty(presence[lf.id]) + NOISE * noise + off.get(lf.index, 0.0)
    return out


def _fill(order: list[str], target: float, have: float = 0.0) -> list[str]:
    """Leaves of ``order`` switched on, in order, while the expected points stay within the target."""
    pts = {lf.id: lf.points * EXPECTED_SHARE.get(lf.id, 1.0) for lf in leaves()}
    out = []
    for leaf_id in order:
        if have + pts[leaf_id] <= target + 0.25:
            out.append(leaf_id)
            have += pts[leaf_id]
    return out


def choose(prof: SiteProfile, year: int, seed: int, fixed: float, total: float) -> list[str]:
    """The chosen leaves present in ``year`` (2023: the target share; 2022: a subset plus a few lost)."""
    keys = _keys(prof, seed)
    order = sorted(keys, key=lambda k: (keys[k], k))
    fix = prof.corrections
    now = _fill(order, prof.score / 100 * total - fixed + fix.get(DEFAULT_YEAR, 0.0))
    if year >= DEFAULT_YEAR:
        return now
    pts = {lf.id: lf.points for lf in leaves()}
    r = rng_for(seed, prof.site_id, "lost")
    absent = [k for k in order if k not in now]
    lost = absent[: r.choice([0, 1, 1, 2])]  # had it in 2022, lost by 2023 (the nearest misses)
    again = {k: keys[k] + NOISE_2022 * rng_for(seed, prof.site_id, k, "gained").gauss(0.0, 1.0) for k in now}
    kept = _fill(sorted(again, key=lambda k: (again[k], k)), prof.target(year) / 100 * total - fixed + fix.get(year, 0.0),
                 sum(pts[k] for k in lost))
    return lost + kept


# --- target scores ----------------------------------------------------------------------------------
def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    r = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return r


def spearman(x: list[float], y: list[float]) -> float:
    rx, ry = _ranks(x), _ranks(y)
    n = len(x)
    mx, my = sum(rx) / n, sum(ry) / n
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = math.sqrt(sum((a - mx) ** 2 for a in rx))
    vy = math.sqrt(sum((b - my) ** 2 for b in ry))
    return cov / (vx * vy) if vx and vy else math.nan


def _spread(raw: dict[str, float], group: str) -> dict[str, float]:
    lo, hi = SPREAD[group]
    a, b = min(raw.values()), max(raw.values())
    out = {k: lo + (v - a) / (b - a) * (hi - lo) if b > a else hi for k, v in raw.items()}
    for floor, sid in zip(FLOOR_GROUP.get(group, ()), sorted(out, key=lambda s: out[s]), strict=False):
        out[sid] = min(out[sid], floor)
    return out


def _group_scores(group: str, members: list[tuple[str, int]], fixed: dict[str, float],
                  seed: int) -> dict[str, float]:
    """Scores of the free members (site_id, gdp_rank) of one group, tuned to the group's ρ."""
    free = [(s, r) for s, r in members if s not in fixed]
    if not free:
        return {}
    n = GROUP_SIZES[group]
    base = {s: 1.0 - (r - 1) / max(n - 1, 1) for s, r in free}
    eps = {s: rng_for(seed, s, "strength").gauss(0.0, 1.0) for s, _ in free}

    def make(scale: float) -> dict[str, float]:
        return _spread({s: base[s] + scale * eps[s] for s, _ in free}, group)

    if len(members) < 8:
        return make(0.35)
    best, best_err = 0.0, math.inf
    for step in range(0, 241):
        scale = step * 0.005
        scores = {**make(scale), **{s: fixed[s] for s, _ in members if s in fixed}}
        rho = spearman([float(r) for _, r in members], [-scores[s] for s, _ in members])
        if abs(rho - TARGET_RHO[group]) < best_err:
            best, best_err = scale, abs(rho - TARGET_RHO[group])
    return make(best)


def build(registry: Registry, seed: int) -> dict[str, SiteProfile]:
    """site_id -> profile for every site of ``registry`` (the default registry's sites tune the groups,
    so a site looks the same in a registry of a few sites as in the full one)."""
    targets = {t.target_id: t for t in _default_targets()}
    targets.update({t.target_id: t for t in registry.targets})
    by_group: dict[str, list[tuple[str, int]]] = {g: [] for g in GROUP_SIZES}
    names: dict[str, str] = {}
    groups: dict[str, list[str]] = {}
    for t in targets.values():
        names[t.site_id] = t.name_zh
        groups.setdefault(t.site_id, []).append(t.group)
        if t.group in by_group:
            by_group[t.group].append((t.site_id, t.gdp_rank or GROUP_SIZES[t.group]))
    scores: dict[str, float] = {s: v for s, v in ((s, ANCHOR_SCORES.get(n)) for s, n in names.items()) if v}
    for group in ("province", "capital", "gdp100"):  # a shared site keeps its first group's score
        scores.update(_group_scores(group, by_group[group], scores, seed))
    out = {}
    for site_id, score in scores.items():
        level = "province" if "province" in groups[site_id] else "city"
        name = names[site_id]
        if name in ANCHOR_PROGRESS:
            g = ANCHOR_PROGRESS[name]
        else:
            lo, hi = PROGRESS_RANGE[level]
            g = lo + (hi - lo) * rng_for(seed, site_id, "progress").random()
        out[site_id] = SiteProfile(site_id, level, round(score, 2), round(g, 3), tuple(groups[site_id]))
    return {s.site_id: out[s.site_id] for s in registry.sites if s.site_id in out}


@lru_cache(maxsize=1)
def _default_targets() -> tuple:
    try:
        return tuple(load_registry(DEFAULT_REGISTRY).targets)
    except Exception:  # a registry being edited: the given registry alone tunes the groups
        return ()


@lru_cache(maxsize=8)
def default_profiles(seed: int) -> dict[str, SiteProfile]:
    """Profiles of the default registry (for ``build_site`` called without a profile)."""
    return build(load_registry(DEFAULT_REGISTRY), seed)
