"""Deterministic generation of the simulated government web and its truth table.

``build_site(site, seed)`` turns one registry site into a :class:`~simweb.model.SiteModel`
(base content, then every feature of ``simweb.features.FEATURES``, then paths from the
template family, then the page table and faults). :class:`SimWeb` holds all sites of a
registry and builds each one lazily, on the first request for its host, so start-up is
cheap; page HTML is rendered and encoded once and cached.

Truth table (``truth(registry, seed)`` / ``write_truth(registry, seed, path)``)::

    {"seed": 2023, "as_of": "2023-10-31",
     "sites": {site_id: {"host", "scheme", "template", "encoding", "pages",
               "leaves": {leaf_id: {"present": bool, "points_share": 1.0 | 0.0,
                                    "sitewide": bool, "how": [...],
                                    "urls": [...], "traps": [...],
                                    "trap_details": [{"kind", "urls"}]}}}}}

* ``urls``: every URL (exact final URL as a crawler stores it: scheme, host, path and
  query) of a page that carries the evidence of the leaf. A link or label on the home
  page lists every URL the home page answers at (``https://host/`` and, on templates
  whose navigation links it, ``https://host/index.html``). A footer-wide or header-wide
  feature (``sitewide`` true) lists every page of the site that uses the portal layout
  (list pages, documents, news, static pages and their linked query-string duplicates);
  pages that do not carry the layout (404 pages, the calendar trap, robots.txt, the
  first 503 answer of the flaky page) are not listed. Evidence precision: an evidence
  row is right when its URL is in ``urls``; site-level recall: a present leaf is found
  when at least one evidence row exists. ``urls`` is empty when ``present`` is false.
* ``traps``: URLs of pages built to look like the evidence without meeting the
  indicator (present or not); ``trap_details`` says which kind each is
  (``phone_contains_12345``, ``id_contains_12345``, ``body_news``, ``regulation_body`` and
  ``notice_channel`` (12345 in an article's body and headline, not page furniture), ``news_headline``,
  ``other_government``, ``draft``, ``repealed``, ``after_cutoff``, ``undated`` (a document with no
  date at all: ``simweb.features_documents``), ``news_mention``).
* ``points_share``: the share of the leaf's full points a correct scorer gives
  (present → 1.0, absent → 0.0); multiply by the leaf's points from the rules.

With ``faults="full"`` (``simweb.faults``; the top level then says ``"faults": "full"``):

* site ``faults``: names of the faults the site has (``js_nav``, ``onclick_link``,
  ``cookie_challenge_412``, ``cookie_challenge_521``, ``attachment_only``,
  ``corrupt_attachment``, ``huge_attachment``, ``charset_header_utf8``,
  ``charset_undeclared``, ``charset_malformed_meta``, ``oversized_page``,
  ``stalled_page``); ``fault_details``: one ``{"kind", "urls", ...}`` per fault (with
  ``parent``, ``link`` (the URL as linked, before any 302), ``format``, ``leaf`` for
  attachments; ``bytes`` for huge ones; ``variant`` for js_nav); ``challenge``:
  ``{"status", "issued_cookie", "computed_cookie"}`` or null; ``js_nav`` and
  ``charset_fault``: the variant or null. Under ``"basic"`` these are empty / null.
* leaf ``reach``: what a crawler needs to find the evidence at all: ``js_only`` (every
  evidence link is built by script), ``onclick`` (every evidence link is only in
  ``window.open``), ``attachment`` (the text is only in a PDF / DOCX), ``challenge``
  (the site is behind a cookie challenge); empty: plain HTTP and static HTML suffice.
  ``how`` also gets ``js_only:<variant>``, ``onclick:<variant>``, ``attachment:<fmt>``
  and ``challenge`` tags.
* An attachment-only document: ``urls`` holds the attachment's final URL (after the
  Hanweb download gateway's 302) **and** the parent document page (the stub still
  carries the title and the publication date, so evidence cited there is right);
  ``attachment_urls`` holds the attachment's final URL alone: a pipeline with working
  attachment extraction should produce a row there. Truncated and huge attachments,
  the oversized and the stalled page are never evidence and never in ``urls``.
* Evidence behind a challenge or built by script keeps its URLs: the page a browser
  ends up on is the same URL.

Each site also has ``"platforms": {"service": {...}, "data": {...}}``: its service portal and
open-data platform, what a scorer should find there (availability, unified login, guide
completeness, online-transaction share, 12345 form, dataset and API counts, machine-readable and
fresh shares, licence, data requests, showcase), their URLs and traps; the keys are documented in
``simweb.platforms``.
"""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path
from typing import Any

