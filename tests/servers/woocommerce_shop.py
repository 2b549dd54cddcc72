"""The in-memory shop behind the WooCommerce test server (tests/servers/woocommerce.py): products
and variations, changed by batches as WooCommerce's REST API v3 documentation says
(``../shared/specs/woocommerce/rest-api-docs/*.md``, ``SPEC-NOTES.md``), not as the client does.

As documented:
- a batch takes at most ``batch_limit`` (100) objects across create+update+delete, else HTTP
  413 ``woocommerce_rest_request_entity_too_large``; the HTTP 200 answer lists each verb's
  results in request order, a failed item as ``{"id": <id, 0 for a create>, "error": {"code",
  "message", "data": {"status": 400}}}``;
- the property tables' types, nested ones too (prices are strings, "" or decimal;
  ``stock_quantity`` an integer or null; ``manage_stock`` a boolean; enums), else a per-item
  ``rest_invalid_param`` naming each bad parameter in ``data.params``; stricter than WooCommerce,
  unknown and read-only fields are refused too, so a misspelt field cannot pass unseen;
- one SKU per product or variation (``product_invalid_sku`` "Invalid or duplicated SKU."); an
  unknown id to update is ``woocommerce_rest_product[_variation]_invalid_id`` "Invalid ID."; a
  variation keeps only attributes its parent has with ``variation: true`` (WooCommerce drops the
  others); ``manage_stock`` makes the stock status follow the quantity.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

Json = dict[str, Any]

# the writable properties of the docs' tables: a type name, an enum (tuple), [item] or {object}
STR, BOOL, INT, NULL_INT, PRICE = "string", "boolean", "integer", "integer|null", "price"
STATUS = ("draft", "pending", "private", "publish")
COMMON = {
    "regular_price": PRICE, "sale_price": PRICE, "manage_stock": BOOL,
    "stock_quantity": NULL_INT, "stock_status": ("instock", "outofstock", "onbackorder"),
    "backorders": ("no", "notify", "yes"), "tax_status": ("taxable", "shipping", "none"),
    "tax_class": STR, "weight": STR, "menu_order": INT, "virtual": BOOL, "downloadable": BOOL,
    "sku": STR, "description": STR, "meta_data": [{"key": STR, "value": STR}],
}  # fmt: skip
IMAGE = {"id": INT, "src": STR, "name": STR, "alt": STR}
PRODUCT = {
    **COMMON, "name": STR, "slug": STR, "status": STATUS, "featured": BOOL,
    "type": ("simple", "grouped", "external", "variable"), "short_description": STR,
    "catalog_visibility": ("visible", "catalog", "search", "hidden"),
    "categories": [{"id": INT}], "tags": [{"id": INT}], "images": [IMAGE],
    "attributes": [{"id": INT, "name": STR, "position": INT, "visible": BOOL, "variation": BOOL,
                    "options": [STR]}],
    "default_attributes": [{"id": INT, "name": STR, "option": STR}],
}  # fmt: skip
VARIATION = {
    **COMMON, "status": STATUS, "image": IMAGE,
    "attributes": [{"id": INT, "name": STR, "option": STR}],
}  # fmt: skip


class WooError(Exception):
    def __init__(self, code: str, message: str, status: int = 400, **data: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, {"status": status, **data}

    def as_json(self) -> Json:
        return {"code": self.code, "message": self.message, "data": self.data}


def _problems(value: Any, kind: Any, name: str) -> list[str]:
    """What in ``value`` does not fit ``kind``, worded like WordPress's schema validation."""
    if isinstance(kind, dict):
        if not isinstance(value, dict):
            return [f"{name} is not of type object."]
        found = [f"{name}[{k}] is not a writable property." for k in value if k not in kind]
        return found + [
            p for k, v in value.items() if k in kind for p in _problems(v, kind[k], f"{name}[{k}]")
        ]
    if isinstance(kind, list):
        if not isinstance(value, list):
            return [f"{name} is not of type array."]
        return [p for i, item in enumerate(value) for p in _problems(item, kind[0], f"{name}[{i}]")]
    if isinstance(kind, tuple):
        return [] if value in kind else [f"{name} is not one of {', '.join(kind)}."]
    integer = isinstance(value, int) and not isinstance(value, bool)
    ok = {
        STR: isinstance(value, str), BOOL: isinstance(value, bool), INT: integer,
        NULL_INT: integer or value is None, PRICE: isinstance(value, str),
    }[kind]  # fmt: skip
    if not ok:
        return [f"{name} is not of type {kind.replace('price', 'string')}."]
    if kind == PRICE and value:
        with contextlib.suppress(InvalidOperation):
            Decimal(value)
            return []
        return [f"{name} is not a decimal number."]
    return []


def _validate(fields: Json, schema: Json) -> None:
    params = {}
    for name, value in fields.items():
        if name == "id":
            continue
        found = _problems(value, schema[name], name) if name in schema else []
        if name not in schema or found:
            params[name] = found[0] if found else f"{name} is not a writable property."
    if params:
        raise WooError(
            "rest_invalid_param", f"Invalid parameter(s): {', '.join(params)}", params=params
        )


