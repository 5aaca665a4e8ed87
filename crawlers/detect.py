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

``script_built_reason(root, static_links, url=None)``
    Does the static page lack links that its scripts build? Judged per inline script
    from what the script puts into the DOM (``document.write``/``writeln``, ``innerHTML``,
    ``insertAdjacentHTML``, jQuery ``.html``/``.append``, ``createElement("a")`` appended):
    its string literals are joined and decoded cheaply (JS escapes, ``unescape``'s
    ``%uXXXX``, ``%XX`` as ``decodeURIComponent``), and a script whose payload names
    same-site URLs (``href=`` in the markup — also written as concatenated pieces,
    ``'<a href="' + base + '/zwfw/">'`` —, ``url``/``href``/``link`` fields of its object
    literals, as in ``list.map(x => '<a href="' + x.url …).join('')``, or of an inline
    ``<script type="application/json">`` / ``text/template`` block it reads by id)
    that the static page does not link to, or that builds ``<a>`` elements from fetched
    data, is a strong signal: the page is rendered. Link building whose targets are not
    visible (``document.write(variable)``, a link template, fetched HTML put into the
    DOM) is a weak signal, enough only when the page has few static same-site links
    (fewer than ``_FEW_SAME_SITE``). A script that only writes a badge, an image or
    off-site links (the conac 党政机关 badge, ``document.write(unescape(...))`` on nearly
    every portal) is no signal. A page with almost no static ``<a href>`` links (fewer
    than ``FEW_LINKS``) and any script is also rendered.

``script_fingerprint(root, url=None)`` hashes the page's link-building inline scripts, so the
crawler renders one page per distinct script and host: a navigation bar that a script
builds on every page of a site is rendered once, not on every page.

``onclick_links(root)`` returns the targets of ``window.open('…')`` / ``location.href='…'``
in ``onclick`` attributes and ``javascript:`` hrefs (``evidence.links``, shared with the
rules): links a plain crawl can follow without any browser.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from evidence.links import handler_links

