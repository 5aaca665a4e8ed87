"""The real web's page-structure classes (issue 7, part 3), on hand-written pages.

Each class has positives and negatives written for this file, in markup and wording that
differ from the rules' own examples and from the simulated web's templates:

1. a 12345 number in an article's body or headline (news about the hotline, a regulation on
   it, a notice naming it as the complaint channel) is no entry; page furniture is (footer
   line, floating icon with only alt text, sidebar block, header number, a service page);
2. links whose target is only in an event handler are links for every link rule, read by
   the same code the crawler follows them with;
3. menus written by scripts in more forms (concatenated ``document.write``, ``map().join()``
   into ``innerHTML``, templates filled from inline JSON) are detected, and — one real
   Chromium render — their links are seen by the rules in the rendered DOM;
4. declared GBK/GB2312 pages with a few bad bytes (titles cut by byte count) keep their
   declared encoding with U+FFFD; Chinese text never comes out as another script.

Everything runs through the real components: ``extractors.inspect.inspect_inputs`` over
files, ``evidence.decode``, ``evidence.links``, ``crawlers.detect`` and ``crawlers.browser``.
"""

from __future__ import annotations

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import lxml.html
import pytest

from crawlers.detect import onclick_links, script_built_reason
from evidence.decode import decode_html, html_encoding, tolerable
from extractors.engine import parse_html
from extractors.inspect import inspect_inputs
from extractors.rules import load_rules
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def ruleset():
    return load_rules(ROOT / "rules")


def _findings(tmp_path: Path, ruleset, html: str, url: str, leaf: str, name: str = "page.html",
              encoding: str = "utf-8") -> list[dict]:
    """Findings of one leaf on a hand-written page saved as a file (the URL given as a saved-from mark)."""
    p = tmp_path / name
    p.write_bytes((f"<!-- saved from url=(0000){url} -->\n" + html).encode(encoding, "xmlcharrefreplace"))
    return [f for f in inspect_inputs([str(p)], ruleset) if f["kind"] == "finding" and f["indicator_id"] == leaf]


# --- 1. entries are page furniture, not article bodies -------------------------------------------------

NEWS_HTML5 = """<!DOCTYPE html><html><head><meta charset="utf-8">
<title>“热线+网格”联动 市民诉求办理提速_工作动态_嘉禾市人民政府</title>
<meta name="PubDate" content="2023-08-21 09:30"></head><body>
<header class="site-head"><a href="/">嘉禾市人民政府</a>
<nav><a href="/zwgk/">政务公开</a><a href="/hdjl/">互动交流</a></nav></header>
<main><article>
<h1>“热线+网格”联动 市民诉求办理提速</h1>
<div class="meta">2023-08-21　信息来源：市政务服务管理办公室</div>
<div class="article-body">
<p>8月以来，我市推动12345市民服务热线与基层网格深度融合，群众来电反映的问题由网格员就近上门核实。</p>
<p>截至目前，热线共向网格派发工单3200余件，平均办结时间缩短至2.6天。</p>
<p>市民如遇困难，可拨打12345热线或通过“嘉禾通”小程序反映。</p>
</div></article></main>
<footer><p>主办：嘉禾市人民政府办公室　联系电话：0577-88021234</p>{footer}<p>网站标识码：3303000012</p></footer>
</body></html>"""

REGULATION_BR = """<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>青川市政务服务便民热线管理办法</title></head><body>
<div class="top"><span>今天是：2023年10月9日</span> <a href="/">网站首页</a></div>
<table class="xxgk"><tr><td>索引号：</td><td>11510800MB1234567X/2022-00031</td><td>发布机构：</td><td>青川市人民政府</td></tr>
<tr><td>文号：</td><td>青川府令第12号</td><td>发布日期：</td><td>2022年04月18日</td></tr></table>
<div class="bt">青川市政务服务便民热线管理办法</div>
<div id="zoom">第一条　为了规范政务服务便民热线的运行和管理，及时回应企业和群众诉求，根据有关规定，结合本市实际，制定本办法。<br>
第二条　本办法所称政务服务便民热线，是指本市设立的以12345为号码的政务服务热线，包括电话、网站、移动客户端等受理渠道。<br>
第三条　热线实行一号对外、分类处置、统一督办。<br>第四条　本办法自2022年6月1日起施行。</div>
<div class="foot">版权所有：青川市人民政府　地址：青川市人民路1号</div></body></html>"""

