from __future__ import annotations

import copy
from typing import Any

import pytest

from components.container_group.request_body import create_body, env_removal_patch, patch_body, patch_steps
from components.container_group.validation import normalize_inputs

GIB = 1024**3
GPU_A = "11111111-aaaa-4aaa-8aaa-000000000001"
GPU_B = "11111111-aaaa-4aaa-8aaa-000000000002"

# Field names transcribed from Salad's OpenAPI spec (0.9.0-alpha.17).
PROTOTYPE_KEYS = {
    "autostart_policy",
    "container",
    "country_codes",
    "display_name",
    "liveness_probe",
    "name",
    "networking",
    "queue_autoscaler",
    "queue_connection",
    "readiness_probe",
    "replicas",
    "restart_policy",
    "scaling-actions",
    "scheduled-scaling-enabled",
    "startup_probe",
}
PATCH_KEYS = {
    "container",
    "country_codes",
    "display_name",
    "liveness_probe",
    "networking",
    "queue_autoscaler",
    "readiness_probe",
    "replicas",
    "scaling-actions",
    "scheduled-scaling-enabled",
    "startup_probe",
}
CONTAINER_KEYS = {
    "command",
    "environment_variables",
    "image",
    "image_caching",
    "logging",
    "priority",
    "registry_authentication",
    "resources",
}
RESOURCES_KEYS = {"cpu", "gpu_classes", "memory", "shm_size", "storage_amount"}
CREATE_NETWORKING_KEYS = {
    "auth",
    "client_request_timeout",
    "load_balancer",
    "port",
    "protocol",
    "server_response_timeout",
    "single_connection_limit",
}
PATCH_NETWORKING_KEYS = {"port"}
PROBE_KEYS = {
    "exec",
    "failure_threshold",
    "grpc",
    "http",
    "initial_delay_seconds",
    "period_seconds",
    "success_threshold",
    "tcp",
    "timeout_seconds",
}

# As the engine delivers them: every number a float.
A1111: dict[str, Any] = {
    "__provider": "serialized-provider",
    "name": "salad-sd-dev",
    "organization": "acme",
    "project": "image-gen",
    "display_name": "SD dev",
    "image": "saladtechnologies/a1111:ipv6-latest",
    "replicas": 3.0,
    "cpu": 4.0,
    "memory": 12288.0,
    "gpu_classes": ["RTX 3060 Ti"],
    "storage_gb": 50.0,
    "shm_size": 2048.0,
    "priority": "high",
    "country_codes": ["us", "ca"],
    "environment_variables": {"CLI_ARGS": "--api --xformers"},
    "command": ["python", "-u", "webui.py"],
    "image_caching": True,
    "registry_authentication": {"basic": {"username": "bot", "password": "pw"}},
    "restart_policy": "always",
    "autostart": True,
    "gateway": {"port": 7860.0, "auth": False},
    "startup_probe": {
        "http": {"path": "/internal/profile-startup", "port": 7860.0},
        "initial_delay_seconds": 30.0,
        "period_seconds": 10.0,
        "failure_threshold": 20.0,
    },
    "liveness_probe": {"http": {"path": "/internal/ping", "port": 7860.0}},
    "min_ready_replicas": 2.0,
    "ready_timeout_minutes": 60.0,
    "adopt": False,
}

MINIMAL: dict[str, Any] = {
    "name": "salad-sd-dev",
    "organization": "acme",
    "project": "image-gen",
    "image": "saladtechnologies/a1111:ipv6-latest",
    "cpu": 2.0,
    "memory": 4096.0,
}


