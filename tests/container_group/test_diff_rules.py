from __future__ import annotations

import copy
from typing import Any

import pytest
from pulumi.output import Unknown

from components.container_group.diff_rules import diff_inputs
from components.container_group.validation import normalize_inputs

NEWS: dict[str, Any] = {
    "__provider": "serialized-provider",
    "name": "salad-sd-dev",
    "organization": "acme",
    "project": "image-gen",
    "image": "saladtechnologies/a1111:ipv6-latest",
    "replicas": 3,
    "cpu": 4,
    "memory": 12288,
    "gpu_classes": ["RTX 3060 Ti"],
    "environment_variables": {"CLI_ARGS": "--api"},
    "gateway": {"port": 7860, "auth": False},
    "startup_probe": {"http": {"path": "/internal/profile-startup", "port": 7860}},
}


def stored_outputs() -> dict[str, Any]:
    """What the engine hands diff as olds: normalized inputs plus outputs, numbers as floats."""

    def as_floats(value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return float(value)
        if isinstance(value, dict):
            return {key: as_floats(item) for key, item in value.items()}
        if isinstance(value, list):
            return [as_floats(item) for item in value]
        return value

    outputs = {
        **normalize_inputs(NEWS),
        "id": "group-uuid",
        "status": "running",
        "url": "https://x.salad.cloud",
        "dns": "x.salad.cloud",
        "version": 4,
        "ready_replicas": 3,
        "gpu_class_ids": ["uuid-a"],
    }
    return as_floats(outputs)


def news(**overrides: Any) -> dict[str, Any]:
    return {**copy.deepcopy(NEWS), **overrides}


def test_nothing_changed_despite_floats_outputs_and_provider_key() -> None:
    result = diff_inputs(stored_outputs(), news(__provider="a-different-pickle"))
    assert result.changed == []
    assert result.replaces == []
    assert result.delete_before_replace is False


def test_spelled_out_defaults_are_no_change() -> None:
    explicit = news(
        autostart=True,
        restart_policy="always",
        image_caching=True,
        min_ready_replicas=1,
        gateway={"port": 7860, "auth": False, "load_balancer": "least_number_of_connections"},
    )
    assert diff_inputs(stored_outputs(), explicit).changed == []


IN_PLACE = [
    ("display_name", "SD dev"),
    ("image", "saladtechnologies/a1111:v2"),
    ("replicas", 5),
    ("cpu", 8),
    ("memory", 16384),
    ("gpu_classes", ["RTX 4090"]),
    ("storage_gb", 50),
    ("shm_size", 1024),
    ("priority", "low"),
    ("country_codes", ["us"]),
    ("environment_variables", {"CLI_ARGS": "--api --xformers"}),
    ("command", ["python", "webui.py"]),
    ("image_caching", False),
    ("registry_authentication", {"basic": {"username": "u", "password": "p"}}),
    ("gateway", {"port": 8080, "auth": False}),
    ("startup_probe", {"http": {"path": "/internal/profile-startup", "port": 7860}, "failure_threshold": 20}),
    ("startup_probe", None),
    ("liveness_probe", {"tcp": {"port": 7860}}),
    ("readiness_probe", {"http": {"path": "/ready", "port": 7860}}),
    ("min_ready_replicas", 3),
    ("ready_timeout_minutes", 90),
    ("adopt", True),
]


@pytest.mark.parametrize(("key", "value"), IN_PLACE, ids=[f"{key}={value!r}"[:50] for key, value in IN_PLACE])
def test_in_place_changes(key: str, value: Any) -> None:
    result = diff_inputs(stored_outputs(), news(**{key: value}))
    assert result.changed == [key]
    assert result.replaces == []
    assert result.delete_before_replace is False


REPLACING = [
    # (id, overrides, delete before replace)
    ("name", {"name": "salad-sd-prod"}, False),
    ("organization", {"organization": "other-org"}, False),
    ("project", {"project": "other-project"}, False),
    ("autostart", {"autostart": False}, True),
    ("restart_policy", {"restart_policy": "on_failure"}, True),
    ("gateway off", {"gateway": None}, True),
    ("gateway auth", {"gateway": {"port": 7860, "auth": True}}, True),
    (
        "gateway load_balancer",
        {"gateway": {"port": 7860, "auth": False, "load_balancer": "round_robin"}},
        True,
    ),
    (
        "gateway single_connection_limit",
        {"gateway": {"port": 7860, "auth": False, "single_connection_limit": True}},
        True,
    ),
    (
        "gateway client timeout",
        {"gateway": {"port": 7860, "auth": False, "client_request_timeout_ms": 5000}},
        True,
    ),
    (
        "gateway server timeout",
        {"gateway": {"port": 7860, "auth": False, "server_response_timeout_ms": 5000}},
        True,
    ),
    ("gateway port and auth", {"gateway": {"port": 8080, "auth": True}}, True),
]


@pytest.mark.parametrize(
    ("overrides", "delete_first"), [c[1:] for c in REPLACING], ids=[c[0] for c in REPLACING]
)
def test_changes_salad_cannot_patch_replace(overrides: dict[str, Any], delete_first: bool) -> None:
    (key,) = overrides
    result = diff_inputs(stored_outputs(), news(**overrides))
    assert result.replaces == [key]
    assert key in result.changed
    assert result.delete_before_replace is delete_first


def test_gateway_turned_on_replaces() -> None:
    olds = {**stored_outputs(), "gateway": None}
    result = diff_inputs(olds, news())
    assert result.replaces == ["gateway"]
    assert result.delete_before_replace is True


def test_replace_with_a_new_name_keeps_the_old_group_until_the_new_one_exists() -> None:
    result = diff_inputs(stored_outputs(), news(name="salad-sd-v2", autostart=False))
    assert result.replaces == ["name", "autostart"]
    assert result.delete_before_replace is False


def test_same_name_in_another_project_does_not_collide() -> None:
    result = diff_inputs(stored_outputs(), news(project="staging", restart_policy="never"))
    assert result.delete_before_replace is False


@pytest.mark.parametrize(
    ("key", "replaces"),
    [
        ("image", False),
        ("replicas", False),
        ("environment_variables", False),
        ("registry_authentication", False),
        ("name", True),
        ("restart_policy", True),
        ("autostart", True),
        ("gateway", True),
    ],
)
def test_an_unknown_counts_as_changed(key: str, replaces: bool) -> None:
    result = diff_inputs(stored_outputs(), news(**{key: Unknown()}))
    assert result.changed == [key]
    assert result.replaces == ([key] if replaces else [])


@pytest.mark.parametrize(
    ("overrides", "replaces"),
    [
        ({"gateway": {"port": Unknown(), "auth": False}}, []),
        ({"gateway": {"port": 7860, "auth": Unknown()}}, ["gateway"]),
        ({"startup_probe": {"http": {"path": "/internal/profile-startup", "port": Unknown()}}}, []),
        ({"environment_variables": {"CLI_ARGS": Unknown()}}, []),
        ({"command": ["python", Unknown()]}, []),
    ],
)
def test_nested_unknowns_count_as_changed(overrides: dict[str, Any], replaces: list[str]) -> None:
    (key,) = overrides
    result = diff_inputs(stored_outputs(), news(**overrides))
    assert result.changed == [key]
    assert result.replaces == replaces


def test_an_unknown_name_might_collide_so_the_old_group_goes_first() -> None:
    result = diff_inputs(stored_outputs(), news(name=Unknown()))
    assert result.replaces == ["name"]
    assert result.delete_before_replace is True


def test_outputs_and_extra_keys_are_never_compared() -> None:
    result = diff_inputs(
        stored_outputs(),
        news(
            status="stopped", url="https://elsewhere", version=9, gpu_class_ids=["uuid-b"], something_else=1
        ),
    )
    assert result.changed == []


def test_several_changes_are_listed_in_property_order() -> None:
    result = diff_inputs(stored_outputs(), news(replicas=1, name="salad-sd-v2", image="repo/x:2"))
    assert result.changed == ["name", "image", "replicas"]
    assert result.replaces == ["name"]
