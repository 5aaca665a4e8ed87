"""The target registry: who is evaluated, in which group, and where its portal is.

A *target* is one government scored in one group; a *site* is one government's
web presence, crawled once. 杭州 is one site and two targets (capital, gdp100).
The registry is a CSV (``data/registry.csv`` by default); any CSV with the same
columns can be given to ``windvane crawl --registry``.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_REGISTRY = Path(__file__).resolve().parent.parent / "data" / "registry.csv"

REQUIRED_COLUMNS = ["target_id", "group", "site_id", "name_zh", "admin_code", "portal_url"]
OPTIONAL_COLUMNS = [
    "name_en", "province", "level", "gdp_2022_yi", "gdp_rank", "gdp_status",
    "portal_confidence", "zwfw_url", "opendata_url", "source",
]
GROUPS = {"province": 32, "capital": 32, "gdp100": 100}
GROUP_NAMES_ZH = {"province": "省级", "capital": "省会及计划单列市", "gdp100": "GDP百强城市"}


class RegistryError(Exception):
    """A registry problem a user can fix; the message names the file and row."""


@dataclass(frozen=True)
class Target:
    target_id: str
    group: str
    site_id: str
    name_zh: str
    admin_code: str
    portal_url: str
    row: int  # 1-based line number in the CSV (header is line 1)
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def get(self, key: str, default: str = "") -> str:
        return self.extra.get(key, default) or default

    @property
    def gdp(self) -> float | None:
        v = self.extra.get("gdp_2022_yi")
        return float(v) if v not in (None, "") else None

    @property
    def gdp_rank(self) -> int | None:
        v = self.extra.get("gdp_rank")
        return int(v) if v not in (None, "") else None


@dataclass(frozen=True)
class Site:
    """One government's web presence: crawled once, scored once per target."""

    site_id: str
    name_zh: str
    portal_url: str
    targets: tuple[Target, ...]

    @property
    def host(self) -> str:
        return urlsplit(self.portal_url).hostname or ""


@dataclass
class Registry:
    path: str
    targets: list[Target]
    text: str  # the CSV as read, kept by campaigns so later stages need no second copy

    @property
    def sites(self) -> list[Site]:
        by_site: dict[str, list[Target]] = {}
        for t in self.targets:
            by_site.setdefault(t.site_id, []).append(t)
        return [Site(sid, ts[0].name_zh, ts[0].portal_url, tuple(ts)) for sid, ts in by_site.items()]

    def target(self, target_id: str) -> Target:
        for t in self.targets:
            if t.target_id == target_id:
                return t
        raise KeyError(target_id)

    def by_group(self, group: str) -> list[Target]:
        return [t for t in self.targets if t.group == group]


def _check_url(url: str) -> str | None:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        return f"portal_url {url!r} is not an http(s) URL"
    if not parts.hostname or "." not in parts.hostname:
        return f"portal_url {url!r} has no valid host name"
    return None


def parse_registry(text: str, path: str = "<registry>", *, full: bool = False) -> Registry:
    """Parse registry CSV text. Raises RegistryError listing every bad row.

    ``full=True`` also demands the three groups at their official sizes
    (32/32/100); a partial registry (a subset of sites) is fine for a crawl.
    """
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise RegistryError(f"{path}:1: missing column(s) {', '.join(missing)}; "
                            f"required: {', '.join(REQUIRED_COLUMNS)}")
    errors: list[str] = []
    targets: list[Target] = []
    seen: dict[str, int] = {}
    site_urls: dict[str, tuple[str, int]] = {}
    for i, raw in enumerate(reader, start=2):
        row = {k: (v or "").strip() for k, v in raw.items() if k is not None}
        where = f"{path}:{i}"
        for col in REQUIRED_COLUMNS:
            if not row.get(col):
                errors.append(f"{where}: empty {col}")
        if row.get("group") and row["group"] not in GROUPS:
            errors.append(f"{where}: unknown group {row['group']!r} (expected one of {', '.join(GROUPS)})")
        if row.get("portal_url"):
            problem = _check_url(row["portal_url"])
            if problem:
                errors.append(f"{where}: {problem}")
        tid = row.get("target_id", "")
        if tid in seen:
            errors.append(f"{where}: duplicate target_id {tid!r} (first on line {seen[tid]})")
        seen[tid] = i
        sid = row.get("site_id", "")
        if sid and row.get("portal_url"):
            if sid in site_urls and site_urls[sid][0] != row["portal_url"]:
                errors.append(f"{where}: site {sid} has portal_url {row['portal_url']!r} but line "
                              f"{site_urls[sid][1]} gives {site_urls[sid][0]!r}")
            site_urls.setdefault(sid, (row["portal_url"], i))
        for col in ("gdp_2022_yi", "gdp_rank"):
            if row.get(col):
                try:
                    float(row[col])
                except ValueError:
                    errors.append(f"{where}: {col} {row[col]!r} is not a number")
        extra = {k: v for k, v in row.items() if k not in REQUIRED_COLUMNS}
        targets.append(Target(tid, row.get("group", ""), sid, row.get("name_zh", ""),
                              row.get("admin_code", ""), row.get("portal_url", ""), i, extra))
    # the same admin code in one group twice is a duplicate government
    per_group = Counter((t.group, t.admin_code) for t in targets)
    for (group, code), n in per_group.items():
        if n > 1 and code:
            lines = [str(t.row) for t in targets if t.group == group and t.admin_code == code]
            errors.append(f"{path}:{lines[1]}: duplicate admin_code {code} in group {group} "
                          f"(lines {', '.join(lines)})")
    if full:
        sizes = Counter(t.group for t in targets)
        for group, want in GROUPS.items():
            if sizes.get(group, 0) != want:
                errors.append(f"{path}: group {group} has {sizes.get(group, 0)} targets, expected {want}")
    if not targets:
        errors.append(f"{path}: no targets")
    if errors:
        raise RegistryError("\n".join(errors))
    return Registry(path, targets, text)


def load_registry(path: str | Path | None = None, *, full: bool = False) -> Registry:
    p = Path(path) if path else DEFAULT_REGISTRY
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RegistryError(f"{p}: registry file not found") from None
    except UnicodeDecodeError as e:
        raise RegistryError(f"{p}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    return parse_registry(text, str(p), full=full)


GDP_STATUS_CLASSES = ("confirmed", "corrected", "unverified")


def gdp_status_class(status: str | None) -> str | None:
    """How a registry ``gdp_status`` was checked: ``confirmed`` (``confirmed…`` or ``near-confirmed…``),
    ``corrected`` (``corrected…``, also ``corrected-likely``), ``unverified`` (``unverified…``), or None
    for a status that says none of these (the provinces' confidence levels ``high``/``medium``, empty)."""
    s = (status or "").strip().lower()
    if s.startswith(("confirmed", "near-confirmed")):
        return "confirmed"
    if s.startswith("corrected"):
        return "corrected"
    if s.startswith("unverified"):
        return "unverified"
    return None


def gdp_status_counts(rows: Iterable[tuple[str, str | None]]) -> dict[str, Counter]:
    """Per group, how many GDP figures are confirmed, corrected or unverified, from (group, gdp_status)
    pairs; a status of no class is counted under its own text (e.g. ``high``)."""
    out: dict[str, Counter] = {}
    for group, status in rows:
        out.setdefault(group, Counter())[gdp_status_class(status) or (status or "").strip() or "no status"] += 1
    return out
