"""channels.yaml -> validated settings.

Every problem is collected and reported together, each with ``file:line`` and its key path;
unknown keys get a "did you mean". A shop identity still holding the shipped template's
``<...>`` placeholder is one of those problems, so no feed or push links to a shop that is not
the seller's. Secrets are written as ``${ENV_VAR}`` and resolved only when used, so a channel
you are not running never needs its credentials, and a value never appears in a message.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from multichan.errors import ConfigError, NotFound, did_you_mean

ENV_RE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
ROUNDING = ("none", "0.99", "0.95", "0.05", "1.00")
STATUSES = ("active", "draft", "archived")
# a value left as the shipped template wrote it, such as "<your shop's name>"
PLACEHOLDER_RE = re.compile(r"^<[^<>]+>$")
SHOP_WANTED = {
    "name": "your shop's name as buyers see it",
    "url": "your shop's address, such as https://www.my-shop.com",
    "link_template": "your product pages' address with {handle}, {sku} or {item_group_id}, "
    "such as https://www.my-shop.com/products/{handle}",
}


@dataclass(frozen=True)
class Secret:
    """A credential named by its environment variable; its value is read only when needed."""

    var: str
    where: str

    def value(self) -> str:
        found = os.environ.get(self.var)
        if not found:
            raise ConfigError(f"{self.where}: environment variable {self.var} is not set")
        return found

    def __repr__(self) -> str:
        return f"Secret(${{{self.var}}})"


# --- the schema: key -> (kind, default). kinds: str, int, bool, decimal, percent, list, map,
# node (left to the caller: ``channels``),
# secret, or a nested dict for a section. Channel ``settings`` are free-form for channel modules.
FILTERS: dict[str, Any] = {
    "status": ("list", ["active"]), "in_stock_only": ("bool", False),
    "include_product_types": ("list", []), "exclude_product_types": ("list", []),
    "include_brands": ("list", []), "exclude_brands": ("list", []),
    "include_tags": ("list", []), "exclude_tags": ("list", []),
    "include_skus": ("list", []), "exclude_skus": ("list", []),
    "price_min": ("decimal", None), "price_max": ("decimal", None),
}  # fmt: skip
PRICE: dict[str, Any] = {
    "markup_percent": ("decimal", Decimal(0)), "add": ("decimal", Decimal(0)),
    "round": ("str", "none"), "min_price": ("decimal", None), "currency": ("str", None),
    "rates": ("map", {}), "use_sale_price": ("bool", True),
}  # fmt: skip
STOCK: dict[str, Any] = {
    "locations": ("list", None), "buffer": ("int", 0), "cap": ("int", None),
    "percent": ("decimal", Decimal(100)), "out_of_stock_below": ("int", 1),
    "untracked_quantity": ("int", 10),  # offered for SKUs whose stock is not counted
}  # fmt: skip
CONTENT: dict[str, Any] = {
    "title": ("str", None), "description": ("str", None), "strip_html": ("bool", None),
    "category_map": ("map", {}), "max_images": ("int", 10), "formula_guard": ("bool", True),
}  # fmt: skip
RULES: dict[str, Any] = {
    "max_delist_percent": ("decimal", Decimal(20)),
    "max_price_change_percent": ("decimal", Decimal(50)),
    "filters": FILTERS,
    "price": PRICE,
    "stock": STOCK,
    "content": CONTENT,
    "max_shrink_percent": ("decimal", Decimal(20)),
}
UPLOAD: dict[str, Any] = {
    "url": ("str", None),
    "password": ("secret", None),
    "key_file": ("str", None),
    "key_passphrase": ("secret", None),
    "known_hosts": ("str", None),
    "insecure_skip_host_key_check": ("bool", False),
    "retries": ("int", 3),
}
RATE: dict[str, Any] = {"requests_per_second": ("decimal", None), "burst": ("int", None)}
# orders pulled from an API channel: where they take stock, and whether refunds restock
ORDERS: dict[str, Any] = {"location": ("str", None), "restock_refunds": ("bool", False)}
CHANNEL: dict[str, Any] = {
    "type": ("str", None), "enabled": ("bool", True), "template": ("str", None),
    "output": ("str", None), "upload": UPLOAD, "settings": ("any", {}), "rate_limit": RATE,
    "orders": ORDERS, **RULES,
}  # fmt: skip
SHOP: dict[str, Any] = {
    "name": ("str", None),
    "url": ("str", None),
    "link_template": ("str", None),
    "currency": ("str", "USD"),
    "country": ("str", "US"),
    "language": ("str", "en"),
}
# low-stock alerts (multichan/alerts.py): the threshold, and where a message goes
ALERT_EMAIL: dict[str, Any] = {
    "smtp_url": ("str", None), "starttls": ("bool", False), "from": ("str", None),
    "to": ("list", []), "username": ("str", None), "password": ("secret", None),
    "timeout": ("int", 30),
}  # fmt: skip
ALERT_WEBHOOK: dict[str, Any] = {
    "url": ("str", None),
    "secret": ("secret", None),
    "timeout": ("int", 10),
}
ALERTS: dict[str, Any] = {
    "low_stock_below": ("int", 3),
    "email": ALERT_EMAIL,
    "webhook": ALERT_WEBHOOK,
}
TOP: dict[str, Any] = {
    "version": ("int", 1),
    "shop": SHOP,
    "defaults": RULES,
    "channels": ("node", None),  # read channel by channel from the node (Loader.load)
    "alerts": ALERTS,
}
SMTP_PORTS = {"smtp": 25, "smtps": 465}
ADDRESS_RE = re.compile(r"^[^@\s<>,]+@[^@\s<>,]+$")


@dataclass
class Channel:
    name: str
    type: str
    enabled: bool
    template: str | None
    output: str | None
    filters: dict[str, Any]
    price: dict[str, Any]
    stock: dict[str, Any]
    content: dict[str, Any]
    max_shrink_percent: Decimal
    max_delist_percent: Decimal
    max_price_change_percent: Decimal
    rate_limit: dict[str, Any]
    orders: dict[str, Any]
    upload: dict[str, Any]
    settings: dict[str, Any]
    line: int


@dataclass(frozen=True)
class AlertEmail:
    """Where alert email goes: an SMTP server (``smtps`` is TLS from the start, ``starttls``
    upgrades a plain connection), the sender and the recipients."""

    host: str
    port: int
    ssl: bool
    starttls: bool
    sender: str
    to: tuple[str, ...]
    username: str | None
    password: Secret | None
    timeout: float

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class AlertWebhook:
    """A URL that receives each alert message as JSON, signed with ``secret`` when set."""

    url: str = field(repr=False)  # its path or query may hold a token
    secret: Secret | None = None
    timeout: float = 10.0

    @property
    def where(self) -> str:
        """The URL without its path and query, which may hold a token: safe in a message."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


