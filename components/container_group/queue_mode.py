"""What changes for a group connected to a job queue: what `pulumi up` waits for, and what it costs.

With a queue autoscaler the autoscaler decides the instance count, so the provider waits for at most
`min_replicas` ready instances; with `min_replicas` 0 there may never be one before a job arrives, so
it waits only until the group has left `pending` (image prepared) and is `deploying` or `running`
(waiting.Target.until_deployed).
"""

from __future__ import annotations

from typing import Any

from components.container_group.readiness import required_ready
from components.container_group.validation import normalize_inputs


def queue_name(inputs: dict[str, Any]) -> str | None:
    connection = normalize_inputs(inputs).get("queue_connection")
    return str(connection["queue_name"]) if isinstance(connection, dict) else None


def replica_range(inputs: dict[str, Any]) -> tuple[int, int] | None:
    """(min_replicas, max_replicas) of the queue autoscaler, None without one."""
    autoscaler = normalize_inputs(inputs).get("queue_autoscaler")
    if not isinstance(autoscaler, dict):
        return None
    return int(autoscaler["min_replicas"]), int(autoscaler["max_replicas"])


def ready_target(inputs: dict[str, Any]) -> int:
    """Ready instances to wait for: min_ready_replicas, but never more than the autoscaler's floor."""
    scaled = replica_range(inputs)
    if scaled is None:
        return required_ready(inputs)
    return min(int(normalize_inputs(inputs)["min_ready_replicas"]), scaled[0])


def waits_for_deploy_only(inputs: dict[str, Any]) -> bool:
    return replica_range(inputs) is not None and ready_target(inputs) == 0
