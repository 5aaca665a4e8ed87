"""Policy attachments (PDF, DOC, DOCX): recognising them, fetching them capped, reading their text.

Many regulations live only in an attachment hanging off a stub document page ("详见附件").
The spider follows such links on the site's own hosts and stores each attachment as a page
of its own (``kind='attachment'``, ``referrer`` and ``parent_id`` = the linking page), its
raw bytes in the WARC and its text in ``pages.text``, so the rules see it.

Recognising an attachment:

* by its link: an extension in the URL path (``./P020210208….pdf``,
  ``/attachment/0/527/527540/2427347.pdf``) or in a query value
  (``/module/download/downfile.jsp?filename=<hex>.pdf``), or link text ending in one
  (``<a href="/download?id=7">附件1.docx</a>``) — :func:`link_format`;
* by the response: ``Content-Type`` (``application/pdf``, ``application/msword``, …) or a
  ``Content-Disposition`` file name — :class:`AttachmentRouter` hands such a response,
  fetched as an ordinary page, to the spider's attachment callback.

Formats: ``pdf`` (pypdf), ``docx`` (python-docx), ``doc`` (Word 97: ``antiword``, else
``catdoc``, as a subprocess with a timeout). ``wps`` and ``ofd`` have no maintained text
extractor: they are recorded as failures with that reason and not fetched.

Limits and failures: an attachment is fetched with its own ``download_maxsize``
(:data:`ATTACHMENT_MAXSIZE`, 20 MB); a bigger one fails with "attachment larger than the
20 MB limit". A truncated or corrupt file is archived as fetched (its WARC record and page
row exist, with empty text) and recorded as a failure whose reason says what is wrong.

Text extraction is CPU work: it runs in a small dedicated thread pool
(:class:`TextExtractor`, :data:`EXTRACT_THREADS` threads), never on the reactor thread,
and the number of files parsed at once is bounded by that pool.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

ATTACHMENT_MAXSIZE = 20 * 1024 * 1024
# per site, at most: a portal linking thousands of attachments must not turn a crawl into a download
ATTACHMENTS_PER_SITE = 300
ATTACHMENT_BYTES_PER_SITE = 300 * 1024 * 1024
EXTRACT_THREADS = 2
DOC_TIMEOUT = 30.0  # seconds for antiword / catdoc
MAX_PDF_PAGES = 300
MAX_TEXT_CHARS = 2_000_000

SUPPORTED = ("pdf", "doc", "docx")
UNSUPPORTED = ("wps", "ofd")
FORMATS = SUPPORTED + UNSUPPORTED
_EXT = re.compile(r"\.(pdf|docx|doc|wps|ofd)\s*$", re.I)
_CTYPES = {
    "application/pdf": "pdf", "application/x-pdf": "pdf",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-works": "wps", "application/kswps": "wps", "application/wps-office.wps": "wps",
    "application/ofd": "ofd",
}
_DISPOSITION = re.compile(r"""filename\*?\s*=\s*(?:[\w\-]+'[^']*')?["']?([^"';]+)""", re.I)


class AttachmentError(Exception):
    """An attachment whose text cannot be read; the message is the failure reason."""


# --- recognising ----------------------------------------------------------------------------
def _ext_format(name: str) -> str | None:
    m = _EXT.search(name)
    return m.group(1).lower() if m else None


def link_format(url: str, text: str | None = None) -> str | None:
    """The attachment format a link points at (by URL path, query value or link text), or None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    fmt = _ext_format(unquote(parts.path))
    if fmt:
        return fmt
    if parts.query:
        for _k, v in parse_qsl(parts.query, keep_blank_values=False):
            fmt = _ext_format(v)
            if fmt:
                return fmt
    if text:
        return _ext_format(text.strip())
    return None


def response_format(content_type: str | None, disposition: str | None, url: str = "",
                    body_head: bytes = b"") -> str | None:
    """The attachment format a response carries (Content-Type, Content-Disposition, magic), or None."""
    main = (content_type or "").split(";")[0].strip().lower()
    if main in _CTYPES:
        return _CTYPES[main]
    if disposition:
        m = _DISPOSITION.search(disposition)
        if m:
            fmt = _ext_format(unquote(m.group(1)))
            if fmt:
                return fmt
    if main in ("application/octet-stream", "application/x-download", "application/force-download", ""):
        if body_head.startswith(b"%PDF-"):
            return "pdf"
        return link_format(url)
    return None


def unsupported_reason(fmt: str, url: str) -> str:
    """The failure reason of an attachment in a format windvane cannot read."""
    return (f"{fmt.upper()} attachment not fetched: no maintained text extractor for {fmt.upper()} "
            f"(only PDF, DOC, DOCX): {url}")


def too_big_reason(url: str) -> str:
    return f"attachment larger than the {ATTACHMENT_MAXSIZE >> 20} MB limit: {url}"


# --- reading text ---------------------------------------------------------------------------
@dataclass
class AttachmentText:
    title: str | None
    text: str


_CJK = re.compile(r"[\u4e00-\u9fff]")
_BAD_TITLE = re.compile(r"^(?:microsoft\s+word|wps|untitled|无标题|文档\d*$)|\.(?:docx?|pdf|wps|txt)\s*$", re.I)
_LINE_WS = re.compile(r"[^\S\n]+")


def _clean(text: str) -> str:
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    lines = [_LINE_WS.sub(" ", ln).strip() for ln in text.split("\n")]
    return "\n".join(ln for ln in lines if ln)[:MAX_TEXT_CHARS]


def _title(meta_title: str | None, text: str) -> str | None:
    """The document's metadata title when it looks like one (CJK, not a file name), else its first line."""
    t = (meta_title or "").strip()
    if t and _CJK.search(t) and not _BAD_TITLE.search(t):
        return t[:300]
    first = text.split("\n", 1)[0].strip()
    return first[:300] or None


def _pdf(body: bytes, url: str) -> AttachmentText:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not body.lstrip()[:1024].startswith(b"%PDF-") and b"%PDF-" not in body[:1024]:
        raise AttachmentError(f"not a PDF file (no %PDF- header): {url}")
    if b"%%EOF" not in body[-2048:]:
        raise AttachmentError(f"truncated or corrupt PDF (no %%EOF marker at the end, "
                              f"{len(body)} bytes): {url}")
    try:
        reader = PdfReader(io.BytesIO(body))
        if reader.is_encrypted and not reader.decrypt(""):
            raise AttachmentError(f"encrypted PDF (needs a password): {url}")
        parts = []
        for page in reader.pages[:MAX_PDF_PAGES]:
            parts.append(page.extract_text() or "")
        meta = reader.metadata
        meta_title = meta.title if meta else None
    except AttachmentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            RecursionError, OSError, NotImplementedError) as e:
        raise AttachmentError(f"corrupt PDF ({type(e).__name__}: {e}): {url}") from None
    text = _clean("\n".join(parts))
    if not text:
        raise AttachmentError(f"PDF without a text layer (a scanned image? no OCR here): {url}")
    return AttachmentText(_title(meta_title, text), text)