NOTICE_SPANS = """<html><head><meta charset="utf-8"><title>关于开展夏季燃气安全隐患排查整治的通告</title></head><body>
<div class="g-top"><a href="/index.htm">首页</a> <a href="/tongzhi/">通知公告</a></div>
<div class="g-main"><div class="w-title">关于开展夏季燃气安全隐患排查整治的通告</div>
<div class="w-date">日期：2023-06-02　　来源：市城市管理局</div>
<div class="w-text"><p><span style="font-size:16px">为切实防范燃气安全事故，市政府决定自即日起在全市开展燃气安全隐患排查整治。</span></p>
<p><span style="font-size:16px">一、整治对象：餐饮场所、老旧小区和农贸市场。</span></p>
<p><span style="font-size:16px">二、群众发现燃气安全隐患，可拨打12345政务服务便民热线或0571-87654321举报。</span></p></div></div>
<div class="g-foot">主办单位：某市人民政府办公室</div></body></html>"""

HEADLINE_ONLY = """<html><head><meta charset="utf-8"><title>12345热线九月份工单分析报告_数据发布</title></head><body>
<div class="hd"><a href="/">首页</a></div>
<h2 class="art-tit">12345热线九月份工单分析报告</h2><div class="art-src">发布时间：2023-10-08</div>
<div class="art-con"><p>九月份共受理各类诉求8.1万件，环比下降3.2%，其中物业管理、交通出行类诉求居前。</p>
<p>各承办单位按时办结率98.9%，群众满意率96.3%。</p></div></body></html>"""


@pytest.mark.parametrize("html,url", [
    (NEWS_HTML5.replace("{footer}", ""), "https://www.jiahe.gov.cn/xwzx/gzdt/202308/t20230821_99120.html"),
    (REGULATION_BR, "https://www.qingchuan.gov.cn/zwgk/fgwj/202204/t20220418_5521.html"),
    (NOTICE_SPANS, "https://www.mouzhou.gov.cn/tongzhi/202306/content_88213.htm"),
    (HEADLINE_ONLY, "https://www.mouzhou.gov.cn/sjfb/2023-10/08/content_3321.shtml"),
], ids=["news_html5_article", "regulation_br_lines", "notice_complaint_channel", "headline_only"])
def test_hotline_in_an_article_body_or_headline_is_no_entry(tmp_path, ruleset, html, url):
    assert _findings(tmp_path, ruleset, html, url, "hotline_12345") == []


@pytest.mark.parametrize("line,entry", [
    ("市民服务热线：12345　技术支持：嘉禾市大数据中心", True),
    ("市长公开电话 12345　传真：0577-88021235", True),
    ("24小时便民服务热线：0577-12345", True),
    ("传真：0577-88123456　邮编：312345", False),
])
def test_the_same_article_page_with_a_footer_line_has_the_entry_in_the_footer(tmp_path, ruleset, line, entry):
    html = NEWS_HTML5.replace("{footer}", f"<p>{line}</p>")
    found = _findings(tmp_path, ruleset, html, "https://www.jiahe.gov.cn/xwzx/gzdt/202308/t20230821_99120.html",
                      "hotline_12345")
    assert bool(found) is entry
    body_end = parse_html(html).text.index("小程序反映")
    assert all(f["start"] > body_end and "12345" in f["values"]["context"] for f in found)


def test_floating_icon_with_alt_text_on_the_home_page_is_an_entry(tmp_path, ruleset):
    html = """<html><head><meta charset="utf-8"><title>嘉禾市人民政府</title></head><body>
    <div class="news"><ul><li><a href="/xwzx/gzdt/202308/t20230821_99120.html">12345热线与网格联动 市民诉求办理提速</a>
    <span>08-21</span></li></ul></div>
    <div id="piaofu" style="position:absolute;right:0"><a href="https://12345.jiahe.gov.cn/" target="_blank">
    <img src="/r/ico_rx.gif" alt="12345政务服务便民热线"></a></div></body></html>"""
    found = _findings(tmp_path, ruleset, html, "https://www.jiahe.gov.cn/", "hotline_12345")
    assert found and {f["values"].get("href") for f in found} == {"https://12345.jiahe.gov.cn/"}


