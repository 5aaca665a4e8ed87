"""Template families: URL dialects and HTML markup of the simulated portals.

Three families imitate the CMS dialects of real portals (research/portal-anatomy.md §1):

* ``trs`` — TRS WCM: ``/zwgk/zcwj/202305/t20230512_4567.html``, lists ``index.html``,
  ``index_1.html`` with ``createPageHTML``, body in ``div.TRS_Editor``, metadata in
  ``table.xxgk_table`` with padded labels in adjacent cells.
* ``hanweb`` — 大汉 JCMS: ``/col/col1234/index.html`` (later pages ``?pageNum=2``),
  ``/art/2023/5/12/art_1234_4567.html``, body ``div#zoom``, metadata as
  ``<ul><li><span>label</span>value</li>``, one column whose list sits in a
  ``<script type="text/xml"><datastore>`` block.
* ``ucap`` — gov.cn / 开普云: ``/zhengce/content/202305/content_4567.htm``, body
  ``#UCAP-CONTENT``, metadata ``<table>`` with ``<td><b>发文字号：</b></td><td>…</td>``.

A family assigns paths (``assign_paths``) and renders pages (``render``); the shared
layout is in :class:`Family` and the families override the pieces that differ.
"""

from __future__ import annotations

from html import escape
from math import ceil

from simweb.content import fmt_date
from simweb.faults import cut_title, js_home_markup, js_nav_markup
from simweb.model import Fragment, Item, Page, SiteModel


def frag(site: SiteModel, f: Fragment) -> str:
    return f(site) if callable(f) else f


def shown_title(site: SiteModel, title: str, trunc: int = 0) -> str:
    """A headline as a list shows it: cut to ``trunc`` characters, or by GBK byte count on a
    ``gbk_cut_titles`` site (``simweb.faults.cut_title``)."""
    budget = site.ident.get("cut_titles")
    if budget:
        return cut_title(title, budget)
    return title[:trunc] + "..." if trunc and len(title) > trunc else title


