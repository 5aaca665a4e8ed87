"""Dates and numbers as Chinese government pages write them.

* ``parse_date(s)``: the first date in ``s``, written ``2023-10-31``, ``2023年10月31日``,
  ``2023/3/15``, ``2023.03.15``, with full-width digits (``２０２３年３月１５日``), or in Chinese
  numerals (``二〇二二年六月十五日``, ``二○二二年``, ``二零二二年十二月三十一日``, ``元月``);
  None when there is none or it is not a real day.
* ``DATE``: a regex source matching one such date (no groups), for callers that search text.
* ``cn_int(s)``: ``五百八十八`` → 588, ``六十五`` → 65, ``65`` → 65 (decree and session numbers).
"""

from __future__ import annotations

import re
from datetime import date

FULLWIDTH = str.maketrans("０１２３４５６７８９．／－", "0123456789./-")  # full-width digits and date separators
_CN_DIGITS = {"〇": 0, "○": 0, "◯": 0, "零": 0, "O": 0, "Ｏ": 0, "o": 0, "一": 1, "二": 2, "两": 2, "三": 3,
              "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_YEAR_CHARS = "〇○◯零OＯ一二三四五六七八九"
_ARABIC = r"(?:19|20)\d{2}\s*[年\-/.]\s*\d{1,2}\s*[月\-/.]\s*\d{1,2}\s*日?"
_CHINESE = rf"[二一][{_YEAR_CHARS}]{{3}}\s*年\s*[元一二三四五六七八九十]{{1,3}}\s*月\s*[一二三四五六七八九十]{{1,3}}\s*[日号]"
DATE = rf"(?:{_ARABIC}|{_CHINESE})"

_ARABIC_RE = re.compile(r"((?:19|20)\d{2})\s*[年\-/.]\s*(\d{1,2})\s*[月\-/.]\s*(\d{1,2})")
_CHINESE_RE = re.compile(rf"([二一][{_YEAR_CHARS}]{{3}})\s*年\s*([元一二三四五六七八九十]{{1,3}})\s*月\s*"
                         r"([一二三四五六七八九十]{1,3})\s*[日号]")


def cn_int(s: str) -> int | None:
    """An integer written in Arabic or Chinese numerals (up to 9999); None if it is neither."""
    s = (s or "").strip().translate(FULLWIDTH)
    if s.isdigit():
        return int(s)
    if not s or any(c not in _CN_DIGITS and c not in "十百千" for c in s):
        return None
    if all(c in _CN_DIGITS for c in s):  # digit by digit: 二〇二二, 一〇二
        return int("".join(str(_CN_DIGITS[c]) for c in s))
    total, digit = 0, None
    for c in s:
        if c in _CN_DIGITS:
            digit = _CN_DIGITS[c]
        else:
            unit = {"十": 10, "百": 100, "千": 1000}[c]
            total += (1 if digit is None else digit) * unit
            digit = None
    return total + (digit or 0)


def _valid(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def parse_date(s: str | None) -> date | None:
    """The first date in ``s`` (Arabic, full-width or Chinese numerals), or None."""
    if not s:
        return None
    s = s.translate(FULLWIDTH)
    a = _ARABIC_RE.search(s)
    c = _CHINESE_RE.search(s) if any(ch in s for ch in "年") else None
    if a and (c is None or a.start() <= c.start()):
        return _valid(int(a.group(1)), int(a.group(2)), int(a.group(3)))
    if c:
        y = cn_int(c.group(1))
        mo = 1 if c.group(2) == "元" else cn_int(c.group(2))
        d = cn_int(c.group(3))
        if y is None or mo is None or d is None:
            return None
        return _valid(y, mo, d)
    return None
