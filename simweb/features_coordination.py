"""Leaf features of the 统筹管理 (coordination) and 数字能力 (capability) indices.

Each class adds one leaf to a simulated portal in its present or absent variant, plus
decoys ("traps") that look like the leaf without meeting it: another government's
document, a draft, an abolished or late document, a news headline, the keyword inside an
unrelated phrase. Placement, wording and markup vary per site (and per template family),
so that a rule tuned to one template fails on another. Registered in
``simweb.features.FEATURES`` through :data:`COORDINATION_FEATURES`.

This module imports ``simweb.features`` lazily (inside functions) because that module
imports this one at its end to register the classes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from html import escape
from typing import Any

from simweb.content import AS_OF, DEPTS, PROVINCE_DOMAINS, TOPICS, news_paragraphs, random_date
from simweb.model import Fragment, Item, LeafTruth, Page, SiteModel

APP_BRANDS = {
    "北京市": "京通", "天津市": "津心办", "河北省": "冀时办", "山西省": "三晋通", "内蒙古自治区": "蒙速办",
    "辽宁省": "辽事通", "吉林省": "吉事办", "黑龙江省": "黑龙江全省事", "上海市": "随申办", "江苏省": "苏服办",
    "浙江省": "浙里办", "安徽省": "皖事通", "福建省": "闽政通", "江西省": "赣服通", "山东省": "爱山东",
    "河南省": "豫事办", "湖北省": "鄂汇办", "湖南省": "湘易办", "广东省": "粤省事", "广西壮族自治区": "桂通办",
    "海南省": "海易办", "重庆市": "渝快办", "四川省": "天府通办", "贵州省": "贵人服务", "云南省": "办事通",
    "西藏自治区": "西藏政务", "陕西省": "秦务员", "甘肃省": "甘快办", "青海省": "青松办", "宁夏回族自治区": "我的宁夏",
    "新疆维吾尔自治区": "新服办", "新疆生产建设兵团": "兵团政务",
}
REGIONS = {
    "上海市": "长三角一体化发展", "江苏省": "长三角一体化发展", "浙江省": "长三角一体化发展", "安徽省": "长三角一体化发展",
    "北京市": "京津冀协同发展", "天津市": "京津冀协同发展", "河北省": "京津冀协同发展",
    "重庆市": "成渝地区双城经济圈建设", "四川省": "成渝地区双城经济圈建设", "广东省": "粤港澳大湾区建设",
    "湖北省": "长江中游城市群", "湖南省": "长江中游城市群", "江西省": "长江中游城市群",
    "山东省": "黄河流域生态保护和高质量发展", "河南省": "黄河流域生态保护和高质量发展",
    "陕西省": "关中平原城市群", "广西壮族自治区": "北部湾城市群", "海南省": "北部湾城市群",
}


def _F() -> Any:
    import simweb.features as F
    return F


def _static(site: SiteModel, rng: random.Random, key: str, title: str, body: Fragment) -> str:
    """Add a static page (its path is assigned by the family later); returns ``page:<key>``."""
    site.static_pages[key] = Page("static", title=title, body=body)
    site.ident["static_cids"][key] = rng.randrange(100000, 999999)
    return f"page:{key}"


def _append_body(site: SiteModel, key: str, extra: Fragment) -> None:
    """Append a fragment to an existing static page's body."""
    page = site.static_pages[key]
    old = page.body

    def body(s: SiteModel, old: Fragment = old, extra: Fragment = extra) -> str:
        a = old(s) if callable(old) else old
        b = extra(s) if callable(extra) else extra
        return a + b
    page.body = body


def _anchor(site: SiteModel, rng: random.Random, href: Callable[[SiteModel], str], label: str,
            img: str = "") -> Fragment:
    """A link in one of the markups real portals use: plain, title attribute, image + alt, spans."""
    fam = site.family.name if site.family else "trs"
    style = rng.choice({"trs": ["plain", "title", "img"], "hanweb": ["title", "img", "plain"],
                        "ucap": ["plain", "img", "span"]}[fam])
    lab = escape(label)

    def render(s: SiteModel) -> str:
        h = escape(href(s))
        if style == "title":
            return f'<a href="{h}" title="{lab}" target="_blank">{lab}</a>'
        if style == "img":
            return f'<a href="{h}" target="_blank"><img src="/images/{img or "icon"}.png" alt="{lab}"></a>'
        if style == "span":
            return f'<a href="{h}"><span class="ico"></span><span class="txt">{lab}</span></a>'
        return f'<a href="{h}">{lab}</a>'
    return render


