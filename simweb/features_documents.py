"""Policy documents in the forms the real web prints them (issue 7, part 3), with their traps.

``apply_document_forms(model, seed)`` runs after every leaf feature (``simweb.generate.build_site``)
from its own random stream, so the rest of a site is unchanged. It re-prints some of the target's
own regulations the way legislatures' and governments' sites do, with no 信息公开 metadata table:

* ``congress_note`` — a local regulation of the standing committee of the people's congress
  (the ``data_legislation`` document): the title, then the adoption note
  ``（2022年3月31日某市第十五届人民代表大会常务委员会第三十一次会议通过　2022年5月27日某省…批准）``;
  dates in Arabic or Chinese numerals, a relative name (``市十五届人大常委会``), an approval
  clause for a city, an amendment clause (dated after the cut-off too: the enactment counts).
  Sub-forms: ``after_title`` (note under the title), ``announcement`` (the standing committee's
  公告 with its number — on one line or split ``公告`` / ``第N号`` — and 现予公布 sentence first, the
  page titled by the 公告 heading half the time), ``in_body`` (the note only after a 目录 and
  the articles, in parentheses or as a line of its own).
* ``decree`` — government rules with a decree number (the ``data_security_regulation`` 办法 whose
  文号 is ``…人民政府令第N号``): a gov.cn-like heading ``某市人民政府令`` / ``第N号``, the
  promulgation sentence, the signature and its date (Arabic or Chinese numerals), or a note
  ``（2023年1月5日某市人民政府令第N号公布　自…起施行）`` under the title.

Half of the re-printed pages carry no ``PubDate`` meta: only the note dates them. A quarter of the
sites print the 文号 of their metadata tables with 【】 or ［］ for 〔〕, or with full-width digits. The truth is
unchanged: the page still carries the evidence (its URL stays in the leaf's ``urls``), except for
``policy_validity_labels``, whose evidence these pages no longer print.

Traps added (recorded in ``data_legislation`` and ``data_security_regulation``):

* ``other_government`` — another government's congress regulation as body text (a city reposting
  its province's, a province reposting another province's); the province's regulation in a city's
  metadata table whose 发布机构 is the city department that put it on the site (only the adoption
  note under the title says whose it is); and, on a province's site, a city's regulation that the
  provincial congress only approved (批准);
* ``draft`` — a decree-numbered, dated 办法 whose 征求意见稿 mark is only a line of its own under
  the title; the page title, the heading and the URL say nothing of a draft;
* ``undated`` — an own regulation printed with no date at all (a note without its date, or an
  办法 with only its 文号): a date unknown is not "on or before the cut-off";
* ``after_cutoff`` — an own decree signed after the cut-off in Chinese numerals
  (``二〇二三年十一月二十日``).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from html import escape
from typing import TYPE_CHECKING

from simweb.content import AS_OF, PROVINCE_ABBR, rng_for
from simweb.model import Item, SiteModel

if TYPE_CHECKING:
    from simweb.templates import Family

_CN = "〇一二三四五六七八九"
_ZERO = ["〇", "〇", "○", "零"]  # how pages write the zero of a year
CAPITALS = {
    "河北省": "石家庄市", "山西省": "太原市", "内蒙古自治区": "呼和浩特市", "辽宁省": "沈阳市", "吉林省": "长春市",
    "黑龙江省": "哈尔滨市", "江苏省": "南京市", "浙江省": "杭州市", "安徽省": "合肥市", "福建省": "福州市",
    "江西省": "南昌市", "山东省": "济南市", "河南省": "郑州市", "湖北省": "武汉市", "湖南省": "长沙市",
    "广东省": "广州市", "广西壮族自治区": "南宁市", "海南省": "海口市", "四川省": "成都市", "贵州省": "贵阳市",
    "云南省": "昆明市", "西藏自治区": "拉萨市", "陕西省": "西安市", "甘肃省": "兰州市", "青海省": "西宁市",
    "宁夏回族自治区": "银川市", "新疆维吾尔自治区": "乌鲁木齐市",
}
REG_NAMES = ["数据条例", "公共数据条例", "大数据发展促进条例", "数字经济促进条例", "数据要素市场促进条例"]
RULE_NAMES = ["公共数据管理办法", "公共数据安全管理办法", "政务数据共享管理办法", "公共数据开放管理办法"]
_SIGNERS = ["王建华", "李明德", "张卫东", "陈志强", "刘国平", "赵立新", "周晓光", "吴振宇"]
_ARTICLES = [
    "第一条　为了规范数据处理活动，保障数据安全，促进数据依法有序流动，根据有关法律、行政法规，结合本地实际，制定本{k}。",
    "第二条　本{k}适用于本行政区域内的数据处理及其安全监督管理活动。",
    "第三条　数据工作应当坚持统筹规划、依法管理、安全可控、开放共享的原则。",
    "第四条　县级以上人民政府应当加强对数据工作的领导，将数据发展纳入国民经济和社会发展规划。",
    "第五条　数据主管部门负责统筹协调、指导监督本行政区域内的数据管理工作。",
    "第六条　任何组织和个人开展数据处理活动，应当遵守法律法规，尊重社会公德，不得危害国家安全、公共利益。",
]
_CONTENTS = ["第一章　总则", "第二章　数据资源", "第三章　数据共享与开放", "第四章　数据安全", "第五章　法律责任",
             "第六章　附则"]


def cn_number(n: int) -> str:
    """65 → 六十五, 10 → 十, 33 → 三十三 (session and meeting numbers, days, months)."""
    if n < 10:
        return _CN[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _CN[tens]) + "十" + (_CN[ones] if ones else "")


def cn_date(d: date, rng: random.Random) -> str:
    """二〇二二年六月十五日, with the year's zero written 〇, ○ or 零."""
    zero = rng.choice(_ZERO)
    year = "".join(zero if c == "0" else _CN[int(c)] for c in str(d.year))
    return f"{year}年{cn_number(d.month)}月{cn_number(d.day)}日"


