"""A feed that shows no stock per location has its stock summed by SQLite, one number per SKU;
a template that may show it per location (however it reaches the offer) still gets every
location's level. Either way a seller sees the quantities the documented rules give.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.feeds.helpers import configure, export, jsonl, show, sql

SHOW = (
    "{% macro levels(x) %}{% for k, q in x.location_quantities | dictsort %}"
    "{{ k }}={{ q }};{% endfor %}{% endmacro %}\n"
)
# item macros that reach o.location_quantities in the ways a template author might
PER_LOCATION = {
    "direct": "{{ o.sku }} {{ o.quantity }} {% for k, q in o.location_quantities | dictsort %}"
    "{{ k }}={{ q }};{% endfor %}",
    "subscript": "{{ o['sku'] }} {{ o.quantity }} {% for k, q in o['location_quantities'] | "
    "dictsort %}{{ k }}={{ q }};{% endfor %}",
    "another macro": "{{ o.sku }} {{ o.quantity }} {{ levels(o) }}",
    "renamed": "{% set offer = o %}{{ offer.sku }} {{ o.quantity }} {{ levels(offer) }}",
    "as_dict": "{% set d = o.as_dict() %}{{ d.sku }} {{ o.quantity }} {{ levels(d) }}",
}


def levels_feed(ws: Path, item: str, stock: str) -> dict[str, str]:
    """Export a text feed whose item macro is ``item``; its lines by SKU."""
    (ws / "templates" / "levels.txt.j2").write_text(
        SHOW + "{% macro item(o, index) %}" + item + ".\n{% endmacro %}\n", encoding="utf-8"
    )
    configure(ws, f"levels:\n  type: csv\n  template: levels.txt.j2\n  output: feeds/l.txt\n"
              f"  stock: {stock}\n")  # fmt: skip
    export(ws, "levels")
    lines = (ws / "feeds" / "l.txt").read_text(encoding="utf-8").splitlines()
    return {line.split(" ", 1)[0]: line.removesuffix(".") for line in lines}


@pytest.mark.parametrize("way", sorted(PER_LOCATION))
def test_a_template_that_shows_stock_per_location_gets_every_counted_location(
    demo: Path, way: str
) -> None:
    assert show(demo, "MUG-ENAMEL")["stock"] == {"store": 12, "warehouse": 40}
    assert show(demo, "TARP-3X3")["stock"] == {"store": 1, "warehouse": 7}
    feed = levels_feed(demo, PER_LOCATION[way], "{buffer: 2}")
    assert feed["MUG-ENAMEL"] == "MUG-ENAMEL 50 store=10;warehouse=38;"
    assert feed["TARP-3X3"] == "TARP-3X3 6 store=0;warehouse=5;"
    only_store = levels_feed(demo, PER_LOCATION[way], "{locations: [store]}")
    assert only_store["MUG-ENAMEL"] == "MUG-ENAMEL 12 store=12;"


def test_a_template_that_shows_only_totals_gets_the_rules_quantity(demo: Path) -> None:
    feed = levels_feed(demo, "{{ o.sku }} {{ o.quantity }} {{ o.availability }}", "{buffer: 2}")
    assert feed["MUG-ENAMEL"] == "MUG-ENAMEL 50 in_stock"
    assert feed["TARP-3X3"] == "TARP-3X3 6 in_stock"
    only_warehouse = levels_feed(
        demo, "{{ o.sku }} {{ o.quantity }} {{ o.availability }}", "{locations: [warehouse]}"
    )
    assert only_warehouse["MUG-ENAMEL"] == "MUG-ENAMEL 40 in_stock"
    assert only_warehouse["HEADLAMP-200"] == "HEADLAMP-200 0 out_of_stock"  # all at the store


def test_an_oversold_location_lowers_the_total_and_shows_as_zero(demo: Path) -> None:
    """Sold 3 more than the store held (a late sale): the total is 40 - 3; the store itself
    shows 0, never a negative level."""
    sql(demo, "UPDATE stock SET quantity = -3 WHERE sku = 'MUG-ENAMEL' AND location = 'store'")
    assert jsonl(demo)["MUG-ENAMEL"]["quantity"] == 37
    feed = levels_feed(demo, PER_LOCATION["direct"], "{}")
    assert feed["MUG-ENAMEL"] == "MUG-ENAMEL 37 store=0;warehouse=40;"
    sql(demo, "UPDATE stock SET quantity = -50 WHERE sku = 'MUG-ENAMEL' AND location = 'store'")
    assert (jsonl(demo)["MUG-ENAMEL"]["quantity"], jsonl(demo)["MUG-ENAMEL"]["availability"]) == (
        0,
        "out_of_stock",
    )
