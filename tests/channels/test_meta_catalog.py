"""The Meta catalog channel against the Meta double, which checks every items_batch request
against Meta's own SDK specs (ProductItem.json fields and types, enum_types.json values,
ProductCatalog.json edge params): jobs submitted and collected (start_job / job_results),
per-SKU errors mapped from the batch status, the usage header followed, Graph API errors
classified, the conformance suite."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from multichan.channels import registry
from multichan.channels.base import JOINT, Channel, Fatal, ItemResult, Retriable
from multichan.channels.meta_catalog import MetaCatalogApi
from multichan.testing import ChannelConformance, sample_offers
from tests.channels.meta_conftest import CATALOG, TOKEN, MetaDouble, graph_error

WHERE = "channels.yaml:7: channels.meta.settings"


@pytest.fixture
def meta(shared_meta: MetaDouble, monkeypatch: pytest.MonkeyPatch) -> MetaDouble:
    monkeypatch.setenv("META_ACCESS_TOKEN", TOKEN)
    shared_meta.reset()
    return shared_meta


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def make(double: MetaDouble, session: requests.Session, **extra: Any) -> MetaCatalogApi:
    raw = {"catalog_id": CATALOG, "token": "${META_ACCESS_TOKEN}", "base_url": double.url,
           "timeout": 5, **extra}  # fmt: skip
    settings, problems = MetaCatalogApi.validate_settings(raw, WHERE)
    assert problems == []
    channel = MetaCatalogApi("meta", settings, session=session)
    waits: list[float] = []
    channel.sleep = waits.append  # the fake sleep: record, never wait (waits_of reads it)
    channel.backoff = lambda n: 0.0
    return channel


def waits_of(channel: Channel) -> list[float]:
    return channel.sleep.__self__  # type: ignore[attr-defined,no-any-return]


def run_job(channel: Channel, op: str, offers: list[Any]) -> tuple[dict[str, str], list[Any]]:
    """Submit, then look until done (the double answers "started" once first)."""
    ticket = channel.start_job(op, offers)
    looks = 0
    while (results := channel.job_results(op, ticket, [o.sku for o in offers])) is None:
        looks += 1
        assert looks < 5
    return ticket, results


class TestMetaConformance(ChannelConformance):
    @pytest.fixture
    def channel_class(self) -> type[Channel]:
        return registry.load("meta_catalog_api")

    @pytest.fixture
    def channel(self, meta: MetaDouble, session: requests.Session) -> Channel:
        return make(meta, session)


def test_registered_with_its_settings() -> None:
    assert registry.load("meta_catalog_api") is MetaCatalogApi
    _, problems = MetaCatalogApi.validate_settings({"token": "EAAG-literal"}, WHERE)
    assert f"{WHERE}.catalog_id is required (str): the catalog id (Commerce Manager)" in problems
    assert any("token must name an environment variable" in p for p in problems)
    assert MetaCatalogApi.job_batch == dict.fromkeys(
        ["listings", "prices", "quantities", JOINT], 3000
    )


def test_a_listing_job_creates_items_meta_accepts(
    meta: MetaDouble, session: requests.Session
) -> None:
    channel = make(meta, session)
    offers = sample_offers(5)
    ticket, results = run_job(channel, "listings", offers)
    assert ticket == {"handle": "AczT000001-batch"}
    assert results == [ItemResult.accepted(o.sku) for o in offers]
    assert meta.violations == []
    [body] = meta.posts()
    assert body["item_type"] == "PRODUCT_ITEM" and body["allow_upsert"] is True
    assert [r["method"] for r in body["requests"]] == ["UPDATE"] * 5
    first = meta.items[offers[0].sku]
    assert first["title"] == "Organic Cotton Tee - Black"
    assert first["price"] == "29.00 USD" and "sale_price" not in first  # "" unsets it
    assert first["availability"] == "out of stock" and first["quantity_to_sell_on_facebook"] == 0
    assert first["link"].startswith("https://shop.example.com/products/tee")
    assert first["additional_image_link"] == ["https://cdn.example.com/tee/detail.jpg"]
    assert first["item_group_id"] == "NW-TEE" and first["mpn"] == offers[0].sku
    on_sale = meta.items[offers[3].sku]
    assert on_sale["sale_price"] == "19.00 USD" and on_sale["availability"] == "in stock"
    # the token went as a bearer header, never in a URL
    assert all(r["headers"]["Authorization"] == f"Bearer {TOKEN}" for r in meta.requests)
    assert all(TOKEN not in json.dumps(r["query"]) for r in meta.requests)
    assert meta.looks_at() == ["AczT000001-batch", "AczT000001-batch"]  # started, finished


def test_prices_and_stock_send_only_their_fields_and_never_create(
    meta: MetaDouble, session: requests.Session
) -> None:
    channel = make(meta, session)
    offers = sample_offers(3)
    run_job(channel, "listings", offers)
    cheaper = [dataclasses.replace(o, price=o.price - 1, quantity=4, availability="in_stock")
               for o in offers]  # fmt: skip
    stranger = dataclasses.replace(offers[0], sku="NOT-IN-META")
    _, prices = run_job(channel, "prices", [*cheaper[:2], stranger])
    _, stock = run_job(channel, "quantities", cheaper)
    _, joint = run_job(channel, JOINT, cheaper[2:])
    posts = meta.posts()
    assert [set(r["data"]) for r in posts[1]["requests"]] == [{"id", "price", "sale_price"}] * 3
    assert posts[1]["allow_upsert"] is False
    assert {frozenset(r["data"]) for r in posts[2]["requests"]} == {
        frozenset({"id", "quantity_to_sell_on_facebook", "availability"})
    }
    assert set(posts[3]["requests"][0]["data"]) == {
        "id", "price", "sale_price", "quantity_to_sell_on_facebook", "availability"
    }  # fmt: skip
    assert [r.ok for r in prices] == [True, True, False]
    assert prices[2].message is not None and "NOT-IN-META does not exist" in prices[2].message
    assert "NOT-IN-META" not in meta.items
    assert all(r.ok for r in stock + joint)
    assert meta.items[offers[0].sku]["price"] == "28.00 USD"
    assert meta.items[offers[2].sku]["quantity_to_sell_on_facebook"] == 4
    assert meta.violations == []


def test_a_delist_keeps_the_item_out_of_stock(meta: MetaDouble, session: requests.Session) -> None:
    channel = make(meta, session)
    [offer] = [o for o in sample_offers(3) if o.quantity > 0][:1]
    run_job(channel, "listings", [offer])
    gone = dataclasses.replace(offer, quantity=0, availability="out_of_stock")  # as the plan
    _, [result] = run_job(channel, "quantities", [gone])
    assert result.ok
    item = meta.items[offer.sku]  # still there, with its title and history
    assert item["availability"] == "out of stock" and item["quantity_to_sell_on_facebook"] == 0
    assert item["title"] == offer.title


def test_one_bad_item_is_refused_with_metas_message_and_the_rest_are_saved(
    meta: MetaDouble, session: requests.Session
) -> None:
    channel = make(meta, session)
    offers = sample_offers(4)
    offers[1] = dataclasses.replace(offers[1], condition="damaged")
    offers[2] = dataclasses.replace(offers[2], link=None)
    _, results = run_job(channel, "listings", offers)
    assert [r.ok for r in results] == [True, False, False, True]
    assert "condition 'damaged' is not one of cpo, new" in (results[1].message or "")
    assert results[1].message.startswith("Meta: Invalid value: Value passed at position 1")
    assert "without required field Link" in (results[2].message or "")
    assert set(meta.items) == {offers[0].sku, offers[3].sku}
    assert meta.violations == []  # seller data Meta refuses, not a broken request


def test_errors_beyond_metas_sample_are_refused_by_their_ids(
    meta: MetaDouble, session: requests.Session
) -> None:
    meta.sample_errors = 1
    channel = make(meta, session)
    offers = [dataclasses.replace(o, condition="worn") for o in sample_offers(3)]
    _, results = run_job(channel, "listings", offers)
    assert not any(r.ok for r in results)
    assert "'worn' is not one of" in (results[0].message or "")
    assert "not in the sample Meta returns" in (results[2].message or "")
    assert meta.requests[-1]["query"]["load_ids_of_invalid_requests"] == "true"


@pytest.mark.parametrize("end", ["error", "canceled"])
def test_a_batch_that_ended_badly_is_sent_again_except_what_meta_refused(
    meta: MetaDouble, session: requests.Session, end: str
) -> None:
    meta.end_status = end
    channel = make(meta, session)
    offers = sample_offers(3)
    offers[0] = dataclasses.replace(offers[0], condition="worn")
    _, results = run_job(channel, "listings", offers)
    assert not results[0].ok and not results[0].retriable
    assert [(r.ok, r.retriable) for r in results[1:]] == [(False, True)] * 2
    assert f"ended {end}; sent again" in (results[1].message or "")


def test_a_batch_meta_no_longer_knows_is_sent_again(
    meta: MetaDouble, session: requests.Session
) -> None:
    channel = make(meta, session)
    offers = sample_offers(2)
    results = channel.job_results("prices", {"handle": "AczT-expired"}, [o.sku for o in offers])
    assert results is not None
    assert all(not r.ok and r.retriable for r in results)
    assert "no batch AczT-expired" in (results[0].message or "")


def test_what_meta_refuses_at_once_is_in_the_ticket(
    meta: MetaDouble, session: requests.Session
) -> None:
    channel = make(meta, session)
    offers = sample_offers(2)
    meta.fail_next.append((200, {"handles": ["AczT-X"], "validation_status": [
        {"retailer_id": offers[1].sku, "errors": [{"message": "price: must be positive"}]},
    ]}, {}))  # fmt: skip
    ticket = channel.start_job("prices", offers)
    assert json.loads(ticket["refused"]) == {offers[1].sku: "price: must be positive"}
    meta.fail_next.append((200, {"data": [{"status": "finished", "errors": []}]}, {}))
    results = channel.job_results("prices", ticket, [o.sku for o in offers])
    assert results == [
        ItemResult.accepted(offers[0].sku),
        ItemResult.rejected(offers[1].sku, "Meta: price: must be positive"),
    ]
    # nothing ingested at all: no handle, no look
    meta.fail_next.append((200, {"handles": [], "validation_status": []}, {}))
    empty = channel.start_job("prices", offers)
    asked = len(meta.requests)
    again = channel.job_results("prices", empty, [o.sku for o in offers])
    assert again is not None and all(r.retriable for r in again)
    assert len(meta.requests) == asked


def test_the_double_refuses_unknown_fields_and_types_like_meta(
    meta: MetaDouble, session: requests.Session
) -> None:
    """The double is the test's teeth: a field the spec does not have is refused at once."""
    channel = make(meta, session)
    body = {"item_type": "PRODUCT_ITEM", "requests": [
        {"method": "UPDATE", "data": {"id": "A", "colour": "red"}},
        {"method": "UPDATE", "data": {"id": "B", "quantity_to_sell_on_facebook": "7"}},
        {"method": "UPDATE", "data": {"id": "C", "price": 1299}},
    ]}  # fmt: skip
    answer = channel.api.request("POST", f"/v25.0/{CATALOG}/items_batch", json=body)
    said = {v["retailer_id"]: v["errors"][0]["message"] for v in answer.body["validation_status"]}
    assert said == {
        "A": "colour is not a field of a product item",
        "B": "quantity_to_sell_on_facebook must be unsigned int, not '7'",
        "C": "price must be text such as '9.99 USD', not 1299",
    }
    assert answer.body["handles"] == [] and len(meta.violations) == 3
    with pytest.raises(Fatal, match="Invalid parameter: unknown parameter"):
        channel.api.request("POST", f"/v25.0/{CATALOG}/items_batch",
                            json={**body, "item_kind": "x"})  # fmt: skip


