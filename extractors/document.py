"""Policy-document pages: the metadata block, its values, and the checks rules ask for.

``read_document(page)`` finds the 信息公开 metadata block however a CMS lays it out —
label and value in adjacent ``<td>``s, ``<li><span>`` pairs, ``<dl>``, bold labels, or
"label：value" lines — with labels padded by spaces, U+3000 or ``&nbsp;``, and returns a
:class:`DocumentInfo` (title, 文号, issuer, dates, validity, draft flag) or None when the page
is not a policy document. A regulation printed as body text, with no metadata block, is read
from its adoption or promulgation note (``extractors.promulgation``): the adopting body is its
issuer, the decree / announcement number its 文号, the note's date its date. 文号 are normalised
(``normalize_number``); a document with no date at all has ``date()`` None: "date unknown".

``TargetNames`` knows what a government calls itself (杭州市, 杭州, "市政府…" on its own
city site) and which longer names of other governments contain its name (吉林省 vs 吉林市,
新疆生产建设兵团 vs 新疆); ``issued_by(issuer)`` decides whether an issuing body is that
government or one of its departments, and not a district under it or another government.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from extractors.dates import FULLWIDTH
from extractors.engine import parse_date
from extractors.promulgation import Promulgation, effective_date, find_promulgation

if TYPE_CHECKING:
    from extractors.engine import PageDoc

# canonical field -> label spellings (whitespace inside a label is ignored)
LABELS: dict[str, list[str]] = {
    "index_no": ["索引号", "索取号", "信息索引号"],
    "doc_number": ["发文字号", "文号", "发文文号", "文件编号", "文件字号", "发布文号", "发文号"],
    "issuer": ["发文机关", "发布机构", "发文单位", "发布单位", "发文机构", "制发机关", "制定机关",
               "发布机关", "生成机构", "公开机构", "责任部门", "信息公开机构", "发布部门", "颁布机关", "公布机关"],
    "source": ["信息来源", "来源"],
    "written_date": ["成文日期", "发文日期", "成文时间", "印发日期", "制发日期", "通过日期", "生成日期"],
    "published_date": ["发布日期", "公开日期", "发布时间", "公开时间", "上载日期", "公布日期", "颁布日期"],
    "effective_date": ["生效日期", "施行日期", "生效时间", "实施日期"],
    "expiry_date": ["废止日期", "失效日期", "有效期至", "截止日期"],
    "validity": ["有效性", "时效性", "时效", "效力状态", "效力", "有效状态", "是否有效", "文件状态"],
    "title": ["标题", "名称", "文件名称", "公文标题"],
    "category": ["主题分类", "分类", "组配分类", "体裁分类", "信息分类", "效力级别"],
    "keywords": ["主题词", "关键词"],
}
# labels whose presence marks a metadata block (信息来源/发布时间 alone are news furniture)
STRONG = {"index_no", "doc_number", "issuer", "written_date", "validity"}

_LABEL_TO_FIELD: dict[str, str] = {}
for _f, _ls in LABELS.items():
    for _label in _ls:
        _LABEL_TO_FIELD[_label] = _f
_SP = r"[\s\u3000\xa0]*"
_ALT = "|".join(_SP.join(map(re.escape, lab)) for lab in sorted(_LABEL_TO_FIELD, key=len, reverse=True))
_OPEN = r"[\[【［〔(（]?"
_CLOSE = r"[\]】］〕)）]?"
_WHOLE = re.compile(rf"^{_SP}{_OPEN}{_SP}(?P<label>{_ALT}){_SP}{_CLOSE}{_SP}[:：]?{_SP}$")
_LEADING = re.compile(rf"^{_SP}(?P<label>{_ALT})[\s\u3000\xa0]+(?P<value>\S.*)$")
_INLINE = re.compile(rf"(?:^|(?<=[\s\u3000\xa0|｜;；]))(?:(?P<label>{_ALT}){_SP}[:：]|[\[【［]{_SP}(?P<blabel>{_ALT}){_SP}[\]】］]{_SP}[:：]?)")
_STRIP = re.compile(r"[\s\u3000\xa0]+")
# a label this reader does not know, alone in its cell (公开方式：, 主题分类：): never another label's value
_OTHER_LABEL = re.compile(r"^[\s\u3000\xa0]*[\u4e00-\u9fff][\u4e00-\u9fff\s\u3000\xa0]{1,9}[:：][\s\u3000\xa0]*$")

_CN_NUM = r"(?:\d{1,5}|[一二三四五六七八九十百零〇]{1,7})"
# 文号: 浙政发〔2023〕12号 (any of 〔〕 [] ［］ () （） 【】), 杭市监罚决字〔2023〕8号, 国务院令第588号,
# 主席令第八十四号, 浙江省人民代表大会常务委员会公告第45号 / 公告（第45号）, 财政部 税务总局公告2023年第10号
DOC_NUMBER = re.compile(
    r"[\u4e00-\u9fffA-Za-z]{1,16}[〔\[［(（【]\s*(?:19|20)\d{2}\s*[〕\]］)）】]\s*第?\s*\d{1,5}\s*号"
    rf"|[\u4e00-\u9fff]{{1,24}}令\s*[（(]?\s*第\s*{_CN_NUM}\s*号(?:\s*[)）])?"
    rf"|[\u4e00-\u9fff][\u4e00-\u9fff \u3000]{{1,30}}?公告\s*[（(]?\s*(?:(?:19|20)\d{{2}}\s*年\s*|[〔\[［]\s*[一二三四五六七八九十]{{1,3}}届\s*[〕\]］]\s*)?"
    rf"第\s*{_CN_NUM}\s*号(?:\s*[)）])?")
# a draft marker on a line of its own under the title: （征求意见稿）, 【草案】, (送审稿)
_DRAFT_LINE = re.compile(r"^[\s（(【\[]*(?:草案)?(?:征求意见稿|草案|送审稿|讨论稿|修改稿|审议稿|草案修改稿)[\s）)】\]]*$")
# a page titled by a decree / announcement heading (杭州市人民政府令第345号, …公告（第65号）)
_HEADING_TITLE = re.compile(r"(?:令|公告)(?:\s*[（(〔\[]?\s*\S{0,8}?[)）〕\]]?\s*第\s*\S{1,7}\s*号\s*[)）]?)?$")
# a regulation's own title: ends with its kind (and an optional （试行） / （2022年修正）)
REGULATION_TITLE = re.compile(
    r"^[^《》]{2,60}(?:条例|办法|规定|细则|规则|决定|规范|规程|标准|意见|方案|规划|通知|公告|批复|令|法)"
    r"(?:[（(][^（）()]{1,12}[)）])?$")
DRAFT = re.compile(r"征求意见稿|征求意见|意见征集|草案|送审稿|讨论稿|公开征求|征集意见")
DRAFT_URL = re.compile(r"/(?:zqyj|yjzj|yjzq|zjyj)(?:/|_)|hdjlpt/yjzj|opinion", re.I)
INVALID = re.compile(r"废止|失效|已修订|已修改|作废|停止执行|已过期|过期|被修订|不再执行|已被")
VALID = re.compile(r"有效|现行|生效")
_STAMP = re.compile(r"^[\s【\[（(]*(已废止|已失效|已作废|该文件已(废止|失效)|本文件已(废止|失效)|此件已(废止|失效))[\s】\]）)]*$")
_TITLE_SPLIT = re.compile(r"\s*(?:[_|｜]|--|—+|\s-\s)\s*")


@dataclass
class DocumentInfo:
    title: str = ""
    doc_number: str = ""
    issuer: str = ""
    written_date: str = ""
    published_date: str = ""
    validity: str = ""
    is_draft: bool = False
    fields: dict[str, str] = field(default_factory=dict)  # every labelled value found
    title_start: int = 0
    title_end: int = 0
    stamped_invalid: bool = False

    def values(self) -> dict:
        d = self.date()
        return {"title": self.title, "doc_number": self.doc_number, "issuer": self.issuer,
                "written_date": self.written_date, "published_date": self.published_date,
                "validity": self.validity, "is_draft": self.is_draft,
                "date": d.isoformat() if d else "unknown"}

    def date(self) -> date | None:
        """The date that decides the cut-off: 发布日期 (when the public could first see it),
        else 成文日期. A document written before the cut-off but published after it could
        not have been seen by a campaign that ended at the cut-off."""
        return parse_date(self.published_date) or parse_date(self.written_date)

    def in_force(self, as_of: date) -> tuple[bool, str]:
        if self.stamped_invalid:
            return False, "page carries a 废止/失效 stamp"
        if self.validity and INVALID.search(self.validity) and not re.search(r"^\s*(现行)?有效\s*$", self.validity):
            return False, f"有效性 {self.validity}"
        exp = parse_date(self.fields.get("expiry_date"))
        if exp and exp < as_of:
            return False, f"expired on {exp.isoformat()}"
        m = re.search(r"有效期\S{0,4}?至\s*((?:19|20)\d{2}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)", self.validity)
        if m and parse_date(m.group(1)) and parse_date(m.group(1)) < as_of:
            return False, f"valid until {m.group(1)}"
        return True, self.validity or "no validity mark"


def _labelled(page: PageDoc) -> dict[str, str]:
    """Scan the page's segments for label/value pairs; first occurrence of a field wins."""
    out: dict[str, str] = {}
    segs = page.segments
    i = 0
    while i < len(segs):
        seg = segs[i]
        t = seg.text
        m = _WHOLE.match(t)
        if m:  # the label is its own cell/span: the value is what follows, up to a block boundary
            f = _LABEL_TO_FIELD[_STRIP.sub("", m.group("label"))]
            vals: list[str] = []
            j = i + 1
            while j < len(segs) and j <= i + 6:
                nxt = segs[j]
                if _WHOLE.match(nxt.text) or (_INLINE.match(nxt.text) and vals):
                    break
                if vals and nxt.block:
                    break
                if _INLINE.match(nxt.text) or _OTHER_LABEL.match(nxt.text):
                    break  # the next label (an empty value: 文号：　生成日期：…)
                vals.append(nxt.text.strip())
                j += 1
            value = "".join(vals).strip()
            if f not in out and value:
                out[f] = value
            i = max(j, i + 1)
            continue
        found = list(_INLINE.finditer(t))
        lead = _LEADING.match(t) if not found and seg.block else None
        if lead:  # "发布机构 杭州市人民政府" in one cell, no colon
            f = _LABEL_TO_FIELD[_STRIP.sub("", lead.group("label"))]
            if f in STRONG | {"published_date", "title"} and f not in out:
                out[f] = lead.group("value").strip()[:300]
        if found:
            for k, m in enumerate(found):
                f = _LABEL_TO_FIELD[_STRIP.sub("", m.group("label") or m.group("blabel"))]
                end = found[k + 1].start() if k + 1 < len(found) else len(t)
                value = t[m.end():end].strip(" \u3000\xa0|｜;；")
                if not value and k + 1 == len(found) and i + 1 < len(segs) and not _WHOLE.match(segs[i + 1].text) \
                        and not _INLINE.match(segs[i + 1].text) and not _OTHER_LABEL.match(segs[i + 1].text):
                    value = segs[i + 1].text.strip()
                if f not in out and value:
                    out[f] = value[:300]
        i += 1
    return out


