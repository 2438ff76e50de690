"""In-memory SaladCloud state and the container-group lifecycle on a compressed clock.

Nothing ticks in the background. Every mutation (create, patch, start, stop, delete) schedules the future
transitions with absolute `time.monotonic()` times; every read evaluates that schedule at "now". So a GET
answers exactly what the schedule says, however slowly or quickly it is polled.

Lifecycle decisions (documented for the people testing against the emulator):

* Group status: ``pending`` until the image is prepared (`Timings.image_prepare`; again after an image
  change), then ``failed`` (image matched `fail_image_preparation`; ``current_state.description`` says why;
  no instances), else ``stopped`` if not started (autostart false / after stop), else ``running`` when at
  least one instance is running (or replicas is 0), else ``deploying``.
* Stop flips the status to ``stopped`` at once; its instances are ``stopping`` for `Timings.stopping`, then
  gone (Salad documents that instances may linger briefly after the status says stopped).
* Instances: allocating, downloading (``pulling_progress`` 0-100), creating, running; ``started`` once
  running; ``ready`` `Timings.ready` later (never with `never_ready`). Instance k of a batch starts
  k * downloading/5 later than the first, so they do not all become ready at the same instant.
  ``instance_status_counts``: downloading instances are counted in ``creating_count`` (the spec has no
  downloading count), so the four counts always add up to the instance list.
* Versioned edits (container.image, container.command, container.environment_variables, any probe,
  networking.port) bump ``version``; every instance of the old version goes ``stopping`` at once and
  new-version instances start (after re-preparation if the image changed). ``pending_change`` is true until
  every old instance is gone and every new one is running (forever if the new image fails; for a stopped
  group only until the old instances are gone). Setting a field to its current value is not a change.
* Not versioned (no restart): display_name, replicas (adds / removes instances; the least advanced go
  first), country_codes, resources (hardware edits keep every instance: the emulator pretends every node
  still fits), image_caching, logging, priority, registry_authentication, autoscaler and scaling settings.
* Merge semantics: RFC 7386 everywhere, except `registry_authentication`, which a PATCH replaces whole (a
  write-only credential: its merged form with two kinds would be invalid, and the spec lets no PATCH null
  the old kind). The environment map follows the knob `env_semantics`: "merge" (RFC 7386, per key; the
  default) or "replace" (the map sent replaces the stored one).
* Knobs for what Salad's docs say can happen (all off by default; set the attribute on `World`):
  `hardware_edits_bump_version` - a resources edit bumps ``version`` while the kept instances stay on the
  old one, and ``pending_change`` is true for `Timings.allocating`; `version_after_preparation` - an image
  change shows the new ``version`` only once the image is prepared (the PATCH answer shows the old one),
  and the old instances keep serving until then;
  `brief_stop_seconds` - with autostart on, the group shows ``stopped`` that long after preparing its image
  and answers /start with 400 meanwhile; `setback(image)` - the first instance of such an image goes
  running -> allocating (interruption), then downloading <-> allocating once, before running again.
* DELETE: status ``stopped``, instances stopping; the group is visible until `Timings.delete` has passed,
  then 404 and the name is free again.
* Fault rules (`fail_image_preparation`, `never_ready`) are looked up when a group's image is prepared or
  its instances are scheduled, so register them before the create/patch they should affect.
"""

from __future__ import annotations

import copy
import math
import random
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from tests.fakes.salad_catalog import gateway_dns
from tests.fakes.salad_incidents import Incidents
from tests.fakes.salad_model import Group, Instance, Timings, group_status, render_group, render_instances
from tests.fakes.salad_rules import merge_patch

__all__ = ["Group", "Instance", "Timings", "World"]

Json = Any
GroupKey = tuple[str, str, str]

VERSIONED_PATHS: tuple[tuple[str, ...], ...] = (
    ("container", "image"),
    ("container", "command"),
    ("container", "environment_variables"),
    ("liveness_probe",),
    ("readiness_probe",),
    ("startup_probe",),
    ("networking", "port"),
)


