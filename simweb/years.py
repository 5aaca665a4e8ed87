"""The simulated web of an earlier year: the same portals, a year younger.

The generator writes every portal as it stands at the 2023 cut-off (``simweb.content.AS_OF``).
For an earlier year the site is built from the same seed with that year's leaves (the profile,
``simweb.profile``: fewer features, a few lost ones back) and then its calendar is moved back:
every document, news item and message is dated that many years earlier (date fields and the years
written in titles, 文号, 索引号 and body text), so the cut-off of that year's campaign (``as_of``,
10-31 of the year) cuts the content where the 2023 cut-off cuts the 2023 content. Paths are
assigned after the shift, so dated URLs (``t20221005_…``, ``/art/2022/10/5/…``) follow their dates.

Only text outside tags is rewritten (a link's ``href`` is a path and stays as it is), and only a
year followed by 年, a date separator, 〕, ] or a closing bracket (or written in Chinese numerals,
二〇二三年): phone numbers, codes and counts are left alone. Replies judged on the holiday calendar are judged again on the earlier year's
calendar (``message_reply_timeliness``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from simweb.content import AS_OF
from simweb.model import Fragment, SiteModel

_TEXT_YEAR = re.compile(r"(<[^>]*>)|(?<!\d)(20[0-3]\d)(?=年|[-—/.〕\]）)]\d|[〕\]）)年—])")


def as_of(year: int) -> date:
    """The campaign cut-off of ``year`` (10-31, as the 2023 edition's 2023-10-31)."""
    return AS_OF.replace(year=year)


def shift_date(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


_CN_DIGITS = "〇一二三四五六七八九"
_CN_ZEROS = "〇零○"
_CN_YEAR = re.compile(r"(<[^>]*>)|([二][〇零○][〇零○一二三四五六七八九]{2})(?=年)")  # 二〇二三年, 二零二二年


def _cn_year(text: str, years: int) -> str:
    zero = next((c for c in text if c in _CN_ZEROS), "〇")
    n = int("".join(str(_CN_DIGITS.index("〇" if c in _CN_ZEROS else c)) for c in text)) - years
    return "".join(zero if d == "0" else _CN_DIGITS[int(d)] for d in str(n))


def shift_text(text: str, years: int) -> str:
    """Years written in ``text`` (outside tags; in digits or in Chinese numerals) moved ``years`` back."""
    if not years or not text:
        return text

    def sub(m: re.Match) -> str:
        return m.group(1) if m.group(1) else str(int(m.group(2)) - years)

    def sub_cn(m: re.Match) -> str:
        return m.group(1) if m.group(1) else _cn_year(m.group(2), years)
    return _CN_YEAR.sub(sub_cn, _TEXT_YEAR.sub(sub, text))


def _fragment(f: Fragment, years: int) -> Fragment:
    if isinstance(f, str):
        return shift_text(f, years)
    if callable(f):
        return _wrap(f, years)
    return f


def _wrap(fn: Callable[[SiteModel], str], years: int) -> Callable[[SiteModel], str]:
    def shifted(s: SiteModel) -> str:
        return shift_text(fn(s), years)
    return shifted


def _value(v: Any, years: int) -> Any:
    if isinstance(v, str):
        return shift_text(v, years)
    if isinstance(v, list):
        return [_value(x, years) for x in v]
    if isinstance(v, date):
        return shift_date(v, years)
    return v


def shift_site(m: SiteModel, years: int) -> None:
    """Move the built site's content ``years`` back (before paths are assigned)."""
    if years <= 0:
        return
    for it in m.items.values():
        it.date = shift_date(it.date, years)
        if it.written:
            it.written = shift_date(it.written, years)
        for name in ("title", "docno", "index_no", "extra_html", "paras"):
            setattr(it, name, _value(getattr(it, name), years))
        it.form_opts = {k: _value(v, years) for k, v in it.form_opts.items()}
    for page in m.static_pages.values():
        page.title = shift_text(page.title, years)
        page.body = _fragment(page.body, years)
    m.home_blocks = [(shift_text(t, years), _fragment(f, years)) for t, f in m.home_blocks]
    m.footer_lines = [_fragment(f, years) for f in m.footer_lines]
    m.header_links = [_fragment(f, years) for f in m.header_links]
    m.floats = [_fragment(f, years) for f in m.floats]
    cutoff = shift_date(AS_OF, years)
    lt = m.leaves.get("message_reply_timeliness")
    msgs = getattr(lt, "messages", None)
    if lt is not None and msgs is not None:
        from simweb.features_extra import reply_share
        moved = [(shift_date(a, years), shift_date(b, years) if b else None) for a, b in msgs]
        share = reply_share(moved, cutoff) if getattr(lt, "layout", "") != "status" else 0.0
        lt.present = share > 0
        lt.share = None if share >= 1.0 else share