def _clean_title(s: str) -> str:
    s = re.sub(r"\s+", " ", s).strip()
    return s.strip("《》") if s.startswith("《") and s.endswith("》") else s


def _page_title(page: PageDoc, fields: dict[str, str]) -> str:
    if len(fields.get("title", "")) >= 5:
        return _clean_title(fields["title"])
    for key in ("articletitle", "dc.title", "title"):
        if page.meta.get(key):
            return _clean_title(page.meta[key])
    site_name = page.meta.get("sitename", "")
    for h in page.h1:
        if len(h) >= 6 and h != site_name:
            return _clean_title(h)
    if page.title:
        parts = [p for p in _TITLE_SPLIT.split(page.title) if p]
        if parts:
            return _clean_title(max(parts[:2], key=len))
    return ""


def normalize_number(number: str) -> str:
    """A 文号 as one string: no whitespace, ASCII digits, ``公告（第45号）`` → ``公告第45号``,
    ``中华人民共和国国务院令`` → ``国务院令``."""
    n = re.sub(r"[\s\u3000\xa0]+", "", (number or "").translate(FULLWIDTH))
    n = re.sub(r"(令|公告)[（(](第\S{1,7}?号)[)）]$", r"\1\2", n)
    return re.sub(r"^中华人民共和国(国务院|主席)令", r"\1令", n)


