"""The platform leaves (issue 11) through the real extraction path: pages and JSON API responses
archived in a WARC, `extract`, `score`. Wording and markup differ from the rules' own examples:
other labels for the same counter (a stat tile 开放数据集 under its number, 数据接口 | 87), a
dataset list only in a JSON response (data.datas, totalCount, fileFormats, lastUpdateTime), guides
in a padded-label table, a definition list and "label：value" paragraphs; and traps: a counter that
says 0, a platform "coming soon", PDF-only datasets, a placeholder licence, another city's branch.
"""

from __future__ import annotations

import json

import pytest

from evidence.store import Store
from evidence.warc import WarcArchive
from extractors.run import extract
from scoring.run import score
from tests.test_extract import _add_page, _registry_subset

HZ_ZWFW = "https://www.zjzwfw.gov.cn/zjservice/hz"
HZ_DATA = "https://data.hangzhou.gov.cn"
ZJ_DATA = "https://data.zjzwfw.gov.cn"
CAMPAIGN = "plat2023"


def _page(title: str, body: str) -> bytes:
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head>'
            f"<body>{body}</body></html>").encode()


# --- 杭州: every platform leaf present, in wording of its own ---------------------------------
GUIDE_TABLE = _page("居住证签注_杭州市_浙江政务服务网", """
<div class="top"><a href="https://tyrz.zjzwfw.gov.cn/login?goto=guide">登录</a></div>
<table class="bs-table">
<tr><th>事 项 名 称</th><td>居住证签注</td></tr>
<tr><th>实 施 依 据</th><td>《居住证暂行条例》第十三条</td></tr>
<tr><th>申 报 材 料</th><td>居住证原件</td></tr>
<tr><th>法 定 时 限</th><td>即办</td></tr>
<tr><th>收　　费</th><td>不收费</td></tr>
<tr><th>受 理 地 点</th><td>各派出所户籍窗口</td></tr>
<tr><th>咨 询 方 式</th><td>0571-87280110</td></tr>
<tr><th>到办事现场次数</th><td>0 次</td></tr></table>""")
GUIDE_DL = _page("二手房转移登记_杭州市_浙江政务服务网", """
<dl class="zn"><dt>服务事项名称</dt><dd>二手房转移登记</dd>
<dt>法律依据</dt><dd>《不动产登记暂行条例》</dd>
<dt>所需材料</dt><dd>不动产权证书；身份证明</dd>
<dt>承诺办结时限</dt><dd>1个工作日</dd>
<dt>办理地址</dt><dd>市民中心C座</dd>
<dt>联系电话</dt><dd>0571-85251234</dd>
<dt>办理形式</dt><dd>全程网办</dd></dl>""")
GUIDE_LINES = _page("船舶登记_杭州市_浙江政务服务网", """
<div class="guide"><p>1.事项名称：内河船舶登记</p><p>2.设定依据：《船舶登记条例》</p>
<p>3.申请材料：船舶所有权证明</p><p>4.承诺期限：5个工作日</p><p>5.收费标准：—</p>
<p>6.办理窗口：港航服务中心</p><p>7.是否全程网办：否</p><p>8.到现场次数：1次</p></div>""")
NEWS_ABOUT_GUIDES = _page("我市规范办事指南要素_政务要闻_杭州市人民政府门户网站", """
<h1>我市规范办事指南要素</h1><div class="info">发布时间：2023-06-01　来源：市数据资源局</div>
<div class="article"><p>办事指南须列明事项名称、设定依据、申请材料、办理时限、收费标准、办理地点、咨询电话。</p>
<p>今年以来，全市新增全程网办事项300项，开放数据集累计达到2,000个。</p></div>""")
HZ_PAGES = [
    (HZ_ZWFW + "/index.html", _page("浙江政务服务网·杭州", """
<div class="nav"><span>个人办事</span><span>法人办事</span><a href="https://tyrz.zjzwfw.gov.cn/login">统一身份认证</a></div>
<div class="hot">高频事项</div>""")),
    ("https://tyrz.zjzwfw.gov.cn/login", _page("浙江政务服务网 用户登录", """
<div class="tabs"><span>自然人登录</span><span>法人登录</span></div><input name="u"><input type="password">""")),
    (HZ_ZWFW + "/guide/1.html", GUIDE_TABLE),
    (HZ_ZWFW + "/guide/2.html", GUIDE_DL),
    (HZ_ZWFW + "/guide/3.html", GUIDE_LINES),
    ("https://www.hangzhou.gov.cn/art/2023/6/1/art_1_1.html", NEWS_ABOUT_GUIDES),
    ("https://12345.hangzhou.gov.cn/wyfy.html", _page("网上反映_杭州市12345市长公开电话", """
<div class="hd">杭州12345 市民热线</div><div class="tab">我要求助 | 我要投诉</div>
<div class="fm"><span>标题</span><input><span>反映内容</span><textarea rows="6"></textarea><button>确认提交</button></div>""")),
    (HZ_DATA + "/", _page("杭州市数据开放平台", """
<div class="menu"><a href="/dataset">数据资源</a><a href="/app">成果展示</a><a href="/demand">我要申请数据</a></div>
<ul class="tiles"><li><em>1,856</em><span>开放数据集</span></li><li><span>数据接口</span> | <em>87</em></li></ul>
<div id="list"></div><script src="/static/catalog.js"></script>""")),
    (HZ_DATA + "/dataset/a.html", _page("公交站点_杭州市数据开放平台", """
<div class="meta"><div><label>数据来源单位</label><span>市交通运输局</span></div>
<div><label>所属主题</label><span>交通出行</span></div><div><label>最近更新</label><span>2023-09-28</span></div>
<div><label>资源格式</label><span>xlsx / csv</span></div></div>""")),
    (HZ_DATA + "/dataset/b.html", _page("历年统计公报_杭州市数据开放平台", """
<div class="meta"><div><label>数据来源单位</label><span>市统计局</span></div>
<div><label>所属主题</label><span>经济</span></div><div><label>最近更新</label><span>2021-02-01</span></div>
<div><label>资源格式</label><span>pdf</span></div></div><a href="/files/gb.pdf">统计公报.pdf</a>""")),
    (HZ_DATA + "/license.html", _page("数据开放许可协议_杭州市数据开放平台", """
<h3>数据开放许可协议</h3><p>第一条 本平台开放的数据，用户可免费获取，并可用于研究、开发利用等用途。</p>
<p>第二条 用户发布基于开放数据的成果时，应当注明数据来源。</p>""")),
    (HZ_DATA + "/app/", _page("成果展示-杭州市数据开放平台", """
<div class="app"><h4>停车导航</h4><p>开发者：某科技公司</p><p>所用数据：停车场泊位</p></div>""")),
    ("https://data.ningbo.gov.cn/", _page("宁波市公共数据开放平台", """
<div class="stat">数据集 9,999 个 数据接口 500 个</div><div>数据目录</div>""")),
]
HZ_JSON = [
    (HZ_DATA + "/api/catalog/page?pageNo=1", {"code": "0000", "data": {"pageNo": 1, "totalCount": 1856, "datas": [
        {"catalogName": "公交站点", "fileFormats": "XLS,CSV", "lastUpdateTime": "2023-09-20 08:00:00"},
        {"catalogName": "空气质量", "fileFormats": ["json"], "lastUpdateTime": 1693526400000},
        {"catalogName": "统计公报", "fileFormats": "pdf", "lastUpdateTime": "2020-12-31"}]}}),
]

# --- 浙江省: a platform with PDF/DOC-only, stale datasets; 杭州's branch stored under the province ---
ZJ_PAGES = [
    ("https://www.zjzwfw.gov.cn/zjservice/hz/index.html?p=zj", _page("杭州市_浙江政务服务网", """
<div class="nav"><span>个人办事</span><span>法人办事</span></div><div>办事指南</div>""")),
    (ZJ_DATA + "/", _page("浙江省公共数据开放平台", """
<div class="menu"><a href="/catalog">数据目录</a> | <a href="/license">开放许可</a></div><ul class="tiles"><li><em>0</em><span>开放数据集</span></li><li>接口 0</li></ul>""")),
    (ZJ_DATA + "/dataset/1.html", _page("政府工作报告_浙江省公共数据开放平台", """
<table><tr><td>提供单位</td><td>省政府办公厅</td></tr><tr><td>更新日期</td><td>2021-10-01</td></tr>
<tr><td>文件格式</td><td>PDF</td></tr><tr><td>开放属性</td><td>无条件开放</td></tr></table>""")),
    (ZJ_DATA + "/dataset/2.html", _page("统计年鉴_浙江省公共数据开放平台", """
<table><tr><td>提供单位</td><td>省统计局</td></tr><tr><td>更新日期</td><td>2022-09-01</td></tr>
<tr><td>文件格式</td><td>DOC、JPG</td></tr><tr><td>开放属性</td><td>无条件开放</td></tr></table>""")),
    ("https://www.zj.gov.cn/col/col12345/index.html", _page("12345热线_浙江省人民政府", """
<div>政务服务便民热线：12345（7×24小时）</div><div>市长信箱</div><form><label>来信内容</label><textarea></textarea></form>""")),
]
ZJ_JSON = [
    (ZJ_DATA + "/api/item/list", {"data": {"records": [{"itemName": "护照签发"}], "total": 4200}}),
]

