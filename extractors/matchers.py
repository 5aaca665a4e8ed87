"""Compiled matchers: what a rule's ``match:`` block turns into.

Each matcher evaluates a parsed page (``extractors.engine.PageDoc``) and returns hits, each
with a snippet, its character offsets in the page's visible text, extracted values and the
checks it made. Matchers:

``link``      anchors (label = text + img alt + title; absolute href), with text/href/host
              regexes, negative regexes, ``max_text``, ``other_host`` (host differs from the
              page's), ``not_article`` (href does not look like a news/article page) and
              ``not_in_body`` (the link is page furniture, not inside an article's body or
              headline: ``extractors.body``); links only in event handlers count;
``text``      a regex over the visible text, optionally ``near`` another regex within
              ``window`` characters, ``not_near`` guards, ``not_in_link`` (ignore text
              inside anchors, which the link matcher judges) and ``not_in_body`` (ignore
              text in an article's body or headline: entries are page furniture);
``document``  the page's policy-document metadata, with title regexes and the checks
              ``not_draft``, ``in_force``, ``before_cutoff`` and ``issued_by_target``;
``url``       the page URL;
``all`` / ``any`` / ``not``  combinators. ``all`` reports the hits of its first positive
              member, enriched with the values and checks of the others.

``build(spec, where)`` compiles a spec; ``where(path)`` gives "file:line" for error messages.
New matcher kinds (CSS selectors, page kinds, site aggregates, HTTP checks) are added by
writing a class with ``evaluate`` and registering it in ``KINDS``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from extractors.body import in_body
from extractors.engine import Context, PageDoc, parse_date, register_literals, required_literals

ARTICLE_PATH = re.compile(
    r"/art/\d{4}/|/art_\d+|/t\d{8}_\d+|/content/post_\d+|/\d{6}/t\d+|content_\d{3,}|/\d{4}-\d{2}/\d{2}/"
    r"|/(?:news|xwdt|xwzx|jrgz|bmdt|tpxw|gzdt|zwyw|ywdt)/(?:.+/)?[^/]+\.s?html?$"
    r"|[?&](?:id|articleid|newsid|contentid|infoid)=\d{3,}|/detail[/_]|/20\d{6}/|/info/\d+|/\d{5,}\.s?html?$",
    re.I)


class MatchError(Exception):
    """A malformed matcher: (path inside the rule, reason)."""

    def __init__(self, path: tuple, reason: str):
        super().__init__(reason)
        self.path = path
        self.reason = reason


@dataclass
class Hit:
    snippet: str
    start: int
    end: int
    values: dict = field(default_factory=dict)
    checks: dict = field(default_factory=dict)


def compile_regex(value: object, path: tuple, flags: int = 0) -> re.Pattern | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise MatchError(path, f"expected a regular expression string, got {type(value).__name__}")
    try:
        return re.compile(value, flags)
    except re.error as e:
        raise MatchError(path, f"bad regular expression {value!r}: {e}") from None


class Matcher:
    positive = True

    def evaluate(self, page: PageDoc, ctx: Context) -> list[Hit]:  # pragma: no cover - interface
        raise NotImplementedError


class LinkMatcher(Matcher):
    FIELDS = {"text", "text_not", "href", "href_not", "host", "host_not", "max_text", "other_host", "not_article",
              "not_in_body"}

    def __init__(self, spec: dict, path: tuple):
        self.text = compile_regex(spec.get("text"), path + ("text",))
        self.text_not = compile_regex(spec.get("text_not"), path + ("text_not",))
        self.href = compile_regex(spec.get("href"), path + ("href",), re.I)
        self.href_not = compile_regex(spec.get("href_not"), path + ("href_not",), re.I)
        self.host = compile_regex(spec.get("host"), path + ("host",), re.I)
        self.host_not = compile_regex(spec.get("host_not"), path + ("host_not",), re.I)
        self.max_text = spec.get("max_text")
        self.other_host = bool(spec.get("other_host"))
        self.not_article = bool(spec.get("not_article"))
        self.not_in_body = bool(spec.get("not_in_body"))
        if not (self.text or self.href or self.host):
            raise MatchError(path, "a link matcher needs at least one of text, href, host")
        # words one of which a label must contain to match ``text`` (None: no prefilter)
        self.words = register_literals(required_literals(self.text))

    def evaluate(self, page: PageDoc, ctx: Context) -> list[Hit]:
        if self.words is not None and not page.has_any("labels", self.words):
            return []
        out = []
        page_host = page.host
        for link in page.links:
            label = link.label
            if self.max_text is not None and len(label) > self.max_text:
                continue
            if self.text and not self.text.search(label):
                continue
            if self.text_not and self.text_not.search(label):
                continue
            if self.href and not self.href.search(link.href):
                continue
            if self.href_not and self.href_not.search(link.href):
                continue
            if self.host and not self.host.search(link.host):
                continue
            if self.host_not and self.host_not.search(link.host):
                continue
            if self.other_host and (not link.host or link.host == page_host):
                continue
            if self.not_article and is_article(link):
                continue
            if self.not_in_body and in_body(page, link.start, link.end):
                continue
            snippet = page.text[link.start:link.end] if link.end > link.start else label
            out.append(Hit(snippet or label, link.start, link.end,
                           {"link_text": label, "href": link.href}))
        return out


def is_article(link: object) -> bool:
    """Whether a link's path (and query) looks like a news/article page (computed once per link)."""
    cached = getattr(link, "_article", None)
    if cached is None:
        parts = urlsplit(link.href)  # type: ignore[attr-defined]
        cached = bool(ARTICLE_PATH.search(parts.path + ("?" + parts.query if parts.query else "")))
        link._article = cached  # type: ignore[attr-defined]
    return cached