def test_create_body_for_a_full_spec() -> None:
    assert create_body(A1111, [GPU_A]) == {
        "name": "salad-sd-dev",
        "display_name": "SD dev",
        "autostart_policy": True,
        "replicas": 3,
        "restart_policy": "always",
        "country_codes": ["us", "ca"],
        "container": {
            "image": "saladtechnologies/a1111:ipv6-latest",
            "resources": {
                "cpu": 4,
                "memory": 12288,
                "gpu_classes": [GPU_A],
                "storage_amount": 50 * GIB,
                "shm_size": 2048,
            },
            "command": ["python", "-u", "webui.py"],
            "environment_variables": {"CLI_ARGS": "--api --xformers"},
            "image_caching": True,
            "priority": "high",
            "registry_authentication": {"basic": {"username": "bot", "password": "pw"}},
        },
        "networking": {
            "protocol": "http",
            "port": 7860,
            "auth": False,
            "load_balancer": "least_number_of_connections",
            "single_connection_limit": False,
            "client_request_timeout": 100000,
            "server_response_timeout": 100000,
        },
        "startup_probe": {
            "http": {"path": "/internal/profile-startup", "port": 7860, "scheme": "http", "headers": []},
            "initial_delay_seconds": 30,
            "period_seconds": 10,
            "timeout_seconds": 10,
            "success_threshold": 2,
            "failure_threshold": 20,
        },
        "liveness_probe": {
            "http": {"path": "/internal/ping", "port": 7860, "scheme": "http", "headers": []},
            "initial_delay_seconds": 0,
            "period_seconds": 10,
            "timeout_seconds": 30,
            "success_threshold": 1,
            "failure_threshold": 3,
        },
    }


def test_create_body_omits_unset_optional_fields() -> None:
    assert create_body(MINIMAL, []) == {
        "name": "salad-sd-dev",
        "autostart_policy": True,
        "replicas": 1,
        "restart_policy": "always",
        "container": {
            "image": "saladtechnologies/a1111:ipv6-latest",
            "resources": {"cpu": 2, "memory": 4096, "gpu_classes": []},
            "image_caching": True,
        },
    }


def floats_in(value: Any, path: str = "") -> list[str]:
    if isinstance(value, float):
        return [path]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in floats_in(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in floats_in(item, f"{path}[{index}]")]
    return []


def test_create_body_has_no_floats() -> None:
    assert floats_in(create_body(A1111, [GPU_A])) == []


def unknown_keys(body: dict[str, Any], *, patch: bool) -> list[str]:
    """Keys in `body` that Salad's create (or patch) schema does not define."""
    allowed_top = PATCH_KEYS if patch else PROTOTYPE_KEYS
    found = [key for key in body if key not in allowed_top]
    container = body.get("container") or {}
    found += [f"container.{key}" for key in container if key not in CONTAINER_KEYS]
    found += [
        f"container.resources.{key}" for key in container.get("resources") or {} if key not in RESOURCES_KEYS
    ]
    networking_keys = PATCH_NETWORKING_KEYS if patch else CREATE_NETWORKING_KEYS
    found += [f"networking.{key}" for key in body.get("networking") or {} if key not in networking_keys]
    for probe in ("startup_probe", "liveness_probe", "readiness_probe"):
        found += [f"{probe}.{key}" for key in body.get(probe) or {} if key not in PROBE_KEYS]
    return found


def test_create_body_uses_only_salad_fields() -> None:
    assert unknown_keys(create_body(A1111, [GPU_A]), patch=False) == []


def test_priority_goes_under_container() -> None:
    body = create_body(A1111, [])
    assert "priority" not in body
    assert body["container"]["priority"] == "high"


def test_create_body_does_not_share_objects_with_the_inputs() -> None:
    inputs = copy.deepcopy(A1111)
    body = create_body(inputs, [GPU_A])
    body["container"]["environment_variables"]["NEW"] = "x"
    body["container"]["command"].append("--extra")
    assert inputs == A1111