# statuses behind which the usual challenges and interstitials come
# (not 429: a rate limit is honoured with its Retry-After, never solved as a challenge)
CHALLENGE_STATUSES = {202, 403, 405, 406, 412, 418, 503, 521, 555}
_SMALL_BODY = 24 * 1024  # a challenge shell is a few KB at most; 瑞数 shells reach ~20 KB with the inline VM
_REAL_TEXT = 200  # visible characters that make a page "real content"
FEW_LINKS = 3  # a page with fewer static links and any script is rendered (near-empty shell)

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
    """Why this response looks like a JavaScript challenge, or None if it does not (never for a 429)."""
    if status == 429:
        return None
    if len(body) > _SMALL_BODY and status not in CHALLENGE_STATUSES:
        return None
    head = body[:_SMALL_BODY * 2]
    scripts = b"\n".join(_SCRIPT_BLOCK.findall(head))
    try:
        js = scripts.decode("utf-8", "replace")
    except Exception:  # pragma: no cover - decode with replace does not raise
        js = ""
    if not scripts.strip():
        return None  # no script, nothing to run: a block page or an error page, not a challenge
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
_FEW_SAME_SITE = 10  # below this many static same-site links, a weak link-building signal is enough
_MAX_SCRIPT = 400_000  # characters of one inline script examined (a bundled library is not navigation)
_STR_LIT = re.compile(r'"((?:[^"\\\n]|\\.)*)"|\'((?:[^\'\\\n]|\\.)*)\'|`((?:[^`\\]|\\.)*)`', re.S)
_JS_ESC = re.compile(r"\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|(.))", re.S)
_PCT_U = re.compile(r"%u([0-9a-fA-F]{4})")
_HREF_ATTR = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))""", re.I)
_URL_FIELD = re.compile(r"""['"]?\b(?:url|href|link|path)['"]?\s*:\s*(?:"([^"]{1,300})"|'([^']{1,300})')""", re.I)
_LINK_MARKUP = re.compile(r"<\s*a\b", re.I)
_HTML_SINK = re.compile(r"document\s*\.\s*write(?:ln)?\s*\(|\.(?:inner|outer)HTML\s*\+?=|insertAdjacentHTML\s*\("
                        r"|\.(?:html|append|prepend|after|before)\s*\(", re.I)
_CREATE_A = re.compile(r"createElement\s*\(\s*['\"]a['\"]\s*\)", re.I)
_NODE_SINK = re.compile(r"\.(?:appendChild|insertBefore|append|prepend|replaceChildren)\s*\(", re.I)
_WRITE_VAR = re.compile(r"document\s*\.\s*write(?:ln)?\s*\(\s*[A-Za-z_$][\w$.]*\s*\)", re.I)
_FETCHES = re.compile(r"XMLHttpRequest|\bfetch\s*\(|\$\s*\.\s*(?:ajax|get|getJSON|post)\s*\(|\.load\s*\(['\"]",
                      re.I)
_NOT_LINK = ("javascript:", "#", "mailto:", "tel:", "data:", "about:", "blob:")


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


def _js_unescape(m: re.Match[str]) -> str:
    hx, u, ch = m.groups()
    if hx or u:
        return chr(int(hx or u, 16))
    return {"n": "\n", "t": "\t", "r": "\r"}.get(ch, ch)


def _payload(js: str) -> str:
    """The script's string literals, joined in order and decoded as the browser would.

    JavaScript escapes (``\\xNN``, ``\\uNNNN``), then ``%uXXXX`` (``unescape``) and ``%XX``
    (``unescape``/``decodeURIComponent``, read as UTF-8): enough to see the markup that a
    ``document.write(unescape("%3Ca href..."))`` or an array of encoded parts produces.
    Joining first keeps a URL whose escapes were split across parts in one piece.
    """
    parts = [a or b or c for a, b, c in _STR_LIT.findall(js[:_MAX_SCRIPT])]
    text = _JS_ESC.sub(_js_unescape, "".join(p for p in parts if p))
    if "%" in text:
        text = unquote(_PCT_U.sub(lambda m: chr(int(m.group(1), 16)), text), errors="replace")
    return text


def _site_of(host: str) -> str:
    host = host.lower().split(":")[0]
    return host[4:] if host.startswith("www.") else host


@dataclass
class _Page:
    """What the script judgements need to know about the page: its site and its static links."""

    root: Any
    site: str | None  # host without "www.", None if the page URL is unknown
    url: str | None
    _static: set[str] | None = None
    _data: dict[str, str] | None = None

    @property
    def data_blocks(self) -> dict[str, str]:
        """id -> text of the page's inline data and template blocks (``<script type="application/json"
        id=…>``, ``text/template``, ``text/html``…): what a rendering script may fill links from."""
        if self._data is None:
            self._data = {}
            for el in self.root.iter("script"):
                typ = (el.get("type") or "").lower()
                ident = el.get("id") or ""
                if ident and typ and "javascript" not in typ and typ != "module" and el.text:
                    self._data[ident] = el.text[:_MAX_SCRIPT]
        return self._data

    @property
    def static(self) -> set[str]:
        """The page's static same-site links, resolved (computed on first use: most pages never ask)."""
        if self._static is None:
            self._static = set()
            for a in self.root.iter("a"):
                u = self.same_site(a.get("href") or "")
                if u:
                    self._static.add(u)
        return self._static

    def same_site(self, href: str) -> str | None:
        """``href`` resolved, if it is a link to this site (relative, or a host of the site); else None."""
        h = href.strip()
        if not h or h.lower().startswith(_NOT_LINK) or "+" in h and ("'" in h or '"' in h):
            return None
        if "{" in h or "}" in h or "<%" in h:  # a template's placeholder ("{{url}}", "${x.url}"), no URL
            return None
        absolute = h.startswith("//") or bool(re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", h))
        if absolute:
            if not h.lower().startswith(("http:", "https:", "//")):
                return None
            if self.site is not None:
                host = _site_of(urlsplit(h if not h.startswith("//") else "http:" + h).netloc)
                if host != self.site and not host.endswith("." + self.site):
                    return None
        return urljoin(self.url, h) if self.url else h


def _static_page(root: Any, url: str | None) -> _Page:
    return _Page(root=root, site=_site_of(urlsplit(url).netloc) if url else None, url=url)


def _judge_script(js: str, page: _Page) -> tuple[int, str] | None:
    """(2 = strong, 1 = weak, why) if this inline script builds links, else None.

    Strong: the script puts markup or a list of links into the DOM and its (decoded)
    literals name same-site URLs that the static page does not link to, or it builds
    ``<a>`` elements from fetched data. Weak: it builds links whose targets are not visible
    (``document.write(variable)``, a link template or ``createElement("a")`` fed from
    elsewhere, fetched HTML put into the DOM). A script that only writes a badge, an image
    or off-site links (the conac 党政机关 badge on nearly every portal) is neither.
    """
    html_sink = bool(_HTML_SINK.search(js))
    node_sink = bool(_CREATE_A.search(js)) and bool(_NODE_SINK.search(js))
    if not html_sink and not node_sink:
        return None
    text = _payload(js)
    # what the script renders from: its literals, the url/href fields of its own object
    # literals (``[{name: "…", url: "/zwgk/"}].map(…)``), and the inline data blocks it reads by
    # id (``<script type="application/json" id="navData">`` + a ``text/template`` block)
    data = [text, _JS_ESC.sub(_js_unescape, js[:_MAX_SCRIPT])]
    data += [body for ident, body in page.data_blocks.items() if ident in js]
    hrefs = [a or b or c for d in data for a, b, c in _HREF_ATTR.findall(d)]
    fields = [a or b for d in data for a, b in _URL_FIELD.findall(d)]
    named = {u for u in (page.same_site(h) for h in hrefs + fields) if u}
    new = named - page.static if named else named
    if new:
        return 2, f"script writes {len(new)} same-site link(s) not in the static page"
    fetches = bool(_FETCHES.search(js))
    if node_sink and fetches:
        return 2, "links built from fetched data (createElement(\"a\"))"
    if node_sink and not fields:
        return 1, "createElement(\"a\") from data not in the page"
    if html_sink and _LINK_MARKUP.search(text) and not any(h.strip() for h in hrefs):
        return 1, "a link template put into the DOM"
    if _WRITE_VAR.search(js):
        return 1, "document.write of a variable"
    if html_sink and fetches:
        return 1, "fetched content put into the DOM"
    return None


def _judgements(root: Any, url: str | None) -> tuple[_Page, list[tuple[int, str, str]]]:
    page = _static_page(root, url)
    out = []
    for js in _inline_scripts(root):
        j = _judge_script(js, page)
        if j:
            out.append((j[0], j[1], js))
    return page, out


def script_built_reason(root: Any, static_links: int, url: str | None = None) -> str | None:
    """Why this parsed HTML page should be rendered to see all its links, or None.

    ``static_links`` counts the page's ``<a href>`` links; ``url`` (the page's URL) tells
    same-site links from off-site ones (without it, every absolute link counts as same-site).
    """
    page, judged = _judgements(root, url)
    strong = [why for level, why, _ in judged if level >= 2]
    if strong:
        return f"script-built links ({strong[0]})"
    if judged and len(page.static) < _FEW_SAME_SITE:
        return f"script-built links ({judged[0][1]}; {len(page.static)} static same-site links)"
    if static_links < FEW_LINKS and root.find(".//script") is not None:
        return f"near-empty page ({static_links} static links) with scripts"
    return None


def script_fingerprint(root: Any, url: str | None = None) -> str:
    """Hash of the link-building inline scripts of a page (equal on pages sharing a scripted nav)."""
    h = hashlib.sha256()
    for _, _, js in _judgements(root, url)[1]:
        h.update(js.strip().encode("utf-8", "replace"))
    return h.hexdigest()[:16]


def onclick_links(root: Any) -> list[str]:
    """URLs named only by event handlers (``onclick``, ``javascript:`` hrefs, ``data-url`` on a
    clickable element): the one reading the rules use too (:func:`evidence.links.handler_links`)."""
    return handler_links(root)


# --- JSON APIs that scripts fetch -----------------------------------------------------------------
# Platforms (service portals, open-data catalogues) render their lists from JSON APIs their scripts
# fetch: ``fetch('/api/…')``, ``$.ajax({url: …})``, ``$.get/getJSON/post``, ``axios.get/post``,
# ``axios({url, method})``, ``xhr.open('GET', …)`` and ``data-api`` attributes that a site-wide
# script reads. ``api_calls(root, url)`` finds them in a page's inline scripts and attributes,
# ``api_calls_in_script(js, url)`` in one script's text (an external script is read the same way,
# its URLs resolved against the page that loads it); ``next_page`` and ``list_done`` follow a
# list API's pagination a bounded number of times (crawlers/spider.py).
PAGE_PARAMS = ("page", "pageno", "pagenum", "pageindex", "currentpage", "curpage", "current", "pn", "page_no",
               "page_num", "page_index", "pagenumber", "p")
_SIZE_PARAMS = ("pagesize", "page_size", "size", "rows", "limit", "per_page", "perpage", "pagecount_")
_TOTAL_KEYS = ("total", "totalcount", "total_count", "totalelements", "recordstotal", "totalrecords", "totalnum",
               "count", "totalsize")
_PAGES_KEYS = ("totalpages", "total_pages", "pages", "pagecount", "page_count", "totalpage", "total_page")
_LISTY = re.compile(r"list|search|query|page|catalog|dataset|items|find", re.I)
_API_ATTRS = ("data-api", "data-api-url", "data-list-api", "data-source-url")
def _q(n: int = 1) -> str:
    """A string literal whose quote is group ``n`` and text group ``n + 1``."""
    return rf"(['\"`])((?:(?!\{n})[^\\\n]|\\.){{1,400}})\{n}"


_Q = _q(1)
_FETCH = re.compile(r"\bfetch\s*\(\s*" + _Q)
_AJAX_OBJ = re.compile(r"(?:\$|\bjQuery|\baxios)\s*(?:\.\s*ajax\s*)?\(\s*\{")
_AJAX_URL_FIRST = re.compile(r"(?:\$|\bjQuery)\s*\.\s*ajax\s*\(\s*" + _Q)
_SHORT = re.compile(r"(?:\$|\bjQuery|\baxios)\s*\.\s*(get|getJSON|post)\s*\(\s*" + _q(2), re.I)
_XHR_OPEN = re.compile(r"\.\s*open\s*\(\s*(['\"])(GET|POST)\1\s*,\s*" + _q(3), re.I)
_FIELD = r"['\"]?\b{name}['\"]?\s*:\s*"
_PAIR = re.compile(r"['\"]?([A-Za-z_$][\w$-]*)['\"]?\s*:\s*(" + r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"|"
                   r"-?\d+(?:\.\d+)?\b|true\b|false\b|null\b|[A-Za-z_$][\w$.]*)")
_TEMPLATE = re.compile(r"\$\{[^}]*\}")


@dataclass(frozen=True)
class ApiCall:
    """A JSON API request a page's scripts make: method, absolute URL, JSON body (POST), pagination."""

    method: str  # GET | POST
    url: str
    body: str | None = None  # JSON text of a POST
    page_param: str | None = None  # the query or body field that pages the list, if any

    @property
    def key(self) -> str:
        """What the archive stores the response under: the URL, and a POST's body after ``#post=``."""
        return self.url if self.method == "GET" else f"{self.url}#post={self.body or ''}"


def _balanced(js: str, start: int) -> str:
    """The ``{…}`` object literal opening at ``js[start]`` (strings skipped), or '' if it does not close."""
    depth, i, quote = 0, start, ""
    end = min(len(js), start + 20_000)
    while i < end:
        ch = js[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return js[start:i + 1]
        i += 1
    return ""


def _literal(v: str) -> Any:
    """A JS literal's value; a variable (or anything else) is None."""
    if v[:1] in "'\"":
        return _JS_ESC.sub(_js_unescape, v[1:-1])
    if re.fullmatch(r"-?\d+", v):
        return int(v)
    if re.fullmatch(r"-?\d+\.\d+", v):
        return float(v)
    return {"true": True, "false": False, "null": None}.get(v, _VARIABLE)


_VARIABLE = object()


def _object(text: str) -> dict[str, Any]:
    """The flat fields of a JS object literal: literals as values, a variable as ``_VARIABLE``.

    Only the literal's own level is read (a nested object's fields are skipped)."""
    inner = text[1:-1] if text.startswith("{") else text
    flat, depth = [], 0
    for ch in inner:  # blank out nested objects and arrays
        depth += ch in "{["
        flat.append(ch if depth == 0 else " ")
        depth -= ch in "}]"
    out: dict[str, Any] = {}
    for k, v in _PAIR.findall("".join(flat)):
        out.setdefault(k, _literal(v))
    return out


def _field(obj_text: str, *names: str) -> str | None:
    """The string literal of the first of ``names`` in an object literal's text."""
    for name in names:
        m = re.search(_FIELD.format(name=name) + _Q, obj_text)
        if m:
            return m.group(2)
    return None


def _page_param(params: dict[str, Any]) -> str | None:
    return next((k for k in params if k.lower() in PAGE_PARAMS), None)


def _with_params(url: str, params: dict[str, Any]) -> str:
    from urllib.parse import urlencode
    if not params:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(params)


def _clean_params(params: dict[str, Any]) -> dict[str, Any] | None:
    """Literal fields kept; a variable page field starts at 1; another variable field makes the call unknown."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        if v is _VARIABLE:
            if k.lower() in PAGE_PARAMS:
                out[k] = 1
            elif k.lower() in _SIZE_PARAMS:
                out[k] = 10
            else:
                continue  # a filter the page sets at run time (a keyword, a category): left out
        elif v is not None:
            out[k] = v
    return out


def _make_call(method: str, raw_url: str, base_url: str, params: dict[str, Any] | None, json_body: bool) -> ApiCall | None:
    from urllib.parse import parse_qsl
    url = _JS_ESC.sub(_js_unescape, raw_url.strip())
    # a template's or a concatenation's open page value: '/api/list?page=${p}', '/api/list?pageNo=' + n
    url = _TEMPLATE.sub("\x00", url)
    if url.endswith("="):
        url += "\x00"
    try:
        query = urlsplit(url).query
    except ValueError:
        return None
    page = None
    for k, v in parse_qsl(query, keep_blank_values=True):
        if k.lower() in PAGE_PARAMS:
            page = k
            if v == "\x00":
                url = url.replace(f"{k}=\x00", f"{k}=1")
    if "\x00" in url or not url or url.startswith(("#", "javascript:", "data:")) or "{" in url or "<" in url:
        return None
    if re.search(r"\.(?:js|css|png|jpe?g|gif|svg|ico|woff2?|html?)(?:[?#]|$)", url.split("?")[0] + "?", re.I):
        return None  # a script, a style, an image or a page is no JSON API
    absolute = urljoin(base_url, url)
    if not absolute.lower().startswith(("http://", "https://")):
        return None
    params = _clean_params(params or {}) or {}
    if method == "POST":
        if not json_body or not params or not _LISTY.search(urlsplit(absolute).path):
            return None  # a POST is made only to a list/search endpoint whose JSON body the script gives
        import json
        return ApiCall("POST", absolute, json.dumps(params, ensure_ascii=False, sort_keys=True), _page_param(params))
    return ApiCall("GET", _with_params(absolute, params), None, page or _page_param(params))


def api_calls_in_script(js: str, base_url: str) -> list[ApiCall]:
    """The JSON API calls a script's text makes (see above), resolved against the page ``base_url``."""
    js = js[:_MAX_SCRIPT]
    out: list[ApiCall] = []

    def add(c: ApiCall | None) -> None:
        if c is not None and c not in out:
            out.append(c)

    def options(at: int) -> str:
        m = re.match(r"\s*,\s*\{", js[at:at + 200])
        return _balanced(js, at + m.end() - 1) if m else ""

    def body_of(opts: str) -> tuple[dict[str, Any] | None, bool]:
        m = re.search(r"\b(?:body|data)\s*:\s*JSON\s*\.\s*stringify\s*\(\s*\{", opts)
        if m:
            return _object(_balanced(opts, m.end() - 1)), True
        m = re.search(r"\b(?:data|params)\s*:\s*\{", opts)
        if m:
            return _object(_balanced(opts, m.end() - 1)), "json" in (_field(opts, "contentType") or "").lower()
        return None, False

    for m in _FETCH.finditer(js):
        opts = options(m.end())
        method = (_field(opts, "method") or "GET").upper() if opts else "GET"
        body, is_json = body_of(opts) if opts else (None, False)
        add(_make_call(method, m.group(2), base_url, body if method == "POST" else None, is_json or method == "POST"))
    for m in _AJAX_OBJ.finditer(js):
        obj = _balanced(js, m.end() - 1)
        url = _field(obj, "url")
        if not url:
            continue
        method = (_field(obj, "type", "method") or "GET").upper()
        body, is_json = body_of(obj)
        add(_make_call(method, url, base_url, body, is_json))
    for m in _AJAX_URL_FIRST.finditer(js):
        opts = options(m.end())
        method = (_field(opts, "type", "method") or "GET").upper() if opts else "GET"
        body, is_json = body_of(opts) if opts else (None, False)
        add(_make_call(method, m.group(2), base_url, body, is_json))
    for m in _SHORT.finditer(js):
        verb = m.group(1).lower()
        rest = js[m.end():m.end() + 2000]
        params: dict[str, Any] | None = None
        is_json = False
        a = re.match(r"\s*,\s*(JSON\s*\.\s*stringify\s*\(\s*)?\{", rest)
        if a:
            inner = _balanced(rest, a.end() - 1)
            if verb != "post" and re.match(r"\{\s*params\s*:\s*\{", inner):  # axios.get(url, {params: {...}})
                inner = _balanced(inner, inner.index("{", 1))
            params = _object(inner)
            is_json = bool(a.group(1)) or m.group(0).lstrip().startswith("axios")
        add(_make_call("POST" if verb == "post" else "GET", m.group(3), base_url, params, is_json))
    for m in _XHR_OPEN.finditer(js):
        add(_make_call(m.group(2).upper(), m.group(4), base_url, None, False))
    return out


def api_calls(root: Any, base_url: str) -> list[ApiCall]:
    """The JSON API calls of a parsed page: its inline scripts and its ``data-api`` attributes."""
    out: list[ApiCall] = []
    for js in _inline_scripts(root):
        for c in api_calls_in_script(js, base_url):
            if c not in out:
                out.append(c)
    for attr in _API_ATTRS:
        for el in root.xpath(f"//*[@{attr}]"):
            c = _make_call("GET", el.get(attr) or "", base_url, None, False)
            if c is not None and c not in out:
                out.append(c)
    return out


def script_sources(root: Any, base_url: str) -> list[str]:
    """Absolute URLs of a page's external scripts, libraries (jquery, vue, axios… ``.min.js``) left out."""
    out = []
    for el in root.iter("script"):
        src = (el.get("src") or "").strip()
        if not src or re.search(r"(?:jquery|vue|react|axios|bootstrap|layui|echarts|swiper|polyfill|\.min)\b[^/]*$",
                                src.split("?")[0], re.I):
            continue
        u = urljoin(base_url, src)
        if u.lower().startswith(("http://", "https://")) and u not in out:
            out.append(u)
    return out


def _lower_keys(d: dict) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in d.items()}


def _lists(payload: Any, depth: int = 0) -> list[list]:
    if depth > 4:
        return []
    if isinstance(payload, list):
        return [payload] + [x for item in payload[:3] for x in _lists(item, depth + 1)]
    if isinstance(payload, dict):
        return [x for v in payload.values() for x in _lists(v, depth + 1)]
    return []


def _numbers(payload: Any, keys: tuple[str, ...], depth: int = 0) -> list[int]:
    if depth > 3 or not isinstance(payload, dict):
        return []
    out = []
    for k, v in _lower_keys(payload).items():
        if k in keys and isinstance(v, int | str) and str(v).isdigit():
            out.append(int(v))
        elif isinstance(v, dict):
            out += _numbers(v, keys, depth + 1)
    return out


def _page_of(call: ApiCall) -> tuple[int, dict[str, Any]]:
    """(the call's page number, its parameters: the query's or the JSON body's)."""
    import json
    from urllib.parse import parse_qsl
    if call.method == "POST":
        try:
            params = json.loads(call.body or "{}")
        except ValueError:
            params = {}
    else:
        params = dict(parse_qsl(urlsplit(call.url).query, keep_blank_values=True))
    try:
        page = int(params.get(call.page_param or "", 1))
    except (TypeError, ValueError):
        page = 1
    return page, params


def list_done(call: ApiCall, payload: Any) -> bool:
    """Is a list API's response the last page? An empty list, or the totals it gives say so."""
    lists = _lists(payload)
    biggest = max((len(x) for x in lists), default=0)
    if biggest == 0:
        return True
    page, params = _page_of(call)
    pages = _numbers(payload, _PAGES_KEYS)
    if pages and page >= max(pages):
        return True
    totals = _numbers(payload, _TOTAL_KEYS)
    size = next((int(v) for k, v in params.items() if k.lower() in _SIZE_PARAMS and str(v).isdigit()), biggest)
    return bool(totals) and page * max(size, 1) >= max(totals)


def next_page(call: ApiCall) -> ApiCall | None:
    """The call for the next page of a paged list API (None if it has no page parameter)."""
    import json
    from urllib.parse import parse_qsl, urlencode
    if not call.page_param:
        return None
    page, params = _page_of(call)
    params[call.page_param] = page + 1
    if call.method == "POST":
        return ApiCall("POST", call.url, json.dumps(params, ensure_ascii=False, sort_keys=True), call.page_param)
    parts = urlsplit(call.url)
    q = [(k, str(page + 1) if k == call.page_param else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return ApiCall("GET", parts._replace(query=urlencode(q)).geturl(), None, call.page_param)


_LINK_KEY = re.compile(r"url|href|link|path|detail", re.I)
_PAGE_EXT = re.compile(r"\.(?:s?html?|jsp|do|action|aspx?|php)$|/[^./]*$", re.I)


def json_links(payload: Any, depth: int = 0) -> list[str]:
    """Page links a JSON response names (``url``/``href``/``link``/``detailUrl`` fields whose value is a
    path or an http(s) URL of a page, not a file): the detail pages a script would link its list items to."""
    if depth > 6:
        return []
    out: list[str] = []
    if isinstance(payload, list):
        for item in payload[:200]:
            out += json_links(item, depth + 1)
    elif isinstance(payload, dict):
        for k, v in payload.items():
            if isinstance(v, str) and _LINK_KEY.search(str(k)) and v.startswith(("/", "http://", "https://")):
                if _PAGE_EXT.search(urlsplit(v).path or "/") and "{" not in v:
                    out.append(v)
            elif isinstance(v, dict | list):
                out += json_links(v, depth + 1)
    return out