class Family:
    name = "base"
    list_ext = "html"
    body_open = '<div class="article-content">'
    body_close = "</div>"

    # --- paths ------------------------------------------------------------------------------
    def column_dir(self, site: SiteModel, key: str) -> str:
        raise NotImplementedError

    def list_page_path(self, site: SiteModel, key: str, n: int) -> str:
        d = self.column_dir(site, key)
        return f"{d}index.{self.list_ext}" if n == 0 else f"{d}index_{n}.{self.list_ext}"

    def item_path(self, site: SiteModel, item: Item) -> str:
        d = item.date
        return f"{self.column_dir(site, item.column)}{d:%Y%m}/t{d:%Y%m%d}_{item.num}.{self.list_ext}"

    def static_path(self, site: SiteModel, key: str) -> str:
        return f"/{key}/index.{self.list_ext}"

    def home_links(self) -> list[str]:
        return ["/"]

    def assign_fixed(self, site: SiteModel) -> None:
        """Paths known before content is complete: static pages and first list pages."""
        for key, col in site.columns.items():
            col.path = self.list_page_path(site, key, 0)
        for key, page in site.static_pages.items():
            page.ref = self.static_path(site, key)

    def assign_paths(self, site: SiteModel) -> None:
        self.assign_fixed(site)
        for key, col in site.columns.items():
            n_pages = 1 if col.script_list else max(1, ceil(len(col.items) / col.page_size))
            col.pages = [self.list_page_path(site, key, n) for n in range(n_pages)]
            col.path = col.pages[0]
        for item in site.items.values():
            item.path = self.item_path(site, item)

    # --- layout -----------------------------------------------------------------------------
    def meta_charset(self, site: SiteModel) -> str:
        if site.encoding == "gbk":
            return '<meta http-equiv="Content-Type" content="text/html; charset=gbk">'
        return '<meta charset="utf-8">'

    def head(self, site: SiteModel, title: str, column: str = "", item: Item | None = None) -> str:
        i = site.ident
        metas = [f'<meta name="SiteName" content="{escape(i["site_title"])}">',
                 f'<meta name="SiteDomain" content="{site.host}">',
                 f'<meta name="SiteIDCode" content="{i["idcode"]}">']
        if column:
            metas.append(f'<meta name="ColumnName" content="{escape(column)}">')
        if item is not None:
            metas.append(f'<meta name="ArticleTitle" content="{escape(item.title)}">')
            metas.append(f'<meta name="PubDate" content="{item.date.isoformat()} {item.num % 24:02d}:{item.num % 60:02d}">')
            if item.source:
                metas.append(f'<meta name="ContentSource" content="{escape(item.source)}">')
        return (f"<!DOCTYPE html>\n<html>\n<head>\n{self.meta_charset(site)}\n"
                f"<title>{escape(title)}</title>\n" + "\n".join(metas) + site.ident.get("head_extra", "") +
                f'\n<link rel="stylesheet" href="/{self.css_path()}">\n</head>\n')

    def css_path(self) -> str:
        return "images/style.css"

    def header(self, site: SiteModel) -> str:
        links = " | ".join(frag(site, f) for f in site.header_links)
        if site.js_nav:
            nav_html = js_nav_markup(site)
        else:
            nav = "".join(f'<li><a href="{escape(site.href(h))}"{self._target(h)}>{escape(label)}</a></li>'
                          for label, h in site.nav)
            nav_html = f"<ul>{nav}</ul>"
        return (f'<div class="top"><div class="top-links">{links}</div></div>\n'
                f'<div class="header"><a href="/" class="logo"><img src="/images/logo.png" '
                f'alt="{escape(site.ident["site_title"])}"></a></div>\n'
                f'<div class="nav">{nav_html}</div>\n')

    @staticmethod
    def _target(h: str) -> str:
        return ' target="_blank"' if h.startswith("http") else ""

    def footer(self, site: SiteModel) -> str:
        lines = "".join(f"<p>{frag(site, f)}</p>" for f in site.footer_lines)
        return f'<div class="footer">{lines}</div>\n'

    def floats(self, site: SiteModel) -> str:
        return "".join(frag(site, f) for f in site.floats)

    def layout(self, site: SiteModel, title: str, main: str, column: str = "", item: Item | None = None,
               home: bool = False) -> str:
        return (self.head(site, title, column, item) + "<body>\n" + self.header(site) +
                f'<div class="main">\n{main}\n</div>\n' + self.footer(site) +
                (self.floats(site) if home else "") + "</body>\n</html>\n")

    def crumbs(self, site: SiteModel, *parts: tuple[str, str]) -> str:
        links = ['<a href="/">首页</a>'] + [f'<a href="{escape(h)}">{escape(t)}</a>' if h else escape(t)
                                           for t, h in parts]
        return f'<div class="crumb">当前位置：{" &gt; ".join(links)}</div>'

    # --- pages ------------------------------------------------------------------------------
    def render(self, site: SiteModel, page: Page) -> str:
        if page.kind == "home":
            return self.render_home(site)
        if page.kind == "list":
            return self.render_list(site, page.ref, page.page_no)
        if page.kind == "item":
            item = site.items[page.ref]
            if item.kind == "doc":
                return self.render_doc(site, item)
            return self.render_article(site, item)
        body = frag(site, page.body)
        main = self.crumbs(site, (page.title, "")) + f'<div class="page-body"><h2>{escape(page.title)}</h2>{body}</div>'
        return self.layout(site, f"{page.title}_{site.ident['site_title']}", main, column=page.title)

    def item_link(self, site: SiteModel, item: Item, date_style: int = 0, trunc: int = 0) -> str:
        text = shown_title(site, item.title, trunc)
        return (f'<li><a href="{escape(item.path)}" title="{escape(item.title)}" target="_blank">{escape(text)}</a>'
                f'<span class="date">{fmt_date(item.date, date_style)}</span></li>')

    def render_home(self, site: SiteModel) -> str:
        blocks = []
        for key, n in (("yw", 8), ("tzgg", 6), ("zcwj", 7), ("zcjd", 5), ("bmdt", 6)):
            col = site.columns.get(key)
            if not col:
                continue
            items = "".join(self.item_link(site, site.items[k], 0, 26) for k in col.items[:n])
            blocks.append(f'<div class="box"><div class="box-title"><span>{escape(col.name)}</span>'
                          f'<a href="{col.path}" class="more">更多&gt;&gt;</a></div><ul>{items}</ul></div>')
        shown = site.home_blocks[:1] if site.js_nav else site.home_blocks
        for title, f in shown:
            blocks.append(f'<div class="box"><div class="box-title"><span>{escape(title)}</span></div>{frag(site, f)}</div>')
        if site.js_nav:  # the other blocks and the floats appear only once scripts run
            blocks.append(js_home_markup(site, frag))
        return self.layout(site, site.ident["site_title"], "\n".join(blocks), home=not site.js_nav)

    def pager(self, site: SiteModel, col_key: str, n: int) -> str:
        col = site.columns[col_key]
        total = len(col.pages)
        links = []
        if n > 0:
            links.append(f'<a href="{col.pages[0]}">首页</a><a href="{col.pages[n - 1]}">上一页</a>')
        for i, p in enumerate(col.pages):
            links.append(f"<span class=\"cur\">{i + 1}</span>" if i == n else f'<a href="{p}">{i + 1}</a>')
        if n < total - 1:
            links.append(f'<a href="{col.pages[n + 1]}">下一页</a><a href="{col.pages[-1]}">尾页</a>')
        return f'<div class="page">共{len(col.items)}条 {"".join(links)}</div>'

    def list_items(self, site: SiteModel, col_key: str, n: int) -> list[Item]:
        col = site.columns[col_key]
        if col.script_list:
            return [site.items[k] for k in col.items[: col.page_size * 2]]
        return [site.items[k] for k in col.items[n * col.page_size:(n + 1) * col.page_size]]

    def render_list(self, site: SiteModel, col_key: str, n: int) -> str:
        col = site.columns[col_key]
        items = "".join(self.item_link(site, it, site.ident["date_style"] % 2) for it in self.list_items(site, col_key, n))
        main = (self.crumbs(site, (col.name, col.path)) +
                f'<div class="list"><h2>{escape(col.name)}</h2><ul>{items}</ul>{self.pager(site, col_key, n)}</div>')
        return self.layout(site, f"{col.name}_{site.ident['site_title']}", main, column=col.name)

    def meta_rows(self, site: SiteModel, item: Item) -> list[tuple[str, str]]:
        labels = site.ident["labels"]
        ds = site.ident["date_style"]
        rows = [("index", item.index_no), ("issuer", item.issuer), ("title", item.title), ("docno", item.docno),
                ("written", fmt_date(item.written or item.date, ds)), ("published", fmt_date(item.date, ds))]
        if item.validity:
            rows.append(("validity", item.validity))
        return [(labels[k], v) for k, v in rows if k in labels]

    def meta_block(self, site: SiteModel, item: Item) -> str:
        rows = self.meta_rows(site, item)
        cells = "".join(f"<tr><th>{escape(k)}：</th><td>{escape(v)}</td></tr>" for k, v in rows)
        return f'<table class="meta">{cells}</table>'

    def related(self, site: SiteModel, item: Item) -> str:
        out = []
        for heading, key in item.related:
            other = site.items.get(key)
            href = other.path if other else key  # a key that is a path: a dangling link
            title = other.title if other else "相关链接"
            out.append(f'<div class="related"><span>{escape(heading)}：</span><a href="{escape(href)}">{escape(title)}</a></div>')
        return "".join(out)

    def body_html(self, item: Item) -> str:
        paras = "".join(f"<p>{escape(p)}</p>" for p in item.paras)
        return f"{self.body_open}{paras}{item.extra_html}{self.body_close}"

    def attachment_link(self, item: Item) -> str:
        att = item.attachment
        if att is None:
            return ""
        return (f'<div class="fj"><p>附件：<a href="{escape(att.href)}" target="_blank" title="{escape(att.showname)}">'
                f"1.{escape(att.showname)}</a></p></div>")

    def render_doc(self, site: SiteModel, item: Item) -> str:
        if item.form and (item.attachment is None or item.attachment.kind != "evidence"):
            from simweb.features_documents import render_form  # regulations printed as body text

            return render_form(self, site, item)
        col = site.columns[item.column]
        if item.attachment is not None and item.attachment.kind == "evidence":  # text only in the attachment
            stub = (f"{self.body_open}<p>各有关单位：</p><p>现将有关文件印发给你们，请结合实际认真贯彻执行。</p>"
                    f"<p>详见附件。</p>{self.body_close}")
            info = f'<div class="info">发布时间：{fmt_date(item.date, site.ident["date_style"])}</div>'
            main = (self.crumbs(site, (col.name, col.path)) + f'<h1 class="title">{escape(item.title)}</h1>' + info +
                    stub + self.attachment_link(item) + self.related(site, item))
            return self.layout(site, f"{item.title}_{site.ident['site_title']}", main, column=col.name, item=item)
        main = (self.crumbs(site, (col.name, col.path)) + self.meta_block(site, item) +
                f'<h1 class="title">{escape(item.title)}</h1>' + self.body_html(item) + self.attachment_link(item) +
                self.related(site, item))
        return self.layout(site, f"{item.title}_{site.ident['site_title']}", main, column=col.name, item=item)

    def render_article(self, site: SiteModel, item: Item) -> str:
        col = site.columns[item.column]
        ds = site.ident["date_style"]
        info = f"发布时间：{fmt_date(item.date, ds)}　来源：{escape(item.source or site.ident['office'])}"
        main = (self.crumbs(site, (col.name, col.path)) + f'<h1 class="title">{escape(item.title)}</h1>'
                f'<div class="info">{info}</div>' + self.body_html(item) + self.related(site, item))
        return self.layout(site, f"{item.title}_{site.ident['site_title']}", main, column=col.name, item=item)


