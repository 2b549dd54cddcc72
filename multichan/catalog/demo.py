"""The embedded demo shop: about 60 SKUs a seller can try every command on.

Simple products and apparel with size x colour variants, valid GTINs, images, stock in a
``store`` and a ``warehouse``, a few SKUs out of stock and one draft. Deterministic: the same
catalog every time, so demo feeds are byte-identical between runs. ``IDENTITY`` is the demo
shop's name and addresses for its channels.yaml.
"""

from __future__ import annotations

from decimal import Decimal

from multichan.catalog.store import ProductInput

SHOP = "https://shop.example.com"
CDN = "https://cdn.example.com/demo"
BRAND = "Northwind Outfitters"
# the demo shop's identity, written into the channels.yaml of `multichan init --demo` only
IDENTITY = {"name": BRAND, "url": SHOP, "link_template": f"{SHOP}/products/{{handle}}"}


def gtin13(n: int) -> str:
    """A valid EAN-13 in the GS1 range 400-440 (Germany), with the right check digit."""
    body = f"40{n:010d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


SIMPLE = [
    # sku, title, type, google category, price, sale, store, warehouse, description
    ("MUG-ENAMEL", "Enamel Camp Mug 350 ml", "Home & Garden > Kitchen > Mugs", "2169",
     "14.00", None, 12, 40, "<p>Steel mug with a <b>chip-resistant</b> enamel coat &amp; "
     "rolled rim. Dishwasher safe.</p>"),
    ("BOTTLE-STEEL-750", "Insulated Steel Bottle 750 ml", "Sporting Goods > Bottles", "3437",
     "29.90", "24.90", 8, 55, "<p>Keeps drinks cold for 24 h, hot for 12 h.</p>"),
    ("LANTERN-LED", "Rechargeable LED Lantern", "Sporting Goods > Camping > Lanterns", "7175",
     "39.00", None, 3, 20, "<ul><li>300 lumen</li><li>USB-C charging</li></ul>"),
    ("KNIFE-FOLD", "Folding Pocket Knife, Oak Handle", "Sporting Goods > Camping > Knives",
     "1375", "34.50", None, 0, 0, "<p>Sandvik steel blade, oak handle, liner lock.</p>"),
    ("BLANKET-WOOL", "Merino Wool Picnic Blanket", "Home & Garden > Linens > Blankets", "1985",
     "89.00", "79.00", 2, 14, "<p>Water-resistant backing, carry strap &amp; buckle.</p>"),
    ("STOVE-GAS", "Compact Gas Stove", "Sporting Goods > Camping > Stoves", "1013",
     "59.00", None, 5, 18, "<p>1.2 kW burner; fits 100 g and 230 g cartridges.</p>"),
    ("MAP-CASE", "Waterproof Map Case A4", "Sporting Goods > Hiking > Map Cases", "1011",
     "12.50", None, 20, 60, "<p>Clear TPU window, roll-top closure.</p>"),
    ("HEADLAMP-200", "Headlamp 200 lm", "Sporting Goods > Camping > Flashlights", "7178",
     "24.00", None, 10, 0, "<p>Red night mode, IPX4.</p>"),
    ("SEAT-PAD", "Foldable Seat Pad", "Sporting Goods > Camping > Sleeping Pads", "1003",
     "9.90", None, 30, 90, "<p>Closed-cell foam, 45 g.</p>"),
    ("FIRST-AID", "First Aid Kit, Hiking", "Health & Beauty > First Aid Kits", "4618",
     "19.00", None, 0, 0, "<p>46 pieces in a zip pouch.</p>"),
    ("TARP-3X3", "Ultralight Tarp 3 x 3 m", "Sporting Goods > Camping > Tarps", "1016",
     "119.00", None, 1, 7, "<p>Silnylon, 9 tie-outs, 420 g.</p>"),
    ("GIFT-CARD-50", "Gift Card 50", "Gift Cards", "53", "50.00", None, 100, 0,
     "<p>Draft: not on sale yet.</p>"),
]  # fmt: skip

