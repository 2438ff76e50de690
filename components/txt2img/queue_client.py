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
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
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


def submit_job(
    client: SaladClient, target: QueueTarget, request: Txt2ImgRequest, number: int, webhook: str | None = None
) -> str:
    """POST one job (never repeated after it was sent) and return its id."""
    body: dict[str, Any] = {"input": request.body(), "metadata": {"salad_sd_job": number}}
    if webhook:
        body["webhook"] = webhook
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


@dataclass(frozen=True)
class BatchProgress:
    total: int
    succeeded: int
    failed: int
    running: int
    pending: int

    @property
    def done(self) -> int:
        return self.succeeded + self.failed


def run_batch(
    client: SaladClient,
    target: QueueTarget,
    requests: Sequence[Txt2ImgRequest],
    *,
    concurrency: int,
    policy: PollPolicy,
    on_report: Callable[[JobReport], None],
    on_progress: Callable[[BatchProgress], None],
    webhook: str | None = None,
) -> list[JobReport]:
    """Submit every request once (at most `concurrency` API calls at a time), then poll them all.

    Polls go round the unfinished jobs (again `concurrency` at a time), with the policy's backoff
    restarting whenever a job changed state. Each finished job is reported through `on_report` as soon
    as it is known; jobs still unfinished at the deadline are reported as `unknown` (they stay queued).
    """
    reports: dict[int, JobReport] = {}
    statuses: dict[int, str] = {}
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:

        def submit(number: int) -> tuple[int, str | None, str | None]:
            try:
                return number, submit_job(client, target, requests[number - 1], number, webhook), None
            except SaladApiError as error:
                refused = error.status is not None and error.status < 500 and error.status != 429
                outcome = "refused" if refused else "answer lost; it may exist, so it is not sent again"
                return number, None, f"{outcome}: {error}"

        waiting: dict[int, str] = {}
        for number, job_id, problem in pool.map(submit, range(1, len(requests) + 1)):
            if job_id is None:
                reports[number] = JobReport(number=number, error=problem)
                on_report(reports[number])
            else:
                waiting[number] = job_id
                statuses[number] = "pending"
        on_progress(_progress(len(requests), reports, statuses, waiting))

        def poll(item: tuple[int, str]) -> tuple[int, dict[str, Any] | None]:
            number, job_id = item
            try:
                return number, client.get_job(target.organization, target.project, target.queue, job_id)
            except SaladApiError:
                return number, None  # asked again next round (the client already retried transient ones)

        deadline = policy.clock() + policy.timeout_seconds
        interval = policy.first_interval
        while waiting and policy.clock() < deadline:
            policy.sleep(max(0.0, min(interval, deadline - policy.clock())))
            changed = False
            for number, job in pool.map(poll, list(waiting.items())):
                if job is None:
                    continue
                status = str(job.get("status"))
                changed = changed or statuses.get(number) != status
                statuses[number] = status
                if status in FINISHED:
                    del waiting[number]
                    reports[number] = report_from_job(number, job)
                    on_report(reports[number])
            on_progress(_progress(len(requests), reports, statuses, waiting))
            interval = (
                policy.first_interval if changed else min(interval * policy.growth, policy.max_interval)
            )
    for number, job_id in waiting.items():
        reports[number] = JobReport(
            number=number,
            job_id=job_id,
            status="unknown",
            error=f"job {job_id} still {statuses.get(number)} after {policy.timeout_seconds:.0f} s; it stays "
            "in the queue (not submitted again)",
        )
        on_report(reports[number])
    return [reports[number] for number in sorted(reports)]


def _progress(
    total: int, reports: dict[int, JobReport], statuses: dict[int, str], waiting: dict[int, str]
) -> BatchProgress:
    return BatchProgress(
        total=total,
        succeeded=sum(1 for report in reports.values() if report.ok),
        failed=sum(1 for report in reports.values() if not report.ok),
        running=sum(1 for number in waiting if statuses.get(number) == "running"),
        pending=sum(1 for number in waiting if statuses.get(number) != "running"),
    )
