"""Leaf features: one pluggable unit per indicator leaf of the simulated web.

A feature is a class with a ``leaf_id``, a ``presence`` probability and an
``apply(site, present, rng) -> LeafTruth`` method. ``apply`` adds whatever the leaf
needs to the :class:`~simweb.model.SiteModel` (items, static-page fragments, nav
entries, footer lines, home blocks) in the present *or* absent variant, adds decoys
("traps") on some sites, and returns the truth as references (``item:<key>``,
``page:<key>``, ``home``, ``sitewide``) that ``simweb.generate`` resolves to URLs once
the template family has assigned paths. To add a leaf: write one class here and
append an instance to :data:`FEATURES`.
"""

from __future__ import annotations

import random
from datetime import date
from html import escape

from simweb.content import (
    AS_OF,
    DATA_REG_NAMES,
    PLAN_NAMES,
    index_no,
    news_paragraphs,
    paragraphs,
    random_date,
)
from simweb.model import Item, LeafTruth, SiteModel


class Feature:
    leaf_id = ""
    presence = 0.7
    trap_rate = 0.45

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        raise NotImplementedError


# --- helpers shared by features -------------------------------------------------------------
def add_doc(site: SiteModel, rng: random.Random, key: str, title: str, *, issuer: str | None = None,
            docno: str = "", d: date | None = None, validity: str = "有效", column: str = "zcwj",
            kind_word: str = "通知", paras: list[str] | None = None, topic: str = "") -> Item:
    d = d or random_date(rng, date(2020, 3, 1), date(2023, 9, 30))
    written = d if rng.random() < 0.6 else date.fromordinal(d.toordinal() - rng.randrange(1, 12))
    item = Item(key=key, kind="doc", column=column, title=title, date=d, num=site.new_num(),
                issuer=issuer or site.ident["gov"], docno=docno, written=written,
                validity=validity if site.ident["has_validity"] else ("" if validity == "有效" else validity),
                index_no=index_no(rng, site.ident["index_style"], site.ident["org_code"], d, rng.randrange(1, 3000)),
                source=issuer or site.ident["gov"], paras=paras or paragraphs(rng, kind_word, rng.randrange(3, 7)),
                topic=topic)
    if item.validity in ("废止", "失效"):
        item.extra_html = f'<div class="stamp" style="color:red">本文件已{item.validity}</div>'
    return site.add_item(item)


def add_news(site: SiteModel, rng: random.Random, key: str, title: str, paras: list[str], *,
             column: str = "yw", d: date | None = None, source: str = "") -> Item:
    d = d or random_date(rng, date(2023, 1, 1), date(2023, 10, 28))
    return site.add_item(Item(key=key, kind="news", column=column, title=title, date=d, num=site.new_num(),
                              source=source or site.ident["office"], paras=paras))


def news_trap(site: SiteModel, rng: random.Random, t: LeafTruth, key: str, title: str, lead: str,
              kind: str = "news_headline") -> Item:
    """A news item that mentions a leaf's keywords without meeting it, recorded as a trap of ``t``."""
    it = add_news(site, rng, key, title, [lead, *news_paragraphs(rng, 2)])
    t.traps.append((kind, f"item:{it.key}"))
    return it


def ext_link(url: str, text: str) -> str:
    return f'<a href="{escape(url)}" target="_blank">{escape(text)}</a>'


def _host_of(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]


