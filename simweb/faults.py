"""The faults of the real government web, switched on with ``faults="full"``.

``apply_full_faults(model, seed)`` runs after a site is fully built (paths assigned,
page table made) and, deterministically from the seed, gives a minority of sites each:

* ``js_nav`` — the navigation bar and the home page's entry blocks (service portal,
  open data, 12345 links, floats) exist only after scripts run: ``document_write``
  (``document.write(decodeURIComponent(...))``), ``array_timeout`` (a JS array turned
  into ``<a>`` elements after a 300 ms ``setTimeout``), ``xhr_json`` (a JSON file
  fetched after load), ``write_concat`` (``document.write('<a href="' + sitePath +
  '/zwgk/">' + …)`` of concatenated pieces), ``map_join`` (an array of objects
  ``.map(x => '<a href="' + x.url + …).join('')`` into ``innerHTML``) or
  ``json_template`` (``<script type="text/template">`` filled from a
  ``<script type="application/json">`` block). The static HTML keeps only a "首页" link.
* ``onclick_link`` — the home page's outbound entry links keep their target only in a
  handler, in one of the styles of ``ONCLICK_STYLES`` (``window.open`` / ``location.href``
  / ``window.location`` in onclick, ``href="javascript:openUrl('…')"``, a ``<span onclick>``,
  a ``<div data-url onclick>``).
* ``cookie_challenge_412`` (瑞数-like) / ``cookie_challenge_521`` (加速乐-like) — every
  path but ``/robots.txt`` answers 412 / 521 with a small page whose script computes a
  cookie from a seed in the page, sets it and reloads; the server checks the value
  (an HMAC of the server-issued cookie), so echoing ``Set-Cookie`` does not pass.
* ``attachment_only`` — the target's own data-security regulation or digital-government
  plan keeps its text (title, 文号, 发布机构, dates) only in a PDF or DOCX attachment; the
  document page is a stub ("详见附件") without the metadata table. Attachment URLs follow
  the CMS: TRS ``./P0<date><digits>.pdf``, Hanweb ``/module/download/downfile.jsp?…``
  (302 to ``/picture/0/<32hex>.<ext>``), UCAP/gkmlpt ``/attachment/0/<a>/<b>/<id>.<ext>``.
  Legacy ``.doc`` (Word 97 binary) is not generated.
* ``corrupt_attachment`` (a truncated PDF) and ``huge_attachment`` (60 MB, streamed with
  Content-Length) hang off ordinary documents.
* ``charset_header_utf8`` (GBK document pages sent with ``charset=UTF-8`` in the header),
  ``charset_undeclared`` (GBK pages with no charset in the header nor a meta) and
  ``charset_malformed_meta`` (the GBK site map with ``<meta httpequiv="ContentType" …>``
  and no header charset); these sites print GBK-only characters (堃, 喆) in the footer.
* ``tls_expired``, ``tls_self_signed``, ``tls_wrong_host`` — the https portal presents a
  certificate that a verifying client rejects: signed by the simulated web's CA but expired,
  self-signed (not signed by that CA), or issued for another host name. Crawling still works
  (content crawlers do not verify), but ``https_access`` is not met: the truth says absent,
  with the home page as a ``tls_<kind>`` trap.
* ``gbk_cut_titles`` — on GBK sites, headlines in the home page's and list pages' link text
  are cut by byte count (as TRS/Hanweb list tags do), often inside a character: the page
  keeps its declared GBK with a lone lead byte before "..." (browsers show U+FFFD there).
* ``oversized_page`` (a 30 MB HTML page) and ``stalled_page`` (headers and 8 KB of body,
  then nothing for 120 s, then the connection closes), both linked from the site map.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import re
import time
from html import escape
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from simweb.content import rng_for
from simweb.model import Attachment, Item, Raw, SiteModel

FAULT_MODES = ("basic", "full")
JS_NAV_RATE = 0.15
ONCLICK_RATE = 0.15
CHALLENGE_RATE = 0.05
ATTACHMENT_RATE = 0.13  # per present regulation / plan leaf
CORRUPT_RATE = 0.08
HUGE_ATTACHMENT_RATE = 0.05
OVERSIZED_RATE = 0.05
STALLED_RATE = 0.04
CUT_TITLES_RATE = 0.6  # of the GBK sites
TLS_CERT_RATE = 0.07
TLS_CERT_FAULTS = ("expired", "self_signed", "wrong_host")
HUGE_ATTACHMENT_BYTES = 60 * 1024 * 1024
OVERSIZED_PAGE_BYTES = 30 * 1024 * 1024
STALL_SECONDS = 120.0
GBK_ONLY_LINE = "责任编辑：李堃　审核：王喆"

JS_BUILT = {"nav", "home_banner", "home_block", "home_link", "float", "float_image"}  # evidence in nav / home blocks
HOME_LINKED = {"home_banner", "home_block", "home_link", "float"}


def apply_full_faults(m: SiteModel, seed: int) -> None:
    """Give this site its share of the real web's faults (deterministic in seed and site)."""

    def roll(kind: str) -> random.Random:
        return rng_for(seed, m.site_id, "fault", kind)

    if (r := roll("onclick")).random() < ONCLICK_RATE:
        _onclick(m, r)
    if (r := roll("js_nav")).random() < JS_NAV_RATE:
        _js_nav(m, r, roll("js_nav_form"))
    if (r := roll("challenge")).random() < CHALLENGE_RATE:
        m.challenge = r.choice(["412", "521"])
        m.faults.append(f"cookie_challenge_{m.challenge}")
        for lt in m.leaves.values():
            if lt.present:
                lt.how.append("challenge")
                lt.reach.append("challenge")
    for leaf_id in ("data_security_regulation", "digital_gov_plan"):
        r = roll(f"attachment-{leaf_id}")
        lt = m.leaves.get(leaf_id)
        if lt and lt.present and f"item:{leaf_id}-own" in lt.refs and r.random() < ATTACHMENT_RATE:
            _attachment_only(m, leaf_id, r)
    ordinary = [it for k, it in m.items.items() if k.startswith("doc-") and it.validity in ("", "有效")]
    if ordinary and (r := roll("corrupt")).random() < CORRUPT_RATE:
        it = r.choice(ordinary)
        ordinary.remove(it)
        _extra_attachment(m, it, "corrupt", r)
    if ordinary and (r := roll("huge")).random() < HUGE_ATTACHMENT_RATE:
        _extra_attachment(m, r.choice(ordinary), "huge", r)
    if m.encoding == "gbk":
        _charset(m, roll("charset"))
        if (r := roll("cut_titles")).random() < CUT_TITLES_RATE:
            _cut_titles(m, r)
    _big_pages(m, roll("oversized").random() < OVERSIZED_RATE, roll("stalled").random() < STALLED_RATE)
    if m.scheme == "https" and (r := roll("tls")).random() < TLS_CERT_RATE:
        _tls_cert(m, r.choice(TLS_CERT_FAULTS))


