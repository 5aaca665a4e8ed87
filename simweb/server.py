"""The simulated web as an HTTP/1.1 proxy on loopback (asyncio, no framework).

Clients reach every portal of the registry by its real URL through this proxy:

* ``GET http://host/path HTTP/1.1`` (absolute-URI form) for ``http://`` URLs;
* ``CONNECT host:443`` followed by TLS, terminated here with a certificate for that
  host minted on the fly and signed by a throwaway CA created at start-up (cached per
  host); requests inside the tunnel are origin-form;
* plain origin-form requests with a ``Host`` header, for convenience (curl, tests).

Keep-alive is supported. Hosts that are neither a portal of the registry nor one of
the service / open-data / 12345 hosts the portals link to get ``502 Bad Gateway``.

Public API: :func:`serve_forever` (used by ``windvane simweb serve``),
:class:`SimWebServer` (in-process, for tests and benchmarks) and
:class:`SimWebProcess` (a child process as a context manager).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from pathlib import Path
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from evidence.registry import Registry, load_registry
from simweb import access as accessmod
from simweb import files
from simweb.faults import challenge_passed, challenge_response, encode_page, find_raw
from simweb.features_extra import not_found
from simweb.generate import SimWeb, trap_page, write_truth
from simweb.model import Raw, SiteModel
from simweb.platforms import PlatformHosts

ROOT = Path(__file__).resolve().parent.parent
MAX_HEAD = 65536


class LocalCA:
    """A throwaway certificate authority; mints one leaf certificate per host, on demand."""

    def __init__(self) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="simweb-ca-")
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.leaf_key = ec.generate_private_key(ec.SECP256R1())  # one key for all leaves: minting stays cheap
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "windvane simweb throwaway CA")])
        now = dt.datetime.now(dt.UTC)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.key_path = Path(self.dir.name) / "leaf.key"
        self.key_path.write_bytes(self.leaf_key.private_bytes(serialization.Encoding.PEM,
                                                              serialization.PrivateFormat.PKCS8,
                                                              serialization.NoEncryption()))
        self.ca_path = Path(self.dir.name) / "ca.pem"
        self.ca_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self._contexts: dict[str, ssl.SSLContext] = {}

    def context(self, host: str, fault: str = "") -> ssl.SSLContext:
        """The server context for ``host``; ``fault`` (``SiteModel.tls_cert``): ``expired`` (signed by
        this CA, validity ended), ``self_signed`` (not signed by this CA), ``wrong_host`` (issued
        by this CA for another name)."""
        ctx = self._contexts.get(host)
        if ctx is not None:
            return ctx
        now = dt.datetime.now(dt.UTC)
        name = f"www.{host.split('.', 1)[-1]}-cdn.net" if fault == "wrong_host" else host
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        start, end = now - dt.timedelta(days=1), now + dt.timedelta(days=30)
        if fault == "expired":
            start, end = now - dt.timedelta(days=400), now - dt.timedelta(days=35)
        builder = (x509.CertificateBuilder().subject_name(subject)
                   .issuer_name(subject if fault == "self_signed" else self.cert.subject)
                   .public_key(self.leaf_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(end)
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False))
        cert = builder.sign(self.leaf_key if fault == "self_signed" else self.key, hashes.SHA256())
        path = Path(self.dir.name) / f"{host}.pem"
        chain = cert.public_bytes(serialization.Encoding.PEM)
        if fault != "self_signed":
            chain += self.cert.public_bytes(serialization.Encoding.PEM)
        path.write_bytes(chain)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(path, self.key_path)
        self._contexts[host] = ctx
        return ctx


class Response:
    """One answer. ``stream`` (with ``length``) sends a body too big to hold, or one that stalls."""

    __slots__ = ("status", "reason", "headers", "body", "stream", "length")

    def __init__(self, status: int, reason: str, body: bytes, headers: list[tuple[str, str]] | None = None,
                 stream: Callable[[asyncio.StreamWriter], Awaitable[None]] | None = None, length: int = 0) -> None:
        self.status, self.reason, self.body, self.headers = status, reason, body, headers or []
        self.stream, self.length = stream, length


def _html(status: int, reason: str, text: str, charset: str = "utf-8") -> Response:
    return Response(status, reason, text.encode(charset, "xmlcharrefreplace"),
                    [("Content-Type", f"text/html; charset={'GBK' if charset == 'gbk' else 'UTF-8'}")])


REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found", 405: "Method Not Allowed",
           502: "Bad Gateway"}
NOT_FOUND = ("<html><head><meta charset=\"utf-8\"><title>404 Not Found</title></head><body>"
             "<h1>404 Not Found</h1><p>您访问的页面不存在或已被删除。</p><hr><center>nginx</center></body></html>")


class SimWebServer:
    """Request handling for all hosts; ``await start(host, port)`` to listen."""

    def __init__(self, registry: Registry, seed: int = 2023, cache_size: int = 8192, faults: str = "basic",
                 access: dict[str, str] | None = None, request_log: str | None = None, year: int = 2023,
                 web: SimWeb | None = None) -> None:
        self.web = web or SimWeb(registry, seed, faults, access, year)  # web: a prebuilt one (simweb.synthetic)
        self.buckets: dict[str, accessmod.Bucket] = {}  # rate-limited hosts
        # one JSON line per request (arrival time, host, path, status, Retry-After): what politeness checks read
        self._log = open(request_log, "a", encoding="utf-8", buffering=1) if request_log else None  # noqa: SIM115
        self.ca = LocalCA()
        self._cache: OrderedDict[tuple[str, str], Response] = OrderedDict()
        self._cache_size = cache_size
        self._flaky_seen: set[tuple[str, str]] = set()
        self._aux: dict[str, str] | None = None
        self._platforms: PlatformHosts | None = None
        self.server: asyncio.AbstractServer | None = None
        self.requests = 0

    # --- routing ----------------------------------------------------------------------------
    def aux_hosts(self) -> dict[str, str]:
        """Other hosts the portals link to (12345, data exchanges, catalogues): a one-page stand-in each
        (service portals and open-data platforms are ``simweb.platforms``)."""
        if self._aux is None:
            aux: dict[str, str] = {}
            for m in self.web.models():
                aux.update({h: t for h, t in m.external_hosts.items() if h not in self.web.by_host})
            self._aux = aux
        return self._aux

    def platforms(self) -> PlatformHosts:
        """Service portals and open-data platforms (``simweb.platforms``), indexed on first use."""
        if self._platforms is None:
            self._platforms = PlatformHosts(self.web)
        return self._platforms

    def known(self, host: str) -> bool:
        if host not in self.web.by_host and host in self.platforms().entries:
            return self.platforms().known(host)
        return host in self.web.by_host or host in self.aux_hosts() or self.platforms().known(host)

    async def respond(self, scheme: str, host: str, target: str, method: str = "GET", cookie: str = "",
                      body: bytes = b"") -> Response:
        m = self.web.model(host)
        if m is None:
            plat = self.platforms().answer(scheme, host, target, method, body)
            if plat is not None:
                return Response(plat.status, REASONS.get(plat.status, "OK"), plat.body,
                                [("Content-Type", plat.ctype), *plat.headers])
            title = self.aux_hosts().get(host)
            if title is None:
                return Response(502, "Bad Gateway", f"simweb proxy: unknown host {host!r}: it is not part of the "
                                f"simulated web (not in the registry)\n".encode(),
                                [("Content-Type", "text/plain; charset=utf-8")])
            return _html(200, "OK", f"<html><head><meta charset=\"utf-8\"><title>{title}</title></head><body>"
                         f"<h1>{title}</h1><p>欢迎访问。</p></body></html>")
        if scheme == "http" and m.scheme == "https":
            return Response(301, "Moved Permanently", b"", [("Location", f"https://{host}{target}")])
        if m.access:
            denied = self._access(m, host, target, cookie)
            if denied is not None:
                return denied
        if target == "/robots.txt" and not (m.access == "robots_challenge" and not challenge_passed(m, cookie)):
            return Response(200, "OK", accessmod.robots_txt(m.access, m.ident["calendar"]).encode(),
                            [("Content-Type", "text/plain")])
        if m.challenge and not challenge_passed(m, cookie):
            status, reason, headers, html = challenge_response(m, cookie)
            return Response(status, reason, html.encode("utf-8"), headers)
        key = (host, target)
        raw = find_raw(m, target) if m.raw else None
        if raw is not None:
            return await self._raw(m, key, raw)
        delay = m.slow.get(target)
        if delay:
            await asyncio.sleep(delay)
        if target in m.flaky and key not in self._flaky_seen:
            self._flaky_seen.add(key)
            return _html(503, "Service Unavailable", "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>")
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        resp = self._build(m, target)
        self._cache[key] = resp
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return resp

    def _access(self, m: SiteModel, host: str, target: str, cookie: str) -> Response | None:
        """The answer of a site with an access fault (``simweb.access``), or None to serve the page."""
        kind = m.access
        if kind in ("rate_limit", "retry_after_date", "rate_limit_all"):
            bucket = self.buckets.setdefault(host, accessmod.Bucket(size=0 if kind == "rate_limit_all" else
                                                                    accessmod.RATE_BUCKET))
            wait = bucket.take()
            if not wait:
                return None
            status, reason = (503, "Service Unavailable") if kind == "retry_after_date" else (429, "Too Many Requests")
            resp = _html(status, reason, "<html><head><meta charset=\"utf-8\"><title>请求过于频繁</title></head>"
                         f"<body><h1>{status} {reason}</h1><p>请求过于频繁，请稍后再试。</p></body></html>")
            resp.headers.append(("Retry-After", accessmod.retry_after_value(kind, wait)))
            return resp
        if kind == "portal_5xx":
            return _html(502, "Bad Gateway", "<html><head><title>502 Bad Gateway</title></head><body><center>"
                         "<h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>")
        if target == "/robots.txt":
            return _html(503, "Service Unavailable", "<h1>503</h1>") if kind == "robots_5xx" else None
        if kind == "waf_403" or (kind == "partial_waf" and self._waf_refuses(m, target)):
            status, reason, html = accessmod.waf_page(host, target)
            return _html(status, reason, html)
        if kind == "waf_200":
            return _html(200, "OK", accessmod.block_page_200(host))
        if kind == "captcha":
            return _html(200, "OK", accessmod.captcha_page(host, target))
        if kind == "login_wall":
            if target.startswith("/cas/login"):
                return _html(200, "OK", accessmod.login_page(host, target.partition("service=")[2]))
            return Response(302, "Found", b"", [("Location", f"{m.base}/cas/login?service={quote(m.base + target, safe='')}")])
        if kind == "challenge_fail":  # the challenge is served, its cookie never accepted
            status, reason, headers, html = challenge_response(m, cookie)
            return Response(status, reason, html.encode("utf-8"), headers)
        return None

    _waf_protected: dict[str, set[str]] = {}

    def _waf_refuses(self, m: SiteModel, target: str) -> bool:
        """partial_waf: a path rule refuses article pages and later list pages, never evidence or trap pages."""
        keep = self._waf_protected.get(m.host)
        if keep is None:
            from simweb.generate import site_truth
            t = site_truth(m)
            # evidence and trap pages stay readable (leaves on every layout page are found elsewhere too)
            keep = {u.split(m.host, 1)[1] for lt in t["leaves"].values()
                    for urls in (lt["urls"], lt["traps"]) if len(urls) < len(m.pages) / 2 for u in urls
                    if f"//{m.host}/" in u}  # the portal's own pages (a platform's are on its own host)
            self._waf_protected[m.host] = keep
        path = m.aliases.get(target, target)
        page = m.pages.get(path)
        if page is None or path in keep:
            return False
        return page.kind == "item" or (page.kind == "list" and page.page_no > 0)

    def log_request(self, host: str, path: str, method: str, resp: Response | None, at: float) -> None:
        if self._log is None:
            return
        retry = next((v for k, v in resp.headers if k == "Retry-After"), None) if resp is not None else None
        self._log.write(json.dumps({"t": round(at, 4), "host": host, "path": path, "method": method,
                                    "status": resp.status if resp is not None else None, "retry_after": retry},
                                   ensure_ascii=False) + "\n")

    def _build(self, m: SiteModel, target: str) -> Response:
        assert m.family is not None
        path = m.aliases.get(target, target)
        page = m.pages.get(path)
        if page is None and path in m.redirects:
            return Response(301, "Moved Permanently", b"", [("Location", f"{m.base}{m.redirects[path]}")])
        if page is None:
            trap = trap_page(m, path)
            if trap is not None:
                return _html(200, "OK", trap, m.encoding)
            page = m.pages.get(path.partition("?")[0])  # static pages ignore the query string
        if page is None:
            own = not_found(m, path)  # error_page leaf: the site's own 404 page or a soft 404 (unlinked paths)
            if own is None or not own[1]:
                return _html(404, "Not Found", NOT_FOUND)
            if own[0] == 302:
                return Response(302, "Found", b"", [("Location", f"{m.base}{own[1]}")])
            return _html(own[0], "OK" if own[0] == 200 else "Not Found", own[1], own[2])
        body, ctype = encode_page(m, path, page.kind, m.family.render(m, page))
        return Response(200, "OK", body, [("Content-Type", ctype), *m.ident.get("http_headers", [])])

    async def _raw(self, m: SiteModel, key: tuple[str, str], raw: Raw) -> Response:
        """Attachments, the nav JSON, the download gateway's 302, oversized and stalling pages."""
        if raw.kind == "found":
            return Response(302, "Found", b"", [("Location", f"{m.base}{raw.location}")])
        if raw.kind in ("file", "json"):
            cached = self._cache.get(key)
            if cached is not None:
                return cached
            assert raw.make is not None
            body = await asyncio.to_thread(raw.make)  # building a PDF takes ~0.5 s: keep the loop free
            resp = Response(200, "OK", body, [("Content-Type", raw.content_type)])
            self._cache[key] = resp
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return resp
        if raw.kind == "huge":
            if raw.content_type.startswith("text/html"):
                chunks = lambda: files.huge_html_chunks(raw.size, "统计年鉴2022（全文）", m.encoding)  # noqa: E731
            else:
                chunks = lambda: files.huge_chunks(raw.size)  # noqa: E731

            async def stream(writer: asyncio.StreamWriter) -> None:
                for chunk in chunks():
                    writer.write(chunk)
                    await writer.drain()

            return Response(200, "OK", b"", [("Content-Type", raw.content_type)], stream=stream, length=raw.size)
        # stall: promise 200 KB, send 8 KB, then nothing until the bound, then drop the connection
        head = ("<!DOCTYPE html><html><head><title>在线访谈实录</title></head><body><div class=\"ft\">" +
                "<p>主持人：各位网友，大家好！欢迎收看本期在线访谈。</p>" * 200).encode(m.encoding)[:8192]

        async def stall(writer: asyncio.StreamWriter) -> None:
            writer.write(head)
            await writer.drain()
            await asyncio.sleep(raw.stall)
            raise ConnectionResetError("stalled page: bound reached")

        return Response(200, "OK", b"", [("Content-Type", raw.content_type)], stream=stall, length=200_000)

    # --- protocol ---------------------------------------------------------------------------
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tunnel_host: str | None = None
        scheme = "http"
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                try:
                    method, target, version = lines[0].split(" ", 2)
                except ValueError:
                    await self._send(writer, Response(400, "Bad Request", b"bad request line\n"), False)
                    return
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                length = int(headers.get("content-length", "0") or 0)
                payload = await reader.readexactly(length) if length else b""
                conn = headers.get("connection", "").lower()
                keep = (conn != "close") if version == "HTTP/1.1" else (conn == "keep-alive")
                if method == "CONNECT":
                    host = target.rsplit(":", 1)[0].strip("[]").lower()
                    arrived = time.time()
                    if not self.known(host):
                        resp = await self.respond("https", host, "/")
                        await self._send(writer, resp, False)
                        return
                    down = self._down(host)
                    if down is not None:  # dns_fail: the proxy says so; tls_reset: the tunnel opens, then drops
                        self.log_request(host, "CONNECT", method, down, arrived)
                        if down.status == 200:
                            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                            await writer.drain()
                        else:
                            await self._send(writer, down, False)
                        return
                    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    await writer.drain()
                    m = self.web.model(host)  # a portal may present a faulty certificate (SiteModel.tls_cert)
                    await writer.start_tls(self.ca.context(host, m.tls_cert if m is not None else ""))
                    tunnel_host, scheme = host, "https"
                    continue
                if target.startswith(("http://", "https://")):
                    scheme, rest = target.split("://", 1)
                    host, slash, path = rest.partition("/")
                    path = slash + path if slash else "/"
                else:
                    host = tunnel_host or headers.get("host", "")
                    path = target
                host = host.rsplit(":", 1)[0].lower() if not host.startswith("[") else host
                self.requests += 1
                arrived = time.time()
                down = self._down(host)
                resp = down if down is not None else await self.respond(scheme, host, path, method,
                                                                         headers.get("cookie", ""), payload)
                self.log_request(host, path, method, resp, arrived)
                if down is not None and down.status == 200:
                    return  # tls_reset over plain http: the connection just drops
                await self._send(writer, resp, keep, head_only=method == "HEAD")
                if not keep:
                    return
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, OSError):
            return
        finally:
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - closing a broken transport
                pass

    def _down(self, host: str) -> Response | None:
        """Hosts that cannot be reached: a proxy's DNS failure (502), or 200 for a tunnel that then drops."""
        m = self.web.model(host) if host in self.web.by_host else None
        if m is None or m.access not in ("dns_fail", "tls_reset"):
            return None
        if m.access == "tls_reset":
            return Response(200, "Connection established", b"")
        return Response(502, "Bad Gateway", f"proxy: DNS lookup failed for {host} (NXDOMAIN)\n".encode(),
                        [("Content-Type", "text/plain; charset=utf-8")])

    _date = ("", 0.0)

    async def _send(self, writer: asyncio.StreamWriter, resp: Response, keep: bool, head_only: bool = False) -> None:
        now = time.time()
        if now - self._date[1] >= 1:
            self._date = (formatdate(now, usegmt=True), now)
        length = resp.length if resp.stream is not None else len(resp.body)
        hdrs = [f"HTTP/1.1 {resp.status} {resp.reason}", "Server: nginx", f"Date: {self._date[0]}",
                f"Content-Length: {length}", f"Connection: {'keep-alive' if keep else 'close'}"]
        hdrs += [f"{k}: {v}" for k, v in resp.headers]
        writer.write(("\r\n".join(hdrs) + "\r\n\r\n").encode("utf-8") + (b"" if head_only else resp.body))
        await writer.drain()
        if resp.stream is not None and not head_only:
            await resp.stream(writer)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self.server = await asyncio.start_server(self.handle, host, port, limit=MAX_HEAD, backlog=512)
        return self.server.sockets[0].getsockname()[1]