# --- hotline_12345 ---------------------------------------------------------------------------
class Hotline12345(Feature):
    leaf_id = "hotline_12345"
    presence = 0.8

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        label = site.host.split(".")[1] if site.host.count(".") >= 2 else site.host.split(".")[0]
        hotline_url = f"https://www.{label[:2]}12345.gov.cn/"
        area = site.ident["area"]
        hdjl = site.static_pages["hdjl"]
        parts = [f'<li><a href="{site.href("page:ldxx")}">{site.static_pages["ldxx"].title}</a></li>',
                 f'<li><a href="{site.href("col:tzgg")}">意见征集</a></li>', '<li>在线访谈</li>']
        if present:
            variants = rng.sample(["home_link", "footer_text", "hdjl_image", "float", "header_image", "header_text",
                                   "float_image"], k=rng.choice([1, 1, 2]))
            for v in variants:
                t.how.append(v)
                if v == "home_link":
                    text = rng.choice(["12345政务服务便民热线", "12345政务服务热线", "12345便民服务热线"])
                    site.home_blocks.append(("便民服务", f'<ul><li>{ext_link(hotline_url, text)}</li>'
                                             f'<li><a href="{site.href("page:ldxx")}">我要写信</a></li></ul>'))
                    site.external_hosts[_host_of(hotline_url)] = text
                    t.refs.append("home")
                elif v == "footer_text":
                    text = rng.choice(["市民热线：12345", "政务服务便民热线：12345", f"服务热线：{area}-12345",
                                       "12345热线（24小时）"])
                    site.footer_lines.append(text)
                    t.refs.append("sitewide")
                elif v == "hdjl_image":
                    parts.insert(0, f'<li><a href="{hotline_url}" target="_blank"><img src="/images/rx12345.png" '
                                    f'alt="12345热线"></a><span>12345热线</span>：我要咨询 我要投诉 我要建议</li>')
                    site.external_hosts[_host_of(hotline_url)] = "12345热线"
                    t.refs.append("page:hdjl")
                elif v == "float":
                    site.floats.append(f'<div class="float-r" style="position:fixed;right:0;top:40%">'
                                       f'<a href="{hotline_url}" target="_blank">12345在线</a></div>')
                    site.external_hosts[_host_of(hotline_url)] = "12345在线"
                    t.refs.append("home")
                elif v == "header_image":
                    site.header_links.append(f'<a href="{hotline_url}" target="_blank"><img src="/images/12345.png" '
                                             f'alt="12345"></a>')
                    site.external_hosts[_host_of(hotline_url)] = "12345"
                    t.refs.append("sitewide")
                elif v == "header_text":  # a number in the top bar, no link (many 集约化 templates)
                    words = rng.choice(["市民服务热线", "政务服务便民热线", "便民服务热线", "政府服务热线"])
                    site.header_links.append(f'<span class="tel">{words}<b>12345</b></span>')
                    t.refs.append("sitewide")
                elif v == "float_image":  # a floating icon whose only label is its alt text, opened by script
                    site.floats.append(f'<div class="piao" style="position:fixed;left:10px;bottom:25%">'
                                       f'<img src="/images/float_rx.png" alt="{rng.choice(["12345政务服务便民热线", "12345热线"])}" '
                                       f'style="cursor:pointer" onclick="window.open(\'{hotline_url}\')"></div>')
                    site.external_hosts[_host_of(hotline_url)] = "12345"
                    t.refs.append("home")
        hdjl.body = "<ul>" + "".join(parts) + "</ul>"
        # traps
        if rng.random() < self.trap_rate:
            fax = f"{area}-{rng.choice(['85', '87', '86'])}123456"
            site.footer_lines.append(f"传真：{fax}")
            t.traps.append(("phone_contains_12345", "sitewide"))
        if rng.random() < self.trap_rate:
            code = f"{rng.randrange(2021, 2024)}{rng.randrange(0, 9)}12345{rng.randrange(0, 9)}"
            it = add_news(site, rng, "trap-12345-id", f"关于公布{site.short}第{rng.randrange(2, 9)}批行政许可事项目录的公告",
                          [f"受理编号：{code}。", f"咨询电话：{area}-88123457。", *news_paragraphs(rng, 2)],
                          column="tzgg")
            t.traps.append(("id_contains_12345", f"item:{it.key}"))
        _hotline_in_bodies(site, t, rng)
        return t


