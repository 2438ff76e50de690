"""The emulator's failure modes, system logs, log entries, availability, quota and instance actions."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.openapi import problems, spec_missing_reason
from tests.fakes.salad_api import SaladEmulator
from tests.fakes.salad_incidents import MODES
from tests.fakes.salad_testkit import ORG, Api, valid_body
from tests.fakes.waiting import wait_until

needs_spec = pytest.mark.skipif(spec_missing_reason() is not None, reason=str(spec_missing_reason()))


def logs(api: Api, name: str = "sd") -> list[dict[str, Any]]:
    r = api.session.get(api.url(f"/{name}/system-logs"), timeout=5)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def org_post(api: Api, suffix: str, body: Any) -> Any:
    return api.session.post(f"{api.emu.base_url}/organizations/{ORG}{suffix}", json=body, timeout=5)


@pytest.mark.parametrize("mode", [m for m in MODES if m != "stuck_downloading"])
def test_each_failure_mode_repeats_its_event_and_never_gets_ready(emu: SaladEmulator, mode: str) -> None:
    api = Api(emu)
    emu.fail_instances("a1111", mode)
    assert api.create(valid_body(replicas=1)).status_code == 201

    def three_failures() -> list[dict[str, Any]] | None:
        found = [e for e in logs(api) if e["event_name"] == MODES[mode]]
        return found if len(found) >= 3 else None

    failing = wait_until(three_failures, timeout=10)
    assert {e["version"] for e in failing} == {"1"} and len({e["event_time"] for e in failing}) >= 3
    assert not any(i["ready"] for i in api.instances("sd"))


def test_stuck_node_stays_downloading_silently_until_reallocated(emu: SaladEmulator) -> None:
    api = Api(emu)
    emu.fail_instances("a1111", "stuck_downloading")
    api.create(valid_body(replicas=1))
    stuck = wait_until(lambda: [i for i in api.instances("sd") if i["state"] == "downloading"])[0]
    assert not [e for e in logs(api) if "fail" in e["event_name"].lower()]
    r = api.session.post(api.url(f"/sd/instances/{stuck['id']}/reallocate"), timeout=5)
    assert r.status_code == 202 and r.content == b""
    wait_until(lambda: [i for i in api.instances("sd") if i["ready"]], timeout=10)
    assert "Instance Reallocated" in [e["event_name"] for e in logs(api)]


def test_system_logs_are_capped_at_50_newest_first(emu: SaladEmulator) -> None:
    api = Api(emu)
    emu.fail_instances("a1111", "crash_loop")
    api.create(valid_body(replicas=3))

    def full() -> list[dict[str, Any]] | None:
        found = logs(api)
        return found if len(found) == 50 else None

    items = wait_until(full, timeout=20)
    times = [e["event_time"] for e in items]
    assert times == sorted(times, reverse=True)


@needs_spec
def test_answers_match_the_official_schemas(emu: SaladEmulator) -> None:
    api = Api(emu)
    emu.fail_instances("a1111", "out_of_memory")
    api.create(valid_body(replicas=1))
    wait_until(lambda: [e for e in logs(api) if e["event_name"] == MODES["out_of_memory"]], timeout=10)
    assert problems("SystemLogList", {"items": logs(api)}) == []
    query = {
        "query": 'container_group_name == "sd"',
        "start_time": "2020-01-01T00:00:00Z",
        "end_time": "2100-01-01T00:00:00Z",
    }
    entries = org_post(api, "/log-entries", query)
    assert entries.status_code == 200 and problems("LogEntryCollection", entries.json()) == []
    assert "Killed" in [item["text_log"] for item in entries.json()["items"]]
    gpu = emu.gpu_classes[0]["id"]
    available = org_post(api, "/availability/sce-gpu-availability", {"gpu_classes": [gpu]})
    assert available.status_code == 200 and problems("GpuAvailability", available.json()) == []
    quotas = api.session.get(f"{emu.base_url}/organizations/{ORG}/quotas", timeout=5).json()
    assert problems("Quotas", quotas) == []


@pytest.mark.parametrize(
    ("suffix", "body", "words"),
    [
        ("/log-entries", {"query": "x"}, "start_time"),
        ("/log-entries", {"query": "x", "start_time": "then", "end_time": "now"}, "RFC 3339"),
        (
            "/log-entries",
            {
                "query": "x",
                "start_time": "2020-01-01T00:00:00Z",
                "end_time": "2020-01-02T00:00:00Z",
                "page_size": 0,
            },
            "page_size",
        ),
        ("/availability/sce-gpu-availability", {"gpu_classes": []}, "gpu_classes"),
        ("/availability/sce-gpu-availability", {"gpu_classes": ["not-a-uuid"]}, "gpu_classes"),
        ("/availability/sce-gpu-availability", {"cpu": 4}, "gpu_classes"),
    ],
)
def test_invalid_query_bodies_are_400(emu: SaladEmulator, suffix: str, body: Any, words: str) -> None:
    r = org_post(Api(emu), suffix, body)
    assert r.status_code == 400 and words in r.json()["detail"]


def test_quota_exhaustion_refuses_the_create(emu: SaladEmulator) -> None:
    api = Api(emu)
    emu.set_replicas_quota(3)
    assert api.create(valid_body("one", replicas=2)).status_code == 201
    refused = api.create(valid_body("two", replicas=2))
    assert refused.status_code == 403 and "quota" in refused.json()["detail"]
    quotas = api.session.get(f"{emu.base_url}/organizations/{ORG}/quotas", timeout=5).json()
    assert quotas["container_groups_quotas"]["container_replicas_quota"] == 3


def test_no_availability_answers_zero(emu: SaladEmulator) -> None:
    emu.no_gpu_availability()
    r = org_post(Api(emu), "/availability/sce-gpu-availability", {"gpu_classes": [emu.gpu_classes[0]["id"]]})
    assert r.json()["available_gpu_high"] == 0 and r.json()["available_gpu_batch"] == 0


def test_instance_actions_restart_and_recreate_keep_the_node(emu: SaladEmulator) -> None:
    api = Api(emu)
    api.create(valid_body(replicas=1))
    ready = wait_until(lambda: [i for i in api.instances("sd") if i["ready"]], timeout=10)[0]
    for action in ("restart", "recreate"):
        r = api.session.post(api.url(f"/sd/instances/{ready['id']}/{action}"), timeout=5)
        assert r.status_code == 202
    after = api.instances("sd")[0]
    assert after["machine_id"] == ready["machine_id"]
    names = [e["event_name"] for e in logs(api)]
    assert "Restarted" in names and "Instance Recreated" in names
    emu.limit_instance_actions(2)
    r = api.session.post(api.url(f"/sd/instances/{ready['id']}/restart"), timeout=5)
    assert r.status_code == 429
    missing = api.session.post(api.url("/sd/instances/nope/restart"), timeout=5)
    assert missing.status_code == 404