def test_create_body_for_each_probe_protocol() -> None:
    inputs = {
        **MINIMAL,
        "startup_probe": {"tcp": {"port": 8000.0}},
        "liveness_probe": {"grpc": {"port": 50051.0}},
        "readiness_probe": {"exec": {"command": ["cat", "/tmp/ready"]}},
    }
    body = create_body(inputs, [])
    assert body["startup_probe"]["tcp"] == {"port": 8000}
    assert body["liveness_probe"]["grpc"] == {"port": 50051, "service": ""}
    assert body["readiness_probe"]["exec"] == {"command": ["cat", "/tmp/ready"]}
    assert body["readiness_probe"]["period_seconds"] == 1


def changed(**overrides: Any) -> dict[str, Any]:
    return {**copy.deepcopy(A1111), **overrides}


def without(*keys: str) -> dict[str, Any]:
    return {key: value for key, value in copy.deepcopy(A1111).items() if key not in keys}


STARTUP_BODY = create_body(A1111, [])["startup_probe"]

PATCH_CASES = [
    # (id, new inputs, expected patch against A1111)
    ("replicas", changed(replicas=5.0), {"replicas": 5}),
    ("display name set", changed(display_name="SD prod"), {"display_name": "SD prod"}),
    ("display name reset", without("display_name"), {"display_name": None}),
    ("country codes changed", changed(country_codes=["us"]), {"country_codes": ["us"]}),
    ("country codes removed", without("country_codes"), {"country_codes": None}),
    ("image", changed(image="repo/a1111@sha256:abc"), {"container": {"image": "repo/a1111@sha256:abc"}}),
    (
        "command changed",
        changed(command=["python", "webui.py"]),
        {"container": {"command": ["python", "webui.py"]}},
    ),
    ("command removed", without("command"), {"container": {"command": None}}),
    (
        "env var added",
        changed(environment_variables={"CLI_ARGS": "--api --xformers", "PORT": "7860"}),
        {"container": {"environment_variables": {"CLI_ARGS": "--api --xformers", "PORT": "7860"}}},
    ),
    (
        "env var replaced",
        changed(environment_variables={"MODE": "api"}),
        {"container": {"environment_variables": {"MODE": "api"}}},
    ),
    ("env vars removed", without("environment_variables"), {"container": {"environment_variables": {}}}),
    ("image caching", changed(image_caching=False), {"container": {"image_caching": False}}),
    ("priority changed", changed(priority="batch"), {"container": {"priority": "batch"}}),
    ("priority removed", without("priority"), {"container": {"priority": None}}),
    (
        "cpu and memory",
        changed(cpu=8.0, memory=16384.0),
        {"container": {"resources": {"cpu": 8, "memory": 16384}}},
    ),
    ("storage", changed(storage_gb=100.0), {"container": {"resources": {"storage_amount": 100 * GIB}}}),
    ("storage removed", without("storage_gb"), {"container": {"resources": {"storage_amount": None}}}),
    ("shm", changed(shm_size=4096.0), {"container": {"resources": {"shm_size": 4096}}}),
    (
        "registry kind switched",
        changed(registry_authentication={"docker_hub": {"username": "bot", "personal_access_token": "t"}}),
        {
            "container": {
                "registry_authentication": {
                    "docker_hub": {"username": "bot", "personal_access_token": "t"},
                }
            }
        },
    ),
    (
        "registry password",
        changed(registry_authentication={"basic": {"username": "bot", "password": "new"}}),
        {"container": {"registry_authentication": {"basic": {"username": "bot", "password": "new"}}}},
    ),
    # Not nullable in the spec: removing a login replaces the group (diff_rules), no PATCH carries it.
    ("registry removed", without("registry_authentication"), {}),
    (
        "probe timing",
        changed(startup_probe={**A1111["startup_probe"], "failure_threshold": 15.0}),
        {"startup_probe": {**STARTUP_BODY, "failure_threshold": 15}},
    ),
    (
        "probe protocol switched",
        changed(
            startup_probe={
                "tcp": {"port": 7860.0},
                "initial_delay_seconds": 30.0,
                "period_seconds": 10.0,
                "failure_threshold": 20.0,
            }
        ),
        {
            "startup_probe": {
                "tcp": {"port": 7860},
                "initial_delay_seconds": 30,
                "period_seconds": 10,
                "timeout_seconds": 10,
                "success_threshold": 2,
                "failure_threshold": 20,
            }
        },
    ),
    ("probe removed", without("liveness_probe"), {"liveness_probe": None}),
    (
        "probe added",
        changed(readiness_probe={"http": {"path": "/ready", "port": 7860.0}}),
        {
            "readiness_probe": {
                "http": {"path": "/ready", "port": 7860, "scheme": "http", "headers": []},
                "initial_delay_seconds": 0,
                "period_seconds": 1,
                "timeout_seconds": 1,
                "success_threshold": 1,
                "failure_threshold": 3,
            }
        },
    ),
    ("gateway port", changed(gateway={"port": 8080.0, "auth": False}), {"networking": {"port": 8080}}),
    (
        "gateway port and auth",
        changed(gateway={"port": 8080.0, "auth": True}),
        {"networking": {"port": 8080}},
    ),
    ("gateway auth only", changed(gateway={"port": 7860.0, "auth": True}), {}),
    (
        "gateway load balancer",
        changed(gateway={"port": 7860.0, "auth": False, "load_balancer": "round_robin"}),
        {},
    ),
    ("gateway removed", without("gateway"), {}),
    ("name", changed(name="salad-sd-prod"), {}),
    ("organization and project", changed(organization="other", project="elsewhere"), {}),
    ("autostart", changed(autostart=False), {}),
    ("restart policy", changed(restart_policy="never"), {}),
    ("wait settings", changed(min_ready_replicas=1.0, ready_timeout_minutes=10.0), {}),
    ("adopt", changed(adopt=True), {}),
    ("floats against ints", normalize_inputs(A1111), {}),
    ("provider key only", changed(__provider="other-provider"), {}),
]