# --- 宁波: platforms "coming soon", a placeholder licence ------------------------------------
NB_DATA = "https://data.ningbo.gov.cn"
NB_PAGES = [
    ("https://zwfw.ningbo.gov.cn/", _page("宁波市政务服务网", """
<div class="notice">系统维护中，暂停服务</div><div>个人服务 法人服务</div>""")),
    (NB_DATA + "/index.html", _page("宁波市公共数据开放平台", """
<div class="notice">新版平台建设中，即将上线，敬请期待</div><div>数据目录</div><div class="stat">数据集 -- 个</div>""")),
    (NB_DATA + "/protocol.html", _page("授权协议_宁波市公共数据开放平台", """
<h3>授权协议</h3><p>暂无内容</p><div class="ft">数据资源开放相关事宜请来电，署名单位：市大数据局</div>""")),
    (NB_DATA + "/app.html", _page("应用展示_宁波市公共数据开放平台", """
<div class="empty">暂无应用</div><p>开发者可在此提交作品</p>""")),
]

WALL_BODY = """<div class="tab"><span>个人用户</span><span>法人用户</span></div><input name="u"><input type="password">
<p>政务服务便民热线 12345</p><div>数据集 3,000 个</div>"""
WALLS = [("330100", HZ_ZWFW + "/user/login", "https://tyrz.zjzwfw.gov.cn/cas/login?service=https%3A%2F%2Fwww.zjzwfw.gov.cn",
          "浙江政务服务网统一身份认证"),
         ("330000", "https://www.zj.gov.cn/admin/login.jsp", "https://www.zj.gov.cn/admin/login.jsp", "后台管理系统")]

NEW = ("service_portal_available", "unified_login", "guide_completeness", "online_transaction_depth",
       "hotline_web_form", "open_data_available", "dataset_count", "api_count", "machine_readable_share",
       "data_freshness", "open_data_licence", "data_requests_feedback", "data_reuse_showcase")


