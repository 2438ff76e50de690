"""What goes wrong on Salad, for the emulator: failure modes, system logs, log entries, GPU availability,
the replica quota and the instance actions (reallocate / recreate / restart).

Failure modes are rules on the image (like `fail_image_preparation`), looked up when an instance is
scheduled, so register them before the create/patch they should affect:

* ``crash_loop``: the container exits again and again once running (``Exited:1``); never ready.
* ``out_of_memory``: the same with ``Exited:137 (Likely Out of System Memory)``.
* ``startup_probe``: running but the startup probe keeps failing (``Startup Probe Failure``).
* ``disk_exceeded``: the download overflows the disk (``Requested Disk Space Exceeded``), again and again.
* ``image_pull``: the node cannot pull the image (``Image Pull Failure``); stays downloading.
* ``stuck_downloading``: the node hangs in ``downloading`` without any event, silently, until the instance
  is reallocated to another node (only the first node hangs).

Failing instances emit their failure event every `Timings.failure_every` seconds. Salad's exact names for
events other than the three quoted in Salad's docs (Startup Probe Failure, Exited:137 (Likely Out of System
Memory), Requested Disk Space Exceeded) are unknown; the emulator's names are plausible stand-ins, and the
provider classifies by pattern. System logs answer at most 50 items, newest first (the spec caps the
list at 50 and says nothing of order).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.salad_catalog import gpu_classes
from tests.fakes.salad_model import Group, Instance

Json = Any
Iso = Callable[[float], str]

MODES: dict[str, str] = {
    "crash_loop": "Exited:1",
    "out_of_memory": "Exited:137 (Likely Out of System Memory)",
    "startup_probe": "Startup Probe Failure",
    "disk_exceeded": "Requested Disk Space Exceeded",
    "image_pull": "Image Pull Failure",
    "stuck_downloading": "",
}
# The container's own last words in each mode, served by the log-entries query.
OUTPUT: dict[str, tuple[str, ...]] = {
    "crash_loop": (
        "Loading weights [abc123] from /data/models/sd.safetensors",
        "FileNotFoundError: sd.safetensors",
    ),
    "out_of_memory": ("Loading weights [abc123] from /data/models/sd.safetensors", "Killed"),
    "startup_probe": ("Installing extension requirements", "Model loaded in 912.4s"),
}
_RUNNING_MODES = ("crash_loop", "out_of_memory", "startup_probe")
MAX_SYSTEM_LOGS = 50
ACTIONS_PER_MINUTE = 10


@dataclass
class _Event:
    time: float
    name: str
    instance: Instance
    version: int


@dataclass
class Incidents:
    """Knobs and per-instance records; the World calls `on_schedule` for each new instance."""

    failure_every: float
    rules: list[tuple[str, str]] = field(default_factory=list)  # (image substring, mode)
    modes: dict[str, str] = field(default_factory=dict)  # instance id -> mode
    extra_events: dict[str, list[_Event]] = field(default_factory=dict)  # group id -> action events
    actions: list[tuple[str, float]] = field(default_factory=list)  # (group id, time) of instance actions
    replicas_quota: int = 500
    actions_per_minute: int = ACTIONS_PER_MINUTE  # reallocations + recreates + restarts per group
    action_window: float = 60.0  # seconds of that "minute" (tests on a compressed clock shorten it)
    gpus_available: bool = True
    history: dict[str, Group] = field(default_factory=dict)  # name -> last group scheduled (for tests)

    def add_rule(self, image_substring: str, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown failure mode {mode!r}; one of {', '.join(MODES)}")
        self.rules.append((image_substring, mode))

    def on_schedule(self, g: Group, inst: Instance) -> None:
        self.history[g.name] = g
        mode = next((m for sub, m in self.rules if sub in g.image), None)
        if mode is None:
            return
        self.modes[inst.id] = mode
        inst.ready_at = None
        if mode in ("image_pull", "stuck_downloading", "disk_exceeded"):
            inst.creating_at = inst.running_at = math.inf

    def quota_problem(self, used: int, asked: int) -> str | None:
        if used + asked <= self.replicas_quota:
            return None
        return f"container replicas quota exceeded: {asked} asked, {used} of {self.replicas_quota} in use"

    # --- instance actions -----------------------------------------------------------------------------------

    def act(self, g: Group, inst: Instance, action: str, now: float, timings: Any) -> str | None:
        """Apply reallocate / recreate / restart; returns a problem text when over the per-minute quota."""
        recent = [t for gid, t in self.actions if gid == g.id and now - t < self.action_window]
        if len(recent) >= self.actions_per_minute:
            return f"at most {self.actions_per_minute} instance actions per minute"
        self.actions.append((g.id, now))
        mode = self.modes.get(inst.id)
        if action == "reallocate":
            inst.machine_id = str(uuid.uuid4())
            inst.start, inst.downloading_at = now, now + timings.allocating
            redownload = inst.downloading_at + timings.downloading
            if mode == "stuck_downloading":  # the hang was the node's: the new node is fine
                del self.modes[inst.id]
                mode = None
        else:
            redownload = now  # same node, image already there
        stuck = mode in ("image_pull", "disk_exceeded")
        inst.creating_at = math.inf if stuck else redownload
        inst.running_at = math.inf if stuck else redownload + timings.creating
        inst.ready_at = None if mode is not None else inst.running_at + timings.ready
        name = {"reallocate": "Instance Reallocated", "recreate": "Instance Recreated"}.get(
            action, "Restarted"
        )
        self.extra_events.setdefault(g.id, []).append(_Event(now, name, inst, inst.version))
        return None

    # --- answers --------------------------------------------------------------------------------------------

    def system_logs(
        self, g: Group, t: float, iso: Iso, limit: int | None = MAX_SYSTEM_LOGS
    ) -> list[dict[str, Json]]:
        events = list(self._lifecycle_events(g, t)) + [
            e for e in self.extra_events.get(g.id, []) if e.time <= t
        ]
        events.sort(key=lambda e: e.time, reverse=True)
        return [self._render(g, e, iso) for e in events[:limit]]

    def log_entries(
        self, org: str, groups: list[Group], query: str, t: float, iso: Iso
    ) -> list[dict[str, Json]]:
        """The containers' output of failing instances of the groups named in `query`."""
        items: list[dict[str, Json]] = []
        for g in groups:
            if g.name not in query:
                continue
            for inst in g.instances:
                lines = OUTPUT.get(self.modes.get(inst.id, ""), ())
                if inst.start > t or not lines or t < inst.running_at:
                    continue
                for k, line in enumerate(lines):
                    at = min(t, inst.running_at + k * 0.001)
                    items.append(
                        {
                            "receive_time": iso(at),
                            "time": iso(at),
                            "severity": "error" if k == len(lines) - 1 else "info",
                            "text_log": line,
                            "resource": {
                                "type": "container_group_instance",
                                "labels": {
                                    "organization_name": org,
                                    "project_name": g.project,
                                    "container_group_name": g.name,
                                    "container_group_instance_id": inst.id,
                                },
                            },
                        }
                    )
        return items

    def gpu_availability(self) -> dict[str, Json]:
        count = 25 if self.gpus_available else 0
        return {
            "available_gpu_high": count,
            "available_gpu_medium": count,
            "available_gpu_low": count,
            "available_gpu_batch": count,
            "on_call_gpu": count,
        }

    # --- helpers --------------------------------------------------------------------------------------------

    def _lifecycle_events(self, g: Group, t: float) -> list[_Event]:
        events: list[_Event] = []
        for inst in g.instances:
            steps = [
                (inst.start, "Instance Allocated"),
                (inst.downloading_at, "Image Download Started"),
                (inst.running_at, "Container Started"),
                (inst.ready_at, "Instance Ready"),
                (inst.stopping_at, "Instance Stopping"),
            ]
            events += [
                _Event(at, name, inst, inst.version) for at, name in steps if at is not None and at <= t
            ]
            mode = self.modes.get(inst.id)
            if mode is None or mode == "stuck_downloading":
                continue
            begin = inst.running_at if mode in _RUNNING_MODES else inst.downloading_at
            end = min(t, inst.stopping_at if inst.stopping_at is not None else t)
            if begin > end:
                continue
            count = int((end - begin) / self.failure_every) + 1
            events += [
                _Event(begin + k * self.failure_every, MODES[mode], inst, inst.version) for k in range(count)
            ]
        return events

    @staticmethod
    def _render(g: Group, e: _Event, iso: Iso) -> dict[str, Json]:
        resources = g.doc["container"]["resources"]
        ids = list(resources.get("gpu_classes") or [])
        names = {c["id"]: c["name"] for c in gpu_classes()}
        return {
            "event_name": e.name,
            "event_time": iso(e.time),
            "instance_id": e.instance.id,
            "machine_id": e.instance.machine_id,
            "resource_cpu": resources["cpu"],
            "resource_memory": resources["memory"],
            "resource_storage_amount": resources.get("storage_amount", 1073741824),
            "resource_gpu_class": names.get(ids[0], "") if ids else "",
            "version": str(e.version),
        }
