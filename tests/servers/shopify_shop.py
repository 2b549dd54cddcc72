"""The in-memory shop behind the Shopify test endpoint: products, variants, inventory items and
one location, changed by the mutations multichan uses, with the ``userErrors`` Shopify returns
(field paths, codes and messages as the 2025-01 schema documents them), and the shop's orders
(``shop.orders``: tests/servers/shopify_orders.py), which tests place and change directly.

Resolvers return plain dicts; graphql-core's default resolver reads them (calling the ones
that take arguments), so each response carries exactly the fields the query selected.
Semantics modelled on Shopify's docs: productSet replaces the variant list it is given (variants
left out are deleted) and is all-or-nothing; productVariantsBulkUpdate is all-or-nothing unless
``allowPartialUpdates``; inventorySetQuantities sets absolute values, compare-and-set unless
``ignoreCompareQuantity``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from graphql import GraphQLError

from tests.servers.shopify_orders import Orders

LOCATION = "gid://shopify/Location/1"
REASONS = frozenset(
    ("correction", "cycle_count_available", "damaged", "movement_created", "movement_updated",
     "movement_received", "movement_canceled", "other", "promotion", "quality_control",
     "received", "reservation_created", "reservation_deleted", "reservation_updated",
     "restock", "safety_stock", "shrinkage")
)  # fmt: skip
SKU_TERM = re.compile(r'sku:(?:"((?:[^"\\]|\\.)*)"|(\S+))')
Row = dict[str, Any]


class Shop:
    """State plus the root resolvers (``root()``) the endpoint executes queries against."""

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        """``now``: the orders' clock (aware datetimes; real UTC time by default)."""
        self.products: dict[str, Row] = {}
        self.variants: dict[str, Row] = {}
        self.items: dict[str, Row] = {}
        self.locations = {LOCATION}
        self._ids = itertools.count(1001)
        self.orders = Orders(self, now)

    def gid(self, kind: str) -> str:
        return f"gid://shopify/{kind}/{next(self._ids)}"

    def root(self) -> dict[str, Any]:
        return {
            "productSet": lambda info, input, synchronous=True: self.product_set(input),
            "productVariantsBulkUpdate": lambda info, **a: self.variants_update(**a),
            "inventorySetQuantities": lambda info, input: self.set_quantities(input),
            "productByIdentifier": lambda info, identifier: self._find(identifier),
            "product": lambda info, id: self._find({"id": id}),
            "productVariants": lambda info, **a: self._search(**a),
            **self.orders.root(),
        }

    # --- direct set-up for tests ----------------------------------------------------------
    def seed(self, title: str, skus: list[str], price: str = "10.00") -> Row:
        """A product with one variant per SKU (option "Title"), as if made in the admin."""
        answer = self.product_set(
            {
                "title": title,
                "productOptions": [{"name": "Title", "values": [{"name": s} for s in skus]}],
                "variants": [
                    {"sku": s, "price": price, "optionValues": [{"optionName": "Title", "name": s}]}
                    for s in skus
                ],
            }
        )
        assert not answer["userErrors"], answer["userErrors"]
        return self.products[answer["product"]["id"]]

    def by_sku(self, sku: str) -> Row:
        return next(v for v in self.variants.values() if v["sku"] == sku)

    def available(self, sku: str, location: str = LOCATION) -> int:
        return self.items[self.by_sku(sku)["item"]]["levels"][location]["available"]

    # --- mutations ------------------------------------------------------------------------
    def product_set(self, data: Row) -> Row:
        errors: list[Row] = []

        def err(field: list[str], message: str, code: str) -> None:
            errors.append({"field": field, "message": message, "code": code})

        product = None
        title = data.get("title")
        if data.get("id"):
            product = self.products.get(data["id"])
            if product is None:
                err(["input", "id"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")
        elif data.get("handle") in {p["handle"] for p in self.products.values()}:
            message = f"Handle '{data['handle']}' already in use. Please provide a new handle."
            err(["input", "handle"], message, "HANDLE_NOT_UNIQUE")
        if (product is None or title is not None) and not (title or "").strip():
            err(["input", "title"], "Title can't be blank", "INVALID_PRODUCT")
        options, variants = data.get("productOptions"), data.get("variants")
        if variants is not None and options is None:
            message = "Must specify product options when updating variants."
            err(["input", "productOptions"], message, "PRODUCT_OPTIONS_INPUT_MISSING")
        if options is not None and variants is None:
            err(["input", "variants"], "Must specify variants when updating options.",
                "VARIANTS_INPUT_MISSING")  # fmt: skip
        if options is not None and variants is not None:
            self._check_variants(product, options, variants, err)
        if errors:
            return {"product": None, "productSetOperation": None, "userErrors": errors}
        if product is None:
            product = {"id": self.gid("Product"), "status": "ACTIVE", "variants": [], "files": []}
            product["handle"] = data.get("handle") or re.sub(r"\W+", "-", str(title).lower()).strip(
                "-"
            )
            self.products[product["id"]] = product
            if variants is None:
                options = [{"name": "Title", "values": [{"name": "Default Title"}]}]
                variants = [{"optionValues": [{"optionName": "Title", "name": "Default Title"}]}]
        for key in ("title", "descriptionHtml", "vendor", "productType", "tags", "status"):
            if data.get(key) is not None:
                product[key] = data[key]
        if data.get("files") is not None:
            product["files"] = [f.get("originalSource") for f in data["files"]]
        if options is not None and variants is not None:
            product["options"] = [(o["name"], [v["name"] for v in o["values"]]) for o in options]
            keep = [self._save_variant(product, v) for v in variants]
            for gone in set(product["variants"]) - set(keep):
                self.items.pop(self.variants.pop(gone)["item"])
            product["variants"] = keep
        return {"product": self.product_view(product), "productSetOperation": None,
                "userErrors": []}  # fmt: skip

    def _check_variants(self, product: Row | None, options: list[Row], variants: list[Row],
                        err: Any) -> None:  # fmt: skip
        names = [o.get("name") for o in options]
        if len(options) > 3:
            err(["input", "productOptions"], "Can only specify a maximum of 3 options",
                "OPTIONS_OVER_LIMIT")  # fmt: skip
        if len(set(names)) < len(names):
            err(["input", "productOptions"], "Duplicated option name.", "DUPLICATED_OPTION_NAME")
        allowed = {o.get("name"): [v.get("name") for v in o.get("values") or []] for o in options}
        for j, option in enumerate(options):
            if not option.get("values"):
                err(["input", "productOptions", str(j), "values"],
                    "Each option must have at least one option value specified.",
                    "OPTION_VALUES_MISSING")  # fmt: skip
        seen: set[tuple[Any, ...]] = set()
        for i, v in enumerate(variants):
            path = ["input", "variants", str(i)]
            chosen = {c.get("optionName"): c.get("name") for c in v["optionValues"]}
            bad = [(n, x) for n, x in chosen.items() if x not in allowed.get(n, [])]
            combo = tuple(chosen.get(n) for n in names)
            if set(chosen) != set(names):
                err([*path, "optionValues"], "Option values must be provided for every option: "
                    + ", ".join(map(str, names)), "INVALID_VARIANT")  # fmt: skip
            elif bad:
                err([*path, "optionValues"], f"Option value '{bad[0][1]}' does not exist for "
                    f"option '{bad[0][0]}'", "OPTION_VALUE_DOES_NOT_EXIST")  # fmt: skip
            elif combo in seen:
                err([*path, "optionValues"],
                    f"The variant '{' / '.join(map(str, combo))}' already exists.",
                    "INVALID_VARIANT")  # fmt: skip
            seen.add(combo)
            owner = self.variants.get(v.get("id") or "", {}).get("product")
            if v.get("id") and (product is None or owner != product["id"]):
                err([*path, "id"], "Product variant does not exist",
                    "PRODUCT_VARIANT_DOES_NOT_EXIST")  # fmt: skip
            if v.get("price") is not None and Decimal(v["price"]) < 0:
                err([*path, "price"], "Price must be greater than or equal to 0",
                    "INVALID_VARIANT")  # fmt: skip
            if len(v.get("sku") or "") > 255:
                err([*path, "sku"], "SKU is too long (maximum is 255 characters)",
                    "INVALID_VARIANT")  # fmt: skip

    def _save_variant(self, product: Row, v: Row) -> str:
        if v.get("id"):
            row = self.variants[v["id"]]
        else:
            item: Row = {
                "id": self.gid("InventoryItem"),
                "sku": None,
                "tracked": False,
                "levels": {loc: {"available": 0, "on_hand": 0} for loc in self.locations},
            }
            row = {
                "id": self.gid("ProductVariant"),
                "product": product["id"],
                "sku": None,
                "price": "0.00",
                "compareAtPrice": None,
                "barcode": None,
                "item": item["id"],
            }
            self.items[item["id"]] = item  # fmt: skip
            self.variants[row["id"]] = row
        row["options"] = {c["optionName"]: c["name"] for c in v["optionValues"]}
        for key in ("price", "compareAtPrice", "barcode", "inventoryPolicy", "sku"):
            if key in v:
                row[key] = v[key]
        item_input = v.get("inventoryItem") or {}
        item = self.items[row["item"]]
        item["sku"] = row["sku"] = v.get("sku", item_input.get("sku", row["sku"]))
        for key in ("tracked", "measurement"):
            if key in item_input:
                item[key] = item_input[key]
        return row["id"]

    def variants_update(self, productId: str, variants: list[Row], **args: Any) -> Row:
        product = self.products.get(productId)
        if product is None:
            error = {"field": ["productId"], "message": "Product does not exist",
                     "code": "PRODUCT_DOES_NOT_EXIST"}  # fmt: skip
            return {"product": None, "productVariants": None, "userErrors": [error]}
        errors, good = [], []
        for i, v in enumerate(variants):
            path = ["variants", str(i)]
            if not v.get("id"):
                errors.append({"field": [*path, "id"], "message": "Product variant is missing ID "
                               "attribute", "code": "PRODUCT_VARIANT_ID_MISSING"})  # fmt: skip
            elif v["id"] not in product["variants"]:
                errors.append({"field": [*path, "id"], "message": "Product variant does not exist",
                               "code": "PRODUCT_VARIANT_DOES_NOT_EXIST"})  # fmt: skip
            elif v.get("price") is not None and Decimal(v["price"]) < 0:
                errors.append({"field": [*path, "price"], "message": "Price must be greater than "
                               "or equal to 0", "code": "GREATER_THAN_OR_EQUAL_TO"})  # fmt: skip
            else:
                good.append(v)
        if errors and not args.get("allowPartialUpdates"):
            good = []
        for v in good:
            row = self.variants[v["id"]]
            row.update({k: v[k] for k in ("price", "compareAtPrice", "barcode") if k in v})
        views = [self.variant_view(self.variants[v["id"]]) for v in good]
        return {"product": self.product_view(product), "userErrors": errors,
                "productVariants": views if good or not errors else None}  # fmt: skip

    def set_quantities(self, data: Row) -> Row:
        errors: list[Row] = []
        if data["name"] not in ("available", "on_hand"):
            errors.append({"field": ["input", "name"], "code": "INVALID_NAME",
                           "message": "The quantity name must be either 'available' or "
                           "'on_hand'."})  # fmt: skip
        if data["reason"] not in REASONS:
            errors.append({"field": ["input", "reason"], "code": "INVALID_REASON",
                           "message": "The specified reason is invalid."})  # fmt: skip
        pairs: set[tuple[str, str]] = set()
        for i, q in enumerate(data["quantities"]):
            path = ["input", "quantities", str(i)]
            item, location = self.items.get(q["inventoryItemId"]), q["locationId"]
            problem = None
            if item is None:
                problem = ("inventoryItemId", "INVALID_INVENTORY_ITEM",
                           "The specified inventory item could not be found.")  # fmt: skip
            elif location not in self.locations:
                problem = ("locationId", "INVALID_LOCATION",
                           "The specified location could not be found.")  # fmt: skip
            elif (q["inventoryItemId"], location) in pairs:
                problem = (
                    "inventoryItemId",
                    "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
                    "The combination of inventoryItemId and locationId must be unique.",
                )
            elif q["quantity"] < 0 and data["name"] == "on_hand":
                problem = ("quantity", "INVALID_QUANTITY_NEGATIVE",
                           "The quantity can't be negative.")  # fmt: skip
            elif not data.get("ignoreCompareQuantity") and q.get("compareQuantity") is None:
                problem = ("compareQuantity", "COMPARE_QUANTITY_REQUIRED", "The compareQuantity "
                           "argument must be given to each quantity or ignored using "
                           "ignoreCompareQuantity.")  # fmt: skip
            elif not data.get("ignoreCompareQuantity") and (
                q["compareQuantity"] != item["levels"][location][data["name"]]
            ):
                problem = (
                    "compareQuantity",
                    "COMPARE_QUANTITY_STALE",
                    "The compareQuantity value does not match persisted value.",
                )
            pairs.add((q["inventoryItemId"], location))
            if problem:
                errors.append({"field": [*path, problem[0]], "code": problem[1],
                               "message": problem[2]})  # fmt: skip
        if errors:
            return {"inventoryAdjustmentGroup": None, "userErrors": errors}
        for q in data["quantities"]:
            level = self.items[q["inventoryItemId"]]["levels"][q["locationId"]]
            level[data["name"]] = q["quantity"]
        group = {
            "id": self.gid("InventoryAdjustmentGroup"),
            "reason": data["reason"],
            "referenceDocumentUri": data.get("referenceDocumentUri"),
            "createdAt": "2025-01-01T00:00:00Z",
            "changes": lambda info, **a: [],
        }
        return {"inventoryAdjustmentGroup": group, "userErrors": []}  # fmt: skip

    # --- reads ----------------------------------------------------------------------------
    def _find(self, identifier: Row) -> Row | None:
        if identifier.get("id"):
            product = self.products.get(identifier["id"])
        else:
            wanted = identifier.get("handle")
            product = next((p for p in self.products.values() if p["handle"] == wanted), None)
        return self.product_view(product) if product else None

    def _search(self, query: str | None = None, **args: Any) -> Row:
        skus = {a.replace('\\"', '"').replace("\\\\", "\\") if a else b
                for a, b in SKU_TERM.findall(query or "")}  # fmt: skip
        rows = [v for v in self.variants.values() if not skus or v["sku"] in skus]
        return connection([self.variant_view(v) for v in rows], args)

    def product_view(self, p: Row) -> Row:
        return {
            "id": p["id"], "title": p.get("title"), "handle": p["handle"], "status": p["status"],
            "vendor": p.get("vendor") or "", "productType": p.get("productType") or "",
            "descriptionHtml": p.get("descriptionHtml") or "", "tags": p.get("tags") or [],
            "variantsCount": {"count": len(p["variants"]), "precision": "EXACT"},
            "variants": lambda info, **a: connection(
                [self.variant_view(self.variants[v]) for v in p["variants"]], a),
            "options": lambda info, **a: [
                {"id": f"{p['id']}/option/{i}", "name": n, "position": i + 1, "values": vals}
                for i, (n, vals) in enumerate(p.get("options", []))],
        }  # fmt: skip

    def variant_view(self, v: Row) -> Row:
        item = self.items[v["item"]]
        return {
            **{k: v.get(k) for k in ("id", "sku", "price", "compareAtPrice", "barcode")},
            "title": " / ".join(v["options"].values()),
            "inventoryQuantity": sum(level["available"] for level in item["levels"].values()),
            "selectedOptions": [
                {"name": n, "value": x, "optionValue": {"id": f"{v['id']}/{n}", "name": x}}
                for n, x in v["options"].items()],
            "product": lambda info: self.product_view(self.products[v["product"]]),
            "inventoryItem": {
                "id": item["id"], "sku": item["sku"], "tracked": item["tracked"],
                "inventoryLevel": lambda info, locationId: None if locationId not in item[
                    "levels"] else {"id": f"{item['id']}/{locationId}", "quantities": lambda
                    info, names: [{"id": n, "name": n, "quantity": item["levels"][locationId].get(
                        n, 0)} for n in names]},
            },
        }  # fmt: skip


def connection(nodes: list[Row], args: Row) -> Row:
    """A Relay connection page, with Shopify's rules: first or last is required, at most 250."""
    size = args.get("first") if args.get("first") is not None else args.get("last")
    if size is None:
        raise GraphQLError("you must provide one of first or last")
    if size > 250:
        raise GraphQLError(f"first cannot exceed 250 (got {size})")
    start = int(args["after"]) + 1 if args.get("after") else 0
    page = nodes[start : start + size]
    return {
        "nodes": page,
        "edges": [{"cursor": str(start + i), "node": n} for i, n in enumerate(page)],
        "pageInfo": {
            "hasNextPage": start + size < len(nodes), "hasPreviousPage": start > 0,
            "startCursor": str(start) if page else None,
            "endCursor": str(start + len(page) - 1) if page else None,
        },
    }  # fmt: skip
