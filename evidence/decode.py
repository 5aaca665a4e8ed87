"""One way to turn fetched HTML bytes into text, shared by the crawler and the extractors.

Chinese government pages are GB2312/GBK/GB18030 or UTF-8, and their declarations lie:
an HTTP header saying ``charset=UTF-8`` over a GBK body, no declaration at all, a
malformed ``<meta httpequiv=…>``. ``html_encoding(body, content_type, declared)`` picks the
encoding to use and ``decode_html`` decodes with it:

1. a byte-order mark wins;
2. then the candidates in order — ``declared`` (e.g. what the crawler stored), the HTTP
   header's charset, the ``<meta>`` charset (w3lib, which also reads sloppy meta tags) —
   each **validated by strict decoding**: a candidate the bytes do not decode under is
   skipped. A GB or single-byte declaration over bytes that are valid multi-byte UTF-8 is
   taken for a mistake too (UTF-8 text almost never decodes by accident, GB18030 and
   Latin-1 decode almost anything), and so is a single-byte declaration (a server's default
   ``charset=ISO-8859-1``) over bytes that read as Chinese in GB18030;
3. if no candidate decodes strictly, the candidates again, each accepted with a **few bad
   bytes** (:func:`tolerable`: at most 5% of the non-ASCII bytes, and five Chinese
   characters or more per bad byte), as browsers do: a GBK page whose titles a CMS cut by byte
   count, in the middle of a character, keeps its declared encoding and shows U+FFFD
   where the cut fell, instead of being thrown to detection;
4. then detection: strict UTF-8, strict GB18030 (with some CJK in it), the same two with a
   few bad bytes, charset-normalizer last (it confuses short GBK texts with Korean cp949,
   Big5 or Latin-1: Chinese text never goes to it when UTF-8 or GB18030 reads it).

GB2312 and GBK are always read as GB18030, their superset (GBK-only characters such as 堃
or 喆 are common in names). The text returned is always valid Unicode: if nothing decodes
strictly, the chosen encoding decodes with replacement characters.

Nothing here imports crawlers/ or extractors/; both import this (evidence/ is the ground floor).
"""

from __future__ import annotations

import codecs
import re

_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030",
            "gb_2312": "gb18030", "cp936": "gb18030", "ms936": "gb18030", "euc-cn": "gb18030",
            "utf8": "utf-8", "iso-8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252",
            "us-ascii": "cp1252", "ascii": "cp1252"}
_CJK = re.compile(r"[\u4e00-\u9fff]")
_NON_ASCII = re.compile(rb"[\x80-\xff]")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w\-.:]+)", re.I)
# labels that decode almost any bytes: over valid multi-byte UTF-8 they are taken for mistakes
_LOOSE = {"gb18030", "big5", "shift_jis", "euc_jp", "euc_kr", "cp949", "cp1252", "iso8859-15", "cp1251"}
_HEAD_BYTES = 65536  # meta declarations live in the head
# single-byte labels servers send by default (Tomcat/IIS ISO-8859-1): over Chinese text they are mistakes
_SINGLE_BYTE = {"cp1252", "iso8859-15", "cp1251", "iso8859-2", "cp1250"}


def norm_encoding(enc: str | None) -> str | None:
    """Canonical codec name of an encoding label (gb2312/gbk -> gb18030), None if unknown."""
    if not enc:
        return None
    enc = enc.strip().strip("\"'").lower()
    enc = _ALIASES.get(enc, enc)
    try:
        name = codecs.lookup(enc).name
    except LookupError:
        return None
    return _ALIASES.get(name, name)


def header_charset(content_type: str | None) -> str | None:
    """The charset of a Content-Type header value, normalised; None if none or unknown."""
    m = _CHARSET.search(content_type or "")
    return norm_encoding(m.group(1)) if m else None


def meta_charset(body: bytes) -> str | None:
    """The charset an HTML body declares in a ``<meta>`` (or an XML declaration), normalised."""
    from w3lib.encoding import html_body_declared_encoding

    return norm_encoding(html_body_declared_encoding(body[:_HEAD_BYTES]))


def _decodes(body: bytes, enc: str) -> bool:
    try:
        body.decode(enc)
        return True
    except (UnicodeDecodeError, LookupError):
        return False


_BAD_SHARE = 0.05  # bad bytes tolerated, as a share of the non-ASCII bytes
_CJK_PER_BAD = 5  # ... with at least this many CJK characters per bad byte


