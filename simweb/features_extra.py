"""Leaf features added in issue 3 (batch C): reply timeliness, the 404 page, the FOI guide.

* ``message_reply_timeliness``: a 信件公开 / 留言选登 page listing the messages the portal received,
  as a table with date columns (来信时间 / 回复时间 / 状态), as labelled list rows
  (留言时间：… 答复时间：…) or as a status list whose reply dates are only on the detail pages.
  Graded truth from the generated messages: median reply ≤ 5 working days (the Chinese holiday
  calendar with its make-up working days, ``evidence.workdays``) or ≤ 7 calendar days
  (full), ≤ 15 days (half), else absent; an unanswered message older than 90 days counts as an
  infinitely late reply, younger ones are in progress. Variants where the calendar decides:
  replies across a public holiday (8–14 calendar days, ≤ 5 working days: full) and across a
  调休 working weekend day (8–10 days, 5 Mon–Fri days but 6 working days: half). Traps: a 来信办理情况通报 news item with an
  average reply time in words, a list with statuses but no reply dates, a slow or backlogged
  mailbox.
* ``error_page``: how the site answers a path nobody links to: a real 404 with a page leading
  home (full), a bare 404 (half), or a soft 404 — status 200 with an error text, or a 302 to the
  home page (absent). Paths some page links to (the broken links link_health counts) keep their
  404 whatever the variant: see :func:`not_found`, called by ``simweb.server``.
* ``foi_guide``: the 政府信息公开指南 page (a static page or a document) stating 受理机构 and
  申请方式, linked from the 政务公开 page. Traps: news about revising the guide, another
  government's guide linked from the 政务公开 page, a placeholder guide page.

Registered in ``simweb.features.FEATURES`` through :data:`FEATURES_EXTRA`.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
import statistics
from datetime import date, timedelta
from html import escape
from urllib.parse import quote

from evidence.workdays import count_workdays, is_workday
from simweb.content import AS_OF, DEPTS, news_paragraphs, random_date, rng_for
from simweb.model import LeafTruth, Page, SiteModel

_FAMILY_LAYOUTS = {"trs": ["table", "table", "labelled", "detail"], "hanweb": ["labelled", "labelled", "table", "detail"],
                   "ucap": ["detail", "detail", "table", "labelled"]}
_SUBJECTS = ["小区停车位不足", "道路施工噪音扰民", "老旧小区加装电梯补贴", "新生儿医保办理", "学区划分", "公交线路调整",
             "垃圾分类点位设置", "路灯损坏", "公积金提取", "农民工工资拖欠", "物业收费", "菜市场环境", "学校周边交通",
             "社保卡补办", "违章建筑", "供暖不热", "河道污染", "自来水水压低", "养老服务补贴", "人才公寓申请"]


def _F():  # noqa: ANN202 - the simweb.features module (imported late: it imports this one)
    import simweb.features as F
    return F


def _static(site: SiteModel, rng: random.Random, key: str, title: str, body: object) -> str:
    """Add a static page (its path is assigned by the family later); returns ``page:<key>``."""
    site.static_pages[key] = Page("static", title=title, body=body)  # type: ignore[arg-type]
    site.ident["static_cids"][key] = rng.randrange(100000, 999999)
    return f"page:{key}"


def _append(site: SiteModel, key: str, extra: object) -> None:
    """Append a fragment (string or callable) to a static page's body."""
    page = site.static_pages[key]
    old = page.body

    def body(s: SiteModel, old: object = old, extra: object = extra) -> str:
        a = old(s) if callable(old) else old
        b = extra(s) if callable(extra) else extra
        return str(a) + str(b)
    page.body = body


def _fmt(d: date, style: int, rng: random.Random) -> str:
    """A date as portals print it (ISO, Chinese, slashes), sometimes with the time of day."""
    s = [d.isoformat(), f"{d.year}年{d.month:02d}月{d.day:02d}日", f"{d.year}/{d.month}/{d.day}"][style]
    return s + (f" {rng.randrange(8, 18):02d}:{rng.randrange(0, 60):02d}" if style == 0 and rng.random() < 0.3 else "")


def _workdays(a: date, b: date) -> int:
    """Working days on the Chinese holiday calendar (the one the rules use: evidence.workdays)."""
    return count_workdays(a, b).days


def _monfri(a: date, b: date) -> int:
    return sum((a + timedelta(days=k)).weekday() < 5 for k in range(1, (b - a).days + 1))