def _page_href(key: str) -> Callable[[SiteModel], str]:
    return lambda s: s.static_pages[key].ref


def _place(site: SiteModel, rng: random.Random, frag: Fragment, places: list[str], block: str) -> str:
    """Put a link fragment somewhere on the portal; returns the truth ref."""
    where = rng.choice(places)

    def wrap(s: SiteModel, f: Fragment = frag) -> str:
        return f"<ul><li>{f(s) if callable(f) else f}</li></ul>"
    if where == "home":
        site.home_blocks.append((block, wrap))
        return "home"
    if where == "header":
        site.header_links.append(frag)
        return "sitewide"
    if where == "footer":
        site.footer_lines.append(frag)
        return "sitewide"
    _append_body(site, where, wrap)
    return f"page:{where}"


def _news(site: SiteModel, rng: random.Random, key: str, title: str, paras: list[str] | None = None,
          column: str = "yw", d: date | None = None) -> Item:
    return _F().add_news(site, rng, key, title, paras or news_paragraphs(rng, 2), column=column, d=d)


class CFeature:
    """Base of this module's features (same interface as ``simweb.features.Feature``)."""

    leaf_id = ""
    presence = 0.6
    trap_rate = 0.35

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        raise NotImplementedError


# --- link leaves ------------------------------------------------------------------------------
class LinkLeaf(CFeature):
    """A labelled entry (zone / platform) linked from the portal, with headline and near-miss traps."""

    labels: list[str] = []
    page_title = ""
    places = ["home", "header", "zwfw", "hdjl", "footer"]
    block = "特色服务"
    headlines: list[str] = []  # "{short}" is replaced
    near_misses: list[str] = []  # own-host link labels that must not count
    external = False  # link to another host instead of an own zone page

    def zone_body(self, site: SiteModel) -> str:
        return f"<p>{escape(self.page_title)}：" + "、".join(rng_items(site, self.leaf_id)) + "。</p>"

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        if present:
            label = rng.choice(self.labels)
            if self.external:
                url = f"https://{self.leaf_id.replace('_', '')}.{site.host.removeprefix('www.')}/"
                href: Callable[[SiteModel], str] = lambda s, u=url: u  # noqa: E731
            else:
                key = f"c_{self.leaf_id}"
                _static(site, rng, key, self.page_title or label, lambda s, me=self: me.zone_body(s))
                href = _page_href(key)
                t.refs.append("page:wzdt")  # the site map links every static page by its title
            t.refs.append(_place(site, rng, _anchor(site, rng, href, label, self.leaf_id[:6]), self.places, self.block))
            t.how.append(f"link '{label}'")
        if self.headlines and rng.random() < self.trap_rate + 0.1:
            it = _news(site, rng, f"trap-{self.leaf_id}-news", rng.choice(self.headlines).format(short=site.short))
            t.traps.append(("news_headline", f"item:{it.key}"))
        if self.near_misses and rng.random() < self.trap_rate:
            label = rng.choice(self.near_misses).format(short=site.short)
            where = rng.choice(["hdjl", "zwfw"])
            _append_body(site, where, f'<p><a href="{site.href("col:tzgg")}">{escape(label)}</a></p>')
            t.traps.append(("keyword_unrelated", f"page:{where}"))
        return t


def rng_items(site: SiteModel, salt: str) -> list[str]:
    r = random.Random(f"{site.site_id}|{salt}")
    return r.sample(["企业开办", "不动产登记", "社保卡申领", "公积金提取", "新生儿出生", "退休", "医保报销", "户口迁移"], k=4)