def test_jobs_are_at_most_3000_and_meta_takes_no_more_than_5000(
    meta: MetaDouble, session: requests.Session
) -> None:
    channel = make(meta, session)
    many = [dataclasses.replace(sample_offers(1)[0], sku=f"SKU-{i:05d}") for i in range(3001)]
    with pytest.raises(ValueError, match="takes 1 to 3000"):
        channel.start_job("quantities", many)
    with pytest.raises(ValueError, match="takes at most 3000"):
        channel.send("quantities", many)
    assert meta.requests == []
    _, results = run_job(channel, "listings", many[:3000])
    assert len(meta.posts()[0]["requests"]) == 3000 and all(r.ok for r in results)


def test_the_synchronous_path_polls_the_job_through_the_engines_sleep(
    meta: MetaDouble, session: requests.Session
) -> None:
    meta.looks = 0
    channel = make(meta, session)
    assert all(r.ok for r in channel.send("listings", sample_offers(2)))
    meta.looks = 2
    results = channel.send("quantities", sample_offers(2))
    assert all(r.ok for r in results)
    assert waits_of(channel) == [10.0, 10.0]  # job_poll, twice: no real time passed
    meta.looks = 1_000
    late = channel.send("quantities", sample_offers(2))
    assert all(r.retriable and "still working" in (r.message or "") for r in late)
    assert sum(waits_of(channel)) == 20.0 + channel.job_wait


