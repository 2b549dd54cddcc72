"""The Shipment Tracking extension of the WooCommerce test shop (tests/servers/woocommerce.py),
written from the extension's REST documentation at woocommerce.com ("Create a tracking item
with the Shipment Tracking REST API", "Create a custom-provider tracking item", "List Shipment
Tracking providers", "Understand Shipment Tracking REST API responses"), not from the client.

Routes under ``/wp-json/wc-shipment-tracking/v3``, only while the extension is ``installed``
(else WordPress's 404 ``rest_no_route``, as for any route nobody registered):
``GET orders/<order_id>/shipment-trackings`` (the order's items), ``POST`` on the same route
(HTTP 201 and the item) and ``GET shipment-trackings/providers`` (region -> name -> URL format).

A create needs ``tracking_number`` and either ``tracking_provider``, a provider name of the
list (the extension matches it after WordPress's ``sanitize_title``, so "royal-mail" is "Royal
Mail"), or ``custom_tracking_provider`` with ``custom_tracking_link`` (both documented as
required for a custom provider); ``date_shipped`` is ``YYYY-MM-DD``, today when omitted. The
extension itself stores an unknown provider name and shows it with no name or link; the docs
say to send one of the list, so this shop refuses it (HTTP 400 ``woo_test_server_*``) to make
a wrong mapping visible. An item answers ``tracking_id`` (32 hex digits: not the tracking
number), ``tracking_provider`` (its formatted name), ``tracking_link`` (the URL format with
``%1$s`` as the number), ``tracking_number`` and ``date_shipped``. An order id that is no order
is 404 ``woocommerce_rest_order_invalid_id`` "Invalid order ID."; a trashed order still is one.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from tests.servers.woocommerce_orders import Created, WooOrders
from tests.servers.woocommerce_shop import Json, WooError

PREFIX = "/wp-json/wc-shipment-tracking/v3/"
# the extension's built-in providers by region (its providers endpoint); URL formats are kept
# for the ones tests show, the others answer an empty link here
PROVIDERS: dict[str, list[str]] = {
    "Australia": ["Australia Post", "Fastway Couriers"],
    "Austria": ["post.at", "dhl.at", "DPD.at"],
    "Brazil": ["Correios"],
    "Belgium": ["bpost"],
    "Canada": ["Canada Post", "Purolator"],
    "Czech Republic": ["PPL.cz", "Česká pošta", "DHL.cz", "DPD.cz"],
    "Finland": ["Itella"],
    "France": ["Colissimo"],
    "Germany": ["DHL Intraship (DE)", "Hermes", "Deutsche Post DHL", "UPS Germany", "DPD.de"],
    "Ireland": ["DPD.ie", "An Post"],
    "Italy": ["BRT (Bartolini)", "DHL Express"],
    "India": ["DTDC"],
    "Netherlands": ["PostNL", "DPD.NL", "UPS Netherlands"],
    "New Zealand": ["Courier Post", "NZ Post", "Aramex", "PBT Couriers"],
    "Poland": ["InPost", "DPD.PL", "Poczta Polska"],
    "Romania": ["Fan Courier", "DPD Romania", "Urgent Cargus"],
    "South African": ["SAPO", "Fastway"],
    "Sweden": ["PostNord Sverige AB", "DHL.se", "Bring.se", "UPS.se", "DB Schenker"],
    "United Kingdom": [
        "DHL", "DPD.co.uk", "DPD Local", "EVRi", "EVRi (international)", "ParcelForce",
        "Royal Mail", "TNT Express (consignment)", "TNT Express (reference)", "DHL Parcel UK",
    ],
    "United States": [
        "DHL US", "DHL eCommerce", "Fedex", "FedEx Sameday", "GlobalPost", "OnTrac", "UPS",
        "USPS",
    ],
}  # fmt: skip
LINKS = {
    "UPS": "https://www.ups.com/track?loc=en_US&tracknum=%1$s",
    "USPS": "https://tools.usps.com/go/TrackConfirmAction_input?qtc_tLabels1=%1$s",
    "Royal Mail": "https://www3.royalmail.com/track-your-item#/tracking-results/%1$s",
    "DHL": "https://www.dhl.com/content/g0/en/express/tracking.shtml?brand=DHL&AWB=%1$s",
}
WRITABLE = (
    "tracking_provider",
    "custom_tracking_provider",
    "custom_tracking_link",
    "tracking_number",
    "date_shipped",
)


def sanitize_title(title: str) -> str:
    """WordPress's sanitize_title (save context), as far as provider names need it."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    text = re.sub(r"<[^>]*>", "", text).lower().replace(".", "-")
    text = re.sub(r"[^a-z0-9 _-]", "", text)
    return re.sub(r"-+", "-", re.sub(r"\s+", "-", text)).strip("-")