def _docx(body: bytes, url: str) -> AttachmentText:
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        d = docx.Document(io.BytesIO(body))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as e:
        raise AttachmentError(f"corrupt DOCX ({type(e).__name__}: {e}): {url}") from None
    lines = [p.text for p in d.paragraphs]
    for table in d.tables:
        for row in table.rows:
            lines.append(" ".join(c.text for c in row.cells))
    text = _clean("\n".join(lines))
    if not text:
        raise AttachmentError(f"DOCX without text: {url}")
    return AttachmentText(_title(d.core_properties.title, text), text)


def _doc(body: bytes, url: str) -> AttachmentText:
    tools = [(t, args) for t, args in (("antiword", ["-m", "UTF-8.txt", "-w", "0"]), ("catdoc", ["-d", "utf-8", "-w"]))
             if shutil.which(t)]
    if not tools:
        raise AttachmentError(f"cannot read a .doc file: neither antiword nor catdoc is installed: {url}")
    with tempfile.NamedTemporaryFile(suffix=".doc") as fh:
        fh.write(body)
        fh.flush()
        errors = []
        for tool, args in tools:
            try:
                p = subprocess.run([tool, *args, fh.name], capture_output=True, timeout=DOC_TIMEOUT, check=False)
            except subprocess.TimeoutExpired:
                errors.append(f"{tool} timed out after {DOC_TIMEOUT:.0f} s")
                continue
            text = _clean(p.stdout.decode("utf-8", "replace"))
            if p.returncode == 0 and text:
                return AttachmentText(_title(None, text), text)
            errors.append(f"{tool}: {p.stderr.decode('utf-8', 'replace').strip()[:200] or 'no text'}")
    raise AttachmentError(f"corrupt or unreadable DOC ({'; '.join(errors)}): {url}")


def extract_text(fmt: str, body: bytes, url: str) -> AttachmentText:
    """Title and text of an attachment; raises :class:`AttachmentError` with a reason naming ``url``."""
    if not body:
        raise AttachmentError(f"empty {fmt.upper()} attachment: {url}")
    if fmt == "pdf":
        return _pdf(body, url)
    if fmt == "docx":
        if body.startswith(b"\xd0\xcf\x11\xe0"):  # a Word 97 file named .docx
            return _doc(body, url)
        return _docx(body, url)
    if fmt == "doc":
        if body.startswith(b"PK\x03\x04"):  # a DOCX named .doc
            return _docx(body, url)
        return _doc(body, url)
    raise AttachmentError(unsupported_reason(fmt, url))