from evidence.registry import Registry, Site
from simweb import platforms
from simweb.access import describe as access_describe
from simweb.access import plan as access_plan
from simweb.content import (
    AREA_CODES,
    DEPTS,
    DOC_FORMS,
    NEWS_FORMS,
    PROVINCE_ABBR,
    PROVINCE_DOMAINS,
    TOPICS,
    docno,
    gov_name,
    news_paragraphs,
    random_date,
    rng_for,
    short_name,
)
from simweb.faults import FAULT_MODES, apply_full_faults, challenge_cookie_names
from simweb.features import FEATURES, add_doc, add_news
from simweb.features_documents import apply_document_forms
from simweb.model import Column, Page, SiteModel
from simweb.platforms_leaves import platform_leaves
from simweb.profile import DEFAULT_YEAR, YEARS, SiteProfile, default_profiles, fixed_points
from simweb.profile import FIXED as FIXED_LEAVES
from simweb.profile import build as build_profiles
from simweb.profile import leaves as profile_leaves
from simweb.templates import FAMILIES, LABEL_SETS
from simweb.years import as_of as year_as_of
from simweb.years import shift_site

FAMILY_WEIGHTS = [("trs", 0.4), ("hanweb", 0.35), ("ucap", 0.25)]


def _pick_weighted(rng: random.Random, pairs: list[tuple[str, float]]) -> str:
    return rng.choices([p for p, _ in pairs], weights=[w for _, w in pairs])[0]


def _domain(host: str) -> str:
    return host[4:] if host.startswith("www.") else host


# --- base content -----------------------------------------------------------------------------
def _identity(site: SiteModel, t0: Any, rng: random.Random) -> None:
    short = short_name(site.name)
    gov = gov_name(site.name, site.level)
    prov = site.province if site.level != "province" else site.name
    abbr = PROVINCE_ABBR.get(prov, "京")
    office = f"{gov}办公厅" if site.level == "province" else f"{gov}办公室"
    admin = t0.admin_code if t0.admin_code.isdigit() else "100000"
    area = rng.choice(AREA_CODES)
    phone = f"{area}-{rng.randrange(2, 9)}{rng.randrange(1000000, 9999999)}"
    while "12345" in phone:
        phone = f"{area}-{rng.randrange(2, 9)}{rng.randrange(1000000, 9999999)}"
    first = short[0] if site.level != "province" else abbr
    fam = site.family.name if site.family else "trs"
    static_cids = {k: rng.randrange(1000, 99999) for k in ("zwgk", "hdjl", "zwfw", "wzdt", "lxwm", "ldxx")}
    bracket = rng.choices([0, 1, 2, 3], weights=[70, 12, 10, 8])[0]
    site.ident.update({
        "short": short, "gov": gov, "office": office, "prov_short": short_name(prov), "prov_abbr": abbr,
        "site_title": rng.choice([f"{gov}门户网站", gov, f"中国·{short}", f"{short}政府网"]),
        "idcode": f"{admin}{rng.randrange(1, 200):04d}",
        "icp": f"{abbr}ICP备{rng.randrange(10000000, 99999999)}号" + ("-1" if rng.random() < 0.6 else ""),
        "gongan": f"{admin}{rng.randrange(10000000, 99999999)}",
        "area": area, "phone": phone, "postcode": f"{admin[:3]}{rng.randrange(0, 999):03d}",
        "address": f"{site.name}{rng.choice(['市民中心', '人民路', '政府大院', '行政中心'])}{rng.randrange(1, 300)}号",
        "undertaker": rng.choice([f"{site.name}大数据中心", f"{site.name}信息中心", f"{site.name}数据资源管理局"]),
        "data_bureau": rng.choice([f"{site.name}数据资源管理局", f"{site.name}大数据发展管理局",
                                   f"{site.name}政务服务和数据管理局"]),
        "date_style": rng.randrange(0, 4), "labels": rng.choice(LABEL_SETS[fam]),
        "org_code": f"{rng.randrange(0, 999999999):09d}", "index_style": rng.randrange(0, 3),
        "has_validity": rng.random() < 0.8,
        "docno": lambda p, y, n, _b=bracket: docno(p, y, n, _b),
        "docno_gov": f"{first}政发", "docno_office": rng.choice([f"{first}政办发", f"{first}政办函"]),
        "static_cids": static_cids,
        "zwfw_url": t0.get("zwfw_url") or f"https://zwfw.{_domain(site.host)}/",
        "opendata_url": t0.get("opendata_url") or f"https://{rng.choice(['data', 'opendata'])}.{_domain(site.host)}/",
        "prov_url": f"https://www.{PROVINCE_DOMAINS.get(prov, 'gov.cn')}/" if site.level != "province" else "",
        "zwgk_extra": "",
    })


