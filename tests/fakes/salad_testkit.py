"""Helpers for the emulator's own tests: a tiny `requests` wrapper and valid request bodies."""

from __future__ import annotations

import copy
import json
from typing import Any

import requests

from tests.fakes.salad_api import SaladEmulator
from tests.fakes.salad_catalog import gpu_class_id

Json = Any
ORG = "acme-corp"
PROJECT = "dev-env"
MERGE_PATCH = "application/merge-patch+json"
IMAGE = "saladtechnologies/a1111:ipv6-latest"
DELETE = object()  # marker for `mutated`: remove the key


class Api:
    """Plain `requests` calls against the emulator (deliberately not the project's client)."""

    def __init__(self, emu: SaladEmulator, api_key: str | None = None) -> None:
        self.emu = emu
        self.session = requests.Session()
        self.session.headers["Salad-Api-Key"] = emu.api_key if api_key is None else api_key

    def url(self, suffix: str = "", *, org: str = ORG, project: str = PROJECT) -> str:
        return f"{self.emu.base_url}/organizations/{org}/projects/{project}/containers{suffix}"

    def create(self, body: Json) -> requests.Response:
        return self.session.post(self.url(), json=body, timeout=5)

    def get(self, name: str) -> requests.Response:
        return self.session.get(self.url(f"/{name}"), timeout=5)

    def group(self, name: str) -> dict[str, Json]:
        r = self.get(name)
        assert r.status_code == 200, r.text
        data: dict[str, Json] = r.json()
        return data

    def status(self, name: str) -> str:
        return str(self.group(name)["current_state"]["status"])

    def patch(self, name: str, body: Json, content_type: str | None = MERGE_PATCH) -> requests.Response:
        headers = {} if content_type is None else {"Content-Type": content_type}
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.session.patch(self.url(f"/{name}"), data=data, headers=headers, timeout=5)

    def delete(self, name: str) -> requests.Response:
        return self.session.delete(self.url(f"/{name}"), timeout=5)

    def start(self, name: str) -> requests.Response:
        return self.session.post(self.url(f"/{name}/start"), timeout=5)

    def stop(self, name: str) -> requests.Response:
        return self.session.post(self.url(f"/{name}/stop"), timeout=5)

    def instances(self, name: str) -> list[dict[str, Json]]:
        r = self.session.get(self.url(f"/{name}/instances"), timeout=5)
        assert r.status_code == 200, r.text
        items: list[dict[str, Json]] = r.json()["instances"]
        return items


def http_probe(path: str = "/internal/ping", **timings: int) -> dict[str, Json]:
    probe: dict[str, Json] = {
        "http": {"path": path, "port": 7860, "scheme": "http", "headers": []},
        "initial_delay_seconds": 0,
        "period_seconds": 10,
        "timeout_seconds": 30,
        "success_threshold": 1,
        "failure_threshold": 3,
    }
    probe.update(timings)
    return probe


def valid_body(name: str = "sd", **top: Json) -> dict[str, Json]:
    """A realistic, valid ContainerGroupPrototype (A1111 on an RTX 3060 Ti, gateway on 7860)."""
    body: dict[str, Json] = {
        "name": name,
        "display_name": "Stable Diffusion",
        "container": {
            "image": IMAGE,
            "resources": {
                "cpu": 4,
                "memory": 12288,
                "gpu_classes": [gpu_class_id("RTX 3060 Ti (8 GB)")],
                "storage_amount": 53687091200,
            },
            "environment_variables": {"CLI_ARGS": "--api --xformers"},
            "priority": "high",
        },
        "autostart_policy": True,
        "replicas": 2,
        "restart_policy": "always",
        "networking": {
            "protocol": "http",
            "port": 7860,
            "auth": False,
            "load_balancer": "least_number_of_connections",
        },
        "startup_probe": http_probe("/internal/profile-startup", failure_threshold=20),
        "liveness_probe": http_probe(),
    }
    body.update(top)
    return body


def mutated(body: dict[str, Json], path: str, value: Json) -> dict[str, Json]:
    """A deep copy of `body` with the dotted `path` set to `value` (or removed when value is DELETE)."""
    out = copy.deepcopy(body)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return out