APPAREL = [
    # group, title, type, google category, price, sale, sizes, colours
    ("TEE-MERINO", "Merino T-Shirt", "Apparel > Shirts & Tops", "212", "45.00", None,
     ["S", "M", "L", "XL"], ["Black", "Navy", "Forest"]),
    ("HOODIE-FLEECE", "Fleece Hoodie", "Apparel > Outerwear", "5598", "79.00", "69.00",
     ["S", "M", "L"], ["Grey", "Red"]),
    ("SOCK-HIKE", "Hiking Socks", "Apparel > Socks", "209", "16.00", None,
     ["S", "M", "L"], ["Charcoal", "Olive"]),
    ("JACKET-RAIN", "Packable Rain Jacket", "Apparel > Outerwear > Rain Coats", "5514",
     "129.00", None, ["S", "M", "L", "XL"], ["Yellow", "Blue"]),
    ("CAP-WOOL", "Wool Beanie", "Apparel > Hats", "173", "22.00", None,
     ["One Size"], ["Black", "Mustard", "Teal"]),
    ("PANTS-TREK", "Trekking Pants", "Apparel > Pants", "204", "89.00", None,
     ["28", "30", "32", "34"], ["Khaki", "Black"]),
    ("SHIRT-FLANNEL", "Flannel Shirt", "Apparel > Shirts & Tops", "212", "59.00", "49.00",
     ["S", "M", "L"], ["Red", "Green"]),
]  # fmt: skip


def products() -> list[ProductInput]:
    """The demo catalog, ordered as it will be stored."""
    items: list[ProductInput] = []
    n = 1000
    for sku, title, ptype, gcat, price, sale, store, warehouse, desc in SIMPLE:
        n += 1
        slug = sku.lower()
        items.append(
            ProductInput(
                sku=sku,
                fields={
                    "handle": slug,
                    "title": title,
                    "description": desc,
                    "brand": BRAND,
                    "gtin": gtin13(n),
                    "mpn": f"NW-{n}",
                    "condition": "new",
                    "price": price,
                    "sale_price": sale,
                    "currency": "USD",
                    "weight_grams": 200 + n % 7 * 150,
                    "product_type": ptype,
                    "google_product_category": gcat,
                    "link": f"{SHOP}/products/{slug}",
                    "tags": "outdoor,demo",
                    "status": "draft" if sku == "GIFT-CARD-50" else "active",
                },
                images=[f"{CDN}/{slug}-1.jpg", f"{CDN}/{slug}-2.jpg"],
                stock={"store": store, "warehouse": warehouse},
            )
        )
    for group, title, ptype, gcat, price, sale, sizes, colours in APPAREL:
        slug = group.lower()
        for colour in colours:
            for size in sizes:
                n += 1
                size_code = size.replace(" ", "").upper()
                sku = f"{group}-{colour[:3].upper()}-{size_code}"
                # a deterministic spread of stock, with a few variants sold out everywhere
                store = (n * 7) % 6
                warehouse = 0 if n % 11 == 0 else (n * 13) % 25
                items.append(
                    ProductInput(
                        sku=sku,
                        fields={
                            "item_group_id": group,
                            "handle": slug,
                            "title": f"{title} - {colour} / {size}",
                            "description": f"<p>{title} in {colour.lower()}. "
                            "Soft, breathable &amp; quick to dry.</p>",
                            "brand": BRAND,
                            "gtin": gtin13(n),
                            "mpn": f"NW-{n}",
                            "condition": "new",
                            "price": price,
                            "sale_price": sale,
                            "currency": "USD",
                            "weight_grams": 150 + n % 5 * 50,
                            "product_type": ptype,
                            "google_product_category": gcat,
                            "link": f"{SHOP}/products/{slug}?variant={sku}",
                            "color": colour,
                            "size": size,
                            "gender": "unisex",
                            "age_group": "adult",
                            "tags": "apparel,demo",
                            "options": f'{{"Color": "{colour}", "Size": "{size}"}}',
                            "status": "active",
                        },
                        images=[f"{CDN}/{slug}-{colour.lower()}.jpg", f"{CDN}/{slug}-detail.jpg"],
                        stock={"store": store, "warehouse": warehouse},
                    )
                )
    assert all(Decimal(i.fields["price"]) > 0 for i in items)  # type: ignore[arg-type]
    return items
