"""Pages as the rules see them, and the one pass that runs every rule over a page.

* ``decode_body(body, content_type, declared)`` turns stored bytes into text with
  ``evidence.decode`` (shared with the crawler): BOM, the declared/HTTP/``<meta>`` charsets
  validated by strict decoding, then detection; gb2312/gbk are read as gb18030.
* ``parse_html(html, url)`` / ``parse_text(text, url)`` build a :class:`PageDoc` once: the
  visible text (scripts, styles and comments dropped, whitespace runs collapsed to one space,
  block boundaries to one newline), every link with its label (anchor text + ``img alt`` +
  ``title``) and its span in that text — links whose target is only in an event handler
  (``onclick``, ``javascript:`` hrefs, on ``<a>``, ``<li>``, ``<div>``, ``<img>``…) included,
  read by ``evidence.links`` as the crawler reads them — the text segments the metadata reader uses, and the
  policy-document metadata (lazily, see ``extractors.document``).
* ``visible_text(html)`` is the text that offsets of evidence refer to.
* the keyword prefilter: a matcher registers the words one of which any match of its regex
  must contain (``required_literals``); ``PageDoc.has_any`` answers from one Aho-Corasick
  scan per page and haystack, so a rule whose words are absent skips the page (same hits).
* ``run_rules(page, ruleset, ctx)`` evaluates every rule of the rule set over the page and
  returns :class:`Finding` objects (leaf, rule, version, points, snippet, offsets, values,
  checks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urljoin, urlsplit

import lxml.etree
import lxml.html

from evidence.links import handler_target

if TYPE_CHECKING:
    from extractors.document import DocumentInfo, TargetNames
    from extractors.rules import Rule, RuleSet

DEFAULT_AS_OF = date(2023, 10, 31)

# --- decoding ------------------------------------------------------------------------------
def decode_body(body: bytes, content_type: str | None = None, declared: str | None = None) -> tuple[str, str]:
    """Decode page bytes; returns (text, encoding used).

    ``declared`` (e.g. the encoding the crawler stored), the HTTP header and the ``<meta>``
    declaration are tried in that order, each validated by strict decoding; an undeclared or
    wrongly declared body is detected. The one decoder the crawler uses too
    (:func:`evidence.decode.decode_html`).
    """
    from evidence.decode import decode_html

    return decode_html(body, content_type, declared)


# --- the page model ------------------------------------------------------------------------
@dataclass
class Link:
    label: str  # anchor text + img alt + title, whitespace-collapsed
    href: str  # absolute
    start: int  # span of the anchor's visible text in PageDoc.text
    end: int
    host: str = ""


@dataclass
class Segment:
    """A run of text between two element boundaries; ``block`` if a block/cell boundary precedes it."""

    text: str
    start: int
    end: int
    block: bool


@dataclass
class PageDoc:
    url: str
    title: str
    text: str
    links: list[Link]
    segments: list[Segment]
    meta: dict[str, str] = field(default_factory=dict)  # <meta name=... content=...>, names lower-cased
    h1: list[str] = field(default_factory=list)
    kind: str = "html"  # "html" | "text" | "json"
    root: Any = None  # the lxml tree (HTML pages), for CSS selectors
    info: dict = field(default_factory=dict)  # what the crawl stored: status, headers, depth, kind, requested_url
    spans: dict = field(default_factory=dict)  # element of ``root`` -> its (start, end) in ``text``
    _zone: list | None = None  # article body + headline spans (extractors.body), computed on demand
    _doc: Any = None
    _doc_done: bool = False

    _host: str | None = None
    _present: dict = field(default_factory=dict)
    data: Any = None  # a JSON page's parsed value (``parse_json``), read by the json matcher

    @property
    def host(self) -> str:
        """The page URL's host, lower-cased (computed once: every link rule asks for it)."""
        if self._host is None:
            self._host = (urlsplit(self.url).hostname or "").lower()
        return self._host

    def has_any(self, where: str, words: frozenset[str]) -> bool:
        """Whether one of ``words`` (registered with :func:`register_literals`) occurs in the
        haystack ``where``: ``text`` (the visible text), ``title``, ``labels`` (every link label)
        , ``elements`` (the whole tree's text, whitespace-collapsed) or ``squeezed`` (the visible
        text without whitespace). One keyword scan per
        haystack and page finds every registered word; a matcher whose required words are all
        absent cannot match, and skips the page."""
        found = self._present.get(where)
        if found is None:
            found = self._present[where] = _scan_literals(self._haystack(where))
        return not found.isdisjoint(words)

    def _haystack(self, where: str) -> str:
        if where == "text":
            return self.text
        if where == "title":
            return self.title
        if where == "labels":
            return "\n".join(lk.label for lk in self.links)
        if where == "elements":
            return _WS.sub(" ", self.root.text_content()) if self.root is not None else ""
        if where == "squeezed":  # the visible text without any whitespace (labels padded 办 理 时 限)
            return _WS.sub("", self.text)
        raise ValueError(f"unknown haystack {where!r}")

    @property
    def document(self) -> DocumentInfo | None:
        """The policy-document metadata of this page, or None if it is not one (computed once)."""
        if not self._doc_done:
            from extractors.document import read_document
            self._doc = read_document(self) if self.kind != "json" else None
            self._doc_done = True
        return self._doc


