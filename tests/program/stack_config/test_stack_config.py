"""The stack-config loader: the checked-in stacks, defaults, and a table of invalid configs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.model_image.extensions import ExtensionSpec
from components.model_image.models import ModelSpec
from components.model_image.queue_worker import QueueWorkerSpec
from components.program.stack_config import (
    PROBE_DEFAULTS,
    ConfigError,
    StackConfig,
    load_stack_config,
)
from components.program.stack_config.deployment import build_deployment
from components.program.stack_config.keys import config_key
from components.program.stack_config.problems import Problems
from tests.paths import REPO_ROOT, STACK_FILES
from tests.program.stack_files import with_worker_checksum

SECRET = "hunter2-registry-password-DO-NOT-ECHO"
API_KEY = "salad-api-key-DO-NOT-STORE"

SALAD: dict[str, Any] = {"organization": "acme", "project": "image-gen", "apiKey": API_KEY}
IMAGE: dict[str, Any] = {
    "repository": "registry.example.com/team/salad-sd",
    "models": [{"file": "sd15.safetensors", "kind": "checkpoint"}],
    "queueWorker": {"url": "https://example.com/salad-http-job-queue-worker.tar.gz", "sha256": "c" * 64},
}
COMMIT = "3e0a8cd2ad2d2c3e4b3b6d11f37e6d1ef0b9d1a2"
SHA = "879db523c30d3b9017143d56705015e15a2cb5628762c11d086fed9538abd7fd"


_UNSET: Any = object()


def load(
    *, stack: str = "dev", salad: Any = _UNSET, image: Any = _UNSET, deployment: Any = None
) -> StackConfig:
    """load_stack_config with a valid salad/image unless given (None is passed through as unset)."""
    return load_stack_config(
        stack=stack,
        salad=copy.deepcopy(SALAD) if salad is _UNSET else salad,
        image=copy.deepcopy(IMAGE) if image is _UNSET else image,
        deployment=deployment,
    )


def problems_of(**kwargs: Any) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as caught:
        load(**kwargs)
    return caught.value.problems


def stack_file(path: Path) -> tuple[str, dict[str, Any], Any, Any]:
    """(stack, salad:* values, salad-sd:image, salad-sd:deployment) of a Pulumi.<stack>.yaml."""
    config = yaml.safe_load(path.read_text())["config"]
    salad = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("salad:")}
    project = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("salad-sd:")}
    assert set(project) <= {"image", "deployment"}, f"unexpected salad-sd keys in {path.name}"
    return path.name.split(".")[1], salad, project.get("image"), project.get("deployment")


def load_stack_file(path: Path) -> StackConfig:
    """load_stack_config of a Pulumi.<stack>.yaml, as the program loads it once the user has filled in the
    queue worker's placeholder sha256."""
    stack, salad, image, deployment = stack_file(path)
    image = with_worker_checksum(image)
    return load_stack_config(stack=stack, salad=salad, image=image, deployment=deployment)


# --- the checked-in stacks ------------------------------------------------------------------------------


def test_both_stacks_are_checked_in() -> None:
    assert {p.name for p in STACK_FILES} >= {"Pulumi.dev.yaml", "Pulumi.prod.yaml"}


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda p: p.name)
def test_stack_file_loads_and_holds_no_secret(path: Path) -> None:
    text = path.read_text()
    assert "encryptionsalt" not in text and "secure:" not in text
    assert "apiKey" not in text and "password" not in text, path.name
    assert "apiKey" not in stack_file(path)[1]
    config = load_stack_file(path)
    assert config.organization == "my-org" and config.project == "my-project"
    assert config.image.builds
    assert config.image.models[0] == ModelSpec(
        file="dreamshaper_8.safetensors",
        kind="checkpoint",
        url="https://civitai.com/api/download/models/128713?type=Model&format=SafeTensor&size=pruned&fp=fp16",
        sha256=SHA,
    )
    assert "image" not in config.container_group_inputs