@pytest.fixture(scope="module")
def world(tmp_path_factory, request) -> dict:
    from extractors.rules import load_rules
    from tests.conftest import ROOT

    rs = load_rules(ROOT / "rules")
    path = tmp_path_factory.mktemp("plat") / "w.db"
    with Store(path) as store:
        store.open_campaign(CAMPAIGN, _registry_subset("330100", "330000", "330200"), as_of="2023-10-31")
        store.conn.execute("update sites set status = 'done' where campaign = ?", [CAMPAIGN])
        store.conn.commit()
        portals = dict(store.conn.execute("select site_id, portal_url from sites where campaign = ?", [CAMPAIGN]))
        archive = WarcArchive(store.campaign_dir(CAMPAIGN) / "warc", CAMPAIGN)
        for sid, pages, apis in (("330100", HZ_PAGES, HZ_JSON), ("330000", ZJ_PAGES, ZJ_JSON),
                                 ("330200", NB_PAGES, [])):
            home = portals.get(sid) or f"https://www.{sid}.gov.cn/"
            _add_page(store, archive, CAMPAIGN, sid, home, _page("首页", "<p>门户</p>"), encoding="utf-8")
            for url, body in pages:
                _add_page(store, archive, CAMPAIGN, sid, url, body, "text/html; charset=utf-8", "utf-8")
            for url, data in apis:
                _add_page(store, archive, CAMPAIGN, sid, url, json.dumps(data, ensure_ascii=False).encode(),
                          "application/json;charset=UTF-8", "utf-8")
        # a service's 登录 that redirects to the unified authentication, which the crawl took for a login wall
        for sid, url, final, title in WALLS:
            _add_page(store, archive, CAMPAIGN, sid, url, _page(title, WALL_BODY), "text/html; charset=utf-8", "utf-8")
            store.conn.execute("update pages set final_url = ?, block = ? where campaign = ? and url = ?",
                               [final, f"login wall: login page ({title}: password field)", CAMPAIGN, url])
        store.conn.commit()
        archive.close()
        summary = extract(store, CAMPAIGN, rs, full=True)
        run = score(store, CAMPAIGN, rs)
        every = store.evidence(CAMPAIGN)
        rows = [r for r in every if r["leaf_id"] in NEW]
        targets = {t["target_id"]: t["site_id"] for t in store.db.query(
            "select target_id, site_id from targets where campaign = ?", [CAMPAIGN])}
        points = {(targets[s["target_id"]], s["node_id"]): s["points"] for s in store.scores(run)
                  if s["node_id"] in NEW}
    return {"rows": rows, "every": every, "points": points, "summary": summary, "rs": rs}


def _rows(world: dict, site: str, leaf: str) -> list[dict]:
    return [r for r in world["rows"] if r["site_id"] == site and r["leaf_id"] == leaf]


def test_every_platform_leaf_scores_its_grade_for_hangzhou(world) -> None:
    got = {leaf: world["points"][("330100", leaf)] for leaf in NEW}
    assert got == {
        "service_portal_available": 1, "unified_login": 1,
        "guide_completeness": 1,  # 7 + 7 + 5 of 8 elements (收费标准 "—" is a placeholder): 19/24 = 0.79
        "online_transaction_depth": 1,  # 2 of 3 guides fully online (0 次, 全程网办; not 是否全程网办：否)
        "hotline_web_form": 1, "open_data_available": 1,
        "dataset_count": 2,  # 1,856 from the tile and from the JSON list's totalCount
        "api_count": 0.5,  # 数据接口 | 87
        "machine_readable_share": 1,  # JSON: 2 of 3 items open formats; pages: 1 of 2
        "data_freshness": 1,  # JSON: 2 of 3 updated in the six months before 2023-10-31
        "open_data_licence": 1, "data_requests_feedback": 1, "data_reuse_showcase": 1}


