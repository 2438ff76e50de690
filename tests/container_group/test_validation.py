from __future__ import annotations

import copy
from typing import Any

import pytest
from pulumi.output import Unknown

from components.container_group.properties import INPUT_KEYS
from components.container_group.validation import Failure, check_inputs

MINIMAL: dict[str, Any] = {
    "name": "salad-sd-dev",
    "organization": "acme",
    "project": "image-gen",
    "image": "saladtechnologies/a1111:ipv6-latest",
    "cpu": 4,
    "memory": 12288,
}
HTTP_PROBE = {"http": {"path": "/internal/ping", "port": 7860}}


def check(**overrides: Any) -> tuple[dict[str, Any], list[Failure]]:
    return check_inputs({**copy.deepcopy(MINIMAL), **overrides})


def failures_for(**overrides: Any) -> dict[str, str]:
    """Each failing property with its reasons joined by ' | '."""
    reasons: dict[str, list[str]] = {}
    for failure in check(**overrides)[1]:
        reasons.setdefault(failure.property, []).append(failure.reason)
    return {prop: " | ".join(texts) for prop, texts in reasons.items()}


def test_minimal_inputs_pass() -> None:
    assert check()[1] == []


@pytest.mark.parametrize(
    ("key", "default"),
    [
        ("replicas", 1),
        ("gpu_classes", []),
        ("environment_variables", {}),
        ("image_caching", True),
        ("restart_policy", "always"),
        ("autostart", True),
        ("min_ready_replicas", 1),
        ("ready_timeout_minutes", 45),
        ("max_failures", 3),
        ("adopt", False),
    ],
)
def test_defaults_are_filled(key: str, default: Any) -> None:
    inputs, _ = check()
    assert inputs[key] == default


@pytest.mark.parametrize(
    "key",
    [
        "display_name",
        "storage_gb",
        "shm_size",
        "priority",
        "country_codes",
        "command",
        "registry_authentication",
        "gateway",
        "startup_probe",
        "liveness_probe",
        "readiness_probe",
    ],
)
def test_optional_inputs_without_default_stay_unset(key: str) -> None:
    inputs, _ = check()
    assert key not in inputs


def test_check_returns_every_input_property() -> None:
    inputs, _ = check()
    missing = [key for key in INPUT_KEYS if key not in inputs and key in MINIMAL]
    assert missing == []
    assert set(MINIMAL) <= set(inputs)


def test_provider_key_and_unknown_extra_keys_pass_through_untouched() -> None:
    extra = {"nested": [1.5, {"x": 2.0}]}
    inputs, failures = check(__provider="serialized-provider", something_else=extra)
    assert failures == []
    assert inputs["__provider"] == "serialized-provider"
    assert inputs["something_else"] is extra


def test_news_is_not_mutated() -> None:
    news = {**copy.deepcopy(MINIMAL), "replicas": 2.0, "gateway": {}}
    before = copy.deepcopy(news)
    check_inputs(news)
    assert news == before


def test_reallocation_minutes_keep_their_fraction() -> None:
    inputs, failures = check(reallocate_stuck_after_minutes=7.5)
    assert not failures and inputs["reallocate_stuck_after_minutes"] == 7.5


@pytest.mark.parametrize(
    ("key", "given", "expected"),
    [
        ("replicas", 2.0, 2),
        ("cpu", 8.0, 8),
        ("memory", 24576.0, 24576),
        ("storage_gb", 50.0, 50),
        ("ready_timeout_minutes", 90.0, 90),
        ("max_failures", 5.0, 5),
    ],
)
def test_integral_floats_become_ints(key: str, given: float, expected: int) -> None:
    inputs, failures = check(**{key: given})
    assert failures == []
    assert inputs[key] == expected
    assert type(inputs[key]) is int


