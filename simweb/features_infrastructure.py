"""Leaf features of 强基赋能 (infrastructure), 安全规制 (security) and 应用成效 (effectiveness).

One class per leaf, registered in ``simweb.features.FEATURES`` (see FEATURES_INFRASTRUCTURE).
Each draws present / absent variants per site from its own random stream, adds decoys
(another government's document, a draft, an abolished document, one dated after the
2023-10-31 cut-off, a news mention without substance, the keyword in an unrelated phrase,
stale dates) and returns the truth as references (see ``simweb.features``).

Where the evidence sits, for the leaves judged from HTTP or site-level facts:

* ``https_access``, ``gov_domain``: the home page (``home``: every URL the home page answers
  at); once the crawler stores probes, the ``http://HOST/`` probe's final URL is the home page.
* ``mobile_viewport``, ``site_search``, ``accessibility_mode``, ``privacy_policy``,
  ``site_identity``, ``sitemap_page``: every page with the portal layout (``sitewide``).
* ``link_health``: the home page (the site-level finding is reported there).
* ``column_freshness``: the first list page of the news and notice columns (the newest
  item sits there).
* ``policy_validity_labels``: every policy-document page that prints a validity label.

Documents that also meet the existing ``data_security_regulation`` leaf (a public-data
条例 or 办法, a classification guideline) are recorded in that leaf's truth too.
"""

from __future__ import annotations

import random
import re
from datetime import date, timedelta

from simweb.content import AS_OF, news_paragraphs, paragraphs, random_date
from simweb.features import Feature, _host_of, add_doc, add_news, ext_link, news_trap
from simweb.model import Item, LeafTruth, SiteModel

# the existing data_security_regulation rules' titles (rules/leaves/data_security_regulation.yaml)
_DSR_TITLE = re.compile(
    r"(?:数据安全|公共数据|政务数据|政府数据|数据资源|大数据|数据要素|数据(?=条例)|数字经济促进|数据共享|数据开放)"
    r".{0,30}(?:条例|办法|规定|细则|规则|制度)"
    r"|(?:数据安全|公共数据|政务数据|数据).{0,20}(?:分类分级|指南|规范|标准|实施方案)|数据分类分级")
_DSR_FULL = re.compile(
    r"(?:数据安全|公共数据|政务数据|政府数据|数据资源|大数据|数据要素|数据(?=条例)|数字经济促进|数据共享|数据开放)"
    r".{0,30}(?:条例|办法|规定|细则|规则|制度)")
_DSR_NOT = re.compile(r"解读|图解|答记者问|新闻发布|起草说明|的说明|征求意见|草案|送审稿|通报|报告|总结|废止|清理|培训|会议")


def _domain(site: SiteModel) -> str:
    return site.host[4:] if site.host.startswith("www.") else site.host


def also_data_security(site: SiteModel, item: Item) -> None:
    """A valid own document that also meets data_security_regulation: say so in that leaf's truth."""
    t = site.leaves.get("data_security_regulation")
    if t is not None and _DSR_TITLE.search(item.title) and not _DSR_NOT.search(item.title):
        # a regulation (条例/办法/规定/细则…) earns the leaf's full points; a guideline, standard
        # or plan alone earns 2 of its 3 (the leaf's graded rules)
        share = 1.0 if _DSR_FULL.search(item.title) else 2 / 3
        if not t.present:
            t.share = share
        elif t.share is not None:
            t.share = max(t.share, share)
        if t.share is not None and t.share >= 1.0:
            t.share = None
        t.present = True
        if f"item:{item.key}" not in t.refs:
            t.refs.append(f"item:{item.key}")
            t.how.append(f"also {item.key}")


