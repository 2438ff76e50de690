"""Pure preflight rules: does the replica quota allow the deploy, and does the GPU exist right now?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.container_group.properties import BYTES_PER_GIB

Inputs = Mapping[str, Any]
# Inputs whose change asks Salad for other hardware (an update changing them gets the availability check).
HARDWARE_KEYS = ("cpu", "memory", "gpu_classes", "storage_gb", "priority", "country_codes")
DEFAULT_PRIORITY = "high"  # what Salad schedules a group without priority as (assumed; the spec is silent)


def quota_problem(name: str, quotas: Mapping[str, Any], *, asked: int, counted: int) -> str | None:
    """Why the quota refuses `asked` replicas to a group that already counts `counted`, if it does."""
    limits = quotas.get("container_groups_quotas") or {}
    quota, used = limits.get("container_replicas_quota"), limits.get("container_replicas_used")
    if not isinstance(quota, int) or not isinstance(used, int):
        return None
    free = quota - used
    more = asked - counted
    if more <= 0 or more <= free:
        return None
    return (
        f"{name}: the organization's container replica quota does not allow {asked} replicas: "
        f"container_replicas_quota is {quota} and container_replicas_used is {used}, so {max(free, 0)} more "
        f"can be deployed and this deploy needs {more}. Lower salad-sd:deployment.replicas, remove other "
        "container groups, or ask Salad support to raise the quota. Nothing was changed."
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


def availability_warning(name: str, answer: Mapping[str, Any], inputs: Inputs) -> str | None:
    """A warning when fewer nodes than replicas fit the hardware at the group's priority right now."""
    priority = str(inputs.get("priority") or DEFAULT_PRIORITY)
    available = answer.get(f"available_gpu_{priority}")
    replicas = int(inputs.get("replicas") or 0)
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
