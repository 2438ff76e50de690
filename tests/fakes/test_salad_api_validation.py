"""Create/PATCH body validation by Salad's rules (table-driven), over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.salad_api import SaladEmulator
from tests.fakes.salad_catalog import gpu_class_id
from tests.fakes.salad_testkit import DELETE, ORG, PROJECT, Api, mutated, valid_body

Json = Any


@pytest.fixture(scope="module")
def emu() -> Iterator[SaladEmulator]:
    with SaladEmulator() as e:
        yield e


@pytest.fixture
def api(emu: SaladEmulator) -> Iterator[Api]:
    a = Api(emu)
    yield a
    for name in ("sd", "other"):
        if a.get(name).status_code == 200:
            emu.delete_out_of_band(ORG, PROJECT, name)


BASE = valid_body()
TCP = {"port": 7860}

# (id, path, value, expected text in `detail`)
CREATE_CASES: list[tuple[str, str, Json, str]] = [
    # required fields
    ("missing-name", "name", DELETE, "name is required"),
    ("missing-container", "container", DELETE, "container is required"),
    ("missing-image", "container.image", DELETE, "container.image is required"),
    ("missing-resources", "container.resources", DELETE, "container.resources is required"),
    ("missing-cpu", "container.resources.cpu", DELETE, "container.resources.cpu is required"),
    ("missing-memory", "container.resources.memory", DELETE, "container.resources.memory is required"),
    ("missing-autostart", "autostart_policy", DELETE, "autostart_policy is required"),
    ("missing-replicas", "replicas", DELETE, "replicas is required"),
    ("missing-restart-policy", "restart_policy", DELETE, "restart_policy is required"),
    (
        "missing-probe-timing",
        "startup_probe.period_seconds",
        DELETE,
        "startup_probe.period_seconds is required",
    ),
    ("missing-probe-scheme", "liveness_probe.http.scheme", DELETE, "liveness_probe.http.scheme is required"),
    ("missing-networking-auth", "networking.auth", DELETE, "networking.auth is required"),
    # name / display_name patterns
    ("name-uppercase", "name", "Stable-Diffusion", "name must match the pattern"),
    ("name-underscore", "name", "sd_1", "name must match the pattern"),
    ("name-leading-digit", "name", "1sd", "name must match the pattern"),
    ("name-trailing-hyphen", "name", "sd-", "name must match the pattern"),
    ("name-too-short", "name", "s", "name must be between 2 and 63 characters long"),
    ("name-too-long", "name", "s" * 64, "name must be between 2 and 63 characters long"),
    ("display-name-bad-char", "display_name", "SD (prod)!", "display_name must match the pattern"),
    ("display-name-too-short", "display_name", "x", "display_name must be between 2 and 63"),
    # ranges
    ("replicas-negative", "replicas", -1, "replicas must be between 0 and 500"),
    ("replicas-too-many", "replicas", 501, "replicas must be between 0 and 500"),
    ("cpu-zero", "container.resources.cpu", 0, "container.resources.cpu must be between 1 and 1024"),
    ("cpu-too-many", "container.resources.cpu", 1025, "container.resources.cpu must be between 1 and 1024"),
    (
        "memory-too-small",
        "container.resources.memory",
        1023,
        "container.resources.memory must be between 1024",
    ),
    ("storage-too-small", "container.resources.storage_amount", 1073741823, "storage_amount must be between"),
    ("shm-too-small", "container.resources.shm_size", 63, "container.resources.shm_size must be between 64"),
    ("port-zero", "networking.port", 0, "networking.port must be between 1 and 65535"),
    ("port-too-big", "networking.port", 65536, "networking.port must be between 1 and 65535"),
    (
        "client-timeout-zero",
        "networking.client_request_timeout",
        0,
        "client_request_timeout must be between 1",
    ),
    ("server-timeout-big", "networking.server_response_timeout", 100001, "must be between 1 and 100000"),
    (
        "failure-threshold-21",
        "startup_probe.failure_threshold",
        21,
        "failure_threshold must be between 1 and 20",
    ),
    (
        "failure-threshold-0",
        "liveness_probe.failure_threshold",
        0,
        "failure_threshold must be between 1 and 20",
    ),
    ("period-121", "liveness_probe.period_seconds", 121, "period_seconds must be between 1 and 120"),
    ("timeout-61", "liveness_probe.timeout_seconds", 61, "timeout_seconds must be between 1 and 60"),
    ("success-11", "liveness_probe.success_threshold", 11, "success_threshold must be between 1 and 10"),
    ("initial-delay-1201", "startup_probe.initial_delay_seconds", 1201, "must be between 0 and 1200"),
    (
        "probe-port-65537",
        "startup_probe.http.port",
        65537,
        "startup_probe.http.port must be between 0 and 65536",
    ),
    # JSON types: integers must be integers, booleans booleans
    ("replicas-float", "replicas", 2.0, "replicas must be an integer, not number"),
    ("cpu-float", "container.resources.cpu", 4.0, "container.resources.cpu must be an integer"),
    ("port-float", "networking.port", 7860.0, "networking.port must be an integer"),
    ("period-float", "startup_probe.period_seconds", 10.0, "startup_probe.period_seconds must be an integer"),
    ("replicas-string", "replicas", "2", "replicas must be an integer, not string"),
    ("replicas-bool", "replicas", True, "replicas must be an integer, not boolean"),
    ("autostart-string", "autostart_policy", "true", "autostart_policy must be a boolean, not string"),
    ("autostart-int", "autostart_policy", 1, "autostart_policy must be a boolean, not integer"),
    ("auth-string", "networking.auth", "false", "networking.auth must be a boolean"),
    ("display-name-null", "display_name", None, "display_name must be a string, not null"),
    ("country-codes-null", "country_codes", None, "country_codes must be an array, not null"),
    ("env-not-object", "container.environment_variables", ["A=1"], "environment_variables must be an object"),
    # enums
    (
        "restart-policy",
        "restart_policy",
        "sometimes",
        "restart_policy must be one of always, never, on_failure",
    ),
    (
        "priority",
        "container.priority",
        "urgent",
        "container.priority must be one of batch, high, low, medium",
    ),
    ("load-balancer", "networking.load_balancer", "random", "networking.load_balancer must be one of"),
    ("protocol", "networking.protocol", "https", "networking.protocol must be one of http"),
    (
        "probe-scheme",
        "startup_probe.http.scheme",
        "ftp",
        "startup_probe.http.scheme must be one of http, https",
    ),
    # unknown fields, anywhere
    ("unknown-top", "foo", 1, "foo is not a known field"),
    (
        "top-level-priority",
        "priority",
        "high",
        "priority is not a known field (priority belongs under container",
    ),
    ("unknown-container", "container.ports", [7860], "container.ports is not a known field"),
    (
        "unknown-resources",
        "container.resources.gpu_class",
        "x",
        "container.resources.gpu_class is not a known",
    ),
    ("dns-on-create", "networking.dns", "a.salad.cloud", "networking.dns is not a known field"),
    ("unknown-probe", "liveness_probe.enabled", True, "liveness_probe.enabled is not a known field"),
    # country codes
    ("country-upper", "country_codes", ["US"], "country_codes[0] must be a lower-case ISO 3166-1 alpha-2"),
    ("country-alpha3", "country_codes", ["usa"], "country_codes[0] must be a lower-case ISO 3166-1 alpha-2"),
    ("country-unknown", "country_codes", ["zz"], "country_codes[0] must be a lower-case"),
    ("country-empty", "country_codes", [], "country_codes must have between 1 and 500 items"),
    # GPU classes
    (
        "gpu-unknown-uuid",
        "container.resources.gpu_classes",
        [gpu_class_id("Voodoo 2")],
        "not a known GPU class",
    ),
    (
        "gpu-name-not-uuid",
        "container.resources.gpu_classes",
        ["RTX 4090 (24 GB)"],
        "must be a GPU class UUID",
    ),
    # strings
    (
        "env-empty-value",
        "container.environment_variables",
        {"A": ""},
        "environment_variables.A must be between 1",
    ),
    ("env-long-value", "container.environment_variables", {"A": "x" * 1001}, "between 1 and 1000 characters"),
    (
        "env-number-value",
        "container.environment_variables",
        {"A": 1},
        "environment_variables.A must be a string",
    ),
    ("command-empty-item", "container.command", ["python", ""], "container.command[1] must be between 1"),
    ("image-empty", "container.image", "", "container.image must be between 1 and 2048"),
    # exactly one of …
    (
        "two-probe-protocols",
        "startup_probe.tcp",
        TCP,
        "startup_probe must have exactly one of http, tcp, grpc, exec",
    ),
    ("null-probe-protocol", "startup_probe.http", None, "startup_probe.http must be an object, not null"),
    ("no-probe-protocol", "liveness_probe.http", DELETE, "liveness_probe must have exactly one of"),
    (
        "two-logging-providers",
        "container.logging",
        {"splunk": {"host": "h", "token": "t"}, "tcp": {"host": "h", "port": 1}},
        "container.logging must have exactly one of",
    ),
    (
        "empty-registry-creds",
        "container.registry_authentication",
        {},
        "registry_authentication must have exactly one",
    ),
]


@pytest.mark.parametrize(
    ("path", "value", "expected"), [c[1:] for c in CREATE_CASES], ids=[c[0] for c in CREATE_CASES]
)
def test_create_rejects(api: Api, path: str, value: Json, expected: str) -> None:
    r = api.create(mutated(BASE, path, value))
    assert r.status_code == 400, r.text
    assert r.headers["Content-Type"] == "application/json"
    problem = r.json()
    assert problem["status"] == 400 and problem["type"] == "about:blank" and problem["title"]
    assert expected in problem["detail"]
    assert api.session.get(api.url()).json()["items"] == []  # nothing was created


def test_valid_body_is_accepted(api: Api) -> None:
    assert api.create(BASE).status_code == 201


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("startup_probe", None),
        ("container.command", None),
        ("container.priority", None),
        ("liveness_probe.http.headers", [{"name": "X-Probe", "value": "1"}]),
        (
            "container.registry_authentication",
            {"docker_hub": {"username": "u", "personal_access_token": "t"}},
        ),
        ("country_codes", ["us", "ca", "de"]),
        ("replicas", 0),
        ("scaling-actions", [{"schedule": "0 8 * * 1-5", "replicas": 3}]),
        ("container.resources.gpu_classes", [gpu_class_id("RTX 4090 (24 GB)").upper()]),
    ],
)
def test_create_accepts_edge_values(api: Api, path: str, value: Json) -> None:
    r = api.create(mutated(BASE, path, value))
    assert r.status_code == 201, r.text


def test_all_problems_are_reported_together(api: Api) -> None:
    body = mutated(mutated(mutated(BASE, "replicas", 2.0), "name", "Bad"), "container.resources.cpu", 0)
    detail = api.create(body).json()["detail"]
    assert "replicas must be an integer" in detail
    assert "name must match the pattern" in detail
    assert "container.resources.cpu must be between 1 and 1024" in detail


def test_create_requires_a_json_body(api: Api) -> None:
    r = api.session.post(api.url(), data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["detail"]
    r = api.session.post(api.url(), json=[BASE])
    assert r.status_code == 400 and "must be a JSON object" in r.json()["detail"]
    r = api.session.post(
        api.url(), data=b"name=sd", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code == 415


def test_duplicate_name_is_a_name_conflict(api: Api) -> None:
    assert api.create(BASE).status_code == 201
    r = api.create(mutated(BASE, "display_name", "Another one"))
    assert r.status_code == 400
    assert r.json()["type"] == "name_conflict" and r.json()["status"] == 400
    assert api.group("sd")["display_name"] == "Stable Diffusion"  # the first one is untouched


def test_same_name_in_another_project_is_fine(api: Api) -> None:
    assert api.create(BASE).status_code == 201
    r = api.session.post(api.url(project="prod-env"), json=BASE)
    assert r.status_code == 201
    api.emu.delete_out_of_band(ORG, "prod-env", "sd")


# --- PATCH ---------------------------------------------------------------------------------------------

# (id, body, expected text in `detail`)
PATCH_CASES: list[tuple[str, Json, str]] = [
    ("name", {"name": "other"}, "name cannot be changed after creation (not patchable)"),
    ("autostart", {"autostart_policy": False}, "autostart_policy cannot be changed"),
    ("restart-policy", {"restart_policy": "never"}, "restart_policy cannot be changed"),
    ("queue-connection", {"queue_connection": None}, "queue_connection cannot be changed"),
    ("networking-auth", {"networking": {"auth": True}}, "networking.auth cannot be changed"),
    ("networking-protocol", {"networking": {"protocol": "http"}}, "networking.protocol cannot be changed"),
    (
        "networking-lb",
        {"networking": {"load_balancer": "round_robin"}},
        "networking.load_balancer cannot be changed",
    ),
    (
        "networking-timeout",
        {"networking": {"client_request_timeout": 5}},
        "client_request_timeout cannot be changed",
    ),
    ("networking-removed", {"networking": None}, "networking must be an object, not null"),
    ("echoed-version", {"version": 2}, "version cannot be changed"),
    ("top-level-priority", {"priority": "low"}, "priority is not a known field"),
    ("unknown", {"container": {"imagee": "x"}}, "container.imagee is not a known field"),
    ("replicas-float", {"replicas": 3.0}, "replicas must be an integer, not number"),
    ("replicas-range", {"replicas": 501}, "replicas must be between 0 and 500"),
    (
        "cpu-range",
        {"container": {"resources": {"cpu": 0}}},
        "container.resources.cpu must be between 1 and 1024",
    ),
    ("display-name", {"display_name": "bad!"}, "display_name must match the pattern"),
    (
        "env-empty",
        {"container": {"environment_variables": {"A": ""}}},
        "environment_variables.A must be between",
    ),
    ("image-deleted", {"container": {"image": None}}, "container.image is required"),
    ("replicas-deleted", {"replicas": None}, "replicas is required"),
    ("probe-two-protocols", {"startup_probe": {"tcp": TCP}}, "startup_probe must have exactly one of"),
    (
        "probe-range",
        {"liveness_probe": {"failure_threshold": 50}},
        "failure_threshold must be between 1 and 20",
    ),
    ("country-upper", {"country_codes": ["US"]}, "country_codes[0] must be a lower-case"),
    ("gpu-unknown", {"container": {"resources": {"gpu_classes": ["nope"]}}}, "must be a GPU class UUID"),
    ("not-object", [{"replicas": 1}], "request body must be a JSON object"),
]


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in PATCH_CASES], ids=[c[0] for c in PATCH_CASES])
def test_patch_rejects(api: Api, body: Json, expected: str) -> None:
    created = api.create(BASE).json()
    r = api.patch("sd", body)
    assert r.status_code == 400, r.text
    assert expected in r.json()["detail"]
    after = api.group("sd")
    assert after["version"] == created["version"] and after["replicas"] == created["replicas"]
    after["container"].pop("hash", None)  # appears once the image is prepared
    assert after["container"] == created["container"]


def test_patch_adding_networking_is_rejected(api: Api) -> None:
    api.create(mutated(BASE, "networking", DELETE))
    r = api.patch("sd", {"networking": {"port": 8080}})
    assert r.status_code == 400 and "networking cannot be added" in r.json()["detail"]


@pytest.mark.parametrize("content_type", ["application/json", None, "text/plain"])
def test_patch_requires_merge_patch_content_type(api: Api, content_type: str | None) -> None:
    api.create(BASE)
    r = api.patch("sd", {"replicas": 3}, content_type=content_type)
    assert r.status_code == 415 and r.headers["Content-Type"] == "application/json"
    assert "application/merge-patch+json" in r.json()["detail"]
    assert api.group("sd")["replicas"] == 2


def test_patch_content_type_may_carry_parameters(api: Api) -> None:
    api.create(BASE)
    r = api.patch("sd", {"replicas": 3}, content_type="application/merge-patch+json; charset=utf-8")
    assert r.status_code == 200 and r.json()["replicas"] == 3


def test_patch_of_missing_group_is_404(api: Api) -> None:
    r = api.patch("nope", {"replicas": 1})
    assert r.status_code == 404 and r.json()["status"] == 404


def test_reject_edits_while_pending_knob(api: Api) -> None:
    api.emu.reject_edits_while_pending(True)
    try:
        api.create(BASE)
        r = api.patch("sd", {"replicas": 3})
        assert r.status_code == 400 and "being prepared" in r.json()["detail"]
    finally:
        api.emu.reject_edits_while_pending(False)
