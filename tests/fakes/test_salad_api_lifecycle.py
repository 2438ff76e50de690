"""Lifecycle of container groups and instances in the Salad emulator, observed over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.salad_api import SaladEmulator, Timings
from tests.fakes.salad_testkit import IMAGE, ORG, PROJECT, Api, valid_body
from tests.fakes.waiting import wait_until

# slower than the defaults so that a 10 ms poll sees every intermediate state
SLOW = Timings(
    image_prepare=0.3, allocating=0.15, downloading=0.3, creating=0.15, ready=0.15, stopping=0.2, delete=0.3
)


@pytest.fixture
def stoppy_emu() -> Iterator[SaladEmulator]:
    """Default timings, but instances stay 'stopping' long enough to be seen reliably."""
    with SaladEmulator(timings=Timings(stopping=0.4)) as e:
        yield e


@pytest.fixture
def slow_emu() -> Iterator[SaladEmulator]:
    with SaladEmulator(timings=SLOW) as e:
        yield e


def _seen_in_order(read: Any, until: str, timeout: float = 5.0) -> list[str]:
    """Poll `read()` and return the distinct values seen, in order, until `until` shows up."""
    seen: list[str] = []

    def step() -> bool:
        value = read()
        if not seen or seen[-1] != value:
            seen.append(value)
        return bool(value == until)

    wait_until(step, timeout, interval=0.005, message=f"{until!r} (seen {seen})")
    return seen


def _counts_match(group: dict[str, Any], instances: list[dict[str, Any]]) -> bool:
    counts = group["current_state"]["instance_status_counts"]
    by_state = {
        s: sum(1 for i in instances if i["state"] == s) for s in ("allocating", "running", "stopping")
    }
    creating = sum(1 for i in instances if i["state"] in ("creating", "downloading"))
    return bool(
        counts["allocating_count"] == by_state["allocating"]
        and counts["running_count"] == by_state["running"]
        and counts["stopping_count"] == by_state["stopping"]
        and counts["creating_count"] == creating
    )


def test_autostart_true_goes_pending_deploying_running(slow_emu: SaladEmulator) -> None:
    api = Api(slow_emu)
    r = api.create(valid_body(replicas=1))
    assert r.status_code == 201
    assert r.json()["current_state"]["status"] == "pending"
    assert api.instances("sd") == []  # nothing allocates while the image is prepared
    assert _seen_in_order(lambda: api.status("sd"), "running") == ["pending", "deploying", "running"]


def test_instance_walks_through_every_state_and_becomes_ready(slow_emu: SaladEmulator) -> None:
    api = Api(slow_emu)
    before = time.monotonic()
    api.create(valid_body(replicas=1))
    seen: list[tuple[str, bool, bool]] = []
    progress: list[float] = []

    def step() -> bool:
        instances = api.instances("sd")
        if not instances:
            return False
        inst = instances[0]
        assert (
            inst["version"] == 1 and inst["id"] and inst["machine_id"] and inst["update_time"].endswith("Z")
        )
        if inst["state"] == "downloading":
            progress.append(inst["pulling_progress"])
        key = (inst["state"], inst["started"], inst["ready"])
        if not seen or seen[-1] != key:
            seen.append(key)
        return bool(inst["ready"])

    wait_until(step, 5, interval=0.005)
    assert seen == [
        ("allocating", False, False),
        ("downloading", False, False),
        ("creating", False, False),
        ("running", True, False),
        ("running", True, True),
    ]
    assert progress and all(0 <= p <= 100 for p in progress) and progress == sorted(progress)
    first = slow_emu.first_ready_time(ORG, PROJECT, "sd")
    assert first is not None and before + 1.0 <= first <= time.monotonic()  # 0.3+0.15+0.3+0.15+0.15 = 1.05 s


def test_instance_counts_always_match_the_instance_list(emu: SaladEmulator) -> None:
    api = Api(emu)
    api.create(valid_body(replicas=3))

    def check() -> bool:
        snap = emu.snapshot(ORG, PROJECT, "sd")  # both evaluated at the same instant
        assert snap is not None
        group, instances = snap
        assert _counts_match(group, instances), (group["current_state"], instances)
        return sum(1 for i in instances if i["ready"]) == 3

    wait_until(check, 5)


def test_autostart_false_stays_stopped_until_started(emu: SaladEmulator) -> None:
    api = Api(emu)
    api.create(valid_body(autostart_policy=False, replicas=1))
    wait_until(lambda: api.status("sd") == "stopped")
    # still stopped (and no instances) well after instances would have been running with autostart
    api.create(valid_body(name="ref", autostart_policy=True, replicas=1))
    wait_until(lambda: api.status("ref") == "running")
    assert api.status("sd") == "stopped" and api.instances("sd") == []
    r = api.start("sd")
    assert r.status_code == 202 and r.content == b""
    assert _seen_in_order(lambda: api.status("sd"), "running") == ["deploying", "running"]
    wait_until(lambda: any(i["ready"] for i in api.instances("sd")))


def test_start_while_pending_runs_after_preparation(emu: SaladEmulator) -> None:
    api = Api(emu)
    api.create(valid_body(autostart_policy=False, replicas=1))
    assert api.start("sd").status_code == 202
    assert api.status("sd") == "pending"
    wait_until(lambda: api.status("sd") == "running")


def test_stop_marks_stopped_and_instances_stop_then_vanish(stoppy_emu: SaladEmulator) -> None:
    api = Api(stoppy_emu)
    api.create(valid_body(replicas=2))
    wait_until(lambda: api.status("sd") == "running")
    old_ids = {i["id"] for i in api.instances("sd")}
    assert len(old_ids) == 2
    assert api.stop("sd").status_code == 202
    group = api.group("sd")
    assert group["current_state"]["status"] == "stopped"
    assert [i["state"] for i in api.instances("sd")] == ["stopping", "stopping"]
    assert group["current_state"]["instance_status_counts"]["stopping_count"] == 2
    wait_until(lambda: api.instances("sd") == [])
    assert api.status("sd") == "stopped"
    # starting again deploys new instances
    assert api.start("sd").status_code == 202
    assert api.status("sd") == "deploying"
    wait_until(lambda: api.status("sd") == "running")
    assert not old_ids & {i["id"] for i in api.instances("sd")}


def test_failed_image_reports_description_and_has_no_instances(emu: SaladEmulator) -> None:
    emu.fail_image_preparation("does-not-exist", "Failed to pull image: manifest unknown")
    api = Api(emu)
    api.create(valid_body(container={**valid_body()["container"], "image": "acme/does-not-exist:1"}))
    assert api.status("sd") == "pending"
    wait_until(lambda: api.status("sd") == "failed")
    state = api.group("sd")["current_state"]
    assert state["description"] == "Failed to pull image: manifest unknown"
    assert api.instances("sd") == []
    assert api.start("sd").status_code == 400


def test_failed_group_recovers_after_an_image_fix(emu: SaladEmulator) -> None:
    emu.fail_image_preparation("typo")
    api = Api(emu)
    api.create(valid_body(container={**valid_body()["container"], "image": "acme/typo:1"}))
    wait_until(lambda: api.status("sd") == "failed")
    r = api.patch("sd", {"container": {"image": IMAGE}})
    assert r.status_code == 200 and r.json()["current_state"]["status"] == "pending"
    wait_until(lambda: api.status("sd") == "running")
    assert api.group("sd")["current_state"]["description"] is None


def test_never_ready_instances_run_but_never_become_ready(emu: SaladEmulator) -> None:
    emu.never_ready("broken-app")
    api = Api(emu)
    api.create(
        valid_body(
            name="bad", replicas=1, container={**valid_body()["container"], "image": "acme/broken-app"}
        )
    )
    api.create(valid_body(name="good", replicas=1))  # same schedule, normal image
    wait_until(lambda: any(i["ready"] for i in api.instances("good")))
    bad = api.instances("bad")
    assert [(i["state"], i["started"], i["ready"]) for i in bad] == [("running", True, False)]
    assert emu.first_ready_time(ORG, PROJECT, "bad") is None
    assert api.status("bad") == "running"


def test_delete_accepts_then_404_and_name_is_reusable(emu: SaladEmulator) -> None:
    api = Api(emu)
    api.create(valid_body())
    r = api.delete("sd")
    assert r.status_code == 202 and r.content == b""
    wait_until(lambda: api.get("sd").status_code == 404)
    assert api.get("sd").json()["status"] == 404
    assert api.delete("sd").status_code == 404  # delete twice
    assert api.create(valid_body()).status_code == 201


def test_delete_of_unknown_group_is_404(emu: SaladEmulator) -> None:
    r = Api(emu).delete("never-existed")
    assert r.status_code == 404 and r.headers["Content-Type"] == "application/json"


def test_group_is_visible_while_delete_propagates(slow_emu: SaladEmulator) -> None:
    api = Api(slow_emu)
    api.create(valid_body())
    assert api.delete("sd").status_code == 202
    assert api.get("sd").status_code == 200  # Timings.delete = 0.3 s
    assert api.delete("sd").status_code == 202  # second DELETE before it is gone is still accepted
    assert api.create(valid_body()).json()["type"] == "name_conflict"
    wait_until(lambda: api.get("sd").status_code == 404)


def test_replicas_up_and_down_without_version_bump(stoppy_emu: SaladEmulator) -> None:
    api = Api(stoppy_emu)
    api.create(valid_body(replicas=2))
    wait_until(lambda: sum(i["ready"] for i in api.instances("sd")) == 2)
    original = {i["id"] for i in api.instances("sd")}
    r = api.patch("sd", {"replicas": 4})
    assert r.status_code == 200 and r.json()["version"] == 1 and r.json()["replicas"] == 4
    assert r.json()["pending_change"] is False
    wait_until(lambda: sum(i["ready"] for i in api.instances("sd")) == 4)
    assert original <= {i["id"] for i in api.instances("sd")}  # the first two kept running
    r = api.patch("sd", {"replicas": 1})
    assert r.json()["version"] == 1
    states = sorted(i["state"] for i in api.instances("sd"))
    assert states == ["running", "stopping", "stopping", "stopping"]
    wait_until(lambda: len(api.instances("sd")) == 1)
    assert api.instances("sd")[0]["id"] in original  # the most advanced instance survives


def test_versioned_edit_restarts_every_instance(stoppy_emu: SaladEmulator) -> None:
    emu = stoppy_emu
    api = Api(emu)
    api.create(valid_body(replicas=2))
    wait_until(lambda: sum(i["ready"] for i in api.instances("sd")) == 2)
    old = {i["id"] for i in api.instances("sd")}
    r = api.patch("sd", {"container": {"environment_variables": {"CLI_ARGS": "--api --medvram"}}})
    assert r.status_code == 200
    group = r.json()
    assert group["version"] == 2 and group["pending_change"] is True
    assert group["current_state"]["status"] == "deploying"  # old ones stopping, new ones not running yet
    by_version = {(i["version"], i["state"]) for i in api.instances("sd")}
    assert (1, "stopping") in by_version and all(v == 2 for v, s in by_version if s != "stopping")
    wait_until(lambda: api.group("sd")["pending_change"] is False)
    instances = api.instances("sd")
    assert len(instances) == 2 and all(i["version"] == 2 and i["state"] == "running" for i in instances)
    assert not old & {i["id"] for i in instances}
    assert emu.first_ready_time(ORG, PROJECT, "sd", version=1) is not None
    wait_until(lambda: emu.first_ready_time(ORG, PROJECT, "sd", version=2))
    v1, v2 = emu.first_ready_time(ORG, PROJECT, "sd", 1), emu.first_ready_time(ORG, PROJECT, "sd", 2)
    assert v1 is not None and v2 is not None and v2 > v1


def test_image_edit_goes_back_through_preparation(slow_emu: SaladEmulator) -> None:
    api = Api(slow_emu)
    api.create(valid_body(replicas=1))
    wait_until(lambda: api.status("sd") == "running", 5)
    r = api.patch("sd", {"container": {"image": IMAGE.replace("latest", "v1.9.4")}})
    assert r.json()["version"] == 2 and r.json()["current_state"]["status"] == "pending"
    assert [i["state"] for i in api.instances("sd")] == ["stopping"]
    # no new-version instance allocates before preparation is over
    seen = _seen_in_order(lambda: api.status("sd"), "running")
    assert seen == ["pending", "deploying", "running"]
    assert api.instances("sd")[0]["version"] == 2


def test_non_versioned_edits_do_not_restart(emu: SaladEmulator) -> None:
    api = Api(emu)
    api.create(valid_body(replicas=1))
    wait_until(lambda: any(i["ready"] for i in api.instances("sd")))
    before = api.instances("sd")
    for patch in (
        {"display_name": "Renamed"},
        {"country_codes": ["us", "ca"]},
        {"container": {"resources": {"cpu": 8}, "priority": "low"}},
        {
            "container": {"environment_variables": {"CLI_ARGS": "--api --xformers"}}
        },  # same value: not a change
    ):
        r = api.patch("sd", patch)
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 1 and r.json()["pending_change"] is False, patch
    assert api.instances("sd") == before  # same instances, same states, nothing restarted
    group = api.group("sd")
    assert group["display_name"] == "Renamed" and group["country_codes"] == ["us", "ca"]
    assert group["container"]["resources"]["cpu"] == 8 and group["priority"] == "low"


def test_stopped_group_edit_bumps_version_without_instances(emu: SaladEmulator) -> None:
    api = Api(emu)
    api.create(valid_body(autostart_policy=False))
    wait_until(lambda: api.status("sd") == "stopped")
    r = api.patch("sd", {"container": {"command": ["python", "webui.py"]}})
    assert r.json()["version"] == 2 and r.json()["pending_change"] is False
    assert api.instances("sd") == []


def test_zero_replicas_started_group_is_running_without_instances(emu: SaladEmulator) -> None:
    api = Api(emu)
    api.create(valid_body(replicas=0))
    wait_until(lambda: api.status("sd") == "running")
    assert api.instances("sd") == []