class RegionalCollaboration(LinkLeaf):
    leaf_id = "regional_collaboration"
    presence = 0.55
    places = ["home", "home", "footer"]
    block = "专题专栏"
    near_misses = []

    regions: dict[str, str] = {}  # site id -> its region (zone_body)

    def zone_body(self, site: SiteModel) -> str:
        title = self.regions.get(site.site_id, self.page_title)
        return f"<p>{escape(title)}：" + "、".join(rng_items(site, self.leaf_id)) + "。</p>"

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        region = REGIONS.get(site.province if site.level != "province" else site.name)
        if region is None:
            region = rng.choice([f"{site.ident['prov_short']}都市圈同城化发展", "区域协同发展"])
        self.labels = [region, f"{region}专题", f"推动{region}"]
        self.page_title = region
        self.regions[site.site_id] = region  # the zone page is rendered later, when asked for: by site, not the last one
        self.headlines = [f"{region.removesuffix('建设').removesuffix('发展')}高层论坛举行", "{short}代表团赴兄弟城市考察交流"]
        return super().apply(site, present, rng)


class NewMediaMatrix(LinkLeaf):
    leaf_id = "new_media_matrix"
    presence = 0.6
    labels = ["政务新媒体", "新媒体矩阵", "政务新媒体矩阵", "新媒体导航"]
    page_title = "政务新媒体矩阵"
    places = ["header", "footer", "home"]
    block = "政务新媒体"
    headlines = ["{short}举办政务新媒体运营能力提升培训班"]

    def zone_body(self, site: SiteModel) -> str:
        rows = "".join(f"<li><span>{site.short}{n}</span><span>{k}</span></li>"
                       for n, k in (("发布", "微信公众号"), ("发布", "新浪微博"), ("政务", "抖音号"), ("融媒", "视频号")))
        return f'<ul class="xmt">{rows}</ul>'


class OnlineTransaction(LinkLeaf):
    leaf_id = "online_transaction"
    presence = 0.6
    labels = ["全程网办事项", "“最多跑一次”事项", "不见面审批", "零跑动事项清单", "全程网办", "“一次不用跑”事项"]
    page_title = "全程网办事项目录"
    places = ["zwfw", "home", "zwfw"]
    block = "办事服务"
    headlines = ["{short}深化“最多跑一次”改革推进会召开", "“不见面审批”改革让企业少跑腿"]

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        if present and rng.random() < 0.35:  # the list as a document
            t = LeafTruth(present=True)
            i = site.ident
            word = rng.choice(["全程网办", "“不见面审批”", "“零跑动”", "“最多跑一次”"])
            d = random_date(rng, date(2021, 3, 1), date(2023, 9, 30))
            it = _F().add_doc(site, rng, "c-online_transaction-list", f"{i['office']}关于公布{site.name}第{rng.randrange(2, 6)}批{word}事项清单的通知",
                              issuer=i["office"], docno=i["docno"](i["docno_office"], d.year, rng.randrange(3, 80)), d=d)
            t.refs.append(f"item:{it.key}")
            t.how.append("list document")
            return t
        return super().apply(site, present, rng)


class MobileApp(CFeature):
    leaf_id = "mobile_app"
    presence = 0.65

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        prov = site.province if site.level != "province" else site.name
        brand = APP_BRANDS.get(prov, "政务服务")
        dom = PROVINCE_DOMAINS.get(prov, "gov.cn")
        if present:
            v = rng.choice(["footer_qr", "header_link", "home_img"])
            t.how.append(v)
            if v == "footer_qr":
                text = rng.choice([f"扫码下载“{brand}”APP", f"{brand}APP下载", f"“{brand}”客户端 扫一扫"])
                site.footer_lines.append(f'<span class="ewm"><img src="/images/app_qr.png" alt="">{escape(text)}</span>')
                t.refs.append("sitewide")
            elif v == "header_link":
                site.header_links.append(f'<a href="https://app.{dom}/download/" target="_blank">{escape(brand)}APP</a>')
                t.refs.append("sitewide")
            else:
                site.home_blocks.append(("移动服务", f'<a href="https://app.{dom}/" target="_blank"><img src="/images/app.png" '
                                                     f'alt="{escape(brand)}"></a><p>随时随地 掌上办事</p>'))
                t.refs.append("home")
        if rng.random() < self.trap_rate + 0.1:
            it = _news(site, rng, "trap-mobile_app-news", f"“{brand}”上线{rng.choice(['企业开办', '社保查询', '公积金提取'])}新服务",
                       [f"市民可通过“{brand}”APP扫码办理，下载后即可使用。", *news_paragraphs(rng, 2)])
            t.traps.append(("news_mention", f"item:{it.key}"))
        if not present and rng.random() < self.trap_rate:
            site.footer_lines.append('<span class="ewm"><img src="/images/wx.png" alt="">扫码关注官方微信</span>')
            t.traps.append(("keyword_unrelated", "sitewide"))
        return t