class World:
    """All groups of all orgs/projects. Public methods are thread-safe (one re-entrant lock)."""

    def __init__(self, timings: Timings | None = None, speed: float = 1.0, seed: int | None = None) -> None:
        self.timings = (timings or Timings()).scaled(speed)
        self.lock = threading.RLock()
        self._groups: dict[GroupKey, Group] = {}
        self._fail_rules: list[tuple[str, str]] = []
        self._never_ready: list[str] = []
        self._setbacks: list[str] = []
        self.env_semantics = "merge"  # or "replace"
        self.hardware_edits_bump_version = False
        self.version_after_preparation = False
        self.brief_stop_seconds = 0.0
        self._rng = random.Random(seed)
        self.incidents = Incidents(self.timings.failure_every)  # failure modes, system logs, quota
        self._wall0, self._mono0 = time.time(), time.monotonic()

    # --- clock ----------------------------------------------------------------------------------------------

    @staticmethod
    def now() -> float:
        return time.monotonic()

    def iso(self, t: float) -> str:
        wall = datetime.fromtimestamp(self._wall0 + (t - self._mono0), UTC)
        return wall.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    # --- knobs ----------------------------------------------------------------------------------------------

    def fail_image_preparation(self, image_substring: str, description: str) -> None:
        with self.lock:
            self._fail_rules.append((image_substring, description))

    def never_ready(self, image_substring: str) -> None:
        with self.lock:
            self._never_ready.append(image_substring)

    def setback(self, image_substring: str) -> None:
        with self.lock:
            self._setbacks.append(image_substring)

    def merged(self, doc: dict[str, Json], patch: dict[str, Json]) -> dict[str, Json]:
        """The stored document after `patch`, by the merge semantics above."""
        new: dict[str, Json] = merge_patch(doc, patch)
        sent = patch.get("container")
        if not isinstance(sent, dict) or not isinstance(new.get("container"), dict):
            return new
        if isinstance(sent.get("registry_authentication"), dict):
            new["container"]["registry_authentication"] = copy.deepcopy(sent["registry_authentication"])
        env = sent.get("environment_variables")
        if self.env_semantics == "replace" and isinstance(env, dict):
            new["container"]["environment_variables"] = {k: v for k, v in env.items() if v is not None}
        return new

    # --- lookup ---------------------------------------------------------------------------------------------

    def find(self, org: str, project: str, name: str, now: float) -> Group | None:
        with self.lock:
            g = self._groups.get((org, project, name))
            if g is not None and g.gone_at is not None and now >= g.gone_at:
                del self._groups[(org, project, name)]
                return None
            return g

    def list_groups(self, org: str, project: str, now: float) -> list[Group]:
        with self.lock:
            keys = [k for k in self._groups if k[0] == org and k[1] == project]
            found = (self.find(*k, now) for k in keys)
            return sorted((g for g in found if g is not None), key=lambda g: g.created)

    def replicas_used(self, org: str, now: float) -> int:
        with self.lock:
            keys = [k for k in self._groups if k[0] == org]
            return sum(int(g.doc["replicas"]) for k in keys if (g := self.find(*k, now)) is not None)

    def remove(self, org: str, project: str, name: str) -> bool:
        with self.lock:
            return self._groups.pop((org, project, name), None) is not None

    # --- mutations ------------------------------------------------------------------------------------------

    def create(self, org: str, project: str, body: dict[str, Json], now: float) -> Group | None:
        """Create a group from a validated body; None if the name is taken."""
        with self.lock:
            name = str(body["name"])
            if self.find(org, project, name, now) is not None:
                return None
            doc = copy.deepcopy(body)
            g = Group(
                org=org,
                project=project,
                id=str(uuid.uuid4()),
                doc=doc,
                dns=gateway_dns(self._rng) if doc.get("networking") is not None else None,
                created=now,
                updated=now,
                prepared_at=now + self.timings.image_prepare,
                failed=self._failure_for(str(doc["container"]["image"])),
                run_wanted=bool(doc["autostart_policy"]),
            )
            if g.run_wanted and self.brief_stop_seconds > 0:
                g.stopped_until = g.prepared_at + self.brief_stop_seconds
            if g.run_wanted:
                g.started_at = now
                self._schedule(g, int(doc["replicas"]), now)
            self._groups[(org, project, name)] = g
            return g

    def apply_patch(self, g: Group, patch: dict[str, Json], now: float) -> None:
        """Apply an RFC 7386 merge-patch (validated, or deliberately not) with the versioning rules."""
        with self.lock:
            self._settle(g, now)
            old, new = g.doc, self.merged(g.doc, patch)
            changed = [p for p in VERSIONED_PATHS if _get(old, p) != _get(new, p)]
            hardware = _get(old, ("container", "resources")) != _get(new, ("container", "resources"))
            g.doc = new
            g.updated = now
            if changed:
                self._bump_version(g, now)
                if ("container", "image") in changed:
                    g.prepared_at = now + self.timings.image_prepare
                    g.failed = self._failure_for(g.image)
                retire_at = now
                if ("container", "image") in changed and self.version_after_preparation:
                    g.version_shown_from = retire_at = g.prepared_at
                self._retire(g, g.active(), retire_at)
                g.change_pending = True
            elif hardware and self.hardware_edits_bump_version:
                self._bump_version(g, now)  # the kept instances stay on the old version
                g.settle_at = now + self.timings.allocating
                g.change_pending = True
            self._reconcile(g, now)
            self._recompute_applied(g)

    def start(self, g: Group, now: float) -> str | None:
        """Start a group; returns a problem text when it cannot be started."""
        with self.lock:
            self._settle(g, now)
            if g.gone_at is not None:
                return "the container group is being deleted"
            if g.failed is not None and now >= g.prepared_at:
                return "the container group failed and cannot be started; fix the image first"
            if now < g.stopped_until:
                return "the container group cannot be started right now; try again later"
            if not g.run_wanted:
                g.run_wanted, g.started_at = True, now
                self._reconcile(g, now)
                self._recompute_applied(g)
            return None

    def stop(self, g: Group, now: float) -> None:
        with self.lock:
            self._settle(g, now)
            if g.run_wanted:
                g.run_wanted, g.stopped_at = False, now
                self._retire(g, g.active(), now)
                self._recompute_applied(g)

    def delete(self, g: Group, now: float) -> None:
        with self.lock:
            if g.gone_at is None:
                self.stop(g, now)
                g.gone_at = now + self.timings.delete

    # --- scheduling helpers ---------------------------------------------------------------------------------

    def _bump_version(self, g: Group, now: float) -> None:
        g.previous_version = g.version if now >= g.version_shown_from else g.previous_version
        g.version += 1

    def _failure_for(self, image: str) -> str | None:
        return next((desc for sub, desc in self._fail_rules if sub in image), None)

    def _schedule(self, g: Group, count: int, now: float) -> None:
        if g.failed is not None or not g.run_wanted:
            return
        t = self.timings
        begin = max(now, g.prepared_at, g.stopped_until)
        never = any(s in g.image for s in self._never_ready)
        setback = any(s in g.image for s in self._setbacks)
        for k in range(count):
            start = begin + k * t.downloading / 5
            running = start + t.allocating + t.downloading + t.creating
            g.instances.append(
                Instance(
                    id=str(uuid.uuid4()),
                    machine_id=str(uuid.uuid4()),
                    version=g.version,
                    start=start,
                    downloading_at=start + t.allocating,
                    creating_at=start + t.allocating + t.downloading,
                    running_at=running,
                    ready_at=None if never else running + t.ready,
                    setbacks=_setback_spans(running + t.ready / 2, t) if setback and k == 0 else (),
                    ready_delay=t.ready,
                )
            )
            self.incidents.on_schedule(g, g.instances[-1])

    def _retire(self, g: Group, instances: list[Instance], now: float) -> None:
        for inst in instances:
            if inst.start > now:
                g.instances.remove(inst)  # never became visible
            else:
                inst.stopping_at, inst.gone_at = now, now + self.timings.stopping

    def _reconcile(self, g: Group, now: float) -> None:
        """Make the number of active instances match replicas (when the group should run)."""
        active = g.active()
        want = int(g.doc["replicas"]) if g.run_wanted and g.failed is None else 0
        if len(active) < want:
            self._schedule(g, want - len(active), now)
        elif len(active) > want:
            least_advanced = sorted(active, key=lambda i: i.start, reverse=True)
            self._retire(g, least_advanced[: len(active) - want], now)

    def _settle(self, g: Group, now: float) -> None:
        if g.change_pending and now >= g.applied_at:
            g.change_pending = False

    def _recompute_applied(self, g: Group) -> None:
        if not g.change_pending:
            return
        if g.failed is not None:
            g.applied_at = math.inf
            return
        times = [g.prepared_at, g.settle_at]
        times += [i.gone_at for i in g.instances if i.gone_at is not None]
        times += [i.running_at for i in g.active()]
        g.applied_at = max(times)

    # --- rendering

    def status(self, g: Group, t: float) -> str:
        return group_status(g, t)

    def render(self, g: Group, t: float) -> dict[str, Json]:
        with self.lock:
            return render_group(g, t, self.iso)

    def render_instances(self, g: Group, t: float) -> list[dict[str, Json]]:
        with self.lock:
            return render_instances(g, t, self.iso)

    def first_ready_time(self, g: Group, version: int | None, now: float) -> float | None:
        with self.lock:
            times = [
                r
                for i in g.instances
                if (version is None or i.version == version)
                and (r := i.became_ready()) is not None
                and r <= now
            ]
            return min(times, default=None)


def _setback_spans(begin: float, t: Timings) -> tuple[tuple[float, float, str], ...]:
    """Interrupted while it runs: allocating, downloading, allocating again (a reallocation), then back."""
    spans = []
    for state, duration in (
        ("allocating", t.allocating),
        ("downloading", t.downloading / 2),
        ("allocating", t.allocating),
        ("downloading", t.downloading),
        ("creating", t.creating),
    ):
        spans.append((begin, begin + duration, state))
        begin += duration
    return tuple(spans)


def _get(doc: Json, path: tuple[str, ...]) -> Json:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc
