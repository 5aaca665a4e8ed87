"""The public-data open platform (公共数据开放平台) in two dialects.

``odweb``: server-rendered (拓尔思 / 开普云 style). Paths under the platform's prefix::

    ''  index.html                  home: counters (数据集 N 个 / 数据接口 M 个, 开放数据集 / API接口,
                                    数据资源 N 项 / 接口服务 M 项), links to the pages below
    catalog/index.html              catalogue page 1 (rows: name, formats, 更新时间); catalog/index_1.html ...
    catalog/detail/<id>.html        dataset: 数据提供方, 开放条件, 更新频率, 更新时间, 数据格式, 开放协议, downloads
    catalog/download/<id>.<ext>     the files (csv, json, xml as text; xlsx, xls, pdf, doc, docx, jpg as bytes)
    interface/index.html            API list page 1; interface/index_1.html ...
    about/license.html              licence (terms, or a placeholder)
    interact/demand.html            数据需求 form
    apps/index.html                 应用展示 (entries, or 暂无)

``spa``: lists from JSON APIs; ``list_api`` ``get``::

    api/portal/statistics           {"code":0,"message":"ok","data":{"datasetNum","apiNum","orgNum"}}
    api/dataset/list?page=N&size=S  {"code":0,"message":"ok","data":{"total","page","size","pages",
                                     "rows":[{"id","name","orgName","formats":["CSV",...],"updateTime":
                                     "YYYY-MM-DD HH:MM:SS","openCondition","url"}]}}
    api/interface/list?page=N&size=S  the same shape, rows {"id","name","orgName","requestMethod",
                                     "requestUrl","updateTime"}

or ``list_api`` ``post`` (GET answers 405)::

    POST api/dataset/search  body {"pageNo":N,"pageSize":S} (JSON or form)
        {"success":true,"result":{"totalCount","pageNo","pageSize","data":[{"resId","resTitle","deptName",
         "fileFormat":"csv,xlsx","lastUpdate":"YYYY/MM/DD","detailUrl"}]}}
    POST api/interface/search  the same shape, rows {"resId","resTitle","deptName","fileFormat":"api",
         "lastUpdate","apiPath"}

and, in both::

    ''  index.html                  shell: counters filled by script (the HTML shows 0 or -- until then)
    api/dataset/detail?id=X         {"code":0,"data":{"id","name","orgName","field","openCondition","frequency",
                                     "updateTime","formats","files":[{"fileName","format","url"}],
                                     "license":{"name","url"} or null}}
    dataset/detail.html?id=X        shell of the dataset page
    files/<id>.<ext>                the files
    license.html  demand.html  application.html   licence, 数据需求 form, 应用展示
"""

from __future__ import annotations

import json
from html import escape
from typing import Any
from urllib.parse import parse_qs

from simweb.content import rng_for
from simweb.platforms import (
    SAMPLE,
    Answer,
    Dataset,
    Platform,
    html_answer,
    json_answer,
    page_of,
    pages_for,
    query_int,
    sample_size,
)

COUNT_LABELS = [(("数据集", "个"), ("数据接口", "个")), (("开放数据集", ""), ("API接口", "")),
                (("数据资源", "项"), ("接口服务", "项"))]
