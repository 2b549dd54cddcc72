"""API channels get offers from the same rules engine as feeds, with the limits their module
declares: Shopify, WooCommerce and Square keep the seller's HTML descriptions."""

from __future__ import annotations

from pathlib import Path

from multichan.feeds.run import load_config
from multichan.offers import offers_for
from multichan.workspace import resolve
from tests.conftest import write_config

CONFIG = """
channels:
  shop: {type: shopify, settings: {base_url: "https://x.myshopify.com", token: "${T}",
         location_id: "1"}}
  google: {type: google_merchant}
"""


def test_api_channels_keep_html_descriptions_that_feeds_strip(demo: Path) -> None:
    write_config(demo, CONFIG)
    ws = resolve(demo)
    config, db = load_config(ws), ws.db()
    shop = {o.sku: o for o in offers_for(db, config.channels["shop"], config, print)}
    google = {o.sku: o for o in offers_for(db, config.channels["google"], config, print)}
    assert shop["MUG-ENAMEL"].description.startswith("<p>Steel mug with a <b>chip-resistant")
    assert google["MUG-ENAMEL"].description.startswith("Steel mug with a chip-resistant")
    assert shop["MUG-ENAMEL"].price == google["MUG-ENAMEL"].price