def test_graded_findings_carry_their_numbers(world) -> None:
    guides = _rows(world, "330100", "guide_completeness")
    v = json.loads(guides[0]["values"])
    assert v["total"] == 24 and v["matched"] == 19 and v["pages"] == 3 and v["tier"]["points"] == 1
    # the padded 收　　费 counts, the placeholder "—" does not; no guide lacks its name
    assert v["each"]["收费标准"] == pytest.approx(1 / 3, abs=1e-3) and v["each"]["事项名称"] == 1
    assert v["each"]["在线办理"] == pytest.approx(1 / 3, abs=1e-3)  # only 办理形式 in the <dl> guide
    assert {r["url"] for r in guides} == {HZ_ZWFW + f"/guide/{i}.html" for i in (1, 2, 3)}
    # the number as printed ("1,856") and as graded (tier.value)
    counts = {(r["rule_id"], json.loads(r["values"])["tier"]["value"]) for r in _rows(world, "330100", "dataset_count")}
    assert ("dataset_count.counter_number_first", 1856) in counts and ("dataset_count.list_total", 1856) in counts
    mr = {r["rule_id"]: json.loads(r["values"]) for r in _rows(world, "330100", "machine_readable_share")}
    assert mr["machine_readable_share.list_api"]["matched"] == 2 and mr["machine_readable_share.list_api"]["total"] == 3
    assert mr["machine_readable_share.dataset_pages"]["share"] == 0.5


def test_the_news_article_and_the_other_citys_branch_give_no_platform_evidence(world) -> None:
    urls = {r["url"] for r in world["rows"] if r["site_id"] == "330100"}
    assert "https://www.hangzhou.gov.cn/art/2023/6/1/art_1_1.html" not in urls
    assert "https://data.ningbo.gov.cn/" not in urls


def test_the_traps_score_nothing(world) -> None:
    """The province: counters of 0, PDF/DOC-only and stale datasets, a 12345 page with only the number
    (and a mailbox form), a service-item list API, and 杭州's branch of the provincial service portal;
    its platform itself is up (its dataset pages answer). 宁波: platforms in maintenance or coming
    soon, an empty showcase, a placeholder licence."""
    got = {leaf: world["points"][("330000", leaf)] for leaf in NEW}
    assert got == {**dict.fromkeys(NEW, 0), "open_data_available": 1}, got
    nb = {leaf: world["points"][("330200", leaf)] for leaf in NEW}
    assert nb == dict.fromkeys(NEW, 0), nb
    worth = [(r["rule_id"], r["url"]) for r in world["rows"] if r["site_id"] != "330100" and r["points"] > 0]
    assert {leaf for leaf, _ in worth} <= {"open_data_available.platform_page"}, worth
    counters = _rows(world, "330000", "dataset_count")
    assert counters and all(r["points"] == 0 for r in counters)  # the 0 is recorded, worth nothing
    mr = {r["rule_id"]: json.loads(r["values"]) for r in _rows(world, "330000", "machine_readable_share")}
    assert mr["machine_readable_share.dataset_pages"]["share"] == 0 and mr["machine_readable_share.dataset_pages"]["total"] == 2


def test_json_responses_are_read_only_by_json_rules(world) -> None:
    api = HZ_DATA + "/api/catalog/page?pageNo=1"
    leaves = {r["leaf_id"] for r in world["every"] if r["url"] == api}
    assert leaves <= {"dataset_count", "machine_readable_share", "data_freshness", "open_data_available"}
    assert {"dataset_count", "machine_readable_share", "data_freshness"} <= leaves


def test_an_empty_guide_field_is_not_valued_by_the_next_one(world) -> None:
    """实施依据： with nothing after it, then 受理条件： (a field the rule does not ask for): 设定依据 is
    absent; a place ending in 窗口 is a value, not a label."""
    from extractors.engine import Context, parse_html, run_rule

    rule = world["rs"].rule("guide_completeness.guides")
    page = parse_html(_page("指南", """<div class="zn"><p>事项名称： 医师执业注册</p><p>实施依据：</p>
<p>受理条件： 符合法定条件的申请人</p><p>申报材料清单： 1.申请表</p><p>承诺时限： 20个工作日</p>
<p>办理地点：</p><p>区政务服务中心6号窗口</p></div>""").decode(), HZ_ZWFW + "/guide/9.html")
    (f,) = run_rule(rule, page, Context())
    assert f.values["item"] == {"total": 8, "matched": 4}
    assert f.values["each"]["设定依据"] == 0 and f.values["each"]["办理地点"] == 1


