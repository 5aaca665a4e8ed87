"""Real attachment files for the simulated web: PDF (fpdf2, Noto CJK) and DOCX (python-docx).

``pdf_bytes(lines)`` and ``docx_bytes(lines)`` write the given lines (title, 文号,
发布机构, dates, body) into a real file that PDF and DOCX readers parse;
``truncated(data)`` cuts a file short (a corrupt attachment); ``huge_chunks`` yields the
body of a very large "PDF" in fixed chunks, so a 60 MB file never sits in memory.
Files are built on first request (the server runs this off its event loop).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")  # Debian fonts-noto-cjk
CJK_FONT_INDEX = 2  # the Simplified Chinese face of the collection


def pdf_bytes(lines: list[str], title: str = "") -> bytes:
    """A one-or-more-page PDF with the lines as text (embedded CJK font subset)."""
    from fpdf import FPDF

    if not CJK_FONT.exists():
        raise RuntimeError(f"simweb: CJK font {CJK_FONT} is missing (apt-get install fonts-noto-cjk)")
    pdf = FPDF()
    pdf.set_title(title or (lines[0] if lines else ""))
    pdf.set_creator("WPS 文字")
    pdf.add_font("noto", fname=str(CJK_FONT), collection_font_number=CJK_FONT_INDEX)
    pdf.add_page()
    pdf.set_font("noto", size=16)
    pdf.multi_cell(0, 10, lines[0] if lines else "", align="C")
    pdf.ln(4)
    pdf.set_font("noto", size=11)
    for line in lines[1:]:
        pdf.multi_cell(0, 7, line)
        pdf.ln(1)
    return _identity_h(bytes(pdf.output()))


def _identity_h(data: bytes) -> bytes:
    """Name the Type0 fonts' encoding ``/Identity-H`` (fpdf2 embeds an identity CMap stream,
    which some readers, pypdf among them, take for a one-byte encoding)."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    for page in writer.pages:
        fonts = page.get("/Resources", {}).get("/Font", {})
        for ref in fonts.values():
            font = ref.get_object()
            if font.get("/Subtype") == "/Type0":
                font[NameObject("/Encoding")] = NameObject("/Identity-H")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_bytes(lines: list[str], title: str = "") -> bytes:
    """A DOCX (Office Open XML) document with the lines as paragraphs; the first is a heading."""
    import docx

    d = docx.Document()
    d.core_properties.title = title or (lines[0] if lines else "")
    if lines:
        d.add_heading(lines[0], level=1)
    for line in lines[1:]:
        d.add_paragraph(line)
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def truncated(data: bytes, keep: float = 0.45) -> bytes:
    """The first ``keep`` share of a file: no xref table, no %%EOF (a download cut short)."""
    return data[: max(64, int(len(data) * keep))]


HUGE_HEAD = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
_FILL = (b"% scanned page image data follows\n" * 2048)[:65536]


def huge_chunks(size: int, chunk: int = 1 << 20) -> Iterator[bytes]:
    """``size`` bytes of a PDF-looking file (header, then filler comments), in chunks."""
    yield HUGE_HEAD
    left = size - len(HUGE_HEAD)
    block = _FILL * (chunk // len(_FILL))
    while left > 0:
        part = block[: min(left, len(block))]
        left -= len(part)
        yield part


def huge_html_chunks(size: int, title: str, charset: str = "utf-8") -> Iterator[bytes]:
    """``size`` bytes of one HTML page (a statistics compilation far over any page cap)."""
    head = (f'<!DOCTYPE html><html><head><meta charset="{charset}"><title>{title}</title></head>'
            f"<body><h1>{title}</h1><table>").encode(charset)
    tail = b"</table></body></html>\n"
    row = "<tr><td>统计数据</td><td>12,345.6</td><td>同比增长3.2%</td></tr>\n".encode(charset)
    yield head
    left = size - len(head) - len(tail)
    block = row * (65536 // len(row))
    while left > 0:
        n = min(left, len(block))
        yield block[:n]
        left -= n
    yield tail
