"""Queue mode of the txt2img CLI: N jobs through the stack's Salad job queue, each PNG written under --out.

Where things come from:
- API URL, key, organization and project: the stack's `salad:*` config with `--stack`, else (or when a
  value is unset there) SALAD_API_URL, SALAD_API_KEY, SALAD_ORGANIZATION, SALAD_PROJECT.
- The queue: `--queue NAME`, else the stack's `queue` output, else the default `<group name>-jobs`.
Progress goes to stderr, one line per job and the summary to stdout.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.container_group.settings import salad_client, settings_from_config
from components.program.stack_config.deployment import default_name
from components.program.stack_config.queue import default_queue_name
from components.salad.client import SaladClient
from components.txt2img.gateway_client import Txt2ImgRequest
from components.txt2img.queue_client import (
    BatchProgress,
    JobReport,
    PollPolicy,
    QueueTarget,
    format_events,
    run_batch,
)
from components.txt2img.stack_outputs import StackError, stack_config_value, stack_outputs

BAR_WIDTH = 20
DEFAULT_OUT_DIR = Path("out")


@dataclass(frozen=True)
class QueueConnection:
    target: QueueTarget
    client: SaladClient = field(repr=False)


def connect(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> QueueConnection:
    """The client and queue for `args` (raises StackError with what is missing)."""
    stack, cwd = args.stack, args.cwd

    def get(key: str) -> Any:
        return stack_config_value(stack, key, cwd=cwd) if stack else None

    settings = settings_from_config(get, env)
    missing = [
        hint
        for value, hint in (
            (settings.api_key, "the API key (salad:apiKey or SALAD_API_KEY)"),
            (settings.organization, "the organization (salad:organization or SALAD_ORGANIZATION)"),
            (settings.project, "the project (salad:project or SALAD_PROJECT)"),
        )
        if not value
    ]
    queue = args.queue or (_queue_from_stack(stack, cwd) if stack else None)
    if not queue:
        missing.append("the queue (--queue NAME, or --stack with a deployed queue stack)")
    if missing:
        raise StackError("queue mode needs " + ", ".join(missing))
    assert settings.organization is not None and settings.project is not None and queue is not None
    target = QueueTarget(settings.organization, settings.project, queue)
    return QueueConnection(target=target, client=salad_client(settings))


def _queue_from_stack(stack: str, cwd: str | None) -> str:
    outputs = stack_outputs(stack, cwd=cwd)
    named = outputs.get("queue")
    if isinstance(named, str) and named:
        return named
    return str(default_queue_name(outputs.get("containerGroup") or default_name(stack)))


def requests_for(args: argparse.Namespace) -> list[Txt2ImgRequest]:
    """`--count` requests; a fixed seed S gives S, S+1, ... so every image differs."""
    return [
        Txt2ImgRequest(
            prompt=args.prompt,
            negative_prompt=args.negative_prompt,
            steps=args.steps,
            seed=args.seed if args.seed == -1 else args.seed + index,
            width=args.width,
            height=args.height,
            batch_size=args.batch_size,
        )
        for index in range(args.count)
    ]


def job_paths(out_dir: Path, number: int, images: int) -> list[Path]:
    stem = f"job-{number:03d}"
    if images == 1:
        return [out_dir / f"{stem}.png"]
    return [out_dir / f"{stem}-{index}.png" for index in range(1, images + 1)]


def describe(report: JobReport, paths: list[Path]) -> str:
    """One line per job: status, retries, times, and where the PNGs went (or Salad's events)."""
    head = f"job {report.number} ({report.job_id or 'no id'}): {report.status}"
    if report.attempts:
        head += f", {report.retries} retr{'y' if report.retries == 1 else 'ies'}"
    times = [
        f"{label} {value:.1f} s"
        for label, value in (
            ("queued", report.queued_seconds),
            ("running", report.running_seconds),
            ("total", report.total_seconds),
        )
        if value is not None
    ]
    if times:
        head += ", " + ", ".join(times)
    if report.result is not None:
        shapes = ", ".join(
            f"{path} ({info.width}x{info.height})"
            for path, info in zip(paths, report.result.image_info, strict=True)
        )
        return f"{head} -> {shapes}"
    detail = report.error or f"Salad's events: {format_events(report.events)}"
    return f"{head}: {detail}"


def progress_bar(progress: BatchProgress) -> str:
    filled = round(BAR_WIDTH * progress.done / max(progress.total, 1))
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    return (
        f"[{bar}] {progress.done}/{progress.total} done ({progress.failed} failed), "
        f"{progress.running} running, {progress.pending} queued"
    )


def run_queue_mode(
    args: argparse.Namespace,
    *,
    say: Callable[[str], None],
    out: Callable[[str], None] = print,
    connection: QueueConnection | None = None,
) -> int:
    """Submit `args.count` jobs, write every PNG under `args.out`, print reports; 0 when all succeeded."""
    try:
        connection = connection or connect(args)
    except StackError as error:
        say(f"error: {error}")
        return 2
    out_dir = args.out or DEFAULT_OUT_DIR
    target = connection.target
    say(
        f"queue {target.queue} ({target.organization}/{target.project}): {args.count} job(s), "
        f"{args.width}x{args.height}, {args.steps} steps, at most {args.concurrency} API calls at once"
    )
    last = [""]

    def on_progress(progress: BatchProgress) -> None:
        line = progress_bar(progress)
        if line != last[0]:
            say(line)
            last[0] = line

    def on_report(report: JobReport) -> None:
        paths: list[Path] = []
        if report.result is not None:
            paths = job_paths(out_dir, report.number, len(report.result.images))
            out_dir.mkdir(parents=True, exist_ok=True)
            for path, data in zip(paths, report.result.images, strict=True):
                path.write_bytes(data)
        out(describe(report, paths))

    started = time.monotonic()
    policy = PollPolicy(
        timeout_seconds=args.timeout_minutes * 60,
        first_interval=args.poll_seconds,
        max_interval=max(args.poll_seconds, args.max_poll_seconds),
    )
    try:
        reports = run_batch(
            connection.client,
            target,
            requests_for(args),
            concurrency=args.concurrency,
            policy=policy,
            on_report=on_report,
            on_progress=on_progress,
            webhook=args.webhook,
        )
    finally:
        connection.client.close()
    seconds = time.monotonic() - started
    succeeded = sum(1 for report in reports if report.ok)
    retried = sum(1 for report in reports if report.retries)
    out(
        f"{len(reports)} job(s): {succeeded} succeeded, {len(reports) - succeeded} failed, {retried} retried "
        f"by Salad; {seconds:.1f} s, {succeeded / seconds * 60 if seconds > 0 else 0:.1f} images/min"
    )
    return 0 if succeeded == len(reports) else 1
