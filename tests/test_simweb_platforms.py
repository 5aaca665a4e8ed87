"""Service portals and open-data platforms of the simulated web, fetched through the real proxy.

Sites are picked from the 2023 truth of the default registry by what their platforms are (a
dialect, a variant); a child-process proxy then serves just those sites, and every check reads
pages and JSON over loopback HTTP and compares what it finds with the served truth file. The page
reading here is the test's own (label synonyms of real 办事指南, counters by any of their labels):
it does not call the generator's renderers.
"""

from __future__ import annotations

import json
import math
import re
import urllib.request
from datetime import date
from html import unescape
from urllib.parse import urljoin, urlsplit

import pytest

from evidence.registry import DEFAULT_REGISTRY, load_registry
from simweb.generate import truth
from simweb.server import SimWebProcess
from tests.test_simweb import fetch, opener, write_subset

ELEMENT_LABELS = {  # how real guides label each element
    "事项名称": ("事项名称", "服务事项名称"),
    "设定依据": ("设定依据", "法律依据", "设立依据", "实施依据"),
    "申请材料": ("申请材料", "所需材料", "申报材料清单", "材料清单"),
    "办理时限": ("办理时限", "承诺时限", "法定时限", "承诺办结时限"),
    "收费标准": ("收费标准", "是否收费", "收费依据及标准"),
    "办理地点": ("办理地点", "办理地址", "受理地点", "窗口地址"),
    "咨询电话": ("咨询电话", "咨询方式", "联系电话"),
}
APPLY_WORDS = ("在线办理", "立即办理", "网上申办", "我要办理")
MACHINE_READABLE = {"csv", "xls", "xlsx", "json", "xml"}
SAMPLE = 50  # the truth's sample: the catalogue's first datasets
DATASET_COUNTER = r"(?:开放数据集|数据集|数据资源)"
API_COUNTER = r"(?:数据接口|API接口|接口服务)"

PICKS = {  # name -> (kind, predicate on that platform's truth)
    "service_kaipu": ("service", lambda p: p["available"] and p["dialect"] == "kaipu" and p["guides"] >= 12),
    "service_spa": ("service", lambda p: p["available"] and p["dialect"] == "spa"),
    "service_local_login": ("service", lambda p: p["available"] and not p["unified_login"]),
    "service_phone_only": ("service", lambda p: any(t["kind"] == "phone_only_12345" for t in p["traps"])),
    "service_path_branch": ("service", lambda p: p["available"] and p["branch"] == "path"),
    "service_sub_branch": ("service", lambda p: p["available"] and p["branch"] == "sub"),
    "service_other_city": ("service", lambda p: any(t["kind"] == "other_city_branch" for t in p["traps"])),
    "service_coming_soon": ("service", lambda p: p["status"] == "coming_soon" and p["source"] == "portal_link"),
    "service_none": ("service", lambda p: p["status"] == "none"),
    "data_odweb": ("data", lambda p: p["available"] and p["dialect"] == "odweb" and p["dataset_count"] > 20),
    "data_spa_get": ("data", lambda p: p["available"] and p["list_api"] == "get" and p["dataset_count"] > 15),
    "data_spa_post": ("data", lambda p: p["available"] and p["list_api"] == "post" and p["dataset_count"] > 15),
    "data_zero": ("data", lambda p: p["available"] and p["dataset_count"] == 0),
    "data_stale": ("data", lambda p: p["available"] and p["fresh_share"] is not None and p["fresh_share"] < 0.4),
    "data_placeholder_licence": ("data", lambda p: any(t["kind"] == "placeholder_licence" for t in p["traps"])),
    "data_empty_showcase": ("data", lambda p: any(t["kind"] == "empty_showcase" for t in p["traps"])),
    "data_showcase": ("data", lambda p: p["reuse_showcase"] and p["data_requests"] and p["open_licence"]),
    "data_coming_soon": ("data", lambda p: p["status"] == "coming_soon"),
}


@pytest.fixture(scope="module")
def picked():
    """name -> site_id, the first site of the default registry whose platform fits."""
    full = truth(load_registry(DEFAULT_REGISTRY), 2023)["sites"]
    out = {}
    for name, (kind, pred) in PICKS.items():
        out[name] = next((sid for sid, st in full.items() if pred(st["platforms"][kind])), None)
        assert out[name] is not None, f"no site of the default registry has a {name} platform"
    return out


