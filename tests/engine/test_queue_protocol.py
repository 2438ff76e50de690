"""The real Queue provider driven over gRPC as the Pulumi engine drives it, against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from components.container_group.provider import ContainerGroupProvider
from components.queue.provider import QueueProvider
from tests.conftest import TEST_API_KEY
from tests.container_group.provider_fixtures import ORG, PROJECT, provider_config, wire_inputs
from tests.engine.harness import PROVIDER_KEY, DynamicProviderProcess, make_urn, serialize_provider_like_sdk
from tests.fakes.salad_api import SaladEmulator

URN = make_urn("jobs", "pulumi-python:dynamic/salad:Queue")


@pytest.fixture
def engine(salad_emulator: SaladEmulator) -> Iterator[DynamicProviderProcess]:
    with DynamicProviderProcess(env={"SALAD_API_KEY": "", "SALAD_API_URL": ""}) as process:
        process.configure(provider_config(salad_emulator), secret_keys=["salad:apiKey"])
        yield process


def program_inputs(**overrides: Any) -> dict[str, Any]:
    return {"name": "sd-jobs", **overrides, PROVIDER_KEY: serialize_provider_like_sdk(QueueProvider())}


def test_queue_lifecycle_over_grpc(engine: DynamicProviderProcess, salad_emulator: SaladEmulator) -> None:
    checked, failures = engine.check(URN, {}, program_inputs(description="batch"))
    assert failures == [] and checked["organization"] == ORG and checked["project"] == PROJECT
    id_, state = engine.create(URN, checked)
    assert salad_emulator.queues.queue_names(ORG, PROJECT) == ["sd-jobs"] and state["queue_id"] == id_

    described, _ = engine.check(URN, checked, program_inputs(description="nightly"))
    outcome = engine.diff(id_, URN, state, described)
    assert (outcome.changes, outcome.replaces) == ("some", [])
    state = engine.update(id_, URN, state, described)
    (patch,) = salad_emulator.requests_to("PATCH", "/queues/sd-jobs")
    assert patch.body == {"description": "nightly"}

    renamed, _ = engine.check(URN, described, program_inputs(name="other-jobs", description="nightly"))
    assert engine.diff(id_, URN, state, renamed).replaces == ["name"]

    read_id, outs, inputs = engine.read(id_, URN, state, described)
    assert read_id == id_ and inputs is not None and inputs["description"] == "nightly"
    engine.delete(id_, URN, outs)
    assert salad_emulator.queues.queue_names(ORG, PROJECT) == []
    assert TEST_API_KEY not in engine.output()


def test_group_in_queue_mode_over_grpc(engine: DynamicProviderProcess, salad_emulator: SaladEmulator) -> None:
    urn = make_urn("sd", "pulumi-python:dynamic/salad:ContainerGroup")
    queue_id, _ = engine.create(URN, engine.check(URN, {}, program_inputs())[0])
    autoscaler = {"min_replicas": 0.0, "max_replicas": 4.0, "desired_queue_length": 2.0}

    def group_inputs(**changes: Any) -> dict[str, Any]:
        news = wire_inputs(
            gateway=None,
            queue_connection={"queue_name": "sd-jobs", "port": 7859.0},
            queue_autoscaler={**autoscaler, **changes},
        )
        return {**news, PROVIDER_KEY: serialize_provider_like_sdk(ContainerGroupProvider())}

    checked, failures = engine.check(urn, {}, group_inputs())
    assert failures == [] and checked["queue_connection"]["path"] == "/sdapi/v1/txt2img"
    id_, state = engine.create(urn, checked)
    assert (
        state["status"] in ("deploying", "running") and state.get("estimated_cost_per_hour") is None
    )  # no priority

    scaled, _ = engine.check(urn, checked, group_inputs(max_replicas=8.0))
    outcome = engine.diff(id_, urn, state, scaled)
    assert (outcome.changes, outcome.replaces) == ("some", [])
    salad_emulator.clear_log()
    state = engine.update(id_, urn, state, scaled)
    (patch,) = salad_emulator.requests_to("PATCH")
    assert patch.body["queue_autoscaler"]["max_replicas"] == 8 and list(patch.body) == ["queue_autoscaler"]
    moved, _ = engine.check(
        urn, scaled, {**group_inputs(), "queue_connection": {"queue_name": "b-jobs", "port": 7859.0}}
    )
    assert engine.diff(id_, urn, state, moved).replaces == ["queue_connection"]
    engine.delete(id_, urn, state)
    assert salad_emulator.group(ORG, PROJECT, "sd-test") is None and queue_id