def test_dev_stack_is_one_cheap_replica() -> None:
    config = load_stack_file(REPO_ROOT / "Pulumi.dev.yaml")
    inputs = config.container_group_inputs
    assert inputs["name"] == "salad-sd-dev"
    assert inputs["replicas"] == 1
    assert inputs["priority"] in ("batch", "low")
    assert (config.smoke_test, config.protect) == (False, False)


def test_prod_stack_is_three_protected_smoke_tested_replicas() -> None:
    config = load_stack_file(REPO_ROOT / "Pulumi.prod.yaml")
    inputs = config.container_group_inputs
    assert inputs["name"] == "salad-sd-prod"
    assert (inputs["replicas"], inputs["priority"]) == (3, "high")
    assert (config.smoke_test, config.protect) == (True, True)


def test_project_file_declares_the_project_keys() -> None:
    project = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "salad-sd"
    assert project["runtime"]["name"] == "python"
    declared = project["config"]
    assert set(declared) == {"image", "deployment"}
    assert all(entry["description"] for entry in declared.values())
    # Pulumi refuses a type (or default) on another namespace's key, and has no object type.
    assert all("type" not in entry for entry in declared.values())


# --- defaults --------------------------------------------------------------------------------------------


def test_defaults_follow_the_a1111_seed() -> None:
    config = load()
    inputs = config.container_group_inputs
    assert inputs["name"] == "salad-sd-dev"
    assert (inputs["organization"], inputs["project"]) == ("acme", "image-gen")
    assert (inputs["replicas"], inputs["cpu"], inputs["memory"]) == (3, 4, 12288)
    assert inputs["gpu_classes"] == ["RTX 3060 Ti"]
    assert (inputs["gateway"]["port"], inputs["gateway"]["auth"]) == (7860, True)
    assert inputs["environment_variables"] == {}
    assert (inputs["min_ready_replicas"], inputs["ready_timeout_minutes"], inputs["adopt"]) == (1, 45, False)
    assert inputs["max_failures"] == 3 and "reallocate_stuck_after_minutes" not in inputs
    assert "readiness_probe" not in inputs
    for key in ("storage_gb", "priority", "country_codes", "display_name"):
        assert key not in inputs
    assert (config.smoke_test, config.protect) == (False, False)


def test_default_probes_are_http_on_7860_and_leave_time_to_load_the_model() -> None:
    inputs = load().container_group_inputs
    startup, liveness = inputs["startup_probe"], inputs["liveness_probe"]
    assert startup["http"]["path"] == "/internal/profile-startup"
    assert liveness["http"]["path"] == "/internal/ping"
    # The slowest justified SD 1.5 start is about 7 minutes (see the deployment module's docstring).
    assert startup["initial_delay_seconds"] + startup["period_seconds"] * startup["failure_threshold"] >= 660
    assert startup["http"]["port"] == liveness["http"]["port"] == 7860
    budget = startup["initial_delay_seconds"] + startup["period_seconds"] * startup["failure_threshold"]
    assert budget >= 10 * 60
    assert (liveness["period_seconds"], liveness["timeout_seconds"], liveness["failure_threshold"]) == (
        10,
        30,
        3,
    )


def test_probe_override_merges_over_the_defaults() -> None:
    inputs = load(deployment={"startupProbe": {"failureThreshold": 10}}).container_group_inputs
    startup = inputs["startup_probe"]
    assert startup["failure_threshold"] == 10
    assert startup["period_seconds"] == PROBE_DEFAULTS["startupProbe"]["periodSeconds"]
    assert startup["http"]["path"] == "/internal/profile-startup"


def test_probe_type_picks_salads_probe_kind() -> None:
    deployment = {
        "startupProbe": {"type": "tcp"},
        "livenessProbe": {"type": "exec", "command": ["curl", "-f", "http://localhost:7860/internal/ping"]},
        "readinessProbe": {"type": "grpc", "port": 50051, "service": "health"},
    }
    inputs = load(deployment=deployment).container_group_inputs
    assert inputs["startup_probe"]["tcp"] == {"port": 7860} and "http" not in inputs["startup_probe"]
    assert inputs["startup_probe"]["failure_threshold"] == PROBE_DEFAULTS["startupProbe"]["failureThreshold"]
    assert inputs["liveness_probe"]["exec"] == {
        "command": ["curl", "-f", "http://localhost:7860/internal/ping"]
    }
    assert inputs["readiness_probe"]["grpc"] == {"port": 50051, "service": "health"}


