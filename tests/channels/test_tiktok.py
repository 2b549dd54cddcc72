"""The TikTok Shop channel against tests/servers/tiktok.py, the strict server written from
TikTok's Partner Center pages (it checks every request's signature): the conformance suite,
signing of query parameters and JSON bodies (a tampered request is refused), one product per
price/stock call, TikTok's refusal of one product rejecting only its SKUs, every warehouse of
a SKU listed, sold-out SKUs never left buyable, and token refresh without a token shown."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from multichan.channels import registry
from multichan.channels.base import Channel, Fatal
from multichan.offers import Offer
from multichan.testing import ChannelConformance, sample_offers
from tests.servers import tiktok as srv

ENV = {"TIKTOK_APP_SECRET": srv.APP_SECRET, "TIKTOK_ACCESS_TOKEN": srv.ACCESS_TOKEN,
       "TIKTOK_REFRESH_TOKEN": srv.REFRESH_TOKEN}  # fmt: skip
CDN = "https://cdn.example.com"  # where the offers' images are; served by the test server


class CdnAdapter(requests.adapters.HTTPAdapter):
    """The image host for a ``requests.Session``: ``https://cdn.example.com/x`` is fetched from
    the test server's ``/cdn/x``."""

    def __init__(self, server: srv.TikTokServer) -> None:
        super().__init__()
        self.server = server

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        request.url = self.server.url + "/cdn/" + str(request.url).removeprefix(CDN + "/")
        return super().send(request, *args, **kwargs)


@pytest.fixture
def tiktok(shared_tiktok: srv.TikTokServer, monkeypatch: pytest.MonkeyPatch) -> srv.TikTokServer:
    """The shop, emptied, with the credential variables set to what it accepts."""
    shared_tiktok.reset()
    for var, value in ENV.items():
        monkeypatch.setenv(var, value)
    return shared_tiktok


@pytest.fixture
def session(tiktok: srv.TikTokServer) -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.mount(CDN, CdnAdapter(tiktok))
        yield s


def make(server: srv.TikTokServer, session: requests.Session, **extra: Any) -> Channel:
    raw = {
        "base_url": server.url, "app_key": srv.APP_KEY, "app_secret": "${TIKTOK_APP_SECRET}",
        "access_token": "${TIKTOK_ACCESS_TOKEN}", "refresh_token": "${TIKTOK_REFRESH_TOKEN}",
        "token_url": server.url + "/api/v2/token/refresh", "shop_cipher": srv.SHOP_CIPHER,
        "warehouse_id": srv.WAREHOUSE, "categories": {"*": srv.CATEGORY},
        "brands": {"Northwind": srv.BRAND},
        "shipping_providers": {"USPS": "7117858858072016686", "UPS": "7117859084333745966"},
        "timeout": 5, **extra,
    }  # fmt: skip
    cls = registry.load("tiktok_shop")  # through the entry point, as channels.yaml would
    settings, problems = cls.validate_settings(raw, "channels.yaml:30: channels.tts.settings")
    assert problems == []
    channel = cls("tts", settings, session=session)
    channel.sleep = lambda seconds: None
    return channel


BASE = sample_offers(1)[0]


def offer(sku: str, group: str | None = None, **fields: Any) -> Offer:
    values: dict[str, Any] = {"sku": sku, "item_group_id": group, "title": f"Product {sku}",
                              "price": Decimal("29.00"), "sale_price": None, "quantity": 5,
                              "color": None, "size": None}  # fmt: skip
    return dataclasses.replace(BASE, **(values | fields))


def tee(color: str, quantity: int = 5) -> Offer:
    return offer(f"TEE-{color.upper()}", "TEE", color=color, quantity=quantity,
                 title=f"Organic Cotton Tee - {color}")  # fmt: skip


def listed(channel: Channel, offers: list[Offer]) -> dict[str, dict[str, str]]:
    results = channel.send("listings", offers)
    assert all(r.ok for r in results), [r.message for r in results if not r.ok]
    return {r.sku: r.remote_ids for r in results}


