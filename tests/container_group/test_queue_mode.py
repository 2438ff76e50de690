"""ContainerGroupProvider in job-queue mode against the emulator: body, waits, autoscaler patch, replace."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from components.container_group.provider import ContainerGroupError, ContainerGroupProvider
from tests.conftest import TEST_API_KEY
from tests.container_group.provider_fixtures import (
    ORG,
    PROJECT,
    ScaledTimeProvider,
    checked,
    configure,
    wire_inputs,
)
from tests.fakes.fake_webui import WebuiServer, serve
from tests.fakes.salad_api import SaladEmulator

NAME, QUEUE = "sd-test", "sd-test-jobs"
AUTOSCALER = {"min_replicas": 0.0, "max_replicas": 3.0, "desired_queue_length": 2.0}


@pytest.fixture
def provider(salad_emulator: SaladEmulator) -> ContainerGroupProvider:
    requests.post(
        f"{salad_emulator.base_url}/organizations/{ORG}/projects/{PROJECT}/queues",
        json={"name": QUEUE},
        headers={"Salad-Api-Key": TEST_API_KEY},
        timeout=5,
    ).raise_for_status()
    return configure(ScaledTimeProvider(), salad_emulator)


@pytest.fixture
def webui(salad_emulator: SaladEmulator) -> Iterator[WebuiServer]:
    server = serve(["--api", "--nowebui"], host="127.0.0.1", port=0)
    salad_emulator.queues.connect_webui(server.url)
    yield server
    server.shutdown()
    server.server_close()


def queue_inputs(provider: ContainerGroupProvider, **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "gateway": None,
        "replicas": None,
        "startup_probe": None,
        "liveness_probe": {"http": {"path": "/internal/ping", "port": 7859.0}},
        "queue_connection": {"queue_name": QUEUE, "port": 7859.0, "path": "/sdapi/v1/txt2img"},
        "queue_autoscaler": dict(AUTOSCALER),
    }
    return checked(provider, **{**settings, **overrides})


def test_create_sends_queue_settings_and_returns_once_deployed_from_zero(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    result = provider.create(queue_inputs(provider, priority="batch"))
    (post,) = salad_emulator.requests_to("POST", "/containers")
    assert post.body["queue_connection"] == {"queue_name": QUEUE, "port": 7859, "path": "/sdapi/v1/txt2img"}
    assert post.body["queue_autoscaler"] == {
        "min_replicas": 0,
        "max_replicas": 3,
        "desired_queue_length": 2,
        "polling_period": 30,
        "max_upscale_per_minute": 10,
        "max_downscale_per_minute": 5,
    }
    assert post.body["replicas"] == 0 and "networking" not in post.body
    assert all(type(v) is int for v in post.body["queue_autoscaler"].values())
    outs = dict(result.outs or {})
    assert outs["status"] in ("deploying", "running") and outs["url"] is None
    assert salad_emulator.requests_to("GET", "/instances") == []  # nothing to wait for with min 0
    low, high = outs["estimated_cost_per_hour"]["min"], outs["estimated_cost_per_hour"]["max"]
    assert low == 0 and high > 0
    lines = capsys.readouterr().out.splitlines()
    assert any("preparing the image (pending)" in line for line in lines)
    assert "autoscaler starts instances as jobs arrive" in lines[-1]


def test_min_replicas_above_zero_waits_for_that_many_ready(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    result = provider.create(
        queue_inputs(provider, queue_autoscaler={**AUTOSCALER, "min_replicas": 2.0}, min_ready_replicas=5.0)
    )
    assert (result.outs or {})["ready_replicas"] == 2


def test_autoscaler_change_is_one_patch_of_the_whole_object_and_no_version_wait(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    olds = queue_inputs(provider)
    created = provider.create(olds)
    state = {**olds, **dict(created.outs or {})}
    news = queue_inputs(provider, queue_autoscaler={**AUTOSCALER, "max_replicas": 6.0})
    diff = provider.diff(created.id, state, news)
    assert diff.changes and diff.replaces == []
    salad_emulator.clear_log()
    updated = provider.update(created.id, state, news)
    (patch,) = salad_emulator.requests_to("PATCH")
    assert patch.body == {
        "queue_autoscaler": {
            "min_replicas": 0,
            "max_replicas": 6,
            "desired_queue_length": 2,
            "polling_period": 30,
            "max_upscale_per_minute": 10,
            "max_downscale_per_minute": 5,
        }
    }
    assert (updated.outs or {})["version"] == state["version"]
    assert salad_emulator.requests_to("GET", "/instances") == []


def test_queue_connection_change_replaces_deleting_first(provider: ContainerGroupProvider) -> None:
    olds = queue_inputs(provider)
    news = queue_inputs(provider, queue_connection={"queue_name": "other-jobs", "port": 7859.0})
    diff = provider.diff("id", olds, news)
    assert diff.replaces == ["queue_connection"] and diff.delete_before_replace


def test_refresh_does_not_report_the_autoscalers_replicas_as_drift(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    olds = queue_inputs(provider)
    created = provider.create(olds)
    salad_emulator.edit_out_of_band(ORG, PROJECT, NAME, {"replicas": 3})  # what the autoscaler does
    state = {**olds, **dict(created.outs or {})}
    read = provider.read(created.id, state)
    assert read.inputs is not None
    assert not provider.diff(created.id, dict(read.outs or {}), olds).changes


def test_smoke_job_scales_from_zero_and_succeeds(
    provider: ContainerGroupProvider,
    salad_emulator: SaladEmulator,
    webui: WebuiServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = provider.create(queue_inputs(provider, smoke_test=True))
    assert result.outs is not None
    out = capsys.readouterr().out
    assert "cold start from zero" in out and "smoke test passed: 64x64 PNG" in out
    (job_post,) = salad_emulator.requests_to("POST", f"/queues/{QUEUE}/jobs")
    assert job_post.body["input"]["steps"] == 1 and job_post.body["input"]["width"] == 64
    (group_post,) = salad_emulator.requests_to("POST", "/containers")
    # Created with no instance, the job still ran on one: the autoscaler scaled up from 0 for it (and may
    # already have scaled back down, so the count is not asserted).
    record = salad_emulator.queues.job_record(ORG, PROJECT, QUEUE, str(job_post_id(salad_emulator)))
    assert group_post.body["replicas"] == 0 and record is not None and len(record.tried) >= 1


def test_failed_smoke_job_fails_the_create_with_salads_events(
    provider: ContainerGroupProvider,
    salad_emulator: SaladEmulator,
    webui: WebuiServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_WEBUI_FAIL", "1")
    with pytest.raises(
        Exception, match=r"job .* failed; Salad's events: created .*started .*failed"
    ) as caught:
        provider.create(
            queue_inputs(provider, smoke_test=True, queue_autoscaler={**AUTOSCALER, "min_replicas": 1.0})
        )
    assert "deleted again" in str(caught.value)


def test_check_rejects_an_autoscaler_without_a_queue_or_with_min_above_max(
    provider: ContainerGroupProvider,
) -> None:
    alone = provider.check({}, wire_inputs(queue_autoscaler=dict(AUTOSCALER)))
    assert [f.property for f in alone.failures] == ["queue_autoscaler"]
    connection = {"queue_name": QUEUE, "port": 7859.0}
    inverted = provider.check(
        {}, wire_inputs(queue_connection=connection, queue_autoscaler={**AUTOSCALER, "min_replicas": 4.0})
    )
    assert [(f.property, f.reason) for f in inverted.failures] == [
        (
            "queue_autoscaler.min_replicas",
            "queue_autoscaler.min_replicas must not exceed the maximum replicas (4 > 3)",
        )
    ]


def test_smoke_job_that_never_runs_times_out_and_is_cancelled(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    # No webui connected: the stand-in worker never takes the job.
    with pytest.raises(
        ContainerGroupError, match=r"still pending after 60 s.*The smoke job was cancelled"
    ) as caught:
        provider.create(queue_inputs(provider, smoke_test=True, ready_timeout_minutes=1.0))
    assert "deleted again" in str(caught.value)
    (job,) = salad_emulator.requests_to("POST", f"/queues/{QUEUE}/jobs")
    cancelled = [r for r in salad_emulator.request_log() if r.method == "DELETE" and "/jobs/" in r.path]
    assert len(cancelled) == 1 and job.status == 201


def job_post_id(emulator: SaladEmulator) -> str:
    """The id of the one job submitted to the queue (from the emulator's records)."""
    (job_id,) = [job["id"] for job in jobs_of(emulator)]
    return str(job_id)


def jobs_of(emulator: SaladEmulator) -> list[dict[str, Any]]:
    answer = requests.get(
        f"{emulator.base_url}/organizations/{ORG}/projects/{PROJECT}/queues/{QUEUE}/jobs",
        headers={"Salad-Api-Key": TEST_API_KEY},
        timeout=5,
    )
    return list(answer.json()["items"])