class CrossProvinceService(LinkLeaf):
    leaf_id = "cross_province_service"
    presence = 0.6
    labels = ["跨省通办", "“跨省通办”专区", "跨省通办服务专区", "全国通办", "跨域通办"]
    page_title = "跨省通办"
    places = ["zwfw", "home", "zwfw"]
    headlines = ["{short}首批“跨省通办”事项清单发布", "{short}与兄弟城市签署“跨省通办”合作协议"]


class OneThingService(LinkLeaf):
    leaf_id = "one_thing_service"
    presence = 0.6
    labels = ["一件事一次办", "“一件事”集成服务", "一件事", "高效办成一件事", "一业一证"]
    page_title = "一件事一次办"
    places = ["zwfw", "home"]
    headlines = ["{short}推进“一件事一次办”改革取得成效"]


class ProactiveBenefits(LinkLeaf):
    leaf_id = "proactive_benefits"
    presence = 0.55
    labels = ["免申即享", "惠企政策直达", "政策兑现", "“免申即享”专区", "政策计算器", "惠企政策兑现平台"]
    page_title = "惠企政策直达"
    places = ["home", "zwfw"]
    headlines = ["{short}举办惠企政策宣讲会", "“免申即享”让政策红利直达企业"]
    near_misses = ["惠企政策汇编（2023版）", "惠企政策解读"]


class ELicense(LinkLeaf):
    leaf_id = "e_license"
    presence = 0.55
    labels = ["电子证照", "亮证", "扫码亮证", "电子证照查询", "无证明城市"]
    page_title = "电子证照"
    places = ["zwfw", "home"]
    headlines = ["全市电子证照应用推广工作会议召开"]
    near_misses = ["电子证照管理办法"]


class SmartAssistant(LinkLeaf):
    leaf_id = "smart_assistant"
    presence = 0.55
    labels = ["智能客服", "智能问答", "在线客服", "智能咨询", "政务小助手"]
    page_title = "智能问答"
    places = ["header", "home", "zwfw"]
    headlines = ["{short}政务智能客服系统采购项目中标公告"]


class CityOperations(LinkLeaf):
    leaf_id = "city_operations"
    presence = 0.55
    labels = ["一网统管", "城市运行管理中心", "城市大脑", "“一网统管”"]
    page_title = "城市运行一网统管"
    places = ["home", "footer"]
    block = "专题专栏"
    headlines = ["市领导调研城市运行管理中心", "{short}推进城市运行“一网统管”建设"]
    doc_rate = 0.4
    doc_titles = ["{office}关于印发{name}城市运行“一网统管”建设行动计划的通知",
                  "{office}关于加快推进城市大脑建设的通知"]

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        if present and rng.random() < self.doc_rate:
            t = LeafTruth(present=True)
            i = site.ident
            d = random_date(rng, date(2021, 3, 1), date(2023, 9, 30))
            title = rng.choice(self.doc_titles).format(office=i["office"], name=site.name)
            it = _F().add_doc(site, rng, f"c-{self.leaf_id}-doc", title, issuer=i["office"],
                              docno=i["docno"](i["docno_office"], d.year, rng.randrange(3, 80)), d=d)
            t.refs.append(f"item:{it.key}")
            t.how.append("document")
            if rng.random() < self.trap_rate:
                p = site.province if site.level != "province" else "国务院办公厅"
                other = f"{p}人民政府办公厅" if site.level != "province" else p
                it = _F().add_doc(site, rng, f"c-{self.leaf_id}-repost", rng.choice(self.doc_titles).format(office=other, name=p),
                                  issuer=other, docno="", d=random_date(rng, date(2021, 3, 1), date(2023, 9, 30)))
                t.traps.append(("other_government", f"item:{it.key}"))
            return t
        return super().apply(site, present, rng)


