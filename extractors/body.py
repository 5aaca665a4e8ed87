"""Page furniture versus an article's body, told apart by structure.

An entry (a 12345 hotline block, a link to the service portal, an elderly-mode switch) is
page furniture: header, navigation, footer, a service block, a sidebar, a floating icon.
The same words in an article's body — news about the hotline, a regulation on it, a notice
that gives 12345 as the complaint channel — are not an entry. Rules ask for furniture with
``not_in_body: true``; ``in_body(page, start, end)`` answers for a span of the visible text.

The body is found the way readability-style extractors find it, with no CMS's class names:

* **text holders**: elements carrying prose of their own (their direct text and the text of
  inline children, link text excluded) of at least ``_MIN_HOLDER`` characters with sentence
  punctuation. Each holder credits its prose fully to its parent and half to its grandparent
  (a ``<div>``/``<td>`` holding ``<br>``-separated lines to itself too); the element with most
  credit is the body candidate, the innermost on ties. Inside ``<article>``,
  ``<main>`` or ``role="main"``/``role="article"`` (when a page has them) only holders
  there count.
* **an article page**: not the home page, not a list (five or more dated headlines), and
  either a policy document, a page with a publication line (发布时间 / 发布日期 / 来源 /
  ``<meta PubDate>`` / ``ArticleTitle``) and a body of ``_MIN_BODY`` prose characters, or
  a body of ``_LONG_BODY`` characters that holds most of the page's prose. A service page
  with a sentence about its hotline is no article.
* **a stored page without HTML** (the text of a PDF/DOC/DOCX the crawl stored) is all body;
* **the headline** belongs to the article: ``<h1>`` elements and any block whose text is part
  of the page's ``<title>`` / ``ArticleTitle`` count as body on an article page.

Everything here is decided on the one page, by structure. Repetition across a site's pages
(furniture repeats, a body does not) is not used: the extract pass reads pages one at a time.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from extractors.engine import PageDoc

_MIN_HOLDER = 12  # characters of prose an element must carry itself to count as a paragraph
_MIN_BODY = 30  # prose characters of an article body (a page with a publication line)
_LONG_BODY = 300  # prose characters that make a body without any publication line
_PROSE_SHARE = 0.5  # ... when it also holds this share of the page's prose
_SENTENCE = re.compile(r"[，。；！？、,.;!?]")
_WS = re.compile(r"\s+")
_PUB_LINE = re.compile(r"(?:发布|发文|成文|发稿|更新|印发)?(?:时间|日期)\s*[:：]\s*(?:19|20)\d{2}\s*[年\-/.]"
                       r"|(?:信息|文章|稿件)?来源\s*[:：]")
_PUB_META = ("pubdate", "articletitle", "publishdate", "firstpublishedtime", "article:published_time")
_HOME_PATHS = {"", "/", "/index.html", "/index.htm", "/index.shtml", "/index.jsp", "/index.php",
               "/index.aspx", "/default.htm", "/default.html", "/default.aspx", "/portal/index.html"}
_INLINE = {"a", "font", "em", "i", "u", "sup", "sub", "small", "big", "strike", "s", "ins", "del", "abbr",
           "code", "q", "cite", "span", "b", "strong", "label", "mark", "time", "var", "nobr", "br", "img"}
_DATE = re.compile(r"(?:19|20)\d{2}\s*[年\-/.]\s*\d{1,2}\s*[月\-/.]\s*\d{1,2}")


_HOLDER_TAGS = ("p", "div", "td", "li", "dd", "section", "article", "pre", "blockquote", "center", "font", "span")
_CONTAINERS = {"div", "td", "section", "article", "center"}
_FURNITURE_TAGS = {"nav", "header", "footer", "aside", "form", "button", "select", "textarea", "template"}


def _own_prose(el: Any) -> int:
    """Characters of text an element carries itself (its text, its inline children's but links', tails)."""
    n = len((el.text or "").strip())
    for child in el:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in _INLINE and tag != "a":
            n += len(_WS.sub("", child.text_content() or ""))
        if child.tail:
            n += len(child.tail.strip())
    return n


def _holders(scope: Any) -> list[tuple[Any, int]]:
    """Elements carrying prose of their own with sentence punctuation (paragraphs), outside furniture."""
    out = []
    for el in scope.iter(*_HOLDER_TAGS):
        if el.tag == "span" and el.getparent() is not None and el.getparent().tag == "p":
            continue  # inline formatting of a paragraph: counted by the paragraph
        n = _own_prose(el)
        if n < _MIN_HOLDER:
            continue
        own = (el.text or "") + "".join((c.text_content() if c.tag in _INLINE and c.tag != "a" else "") + (c.tail or "")
                                        for c in el if isinstance(c.tag, str))
        if not _SENTENCE.search(own):
            continue
        if any(a.tag in _FURNITURE_TAGS for a in el.iterancestors()):
            continue
        out.append((el, n))
    return out


def _scope(root: Any) -> Any:
    """<article>, <main> or a role=main/article element when the page marks its content, else <body>."""
    for el in root.iter("article", "main"):
        return el
    for el in root.xpath(".//*[@role]"):
        if el.get("role", "").strip().lower() in ("main", "article"):
            return el
    body = root.find("body")
    return body if body is not None else root


def _is_home(page: PageDoc) -> bool:
    info = page.info or {}
    if info.get("depth") == 0:
        return True
    parts = urlsplit(page.url or "")
    return parts.scheme in ("http", "https") and parts.path in _HOME_PATHS and not parts.query


def _dated_headlines(page: PageDoc) -> int:
    n = 0
    for lk in page.links:
        if len(lk.label) >= 6 and lk.end > lk.start and _DATE.search(page.text, lk.end, lk.end + 16):
            n += 1
            if n >= 5:
                break
    return n


def article_zone(page: PageDoc) -> list[tuple[int, int]]:
    """Spans of the visible text that are an article's body and headline ([] if the page is no article)."""
    cached = page._zone
    if cached is not None:
        return cached
    if page.kind == "text" and page.info:
        # a stored page without HTML (a PDF/DOC/DOCX's extracted text) is a document: no page furniture.
        # (A text given to inspect or a rule example, with no crawl info, is judged as it is.)
        page._zone = [(0, len(page.text) + 1)]
        return page._zone
    page._zone = []
    root = page.root
    if root is None or page.kind != "html" or not page.spans or _is_home(page) or _dated_headlines(page) >= 5:
        return page._zone  # no article: a home page, a list of dated headlines
    holders = _holders(_scope(root))
    if not holders:
        return page._zone
    credit: dict[Any, float] = {}
    for el, n in holders:
        if el.tag in _CONTAINERS:  # a <div id="zoom"> of <br>-separated lines is a body itself; a <p> is not
            credit[el] = credit.get(el, 0.0) + n
        parent = el.getparent()
        if parent is not None:
            credit[parent] = credit.get(parent, 0.0) + n
            grand = parent.getparent()
            if grand is not None:
                credit[grand] = credit.get(grand, 0.0) + n / 2
    best = max(credit, key=lambda e: (credit[e], len(list(e.iterancestors()))))  # ties: the innermost
    span = page.spans.get(best)
    if span is None:
        return page._zone
    body_prose = sum(n for el, n in holders if el is best or any(a is best for a in el.iterancestors()))
    total = sum(n for _, n in holders)
    published = any(page.meta.get(k) for k in _PUB_META) or bool(_PUB_LINE.search(page.text[:span[0] + 400]))
    article = (published and body_prose >= _MIN_BODY) or \
        (body_prose >= _LONG_BODY and body_prose >= _PROSE_SHARE * total)
    if not article and body_prose >= _MIN_BODY and page.document is not None:
        article = True
    if not article:
        return page._zone
    zone = [span]
    # the article's own title: ArticleTitle, and the first part of <title> ("标题_栏目_站点名")
    titles = [t for t in (re.split(r"\s*[_|｜—–]\s*|\s+-\s+", page.title)[0], page.meta.get("articletitle", ""))
              if len(t) >= 6]
    for h in root.iter("h1"):
        if h in page.spans:
            zone.append(page.spans[h])
    if titles:
        for seg in page.segments:
            t = seg.text.strip()
            if len(t) >= 6 and seg.start < span[0] and any(t in x and 2 * len(t) >= len(x) for x in titles):
                zone.append((seg.start, seg.end))
    page._zone = zone
    return zone


def in_body(page: PageDoc, start: int, end: int) -> bool:
    """Whether the span [start, end) of the page's visible text lies in an article's body or headline."""
    for a, b in article_zone(page):
        if a <= start < b or (start < b and a < end) or (start == end and a <= start <= b):
            return True  # an empty span (an image) at the body's last offset is inside it
    return False
