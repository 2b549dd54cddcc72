"""``multichan drift`` against the Google double, through the CLI: the demo catalog pushed, then
in Merchant Center, behind multichan's back, a price and a store's stock changed, a product
paused and one deleted; ``drift --json`` names each SKU and field (exit 4), ``drift --fix``
restores them with one push, and ``drift`` then finds nothing (exit 0). No token or key shows
in any output."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.channels.google_conftest import ACCOUNT, GoogleDouble, service_account_info
from tests.conftest import run_cli
from tests.e2e.conftest import drift_findings, drift_json, push_runs

# the Google channel sells the store's stock: its offers count that location only, which is
# the one its local inventories hold (see GoogleMerchantApi.remote_listings)
CONFIG = """\
shop:
  link_template: "https://shop.example.com/products/{{{{handle}}}}"
channels:
  google:
    type: google_merchant_api
    settings:
      base_url: {url}
      account: "{account}"
      data_source: "10001"
      service_account_file: {key}
      stores: {{store: STORE-7}}
      timeout: 5
    rate_limit: {{requests_per_second: 100, burst: 100}}
"""
PRICED, STOCKED, DELETED = "MUG-ENAMEL", "LANTERN-LED", "BLANKET-WOOL"
PAUSED = "HOODIE-FLEECE-RED-L"


@pytest.fixture
def google(shared_google: GoogleDouble) -> GoogleDouble:
    shared_google.reset()
    return shared_google


def configure(ws: Path, google: GoogleDouble) -> Path:
    key = ws / "google-key.json"
    key.write_text(json.dumps(service_account_info(google.token_uri)), encoding="utf-8")
    text = CONFIG.format(url=google.url, account=ACCOUNT, key=key)
    (ws / "channels.yaml").write_text(text, encoding="utf-8")
    return key


def drift(ws: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    return drift_json(ws, "google", *args)


def findings(doc: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return drift_findings(doc, ("sku", "finding", "field"))


pushes = push_runs


def store_stock(google: GoogleDouble, sku: str) -> str:
    entry = google.local[f"en~US~{sku}"]["STORE-7"]
    return str(entry["localInventoryAttributes"]["quantity"])


def test_drift_names_what_changed_on_google_and_fix_restores_it_with_one_push(
    google: GoogleDouble, new_demo: Any
) -> None:
    ws = new_demo("drift-google")
    key = configure(ws, google)
    pushed = run_cli("-w", ws, "push", "google")
    assert pushed.code == 0, pushed.output
    before = {pid: json.dumps(i["productAttributes"], sort_keys=True)
              for pid, i in google.inputs.items()}  # fmt: skip
    price = google.inputs[f"en~US~{PRICED}"]["productAttributes"]["price"]
    stock = store_stock(google, STOCKED)

    code, doc, first = drift(ws)  # right after a push: nothing differs
    assert code == 0, first
    assert doc["drift"] == 0 and doc["channels"][0]["checked"] == len(google.inputs)

    google.change_behind(PRICED, price="1.99")
    google.change_behind(STOCKED, store_quantity={"STORE-7": int(stock) + 40})
    google.change_behind(PAUSED, pause="ALL")  # paused everywhere: not for sale
    google.delete_behind(DELETED)
    code, doc, second = drift(ws)
    assert code == 4, second
    found = findings(doc)
    assert set(found) == {(PRICED, "changed", "price"), (STOCKED, "changed", "location_quantities"),
                          (PAUSED, "missing", "listed"), (DELETED, "missing", None)}  # fmt: skip
    assert found[(PRICED, "changed", "price")]["remote"] == "1.99"
    pushed_price = Decimal(found[(PRICED, "changed", "price")]["pushed"])
    assert pushed_price == Decimal(price["amountMicros"]) / 1_000_000
    assert found[(STOCKED, "changed", "location_quantities")]["remote"] == {
        "store": int(stock) + 40
    }
    assert found[(STOCKED, "changed", "location_quantities")]["pushed"] == {"store": int(stock)}

    table = run_cli("-w", ws, "drift", "google")  # for people: a table, the same exit
    assert table.code == 4, table.output
    assert PRICED in table.stdout and "price" in table.stdout and "1.99" in table.stdout
    google.requests.clear()
    code, doc, fixed = drift(ws, "--fix")
    assert code == 0, fixed
    fix = doc["channels"][0]["fix"]
    assert fix["exit_code"] == 0 and fix["counts"]["rejected"] == 0
    assert {c["sku"] for c in fix["plan"]["changes"]} == {PRICED, STOCKED, PAUSED, DELETED}
    assert pushes(ws) == ["ok", "ok"]  # the first push, then the fix's one push
    assert google.violations == []
    # one push: the price patched once, the store's count set once, the product inserted again
    patches = [
        r for r in google.calls("PATCH") if PRICED in google.decode(r["path"].split("/")[-1])
    ]
    assert len(patches) == 1 and patches[0]["query"]["updateMask"] == "price,salePrice"
    assert google.inputs[f"en~US~{PRICED}"]["productAttributes"]["price"] == price
    assert store_stock(google, STOCKED) == stock
    assert f"en~US~{DELETED}" in google.inputs
    after = {pid: json.dumps(i["productAttributes"], sort_keys=True)
             for pid, i in google.inputs.items()}  # fmt: skip
    assert after == before

    code, doc, last = drift(ws)
    assert code == 0 and doc["drift"] == 0, last
    table = run_cli("-w", ws, "drift", "google")
    assert table.code == 0 and PRICED not in table.stdout, table.output
    info = json.loads(key.read_text(encoding="utf-8"))
    for text in (first, second, fixed, last, table.output):
        assert info["private_key_id"] not in text
        assert all(token not in text for token in google.tokens)
