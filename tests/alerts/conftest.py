"""Fixtures for the alert tests: a real SMTP server (aiosmtpd) and a webhook receiver that
checks the signature, both on loopback ports, and a demo workspace whose channels.yaml sends
its alerts to them."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Result, run_cli

WEBHOOK_SECRET = "whsec-0f1e2d3c4b5a69788796a5b4"
SMTP_PASSWORD = "smtp-pw-9c8b7a6f5e4d"
ENV = {"ALERT_WEBHOOK_SECRET": WEBHOOK_SECRET, "SMTP_PASSWORD": SMTP_PASSWORD}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mailbox:
    """What the SMTP server received; set ``fail`` to an SMTP answer to refuse messages."""

    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    fail: str | None = None
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.fail:
            return self.fail
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 OK"

    def bodies(self) -> list[str]:
        return [m.get_content() for m in self.messages]  # type: ignore[attr-defined]


def start_smtp(mailbox: Mailbox, **options: Any) -> Any:
    from aiosmtpd.controller import Controller

    mailbox.port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port, **options)
    controller.start()
    return controller


@pytest.fixture
def smtp() -> Iterator[Mailbox]:
    """A real SMTP server on a free loopback port."""
    mailbox = Mailbox()
    controller = start_smtp(mailbox)
    try:
        yield mailbox
    finally:
        controller.stop()


@dataclass
class Receiver:
    """What the webhook receiver was sent; ``status`` is what it answers."""

    url: str = ""
    status: int = 200
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def payloads(self) -> list[dict[str, Any]]:
        return [r["json"] for r in self.requests]


@pytest.fixture
def webhook() -> Iterator[Receiver]:
    """A local HTTP receiver that checks the HMAC-SHA256 signature of every body with
    WEBHOOK_SECRET (a bad or missing one is answered 401, like a real receiver would)."""
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            expected = (
                "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
            )
            given = self.headers.get("X-Multichan-Signature", "")
            valid = hmac.compare_digest(given, expected)
            receiver.requests.append(
                {"json": json.loads(body), "headers": dict(self.headers), "valid": valid}
            )
            status = receiver.status if valid else 401
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/multichan"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def alerts_yaml(smtp_port: int | None, webhook_url: str | None, *, below: int = 3,
                email_extra: str = "") -> str:  # fmt: skip
    text = f"alerts:\n  low_stock_below: {below}\n"
    if smtp_port is not None:
        text += (
            f"  email:\n    smtp_url: smtp://127.0.0.1:{smtp_port}\n"
            "    from: shop@example.com\n    to: [owner@example.com]\n    timeout: 5\n"
            + email_extra
        )
    if webhook_url is not None:
        text += (
            f"  webhook:\n    url: {webhook_url}\n    secret: ${{ALERT_WEBHOOK_SECRET}}\n"
            "    timeout: 5\n"
        )
    return text


@dataclass
class Shop:
    """The demo workspace with alerts sent to the test's SMTP server and receiver."""

    ws: Path
    smtp: Mailbox
    webhook: Receiver
    base: str

    def configure(self, alerts: str) -> None:
        (self.ws / "channels.yaml").write_text(self.base + alerts, encoding="utf-8")

    def cli(self, *args: str) -> Result:
        return run_cli("-w", self.ws, *args, env=ENV)

    def send(self) -> Result:
        return self.cli("alerts", "--send")

    def low_now(self) -> dict[str, Any]:
        result = self.cli("alerts", "--json")
        assert result.code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture
def shop(demo: Path, smtp: Mailbox, webhook: Receiver) -> Shop:
    base = (demo / "channels.yaml").read_text(encoding="utf-8")
    found = Shop(demo, smtp, webhook, base)
    found.configure(alerts_yaml(smtp.port, webhook.url))
    return found


@pytest.fixture
def told(shop: Shop) -> Shop:
    """The shop after its first send, which reported what the demo has low already; the
    server and receiver start empty."""
    first = shop.send()
    assert first.code == 0, first.output
    assert len(shop.smtp.messages) == 1 and len(shop.webhook.requests) == 1
    shop.smtp.messages.clear()
    shop.webhook.requests.clear()
    return shop
