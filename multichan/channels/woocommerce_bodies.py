"""The data side of the WooCommerce channel: the request bodies it builds from offers (simple
products, variable parents, variations, takeovers of existing objects) and the reading of
WooCommerce's batch answers back into per-SKU results.

Everything here is pure (no HTTP), so it can be read next to WooCommerce's property tables
(``../shared/specs/woocommerce/rest-api-docs/_products.md``, ``_product-variations.md``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from multichan.channels.base import ItemResult
from multichan.money import to_text
from multichan.offers import Offer

ATTRIBUTES = ("color", "size", "material", "pattern")
NO_RESULT = "multichan_no_result"  # a batch answer without a result for an object
Json = dict[str, Any]


# --- request bodies --------------------------------------------------------------------------
def _sale(o: Offer) -> str:
    """WooCommerce's sale_price: "" ends a sale."""
    return to_text(o.sale_price, o.currency) or ""


def images(o: Offer) -> list[Json]:
    return [{"src": url} for url in [o.image_link, *o.additional_image_links] if url]


def stock_and_price(o: Offer) -> Json:
    return {
        "regular_price": to_text(o.price, o.currency), "sale_price": _sale(o),
        "manage_stock": True, "stock_quantity": o.quantity,
    }  # fmt: skip


def simple(o: Offer) -> Json:
    return {
        "name": o.title, "type": "simple", "status": "publish", "sku": o.sku,
        "description": o.description, **stock_and_price(o), "images": images(o),
    }  # fmt: skip


def variation(o: Offer, attributes: list[Json]) -> Json:
    body = {"sku": o.sku, "status": "publish", **stock_and_price(o), "attributes": attributes}
    if o.image_link:
        body["image"] = {"src": o.image_link}
    return body


def own_attributes(o: Offer) -> list[tuple[str, str]]:
    """The (name, option) pairs that tell this variant apart; its SKU when it has none."""
    pairs = [(f.capitalize(), str(getattr(o, f))) for f in ATTRIBUTES if getattr(o, f)]
    return pairs or [("Option", o.sku)]


def base_title(o: Offer) -> str:
    """The title without trailing attribute values: "Tee - Black / M" -> "Tee"."""
    title, values = o.title, [v for _, v in own_attributes(o)]
    while True:
        tail = next((v for v in values if title.casefold().endswith(" " + v.casefold())), None)
        if tail is None:
            return title or o.title
        title = title[: -len(tail) - 1].rstrip(" -/,|")


def parent(group: str, members: list[Offer]) -> Json:
    """The create body of the variable product of ``group``."""
    options: dict[str, list[str]] = {}
    for o in members:
        for name, value in own_attributes(o):
            if value not in options.setdefault(name, []):
                options[name].append(value)
    attributes = [
        {"name": name, "position": i, "visible": True, "variation": True, "options": values}
        for i, (name, values) in enumerate(options.items())
    ]
    return {
        "name": Counter(base_title(o) for o in members).most_common(1)[0][0],
        "type": "variable", "status": "publish", "sku": group,
        "description": members[0].description, "attributes": attributes,
        "images": images(members[0]),
    }  # fmt: skip


def takeover(create: Json, found: Json) -> Json:
    """The update that makes ``found`` (existing) what ``create`` would have made; it keeps the
    images and status it has, and the attribute options (the variants' are added)."""
    body = {k: v for k, v in create.items() if k not in ("type", "status", "images", "image")}
    if "attributes" in body and found.get("type") == "variable":
        merged = [dict(a) for a in rows(found.get("attributes"))]
        for attr in body["attributes"]:
            same = [a for a in merged if str(a.get("name")).casefold() == attr["name"].casefold()]
            if not same:
                merged.append({**attr, "position": len(merged)})
                continue
            have = [str(v) for v in same[0].get("options") or []]
            new = [v for v in attr["options"] if v.casefold() not in {h.casefold() for h in have}]
            same[0].update(variation=True, options=have + new)
        body["attributes"] = merged
    return body


def relisted(body: Json, relist: bool) -> Json:
    """``body`` putting its object back on sale (status ``publish``) when ``relist`` (a SKU
    ``drift --fix`` relists); otherwise an update keeps the status the seller gave it."""
    return {**body, "status": "publish"} if relist else body


# --- answers ---------------------------------------------------------------------------------
def rows(data: Any) -> list[Json]:
    return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []


def price_fields(o: Offer) -> Json:
    """An update's price fields: WooCommerce takes prices as strings; no sale price clears it."""
    return {"regular_price": to_text(o.price, o.currency), "sale_price": _sale(o)}


def stock_fields(o: Offer) -> Json:
    """An update's stock fields: managed stock, set to the absolute quantity."""
    return {"manage_stock": True, "stock_quantity": o.quantity}


def error(code: str, message: str) -> Json:
    return {"id": 0, "error": {"code": code, "message": message}}


def error_of(out: Json) -> Json:
    """The ``error`` object of one batch answer ({} when it has none)."""
    found = out.get("error")
    return found if isinstance(found, dict) else {}


def owner_id(out: Json) -> int | None:
    """The id of the object that holds the SKU a create was refused for: WooCommerce puts it
    in the ``product_invalid_sku`` error as ``data.resource_id``."""
    data = error_of(out).get("data")
    rid = str(data.get("resource_id", "")) if isinstance(data, dict) else ""
    return int(rid) if rid.isdigit() and int(rid) > 0 else None


def result(sku: str, out: Json, key: str, prefix: str = "", **ids: str) -> ItemResult:
    """The ItemResult of one batch answer: its id under ``key``, or WooCommerce's message."""
    if out.get("error") is None and out.get("id"):
        return ItemResult.accepted(sku, **ids, **{key: str(out["id"])})
    err = error_of(out)
    message = prefix + str(err.get("message") or "WooCommerce sent no id for it")
    code = str(err.get("code") or "")
    retriable = code == NO_RESULT
    text = f"{message} ({code})" if code and not retriable else message
    return ItemResult.rejected(sku, text, retriable=retriable)