BY_SLUG = {sanitize_title(name): name for names in PROVIDERS.values() for name in names}


@dataclass
class ShipmentTracking:
    """The extension's state: whether it is installed, and each order's tracking items (as
    it stores them: the provider's slug, or the custom name and link)."""

    orders: WooOrders
    installed: bool = False
    items: dict[int, list[Json]] = field(default_factory=dict)

    def route(self, method: str, path: str, body: Any, base: str) -> Any:
        rest = path.removeprefix(PREFIX).split("/")
        if not self.installed:
            raise WooError(
                "rest_no_route", "No route was found matching the URL and request method", 404
            )
        if rest == ["shipment-trackings", "providers"] and method == "GET":
            return {
                region: {n: LINKS.get(n, "") for n in names} for region, names in PROVIDERS.items()
            }
        route = len(rest) == 3 and rest[0] == "orders" and rest[2] == "shipment-trackings"
        if route and rest[1].isdigit() and method in ("GET", "POST"):
            order_id = int(rest[1])
            if order_id not in self.orders.by_id:
                raise WooError("woocommerce_rest_order_invalid_id", "Invalid order ID.", 404)
            if method == "POST":
                return Created(self._answer(order_id, self.create(order_id, body), base))
            return [self._answer(order_id, x, base) for x in self.items.get(order_id, [])]
        raise WooError(
            "rest_no_route", "No route was found matching the URL and request method", 404
        )

    def create(self, order_id: int, body: Any) -> Json:
        if not isinstance(body, dict):
            raise WooError("rest_invalid_json", "Invalid JSON body passed.")
        bad = {k: f"{k} is not a writable property." for k in body if k not in WRITABLE}
        bad |= {
            k: f"{k} is not of type string."
            for k in WRITABLE
            if k in body and not isinstance(body[k], str)
        }
        if bad:
            raise WooError(
                "rest_invalid_param", f"Invalid parameter(s): {', '.join(bad)}", params=bad
            )
        if not body.get("tracking_number"):
            raise WooError(
                "rest_missing_callback_param",
                "Missing parameter(s): tracking_number",
                params=["tracking_number"],
            )
        provider = body.get("tracking_provider") or ""
        custom = body.get("custom_tracking_provider") or ""
        link = body.get("custom_tracking_link") or ""
        if provider and sanitize_title(provider) not in BY_SLUG:
            raise WooError(
                "woo_test_server_unknown_provider",
                f"{provider!r} is not a provider of the providers endpoint; send a"
                " custom provider instead",
            )
        if not provider and not (custom and link):
            raise WooError(
                "woo_test_server_missing_provider",
                "send tracking_provider, or custom_tracking_provider and"
                " custom_tracking_link (both required for a custom provider)",
            )
        if link and not re.match(r"https?://", link):
            raise WooError("woo_test_server_invalid_link", "custom_tracking_link is not a URL")
        shipped = body.get("date_shipped") or datetime.now(UTC).date().isoformat()
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", shipped):
                raise ValueError(shipped)
            day = date.fromisoformat(shipped)
        except ValueError:
            raise WooError(
                "woo_test_server_invalid_date", "date_shipped must be YYYY-MM-DD"
            ) from None
        item = {
            "tracking_id": uuid.uuid4().hex,
            "tracking_provider": sanitize_title(provider),
            "custom_tracking_provider": custom if not provider else "",
            "custom_tracking_link": link if not provider else "",
            "tracking_number": body["tracking_number"],
            "date_shipped": day.isoformat(),
        }
        self.items.setdefault(order_id, []).append(item)
        return item

    def shown(self, order_id: int) -> list[tuple[str, str, str]]:
        """What the order shows, per item: (provider, tracking number, link)."""
        return [
            (a["tracking_provider"], a["tracking_number"], a["tracking_link"])
            for a in (self._answer(order_id, x, "") for x in self.items.get(order_id, []))
        ]

    @staticmethod
    def _answer(order_id: int, item: Json, base: str) -> Json:
        if item["custom_tracking_provider"]:
            name, link = item["custom_tracking_provider"], item["custom_tracking_link"]
        else:
            name = BY_SLUG[item["tracking_provider"]]
            link = LINKS.get(name, "")
        up = f"{base}{PREFIX}orders/{order_id}"
        return {
            "tracking_id": item["tracking_id"],
            "tracking_provider": name,
            "tracking_link": link.replace("%1$s", item["tracking_number"]).replace("%%", "%"),
            "tracking_number": item["tracking_number"],
            "date_shipped": item["date_shipped"],
            "_links": {
                "self": [{"href": f"{up}/shipment-trackings/{item['tracking_id']}"}],
                "collection": [{"href": f"{up}/shipment-trackings"}],
                "up": [{"href": up}],
            },
        }
