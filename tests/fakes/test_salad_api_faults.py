"""Fault injection, auth and the request log of the Salad emulator."""

from __future__ import annotations

import time

import pytest
import requests

from tests.fakes.salad_api import DROPPED, SaladEmulator
from tests.fakes.salad_testkit import ORG, PROJECT, Api, valid_body
from tests.fakes.waiting import wait_until


def test_429_without_retry_after(emu: SaladEmulator) -> None:
    api = Api(emu)
    emu.inject_status(429)
    r = api.session.get(api.url())
    assert r.status_code == 429 and "Retry-After" not in r.headers
    assert r.headers["Content-Type"] == "application/json"
    assert r.json()["status"] == 429 and r.json()["title"] == "Too Many Requests"
    assert api.session.get(api.url()).status_code == 200  # times=1: the next one is served


def test_429_with_retry_after_for_several_requests(emu: SaladEmulator) -> None:
    api = Api(emu)
    emu.inject_status(429, times=2, retry_after="3")
    assert [api.session.get(api.url()).headers.get("Retry-After") for _ in range(3)] == ["3", "3", None]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_as_html_page(emu: SaladEmulator, status: int) -> None:
    api = Api(emu)
    emu.inject_status(status, html=True)
    r = api.session.get(api.url())
    assert r.status_code == status
    assert r.headers["Content-Type"].startswith("text/html")
    assert r.text.lstrip().startswith("<!DOCTYPE html>") and str(status) in r.text
    with pytest.raises(ValueError):
        r.json()


def test_faults_leave_state_untouched(emu: SaladEmulator) -> None:
    api = Api(emu)
    emu.inject_status(503, method="POST")
    assert api.create(valid_body()).status_code == 503
    assert api.get("sd").status_code == 404  # the create did not happen


def test_fault_matching_by_method_and_path(emu: SaladEmulator) -> None:
    api = Api(emu)
    api.create(valid_body())
    emu.inject_status(500, method="PATCH", path_re=r"/containers/sd$")
    assert api.get("sd").status_code == 200  # GET does not match
    assert api.session.get(api.url("/sd/instances")).status_code == 200  # path does not match
    assert api.patch("sd", {"replicas": 3}).status_code == 500
    assert api.patch("sd", {"replicas": 3}).status_code == 200


def test_faults_come_before_auth(emu: SaladEmulator) -> None:
    emu.inject_status(503)
    r = Api(emu, api_key="wrong").session.get(Api(emu).url())
    assert r.status_code == 503


def test_drop_closes_the_connection_without_a_response(emu: SaladEmulator) -> None:
    api = Api(emu)
    api.session.get(api.url())  # a kept-alive connection exists
    emu.inject_drop(method="POST")
    with pytest.raises(requests.ConnectionError):
        api.create(valid_body())
    assert api.get("sd").status_code == 404  # nothing was created
    assert api.create(valid_body()).status_code == 201  # the next request works (new connection)
    dropped = [e for e in emu.request_log() if e.status == DROPPED]
    assert len(dropped) == 1 and dropped[0].method == "POST" and dropped[0].body["name"] == "sd"


def test_delay_then_serve_normally(emu: SaladEmulator) -> None:
    api = Api(emu)
    emu.inject_delay(0.3, path_re=r"/containers$")
    start = time.monotonic()
    r = api.create(valid_body())
    assert r.status_code == 201 and time.monotonic() - start >= 0.3
    with pytest.raises(requests.Timeout):
        emu.inject_delay(0.5)
        api.session.get(api.url(), timeout=0.1)
    start = time.monotonic()
    assert api.get("sd").status_code == 200 and time.monotonic() - start < 0.3


def test_create_then_503_really_creates(emu: SaladEmulator) -> None:
    api = Api(emu)
    emu.inject_create_then_503()
    r = api.create(valid_body())
    assert r.status_code == 503 and r.headers["Content-Type"].startswith("text/html")
    assert api.get("sd").status_code == 200  # it exists anyway
    retry = api.create(valid_body())
    assert retry.status_code == 400 and retry.json()["type"] == "name_conflict"


def test_create_then_503_waits_for_a_successful_create(emu: SaladEmulator) -> None:
    api = Api(emu)
    emu.inject_create_then_503()
    assert api.create(valid_body(replicas=2.0)).status_code == 400  # invalid: not consumed
    assert api.create(valid_body()).status_code == 503


