"""Test servers for channel modules, each written from its vendor's documented contract
(``../shared/specs/<channel>/``), independently of the channel module it tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import HTTPServer


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
