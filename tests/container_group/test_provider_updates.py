"""Each edit a stack can make, against an emulator as strict as Salad's spec, under both env-map semantics.

The shared fixture checks every create/PATCH body against the official spec (tests/conftest.py); these
tests check what reached Salad, how many PATCHes it took, and that the group ends as the stack says.
"""

from __future__ import annotations

from typing import Any

import pytest

from components.container_group.provider import ContainerGroupError, ContainerGroupProvider
from components.container_group.readiness import count_ready
from tests.conftest import EmulatorFactory
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
ENV = {"CLI_ARGS": "--api", "MODE": "prod", "EXTRA": "1"}


@pytest.fixture(params=["replace", "merge"])
def semantics(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emulator(salad_emulator: SaladEmulator, semantics: str) -> SaladEmulator:
    salad_emulator.env_semantics(semantics)
    return salad_emulator


@pytest.fixture
def provider(emulator: SaladEmulator) -> ContainerGroupProvider:
    return configure(ScaledTimeProvider(), emulator)


def create(provider: ContainerGroupProvider, **overrides: Any) -> tuple[str, dict[str, Any]]:
    result = provider.create(checked(provider, **overrides))
    return result.id, dict(result.outs or {})


def update(
    provider: ContainerGroupProvider, emulator: SaladEmulator, olds: dict[str, Any], **change: Any
) -> dict[str, Any]:
    """diff then update, like the engine; returns the outputs. The request log then holds only the update.

    `change` is the whole set of overrides of the new inputs (wire_inputs' defaults fill the rest)."""
    news = checked(provider, olds, **change)
    diff = provider.diff("id", olds, news)
    assert diff.changes and not diff.replaces, diff.replaces
    emulator.clear_log()
    return dict(provider.update("id", olds, news).outs or {})


def patches(emulator: SaladEmulator) -> list[Any]:
    return [request.body for request in emulator.requests_to("PATCH")]


def live(emulator: SaladEmulator) -> dict[str, Any]:
    group = emulator.group(ORG, PROJECT, NAME)
    assert group is not None
    return group


# environment variables


@pytest.mark.parametrize(
    ("new_env", "label"),
    [({"CLI_ARGS": "--api", "MODE": "prod"}, "remove one"), (None, "remove all")],
    ids=["remove one", "remove all"],
)
def test_env_removal_under_replace_is_one_whole_map_patch(
    salad_emulator: SaladEmulator, new_env: dict[str, str] | None, label: str
) -> None:
    salad_emulator.env_semantics("replace")
    provider = configure(ScaledTimeProvider(), salad_emulator)
    _, olds = create(provider, environment_variables=ENV)
    outs = update(provider, salad_emulator, olds, environment_variables=new_env)
    assert patches(salad_emulator) == [{"container": {"environment_variables": new_env or {}}}]
    assert live(salad_emulator)["container"]["environment_variables"] == (new_env or {})
    assert outs["environment_variables"] == (new_env or {})


@pytest.mark.parametrize(
    "new_env", [{"CLI_ARGS": "--api", "MODE": "prod"}, None], ids=["remove one", "remove all"]
)
def test_env_removal_under_merge_tries_rfc_null_once_and_succeeds_when_salad_honours_it(
    salad_emulator: SaladEmulator, new_env: dict[str, str] | None
) -> None:
    salad_emulator.env_semantics("merge")
    salad_emulator.env_null_deletes()
    provider = configure(ScaledTimeProvider(), salad_emulator)
    _, olds = create(provider, environment_variables=ENV)
    update(provider, salad_emulator, olds, environment_variables=new_env)
    first, second = patches(salad_emulator)
    assert first == {"container": {"environment_variables": new_env or {}}}
    stale = sorted(set(ENV) - set(new_env or {}))
    assert second == {"container": {"environment_variables": dict.fromkeys(stale)}}
    assert live(salad_emulator)["container"]["environment_variables"] == (new_env or {})


@pytest.mark.parametrize(
    "new_env", [{"CLI_ARGS": "--api", "MODE": "prod"}, None], ids=["remove one", "remove all"]
)
def test_env_removal_under_merge_fails_naming_the_leftover_keys_when_salad_refuses_null(
    salad_emulator: SaladEmulator, new_env: dict[str, str] | None
) -> None:
    salad_emulator.env_semantics("merge")
    provider = configure(ScaledTimeProvider(), salad_emulator)
    _, olds = create(provider, environment_variables=ENV)
    news = checked(provider, olds, environment_variables=new_env)
    salad_emulator.clear_log()
    with pytest.raises(ContainerGroupError) as caught:
        provider.update("id", olds, news)
    stale = sorted(set(ENV) - set(new_env or {}))
    message = str(caught.value)
    assert all(key in message for key in stale) and "Salad portal" in message
    assert [r.status for r in salad_emulator.requests_to("PATCH")] == [200, 400]


def test_env_addition_is_one_patch(provider: ContainerGroupProvider, emulator: SaladEmulator) -> None:
    _, olds = create(provider, environment_variables={"CLI_ARGS": "--api"})
    update(provider, emulator, olds, environment_variables={"CLI_ARGS": "--api", "PORT": "7860"})
    assert patches(emulator) == [
        {"container": {"environment_variables": {"CLI_ARGS": "--api", "PORT": "7860"}}}
    ]
    assert live(emulator)["container"]["environment_variables"] == {"CLI_ARGS": "--api", "PORT": "7860"}


# probes

HTTP = {"http": {"path": "/internal/ping", "port": 7860.0}}
TCP = {"tcp": {"port": 7860.0}}
EXEC = {"exec": {"command": ["curl", "-f", "http://localhost:7860/internal/ping"]}}
GRPC = {"grpc": {"port": 50051.0, "service": "health"}}


@pytest.mark.parametrize(
    ("before", "after", "protocol"),
    [(HTTP, TCP, "tcp"), (TCP, EXEC, "exec"), (EXEC, GRPC, "grpc"), (GRPC, HTTP, "http")],
    ids=["http to tcp", "tcp to exec", "exec to grpc", "grpc to http"],
)
def test_probe_protocol_switch_is_two_patches_and_ends_with_only_the_new_protocol(
    provider: ContainerGroupProvider,
    emulator: SaladEmulator,
    before: dict[str, Any],
    after: dict[str, Any],
    protocol: str,
) -> None:
    _, olds = create(provider, liveness_probe=before)
    outs = update(provider, emulator, olds, liveness_probe={**after, "period_seconds": 20.0})
    first, second = patches(emulator)
    assert first == {"liveness_probe": None}
    assert set(second) == {"liveness_probe"} and protocol in second["liveness_probe"]
    probe = live(emulator)["liveness_probe"]
    assert {key for key in ("http", "tcp", "exec", "grpc") if probe.get(key)} == {protocol}
    assert probe["period_seconds"] == 20
    assert outs["version"] == olds["version"] + 2
    assert count_ready(emulator.instances(ORG, PROJECT, NAME), olds["version"] + 1) >= 1


def test_probe_added_and_removed_are_one_patch_each(
    provider: ContainerGroupProvider, emulator: SaladEmulator
) -> None:
    _, olds = create(provider)
    outs = update(provider, emulator, olds, readiness_probe=TCP)
    (added,) = patches(emulator)
    assert added["readiness_probe"]["tcp"] == {"port": 7860}
    update(provider, emulator, outs, readiness_probe=None)
    assert patches(emulator) == [{"readiness_probe": None}]
    assert live(emulator)["readiness_probe"] is None


# registry login, priority, hardware and placement


def test_registry_login_kind_change_sends_the_new_login_whole(
    provider: ContainerGroupProvider, emulator: SaladEmulator
) -> None:
    _, olds = create(provider, registry_authentication={"basic": {"username": "u", "password": "p"}})
    hub = {"docker_hub": {"username": "u", "personal_access_token": "t"}}
    update(provider, emulator, olds, registry_authentication=hub)
    assert patches(emulator) == [{"container": {"registry_authentication": hub}}]
    stored = emulator.stored_document(ORG, PROJECT, NAME)
    assert stored is not None and stored["container"]["registry_authentication"] == hub


def test_registry_login_removal_replaces_the_group(
    provider: ContainerGroupProvider, emulator: SaladEmulator
) -> None:
    _, olds = create(provider, registry_authentication={"basic": {"username": "u", "password": "p"}})
    diff = provider.diff("id", olds, checked(provider, olds, registry_authentication=None))
    assert diff.replaces == ["registry_authentication"] and diff.delete_before_replace


def test_priority_removed(provider: ContainerGroupProvider, emulator: SaladEmulator) -> None:
    _, olds = create(provider, priority="high")
    outs = update(provider, emulator, olds, priority=None)
    assert patches(emulator) == [{"container": {"priority": None}}]
    assert live(emulator)["priority"] is None and "priority" not in outs


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"country_codes": ["us", "ca"]}, {"country_codes": ["us", "ca"]}),
        ({"storage_gb": 80.0}, {"container": {"resources": {"storage_amount": 80 * 1024**3}}}),
    ],
    ids=["countries", "storage"],
)
def test_placement_and_storage_changes(
    provider: ContainerGroupProvider,
    emulator: SaladEmulator,
    change: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    base = {"country_codes": ["us"], "storage_gb": 50.0}
    _, olds = create(provider, **base)
    update(provider, emulator, olds, **{**base, **change})
    assert patches(emulator) == [expected]


def test_gpu_class_change(provider: ContainerGroupProvider, emulator: SaladEmulator) -> None:
    _, olds = create(provider)
    outs = update(provider, emulator, olds, gpu_classes=["RTX 4090", "RTX 3060 Ti"])
    (patch,) = patches(emulator)
    ids = patch["container"]["resources"]["gpu_classes"]
    assert live(emulator)["container"]["resources"]["gpu_classes"] == ids == outs["gpu_class_ids"]
    assert len(ids) == 2


# waits that follow Salad's versioning


def test_cpu_change_with_kept_old_version_instances_returns_on_the_ready_count(
    salad_emulator_factory: EmulatorFactory, semantics: str, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator = salad_emulator_factory(Timings(allocating=0.4))  # pending_change stays true this long
    emulator.env_semantics(semantics)
    emulator.hardware_edits_bump_version()
    provider = configure(ScaledTimeProvider(), emulator)
    _, olds = create(provider, ready_timeout_minutes=1.0)
    capsys.readouterr()
    # a wait for instances of version 2 would end at the 1-minute deadline with an error
    outs = update(provider, emulator, olds, cpu=8.0, ready_timeout_minutes=1.0)
    assert outs["version"] == olds["version"] + 1
    assert {i["version"] for i in emulator.instances(ORG, PROJECT, NAME)} == {olds["version"]}
    assert "still applying the change (pending_change)" in capsys.readouterr().out
    assert live(emulator)["pending_change"] is False
    assert [r.body for r in emulator.requests_to("PATCH")] == [{"container": {"resources": {"cpu": 8}}}]


def test_image_change_waits_for_the_newer_version_the_patch_answer_does_not_show(
    salad_emulator_factory: EmulatorFactory,
    semantics: str,
) -> None:
    emulator = salad_emulator_factory(Timings(image_prepare=0.4))
    emulator.env_semantics(semantics)
    emulator.version_after_preparation()
    provider = configure(ScaledTimeProvider(), emulator)
    _, olds = create(provider, replicas=2.0, min_ready_replicas=2.0)
    outs = update(provider, emulator, olds, image=NEW_IMAGE, replicas=2.0, min_ready_replicas=2.0)
    (patch,) = emulator.requests_to("PATCH")
    assert patch.body == {"container": {"image": NEW_IMAGE}}
    assert outs["version"] == olds["version"] + 1
    assert count_ready(emulator.instances(ORG, PROJECT, NAME), olds["version"]) >= 2


def test_no_patch_while_the_image_is_being_prepared(
    salad_emulator_factory: EmulatorFactory, semantics: str, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator = salad_emulator_factory(Timings(image_prepare=0.5))
    emulator.env_semantics(semantics)
    emulator.reject_edits_while_pending()
    provider = configure(ScaledTimeProvider(), emulator)
    _, olds = create(provider)
    emulator.edit_out_of_band(ORG, PROJECT, NAME, {"container": {"image": NEW_IMAGE}})  # re-preparing now
    capsys.readouterr()
    update(provider, emulator, {**olds, "image": NEW_IMAGE}, image=NEW_IMAGE, replicas=3.0)
    assert [(r.status, r.body) for r in emulator.requests_to("PATCH")] == [(200, {"replicas": 3})]
    assert "waiting before editing" in capsys.readouterr().out


def test_patch_refused_because_preparation_began_meanwhile_is_sent_again_once_editable(
    salad_emulator_factory: EmulatorFactory, semantics: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = salad_emulator_factory(Timings(image_prepare=0.5))
    emulator.env_semantics(semantics)
    emulator.reject_edits_while_pending()
    provider = configure(ScaledTimeProvider(), emulator)
    _, olds = create(provider)
    real_editable = provider._editable
    calls = []

    def preparation_starts_after_the_look(*args: Any) -> dict[str, Any]:
        group = real_editable(*args)
        if not calls:  # someone changes the image between our GET and our PATCH
            emulator.edit_out_of_band(ORG, PROJECT, NAME, {"container": {"image": NEW_IMAGE}})
        calls.append(group)
        return group

    monkeypatch.setattr(provider, "_editable", preparation_starts_after_the_look)
    update(provider, emulator, {**olds, "image": NEW_IMAGE}, image=NEW_IMAGE, replicas=3.0)
    assert [(r.status, r.body) for r in emulator.requests_to("PATCH")] == [
        (400, {"replicas": 3}),
        (200, {"replicas": 3}),
    ]
    assert live(emulator)["replicas"] == 3


def test_stopped_group_refusing_start_is_polled_until_it_runs(
    salad_emulator_factory: EmulatorFactory,
    semantics: str,
) -> None:
    emulator = salad_emulator_factory(Timings())
    emulator.env_semantics(semantics)
    emulator.brief_stop_with_autostart(0.4)
    provider = configure(ScaledTimeProvider(), emulator)
    _, outs = create(provider, replicas=1.0)
    assert outs["ready_replicas"] == 1
    assert 400 in [r.status for r in emulator.requests_to("POST", "/start")]
    assert not emulator.requests_to("DELETE")


def test_group_that_stays_stopped_fails_with_a_message_and_is_kept(
    salad_emulator_factory: EmulatorFactory,
    semantics: str,
) -> None:
    emulator = salad_emulator_factory(Timings())
    emulator.env_semantics(semantics)
    emulator.brief_stop_with_autostart(3600)
    provider = configure(ScaledTimeProvider(), emulator)
    with pytest.raises(ContainerGroupError, match="stayed stopped") as caught:
        create(provider, replicas=1.0)
    assert "was kept" in str(caught.value)
    assert emulator.group(ORG, PROJECT, NAME) is not None and not emulator.requests_to("DELETE")
    assert all(r.status == 400 for r in emulator.requests_to("POST", "/start"))


def test_instance_going_backwards_is_not_counted_until_ready_again(
    salad_emulator_factory: EmulatorFactory,
    semantics: str,
) -> None:
    emulator = salad_emulator_factory(Timings())
    emulator.env_semantics(semantics)
    emulator.setback("sha256:1111")
    provider = configure(ScaledTimeProvider(), emulator)
    _, outs = create(provider, replicas=2.0, min_ready_replicas=2.0)
    assert outs["ready_replicas"] == 2
    assert count_ready(emulator.instances(ORG, PROJECT, NAME), None) == 2


# refresh shows only real drift


@pytest.mark.parametrize(
    "filled",
    [
        {"container": {"resources": {"shm_size": 64}}},
        {"container": {"resources": {"shm_size": 1024}}},
        {"container": {"resources": {"storage_amount": 1024**3}}},
        {"container": {"resources": {"storage_amount": 10 * 1024**3}}},
        *({"container": {"priority": priority}} for priority in ("high", "medium", "low", "batch")),
    ],
    ids=["shm 64", "shm 1024", "storage 1 GiB", "storage 10 GiB", "high", "medium", "low", "batch"],
)
def test_values_salad_fills_in_are_not_drift_and_never_patched(
    provider: ContainerGroupProvider, emulator: SaladEmulator, filled: dict[str, Any]
) -> None:
    _, olds = create(provider)
    emulator.edit_out_of_band(ORG, PROJECT, NAME, filled)
    refreshed = provider.read("id", olds)
    assert refreshed.outs is not None
    assert provider.diff("id", dict(refreshed.outs), checked(provider, olds)).changes is False
    update(provider, emulator, dict(refreshed.outs), replicas=3.0)
    assert patches(emulator) == [{"replicas": 3}]


def test_a_group_left_different_from_the_stack_is_an_error(
    provider: ContainerGroupProvider, emulator: SaladEmulator
) -> None:
    _, olds = create(provider)
    news = checked(provider, olds, replicas=3.0)
    # Salad answers the PATCH but the group ends up with a command nobody asked for: never a success
    original = emulator.world.apply_patch

    def apply_then_drift(group: Any, patch: dict[str, Any], now: float) -> None:
        original(group, patch, now)
        original(group, {"container": {"command": ["sleep", "infinity"]}}, now)

    emulator.world.apply_patch = apply_then_drift  # type: ignore[method-assign]
    with pytest.raises(ContainerGroupError, match="differs from this stack in: command"):
        provider.update("id", olds, news)
