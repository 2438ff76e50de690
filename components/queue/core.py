"""The Queue resource's pure core: its properties table, validation, request bodies, diff and read rules.

The validation engine is the container group's (`check_against`); only the table is the queue's own.
Salad names a queue uniquely within a project, so a new name, organization or project is a new queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi.output import contains_unknowns

from components.container_group.diff_rules import InputDiff
from components.container_group.properties import DISPLAY_NAME, SALAD_NAME, Field, Text, Update
from components.container_group.validation import Failure, check_against

INPUTS: Mapping[str, Field] = {
    "name": Field(SALAD_NAME, required=True, update=Update.REPLACE),
    "organization": Field(SALAD_NAME, required=True, update=Update.REPLACE),
    "project": Field(SALAD_NAME, required=True, update=Update.REPLACE),
    "display_name": Field(DISPLAY_NAME),
    "description": Field(Text(min_length=0, max_length=500, pattern=r".*", described_as="a single line")),
}
PATCHABLE = tuple(key for key, field in INPUTS.items() if field.update is None)
_IDENTITY = ("organization", "project", "name")


def check_queue_inputs(news: dict[str, Any]) -> tuple[dict[str, Any], list[Failure]]:
    """All of `news` normalized and checked against the table (other keys pass through)."""
    return check_against(INPUTS, news)


def normalize(props: dict[str, Any]) -> dict[str, Any]:
    return check_queue_inputs(props)[0]


def create_body(inputs: dict[str, Any]) -> dict[str, Any]:
    """The `QueuePrototype`: name plus the optional display name and description when set."""
    props = normalize(inputs)
    body = {"name": props["name"]}
    body.update({key: props[key] for key in PATCHABLE if props.get(key) is not None})
    return body


def patch_body(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The `QueuePatch` merge-patch: changed display name / description, null for one no longer set."""
    before, after = normalize(old), normalize(new)
    return {key: after.get(key) for key in PATCHABLE if before.get(key) != after.get(key)}


def diff_queue(olds: dict[str, Any], news: dict[str, Any]) -> InputDiff:
    """Changed inputs, those that need a new queue, and whether the old one must go first.

    It must when the new queue keeps the old one's name in the same project (or might: an Unknown
    identity is assumed to collide); a renamed queue is created first, so the group can move to it.
    """
    old, new = normalize(olds), normalize(news)
    changed = [key for key in INPUTS if contains_unknowns(new.get(key)) or old.get(key) != new.get(key)]
    replaces = [key for key in changed if INPUTS[key].update is Update.REPLACE]
    collide = all(old.get(key) == new.get(key) or contains_unknowns(new.get(key)) for key in _IDENTITY)
    return InputDiff(changed=changed, replaces=replaces, delete_before_replace=bool(replaces) and collide)


def inputs_from_queue(queue: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """The inputs that would produce the live `queue`; a display name Salad filled in (= name) stays unset."""
    prev = normalize(previous)
    name = queue.get("name") or prev.get("name")
    inputs: dict[str, Any] = {
        "name": name,
        "organization": prev.get("organization"),
        "project": prev.get("project"),
        "description": queue.get("description")
        if queue.get("description") or prev.get("description") is not None
        else None,
    }
    display_name = queue.get("display_name")
    if display_name != name or prev.get("display_name") is not None:
        inputs["display_name"] = display_name
    return normalize({key: value for key, value in inputs.items() if value is not None})


def outputs_from_queue(inputs: dict[str, Any], queue: dict[str, Any]) -> dict[str, Any]:
    """The inputs plus Salad's id for the queue."""
    return {**inputs, "queue_id": queue.get("id")}


def unfinished_jobs(jobs: list[dict[str, Any]]) -> dict[str, int]:
    """How many of `jobs` are pending and running (only those are lost with the queue)."""
    counts = {"pending": 0, "running": 0}
    for job in jobs:
        if job.get("status") in counts:
            counts[str(job["status"])] += 1
    return counts
