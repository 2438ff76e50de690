"""The dynamic provider of `Queue`: orchestration only (the rules live in `core`).

check and diff are pure and make no call. The client, rate budget, settings and error rules are the
container group's: the API key comes from `configure` and is never pickled.
"""

from __future__ import annotations

from typing import Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    UpdateResult,
)

from components.container_group.provider_base import SaladResourceProvider
from components.queue.core import (
    check_queue_inputs,
    create_body,
    diff_queue,
    inputs_from_queue,
    outputs_from_queue,
    patch_body,
    unfinished_jobs,
)
from components.salad.client import SaladClient
from components.salad.errors import SaladApiError

PROVIDER_KEY = "__provider"

Props = dict[str, Any]


class QueueError(Exception):
    """A queue step failed in a way the user must act on; the message says how."""


class QueueProvider(SaladResourceProvider):
    """Keeps a Salad job queue at its declared name, display name and description."""

    # pure steps

    def check(self, _olds: Props, news: Props) -> CheckResult:
        inputs, failures = check_queue_inputs(self._with_location(news))
        return CheckResult(inputs, [CheckFailure(f.property, f.reason) for f in failures])

    def diff(self, _id: str, olds: Props, news: Props) -> DiffResult:
        result = diff_queue(olds, news)
        return DiffResult(
            changes=bool(result.changed),
            replaces=result.replaces,
            # The identity stays known in a preview of a description change, so nothing keyed on it
            # (the group's queue_connection) looks replaced.
            stables=[key for key in ("organization", "project", "name") if key not in result.changed],
            delete_before_replace=result.delete_before_replace,
        )

    # steps that talk to Salad

    def create(self, props: Props) -> CreateResult:
        inputs = _without_provider(props)
        client = self._client()
        org, project, name = _ref(inputs)
        try:
            queue = client.create_queue(org, project, create_body(inputs))
        except SaladApiError as error:
            if not (error.is_name_conflict or error.is_transient):
                raise
            existing = _get_or_none(client, inputs)
            if existing is None:
                raise
            if error.is_name_conflict:
                raise QueueError(
                    f"a queue named {name!r} already exists in {org}/{project}; delete it (Salad portal) "
                    "or choose another name (salad-sd:deployment.queue.name)"
                ) from None
            queue = existing  # the create went through although its answer was lost
        _say(f"{name}: queue created")
        return CreateResult(str(queue["id"]), outputs_from_queue(inputs, queue))

    def update(self, _id: str, olds: Props, news: Props) -> UpdateResult:
        inputs = _without_provider(news)
        org, project, name = _ref(inputs)
        patch = patch_body(_without_provider(olds), inputs)
        client = self._client()
        try:
            queue = (
                client.update_queue(org, project, name, patch)
                if patch
                else client.get_queue(org, project, name)
            )
        except SaladApiError as error:
            if error.is_not_found:
                raise QueueError(
                    f"{name}: the queue no longer exists in Salad (deleted outside Pulumi). Run "
                    "`pulumi refresh` to drop it from the state, then `pulumi up` to create it again."
                ) from None
            raise
        return UpdateResult(outputs_from_queue(inputs, queue))

    def read(self, id_: str, props: Props) -> ReadResult:
        previous = _without_provider(props)
        queue = _get_or_none(self._client(), previous)
        if queue is None:
            return ReadResult("", {})
        inputs = inputs_from_queue(queue, previous)
        return ReadResult(str(queue["id"]), outputs_from_queue(inputs, queue), inputs)

    def delete(self, _id: str, props: Props) -> None:
        previous = _without_provider(props)
        client = self._client()
        org, project, name = _ref(previous)
        held = self._unfinished(client, previous)
        if held:
            _say(f"{name}: the queue still holds {held}; deleting it discards them")
        try:
            client.delete_queue(org, project, name)
        except SaladApiError as error:
            if error.is_not_found:
                return
            if error.status == 400 and held:
                raise QueueError(
                    f"{name}: Salad refuses to delete the queue while it holds {held} "
                    f"({error.detail or error}). Wait for them to finish or cancel them "
                    f"(DELETE …/queues/{name}/jobs/<job id>), then run `pulumi destroy` again."
                ) from None
            raise

    # helpers

    def _unfinished(self, client: SaladClient, inputs: Props) -> str:
        org, project, name = _ref(inputs)
        try:
            counts = unfinished_jobs(client.list_jobs(org, project, name))
        except SaladApiError as error:
            if error.is_not_found:
                return ""
            raise
        total = counts["pending"] + counts["running"]
        if not total:
            return ""
        return f"{total} unfinished job(s) ({counts['pending']} pending, {counts['running']} running)"


def _without_provider(props: Props) -> Props:
    return {k: v for k, v in props.items() if k != PROVIDER_KEY}


def _ref(inputs: Props) -> tuple[str, str, str]:
    return str(inputs["organization"]), str(inputs["project"]), str(inputs["name"])


def _get_or_none(client: SaladClient, inputs: Props) -> dict[str, Any] | None:
    try:
        return client.get_queue(*_ref(inputs))
    except SaladApiError as error:
        if error.is_not_found:
            return None
        raise


def _say(line: str) -> None:
    print(line, flush=True)
