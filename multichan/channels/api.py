"""The shared API client every channel module talks HTTP through.

It owns what every channel needs and no channel should write again:
- **authentication** through one of the strategies of ``multichan.channels.auth`` (HTTP
  Basic, tokens, OAuth 1.0a, OAuth 2 refresh grants, Google credentials, TikTok's signature):
  credentials applied to each request, refreshed once more when the API answers 401, and
  their values redacted from every message;
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
request here, retries included, takes a token from the channel's bucket. An API that says in
its answers that its window's quota is used up (BigCommerce's ``X-Rate-Limit-Requests-Left``)
gets a ``pause_after`` hook (``window_pause``): the client waits the time it names, through the
channel's ``sleep``, before its next request. An API that reports its usage in percent instead
(Meta's ``X-Business-Use-Case-Usage``) gets ``usage_pause``: near 100% or once it names a time
to regain access, the next request waits.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from multichan.channels.auth import Auth, NoAuth
from multichan.channels.base import Fatal, Retriable, transient
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
        pause_after: Callable[[Answer], float | None] | None = None,
    ) -> None:
        self.channel, self.base_url, self.vendor = channel, base_url.rstrip("/"), vendor
        # how long an answer says to wait before the next request (a window's quota used up:
        # ``window_pause``); honoured through the channel's ``sleep`` before the next send
        self.pause_after = pause_after
        self._pause = 0.0
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
                if wait is None and self._pause > 0:
                    continue  # the window's reset time is waited before the next send
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
        if self.auth.signs_body and json is not None:  # the bytes signed are the bytes sent
            data, json = jsonlib.dumps(json, ensure_ascii=False).encode(), None
            sent.setdefault("Content-Type", "application/json")
        auth = self.auth.apply(self, method, url, query, sent)
        if self.auth.signs_body:
            self.auth.sign(self, method, url, query, sent, data if isinstance(data, bytes) else b"")
        if self._pause > 0:  # the last answer said the window's quota is used up
            wait, self._pause = self._pause, 0.0
            self.channel.sleep(wait)
        answer = self.send_raw(method, url, params=query, json=json, data=data,
                               headers=sent, auth=auth, path=path)  # fmt: skip
        if self.pause_after is not None:
            self._pause = max(self.pause_after(answer) or 0.0, 0.0)
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

    def download(self, url: str, *, limit: int = 20_000_000) -> tuple[bytes, str]:
        """The bytes and Content-Type of a plain GET of ``url`` (a seller's image a channel
        uploads, as Etsy takes files, not links), through the channel's session, without this
        client's credentials. Transport failures, 408, 429 and 5xx are ``Retriable``; any other
        failure, or a body over ``limit`` bytes, is ``Refused`` (the module maps it to the items
        concerned)."""
        import requests

        try:
            response = self.channel.session.request("GET", url, timeout=self.timeout)
        except requests.Timeout:
            raise Retriable(f"{url} did not answer within {self.timeout:g} s") from None
        except requests.RequestException as exc:
            raise Retriable(f"{url} unreachable ({type(exc).__name__})") from None
        status, content = response.status_code, response.content
        headers = response.headers
        if status >= 400 or len(content) > limit:
            detail = f"HTTP {status}" if status >= 400 else f"over {limit} bytes"
            busy = transient(status, headers, f"GET {url}: {detail}")
            if busy is not None:
                raise busy
            answer = Answer(status, headers, None, "", "GET", url)
            raise Refused(f"could not fetch {url} ({detail})", answer)
        return content, str(headers.get("Content-Type") or "application/octet-stream")

    def upload(self, url: str, data: bytes, content_type: str) -> None:
        """A plain PUT of ``data`` to ``url`` (a pre-signed upload URL, as Amazon's feed
        documents take), through the channel's session, without this client's credentials.
        Transport failures, 408, 429 and 5xx are ``Retriable`` (a PUT of the same bytes is
        safe to send again); any other failure is ``Refused``."""
        import requests

        try:
            response = self.channel.session.request(
                "PUT", url, data=data, headers={"Content-Type": content_type},
                timeout=self.timeout,
            )  # fmt: skip
        except requests.Timeout:
            raise Retriable(f"upload to {url} did not answer within {self.timeout:g} s") from None
        except requests.RequestException as exc:
            raise Retriable(f"upload to {url} failed ({type(exc).__name__})") from None
        status = response.status_code
        if status >= 400:
            busy = transient(status, response.headers, f"PUT {url}: HTTP {status}")
            if busy is not None:
                raise busy
            text = response.text
            answer = Answer(status, response.headers, None, text, "PUT", url)
            said = " ".join(text.split())[:300]
            raise Refused(f"upload to {url} refused (HTTP {status}{': ' + said if said else ''})",
                          answer)  # fmt: skip

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


def window_pause(
    remaining: str, reset: str, *, unit: float = 1.0
) -> Callable[[Answer], float | None]:
    """A ``pause_after`` hook for an API that tells in headers how many requests its window has
    left (``remaining``) and when the window starts again (``reset``, in ``unit`` seconds:
    0.001 for milliseconds): once none are left, the next request waits until the reset.
    BigCommerce: ``window_pause("X-Rate-Limit-Requests-Left", "X-Rate-Limit-Time-Reset-Ms",
    unit=0.001)``."""

    def pause(answer: Answer) -> float | None:
        left, until = answer.headers.get(remaining), answer.headers.get(reset)
        try:
            if left is None or int(str(left).strip()) > 0:
                return None
            seconds = float(str(until).strip()) * unit
        except ValueError:
            return None
        return seconds if 0 < seconds < 3600 else None  # nan, inf or absurd: no pause

    return pause


USAGE_SHARES = ("call_count", "total_cputime", "total_time")


def usage_pause(
    *headers: str, near: float = 95.0, cool: float = 60.0, unit: float = 60.0
) -> Callable[[Answer], float | None]:
    """A ``pause_after`` hook for an API that reports in JSON headers how much of its quota
    is used, in percent, and how long until it is regained: Meta's
    ``X-Business-Use-Case-Usage`` (``{business id: [{type, call_count, total_cputime,
    total_time, estimated_time_to_regain_access}]}``, the time in minutes) and ``X-App-Usage``
    (``{call_count, total_cputime, total_time}``). When an answer names a time to regain
    access, the next request waits it (``unit`` seconds each, at most an hour); when a share
    reaches ``near`` percent, it waits ``cool`` seconds. A garbled header is no pause.
    Meta: ``usage_pause("X-Business-Use-Case-Usage", "X-App-Usage")``."""

    def pause(answer: Answer) -> float | None:
        wait = 0.0
        for name in headers:
            try:
                doc = jsonlib.loads(answer.headers.get(name) or "null")
            except ValueError:
                continue
            for entry in _usage_entries(doc):
                regain = _share(entry.get("estimated_time_to_regain_access"))
                if regain > 0:
                    wait = max(wait, regain * unit)
                if max(_share(entry.get(k)) for k in USAGE_SHARES) >= near:
                    wait = max(wait, cool)
        return min(wait, 3600.0) if wait > 0 else None

    return pause


def _usage_entries(doc: Any) -> list[dict[str, Any]]:
    """The usage objects of a usage header: the document itself (``X-App-Usage``) or those
    listed under each business id (``X-Business-Use-Case-Usage``)."""
    if not isinstance(doc, dict):
        return []
    if any(k in doc for k in (*USAGE_SHARES, "estimated_time_to_regain_access")):
        return [doc]
    found: list[dict[str, Any]] = []
    for value in doc.values():
        for entry in value if isinstance(value, list) else [value]:
            if isinstance(entry, dict):
                found.append(entry)
    return found


def _share(value: Any) -> float:
    """A usage number as a float; 0 for anything that is not a finite number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if number == number and abs(number) != float("inf") else 0.0


class _Unauthorized(Exception):
    """A 401: fatal unless the authentication can refresh its credentials."""

    def __init__(self, fatal: Exception) -> None:
        super().__init__(str(fatal))
        self.fatal = fatal


def expired(fatal: Exception) -> Exception:
    """What a ``refine`` hook returns for an answer saying the credentials expired, whatever its
    HTTP status (TikTok Shop's code 105002): the client has the authentication refresh them
    and sends the request once more, else raises ``fatal``."""
    return _Unauthorized(fatal)


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