def test_near_the_usage_limit_the_client_waits_before_its_next_request(
    meta: MetaDouble, session: requests.Session
) -> None:
    channel = make(meta, session)
    offers = sample_offers(2)
    meta.usage_once = [{"call_count": 97}]  # the items_batch answer: 97% used
    ticket = channel.start_job("prices", offers)
    assert waits_of(channel) == []
    channel.job_results("prices", ticket, [o.sku for o in offers])
    assert waits_of(channel) == [60.0]  # before the look
    meta.usage_once = [{"call_count": 40, "estimated_time_to_regain_access": 3}]
    channel.job_results("prices", ticket, [o.sku for o in offers])
    channel.job_results("prices", ticket, [o.sku for o in offers])
    assert waits_of(channel) == [60.0, 180.0]  # 3 minutes, as Meta said
    meta.usage = {"call_count": 12, "total_time": 30}  # far from it: no wait
    channel.job_results("prices", ticket, [o.sku for o in offers])
    channel.job_results("prices", ticket, [o.sku for o in offers])
    assert waits_of(channel) == [60.0, 180.0]


@pytest.mark.parametrize(
    ("status", "body", "error", "match"),
    [
        (400, graph_error("Invalid OAuth access token", 190, "OAuthException"), Fatal,
         r"Meta refused \$META_ACCESS_TOKEN \(Invalid OAuth access token \(code 190\)\)"),
        (400, graph_error("(#200) Permissions error", 200), Fatal, "catalog_management"),
        (400, graph_error("There have been too many calls for the batch uploads", 80014),
         Retriable, "Meta is throttling this catalog"),
        (400, graph_error("(#4) Application request limit reached", 4), Retriable, "throttling"),
        (500, graph_error("An unexpected error has occurred", 2), Retriable, "temporary"),
        (503, {}, Retriable, "HTTP 503"),
    ],
)  # fmt: skip
def test_graph_api_errors_are_fatal_or_retriable(
    meta: MetaDouble,
    session: requests.Session,
    status: int,
    body: Any,
    error: type[Exception],
    match: str,
) -> None:
    channel = make(meta, session)
    channel.request_attempts = 1
    meta.fail_next.append((status, body, {}))
    with pytest.raises(error, match=match) as caught:
        channel.start_job("prices", sample_offers(1))
    assert TOKEN not in str(caught.value)


