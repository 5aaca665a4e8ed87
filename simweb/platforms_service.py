"""The online government-service portal (政务服务网 / 一网通办) in two dialects.

``kaipu``: a server-rendered portal (开普云 / 拓尔思 style). Paths under the platform's prefix::

    ''  index.html              home: counters 事项总数 N 项 / 全程网办 K 项, links
    bsfw/index.html             service list, page 1; bsfw/index_1.html ... later pages (TRS numbering)
    bsfw/item/<code>.html       办事指南: elements in a <table>
    bsfw/item/<code>/apply      在线办理: 302 to the unified login (or the local login page)
    login                       登录: 302 likewise
    user/login.html             the local login page (sites without unified login)
    hdjl/12345.html             12345 page: a 诉求 form, or a phone number only

``spa``: a single-page app; lists come from JSON APIs the home page's script fetches::

    ''  index.html              shell (<div id="app">) with the API calls written in its script
    api/portal/stats            {"code":200,"msg":"success","data":{"itemCount","onlineCount","deptCount"}}
    api/item/list?page=N&size=S {"code":200,"msg":"success","data":{"total","pageNum","pageSize","pages",
                                 "list":[{"itemCode","itemName","deptName","handleType","visitCount","detailUrl"}]}}
    api/item/detail?code=C      {"code":200,"msg":"success","data":{"itemCode","itemName","setBasis","materials",
                                 "timeLimit","chargeStandard","handleAddress","consultPhone","onlineUrl",
                                 "handleType","visitCount"}}  (a missing element is "" / [])
    guide/detail.html?code=C    办事指南 pre-rendered: elements in a <dl> or in label/value <div>s
    uc/login?redirect=URL       登录 / 在线办理: 302 to the unified login (or the local login page)
    user/login.html             the local login page
    12345/index.html            12345 page
"""

from __future__ import annotations

from html import escape
from typing import Any

from simweb.content import rng_for
from simweb.platforms import (
    ELEMENTS,
    Answer,
    Guide,
    Platform,
    html_answer,
    json_answer,
    local_login,
    login_target,
    page_of,
    pages_for,
    query_int,
    redirect,
)

HANDLE = {True: "全程网办", False: "窗口办理"}


def _page(pf: Platform, title: str, body: str, extra_head: str = "") -> str:
    brand = f"{pf.prov_short}政务服务网" if pf.level != "province" else f"{pf.name}政务服务网"
    branch = f"{brand}·{pf.name}站" if pf.opts["labels"] else f"{brand} {pf.gov}"
    site = branch if pf.level != "province" and pf.place.branch in ("sub", "path") else \
        f"{pf.name}政务服务网" if pf.dialect == "kaipu" else f"{pf.name}“一网通办”"
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{escape(title)}-{escape(site)}</title>"
            f"{extra_head}</head><body><div class=\"header\"><a href=\"{pf.prefix}\" class=\"logo\">{escape(site)}</a>"
            f"<span class=\"area\">当前站点：{escape(pf.gov)}</span></div>{body}"
            f"<div class=\"footer\">主办单位：{escape(pf.gov)}政务服务管理局　技术支持：{escape(pf.gov)}大数据中心</div>"
            "</body></html>")


# --- guide values ----------------------------------------------------------------------------
def _values(pf: Platform, g: Guide) -> dict[str, str]:
    r = rng_for(pf.place.url, g.code, "values")
    area = f"0{r.randrange(100, 999)}"
    basis = r.choice(["《中华人民共和国行政许可法》", "《中华人民共和国社会保险法》", "《优化营商环境条例》",
                      "《中华人民共和国市场主体登记管理条例》"])
    return {
        "事项名称": g.name,
        "设定依据": f"{basis}第{r.randrange(2, 60)}条",
        "申请材料": "；".join(f"{i + 1}.{m}" for i, m in enumerate(r.sample(
            ["申请表（原件1份）", "居民身份证（复印件1份）", "营业执照（复印件1份）", "授权委托书（原件1份）",
             "相关证明材料（原件1份）", "近期免冠照片2张"], r.randrange(2, 5)))),
        "办理时限": f"{r.choice([1, 3, 5, 7, 10, 15, 20])}个工作日",
        "收费标准": r.choice(["不收费", "不收费", "按省物价部门核定标准收取"]),
        "办理地点": f"{pf.gov}政务服务中心{r.randrange(1, 4)}楼{r.randrange(1, 60)}号窗口",
        "咨询电话": f"{area}-{r.randrange(2, 9)}{r.randrange(1000000, 9999999)}",
    }


def _apply_href(pf: Platform, g: Guide) -> str:
    if pf.dialect == "kaipu":
        return f"{pf.prefix}bsfw/item/{g.code}/apply"
    return f"{pf.prefix}uc/login?redirect={pf.prefix}guide/detail.html%3Fcode%3D{g.code}"


def _blank_style(pf: Platform, g: Guide, element: str) -> str:
    """How a missing element shows: no row at all, or the label with an empty value."""
    return rng_for(pf.place.url, g.code, element, "blank").choice(["absent", "absent", "empty"])


def guide_html(pf: Platform, g: Guide) -> str:
    labels = pf.opts["el_labels"]
    vals = _values(pf, g)
    rows: list[tuple[str, str]] = []
    for e in ELEMENTS[:-1]:
        if e in g.elements:
            rows.append((labels[e], escape(vals[e])))
        elif _blank_style(pf, g, e) == "empty":
            rows.append((labels[e], ""))
        if e == "设定依据":
            rows.append(("受理条件", "符合法定条件的申请人"))
    rows.append(("办理形式", HANDLE[g.online]))
    rows.append(("到办事现场次数", f"{g.visits}次"))
    rows.append(("实施主体", escape(f"{pf.gov}{g.dept}")))
    if "在线办理" in g.elements:
        button = f'<a class="btn-apply" href="{_apply_href(pf, g)}">{labels["在线办理"]}</a>'
    else:
        button = '<span class="btn-disabled">暂不支持网上办理，请到窗口办理</span>'
    style = pf.opts["markup"] if pf.dialect == "spa" else -1
    if style == -1:
        body = "<table class=\"bszn\">" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"
    elif style == 0:
        body = "<dl class=\"guide-info\">" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"
    else:
        body = "".join(f'<div class="info-row"><span class="info-label">{k}：</span><span class="info-value">{v}</span>'
                       "</div>" for k, v in rows)
    return _page(pf, g.name, f"<div class=\"guide\"><h1>{escape(g.name)}</h1><div class=\"ops\">{button}</div>"
                             f"<h3>办事指南</h3>{body}</div>")


def guide_json(pf: Platform, g: Guide) -> dict[str, Any]:
    vals = _values(pf, g)

    def v(e: str) -> str:
        return vals[e] if e in g.elements else ""
    return {"itemCode": g.code, "itemName": g.name, "deptName": f"{pf.gov}{g.dept}", "setBasis": v("设定依据"),
            "materials": v("申请材料").split("；") if v("申请材料") else [], "timeLimit": v("办理时限"),
            "chargeStandard": v("收费标准"), "handleAddress": v("办理地点"), "consultPhone": v("咨询电话"),
            "onlineUrl": _apply_href(pf, g) if "在线办理" in g.elements else "",
            "handleType": HANDLE[g.online], "visitCount": g.visits}


# --- pages -----------------------------------------------------------------------------------
def _list_path(pf: Platform, n: int) -> str:
    return f"{pf.prefix}bsfw/index.html" if n == 0 else f"{pf.prefix}bsfw/index_{n}.html"


def _login_href(pf: Platform) -> str:
    """The home page's 登录: straight to the unified login (some portals), or through the portal's redirect."""
    if pf.opts.get("login_direct"):
        return escape(login_target(pf, pf.base + pf.prefix))
    return f"{pf.prefix}login" if pf.dialect == "kaipu" else f"{pf.prefix}uc/login?redirect={pf.prefix}"


def _home(pf: Platform) -> str:
    online = sum(g.online for g in pf.guides)
    f12345 = pf.opts["form_12345"]
    if pf.dialect == "kaipu":
        links12345 = f'<li><a href="{pf.prefix}hdjl/12345.html">12345在线诉求</a></li>' if f12345 else ""
        body = (f'<div class="top"><a href="{_login_href(pf)}">登录</a> | <a href="{pf.prefix}login">注册</a></div>'
                f'<div class="tj"><span>事项总数</span><em>{len(pf.guides)}</em>项　'
                f'<span>全程网办</span><em>{online}</em>项</div>'
                f'<ul class="nav"><li><a href="{_list_path(pf, 0)}">个人办事</a></li>'
                f'<li><a href="{_list_path(pf, 0)}">法人办事</a></li>{links12345}</ul>')
        return _page(pf, "首页", body)
    size = pf.page_size
    script = (f'fetch("{pf.prefix}api/portal/stats").then(function(r){{return r.json()}}).then(renderStats);\n'
              f'fetch("{pf.prefix}api/item/list?page=1&size={size}").then(function(r){{return r.json()}})'
              ".then(renderList);")
    links = f'<a href="{pf.prefix}12345/index.html">12345诉求</a>' if f12345 else ""
    body = (f'<div id="app"><div class="bar"><a href="{_login_href(pf)}">登录</a>{links}</div>'
            '<div class="stats"><span>事项数</span><b id="itemCount"></b><span>全程网办</span><b id="onlineCount"></b>'
            '</div><ul id="itemList"></ul></div>'
            f'<script src="{pf.prefix}static/js/chunk-vendors.js"></script><script>{script}</script>')
    return _page(pf, "首页", body)


