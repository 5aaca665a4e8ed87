"""The verified TLS probe: does a site's certificate hold up, as a browser would judge it?

Scrapy fetches ``https://`` pages without verifying certificates (as a crawler of content
should: an expired certificate does not change what a page says). The ``https_access`` leaf
needs more than "served over https": a certificate that a client verifying the chain, the
host name and the validity period accepts. So, once per site whose portal answers over
https, :func:`probe_tls` opens its own connection to the portal's final host on port 443 —
through the crawl's HTTP proxy with ``CONNECT`` when there is one — and does a TLS
handshake with verification on (Python's :mod:`ssl`, ``check_hostname`` and
``CERT_REQUIRED``) against:

* the CA bundle given with ``windvane crawl --ca-bundle FILE`` (e.g. a private CA of a
  government network, or the simulated web's throwaway CA), else
* the system's trust store (OpenSSL's default paths, ``/etc/ssl/certs`` on Debian), or
  certifi's bundle when the system has none.

Verification is never turned off to get a "pass". When verification fails, a second,
non-verifying handshake reads the certificate anyway, so the facts (issuer, subject, the
validity period) are kept beside the verification error. The facts
(:class:`TlsFacts`) go into the ``tls_probes`` table and, as a JSON ``metadata`` record
with the leaf certificate in PEM, into the campaign's WARC (see docs/store.md).

The probe is blocking (sockets): the spider runs it in a thread (``deferToThread``).
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from evidence.store import TLS_COLS

# OpenSSL X509_V_ERR_* codes -> the short problem name kept in the store and in evidence values
_PROBLEMS = {
    9: "not_yet_valid", 10: "expired",
    18: "self_signed",  # the host's own certificate is self-signed
    # the chain does not end at a trusted CA (19: it ends at a root sent by the server that is not trusted)
    2: "unknown_ca", 19: "unknown_ca", 20: "unknown_ca", 21: "unknown_ca",
    62: "hostname_mismatch", 64: "hostname_mismatch",
}


class TlsProbeError(Exception):
    """The probe could not reach a TLS handshake (proxy refused, connection failed)."""


@dataclass
class TlsFacts:
    """What one verified TLS probe found (one row of ``tls_probes``)."""

    host: str
    port: int = 443
    verified: bool = False
    problem: str | None = None  # expired | self_signed | unknown_ca | hostname_mismatch | … | handshake | connect
    error: str | None = None  # the verifier's message, e.g. "certificate has expired"
    error_code: int | None = None  # OpenSSL X509_V_ERR_* code
    issuer: str | None = None  # RFC 4514
    subject: str | None = None
    san: list[str] = field(default_factory=list)
    not_before: str | None = None  # ISO 8601, UTC
    not_after: str | None = None
    tls_version: str | None = None  # e.g. TLSv1.3
    cipher: str | None = None
    trust: str = "system"  # the CA bundle's path, or "system"
    via_proxy: bool = False
    probed_at: str = ""
    cert_pem: str | None = None  # the leaf certificate (WARC record only, not the table)

    def summary(self) -> dict[str, Any]:
        """The facts without the certificate body (what the table and evidence values keep)."""
        d = asdict(self)
        d.pop("cert_pem")
        return d


def check_ca_bundle(path: str) -> str:
    """The absolute path of a usable CA bundle (PEM); ValueError naming the file otherwise."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{path}: no such CA bundle file")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        ctx.load_verify_locations(cafile=str(p))
    except (ssl.SSLError, OSError) as e:
        raise ValueError(f"{path}: not a PEM CA bundle ({e})") from None
    if not ctx.cert_store_stats().get("x509_ca"):
        raise ValueError(f"{path}: holds no CA certificate")
    return str(p.resolve())


def verifying_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """A client context that verifies chain, host name and dates (never weakened)."""
    if ca_bundle:
        return ssl.create_default_context(cafile=ca_bundle)
    ctx = ssl.create_default_context()
    if not ctx.cert_store_stats().get("x509_ca") and not _has_capath():
        try:
            import certifi

            ctx.load_verify_locations(cafile=certifi.where())
        except ImportError:  # pragma: no cover - certifi ships with the pinned dependencies
            pass
    return ctx


def _has_capath() -> bool:
    paths = ssl.get_default_verify_paths()
    return bool(paths.capath and Path(paths.capath).is_dir() and any(Path(paths.capath).iterdir()))


