"""Benchmark: the same batch through the gateway and through the job queue, on the same fake A1111.

    venv/bin/python -m bench.queue_bench                       # 24 jobs, 4 instances, 1 s of "GPU" each
    venv/bin/python -m bench.queue_bench --jobs 60 --poll-seconds 0.5

Prints, for each path: jobs per minute for the whole batch, and the submit-to-result overhead of a
single job on idle instances (median of `--single` sequential jobs, minus the webui's own time). Both
paths send the same txt2img body to one fake webui whose generation takes `--gpu-seconds`; the gateway
path runs `--instances` requests at a time (one per instance); the queue path submits every job at
once to a group of that many instances (the stand-in worker takes one job per instance) and polls
each job with the given backoff (production default: 2 s growing to 15 s) through the batch client's
loop (`run_batch`). Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests

from components.salad.client import SaladClient
from components.salad.rate_budget import RateBudget
from components.txt2img.gateway_client import AuthMode, Txt2ImgRequest, WaitPolicy, txt2img
from components.txt2img.queue_client import (
    PollPolicy,
    QueueTarget,
    report_from_job,
    run_batch,
    submit_job,
    wait_for_job,
)
from tests.fakes.fake_webui import serve
from tests.fakes.gateway import FakeGateway
from tests.fakes.salad_api import SaladEmulator
from tests.fakes.salad_testkit import valid_body

ORG, PROJECT, QUEUE, GROUP = "bench-org", "bench", "bench-jobs", "bench-batch"
API_KEY = "bench-key"
STEPS = 10
REQUEST = Txt2ImgRequest(prompt="a lighthouse", steps=STEPS, width=64, height=64, seed=1)


def timed(jobs: int, workers: int, one: Callable[[int], None]) -> tuple[float, list[float]]:
    """Run `one(i)` for every job with `workers` threads; (wall seconds, per-job seconds)."""
    latencies: list[float] = []

    def run(index: int) -> None:
        started = time.monotonic()
        one(index)
        latencies.append(time.monotonic() - started)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(run, range(jobs)))
    return time.monotonic() - started, latencies


def report(label: str, jobs: int, wall: float, singles: list[float], gpu: float) -> None:
    overhead = [latency - gpu for latency in singles]
    print(
        f"{label:8} {jobs / wall * 60:7.1f} jobs/min (batch wall {wall:.1f} s)   submit-to-result overhead "
        f"of one job: median {statistics.median(overhead):5.2f} s, max {max(overhead):5.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=24)
    parser.add_argument("--instances", type=int, default=4)
    parser.add_argument("--single", type=int, default=5, help="sequential single jobs for the overhead")
    parser.add_argument("--gpu-seconds", type=float, default=1.0, help="generation time per job")
    parser.add_argument("--poll-seconds", type=float, default=2.0, help="first poll interval (queue)")
    parser.add_argument("--max-poll-seconds", type=float, default=15.0, help="longest poll interval (queue)")
    args = parser.parse_args()

    os.environ["FAKE_WEBUI_QUIET"] = "1"
    os.environ["FAKE_WEBUI_SECONDS_PER_STEP"] = str(args.gpu_seconds / STEPS)
    webui = serve(["--api", "--nowebui"], host="127.0.0.1", port=0)
    gateway = FakeGateway(webui.url).start()
    emulator = SaladEmulator(api_key=API_KEY).start()
    try:
        print(
            f"{args.jobs} jobs of {args.gpu_seconds:.2f} s on {args.instances} instances; queue polling "
            f"{args.poll_seconds:g} s growing to {args.max_poll_seconds:g} s"
        )
        session = requests.Session()
        _, direct = timed(
            args.single, 1, lambda _i: session.post(webui.url + "/sdapi/v1/txt2img", json=REQUEST.body())
        )
        gpu = statistics.median(direct)
        print(f"webui alone: {gpu:.2f} s per job")

        policy = WaitPolicy(wait_seconds=60)

        def one_request(_index: int) -> None:
            txt2img(gateway.url, REQUEST, auth=AuthMode.NEVER, policy=policy, say=lambda _l: None)

        _, singles = timed(args.single, 1, one_request)
        wall, _ = timed(args.jobs, args.instances, one_request)
        report("gateway", args.jobs, wall, singles, gpu)

        emulator.queues.connect_webui(webui.url)
        headers = {"Salad-Api-Key": API_KEY}
        base = f"{emulator.base_url}/organizations/{ORG}/projects/{PROJECT}"
        requests.post(f"{base}/queues", json={"name": QUEUE}, headers=headers, timeout=5).raise_for_status()
        body = valid_body(GROUP, replicas=args.instances)
        del body["networking"]
        body["queue_connection"] = {"path": "/sdapi/v1/txt2img", "port": 7859, "queue_name": QUEUE}
        body["queue_autoscaler"] = {
            "min_replicas": args.instances,
            "max_replicas": args.instances,
            "desired_queue_length": 1,
        }
        requests.post(f"{base}/containers", json=body, headers=headers, timeout=5).raise_for_status()
        while (
            not all(i["ready"] for i in emulator.instances(ORG, PROJECT, GROUP)[: args.instances])
            or len(emulator.instances(ORG, PROJECT, GROUP)) < args.instances
        ):
            time.sleep(0.05)

        client = SaladClient(API_KEY, emulator.base_url, rate_budget=RateBudget(100000))
        target = QueueTarget(ORG, PROJECT, QUEUE)
        poll = PollPolicy(
            timeout_seconds=600, first_interval=args.poll_seconds, max_interval=args.max_poll_seconds
        )

        def one_job(index: int) -> None:
            job = wait_for_job(client, target, submit_job(client, target, REQUEST, index + 1), poll)
            if not report_from_job(index + 1, job).ok:
                raise RuntimeError(f"job {index + 1} failed")

        _, singles = timed(args.single, 1, one_job)
        emulator.clear_log()
        # The batch client's own loop: every job submitted at once, all polled round by round.
        started = time.monotonic()
        reports = run_batch(
            client,
            target,
            [REQUEST] * args.jobs,
            concurrency=8,
            policy=poll,
            on_report=lambda _report: None,
            on_progress=lambda _progress: None,
        )
        wall = time.monotonic() - started
        if not all(r.ok for r in reports):
            raise RuntimeError("a batch job failed")
        report("queue", args.jobs, wall, singles, gpu)
        polls = [r for r in emulator.request_log() if r.method == "GET" and "/jobs/" in r.path]
        submitted = len(emulator.requests_to("POST", "/jobs"))
        print(f"queue batch API calls: {submitted} submissions, {len(polls)} polls")
    finally:
        emulator.stop()
        gateway.stop()
        webui.shutdown()
        webui.server_close()


if __name__ == "__main__":
    main()
