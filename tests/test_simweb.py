"""The simulated government web: determinism, truth reachability, and the proxy over real loopback HTTP."""

from __future__ import annotations

import csv
import io
import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from evidence.registry import DEFAULT_REGISTRY, load_registry, parse_registry
from simweb.check import link_depths, page_html
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
    reader = csv.DictReader(io.StringIO(registry.text))
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=reader.fieldnames)
    w.writeheader()
    for row in reader:
        if row["site_id"] in picked:
            w.writerow(row)
    path = tmp_path_factory.mktemp("simweb") / "registry.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    with SimWebProcess(str(path), seed=2023) as proc:
        yield proc, parse_registry(out.getvalue(), str(path))


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
        assert set(s["leaves"]) == LEAVES
        for leaf in s["leaves"].values():
            assert leaf["points_share"] == (1.0 if leaf["present"] else 0.0)
            assert bool(leaf["urls"]) == leaf["present"]
            assert all(u.startswith(f"https://{s['host']}/") for u in leaf["urls"] + leaf["traps"])


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
            if not leaf["present"]:
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
            urls = leaf["urls"][:12] + leaf["traps"][:6]
            for url in urls:
                status, _, _, final = fetch(op, url)
                if status == 503:  # the flaky page: 503 once, then 200
                    status, _, _, final = fetch(op, url)
                assert status == 200 and final == url, url
                checked += 1
    assert checked > 20
