"""Platforms beyond the portal: each government's service portal and open-data platform.

Every site of the registry gets, decided by its seeded random streams and its calibrated profile
(``simweb.profile``: a richer government runs a richer platform), an online government-service
portal (政务服务网 / 一网通办; ``simweb.platforms_service``) and a public-data open platform
(公共数据开放平台; ``simweb.platforms_data``), each in one of two dialects built the way real ones
are (server-rendered catalogues vs single-page apps whose lists come from JSON APIs), or none.

Where a platform lives (:func:`locate`, decided before the portal is built, so the portal's own
links point there): a URL of the registry (``zwfw_url`` / ``opendata_url``) when it has one; else,
for a city, its own host (``zwfw.<domain>``, ``data.<domain>``), a **sub-domain branch** of its
province's platform (``hefei.ahzwfw.gov.cn``, ``jinan.data.sd.gov.cn``) or, for service portals, a
**path branch** under the provincial host (``www.ahzwfw.gov.cn/hefei/``). A few cities' portals link
**another city's branch** (the trap ``other_city_branch``); their own branch is then unlinked.

Variants: no platform at all (the host does not resolve: 502 from the proxy), a platform that says
建设中 / 即将上线 (``coming_soon``), a data counter that says 0, PDF-only datasets, stale datasets
(updated more than 6 months before the cut-off, ``simweb.years.as_of``), a licence page that is a
placeholder, a 12345 page without a form, a showcase page with nothing in it, a local login instead
of the unified one (统一身份认证).

Truth (``site_truth(m)["platforms"]``, written by ``simweb.generate.write_truth``)::

    {"service": {"url", "linked_url", "source", "host", "scope", "branch", "shared_host",
                 "dialect", "list_api", "status", "available", "unified_login", "login_url",
                 "guides", "guide_elements": {element: share}, "guide_completeness",
                 "online_share", "zero_visit_share", "web_form_12345", "form_url",
                 "urls": {"home", "lists", "guides", "api", "other", "login"}, "traps": [{"kind", "urls"}]},
     "data":    {"url", "linked_url", "source", "host", "scope", "branch", "shared_host",
                 "dialect", "list_api", "status", "available", "dataset_count", "api_count",
                 "machine_readable_share", "fresh_share", "fresh_since", "open_licence",
                 "licence_url", "data_requests", "requests_url", "reuse_showcase", "showcase_url",
                 "sample_size", "urls": {"home", "lists", "datasets", "api", "api_post", "other"},
                 "traps": [{"kind", "urls"}]}}

* ``url``: the target's own platform entry (absolute, ``scheme://netloc/path``) or null when it
  has none; ``scope``: every page of the target's own platform starts with it (a path branch is
  ``https://www.ahzwfw.gov.cn/hefei/``; pages of the province or other branches on the same host
  are not the target's); ``shared_host``: other targets' platforms are on the same host.
* ``source``: how a crawler reaches ``url``: ``registry`` (the registry row names it),
  ``portal_link`` (the portal links it: ``service_portal_link`` / ``open_data_link`` present),
  ``unlinked`` (it exists but nothing leads there) or null; ``linked_url``: what the portal's link
  points at when it links one (another city's branch under ``other_city_branch``).
* ``status``: ``live``, ``coming_soon`` (200, a 建设中 page, nothing else) or ``none`` (the host
  does not answer). ``available``: live and reachable (source registry or portal_link). Every fact
  below is what a scorer should find: when ``available`` is false they are 0 / false / null.
* service: ``guides`` (service items listed; the home counter says the same), ``guide_elements``
  (share of guides with each of 事项名称 设定依据 申请材料 办理时限 收费标准 办理地点 咨询电话 在线办理,
  under whatever label the dialect uses: 承诺时限 / 法定时限, 办理地址, 咨询方式, ...; an element is
  present when its label carries a non-empty value, 在线办理 when the guide has a working
  online-application link), ``guide_completeness`` (mean of those shares), ``online_share`` (share
  of guides 全程网办), ``zero_visit_share`` (share with 到现场次数 0; equal to online_share),
  ``unified_login`` (在线办理 / 登录 redirects to a 统一身份认证 page on the province's identity host),
  ``web_form_12345`` (a 12345 留言 / 诉求 page with a form of fields).
* data: ``dataset_count`` / ``api_count`` (the counters, equal to the list APIs' totals and to the
  catalogue's pagination; from a few dozen to thousands), ``sample_size`` (the datasets of the first
  list pages, in the platform's own page size, that hold the first 50 datasets of the catalogue in
  its default order, 综合排序, not by date: catalogue page 1, 2, ... or list API page 1, 2, ... as
  the home page's script asks them; fewer when the platform has fewer), and over that sample:
  ``machine_readable_share`` (share of datasets offering CSV, XLS, XLSX, JSON or XML; the rest are
  PDF / DOC / DOCX / JPG only), ``fresh_share`` (share updated on or after ``fresh_since``, 6 months
  before the cut-off; stale dates are at least 3 weeks older than that, fresh ones at least 5 days
  newer). Every full list page holds these shares exactly (positions vary per page), so a pipeline
  reading any number of whole list pages finds them;
  ``open_licence`` (a licence page with terms; a placeholder page does not count),
  ``data_requests`` (a 数据需求 / 数据申请 form), ``reuse_showcase`` (a showcase with entries).
* ``urls``: absolute URLs of the target's own pages: ``home`` (every URL the home answers at),
  ``lists`` (server-rendered list pages: all of a service portal's, the data catalogue's and API
  list's pages that hold the sample), ``guides`` / ``datasets`` (detail pages; datasets: the
  sample's), ``api`` (JSON endpoints, GET, with their query strings), ``api_post`` (POST list
  endpoints: ``{"url", "body"}``), ``other`` (side pages: 12345 page, local login page, licence,
  data-request form, showcase), ``login`` (service: the unified login pages the 登录 / 在线办理
  links end on, on the province's identity host ``tyrz.<province domain>``, outside ``scope``).
  ``list_api``: ``get`` or
  ``post`` (how the SPA dialect fetches lists; null for server-rendered). ``traps``: pages built to
  look like the evidence without meeting it (``other_city_branch``, ``placeholder_licence``,
  ``empty_showcase``, ``phone_only_12345``, ``coming_soon``, ``local_login``).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from evidence.registry import DEFAULT_REGISTRY, Site, load_registry
from simweb.content import PROVINCE_DOMAINS, rng_for, short_name
from simweb.years import as_of

if TYPE_CHECKING:
    from simweb.model import SiteModel

ELEMENTS = ("事项名称", "设定依据", "申请材料", "办理时限", "收费标准", "办理地点", "咨询电话", "在线办理")
MACHINE_READABLE = ("CSV", "XLS", "XLSX", "JSON", "XML")
NOT_MACHINE_READABLE = ("PDF", "DOC", "DOCX", "JPG")
FRESH_MONTHS = 6


@dataclass
class Answer:
    """What a platform path serves: status, content type, body and extra headers."""

    status: int
    ctype: str = "text/html; charset=UTF-8"
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


def html_answer(text: str, status: int = 200) -> Answer:
    return Answer(status, "text/html; charset=UTF-8", text.encode("utf-8"))


def json_answer(obj: Any, status: int = 200) -> Answer:
    return Answer(status, "application/json;charset=UTF-8", json.dumps(obj, ensure_ascii=False).encode("utf-8"))


def redirect(location: str) -> Answer:
    return Answer(302, "text/html; charset=UTF-8", b"", [("Location", location)])


# --- where platforms live -----------------------------------------------------------------------
@dataclass(frozen=True)
class Place:
    """Where one platform of one site lives (decided from the registry row and the seed only)."""

    kind: str  # service | data
    site_id: str
    url: str  # the platform's own entry URL
    linked: str  # what the portal links (another city's branch under other_city_branch)
    branch: str  # registry | own | sub | path
    from_registry: bool

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()

    @property
    def scope(self) -> str:
        """The URL prefix of every page of this platform (scheme://netloc/prefix/)."""
        p = urlsplit(self.url)
        return f"{p.scheme}://{p.netloc}{prefix_of(p.path)}"


def prefix_of(path: str) -> str:
    path = path or "/"
    return path if path.endswith("/") else path.rsplit("/", 1)[0] + "/"


@lru_cache(maxsize=1)
def _default_rows() -> tuple:
    try:
        return tuple(load_registry(DEFAULT_REGISTRY).targets)
    except Exception:  # noqa: BLE001 - a registry being edited: no provincial hosts to share
        return ()


def _provinces(extra: tuple = ()) -> dict[str, Any]:
    out = {}
    for t in (*_default_rows(), *extra):
        if t.get("level") == "province" or t.group == "province":
            out[t.name_zh] = t
    return out


def _label(host: str) -> str:
    parts = host.split(".")
    return parts[1] if parts[0] == "www" and len(parts) > 2 else parts[0]


def _base(url: str) -> str:
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}"


