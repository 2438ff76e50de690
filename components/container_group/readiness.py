"""Pure helpers for the provider's wait-until-ready loop over Salad's instance list."""

from __future__ import annotations

from collections import Counter
from typing import Any

from components.container_group.validation import normalize_inputs

# Salad's instance lifecycle order (salad-api.md §8); labels for instances that are not (yet) counted ready.
_STATE_ORDER = ("allocating", "downloading", "creating", "not ready", "old version", "stopping")


def is_ready(instance: dict[str, Any], newer_than: int | None) -> bool:
    return (
        instance.get("state") == "running"
        and instance.get("ready") is True
        and (newer_than is None or _is_newer(instance, newer_than))
    )


def count_ready(instances: list[dict[str, Any]], newer_than: int | None) -> int:
    """Instances running and passing readiness, of a version above `newer_than` when one is given."""
    return sum(1 for instance in instances if is_ready(instance, newer_than))


def progress_line(name: str, instances: list[dict[str, Any]], want: int, newer_than: int | None) -> str:
    """One line such as `salad-sd-dev: 1/3 ready, 2 downloading (41%, 77%)`.

    Instances not counted ready are grouped by state in lifecycle order; a running instance shows as
    "not ready" while its readiness fails, or "old version" while it runs a version not above `newer_than`.
    """
    waiting = Counter(
        _waiting_label(instance, newer_than) for instance in instances if not is_ready(instance, newer_than)
    )
    ordered = [label for label in _STATE_ORDER if label in waiting]
    ordered += sorted(label for label in waiting if label not in _STATE_ORDER)
    parts = [f"{count_ready(instances, newer_than)}/{want} ready"]
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


def _waiting_label(instance: dict[str, Any], newer_than: int | None) -> str:
    state = str(instance.get("state") or "unknown")
    if state != "running":
        return state
    if newer_than is not None and not _is_newer(instance, newer_than):
        return "old version"
    return "not ready"


def _is_newer(instance: dict[str, Any], newer_than: int) -> bool:
    version = instance.get("version")
    return isinstance(version, int) and version > newer_than