class TestTikTokConformance(ChannelConformance):
    @pytest.fixture
    def channel_class(self) -> type[Channel]:
        return registry.load("tiktok_shop")

    @pytest.fixture
    def channel(self, tiktok: srv.TikTokServer, session: requests.Session) -> Channel:
        return make(tiktok, session)


# --- signatures -----------------------------------------------------------------------------
class Tamper(requests.adapters.HTTPAdapter):
    """Changes each request after multichan signed it, as a proxy could."""

    def __init__(self, change: Any) -> None:
        super().__init__()
        self.change = change

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        self.change(request)
        return super().send(request, *args, **kwargs)


def test_query_parameters_and_json_bodies_are_signed_as_sent(
    tiktok: srv.TikTokServer, session: requests.Session
) -> None:
    channel = make(tiktok, session)
    unicode = offer("CAFE-1", title="Café crème – “Tee”", description="<p>Ünïcode & more</p>")
    ids = listed(channel, [unicode, tee("Black"), tee("Navy")])
    assert tiktok.by_sku()["CAFE-1"]["title"] == "Café crème – “Tee”"
    assert channel.send("quantities", [dataclasses.replace(unicode, quantity=7)])[0].ok
    api = [e for e in tiktok.log if not e.path.startswith("/cdn/")]
    assert {e.status for e in api} == {200} and {e.code for e in api} == {0}
    kinds = {(e.method, bool(e.body), "page_size" in e.query) for e in api}
    assert ("GET", False, False) in kinds  # a query only (Get Product)
    assert ("POST", True, True) in kinds  # query parameters and a JSON body (search)
    assert any(e.path.endswith("/images/upload") for e in api)  # multipart: body not signed
    for e in api:
        assert e.query["app_key"] == srv.APP_KEY and e.query["shop_cipher"] == srv.SHOP_CIPHER
        assert e.headers["x-tts-access-token"] == srv.ACCESS_TOKEN and len(e.query["sign"]) == 64
    assert ids["CAFE-1"]["sku_id"] in str(tiktok.calls("/inventory/update")[0].body)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda r: setattr(r, "body", r.body.replace(b"7", b"8")), id="json-body"),
        pytest.param(
            lambda r: setattr(r, "url", r.url.replace("app_key=", "version=1&app_key=")),
            id="extra-query-parameter",
        ),
        pytest.param(
            lambda r: setattr(r, "url", r.url.replace("/products/", "/products//")), id="path"
        ),
    ],
)
def test_a_request_changed_after_signing_is_refused_by_tiktok(
    tiktok: srv.TikTokServer, session: requests.Session, change: Any
) -> None:
    channel = make(tiktok, session, refresh_token=None)
    ids = listed(channel, [offer("MUG-1")])
    session.mount(tiktok.url, Tamper(lambda r: change(r) if "inventory" in r.url else None))
    channel.known_ids = {}
    with pytest.raises(Fatal) as caught:
        channel.send("quantities", [offer("MUG-1", quantity=7)], known_ids=ids)
    assert [e.code for e in tiktok.calls("/inventory/update")] == [106001]
    assert "sign query parameter is invalid" in str(caught.value)
    assert "$TIKTOK_APP_SECRET" in str(caught.value) and caught.value.exit_code == 5
    for secret in ENV.values():
        assert secret not in str(caught.value)
    assert tiktok.by_sku()["MUG-1"]["stock"] == {srv.WAREHOUSE: 5}  # nothing applied


