"""Low-stock alerts: which SKUs are low, out of stock or oversold, what each route (email,
webhook) was last told about them, and one message per route and run for what changed.

Per active SKU, *available* (on hand - committed) summed over its locations is compared with
its threshold: ``products.low_stock_below``, else channels.yaml's ``alerts.low_stock_below``.
A SKU given a threshold at one location (``alert_thresholds``) is compared there too. States,
worst first: ``oversold`` (a location's available is below 0: orders hold units that are not
there), ``out`` (0 or less), ``low`` (below the threshold), ``ok``. A threshold of 0 turns a
SKU's low and out alerts off; an oversell is always reported. Draft and archived SKUs are not
alerted. A bundle's levels are its components' (``catalog.bundles``: the whole sets they make
at each location), compared with its own threshold; thresholds at one location are not used
for bundles (set them on the components).

One SQL pass over the catalog computes every state and compares it with ``alert_state`` (what
each route was told; no row is ``ok``), keeping only the SKUs whose state changed for some
route in a temporary table: a million SKUs are never loaded, and an unchanged catalog costs
one scan. Each route gets one message listing its changes (the first ``LISTED``, with counts of
all), each with available per location and the units sold in the last 7 days. A route's state
moves forward in one transaction after that route took the message; a route that failed keeps
its state, so the next run sends it again, and a route that succeeded is not sent it twice.

Email goes through the standard library (``smtp://``, ``smtps://``, STARTTLS), the webhook is
a JSON POST signed with ``X-Multichan-Signature: sha256=<HMAC-SHA256 of the body>``. Secrets
are read from the environment when sending and never appear in a message or the catalog.
Nothing here prints.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import socket
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import sqlite_utils

from multichan import __version__
from multichan.catalog import bundles
from multichan.catalog.schema import transaction
from multichan.config import AlertEmail, Alerts, AlertWebhook, Config
from multichan.errors import ChannelFailed, MultichanError, NotFound, UsageError, worst
from multichan.sync import changes
from multichan.workspace import Workspace

ROUTES = ("email", "webhook")
ALERTS_MARK = "(alerts)"  # the alerts' row of plan_marks: what the last complete send covered
ALL = "*"  # alert_state.location of a SKU's total over all its locations
SEVERITY = ("oversold", "out", "low", "ok")
LISTED = 1000  # items one message lists; its counts cover every change
SALES_DAYS = 7
CHUNK = 500
SIGNATURE_HEADER = "X-Multichan-Signature"
HEADINGS = {
    "oversold": "Oversold: orders hold more than is available",
    "out": "Out of stock",
    "low": "Low stock",
    "ok": "Back in stock",
}
LABELS = {"oversold": "oversold", "out": "out of stock", "low": "low", "ok": "back in stock"}

# every alerted level: a SKU's total over its locations, and each threshold set at a location.
# ``+p.status``: walk products in SKU order (no sort for the GROUP BY), not by the status index
LEVELS = """
SELECT p.sku AS sku, '*' AS location, COALESCE(p.low_stock_below, {below}) AS below,
       COALESCE(SUM(s.quantity - s.committed), 0) AS available,
       COALESCE(MIN(s.quantity - s.committed), 0) AS lowest
FROM products p LEFT JOIN stock s ON s.sku = p.sku
WHERE +p.status = 'active' AND p.stock_tracking != 'untracked'
  AND p.sku NOT IN (SELECT bundle FROM bundle_components)
GROUP BY p.sku
UNION ALL
SELECT t.sku, t.location, t.low_stock_below,
       COALESCE(s.quantity - s.committed, 0), COALESCE(s.quantity - s.committed, 0)
FROM alert_thresholds t
JOIN products p ON p.sku = t.sku AND p.status = 'active' AND p.stock_tracking != 'untracked'
LEFT JOIN stock s ON s.sku = t.sku AND s.location = t.location
WHERE t.sku NOT IN (SELECT bundle FROM bundle_components)
UNION ALL
SELECT p.sku, '*', COALESCE(p.low_stock_below, {below}), COALESCE(SUM(b.available), 0),
       COALESCE(MIN(b.available), 0)
FROM products p LEFT JOIN ({bundle_levels}) b ON b.sku = p.sku
WHERE p.sku IN (SELECT bundle FROM bundle_components)
  AND p.status = 'active' AND p.stock_tracking != 'untracked'