@pytest.fixture(scope="module")
def served(picked, tmp_path_factory):
    """A proxy serving the picked sites, its truth, and a client that does not follow redirects."""
    path = write_subset(load_registry(DEFAULT_REGISTRY), picked.values(),
                        tmp_path_factory.mktemp("platforms") / "registry.csv")
    with SimWebProcess(str(path), seed=2023) as proc:
        with open(proc.truth_path, encoding="utf-8") as f:
            table = json.load(f)
        yield opener(proc.proxy_url, follow=False), table


def plat(served, picked, name: str) -> dict:
    kind = PICKS[name][0]
    return served[1]["sites"][picked[name]]["platforms"][kind]


def get_text(op, url: str) -> tuple[int, str]:
    status, _, body, _ = fetch(op, url)
    return status, body.decode("utf-8", "replace")


def get_json(op, url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                 headers={"Content-Type": "application/json"} if data else {})
    with op.open(req, timeout=10) as r:
        assert r.status == 200 and "json" in r.headers["Content-Type"]
        return json.loads(r.read().decode("utf-8"))


def hrefs(html: str, base: str) -> list[str]:
    return [urljoin(base, unescape(h)) for h in re.findall(r'href="([^"]+)"', html)]


def pairs(html: str) -> dict[str, str]:
    """Label -> value of a guide, whether in a table, a definition list or label/value divs."""
    found = re.findall(r"<th>([^<]*)</th><td>(.*?)</td>", html)
    found += re.findall(r"<dt>([^<]*)</dt><dd>(.*?)</dd>", html)
    found += re.findall(r'<span class="info-label">([^<]*?)：?</span><span class="info-value">(.*?)</span>', html)
    return {k.strip().rstrip("："): re.sub(r"<[^>]+>", "", v).strip() for k, v in found}


def elements_of(html: str) -> set[str]:
    kv = pairs(html)
    out = {e for e, labels in ELEMENT_LABELS.items() if any(kv.get(lab) for lab in labels)}
    if any(re.search(rf'<a [^>]*href="[^"]+"[^>]*>{w}</a>', html) for w in APPLY_WORDS):
        out.add("在线办理")
    return out


def shares(found: list[set[str]], truth_elements: dict) -> dict[str, float]:
    return {e: round(sum(e in s for s in found) / len(found), 4) for e in truth_elements}


# --- service portals ------------------------------------------------------------------------
def test_server_rendered_service_portal_matches_truth(served, picked):
    op, p = served[0], plat(served, picked, "service_kaipu")
    status, home = get_text(op, p["url"])
    assert status == 200
    assert int(re.search(r"事项总数</span><em>(\d+)</em>", home).group(1)) == p["guides"]
    seen, guides, page = set(), [], next(u for u in hrefs(home, p["url"]) if "/bsfw/index" in u)
    while page and page not in seen:  # walk the list by its 下一页 links
        seen.add(page)
        status, html = get_text(op, page)
        assert status == 200
        guides += [u for u in hrefs(html, page) if "/bsfw/item/" in u]
        nxt = re.search(r'<a href="([^"]+)">下一页</a>', html)
        page = urljoin(page, nxt.group(1)) if nxt else None
    assert len(guides) == p["guides"] == len(set(guides))
    assert sorted(guides) == sorted(p["urls"]["guides"])
    found, online = [], 0
    for url in guides:
        status, html = get_text(op, url)
        assert status == 200 and '<table class="bszn">' in html
        found.append(elements_of(html))
        kv = pairs(html)
        online += kv["办理形式"] == "全程网办"
        assert (kv["办理形式"] == "全程网办") == (kv["到办事现场次数"] == "0次")
    assert shares(found, p["guide_elements"]) == p["guide_elements"]
    assert round(online / len(guides), 4) == p["online_share"] == p["zero_visit_share"]
    assert 0 < p["guide_completeness"] < 1


