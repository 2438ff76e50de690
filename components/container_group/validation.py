"""check_inputs: normalize and validate the resource inputs against the table in properties.py.

Numbers arrive from the engine as floats: integral floats become ints, others are failures. Values that
are `pulumi.output.Unknown` (preview) are returned untouched and not validated; the known parts of an
object or list that contains an Unknown are still checked and defaulted.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from pulumi.output import Unknown

from components.container_group.properties import (
    INPUTS,
    Boolean,
    Choice,
    Field,
    Integer,
    ListOf,
    MapOf,
    Number,
    Obj,
    Spec,
    Text,
)


class Failure(NamedTuple):
    property: str
    reason: str


Checked = tuple[Any, list[Failure]]

_SHOWN_CHARS = 60


def check_inputs(news: dict[str, Any]) -> tuple[dict[str, Any], list[Failure]]:
    """All of `news`, normalized and with defaults filled, plus every failure found.

    Keys that are not input properties (`__provider`, anything unknown) pass through untouched.
    """
    checked, failures = check_against(INPUTS, news)
    return checked, failures + _queue_failures(checked)


def _queue_failures(checked: dict[str, Any]) -> list[Failure]:
    """Rules across fields of queue mode: an autoscaler needs a queue, and its minimum its maximum."""
    autoscaler = checked.get("queue_autoscaler")
    if not isinstance(autoscaler, dict):
        return []
    if checked.get("queue_connection") is None:
        reason = "queue_autoscaler needs queue_connection: the autoscaler scales the group with a queue"
        return [Failure("queue_autoscaler", reason)]
    low, high = autoscaler.get("min_replicas"), autoscaler.get("max_replicas")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        reason = f"queue_autoscaler.min_replicas must not exceed the maximum replicas ({low} > {high})"
        return [Failure("queue_autoscaler.min_replicas", reason)]
    return []


def check_against(table: Mapping[str, Field], news: dict[str, Any]) -> tuple[dict[str, Any], list[Failure]]:
    """`check_inputs` for another resource's properties table (the Queue resource reuses the engine)."""
    checked = dict(news)
    failures: list[Failure] = []
    for key, field in table.items():
        value, found = _check_field(field, news.get(key), key)
        failures.extend(found)
        if value is not None or key in news:
            checked[key] = value
    return checked, failures


def normalize_inputs(props: dict[str, Any]) -> dict[str, Any]:
    """The normalized form of `props` (ints, defaults); failures are ignored."""
    return check_inputs(props)[0]


def _check_field(field: Field, value: Any, path: str) -> Checked:
    if value is None:
        if field.required:
            return None, [Failure(path, f"{path} is required")]
        return copy.deepcopy(field.default), []
    return _check(field.spec, value, path)


def _check(spec: Spec, value: Any, path: str) -> Checked:
    if isinstance(value, Unknown):
        return value, []
    match spec:
        case Integer():
            return _check_integer(spec, value, path)
        case Number():
            return _check_number(spec, value, path)
        case Boolean():
            if isinstance(value, bool):
                return value, []
            return value, [Failure(path, f"{path} must be true or false, got {show(value)}")]
        case Text():
            return _check_text(spec, value, path)
        case Choice():
            if isinstance(value, str) and value in spec.options:
                return value, []
            options = ", ".join(spec.options)
            return value, [Failure(path, f"{path} must be one of {options}, got {show(value)}")]
        case ListOf():
            return _check_list(spec, value, path)
        case MapOf():
            return _check_map(spec, value, path)
        case Obj():
            return _check_object(spec, value, path)


def _check_integer(spec: Integer, value: Any, path: str) -> Checked:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    if number is not None and spec.minimum <= number <= spec.maximum:
        return number, []
    shown = show(value if number is None else number)
    reason = f"{path} must be an integer between {spec.minimum} and {spec.maximum}{spec.note}, got {shown}"
    return value, [Failure(path, reason)]


