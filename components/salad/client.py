"""HTTP client for SaladCloud's public API: auth, timeouts, retries, rate budget and errors."""

from __future__ import annotations

import logging
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from components.salad.errors import SaladApiError, error_from_response
from components.salad.paths import group_path, organization_path, project_path, segment
from components.salad.queues import QueueCalls
from components.salad.rate_budget import RateBudget, shared_budget
from components.salad.retry import RetryPolicy, SaladRetry

DEFAULT_BASE_URL = "https://api.salad.com/api/public"
API_KEY_HEADER = "Salad-Api-Key"
MERGE_PATCH = "application/merge-patch+json"
DEFAULT_TIMEOUT = (10.0, 60.0)  # (connect, read) seconds
DEFAULT_RETRY = RetryPolicy()

log = logging.getLogger("salad_sd.salad")

JsonObject = dict[str, Any]


class _BudgetedAdapter(HTTPAdapter):
    """Takes a rate-budget token for each first attempt; `SaladRetry` takes one for each retry."""

    def __init__(self, retry: SaladRetry, budget: RateBudget) -> None:
        self._budget = budget
        super().__init__(max_retries=retry)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        self._budget.acquire()
        return super().send(request, *args, **kwargs)


class SaladClient(QueueCalls):
    """Thin client over `requests` for the container-group and queue operations the providers need.

    Every method raises `SaladApiError` on failure. Calls that are safe to repeat are retried on 429,
    502/503/504 and dropped connections; `create_container_group` is retried only on 429 and on
    connection failures that happened before the request was sent.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy = DEFAULT_RETRY,
        rate_budget: RateBudget | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("a Salad API key is required (salad:apiKey or SALAD_API_KEY)")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._api_key = api_key
        budget = rate_budget if rate_budget is not None else shared_budget(api_key)
        self._session = self._new_session(SaladRetry.from_policy(retry, budget, retry_posts=True), budget)
        self._create_session = self._new_session(
            SaladRetry.from_policy(retry, budget, retry_posts=False), budget
        )

    def __repr__(self) -> str:
        return f"SaladClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self._session.close()
        self._create_session.close()

    # container groups

    def list_container_groups(self, organization: str, project: str) -> list[JsonObject]:
        items = self._call("GET", project_path(organization, project) + "/containers")["items"]
        return list(items)

    def create_container_group(self, organization: str, project: str, body: JsonObject) -> JsonObject:
        path = project_path(organization, project) + "/containers"
        return self._call("POST", path, json_body=body, session=self._create_session)

    def get_container_group(self, organization: str, project: str, name: str) -> JsonObject:
        return self._call("GET", group_path(organization, project, name))

    def update_container_group(
        self, organization: str, project: str, name: str, patch: JsonObject
    ) -> JsonObject:
        path = group_path(organization, project, name)
        return self._call("PATCH", path, json_body=patch, merge_patch=True)

    def delete_container_group(self, organization: str, project: str, name: str) -> None:
        self._call("DELETE", group_path(organization, project, name))

    def start_container_group(self, organization: str, project: str, name: str) -> None:
        self._call("POST", group_path(organization, project, name) + "/start")

    def stop_container_group(self, organization: str, project: str, name: str) -> None:
        self._call("POST", group_path(organization, project, name) + "/stop")

    def list_instances(self, organization: str, project: str, name: str) -> list[JsonObject]:
        return list(self._call("GET", group_path(organization, project, name) + "/instances")["instances"])

    def get_system_logs(self, organization: str, project: str, name: str) -> list[JsonObject]:
        """The group's system events (`SystemLog`: event_name, event_time, instance_id, version...)."""
        return list(self._call("GET", group_path(organization, project, name) + "/system-logs")["items"])

    def reallocate_instance(self, organization: str, project: str, name: str, instance_id: str) -> None:
        """Move an instance to another node (it downloads the image again there)."""
        self._instance_action(organization, project, name, instance_id, "reallocate")

    def recreate_instance(self, organization: str, project: str, name: str, instance_id: str) -> None:
        """Destroy the instance's container and start a new one on the same node, without a new download."""
        self._instance_action(organization, project, name, instance_id, "recreate")

    def restart_instance(self, organization: str, project: str, name: str, instance_id: str) -> None:
        """Restart the instance's container on the same node."""
        self._instance_action(organization, project, name, instance_id, "restart")

    # organization

    def list_gpu_classes(self, organization: str) -> list[JsonObject]:
        return list(self._call("GET", f"{organization_path(organization)}/gpu-classes")["items"])

    def get_quotas(self, organization: str) -> JsonObject:
        return self._call("GET", f"{organization_path(organization)}/quotas")

    def query_log_entries(self, organization: str, query: JsonObject) -> list[JsonObject]:
        """Log entries (the containers' own output) matching a `LogEntryQuery`."""
        path = f"{organization_path(organization)}/log-entries"
        return list(self._call("POST", path, json_body=query)["items"])

    def get_gpu_availability(self, organization: str, request: JsonObject) -> JsonObject:
        """How many nodes fit a `GpuAvailabilityPrototype` right now, per priority (`GpuAvailability`)."""
        path = f"{organization_path(organization)}/availability/sce-gpu-availability"
        return self._call("POST", path, json_body=request)

    def _instance_action(
        self, organization: str, project: str, name: str, instance_id: str, action: str
    ) -> None:
        path = f"{group_path(organization, project, name)}/instances/{segment(instance_id)}/{action}"
        self._call("POST", path)

    # transport

    def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: JsonObject | None = None,
        merge_patch: bool = False,
        session: requests.Session | None = None,
    ) -> JsonObject:
        headers = {"Content-Type": MERGE_PATCH if merge_patch else "application/json"} if json_body else {}
        started = time.monotonic()
        try:
            response = (session or self._session).request(
                method, self.base_url + path, json=json_body, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            log.debug("%s %s -> no answer after %.2fs", method, path, time.monotonic() - started)
            raise SaladApiError(
                method=method, path=path, status=None, title=_transport_failure(exc)
            ) from None
        log.debug("%s %s -> %s in %.2fs", method, path, response.status_code, time.monotonic() - started)
        if response.status_code >= 400:
            raise error_from_response(
                method=method,
                path=path,
                status=response.status_code,
                reason=response.reason or "error",
                content_type=response.headers.get("Content-Type", ""),
                body=response.content,
            )
        if not response.content:
            return {}
        try:
            parsed = response.json()
        except ValueError:
            raise SaladApiError(
                method=method,
                path=path,
                status=response.status_code,
                title="answer is not JSON",
                detail=response.text[:200],
            ) from None
        if not isinstance(parsed, dict):
            raise SaladApiError(
                method=method, path=path, status=response.status_code, title="answer is not a JSON object"
            )
        return parsed

    def _new_session(self, retry: SaladRetry, budget: RateBudget) -> requests.Session:
        session = requests.Session()
        session.headers.update({API_KEY_HEADER: self._api_key, "Accept": "application/json"})
        adapter = _BudgetedAdapter(retry, budget)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session


def _transport_failure(exc: requests.RequestException) -> str:
    """Describe a transport failure by its kind only: exception texts can carry request details."""
    if isinstance(exc, requests.Timeout):
        return "timed out waiting for an answer"
    if isinstance(exc, requests.exceptions.RetryError):
        return "gave up after repeated failures"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed or was dropped (retries exhausted or not safe to retry)"
    return f"request failed ({type(exc).__name__})"