class TextExtractor:
    """A bounded thread pool that reads attachments off the reactor thread."""

    def __init__(self, threads: int = EXTRACT_THREADS):
        self.threads = threads
        self._pool: Any = None

    def submit(self, fmt: str, body: bytes, url: str) -> Any:
        """A Deferred firing with :class:`AttachmentText` (or failing with AttachmentError)."""
        from twisted.internet import reactor
        from twisted.internet.threads import deferToThreadPool
        from twisted.python.threadpool import ThreadPool

        if self._pool is None:
            self._pool = ThreadPool(minthreads=0, maxthreads=self.threads, name="windvane-attachments")
            self._pool.start()
            reactor.addSystemEventTrigger("during", "shutdown", self.stop)
        return deferToThreadPool(reactor, self._pool, extract_text, fmt, body, url)

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.stop()
            self._pool = None


# --- Scrapy plumbing -----------------------------------------------------------------------
class AttachmentRouter:
    """Downloader middleware: a page request answered with an attachment goes to the attachment callback.

    Runs after the redirect middleware has seen the response (so only final responses are
    routed); a request already marked ``wv_attachment`` is left alone.
    """

    def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        if request.meta.get("wv_attachment") or not hasattr(spider, "parse_attachment"):
            return response
        if not 200 <= response.status < 300:
            return response
        ctype = response.headers.get(b"Content-Type")
        disp = response.headers.get(b"Content-Disposition")
        fmt = response_format(ctype.decode("latin-1") if ctype else None,
                              disp.decode("latin-1") if disp else None, response.url, response.body[:8])
        if fmt:
            request.meta["wv_attachment"] = fmt
            request.callback = spider.parse_attachment
        return response


def link_parents(conn: Any, campaign: str) -> int:
    """Set ``parent_id`` of attachment rows to the id of the page that linked them (by referrer)."""
    cur = conn.execute(
        "UPDATE pages SET parent_id = coalesce("
        " (SELECT p.id FROM pages p WHERE p.campaign = pages.campaign AND p.url = pages.referrer"
        "  AND p.id != pages.id),"
        " (SELECT p.id FROM pages p WHERE p.campaign = pages.campaign AND p.final_url = pages.referrer"
        "  AND p.kind != 'attachment' LIMIT 1)) "
        "WHERE campaign = ? AND kind = 'attachment' AND parent_id IS NULL AND referrer IS NOT NULL",
        [campaign])
    conn.commit()
    return cur.rowcount



# --- the spider's side ---------------------------------------------------------------------
_ATT_BYTES = re.compile(rb"\.(?:pdf|docx?|wps|ofd)\b", re.I)


_EXTRACTOR: Any = None


def attachment_link_extractor() -> Any:
    """A link extractor that keeps links to documents (Scrapy's default drops .pdf/.doc/.docx)."""
    global _EXTRACTOR
    if _EXTRACTOR is None:
        from scrapy.linkextractors import LinkExtractor

        _EXTRACTOR = LinkExtractor(deny_extensions=[], tags=("a", "area"), attrs=("href",))
    return _EXTRACTOR


def may_link_attachments(body: bytes) -> bool:
    """Cheap pre-check before extracting links from a page only for its attachments."""
    return _ATT_BYTES.search(body) is not None


def response_headers(response: Any) -> list[tuple[str, str]]:
    """The response's headers as stored (transfer headers dropped, as the WARC record has them)."""
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, vs in response.headers.items() for v in vs
            if k.lower() not in (b"content-encoding", b"transfer-encoding", b"content-length")]