CTYPES = {"CSV": "text/csv; charset=utf-8", "JSON": "application/json; charset=utf-8",
          "XML": "application/xml; charset=utf-8", "PDF": "application/pdf", "JPG": "image/jpeg",
          "XLSX": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
          "XLS": "application/vnd.ms-excel", "DOC": "application/msword",
          "DOCX": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
UPDATE_LABELS = ["更新时间", "最后更新", "更新日期"]


def _paths(pf: Platform) -> dict[str, str]:
    p = pf.prefix
    if pf.dialect == "odweb":
        return {"licence": p + "about/license.html", "demand": p + "interact/demand.html", "apps": p + "apps/index.html"}
    return {"licence": p + "license.html", "demand": p + "demand.html", "apps": p + "application.html"}


def _page(pf: Platform, title: str, body: str) -> str:
    brand = f"{pf.name}公共数据开放平台" if pf.place.branch != "sub" else f"{pf.prov_short}公共数据开放平台·{pf.name}"
    paths = _paths(pf)
    links = []
    if pf.opts.get("licence"):
        links.append(f'<a href="{paths["licence"]}">{"开放许可协议" if pf.dialect == "odweb" else "数据使用协议"}</a>')
    if pf.opts.get("requests"):
        links.append(f'<a href="{paths["demand"]}">{"数据需求" if pf.dialect == "odweb" else "需求征集"}</a>')
    if pf.opts.get("showcase"):
        links.append(f'<a href="{paths["apps"]}">{"应用展示" if pf.dialect == "odweb" else "创新应用"}</a>')
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{escape(title)}-{escape(brand)}</title></head>"
            f"<body><div class=\"header\"><a class=\"logo\" href=\"{pf.prefix}\">{escape(brand)}</a></div>{body}"
            f"<div class=\"footer\">{'　'.join(links)}<p>主办：{escape(pf.gov)}数据资源管理局</p></div></body></html>")


def _list_path(pf: Platform, what: str, n: int) -> str:
    return f"{pf.prefix}{what}/index.html" if n == 0 else f"{pf.prefix}{what}/index_{n}.html"


def _counter(pf: Platform, label: tuple[str, str], n: str) -> str:
    lab, unit = label
    if pf.opts["markup"] == 0:
        return f'<li><span class="label">{lab}</span><b class="num">{n}</b>{unit}</li>'
    return f'<div class="stat"><p class="num">{n}</p><p class="txt">{lab}{f"（{unit}）" if unit else ""}</p></div>'


def _home(pf: Platform) -> str:
    ds_label, api_label = COUNT_LABELS[pf.opts["count_labels"]]
    if pf.dialect == "odweb":
        fmt = "{:,}" if pf.opts["count_labels"] == 0 else "{}"  # 1,234 or 1234
        counters = (_counter(pf, ds_label, fmt.format(len(pf.datasets)))
                    + _counter(pf, api_label, fmt.format(len(pf.apis))))
        recent = "".join(f'<li><a href="{pf.prefix}catalog/detail/{d.ident}.html">{escape(d.name)}</a></li>'
                         for d in pf.datasets[:5])
        body = (f'<div class="count">{counters}</div><ul class="nav"><li><a href="{_list_path(pf, "catalog", 0)}">数据目录</a>'
                f'</li><li><a href="{_list_path(pf, "interface", 0)}">数据接口</a></li></ul>'
                f'<div class="recent"><h3>最新数据</h3><ul>{recent or "<li>暂无数据</li>"}</ul></div>')
        return _page(pf, "首页", body)
    placeholder = "0" if pf.opts["markup"] == 0 else "--"
    counters = (_counter(pf, ds_label, f'<em id="datasetNum">{placeholder}</em>')
                + _counter(pf, api_label, f'<em id="apiNum">{placeholder}</em>'))
    size = pf.page_size
    if pf.list_api == "get":
        calls = (f'axios.get("{pf.prefix}api/dataset/list?page=1&size={size}").then(renderDatasets);\n'
                 f'axios.get("{pf.prefix}api/interface/list?page=1&size={size}").then(renderApis);')
    else:
        calls = (f'axios.post("{pf.prefix}api/dataset/search", {{"pageNo": 1, "pageSize": {size}}}).then(renderDatasets);\n'
                 f'axios.post("{pf.prefix}api/interface/search", {{"pageNo": 1, "pageSize": {size}}}).then(renderApis);')
    script = f'axios.get("{pf.prefix}api/portal/statistics").then(renderStats);\n{calls}'
    body = (f'<div id="app"><div class="count">{counters}</div><div id="datasetList"></div></div>'
            f'<script src="{pf.prefix}static/js/axios.min.js"></script><script>{script}</script>')
    return _page(pf, "首页", body)


