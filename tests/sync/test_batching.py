"""Packing a product's variants into sends: the fast first fit puts every part where trying
each send in turn would, only faster (300k changed variants of 120k products: 0.3 s instead of
2.5 s on the development machine; timing is not asserted here)."""

from __future__ import annotations

import random
from typing import Any

from multichan.sync import batching


def first_fit_one_by_one(parts: list[list[Any]], size: int, cap: int) -> list[list[list[Any]]]:
    """First fit the slow, obvious way: try every send in order."""
    bins: list[list[list[Any]]] = []
    for part in parts:
        for batch in bins:
            if sum(map(len, batch)) + len(part) <= size and len(batch) < cap:
                batch.append(part)
                break
        else:
            bins.append([part])
    return bins


def test_the_fast_first_fit_packs_like_trying_every_send_in_turn() -> None:
    rnd = random.Random(11)
    for _ in range(300):
        size, cap = rnd.randint(1, 40), rnd.choice([1, 2, 3, 5, 10, 1000])
        parts = [[object()] * rnd.randint(1, size) for _ in range(rnd.randint(0, 120))]
        parts.sort(key=len, reverse=rnd.random() < 0.7)
        assert batching._first_fit(parts, size, cap) == first_fit_one_by_one(parts, size, cap)
