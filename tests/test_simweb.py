"""The simulated government web: determinism, truth reachability, and the proxy over real loopback HTTP."""

from __future__ import annotations

import csv
import io
import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from evidence.registry import DEFAULT_REGISTRY, load_registry, parse_registry
from simweb.check import link_depths, links, page_html
from simweb.generate import SimWeb, build_site, site_truth, truth, write_truth
from simweb.server import SimWebProcess

LEAVES = {"hotline_12345", "service_portal_link", "open_data_link", "data_security_regulation",
          "digital_gov_plan", "policy_interpretation"}


@pytest.fixture(scope="module")
def registry():
    return load_registry(DEFAULT_REGISTRY)


@pytest.fixture(scope="module")
def web(registry):
    return SimWeb(registry, 2023)


@pytest.fixture(scope="module")
def picked(web):
    """One site per template family, plus a GBK site."""
    models = web.models()
    chosen = {}
    for m in models:
        chosen.setdefault(m.family.name, m.site_id)
    gbk = next(m.site_id for m in models if m.encoding == "gbk")
    return list(dict.fromkeys([*chosen.values(), gbk]))


@pytest.fixture(scope="module")
def proxy(registry, picked, tmp_path_factory):
    """A real server in a child process, serving a registry subset (the picked sites)."""
    path = write_subset(registry, picked, tmp_path_factory.mktemp("simweb") / "registry.csv")
    with SimWebProcess(str(path), seed=2023) as proc:
        yield proc, parse_registry(path.read_text(encoding="utf-8"), str(path))


def write_subset(registry, site_ids, path: Path) -> Path:
    """Write the rows of ``registry`` whose site is in ``site_ids`` as a registry CSV at ``path``."""
    reader = csv.DictReader(io.StringIO(registry.text))
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=reader.fieldnames)
    w.writeheader()
    wanted = set(site_ids)
    for row in reader:
        if row["site_id"] in wanted:
            w.writerow(row)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def opener(proxy_url: str, follow: bool = True) -> urllib.request.OpenerDirector:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    handlers = [urllib.request.ProxyHandler({"http": proxy_url, "https": proxy_url}),
                urllib.request.HTTPSHandler(context=ctx)]
    if not follow:
        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **k):
                return None
        handlers.append(NoRedirect())
    return urllib.request.build_opener(*handlers)


def fetch(op, url: str):
    try:
        with op.open(url, timeout=10) as r:
            return r.status, r.headers, r.read(), r.geturl()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read(), url


# --- generation ------------------------------------------------------------------------------
def test_same_seed_same_pages_and_truth(registry):
    site = registry.sites[7]
    a, b = build_site(site, 2023), build_site(site, 2023)
    assert list(a.pages) == list(b.pages)
    for path in list(a.pages)[::7]:
        assert page_html(a, path) == page_html(b, path)
    assert site_truth(a) == site_truth(b)
    c = build_site(site, 2024)
    assert site_truth(c) != site_truth(a)


def test_truth_file_shape_and_determinism(registry, tmp_path):
    sub = parse_registry("\n".join(registry.text.splitlines()[:12]) + "\n")
    p1, p2 = write_truth(sub, 7, tmp_path / "a.json"), write_truth(sub, 7, tmp_path / "b.json")
    assert p1.read_bytes() == p2.read_bytes()
    t = json.loads(p1.read_text(encoding="utf-8"))
    assert t["seed"] == 7 and t["as_of"] == "2023-10-31"
    for s in t["sites"].values():
        assert set(s) >= {"host", "template", "encoding", "pages", "leaves"}
        assert set(s["leaves"]) >= LEAVES  # later issues add leaves
        for leaf in s["leaves"].values():
            assert (0.0 < leaf["points_share"] <= 1.0) if leaf["present"] else leaf["points_share"] == 0.0
            assert bool(leaf["urls"]) == leaf["present"]
            # the portal's own pages, or its service portal's / open-data platform's (simweb.platforms)
            hosts = {s["host"]} | {p["host"] for p in s["platforms"].values()} | \
                {p["linked_url"].split("/")[2].split(":")[0] for p in s["platforms"].values() if p["linked_url"]}
            assert all(urlsplit(u).hostname in hosts or urlsplit(u).hostname.startswith("tyrz.")
                       for u in leaf["urls"] + leaf["traps"])
            assert all(u.startswith(f"https://{s['host']}/") for u in leaf["urls"] + leaf["traps"]
                       if urlsplit(u).hostname == s["host"])


