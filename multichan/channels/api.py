"""The shared API client every channel module talks HTTP through.

It owns what every channel needs and no channel should write again:
- **authentication** strategies: HTTP Basic, a bearer or header token, WooCommerce's one-legged
  OAuth 1.0a signature, and OAuth 2 refresh-token grants whose access token is cached (in the
  catalog when the engine hands a store over), refreshed before it expires and once more when
  the API answers 401;
- **timeouts** and the mapping of transport failures (timeout, refused or reset connection) to
  ``Retriable``;
- **one classification of answers**: 401/403 ``Fatal`` naming the variables that hold the
  credentials, 408/429/5xx ``Retriable`` with the channel's Retry-After, any other 4xx
  ``Refused`` (the module decides whether it concerns some items or the whole batch); a module
  refines it with a ``refine`` hook (GraphQL errors in a 200, a 404 meaning a wrong base URL);
- **retries of idempotent requests at the request level**, with backoff or the channel's
  Retry-After, so a send of several requests never repeats the ones that went through;
- **redaction**: every message it raises has the secrets' values replaced by ``***``;
- **pagination**: page numbers (with a total-pages header), offsets, cursors and next links,
  each a generator of pages, so a caller handles one page at a time.

Pacing is the engine's: the channel's ``session`` is the engine's paced session, so every
request here, retries included, takes a token from the channel's bucket.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json as jsonlib
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from multichan.channels.base import Fatal, Retriable, transient
from multichan.config import Secret
from multichan.errors import ConfigError

if TYPE_CHECKING:
    from multichan.channels.base import Channel

Json = Any
Refine = Callable[["Answer"], Exception | None]


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status, headers, the body parsed as JSON (None when it is not JSON)
    and its text."""

    status: int
    headers: Mapping[str, str]
    body: Json
    text: str
    method: str
    path: str


class Refused(Fatal):
    """The API refused one request (a 4xx that is neither authentication nor throttling).
    ``answer`` is what it said; a module maps it to the items concerned or lets it fail the
    batch (exit 5)."""

    def __init__(self, message: str, answer: Answer) -> None:
        super().__init__(message)
        self.answer = answer


# --- authentication ------------------------------------------------------------------------------
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
    accept it), "body" in the form (Etsy has no secret: client id only)."""

    LEEWAY = 60.0

    def __init__(
        self, token_url: str, refresh_token: Secret, client_id: Secret | str,
        client_secret: Secret | None = None, *, scope: str | None = None,
        client_auth: str = "basic", store: TokenStore | None = None, key: str = "",
        header: str = "Authorization", scheme: str = "Bearer",
    ) -> None:  # fmt: skip
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
            form = {"grant_type": "refresh_token", "refresh_token": reveal(self.refresh_token)}
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
            self._store(client).put(self.key, *found)
            return found


def reveal(secret: Secret) -> str:
    """The value behind ``${VAR}``; an unset variable fails the channel (exit 5) naming it."""
    try:
        return secret.value()
    except ConfigError as exc:
        raise Fatal(f"{exc.message}; set it and run again") from None


# --- the client ----------------------------------------------------------------------------------
def new_session() -> Any:
    """A channel's HTTP transport (a ``requests.Session``), until the engine paces it."""
    import requests

    return requests.Session()


