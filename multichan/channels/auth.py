"""How a request proves who sends it: the authentication strategies of the shared API client
(``multichan.channels.api``), and where the access tokens they obtain are kept.

- HTTP Basic (``Basic``) and a bearer or header token (``Token``);
- WooCommerce's one-legged OAuth 1.0a signature (``OAuth1``);
- OAuth 2 refresh-token grants (``OAuth2Refresh``) whose access token is cached in a
  ``TokenStore`` (the catalog's ``CatalogTokens`` when the engine hands one over), refreshed
  before it expires and once more when the API answers 401; a refresh token the API rotates
  (Etsy) is kept there too;
- Google's service-account keys and OAuth user credentials through google-auth
  (``GoogleCredentials``), cached the same way;
- TikTok Shop's HMAC-SHA256 request signature over path, query and body (``TikTokSign``, an
  authentication that ``signs_body``).

Each names the variables that hold its credentials (for messages) and gives their values to
the client (for redaction); ``reveal`` is the one place a secret's value is read for a request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json as jsonlib
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from multichan.channels.base import Fatal, Retriable, transient
from multichan.config import Secret
from multichan.errors import ConfigError

if TYPE_CHECKING:
    from multichan.channels.api import ApiClient


class Auth:
    """How a request proves who sends it. ``secrets`` are the credentials it uses, for messages
    (by variable name) and redaction (by value)."""

    secrets: tuple[Secret, ...] = ()

    def apply(
        self, client: ApiClient, method: str, url: str, params: dict[str, str],
        headers: dict[str, str],
    ) -> Any:  # fmt: skip
        """Add the credentials to ``params``/``headers`` in place; returns a requests ``auth``."""
        return None

    def refresh(self, client: ApiClient) -> bool:
        """After a 401: get fresh credentials; True when the request is worth sending again."""
        return False

    # an authentication whose signature covers the body (TikTok Shop's): the client then
    # sends a JSON body as the bytes it signs and calls ``sign`` once the query is complete
    signs_body: bool = False

    def sign(
        self, client: ApiClient, method: str, url: str, params: dict[str, str],
        headers: dict[str, str], body: bytes,
    ) -> None:  # fmt: skip
        """For ``signs_body``: add the signature of the request to ``params``/``headers``."""


class NoAuth(Auth):
    pass


class Basic(Auth):
    """HTTP Basic with a user and a password (WooCommerce over https)."""

    def __init__(self, user: Secret, password: Secret) -> None:
        self.secrets = (user, password)

    def apply(self, client, method, url, params, headers):  # type: ignore[no-untyped-def]
        user, password = self.secrets
        return (reveal(user), reveal(password))


class Token(Auth):
    """A token in a header: ``Authorization: Bearer <token>`` by default, or a vendor's own
    header with no scheme (Shopify's ``X-Shopify-Access-Token``)."""

    def __init__(self, token: Secret, header: str = "Authorization", scheme: str = "Bearer"):
        self.secrets = (token,)
        self.header, self.scheme = header, scheme

    def apply(self, client, method, url, params, headers):  # type: ignore[no-untyped-def]
        value = reveal(self.secrets[0])
        headers[self.header] = f"{self.scheme} {value}" if self.scheme else value


def _pct(text: str) -> str:
    return quote(text, safe="")  # RFC 3986: only unreserved characters stay as they are


class OAuth1(Auth):
    """One-legged OAuth 1.0a, HMAC-SHA256, in the query string (WooCommerce over plain http)."""

    def __init__(self, key: Secret, secret: Secret) -> None:
        self.secrets = (key, secret)

    def apply(self, client, method, url, params, headers):  # type: ignore[no-untyped-def]
        key, secret = (reveal(s) for s in self.secrets)
        params.update(
            oauth_consumer_key=key, oauth_nonce=secrets.token_hex(16),
            oauth_signature_method="HMAC-SHA256", oauth_timestamp=str(int(time.time())),
        )  # fmt: skip
        pairs = "&".join(
            f"{k}={v}" for k, v in sorted((_pct(k), _pct(v)) for k, v in params.items())
        )
        text = "&".join((method.upper(), _pct(url), _pct(pairs)))
        digest = hmac.new(f"{secret}&".encode(), text.encode(), hashlib.sha256).digest()
        params["oauth_signature"] = base64.b64encode(digest).decode()


class TokenStore:
    """Where OAuth 2 access tokens are cached: in memory by default; the engine hands each
    channel a :class:`CatalogTokens` (``channel.tokens``) so they last between runs."""

    def __init__(self) -> None:
        self._tokens: dict[str, tuple[str, float]] = {}

    def get(self, key: str) -> tuple[str, float] | None:
        return self._tokens.get(key)

    def put(self, key: str, token: str, expires_at: float) -> None:
        self._tokens[key] = (token, expires_at)


class CatalogTokens(TokenStore):
    """Access tokens in the catalog's ``channel_tokens`` table (key, token, expiry), so a cron
    job every few minutes does not refresh each time. Refresh tokens are never stored: they
    stay in the environment."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def get(self, key: str) -> tuple[str, float] | None:
        row = self.db.conn.execute(
            "SELECT token, expires_at FROM channel_tokens WHERE key = ?", [key]
        ).fetchone()
        return (str(row[0]), float(row[1])) if row else None

    def put(self, key: str, token: str, expires_at: float) -> None:
        conn = self.db.conn
        sql = (
            "INSERT INTO channel_tokens (key, token, expires_at) VALUES (?, ?, ?) ON CONFLICT"
            " (key) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at"
        )
        if conn.in_transaction:  # commits with the caller's work
            conn.execute(sql, [key, token, expires_at])
        else:
            with conn:
                conn.execute(sql, [key, token, expires_at])


class OAuth2Refresh(Auth):
    """OAuth 2 refresh-token grant (RFC 6749 section 6), as eBay, Etsy, Amazon and Google use:
    the refresh token (and client credentials) from the environment, the short-lived access
    token cached in ``store`` and refreshed a minute before it expires, or after a 401.
    ``client_auth`` "basic" sends the client id and secret as HTTP Basic (eBay, Amazon LWA
    accept it), "body" in the form (Etsy has no secret: client id only).
    ``rotating``: the grant answers a new refresh token each time (Etsy), which may be the only
    one still valid: it is kept in ``store`` (the catalog's, between runs) for as long as the
    refresh token in the environment stays the same, and sent at the next grant instead; a new
    value in the environment (the seller authorised again) starts over from it."""

    LEEWAY = 60.0
    ROTATED_LIFETIME = 90 * 86400.0  # Etsy: a refresh token lasts 90 days

    def __init__(
        self, token_url: str, refresh_token: Secret, client_id: Secret | str,
        client_secret: Secret | None = None, *, scope: str | None = None,
        client_auth: str = "basic", store: TokenStore | None = None, key: str = "",
        header: str = "Authorization", scheme: str = "Bearer", rotating: bool = False,
    ) -> None:  # fmt: skip
        self.rotating = rotating
        self.token_url, self.refresh_token = token_url, refresh_token
        self.client_id, self.client_secret = client_id, client_secret
        self.scope, self.client_auth, self.header, self.scheme = scope, client_auth, header, scheme
        self.store = store  # None: the channel's (``channel.tokens``), else in memory
        self._memory = TokenStore()
        self.key = key or token_url
        self.secrets = tuple(
            s for s in (refresh_token, client_id, client_secret) if isinstance(s, Secret)
        )
        self._lock = threading.Lock()

    def _store(self, client: ApiClient) -> TokenStore:
        return self.store or getattr(client.channel, "tokens", None) or self._memory

    def apply(self, client, method, url, params, headers):  # type: ignore[no-untyped-def]
        cached = self._store(client).get(self.key)
        if cached is None or cached[1] - self.LEEWAY <= time.time():
            cached = self._grant(client)
        client.hide(cached[0])
        headers[self.header] = f"{self.scheme} {cached[0]}" if self.scheme else cached[0]

    def refresh(self, client: ApiClient) -> bool:
        self._grant(client)
        return True

    def _grant(self, client: ApiClient) -> tuple[str, float]:
        with self._lock:
            refresh, kept_as = reveal(self.refresh_token), ""
            if self.rotating:  # the newest refresh token grown from the environment's
                seed = hashlib.sha256(refresh.encode()).hexdigest()[:16]
                kept_as = f"{self.key}#refresh:{seed}"
                kept = self._store(client).get(kept_as)
                if kept is not None and kept[1] > time.time():
                    refresh = kept[0]
                client.hide(refresh)
            form = {"grant_type": "refresh_token", "refresh_token": refresh}
            if self.scope:
                form["scope"] = self.scope
            client_id = (
                reveal(self.client_id) if isinstance(self.client_id, Secret) else self.client_id
            )
            auth = None
            if self.client_auth == "basic" and self.client_secret is not None:
                auth = (client_id, reveal(self.client_secret))
            else:
                form["client_id"] = client_id
                if self.client_secret is not None:
                    form["client_secret"] = reveal(self.client_secret)
            url = self.token_url
            if not url.startswith(("http://", "https://")):  # relative to the API's base
                url = client.base_url + url
            answer = client.send_raw("POST", url, data=form, auth=auth)
            busy = transient(answer.status, answer.headers, f"{client.vendor} token endpoint: "
                             f"HTTP {answer.status}")  # fmt: skip
            if busy is not None:  # 429/5xx: worth trying again, not a refusal
                raise busy
            body = answer.body if isinstance(answer.body, dict) else {}
            token = body.get("access_token")
            if answer.status >= 400 or not isinstance(token, str) or not token:
                said = body.get("error_description") or body.get("error") or f"HTTP {answer.status}"
                names = ", ".join(f"${s.var}" for s in self.secrets)
                raise client.redacted(
                    Fatal(
                        f"{client.vendor} refused to refresh the access token ({said}); "
                        f"check {names}"
                    )
                )
            client.hide(token)
            try:
                lifetime = float(body.get("expires_in") or 3600)
            except (TypeError, ValueError):
                lifetime = 3600.0
            found = (token, time.time() + lifetime)
            rotated = body.get("refresh_token")
            if kept_as and isinstance(rotated, str) and rotated and rotated != refresh:
                client.hide(rotated)
                self._store(client).put(kept_as, rotated, time.time() + self.ROTATED_LIFETIME)
            self._store(client).put(self.key, *found)
            return found


class GoogleCredentials(Auth):
    """Google's own credentials through google-auth: a service account's key (a JSON key file,
    or the key itself in a ``${VAR}``), which signs a JWT and trades it at the key's
    ``token_uri`` for an access token, or a user's OAuth refresh token (``refresh_token``,
    ``client_id``, ``client_secret``) traded at ``token_uri``. The access token is cached in
    the channel's token store (the catalog's, between runs) until a minute before it
    expires, minted again after a 401; the key's private key, the refresh token and every
    token minted are redacted from every message."""

    LEEWAY = 60.0

    def __init__(
        self, scopes: Sequence[str], *, key_file: str | None = None,
        key_json: Secret | None = None, refresh_token: Secret | None = None,
        client_id: Secret | None = None, client_secret: Secret | None = None,
        token_uri: str = "https://oauth2.googleapis.com/token", store: TokenStore | None = None,
    ) -> None:  # fmt: skip
        self.scopes, self.key_file, self.key_json = list(scopes), key_file, key_json
        self.refresh_token, self.client_id = refresh_token, client_id
        self.client_secret, self.token_uri, self.store = client_secret, token_uri, store
        self.secrets = tuple(
            s for s in (key_json, refresh_token, client_id, client_secret) if s is not None
        )
        self._memory = TokenStore()
        self._lock = threading.Lock()
        self._key: str | None = None  # the cache key, once the credentials are known

    def _store(self, client: ApiClient) -> TokenStore:
        return self.store or getattr(client.channel, "tokens", None) or self._memory

    def where(self) -> str:
        """Where the credentials come from, for messages (never their values)."""
        if self.key_file:
            return f"the service-account key file {self.key_file}"
        if self.key_json is not None:
            return f"the service-account key in ${self.key_json.var}"
        return " and ".join(f"${s.var}" for s in self.secrets) or "the credentials"

    def _credentials(self, client: ApiClient) -> Any:
        """google-auth credentials for the settings; Fatal naming what is wrong with them."""
        from google.oauth2 import credentials as user
        from google.oauth2 import service_account

        if self.refresh_token is not None:
            client_id = reveal(self.client_id) if self.client_id is not None else None
            secret = reveal(self.client_secret) if self.client_secret is not None else None
            refresh = reveal(self.refresh_token)
            client.hide(refresh)
            self._key = f"google-oauth:{client_id}:{' '.join(self.scopes)}"
            return user.Credentials(
                None, refresh_token=refresh, token_uri=self.token_uri, client_id=client_id,
                client_secret=secret, scopes=self.scopes,
            )  # fmt: skip
        try:
            if self.key_file:
                with open(self.key_file, encoding="utf-8") as handle:
                    info = jsonlib.load(handle)
            else:
                info = jsonlib.loads(reveal(self.key_json) if self.key_json else "")
        except OSError as exc:
            raise Fatal(f"cannot read {self.where()} ({exc.strerror or exc})") from None
        except ValueError:
            raise Fatal(f"{self.where()} is not JSON: download the key again") from None
        if not isinstance(info, dict):
            raise Fatal(f"{self.where()} is not a service-account key (a JSON object)")
        client.hide(str(info.get("private_key") or ""))
        client.hide(str(info.get("private_key_id") or ""))
        try:
            found = service_account.Credentials.from_service_account_info(info, scopes=self.scopes)
        except (ValueError, KeyError) as exc:
            raise client.redacted(
                Fatal(f"{self.where()} is not a usable service-account key ({exc})")
            ) from None
        self._key = f"google-sa:{found.service_account_email}:{' '.join(self.scopes)}"
        return found

    def apply(self, client, method, url, params, headers):  # type: ignore[no-untyped-def]
        credentials = None
        if self._key is None:
            credentials = self._credentials(client)
        cached = self._store(client).get(str(self._key))
        if cached is None or cached[1] - self.LEEWAY <= time.time():
            cached = self._grant(client, credentials)
        client.hide(cached[0])
        headers["Authorization"] = f"Bearer {cached[0]}"

    def refresh(self, client: ApiClient) -> bool:
        self._grant(client, None)
        return True

    def _grant(self, client: ApiClient, credentials: Any) -> tuple[str, float]:
        """A new access token from Google's token endpoint, through the channel's session."""
        from google.auth import exceptions
        from google.auth.transport.requests import Request

        with self._lock:
            credentials = credentials or self._credentials(client)
            try:
                credentials.refresh(Request(session=client.channel.session))
            except exceptions.RefreshError as exc:
                said = exc.args[0] if exc.args else type(exc).__name__
                raise client.redacted(
                    Fatal(f"Google refused {self.where()} ({said}); check it and run again")
                ) from None
            except exceptions.TransportError:
                raise Retriable(f"Google's token endpoint {self.token_uri} unreachable") from None
            token = str(credentials.token or "")
            if not token:
                raise Fatal(f"Google's token endpoint gave no access token for {self.where()}")
            client.hide(token)
            expiry = credentials.expiry  # naive UTC (google-auth), or None
            expires_at = expiry.replace(tzinfo=UTC).timestamp() if expiry else time.time() + 3600.0
            found = (token, expires_at)
            self._store(client).put(str(self._key), *found)
            return found


class TikTokSign(Auth):
    """TikTok Shop's signed requests (Partner Center, "Sign your API request"). Every call
    carries ``app_key``, ``timestamp`` (Unix seconds; TikTok takes 5 minutes early to 30 s
    late) and, for a shop, ``shop_cipher`` in its query, the access token in the
    ``x-tts-access-token`` header, and ``sign``: the lowercase hex HMAC-SHA256, keyed with the
    app secret, of app_secret + the URL path + each query parameter but ``sign`` and
    ``access_token``, sorted by name, as name + value + the raw body (unless it is
    multipart/form-data) + app_secret. A JSON body is serialised once and sent as the bytes
    signed (``signs_body``).

    The access token is ``access_token`` (a ``${VAR}``) until TikTok refuses it (a 401) or none
    is given; then, with a ``refresh_token``, one from TikTok's token endpoint (``GET
    token_url?app_key=&app_secret=&refresh_token=&grant_type=refresh_token``), cached in the
    channel's token store until a minute before it expires. That endpoint answers TikTok's own
    envelope (``code``, ``data.access_token``, an absolute ``access_token_expire_in``), not
    OAuth 2's, hence not :class:`OAuth2Refresh`. The app secret, the tokens and every token
    minted are redacted from every message."""

    signs_body = True
    LEEWAY = 60.0
    HEADER = "x-tts-access-token"
    TOKEN_URL = "https://auth.tiktok-shops.com/api/v2/token/refresh"

    def __init__(
        self, app_key: str, app_secret: Secret, access_token: Secret | None = None,
        refresh_token: Secret | None = None, *, shop_cipher: str | None = None,
        token_url: str = TOKEN_URL, store: TokenStore | None = None,
    ) -> None:  # fmt: skip
        self.app_key, self.app_secret, self.shop_cipher = app_key, app_secret, shop_cipher
        self.access_token, self.refresh_token = access_token, refresh_token
        self.token_url, self.store = token_url, store
        self.secrets = tuple(s for s in (app_secret, access_token, refresh_token) if s is not None)
        self.key = f"tiktok:{app_key}:{shop_cipher or ''}"
        self._memory = TokenStore()
        self._given_refused = access_token is None  # then only the refresh token gives one
        self._lock = threading.Lock()

    def _store(self, client: ApiClient) -> TokenStore:
        return self.store or getattr(client.channel, "tokens", None) or self._memory

    def apply(self, client, method, url, params, headers):  # type: ignore[no-untyped-def]
        cached = self._store(client).get(self.key)
        if cached is not None and cached[1] - self.LEEWAY > time.time():
            token = cached[0]
        elif not self._given_refused and self.access_token is not None:
            token = reveal(self.access_token)
        else:
            token = self._grant(client)[0]
        client.hide(token)
        headers[self.HEADER] = token
        params.pop("sign", None)
        params["app_key"] = self.app_key
        params["timestamp"] = str(int(time.time()))
        if self.shop_cipher:
            params["shop_cipher"] = self.shop_cipher

    def sign(self, client, method, url, params, headers, body):  # type: ignore[no-untyped-def]
        params["sign"] = tiktok_signature(
            reveal(self.app_secret), urlsplit(url).path, params, headers, body
        )

    def refresh(self, client: ApiClient) -> bool:
        if self.refresh_token is None:
            return False
        self._given_refused = True
        self._grant(client)
        return True

    def _grant(self, client: ApiClient) -> tuple[str, float]:
        if self.refresh_token is None:
            raise Fatal(f"{client.vendor}: no access token to send: set the channel's "
                        "access_token or refresh_token setting")  # fmt: skip
        with self._lock:
            query = {"app_key": self.app_key, "app_secret": reveal(self.app_secret),
                     "refresh_token": reveal(self.refresh_token),
                     "grant_type": "refresh_token"}  # fmt: skip
            answer = client.send_raw("GET", self.token_url, params=query)
            busy = transient(answer.status, answer.headers, f"{client.vendor} token endpoint: "
                             f"HTTP {answer.status}")  # fmt: skip
            if busy is not None:
                raise busy
            body = answer.body if isinstance(answer.body, dict) else {}
            data: dict[str, Any] = body["data"] if isinstance(body.get("data"), dict) else {}
            token = data.get("access_token")
            if answer.status >= 400 or body.get("code") not in (0, None) or not token:
                said = body.get("message") or f"HTTP {answer.status}"
                names = ", ".join(f"${s.var}" for s in self.secrets)
                raise client.redacted(Fatal(
                    f"{client.vendor} refused to refresh the access token ({said}); check {names}"
                ))  # fmt: skip
            token = str(token)
            client.hide(token)
            try:
                expires_at = float(data.get("access_token_expire_in") or 0)
            except (TypeError, ValueError):
                expires_at = 0.0
            if expires_at < 10**9:  # not an absolute time: a lifetime, or nothing
                expires_at = time.time() + (expires_at or 3600.0)
            found = (token, expires_at)
            self._store(client).put(self.key, *found)
            return found


def tiktok_signature(
    secret: str, path: str, params: Mapping[str, str], headers: Mapping[str, str], body: bytes
) -> str:
    """TikTok Shop's ``sign`` of one request (see :class:`TikTokSign`)."""
    text = path + "".join(
        f"{k}{params[k]}" for k in sorted(params) if k not in ("sign", "access_token")
    )
    kind = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    raw = text.encode()
    if kind.split(";")[0].strip().lower() != "multipart/form-data":
        raw += body
    key = secret.encode()
    return hmac.new(key, key + raw + key, hashlib.sha256).hexdigest()


def reveal(secret: Secret) -> str:
    """The value behind ``${VAR}``; an unset variable fails the channel (exit 5) naming it."""
    try:
        return secret.value()
    except ConfigError as exc:
        raise Fatal(f"{exc.message}; set it and run again") from None
