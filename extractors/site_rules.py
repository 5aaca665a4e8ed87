"""Matcher kinds beyond the first five: CSS selectors, page kinds, HTTP checks, document
fields, and site-level aggregates.

Registered into ``extractors.matchers`` on import (``extractors.rules`` imports this module):

``css``        elements selected by a CSS selector (lxml + cssselect), optionally filtered by
               an attribute regex (``attr`` + ``pattern``) or a regex on the element's text
               (``text``, ``max_text``), ``not_in_body`` (not in an article's body) and
               ``not_in_link`` (not inside an ``<a>``, which the link rules judge);
``page``       the page itself, when its kind (``home``, ``document``, ``list``, ``article``,
               ``probe``, ``other``), its crawl depth (``depth_max``), its title, or the part of
               the site's presence it came from (``platform``: ``portal``, ``service``,
               ``opendata``; ``pages.platform``, a page without it is the portal's) fit;
``http``       what the crawl stored about the response: ``scheme``, ``status`` (regex on the
               code), ``header`` (+ ``header_pattern``), ``redirected_from`` (regex on the URL
               requested, e.g. ``'^http://'`` for an http→https redirect), ``path``,
               ``certificate`` (``valid``: the crawl's verified TLS probe of the page's host
               passed — chain, host name, dates; ``invalid``: it failed, the reason in the
               values; no probe stored: neither);
``doc_field``  a policy document's metadata field (``validity``, ``issuer``, …) matching a regex;
``site``       a site-level aggregate evaluated after the page pass over all of a site's pages:
               ``of`` (which pages count, a matcher; default every crawled page),
               ``where`` (which of them are hits), ``min_count`` (lowered to the pool's size
               for a smaller site), ``min_share``,
               ``max_share``, ``newest_within_days`` (the newest dated list item on the
               ``of`` pages, relative to the as-of date), ``min_pages``, ``report_on``
               (``hits``: the pages that are hits; ``home``: the site's home page).

Page information (status, headers, depth, the requested URL, the crawl's ``kind``) comes from
``PageDoc.info``, which ``extractors.run`` fills from the pages table; a page without it (a file
given to ``inspect``, a rule example without ``page:``) answers HTTP checks from its URL alone.
A single page given to ``inspect`` or to an example is a site of one page.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from extractors.body import in_body
from extractors.engine import Context, PageDoc, parse_date, register_literals, required_literals
from extractors.matchers import KINDS, LEAF_KINDS, Hit, Matcher, MatchError, build, compile_regex

PAGE_KINDS = ("home", "document", "list", "article", "probe", "other")
PLATFORMS = ("portal", "service", "opendata")  # pages.platform (crawlers/scope.py)
_HOME_PATHS = {"", "/", "/index.html", "/index.htm", "/index.shtml", "/index.jsp", "/index.php",
               "/index.aspx", "/default.htm", "/default.html", "/default.aspx", "/portal/index.html"}
_DATE_NEAR = re.compile(r"(?:19|20)\d{2}\s*[年\-/.]\s*\d{1,2}\s*[月\-/.]\s*\d{1,2}")


def _info(page: PageDoc) -> dict:
    return getattr(page, "info", None) or {}


def page_kind(page: PageDoc) -> str:
    """home | document | list | article | probe | other, from the stored kind, depth, URL and content."""
    info = _info(page)
    if info.get("kind") == "probe":
        return "probe"
    parts = urlsplit(page.url or "")
    # a service portal's or open-data platform's front page is not the site's home (pages.platform)
    if info.get("depth") == 0 or (parts.path in _HOME_PATHS and not parts.query
                                  and info.get("platform") in (None, "portal")):
        return "home"
    if page.kind == "html" and page.document is not None:
        return "document"
    if len(dated_items(page)) >= 5:
        return "list"
    if page.h1 or re.search(r"(发布时间|发布日期|来源)[:：]", page.text[:3000]):
        return "article"
    return "other"


def dated_items(page: PageDoc) -> list[tuple[date, int]]:
    """(date, link index) of every link whose label is a headline with a date just after or before it."""
    cached = getattr(page, "_dated", None)
    if cached is not None:
        return cached
    out: list[tuple[date, int]] = []
    text = page.text
    for i, lk in enumerate(page.links):
        if len(lk.label) < 6 or lk.end <= lk.start:
            continue
        # the date in the same list item: just after the headline, or just before it (never across a line)
        after = text[lk.end:lk.end + 16]
        m = _DATE_NEAR.search(after)
        if m and "\n" in after[:m.start()]:
            m = None
        if not m:
            before = text[max(0, lk.start - 16):lk.start]
            ms = list(_DATE_NEAR.finditer(before))
            m = ms[-1] if ms and "\n" not in before[ms[-1].end():] else None
        if m:
            d = parse_date(m.group(0))
            if d:
                out.append((d, i))
    page._dated = out  # type: ignore[attr-defined]
    return out


# --- page-level kinds ------------------------------------------------------------------------
class CssMatcher(Matcher):
    FIELDS = {"selector", "attr", "pattern", "text", "max_text", "not_in_body", "not_in_link"}

    def __init__(self, spec: dict, path: tuple):
        sel = spec.get("selector")
        if not isinstance(sel, str) or not sel.strip():
            raise MatchError(path, "a css matcher needs a selector")
        try:
            from lxml.cssselect import CSSSelector
            self.selector = CSSSelector(sel)
        except Exception as e:  # cssselect.SelectorError and friends
            raise MatchError(path + ("selector",), f"bad CSS selector {sel!r}: {e}") from None
        self.attr = spec.get("attr")
        self.pattern = compile_regex(spec.get("pattern"), path + ("pattern",), re.I)
        self.text = compile_regex(spec.get("text"), path + ("text",))
        self.max_text = spec.get("max_text")
        self.not_in_body = bool(spec.get("not_in_body"))
        self.not_in_link = bool(spec.get("not_in_link"))
        if self.pattern is not None and not self.attr:
            raise MatchError(path + ("pattern",), "'pattern' needs 'attr' (the attribute it applies to)")
        # an element's collapsed text is a part of the whole tree's: without one of these words
        # there, no element's text can match ``text``
        self.words = register_literals(required_literals(self.text))

    def evaluate(self, page: PageDoc, ctx: Context) -> list[Hit]:
        root = getattr(page, "root", None)
        if root is None:
            return []
        if self.words is not None and not page.has_any("elements", self.words):
            return []
        out = []
        for el in self.selector(root):
            label = re.sub(r"\s+", " ", el.text_content() if hasattr(el, "text_content") else "").strip()
            value = el.get(self.attr) if self.attr else None
            if self.attr and value is None:
                continue
            if self.pattern is not None and not self.pattern.search(value or ""):
                continue
            if self.max_text is not None and len(label) > self.max_text:
                continue
            if self.text is not None and not self.text.search(label):
                continue
            if self.not_in_link and any(a.tag == "a" for a in el.iterancestors()):
                continue
            start = page.text.find(label) if label else -1
            if self.not_in_body:
                span = page.spans.get(el)
                if span is not None and in_body(page, span[0], span[1]):
                    continue
            snippet = label or f"<{el.tag} {self.attr}=\"{value}\">" if self.attr else label or f"<{el.tag}>"
            vals: dict[str, Any] = {"tag": el.tag}
            if self.attr:
                vals[self.attr] = value
            if label:
                vals["text"] = label[:200]
            if start >= 0:
                out.append(Hit(snippet[:300], start, start + len(label), vals))
            else:
                out.append(Hit(snippet[:300], 0, 0, vals))
        return out


_PUB_META = ("pubdate", "publishdate", "firstpublishedtime", "publishtime", "dc.date", "article:published_time")
_PUB_TEXT = re.compile(r"(?:发布时间|发布日期|发稿时间|日期|时间)\s*[:：]\s*((?:19|20)\d{2}\s*[年\-/.]\s*\d{1,2}\s*[月\-/.]\s*\d{1,2})")


def page_date(page: PageDoc) -> date | None:
    """The page's publication date: a policy document's date, <meta> PubDate, or a 发布时间 line near the top."""
    if page.kind == "html" and page.document is not None and page.document.date():
        return page.document.date()
    for key in _PUB_META:
        d = parse_date(page.meta.get(key))
        if d:
            return d
    m = _PUB_TEXT.search(page.text[:3000])
    return parse_date(m.group(1)) if m else None


class PageMatcher(Matcher):
    FIELDS = {"kind", "depth_max", "title", "before_cutoff", "platform"}

    def __init__(self, spec: dict, path: tuple):
        platforms = spec.get("platform")
        if isinstance(platforms, str):
            platforms = [platforms]
        if platforms is not None and (not platforms or any(p not in PLATFORMS for p in platforms)):
            raise MatchError(path + ("platform",), f"platform is one or more of {', '.join(PLATFORMS)}")
        self.platforms = set(platforms) if platforms else None
        kinds = spec.get("kind")
        if isinstance(kinds, str):
            kinds = [kinds]
        if kinds is not None:
            bad = [k for k in kinds if k not in PAGE_KINDS]
            if bad:
                raise MatchError(path + ("kind",), f"unknown page kind {bad[0]!r} (known: {', '.join(PAGE_KINDS)})")
        self.kinds = set(kinds) if kinds else None
        self.depth_max = spec.get("depth_max")
        self.title = compile_regex(spec.get("title"), path + ("title",))
        self.before_cutoff = bool(spec.get("before_cutoff"))
        if (self.kinds is None and self.depth_max is None and self.title is None and not self.before_cutoff
                and self.platforms is None):
            raise MatchError(path, "a page matcher needs kind, depth_max, title, before_cutoff or platform")

    def evaluate(self, page: PageDoc, ctx: Context) -> list[Hit]:
        if self.platforms is not None and (_info(page).get("platform") or "portal") not in self.platforms:
            return []
        kind = page_kind(page)
        if self.kinds is not None and kind not in self.kinds:
            return []
        checks: dict[str, Any] = {}
        if self.depth_max is not None:
            depth = _info(page).get("depth")
            if depth is None:
                depth = 0 if kind == "home" else None
            if depth is not None and depth > self.depth_max:
                return []
            checks["depth"] = depth if depth is not None else "unknown"
        if self.title is not None and not self.title.search(page.title or ""):
            return []
        values: dict[str, Any] = {"page_kind": kind}
        if self.before_cutoff:
            d = page_date(page)
            if d is not None and d > ctx.as_of:
                return []
            checks["before_cutoff"] = True if d is not None else "unknown"
            values["page_date"] = d.isoformat() if d else None
        return [Hit(page.title or page.url, 0, 0, values, checks)]


class HttpMatcher(Matcher):
    FIELDS = {"scheme", "status", "header", "header_pattern", "redirected_from", "path", "certificate"}

    def __init__(self, spec: dict, path: tuple):
        self.scheme = spec.get("scheme")
        if self.scheme is not None and self.scheme not in ("http", "https"):
            raise MatchError(path + ("scheme",), "scheme must be http or https")
        self.status = compile_regex(None if spec.get("status") is None else str(spec.get("status")),
                                    path + ("status",))
        self.header = spec.get("header")
        self.header_pattern = compile_regex(spec.get("header_pattern"), path + ("header_pattern",), re.I)
        self.redirected_from = compile_regex(spec.get("redirected_from"), path + ("redirected_from",), re.I)
        self.path = compile_regex(spec.get("path"), path + ("path",), re.I)
        self.certificate = spec.get("certificate")
        if self.certificate is not None and self.certificate not in ("valid", "invalid"):
            raise MatchError(path + ("certificate",), "certificate must be valid or invalid")
        if not spec:
            raise MatchError(path, "an http matcher needs at least one check")
        if self.header_pattern is not None and not self.header:
            raise MatchError(path + ("header_pattern",), "'header_pattern' needs 'header'")

    def evaluate(self, page: PageDoc, ctx: Context) -> list[Hit]:
        info = _info(page)
        url = page.url or ""
        parts = urlsplit(url)
        values: dict[str, Any] = {"url": url}
        if self.scheme is not None and parts.scheme.lower() != self.scheme:
            return []
        if self.path is not None and not self.path.search(parts.path or "/"):
            return []
        status = info.get("status", 200)
        if self.status is not None:
            if not self.status.fullmatch(str(status)):
                return []
            values["status"] = status
        if self.header:
            headers = {str(k).lower(): str(v) for k, v in (info.get("headers") or {}).items()}
            v = headers.get(self.header.lower())
            if v is None or (self.header_pattern is not None and not self.header_pattern.search(v)):
                return []
            values[self.header.lower()] = v
        if self.redirected_from is not None:
            requested = info.get("requested_url") or ""
            if not requested or requested == url or not self.redirected_from.search(requested):
                return []
            values["requested_url"] = requested
        if self.certificate is not None:
            tls = info.get("tls")  # the verified TLS probe of the page's host (crawlers.tls)
            if not isinstance(tls, dict) or bool(tls.get("verified")) != (self.certificate == "valid"):
                return []
            values["certificate"] = {k: tls.get(k) for k in _CERT_VALUES if tls.get(k) is not None}
        return [Hit(url, 0, 0, values)]


# what an http matcher with ``certificate`` copies from the TLS probe into the evidence values
_CERT_VALUES = ("verified", "problem", "error", "issuer", "subject", "not_after", "tls_version", "trust")


class DocFieldMatcher(Matcher):
    FIELDS = {"field", "pattern"}
    _FIELDS = ("validity", "issuer", "doc_number", "written_date", "published_date", "index_no",
               "effective_date", "expiry_date", "category")

    def __init__(self, spec: dict, path: tuple):
        self.field = spec.get("field")
        if self.field not in self._FIELDS:
            raise MatchError(path + ("field",), f"field must be one of {', '.join(self._FIELDS)}")
        self.pattern = compile_regex(spec.get("pattern") or r"\S", path + ("pattern",))

    def evaluate(self, page: PageDoc, ctx: Context) -> list[Hit]:
        doc = page.document
        if doc is None:
            return []
        value = getattr(doc, self.field, None) if self.field in ("validity", "issuer", "doc_number",
                                                                  "written_date", "published_date") else None
        value = value or doc.fields.get(self.field, "")
        if not value or not self.pattern.search(value):
            return []
        return [Hit(doc.title or value, doc.title_start, doc.title_end, {self.field: value, "title": doc.title})]


# --- site-level aggregates -------------------------------------------------------------------
@dataclass
class PageRecord:
    """What a site aggregate keeps of one page after the page pass."""

    key: Any
    url: str
    is_of: bool
    hits: list[Hit] = field(default_factory=list)  # of the ``where`` matcher (empty: not a hit)
    home: bool = False
    newest: date | None = None
    newest_label: str = ""
    newest_span: tuple[int, int] = (0, 0)


class SiteMatcher(Matcher):
    """A site-level aggregate; ``collect`` runs on every page, ``finish`` once per site."""

    FIELDS = {"of", "where", "min_count", "min_share", "max_share", "newest_within_days", "min_pages",
              "report_on"}
    site_level = True

    def __init__(self, spec: dict, path: tuple):
        self.of = build(spec["of"], path + ("of",)) if spec.get("of") is not None else None
        self.where = build(spec["where"], path + ("where",)) if spec.get("where") is not None else None
        self.min_count = int(spec.get("min_count", 1))
        self.min_share = spec.get("min_share")
        self.max_share = spec.get("max_share")
        self.newest = spec.get("newest_within_days")
        self.min_pages = int(spec.get("min_pages", 1))
        self.report_on = spec.get("report_on", "hits")
        if self.report_on not in ("hits", "home"):
            raise MatchError(path + ("report_on",), "report_on must be hits or home")
        if self.where is None and self.newest is None:
            raise MatchError(path, "a site matcher needs 'where' (which pages are hits) or 'newest_within_days'")
        if self.newest is not None and self.report_on != "hits":
            raise MatchError(path + ("report_on",), "newest_within_days reports on the pages carrying the newest item")

    def collect(self, page: PageDoc, ctx: Context, key: Any = None) -> PageRecord:
        kind = page_kind(page)
        is_of = bool(self.of.evaluate(page, ctx)) if self.of is not None else kind != "probe"
        rec = PageRecord(key, page.url, is_of, home=kind == "home")
        if not is_of:
            return rec
        if self.where is not None:
            rec.hits = [h for h in self.where.evaluate(page, ctx)] if self.where.positive else \
                ([Hit(page.url, 0, 0)] if self.where.evaluate(page, ctx) else [])
        if self.newest is not None:
            best = None
            for d, i in dated_items(page):
                if d <= ctx.as_of and (best is None or d > best[0]):
                    best = (d, i)
            if best is not None:
                lk = page.links[best[1]]
                rec.newest, rec.newest_label, rec.newest_span = best[0], lk.label, (lk.start, lk.end)
        return rec

    def finish(self, records: list[PageRecord], ctx: Context) -> list[tuple[Any, Hit]]:
        pool = [r for r in records if r.is_of]
        if len(pool) < self.min_pages:
            return []
        out: list[tuple[Any, Hit]] = []
        if self.newest is not None:
            dated = [r for r in pool if r.newest is not None]
            if not dated:
                return []
            newest = max(r.newest for r in dated)  # type: ignore[type-var]
            age = (ctx.as_of - newest).days
            if age > int(self.newest):
                return []
            for r in dated:
                if r.newest == newest:
                    out.append((r.key, Hit(r.newest_label, r.newest_span[0], r.newest_span[1],
                                           {"newest": newest.isoformat(), "age_days": age,
                                            "as_of": ctx.as_of.isoformat(), "pages": len(pool)})))
            return out
        hits = [r for r in pool if r.hits]
        share = len(hits) / len(pool)
        values = {"count": len(hits), "pages": len(pool), "share": round(share, 4)}
        # a site smaller than min_count (inspect: one page) needs every page it has
        if len(hits) < min(self.min_count, len(pool)) and self.max_share is None:
            return []
        if self.min_share is not None and share < float(self.min_share):
            return []
        if self.max_share is not None and share > float(self.max_share):
            return []
        if self.report_on == "home":
            for r in records:
                if r.home:
                    out.append((r.key, Hit(r.url, 0, 0, dict(values))))
            return out
        for r in hits:
            for h in r.hits:
                out.append((r.key, Hit(h.snippet, h.start, h.end, {**h.values, **values}, h.checks)))
        return out

    def evaluate(self, page: PageDoc, ctx: Context) -> list[Hit]:
        """A single page is a site of one page (``inspect``, rule examples)."""
        return [h for _k, h in self.finish([self.collect(page, ctx)], ctx)]


def is_site_rule(rule: Any) -> bool:
    return bool(getattr(rule.matcher, "site_level", False))


NEW_KINDS: dict[str, type[Matcher]] = {"css": CssMatcher, "page": PageMatcher, "http": HttpMatcher,
                                       "doc_field": DocFieldMatcher, "site": SiteMatcher}


def register() -> None:
    """Make the new kinds known to ``extractors.matchers.build``."""
    LEAF_KINDS.update(NEW_KINDS)
    KINDS.update(NEW_KINDS)


register()


def page_info(row: dict) -> dict:
    """``PageDoc.info`` from a pages-table row."""
    try:
        headers = json.loads(row.get("headers") or "{}")
    except ValueError:
        headers = {}
    if isinstance(headers, list):
        headers = {k: v for k, v in headers}
    return {"status": row.get("status"), "headers": headers, "depth": row.get("depth"),
            "kind": row.get("kind"), "requested_url": row.get("url"),
            "platform": row.get("platform") or "portal"}  # portal | service | opendata (crawlers/scope.py)


@dataclass
class SiteFinding:
    """A finding of a site aggregate, attached to the page (id) it reports on."""

    page_id: Any
    leaf_id: str
    rule_id: str
    rule_version: str
    points: float
    snippet: str
    start: int
    end: int
    values: dict
    checks: dict


def run_site_rule(rule: Any, records: list[PageRecord], ctx: Context) -> list[SiteFinding]:
    """Judge one site aggregate over the records of one site (one finding per page and start)."""
    out: list[SiteFinding] = []
    seen: set = set()
    for key, h in rule.matcher.finish(records, ctx):
        if (key, h.start) in seen:
            continue
        seen.add((key, h.start))
        values, points = dict(h.values), rule.points
        if getattr(rule, "tiers", None) is not None:  # graded by a number (extractors.matchers_json.Tiers)
            points, values["tier"] = rule.tiers.grade(values)
        out.append(SiteFinding(key, rule.leaf_id, rule.id, rule.version, points, h.snippet, h.start, h.end,
                               values, dict(h.checks)))
    return out