def test_probes_can_be_disabled_and_readiness_enabled() -> None:
    deployment = {"startupProbe": False, "livenessProbe": False, "readinessProbe": True}
    inputs = load(deployment=deployment).container_group_inputs
    assert "startup_probe" not in inputs and "liveness_probe" not in inputs
    assert inputs["readiness_probe"]["http"] == {
        "path": "/internal/ping",
        "port": 7860,
        "scheme": "http",
        "headers": [],
    }


def test_a_non_default_port_moves_the_probes_and_the_image_port() -> None:
    inputs = load(deployment={"port": 8080}).container_group_inputs
    assert inputs["gateway"]["port"] == 8080
    assert inputs["startup_probe"]["http"]["port"] == 8080
    assert inputs["environment_variables"] == {"PORT": "8080"}


def test_prod_stacks_are_protected_by_default_and_can_opt_out() -> None:
    assert load(stack="prod").protect is True
    assert load(stack="production").protect is True
    assert load(stack="prod", deployment={"protect": False}).protect is False
    assert load(stack="staging", deployment={"protect": True}).protect is True


def test_name_defaults_to_a_salad_name_made_from_the_stack() -> None:
    assert load(stack="Feature_X.2").container_group_inputs["name"] == "salad-sd-feature-x-2"


def test_failure_settings_reach_the_container_group() -> None:
    wait = {"maxFailures": 5, "reallocateStuckAfterMinutes": 7.5}
    inputs = load(deployment={"waitForReady": wait}).container_group_inputs
    assert (inputs["max_failures"], inputs["reallocate_stuck_after_minutes"]) == (5, 7.5)


def test_min_ready_replicas_above_replicas_is_accepted() -> None:
    inputs = load(deployment={"replicas": 1, "waitForReady": {"minReadyReplicas": 3}}).container_group_inputs
    assert inputs["min_ready_replicas"] == 3


def test_ref_mode_needs_neither_repository_nor_models() -> None:
    ref = f"registry.example.com/team/salad-sd@sha256:{SHA}"
    config = load(image={"ref": ref})
    assert (config.image.ref, config.image.repository, config.image.builds) == (ref, None, False)
    assert config.image.models == ()


def test_full_image_config() -> None:
    image = {
        "repository": "ghcr.io/acme/salad-sd",
        "baseImage": "saladtechnologies/a1111:ipv6-v1.9.4",
        "tag": "v1.2",
        "registry": {"server": "ghcr.io", "username": "bot", "password": SECRET},
        "models": [
            {"file": "sd.safetensors", "kind": "checkpoint"},
            {"file": "x.safetensors", "kind": "lora", "sha256": SHA.upper()},
        ],
        "extensions": [
            {"url": "https://github.com/Mikubill/sd-webui-controlnet.git", "ref": COMMIT},
            {"url": "file:///srv/git/tools", "ref": COMMIT, "name": "my-tools"},
        ],
        "queueWorker": {"url": "https://example.com/worker.tar.gz", "sha256": SHA.upper()},
    }
    config = load(image=image)
    assert config.image.tag == "v1.2" and config.image.base_image == image["baseImage"]
    assert config.image.models[1].sha256 == SHA
    assert config.image.extensions == (
        ExtensionSpec("https://github.com/Mikubill/sd-webui-controlnet.git", COMMIT, "sd-webui-controlnet"),
        ExtensionSpec("file:///srv/git/tools", COMMIT, "my-tools"),
    )
    assert config.image.queue_worker == QueueWorkerSpec("https://example.com/worker.tar.gz", SHA)
    assert config.image.registry is not None
    assert config.image.registry.salad_authentication() == {"basic": {"username": "bot", "password": SECRET}}
    assert "registry_authentication" not in config.container_group_inputs
    assert SECRET not in repr(config)


