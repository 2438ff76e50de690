"""Turn the GPU classes a user writes (names or ids) into the UUIDs Salad's API accepts.

`available` is the `items` list of `GET /organizations/{org}/gpu-classes`: dicts with at least `id`, `name`
and `prices` ([{priority, price (string)}]).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
# Salad's portal names end in the card's memory, e.g. "RTX 3060 Ti (8 GB)".
_MEMORY_SUFFIX = re.compile(r"\s*\(\s*\d+(?:\.\d+)?\s*GB\s*\)\s*$", re.IGNORECASE)


class GpuClassError(ValueError):
    pass


def resolve_gpu_classes(requested: list[str], available: list[dict[str, Any]]) -> list[str]:
    """The ids of the requested classes, in order and without duplicates.

    A UUID must be one of the available ids. A name matches case-insensitively (runs of spaces count as
    one); a name written without the memory suffix also matches the full name, but one written with a
    suffix must match it exactly, so "RTX 3060 (8 GB)" never selects "RTX 3060 (12 GB)".
    """
    ids: list[str] = []
    for wanted in requested:
        gpu_id = _resolve_one(wanted, available)
        if gpu_id not in ids:
            ids.append(gpu_id)
    return ids


def gpu_names_by_id(available: list[dict[str, Any]]) -> dict[str, str]:
    return {str(gpu["id"]): str(gpu["name"]) for gpu in available}


def price_per_hour(gpu_class: Mapping[str, Any], priority: str) -> float | None:
    """The class's hourly price at `priority`, or None when Salad lists no (parsable) price for it."""
    for entry in gpu_class.get("prices") or []:
        if entry.get("priority") == priority:
            try:
                return float(str(entry.get("price")).strip().lstrip("$"))
            except ValueError:
                return None
    return None


def estimated_cost_per_hour(
    available: list[dict[str, Any]], gpu_class_ids: list[str], priority: str | None, replicas: int
) -> float | None:
    """Hourly cost of `replicas` instances on the dearest of the chosen classes (Salad may pick any of
    them), or None when there is no GPU, no priority or a price is missing."""
    if not gpu_class_ids or priority is None:
        return None
    by_id = {str(gpu["id"]): gpu for gpu in available}
    prices = [price_per_hour(by_id[i], priority) if i in by_id else None for i in gpu_class_ids]
    if any(price is None for price in prices):
        return None
    return round(max(p for p in prices if p is not None) * replicas, 4)


def _resolve_one(wanted: str, available: list[dict[str, Any]]) -> str:
    if _UUID.fullmatch(wanted.strip()):
        for gpu in available:
            if str(gpu["id"]).lower() == wanted.strip().lower():
                return str(gpu["id"])
        raise GpuClassError(
            f"GPU class id {wanted!r} is not available to this organization; {_listing(available)}"
        )
    key = _comparable(wanted)
    matches = [gpu for gpu in available if _comparable(gpu["name"]) == key]
    if not matches and not _MEMORY_SUFFIX.search(wanted):
        matches = [gpu for gpu in available if _comparable(_without_memory(gpu["name"])) == key]
    if len(matches) == 1:
        return str(matches[0]["id"])
    if not matches:
        raise GpuClassError(f"unknown GPU class {wanted!r}; {_listing(available)}")
    candidates = ", ".join(f"{gpu['name']} ({gpu['id']})" for gpu in matches)
    raise GpuClassError(
        f"GPU class {wanted!r} is ambiguous: it matches {candidates}; give the id of the one you want"
    )


def _without_memory(name: str) -> str:
    return _MEMORY_SUFFIX.sub("", name)


def _comparable(name: str) -> str:
    return " ".join(name.split()).casefold()


def _listing(available: list[dict[str, Any]]) -> str:
    names = sorted({str(gpu["name"]) for gpu in available}, key=str.casefold)
    if not names:
        return "no GPU classes are available to this organization"
    return "available: " + ", ".join(names)
