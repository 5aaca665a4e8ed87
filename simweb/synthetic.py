"""Synthetic registries of any size, for scale tests: ``synthetic_registry(n)`` and ``windvane simweb serve --sites N``.

A generated registry has one target per site and rows a real registry could hold: unique
admin codes (``9NNNNN``, a range no real 行政区划代码 uses, so the ids never meet a real site's),
``site_id`` = admin code, hosts ``www.sNNNN.gov.cn`` over https, names such as 安宁市, the three
groups in the official proportion (32 : 32 : 100), a level, a province and a GDP rank per group.
Everything is a function of ``(n, seed)``: the same call gives the same CSV.

The simulated web serves these sites as it serves the real ones (``simweb.generate``), with two
differences that keep a large web cheap to run: which leaves a site meets is a seeded coin flip
per leaf (``profiles={}``: the calibrated profiles of ``simweb.profile`` tune each real portal by
building it several times, which is what a thousand portals cannot afford), and a bench crawls
them with a small per-site page budget (``bench/scale.py``).
"""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

from evidence.registry import Registry, parse_registry
from simweb.content import PROVINCE_ABBR
from simweb.generate import SimWeb, site_truth
from simweb.years import as_of as year_as_of

COLUMNS = ["target_id", "group", "site_id", "name_zh", "name_en", "admin_code", "province", "level", "gdp_2022_yi",
           "gdp_rank", "gdp_status", "portal_url", "portal_confidence", "zwfw_url", "opendata_url", "source"]
# the groups in the official proportion: 32 provincial units, 32 capitals and planned cities, 100 GDP-100 cities
GROUP_CYCLE = ["province", "capital"] + ["gdp100"] * 3 + ["province", "capital"] + ["gdp100"] * 3 + ["gdp100"] * 2
SYLLABLES = "安宁平阳丰临江和清河新昌兴华东南西北永泰德福长乐云山海兰青嘉文瑞通远"
PINYIN = dict(zip(SYLLABLES, ["an", "ning", "ping", "yang", "feng", "lin", "jiang", "he", "qing", "he", "xin",
                              "chang", "xing", "hua", "dong", "nan", "xi", "bei", "yong", "tai", "de", "fu", "chang",
                              "le", "yun", "shan", "hai", "lan", "qing", "jia", "wen", "rui", "tong", "yuan"],
                  strict=True))
SUFFIX = {"province": "省", "capital": "市", "gdp100": "市"}
PROVINCES = [p for p in PROVINCE_ABBR if p.endswith("省")]


def _name(i: int) -> tuple[str, str]:
    """The i-th synthetic place name (two syllables, then three, ...) and its pinyin: unique per i."""
    k = len(SYLLABLES)
    n, width = i + k + 1, 2  # start past 安安
    while n >= k ** width:
        n -= k ** width
        width += 1
    digits = []
    for _ in range(width):
        n, r = divmod(n, k)
        digits.append(r)
    chars = [SYLLABLES[(d + digits[0]) % k if j else d] for j, d in enumerate(digits)]  # a bijection, less regular
    return "".join(chars), "".join(PINYIN[c] for c in chars).capitalize()


def synthetic_rows(n: int, seed: int = 2023) -> list[dict[str, str]]:
    """``n`` registry rows (one target per site), deterministic in ``(n, seed)``."""
    if n < 1:
        raise ValueError(f"a synthetic registry needs at least 1 site, not {n}")
    rng = random.Random(f"synthetic-registry:{seed}")
    width = max(4, len(str(n)))
    rank = {g: 0 for g in SUFFIX}
    rows = []
    for i in range(n):
        group = GROUP_CYCLE[i % len(GROUP_CYCLE)]
        rank[group] += 1
        zh, en = _name(i)
        name = zh + SUFFIX[group]
        code = f"9{i + 1:05d}" if n < 100_000 else f"9{i + 1:0{width}d}"
        host = f"www.s{i + 1:0{width}d}.gov.cn"
        rows.append({
            "target_id": f"{group}-{code}", "group": group, "site_id": code, "name_zh": name, "name_en": en,
            "admin_code": code, "province": name if group == "province" else rng.choice(PROVINCES),
            "level": "province" if group == "province" else "city",
            "gdp_2022_yi": f"{max(50.0, 45000.0 / rank[group] ** 0.6 * rng.uniform(0.9, 1.1)):.1f}",
            "gdp_rank": str(rank[group]), "gdp_status": "synthetic", "portal_url": f"https://{host}/",
            "portal_confidence": "synthetic", "zwfw_url": "", "opendata_url": "", "source": "simweb.synthetic",
        })
    return rows


def synthetic_registry_text(n: int, seed: int = 2023) -> str:
    """The CSV text of :func:`synthetic_rows` (the columns of ``data/registry.csv``)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(synthetic_rows(n, seed))
    return buf.getvalue()


def synthetic_registry(n: int, seed: int = 2023, path: str | Path | None = None) -> Registry:
    """A validated registry of ``n`` generated sites; written to ``path`` as CSV when given
    (what ``windvane crawl --registry`` then reads)."""
    text = synthetic_registry_text(n, seed)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
    return parse_registry(text, str(path) if path is not None else f"<synthetic registry of {n} sites>")


def synthetic_web(registry: Registry, seed: int = 2023, faults: str = "basic", year: int = 2023) -> SimWeb:
    """The simulated web of a synthetic registry: leaves by seeded coin flips (no calibrated profiles)."""
    web = SimWeb(registry, seed, faults, None, year)
    web.profiles = {}  # build_site then flips a coin per leaf (ids 9NNNNN have no default profile either)
    return web


def write_synthetic_truth(web: SimWeb, path: str | Path) -> Path:
    """The truth table of a synthetic web (``simweb.generate``'s format, without profiles)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    table = {"seed": web.seed, "year": web.year, "as_of": year_as_of(web.year).isoformat(), "faults": web.faults,
             "profiles": {}, "sites": {m.site_id: site_truth(m) for m in web.models()}}
    p.write_text(json.dumps(table, ensure_ascii=False, indent=1), encoding="utf-8")
    return p
