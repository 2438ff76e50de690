"""Salad system-log events as the wait loop sees them: parsing, de-duplication and one-line display. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SHORT_ID = 8  # characters of an instance id shown in event lines


@dataclass(frozen=True, order=True)
class Event:
    """One `SystemLog` item. Ordered by time, then the rest, so sorting gives a stable chronology."""

    time: datetime
    name: str
    instance_id: str = ""
    machine_id: str = ""
    version: str | None = None


def parse_event(item: dict[str, Any]) -> Event | None:
    """The event in a `SystemLog` item, or None when it has no name or no readable time."""
    name, when = item.get("event_name"), parse_time(item.get("event_time"))
    if not isinstance(name, str) or not name or when is None:
        return None
    version = item.get("version")
    return Event(
        time=when,
        name=name,
        instance_id=str(item.get("instance_id") or ""),
        machine_id=str(item.get("machine_id") or ""),
        version=None if version is None else str(version),
    )


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def unseen(items: Iterable[dict[str, Any]], seen: frozenset[Event]) -> list[Event]:
    """Events of `items` not in `seen`, oldest first (Salad's list order is not documented)."""
    events = {event for item in items if (event := parse_event(item)) is not None}
    return sorted(events - seen)


def short_id(instance_id: str) -> str:
    return instance_id[:SHORT_ID] if instance_id else "group"


def event_line(group_name: str, event: Event) -> str:
    """`salad-sd-dev: instance 1a2b3c4d at 12:03:04Z: Startup Probe Failure` (Salad's event name verbatim)."""
    at = event.time.astimezone(UTC).strftime("%H:%M:%SZ")
    return f"{group_name}: instance {short_id(event.instance_id)} at {at}: {event.name}"