def _fmt_badges(d: Dataset) -> str:
    return "".join(f'<span class="format {f.lower()}">{f}</span>' for f in d.formats)


def _catalog_page(pf: Platform, what: str, n: int) -> str:
    items = pf.datasets if what == "catalog" else pf.apis
    size = pf.page_size
    total = pages_for(len(items), size)
    upd = UPDATE_LABELS[pf.opts["labels"]]
    if what == "catalog":
        rows = "".join(f'<li><a href="{pf.prefix}catalog/detail/{d.ident}.html">{escape(d.name)}</a>'
                       f'<p>{escape(d.org)}　{_fmt_badges(d)}　{upd}：{d.updated.isoformat()}</p></li>'
                       for d in page_of(items, n + 1, size))
    else:
        rows = "".join(f'<li><span class="name">{escape(d.name)}</span><p>{escape(d.org)}　接口地址：'
                       f'/gateway/api/{d.ident}　调用方式：GET　{upd}：{d.updated.isoformat()}</p></li>'
                       for d in page_of(items, n + 1, size))
    nav = []
    if n > 0:
        nav.append(f'<a href="{_list_path(pf, what, n - 1)}">上一页</a>')
    if n + 1 < total:
        nav.append(f'<a href="{_list_path(pf, what, n + 1)}">下一页</a>')
    title = "数据目录" if what == "catalog" else "数据接口"
    return _page(pf, title, f'<h2>{title}</h2><ul class="list">{rows or "<li>暂无数据</li>"}</ul>'
                            f'<div class="page">共{len(items)}条　第{n + 1}/{total}页　{" ".join(nav)}</div>')


def _file_path(pf: Platform, d: Dataset, fmt: str) -> str:
    stem = "catalog/download" if pf.dialect == "odweb" else "files"
    return f"{pf.prefix}{stem}/{d.ident}.{fmt.lower()}"


def _dataset_page(pf: Platform, d: Dataset) -> str:
    lic = pf.opts.get("licence")
    lic_html = f'<a href="{_paths(pf)["licence"]}">开放许可协议</a>' if lic else "—"
    upd = UPDATE_LABELS[pf.opts["labels"]]
    rows = [("数据名称", escape(d.name)), ("数据提供方", escape(d.org)), ("所属领域", d.topic),
            ("开放条件", "无条件开放"), ("更新频率", d.frequency), (upd, d.updated.isoformat()),
            ("数据格式", " ".join(d.formats)), ("开放协议", lic_html)]
    files = "".join(f'<li><a href="{_file_path(pf, d, f)}">{escape(d.name)}.{f.lower()}</a>'
                    f'<a class="dl" href="{_file_path(pf, d, f)}">下载</a></li>' for f in d.formats)
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return _page(pf, d.name, f'<h1>{escape(d.name)}</h1><table class="meta">{table}</table>'
                             f'<h3>数据下载</h3><ul class="files">{files}</ul>')


def _file(pf: Platform, d: Dataset, fmt: str) -> Answer:
    header = ["序号", "名称", "地址", "更新日期"]
    rows = [[str(i + 1), f"{d.name}{i + 1}", f"{pf.gov}某路{i + 7}号", d.updated.isoformat()] for i in range(5)]
    if fmt == "CSV":
        body = "\n".join(",".join(r) for r in [header, *rows]).encode("utf-8")
    elif fmt == "JSON":
        body = json.dumps([dict(zip(header, r, strict=True)) for r in rows], ensure_ascii=False).encode("utf-8")
    elif fmt == "XML":
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><rows>" + "".join(
            "<row>" + "".join(f"<c{i}>{escape(v)}</c{i}>" for i, v in enumerate(r)) + "</row>" for r in rows)
            + "</rows>").encode("utf-8")
    elif fmt == "PDF":
        body = b"%PDF-1.4\n% scanned table, no text layer\n%%EOF\n"
    else:
        body = b"PK\x03\x04" + d.ident.encode() if fmt in ("XLSX", "DOCX") else b"\xd0\xcf\x11\xe0" + d.ident.encode()
    return Answer(200, CTYPES[fmt], body)


