from __future__ import annotations

from typing import Any

import pytest

from components.container_group.update_kind import UpdateKind, classify, classify_all

V, H, U = UpdateKind.VERSIONED, UpdateKind.HARDWARE, UpdateKind.UNVERSIONED


@pytest.mark.parametrize(
    ("patch", "kind"),
    [
        ({"container": {"image": "repo/a1111:v2"}}, V),
        ({"container": {"command": None}}, V),
        ({"container": {"environment_variables": {"A": "b"}}}, V),
        ({"container": {"environment_variables": {}}}, V),
        ({"startup_probe": None}, V),
        ({"liveness_probe": {"tcp": {"port": 1}}}, V),
        ({"readiness_probe": None}, V),
        ({"networking": {"port": 8080}}, V),
        ({"replicas": 5, "container": {"image": "repo/a1111:v2"}}, V),
        ({"container": {"image": "repo/a1111:v2", "resources": {"cpu": 8}}}, V),
        ({"container": {"resources": {"cpu": 8}}}, H),
        ({"container": {"resources": {"memory": 16384}}}, H),
        ({"container": {"resources": {"gpu_classes": []}}}, H),
        ({"container": {"resources": {"storage_amount": None}}}, H),
        ({"container": {"resources": {"shm_size": 1024}}, "replicas": 3}, H),
        ({"replicas": 5}, U),
        ({"display_name": None}, U),
        ({"country_codes": ["us"]}, U),
        ({"container": {"priority": "low", "image_caching": False}}, U),
        ({"container": {"registry_authentication": {"basic": {"username": "u", "password": "p"}}}}, U),
        ({}, U),
    ],
)
def test_classify(patch: dict[str, Any], kind: UpdateKind) -> None:
    assert classify(patch) is kind


def test_classify_all_takes_the_kind_that_restarts_most() -> None:
    assert classify_all([]) is U
    assert classify_all([{"replicas": 2}, {"container": {"resources": {"cpu": 2}}}]) is H
    assert classify_all([{"container": {"resources": {"cpu": 2}}}, {"startup_probe": None}]) is V
