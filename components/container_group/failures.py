"""Which Salad events mean a deploy is failing, what to do about each, and when to stop waiting. Pure.

`FAILURE_KINDS` is the one list of what counts as a failure. Salad's docs quote `Startup Probe Failure`,
`Exited:137 (Likely Out of System Memory)` and `Requested Disk Space Exceeded`; the other names are not
documented, so kinds match by pattern (case-insensitive) and the messages quote the event as Salad wrote it.
The first matching kind wins, so the specific kinds come before the generic `exited`.

`assess` is the condition checker of the wait loop (the shape of pulumi-kubernetes' await states): from one
observation (events seen since the wait began, how many instances are ready) to a verdict.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from components.container_group.events import Event, short_id

Inputs = Mapping[str, Any]
TAIL_LINES = 10  # lines of the container's own output quoted in a failure


@dataclass(frozen=True)
class FailureKind:
    key: str
    pattern: re.Pattern[str]
    hint: Callable[[Inputs], str]


def _memory_hint(inputs: Inputs) -> str:
    return (
        f"out of memory: raise salad-sd:deployment.memoryMb (now {inputs.get('memory')} MB), or use a "
        "smaller model"
    )


def _disk_hint(inputs: Inputs) -> str:
    now = inputs.get("storage_gb")
    shown = f"now {now} GiB" if now is not None else "unset: Salad's default is small"
    return f"disk exceeded: raise salad-sd:deployment.storageGb ({shown}); the image and model must fit"


def _pull_hint(_inputs: Inputs) -> str:
    return (
        "image pull failed: check the registry login (salad-sd:image.registry username/password), that the "
        "image exists at that reference, and that it is built for AMD64"
    )


def _startup_hint(inputs: Inputs) -> str:
    probe = inputs.get("startup_probe") or {}
    delay, period = probe.get("initial_delay_seconds", 0), probe.get("period_seconds", 3)
    threshold = probe.get("failure_threshold", 15)
    budget = int(delay) + int(threshold) * int(period)
    return (
        "startup probe failure: loading the model takes longer than initialDelaySeconds + failureThreshold x "
        f"periodSeconds = {delay} + {threshold} x {period} = {budget} s (raise them under "
        "salad-sd:deployment.startupProbe), or the checkpoint is wrong (see the output below)"
    )


def _liveness_hint(_inputs: Inputs) -> str:
    return (
        "liveness probe failure: the web UI stopped answering after it started; the output below usually "
        "says why (a crash, or a GPU out of memory)"
    )


def _exit_hint(_inputs: Inputs) -> str:
    return (
        "the container exited: the output below says why; check salad-sd:deployment.env (CLI_ARGS) and the "
        "model files"
    )


FAILURE_KINDS: tuple[FailureKind, ...] = (
    FailureKind(
        "out_of_memory", re.compile(r"out of (system )?memory|\boom\b|exited:\s*137", re.I), _memory_hint
    ),
    FailureKind(
        "disk_exceeded", re.compile(r"disk space exceeded|no space left|out of disk", re.I), _disk_hint
    ),
    FailureKind(
        "image_pull",
        re.compile(r"(image )?pull.*(fail|error|denied|unauthori[sz]ed|not found)|(fail|error).*pull", re.I),
        _pull_hint,
    ),
    FailureKind("startup_probe", re.compile(r"startup probe fail", re.I), _startup_hint),
    FailureKind("liveness_probe", re.compile(r"liveness probe fail", re.I), _liveness_hint),
    FailureKind("exited", re.compile(r"^exited|container (crashed|exited)|crash ?loop", re.I), _exit_hint),
)


def classify(event_name: str) -> FailureKind | None:
    """The failure kind of a Salad event name, or None when the event is not a failure."""
    return next((kind for kind in FAILURE_KINDS if kind.pattern.search(event_name)), None)


def counts(
    event: Event,
    *,
    since: datetime,
    version: int | None,
    newer_than: int | None = None,
    before: frozenset[Event] | None = None,
) -> bool:
    """A failure event counts when it is of the awaited version and happened after the wait began.

    The awaited version is exactly `version` when given, and above `newer_than` when given (a versioned
    update); an event that names no version counts.

    `before`, when known, holds the events of the wait's first read of the logs: only those are judged by
    their time against `since` (our clock), so a skew between our clock and Salad's cannot hide failures
    read later. Without it every event is judged by its time.
    """
    judged_by_time = before is None or event in before
    if classify(event.name) is None or (judged_by_time and event.time < since):
        return False
    if event.version is None:
        return True
    if version is not None and event.version != str(version):
        return False
    return newer_than is None or (event.version.isdigit() and int(event.version) > newer_than)


@dataclass(frozen=True)
class Verdict:
    failed: bool
    failures: tuple[Event, ...]  # the counted failure events, oldest first


def assess(
    events: Iterable[Event],
    *,
    since: datetime,
    version: int | None,
    newer_than: int | None = None,
    ready: int,
    want: int,
    max_failures: int,
    before: frozenset[Event] | None = None,
) -> Verdict:
    """Fail when `max_failures` failure events of the awaited version were seen while too few are ready."""
    failures = tuple(
        sorted(
            e for e in events if counts(e, since=since, version=version, newer_than=newer_than, before=before)
        )
    )
    return Verdict(ready < want and len(failures) >= max_failures, failures)


def failure_message(
    name: str,
    failures: Iterable[Event],
    inputs: Inputs,
    output: list[str],
    *,
    ready: int,
    want: int,
) -> str:
    """The error of a wait stopped by failures: the events as Salad named them, a hint per kind, output."""
    failures = list(failures)
    lines = [
        f"{name}: instances keep failing ({len(failures)} failure events, {ready}/{want} ready); "
        "Salad reported:"
    ]
    lines += [f"  {e.time:%H:%M:%S}Z instance {short_id(e.instance_id)}: {e.name}" for e in failures[-8:]]
    hints: list[str] = []
    for event in failures:
        kind = classify(event.name)
        if kind is not None and (hint := kind.hint(inputs)) not in hints:
            hints.append(hint)
    lines += [f"Hint: {hint}" for hint in hints]
    if output:
        lines.append("Last lines of the container's output (Salad log entries):")
        lines += [f"  | {line}" for line in output[-TAIL_LINES:]]
    return "\n".join(lines)


def timeout_details(events: Iterable[Event], instances: list[dict[str, Any]]) -> str:
    """What a timeout error adds: the last events and each instance's state."""
    recent = sorted(events)[-8:]
    lines = ["Last events:" if recent else "No events from Salad's system logs."]
    lines += [f"  {e.time:%H:%M:%S}Z instance {short_id(e.instance_id)}: {e.name}" for e in recent]
    lines.append("Instances:" if instances else "No instances.")
    for instance in instances:
        state = str(instance.get("state") or "unknown")
        if state == "downloading" and instance.get("pulling_progress") is not None:
            state += f" ({float(instance['pulling_progress']):.0f}%)"
        if state == "running":
            state += ", ready" if instance.get("ready") else ", not ready"
        lines.append(
            f"  {short_id(str(instance.get('id') or ''))}: {state}, version {instance.get('version')}"
        )
    return "\n".join(lines)
