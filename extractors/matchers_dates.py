"""The ``reply_times`` matcher: how fast a portal answers the messages it publishes (留言答复时效).

A site-level aggregate (like ``site``): every page of a site is read in the page pass, the
messages found are pooled (deduplicated, so a message shown on the list page and on its detail
page counts once), and the site is judged once at the end on the median reply time.

How 政民互动 / 领导信箱 / 12345 pages show dates, and how each is read:

* tables and column lists with a header line naming the dates (``标题 来信时间 回复时间 状态``):
  each following line with dates is a message; dates are read in the header's order, so a
  row whose reply cell is empty has one date (the submission) and is unanswered when its
  状态 says so (办理中 / 未回复 / 待回复 …). Read from the parsed table cells when the page has
  an HTML table (empty cells kept), else from the text lines;
* labelled dates, in list rows or on detail pages (``留言时间：2023-09-01 … 回复时间：2023-09-05``,
  ``来信日期 2023年9月1日``, key-value tables): a submission label (来信 / 留言 / 写信 / 提问 /
  咨询 / 投诉 / 诉求 / 提交 / 受理 + 时间 / 日期) opens a message, the next reply label
  (回复 / 答复 / 办结 / 回信 / 反馈 / 处理 + 时间 / 日期) closes it; a message without a reply date
  is unanswered only when an explicit status (办理中, 未回复, …) stands next to it.

Judging (the as-of date is the campaign cut-off): messages submitted after the as-of date are
ignored; a reply after it counts as no reply yet. An unanswered message older than
``overdue_days`` (default 90: the 国办 inspection's "three months") counts as an infinitely late
reply; younger unanswered ones are still in progress and not counted. The site is a hit when at
least ``min_messages`` are counted, at least one was answered, and the median delay is within
``median_within_days`` calendar days or ``median_within_workdays`` working days, counted on the
Chinese public-holiday and make-up-workday calendar (``evidence.workdays``, the ``chinese-calendar``
package); a year the package does not cover is counted Monday–Friday and the evidence's
``workday_calendar`` value says so. Evidence is reported on every page carrying a counted message.

Registered into ``extractors.matchers`` on import (``extractors.rules`` imports this module).
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from evidence.workdays import WorkdayCount, count_workdays
from extractors.engine import Context, PageDoc, parse_date
from extractors.matchers import KINDS, LEAF_KINDS, Hit, Matcher, MatchError, build

_DATE = r"(?:19|20)\d{2}\s*[年\-/.]\s*\d{1,2}\s*[月\-/.]\s*\d{1,2}\s*日?"
DATE_RE = re.compile(_DATE)
SUBMIT_WORDS = r"来信|留言|写信|发信|来件|提问|咨询|投诉|诉求|信件|提交|受理|登记|反映"
REPLY_WORDS = r"回复|答复|办结|回信|反馈|处理|办理"
SUBMIT_LABEL = re.compile(rf"(?:{SUBMIT_WORDS})(?:时间|日期)")
REPLY_LABEL = re.compile(rf"(?:{REPLY_WORDS})(?:时间|日期)")
STATUS_LABEL = re.compile(r"状态|办理情况|处理情况|回复情况")
# a labelled date: the label, an optional colon, the date (within a few characters)
LABELLED = re.compile(rf"(?P<label>(?:{SUBMIT_WORDS}|{REPLY_WORDS})(?:时间|日期))\s*[:：]?\s*(?P<date>{_DATE})")
UNANSWERED = re.compile(r"未回复|待回复|未答复|待答复|未办结|待办理|办理中|处理中|正在办理|正在处理|待处理|未处理|转办中|"
                        r"尚未(?:回复|答复|办结)|暂未(?:回复|答复)")
ANSWERED = re.compile(r"已回复|已答复|已办结|已反馈|已处理")
_SECONDARY_SUBMIT = ("受理", "登记")  # a later step of the same message, never a new one


@dataclass(frozen=True)
class Message:
    """One message as published: submitted, replied (None: not yet), where in the text."""

    submitted: date
    replied: date | None
    start: int
    end: int
    unanswered: bool = False  # an explicit status says so (only meaningful when replied is None)
    snippet: str = ""


@dataclass
class DatesRecord:
    """What the aggregate keeps of one page after the page pass."""

    key: Any
    url: str
    is_of: bool
    messages: list[Message] = field(default_factory=list)


def _workdays(a: date, b: date) -> WorkdayCount:
    """Working days after ``a`` up to and including ``b``, on the Chinese public-holiday and
    make-up-workday calendar (``evidence.workdays``; Mon–Fri for years it does not cover)."""
    return count_workdays(a, b)


def _line_spans(text: str) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for line in text.split("\n"):
        spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return spans


def _header_order(line: str) -> list[str] | None:
    """For a header line without dates: the order of its date columns ('s' submit, 'r' reply) and 't' status."""
    if DATE_RE.search(line):
        return None
    cols: list[tuple[int, str]] = []
    m = SUBMIT_LABEL.search(line)
    if m:
        cols.append((m.start(), "s"))
    m = REPLY_LABEL.search(line)
    if m:
        cols.append((m.start(), "r"))
    m = STATUS_LABEL.search(line)
    if m:
        cols.append((m.start(), "t"))
    kinds = {k for _, k in cols}
    if "s" not in kinds or not ({"r", "t"} & kinds) or len(line) > 120:
        return None
    return [k for _, k in sorted(cols)]


def _table_messages(page: PageDoc) -> list[Message]:
    """Messages from HTML tables with a date header row (empty cells kept, unlike the text)."""
    root = getattr(page, "root", None)
    if root is None:
        return []
    out: list[Message] = []
    for table in root.iter("table"):
        rows = [r for r in table.iter("tr")]
        cols: dict[str, int] | None = None
        for tr in rows:
            cells = [re.sub(r"\s+", " ", c.text_content()).strip() for c in tr if c.tag in ("td", "th")]
            if cols is None:
                if any(DATE_RE.search(c) for c in cells):
                    continue
                found = {}
                for i, c in enumerate(cells):
                    if len(c) > 12:
                        continue
                    if SUBMIT_LABEL.search(c) and "s" not in found:
                        found["s"] = i
                    elif REPLY_LABEL.search(c) and "r" not in found:
                        found["r"] = i
                    elif STATUS_LABEL.search(c) and "t" not in found:
                        found["t"] = i
                if "s" in found and ("r" in found or "t" in found):
                    cols = found
                continue
            if len(cells) <= cols["s"]:
                continue
            sub = parse_date(cells[cols["s"]])
            if sub is None:
                continue
            rep = parse_date(cells[cols["r"]]) if "r" in cols and len(cells) > cols["r"] else None
            status = cells[cols["t"]] if "t" in cols and len(cells) > cols["t"] else ""
            unanswered = bool(UNANSWERED.search(status)) or ("r" in cols and not status and rep is None
                                                            and len(cells) > cols["r"])
            if rep is None and not unanswered:
                continue
            label = " ".join(c for c in cells if c)
            start = page.text.find(cells[cols["s"]])
            start = max(start, 0)
            out.append(Message(sub, rep, start, start + len(cells[cols["s"]]), unanswered and rep is None, label[:200]))
    return out


def _text_messages(text: str) -> list[Message]:
    """Messages from the visible text: header-ordered lines and labelled dates."""
    out: list[Message] = []
    spans = _line_spans(text)
    order: list[str] | None = None
    for a, b in spans:
        line = text[a:b]
        head = _header_order(line)
        if head is not None:
            order = head
            continue
        if order is None:
            continue
        dates = [(m, parse_date(m.group(0))) for m in DATE_RE.finditer(line)]
        if not dates:
            order = None  # the table or list ended
            continue
        if LABELLED.search(line):
            continue  # labelled dates: read below
        date_cols = [k for k in order if k in ("s", "r")]
        got = dict(zip(date_cols, [d for _m, d in dates], strict=False))
        if len(dates) < len(date_cols):  # an empty cell: the submission date is the one printed
            got = {"s": dates[0][1]}
        sub, rep = got.get("s"), got.get("r")
        if sub is None:
            continue
        unanswered = rep is None and bool(UNANSWERED.search(line))
        if rep is None and not unanswered:
            continue
        out.append(Message(sub, rep, a, b, unanswered, line.strip()[:200]))
    # labelled dates, in reading order
    open_sub: tuple[date, int, int] | None = None
    open_reply: date | None = None

    def close(next_start: int) -> None:
        if open_sub is None:
            return
        sub, s0, s1 = open_sub
        if open_reply is not None:
            out.append(Message(sub, open_reply, s0, s1, False, text[s0:s1][:200]))
            return
        tail = text[s0:min(next_start, s0 + 160)]
        if UNANSWERED.search(tail) and not ANSWERED.search(tail):
            out.append(Message(sub, None, s0, s1, True, text[s0:s1][:200]))

    for m in LABELLED.finditer(text):
        d = parse_date(m.group("date"))
        if d is None:
            continue
        label = m.group("label")
        if SUBMIT_LABEL.fullmatch(label):
            if open_sub is not None and open_reply is None and label.startswith(_SECONDARY_SUBMIT):
                continue  # 受理时间 after 来信时间: the same message
            close(m.start())
            open_sub, open_reply = (d, m.start(), m.end()), None
        elif open_sub is not None and open_reply is None:
            open_reply = d
            open_sub = (open_sub[0], open_sub[1], m.end())
    close(len(text))
    return out


def page_messages(page: PageDoc) -> list[Message]:
    """Every message with a submission date and either a reply date or an explicit unanswered status."""
    cached = getattr(page, "_messages", None)
    if cached is not None:
        return cached
    table = _table_messages(page)
    text = _text_messages(page.text)
    seen = {(m.submitted, m.replied) for m in table}
    out = table + [m for m in text if (m.submitted, m.replied) not in seen]
    page._messages = out  # type: ignore[attr-defined]
    return out


class ReplyTimesMatcher(Matcher):
    """Median reply time of the messages a site publishes (a site-level aggregate)."""

    FIELDS = {"of", "median_within_days", "median_within_workdays", "overdue_days", "min_messages"}
    site_level = True

    def __init__(self, spec: dict, path: tuple):
        self.of = build(spec["of"], path + ("of",)) if spec.get("of") is not None else None
        self.days = spec.get("median_within_days")
        self.workdays = spec.get("median_within_workdays")
        self.overdue = int(spec.get("overdue_days", 90))
        self.min_messages = int(spec.get("min_messages", 3))
        for k in ("median_within_days", "median_within_workdays", "overdue_days", "min_messages"):
            v = spec.get(k)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                raise MatchError(path + (k,), f"'{k}' must be a non-negative integer")
        if self.days is None and self.workdays is None:
            raise MatchError(path, "a reply_times matcher needs median_within_days or median_within_workdays")

    def collect(self, page: PageDoc, ctx: Context, key: Any = None) -> DatesRecord:
        from extractors.site_rules import page_kind

        is_of = bool(self.of.evaluate(page, ctx)) if self.of is not None else page_kind(page) != "probe"
        rec = DatesRecord(key, page.url, is_of)
        if is_of and page.text:
            rec.messages = page_messages(page)
        return rec

    def finish(self, records: list[DatesRecord], ctx: Context) -> list[tuple[Any, Hit]]:
        as_of = ctx.as_of
        counted: dict[tuple[date, date | None], float] = {}
        workdays: dict[tuple[date, date | None], float] = {}
        carriers: dict[Any, Message] = {}
        fallback: set[int] = set()
        recent = 0
        for r in records:
            if not r.is_of:
                continue
            for m in r.messages:
                if m.submitted > as_of:
                    continue
                rep = m.replied if m.replied is not None and m.replied <= as_of else None
                if rep is not None and rep < m.submitted:
                    continue  # a typo on the page: a reply before the message
                if rep is None and m.replied is None and not m.unanswered:
                    continue
                k = (m.submitted, m.replied)
                if rep is None:
                    if (as_of - m.submitted).days <= self.overdue:
                        recent += 1
                        continue
                    counted[k], workdays[k] = math.inf, math.inf
                else:
                    wd = _workdays(m.submitted, rep)
                    fallback |= wd.fallback_years
                    counted[k], workdays[k] = float((rep - m.submitted).days), float(wd.days)
                carriers.setdefault(r.key, m)
        answered = sum(1 for v in counted.values() if v != math.inf)
        if len(counted) < self.min_messages or not answered:
            return []
        med_days = statistics.median(counted.values())
        med_work = statistics.median(workdays.values())
        ok = (self.days is not None and med_days <= self.days) or (self.workdays is not None and med_work <= self.workdays)
        if not ok:
            return []
        values = {"median_days": med_days, "median_workdays": med_work, "messages": len(counted),
                  "answered": answered, "overdue": len(counted) - answered, "in_progress": recent,
                  "as_of": as_of.isoformat(), "workday_calendar": WorkdayCount(0, fallback).calendar}
        out: list[tuple[Any, Hit]] = []
        for r in records:
            m = carriers.get(r.key)
            if m is None or not r.is_of:
                continue
            out.append((r.key, Hit(m.snippet or m.submitted.isoformat(), m.start, m.end,
                                   {**values, "submitted": m.submitted.isoformat(),
                                    "replied": m.replied.isoformat() if m.replied else None})))
        return out

    def evaluate(self, page: PageDoc, ctx: Context) -> list[Hit]:
        """A single page is a site of one page (``inspect``, rule examples)."""
        return [h for _k, h in self.finish([self.collect(page, ctx)], ctx)]


def register() -> None:
    """Make ``reply_times`` known to ``extractors.matchers.build``."""
    LEAF_KINDS["reply_times"] = ReplyTimesMatcher
    KINDS.add("reply_times")


register()