def ar_date(d: date, rng: random.Random) -> str:
    return f"{d.year}年{d.month}月{d.day}日" if rng.random() < 0.8 else f"{d.year}年{d.month:02d}月{d.day:02d}日"


def _date(d: date, rng: random.Random, chinese: float) -> str:
    return cn_date(d, rng) if rng.random() < chinese else ar_date(d, rng)


def _congress_name(place: str) -> str:
    return f"{place}人民代表大会常务委员会"


def _session(place: str, level: str, d: date | None) -> str:
    """The congress's term (届) at a date: provinces' 13th until January 2023, then the 14th; a
    city's from its name (14th–17th), one more from 2022."""
    when = d or AS_OF
    if level == "province":
        return cn_number(13 if when < date(2023, 1, 20) else 14)
    base = 14 + sum(map(ord, place)) % 3
    return cn_number(base + (when >= date(2022, 1, 1)))


def congress_note(place: str, level: str, adopted: date | None, rng: random.Random, *, approver: str = "",
                  approved: date | None = None, relative: bool = False, chinese: float = 0.3,
                  amend: date | None = None, meeting: int = 0) -> str:
    """The adoption note's text (without parentheses)."""
    sess, meet = _session(place, level, adopted), cn_number(meeting or rng.randrange(2, 40))
    if relative:  # 市十五届人大常委会第二次会议: the own congress named relatively
        rel = "省" if place.endswith("省") else "自治区" if place.endswith("自治区") else "市"
        body = f"{rel}{sess}届人大常委会第{meet}次会议"
    else:
        body = f"{place}第{sess}届人民代表大会常务委员会第{meet}次会议"
    note = (f"{_date(adopted, rng, chinese)}{body}通过" if adopted is not None else f"{body}通过")
    if approver and approved is not None:
        note += (f"　{_date(approved, rng, chinese)}{approver}第{_session(approver, 'province', approved)}届人民代表大会常务委员会"
                 f"第{cn_number(rng.randrange(2, 40))}次会议批准")
    if amend is not None:
        note += (f"　根据{ar_date(amend, rng)}{place}第{_session(place, level, amend)}届人民代表大会常务委员会"
                 f"第{cn_number(rng.randrange(2, 40))}"
                 "次会议《关于修改部分地方性法规的决定》修正")
    return note


def _articles(rng: random.Random, kind: str, n: int = 4) -> list[str]:
    return [a.format(k=kind) for a in _ARTICLES[:n]]


def _p(text: str, align: str = "") -> str:
    style = f' style="text-align:{align}"' if align else ""
    return f"<p{style}>{escape(text)}</p>"