def _columns(site: SiteModel, rng: random.Random) -> None:
    names = {
        "yw": rng.choice([f"{site.short}要闻", "今日要闻", "政务要闻", "要闻动态"]),
        "bmdt": rng.choice(["部门动态", "部门信息", "区县动态", "基层动态"]),
        "tzgg": rng.choice(["通知公告", "公示公告", "公告公示"]),
        "zcwj": rng.choice(["政策文件", "政府文件", "文件库", "政策文件库"]),
        "zcjd": rng.choice(["政策解读", "解读回应"]),
    }
    for key, name in names.items():
        site.columns[key] = Column(key=key, name=name, cid=rng.randrange(1000, 1300000),
                                   page_size=rng.choice([15, 20]) if key != "zcwj" else rng.choice([12, 15, 20]))
    if site.family and site.family.name == "hanweb" and rng.random() < 0.7:
        site.columns["bmdt"].script_list = True


def _base_items(site: SiteModel, rng: random.Random) -> None:
    i = site.ident
    topics = TOPICS[:]
    rng.shuffle(topics)
    for n in range(rng.randrange(35, 75)):
        topic = topics[n % len(topics)]
        form = rng.choice(DOC_FORMS)
        issuer_is_office = "办公" in form
        issuer = i["office"] if issuer_is_office else i["gov"]
        title = form.format(gov=i["gov"], short=site.name, topic=topic)
        d = random_date(rng, date(2019, 1, 1), date(2023, 10, 30))
        prefix = i["docno_office"] if issuer_is_office else i["docno_gov"]
        dn = i["docno"](prefix, d.year, rng.randrange(1, 120)) if rng.random() < 0.92 else ""
        validity = "有效" if d.year >= 2021 or rng.random() < 0.7 else rng.choice(["失效", "废止"])
        add_doc(site, rng, f"doc-{n}", title, issuer=issuer, docno=dn, d=d, validity=validity,
                kind_word="意见" if "意见" in title else "方案" if "方案" in title else "通知", topic=topic)
    for col, count in (("yw", rng.randrange(25, 60)), ("bmdt", rng.randrange(15, 40)), ("tzgg", rng.randrange(8, 20))):
        for n in range(count):
            topic = rng.choice(TOPICS)
            source = f"{site.name}{rng.choice(DEPTS)}" if col == "bmdt" else ""
            title = rng.choice(NEWS_FORMS).format(short=site.short, topic=topic)
            if col == "bmdt":
                title = f"{source.removeprefix(site.name)}{rng.choice(['扎实推进', '召开', '部署'])}{topic}工作"
            if col == "tzgg":
                title = f"关于{rng.choice(['开展', '做好', '公布'])}{topic}{rng.choice(['工作的通知', '有关事项的公告', '评审结果的公示'])}"
            add_news(site, rng, f"{col}-{n}", title, news_paragraphs(rng, rng.randrange(3, 6)), column=col,
                     d=random_date(rng, date(2022, 1, 1), date(2023, 10, 30)), source=source)