def _licence(pf: Platform) -> str:
    if pf.opts["licence"] == "real":
        body = (f"<h2>{escape(pf.name)}公共数据开放平台开放数据使用协议</h2>"
                "<p>一、数据使用者可以免费获取平台上的无条件开放数据，并可自由复制、传播、加工和开发利用，包括用于商业目的。</p>"
                "<p>二、数据使用者在使用数据时应注明数据来源于本平台。</p>"
                "<p>三、数据使用者不得将数据用于违反法律法规、损害国家利益和公共利益的活动。</p>"
                "<p>四、本协议为非排他、不可撤销的许可。</p>")
    else:
        body = "<h2>开放许可协议</h2><p>内容正在完善中，敬请期待……</p>"
    return _page(pf, "开放许可", body)


def _demand(pf: Platform) -> str:
    return _page(pf, "数据需求", "<h2>数据需求申请</h2><form method=\"post\" action=\"demand/submit\">"
                 "<label>需求数据名称<input name=\"dataName\" required></label><label>需求描述<textarea name=\"desc\">"
                 "</textarea></label><label>应用场景<input name=\"scene\"></label><label>联系人<input name=\"contact\">"
                 "</label><label>联系电话<input name=\"phone\"></label><button type=\"submit\">提交需求</button></form>")


def _apps(pf: Platform) -> str:
    if pf.opts["showcase"] == "empty":
        return _page(pf, "应用展示", "<h2>应用展示</h2><div class=\"empty\">暂无应用成果</div>")
    r = rng_for(pf.place.url, "apps")
    names = r.sample(["停车助手", "公交实时查", "医保定点通", "企业信用画像", "空气质量地图", "学区查询", "充电桩导航",
                      "养老服务地图"], r.randrange(3, 7))
    rows = "".join(f"<li><h4>{pf.name}{n}</h4><p>基于平台开放的数据开发，{r.choice(['获第三届数据开放创新应用大赛二等奖', '已上线运营', '由社会开发者提交'])}。</p></li>"
                   for n in names)
    return _page(pf, "应用展示", f"<h2>应用成果展示</h2><ul class=\"apps\">{rows}</ul>")


def _row_get(pf: Platform, d: Dataset, api: bool) -> dict[str, Any]:
    row: dict[str, Any] = {"id": d.ident, "name": d.name, "orgName": d.org}
    row.update({"requestMethod": "GET", "requestUrl": f"/gateway/api/{d.ident}"} if api else
               {"formats": list(d.formats), "openCondition": "无条件开放"})
    row["updateTime"] = f"{d.updated.isoformat()} 09:{int(d.ident[-2:], 16) % 60:02d}:00"
    if not api:
        row["url"] = f"{pf.prefix}dataset/detail.html?id={d.ident}"
    return row


def _row_post(pf: Platform, d: Dataset, api: bool) -> dict[str, Any]:
    row = {"resId": d.ident, "resTitle": d.name, "deptName": d.org,
           "fileFormat": "api" if api else ",".join(f.lower() for f in d.formats),
           "lastUpdate": d.updated.strftime("%Y/%m/%d")}
    row["apiPath" if api else "detailUrl"] = f"/gateway/api/{d.ident}" if api else \
        f"{pf.prefix}dataset/detail.html?id={d.ident}"
    return row


def _post_paging(body: bytes) -> tuple[int, int]:
    text = body.decode("utf-8", "replace").strip()
    params: dict[str, Any] = {}
    if text.startswith("{"):
        try:
            params = {k: str(v) for k, v in json.loads(text).items()}
        except (ValueError, AttributeError):
            params = {}
    else:
        params = {k: v[0] for k, v in parse_qs(text).items()}
    q = {k: [v] for k, v in params.items()}
    return query_int(q, "pageNo", "page"), query_int(q, "pageSize", "size", default=10)