def own_notice(site: SiteModel, rng: random.Random, name: str, issuer: str | None = None) -> tuple[str, str, str]:
    """(title, issuer, 文号) of the target's notice issuing ``name``."""
    i = site.ident
    issuer = issuer or rng.choice([i["gov"], i["office"]])
    prefix = i["docno_gov"] if issuer == i["gov"] else i["docno_office"]
    if issuer not in (i["gov"], i["office"]):
        prefix = f"{i['short'][0]}数发"
    form = rng.choice(["{iss}关于印发《{n}》的通知", "{iss}关于印发{n}的通知", "{n}"])
    return form.format(iss=issuer, n=f"{site.name}{name}"), issuer, i["docno"](prefix, 2023, rng.randrange(2, 80))


class OwnDocFeature(Feature):
    """A target's own document of a kind, and its decoys."""

    names: list[str] = []
    kind_word = "办法"
    keyword = ""
    issuer_key = ""  # "" → the government or its office; "data_bureau"; "congress"
    couple = False

    def issuer(self, site: SiteModel) -> str | None:
        if self.issuer_key == "data_bureau":
            return site.ident["data_bureau"]
        if self.issuer_key == "congress":
            return f"{site.name}人民代表大会常务委员会"
        return None

    def other(self, site: SiteModel, rng: random.Random) -> tuple[str, str]:
        """(issuer, title) of another government's document of the kind."""
        if site.level == "province":
            return "国务院办公厅", f"国务院办公厅关于印发{rng.choice(self.names)}的通知".replace("关于印发关于", "关于")
        p = site.province
        return f"{p}人民政府办公厅", f"{p}人民政府办公厅关于印发《{p}{rng.choice(self.names)}》的通知"

    def news(self, site: SiteModel, rng: random.Random) -> str:
        return f"{site.short}召开{self.keyword}工作推进会"

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        lid = self.leaf_id
        if present:
            d = random_date(rng, date(2021, 3, 1), date(2023, 9, 28))
            title, issuer, dn = own_notice(site, rng, rng.choice(self.names), self.issuer(site))
            if self.issuer_key == "congress":
                dn = f"{site.name}人民代表大会常务委员会公告第{rng.randrange(2, 60)}号"
            it = add_doc(site, rng, f"{lid}-doc", title, issuer=issuer, docno=dn, d=d, kind_word=self.kind_word,
                         paras=paragraphs(rng, self.kind_word, 4), validity="有效")
            t.refs.append(f"item:{it.key}")
            t.how.append("own_document")
            if self.couple:
                also_data_security(site, it)
        r = self.trap_rate
        if rng.random() < r + 0.1:
            issuer, title = self.other(site, rng)
            it = add_doc(site, rng, f"{lid}-other", title, issuer=issuer, docno="", kind_word=self.kind_word,
                         d=random_date(rng, date(2021, 6, 1), date(2023, 9, 30)))
            t.traps.append(("other_government", f"item:{it.key}"))
        if rng.random() < r:
            name = rng.choice(self.names)
            it = add_doc(site, rng, f"{lid}-draft", f"{site.name}{name}（征求意见稿）", issuer=self.issuer(site)
                         or site.ident["office"], docno="", validity="", column="tzgg", kind_word="公告",
                         d=random_date(rng, date(2023, 7, 1), date(2023, 9, 30)))
            t.traps.append(("draft", f"item:{it.key}"))
        if rng.random() < r:
            name = rng.choice(self.names)
            it = add_doc(site, rng, f"{lid}-repealed", f"{site.name}{name}".replace("（试行）", "") + "（2017年）",
                         issuer=self.issuer(site) or site.ident["gov"], docno="",
                         validity=rng.choice(["废止", "失效"]), d=random_date(rng, date(2016, 3, 1), date(2018, 12, 1)))
            t.traps.append(("repealed", f"item:{it.key}"))
        if rng.random() < r:
            title, issuer, dn = own_notice(site, rng, rng.choice(self.names), self.issuer(site))
            it = add_doc(site, rng, f"{lid}-late", title, issuer=issuer, docno=dn, kind_word=self.kind_word,
                         d=random_date(rng, date(2023, 11, 15), date(2023, 12, 20)))  # 成文日期 too
            t.traps.append(("after_cutoff", f"item:{it.key}"))
        if rng.random() < r + 0.15:
            it = add_news(site, rng, f"{lid}-news", self.news(site, rng),
                          [f"会议强调，要扎实推进{self.keyword}各项工作。", *news_paragraphs(rng, 2)])
            t.traps.append(("news_mention", f"item:{it.key}"))
        return t