def _domain(host: str) -> str:
    return host[4:] if host.startswith("www.") else host


def locate(site: Site, seed: int) -> tuple[Place, Place]:
    """The service portal's and the open-data platform's places for ``site`` (year-independent)."""
    t0 = site.targets[0]
    rng = rng_for(seed, site.site_id, "platform-urls")
    level = t0.get("level", "city")
    prov = _provinces().get(t0.get("province", "")) if level != "province" else None
    label = _label(site.host)
    host_dom = _domain(site.host)
    out = []
    for kind, col in (("service", "zwfw_url"), ("data", "opendata_url")):
        own = t0.get(col)
        style = rng.random()
        if own:
            out.append(Place(kind, site.site_id, own, own, "registry", True))
            continue
        prov_url = prov.get(col) if prov is not None else ""
        if kind == "service":
            url, branch = f"https://zwfw.{host_dom}/", "own"
            if prov_url and style < 0.3:
                p = urlsplit(prov_url)
                url, branch = f"{p.scheme}://{label}.{_domain(p.netloc)}/", "sub"
            elif prov_url and style < 0.6:
                url, branch = f"{_base(prov_url)}{prefix_of(urlsplit(prov_url).path)}{label}/", "path"
        else:
            url, branch = f"https://{rng.choice(['data', 'opendata'])}.{host_dom}/", "own"
            if prov_url and style < 0.35:
                p = urlsplit(prov_url)
                url, branch = f"{p.scheme}://{label}.{_domain(p.netloc)}/", "sub"
        linked = url
        if branch in ("sub", "path") and rng.random() < 0.15:
            other = _other_city(site, t0.get("province", ""), rng)
            if other:
                linked = url.replace(f"{label}.", f"{other}.", 1) if branch == "sub" else \
                    url[: -len(label) - 1] + f"{other}/"
        out.append(Place(kind, site.site_id, url, linked, branch, False))
    return out[0], out[1]