class AttachmentsMixin:
    """Attachment handling of :class:`crawlers.spider.WindvaneSpider` (its attributes are used)."""

    text_extractor: TextExtractor | None = None

    def attachment_request(self, url: str, fmt: str, st: Any, referrer: str, depth: int) -> Any:
        """Schedule a request for an attachment (outside the depth limit: it belongs to its page)."""
        from scrapy import Request

        meta: dict[str, Any] = {"site_id": st.site_id, "wv_run": self.run_id, "wv_attachment": fmt,  # type: ignore[attr-defined]
                                "depth": depth, "wv_referrer": referrer, "download_maxsize": ATTACHMENT_MAXSIZE,
                                "download_warnsize": ATTACHMENT_MAXSIZE // 2}
        if self.proxy:  # type: ignore[attr-defined]
            meta["proxy"] = self.proxy  # type: ignore[attr-defined]
        st.outstanding += 1
        return Request(url, callback=self.parse_attachment, errback=self.on_error, meta=meta,  # type: ignore[attr-defined]
                       headers={"Referer": referrer})

    def follow_attachment(self, url: str, text: str | None, st: Any, referrer: str, depth: int) -> bool:
        """If ``url`` is an attachment: schedule it (or record why not) and return True."""
        fmt = link_format(url, text)
        if fmt is None:
            return False
        if url in st.seen:
            return True
        st.seen[url] = depth + 1
        settings = self.crawler.settings  # type: ignore[attr-defined]
        max_files = settings.getint("WINDVANE_MAX_ATTACHMENTS", ATTACHMENTS_PER_SITE)
        max_bytes = settings.getint("WINDVANE_MAX_ATTACHMENT_BYTES", ATTACHMENT_BYTES_PER_SITE)
        if fmt not in UNSUPPORTED and (st.att_count >= max_files or st.att_bytes >= max_bytes):
            if self.writer:  # type: ignore[attr-defined]
                self.writer.add_failure(  # type: ignore[attr-defined]
                    site_id=st.site_id, url=url, referrer=referrer,
                    reason=f"attachment not fetched: the site's cap of {max_files} attachments or "
                           f"{max_bytes >> 20} MB is reached: {url}")
            return True
        if fmt not in UNSUPPORTED:
            st.att_count += 1
        if fmt in UNSUPPORTED:
            if self.writer:  # type: ignore[attr-defined]
                self.writer.add_failure(site_id=st.site_id, url=url, reason=unsupported_reason(fmt, url),  # type: ignore[attr-defined]
                                        referrer=referrer)
            return True
        self.crawler.engine.crawl(self.attachment_request(url, fmt, st, referrer, depth + 1))  # type: ignore[attr-defined]
        return True

    def attachment_links(self, response: Any, st: Any, depth: int) -> None:
        """Fetch the attachments a page links (at any depth, outside the page budget: they are part
        of their page); a cheap byte search skips pages that cannot link any."""
        if not may_link_attachments(response.body):
            return
        from crawlers.spider import same_site_url

        for link in attachment_link_extractor().extract_links(response):
            url = same_site_url(link.url, st.hosts, st.scheme)
            if url is not None:
                self.follow_attachment(url, link.text, st, response.url, depth)

    async def parse_attachment(self, response: Any):
        """Store an attachment: raw bytes in the WARC, its text (read in a thread) in pages.text."""
        from scrapy.http import TextResponse
        from scrapy.utils.defer import maybe_deferred_to_future

        meta = response.meta
        st = self.site_state.get(meta.get("site_id", ""))  # type: ignore[attr-defined]
        if st is None:
            return
        depth = meta.get("depth", 0)
        st.att_bytes += len(response.body)
        try:
            ctype_b = response.headers.get(b"Content-Type")
            ctype = ctype_b.decode("latin-1") if ctype_b else None
            disp = response.headers.get(b"Content-Disposition")
            actual = response_format(ctype, disp.decode("latin-1") if disp else None, response.url,
                                     response.body[:8])
            if response.status >= 300 or (isinstance(response, TextResponse) and actual is None):
                # not an attachment after all (an error page, a login page): a page like any other
                for out in self._follow(response, st, depth):  # type: ignore[attr-defined]
                    yield out
                return
            fmt = actual if actual in SUPPORTED else meta.get("wv_attachment", "pdf")
            requested = meta.get("redirect_urls", [response.url])[0]
            title, text, reason = None, "", None
            if fmt in UNSUPPORTED:
                reason = unsupported_reason(fmt, requested)
            else:
                if self.text_extractor is None:
                    self.text_extractor = TextExtractor()
                try:
                    got = await maybe_deferred_to_future(self.text_extractor.submit(fmt, response.body, response.url))
                    title, text = got.title, got.text
                except AttachmentError as e:
                    reason = str(e)
            if self.writer is None:  # type: ignore[attr-defined]
                return
            # the linking page (a redirect, e.g. Hanweb's downfile.jsp 302, rewrites the Referer header)
            ref = response.request.headers.get(b"Referer") if response.request else None
            referrer = meta.get("wv_referrer") or (ref.decode("latin-1") if ref else None)
            self.writer.add_page(  # type: ignore[attr-defined]
                site_id=st.site_id, url=requested, final_url=response.url, status=response.status,
                headers=response_headers(response), body=response.body, content_type=ctype, encoding=None,
                title=title, text=text, depth=depth, referrer=referrer, kind="attachment")
            st.pages += 1
            if reason:
                self.writer.add_failure(site_id=st.site_id, url=requested, reason=reason,  # type: ignore[attr-defined]
                                        status=response.status, referrer=referrer)
        finally:
            self.pages_seen += 1  # type: ignore[attr-defined]
            self._done_one(meta, st)  # type: ignore[attr-defined]

    def attachment_failure(self, reason: str, url: str) -> str:
        """The failure reason of an attachment request (the size limit said as such)."""
        if reason.startswith("response larger than"):
            return too_big_reason(url)
        return f"attachment: {reason}: {url}"
