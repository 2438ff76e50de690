"""QueueProvider against the Salad emulator: create, read (drift), update, delete, jobs left behind."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from components.queue.provider import QueueError, QueueProvider
from components.salad.errors import SaladApiError
from tests.conftest import TEST_API_KEY
from tests.container_group.provider_fixtures import ORG, PROJECT, provider_config
from tests.fakes.salad_api import SaladEmulator

NAME = "sd-jobs"


@pytest.fixture
def provider(salad_emulator: SaladEmulator) -> QueueProvider:
    provider = QueueProvider()
    provider.configure(ConfigureRequest(Config(provider_config(salad_emulator), "salad-sd")))
    return provider


def checked(provider: QueueProvider, **overrides: Any) -> dict[str, Any]:
    result = provider.check({}, {"name": NAME, **overrides})
    assert not result.failures, [(f.property, f.reason) for f in result.failures]
    return dict(result.inputs)


def queue_url(emulator: SaladEmulator, suffix: str = "") -> str:
    return f"{emulator.base_url}/organizations/{ORG}/projects/{PROJECT}/queues/{NAME}{suffix}"


def submit_job(emulator: SaladEmulator) -> None:
    answer = requests.post(
        queue_url(emulator, "/jobs"),
        json={"input": {"prompt": "x"}},
        headers={"Salad-Api-Key": TEST_API_KEY},
        timeout=5,
    )
    assert answer.status_code == 201


def test_lifecycle(
    provider: QueueProvider, salad_emulator: SaladEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = checked(provider, description="batch txt2img")
    assert inputs["organization"] == ORG and inputs["project"] == PROJECT
    created = provider.create(inputs)
    (post,) = salad_emulator.requests_to("POST", "/queues")
    assert post.body == {"name": NAME, "description": "batch txt2img"}
    assert created.outs is not None and created.outs["queue_id"] == created.id

    news = checked(provider, description="nightly batches", display_name="SD jobs")
    described = provider.diff(created.id, created.outs, news)
    assert described.replaces == [] and set(described.stables or []) == {"organization", "project", "name"}
    updated = provider.update(created.id, created.outs, news)
    (patch,) = salad_emulator.requests_to("PATCH", f"/queues/{NAME}")
    assert patch.body == {"description": "nightly batches", "display_name": "SD jobs"}
    assert patch.content_type == "application/merge-patch+json"

    requests.patch(
        queue_url(salad_emulator),
        data=b'{"description": "edited in the portal"}',
        headers={"Salad-Api-Key": TEST_API_KEY, "Content-Type": "application/merge-patch+json"},
        timeout=5,
    )
    read = provider.read(created.id, dict(updated.outs or {}))
    assert read.inputs is not None and read.inputs["description"] == "edited in the portal"
    drift = provider.diff(created.id, dict(read.outs or {}), news)
    assert drift.changes and drift.replaces == []

    provider.delete(created.id, dict(read.outs or {}))
    assert salad_emulator.queues.queue_names(ORG, PROJECT) == []
    provider.delete(created.id, dict(read.outs or {}))  # already gone: 404 is success
    assert provider.read(created.id, dict(read.outs or {})).id == ""
    assert TEST_API_KEY not in capsys.readouterr().out


def test_name_taken_outside_pulumi_is_explained(
    provider: QueueProvider, salad_emulator: SaladEmulator
) -> None:
    provider.create(checked(provider))
    with pytest.raises(QueueError, match="already exists in acme/sd-dev"):
        provider.create(checked(provider))


def test_create_is_not_resent_after_an_ambiguous_failure(
    provider: QueueProvider, salad_emulator: SaladEmulator
) -> None:
    salad_emulator.inject_status(503, method="POST", path_re="/queues$")
    with pytest.raises(SaladApiError, match="HTTP 503"):
        provider.create(checked(provider))
    assert len(salad_emulator.requests_to("POST", "/queues")) == 1
    assert salad_emulator.queues.queue_names(ORG, PROJECT) == []


@pytest.mark.parametrize("refuse", [False, True])
def test_delete_says_when_jobs_are_left(
    provider: QueueProvider, salad_emulator: SaladEmulator, capsys: pytest.CaptureFixture[str], refuse: bool
) -> None:
    salad_emulator.queues.reject_delete_with_jobs = refuse
    created = provider.create(checked(provider))
    submit_job(salad_emulator)
    assert created.outs is not None
    if refuse:
        with pytest.raises(QueueError, match="refuses to delete the queue while it holds 1 unfinished job"):
            provider.delete(created.id, dict(created.outs))
        assert salad_emulator.queues.queue_names(ORG, PROJECT) == [NAME]
    else:
        provider.delete(created.id, dict(created.outs))
        assert salad_emulator.queues.queue_names(ORG, PROJECT) == []
    assert "still holds 1 unfinished job(s) (1 pending, 0 running)" in capsys.readouterr().out


def test_update_of_a_queue_deleted_outside_pulumi(
    provider: QueueProvider, salad_emulator: SaladEmulator
) -> None:
    created = provider.create(checked(provider))
    requests.delete(queue_url(salad_emulator), headers={"Salad-Api-Key": TEST_API_KEY}, timeout=5)
    with pytest.raises(QueueError, match="pulumi refresh"):
        provider.update(created.id, dict(created.outs or {}), checked(provider, description="d"))
