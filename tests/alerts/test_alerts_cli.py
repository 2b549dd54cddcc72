"""Low-stock alerts as a seller sees them: one email and one signed webhook when a SKU crosses
its threshold, nothing on the next run, "back in stock" when it recovers, an oversell at once,
a failed route sent again by the next run, and channels.yaml mistakes named with their line."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from multichan.catalog import ledger
from multichan.catalog.schema import open_catalog
from tests.alerts.conftest import (
    ENV,
    SMTP_PASSWORD,
    WEBHOOK_SECRET,
    Mailbox,
    Shop,
    alerts_yaml,
    free_port,
    start_smtp,
)
from tests.conftest import run_cli, run_subprocess


def email_state(ws: Path) -> list[tuple[str, str, str, str]]:
    with sqlite3.connect(ws / "catalog.db") as con:
        return con.execute(
            "SELECT route, sku, location, state FROM alert_state ORDER BY route, sku"
        ).fetchall()


def sell(ws: Path, sku: str, units: int, *, days_ago: float, location: str = "warehouse",
         status: str = "open", order_id: str | None = None) -> None:  # fmt: skip
    """An order as a pull records it: open orders commit their units at ``location``."""
    created = datetime.now(UTC) - timedelta(days=days_ago)
    stamp = created.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    order_id = order_id or f"{sku}-{days_ago}-{units}"
    db = open_catalog(ws / "catalog.db")
    try:
        with db.conn:
            db.conn.execute(
                "INSERT INTO orders (channel, order_id, number, status, channel_status,"
                " created_at, updated_at, first_seen_at, last_seen_at)"
                " VALUES ('shop', ?, ?, ?, 'PAID', ?, ?, ?, ?)",
                [order_id, f"#{order_id}", status, stamp, stamp, stamp, stamp],
            )
            committed = units if status == "open" else 0
            db.conn.execute(
                "INSERT INTO order_lines (channel, order_id, line_id, channel_sku, ordered,"
                " unshipped, sku, location, committed_applied)"
                " VALUES ('shop', ?, '1', ?, ?, ?, ?, ?, ?)",
                [order_id, sku, units, units, sku, location, committed],
            )
            if committed:
                ledger.move(db, sku, location, reason="order", committed=committed,
                            channel="shop", order_id=order_id, line_id="1")  # fmt: skip
    finally:
        db.close()


def test_a_sku_crossing_its_threshold_sends_one_email_and_one_signed_webhook(told: Shop) -> None:
    # LANTERN-LED: 3 in the store, 20 in the warehouse; the default threshold is 3
    assert told.cli("stock", "set", "LANTERN-LED", "0", "--location", "warehouse").code == 0
    assert told.cli("stock", "set", "LANTERN-LED", "2", "--location", "store").code == 0
    result = told.send()
    assert result.code == 0, result.output
    assert "alerts: email to 127.0.0.1" in result.stdout and "sent 1 change(s)" in result.stdout

    [mail] = told.smtp.messages
    assert mail["Subject"] == "Northwind Outfitters stock: 1 low"
    assert mail["To"] == "owner@example.com" and mail["From"] == "shop@example.com"
    body = mail.get_content()  # type: ignore[attr-defined]
    assert "Low stock (1)" in body
    assert "LANTERN-LED (Rechargeable LED Lantern): 2 available, threshold 3" in body
    assert "by location: store 2, warehouse 0" in body

    [hook] = told.webhook.requests
    assert hook["valid"], "the signature is the HMAC-SHA256 of the body with the secret"
    assert hook["headers"]["X-Multichan-Signature"].startswith("sha256=")
    payload = hook["json"]
    assert payload["event"] == "stock_alerts" and payload["test"] is False
    assert payload["counts"] == {"oversold": 0, "out": 0, "low": 1, "back_in_stock": 0}
    [item] = payload["items"]
    assert item["sku"] == "LANTERN-LED" and item["alert"] == "low" and item["previous"] == "ok"
    assert item["available"] == 2 and item["locations"] == {"store": 2, "warehouse": 0}
    assert item["location"] is None and item["low_stock_below"] == 3

    # the second run: nothing changed, nothing sent
    again = told.send()
    assert again.code == 0 and "nothing changed since the last message" in again.stdout
    assert len(told.smtp.messages) == 1 and len(told.webhook.requests) == 1

    # falling further to 0 is news (out of stock); a recovery is "back in stock"
    assert told.cli("stock", "set", "LANTERN-LED", "0", "--location", "store").code == 0
    assert told.send().code == 0
    assert told.smtp.messages[-1]["Subject"] == "Northwind Outfitters stock: 1 out of stock"
    assert told.cli("stock", "set", "LANTERN-LED", "12", "--location", "warehouse").code == 0
    assert told.send().code == 0
    assert told.smtp.messages[-1]["Subject"] == "Northwind Outfitters stock: 1 back in stock"
    assert "Back in stock (1)" in told.smtp.bodies()[-1]
    last = told.webhook.payloads[-1]["items"]
    assert [(i["sku"], i["alert"], i["previous"]) for i in last] == [
        ("LANTERN-LED", "back_in_stock", "out")
    ]
    assert all(r["valid"] for r in told.webhook.requests)
    assert len(told.smtp.messages) == len(told.webhook.requests) == 3
    assert told.send().code == 0 and len(told.smtp.messages) == 3  # and quiet again


def test_the_first_send_reports_what_is_low_already_in_one_message(shop: Shop) -> None:
    result = shop.send()
    assert result.code == 0, result.output
    [mail] = shop.smtp.messages
    assert mail["Subject"] == "Northwind Outfitters stock: 4 out of stock, 3 low"
    body = mail.get_content()  # type: ignore[attr-defined]
    assert body.index("Out of stock (4)") < body.index("Low stock (3)")
    assert "KNIFE-FOLD" in body and "SOCK-HIKE-OLI-S" in body
    assert "GIFT-CARD-50" not in body  # a draft is never alerted
    [payload] = shop.webhook.payloads
    assert payload["total"] == payload["listed"] == 7


def test_an_oversold_sku_is_alerted_at_once_with_its_recent_sales(told: Shop) -> None:
    # MUG-ENAMEL: 12 in the store, 40 in the warehouse; orders take 41 from the warehouse
    sell(told.ws, "MUG-ENAMEL", 30, days_ago=2)
    sell(told.ws, "MUG-ENAMEL", 11, days_ago=5)
    sell(told.ws, "MUG-ENAMEL", 500, days_ago=12, status="closed")  # too old to count
    sell(told.ws, "MUG-ENAMEL", 99, days_ago=1, status="cancelled")  # sold nothing
    result = told.send()
    assert result.code == 0, result.output
    [mail] = told.smtp.messages
    assert mail["Subject"] == "Northwind Outfitters stock: 1 oversold"
    body = mail.get_content()  # type: ignore[attr-defined]
    assert "Oversold: orders hold more than is available (1)" in body
    assert "MUG-ENAMEL (Enamel Camp Mug 350 ml): 11 available" in body
    assert "by location: store 12, warehouse -1" in body
    assert "sold 5.86 a day (41 in the last 7 days)" in body
    [item] = told.webhook.payloads[0]["items"]
    assert item["alert"] == "oversold" and item["sold_last_7_days"] == 41
    assert item["sold_per_day"] == 5.86 and item["locations"]["warehouse"] == -1


def test_a_failing_smtp_server_is_exit_5_and_the_next_run_sends_it(told: Shop) -> None:
    told.smtp.fail = "451 4.3.0 Mailbox temporarily unavailable"
    assert told.cli("stock", "set", "LANTERN-LED", "0", "--location", "warehouse").code == 0
    assert told.cli("stock", "set", "LANTERN-LED", "1", "--location", "store").code == 0
    failed = told.send()
    assert failed.code == 5, failed.output
    assert (f"alerts: email failed: email to 127.0.0.1:{told.smtp.port} failed: the server "
            "answered 451 4.3.0 Mailbox temporarily unavailable") in failed.stderr  # fmt: skip
    assert "the failed route keeps its state" in failed.stderr
    assert told.smtp.messages == [] and len(told.webhook.requests) == 1  # the webhook took it
    routes = {(r, s) for r, s, _, state in email_state(told.ws) if state == "low"}
    assert ("webhook", "LANTERN-LED") in routes and ("email", "LANTERN-LED") not in routes
    assert told.low_now()["pending"] == 1

    still = told.send()  # still failing: the same again, the webhook is not sent it twice
    assert still.code == 5 and len(told.webhook.requests) == 1

    told.smtp.fail = None
    recovered = told.send()
    assert recovered.code == 0, recovered.output
    [mail] = told.smtp.messages
    assert mail["Subject"] == "Northwind Outfitters stock: 1 low" and "LANTERN-LED" in str(
        mail.get_content()  # type: ignore[attr-defined]
    )
    assert len(told.webhook.requests) == 1
    assert told.low_now()["pending"] == 0
    assert told.send().code == 0 and len(told.smtp.messages) == 1


def test_an_smtp_server_that_is_down_is_exit_5_in_json_too(shop: Shop) -> None:
    shop.configure(alerts_yaml(free_port(), None))
    result = shop.cli("alerts", "--send", "--json")
    body = json.loads(result.stdout)
    assert result.code == body["exit_code"] == 5
    [delivery] = body["deliveries"]
    assert delivery["status"] == "failed" and "connection refused" in delivery["message"]
    assert email_state(shop.ws) == []


def test_a_webhook_answering_an_error_is_exit_5_and_sent_again(shop: Shop) -> None:
    shop.configure(alerts_yaml(None, shop.webhook.url))
    shop.webhook.status = 500
    failed = shop.send()
    assert failed.code == 5
    assert "alerts: webhook failed: webhook http://127.0.0.1:" in failed.stderr
    assert "answered HTTP 500" in failed.stderr and "/hooks/multichan" not in failed.output
    shop.webhook.status = 204
    assert shop.send().code == 0
    assert len(shop.webhook.requests) == 2
    assert shop.webhook.payloads[0] == {
        **shop.webhook.payloads[1],
        "at": shop.webhook.payloads[0]["at"],
    }
    assert shop.send().code == 0 and len(shop.webhook.requests) == 2


def test_a_wrong_signature_secret_is_refused_by_the_receiver(shop: Shop) -> None:
    result = run_cli("-w", shop.ws, "alerts", "--send", env={**ENV, "ALERT_WEBHOOK_SECRET": "x"})
    assert result.code == 5 and "answered HTTP 401" in result.stderr
    assert shop.webhook.requests and not shop.webhook.requests[0]["valid"]


def test_test_sends_a_sample_and_changes_no_state(shop: Shop) -> None:
    before = shop.low_now()
    result = shop.cli("alerts", "--test")
    assert result.code == 0, result.output
    assert "alerts: email to 127.0.0.1" in result.stdout and "sent sample" in result.stdout
    [mail] = shop.smtp.messages
    assert mail["Subject"] == "[test] Northwind Outfitters stock: 1 low"
    assert "A test message from 'multichan alerts --test'" in mail.get_content()  # type: ignore[attr-defined]
    [hook] = shop.webhook.requests
    assert hook["valid"] and hook["json"]["test"] is True
    assert hook["headers"]["X-Multichan-Event"] == "test"
    assert shop.low_now() == before and email_state(shop.ws) == []


def test_alerts_json_shows_what_is_low_now_and_sends_nothing(told: Shop) -> None:
    assert told.cli("stock", "set", "LANTERN-LED", "0", "--location", "warehouse").code == 0
    assert told.cli("stock", "adjust", "LANTERN-LED", "-1", "--location", "store").code == 0
    now = told.low_now()
    assert now["mode"] == "show" and now["exit_code"] == 0 and now["pending"] == 1
    by_sku = {i["sku"]: i for i in now["items"]}
    assert by_sku["LANTERN-LED"]["state"] == "low" and by_sku["LANTERN-LED"]["notified"] is False
    assert by_sku["KNIFE-FOLD"]["state"] == "out" and by_sku["KNIFE-FOLD"]["notified"] is True
    assert "GIFT-CARD-50" not in by_sku
    assert now["counts"] == {"low": 4, "out": 4}
    table = told.cli("alerts")
    assert table.code == 0 and "LANTERN-LED" in table.stdout and "not yet" in table.stdout
    assert "1 change(s) not sent yet: multichan alerts --send" in table.stderr
    assert told.smtp.messages == [] and told.webhook.requests == []


def test_thresholds_per_sku_and_per_location(told: Shop) -> None:
    set_ = told.cli("alerts", "threshold", "MUG-ENAMEL", "60")  # 52 available in all
    assert set_.code == 0 and set_.stdout.strip() == "MUG-ENAMEL: the default -> below 60"
    store = told.cli("alerts", "threshold", "LANTERN-LED", "5", "--location", "store")
    assert store.code == 0 and "LANTERN-LED at store: the default -> below 5" in store.stdout
    assert told.cli("alerts", "threshold", "KNIFE-FOLD", "0").code == 0  # never alert it
    assert told.send().code == 0
    [payload] = told.webhook.payloads
    found = {(i["sku"], i["location"]): i for i in payload["items"]}
    assert set(found) == {("MUG-ENAMEL", None), ("LANTERN-LED", "store")}
    assert found["MUG-ENAMEL", None]["low_stock_below"] == 60
    assert found["LANTERN-LED", "store"]["available"] == 3  # its 20 in the warehouse aside
    assert "KNIFE-FOLD" not in {i["sku"] for i in told.low_now()["items"]}

    cleared = told.cli("alerts", "threshold", "LANTERN-LED", "--clear", "-l", "store", "--json")
    assert cleared.code == 0
    assert json.loads(cleared.stdout) == {"exit_code": 0, "sku": "LANTERN-LED",
                                          "location": "store", "old": 5, "new": None}  # fmt: skip
    assert ("LANTERN-LED", "store") not in {
        (i["sku"], i["location"]) for i in told.low_now()["items"]
    }
    unknown = told.cli("alerts", "threshold", "NOPE", "3")
    assert unknown.code == 2 and "no product with SKU 'NOPE'" in unknown.stderr
    nowhere = told.cli("alerts", "threshold", "MUG-ENAMEL", "3", "--location", "attic")
    assert nowhere.code == 2 and "no location 'attic'" in nowhere.stderr
    assert told.cli("alerts", "threshold", "MUG-ENAMEL").code == 2
    assert told.cli("alerts", "threshold", "MUG-ENAMEL", "-1").code == 2


def test_a_bad_alerts_key_is_exit_3_with_its_line(shop: Shop) -> None:
    shop.configure("alerts:\n  low_stock_below: 3\n  emial:\n    smtp_url: smtp://x\n")
    line = shop.base.count("\n") + 3
    result = shop.cli("alerts")
    assert result.code == 3
    assert f"channels.yaml:{line}: unknown key 'alerts.emial'; did you mean 'email'?" in (
        result.stderr
    )
    shop.configure(
        "alerts:\n  low_stock_below: few\n  email:\n"
        "    smtp_url: smtp://shop:hunter2@mail.example.com\n    to: []\n"
        "  webhook:\n    url: ftp://hooks.example.com\n    secret: plain-secret\n"
    )
    result = shop.cli("alerts", "--send")
    assert result.code == 3
    base = shop.base.count("\n")
    for expected in (
        f"channels.yaml:{base + 2}: alerts.low_stock_below must be a whole number >= 0",
        f"channels.yaml:{base + 4}: alerts.email.smtp_url must not hold a user or password",
        f"channels.yaml:{base + 3}: alerts.email.from is required",
        f"channels.yaml:{base + 3}: alerts.email.to is required",
        f"channels.yaml:{base + 8}: alerts.webhook.secret must name an environment variable",
    ):
        assert expected in result.stderr, result.stderr
    assert "hunter2" not in result.output and "plain-secret" not in result.output
    shop.configure(
        "alerts:\n  email:\n    smtp_url: smtps://mail.example.com\n    starttls: true\n"
        "    from: shop@example.com\n    to: owner@example.com\n"
    )
    result = shop.cli("alerts")
    assert result.code == 3 and "alerts.email.starttls is for smtp://" in result.stderr


def test_send_without_a_route_is_a_config_error(shop: Shop) -> None:
    shop.configure("")
    result = shop.cli("alerts", "--send")
    assert result.code == 3 and "alerts has no email or webhook to send to" in result.stderr
    shop.configure("alerts:\n  low_stock_below: 1\n")
    result = shop.cli("alerts", "--test")
    assert result.code == 3 and "alerts has no email or webhook to send to" in result.stderr
    look = shop.cli("alerts", "--json")  # looking needs no route
    assert look.code == 0 and json.loads(look.stdout)["counts"] == {"out": 4}
    assert shop.cli("alerts", "--send", "--test").code == 2


def test_secrets_never_appear_in_output_or_the_catalog(shop: Shop) -> None:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    logins: list[tuple[str, str]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        assert isinstance(auth_data, LoginPassword)
        login = (auth_data.login.decode(), auth_data.password.decode())
        logins.append(login)
        return AuthResult(success=login == ("shop", SMTP_PASSWORD), handled=False)

    mailbox = Mailbox()
    controller = start_smtp(mailbox, authenticator=authenticator, auth_require_tls=False)
    try:
        login = "    username: shop\n    password: ${SMTP_PASSWORD}\n"
        shop.configure(alerts_yaml(mailbox.port, shop.webhook.url, email_extra=login))
        for args in (("alerts", "--test"), ("alerts", "--send", "--json"), ("alerts",)):
            result = shop.cli(*args)
            assert result.code == 0, result.output
            assert SMTP_PASSWORD not in result.output and WEBHOOK_SECRET not in result.output
        assert logins[-1] == ("shop", SMTP_PASSWORD) and len(mailbox.messages) == 2
        catalog = b"".join(p.read_bytes() for p in shop.ws.glob("catalog.db*"))
        assert SMTP_PASSWORD.encode() not in catalog and WEBHOOK_SECRET.encode() not in catalog
        sent = "".join(m.as_string() for m in mailbox.messages)
        assert SMTP_PASSWORD not in sent and WEBHOOK_SECRET not in sent

        wrong = run_cli("-w", shop.ws, "alerts", "--test", env={**ENV, "SMTP_PASSWORD": "nope-x"})
        assert wrong.code == 5 and "the server refused the login of 'shop'" in wrong.stderr
        assert "nope-x" not in wrong.output
        unset = run_cli(
            "-w", shop.ws, "alerts", "--test", env={"ALERT_WEBHOOK_SECRET": WEBHOOK_SECRET}
        )
        assert unset.code == 3 and "environment variable SMTP_PASSWORD is not set" in unset.stderr
    finally:
        controller.stop()


def test_starttls_and_smtps_against_a_plain_server_fail_clearly(shop: Shop) -> None:
    shop.configure(alerts_yaml(shop.smtp.port, None, email_extra="    starttls: true\n"))
    result = shop.cli("alerts", "--send")
    assert result.code == 5 and "STARTTLS extension not supported by server" in result.stderr
    shop.configure(alerts_yaml(shop.smtp.port, None).replace("smtp://", "smtps://"))
    result = shop.cli("alerts", "--send")
    assert result.code == 5 and "TLS failed" in result.stderr
    assert shop.smtp.messages == [] and email_state(shop.ws) == []


def test_alerts_send_runs_from_cron(shop: Shop) -> None:
    result = run_subprocess("-w", shop.ws, "alerts", "--send", env=ENV)
    assert result.code == 0, result.output
    assert "sent 7 change(s)" in result.stdout and "\x1b[" not in result.output
    assert len(shop.smtp.messages) == 1
    again = run_subprocess("-w", shop.ws, "alerts", "--send", env=ENV)
    assert again.code == 0 and len(shop.smtp.messages) == 1


@pytest.mark.parametrize("route", ["email", "webhook"])
def test_run_alerts_reports_a_failure_without_raising(
    shop: Shop, route: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What pull and sync call at their end, with the catalog they hold the lock on."""
    from multichan.alerts import run_alerts
    from multichan.feeds.run import load_config
    from multichan.workspace import Workspace

    if route == "email":
        shop.configure(alerts_yaml(free_port(), None))
    else:
        shop.configure(alerts_yaml(None, shop.webhook.url))
        shop.webhook.status = 503
    monkeypatch.setenv("ALERT_WEBHOOK_SECRET", WEBHOOK_SECRET)
    ws = Workspace(shop.ws)
    config = load_config(ws)
    db = ws.db()
    try:
        result = run_alerts(db, config, send=True)
    finally:
        db.close()
    assert result.exit_code == 5 and result.failed[0].route == route
    assert result.as_dict()["counts"] == {"low": 3, "out": 4}
    assert email_state(shop.ws) == []
    off = run_alerts(ws, type(config)(config.path, config.shop), send=True)  # no alerts:
    assert off.mode == "off" and off.exit_code == 0


