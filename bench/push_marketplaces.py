"""The push benchmark's seven marketplace and catalog channels (Amazon, eBay, Etsy, TikTok Shop,
BigCommerce, Google Merchant API, Meta catalog): their channels.yaml entries, their test
doubles started in this process, what each HTTP request is (a write or a read), the fewest
write requests each API allows (``floor``) and the writes each module's design implies
(``design``). Used by push_bench.py next to push_record.py's Shopify/WooCommerce/Square rules.

The doubles are the channel tests' own (tests/channels/*_conftest.py, tests/servers/tiktok.py)
*without* Prism forwarding (``validate`` unset): the channel tests send the same requests
through Prism on the vendors' contracts. Which operation a request serves is not read from
its path: ``tag_operations`` notes the operation of the engine's current ``Channel.send`` /
``start_job`` / ``job_results`` call, and the recording session stamps each request with it.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from multichan.channels.base import JOINT, Channel

NAMES = (
    "amazon", "ebay", "etsy", "tiktok_shop", "bigcommerce", "google_merchant_api",
    "meta_catalog_api",
)  # fmt: skip
AMAZON_THRESHOLD = 50  # amazon's feed_threshold default (none is set here)
GOOGLE_STORES = 1  # locations mapped to Google store codes (``stores`` below)

CONFIG = {
    "amazon": """  amazon:
    type: amazon
    settings:
      seller_id: {amazon_seller}
      marketplace_id: ATVPDKIKX0DER
      product_type: PRODUCT
      api_url: {amazon}
      token_url: {amazon}/auth/o2/token
      refresh_token: ${{AMAZON_REFRESH_TOKEN}}
      client_id: ${{AMAZON_CLIENT_ID}}
      client_secret: ${{AMAZON_CLIENT_SECRET}}
""",
    "ebay": """  ebay:
    type: ebay
    settings:
      api_url: {ebay}
      client_id: ${{EBAY_CLIENT_ID}}
      client_secret: ${{EBAY_CLIENT_SECRET}}
      refresh_token: ${{EBAY_REFRESH_TOKEN}}
      marketplace_id: EBAY_US
      content_language: en-US
      merchant_location_key: warehouse-1
      fulfillment_policy_id: "6196932000"
      payment_policy_id: "6196933000"
      return_policy_id: "6196934000"
      category_ids: {{"*": "15687"}}
""",
    "etsy": """  etsy:
    type: etsy
    settings:
      base_url: {etsy}
      shop_id: {etsy_shop}
      keystring: ${{ETSY_KEYSTRING}}
      shared_secret: ${{ETSY_SHARED_SECRET}}
      refresh_token: ${{ETSY_REFRESH_TOKEN}}
      taxonomy_id: 1296
      shipping_profile_id: 77
      upload_images: false
""",
    "tiktok_shop": """  tiktok_shop:
    type: tiktok_shop
    settings:
      base_url: {tiktok_shop}
      app_key: {tiktok_app_key}
      app_secret: ${{TIKTOK_APP_SECRET}}
      access_token: ${{TIKTOK_ACCESS_TOKEN}}
      refresh_token: ${{TIKTOK_REFRESH_TOKEN}}
      token_url: {tiktok_shop}/api/v2/token/refresh
      shop_cipher: {tiktok_cipher}
      warehouse_id: "{tiktok_warehouse}"
      categories: {{"*": "{tiktok_category}"}}
      default_weight_grams: 400
""",
    "bigcommerce": """  bigcommerce:
    type: bigcommerce
    settings:
      store_hash: {bigcommerce_store}
      base_url: {bigcommerce}
      token: ${{BIGCOMMERCE_TOKEN}}
""",
    "google_merchant_api": """  google_merchant_api:
    type: google_merchant_api
    settings:
      base_url: {google_merchant_api}
      account: "{google_account}"
      data_source: "10001"
      service_account_file: {google_key}
      stores: {{store: STORE-7}}
""",
    "meta_catalog_api": """  meta_catalog_api:
    type: meta_catalog_api
    settings:
      catalog_id: "{meta_catalog}"
      token: ${{META_ACCESS_TOKEN}}
      base_url: {meta_catalog_api}