def _reading_context() -> ssl.SSLContext:
    """For reading a certificate that failed verification (facts only, never the verdict)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _connect(host: str, port: int, proxy: str | None, timeout: float) -> socket.socket:
    """A TCP connection to host:port, tunnelled with CONNECT through an HTTP proxy if given."""
    if not proxy:
        try:
            return socket.create_connection((host, port), timeout=timeout)
        except OSError as e:
            raise TlsProbeError(f"cannot connect to {host}:{port}: {e}") from None
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if parts.scheme not in ("http", ""):
        raise TlsProbeError(f"proxy {parts.scheme}:// is not supported by the TLS probe (http:// only)")
    phost, pport = parts.hostname or "127.0.0.1", parts.port or 8080
    try:
        sock = socket.create_connection((phost, pport), timeout=timeout)
    except OSError as e:
        raise TlsProbeError(f"cannot connect to the proxy {phost}:{pport}: {e}") from None
    head = f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n"
    if parts.username is not None:
        cred = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        head += f"Proxy-Authorization: Basic {base64.b64encode(cred).decode()}\r\n"
    try:
        sock.sendall((head + "\r\n").encode("latin-1"))
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                break
            buf += chunk
            if len(buf) > 65536:
                break
    except OSError as e:
        sock.close()
        raise TlsProbeError(f"proxy CONNECT to {host}:{port} failed: {e}") from None
    status = buf.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    if status.split(" ")[1:2] != ["200"]:
        sock.close()
        raise TlsProbeError(f"proxy answered CONNECT {host}:{port} with {status or 'nothing'!r}")
    return sock


def _handshake(host: str, port: int, proxy: str | None, ctx: ssl.SSLContext,
               timeout: float) -> tuple[bytes | None, str | None, str | None]:
    """One handshake: (leaf certificate DER, TLS version, cipher); raises ssl errors."""
    sock = _connect(host, port, proxy, timeout)
    try:
        with ctx.wrap_socket(sock, server_hostname=host) as tls:
            cipher = tls.cipher()
            return tls.getpeercert(binary_form=True), tls.version(), cipher[0] if cipher else None
    finally:
        sock.close()


def _cert_facts(facts: TlsFacts, der: bytes) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    cert = x509.load_der_x509_certificate(der)
    facts.issuer = cert.issuer.rfc4514_string()
    facts.subject = cert.subject.rfc4514_string()
    facts.not_before = cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    facts.not_after = cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        facts.san = [str(n) for n in ext.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        facts.san = []
    facts.cert_pem = cert.public_bytes(Encoding.PEM).decode("ascii")


def probe_tls(host: str, port: int = 443, *, proxy: str | None = None, ca_bundle: str | None = None,
              timeout: float = 20.0, retries: int = 2) -> TlsFacts:
    """Verify the TLS certificate of ``host:port`` (through ``proxy`` if given). Never raises.

    ``verified`` is True only when the handshake succeeded with chain, host name and dates
    verified against ``ca_bundle`` (or the system trust store); otherwise ``problem`` and
    ``error`` say why, and the certificate's facts are read with a second handshake. A probe
    that saw no certificate (connection or handshake failure) is tried ``retries`` more times,
    as the crawl retries downloads; a verification failure is an answer and is not retried.
    """
    for attempt in range(retries + 1):
        facts = _probe_once(host, port, proxy, ca_bundle, timeout)
        if facts.problem not in ("connect", "handshake") or attempt == retries:
            return facts
        time.sleep(0.5 * (attempt + 1))
    return facts


def _probe_once(host: str, port: int, proxy: str | None, ca_bundle: str | None, timeout: float) -> TlsFacts:
    facts = TlsFacts(host=host, port=port, trust=ca_bundle or "system", via_proxy=bool(proxy),
                     probed_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    try:
        der, facts.tls_version, facts.cipher = _handshake(host, port, proxy, verifying_context(ca_bundle), timeout)
        facts.verified = True
    except ssl.SSLCertVerificationError as e:
        facts.error_code = e.verify_code
        facts.error = e.verify_message or str(e)
        facts.problem = _PROBLEMS.get(e.verify_code, "untrusted")
        der = None
        try:
            der, facts.tls_version, facts.cipher = _handshake(host, port, proxy, _reading_context(), timeout)
        except (ssl.SSLError, OSError, TlsProbeError):
            pass
    except (TimeoutError, ssl.SSLError, ConnectionError) as e:
        facts.problem, facts.error = "handshake", f"TLS handshake failed: {e}"
        return facts
    except TlsProbeError as e:
        facts.problem, facts.error = "connect", str(e)
        return facts
    except OSError as e:
        facts.problem, facts.error = "connect", f"{type(e).__name__}: {e}"
        return facts
    if der:
        try:
            _cert_facts(facts, der)
        except ValueError as e:
            facts.error = (facts.error + "; " if facts.error else "") + f"unreadable certificate: {e}"
    return facts


# --- storage ----------------------------------------------------------------------------------
def store_tls(writer: Any, site_id: str, facts: TlsFacts) -> None:
    """Archive the facts (WARC ``metadata`` record: JSON + the leaf certificate) and upsert their row.

    ``writer`` is the crawl's :class:`crawlers.pipeline.PageWriter`; called on the reactor thread.
    """
    payload = {**facts.summary(), "certificate_pem": facts.cert_pem}
    body = json.dumps(payload, ensure_ascii=False, indent=1).encode("utf-8")
    ref = writer.warc.write_response(f"https://{facts.host}/" if facts.port == 443 else
                                     f"https://{facts.host}:{facts.port}/", 0, "",
                                     [("Content-Type", "application/json")], body, facts.probed_at,
                                     record_type="metadata")
    writer.warc.flush()
    s = facts.summary()
    row = {**s, "campaign": writer.campaign, "site_id": site_id, "verified": int(facts.verified),
           "via_proxy": int(facts.via_proxy), "san": json.dumps(facts.san), "warc_file": ref.file,
           "warc_offset": ref.offset}
    conn = writer.store.conn
    conn.execute(f"INSERT OR REPLACE INTO tls_probes ({', '.join(TLS_COLS)}) VALUES ({', '.join('?' * len(TLS_COLS))})",
                 [row[c] for c in TLS_COLS])
    conn.commit()