def _own_line_number(page: PageDoc) -> str:
    """A 文号 on a line of its own near the top (attachments, plain documents), also when a
    decree or announcement number is split over two lines (``…公告`` / ``第45号``)."""
    segs = [s for s in page.segments[:80] if s.block or s is page.segments[0]]
    for k, seg in enumerate(segs):
        t = seg.text.strip().translate(FULLWIDTH)
        if DOC_NUMBER.fullmatch(t):
            return t
        if k + 1 < len(segs) and re.search(r"(?:令|公告)$", t):
            joined = t + segs[k + 1].text.strip().translate(FULLWIDTH)
            if DOC_NUMBER.fullmatch(joined):
                return joined
    return ""


def _regulation_title(page: PageDoc, title: str, note: Promulgation) -> str:
    """The regulation's own title on a page with an adoption / promulgation note: the title a
    decree / announcement heading names (《…》), else the page's title when it is a regulation's,
    else the heading line right above the note, else a part of the <title> that is one."""
    title = re.sub(r"\s*[（(][^（）()]*(?:通过|公布|批准|修正|修订)[^（）()]*[)）]\s*$", "", title)
    if note.named_title and (_HEADING_TITLE.search(title) or not title
                             or ("《" not in title and not REGULATION_TITLE.match(title))):
        return note.named_title  # a page titled by its decree / announcement heading (or by nothing useful)
    if REGULATION_TITLE.match(title):
        return title
    above = [ln.strip() for ln in page.text[max(0, note.start - 300):note.start].split("\n") if ln.strip()]
    for line in reversed(above[-3:]):
        line = line.strip("（( ")
        if REGULATION_TITLE.match(line):
            return line
    for part in re.split(r"\s*[-_|｜—]+\s*", page.title or ""):
        if REGULATION_TITLE.match(part.strip()):
            return part.strip()
    return title