class TRSFamily(Family):
    name = "trs"
    body_open = '<div class="TRS_Editor"><div class="view TRS_UEDITOR trs_paper_default trs_web">'
    body_close = "</div></div>"
    DIRS = {"zwgk": "/zwgk/", "zcwj": "/zwgk/zcwj/", "zcjd": "/zwgk/zcjd/", "tzgg": "/zwgk/tzgg/",
            "yw": "/xwzx/yw/", "bmdt": "/xwzx/bmdt/"}

    def column_dir(self, site: SiteModel, key: str) -> str:
        return self.DIRS.get(key, f"/{key}/")

    def pager(self, site: SiteModel, col_key: str, n: int) -> str:
        col = site.columns[col_key]
        script = (f'<script type="text/javascript">var currentPage = {n};var countPage = {len(col.pages)};'
                  f'createPageHTML(countPage, currentPage, "index", "html");</script>')
        return script + super().pager(site, col_key, n)

    def meta_block(self, site: SiteModel, item: Item) -> str:
        rows = self.meta_rows(site, item)
        trs = []
        for i in range(0, len(rows), 2):
            cells = "".join(f'<td class="label">{escape(k)}：</td><td>{escape(v)}</td>' for k, v in rows[i:i + 2])
            trs.append(f"<tr>{cells}</tr>")
        return f'<table class="xxgk_table" cellspacing="0" cellpadding="0">{"".join(trs)}</table>'


