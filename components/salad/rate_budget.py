"""A client-side request budget shared by every thread of the process.

Salad allows 240 requests per minute per API key. Many container groups deploying at once from one
`pulumi up` share that limit, so every request (retries included) takes a token from one bucket per key.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

SALAD_LIMIT_PER_MINUTE = 240
DEFAULT_PER_MINUTE = 200


class RateBudget:
    """Token bucket that never lets more than `requests` calls through in any window of `per_seconds`.

    The bucket holds at most `burst` tokens and refills at (requests - burst) / per_seconds, so even a
    full bucket spent at once followed by a steady stream stays within `requests` per window.
    """

    def __init__(
        self,
        requests: int = DEFAULT_PER_MINUTE,
        per_seconds: float = 60.0,
        *,
        burst: int = 5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if requests < 1 or per_seconds <= 0:
            raise ValueError("a rate budget needs at least one request per positive period")
        self.requests = requests
        self.per_seconds = per_seconds
        self.burst = max(1, min(burst, requests - 1)) if requests > 1 else 1
        self._rate = max(requests - self.burst, 1) / per_seconds
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(self.burst)
        self._updated = clock()

    def acquire(self) -> float:
        """Take one token, waiting as long as needed; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            self._tokens -= 1.0
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self._rate
        # The token is already reserved, so sleeping outside the lock keeps other threads queued fairly.
        if wait > 0:
            self._sleep(wait)
        return wait


_shared: dict[str, RateBudget] = {}
_shared_lock = threading.Lock()


def shared_budget(api_key: str, requests: int = DEFAULT_PER_MINUTE, per_seconds: float = 60.0) -> RateBudget:
    """The process-wide budget of one API key (identified by a hash, so the key is never held here)."""
    key_id = f"{hashlib.sha256(api_key.encode()).hexdigest()}/{requests}/{per_seconds}"
    with _shared_lock:
        budget = _shared.get(key_id)
        if budget is None:
            budget = _shared[key_id] = RateBudget(requests, per_seconds)
        return budget