def test_nested_integral_floats_become_ints() -> None:
    inputs, failures = check(
        gateway={"port": 7860.0, "client_request_timeout_ms": 5000.0},
        startup_probe={"http": {"path": "/", "port": 7860.0}, "failure_threshold": 20.0},
    )
    assert failures == []
    assert type(inputs["gateway"]["port"]) is int
    assert type(inputs["gateway"]["client_request_timeout_ms"]) is int
    assert type(inputs["startup_probe"]["failure_threshold"]) is int
    assert type(inputs["startup_probe"]["http"]["port"]) is int


def test_gateway_defaults() -> None:
    inputs, failures = check(gateway={})
    assert failures == []
    assert inputs["gateway"] == {
        "port": 7860,
        "auth": True,
        "load_balancer": "least_number_of_connections",
        "single_connection_limit": False,
        "client_request_timeout_ms": 100000,
        "server_response_timeout_ms": 100000,
    }


@pytest.mark.parametrize(
    ("probe_key", "defaults"),
    [
        ("startup_probe", (0, 3, 10, 2, 15)),
        ("liveness_probe", (0, 10, 30, 1, 3)),
        ("readiness_probe", (0, 1, 1, 1, 3)),
    ],
)
def test_probe_timings_default_to_salads_per_probe_values(probe_key: str, defaults: tuple[int, ...]) -> None:
    inputs, failures = check(**{probe_key: copy.deepcopy(HTTP_PROBE)})
    assert failures == []
    probe = inputs[probe_key]
    names = (
        "initial_delay_seconds",
        "period_seconds",
        "timeout_seconds",
        "success_threshold",
        "failure_threshold",
    )
    assert tuple(probe[name] for name in names) == defaults
    assert probe["http"] == {"path": "/internal/ping", "port": 7860, "scheme": "http", "headers": []}


def test_given_probe_timings_are_kept() -> None:
    inputs, _ = check(startup_probe={"tcp": {"port": 7860}, "period_seconds": 10, "failure_threshold": 20})
    assert inputs["startup_probe"]["period_seconds"] == 10
    assert inputs["startup_probe"]["failure_threshold"] == 20
    assert inputs["startup_probe"]["timeout_seconds"] == 10


@pytest.mark.parametrize(
    "overrides",
    [
        {"display_name": "Stable Diffusion, dev-1.5"},
        {"replicas": 0},
        {"replicas": 500},
        {"cpu": 16},
        {"memory": 1024},
        {"memory": 61440},
        {"storage_gb": 250},
        {"shm_size": 64},
        {"priority": "batch"},
        {"country_codes": ["us", "ca"]},
        {"environment_variables": {"CLI_ARGS": "--api --xformers"}},
        {"command": ["python", "-u", "webui.py"]},
        {"gpu_classes": ["RTX 3060 Ti", "ed563892-aacd-40f5-80b7-90c9be6c759b"]},
        {"restart_policy": "on_failure"},
        {"registry_authentication": {"docker_hub": {"username": "me", "personal_access_token": "pat"}}},
        {"gateway": {"port": 1, "load_balancer": "round_robin", "auth": False}},
        {"liveness_probe": {"grpc": {"port": 50051}}},
        {"readiness_probe": {"exec": {"command": ["cat", "/tmp/ready"]}}},
        {
            "startup_probe": {
                "http": {
                    "path": "/",
                    "port": 80,
                    "scheme": "https",
                    "headers": [{"name": "X-Probe", "value": "1"}],
                }
            }
        },
        {"min_ready_replicas": 0, "ready_timeout_minutes": 1440},
    ],
)
def test_valid_values_pass(overrides: dict[str, Any]) -> None:
    assert check(**overrides)[1] == []


