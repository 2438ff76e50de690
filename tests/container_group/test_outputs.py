from __future__ import annotations

import copy
from typing import Any

import pytest

from components.container_group.diff_rules import diff_inputs
from components.container_group.outputs import inputs_from_group, outputs_from_group, stale_environment
from components.container_group.properties import INPUT_KEYS
from components.container_group.request_body import create_body
from components.container_group.validation import normalize_inputs

GPU_TI = "11111111-aaaa-4aaa-8aaa-000000000001"
GPU_4090 = "11111111-aaaa-4aaa-8aaa-000000000003"
NAMES = {GPU_TI: "RTX 3060 Ti (8 GB)", GPU_4090: "RTX 4090 (24 GB)"}

INPUTS: dict[str, Any] = normalize_inputs(
    {
        "name": "salad-sd-dev",
        "organization": "acme",
        "project": "image-gen",
        "display_name": "SD dev",
        "image": "saladtechnologies/a1111:ipv6-latest",
        "replicas": 3,
        "cpu": 4,
        "memory": 12288,
        "gpu_classes": ["rtx 3060 ti"],
        "storage_gb": 50,
        "priority": "high",
        "country_codes": ["us"],
        "environment_variables": {"CLI_ARGS": "--api"},
        "command": ["python", "webui.py"],
        "registry_authentication": {"basic": {"username": "bot", "password": "pw"}},
        "gateway": {"port": 7860, "auth": False},
        "startup_probe": {
            "http": {"path": "/internal/profile-startup", "port": 7860},
            "failure_threshold": 20,
        },
        "liveness_probe": {"tcp": {"port": 7860}},
        "min_ready_replicas": 2,
        "ready_timeout_minutes": 60,
        "adopt": True,
    }
)
MINIMAL: dict[str, Any] = normalize_inputs(
    {
        "name": "salad-sd-dev",
        "organization": "acme",
        "project": "image-gen",
        "image": "saladtechnologies/a1111:ipv6-latest",
        "cpu": 2,
        "memory": 4096,
    }
)


def salad_group(inputs: dict[str, Any], gpu_ids: list[str]) -> dict[str, Any]:
    """A `ContainerGroup` as Salad's GET returns it for a group created from `inputs`."""
    body = create_body(inputs, gpu_ids)
    container = body["container"]
    container.pop("registry_authentication", None)  # never returned
    priority = container.pop("priority", None)
    container.setdefault("command", None)
    container.setdefault("environment_variables", {})
    container["resources"].setdefault("shm_size", 64)
    container["resources"].setdefault("storage_amount", 1024**3)
    container.update(hash="sha256:" + "a" * 64, size=123)
    networking = body.get("networking")
    if networking is not None:
        networking["dns"] = "brave-otter-0123456789abcdef.salad.cloud"
    probes = {}
    for key in ("startup_probe", "liveness_probe", "readiness_probe"):
        probe = body.get(key)
        if probe is not None:
            probe = {"http": None, "tcp": None, "grpc": None, "exec": None, **probe}
        probes[key] = probe
    return {
        **body,
        **probes,
        "id": "ab3a4591-efc3-46c0-b06a-3d820c0ec100",
        "organization_name": inputs["organization"],
        "project_name": inputs["project"],
        "display_name": body.get("display_name", body["name"]),
        "country_codes": body.get("country_codes", []),
        "priority": priority,
        "current_state": {"status": "running", "description": None, "instance_status_counts": {}},
        "version": 2,
        "pending_change": False,
        "create_time": "2026-01-01T00:00:00Z",
        "update_time": "2026-01-01T00:00:00Z",
        "scaling-actions": [],
        "scheduled-scaling-enabled": False,
    }


def test_outputs_hold_all_inputs_and_what_salad_computed() -> None:
    group = salad_group(INPUTS, [GPU_TI])
    outputs = outputs_from_group({**INPUTS, "__provider": "p"}, group, [GPU_TI], 2)
    assert {key: outputs[key] for key in INPUTS} == INPUTS
    assert outputs["__provider"] == "p"
    assert outputs["id"] == "ab3a4591-efc3-46c0-b06a-3d820c0ec100"
    assert outputs["status"] == "running"
    assert outputs["version"] == 2
    assert outputs["ready_replicas"] == 2
    assert outputs["gpu_class_ids"] == [GPU_TI]
    assert outputs["dns"] == "brave-otter-0123456789abcdef.salad.cloud"
    assert outputs["url"] == "https://brave-otter-0123456789abcdef.salad.cloud"


