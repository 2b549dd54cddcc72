"""The rules engine: catalog product + one channel's rules -> Offer.

An offer is what one channel should show for one SKU. Feeds render offers and pushes diff them,
so every price and quantity a channel sees is computed here and nowhere else: ``offers_for``
gives a channel's offers to its feed export and to its push plan alike.

Order of the rules, documented in the README:
- price: per-SKU override (used as given) or catalog price -> currency conversion -> markup
  percent -> fixed amount -> rounding -> minimum price; the sale price goes through the same
  steps and is dropped when it is not below the price. A channel sells in one currency (its
  ``price.currency``, else ``shop.currency``): a product priced in another is converted with
  ``price.rates``, or left out of the channel with the rate to add. Amounts are rounded to the
  currency's minor units (JPY 1500, USD 12.50, KWD 1.250).
- stock: sum over the channel's locations -> buffer -> percent (rounded down) -> cap ->
  out-of-stock threshold; never below zero. A SKU whose stock is not counted (``stock_tracking``
  ``untracked``) is offered ``stock.untracked_quantity`` (capped by ``stock.cap``), in stock,
  whatever its count says; one sold when out of stock (``continue``) is offered its quantity by
  those rules, or ``untracked_quantity`` when that is more. Per location alike.

Tracing (``Rules.tracing``, for ``multichan explain``): while a trace list is set, the rules
append a ``Step`` (step, rule, value after it) for each rule they apply, as they apply it, so
an explanation is the engine's own arithmetic, never a second copy of it. Tracing takes the
general stock path (the plain-stock shortcut gives the same numbers) and keeps no price memo.
Untraced, the fast paths (plain stock, a memoised price) run no tracing code at all; the
general stock path and a price computed afresh test for a trace once per step, and the
reasons for leaving a product out are only formatted while tracing.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

import sqlite_utils

from multichan.catalog.checks import gtin_valid
from multichan.config import Channel, Config
from multichan.money import quantize
from multichan.text import cut, strip_html

HUNDRED = Decimal(100)
# The catalog columns the rules read, in the order of the rows ``Rules.offer_row`` takes.
COLUMNS = (
    "sku", "item_group_id", "handle", "title", "description", "brand", "gtin", "mpn",
    "condition", "price", "sale_price", "currency", "weight_grams", "product_type",
    "google_product_category", "link", "color", "size", "material", "pattern", "gender",
    "age_group", "tags", "status", "stock_tracking",
)  # fmt: skip
WIDTH = len(COLUMNS)
UNTRACKED_QUANTITY = 10  # config.STOCK's default for stock.untracked_quantity
MEMO_SIZE = 512  # recent descriptions: variants next to each other share them
PRICE_MEMO_SIZE = 4096  # prices a catalog repeats (19.99, ...): each is computed once
# 48 ("0") times the weights of a GTIN's digits: subtracted from a weighted sum of its bytes
# the note of an offer whose title or description was cut to the channel's limit
CUT_NOTE = "{field} cut to {shown} of {length} characters ({channel} allows {limit})"
CUT_PREFIXES = ("title cut to ", "description cut to ")


@dataclass(slots=True)
class Offer:
    sku: str
    item_group_id: str | None
    title: str
    description: str
    link: str | None
    image_link: str | None
    additional_image_links: list[str]
    brand: str | None
    gtin: str | None
    mpn: str | None
    condition: str
    price: Decimal
    sale_price: Decimal | None
    currency: str
    quantity: int
    availability: str
    location_quantities: dict[str, int]
    product_type: str | None
    google_product_category: str | None
    color: str | None
    size: str | None
    material: str | None
    pattern: str | None
    gender: str | None
    age_group: str | None
    weight_grams: int | None
    tags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. "invalid GTIN left out"

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}


FIELDS: tuple[str, ...] = Offer.__slots__  # type: ignore[attr-defined]  # its fields, in order


@dataclass(frozen=True, slots=True)
class Step:
    """One rule as the engine applied it while tracing: its name, the channel's setting
    (``rule``) and the value after it (``value``)."""

    step: str
    rule: Any
    value: Any

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "rule": self.rule, "value": self.value}


class _Unkept(dict[Any, Any]):
    """A memo that keeps nothing: while tracing, every price is computed (and traced)."""

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


def round_price(amount: Decimal, mode: str) -> Decimal:
    """Round up to the next price ending .99/.95 (never below the computed price), to the
    nearest 0.05, up to the next whole unit (1.00), or only to cents (none)."""
    if mode in ("0.99", "0.95"):
        ending = Decimal(mode)
        whole = amount.to_integral_value(rounding=ROUND_FLOOR)
        candidate = whole + ending
        return candidate if candidate >= amount else candidate + 1
    if mode == "0.05":
        return (amount / Decimal("0.05")).to_integral_value(ROUND_HALF_UP) * Decimal("0.05")
    if mode == "1.00":
        return amount.to_integral_value(rounding=ROUND_CEILING)
    return amount


class Rules:
    """One channel's rules, compiled once, applied to every product."""

    def __init__(
        self,
        channel: Channel,
        shop: dict[str, Any],
        *,
        strip_html_default: bool,
        max_title: int,
        max_description: int,
    ) -> None:
        self.channel = channel
        f, p, s, c = channel.filters, channel.price, channel.stock, channel.content
        self.statuses = set(f["status"])
        self.skus_in, self.skus_out = set(f["include_skus"]), set(f["exclude_skus"])
        self.brands_in = {b.lower() for b in f["include_brands"]}
        self.brands_out = {b.lower() for b in f["exclude_brands"]}
        self.tags_in = {t.lower() for t in f["include_tags"]}
        self.tags_out = {t.lower() for t in f["exclude_tags"]}
        self.types_in, self.types_out = f["include_product_types"], f["exclude_product_types"]
        self.price_min, self.price_max = f["price_min"], f["price_max"]
        self.in_stock_only = f["in_stock_only"]
        self.markup = Decimal(1) + p["markup_percent"] / HUNDRED
        self.add, self.rounding, self.min_price = p["add"], p["round"], p["min_price"]
        # the one currency of the channel's offers: a feed never mixes currencies
        self.target_currency: str = (p["currency"] or shop.get("currency") or "USD").upper()
        self.rates: dict[str, Decimal] = p["rates"]
        self.use_sale = p["use_sale_price"]
        self.locations = set(s["locations"]) if s["locations"] is not None else None
        self.buffer, self.cap, self.percent = s["buffer"], s["cap"], s["percent"]
        self.threshold = s["out_of_stock_below"]
        # offered for a SKU whose stock is not counted (untracked) or never runs out (continue)
        untracked = s.get("untracked_quantity", UNTRACKED_QUANTITY)
        self.untracked = untracked if self.cap is None else min(untracked, self.cap)
        self.strip = c["strip_html"] if c["strip_html"] is not None else strip_html_default
        self.category_map: dict[str, str] = {str(k): str(v) for k, v in c["category_map"].items()}
        self.max_images = c["max_images"]
        self.max_title, self.max_description = max_title, max_description
        self.link_template = shop.get("link_template")
        self.title_tpl = _expression(c["title"]) if c["title"] else None
        self.desc_tpl = _expression(c["description"]) if c["description"] else None
        # fast paths, decided once: skip the filters and the arithmetic nobody asked for
        filters = (self.skus_in, self.skus_out, self.brands_in, self.brands_out, self.tags_in)
        self.filtered = any((*filters, self.tags_out, self.types_in, self.types_out))
        stock_rules = (self.buffer, self.percent, self.cap, self.threshold <= 1)
        self.plain_stock = stock_rules == (0, HUNDRED, None, True)
        # offer_row's rows: COLUMNS, then the other columns for expressions (read_columns)
        self.columns: tuple[str, ...] = COLUMNS
        self.prices: dict[tuple[Any, str], tuple[Decimal, str]] = {}
        self.descriptions: dict[str, str] = {}
        # the length of the text the last title()/description() call cut (0: not cut), and
        # the lengths of the memoised descriptions that were cut
        self.title_cut = self.description_cut = 0
        self.cut_descriptions: dict[str, int] = {}
        self.trace: list[Step] | None = None  # set by ``tracing``: the steps applied

    @contextlib.contextmanager
    def tracing(self) -> Iterator[list[Step]]:
        """Trace the offers made inside: each rule applied appends a ``Step`` to the list
        yielded (clear it between offers). The general stock path and unmemoised prices are
        used meanwhile; they give the same offers as the fast paths."""
        saved = self.trace, self.plain_stock, self.prices
        steps: list[Step] = []
        self.trace, self.plain_stock, self.prices = steps, False, _Unkept()
        try:
            yield steps
        finally:
            self.trace, self.plain_stock, self.prices = saved

    def _left_out(self, reason: str, *values: Any) -> None:
        """Trace why a product gets no offer, ``reason`` formatted with ``values`` (called
        only on the way out; formatted only while tracing)."""
        if self.trace is not None:
            self.trace.append(Step("left out", None, reason.format(*values)))

    def _sale_dropped(self, amount: Decimal) -> None:
        """Trace a sale price dropped for not being below the price."""
        if self.trace is not None:
            self.trace.append(Step("sale price: dropped", f"not below {amount}", None))

    # --- stock -------------------------------------------------------------------------
    def quantity(self, on_hand: int, trace: list[Step] | None = None) -> int:
        """The stock rules on an available count: buffer, percent, cap, out-of-stock
        threshold; each step appended to ``trace`` when given."""
        qty = max(on_hand - self.buffer, 0)
        buffered = qty
        if self.percent != HUNDRED:
            qty = int((Decimal(qty) * self.percent / HUNDRED).to_integral_value(ROUND_FLOOR))
        shared = qty
        if self.cap is not None:
            qty = min(qty, self.cap)
        final = 0 if qty < self.threshold else qty
        if trace is not None:
            trace += (
                Step("buffer", self.buffer, buffered),
                Step("percent", self.percent, shared),
                Step("cap", self.cap, qty),
                Step("out of stock below", self.threshold, final),
            )
        return final

    def counted(self, stock: dict[str, int]) -> dict[str, int]:
        """The stock levels of the locations this channel counts."""
        if self.locations is None:
            return stock
        return {loc: q for loc, q in stock.items() if loc in self.locations}

    def totals(self):  # -> catalog.store.Totals | None
        """How to read stock as one total per SKU over this channel's locations, for a feed
        that shows no per-location stock; None when a title or description expression may
        read the product's stock by location."""
        from multichan.catalog.store import Totals

        if self.title_tpl or self.desc_tpl:
            return None
        return Totals(None if self.locations is None else tuple(sorted(self.locations)))

    # --- price -------------------------------------------------------------------------
    def price(self, amount: Decimal, currency: str, label: str = "price") -> tuple[Decimal, str]:
        """A catalog amount in ``currency`` as the channel shows it, in its currency (its
        steps traced as ``label``)."""
        target, trace = self.target_currency, self.trace
        if trace is not None:
            trace.append(Step(f"{label}: catalog", currency, amount))
        if currency != target:
            rate = self.rates.get(currency)
            if rate is None:
                if trace is not None:
                    trace.append(Step(f"{label}: conversion", f"no rate {currency} -> {target}",
                                      None))  # fmt: skip
                raise ValueError(
                    f"price in {currency}, channel sells in {target}: add price.rates.{currency}"
                )
            amount = amount * rate
        if trace is not None:
            same = currency == target
            rule = f"none ({target})" if same else f"1 {currency} = {self.rates[currency]} {target}"
            trace.append(Step(f"{label}: conversion", rule, amount))
        amount = amount * self.markup
        if trace is not None:
            percent = self.channel.price["markup_percent"]
            trace.append(Step(f"{label}: markup percent", percent, amount))
        amount = amount + self.add
        if trace is not None:
            trace.append(Step(f"{label}: add", self.add, amount))
        amount = round_price(quantize(amount, target), self.rounding)
        if trace is not None:
            trace.append(Step(f"{label}: round", self.rounding, amount))
        if self.min_price is not None and amount < self.min_price:
            amount = self.min_price
        amount = quantize(amount, target)
        if trace is not None:
            trace.append(Step(f"{label}: min price", self.min_price, amount))
        return amount, target

    def category(self, product_type: str | None, fallback: str | None) -> str | None:
        if product_type and self.category_map:
            best = max(
                (k for k in self.category_map if _within(product_type, k)), key=len, default=None
            )
            if best is not None:
                return self.category_map[best]
        return fallback

    # --- filters -----------------------------------------------------------------------
    def wanted(self, sku: str, brand: str | None, tags: str | None, ptype: str | None) -> bool:
        """The include/exclude filters (``self.filtered``; the status is checked before)."""
        if (self.skus_in and sku not in self.skus_in) or sku in self.skus_out:
            self._left_out("filters.include_skus / exclude_skus")
            return False
        brand = (brand or "").lower()
        if (self.brands_in and brand not in self.brands_in) or brand in self.brands_out:
            self._left_out("filters.include_brands / exclude_brands: brand {!r}", brand)
            return False
        if self.tags_in or self.tags_out:
            found = {t.strip().lower() for t in (tags or "").split(",") if t.strip()}
            if (self.tags_in and not found & self.tags_in) or found & self.tags_out:
                self._left_out("filters.include_tags / exclude_tags: tags {}", sorted(found))
                return False
        ptype = ptype or ""
        if self.types_in and not any(_within(ptype, t) for t in self.types_in):
            self._left_out("filters.include_product_types: product type {!r}", ptype)
            return False
        if any(_within(ptype, t) for t in self.types_out):
            self._left_out("filters.exclude_product_types: product type {!r}", ptype)
            return False
        return True

    # --- memoised steps (pure functions of their input) --------------------------------
    def catalog_price(
        self, amount: Any, currency: str, label: str = "price"
    ) -> tuple[Decimal, str]:
        """``price`` of a catalog amount, computed once per amount and currency: a catalog
        repeats few prices (variants share them, shops use price points). While tracing,
        nothing is memoised: every price is computed, and traced."""
        found = self.prices.get((amount, currency))
        if found is None:
            price = self.price(Decimal(amount), currency, label)
            found = _keep(self.prices, (amount, currency), price, PRICE_MEMO_SIZE)
        return found

    def description(self, text: str) -> str:
        if not self.strip or ("<" not in text and "&" not in text):
            return self._fit_description(text.strip())
        found = self.descriptions.get(text)
        if found is None:
            plain = strip_html(text).strip()
            found = _keep(self.descriptions, text, self._fit_description(plain))
            if self.description_cut:
                _keep(self.cut_descriptions, text, self.description_cut)
        elif self.cut_descriptions and text in self.cut_descriptions:
            self.description_cut = self.cut_descriptions[text]
        return found

    def _fit_description(self, plain: str) -> str:
        if len(plain) <= self.max_description:
            return plain
        self.description_cut = len(plain)
        return cut(plain, self.max_description)

    def cut_notes(self, title: str, description: str) -> list[str]:
        """The notes saying what the last ``title``/``description`` calls cut, and to what."""
        found = []
        for name, shown, length, limit in (
            ("title", title, self.title_cut, self.max_title),
            ("description", description, self.description_cut, self.max_description),
        ):
            if length:
                found.append(CUT_NOTE.format(
                    field=name, shown=len(shown), length=length, channel=self.channel.name,
                    limit=limit,
                ))  # fmt: skip
        return found

    def title(self, text: str) -> str:
        if self.strip:
            if "<" in text:
                text = strip_html(text)
            elif "&" in text and text.count("&") != text.count("& "):  # "&x", not "& "
                text = html.unescape(text)
        # printable text has no whitespace but " ": with single spaces inside it is normal
        # (strip returns the very same string when there is nothing to strip)
        if "  " in text or not text.isprintable() or text.strip(" ") is not text:
            text = " ".join(text.split())
        if len(text) <= self.max_title:
            return text
        self.title_cut = len(text)
        return cut(text, self.max_title)

    # --- the offer ---------------------------------------------------------------------
    def read_columns(self, available: Iterable[str]) -> tuple[str, ...]:
        """The columns to read for ``offer_row`` from a catalog with ``available`` columns:
        COLUMNS, plus the rest when a title or description expression needs the product."""
        if self.title_tpl or self.desc_tpl:
            self.columns = COLUMNS + tuple(c for c in available if c not in COLUMNS)
        return self.columns

    def offer(self, p: dict[str, Any], override: dict[str, Any] | None = None) -> Offer | None:
        """The offer for product ``p`` (as ``iter_catalog`` yields it) or None when the
        channel's filters leave it out. Raises ValueError for a product these rules cannot
        price (reported, not fatal)."""
        stock = p["stock"]
        if len(stock) > 1:
            stock = dict(sorted(stock.items()))
        return self.offer_row(tuple(map(p.get, COLUMNS)), p["images"], stock, override, p)

    def offer_row(
        self,
        row: tuple[Any, ...],
        images: list[str],
        stock: dict[str, int] | int,
        override: dict[str, Any] | None = None,
        product: dict[str, Any] | None = None,
    ) -> Offer | None:
        """``offer`` for a catalog row holding ``self.columns`` (the export's fast path);
        ``stock`` ordered by location, or the total over the channel's locations (``totals``:
        the offer then has no per-location stock). ``product``, the row as a dict, is built
        when needed."""
        (
            sku, group, handle, title, description, brand, gtin, mpn, condition, price,
            sale_price, currency, weight, ptype, category, link, color, size, material,
            pattern, gender, age_group, tags, status, tracking,
        ) = row if len(row) == WIDTH else row[:WIDTH]  # fmt: skip
        if status not in self.statuses or (override and override.get("excluded")):
            if self.trace is not None:
                self._left_out(
                    "excluded by the overrides table" if status in self.statuses
                    else "filters.status: status {!r} is not {}",
                    status, " or ".join(sorted(self.statuses)),
                )  # fmt: skip
            return None
        if self.filtered and not self.wanted(sku, brand, tags, ptype):
            return None
        if not isinstance(stock, dict):  # summed over this channel's locations (Totals)
            by_location: dict[str, int] = {}
            quantity = (
                (stock if stock > 0 else 0)
                if self.plain_stock
                else self.quantity(stock, self.trace)
            )
        elif self.plain_stock:  # quantity() is max(q, 0): no arithmetic to do
            counted = self.counted(stock)
            total = sum(counted.values())
            quantity = total if total > 0 else 0
            by_location = (
                counted  # (shared, never changed: usually no location is below zero)
                if min(counted.values(), default=0) >= 0
                else {loc: q if q > 0 else 0 for loc, q in counted.items()}
            )
        else:  # (and the traced path)
            trace = self.trace
            counted = self.counted(stock)
            total = sum(counted.values())
            if trace is not None:
                where = "all" if self.locations is None else ", ".join(sorted(self.locations))
                trace += (
                    Step("available", "on hand - committed", dict(stock)),
                    Step("locations", where, dict(counted)),
                    Step("locations summed", None, total),
                )
            quantity = self.quantity(total, trace)
            by_location = {loc: self.quantity(q) for loc, q in counted.items()}
            if trace is not None:
                trace.append(Step("stock tracking", tracking, quantity))
        if tracking == "untracked" or (tracking == "continue" and quantity < self.untracked):
            quantity, floor = self.untracked, self.untracked
            if tracking == "untracked":
                by_location = dict.fromkeys(by_location, floor)
            else:
                by_location = {loc: q if q > floor else floor for loc, q in by_location.items()}
            if self.trace is not None:
                self.trace.append(Step(f"{tracking}: untracked quantity", floor, quantity))
        if self.in_stock_only and quantity <= 0:
            self._left_out("filters.in_stock_only: out of stock")
            return None
        currency = currency.upper() if currency else self.target_currency
        sale = None
        if override and override.get("price"):  # in the channel's currency, as given
            out_currency = self.target_currency
            amount = override_price(override["price"], out_currency, self.channel.name)
            if self.trace is not None:
                self.trace.append(Step("price: override", override["price"], amount))
        else:
            amount, out_currency = self.catalog_price(price, currency)
            if self.use_sale and sale_price:
                sale, _ = self.catalog_price(sale_price, currency, "sale price")
                if sale >= amount:
                    sale = None
                    self._sale_dropped(amount)
        shown = sale if sale is not None else amount
        if (self.price_min is not None and shown < self.price_min) or (
            self.price_max is not None and shown > self.price_max
        ):
            if self.trace is not None:
                self._left_out(
                    "filters.price_min / price_max: price {} is outside {} - {}",
                    shown, self.price_min or "", self.price_max or "",
                )  # fmt: skip
            return None
        new_title = override.get("title") if override else None
        new_description = override.get("description") if override else None
        if (self.title_tpl and not new_title) or (self.desc_tpl and not new_description):
            if product is None:
                product = dict(zip(self.columns, row, strict=True))
                product["images"], product["stock"] = images, stock
            if self.title_tpl and not new_title:
                title = self.title_tpl.render(**product)
            if self.desc_tpl and not new_description:
                description = self.desc_tpl.render(**product)
        title = new_title or title
        description = new_description or description
        notes = []
        if gtin and not gtin_valid(gtin):
            notes.append(f"GTIN {gtin} fails the check digit; left out of the gtin field")
            gtin = None
        images = images[: self.max_images]
        if not link and self.link_template:
            link = self.link_template.format(
                handle=handle or sku, sku=sku, item_group_id=group or ""
            )
        if self.category_map:
            category = self.category(ptype, category)
        self.title_cut = self.description_cut = 0
        title, description = self.title(title), self.description(description or "")
        if self.title_cut or self.description_cut:
            notes.extend(self.cut_notes(title, description))
        return Offer(  # positional, in the order of Offer's fields (a test checks it)
            sku, group, title, description, link,
            images[0] if images else None, images[1:], brand, gtin, mpn, condition or "new",
            amount, sale, out_currency, quantity,
            "in_stock" if quantity > 0 else "out_of_stock", by_location, ptype, category,
            color, size, material, pattern, gender, age_group, weight,
            [t.strip() for t in tags.split(",") if t.strip()] if tags else [], notes,
        )  # fmt: skip


