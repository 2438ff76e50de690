"""The provider when a deploy goes wrong (issue 11), against the emulator's failure modes.

Fail fast with Salad's event names and a hint, events printed while waiting, timeouts that say what was
seen, preflight on the quota and GPU availability, and reallocation of stuck instances.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from components.container_group.failures import classify
from components.container_group.provider import ContainerGroupError, ContainerGroupProvider
from components.container_group.waiting import WaitFailed
from tests.container_group.provider_fixtures import (
    NEW_IMAGE,
    ORG,
    PROJECT,
    ScaledTimeProvider,
    checked,
    configure,
)
from tests.fakes.salad_api import LoggedRequest, SaladEmulator
from tests.fakes.salad_incidents import MODES

NAME = "sd-test"
FAILING = {
    "crash_loop": ("Exited:1", "the container exited"),
    "out_of_memory": ("Exited:137 (Likely Out of System Memory)", "raise salad-sd:deployment.memoryMb"),
    "startup_probe": ("Startup Probe Failure", "30 + 20 x 10 = 230 s"),
    "disk_exceeded": ("Requested Disk Space Exceeded", "raise salad-sd:deployment.storageGb"),
    "image_pull": ("Image Pull Failure", "registry login"),
}


@pytest.fixture
def provider(salad_emulator: SaladEmulator) -> ContainerGroupProvider:
    return configure(ScaledTimeProvider(), salad_emulator)


def create(provider: ContainerGroupProvider, **overrides: Any) -> dict[str, Any]:
    result = provider.create(checked(provider, **overrides))
    return dict(result.outs or {})


def monotonic_of(emulator: SaladEmulator, iso: str) -> float:
    """The emulator's monotonic time of one of its ISO timestamps (calibrated through `World.iso`)."""
    now = emulator.world.now()
    wall_now = datetime.fromisoformat(emulator.world.iso(now).replace("Z", "+00:00"))
    return now + (datetime.fromisoformat(iso.replace("Z", "+00:00")) - wall_now).total_seconds()


def nth_failure_time(emulator: SaladEmulator, event_name: str, n: int) -> float:
    """When the emulator emitted its n-th `event_name` event for the group (deleted or not)."""
    group = emulator.world.incidents.history[NAME]
    logs = emulator.world.incidents.system_logs(group, emulator.world.now(), emulator.world.iso, limit=None)
    times = sorted(monotonic_of(emulator, e["event_time"]) for e in logs if e["event_name"] == event_name)
    return times[n - 1]


def instance_polls(log: list[LoggedRequest], after: float, before: float) -> int:
    return sum(
        1 for r in log if r.method == "GET" and r.path.endswith("/instances") and after < r.time < before
    )