def _tls_cert(m: SiteModel, kind: str) -> None:
    """A certificate a verifying client rejects: https_access is then not met (see the module doc)."""
    m.tls_cert = kind
    m.faults.append(f"tls_{kind}")
    m.fault_details.append({"kind": f"tls_{kind}", "urls": [f"{m.base}/"]})
    lt = m.leaves.get("https_access")
    if lt is not None:
        lt.present, lt.share = False, None
        lt.refs.clear()
        lt.how.append(f"tls:{kind}")
        lt.traps.append((f"tls_{kind}", "home"))


def _tag(m: SiteModel, tag: str, variants: set[str]) -> None:
    """Mark leaves whose evidence variants were changed: how gets ``tag:variant``; reach gets
    ``tag`` when every evidence variant of the leaf is affected."""
    for leaf_id in ("hotline_12345", "service_portal_link", "open_data_link"):
        lt = m.leaves.get(leaf_id)
        if not lt or not lt.present:
            continue
        used = [v for v in lt.how if ":" not in v and v != "challenge"]
        hit = [v for v in used if v in variants]
        lt.how += [f"{tag}:{v}" for v in hit]
        if hit and len(hit) == len(used) and tag not in lt.reach:
            lt.reach.append(tag)


# --- links only in onclick --------------------------------------------------------------------
_EXT_A = re.compile(r'<a href="(https?://[^"]+)" target="_blank">(.*?)</a>', re.S)

