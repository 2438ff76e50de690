"""The emulator's responses satisfy Salad's official OpenAPI schemas (strict: no unknown fields).

Uses the project's spec validators (`tests/contract/openapi.py`, jsonschema + PyYAML from requirements-dev);
skipped when they or the spec are not available. The emulator itself needs only the stdlib.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fakes.salad_api import SaladEmulator
from tests.fakes.salad_testkit import ORG, Api, valid_body
from tests.fakes.waiting import wait_until

openapi = pytest.importorskip("tests.contract.openapi")
if openapi.spec_missing_reason() is not None:
    pytest.skip(openapi.spec_missing_reason(), allow_module_level=True)

problems: Callable[[str, Any], list[str]] = openapi.problems


@pytest.fixture
def api() -> Iterator[Api]:
    with SaladEmulator() as emu:
        yield Api(emu)


def test_group_and_instances_conform_through_the_lifecycle(api: Api) -> None:
    body = valid_body(country_codes=["us"])
    body["container"]["logging"] = {"tcp": {"host": "logs.example.com", "port": 514}}
    body["container"]["registry_authentication"] = {"basic": {"username": "u", "password": "p"}}
    body["queue_autoscaler"] = {"min_replicas": 0, "max_replicas": 3, "desired_queue_length": 2}
    created = api.create(body)
    assert problems("ContainerGroup", created.json()) == []
    found: set[str] = set()
    states: set[str] = set()

    def step() -> bool:
        found.update(problems("ContainerGroup", api.group("sd")))
        instances = api.instances("sd")
        for inst in instances:
            states.add(inst["state"])
            found.update(problems("ContainerGroupInstance", inst))
        return len(instances) == 2 and all(i["ready"] for i in instances)

    wait_until(step)
    api.stop("sd")
    step()
    assert found == set()
    assert {"running", "stopping"} <= states


def test_collections_and_errors_conform(api: Api) -> None:
    api.create(valid_body())
    base = api.emu.base_url
    assert problems("ContainerGroupCollection", api.session.get(api.url()).json()) == []
    assert problems("GpuClassesList", api.session.get(f"{base}/organizations/{ORG}/gpu-classes").json()) == []
    assert problems("Quotas", api.session.get(f"{base}/organizations/{ORG}/quotas").json()) == []
    assert problems("ProblemDetails", api.create(valid_body(replicas=2.0)).json()) == []
    assert problems("ProblemDetails", api.get("missing").json()) == []
