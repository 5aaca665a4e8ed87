"""Archived pages replayed from the WARC so that nothing reaches the live web and nothing runs.

``rewrite_html(body, encoding, base_url, link_for)`` parses an archived HTML body with lxml,
drops what could run or navigate on its own (``script``, ``noscript``, ``base``, every
``meta http-equiv`` such as refresh, frames, ``object``/``embed``, event-handler attributes,
``srcset``, ``ping``, ``formaction``), makes every link absolute against the page's URL and
hands each http(s) link to ``link_for(url) -> str`` (the application maps it to its own replay
route). Any other scheme (``javascript:``, ``vbscript:``, ``file:``...) is removed; ``data:``
is kept for images and inline stylesheets only. The result is UTF-8 HTML with a
``<meta charset="utf-8">``.

The response that carries it adds, whatever the body, ``Content-Security-Policy: sandbox; ...``
(see ``REPLAY_HEADERS``): even a script the rewriting missed cannot run, and the page has an
opaque origin with no access to the application's cookies or DOM.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from urllib.parse import urlsplit

import lxml.html
from lxml import etree

REPLAY_CSP = ("sandbox; default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
              "base-uri 'none'; form-action 'none'; frame-ancestors 'self'")
REPLAY_HEADERS = {
    "Content-Security-Policy": REPLAY_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, no-store",
}
_DROP_TAGS = ("script", "noscript", "base", "iframe", "frame", "frameset", "object", "embed", "applet",
              "portal", "template")
_DROP_ATTRS = {"srcset", "imagesrcset", "ping", "formaction", "background", "lowsrc", "dynsrc", "integrity"}
_LINK_RELS_KEPT = {"stylesheet", "icon", "shortcut"}
_DATA_OK = {("img", "src"), ("style", None), ("link", "href")}


def _decode(body: bytes, encoding: str | None) -> str:
    enc = encoding or "utf-8"
    try:
        codecs.lookup(enc)
    except LookupError:
        enc = "utf-8"
    return body.decode(enc, errors="replace")


def rewrite_html(body: bytes, encoding: str | None, base_url: str, link_for: Callable[[str], str]) -> bytes:
    """The archived HTML made inert: see the module doc."""
    text = _decode(body, encoding)
    text = re.sub(r"^\s*<\?xml[^>]*>", "", text)  # lxml refuses str input with an encoding declaration
    try:
        doc = lxml.html.document_fromstring(text or "<html></html>")
    except (etree.ParserError, ValueError):
        doc = lxml.html.document_fromstring("<html><body></body></html>")
    for el in list(doc.iter(etree.Element)):
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if tag in _DROP_TAGS or (tag == "meta" and (el.get("http-equiv") is not None or el.get("charset"))):
            el.drop_tree()
            continue
        if tag == "link":
            rels = set((el.get("rel") or "").lower().split())
            if not rels & _LINK_RELS_KEPT:
                el.drop_tree()
                continue
        for attr in list(el.attrib):
            a = attr.lower()
            if a.startswith("on") or a in _DROP_ATTRS:
                del el.attrib[attr]
    for el in doc.iter(etree.Comment, etree.ProcessingInstruction):
        if el.getparent() is not None:
            el.getparent().remove(el)
    try:
        doc.make_links_absolute(base_url or None, resolve_base_href=False, handle_failures="discard")
    except (ValueError, TypeError):
        pass
    for el, attr, link, pos in list(doc.iterlinks()):
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        new = _replace(link.strip(), tag, attr, link_for)
        if new == link:
            continue
        if attr is None:  # a url(...) inside a <style> element
            el.text = el.text[:pos] + (new or "") + el.text[pos + len(link):]
        elif new is None:
            del el.attrib[attr]
        else:
            cur = el.get(attr) or ""
            el.set(attr, new if (not pos and len(cur) == len(link)) else cur[:pos] + new + cur[pos + len(link):])
    # style attributes: url(...) inside them is not a link iterlinks rewrites everywhere; drop external ones
    for el in doc.xpath("//*[@style]"):
        if re.search(r"url\s*\(|@import|expression\s*\(", el.get("style", ""), re.I):
            el.set("style", re.sub(r"url\s*\([^)]*\)|@import[^;]*;?|expression\s*\([^)]*\)", "none",
                                   el.get("style", ""), flags=re.I))
    head = doc.find("head")
    if head is None:
        head = etree.Element("head")
        doc.insert(0, head)
    meta = etree.Element("meta", charset="utf-8")
    head.insert(0, meta)
    return lxml.html.tostring(doc, encoding="utf-8", method="html", doctype="<!DOCTYPE html>")


def _replace(link: str, tag: str, attr: str | None, link_for: Callable[[str], str]) -> str | None:
    if not link:
        return None
    if link.startswith("#"):
        return link
    scheme = urlsplit(link).scheme.lower()
    if scheme in ("http", "https"):
        return link_for(link)
    if scheme == "data" and (tag, attr) in _DATA_OK:
        return link
    return None
