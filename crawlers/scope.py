"""A site's web presence: its portal plus its service portal and open-data platform.

A government is on the web with more than its portal: its online-service portal (政务服务网 /
一网通办, the registry's ``zwfw_url``) and its public-data open platform (公共数据开放平台,
``opendata_url``) are platforms of their own, usually on other hosts. This module decides
what belongs to which part of a site's presence; ``crawlers.spider`` crawls each part with its
own budget.

``Platform``: one platform of a site — its ``kind`` (``service`` | ``opendata``), entry URL,
host and *branch* (path prefix), and where it came from (``registry`` or ``discovered`` from
the portal's own links, with the link text and the page it was on).

Branches. Provincial service portals are shared by the cities of their province: a city has a
branch, either a host of its own under the province's domain (``hf.ahzwfw.gov.cn``) or a path
under the provincial host (``www.ahzwfw.gov.cn/hefei/``). A platform's branch is its host plus
the first directory of its entry URL's path (``/hefei/``; ``/`` for an entry at the host's root
or at a file in it, such as ``/index.html``). A URL belongs to the *most specific* branch that
covers it among all sites of a crawl (longest prefix; see ``BranchIndex``): the province, whose
branch is the whole host, does not crawl the city's ``/hefei/`` pages, which the city crawls and
is scored on. Two sites naming the same branch share it: it is fetched once and its pages are
stored under the site that claimed it first (see docs/store.md, ``site_platforms``).

``discover_platforms(links, …)``: where the registry gives none, the portal's own links name the
platforms: labels such as 政务服务网 / 一网通办 / 网上办事大厅 and 数据开放 / 公共数据开放平台,
hosts such as ``zwfw.*``, ``*zwfw.gov.cn``, ``data.*``, ``opendata.*``. National platforms
(国家政务服务平台 on ``gjzwfw.www.gov.cn``, 国家统计局's ``data.stats.gov.cn``) are not a
local government's own and are never taken.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

PLATFORM_KINDS = ("service", "opendata")
PORTAL = "portal"
# registry column of each platform kind (evidence.registry OPTIONAL_COLUMNS)
REGISTRY_COLUMNS = {"service": "zwfw_url", "opendata": "opendata_url"}

DEFAULT_PLATFORM_PAGES = 60  # pages per platform (WINDVANE_PLATFORM_PAGES)
DEFAULT_PLATFORM_DEPTH = 3  # link depth from the platform's entry page (WINDVANE_PLATFORM_DEPTH)
DISCOVER_DEPTH = 1  # portal pages up to this depth are read for platform links


def host_of(url: str) -> str:
    """Lower-case host of an absolute URL (no port, no credentials); '' if none."""
    try:
        netloc = url.split("/", 3)[2]
    except IndexError:
        return ""
    netloc = netloc.rpartition("@")[2]
    if netloc.startswith("["):
        return netloc.partition("]")[0][1:].lower()
    return netloc.partition(":")[0].lower()


def _path(url: str) -> str:
    try:
        return urlsplit(url).path or "/"
    except ValueError:
        return "/"


def branch_prefix(url: str) -> str:
    """The path prefix a platform entry URL stands for: its first directory, ``/`` for the host's root.

    ``https://x.gov.cn/hefei/`` and ``…/hefei/index.html`` -> ``/hefei/``; ``https://x.gov.cn/``
    and ``…/index.html`` -> ``/``; ``…/odweb/`` -> ``/odweb/``.
    """
    parts = [p for p in _path(url).split("/") if p]
    if not parts:
        return "/"
    if len(parts) == 1 and not _path(url).endswith("/") and "." in parts[0]:
        return "/"  # a file at the root (index.html, default.aspx): the whole host
    return f"/{parts[0]}/"


def in_branch(url: str, hosts: Iterable[str], prefix: str) -> bool:
    """Is ``url`` on one of ``hosts`` under ``prefix`` (``/hefei/`` also covers ``/hefei`` itself)?"""
    if host_of(url) not in hosts:
        return False
    path = _path(url)
    return prefix == "/" or path.startswith(prefix) or path == prefix.rstrip("/")


@dataclass(frozen=True)
class Platform:
    """One platform of a site's presence (see the module docstring)."""

    kind: str  # service | opendata
    url: str  # entry URL
    host: str
    prefix: str  # the branch: path prefix on ``host``
    source: str  # registry | discovered
    label: str = ""  # the link text it was discovered by
    found_on: str = ""  # the portal page whose link named it

    @property
    def key(self) -> str:
        """The branch: ``host`` + ``prefix`` (``www.ahzwfw.gov.cn/hefei/``)."""
        return self.host + self.prefix

    def as_dict(self) -> dict[str, str]:
        d = {"kind": self.kind, "url": self.url, "host": self.host, "prefix": self.prefix, "source": self.source}
        if self.label:
            d["label"] = self.label
        if self.found_on:
            d["found_on"] = self.found_on
        return d


