"""Polling loops of the provider: wait until a group really serves, and wait until it is gone.

One call per poll: the group while Salad prepares the image, then its instances (their states,
readiness and version tell the progress), with a look at the group now and then to catch a stop, a
failure or a delete. The first poll comes soon, the rest on a steady schedule that the client's rate
budget covers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from components.container_group.readiness import count_ready, progress_line
from components.container_group.waiting_events import EventWatch, WaitStopped
from components.salad.client import SaladClient
from components.salad.errors import SaladApiError

GROUP_CHECK_EVERY = 6  # polls of instances between two looks at the group itself


class WaitFailed(Exception):
    """The group cannot reach the wanted state: failed, vanished, or out of time."""


@dataclass(frozen=True)
class GroupRef:
    organization: str
    project: str
    name: str


@dataclass(frozen=True)
class Pacing:
    first_poll_seconds: float = 1.0
    poll_seconds: float = 5.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class Serving:
    group: dict[str, Any]
    ready: int


def wait_until_serving(
    client: SaladClient,
    ref: GroupRef,
    *,
    want: int,
    version: int | None,
    timeout_seconds: float,
    pacing: Pacing,
    say: Callable[[str], None],
    watch: EventWatch | None = None,
) -> Serving:
    """Poll until `want` instances (of `version`, when given) run and pass readiness.

    Starts the group if it sits stopped. Raises WaitFailed with Salad's description when the group goes
    `failed`, when it disappears, at the deadline, or when `watch` sees the instances keep failing.
    """
    group: dict[str, Any] | None = None
    instances: list[dict[str, Any]] = []
    polls_of_instances = 0
    started = False
    last_line = ""

    def report(line: str) -> None:
        nonlocal last_line
        if line != last_line:
            say(line)
            last_line = line

    for _ in _poll_schedule(pacing, timeout_seconds):
        try:
            if group is None or not _deploying(group) or polls_of_instances >= GROUP_CHECK_EVERY:
                group = client.get_container_group(ref.organization, ref.project, ref.name)
                polls_of_instances = 0
                status = _status(group)
                if status == "failed":
                    description = group["current_state"].get("description") or "no description given"
                    raise WaitFailed(f"{ref.name}: Salad reports the container group failed: {description}")
                if status == "stopped" and want > 0 and not started:
                    client.start_container_group(ref.organization, ref.project, ref.name)
                    started = True
                    say(f"{ref.name}: the group was stopped; started it")
                if want == 0:
                    return Serving(group, 0)
                if not _deploying(group):
                    report(f"{ref.name}: {_PHASES.get(status, status)}")
                    continue
            instances = client.list_instances(ref.organization, ref.project, ref.name)
            polls_of_instances += 1
        except SaladApiError as error:
            if error.is_not_found:
                raise WaitFailed(f"{ref.name}: the group was deleted while waiting for it") from None
            if not error.is_transient:
                raise
            say(f"{ref.name}: Salad did not answer this poll ({error.title}); still waiting")
            continue
        ready = count_ready(instances, version)
        report(progress_line(ref.name, instances, want, version))
        if ready >= want:
            return Serving(group, ready)
        if watch is not None:
            awaited = version if version is not None else group.get("version")
            try:
                watch.observe(instances, version=awaited, ready=ready, want=want, now=pacing.clock())
            except WaitStopped as stopped:
                raise WaitFailed(str(stopped)) from None
    details = f"\n{watch.timeout_details()}" if watch is not None else ""
    raise WaitFailed(_timeout_message(ref, want, timeout_seconds, last_line) + details)


def wait_until_gone(client: SaladClient, ref: GroupRef, *, timeout_seconds: float, pacing: Pacing) -> None:
    """Poll until GET answers 404; WaitFailed at the deadline."""
    for _ in _poll_schedule(pacing, timeout_seconds):
        try:
            client.get_container_group(ref.organization, ref.project, ref.name)
        except SaladApiError as error:
            if error.is_not_found:
                return
            if not error.is_transient:
                raise
    raise WaitFailed(
        f"{ref.name}: Salad accepted the delete but the group still exists after "
        f"{timeout_seconds:.0f}s; check the Salad portal"
    )


def _poll_schedule(pacing: Pacing, timeout_seconds: float) -> Iterator[None]:
    """Sleeps until each poll is due (first soon, then steadily); ends when the next is past the deadline."""
    deadline = pacing.clock() + timeout_seconds
    next_poll = pacing.clock() + pacing.first_poll_seconds
    while next_poll <= deadline:
        pacing.sleep(max(0.0, next_poll - pacing.clock()))
        next_poll = max(next_poll + pacing.poll_seconds, pacing.clock())
        yield


_PHASES = {
    "pending": "preparing the image (pending)",
    "stopped": "stopped, starting",
    "succeeded": "finished (succeeded)",
}


def _status(group: dict[str, Any]) -> str:
    return str(group.get("current_state", {}).get("status", "unknown"))


def _deploying(group: dict[str, Any]) -> bool:
    """Past image preparation: from here on the instances tell the progress."""
    return _status(group) in ("deploying", "running")


def _timeout_message(ref: GroupRef, want: int, timeout_seconds: float, last_line: str) -> str:
    return (
        f"{ref.name}: fewer than {want} ready instance(s) after {timeout_seconds / 60:.1f} minutes. "
        f"Last seen: {last_line or 'no answer'}. Salad cold starts can take 20 minutes or more: raise "
        "ready_timeout_minutes (waitForReady.timeoutMinutes) or lower min_ready_replicas, and check the "
        "group's system logs in the Salad portal."
    )