REJECTIONS = [
    # (overrides, failing property, text the reason must contain)
    ({"name": "Salad_SD"}, "name", "2 to 63 characters of lower-case letters"),
    ({"name": "sd-"}, "name", "not ending in a hyphen"),
    ({"name": "1sd"}, "name", "starting with a letter"),
    ({"name": "s"}, "name", "2 to 63"),
    ({"name": "s" * 64}, "name", "2 to 63"),
    ({"organization": "Acme"}, "organization", "lower-case"),
    ({"project": "image_gen"}, "project", "lower-case"),
    ({"display_name": "x"}, "display_name", "2 to 63"),
    ({"display_name": "sd/dev"}, "display_name", "letters, digits, spaces"),
    ({"image": ""}, "image", "1 to 1024 characters"),
    ({"image": "i" * 1025}, "image", "1 to 1024 characters"),
    ({"replicas": 600}, "replicas", "replicas must be an integer between 0 and 500, got 600"),
    ({"replicas": -1}, "replicas", "between 0 and 500, got -1"),
    ({"replicas": 2.5}, "replicas", "between 0 and 500, got 2.5"),
    ({"replicas": True}, "replicas", "must be an integer"),
    ({"replicas": "3"}, "replicas", "must be an integer"),
    ({"cpu": 0}, "cpu", "between 1 and 16"),
    ({"cpu": 32}, "cpu", "the API spec allows up to 1024"),
    ({"memory": 1023}, "memory", "between 1024 and 61440"),
    ({"memory": 61441}, "memory", "between 1024 and 61440"),
    ({"gpu_classes": "RTX 4090"}, "gpu_classes", "must be a list"),
    ({"gpu_classes": ["x"] * 101}, "gpu_classes", "between 0 and 100 items, got 101"),
    ({"gpu_classes": [""]}, "gpu_classes[0]", "1 to 63 characters"),
    ({"storage_gb": 0}, "storage_gb", "between 1 and 250"),
    ({"storage_gb": 251}, "storage_gb", "between 1 and 250"),
    ({"shm_size": 63}, "shm_size", "between 64 and"),
    ({"priority": "urgent"}, "priority", "one of high, medium, low, batch"),
    ({"country_codes": ["US"]}, "country_codes[0]", "use lower case: 'us'"),
    ({"country_codes": ["uk"]}, "country_codes[0]", "ISO 3166-1 alpha-2"),
    ({"country_codes": []}, "country_codes", "between 1 and 500 items"),
    ({"environment_variables": {"A": ""}}, "environment_variables.A", "1 to 1000 characters"),
    ({"environment_variables": {"A": "v" * 1001}}, "environment_variables.A", "1 to 1000 characters"),
    ({"environment_variables": {"PORT": 7860.0}}, "environment_variables.PORT", "must be a string"),
    ({"environment_variables": {"": "v"}}, "environment_variables", "keys must be non-empty strings"),
    ({"environment_variables": ["A=b"]}, "environment_variables", "map of strings to strings"),
    ({"command": []}, "command", "between 1 and 100 items"),
    ({"command": ["x"] * 101}, "command", "between 1 and 100 items"),
    ({"command": ["python", ""]}, "command[1]", "1 to 1000 characters"),
    ({"command": "python app.py"}, "command", "must be a list"),
    ({"image_caching": "yes"}, "image_caching", "true or false"),
    ({"registry_authentication": {}}, "registry_authentication", "exactly one of basic, docker_hub"),
    (
        {
            "registry_authentication": {
                "basic": {"username": "u", "password": "p"},
                "gcp_gar": {"service_key": "k"},
            }
        },
        "registry_authentication",
        "got basic, gcp_gar",
    ),
    (
        {"registry_authentication": {"basic": {"username": "u"}}},
        "registry_authentication.basic.password",
        "is required",
    ),
    (
        {"registry_authentication": {"quay": {"token": "t"}}},
        "registry_authentication",
        "unexpected key 'quay'",
    ),
    ({"restart_policy": "sometimes"}, "restart_policy", "one of always, on_failure, never"),
    ({"autostart": "true"}, "autostart", "true or false"),
    ({"gateway": {"port": 0}}, "gateway.port", "between 1 and 65535"),
    ({"gateway": {"port": 65536}}, "gateway.port", "between 1 and 65535"),
    ({"gateway": {"auth": "yes"}}, "gateway.auth", "true or false"),
    (
        {"gateway": {"load_balancer": "random"}},
        "gateway.load_balancer",
        "round_robin, least_number_of_connections",
    ),
    ({"gateway": {"single_connection_limit": 1}}, "gateway.single_connection_limit", "true or false"),
    (
        {"gateway": {"client_request_timeout_ms": 100001}},
        "gateway.client_request_timeout_ms",
        "between 1 and 100000",
    ),
    (
        {"gateway": {"server_response_timeout_ms": 0}},
        "gateway.server_response_timeout_ms",
        "between 1 and 100000",
    ),
    ({"gateway": {"protocol": "http"}}, "gateway", "unexpected key 'protocol'"),
    ({"gateway": True}, "gateway", "must be an object"),
    ({"min_ready_replicas": -1}, "min_ready_replicas", "between 0 and 500"),
    ({"ready_timeout_minutes": 0}, "ready_timeout_minutes", "between 1 and 1440"),
    ({"ready_timeout_minutes": 1441}, "ready_timeout_minutes", "between 1 and 1440"),
    ({"max_failures": 0}, "max_failures", "integer between 1 and 100"),
    ({"max_failures": 2.5}, "max_failures", "integer between 1 and 100"),
    (
        {"reallocate_stuck_after_minutes": 0.05},
        "reallocate_stuck_after_minutes",
        "between 0.1 and 1440 minutes",
    ),
    ({"reallocate_stuck_after_minutes": float("nan")}, "reallocate_stuck_after_minutes", "number between"),
    ({"reallocate_stuck_after_minutes": True}, "reallocate_stuck_after_minutes", "number between"),
    ({"adopt": "no"}, "adopt", "true or false"),
]