def _heading(text: str, rng: random.Random) -> str:
    return rng.choice([f'<h1 class="title">{escape(text)}</h1>', f'<div class="art-title">{escape(text)}</div>',
                       f'<p style="text-align:center"><strong>{escape(text)}</strong></p>'])


def _new_item(m: SiteModel, rng: random.Random, key: str, title: str, issuer: str, d: date) -> Item:
    num = max((it.num for it in m.items.values()), default=0) + rng.randrange(3, 40)
    it = Item(key=key, kind="doc", column="zcwj", title=title, date=d, num=num, issuer=issuer, source=issuer,
              written=d, validity="")
    m.items[key] = it
    m.columns["zcwj"].items.append(key)
    return it


def _regulation_name(title: str) -> str:
    if "《" in title and "》" in title:
        return title[title.index("《") + 1:title.index("》")]
    if "关于印发" in title:
        return title.split("关于印发", 1)[1].removesuffix("的通知")
    return title


# --- the forms ---------------------------------------------------------------------------------
def _congress_form(m: SiteModel, it: Item, rng: random.Random, *, place: str, level: str, dated: bool = True,
                   approver: str = "", sub: str = "") -> None:
    kind = "条例"
    adopted = it.written or it.date
    approved = None
    if approver:
        approved = adopted
        adopted = adopted - timedelta(days=rng.randrange(20, 50))
    amend = (AS_OF + timedelta(days=rng.randrange(20, 60))) if dated and rng.random() < 0.25 else None
    meeting = rng.randrange(2, 40)
    note = congress_note(place, level, adopted if dated else None, rng, approver=approver, approved=approved,
                         relative=dated and not approver and place == m.name and rng.random() < 0.2,
                         chinese=0.35, amend=amend, meeting=meeting)
    sub = sub or rng.choice(["after_title", "after_title", "announcement", "in_body"])
    if not dated:
        sub = "after_title"
    number = f"第{rng.randrange(2, 120)}号"
    announcement = ""
    if sub == "announcement":
        head = f"{_congress_name(place)}公告"
        split = rng.random() < 0.5
        num_html = _p(number, "center") if split else ""
        head_html = _p(head if split else f"{head}（{number}）" if rng.random() < 0.5 else f"{head}　{number}", "center")
        when = approved or adopted
        announcement = (head_html + num_html +
                        _p(f"　　《{it.title}》已于{ar_date(adopted, rng)}经{place}第{_session(place, level, adopted)}届"
                           f"人民代表大会常务委员会第{cn_number(meeting)}次会议通过"
                           + (f"，{approver}人民代表大会常务委员会于{ar_date(approved, rng)}批准" if approved else "")
                           + f"，现予公布，自{ar_date(when + timedelta(days=rng.randrange(30, 120)), rng)}起施行。")
                        + _p(_congress_name(place), "right") + _p(_date(when, rng, 0.35), "right"))
        it.form_opts["heading_title"] = f"{head}（{number}）" if rng.random() < 0.5 else ""
    paras = _articles(rng, kind)
    if sub == "in_body":
        contents = "".join(_p(c) for c in _CONTENTS)
        note_html = _p(f"（{note}）" if rng.random() < 0.6 else note, "right")
        body = _heading(it.title, rng) + _p("目　　录") + contents + "".join(_p(a) for a in paras) + note_html
    else:
        body = announcement + _heading(it.title, rng) + _p(f"（{note}）", "center") + "".join(_p(a) for a in paras)
    it.form, it.form_opts["body"] = f"congress_note:{sub}", body
    it.docno = f"{_congress_name(place)}公告{number}" if sub == "announcement" else ""  # what the page prints
    it.form_opts["no_meta"] = rng.random() < 0.5 or not dated


