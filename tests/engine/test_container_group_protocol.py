"""The real ContainerGroup provider driven over gRPC as the Pulumi engine drives it, against the emulator."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from components.container_group.provider import ContainerGroupProvider
from tests.conftest import TEST_API_KEY
from tests.container_group.provider_fixtures import NEW_IMAGE, ORG, PROJECT, provider_config, wire_inputs
from tests.engine.harness import (
    PROVIDER_KEY,
    UNKNOWN,
    DynamicProviderProcess,
    make_urn,
    serialize_provider_like_sdk,
)
from tests.fakes.salad_api import SaladEmulator

TYPE = "pulumi-python:dynamic/salad:ContainerGroup"
URN = make_urn("sd", TYPE)


@pytest.fixture
def engine(salad_emulator: SaladEmulator) -> Iterator[DynamicProviderProcess]:
    with DynamicProviderProcess(env={"SALAD_API_KEY": "", "SALAD_API_URL": ""}) as process:
        process.configure(provider_config(salad_emulator), secret_keys=["salad:apiKey"])
        yield process


def program_inputs(**overrides: Any) -> dict[str, Any]:
    return {**wire_inputs(**overrides), PROVIDER_KEY: serialize_provider_like_sdk(ContainerGroupProvider())}


def test_full_lifecycle_over_grpc(engine: DynamicProviderProcess, salad_emulator: SaladEmulator) -> None:
    news = program_inputs()
    checked, failures = engine.check(URN, {}, news)
    assert failures == []
    assert checked["organization"] == ORG and checked["replicas"] == 2

    id_, state = engine.create(URN, checked)
    group = salad_emulator.group(ORG, PROJECT, "sd-test")
    assert group is not None and id_ == group["id"]
    assert state["url"] == "https://" + group["networking"]["dns"]
    assert state["ready_replicas"] >= 1 and state[PROVIDER_KEY] == news[PROVIDER_KEY]

    rechecked, _ = engine.check(URN, checked, program_inputs())
    assert engine.diff(id_, URN, state, rechecked).changes == "none"

    scaled, failures = engine.check(URN, checked, program_inputs(replicas=3.0))
    assert failures == []
    outcome = engine.diff(id_, URN, state, scaled)
    assert (outcome.changes, outcome.replaces) == ("some", [])
    salad_emulator.clear_log()
    state = engine.update(id_, URN, state, scaled)
    patches = salad_emulator.requests_to("PATCH")
    assert [p.body for p in patches] == [{"replicas": 3}]
    assert state["replicas"] == 3 and state["url"] and state["image"] == checked["image"]

    salad_emulator.edit_out_of_band(ORG, PROJECT, "sd-test", {"replicas": 4})
    read_id, outs, inputs = engine.read(id_, URN, state, scaled)
    assert read_id == id_ and outs["replicas"] == 4 and inputs is not None and inputs["replicas"] == 4

    engine.delete(id_, URN, outs)
    assert salad_emulator.group(ORG, PROJECT, "sd-test") is None
    assert "sd-test: " in engine.output()  # progress lines reach the engine as diagnostics


def test_check_failure_names_the_property(engine: DynamicProviderProcess) -> None:
    _, failures = engine.check(URN, {}, program_inputs(replicas=600.0))
    assert [prop for prop, _ in failures] == ["replicas"]
    assert "500" in failures[0][1] and "600" in failures[0][1]


def test_preview_with_unknown_image(engine: DynamicProviderProcess, salad_emulator: SaladEmulator) -> None:
    checked, _ = engine.check(URN, {}, program_inputs())
    id_, state = engine.create(URN, checked)
    salad_emulator.clear_log()

    preview, failures = engine.check(URN, checked, program_inputs(image=UNKNOWN))
    assert failures == [] and preview["image"] == UNKNOWN
    outcome = engine.diff(id_, URN, state, preview)
    assert (outcome.changes, outcome.replaces) == ("some", [])
    assert engine.update(id_, URN, state, preview, preview=True) == preview
    assert salad_emulator.request_log() == [], "check and diff make no API call"

    built, _ = engine.check(URN, checked, program_inputs(image=NEW_IMAGE))
    assert engine.update(id_, URN, state, built)["version"] == state["version"] + 1


def test_api_key_never_leaves_the_provider(
    engine: DynamicProviderProcess, salad_emulator: SaladEmulator
) -> None:
    news = program_inputs(registry_authentication={"basic": {"username": "me", "password": "registry-pass"}})
    checked, _ = engine.check(URN, {}, news)
    id_, state = engine.create(URN, checked)
    _, outs, inputs = engine.read(id_, URN, state, checked)
    engine.delete(id_, URN, outs)
    pickled = base64.b64decode(news[PROVIDER_KEY])
    assert TEST_API_KEY.encode() not in pickled
    everything = repr([checked, state, outs, inputs]) + engine.output()
    assert TEST_API_KEY not in everything
    assert "registry-pass" not in engine.output()
