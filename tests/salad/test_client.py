"""SaladClient against the emulator: every operation, every error shape, every fault knob."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from components.salad import RateBudget, RetryPolicy, SaladApiError, SaladClient
from tests.conftest import TEST_API_KEY
from tests.fakes.salad_api import SaladEmulator
from tests.fakes.waiting import wait_until

ORG, PROJECT = "acme", "sd-dev"
FAST_RETRY = RetryPolicy(
    max_retries=4, backoff_factor=0.05, backoff_max=0.2, jitter=0.02, max_total_seconds=10
)


def make_client(emulator: SaladEmulator, **kwargs: Any) -> SaladClient:
    kwargs.setdefault("retry", FAST_RETRY)
    kwargs.setdefault("rate_budget", RateBudget(10_000, 1.0, burst=100))
    kwargs.setdefault("timeout", (2.0, 5.0))
    return SaladClient(TEST_API_KEY, emulator.base_url, **kwargs)


def group_body(name: str = "sd-test", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "container": {
            "image": "registry.example/sd@sha256:" + "a" * 64,
            "resources": {"cpu": 4, "memory": 12288},
        },
        "autostart_policy": True,
        "replicas": 1,
        "restart_policy": "always",
        "networking": {"protocol": "http", "port": 7860, "auth": True},
    }
    body.update(extra)
    return body


@pytest.fixture
def client(salad_emulator: SaladEmulator) -> SaladClient:
    return make_client(salad_emulator)


# operations


def test_create_get_list_and_dns(client: SaladClient, salad_emulator: SaladEmulator) -> None:
    created = client.create_container_group(ORG, PROJECT, group_body())
    assert created["name"] == "sd-test" and created["version"] == 1
    assert created["networking"]["dns"].endswith(".salad.cloud")
    fetched = client.get_container_group(ORG, PROJECT, "sd-test")
    assert fetched["id"] == created["id"]
    assert [g["name"] for g in client.list_container_groups(ORG, PROJECT)] == ["sd-test"]
    (post,) = salad_emulator.requests_to("POST", "/containers")
    assert post.content_type == "application/json"
    assert post.headers.get("Accept") == "application/json"


def test_update_sends_merge_patch(client: SaladClient, salad_emulator: SaladEmulator) -> None:
    client.create_container_group(ORG, PROJECT, group_body())
    updated = client.update_container_group(ORG, PROJECT, "sd-test", {"replicas": 2})
    assert updated["replicas"] == 2
    (patch,) = salad_emulator.requests_to("PATCH")
    assert patch.content_type == "application/merge-patch+json"
    assert patch.body == {"replicas": 2}


def test_start_stop_instances_and_delete(client: SaladClient, salad_emulator: SaladEmulator) -> None:
    client.create_container_group(ORG, PROJECT, group_body(autostart_policy=False))
    assert wait_until(
        lambda: client.get_container_group(ORG, PROJECT, "sd-test")["current_state"]["status"] == "stopped",
        timeout=5,
    )
    client.start_container_group(ORG, PROJECT, "sd-test")
    assert wait_until(
        lambda: any(i["state"] == "running" for i in client.list_instances(ORG, PROJECT, "sd-test")),
        timeout=5,
    )
    client.stop_container_group(ORG, PROJECT, "sd-test")
    assert wait_until(
        lambda: client.get_container_group(ORG, PROJECT, "sd-test")["current_state"]["status"] == "stopped",
        timeout=5,
    )
    client.delete_container_group(ORG, PROJECT, "sd-test")
    assert wait_until(lambda: salad_emulator.group(ORG, PROJECT, "sd-test") is None, timeout=5)
    assert [r.path.rsplit("/", 1)[-1] for r in salad_emulator.requests_to("POST")][1:] == ["start", "stop"]


def test_gpu_classes_and_quotas(client: SaladClient, salad_emulator: SaladEmulator) -> None:
    classes = client.list_gpu_classes(ORG)
    assert classes == salad_emulator.gpu_classes
    assert any(c["name"] == "RTX 3060 Ti (8 GB)" for c in classes)
    quotas = client.get_quotas(ORG)
    assert quotas["container_groups_quotas"]["container_replicas_quota"] > 0


def test_path_segments_are_escaped(client: SaladClient, salad_emulator: SaladEmulator) -> None:
    with pytest.raises(SaladApiError):
        client.get_container_group(ORG, PROJECT, "../../x")
    assert all("/../" not in r.path for r in salad_emulator.request_log())


# error shapes


def test_not_found_is_problem_details(client: SaladClient) -> None:
    with pytest.raises(SaladApiError) as caught:
        client.get_container_group(ORG, PROJECT, "missing-group")
    error = caught.value
    assert error.status == 404 and error.is_not_found and not error.is_transient
    assert error.method == "GET" and error.path.endswith("/containers/missing-group")
    assert "HTTP 404" in str(error)


def test_name_conflict(client: SaladClient) -> None:
    client.create_container_group(ORG, PROJECT, group_body())
    with pytest.raises(SaladApiError) as caught:
        client.create_container_group(ORG, PROJECT, group_body())
    assert caught.value.status == 400 and caught.value.is_name_conflict


@pytest.mark.sends_invalid_bodies
def test_validation_error_names_the_field(client: SaladClient) -> None:
    body = group_body()
    body["container"]["resources"]["cpu"] = 5000
    with pytest.raises(SaladApiError) as caught:
        client.create_container_group(ORG, PROJECT, body)
    assert caught.value.status == 400 and not caught.value.is_name_conflict
    assert "cpu" in caught.value.detail


def test_wrong_key_is_401(salad_emulator: SaladEmulator) -> None:
    client = SaladClient("not-the-key", salad_emulator.base_url, retry=FAST_RETRY)
    with pytest.raises(SaladApiError) as caught:
        client.list_gpu_classes(ORG)
    assert caught.value.status == 401
    assert "not-the-key" not in str(caught.value)


def test_html_error_body_becomes_readable_text(client: SaladClient, salad_emulator: SaladEmulator) -> None:
    salad_emulator.inject_status(502, times=10, html=True)
    with pytest.raises(SaladApiError) as caught:
        client.list_gpu_classes(ORG)
    error = caught.value
    assert error.status == 502 and error.is_transient
    assert "<" not in error.detail and ">" not in error.detail and error.detail
    assert len(salad_emulator.requests_to("GET", "/gpu-classes")) == FAST_RETRY.max_retries + 1


def test_empty_key_is_refused_before_any_call() -> None:
    with pytest.raises(ValueError, match="API key"):
        SaladClient("", "http://127.0.0.1:9")


# faults: transient ones are retried, bounded ones give up clearly


def test_429_with_retry_after_is_honoured(client: SaladClient, salad_emulator: SaladEmulator) -> None:
    salad_emulator.inject_status(429, retry_after="1", path_re="gpu-classes")
    assert client.list_gpu_classes(ORG)
    first, second = salad_emulator.requests_to("GET", "/gpu-classes")
    assert first.status == 429 and second.status == 200
    assert second.time - first.time >= 0.95


def test_429_without_retry_after_backs_off(client: SaladClient, salad_emulator: SaladEmulator) -> None:
    salad_emulator.inject_status(429, times=2, path_re="gpu-classes")
    assert client.list_gpu_classes(ORG)
    calls = salad_emulator.requests_to("GET", "/gpu-classes")
    assert [c.status for c in calls] == [429, 429, 200]
    assert calls[2].time - calls[1].time >= FAST_RETRY.backoff_factor * 2 * 0.9


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried_for_reads(
    client: SaladClient, salad_emulator: SaladEmulator, status: int
) -> None:
    salad_emulator.inject_status(status, times=2, html=True)
    assert client.get_quotas(ORG)
    assert [c.status for c in salad_emulator.requests_to("GET", "/quotas")] == [status, status, 200]


def test_dropped_connection_is_retried_for_reads(client: SaladClient, salad_emulator: SaladEmulator) -> None:
    salad_emulator.inject_drop(times=2, path_re="quotas")
    assert client.get_quotas(ORG)
    assert len(salad_emulator.requests_to("GET", "/quotas")) == 3


def test_slow_answer_times_out_then_retries(salad_emulator: SaladEmulator) -> None:
    client = make_client(salad_emulator, timeout=(2.0, 0.3))
    salad_emulator.inject_delay(1.0, path_re="quotas")
    assert client.get_quotas(ORG)
    # the slow first answer is logged once the emulator finishes writing it, after the retry's
    assert wait_until(lambda: len(salad_emulator.requests_to("GET", "/quotas")) == 2, timeout=5)


def test_patch_and_delete_are_retried(client: SaladClient, salad_emulator: SaladEmulator) -> None:
    client.create_container_group(ORG, PROJECT, group_body())
    salad_emulator.inject_status(503, method="PATCH")
    salad_emulator.inject_drop(method="DELETE")
    assert client.update_container_group(ORG, PROJECT, "sd-test", {"replicas": 3})["replicas"] == 3
    client.delete_container_group(ORG, PROJECT, "sd-test")
    assert len(salad_emulator.requests_to("PATCH")) == 2
    assert len(salad_emulator.requests_to("DELETE")) == 2


def test_gives_up_after_the_retry_count(salad_emulator: SaladEmulator) -> None:
    client = make_client(salad_emulator, retry=RetryPolicy(max_retries=2, backoff_factor=0.01, jitter=0))
    salad_emulator.inject_status(503, times=50)
    with pytest.raises(SaladApiError) as caught:
        client.get_quotas(ORG)
    assert caught.value.status == 503
    assert len(salad_emulator.requests_to("GET", "/quotas")) == 3


def test_gives_up_after_the_time_bound(salad_emulator: SaladEmulator) -> None:
    policy = RetryPolicy(
        max_retries=100, backoff_factor=0.2, backoff_max=0.2, jitter=0, max_total_seconds=1.0
    )
    client = make_client(salad_emulator, retry=policy)
    salad_emulator.inject_status(503, times=1000)
    started = time.monotonic()
    with pytest.raises(SaladApiError) as caught:
        client.get_quotas(ORG)
    assert caught.value.status == 503
    assert time.monotonic() - started < 3.0
    assert 3 <= len(salad_emulator.requests_to("GET", "/quotas")) < 20


def test_dropped_connections_past_the_bound_give_a_clear_error(salad_emulator: SaladEmulator) -> None:
    client = make_client(salad_emulator, retry=RetryPolicy(max_retries=1, backoff_factor=0.01, jitter=0))
    salad_emulator.inject_drop(times=10)
    with pytest.raises(SaladApiError) as caught:
        client.get_quotas(ORG)
    assert caught.value.status is None and caught.value.is_transient
    assert "no answer" in str(caught.value) and "dropped" in str(caught.value)


# create is never blindly retried


def test_create_answered_503_is_not_retried(client: SaladClient, salad_emulator: SaladEmulator) -> None:
    salad_emulator.inject_create_then_503()
    with pytest.raises(SaladApiError) as caught:
        client.create_container_group(ORG, PROJECT, group_body())
    assert caught.value.status == 503
    assert len(salad_emulator.requests_to("POST", "/containers")) == 1
    assert salad_emulator.group(ORG, PROJECT, "sd-test") is not None


def test_create_dropped_is_not_retried(client: SaladClient, salad_emulator: SaladEmulator) -> None:
    salad_emulator.inject_drop(method="POST", path_re="/containers$")
    with pytest.raises(SaladApiError) as caught:
        client.create_container_group(ORG, PROJECT, group_body())
    assert caught.value.status is None
    assert len(salad_emulator.requests_to("POST", "/containers")) == 1


def test_create_rate_limited_is_retried_once_created(
    client: SaladClient, salad_emulator: SaladEmulator
) -> None:
    salad_emulator.inject_status(429, method="POST", path_re="/containers$")
    assert client.create_container_group(ORG, PROJECT, group_body())["name"] == "sd-test"
    assert [r.status for r in salad_emulator.requests_to("POST", "/containers")] == [429, 201]
    assert [g["name"] for g in client.list_container_groups(ORG, PROJECT)] == ["sd-test"]


def test_start_is_retried_on_503(client: SaladClient, salad_emulator: SaladEmulator) -> None:
    client.create_container_group(ORG, PROJECT, group_body(autostart_policy=False))
    salad_emulator.inject_status(503, method="POST", path_re="/start$")
    client.start_container_group(ORG, PROJECT, "sd-test")
    assert [r.status for r in salad_emulator.requests_to("POST", "/start")] == [503, 202]


# rate budget shared by threads


def test_threads_hammering_stay_under_the_budget(salad_emulator: SaladEmulator) -> None:
    # The budget's promise is about the moments it grants (reservation time + wait); arrival times at the
    # emulator add scheduling jitter of a loaded machine, so the windows are counted on grants.
    reserved = threading.local()

    def clock() -> float:
        reserved.now = time.monotonic()
        return float(reserved.now)

    budget = RateBudget(20, 1.0, burst=4, clock=clock)
    grants: list[float] = []
    grants_lock = threading.Lock()
    acquire = budget.acquire

    def recording_acquire() -> float:
        wait = acquire()
        with grants_lock:
            grants.append(reserved.now + wait)
        return wait

    budget.acquire = recording_acquire  # type: ignore[method-assign]
    clients = [make_client(salad_emulator, rate_budget=budget) for _ in range(4)]
    salad_emulator.inject_status(429, times=6, path_re="quotas")  # retries must spend budget too

    def hammer(client: SaladClient) -> None:
        for _ in range(12):
            client.get_quotas(ORG)

    threads = [threading.Thread(target=hammer, args=(c,)) for c in clients for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(salad_emulator.requests_to("GET", "/quotas")) == 8 * 12 + 6
    times = sorted(grants)
    assert len(times) == 8 * 12 + 6  # every request, retries included, took a token
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= 20
    assert busiest >= 12, "the budget should not throttle far below its rate"


# the API key never leaks


@pytest.mark.sends_invalid_bodies
def test_api_key_never_in_errors_logs_or_reprs(
    salad_emulator: SaladEmulator, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(salad_emulator, retry=RetryPolicy(max_retries=1, backoff_factor=0.01, jitter=0))
    texts = [repr(client)]
    salad_emulator.inject_status(503, times=2, html=True)
    salad_emulator.inject_drop(times=2, path_re="quotas")
    for call in (
        lambda: client.list_gpu_classes(ORG),
        lambda: client.get_quotas(ORG),
        lambda: client.get_container_group(ORG, PROJECT, "nope"),
        lambda: client.create_container_group(ORG, PROJECT, {"name": "x"}),
    ):
        with pytest.raises(SaladApiError) as caught:
            call()
        texts += [str(caught.value), repr(caught.value), repr(caught.value.args)]
    captured = capsys.readouterr()
    texts += [caplog.text, captured.out, captured.err]
    assert any("GET" in t for t in texts)  # the logs did record the calls
    assert all(TEST_API_KEY not in text for text in texts)


# failure signals and instance actions (issue 11)


def test_system_logs_log_entries_and_availability(client: SaladClient, salad_emulator: SaladEmulator) -> None:
    salad_emulator.fail_instances("sha256:aaaa", "out_of_memory")
    client.create_container_group(ORG, PROJECT, group_body())
    oom = "Exited:137 (Likely Out of System Memory)"
    events = wait_until(
        lambda: [e for e in client.get_system_logs(ORG, PROJECT, "sd-test") if e["event_name"] == oom]
    )
    assert events[0]["version"] == "1" and events[0]["instance_id"]
    query = {
        "query": 'container_group_name == "sd-test"',
        "start_time": "2020-01-01T00:00:00Z",
        "end_time": "2100-01-01T00:00:00Z",
        "page_size": 10,
    }
    lines = [item["text_log"] for item in client.query_log_entries(ORG, query)]
    assert "Killed" in lines
    gpu = salad_emulator.gpu_classes[0]["id"]
    available = client.get_gpu_availability(ORG, {"gpu_classes": [gpu], "cpu": 4, "memory": 12288})
    assert available["available_gpu_high"] > 0
    salad_emulator.no_gpu_availability()
    assert client.get_gpu_availability(ORG, {"gpu_classes": [gpu]})["available_gpu_high"] == 0
    posted = salad_emulator.requests_to("POST", "/log-entries")[0]
    assert posted.content_type == "application/json" and posted.body == query


def test_invalid_log_query_is_rejected_with_the_field(client: SaladClient) -> None:
    with pytest.raises(SaladApiError) as caught:
        client.query_log_entries(ORG, {"query": "x", "start_time": "yesterday", "end_time": "now"})
    assert caught.value.status == 400 and "start_time" in str(caught.value)


def test_instance_actions_act_and_are_bounded_per_minute(
    client: SaladClient, salad_emulator: SaladEmulator
) -> None:
    salad_emulator.fail_instances("sha256:aaaa", "stuck_downloading")
    client.create_container_group(ORG, PROJECT, group_body())
    stuck = wait_until(
        lambda: [i for i in client.list_instances(ORG, PROJECT, "sd-test") if i["state"] == "downloading"]
    )[0]
    client.reallocate_instance(ORG, PROJECT, "sd-test", stuck["id"])
    moved = wait_until(
        lambda: [i for i in client.list_instances(ORG, PROJECT, "sd-test") if i["ready"]], timeout=10
    )[0]
    assert moved["id"] == stuck["id"] and moved["machine_id"] != stuck["machine_id"]
    for _ in range(9):
        client.restart_instance(ORG, PROJECT, "sd-test", stuck["id"])
    with pytest.raises(SaladApiError) as caught:
        client.recreate_instance(ORG, PROJECT, "sd-test", stuck["id"])
    assert caught.value.status == 429
    paths = [r.path.rsplit("/", 1)[-1] for r in salad_emulator.requests_to("POST") if "/instances/" in r.path]
    assert paths[:2] == ["reallocate", "restart"] and "recreate" in paths
    with pytest.raises(SaladApiError) as missing:
        client.restart_instance(ORG, PROJECT, "sd-test", "00000000-0000-0000-0000-000000000000")
    assert missing.value.status == 404