# --- the keyword prefilter ------------------------------------------------------------------
_LITERALS: set[str] = set()
_AUTOMATON: Any = None  # pyahocorasick automaton over _LITERALS (rebuilt when words are added)


def register_literals(words: frozenset[str] | None) -> frozenset[str] | None:
    """Make ``words`` known to the per-page keyword scan (matchers register theirs when compiled)."""
    global _AUTOMATON
    if words and not words <= _LITERALS:
        _LITERALS.update(words)
        _AUTOMATON = None
    return words


def _scan_literals(hay: str) -> frozenset[str]:
    """Every registered word occurring in ``hay`` (overlaps included), in one Aho-Corasick pass."""
    global _AUTOMATON
    if not hay or not _LITERALS:
        return frozenset()
    try:
        import ahocorasick
    except ImportError:  # pragma: no cover - pyahocorasick missing: slower, same answer
        return frozenset(w for w in _LITERALS if w in hay)
    if _AUTOMATON is None:
        auto = ahocorasick.Automaton()
        for w in _LITERALS:
            auto.add_word(w, w)
        auto.make_automaton()
        _AUTOMATON = auto
    return frozenset(w for _end, w in _AUTOMATON.iter(hay))


def required_literals(pattern: re.Pattern | None) -> frozenset[str] | None:
    """Words one of which every match of ``pattern`` must contain, or None if none can be told.

    Read from the parsed regex: a sequence needs any of its parts' words (the best part is
    kept), an alternation the union of its branches' words, a repeat of at least one its
    item's; anything else (classes, case-insensitive groups, back references) tells nothing.
    """
    if pattern is None or pattern.flags & re.IGNORECASE:
        return None
    try:
        from re import _parser as sre_parse  # type: ignore[attr-defined]
        parsed = sre_parse.parse(pattern.pattern, pattern.flags)
    except Exception:  # noqa: BLE001 - an unreadable pattern just gets no prefilter
        return None
    words = _required_seq(list(parsed))
    return frozenset(words) if words else None


def _required_seq(items: list) -> set[str] | None:
    from re import _constants as c  # type: ignore[attr-defined]

    cands: list[set[str]] = []
    run: list[str] = []
    for op, av in items:
        if op is c.LITERAL:
            run.append(chr(av))
            continue
        if run:
            cands.append({"".join(run)})
            run = []
        got: set[str] | None = None
        if op is c.SUBPATTERN:
            if not (av[1] & re.IGNORECASE):
                got = _required_seq(list(av[3]))
        elif op is c.BRANCH:
            subs = [_required_seq(list(b)) for b in av[1]]
            got = None if any(not s for s in subs) else set().union(*subs)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)) and av[0] >= 1:
            got = _required_seq(list(av[2]))
        elif op is getattr(c, "ATOMIC_GROUP", None):
            got = _required_seq(list(av))
        if got:
            cands.append(got)
    if run:
        cands.append({"".join(run)})
    if not cands:
        return None
    return max(cands, key=lambda ws: (min(len(w) for w in ws), -len(ws)))


_SKIP = {"script", "style", "noscript", "template", "head", "title", "meta", "link", "object",
         "embed", "svg", "canvas", "iframe", "frame", "frameset", "textarea"}
_INLINE = {"a", "font", "em", "i", "u", "sup", "sub", "small", "big", "strike", "s", "ins", "del",
           "abbr", "code", "q", "cite", "bdi", "bdo", "mark", "time", "var", "wbr", "nobr"}