def _other_city(site: Site, province: str, rng: random.Random) -> str:
    labels = sorted({_label(urlsplit(t.portal_url).hostname or "") for t in _default_rows()
                     if t.get("province") == province and t.get("level") != "province" and t.site_id != site.site_id})
    labels = [x for x in labels if x and x != _label(site.host)]
    return rng.choice(labels) if labels else ""


def assign(m: SiteModel, site: Site, quality: float | None) -> None:
    """Give the model its platforms' URLs (the portal links them) and the quality they are built to.

    Called by ``simweb.generate`` right after the identity is made, before any feature."""
    service, data = locate(site, m.seed)
    m.ident["zwfw_url"], m.ident["opendata_url"] = service.linked, data.linked
    if quality is None:  # no profile (synthetic registries): a seeded draw
        quality = 0.35 + 0.5 * rng_for(m.seed, m.site_id, "platform-quality").random()
    m.ident["platform_places"] = (service, data)
    m.ident["platform_quality"] = quality


# --- what a platform holds --------------------------------------------------------------------
SERVICE_NAMES = ["个体工商户设立登记", "企业名称自主申报", "居民身份证换领", "城乡居民基本养老保险参保登记",
                 "失业保险金申领", "异地就医备案", "住房公积金提取", "不动产登记资料查询", "建设工程规划许可证核发",
                 "食品经营许可", "道路货物运输经营许可", "出生医学证明办理", "社会保障卡申领", "职业资格证书补办",
                 "药品零售企业许可", "排污许可证核发", "人力资源服务许可", "民办学校设立审批", "残疾人证办理",
                 "婚姻登记预约", "户口迁移", "机动车驾驶证换证", "营业执照变更登记", "高龄津贴申领",
                 "最低生活保障申请", "临时救助申请", "公共场所卫生许可", "建筑工程施工许可证核发",
                 "特种设备使用登记", "医师执业注册", "护士执业注册", "二手房转移登记"]
DEPTS = ["市场监督管理局", "公安局", "人力资源和社会保障局", "医疗保障局", "住房公积金管理中心", "自然资源和规划局",
         "卫生健康委员会", "交通运输局", "民政局", "教育局", "生态环境局", "住房和城乡建设局"]
DATA_TOPICS = ["企业登记", "公交线路", "医疗机构", "中小学校", "公共停车场", "公共厕所", "养老机构", "定点药店",
               "A级旅游景区", "空气质量", "地表水水质", "行政处罚", "行政许可", "体育场馆", "公共图书馆", "充电桩",
               "人口统计", "财政预算", "政府采购", "农贸市场", "社区服务中心", "公租房", "招投标", "专利授权"]
