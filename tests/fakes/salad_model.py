"""Data model of the Salad emulator: timings, instances, groups, and how they render as API JSON at a time t.

See `salad_world.py` for the lifecycle decisions.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Json = Any
Iso = Callable[[float], str]
DEFAULT_STORAGE = 1073741824
DEFAULT_SHM = 64


@dataclass
class Timings:
    """Durations in seconds; the defaults are small so a test-suite stays fast."""

    image_prepare: float = 0.15  # group 'pending' before prepared (also after an image change)
    allocating: float = 0.05  # per-instance state durations
    downloading: float = 0.1
    creating: float = 0.05
    ready: float = 0.05  # from instance 'running' to ready=True
    stopping: float = 0.05  # instance stopping -> gone
    delete: float = 0.1  # DELETE accepted -> group gone (GET 404)
    failure_every: float = 0.05  # a failing instance's failure event repeats this often (salad_incidents)

    def scaled(self, speed: float) -> Timings:
        """Every duration divided by `speed` (speed 2 = twice as fast)."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        return Timings(**{k: v / speed for k, v in dataclasses.asdict(self).items()})

    @classmethod
    def realistic(cls) -> Timings:
        """Closer to real Salad (minutes), for manual runs of the CLI with --speed."""
        return cls(
            image_prepare=90,
            allocating=20,
            downloading=300,
            creating=30,
            ready=60,
            stopping=15,
            delete=10,
            failure_every=30,
        )


@dataclass
class Instance:
    id: str
    machine_id: str
    version: int
    start: float  # allocating from here (invisible before)
    downloading_at: float
    creating_at: float
    running_at: float
    ready_at: float | None  # None = never ready
    stopping_at: float | None = None
    gone_at: float | None = None
    # Setbacks: (from, until, state) spans that replace the normal state, e.g. running -> allocating after a
    # node interruption, or downloading <-> allocating reallocation loops. Readiness comes back `ready_delay`
    # after the last span ends.
    setbacks: tuple[tuple[float, float, str], ...] = ()
    ready_delay: float = 0.0

    def state(self, t: float) -> str | None:
        """The state at time t, or None when the instance does not exist (yet / any more)."""
        if t < self.start or (self.gone_at is not None and t >= self.gone_at):
            return None
        if self.stopping_at is not None and t >= self.stopping_at:
            return "stopping"
        for begin, end, state in self.setbacks:
            if begin <= t < end:
                return state
        if t < self.downloading_at:
            return "allocating"
        if t < self.creating_at:
            return "downloading"
        if t < self.running_at:
            return "creating"
        return "running"

    def ready(self, t: float) -> bool:
        if self.state(t) != "running" or self.ready_at is None or t < self.ready_at:
            return False
        return not any(begin <= t < end + self.ready_delay for begin, end, _ in self.setbacks)

    def became_ready(self) -> float | None:
        """When it became running+ready, if it ever does (it may be stopped first)."""
        if self.ready_at is None:
            return None
        ready = self.ready_at
        for begin, end, _ in self.setbacks:
            if begin <= ready < end + self.ready_delay:
                ready = end + self.ready_delay
        if self.stopping_at is not None and ready >= self.stopping_at:
            return None
        return ready

    def last_change(self, t: float) -> float:
        times = [
            self.start,
            self.downloading_at,
            self.creating_at,
            self.running_at,
            self.ready_at,
            self.stopping_at,
            *(edge for begin, end, _ in self.setbacks for edge in (begin, end)),
        ]
        return max(x for x in times if x is not None and x <= t)


@dataclass
class Group:
    org: str
    project: str
    id: str
    doc: dict[str, Json]  # stored request-shaped document (includes registry_authentication)
    dns: str | None
    created: float
    updated: float
    prepared_at: float
    failed: str | None  # description when image preparation fails
    run_wanted: bool
    started_at: float | None = None
    stopped_at: float | None = None
    version: int = 1
    instances: list[Instance] = field(default_factory=list)
    change_pending: bool = False
    applied_at: float = 0.0
    gone_at: float | None = None  # set by DELETE
    settle_at: float = 0.0  # a hardware edit counts as applied from here (knob hardware_edits_bump_version)
    stopped_until: float = 0.0  # shows `stopped` until then although run_wanted (knob brief_stop_seconds)
    version_shown_from: float = (
        0.0  # before this, GET shows `previous_version` (knob version_after_preparation)
    )
    previous_version: int = 1

    @property
    def name(self) -> str:
        return str(self.doc["name"])

    @property
    def image(self) -> str:
        return str(self.doc["container"]["image"])

    def active(self) -> list[Instance]:
        """Instances not asked to stop (they are all of the current version)."""
        return [i for i in self.instances if i.stopping_at is None]

    def visible(self, t: float) -> list[tuple[Instance, str]]:
        return [(i, s) for i in self.instances if (s := i.state(t)) is not None]


