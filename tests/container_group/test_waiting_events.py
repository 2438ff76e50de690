"""EventWatch, the wait loop's reader of Salad's system logs, against a scripted client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from components.container_group.waiting_events import EVENTS_EVERY, EventWatch, WaitStopped

SALAD_NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)  # Salad's clock when the wait begins
OOM = "Exited:137 (Likely Out of System Memory)"


class ScriptedLogs:
    """A client whose system logs are, read after read, the next item of `reads` (the last one repeats)."""

    def __init__(self, reads: list[list[dict[str, Any]]]) -> None:
        self._reads = reads
        self.log_reads = 0

    def get_system_logs(self, *_where: str) -> list[dict[str, Any]]:
        self.log_reads += 1
        return self._reads[min(self.log_reads, len(self._reads)) - 1]

    def query_log_entries(self, *_args: Any) -> list[dict[str, Any]]:
        return []


def oom(seconds_after_start: int, instance: str, version: int = 1) -> dict[str, Any]:
    moment = SALAD_NOW + timedelta(seconds=seconds_after_start)
    return {
        "event_name": OOM,
        "event_time": moment.isoformat().replace("+00:00", "Z"),
        "instance_id": instance,
        "version": version,
    }


def watch_with_clock_ahead(client: ScriptedLogs, seconds: int) -> EventWatch:
    ours = SALAD_NOW + timedelta(seconds=seconds)
    return EventWatch(client, "o", "p", "sd", inputs={}, say=lambda _line: None, wall_clock=lambda: ours)  # type: ignore[arg-type]


def observe_reads(watch: EventWatch, reads: int) -> None:
    for poll in range(EVENTS_EVERY * (reads - 1) + 1):
        watch.observe([], version=1, ready=0, want=1, now=float(poll))


def test_a_clock_ahead_of_salads_does_not_hide_failures_logged_after_the_first_read() -> None:
    failures = [oom(30 + n, f"instance-{n}") for n in range(3)]  # before `since` by our clock, 120 s ahead
    client = ScriptedLogs([[], failures])
    watch = watch_with_clock_ahead(client, 120)
    with pytest.raises(WaitStopped, match="3 failure events"):
        observe_reads(watch, 2)
    assert client.log_reads == 2


def test_failures_already_in_the_first_read_are_judged_by_their_time() -> None:
    history = [oom(-600 + n, f"old-{n}") for n in range(3)]  # before the wait by both clocks
    client = ScriptedLogs([history, [*history, oom(30, "new-0")]])
    watch = watch_with_clock_ahead(client, 120)
    observe_reads(watch, 3)  # the one new failure does not reach max_failures with the old ones
    assert client.log_reads == 3
