"""The Square double of tests/channels/square_conftest.py, made fast enough for 10,000 SKUs.

The test double copies the *whole* catalog for every batch of a batch-upsert (so a failed batch
leaves nothing behind) and finds a variation by scanning every item. With 1,250 items that is
~66 ms per batch, and a price push writes each variation in its own batch: 100 copies per
request, minutes of server time that would swamp what the benchmark measures. This subclass
gives the same answers (same checks, ids, versions, all-or-nothing batches, idempotency) but a
batch copies only the items it touches, and variations are found through an index.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.channels import square_conftest as sq


class _Overlay(dict):  # type: ignore[type-arg]
    """The items one batch sees: an item is copied from ``base`` the first time it is read."""

    def __init__(self, base: dict[str, Any]) -> None:
        super().__init__()
        self.base = base

    def get(self, key: Any, default: Any = None) -> Any:
        if not super().__contains__(key) and key in self.base:
            self[key] = copy.deepcopy(self.base[key])
        return super().get(key, default)


class QuickSquareDouble(sq.SquareDouble):
    _owner: dict[str, str]  # variation id -> item id (rebuilt on a miss)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owner = {}

    def upsert(self, body: dict[str, Any]) -> sq.Answer:
        """SquareDouble.upsert, each batch working on copies of the items it touches only."""
        batches = body["batches"]
        sizes = [len(b["objects"]) + sum(len(o.get("item_data", {}).get("variations") or [])
                                         for o in b["objects"]) for b in batches]  # fmt: skip
        if max(sizes) > 1000 or sum(sizes) > 10_000:
            return 400, {"errors": [sq.error("ARRAY_LENGTH_TOO_LONG", f"Too many objects {sizes}")]}
        out: dict[str, Any] = {"objects": [], "id_mappings": [], "errors": []}
        for n, batch in enumerate(batches):
            items = _Overlay(self.items)
            try:
                written = [self._write(items, obj, out["id_mappings"]) for obj in batch["objects"]]
            except ValueError as exc:
                out["errors"].append(sq.error("INVALID_VALUE", f"batches[{n}]: {exc}"))
                continue
            self.items.update(items)
            out["objects"] += written
        return (200 if out["objects"] or not out["errors"] else 400), out

    def variation(self, var_id: str) -> dict[str, Any] | None:
        for attempt in (0, 1):
            item = self.items.get(self._owner.get(var_id, ""))
            for var in (item or {}).get("item_data", {}).get("variations", []):
                if var["id"] == var_id:
                    return var  # type: ignore[no-any-return]
            if attempt == 0:
                self._owner = {v["id"]: item_id for item_id, it in self.items.items()
                               for v in it["item_data"].get("variations", [])}  # fmt: skip
        return None


@contextmanager
def serve_quick() -> Iterator[QuickSquareDouble]:
    """Like square_conftest.serve_double, with the quick double."""
    double = QuickSquareDouble()
    httpd = sq._Server(("127.0.0.1", 0), sq._handler(double))
    double.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield double
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