DATA_NOUNS = ["信息", "名录", "数据", "统计表", "目录"]
FIELDS = ["经济建设", "信用服务", "医疗卫生", "交通运输", "教育文化", "生态环境", "社会民生", "城建住房"]


@dataclass
class Guide:
    code: str
    name: str
    dept: str
    elements: frozenset[str]
    online: bool  # 全程网办, 到现场次数 0
    visits: int


@dataclass
class Dataset:
    ident: str
    name: str
    org: str
    topic: str
    formats: tuple[str, ...]
    updated: date
    frequency: str

    @property
    def machine_readable(self) -> bool:
        return any(f in MACHINE_READABLE for f in self.formats)


@dataclass
class Platform:
    """One platform as built for one year (its content lazily made by ``simweb.platforms``)."""

    place: Place
    name: str  # the government's short name (合肥)
    gov: str  # 合肥市
    prov_short: str
    level: str
    year: int
    status: str  # live | coming_soon | none
    dialect: str
    list_api: str  # get | post | "" (server-rendered)
    page_size: int
    linked: bool  # the portal links its own place
    opts: dict[str, Any] = field(default_factory=dict)
    guides: list[Guide] = field(default_factory=list)
    datasets: Any = field(default_factory=list)  # a Catalogue on a live data platform
    apis: Any = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return prefix_of(urlsplit(self.place.url).path)

    @property
    def base(self) -> str:
        return _base(self.place.url)

    @property
    def home_path(self) -> str:
        return urlsplit(self.place.url).path or "/"

    @property
    def as_of(self) -> date:
        return as_of(self.year)

    @property
    def fresh_since(self) -> date:
        return months_before(self.as_of, FRESH_MONTHS)

    def idp(self) -> str:
        """The province's unified identity host (统一身份认证)."""
        dom = PROVINCE_DOMAINS.get(self.opts.get("province", ""), "gov.cn")
        return f"tyrz.{dom}"


def months_before(d: date, months: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 - months, 12)
    m += 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(y, m, day)
        except ValueError:
            continue
    return date(y, m, 28)


def build_platform(place: Place, name: str, level: str, province: str, seed: int, year: int,
                   quality: float, linked: bool, phantom: bool = False) -> Platform:
    """The platform at ``place`` in ``year`` (deterministic in the seed, site and year)."""
    r = rng_for(seed, place.site_id, place.kind, "platform")  # year-independent: dialect, variants
    ry = rng_for(seed, place.site_id, place.kind, "platform", year)
    dialect = r.choice(["kaipu", "spa"] if place.kind == "service" else ["odweb", "spa"])
    list_api = "" if dialect != "spa" else ("get" if place.kind == "service" else r.choice(["get", "post"]))
    u = r.random()
    if phantom:
        status = "live"
    elif place.from_registry:
        status = "coming_soon" if place.kind == "data" and u > 0.93 else "live"
    elif linked:
        status = "coming_soon" if u < 0.03 + 0.12 * (1 - quality) else "live"
    else:
        status = "none" if u < 0.55 else "live"
    pf = Platform(place, short_name(name), name, short_name(province), level, year, status, dialect, list_api,
                  r.choice([10, 12, 15]) if place.kind == "service" else r.choice([10, 15, 20]), linked,
                  {"province": province, "labels": r.randrange(3), "markup": r.randrange(2), "seed": seed})
    if status != "live":
        return pf
    if place.kind == "service":
        _service_content(pf, r, ry, quality)
    else:
        _data_content(pf, r, ry, quality)
    return pf


def _service_content(pf: Platform, r: random.Random, ry: random.Random, q: float) -> None:
    n = max(8, min(36, int(8 + 28 * q * ry.uniform(0.7, 1.15))))
    p_el = 0.5 + 0.45 * q
    p_online = 0.15 + 0.7 * q
    names = SERVICE_NAMES[:]
    r.shuffle(names)
    for i in range(n):
        name = names[i % len(names)] + ("" if i < len(names) else "（变更）")
        online = ry.random() < p_online
        els = {"事项名称"} | {e for e in ELEMENTS[1:] if ry.random() < p_el}
        if online:
            els.add("在线办理")
        pf.guides.append(Guide(f"{pf.place.site_id[-4:]}{r.randrange(10**9, 10**10)}{i:03d}", name, r.choice(DEPTS),
                               frozenset(els), online, 0 if online else ry.choice([1, 1, 1, 2])))
    pf.opts["unified_login"] = r.random() < 0.35 + 0.6 * q
    pf.opts["login_direct"] = pf.opts["unified_login"] and r.random() < 0.4
    v12345 = r.random()
    pf.opts["form_12345"] = "form" if v12345 < 0.3 + 0.6 * q else ("phone_only" if v12345 < 0.7 + 0.3 * q else "")
    pf.opts["el_labels"] = {e: r.choice(SERVICE_LABELS[e]) for e in ELEMENTS}


