"""Post-deploy smoke test: one tiny txt2img (through the gateway, or as a queue job) must bring back a PNG."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from components.salad.client import SaladClient
from components.salad.errors import SaladApiError
from components.txt2img.gateway_client import (
    AuthMode,
    Txt2ImgError,
    Txt2ImgRequest,
    WaitPolicy,
    body_note,
    txt2img,
)
from components.txt2img.queue_client import PollPolicy, QueueTarget, report_from_job, submit_job, wait_for_job

SMOKE_REQUEST = Txt2ImgRequest(prompt="a red apple on a wooden table", steps=1, width=64, height=64, seed=1)


class SmokeTestFailed(Txt2ImgError):
    """No PNG came back; `status` and `body_excerpt` describe the last answer (status None: no answer)."""


@dataclass(frozen=True)
class SmokeResult:
    url: str
    seed: int | None
    model: str | None
    width: int
    height: int
    seconds: float
    attempts: int


def smoke_test(
    url: str,
    api_key: str | None,
    *,
    timeout_seconds: float = 600,
    say: Callable[[str], None] = print,
    policy: WaitPolicy | None = None,
) -> SmokeResult:
    """Run SMOKE_REQUEST against `url`, waiting up to `timeout_seconds` for the gateway and the model.

    The key is sent only if the gateway asks for it. A cut-off (504/524) is retried too: for a 1-step
    64x64 image it means the model is still loading. `policy` overrides the retry timing (tests).
    """
    wait = replace(policy or WaitPolicy(), wait_seconds=timeout_seconds, retry_cutoff=True)
    say(f"smoke test: 1-step 64x64 txt2img through {url}")
    try:
        result = txt2img(
            url, SMOKE_REQUEST, auth=AuthMode.AUTO, api_key=lambda: api_key, policy=wait, say=say
        )
    except Txt2ImgError as error:
        answer = f"HTTP {error.status}" if error.status is not None else "no HTTP answer"
        message = f"smoke test of {url} failed ({answer}): {error}"
        message += body_note(error.body_excerpt, message)
        raise SmokeTestFailed(
            message,
            status=error.status,
            body_excerpt=error.body_excerpt,
        ) from error
    image = result.image_info[0]
    say(
        f"smoke test passed: {image.width}x{image.height} PNG, model {result.model or 'unknown'}, "
        f"seed {result.seed}, {result.seconds:.1f} s"
    )
    return SmokeResult(
        url, result.seed, result.model, image.width, image.height, result.seconds, result.attempts
    )


def queue_smoke_test(
    client: SaladClient,
    target: QueueTarget,
    *,
    cold_start: bool,
    timeout_seconds: float = 1800,
    say: Callable[[str], None] = print,
    policy: PollPolicy | None = None,
) -> SmokeResult:
    """Submit SMOKE_REQUEST as one job to the group's queue and wait for its PNG.

    With `cold_start` (min_replicas 0) the job itself makes the autoscaler start the first instance,
    so the wait covers a whole cold start; the progress lines say so.
    """
    cold = " (cold start from zero: the autoscaler starts the first instance for it)" if cold_start else ""
    say(f"smoke test: one 1-step 64x64 txt2img job through queue {target.queue}{cold}")
    wait = replace(policy or PollPolicy(), timeout_seconds=timeout_seconds)
    seen: list[str] = []

    def progress(job: dict[str, Any]) -> None:
        status = str(job.get("status"))
        if not seen or seen[-1] != status:
            seen.append(status)
            note = cold if status == "pending" else ""
            say(f"smoke test job {job.get('id')}: {status}{note}")

    try:
        job_id = submit_job(client, target, SMOKE_REQUEST, 1)
    except SaladApiError as error:
        raise SmokeTestFailed(f"smoke test through queue {target.queue} failed: {error}") from error
    try:
        report = report_from_job(1, wait_for_job(client, target, job_id, wait, progress))
    except Txt2ImgError as error:
        # Left in the queue, the job would keep the autoscaler busy after the deploy failed.
        raise SmokeTestFailed(
            f"smoke test through queue {target.queue} failed: {error} {_cancel(client, target, job_id)}"
        ) from error
    if report.result is None:
        raise SmokeTestFailed(f"smoke test through queue {target.queue} failed: {report.error}")
    image = report.result.image_info[0]
    say(
        f"smoke test passed: {image.width}x{image.height} PNG from job {report.job_id}, "
        f"{report.total_seconds or 0:.1f} s in the queue and on the GPU, {report.retries} retries"
    )
    return SmokeResult(
        f"queue {target.queue}",
        report.result.seed,
        report.result.model,
        image.width,
        image.height,
        report.total_seconds or 0.0,
        report.attempts,
    )


def _cancel(client: SaladClient, target: QueueTarget, job_id: str) -> str:
    try:
        client.delete_job(target.organization, target.project, target.queue, job_id)
    except SaladApiError as error:
        return f"Cancelling the smoke job also failed ({error})."
    return "The smoke job was cancelled."