def test_starttls_and_smtps_send_over_a_verified_tls_connection(shop: Shop, tmp_path: Path) -> None:
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
         cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    trusted = {**ENV, "SSL_CERT_FILE": str(cert)}  # the system trust store plus this one
    for scheme, options, extra in (
        ("smtp", {"tls_context": context, "require_starttls": True}, "    starttls: true\n"),
        ("smtps", {"ssl_context": context}, ""),
    ):
        mailbox = Mailbox()
        controller = start_smtp(mailbox, **options)
        try:
            text = alerts_yaml(mailbox.port, None, email_extra=extra)
            shop.configure(text.replace("smtp://", f"{scheme}://"))
            untrusted = shop.cli("alerts", "--test")
            assert untrusted.code == 5 and "TLS failed" in untrusted.stderr, untrusted.output
            result = run_cli("-w", shop.ws, "alerts", "--test", env=trusted)
            assert result.code == 0, result.output
            [mail] = mailbox.messages
            assert mail["Subject"].startswith("[test] ")
        finally:
            controller.stop()


def test_a_held_lock_is_exit_7_and_sends_nothing(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    from multichan.alerts import run_alerts
    from multichan.feeds.run import load_config
    from multichan.workspace import Workspace

    monkeypatch.setenv("MULTICHAN_LOCK_TIMEOUT", "0")
    ws = Workspace(shop.ws)
    with ws.lock():
        result = run_alerts(ws, load_config(ws), send=True)  # as pull and sync call it
        cli = run_cli("-w", shop.ws, "alerts", "--send", env={**ENV, "MULTICHAN_LOCK_TIMEOUT": "0"})
    assert result.exit_code == 7 and "another multichan run holds the lock" in str(result.error)
    assert cli.code == 7 and "alerts: not sent" in cli.stderr
    assert shop.smtp.messages == [] and shop.webhook.requests == []
    assert shop.send().code == 0 and len(shop.smtp.messages) == 1


def test_a_sku_whose_stock_is_not_counted_raises_no_alert(told: Shop) -> None:
    """An untracked SKU (the shop does not count it) is always in stock: never low, out or
    oversold, whatever its count says."""
    before = {i["sku"]: i["state"] for i in told.low_now()["items"]}
    assert before["KNIFE-FOLD"] == "out"
    assert told.cli("catalog", "set", "KNIFE-FOLD", "stock_tracking=untracked").code == 0
    assert told.cli("stock", "adjust", "KNIFE-FOLD", "-2", "--location", "store").code == 0
    after = {i["sku"]: i["state"] for i in told.low_now()["items"]}
    assert "KNIFE-FOLD" not in after


def test_a_send_looks_at_what_changed_but_a_new_threshold_looks_at_everything(
    told: Shop,
) -> None:
    """A send after the first evaluates only the SKUs written since the last complete send
    (their stock is the only thing that moves a state); a new default threshold is news
    for every SKU it makes low, though none of them was written."""
    import sqlite3

    with sqlite3.connect(told.ws / "catalog.db") as conn:
        assert conn.execute("SELECT seq FROM plan_marks WHERE channel = '(alerts)'").fetchone()
    assert told.send().code == 0 and told.smtp.messages == []
    told.configure(alerts_yaml(told.smtp.port, told.webhook.url, below=60))
    assert told.send().code == 0
    [mail] = told.smtp.messages
    assert "MUG-ENAMEL" in mail.get_content()  # 52 available: low only under the new 60