def test_spa_service_portal_lists_only_in_json(served, picked):
    op, p = served[0], plat(served, picked, "service_spa")
    status, home = get_text(op, p["url"])
    assert status == 200 and 'id="app"' in home and "guide/detail" not in home
    api = re.search(r'fetch\("([^"]*api/item/list\?[^"]*)"\)', home).group(1)
    stats = get_json(op, urljoin(p["url"], re.search(r'fetch\("([^"]*api/portal/stats)"\)', home).group(1)))
    assert stats["data"]["itemCount"] == p["guides"]
    first = get_json(op, urljoin(p["url"], api))["data"]
    assert first["total"] == p["guides"] and first["pages"] == math.ceil(first["total"] / first["pageSize"])
    rows = []
    for n in range(1, first["pages"] + 2):  # one page past the end: empty
        page = get_json(op, urljoin(p["url"], api.replace("page=1", f"page={n}")))["data"]
        assert page["total"] == first["total"] and page["pageNum"] == n
        rows += page["list"]
        if n > first["pages"]:
            assert page["list"] == []
    assert len(rows) == p["guides"] == len({r["itemCode"] for r in rows})
    big = get_json(op, urljoin(p["url"], api.replace("size=", "size=50&x=")))["data"]  # another page size
    assert big["total"] == p["guides"]
    found, markup = [], set()
    for r in rows:
        status, html = get_text(op, urljoin(p["url"], r["detailUrl"]))
        assert status == 200
        markup.add("dl" if "<dl" in html else "div" if "info-label" in html else "table")
        found.append(elements_of(html))
        detail = get_json(op, urljoin(p["url"], r["detailUrl"].replace("guide/detail.html", "api/item/detail")))["data"]
        json_elements = {"事项名称"} | {e for e, k in (("设定依据", "setBasis"), ("申请材料", "materials"), ("办理时限", "timeLimit"),
                                                  ("收费标准", "chargeStandard"), ("办理地点", "handleAddress"),
                                                  ("咨询电话", "consultPhone"), ("在线办理", "onlineUrl")) if detail[k]}
        assert json_elements == found[-1]
        assert (detail["handleType"] == "全程网办") == (detail["visitCount"] == 0) == (r["visitCount"] == 0)
    assert markup <= {"dl", "div"} and len(markup) == 1
    assert shares(found, p["guide_elements"]) == p["guide_elements"]
    assert round(sum(r["handleType"] == "全程网办" for r in rows) / len(rows), 4) == p["online_share"]


@pytest.mark.parametrize("name", ["service_kaipu", "service_local_login"])
def test_online_application_goes_to_unified_login_or_not(served, picked, name):
    op, p = served[0], plat(served, picked, name)
    guide = p["urls"]["guides"][0] if p["dialect"] == "kaipu" else None
    status, home = get_text(op, p["url"])
    login = next(u for u in hrefs(home, p["url"]) if "login" in u)
    if guide:  # a guide's 在线办理 button leads to the same place
        login = next((u for g in p["urls"]["guides"] for u in hrefs(get_text(op, g)[1], g) if u.endswith("/apply")), login)
    status, headers, _, _ = fetch(op, login)
    assert status == 302
    where = headers["Location"]
    status, page = get_text(op, urljoin(login, where))
    assert status == 200
    if p["unified_login"]:
        assert urlsplit(where).hostname.startswith("tyrz.") and "统一身份认证" in page and "service=" in where
        assert where.startswith(p["login_url"])
    else:
        assert urlsplit(urljoin(login, where)).hostname == p["host"] and "统一身份认证" not in page
        assert "<form" in page


def test_12345_form_and_the_phone_only_page(served, picked):
    op = served[0]
    p = plat(served, picked, "service_kaipu") if plat(served, picked, "service_kaipu")["web_form_12345"] else \
        next(plat(served, picked, n) for n in PICKS if PICKS[n][0] == "service" and plat(served, picked, n)["web_form_12345"])
    status, html = get_text(op, p["form_url"])
    assert status == 200 and "<form" in html
    assert {"title", "content", "phone"} <= set(re.findall(r'name="([a-z]+)"', html))
    trap = plat(served, picked, "service_phone_only")
    assert not trap["web_form_12345"] and trap["form_url"] is None
    url = next(t["urls"][0] for t in trap["traps"] if t["kind"] == "phone_only_12345")
    status, html = get_text(op, url)
    assert status == 200 and "12345" in html and "<form" not in html