class ApiClient:
    """HTTP for one channel: ``request`` sends one call, classified; the pagination helpers
    yield pages. ``channel`` supplies the (paced) session, ``sleep`` and ``backoff`` and its
    ``request_attempts``, read at every call, so the engine can swap them in."""

    def __init__(
        self,
        channel: Channel,
        base_url: str,
        *,
        vendor: str,
        auth: Auth | None = None,
        timeout: float = 30,
        headers: Mapping[str, str] | None = None,
        refine: Refine | None = None,
        auth_hint: str = "",
        describe: Callable[[Answer], str] | None = None,
    ) -> None:
        self.channel, self.base_url, self.vendor = channel, base_url.rstrip("/"), vendor
        self.auth = auth or NoAuth()
        self.timeout, self.headers = timeout, dict(headers or {})
        self.refine, self.auth_hint = refine, auth_hint
        self.describe = describe or default_description
        self._hidden: set[str] = set()

    # --- redaction ---------------------------------------------------------------------------
    def hide(self, value: str) -> None:
        """Also redact ``value`` (a token minted at run time) from every message."""
        if value:
            self._hidden.add(value)

    def redact(self, text: str) -> str:
        """``text`` without the channel's secrets, the credentials this client sends and the
        tokens it was handed at run time."""
        values = set(self._hidden)
        for secret in self.auth.secrets:
            with contextlib.suppress(ConfigError):
                values.add(secret.value())
        return self.channel.redact(text, values) or text

    def redacted(self, exc: Exception) -> Exception:
        if hasattr(exc, "message"):
            exc.message = self.redact(exc.message)  # type: ignore[attr-defined]
            exc.args = (exc.message,)  # type: ignore[attr-defined]
        return exc

    # --- one request -------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str = "",
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        refine: Refine | None = None,
    ) -> Answer:
        """Send one call and classify its answer: the Answer of a 2xx/3xx, else ``Retriable``,
        ``Fatal`` or ``Refused``. ``idempotent`` (default: GET, HEAD, PUT, DELETE) requests are
        sent again on a Retriable, up to the channel's ``request_attempts``, waiting the
        channel's Retry-After or a backoff. ``refine`` replaces the client's own hook for this
        call."""
        if idempotent is None:
            idempotent = method.upper() in ("GET", "HEAD", "PUT", "DELETE")
        attempts = max(1, int(self.channel.request_attempts)) if idempotent else 1
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._once(method, path, params, json, data, headers, refine)
            except _Unauthorized as exc:
                if refreshed or not self.auth.refresh(self):
                    raise exc.fatal from None
                refreshed = True
                attempt -= 1  # a refreshed token is not a retry
            except Retriable as exc:
                if attempt >= attempts:
                    raise
                wait = exc.retry_after
                self.channel.sleep(wait if wait is not None else self.channel.backoff(attempt))

    def _once(
        self, method: str, path: str, params: Mapping[str, Any] | None, json: Any, data: Any,
        headers: Mapping[str, str] | None, refine: Refine | None,
    ) -> Answer:  # fmt: skip
        url = path
        if not path.startswith(("http://", "https://")):
            url = self.base_url + ("/" if path and not path.startswith("/") else "") + path
        query = {k: str(v) for k, v in (params or {}).items()}
        sent = {**self.headers, **(headers or {})}
        auth = self.auth.apply(self, method, url, query, sent)
        answer = self.send_raw(method, url, params=query, json=json, data=data,
                               headers=sent, auth=auth, path=path)  # fmt: skip
        refine = refine or self.refine
        problem = refine(answer) if refine else None
        if problem is None:
            problem = self.classify(answer)
        if problem is not None:
            raise self.redacted(problem)
        return answer

    def send_raw(
        self, method: str, url: str, *, params: Mapping[str, str] | None = None,
        json: Any = None, data: Any = None, headers: Mapping[str, str] | None = None,
        auth: Any = None, path: str | None = None,
    ) -> Answer:  # fmt: skip
        """One HTTP exchange through the channel's session; transport failures become
        ``Retriable`` (timeouts, refused or reset connections) or ``Fatal``."""
        import requests

        where = self.base_url or url
        try:
            response = self.channel.session.request(
                method, url, params=params or None, json=json, data=data,
                headers=dict(headers or {}), auth=auth, timeout=self.timeout,
            )  # fmt: skip
        except requests.Timeout:
            raise Retriable(
                f"{self.vendor} at {where} did not answer within {self.timeout:g} s"
            ) from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise Retriable(
                f"{self.vendor} at {where} unreachable ({type(exc).__name__})"
            ) from None
        except requests.RequestException as exc:
            raise self.redacted(
                Fatal(f"{self.vendor} at {where}: request failed ({type(exc).__name__})")
            ) from None
        text = response.text
        try:
            body = jsonlib.loads(text) if text else None
        except ValueError:
            body = None
        return Answer(response.status_code, response.headers, body, text, method.upper(),
                      path if path is not None else url)  # fmt: skip

    def classify(self, answer: Answer) -> Exception | None:
        """The default reading of a status: None for success, else the exception to raise."""
        status = answer.status
        if status < 400:
            return None
        said = self.describe(answer)
        detail = f"HTTP {status}{': ' + said if said else ''}"
        if status in (401, 403):
            names = " and ".join(f"${s.var}" for s in self.auth.secrets) or "the credentials"
            hint = f". {self.auth_hint}" if self.auth_hint else ""
            fatal = Fatal(f"{self.vendor} at {self.base_url} refused {names} ({detail}){hint}")
            return _Unauthorized(self.redacted(fatal)) if status == 401 else fatal
        busy = transient(
            status, answer.headers, f"{self.vendor} {answer.method} {answer.path}: {detail}"
        )
        if busy is not None:
            return busy
        return Refused(f"{self.vendor} refused {answer.method} {answer.path} ({detail})", answer)

    # --- pagination ----------------------------------------------------------------------------
    def page_numbers(
        self, path: str, params: Mapping[str, Any], *, per_page: int, page_param: str = "page",
        per_page_param: str = "per_page", total_pages_header: str | None = "X-WP-TotalPages",
        items: Callable[[Answer], Sequence[Any]] = lambda a: a.body or [],
    ) -> Iterator[Answer]:  # fmt: skip
        """Pages 1, 2, ... until a short or empty page, or the total-pages header's last."""
        page = 1
        while True:
            answer = self.request(
                "GET", path, params={**params, per_page_param: per_page, page_param: page}
            )
            yield answer
            total = answer.headers.get(total_pages_header) if total_pages_header else None
            if total is not None and str(total).isdigit():
                if page >= int(total):
                    return
            elif len(items(answer)) < per_page:
                return
            page += 1

    def offsets(
        self, path: str, params: Mapping[str, Any], *, limit: int,
        items: Callable[[Answer], Sequence[Any]], offset_param: str = "offset",
        limit_param: str = "limit", total: Callable[[Answer], int | None] = lambda a: None,
    ) -> Iterator[Answer]:  # fmt: skip
        """``limit`` items at offsets 0, limit, 2 x limit... until a short page or ``total``."""
        offset = 0
        while True:
            answer = self.request(
                "GET", path, params={**params, limit_param: limit, offset_param: offset}
            )
            yield answer
            got = len(items(answer))
            offset += got
            known = total(answer)
            if got < limit or (known is not None and offset >= known):
                return

    def cursors(
        self, method: str, path: str, request: Callable[[str | None], dict[str, Any]],
        next_cursor: Callable[[Answer], str | None], *, idempotent: bool = True,
    ) -> Iterator[Answer]:  # fmt: skip
        """Pages of a cursor-paginated call: ``request(cursor)`` gives the call's keyword
        arguments (``params=`` or ``json=``) for a cursor (None first); ``next_cursor`` reads the
        next one from an answer (None or "" at the end)."""
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            answer = self.request(method, path, idempotent=idempotent, **request(cursor))
            yield answer
            cursor = next_cursor(answer)
            if not cursor or cursor in seen:  # a repeated cursor would loop forever
                return
            seen.add(cursor)

    def next_links(
        self, path: str, params: Mapping[str, Any] | None = None,
        next_url: Callable[[Answer], str | None] | None = None,
    ) -> Iterator[Answer]:  # fmt: skip
        """Pages that each name the next one: the ``Link: <url>; rel="next"`` header, or what
        ``next_url`` reads from the body (Meta's ``paging.next``)."""
        url: str | None = path
        first = True
        while url:
            answer = self.request("GET", url, params=params if first else None)
            first = False
            yield answer
            url = next_url(answer) if next_url else link_next(answer.headers.get("Link"))


class _Unauthorized(Exception):
    """A 401: fatal unless the authentication can refresh its credentials."""

    def __init__(self, fatal: Exception) -> None:
        super().__init__(str(fatal))
        self.fatal = fatal


def link_next(header: str | None) -> str | None:
    """The ``rel="next"`` URL of an RFC 8288 Link header."""
    for part in (header or "").split(","):
        url, _, rest = part.partition(";")
        if 'rel="next"' in rest.replace(" ", "") or "rel=next" in rest.replace(" ", ""):
            return url.strip().strip("<>")
    return None


def default_description(answer: Answer) -> str:
    """What an error body says, in one short line: a ``message``/``error`` field and its code,
    else the start of the text."""
    body = answer.body
    if isinstance(body, dict):
        message = body.get("message") or body.get("error_description") or body.get("error")
        if isinstance(message, dict):
            message = message.get("message")
        code = body.get("code")
        if message:
            return f"{message}" + (f" ({code})" if code else "")
    return " ".join(answer.text.split())[:300]
