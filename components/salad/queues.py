"""Salad job queues and their jobs: the calls `SaladClient` gains from this mixin.

Job creation goes through the create session (retried only on 429 and on connection failures before the
request was sent): a job whose answer was lost may exist, and submitting it again would run it twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from components.salad.paths import queue_path, queues_path, segment

JsonObject = dict[str, Any]
MAX_PAGE_SIZE = 100  # the spec's page_size maximum for queue jobs
MAX_JOB_PAGES = 100  # at most 10,000 jobs read: a queue that grows while we read must not keep us reading


class QueueCalls:
    """Queue and job operations; `_call` and `_create_session` come from `SaladClient`."""

    _create_session: requests.Session

    _call: Callable[..., JsonObject]  # SaladClient._call: method, path, json_body, merge_patch, session

    # queues

    def list_queues(self, organization: str, project: str) -> list[JsonObject]:
        return list(self._call("GET", queues_path(organization, project))["items"])

    def create_queue(self, organization: str, project: str, body: JsonObject) -> JsonObject:
        return self._call(
            "POST", queues_path(organization, project), json_body=body, session=self._create_session
        )

    def get_queue(self, organization: str, project: str, name: str) -> JsonObject:
        return self._call("GET", queue_path(organization, project, name))

    def update_queue(self, organization: str, project: str, name: str, patch: JsonObject) -> JsonObject:
        return self._call("PATCH", queue_path(organization, project, name), json_body=patch, merge_patch=True)

    def delete_queue(self, organization: str, project: str, name: str) -> None:
        self._call("DELETE", queue_path(organization, project, name))

    # jobs

    def create_job(self, organization: str, project: str, queue: str, body: JsonObject) -> JsonObject:
        path = queue_path(organization, project, queue) + "/jobs"
        return self._call("POST", path, json_body=body, session=self._create_session)

    def get_job(self, organization: str, project: str, queue: str, job_id: str) -> JsonObject:
        return self._call("GET", f"{queue_path(organization, project, queue)}/jobs/{segment(job_id)}")

    def list_jobs(
        self, organization: str, project: str, queue: str, *, max_pages: int = MAX_JOB_PAGES
    ) -> list[JsonObject]:
        """The queue's jobs, page after page until a short one (at most `max_pages` pages), each job once."""
        return self._all_pages(f"{queue_path(organization, project, queue)}/jobs", max_pages)

    def _all_pages(self, path: str, max_pages: int) -> list[JsonObject]:
        """The `items` of `path` over its `page`/`page_size` pages; an item listed twice (the list moved
        between two pages) is kept once, by id."""
        items: dict[str, JsonObject] = {}
        for page in range(1, max_pages + 1):
            batch = list(self._call("GET", f"{path}?page={page}&page_size={MAX_PAGE_SIZE}")["items"])
            for item in batch:
                items.setdefault(str(item["id"]), item)  # `id` is required by the spec
            if len(batch) < MAX_PAGE_SIZE:
                break
        return list(items.values())

    def delete_job(self, organization: str, project: str, queue: str, job_id: str) -> None:
        self._call("DELETE", f"{queue_path(organization, project, queue)}/jobs/{segment(job_id)}")
