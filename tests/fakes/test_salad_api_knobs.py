"""The emulator's harsh knobs: strict PATCH nulls, version bumps Salad may make, brief stops, setbacks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.salad_api import SaladEmulator, Timings
from tests.fakes.salad_testkit import ORG, PROJECT, Api, valid_body
from tests.fakes.waiting import wait_until

SLOW = Timings(image_prepare=0.3, allocating=0.15, downloading=0.3, creating=0.15, ready=0.15, stopping=0.2)


@pytest.fixture
def slow_emu() -> Iterator[SaladEmulator]:
    with SaladEmulator(timings=SLOW) as e:
        yield e


def running_api(emu: SaladEmulator, **top: Any) -> Api:
    api = Api(emu)
    assert api.create(valid_body(**top)).status_code == 201
    wait_until(lambda: api.status("sd") == "running")
    return api


# Null exactly where the spec's ContainerGroupPatch allows it.
NULL_ALLOWED = [
    {"display_name": None},
    {"country_codes": None},
    {"container": {"command": None}},
    {"container": {"priority": None}},
    {"container": {"logging": None}},
    {"container": {"resources": {"storage_amount": None, "shm_size": None, "gpu_classes": None}}},
    {"liveness_probe": None},
    {"readiness_probe": None},
]
NULL_REFUSED = [
    ({"container": {"environment_variables": None}}, "container.environment_variables"),
    (
        {"container": {"environment_variables": {"CLI_ARGS": None}}},
        "container.environment_variables.CLI_ARGS",
    ),
    ({"container": {"image_caching": None}}, "container.image_caching"),
    ({"container": {"registry_authentication": None}}, "container.registry_authentication"),
    ({"container": {"registry_authentication": {"basic": None}}}, "container.registry_authentication.basic"),
    ({"liveness_probe": {"http": None}}, "liveness_probe.http"),
    ({"startup_probe": {"failure_threshold": None}}, "startup_probe.failure_threshold"),
    ({"scheduled-scaling-enabled": None}, "scheduled-scaling-enabled"),
    ({"scaling-actions": None}, "scaling-actions"),
]


@pytest.mark.parametrize("body", NULL_ALLOWED)
def test_patch_accepts_null_where_the_spec_allows_it(emu: SaladEmulator, body: dict[str, Any]) -> None:
    api = Api(emu)
    assert api.create(valid_body()).status_code == 201
    r = api.patch("sd", body)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(("body", "path"), NULL_REFUSED, ids=[case[1] for case in NULL_REFUSED])
def test_patch_refuses_null_where_the_spec_does_not(
    emu: SaladEmulator, body: dict[str, Any], path: str
) -> None:
    api = Api(emu)
    assert api.create(valid_body()).status_code == 201
    r = api.patch("sd", body)
    assert (
        r.status_code == 400 and f"{path} must be" in r.json()["detail"] and "not null" in r.json()["detail"]
    )


def test_hardware_edit_keeps_instances_on_the_old_version_when_the_knob_is_on(emu: SaladEmulator) -> None:
    emu.hardware_edits_bump_version()
    api = running_api(emu)
    wait_until(lambda: sum(i["ready"] for i in api.instances("sd")) == 2)
    r = api.patch("sd", {"container": {"resources": {"cpu": 8}}})
    assert r.json()["version"] == 2 and r.json()["pending_change"] is True
    assert {i["version"] for i in api.instances("sd")} == {1}
    assert all(i["ready"] for i in api.instances("sd"))
    wait_until(lambda: api.group("sd")["pending_change"] is False)
    assert {i["version"] for i in api.instances("sd")} == {1}


def test_hardware_edit_without_the_knob_keeps_the_version(emu: SaladEmulator) -> None:
    api = running_api(emu)
    assert api.patch("sd", {"container": {"resources": {"cpu": 8}}}).json()["version"] == 1


def test_version_after_preparation_knob_hides_the_bump_until_the_image_is_ready(
    slow_emu: SaladEmulator,
) -> None:
    slow_emu.version_after_preparation()
    api = running_api(slow_emu)
    wait_until(lambda: sum(i["ready"] for i in api.instances("sd")) == 2)
    r = api.patch("sd", {"container": {"image": "acme/other:2"}})
    assert r.json()["version"] == 1 and r.json()["current_state"]["status"] == "pending"
    assert [(i["version"], i["ready"]) for i in api.instances("sd")] == [(1, True), (1, True)]
    wait_until(lambda: api.status("sd") != "pending")
    assert api.group("sd")["version"] == 2
    wait_until(lambda: any(i["version"] == 2 for i in api.instances("sd")))


def test_brief_stop_with_autostart_refuses_start_then_runs(slow_emu: SaladEmulator) -> None:
    slow_emu.brief_stop_with_autostart(0.5)
    api = Api(slow_emu)
    assert api.create(valid_body()).status_code == 201
    wait_until(lambda: api.status("sd") == "stopped")
    assert api.instances("sd") == []
    r = api.start("sd")
    assert r.status_code == 400 and "cannot be started right now" in r.json()["detail"]
    wait_until(lambda: api.status("sd") == "running")
    assert api.start("sd").status_code == 202


def test_setback_sends_a_running_instance_back_to_allocating_and_around_again(
    slow_emu: SaladEmulator,
) -> None:
    slow_emu.setback("a1111")
    api = Api(slow_emu)
    assert api.create(valid_body(replicas=1)).status_code == 201
    seen: list[str] = []

    def first_state() -> bool:
        instances = api.instances("sd")
        if instances and (not seen or seen[-1] != instances[0]["state"]):
            seen.append(instances[0]["state"])
        return bool(instances and instances[0]["ready"])

    wait_until(first_state, timeout=10, interval=0.005)
    # On a loaded machine a poll may miss one short span; the way back must still show.
    after_first_start = seen[seen.index("creating") + 1 :]
    assert "allocating" in after_first_start and "downloading" in after_first_start
    assert after_first_start[-1] == "running"
    assert slow_emu.first_ready_time(ORG, PROJECT, "sd") is not None