def platform_at(kind: str, url: str, source: str, label: str = "", found_on: str = "") -> Platform | None:
    """The platform whose entry is ``url`` (None if ``url`` is not an http(s) URL with a host)."""
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")) or not host_of(url):
        return None
    return Platform(kind, url, host_of(url), branch_prefix(url), source, label.strip()[:80], found_on)


def registry_platforms(site: Any) -> list[Platform]:
    """The platforms the registry names for a site (``zwfw_url``, ``opendata_url`` of its targets)."""
    out: list[Platform] = []
    for kind, col in REGISTRY_COLUMNS.items():
        url = next((t.get(col) for t in getattr(site, "targets", ()) if t.get(col)), "")
        p = platform_at(kind, url, "registry") if url else None
        if p is not None:
            out.append(p)
    return out


# --- discovery from the portal's links -------------------------------------------------------------
_LABELS = {
    "service": re.compile(r"政务服务网|一网通办|网上办事大厅|网上办事|政务服务平台|政务服务门户|办事大厅|网上政务服务|"
                          r"掌上办|一网通|政务服务"),
    "opendata": re.compile(r"数据开放|开放数据|公共数据|数据资源开放|开放平台.{0,2}数据|data\s*open|open\s*data", re.I),
}
_HINTS = {"service": re.compile(r"办事|服务|办理"), "opendata": re.compile(r"数据|data", re.I)}
_NOT_LOCAL = re.compile(r"国家|全国|国务院|中央|统计局|统计数据|12345|热线|便民")  # national; the hotline is no portal
_NATIONAL_HOSTS = re.compile(r"(?:^|\.)www\.gov\.cn$|^gov\.cn$|(?:^|\.)stats\.gov\.cn$|(?:^|\.)data\.gov\.cn$")


def _host_kind(host: str) -> str | None:
    """``service`` / ``opendata`` if the host name alone says so (``zwfw.*``, ``*zwfw.gov.cn``, ``data.*``…)."""
    labels = host.split(".")
    first = labels[0]
    if any("zwfw" in lab for lab in labels[:-1]) or first in ("banshi", "zwdt", "wsbs", "wssp", "zwfwzx"):
        return "service"
    if first in ("data", "opendata") or any(lab.endswith("data") or lab.startswith("opendata")
                                            for lab in labels[:-2] if lab != "www"):
        return "opendata"
    return None


def _short_name(name: str) -> str:
    return re.sub(r"(?:省|市|自治区|特别行政区|壮族|回族|维吾尔)$", "", name or "")[:4]


def candidate_score(kind: str, url: str, text: str, name_zh: str = "") -> int:
    """How strongly a link (``url``, its text) names the site's ``kind`` platform: 0 = not at all.

    A label (政务服务网…, 数据开放…) and a host (``zwfw.*``, ``data.*``…) count 2 each; a host alone
    needs a hint in the text (办事/服务, 数据); the site's own name in the text adds 1. National
    platforms (国家…, ``*.www.gov.cn``, ``data.stats.gov.cn``) score 0.
    """
    host = host_of(url)
    if not host or _NATIONAL_HOSTS.search(host) or _NOT_LOCAL.search(text or ""):
        return 0
    label = bool(_LABELS[kind].search(text or ""))
    by_host = _host_kind(host) == kind
    if not label and not (by_host and _HINTS[kind].search(text or "")):
        return 0
    score = 2 * label + 2 * by_host
    short = _short_name(name_zh)
    if short and short in (text or ""):
        score += 1
    return score


def discover_platforms(links: Iterable[tuple[str, str]], portal_hosts: set[str], name_zh: str,
                       wanted: Iterable[str], found_on: str = "") -> list[Platform]:
    """The best platform of each ``wanted`` kind that ``links`` (absolute URL, text) of a portal page name.

    Links to the portal's own hosts are not platforms (they are crawled as the portal). Ties go to the
    first link of the page.
    """
    best: dict[str, tuple[int, Platform]] = {}
    wanted = set(wanted)
    for url, text in links:
        host = host_of(url)
        if not host or host in portal_hosts:
            continue
        for kind in wanted:
            score = candidate_score(kind, url, text, name_zh)
            if score and score > best.get(kind, (0, None))[0]:
                p = platform_at(kind, url, "discovered", " ".join((text or "").split()), found_on)
                if p is not None:
                    best[kind] = (score, p)
    return [best[k][1] for k in PLATFORM_KINDS if k in best]


