"""Pure helpers for the provider's wait-until-ready loop over Salad's instance list."""

from __future__ import annotations

from collections import Counter
from typing import Any

from components.container_group.validation import normalize_inputs

# Salad's instance lifecycle order (salad-api.md §8); labels for instances that are not (yet) counted ready.
_STATE_ORDER = ("allocating", "downloading", "creating", "not ready", "old version", "stopping")


def is_ready(instance: dict[str, Any], version: int | None) -> bool:
    return (
        instance.get("state") == "running"
        and instance.get("ready") is True
        and (version is None or instance.get("version") == version)
    )


def count_ready(instances: list[dict[str, Any]], version: int | None) -> int:
    """Instances running and passing readiness, on `version` when one is given."""
    return sum(1 for instance in instances if is_ready(instance, version))


def progress_line(name: str, instances: list[dict[str, Any]], want: int, version: int | None) -> str:
    """One line such as `salad-sd-dev: 1/3 ready, 2 downloading (41%, 77%)`.

    Instances not counted ready are grouped by state in lifecycle order; a running instance shows as
    "not ready" while its readiness fails, or "old version" while it still runs an earlier version.
    """
    waiting = Counter(
        _waiting_label(instance, version) for instance in instances if not is_ready(instance, version)
    )
    ordered = [label for label in _STATE_ORDER if label in waiting]
    ordered += sorted(label for label in waiting if label not in _STATE_ORDER)
    parts = [f"{count_ready(instances, version)}/{want} ready"]
    parts += [
        f"{waiting[label]} {label}{_download_progress(instances) if label == 'downloading' else ''}"
        for label in ordered
    ]
    if not instances:
        parts.append("no instances yet")
    return f"{name}: " + ", ".join(parts)


def required_ready(inputs: dict[str, Any]) -> int:
    """How many ready instances the provider waits for: min(min_ready_replicas, replicas)."""
    props = normalize_inputs(inputs)
    return min(int(props["min_ready_replicas"]), int(props["replicas"]))


def _download_progress(instances: list[dict[str, Any]]) -> str:
    """` (41%, 77%)`: Salad's `pulling_progress` of the downloading instances that report one."""
    shown = [
        f"{float(i['pulling_progress']):.0f}%"
        for i in instances
        if i.get("state") == "downloading" and isinstance(i.get("pulling_progress"), int | float)
    ]
    return f" ({', '.join(sorted(shown, key=lambda p: float(p[:-1])))})" if shown else ""


def _waiting_label(instance: dict[str, Any], version: int | None) -> str:
    state = str(instance.get("state") or "unknown")
    if state != "running":
        return state
    if version is not None and instance.get("version") != version:
        return "old version"
    return "not ready"