class DataAuthorisedOperation(OwnDocFeature):
    leaf_id = "data_authorised_operation"
    presence = 0.55
    names = ["公共数据授权运营管理办法（试行）", "公共数据授权运营试点工作方案", "关于推进公共数据授权运营的实施意见",
             "关于开展公共数据授权运营试点的通知"]
    keyword = "公共数据授权运营"
    couple = True

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        own = site.items.get("data_security_regulation-own")
        also = own is not None and "授权运营" in own.title
        t = super().apply(site, present or False, rng)
        if also and own is not None:
            t.present = True
            t.refs.append(f"item:{own.key}")
            t.how.append("data_security_regulation-own")
        return t


class DataLegislation(OwnDocFeature):
    leaf_id = "data_legislation"
    presence = 0.35
    names = ["数据条例", "公共数据条例", "大数据发展应用促进条例", "数字经济促进条例", "数据要素市场化配置改革促进条例"]
    kind_word = "条例"
    keyword = "数据立法"
    issuer_key = "congress"
    couple = True

    def other(self, site: SiteModel, rng: random.Random) -> tuple[str, str]:
        if site.level == "province":
            return "国务院", "网络数据安全管理条例"
        return f"{site.province}人民代表大会常务委员会", f"{site.province}{rng.choice(self.names)}"

    def news(self, site: SiteModel, rng: random.Random) -> str:
        return rng.choice(["人大常委会召开数据条例立法调研座谈会", f"{site.short}开展数据条例宣传进社区活动"])


class DataClassification(OwnDocFeature):
    leaf_id = "data_classification"
    presence = 0.3
    names = ["公共数据分类分级指南（试行）", "公共数据分类分级管理办法", "政务数据分类分级实施细则"]
    kind_word = "指南"
    keyword = "数据分类分级"
    issuer_key = "data_bureau"
    couple = True

    def news(self, site: SiteModel, rng: random.Random) -> str:
        return f"{site.short}举办数据分类分级专题培训"


class GovCloud(OwnDocFeature):
    leaf_id = "gov_cloud_platform"
    presence = 0.6
    names = ["政务云管理办法", "政务云平台建设实施方案", "一体化大数据平台建设方案", "关于加快推进政务云建设的实施意见",
             "政务云服务管理暂行办法"]
    kind_word = "办法"
    keyword = "政务云"
    couple = True

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = super().apply(site, present, rng)
        if rng.random() < 0.5:  # a procurement notice: the keyword without the indicator
            it = add_news(site, rng, "gov_cloud_platform-tender", f"{site.name}政务云服务采购项目中标结果公告",
                          ["项目名称：政务云服务采购项目。", "中标供应商：某科技有限公司。"], column="tzgg")
            t.traps.append(("keyword_unrelated", f"item:{it.key}"))
        return t


