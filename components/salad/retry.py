"""Retry rules for Salad API calls, as a urllib3 `Retry` so the transport does the looping.

- 429 is retried for every method: a rate-limited request was not processed.
- 502/503/504 and dropped connections are retried for idempotent calls only; a create POST is not,
  because Salad may have created the group before the answer was lost (the provider resolves that).
- Backoff is exponential with jitter, `Retry-After` is honoured (capped), and both the number of
  retries and the total time are bounded.
- Every retry takes a token from the shared rate budget before it goes out.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from components.salad.rate_budget import RateBudget

TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", "POST"})
NON_CREATE_SAFE_METHODS = IDEMPOTENT_METHODS - {"POST"}


@dataclass(frozen=True)
class RetryPolicy:
    """How hard the client tries before it reports a transient failure."""

    max_retries: int = 6
    backoff_factor: float = 0.5
    backoff_max: float = 20.0
    jitter: float = 0.5
    max_total_seconds: float = 120.0
    retry_after_max: float = 60.0


class SaladRetry(Retry):
    """urllib3 Retry with a total-time bound, 429-always, and rate-budget accounting."""

    def __init__(
        self,
        *args: Any,
        budget: RateBudget | None = None,
        max_total_seconds: float = 120.0,
        started: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.budget = budget
        self.max_total_seconds = max_total_seconds
        self.started = time.monotonic() if started is None else started

    @classmethod
    def from_policy(cls, policy: RetryPolicy, budget: RateBudget | None, *, retry_posts: bool) -> SaladRetry:
        return cls(
            total=policy.max_retries,
            connect=policy.max_retries,
            read=policy.max_retries,
            status=policy.max_retries,
            other=0,
            redirect=0,
            allowed_methods=IDEMPOTENT_METHODS if retry_posts else NON_CREATE_SAFE_METHODS,
            status_forcelist=TRANSIENT_STATUSES,
            backoff_factor=policy.backoff_factor,
            backoff_max=policy.backoff_max,
            backoff_jitter=policy.jitter,
            retry_after_max=policy.retry_after_max,
            raise_on_status=False,
            respect_retry_after_header=True,
            budget=budget,
            max_total_seconds=policy.max_total_seconds,
        )

    def new(self, **kw: Any) -> SaladRetry:
        # The session's template has no history; its first copy is made at a request's first failure,
        # which is where that request's time bound starts.
        started = self.started if self.history else time.monotonic()
        kw.setdefault("budget", self.budget)
        kw.setdefault("max_total_seconds", self.max_total_seconds)
        kw.setdefault("started", started)
        return super().new(**kw)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code == 429:
            return bool(self.total)
        return super().is_retry(method, status_code, has_retry_after)

    def is_exhausted(self) -> bool:
        if time.monotonic() - self.started > self.max_total_seconds:
            return True
        return super().is_exhausted()

    def get_backoff_time(self) -> float:
        attempts = len(self.history)
        if attempts == 0:
            return 0.0
        backoff = self.backoff_factor * (2 ** (attempts - 1)) + random.uniform(0, self.backoff_jitter)
        return float(min(self.backoff_max, backoff, self._remaining()))

    def sleep_for_retry(self, response: BaseHTTPResponse) -> bool:
        retry_after = self.get_retry_after(response)
        if retry_after is None:
            return False
        time.sleep(min(retry_after, self._remaining()))
        return True

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        super().sleep(response)
        if self.budget is not None:
            self.budget.acquire()

    def _remaining(self) -> float:
        return max(0.0, self.max_total_seconds - (time.monotonic() - self.started))
