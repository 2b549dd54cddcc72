"""Write a synthetic catalog CSV in the generic multichan format (used by the benchmarks)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path


def gtin13(n: int) -> str:
    body = f"50{n:010d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def write(path: Path, count: int) -> None:
    header = [
        "sku",
        "title",
        "description",
        "brand",
        "gtin",
        "mpn",
        "price",
        "sale_price",
        "currency",
        "link",
        "image_link",
        "condition",
        "product_type",
        "item_group_id",
        "color",
        "size",
        "status",
        "quantity:store",
        "quantity:warehouse",
    ]
    colours, sizes = ["Black", "Navy", "Red", "Green"], ["S", "M", "L", "XL"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(header)
        for n in range(count):
            group = n // 8
            out.writerow(
                [
                    f"SKU-{n:07d}",
                    f"Product {group} & friends - {colours[n % 4]} / {sizes[n % 4]}",
                    f"<p>Description of product {group}: soft, durable &amp; made to last.</p>",
                    f"Brand {n % 50}",
                    gtin13(n),
                    f"MPN-{n}",
                    f"{10 + n % 90}.{n % 100:02d}",
                    f"{9 + n % 90}.00" if n % 5 == 0 else "",
                    "USD",
                    f"https://shop.example.com/products/p{group}?variant={n}",
                    f"https://cdn.example.com/img/{n}.jpg",
                    "new",
                    "Apparel > Shirts",
                    f"G{group}",
                    colours[n % 4],
                    sizes[n % 4],
                    "draft" if n % 97 == 0 else "active",
                    n % 7,
                    n % 13,
                ]
            )


if __name__ == "__main__":
    write(Path(sys.argv[1]), int(sys.argv[2]))