class WebsiteInspection(OwnDocFeature):
    leaf_id = "website_inspection_report"
    presence = 0.6
    names = ["2023年第二季度政府网站和政务新媒体检查情况的通报", "2023年第一季度政府网站与政务新媒体抽查情况的通报",
             "2022年第四季度政府网站和政务新媒体检查情况的通报"]
    kind_word = "通报"
    keyword = "政府网站和政务新媒体管理"

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        i = site.ident
        scope = "全省" if site.level == "province" else "全市"
        if present:
            name = rng.choice(self.names).replace("政府网站", f"{scope}政府网站")
            d = random_date(rng, date(2022, 8, 1), date(2023, 9, 25))
            it = add_doc(site, rng, "website_inspection_report-doc", f"{i['office']}关于{name}", issuer=i["office"],
                         docno=i["docno"](i["docno_office"], d.year, rng.randrange(3, 90)), d=d, kind_word="通报",
                         paras=[f"按照有关工作要求，{i['office']}组织开展了政府网站和政务新媒体检查。",
                                "本次共检查政府网站23个、政务新媒体156个，总体合格率为100%。"])
            t.refs.append(f"item:{it.key}")
        if rng.random() < self.trap_rate + 0.1:
            other = "国务院办公厅" if site.level == "province" else f"{site.province}人民政府办公厅"
            where = "全国" if site.level == "province" else "全省"
            it = add_doc(site, rng, "website_inspection_report-other",
                         f"{other}关于2023年第一季度{where}政府网站与政务新媒体检查情况的通报", issuer=other, docno="",
                         d=random_date(rng, date(2023, 4, 1), date(2023, 6, 30)))
            t.traps.append(("other_government", f"item:{it.key}"))
        if rng.random() < self.trap_rate:
            it = add_doc(site, rng, "website_inspection_report-late",
                         f"{i['office']}关于2023年第三季度{scope}政府网站和政务新媒体检查情况的通报", issuer=i["office"],
                         docno=i["docno"](i["docno_office"], 2023, rng.randrange(90, 99)),
                         d=random_date(rng, date(2023, 11, 15), date(2023, 12, 15)))
            t.traps.append(("after_cutoff", f"item:{it.key}"))
        if rng.random() < self.trap_rate + 0.1:
            news_trap(site, rng, t, "website_inspection_report-news", f"{site.short}召开政府网站和政务新媒体工作培训会",
                      "会议通报了近期政府网站和政务新媒体检查中发现的问题。", kind="news_mention")
        return t


class AnnualReports(Feature):
    leaf_id = "annual_reports"
    presence = 0.7

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        i = site.ident
        if present:
            kinds = rng.sample(["gk", "wz"], k=rng.choice([1, 2]))
            for k in kinds:
                y = rng.choice([2021, 2022])
                if k == "gk":
                    title = rng.choice([f"{i['gov']}{y}年政府信息公开工作年度报告",
                                        f"{site.name}人民政府{y}年度政府信息公开工作年度报告"])
                    issuer = i["gov"]
                else:
                    title = rng.choice([f"{i['site_title']}{y}年度工作报表", f"{i['gov']}门户网站{y}年度工作报表"])
                    issuer = i["office"]
                it = add_doc(site, rng, f"annual_reports-{k}", title, issuer=issuer, docno="",
                             d=random_date(rng, date(y + 1, 1, 10), date(y + 1, 1, 31)), kind_word="报告",
                             paras=["一、总体情况", "二、主动公开政府信息情况", "三、收到和处理政府信息公开申请情况"])
                t.refs.append(f"item:{it.key}")
        if rng.random() < self.trap_rate + 0.1:
            dist = rng.choice(["高新区", "经济开发区", "新城区", "滨江区"])
            body = "管理委员会" if "开发区" in dist or "高新区" in dist else "人民政府"
            it = add_doc(site, rng, "annual_reports-district", f"{site.name}{dist}2022年政府信息公开工作年度报告",
                         issuer=f"{site.name}{dist}{body}", docno="", d=date(2023, 1, rng.randrange(10, 31)))
            t.traps.append(("other_government", f"item:{it.key}"))
        if rng.random() < self.trap_rate:
            it = add_doc(site, rng, "annual_reports-notice", f"{i['office']}关于做好2022年政府信息公开工作年度报告编制发布工作的通知",
                         issuer=i["office"], docno=i["docno"](i["docno_office"], 2022, rng.randrange(60, 99)),
                         d=date(2022, 12, rng.randrange(1, 28)))
            t.traps.append(("keyword_unrelated", f"item:{it.key}"))
        if rng.random() < self.trap_rate:
            news_trap(site, rng, t, "annual_reports-news", f"{site.short}2022年政府信息公开工作年度报告发布",
                      "日前，我市发布了2022年政府信息公开工作年度报告。", kind="news_mention")
        return t


