"""Polling loops of the provider: wait until a group really serves, and wait until it is gone.

One call per poll: the group while Salad prepares the image, then its instances (their states,
readiness and version tell the progress), with a look at the group now and then to catch a stop, a
failure or a delete. The first poll comes soon, the rest on a steady schedule that the client's rate
budget covers. What counts as serving after an update is a `Target` (update_kind.py says which).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from components.container_group.readiness import count_ready, progress_line
from components.container_group.waiting_events import EventWatch, WaitStopped
from components.salad.client import SaladClient
from components.salad.errors import SaladApiError

_DEPLOYED = ("deploying", "running")
GROUP_CHECK_EVERY = 6  # polls of instances between two looks at the group itself
STOPPED_LIMIT_SECONDS = 300.0  # a group that stays stopped this long despite /start is an error
START_RETRY_SECONDS = 30.0  # between two /start requests while the group stays stopped


class WaitFailed(Exception):
    """The group cannot reach the wanted state: failed, vanished, or out of time."""


class StayedStopped(WaitFailed):
    """Salad kept the group stopped (refusing /start); the group itself may be fine, so it is kept."""


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
class Target:
    """What "serving" means after a create or an update (see update_kind.py).

    `want` ready instances; of a version above `newer_than` when given (a versioned update); and with
    `settle`, Salad's `pending_change` cleared too (a hardware update). With `until_deployed` (a queue
    autoscaler whose floor is 0, so no instance may run before a job comes) the group having left
    `pending` for `deploying` or `running` is enough.
    """

    want: int
    newer_than: int | None = None
    settle: bool = False
    until_deployed: bool = False


@dataclass(frozen=True)
class Serving:
    group: dict[str, Any]
    ready: int


@dataclass
class _Progress:
    """What one wait has seen so far."""

    group: dict[str, Any] | None = None
    instances: list[dict[str, Any]] = field(default_factory=list)
    polls_of_instances: int = 0
    stopped_since: float | None = None
    last_start: float | None = None
    last_line: str = ""


def wait_until_serving(
    client: SaladClient,
    ref: GroupRef,
    *,
    target: Target,
    timeout_seconds: float,
    pacing: Pacing,
    say: Callable[[str], None],
    watch: EventWatch | None = None,
) -> Serving:
    """Poll until the target holds: enough instances (of a new enough version) run and pass readiness.

    Starts the group if it sits stopped (a refused start is polled again, up to STOPPED_LIMIT_SECONDS).
    Raises WaitFailed with Salad's description when the group goes `failed`, when it disappears, at the
    deadline, or when `watch` sees instances of the awaited version keep failing.
    """
    seen = _Progress()

    def report(line: str) -> None:
        if line != seen.last_line:
            say(line)
            seen.last_line = line

    for _ in _poll_schedule(pacing, timeout_seconds):
        try:
            if target.until_deployed or _group_due(seen):
                group = _look_at_group(client, ref, seen, target, pacing, say)
                if target.until_deployed:
                    if _deployed(group, target):
                        autoscaler = "the queue autoscaler starts instances as jobs arrive"
                        say(f"{ref.name}: {_status(group)}; {autoscaler}")
                        return Serving(group, 0)
                    report(f"{ref.name}: {_phase(group)}, version {group.get('version')}")
                    continue
                if target.want == 0:
                    return Serving(group, 0)
                if not _deploying(group):
                    report(f"{ref.name}: {_phase(group)}")
                    continue
            seen.instances = client.list_instances(ref.organization, ref.project, ref.name)
            seen.polls_of_instances += 1
        except SaladApiError as error:
            _poll_failed(ref, error, say)
            continue
        assert seen.group is not None
        ready = count_ready(seen.instances, target.newer_than)
        report(progress_line(ref.name, seen.instances, target.want, target.newer_than))
        if ready < target.want:
            _watch_failures(watch, seen, target, ready, pacing)
            continue
        if target.settle and seen.group.get("pending_change"):
            report(f"{ref.name}: {ready} ready; Salad is still applying the change (pending_change)")
            seen.polls_of_instances = GROUP_CHECK_EVERY  # look at the group again next poll
            continue
        return Serving(seen.group, ready)
    details = f"\n{watch.timeout_details()}" if watch is not None else ""
    raise WaitFailed(_timeout_message(ref, target.want, timeout_seconds, seen.last_line) + details)


def _watch_failures(
    watch: EventWatch | None, seen: _Progress, target: Target, ready: int, pacing: Pacing
) -> None:
    """Feeds the event watch; failure events count when of the awaited version (see Target)."""
    if watch is None or seen.group is None:
        return
    # A versioned update awaits any version above the one before it; a hardware update may keep instances
    # on the old version, so any instance failing after the wait began counts; a create or an unversioned
    # update awaits the group's own version.
    exact = seen.group.get("version") if target.newer_than is None and target.settle is False else None
    try:
        watch.observe(
            seen.instances,
            version=exact if isinstance(exact, int) else None,
            newer_than=target.newer_than,
            ready=ready,
            want=target.want,
            now=pacing.clock(),
        )
    except WaitStopped as stopped:
        raise WaitFailed(str(stopped)) from None


def wait_until_editable(
    client: SaladClient,
    ref: GroupRef,
    *,
    timeout_seconds: float,
    pacing: Pacing,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """The group as soon as it is not `pending`: Salad disables edits while it prepares an image.

    A 404 is raised as the SaladApiError it is (the caller knows what a vanished group means for it).
    """
    said = False
    for _ in _poll_schedule(pacing, timeout_seconds, first_now=True):
        try:
            group = client.get_container_group(ref.organization, ref.project, ref.name)
        except SaladApiError as error:
            if error.is_not_found:
                raise
            _poll_failed(ref, error, say)
            continue
        if not is_pending(group):
            return group
        if not said:
            say(f"{ref.name}: Salad is preparing the image (pending); waiting before editing the group")
            said = True
    raise WaitFailed(
        f"{ref.name}: still preparing the image (pending) after {timeout_seconds / 60:.1f} minutes, so "
        "Salad does not accept edits yet. Run `pulumi up` again later, or raise ready_timeout_minutes."
    )


def _group_due(seen: _Progress) -> bool:
    return seen.group is None or not _deploying(seen.group) or seen.polls_of_instances >= GROUP_CHECK_EVERY


def _look_at_group(
    client: SaladClient,
    ref: GroupRef,
    seen: _Progress,
    target: Target,
    pacing: Pacing,
    say: Callable[[str], None],
) -> dict[str, Any]:
    group = client.get_container_group(ref.organization, ref.project, ref.name)
    seen.group, seen.polls_of_instances = group, 0
    status = _status(group)
    if status == "failed":
        description = group["current_state"].get("description") or "no description given"
        raise WaitFailed(f"{ref.name}: Salad reports the container group failed: {description}")
    if status == "stopped" and (target.want > 0 or target.until_deployed):
        _start_stopped(client, ref, seen, pacing.clock(), say)
    else:
        seen.stopped_since = None
    return group


def _start_stopped(
    client: SaladClient, ref: GroupRef, seen: _Progress, now: float, say: Callable[[str], None]
) -> None:
    """POST /start for a stopped group; Salad may refuse (400) while it shows `stopped` for a moment."""
    if seen.stopped_since is None:
        seen.stopped_since = now
    if now - seen.stopped_since > STOPPED_LIMIT_SECONDS:
        raise StayedStopped(
            f"{ref.name}: the group stayed stopped for {now - seen.stopped_since:.0f}s and Salad did not "
            "start it. It was kept: start it in the Salad portal, then run `pulumi up` again (an existing "
            "group with this spec is adopted)."
        )
    if seen.last_start is not None and now - seen.last_start < START_RETRY_SECONDS:
        return
    seen.last_start = now
    try:
        client.start_container_group(ref.organization, ref.project, ref.name)
    except SaladApiError as error:
        if error.status != 400:
            raise
        why = error.detail or error.title
        say(f"{ref.name}: the group is stopped and Salad refused to start it now ({why}); polling")
        return
    say(f"{ref.name}: the group was stopped; started it")


def _poll_failed(ref: GroupRef, error: SaladApiError, say: Callable[[str], None]) -> None:
    if error.is_not_found:
        raise WaitFailed(f"{ref.name}: the group was deleted while waiting for it") from None
    if not error.is_transient:
        raise error
    say(f"{ref.name}: Salad did not answer this poll ({error.title}); still waiting")


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


def _poll_schedule(pacing: Pacing, timeout_seconds: float, *, first_now: bool = False) -> Iterator[None]:
    """Sleeps until each poll is due (first soon, or at once); ends when the next is past the deadline."""
    deadline = pacing.clock() + timeout_seconds
    next_poll = pacing.clock() + (0.0 if first_now else pacing.first_poll_seconds)
    while next_poll <= deadline:
        pacing.sleep(max(0.0, next_poll - pacing.clock()))
        next_poll = max(next_poll + pacing.poll_seconds, pacing.clock())
        yield


_PHASES = {
    "pending": "preparing the image (pending)",
    "stopped": "stopped, starting",
    "succeeded": "finished (succeeded)",
}


def is_pending(group: dict[str, Any]) -> bool:
    """Salad is preparing the group's image; it accepts no edit meanwhile."""
    return _status(group) == "pending"


def _status(group: dict[str, Any]) -> str:
    return str(group.get("current_state", {}).get("status", "unknown"))


def _phase(group: dict[str, Any]) -> str:
    return _PHASES.get(_status(group), _status(group))


def _deploying(group: dict[str, Any]) -> bool:
    """Past image preparation: from here on the instances tell the progress."""
    return _status(group) in _DEPLOYED


def _deployed(group: dict[str, Any], target: Target) -> bool:
    """For a target without instances: past preparation, at a version above `newer_than`, change applied."""
    version = group.get("version")
    newer = target.newer_than is None or (isinstance(version, int) and version > target.newer_than)
    settled = not (target.settle and group.get("pending_change"))
    return _deploying(group) and newer and settled


def _timeout_message(ref: GroupRef, want: int, timeout_seconds: float, last_line: str) -> str:
    return (
        f"{ref.name}: fewer than {want} ready instance(s) after {timeout_seconds / 60:.1f} minutes. "
        f"Last seen: {last_line or 'no answer'}. Salad cold starts can take 20 minutes or more: raise "
        "ready_timeout_minutes (waitForReady.timeoutMinutes) or lower min_ready_replicas, and check the "
        "group's system logs in the Salad portal."
    )