@dataclass(frozen=True)
class Alerts:
    """channels.yaml's ``alerts:``: the default threshold and the routes configured."""

    low_stock_below: int = 3
    email: AlertEmail | None = None
    webhook: AlertWebhook | None = None
    line: int = 0

    @property
    def routes(self) -> tuple[str, ...]:
        return tuple(name for name in ("email", "webhook") if getattr(self, name) is not None)


@dataclass
class Config:
    path: Path
    shop: dict[str, Any]
    channels: dict[str, Channel] = field(default_factory=dict)
    alerts: Alerts | None = None  # None: no ``alerts:`` section

    def channel(self, name: str) -> Channel:
        if name not in self.channels:
            extra = did_you_mean(name, self.channels)
            known = ", ".join(self.channels) or "none"
            raise NotFound(f"no channel {name!r} in {self.path.name} (configured: {known}){extra}")
        return self.channels[name]


class _Loader:
    def __init__(self, path: Path, known_types: set[str]) -> None:
        self.path = path
        self.known_types = known_types
        self.problems: list[str] = []
        self.shop_currency: str | None = "USD"  # shop.currency, checked (None: it is wrong)

    def problem(self, node: yaml.Node, text: str) -> None:
        self.problems.append(f"{self.path.name}:{node.start_mark.line + 1}: {text}")

    def section(
        self, node: yaml.Node | None, schema: dict, where: str, base: dict | None = None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, (spec) in schema.items():
            if isinstance(spec, dict):
                out[key] = self.section_default(spec, (base or {}).get(key))
            else:
                default = (base or {}).get(key, spec[1])
                out[key] = (
                    dict(default)
                    if isinstance(default, dict)
                    else (list(default) if isinstance(default, list) else default)
                )
        if node is None:
            return out
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
            if where:
                self.problem(node, f"{where} is empty: give it keys, or leave it out")
            return out
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"{where or 'top level'} must be a mapping of keys")
            return out
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_node, f"{where or 'top level'} has a key that is not plain text")
                continue
            key = key_node.value
            path = f"{where}.{key}" if where else key
            if key in seen:  # YAML would keep the last one without a word
                self.problem(key_node, f"{path} is given twice (first at line {seen[key]})")
                continue
            seen[key] = key_node.start_mark.line + 1
            if key not in schema:
                tail = did_you_mean(key, schema)
                self.problem(key_node, f"unknown key {path!r}{tail}")
                continue
            spec = schema[key]
            if isinstance(spec, dict):
                out[key] = self.section(value_node, spec, path, out[key])
            else:
                out[key] = self.value(value_node, spec[0], path, out[key])
        return out

    def section_default(self, schema: dict, base: dict | None) -> dict[str, Any]:
        return {
            k: (base or {}).get(k, v[1])
            if not isinstance(v, dict)
            else self.section_default(v, (base or {}).get(k))
            for k, v in schema.items()
        }

    def value(self, node: yaml.Node, kind: str, path: str, current: Any) -> Any:
        if kind == "node":
            return None
        try:
            data = plain(node)
        except Refused as exc:
            self.problem(exc.node, f"{path} {exc.text}")
            return current
        if kind == "any":
            return data
        if data is None:  # `key:` with nothing, or null: a slip, never a silent default
            self.problem(node, f"{path} is empty: give it a value, or leave the key out "
                         "for the default")  # fmt: skip
            return current
        if kind == "secret":
            match = ENV_RE.match(str(data))
            if not match:
                self.problem(
                    node,
                    f"{path} must name an environment variable as ${{VAR}}, "
                    "never hold the secret itself",
                )
                return None
            return Secret(match.group(1), f"{self.path.name}:{node.start_mark.line + 1}: {path}")
        shown = None  # how a bad value is quoted: a value from the environment is never printed
        if isinstance(data, str) and ENV_RE.match(data):
            var = ENV_RE.match(data).group(1)  # type: ignore[union-attr]
            data = os.environ.get(var)
            if data is None:
                self.problem(node, f"{path}: environment variable {var} is not set")
                return current
            shown = f"the value of ${{{var}}}"
            if kind == "int" and data.strip().isdigit():
                data = int(data)
            elif kind == "bool" and data.strip().lower() in ("true", "false", "1", "0"):
                data = data.strip().lower() in ("true", "1")
        checks = {
            "str": lambda v: isinstance(v, str | int | float) and not isinstance(v, bool),
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
            "bool": lambda v: isinstance(v, bool),
            "list": lambda v: isinstance(v, list),
            "map": lambda v: isinstance(v, dict),
        }
        if kind == "decimal":
            try:
                if isinstance(data, bool):
                    raise InvalidOperation
                number = Decimal(str(data))
                if not number.is_finite():
                    raise InvalidOperation
                return number
            except InvalidOperation:
                self.problem(node, f"{path} must be a number, not {shown or repr(data)}")
                return current
        if kind == "list" and isinstance(data, str | int):
            data = [data]
        if not checks[kind](data):
            expected = {
                "int": "a whole number >= 0",
                "bool": "true or false",
                "list": "a list",
                "map": "a mapping",
                "str": "text",
            }[kind]
            self.problem(node, f"{path} must be {expected}, not {shown or repr(data)}")
            return current
        if kind == "str":
            data = str(data)
            if path.startswith("shop.") and PLACEHOLDER_RE.match(data):
                wanted = SHOP_WANTED.get(path.removeprefix("shop."), "your own value")
                self.problem(
                    node,
                    f"{path} is still the placeholder {shown or repr(data)}: set it to {wanted}",
                )
                return current
        if kind == "list":
            data = [str(v) for v in data]
        return data

    def rule_values(
        self, key_node: yaml.Node, node: yaml.Node | None, where: str, rules: dict[str, Any]
    ) -> None:
        """Checks of values that need more than their type; reported at the key's own line
        (or the channel's, when the value came from ``defaults``)."""
        price, stock, filters = rules["price"], rules["stock"], rules["filters"]

        def at(*path: str) -> yaml.Node:
            found = node
            for part in path:
                found = _child(found, part)
            return found or _child(node, path[0]) or key_node

        try:  # an unquoted `round: 1.00` arrives as 1.0
            if price["round"] != "none":
                price["round"] = str(Decimal(str(price["round"])).quantize(Decimal("0.01")))
        except (InvalidOperation, TypeError, ValueError):
            pass
        if price["round"] not in ROUNDING:
            self.problem(
                at("price", "round"), f"{where}.price.round must be one of {', '.join(ROUNDING)}"
            )
        if price["currency"] is not None:
            price["currency"] = self.currency(
                at("price", "currency"), f"{where}.price.currency", price["currency"]
            )
        rates: dict[str, Decimal] = {}
        for currency, rate in price["rates"].items():
            rate_at = _key(at("price", "rates"), str(currency)) or at("price", "rates")
            code = self.currency(rate_at, f"{where}.price.rates.{currency}", currency)
            try:
                number = Decimal(str(rate))
                if not number.is_finite() or number <= 0 or isinstance(rate, bool):
                    raise InvalidOperation
            except InvalidOperation:
                self.problem(rate_at, f"{where}.price.rates.{currency} must be a number above 0")
                continue
            if code:
                rates[code] = number
        price["rates"] = rates
        target = price["currency"] or self.shop_currency
        if price["currency"] and target != self.shop_currency and price["rates"] == {}:
            self.problem(
                at("price", "currency"),
                f"{where}.price.currency needs price.rates to convert from "
                f"(such as rates: {{{self.shop_currency or 'USD'}: 0.92}})",
            )
        bad = [s for s in filters["status"] if s not in STATUSES]
        if bad:
            self.problem(
                at("filters", "status"),
                f"{where}.filters.status: {bad[0]!r} is not one of {', '.join(STATUSES)}",
            )
        if not Decimal(0) <= stock["percent"] <= Decimal(100):
            self.problem(at("stock", "percent"), f"{where}.stock.percent must be between 0 and 100")
        if stock["untracked_quantity"] is not None and stock["untracked_quantity"] < 1:
            self.problem(
                at("stock", "untracked_quantity"),
                f"{where}.stock.untracked_quantity must be 1 or more (the units offered for a "
                "SKU whose stock is not counted)",
            )
        for key in ("title", "description"):
            source = rules["content"][key]
            if isinstance(source, str):
                from multichan.offers import expression_problem

                wrong = expression_problem(source)
                if wrong:
                    self.problem(at("content", key), f"{where}.content.{key}: {wrong}")

    def currency(self, node: yaml.Node, path: str, value: Any) -> str | None:
        """``value`` as an ISO 4217 code (``eur`` is EUR); None, with a problem at ``node``,
        when it is not one (``€`` and ``EURO`` get the code they likely mean)."""
        from multichan.money import currency_problem

        wrong = currency_problem(value)
        if wrong:
            self.problem(node, f"{path}: {wrong}")
            return None
        return str(value).strip().upper()

    def load(self, text: str) -> Config:
        try:
            root = yaml.compose(text)
        except RecursionError:
            raise ConfigError(f"{self.path.name}: nested too deeply to read") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1}" if mark else ""
            raise ConfigError(
                f"{self.path.name}{line}: not valid YAML: {getattr(exc, 'problem', exc)}"
            ) from None
        top = self.section(root, TOP, "")
        shop_node = _child(root, "shop")
        self.shop_currency = top["shop"]["currency"] = self.currency(
            _child(shop_node, "currency") or shop_node or root,  # type: ignore[arg-type]
            "shop.currency",
            top["shop"]["currency"],
        )
        defaults = top["defaults"]
        config = Config(self.path, top["shop"])
        channels_node = _child(root, "channels")
        if channels_node is not None and not isinstance(channels_node, yaml.MappingNode):
            self.problem(channels_node, "channels must be a mapping of channel names")
        elif channels_node is not None:
            lines: dict[str, int] = {}
            for key_node, node in channels_node.value:
                name = str(key_node.value)
                if name in lines:
                    self.problem(key_node, f"channel {name!r} is given twice (first at line "
                                 f"{lines[name]}); YAML would keep only the last")  # fmt: skip
                    continue
                lines[name] = key_node.start_mark.line + 1
                if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
                    self.problem(key_node, f"channel name {name!r}: use letters, digits, - and _")
                data = self.section(node, CHANNEL, f"channels.{name}", defaults)
                if not data["type"]:
                    self.problem(key_node, f"channels.{name}.type is required")
                elif data["type"] not in self.known_types:
                    type_node = _child(node, "type")
                    written = type_node.value if isinstance(type_node, yaml.ScalarNode) else ""
                    from_env = ENV_RE.match(str(written))
                    shown = (f"the value of {written}" if from_env
                             else repr(data["type"]))  # fmt: skip
                    tail = "" if from_env else did_you_mean(data["type"], self.known_types)
                    known = ", ".join(sorted(self.known_types))
                    self.problem(
                        type_node or key_node,
                        f"channels.{name}.type {shown} is unknown (known: {known}){tail}",
                    )
                self.rule_values(key_node, node, f"channels.{name}", data)
                config.channels[name] = Channel(
                    name=name,
                    type=data["type"] or "",
                    enabled=data["enabled"],
                    template=data["template"],
                    output=data["output"],
                    filters=data["filters"],
                    price=data["price"],
                    stock=data["stock"],
                    content=data["content"],
                    max_shrink_percent=data["max_shrink_percent"],
                    max_delist_percent=data["max_delist_percent"],
                    max_price_change_percent=data["max_price_change_percent"],
                    rate_limit=data["rate_limit"],
                    orders=data["orders"],
                    upload=data["upload"],
                    settings=data["settings"] or {},
                    line=key_node.start_mark.line + 1,
                )
        config.alerts = self.alerts(root, top["alerts"])
        if top["version"] != 1:
            self.problem(_child(root, "version") or root,
                         f"version {top['version']!r}: this multichan reads version 1 of "
                         "channels.yaml")  # fmt: skip
        writers: dict[str, str] = {}
        for channel in config.channels.values():  # two feeds in one file: each overwrites
            if channel.output:
                other = writers.setdefault(str(Path(channel.output)), channel.name)
                if other != channel.name:
                    self.problem(
                        _child(_child(channels_node, channel.name), "output") or root,
                        f"channels.{channel.name}.output is also "
                        f"channels.{other}.output: each feed needs a file of its own",
                    )
        if self.problems:
            raise ConfigError(f"{self.path} has {len(self.problems)} problem(s):", self.problems)
        return config

    def alerts(self, root: yaml.Node | None, data: dict[str, Any]) -> Alerts | None:
        """``alerts:`` checked beyond its types: a route needs where to send, SMTP URLs hold
        no credentials (they go in ``username`` and ``password: ${VAR}``). Messages never
        quote a URL, which may hold a token or come from the environment."""
        key = _key(root, "alerts")
        if key is None:
            return None
        node = _child(root, "alerts")
        email = webhook = None
        if isinstance(node, yaml.MappingNode):
            email_key = _key(node, "email")
            if email_key is not None and isinstance(_child(node, "email"), yaml.MappingNode):
                email = self.alert_email(email_key, _child(node, "email"), data["email"])
            hook_key = _key(node, "webhook")
            if hook_key is not None and isinstance(_child(node, "webhook"), yaml.MappingNode):
                webhook = self.alert_webhook(hook_key, _child(node, "webhook"), data["webhook"])
        return Alerts(data["low_stock_below"], email, webhook, key.start_mark.line + 1)

    def alert_email(
        self, key: yaml.Node, node: yaml.Node | None, data: dict[str, Any]
    ) -> AlertEmail | None:
        where = "alerts.email"
        ok = True

        def bad(name: str | None, text: str) -> None:
            nonlocal ok
            ok = False
            self.problem((_child(node, name) if name else None) or key, f"{where}{text}")

        url = data["smtp_url"]
        host, port, scheme = "", 0, ""
        if not url:
            bad(None, ".smtp_url is required, such as smtp://127.0.0.1:1025")
        else:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            try:
                port = parts.port or SMTP_PORTS.get(scheme, 0)
            except ValueError:
                port = -1
            if scheme not in SMTP_PORTS:
                bad("smtp_url", ".smtp_url must start with smtp:// or smtps://")
            elif parts.username is not None or parts.password is not None:
                bad(
                    "smtp_url",
                    ".smtp_url must not hold a user or password: write them as "
                    f"{where}.username and {where}.password: ${{VAR}}",
                )
            elif not parts.hostname or port <= 0 or parts.path not in ("", "/") or parts.query:
                bad("smtp_url", ".smtp_url must be smtp://HOST[:PORT] or smtps://HOST[:PORT]")
            host = parts.hostname or ""
            if scheme == "smtp" and data["starttls"] and not parts.port:
                port = 587
        if scheme == "smtps" and data["starttls"]:
            bad("starttls", ".starttls is for smtp://: smtps:// is encrypted from the start")
        sender = data["from"]
        if not sender:
            bad(None, ".from is required: the address alerts are sent from")
        elif not ADDRESS_RE.match(sender):
            bad("from", ".from must be one email address such as shop@example.com")
        if not data["to"]:
            bad(None, ".to is required: a list of addresses to send alerts to")
        elif not all(ADDRESS_RE.match(a) for a in data["to"]):
            bad("to", ".to must list email addresses such as owner@example.com")
        if data["password"] is not None and not data["username"]:
            bad("password", ".password needs alerts.email.username")
        elif data["username"] and data["password"] is None:
            bad("username", ".username needs alerts.email.password: ${VAR}")
        if data["timeout"] == 0:
            bad("timeout", ".timeout must be at least 1 (seconds)")
        if not ok:
            return None
        return AlertEmail(
            host=host,
            port=port,
            ssl=scheme == "smtps",
            starttls=bool(data["starttls"]),
            sender=sender,
            to=tuple(data["to"]),
            username=data["username"],
            password=data["password"],
            timeout=float(data["timeout"]),
        )

    def alert_webhook(
        self, key: yaml.Node, node: yaml.Node | None, data: dict[str, Any]
    ) -> AlertWebhook | None:
        url = data["url"]
        if not url:
            self.problem(key, "alerts.webhook.url is required, such as https://hooks.example.com/x")
            return None
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            self.problem(
                _child(node, "url") or key, "alerts.webhook.url must be an http:// or https:// URL"
            )
            return None
        if data["timeout"] == 0:
            self.problem(
                _child(node, "timeout") or key, "alerts.webhook.timeout must be at least 1"
            )
            return None
        return AlertWebhook(url, data["secret"], float(data["timeout"]))