def _hotline_in_bodies(site: SiteModel, t: LeafTruth, rng: random.Random) -> None:
    """Pages whose article body (and headline) is about the hotline: news, a regulation on it, a
    notice giving 12345 as the complaint channel. None is an entry, on sites with or without one."""
    short, area = site.short, site.ident["area"]
    if rng.random() < 0.45:
        n = rng.randrange(12, 90)
        title, lead = rng.choice([
            (f"{short}12345热线前三季度受理群众来电{n}万余件",
             f"记者从市政务服务中心获悉，今年前三季度，{short}12345政务服务便民热线共受理群众来电{n}万余件，按时办结率98.6%。"),
            (f"“接诉即办”再提速 {short}12345热线群众满意率持续提升",
             f"今年以来，{short}持续优化12345热线运行机制，对群众反映的急难愁盼问题实行“一号响应、限时办结”。"),
            (f"{short}召开12345政务服务便民热线工作推进会",
             "会议要求，各承办单位要进一步压实责任，确保12345热线转办的群众诉求件件有着落、事事有回音。"),
        ])
        news_trap(site, rng, t, "trap-12345-news-body", title, lead, kind="body_news")
        it = site.items["trap-12345-news-body"]
        it.paras.insert(2, rng.choice(["市民遇到问题，可随时拨打12345热线反映。",
                                       f"群众可通过12345热线电话、“{short}12345”微信公众号等渠道提出诉求。"]))
    if rng.random() < 0.35:
        i = site.ident
        name = rng.choice(["12345政务服务便民热线管理办法", "12345政务服务便民热线运行管理办法", "12345热线工单办理规定"])
        it = add_doc(site, rng, "trap-12345-regulation", f"{i['office']}关于印发{site.name}{name}的通知",
                     issuer=i["office"], docno=i["docno"](i["docno_office"], 2022, rng.randrange(5, 70)),
                     kind_word="办法", paras=[
                         "第一条 为了规范12345政务服务便民热线（以下简称热线）运行管理，提升服务效能，结合本市实际，制定本办法。",
                         "第二条 本市行政区域内热线受理、转办、承办、督办、回访和评价等工作，适用本办法。",
                         f"第三条 热线号码为12345（区号{area}），实行7×24小时全天候人工服务。",
                         "第四条 热线工作机构应当建立知识库，及时更新政策法规和办事指南。",
                         "第五条 本办法自印发之日起施行。"])
        t.traps.append(("regulation_body", f"item:{it.key}"))
    if rng.random() < 0.35:
        topic = rng.choice(["燃气安全", "违规收费", "食品安全", "校外培训机构", "农民工工资支付"])
        channel = rng.choice([f"监督举报电话：12345（24小时）、{area}-8{rng.randrange(1000000, 9999999)}。",
                              "广大群众发现相关问题线索的，可通过12345政务服务便民热线反映。",
                              f"投诉举报渠道：拨打12345热线或登录{site.host}“互动交流”栏目。"])
        it = add_news(site, rng, "trap-12345-notice", f"关于开展{topic}专项整治行动的通告",
                      [f"为切实加强{topic}管理，经研究，决定在全市范围内开展为期三个月的专项整治行动。",
                       "一、整治时间：2023年8月1日至10月31日。", f"二、{channel}", "特此通告。"], column="tzgg")
        t.traps.append(("notice_channel", f"item:{it.key}"))


# --- service_portal_link -----------------------------------------------------------------------
class ServicePortalLink(Feature):
    leaf_id = "service_portal_link"
    presence = 0.85

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        url = site.ident["zwfw_url"]
        prov = site.ident["prov_short"]
        guides = "".join(f'<li><a href="{site.href("col:tzgg")}">{g}</a></li>'
                         for g in ("个人办事", "法人办事", "部门服务", "便民服务"))
        zwfw = site.static_pages["zwfw"]
        body = f"<ul>{guides}</ul>"
        if present:
            v = rng.choice(["nav", "home_banner", "zwfw_page", "nav"])
            t.how.append(v)
            site.external_hosts[_host_of(url)] = f"{prov}政务服务网"
            if v == "nav":
                label = rng.choice(["网上办事", "政务服务", "一网通办", "办事大厅"])
                site.nav = [(label, url) if h == "page:zwfw" else (lab, h) for lab, h in site.nav]
                t.refs.append("sitewide")
            elif v == "home_banner":
                alt = rng.choice([f"{prov}政务服务网", "网上办事大厅", "一网通办"])
                site.home_blocks.append(("办事服务", f'<a href="{url}" target="_blank"><img src="/images/zwfw.jpg" alt="{alt}"></a>'))
                t.refs.append("home")
            else:
                text = rng.choice([f"进入{prov}政务服务网", "网上办事大厅", "“一网通办”总门户"])
                body = f"<p>{ext_link(url, text)}</p>" + body
                t.refs.append("page:zwfw")
        zwfw.body = body
        if rng.random() < self.trap_rate + 0.1:
            it = add_news(site, rng, "trap-ywtb-news", f"{site.short}“一网通办”改革再提速 企业开办实现一日办结",
                          ["今年以来，我市持续深化“一网通办”改革，推动更多事项网上办、掌上办。",
                           *news_paragraphs(rng, 2)], d=date(2023, 10, rng.randrange(20, 29)))
            t.traps.append(("news_headline", f"item:{it.key}"))
        return t