@dataclass
class WooShop:
    """The shop's products and variations, and what each documented batch does to them."""

    batch_limit: int = 100
    posts: dict[int, Json] = field(default_factory=dict)  # products and variations, by id
    parent_of: dict[int, int] = field(default_factory=dict)  # variation id -> product id
    next_id: int = 100

    # --- what tests look at -------------------------------------------------------------------
    @property
    def products(self) -> dict[int, Json]:
        return {i: p for i, p in self.posts.items() if i not in self.parent_of}

    def by_sku(self, sku: str) -> Json | None:
        return next((obj for obj in self.posts.values() if obj["sku"] == sku), None)

    def variations_of(self, product_id: int) -> list[Json]:
        return [self.posts[v] for v in self.posts[product_id]["variations"]]

    # --- the store ------------------------------------------------------------------------------
    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _check_sku(self, sku: str, own_id: int | None) -> None:
        owner = self.by_sku(sku) if sku else None
        if owner is not None and owner["id"] != own_id:
            raise WooError(
                "product_invalid_sku", "Invalid or duplicated SKU.",
                resource_id=owner["id"], unique_sku=f"{sku}-1",
            )  # fmt: skip

    def _apply(self, obj: Json, fields: Json, parent: Json | None) -> None:
        for name, value in fields.items():
            if name == "images":
                obj["images"] = [self._image(i) for i in value]
            elif name == "image":
                obj["image"] = self._image(value)
            elif name == "attributes" and parent is not None:  # only what the parent offers
                obj["attributes"] = [
                    {"id": p["id"], "name": p["name"], "option": a.get("option", "")}
                    for a in value
                    if (p := next((p for p in parent["attributes"] if _same(a, p)), None))
                ]
            elif name == "attributes":
                obj["attributes"] = [
                    {"id": 0, "position": i, "visible": False, "variation": False, "options": [],
                     **a}
                    for i, a in enumerate(value)
                ]  # fmt: skip
            elif name != "id":
                obj[name] = value
        obj["price"] = obj["sale_price"] or obj["regular_price"]
        obj["on_sale"] = bool(obj["sale_price"])
        if obj["manage_stock"] and obj["stock_quantity"] is not None:
            obj["stock_status"] = "instock" if obj["stock_quantity"] > 0 else "outofstock"

    def _image(self, image: Json) -> Json:
        return {"id": image.get("id") or self._id(), "src": image.get("src", ""), "alt": ""}

    def _get(self, parent: Json | None, item_id: Any, status: int = 400) -> Json:
        """The product (``parent`` None) or the variation of ``parent`` with this id."""
        found = self.posts.get(item_id) if isinstance(item_id, int) else None
        if found is None or self.parent_of.get(item_id) != (parent and parent["id"]):
            kind = "product_variation" if parent else "product"
            raise WooError(f"woocommerce_rest_{kind}_invalid_id", "Invalid ID.", status)
        return found

    def create(self, parent: Json | None, fields: Json) -> Json:
        """A product, or (``parent`` given) a variation of it."""
        _validate(fields, VARIATION if parent else PRODUCT)
        self._check_sku(fields.get("sku", ""), None)
        obj: Json = {
            "id": self._id(), "sku": "", "status": "publish", "description": "",
            "regular_price": "", "sale_price": "", "manage_stock": False,
            "stock_quantity": None, "stock_status": "instock", "attributes": [],
        }  # fmt: skip
        if parent:
            obj["image"] = None
            self.parent_of[obj["id"]] = parent["id"]
            parent["variations"].append(obj["id"])
        else:
            obj |= {"name": "", "type": "simple", "images": [], "variations": [], "parent_id": 0}
        self._apply(obj, fields, parent)
        self.posts[obj["id"]] = obj
        return obj

    def update(self, parent: Json | None, fields: Json) -> Json:
        obj = self._get(parent, fields.get("id"))
        _validate(fields, VARIATION if parent else PRODUCT)
        self._check_sku(fields.get("sku", ""), obj["id"])
        self._apply(obj, fields, parent)
        return obj

    def delete(self, parent: Json | None, item_id: Any) -> Json:
        obj = self._get(parent, item_id, 404)
        for post_id in [obj["id"], *obj.get("variations", [])]:
            self.posts.pop(post_id)
            self.parent_of.pop(post_id, None)
        if parent:
            parent["variations"].remove(obj["id"])
        return obj

    def batch(self, body: Any, parent: Json | None) -> Json:
        if not isinstance(body, dict):
            raise WooError("rest_invalid_json", "Invalid JSON body passed.")
        ops = {"create": self.create, "update": self.update, "delete": self.delete}
        if sum(len(body.get(k) or []) for k in ops) > self.batch_limit:
            raise WooError(
                "woocommerce_rest_request_entity_too_large",
                f"Unable to accept more than {self.batch_limit} items for this request.", 413,
            )  # fmt: skip
        answer: Json = {}
        for verb, op in ops.items():
            for item in body.get(verb) or []:
                try:
                    if verb != "delete" and not isinstance(item, dict):
                        raise WooError("rest_invalid_param", f"Invalid parameter(s): {verb}")
                    answer.setdefault(verb, []).append(json.loads(json.dumps(op(parent, item))))
                except WooError as exc:
                    update_id = item.get("id") if isinstance(item, dict) else None
                    item_id = {"create": 0, "update": update_id, "delete": item}[verb]
                    answer.setdefault(verb, []).append({"id": item_id, "error": exc.as_json()})
        return answer


def _same(given: Json, offered: Json) -> bool:
    """Whether a variation's attribute is the parent's ``offered`` one (by id, else by name)."""
    name = str(given.get("name", "")).casefold()
    same = given["id"] == offered["id"] if given.get("id") else name == offered["name"].casefold()
    return bool(offered["variation"] and same)