def test_a_wrong_token_or_catalog_fails_the_channel_clearly(
    meta: MetaDouble, session: requests.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("META_ACCESS_TOKEN", "EAAG-wrong-token-value")
    with pytest.raises(Fatal) as caught:
        make(meta, session).start_job("prices", sample_offers(1))
    assert "$META_ACCESS_TOKEN" in str(caught.value) and caught.value.exit_code == 5
    assert "EAAG-wrong-token-value" not in str(caught.value)
    monkeypatch.setenv("META_ACCESS_TOKEN", TOKEN)
    with pytest.raises(Fatal, match="Object with ID '42' does not exist"):
        make(meta, session, catalog_id="42").start_job("prices", sample_offers(1))


def test_usage_pause_reads_both_of_metas_usage_headers() -> None:
    from multichan.channels.api import Answer, usage_pause

    pause = usage_pause("X-Business-Use-Case-Usage", "X-App-Usage")

    def said(**headers: str) -> float | None:
        names = {k.replace("_", "-"): v for k, v in headers.items()}
        return pause(Answer(200, names, None, "", "GET", "/"))

    buc = (
        '{"42": [{"type": "catalog_batch", "call_count": 9, "estimated_time_to_regain_access": 2}]}'
    )
    assert said(X_Business_Use_Case_Usage=buc) == 120.0
    assert said(X_App_Usage='{"call_count": 5, "total_cputime": 99, "total_time": 3}') == 60.0
    assert said(X_App_Usage='{"call_count": 5}') is None
    assert (
        said(X_Business_Use_Case_Usage='{"42": [{"estimated_time_to_regain_access": 999}]}')
        == 3600.0
    )
    for garbled in ("not json", "[1, 2]", '{"42": "x"}', '{"call_count": "NaN"}', ""):
        assert said(X_Business_Use_Case_Usage=garbled) is None


def test_a_batch_too_large_for_meta_is_a_clear_failure_not_a_retry(
    meta: MetaDouble, session: requests.Session
) -> None:
    channel = make(meta, session)
    meta.fail_next.append(
        (
            400,
            graph_error(
                "Please reduce the amount of data you're asking for, then retry your request", 1
            ),
            {},
        )
    )
    with pytest.raises(Fatal, match="too large for one call"):
        channel.start_job("listings", sample_offers(2))
    assert len(meta.requests) == 1


def test_a_token_meta_echoes_back_is_redacted(meta: MetaDouble, session: requests.Session) -> None:
    channel = make(meta, session)
    echoed = graph_error(f"Malformed access token {TOKEN}", 190, "OAuthException")
    meta.fail_next.append((400, echoed, {}))
    with pytest.raises(Fatal) as caught:
        channel.start_job("prices", sample_offers(1))
    assert TOKEN not in str(caught.value) and "Malformed access token ***" in str(caught.value)
