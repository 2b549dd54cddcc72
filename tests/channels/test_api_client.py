"""The shared API client on its own, against a small HTTP server on 127.0.0.1 written from the
contracts it speaks: an OAuth 2 token endpoint (RFC 6749 section 6: refresh_token grant, JSON
answer with access_token and expires_in, ``invalid_grant`` errors), a bearer-protected
resource (RFC 6750: 401 for a missing or expired token), and paged lists in the four shapes
channels use (page numbers with X-WP-TotalPages, offsets, cursors, RFC 8288 next links)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests

from multichan.catalog.schema import open_catalog
from multichan.channels.api import ApiClient, Refused, link_next
from multichan.channels.auth import Basic, CatalogTokens, OAuth1, OAuth2Refresh, Token
from multichan.channels.base import Channel, Fatal, Retriable
from multichan.config import Secret
from tests.servers import JsonHandler, running

REFRESH = "rt-LONGLIVED-7f3a9c"  # the value of ${ACME_REFRESH}: never shown
CLIENT_SECRET = "cs-ACME-88e1d2"


@dataclass
class Api:
    url: str = ""
    issued: list[str] = field(default_factory=list)  # access tokens handed out
    grants: list[dict[str, Any]] = field(default_factory=list)
    lifetime: int = 3600
    revoked: set[str] = field(default_factory=set)
    fail: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    items: int = 23  # in the paged lists


def _handler(api: Api) -> type[JsonHandler]:
    class Handler(JsonHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            self.handle_any("POST", body)

        def do_GET(self) -> None:
            self.handle_any("GET", "")

        def handle_any(self, method: str, body: str) -> None:
            path, _, query = self.path.partition("?")
            args = {k: v[0] for k, v in parse_qs(query).items()}
            api.requests.append((method, path))
            if api.fail:
                status, headers = api.fail.pop(0)
                return self._send(status, {"message": "induced"}, headers)
            if path == "/oauth/token":
                return self.token(parse_qs(body))
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if path.startswith("/v1/") and (token not in api.issued or token in api.revoked):
                return self._send(401, {"error": "invalid_token"},
                                  {"WWW-Authenticate": 'Bearer error="invalid_token"'})  # fmt: skip
            if path == "/v1/echo":
                return self._send(400, {"message": f"bad value {args.get('v')}", "code": "bad"})
            if path == "/v1/pages":
                page, per = int(args.get("page", 1)), int(args.get("per_page", 10))
                rows = list(range(api.items))[(page - 1) * per : page * per]
                pages = -(-api.items // per)
                return self._send(200, rows, {"X-WP-TotalPages": str(pages)})
            if path == "/v1/offsets":
                offset, limit = int(args.get("offset", 0)), int(args.get("limit", 10))
                return self._send(200, {"items": list(range(api.items))[offset : offset + limit]})
            if path == "/v1/cursors":
                start = int(args.get("cursor") or 0)
                rows = list(range(api.items))[start : start + 10]
                more = start + 10 < api.items
                return self._send(200, {"rows": rows, "cursor": str(start + 10) if more else ""})
            if path == "/v1/links":
                start = int(args.get("from", 0))
                rows = list(range(api.items))[start : start + 10]
                link = {}
                if start + 10 < api.items:
                    link = {"Link": f'<{api.url}/v1/links?from={start + 10}>; rel="next"'}
                return self._send(200, rows, link)
            return self._send(200, {"ok": True, "token": token[:3]})

        def token(self, form: dict[str, list[str]]) -> None:
            auth = self.headers.get("Authorization", "")
            client = base64.b64decode(auth.removeprefix("Basic ")).decode() if auth else ""
            api.grants.append({"form": form, "client": client})
            if form.get("grant_type") != ["refresh_token"] or form.get("refresh_token") != [
                REFRESH
            ]:
                why = {"error": "invalid_grant", "error_description": "refresh token is invalid"}
                return self._send(400, why)
            if client != f"acme-app:{CLIENT_SECRET}":
                return self._send(401, {"error": "invalid_client"})
            token = f"at-{len(api.issued) + 1:04d}-secretpart"
            api.issued.append(token)
            return self._send(200, {"access_token": token, "token_type": "Bearer",
                                    "expires_in": api.lifetime})  # fmt: skip

    return Handler


@pytest.fixture(scope="module")
def _api() -> Iterator[Api]:
    from http.server import ThreadingHTTPServer

    state = Api()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    with running(httpd) as url:
        state.url = url
        yield state


@pytest.fixture
def api(_api: Api, monkeypatch: pytest.MonkeyPatch) -> Api:
    for name in ("issued", "grants", "requests", "fail"):
        getattr(_api, name).clear()
    _api.revoked.clear()
    _api.lifetime, _api.items = 3600, 23
    monkeypatch.setenv("ACME_REFRESH", REFRESH)
    monkeypatch.setenv("ACME_CLIENT_SECRET", CLIENT_SECRET)
    return _api


class Plain(Channel):
    type = "plain"


def client(api: Api, auth: Any = None, **kwargs: Any) -> tuple[ApiClient, Channel, list[float]]:
    channel = Plain("acme", {}, session=requests.Session())
    waits: list[float] = []
    channel.sleep, channel.backoff = waits.append, lambda n: 0.5 * n
    return ApiClient(channel, api.url, vendor="Acme", auth=auth, **kwargs), channel, waits


def oauth(store: Any = None) -> OAuth2Refresh:
    return OAuth2Refresh(
        "/oauth/token", Secret("ACME_REFRESH", "channels.yaml:3"), "acme-app",
        Secret("ACME_CLIENT_SECRET", "channels.yaml:4"), store=store,
    )  # fmt: skip


# --- OAuth 2 ---------------------------------------------------------------------------------
def test_the_access_token_is_refreshed_once_and_cached_in_the_catalog(api: Api, tmp_path) -> None:
    db = open_catalog(tmp_path / "catalog.db")
    first, channel, _ = client(api, oauth())
    channel.tokens = CatalogTokens(db)
    assert first.request("GET", "/v1/thing").body["ok"]
    assert first.request("GET", "/v1/thing").body["ok"]
    assert len(api.grants) == 1  # one refresh for both calls
    assert api.grants[0]["form"]["grant_type"] == ["refresh_token"]
    # the next run (a new client, the same catalog) uses the cached token
    second, channel2, _ = client(api, oauth())
    channel2.tokens = CatalogTokens(db)
    assert second.request("GET", "/v1/thing").body["ok"] and len(api.grants) == 1
    [(key, token)] = db.execute("SELECT key, token FROM channel_tokens").fetchall()
    assert token == api.issued[0] and REFRESH not in key + token  # never the refresh token


def test_an_expired_or_revoked_token_is_refreshed(api: Api) -> None:
    api.lifetime = 30  # under the minute of leeway: refreshed before every call
    acme, _, _ = client(api, oauth())
    acme.request("GET", "/v1/thing")
    acme.request("GET", "/v1/thing")
    assert len(api.issued) == 2
    api.lifetime = 3600
    acme.request("GET", "/v1/thing")
    api.revoked.add(api.issued[-1])  # the API ends the token early: one 401, then a refresh
    assert acme.request("GET", "/v1/thing").body["ok"]
    assert [p for _, p in api.requests[-3:]] == ["/v1/thing", "/oauth/token", "/v1/thing"]


def test_a_refused_refresh_names_the_variables_and_shows_no_secret(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_REFRESH", "rt-WRONG-000")
    acme, _, _ = client(api, oauth())
    with pytest.raises(Fatal) as caught:
        acme.request("GET", "/v1/thing")
    text = str(caught.value)
    assert "refresh token is invalid" in text and "$ACME_REFRESH" in text
    assert "rt-WRONG-000" not in text and CLIENT_SECRET not in text
    assert caught.value.exit_code == 5


# --- other authentication, classification, redaction ---------------------------------------
def test_basic_token_and_oauth1_put_the_credentials_where_they_belong(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_TOKEN", "tok-123")
    sent: list[dict[str, Any]] = []

    class Spy(requests.Session):
        def request(self, method: str, url: str, **kwargs: Any) -> Any:  # type: ignore[override]
            sent.append({"url": url, **kwargs})
            return super().request(method, url, **kwargs)

    for auth in (
        Basic(Secret("ACME_TOKEN", "x"), Secret("ACME_CLIENT_SECRET", "y")),
        Token(Secret("ACME_TOKEN", "x")),
        Token(Secret("ACME_TOKEN", "x"), header="X-Acme-Key", scheme=""),
        OAuth1(Secret("ACME_TOKEN", "x"), Secret("ACME_CLIENT_SECRET", "y")),
    ):
        acme, channel, _ = client(api, auth)
        channel.session = Spy()
        acme.request("GET", "/plain", params={"q": "a b"})
    basic, bearer, header, signed = sent
    assert basic["auth"] == ("tok-123", CLIENT_SECRET)
    assert bearer["headers"]["Authorization"] == "Bearer tok-123"
    assert header["headers"]["X-Acme-Key"] == "tok-123"
    assert signed["params"]["oauth_consumer_key"] == "tok-123"
    assert signed["params"]["oauth_signature_method"] == "HMAC-SHA256"
    assert CLIENT_SECRET not in json.dumps(signed["params"])  # the secret only signs


def test_statuses_are_classified_and_idempotent_calls_sent_again(api: Api) -> None:
    acme, _, waits = client(api)
    api.fail = [(503, {"Retry-After": "4"}), (429, {})]
    assert acme.request("GET", "/plain").body["ok"]  # after a 503 and a 429
    assert waits == [4.0, 1.0]  # the server's Retry-After, then the backoff for attempt 2
    api.fail = [(503, {})]
    with pytest.raises(Retriable, match="HTTP 503"):
        acme.request("POST", "/plain")  # not idempotent: sent once
    del api.requests[:]
    api.fail = [(503, {})] * 3
    with pytest.raises(Retriable):
        acme.request("POST", "/plain", idempotent=True)  # three attempts, then the engine's
    assert len(api.requests) == Plain.request_attempts == 3
    del api.requests[:]
    with pytest.raises(Fatal, match="HTTP 401"):  # no token: fatal at once, never retried
        acme.request("GET", "/v1/echo", params={"v": 1})
    assert len(api.requests) == 1
    api.fail = [(404, {})]
    with pytest.raises(Refused) as refused:  # any other 4xx: for the module to map
        acme.request("GET", "/plain")
    assert refused.value.answer.status == 404 and "induced" in str(refused.value)


def test_a_secret_echoed_by_the_server_is_redacted(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_TOKEN", "tok-SECRET-9")
    issued = Token(Secret("ACME_TOKEN", "x"))
    acme, _, _ = client(api, oauth())
    acme.request("GET", "/v1/thing")
    with pytest.raises(Refused) as caught:
        acme.request("GET", "/v1/echo", params={"v": api.issued[0]})
    assert api.issued[0] not in str(caught.value) and "bad value ***" in str(caught.value)
    plain, _, _ = client(api, issued)
    with pytest.raises(Fatal) as caught2:  # 401 from /v1: the bearer token is not one issued
        plain.request("GET", "/v1/echo", params={"v": "tok-SECRET-9"})
    assert "tok-SECRET-9" not in str(caught2.value) and "$ACME_TOKEN" in str(caught2.value)


def test_unreachable_and_slow_servers_are_retriable() -> None:
    api = Api(url="http://127.0.0.1:9")
    acme, _, waits = client(api, timeout=1)
    with pytest.raises(Retriable, match="unreachable"):
        acme.request("GET", "/plain")
    assert len(waits) == Plain.request_attempts - 1


# --- paging ---------------------------------------------------------------------------------------
def test_the_four_paging_shapes_read_every_item_once(api: Api) -> None:
    acme, _, _ = client(api, oauth())
    pages = list(acme.page_numbers("/v1/pages", {}, per_page=10))
    assert [r for a in pages for r in a.body] == list(range(23)) and len(pages) == 3
    offsets = list(acme.offsets("/v1/offsets", {}, limit=10, items=lambda a: a.body["items"]))
    assert [r for a in offsets for r in a.body["items"]] == list(range(23))
    cursors = list(
        acme.cursors(
            "GET", "/v1/cursors", lambda c: {"params": {"cursor": c} if c else {}},
            lambda a: a.body["cursor"],
        )
    )  # fmt: skip
    assert [r for a in cursors for r in a.body["rows"]] == list(range(23))
    links = list(acme.next_links("/v1/links"))
    assert [r for a in links for r in a.body] == list(range(23))
    api.items = 20  # an exact multiple: the total-pages header ends it without an empty page
    assert len(list(acme.page_numbers("/v1/pages", {}, per_page=10))) == 2
    assert link_next('<https://x/a?p=2>; rel="next", <https://x/a?p=9>; rel="last"') == (
        "https://x/a?p=2")  # fmt: skip


def test_a_cursor_that_repeats_ends_the_paging(api: Api) -> None:
    acme, _, _ = client(api, oauth())
    seen = list(acme.cursors("GET", "/v1/cursors", lambda c: {}, lambda a: "same"))
    assert len(seen) == 2  # the first page, then the cursor came back: stop
