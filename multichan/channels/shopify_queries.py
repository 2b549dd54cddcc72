"""The GraphQL side of the Shopify channel: the documents it sends to the Admin API (2025-01),
the inputs it builds from offers, and the mapping of Shopify's ``userErrors`` back to SKUs.

Everything here is pure (no HTTP), so it can be read next to Shopify's schema: every document
is validated against ``admin_schema_2025-01.json.gz`` by the test server. Input names follow
that schema: ``ProductSetInput`` / ``ProductVariantSetInput`` / ``OptionSetInput`` for listings,
``ProductVariantsBulkInput`` for prices and ``InventorySetQuantitiesInput`` for stock.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from multichan.catalog.importers.base import slugify
from multichan.channels.base import ItemResult
from multichan.money import to_text
from multichan.offers import Offer

MAX_INPUT = 250  # Shopify's limit on the items of any one array argument
PAGE = 100  # variants per page when reading a product back (in PRODUCT)
SKUS_PER_SEARCH = 50  # SKUs per productVariants search
MAX_MUTATIONS = 100  # mutations (10 points each) in one request: Shopify's 1,000-point query max


@dataclass(frozen=True)
class Doc:
    """One GraphQL document; ``cost`` is our estimate of its requested cost (Shopify's rules:
    object 1, scalar 0, connection 2 + first x node, mutation 10) until a response says."""

    name: str
    text: str
    cost: float


PRODUCT = Doc(
    "MultichanProduct",
    """query MultichanProduct($identifier: ProductIdentifierInput!, $after: String) {
  productByIdentifier(identifier: $identifier) {
    id
    variants(first: 100, after: $after) {
      nodes { id sku selectedOptions { name value } }
      pageInfo { hasNextPage endCursor }
    }
  }
}""",
    3 + 2 * PAGE,
)
VARIANTS = Doc(
    "MultichanVariants",
    """query MultichanVariants($query: String!, $first: Int!) {
  productVariants(first: $first, query: $query) {
    nodes {
      id sku price compareAtPrice inventoryQuantity
      product { id title }
      inventoryItem { id }
    }
  }
}""",
    2 + 3 * 2 * SKUS_PER_SEARCH,
)
LEVELS = Doc(
    "MultichanLevels",
    """query MultichanLevels($query: String!, $first: Int!, $location: ID!) {
  productVariants(first: $first, query: $query) {
    nodes {
      sku
      inventoryItem {
        id
        inventoryLevel(locationId: $location) { quantities(names: ["available"]) { quantity } }
      }
    }
  }
}""",
    2 + 4 * 2 * SKUS_PER_SEARCH,
)
LISTINGS_PAGE = 100  # variants per page when reading every listing (6 points a variant)


@functools.cache
def listings(located: bool) -> Doc:
    """Every variant, a page at a time (``$after``: the last page's end cursor): its SKU,
    prices, its product's title, status and variant count, and, where ``located``, its
    "available" count at ``$location``."""
    level = (
        "\n      inventoryItem { inventoryLevel(locationId: $location) {"
        ' quantities(names: ["available"]) { quantity } } }'
        if located else ""
    )  # fmt: skip
    params = "$first: Int!, $after: String" + (", $location: ID!" if located else "")
    name = "MultichanListings" + ("Located" if located else "")
    return Doc(
        name,
        f"""query {name}({params}) {{
  productVariants(first: $first, after: $after) {{
    nodes {{
      sku price compareAtPrice
      product {{ title status variantsCount {{ count }} }}{level}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}""",
        2 + (6 if located else 3) * LISTINGS_PAGE,
    )


def listing_fields(node: Mapping[str, Any]) -> dict[str, Any]:
    """A variant of ``listings`` as drift reads it: ``price`` the regular price (Shopify's
    compare-at price during a sale), ``sale_price`` the lower one shown, ``listed`` whether
    the product is active, ``title`` only for a product of one variant (a product's title is
    its variants' shared title, not any one offer's), ``quantity`` where a count was read."""
    product = node.get("product") or {}
    price, compare = node.get("price"), node.get("compareAtPrice")
    sale = compare is not None and price is not None and Decimal(compare) > Decimal(price)
    fields: dict[str, Any] = {
        "price": compare if sale else price,
        "sale_price": price if sale else None,
        "listed": product.get("status") == "ACTIVE",
    }
    if ((product.get("variantsCount") or {}).get("count")) == 1:
        fields["title"] = product.get("title")
    item = node.get("inventoryItem")
    if item is not None:
        level = item.get("inventoryLevel")
        quantities = (level or {}).get("quantities") or []
        fields["quantity"] = int(quantities[0]["quantity"]) if quantities else None
    return fields


PRODUCT_SET = Doc(
    "MultichanProductSet",
    """mutation MultichanProductSet($input: ProductSetInput!) {
  productSet(input: $input, synchronous: true) {
    product { id variants(first: 250) { nodes { id sku inventoryItem { id } } } }
    userErrors { field message code }
  }
}""",
    10,
)
QUANTITIES = Doc(
    "MultichanQuantities",
    """mutation MultichanQuantities($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { id }
    userErrors { field message code }
  }
}""",
    10,
)


@functools.cache
def prices(products: int) -> Doc:
    """``productVariantsBulkUpdate`` for ``products`` products in one request: the mutation
    once per product under the aliases p0, p1... (variables $p0/$v0, $p1/$v1...), which Shopify
    runs in order, each on its own (a userError in one alias leaves the others saved). One
    mutation costs 10 points and a request at most 1,000: at most MAX_MUTATIONS aliases."""
    if not 1 <= products <= MAX_MUTATIONS:
        raise ValueError(f"{products} price mutations in one request; 1 to {MAX_MUTATIONS}")
    name = f"MultichanPrices{products}"
    params = ", ".join(f"$p{i}: ID!, $v{i}: [ProductVariantsBulkInput!]!" for i in range(products))
    fields = "".join(
        f"\n  p{i}: productVariantsBulkUpdate(productId: $p{i}, variants: $v{i}) "
        "{ productVariants { id sku } userErrors { field message code } }"
        for i in range(products)
    )
    return Doc(name, f"mutation {name}({params}) {{{fields}\n}}", 10 * products)


def price_requests(parts: Sequence[list[Offer]]) -> list[list[list[Offer]]]:
    """Price parts (each the variants of one product, at most MAX_INPUT) packed in order into
    requests of at most MAX_MUTATIONS products and MAX_INPUT variants: one request for a batch
    the engine cut to the channel's max_batch and max_groups, more for a caller that did not."""
    packed: list[list[list[Offer]]] = []
    size = 0
    for part in parts:
        if not packed or size + len(part) > MAX_INPUT or len(packed[-1]) >= MAX_MUTATIONS:
            packed.append([])
            size = 0
        packed[-1].append(part)
        size += len(part)
    return packed


def price_variables(
    request: Sequence[Sequence[Offer]], ids: Mapping[str, Mapping[str, str]]
) -> dict[str, Any]:
    """The variables of ``prices(len(request))``: $pN the product, $vN its variants' prices."""
    variables: dict[str, Any] = {}
    for i, part in enumerate(request):
        variables[f"p{i}"] = ids[part[0].sku]["product_id"]
        variables[f"v{i}"] = [{"id": ids[o.sku]["variant_id"], **price_fields(o)} for o in part]
    return variables


def price_fields(offer: Offer) -> dict[str, str | None]:
    """Shopify's compare-at price is the original price: a sale shows as price < compareAtPrice.
    Without a sale, compareAtPrice is sent as null so an old sale ends."""
    if offer.sale_price is not None and offer.sale_price < offer.price:
        return {"price": to_text(offer.sale_price, offer.currency),
                "compareAtPrice": to_text(offer.price, offer.currency)}  # fmt: skip
    return {"price": to_text(offer.price, offer.currency), "compareAtPrice": None}


def handle(group_key: str) -> str:
    """The product handle multichan creates for a group (as the Shopify importer reads it)."""
    return slugify(group_key)


def group_title(group: Sequence[Offer]) -> str:
    """The product title of a group: the variants' shared title, else their common start
    ("Tee - Black", "Tee - Navy" -> "Tee"), else the first variant's title."""
    titles = [o.title for o in group]
    if len(set(titles)) == 1:
        return titles[0]
    words = [t.split() for t in titles]
    common = []
    for column in zip(*words, strict=False):
        if len(set(column)) > 1:
            break
        common.append(column[0])
    prefix = " ".join(common).rstrip(" -–/,|:(")
    return prefix if len(prefix) >= 3 else titles[0]


def description_html(text: str) -> str:
    """``descriptionHtml``: seller HTML as given, plain text escaped with its line breaks kept."""
    if "<" in text and ">" in text:
        return text
    return "<br>".join(html.escape(line) for line in text.splitlines())


def option_table(group: Sequence[Offer]) -> tuple[list[str], list[list[str]]]:
    """Product option names and each offer's values: Color and Size where the group has them;
    an ungrouped offer without either is Shopify's "Title: Default Title"; variants the two do
    not tell apart (also a part of such a group sent alone) are told apart by SKU."""
    attrs = [(n, a) for n, a in (("Color", "color"), ("Size", "size")) if any(
        getattr(o, a) for o in group)]  # fmt: skip
    rows = [[getattr(o, a) or "Default" for _, a in attrs] for o in group]
    if not attrs and len(group) == 1 and not group[0].item_group_id:
        return ["Title"], [["Default Title"]]
    if not attrs or len({tuple(r) for r in rows}) < len(rows):
        return ["Variant"], [[o.sku] for o in group]
    return [n for n, _ in attrs], rows


def variant_input(
    offer: Offer, names: Sequence[str], values: Sequence[str], variant_id: str | None
) -> dict[str, Any]:
    """One ``ProductVariantSetInput``."""
    item: dict[str, Any] = {"sku": offer.sku, "tracked": True}
    if offer.weight_grams is not None:
        item["measurement"] = {"weight": {"value": float(offer.weight_grams), "unit": "GRAMS"}}
    variant: dict[str, Any] = {
        "optionValues": [{"optionName": n, "name": v} for n, v in zip(names, values, strict=True)],
        "sku": offer.sku,
        **price_fields(offer),
        "inventoryPolicy": "DENY",
        "inventoryItem": item,
    }
    if offer.gtin:
        variant["barcode"] = offer.gtin
    if variant_id:
        variant["id"] = variant_id
    return variant


def product_input(group: Sequence[Offer], product_id: str | None, key: str) -> dict[str, Any]:
    """The product-level part of a ``ProductSetInput`` (options and variants are added by the
    caller). Images go with a new product only: productSet replaces the media it is given."""
    first = group[0]
    data: dict[str, Any] = {
        "title": group_title(group),
        "descriptionHtml": description_html(first.description),
        "tags": sorted({t for o in group for t in o.tags}),
    }
    if first.brand:
        data["vendor"] = first.brand
    if first.product_type:
        data["productType"] = first.product_type
    if product_id:
        data["id"] = product_id
        return data
    data["handle"] = handle(key)
    images = [u for o in group for u in (o.image_link, *o.additional_image_links) if u]
    data["files"] = [
        {"originalSource": url, "contentType": "IMAGE", "alt": data["title"]}
        for url in dict.fromkeys(images)
    ]
    return data


def sku_query(skus: Sequence[str]) -> str:
    """A productVariants search for these exact SKUs."""
    quoted = ('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in skus)
    return " OR ".join(f"sku:{q}" for q in quoted)


def stale_items(errors: list[dict[str, Any]]) -> set[int]:
    """The indexes of ``quantities`` whose compareQuantity Shopify found stale."""
    found = set()
    for error in errors:
        field = [str(f) for f in error.get("field") or []]
        if error.get("code") == "COMPARE_QUANTITY_STALE" and len(field) > 2 and field[2].isdigit():
            found.add(int(field[2]))
    return found


def rejections(
    skus: Sequence[str | None], errors: list[dict[str, Any]], array: str
) -> list[ItemResult]:
    """One rejection per SKU of a call Shopify refused; ``skus`` are the items of ``array`` in
    order (None for an item that is no offer of this batch). A userError whose ``field`` points
    into ``array`` (e.g. ``["input", "variants", "2", "price"]``) belongs to that SKU; the others
    belong to every SKU of the call. SKUs with no error of their own were not saved because the
    call is all-or-nothing: they are rejected as retriable."""
    own: dict[int, list[str]] = {}
    general: list[str] = []
    for error in errors:
        field = [str(f) for f in error.get("field") or []]
        message = str(error.get("message") or "rejected by Shopify")
        index = next(
            (int(field[i + 1]) for i in range(len(field) - 1)
             if field[i] == array and field[i + 1].isdigit()),
            None,
        )  # fmt: skip
        if index is not None and index < len(skus) and skus[index] is not None:
            own.setdefault(index, []).append(message)
        else:
            general.append(f"{message} ({'.'.join(field)})" if field else message)
    results = []
    for i, sku in enumerate(skus):
        if sku is None:
            continue
        if i in own or general:
            results.append(ItemResult.rejected(sku, "; ".join(own.get(i, []) + general)))
        else:
            results.append(
                ItemResult.rejected(
                    sku, "not saved: Shopify refused another item of the same call",
                    retriable=True,
                )
            )  # fmt: skip
    return results