@functools.lru_cache(maxsize=8)  # a pure function of its arguments, slow (the holiday calendar per day)
def _calendar_pairs(variant: str, year: int = 2023) -> tuple[tuple[date, date], ...]:
    """(submitted, replied) pairs where the holiday calendar and a Mon–Fri count disagree.

    ``holiday``: 8–14 calendar days across a public holiday, at most 5 working days (the
    calendar says fast; Mon–Fri says more than 5). ``makeup``: 8–10 calendar days across a
    make-up working weekend day (调休), 6 or more working days (Mon–Fri says 5 or fewer)."""
    out = []
    d = date(year, 1, 3)
    while d < AS_OF - timedelta(days=20):
        if is_workday(d)[0]:
            for k in range(8, 15 if variant == "holiday" else 11):
                rep = d + timedelta(days=k)
                if not is_workday(rep)[0] and variant == "holiday":
                    continue
                cal, mf = _workdays(d, rep), _monfri(d, rep)
                if (variant == "holiday" and cal <= 5 < mf) or (variant == "makeup" and mf <= 5 < cal):
                    out.append((d, rep))
        d += timedelta(days=1)
    return tuple(out)


def reply_share(messages: list[tuple[date, date | None]], as_of: date = AS_OF, overdue: int = 90) -> float:
    """The truth's share for a list of (submitted, replied): 1.0, 0.5 or 0.0 (see the module docstring)."""
    days, work = [], []
    for sub, rep in messages:
        if rep is None:
            if (as_of - sub).days <= overdue:
                continue
            days.append(math.inf)
            work.append(math.inf)
        else:
            days.append((rep - sub).days)
            work.append(_workdays(sub, rep))
    if len(days) < 3 or all(d == math.inf for d in days):
        return 0.0
    if statistics.median(days) <= 7 or statistics.median(work) <= 5:
        return 1.0
    return 0.5 if statistics.median(days) <= 15 else 0.0


