"""Which inputs changed, and which of those changes Salad cannot make in place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pulumi.output import contains_unknowns

from components.container_group.properties import INPUTS, Field, Obj, Update, update_mode
from components.container_group.validation import normalize_inputs

# Group names are unique within an organization's project.
_IDENTITY_KEYS = ("organization", "project", "name")
# Patchable while set, but no spec-valid PATCH removes them (`container.registry_authentication` is not
# nullable), so removing one needs a new group.
_REMOVAL_REPLACES = ("registry_authentication",)


@dataclass(frozen=True)
class InputDiff:
    changed: list[str]
    replaces: list[str]
    delete_before_replace: bool


def diff_inputs(olds: dict[str, Any], news: dict[str, Any]) -> InputDiff:
    """Compare the input properties of `olds` (stored outputs) and `news` (checked inputs).

    Only the keys of the properties table are compared, after normalizing both sides (floats, defaults),
    so `__provider`, outputs and 2 vs 2.0 never count. A value holding an Unknown counts as changed.
    A replacement deletes first when the new group would take the old one's name in the same project
    (or might: an Unknown identity is assumed to collide).
    """
    old, new = normalize_inputs(olds), normalize_inputs(news)
    changed = [key for key in INPUTS if _differs(old.get(key), new.get(key))]
    replaces = [
        key
        for key in changed
        if _needs_replace(INPUTS[key], old.get(key), new.get(key))
        or (key in _REMOVAL_REPLACES and old.get(key) is not None and new.get(key) is None)
    ]
    collide = all(old.get(key) == new.get(key) or contains_unknowns(new.get(key)) for key in _IDENTITY_KEYS)
    return InputDiff(changed=changed, replaces=replaces, delete_before_replace=bool(replaces) and collide)


def _differs(old: Any, new: Any) -> bool:
    return bool(contains_unknowns(new)) or old != new


def _needs_replace(field: Field, old: Any, new: Any, enclosing: Update = Update.PATCH) -> bool:
    mode = update_mode(field, enclosing)
    if not _differs(old, new):
        return False
    # An object present on both sides is judged field by field: a gateway whose port alone changed is patched.
    if isinstance(field.spec, Obj) and isinstance(old, dict) and isinstance(new, dict):
        return any(
            _needs_replace(sub_field, old.get(key), new.get(key), mode)
            for key, sub_field in field.spec.fields.items()
        )
    return mode is Update.REPLACE
