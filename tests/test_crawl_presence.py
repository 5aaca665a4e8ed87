"""A site is a government's web presence: its portal, service portal and open-data platform.

Real crawls (``windvane crawl`` subprocesses) over real HTTP on 127.0.0.1 through a proxy that
serves a small web of its own (``PresenceWeb``):

- 甲省 (``p1``): portal ``www.p1.gov.cn``; the registry names its service portal, the root of the
  provincial host ``www.ahzw.gov.cn``; its open-data platform ``data.p1.gov.cn`` is named only
  by a link on the portal (数据开放), beside a link to the national platform that must not be
  taken. The service portal renders its item list from a paged JSON API (fetched by an inline
  script), a search list from a POST API (in an external script) and a list API that never ends.
- 甲市 (``c1``): its portal links its branch of the provincial service portal, ``/hefei/``.
- 乙市 (``c2``): the registry names its branch ``www.ahzw.gov.cn/wuhu/``.
- 丙市 (``c3``): its portal links the provincial root itself: the same branch as 甲省's.
- 无此省 (``x0``): the registry gives it the same service portal, but its portal does not answer:
  its claim on the branch goes to the sites that crawl.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

import pytest

from crawlers.detect import api_calls_in_script
from crawlers.scope import branch_prefix, discover_platforms
from evidence.store import Store
from evidence.warc import read_record
from tests.test_crawl import interrupted_crawl, rows, run_crawl
from tests.test_crawl_web import FixtureWeb

REGISTRY = """target_id,group,site_id,name_zh,admin_code,portal_url,zwfw_url,opendata_url
province-0,province,x0,无此省,350000,http://www.nowhere.gov.cn/,http://www.ahzw.gov.cn/,
province-1,province,p1,甲省,340000,http://www.p1.gov.cn/,http://www.ahzw.gov.cn/,
capital-1,capital,c1,甲市,340100,http://www.c1.gov.cn/,,
gdp100-2,gdp100,c2,乙市,340200,http://www.c2.gov.cn/,http://www.ahzw.gov.cn/wuhu/,
gdp100-3,gdp100,c3,丙市,340300,http://www.c3.gov.cn/,,
"""
SVC = "www.ahzw.gov.cn"
DATA = "data.p1.gov.cn"
ITEMS = 12  # the paged item list API: 5 a page, so 3 pages
DATASETS = 100
BUDGET = 50  # --platform-pages
LOGIN = "tyrz.ahzw.gov.cn"  # the province's unified login (统一身份认证): 在线办理 links end there


def _html(title: str, body: str, head: str = "") -> bytes:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>{head}</head>"
            f"<body>{body}</body></html>").encode()


def _links(*pairs: tuple[str, str]) -> str:
    return "".join(f"<li><a href='{u}'>{t}</a></li>" for u, t in pairs)


class PresenceWeb(FixtureWeb):
    """The web described in the module docstring (``requests``: what was asked, POST bodies included)."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(["www.p1.gov.cn", "www.c1.gov.cn", "www.c2.gov.cn", "www.c3.gov.cn", SVC, DATA, LOGIN],
                         delay=delay)

    def respond_to(self, method: str, host: str, path: str, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        html = [("Content-Type", "text/html; charset=utf-8")]
        if path == "/robots.txt":
            return 200, [("Content-Type", "text/plain")], b"User-agent: *\nDisallow: /private/\n"
        if host == "www.p1.gov.cn" and path == "/":
            return 200, html, _html("甲省人民政府", _links(("/zw/1", "政务公开"), ("/zw/2", "政策文件"),
                                                     (f"http://{DATA}/", "数据开放"),
                                                     ("http://gjzwfw.www.gov.cn/", "国家政务服务平台"),
                                                     (f"http://{SVC}/", "安徽政务服务网")))
        if host == "www.c1.gov.cn" and path == "/":
            return 200, html, _html("甲市人民政府", _links(("/zw/1", "政务公开"),
                                                     (f"http://{SVC}/hefei/", "甲市政务服务网")))
        if host in ("www.c2.gov.cn", "www.c3.gov.cn") and path == "/":
            extra = (f"http://{SVC}/", "网上办事大厅") if host == "www.c3.gov.cn" else ("/zw/2", "政策")
            return 200, html, _html("市人民政府", _links(("/zw/1", "政务公开"), extra))
        if host.startswith("www.c") and path.startswith("/zw/"):
            return 200, html, _html(f"{host} {path}", "<p>政务公开</p>")
        if host == "www.p1.gov.cn" and path.startswith("/zw/"):  # /zw/1 .. /zw/12
            n = int(path[4:]) if path[4:].isdigit() else 0
            more = [(f"/zw/{k}", "更多") for k in range(3, 13)] if n == 1 else []
            return 200, html, _html(f"甲省 {path}", f"<p>政务公开 {path}</p>" + _links(*more))
        if host == LOGIN:
            return 200, html, _html("统一身份认证平台", "<form><input name='u' placeholder='用户名'>"
                                    "<input type='password' name='p'><button>登录</button></form>")
        if host == SVC:
            return self._service(method, path, body)
        if host == DATA:
            if path == "/":
                return 200, html, _html("甲省公共数据开放平台", _links(*[(f"/ds/{k}", f"数据集 {k}") for k in range(1, 5)]))
            if path.startswith("/ds/") and path[4:].isdigit() and int(path[4:]) <= DATASETS:
                n = int(path[4:])
                more = [(f"/ds/{(n * k) % DATASETS + 1}", "相关") for k in (3, 7, 11)]
                return 200, html, _html(f"数据集 {n}", f"<p>格式 CSV 更新 2023-05-0{n % 9 + 1}</p>"
                                        + _links((f"/ds/{n + 1}", "下一个"), *more))
        return 404, html, _html("404", "not found")

    def _service(self, method: str, path: str, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        html = [("Content-Type", "text/html; charset=utf-8")]
        js = [("Content-Type", "application/json; charset=utf-8")]
        if path == "/":
            return 200, html, _html("安徽政务服务网", _links(("/list.html", "办事指南"), ("/hefei/", "合肥分厅"),
                                                       ("/wuhu/", "芜湖分厅"), ("/guide/1", "事项 1"),
                                                       *[(f"/apply/{k}", "在线办理") for k in range(1, 21)]))
        if path.startswith(("/apply/", "/wuhu/apply/")):  # 在线办理: the unified login
            return 302, [("Location", f"http://{LOGIN}/login?service={path}")], b""
        if path == "/list.html":  # the item list is rendered from a paged JSON API; search from a POST
            script = ("<script>fetch('/api/items?pageNo=1&pageSize=5').then(r => r.json()).then(d => {"
                      "document.getElementById('l').innerHTML = d.data.list.map(x => '<a href=\"' + x.detailUrl"
                      " + '\">' + x.name + '</a>').join('');});"
                      "$.getJSON('/api/endless', {page: 1}, function (d) { render(d); });</script>"
                      "<script src='/static/app.js'></script>")
            return 200, html, _html("办事指南", "<ul id='l'></ul>" + script)
        if path == "/static/app.js":
            return 200, [("Content-Type", "application/javascript")], (
                b"$.ajax({url: '/api/search', type: 'POST', contentType: 'application/json',"
                b" data: JSON.stringify({keyword: '', pageNum: 1, pageSize: 50}), success: show});")
        if path.startswith("/api/items?"):
            q = dict(p.split("=") for p in path.split("?", 1)[1].split("&"))
            page, size = int(q["pageNo"]), int(q["pageSize"])
            items = [{"name": f"事项 {k}", "detailUrl": f"/item/{k}.html"}
                     for k in range((page - 1) * size + 1, min(page * size, ITEMS) + 1)]
            return 200, js, json.dumps({"code": 0, "data": {"list": items, "total": ITEMS}}).encode()
        if path.startswith("/api/endless"):  # a list that never says it ended
            return 200, js, json.dumps({"rows": [{"name": f"{path} 项"}]}, ensure_ascii=False).encode()
        if path == "/api/search" and method == "POST":
            q = json.loads(body or b"{}")
            return 200, js, json.dumps({"list": [{"title": f"搜索 {q.get('pageNum')}"}], "pages": 2}).encode()
        if path.startswith("/item/") or path.startswith("/guide/"):
            return 200, html, _html(f"事项 {path}", "<dl><dt>事项名称</dt><dd>登记</dd></dl>")
        for city in ("hefei", "wuhu"):
            if path == f"/{city}/":
                other = "wuhu" if city == "hefei" else "hefei"
                applies = [(f"/{city}/apply/{k}", "在线办理") for k in range(1, 21)] if city == "wuhu" else []
                return 200, html, _html(f"{city} 分厅", _links((f"/{city}/g1", "指南 1"), (f"/{city}/g2", "指南 2"),
                                                            (f"/{other}/g1", "别的城市"), ("/", "省厅"), *applies))
            if path.startswith(f"/{city}/g"):
                return 200, html, _html(f"{city} {path}", "<p>办事指南</p>")
        return 404, html, _html("404", "not found")


@pytest.fixture(scope="module")
def presence(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("presence")
    (tmp / "reg.csv").write_text(REGISTRY, encoding="utf-8")
    with PresenceWeb() as web:
        summary = run_crawl(tmp, web.proxy_url, "--workers", "1", "--browser", "never", "--depth", "2",
                            "--max-pages", "10", "--platform-pages", str(BUDGET), "--platform-depth", "3")
        yield {"tmp": tmp, "web": web, "summary": summary}


def test_pages_say_which_part_of_the_presence_they_came_from(presence):
    pages = rows(presence["tmp"] / "s.db", "select site_id, url, platform, kind from pages where campaign='t'")
    assert pages and all(p["platform"] in ("portal", "service", "opendata") for p in pages)
    by = {(p["site_id"], p["url"]): p["platform"] for p in pages}
    assert by[("p1", "http://www.p1.gov.cn/")] == "portal"
    assert by[("p1", "http://www.p1.gov.cn/robots.txt")] == "portal"  # a probe of the portal
    assert by[("p1", f"http://{SVC}/list.html")] == "service"
    assert by[("p1", f"http://{DATA}/ds/1")] == "opendata"
    assert by[("c1", f"http://{SVC}/hefei/g1")] == "service"


def test_platforms_from_the_registry_and_discovered_on_the_portal(presence):
    plats = {(r["site_id"], r["kind"]): r for r in rows(presence["tmp"] / "s.db",
                                                          "select * from site_platforms where campaign='t'")}
    svc, data = plats[("p1", "service")], plats[("p1", "opendata")]
    assert (svc["source"], svc["host"], svc["prefix"]) == ("registry", SVC, "/")
    assert (data["source"], data["host"], data["label"]) == ("discovered", DATA, "数据开放")
    assert data["found_on"] == "http://www.p1.gov.cn/"
    assert (plats[("c1", "service")]["source"], plats[("c1", "service")]["prefix"]) == ("discovered", "/hefei/")
    assert (plats[("c2", "service")]["source"], plats[("c2", "service")]["prefix"]) == ("registry", "/wuhu/")
    assert ("c1", "opendata") not in plats and ("c2", "opendata") not in plats
    assert not any("gjzwfw" in r for r in presence["web"].log)  # the national platform is nobody's own
    cov = json.loads(rows(presence["tmp"] / "s.db", "select coverage from sites where site_id='p1'")[0][0])
    kinds = {p["kind"]: p for p in cov["platforms"]}
    assert kinds["opendata"]["source"] == "discovered" and kinds["service"]["pages"] > 0
    assert cov["portal_pages"] + sum(p["pages"] for p in cov["platforms"]) == cov["pages"]


def test_each_platform_has_its_own_budget(presence):
    db = presence["tmp"] / "s.db"
    count = dict(rows(db, "select platform, count(*) from pages where site_id='p1' and kind != 'probe' "
                           "group by platform"))
    assert count["opendata"] == BUDGET  # of 101 data pages
    assert count["portal"] == 10  # --max-pages 10 of the portal's 13 pages, not spent by the platforms
    data = {r["kind"]: r for r in rows(db, "select * from site_platforms where site_id='p1'")}
    assert data["opendata"]["budget_reached"] == 1
    svc = rows(db, "select count(*) from pages where site_id='p1' and platform='service'")[0][0]
    assert 0 < svc <= BUDGET
    # 20 在线办理 links end on the unified login (login walls): the platform's, not the portal's refusals
    walls = rows(db, "select count(*) from pages where site_id='p1' and platform='service' and block like 'login wall%'")
    assert walls[0][0] == 20
    # 乙市's branch is mostly login walls, its portal fine: the site's crawl is done, not partial
    assert rows(db, "select count(*) from pages where site_id='c2' and block like 'login wall%'")[0][0] == 20
    assert rows(db, "select status from sites where site_id='c2'")[0][0] == "done"


def test_shared_provincial_host_each_target_on_its_own_branch(presence):
    db = presence["tmp"] / "s.db"
    fetched = Counter(r for r in presence["web"].requests if r[1].startswith(SVC))
    assert all(n == 1 for n in fetched.values()), fetched  # every request to the shared host made once
    owner = {r["url"]: r["site_id"] for r in rows(db, f"select url, site_id from pages where url like 'http://{SVC}/%' "
                                                        "and url not like '%#shared=%'")}
    hefei = {u for u in owner if "/hefei/" in u}
    wuhu = {u for u in owner if "/wuhu/" in u}
    assert hefei and {owner[u] for u in hefei} == {"c1"}  # the city crawls its branch ...
    assert wuhu and {owner[u] for u in wuhu} == {"c2"}
    assert f"http://{SVC}/list.html" in owner and owner[f"http://{SVC}/list.html"] == "p1"  # ... the province the rest
    # 丙市 names the province's own branch: crawled once, its pages given to 丙市 as rows of its own
    shared = rows(db, "select url, platform, warc_offset from pages where site_id='c3' and url like '%#shared=c3'")
    assert {r["platform"] for r in shared} == {"service"} and len(shared) >= 2
    orig = dict(rows(db, "select url, warc_offset from pages where site_id='p1'"))
    assert all(orig[r["url"].split("#shared=")[0]] == r["warc_offset"] for r in shared)  # the same WARC record
    row = rows(db, "select stored_under from site_platforms where site_id='c3' and kind='service'")[0]
    assert row["stored_under"] == "p1"
    # a site whose portal failed crawls none of its platforms and gets no platform pages
    assert rows(db, "select stored_under from site_platforms where site_id='x0'")[0]["stored_under"] is None
    assert rows(db, "select count(*) from pages where site_id='x0' and kind != 'probe'")[0][0] == 0


def test_json_apis_found_in_scripts_are_fetched_and_archived(presence):
    db = presence["tmp"] / "s.db"
    apis = {r["url"]: r for r in rows(db, "select * from pages where kind='json' and site_id='p1'")}
    pages = [u for u in apis if "/api/items" in u]
    assert sorted(pages) == [f"http://{SVC}/api/items?pageNo={n}&pageSize=5" for n in (1, 2, 3)]  # total 12 / 5
    assert all(apis[u]["platform"] == "service" and apis[u]["site_id"] == "p1" for u in pages)
    assert json.loads(apis[pages[0]]["text"])["data"]["total"] == 12  # rules read the JSON in pages.text
    endless = [u for u in apis if "/api/endless" in u]
    assert len(endless) == 10  # a list that never ends: 10 pages at most (WINDVANE_API_PAGES)
    post = sorted(u for u in apis if "/api/search" in u)  # one row per page: the body is part of its key
    assert post == [f'http://{SVC}/api/search#post={{"keyword": "", "pageNum": {n}, "pageSize": 50}}' for n in (1, 2)]
    sent = sorted(b for m, u, b in presence["web"].requests if m == "POST")
    assert [json.loads(b)["pageNum"] for b in sent] == [1, 2]  # "pages": 2, then no more
    assert not any("/static/app.js" in u for u in apis)  # a script is read, not archived
    # the archived response is the bytes served
    row = apis[pages[0]]
    _, headers, body = read_record(presence["tmp"] / "s.files" / "t" / "warc", row["warc_file"], row["warc_offset"])
    assert json.loads(body)["data"]["list"][0]["detailUrl"] == "/item/1.html"
    assert headers["Content-Type"].startswith("application/json")


def test_item_pages_named_by_a_json_list_are_crawled(presence):
    urls = {r[0] for r in rows(presence["tmp"] / "s.db", "select url from pages where site_id='p1'")}
    assert f"http://{SVC}/item/1.html" in urls


def test_interrupted_crawl_resumes_its_platforms(tmp_path):
    """Ctrl-C while platforms are being crawled; the next run ends with what one uninterrupted run stores."""
    (tmp_path / "reg.csv").write_text(REGISTRY, encoding="utf-8")
    args = ["--workers", "1", "--browser", "never", "--depth", "2", "--max-pages", "10",
            "--platform-pages", "500"]  # no budget cut: what is stored does not depend on the order of answers
    with PresenceWeb(delay=0.05) as web:
        first = interrupted_crawl(tmp_path, web, args, lambda log: sum(u.startswith((SVC, DATA)) for u in log) >= 25)
        second = run_crawl(tmp_path, web.proxy_url, *args, campaign="i")
        reference = run_crawl(tmp_path, web.proxy_url, *args, campaign="ref")
    assert second["status"] == "finished" and 0 < first["pages"] < reference["pages"]
    db = tmp_path / "s.db"
    got = {c: {(r["site_id"], r["url"], r["platform"]) for r in rows(
        db, "select site_id, url, platform from pages where campaign=? and kind != 'probe'", (c,))} for c in ("i", "ref")}
    assert got["i"] == got["ref"]
    plats = {c: {tuple(r) for r in rows(db, "select site_id, kind, source, prefix, stored_under, pages "
                                            "from site_platforms where campaign=?", (c,))} for c in ("i", "ref")}
    assert plats["i"] == plats["ref"]


def test_an_older_store_gets_the_new_column_and_table(tmp_path):
    db = tmp_path / "old.db"
    Store(db).close()
    conn = sqlite3.connect(db)  # a store of before: no pages.platform, no site_platforms
    conn.execute("ALTER TABLE pages DROP COLUMN platform")
    conn.execute("DROP TABLE site_platforms")
    conn.execute("INSERT INTO pages (campaign, site_id, url) VALUES ('old', 's', 'http://a.gov.cn/')")
    conn.commit()
    conn.close()
    with Store(db) as store:
        assert store.conn.execute("SELECT url, platform FROM pages").fetchall() == [("http://a.gov.cn/", None)]
        assert store.conn.execute("SELECT count(*) FROM site_platforms").fetchone()[0] == 0


def test_discovery_labels_hosts_and_national_platforms():
    links = [("http://gjzwfw.www.gov.cn/", "国家政务服务平台"), ("http://data.stats.gov.cn/", "统计数据"),
             ("http://www.other.cn/a", "友情链接"), ("http://hf.ahzwfw.gov.cn/", "合肥市政务服务网"),
             ("http://www.ahzwfw.gov.cn/", "安徽政务服务网"), ("http://opendata.hefei.gov.cn/", "开放数据"),
             ("http://www.hefei.gov.cn/zwfw/", "办事服务")]
    found = {p.kind: p for p in discover_platforms(links, {"www.hefei.gov.cn"}, "合肥市", ["service", "opendata"])}
    assert found["service"].host == "hf.ahzwfw.gov.cn"  # the city's own branch before the province's
    assert found["opendata"].host == "opendata.hefei.gov.cn"
    assert discover_platforms(links[:3], set(), "合肥市", ["service", "opendata"]) == []
    assert [branch_prefix(u) for u in ("http://a.cn/", "http://a.cn/hefei/", "http://a.cn/index.html",
                                       "http://a.cn/odweb/x/index.html")] == ["/", "/hefei/", "/", "/odweb/"]


def test_discovery_reads_links_as_the_rules_do():
    """A banner image link (label in its alt), a link only in an onclick handler, a span with role=link."""
    from lxml import html

    from crawlers.scope import page_links
    root = html.fromstring(
        '<html><body><div class="banner"><a href="https://zwfw.xz.gov.cn/" target="_blank">'
        '<img src="/images/bs.jpg" alt="网上办事大厅"></a></div>'
        '<a href="javascript:void(0)" onclick="window.open(\'https://data.xz.gov.cn/\')">公共数据开放平台</a>'
        '<span role="link" onclick="location.href=\'/col/list.html\'">通知公告</span>'
        '<a href="#top"><img alt="返回顶部"></a></body></html>')
    links = page_links(root, "https://www.xz.gov.cn/")
    assert links == [("https://zwfw.xz.gov.cn/", "网上办事大厅"), ("https://data.xz.gov.cn/", "公共数据开放平台"),
                     ("https://www.xz.gov.cn/col/list.html", "通知公告")]
    found = {p.kind: p.host for p in discover_platforms(links, {"www.xz.gov.cn"}, "徐州市", ["service", "opendata"])}
    assert found == {"service": "zwfw.xz.gov.cn", "opendata": "data.xz.gov.cn"}


def test_api_calls_in_scripts_of_every_common_form():
    js = """
    fetch('/api/a?pageNo=1&pageSize=10').then(r => r.json());
    axios.get('/api/b', {params: {current: 1, size: 20}});
    axios.post('/api/dataset/query', {pageIndex: 1, pageSize: 10});
    $.get('/api/c?page=' + n);
    $.post('/api/login', {user: u});
    fetch(`/api/d?page=${p}&rows=5`);
    xhr.open('GET', '/api/e.json');
    """
    calls = {(c.method, c.url.replace("http://x.gov.cn", ""), c.page_param) for c in api_calls_in_script(js, "http://x.gov.cn/p/")}
    assert calls == {("GET", "/api/a?pageNo=1&pageSize=10", "pageNo"), ("GET", "/api/b?current=1&size=20", "current"),
                     ("POST", "/api/dataset/query", "pageIndex"), ("GET", "/api/c?page=1", "page"),
                     ("GET", "/api/d?page=1&rows=5", "page"), ("GET", "/api/e.json", None)}


# --- the simulated web's platforms (simweb/platforms*.py) ----------------------------------------
SIM_SITES = ("110000", "210000", "210100", "210200")  # 北京 (SPA platforms, a POST list API); 辽宁 and two
# of its cities on path branches of the provincial service portal (沈阳 found from its portal's link)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    simweb_server = pytest.importorskip("simweb.server")
    from evidence.registry import DEFAULT_REGISTRY, load_registry
    from tests.test_simweb import write_subset
    tmp = tmp_path_factory.mktemp("presence-sim")
    reg = write_subset(load_registry(DEFAULT_REGISTRY), SIM_SITES, tmp / "reg.csv")
    with simweb_server.SimWebProcess(str(reg), seed=2023, port=0) as web:
        summary = run_crawl(tmp, web.proxy_url, "--workers", "1", "--browser", "never", "--depth", "1",
                            "--max-pages", "15", "--platform-pages", "40", campaign="sim")
        with open(web.truth_path, encoding="utf-8") as f:
            table = json.load(f)
    yield {"db": tmp / "s.db", "summary": summary, "truth": table["sites"]}


def test_simulated_platforms_each_target_on_its_own_branch(simulated):
    db, truth = simulated["db"], simulated["truth"]
    pages = rows(db, "select site_id, url, platform, kind from pages where campaign='sim' and url not like '%#shared=%'")
    plats = {(r["site_id"], r["kind"]): r for r in rows(db, "select * from site_platforms where campaign='sim'")}
    for sid in ("210100", "210200"):  # the cities' path branches: their own pages only
        svc = truth[sid]["platforms"]["service"]
        got = plats[(sid, "service")]
        assert got["url"].rstrip("/") + "/" == svc["scope"] and got["prefix"] == "/" + svc["scope"].split("/")[3] + "/"
        assert got["source"] == ("registry" if svc["source"] == "registry" else "discovered")
        mine = [p["url"] for p in pages if p["site_id"] == sid and p["platform"] == "service"]
        assert mine and all(u.startswith(svc["scope"]) for u in mine), mine
        assert set(svc["urls"]["home"]) & set(mine)
    province = [p["url"] for p in pages if p["site_id"] == "210000" and p["platform"] == "service"]
    assert province and not any(u.startswith(truth[c]["platforms"]["service"]["scope"])
                                for u in province for c in ("210100", "210200"))
    for p in pages:  # every platform page is on its platform's host, every portal page on the portal's
        if p["platform"] != "portal" and p["kind"] != "probe":
            kind = "data" if p["platform"] == "opendata" else "service"
            assert p["url"].split("/")[2] == truth[p["site_id"]]["platforms"][kind]["url"].split("/")[2], p["url"]


def test_simulated_list_apis_are_archived(simulated):
    db, truth = simulated["db"], simulated["truth"]
    apis = {r["url"]: r for r in rows(db, "select url, site_id, platform, kind, status from pages "
                                          "where campaign='sim' and kind='json'")}
    bj = truth["110000"]["platforms"]
    get_lists = [u for u in bj["service"]["urls"]["api"] if "list" in u]
    assert set(get_lists[:1]) <= set(apis)  # the service portal's GET list API, its first page at least
    posted = [u for u in apis if u.startswith(bj["data"]["urls"]["api_post"][0]["url"] + "#post=")]
    assert posted and all(apis[u]["platform"] == "opendata" and apis[u]["site_id"] == "110000" for u in posted)
    bodies = [json.loads(u.split("#post=", 1)[1]) for u in posted]
    assert bj["data"]["urls"]["api_post"][0]["body"] in bodies


def test_a_form_asking_for_a_code_is_content_not_a_captcha_wall():
    from crawlers.blocks import block_reason
    form = ("<html><head><title>12345-某省政务服务网</title></head><body><h2>12345在线诉求</h2><form method='post'>"
            "<label>诉求标题<input name='title'></label><label>诉求内容<textarea name='content'></textarea></label>"
            "<label>验证码<input name='captcha'><img src='/verifycode.jpg'></label><button>提交</button></form>"
            "</body></html>").encode()
    assert block_reason(200, form, "text/html") is None  # the 12345 web form a platform leaf looks for
    wall = ("<html><head><title>安全验证</title></head><body><p>请输入验证码后继续访问</p>"
            "<img src='/verifycode.jpg'><input name='code'><button>确定</button></body></html>").encode()
    assert block_reason(200, wall, "text/html")[0] == "captcha"