""",
}


@contextlib.contextmanager
def servers(names: list[str]) -> Iterator[dict[str, Any]]:
    """The doubles of the chosen channels, each on 127.0.0.1, and the variables their
    channels.yaml entries name set to the values they accept."""
    import os

    from tests.channels import (
        amazon_conftest,
        bigcommerce_conftest,
        ebay_conftest,
        etsy_conftest,
        google_conftest,
        meta_conftest,
    )
    from tests.servers import tiktok

    os.environ.update(
        AMAZON_CLIENT_ID=amazon_conftest.CLIENT_ID,
        AMAZON_CLIENT_SECRET=amazon_conftest.CLIENT_SECRET,
        AMAZON_REFRESH_TOKEN=amazon_conftest.REFRESH_TOKEN,
        EBAY_CLIENT_ID=ebay_conftest.CLIENT_ID, EBAY_CLIENT_SECRET=ebay_conftest.CLIENT_SECRET,
        EBAY_REFRESH_TOKEN=ebay_conftest.REFRESH_TOKEN,
        ETSY_KEYSTRING=etsy_conftest.KEYSTRING, ETSY_SHARED_SECRET=etsy_conftest.SHARED_SECRET,
        ETSY_REFRESH_TOKEN=etsy_conftest.REFRESH_TOKEN,
        TIKTOK_APP_SECRET=tiktok.APP_SECRET, TIKTOK_ACCESS_TOKEN=tiktok.ACCESS_TOKEN,
        TIKTOK_REFRESH_TOKEN=tiktok.REFRESH_TOKEN,
        BIGCOMMERCE_TOKEN=bigcommerce_conftest.TOKEN, META_ACCESS_TOKEN=meta_conftest.TOKEN,
    )  # fmt: skip
    starts = {
        "amazon": amazon_conftest.serve_double, "ebay": ebay_conftest.serve_double,
        "etsy": etsy_conftest.serve_double, "tiktok_shop": tiktok.serve,
        "bigcommerce": bigcommerce_conftest.serve_double,
        "google_merchant_api": google_conftest.serve_double,
        "meta_catalog_api": meta_conftest.serve_double,
    }  # fmt: skip
    with contextlib.ExitStack() as stack:
        started: dict[str, Any] = {
            n: stack.enter_context(starts[n]()) for n in names if n in starts
        }
        for double in started.values():
            double.reset()  # as the tests do: the grants and tokens they accept, no Prism
        yield started


def config(root: Path, srv: dict[str, Any]) -> str:
    """The channels.yaml entries of the started doubles (Google's key file written in
    ``root``); TikTok uploads each product's images, so the catalog's image links point at
    the TikTok server's ``/cdn``."""
    from tests.channels import (
        amazon_conftest,
        bigcommerce_conftest,
        etsy_conftest,
        google_conftest,
        meta_conftest,
    )
    from tests.servers import tiktok

    values: dict[str, Any] = {n: s.url for n, s in srv.items()}
    values.update(
        amazon_seller=amazon_conftest.SELLER_ID, etsy_shop=etsy_conftest.SHOP_ID,
        tiktok_app_key=tiktok.APP_KEY, tiktok_cipher=tiktok.SHOP_CIPHER,
        tiktok_warehouse=tiktok.WAREHOUSE, tiktok_category=tiktok.CATEGORY,
        bigcommerce_store=bigcommerce_conftest.STORE, google_account=google_conftest.ACCOUNT,
        meta_catalog=meta_conftest.CATALOG,
    )  # fmt: skip
    if "google_merchant_api" in srv:
        key = root / "google-key.json"
        info = google_conftest.service_account_info(srv["google_merchant_api"].token_uri)
        key.write_text(json.dumps(info), encoding="utf-8")
        values["google_key"] = key
    if "tiktok_shop" in srv:
        with contextlib.closing(sqlite3.connect(root / "catalog.db")) as db, db:
            db.execute("UPDATE images SET url = replace(url, 'https://cdn.example.com', ?)",
                       [srv["tiktok_shop"].url + "/cdn"])  # fmt: skip
    return "".join(CONFIG[n].format(**values) for n in NAMES if n in srv)


def server_log(name: str, server: Any) -> list[Any]:
    return server.log if name == "tiktok_shop" else server.requests  # type: ignore[no-any-return]


# --- which operation a request serves ------------------------------------------------------------
class Tag:
    """The operation of the engine's channel call running now (None outside one)."""

    operation: str | None = None


@contextlib.contextmanager
def tag_operations() -> Iterator[None]:
    """Wrap Channel.send, start_job and job_results (the engine's only ways into a channel's
    pushing code) so ``Tag.operation`` names the operation while each runs. Nothing sent
    changes."""
    originals = {m: getattr(Channel, m) for m in ("send", "start_job", "job_results")}

    def wrap(method: Any) -> Any:
        def tagged(self: Channel, operation: str, *args: Any, **kwargs: Any) -> Any:
            before, Tag.operation = Tag.operation, operation
            try:
                return method(self, operation, *args, **kwargs)
            finally:
                Tag.operation = before

        return tagged

    for name, method in originals.items():
        setattr(Channel, name, wrap(method))
    try:
        yield
    finally:
        for name, method in originals.items():
            setattr(Channel, name, method)