def read_document(page: PageDoc) -> DocumentInfo | None:
    """The policy-document metadata of a page, or None when the page is not a policy document.

    A page is one when it has a metadata block (two strong labels), a 文号 printed under a
    document-like title, or, for regulations shown as body text, a formal adoption or
    promulgation note (:mod:`extractors.promulgation`) under a regulation's title. What the
    block lacks (issuer, 文号, dates) is taken from the note."""
    fields = _labelled(page)
    strong = STRONG & fields.keys()
    title = _page_title(page, fields)
    doc_number = fields.get("doc_number", "").translate(FULLWIDTH)
    if doc_number and not re.search(r"\d", doc_number) and doc_number.strip() in ("无", "-", "/", "—"):
        doc_number = ""
    if doc_number and not DOC_NUMBER.search(doc_number) and re.search(r"(?:令|公告)\s*$", doc_number):
        # the number went on the next line of the cell: 浙江省人民代表大会常务委员会公告 / 第45号
        at = page.text.find(doc_number.strip())
        nxt = re.match(rf"\s*[（(]?\s*第\s*{_CN_NUM}\s*号\s*[)）]?", page.text[at + len(doc_number.strip()):]) \
            if at >= 0 else None
        if nxt:
            doc_number = doc_number.strip() + nxt.group(0)
    if not doc_number:
        doc_number = _own_line_number(page)
    if not doc_number:  # in parentheses at the end of the title: 关于印发…的通知（浙政办发〔2023〕5号）
        m = re.search(r"[（(]\s*([^（）()]{4,40})\s*[)）]\s*$", title.translate(FULLWIDTH))
        if m and DOC_NUMBER.fullmatch(m.group(1).strip()):
            doc_number = m.group(1).strip()
    note = find_promulgation(page.text, title) if page.text else None
    if note is not None and note.doc_number and not doc_number:
        doc_number = note.doc_number
    if note is not None:
        title = _regulation_title(page, title, note)
    if len(strong) < 2:
        head = page.text[:1500].translate(FULLWIDTH)
        m = DOC_NUMBER.search(head)
        has_number = bool(m and re.search(r"(通知|意见|办法|规定|条例|方案|规划|决定|细则|计划|要点|公告|批复|函)", title))
        # a regulation shown as body text: its own title and a formal adoption / promulgation note
        by_note = note is not None and bool(REGULATION_TITLE.match(title))
        if not (has_number or by_note):
            return None
        if not doc_number and has_number and m:  # glued to the words before it: 根据…, …6日…
            doc_number = re.sub(r"^(?:日|根据|依据|按照|依照|经|以|及|和|与|印发|转发)+", "", m.group(0))
    # the body that adopted or promulgated a regulation, as its note under the title says, is its
    # issuer even when a metadata table names the department that put it on the site (发布机构)
    tpos = page.text.find(title) if (title and note is not None) else -1
    own_note = note is not None and bool(note.issuer) and (
        note.named_title == title or (tpos >= 0 and 0 <= note.start - tpos <= 400))
    issuer = (note.issuer if own_note else "") or fields.get("issuer") or (note.issuer if note else "") \
        or fields.get("source") or page.meta.get("contentsource", "")
    written = fields.get("written_date", "")
    published = fields.get("published_date", "") or page.meta.get("pubdate", "")
    if note is not None and note.date is not None and not parse_date(written):
        written = note.date.isoformat()  # adopted / promulgated: the note's date
    if note is not None:
        fields.setdefault("promulgation", note.note)
        eff = note.effective or effective_date(page.text)
        if eff and "effective_date" not in fields:
            fields["effective_date"] = eff.isoformat()
    info = DocumentInfo(
        title=title, doc_number=normalize_number(doc_number),
        issuer=issuer.strip(), written_date=written, published_date=published,
        validity=fields.get("validity", ""), fields=fields)
    info.is_draft = bool(DRAFT.search(title) or DRAFT.search(info.validity) or DRAFT_URL.search(page.url or "")
                         or _draft_line_near_title(page, title))
    info.stamped_invalid = any(_STAMP.match(s.text) for s in page.segments)
    pos = page.text.find(title) if title else -1
    if pos >= 0:
        info.title_start, info.title_end = pos, pos + len(title)
    return info