@pytest.mark.parametrize(
    ("dns", "expected_dns", "expected_url"),
    [
        ("x.salad.cloud", "x.salad.cloud", "https://x.salad.cloud"),
        ("https://x.salad.cloud", "x.salad.cloud", "https://x.salad.cloud"),
        ("https://x.salad.cloud/", "x.salad.cloud", "https://x.salad.cloud"),
        ("http://x.salad.cloud", "x.salad.cloud", "http://x.salad.cloud"),
    ],
)
def test_url_tolerates_a_scheme(dns: str, expected_dns: str, expected_url: str) -> None:
    group = {**salad_group(INPUTS, []), "networking": {"dns": dns, "port": 7860}}
    outputs = outputs_from_group(INPUTS, group, [], 0)
    assert (outputs["dns"], outputs["url"]) == (expected_dns, expected_url)


def test_no_gateway_means_no_url() -> None:
    outputs = outputs_from_group(MINIMAL, salad_group(MINIMAL, []), [], 0)
    assert outputs["url"] is None
    assert outputs["dns"] is None


def test_gpu_class_ids_output_is_a_copy() -> None:
    ids = [GPU_TI]
    outputs = outputs_from_group(INPUTS, salad_group(INPUTS, ids), ids, 0)
    ids.append(GPU_4090)
    assert outputs["gpu_class_ids"] == [GPU_TI]


@pytest.mark.parametrize(("inputs", "gpu_ids"), [(INPUTS, [GPU_TI]), (MINIMAL, [])], ids=["full", "minimal"])
def test_refresh_of_an_unchanged_group_shows_no_drift(inputs: dict[str, Any], gpu_ids: list[str]) -> None:
    group = salad_group(inputs, gpu_ids)
    previous = {**outputs_from_group(inputs, group, gpu_ids, 1), "__provider": "p"}
    rebuilt = inputs_from_group(group, previous, NAMES)
    assert rebuilt == inputs
    assert diff_inputs(previous, rebuilt).changed == []


def test_rebuilt_inputs_hold_only_input_keys() -> None:
    group = salad_group(INPUTS, [GPU_TI])
    previous = {**outputs_from_group(INPUTS, group, [GPU_TI], 1), "__provider": "p", "extra": 1}
    assert set(inputs_from_group(group, previous, NAMES)) <= set(INPUT_KEYS)


def test_what_salad_never_returns_comes_from_previous() -> None:
    rebuilt = inputs_from_group(salad_group(INPUTS, [GPU_TI]), INPUTS, NAMES)
    assert rebuilt["registry_authentication"] == {"basic": {"username": "bot", "password": "pw"}}
    assert (rebuilt["min_ready_replicas"], rebuilt["ready_timeout_minutes"], rebuilt["adopt"]) == (
        2,
        60,
        True,
    )


@pytest.mark.parametrize(
    ("edit", "changed"),
    [
        (lambda g: g.update(replicas=5), ["replicas"]),
        (lambda g: g["container"].update(image="someone/else:latest"), ["image"]),
        (lambda g: g.update(display_name="Renamed In Portal"), ["display_name"]),
        (lambda g: g["container"]["resources"].update(gpu_classes=[GPU_4090]), ["gpu_classes"]),
        (lambda g: g["container"].update(environment_variables={}), ["environment_variables"]),
        (lambda g: g.update(startup_probe=None), ["startup_probe"]),
        (lambda g: g.update(country_codes=[]), ["country_codes"]),
        (lambda g: g["networking"].update(auth=True), ["gateway"]),
    ],
)
def test_refresh_reveals_drift(edit: Any, changed: list[str]) -> None:
    group = salad_group(INPUTS, [GPU_TI])
    edit(group)
    rebuilt = inputs_from_group(group, INPUTS, NAMES)
    assert diff_inputs(rebuilt, INPUTS).changed == changed


def test_gpu_spelling_becomes_the_full_name_when_the_id_changed() -> None:
    group = salad_group(INPUTS, [GPU_4090])
    assert inputs_from_group(group, INPUTS, NAMES)["gpu_classes"] == ["RTX 4090 (24 GB)"]


def test_gpu_spelling_falls_back_to_the_id_when_the_name_is_missing_or_shared() -> None:
    retired = "11111111-aaaa-4aaa-8aaa-00000000dead"
    group = salad_group(INPUTS, [retired, GPU_4090])
    names = {**NAMES, "11111111-aaaa-4aaa-8aaa-000000000009": "RTX 4090 (24 GB)"}
    assert inputs_from_group(group, INPUTS, names)["gpu_classes"] == [retired, GPU_4090]


def test_gpu_spelling_keeps_an_id_the_user_wrote() -> None:
    previous = {**INPUTS, "gpu_classes": [GPU_TI]}
    assert inputs_from_group(salad_group(previous, [GPU_TI]), previous, NAMES)["gpu_classes"] == [GPU_TI]