def _check_number(spec: Number, value: Any, path: str) -> Checked:
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and spec.minimum <= value <= spec.maximum
    )
    if ok:
        return float(value), []
    reason = (
        f"{path} must be a number between {spec.minimum:g} and {spec.maximum:g}{spec.note}, got {show(value)}"
    )
    return value, [Failure(path, reason)]


def _check_text(spec: Text, value: Any, path: str) -> Checked:
    if not isinstance(value, str):
        return value, [Failure(path, f"{path} must be a string, got {show(value, spec.secret)}")]
    length_ok = spec.min_length <= len(value) <= spec.max_length
    shape_ok = (spec.pattern is None or re.fullmatch(spec.pattern, value) is not None) and (
        spec.allowed is None or value in spec.allowed
    )
    if length_ok and shape_ok:
        return value, []
    if spec.allowed is not None:
        wanted = spec.described_as
        if value.lower() in spec.allowed:
            wanted += f" (use lower case: {value.lower()!r})"
    else:
        wanted = f"{spec.min_length} to {spec.max_length} characters"
        if spec.described_as:
            wanted += f" of {spec.described_as}"
    return value, [Failure(path, f"{path} must be {wanted}, got {show(value, spec.secret)}")]


def _check_list(spec: ListOf, value: Any, path: str) -> Checked:
    if not isinstance(value, list):
        return value, [Failure(path, f"{path} must be a list, got {show(value)}")]
    failures: list[Failure] = []
    if not spec.min_items <= len(value) <= spec.max_items:
        reason = f"{path} must have between {spec.min_items} and {spec.max_items} items, got {len(value)}"
        failures.append(Failure(path, reason))
    items = []
    for index, item in enumerate(value):
        checked, found = _check(spec.item, item, f"{path}[{index}]")
        items.append(checked)
        failures.extend(found)
    return items, failures


def _check_map(spec: MapOf, value: Any, path: str) -> Checked:
    if not isinstance(value, dict):
        return value, [Failure(path, f"{path} must be a map of strings to strings, got {show(value)}")]
    failures: list[Failure] = []
    entries = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            failures.append(Failure(path, f"{path} keys must be non-empty strings, got {show(key)}"))
        checked, found = _check(spec.value, item, f"{path}.{key}")
        entries[key] = checked
        failures.extend(found)
    return entries, failures


def _check_object(spec: Obj, value: Any, path: str) -> Checked:
    expected = ", ".join(spec.fields)
    if not isinstance(value, dict):
        # The type only: a credential written as a plain string must not be echoed.
        reason = f"{path} must be an object with keys among {expected}, got a {_type_of(value)}"
        return value, [Failure(path, reason)]
    failures = [
        Failure(path, f"{path} has unexpected key {key!r}; expected keys among {expected}")
        for key in value
        if key not in spec.fields
    ]
    if spec.exactly_one_of:
        chosen = [key for key in spec.exactly_one_of if value.get(key) is not None]
        if len(chosen) != 1:
            options = ", ".join(spec.exactly_one_of)
            got = ", ".join(chosen) or "none"
            failures.append(Failure(path, f"{path} must set exactly one of {options}; got {got}"))
    checked: dict[str, Any] = {}
    for key, field in spec.fields.items():
        if key in spec.exactly_one_of and value.get(key) is None:
            continue
        field_value, found = _check_field(field, value.get(key), f"{path}.{key}")
        failures.extend(found)
        if field_value is not None:
            checked[key] = field_value
    return checked, failures


def _type_of(value: Any) -> str:
    return type(value).__name__


def show(value: Any, secret: bool = False) -> str:
    """repr of a value for a failure message, shortened; a secret is described, never echoed."""
    if secret:  # describe, never echo
        return f"a hidden string of {len(value)} characters" if isinstance(value, str) else _type_of(value)
    shown = repr(value)
    return shown if len(shown) <= _SHOWN_CHARS else shown[: _SHOWN_CHARS - 3] + "..."
