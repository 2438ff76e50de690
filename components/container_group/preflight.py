"""Preflight before the first write: the replica quota (a failure) and GPU availability (a warning).

Both answers are cached per process for `CACHE_SECONDS`, so ten groups deploying at once ask once. Only
create and update call this; check and diff stay free of calls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from components.container_group.capacity import (
    HARDWARE_KEYS,
    availability_request,
    availability_warning,
    quota_problem,
    reallocations_per_minute,
)
from components.salad.client import SaladClient
from components.salad.errors import SaladApiError

CACHE_SECONDS = 60.0


class PreflightFailed(Exception):
    """The deploy cannot succeed as asked; nothing was written."""


class Preflight:
    """Cached quota and availability look-ups, shared by every resource of the provider process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    def check(
        self,
        client: SaladClient,
        inputs: Mapping[str, Any],
        gpu_ids: list[str],
        *,
        olds: Mapping[str, Any] | None,
        say: Callable[[str], None],
    ) -> None:
        """Raise PreflightFailed when the quota refuses; warn through `say` when the GPUs are short.

        With `olds` (an update) it only looks when replicas grow or the hardware changes.
        """
        name, organization = str(inputs["name"]), str(inputs["organization"])
        asked = int(inputs["replicas"])
        counted = int(olds["replicas"]) if olds is not None else 0
        hardware_changed = olds is None or any(olds.get(k) != inputs.get(k) for k in HARDWARE_KEYS)
        if asked > counted:
            problem = quota_problem(name, self.quotas(client, organization), asked=asked, counted=counted)
            if problem is not None:
                raise PreflightFailed(problem)
        request = availability_request(inputs, gpu_ids)
        if request is None or asked == 0 or not (hardware_changed or asked > counted):
            return
        try:
            answer = self._cached(
                f"gpu:{organization}:{sorted(request.items())}",
                lambda: client.get_gpu_availability(organization, request),
            )
        except SaladApiError as error:
            say(f"{name}: could not check GPU availability ({error.title}); going on")
            return
        warning = availability_warning(name, answer, inputs)
        if warning is not None:
            say(warning)

    def quotas(self, client: SaladClient, organization: str) -> dict[str, Any]:
        return self._cached(f"quotas:{organization}", lambda: client.get_quotas(organization))

    def reallocations_per_minute(self, client: SaladClient, organization: str) -> int | None:
        try:
            return reallocations_per_minute(self.quotas(client, organization))
        except SaladApiError:
            return None

    def _cached(self, key: str, fetch: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and self._clock() - hit[0] < CACHE_SECONDS:
            return hit[1]
        value = fetch()
        with self._lock:
            self._cache[key] = (self._clock(), value)
        return value