class HanwebFamily(Family):
    name = "hanweb"
    body_open = '<div id="zoom">'
    body_close = "</div>"

    def column_dir(self, site: SiteModel, key: str) -> str:
        return f"/col/col{site.columns[key].cid}/"

    def list_page_path(self, site: SiteModel, key: str, n: int) -> str:
        base = f"/col/col{site.columns[key].cid}/index.html"
        return base if n == 0 else f"{base}?uid={site.columns[key].cid + 7}&pageNum={n + 1}"

    def item_path(self, site: SiteModel, item: Item) -> str:
        d = item.date
        return f"/art/{d.year}/{d.month}/{d.day}/art_{site.columns[item.column].cid}_{item.num}.html"

    def static_path(self, site: SiteModel, key: str) -> str:
        return f"/col/col{site.ident['static_cids'][key]}/index.html"

    def home_links(self) -> list[str]:
        return ["/", "/index.html"]

    def css_path(self) -> str:
        return "images/hanweb.min.css"

    def crumbs(self, site: SiteModel, *parts: tuple[str, str]) -> str:
        return super().crumbs(site, *parts).replace('href="/"', 'href="/index.html"', 1)

    def footer(self, site: SiteModel) -> str:
        return (super().footer(site)[:-7] + '<a href="http://www.hanweb.com" style="display:none">Produced By 大汉网络 '
                "大汉版通发布系统</a></div>\n")

    def render_list(self, site: SiteModel, col_key: str, n: int) -> str:
        col = site.columns[col_key]
        if not col.script_list:
            return super().render_list(site, col_key, n)
        records = "".join(f"<record><![CDATA[{self.item_link(site, it, 0)}]]></record>"
                          for it in self.list_items(site, col_key, n))
        store = (f'<div id="{col.cid}"><script type="text/xml"><datastore><nextgroup><![CDATA[<a href="/module/web/jpage/'
                 f'dataproxy.jsp?page=1&webid=1&columnid={col.cid}&unitid={col.cid + 3}">]]></nextgroup>'
                 f"<recordset>{records}</recordset></datastore></script></div>")
        main = self.crumbs(site, (col.name, col.path)) + f'<div class="list"><h2>{escape(col.name)}</h2>{store}</div>'
        return self.layout(site, f"{col.name}_{site.ident['site_title']}", main, column=col.name)

    def meta_block(self, site: SiteModel, item: Item) -> str:
        lis = "".join(f"<li><span>{escape(k)}：</span>{escape(v)}</li>" for k, v in self.meta_rows(site, item))
        return f'<div class="xxgk_top"><ul>{lis}</ul></div>'

    def head(self, site: SiteModel, title: str, column: str = "", item: Item | None = None) -> str:
        h = super().head(site, title, column, item)
        if column in site.columns_by_name():
            h = h.replace("</head>", f'<meta name="ColId" content="{site.columns_by_name()[column]}">\n</head>')
        return h


