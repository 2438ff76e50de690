"""txt2img through a Salad job queue: submit jobs, poll them with backoff, check their PNGs.

Rules (shared by the batch CLI and the post-deploy smoke test in queue mode):

- **Exactly once.** Each job is POSTed once. A submission whose answer is lost is reported, never sent
  again (it may exist); a job interrupted on a node is retried by Salad, not here.
- **Polling.** One GET per job, first after `first_interval`, growing by `growth` up to `max_interval`,
  until the job succeeds, fails or is cancelled, or `timeout_seconds` pass. Every call goes through the
  Salad client (its retries, rate budget and error type).
- **Reports.** Status, attempts (Salad's `started` events; retries = attempts - 1) and the queued,
  running and total times from the job's events. A failed job's report carries those events.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from components.salad.client import SaladClient
from components.salad.errors import SaladApiError
from components.txt2img.gateway_client import Txt2ImgError, Txt2ImgRequest, Txt2ImgResult, result_from_payload

FINISHED = frozenset({"succeeded", "failed", "cancelled"})
Say = Callable[[str], None]


@dataclass(frozen=True)
class QueueTarget:
    organization: str
    project: str
    queue: str


@dataclass(frozen=True)
class PollPolicy:
    timeout_seconds: float = 3600.0
    first_interval: float = 2.0
    max_interval: float = 15.0
    growth: float = 1.5
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass
class JobReport:
    """What happened to one job; `result` is set only when it succeeded with valid PNGs."""

    number: int
    job_id: str | None = None
    status: str = "not submitted"
    attempts: int = 0
    queued_seconds: float | None = None
    running_seconds: float | None = None
    total_seconds: float | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    result: Txt2ImgResult | None = None
    error: str | None = None

    @property
    def retries(self) -> int:
        return max(self.attempts - 1, 0)

    @property
    def ok(self) -> bool:
        return self.result is not None


class JobFailed(Txt2ImgError):
    """A job ended without a valid image; the message carries Salad's events for it."""


def submit_job(client: SaladClient, target: QueueTarget, request: Txt2ImgRequest, number: int) -> str:
    """POST one job (never repeated after it was sent) and return its id."""
    body = {"input": request.body(), "metadata": {"salad_sd_job": number}}
    job = client.create_job(target.organization, target.project, target.queue, body)
    return str(job["id"])


def wait_for_job(
    client: SaladClient,
    target: QueueTarget,
    job_id: str,
    policy: PollPolicy,
    on_poll: Callable[[dict[str, Any]], None] = lambda _job: None,
) -> dict[str, Any]:
    """Poll the job until it is finished; Txt2ImgError at the deadline or on a lasting API failure."""
    deadline = policy.clock() + policy.timeout_seconds
    interval = policy.first_interval
    while True:
        policy.sleep(max(0.0, min(interval, deadline - policy.clock())))
        try:
            job = client.get_job(target.organization, target.project, target.queue, job_id)
        except SaladApiError as error:
            if not error.is_transient:
                raise Txt2ImgError(f"job {job_id}: {error}", status=error.status) from None
            job = None
        if job is not None:
            on_poll(job)
            if job.get("status") in FINISHED:
                return job
        if policy.clock() >= deadline:
            state = "no answer" if job is None else str(job.get("status"))
            raise Txt2ImgError(
                f"job {job_id} still {state} after {policy.timeout_seconds:.0f} s; it stays in the queue "
                "(it is not submitted again): check it later or cancel it"
            )
        interval = min(interval * policy.growth, policy.max_interval)


def report_from_job(number: int, job: dict[str, Any]) -> JobReport:
    """The report of a finished job: times and attempts from its events, PNGs checked when it succeeded."""
    events = list(job.get("events") or [])
    report = JobReport(number=number, job_id=str(job.get("id")), status=str(job.get("status")), events=events)
    report.attempts = sum(1 for event in events if event.get("action") == "started")
    created = _event_time(events, "created", first=True) or _iso(job.get("create_time"))
    started = _event_time(events, "started", first=False)
    finished = next(
        (_iso(event.get("time")) for event in reversed(events) if event.get("action") in FINISHED), None
    )
    if created is not None and started is not None:
        report.queued_seconds = max(0.0, started - created)
    if started is not None and finished is not None:
        report.running_seconds = max(0.0, finished - started)
    if created is not None and finished is not None:
        report.total_seconds = max(0.0, finished - created)
    if report.status != "succeeded":
        report.error = f"job {report.job_id} {report.status}; Salad's events: {format_events(events)}"
        return report
    output = job.get("output")
    if not isinstance(output, dict):
        report.status = "failed"
        report.error = (
            f"job {report.job_id} succeeded without a JSON object as output; events: {format_events(events)}"
        )
        return report
    try:
        report.result = result_from_payload(
            output, seconds=report.total_seconds or 0.0, attempts=report.attempts
        )
    except Txt2ImgError as error:
        report.status = "failed"
        report.error = f"job {report.job_id}: {error}"
    return report


def run_job(
    client: SaladClient, target: QueueTarget, request: Txt2ImgRequest, number: int, policy: PollPolicy
) -> JobReport:
    """Submit one job and wait for it; every failure ends up in the report (nothing is resubmitted)."""
    try:
        job_id = submit_job(client, target, request, number)
    except SaladApiError as error:
        sent = "may exist (not resubmitted)" if error.status is None or error.status >= 500 else "was refused"
        return JobReport(number=number, status="not submitted", error=f"job {number} {sent}: {error}")
    try:
        job = wait_for_job(client, target, job_id, policy)
    except Txt2ImgError as error:
        return JobReport(number=number, job_id=job_id, status="unknown", error=str(error))
    return report_from_job(number, job)


def format_events(events: list[dict[str, Any]]) -> str:
    return ", ".join(f"{event.get('action')} {event.get('time')}" for event in events) or "none"


def _event_time(events: list[dict[str, Any]], action: str, *, first: bool) -> float | None:
    times = [_iso(event.get("time")) for event in events if event.get("action") == action]
    found = [t for t in times if t is not None]
    if not found:
        return None
    return found[0] if first else found[-1]


def _iso(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