@pytest.mark.parametrize("mode", sorted(FAILING))
def test_create_fails_fast_with_the_events_the_hint_and_deletes_the_group(
    mode: str, provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    event_name, hint = FAILING[mode]
    assert MODES[mode] == event_name and classify(event_name) is not None
    salad_emulator.fail_instances("sha256:1111", mode)
    with pytest.raises(ContainerGroupError) as caught:
        create(provider, replicas=2.0, storage_gb=20.0, ready_timeout_minutes=60.0)
    message = str(caught.value)
    assert f": {event_name}" in message and hint in message
    assert "instances keep failing" in message and "deleted again" in message
    assert salad_emulator.group(ORG, PROJECT, NAME) is None
    delete = salad_emulator.requests_to("DELETE")[0]
    third = nth_failure_time(salad_emulator, event_name, 3) + 0.001  # ISO times are to the millisecond
    assert instance_polls(salad_emulator.request_log(), third, delete.time) <= 3


def test_output_tail_is_quoted_when_log_entries_return_some(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    salad_emulator.fail_instances("sha256:1111", "out_of_memory")
    with pytest.raises(ContainerGroupError) as caught:
        create(provider, replicas=1.0)
    assert "container's output" in str(caught.value) and "| Killed" in str(caught.value)
    query = salad_emulator.requests_to("POST", "/log-entries")[0].body
    assert NAME in query["query"] and query["sort_order"] == "desc"


@pytest.mark.parametrize("mode", sorted(FAILING))
def test_update_hitting_a_failure_mode_fails_the_same_way_and_keeps_the_group(
    mode: str, provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    event_name, hint = FAILING[mode]
    olds = create(provider, replicas=2.0, storage_gb=20.0)
    salad_emulator.fail_instances("sha256:2222", mode)
    news = checked(provider, olds, image=NEW_IMAGE, replicas=2.0, storage_gb=20.0)
    with pytest.raises((ContainerGroupError, WaitFailed)) as caught:
        provider.update("", olds, news)
    gave_up = salad_emulator.requests_to("POST", "/log-entries")[-1]  # read as soon as it gives up
    message = str(caught.value)
    assert f": {event_name}" in message and hint in message and "instances keep failing" in message
    group = salad_emulator.group(ORG, PROJECT, NAME)
    assert group is not None and group["version"] == 2
    assert not salad_emulator.requests_to("DELETE")
    third = nth_failure_time(salad_emulator, event_name, 3) + 0.001
    assert instance_polls(salad_emulator.request_log(), third, gave_up.time) <= 3


def test_failures_of_the_old_version_do_not_stop_an_update(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    salad_emulator.fail_instances("sha256:1111", "crash_loop")
    olds = create(provider, replicas=1.0, min_ready_replicas=0.0)
    news = checked(provider, olds, image=NEW_IMAGE, replicas=1.0, min_ready_replicas=1.0)
    outs = provider.update("", olds, news).outs or {}
    assert outs["ready_replicas"] >= 1 and outs["version"] == 2


def test_events_and_download_progress_are_printed_while_waiting(
    provider: ContainerGroupProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    create(provider, replicas=2.0)
    printed = capsys.readouterr().out
    assert f"{NAME}: instance " in printed and ": Container Started" in printed
    assert "downloading (" in printed and "%" in printed


def test_timeout_lists_the_last_events_and_instance_states(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    salad_emulator.never_ready("sha256:1111")
    with pytest.raises(ContainerGroupError) as caught:
        create(provider, replicas=1.0, ready_timeout_minutes=1.0)
    message = str(caught.value)
    assert "Last events:" in message and "Container Started" in message
    assert "Instances:" in message and "running, not ready, version 1" in message


def test_quota_too_small_fails_before_any_write(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    salad_emulator.set_replicas_quota(1)
    with pytest.raises(ContainerGroupError) as caught:
        create(provider, replicas=2.0)
    message = str(caught.value)
    assert "container_replicas_quota is 1" in message and "needs 2" in message
    assert [r.method for r in salad_emulator.request_log() if r.method != "GET"] == []


def test_update_raising_replicas_past_the_quota_fails_before_the_patch(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    olds = create(provider, replicas=2.0)
    salad_emulator.set_replicas_quota(3)
    provider._preflight = type(provider._preflight)()  # a new process: nothing cached
    with pytest.raises(ContainerGroupError, match="container_replicas_used is 2"):
        provider.update("", olds, checked(provider, olds, replicas=4.0))
    assert not salad_emulator.requests_to("PATCH")


def test_no_availability_warns_and_the_deploy_goes_on(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    salad_emulator.no_gpu_availability()
    outs = create(provider, replicas=2.0, priority="batch", country_codes=["us"])
    assert outs["ready_replicas"] >= 1
    printed = capsys.readouterr().out
    assert "warning: Salad reports 0 available node(s) with RTX 3060 Ti" in printed
    assert "priority batch" in printed
    asked = salad_emulator.requests_to("POST", "/sce-gpu-availability")[0].body
    assert asked["country_codes"] == ["us"] and asked["cpu"] == 4


def test_preflight_answers_are_cached_per_process(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    create(provider, replicas=1.0, name="sd-one")
    create(provider, replicas=1.0, name="sd-two")
    assert len(salad_emulator.requests_to("GET", "/quotas")) == 1
    assert len(salad_emulator.requests_to("POST", "/sce-gpu-availability")) == 1


def test_check_and_diff_make_no_call(provider: ContainerGroupProvider, salad_emulator: SaladEmulator) -> None:
    olds = create(provider, replicas=1.0)
    salad_emulator.clear_log()
    news = checked(provider, olds, replicas=3.0, cpu=8.0)
    assert provider.diff("", olds, news).changes
    assert salad_emulator.request_log() == []


def test_stuck_instances_are_reallocated_within_the_per_minute_quota(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    # The provider's clock runs 60x faster: one of its minutes is one real second here.
    salad_emulator.limit_instance_actions(1, window_seconds=1.0)
    salad_emulator.fail_instances("sha256:1111", "stuck_downloading")
    outs = create(provider, replicas=2.0, min_ready_replicas=2.0, reallocate_stuck_after_minutes=0.1)
    assert outs["ready_replicas"] == 2
    moves = [r.time for r in salad_emulator.requests_to("POST", "/reallocate")]
    assert len(moves) == 2 and all(r.status == 202 for r in salad_emulator.requests_to("POST", "/reallocate"))
    assert moves[1] - moves[0] >= 1.0 / ScaledTimeProvider.factor * 60 * 0.9
    assert capsys.readouterr().out.count("reallocated it to another node") == 2


def test_without_the_setting_stuck_instances_are_left_alone(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator
) -> None:
    salad_emulator.fail_instances("sha256:1111", "stuck_downloading")
    with pytest.raises(ContainerGroupError, match="downloading"):
        create(provider, replicas=1.0, ready_timeout_minutes=1.0)
    assert not salad_emulator.requests_to("POST", "/reallocate")
