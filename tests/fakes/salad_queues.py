"""Salad job queues in the emulator: queue and job endpoints, a stand-in job-queue worker, the autoscaler.

Decisions (where Salad's docs are silent the behaviour is a knob, tested both ways):

* Queues: `QueuePrototype` / `QueuePatch` validated like every other body (unknown fields, lengths,
  patterns, no line breaks); a name taken in the project is 400 `name_conflict`. GET lists the container
  groups whose `queue_connection.queue_name` is the queue. DELETE drops the queue and its jobs, or, with
  `reject_delete_with_jobs`, answers 400 while unfinished (pending/running) jobs remain.
* Jobs: `QueueJobPrototype` validated (`input` required, any JSON; `metadata` an object of at most 20
  keys; `webhook` 1-2048 characters). Status pending -> running -> succeeded | failed, or cancelled by
  DELETE. Events record `created`, each `started` (a retry adds another), and the final action. The list
  answers the first page (at most 100 jobs, oldest first); page/page_size are not modelled.
* A group created with a `queue_connection` naming no queue of its project is refused (400) while
  `reject_unknown_queue` is on (the default; Salad's portal only offers existing queues, its API's
  answer is undocumented); off, it is created and simply never gets jobs.
* Stand-in worker: every running, ready instance of a group connected to the queue takes one pending job
  at a time (oldest first, preferring jobs it has not tried), waits `job_seconds` (the GPU's time), then
  POSTs the job's input to the connected webui at `queue_connection.path` (`connect_webui(url)`: all
  instances share that one webui; without it jobs stay pending). A 2xx JSON answer is the job's output.
  Another answer is a failed attempt: the job goes back to the queue until `max_attempts` attempts have
  been made, then it fails. An instance that disappears mid-job (interrupted, scaled down, stopped)
  loses the attempt silently; the job goes back to the queue and runs again on another instance.
* Autoscaler, for groups with `queue_autoscaler` and a queue: every `polling_period` (default 15 s) it
  sets replicas to ceil(queue length / desired_queue_length) clamped to [min_replicas, max_replicas],
  moving at most max_upscale_per_minute / max_downscale_per_minute per minute, removing idle instances
  first. Queue length = pending + running jobs. Its seconds are compressed: one autoscaler second
  lasts `autoscaler_second` real seconds.
"""

from __future__ import annotations

import copy
import math
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.fakes.salad_http import (
    MERGE_PATCH,
    Request,
    Response,
    SaladApp,
    json_response,
    media_type,
    problem,
)
from tests.fakes.salad_model import Group
from tests.fakes.salad_rules import _Checker
from tests.fakes.salad_schema import DISPLAY_NAME_PATTERN, NAME_PATTERN, obj, string
from tests.fakes.salad_world import World

Json = Any
Params = dict[str, str]
QueueKey = tuple[str, str, str]

QUEUE_PROTOTYPE = obj(
    {
        "name": string(2, 63, pattern=NAME_PATTERN),
        "display_name": string(2, 63, pattern=DISPLAY_NAME_PATTERN),
        "description": string(0, 500),
    },
    ("name",),
)
QUEUE_PATCH = obj(
    {
        "display_name": string(2, 63, pattern=DISPLAY_NAME_PATTERN, nullable=True),
        "description": string(0, 500, nullable=True),
    }
)
JOB_KEYS = ("input", "metadata", "webhook")
UNFINISHED = ("pending", "running")
DEFAULT_POLLING_PERIOD = 15
TICK_SECONDS = 0.005

_PROJ = r"/organizations/(?P<org>[^/]+)/projects/(?P<project>[^/]+)"
_QUEUE = _PROJ + r"/queues/(?P<queue>[^/]+)"


@dataclass
class Job:
    id: str
    input: Json
    metadata: dict[str, Json] | None
    webhook: str | None
    created: float
    status: str = "pending"
    events: list[tuple[str, float]] = field(default_factory=list)
    output: Json = None
    updated: float = 0.0
    attempts: int = 0
    attempt_token: str | None = None  # the running attempt; a finished call with another token is ignored
    instance_id: str | None = None
    tried: list[str] = field(default_factory=list)  # instance ids, in order

    def event(self, action: str, now: float) -> None:
        self.events.append((action, now))
        self.updated = now


