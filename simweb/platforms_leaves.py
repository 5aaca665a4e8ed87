"""The platform leaves' truth: what a correct scorer gives each site for its service portal and
open-data platform, in the shape of ``truth[site]["leaves"][leaf_id]`` (``simweb.generate``).

The facts come from ``simweb.platforms`` (``truth[site]["platforms"]``); graded leaves take their
thresholds from the leaf's rule file (``rules/leaves/<leaf>.yaml``: the first rule with ``tiers``),
so the grade a rule author sets is the grade the truth expects. A leaf whose rule file does not
exist is left out. The entries add to the portal's leaves (same keys: ``present``, ``points_share``,
``sitewide``, ``how``, ``reach``, ``urls``, ``attachment_urls``, ``traps``, ``trap_details``) and
two more: ``post_urls`` (those of ``urls`` that answer POST only: a list API with a JSON body,
``truth[site]["platforms"]["data"]["urls"]["api_post"]``) and ``scope``: for a leaf whose evidence is on every page of the platform (``sitewide``
true: available, data requests in the footer), ``urls`` lists the pages of the platform's
crawlable core (home, list pages holding the sample, the sample's detail pages, the service
portal's guides, the side pages) and any deeper page under ``scope`` carries it too.

Leaves: ``service_portal_available``, ``unified_login``, ``guide_completeness`` (graded on the
pooled share), ``online_transaction_depth`` (graded on the 全程网办 share), ``hotline_web_form``,
``open_data_available``, ``dataset_count`` and ``api_count`` (graded on the counters),
``machine_readable_share`` and ``data_freshness`` (graded on the sample's shares),
``open_data_licence``, ``data_requests_feedback``, ``data_reuse_showcase``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from simweb.profile import RULES_DIR

if TYPE_CHECKING:
    from simweb.model import SiteModel


@lru_cache(maxsize=64)
def _rule(leaf_id: str, rules_dir: str = str(RULES_DIR)) -> tuple[float, tuple[tuple[float, float], ...]] | None:
    """(leaf points, ((min, points), ...) of its first tiered rule) or None when the leaf has no file."""
    path = Path(rules_dir) / "leaves" / f"{leaf_id}.yaml"
    if not path.exists():
        return None
    d = yaml.safe_load(path.read_text(encoding="utf-8"))
    tiers: tuple[tuple[float, float], ...] = ()
    for r in d.get("rules", []):
        t = r.get("tiers")
        if t and t.get("points"):
            tiers = tuple(sorted((float(x["min"]), float(x["points"])) for x in t["points"]))
            break
    return float(d.get("points", 1)), tiers


def graded(leaf_id: str, value: float | None) -> float | None:
    """The share of ``leaf_id``'s points ``value`` earns by its rule file's tiers (None: no such leaf)."""
    rule = _rule(leaf_id)
    if rule is None:
        return None
    points, tiers = rule
    if value is None:
        return 0.0
    if not tiers:
        return 1.0 if value else 0.0
    got = max((p for lo, p in tiers if value >= lo - 1e-9), default=0.0)
    return min(1.0, got / points) if points else 0.0


def _entry(present: bool, share: float, urls: list[str], how: list[str], traps: list[dict[str, Any]],
           sitewide: bool = False, scope: str = "", post: frozenset[str] = frozenset()) -> dict[str, Any]:
    present = present and share > 0
    flat: list[str] = []
    for t in traps:
        flat += [u for u in t["urls"] if u not in flat]
    urls = list(dict.fromkeys(urls)) if present else []
    return {"present": present, "points_share": round(share, 4) if present else 0.0, "sitewide": sitewide,
            "how": how, "reach": [], "urls": urls, "attachment_urls": [], "traps": flat, "trap_details": traps,
            "scope": scope if present and sitewide else "", "post_urls": [u for u in urls if u in post]}


def _traps(p: dict, *kinds: str) -> list[dict[str, Any]]:
    return [t for t in p["traps"] if t["kind"] in kinds]


def platform_leaves(m: SiteModel, platforms: dict[str, dict]) -> dict[str, dict[str, Any]]:
    """``leaf_id -> leaf truth`` for the platform leaves that have rule files (see the docstring)."""
    s, d = platforms["service"], platforms["data"]
    su, du = s["urls"], d["urls"]
    s_pages = [*su.get("home", []), *su.get("lists", []), *su.get("guides", []), *su.get("other", [])]
    d_pages = [*du.get("home", []), *du.get("lists", []), *du.get("datasets", []), *du.get("other", [])]
    s_api, d_api = su.get("api", []), du.get("api", []) + [x["url"] for x in du.get("api_post", [])]
    guides = su.get("guides", []) + [u for u in s_api if "/detail" in u] + [u for u in s_api if "/item/list" in u]
    d_lists = du.get("lists", []) + [u for u in d_api if "/dataset/" in u and "detail" not in u]
    post = frozenset(x["url"] for x in du.get("api_post", []))
    other_city = _traps(s, "other_city_branch", "coming_soon")
    d_other = _traps(d, "other_city_branch", "coming_soon")
    out: dict[str, dict[str, Any]] = {}

    def add(leaf: str, value: Any, urls: list[str], how: list[str], traps: list[dict[str, Any]], **kw: Any) -> None:
        share = graded(leaf, value)
        if share is not None:
            out[leaf] = _entry(bool(value), share, urls, how, traps, post=post, **kw)

    add("service_portal_available", s["available"], s_pages + s_api, [s["branch"], s["dialect"] or s["status"]],
        other_city, sitewide=True, scope=s["scope"])
    add("unified_login", s["unified_login"], su.get("home", []) + su.get("login", []) + su.get("guides", []),
        [s["dialect"] or ""], _traps(s, "local_login"))
    add("guide_completeness", s["guide_completeness"], guides, [s["dialect"] or ""], [])
    add("online_transaction_depth", s["online_share"], guides, [s["dialect"] or ""], [])
    add("hotline_web_form", s["web_form_12345"], [s["form_url"]] if s["form_url"] else [], [],
        _traps(s, "phone_only_12345"))
    add("open_data_available", d["available"], d_pages + d_api, [d["branch"], d["dialect"] or d["status"]],
        d_other, sitewide=True, scope=d["scope"])
    counter = du.get("home", []) if d["dialect"] == "odweb" else [u for u in d_api if "statistics" in u]
    add("dataset_count", d["dataset_count"], counter + d_lists, ["counter_zero"] if d["available"] and not
        d["dataset_count"] else [], _traps(d, "placeholder_counter"))
    add("api_count", d["api_count"], counter + du.get("lists", []) + [u for u in d_api if "/interface/" in u], [],
        _traps(d, "placeholder_counter"))
    sample = d_lists + du.get("datasets", []) + [u for u in d_api if "dataset/detail" in u]
    add("machine_readable_share", d["machine_readable_share"], sample, [], [])
    add("data_freshness", d["fresh_share"], sample, [], [])
    add("open_data_licence", d["open_licence"], [d["licence_url"]] if d["licence_url"] else [], [],
        _traps(d, "placeholder_licence"))
    add("data_requests_feedback", d["data_requests"], d_pages, [], [], sitewide=True, scope=d["scope"])
    add("data_reuse_showcase", d["reuse_showcase"], [d["showcase_url"]] if d["showcase_url"] else [], [],
        _traps(d, "empty_showcase"))
    return out
