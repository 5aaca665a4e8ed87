"""Matchers for the platforms beside a portal: service-guide elements, shares over a site's
sampled items, and whose platform a page is.

``elements``  a page laid out as labelled fields (a 办事指南: 事项名称, 设定依据, 申请材料, 办理时限,
              收费标准, 办理地点, 咨询电话, 在线办理 …): ``labels`` maps each element's name to a regex
              on its label. A label is a text segment of its own (a table cell, a ``<dt>``, a
              ``<span>``/``<b>``/``<label>``, a ``<div>``), spaces inside it ignored, with or
              without a trailing colon, followed by a value (the next segment, or the rest of the
              segment after ``：``) that is not itself a label and not ``empty`` (a regex for
              placeholder values, e.g. ``'^(暂无|待补充|-)$'``). The page is a hit when at least
              ``min_present`` elements are present; the hit carries ``total`` (the elements asked),
              ``matched`` (those present), ``share`` and ``elements`` ({name: present}).
              Recognition apart from completeness: with ``min_fields`` the page is one item when it
              shows at least that many distinct fields as labels, filled or empty (the ``labels``
              and ``fields``: {name: regex} of the page kind's other fields, e.g. 受理条件, 实施主体,
              到现场次数, not graded), so a sparse guide still counts, with few elements present.
              With ``min_fields``, never an item: a page that repeats its fields (a list of items, each with its
              fields: at least half the fields shown occur twice or more), and a row of column
              headers (two field labels in adjacent sibling elements, as ``<th>事项名称</th><th>
              办理时限</th>``: in a guide a label is followed by its value's element, even empty).
``share``     a site aggregate over items: ``of`` finds the items on each page (a page with a hit is
              one item; a hit carrying ``total``/``matched``, as a json aggregate or ``elements``
              does, counts as that many units with so many passing), ``where`` (optional) decides
              whether a page item passes. Fires when the site has at least ``min_items`` units;
              the hit carries ``number`` (= ``share``, what tiers grade), ``total``, ``matched``,
              ``pages`` and, for ``elements`` items, ``each`` (the share of items with each element).
              It reports on the first ``report_pages`` item pages (default 5) in crawl order.
``of_target`` the page is the target's own (not another city's branch of a shared provincial
              platform): the page title (else its ``<h1>``, or the site-name ``<meta>``) names
              the target government, and names no other government at or below its level (a
              city's page may name its province). A page naming no government passes as
              ``"unknown"``; without a target (rule examples, ``inspect`` without ``--target``)
              it passes as ``"not_evaluated"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from extractors.document import short_name
from extractors.engine import Context, PageDoc, register_literals, required_literals
from extractors.matchers import KINDS, LEAF_KINDS, Hit, Matcher, MatchError, build, compile_regex
from extractors.matchers_json import to_number

_SPACE = re.compile(r"[\s\u3000\xa0]+")
_ENUM = re.compile(r"^(?:\d{1,2}|[一二三四五六七八九十]{1,3})[.、．)）]")  # 1. / 三、 before a label
# a short segment ending like a guide's field label: the next field, never the value of an empty one
# (suffixes a value seldom ends with: not 窗口 / 部门 / 中心, which places and bodies do)
_OTHER_LABEL = re.compile(r"[\u4e00-\u9fff]{1,8}(?:条件|对象|主体|依据|清单|时限|期限|流程|类型|形式|次数|名称|编码|深度)")
_COLON = re.compile(r"^(.{1,16}?)\s*[:：]\s*(.*)$", re.S)


class ElementsMatcher(Matcher):
    FIELDS = {"labels", "fields", "min_present", "min_fields", "empty"}

    def __init__(self, spec: dict, path: tuple):
        labels = spec.get("labels")
        if not isinstance(labels, dict) or not labels:
            raise MatchError(path + ("labels",), "elements needs labels: {name: regex on the label, …}")
        self.labels = {str(k): compile_regex(f"(?:{v})", path + ("labels", k)) for k, v in labels.items()
                       if isinstance(v, str)}
        if len(self.labels) != len(labels):
            raise MatchError(path + ("labels",), "each label is a regular expression string")
        fields = spec.get("fields") or {}
        if not isinstance(fields, dict):
            raise MatchError(path + ("fields",), "fields is a mapping {name: regex on the label} of the other fields")
        self.fields = {str(k): compile_regex(f"(?:{v})", path + ("fields", k)) for k, v in fields.items()
                       if isinstance(v, str)}
        if len(self.fields) != len(fields):
            raise MatchError(path + ("fields",), "each field is a regular expression string")
        self.min_present = int(spec.get("min_present", 1))
        self.min_fields = int(spec["min_fields"]) if spec.get("min_fields") is not None else None
        self.empty = compile_regex(spec.get("empty"), path + ("empty",))
        # per label, words one of which its label must contain: a page whose text holds fewer than
        # min_present labels' words (min_fields labels' and fields' words) cannot be a hit (one
        # keyword scan per page, shared by all rules)
        self.words = [register_literals(required_literals(rx)) for rx in self.labels.values()]
        self.field_words = [register_literals(required_literals(rx)) for rx in self.fields.values()]
        self.key = (tuple((k, rx.pattern) for k, rx in self.labels.items()), self.min_present,  # type: ignore[union-attr]
                    self.empty.pattern if self.empty is not None else None,
                    tuple((k, rx.pattern) for k, rx in self.fields.items()), self.min_fields)  # type: ignore[union-attr]

    def _label(self, s: str) -> str | None:
        key = _label_key(s)
        for name, rx in self.labels.items():
            if rx.fullmatch(key):  # type: ignore[union-attr]
                return name
        return None

    def _field(self, s: str) -> str | None:
        """The element (its name) or other field (``"+" + name``) a label names, or None."""
        name = self._label(s)
        if name is not None:
            return name
        key = _label_key(s)
        for k, rx in self.fields.items():
            if rx.fullmatch(key):  # type: ignore[union-attr]
                return "+" + k
        return None

    def _is_label(self, s: str) -> bool:
        """Whether a segment is a field label (ours or another: 受理条件, 实施主体 …), not a value."""
        if self._field(s) is not None or _OTHER_LABEL.fullmatch(_SPACE.sub("", s).rstrip(":：")):
            return True
        m = _COLON.match(s)
        return bool(m) and (self._field(m.group(1)) is not None or bool(_OTHER_LABEL.fullmatch(m.group(1).strip())))

    def _value_ok(self, v: str) -> bool:
        v = v.strip()
        return bool(v) and not (self.empty is not None and self.empty.search(v))

    def evaluate(self, page: PageDoc, ctx: Context) -> list[Hit]:
        if page.kind == "json" or not page.segments:
            return []
        have = sum(1 for w in self.words if w is None or page.has_any("squeezed", w))
        if have < self.min_present:
            return []
        if self.min_fields is not None and \
                have + sum(1 for w in self.field_words if w is None or page.has_any("squeezed", w)) < self.min_fields:
            return []
        cache = page.__dict__.setdefault("_elements", {})  # the same labels asked by several rules: read once
        if self.key not in cache:
            cache[self.key] = self._read(page)
        return list(cache[self.key])

    def _read(self, page: PageDoc) -> list[Hit]:
        segs = page.segments
        headers = self._column_headers(page) if self.min_fields is not None else []
        present: dict[str, bool] = dict.fromkeys(self.labels, False)
        shown: dict[str, int] = {}  # field (element or other) -> times shown as a label
        first: int | None = None
        for i, seg in enumerate(segs):
            if headers and _inside(seg.start, headers):
                continue
            field_name = self._field(seg.text)
            value = ""
            if field_name is None:
                m = _COLON.match(seg.text)
                if m:
                    field_name = self._field(m.group(1))
                    value = m.group(2)
            if field_name is None:
                continue
            shown[field_name] = shown.get(field_name, 0) + 1
            if not value.strip():  # a label of its own: the value is the next segment
                nxt = segs[i + 1] if i + 1 < len(segs) else None
                value = "" if nxt is None or self._is_label(nxt.text) or (headers and _inside(nxt.start, headers)) \
                    else nxt.text
            if field_name.startswith("+") or present[field_name] or not self._value_ok(value):
                continue
            present[field_name] = True
            first = seg.start if first is None else first
        n = sum(present.values())
        if n < self.min_present or n == 0:
            return []
        if self.min_fields is not None:
            if len(shown) < self.min_fields:
                return []
            if 2 * sum(1 for k in shown.values() if k > 1) >= len(shown):  # fields repeated item by item: a list
                return []
        start = first or 0
        snippet = "、".join(k for k, v in present.items() if v)
        return [Hit(f"{n}/{len(present)}: {snippet}", start, start,
                    {"total": len(present), "matched": n, "share": round(n / len(present), 4),
                     "number": round(n / len(present), 4), "elements": present})]

    def _column_headers(self, page: PageDoc) -> list[tuple[int, int]]:
        """Text ranges of column headers: bare field labels (no colon, no value) in adjacent sibling
        elements, as a list table's ``<th>事项名称</th><th>实施主体</th><th>办理时限</th>``. In a guide
        each label's element is followed by its value's (a ``<td>``/``<dd>``/``<span>``, even empty);
        a ``<dt>`` is a label of a definition list, never a column header."""
        if page.root is None or not page.spans:
            return []
        text, spans = page.text, page.spans

        def bare(el: Any) -> bool:
            span = spans.get(el)
            if span is None or span[1] - span[0] > 24:
                return False
            t = text[span[0]:span[1]].strip()
            return bool(t) and not _COLON_IN.search(t) and self._field(t) is not None

        out: list[tuple[int, int]] = []
        for el, span in spans.items():
            if not isinstance(el.tag, str) or el.tag.lower() == "dt" or not bare(el):
                continue
            cell = el  # climb to the element holding the label alone (<td><span>事项名称</span></td>)
            parent = cell.getparent()
            while parent is not None and len(parent) == 1 and spans.get(parent) is not None and \
                    text[slice(*spans[parent])].strip() == text[slice(*span)].strip():
                cell, parent = parent, parent.getparent()
            nxt = cell.getnext()
            while nxt is not None and not isinstance(nxt.tag, str):  # comments between cells
                nxt = nxt.getnext()
            if nxt is not None and (not isinstance(nxt.tag, str) or nxt.tag.lower() != "dt") and bare(nxt):
                out += [spans[cell], spans[nxt]]
        return sorted(out)


def _label_key(s: str) -> str:
    return _ENUM.sub("", _SPACE.sub("", s).rstrip(":：")).strip("【】[]〔〕")


_COLON_IN = re.compile(r"[:：]")


def _inside(pos: int, ranges: list[tuple[int, int]]) -> bool:
    return any(a <= pos < b for a, b in ranges)


@dataclass
class ShareRecord:
    key: Any
    url: str
    total: int = 0
    matched: int = 0
    hit: Hit | None = None
    elements: dict = field(default_factory=dict)  # name -> items with it


class ShareMatcher(Matcher):
    """A site aggregate: the share of a site's items that pass (``collect`` per page, ``finish`` per site).

    A page whose title names another government (``of_target`` finds a rival: another city's branch of
    a provincial platform) gives no items: a target's share is pooled over its own pages only."""

    FIELDS = {"of", "where", "min_items", "at_least", "report_pages"}
    site_level = True

    def __init__(self, spec: dict, path: tuple):
        if spec.get("of") is None:
            raise MatchError(path, "a share needs 'of' (the matcher finding the items)")
        self.of = build(spec["of"], path + ("of",))
        self.where = build(spec["where"], path + ("where",)) if spec.get("where") is not None else None
        self.min_items = int(spec.get("min_items", 1))
        self.at_least = to_number(spec.get("at_least")) if spec.get("at_least") is not None else None
        self.report_pages = int(spec.get("report_pages", 5))

    def collect(self, page: PageDoc, ctx: Context, key: Any = None) -> ShareRecord:
        rec = ShareRecord(key, page.url)
        if not page.text and page.data is None:  # a failed page: no items
            return rec
        if not _OWN.evaluate(page, ctx):  # titled as another government's (its branch): not the target's items
            return rec
        hits = self.of.evaluate(page, ctx)
        if not hits:
            return rec
        rec.hit = hits[0]
        if self.where is not None:
            rec.total = 1
            rec.matched = 1 if self.where.evaluate(page, ctx) else 0
            return rec
        for h in hits:
            t, m = h.values.get("total"), h.values.get("matched")
            if isinstance(t, int) and isinstance(m, int):
                rec.total += t
                rec.matched += m
            else:
                rec.total += 1
                rec.matched += 1
            for name, ok in (h.values.get("elements") or {}).items():
                rec.elements[name] = rec.elements.get(name, 0) + (1 if ok else 0)
        return rec

    def finish(self, records: list[ShareRecord], ctx: Context) -> list[tuple[Any, Hit]]:
        items = [r for r in records if r.total]
        total = sum(r.total for r in items)
        if not total or total < self.min_items:
            return []
        matched = sum(r.matched for r in items)
        share = round(matched / total, 4)
        if self.at_least is not None and share < self.at_least:
            return []
        values: dict[str, Any] = {"number": share, "share": share, "total": total, "matched": matched,
                                  "pages": len(items)}
        names: dict[str, int] = {}
        for r in items:
            for name, k in r.elements.items():
                names[name] = names.get(name, 0) + k
        if names:
            values["each"] = {name: round(k / len(items), 4) for name, k in names.items()}
        out = []
        for r in items[:self.report_pages]:
            h = r.hit or Hit(r.url, 0, 0)
            out.append((r.key, Hit(h.snippet, h.start, h.end, {**values, "item": {"total": r.total,
                                                                                  "matched": r.matched}})))
        return out

    def evaluate(self, page: PageDoc, ctx: Context) -> list[Hit]:
        """A single page is a site of one page (``inspect``, rule examples)."""
        return [h for _k, h in self.finish([self.collect(page, ctx)], ctx)]