class CollaborativeOffice(CityOperations):
    leaf_id = "collaborative_office"
    presence = 0.5
    labels = ["协同办公", "一网协同", "协同办公平台", "政务钉钉"]
    page_title = "协同办公平台"
    places = ["header", "footer"]
    external = True
    headlines = ["{short}“一网协同”建设取得新进展", "京津冀协同发展座谈会召开"]
    doc_rate = 0.5
    doc_titles = ["{office}关于推进“一网协同”建设的通知", "{name}协同办公平台运行管理办法"]


class OnlinePetition(LinkLeaf):
    leaf_id = "online_petition"
    presence = 0.65
    labels = ["我要留言", "我要投诉", "在线诉求", "网上信访", "我要咨询"]
    page_title = "网上留言"
    places = ["hdjl", "hdjl", "home", "header"]
    block = "政民互动"
    headlines = ["{short}网上留言办理情况综述"]
    near_misses = ["留言选登", "留言须知", "我要写信"]

    def zone_body(self, site: SiteModel) -> str:
        return ('<form action="/interact/submit" method="post"><p><label>留言标题：</label><input name="title"></p>'
                '<p><label>留言内容：</label><textarea name="content"></textarea></p><p><label>联系电话：</label>'
                '<input name="phone"></p><button type="submit">提交</button></form>')


# --- title leaves: pages recognised by their title ---------------------------------------------
class CaseDisclosure(CFeature):
    """12345 monthly reports: only on sites whose hotline leaf is present (their text names 12345)."""

    leaf_id = "case_disclosure"
    presence = 0.7

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        hotline = site.leaves.get("hotline_12345")
        present = present and hotline is not None and hotline.present
        t = LeafTruth(present=present)
        if present:
            m = rng.randrange(6, 10)
            title = rng.choice([f"2023年{m}月{site.short}12345政务服务便民热线运行情况通报",
                                f"12345热线2023年第{rng.choice(['二', '三'])}季度数据分析报告",
                                f"{site.name}12345热线{m}月受理情况"])
            it = _news(site, rng, "c-case_disclosure", title,
                       [f"{m}月，12345热线共受理群众诉求{rng.randrange(20000, 90000)}件，按时办结率98.{rng.randrange(0, 9)}%。",
                        "诉求主要集中在城市管理、住房保障、劳动社保等领域。"], column=rng.choice(["tzgg", "yw"]))
            t.refs.append(f"item:{it.key}")
            hotline.refs.append(f"item:{it.key}")
            if rng.random() < self.trap_rate:
                it = _news(site, rng, "trap-case_disclosure-training", "12345热线开展话务员业务培训",
                           ["为提升12345热线服务质量，近日组织话务员开展业务培训。", *news_paragraphs(rng, 1)])
                t.traps.append(("keyword_unrelated", f"item:{it.key}"))
                hotline.refs.append(f"item:{it.key}")
        return t


class ConsultationFeedback(CFeature):
    leaf_id = "consultation_feedback"
    presence = 0.55

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        subject = f"{site.name}{rng.choice(['养老服务促进条例', '物业管理办法', '城市绿化管理办法', '生活垃圾分类管理办法'])}"
        if present:
            title = rng.choice([f"关于《{subject}（征求意见稿）》公开征求意见采纳情况的说明",
                                f"《{subject}》意见征集结果反馈", f"关于{subject}意见建议采纳情况的公告"])
            it = _news(site, rng, "c-consultation_feedback", title,
                       [f"征求意见期间，共收到意见建议{rng.randrange(12, 90)}条，采纳{rng.randrange(3, 11)}条。",
                        "未采纳的主要原因是与上位法规定不一致或已有相关规定。"], column="tzgg")
            t.refs.append(f"item:{it.key}")
        if rng.random() < self.trap_rate + 0.15:
            it = _news(site, rng, "trap-consultation-open", f"关于公开征求《{subject}（征求意见稿）》意见的公告",
                       ["现将征求意见稿全文公布，欢迎社会各界提出意见建议。", "反馈方式：电子邮件或信函。"], column="tzgg")
            t.traps.append(("no_results", f"item:{it.key}"))
        return t