def serve_forever(registry: Registry, host: str = "127.0.0.1", port: int = 8899, seed: int = 2023,
                  truth_path: str | None = None, faults: str = "basic", ca_cert_path: str | None = None,
                  access: dict[str, str] | None = None, request_log: str | None = None, year: int = 2023,
                  web: SimWeb | None = None) -> None:
    """Write the truth table (if asked), then serve every site as an HTTP proxy until killed.

    ``year``: 2023 (the default) or 2022, the same portals a year earlier (``simweb.years``).

    Prints one line ``simweb: proxy http://HOST:PORT ...`` on stdout once listening
    (with the real port when ``port`` is 0). ``ca_cert_path``: where to write the throwaway
    CA's certificate (PEM), the one file a verifying client (``windvane crawl --ca-bundle``)
    needs to trust the simulated web's hosts; written before that line is printed.
    """
    if truth_path and web is None:  # a prebuilt web (simweb.synthetic) writes its own
        write_truth(registry, seed, truth_path, faults, access, year)

    async def main() -> None:
        srv = SimWebServer(registry, seed, faults=faults, access=access, request_log=request_log, year=year, web=web)
        if ca_cert_path:
            Path(ca_cert_path).write_bytes(srv.ca.ca_path.read_bytes())
        real_port = await srv.start(host, port)
        print(f"simweb: proxy http://{host}:{real_port} serving {len(registry.sites)} sites (seed {seed}, "
              f"year {year}, faults {faults})", flush=True)
        assert srv.server is not None
        async with srv.server:
            await srv.server.serve_forever()

    asyncio.run(main())


