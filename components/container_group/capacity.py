"""Pure preflight rules: does the replica quota allow the deploy, and does the GPU exist right now?"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.container_group.properties import BYTES_PER_GIB

Inputs = Mapping[str, Any]
# Inputs whose change asks Salad for other hardware (an update changing them gets the availability check).
HARDWARE_KEYS = ("cpu", "memory", "gpu_classes", "storage_gb", "priority", "country_codes")
DEFAULT_PRIORITY = "high"  # what Salad schedules a group without priority as (assumed; the spec is silent)


REPLICAS_KEY = "salad-sd:deployment.replicas"
AUTOSCALER_KEY = "salad-sd:deployment.queue.autoscaler"


@dataclass(frozen=True)
class Shortfall:
    quota: int
    used: int
    free: int  # never negative
    more: int  # replicas the deploy adds


def quota_shortfall(quotas: Mapping[str, Any], *, asked: int, counted: int) -> Shortfall | None:
    """How the quota falls short of `asked` replicas for a group that already counts `counted`, if it does."""
    limits = quotas.get("container_groups_quotas") or {}
    quota, used = limits.get("container_replicas_quota"), limits.get("container_replicas_used")
    if not isinstance(quota, int) or not isinstance(used, int):
        return None
    free, more = quota - used, asked - counted
    if more <= 0 or more <= free:
        return None
    return Shortfall(quota, used, max(free, 0), more)


def quota_problem(
    name: str, quotas: Mapping[str, Any], *, asked: int, counted: int, key: str = REPLICAS_KEY
) -> str | None:
    """Why the quota refuses `asked` replicas (the config `key` that sets them) to a group, if it does."""
    short = quota_shortfall(quotas, asked=asked, counted=counted)
    if short is None:
        return None
    return (
        f"{name}: the organization's container replica quota does not allow {asked} replicas: "
        f"container_replicas_quota is {short.quota} and container_replicas_used is {short.used}, so "
        f"{short.free} more can be deployed and this deploy needs {short.more}. Lower {key}, remove other "
        "container groups, or ask Salad support to raise the quota. Nothing was changed."
    )


def quota_warning(name: str, quotas: Mapping[str, Any], *, max_replicas: int, counted: int) -> str | None:
    """A warning when the quota leaves the queue autoscaler less room than its maximum."""
    short = quota_shortfall(quotas, asked=max_replicas, counted=counted)
    if short is None:
        return None
    return (
        f"{name}: warning: the queue autoscaler may scale to {max_replicas} replicas, but "
        f"container_replicas_quota is {short.quota} and container_replicas_used is {short.used}, so "
        f"{short.free} more can be deployed and its maximum needs {short.more} more. The deploy goes on; "
        f"while the quota is short the autoscaler stops below its maximum. Lower "
        f"{AUTOSCALER_KEY}.maxReplicas, remove other container groups, or ask Salad support to raise the "
        "quota."
    )


def reallocations_per_minute(quotas: Mapping[str, Any]) -> int | None:
    value = (quotas.get("container_groups_quotas") or {}).get("max_container_group_reallocations_per_minute")
    return value if isinstance(value, int) and value > 0 else None


def availability_request(inputs: Inputs, gpu_ids: list[str]) -> dict[str, Any] | None:
    """The `GpuAvailabilityPrototype` for the group's hardware, or None for a CPU-only group."""
    if not gpu_ids:
        return None
    request: dict[str, Any] = {
        "gpu_classes": list(gpu_ids),
        "cpu": int(inputs["cpu"]),
        "memory": int(inputs["memory"]),
    }
    if inputs.get("storage_gb") is not None:
        request["storage_amount"] = int(inputs["storage_gb"]) * BYTES_PER_GIB
    if inputs.get("country_codes"):
        request["country_codes"] = list(inputs["country_codes"])
    return request


def availability_warning(
    name: str, answer: Mapping[str, Any], inputs: Inputs, *, replicas: int
) -> str | None:
    """A warning when fewer nodes than `replicas` (the most the group may run) fit the hardware right now."""
    priority = str(inputs.get("priority") or DEFAULT_PRIORITY)
    available = answer.get(f"available_gpu_{priority}")
    if not isinstance(available, int) or available >= replicas:
        return None
    where = f" in {', '.join(inputs['country_codes'])}" if inputs.get("country_codes") else ""
    gpus = ", ".join(inputs.get("gpu_classes") or [])
    return (
        f"{name}: warning: Salad reports {available} available node(s) with {gpus}, {inputs['cpu']} vCPU, "
        f"{inputs['memory']} MB{where} at priority {priority} for {replicas} replica(s) right now; instances "
        "may wait in allocating. Availability changes by the minute, so the deploy goes on; another GPU "
        "class, a higher priority or fewer countries widen the choice."
    )
