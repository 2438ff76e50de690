"""Shared fixtures: a running Salad emulator whose logged request bodies must satisfy Salad's spec."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.contract.openapi import CREATE_SCHEMA, PATCH_SCHEMA, problems, spec_missing_reason
from tests.fakes.salad_api import LoggedRequest, SaladEmulator, Timings

# Distinctive, so a leak into any text is easy to find.
TEST_API_KEY = "salad-test-key-9f3e7c1d-DO-NOT-LEAK"

_CREATE_PATH = re.compile(r"^/organizations/[^/]+/projects/[^/]+/containers$")
_GROUP_PATH = re.compile(r"^/organizations/[^/]+/projects/[^/]+/containers/[^/]+$")


def contract_violations(log: list[LoggedRequest]) -> list[str]:
    """Create and PATCH bodies in the log that break Salad's official schema."""
    found = []
    for request in log:
        if request.method == "POST" and _CREATE_PATH.match(request.path):
            schema = CREATE_SCHEMA
        elif request.method == "PATCH" and _GROUP_PATH.match(request.path):
            schema = PATCH_SCHEMA
        else:
            continue
        found += [f"{request.method} {request.path}: {p}" for p in problems(schema, request.body)]
    return found


@pytest.fixture
def salad_emulator() -> Iterator[SaladEmulator]:
    """A fresh emulator; on teardown every create/PATCH body it received is checked against the spec."""
    with SaladEmulator(api_key=TEST_API_KEY, timings=Timings()) as emulator:
        yield emulator
        if spec_missing_reason() is None:
            violations = contract_violations(emulator.request_log())
            assert not violations, "requests broke Salad's OpenAPI contract:\n" + "\n".join(violations)