@pytest.mark.parametrize(
    ("shm_size", "previous_shm", "expected"),
    # The spec names both 64 and 1024 as Salad's default; unset by the user, any value is Salad's choice.
    [(64, None, None), (1024, None, None), (64, 64, 64), (1024, 64, 1024), (64, 1024, 64)],
)
def test_salads_default_shm_size_is_not_drift(
    shm_size: int, previous_shm: int | None, expected: int | None
) -> None:
    previous = {**MINIMAL, "shm_size": previous_shm}
    group = salad_group(MINIMAL, [])
    group["container"]["resources"]["shm_size"] = shm_size
    assert inputs_from_group(group, previous, NAMES).get("shm_size") == expected


@pytest.mark.parametrize(
    ("display_name", "previous_display", "expected"),
    [("salad-sd-dev", None, None), ("salad-sd-dev", "salad-sd-dev", "salad-sd-dev"), ("SD", None, "SD")],
)
def test_display_name_defaulted_to_the_name_is_not_drift(
    display_name: str, previous_display: str | None, expected: str | None
) -> None:
    previous = {**MINIMAL, "display_name": previous_display}
    group = {**salad_group(MINIMAL, []), "display_name": display_name}
    assert inputs_from_group(group, previous, NAMES).get("display_name") == expected


@pytest.mark.parametrize(
    ("storage_amount", "previous_storage", "expected"),
    [
        (50 * 1024**3, 50, 50),
        (50 * 10**9, 50, 47),
        (1024**3, None, None),
        (10 * 1024**3, None, None),
        (1024**3, 1, 1),
        (1024**3, 20, 1),
        (None, None, None),
    ],
)
def test_storage_bytes_become_whole_gib_and_salads_default_is_not_drift(
    storage_amount: int | None, previous_storage: int | None, expected: int | None
) -> None:
    previous = {**MINIMAL, "storage_gb": previous_storage}
    group = salad_group(MINIMAL, [])
    group["container"]["resources"]["storage_amount"] = storage_amount
    assert inputs_from_group(group, previous, NAMES).get("storage_gb") == expected


@pytest.mark.parametrize("filled", ["high", "medium", "low", "batch", None])
def test_a_priority_salad_fills_in_is_not_drift(filled: str | None) -> None:
    previous = {key: value for key, value in MINIMAL.items() if key != "priority"}
    group = {**salad_group(previous, []), "priority": filled}
    assert "priority" not in inputs_from_group(group, previous, NAMES)


@pytest.mark.parametrize(("live", "expected"), [("low", "low"), (None, None)])
def test_a_priority_the_user_set_shows_drift(live: str | None, expected: str | None) -> None:
    previous = {**MINIMAL, "priority": "high"}
    group = {**salad_group(previous, []), "priority": live}
    assert inputs_from_group(group, previous, NAMES).get("priority") == expected


def test_stale_environment_lists_live_keys_the_inputs_dropped() -> None:
    group = salad_group(MINIMAL, [])
    group["container"]["environment_variables"] = {"KEEP": "1", "OLD": "x", "ALSO_OLD": "y"}
    assert stale_environment(group, {**MINIMAL, "environment_variables": {"KEEP": "2"}}) == [
        "ALSO_OLD",
        "OLD",
    ]
    assert (
        stale_environment(
            group, {**MINIMAL, "environment_variables": {"KEEP": "1", "OLD": "x", "ALSO_OLD": "y"}}
        )
        == []
    )


def test_probe_nulls_from_salad_are_tidied() -> None:
    group = salad_group(MINIMAL, [])
    group["readiness_probe"] = {
        "http": {"path": "/ready", "port": 7860, "scheme": None, "headers": None},
        "tcp": None,
        "grpc": None,
        "exec": None,
        "initial_delay_seconds": 0,
        "period_seconds": 1,
        "timeout_seconds": 1,
        "success_threshold": 1,
        "failure_threshold": 3,
    }
    probe = inputs_from_group(group, MINIMAL, NAMES)["readiness_probe"]
    assert probe["http"] == {"path": "/ready", "port": 7860, "scheme": "http", "headers": []}
    assert set(probe) == {
        "http",
        "initial_delay_seconds",
        "period_seconds",
        "timeout_seconds",
        "success_threshold",
        "failure_threshold",
    }


def test_inputs_from_group_does_not_alter_its_arguments() -> None:
    group = salad_group(INPUTS, [GPU_TI])
    before_group, before_previous = copy.deepcopy(group), copy.deepcopy(INPUTS)
    rebuilt = inputs_from_group(group, INPUTS, NAMES)
    rebuilt["environment_variables"]["NEW"] = "x"
    rebuilt["registry_authentication"]["basic"]["password"] = "changed"
    assert group == before_group
    assert before_previous == INPUTS