@pytest.mark.parametrize(("overrides", "prop", "text"), REJECTIONS)
def test_invalid_values_fail_naming_property_and_allowed_values(
    overrides: dict[str, Any], prop: str, text: str
) -> None:
    failures = failures_for(**overrides)
    assert prop in failures, failures
    assert text in failures[prop]
    assert failures[prop].startswith(prop)


PROBE_REJECTIONS = [
    ({"failure_threshold": 50}, "failure_threshold", "between 1 and 20, got 50"),
    ({"failure_threshold": 0}, "failure_threshold", "between 1 and 20, got 0"),
    ({"initial_delay_seconds": 1201}, "initial_delay_seconds", "between 0 and 1200"),
    ({"period_seconds": 0}, "period_seconds", "between 1 and 120"),
    ({"period_seconds": 121}, "period_seconds", "between 1 and 120"),
    ({"timeout_seconds": 61}, "timeout_seconds", "between 1 and 60"),
    ({"success_threshold": 11}, "success_threshold", "between 1 and 10"),
    ({"success_threshold": 1.5}, "success_threshold", "got 1.5"),
    ({"http": None}, "", "exactly one of http, tcp, grpc, exec; got none"),
    ({"tcp": {"port": 7860}}, "", "got http, tcp"),
    ({"http": {"port": 7860}}, "http.path", "is required"),
    ({"http": {"path": "/", "port": 7860, "scheme": "ftp"}}, "http.scheme", "one of http, https"),
    (
        {"http": {"path": "/", "port": 7860, "headers": [{"name": "", "value": "v"}]}},
        "http.headers[0].name",
        "1 to 256 characters",
    ),
    ({"http": None, "tcp": {"port": 70000}}, "tcp.port", "between 1 and 65535"),
    ({"http": None, "exec": {"command": []}}, "exec.command", "between 1 and 100 items"),
    ({"http": None, "grpc": {"service": "health"}}, "grpc.port", "is required"),
    ({"retries": 3}, "", "unexpected key 'retries'"),
]