def _static_pages(site: SiteModel, rng: random.Random) -> None:
    i = site.ident

    def zwgk(s: SiteModel) -> str:
        cols = "".join(f'<li><a href="{c.path}">{c.name}</a></li>' for k, c in s.columns.items() if k != "bmdt")
        return (f'<ul class="xxgk-nav"><li><a href="{s.ident["old_zcwj"]}">政府信息公开指南</a></li>{cols}'
                f'<li><a href="{s.href("col:tzgg")}">政府信息公开年报</a></li>{s.ident["zwgk_extra"]}</ul>')

    def sitemap(s: SiteModel) -> str:
        rows = [f'<li><a href="{c.path}">{c.name}</a></li>' for c in s.columns.values()]
        rows += [f'<li><a href="{p.ref}">{p.title}</a></li>' for k, p in s.static_pages.items() if k != "wzdt"]
        rows.append('<li><a href="/zwgk/jggk/index.html">机构概况</a></li>')  # a dead link
        rows.append(f'<li><a href="{s.ident["calendar"]}">活动日历</a></li>')
        return f'<ul class="sitemap">{"".join(rows)}</ul>'

    def contact(s: SiteModel) -> str:
        return (f"<p>主办单位：{s.ident['office']}</p><p>通讯地址：{s.ident['address']}　邮编：{s.ident['postcode']}</p>"
                f"<p>联系电话：{s.ident['phone']}</p>")

    site.static_pages.update({
        "zwgk": Page("static", title=rng.choice(["政务公开", "政府信息公开", "信息公开"]), body=zwgk),
        "hdjl": Page("static", title=rng.choice(["互动交流", "政民互动", "公众参与"]), body=""),
        "zwfw": Page("static", title=rng.choice(["政务服务", "办事服务", "便民服务"]), body=""),
        "wzdt": Page("static", title="网站地图", body=sitemap),
        "ldxx": Page("static", title=rng.choice(["领导信箱", "市长信箱", "书记市长信箱"]),
                     body=lambda s: f"<p>来信须知：请如实填写姓名和联系方式。</p><p>咨询请拨打{s.ident['phone']}。</p>"),
        "lxwm": Page("static", title="联系我们", body=contact),
    })
    i["old_zcwj"] = "/zwgk/zfxxgkzn/index.html"


def _chrome(site: SiteModel, rng: random.Random) -> None:
    """Navigation, header links and the standard footer lines."""
    i = site.ident
    site.nav = [("首页", "/"), (site.static_pages["zwgk"].title, "page:zwgk"), ("政策文件", "col:zcwj"),
                ("新闻动态", "col:yw"), (site.static_pages["zwfw"].title, "page:zwfw"),
                (site.static_pages["hdjl"].title, "page:hdjl")]
    site.header_links += ['<a id="cniil_wza" href="javascript:void(0)" onclick="aria.start()">无障碍</a>',
                          '<a href="javascript:void(0)" onclick="aria.oldFixedStart()">关怀版</a>',
                          lambda s: f'<a href="{s.static_pages["wzdt"].ref}">网站地图</a>']
    sep = rng.choice(["　", "　|　", " "])
    host_line = (f"主办：{i['office']}{sep}承办：{i['undertaker']}" if rng.random() < 0.6
                 else f"主办单位：{i['office']}{sep}技术支持：{i['undertaker']}")
    contact = rng.choice([f"联系电话：{i['phone']}", f"电话：{i['phone']}", f"网站联系：{i['phone']}"])
    recordcode = i["gongan"]
    ga_link = (f"http://www.beian.gov.cn/portal/registerSystemInfo?recordcode={recordcode}" if rng.random() < 0.5
               else f"https://beian.mps.gov.cn/#/query/webSearch?code={recordcode}")
    ga_text = rng.choice([f"{i['prov_abbr']}公网安备 {recordcode}号", f"{i['prov_abbr']}公网安备{recordcode}号"])
    site.footer_lines += [
        host_line,
        f"{contact}{sep}地址：{i['address']}",
        f"网站标识码：{i['idcode']}{sep}<a href=\"https://beian.miit.gov.cn/\" target=\"_blank\">{i['icp']}</a>{sep}"
        f"<a href=\"{ga_link}\" target=\"_blank\"><img src=\"/images/ga.png\" alt=\"\">{ga_text}</a>",
        lambda s: f'<a href="{s.static_pages["wzdt"].ref}">网站地图</a>{sep}<a href="{s.static_pages["lxwm"].ref}">联系我们</a>',
        "<script type=\"text/javascript\">document.write(unescape(\"%3Cspan id='_ideConac' %3E%3C/span%3E%3Cscript "
        f"src='https://dcs.conac.cn/js/{rng.randrange(10, 33)}/{rng.randrange(100, 400)}/0000/{rng.randrange(10**7, 10**8)}"
        "/CA.js' type='text/javascript'%3E%3C/script%3E\"));</script>"
        f'<script id="_jiucuo_" sitecode="{i["idcode"]}" src="https://zfwzgl.www.gov.cn/exposure/jiucuo.js"></script>',
    ]