def serve(pf: Platform, rel: str, query: dict[str, list[str]], method: str, body: bytes) -> Answer | None:
    """The answer for ``rel`` (the path after the platform's prefix), or None (404)."""
    find = pf.datasets.find  # type: ignore[attr-defined]
    if rel in ("", "index.html"):
        return html_answer(_home(pf))
    paths = {v.removeprefix(pf.prefix): k for k, v in _paths(pf).items()}
    page = {"licence": _licence, "demand": _demand, "apps": _apps}
    opt = {"licence": "licence", "demand": "requests", "apps": "showcase"}
    if rel in paths and pf.opts.get(opt[paths[rel]]):
        return html_answer(page[paths[rel]](pf))
    stem, _, ext = rel.rpartition(".")
    for prefix in ("catalog/download/", "files/"):
        if stem.startswith(prefix) and (d := find(stem.removeprefix(prefix))) and ext.upper() in d.formats \
                and rel == _file_path(pf, d, ext.upper()).removeprefix(pf.prefix):
            return _file(pf, d, ext.upper())
    if pf.dialect == "odweb":
        for what in ("catalog", "interface"):
            if rel.startswith(f"{what}/index"):
                s = rel.removeprefix(f"{what}/index").removesuffix(".html")
                n = 0 if s == "" else int(s[1:]) if s.startswith("_") and s[1:].isdigit() else -1
                items = pf.datasets if what == "catalog" else pf.apis
                return html_answer(_catalog_page(pf, what, n)) if 0 <= n < pages_for(len(items), pf.page_size) else None
        if rel.startswith("catalog/detail/") and (d := find(rel.removeprefix("catalog/detail/").removesuffix(".html"))):
            return html_answer(_dataset_page(pf, d))
        return None
    if rel == "api/portal/statistics":
        return json_answer({"code": 0, "message": "ok", "data": {
            "datasetNum": len(pf.datasets), "apiNum": len(pf.apis), "orgNum": len({d.org for d in pf.datasets[:SAMPLE]})}})
    lists = {"dataset": pf.datasets, "interface": pf.apis}
    for what, items in lists.items():
        if pf.list_api == "get" and rel == f"api/{what}/list":
            page, size = query_int(query, "page"), min(50, query_int(query, "size", default=pf.page_size))
            return json_answer({"code": 0, "message": "ok", "data": {
                "total": len(items), "page": page, "size": size, "pages": pages_for(len(items), size),
                "rows": [_row_get(pf, d, what == "interface") for d in page_of(items, page, size)]}})
        if pf.list_api == "post" and rel == f"api/{what}/search":
            if method != "POST":
                return json_answer({"success": False, "message": f"Request method '{method}' not supported"}, 405)
            page, size = _post_paging(body)
            size = min(50, size)
            return json_answer({"success": True, "result": {
                "totalCount": len(items), "pageNo": page, "pageSize": size,
                "data": [_row_post(pf, d, what == "interface") for d in page_of(items, page, size)]}})
    ident = query.get("id", [""])[0]
    if rel == "api/dataset/detail":
        d = find(ident)
        if d is None:
            return json_answer({"code": 404, "message": "资源不存在", "data": None})
        lic = {"name": "开放数据使用协议", "url": _paths(pf)["licence"]} if pf.opts.get("licence") else None
        return json_answer({"code": 0, "message": "ok", "data": {
            "id": d.ident, "name": d.name, "orgName": d.org, "field": d.topic, "openCondition": "无条件开放",
            "frequency": d.frequency, "updateTime": d.updated.isoformat(), "formats": list(d.formats),
            "files": [{"fileName": f"{d.name}.{f.lower()}", "format": f, "url": _file_path(pf, d, f)} for f in d.formats],
            "license": lic}})
    if rel == "dataset/detail.html" and find(ident) is not None:
        return html_answer(_page(pf, "数据详情", f'<div id="app" data-id="{ident}"></div><script>axios.get("'
                                 f'{pf.prefix}api/dataset/detail?id={ident}").then(renderDetail);</script>'))
    return None


