"""What changes for a group connected to a job queue: what `pulumi up` waits for, and what it costs.

With a queue autoscaler the autoscaler decides the instance count, so the provider waits for at most
`min_replicas` ready instances; with `min_replicas` 0 there may never be one before a job arrives, so
it waits only until the group has left `pending` (image prepared) and is `deploying` or `running`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from components.container_group.readiness import required_ready
from components.container_group.validation import normalize_inputs
from components.container_group.waiting import GroupRef, Pacing, Serving, WaitFailed, _poll_schedule
from components.salad.client import SaladClient
from components.salad.errors import SaladApiError

_DEPLOYED = ("deploying", "running")


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


def wait_until_deployed(
    client: SaladClient,
    ref: GroupRef,
    *,
    timeout_seconds: float,
    pacing: Pacing,
    say: Callable[[str], None],
) -> Serving:
    """Poll the group until it is deploying or running (starting it once if it sits stopped)."""
    started, last = False, ""
    for _ in _poll_schedule(pacing, timeout_seconds):
        try:
            group = client.get_container_group(ref.organization, ref.project, ref.name)
        except SaladApiError as error:
            if error.is_not_found:
                raise WaitFailed(f"{ref.name}: the group was deleted while waiting for it") from None
            if not error.is_transient:
                raise
            continue
        state = group.get("current_state") or {}
        status = str(state.get("status"))
        if status == "failed":
            description = state.get("description") or "no description given"
            raise WaitFailed(f"{ref.name}: Salad reports the container group failed: {description}")
        if status in _DEPLOYED:
            say(f"{ref.name}: {status}; the queue autoscaler starts instances as jobs arrive (min 0)")
            return Serving(group, 0)
        if status == "stopped" and not started:
            client.start_container_group(ref.organization, ref.project, ref.name)
            started = True
        line = f"{ref.name}: {'preparing the image (pending)' if status == 'pending' else status}"
        if line != last:
            say(line)
            last = line
    raise WaitFailed(
        f"{ref.name}: still not deployed after {timeout_seconds / 60:.1f} minutes "
        f"(last seen: {last or 'no answer'}); raise ready_timeout_minutes (waitForReady.timeoutMinutes) "
        "or check the group in the Salad portal"
    )