def group_status(g: Group, t: float) -> str:
    if t < g.prepared_at:
        return "pending"
    if g.failed is not None:
        return "failed"
    if not g.run_wanted or t < g.stopped_until:
        return "stopped"
    if int(g.doc["replicas"]) == 0 or any(s == "running" for _, s in g.visible(t)):
        return "running"
    return "deploying"


def render_group(g: Group, t: float, iso: Iso) -> dict[str, Json]:
    """The ContainerGroup JSON at time t."""
    d = g.doc
    c = d["container"]
    res = c["resources"]
    status = group_status(g, t)
    container: dict[str, Json] = {
        "image": c["image"],
        "command": copy.deepcopy(c.get("command")),
        "environment_variables": dict(c.get("environment_variables") or {}),
        "image_caching": c.get("image_caching", True),
        "resources": {
            "cpu": res["cpu"],
            "memory": res["memory"],
            "gpu_classes": list(res.get("gpu_classes") or []),
            "storage_amount": res.get("storage_amount", DEFAULT_STORAGE),
            "shm_size": res.get("shm_size", DEFAULT_SHM),
        },
    }
    if c.get("logging") is not None:
        container["logging"] = copy.deepcopy(c["logging"])
    if t >= g.prepared_at and g.failed is None:
        container["hash"] = "sha256:" + hashlib.sha256(c["image"].encode()).hexdigest()
    counts = {"allocating_count": 0, "creating_count": 0, "running_count": 0, "stopping_count": 0}
    for _, state in g.visible(t):
        counts["creating_count" if state == "downloading" else f"{state}_count"] += 1
    start = g.started_at if g.started_at is not None else g.created
    out: dict[str, Json] = {
        "id": g.id,
        "name": g.name,
        "display_name": d.get("display_name") or g.name,
        "organization_name": g.org,
        "project_name": g.project,
        "container": container,
        "autostart_policy": d["autostart_policy"],
        "restart_policy": d["restart_policy"],
        "replicas": d["replicas"],
        "country_codes": list(d.get("country_codes") or []),
        "priority": c.get("priority"),
    }
    if d.get("networking") is not None:
        net = copy.deepcopy(d["networking"])
        net.setdefault("load_balancer", "round_robin")
        net.setdefault("single_connection_limit", False)
        net.setdefault("client_request_timeout", 100000)
        net.setdefault("server_response_timeout", 100000)
        out["networking"] = {**net, "dns": g.dns}
    for probe in ("liveness_probe", "readiness_probe", "startup_probe"):
        out[probe] = copy.deepcopy(d.get(probe))
    for optional in ("queue_connection", "queue_autoscaler"):
        if d.get(optional) is not None:
            out[optional] = copy.deepcopy(d[optional])
    stopped = status == "stopped" and g.stopped_at is not None
    out["current_state"] = {
        "status": status,
        "description": g.failed if status == "failed" else None,
        "start_time": iso(start),
        "finish_time": iso(g.stopped_at if stopped and g.stopped_at is not None else start),
        "instance_status_counts": counts,
    }
    out["pending_change"] = g.change_pending and t < g.applied_at
    out["version"] = g.previous_version if t < g.version_shown_from else g.version
    out["scaling-actions"] = copy.deepcopy(d.get("scaling-actions") or [])
    out["scheduled-scaling-enabled"] = bool(d.get("scheduled-scaling-enabled", False))
    out["create_time"] = iso(g.created)
    out["update_time"] = iso(g.updated)
    return out


def render_instances(g: Group, t: float, iso: Iso) -> list[dict[str, Json]]:
    """The ContainerGroupInstance list at time t."""
    out: list[dict[str, Json]] = []
    for inst, state in sorted(g.visible(t), key=lambda p: p[0].start):
        item: dict[str, Json] = {
            "id": inst.id,
            "machine_id": inst.machine_id,
            "state": state,
            "update_time": iso(inst.last_change(t)),
            "version": inst.version,
            "ready": inst.ready(t),
            "started": state == "running",
            "deletion_cost": 0,
        }
        if state == "downloading":
            span = inst.creating_at - inst.downloading_at
            item["pulling_progress"] = round(min(100.0, 100.0 * (t - inst.downloading_at) / span), 1)
        out.append(item)
    return out