def test_a_wrong_app_secret_fails_the_channel_naming_the_variable(
    tiktok: srv.TikTokServer, session: requests.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOK_APP_SECRET", "not-the-secret-123456")
    with pytest.raises(Fatal) as caught:
        make(tiktok, session, refresh_token=None).send("listings", [offer("MUG-1")])
    text = str(caught.value)
    assert "$TIKTOK_APP_SECRET" in text and "106001" in text
    assert "not-the-secret-123456" not in text and srv.ACCESS_TOKEN not in text
    assert tiktok.products == {}


@pytest.mark.parametrize("status", [401, 200])
def test_an_expired_token_is_refreshed_once_and_never_shown(
    tiktok: srv.TikTokServer, session: requests.Session, status: int
) -> None:
    tiktok.auth_status = status  # code 105002 in a 401, or in a 200
    tiktok.tokens[srv.ACCESS_TOKEN] = 0  # expired
    channel = make(tiktok, session)
    ids = listed(channel, [offer("MUG-1")])
    assert channel.send("prices", [offer("MUG-1", price=Decimal("12.50"))], known_ids=ids)[0].ok
    refreshes = [e for e in tiktok.log if e.path == "/api/v2/token/refresh"]
    assert len(refreshes) == 1
    assert [e.code for e in tiktok.log if e.code == 105002] == [105002]  # once, then the new one
    minted = [t for t in tiktok.tokens if t.startswith("TTP_minted-")]
    assert minted and tiktok.log[-1].headers["x-tts-access-token"] == minted[0]
    assert tiktok.by_sku()["MUG-1"]["price"] == "12.50"


# --- one product per call, rejections ---------------------------------------------------------
def test_prices_and_stock_go_one_product_per_call_with_all_its_skus(
    tiktok: srv.TikTokServer, session: requests.Session
) -> None:
    channel = make(tiktok, session)
    tees = [tee("Black"), tee("Navy"), tee("Olive")]
    mugs = [offer("MUG-1"), offer("CAP-1")]
    ids = listed(channel, tees[:])
    ids |= listed(channel, mugs[:1]) | listed(channel, mugs[1:])
    assert len(tiktok.products) == 3
    tiktok.log.clear()
    changed = [dataclasses.replace(o, price=Decimal("31.00"), quantity=9) for o in tees + mugs]
    # the whole batch at once: the module still sends one call per product
    assert all(r.ok for r in channel.update_prices(changed))
    channel.known_ids = ids
    assert all(r.ok for r in channel.send("quantities", changed[:3], known_ids=ids))
    price_calls = tiktok.calls("/prices/update")
    assert len(price_calls) == 3 and {e.code for e in price_calls} == {0}
    for call in price_calls + tiktok.calls("/inventory/update"):
        product_id = call.path.split("/")[4]
        skus = {s["id"] for s in tiktok.products[product_id]["skus"]}
        assert {s["id"] for s in call.body["skus"]} <= skus
    [stock] = tiktok.calls("/inventory/update")
    assert len(stock.body["skus"]) == 3  # the tee's three SKUs in one call
    assert {tiktok.by_sku()[o.sku]["price"] for o in changed} == {"31.00"}
    # the server refuses a call that names another product's SKU (TikTok's rule)
    mixed = {"skus": [{"id": ids["MUG-1"]["sku_id"], "price": {"amount": "1.00",
                                                               "currency": "USD"}}]}  # fmt: skip
    with pytest.raises(Fatal, match="12052556"):
        channel._call("POST", f"/product/202309/products/{ids['TEE-BLACK']['product_id']}"
                      "/prices/update", json=mixed)  # fmt: skip
    assert type(channel).max_groups == {"listings": 1, "prices": 1, "quantities": 1}


def test_tiktok_refusing_one_product_rejects_its_skus_with_its_message(
    tiktok: srv.TikTokServer, session: requests.Session
) -> None:
    channel = make(tiktok, session)
    tees, mug = [tee("Black"), tee("Navy")], offer("MUG-1")
    ids = listed(channel, tees) | listed(channel, [mug])
    tiktok.promotion.add(ids["TEE-BLACK"]["product_id"])
    cheaper = [dataclasses.replace(o, price=Decimal("20.00")) for o in [*tees, mug]]
    results = channel.update_prices(cheaper)
    assert [r.ok for r in results] == [False, False, True]
    assert "ongoing promotion" in str(results[0].message) and "12052391" in str(results[0].message)
    assert tiktok.by_sku()["MUG-1"]["price"] == "20.00"
    assert tiktok.by_sku()["TEE-BLACK"]["price"] == "29.00"
    bad = channel.update_prices([dataclasses.replace(mug, price=Decimal("9000.00"))])
    assert not bad[0].ok and "7,600 USD" in str(bad[0].message)


def test_listing_problems_name_the_setting_and_lose_nothing(
    tiktok: srv.TikTokServer, session: requests.Session
) -> None:
    channel = make(tiktok, session, categories={"Home > Kitchen": srv.CATEGORY})
    results = channel.send("listings", [offer("MUG-1", product_type="Home > Kitchen"),
                                        offer("TEE-1", product_type="Apparel")])  # fmt: skip
    assert [r.ok for r in results] == [True, False]
    assert "settings.categories" in str(results[1].message)
    again = channel.send("listings", [offer("MUG-1", product_type="Home > Kitchen")])
    assert again[0].ok and len(tiktok.products) == 1  # found by SKU: no second product
    # TikTok refusing one product's create: that product's SKUs carry its message, the rest go
    tiktok.categories.discard("601152")
    mixed = make(tiktok, session, categories={"Garden": "601152", "*": srv.CATEGORY})
    made = mixed.send("listings", [offer("RAKE-1", "RAKE", product_type="Garden", color="Red"),
                                   offer("RAKE-2", "RAKE", product_type="Garden", color="Blue"),
                                   offer("BOWL-1", product_type="Home")])  # fmt: skip
    assert [r.ok for r in made] == [False, False, True]
    assert "category is invalid" in str(made[0].message) and "12019010" in str(made[0].message)
    assert set(tiktok.by_sku()) == {"MUG-1", "BOWL-1"}
    shown = mixed.fetch_remote(["MUG-1", "BOWL-1", "RAKE-1"])
    assert shown == {
        sku: {"title": f"Product {sku}", "price": "29.00", "quantity": 5}
        for sku in ("MUG-1", "BOWL-1")
    }
    missing = offer("LAMP-1", product_type="Home > Kitchen", image_link=f"{CDN}/missing.jpg",
                    additional_image_links=[])  # fmt: skip
    [lamp] = channel.send("listings", [missing])
    assert not lamp.ok and "missing.jpg" in str(lamp.message)


# --- stock: warehouses and sold-out SKUs ------------------------------------------------------
def test_every_warehouse_of_a_sku_is_listed_and_the_others_kept(
    tiktok: srv.TikTokServer, session: requests.Session
) -> None:
    channel = make(tiktok, session)
    ids = listed(channel, [offer("MUG-1")])
    product = tiktok.products[ids["MUG-1"]["product_id"]]
    product["skus"][0]["inventory"].append({"warehouse_id": srv.OTHER_WAREHOUSE, "quantity": 4})
    assert channel.send("quantities", [offer("MUG-1", quantity=11)], known_ids=ids)[0].ok
    assert tiktok.by_sku()["MUG-1"]["stock"] == {srv.WAREHOUSE: 11, srv.OTHER_WAREHOUSE: 4}
    [call] = tiktok.calls("/inventory/update")
    assert len(call.body["skus"][0]["inventory"]) == 2
    elsewhere = make(tiktok, session, warehouse_id="7068517275539799999")
    [result] = elsewhere.send("quantities", [offer("MUG-1", quantity=3)], known_ids=ids)
    assert not result.ok and "warehouse_id" in str(result.message)


def test_a_sold_out_single_sku_product_is_hidden_then_back(
    tiktok: srv.TikTokServer, session: requests.Session
) -> None:
    channel = make(tiktok, session)
    ids = listed(channel, [offer("MUG-1")])
    [gone] = channel.send("quantities", [offer("MUG-1", quantity=0)], known_ids=ids)
    assert gone.ok  # hidden is its 0
    assert tiktok.buyable("MUG-1") == 0 and tiktok.by_sku()["MUG-1"]["status"] == (
        "SELLER_DEACTIVATED")  # fmt: skip
    assert [e.body for e in tiktok.calls("/products/deactivate")] == [
        {"product_ids": [ids["MUG-1"]["product_id"]]}]  # fmt: skip
    [back] = channel.send("quantities", [offer("MUG-1", quantity=6)], known_ids=ids)
    assert back.ok and tiktok.buyable("MUG-1") == 6
    assert tiktok.by_sku()["MUG-1"]["status"] == "ACTIVATE"


def test_a_sold_out_variant_hides_its_product_until_it_is_back(
    tiktok: srv.TikTokServer, session: requests.Session
) -> None:
    channel = make(tiktok, session)
    tees = [tee("Black"), tee("Navy"), tee("Olive")]
    ids = listed(channel, tees)
    results = channel.send("quantities", [tee("Black", 0), tee("Navy", 8)], known_ids=ids)
    assert [r.ok for r in results] == [False, True]
    assert "hidden (deactivated)" in str(results[0].message)
    assert {s: tiktok.buyable(s) for s in ("TEE-BLACK", "TEE-NAVY", "TEE-OLIVE")} == {
        "TEE-BLACK": 0, "TEE-NAVY": 0, "TEE-OLIVE": 0}  # fmt: skip
    assert tiktok.by_sku()["TEE-NAVY"]["stock"][srv.WAREHOUSE] == 8  # written before hiding
    assert tiktok.by_sku()["TEE-BLACK"]["stock"][srv.WAREHOUSE] == 1  # the lowest TikTok takes
    # the next run: still sold out, the other variant changes: held, nothing written
    tiktok.log.clear()
    held = channel.send("quantities", [tee("Black", 0), tee("Olive", 2)], known_ids=ids)
    assert [r.ok for r in held] == [False, False] and "held" in str(held[1].message)
    assert tiktok.calls("/inventory/update") == [] and tiktok.calls("/activate") == []
    # back in stock: activated, every count the run holds written
    back = channel.send("quantities", [tee("Black", 4), tee("Olive", 2)], known_ids=ids)
    assert all(r.ok for r in back)
    assert {s: tiktok.buyable(s) for s in ("TEE-BLACK", "TEE-NAVY", "TEE-OLIVE")} == {
        "TEE-BLACK": 4, "TEE-NAVY": 8, "TEE-OLIVE": 2}  # fmt: skip


def test_where_tiktok_takes_zero_a_sold_out_sku_is_set_to_zero(
    tiktok: srv.TikTokServer, session: requests.Session
) -> None:
    tiktok.zero_stock = True  # the 2023 pages: "non-negative numbers (include number 0)"
    channel = make(tiktok, session)
    ids = listed(channel, [tee("Black"), tee("Navy")])
    results = channel.send("quantities", [tee("Black", 0)], known_ids=ids)
    assert results[0].ok and tiktok.calls("/products/deactivate") == []
    assert (tiktok.buyable("TEE-BLACK"), tiktok.buyable("TEE-NAVY")) == (0, 5)


def test_a_sku_created_at_zero_is_created_without_stock(
    tiktok: srv.TikTokServer, session: requests.Session
) -> None:
    channel = make(tiktok, session)
    ids = listed(channel, [tee("Black", 0), tee("Navy", 3)])
    assert (tiktok.buyable("TEE-BLACK"), tiktok.buyable("TEE-NAVY")) == (0, 3)
    tiktok.log.clear()
    # the quantities push right after the listing: TikTok holds 0 already, nothing to send
    assert all(r.ok for r in channel.send("quantities", [tee("Black", 0)], known_ids=ids))
    assert tiktok.calls("/inventory/update") == [] and tiktok.calls("/deactivate") == []