# --- links and page furniture -----------------------------------------------------------------
class DataCatalog(Feature):
    leaf_id = "data_catalog"
    presence = 0.6

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        if present:
            v = rng.choice(["zwgk_link", "document"])
            t.how.append(v)
            if v == "zwgk_link":
                text = rng.choice(["公共数据资源目录", "政务数据资源目录", f"{site.short}数据资源目录"])
                url = f"https://sjml.{_domain(site)}/catalog/index.html"
                site.ident["zwgk_extra"] += f"<li>{ext_link(url, text)}</li>"
                site.external_hosts[_host_of(url)] = text
                t.refs.append("page:zwgk")
            else:
                bureau = site.ident["data_bureau"]
                it = add_doc(site, rng, "data_catalog-doc",
                             f"{bureau}关于发布《{site.name}公共数据资源目录（{rng.choice([2022, 2023])}年版）》的通知",
                             issuer=bureau, docno="", d=random_date(rng, date(2022, 3, 1), date(2023, 9, 20)))
                t.refs.append(f"item:{it.key}")
        if rng.random() < self.trap_rate + 0.1:
            news_trap(site, rng, t, "data_catalog-news", f"{site.short}召开公共数据资源目录编制工作培训会",
                      "会议对公共数据资源目录编制工作进行了部署。")
        return t


class DataExchange(Feature):
    leaf_id = "data_exchange"
    presence = 0.55

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        prov = site.ident["prov_short"]
        url = f"https://www.{rng.choice(['dex', 'dataex', 'sjjy'])}{site.seed % 97}{site.site_id[-3:]}.com.cn/"
        if present:
            text = rng.choice([f"{prov}数据交易所", f"{site.short}数据交易中心", "数据交易服务平台"])
            site.external_hosts[_host_of(url)] = text
            v = rng.choice(["home", "footer"])
            t.how.append(v)
            if v == "home":
                site.home_blocks.append(("数据要素", f"<ul><li>{ext_link(url, text)}</li></ul>"))
                t.refs.append("home")
            else:
                site.footer_lines.append("合作平台：" + ext_link(url, text))
                t.refs.append("sitewide")
        if rng.random() < self.trap_rate + 0.1:
            news_trap(site, rng, t, "data_exchange-news", f"{site.short}首批数据产品在{prov}数据交易所挂牌交易",
                      "近日，我市首批数据产品成功挂牌交易。")
        return t


class HttpsAccess(Feature):
    leaf_id = "https_access"
    presence = 1.0  # the registry's portals are all https; HSTS decides the grade

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        present = site.scheme == "https"
        t = LeafTruth(present=present)
        if present:
            t.refs.append("home")
            if rng.random() < 0.55:
                site.ident["http_headers"] = [("Strict-Transport-Security",
                                               rng.choice(["max-age=31536000", "max-age=63072000; includeSubDomains"]))]
                t.how.append("hsts")
            else:
                t.share = 0.5
                t.how.append("https only")
        return t


class GovDomain(Feature):
    leaf_id = "gov_domain"
    presence = 1.0

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=site.host.endswith(".gov.cn"))
        if t.present:
            t.refs.append("home")
        return t


class MobileViewport(Feature):
    leaf_id = "mobile_viewport"
    presence = 0.65

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        if present:
            site.ident["head_extra"] = "\n" + rng.choice([
                '<meta name="viewport" content="width=device-width, initial-scale=1.0">',
                '<meta name="viewport" content="width=device-width,initial-scale=1,minimum-scale=1,maximum-scale=1,user-scalable=no" />',
                "<meta content='width=device-width, initial-scale=1' name='viewport'>"])
            t.refs.append("sitewide")
        elif rng.random() < 0.5:  # a fixed-width viewport: not adaptive
            site.ident["head_extra"] = '\n<meta name="viewport" content="width=1280">'
            t.traps.append(("fixed_width", "sitewide"))
        return t