def test_the_api_key_is_never_stored() -> None:
    config = load(salad={**SALAD, "apiUrl": "https://example.invalid"})
    assert API_KEY not in repr(config)
    assert API_KEY not in str(config.container_group_inputs)


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of(salad={}, deployment={"replicas": 600, "cpu": 0, "memoryMb": 1})
    assert len(problems) == 5
    assert str(ConfigError(problems)).startswith("invalid stack config (5 problems):")


def test_an_inherited_port_failure_is_reported_once() -> None:
    problems = problems_of(deployment={"port": 70000, "readinessProbe": True})
    assert problems == ("salad-sd:deployment.port must be an integer between 1 and 65535, got 70000",)


# --- invalid configs -------------------------------------------------------------------------------------

D = "salad-sd:deployment"
I = "salad-sd:image"  # noqa: E741

INVALID: list[tuple[str, dict[str, Any], list[str]]] = [
    # (id, load() arguments, fragments the message must contain)
    (
        "org-missing",
        {"salad": {"project": "image-gen"}},
        ["salad:organization is required (pulumi config set salad:organization <org>)"],
    ),
    ("project-missing", {"salad": {"organization": "acme"}}, ["salad:project is required"]),
    (
        "org-pattern",
        {"salad": {**SALAD, "organization": "Acme Corp"}},
        ["salad:organization must be 2 to 63"],
    ),
    ("deployment-not-object", {"deployment": ["replicas", 3]}, [f"{D} must be an object with keys among"]),
    (
        "deployment-unknown-key",
        {"deployment": {"replica": 2}},
        [f"{D} has unknown key 'replica' (did you mean 'replicas'?)"],
    ),
    (
        "deployment-snake-case-key",
        {"deployment": {"memory_mb": 8192}},
        [f"{D} has unknown key 'memory_mb' (did you mean 'memoryMb'?)"],
    ),
    (
        "replicas-too-many",
        {"deployment": {"replicas": 600}},
        [f"{D}.replicas must be", "between 0 and 500", "600"],
    ),
    ("replicas-negative", {"deployment": {"replicas": -1}}, [f"{D}.replicas", "between 0 and 500"]),
    ("replicas-not-integer", {"deployment": {"replicas": 2.5}}, [f"{D}.replicas", "between 0 and 500"]),
    ("replicas-boolean", {"deployment": {"replicas": True}}, [f"{D}.replicas", "between 0 and 500"]),
    ("cpu-zero", {"deployment": {"cpu": 0}}, [f"{D}.cpu", "between 1 and 16"]),
    ("cpu-too-many", {"deployment": {"cpu": 64}}, [f"{D}.cpu", "between 1 and 16"]),
    ("memory-too-small", {"deployment": {"memoryMb": 512}}, [f"{D}.memoryMb", "between 1024 and 61440"]),
    ("memory-too-big", {"deployment": {"memoryMb": 65536}}, [f"{D}.memoryMb", "between 1024 and 61440"]),
    ("storage-too-big", {"deployment": {"storageGb": 500}}, [f"{D}.storageGb", "between 1 and 250"]),
    (
        "priority-unknown",
        {"deployment": {"priority": "urgent"}},
        [f"{D}.priority must be one of high, medium, low, batch"],
    ),
    (
        "gpu-classes-not-list",
        {"deployment": {"gpuClasses": "RTX 3060 Ti"}},
        [f"{D}.gpuClasses must be a list"],
    ),
    ("gpu-class-too-long", {"deployment": {"gpuClasses": ["x" * 64]}}, [f"{D}.gpuClasses[0]", "1 to 63"]),
    (
        "country-upper-case",
        {"deployment": {"countryCodes": ["US"]}},
        [f"{D}.countryCodes[0]", "use lower case: 'us'"],
    ),
    (
        "country-empty-list",
        {"deployment": {"countryCodes": []}},
        [f"{D}.countryCodes must have between 1 and 500 items"],
    ),
    ("name-pattern", {"deployment": {"name": "Salad_SD"}}, [f"{D}.name must be 2 to 63 characters"]),
    ("display-name-pattern", {"deployment": {"displayName": "SD <prod>"}}, [f"{D}.displayName must be"]),
    ("port-too-big", {"deployment": {"port": 70000}}, [f"{D}.port", "between 1 and 65535"]),
    ("auth-not-boolean", {"deployment": {"auth": "yes"}}, [f"{D}.auth must be true or false"]),
    ("env-not-map", {"deployment": {"env": ["A=1"]}}, [f"{D}.env must be a map"]),
    ("env-empty-value", {"deployment": {"env": {"CLI_ARGS": ""}}}, [f"{D}.env.CLI_ARGS", "1 to 1000"]),
    ("env-number-value", {"deployment": {"env": {"THREADS": 4}}}, [f"{D}.env.THREADS must be a string"]),
    (
        "env-port-mismatch",
        {"deployment": {"port": 8080, "env": {"PORT": "7860"}}},
        [f"{D}.env.PORT is '7860' but {D}.port is 8080"],
    ),
    (
        "probe-not-object",
        {"deployment": {"livenessProbe": "/internal/ping"}},
        [f"{D}.livenessProbe must be true, false or an object"],
    ),
    (
        "probe-unknown-key",
        {"deployment": {"startupProbe": {"failureTreshold": 5}}},
        [f"{D}.startupProbe has unknown key 'failureTreshold' (did you mean 'failureThreshold'?)"],
    ),
    (
        "probe-failure-threshold",
        {"deployment": {"startupProbe": {"failureThreshold": 50}}},
        [f"{D}.startupProbe.failureThreshold", "between 1 and 20"],
    ),
    (
        "probe-period",
        {"deployment": {"startupProbe": {"periodSeconds": 300}}},
        [f"{D}.startupProbe.periodSeconds", "between 1 and 120"],
    ),
    (
        "probe-initial-delay",
        {"deployment": {"livenessProbe": {"initialDelaySeconds": 3600}}},
        [f"{D}.livenessProbe.initialDelaySeconds", "between 0 and 1200"],
    ),
    (
        "probe-timeout",
        {"deployment": {"readinessProbe": {"timeoutSeconds": 0}}},
        [f"{D}.readinessProbe.timeoutSeconds", "between 1 and 60"],
    ),
    (
        "probe-success-threshold",
        {"deployment": {"readinessProbe": {"successThreshold": 11}}},
        [f"{D}.readinessProbe.successThreshold", "between 1 and 10"],
    ),
    (
        "probe-empty-path",
        {"deployment": {"startupProbe": {"path": ""}}},
        [f"{D}.startupProbe.path", "1 to 2048"],
    ),
    (
        "probe-port",
        {"deployment": {"livenessProbe": {"port": 0}}},
        [f"{D}.livenessProbe.port", "between 1 and 65535"],
    ),
    (
        "probe-type",
        {"deployment": {"livenessProbe": {"type": "udp"}}},
        [f"{D}.livenessProbe.type must be one of http, tcp, exec, grpc"],
    ),
    (
        "exec-probe-without-command",
        {"deployment": {"livenessProbe": {"type": "exec"}}},
        [f"{D}.livenessProbe.command is required for type exec"],
    ),
    (
        "exec-probe-empty-command",
        {"deployment": {"livenessProbe": {"type": "exec", "command": []}}},
        [f"{D}.livenessProbe.command", "between 1 and 100 items"],
    ),
    (
        "readiness-without-gateway",
        {"deployment": {"port": False, "readinessProbe": True}},
        [f"{D}.readinessProbe needs the Container Gateway"],
    ),
    ("auth-without-gateway", {"deployment": {"port": False, "auth": False}}, [f"{D}.auth has no effect"]),
    ("wait-not-object", {"deployment": {"waitForReady": 2}}, [f"{D}.waitForReady must be an object"]),
    (
        "wait-unknown-key",
        {"deployment": {"waitForReady": {"timeout": 5}}},
        [f"{D}.waitForReady has unknown key 'timeout'"],
    ),
    (
        "wait-min-ready",
        {"deployment": {"waitForReady": {"minReadyReplicas": 501}}},
        [f"{D}.waitForReady.minReadyReplicas", "between 0 and 500"],
    ),
    (
        "wait-timeout",
        {"deployment": {"waitForReady": {"timeoutMinutes": 0}}},
        [f"{D}.waitForReady.timeoutMinutes", "between 1 and 1440"],
    ),
    (
        "wait-max-failures",
        {"deployment": {"waitForReady": {"maxFailures": 0}}},
        [f"{D}.waitForReady.maxFailures", "between 1 and 100"],
    ),
    (
        "wait-max-failures-fraction",
        {"deployment": {"waitForReady": {"maxFailures": 2.5}}},
        [f"{D}.waitForReady.maxFailures must be an integer"],
    ),
    (
        "wait-reallocate-too-small",
        {"deployment": {"waitForReady": {"reallocateStuckAfterMinutes": 0}}},
        [f"{D}.waitForReady.reallocateStuckAfterMinutes must be a number between 0.1 and 1440 minutes"],
    ),
    (
        "wait-reallocate-not-number",
        {"deployment": {"waitForReady": {"reallocateStuckAfterMinutes": "10"}}},
        [f"{D}.waitForReady.reallocateStuckAfterMinutes must be a number"],
    ),
    ("adopt-not-boolean", {"deployment": {"adopt": "no"}}, [f"{D}.adopt must be true or false"]),
    ("smoke-test-not-boolean", {"deployment": {"smokeTest": 1}}, [f"{D}.smokeTest must be true or false"]),
    ("protect-not-boolean", {"deployment": {"protect": "true"}}, [f"{D}.protect must be true or false"]),
    (
        "smoke-test-without-gateway",
        {"deployment": {"smokeTest": True, "port": False}},
        [f"{D}.smokeTest calls the gateway"],
    ),
    (
        "smoke-test-without-replicas",
        {"deployment": {"smokeTest": True, "replicas": 0}},
        [f"{D}.smokeTest needs at least 1 replica"],
    ),
    ("image-missing", {"image": None}, [f"{I} is required", f"{I}.repository", f"{I}.ref"]),
    ("image-not-object", {"image": "registry.example.com/x"}, [f"{I} must be an object with keys among"]),
    ("image-neither", {"image": {"tag": "v1"}}, [f"{I} must set exactly one of repository", "got neither"]),
    (
        "image-both",
        {"image": {"ref": "a/b:c", "repository": "a/b"}},
        [f"{I} must set exactly one", "got both"],
    ),
    (
        "image-unknown-key",
        {"image": {**IMAGE, "model": []}},
        [f"{I} has unknown key 'model' (did you mean 'models'?)"],
    ),
    (
        "repository-with-tag",
        {"image": {"repository": "registry.example.com/x:latest"}},
        [f"{I}.repository must be an image repository without tag or digest"],
    ),
    ("tag-pattern", {"image": {**IMAGE, "tag": "-bad tag"}}, [f"{I}.tag must be a Docker tag"]),
    ("ref-pattern", {"image": {"ref": "Not An Image"}}, [f"{I}.ref must be an image reference"]),
    (
        "ref-with-models",
        {"image": {"ref": "a/b:c", "models": [{"file": "m.safetensors", "kind": "lora"}]}},
        [f"{I}.models has no effect with {I}.ref"],
    ),
    ("models-not-list", {"image": {**IMAGE, "models": {"file": "x"}}}, [f"{I}.models must be a list"]),
    (
        "model-kind",
        {"image": {**IMAGE, "models": [{"file": "x.safetensors", "kind": "unet"}]}},
        [f"{I}.models[0].kind must be one of checkpoint, lora, vae, embedding, controlnet"],
    ),
    (
        "model-sha256",
        {"image": {**IMAGE, "models": [{"file": "x.safetensors", "kind": "vae", "sha256": "abc"}]}},
        [f"{I}.models[0].sha256 must be 64 hex digits"],
    ),
    (
        "model-file-path",
        {"image": {**IMAGE, "models": [{"file": "../x.safetensors", "kind": "vae"}]}},
        [f"{I}.models[0].file must be a plain file name"],
    ),
    (
        "model-duplicate",
        {"image": {**IMAGE, "models": [{"file": "x", "kind": "vae"}, {"file": "x", "kind": "vae"}]}},
        [f"{I}.models[1] repeats vae 'x'"],
    ),
    (
        "extensions-not-list",
        {"image": {**IMAGE, "extensions": "sd-webui-controlnet"}},
        [f"{I}.extensions must be a list"],
    ),
    (
        "extension-not-object",
        {"image": {**IMAGE, "extensions": ["https://github.com/Mikubill/sd-webui-controlnet"]}},
        [f"{I}.extensions[0] must be an object with url, ref and optionally name"],
    ),
    (
        "extension-branch-ref",
        {"image": {**IMAGE, "extensions": [{"url": "https://x.test/a/b.git", "ref": "main"}]}},
        [f"{I}.extensions[0].ref must be a full commit: 40 lowercase hex digits"],
    ),
    (
        "extension-bad-url",
        {"image": {**IMAGE, "extensions": [{"url": "not a url", "ref": COMMIT}]}},
        [f"{I}.extensions[0].url must be a git URL"],
    ),
    (
        "extension-bad-name",
        {
            "image": {
                **IMAGE,
                "extensions": [{"url": "https://x.test/a/b.git", "ref": COMMIT, "name": "../b"}],
            }
        },
        [f"{I}.extensions[0].name must be a folder name"],
    ),
    (
        "extension-same-folder",
        {
            "image": {
                **IMAGE,
                "extensions": [
                    {"url": "https://x.test/a/tools.git", "ref": COMMIT},
                    {"url": "https://y.test/b/tools", "ref": COMMIT},
                ],
            }
        },
        [f"{I}.extensions[1] repeats the folder name 'tools'"],
    ),
    (
        "no-checkpoint",
        {"image": {**IMAGE, "models": [{"file": "x.safetensors", "kind": "lora"}]}},
        [f"{I}.models lists no checkpoint", f"{I}.ref"],
    ),
    ("no-models", {"image": {"repository": "r.example.com/a/b"}}, [f"{I}.models lists no checkpoint"]),
    (
        "queue-worker-no-sha",
        {"image": {**IMAGE, "queueWorker": {"url": "https://x.test/w.tar.gz"}}},
        [f"{I}.queueWorker.sha256 must be 64 hex digits"],
    ),
    (
        "queue-worker-bad-url",
        {"image": {**IMAGE, "queueWorker": {"url": "ftp://x.test/w", "sha256": SHA}}},
        [f"{I}.queueWorker.url must be an http(s) URL"],
    ),
    (
        "queue-worker-with-ref",
        {"image": {"ref": "a/b:c", "queueWorker": {"url": "https://x.test/w", "sha256": SHA}}},
        [f"{I}.queueWorker has no effect with {I}.ref"],
    ),
    (
        "cli-args-port",
        {"deployment": {"env": {"CLI_ARGS": "--medvram --port 7860"}}},
        [f"{D}.env.CLI_ARGS must not contain --port", "$WEBUI_PORT"],
    ),
    (
        "cli-args-nowebui",
        {"deployment": {"env": {"WEBUI_EXTRA_ARGS": "--nowebui"}}},
        [f"{D}.env.WEBUI_EXTRA_ARGS must not contain --nowebui", "probes"],
    ),
    (
        "cli-args-server-name",
        {"deployment": {"env": {"CLI_ARGS": "--server-name=::"}}},
        [f"{D}.env.CLI_ARGS must not contain --server-name"],
    ),
    (
        "cli-args-port-prefix",
        {"deployment": {"env": {"CLI_ARGS": "--por 7860"}}},
        [f"{D}.env.CLI_ARGS must not contain --por: a prefix of --port", "$WEBUI_PORT"],
    ),
    (
        "xformers-setting",
        {"deployment": {"env": {"SALAD_SD_XFORMERS": "off"}}},
        [f'{D}.env.SALAD_SD_XFORMERS must be "0" (no --xformers) or "1"'],
    ),
    (
        "registry-not-object",
        {"image": {**IMAGE, "registry": SECRET}},
        [f"{I}.registry must be an object with keys among server, username, password, got a string"],
    ),
    (
        "registry-missing-server",
        {"image": {**IMAGE, "registry": {"username": "u", "password": SECRET}}},
        [f"{I}.registry.server is required"],
    ),
    (
        "registry-server-pattern",
        {"image": {**IMAGE, "registry": {"server": "https://ghcr.io", "username": "u", "password": SECRET}}},
        [f"{I}.registry.server must be a registry host"],
    ),
    (
        "registry-missing-password",
        {"image": {**IMAGE, "registry": {"server": "ghcr.io", "username": "u"}}},
        [f"{I}.registry.password is required"],
    ),
    (
        "registry-password-too-long",
        {"image": {**IMAGE, "registry": {"server": "ghcr.io", "username": "u", "password": SECRET * 300}}},
        [f"{I}.registry.password must be 1 to 10000 characters", "a hidden string"],
    ),
]