class OnlineInterview(CFeature):
    leaf_id = "online_interview"
    presence = 0.55

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        if present:
            d = random_date(rng, date(2023, 1, 5), date(2023, 10, 20))
            dept = rng.choice(DEPTS[:-1])
            title = rng.choice([f"【在线访谈】市{dept}负责人谈{rng.choice(TOPICS)}", f"访谈实录：{dept}主要负责人做客直播间",
                                f"政务访谈：聚焦{rng.choice(TOPICS)}"])
            label = rng.choice(["访谈时间", "直播时间", "访谈日期"])
            when = rng.choice([f"{d.year}年{d.month}月{d.day}日 10:00", d.isoformat(), f"{d.year}/{d.month}/{d.day}"])
            it = _news(site, rng, "c-online_interview", title,
                       [f"{label}：{when}", f"访谈嘉宾：{site.name}{dept}负责人", *news_paragraphs(rng, 2)], d=d)
            t.refs.append(f"item:{it.key}")
        if rng.random() < self.trap_rate:
            it = _news(site, rng, "trap-online_interview-visit", f"{site.short}开展“走访谈心”慰问困难群众",
                       [f"活动时间：2023年{rng.randrange(1, 10)}月{rng.randrange(1, 28)}日", *news_paragraphs(rng, 2)],
                       column="bmdt")
            t.traps.append(("keyword_unrelated", f"item:{it.key}"))
        if not present and rng.random() < self.trap_rate:
            ref = _static(site, rng, "c_ftzl", "在线访谈", "<p>暂无访谈内容。</p>")
            t.traps.append(("empty_column", ref))
        return t


# --- the data authority ---------------------------------------------------------------------------
class DataAuthority(CFeature):
    leaf_id = "data_authority"
    presence = 0.65

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        dom = site.host.removeprefix("www.")
        cut = "省" if site.level == "province" else "市"
        depts = [d for d in rng.sample(DEPTS[:-1], k=12)]
        names = [f"{cut}{d}" if rng.random() < 0.5 else f"{site.name}{d}" for d in depts]
        if present:
            bureau = rng.choice([site.ident["data_bureau"], f"{cut}大数据发展管理局", f"{cut}数据资源管理局",
                                 f"{site.name}政务服务和数据管理局", f"{cut}数据局"])
            names.insert(rng.randrange(3, len(names)), bureau)
            t.how.append(bureau)
        if rng.random() < self.trap_rate + 0.2:
            names.append(f"{site.name}大数据中心")
            t.traps.append(("keyword_unrelated", "page:c_jgsz"))
        links = [(n, f"http://{'d' + str(k)}.{dom}/") for k, n in enumerate(names)]
        fam = site.family.name if site.family else "trs"
        if fam == "trs":
            rows = "".join("<tr>" + "".join(f'<td><a href="{u}" target="_blank">{escape(n)}</a></td>' for n, u in links[k:k + 3])
                           + "</tr>" for k in range(0, len(links), 3))
            body = f'<table class="jgsz">{rows}</table>'
        elif fam == "hanweb":
            body = '<ul class="bmlist">' + "".join(
                f'<li><a href="javascript:void(0)" onclick="window.open(\'{u}\')">{escape(n)}</a></li>' for n, u in links) + "</ul>"
        else:
            body = ('<select onchange="window.open(this.value)"><option value="">—— 政府部门 ——</option>' +
                    "".join(f'<option value="{u}">{escape(n)}</option>' for n, u in links) + "</select>")
        _static(site, rng, "c_jgsz", rng.choice(["机构设置", "政府机构", "组织机构"]), body)
        site.home_blocks.append(("政府信息", lambda s: f'<ul><li><a href="{s.static_pages["c_jgsz"].ref}">'
                                               f'{escape(s.static_pages["c_jgsz"].title)}</a></li></ul>'))
        if present:
            t.refs.append("page:c_jgsz")
        return t


