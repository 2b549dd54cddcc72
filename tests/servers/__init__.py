"""Test servers for channel modules, each written from its vendor's documented contract
(``../shared/specs/<channel>/``), independently of the channel module it tests."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from typing import Any, TypeVar

D = TypeVar("D")


@contextmanager
def running(httpd: HTTPServer) -> Iterator[str]:
    """Serve ``httpd`` from a thread and yield its base URL; shut it down afterwards."""
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


class QuietServer(ThreadingHTTPServer):
    """A threaded test server that says nothing of a client hanging up mid-request (a client
    that timed out, a push killed with SIGKILL: what many tests do on purpose)."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@contextmanager
def serve(double: D, handler: Callable[[D], type[BaseHTTPRequestHandler]]) -> Iterator[D]:
    """``double`` answering on 127.0.0.1 through ``handler(double)`` until the block ends,
    its ``url`` set."""
    httpd = QuietServer(("127.0.0.1", 0), handler(double))
    with running(httpd) as url:
        double.url = url  # type: ignore[attr-defined]
        yield double


def drop(handler: BaseHTTPRequestHandler, rst: bool) -> None:
    """End ``handler``'s connection without an answer: a TCP RST (``rst``: SO_LINGER 0 and no
    FIN first, and the server's ``resets`` set records it) or a clean shutdown."""
    handler.close_connection = True
    if rst:
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.server.resets.add(handler.connection.fileno())  # type: ignore[attr-defined]
    else:
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet request handler that answers JSON (and tolerates a client that hung up)."""

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
