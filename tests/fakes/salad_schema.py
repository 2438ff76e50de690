"""A tiny JSON-schema-like vocabulary and the SaladCloud request schemas written in it.

The schemas are transcribed by hand from the official OpenAPI spec (`/work/shared/salad-api/openapi.yaml`,
0.9.0-alpha.17): `ContainerGroupPrototype` (create) and `ContainerGroupPatch` (update). The checking
engine lives in `salad_rules.py`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,61}[a-z0-9]$"
DISPLAY_NAME_PATTERN = r"^[ ,-.0-9A-Za-z]+$"
CRON_PATTERN = r"^([0-9A-Za-z*/,-]+)([\t ]+[0-9A-Za-z*/,-]+){4}$"

_COUNTRY_TEXT = """
af al dz as ad ao ai aq ag ar am aw au at az bs bh bd bb by be bz bj bm bt bo bq ba bw bv br io bn bg
bf bi cv kh cm ca ky cf td cl cn cx cc co km cd cg ck cr hr cu cw cy cz ci dk dj dm do ec eg sv gq er
ee sz et fk fo fj fi fr gf pf tf ga gm ge de gh gi gr gl gd gp gu gt gg gn gw gy ht hm va hn hk hu is
in id ir iq ie im il it jm jp je jo kz ke ki kp kr kw kg la lv lb ls lr ly li lt lu mo mg mw my mv ml
mt mh mq mr mu yt mx fm md mc mn me ms ma mz mm na nr np nl nc nz ni ne ng nu nf mp no om pk pw ps pa
pg py pe ph pn pl pt pr qa mk ro ru rw re bl sh kn lc mf pm vc ws sm st sa sn rs sc sl sg sx sk si sb
so za gs ss es lk sd sr sj se ch sy tw tj tz th tl tg tk to tt tn tr tm tc tv ug ua ae gb um us uy uz
vu ve vn vg vi wf eh ye zm zw ax
"""
COUNTRY_CODES = frozenset(_COUNTRY_TEXT.split())


@dataclass(frozen=True)
class Node:
    """One schema node. `kind` is object | array | map | string | integer | boolean."""

    kind: str
    nullable: bool = False  # null allowed in a create body and a PATCH body
    patch_nullable: bool = False  # null allowed in a PATCH body only (`Update*` schemas of the spec)
    props: dict[str, Node] = field(default_factory=dict)
    required: frozenset[str] = frozenset()
    exactly_one: tuple[str, ...] = ()  # object: exactly one of these keys must be present and non-null
    not_patchable: frozenset[str] = frozenset()  # object: known keys that may not appear (PATCH)
    hints: dict[str, str] = field(default_factory=dict)  # object: extra text for an unknown key
    items: Node | None = None  # array items / map values
    lo: int | None = None  # integer minimum, string minLength, array minItems
    hi: int | None = None
    pattern: str | None = None
    enum: frozenset[str] | None = None
    enum_text: str | None = None  # how to describe a large enum in a message
    fmt: str | None = None  # "uuid" | "gpu_class"


def obj(
    props: dict[str, Node],
    required: tuple[str, ...] = (),
    *,
    nullable: bool = False,
    exactly_one: tuple[str, ...] = (),
    not_patchable: tuple[str, ...] = (),
    hints: dict[str, str] | None = None,
) -> Node:
    return Node(
        "object",
        nullable=nullable,
        props=props,
        required=frozenset(required),
        exactly_one=exactly_one,
        not_patchable=frozenset(not_patchable),
        hints=hints or {},
    )


def integer(lo: int, hi: int, *, nullable: bool = False) -> Node:
    return Node("integer", nullable=nullable, lo=lo, hi=hi)


def string(lo: int = 1, hi: int = 1000, *, pattern: str | None = None, nullable: bool = False) -> Node:
    return Node("string", nullable=nullable, lo=lo, hi=hi, pattern=pattern)


def enum(*values: str, nullable: bool = False, text: str | None = None) -> Node:
    return Node("string", nullable=nullable, enum=frozenset(values), enum_text=text)


def patch_nullable(node: Node) -> Node:
    """`node` as the spec's PATCH schema has it: `null` allowed (RFC 7386 removal)."""
    return dataclasses.replace(node, patch_nullable=True)


def boolean() -> Node:
    return Node("boolean")


def array(items: Node, lo: int = 0, hi: int = 100, *, nullable: bool = False) -> Node:
    return Node("array", nullable=nullable, items=items, lo=lo, hi=hi)


def string_map(values: Node) -> Node:
    return Node("map", items=values)


