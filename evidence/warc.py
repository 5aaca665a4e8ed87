"""WARC archive of every fetched response (ISO 28500, one gzip member per record).

Writers append to ``<store>.files/<campaign>/warc/<campaign>-<NNNNN>.warc.gz``,
rolling over at ``max_bytes``; each stored page row keeps the file name and the
record's byte offset and length, so ``read_record`` can replay any page.

Durability: ``flush()`` fsyncs, and a writer commits a row only after the record it points at
is flushed; a writer holds an ``flock`` on the file it appends to, so no two live processes
share one, and crash recovery (``evidence/recovery.py``) never cuts a file a live writer holds.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

# headers that described the transfer, not the decoded body we archive
_DROP_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}


@dataclass
class WarcRef:
    file: str
    offset: int
    length: int
    sha256: str
    record_id: str = ""  # WARC-Record-ID, for WARC-Concurrent-To of a record written beside it


class WarcArchive:
    """Appends response (and metadata/resource) records for one campaign."""

    def __init__(self, folder: Path, campaign: str, *, max_bytes: int = 1 << 30, writer_id: str = "0"):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.campaign = campaign
        self.max_bytes = max_bytes
        self.writer_id = writer_id
        self._fh = None
        self.files: list[Path] = []  # every file this archive wrote to
        self._name = ""
        self._open_next()

    def _open_next(self) -> None:
        if self._fh:
            self.close()
        n = 0
        while True:
            name = f"{self.campaign}-{self.writer_id}-{n:05d}.warc.gz"
            p = self.folder / name
            if not p.exists() or p.stat().st_size < self.max_bytes:
                fh = open(p, "ab")  # noqa: SIM115 - kept open until close()
                try:  # a file another live process appends to is never shared (evidence/recovery.py skips it too)
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError:
                    fh.close()
            n += 1
        self._name = name
        self._fh = fh
        self._writer = WARCWriter(self._fh, gzip=True)
        if self._fh.tell() == 0:
            info = self._writer.create_warcinfo_record(name, {"software": "windvane", "format": "WARC/1.1",
                                                              "isPartOf": self.campaign})
            self._writer.write_record(info)
            self.flush()
            _fsync_dir(self.folder)  # the new file's name survives a power cut too
        self.files.append(p)

    def write_response(self, url: str, status: int, reason: str, headers: list[tuple[str, str]],
                       body: bytes, fetched_at: str, *, record_type: str = "response",
                       concurrent_to: str | None = None) -> WarcRef:
        """Archive one response; returns where it went and the body's SHA-256."""
        if self._fh.tell() >= self.max_bytes and not concurrent_to:
            # never between a response and its concurrent records (a rendered DOM, a
            # screenshot): page rows point at both with one file name
            self._open_next()
        sha = hashlib.sha256(body).hexdigest()
        warc_headers = {"WARC-Date": fetched_at, "WARC-Payload-Digest-SHA256": sha}
        if concurrent_to:
            warc_headers["WARC-Concurrent-To"] = concurrent_to
        if record_type == "response":
            pairs = [(k, v) for k, v in headers if k.lower() not in _DROP_HEADERS]
            http = StatusAndHeaders(f"{status} {reason or 'OK'}", pairs, protocol="HTTP/1.1")
            rec = self._writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                  http_headers=http, warc_headers_dict=warc_headers)
        else:  # resource (a rendered DOM, a screenshot) or metadata (TLS probe facts), with its own content type
            ctype = dict((k.lower(), v) for k, v in headers).get("content-type", "application/octet-stream")
            rec = self._writer.create_warc_record(url, record_type, payload=io.BytesIO(body),
                                                  warc_content_type=ctype, warc_headers_dict=warc_headers)
        offset = self._fh.tell()
        self._writer.write_record(rec)
        return WarcRef(self._name, offset, self._fh.tell() - offset, sha, rec.rec_headers.get_header("WARC-Record-ID"))

    def flush(self, sync: bool = True) -> None:
        """Hand the written records to the OS and (``sync``) to the disk: rows may point at them now."""
        if self._fh:
            self._fh.flush()
            if sync:
                os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh:
            self.flush()
            self._fh.close()  # and its lock
            self._fh = None


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_record(folder: Path, file: str, offset: int) -> tuple[str, dict[str, str], bytes]:
    """Read one record back: (target URI, HTTP headers or {}, body bytes)."""
    with open(Path(folder) / file, "rb") as fh:
        fh.seek(offset)
        quick = _read_quick(fh)
        if quick is not None:
            return quick
        fh.seek(offset)
        for rec in ArchiveIterator(fh):
            if rec.http_headers:
                headers = dict(rec.http_headers.headers)
            else:  # a resource record (rendered DOM, screenshot): its own content type
                headers = {"Content-Type": rec.rec_headers.get_header("Content-Type") or ""}
            return rec.rec_headers.get_header("WARC-Target-URI"), headers, rec.content_stream().read()
    raise ValueError(f"{folder / file}: no WARC record at offset {offset}")


def _header_lines(block: bytes, pos: int) -> tuple[list[str], int] | None:
    """The header lines of ``block`` from ``pos`` up to the empty line, and where the rest
    starts; None for anything the plain reading is not sure of (non-ASCII, folded lines)."""
    lines: list[str] = []
    while True:
        nl = block.find(b"\n", pos)
        if nl < 0:
            return None
        raw = block[pos:nl].rstrip(b"\r\n")
        pos = nl + 1
        if not raw:
            return (lines, pos) if lines else None
        if not raw.isascii() or (lines and raw[:1] in (b" ", b"\t")):
            return None
        lines.append(raw.decode("ascii"))


def _pairs(lines: list[str]) -> list[tuple[str, str]]:
    out = []
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            out.append((name.rstrip(" \t"), value.lstrip()))
    return out


def _read_quick(fh: io.BufferedReader) -> tuple[str, dict[str, str], bytes] | None:
    """The record at ``fh``'s position read by hand (one gzip member: WARC headers, HTTP
    headers, body), as warcio reads it; None when the record is anything but a plain
    response or resource record, and warcio reads it instead."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    parts: list[bytes] = []
    try:
        while not d.eof:
            chunk = fh.read(1 << 16)
            if not chunk:
                return None
            parts.append(d.decompress(chunk))
    except zlib.error:
        return None
    data = b"".join(parts)
    got = _header_lines(data, 0)
    if got is None or not got[0][0].startswith("WARC/"):
        return None
    warc = {k.lower(): v for k, v in _pairs(got[0][1:])}
    try:
        length = int(warc.get("content-length", ""))
    except ValueError:
        return None
    block = data[got[1]:got[1] + length]
    if len(block) != length:
        return None
    kind = warc.get("warc-type", "").lower()
    uri = warc.get("warc-target-uri")
    if kind == "resource":
        return uri, {"Content-Type": warc.get("content-type", "")}, block  # type: ignore[return-value]
    if kind != "response" or not warc.get("content-type", "").lower().startswith("application/http"):
        return None
    http = _header_lines(block, 0)
    if http is None or not http[0][0].upper().startswith("HTTP/"):
        return None
    headers = _pairs(http[0][1:])
    if any(k.lower() in ("content-encoding", "transfer-encoding") for k, _v in headers):
        return None  # warcio decodes those: let it
    return uri, dict(headers), block[http[1]:]  # type: ignore[return-value]
