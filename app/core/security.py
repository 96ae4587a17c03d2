"""Optional API keys and a per-key rate limit.

Keys come from ``SHOPINTENT_API_KEYS`` (comma-separated) and/or ``SHOPINTENT_API_KEYS_FILE`` (one
per line). With none configured the API is open. A missing key is 401, an unknown one 403; keys
are compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from pathlib import Path

from fastapi import Request

from app.core.config import Settings
from app.core.errors import ApiError


def load_keys(settings: Settings) -> tuple[bytes, ...]:
    keys = [k.strip() for k in (settings.api_keys or "").split(",")]
    if settings.api_keys_file is not None:
        keys += [line.strip() for line in Path(settings.api_keys_file).read_text().splitlines()]
    return tuple(k.encode() for k in keys if k and not k.startswith("#"))


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or None


def matching_key(presented: str, keys: tuple[bytes, ...]) -> bytes | None:
    """Compare against every key, always, so timing tells nothing about which or how much matched."""
    candidate = presented.encode()
    found = None
    for key in keys:
        if hmac.compare_digest(candidate, key):
            found = key
    return found


class RateLimiter:
    """Token bucket per key: ``rate`` requests per second, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[bytes, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: bytes, cost: int = 1) -> float:
        """0 if allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= cost:
                self._buckets[key] = (tokens - cost, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (cost - tokens) / self.rate


def authorize(request: Request) -> bytes | None:
    """The dependency on the classify routes: checks the key, then the key's rate limit."""
    state = request.app.state
    keys: tuple[bytes, ...] = state.api_keys
    if not keys:
        return None
    presented = presented_key(request)
    if presented is None:
        raise ApiError(401, "unauthorized", "an API key is required (Authorization: Bearer <key> or X-API-Key)",
                       headers={"WWW-Authenticate": "Bearer"})
    key = matching_key(presented, keys)
    if key is None:
        raise ApiError(403, "forbidden", "this API key is not valid")
    limiter: RateLimiter | None = state.rate_limiter
    if limiter is not None:
        wait = limiter.acquire(key)
        if wait > 0:
            raise ApiError(429, "rate_limited", "this API key is over its rate limit",
                           headers={"Retry-After": str(max(1, math.ceil(wait)))})
    return key
