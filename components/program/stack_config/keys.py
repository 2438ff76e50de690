"""Config key names, and the map from ContainerGroup property paths back to the config keys they came from."""

from __future__ import annotations

from collections.abc import Mapping

from components.container_group.settings import ORGANIZATION, PROJECT
from components.container_group.validation import Failure

IMAGE = "salad-sd:image"
DEPLOYMENT = "salad-sd:deployment"

IMAGE_KEYS = ("repository", "baseImage", "tag", "ref", "registry", "models", "extensions", "queueWorker")
BUILD_ONLY_IMAGE_KEYS = ("repository", "baseImage", "tag", "models", "extensions", "queueWorker")
REGISTRY_KEYS = ("server", "username", "password")

DEPLOYMENT_KEYS = (
    "name",
    "displayName",
    "replicas",
    "cpu",
    "memoryMb",
    "gpuClasses",
    "storageGb",
    "priority",
    "countryCodes",
    "port",
    "auth",
    "env",
    "startupProbe",
    "livenessProbe",
    "readinessProbe",
    "waitForReady",
    "adopt",
    "smokeTest",
    "protect",
    "queue",
)
QUEUE_KEYS = ("name", "description", "autoscaler")
# Queue autoscaler config keys -> Salad's queue_autoscaler fields.
AUTOSCALER_KEYS: Mapping[str, str] = {
    "minReplicas": "min_replicas",
    "maxReplicas": "max_replicas",
    "desiredQueueLength": "desired_queue_length",
    "pollingPeriodSeconds": "polling_period",
    "maxUpscalePerMinute": "max_upscale_per_minute",
    "maxDownscalePerMinute": "max_downscale_per_minute",
}
WAIT_KEYS = ("minReadyReplicas", "timeoutMinutes", "maxFailures", "reallocateStuckAfterMinutes")

# Probe config keys -> ContainerGroup probe properties, and probe override fields -> Salad probe paths.
PROBES: Mapping[str, str] = {
    "startupProbe": "startup_probe",
    "livenessProbe": "liveness_probe",
    "readinessProbe": "readiness_probe",
}
PROBE_TIMINGS: Mapping[str, str] = {
    "initialDelaySeconds": "initial_delay_seconds",
    "periodSeconds": "period_seconds",
    "timeoutSeconds": "timeout_seconds",
    "successThreshold": "success_threshold",
    "failureThreshold": "failure_threshold",
}
# `type` picks Salad's probe kind (http by default): `path` for http, `command` for exec, `service` for grpc.
PROBE_TYPES = ("http", "tcp", "exec", "grpc")
PROBE_KEYS = ("type", "path", "port", "command", "service", *PROBE_TIMINGS)

REQUIRED_HINTS: Mapping[str, str] = {
    ORGANIZATION: " (pulumi config set salad:organization <org>)",
    PROJECT: " (pulumi config set salad:project <project>)",
}


def _deployment(key: str) -> str:
    return f"{DEPLOYMENT}.{key}"


def _probe_paths() -> dict[str, str]:
    paths: dict[str, str] = {}
    for config_key, prop in PROBES.items():
        paths[prop] = _deployment(config_key)
        paths[f"{prop}.http.path"] = _deployment(f"{config_key}.path")
        paths[f"{prop}.http.port"] = _deployment(f"{config_key}.port")
        paths[f"{prop}.tcp.port"] = _deployment(f"{config_key}.port")
        paths[f"{prop}.grpc.port"] = _deployment(f"{config_key}.port")
        paths[f"{prop}.grpc.service"] = _deployment(f"{config_key}.service")
        paths[f"{prop}.exec.command"] = _deployment(f"{config_key}.command")
        paths.update({f"{prop}.{t}": _deployment(f"{config_key}.{c}") for c, t in PROBE_TIMINGS.items()})
    return paths


# ContainerGroup property path (prefix) -> config key. Longest prefix wins; the rest of the path is kept
# (`gpu_classes[2]` -> `salad-sd:deployment.gpuClasses[2]`, `environment_variables.X` -> `...env.X`).
PROPERTY_KEYS: Mapping[str, str] = {
    "organization": ORGANIZATION,
    "project": PROJECT,
    "image": f"{IMAGE}.ref",
    "registry_authentication": f"{IMAGE}.registry",
    "registry_authentication.basic.username": f"{IMAGE}.registry.username",
    "registry_authentication.basic.password": f"{IMAGE}.registry.password",
    "name": _deployment("name"),
    "display_name": _deployment("displayName"),
    "replicas": _deployment("replicas"),
    "cpu": _deployment("cpu"),
    "memory": _deployment("memoryMb"),
    "gpu_classes": _deployment("gpuClasses"),
    "storage_gb": _deployment("storageGb"),
    "priority": _deployment("priority"),
    "country_codes": _deployment("countryCodes"),
    "environment_variables": _deployment("env"),
    "gateway": _deployment("port"),
    "gateway.port": _deployment("port"),
    "gateway.auth": _deployment("auth"),
    **_probe_paths(),
    "min_ready_replicas": _deployment("waitForReady.minReadyReplicas"),
    "ready_timeout_minutes": _deployment("waitForReady.timeoutMinutes"),
    "max_failures": _deployment("waitForReady.maxFailures"),
    "reallocate_stuck_after_minutes": _deployment("waitForReady.reallocateStuckAfterMinutes"),
    "adopt": _deployment("adopt"),
    "smoke_test": _deployment("smokeTest"),
    "queue_connection": _deployment("queue"),
    "queue_connection.queue_name": _deployment("queue.name"),
    "queue_connection.port": _deployment("env.WEBUI_PORT"),
    "queue_autoscaler": _deployment("queue.autoscaler"),
    **{
        f"queue_autoscaler.{prop}": _deployment(f"queue.autoscaler.{key}")
        for key, prop in AUTOSCALER_KEYS.items()
    },
}


def config_key(prop: str) -> str:
    """The config key a ContainerGroup property path came from."""
    for prefix in sorted(PROPERTY_KEYS, key=len, reverse=True):
        if prop == prefix or prop.startswith((f"{prefix}.", f"{prefix}[")):
            return PROPERTY_KEYS[prefix] + prop[len(prefix) :]
    return f"{DEPLOYMENT} (container group property {prop})"


def config_message(failure: Failure) -> str:
    """The core's failure reason, reworded to name the config key instead of the property path."""
    key = config_key(failure.property)
    if failure.reason.startswith(failure.property):
        message = key + failure.reason[len(failure.property) :]
    else:
        message = f"{key}: {failure.reason}"
    if message.endswith(" is required"):
        message += REQUIRED_HINTS.get(key, "")
    return message