def override_price(value: Any, currency: str, channel: str) -> Decimal:
    """The price of an ``overrides`` row, in the channel's currency; ValueError naming the
    table, the channel, the column and the value when it is no price the channel can show."""
    from multichan.money import parse_money

    where = f"overrides table, channel {channel}, column price"
    try:
        amount = parse_money(value, currency)
    except ValueError as exc:
        raise ValueError(f"{where}: {value!r} is not a {currency} price ({exc})") from None
    if amount is None or amount <= 0:
        raise ValueError(f"{where}: {value!r} must be above zero")
    return quantize(amount, currency)


def _keep(memo: dict[Any, Any], key: Any, value: Any, size: int = MEMO_SIZE) -> Any:
    if len(memo) >= size:
        memo.clear()
    memo[key] = value
    return value


def _within(product_type: str, prefix: str) -> bool:
    """'Apparel > Shirts' is within 'Apparel' and within itself."""
    return product_type == prefix or product_type.startswith(prefix + " >")


def _environment():  # -> jinja2.Environment
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(  # templates read products, never change them
        undefined=StrictUndefined,
        autoescape=False,
        finalize=lambda value: "" if value is None else value,
    )


def _expression(source: str):  # -> jinja2.Template
    return _environment().from_string(source)


def expression_problem(source: str) -> str | None:
    """What is wrong with a ``content.title``/``description`` expression, found before any
    product is rendered: a syntax error, or a name that is no product field (which would
    leave every product out); None when it is fine."""
    from jinja2 import TemplateSyntaxError, meta

    from multichan.catalog.store import PRODUCT_FIELDS

    env = _environment()
    try:
        names = meta.find_undeclared_variables(env.parse(source))
    except TemplateSyntaxError as exc:
        return f"{exc.message} (line {exc.lineno} of the expression)"
    known = {"sku", *PRODUCT_FIELDS, "images", "stock", "created_at", "updated_at", *env.globals}
    unknown = sorted(names - known)
    if unknown:
        from multichan.errors import did_you_mean

        return (f"{unknown[0]!r} is not a product field"
                + did_you_mean(unknown[0], sorted(known - set(env.globals))))  # fmt: skip
    return None


