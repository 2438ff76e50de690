"""The emulator's job queues: endpoints per the spec, the stand-in worker, retries and the autoscaler."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.fakes.fake_webui import WebuiServer, serve
from tests.fakes.salad_api import SaladEmulator
from tests.fakes.salad_testkit import ORG, PROJECT, Api, valid_body
from tests.fakes.waiting import wait_until

Json = Any
QUEUE = "sd-jobs"
TXT2IMG = {"prompt": "an apple", "steps": 1, "width": 16, "height": 16, "seed": 3}


@pytest.fixture
def webui() -> Iterator[WebuiServer]:
    server = serve(["--api", "--nowebui"], host="127.0.0.1", port=0)
    yield server
    server.shutdown()
    server.server_close()


class Queues(Api):
    def qurl(self, suffix: str = "") -> str:
        return f"{self.emu.base_url}/organizations/{ORG}/projects/{PROJECT}/queues{suffix}"

    def create_queue(self, body: Json) -> requests.Response:
        return self.session.post(self.qurl(), json=body, timeout=5)

    def submit(self, body: Json, queue: str = QUEUE) -> requests.Response:
        return self.session.post(self.qurl(f"/{queue}/jobs"), json=body, timeout=5)

    def job(self, job_id: str, queue: str = QUEUE) -> dict[str, Json]:
        r = self.session.get(self.qurl(f"/{queue}/jobs/{job_id}"), timeout=5)
        assert r.status_code == 200, r.text
        data: dict[str, Json] = r.json()
        return data


def queue_group(name: str = "sd-batch", *, min_replicas: int = 0, max_replicas: int = 3) -> dict[str, Json]:
    body = valid_body(name, replicas=min_replicas)
    del body["networking"]
    body["queue_connection"] = {"path": "/sdapi/v1/txt2img", "port": 7859, "queue_name": QUEUE}
    body["queue_autoscaler"] = {
        "min_replicas": min_replicas,
        "max_replicas": max_replicas,
        "desired_queue_length": 1,
        "polling_period": 15,
    }
    return body


@pytest.fixture
def api(emu: SaladEmulator) -> Queues:
    return Queues(emu)


def test_queue_crud_and_validation(api: Queues) -> None:
    created = api.create_queue({"name": QUEUE, "display_name": "SD jobs", "description": "batch"})
    assert created.status_code == 201, created.text
    assert created.headers["Location"].endswith(f"/queues/{QUEUE}")
    assert created.json()["container_groups"] == [] and created.json()["description"] == "batch"
    again = api.create_queue({"name": QUEUE})
    assert again.status_code == 400 and again.json()["type"] == "name_conflict"
    for bad in ({"name": "Bad_Name"}, {"name": "ok-name", "extra": 1}, {"display_name": "x y"}):
        assert api.create_queue(bad).status_code == 400, bad
    patched = api.session.patch(
        api.qurl(f"/{QUEUE}"),
        data=b'{"description": null, "display_name": "Jobs"}',
        headers={"Content-Type": "application/merge-patch+json"},
        timeout=5,
    )
    assert patched.status_code == 200 and "description" not in patched.json()
    assert patched.json()["display_name"] == "Jobs"
    plain = api.session.patch(api.qurl(f"/{QUEUE}"), json={"display_name": "Jobs"}, timeout=5)
    assert plain.status_code == 415
    assert api.session.delete(api.qurl(f"/{QUEUE}"), timeout=5).status_code == 202
    assert api.session.get(api.qurl(f"/{QUEUE}"), timeout=5).status_code == 404


def test_job_validation_and_cancel(api: Queues) -> None:
    api.create_queue({"name": QUEUE})
    assert api.submit({"metadata": {}}).status_code == 400  # input is required
    assert api.submit({"input": 1, "priority": 2}).status_code == 400
    assert api.submit({"input": 1}, queue="nope").status_code == 404
    job = api.submit({"input": TXT2IMG, "metadata": {"n": 1}}).json()
    assert job["status"] == "pending" and [e["action"] for e in job["events"]] == ["created"]
    assert api.session.delete(api.qurl(f"/{QUEUE}/jobs/{job['id']}"), timeout=5).status_code == 202
    assert api.job(job["id"])["status"] == "cancelled"


def test_jobs_run_on_the_stand_in_worker_after_scaling_up_from_zero(
    api: Queues, emu: SaladEmulator, webui: WebuiServer
) -> None:
    emu.queues.connect_webui(webui.url)
    api.create_queue({"name": QUEUE})
    assert api.create(queue_group()).status_code == 201
    assert api.group("sd-batch")["replicas"] == 0
    assert (
        api.session.get(api.qurl(f"/{QUEUE}"), timeout=5).json()["container_groups"][0]["name"] == "sd-batch"
    )
    ids = [api.submit({"input": {**TXT2IMG, "seed": n}}).json()["id"] for n in range(3)]
    wait_until(lambda: api.group("sd-batch")["replicas"] == 3, timeout=10, message="scale-up to max")
    for job_id in ids:
        done = wait_until(lambda job_id=job_id: _finished(api, job_id), timeout=20)
        assert done["status"] == "succeeded", done
        png = base64.b64decode(done["output"]["images"][0])
        assert png.startswith(b"\x89PNG")
    wait_until(lambda: api.group("sd-batch")["replicas"] == 0, timeout=10, message="scale-down to min")


def test_interrupted_instance_loses_its_attempt_and_the_job_runs_elsewhere(
    api: Queues, emu: SaladEmulator, webui: WebuiServer
) -> None:
    emu.queues.connect_webui(webui.url)
    emu.queues.job_seconds = 0.5
    api.create_queue({"name": QUEUE})
    api.create(queue_group(min_replicas=2, max_replicas=2))
    job_id = api.submit({"input": TXT2IMG}).json()["id"]
    busy = wait_until(lambda: emu.queues.busy_instances(ORG, PROJECT, "sd-batch"), timeout=10)
    (instance_id,) = busy
    emu.queues.interrupt(ORG, PROJECT, "sd-batch", instance_id)
    done = wait_until(lambda: _finished(api, job_id), timeout=20)
    assert done["status"] == "succeeded"
    assert [e["action"] for e in done["events"]] == ["created", "started", "started", "succeeded"]
    record = emu.queues.job_record(ORG, PROJECT, QUEUE, job_id)
    assert record is not None and record.tried[0] == instance_id and record.tried[1] != instance_id


def test_failing_webui_fails_the_job_after_max_attempts(
    api: Queues, emu: SaladEmulator, webui: WebuiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_WEBUI_FAIL", "1")
    emu.queues.connect_webui(webui.url)
    api.create_queue({"name": QUEUE})
    api.create(queue_group(min_replicas=1, max_replicas=1))
    job_id = api.submit({"input": TXT2IMG}).json()["id"]
    done = wait_until(lambda: _finished(api, job_id), timeout=20)
    assert done["status"] == "failed" and "output" not in done
    assert [e["action"] for e in done["events"]].count("started") == emu.queues.max_attempts


@pytest.mark.parametrize("refuse", [False, True])
def test_deleting_a_queue_with_jobs(api: Queues, emu: SaladEmulator, refuse: bool) -> None:
    emu.queues.reject_delete_with_jobs = refuse
    api.create_queue({"name": QUEUE})
    api.submit({"input": TXT2IMG})
    answer = api.session.delete(api.qurl(f"/{QUEUE}"), timeout=5)
    assert answer.status_code == (400 if refuse else 202)
    if refuse:
        assert "1 pending or running job" in answer.json()["detail"]


def _finished(api: Queues, job_id: str) -> dict[str, Json] | None:
    job = api.job(job_id)
    return job if job["status"] in ("succeeded", "failed", "cancelled") else None


@pytest.mark.parametrize("refuse", [True, False])
def test_group_naming_a_missing_queue(api: Queues, emu: SaladEmulator, refuse: bool) -> None:
    emu.queues.reject_unknown_queue = refuse
    answer = api.create(queue_group())
    assert answer.status_code == (400 if refuse else 201), answer.text
    if refuse:
        assert f"queue {QUEUE!r} does not exist" in answer.json()["detail"]
    assert api.session.get(api.url(), timeout=5).status_code == 200  # the list route still answers


def test_upscale_is_limited_per_minute(api: Queues, emu: SaladEmulator) -> None:
    api.create_queue({"name": QUEUE})
    body = queue_group(max_replicas=5)
    body["queue_autoscaler"]["max_upscale_per_minute"] = 2
    for n in range(5):
        api.submit({"input": {**TXT2IMG, "seed": n}})  # no webui connected: the jobs stay queued
    api.create(body)
    samples: list[tuple[float, int, float]] = []  # (before the read, replicas, after the read)

    def sample() -> bool:
        before = time.monotonic()
        group = emu.group(ORG, PROJECT, "sd-batch")
        assert group is not None
        samples.append((before, int(group["replicas"]), time.monotonic()))
        return samples[-1][1] == 5

    wait_until(sample, timeout=10, interval=0.002, message="scale-up to max")
    minute = 60 * emu.queues.autoscaler_second
    # Any two reads less than a minute apart saw at most one step of +2 between them.
    for before, low, _ in samples:
        for _, high, after in samples:
            if before < after and after - before < minute:
                assert high - low <= 2, (low, high, after - before)
    assert {r for _, r, _ in samples} <= {0, 2, 4, 5}  # steps of 2 (the per-minute limit), then the max