def test_a_login_wall_is_read_only_for_the_unified_login(world) -> None:
    """The crawl's login-wall pages: the unified-authentication one is the evidence of unified_login
    (auth_redirect); the hotline number and the counter on them are read by no rule; a back-office
    login is no unified login."""
    on_wall = [r for r in world["every"] if r["url"].startswith("https://tyrz.zjzwfw.gov.cn/cas/")]
    assert {r["rule_id"] for r in on_wall} == {"unified_login.auth_redirect"}  # not the hotline, not the counter
    assert not [r for r in world["every"] if "/admin/login.jsp" in r["url"]]



def test_bad_tiers_and_json_paths_are_reported_with_their_line(tmp_path) -> None:
    """Tiers out of order, above the rule's points, and an unreadable JSON path: one file:line each."""
    import shutil

    from extractors.rules import RuleError, load_rules
    from tests.conftest import ROOT

    dst = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", dst)
    leaf = dst / "leaves" / "dataset_count.yaml"
    text = leaf.read_text(encoding="utf-8")
    text = text.replace("        - {min: 100, points: 1}\n", "        - {min: 0.5, points: 1}\n", 1)  # out of order
    text = text.replace("        - {min: 1000, points: 2}\n", "        - {min: 1000, points: 3}\n", 2)  # > rule points
    text = text.replace("path: '**.datasetCount|", "path: 'data[x.datasetCount|", 1)
    leaf.write_text(text, encoding="utf-8")
    with pytest.raises(RuleError) as exc:
        load_rules(dst)
    lines = str(exc.value).splitlines()
    assert any("increasing order of min" in ln for ln in lines), lines
    assert any("exceed the rule's points" in ln for ln in lines), lines
    assert any("cannot read the JSON path" in ln for ln in lines), lines
    assert all(ln.startswith(f"{leaf}:") and ln.split(":")[1].isdigit() for ln in lines), lines


# --- recognising a guide however sparse, and never a list of guides -----------------------------
SPARSE_DL = _page("临时占用城市道路审批_事项详情_广东政务服务网", """
<div class="crumb">首页 &gt; 办事指南 &gt; 事项详情</div><h2>临时占用城市道路审批</h2>
<dl class="sx-base"><dt>事项名称</dt><dd>临时占用城市道路审批</dd><dt>事项类型</dt><dd>行政许可</dd>
<dt>实施主体</dt><dd>市城市管理和综合执法局</dd><dt>办件类型</dt><dd>承诺件</dd>
<dt>网办深度</dt><dd>四级</dd></dl><a class="btn" href="/apply?id=9">我要办理</a>""")
SPARSE_EMPTY = _page("公共场所卫生许可（延续）办事指南", """
<div class="crumb">首页 &gt; 办事指南</div><h1>公共场所卫生许可（延续）办事指南</h1>
<table class="zn"><tr><td class="t">事项名称</td><td>公共场所卫生许可（延续）</td></tr>
<tr><td class="t">设定依据</td><td></td></tr><tr><td class="t">申请材料</td><td>暂无</td></tr>
<tr><td class="t">承诺时限</td><td>20个工作日</td></tr><tr><td class="t">收费标准</td><td></td></tr>
<tr><td class="t">办理地点</td><td></td></tr><tr><td class="t">咨询电话</td><td></td></tr>
<tr><td class="t">是否全程网办</td><td>否</td></tr></table>""")
SIX_COLUMNS = _page("最低生活保障确认_服务指南", """
<table class="base"><tr><th>事项名称</th><td>最低生活保障对象确认</td><th>事项类型</th><td>行政确认</td></tr>
<tr><th>设定依据</th><td></td><th>实施主体</th><td>区民政局</td></tr>
<tr><th>承诺时限</th><td></td><th>收费标准</th><td></td></tr></table>""")
_ROWS = "".join(f"""<tr><td>{i}</td><td><a href="/bszn/{i}.html">{n}</a></td><td>市公安局</td><td>行政确认</td>
<td>{i * 5}个工作日</td><td>不收费</td><td><a href="/bszn/{i}.html">办事指南</a> <a href="/apply/{i}">在线办理</a></td></tr>"""
                for i, n in enumerate(("居民身份证换领", "户口迁入", "居住证签注"), 1))