# --- open_data_link ---------------------------------------------------------------------------
class OpenDataLink(Feature):
    leaf_id = "open_data_link"
    presence = 0.65

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        url = site.ident["opendata_url"]
        links = [ext_link("https://www.gov.cn/", "中国政府网")]
        if site.level != "province":
            links.append(ext_link(site.ident["prov_url"], f"{site.province}人民政府"))
        links.append('<a href="/ztzl/2019lh/index.html">2019年两会专题</a>')  # dead link kept from an old theme
        if present:
            v = rng.choice(["footer", "home_block", "zwgk_page"])
            t.how.append(v)
            text = rng.choice(["数据开放", "公共数据开放平台", "开放数据", f"{site.short}数据开放平台"])
            site.external_hosts[_host_of(url)] = text
            if v == "footer":
                links.insert(1, ext_link(url, text))
                t.refs.append("sitewide")
            elif v == "home_block":
                site.home_blocks.append(("专题服务", f'<ul><li>{ext_link(url, text)}</li></ul>'))
                t.refs.append("home")
            else:
                site.ident["zwgk_extra"] += f"<li>{ext_link(url, text)}</li>"
                t.refs.append("page:zwgk")
        site.footer_lines.insert(0, "相关链接：" + "　".join(links))
        if rng.random() < self.trap_rate + 0.1:
            it = add_news(site, rng, "trap-opendata-news", f"{site.short}举办公共数据开放创新应用大赛",
                          ["大赛围绕数据开放、数据要素流通等主题，吸引了众多企业参与。", *news_paragraphs(rng, 2)],
                          d=date(2023, 10, rng.randrange(18, 29)))
            t.traps.append(("news_headline", f"item:{it.key}"))
        return t