def _faults(site: SiteModel, rng: random.Random) -> None:
    """Query-string duplicates, redirects, dead links, a slow page, a flaky page, a crawler trap."""
    news = [site.items[k] for k in site.columns["yw"].items]
    picks = rng.sample(news[:8], k=min(3, len(news[:8])))
    dup = "".join(f'<li><a href="{it.path}?from=index">{it.title}</a></li>' for it in picks)
    for it in picks:
        site.aliases[f"{it.path}?from=index"] = it.path
    olds = rng.sample(news[8:20], k=min(2, len(news[8:20])))
    for it in olds:
        site.redirects[f"/news/show.asp?id={it.num}"] = it.path
    old_links = "".join(f'<li><a href="/news/show.asp?id={it.num}">{it.title}</a></li>' for it in olds)
    dead = '<li><a href="/xwzx/tpxw/201905/t20190512_1234.html">我市召开2019年春季植树活动动员会</a></li>'
    site.home_blocks.insert(0, ("热点关注", f"<ul>{dup}{old_links}{dead}</ul>"))
    site.redirects[site.ident["old_zcwj"]] = site.columns["tzgg"].path
    pool = [it.path for it in news[20:]] or [news[-1].path]
    if rng.random() < 0.3:
        site.slow[rng.choice(pool)] = 2.5
    site.flaky.add(rng.choice(pool))
    fam = site.family.name if site.family else "trs"
    site.ident["calendar"] = {"trs": "/hdjl/hdrl/index.html?date=2023-10", "hanweb": "/module/calendar/index.jsp?ym=202310",
                              "ucap": "/rili/index.htm?page=1"}[fam]


def trap_page(site: SiteModel, path: str) -> str | None:
    """The crawler trap: a calendar (or ?page=N chain) with a next link that never ends."""
    base, _, query = path.partition("?")
    cal = site.ident["calendar"].partition("?")[0]
    if base != cal:
        return None
    key, _, value = query.partition("=")
    if key == "page":
        n = int(value) if value.isdigit() else 1
        links = f'<a href="{cal}?page={n + 1}">下一页</a>' + (f' <a href="{cal}?page={n - 1}">上一页</a>' if n > 1 else "")
        title = f"活动预告 第{n}页"
    else:
        digits = value.replace("-", "")
        y, m = (int(digits[:4]), int(digits[4:6])) if len(digits) >= 6 and digits.isdigit() else (2023, 10)
        prev_y, prev_m = (y - 1, 12) if m == 1 else (y, m - 1)
        next_y, next_m = (y + 1, 1) if m == 12 else (y, m + 1)
        fmt = (lambda a, b: f"{a}-{b:02d}") if "-" in value else (lambda a, b: f"{a}{b:02d}")
        links = (f'<a href="{cal}?{key}={fmt(prev_y, prev_m)}">上月</a> '
                 f'<a href="{cal}?{key}={fmt(next_y, next_m)}">下月</a>')
        title = f"{y}年{m}月活动日历"
    charset = '<meta charset="gbk">' if site.encoding == "gbk" else '<meta charset="utf-8">'
    return f"<html><head>{charset}<title>{title}</title></head><body><h3>{title}</h3>{links}</body></html>"


