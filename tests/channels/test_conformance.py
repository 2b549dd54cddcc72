"""multichan.testing against a real plugin talking HTTP, and against deliberately bad channels;
the send() contract; whole-batch errors split into Retriable and Fatal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
import requests

from multichan.channels import registry
from multichan.channels.base import (
    Channel,
    Fatal,
    ItemResult,
    RateLimit,
    Retriable,
    SettingSpec,
)
from multichan.offers import Offer
from multichan.testing import ChannelConformance, check_channel, sample_offers
from tests.channels.conftest import TOKEN, AcmeServer


def _acme(server: AcmeServer, session: requests.Session, url: str | None = None) -> Channel:
    cls = registry.load("acme_market")
    raw = {"base_url": url or server.url, "api_token": "${ACME_TOKEN}", "timeout": 5}
    settings, problems = cls.validate_settings(raw, "channels.yaml:9: channels.acme.settings")
    assert problems == []
    return cls("acme", settings, session=session)


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


class TestAcmeConformance(ChannelConformance):
    """What a third party writes in its own test suite (here: found via its entry point)."""

    @pytest.fixture
    def channel_class(self, plugin_site: Path) -> type[Channel]:
        return registry.load("acme_market")

    @pytest.fixture
    def channel(self, plugin_site: Path, acme_server: AcmeServer, session) -> Channel:
        return _acme(acme_server, session)


def test_check_channel_passes_and_really_talks_http(
    plugin_site: Path, acme_server: AcmeServer, session: requests.Session
) -> None:
    cls = registry.load("acme_market")
    offers = sample_offers(4)
    assert check_channel(cls, lambda: _acme(acme_server, session), offers) == []
    posts = [r for r in acme_server.requests if r["method"] == "POST"]
    assert [r["path"] for r in posts] == [
        "/v1/listings/batch",
        "/v1/prices/batch",
        "/v1/inventory/batch",
    ]
    assert all(r["headers"]["X-Acme-Token"] == TOKEN for r in posts)
    assert [i["sku"] for i in posts[0]["body"]["items"]] == [o.sku for o in offers]
    assert acme_server.listings[offers[0].sku]["price"] == str(offers[0].price)


def test_results_carry_remote_ids_and_the_channels_own_message(
    plugin_site: Path, acme_server: AcmeServer, session: requests.Session
) -> None:
    channel = _acme(acme_server, session)
    offers = sample_offers(3)
    offers[1].title = ""
    results = channel.send("listings", offers)
    assert [r.ok for r in results] == [True, False, True]
    assert results[0].remote_ids == {"listing_id": "AM-1"}
    assert results[1] == ItemResult("NW-HOOD-BLA-001", False, {}, "title: required")
    assert channel.fetch_remote([offers[0].sku, offers[1].sku]).keys() == {offers[0].sku}
    [unknown] = channel.send("quantities", sample_offers(6)[5:])
    assert unknown.message == "no listing for SKU NW-TEE-NAV-005"


@pytest.mark.parametrize(
    ("status", "headers", "error", "retry_after"),
    [
        (429, {"Retry-After": "7"}, Retriable, 7.0),
        (503, {}, Retriable, None),
        (401, {}, Fatal, None),
    ],
)
def test_whole_batch_failures_are_retriable_or_fatal(
    plugin_site: Path,
    acme_server: AcmeServer,
    session: requests.Session,
    status: int,
    headers: dict[str, str],
    error: type[Exception],
    retry_after: float | None,
) -> None:
    acme_server.fail_next.append((status, headers))
    with pytest.raises(error) as caught:
        _acme(acme_server, session).send("prices", sample_offers(2))
    assert getattr(caught.value, "retry_after", None) == retry_after
    assert TOKEN not in str(caught.value)
    if error is Fatal:
        assert caught.value.exit_code == 5 and "$ACME_TOKEN" in str(caught.value)


def test_unreachable_channel_is_retriable(
    plugin_site: Path, acme_server: AcmeServer, session: requests.Session
) -> None:
    channel = _acme(acme_server, session, url="http://127.0.0.1:9")  # discard port: refused
    with pytest.raises(Retriable, match="unreachable"):
        channel.send("quantities", sample_offers(1))


class Sloppy(Channel):
    """Drops the last result, forgets max_batch for prices, caps products per batch at 0,
    leaks its token."""

    type = "sloppy"
    supports = frozenset({"listings", "prices"})
    max_batch: ClassVar[dict[str, int]] = {"listings": 2}
    max_groups: ClassVar[dict[str, int]] = {"prices": 0}
    rate_limit = RateLimit(2)
    settings_schema: ClassVar[dict[str, SettingSpec]] = {
        "token": SettingSpec("secret", required=True)
    }

    def __repr__(self) -> str:
        return f"Sloppy({self.settings['token'].value()})"

    def upsert_listings(self, offers: list[Offer]) -> list[ItemResult]:
        return [ItemResult.accepted(o.sku) for o in offers[:-1]]

    def update_prices(self, offers: list[Offer]) -> list[ItemResult]:
        token = self.settings["token"].value()
        return [ItemResult.rejected(o.sku, f"refused for {token}") for o in offers]


def test_a_sloppy_channel_fails_with_clear_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLOPPY_TOKEN", "sl0ppy-secret")
    settings, _ = Sloppy.validate_settings({"token": "${SLOPPY_TOKEN}"}, "x")
    problems = check_channel(Sloppy, lambda: Sloppy("s", settings, session=object()))
    assert problems == [
        "max_batch['prices'] must be a positive whole number, not None",
        "max_groups['prices'] must be a positive whole number for a supported operation, not 0",
        "repr(channel) shows a secret from its settings",
        "listings: upsert_listings returned 1 results for 2 offers",
    ]
    with pytest.raises(Fatal, match="returned 1 results for 2 offers"):
        Sloppy("s", settings, session=object()).send("listings", sample_offers(2))


def test_send_owns_capability_batch_size_and_uniqueness() -> None:
    class Tiny(Channel):
        type = "tiny"
        supports = frozenset({"quantities"})
        max_batch: ClassVar[dict[str, int]] = {"quantities": 2}

        def update_quantities(self, offers: list[Offer]) -> list[ItemResult]:
            return [ItemResult.accepted(o.sku, item_id=f"i{o.quantity}") for o in offers]

    tiny = Tiny("t", {}, session=object())
    assert tiny.send("quantities", []) == []
    assert [r.remote_ids for r in tiny.send("quantities", sample_offers(2))] == [
        {"item_id": "i0"},
        {"item_id": "i7"},
    ]
    with pytest.raises(ValueError, match="takes at most 2"):
        tiny.send("quantities", sample_offers(3))
    with pytest.raises(ValueError, match="does not support prices"):
        tiny.send("prices", sample_offers(1))
    with pytest.raises(ValueError, match="repeats a SKU"):
        tiny.send("quantities", sample_offers(1) * 2)
    assert check_channel(Tiny, lambda: tiny) == []
    assert repr(tiny) == "<Tiny channel 't' type='tiny'>"


def test_send_cannot_be_overridden() -> None:
    with pytest.raises(TypeError, match=r"must not override Channel\.send"):

        class Cheat(Channel):
            type = "cheat"

            def send(self, operation: str, offers: list[Offer]) -> list[ItemResult]:
                return []
