"""The plan: one channel's current offers diffed against what it last confirmed (push_state).

Each kind is diffed on its own fields, so a price change sends a price update only:
listings (title, description, images, identifiers, attributes), prices (price, sale price,
currency), quantities (absolute quantity). A SKU with no confirmed listing is a *create*; a SKU
the channel has listed but no longer gets an offer for (archived, filtered out, excluded) is a
*delist*, sent as quantity 0. Offers come from the rules engine, never computed here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlite_utils

from multichan.config import Channel, Config
from multichan.offers import Offer, Skipped, offers_for
from multichan.sync import state as st

FIELDS: dict[str, tuple[str, ...]] = {
    "listings": (
        "title", "description", "link", "image_link", "additional_image_links", "brand",
        "gtin", "mpn", "condition", "item_group_id", "product_type",
        "google_product_category", "color", "size", "material", "pattern", "gender",
        "age_group", "weight_grams",
    ),
    "prices": ("price", "sale_price", "currency"),
    "quantities": ("quantity",),
}  # fmt: skip


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any

    def __str__(self) -> str:
        if self.field in ("description",) or isinstance(self.new, list):
            return f"{self.field} changed"
        return f"{self.field} {_show(self.old)} -> {_show(self.new)}"

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass
class Change:
    """One SKU and kind to send: the offer, the snapshot the channel will hold, its hash."""

    sku: str
    kind: str
    action: str  # create, update, delist
    offer: Offer
    snapshot: dict[str, Any]
    hash: str
    fields: list[FieldChange] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "kind": self.kind,
            "action": self.action,
            "fields": [f.as_dict() for f in self.fields],
        }


@dataclass
class Plan:
    channel: str
    changes: list[Change] = field(default_factory=list)
    offered: int = 0
    listed: int = 0  # SKUs the channel currently shows (confirmed listing, not delisted)
    skipped: list[Skipped] = field(default_factory=list)

    def action_of(self) -> dict[str, str]:
        """SKU -> create / update / delist (the strongest of its kinds)."""
        order = {"update": 0, "delist": 1, "create": 2}
        out: dict[str, str] = {}
        for c in self.changes:
            if order[c.action] >= order.get(out.get(c.sku, "update"), 0):
                out[c.sku] = c.action
        return out

    def totals(self) -> dict[str, int]:
        actions = list(self.action_of().values())
        counts = {a: actions.count(a) for a in ("create", "update", "delist")}
        counts["unchanged"] = self.offered - counts["create"] - counts["update"]
        return counts

    def by_kind(self, kind: str) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "totals": self.totals(),
            "changes": [c.as_dict() for c in self.changes],
            "skipped": [{"sku": s.sku, "reason": s.reason} for s in self.skipped],
        }


def _show(value: Any) -> str:
    return "-" if value is None else str(value)


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


def snapshot(offer: Offer, kind: str) -> dict[str, Any]:
    return {name: _json(getattr(offer, name)) for name in FIELDS[kind]}


def channel_offers(
    db: sqlite_utils.Database, channel: Channel, config: Config, skipped: list[Skipped]
) -> Iterator[Offer]:
    """The channel's offers: the same rules engine, and the same call, as its feeds use."""
    return offers_for(db, channel, config, skipped.append)


def stub_offer(sku: str, rows: dict[str, dict[str, Any]]) -> Offer:
    """An offer for a SKU that is no longer offered, rebuilt from what was pushed, at 0."""
    data: dict[str, Any] = {}
    for kind in ("listings", "prices"):
        data.update((rows.get(kind) or {}).get("snapshot") or {})
    price = data.get("price")
    sale = data.get("sale_price")
    return Offer(
        sku=sku, item_group_id=data.get("item_group_id"), title=data.get("title") or sku,
        description=data.get("description") or "", link=data.get("link"),
        image_link=data.get("image_link"),
        additional_image_links=list(data.get("additional_image_links") or []),
        brand=data.get("brand"), gtin=data.get("gtin"), mpn=data.get("mpn"),
        condition=data.get("condition") or "new", price=Decimal(price or 0),
        sale_price=Decimal(sale) if sale else None, currency=data.get("currency") or "USD",
        quantity=0, availability="out_of_stock", location_quantities={},
        product_type=data.get("product_type"),
        google_product_category=data.get("google_product_category"), color=data.get("color"),
        size=data.get("size"), material=data.get("material"), pattern=data.get("pattern"),
        gender=data.get("gender"), age_group=data.get("age_group"),
        weight_grams=data.get("weight_grams"),
    )  # fmt: skip


def _confirmed(rows: dict[str, dict[str, Any]], kind: str) -> bool:
    row = rows.get(kind)
    return bool(row and row["hash"])


def diff(offers: Iterator[Offer], state: st.State, channel: str, kinds: tuple[str, ...]) -> Plan:
    """The plan for ``channel``: every kind in ``kinds`` whose snapshot differs from state."""
    plan = Plan(channel)
    plan.listed = sum(
        1
        for rows in state.values()
        if _confirmed(rows, "listings")
        and (rows.get("quantities") or {}).get("status") != "delisted"
    )
    seen: set[str] = set()
    for offer in offers:
        plan.offered += 1
        seen.add(offer.sku)
        rows = state.get(offer.sku, {})
        action = "update" if _confirmed(rows, "listings") else "create"
        for kind in kinds:
            snap = snapshot(offer, kind)
            digest = st.fingerprint(snap)
            row = rows.get(kind)
            if row and row["hash"] == digest:
                continue
            old = (row or {}).get("snapshot") or {}
            fields = [
                FieldChange(name, old.get(name), value)
                for name, value in snap.items()
                if not row or old.get(name) != value
            ]
            plan.changes.append(Change(offer.sku, kind, action, offer, snap, digest, fields))
    if "quantities" in kinds:
        for sku in sorted(set(state) - seen):
            rows = state[sku]
            qty = rows.get("quantities")
            if not _confirmed(rows, "listings") or (qty and qty["snapshot"] == {"quantity": 0}):
                continue
            old = ((qty or {}).get("snapshot") or {}).get("quantity")
            snap = {"quantity": 0}
            plan.changes.append(
                Change(
                    sku, "quantities", "delist", stub_offer(sku, rows), snap,
                    st.fingerprint(snap), [FieldChange("quantity", old, 0)],
                )
            )  # fmt: skip
    return plan


def make_plan(
    db: sqlite_utils.Database, channel: Channel, config: Config, kinds: tuple[str, ...]
) -> Plan:
    skipped: list[Skipped] = []
    offers = channel_offers(db, channel, config, skipped)
    plan = diff(offers, st.load(db, channel.name), channel.name, kinds)
    plan.skipped = skipped
    return plan
