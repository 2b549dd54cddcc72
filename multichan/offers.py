"""The rules engine: catalog product + one channel's rules -> Offer.

An offer is what one channel should show for one SKU. Feeds render offers and pushes diff them,
so every price and quantity a channel sees is computed here and nowhere else.

Order of the rules, documented in the README:
- price: per-SKU override (used as given) or catalog price -> currency conversion -> markup
  percent -> fixed amount -> rounding -> minimum price; the sale price goes through the same
  steps and is dropped when it is not below the price.
- stock: sum over the channel's locations -> buffer -> percent (rounded down) -> cap ->
  out-of-stock threshold; never below zero.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from multichan.catalog.checks import gtin_valid
from multichan.config import Channel

HUNDRED = Decimal(100)
CENT = Decimal("0.01")
TAG_RE = re.compile(r"</?[A-Za-z!][^>]*>")
BLOCK_RE = re.compile(r"(?i)<\s*(br|/p|/div|/li|/h[1-6]|/tr)\s*/?>")
SPACE_RE = re.compile(r"[ \t\r\f\v]+")


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
        return {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]


def strip_html(text: str) -> str:
    """Plain text from seller HTML: block ends become line breaks, entities are decoded."""
    if "<" not in text and "&" not in text:
        return text.strip()
    text = BLOCK_RE.sub("\n", text)
    text = html.unescape(TAG_RE.sub("", text))
    lines = (SPACE_RE.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, at a word boundary when one is near."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = head.rfind(" ")
    return (head[:space] if space > limit * 0.8 else head).rstrip(" ,;:-/")


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
        self.target_currency, self.rates = p["currency"], p["rates"]
        self.use_sale = p["use_sale_price"]
        self.locations = set(s["locations"]) if s["locations"] is not None else None
        self.buffer, self.cap, self.percent = s["buffer"], s["cap"], s["percent"]
        self.threshold = s["out_of_stock_below"]
        self.strip = c["strip_html"] if c["strip_html"] is not None else strip_html_default
        self.category_map: dict[str, str] = {str(k): str(v) for k, v in c["category_map"].items()}
        self.max_images = c["max_images"]
        self.max_title, self.max_description = max_title, max_description
        self.link_template = shop.get("link_template")
        self.title_tpl = _expression(c["title"]) if c["title"] else None
        self.desc_tpl = _expression(c["description"]) if c["description"] else None

    # --- stock -------------------------------------------------------------------------
    def quantity(self, on_hand: int) -> int:
        qty = max(on_hand - self.buffer, 0)
        if self.percent != HUNDRED:
            qty = int((Decimal(qty) * self.percent / HUNDRED).to_integral_value(ROUND_FLOOR))
        if self.cap is not None:
            qty = min(qty, self.cap)
        return 0 if qty < self.threshold else qty

    # --- price -------------------------------------------------------------------------
    def price(self, amount: Decimal, currency: str) -> tuple[Decimal, str]:
        if self.target_currency and currency != self.target_currency:
            rate = self.rates.get(currency)
            if rate is None:
                raise ValueError(
                    f"no rate from {currency} to {self.target_currency} in price.rates"
                )
            amount, currency = amount * rate, self.target_currency
        amount = amount * self.markup + self.add
        amount = round_price(amount.quantize(CENT, ROUND_HALF_UP), self.rounding)
        if self.min_price is not None and amount < self.min_price:
            amount = self.min_price
        return amount.quantize(CENT, ROUND_HALF_UP), currency

    def category(self, product_type: str | None, fallback: str | None) -> str | None:
        if product_type and self.category_map:
            best = max(
                (k for k in self.category_map if _within(product_type, k)), key=len, default=None
            )
            if best is not None:
                return self.category_map[best]
        return fallback

    # --- filters -----------------------------------------------------------------------
    def wanted(self, p: dict[str, Any]) -> bool:
        if p["status"] not in self.statuses:
            return False
        sku = p["sku"]
        if (self.skus_in and sku not in self.skus_in) or sku in self.skus_out:
            return False
        brand = (p.get("brand") or "").lower()
        if (self.brands_in and brand not in self.brands_in) or brand in self.brands_out:
            return False
        if self.tags_in or self.tags_out:
            tags = {t.strip().lower() for t in (p.get("tags") or "").split(",") if t.strip()}
            if (self.tags_in and not tags & self.tags_in) or tags & self.tags_out:
                return False
        ptype = p.get("product_type") or ""
        if self.types_in and not any(_within(ptype, t) for t in self.types_in):
            return False
        return not any(_within(ptype, t) for t in self.types_out)

    # --- the offer ---------------------------------------------------------------------
    def offer(self, p: dict[str, Any], override: dict[str, Any] | None = None) -> Offer | None:
        """The offer for product row ``p`` or None when the channel's filters leave it out.

        Raises ValueError for a product these rules cannot price (reported, not fatal).
        """
        if not self.wanted(p) or (override and override.get("excluded")):
            return None
        stock: dict[str, int] = p["stock"]
        counted = {
            loc: q for loc, q in stock.items() if self.locations is None or loc in self.locations
        }
        quantity = self.quantity(sum(counted.values()))
        if self.in_stock_only and quantity <= 0:
            return None
        currency = p["currency"] or "USD"
        if override and override.get("price"):
            price, out_currency = Decimal(override["price"]), self.target_currency or currency
            sale = None
        else:
            price, out_currency = self.price(Decimal(p["price"]), currency)
            sale = None
            if self.use_sale and p.get("sale_price"):
                sale, _ = self.price(Decimal(p["sale_price"]), currency)
                if sale >= price:
                    sale = None
        shown = sale if sale is not None else price
        if (self.price_min is not None and shown < self.price_min) or (
            self.price_max is not None and shown > self.price_max
        ):
            return None
        title = (override or {}).get("title") or (
            self.title_tpl.render(**p) if self.title_tpl else p["title"]
        )
        description = (override or {}).get("description") or (
            self.desc_tpl.render(**p) if self.desc_tpl else p.get("description") or ""
        )
        if self.strip:
            title, description = strip_html(title), strip_html(description)
        title = cut(" ".join(title.split()), self.max_title)
        description = cut(description.strip(), self.max_description)
        notes = []
        gtin = p.get("gtin")
        if gtin and not gtin_valid(gtin):
            notes.append(f"GTIN {gtin} fails the check digit; left out of the gtin field")
            gtin = None
        images = p["images"][: self.max_images]
        link = p.get("link")
        if not link and self.link_template:
            link = self.link_template.format(
                handle=p.get("handle") or p["sku"],
                sku=p["sku"],
                item_group_id=p.get("item_group_id") or "",
            )
        return Offer(
            sku=p["sku"], item_group_id=p.get("item_group_id"), title=title,
            description=description, link=link, image_link=images[0] if images else None,
            additional_image_links=images[1:], brand=p.get("brand"), gtin=gtin,
            mpn=p.get("mpn"), condition=p.get("condition") or "new", price=price,
            sale_price=sale, currency=out_currency, quantity=quantity,
            availability="in_stock" if quantity > 0 else "out_of_stock",
            location_quantities={loc: self.quantity(q) for loc, q in sorted(counted.items())},
            product_type=p.get("product_type"),
            google_product_category=self.category(p.get("product_type"),
                                                  p.get("google_product_category")),
            color=p.get("color"), size=p.get("size"), material=p.get("material"),
            pattern=p.get("pattern"), gender=p.get("gender"), age_group=p.get("age_group"),
            weight_grams=p.get("weight_grams"),
            tags=[t.strip() for t in (p.get("tags") or "").split(",") if t.strip()],
            notes=notes,
        )  # fmt: skip


def _within(product_type: str, prefix: str) -> bool:
    """'Apparel > Shirts' is within 'Apparel' and within itself."""
    return product_type == prefix or product_type.startswith(prefix + " >")


def _expression(source: str):  # -> jinja2.Template
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        finalize=lambda value: "" if value is None else value,
    )
    return env.from_string(source)


@dataclass
class Skipped:
    sku: str
    reason: str


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
            on_error(
                Skipped(
                    p["sku"],
                    f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc),
                )
            )
            continue
        if offer is not None:
            yield offer