# how real templates hide an entry's target in a handler (TRS, Hanweb and 集约化 templates all do)
ONCLICK_STYLES = {
    "window_open": '<a href="javascript:void(0);" onclick="window.open(\'{u}\')">{l}</a>',
    "location_href": '<a href="javascript:;" onclick="location.href=\'{u}\'">{l}</a>',
    "window_location": '<a href="#" onclick="window.location=\'{u}\';return false;">{l}</a>',
    "js_href": '<a href="javascript:openUrl(\'{u}\')">{l}</a>',
    "span_onclick": '<span class="link" style="cursor:pointer" onclick="window.open(\'{u}\',\'_blank\')">{l}</span>',
    "div_data_url": '<div class="go" data-url="{u}" onclick="goLink(this)">{l}</div>',
}


def _onclick(m: SiteModel, r: random.Random) -> None:
    changed = False
    style = r.choice(sorted(ONCLICK_STYLES))
    form = ONCLICK_STYLES[style]

    def conv(f: Any) -> Any:
        nonlocal changed
        if not isinstance(f, str):
            return f
        new = _EXT_A.sub(lambda mo: form.format(u=mo.group(1), l=mo.group(2)), f)
        changed |= new != f
        return new

    m.home_blocks = [(t, conv(f)) for t, f in m.home_blocks]
    m.floats = [conv(f) for f in m.floats]
    if changed:
        m.faults.append("onclick_link")
        m.fault_details.append({"kind": "onclick_link", "variant": style, "urls": []})
        _tag(m, "onclick", HOME_LINKED)


# --- navigation built by JavaScript -----------------------------------------------------------
def _js_nav(m: SiteModel, r: random.Random, form: random.Random) -> None:
    m.js_nav = r.choice(JS_NAV_VARIANTS[:3])
    if form.random() < NEW_FORMS_SHARE:  # the later forms from their own stream: the first three sites keep theirs
        m.js_nav = form.choice(JS_NAV_VARIANTS[3:])
    m.faults.append("js_nav")
    m.fault_details.append({"kind": "js_nav", "variant": m.js_nav, "urls": []})
    _tag(m, "js_only", JS_BUILT)
    if m.js_nav == "xhr_json":
        m.raw[json_path(m)] = Raw("json", "application/json;charset=UTF-8", make=lambda: _nav_json(m))


JS_NAV_VARIANTS = ("document_write", "array_timeout", "xhr_json", "write_concat", "map_join", "json_template")
NEW_FORMS_SHARE = 0.5  # of the js_nav sites, those whose menu uses one of the last three forms


def json_path(m: SiteModel) -> str:
    fam = m.family.name if m.family else "trs"
    return {"trs": "/images/menu/nav.json", "hanweb": "/module/jslib/menu/nav.json"}.get(fam, "/json/nav.json")


def nav_entries(m: SiteModel) -> list[tuple[str, str, bool]]:
    """(label, href, opens a new window) of the navigation bar, without 首页."""
    return [(label, m.href(h), h.startswith("http")) for label, h in m.nav if h != "/"]


def _nav_json(m: SiteModel) -> bytes:
    from simweb.templates import frag

    data = {"code": 0, "nav": [{"name": lab, "url": h, "blank": b} for lab, h, b in nav_entries(m)],
            "blocks": js_home_html(m, frag)}
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


_BUILD_NAV = ('function(list){var ul=document.getElementById("nav-menu");for(var i=0;i<list.length;i++){'
              'var li=document.createElement("li"),a=document.createElement("a");a.href=list[i].url;'
              'a.textContent=list[i].name;if(list[i].blank)a.target="_blank";li.appendChild(a);ul.appendChild(li);}}')


def _js_str(s: str) -> str:
    """A single-quoted JavaScript string literal of ``s`` (safe inside a <script> element)."""
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("</", "<\\/") + "'"


def _inline_json(data: object) -> str:
    """JSON for a <script type="application/json"> block (no "</" that would end it)."""
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