def test_sidebar_block_beside_an_article_is_an_entry(tmp_path, ruleset):
    side = ('<div class="side-box"><div class="tit">便民服务</div><ul><li><i class="ico"></i><span>政务服务热线</span>'
            '<em>12345</em></li><li><a href="/bmfw/sb/">社保查询</a></li></ul></div>')
    html = NEWS_HTML5.replace("{footer}", "").replace("</article></main>", f"</article>{side}</main>")
    found = _findings(tmp_path, ruleset, html, "https://www.jiahe.gov.cn/xwzx/gzdt/202308/t20230821_99120.html",
                      "hotline_12345")
    assert len(found) == 1 and "12345" in found[0]["snippet"] and "热线" in found[0]["snippet"]
    assert found[0]["start"] > parse_html(html).text.index("小程序反映")


def test_header_number_on_a_hanweb_style_article_is_the_only_entry(tmp_path, ruleset):
    html = """<html><head><meta charset="utf-8"><title>市政务服务中心召开热线工作推进会</title></head><body>
    <div class="top-bar"><span class="top-tel">服务热线 12345</span><a href="/col/col1/index.html">首页</a></div>
    <div class="xl-main"><div class="title">市政务服务中心召开热线工作推进会</div>
    <div class="info">发布时间：2023-09-12 10:21 浏览次数：</div>
    <div id="zoom"><p>会议要求，各承办单位要进一步压实责任，确保12345热线转办的群众诉求件件有着落。</p>
    <p>会议还通报了上半年12345政务服务便民热线考核结果，对排名靠后的单位进行了约谈。</p></div></div></body></html>"""
    found = _findings(tmp_path, ruleset, html, "https://www.lishui.gov.cn/art/2023/9/12/art_1229_7781.html",
                      "hotline_12345")
    assert len(found) == 1 and "12345" in found[0]["snippet"]
    assert found[0]["start"] < parse_html(html).text.index("市政务服务中心召开")


def test_a_service_page_describing_its_hotline_is_no_article(tmp_path, ruleset):
    html = """<html><head><meta charset="utf-8"><title>互动交流_嘉禾市人民政府</title></head><body>
    <div class="crumb">当前位置：首页 &gt; 互动交流</div>
    <div class="intro"><p>12345政务服务便民热线是市政府设立的统一诉求受理平台，7×24小时受理咨询、求助、投诉、举报和建议。</p></div>
    <ul><li><a href="/hdjl/xx/">市长信箱</a></li><li><a href="/hdjl/zj/">意见征集</a></li></ul></body></html>"""
    assert _findings(tmp_path, ruleset, html, "https://www.jiahe.gov.cn/hdjl/index.html", "hotline_12345")


def test_an_attachment_about_the_hotline_is_no_entry(ruleset):
    from extractors.engine import Context, parse_text, run_rules

    text = ("嘉禾市12345政务服务便民热线工单办理规范\n第一条 为规范12345政务服务便民热线工单办理，制定本规范。\n"
            "第二条 热线号码为12345，提供7×24小时人工服务。")
    page = parse_text(text, "https://www.jiahe.gov.cn/zwgk/fgwj/202305/P020230512331.pdf")
    assert any(f.leaf_id == "hotline_12345" for f in run_rules(page, ruleset, Context()))  # a plain text: judged
    page = parse_text(text, "https://www.jiahe.gov.cn/zwgk/fgwj/202305/P020230512331.pdf")
    page.info = {"kind": "attachment", "status": 200, "depth": 3}
    assert not any(f.leaf_id == "hotline_12345" for f in run_rules(page, ruleset, Context()))


def test_a_hotline_image_outside_links_is_an_entry_but_not_a_photo_or_a_thumbnail(tmp_path, ruleset):
    float_div = ('<div class="float-rx" id="rx12345" style="position:fixed;right:8px;top:45%">'
                 '<img src="/res/rx.png" alt="12345政务服务便民热线"><i class="close">×</i></div>'
                 '<script>document.getElementById("rx12345").addEventListener("click", function () {'
                 'window.open(window.rxUrl); });</script>')
    home = f'<html><head><meta charset="utf-8"><title>嘉禾市人民政府</title></head><body>{float_div}</body></html>'
    found = _findings(tmp_path, ruleset, home, "https://www.jiahe.gov.cn/", "hotline_12345")
    assert [f["rule_id"] for f in found] == ["hotline_12345.image_label"]
    photo = NEWS_HTML5.replace("{footer}", "").replace(
        "<p>截至目前", '<p><img src="/u/202308/p1.jpg" alt="12345热线话务员正在接听市民来电"></p><p>截至目前')
    assert _findings(tmp_path, ruleset, photo, "https://www.jiahe.gov.cn/xwzx/gzdt/202308/t20230821_99120.html",
                     "hotline_12345", "photo.html") == []
    thumbs = ('<html><head><meta charset="utf-8"><title>图片新闻</title></head><body><ul class="pic-list">'
              '<li><a href="/xwzx/tpxw/202309/t20230911_5521.html"><img src="/u/t1.jpg" alt="12345热线"></a>'
              '<span>2023-09-11</span></li></ul></body></html>')
    assert _findings(tmp_path, ruleset, thumbs, "https://www.jiahe.gov.cn/xwzx/tpxw/index.html", "hotline_12345",
                     "thumbs.html") == []