def page_links(root: Any, base_url: str) -> list[tuple[str, str]]:
    """(absolute URL, label) of every link of a parsed page, in page order, as the rules read links:
    the label is the text, else the images' ``alt``, else the ``title`` (a banner image link); links
    only in an event handler (``onclick="window.open('…')"``, ``javascript:`` hrefs) count too."""
    from urllib.parse import urljoin

    from evidence.links import handler_target
    out = []
    for a in root.iter():
        if not isinstance(a.tag, str):
            continue
        href = (a.get("href") or "").strip() if a.tag in ("a", "area") else ""
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            handled = a.get("onclick") is not None or href.startswith("javascript:") or a.get("role") == "link"
            href = (handler_target(a) or "") if handled else ""
            if not href:
                continue
        text = (" ".join("".join(a.itertext()).split())
                or " ".join(img.get("alt") or "" for img in a.iter("img")).strip()
                or (a.get("title") or a.get("alt") or ""))
        try:
            out.append((urljoin(base_url, href), text))
        except ValueError:
            continue
    return out


# --- branches shared between the sites of a crawl --------------------------------------------------
@dataclass(eq=False)
class Branch:
    """A platform branch as crawled: by one site (``site_id``), with its own budget and depth.

    ``hosts``: the entry's host and, if the entry redirected, the host it redirected to; ``seen``:
    URL scheduled -> depth from the entry page; ``owners``: every site of the crawl whose presence
    names this branch (the first one crawls it and stores its pages); ``foreign``: claimed by a site
    crawled elsewhere (another worker or an earlier run): known only to keep out of it.
    """

    platform: Platform
    site_id: str
    scheme: str = "https"
    hosts: set[str] = field(default_factory=set)
    seen: dict[str, int] = field(default_factory=dict)
    owners: list[str] = field(default_factory=list)
    pages: int = 0
    apis: int = 0
    scripts: int = 0
    budget_reached: bool = False
    foreign: bool = False

    def __post_init__(self) -> None:
        self.hosts = self.hosts or {self.platform.host}
        self.scheme = self.platform.url.split(":", 1)[0].lower()
        if not self.owners:
            self.owners = [self.site_id]

    @property
    def kind(self) -> str:
        return self.platform.kind

    @property
    def key(self) -> str:
        return self.platform.key

    def covers(self, url: str) -> bool:
        return in_branch(url, self.hosts, self.platform.prefix)

    def state(self) -> dict[str, Any]:
        """What a resumed crawl needs (crawlers/spider.py saves it in JOBDIR)."""
        return {"platform": self.platform.as_dict(), "site_id": self.site_id, "scheme": self.scheme,
                "hosts": sorted(self.hosts), "seen": self.seen, "owners": self.owners}

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> Branch:
        p = d["platform"]
        plat = Platform(p["kind"], p["url"], p["host"], p["prefix"], p["source"], p.get("label", ""),
                        p.get("found_on", ""))
        b = cls(plat, d["site_id"], hosts=set(d["hosts"]), seen=dict(d["seen"]), owners=list(d["owners"]))
        b.scheme = d.get("scheme", b.scheme)
        return b


class BranchIndex:
    """Every branch of a crawl by host: which one a URL belongs to (the longest prefix that covers it)."""

    def __init__(self) -> None:
        self.by_key: dict[str, Branch] = {}
        self._by_host: dict[str, list[Branch]] = {}

    def add(self, branch: Branch) -> Branch:
        """Add ``branch``, or return the branch of the same key already there (``branch``'s site joins its owners)."""
        have = self.by_key.get(branch.key)
        if have is not None:
            for sid in branch.owners:
                if sid not in have.owners:
                    have.owners.append(sid)
            return have
        self.by_key[branch.key] = branch
        self.add_host(branch, branch.platform.host)
        return branch

    def add_host(self, branch: Branch, host: str) -> None:
        branch.hosts.add(host)
        lst = self._by_host.setdefault(host, [])
        if not any(b is branch for b in lst):
            lst.append(branch)
            lst.sort(key=lambda b: -len(b.platform.prefix))  # most specific first

    def owner(self, url: str) -> Branch | None:
        """The branch ``url`` belongs to: the most specific one covering it, or None."""
        for b in self._by_host.get(host_of(url), ()):
            if b.covers(url):
                return b
        return None

    def __contains__(self, key: str) -> bool:
        return key in self.by_key


def classify(url: str, branches: Iterable[Branch]) -> str:
    """``portal``, ``service`` or ``opendata``: the part of a site's presence ``url`` came from,
    judged from its host and branch (used for pages whose request did not record it)."""
    bs = list(branches)
    for b in sorted(bs, key=lambda b: -len(b.platform.prefix)):
        if b.covers(url):
            return b.kind
    host = host_of(url)
    for b in bs:  # an API of the platform's host outside the branch's prefix
        if host in b.hosts:
            return b.kind
    return PORTAL