def _concat_write(html: str, base_var: str = "") -> str:
    """``document.write`` of the markup as concatenated string pieces (a TRS/集约化 template habit):
    each same-site ``href="/…`` is written as ``'href="' + base + '/…'``."""
    pieces = re.split(r'(href=")(/[^"]*)', html)
    out: list[str] = []
    for i, p in enumerate(pieces):
        if i % 3 == 2 and base_var:
            out.append(base_var)
        if p:
            out += [_js_str(p[j:j + 60]) for j in range(0, len(p), 60)]
    return "document.write(" + " + ".join(out) + ");"


_MAP_NAV = ("menus.map(x => '<li><a href=\"' + x.url + '\"' + (x.blank ? ' target=\"_blank\"' : '') + '>' + x.name"
            " + '</a></li>').join('')")


def _nav_items(entries: list[tuple[str, str, bool]]) -> str:
    blank = ' target="_blank"'
    return "".join(f'<li><a href="{escape(h)}"{blank if b else ""}>{escape(lab)}</a></li>' for lab, h, b in entries)


def js_nav_markup(m: SiteModel) -> str:
    """The nav bar of a js_nav site: one static 首页 link plus the script that builds the rest."""
    static = '<li><a href="/">首页</a></li>'
    entries = nav_entries(m)
    if m.js_nav == "write_concat":
        return (f'<ul id="nav-menu">{static}<script type="text/javascript">var sitePath = location.protocol + "//" + '
                f'location.host;{_concat_write(_nav_items(entries), "sitePath")}</script></ul>')
    if m.js_nav == "map_join":
        arr = ",".join(f"{{name:{_js_str(lab)},url:{_js_str(h)},blank:{'true' if b else 'false'}}}" for lab, h, b in entries)
        return (f'<ul id="nav-menu">{static}</ul><script>var menus = [{arr}];'
                f'document.getElementById("nav-menu").innerHTML += {_MAP_NAV};</script>')
    if m.js_nav == "json_template":
        data = _inline_json({"nav": [{"name": lab, "url": h, "target": "_blank" if b else "_self"} for lab, h, b in entries]})
        return (f'<ul id="nav-menu">{static}</ul>'
                '<script type="text/template" id="navTpl"><li><a href="{{url}}" target="{{target}}">{{name}}</a></li></script>'
                f'<script type="application/json" id="navData">{data}</script>'
                '<script>(function(){var d=JSON.parse(document.getElementById("navData").textContent);'
                'var t=document.getElementById("navTpl").textContent,h="";d.nav.forEach(function(x){'
                'h+=t.replace("{{url}}",x.url).replace("{{target}}",x.target).replace("{{name}}",x.name);});'
                'document.getElementById("nav-menu").insertAdjacentHTML("beforeend",h);})();</script>')
    if m.js_nav == "document_write":
        return (f'<ul id="nav-menu">{static}<script type="text/javascript">'
                f'document.write(decodeURIComponent("{quote(_nav_items(entries), safe="")}"));</script></ul>')
    if m.js_nav == "array_timeout":
        arr = json.dumps([{"name": lab, "url": h, "blank": b} for lab, h, b in entries], ensure_ascii=False)
        return (f'<ul id="nav-menu">{static}</ul><script type="text/javascript">var navList={arr};'
                f'setTimeout(function(){{({_BUILD_NAV})(navList);}},300);</script>')
    return (f'<ul id="nav-menu">{static}</ul><script type="text/javascript">window.addEventListener("load",'
            f'function(){{var x=new XMLHttpRequest();x.open("GET","{json_path(m)}",true);x.onload=function(){{'
            f'var d=JSON.parse(x.responseText);({_BUILD_NAV})(d.nav);var h=document.getElementById("js-blocks");'
            f'if(h)h.innerHTML=d.blocks;}};x.send();}});</script>')


def js_home_html(m: SiteModel, frag: Any) -> str:
    """The home blocks (all but the first) and floats that a js_nav site builds by script."""
    boxes = "".join(f'<div class="box"><div class="box-title"><span>{escape(t)}</span></div>{frag(m, f)}</div>'
                    for t, f in m.home_blocks[1:])
    return boxes + "".join(frag(m, f) for f in m.floats)