# --- policy documents: data-security regulation and digital-government plan ------------------
class PolicyDocFeature(Feature):
    """A target's own policy document of a kind, with the usual decoys around it."""

    names: list[str] = []
    keyword = ""
    kind_word = "办法"

    def upper(self, site: SiteModel, rng: random.Random) -> tuple[str, str, str]:
        raise NotImplementedError  # (issuer, title, docno)

    def old_title(self, site: SiteModel) -> str:
        raise NotImplementedError

    def news_title(self, site: SiteModel, rng: random.Random) -> str:
        raise NotImplementedError

    def own_title(self, site: SiteModel, name: str, rng: random.Random, y: int) -> tuple[str, str, str]:
        """(title, issuer, docno) of the target's own document issued in year ``y``."""
        i = site.ident
        if "办法" in name and rng.random() < 0.4:
            return f"{site.name}{name}", i["gov"], f"{i['gov']}令第{rng.randrange(300, 380)}号"
        prefix = rng.choice([i["docno_gov"], i["docno_office"]])
        issuer = i["gov"] if prefix == i["docno_gov"] else i["office"]
        title = (f"{issuer}关于印发《{site.name}{name}》的通知" if not name.startswith("关于")
                 else f"{issuer}{name}")
        return title, issuer, i["docno"](prefix, y, rng.randrange(3, 60))

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        lid = self.leaf_id
        if present:
            name = rng.choice(self.names)
            d = random_date(rng, date(2021, 1, 1), date(2023, 9, 30))
            title, issuer, dn = self.own_title(site, name, rng, d.year)
            it = add_doc(site, rng, f"{lid}-own", title, issuer=issuer, docno=dn, d=d, kind_word=self.kind_word,
                         topic=self.keyword, paras=[f"《{_short_title(title)}》已经{site.ident['gov']}"
                                                    f"常务会议审议通过，现予公布，请认真贯彻执行。",
                                                    *paragraphs(rng, self.kind_word, 4)])
            t.refs.append(f"item:{it.key}")
            t.how.append("own_document")
        r = self.trap_rate
        if rng.random() < r + 0.15:  # reposted document of another government
            issuer, title, dn = self.upper(site, rng)
            it = add_doc(site, rng, f"{lid}-repost", title, issuer=issuer, docno=dn, kind_word=self.kind_word,
                         topic=self.keyword, d=random_date(rng, date(2021, 6, 1), date(2023, 9, 30)))
            it.source = issuer
            t.traps.append(("other_government", f"item:{it.key}"))
        if rng.random() < r:  # draft for comment
            name = rng.choice(self.names).removeprefix("关于")
            dept = site.ident["data_bureau"]
            it = add_doc(site, rng, f"{lid}-draft", f"关于公开征求《{site.name}{name}（征求意见稿）》意见的公告",
                         issuer=dept, docno="", validity="", column="tzgg", kind_word="公告",
                         paras=[f"为广泛听取社会各界意见，现将《{site.name}{name}（征求意见稿）》全文公布，征求意见时间为"
                                f"2023年9月1日至2023年9月30日。", "反馈方式：电子邮件或信函。"],
                         d=random_date(rng, date(2023, 8, 20), date(2023, 8, 31)))
            t.traps.append(("draft", f"item:{it.key}"))
        if rng.random() < r:  # repealed / expired
            i = site.ident
            it = add_doc(site, rng, f"{lid}-repealed", self.old_title(site), issuer=i["gov"],
                         docno=i["docno"](i["docno_office"], 2018, rng.randrange(10, 90)),
                         validity=rng.choice(["废止", "失效"]), kind_word=self.kind_word,
                         d=random_date(rng, date(2017, 3, 1), date(2018, 12, 20)))
            t.traps.append(("repealed", f"item:{it.key}"))
        if rng.random() < r:  # after the cut-off
            name = rng.choice(self.names)
            title, issuer, _dn = self.own_title(site, name, rng, 2023)
            i = site.ident
            it = add_doc(site, rng, f"{lid}-late", title, issuer=issuer,
                         docno=i["docno"](i["docno_office"], 2023, rng.randrange(60, 99)),
                         d=random_date(rng, date(AS_OF.year, 11, 5), date(AS_OF.year, 12, 20)), kind_word=self.kind_word)
            t.traps.append(("after_cutoff", f"item:{it.key}"))
        if rng.random() < r + 0.2:  # news that mentions the subject in passing
            it = add_news(site, rng, f"{lid}-news", self.news_title(site, rng),
                          [f"会议强调，要统筹发展和安全，扎实推进{self.keyword}各项工作。", *news_paragraphs(rng, 3)])
            t.traps.append(("news_mention", f"item:{it.key}"))
        return t


class DataSecurityRegulation(PolicyDocFeature):
    leaf_id = "data_security_regulation"
    presence = 0.6
    names = DATA_REG_NAMES
    keyword = "数据安全"

    def upper(self, site: SiteModel, rng: random.Random) -> tuple[str, str, str]:
        if site.level == "province":
            return "全国人民代表大会常务委员会", "中华人民共和国数据安全法", "主席令第八十四号"
        p = site.province
        return (f"{p}人民代表大会常务委员会", f"{p}公共数据条例", "") if rng.random() < 0.5 else \
            (f"{p}人民政府", f"{p}公共数据安全管理办法", f"{p}人民政府令第{rng.randrange(280, 320)}号")

    def old_title(self, site: SiteModel) -> str:
        return f"{site.ident['office']}关于印发{site.name}政务信息资源共享管理暂行办法的通知"

    def news_title(self, site: SiteModel, rng: random.Random) -> str:
        return rng.choice([f"{site.short}举办数据安全专题培训班", f"{site.short}开展网络和数据安全检查",
                           "全市网络安全宣传周活动启动"])