class MessageReplyTimeliness:
    leaf_id = "message_reply_timeliness"
    presence = 0.65
    trap_rate = 0.4

    def _messages(self, rng: random.Random, variant: str) -> list[tuple[date, date | None]]:
        out: list[tuple[date, date | None]] = []
        seen: set[tuple[date, date | None]] = set()
        if variant in ("holiday", "makeup"):  # every answered message straddles a holiday / a 调休 weekend
            pairs = _calendar_pairs(variant)
            out = list(rng.sample(pairs, k=min(len(pairs), rng.randrange(4, 7))))
            seen = set(out)
        lo, hi = {"fast": (1, 5), "half": (9, 13), "slow": (20, 45), "backlog": (1, 4), "status_only": (1, 6),
                  "holiday": (0, 0), "makeup": (0, 0)}[variant]
        n = rng.randrange(5, 9) if variant != "backlog" else 3
        n = len(out) if variant in ("holiday", "makeup") else n
        while len(out) < n:
            sub = random_date(rng, date(2023, 1, 4), AS_OF - timedelta(days=hi + 12))
            pair = (sub, sub + timedelta(days=rng.randrange(lo, hi + 1)))
            if pair not in seen:
                seen.add(pair)
                out.append(pair)
        overdue = {"backlog": rng.randrange(5, 7), "fast": rng.choice([0, 0, 1])}.get(variant, 0)
        for _ in range(overdue):
            out.append((random_date(rng, date(2023, 1, 4), AS_OF - timedelta(days=120)), None))
        for _ in range(rng.randrange(0, 3)):  # still in progress: not counted either way
            out.append((random_date(rng, AS_OF - timedelta(days=50), AS_OF - timedelta(days=3)), None))
        out.sort(key=lambda p: p[0], reverse=True)
        return out

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        fam = site.family.name if site.family else "trs"
        if present:
            variant = "fast" if rng.random() < 0.65 else "half"
            # replies across a public holiday (full points only on the holiday calendar) or across a
            # 调休 working weekend (half points: a Mon–Fri count would give full); own stream
            cal = rng_for(site.seed, site.site_id, self.leaf_id, "calendar").random()
            if variant == "half" and cal < 0.5:
                variant = "holiday"
            elif variant == "fast" and cal > 0.8:
                variant = "makeup"
        else:
            variant = rng.choice(["slow", "backlog", "status_only", "none"])
        t = LeafTruth(present=False)
        t.how.append(variant)
        box = site.static_pages["ldxx"].title
        if variant != "none":
            msgs = self._messages(rng, variant)
            layout = "status" if variant == "status_only" else rng.choice(_FAMILY_LAYOUTS[fam])
            t.how.append(layout)
            refs = self._publish(site, rng, msgs, layout, box)
            share = reply_share(msgs) if layout != "status" else 0.0
            t.messages, t.layout = msgs, layout
            t.present = share > 0
            if t.present:
                t.refs += refs
                t.share = None if share >= 1.0 else share
        if rng.random() < self.trap_rate:  # an office report with an average in words, no dated messages
            it = _F().add_news(site, rng, "trap-reply-report", f"2023年第三季度{box}来信办理情况通报",
                               [f"第三季度，{box}共收到群众来信{rng.randrange(300, 2000)}件，已办结{rng.randrange(280, 300)}件，"
                                f"平均答复时间{rng.randrange(2, 6)}.{rng.randrange(0, 9)}个工作日。", *news_paragraphs(rng, 2)],
                               column="tzgg")
            t.traps.append(("report_in_words", f"item:{it.key}"))
        return t

    def _publish(self, site: SiteModel, rng: random.Random, msgs: list[tuple[date, date | None]], layout: str,
                 box: str) -> list[str]:
        """Write the message list (and detail pages); returns the refs of the pages carrying counted messages."""
        style = rng.randrange(0, 3)
        sub_label = rng.choice(["来信时间", "留言时间", "提交时间", "来信日期"])
        rep_label = rng.choice(["回复时间", "答复时间", "办结时间", "回复日期"])
        subjects = rng.sample(_SUBJECTS, k=len(msgs)) if len(msgs) <= len(_SUBJECTS) else _SUBJECTS * 2
        titles = [rng.choice(["关于{s}的问题", "反映{s}问题", "咨询{s}", "{s}怎么办"]).format(s=s) for s in subjects]
        counted_on_list = False
        refs: list[str] = []
        rows = []
        for n, ((sub, rep), title) in enumerate(zip(msgs, titles, strict=False)):
            old = rep is None and (AS_OF - sub).days > 90
            status = rng.choice(["已回复", "已办结"]) if rep else rng.choice(["办理中", "未回复", "待回复"])
            if layout == "table":
                rows.append(f"<tr><td>{n + 1}</td><td>{escape(title)}</td><td>{_fmt(sub, style, rng)}</td>"
                            f"<td>{_fmt(rep, style, rng) if rep else ''}</td><td>{status}</td></tr>")
                counted_on_list = counted_on_list or rep is not None or old
            elif layout == "labelled":
                second = (f"<span>{rep_label}：{_fmt(rep, style, rng)}</span>" if rep else f"<span>状态：{status}</span>")
                rows.append(f"<li><span class=\"t\">{escape(title)}</span><span>{sub_label}：{_fmt(sub, style, rng)}</span>"
                            f"{second}</li>")
                counted_on_list = counted_on_list or rep is not None or old
            else:  # a status list; the reply dates are on the detail pages ("status": no detail pages)
                href = ""
                if rep is not None and layout == "detail":
                    key = f"c_msg_{n}"
                    dept = rng.choice(DEPTS[:-1])
                    kv = rng.random() < 0.5
                    pairs = [(sub_label, _fmt(sub, style, rng)), ("受理时间", _fmt(sub + timedelta(days=1), style, rng)),
                             ("答复单位", f"{site.name}{dept}"), (rep_label, _fmt(rep, style, rng))]
                    body = ("<table class=\"xj\">" + "".join(f"<tr><th>{a}</th><td>{b}</td></tr>" for a, b in pairs)
                            + "</table>" if kv else "".join(f"<p>{a}：{b}</p>" for a, b in pairs))
                    body += f"<div class=\"hf\"><p>您好！您反映的{escape(title)}已收悉，现答复如下：……</p></div>"
                    refs.append(_static(site, rng, key, title, body))
                    href = key
                link = (f'<a href="{{{href}}}">{escape(title)}</a>' if href else escape(title))
                rows.append(f"<li>{link}<span>[{status}]</span><span>{_fmt(sub, style, rng)}</span></li>")
                counted_on_list = counted_on_list or (old and layout == "detail")
        if layout == "table":
            head = f"<tr><th>序号</th><th>信件标题</th><th>{sub_label}</th><th>{rep_label}</th><th>状态</th></tr>"
            html = f'<table class="xjgk">{head}{"".join(rows)}</table>'
        else:
            html = f'<ul class="xjgk">{"".join(rows)}</ul>'
        if layout in ("detail", "status"):  # the status list prints no labels: a header line names the columns
            html = f'<div class="list-head"><span>信件标题</span><span>办理状态</span><span>{sub_label}</span></div>' + html

        def body(s: SiteModel, html: str = html) -> str:
            for k, p in s.static_pages.items():
                html = html.replace("{" + k + "}", p.ref)
            return html
        title = rng.choice(["信件公开", "来信选登", "留言选登", f"{box}信件公开"])
        ref = _static(site, rng, "c_xjgk", title, body)
        _append(site, "hdjl", lambda s: f'<p><a href="{s.static_pages["c_xjgk"].ref}">{title}</a></p>')
        if counted_on_list:
            refs.insert(0, ref)
        return refs