def js_home_markup(m: SiteModel, frag: Any) -> str:
    """Where the script-built home blocks go, with the script (xhr_json fills it from the nav JSON)."""
    html = js_home_html(m, frag)
    if m.js_nav == "write_concat":
        return f'<script type="text/javascript">{_concat_write(html)}</script>'
    if m.js_nav == "map_join":
        boxes = [{"title": t, "html": frag(m, f)} for t, f in m.home_blocks[1:]]
        floats = "".join(frag(m, f) for f in m.floats)
        return (f'<div id="js-blocks"></div><script>var blocks = {_inline_json(boxes)};'
                'document.getElementById("js-blocks").innerHTML = blocks.map(b => \'<div class="box"><div class="box-title">'
                f'<span>\' + b.title + \'</span></div>\' + b.html + \'</div>\').join("") + {_js_str(floats)};</script>')
    if m.js_nav == "json_template":
        return (f'<div id="js-blocks"></div><script type="application/json" id="homeData">{_inline_json({"html": html})}'
                '</script><script>document.getElementById("js-blocks").innerHTML = '
                'JSON.parse(document.getElementById("homeData").textContent).html;</script>')
    if m.js_nav == "document_write":
        return f'<script type="text/javascript">document.write(decodeURIComponent("{quote(html, safe="")}"));</script>'
    if m.js_nav == "array_timeout":
        parts = json.dumps([quote(html[i:i + 120], safe="") for i in range(0, len(html), 120)])
        return (f'<div id="js-blocks"></div><script type="text/javascript">var blockParts={parts};'
                f'setTimeout(function(){{var h="";for(var i=0;i<blockParts.length;i++)h+=decodeURIComponent('
                f'blockParts[i]);document.getElementById("js-blocks").innerHTML=h;}},300);</script>')
    return '<div id="js-blocks"></div>'


# --- cookie challenges ---------------------------------------------------------------------------
def js_hash(s: str) -> str:
    """The arithmetic the challenge script does (FNV-1a and a weighted sum, 32-bit each)."""
    a, b = 0x811C9DC5, 7
    for i, ch in enumerate(s):
        c = ord(ch)
        a = ((a ^ c) * 16777619) & 0xFFFFFFFF
        b = (b * 31 + c * (i + 1)) & 0xFFFFFFFF
    return f"{a:08x}{b:08x}"


_JS_HASH = ('function _h(s){var a=0x811c9dc5,b=7;for(var i=0;i<s.length;i++){var c=s.charCodeAt(i);'
            'a=Math.imul(a^c,16777619)>>>0;b=(Math.imul(b,31)+c*(i+1))>>>0;}'
            'return ("00000000"+a.toString(16)).slice(-8)+("00000000"+b.toString(16)).slice(-8);}')


def _secret(m: SiteModel) -> bytes:
    return hashlib.sha256(f"{m.seed}|{m.host}|simweb-challenge".encode()).digest()


def _mac(m: SiteModel, *parts: str) -> str:
    return hmac.new(_secret(m), "|".join(parts).encode(), hashlib.sha256).hexdigest()[:32]


def challenge_cookie_names(m: SiteModel) -> tuple[str, str]:
    """(server-issued cookie, script-computed cookie) of the site's challenge."""
    if m.challenge == "412":
        h = hashlib.sha256(m.host.encode()).hexdigest()
        prefix = "".join("NfBCSins2OywZkpTqRuVx"[int(c, 16)] for c in h[:11])
        return prefix + "S", prefix + "T"
    if m.scheme == "https":
        return "__jsluid_s", "__jsl_clearance_s"
    return "__jsluid_h", "__jsl_clearance"


def parse_cookies(header: str) -> dict[str, str]:
    out = {}
    for part in header.split(";"):
        k, sep, v = part.strip().partition("=")
        if sep:
            out[k.strip()] = v.strip()
    return out


def challenge_passed(m: SiteModel, cookie_header: str) -> bool:
    """Whether the request carries the cookie only the challenge script computes."""
    c = parse_cookies(cookie_header)
    issued, computed = challenge_cookie_names(m)
    token, value = c.get(issued, ""), c.get(computed, "")
    if not token or not value:
        return False
    if m.challenge == "412":
        return hmac.compare_digest(value, "0" + js_hash(_mac(m, token) + _nsd(m)))
    ts, _, rest = value.partition("|")
    _zero, _, val = rest.partition("|")
    return ts.isdigit() and hmac.compare_digest(val, js_hash(_mac(m, token, ts) + ts))


