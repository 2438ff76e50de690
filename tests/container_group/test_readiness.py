from __future__ import annotations

from typing import Any

import pytest

from components.container_group.readiness import count_ready, progress_line, required_ready


def instance(state: str, ready: bool = False, version: int = 1) -> dict[str, Any]:
    return {
        "id": f"{state}-{ready}-{version}",
        "machine_id": "m",
        "state": state,
        "ready": ready,
        "version": version,
        "update_time": "2026-01-01T00:00:00Z",
    }


@pytest.mark.parametrize(
    ("instances", "version", "expected"),
    [
        ([], None, 0),
        ([instance("running", True)], None, 1),
        ([instance("running", False)], None, 0),
        ([instance("creating", True)], None, 0),
        ([instance("running", True, version=1), instance("running", True, version=2)], None, 2),
        ([instance("running", True, version=1), instance("running", True, version=2)], 1, 1),
        ([instance("running", True, version=1), instance("running", True, version=3)], 1, 1),
        ([instance("running", True, version=1)], 1, 0),
        ([instance("running", True, version=1)], 0, 1),
        ([{"state": "running"}], None, 0),
        ([{"state": "running", "ready": "true"}], None, 0),
    ],
)
def test_count_ready(instances: list[dict[str, Any]], version: int | None, expected: int) -> None:
    assert count_ready(instances, version) == expected


@pytest.mark.parametrize(
    ("instances", "want", "version", "line"),
    [
        (
            [instance("running", True), instance("downloading"), instance("downloading")],
            3,
            None,
            "salad-sd-dev: 1/3 ready, 2 downloading",
        ),
        (
            [instance("stopping"), instance("creating"), instance("allocating"), instance("downloading")],
            2,
            None,
            "salad-sd-dev: 0/2 ready, 1 allocating, 1 downloading, 1 creating, 1 stopping",
        ),
        (
            [instance("running", False), instance("running", True)],
            2,
            None,
            "salad-sd-dev: 1/2 ready, 1 not ready",
        ),
        (
            [instance("running", True, version=1), instance("running", True, version=2)],
            2,
            1,
            "salad-sd-dev: 1/2 ready, 1 old version",
        ),
        (
            [instance("hibernating"), instance("creating")],
            1,
            None,
            "salad-sd-dev: 0/1 ready, 1 creating, 1 hibernating",
        ),
        ([], 3, None, "salad-sd-dev: 0/3 ready, no instances yet"),
    ],
)
def test_progress_line(instances: list[dict[str, Any]], want: int, version: int | None, line: str) -> None:
    assert progress_line("salad-sd-dev", instances, want, version) == line


def test_progress_line_does_not_depend_on_instance_order() -> None:
    instances = [
        instance("downloading"),
        instance("running", True),
        instance("allocating"),
        instance("downloading"),
    ]
    assert progress_line("g", instances, 3, None) == progress_line("g", list(reversed(instances)), 3, None)


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ({}, 1),
        ({"replicas": 3.0, "min_ready_replicas": 2.0}, 2),
        ({"replicas": 2, "min_ready_replicas": 5}, 2),
        ({"replicas": 0}, 0),
        ({"replicas": 3, "min_ready_replicas": 0}, 0),
        ({"replicas": 3}, 1),
    ],
)
def test_required_ready(inputs: dict[str, Any], expected: int) -> None:
    result = required_ready(inputs)
    assert result == expected
    assert type(result) is int


def test_progress_line_shows_download_percentages() -> None:
    instances = [
        {"state": "downloading", "pulling_progress": 77.2, "version": 1},
        {"state": "downloading", "pulling_progress": 41.0, "version": 1},
        {"state": "downloading", "version": 1},  # no progress reported yet
        {"state": "allocating", "version": 1},
    ]
    line = progress_line("salad-sd-dev", instances, 3, None)
    assert line == "salad-sd-dev: 0/3 ready, 1 allocating, 3 downloading (41%, 77%)"
