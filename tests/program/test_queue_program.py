"""The batch stack (queue mode) under Pulumi mocks: the Queue comes first and the group depends on it."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from tests.paths import REPO_ROOT
from tests.program.test_main_program import GROUP_TYPE, run_program

QUEUE_TYPE = "pulumi-python:dynamic/salad:Queue"
BATCH = REPO_ROOT / "Pulumi.batch.yaml"


@pulumi.runtime.test
def test_batch_stack_registers_queue_before_group(monkeypatch: pytest.MonkeyPatch) -> Any:
    mocks, program = run_program(BATCH, monkeypatch)
    app, config = program["app"], program["config"]

    def check(values: list[Any]) -> None:
        queue_name, _group_name = values
        types = [r.typ for r in mocks.resources]
        assert types.index(QUEUE_TYPE) < types.index(GROUP_TYPE)
        (queue,) = mocks.of_type(QUEUE_TYPE)
        (group,) = mocks.of_type(GROUP_TYPE)
        assert queue_name == queue.inputs["name"] == config.queue.name == f"{config.name}-jobs"
        assert queue.inputs["description"]
        inputs = group.inputs
        assert "gateway" not in inputs
        assert inputs["queue_connection"] == {
            "queue_name": queue_name,
            "port": 7859,
            "path": "/sdapi/v1/txt2img",
        }
        assert inputs["queue_autoscaler"] == {
            "min_replicas": 0,
            "max_replicas": 10,
            "desired_queue_length": 2,
            "polling_period": 30,
            "max_upscale_per_minute": 5,
            "max_downscale_per_minute": 2,
        }
        assert inputs["replicas"] == 0 and inputs["smoke_test"] is True
        assert inputs["environment_variables"]["SALAD_SD_QUEUE_WORKER"] == "1"

    return pulumi.Output.all(app.queue_name, app.container_group_name).apply(check)