# --- document leaves ----------------------------------------------------------------------------
class DocLeaf(CFeature):
    """The target's own policy document, with repost / draft / repealed / late / unrelated / news traps."""

    titles: list[str] = []  # {issuer} {name}
    unrelated: list[str] = []  # titles with the keyword in an unrelated phrase
    old_title = ""
    news: list[str] = []  # {short}
    issuers = ("office", "gov")

    def _issuer(self, site: SiteModel, rng: random.Random) -> tuple[str, str]:
        i = site.ident
        who = rng.choice(self.issuers)
        if who == "gov":
            return i["gov"], i["docno_gov"]
        return i["office"], i["docno_office"]

    def _doc(self, site: SiteModel, rng: random.Random, key: str, title: str, issuer: str, prefix: str, d: date,
             validity: str = "有效") -> Item:
        dn = site.ident["docno"](prefix, d.year, rng.randrange(3, 90)) if rng.random() < 0.85 else ""
        return _F().add_doc(site, rng, key, title, issuer=issuer, docno=dn, d=d, validity=validity)

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        lid = self.leaf_id
        if present:
            issuer, prefix = self._issuer(site, rng)
            d = random_date(rng, date(2021, 1, 1), date(2023, 9, 30))
            it = self._doc(site, rng, f"c-{lid}-own", rng.choice(self.titles).format(issuer=issuer, name=site.name),
                           issuer, prefix, d)
            t.refs.append(f"item:{it.key}")
            t.how.append("own_document")
        kinds = ["repost", "draft", "repealed", "late", "unrelated", "news"]
        for kind in rng.sample(kinds, k=rng.choice([0, 1, 1, 2, 2])):
            self._trap(site, rng, t, kind)
        return t

    def _trap(self, site: SiteModel, rng: random.Random, t: LeafTruth, kind: str) -> None:
        lid, i = self.leaf_id, site.ident
        if kind == "repost":
            p = site.province if site.level != "province" else ""
            if not p:
                return
            other = f"{p}人民政府办公厅"
            it = self._doc(site, rng, f"c-{lid}-repost", rng.choice(self.titles).format(issuer=other, name=p),
                           other, f"{i['prov_abbr']}政办发", random_date(rng, date(2021, 1, 1), date(2023, 9, 30)))
            it.source = other
            t.traps.append(("other_government", f"item:{it.key}"))
        elif kind == "draft":
            name = rng.choice(self.titles).format(issuer="", name=site.name).removeprefix("关于印发").removesuffix("的通知")
            name = name.strip("《》")
            it = _F().add_doc(site, rng, f"c-{lid}-draft", f"关于公开征求《{name}（征求意见稿）》意见的公告",
                              issuer=i["data_bureau"], docno="", validity="", column="tzgg", kind_word="公告",
                              paras=["为广泛听取社会各界意见，现将征求意见稿全文公布。", "反馈方式：电子邮件或信函。"],
                              d=random_date(rng, date(2023, 7, 1), date(2023, 9, 30)))
            t.traps.append(("draft", f"item:{it.key}"))
        elif kind == "repealed" and self.old_title:
            it = self._doc(site, rng, f"c-{lid}-repealed", self.old_title.format(issuer=i["office"], name=site.name),
                           i["office"], i["docno_office"], random_date(rng, date(2015, 3, 1), date(2018, 12, 20)),
                           validity=rng.choice(["废止", "失效"]))
            t.traps.append(("repealed", f"item:{it.key}"))
        elif kind == "late":
            issuer, prefix = self._issuer(site, rng)
            it = self._doc(site, rng, f"c-{lid}-late", rng.choice(self.titles).format(issuer=issuer, name=site.name),
                           issuer, prefix, random_date(rng, date(AS_OF.year, 11, 20), date(AS_OF.year, 12, 25)))
            t.traps.append(("after_cutoff", f"item:{it.key}"))
        elif kind == "unrelated" and self.unrelated:
            issuer, prefix = self._issuer(site, rng)
            title = rng.choice(self.unrelated).format(issuer=issuer, name=site.name, topic=rng.choice(TOPICS[:12]))
            it = self._doc(site, rng, f"c-{lid}-unrelated", title, issuer, prefix,
                           random_date(rng, date(2021, 1, 1), date(2023, 9, 30)))
            t.traps.append(("keyword_unrelated", f"item:{it.key}"))
        elif kind == "news" and self.news:
            it = _news(site, rng, f"c-{lid}-news", rng.choice(self.news).format(short=site.short))
            t.traps.append(("news_mention", f"item:{it.key}"))