_PROVINCE_LEVEL = ("北京市", "上海市", "天津市", "重庆市")


def _province_level(name: str) -> bool:
    return name.endswith(("省", "自治区", "兵团")) or name.endswith(_PROVINCE_LEVEL)


class OfTargetMatcher(Matcher):
    FIELDS = {"zone"}

    def __init__(self, spec: dict, path: tuple):
        self.zone = spec.get("zone", "title")
        if self.zone not in ("title",):
            raise MatchError(path + ("zone",), "zone must be title (the page title, else its h1 or site-name meta)")

    @staticmethod
    def _zone(page: PageDoc) -> str:
        bits = [page.title or ""]
        for k in ("sitename", "site_name", "og:site_name", "apple-mobile-web-app-title"):
            if page.meta.get(k):
                bits.append(page.meta[k])
        bits += page.h1[:1]
        return "|".join(_SPACE.sub("", b) for b in bits if b)

    def evaluate(self, page: PageDoc, ctx: Context) -> list[Hit]:
        if ctx.target is None:
            return [Hit(page.title or page.url, 0, 0, {}, {"of_target": "not_evaluated"})]
        zone = self._zone(page)
        t = ctx.target
        short = short_name(t.name_zh)
        masked = zone
        others = sorted((o for o in t.others if o and o != t.name_zh), key=len, reverse=True)
        for o in others:  # 吉林省 on a 吉林市 check: another name containing ours is that other one
            if short in o:
                masked = masked.replace(o, "#" * len(o))
        named = t.name_zh in masked or (len(short) >= 2 and short in masked)
        # other governments the zone names: the registry's, in full or by their short name (河南公共数据开放
        # 平台·洛阳), and any 某某市 / 某某省 written there
        names = {o for o in others if short not in o and (o in zone or _short_in(o, masked, short))}
        for m in _BRANCH_NAME.finditer(masked):  # 河南政务服务网·周口站, …数据开放平台·洛阳, 合肥分站
            n = m.group(1) or m.group(2)
            if n and not _GENERIC.search(n) and n != short and short not in n and n not in t.name_zh:
                names.add(n)
        for m in _GOV_NAME.finditer(masked):
            n = m.group(0)
            if n.endswith(_NOT_PLACES) or n.endswith(t.name_zh) or (len(short) >= 2 and short in n):
                continue
            names.add(n)
        rivals = sorted(n for n in names if not (t.level == "city" and _province_level(n)))
        if rivals:
            return []
        if not named:
            return [Hit(page.title or page.url, 0, 0, {}, {"of_target": "unknown"})]
        return [Hit(page.title or page.url, 0, 0, {"names": t.name_zh}, {"of_target": True})]


