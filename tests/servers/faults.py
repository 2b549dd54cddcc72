"""A fault-injecting HTTP reverse proxy for channel tests: it sits between a channel and one of
the test servers (Shopify, WooCommerce, the Square double) on 127.0.0.1 and, driven by a
seeded RNG, answers a share of the requests itself with what real APIs do on a bad day.

Faults (``Fault.kind``):
- ``429`` with ``Retry-After`` (0 or a fraction of a second), ``500``, ``503``;
- ``stall``: no answer for longer than the client's timeout, then the connection is closed;
- ``reset``: the connection is closed with SO_LINGER 0 and no FIN first, so the client gets
  a TCP RST instead of an answer.
Each fault happens either ``before`` forwarding (the upstream never saw the request) or
``after`` it (the upstream applied it, the client still sees a failure: the hard case).

``on_applied(n, entry)`` is called right after the upstream answered the n-th forwarded
request and before the client gets the answer; returning True drops the connection unanswered
(tests use it to SIGKILL a push at a precise point). Everything is logged in ``log``.
Stdlib only; one thread per connection; HTTP/1.0 (one request per connection).
"""

from __future__ import annotations

import contextlib
import http.client
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.servers import drop, running

HOP = frozenset(
    ("connection", "keep-alive", "transfer-encoding", "content-length", "server", "date",
     "proxy-connection", "te", "trailer", "upgrade")
)  # fmt: skip
# (kind, phase) -> weight: what a fault is, when one is drawn
DEFAULT_MIX: dict[tuple[str, str], float] = {
    ("429", "before"): 3, ("500", "before"): 2, ("503", "before"): 2,
    ("reset", "before"): 2, ("stall", "before"): 1,
    ("500", "after"): 2, ("503", "after"): 1, ("reset", "after"): 2, ("stall", "after"): 1,
}  # fmt: skip


@dataclass(frozen=True)
class Fault:
    kind: str  # "429", "500", "503", "stall", "reset"
    phase: str  # "before" or "after" forwarding
    retry_after: str = ""  # for 429


@dataclass
class Entry:
    method: str
    path: str
    fault: Fault | None = None
    forwarded: bool = False
    upstream_status: int | None = None
    upstream_body: bytes = b""


@dataclass
class FaultProxy:
    upstream: str
    rate: float = 0.0
    seed: int = 0
    stall_seconds: float = 1.6  # keep it above the client's timeout (settings.timeout: 1)
    retry_after: tuple[str, ...] = ("0", "0.05")
    mix: dict[tuple[str, str], float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    on_applied: Callable[[int, Entry], bool] | None = None
    url: str = ""
    log: list[Entry] = field(default_factory=list)
    forwarded: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def reset(self, *, rate: float | None = None, seed: int | None = None) -> None:
        with self.lock:
            self.rate = self.rate if rate is None else rate
            self.rng = random.Random(self.seed if seed is None else seed)
            self.log.clear()
            self.forwarded = 0
            self.on_applied = None

    def faults(self, phase: str | None = None) -> list[Fault]:
        return [e.fault for e in self.log if e.fault and (phase is None or e.fault.phase == phase)]

    def draw(self) -> Fault | None:
        """The fault for the next request, or None: one RNG sequence, in request order."""
        if self.rate <= 0 or self.rng.random() >= self.rate:
            return None
        choices = list(self.mix)
        kind, phase = self.rng.choices(choices, weights=[self.mix[c] for c in choices])[0]
        return Fault(kind, phase, self.rng.choice(self.retry_after) if kind == "429" else "")

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Any:
        target = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=60)
        try:
            # the client's own Host header goes upstream unchanged: WooCommerce's OAuth
            # signature covers the URL the client signed, which is the proxy's
            conn.request(method, path, body=body or None, headers=headers)
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            conn.close()


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
            with contextlib.suppress(OSError):
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        def _fault(self, fault: Fault) -> None:
            if fault.kind == "stall":
                time.sleep(proxy.stall_seconds)
                drop(self, rst=False)
            elif fault.kind == "reset":
                drop(self, rst=True)
            else:
                headers = [("Content-Type", "application/json")]
                if fault.kind == "429":
                    headers.append(("Retry-After", fault.retry_after))
                body = b'{"errors": [{"code": "INJECTED", "detail": "injected fault"}]}'
                self._reply(int(fault.kind), headers, body)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if len(body) < length:  # the client died while sending it: nothing to forward
                return drop(self, rst=True)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            entry = Entry(self.command, self.path)
            with proxy.lock:
                proxy.log.append(entry)
                entry.fault = fault = proxy.draw()
            if fault and fault.phase == "before":
                return self._fault(fault)
            status, up_headers, data = proxy.forward(self.command, self.path, headers, body)
            entry.forwarded, entry.upstream_status, entry.upstream_body = True, status, data
            with proxy.lock:
                proxy.forwarded += 1
                n = proxy.forwarded
            if proxy.on_applied is not None and proxy.on_applied(n, entry):
                return self._drop(rst=True)
            if fault:
                return self._fault(fault)
            self._reply(status, up_headers, data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    resets: set[int]

    def shutdown_request(self, request: Any) -> None:
        if request.fileno() in self.resets:  # no polite shutdown(SHUT_WR): that would send FIN
            self.resets.discard(request.fileno())
            return self.close_request(request)
        return super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeout) or was killed is what these tests want


@contextlib.contextmanager
def serve_proxy(upstream: str, **options: Any) -> Iterator[FaultProxy]:
    """A FaultProxy in front of ``upstream`` on 127.0.0.1 (a free port) while the block runs."""
    proxy = FaultProxy(upstream, **options)
    httpd = _Server(("127.0.0.1", 0), _handler(proxy))
    httpd.resets = set()
    with running(httpd) as url:
        proxy.url = url
        yield proxy