def _list_page(pf: Platform, n: int) -> str:
    size = pf.page_size
    total = pages_for(len(pf.guides), size)
    rows = "".join(f'<li><a href="{pf.prefix}bsfw/item/{g.code}.html" target="_blank">{escape(g.name)}</a>'
                   f'<span class="dept">{escape(pf.gov + g.dept)}</span><span class="tag">{HANDLE[g.online]}</span></li>'
                   for g in page_of(pf.guides, n + 1, size))
    nav = []
    if n > 0:
        nav.append(f'<a href="{_list_path(pf, n - 1)}">上一页</a>')
    if n + 1 < total:
        nav.append(f'<a href="{_list_path(pf, n + 1)}">下一页</a>')
    return _page(pf, "办事指南", f'<ul class="sxlist">{rows}</ul><div class="page">共{len(pf.guides)}条　'
                                 f'第{n + 1}/{total}页　{" ".join(nav)}</div>')


def _form_12345(pf: Platform) -> str:
    if pf.opts["form_12345"] == "form":
        body = ("<h2>12345在线诉求</h2><form method=\"post\" action=\"submit.do\" class=\"sq-form\">"
                "<label>诉求类型<select name=\"type\"><option>咨询</option><option>投诉</option><option>建议</option>"
                "<option>求助</option></select></label><label>诉求标题<input name=\"title\" required></label>"
                "<label>诉求内容<textarea name=\"content\" required></textarea></label>"
                "<label>姓名<input name=\"name\"></label><label>联系电话<input name=\"phone\" required></label>"
                "<label>验证码<input name=\"captcha\"></label><button type=\"submit\">提交</button></form>")
    else:
        body = ("<h2>12345政务服务便民热线</h2><p>如需咨询、投诉、求助、建议，请拨打12345热线（24小时服务）。</p>"
                "<p>网上诉求渠道正在建设中。</p>")
    return _page(pf, "12345", body)


def serve(pf: Platform, rel: str, query: dict[str, list[str]], method: str, body: bytes) -> Answer | None:
    """The answer for ``rel`` (the path after the platform's prefix), or None (404)."""
    by_code = {g.code: g for g in pf.guides}
    home = pf.prefix + ("" if pf.home_path.endswith("/") else pf.home_path.rsplit("/", 1)[-1])
    if rel in ("", "index.html"):
        return html_answer(_home(pf))
    if rel == "user/login.html" and not pf.opts.get("unified_login"):
        return html_answer(local_login(pf))
    if rel == _12345_path(pf) and pf.opts["form_12345"]:
        return html_answer(_form_12345(pf))
    if pf.dialect == "kaipu":
        if rel == "login":
            return redirect(login_target(pf, pf.base + home))
        if rel.startswith("bsfw/index"):
            stem = rel.removeprefix("bsfw/index").removesuffix(".html")
            n = 0 if stem == "" else int(stem[1:]) if stem[1:].isdigit() and stem.startswith("_") else -1
            if 0 <= n < pages_for(len(pf.guides), pf.page_size):
                return html_answer(_list_page(pf, n))
            return None
        if rel.startswith("bsfw/item/"):
            code = rel.removeprefix("bsfw/item/")
            if code.endswith("/apply") and code[:-6] in by_code and "在线办理" in by_code[code[:-6]].elements:
                return redirect(login_target(pf, f"{pf.base}{pf.prefix}bsfw/item/{code}"))
            g = by_code.get(code.removesuffix(".html")) if code.endswith(".html") else None
            return html_answer(guide_html(pf, g)) if g else None
        return None
    if rel == "uc/login":
        back = query.get("redirect", [home])[0]
        return redirect(login_target(pf, pf.base + back))
    if rel == "api/portal/stats":
        return json_answer({"code": 200, "msg": "success", "data": {
            "itemCount": len(pf.guides), "onlineCount": sum(g.online for g in pf.guides),
            "deptCount": len({g.dept for g in pf.guides})}})
    if rel == "api/item/list":
        page, size = query_int(query, "page", "pageNum"), min(50, query_int(query, "size", "pageSize",
                                                                            default=pf.page_size))
        rows = [{"itemCode": g.code, "itemName": g.name, "deptName": f"{pf.gov}{g.dept}", "handleType": HANDLE[g.online],
                 "visitCount": g.visits, "detailUrl": f"{pf.prefix}guide/detail.html?code={g.code}"}
                for g in page_of(pf.guides, page, size)]
        return json_answer({"code": 200, "msg": "success", "data": {
            "total": len(pf.guides), "pageNum": page, "pageSize": size, "pages": pages_for(len(pf.guides), size),
            "list": rows}})
    code = query.get("code", [""])[0]
    if rel == "api/item/detail":
        g = by_code.get(code)
        return json_answer({"code": 200, "msg": "success", "data": guide_json(pf, g)} if g else
                           {"code": 404, "msg": "事项不存在", "data": None})
    if rel == "guide/detail.html" and code in by_code:
        return html_answer(guide_html(pf, by_code[code]))
    return None