def test_an_elderly_mode_mentioned_in_an_article_is_no_switch(tmp_path, ruleset):
    html = """<html><head><meta charset="utf-8"><title>市政府门户网站完成适老化改造</title></head><body>
    <div class="hd"><a href="/">首页</a></div><h1>市政府门户网站完成适老化改造</h1><p class="src">来源：市大数据局</p>
    <div class="con"><p>近日，市政府门户网站完成适老化和无障碍改造，页面字号、对比度和操作方式均作了优化。</p>
    <p>老年朋友点击首页右上角“<span>关怀版</span>”按钮，即可切换为大字模式。</p></div></body></html>"""
    url = "https://www.jiahe.gov.cn/xwzx/gzdt/202309/t20230905_99801.html"
    assert _findings(tmp_path, ruleset, html, url, "accessibility_mode") == []
    switch = html.replace('<div class="hd">', '<div class="hd"><a href="javascript:;" class="ghb">关怀版</a>')
    assert _findings(tmp_path, ruleset, switch, url, "accessibility_mode", "switch.html")


# --- 2. links only in event handlers ---------------------------------------------------------------------

HANDLER_HOME = """<html><head><meta charset="utf-8"><title>湘中市人民政府</title></head><body>
<ul class="quick">
<li onclick="window.location.href='https://zwfw.hunan.gov.cn/'">湖南省政务服务网</li>
<li><img src="/img/sjkf.png" alt="湘中市数据开放平台" onclick="javascript:window.open('https://data.xiangzhong.gov.cn/','_blank')"></li>
<li><a href="javascript:void(0)" onclick="top.location='https://www.xz12345.gov.cn/'">市民热线</a></li>
<li><a href="javascript:goUrl('https://ykb.xiangzhong.gov.cn/portal/')">办事大厅</a></li>
<li><div class="card" data-href="https://opendata.xiangzhong.gov.cn/" onclick="openCard(this)">开放数据</div></li>
<li><button type="button" onclick="location.assign('//banshi.xiangzhong.gov.cn/')">我要办事</button></li>
</ul>
<div class="tools"><a href="javascript:;" onclick="aria.start()">无障碍</a>
<span onclick="changeTab(2)">政务服务</span><a href="#" onclick="return false;">一网通办</a></div>
</body></html>"""


def test_handler_links_count_for_every_link_rule(tmp_path, ruleset):
    url = "https://www.xiangzhong.gov.cn/"
    hrefs = lambda leaf: {f["values"]["href"] for f in _findings(tmp_path, ruleset, HANDLER_HOME, url, leaf)}  # noqa: E731
    assert hrefs("service_portal_link") == {"https://zwfw.hunan.gov.cn/", "https://ykb.xiangzhong.gov.cn/portal/",
                                            "https://banshi.xiangzhong.gov.cn/"}
    assert hrefs("open_data_link") == {"https://data.xiangzhong.gov.cn/", "https://opendata.xiangzhong.gov.cn/"}
    assert hrefs("hotline_12345") == {"https://www.xz12345.gov.cn/"}


def test_handlers_without_a_target_make_no_link_and_the_crawler_reads_the_same_targets():
    page = parse_html(HANDLER_HOME, "https://www.xiangzhong.gov.cn/")
    labels = {lk.label for lk in page.links}
    assert not labels & {"无障碍", "政务服务", "一网通办"}  # aria.start(), changeTab(2), return false
    root = lxml.html.document_fromstring(HANDLER_HOME)
    crawler = {u if u.startswith("http") else "https:" + u for u in onclick_links(root)}
    assert crawler == {lk.href for lk in page.links}