def probe_path(host: str) -> str:
    """The never-linked path windvane's crawler probes (``crawlers.probes.not_found_path``; simweb imports
    no crawler code, so the convention is repeated here and tests/test_leaves_extra.py checks both agree)."""
    return f"/windvane-404-check-{hashlib.sha1(host.encode()).hexdigest()[:10]}.html"


_HELPFUL = {
    "trs": ('<div class="err404"><img src="/images/404.png" alt=""><h2>抱歉，您访问的页面不存在或已删除！</h2>'
            '<p><a href="/">返回首页</a>　<a href="javascript:history.back()">返回上一页</a></p></div>'),
    "hanweb": ('<div class="error"><p>您要访问的页面已被删除、更名或暂时不可用。</p>'
               '<p>请检查地址是否正确，或访问<a href="/index.html">网站首页</a>。</p></div>'),
    "ucap": ('<div class="box404"><p>页面未找到，<span id="sec">5</span>秒后自动跳转……</p>'
             '<a href="/"><img src="/images/btn_home.png" alt="返回首页"></a></div>'
             '<script>setTimeout(function(){location.href="/";},5000);</script>'),
}


def _page(site: SiteModel, body: str, title: str) -> str:
    charset = "gbk" if site.encoding == "gbk" else "utf-8"
    return (f'<html><head><meta charset="{charset}"><title>{title}</title></head>'
            f"<body>{body}</body></html>")


class ErrorPage:
    leaf_id = "error_page"
    presence = 0.7

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        fam = site.family.name if site.family else "trs"
        t = LeafTruth(present=present)
        if present:
            variant = "helpful" if rng.random() < 0.6 else "bare"
            if variant == "helpful":
                site.ident["not_found"] = ("404", _page(site, _HELPFUL[fam], rng.choice(["404-页面不存在", "页面未找到", "404"])))
            else:
                t.share = 0.5
            t.refs.append(probe_path(site.host))
        else:
            variant = rng.choice(["soft200", "redirect"])
            if variant == "soft200":  # the same helpful page, with status 200
                site.ident["not_found"] = ("200", _page(site, _HELPFUL[fam], "页面不存在"))
            else:
                site.ident["not_found"] = ("302", "/")
            t.traps.append((variant, probe_path(site.host)))
        t.how.append(variant)
        t.reach.append("probe")  # only the crawler's probe of a never-linked path sees it (not linked, maybe not 200)
        return t


def site_text(m: SiteModel) -> str:
    """Everything the site serves that can link: every page's HTML (scripts included: menus built by
    script, ``window.open`` targets) and the JSON resources (faults="full"), computed once per site."""
    cached = m.ident.get("_site_text")
    if cached is None:
        from simweb.check import page_html

        parts = [page_html(m, path) or "" for path in list(m.pages)]
        for raw in m.raw.values():
            if raw.kind == "json" and raw.make is not None:
                parts.append(raw.make().decode("utf-8", "replace"))
        cached = "\n".join(parts)
        m.ident["_site_text"] = cached
    return cached


def is_linked(m: SiteModel, path: str) -> bool:
    """Whether any page of the site mentions ``path`` (as written, HTML- or JSON-escaped)."""
    text = site_text(m)
    base = path.partition("?")[0]
    # also as a script writes it: encodeURIComponent / escape turn "/" into %2F (document.write menus)
    encoded = {quote(base, safe=""), quote(base, safe="").lower(), quote(base, safe="/")}
    return any(p in text for p in {path, path.replace("&", "&amp;"), base.replace("/", "\\/"), base, *encoded})


def not_found(m: SiteModel, path: str) -> tuple[int, str, str] | None:
    """How the site answers a missing path: (status, body HTML or redirect location, charset), or None
    for the server's default 404. Soft answers (200, 302) only for paths no page links to."""
    answer = m.ident.get("not_found")
    if answer is None:
        return None
    kind, value = answer
    if kind == "404":
        return 404, value, m.encoding
    if is_linked(m, path):
        return 404, answer[1] if kind == "200" else "", m.encoding
    return (200 if kind == "200" else 302), value, m.encoding