class TextMatcher(Matcher):
    FIELDS = {"pattern", "near", "window", "not_near", "not_near_window", "in", "not_in_link", "not_in_body",
              "within_days"}

    def __init__(self, spec: dict, path: tuple):
        self.pattern = compile_regex(spec.get("pattern"), path + ("pattern",))
        if self.pattern is None:
            raise MatchError(path, "a text matcher needs a pattern")
        self.near = compile_regex(spec.get("near"), path + ("near",))
        self.window = int(spec.get("window", 20))
        self.not_near = compile_regex(spec.get("not_near"), path + ("not_near",))
        self.not_near_window = int(spec.get("not_near_window", self.window))
        self.not_in_link = bool(spec.get("not_in_link"))
        self.not_in_body = bool(spec.get("not_in_body"))
        self.where = spec.get("in", "text")
        if self.where not in ("text", "title"):
            raise MatchError(path + ("in",), f"'in' must be text or title, not {self.where!r}")
        # a date the pattern captures as (?P<date>…) must be on or before the as-of date, at most so many days
        self.within_days = spec.get("within_days")
        if self.within_days is not None and "date" not in self.pattern.groupindex:
            raise MatchError(path + ("within_days",), "'within_days' needs a (?P<date>…) group in the pattern")
        self.words = register_literals(required_literals(self.pattern))

    def evaluate(self, page: PageDoc, ctx: Context) -> list[Hit]:
        if page.kind == "json":  # an API response is read by the json matcher, not as prose
            return []
        if self.words is not None and not page.has_any(self.where, self.words):
            return []
        text = page.text if self.where == "text" else page.title
        out = []
        spans = [(lk.start, lk.end) for lk in page.links if lk.end > lk.start] if self.not_in_link else []
        for m in self.pattern.finditer(text):
            s, e = m.start(), m.end()
            if spans and self.where == "text" and any(a < e and s < b for a, b in spans):
                continue
            if self.not_in_body and self.where == "text" and in_body(page, s, e):
                continue
            if self.not_near:
                lo, hi = max(0, s - self.not_near_window), min(len(text), e + self.not_near_window)
                if self.not_near.search(text, lo, hi):
                    continue
            if self.near:
                lo, hi = max(0, s - self.window), min(len(text), e + self.window)
                best = None
                for n in self.near.finditer(text, lo, hi):
                    d = abs(n.start() - s)
                    if best is None or d < best[0]:
                        best = (d, n)
                if best is None:
                    continue
                s, e = min(s, best[1].start()), max(e, best[1].end())
            # named groups are values: (?P<number>…) gives the number a rule's tiers grade
            named = {k: v for k, v in m.groupdict().items() if v is not None}
            if self.within_days is not None:
                d = parse_date(named.get("date"))
                if d is None or d > ctx.as_of or (ctx.as_of - d).days > int(self.within_days):
                    continue
            if self.where == "title":
                out.append(Hit(text[s:e], 0, 0, {"match": m.group(0), "in": "title", **named}))
            else:
                out.append(Hit(text[s:e], s, e, {"match": m.group(0),
                                                  "context": text[max(0, s - 40):e + 40], **named}))
        return out