class DigitalGovPlan(PolicyDocFeature):
    leaf_id = "digital_gov_plan"
    presence = 0.75
    names = PLAN_NAMES
    keyword = "数字政府建设"
    kind_word = "方案"

    def upper(self, site: SiteModel, rng: random.Random) -> tuple[str, str, str]:
        if site.level == "province":
            return "国务院", "国务院关于加强数字政府建设的指导意见", "国发〔2022〕14号"
        return (f"{site.province}人民政府", f"{site.province}人民政府关于深化数字政府建设的实施意见",
                f"{site.ident['prov_abbr']}政发〔2022〕{rng.randrange(10, 40)}号")

    def old_title(self, site: SiteModel) -> str:
        return f"{site.name}“互联网+政务服务”三年行动计划（2016—2018年）"

    def news_title(self, site: SiteModel, rng: random.Random) -> str:
        return rng.choice([f"{site.short}召开数字政府建设工作推进会", f"{'省' if site.level == 'province' else '市'}政府常务会议研究数字政府建设等工作",
                           f"{site.short}数字政府建设成果亮相数字中国建设峰会"])


# --- policy_interpretation ----------------------------------------------------------------------
def _short_title(title: str) -> str:
    if "《" in title and "》" in title:
        return title[title.index("《") + 1: title.index("》")]
    for cut in ("人民政府办公厅", "人民政府办公室", "人民政府"):
        if cut in title:
            return title.split(cut, 1)[1].removeprefix("关于")
    return title


class PolicyInterpretation(Feature):
    leaf_id = "policy_interpretation"
    presence = 0.75

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        docs = [it for it in site.items.values() if it.kind == "doc" and (
            (it.key.startswith("doc-") and it.validity in ("", "有效")) or it.key.endswith("-own"))]
        rng.shuffle(docs)
        n = max(2, int(len(docs) * rng.uniform(0.15, 0.35)))
        chosen = docs[:n]
        for doc in chosen:
            form = rng.choice(["《{t}》政策解读", "【图解】{t}", "一图读懂《{t}》", "【文字解读】《{t}》"])
            interp = site.add_item(Item(
                key=f"interp-{doc.key}", kind="interp", column="zcjd", title=form.format(t=_short_title(doc.title)),
                date=doc.date if rng.random() < 0.5 else date.fromordinal(doc.date.toordinal() + rng.randrange(1, 6)),
                num=site.new_num(), source=doc.issuer,
                paras=[f"近日，{doc.issuer}印发《{_short_title(doc.title)}》。现就有关情况解读如下。",
                       *paragraphs(rng, "文件", 3)]))
            if present:
                doc.related.append((rng.choice(["相关解读", "政策解读", "解读材料"]), interp.key))
            if not present or rng.random() < 0.8:
                interp.related.append((rng.choice(["相关文件", "原文链接", "政策原文"]), doc.key))
            if present:
                t.refs.append(f"item:{doc.key}")
        if present:
            t.how.append(f"{len(t.refs)} documents link their interpretation")
        else:
            t.how.append("interpretations link the document one way only")
        if rng.random() < self.trap_rate:
            p = site.province if site.level != "province" else "国务院办公厅"
            other = f"{p}人民政府" if site.level != "province" else p
            doc = add_doc(site, rng, "interp-trap-repost", f"{other}关于{rng.choice(['推进', '促进'])}"
                          f"{rng.choice(['数字经济高质量发展', '平台经济规范健康发展'])}的实施意见", issuer=other,
                          docno="", d=random_date(rng, date(2022, 1, 1), date(2023, 6, 30)))
            interp = site.add_item(Item(key="interp-trap-repost-jd", kind="interp", column="zcjd",
                                        title=f"《{_short_title(doc.title)}》解读", date=doc.date,
                                        num=site.new_num(), source=other, paras=paragraphs(rng, "意见", 3)))
            doc.related.append(("相关解读", interp.key))
            t.traps.append(("other_government", f"item:{doc.key}"))
        return t


FEATURES: list[Feature] = [Hotline12345(), ServicePortalLink(), OpenDataLink(), DataSecurityRegulation(),
                           DigitalGovPlan(), PolicyInterpretation()]

from simweb.features_coordination import COORDINATION_FEATURES  # noqa: E402  (issue 3, batch A)

FEATURES += COORDINATION_FEATURES

from simweb.features_infrastructure import FEATURES_INFRASTRUCTURE  # noqa: E402  (issue 3, batch B)

FEATURES += FEATURES_INFRASTRUCTURE

from simweb.features_extra import FEATURES_EXTRA  # noqa: E402  (issue 3, batch C)

FEATURES += FEATURES_EXTRA