def test_branches_are_scoped_and_another_citys_branch_is_a_trap(served, picked):
    op = served[0]
    path = plat(served, picked, "service_path_branch")
    assert path["shared_host"] and urlsplit(path["scope"]).path.count("/") >= 2
    status, html = get_text(op, path["url"])
    gov = re.search(r"当前站点：([^<]+)<", html).group(1)
    root = path["scope"].rstrip("/").rsplit("/", 1)[0] + "/"
    status, province = get_text(op, root)  # the province's own portal on the same host
    assert status == 200 and re.search(r"当前站点：([^<]+)<", province).group(1) != gov
    assert all(u.startswith(path["scope"]) for k, us in path["urls"].items() if k != "login" for u in us)
    assert all(urlsplit(u).hostname.startswith("tyrz.") for u in path["urls"]["login"])
    sub = plat(served, picked, "service_sub_branch")
    assert urlsplit(sub["url"]).hostname.split(".", 1)[1] in {urlsplit(u).hostname.removeprefix("www.") for u in
                                                               [t.get("zwfw_url") for t in load_registry(DEFAULT_REGISTRY).targets]
                                                               if u}
    status, _ = get_text(op, sub["url"])
    assert status == 200
    other = plat(served, picked, "service_other_city")
    trap = next(t for t in other["traps"] if t["kind"] == "other_city_branch")["urls"][0]
    assert trap == other["linked_url"] != other["url"] and other["source"] in ("unlinked", None)
    assert not other["available"]
    status, html = get_text(op, trap)
    site = served[1]["sites"][picked["service_other_city"]]
    assert status == 200 and re.search(r"当前站点：([^<]+)<", html).group(1) not in (gov, "")
    home = get_text(op, f"{site['scheme']}://{site['host']}/")[1]
    assert "当前站点" not in home


def test_absent_and_coming_soon_platforms(served, picked):
    op = served[0]
    soon = plat(served, picked, "service_coming_soon")
    assert not soon["available"] and soon["guides"] == 0
    status, html = get_text(op, soon["url"])
    assert status == 200 and re.search("建设中|即将上线|敬请期待", html)
    assert get_text(op, urljoin(soon["url"], "bsfw/index.html"))[0] == 404
    data_soon = plat(served, picked, "data_coming_soon")
    assert get_text(op, data_soon["url"])[0] == 200 and data_soon["dataset_count"] == 0
    none = plat(served, picked, "service_none")
    assert none["url"] is None and not none["available"]
    status, _, body, _ = fetch(op, f"http://{none['host']}/")
    assert status == 502 and b"DNS" in body


# --- open-data platforms ---------------------------------------------------------------------
def counters(html: str) -> tuple[int | None, int | None]:
    text = re.sub(r"<[^>]+>", " ", html)

    def one(label: str) -> int | None:
        m = re.search(rf"{label}\s*(?:（[个项]）)?\s*([\d,]+|--)", text) or \
            re.search(rf"([\d,]+)\s*(?:[个项])?\s*{label}", text)
        return int(m.group(1).replace(",", "")) if m and m.group(1) != "--" else None
    return one(DATASET_COUNTER), one(API_COUNTER)


def pages_size(html: str) -> int:
    return len(re.findall(r'<li><a href="[^"]*/catalog/detail/', html))


def check_rows(p: dict, rows: list[tuple[set[str], date]], page_size: int = 0) -> None:
    """The first datasets (the truth's sample) against the truth's shares; with ``page_size``, any
    number of whole list pages gives the same shares."""
    since = date.fromisoformat(p["fresh_since"])
    rows = rows[:p["sample_size"]]
    assert len(rows) == p["sample_size"] and min(SAMPLE, p["dataset_count"]) <= p["sample_size"] <= p["dataset_count"]
    cuts = [len(rows)] + ([k for k in range(page_size, len(rows) + 1, page_size)] if page_size else [])
    for k in cuts:
        assert round(sum(bool(f & MACHINE_READABLE) for f, _ in rows[:k]) / k, 4) == p["machine_readable_share"], k
        assert round(sum(d >= since for _, d in rows[:k]) / k, 4) == p["fresh_share"], k
    assert all(d <= date(2023, 10, 31) for _, d in rows)


