"""A tiny web of government-like sites behind an HTTP proxy, for the crawl tests.

``FixtureWeb(hosts)`` starts, in a thread, an asyncio HTTP proxy on 127.0.0.1 that
answers absolute-URI GETs (``GET http://host/path``) for the given hosts; every
other host gets its connection closed (as a proxy that cannot reach it). Each site
has a portal linking to ``/p1`` .. ``/pN`` (a chain plus cross links), a page
disallowed by robots.txt (``/private/secret``), a broken link (404), a redirect
(``/old`` -> ``/p1``), a GBK page without a charset declaration and a PDF link.
The request log (``.log``; ``.requests`` with methods and bodies) lets tests check what was
fetched; a subclass serves other pages by overriding ``respond_to``.
"""

from __future__ import annotations

import asyncio
import threading

PAGES = 30


_FILLER = "数字政府建设政务公开政策文件解读办事服务数据开放平台省人民政府办公厅关于印发通知的意见实施方案"


def page_html(host: str, n: int, pages: int = PAGES, filler: int = 0) -> bytes:
    links = [f"/p{n + 1}", f"/p{n + 2}", f"/p{(n * 7) % pages + 1}"] if n < pages else []
    if filler:  # benchmark pages: ~filler bytes of Chinese text and more links
        links += [f"/p{(n * k) % pages + 1}" for k in (3, 5, 11, 13, 17, 19, 23)]
    body = "".join(f'<li><a href="{u}">link {u}</a></li>' for u in links)
    if filler:
        chunk = (_FILLER * (filler // (3 * len(_FILLER)) + 1))[: filler // 3]
        body += "".join(f"<p>{chunk[i:i + 200]}</p>" for i in range(0, len(chunk), 200))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{host} 第{n}页</title>"
            f"<script>var x = '不可见';</script><style>p{{color:red}}</style></head>"
            f"<body><h1>第{n}页 数据<b>安全</b></h1><p>政务公开 {n}</p><ul>{body}</ul>"
            f"<!-- comment hidden --></body></html>").encode()


def portal_html(host: str) -> bytes:
    return (f"<html><head><meta charset='utf-8'><title>{host} 门户</title></head><body>"
            "<a href='/p1'>p1</a> <a href='/old'>old</a> <a href='/missing'>missing</a> "
            "<a href='/private/secret'>secret</a> <a href='/gbk'>gbk</a> "
            "<a href='/doc.pdf'>pdf</a> <a href='/huge'>huge</a> <a href='http://other.example.org/x'>other</a> "
            f"<a href='https://{host}/p2'>https twin</a> <a href='mailto:a@b.cn'>mail</a>"
            "</body></html>").encode()


class FixtureWeb:
    def __init__(self, hosts: list[str], *, pages: int = PAGES, page_filler: int = 0, delay: float = 0.0):
        self.hosts = set(hosts)
        self.delay = delay
        self.pages = pages if not page_filler or pages != PAGES else 500
        self.filler = page_filler
        self.log: list[str] = []
        self.requests: list[tuple[str, str, str]] = []  # (method, host + path, body)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FixtureWeb:
        self._thread.start()
        self._started.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._started.set()
        self._loop.run_forever()

    def respond_to(self, method: str, host: str, path: str, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        """The answer to one request (a subclass may serve other pages, POST bodies included)."""
        return self.respond(host, path)

    def respond(self, host: str, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
        html = [("Content-Type", "text/html; charset=utf-8")]
        if path == "/robots.txt":
            return 200, [("Content-Type", "text/plain")], b"User-agent: *\nDisallow: /private/\n"
        if path == "/":
            return 200, html, portal_html(host)
        if path == "/old":
            return 301, [("Location", f"http://{host}/p1")], b""
        if path == "/gbk":
            body = f"<html><head><title>{host} 编码</title></head><body><p>国标编码页面 数据开放</p></body></html>"
            return 200, [("Content-Type", "text/html")], body.encode("gbk")
        if path == "/doc.pdf":
            return 200, [("Content-Type", "application/pdf")], b"%PDF-1.4\n%%EOF\n"
        if path.startswith("/p") and path[2:].isdigit() and 1 <= int(path[2:]) <= self.pages:
            return 200, html, page_html(host, int(path[2:]), self.pages, self.filler)
        return 404, html, b"<html><head><title>404</title></head><body>not found</body></html>"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                method, target, _ = line.decode("latin-1").split(" ", 2)
                length = 0
                while (h := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = h.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                body = await reader.readexactly(length) if length else b""
                if not target.startswith("http://"):
                    break
                rest = target[len("http://"):]
                host, _, path = rest.partition("/")
                host = host.split(":")[0].lower()
                path = "/" + path
                self.log.append(f"{host}{path}")
                self.requests.append((method, f"{host}{path}", body.decode("utf-8", "replace")))
                if host not in self.hosts:
                    break  # the proxy cannot reach this host
                if path == "/huge":  # announces 25 MB, more than the crawler's 20 MB limit
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 26214400\r\n\r\n"
                                 + b"<html>" + b" " * 65536)
                    await writer.drain()
                    break
                if self.delay:
                    await asyncio.sleep(self.delay)
                status, headers, payload = self.respond_to(method, host, path, body)
                head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(payload)}\r\n" + "".join(
                    f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
                writer.write(head.encode("latin-1") + (payload if method != "HEAD" else b""))
                await writer.drain()
        except (ConnectionError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


if __name__ == "__main__":  # manual use: python tests/test_crawl_web.py host1 host2 ...
    import sys
    import time
    with FixtureWeb(sys.argv[1:]) as web:
        print(web.proxy_url, flush=True)
        while True:
            time.sleep(3600)