def tolerable(body: bytes, enc: str) -> bool:
    """Whether ``body`` reads as ``enc`` but for a few bad bytes (a title cut mid-character).

    At most 5% of the non-ASCII bytes (and at least one) may fail to decode, and the text
    must hold five CJK characters per failure: a list page whose twenty headlines are all
    cut has one bad byte per headline of a dozen characters or more, while a GBK body read
    as UTF-8 fails on about two thirds of its non-ASCII bytes and shows almost no CJK.
    """
    try:
        text = body.decode(enc, errors="replace")
    except LookupError:
        return False
    bad = text.count("\ufffd") - (body.count(b"\xef\xbf\xbd") if enc == "utf-8" else 0)
    if bad <= 0:
        return True
    non_ascii = len(_NON_ASCII.findall(body))
    return bad <= max(1.0, non_ascii * _BAD_SHARE) and len(_CJK.findall(text)) >= _CJK_PER_BAD * bad


_RUNS = re.compile(rb"[\x80-\xff]{4,}")


def _reads_as_chinese(body: bytes) -> bool:
    """Whether the bytes read as GB18030 Chinese text, bad bytes aside.

    Chinese text puts its non-ASCII bytes in runs (two CJK characters are four bytes in a row);
    Latin-1 text has them one by one between letters ("crème" is E8 between ASCII, which GBK
    would also read, as 鑝): most non-ASCII bytes must sit in runs of four or more.
    """
    high = len(_NON_ASCII.findall(body))
    if not high or sum(len(r) for r in _RUNS.findall(body)) < 0.7 * high or not tolerable(body, "gb18030"):
        return False
    return len(_CJK.findall(body.decode("gb18030", errors="replace"))) >= 4


def detect(body: bytes) -> str:
    """Best guess for bytes that declare nothing: strict UTF-8, strict GB18030, the same two
    with a few bad bytes, charset-normalizer."""
    if _decodes(body, "utf-8"):
        return "utf-8"
    try:
        text = body.decode("gb18030")
        if len(_CJK.findall(text[:20000])) >= 2:
            return "gb18030"
    except UnicodeDecodeError:
        pass
    if tolerable(body, "utf-8"):
        return "utf-8"
    if tolerable(body, "gb18030"):
        return "gb18030"
    from charset_normalizer import from_bytes

    best = from_bytes(body[:200000]).best()
    return norm_encoding(best.encoding if best else None) or "utf-8"


def html_encoding(body: bytes, content_type: str | None = None, declared: str | None = None) -> str:
    """The encoding to decode an HTML/text body with (see the module docstring for the order)."""
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    has_non_ascii = _NON_ASCII.search(body) is not None
    utf8_ok: bool | None = None
    tried: list[str] = []
    # candidates are computed lazily: the <meta> is read only when the header did not do
    for get in (lambda: norm_encoding(declared), lambda: header_charset(content_type), lambda: meta_charset(body)):
        enc = get()
        if not enc or enc in tried:
            continue
        if not has_non_ascii:
            return enc
        tried.append(enc)
        if enc == "utf-8" or enc in _LOOSE:
            if utf8_ok is None:
                utf8_ok = _decodes(body, "utf-8")
            if utf8_ok:
                return "utf-8"
            if enc == "utf-8":
                continue
        if enc in _SINGLE_BYTE and _reads_as_chinese(body):
            tried.remove(enc)  # "charset=ISO-8859-1" over a GBK body: Chinese never comes out as Latin-1
            continue
        if _decodes(body, enc):
            return enc
    # nothing declared decodes strictly: a declaration with a few bad bytes still holds
    for enc in tried:
        if (enc == "utf-8" or enc in _LOOSE) and tolerable(body, "utf-8"):
            return "utf-8"
        if enc != "utf-8" and tolerable(body, enc):
            return enc
    return detect(body)


def decode_html(body: bytes, content_type: str | None = None, declared: str | None = None) -> tuple[str, str]:
    """Decode HTML/text bytes; returns (text, encoding used). The text is always valid Unicode."""
    enc = html_encoding(body, content_type, declared)
    if enc == "utf-8" and body.startswith(codecs.BOM_UTF8):
        return body[3:].decode("utf-8", errors="replace"), enc
    return body.decode(enc, errors="replace"), enc