def test_server_rendered_catalogue_matches_counters_and_truth(served, picked):
    op, p = served[0], plat(served, picked, "data_odweb")
    status, home = get_text(op, p["url"])
    assert status == 200 and counters(home) == (p["dataset_count"], p["api_count"])
    first = next(u for u in hrefs(home, p["url"]) if "catalog/index" in u)
    rows, page, pages = [], first, 0
    while page and len(rows) < p["sample_size"]:
        status, html = get_text(op, page)
        assert status == 200
        pages += 1
        for fmts, day in re.findall(r"</a><p>[^<]*((?:<span class=\"format [a-z]+\">[A-Z]+</span>)+)"
                                    r"\s*(?:更新时间|最后更新|更新日期)：(\d{4}-\d\d-\d\d)</p>", html):
            rows.append(({f.lower() for f in re.findall(r">([A-Z]+)<", fmts)}, date.fromisoformat(day)))
        nxt = re.search(r'<a href="([^"]+)">下一页</a>', html)
        page = urljoin(page, nxt.group(1)) if nxt else None
    assert pages == math.ceil(p["sample_size"] / pages_size(get_text(op, first)[1]))
    check_rows(p, rows, pages_size(get_text(op, first)[1]))
    last = math.ceil(p["dataset_count"] / pages_size(get_text(op, first)[1]))  # pagination ends where the counter says
    status, html = get_text(op, urljoin(first, f"index_{last - 1}.html"))
    assert status == 200 and "下一页" not in html
    assert get_text(op, urljoin(first, f"index_{last}.html"))[0] == 404
    detail = p["urls"]["datasets"][0]
    status, html = get_text(op, detail)
    files = [u for u in hrefs(html, detail) if "/download/" in u]
    assert status == 200 and files
    for f in set(files):
        status, headers, body, _ = fetch(op, f)
        assert status == 200 and body
        if f.endswith(".csv"):
            assert body.decode("utf-8").count("\n") >= 3


@pytest.mark.parametrize("name", ["data_spa_get", "data_spa_post"])
def test_spa_catalogue_json_is_paginated_consistently(served, picked, name):
    op, p = served[0], plat(served, picked, name)
    status, home = get_text(op, p["url"])
    placeholder = any(t["kind"] == "placeholder_counter" for t in p["traps"])
    # counters are filled by script: the HTML shows -- (or a trap: 0) until then
    assert status == 200 and counters(home) == ((0, 0) if placeholder else (None, None))
    stats_url = urljoin(p["url"], re.search(r'axios\.get\("([^"]*statistics)"\)', home).group(1))
    stats = get_json(op, stats_url)["data"]
    assert (stats["datasetNum"], stats["apiNum"]) == (p["dataset_count"], p["api_count"])
    rows: list[tuple[set[str], date]] = []
    if p["list_api"] == "get":
        api = urljoin(p["url"], re.search(r'axios\.get\("([^"]*api/dataset/list\?[^"]*)"\)', home).group(1))
        first = get_json(op, api)["data"]
        assert first["pages"] == math.ceil(first["total"] / first["size"]) and first["total"] == p["dataset_count"]
        for n in range(1, math.ceil(p["sample_size"] / first["size"]) + 1):
            for r in get_json(op, api.replace("page=1", f"page={n}"))["data"]["rows"]:
                rows.append(({f.lower() for f in r["formats"]}, date.fromisoformat(r["updateTime"][:10])))
        last = get_json(op, api.replace("page=1", f"page={first['pages']}"))["data"]["rows"]
        assert len(last) == first["total"] - (first["pages"] - 1) * first["size"]
        assert get_json(op, api.replace("page=1", f"page={first['pages'] + 1}"))["data"]["rows"] == []
        check_rows(p, rows, first["size"])
    else:
        api = urljoin(p["url"], re.search(r'axios\.post\("([^"]*api/dataset/search)"', home).group(1))
        assert fetch(op, api)[0] == 405  # the search answers POST only
        first = get_json(op, api, {"pageNo": 1, "pageSize": 10})["result"]
        assert first["totalCount"] == p["dataset_count"]
        for n in range(1, math.ceil(p["sample_size"] / 10) + 1):
            for r in get_json(op, api, {"pageNo": n, "pageSize": 10})["result"]["data"]:
                rows.append((set(r["fileFormat"].split(",")), date(*map(int, r["lastUpdate"].split("/")))))
    check_rows(p, rows)