def test_sites_vary_and_have_realistic_size(web):
    models = web.models()
    assert {m.family.name for m in models} == {"trs", "hanweb", "ucap"}
    assert {m.encoding for m in models} == {"utf-8", "gbk"}
    assert all(100 <= len(m.pages) <= 300 for m in models)
    t = truth(web.registry, 2023)
    for leaf in LEAVES:
        share = sum(s["leaves"][leaf]["present"] for s in t["sites"].values()) / len(t["sites"])
        assert 0.5 <= share <= 0.9, (leaf, share)
        assert any(s["leaves"][leaf]["traps"] for s in t["sites"].values()), leaf


def test_every_truth_url_is_within_depth_3(web):
    for m in web.models():
        depths = link_depths(m, 3)
        for leaf_id, leaf in site_truth(m)["leaves"].items():
            if not leaf["present"] or "probe" in leaf["reach"]:  # probe: an unlinked path (error_page)
                continue
            if "scope" in leaf:  # a platform leaf: on the platform's hosts (tests/test_simweb_platforms.py)
                continue
            if leaf["sitewide"]:
                assert m.base + "/" in leaf["urls"]
            else:
                far = [u for u in leaf["urls"] if depths.get(u, 99) > 3]
                assert not far, (m.site_id, leaf_id, far)


# --- the proxy over loopback ---------------------------------------------------------------
def test_https_through_connect_and_http_redirect(proxy):
    proc, reg = proxy
    op = opener(proc.proxy_url)
    for site in reg.sites:
        status, headers, body, _ = fetch(op, site.portal_url)
        assert status == 200 and b"<html" in body
    host = reg.sites[0].host
    status, headers, _, _ = fetch(opener(proc.proxy_url, follow=False), f"http://{host}/")
    assert status == 301 and headers["Location"] == f"https://{host}/"
    status, _, _, final = fetch(op, f"http://{host}/")
    assert status == 200 and final == f"https://{host}/"
    assert fetch(op, f"https://{host}/no/such/page.html")[0] == 404
    status, _, body, _ = fetch(op, f"https://{host}/robots.txt")
    assert status == 200 and b"Disallow: /search/" in body


def test_gbk_site_decodes_with_declared_charset(proxy, web):
    proc, reg = proxy
    site = next(s for s in reg.sites if web.model(s.host).encoding == "gbk")
    status, headers, body, _ = fetch(opener(proc.proxy_url), site.portal_url)
    assert status == 200
    assert headers.get_content_charset().lower() == "gbk"
    assert b'charset=gbk' in body
    text = body.decode("gbk")
    assert site.name_zh in text
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")


def test_unknown_host_is_502(proxy):
    proc, _ = proxy
    op = opener(proc.proxy_url)
    status, _, body, _ = fetch(op, "http://www.not-in-registry.example/")
    assert status == 502 and b"not in the registry" in body
    with pytest.raises(urllib.error.URLError):
        op.open("https://www.not-in-registry.example/", timeout=5)


def test_flaky_page_and_calendar_trap(proxy, web):
    proc, reg = proxy
    op = opener(proc.proxy_url)
    m = web.model(reg.sites[0].host)
    flaky = m.base + next(iter(m.flaky))
    assert fetch(op, flaky)[0] == 503
    assert fetch(op, flaky)[0] == 200
    url = m.base + m.ident["calendar"]
    for _ in range(4):  # the next link never runs out
        status, _, body, _ = fetch(op, url)
        assert status == 200
        nxt = [h for h in body.decode(m.encoding).split('href="')[1:] if "下" in h.split("</a>")[0]]
        url = m.base + nxt[0].split('"')[0].replace("&amp;", "&")


def test_truth_urls_answer_200_through_the_proxy(proxy):
    proc, reg = proxy
    t = json.loads(Path(proc.truth_path).read_text(encoding="utf-8"))
    assert set(t["sites"]) == {s.site_id for s in reg.sites}
    op = opener(proc.proxy_url)
    checked = 0
    for s in t["sites"].values():
        for leaf in s["leaves"].values():
            urls = leaf["urls"][:12] + leaf["traps"][:6] if "probe" not in leaf["reach"] else []
            urls = [u for u in urls if u not in leaf.get("post_urls", [])]  # POST-only list APIs
            for url in urls:
                status, _, _, final = fetch(op, url)
                if status == 503:  # the flaky page: 503 once, then 200
                    status, _, _, final = fetch(op, url)
                assert status == 200 and final == url, url
                checked += 1
    assert checked > 20


# --- faults="full": the real web's faults ------------------------------------------------------------
@pytest.fixture(scope="module")
def full_web(registry):
    return SimWeb(registry, 2023, "full")