def _decree_form(m: SiteModel, it: Item, rng: random.Random, *, number: str, signed: date, chinese: float,
                 draft: bool = False) -> None:
    gov = m.ident["gov"]
    kind = "办法"
    eff = signed + timedelta(days=rng.randrange(30, 100))
    signer = ("省长" if m.level == "province" and not m.name.endswith("市") else
              "主席" if m.name.endswith("自治区") else "市长")
    sub = "heading" if draft else rng.choice(["heading", "heading", "note"])
    paras = "".join(_p(a) for a in _articles(rng, kind))
    if sub == "note":
        body = _heading(it.title, rng) + _p(f"（{ar_date(signed, rng)}{number}公布　自{ar_date(eff, rng)}起施行）", "center")
    else:
        head, num = number.split("令", 1)
        split = draft or rng.random() < 0.7
        blank = num
        heading = (_p(f"{head}令", "center") + _p(blank, "center")) if split else _p(f"{head}令　{blank}", "center")
        meeting = cn_number(rng.randrange(2, 60))
        met = signed - timedelta(days=rng.randrange(5, 30))
        sentence = (f"　　《{it.title}》已经{ar_date(met, rng)}{'省' if signer == '省长' else '市'}人民政府第{meeting}次"
                    f"常务会议审议通过，现予公布，自{ar_date(eff, rng)}起施行。")
        sign = "" if draft else _p(f"{signer}　{rng.choice(_SIGNERS)}", "right") + _p(_date(signed, rng, chinese), "right")
        lead = (_heading(it.title, rng) + _p("（征求意见稿）", "center")) if draft else ""
        body = lead + heading + _p(sentence) + sign + ("" if draft else _heading(it.title, rng))
    it.form, it.form_opts["body"] = f"decree:{sub}", body + paras
    it.form_opts["no_meta"] = rng.random() < 0.5
    it.issuer, it.docno = gov, number


def _undated_rules(m: SiteModel, it: Item, rng: random.Random) -> None:
    """An 办法 printed with its 文号 under the title and no date anywhere."""
    i = m.ident
    number = i["docno"](i["docno_gov"], 2023, rng.randrange(2, 60))
    info = f'<div class="info">来源：{escape(m.ident["gov"])}　浏览次数：{rng.randrange(50, 3000)}</div>'
    body = _heading(it.title, rng) + info + _p(number, "center") + "".join(_p(a) for a in _articles(rng, "办法"))
    it.form, it.form_opts["body"], it.form_opts["no_meta"] = "undated:rules", body, True
    it.docno = number


_FULL = str.maketrans("0123456789", "０１２３４５６７８９")


def _docno_dialect(m: SiteModel, rng: random.Random) -> None:
    """Some sites print their 文号 brackets as 【】 or ［］, or the digits full-width (the metadata table)."""
    style = rng.choice(["【】", "［］", "full", "full"])
    for it in m.items.values():
        if it.kind != "doc" or "〔" not in it.docno or it.form:
            continue
        if style == "full":
            head, _, tail = it.docno.partition("〔")
            it.docno = head + "〔" + tail.translate(_FULL)
        else:
            it.docno = it.docno.replace("〔", style[0]).replace("〕", style[1])


def render_form(family: Family, site: SiteModel, item: Item) -> str:
    """The page of a document printed in one of the forms above (no metadata table)."""
    col = site.columns[item.column]
    title = item.form_opts.get("heading_title") or item.title
    main = (family.crumbs(site, (col.name, col.path)) + family.body_open + item.form_opts["body"] + family.body_close
            + family.related(site, item))
    no_meta = item.form_opts.get("no_meta", False)
    return family.layout(site, f"{title}_{site.ident['site_title']}", main, column=col.name,
                         item=None if no_meta else item)


# --- the pass ----------------------------------------------------------------------------------
def _trap(m: SiteModel, kind: str, key: str, leaves: tuple[str, ...] = ("data_legislation", "data_security_regulation")) -> None:
    for leaf in leaves:
        t = m.leaves.get(leaf)
        if t is not None:
            t.traps.append((kind, f"item:{key}"))


def _other_province(m: SiteModel, rng: random.Random) -> str:
    names = sorted(p for p in PROVINCE_ABBR if p not in (m.name, m.province, "新疆生产建设兵团"))
    return rng.choice(names)


