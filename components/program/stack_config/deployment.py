"""`salad-sd:deployment` -> ContainerGroup inputs (snake_case, Salad's probe shape), before validation.

Only the shape is handled here: types of the config's own objects, unknown keys, defaults, and the
checks the ContainerGroup core cannot know. Ranges and patterns are left to `check_inputs`.

Defaults follow Salad's A1111 guide for an SD 1.5 model (4 vCPU, 12 GB, RTX 3060 Ti, 3 replicas, gateway
and HTTP probes on 7860). The image opens port 7860 only after a local txt2img succeeded, so the startup
probe passes exactly when the instance can generate. Its budget, 60 s + 20 x 30 s = 11 minutes, is sized
for the slowest SD 1.5 start we can justify: the base's setup with extensions baked offline-ready (under
30 s), the webui's imports on a cold disk (up to 60 s), the checkpoint load (300+ s reported for a first
load after boot, A1111 #8198; 163 s on a slow disk, #10671) and the warm-up generation compiling the GPU
kernels (up to 30 s): about 7 minutes, with half again as margin before Salad reallocates the instance.
The 30 s period costs at most 30 s of readiness after the bridge opens. SDXL-size checkpoints load about
three times longer: raise `startupProbe.failureThreshold` (max 20) or `periodSeconds` (max 120) for them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from components.container_group.validation import show
from components.model_image.webui_flags import FLAG_VARIABLES, refused_in
from components.program.stack_config.keys import (
    DEPLOYMENT,
    DEPLOYMENT_KEYS,
    PROBE_KEYS,
    PROBE_TIMINGS,
    PROBE_TYPES,
    PROBES,
    WAIT_KEYS,
)
from components.program.stack_config.problems import Problems
from components.program.stack_config.queue import QueueShape, build_queue

DEFAULT_REPLICAS = 3
DEFAULT_CPU = 4
DEFAULT_MEMORY_MB = 12288
DEFAULT_GPU_CLASSES: tuple[str, ...] = ("RTX 3060 Ti",)
DEFAULT_PORT = 7860  # the image's socat listens on $PORT (7860 unless env PORT says otherwise)
DEFAULT_MIN_READY_REPLICAS = 1
DEFAULT_READY_TIMEOUT_MINUTES = 45
DEFAULT_MAX_FAILURES = 3
PROTECTED_STACKS = frozenset({"prod", "production"})  # `protect` defaults to true for these stacks

# Probe defaults in config terms (camelCase); the port is the deployment's port. None: off by default.
PROBE_DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    # Through the bridge on $PORT, which opens only once a local txt2img succeeded: the model is loaded.
    "startupProbe": {
        "path": "/internal/profile-startup",
        "initialDelaySeconds": 60,
        "periodSeconds": 30,
        "timeoutSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 20,
    },
    # Not queue-locked, so a long generation does not fail it; through socat, so it checks the whole path.
    "livenessProbe": {
        "path": "/internal/ping",
        "initialDelaySeconds": 0,
        "periodSeconds": 10,
        "timeoutSeconds": 30,
        "successThreshold": 1,
        "failureThreshold": 3,
    },
    # Off unless asked for (`readinessProbe: true` or an object); needs the gateway.
    "readinessProbe": {
        "path": "/internal/ping",
        "initialDelaySeconds": 0,
        "periodSeconds": 10,
        "timeoutSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    },
}
PROBES_ON_BY_DEFAULT = frozenset({"startupProbe", "livenessProbe"})


@dataclass
class DeploymentShape:
    """The built ContainerGroup inputs plus what only the program uses."""

    inputs: dict[str, Any] = field(default_factory=dict)
    smoke_test: bool = False
    protect: bool = False
    # Property paths filled from another key (a probe's port from `port`): a failure there is already
    # reported under that key, so it is dropped.
    inherited: set[str] = field(default_factory=set)
    queue: QueueShape | None = None


def default_name(stack: str) -> str:
    """`salad-sd-<stack>`, reduced to a Salad name (lower case, hyphens, at most 63 characters)."""
    slug = re.sub(r"[^a-z0-9]+", "-", stack.lower()).strip("-")
    return (f"salad-sd-{slug}" if slug else "salad-sd")[:63].rstrip("-")


def build_deployment(stack: str, raw: Any, problems: Problems) -> DeploymentShape:
    """The ContainerGroup inputs (without organization, project and image) for `salad-sd:deployment`."""
    config = problems.object(raw, DEPLOYMENT, DEPLOYMENT_KEYS)
    config = {} if config is None else config
    shape = DeploymentShape()
    inputs = shape.inputs

    inputs["name"] = config.get("name", default_name(stack))
    _copy(
        config,
        inputs,
        {
            "displayName": "display_name",
            "storageGb": "storage_gb",
            "priority": "priority",
            "countryCodes": "country_codes",
            "adopt": "adopt",
        },
    )
    inputs["replicas"] = config.get("replicas", DEFAULT_REPLICAS)
    inputs["cpu"] = config.get("cpu", DEFAULT_CPU)
    inputs["memory"] = config.get("memoryMb", DEFAULT_MEMORY_MB)
    inputs["gpu_classes"] = config.get("gpuClasses", list(DEFAULT_GPU_CLASSES))
    env = config.get("env", {})
    inputs["environment_variables"] = dict(env) if isinstance(env, Mapping) else env
    if isinstance(env, Mapping):
        _check_image_env(env, problems)

    port = config.get("port", DEFAULT_PORT)
    gateway = port is not False
    if gateway:
        inputs["gateway"] = {"port": port, "auth": config.get("auth", True)}
        _sync_port_env(port, inputs, shape, problems)
    elif "auth" in config:
        problems.add(f"{DEPLOYMENT}.auth has no effect without the gateway ({DEPLOYMENT}.port is false)")
    probe_port = port if gateway else DEFAULT_PORT

    for config_key, prop in PROBES.items():
        probe = _probe(config_key, config.get(config_key), probe_port, problems)
        if probe is None:
            continue
        if gateway and "port" not in probe.overrides:
            kinds = [kind for kind in ("http", "tcp", "grpc") if kind in probe.salad]
            shape.inherited.update(f"{prop}.{kind}.port" for kind in kinds)
        if config_key == "readinessProbe" and not gateway and config.get("queue") in (None, False):
            problems.add(
                f"{DEPLOYMENT}.readinessProbe needs the Container Gateway, but {DEPLOYMENT}.port is false"
            )
        inputs[prop] = probe.salad

    wait = problems.object(config.get("waitForReady"), f"{DEPLOYMENT}.waitForReady", WAIT_KEYS) or {}
    inputs["min_ready_replicas"] = wait.get("minReadyReplicas", DEFAULT_MIN_READY_REPLICAS)
    inputs["ready_timeout_minutes"] = wait.get("timeoutMinutes", DEFAULT_READY_TIMEOUT_MINUTES)
    inputs["max_failures"] = wait.get("maxFailures", DEFAULT_MAX_FAILURES)
    if "reallocateStuckAfterMinutes" in wait:
        inputs["reallocate_stuck_after_minutes"] = wait["reallocateStuckAfterMinutes"]

    smoke_test = config.get("smokeTest", False)
    inputs["smoke_test"] = smoke_test  # a provider input: the core checks that it is a boolean
    shape.queue = build_queue(config.get("queue"), config, inputs, problems)
    shape.smoke_test = smoke_test is True
    shape.protect = _flag(config, "protect", stack in PROTECTED_STACKS, problems)
    if shape.smoke_test and shape.queue is None:  # in queue mode the smoke test is a queue job
        if not gateway:
            problems.add(f"{DEPLOYMENT}.smokeTest calls the gateway, but {DEPLOYMENT}.port is false")
        if inputs["replicas"] == 0:
            problems.add(f"{DEPLOYMENT}.smokeTest needs at least 1 replica, but {DEPLOYMENT}.replicas is 0")
    return shape


def _check_image_env(env: Mapping[str, Any], problems: Problems) -> None:
    """The image's own settings in env: webui flags that would break the bridge, the warm-up or the
    probes (the entrypoint refuses them too, but only once the container starts), and SALAD_SD_XFORMERS."""
    for variable in FLAG_VARIABLES:
        value = env.get(variable)
        if isinstance(value, str):
            for flag, reason in refused_in(value):
                problems.add(f"{DEPLOYMENT}.env.{variable} must not contain {flag}: {reason}")
    xformers = env.get("SALAD_SD_XFORMERS")
    if xformers is not None and xformers not in ("0", "1"):
        problems.add(
            f'{DEPLOYMENT}.env.SALAD_SD_XFORMERS must be "0" (no --xformers) or "1" (the default), '
            f"got {show(xformers)}"
        )


def _copy(config: Mapping[str, Any], inputs: dict[str, Any], names: Mapping[str, str]) -> None:
    for config_key, prop in names.items():
        if config.get(config_key) is not None:
            inputs[prop] = config[config_key]


def _flag(config: Mapping[str, Any], key: str, default: bool, problems: Problems) -> bool:
    value = config.get(key, default)
    if isinstance(value, bool):
        return value
    problems.add(f"{DEPLOYMENT}.{key} must be true or false, got {show(value)}")
    return default


def _sync_port_env(port: Any, inputs: dict[str, Any], shape: DeploymentShape, problems: Problems) -> None:
    """The image listens on env PORT: set it for a non-default port, and refuse a contradicting one."""
    env = inputs["environment_variables"]
    if not isinstance(env, dict) or not isinstance(port, int) or isinstance(port, bool):
        return
    if "PORT" in env:
        if env["PORT"] != str(port):
            problems.add(
                f"{DEPLOYMENT}.env.PORT is {show(env['PORT'])} but {DEPLOYMENT}.port is {port}: the image "
                f"listens on PORT, so the gateway would reach nothing; drop env.PORT or make them equal"
            )
    elif port != DEFAULT_PORT:
        env["PORT"] = str(port)
        shape.inherited.add("environment_variables.PORT")


@dataclass(frozen=True)
class _Probe:
    salad: dict[str, Any]
    overrides: Mapping[str, Any]


def _probe_protocol(where: str, merged: Mapping[str, Any], problems: Problems) -> dict[str, Any] | None:
    """The protocol block of Salad's probe for `type` (http unless set)."""
    kind = merged.get("type", "http")
    if kind == "http":
        return {"http": {"path": merged["path"], "port": merged["port"]}}
    if kind == "tcp":
        return {"tcp": {"port": merged["port"]}}
    if kind == "grpc":
        return {"grpc": {"port": merged["port"], "service": merged.get("service", "")}}
    if kind == "exec":
        if merged.get("command") is None:
            problems.add(f"{where}.command is required for type exec (a list such as ['cat', '/tmp/ready'])")
            return None
        return {"exec": {"command": merged["command"]}}
    problems.add(f"{where}.type must be one of {', '.join(PROBE_TYPES)}, got {show(kind)}")
    return None


def _probe(config_key: str, raw: Any, port: Any, problems: Problems) -> _Probe | None:
    """Salad's probe object for one probe setting (None, true, false or an override object), or None."""
    where = f"{DEPLOYMENT}.{config_key}"
    if raw is None:
        raw = config_key in PROBES_ON_BY_DEFAULT
    if raw is False:
        return None
    if raw is True:
        overrides: Mapping[str, Any] = {}
    elif isinstance(raw, Mapping):
        problems.object(raw, where, PROBE_KEYS)
        overrides = raw
    else:
        problems.add(
            f"{where} must be true, false or an object with keys among {', '.join(PROBE_KEYS)}, "
            f"got {show(raw)}"
        )
        return None
    merged = {"port": port, **PROBE_DEFAULTS[config_key], **overrides}
    salad = _probe_protocol(where, merged, problems)
    if salad is None:
        return None
    salad.update({prop: merged[key] for key, prop in PROBE_TIMINGS.items()})
    return _Probe(salad=salad, overrides=overrides)
