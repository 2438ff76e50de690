"""Pure pieces of issue 11: failure classifier, event parsing, stuck tracker, quota and availability rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from components.container_group.capacity import (
    availability_request,
    availability_warning,
    quota_problem,
    reallocations_per_minute,
)
from components.container_group.events import Event, event_line, parse_event, unseen
from components.container_group.failures import assess, classify, timeout_details
from components.container_group.stuck import StuckTracker

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Exited:137 (Likely Out of System Memory)", "out_of_memory"),
        ("OOM killed", "out_of_memory"),
        ("Requested Disk Space Exceeded", "disk_exceeded"),
        ("Image Pull Failure", "image_pull"),
        ("Failed to pull image", "image_pull"),
        ("Startup Probe Failure", "startup_probe"),
        ("Liveness Probe Failure", "liveness_probe"),
        ("Exited:1", "exited"),
        ("Exited:0", "exited"),
        ("Container crashed", "exited"),
    ],
)
def test_failure_events_are_classified(name: str, kind: str) -> None:
    found = classify(name)
    assert found is not None and found.key == kind


@pytest.mark.parametrize(
    "name",
    [
        "Instance Allocated",
        "Image Download Started",
        "Container Started",
        "Instance Ready",
        "Readiness Probe Failure",
    ],
)
def test_other_events_are_not_failures(name: str) -> None:
    assert classify(name) is None


def event(name: str, seconds: float, version: str | None = "2", instance: str = "a" * 36) -> Event:
    return Event(T0 + timedelta(seconds=seconds), name, instance, "m", version)


def test_assess_counts_only_failures_of_the_version_since_the_wait_began() -> None:
    events = [
        event("Exited:1", -5),  # before the wait
        event("Exited:1", 1, version="1"),  # another version
        event("Container Started", 2),  # not a failure
        event("Exited:1", 3),
        event("Startup Probe Failure", 4),
    ]
    verdict = assess(events, since=T0, version=2, ready=0, want=1, max_failures=3)
    assert not verdict.failed and len(verdict.failures) == 2
    verdict = assess([*events, event("Exited:1", 5)], since=T0, version=2, ready=0, want=1, max_failures=3)
    assert verdict.failed and [e.name for e in verdict.failures][-1] == "Exited:1"
    assert not assess(
        [*events, event("Exited:1", 5)], since=T0, version=2, ready=1, want=1, max_failures=3
    ).failed


def test_a_versioned_update_counts_failures_of_any_version_above_the_one_before() -> None:
    # Two PATCHes (a probe switch) can leave instances of versions 3 and 4 after version 2.
    events = [
        event("Exited:1", 1, version="2"),  # the old version: not what this wait waits for
        event("Exited:1", 2, version="3"),
        event("Startup Probe Failure", 3, version="4"),
        event("Exited:137 (Likely Out of System Memory)", 4, version=None),  # no version: counts
    ]
    verdict = assess(events, since=T0, version=None, newer_than=2, ready=0, want=1, max_failures=3)
    assert verdict.failed
    assert [e.version for e in verdict.failures] == ["3", "4", None]
    assert not assess(
        events[:3], since=T0, version=None, newer_than=2, ready=0, want=1, max_failures=3
    ).failed


def test_a_clock_ahead_of_salads_does_not_hide_failures_read_later() -> None:
    first_read = frozenset({event("Exited:1", -600)})  # before the wait, by Salad's clock and ours
    later = [
        event("Exited:1", -590),
        event("Exited:1", -580),
        event("Exited:1", -570),
    ]  # our clock is 10 min ahead
    seen = [*first_read, *later]
    assert not assess(seen, since=T0, version=2, ready=0, want=1, max_failures=3).failed
    verdict = assess(seen, since=T0, version=2, ready=0, want=1, max_failures=3, before=first_read)
    assert verdict.failed and len(verdict.failures) == 3


def test_events_parse_dedup_and_print() -> None:
    item = {
        "event_name": "Startup Probe Failure",
        "event_time": "2026-11-29T12:00:03.250Z",
        "instance_id": "1a2b3c4d-x",
    }
    parsed = parse_event(item)
    assert parsed is not None and parsed.version is None
    assert event_line("sd", parsed) == "sd: instance 1a2b3c4d at 12:00:03Z: Startup Probe Failure"
    assert parse_event({"event_name": "x", "event_time": "yesterday"}) is None
    newer = {**item, "event_time": "2026-11-29T12:00:09Z"}
    fresh = unseen([newer, item, item], frozenset())
    assert [e.time.second for e in fresh] == [3, 9]
    assert unseen([newer, item], frozenset(fresh)) == []


def test_timeout_details_show_states_progress_and_readiness() -> None:
    instances = [
        {"id": "11111111-a", "state": "downloading", "pulling_progress": 41.4, "version": 1},
        {"id": "22222222-b", "state": "running", "ready": False, "version": 1},
    ]
    text = timeout_details([event("Exited:1", 1)], instances)
    assert (
        "Exited:1" in text
        and "11111111: downloading (41%)" in text
        and "22222222: running, not ready" in text
    )


def test_stuck_tracker_waits_then_reallocates_within_the_minute() -> None:
    tracker = StuckTracker(after_seconds=30, per_minute=1)
    stuck = [
        {"id": "a", "machine_id": "m1", "state": "downloading"},
        {"id": "b", "machine_id": "m2", "state": "creating"},
    ]
    assert tracker.due(stuck, 0) == []
    assert tracker.due(stuck, 29) == []
    assert tracker.due(stuck, 30) == ["a"]  # oldest first (a tie: by id), one per minute
    tracker.record("a", 30)
    assert tracker.due(stuck, 60) == []  # the minute's one reallocation is spent
    assert tracker.due(stuck, 90) == ["b"]
    moved = [{"id": "a", "machine_id": "m3", "state": "downloading"}]
    assert tracker.due(moved, 100) == []  # on a new machine its clock starts again
    assert tracker.due([{"id": "a", "machine_id": "m3", "state": "running"}], 200) == []


def test_quota_rule_names_the_quota_and_the_numbers() -> None:
    quotas = {"container_groups_quotas": {"container_replicas_quota": 10, "container_replicas_used": 9}}
    problem = quota_problem("sd", quotas, asked=3, counted=0)
    assert problem is not None and "container_replicas_quota is 10" in problem and "needs 3" in problem
    assert quota_problem("sd", quotas, asked=3, counted=2) is None  # an update adding one replica
    assert quota_problem("sd", quotas, asked=1, counted=0) is None
    assert quota_problem("sd", {"container_groups_quotas": {}}, asked=99, counted=0) is None
    quotas["container_groups_quotas"]["max_container_group_reallocations_per_minute"] = 4
    assert reallocations_per_minute(quotas) == 4


def test_availability_request_and_warning() -> None:
    inputs = {"cpu": 4, "memory": 12288, "storage_gb": 50, "replicas": 3, "gpu_classes": ["RTX 4090"]}
    request = availability_request(inputs, ["id-1"])
    assert request == {"gpu_classes": ["id-1"], "cpu": 4, "memory": 12288, "storage_amount": 50 * 1024**3}
    assert availability_request(inputs, []) is None
    answer = {"available_gpu_high": 2, "available_gpu_batch": 9}
    warning = availability_warning("sd", answer, inputs)
    assert (
        warning is not None and "2 available node(s) with RTX 4090" in warning and "priority high" in warning
    )
    assert availability_warning("sd", answer, {**inputs, "priority": "batch"}) is None