# --- 3. menus written by scripts in more forms -------------------------------------------------------------

# a page with a dozen static same-site links: only a strong signal (links named that the page lacks) renders it
STATIC = '<div class="news">' + "".join(f'<a href="/xwzx/202309/t202309{d:02d}_{d}.html">新闻{d}</a>' for d in range(1, 13)) + "</div>"
CONCAT = ("""<ul class="menu"><script type="text/javascript">var _sitePath="/";
document.write("<li class='nav-item'><a href='"+_sitePath+"xxgk/'>信息公开</a></li>");
document.write("<li class='nav-item'><a href='"+_sitePath+"bsfw/' target='_blank'>办事服务</a></li>");</script></ul>""")
MAP_JOIN = ("""<nav id="mainNav"></nav><script>const links=[{title:'网上办事',link:'/bsfw/'},{title:'数据开放',"""
            """link:'https://data.xiangzhong.gov.cn/'}];
document.querySelector('#mainNav').innerHTML = links.map(function(o){return "<a href='"+o.link+"'>"+o.title+"</a>";})"""
            """.join("");</script>""")
JSON_TEMPLATE = ("""<div id="menu"></div>
<script type="application/json" id="menu-data">{"items":[{"href":"/zwgk/","text":"政务公开"},
{"href":"https://zwfw.hunan.gov.cn/","text":"湖南省政务服务网"}]}</script>
<script type="text/x-template" id="tpl-menu"><a class="m" href="{href}">{text}</a></script>
<script>var d=JSON.parse(document.getElementById('menu-data').textContent),t=document.getElementById('tpl-menu').textContent;
document.getElementById('menu').innerHTML=d.items.map(function(i){return t.replace('{href}',i.href).replace('{text}',i.text);}).join('');
</script>""")


def _reason(body: str) -> str | None:
    root = lxml.html.document_fromstring(f"<html><body>{STATIC}{body}</body></html>")
    return script_built_reason(root, len(root.xpath("//a[@href]")), url="https://www.xiangzhong.gov.cn/")


@pytest.mark.parametrize("script", [CONCAT, MAP_JOIN, JSON_TEMPLATE], ids=["write_concat", "map_join", "json_template"])
def test_script_menus_in_more_forms_are_detected(script):
    why = _reason(script)
    assert why and "not in the static page" in why


def test_scripts_that_build_no_new_links_are_not_rendered():
    # the same menu already in the static page, a data block no script reads, a badge writer
    already = '<a href="/zwgk/">政务公开</a><a href="/bsfw/">网上办事</a>'
    assert _reason(already + JSON_TEMPLATE.replace("/zwgk/", "/bsfw/")) is None
    ld = ('<script type="application/ld+json" id="org">{"@type":"GovernmentOrganization","url":"/about/"}</script>'
          '<script>document.getElementById("clock").innerHTML = new Date().toLocaleDateString();</script>')
    assert _reason(ld) is None
    badge = ("<script>document.write(unescape(\"%3Cspan id='_ideConac'%3E%3C/span%3E%3Cscript "
             "src='https://dcs.conac.cn/js/33/000/0000/40671888/CA330000000406718880001.js'%3E%3C/script%3E\"));</script>")
    assert _reason(badge) is None


class _Pages(BaseHTTPRequestHandler):
    pages: dict[str, bytes] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = self.pages.get(self.path)
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(body or b"not found")

    def log_message(self, *args) -> None:
        pass


def test_script_menus_rendered_by_chromium_give_the_rules_their_links(ruleset):
    from crawlers.browser import BrowserPool

    page = (f"<html><head><meta charset='utf-8'><title>湘中市人民政府</title></head><body>{STATIC}{MAP_JOIN}"
            f"{JSON_TEMPLATE}</body></html>")
    _Pages.pages = {"/": page.encode("utf-8")}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    pool = BrowserPool(timeout=20.0, idle_ms=500, settle_ms=300)

    async def render():
        try:
            return await pool.render(url)
        finally:
            await pool.close()

    try:
        rendered = asyncio.run(render())
    finally:
        server.shutdown()
    from extractors.engine import Context, run_rules

    static = {f.leaf_id for f in run_rules(parse_html(page, "https://www.xiangzhong.gov.cn/"), ruleset, Context())}
    dom = parse_html(rendered.dom, "https://www.xiangzhong.gov.cn/")
    leaves = {f.leaf_id for f in run_rules(dom, ruleset, Context())}
    assert not static & {"service_portal_link", "open_data_link"}
    assert {"service_portal_link", "open_data_link"} <= leaves
    assert {"/bsfw/", "/zwgk/"} <= {lk.href.removeprefix("https://www.xiangzhong.gov.cn") for lk in dom.links}


