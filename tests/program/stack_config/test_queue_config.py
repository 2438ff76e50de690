"""`salad-sd:deployment.queue`: defaults, the batch stack file, and errors that name the key and range."""

from __future__ import annotations

from typing import Any

import pytest

from tests.program.stack_config.test_stack_config import load, problems_of


def test_defaults_of_an_empty_queue_section() -> None:
    config = load(deployment={"queue": {}})
    inputs = config.container_group_inputs
    assert config.queue is not None and config.queue.name == "salad-sd-dev-jobs"
    assert inputs["queue_connection"] == {
        "queue_name": "salad-sd-dev-jobs",
        "port": 7859,
        "path": "/sdapi/v1/txt2img",
    }
    assert inputs["queue_autoscaler"]["min_replicas"] == 0 and inputs["queue_autoscaler"]["max_replicas"] == 3
    assert len(inputs["queue_autoscaler"]) == 6  # all six values, defaults filled
    assert inputs["replicas"] == 0 and inputs["environment_variables"]["SALAD_SD_QUEUE_WORKER"] == "1"
    assert inputs["gateway"]["port"] == 7860  # gateway and queue may be on together


def test_gateway_off_queue_on_with_smoke_test_and_settings() -> None:
    config = load(
        deployment={
            "port": False,
            "smokeTest": True,
            "env": {"WEBUI_PORT": "7870"},
            "queue": {
                "name": "batch-q",
                "description": "nightly",
                "autoscaler": {"maxReplicas": 8, "pollingPeriodSeconds": 60},
            },
        }
    )
    inputs = config.container_group_inputs
    assert "gateway" not in inputs and config.smoke_test
    assert (
        inputs["queue_connection"]["port"] == 7870 and inputs["queue_connection"]["queue_name"] == "batch-q"
    )
    assert (
        inputs["queue_autoscaler"]["polling_period"] == 60 and inputs["queue_autoscaler"]["max_replicas"] == 8
    )
    assert config.queue is not None and config.queue.description == "nightly"


def test_no_queue_is_gateway_only_as_before() -> None:
    config = load(deployment={})
    assert config.queue is None and "queue_connection" not in config.container_group_inputs


@pytest.mark.parametrize(
    ("queue", "extra", "expected"),
    [
        (
            {"autoscaler": {"maxReplicas": 600}},
            {},
            "salad-sd:deployment.queue.autoscaler.maxReplicas must be an integer between 1 and 500, got 600",
        ),
        (
            {"autoscaler": {"minReplicas": 101}},
            {},
            "salad-sd:deployment.queue.autoscaler.minReplicas must be an integer between 0 and 100",
        ),
        (
            {"autoscaler": {"pollingPeriodSeconds": 5}},
            {},
            "salad-sd:deployment.queue.autoscaler.pollingPeriodSeconds must be an integer between 15 and "
            "1800 seconds, got 5",
        ),
        (
            {"autoscaler": {"desiredQueueLength": 0}},
            {},
            "salad-sd:deployment.queue.autoscaler.desiredQueueLength must be an integer between 1 and 100",
        ),
        (
            {"autoscaler": {"maxUpscalePerMinute": 101}},
            {},
            "salad-sd:deployment.queue.autoscaler.maxUpscalePerMinute must be an integer between 1 and 100",
        ),
        (
            {"autoscaler": {"maxDownscalePerMinute": 0}},
            {},
            "salad-sd:deployment.queue.autoscaler.maxDownscalePerMinute must be an integer between 1 and 100",
        ),
        (
            {"autoscaler": {"minReplicas": 5, "maxReplicas": 2}},
            {},
            "salad-sd:deployment.queue.autoscaler.minReplicas must not exceed the maximum replicas (5 > 2)",
        ),
        (
            {"autoscaler": {"maxReplica": 2}},
            {},
            "salad-sd:deployment.queue.autoscaler has unknown key 'maxReplica' (did you mean 'maxReplicas'?)",
        ),
        ({"name": "Bad_Queue"}, {}, "salad-sd:deployment.queue.name must be 2 to 63 characters"),
        ({"description": "x" * 501}, {}, "salad-sd:deployment.queue.description must be 0 to 500 characters"),
        ({}, {"replicas": 3}, "salad-sd:deployment.replicas has no effect with a queue"),
        ({}, {"env": {"WEBUI_PORT": "web"}}, "salad-sd:deployment.env.WEBUI_PORT must be a port number"),
        ("yes", {}, "salad-sd:deployment.queue must be an object"),
    ],
)
def test_errors_name_the_key(queue: Any, extra: dict[str, Any], expected: str) -> None:
    found = problems_of(deployment={"queue": queue, **extra})
    assert any(problem.startswith(expected) for problem in found), found


def test_queue_true_takes_every_default() -> None:
    config = load(deployment={"queue": True, "port": False})
    assert config.queue is not None and config.container_group_inputs["queue_autoscaler"]["max_replicas"] == 3
    assert load(deployment={"queue": False}).queue is None
