"""``multichan drift`` against the TikTok Shop server written from TikTok's pages (every call
signature-checked), end to end through the CLI: right after a push nothing drifted; a price
and a stock count changed in Seller Center behind multichan's back are named by SKU and field
(exit 4); ``drift --fix`` restores them with one push, after which ``drift`` exits 0; a
deleted product is missing (and made again by the fix), a deactivated one is not for sale (and
activated again by the fix's listing write), a product of the seller's own is unknown and left
alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.e2e.conftest import drift_findings, drift_json
from tests.e2e.test_tiktok import configure, refused, state, tts
from tests.servers import tiktok as srv

__all__ = ["tts"]  # the fixture
pytestmark = pytest.mark.slow
SEARCH = "/product/202309/products/search"


def drift(ws: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """``multichan drift tts --json ARGS``: its exit code and its document."""
    code, doc, _ = drift_json(ws, "tts", *args)
    return code, doc


findings = drift_findings  # by (sku, field)


def pushed(tts: srv.TikTokServer, new_demo: Any) -> Path:
    ws = new_demo()
    configure(ws, tts)
    result = run_cli("-w", ws, "push", "tts")
    assert result.code == 0, result.output
    return ws


def test_nothing_drifted_right_after_a_push(tts: srv.TikTokServer, new_demo: Any) -> None:
    ws = pushed(tts, new_demo)
    tts.log.clear()
    code, doc = drift(ws)
    assert (code, findings(doc)) == (0, {})
    [channel] = doc["channels"]
    assert channel["checked"] == len(tts.by_sku()) > 50
    assert [e.path for e in tts.log] == [SEARCH]  # every product on one page of 100
    assert refused(tts) == []


def test_a_price_and_a_count_changed_in_seller_center_are_named_and_fixed_with_one_push(
    tts: srv.TikTokServer, new_demo: Any
) -> None:
    ws = pushed(tts, new_demo)
    expected = state(tts)
    start = tts.by_sku()["LANTERN-LED"]["stock"][srv.WAREHOUSE]
    tts.tamper("MUG-ENAMEL", price="3.33")  # the seller, in Seller Center
    tts.tamper("LANTERN-LED", quantity=start + 5)

    code, doc = drift(ws)
    assert code == 4 and doc["drift"] == 2, doc
    found = findings(doc)
    assert set(found) == {("MUG-ENAMEL", "price"), ("LANTERN-LED", "quantity")}
    price = found[("MUG-ENAMEL", "price")]
    assert (price["finding"], price["pushed"], price["remote"], price["offer"]) == (
        "changed", "14.00", "3.33", "14.00"
    )  # fmt: skip
    quantity = found[("LANTERN-LED", "quantity")]
    assert (quantity["finding"], quantity["pushed"], quantity["remote"]) == (
        "changed", start, start + 5
    )  # fmt: skip

    tts.log.clear()
    fixed = run_cli("-w", ws, "drift", "tts", "--fix")
    assert fixed.code == 0, fixed.output
    assert state(tts) == expected  # both restored, nothing else moved
    writes = [e.path.rsplit("/", 2)[-2:] for e in tts.log if e.path != SEARCH
              and e.method == "POST"]  # fmt: skip
    assert sorted(writes) == [["inventory", "update"], ["prices", "update"]]  # one push
    assert refused(tts) == []

    code, doc = drift(ws)
    assert (code, findings(doc)) == (0, {})
    assert run_cli("-w", ws, "drift", "tts").code == 0


def test_a_deleted_product_is_missing_a_deactivated_one_not_for_sale_an_unknown_one_kept(
    tts: srv.TikTokServer, new_demo: Any
) -> None:
    ws = pushed(tts, new_demo)
    tts.product_status("KNIFE-FOLD", "DELETED")
    tts.product_status("MAP-CASE", "SELLER_DEACTIVATED")
    tts.seed("SELLER-1", "A seller's own product", "30.00", 1)
    code, doc = drift(ws)
    assert code == 4
    found = findings(doc)
    assert found[("KNIFE-FOLD", None)]["finding"] == "missing"
    assert found[("MAP-CASE", "listed")]["finding"] == "missing"
    assert found[("SELLER-1", None)]["finding"] == "unknown"
    assert len(found) == 3
    run_cli("-w", ws, "drift", "tts", "--fix")
    assert tts.by_sku()["SELLER-1"]["status"] == "ACTIVATE"  # never deleted
    assert tts.by_sku()["MAP-CASE"]["status"] == "ACTIVATE"  # on sale again
    code, doc = drift(ws)
    assert code == 4 and findings(doc)[("SELLER-1", None)]["finding"] == "unknown"
    assert ("MAP-CASE", "listed") not in findings(doc)  # (KNIFE-FOLD: the xfail below)


@pytest.mark.xfail(
    strict=True,
    reason="tiktok_shop._create sends the idempotency key of the first create (_key: channel, "
    "group, SKUs), so TikTok answers a re-create of a product deleted in Seller Center with "
    "the deleted product's id; the fix then writes to the deleted product",
)
def test_drift_fix_makes_a_product_deleted_on_tiktok_again(
    tts: srv.TikTokServer, new_demo: Any
) -> None:
    ws = pushed(tts, new_demo)
    tts.product_status("KNIFE-FOLD", "DELETED")
    fixed = run_cli("-w", ws, "drift", "tts", "--fix")
    assert fixed.code == 0, fixed.output
    assert tts.by_sku()["KNIFE-FOLD"]["status"] == "ACTIVATE"
    code, doc = drift(ws)
    assert (code, findings(doc)) == (0, {})


def test_a_product_deactivated_in_seller_center_is_activated_again_by_the_fix(
    tts: srv.TikTokServer, new_demo: Any
) -> None:
    ws = pushed(tts, new_demo)
    expected = state(tts)
    tts.product_status("MAP-CASE", "SELLER_DEACTIVATED")  # the seller, in Seller Center
    tts.product_status("TEE-MERINO-NAV-M", "SELLER_DEACTIVATED")  # a product of variants
    code, doc = drift(ws)
    assert code == 4
    found = findings(doc)
    tees = tts.by_sku()["TEE-MERINO-NAV-M"]["siblings"]
    assert set(found) == {(sku, "listed") for sku in {"MAP-CASE", *tees}}
    assert {f["finding"] for f in found.values()} == {"missing"}

    tts.log.clear()
    fixed = run_cli("-w", ws, "drift", "tts", "--fix")
    assert fixed.code == 0, fixed.output
    assert state(tts) == expected  # on sale again, at the counts pushed; nothing else moved
    for sku in ("MAP-CASE", "TEE-MERINO-NAV-M"):
        pid = tts.by_sku()[sku]["product_id"]
        writes = [
            e.path.split(f"/{pid}/", 1)[-1].rsplit("/", 1)[-1]
            for e in tts.log
            if e.method == "POST"
            and (f"/{pid}/" in e.path or (e.body or {}).get("product_ids") == [pid])
        ]
        # its listing write (the edit) activates it, once, before its stock is written
        assert writes[:2] == ["partial_edit", "activate"], writes
        assert writes.count("activate") == 1, writes
    assert refused(tts) == []

    code, doc = drift(ws)
    assert (code, findings(doc)) == (0, {})
    tts.log.clear()
    assert run_cli("-w", ws, "push", "tts").code == 0
    assert not [e for e in tts.log if e.path.endswith("/activate")]  # a later push: none