LIST_TABLE = _page("办事指南_某市政务服务网", f"""
<div class="crumb">首页 &gt; 办事指南</div><h2>办事指南</h2>
<table class="list"><thead><tr><th>序号</th><th>事项名称</th><th>实施主体</th><th>事项类型</th><th>承诺时限</th>
<th>收费标准</th><th>操作</th></tr></thead><tbody>{_ROWS}</tbody></table><div class="page">共3条 第1/1页</div>""")
_CARDS = "".join(f"""<div class="result"><h4><a href="/bszn/1{i}.html">{n}</a></h4><p>实施主体：市公安局</p>
<p>办理时限：7个工作日</p><p>收费标准：不收费</p><p>办理地点：各派出所</p><p>咨询电话：0571-8728{i}110</p></div>"""
                 for i, n in enumerate(("居住证申领", "居住证签注", "居住证补领")))
SEARCH_CARDS = _page("搜索结果_某市政务服务网", f'<div class="hd">搜索“居住证”共找到 3 条办事指南</div>{_CARDS}')


def _guide_findings(world: dict, leaf: str, body: bytes) -> list:
    from extractors.engine import Context, parse_html, run_rule

    return run_rule(world["rs"].rule(f"{leaf}.guides"), parse_html(body.decode(), HZ_ZWFW + "/g.html"), Context())


def test_a_sparse_guide_in_a_definition_list_is_a_guide(world) -> None:
    """One of the eight elements filled (事项名称), the rest not shown at all: still a guide by its
    fields (事项类型, 实施主体, 办件类型, 网办深度), counted with 1 of 8 elements, fully online (四级)."""
    (f,) = _guide_findings(world, "guide_completeness", SPARSE_DL)
    assert f.values["item"] == {"total": 8, "matched": 1} and f.values["each"]["事项名称"] == 1
    (d,) = _guide_findings(world, "online_transaction_depth", SPARSE_DL)
    assert d.values["item"] == {"total": 1, "matched": 1}


def test_a_guide_whose_labels_have_empty_values_is_a_guide(world) -> None:
    """All eight labels shown, six of them empty or 暂无: a guide with 2 of 8 elements, not fully online."""
    (f,) = _guide_findings(world, "guide_completeness", SPARSE_EMPTY)
    assert f.values["item"] == {"total": 8, "matched": 2}
    assert f.values["each"]["办理时限"] == 1 and f.values["each"]["申请材料"] == 0 and f.values["each"]["设定依据"] == 0
    (d,) = _guide_findings(world, "online_transaction_depth", SPARSE_EMPTY)
    assert d.values["item"] == {"total": 1, "matched": 0}
    # two label/value pairs a row, values empty: labels followed by their (empty) cells are no column headers
    (s,) = _guide_findings(world, "guide_completeness", SIX_COLUMNS)
    assert s.values["item"] == {"total": 8, "matched": 1}


def test_a_list_of_guides_is_no_guide(world) -> None:
    """A list table under column headers (事项名称 | 实施主体 | 事项类型 | 承诺时限 | 收费标准, each row a
    guide's link and a 在线办理 button) and search results repeating each item's fields: no guide."""
    for leaf in ("guide_completeness", "online_transaction_depth"):
        assert _guide_findings(world, leaf, LIST_TABLE) == [], leaf
        assert _guide_findings(world, leaf, SEARCH_CARDS) == [], leaf
        assert _guide_findings(world, leaf, NEWS_ABOUT_GUIDES) == [], leaf


