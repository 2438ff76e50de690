"""Routing, listing, GPU classes, quotas and the CLI of the Salad emulator."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
import requests

from tests.fakes.salad_api import SaladEmulator, Timings
from tests.fakes.salad_catalog import gpu_class_id
from tests.fakes.salad_testkit import ORG, PROJECT, Api, valid_body
from tests.fakes.waiting import wait_until
from tests.net import free_port
from tests.paths import REPO_ROOT


@pytest.mark.parametrize(
    "path",
    [
        "/nowhere",
        f"/organizations/{ORG}",
        f"/organizations/{ORG}/projects/{PROJECT}/containers/",  # trailing slash
        f"/organizations/{ORG}/projects/{PROJECT}/containers/sd/logs",
        f"/organizations/Bad_Org/projects/{PROJECT}/containers",  # not a Salad name
        f"/organizations/{ORG}/projects/{PROJECT}/containers/UPPER",
    ],
)
def test_unknown_routes_are_404_problem_details(emu: SaladEmulator, path: str) -> None:
    r = Api(emu).session.get(emu.base_url + path)
    assert r.status_code == 404 and r.headers["Content-Type"] == "application/json"
    assert set(r.json()) == {"type", "title", "status", "detail"} and r.json()["status"] == 404


@pytest.mark.parametrize(
    ("method", "suffix", "allow"),
    [
        ("PUT", "/sd", "DELETE, GET, PATCH"),
        ("DELETE", "", "GET, POST"),
        ("GET", "/sd/start", "POST"),
        ("POST", "/sd/instances", "GET"),
    ],
)
def test_wrong_method_is_405(emu: SaladEmulator, method: str, suffix: str, allow: str) -> None:
    api = Api(emu)
    r = api.session.request(method, api.url(suffix))
    assert r.status_code == 405 and r.headers["Allow"] == allow and r.json()["status"] == 405


def test_missing_group_operations_are_404(emu: SaladEmulator) -> None:
    api = Api(emu)
    for r in (
        api.get("nope"),
        api.start("nope"),
        api.stop("nope"),
        api.session.get(api.url("/nope/instances")),
    ):
        assert r.status_code == 404 and "nope" in r.json()["detail"]


def test_list_is_scoped_to_org_and_project(emu: SaladEmulator) -> None:
    api = Api(emu)
    api.create(valid_body("one"))
    api.create(valid_body("two"))
    api.session.post(api.url(project="other-project"), json=valid_body("three"))
    api.session.post(api.url(org="other-org"), json=valid_body("four"))
    names = [g["name"] for g in api.session.get(api.url()).json()["items"]]
    assert names == ["one", "two"]
    assert [g["name"] for g in api.session.get(api.url(org="other-org")).json()["items"]] == ["four"]


def test_single_instance_lookup(emu: SaladEmulator) -> None:
    api = Api(emu)
    api.create(valid_body(replicas=1))
    inst = wait_until(lambda: api.instances("sd"))[0]
    r = api.session.get(api.url(f"/sd/instances/{inst['id']}"))
    assert r.status_code == 200 and r.json()["id"] == inst["id"]
    assert api.session.get(api.url(f"/sd/instances/{uuid.uuid4()}")).status_code == 404


def test_gpu_classes(emu: SaladEmulator) -> None:
    r = Api(emu).session.get(f"{emu.base_url}/organizations/{ORG}/gpu-classes")
    assert r.status_code == 200
    items = r.json()["items"]
    assert items == emu.gpu_classes
    names = {g["name"] for g in items}
    assert {"RTX 3060 Ti (8 GB)", "RTX 3060 (12 GB)", "RTX 3090 (24 GB)", "RTX 4090 (24 GB)"} <= names
    assert {"RTX 3090 Ti (24 GB)", "RTX 4070 Ti (12 GB)", "GTX 1650 (4 GB)"} <= names
    for g in items:
        assert g["id"] == gpu_class_id(g["name"]) and uuid.UUID(g["id"])
        assert [p["priority"] for p in g["prices"]] == ["high", "medium", "low", "batch"]
        prices = [float(p["price"]) for p in g["prices"]]
        assert all(isinstance(p["price"], str) for p in g["prices"]) and prices == sorted(
            prices, reverse=True
        )
    assert len({g["id"] for g in items}) == len(items)


def test_quotas_count_replicas_of_the_org(emu: SaladEmulator) -> None:
    api = Api(emu)
    url = f"{emu.base_url}/organizations/{ORG}/quotas"
    assert api.session.get(url).json()["container_groups_quotas"]["container_replicas_used"] == 0
    api.create(valid_body("one", replicas=3))
    api.session.post(
        api.url(project="other-project"), json=valid_body("two", replicas=2, autostart_policy=False)
    )
    api.session.post(api.url(org="other-org"), json=valid_body("three", replicas=7))
    quotas = api.session.get(url).json()["container_groups_quotas"]
    assert quotas["container_replicas_quota"] == 500 and quotas["container_replicas_used"] == 5
    api.patch("one", {"replicas": 1})
    assert api.session.get(url).json()["container_groups_quotas"]["container_replicas_used"] == 3


def test_speed_factor_compresses_the_clock() -> None:
    slow = Timings(image_prepare=2.0, allocating=2.0, downloading=2.0, creating=2.0, ready=2.0)
    with SaladEmulator(timings=slow, speed=20) as emu:  # 10 s of lifecycle in 0.5 s
        api = Api(emu)
        api.create(valid_body(replicas=1))
        wait_until(lambda: any(i["ready"] for i in api.instances("sd")), timeout=3)


def test_cli_serves_until_terminated() -> None:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "tests.fakes.salad_api",
        "--port",
        str(port),
        "--api-key",
        "cli-key",
        "--speed",
        "2",
    ]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url == f"http://127.0.0.1:{port}/api/public"
        r = requests.get(
            f"{base_url}/organizations/{ORG}/gpu-classes", headers={"Salad-Api-Key": "cli-key"}, timeout=5
        )
        assert r.status_code == 200 and r.json()["items"]
        assert requests.get(f"{base_url}/organizations/{ORG}/quotas", timeout=5).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    assert proc.returncode is not None


def test_chunked_request_bodies_are_read(emu: SaladEmulator) -> None:
    api = Api(emu)
    payload = json.dumps(valid_body()).encode()
    parts = iter([payload[:100], payload[100:]])  # a generator body makes requests send it chunked
    r = api.session.post(api.url(), data=parts, headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert emu.request_log()[-1].headers.get("Transfer-Encoding") == "chunked"
    assert api.get("sd").status_code == 200  # the kept-alive connection is still in sync