# what a value in channels.yaml may be: YAML's plain types; the others (!!binary, !!omap,
# !!set, !!python/...) are refused, timestamps read as the text written
PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "seq",
                                                 "map", "timestamp")}  # fmt: skip
MAX_VALUES = 10_000  # nodes one value may expand to (an alias bomb stops here, at once)
MAX_DEPTH = 50


class Refused(Exception):
    """A value channels.yaml cannot hold; ``text`` follows the key's path in the message."""

    def __init__(self, node: yaml.Node, text: str) -> None:
        super().__init__(text)
        self.node, self.text = node, text


def plain(node: yaml.Node) -> Any:
    """The Python value of a composed YAML node, built without PyYAML's constructor of
    arbitrary tags and with bounds: at most MAX_VALUES nodes (aliases counted each time they
    are used) and MAX_DEPTH levels; a tag other than PLAIN_TAGS, a scalar its tag cannot read
    (``!!int abc``) or a key that is not a scalar raises Refused."""
    constructor = yaml.constructor.SafeConstructor()
    budget = [MAX_VALUES]

    def short(tag: str) -> str:
        return tag.replace("tag:yaml.org,2002:", "!!")

    def walk(n: yaml.Node, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise Refused(n, f"expands to more than {MAX_VALUES:,} values (YAML aliases?)")
        if depth > MAX_DEPTH:
            raise Refused(n, f"is nested more than {MAX_DEPTH} levels deep")
        if n.tag not in PLAIN_TAGS:
            raise Refused(n, f"uses the YAML tag {short(n.tag)}, which channels.yaml does not take")
        if isinstance(n, yaml.ScalarNode):
            if n.tag.endswith(":timestamp"):
                return n.value
            try:
                return constructor.construct_object(n)
            except (ValueError, KeyError, TypeError, yaml.YAMLError):
                raise Refused(n, f"{n.value!r} is not a valid {short(n.tag)}") from None
        if isinstance(n, yaml.SequenceNode):
            return [walk(item, depth + 1) for item in n.value]
        out: dict[Any, Any] = {}
        for key, value in n.value:
            if not isinstance(key, yaml.ScalarNode):
                raise Refused(key, "has a key that is not plain text")
            out[walk(key, depth + 1)] = walk(value, depth + 1)
        return out

    return walk(node, 0)


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            if key_node.value == key:
                return value
    return None


def _key(node: yaml.Node | None, key: str) -> yaml.Node | None:
    """The key node of ``key`` in a mapping (its line is where the section starts)."""
    if isinstance(node, yaml.MappingNode):
        for key_node, _value in node.value:
            if key_node.value == key:
                return key_node
    return None


def load(path: Path, known_types: set[str]) -> Config:
    """Read and validate ``path``; raise ConfigError listing every problem with file:line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        folder = shlex.quote(str(path.parent))
        raise ConfigError(
            f"{path} not found; restore it with "
            f"'multichan init --force --name NAME --url URL {folder}', which writes "
            f"channels.yaml and templates/ only and keeps catalog.db"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
    return _Loader(path, known_types).load(text)


def shop_currency(path: Path) -> str | None:
    """shop.currency from channels.yaml, read leniently: a broken file must not block imports
    (the full validation reports it where channels are used)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return str(data.get("shop", {}).get("currency") or "") or None
    except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError):
        return None