def test_a_branch_titled_with_another_citys_short_name_is_not_the_targets():
    """河南公共数据开放平台·洛阳 is 洛阳's branch: not 郑州's, though it names no 某某市; 郑州's own is."""
    from extractors.document import TargetNames
    from extractors.engine import Context, parse_html
    from extractors.matchers_platform import OfTargetMatcher
    m = OfTargetMatcher({}, ("of_target",))
    zz = Context(target=TargetNames("郑州市", "city", ("洛阳市", "河南省", "开封市", "郑州市辖区")))

    def hits(city: str, ctx: Context = zz) -> list:
        p = parse_html(f"<html><head><title>首页-河南公共数据开放平台·{city}</title></head><body></body></html>",
                       "http://ly.data.hnzwfw.gov.cn/")
        return m.evaluate(p, ctx)

    assert hits("洛阳") == [] and hits("开封") == []
    assert hits("郑州") and hits("郑州")[0].values == {"names": "郑州市"}  # the province's name is no rival of a city
    # a branch named by the title's own pattern, whether or not the registry knows that city
    nanyang = Context(target=TargetNames("南阳市", "city", ("河南省",)))
    for title, ours in (("12345-河南政务服务网·周口站", False), ("办事指南-河南政务服务网·南阳站", True),
                        ("河南政务服务网 商丘分站", False), ("南阳市人民政府门户网站", True)):
        p = parse_html(f"<html><head><title>{title}</title></head><body></body></html>", "http://x.gov.cn/")
        assert bool(m.evaluate(p, nanyang)) is ours, title
    province = Context(target=TargetNames("河南省", "province", ("洛阳市", "郑州市")))
    assert hits("洛阳", province) == []  # a city's branch is not the province's platform


def test_a_share_pools_the_targets_own_pages_only():
    """Guides of another city's branch (its title names it) are not the target's items."""
    from extractors.document import TargetNames
    from extractors.engine import Context, parse_html
    from extractors.matchers_platform import ShareMatcher
    share = ShareMatcher({"of": {"text": {"pattern": "办事指南"}}, "where": {"text": {"pattern": "全程网办"}}},
                         ("share",))
    ctx = Context(target=TargetNames("南阳市", "city", ("河南省",)))

    def guide(branch: str, online: bool) -> object:
        return parse_html(f"<html><head><title>办事指南-河南政务服务网·{branch}站</title></head><body><h1>办事指南</h1>"
                          f"<p>{'全程网办' if online else '窗口办理'}</p></body></html>", "http://www.hnzwfw.gov.cn/")

    pages = [guide("南阳", True), guide("南阳", False), guide("周口", True), guide("周口", True)]
    found = share.finish([share.collect(p, ctx) for p in pages], ctx)
    assert found and found[0][1].values["total"] == 2 and found[0][1].values["share"] == 0.5


def test_a_platform_titled_as_another_citys_branch_is_not_the_targets(tmp_path):
    """A portal linking another city's branch of the provincial platform: none of that platform's pages
    (JSON answers without a title included) are read as the target's evidence."""
    from extractors.document import TargetNames
    from extractors.run import foreign_platforms
    with Store(tmp_path / "s.db") as store:
        c = store.conn
        for kind, url, title in (("opendata", "https://quanzhou.data.fujian.gov.cn/", "首页-福建公共数据开放平台·泉州"),
                                 ("service", "https://nd.fjzwfw.gov.cn/", "宁德市_福建省网上办事大厅")):
            c.execute("INSERT INTO site_platforms (campaign, site_id, kind, url, host, prefix, source) "
                      "VALUES ('c', '350900', ?, ?, ?, '/', 'discovered')", [kind, url, url.split("/")[2]])
            c.execute("INSERT INTO pages (campaign, site_id, url, title, platform) VALUES ('c', '350900', ?, ?, ?)",
                      [url, title, kind])
        ningde = TargetNames("宁德市", "city", ("福建省", "泉州市"))
        assert foreign_platforms(c, "c", "350900", ningde) == {"opendata": "首页-福建公共数据开放平台·泉州"}
        assert foreign_platforms(c, "c", "350900", None) == {}
