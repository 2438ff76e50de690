"""The Queue core: validation, bodies, diff and read rules (pure, no I/O)."""

from __future__ import annotations

from pulumi.output import Unknown

from components.queue.core import (
    check_queue_inputs,
    create_body,
    diff_queue,
    inputs_from_queue,
    patch_body,
    unfinished_jobs,
)

BASE = {"name": "sd-jobs", "organization": "acme", "project": "sd-dev"}


def test_check_names_the_property_and_range() -> None:
    _, failures = check_queue_inputs({**BASE, "name": "Bad_Name", "description": "x" * 501})
    reasons = {f.property: f.reason for f in failures}
    assert set(reasons) == {"name", "description"}
    assert "2 to 63 characters" in reasons["name"] and "0 to 500" in reasons["description"]
    _, failures = check_queue_inputs({"name": "sd-jobs"})
    assert {f.property for f in failures} == {"organization", "project"}


def test_create_body_carries_only_set_fields() -> None:
    assert create_body(BASE) == {"name": "sd-jobs"}
    assert create_body({**BASE, "description": "batch", "display_name": "SD jobs"}) == {
        "name": "sd-jobs",
        "display_name": "SD jobs",
        "description": "batch",
    }


def test_patch_sets_and_removes() -> None:
    old = {**BASE, "description": "old", "display_name": "SD"}
    assert patch_body(old, {**BASE, "description": "new"}) == {"description": "new", "display_name": None}
    assert patch_body(old, dict(old)) == {}


def test_diff_rename_replaces_creating_first_and_description_patches() -> None:
    renamed = diff_queue(BASE, {**BASE, "name": "other-jobs"})
    assert renamed.replaces == ["name"] and not renamed.delete_before_replace
    moved = diff_queue(BASE, {**BASE, "project": "other"})
    assert moved.replaces == ["project"] and not moved.delete_before_replace
    described = diff_queue(BASE, {**BASE, "description": "d"})
    assert described.changed == ["description"] and described.replaces == []
    unknown = diff_queue(BASE, {**BASE, "name": Unknown()})
    assert unknown.replaces == ["name"] and unknown.delete_before_replace
    assert diff_queue(BASE, dict(BASE)).changed == []


def test_read_keeps_salads_default_display_name_unset() -> None:
    live = {"id": "q1", "name": "sd-jobs", "display_name": "sd-jobs", "container_groups": []}
    assert inputs_from_queue(live, BASE) == BASE
    drifted = inputs_from_queue({**live, "display_name": "Renamed", "description": "x"}, BASE)
    assert drifted["display_name"] == "Renamed" and drifted["description"] == "x"


def test_unfinished_jobs_counts_pending_and_running() -> None:
    jobs = [{"status": s} for s in ("pending", "running", "running", "succeeded", "failed")]
    assert unfinished_jobs(jobs) == {"pending": 1, "running": 2}