def _nsd(m: SiteModel) -> str:
    return str(int(hashlib.sha256(m.host.encode()).hexdigest()[:5], 16) % 90000 + 10000)


def challenge_response(m: SiteModel, cookie_header: str) -> tuple[int, str, list[tuple[str, str]], str]:
    """(status, reason, headers, html) of the challenge answer to a request without the right cookie."""
    issued, computed = challenge_cookie_names(m)
    token = parse_cookies(cookie_header).get(issued) or os.urandom(16).hex()
    secure = "; Secure" if m.scheme == "https" else ""
    headers = [("Set-Cookie", f"{issued}={token}; Path=/; HttpOnly{secure}"),
               ("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")]
    if m.challenge == "412":
        seed, nsd = _mac(m, token), _nsd(m)
        mid = hashlib.sha256(token.encode()).hexdigest()[:12]
        html = (f'<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
                f'<meta id="{mid}" content="{seed}" r="m"><script r="m">$_ts=window[\'$_ts\'];if(!$_ts)$_ts={{}};'
                f'$_ts.nsd={nsd};$_ts.cd="{seed[::-1]}";</script><script r="m">{_JS_HASH}'
                f'(function(){{var s=document.getElementById("{mid}").getAttribute("content");'
                f'document.cookie="{computed}=0"+_h(s+$_ts.nsd)+"; path=/";'
                f'setTimeout(function(){{location.reload();}},50);}})();</script></head><body></body></html>'
                f"<script>_$gW();</script>")
        return 412, "Precondition Failed", headers, html
    ts = str(int(time.time()))
    seed = _mac(m, token, ts)
    html = (f"<html><body><script>{_JS_HASH}var _0x1=[{ts},'{seed}'];"
            f'document.cookie=("_"+"_jsl_clear"+"ance{"_s" if m.scheme == "https" else ""}")+"="+_0x1[0]+"|0|"'
            f'+_h(_0x1[1]+_0x1[0])+";max-age=3600;path=/";'
            f"location.href=location.pathname+location.search;</script></body></html>")
    return 521, "Origin Error", headers, html


def challenge_cookie_for(m: SiteModel, token: str, ts: int | None = None) -> str:
    """The Cookie header the challenge script would produce for a server-issued ``token`` (tests)."""
    issued, computed = challenge_cookie_names(m)
    if m.challenge == "412":
        return f"{issued}={token}; {computed}=0{js_hash(_mac(m, token) + _nsd(m))}"
    t = str(ts or int(time.time()))
    return f"{issued}={token}; {computed}={t}|0|{js_hash(_mac(m, token, t) + t)}"


# --- attachments -------------------------------------------------------------------------------------
def _doc_lines(m: SiteModel, it: Item) -> list[str]:
    from simweb.content import fmt_date

    lines = [it.title]
    if it.docno:
        lines.append(it.docno)
    lines += [f"发布机构：{it.issuer}", f"成文日期：{fmt_date(it.written or it.date, 2)}",
              f"发布日期：{fmt_date(it.date, 2)}", *it.paras, it.issuer, fmt_date(it.written or it.date, 2)]
    return lines


def _file_path(m: SiteModel, it: Item, fmt: str, r: random.Random) -> tuple[str, str, str]:
    """(href as written in the page, first path requested, final path) for an attachment."""
    fam = m.family.name if m.family else "trs"
    if fam == "trs":
        name = f"P0{it.date:%Y%m%d}{r.randrange(10**11, 10**12)}.{fmt}"
        final = it.path.rsplit("/", 1)[0] + "/" + name
        return f"./{name}", final, final
    if fam == "hanweb":
        hexname = hashlib.md5(f"{m.host}{it.key}{fmt}".encode()).hexdigest()
        show = quote(f"{it.title}.{fmt}")
        link = f"/module/download/downfile.jsp?classid=0&filename={hexname}.{fmt}&showname={show}"
        return link, link, f"/picture/0/{hexname}.{fmt}"
    a = r.randrange(100, 999)
    final = f"/attachment/0/{a}/{a * 1000 + r.randrange(0, 999)}/{r.randrange(1000000, 9999999)}.{fmt}"
    return final, final, final