# --- assembly ---------------------------------------------------------------------------------
def build_site(site: Site, seed: int, faults: str = "basic", access: str = "", year: int = DEFAULT_YEAR,
               profile: SiteProfile | None = None) -> SiteModel:
    """Build one portal (deterministic in the registry row, the seed, the year and the fault mode).

    Which leaves the site meets comes from its profile (``simweb.profile``; by default the
    profile of the site in the default registry); ``year`` 2022 is the same portal with that
    year's leaves, dated a year earlier (``simweb.years``). ``faults="full"`` builds the same
    site as ``"basic"`` and then adds the real web's faults (``simweb.faults``) from their own
    random streams.
    """
    if faults not in FAULT_MODES:
        raise ValueError(f"faults must be one of {FAULT_MODES}, not {faults!r}")
    if year not in YEARS:
        raise ValueError(f"year must be one of {YEARS}, not {year!r}")
    if profile is None:
        profile = default_profiles(seed).get(site.site_id)
    for y in dict.fromkeys((DEFAULT_YEAR, year)):  # what the leaves' own variants add or take, per year
        if profile is not None and y not in profile.corrections:
            _correct(site, seed, y, profile)
    return _build(site, seed, faults, access, year, profile)


def _correct(site: Site, seed: int, year: int, profile: SiteProfile) -> None:
    """Build the site (basic faults) a few times, moving the fill's target by what the built site missed
    (graded variants, leaves that need another leaf; a step, then bisection); keep the correction that
    missed least."""
    want = profile.target(year) / 100 * _total_points()
    tried: dict[float, float] = {}

    def miss(c: float) -> float:
        profile.corrections[year] = c
        tried[c] = want - truth_points(_build(site, seed, "basic", "", year, profile))
        return tried[c]

    a, ma = 0.0, miss(0.0)
    if abs(ma) > 0.6:
        b, mb = a, ma
        for _ in range(4):  # step by the miss until it changes sign (the fill can be flat for a while)
            b = round(b + mb, 3)
            mb = miss(b)
            if abs(mb) <= 0.6 or (mb > 0) != (ma > 0):
                break
            a, ma = b, mb
        for _ in range(4):
            if abs(mb) <= 0.6 or (ma > 0) == (mb > 0):
                break
            c = round((a + b) / 2, 3)
            mc = miss(c)
            a, ma, b, mb = (c, mc, b, mb) if (mc > 0) == (ma > 0) else (a, ma, c, mc)
    if min(abs(v) for v in tried.values()) > 0.6:  # the miss is not monotone (a leaf that brings others
        lo = min(tried)                             # along, a platform the portal's link makes reachable):
        for k in range(int(round(-lo * 2)) + 1):    # scan from the lowest correction tried up to 0
            c = round(lo + k / 2, 3)
            if c not in tried and abs(miss(c)) <= 0.6:
                break
    profile.corrections[year] = min(tried, key=lambda c: (abs(tried[c]), abs(c)))


def _total_points() -> float:
    return sum(lf.points for lf in profile_leaves())


def truth_points(m: SiteModel) -> float:
    """The points a correct scorer gives the built site (every leaf applies to every group), its
    service portal's and open-data platform's leaves included (``simweb.platforms_leaves``)."""
    pts = {lf.id: lf.points for lf in profile_leaves()}
    own = sum(pts.get(k, 0.0) * (1.0 if lt.share is None else lt.share) for k, lt in m.leaves.items() if lt.present)
    extra = platform_leaves(m, platforms.platform_truth(m))
    return own + sum(pts.get(k, 0.0) * lt["points_share"] for k, lt in extra.items() if k not in m.leaves)


