"""How the engine paces a channel: a token bucket for its rate limit, the paced HTTP session
it hands the channel (every request takes a token and is counted, however many requests one
send or one page makes), and the waits between retries (injectable, so tests never sleep).
Push and pull both use it."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from multichan.channels.base import Channel, RateLimit


class TokenBucket:
    """``rate.burst`` requests at once, then ``rate.requests_per_second``; waits are recorded."""

    def __init__(
        self, rate: RateLimit, clock: Callable[[], float], sleep: Callable[[float], None]
    ) -> None:
        self.rate, self.clock, self.sleep = rate, clock, sleep
        self.tokens = float(rate.burst)
        self.last = clock()
        self.waits: list[float] = []

    def take(self) -> None:
        now = self.clock()
        rps = self.rate.requests_per_second
        self.tokens = min(float(self.rate.burst), self.tokens + (now - self.last) * rps)
        self.last = now
        if self.tokens < 1:
            wait = (1 - self.tokens) / rps
            self.waits.append(wait)
            self.sleep(wait)
            self.tokens, self.last = 1.0, self.clock()
        self.tokens -= 1


class PacedSession:
    """The channel's HTTP session as the engine hands it over: every request first takes a
    token from the channel's bucket and is counted, however many requests one batch makes.
    A request an operation limit matches (``Channel.rate_limits``: a pattern searched in
    ``"METHOD /path"``) takes a token from that operation's bucket instead."""

    def __init__(
        self,
        session: Any,
        bucket: TokenBucket,
        counts: dict[str, int],
        operations: Sequence[tuple[re.Pattern[str], TokenBucket]] = (),
    ) -> None:
        self._session, self._bucket, self._counts = session, bucket, counts
        self._operations = list(operations)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        bucket = self._bucket
        if self._operations:
            key = f"{method.upper()} {urlsplit(url).path}"
            bucket = next((b for p, b in self._operations if p.search(key)), bucket)
        bucket.take()
        self._counts["requests"] += 1
        return self._session.request(method, url, *args, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Any:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self.request("DELETE", url, **kwargs)

    def __getattr__(self, name: str) -> Any:  # headers, auth, close ...
        return getattr(self._session, name)


def paced(
    channel: Channel, rate: RateLimit | None, pacing: Pacing, counts: dict[str, int]
) -> PacedSession:
    """``channel``'s session paced: its bucket at ``rate`` (channels.yaml's, else the type's),
    and one bucket per operation limit the type declares (the API's own: never raised by
    channels.yaml)."""
    bucket = TokenBucket(rate or channel.rate_limit, pacing.clock, pacing.sleep)
    operations = [
        (re.compile(pattern), TokenBucket(limit, pacing.clock, pacing.sleep))
        for pattern, limit in channel.rate_limits.items()
    ]
    return PacedSession(channel.session, bucket, counts, operations)


@dataclass
class Pacing:
    """How the engine waits: injectable for tests (no real sleeping, seeded jitter)."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    max_retries: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 60.0

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with equal jitter for retry number ``attempt`` (1-based)."""
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return delay / 2 + self.rng.uniform(0, delay / 2)