SERVICE_LABELS = {
    "事项名称": ["事项名称", "事项名称", "服务事项名称"],
    "设定依据": ["设定依据", "法律依据", "设立依据", "实施依据"],
    "申请材料": ["申请材料", "所需材料", "申报材料清单"],
    "办理时限": ["办理时限", "承诺时限", "法定时限", "承诺办结时限"],
    "收费标准": ["收费标准", "是否收费", "收费依据及标准"],
    "办理地点": ["办理地点", "办理地址", "受理地点", "窗口地址"],
    "咨询电话": ["咨询电话", "咨询方式", "联系电话"],
    "在线办理": ["在线办理", "立即办理", "网上申办", "我要办理"],
}


SAMPLE = 50  # the catalogue's first datasets, in its default order (whole list pages): the truth's shares


class Catalogue:
    """A platform's datasets (or APIs) in catalogue order, each made on first access from its index.

    Big platforms list thousands: only what is asked for is built. The id of an entry ends with its
    index (``<10 hex><index>``), so a detail page finds its entry without building the rest."""

    def __init__(self, pf: Platform, kind: str, n: int, make: Any) -> None:
        self.pf, self.kind, self.n, self._make = pf, kind, n, make
        self._cache: dict[int, Dataset] = {}

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(self.n))]
        if not 0 <= i < self.n:
            raise IndexError(i)
        d = self._cache.get(i)
        if d is None:
            d = self._cache[i] = self._make(self.pf, i)
        return d

    def __iter__(self) -> Any:
        return (self[i] for i in range(self.n))

    def find(self, ident: str) -> Dataset | None:
        tail = ident[10:]
        if len(ident) <= 10 or not tail.isdigit() or int(tail) >= self.n:
            return None
        d = self[int(tail)]
        return d if d.ident == ident else None


