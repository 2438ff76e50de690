"""ContainerGroupProvider in job-queue mode against the emulator: body, waits, autoscaler patch, replace."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from components.container_group.provider import ContainerGroupError, ContainerGroupProvider
from tests.conftest import TEST_API_KEY
from tests.container_group.provider_fixtures import (
    NEW_IMAGE,
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
        ContainerGroupError, match=r"job .* failed; Salad's events: created .*started .*failed"
    ) as caught:
        provider.create(
            queue_inputs(provider, smoke_test=True, queue_autoscaler={**AUTOSCALER, "min_replicas": 1.0})
        )
    assert "deleted again" in str(caught.value)


def scaled(provider: ContainerGroupProvider, low: float, high: float, **overrides: Any) -> dict[str, Any]:
    """Queue inputs as the stack config builds them: `replicas` is the autoscaler's minimum."""
    autoscaler = {**AUTOSCALER, "min_replicas": low, "max_replicas": high}
    return queue_inputs(provider, replicas=low, queue_autoscaler=autoscaler, **overrides)


def test_quota_below_max_replicas_warns_and_the_deploy_goes_on(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    salad_emulator.set_replicas_quota(2)
    outs = dict(provider.create(scaled(provider, 0.0, 3.0)).outs or {})
    assert outs["status"] in ("deploying", "running")
    printed = capsys.readouterr().out
    assert "warning: the queue autoscaler may scale to 3 replicas" in printed
    assert "container_replicas_quota is 2" in printed and "salad-sd:deployment.queue.autoscaler" in printed


def test_raising_max_replicas_past_the_quota_warns_before_the_patch(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    olds = scaled(provider, 0.0, 3.0)
    created = provider.create(olds)
    capsys.readouterr()
    salad_emulator.set_replicas_quota(4)  # none used: the group runs no instance without jobs
    provider._preflight = type(provider._preflight)()  # a new process: nothing cached
    provider.update(created.id, {**olds, **dict(created.outs or {})}, scaled(provider, 0.0, 8.0))
    printed = capsys.readouterr().out
    assert "may scale to 8 replicas" in printed and "4 more can be deployed" in printed
    assert "needs 5 more" in printed  # counted from the old maximum, 3: the group may hold that many now
    assert len(salad_emulator.requests_to("PATCH")) == 1


def test_min_replicas_above_the_quota_fails_before_any_write(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    salad_emulator.set_replicas_quota(1)
    salad_emulator.clear_log()
    with pytest.raises(ContainerGroupError) as caught:
        provider.create(scaled(provider, 2.0, 3.0))
    message = str(caught.value)
    assert "container_replicas_quota is 1" in message and "needs 2" in message
    assert "salad-sd:deployment.queue.autoscaler.minReplicas" in message
    assert [r.method for r in salad_emulator.request_log() if r.method != "GET"] == []


def test_gpu_availability_is_checked_against_max_replicas_from_zero(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    salad_emulator.no_gpu_availability()
    provider.create(scaled(provider, 0.0, 3.0, priority="batch"))
    assert len(salad_emulator.requests_to("POST", "/sce-gpu-availability")) == 1
    printed = capsys.readouterr().out
    assert "warning: Salad reports 0 available node(s)" in printed and "for 3 replica(s)" in printed


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
    # No webui connected: the stand-in worker never takes the job. The job gets what is left of the
    # 60 s wait (the deploy took some of it), at least the provider's floor of 60 s.
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


def test_image_change_from_zero_waits_until_the_group_shows_the_newer_version(
    salad_emulator: SaladEmulator, provider: ContainerGroupProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    salad_emulator.version_after_preparation()
    olds = queue_inputs(provider)
    created = provider.create(olds)
    state = {**olds, **dict(created.outs or {})}
    salad_emulator.clear_log()
    updated = provider.update(created.id, state, queue_inputs(provider, image=NEW_IMAGE))
    assert (updated.outs or {})["version"] == state["version"] + 1
    # The group was polled until its version moved past the old one (Salad bumps it after preparation).
    gets = [r for r in salad_emulator.requests_to("GET", f"/containers/{NAME}")]
    assert len(gets) >= 2
    assert "autoscaler starts instances as jobs arrive" in capsys.readouterr().out.splitlines()[-1]


def test_autoscaler_change_with_a_floor_waits_on_old_version_instances_without_a_version_wait(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    scaled = {**AUTOSCALER, "min_replicas": 1.0}
    olds = queue_inputs(provider, queue_autoscaler=scaled)
    created = provider.create(olds)
    state = {**olds, **dict(created.outs or {})}
    salad_emulator.clear_log()
    updated = provider.update(
        created.id, state, queue_inputs(provider, queue_autoscaler={**scaled, "max_replicas": 6.0})
    )
    assert [set(r.body) for r in salad_emulator.requests_to("PATCH")] == [{"queue_autoscaler"}]
    assert (updated.outs or {})["version"] == state["version"]
    assert (updated.outs or {})["ready_replicas"] >= 1  # the instance of the unchanged version counted


def test_crash_looping_instances_fail_the_queue_smoke_test_with_salads_events(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator, webui: WebuiServer
) -> None:
    salad_emulator.fail_instances("salad-sd", "crash_loop")
    with pytest.raises(ContainerGroupError, match=r"Exited:1") as caught:
        provider.create(queue_inputs(provider, smoke_test=True, ready_timeout_minutes=30.0))
    message = str(caught.value)
    assert "deleted again" in message
    cancelled = [r for r in salad_emulator.request_log() if r.method == "DELETE" and "/jobs/" in r.path]
    assert len(cancelled) == 1  # the smoke job does not stay behind to keep the autoscaler busy
