"""Throughput check of the simulated web: ``python -m simweb.bench [--proxy URL] [--seconds N]``.

Without ``--proxy`` it starts a server in a child process. Clients (asyncio, keep-alive)
go through the proxy exactly as a crawler does: https sites tunnel ``CONNECT host:443`` + TLS
and fetch the pages in origin form, http sites get absolute-URI ``GET http://…``
requests; each page is requested once per client pass. Prints pages/s.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import time

from evidence.registry import DEFAULT_REGISTRY, load_registry
from simweb.generate import SimWeb


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def _client(port: int, host: str, paths: list[str], tls: bool, counter: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if tls:
        writer.write(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
        await reader.readuntil(b"\r\n\r\n")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        await writer.start_tls(ctx, server_hostname=host)
    for p in paths:
        target = p if tls else f"http://{host}{p}"
        writer.write(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: identity\r\n\r\n".encode())
        await _read_response(reader)
        counter[0] += 1
    writer.close()


async def run(proxy_port: int, seconds: float, concurrency: int) -> float:
    web = SimWeb(load_registry(DEFAULT_REGISTRY))
    hosts = list(web.by_host)
    jobs = []
    for h in hosts:
        m = web.model(h)
        assert m is not None
        paths = [p for p in m.pages if p not in m.slow]
        jobs.append((h, paths, web.by_host[h].portal_url.startswith("https")))
    counter = [0]
    started = time.perf_counter()
    sem = asyncio.Semaphore(concurrency)

    async def one(job: tuple[str, list[str], bool]) -> None:
        async with sem:
            if time.perf_counter() - started < seconds:
                await _client(proxy_port, job[0], job[1], job[2], counter)

    await asyncio.gather(*(one(j) for j in jobs))
    elapsed = time.perf_counter() - started
    rate = counter[0] / elapsed
    print(f"{counter[0]} pages in {elapsed:.1f}s: {rate:.0f} pages/s ({concurrency} concurrent keep-alive clients)")
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--proxy", default=None, help="http://127.0.0.1:PORT of a running server")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    if args.proxy:
        asyncio.run(run(int(args.proxy.rsplit(":", 1)[1]), args.seconds, args.concurrency))
        return
    from simweb.server import SimWebProcess
    with SimWebProcess(str(DEFAULT_REGISTRY)) as web:
        asyncio.run(run(int(web.proxy_url.rsplit(":", 1)[1]), args.seconds, args.concurrency))


if __name__ == "__main__":
    main()