def _dataset(pf: Platform, i: int) -> Dataset:
    o = pf.opts
    r = rng_for(o["seed"], pf.place.site_id, "dataset", pf.year, i)
    topic = DATA_TOPICS[r.randrange(len(DATA_TOPICS))]
    pdf, fresh = _page_mix(pf, i // pf.page_size)
    if i % pf.page_size in pdf:
        fmts = tuple(sorted(r.sample(NOT_MACHINE_READABLE, r.choice([1, 1, 2]))))
    else:
        fmts = tuple(sorted(r.sample(MACHINE_READABLE, r.choice([1, 2, 3]))))
    cut, since = pf.as_of, pf.fresh_since
    if i % pf.page_size in fresh:
        upd = cut - timedelta(days=r.randrange(0, (cut - since).days - 5))
    else:
        upd = since - timedelta(days=r.randrange(21, 1400))
    suffix = r.choice(["", "", f"（{pf.year - r.randrange(1, 6)}年）", "（按月）"])
    return Dataset(f"{r.randrange(16**9, 16**10):x}{i}", f"{pf.name}{topic}{r.choice(DATA_NOUNS)}{suffix}",
                   f"{pf.gov}{r.choice(DEPTS)}", r.choice(FIELDS), fmts, upd,
                   r.choice(["每月", "每季度", "每年", "实时", "不定期"]))


def _page_mix(pf: Platform, page: int) -> tuple[set[int], set[int]]:
    """Which positions of a catalogue page (the platform's page size) are PDF-only and which fresh.

    Every full page holds the platform's shares exactly (positions drawn per page), so the shares
    read from any number of whole list pages are the truth's; a shorter last page holds them
    rounded."""
    key = ("mix", page)
    got = pf.opts.get(key)
    if got is None:
        n = min(pf.page_size, len(pf.datasets) - page * pf.page_size)
        r = rng_for(pf.opts["seed"], pf.place.site_id, "page", pf.year, page)
        got = (set(r.sample(range(n), round(n * pf.opts["p_pdf"]))), set(r.sample(range(n), round(n * pf.opts["p_fresh"]))))
        pf.opts[key] = got
    return got


def sample_size(pf: Platform) -> int:
    """The truth's sample: the whole list pages that hold the first ``SAMPLE`` datasets."""
    return min(len(pf.datasets), pages_for(min(len(pf.datasets), SAMPLE), pf.page_size) * pf.page_size)


def _api(pf: Platform, i: int) -> Dataset:
    ds = _dataset(pf, (i * 7) % max(1, len(pf.datasets)))
    r = rng_for(pf.opts["seed"], pf.place.site_id, "api", pf.year, i)
    return Dataset(f"{r.randrange(16**9, 16**10):x}{i}", f"{ds.name}查询接口", ds.org, ds.topic, ("JSON",),
                   ds.updated, "实时")


def _data_content(pf: Platform, r: random.Random, ry: random.Random, q: float) -> None:
    zero = r.random() < 0.08
    # 开放数林: from a few dozen datasets to tens of thousands; richer governments open more
    n = 0 if zero else max(12, min(9000, int(10 ** (1.4 + 2.4 * q + ry.gauss(0.0, 0.35)))))
    variant = r.random()
    pf.opts["variant"] = "pdf_heavy" if variant < 0.12 else "stale" if variant < 0.24 else ""
    pf.opts["p_pdf"] = min(1.0, max(0.0, (0.75 if pf.opts["variant"] == "pdf_heavy" else 0.05 + 0.3 * (1 - q))
                                    + ry.gauss(0.0, 0.06)))
    pf.opts["p_fresh"] = min(1.0, max(0.0, (0.1 if pf.opts["variant"] == "stale" else 0.25 + 0.65 * q)
                                      + ry.gauss(0.0, 0.1)))
    pf.datasets = Catalogue(pf, "dataset", n, _dataset)  # type: ignore[assignment]
    n_api = 0 if zero or r.random() < 0.2 else max(1, int(n * ry.uniform(0.05, 0.3)))
    pf.apis = Catalogue(pf, "api", n_api, _api)  # type: ignore[assignment]
    lic = r.random()
    pf.opts["licence"] = "real" if lic < 0.3 + 0.5 * q else ("placeholder" if lic < 0.55 + 0.4 * q else "")
    pf.opts["requests"] = r.random() < 0.3 + 0.5 * q
    show = r.random()
    pf.opts["showcase"] = "apps" if show < 0.2 + 0.5 * q else ("empty" if show < 0.5 + 0.3 * q else "")
    pf.opts["count_labels"] = r.randrange(3)
    pf.opts["zero"] = zero


# --- the platforms of a model -------------------------------------------------------------------
def platforms_of(m: SiteModel) -> tuple[Platform, Platform]:
    """The model's service portal and open-data platform (built once per model)."""
    cached = m.ident.get("_platforms")
    if cached is None:
        out = []
        for place, leaf in zip(m.ident["platform_places"], ("service_portal_link", "open_data_link"), strict=True):
            lt = m.leaves.get(leaf)
            linked = bool(lt is not None and lt.present) and place.linked == place.url
            out.append(build_platform(place, m.name, m.level, m.province, m.seed, m.year,
                                      m.ident["platform_quality"], linked))
        cached = m.ident["_platforms"] = tuple(out)
    return cached


def reachable(pf: Platform) -> str | None:
    if pf.status == "none":
        return None
    if pf.place.from_registry:
        return "registry"
    return "portal_link" if pf.linked else "unlinked"


def platform_truth(m: SiteModel) -> dict:
    """``truth[site]["platforms"]`` (see the module docstring)."""
    from simweb import platforms_data, platforms_service
    service, data = platforms_of(m)
    links = {"service": "service_portal_link", "data": "open_data_link"}
    out = {}
    for pf, mod in ((service, platforms_service), (data, platforms_data)):
        place = pf.place
        lt = m.leaves.get(links[place.kind])
        source = reachable(pf)
        available = pf.status == "live" and source in ("registry", "portal_link")
        t: dict[str, Any] = {
            "url": place.url if pf.status != "none" else None,
            "linked_url": place.linked if lt is not None and lt.present else None,
            "source": source, "host": place.host, "scope": place.scope, "branch": place.branch,
            "shared_host": place.branch == "path",
            "dialect": pf.dialect if pf.status == "live" else None,
            "list_api": (pf.list_api or None) if pf.status == "live" else None,
            "status": pf.status, "available": available}
        t.update(mod.facts(pf, available))
        t["urls"] = mod.urls(pf) if available else {}
        traps = mod.traps(pf) if pf.status != "none" and source != "unlinked" else []
        if pf.status == "coming_soon" and source != "unlinked":
            traps.append({"kind": "coming_soon", "urls": home_urls(pf)})
        if place.linked != place.url and lt is not None and lt.present:
            traps.append({"kind": "other_city_branch", "urls": [place.linked]})
        t["traps"] = traps
        out[place.kind] = t
    return out


def mark_shared(sites: dict[str, dict]) -> None:
    """Set ``shared_host`` where another site's platform of either kind is on the same host."""
    owners: dict[str, set[str]] = {}
    for site_id, t in sites.items():
        for p in t.get("platforms", {}).values():
            if p["status"] != "none":
                owners.setdefault(p["host"], set()).add(site_id)
    for site_id, t in sites.items():
        for p in t.get("platforms", {}).values():
            p["shared_host"] = p["shared_host"] or len(owners.get(p["host"], set()) - {site_id}) > 0


def home_urls(pf: Platform) -> list[str]:
    base, home = pf.base, pf.home_path
    urls = [base + home]
    if home.endswith("/"):
        urls.append(base + home + "index.html")
    return urls


# --- serving ----------------------------------------------------------------------------------
class PlatformHosts:
    """Every platform host of a simulated web, answering its paths (the proxy's hook)."""

    def __init__(self, web: Any) -> None:
        self.web = web
        self.entries: dict[str, list[tuple[str, Place]]] = {}  # host -> [(prefix, place)] longest first
        self.phantoms: dict[tuple[str, str], Platform] = {}
        self.sites: dict[str, str] = {}  # site_id -> portal host
        self._index()

    def _index(self) -> None:
        seen: set[tuple[str, str]] = set()
        places = [p for site in self.web.registry.sites for p in locate(site, self.web.seed)]
        for place in places:  # the registry's own places first: they win over stand-ins
            self.sites[place.site_id] = next(s.host for s in self.web.registry.sites if s.site_id == place.site_id)
            self._add(place, seen)
        for place in places:
            if place.linked != place.url:  # another city's branch: served as that city's
                self._add(Place(place.kind, f"branch:{place.linked}", place.linked, place.linked,
                                place.branch, False), seen)
            if place.branch == "path":  # the province's own portal at the root of the host
                root = place.url.rstrip("/").rsplit("/", 1)[0] + "/"
                self._add(Place(place.kind, f"branch:{root}", root, root, "registry", True), seen)
        for host in self.entries:
            self.entries[host].sort(key=lambda e: len(e[0]), reverse=True)

    def _add(self, place: Place, seen: set[tuple[str, str]]) -> None:
        key = (place.host, prefix_of(urlsplit(place.url).path))
        if key in seen:
            return
        seen.add(key)
        self.entries.setdefault(place.host, []).append((key[1], place))

    def shared(self) -> set[str]:
        return {h for h, es in self.entries.items() if len({p.site_id for _, p in es if not p.site_id.startswith("branch:")}) > 1}

    def platform(self, place: Place) -> Platform:
        if not place.site_id.startswith("branch:"):
            m = self.web.model(self.sites[place.site_id])
            service, data = platforms_of(m)
            return service if place.kind == "service" else data
        key = (place.kind, place.url)
        pf = self.phantoms.get(key)
        if pf is None:
            label = _label(place.host) if "/" == prefix_of(urlsplit(place.url).path) else \
                prefix_of(urlsplit(place.url).path).strip("/").rsplit("/", 1)[-1]
            province = _province_of_host(place.host)
            name = _city_name(label) or province or "省本级"
            pf = self.phantoms[key] = build_platform(place, name, "city", province, self.web.seed, self.web.year,
                                                     0.6, True, phantom=True)
        return pf

    def idp_hosts(self) -> set[str]:
        return {f"tyrz.{d}" for d in PROVINCE_DOMAINS.values()}

    def known(self, host: str) -> bool:
        if host in self.idp_hosts():
            return True
        return any(self.platform(p).status != "none" for _, p in self.entries.get(host, []))

    def answer(self, scheme: str, host: str, target: str, method: str = "GET", body: bytes = b"") -> Answer | None:
        """The answer for a platform host, or None when ``host`` is none of them."""
        from simweb import platforms_data, platforms_service
        if host in self.idp_hosts():
            return idp_answer(host, target)
        entries = self.entries.get(host)
        if not entries:
            return None
        if not self.known(host):  # no platform there: the name does not resolve
            return Answer(502, "text/plain; charset=utf-8", f"proxy: DNS lookup failed for {host} (NXDOMAIN)\n".encode())
        path, _, query = target.partition("?")
        for prefix, place in entries:
            if not (path + "/").startswith(prefix) and path != prefix.rstrip("/"):
                continue
            pf = self.platform(place)
            if pf.status == "none":
                continue
            want = urlsplit(place.url).scheme
            if scheme != want:
                return redirect(f"{want}://{urlsplit(place.url).netloc}{target}")
            if path == prefix.rstrip("/") and prefix != "/":
                return redirect(prefix)
            if pf.status == "coming_soon":
                if path in (pf.home_path, pf.prefix, pf.prefix + "index.html"):
                    return html_answer(coming_soon(pf))
                return html_answer(NOT_FOUND, 404)
            mod = platforms_service if pf.place.kind == "service" else platforms_data
            rel = path[len(prefix):]
            ans = mod.serve(pf, rel, parse_qs(query), method, body)
            if ans is None and path == pf.home_path and rel not in ("", "index.html"):
                ans = mod.serve(pf, "", {}, method, body)
            if ans is not None:
                return ans
            return html_answer(NOT_FOUND, 404)
        return html_answer(NOT_FOUND, 404)


NOT_FOUND = ("<html><head><meta charset=\"utf-8\"><title>404 Not Found</title></head><body>"
             "<h1>404 Not Found</h1><p>您访问的页面不存在或已被删除。</p></body></html>")


@lru_cache(maxsize=512)
def _city_name(label: str) -> str:
    for t in _default_rows():
        if _label(urlsplit(t.portal_url).hostname or "") == label:
            return t.name_zh
    return ""


def _province_of_host(host: str) -> str:
    for name, t in _provinces().items():
        for col in ("zwfw_url", "opendata_url"):
            h = (urlsplit(t.get(col)).hostname or "") if t.get(col) else ""
            if h and (host == h or host.endswith("." + _domain(h))):
                return name
    return ""


def coming_soon(pf: Platform) -> str:
    what = "政务服务网" if pf.place.kind == "service" else "公共数据开放平台"
    words = ["平台建设中，即将上线，敬请期待！", "网站正在升级改造中，即将上线。", "系统建设中，敬请期待"]
    w = words[rng_for(0, pf.place.url).randrange(len(words))]
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{pf.name}{what}</title></head>"
            f"<body><div class=\"building\"><img src=\"/images/building.png\" alt=\"建设中\"><h2>{pf.name}{what}</h2>"
            f"<p>{w}</p></div></body></html>")