def gpu_class_id() -> Node:
    return Node("string", fmt="gpu_class")


# --- probes -------------------------------------------------------------------------------------------------

_NAME_VALUE_1024 = obj({"name": string(1, 256), "value": string(1, 1024)}, ("name", "value"))
PROBE_HTTP = obj(
    {
        "path": string(1, 2048),
        "port": integer(0, 65536),
        "scheme": enum("http", "https", nullable=True),
        # the spec says minItems 1, but Salad's own examples send [] - accepted
        "headers": array(_NAME_VALUE_1024, 0, 50),
    },
    ("headers", "path", "port", "scheme"),
)
PROBE_TCP = obj({"port": integer(0, 65535)}, ("port",))
PROBE_GRPC = obj({"port": integer(0, 65536), "service": string(0, 1024)}, ("port", "service"))
PROBE_EXEC = obj({"command": array(string(1, 2048), 1, 100)}, ("command",))
PROBE_PROTOCOLS = ("http", "tcp", "grpc", "exec")

PROBE = obj(
    {
        "http": PROBE_HTTP,
        "tcp": PROBE_TCP,
        "grpc": PROBE_GRPC,
        "exec": PROBE_EXEC,
        "initial_delay_seconds": integer(0, 1200),
        "period_seconds": integer(1, 120),
        "timeout_seconds": integer(1, 60),
        "success_threshold": integer(1, 10),
        "failure_threshold": integer(1, 20),
    },
    ("failure_threshold", "initial_delay_seconds", "period_seconds", "success_threshold", "timeout_seconds"),
    nullable=True,
    exactly_one=PROBE_PROTOCOLS,
)

# --- container ----------------------------------------------------------------------------------------------

_NAME_VALUE_1000 = obj({"name": string(), "value": string()}, ("name", "value"))
LOGGING = obj(
    {
        "axiom": obj(
            {"host": string(), "api_token": string(), "dataset": string()}, ("host", "api_token", "dataset")
        ),
        "datadog": obj(
            {"host": string(), "api_key": string(), "tags": array(_NAME_VALUE_1000, 0, 1000, nullable=True)},
            ("host", "api_key", "tags"),
        ),
        "http": obj(
            {
                "host": string(),
                "port": integer(1, 65535),
                "format": enum("json", "json_lines"),
                "compression": enum("none", "gzip"),
                "headers": array(_NAME_VALUE_1000, 0, 1000, nullable=True),
                "path": string(nullable=True),
                "user": string(nullable=True),
                "password": string(nullable=True),
            },
            ("host", "port", "format", "compression"),
        ),
        "new_relic": obj({"host": string(), "ingestion_key": string()}, ("host", "ingestion_key")),
        "splunk": obj({"host": string(), "token": string()}, ("host", "token")),
        "tcp": obj({"host": string(), "port": integer(1, 65535)}, ("host", "port")),
    },
    exactly_one=("axiom", "datadog", "http", "new_relic", "splunk", "tcp"),
)


def _secret() -> Node:
    return string(1, 10000)


REGISTRY_AUTH = obj(
    {
        "aws_ecr": obj(
            {"access_key_id": _secret(), "secret_access_key": _secret()},
            ("access_key_id", "secret_access_key"),
            nullable=True,  # the spec's only nullable credential kind (a quirk, kept)
        ),
        "basic": obj({"username": _secret(), "password": _secret()}, ("username", "password")),
        "docker_hub": obj(
            {"username": _secret(), "personal_access_token": _secret()}, ("username", "personal_access_token")
        ),
        "gcp_gar": obj({"service_key": _secret()}, ("service_key",)),
        "gcp_gcr": obj({"service_key": _secret()}, ("service_key",)),
    },
    exactly_one=("aws_ecr", "basic", "docker_hub", "gcp_gar", "gcp_gcr"),
)

RESOURCES = obj(
    {
        "cpu": integer(1, 1024),
        "memory": integer(1024, 1073741824),
        "gpu_classes": array(gpu_class_id(), 0, 100),
        "storage_amount": integer(1073741824, 1125899906842624),
        "shm_size": integer(64, 1073741824),
    },
    ("cpu", "memory"),
)

CONTAINER = obj(
    {
        "image": string(1, 2048),
        "command": array(string(1, 1000), 0, 100, nullable=True),
        "environment_variables": string_map(string(1, 1000)),
        "image_caching": boolean(),
        "logging": LOGGING,
        "priority": enum("high", "medium", "low", "batch", nullable=True),
        "registry_authentication": REGISTRY_AUTH,
        "resources": RESOURCES,
    },
    ("image", "resources"),
)