def test_data_variants_zero_stale_licence_showcase(served, picked):
    op = served[0]
    zero = plat(served, picked, "data_zero")
    status, home = get_text(op, zero["url"])
    assert status == 200 and zero["dataset_count"] == 0 and zero["machine_readable_share"] is None
    if zero["dialect"] == "odweb":
        assert counters(home)[0] == 0
    stale = plat(served, picked, "data_stale")
    assert stale["fresh_share"] < 0.4 and stale["fresh_since"] == "2023-04-30"
    lic = plat(served, picked, "data_placeholder_licence")
    assert not lic["open_licence"]
    url = next(t["urls"][0] for t in lic["traps"] if t["kind"] == "placeholder_licence")
    status, html = get_text(op, url)
    assert status == 200 and "许可" in html and "免费" not in html and "完善中" in html
    empty = plat(served, picked, "data_empty_showcase")
    url = next(t["urls"][0] for t in empty["traps"] if t["kind"] == "empty_showcase")
    status, html = get_text(op, url)
    assert status == 200 and "暂无" in html and not empty["reuse_showcase"]
    good = plat(served, picked, "data_showcase")
    for key, words in (("licence_url", "免费"), ("requests_url", "<form"), ("showcase_url", "<h4>")):
        status, html = get_text(op, good[key])
        assert status == 200 and words in html, key
        assert good[key] in [u for u in hrefs(get_text(op, good["url"])[1], good["url"])]


def test_truth_is_deterministic_and_follows_the_year():
    registry = load_registry(DEFAULT_REGISTRY)
    a = truth(registry, 2023)["sites"]
    b = truth(registry, 2023)["sites"]
    assert {s: t["platforms"] for s, t in a.items()} == {s: t["platforms"] for s, t in b.items()}
    old = truth(registry, 2023, year=2022)["sites"]
    assert {t["platforms"]["data"]["fresh_since"] for t in old.values()} == {"2022-04-30"}
    live = [s for s, t in a.items() if t["platforms"]["data"]["available"]]
    assert len(live) > len(a) / 3 and any(a[s]["platforms"]["data"]["url"] == old[s]["platforms"]["data"]["url"]
                                          for s in live)
    kinds = {(t["platforms"]["service"]["dialect"], t["platforms"]["data"]["dialect"]) for t in a.values()}
    assert {"kaipu", "spa"} <= {k for k, _ in kinds} and {"odweb", "spa"} <= {k for _, k in kinds}


def test_platform_leaves_follow_the_facts_and_the_rule_tiers(served):
    import yaml

    from tests.conftest import ROOT

    def tiers(leaf: str) -> tuple[float, list[tuple[float, float]]]:
        d = yaml.safe_load((ROOT / "rules" / "leaves" / f"{leaf}.yaml").read_text(encoding="utf-8"))
        rule = next(r for r in d["rules"] if r.get("tiers"))
        return float(d["points"]), [(float(t["min"]), float(t["points"])) for t in rule["tiers"]["points"]]

    facts = {"dataset_count": ("data", "dataset_count"), "api_count": ("data", "api_count"),
             "machine_readable_share": ("data", "machine_readable_share"), "data_freshness": ("data", "fresh_share"),
             "guide_completeness": ("service", "guide_completeness"),
             "online_transaction_depth": ("service", "online_share")}
    seen = set()
    for s in served[1]["sites"].values():
        for leaf, (kind, key) in facts.items():
            value = s["platforms"][kind][key] or 0
            points, steps = tiers(leaf)
            want = max((p for lo, p in steps if value >= lo), default=0.0) / points
            lt = s["leaves"][leaf]
            assert lt["points_share"] == pytest.approx(want) and lt["present"] == (want > 0), (leaf, value)
            seen.add((leaf, want))
        for leaf, kind, key in (("service_portal_available", "service", "available"),
                                ("open_data_available", "data", "available"),
                                ("unified_login", "service", "unified_login"),
                                ("hotline_web_form", "service", "web_form_12345"),
                                ("open_data_licence", "data", "open_licence")):
            assert s["leaves"][leaf]["present"] == s["platforms"][kind][key], leaf
    assert len({w for leaf, w in seen if leaf == "dataset_count"}) >= 3  # several tiers among the picked sites