@dataclass
class Skipped:
    sku: str
    reason: str

    @classmethod
    def of(cls, sku: str, exc: Exception) -> Skipped:
        """A product the rules could not handle: ValueErrors are the rules' own messages."""
        return cls(sku, str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}")


def build(
    products: Iterable[dict[str, Any]],
    rules: Rules,
    overrides: dict[str, dict[str, Any]],
    on_error: Callable[[Skipped], None],
) -> Iterator[Offer]:
    """Offers for every product the channel wants; products the rules cannot handle are
    reported through ``on_error`` and skipped."""
    for p in products:
        try:
            offer = rules.offer(p, overrides.get(p["sku"]))
        except Exception as exc:  # one bad row never stops the rest
            on_error(Skipped.of(p["sku"], exc))
            continue
        if offer is not None:
            yield offer


def rules_for(channel: Channel, config: Config) -> Rules:
    """The channel's compiled rules, with its format's limits (a feed) or what its channel
    module declares (an API channel: HTML kept where the API takes it)."""
    from multichan.feeds.formats import FORMATS

    fmt = FORMATS.get(channel.type)
    if fmt is not None:
        html, title, description = fmt.strip_html, fmt.max_title, fmt.max_description
    else:
        from multichan.channels.registry import load

        api = load(channel.type)
        html, title, description = not api.accepts_html, api.max_title, api.max_description
    return Rules(
        channel, config.shop, strip_html_default=html, max_title=title, max_description=description
    )


def load_overrides(db: sqlite_utils.Database, channel: str) -> dict[str, dict[str, Any]]:
    return {r["sku"]: r for r in db.query("SELECT * FROM overrides WHERE channel = ?", [channel])}


def offers_for(
    db: sqlite_utils.Database, channel: Channel, config: Config, on_error: Callable[[Skipped], None]
) -> Iterator[Offer]:
    """The channel's offers in SKU order: the one source of its prices and quantities, for
    its feed and its pushes alike."""
    from multichan.catalog.store import iter_catalog

    return build(
        iter_catalog(db), rules_for(channel, config), load_overrides(db, channel.name), on_error
    )