@pytest.mark.parametrize("key", [None, "wrong-key", ""])
def test_missing_or_wrong_api_key_is_401(emu: SaladEmulator, key: str | None) -> None:
    headers = {} if key is None else {"Salad-Api-Key": key}
    for url in (Api(emu).url(), f"{emu.base_url}/organizations/{ORG}/gpu-classes", f"{emu.base_url}/nowhere"):
        r = requests.get(url, headers=headers, timeout=5)
        assert r.status_code == 401 and r.json()["status"] == 401
    r = requests.post(Api(emu).url(), json=valid_body(), headers=headers, timeout=5)
    assert r.status_code == 401
    assert emu.group(ORG, PROJECT, "sd") is None


def test_custom_api_key_and_prefix() -> None:
    with SaladEmulator(api_key="k2", prefix="/v1/") as emu:
        assert emu.base_url.endswith("/v1") and emu.api_key == "k2"
        api = Api(emu)
        assert api.session.get(api.url()).status_code == 200
        assert (
            requests.get(api.url().replace("/v1", "/api/public"), headers={"Salad-Api-Key": "k2"}).status_code
            == 404
        )


def test_request_log_records_everything(emu: SaladEmulator) -> None:
    api = Api(emu)
    before = time.monotonic()
    api.create(valid_body())
    api.patch("sd", {"replicas": 3})
    api.session.get(api.url("/sd") + "?verbose=1")
    requests.get(api.url(), timeout=5)  # unauthorized
    emu.inject_status(429)
    api.session.get(api.url())
    log = emu.request_log()
    assert [(e.method, e.path, e.status) for e in log] == [
        ("POST", f"/organizations/{ORG}/projects/{PROJECT}/containers", 201),
        ("PATCH", f"/organizations/{ORG}/projects/{PROJECT}/containers/sd", 200),
        ("GET", f"/organizations/{ORG}/projects/{PROJECT}/containers/sd", 200),
        ("GET", f"/organizations/{ORG}/projects/{PROJECT}/containers", 401),
        ("GET", f"/organizations/{ORG}/projects/{PROJECT}/containers", 429),
    ]
    post, patch, get = log[0], log[1], log[2]
    assert post.body == valid_body() and post.content_type == "application/json"
    assert post.raw_body.startswith(b"{") and get.body is None and get.raw_body == b""
    assert patch.content_type == "application/merge-patch+json" and patch.body == {"replicas": 3}
    assert get.query == "verbose=1" and post.query == ""
    assert all(before <= e.time <= time.monotonic() for e in log)
    assert [e.time for e in log] == sorted(e.time for e in log)
    for e in log:
        assert all(k.lower() != "salad-api-key" for k in e.headers)
        assert "test-key" not in e.headers.values()
    assert any(k.lower() == "user-agent" for k in post.headers)
    emu.clear_log()
    assert emu.request_log() == []


def test_request_log_is_thread_safe(emu: SaladEmulator) -> None:
    import threading

    api_url = Api(emu).url()

    def worker() -> None:
        with requests.Session() as s:
            for _ in range(20):
                s.get(api_url, headers={"Salad-Api-Key": emu.api_key}, timeout=5)

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_until(lambda: len(emu.request_log()) == 100)
    assert all(e.status == 200 for e in emu.request_log())


def test_paths_outside_the_prefix_need_auth_too(emu: SaladEmulator) -> None:
    root = emu.base_url.removesuffix("/api/public")
    assert requests.get(f"{root}/organizations/{ORG}/quotas", timeout=5).status_code == 401
    r = requests.get(f"{root}/organizations/{ORG}/quotas", headers={"Salad-Api-Key": emu.api_key}, timeout=5)
    assert r.status_code == 404  # served only under the prefix
    assert emu.request_log()[-1].path == f"/organizations/{ORG}/quotas"


def test_compiled_path_patterns_are_accepted(emu: SaladEmulator) -> None:
    import re

    api = Api(emu)
    emu.inject_status(502, path_re=re.compile(r"/quotas$"))
    assert api.session.get(api.url()).status_code == 200
    assert api.session.get(f"{emu.base_url}/organizations/{ORG}/quotas").status_code == 502