class DocumentMatcher(Matcher):
    FIELDS = {"title", "title_not", "not_draft", "in_force", "before_cutoff", "issued_by_target", "doc_number"}

    def __init__(self, spec: dict, path: tuple):
        self.title = compile_regex(spec.get("title"), path + ("title",))
        self.title_not = compile_regex(spec.get("title_not"), path + ("title_not",))
        self.doc_number = compile_regex(spec.get("doc_number"), path + ("doc_number",))
        self.not_draft = bool(spec.get("not_draft"))
        self.in_force = bool(spec.get("in_force"))
        self.before_cutoff = bool(spec.get("before_cutoff"))
        self.issued_by_target = bool(spec.get("issued_by_target"))

    def evaluate(self, page: PageDoc, ctx: Context) -> list[Hit]:
        doc = page.document
        if doc is None:
            return []
        if self.title and not self.title.search(doc.title):
            return []
        if self.title_not and self.title_not.search(doc.title):
            return []
        if self.doc_number and not self.doc_number.search(doc.doc_number):
            return []
        checks, notes = document_checks(doc, ctx)
        if self.not_draft and not checks["not_draft"]:
            return []
        if self.in_force and not checks["in_force"]:
            return []
        if self.before_cutoff and checks["before_cutoff"] is not True:
            return []  # after the cut-off, or undated: a date unknown is never "on or before" it
        if self.issued_by_target and checks["issued_by_target"] is False:
            return []
        values = doc.values()
        values["check_notes"] = notes
        return [Hit(doc.title, doc.title_start, doc.title_end, values, checks)]


def document_checks(doc, ctx: Context) -> tuple[dict, dict]:
    """Every check on a policy document: values are True, False, "unknown" or "not_evaluated"."""
    checks: dict = {"not_draft": not doc.is_draft}
    notes: dict = {}
    ok, why = doc.in_force(ctx.as_of)
    checks["in_force"], notes["in_force"] = ok, why
    d = doc.date()
    if d is None:
        checks["before_cutoff"] = "unknown"
        notes["before_cutoff"] = "date unknown: no 成文/发布/通过/公布 date on the page, so not shown to be on or before the cut-off"
    else:
        checks["before_cutoff"] = d <= ctx.as_of
        notes["before_cutoff"] = f"{d.isoformat()} vs cut-off {ctx.as_of.isoformat()}"
    if ctx.target is None:
        checks["issued_by_target"] = "not_evaluated"
        notes["issued_by_target"] = "no target given"
    else:
        checks["issued_by_target"], notes["issued_by_target"] = ctx.target.issued_by(doc.issuer)
    return checks, notes