def _register_file(m: SiteModel, it: Item, fmt: str, kind: str, r: random.Random) -> Attachment:
    from simweb import files

    href, first, final = _file_path(m, it, fmt, r)
    lines = _doc_lines(m, it)
    ctype = {"pdf": "application/pdf",
             "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}[fmt]
    if kind == "huge":
        m.raw[final] = Raw("huge", ctype, size=HUGE_ATTACHMENT_BYTES)
    elif kind == "corrupt":
        m.raw[final] = Raw("file", ctype, make=lambda: files.truncated(files.pdf_bytes(lines, it.title)))
    elif fmt == "pdf":
        m.raw[final] = Raw("file", ctype, make=lambda: files.pdf_bytes(lines, it.title))
    else:
        m.raw[final] = Raw("file", ctype, make=lambda: files.docx_bytes(lines, it.title))
    if first != final:
        m.raw[first] = Raw("found", location=final)
    att = Attachment(fmt=fmt, showname=f"{it.title}.{fmt}", href=href, path=final, kind=kind)
    it.attachment = att
    return att


def _attachment_only(m: SiteModel, leaf_id: str, r: random.Random) -> None:
    it = m.items[f"{leaf_id}-own"]
    fmt = r.choice(["pdf", "pdf", "docx"])
    att = _register_file(m, it, fmt, "evidence", r)
    lt = m.leaves[leaf_id]
    lt.refs.append(att.path)
    lt.attachments.append(att.path)
    lt.how.append(f"attachment:{fmt}")
    lt.reach.append("attachment")
    # other leaves the same document also meets (a 授权运营办法 is also a data regulation) now
    # find it in the attachment too
    for other in m.leaves.values():
        if other is not lt and f"item:{it.key}" in other.refs and att.path not in other.refs:
            other.refs.append(att.path)
            other.attachments.append(att.path)
    if "attachment_only" not in m.faults:
        m.faults.append("attachment_only")
    m.fault_details.append({"kind": "attachment_only", "leaf": leaf_id, "format": fmt,
                            "urls": [m.base + att.path], "parent": m.base + it.path,
                            "link": _abs_link(m, it, att)})


def _abs_link(m: SiteModel, it: Item, att: Attachment) -> str:
    if att.href.startswith("./"):
        return m.base + it.path.rsplit("/", 1)[0] + att.href[1:]
    return m.base + att.href


def _extra_attachment(m: SiteModel, it: Item, kind: str, r: random.Random) -> None:
    att = _register_file(m, it, "pdf", kind, r)
    name = {"corrupt": "corrupt_attachment", "huge": "huge_attachment"}[kind]
    m.faults.append(name)
    d: dict[str, Any] = {"kind": name, "urls": [m.base + att.path], "parent": m.base + it.path,
                         "link": _abs_link(m, it, att)}
    if kind == "huge":
        d["bytes"] = HUGE_ATTACHMENT_BYTES
    m.fault_details.append(d)


def find_raw(m: SiteModel, target: str) -> Raw | None:
    """The raw resource a request target names (Hanweb's download gateway by its filename)."""
    raw = m.raw.get(target)
    if raw is not None or not target.startswith("/module/download/downfile.jsp"):
        return raw
    names = parse_qs(urlsplit(target).query).get("filename", [])
    if names and f"/picture/0/{names[0]}" in m.raw:
        return Raw("found", location=f"/picture/0/{names[0]}")
    return None


# --- encodings ---------------------------------------------------------------------------------------
def _charset(m: SiteModel, r: random.Random) -> None:
    x = r.random()
    if x < 0.3:
        m.charset_fault = "header_utf8"
        urls = [m.base + it.path for it in m.items.values()]
    elif x < 0.6:
        m.charset_fault = "undeclared"
        urls = [m.base + p for p in m.pages]
    elif x < 0.8:
        m.charset_fault = "malformed_meta"
        urls = [m.base + m.static_pages["wzdt"].ref]
    else:
        return
    m.faults.append(f"charset_{m.charset_fault}")
    m.fault_details.append({"kind": f"charset_{m.charset_fault}", "urls": urls})
    m.footer_lines.append(GBK_ONLY_LINE)


def _cut_titles(m: SiteModel, r: random.Random) -> None:
    m.ident["cut_titles"] = r.choice([27, 31, 35, 41])
    m.faults.append("gbk_cut_titles")
    m.fault_details.append({"kind": "gbk_cut_titles", "bytes": m.ident["cut_titles"],
                            "urls": [m.base + p for p, pg in m.pages.items() if pg.kind in ("home", "list")]})


CUT_BYTE = 0xE000  # chr(CUT_BYTE + b) in rendered HTML stands for the lone byte b of a title cut mid-character


def cut_title(title: str, budget: int) -> str:
    """A headline cut to ``budget`` GBK bytes as a byte-counting CMS list tag does (TRS ``<TRS_Documents>``
    ``num=``, Hanweb ``titlelength``): a cut inside a character leaves its first byte, written here as
    ``chr(CUT_BYTE + byte)`` for :func:`encode_page` to put back as the raw byte."""
    raw = title.encode("gb18030")
    if len(raw) <= budget:
        return title
    head = raw[:budget].decode("gb18030", "ignore")
    rest = raw[len(head.encode("gb18030")):budget]
    return head + "".join(chr(CUT_BYTE + b) for b in rest) + "..."


MALFORMED_META = '<meta httpequiv="ContentType" content="text/html; charset=gbk">'


def encode_page(m: SiteModel, path: str, kind: str, html: str) -> tuple[bytes, str]:
    """(body, Content-Type) of a rendered layout page, with the site's charset fault if any."""
    declared = "GBK" if m.encoding == "gbk" else "UTF-8"
    ctype = f"text/html; charset={declared}"
    if m.charset_fault == "header_utf8" and kind == "item":
        ctype = "text/html; charset=UTF-8"
    elif m.charset_fault == "undeclared":
        ctype = "text/html"
        assert m.family is not None
        html = html.replace(m.family.meta_charset(m) + "\n", "", 1)
    elif m.charset_fault == "malformed_meta" and path == m.static_pages["wzdt"].ref:
        ctype = "text/html"
        assert m.family is not None
        html = html.replace(m.family.meta_charset(m), MALFORMED_META, 1)
    body = html.encode(m.encoding, "xmlcharrefreplace")
    if m.ident.get("cut_titles") and b"&#57" in body:  # titles cut mid-character: the lone lead bytes
        body = re.sub(rb"&#(57[0-9]{3});", lambda mo: bytes([int(mo.group(1)) - CUT_BYTE])
                      if 0x81 <= int(mo.group(1)) - CUT_BYTE < 0xFF else mo.group(0), body)
    return body, ctype


# --- oversized and stalled pages ---------------------------------------------------------------------
OVERSIZED_PATH = "/tjsj/tjnj/2022/index.html"
STALLED_PATH = "/hdjl/zxft/202309/index.html"


def _big_pages(m: SiteModel, oversized: bool, stalled: bool) -> None:
    rows = []
    if oversized:
        m.raw[OVERSIZED_PATH] = Raw("huge", f"text/html; charset={'GBK' if m.encoding == 'gbk' else 'UTF-8'}",
                                    size=OVERSIZED_PAGE_BYTES)
        m.faults.append("oversized_page")
        m.fault_details.append({"kind": "oversized_page", "urls": [m.base + OVERSIZED_PATH],
                                "bytes": OVERSIZED_PAGE_BYTES})
        rows.append(f'<li><a href="{OVERSIZED_PATH}">统计年鉴2022（全文）</a></li>')
    if stalled:
        m.raw[STALLED_PATH] = Raw("stall", f"text/html; charset={'GBK' if m.encoding == 'gbk' else 'UTF-8'}",
                                  stall=STALL_SECONDS)
        m.faults.append("stalled_page")
        m.fault_details.append({"kind": "stalled_page", "urls": [m.base + STALLED_PATH],
                                "stall_seconds": STALL_SECONDS})
        rows.append(f'<li><a href="{STALLED_PATH}">在线访谈实录</a></li>')
    if rows:
        page = m.static_pages["wzdt"]
        inner = page.body
        extra = "".join(rows)
        page.body = lambda s, _f=inner: (_f(s) if callable(_f) else _f).replace("</ul>", extra + "</ul>", 1)
