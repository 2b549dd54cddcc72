"""A push says which SKU's title or description it cut to the channel's limit, and to how
many characters (issue 14, item 15), as plan and export do."""

from __future__ import annotations

import re

from tests.sync.conftest import Shop


def test_push_names_the_titles_it_cut(shop: Shop) -> None:
    long_title = " ".join(["Hand-forged camping knife with walnut handle"] * 5)  # 224 characters
    shop.sql("UPDATE products SET title = ? WHERE sku = 'KNIFE-FOLD'", (long_title,))
    pushed = shop.cli("push")
    assert pushed.code == 0, pushed.output
    found = re.search(r"note acme KNIFE-FOLD: title cut to (\d+) of 224 characters "
                      r"\(acme allows 150\)", pushed.stderr)  # fmt: skip
    assert found, pushed.output
    sent = shop.server.listings["KNIFE-FOLD"]
    assert len(sent["title"]) == int(found.group(1))  # the length the note gives was sent
    again = shop.cli("push")  # nothing new is sent, and nothing is said again
    assert "title cut" not in again.stderr, again.output