class SimWebProcess:
    """Run the simulated web in a child process: ``with SimWebProcess(path) as web: web.proxy_url``.

    ``ca_path``: the simulated web's CA certificate (PEM), for ``windvane crawl --ca-bundle``;
    ``year``: the web of 2023 (default) or of 2022 (``windvane simweb serve --year``);
    ``sites``: serve a synthetic registry of that many sites (``simweb.synthetic``), which the child
    writes to ``registry_path`` before it listens.
    """

    def __init__(self, registry_path: str, seed: int = 2023, truth_path: str | None = None, port: int = 0,
                 startup_timeout: float = 60.0, faults: str = "basic", access: dict[str, str] | None = None,
                 request_log: str | None = None, year: int = 2023, sites: int = 0) -> None:
        self.registry_path = str(registry_path)
        self.sites = sites
        self.year = year
        self.access = dict(access or {})
        self.request_log = request_log
        self.seed = seed
        self.faults = faults
        self._tmp: tempfile.TemporaryDirectory | None = None
        if truth_path is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="simweb-truth-")
            truth_path = str(Path(self._tmp.name) / "truth.json")
        self.truth_path = truth_path
        self._ca_dir = tempfile.TemporaryDirectory(prefix="simweb-ca-")
        self.ca_path = str(Path(self._ca_dir.name) / "simweb-ca.pem")
        self.port = port
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self.proxy_url = ""

    def __enter__(self) -> SimWebProcess:
        if not self.sites:
            load_registry(self.registry_path)  # a bad registry fails here, with its clear message
        where = ["--sites", str(self.sites), "--write-registry"] if self.sites else ["--registry"]
        cmd = [sys.executable, "-m", "windvane.cli", "simweb", "serve", *where, self.registry_path,
               "--port", str(self.port), "--seed", str(self.seed), "--truth", self.truth_path, "--faults", self.faults,
               "--ca-cert", self.ca_path, "--year", str(self.year)]
        cmd += [a for site, kind in self.access.items() for a in ("--access", f"{site}={kind}")]
        if self.request_log:
            cmd += ["--request-log", self.request_log]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + self.startup_timeout
        line = self._read_line(deadline)
        if not line.startswith("simweb: proxy http://"):
            self.__exit__(None, None, None)
            raise RuntimeError(f"simweb server did not start (exit code {self.proc.poll()}): {line!r}")
        self.proxy_url = line.split()[2]
        port = int(self.proxy_url.rsplit(":", 1)[1])
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.__exit__(None, None, None)
        raise RuntimeError("simweb server does not accept connections")

    def _read_line(self, deadline: float) -> str:
        import selectors
        assert self.proc is not None and self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if sel.select(timeout=0.2):
                return self.proc.stdout.readline().strip()
            if self.proc.poll() is not None:
                return ""
        return ""

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