class LeadingGroup(DocLeaf):
    leaf_id = "leading_group"
    presence = 0.6
    issuers = ("office", "office", "gov")
    titles = ["{issuer}关于成立{name}数字政府建设领导小组的通知", "{issuer}关于调整{name}数字化改革领导小组组成人员的通知",
              "{issuer}关于成立{name}“互联网+政务服务”工作领导小组的通知", "{issuer}关于调整{name}智慧城市建设领导小组的通知"]
    unrelated = ["{issuer}关于调整{name}安全生产工作领导小组组成人员的通知", "{issuer}关于成立{name}城镇老旧小区改造工作领导小组的通知"]
    old_title = "{issuer}关于成立{name}电子政务建设领导小组的通知"
    news = ["{short}召开数字政府建设领导小组第二次会议"]


class ChiefDataOfficer(DocLeaf):
    leaf_id = "chief_data_officer"
    presence = 0.45
    titles = ["{issuer}关于印发{name}首席数据官制度建设工作方案的通知", "{issuer}关于全面推行首席数据官制度的通知",
              "{name}首席数据官制度试点工作方案"]
    news = ["{short}举办首席数据官专题培训班"]


class EvaluationMechanism(DocLeaf):
    leaf_id = "evaluation_mechanism"
    presence = 0.5
    issuers = ("office", "office", "gov")
    titles = ["{issuer}关于印发{name}数字政府建设工作考核办法（试行）的通知", "{name}数字化改革工作评估办法",
              "{issuer}关于印发{name}政务服务工作绩效考核细则的通知"]
    unrelated = ["关于{name}2022年度数字政府建设考核结果的通报"]
    news = ["{short}数字政府建设考核工作部署会召开"]


class ITProjectManagement(DocLeaf):
    leaf_id = "it_project_management"
    presence = 0.55
    issuers = ("gov", "office")
    titles = ["{name}政务信息化项目管理办法", "{issuer}关于印发{name}市级政务信息化建设项目管理暂行办法的通知",
              "{name}政府投资信息化项目管理规定"]
    unrelated = ["{name}政务信息化项目（一期）采购公告"]
    old_title = "{name}电子政务项目管理暂行办法"


class ExpertCommittee(DocLeaf):
    leaf_id = "expert_committee"
    presence = 0.45
    issuers = ("office",)
    titles = ["{issuer}关于成立{name}数字政府建设专家咨询委员会的通知", "{issuer}关于聘任{name}数字化改革专家咨询委员会委员的通知"]
    unrelated = ["关于公开遴选{name}数字政府建设专家咨询委员会委员的公告"]
    news = ["{short}数字政府专家咨询委员会召开全体会议"]


COORDINATION_FEATURES: list[Any] = [
    DataAuthority(), LeadingGroup(), ChiefDataOfficer(), EvaluationMechanism(), ITProjectManagement(),
    ExpertCommittee(), RegionalCollaboration(), NewMediaMatrix(), OnlineTransaction(), MobileApp(),
    CrossProvinceService(), OneThingService(), ProactiveBenefits(), ELicense(), SmartAssistant(),
    CityOperations(), CollaborativeOffice(), OnlinePetition(), CaseDisclosure(), ConsultationFeedback(),
    OnlineInterview(),
]