class FoiGuide:
    leaf_id = "foi_guide"
    presence = 0.7
    trap_rate = 0.4

    def _body(self, site: SiteModel, rng: random.Random, fam: str) -> list[str]:
        i = site.ident
        organ = rng.choice([f"{i['office']}（政务公开办公室）", f"{i['office']}", f"{site.name}政务服务中心"])
        parts = [("一、主动公开", f"{i['gov']}主动公开的政府信息，通过门户网站、政府公报、政务新媒体等途径公开。"),
                 (rng.choice(["二、受理机构", "二、依申请公开受理机构"]),
                  f"{rng.choice(['受理机构', '受理机关'])}：{organ}，地址：{i['address']}，邮编：{i['postcode']}，"
                  f"联系电话：{i['phone']}。"),
                 (rng.choice(["三、申请方式", "三、申请的提出"]),
                  rng.choice(["申请人可通过网上申请、信函申请、当面申请等方式提出申请。",
                              "申请人可以当面提交申请，也可以通过信函、传真或在线申请平台提出申请。"])),
                 ("四、办理时限", "能够当场答复的，当场予以答复；不能当场答复的，自收到申请之日起20个工作日内予以答复。")]
        if fam == "hanweb":
            return [f"<p><strong>{a}</strong></p><p>{b}</p>" for a, b in parts]
        if fam == "ucap":
            return [f"<p>{a}：{b}</p>" for a, b in parts]
        return [f"<h3>{a}</h3><p>{b}</p>" for a, b in parts]

    def apply(self, site: SiteModel, present: bool, rng: random.Random) -> LeafTruth:
        t = LeafTruth(present=present)
        fam = site.family.name if site.family else "trs"
        i = site.ident
        if present:
            title = rng.choice([f"{i['gov']}信息公开指南", "政府信息公开指南", f"{i['gov']}信息公开指南（2023年修订）",
                                f"{i['office']}政府信息公开指南"])
            body = "".join(self._body(site, rng, fam))
            if rng.random() < 0.3:  # published as a document of the policy library
                it = _F().add_doc(site, rng, "foi_guide-doc", title, issuer=i["office"], docno="",
                                  d=random_date(rng, date(2021, 3, 1), date(2023, 6, 30)), kind_word="指南",
                                  paras=[p for p in (body.replace("</p>", "\n").replace("<p>", "")
                                                     .replace("<h3>", "").replace("</h3>", "：")
                                                     .replace("<strong>", "").replace("</strong>", "")).split("\n") if p])
                t.refs.append(f"item:{it.key}")
                _append(site, "zwgk", lambda s, k=it.key: f'<p><a href="{s.items[k].path}">政府信息公开指南</a></p>')
                t.how.append("document")
            else:
                t.refs.append(_static(site, rng, "c_foi_guide", title, body))
                _append(site, "zwgk", lambda s: f'<p><a href="{s.static_pages["c_foi_guide"].ref}">'
                                                f'{rng.choice(["政府信息公开指南", "信息公开指南", "公开指南"])}</a></p>')
                t.how.append("page")
        elif rng.random() < self.trap_rate:
            t.traps.append(("placeholder", _static(site, rng, "c_foi_guide", "政府信息公开指南",
                                                    "<p>指南正在修订中，敬请关注。</p>")))
        if rng.random() < self.trap_rate:
            it = _F().add_news(site, rng, "trap-foi-guide-news",
                               rng.choice([f"{site.short}完成政府信息公开指南修订工作", "我市发布新版政府信息公开指南"]),
                               ["新版指南进一步明确了受理机构、申请方式和办理时限，方便群众提出申请。", *news_paragraphs(rng, 2)])
            t.traps.append(("news_headline", f"item:{it.key}"))
        if rng.random() < self.trap_rate:
            other = f"{site.province}人民政府" if site.level != "province" else "国务院办公厅"
            url = i["prov_url"] + "zwgk/zfxxgkzn/index.html" if i["prov_url"] else "https://www.gov.cn/zhengce/xxgk/gkzn.htm"
            _append(site, "zwgk", f'<p>相关链接：<a href="{escape(url)}" target="_blank">{other}信息公开指南</a></p>')
            t.traps.append(("other_government", "page:zwgk"))
        return t


FEATURES_EXTRA = [MessageReplyTimeliness(), ErrorPage(), FoiGuide()]