# --- 4. GBK pages with a few bad bytes --------------------------------------------------------------------

TITLES = ["关于印发嘉禾市数字政府建设三年行动方案的通知", "嘉禾市人民政府办公室关于做好二〇二三年防汛工作的通知",
          "市政务服务中心召开12345热线工作推进会", "关于公布第二批省级非物质文化遗产代表性项目名录的公告"]


def _cut(title: str, n: int) -> bytes:
    """A headline cut to ``n`` GBK bytes, as a byte-counting list tag writes it (maybe mid-character)."""
    return title.encode("gbk")[:n] + b"..."


def _gbk_list(meta: str = '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">') -> bytes:
    items = b"".join(b'<li><a href="/art/%d.html">' % i + _cut(t, 21) + b"</a><span>2023-09-0%d</span></li>" % i
                     for i, t in enumerate(TITLES, 1))
    head = f"<html><head>{meta}<title>".encode() + "政策文件_嘉禾市人民政府".encode("gbk")[:17] + b"</title></head>"
    foot = "<div class='foot'>政务服务便民热线：12345　主办：嘉禾市人民政府办公室</div>".encode("gbk")
    return head + b"<body><ul>" + items + b"</ul>" + foot + b"</body></html>"


@pytest.mark.parametrize("ctype,meta", [
    (None, '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'),
    ("text/html; charset=GBK", ""),
    ("text/html; charset=UTF-8", '<meta charset="gbk">'),
    (None, ""),
], ids=["meta_gb2312", "header_gbk", "wrong_header_right_meta", "undeclared"])
def test_gbk_page_with_cut_titles_keeps_gbk_with_replacement_characters(ctype, meta):
    body = _gbk_list(meta)
    with pytest.raises(UnicodeDecodeError):
        body.decode("gb18030")  # the page really has bad bytes
    text, enc = decode_html(body, ctype)
    assert enc == "gb18030"
    assert "\ufffd" in text and "政务服务便民热线：12345" in text and "关于印发嘉禾市数" in text


def test_utf8_page_with_a_cut_character_keeps_utf8():
    body = (b"<html><head><meta charset='utf-8'><title>" + "嘉禾市人民政府门户网站".encode()[:20]
            + "</title></head><body><p>政务公开　政务服务　互动交流　走进嘉禾</p></body></html>".encode())
    assert html_encoding(body) == "utf-8"
    assert "走进嘉禾" in decode_html(body)[0]


def test_a_gbk_body_is_never_taken_for_utf8_with_a_few_errors():
    short = "<p>网站地图</p>".encode("gbk")
    assert not tolerable(short, "utf-8")
    assert html_encoding(short, "text/html; charset=utf-8") == "gb18030"
    body = _gbk_list("")
    assert not tolerable(body, "utf-8") and tolerable(body, "gb18030")


def test_a_server_default_latin1_header_over_gbk_is_not_taken():
    body = _gbk_list("")  # no meta: only the (wrong) header speaks
    text, enc = decode_html(body, "text/html; charset=ISO-8859-1")
    assert enc == "gb18030" and "政务服务便民热线" in text
    strict = "<html><body><p>关于做好二〇二三年防汛工作的通知</p></body></html>".encode("gbk")
    assert decode_html(strict, "text/html; charset=iso-8859-1")[1] == "gb18030"
    latin = "<html><body><p>Café crème brûlée, naïve façade</p></body></html>".encode("latin-1")
    assert decode_html(latin, "text/html; charset=ISO-8859-1") == (latin.decode("cp1252"), "cp1252")


def test_the_rules_read_a_cut_gbk_page_as_chinese(tmp_path, ruleset):
    p = tmp_path / "list.html"
    p.write_bytes(_gbk_list())
    found = [f for f in inspect_inputs([str(p)], ruleset) if f["kind"] == "finding"]
    assert any(f["indicator_id"] == "hotline_12345" and "政务服务便民热线：12345" in f["values"]["context"] for f in found)