@pytest.mark.parametrize(
    ("arguments", "fragments"), [case[1:] for case in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_config_names_the_key(arguments: dict[str, Any], fragments: list[str]) -> None:
    problems = problems_of(**copy.deepcopy(arguments))
    matching = [p for p in problems if fragments[0] in p]
    assert matching, f"no problem names {fragments[0]!r}: {problems}"
    assert any(all(f in p for f in fragments) for p in matching), problems
    assert not any(SECRET in p for p in problems)
    assert not any(API_KEY in p for p in problems)


def test_every_property_the_loader_sends_maps_back_to_a_config_key() -> None:
    deployment = {
        "displayName": "SD",
        "storageGb": 50,
        "priority": "low",
        "countryCodes": ["us"],
        "readinessProbe": True,
        "port": 8080,
    }
    sent = build_deployment("dev", deployment, Problems()).inputs
    for prop in [*sent, "organization", "project", "image", "registry_authentication.basic.password"]:
        assert config_key(prop).startswith(("salad:", "salad-sd:image", "salad-sd:deployment.")), prop


def test_the_table_is_large_enough() -> None:
    assert len(INVALID) >= 30


@pytest.mark.parametrize(
    "registry",
    [
        {"server": "ghcr.io", "username": "u", "password": SECRET * 300},
        {"server": "ghcr.io", "username": SECRET, "password": [SECRET]},
        {"server": "ghcr.io", "username": "u", "password": {"value": SECRET}},
        {"server": "ghcr.io", "username": "u", "password": SECRET, "extra": SECRET},
        SECRET,
    ],
)
def test_the_registry_password_is_never_echoed(registry: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        load(image={**IMAGE, "registry": registry}, deployment={"replicas": 600})
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value)


def test_harmless_webui_flags_and_the_xformers_setting_pass() -> None:
    env = {"CLI_ARGS": "--medvram --api", "WEBUI_EXTRA_ARGS": "--portable", "SALAD_SD_XFORMERS": "0"}
    inputs = load(deployment={"env": env}).container_group_inputs
    assert inputs["environment_variables"] == env


def test_the_base_image_may_be_pinned_by_digest() -> None:
    pinned = f"saladtechnologies/a1111:ipv6-v1.9.4@sha256:{SHA}"
    assert load(image={**IMAGE, "baseImage": pinned}).image.base_image == pinned
    assert any(
        "best pinned by digest" in p for p in problems_of(image={**IMAGE, "baseImage": "a1111@sha256:short"})
    )


def test_a_queue_needs_the_worker_in_a_built_image() -> None:
    image = {k: v for k, v in IMAGE.items() if k != "queueWorker"}
    assert problems_of(image=image, deployment={"queue": {}}) == (
        "salad-sd:deployment.queue needs Salad's job-queue worker in the image: set "
        "salad-sd:image.queueWorker {url, sha256} (a salad-cloud-job-queue-worker release asset and its "
        "sha256; see the README)",
    )
    assert load(image=image).queue is None  # no queue, no worker needed
    ref = {"ref": f"registry.example.com/team/salad-sd@sha256:{SHA}"}
    assert load(image=ref, deployment={"queue": {}}).queue is not None  # an existing image is the user's call