# In a PATCH: null allowed exactly where the spec's `UpdateContainer` allows it. Not for the environment map
# or its values, image_caching, or registry_authentication and its kinds (aws_ecr excepted, as on create).
PATCH_RESOURCES = patch_nullable(
    dataclasses.replace(RESOURCES, props={key: patch_nullable(node) for key, node in RESOURCES.props.items()})
)
PATCH_CONTAINER = patch_nullable(
    dataclasses.replace(
        CONTAINER,
        props={
            **CONTAINER.props,
            "image": patch_nullable(string(1, 1024)),
            "logging": patch_nullable(LOGGING),
            "resources": PATCH_RESOURCES,
        },
    )
)

# --- group --------------------------------------------------------------------------------------------------

_TIMEOUT_MS = integer(1, 100000)
NETWORKING_FIELDS_NOT_PATCHABLE = (
    "protocol",
    "auth",
    "load_balancer",
    "single_connection_limit",
    "client_request_timeout",
    "server_response_timeout",
    "dns",
)
CREATE_NETWORKING = obj(
    {
        "protocol": enum("http"),
        "port": integer(1, 65535),
        "auth": boolean(),
        "load_balancer": enum("round_robin", "least_number_of_connections"),
        "single_connection_limit": boolean(),
        "client_request_timeout": _TIMEOUT_MS,
        "server_response_timeout": _TIMEOUT_MS,
    },
    ("protocol", "port", "auth"),
)
PATCH_NETWORKING = obj(
    {"port": patch_nullable(integer(1, 65535))}, not_patchable=NETWORKING_FIELDS_NOT_PATCHABLE
)

QUEUE_CONNECTION = obj(
    {"path": string(1, 1024), "port": integer(1, 65535), "queue_name": string(2, 63, pattern=NAME_PATTERN)},
    ("path", "port", "queue_name"),
)
QUEUE_AUTOSCALER = obj(
    {
        "min_replicas": integer(0, 100),
        "max_replicas": integer(1, 500),
        "desired_queue_length": integer(1, 100),
        "polling_period": integer(15, 1800),
        "max_upscale_per_minute": integer(1, 100),
        "max_downscale_per_minute": integer(1, 100),
    },
    ("desired_queue_length", "max_replicas", "min_replicas"),
)
SCALING_ACTION = obj(
    {"schedule": string(1, 1000, pattern=CRON_PATTERN), "replicas": integer(0, 500)}, ("schedule", "replicas")
)
COUNTRY_CODE = enum(*COUNTRY_CODES, text="a lower-case ISO 3166-1 alpha-2 country code")

_COMMON_GROUP_PROPS: dict[str, Node] = {
    "display_name": string(2, 63, pattern=DISPLAY_NAME_PATTERN),
    "container": CONTAINER,
    "replicas": integer(0, 500),
    "country_codes": array(COUNTRY_CODE, 1, 500),
    "liveness_probe": PROBE,
    "readiness_probe": PROBE,
    "startup_probe": PROBE,
    "queue_autoscaler": QUEUE_AUTOSCALER,
    "scaling-actions": array(SCALING_ACTION, 0, 100),
    "scheduled-scaling-enabled": boolean(),
}

_PRIORITY_HINT = {"priority": "priority belongs under container (container.priority)"}

CREATE_GROUP = obj(
    {
        **_COMMON_GROUP_PROPS,
        "name": string(2, 63, pattern=NAME_PATTERN),
        "autostart_policy": boolean(),
        "restart_policy": enum("always", "on_failure", "never"),
        "networking": CREATE_NETWORKING,
        "queue_connection": QUEUE_CONNECTION,
    },
    ("name", "container", "autostart_policy", "replicas", "restart_policy"),
    hints=_PRIORITY_HINT,
)

PATCH_GROUP = obj(
    {
        **_COMMON_GROUP_PROPS,
        **{
            key: patch_nullable(_COMMON_GROUP_PROPS[key])
            for key in ("display_name", "replicas", "country_codes")
        },
        "container": PATCH_CONTAINER,
        "networking": PATCH_NETWORKING,
    },
    not_patchable=(
        "name",
        "autostart_policy",
        "restart_policy",
        "queue_connection",
        # response-only fields someone might echo back from a GET
        "id",
        "organization_name",
        "project_name",
        "current_state",
        "pending_change",
        "version",
        "create_time",
        "update_time",
        "readme",
    ),
    hints=_PRIORITY_HINT,
)
