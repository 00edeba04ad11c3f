"""What the webhook benchmarks drive admission with: a throwaway TLS serving pair, the no-op
handler they compare with, a raw keep-alive TLS client, a paced load loop and percentiles (one
copy, imported by every bench/webhook_*_bench.py)."""

from __future__ import annotations

import socket
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import orjson
from aiohttp import web

from kvnuma.admission import build_response

__all__ = ["Client", "noop_admission", "p99", "paced", "percentile", "serving_tls"]


@contextmanager
def serving_tls() -> Iterator[tuple[str, str, ssl.SSLContext]]:
    """A throwaway CA's serving certificate and key for localhost (files in a temporary folder,
    gone afterwards) and a client context that trusts that CA."""
    import trustme  # a test dependency: only the benches need it

    ca = trustme.CA()
    issued = ca.issue_cert("localhost", "127.0.0.1")
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = f"{tmp}/tls.crt", f"{tmp}/tls.key"
        issued.cert_chain_pems[0].write_to_path(cert)
        issued.private_key_pem.write_to_path(key)
        yield cert, key, context


async def noop_admission(request: web.Request) -> web.Response:
    """The baseline handler: read and parse the AdmissionReview, allow it, on the webhook's own
    stack (served beside it at ``/noop``)."""
    review = orjson.loads(await request.read())
    answer = build_response(review["request"]["uid"], allowed=True)
    return web.Response(body=orjson.dumps(answer), content_type="application/json")


class Client:
    """HTTP/1.1 over one keep-alive TLS connection, on a plain socket (no client library's cost in
    the figures)."""

    def __init__(self, port: int, context: ssl.SSLContext) -> None:
        raw = socket.create_connection(("127.0.0.1", port))
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = context.wrap_socket(raw, server_hostname="localhost")
        self.buffer = b""

    def call(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        self.sock.sendall(head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("webhook closed the connection")
            self.buffer += chunk
        header, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = int(
            next(h for h in header.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1]
        )
        while len(rest) < length:
            rest += self.sock.recv(65536)
        self.buffer = rest[length:]
        return int(header.split(b" ")[1]), rest[:length]

    def post(self, path: str, body: bytes) -> bytes:
        """POST and insist on 200."""
        status, answer = self.call("POST", path, body)
        if status != 200:
            raise RuntimeError(f"POST {path}: HTTP {status}: {answer[:200]!r}")
        return answer


def paced(calls: Sequence[Callable[[], object]], count: int, rate: float) -> list[list[float]]:
    """``count`` rounds at ``rate`` rounds a second; each round makes every call once, in turn and
    evenly spaced (so all targets see the same machine at the same moments). Seconds per call."""
    lat: list[list[float]] = [[] for _ in calls]
    interval = 1.0 / rate
    start = time.perf_counter()
    for i in range(count):
        due = start + i * interval
        for n, call in enumerate(calls):
            now = time.perf_counter()
            if now < due:
                time.sleep(due - now)
            t0 = time.perf_counter()
            call()
            lat[n].append(time.perf_counter() - t0)
            due += interval / len(calls)
    return lat


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (seconds), in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3


def p99(values: list[float]) -> float:
    return percentile(values, 0.99)