def _build(site: Site, seed: int, faults: str, access: str, year: int, profile: SiteProfile | None) -> SiteModel:
    t0 = site.targets[0]
    rng = rng_for(seed, site.site_id, "site")
    scheme = site.portal_url.split(":", 1)[0]
    m = SiteModel(site_id=site.site_id, name=site.name_zh, level=t0.get("level", "city"),
                  province=t0.get("province") or site.name_zh, host=site.host, scheme=scheme, seed=seed, rng=rng)
    m.family = FAMILIES[_pick_weighted(rng, FAMILY_WEIGHTS)]
    m.encoding = "gbk" if rng.random() < (0.25 if m.family.name != "hanweb" else 0.08) else "utf-8"
    _identity(m, t0, rng)
    platforms.assign(m, site, profile.target(year) / 100 if profile is not None else None)
    _columns(m, rng)
    _base_items(m, rng)
    _static_pages(m, rng)
    _chrome(m, rng)
    m.family.assign_fixed(m)
    m.year = year
    chosen = None
    if profile is not None:  # the profile decides (simweb.profile); without one, independent coin flips
        chosen = profile.present(year, seed, fixed_points(m.scheme, m.host, bool(m.ident["has_validity"])),
                                 _total_points())
    for feature in FEATURES:
        if chosen is not None:
            present = feature.leaf_id in chosen or feature.leaf_id in FIXED_LEAVES
        else:
            present = rng_for(seed, site.site_id, feature.leaf_id, "present").random() < feature.presence
        m.leaves[feature.leaf_id] = feature.apply(m, present, rng_for(seed, site.site_id, feature.leaf_id))
    for feature in FEATURES:  # features whose truth depends on everything the others added
        if hasattr(feature, "finish"):
            feature.finish(m, m.leaves[feature.leaf_id], rng_for(seed, site.site_id, feature.leaf_id, "finish"))
    apply_document_forms(m, seed)  # regulations printed as body text, and their traps
    shift_site(m, DEFAULT_YEAR - year)  # an earlier year: everything dated that much earlier
    for col in m.columns.values():
        col.items.sort(key=lambda k: (m.items[k].date, m.items[k].num), reverse=True)
    m.family.assign_paths(m)
    _faults(m, rng)
    _page_table(m)
    if faults == "full":
        apply_full_faults(m, seed)
    if access:
        _apply_access(m, access)
    return m


def _apply_access(m: SiteModel, kind: str) -> None:
    """Give the site its access fault (``simweb.access``); challenge kinds need a challenge."""
    m.access = kind
    m.faults.append(f"access_{kind}")
    if kind in ("challenge_fail", "robots_challenge") and not m.challenge:
        m.challenge = "521" if kind == "robots_challenge" else "412"
        m.faults.append(f"cookie_challenge_{m.challenge}")
        for lt in m.leaves.values():
            if lt.present:
                lt.how.append("challenge")
                lt.reach.append("challenge")


def _page_table(m: SiteModel) -> None:
    assert m.family is not None
    for p in m.family.home_links():
        m.pages[p] = Page("home")
    for key, col in m.columns.items():
        for n, path in enumerate(col.pages):
            m.pages[path] = Page("list", ref=key, page_no=n)
    for key, item in m.items.items():
        m.pages[item.path] = Page("item", ref=key)
    for page in m.static_pages.values():
        m.pages[page.ref] = page


def layout_urls(m: SiteModel) -> list[str]:
    """Every URL of the site that answers 200 with the portal layout (pages and linked duplicates)."""
    return [m.base + p for p in list(m.pages) + list(m.aliases)]


def resolve(m: SiteModel, ref: str) -> list[str]:
    assert m.family is not None
    if ref == "sitewide":
        return layout_urls(m)
    if ref == "home":
        paths = m.family.home_links()
    elif ref.startswith("item:"):
        paths = [m.items[ref[5:]].path]
    elif ref.startswith("page:"):
        paths = [m.static_pages[ref[5:]].ref]
    elif ref.startswith("col:"):  # a column's first list page
        paths = [m.columns[ref[4:]].path]
    else:
        paths = [ref]
    paths += [a for a, target in m.aliases.items() if target in paths]
    return [m.base + p for p in paths]