# --- truth -----------------------------------------------------------------------------------
def facts(pf: Platform, available: bool) -> dict[str, Any]:
    ds = pf.datasets[:sample_size(pf)] if available else []
    n = len(ds)
    paths = _paths(pf)
    lic = available and pf.opts.get("licence") == "real"
    req = available and bool(pf.opts.get("requests"))
    show = available and pf.opts.get("showcase") == "apps"
    return {"dataset_count": len(pf.datasets) if available else 0, "api_count": len(pf.apis) if available else 0,
            "sample_size": n,
            "machine_readable_share": round(sum(d.machine_readable for d in ds) / n, 4) if n else None,
            "fresh_share": round(sum(d.updated >= pf.fresh_since for d in ds) / n, 4) if n else None,
            "fresh_since": pf.fresh_since.isoformat(),
            "open_licence": lic, "licence_url": pf.base + paths["licence"] if lic else None,
            "data_requests": req, "requests_url": pf.base + paths["demand"] if req else None,
            "reuse_showcase": show, "showcase_url": pf.base + paths["apps"] if show else None}


def urls(pf: Platform) -> dict[str, Any]:
    from simweb.platforms import home_urls
    b, p, size = pf.base, pf.prefix, pf.page_size
    sample = pf.datasets[:sample_size(pf)]

    def pages(items: Any) -> range:  # the list pages that hold the sample
        return range(pages_for(min(len(items), SAMPLE), size))
    if pf.dialect == "odweb":
        lists = [b + _list_path(pf, w, n) for w, items in (("catalog", pf.datasets), ("interface", pf.apis))
                 for n in pages(items)]
        return {"home": home_urls(pf), "lists": lists, "other": _side_pages(pf),
                "datasets": [f"{b}{p}catalog/detail/{d.ident}.html" for d in sample], "api": []}
    api = [f"{b}{p}api/portal/statistics"]
    if pf.list_api == "get":
        api += [f"{b}{p}api/{w}/list?page={n + 1}&size={size}" for w, items in
                (("dataset", pf.datasets), ("interface", pf.apis)) for n in pages(items)]
    api += [f"{b}{p}api/dataset/detail?id={d.ident}" for d in sample]
    out: dict[str, Any] = {"home": home_urls(pf), "lists": [], "api": api, "other": _side_pages(pf),
                           "datasets": [f"{b}{p}dataset/detail.html?id={d.ident}" for d in sample]}
    if pf.list_api == "post":
        out["api_post"] = [{"url": f"{b}{p}api/{w}/search", "body": {"pageNo": n + 1, "pageSize": size}}
                           for w, items in (("dataset", pf.datasets), ("interface", pf.apis)) for n in pages(items)]
    return out


def _side_pages(pf: Platform) -> list[str]:
    paths = _paths(pf)
    return [pf.base + paths[k] for k, opt in (("licence", "licence"), ("demand", "requests"), ("apps", "showcase"))
            if pf.opts.get(opt)]


def traps(pf: Platform) -> list[dict[str, Any]]:
    out = []
    paths = _paths(pf)
    if pf.status == "live" and pf.opts.get("licence") == "placeholder":
        out.append({"kind": "placeholder_licence", "urls": [pf.base + paths["licence"]]})
    if pf.status == "live" and pf.opts.get("showcase") == "empty":
        out.append({"kind": "empty_showcase", "urls": [pf.base + paths["apps"]]})
    if pf.status == "live" and pf.dialect == "spa" and pf.opts["markup"] == 0:
        from simweb.platforms import home_urls
        out.append({"kind": "placeholder_counter", "urls": home_urls(pf)})
    return out
