"""Request-body validation by SaladCloud's rules, and RFC 7386 merge-patch.

All validators are pure functions returning a list of problems (strings that start with the field path, e.g.
``container.resources.cpu must be between 1 and 1024``); an empty list means the body is acceptable.

Rules (from the OpenAPI spec, see `salad_schema.py`): required fields, patterns, lengths, ranges, enums,
unknown fields are rejected everywhere, JSON integers must be integers (``2.0`` is rejected), booleans must
be booleans, GPU classes must be UUIDs of known classes, exactly one probe protocol / logging provider /
registry credential.

PATCH bodies are checked in "patch mode": nothing is required and ``null`` (RFC 7386 deletion) is accepted
only where the spec's PATCH schema allows it (`Node.patch_nullable`): a whole probe, display_name, replicas,
country_codes, container, its command/image/logging/priority/resources and each resource field,
networking.port. Never inside a probe (``"http": null``), never for the environment map or one of its values,
never for registry_authentication. The knob ``env_null_deletes`` accepts ``{"NAME": null}`` in the
environment map (if Salad turns out to honour RFC 7386 there). The *merged* document is then checked like a
create body (`validate_merged`), which reports e.g. ``container.image is required`` for
``{"container": {"image": null}}``.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Iterable
from typing import Any

from tests.fakes.salad_schema import CREATE_GROUP, PATCH_GROUP, Node

Json = Any


def validate_create(body: Json, gpu_class_ids: Iterable[str]) -> list[str]:
    """Problems with a `ContainerGroupPrototype` (POST …/containers) body."""
    return _Checker(set(gpu_class_ids), patch_mode=False).run(CREATE_GROUP, body)


def validate_patch(body: Json, gpu_class_ids: Iterable[str], *, env_null_deletes: bool = False) -> list[str]:
    """Problems with a `ContainerGroupPatch` body taken on its own (patch mode, see module docstring)."""
    checker = _Checker(set(gpu_class_ids), patch_mode=True, env_null_deletes=env_null_deletes)
    return checker.run(PATCH_GROUP, body)


def validate_body(node: Node, body: Json, gpu_class_ids: Iterable[str]) -> list[str]:
    """Problems with any other request body, against its schema node."""
    return _Checker(set(gpu_class_ids), patch_mode=False).run(node, body)


def validate_patch_against(current: dict[str, Json], body: dict[str, Json]) -> list[str]:
    """Problems that depend on the stored group: the gateway can be neither added nor removed by PATCH."""
    problems: list[str] = []
    if "networking" in body:
        if body["networking"] is None:
            problems.append("networking cannot be removed (not patchable); replace the container group")
        elif current.get("networking") is None:
            problems.append("networking cannot be added (not patchable); replace the container group")
    return problems


def validate_merged(merged: Json, gpu_class_ids: Iterable[str]) -> list[str]:
    """Problems with a stored document after a merge-patch (checked like a create body)."""
    return validate_create(merged, gpu_class_ids)


def merge_patch(target: Json, patch: Json) -> Json:
    """RFC 7386 JSON Merge Patch, literally: objects merge recursively, null deletes, the rest replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: dict[str, Json] = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_type_name(value: Json) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


_KIND_TEXT = {
    "object": "an object",
    "map": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "boolean": "a boolean",
}


def _is_kind(kind: str, value: Json) -> bool:
    if kind in ("object", "map"):
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    raise ValueError(kind)