@pytest.fixture(scope="module")
def full_picked(full_web):
    """Sites showing each fault: challenges, each JS-nav variant, onclick, attachments, charsets."""
    models = full_web.models()
    want = {}
    for m in models:
        keys = [f"challenge_{m.challenge}" if m.challenge else "", f"js_{m.js_nav}" if m.js_nav else "",
                f"charset_{m.charset_fault}" if m.charset_fault else ""]
        keys += [f"{d['kind']}_{d.get('format', '')}" for d in m.fault_details if d["kind"] == "attachment_only"]
        keys += [f"onclick_{d['variant']}" for d in m.fault_details if d["kind"] == "onclick_link"]
        for k in filter(None, keys):
            if m.challenge and not k.startswith("challenge"):
                continue  # keep the other faults testable by a plain client
            want.setdefault(k, m.site_id)
    return want


@pytest.fixture(scope="module")
def full_proxy(registry, full_picked, tmp_path_factory):
    path = write_subset(registry, full_picked.values(), tmp_path_factory.mktemp("simweb-full") / "registry.csv")
    with SimWebProcess(str(path), seed=2023, faults="full") as proc:
        yield proc, json.loads(Path(proc.truth_path).read_text(encoding="utf-8"))


def test_full_faults_cover_a_minority_each_and_basic_has_none(registry, full_web, full_picked):
    from simweb.faults import JS_NAV_VARIANTS, ONCLICK_STYLES

    assert {"challenge_412", "challenge_521", *(f"js_{v}" for v in JS_NAV_VARIANTS),
            *(f"onclick_{v}" for v in ONCLICK_STYLES), "attachment_only_pdf", "attachment_only_docx",
            "charset_header_utf8", "charset_undeclared",
            "charset_malformed_meta"} <= set(full_picked)
    t = truth(registry, 2023, "full")
    n = len(t["sites"])
    for fault in ("js_nav", "attachment_only", "corrupt_attachment", "oversized_page", "stalled_page"):
        share = sum(fault in s["faults"] for s in t["sites"].values()) / n
        assert 0.02 <= share <= 0.25, (fault, share)
    assert any(s["challenge"] for s in t["sites"].values())
    basic = truth(registry, 2023)
    assert all(not s["faults"] and not s["fault_details"] for s in basic["sites"].values())
    # a site without faults is the same page for page in both modes
    m_full = next(m for m in full_web.models() if not m.faults)
    m_basic = build_site(next(s for s in registry.sites if s.site_id == m_full.site_id), 2023)
    for path in list(m_basic.pages)[::11]:
        assert page_html(m_basic, path) == page_html(m_full, path)


def test_full_truth_reach_and_plain_depth(full_web):
    for m in full_web.models():
        t = site_truth(m)
        depths = link_depths(m, 4)
        for leaf_id, leaf in t["leaves"].items():
            if not leaf["present"]:
                assert not leaf["attachment_urls"]
                continue
            assert set(leaf["attachment_urls"]) <= set(leaf["urls"])
            if {"js_only", "onclick", "probe"} & set(leaf["reach"]) or leaf["sitewide"] or "scope" in leaf:
                continue  # scope: a platform leaf, on the platform's hosts (tests/test_simweb_platforms.py)
            near = [u for u in leaf["urls"] if depths.get(u, 99) <= 3]
            assert near, (m.site_id, leaf_id)
            for u in leaf["attachment_urls"]:  # one step beyond its parent document
                assert depths.get(u, 99) <= 4, (m.site_id, leaf_id, u)


def _site(truth_table: dict, site_id: str) -> dict:
    return truth_table["sites"][site_id]


def test_challenge_stops_plain_clients(full_proxy, full_picked, full_web):
    proc, t = full_proxy
    import http.cookiejar

    from simweb.faults import challenge_cookie_for
    for key, status in (("challenge_412", 412), ("challenge_521", 521)):
        s = _site(t, full_picked[key])
        home = f"{s['scheme']}://{s['host']}/"
        jar = http.cookiejar.CookieJar()
        op = opener(proc.proxy_url)
        op.add_handler(urllib.request.HTTPCookieProcessor(jar))
        got, headers, body, _ = fetch(op, home)
        assert got == status and len(body) < 3000 and b"document.cookie" in body
        assert s["challenge"]["issued_cookie"] in headers["Set-Cookie"]
        got, _, _, _ = fetch(op, home)  # the jar echoes the issued cookie: still challenged
        assert got == status
        token = next(c.value for c in jar if c.name == s["challenge"]["issued_cookie"])
        name = s["challenge"]["computed_cookie"]
        bad = urllib.request.Request(home, headers={"Cookie": f"{s['challenge']['issued_cookie']}={token}; "
                                                              f"{name}=0123456789abcdef"})
        with pytest.raises(urllib.error.HTTPError) as e:
            opener(proc.proxy_url).open(bad, timeout=10)
        assert e.value.code == status
        good = urllib.request.Request(home, headers={"Cookie": challenge_cookie_for(full_web.model(s["host"]), token)})
        with opener(proc.proxy_url).open(good, timeout=10) as r:
            assert r.status == 200 and b"<html" in r.read()