GROUP BY p.sku
"""
# a bundle's available units per location (multichan.catalog.bundles): the whole sets its
# components make there, floor((on hand - committed) / quantity) at the fewest
BUNDLE_LEVELS = """
SELECT c.bundle AS sku, x.location AS location,
       MIN((COALESCE(s.quantity - s.committed, 0)
            - (COALESCE(s.quantity - s.committed, 0) % c.quantity + c.quantity) % c.quantity)
           / c.quantity) AS available
FROM bundle_components c
JOIN (SELECT DISTINCT k.bundle, t.location FROM bundle_components k
      JOIN stock t ON t.sku = k.component) x ON x.bundle = c.bundle
LEFT JOIN stock s ON s.sku = c.component AND s.location = x.location
GROUP BY c.bundle, x.location
"""
WAS = (
    "(SELECT a.state FROM alert_state a WHERE a.sku = l.sku AND a.location = l.location"
    " AND a.route = '{route}') AS was_{route}"
)
STATES = """
SELECT sku, location, below, available,
       CASE WHEN lowest < 0 THEN 'oversold' WHEN available <= 0 THEN 'out'
            WHEN available < below THEN 'low' ELSE 'ok' END AS state,
       {was}
FROM ({levels}) l
WHERE below > 0 OR lowest < 0
"""
ORDER = (
    "CASE state WHEN 'oversold' THEN 0 WHEN 'out' THEN 1 WHEN 'low' THEN 2 ELSE 3 END,"
    " sku, location"
)


def states_sql(alerts: Alerts, since: int | None = None) -> str:
    """Every alerted level's state now, with what each route was last told (NULL: ok); with
    ``since``, only of the SKUs stamped after it (``multichan.sync.changes``)."""
    below = int(alerts.low_stock_below)  # validated as a whole number: safe to inline
    was = ",\n       ".join(WAS.format(route=r) for r in ROUTES)
    levels = LEVELS.format(below=below, bundle_levels=BUNDLE_LEVELS)
    if since is not None:  # an int from the catalog: safe to inline
        only = f"AND p.sku IN (SELECT sku FROM dirty_skus WHERE seq > {int(since)})"
        levels = levels.replace("AND p.stock_tracking != 'untracked'",
                                f"AND p.stock_tracking != 'untracked' {only}")  # fmt: skip
    return STATES.format(was=was, levels=levels)


def changed(route: str) -> str:
    return f"state != COALESCE(was_{route}, 'ok')"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class AlertItem:
    """One SKU (or one SKU at one location) in a state worth telling, with what was said."""

    sku: str
    location: str  # ALL, or the location its own threshold is for
    state: str
    was: str
    available: int
    below: int
    title: str = ""
    locations: dict[str, int] = field(default_factory=dict)  # available per location
    sold: int = 0  # units ordered in the last SALES_DAYS days
    told: bool = False  # every route was told this state

    @property
    def alert(self) -> str:
        return "back_in_stock" if self.state == "ok" else self.state

    @property
    def per_day(self) -> float:
        return round(self.sold / SALES_DAYS, 2)

    def line(self) -> str:
        """The item as one line of an email."""
        where = "" if self.location == ALL else f" at {self.location}"
        title = f" ({self.title})" if self.title else ""
        spread = ", ".join(f"{loc} {n}" for loc, n in self.locations.items()) or "no stock rows"
        return (
            f"{self.sku}{where}{title}: {self.available} available, threshold {self.below}; "
            f"by location: {spread}; sold {self.per_day:g} a day ({self.sold} in the last "
            f"{SALES_DAYS} days)"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "title": self.title,
            "location": None if self.location == ALL else self.location,
            "alert": self.alert,
            "state": self.state,
            "previous": self.was,
            "available": self.available,
            "low_stock_below": self.below,
            "locations": self.locations,
            "sold_last_7_days": self.sold,
            "sold_per_day": self.per_day,
            "notified": self.told,
        }


@dataclass
class Message:
    """What one route is told in one run."""

    items: list[AlertItem]
    counts: dict[str, int]  # state -> changes, listed or not
    shop: str
    at: str
    test: bool = False

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def subject(self) -> str:
        parts = ", ".join(f"{self.counts[s]} {LABELS[s]}" for s in SEVERITY if self.counts.get(s))
        prefix = "[test] " if self.test else ""
        return f"{prefix}{self.shop or 'multichan'} stock: {parts}"

    def text(self) -> str:
        lines = [f"Stock alerts for {self.shop or 'your shop'}, {self.at}", ""]
        if self.test:
            lines += ["A test message from 'multichan alerts --test': no stock changed.", ""]
        for state in SEVERITY:
            group = [i for i in self.items if i.state == state]
            if group:
                lines.append(f"{HEADINGS[state]} ({self.counts.get(state, len(group))})")
                lines += [f"  {i.line()}" for i in group]
                lines.append("")
        if self.total > len(self.items):
            lines += [f"... and {self.total - len(self.items)} more not listed here.", ""]
        lines.append("'multichan alerts' lists every SKU low now.")
        return "\n".join(lines) + "\n"

    def payload(self) -> dict[str, Any]:
        return {
            "event": "stock_alerts",
            "test": self.test,
            "shop": self.shop,
            "at": self.at,
            "counts": {
                ("back_in_stock" if s == "ok" else s): self.counts.get(s, 0) for s in SEVERITY
            },
            "total": self.total,
            "listed": len(self.items),
            "items": [i.as_dict() for i in self.items],
        }

    def body(self) -> bytes:
        return json.dumps(self.payload(), ensure_ascii=False, separators=(",", ":")).encode()


@dataclass
class Delivery:
    """One route's attempt: ``sent`` or ``failed`` (with its reason and exit code)."""

    route: str
    target: str  # host:port, or the webhook's scheme and host: never a path or a secret
    status: str
    items: int
    message: str | None = None
    exit_code: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "target": self.target,
            "status": self.status,
            "items": self.items,
            "message": self.message,
            "exit_code": self.exit_code,
        }