@pytest.mark.parametrize(
    ("new", "expected"), [case[1:] for case in PATCH_CASES], ids=[c[0] for c in PATCH_CASES]
)
def test_patch_body_carries_only_what_changed(new: dict[str, Any], expected: dict[str, Any]) -> None:
    assert patch_body(A1111, new, None) == expected


def test_patch_from_nothing_set_to_gateway_added_is_empty() -> None:
    assert patch_body(without("gateway"), A1111, None) == {}


@pytest.mark.parametrize(
    ("new", "_expected"), [case[1:] for case in PATCH_CASES], ids=[c[0] for c in PATCH_CASES]
)
def test_patch_body_uses_only_patchable_salad_fields(new: dict[str, Any], _expected: dict[str, Any]) -> None:
    patch = patch_body(A1111, new, [GPU_B])
    assert unknown_keys(patch, patch=True) == []
    assert floats_in(patch) == []


def test_patch_body_combines_several_changes() -> None:
    new = changed(replicas=1.0, image="repo/a1111:v2", cpu=8.0, display_name="SD v2")
    assert patch_body(A1111, new, None) == {
        "replicas": 1,
        "display_name": "SD v2",
        "container": {"image": "repo/a1111:v2", "resources": {"cpu": 8}},
    }


@pytest.mark.parametrize(
    ("old_extra", "new_overrides", "gpu_class_ids", "expected_gpu_classes"),
    [
        ({"gpu_class_ids": [GPU_A]}, {}, [GPU_A], None),
        ({"gpu_class_ids": [GPU_A]}, {}, [GPU_B], [GPU_B]),
        (
            {"gpu_class_ids": [GPU_A]},
            {"gpu_classes": ["RTX 3060", "RTX 3060 Ti"]},
            [GPU_B, GPU_A],
            [GPU_B, GPU_A],
        ),
        ({"gpu_class_ids": [GPU_A]}, {"gpu_classes": []}, [], []),
        ({"gpu_class_ids": [GPU_A]}, {"gpu_classes": ["RTX 3060"]}, None, None),
        ({}, {}, [GPU_A], None),
        ({}, {"gpu_classes": ["RTX 3060"]}, [GPU_B], [GPU_B]),
    ],
    ids=[
        "same ids",
        "ids changed",
        "class added",
        "gpus removed",
        "ids not given",
        "no record, same input",
        "no record, input changed",
    ],
)
def test_patch_body_gpu_classes(
    old_extra: dict[str, Any],
    new_overrides: dict[str, Any],
    gpu_class_ids: list[str] | None,
    expected_gpu_classes: list[str] | None,
) -> None:
    patch = patch_body({**A1111, **old_extra}, changed(**new_overrides), gpu_class_ids)
    if expected_gpu_classes is None:
        assert patch == {}
    else:
        assert patch == {"container": {"resources": {"gpu_classes": expected_gpu_classes}}}