class SiteSearch(Feature):
    leaf_id = "site_search"
    presence = 0.75

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        fam = site.family.name if site.family else "trs"
        if present:
            action = {"trs": "/was5/web/search", "hanweb": "/jsearchfront/search.do",
                      "ucap": f"https://sousuo.{_domain(site)}/s"}[fam]
            if rng.random() < 0.6:
                form = (f'<form class="search" action="{action}" method="get" target="_blank">'
                        f'<input type="text" name="{rng.choice(["searchword", "q", "keyword"])}" '
                        f'placeholder="{rng.choice(["请输入关键字", "搜索", "请输入搜索内容"])}">'
                        '<input type="submit" value="搜索"></form>')
            else:  # a JavaScript search box, no form
                form = (f'<div class="search"><input id="searchInput" type="text" placeholder="请输入关键词">'
                        f'<button onclick="window.open(\'{action}?q=\'+searchInput.value)">检索</button></div>')
            site.header_links.append(form)
            t.refs.append("sitewide")
        elif rng.random() < 0.4:
            site.header_links.append('<form action="/sso/login" method="post"><input name="username" '
                                     'placeholder="用户名"><input type="password" name="pwd"></form>')
            t.traps.append(("login_form", "sitewide"))
        return t


def _drop_fragments(items: list, needle: str, site: SiteModel) -> None:
    """Remove ``needle`` from the header/footer fragments that carry it."""
    for n, f in enumerate(list(items)):
        html = f(site) if callable(f) else f
        if needle in html:
            items[n] = re.sub(r"<a[^>]*>" + needle + r"</a>(\s*[|　 ]\s*)?", "", html)


class SitemapPage(Feature):
    leaf_id = "sitemap_page"
    presence = 0.85

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        if present:
            t.refs.append("sitewide")
        else:  # no 网站地图 link; the page stays reachable from 联系我们 under another label
            _drop_fragments(site.header_links, "网站地图", site)
            _drop_fragments(site.footer_lines, "网站地图", site)
            lxwm = site.static_pages["lxwm"]
            old = lxwm.body
            lxwm.body = lambda s, _o=old: ((_o(s) if callable(_o) else _o) +
                                           f'<p><a href="{s.static_pages["wzdt"].ref}">栏目索引</a></p>')
            t.how.append("no 网站地图 link")
        return t


class AccessibilityMode(Feature):
    leaf_id = "accessibility_mode"
    presence = 0.7

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        site.header_links[:] = [f for f in site.header_links
                                if not (isinstance(f, str) and ("aria.start" in f or "aria.oldFixedStart" in f))]
        if present:
            a = rng.choice(["无障碍", "无障碍浏览", "无障碍阅读"])
            b = rng.choice(["关怀版", "长者模式", "适老化版", "老年模式"])
            site.header_links[:0] = [f'<a id="cniil_wza" href="javascript:void(0)" onclick="aria.start()">{a}</a>',
                                     f'<a href="javascript:void(0)" onclick="aria.oldFixedStart()">{b}</a>']
            t.refs.append("sitewide")
        if rng.random() < self.trap_rate:
            news_trap(site, rng, t, "accessibility-news", f"{site.short}加快推进老旧小区适老化改造和无障碍环境建设",
                      "今年以来，我市持续推进适老化改造。")
        return t


class PrivacyPolicy(Feature):
    leaf_id = "privacy_policy"
    presence = 0.6

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        sep = "　|　"
        if present:
            text = rng.choice(["隐私政策", "隐私声明", "个人信息保护政策", "隐私保护"])
            site.footer_lines.append(lambda s, _t=text: f'<a href="{s.static_pages["lxwm"].ref}#privacy">{_t}</a>{sep}'
                                     f'<a href="{s.static_pages["lxwm"].ref}#sm">网站声明</a>')
            t.refs.append("sitewide")
        elif rng.random() < 0.6:
            site.footer_lines.append(lambda s: f'<a href="{s.static_pages["lxwm"].ref}#sm">网站声明</a>')
            t.traps.append(("site_statement", "sitewide"))
        if rng.random() < self.trap_rate:
            news_trap(site, rng, t, "privacy-news", f"{site.short}开展个人信息保护宣传周活动",
                      "活动围绕个人信息保护、隐私保护等主题展开。")
        return t