@dataclass
class Queue:
    org: str
    project: str
    id: str
    doc: dict[str, Json]
    created: float
    updated: float
    jobs: dict[str, Job] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.doc["name"])

    def length(self) -> int:
        return sum(1 for job in self.jobs.values() if job.status in UNFINISHED)


@dataclass
class _Scaling:
    next_poll: float
    changes: list[tuple[float, int]] = field(default_factory=list)  # (time, +n / -n)


class QueueService:
    """Queue and job endpoints, the stand-in worker and the autoscaler over a `World`."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._queues: dict[QueueKey, Queue] = {}
        self.webui_url: str | None = None
        self.job_seconds = 0.0
        self.max_attempts = 3
        self.reject_delete_with_jobs = False
        self.reject_unknown_queue = True
        self.autoscaler_second = 0.002
        self._busy: dict[str, str] = {}  # instance id -> job id
        self._scaling: dict[str, _Scaling] = {}  # group id -> autoscaler state
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- knobs ----------------------------------------------------------------------------------------------

    def connect_webui(self, url: str | None) -> None:
        """Where every instance's stand-in worker sends its jobs (the fake A1111); None: nowhere."""
        with self.world.lock:
            self.webui_url = None if url is None else url.rstrip("/")

    def busy_instances(self, org: str, project: str, name: str) -> dict[str, str]:
        """instance id -> id of the job it is running, for the group's instances."""
        now = self.world.now()
        with self.world.lock:
            g = self.world.find(org, project, name, now)
            ids = {i.id for i in g.instances} if g is not None else set()
            return {iid: jid for iid, jid in self._busy.items() if iid in ids}

    def interrupt(self, org: str, project: str, name: str, instance_id: str) -> None:
        """The node goes away: the instance stops at once and Salad allocates a replacement."""
        now = self.world.now()
        with self.world.lock:
            g = self.world.find(org, project, name, now)
            found = [i for i in (g.active() if g is not None else []) if i.id == instance_id]
            if g is None or not found:
                raise KeyError(f"{org}/{project}/{name} has no active instance {instance_id}")
            # The world's own retire/reconcile: stop this one instance, then top the group up again.
            self.world._retire(g, found, now)
            self.world._reconcile(g, now)
            self._requeue_lost(now)

    def job(self, org: str, project: str, queue: str, job_id: str) -> dict[str, Json] | None:
        with self.world.lock:
            q = self._queues.get((org, project, queue))
            found = None if q is None else q.jobs.get(job_id)
            return None if found is None else self._render_job(found)

    def job_record(self, org: str, project: str, queue: str, job_id: str) -> Job | None:
        """The emulator's own record (attempts, instances tried), for tests."""
        with self.world.lock:
            q = self._queues.get((org, project, queue))
            return None if q is None else copy.deepcopy(q.jobs.get(job_id))

    def queue_names(self, org: str, project: str) -> list[str]:
        with self.world.lock:
            return sorted(k[2] for k in self._queues if k[:2] == (org, project))

    # --- background -----------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="salad-queues", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            now = self.world.now()
            with self.world.lock:
                self._requeue_lost(now)
                self._autoscale(now)
                self._dispatch(now)

    # --- routes ---------------------------------------------------------------------------------------------

    def routes(self) -> list[tuple[str, dict[str, Callable[[SaladApp, Params, Request], Response]]]]:
        def bind(
            method: Callable[[Params, Request], Response],
        ) -> Callable[[SaladApp, Params, Request], Response]:
            return lambda _app, params, req: method(params, req)

        return [
            (_PROJ + "/containers", {"GET": SaladApp.list_groups, "POST": self._create_group}),
            (_PROJ + "/queues", {"GET": bind(self.list_queues), "POST": bind(self.create_queue)}),
            (
                _QUEUE,
                {
                    "GET": bind(self.get_queue),
                    "PATCH": bind(self.patch_queue),
                    "DELETE": bind(self.delete_queue),
                },
            ),
            (_QUEUE + "/jobs", {"GET": bind(self.list_jobs), "POST": bind(self.create_job)}),
            (
                _QUEUE + r"/jobs/(?P<job_id>[^/]+)",
                {"GET": bind(self.get_job), "DELETE": bind(self.cancel_job)},
            ),
        ]

    def _create_group(self, app: SaladApp, p: Params, req: Request) -> Response:
        """The emulator's own create, after checking that a connected queue exists (when asked to)."""
        body, bad = SaladApp._parse(req)
        connection = body.get("queue_connection") if bad is None and isinstance(body, dict) else None
        name = connection.get("queue_name") if isinstance(connection, dict) else None
        if self.reject_unknown_queue and isinstance(name, str) and self._queue({**p, "queue": name}) is None:
            return problem(
                400, f"queue_connection.queue_name: queue {name!r} does not exist in project {p['project']!r}"
            )
        return app.create(p, req)

    # --- queue operations -----------------------------------------------------------------------------------

    def list_queues(self, p: Params, req: Request) -> Response:
        found = [q for k, q in self._queues.items() if k[:2] == (p["org"], p["project"])]
        items = [self._render_queue(q, req.now) for q in sorted(found, key=lambda q: q.created)]
        return json_response(200, {"items": items})

    def create_queue(self, p: Params, req: Request) -> Response:
        body, bad = _json_body(req, "application/json")
        if bad is not None:
            return bad
        problems = _Checker(set(), patch_mode=False).run(QUEUE_PROTOTYPE, body)
        if problems:
            return problem(400, "; ".join(problems), title="Validation Error")
        key = (p["org"], p["project"], str(body["name"]))
        if key in self._queues:
            detail = f"a queue named {body['name']!r} already exists in project {p['project']!r}"
            return problem(400, detail, type_="name_conflict", title="Name Conflict")
        q = Queue(p["org"], p["project"], str(uuid.uuid4()), copy.deepcopy(body), req.now, req.now)
        self._queues[key] = q
        location = f"/organizations/{q.org}/projects/{q.project}/queues/{q.name}"
        return json_response(201, self._render_queue(q, req.now), {"Location": location})

    def get_queue(self, p: Params, req: Request) -> Response:
        q = self._queue(p)
        return _missing_queue(p) if q is None else json_response(200, self._render_queue(q, req.now))

    def patch_queue(self, p: Params, req: Request) -> Response:
        q = self._queue(p)
        if q is None:
            return _missing_queue(p)
        body, bad = _json_body(req, MERGE_PATCH)
        if bad is not None:
            return bad
        problems = _Checker(set(), patch_mode=True).run(QUEUE_PATCH, body)
        if problems:
            return problem(400, "; ".join(problems), title="Validation Error")
        for key, value in body.items():
            if value is None:
                q.doc.pop(key, None)
            else:
                q.doc[key] = value
        q.updated = req.now
        return json_response(200, self._render_queue(q, req.now))

    def delete_queue(self, p: Params, req: Request) -> Response:
        q = self._queue(p)
        if q is None:
            return _missing_queue(p)
        unfinished = q.length()
        if self.reject_delete_with_jobs and unfinished:
            return problem(400, f"the queue {q.name!r} still holds {unfinished} pending or running job(s)")
        del self._queues[(q.org, q.project, q.name)]
        for job in q.jobs.values():
            self._busy = {iid: jid for iid, jid in self._busy.items() if jid != job.id}
        return Response(202)

    # --- job operations -------------------------------------------------------------------------------------

    def list_jobs(self, p: Params, req: Request) -> Response:
        q = self._queue(p)
        if q is None:
            return _missing_queue(p)
        jobs = sorted(q.jobs.values(), key=lambda j: j.created)[:100]
        return json_response(200, {"items": [self._render_job(j) for j in jobs]})

    def create_job(self, p: Params, req: Request) -> Response:
        q = self._queue(p)
        if q is None:
            return _missing_queue(p)
        body, bad = _json_body(req, "application/json")
        if bad is not None:
            return bad
        problems = _job_problems(body)
        if problems:
            return problem(400, "; ".join(problems), title="Validation Error")
        job = Job(
            id=str(uuid.uuid4()),
            input=copy.deepcopy(body["input"]),
            metadata=copy.deepcopy(body.get("metadata")),
            webhook=body.get("webhook"),
            created=req.now,
        )
        job.event("created", req.now)
        q.jobs[job.id] = job
        location = f"/organizations/{q.org}/projects/{q.project}/queues/{q.name}/jobs/{job.id}"
        return json_response(201, self._render_job(job), {"Location": location})

    def get_job(self, p: Params, req: Request) -> Response:
        q = self._queue(p)
        job = None if q is None else q.jobs.get(p["job_id"])
        if job is None:
            return problem(404, f"job {p['job_id']!r} was not found in queue {p['queue']!r}")
        return json_response(200, self._render_job(job))

    def cancel_job(self, p: Params, req: Request) -> Response:
        q = self._queue(p)
        job = None if q is None else q.jobs.get(p["job_id"])
        if job is None:
            return problem(404, f"job {p['job_id']!r} was not found in queue {p['queue']!r}")
        if job.status in UNFINISHED:
            self._release(job)
            job.status = "cancelled"
            job.event("cancelled", req.now)
        return Response(202)

    # --- worker and autoscaler (called with the world lock held) --------------------------------------------

    def _connected(self) -> list[tuple[Group, Queue]]:
        pairs = []
        for g in self.world._groups.values():
            connection = g.doc.get("queue_connection")
            if connection is None or g.gone_at is not None:
                continue
            q = self._queues.get((g.org, g.project, str(connection["queue_name"])))
            if q is not None:
                pairs.append((g, q))
        return pairs

    def _dispatch(self, now: float) -> None:
        if self.webui_url is None:
            return
        for g, q in self._connected():
            for inst, state in g.visible(now):
                ready = state == "running" and inst.ready_at is not None and now >= inst.ready_at
                if not ready or inst.stopping_at is not None or inst.id in self._busy:
                    continue
                job = self._next_job(q, inst.id)
                if job is None:
                    break
                self._begin(g, job, inst.id, now)

    @staticmethod
    def _next_job(q: Queue, instance_id: str) -> Job | None:
        pending = sorted((j for j in q.jobs.values() if j.status == "pending"), key=lambda j: j.created)
        fresh = [j for j in pending if instance_id not in j.tried]
        return (fresh or pending or [None])[0]

    def _begin(self, g: Group, job: Job, instance_id: str, now: float) -> None:
        job.status, job.instance_id = "running", instance_id
        job.attempts += 1
        job.tried.append(instance_id)
        job.attempt_token = token = str(uuid.uuid4())
        job.event("started", now)
        self._busy[instance_id] = job.id
        url = f"{self.webui_url}{g.doc['queue_connection']['path']}"
        payload = copy.deepcopy(job.input)
        threading.Thread(
            target=self._work, args=(job, token, url, payload, self.job_seconds), daemon=True
        ).start()

    def _work(self, job: Job, token: str, url: str, payload: Json, seconds: float) -> None:
        if seconds > 0 and self._stop.wait(seconds):
            return
        try:
            response = requests.post(url, json=payload, timeout=60)
            answer: Json = response.json() if response.ok else None
            ok = response.ok and answer is not None
        except (requests.RequestException, ValueError):
            ok, answer = False, None
        now = self.world.now()
        with self.world.lock:
            if job.attempt_token != token or job.status != "running":
                return  # the instance went away meanwhile, or the job was cancelled: result dropped
            self._release(job)
            if ok:
                job.status, job.output = "succeeded", answer
                job.event("succeeded", now)
            elif job.attempts >= self.max_attempts:
                job.status = "failed"
                job.event("failed", now)
            else:
                job.status = "pending"
                job.updated = now

    def _release(self, job: Job) -> None:
        if job.instance_id is not None and self._busy.get(job.instance_id) == job.id:
            del self._busy[job.instance_id]
        job.instance_id, job.attempt_token = None, None

    def _requeue_lost(self, now: float) -> None:
        """Jobs whose instance stopped (or vanished) go back to the queue; their attempt is lost."""
        active = {i.id for g in self.world._groups.values() for i in g.active() if i.state(now) is not None}
        for q in self._queues.values():
            for job in q.jobs.values():
                if job.status == "running" and job.instance_id not in active:
                    self._release(job)
                    job.status = "pending"
                    job.updated = now

    def _autoscale(self, now: float) -> None:
        for g, q in self._connected():
            settings = g.doc.get("queue_autoscaler")
            if settings is None or not g.run_wanted or g.failed is not None:
                continue
            second = self.autoscaler_second
            period = int(settings.get("polling_period") or DEFAULT_POLLING_PERIOD) * second
            state = self._scaling.setdefault(g.id, _Scaling(next_poll=now + period))
            if now < state.next_poll:
                continue
            state.next_poll = now + period
            state.changes = [(t, n) for t, n in state.changes if t > now - 60 * second]
            current = int(g.doc["replicas"])
            wanted = math.ceil(q.length() / int(settings["desired_queue_length"]))
            wanted = max(int(settings["min_replicas"]), min(int(settings["max_replicas"]), wanted))
            if wanted > current:
                room = int(settings.get("max_upscale_per_minute") or 100)
                room -= sum(n for _, n in state.changes if n > 0)
                step = min(wanted - current, max(room, 0))
            else:
                room = int(settings.get("max_downscale_per_minute") or 100)
                room -= sum(-n for _, n in state.changes if n < 0)
                step = -min(current - wanted, max(room, 0))
            if step:
                state.changes.append((now, step))
                g.doc["replicas"] = current + step
                if step < 0:  # idle instances go first, then the least advanced (the world's own rule)
                    idle = [i for i in g.active() if i.id not in self._busy]
                    busy = sorted((i for i in g.active() if i.id in self._busy), key=lambda i: -i.start)
                    self.world._retire(g, (sorted(idle, key=lambda i: -i.start) + busy)[:-step], now)
                self.world._reconcile(g, now)

    # --- rendering ------------------------------------------------------------------------------------------

    def _queue(self, p: Params) -> Queue | None:
        return self._queues.get((p["org"], p["project"], p["queue"]))

    def _render_queue(self, q: Queue, now: float) -> dict[str, Json]:
        groups = [
            self.world.render(g, now)
            for g in self.world.list_groups(q.org, q.project, now)
            if (g.doc.get("queue_connection") or {}).get("queue_name") == q.name
        ]
        out: dict[str, Json] = {
            "id": q.id,
            "name": q.name,
            "display_name": q.doc.get("display_name") or q.name,
            "container_groups": groups,
            "current_queue_length": q.length(),
            "create_time": self.world.iso(q.created),
            "update_time": self.world.iso(q.updated),
        }
        if "description" in q.doc:
            out["description"] = q.doc["description"]
        return out

    def _render_job(self, job: Job) -> dict[str, Json]:
        out: dict[str, Json] = {
            "id": job.id,
            "input": copy.deepcopy(job.input),
            "status": job.status,
            "events": [{"action": action, "time": self.world.iso(t)} for action, t in job.events],
            "create_time": self.world.iso(job.created),
            "update_time": self.world.iso(job.updated or job.created),
        }
        if job.metadata is not None:
            out["metadata"] = copy.deepcopy(job.metadata)
        if job.status == "succeeded":
            out["output"] = copy.deepcopy(job.output)
        return out


def _json_body(req: Request, content_type: str) -> tuple[Json, Response | None]:
    if media_type(req.content_type) != content_type:
        return None, problem(415, f"Content-Type must be {content_type}, not {req.content_type!r}")
    body, bad = SaladApp._parse(req)
    if bad is None and not isinstance(body, dict):
        return None, problem(400, "request body must be a JSON object", title="Validation Error")
    return body, bad


def _job_problems(body: dict[str, Json]) -> list[str]:
    problems = [f"{key} is not a known field" for key in body if key not in JOB_KEYS]
    if "input" not in body:
        problems.append("input is required")
    metadata = body.get("metadata")
    if "metadata" in body and (not isinstance(metadata, dict) or len(metadata) > 20):
        problems.append("metadata must be an object with at most 20 properties")
    webhook = body.get("webhook")
    if "webhook" in body and (
        not isinstance(webhook, str) or not 1 <= len(webhook) <= 2048 or "\n" in webhook
    ):
        problems.append("webhook must be a URL of 1 to 2048 characters")
    return problems


def _missing_queue(p: Params) -> Response:
    return problem(404, f"queue {p['queue']!r} was not found in project {p['project']!r}")
