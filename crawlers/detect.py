"""Deciding, from a plain HTTP response, whether a page needs the browser.

Two independent questions, answered from the bytes Scrapy fetched (no browser needed):

``challenge_reason(status, headers, body)``
    Is this a JavaScript cookie challenge (瑞数 412/202, 加速乐 521, a 403/418 interstitial,
    a tiny 200 "shell" that sets a cookie and reloads)? Following portal-anatomy §8.4 the
    test is general, not tied to one vendor's markup: a challenge status or a small body,
    plus a script that writes ``document.cookie`` and then reloads or navigates
    (``location.reload()``, ``location.href=``, ``location.replace``, ``window.location``), or
    a body that is nearly all script with almost no visible text under a challenge status.
    Known vendor markers (``$_ts``, ``r="m"``, ``__jsl_clearance``, ``acw_sc__v2``, "安全验证")
    only strengthen the verdict. A positive sentinel guards the other side: a page with
    real visible text (``_REAL_TEXT`` characters or more) is never a challenge.

``script_built_reason(root, static_links)``
    Is part of this page's link structure built by script? Signals, from inline scripts:
    ``document.write``/``writeln`` of markup or of an encoded string (``decodeURIComponent``,
    ``unescape``), ``createElement("a")``, ``innerHTML``/``appendChild`` fed from an
    ``XMLHttpRequest``/``fetch``/``$.ajax``/``$.getJSON`` answer, or a script array of objects
    with ``url``/``href`` fields handed to a DOM builder. A page with almost no static
    ``<a href>`` links (fewer than ``_FEW_LINKS``) and any DOM-building script is also
    rendered. Analytics and badge loaders (``createElement("script")`` alone) are not signals.

``script_fingerprint(root)`` hashes the page's link-building inline scripts, so the
crawler renders one page per distinct script and host: a navigation bar that a script
builds on every page of a site is rendered once, not on every page.

``onclick_links(root)`` returns the targets of ``window.open('…')`` / ``location.href='…'``
in ``onclick`` attributes and ``javascript:`` hrefs: links a plain crawl can follow
without any browser.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

# statuses behind which the usual challenges and interstitials come
CHALLENGE_STATUSES = {202, 403, 405, 406, 412, 418, 429, 503, 521, 555}
_SMALL_BODY = 24 * 1024  # a challenge shell is a few KB at most; 瑞数 shells reach ~20 KB with the inline VM
_REAL_TEXT = 200  # visible characters that make a page "real content"
_FEW_LINKS = 3

_SET_COOKIE_JS = re.compile(r"document\s*\.\s*cookie\s*=|\[\s*['\"]cookie['\"]\s*\]\s*=", re.I)
_RELOAD_JS = re.compile(r"location\s*\.\s*(?:reload|replace|assign)\s*\(|location(?:\s*\.\s*href)?\s*=[^=]"
                        r"|window\s*\.\s*location\s*=|document\s*\.\s*location\s*=|http-equiv=['\"]?refresh", re.I)
_MARKERS = re.compile(r"\$_ts|\br=['\"]m['\"]|__jsl_clearance|__jsluid|acw_sc__v2|var\s+arg1\s*=|C3VK="
                      r"|安全验证|请稍候|访问被拦截|访问异常|Just a moment|challenge-platform|cf_chl", re.I)
_SCRIPT_BLOCK = re.compile(rb"<script\b[^>]*>(.*?)</script\s*>", re.I | re.S)
_TAGS = re.compile(rb"<[^>]*>")


def _visible_chars(body: bytes) -> int:
    """Rough count of visible text characters (bytes of non-space text outside tags and scripts)."""
    no_scripts = _SCRIPT_BLOCK.sub(b" ", body)
    no_scripts = re.sub(rb"<style\b.*?</style\s*>", b" ", no_scripts, flags=re.I | re.S)
    text = _TAGS.sub(b" ", no_scripts)
    try:
        s = text.decode("utf-8")
    except UnicodeDecodeError:
        s = text.decode("gb18030", "replace")
    return len("".join(s.split()))


def challenge_reason(status: int, headers: dict[str, str] | None, body: bytes) -> str | None:
    """Why this response looks like a JavaScript challenge, or None if it does not."""
    if len(body) > _SMALL_BODY and status not in CHALLENGE_STATUSES:
        return None
    head = body[:_SMALL_BODY * 2]
    scripts = b"\n".join(_SCRIPT_BLOCK.findall(head))
    try:
        js = scripts.decode("utf-8", "replace")
    except Exception:  # pragma: no cover - decode with replace does not raise
        js = ""
    visible = _visible_chars(head)
    if visible >= _REAL_TEXT:
        return None  # positive sentinel: real text is content, whatever the status
    sets_cookie = bool(_SET_COOKIE_JS.search(js))
    reloads = bool(_RELOAD_JS.search(js)) or b'http-equiv="refresh"' in head.lower()
    marker = _MARKERS.search(head.decode("utf-8", "replace"))
    script_share = len(scripts) / max(len(head), 1)
    hdrs = {k.lower(): v for k, v in (headers or {}).items()}
    cookie_hdr = "set-cookie" in hdrs
    if sets_cookie and reloads:
        return (f"HTTP {status}: a {len(body)}-byte page whose script sets a cookie and reloads"
                + (f" ({marker.group(0)})" if marker else ""))
    if status in CHALLENGE_STATUSES and (marker or (script_share > 0.5 and cookie_hdr)):
        return f"HTTP {status}: a {len(body)}-byte script page" + (f" ({marker.group(0)})" if marker else "")
    return None


# --- script-built pages ---------------------------------------------------------------------------
_WRITE_MARKUP = re.compile(r"document\s*\.\s*write(?:ln)?\s*\(\s*(?:['\"][^'\"]*<\s*(?:a|li|div|ul|span)\b"
                           r"|decodeURIComponent|unescape|atob|[A-Za-z_$][\w$]*\s*\))", re.I)
_CREATE_A = re.compile(r"createElement\s*\(\s*['\"](?:a|li|ul)['\"]\s*\)", re.I)
_FETCHES = re.compile(r"XMLHttpRequest|\bfetch\s*\(|\$\s*\.\s*(?:ajax|get|getJSON|post)\s*\(|\.load\s*\(['\"]",
                      re.I)
_DOM_SINK = re.compile(r"\.innerHTML\s*=|\.insertAdjacentHTML\s*\(|\.appendChild\s*\(|\.append\s*\(|\.html\s*\(",
                       re.I)
_URL_ARRAY = re.compile(r"[\[{,]\s*['\"]?(?:url|href|link)['\"]?\s*:\s*['\"][^'\"]{1,300}['\"]", re.I)
_DOM_ANY = re.compile(r"document\s*\.\s*write|createElement\s*\(|\.innerHTML\s*=|\.appendChild\s*\(", re.I)


def _inline_scripts(root: Any) -> list[str]:
    out = []
    for el in root.iter("script"):
        if el.get("src"):
            continue
        typ = (el.get("type") or "").lower()
        if typ and "javascript" not in typ and "ecmascript" not in typ and typ != "module":
            continue
        txt = el.text or ""
        if txt.strip():
            out.append(txt)
    return out


def _builds_links(js: str) -> str | None:
    if _WRITE_MARKUP.search(js):
        return "document.write of markup"
    if _CREATE_A.search(js):
        return "createElement of links"
    if _FETCHES.search(js) and _DOM_SINK.search(js):
        return "fetched content put into the DOM"
    if _URL_ARRAY.search(js) and _DOM_SINK.search(js):
        return "a script list of links put into the DOM"
    return None


def script_built_reason(root: Any, static_links: int) -> str | None:
    """Why this parsed HTML page should be rendered to see all its links, or None."""
    scripts = _inline_scripts(root)
    for js in scripts:
        why = _builds_links(js)
        if why:
            return f"script-built links ({why})"
    if static_links < _FEW_LINKS and (any(_DOM_ANY.search(js) for js in scripts) or root.find(".//script") is not None):
        return f"near-empty page ({static_links} static links) with scripts"
    return None


def script_fingerprint(root: Any) -> str:
    """Hash of the link-building inline scripts of a page (equal on pages sharing a scripted nav)."""
    h = hashlib.sha256()
    for js in _inline_scripts(root):
        if _builds_links(js):
            h.update(js.strip().encode("utf-8", "replace"))
    return h.hexdigest()[:16]


_OPEN_TARGET = re.compile(r"(?:window\s*\.\s*open|location\s*\.\s*(?:href\s*=|assign\s*\(|replace\s*\()|"
                          r"location\s*=)\s*\(?\s*['\"]([^'\"]+)['\"]", re.I)


def onclick_links(root: Any) -> list[str]:
    """URLs named by ``window.open('…')``-like calls in onclick attributes and javascript: hrefs."""
    out: list[str] = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        for attr in ("onclick", "href"):
            v = el.get(attr)
            if not v or (attr == "href" and not v.lower().startswith("javascript:")):
                continue
            for m in _OPEN_TARGET.finditer(v):
                u = m.group(1).strip()
                if u and not u.lower().startswith(("javascript:", "#", "about:")):
                    out.append(u)
    return out