class SiteIdentity(Feature):
    leaf_id = "site_identity"
    presence = 0.75

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        code = site.ident["idcode"]
        if present:
            t.refs.append("sitewide")
            return t
        site.ident["idcode"] = ""
        for n, f in enumerate(site.footer_lines):
            if isinstance(f, str) and code in f:
                f = re.sub(r"网站标识码：\d+(　\|　|　| )?", "", f)
                site.footer_lines[n] = f.replace(f'sitecode="{code}"', 'sitecode=""')
        t.how.append("no 网站标识码")
        return t


class LinkHealth(Feature):
    leaf_id = "link_health"
    presence = 0.75

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        if present:
            t.refs.append("home")
        else:  # a block of links to pages long gone
            dead = "".join(f'<li><a href="/xxgk/old/{2016 + n % 3}/art_{rng.randrange(10**5, 10**6)}.html">'
                           f"往期专题{n + 1}</a></li>" for n in range(40))
            site.home_blocks.append(("往期专题", f"<ul>{dead}</ul>"))
            t.how.append("40 dead links")
        return t


class ColumnFreshness(Feature):
    """The news and notice columns: newest item within 14 days (full), within 6 months (half), older."""

    leaf_id = "column_freshness"
    presence = 0.85
    COLUMNS = ("yw", "tzgg", "bmdt")

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        t.how.append("fresh" if present and rng.random() < 0.7 else "recent" if present else "stale")
        if t.how[0] == "fresh":
            add_news(site, rng, "freshness-news", f"{site.short}召开{rng.choice(['季度经济形势分析会', '安全生产工作会议'])}",
                     news_paragraphs(rng, 3), d=AS_OF - timedelta(days=rng.randrange(1, 10)))
        return t

    def finish(self, site: SiteModel, t: LeafTruth, rng: random.Random) -> None:
        """Age every item of the columns once all features have added theirs."""
        if t.how[0] == "fresh":
            limit = None
        elif t.how[0] == "recent":
            limit, lo = AS_OF - timedelta(days=20), date(2023, 5, 10)
            t.share = 0.5
        else:
            limit, lo = AS_OF - timedelta(days=200), date(2022, 6, 1)
        for key in self.COLUMNS:
            for k in site.columns[key].items:
                it = site.items[k]
                if limit is not None and limit < it.date <= AS_OF:
                    it.date = random_date(rng, lo, limit)
                    if it.written and it.written > it.date:
                        it.written = it.date
        if t.present:
            t.refs += [f"col:{k}" for k in self.COLUMNS if not site.columns[k].script_list] + ["home"]


class PolicyValidityLabels(Feature):
    leaf_id = "policy_validity_labels"
    presence = 1.0  # decided by the template's has_validity

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        return LeafTruth(present=bool(site.ident["has_validity"]))

    def finish(self, site: SiteModel, t: LeafTruth, rng: random.Random) -> None:
        if t.present:
            t.refs += [f"item:{k}" for k, it in site.items.items() if it.kind == "doc" and it.validity
                       and it.attachment is None]


class ServiceRating(Feature):
    leaf_id = "service_rating"
    presence = 0.6

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        if present:
            q = rng.choice(["第一季度", "第二季度", "第三季度", "上半年"])
            good = rng.choice(["99.98%", "99.9%", "99.95%"])
            it = add_news(site, rng, "service_rating-disclosure", f"{site.name}2023年{q}政务服务“好差评”情况公示",
                          [f"2023年{q}，全市政务服务“好差评”系统共收到评价{rng.randrange(50, 900)}.{rng.randrange(1, 9)}万条，"
                           f"其中好评率为{good}，差评{rng.randrange(3, 90)}件，差评整改率100%。",
                           "各部门对差评逐件核实整改。"], column="tzgg", d=random_date(rng, date(2023, 4, 5), date(2023, 10, 20)))
            t.refs.append(f"item:{it.key}")
        if rng.random() < self.trap_rate + 0.1:
            news_trap(site, rng, t, "service_rating-news", f"{site.short}全面推行政务服务“好差评”制度",
                      "我市将建立政务服务“好差评”制度，推动服务质量持续提升。", kind="news_mention")
        return t