def test_patch_body_gpu_change_joins_other_resource_changes() -> None:
    patch = patch_body({**A1111, "gpu_class_ids": [GPU_A]}, changed(memory=16384.0), [GPU_B])
    assert patch == {"container": {"resources": {"memory": 16384, "gpu_classes": [GPU_B]}}}


def test_patch_steps_is_one_body_unless_a_probe_switches_protocol() -> None:
    assert patch_steps(A1111, changed(replicas=5.0), None) == [{"replicas": 5}]
    assert patch_steps(A1111, A1111, None) == []


@pytest.mark.parametrize(
    ("old_protocol", "new_protocol"),
    [
        ({"http": {"path": "/ping", "port": 7860.0}}, {"tcp": {"port": 7860.0}}),
        ({"tcp": {"port": 7860.0}}, {"exec": {"command": ["true"]}}),
        ({"exec": {"command": ["true"]}}, {"grpc": {"port": 50051.0}}),
    ],
    ids=["http to tcp", "tcp to exec", "exec to grpc"],
)
def test_probe_protocol_switch_is_removed_then_set(
    old_protocol: dict[str, Any], new_protocol: dict[str, Any]
) -> None:
    old = changed(liveness_probe=old_protocol)
    new = changed(liveness_probe=new_protocol, replicas=5.0)
    first, second = patch_steps(old, new, None)
    assert first == {"replicas": 5, "liveness_probe": None}
    new_probe = create_body(new, [])["liveness_probe"]
    assert second == {"liveness_probe": new_probe}
    assert set(second["liveness_probe"]) & {"http", "tcp", "exec", "grpc"} == set(new_protocol)


def test_env_removal_patch_is_rfc_7386() -> None:
    assert env_removal_patch(["A", "B"]) == {"container": {"environment_variables": {"A": None, "B": None}}}


def nulls_outside_the_spec(body: Any, path: tuple[str, ...] = ()) -> list[str]:
    """Paths of `null` values the spec does not allow in a PATCH body."""
    nullable = {
        ("display_name",),
        ("replicas",),
        ("country_codes",),
        ("container",),
        ("container", "command"),
        ("container", "image"),
        ("container", "logging"),
        ("container", "priority"),
        ("container", "resources"),
        *(("container", "resources", key) for key in RESOURCES_KEYS),
        ("networking", "port"),
        ("liveness_probe",),
        ("readiness_probe",),
        ("startup_probe",),
    }
    if body is None:
        return [] if path in nullable else [".".join(path)]
    if isinstance(body, dict):
        return [found for key, value in body.items() for found in nulls_outside_the_spec(value, (*path, key))]
    return []


@pytest.mark.parametrize(
    ("new", "_expected"), [case[1:] for case in PATCH_CASES], ids=[c[0] for c in PATCH_CASES]
)
def test_patch_steps_put_null_only_where_the_spec_allows_it(new: dict[str, Any], _expected: Any) -> None:
    for step in patch_steps(A1111, new, [GPU_B]):
        assert nulls_outside_the_spec(step) == []
