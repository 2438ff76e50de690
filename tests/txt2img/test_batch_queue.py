"""The batch client against the emulator's queue and stand-in worker (the fake A1111 behind it)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from components.txt2img.cli import main
from components.txt2img.png import inspect_png
from tests.conftest import TEST_API_KEY
from tests.fakes.salad_api import SaladEmulator
from tests.fakes.salad_testkit import valid_body
from tests.fakes.waiting import wait_until
from tests.txt2img.conftest import WebuiFactory
from tests.txt2img.test_cli import fake_pulumi

ORG, PROJECT, QUEUE, GROUP = "acme", "sd-batch", "sd-batch-jobs", "sd-batch"
FAST = [
    "--poll-seconds",
    "0.02",
    "--max-poll-seconds",
    "0.1",
    "--steps",
    "1",
    "--width",
    "32",
    "--height",
    "32",
]


@pytest.fixture
def queue_stack(
    salad_emulator: SaladEmulator, start_webui: WebuiFactory, monkeypatch: pytest.MonkeyPatch
) -> SaladEmulator:
    """A queue and a group (2 to 4 instances) on it, served by the fake webui; env as a user sets it."""
    salad_emulator.queues.connect_webui(start_webui().url)
    headers = {"Salad-Api-Key": TEST_API_KEY}
    base = f"{salad_emulator.base_url}/organizations/{ORG}/projects/{PROJECT}"
    requests.post(f"{base}/queues", json={"name": QUEUE}, headers=headers, timeout=5).raise_for_status()
    body = valid_body(GROUP, replicas=2)
    del body["networking"]
    body["queue_connection"] = {"path": "/sdapi/v1/txt2img", "port": 7859, "queue_name": QUEUE}
    body["queue_autoscaler"] = {"min_replicas": 2, "max_replicas": 4, "desired_queue_length": 3}
    requests.post(f"{base}/containers", json=body, headers=headers, timeout=5).raise_for_status()
    for name, value in {
        "SALAD_API_URL": salad_emulator.base_url,
        "SALAD_API_KEY": TEST_API_KEY,
        "SALAD_ORGANIZATION": ORG,
        "SALAD_PROJECT": PROJECT,
        "SALAD_REQUESTS_PER_MINUTE": "100000",
    }.items():
        monkeypatch.setenv(name, value)
    return salad_emulator


def run_in_thread(argv: list[str]) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.setdefault("code", main(argv)), daemon=True)
    thread.start()
    return thread, result


def test_twenty_jobs_with_one_instance_interrupted_mid_job(
    queue_stack: SaladEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queue_stack.queues.job_seconds = 0.3  # each job holds its instance long enough to be interrupted
    out = tmp_path / "out"
    thread, result = run_in_thread(
        ["--queue", QUEUE, "--count", "20", "--seed", "7", "--out", str(out), *FAST]
    )
    busy = wait_until(lambda: queue_stack.queues.busy_instances(ORG, PROJECT, GROUP), timeout=20)
    instance_id, job_id = next(iter(busy.items()))
    queue_stack.queues.interrupt(ORG, PROJECT, GROUP, instance_id)
    thread.join(timeout=120)
    assert not thread.is_alive() and result["code"] == 0

    files = sorted(out.glob("job-*.png"))
    assert [f.name for f in files] == [f"job-{n:03d}.png" for n in range(1, 21)]
    assert all(
        (inspect_png(f.read_bytes()).width, inspect_png(f.read_bytes()).height) == (32, 32) for f in files
    )
    assert len(queue_stack.requests_to("POST", f"/queues/{QUEUE}/jobs")) == 20  # never resubmitted
    record = queue_stack.queues.job_record(ORG, PROJECT, QUEUE, job_id)
    # Retried at least once (a scale-down that finds no idle instance may take it away once more).
    assert record is not None and record.status == "succeeded" and len(record.tried) >= 2
    assert record.tried[0] == instance_id != record.tried[1]  # retried on another instance

    stdout, stderr = capsys.readouterr()
    (line,) = [line for line in stdout.splitlines() if f"({job_id})" in line]
    retries = len(record.tried) - 1
    assert (
        f"succeeded, {retries} retr{'y' if retries == 1 else 'ies'}," in line
        and "queued" in line
        and "running" in line
        and "total" in line
    )
    records = [
        queue_stack.queues.job_record(ORG, PROJECT, QUEUE, found)
        for found in map(_job_id, stdout.splitlines())
        if found
    ]
    assert len(records) == 20 and all(record is not None for record in records)
    retried = sum(1 for record in records if record is not None and len(record.tried) > 1)
    assert f"20 job(s): 20 succeeded, 0 failed, {retried} retried by Salad" in stdout and retried >= 1
    assert "[####################] 20/20 done (0 failed)" in stderr
    assert TEST_API_KEY not in stdout + stderr


def test_failed_job_shows_salads_events(
    queue_stack: SaladEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_WEBUI_FAIL", "1")
    code = main(["--queue", QUEUE, "--count", "1", "--out", str(tmp_path), *FAST])
    stdout = capsys.readouterr().out
    assert code == 1 and list(tmp_path.glob("*.png")) == []
    assert "failed, 2 retries" in stdout
    assert "Salad's events: created " in stdout and ", failed " in stdout and stdout.count("started ") == 3


def test_a_lost_submission_is_reported_not_resent(
    queue_stack: SaladEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queue_stack.inject_status(503, method="POST", path_re="/jobs$", times=1)
    code = main(["--queue", QUEUE, "--count", "3", "--concurrency", "1", "--out", str(tmp_path), *FAST])
    stdout = capsys.readouterr().out
    assert code == 1 and len(list(tmp_path.glob("job-*.png"))) == 2
    assert len(queue_stack.requests_to("POST", f"/queues/{QUEUE}/jobs")) == 3
    assert (
        "job 1 (no id): not submitted: answer lost; it may exist, so it is not sent again: Salad API POST"
        in stdout
    )


def test_missing_settings_are_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("SALAD_API_KEY", "SALAD_ORGANIZATION", "SALAD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    assert main(["--queue", "--count", "2"]) == 2
    err = capsys.readouterr().err
    assert (
        "SALAD_API_KEY" in err
        and "SALAD_ORGANIZATION" in err
        and "SALAD_PROJECT" in err
        and "--queue NAME" in err
    )


def _job_id(line: str) -> str | None:
    """The job id of a per-job report line `job N (<id>): ...`."""
    if not line.startswith("job ") or "(" not in line:
        return None
    return line.split("(", 1)[1].split(")", 1)[0]


def test_a_stack_with_a_queue_and_no_gateway_selects_queue_mode(
    queue_stack: SaladEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = fake_pulumi(bin_dir, {"queue": QUEUE, "url": None, "containerGroup": GROUP}, None)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    code = main(["--stack", "batch", "--count", "2", "--out", str(tmp_path / "out"), *FAST])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["job-001.png", "job-002.png"]
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert calls[0][:3] == ["stack", "output", "--json"] and "batch" in calls[0]
    assert ["config", "get", "salad:organization"] in [
        call[:3] for call in calls
    ]  # the stack first, then env


def test_webhook_is_passed_to_salad(queue_stack: SaladEmulator, tmp_path: Path) -> None:
    hook = "https://hooks.example.com/salad-jobs"
    assert main(["--queue", QUEUE, "--count", "1", "--webhook", hook, "--out", str(tmp_path), *FAST]) == 0
    (post,) = queue_stack.requests_to("POST", f"/queues/{QUEUE}/jobs")
    assert post.body["webhook"] == hook and post.body["metadata"] == {"salad_sd_job": 1}