def _short_in(other: str, zone: str, ours: str) -> bool:
    """``other``'s short name (two characters or more, not ours) is written in ``zone``."""
    so = short_name(other)
    return len(so) >= 2 and so != ours and ours not in so and so in zone


# a branch named in a provincial platform's title: "…平台·洛阳" at its end, or "…网周口站" / "…网·合肥分站"
# (after the platform's name: a dataset titled 公交站点 names no branch)
_BRANCH_NAME = re.compile(r"[·・]([\u4e00-\u9fff]{2,4}?)(?:分站|站|频道|分厅)?(?=$|\|)"
                          r"|(?:网|平台)[·・\-_—]?([\u4e00-\u9fff]{2,4}?)(?:分站|站|频道|分厅)(?![\u4e00-\u9fff])")
_GENERIC = re.compile(r"网$|门户|政府|服务|平台|数据|首页|办事|政务|开放|大厅|主站|总站|本站|全站")
_GOV_NAME = re.compile(r"[\u4e00-\u9fff]{1,7}?(?:自治区|省|市)")
_NOT_PLACES = ("城市", "都市", "超市", "门市", "上市", "夜市", "集市", "股市", "楼市", "互市", "街市", "车市", "房市")


class LoginWallMatcher(Matcher):
    """A page the crawl took for a login wall (``pages.block`` "login wall: …"): such pages are never
    read by other rules, but where a service's login leads (a unified identity-authentication page)
    is the evidence of a unified login. ``extract`` gives a login-wall page only to rules with this
    matcher (:func:`reads_login_walls`); ``reason`` is an optional regex on the crawl's reason."""

    FIELDS = {"reason"}

    def __init__(self, spec: dict, path: tuple):
        self.reason = compile_regex(spec.get("reason"), path + ("reason",))

    def evaluate(self, page: PageDoc, ctx: Context) -> list[Hit]:
        block = str((getattr(page, "info", None) or {}).get("block") or "")
        if not block.startswith("login wall") or (self.reason is not None and not self.reason.search(block)):
            return []
        return [Hit(page.title or page.url, 0, 0, {"block": block, "url": page.url})]


def reads_login_walls(matcher: Matcher) -> bool:
    """Whether a rule's matcher asks for login-wall pages (a positive ``login_wall`` member)."""
    if isinstance(matcher, LoginWallMatcher):
        return True
    return any(reads_login_walls(m) for m in getattr(matcher, "members", []) if m.positive)


def register() -> None:
    for name, cls in (("elements", ElementsMatcher), ("share", ShareMatcher), ("of_target", OfTargetMatcher),
                      ("login_wall", LoginWallMatcher)):
        LEAF_KINDS[name] = cls
        KINDS.add(name)


register()


_OWN = OfTargetMatcher({}, ("share", "of_target"))