@pytest.mark.parametrize("probe_key", ["startup_probe", "liveness_probe", "readiness_probe"])
@pytest.mark.parametrize(("probe_overrides", "sub_path", "text"), PROBE_REJECTIONS)
def test_invalid_probes_fail_with_the_probe_path(
    probe_key: str, probe_overrides: dict[str, Any], sub_path: str, text: str
) -> None:
    probe = {**copy.deepcopy(HTTP_PROBE), **probe_overrides}
    failures = failures_for(**{probe_key: probe})
    prop = f"{probe_key}.{sub_path}" if sub_path else probe_key
    assert prop in failures, failures
    assert text in failures[prop]


@pytest.mark.parametrize("missing", ["name", "organization", "project", "image", "cpu", "memory"])
def test_required_inputs(missing: str) -> None:
    news = {key: value for key, value in MINIMAL.items() if key != missing}
    _, failures = check_inputs(news)
    assert Failure(missing, f"{missing} is required") in failures


def test_required_input_given_as_none_is_missing() -> None:
    assert failures_for(image=None)["image"] == "image is required"


def test_every_failure_is_reported_at_once() -> None:
    failures = failures_for(
        replicas=600, cpu=0, gateway={"port": 0}, startup_probe={"tcp": {"port": 1}, "failure_threshold": 50}
    )
    assert set(failures) == {"replicas", "cpu", "gateway.port", "startup_probe.failure_threshold"}


@pytest.mark.parametrize(
    "registry_authentication",
    [
        {"basic": {"username": "deploy-bot", "password": "hunter2" * 2000}},
        {"basic": {"username": "deploy-bot", "password": ["hunter2"]}},
        {"basic": "deploy-bot:hunter2"},
        {"aws_ecr": {"access_key_id": "AKIAhunter2", "secret_access_key": ""}, "basic": None},
    ],
)
def test_credentials_are_never_echoed(registry_authentication: dict[str, Any]) -> None:
    _, failures = check(registry_authentication=registry_authentication)
    assert failures
    for failure in failures:
        assert "hunter2" not in failure.reason


@pytest.mark.parametrize(
    "key",
    [
        "name",
        "image",
        "replicas",
        "cpu",
        "gpu_classes",
        "environment_variables",
        "command",
        "gateway",
        "startup_probe",
        "registry_authentication",
        "country_codes",
        "autostart",
    ],
)
def test_unknown_values_are_tolerated_and_returned_as_is(key: str) -> None:
    unknown = Unknown()
    inputs, failures = check(**{key: unknown})
    assert failures == []
    assert inputs[key] is unknown


def test_nested_unknowns_are_kept_and_the_rest_is_still_normalized() -> None:
    port, secret, value, item = Unknown(), Unknown(), Unknown(), Unknown()
    inputs, failures = check(
        startup_probe={"http": {"path": "/", "port": port}, "failure_threshold": 20.0},
        registry_authentication={"basic": {"username": "u", "password": secret}},
        environment_variables={"TOKEN": value, "MODE": "api"},
        command=["python", item],
        gateway={"port": Unknown()},
    )
    assert failures == []
    assert inputs["startup_probe"]["http"]["port"] is port
    assert inputs["startup_probe"]["http"]["scheme"] == "http"
    assert inputs["startup_probe"]["failure_threshold"] == 20
    assert inputs["startup_probe"]["period_seconds"] == 3
    assert inputs["registry_authentication"]["basic"]["password"] is secret
    assert inputs["environment_variables"]["TOKEN"] is value
    assert inputs["command"][1] is item
    assert inputs["gateway"]["auth"] is True


def test_known_siblings_of_an_unknown_are_still_validated() -> None:
    failures = failures_for(gateway={"port": Unknown(), "load_balancer": "random"})
    assert set(failures) == {"gateway.load_balancer"}


def test_an_unknown_probe_protocol_counts_as_the_chosen_one() -> None:
    assert failures_for(liveness_probe={"tcp": Unknown()}) == {}