def _draft_line_near_title(page: PageDoc, title: str) -> bool:
    """A draft marker on a line of its own right under (or above) the title: （征求意见稿）."""
    pos = page.text.find(title) if title else -1
    if pos < 0:
        return False
    lines = page.text[max(0, pos - 40):pos + len(title) + 80].split("\n")
    return any(_DRAFT_LINE.match(line.strip()) for line in lines if line.strip())


# --- whose document is it ------------------------------------------------------------------
_SUFFIXES = ["维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "自治州", "地区", "省", "市", "盟", "州"]
_ADMIN_NEXT = re.compile(r"^(省|市|州|县|区|盟|旗|地区|自治)")
_SUBORDINATE = re.compile(
    r"^[\u4e00-\u9fff]{1,8}?(区|县|旗|县级市|镇|乡|街道|开发区|新区|园区|高新区)"
    r"(人民政府|政府|委员会|管委会|管理委员会|委|办公室|办|局|人大|政协|党工委|工委)")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def short_name(name: str) -> str:
    if name == "新疆生产建设兵团":
        return "兵团"
    if name == "内蒙古自治区":
        return "内蒙古"
    for suf in _SUFFIXES:
        if name.endswith(suf) and len(name) - len(suf) >= 2:
            return name[: -len(suf)]
    return name


@dataclass
class TargetNames:
    """The names a government goes by, and other governments' names that contain them."""

    name_zh: str  # 杭州市
    level: str = "city"  # "province" | "city"
    others: tuple[str, ...] = ()  # names of other governments (full names)

    @classmethod
    def from_target(cls, target, registry=None) -> TargetNames:
        level = "province" if (target.group == "province" or target.get("level") == "province") else "city"
        others: set[str] = set()
        if registry is not None:
            for t in registry.targets:
                if t.name_zh != target.name_zh:
                    others.add(t.name_zh)
                    if t.get("province"):
                        others.add(t.get("province"))
        others.discard(target.name_zh)
        return cls(target.name_zh, level, tuple(sorted(others)))

    @property
    def aliases(self) -> list[str]:
        out = [self.name_zh]
        s = short_name(self.name_zh)
        if s != self.name_zh:
            out.append(s)
        return out

    def issued_by(self, issuer: str) -> tuple[bool, str]:
        """Is ``issuer`` this government or one of its own bodies? (decision, reason)"""
        text = re.sub(r"[\s\u3000\xa0]+", "", issuer or "")
        if not text:
            return False, "no issuing body on the page"
        short = short_name(self.name_zh)
        # mask longer names of other governments that contain ours (吉林省 on a 吉林市 check)
        masked = text
        for other in sorted(self.others, key=len, reverse=True):
            if len(other) > len(short) and short in other and other not in (self.name_zh,):
                masked = masked.replace(other, "#" * len(other))
        own_suffix = self.name_zh[len(short):] if self.name_zh.startswith(short) else ""
        # the full name first (新疆生产建设兵团 contains its short name 兵团 after other characters)
        for alias in dict.fromkeys((self.name_zh, short)):
            for m in re.finditer(re.escape(alias), masked):
                i, j = m.start(), m.end()
                prev = masked[i - 1] if i else ""
                if prev and _CJK.match(prev) and not masked[:i].endswith(("中共", "共")):
                    continue  # part of a longer name: 广西安… is not 西安
                rest = masked[j:]
                if alias == short and own_suffix and rest.startswith(own_suffix):
                    rest = rest[len(own_suffix):]
                elif alias == short and _ADMIN_NEXT.match(rest):
                    continue  # 吉林省 when we are 吉林市
                if _SUBORDINATE.match(rest):
                    return False, f"{text} is a body below {self.name_zh}, not {self.name_zh} itself"
                return True, f"issuer {text} is {self.name_zh}"
        # relative names on one's own site: 市政府办公室 on a city site, 省政府办公厅 on a province's
        rel = "省" if self.name_zh.endswith("省") else "自治区" if self.name_zh.endswith("自治区") else "市"
        if self.name_zh.endswith("兵团"):
            rel = "兵团"
        if text.startswith(rel) or text.startswith("中共" + rel):
            return True, f"issuer {text} names its own {rel}-level government without the place name"
        return False, f"issuer {text} is not {self.name_zh}"