# --- write or read, per channel -----------------------------------------------------------------
def amazon(method: str, path: str, body: Any) -> tuple[str, str | None]:
    """Writes: patchListingsItem, and a feed's createFeedDocument, upload and createFeed (its
    submission). Reads: getFeed (polls), getFeedDocument and the report download (collection),
    LWA's token."""
    if method == "PATCH" or (method == "PUT" and path.startswith("/upload/")):
        return "write", Tag.operation
    if method == "POST" and path in ("/feeds/2021-06-30/documents", "/feeds/2021-06-30/feeds"):
        return "write", Tag.operation
    return "read", Tag.operation


def _writes_unless_get(*reads: str) -> Any:
    def classify(method: str, path: str, body: Any) -> tuple[str, str | None]:
        read = method == "GET" or any(path.endswith(r) for r in reads)
        return ("read" if read else "write"), Tag.operation

    return classify


CLASSIFY = {
    "amazon": amazon,
    "ebay": _writes_unless_get("/identity/v1/oauth2/token"),
    "etsy": _writes_unless_get("/v3/public/oauth/token"),
    "tiktok_shop": _writes_unless_get("/products/search", "/api/v2/token/refresh"),
    "bigcommerce": _writes_unless_get(),
    "google_merchant_api": _writes_unless_get("/token"),
    "meta_catalog_api": _writes_unless_get(),
}


# --- what the APIs allow and the modules do ----------------------------------------------------
def uses_job(cls: Any, kind: str, changed: int) -> bool:
    """Whether the engine sends ``changed`` changes of ``kind`` as jobs (Channel.use_job with
    the settings used here)."""
    if kind not in getattr(cls, "job_batch", {}):
        return False
    return cls.type != "amazon" or kind == "listings" or changed > AMAZON_THRESHOLD


def batch_size(cls: Any, kind: str, changed: int) -> int:
    """The batch the engine cuts to: a job's size when the kind goes as jobs."""
    return int(cls.job_batch[kind] if uses_job(cls, kind, changed) else cls.max_batch[kind])


JOB_SUBMIT = {"amazon": 3, "meta_catalog_api": 1}  # write requests a job's submission takes
JOB_COLLECT = {"amazon": 3, "meta_catalog_api": 1}  # reads at the least: poll(s) + report
API_JOB_MAX = {"amazon": 25_000, "meta_catalog_api": 5_000}  # what a job takes (docs)


def _groups(changes: list[Any]) -> int:
    return len({c.offer.item_group_id or c.offer.sku for c in changes})


def _ceil(n: int, size: int) -> int:
    return math.ceil(n / size) if n else 0


def floor(channel_type: str, kind: str, changes: list[Any], size: int) -> int:
    """The fewest write requests the API's structure allows for ``changes``:
    - Amazon: patchListingsItem takes one SKU; a feed (25,000 messages) takes any, but its
      submission is three writes (createFeedDocument, the upload, createFeed). The floor is
      the lesser of the two.
    - Meta: items_batch takes 5,000 requests: one write per 5,000.
    - eBay: bulk_update_price_quantity takes 25 offers of any listings (price and stock in
      one); BigCommerce: PUT catalog/variants 50 variants of any products, inventory
      adjustments 2,000 items; both are ceil(changed / max_batch).
    - Etsy: a listing's inventory is written whole, one PUT per listing changed.
    - TikTok Shop: prices/update and inventory/update take one product each.
    - Google: no batch method: one productInputs PATCH per SKU for its price (and
      availability), plus one localInventories:insert per SKU and mapped store for stock."""
    n = len(changes)
    if not n:
        return 0
    if channel_type == "amazon":
        per_sku = n
        return min(per_sku, JOB_SUBMIT["amazon"] * _ceil(n, API_JOB_MAX["amazon"]))
    if channel_type == "meta_catalog_api":
        return _ceil(n, API_JOB_MAX["meta_catalog_api"])
    if channel_type in ("etsy", "tiktok_shop"):
        return _groups(changes)
    if channel_type == "google_merchant_api":
        return {"prices": n, "quantities": n * GOOGLE_STORES, JOINT: n * (1 + GOOGLE_STORES)}.get(
            kind, n
        )
    return _ceil(n, size)