class _Checker:
    def __init__(self, gpu_class_ids: set[str], *, patch_mode: bool, env_null_deletes: bool = False) -> None:
        self.gpu_class_ids = gpu_class_ids
        self.patch_mode = patch_mode
        self.env_null_deletes = env_null_deletes
        self.problems: list[str] = []

    def run(self, node: Node, body: Json) -> list[str]:
        if not isinstance(body, dict):
            return [f"request body must be a JSON object, not {json_type_name(body)}"]
        self._object(node, body, "", self.patch_mode)
        return self.problems

    def _add(self, path: str, text: str) -> None:
        self.problems.append(f"{path or 'request body'} {text}")

    def _value(self, node: Node, value: Json, path: str, patch: bool) -> None:
        if value is None:
            if not (node.nullable or (patch and node.patch_nullable)):
                self._add(path, f"must be {_KIND_TEXT[node.kind]}, not null")
            return
        if not _is_kind(node.kind, value):
            self._add(path, f"must be {_KIND_TEXT[node.kind]}, not {json_type_name(value)} ({_short(value)})")
            return
        if node.kind == "object":
            self._object(node, value, path, patch)
        elif node.kind == "map":
            self._map(node, value, path, patch)
        elif node.kind == "array":
            self._array(node, value, path)
        elif node.kind == "string":
            self._string(node, value, path)
        elif node.kind == "integer":
            self._integer(node, value, path)

    def _object(self, node: Node, value: dict[str, Json], path: str, patch: bool) -> None:
        for key, item in value.items():
            sub = f"{path}.{key}" if path else key
            if key in node.props:
                self._value(node.props[key], item, sub, patch)
            elif key in node.not_patchable:
                self._add(
                    sub, "cannot be changed after creation (not patchable); replace the container group"
                )
            else:
                hint = node.hints.get(key)
                self._add(sub, "is not a known field" + (f" ({hint})" if hint else ""))
        if patch:
            return
        for key in sorted(node.required):
            if key not in value:
                self._add(f"{path}.{key}" if path else key, "is required")
        if node.exactly_one:
            present = [k for k in node.exactly_one if value.get(k) is not None]
            if len(present) != 1:
                found = ", ".join(present) if present else "none"
                self._add(path, f"must have exactly one of {', '.join(node.exactly_one)} (found: {found})")

    def _map(self, node: Node, value: dict[str, Json], path: str, patch: bool) -> None:
        assert node.items is not None
        for key, item in value.items():
            if not key:
                self._add(path, "must not contain an empty key")
                continue
            if item is None and patch and self.env_null_deletes:
                continue
            self._value(node.items, item, f"{path}.{key}", patch)

    def _array(self, node: Node, value: list[Json], path: str) -> None:
        assert node.items is not None
        self._count(node, len(value), path, "items")
        for i, item in enumerate(value):
            # arrays replace wholesale under merge-patch: items are always complete values
            self._value(node.items, item, f"{path}[{i}]", False)

    def _string(self, node: Node, value: str, path: str) -> None:
        if node.enum is not None:
            if value not in node.enum:
                allowed = node.enum_text or "one of " + ", ".join(sorted(node.enum))
                self._add(path, f"must be {allowed} (got {value!r})")
            return
        if node.fmt == "gpu_class":
            try:
                uuid.UUID(value)
            except ValueError:
                self._add(path, f"must be a GPU class UUID (got {value!r})")
                return
            if value.lower() not in self.gpu_class_ids:
                self._add(path, f"is not a known GPU class id ({value})")
            return
        if "\n" in value or "\r" in value:
            self._add(path, "must not contain line breaks")
        self._count(node, len(value), path, "characters long")
        if node.pattern is not None and not re.fullmatch(node.pattern, value):
            self._add(path, f"must match the pattern {node.pattern} (got {value!r})")

    def _integer(self, node: Node, value: int, path: str) -> None:
        lo, hi = node.lo, node.hi
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            self._add(path, f"must be between {lo} and {hi} (got {value})")

    def _count(self, node: Node, n: int, path: str, unit: str) -> None:
        lo, hi = node.lo, node.hi
        if (lo is not None and n < lo) or (hi is not None and n > hi):
            if unit == "items":
                self._add(path, f"must have between {lo} and {hi} items (got {n})")
            else:
                self._add(path, f"must be between {lo} and {hi} {unit} (got {n})")


def _short(value: Json) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
