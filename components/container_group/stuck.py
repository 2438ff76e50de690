"""Which instances hang in downloading/creating long enough to be reallocated, per-minute bounded. Pure.

Salad's docs recommend reallocating an instance whose node hangs without failing. An instance is tracked by
(id, machine, state): a reallocation moves it to another machine, which starts its clock again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

STUCK_STATES = ("downloading", "creating")
WINDOW_SECONDS = 60.0


@dataclass
class StuckTracker:
    """Remembers since when each instance sits in its current stuck-prone state, and recent reallocations."""

    after_seconds: float
    per_minute: int
    since: dict[tuple[str, str, str], float] = field(default_factory=dict)
    done: list[float] = field(default_factory=list)  # times of reallocations

    def due(self, instances: Iterable[dict[str, Any]], now: float) -> list[str]:
        """Ids of instances to reallocate now (oldest stuck first), at most what the minute allows."""
        current: dict[tuple[str, str, str], float] = {}
        for instance in instances:
            state = str(instance.get("state") or "")
            if state not in STUCK_STATES:
                continue
            key = (str(instance.get("id") or ""), str(instance.get("machine_id") or ""), state)
            current[key] = self.since.get(key, now)
        self.since = current
        self.done = [t for t in self.done if now - t < WINDOW_SECONDS]
        room = max(0, self.per_minute - len(self.done))
        stuck = sorted((t, key) for key, t in current.items() if now - t >= self.after_seconds)
        return [key[0] for _, key in stuck[:room]]

    def record(self, instance_id: str, now: float) -> None:
        """A reallocation was sent: it counts against the minute, and the instance's clock restarts."""
        self.done.append(now)
        self.since = {key: t for key, t in self.since.items() if key[0] != instance_id}