class UrlMatcher(Matcher):
    FIELDS = {"pattern", "not"}

    def __init__(self, spec: dict, path: tuple):
        self.pattern = compile_regex(spec.get("pattern"), path + ("pattern",), re.I)
        self.neg = compile_regex(spec.get("not"), path + ("not",), re.I)
        if self.pattern is None and self.neg is None:
            raise MatchError(path, "a url matcher needs pattern or not")

    def evaluate(self, page: PageDoc, ctx: Context) -> list[Hit]:
        if self.pattern and not self.pattern.search(page.url or ""):
            return []
        if self.neg and self.neg.search(page.url or ""):
            return []
        return [Hit(page.url, 0, 0, {"url": page.url})]


class AllMatcher(Matcher):
    def __init__(self, members: list[Matcher], path: tuple):
        self.members = members
        if not any(m.positive for m in members):
            raise MatchError(path, "'all' needs at least one member that is not a 'not'")

    def evaluate(self, page: PageDoc, ctx: Context) -> list[Hit]:
        first: list[Hit] | None = None
        extra_values: dict = {}
        extra_checks: dict = {}
        for m in self.members:
            hits = m.evaluate(page, ctx)
            if m.positive:
                if not hits:
                    return []
                if first is None:
                    first = hits
                else:
                    for k, v in hits[0].values.items():
                        extra_values.setdefault(k, v)
                    extra_checks.update(hits[0].checks)
            elif not hits:
                return []
        out = []
        for h in first or []:
            out.append(Hit(h.snippet, h.start, h.end, {**extra_values, **h.values}, {**extra_checks, **h.checks}))
        return out


class AnyMatcher(Matcher):
    def __init__(self, members: list[Matcher], path: tuple):
        self.members = members
        if not any(m.positive for m in members):
            raise MatchError(path, "'any' needs at least one member that is not a 'not'")

    def evaluate(self, page: PageDoc, ctx: Context) -> list[Hit]:
        out: list[Hit] = []
        for m in self.members:
            out += m.evaluate(page, ctx)
        return out


class NotMatcher(Matcher):
    positive = False

    def __init__(self, member: Matcher, path: tuple):
        self.member = member

    def evaluate(self, page: PageDoc, ctx: Context) -> list[Hit]:
        # a "not" yields one empty hit when its member finds nothing (so all/any can combine it)
        return [] if self.member.evaluate(page, ctx) else [Hit("", 0, 0)]


LEAF_KINDS: dict[str, type[Matcher]] = {"link": LinkMatcher, "text": TextMatcher,
                                         "document": DocumentMatcher, "url": UrlMatcher}
KINDS = set(LEAF_KINDS) | {"all", "any", "not"}


def build(spec: object, path: tuple = ()) -> Matcher:
    """Compile a ``match:`` spec (a mapping with exactly one matcher kind) into a Matcher."""
    if not isinstance(spec, dict) or len(spec) != 1:
        raise MatchError(path, f"a matcher is a mapping with exactly one of: {', '.join(sorted(KINDS))}")
    (kind, body), = spec.items()
    here = path + (kind,)
    if kind in ("all", "any"):
        if not isinstance(body, list) or not body:
            raise MatchError(here, f"'{kind}' takes a non-empty list of matchers")
        members = [build(item, here + (i,)) for i, item in enumerate(body)]
        return AllMatcher(members, here) if kind == "all" else AnyMatcher(members, here)
    if kind == "not":
        return NotMatcher(build(body, here), here)
    cls = LEAF_KINDS.get(kind)
    if cls is None:
        raise MatchError(path + (kind,), f"unknown matcher {kind!r} (known: {', '.join(sorted(KINDS))})")
    if not isinstance(body, dict):
        raise MatchError(here, f"'{kind}' takes a mapping of options")
    unknown = set(body) - cls.FIELDS
    if unknown:
        k = sorted(unknown)[0]
        raise MatchError(here + (k,), f"unknown field {k!r} in {kind} matcher (allowed: {', '.join(sorted(cls.FIELDS))})")
    return cls(body, here)


Where = Callable[[tuple], str]