@dataclass
class AlertResult:
    """What ``run_alerts`` (or ``send_sample``) found and did.

    ``mode``: ``off`` (channels.yaml has no ``alerts:``), ``show`` (``items`` is every level
    not ok now, ``pending`` the changes the next send delivers), ``send`` (``items`` the
    changes, ``deliveries`` one per route that had something to say), ``test``."""

    mode: str
    routes: tuple[str, ...] = ()
    low_stock_below: int | None = None
    items: list[AlertItem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    pending: int = 0
    deliveries: list[Delivery] = field(default_factory=list)
    error: str | None = None  # the run could not start (the workspace lock, the catalog)
    error_code: int = 0

    @property
    def exit_code(self) -> int:
        return worst([*(d.exit_code for d in self.deliveries), self.error_code])

    @property
    def failed(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.status == "failed"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "mode": self.mode,
            "routes": list(self.routes),
            "low_stock_below": self.low_stock_below,
            "counts": {("back_in_stock" if s == "ok" else s): n for s, n in self.counts.items()},
            "pending": self.pending,
            "items": [i.as_dict() for i in self.items],
            "deliveries": [d.as_dict() for d in self.deliveries],
            "error": self.error,
        }


def run_alerts(
    ws_or_db: Workspace | sqlite_utils.Database, config: Config, *, send: bool
) -> AlertResult:
    """Evaluate the alerts; with ``send``, deliver what changed on every configured route and
    move each route's state after it took the message. Never raises for a failed delivery:
    it is in the result (exit 5, or 3 for a secret whose variable is not set).

    Given a Workspace, a send holds its lock (a lock held too long is the result's
    ``error``, exit 7); given an open catalog (the end of ``pull`` or ``sync``), the caller
    holds it. Without an ``alerts:`` section a send does nothing; a look (``send=False``)
    uses the default threshold."""
    if config.alerts is None and send:
        return AlertResult("off")
    alerts = config.alerts or Alerts()
    shop = str(config.shop.get("name") or "")
    if isinstance(ws_or_db, sqlite_utils.Database):
        return _send(ws_or_db, alerts, shop) if send else _show(ws_or_db, alerts)
    if not send:
        db = ws_or_db.db()
        try:
            return _show(db, alerts)
        finally:
            db.close()
    try:  # after a pull or sync, a held lock is this part's outcome, not the run's
        with ws_or_db.lock():
            db = ws_or_db.db()
            try:
                return _send(db, alerts, shop)
            finally:
                db.close()
    except MultichanError as exc:
        return AlertResult("send", alerts.routes, alerts.low_stock_below, error=exc.message,
                           error_code=exc.exit_code)  # fmt: skip


def send_sample(config: Config) -> AlertResult:
    """Send one sample message on every configured route; the catalog is not read."""
    alerts = config.alerts or Alerts()
    sample = AlertItem(
        "SAMPLE-SKU", ALL, "low", "ok", 2, alerts.low_stock_below,
        title="A sample product", locations={"warehouse": 2}, sold=7,
    )  # fmt: skip
    message = Message([sample], {"low": 1}, str(config.shop.get("name") or ""), now(), test=True)
    result = AlertResult("test", alerts.routes, alerts.low_stock_below, [sample], {"low": 1})
    result.deliveries = [deliver(alerts, route, message) for route in alerts.routes]
    return result


def _show(db: sqlite_utils.Database, alerts: Alerts) -> AlertResult:
    """Every level not ok now, and how many changes the next send delivers: one scan."""
    routes = alerts.routes
    told = " AND ".join(f"NOT {changed(r)}" for r in routes) or "0"
    pending = " OR ".join(changed(r) for r in routes) or "0"
    was = f"COALESCE(was_{routes[0]}, 'ok')" if routes else "'ok'"
    sql = (
        f"SELECT sku, location, state, {was}, available, below, {told}, {pending}"
        f" FROM ({states_sql(alerts)}) WHERE state != 'ok' OR {pending} ORDER BY sku, location"
    )
    result = AlertResult("show", routes, alerts.low_stock_below)
    cursor = db.conn.execute(sql)
    while rows := cursor.fetchmany(CHUNK):
        result.pending += sum(1 for r in rows if r[7])
        batch = [
            AlertItem(r[0], r[1], r[2], r[3], r[4], r[5], told=bool(r[6]))
            for r in rows
            if r[2] != "ok"
        ]
        fill(db, batch)
        result.items.extend(batch)
    for item in result.items:
        result.counts[item.state] = result.counts.get(item.state, 0) + 1
    return result


def _send(db: sqlite_utils.Database, alerts: Alerts, shop: str) -> AlertResult:
    result = AlertResult("send", alerts.routes, alerts.low_stock_below)
    if not alerts.routes:
        return result
    conn = db.conn
    stamp = now()
    any_change = " OR ".join(changed(r) for r in alerts.routes)
    # only the SKUs written since the last run that told every route, unless the routes or
    # the threshold changed (or a day passed): a state changes only with a SKU's stock
    basis = changes.text_basis(["alerts", alerts.low_stock_below, sorted(alerts.routes)])
    last, seq = changes.mark_of(db, ALERTS_MARK), changes.top(db)
    since = last.seq if last is not None and changes.usable(db, last, basis) else None
    conn.execute("DROP TABLE IF EXISTS temp.alert_run")
    conn.execute(
        f"CREATE TEMP TABLE alert_run AS SELECT * FROM ({states_sql(alerts, since)})"
        f" WHERE {any_change}"
    )
    try:
        result.counts = dict(
            conn.execute("SELECT state, count(*) FROM temp.alert_run GROUP BY state").fetchall()
        )
        listed: dict[tuple[str, str], AlertItem] = {}
        for route in alerts.routes:
            items, counts = _changes(db, route)
            if not counts:
                continue
            delivery = deliver(alerts, route, Message(items, counts, shop, stamp))
            sent = delivery.status == "sent"
            if sent:
                _advance(db, route, stamp)
            result.deliveries.append(delivery)
            for item in items:  # told: every route that listed it took it
                first = listed.setdefault((item.sku, item.location), item)
                first.told = (first.told or first is item) and sent
        result.items = sorted(
            listed.values(), key=lambda i: (SEVERITY.index(i.state), i.sku, i.location)
        )
        if all(d.status == "sent" for d in result.deliveries):
            full_at = last.full_at if since is not None and last else changes.now_text()
            changes.advance(db, ALERTS_MARK, changes.Mark(basis, seq, full_at))
    finally:
        conn.execute("DROP TABLE IF EXISTS temp.alert_run")
    return result


def _changes(db: sqlite_utils.Database, route: str) -> tuple[list[AlertItem], dict[str, int]]:
    """The changes ``route`` has not been told: the first LISTED in detail, counts of all."""
    where = changed(route)
    counts = dict(
        db.conn.execute(
            f"SELECT state, count(*) FROM temp.alert_run WHERE {where} GROUP BY state"
        ).fetchall()
    )
    rows = db.conn.execute(
        f"SELECT sku, location, state, COALESCE(was_{route}, 'ok'), available, below"
        f" FROM temp.alert_run WHERE {where} ORDER BY {ORDER} LIMIT ?",
        [LISTED],
    ).fetchall()
    items = [AlertItem(*row) for row in rows]
    fill(db, items)
    return items, counts


def _advance(db: sqlite_utils.Database, route: str, stamp: str) -> None:
    """Record that ``route`` was told every change of this run (one transaction)."""
    conn = db.conn
    with transaction(db, "alerts"):
        conn.execute(
            "DELETE FROM alert_state WHERE route = ? AND (sku, location) IN (SELECT sku, location"
            f" FROM temp.alert_run WHERE state = 'ok' AND was_{route} IS NOT NULL)",
            [route],
        )
        conn.execute(
            "INSERT INTO alert_state (sku, location, route, state, since, notified_at)"
            f" SELECT sku, location, ?, state, ?, ? FROM temp.alert_run"
            f" WHERE state != 'ok' AND {changed(route)}"
            " ON CONFLICT (sku, location, route) DO UPDATE SET state = excluded.state,"
            " since = excluded.since, notified_at = excluded.notified_at",
            [route, stamp, stamp],
        )


def _chunks(values: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def fill(db: sqlite_utils.Database, items: list[AlertItem]) -> None:
    """Add each item's title, available per location and units sold in the last 7 days (open
    and closed orders created since then; pending and cancelled ones sold nothing)."""
    conn = db.conn
    since = datetime.now(UTC) - timedelta(days=SALES_DAYS)
    since_text = since.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    titles: dict[str, str] = {}
    spread: dict[str, dict[str, int]] = {}
    sold: dict[str, int] = {}
    for chunk in _chunks(sorted({i.sku for i in items})):
        marks = ", ".join("?" * len(chunk))
        titles.update(conn.execute(f"SELECT sku, title FROM products WHERE sku IN ({marks})",
                                   chunk).fetchall())  # fmt: skip
        for sku, location, available in conn.execute(
            "SELECT sku, location, quantity - committed FROM stock"
            f" WHERE sku IN ({marks}) ORDER BY sku, location",
            chunk,
        ):
            spread.setdefault(sku, {})[location] = int(available)
        if bundles.present(conn):  # a bundle's levels are its components'
            for sku in chunk:
                derived = bundles.levels_of(conn, sku)
                if derived is not None:
                    spread[sku] = derived
        sold.update(
            conn.execute(
                "SELECT l.sku, SUM(l.ordered) FROM order_lines l JOIN orders o"
                " ON o.channel = l.channel AND o.order_id = l.order_id"
                f" WHERE l.sku IN ({marks}) AND o.created_at >= ?"
                " AND o.status IN ('open', 'closed') GROUP BY l.sku",
                [*chunk, since_text],
            ).fetchall()
        )
    for item in items:
        item.title = titles.get(item.sku) or ""
        item.locations = spread.get(item.sku, {})
        item.sold = int(sold.get(item.sku) or 0)


def set_threshold(
    db: sqlite_utils.Database, sku: str, below: int | None, location: str | None = None
) -> dict[str, Any]:
    """Set (``below``) or clear (None) one SKU's threshold, over all its locations or at one;
    returns the old and new values. Clearing a location's threshold forgets its alert state."""
    if below is not None and below < 0:
        raise UsageError(f"a threshold is a whole number >= 0, not {below}")
    conn = db.conn
    row = conn.execute("SELECT low_stock_below FROM products WHERE sku = ?", [sku]).fetchone()
    if row is None:
        raise NotFound(f"no product with SKU {sku!r} in the catalog")
    with transaction(db, "threshold"):
        if location is None:
            old = row[0]
            conn.execute("UPDATE products SET low_stock_below = ? WHERE sku = ?", [below, sku])
        else:
            known = [r[0] for r in conn.execute("SELECT code FROM locations ORDER BY code")]
            if location not in known:
                raise UsageError(f"no location {location!r} (known: {', '.join(known) or 'none'})")
            found = conn.execute(
                "SELECT low_stock_below FROM alert_thresholds WHERE sku = ? AND location = ?",
                [sku, location],
            ).fetchone()
            old = found[0] if found else None
            if below is None:
                for table in ("alert_thresholds", "alert_state"):
                    conn.execute(f"DELETE FROM {table} WHERE sku = ? AND location = ?",
                                 [sku, location])  # fmt: skip
            else:
                conn.execute(
                    "INSERT INTO alert_thresholds (sku, location, low_stock_below) VALUES (?, ?, ?)"
                    " ON CONFLICT (sku, location) DO UPDATE SET"
                    " low_stock_below = excluded.low_stock_below",
                    [sku, location, below],
                )
    return {"sku": sku, "location": location, "old": old, "new": below}


# --- delivery ----------------------------------------------------------------------------


def deliver(alerts: Alerts, route: str, message: Message) -> Delivery:
    """Send ``message`` on one route; a failure is the Delivery's, never an exception."""
    target = alerts.email.where if route == "email" and alerts.email else ""
    try:
        if route == "email" and alerts.email is not None:
            note = send_email(alerts.email, message)
        elif route == "webhook" and alerts.webhook is not None:
            target = alerts.webhook.where
            post_webhook(alerts.webhook, message)
            note = None
        else:
            raise ValueError(f"route {route!r} is not configured")
    except MultichanError as exc:
        return Delivery(route, target, "failed", message.total, exc.message, exc.exit_code)
    return Delivery(route, target, "sent", message.total, note)


def email_message(cfg: AlertEmail, message: Message) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = message.subject()
    msg["From"] = cfg.sender
    msg["To"] = ", ".join(cfg.to)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid("multichan", domain=cfg.sender.rpartition("@")[2])
    msg["X-Multichan-Event"] = "test" if message.test else "stock_alerts"
    msg.set_content(message.text())
    return msg


def send_email(cfg: AlertEmail, message: Message) -> str | None:
    """Send the message by SMTP; returns a note when some recipients were refused. Raises
    ChannelFailed (exit 5) naming the server and the reason, never the password."""
    msg = email_message(cfg, message)
    password = cfg.password.value() if cfg.password is not None else None
    context = ssl.create_default_context()
    fail = f"email to {cfg.where} failed"
    try:
        client = (
            smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout, context=context)
            if cfg.ssl
            else smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
        )
        with client:
            if cfg.starttls:
                client.starttls(context=context)
            if cfg.username:
                client.login(cfg.username, password or "")
            refused = client.send_message(msg)
    except smtplib.SMTPAuthenticationError as exc:
        raise ChannelFailed(
            f"{fail}: the server refused the login of {cfg.username!r}: {_smtp_reason(exc)}",
            hint="check alerts.email.username and the variable alerts.email.password names",
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        who = ", ".join(f"{a} ({_answer(*r)})" for a, r in exc.recipients.items())
        raise ChannelFailed(f"{fail}: every recipient was refused: {who}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise ChannelFailed(f"{fail}: {_smtp_reason(exc, cfg.timeout)}") from None
    if refused:
        return "not delivered to " + ", ".join(f"{a} ({_answer(*r)})" for a, r in refused.items())
    return None


def _answer(code: int, text: bytes | str) -> str:
    said = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return f"{code} {said}".strip()


def _smtp_reason(exc: BaseException, timeout: float = 0) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"the server answered {_answer(exc.smtp_code, exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "the server closed the connection"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"the server does not support it: {exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the SMTP server running?)"
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {exc}"


def sign(secret: str, body: bytes) -> str:
    """The ``X-Multichan-Signature`` value of ``body``: ``sha256=`` and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_webhook(cfg: AlertWebhook, message: Message) -> None:
    """POST the message as JSON; a 2xx answer is success, anything else ChannelFailed (exit 5).
    Redirects are not followed (a signed body goes only where it was configured to)."""
    import requests

    body = message.body()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"multichan/{__version__}",
        "X-Multichan-Event": "test" if message.test else "stock_alerts",
    }
    if cfg.secret is not None:
        headers[SIGNATURE_HEADER] = sign(cfg.secret.value(), body)
    fail = f"webhook {cfg.where} failed"
    try:
        response = requests.post(
            cfg.url, data=body, headers=headers, timeout=cfg.timeout, allow_redirects=False
        )
    except requests.Timeout:
        raise ChannelFailed(f"{fail}: no answer within {cfg.timeout:g} s") from None
    except requests.exceptions.SSLError:
        raise ChannelFailed(f"{fail}: TLS failed (certificate or protocol)") from None
    except requests.ConnectionError:
        raise ChannelFailed(f"{fail}: cannot connect") from None
    except requests.RequestException as exc:  # the URL itself may hold a token: not quoted
        raise ChannelFailed(f"{fail}: {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise ChannelFailed(f"{fail}: answered HTTP {response.status_code}")