def design(cls: Any, kind: str, changes: list[Any]) -> tuple[int, int]:
    """(sends, write requests) the engine and the module make for these price/stock changes,
    from how they are written: jobs of ``job_batch`` (Amazon 3 writes each, Meta 1), Amazon's
    patches one per SKU, Etsy one inventory PUT per listing in a send, Google per SKU a
    PATCH (prices, availability) and per mapped store a local inventory (stock), the others
    one request per send."""
    from multichan.sync.batching import sends as engine_sends

    if not changes:
        return 0, 0
    if uses_job(cls, kind, len(changes)):
        jobs = _ceil(len(changes), cls.job_batch[kind])
        return jobs, jobs * JOB_SUBMIT[cls.type]
    parts = engine_sends(cls, kind, changes)
    if cls.type == "amazon":
        return len(parts), len(changes)
    if cls.type == "etsy":
        return len(parts), sum(_groups(p) for p in parts)
    if cls.type == "google_merchant_api":
        per = {"prices": 1, "quantities": 1 + GOOGLE_STORES, JOINT: 1 + GOOGLE_STORES}[kind]
        return len(parts), per * len(changes)
    return len(parts), len(parts)


def job_line(name: str, calls: list[Any]) -> str | None:
    """A job channel's requests by role: submission, polls, collection."""
    if name not in JOB_SUBMIT:
        return None
    roles: Counter[str] = Counter()
    for c in calls:
        if name == "amazon":
            role = ("submit" if c.what == "write" and c.method != "PATCH" else
                    "patch" if c.method == "PATCH" else
                    "poll" if c.path.startswith("/feeds/2021-06-30/feeds/") else
                    "token" if c.path.endswith("/token") else "collect")  # fmt: skip
        else:
            role = "submit" if c.what == "write" else "poll+collect"
        roles[role] += 1
    jobs = roles["submit"] // JOB_SUBMIT[name]
    least = jobs * (JOB_SUBMIT[name] + JOB_COLLECT[name])
    return (f"  jobs: {jobs}; requests by role {dict(roles)}; the API forces at least "
            f"{least} for {jobs} job(s) ({JOB_SUBMIT[name]} to submit, {JOB_COLLECT[name]} "
            "to poll once and collect)")  # fmt: skip


def shown(name: str, server: Any, sku: str) -> tuple[Decimal | None, int | None, Any]:
    """(price, quantity, the raw record) the double shows for ``sku``: its own state, read
    the way the channel tests read it; the quantity Google shows is the store's."""
    if name == "amazon":
        price, qty = server.shown().get(sku, (None, None))
        return price, qty, (price, qty)
    if name == "ebay":
        row = server.listing(sku)
        return _dec(row["price"]), row["quantity"], row
    if name == "etsy":
        row = server.by_sku().get(sku) or {}
        return _dec(row.get("price")), row.get("quantity"), row
    if name == "tiktok_shop":
        from tests.servers.tiktok import WAREHOUSE

        row = server.by_sku().get(sku) or {}
        return _dec(row.get("price")), (row.get("stock") or {}).get(WAREHOUSE), row
    if name == "bigcommerce":
        found = server.by_sku(sku)
        if found is None:
            return None, None, None
        product, variant = found
        row = variant or product
        return _dec(row.get("price")), server.quantity(sku), row
    if name == "google_merchant_api":
        missing: tuple[str, dict[str, Any]] = ("", {})
        pid, given = next(
            ((k, v) for k, v in server.inputs.items() if v.get("offerId") == sku), missing
        )
        price = (given.get("productAttributes") or {}).get("price") or {}
        micros = price.get("amountMicros")
        local = server.local.get(pid, {}).get("STORE-7", {}).get("localInventoryAttributes", {})
        qty = local.get("quantity")
        return (Decimal(micros) / 1_000_000 if micros else None,
                int(qty) if qty is not None else None, given)  # fmt: skip
    row = server.items.get(sku) or {}
    price = str(row.get("price") or "").split(" ")[0]
    qty = row.get("quantity_to_sell_on_facebook")
    return _dec(price), int(qty) if qty is not None else None, row


def _dec(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except ArithmeticError:
        return None


def check_server(name: str, server: Any, root: Path, skus: list[str]) -> int:
    """How many of ``skus`` show the new price (the regular one, or the sale price where the
    channel shows the price a buyer pays) and quantity (every location's; Google: the store's)
    on the double."""
    from push_scenario import expected

    ok = 0
    for sku in skus:
        price, sale, qty = expected(root, sku)
        if name == "google_merchant_api":
            with contextlib.closing(sqlite3.connect(root / "catalog.db")) as db:
                (qty,) = db.execute("SELECT quantity FROM stock WHERE sku = ? AND location = "
                                    "'store'", [sku]).fetchone()  # fmt: skip
        got_price, got_qty, _ = shown(name, server, sku)
        ok += got_price is not None and got_price in (price, sale) and got_qty == qty
    return ok
