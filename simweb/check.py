"""Offline checks of a generated portal: link depths as a non-JavaScript crawler sees them.

``link_depths(model)`` walks the rendered pages from the home page the way a plain
crawler does (``href`` attributes outside ``<script>``, same host, redirects followed
at the same depth) and returns the depth of every URL it reaches. Tests use it to check
that every piece of evidence in the truth is reachable within depth 3. With
``faults="full"`` it sees what a plain crawler sees: no script-built links, no
``onclick`` targets; attachments and other raw resources are leaves (no HTML).
"""

from __future__ import annotations

import re
from collections import deque
from html import unescape
from urllib.parse import urljoin, urlsplit

from simweb.faults import find_raw
from simweb.generate import trap_page
from simweb.model import SiteModel

_SCRIPT = re.compile(r"<script\b.*?</script>", re.S | re.I)
_HREF = re.compile(r'href="([^"]*)"', re.I)


def page_html(m: SiteModel, path: str) -> str | None:
    """The HTML a path serves with status 200 (None for 404 and redirects)."""
    assert m.family is not None
    page = m.pages.get(m.aliases.get(path, path))
    if page is not None:
        return m.family.render(m, page)
    if path in m.redirects:
        return None
    trap = trap_page(m, path)
    if trap is not None:
        return trap
    page = m.pages.get(path.partition("?")[0])
    return m.family.render(m, page) if page is not None else None


def links(html: str, base: str) -> list[str]:
    text = _SCRIPT.sub("", html)
    out = []
    for href in _HREF.findall(text):
        href = unescape(href).strip()
        if not href or href.startswith(("javascript:", "mailto:", "#")):
            continue
        out.append(urljoin(base, href).split("#", 1)[0])
    return out


def _found(m: SiteModel, path: str) -> str:
    """The target of a 302 (faults="full": Hanweb's download gateway), or ""."""
    raw = find_raw(m, path) if m.raw else None
    return raw.location if raw is not None and raw.kind == "found" else ""


def link_depths(m: SiteModel, max_depth: int = 4) -> dict[str, int]:
    home = m.base + "/"
    depths = {home: 0}
    queue = deque([home])
    while queue:
        url = queue.popleft()
        d = depths[url]
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        while path in m.redirects or _found(m, path):
            path = m.redirects.get(path) or _found(m, path)
            target = m.base + path
            if target not in depths:
                depths[target] = d
            url = target
        if d >= max_depth:
            continue
        html = page_html(m, path)
        if html is None:
            continue
        for link in links(html, url):
            if urlsplit(link).hostname != m.host or link in depths:
                continue
            depths[link] = d + 1
            queue.append(link)
    return depths