def idp_answer(host: str, target: str) -> Answer:
    """The province's unified identity platform: /cas/login answers a login page, the rest 404."""
    if not target.startswith(("/cas/login", "/login")):
        return html_answer(NOT_FOUND, 404)
    prov = next((n for n, d in PROVINCE_DOMAINS.items() if host == f"tyrz.{d}"), "")
    return html_answer(
        f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{short_name(prov)}政务服务统一身份认证平台</title>"
        f"</head><body><div class=\"login\"><h2>统一身份认证平台</h2><ul class=\"tabs\"><li>个人登录</li><li>法人登录</li>"
        "</ul><form method=\"post\" action=\"/cas/login\"><input name=\"username\" placeholder=\"身份证号/手机号\">"
        "<input type=\"password\" name=\"password\"><button type=\"submit\">登录</button></form>"
        "<p>使用一个账号登录全省各级政务服务平台</p></div></body></html>")


def login_target(pf: Platform, back: str) -> str:
    """Where 登录 / 在线办理 lead: the unified identity host, or a local login page."""
    from urllib.parse import quote
    if pf.opts.get("unified_login"):
        return f"https://{pf.idp()}/cas/login?service={quote(back, safe='')}"
    return pf.prefix + "user/login.html"


def local_login(pf: Platform) -> str:
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>用户登录-{pf.name}</title></head><body>"
            "<h2>用户登录</h2><form method=\"post\" action=\"login.do\"><label>用户名<input name=\"user\"></label>"
            "<label>密码<input type=\"password\" name=\"pwd\"></label><label>验证码<input name=\"code\"></label>"
            "<button>登录</button></form><p><a href=\"register.html\">注册账号</a></p></body></html>")


def page_of(items: list, page: int, size: int) -> list:
    return items[(page - 1) * size: page * size]


def pages_for(n: int, size: int) -> int:
    return max(1, -(-n // size))


def query_int(query: dict[str, list[str]], *names: str, default: int = 1) -> int:
    for name in names:
        v = query.get(name, [""])[0]
        if v.isdigit() and int(v) > 0:
            return int(v)
    return default

