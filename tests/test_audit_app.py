"""The auditors' web application (audit/app.py) on real components: a real store with real pages in
a real WARC, evidence from a real extraction with the project's rules, the real decision ledger,
a real waitress server on a free local port, and plain HTTP requests (http.client)."""

from __future__ import annotations

import http.client
import io
import json
import re
import sqlite3
import threading
import uuid
from pathlib import Path
from urllib.parse import quote, urlencode

import lxml.html
import pytest
from test_extract import _add_page, hangzhou_campaign

from audit import accounts
from audit.app import AuditError, create_app, make_server
from audit.cli import AuditCliError, add_audit_parser, read_password
from audit.ledger import load_ledger
from evidence.store import Store, StoreError, now_iso
from extractors.rules import load_rules
from extractors.run import extract
from scoring.run import score

ROOT = Path(__file__).resolve().parent.parent
C = "c2023"
HZ = "https://www.hangzhou.gov.cn"
TARGET = "capital-330100"
HOSTILE_URL = HZ + "/col/col1229/hostile.html"
# a page whose visible text carries markup (escaped in its HTML), and whose markup carries scripts,
# handlers, live URLs and javascript: links
HOSTILE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>测试页 &lt;script&gt;</title>
<meta http-equiv="refresh" content="0; url=https://live.example.org/refresh">
<base href="https://live.example.org/">
<link rel="stylesheet" href="https://live.example.org/site.css"><link rel="prefetch" href="https://live.example.org/p">
<script>document.title = 'ran';</script><script src="https://live.example.org/app.js"></script>
<style>body { background: url(https://live.example.org/bg.png) }</style></head>
<body onload="alert('onload')">
<div class="footer"><a href="http://12345.hangzhou.gov.cn/" target="_blank">12345政务服务便民热线</a></div>
<p>注意 &lt;script&gt;alert(1)&lt;/script&gt; 与 &lt;img src=x onerror=alert(2)&gt; 以及 javascript:alert(3) 都是文字</p>
<img src="https://live.example.org/track.png" onerror="alert(4)" srcset="https://live.example.org/a.png 2x">
<img src="/images/logo.png"><a href="javascript:alert(5)">点我</a><a href="/">首页</a>
<iframe src="https://live.example.org/frame"></iframe><form action="https://live.example.org/post"><input></form>
<svg><a href="javascript:alert(6)"><text>x</text></a></svg>
</body></html>"""
PASSWORD = "correct horse battery"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")


# --- the world: store, extraction, accounts, a running server -----------------------------------
@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("audit")
    path = tmp / "store" / "audit.db"
    with Store(path) as store:
        a = hangzhou_campaign(store, C)
        _add_page(store, a, C, "330100", HOSTILE_URL, HOSTILE.encode("utf-8"), "text/html; charset=utf-8", "utf-8")
        # the browser's rendered DOM of the hostile page, and a screenshot of it
        ref = a.write_response(HOSTILE_URL, 200, "OK", [("Content-Type", "text/html; charset=utf-8")],
                               HOSTILE.replace("测试页", "渲染后").encode("utf-8"), now_iso(), record_type="resource")
        a.close()
        shot = store.campaign_dir(C) / "shots" / "hostile.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        shot.write_bytes(PNG)
        store.conn.execute("update pages set rendered_warc_offset = ?, screenshot = ? where url = ?",
                           [ref.offset, "shots/hostile.png", HOSTILE_URL])
        store.conn.execute("update pages set screenshot = '../../../etc/passwd' where url = ?", [HZ + "/"])
        store.conn.commit()
        extract(store, C, load_rules(ROOT / "rules"))
        score(store, C, load_rules(ROOT / "rules"), run_id="r1")
        accounts.add_user(store, "alice", PASSWORD)
        accounts.add_user(store, "bob", PASSWORD)
    server = make_server(path, host="127.0.0.1", port=0, rules_path=ROOT / "rules")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield {"path": path, "port": int(server.effective_port), "tmp": tmp}
    server.close()
    thread.join(timeout=5)


class Client:
    """HTTP/1.1 requests with one cookie jar (the session cookie) and no redirect following."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}
        self.token = ""
        self.set_cookie: list[str] = []

    def request(self, method: str, path: str, *, body: bytes | None = None, headers: dict | None = None,
                json_body: object = None, form: dict | None = None) -> tuple[int, dict, bytes]:
        h = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            h["Content-Type"] = "application/json"
        if form is not None:
            body = urlencode(form, doseq=True).encode()
            h["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            data = resp.read()
            self.set_cookie = resp.headers.get_all("Set-Cookie") or []
            for c in self.set_cookie:
                name, _, rest = c.partition("=")
                value = rest.split(";", 1)[0]
                if value:
                    self.cookies[name] = value
                else:
                    self.cookies.pop(name, None)
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def get(self, path: str) -> tuple[int, dict, str]:
        status, headers, data = self.request("GET", path)
        return status, headers, data.decode("utf-8", errors="replace")

    def login(self, user: str = "alice", password: str = PASSWORD) -> int:
        status, _, data = self.request("POST", "/api/login", json_body={"username": user, "password": password})
        if status == 200:
            self.token = json.loads(data)["csrf_token"]
        return status

    def decide(self, payload: dict, token: str | None = None) -> tuple[int, dict]:
        status, _, data = self.request("POST", "/api/decisions", json_body=payload,
                                       headers={"X-CSRF-Token": self.token if token is None else token})
        return status, json.loads(data or b"{}")


def _decision_count(world) -> int:
    conn = sqlite3.connect(world["path"])
    try:
        return conn.execute("select count(*) from decisions").fetchone()[0]
    finally:
        conn.close()


def _items(world) -> dict:
    with Store(world["path"]) as store:
        return load_ledger(store, C).items


def _hostile_item(world):
    return next(i for i in _items(world).values() if i.url == HOSTILE_URL and i.rule_id)


@pytest.fixture
def alice(world) -> Client:
    c = Client(world["port"])
    assert c.login() == 200
    return c


# --- sign-in and the write guards ----------------------------------------------------------------
def test_login_sets_a_safe_session_cookie_and_refuses_bad_credentials(world):
    c = Client(world["port"])
    assert c.login("alice", "wrong password") == 401
    assert c.login("nobody", PASSWORD) == 401
    status, _, data = c.request("POST", "/api/login", body=b"username=alice", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400  # JSON only: a cross-site form cannot sign someone in
    assert c.login() == 200 and c.token
    cookie = next(s for s in c.set_cookie if s.startswith("windvane_audit="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    status, _, body = c.get("/api/targets")
    assert status == 200
    targets = json.loads(body)
    assert {t["target_id"] for t in targets} >= {TARGET}
    assert all({"target_id", "name_zh", "group", "site_id", "progress"} <= set(t) for t in targets)


def test_pages_and_api_need_a_session(world):
    c = Client(world["port"])
    status, headers, _ = c.get("/")
    assert status == 302 and "/login" in headers["location"]
    assert c.get("/api/targets")[0] == 401
    assert c.get(f"/api/evidence?target={TARGET}")[0] == 401
    status, _, html = c.get("/login")
    assert status == 200 and 'name="username"' in html and "登录" in html


def test_decisions_need_a_session_then_the_csrf_token(world, alice):
    item = _hostile_item(world)
    before = _decision_count(world)
    anon = Client(world["port"])
    assert anon.decide({"evidence_id": item.id, "decision": "confirm"}, token="x")[0] == 401
    status, _, _ = alice.request("POST", "/api/decisions", json_body={"evidence_id": item.id, "decision": "confirm"})
    assert status == 403  # no X-CSRF-Token header
    assert alice.decide({"evidence_id": item.id, "decision": "confirm"}, token="not-the-token")[0] == 403
    # a form post without the token is refused the same way
    assert alice.request("POST", "/decide", form={"evidence_id": item.id, "decision": "confirm"})[0] == 403
    assert _decision_count(world) == before
    status, row = alice.decide({"evidence_id": item.id, "decision": "reject", "reason": "wrong_page",
                                "note": "测试 <b>note</b>"})
    assert status == 201, row
    assert row["id"] and row["who"] == "alice" and row["evidence_id"] == item.id and row["decision"] == "reject"
    assert _decision_count(world) == before + 1
    # errors from the ledger keep their status: unknown evidence 404, a reject without reason 400
    assert alice.decide({"evidence_id": "ev_nope", "decision": "confirm"})[0] == 404
    assert alice.decide({"evidence_id": item.id, "decision": "reject"})[0] == 400
    assert alice.decide({"decision": "undo", "undoes": 10 ** 9})[0] == 404
    # the API lists it, the latest decision wins
    _, _, body = alice.get(f"/api/evidence?target={TARGET}")
    got = next(e for e in json.loads(body) if e["id"] == item.id)
    assert got["status"] == "rejected" and got["decision"]["reason"] == "wrong_page"
    assert {"id", "leaf_id", "rule_id", "url", "snippet", "machine_verdict", "decision"} <= set(got)
    assert alice.decide({"evidence_id": item.id, "decision": "confirm"})[0] == 201


def test_no_route_updates_or_deletes_a_decision(world, alice):
    item = _hostile_item(world)
    status, row = alice.decide({"evidence_id": item.id, "decision": "confirm"})
    assert status == 201
    before = _decision_count(world)
    for method in ("PUT", "DELETE", "PATCH"):
        for path in ("/api/decisions", f"/api/decisions/{row['id']}", "/decide"):
            status, _, _ = alice.request(method, path, json_body={"id": row["id"], "decision": "reject"},
                                         headers={"X-CSRF-Token": alice.token})
            assert status in (404, 405), (method, path, status)
        assert alice.request(method, "/api/decisions", headers={"X-CSRF-Token": alice.token})[0] == 405
    assert _decision_count(world) == before
    # and the store itself refuses (the ledger's triggers)
    conn = sqlite3.connect(world["path"])
    with pytest.raises(sqlite3.DatabaseError):
        conn.execute("delete from decisions")
    conn.close()
    # an undo is a new decision
    status, undo = alice.decide({"decision": "undo", "undoes": row["id"]})
    assert status == 201 and undo["undoes"] == row["id"]
    assert _decision_count(world) == before + 1


# --- what page-derived text can do ---------------------------------------------------------------
def test_page_text_is_escaped_in_the_evidence_view(world, alice):
    item = _hostile_item(world)
    status, headers, html = alice.get(f"/evidence/{quote(item.id)}?target={TARGET}")
    assert status == 200
    assert "script-src 'self'" in headers["content-security-policy"]
    text = html.split('id="page-text"', 1)[1].split("</pre>", 1)[0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=alert(2)&gt;" in text
    assert "javascript:alert(3)" in text and '<mark id="snippet-mark">' in text
    assert "<script>alert" not in html and "<img src=x" not in html
    doc = lxml.html.document_fromstring(html)
    for el in doc.iter():
        for attr, value in el.attrib.items():
            assert not attr.startswith("on"), (el.tag, attr)
            assert not value.strip().lower().startswith("javascript:"), (el.tag, attr, value)
    assert all(s.get("src", "").startswith("/static/") for s in doc.iter("script"))
    frames = doc.xpath("//iframe[@id='replay']")
    assert len(frames) == 1 and frames[0].get("sandbox") == ""  # sandbox with no allow-* at all
    assert "allow-scripts" not in html and "allow-same-origin" not in html
    live = doc.get_element_by_id("live-url")
    assert live.get("href") == HOSTILE_URL and "noreferrer" in live.get("rel") and live.get("target") == "_blank"
    # the rule, its version and examples, the page's fetch time and hash, the cut-off
    assert item.rule_id in html and doc.get_element_by_id("sha256").text_content().strip() == item.page_sha256
    assert doc.get_element_by_id("fetched-at").text_content().strip()
    assert doc.get_element_by_id("as-of").text_content().strip() == "2023-10-31"
    assert doc.xpath("//details[@id='rule-examples']//li")
    assert doc.get_element_by_id("next-unreviewed").get("href").startswith("/next?")


def test_replay_is_sandboxed_and_never_points_at_the_live_web(world, alice):
    item = _hostile_item(world)
    status, headers, body = alice.get(f"/replay/{item.page_id}")
    assert status == 200
    csp = headers["content-security-policy"]
    assert csp.startswith("sandbox") and "default-src 'none'" in csp and "script" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    doc = lxml.html.document_fromstring(body)
    assert not doc.xpath("//script|//iframe|//base|//meta[@http-equiv]")
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        for attr, value in el.attrib.items():
            assert not attr.lower().startswith("on"), (el.tag, attr)
            assert "live.example.org" not in value and "javascript:" not in value.lower(), (el.tag, attr, value)
        for attr in ("src", "href", "action", "data", "poster"):
            v = el.get(attr)
            if v is not None:
                assert v.startswith(("/replay/", "#", "data:")), (el.tag, attr, v)
    assert "live.example.org" not in "".join(s.text or "" for s in doc.iter("style"))
    assert "&lt;script&gt;alert(1)" in body or "<script>alert(1)" not in body
    # a link to an archived page replays that page; others land on the not-archived notice
    hrefs = {a.text_content(): a.get("href") for a in doc.iter("a")}
    home = re.fullmatch(r"/replay/(\d+)\?k=([\w.-]+)", hrefs["首页"])
    assert home
    status, headers, _ = alice.get(hrefs["首页"])
    assert status == 200 and headers["content-security-policy"].startswith("sandbox")
    status, headers, _ = alice.get("/replay/missing")
    assert status == 404 and headers["content-security-policy"].startswith("sandbox")
    # the sandboxed frame sends no cookie: a page's signed key opens that page alone, nothing else does
    anon = Client(world["port"])
    assert anon.get(f"/replay/{item.page_id}")[0] == 302
    assert anon.get(hrefs["首页"])[0] == 200
    assert anon.get(f"/replay/{item.page_id}?k={home.group(2)}")[0] == 302  # another page's key
    assert anon.get(f"/replay/{home.group(1)}?k={home.group(2)}x")[0] == 302  # a forged key
    assert anon.request("POST", hrefs["首页"])[0] in (401, 405)


def test_rendered_dom_and_screenshot_are_served_inert(world, alice):
    item = _hostile_item(world)
    _, _, html = alice.get(f"/evidence/{quote(item.id)}")
    doc = lxml.html.document_fromstring(html)
    rendered = next(a.get("href") for a in doc.iter("a") if "/rendered" in (a.get("href") or ""))
    status, headers, body = alice.get(rendered)
    assert status == 200 and "渲染后" in body and headers["content-security-policy"].startswith("sandbox")
    rdoc = lxml.html.document_fromstring(body)
    assert not rdoc.xpath("//script") and "live.example.org" not in lxml.html.tostring(rdoc, encoding="unicode")
    assert doc.get_element_by_id("screenshot").get("src") == f"/shot/{item.page_id}"
    status, headers, data = alice.request("GET", f"/shot/{item.page_id}")
    assert status == 200 and headers["content-type"] == "image/png" and data == PNG
    home = _items(world)
    home_page = next(i.page_id for i in home.values() if i.url == HZ + "/")
    assert alice.get(f"/shot/{home_page}")[0] == 404  # a path outside the campaign folder is not served


# --- the walk, the queue, the forms -----------------------------------------------------------------
def test_navigation_from_campaign_to_evidence_shows_progress(world, alice):
    status, _, html = alice.get("/")
    assert status == 200 and "省会及计划单列市" in html and 'id="campaign-progress"' in html
    status, _, html = alice.get("/group/capital")
    assert status == 200 and f'data-target-id="{TARGET}"' in html and "杭州" in html
    status, _, html = alice.get(f"/target/{TARGET}")
    assert status == 200 and 'id="target-progress"' in html
    doc = lxml.html.document_fromstring(html)
    index_link = doc.xpath("//a[@class='index-link']")[0].get("href")
    leaf_id = _hostile_item(world).leaf_id
    tree = load_rules(ROOT / "rules").tree
    index_id = tree.index_of(leaf_id).id
    status, _, html = alice.get(f"/target/{TARGET}/node/{index_id}")
    assert status == 200 and f'data-leaf-id="{leaf_id}"' in html and index_link.startswith(f"/target/{TARGET}/node/")
    status, _, html = alice.get(f"/target/{TARGET}/leaf/{leaf_id}")
    assert status == 200
    doc = lxml.html.document_fromstring(html)
    assert doc.get_element_by_id("leaf-points").text_content().strip()
    assert doc.xpath("//tr[@data-evidence-id]") and doc.xpath("//form[@id='override-form']//input[@name='points']")
    assert doc.xpath("//form[@id='add-form']//input[@name='file']")
    for url in ("/queue", "/queue?status=all", f"/queue?target={TARGET}", "/queue?group=capital",
                f"/queue?leaf={leaf_id}", "/queue?status=rejected", "/queue?overridden=1&status=all", "/qc",
                "/orphans"):
        assert alice.get(url)[0] == 200, url
    assert alice.get("/queue?status=bogus")[0] == 400
    assert alice.get("/target/nope")[0] == 404
    status, headers, body = alice.get("/export/decisions.csv")
    assert status == 200 and headers["content-type"].startswith("text/csv") and "evidence_id" in body
    status, _, body = alice.get("/export/approved.csv?run=r1")
    assert status == 200 and "target_id" in body
    assert alice.get("/export/approved.csv?run=nope")[0] == 404


def test_one_key_press_worth_of_navigation_reaches_the_next_unreviewed_item(world, alice):
    items = [i for i in _items(world).values() if i.status == "unreviewed"]
    assert len(items) >= 2
    status, headers, _ = alice.get(f"/next?target={TARGET}")
    assert status == 302
    first = headers["location"]
    status, _, html = alice.get(first)
    doc = lxml.html.document_fromstring(html)
    eid = doc.body.get("data-evidence-id")
    nxt = doc.get_element_by_id("next-unreviewed").get("href")
    assert doc.body.get("data-next-url") == nxt
    # confirm through the page's own form (CSRF token in the form), then the next link moves on
    form = doc.get_element_by_id("confirm-form")
    fields = {i.get("name"): i.get("value") for i in form.iter("input")}
    status, headers, _ = alice.request("POST", form.get("action"), form=fields)
    assert status == 303 and headers["location"] == nxt
    status, headers, _ = alice.get(nxt)
    assert status == 302 and quote(eid) not in headers["location"]
    assert _items(world)[eid].status == "confirmed"


def test_reject_override_add_and_bulk_confirm_through_the_forms(world, alice):
    led_items = _items(world)
    item = next(i for i in led_items.values() if i.status == "unreviewed" and not i.manual)
    _, _, html = alice.get(f"/evidence/{quote(item.id)}")
    token = lxml.html.document_fromstring(html).xpath("//form[@id='reject-form']//input[@name='csrf_token']")[0].get("value")
    status, _, _ = alice.request("POST", "/decide", form={"csrf_token": token, "evidence_id": item.id,
                                                          "decision": "reject", "reason": "outdated", "note": "旧"})
    assert status == 303 and _items(world)[item.id].status == "rejected"
    # the rejected filter shows it
    assert item.id in alice.get("/queue?status=rejected")[2]
    # override a leaf
    status, _, _ = alice.request("POST", "/override", form={"csrf_token": token, "target_id": TARGET,
                                                            "leaf_id": item.leaf_id, "points": "0.5",
                                                            "reason": "other", "note": "人工"})
    assert status == 303
    _, _, html = alice.get(f"/target/{TARGET}/leaf/{item.leaf_id}")
    assert lxml.html.document_fromstring(html).get_element_by_id("leaf-override").get("data-points") == "0.5"
    assert item.leaf_id in alice.get("/queue?overridden=1&status=all")[2]
    # bulk confirm of a selection
    rest = [i.id for i in _items(world).values() if i.status == "unreviewed"][:2]
    status, _, _ = alice.request("POST", "/bulk", form={"csrf_token": token, "evidence_id": rest})
    assert status == 303
    after = _items(world)
    assert all(after[i].status == "confirmed" for i in rest)


def test_uploaded_file_names_cannot_leave_the_store(world, alice):
    item = _hostile_item(world)
    boundary = uuid.uuid4().hex
    parts = []
    fields = {"csrf_token": alice.token, "target_id": TARGET, "leaf_id": item.leaf_id, "url": HOSTILE_URL,
              "note": "found by hand"}
    for k, v in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="../../evil"\r\n'
                 f"Content-Type: application/octet-stream\r\n\r\n".encode() + b"EVIL" + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    status, _, _ = alice.request("POST", "/add", body=b"".join(parts),
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 303
    files_dir = world["path"].with_suffix(".files").resolve()
    found = [p for p in world["tmp"].rglob("*evil*")]
    assert found and all(p.resolve().is_relative_to(files_dir) for p in found)
    manual = [i for i in _items(world).values() if i.manual]
    assert manual and manual[-1].values.get("file")
    # the manual item has its own evidence page, its file downloads as an attachment
    status, _, html = alice.get(f"/evidence/{quote(manual[-1].id)}")
    assert status == 200 and "人工" in html
    link = lxml.html.document_fromstring(html).get_element_by_id("uploaded-file").get("href")
    assert link == f"/upload/{manual[-1].values['file']}"
    status, headers, body = alice.get(link)
    assert status == 200 and body == "EVIL" and headers["content-disposition"].startswith("attachment")
    assert alice.get("/upload/../../etc/passwd")[0] == 404


def test_keyboard_undo_targets_the_users_last_decision(world, alice):
    item = next(i for i in _items(world).values() if not i.manual)
    status, row = alice.decide({"evidence_id": item.id, "decision": "confirm"})
    assert status == 201
    _, _, html = alice.get("/queue")
    body = lxml.html.document_fromstring(html).body
    assert body.get("data-last-decision") == str(row["id"]) and body.get("data-last-evidence") == item.id


def test_qc_page_is_blind_and_resolution_needs_a_disagreement(world, alice):
    with Store(world["path"]) as store:
        from audit.ledger import set_qc_share
        set_qc_share(store, 1.0)
    item = next(i for i in _items(world).values() if not i.manual and i.status == "confirmed"
                and i.decision and i.decision["who"] == "alice")
    bob = Client(world["port"])
    assert bob.login("bob") == 200
    _, _, html = bob.get("/qc")
    assert item.id in html
    status, _, html = bob.get(f"/qc/review/{quote(item.id)}")
    assert status == 200 and "盲审" in html
    doc = lxml.html.document_fromstring(html)
    assert not doc.xpath("//section[@id='history']") and "alice" not in doc.get_element_by_id("human-decision").text_content()
    assert doc.xpath("//form[@id='confirm-form']//input[@name='role']")[0].get("value") == "qc"
    assert alice.decide({"evidence_id": item.id, "decision": "reject", "reason": "other", "role": "qc"})[0] == 409
    status, _ = bob.decide({"evidence_id": item.id, "decision": "reject", "reason": "draft", "role": "qc"})
    assert status == 201
    _, _, html = alice.get("/qc")
    assert item.id in html and 'id="kappa-table"' in html
    status, _ = alice.decide({"evidence_id": item.id, "decision": "reject", "reason": "draft", "role": "resolve"})
    assert status == 201
    with Store(world["path"]) as store:
        set_qc_share(store, 0.1)


def test_a_decision_whose_evidence_is_gone_is_shown_orphaned(world, alice):
    hostile = _hostile_item(world)
    item = next(i for i in _items(world).values() if not i.manual and i.page_id != hostile.page_id)
    status, row = alice.decide({"evidence_id": item.id, "decision": "reject", "reason": "not_asked"})
    assert status == 201
    conn = sqlite3.connect(world["path"])
    with conn:  # what a re-extraction does to a finding the edited rule no longer makes
        conn.execute("delete from evidence where eid = ?", [item.id])
    conn.close()
    _, _, html = alice.get("/orphans")
    doc = lxml.html.document_fromstring(html)
    rows = doc.xpath(f"//tr[@class='orphan'][@data-evidence-id='{item.id}']")
    assert rows and item.rule_id in rows[0].text_content()
    _, _, html = alice.get(f"/target/{TARGET}")
    assert lxml.html.document_fromstring(html).xpath(f"//li[@class='orphan'][@data-evidence-id='{item.id}']")
    assert alice.get(f"/evidence/{quote(item.id)}")[0] == 404
    assert alice.decide({"evidence_id": item.id, "decision": "confirm"})[0] == 404


# --- start-up, accounts and the command line ---------------------------------------------------------
def test_port_in_use_is_one_clear_error(world):
    with pytest.raises(AuditError, match=r"port \d+ .* in use.*--port"):
        make_server(world["path"], host="127.0.0.1", port=world["port"], rules_path=ROOT / "rules")


def test_accounts_hash_passwords_and_disabled_users_lose_their_session(world, tmp_path):
    with Store(world["path"]) as store:
        stored = store.conn.execute("select password_hash from auditors where name='alice'").fetchone()[0]
        assert stored.startswith("$argon2id$") and PASSWORD not in stored
        assert accounts.check(store, "alice", PASSWORD) and not accounts.check(store, "alice", PASSWORD + "x")
        with pytest.raises(accounts.AccountError):
            accounts.add_user(store, "alice", PASSWORD)
        with pytest.raises(accounts.AccountError):
            accounts.add_user(store, "carol", "")
        accounts.add_user(store, "carol", PASSWORD)
        secret = accounts.secret_key(store)
        assert secret == accounts.secret_key(store) and len(secret) >= 32
        # kept outside every table (Datasette serves the tables), readable by its owner only
        key_file = store.files_dir / accounts.SECRET_FILE
        assert key_file.read_text() == secret and (key_file.stat().st_mode & 0o777) == 0o600
        assert secret not in repr(store.conn.execute("select * from meta").fetchall())
    carol = Client(world["port"])
    assert carol.login("carol") == 200 and carol.get("/api/targets")[0] == 200
    with Store(world["path"]) as store:
        accounts.set_active(store, "carol", False)
    assert carol.get("/api/targets")[0] == 401
    assert carol.login("carol") == 401


def test_cli_reads_the_password_from_stdin_and_exports(world, tmp_path):
    import argparse

    assert read_password(io.StringIO("s3cret-pass\n")) == "s3cret-pass"
    with pytest.raises(AuditCliError, match="empty"):
        read_password(io.StringIO("\n"))
    parser = argparse.ArgumentParser()
    add_audit_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["audit", "user", "add", "dave", "--store", str(world["path"])])
    import sys
    old = sys.stdin
    sys.stdin = io.StringIO("dave-password\n")
    try:
        assert args.func(args) == 0
    finally:
        sys.stdin = old
    with Store(world["path"]) as store:
        assert accounts.check(store, "dave", "dave-password")
    out = tmp_path / "d.csv"
    args = parser.parse_args(["audit", "export", "decisions", "--store", str(world["path"]), "--out", str(out)])
    assert args.func(args) == 0 and "evidence_id" in out.read_text(encoding="utf-8-sig")
    args = parser.parse_args(["audit", "serve", "--store", str(world["path"]), "--port", str(world["port"])])
    assert args.host == "127.0.0.1" and args.func.__name__ == "cmd_serve"
    with pytest.raises(AuditError, match="in use"):  # a StoreError: windvane prints it as one line
        args.func(args)
    args = parser.parse_args(["audit", "export", "approved", "--store", str(world["path"]), "--run", "nope",
                              "--out", str(out)])
    with pytest.raises(StoreError):
        args.func(args)


def test_create_app_refuses_a_missing_store(tmp_path):
    with pytest.raises(StoreError):
        create_app(tmp_path / "none.db", rules_path=ROOT / "rules")