# --- truth -----------------------------------------------------------------------------------
def facts(pf: Platform, available: bool) -> dict[str, Any]:
    guides = pf.guides if available else []
    n = len(guides)

    def share(k: int) -> float | None:
        return round(k / n, 4) if n else None
    elements = {e: share(sum(e in g.elements for g in guides)) for e in ELEMENTS}
    f12345 = available and pf.opts.get("form_12345") == "form"
    unified = available and bool(pf.opts.get("unified_login"))
    return {"guides": n, "guide_elements": elements if n else {},
            "guide_completeness": round(sum(v for v in elements.values() if v is not None) / len(ELEMENTS), 4) if n else None,
            "online_share": share(sum(g.online for g in guides)),
            "zero_visit_share": share(sum(g.visits == 0 for g in guides)),
            "unified_login": unified, "login_url": (f"https://{pf.idp()}/cas/login") if unified else None,
            "web_form_12345": f12345,
            "form_url": pf.base + pf.prefix + _12345_path(pf) if f12345 else None}


def urls(pf: Platform) -> dict[str, list[str]]:
    from simweb.platforms import home_urls
    b = pf.base
    if pf.dialect == "kaipu":
        lists = [b + _list_path(pf, n) for n in range(pages_for(len(pf.guides), pf.page_size))]
        guides = [f"{b}{pf.prefix}bsfw/item/{g.code}.html" for g in pf.guides]
        api: list[str] = []
    else:
        n_pages = pages_for(len(pf.guides), pf.page_size)
        api = [f"{b}{pf.prefix}api/portal/stats"]
        api += [f"{b}{pf.prefix}api/item/list?page={n + 1}&size={pf.page_size}" for n in range(n_pages)]
        api += [f"{b}{pf.prefix}api/item/detail?code={g.code}" for g in pf.guides]
        lists = []
        guides = [f"{b}{pf.prefix}guide/detail.html?code={g.code}" for g in pf.guides]
    other = [pf.base + pf.prefix + _12345_path(pf)] if pf.opts.get("form_12345") else []
    if not pf.opts.get("unified_login"):
        other.append(f"{b}{pf.prefix}user/login.html")
    return {"home": home_urls(pf), "lists": lists, "guides": guides, "api": api, "other": other,
            "login": login_urls(pf)}


def _12345_path(pf: Platform) -> str:
    return "hdjl/12345.html" if pf.dialect == "kaipu" else "12345/index.html"


def login_urls(pf: Platform) -> list[str]:
    """Where the unified login leaves a browser (the identity host's page, per 登录 / 在线办理 link)."""
    if not pf.opts.get("unified_login"):
        return []
    backs = [pf.base + pf.prefix] if pf.opts.get("login_direct") or pf.dialect == "spa" else \
        [pf.base + pf.prefix + ("" if pf.home_path.endswith("/") else pf.home_path.rsplit("/", 1)[-1])]
    for g in pf.guides:
        if "在线办理" in g.elements:
            backs.append(f"{pf.base}{pf.prefix}bsfw/item/{g.code}/apply" if pf.dialect == "kaipu" else
                         f"{pf.base}{pf.prefix}guide/detail.html?code={g.code}")
    return [login_target(pf, b) for b in backs]


def traps(pf: Platform) -> list[dict[str, Any]]:
    out = []
    if pf.status == "live" and pf.opts.get("form_12345") == "phone_only":
        out.append({"kind": "phone_only_12345", "urls": [pf.base + pf.prefix + _12345_path(pf)]})
    if pf.status == "live" and not pf.opts.get("unified_login"):
        out.append({"kind": "local_login", "urls": [pf.base + pf.prefix + "user/login.html"]})
    return out