def apply_document_forms(m: SiteModel, seed: int) -> None:
    """Re-print some own regulations without a metadata table and add the traps (see the module doc)."""
    rng = rng_for(seed, m.site_id, "document_forms")
    congress_ok = m.name != "新疆生产建设兵团"
    changed: list[str] = []
    own = m.items.get("data_legislation-doc")
    if own is not None and congress_ok and rng.random() < 0.75:
        own.title = _regulation_name(own.title)
        approver = m.province if m.level != "province" and rng.random() < 0.7 else ""
        _congress_form(m, own, rng, place=m.name, level=m.level, approver=approver)
        changed.append(own.key)
    rules = m.items.get("data_security_regulation-own")
    if rules is not None and "令第" in rules.docno and rng.random() < 0.75:
        _decree_form(m, rules, rng, number=rules.docno, signed=rules.written or rules.date, chinese=0.4)
        changed.append(rules.key)
    labels = m.leaves.get("policy_validity_labels")
    if labels is not None:  # these pages print no 有效性 label any more
        labels.refs = [r for r in labels.refs if r not in {f"item:{k}" for k in changed}]
    if rng.random() < 0.25:
        _docno_dialect(m, rng)
    d0, d1 = date(2021, 3, 1), date(2023, 9, 20)

    def when() -> date:
        return d0 + timedelta(days=rng.randrange((d1 - d0).days))

    if congress_ok and rng.random() < 0.5:  # another government's congress regulation, reposted
        other = m.province if m.level != "province" else _other_province(m, rng)
        it = _new_item(m, rng, "docform-repost", f"{other}{rng.choice(REG_NAMES)}", _congress_name(other), when())
        _congress_form(m, it, rng, place=other, level="province", sub=rng.choice(["after_title", "announcement"]))
        _trap(m, "other_government", it.key)
    if m.level != "province" and rng.random() < 0.4:  # the province's regulation, put on the site by a city department
        dept = f"{m.name}{rng.choice(['司法局', '大数据发展管理局', '人民政府办公室'])}"
        it = _new_item(m, rng, "docform-dept-repost", f"{m.province}{rng.choice(REG_NAMES)}", dept, when())
        it.validity = "有效" if m.ident["has_validity"] else ""
        it.index_no = f"{m.ident['org_code']}/{it.date.year}-{rng.randrange(1, 3000):05d}"
        adopted = it.date - timedelta(days=rng.randrange(3, 20))
        it.written = adopted
        it.paras = [f"（{congress_note(m.province, 'province', adopted, rng, chinese=0.3)}）",
                    *_articles(rng, "条例")]
        if it.validity and "policy_validity_labels" in m.leaves and m.leaves["policy_validity_labels"].present:
            m.leaves["policy_validity_labels"].refs.append(f"item:{it.key}")
        _trap(m, "other_government", it.key)
    if m.level == "province" and m.name in CAPITALS and rng.random() < 0.45:  # a city's, only approved here
        city = CAPITALS[m.name]
        it = _new_item(m, rng, "docform-approved", f"{city}{rng.choice(REG_NAMES)}", _congress_name(city), when())
        _congress_form(m, it, rng, place=city, level="city", approver=m.name, sub="after_title")
        _trap(m, "other_government", it.key)
    if rng.random() < 0.4:  # a decree-numbered draft for comment
        it = _new_item(m, rng, "docform-draft", f"{m.name}{rng.choice(RULE_NAMES)}", m.ident["gov"], when())
        _decree_form(m, it, rng, number=f"{m.ident['gov']}令第{rng.randrange(200, 400)}号", signed=it.date, chinese=0,
                     draft=True)
        it.form_opts["no_meta"] = False  # dated: only the draft mark keeps it out
        _trap(m, "draft", it.key, ("data_security_regulation",))
    if rng.random() < 0.35:  # an own regulation printed without any date
        if congress_ok and rng.random() < 0.5:
            it = _new_item(m, rng, "docform-undated", f"{m.name}{rng.choice(REG_NAMES)}", _congress_name(m.name), when())
            _congress_form(m, it, rng, place=m.name, level=m.level, dated=False)
            _trap(m, "undated", it.key)
        else:
            it = _new_item(m, rng, "docform-undated", f"{m.name}{rng.choice(RULE_NAMES)}", m.ident["gov"], when())
            _undated_rules(m, it, rng)
            _trap(m, "undated", it.key, ("data_security_regulation",))
    if rng.random() < 0.35:  # an own decree signed after the cut-off, in Chinese numerals
        late = AS_OF + timedelta(days=rng.randrange(8, 50))
        it = _new_item(m, rng, "docform-late", f"{m.name}{rng.choice(RULE_NAMES)}", m.ident["gov"], late)
        _decree_form(m, it, rng, number=f"{m.ident['gov']}令第{rng.randrange(200, 400)}号", signed=late, chinese=1.0)
        _trap(m, "after_cutoff", it.key, ("data_security_regulation",))