def test_attachments_are_real_files(full_proxy, full_picked):
    proc, t = full_proxy
    op = opener(proc.proxy_url)
    for key in ("attachment_only_pdf", "attachment_only_docx"):
        s = _site(t, full_picked[key])
        d = next(d for d in s["fault_details"] if d["kind"] == "attachment_only" and d["format"] in key)
        status, _, parent, _ = fetch(op, d["parent"])
        assert status == 200 and "详见附件".encode(s["encoding"]) in parent
        status, headers, body, final = fetch(op, d["link"])
        assert status == 200 and final == d["urls"][0] and final in s["leaves"][d["leaf"]]["urls"]
        if d["format"] == "pdf":
            assert body.startswith(b"%PDF-") and b"%%EOF" in body[-64:]
            pypdf = pytest.importorskip("pypdf")
            text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(body)).pages)
        else:
            assert body.startswith(b"PK\x03\x04")
            docx = pytest.importorskip("docx")
            text = "\n".join(p.text for p in docx.Document(io.BytesIO(body)).paragraphs)
        assert "发布机构" in text and ("〔" in text or "令" in text)
        assert d["parent"] in s["leaves"][d["leaf"]]["urls"]


def test_charset_faults(full_proxy, full_picked):
    proc, t = full_proxy
    op = opener(proc.proxy_url)
    for key in ("charset_header_utf8", "charset_undeclared", "charset_malformed_meta"):
        s = _site(t, full_picked[key])
        d = next(d for d in s["fault_details"] if d["kind"] == key)
        status, headers, body, _ = fetch(op, d["urls"][0])
        assert status == 200
        text = body.decode("gbk")
        assert "李堃" in text  # a GBK-only character: gb2312 cannot decode the page
        with pytest.raises(UnicodeDecodeError):
            body.decode("gb2312")
        with pytest.raises(UnicodeDecodeError):
            body.decode("utf-8")
        charset = headers.get_content_charset()
        if key == "charset_header_utf8":
            assert charset == "utf-8"
        else:
            head = body.split(b"</head>", 1)[0]
            assert charset is None and b"http-equiv" not in head and b"<meta charset" not in head
            assert (b'<meta httpequiv="ContentType"' in head) == (key == "charset_malformed_meta")


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def test_chromium_passes_challenges_and_sees_script_built_links(full_proxy, full_picked):
    """A real browser (Debian's Chromium via Playwright) gets what a plain client cannot."""
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    proc, t = full_proxy
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, proxy={"server": proc.proxy_url}, args=CHROMIUM_ARGS)
        try:
            for key in ("challenge_412", "challenge_521"):
                s = _site(t, full_picked[key])
                ctx = browser.new_context(ignore_https_errors=True)
                page = ctx.new_page()
                page.goto(f"{s['scheme']}://{s['host']}/", wait_until="load")
                page.wait_for_function("document.querySelector('div.footer') !== null", timeout=15000)
                assert page.title() and "网站地图" in page.content()
                # the cookie holds for the session: the next page is served at once
                resp = page.goto(f"{s['scheme']}://{s['host']}/robots.txt")
                assert resp is not None and resp.status == 200
                ctx.close()
            op = opener(proc.proxy_url)
            for key in ("js_document_write", "js_array_timeout", "js_xhr_json", "js_write_concat", "js_map_join",
                        "js_json_template", "onclick_window_open"):
                s = _site(t, full_picked[key])
                home = f"{s['scheme']}://{s['host']}/"
                static = fetch(op, home)[2].decode(s["encoding"])
                static_links = set(links(static, home))
                ctx = browser.new_context(ignore_https_errors=True)
                page = ctx.new_page()
                page.goto(home, wait_until="load")
                page.wait_for_timeout(800)  # array_timeout builds after 300 ms; xhr_json after load
                dom_links = set(page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"))
                if key == "onclick_window_open":
                    target = page.locator("a[onclick*='window.open']").first
                    assert target.count() == 1 and target.get_attribute("href").startswith("javascript:")
                    with ctx.expect_page() as new:
                        target.click()
                    assert new.value.url.startswith("http") and urlsplit(new.value.url).hostname != s["host"]
                else:
                    built = dom_links - static_links
                    assert len(built) >= 4, (key, built)
                    nav_static = static.split('<div class="nav">', 1)[1].split("</div>", 1)[0]
                    assert len(links(nav_static, home)) == 1  # only 首页 without scripts
                    if any("js_only" in leaf["reach"] for leaf in s["leaves"].values()):
                        # the leaf's outbound entry (service portal / open data / 12345) appears only now
                        assert any(urlsplit(u).hostname != s["host"] for u in built), (key, built)
                ctx.close()
        finally:
            browser.close()
