"""The ContainerGroup resource's input properties: types, ranges, defaults and how a change is applied.

This is the single table every other module reads: validation walks it, diff_rules uses `Field.update` to
decide between PATCH and replace, and the list of keys compared by diff is `INPUTS`' keys.
Ranges follow Salad's API spec (salad-api.md §3 to §5) except where a field's `note` says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from components.container_group.country_codes import COUNTRY_CODES


class Update(Enum):
    PATCH = "patch"  # Salad changes it in place (merge-patch)
    REPLACE = "replace"  # Salad cannot change it: the group must be recreated
    PROVIDER = "provider"  # steers the provider only (waiting, adoption): no API call


@dataclass(frozen=True)
class Integer:
    minimum: int
    maximum: int
    note: str = ""  # appended to the allowed range in failure messages


@dataclass(frozen=True)
class Number:
    """A real number (fractions allowed)."""

    minimum: float
    maximum: float
    note: str = ""


@dataclass(frozen=True)
class Boolean:
    pass


@dataclass(frozen=True)
class Text:
    min_length: int = 1
    max_length: int = 1000
    pattern: str | None = None
    described_as: str = ""  # the pattern in words, for failure messages
    allowed: frozenset[str] | None = None
    secret: bool = False  # never echo the value in a failure message


@dataclass(frozen=True)
class Choice:
    options: tuple[str, ...]


@dataclass(frozen=True)
class ListOf:
    item: Spec
    min_items: int
    max_items: int


@dataclass(frozen=True)
class MapOf:
    value: Text  # keys are non-empty strings


@dataclass(frozen=True)
class Obj:
    fields: Mapping[str, Field]
    exactly_one_of: tuple[str, ...] = ()


Spec = Integer | Number | Boolean | Text | Choice | ListOf | MapOf | Obj


@dataclass(frozen=True)
class Field:
    spec: Spec
    required: bool = False
    default: Any = None  # None: left unset (and omitted from request bodies); copied before use
    update: Update | None = None  # None: as the enclosing field (top-level fields default to PATCH)


SALAD_NAME = Text(
    min_length=2,
    max_length=63,
    pattern=r"[a-z][a-z0-9-]{0,61}[a-z0-9]",
    described_as="lower-case letters, digits and hyphens, starting with a letter and not ending in a hyphen",
)
DISPLAY_NAME = Text(
    min_length=2,
    max_length=63,
    pattern=r"[ ,\-.0-9A-Za-z]+",
    described_as="letters, digits, spaces, ',', '-' and '.'",
)
PORT = Integer(1, 65535)
COUNTRY_CODE = Text(
    min_length=2,
    max_length=2,
    allowed=COUNTRY_CODES,
    described_as="a lower-case ISO 3166-1 alpha-2 country code such as 'us'",
)
SECRET = Text(max_length=10000, secret=True)


def _credentials(*names: str) -> Field:
    return Field(Obj({name: Field(SECRET, required=True) for name in names}))


REGISTRY_AUTHENTICATION = Obj(
    fields={
        "basic": _credentials("username", "password"),
        "docker_hub": _credentials("username", "personal_access_token"),
        "aws_ecr": _credentials("access_key_id", "secret_access_key"),
        "gcp_gar": _credentials("service_key"),
        "gcp_gcr": _credentials("service_key"),
    },
    exactly_one_of=("basic", "docker_hub", "aws_ecr", "gcp_gar", "gcp_gcr"),
)

# Salad cannot change these gateway options in place; only the port is patchable.
GATEWAY = Obj(
    {
        "port": Field(PORT, default=7860, update=Update.PATCH),
        "auth": Field(Boolean(), default=True),
        "load_balancer": Field(
            Choice(("round_robin", "least_number_of_connections")), default="least_number_of_connections"
        ),
        "single_connection_limit": Field(Boolean(), default=False),
        "client_request_timeout_ms": Field(Integer(1, 100000), default=100000),
        "server_response_timeout_ms": Field(Integer(1, 100000), default=100000),
    }
)

PROBE_PROTOCOLS: Mapping[str, Field] = {
    "http": Field(
        Obj(
            {
                "path": Field(Text(max_length=2048), required=True),
                "port": Field(PORT, required=True),
                "scheme": Field(Choice(("http", "https")), default="http"),
                "headers": Field(
                    ListOf(
                        Obj(
                            {
                                "name": Field(Text(max_length=256), required=True),
                                "value": Field(Text(max_length=1024), required=True),
                            }
                        ),
                        min_items=0,
                        max_items=50,
                    ),
                    default=[],
                ),
            }
        )
    ),
    "tcp": Field(Obj({"port": Field(PORT, required=True)})),
    "grpc": Field(Obj({"port": Field(PORT, required=True), "service": Field(Text(0, 1024), default="")})),
    "exec": Field(
        Obj({"command": Field(ListOf(Text(max_length=2048), min_items=1, max_items=100), required=True)})
    ),
}

# Job queue mode (salad-api.md §3): the connection cannot be patched (a change replaces the group); the
# autoscaler is patched, always as a whole object (Salad requires min, max and desired length together).
QUEUE_CONNECTION = Obj(
    {
        "queue_name": Field(SALAD_NAME, required=True),
        "port": Field(PORT, required=True),
        "path": Field(Text(max_length=1024), default="/sdapi/v1/txt2img"),
    }
)
QUEUE_AUTOSCALER = Obj(
    {
        "min_replicas": Field(Integer(0, 100), default=0),
        "max_replicas": Field(Integer(1, 500), required=True),
        "desired_queue_length": Field(Integer(1, 100), default=1),
        # Defaults so that all six values are always sent (Salad's own defaults are not documented).
        "polling_period": Field(Integer(15, 1800, note=" seconds"), default=30),
        "max_upscale_per_minute": Field(Integer(1, 100), default=10),
        "max_downscale_per_minute": Field(Integer(1, 100), default=5),
    }
)

PROBE_TIMING_RANGES: Mapping[str, Integer] = {
    "initial_delay_seconds": Integer(0, 1200),
    "period_seconds": Integer(1, 120),
    "timeout_seconds": Integer(1, 60),
    "success_threshold": Integer(1, 10),
    "failure_threshold": Integer(1, 20),
}

# Salad's per-probe defaults (API spec), filled in when the user leaves a timing out.
PROBE_TIMING_DEFAULTS: Mapping[str, Mapping[str, int]] = {
    "startup_probe": {
        "initial_delay_seconds": 0,
        "period_seconds": 3,
        "timeout_seconds": 10,
        "success_threshold": 2,
        "failure_threshold": 15,
    },
    "liveness_probe": {
        "initial_delay_seconds": 0,
        "period_seconds": 10,
        "timeout_seconds": 30,
        "success_threshold": 1,
        "failure_threshold": 3,
    },
    "readiness_probe": {
        "initial_delay_seconds": 0,
        "period_seconds": 1,
        "timeout_seconds": 1,
        "success_threshold": 1,
        "failure_threshold": 3,
    },
}

PROBE_KEYS: tuple[str, ...] = tuple(PROBE_TIMING_DEFAULTS)


def _probe(probe_key: str) -> Obj:
    defaults = PROBE_TIMING_DEFAULTS[probe_key]
    timings = {name: Field(limits, default=defaults[name]) for name, limits in PROBE_TIMING_RANGES.items()}
    return Obj({**PROBE_PROTOCOLS, **timings}, exactly_one_of=tuple(PROBE_PROTOCOLS))


INPUTS: Mapping[str, Field] = {
    "name": Field(SALAD_NAME, required=True, update=Update.REPLACE),
    "organization": Field(SALAD_NAME, required=True, update=Update.REPLACE),
    "project": Field(SALAD_NAME, required=True, update=Update.REPLACE),
    "display_name": Field(DISPLAY_NAME),
    "image": Field(Text(max_length=1024), required=True),
    "replicas": Field(Integer(0, 500), default=1),
    "cpu": Field(
        Integer(1, 16, note=" vCPUs (Salad's documented limit; the API spec allows up to 1024)"),
        required=True,
    ),
    "memory": Field(
        Integer(1024, 61440, note=" MB, i.e. 1 to 60 GB (Salad's documented limit)"), required=True
    ),
    "gpu_classes": Field(ListOf(Text(max_length=63), min_items=0, max_items=100), default=[]),
    "storage_gb": Field(Integer(1, 250, note=" GiB")),
    "shm_size": Field(Integer(64, 1073741824, note=" MB")),
    "priority": Field(Choice(("high", "medium", "low", "batch"))),
    "country_codes": Field(ListOf(COUNTRY_CODE, min_items=1, max_items=500)),
    "environment_variables": Field(MapOf(Text(max_length=1000)), default={}),
    "command": Field(ListOf(Text(max_length=1000), min_items=1, max_items=100)),
    "image_caching": Field(Boolean(), default=True),
    "registry_authentication": Field(REGISTRY_AUTHENTICATION),
    "restart_policy": Field(
        Choice(("always", "on_failure", "never")), default="always", update=Update.REPLACE
    ),
    "autostart": Field(Boolean(), default=True, update=Update.REPLACE),
    # Turning the gateway on or off needs a new group; inside it only `port` is patchable.
    "gateway": Field(GATEWAY, update=Update.REPLACE),
    **{probe_key: Field(_probe(probe_key)) for probe_key in PROBE_KEYS},
    "queue_connection": Field(QUEUE_CONNECTION, update=Update.REPLACE),
    "queue_autoscaler": Field(QUEUE_AUTOSCALER),
    "min_ready_replicas": Field(Integer(0, 500), default=1, update=Update.PROVIDER),
    "ready_timeout_minutes": Field(Integer(1, 1440), default=45, update=Update.PROVIDER),
    "adopt": Field(Boolean(), default=False, update=Update.PROVIDER),
    # Failure events (exits, OOM, probe failures...) of the awaited version that stop the wait.
    "max_failures": Field(Integer(1, 100), default=3, update=Update.PROVIDER),
    # Opt-in: reallocate an instance stuck downloading/creating for this long. None: never.
    "reallocate_stuck_after_minutes": Field(Number(0.1, 1440, note=" minutes"), update=Update.PROVIDER),
    # After readiness, one tiny txt2img through the gateway must return a PNG.
    "smoke_test": Field(Boolean(), default=False, update=Update.PROVIDER),
}

INPUT_KEYS: tuple[str, ...] = tuple(INPUTS)
# Inputs that only steer the provider: Salad never sees or returns them.
PROVIDER_KEYS: tuple[str, ...] = tuple(key for key, spec in INPUTS.items() if spec.update is Update.PROVIDER)

BYTES_PER_GIB = 1024**3  # storage_gb is in GiB; Salad's storage_amount is in bytes


def update_mode(field: Field, enclosing: Update = Update.PATCH) -> Update:
    return field.update if field.update is not None else enclosing
