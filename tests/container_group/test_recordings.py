"""Recorded wait sequences (recordings/*.json) replayed through the pure checkers, poll by poll.

Each recording holds what the wait loop observed (group, instances, system logs) while an emulator failure
mode played out; `recordings/record.py` makes them. The expectations here are written independently of the
classifier: Salad's event names per mode, and the poll at which the third one of the awaited version shows.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from components.container_group.events import Event, parse_time, unseen
from components.container_group.failures import Verdict, assess, classify, failure_message
from components.container_group.readiness import count_ready, progress_line

RECORDINGS = Path(__file__).parent / "recordings"
MAX_FAILURES = 3
WANT = 1
INPUTS = {
    "memory": 12288,
    "storage_gb": 50,
    "startup_probe": {"initial_delay_seconds": 60, "period_seconds": 30, "failure_threshold": 20},
}
# mode -> (Salad's event name, failure kind, words of the hint)
EXPECTED = {
    "crash_loop": ("Exited:1", "exited", "the container exited"),
    "out_of_memory": ("Exited:137 (Likely Out of System Memory)", "out_of_memory", "memoryMb (now 12288 MB)"),
    "startup_probe": ("Startup Probe Failure", "startup_probe", "60 + 20 x 30 = 660 s"),
    "disk_exceeded": ("Requested Disk Space Exceeded", "disk_exceeded", "storageGb (now 50 GiB)"),
    "image_pull": ("Image Pull Failure", "image_pull", "registry login"),
}


def load(scenario: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDINGS / f"{scenario}.json").read_text())
    return data


def replay(
    recording: dict[str, Any], *, since: datetime, version: int
) -> list[tuple[Verdict, frozenset[Event]]]:
    """The verdict after each recorded poll, as the wait loop computes it."""
    seen: frozenset[Event] = frozenset()
    verdicts = []
    for step in recording["steps"]:
        seen = seen | frozenset(unseen(step["system_logs"], seen))
        ready = count_ready(step["instances"], version - 1)  # instances of the awaited version or newer
        verdict = assess(
            seen, since=since, version=version, ready=ready, want=WANT, max_failures=MAX_FAILURES
        )
        verdicts.append((verdict, seen))
    return verdicts


def third_failure_step(recording: dict[str, Any], event_name: str, since: datetime, version: int) -> int:
    for index, step in enumerate(recording["steps"]):
        matching = [
            e
            for e in step["system_logs"]
            if e["event_name"] == event_name
            and e["version"] == str(version)
            and (t := parse_time(e["event_time"])) is not None
            and t >= since
        ]
        if len(matching) >= MAX_FAILURES:
            return index
    raise AssertionError(f"the recording never shows {MAX_FAILURES} {event_name!r} events")


@pytest.mark.parametrize("mode", sorted(EXPECTED))
def test_each_failure_mode_fails_at_the_third_failure_event_with_its_hint(mode: str) -> None:
    recording = load(mode)
    event_name, kind, hint = EXPECTED[mode]
    since = parse_time(recording["since"])
    assert since is not None
    verdicts = replay(recording, since=since, version=recording["version"])
    first_failed = next(i for i, (verdict, _) in enumerate(verdicts) if verdict.failed)
    assert first_failed == third_failure_step(recording, event_name, since, recording["version"])
    verdict, _ = verdicts[first_failed]
    assert {e.name for e in verdict.failures} == {event_name}
    kinds = {k.key for e in verdict.failures if (k := classify(e.name)) is not None}
    assert kinds == {kind}
    message = failure_message("sd-rec", verdict.failures, INPUTS, ["line one"], ready=0, want=WANT)
    assert f": {event_name}" in message and hint in message and "| line one" in message


@pytest.mark.parametrize("mode", sorted(EXPECTED))
def test_no_verdict_before_the_failures_and_lifecycle_events_never_count(mode: str) -> None:
    recording = load(mode)
    since = parse_time(recording["since"])
    assert since is not None
    for verdict, seen in replay(recording, since=since, version=recording["version"]):
        assert all(classify(e.name) is not None for e in verdict.failures)
        lifecycle = [e for e in seen if e.name in ("Instance Allocated", "Image Download Started")]
        assert all(classify(e.name) is None for e in lifecycle)


def test_healthy_deploy_never_fails_and_shows_download_progress() -> None:
    recording = load("healthy")
    since = parse_time(recording["since"])
    assert since is not None
    verdicts = replay(recording, since=since, version=1)
    assert not any(verdict.failed for verdict, _ in verdicts)
    assert count_ready(recording["steps"][-1]["instances"], None) >= WANT
    lines = [progress_line("sd-rec", step["instances"], 2, None) for step in recording["steps"]]
    assert any("downloading (" in line and "%)" in line for line in lines)


def test_failures_of_the_old_version_do_not_stop_the_update() -> None:
    recording = load("update_from_crash_loop")
    since = parse_time(recording["since"])
    assert since is not None and recording["version"] == 2
    all_events = {e for _, seen in replay(recording, since=since, version=2) for e in seen}
    assert sum(1 for e in all_events if e.name == "Exited:1" and e.version == "1") >= MAX_FAILURES
    for start in (since, datetime.min.replace(tzinfo=since.tzinfo)):  # the version alone also protects
        assert not any(verdict.failed for verdict, _ in replay(recording, since=start, version=2))
    # ... and the same events do stop a wait for version 1 that began before them.
    early = datetime.min.replace(tzinfo=since.tzinfo)
    assert any(verdict.failed for verdict, _ in replay(recording, since=early, version=1))
