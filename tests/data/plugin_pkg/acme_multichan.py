"""Acme Market: a third-party multichan channel, written only against multichan's public
channel interface (multichan.channels.base) and found only through its entry point.

Acme's API (a small JSON batch API):
- ``POST /v1/listings/batch``, ``/v1/prices/batch``, ``/v1/inventory/batch`` with
  ``{"items": [...]}`` answer ``{"results": [{"sku", "status": "ok"|"error", "listing_id"?,
  "error"?}]}``;
- ``GET /v1/listings?skus=A,B`` answers ``{"listings": [{"sku", "price", "quantity", ...}]}``;
  without ``skus``, every listing in SKU order, ``offset``/``limit`` (at most 100) with
  ``next_offset`` (null on the last page);
- ``POST /v1/jobs`` with ``{"operation", "items"}`` starts a job and answers ``{"job_id"}``;
  ``GET /v1/jobs/{id}`` answers ``{"status": "running"}`` until it is done, then
  ``{"status": "done", "results": [...]}`` as a batch would (sellers switch jobs on by
  setting ``job_batch``, as tests do);
- the token goes in ``X-Acme-Token``; 401/403 bad token, 429 with Retry-After, 5xx outages.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import requests

from multichan.channels.base import (
    Channel,
    Fatal,
    ItemResult,
    RateLimit,
    Retriable,
    SettingSpec,
)
from multichan.offers import Offer


class AcmeMarket(Channel):
    """Acme Market seller API: listings, prices and stock in JSON batches."""

    type = "acme_market"
    supports = frozenset({"listings", "prices", "quantities"})
    max_batch: ClassVar[dict[str, int]] = {"listings": 20, "prices": 50, "quantities": 50}
    rate_limit = RateLimit(requests_per_second=5, burst=10)
    settings_schema: ClassVar[dict[str, SettingSpec]] = {
        "base_url": SettingSpec("url", required=True, help="https://api.acme.example"),
        "api_token": SettingSpec("secret", required=True, help="${ACME_TOKEN}"),
        "timeout": SettingSpec("int", default=30, help="seconds per request"),
    }
    credential_env = ("ACME_TOKEN",)

    def upsert_listings(self, offers: list[Offer]) -> list[ItemResult]:
        return self._batch("/v1/listings/batch", offers, [self._listing(o) for o in offers])

    def update_prices(self, offers: list[Offer]) -> list[ItemResult]:
        return self._batch("/v1/prices/batch", offers, [self._price(o) for o in offers])

    @staticmethod
    def _listing(o: Offer) -> dict[str, Any]:
        return {
            "sku": o.sku,
            "title": o.title,
            "description": o.description,
            "price": str(o.price),
            "currency": o.currency,
            "quantity": o.quantity,
            "link": o.link,
            "image": o.image_link,
        }

    @staticmethod
    def _price(o: Offer) -> dict[str, Any]:
        return {
            "sku": o.sku,
            "price": str(o.price),
            "sale_price": None if o.sale_price is None else str(o.sale_price),
            "currency": o.currency,
        }

    def update_quantities(self, offers: list[Offer]) -> list[ItemResult]:
        items = [{"sku": o.sku, "quantity": o.quantity} for o in offers]
        return self._batch("/v1/inventory/batch", offers, items)

    def submit_job(self, operation: str, offers: list[Offer]) -> dict[str, str]:
        items = self._items(operation, offers)
        body = self._request("POST", "/v1/jobs", json={"operation": operation, "items": items})
        return {"job_id": str(body["job_id"])}

    def collect_job(
        self, operation: str, ticket: dict[str, str], skus: list[str]
    ) -> list[ItemResult] | None:
        body = self._request("GET", f"/v1/jobs/{ticket['job_id']}")
        if body.get("status") != "done":
            return None
        return self._results(skus, body.get("results", []))

    def _items(self, operation: str, offers: list[Offer]) -> list[dict[str, Any]]:
        if operation == "listings":
            return [self._listing(o) for o in offers]
        if operation == "prices":
            return [self._price(o) for o in offers]
        return [{"sku": o.sku, "quantity": o.quantity} for o in offers]

    def fetch_remote(self, skus: Sequence[str]) -> dict[str, dict[str, Any]]:
        body = self._request("GET", "/v1/listings", params={"skus": ",".join(skus)})
        return {row["sku"]: row for row in body.get("listings", [])}

    def remote_listings(self) -> Iterator[tuple[str, dict[str, Any]]]:
        offset: int | None = 0
        while offset is not None:
            body = self._request("GET", "/v1/listings", params={"offset": offset, "limit": 100})
            for row in body.get("listings", []):
                fields: dict[str, Any] = {"price": row.get("price"), "listed": True}
                if "sale_price" in row:
                    fields["sale_price"] = row["sale_price"]
                if "title" in row:
                    fields["title"] = row["title"]
                if "quantity" in row:
                    fields["quantity"] = int(row["quantity"])
                yield str(row["sku"]), fields
            offset = body.get("next_offset")

    # --- HTTP --------------------------------------------------------------------------------
    def _batch(self, path: str, offers: list[Offer], items: list[dict]) -> list[ItemResult]:
        body = self._request("POST", path, json={"items": items})
        return self._results([o.sku for o in offers], body.get("results", []))

    @staticmethod
    def _results(skus: list[str], answers: list[dict[str, Any]]) -> list[ItemResult]:
        by_sku = {r.get("sku"): r for r in answers}
        results = []
        for sku in skus:
            r = by_sku.get(sku)
            if r is None:
                results.append(
                    ItemResult.rejected(sku, "Acme sent no result for it", retriable=True)
                )
            elif r.get("status") == "busy":  # Acme asks to send it again after retry_after s
                wait = float(r["retry_after"]) if r.get("retry_after") is not None else None
                results.append(
                    ItemResult.rejected(sku, "Acme is busy", retriable=True, retry_after=wait)
                )
            elif r.get("status") == "ok":
                ids = {"listing_id": str(r["listing_id"])} if r.get("listing_id") else {}
                results.append(ItemResult.accepted(sku, **ids))
            else:
                results.append(ItemResult.rejected(sku, str(r.get("error") or "rejected")))
        return results

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        token = self.settings["api_token"]
        url = self.settings["base_url"] + path
        try:
            response = self.session.request(
                method,
                url,
                headers={"X-Acme-Token": token.value()},
                timeout=self.settings.get("timeout") or 30,
                **kwargs,
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise Retriable(f"Acme Market unreachable: {type(exc).__name__}") from None
        status = response.status_code
        if status in (401, 403):
            raise Fatal(f"Acme Market refused the token in ${token.var} (HTTP {status})")
        if status == 429:
            after = response.headers.get("Retry-After")
            raise Retriable(
                "Acme Market rate limit (HTTP 429)",
                retry_after=float(after) if after and after.isdigit() else None,
            )
        if status >= 500:
            raise Retriable(f"Acme Market error (HTTP {status})")
        if status >= 400:
            raise Fatal(f"Acme Market refused {method} {path} (HTTP {status}): {response.text}")
        return response.json()
