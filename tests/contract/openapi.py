"""Validators for request bodies built from Salad's official OpenAPI spec (strict: unknown fields fail).

Everything the spec rejects is a violation, except the relaxations listed in RELAXATIONS (one place, each
with its reason); `problems` applies them and nothing else does.
"""

from __future__ import annotations

import copy
import functools
import os
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.paths import REPO_ROOT

DEFAULT_SPEC = REPO_ROOT.parent / "shared" / "salad-api" / "openapi.yaml"
SPEC_URI = "urn:salad-openapi"

# Operation → schema of its request body (`components.requestBodies` in the spec).
CREATE_SCHEMA = "ContainerGroupPrototype"
PATCH_SCHEMA = "ContainerGroupPatch"
LOG_QUERY_SCHEMA = "LogEntryQuery"
GPU_AVAILABILITY_SCHEMA = "GpuAvailabilityPrototype"

# Where we knowingly send what the spec's letter rejects, and why. Nothing else is relaxed.
RELAXATIONS: dict[str, str] = {
    "probe headers may be []": (
        "ContainerGroupProbeHttpHeaders demands minItems 1, yet Salad's own examples and portal send "
        '`"headers": []` (shared/notes/salad-api.md §4); an empty list is how we say "no headers".'
    ),
    "container.priority may be null": (
        'ContainerGroupPriority is `type: ["string", "null"]` but its enum lists only the four names, so '
        "JSON Schema rejects null although the type allows it; null is how a PATCH removes a priority "
        "(Salad's docs: null resets optional fields), and the type states the intent."
    ),
    'a PATCH of only {"container": {"environment_variables": {"NAME": null, ...}}}': (
        "RFC 7386's removal of map keys; env values must be strings in the spec, so the provider sends "
        "this once, on its own, only when Salad merged the whole map it sent instead of replacing it and "
        "no spec-valid body can remove the leftover keys (issue 10). If Salad refuses it, the update fails "
        "naming those keys."
    ),
}


def spec_path() -> Path:
    return Path(os.environ.get("SALAD_OPENAPI_SPEC", str(DEFAULT_SPEC)))


def spec_missing_reason() -> str | None:
    path = spec_path()
    if path.is_file():
        return None
    return f"Salad's OpenAPI spec not found at {path} (set SALAD_OPENAPI_SPEC to its path)"


@functools.cache
def _strict_spec() -> dict[str, Any]:
    spec = yaml.safe_load(spec_path().read_text())
    strict = copy.deepcopy(spec)
    for schema in strict["components"]["schemas"].values():
        _forbid_unknown_properties(schema)
    schemas = strict["components"]["schemas"]
    schemas["ContainerGroupProbeHttpHeaders"]["minItems"] = 0  # RELAXATIONS
    schemas["ContainerGroupPriority"]["enum"] = [
        *schemas["ContainerGroupPriority"]["enum"],
        None,
    ]  # RELAXATIONS
    return strict


def _forbid_unknown_properties(schema: Any) -> None:
    if isinstance(schema, dict):
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        for value in schema.values():
            _forbid_unknown_properties(value)
    elif isinstance(schema, list):
        for item in schema:
            _forbid_unknown_properties(item)


def _is_json_integer(_checker: object, instance: object) -> bool:
    # JSON Schema counts 2.0 as an integer; Salad's int32 fields want `2`, which is what we must send.
    return isinstance(instance, int) and not isinstance(instance, bool)


_StrictValidator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_json_integer),
)


@functools.cache
def validator(schema_name: str) -> jsonschema.protocols.Validator:
    resource = Resource(contents=_strict_spec(), specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
    ref = {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"}
    strict: jsonschema.protocols.Validator = _StrictValidator(ref, registry=registry)
    return strict


def is_env_removal(schema_name: str, body: Any) -> bool:
    """The RFC 7386 env-removal PATCH of RELAXATIONS, exactly: only null values, nothing else in the body."""
    if schema_name != PATCH_SCHEMA or not isinstance(body, dict) or set(body) != {"container"}:
        return False
    container = body["container"]
    if not isinstance(container, dict) or set(container) != {"environment_variables"}:
        return False
    env = container["environment_variables"]
    return isinstance(env, dict) and bool(env) and all(value is None for value in env.values())


def problems(schema_name: str, body: Any) -> list[str]:
    """Every way `body` breaks the schema, but for RELAXATIONS, as `path: message` lines (empty: valid)."""
    if is_env_removal(schema_name, body):
        return []
    errors = sorted(validator(schema_name).iter_errors(body), key=lambda e: list(e.absolute_path))
    return [
        f"{'.'.join(str(p) for p in error.absolute_path) or '<body>'}: {error.message}" for error in errors
    ]