class UsageFigures(Feature):
    leaf_id = "usage_figures"
    presence = 0.6

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        if present:
            users = f"{rng.randrange(120, 2800)}{rng.choice(['', '.5', '.3'])}万"
            it = add_news(site, rng, "usage_figures-news", f"{site.short}“一网通办”前三季度运行情况",
                          [rng.choice([f"截至9月底，{site.short}政务服务平台实名注册用户达{users}，",
                                       f"目前平台注册用户数{users}，"])
                           + rng.choice([f"累计办件量{rng.randrange(200, 9000)}万件。", f"全年网上办件量突破{rng.randrange(2, 90)}00万件。"]),
                           *news_paragraphs(rng, 2)], d=random_date(rng, date(2023, 4, 1), date(2023, 10, 25)))
            t.refs.append(f"item:{it.key}")
        if rng.random() < self.trap_rate + 0.1:
            it = add_news(site, rng, "usage_figures-target", f"{site.short}印发政务服务能力提升行动方案",
                          [f"方案提出，到2025年，力争平台注册用户达到{rng.randrange(300, 900)}万，网上办件量占比达到90%以上。",
                           *news_paragraphs(rng, 2)])
            t.traps.append(("target_not_result", f"item:{it.key}"))
        return t


class RecognisedCases(Feature):
    leaf_id = "recognised_cases"
    presence = 0.55

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        if present:
            what = rng.choice(["“一网通办”改革", "城市运行“一网统管”平台", "公共数据授权运营", "“无证明城市”建设"])
            award = rng.choice(["入选国务院办公厅数字政府建设典型案例", "获评全国数字政府优秀案例",
                                "入选国家数据局数字中国建设典型案例", "荣获中国政务信息化优秀案例"])
            it = add_news(site, rng, "recognised_cases-news", f"{site.short}{what}{award[:2]}全国案例",
                          [f"近日，{site.short}{what}{award}。", *news_paragraphs(rng, 2)],
                          d=random_date(rng, date(2023, 1, 10), date(2023, 10, 20)))
            t.refs.append(f"item:{it.key}")
        if rng.random() < self.trap_rate + 0.1:
            it = add_news(site, rng, "recognised_cases-call", f"关于征集{site.short}数字政府建设典型案例的通知",
                          ["为总结推广经验，现面向全市征集数字政府建设典型案例和优秀案例，请各单位积极申报。"], column="tzgg")
            t.traps.append(("call_for_cases", f"item:{it.key}"))
        if rng.random() < self.trap_rate:
            it = add_news(site, rng, "recognised_cases-late", f"{site.short}数字化改革项目入选全国典型案例",
                          [f"近日，{site.short}数字化改革项目入选全国数字政府建设典型案例。"],
                          d=date(2023, 11, rng.randrange(5, 28)))
            t.traps.append(("after_cutoff", f"item:{it.key}"))
        return t


FEATURES_INFRASTRUCTURE: list[Feature] = [
    DataCatalog(), DataAuthorisedOperation(), DataExchange(), GovCloud(), HttpsAccess(), MobileViewport(),
    SiteSearch(), SitemapPage(), DataLegislation(), DataClassification(), PrivacyPolicy(), SiteIdentity(),
    GovDomain(), LinkHealth(), ColumnFreshness(), AccessibilityMode(), WebsiteInspection(), AnnualReports(),
    PolicyValidityLabels(), ServiceRating(), UsageFigures(), RecognisedCases(),
]