_CELL = {"td", "th", "span", "b", "strong", "label", "img", "input", "button", "option"}
_WS = re.compile(r"\s+")


class _Builder:
    """Accumulates the visible text with collapsed whitespace, tracking offsets and segments."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.n = 0
        self.pending = ""  # separator owed before the next content: "", " " or "\n"
        self.seg_start: int | None = None
        self.seg_block = True
        self.next_block = True
        self.segments: list[tuple[int, int, bool]] = []

    def boundary(self, kind: str) -> None:
        """kind: 'inline' (no effect), 'cell' (segment split + space), 'block' (split + newline)."""
        if kind == "inline":
            return
        self.close_segment()
        self.next_block = True
        if self.n:
            if kind == "block":
                self.pending = "\n"
            elif self.pending != "\n":
                self.pending = " "

    def close_segment(self) -> None:
        if self.seg_start is not None:
            self.segments.append((self.seg_start, self.n, self.seg_block))
            self.seg_start = None

    def add(self, s: str | None) -> None:
        if not s:
            return
        if s.isspace():  # indentation between tags (most text nodes): at most a space owed
            if self.n and not self.pending:
                self.pending = " "
            return
        s2 = _WS.sub(" ", s)
        if s2.startswith(" ") and self.n and not self.pending:
            self.pending = " "
        core = s2.strip(" ")
        if not core:
            return
        if self.pending and self.n:
            self.parts.append(self.pending)
            self.n += len(self.pending)
        self.pending = ""
        if self.seg_start is None:
            self.seg_start = self.n
            self.seg_block = self.next_block
            self.next_block = False
        self.parts.append(core)
        self.n += len(core)
        if s2.endswith(" "):
            self.pending = " "

    def text(self) -> str:
        return "".join(self.parts)


def _label_of(a: lxml.html.HtmlElement) -> str:
    bits = [a.text_content()]
    for img in a.iter("img"):
        for attr in ("alt", "title"):
            if img.get(attr):
                bits.append(img.get(attr))
    if a.get("title"):
        bits.append(a.get("title"))
    return " ".join(_WS.sub(" ", b).strip() for b in bits if b and b.strip())


_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->|<[^>]*>", re.S | re.I)


def _lost_content(root: lxml.html.HtmlElement, html: str) -> bool:
    """libxml2 silently drops everything nested deeper than 255 elements; notice it."""
    body = root.find("body")
    got = len(_WS.sub("", (body if body is not None else root).text_content()))
    if got > 2000:
        return False
    rough = len(_WS.sub("", _TAGS.sub("", html)))
    return rough >= 4 and got < rough * 0.5


_INLINE_TAGS = re.compile(r"</?(?:font|span|b|i|u|em|strong|small|big|center|sup|sub|s|strike)\b[^>]*>", re.I)
_OPEN_BLOCKS = re.compile(r"<(?:div|section|article|table|tbody|thead|tr|td|th|ul|ol|li|dl|dt|dd|p|form|blockquote)\b[^>]*>", re.I)
_CLOSE_BLOCKS = re.compile(r"</(?:div|section|article|table|tbody|thead|tr|td|th|ul|ol|li|dl|dt|dd|p|form|blockquote)\s*>", re.I)


def _flattened_root(html: str) -> lxml.html.HtmlElement | None:
    """Re-parse a page nested too deep for libxml2: drop inline tags, then turn blocks into <br>."""
    flat = _INLINE_TAGS.sub("", html)
    for attempt in range(2):
        try:
            root = lxml.html.document_fromstring(flat)
        except (lxml.etree.ParserError, ValueError):
            return None
        if not _lost_content(root, flat):
            return root
        if attempt == 0:
            flat = _CLOSE_BLOCKS.sub("", _OPEN_BLOCKS.sub("<br>", flat))
    return root


@lru_cache(maxsize=1 << 16)
def _join_host(base: str, href: str) -> tuple[str, str]:
    absolute = urljoin(base, href)
    return absolute, (urlsplit(absolute).hostname or "").lower()


def _resolve(base: str, base_parts: SplitResult | None, href: str) -> tuple[str, str]:
    """(absolute URL, its lower-cased host) of ``href`` on a page whose base URL is ``base``.

    The same as ``urljoin`` + ``urlsplit``, cached across pages: an href with a scheme or a
    root-relative one does not depend on the base's path, so the menus and footers every page
    of a site repeats are resolved once per site.
    """
    if base_parts is not None and base_parts.scheme in ("http", "https") and base_parts.netloc:
        if href.startswith(("http://", "https://", "//")):
            return _join_host(f"{base_parts.scheme}://{base_parts.netloc}/", href)
        if href.startswith("/"):
            return _join_host(f"{base_parts.scheme}://{base_parts.netloc}/", href)
    return _join_host(base, href)


def parse_html(html: str, url: str = "") -> PageDoc:
    """Parse an HTML document (however broken) into a PageDoc, once."""
    html = html.lstrip("\ufeff")
    if not html.strip():
        return PageDoc(url, "", "", [], [])
    try:
        root = lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        # e.g. an XML declaration in a str, or nothing parseable: retry as bytes
        try:
            root = lxml.html.document_fromstring(html.encode("utf-8", "replace"),
                                                 parser=lxml.html.HTMLParser(encoding="utf-8"))
        except (lxml.etree.ParserError, ValueError):
            return parse_text(html, url)
    if _lost_content(root, html):
        flat = _flattened_root(html)
        if flat is not None:
            root = flat
    base = url
    for b in root.iter("base"):
        if b.get("href"):
            base = urljoin(url, b.get("href"))
            break
    title_el = root.find(".//title")
    title = _WS.sub(" ", title_el.text_content()).strip() if title_el is not None else ""
    meta: dict[str, str] = {}
    for m in root.iter("meta"):
        name = (m.get("name") or m.get("property") or "").strip().lower()
        if name and m.get("content") is not None and name not in meta:
            meta[name] = m.get("content").strip()

    b = _Builder()
    raw_links: list[tuple[str, str, int, int]] = []
    form_spans: list[tuple[int, int]] = []  # <select> menus: visible text, but never metadata
    h1: list[str] = []
    spans: dict[Any, tuple[int, int]] = {}

    # an explicit stack, not recursion: broken pages nest thousands of unclosed tags
    body = root.find("body")
    # items: (element, None, 0) to open, (element, (tag, kind), start offset) to close
    stack: list[tuple[Any, tuple[str, str] | None, int]] = [(body if body is not None else root, None, 0)]
    while stack:
        el, opened, start = stack.pop()
        if opened is None:
            tag = el.tag.lower() if isinstance(el.tag, str) else ""
            if not tag or tag in _SKIP:  # comments, scripts...: only the tail is content
                b.add(el.tail)
                continue
            kind = "inline" if tag in _INLINE else "cell" if tag in _CELL else "block"
            b.boundary(kind)
            start = b.n + (1 if b.pending else 0)
            b.add(el.text)
            stack.append((el, (tag, kind), start))
            stack.extend((child, None, 0) for child in reversed(el))
            continue
        tag, kind = opened
        end = b.n
        spans[el] = (min(start, end), end)
        if tag == "a" or (tag == "area" and el.get("href")):
            href = (el.get("href") or "").strip()
            if not href or href == "#" or href.lower().startswith("javascript"):
                href = handler_target(el) or href
            if href and not href.lower().startswith(("javascript:", "mailto:", "#")):
                raw_links.append((_label_of(el), href, min(start, end), end))
        elif el.get("onclick") is not None or el.get("role") == "link":
            # <li onclick="location.href='…'">, <img onclick="window.open('…')">, <div data-url=… onclick=…>
            target = handler_target(el)
            if target:
                raw_links.append((_label_of(el), target, min(start, end), end))
        elif tag == "option":
            v = (el.get("value") or "").strip()
            if v.lower().startswith(("http://", "https://", "//")):
                raw_links.append((_WS.sub(" ", el.text_content()).strip(), v, min(start, end), end))
        elif tag == "select":
            form_spans.append((start, end))
        elif tag == "h1":
            t = _WS.sub(" ", el.text_content()).strip()
            if t:
                h1.append(t)
        b.boundary(kind)
        b.add(el.tail)

    b.close_segment()
    text = b.text()
    links = []
    try:
        base_parts: SplitResult | None = urlsplit(base) if base else None
    except ValueError:  # a malformed base: every link is resolved (and rejected) on its own
        base_parts = None
    for label, href, s, e in raw_links:
        try:
            absolute, host = _resolve(base, base_parts, href)
        except ValueError:
            continue
        s, e = min(s, len(text)), min(max(s, e), len(text))
        while s < e and text[s] in " \n":
            s += 1
        links.append(Link(label, absolute, s, e, host))
    segments = [Segment(text[s:e], s, e, blk) for s, e, blk in b.segments
                if e > s and not (form_spans and any(a <= s and e <= z for a, z in form_spans))]
    page = PageDoc(url, title, text, links, segments, meta, h1, "html")
    page.root = root
    page.spans = spans
    return page


def parse_text(text: str, url: str = "") -> PageDoc:
    """A plain-text page (a .txt file, an attachment's extracted text): lines are segments."""
    b = _Builder()
    for line in text.splitlines():
        b.boundary("block")
        b.add(line)
    b.close_segment()
    out = b.text()
    segments = [Segment(out[s:e], s, e, True) for s, e, _ in b.segments if e > s]
    first = segments[0].text if segments else ""
    return PageDoc(url, first[:200], out, [], segments, {}, [], "text")


def parse_json(text: str, url: str = "") -> PageDoc:
    """A stored JSON API response (a dataset or service list a page's scripts fetch): ``data`` is
    the parsed value (None when the body is not JSON), ``text`` the body as stored, so evidence
    offsets point into the response. Only the json, url, http and page matchers read such a page:
    text, link, css and document matchers find nothing in it (it is no page a citizen reads)."""
    import json

    body = text.lstrip("\ufeff")
    try:
        data = json.loads(body)
    except ValueError:
        data = None
        # JSONP (callback({...});), which some catalogue APIs still answer with
        m = re.match(r"\s*[\w$.]+\s*\((.*)\)\s*;?\s*$", body, re.S)
        if m:
            try:
                data = json.loads(m.group(1))
            except ValueError:
                data = None
    page = PageDoc(url, "", body, [], [], {}, [], "json")
    page.data = data
    return page


def looks_like_json(text: str, content_type: str | None = None) -> bool:
    """A body to read as JSON: a JSON content type, or a body that starts like a JSON object/array."""
    if content_type and "json" in content_type.lower():
        return True
    head = text.lstrip("\ufeff \t\r\n")[:1]
    return head in ("{", "[")


def visible_text(html: str) -> str:
    """The visible text of an HTML page that evidence offsets refer to."""
    return parse_html(html).text


def looks_like_html(text: str) -> bool:
    head = text[:4096].lower()
    return "<html" in head or "<body" in head or "<!doctype" in head or "<div" in head or "<a " in head \
        or "<p>" in head or "<table" in head


# --- running rules -------------------------------------------------------------------------
@dataclass
class Context:
    """What a rule may know besides the page: the cut-off date and whose page it is."""

    as_of: date = DEFAULT_AS_OF
    target: TargetNames | None = None


@dataclass
class Finding:
    leaf_id: str
    rule_id: str
    rule_version: str
    points: float
    snippet: str
    start: int
    end: int
    values: dict = field(default_factory=dict)
    checks: dict = field(default_factory=dict)


def run_rule(rule: Rule, page: PageDoc, ctx: Context) -> list[Finding]:
    """All findings of one rule on one page (one per distinct hit)."""
    hits = rule.matcher.evaluate(page, ctx)
    out: list[Finding] = []
    seen: set[int] = set()
    for h in hits:
        if h.start in seen:  # one finding per start offset (the store's unique key)
            continue
        seen.add(h.start)
        values = dict(h.values)
        points = rule.points
        if rule.tiers is not None:  # graded by a number the hit carries (rules/…: tiers)
            points, values["tier"] = rule.tiers.grade(values)
        out.append(Finding(rule.leaf_id, rule.id, rule.version, points, h.snippet, h.start, h.end,
                           values, dict(h.checks)))
    return out


def run_rules(page: PageDoc, ruleset: RuleSet, ctx: Context) -> list[Finding]:
    """Every rule of the rule set over one parsed page."""
    out: list[Finding] = []
    for rule in ruleset.rules:
        out += run_rule(rule, page, ctx)
    return out


def parse_date(s: str | None) -> date | None:
    """'2023-10-31', '2023年10月31日', '2023/3/15', '2023.03.15', full-width digits, or Chinese
    numerals ('二〇二二年六月十五日') -> date; None if no date (see ``extractors.dates``)."""
    from extractors.dates import parse_date as _parse

    return _parse(s)