class UcapFamily(Family):
    name = "ucap"
    list_ext = "htm"
    body_open = '<div id="UCAP-CONTENT" class="pages_content">'
    body_close = "</div>"
    DIRS = {"zwgk": "/zwgk/", "zcwj": "/zhengce/zcwjk/", "zcjd": "/zhengce/jiedu/", "tzgg": "/tongzhi/",
            "yw": "/yaowen/", "bmdt": "/bumendongtai/"}

    def column_dir(self, site: SiteModel, key: str) -> str:
        return self.DIRS.get(key, f"/{key}/")

    def item_path(self, site: SiteModel, item: Item) -> str:
        d = item.date
        if item.kind == "doc":
            return f"/zhengce/content/{d:%Y%m}/content_{item.num}.htm"
        return f"{self.column_dir(site, item.column)}{d:%Y%m}/content_{item.num}.htm"

    def static_path(self, site: SiteModel, key: str) -> str:
        return f"/{key}/index.htm"

    def item_link(self, site: SiteModel, item: Item, date_style: int = 0, trunc: int = 0) -> str:
        return (f'<li><span class="date">[{fmt_date(item.date, 0)}]</span><a href="{escape(item.path)}" '
                f'target="_blank">{escape(shown_title(site, item.title, trunc))}</a></li>')

    def meta_block(self, site: SiteModel, item: Item) -> str:
        rows = self.meta_rows(site, item)
        trs = "".join(f"<tr><td><b>{escape(k)}：</b></td><td>{escape(v)}</td></tr>" for k, v in rows)
        return f'<table class="bd1" border="0" cellspacing="1" cellpadding="4" width="100%"><tbody>{trs}</tbody></table>'

    def render_article(self, site: SiteModel, item: Item) -> str:
        col = site.columns[item.column]
        main = (self.crumbs(site, (col.name, col.path)) + f'<h1 id="ti">{escape(item.title)}</h1>'
                f'<div class="pages-date">{item.date.isoformat()} {item.num % 24:02d}:{item.num % 60:02d}'
                f'<span class="font">来源：{escape(item.source or site.ident["office"])}</span></div>' +
                self.body_html(item) + self.related(site, item))
        return self.layout(site, f"{item.title}_{col.name}_{site.ident['site_title']}", main, column=col.name, item=item)


FAMILIES: dict[str, Family] = {f.name: f for f in (TRSFamily(), HanwebFamily(), UcapFamily())}

# label sets: (index, issuer, title, docno, written, published, validity); padded variants included
LABEL_SETS = {
    "trs": [
        {"index": "索 引 号", "issuer": "发布机构", "docno": "文　　号", "written": "成文日期",
         "published": "发布日期", "validity": "有 效 性", "title": "名　　称"},
        {"index": "索引号", "issuer": "发文机关", "docno": "文号", "written": "成文日期",
         "published": "发布日期", "validity": "有效性"},
    ],
    "hanweb": [
        {"index": "索引号", "issuer": "发布机构", "docno": "文号", "written": "生成日期",
         "published": "公开日期", "validity": "有效性", "title": "标题"},
        {"index": "信息索取号", "issuer": "发布单位", "docno": "发文字号", "written": "成文日期",
         "published": "发布时间", "validity": "效力状态"},
    ],
    "ucap": [
        {"index": "索  引  号", "issuer": "发文机关", "title": "标　　题", "docno": "发文字号",
         "written": "成文日期", "published": "发布日期", "validity": "有 效 性"},
        {"index": "索引号", "issuer": "发布机构", "title": "名称", "docno": "文号",
         "written": "成文日期", "published": "发布日期", "validity": "时效"},
    ],
}
