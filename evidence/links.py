"""Links whose target lives only in an event handler, read the same way by the crawler and the rules.

Real portals write entries as ``<a href="javascript:;" onclick="window.open('…')">``,
``<li onclick="location.href='…'">``, ``<img onclick="window.location='…'">``,
``<div onclick="openUrl('…')" >`` or ``<a href="javascript:goTo('…')">``; some keep the
target in a ``data-url`` / ``data-href`` attribute that a site-wide click handler reads.
A plain ``href`` reader sees none of them. ``handler_target(el)`` gives the target such an
element names, or None:

1. a navigation call in ``onclick`` or in a ``javascript:`` href — ``window.open(u)``,
   ``[window.|top.|parent.|self.|document.]location[.href] = u``, ``location.assign(u)``,
   ``location.replace(u)`` — with ``u`` a string literal;
2. else any call in the handler whose first argument is a string literal that looks like a
   URL (``http(s)://``, ``//``, a path starting with ``/``, ``./`` or ``../``, or a file
   name ending in ``.html``/``.htm``/``.shtml``/``.jsp``) and not an image, style or script
   (``showImg('/u/1.jpg')``): ``openUrl('…')``, ``jump('…')``;
3. else, for an element with a click handler (or ``role="link"``), a ``data-url`` /
   ``data-href`` / ``data-link`` attribute.

``handler_links(root)`` lists the targets of every such element of a parsed page (lxml).
Nothing here imports crawlers/ or extractors/; both import this.
"""

from __future__ import annotations

import re
from typing import Any

_NAV_CALL = re.compile(
    r"""(?:window\s*\.\s*open\s*\(|(?:(?:window|top|parent|self|document)\s*\.\s*)?location\s*"""
    r"""(?:\.\s*href\s*=|\.\s*assign\s*\(|\.\s*replace\s*\(|=)(?!=))\s*\(?\s*(['"])([^'"]+)\1""", re.I)
_ANY_CALL = re.compile(r"""[A-Za-z_$][\w$.]*\s*\(\s*(['"])([^'"]+)\1""")
_URLISH = re.compile(r"^(?:https?://|//|\.{0,2}/)[^\s<>]*$|^[\w\-./]+\.(?:s?html?|jsp|aspx?|php)(?:[?#]\S*)?$", re.I)
_NOT_PAGE = re.compile(r"\.(?:jpe?g|png|gif|bmp|webp|svg|ico|css|js|mp3|mp4|swf)(?:[?#]|$)", re.I)  # showImg('/a.jpg')
_DATA_ATTRS = ("data-url", "data-href", "data-link")
_NOT_TARGET = ("javascript:", "#", "about:", "mailto:", "tel:", "data:")


def _usable(u: str) -> str | None:
    u = u.strip()
    if not u or u.lower().startswith(_NOT_TARGET):
        return None
    return u


def script_target(js: str) -> str | None:
    """The URL a handler's script navigates to or opens, or None (see the module docstring)."""
    if not js:
        return None
    for m in _NAV_CALL.finditer(js):
        u = _usable(m.group(2))
        if u:
            return u
    for m in _ANY_CALL.finditer(js):
        u = _usable(m.group(2))
        if u and _URLISH.match(u) and not _NOT_PAGE.search(u):
            return u
    return None


def handler_target(el: Any) -> str | None:
    """The target of an element whose link is only in an event handler, or None.

    An ``<a>`` with a real ``href`` is an ordinary link and gives None here.
    """
    href = (el.get("href") or "").strip()
    if href and not href.lower().startswith("javascript:") and href != "#" and el.tag in ("a", "area"):
        return None
    onclick = el.get("onclick")
    if onclick:
        u = script_target(onclick)
        if u:
            return u
    if href.lower().startswith("javascript:"):
        u = script_target(href[11:])
        if u:
            return u
    if onclick is not None or el.get("role") == "link":
        for attr in _DATA_ATTRS:
            u = _usable(el.get(attr) or "")
            if u:
                return u
    return None


def handler_links(root: Any) -> list[str]:
    """The targets of every element of a parsed page whose link is only in an event handler."""
    out: list[str] = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.get("onclick") is None and not (el.get("href") or "").lower().startswith("javascript:") \
                and el.get("role") != "link":
            continue
        u = handler_target(el)
        if u:
            out.append(u)
    return out
