"""Regulations shown as body text: who adopted or promulgated them, and when.

Local regulations (地方性法规) and government rules (规章) are often published without an
信息公开 metadata table: the title, then a note that says who adopted or promulgated the text
and when, sometimes only further down the body (after a 目录, after the 公告 that publishes
it, or at the end). :func:`find_promulgation` reads the forms such notes take:

* an adoption note of a people's congress or its standing committee::

      （2022年1月21日浙江省第十三届人民代表大会常务委员会第三十三次会议通过）
      （2021年6月29日深圳市第七届人大常委会第二次会议通过　2021年9月29日广东省…批准）
      （二〇一九年十一月二十九日省十三届人大常委会第十五次会议通过　根据……修正）

  The adopting body (通过) is the issuer; a body that only approves (批准: a province
  approving a city's regulation) is not. Amendment clauses (根据……修正, ……修订) do not change
  the enactment date.
* a decree or announcement heading and its promulgation sentence::

      杭州市人民政府令 / 第345号 / 《…》已经……审议通过，现予公布，自……起施行。 / 市长 … / 2023年1月5日
      浙江省人民代表大会常务委员会公告（第65号）《…》已于……通过，现予公布……
      （2023年1月5日杭州市人民政府令第345号公布　自2023年3月1日起施行）

  The body before 令 / 公告 is the issuer, the number is the document's 文号, the date is the
  signature date after the sentence (Arabic or Chinese numerals), or the date in a 公布 note;
  a decree without a signature date is not dated by its cabinet meeting (promulgation comes
  later), while a congress announcement is dated by the adoption it reports.

Only formal notes count: a parenthesised adoption note, or a decree / announcement number that
opens a line and is followed by 现予公布. A news story that "…会议表决通过" a regulation is
not one, and a decree number cited inside a sentence is not one either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from extractors.dates import DATE, FULLWIDTH, parse_date

_ORD = r"[一二三四五六七八九十百零〇\d]{1,5}"
_NUM = r"(?:\d{1,5}|[一二三四五六七八九十百零〇]{1,7})"
# the congress that met: [place]第N届 / [place]N届 … 人民代表大会|人大 [常务委员会|常委会] 第N次会议
_CONGRESS = re.compile(
    rf"(?P<place>[\u4e00-\u9fff]{{0,14}}?)第?{_ORD}届(?P<nat>全国)?(?:人民代表大会|人大)(?P<sc>常务委员会|常委会)?"
    rf"(?:第{_ORD}次(?:全体)?会议|{_ORD}次会议)")
_ACT = re.compile(r"(?:审议|表决)?(通过|制定|批准)")
_AMEND = re.compile(r"根据|修正|修订|修改")
_CLAUSE_SPLIT = re.compile(rf"[，；。,;]|[\s\u3000]+(?=根据|{DATE})")
_LEAD = re.compile(r"^(?:业经|[已经由于在并及、])+(?=[\u4e00-\u9fff]{2})")
# a decree / announcement number: 杭州市人民政府令第345号, 国务院令 第588号, …常务委员会公告（第65号）
# (anchored on the kind word: the issuing body is read backwards from it, which keeps the scan linear)
_DECREE = re.compile(
    r"(?P<kind>令|公告)\s*(?:[〔\[［(（]\s*(?P<y2>(?:19|20)\d{2}|[一二三四五六七八九十]{1,3}届)\s*[〕\]］)）]\s*|[（(]?\s*(?:(?P<y>(?:19|20)\d{2})\s*年\s*)?)"
    rf"第\s*(?P<n>{_NUM})\s*号\s*[)）]?")
_CONGRESS_ANCHOR = re.compile(r"届(?:全国)?(?:人民代表大会|人大)")
_PUBLISH = re.compile(r"现予(?:公布|发布|颁布)|予以公布|予以发布|现将.{0,40}公布")
_EFFECTIVE = re.compile(rf"自\s*(?P<d>{DATE}|公布之日|发布之日|印发之日)\s*起\s*(?:施行|实施|生效)")
_NOTE_OPEN = "（("
_NOTE_CLOSE = "）)"
_KIND_TITLE = re.compile(r"《(?P<t>[^《》]{4,60}?(?:条例|办法|规定|细则|规则|决定|规范|标准|规程))》")


@dataclass
class Promulgation:
    """What a formal adoption / promulgation note says."""

    issuer: str = ""
    doc_number: str = ""
    date: date | None = None  # enactment: adopted (and approved), or promulgated
    effective: date | None = None
    named_title: str = ""  # the regulation the announcement names (《…》), if it names one
    note: str = ""
    start: int = 0
    form: str = ""  # congress_note | decree | announcement | decree_note


def _clean_body(body: str, *, decree: bool) -> str:
    body = re.sub(rf"第{_ORD}届", "", _LEAD.sub("", body))  # 广东省第十三届人民代表大会常务委员会
    if body.startswith("中华人民共和国") and len(body) > 7:
        rest = body[7:]
        body = rest if rest in ("国务院", "主席") or not decree else body
    return body


def _congress_issuer(m: re.Match) -> str:
    place = _LEAD.sub("", m.group("place") or "")
    if m.group("nat"):
        return "全国人民代表大会" + ("常务委员会" if m.group("sc") else "")
    return f"{place}人民代表大会" + ("常务委员会" if m.group("sc") else "")


def _after_date(s: str) -> str:
    """``s`` from the end of its last date on (a place name follows the date in a note)."""
    ends = [m.end() for m in re.finditer(DATE, s)]
    return s[ends[-1]:] if ends else s


def _congress_notes(text: str) -> list[Promulgation]:
    """Adoption notes: （date + congress meeting + 通过 [date + … 批准] [根据 … 修正]）, in parentheses
    or as a line of their own."""
    out: list[Promulgation] = []
    for m in _CONGRESS_ANCHOR.finditer(text):
        lo = max(0, m.start() - 60)
        open_at = max(text.rfind(c, lo, m.start()) for c in _NOTE_OPEN)
        if open_at >= 0 and not any(c in text[open_at:m.start()] for c in _NOTE_CLOSE + "\n。"):
            close_at = min((i for i in (text.find(c, m.end(), m.end() + 400) for c in _NOTE_CLOSE) if i >= 0),
                           default=-1)
            if close_at < 0:
                continue
            start, note = open_at, text[open_at + 1:close_at]
        else:  # a line of its own: starts with a date or the congress, ends with 通过 / 批准 / 修正
            start = text.rfind("\n", 0, m.start()) + 1
            end = text.find("\n", m.end())
            if m.start() - start > 60:
                continue
            note = text[start:end if end >= 0 else len(text)].strip()
            if len(note) > 240 or not re.match(rf"(?:{DATE}|[\u4e00-\u9fff]{{0,14}}第?{_ORD}届)", note) \
                    or not re.search(r"(?:通过|批准|修正|修订)$", note):
                continue
        if any(p.start == start for p in out):
            continue
        p = _parse_congress_note(note)
        if p is not None:
            p.start = start
            out.append(p)
    return out


def _parse_congress_note(note: str) -> Promulgation | None:
    issuer, dates = "", []
    for clause in _CLAUSE_SPLIT.split(note):
        if not clause or _AMEND.search(clause):
            continue  # an amendment: not the enactment
        act = _ACT.search(clause)
        cm = _CONGRESS.search(_after_date(clause[:act.start()] if act else clause))
        if not act or not cm:
            continue
        d = parse_date(clause)
        if d is not None:
            dates.append(d)
        if act.group(1) != "批准" and not issuer:
            issuer = _congress_issuer(cm)
    if not issuer:
        return None
    return Promulgation(issuer=issuer, date=max(dates) if dates else None, note=note[:200], form="congress_note")


def _enclosing_open(text: str, pos: int, span: int = 300) -> int:
    """The opening parenthesis of the note ``pos`` is in (on the same line), or -1."""
    for i in range(pos - 1, max(-1, pos - span - 1), -1):
        c = text[i]
        if c in _NOTE_OPEN:
            return i
        if c in _NOTE_CLOSE or c == "\n":
            return -1
    return -1


def _decree_notes(text: str) -> list[Promulgation]:
    """Decree / announcement numbers that open a line (a heading) or sit in a 公布 note."""
    out: list[Promulgation] = []
    for m in _DECREE.finditer(text):
        line_start = text.rfind("\n", max(0, m.start() - 80), m.start()) + 1 or max(0, m.start() - 80)
        paren = _enclosing_open(text, m.start())
        left = _after_date(text[max(line_start, paren + 1, m.start() - 40):m.start("kind")])
        run = re.search(r"[\u4e00-\u9fff]+$", left)
        if run is None or len(run.group(0)) < 2:
            continue
        name = run.group(0)
        if run.start() and left[run.start() - 1].isdigit() and name[0] in "日号":
            name = name[1:]  # the tail of a date cut by the window: …6日深圳市…
        body = _LEAD.sub("", name)
        body_start = m.start("kind") - len(name)
        tail = text[m.end():m.end() + 30]
        in_note = paren >= 0 and bool(re.match(r"\s*(?:公布|发布)", tail))
        heading = not text[line_start:body_start].strip() and _PUBLISH.search(text, m.end(), m.end() + 400) is not None
        if not (heading or in_note):
            continue
        if in_note:  # （2023年1月5日杭州市人民政府令第345号公布　自…起施行）
            close = min((i for i in (text.find(c, m.end(), m.end() + 200) for c in _NOTE_CLOSE) if i >= 0),
                        default=m.end() + 60)
            note = text[paren + 1:close]
            dates = list(re.finditer(DATE, text[paren + 1:m.start("kind")]))
            d = parse_date(dates[-1].group(0)) if dates else None  # the date right before the number
            form = "decree_note"
        else:
            pub = _PUBLISH.search(text, m.end(), m.end() + 400)
            assert pub is not None
            sentence_end = text.find("。", pub.end())
            sentence_end = sentence_end if 0 <= sentence_end < pub.end() + 120 else pub.end()
            after = text[sentence_end:sentence_end + 80]
            d = parse_date(after)  # the signature's date
            if d is None and m.group("kind") == "公告":  # a congress announcement: adopted on the date it names
                d = parse_date(text[m.end():pub.end()])
            note = text[body_start:sentence_end + 1]
            form = "decree" if m.group("kind") == "令" else "announcement"
        kind = m.group("kind")
        issuer = _clean_body(body, decree=kind == "令")
        short = issuer if issuer in ("国务院", "主席") else body  # 国务院令第588号, 主席令第八十四号
        year = f"{m.group('y')}年" if m.group("y") else f"〔{m.group('y2')}〕" if m.group("y2") else ""
        number = f"{short}{kind}{year}第{m.group('n')}号"
        p = Promulgation(issuer=issuer, doc_number=number, date=d,
                         note=re.sub(r"\s+", " ", note)[:200].strip(), start=body_start, form=form)
        named = _KIND_TITLE.search(text, m.end(), m.end() + 200)
        if named and form != "decree_note":
            p.named_title = named.group("t")
        eff = _EFFECTIVE.search(note) or _EFFECTIVE.search(text, m.end(), m.end() + 400)
        if eff:
            p.effective = parse_date(eff.group("d")) or (d if "之日" in eff.group("d") else None)
        out.append(p)
    return out


def find_promulgation(text: str, title: str = "") -> Promulgation | None:
    """The formal adoption / promulgation note of a regulation page, or None.

    A decree or announcement heading and a congress note may both be present (an announcement
    publishing a regulation whose title is followed by its adoption note): the announcement
    gives the 文号, the adoption note the adopting body; dates come from whichever has one.
    """
    t = text.translate(FULLWIDTH)
    congress = _congress_notes(t)
    decrees = _decree_notes(t)
    if not congress and not decrees:
        return None
    pos = t.find(title) if title else -1

    def first(items: list[Promulgation]) -> Promulgation | None:
        after = [p for p in items if pos >= 0 and p.start >= pos]
        return (after or items or [None])[0]

    c, d = first(congress), first(decrees)
    if d is None:
        return c
    if c is None:
        return d
    # both: the decree / announcement's number; the adopting body and dates of the note
    return Promulgation(issuer=c.issuer or d.issuer, doc_number=d.doc_number, date=c.date or d.date,
                        effective=d.effective or c.effective, named_title=d.named_title,
                        note=c.note, start=min(c.start, d.start), form=f"{d.form}+congress_note")


def effective_date(text: str) -> date | None:
    """The first ``自……起施行`` date of a text (None for 自公布之日起 and when there is none)."""
    m = _EFFECTIVE.search(text.translate(FULLWIDTH))
    return parse_date(m.group("d")) if m else None
