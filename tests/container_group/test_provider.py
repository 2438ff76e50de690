"""ContainerGroupProvider against the Salad emulator: create/wait, update, read, delete, faults, adoption."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from components.container_group.provider import ContainerGroupError, ContainerGroupProvider
from components.container_group.readiness import count_ready
from tests.conftest import TEST_API_KEY, EmulatorFactory
from tests.container_group.provider_fixtures import (
    NEW_IMAGE,
    ORG,
    PROJECT,
    ScaledTimeProvider,
    checked,
    configure,
)
from tests.fakes.salad_api import SaladEmulator, Timings

NAME = "sd-test"


@pytest.fixture
def provider(salad_emulator: SaladEmulator) -> ContainerGroupProvider:
    return configure(ScaledTimeProvider(), salad_emulator)


def list_groups(emulator: SaladEmulator) -> list[dict[str, Any]]:
    response = requests.get(
        f"{emulator.base_url}/organizations/{ORG}/projects/{PROJECT}/containers",
        headers={"Salad-Api-Key": TEST_API_KEY},
        timeout=5,
    )
    return list(response.json()["items"])


def create(provider: ContainerGroupProvider, **overrides: Any) -> tuple[str, dict[str, Any]]:
    result = provider.create(checked(provider, **overrides))
    assert result.outs is not None
    return result.id, dict(result.outs)


# create and wait


def test_create_waits_until_instances_serve(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    id_, outs = create(provider, min_ready_replicas=2.0)
    group = salad_emulator.group(ORG, PROJECT, NAME)
    assert group is not None and id_ == group["id"]
    assert count_ready(salad_emulator.instances(ORG, PROJECT, NAME), None) >= 2
    assert outs["ready_replicas"] >= 2 and outs["status"] == "running"
    assert outs["url"] == "https://" + group["networking"]["dns"]
    assert outs["replicas"] == 2 and isinstance(outs["replicas"], int)
    assert outs["gpu_class_ids"] == group["container"]["resources"]["gpu_classes"]
    assert len(salad_emulator.requests_to("POST", "/containers")) == 1
    progress = capsys.readouterr().out
    assert f"{NAME}: 2/2 ready" in progress


def test_create_sends_integers_and_priority_under_container(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    create(provider, priority="high", storage_gb=50.0)
    (post,) = salad_emulator.requests_to("POST", "/containers")
    assert post.body["container"]["priority"] == "high" and "priority" not in post.body
    assert post.body["container"]["resources"]["storage_amount"] == 50 * 1024**3
    assert type(post.body["replicas"]) is int and type(post.body["container"]["resources"]["cpu"]) is int


def test_slow_deploy_prints_progress_and_succeeds(
    salad_emulator_factory: EmulatorFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator = salad_emulator_factory(
        Timings(image_prepare=0.4, allocating=0.3, downloading=0.6, creating=0.3, ready=0.3)
    )
    provider = configure(ScaledTimeProvider(), emulator)
    _, outs = create(provider, replicas=1.0)
    assert outs["ready_replicas"] == 1
    lines = capsys.readouterr().out.splitlines()
    assert any("preparing the image" in line for line in lines)
    assert any("downloading" in line for line in lines)
    assert lines[-1].startswith(f"{NAME}: 1/1 ready")


def test_start_is_sent_when_autostart_is_off(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    _, outs = create(provider, autostart=False, replicas=1.0)
    assert outs["ready_replicas"] == 1
    assert len(salad_emulator.requests_to("POST", "/start")) == 1


def test_failed_image_fails_fast_with_salads_description_and_cleans_up(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    salad_emulator.fail_image_preparation("sha256:1111", "Failed to pull image: unauthorized")
    with pytest.raises(ContainerGroupError, match="Failed to pull image: unauthorized") as caught:
        create(provider)
    assert "deleted again" in str(caught.value)
    assert salad_emulator.group(ORG, PROJECT, NAME) is None


def test_never_ready_hits_the_deadline(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    salad_emulator.never_ready("sha256:1111")
    with pytest.raises(ContainerGroupError, match="fewer than 1 ready instance") as caught:
        create(provider, ready_timeout_minutes=1.0, replicas=1.0)
    assert "ready_timeout_minutes" in str(caught.value)
    assert salad_emulator.group(ORG, PROJECT, NAME) is None


def test_unknown_gpu_fails_before_any_write(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    with pytest.raises(ContainerGroupError, match="RTX 3060 Ti \\(8 GB\\)"):
        create(provider, gpu_classes=["RTX 9999"])
    assert not salad_emulator.requests_to("POST")


def test_missing_api_key_is_a_clear_error(
    salad_emulator: SaladEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SALAD_API_KEY", raising=False)
    provider = configure(ContainerGroupProvider(), salad_emulator, **{"salad:apiKey": ""})
    with pytest.raises(ValueError, match="salad:apiKey"):
        create(provider)
    assert not salad_emulator.request_log()


# ambiguous creates, name conflicts and adoption


def test_create_answered_503_adopts_what_it_created(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    salad_emulator.inject_create_then_503()
    id_, _ = create(provider)
    groups = [g for g in (salad_emulator.group(ORG, PROJECT, NAME),) if g]
    assert len(groups) == 1 and groups[0]["id"] == id_
    assert len(salad_emulator.requests_to("POST", "/containers")) == 1


def test_dropped_create_that_did_nothing_is_posted_again(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    salad_emulator.inject_drop(method="POST", path_re="/containers$")
    create(provider)
    assert [r.status for r in salad_emulator.requests_to("POST", "/containers")][-1] == 201


def test_faults_everywhere_converge_on_exactly_one_group(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    salad_emulator.inject_status(429, times=2, retry_after="0")
    salad_emulator.inject_status(503, times=2, html=True, method="GET")
    salad_emulator.inject_drop(times=1, method="GET")
    salad_emulator.inject_create_then_503()
    id_, _ = create(provider)
    assert [g["id"] for g in list_groups(salad_emulator)] == [id_]
    assert len([r for r in salad_emulator.requests_to("POST", "/containers") if r.status in (201, 503)]) == 1


def test_existing_group_with_the_same_spec_is_adopted(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    first_id, _ = create(provider)
    second = configure(ScaledTimeProvider(), salad_emulator)
    second_id, _ = create(second)
    assert second_id == first_id
    assert not salad_emulator.requests_to("PATCH")


def test_existing_group_that_differs_fails_with_what_to_do(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    create(provider)
    with pytest.raises(ContainerGroupError, match="adopt: true") as caught:
        create(configure(ScaledTimeProvider(), salad_emulator), replicas=3.0)
    assert "replicas" in str(caught.value)
    assert salad_emulator.group(ORG, PROJECT, NAME) is not None  # someone else's group is left alone


def test_adopt_takes_over_and_patches_an_existing_group(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    create(provider, replicas=1.0)
    salad_emulator.clear_log()
    adopter = configure(ScaledTimeProvider(), salad_emulator)
    _, outs = create(adopter, replicas=2.0, adopt=True)
    assert not salad_emulator.requests_to("POST", "/containers")
    (patch,) = salad_emulator.requests_to("PATCH")
    assert patch.body == {"replicas": 2}
    assert outs["replicas"] == 2


def test_adopt_refuses_what_salad_cannot_patch(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    create(provider, restart_policy="never")
    with pytest.raises(ContainerGroupError, match="restart_policy"):
        create(configure(ScaledTimeProvider(), salad_emulator), adopt=True)


# update


PATCHABLE_CHANGES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("replicas", {"replicas": 3.0}, {"replicas": 3}),
    ("display_name", {"display_name": "SD Test"}, {"display_name": "SD Test"}),
    ("cpu", {"cpu": 8.0}, {"container": {"resources": {"cpu": 8}}}),
    ("memory", {"memory": 16384.0}, {"container": {"resources": {"memory": 16384}}}),
    ("storage_gb", {"storage_gb": 60.0}, {"container": {"resources": {"storage_amount": 60 * 1024**3}}}),
    ("shm_size", {"shm_size": 1024.0}, {"container": {"resources": {"shm_size": 1024}}}),
    ("priority", {"priority": "low"}, {"container": {"priority": "low"}}),
    ("country_codes", {"country_codes": ["us", "ca"]}, {"country_codes": ["us", "ca"]}),
    ("image_caching", {"image_caching": False}, {"container": {"image_caching": False}}),
    ("command", {"command": ["python", "webui.py"]}, {"container": {"command": ["python", "webui.py"]}}),
    (
        "environment_variables",
        {"environment_variables": {"CLI_ARGS": "--api"}},
        {"container": {"environment_variables": {"CLI_ARGS": "--api"}}},
    ),
    ("gateway.port", {"gateway": {"port": 7861.0, "auth": True}}, {"networking": {"port": 7861}}),
    ("liveness_probe removed", {"liveness_probe": None}, {"liveness_probe": None}),
]


@pytest.mark.parametrize(
    ("label", "change", "expected_patch"), PATCHABLE_CHANGES, ids=[c[0] for c in PATCHABLE_CHANGES]
)
def test_each_patchable_change_sends_one_patch_with_only_that_field(
    provider: ContainerGroupProvider,
    salad_emulator: SaladEmulator,
    label: str,
    change: dict[str, Any],
    expected_patch: dict[str, Any],
) -> None:
    id_, olds = create(provider)
    news = checked(provider, olds, **change)
    assert provider.diff(id_, olds, news).changes
    salad_emulator.clear_log()
    outs = dict(provider.update(id_, olds, news).outs or {})
    (patch,) = salad_emulator.requests_to("PATCH")
    assert patch.body == expected_patch
    assert patch.content_type == "application/merge-patch+json"
    assert not salad_emulator.requests_to("POST", "/containers") and not salad_emulator.requests_to("DELETE")
    assert set(olds) <= set(outs) | {"liveness_probe"}, "update must return every output"


def test_gpu_class_change_patches_resolved_ids(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    id_, olds = create(provider)
    news = checked(provider, olds, gpu_classes=["rtx 4090"])
    provider.update(id_, olds, news)
    (patch,) = salad_emulator.requests_to("PATCH")
    wanted = [c["id"] for c in salad_emulator.gpu_classes if c["name"].startswith("RTX 4090")]
    assert patch.body == {"container": {"resources": {"gpu_classes": wanted}}}


def test_registry_credentials_change_is_patched(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    creds = {"basic": {"username": "u", "password": "p1"}}
    id_, olds = create(provider, registry_authentication=creds)
    news = checked(provider, olds, registry_authentication={"basic": {"username": "u", "password": "p2"}})
    provider.update(id_, olds, news)
    (patch,) = salad_emulator.requests_to("PATCH")
    assert patch.body == {
        "container": {"registry_authentication": {"basic": {"username": "u", "password": "p2"}}}
    }


def test_image_change_waits_for_the_new_version(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    id_, olds = create(provider)
    news = checked(provider, olds, image=NEW_IMAGE)
    outs = dict(provider.update(id_, olds, news).outs or {})
    group = salad_emulator.group(ORG, PROJECT, NAME)
    assert group is not None and group["version"] == olds["version"] + 1 == outs["version"]
    assert count_ready(salad_emulator.instances(ORG, PROJECT, NAME), olds["version"]) >= 1
    assert outs["image"] == NEW_IMAGE


def test_wait_settings_change_sends_no_patch(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    id_, olds = create(provider)
    news = checked(provider, olds, ready_timeout_minutes=60.0)
    provider.update(id_, olds, news)
    assert not salad_emulator.requests_to("PATCH")


def test_no_change_diff_is_none_and_calls_nothing(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    id_, olds = create(provider)
    salad_emulator.clear_log()
    assert provider.diff(id_, olds, checked(provider, olds)).changes is False
    assert not salad_emulator.request_log()


@pytest.mark.parametrize(
    ("change", "replaced", "delete_first"),
    [
        ({"name": "sd-other"}, "name", False),
        ({"restart_policy": "never"}, "restart_policy", True),
        ({"autostart": False}, "autostart", True),
        ({"gateway": None}, "gateway", True),
        ({"gateway": {"port": 7860.0, "auth": False}}, "gateway", True),
    ],
)
def test_replace_rules(
    provider: ContainerGroupProvider,
    salad_emulator: SaladEmulator,
    change: dict[str, Any],
    replaced: str,
    delete_first: bool,
) -> None:
    id_, olds = create(provider)
    result = provider.diff(id_, olds, checked(provider, olds, **change))
    assert result.changes and replaced in (result.replaces or [])
    assert result.delete_before_replace is delete_first


# read and delete


def test_read_shows_drift(provider: ContainerGroupProvider, salad_emulator: SaladEmulator) -> None:
    id_, olds = create(provider)
    salad_emulator.edit_out_of_band(
        ORG, PROJECT, NAME, {"replicas": 5, "container": {"resources": {"cpu": 8}}}
    )
    result = provider.read(id_, olds)
    assert result.id == id_ and result.inputs is not None and result.outs is not None
    assert result.inputs["replicas"] == 5 and result.inputs["cpu"] == 8
    assert result.outs["replicas"] == 5
    assert result.inputs["gpu_classes"] == olds["gpu_classes"]  # the user's spelling survives
    diff = provider.diff(id_, result.outs, checked(provider, olds))
    assert diff.changes and not diff.replaces


def test_read_of_a_group_deleted_out_of_band_is_empty(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    id_, olds = create(provider)
    salad_emulator.delete_out_of_band(ORG, PROJECT, NAME)
    result = provider.read(id_, olds)
    assert result.id == "" and result.outs == {}


def test_delete_waits_until_gone_and_twice_is_fine(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    id_, olds = create(provider)
    provider.delete(id_, olds)
    assert salad_emulator.group(ORG, PROJECT, NAME) is None
    provider.delete(id_, olds)
    assert [r.status for r in salad_emulator.requests_to("DELETE")] == [202, 404]


def test_update_of_a_group_deleted_out_of_band_fails_clearly(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    id_, olds = create(provider)
    salad_emulator.delete_out_of_band(ORG, PROJECT, NAME)
    with pytest.raises(ContainerGroupError, match=r"deleted outside Pulumi.*pulumi refresh"):
        provider.update(id_, olds, checked(provider, olds, replicas=3.0))


# secrets


def test_api_key_in_no_output_and_not_pickled(
    provider: ContainerGroupProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    import dill  # type: ignore[import-untyped]

    _, outs = create(provider)
    assert TEST_API_KEY not in repr(outs)
    assert TEST_API_KEY.encode() not in dill.dumps(provider, recurse=True)
    captured = capsys.readouterr()
    assert TEST_API_KEY not in captured.out + captured.err