def site_truth(m: SiteModel) -> dict:
    leaves = {}
    for leaf_id, lt in m.leaves.items():
        urls: list[str] = []
        for ref in lt.refs:
            urls += [u for u in resolve(m, ref) if u not in urls]
        details = [{"kind": kind, "urls": resolve(m, ref)} for kind, ref in lt.traps]
        traps: list[str] = []
        for d in details:
            traps += [u for u in d["urls"] if u not in traps]
        leaves[leaf_id] = {"present": lt.present, "points_share": (1.0 if lt.share is None else lt.share) if lt.present else 0.0,
                           "sitewide": "sitewide" in lt.refs, "how": lt.how, "reach": lt.reach,
                           "urls": urls if lt.present else [],
                           "attachment_urls": [m.base + p for p in lt.attachments] if lt.present else [],
                           "traps": traps, "trap_details": details}
    plat = platforms.platform_truth(m)
    leaves.update({k: v for k, v in platform_leaves(m, plat).items() if k not in leaves})
    challenge = None
    if m.challenge:
        issued, computed = challenge_cookie_names(m)
        challenge = {"status": int(m.challenge), "issued_cookie": issued, "computed_cookie": computed}
    return {"host": m.host, "scheme": m.scheme, "template": m.family.name if m.family else "",
            "encoding": m.encoding, "pages": len(m.pages) + len(m.aliases), "faults": m.faults,
            "fault_details": m.fault_details, "challenge": challenge, "js_nav": m.js_nav or None,
            "charset_fault": m.charset_fault or None,
            "access": access_describe(m.access) if m.access else None, "leaves": leaves,
            "platforms": plat}


class SimWeb:
    """All portals of a registry, built lazily per host and cached."""

    def __init__(self, registry: Registry, seed: int = 2023, faults: str = "basic",
                 access: dict[str, str] | None = None, year: int = DEFAULT_YEAR) -> None:
        if faults not in FAULT_MODES:
            raise ValueError(f"faults must be one of {FAULT_MODES}, not {faults!r}")
        if year not in YEARS:
            raise ValueError(f"year must be one of {YEARS}, not {year!r}")
        self.registry = registry
        self.seed = seed
        self.year = year
        self.profiles = build_profiles(registry, seed)
        self.faults = faults
        self.by_host: dict[str, Site] = {s.host: s for s in registry.sites}
        # access faults (simweb.access): one site per kind on a full-size registry, plus those asked for
        self.access = access_plan([s.site_id for s in registry.sites], seed) if faults == "full" else {}
        self.access.update(access or {})
        self._models: dict[str, SiteModel] = {}

    def model(self, host: str) -> SiteModel | None:
        m = self._models.get(host)
        if m is None:
            site = self.by_host.get(host)
            if site is None:
                return None
            m = self._models[host] = build_site(site, self.seed, self.faults, self.access.get(site.site_id, ""),
                                                self.year, self.profiles.get(site.site_id))
        return m

    def models(self) -> list[SiteModel]:
        return [m for m in (self.model(h) for h in self.by_host) if m is not None]


def truth(registry: Registry, seed: int = 2023, faults: str = "basic", access: dict[str, str] | None = None,
          year: int = DEFAULT_YEAR) -> dict:
    """The truth table of the whole simulated web of ``year`` (see the module docstring)."""
    web = SimWeb(registry, seed, faults, access, year)
    sites = {m.site_id: site_truth(m) for m in web.models()}
    platforms.mark_shared(sites)
    return {"seed": seed, "year": year, "as_of": year_as_of(year).isoformat(), "faults": faults,
            "profiles": {s: {"score": p.score, "progress": p.progress, "score_year": round(p.target(year), 2)}
                         for s, p in web.profiles.items()},
            "sites": sites}


def write_truth(registry: Registry, seed: int, path: str | Path, faults: str = "basic",
                access: dict[str, str] | None = None, year: int = DEFAULT_YEAR) -> Path:
    """Write the truth table as JSON (UTF-8) without serving anything."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(truth(registry, seed, faults, access, year), ensure_ascii=False, indent=1),
                 encoding="utf-8")
    return p
