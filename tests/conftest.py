"""Shared fixtures: a running Salad emulator whose logged request bodies must satisfy Salad's spec; and the
session's check that no test leaves a process running."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest

from tests import leaks
from tests.contract.openapi import (
    CREATE_SCHEMA,
    GPU_AVAILABILITY_SCHEMA,
    LOG_QUERY_SCHEMA,
    PATCH_SCHEMA,
    problems,
    spec_missing_reason,
)
from tests.fakes.salad_api import LoggedRequest, SaladEmulator, Timings
from tests.paths import REPO_ROOT

# Distinctive, so a leak into any text is easy to find.
TEST_API_KEY = "salad-test-key-9f3e7c1d-DO-NOT-LEAK"

_CREATE_PATH = re.compile(r"^/organizations/[^/]+/projects/[^/]+/containers$")
_GROUP_PATH = re.compile(r"^/organizations/[^/]+/projects/[^/]+/containers/[^/]+$")
_QUEUE_BODIES = (  # queue mode (issue 13): queue create/patch and job submission
    ("POST", re.compile(r"^/organizations/[^/]+/projects/[^/]+/queues$"), "QueuePrototype"),
    ("PATCH", re.compile(r"^/organizations/[^/]+/projects/[^/]+/queues/[^/]+$"), "QueuePatch"),
    ("POST", re.compile(r"^/organizations/[^/]+/projects/[^/]+/queues/[^/]+/jobs$"), "QueueJobPrototype"),
)
_LOG_QUERY_PATH = re.compile(r"^/organizations/[^/]+/log-entries$")
_GPU_AVAILABILITY_PATH = re.compile(r"^/organizations/[^/]+/availability/sce-gpu-availability$")


def contract_violations(log: list[LoggedRequest]) -> list[str]:
    """Request bodies in the log (create, PATCH, log query, GPU availability) that break Salad's schema."""
    found = []
    for request in log:
        if request.method == "POST" and _CREATE_PATH.match(request.path):
            schema = CREATE_SCHEMA
        elif request.method == "PATCH" and _GROUP_PATH.match(request.path):
            schema = PATCH_SCHEMA
        elif request.method == "POST" and _LOG_QUERY_PATH.match(request.path):
            schema = LOG_QUERY_SCHEMA
        elif request.method == "POST" and _GPU_AVAILABILITY_PATH.match(request.path):
            schema = GPU_AVAILABILITY_SCHEMA
        else:
            queue_schemas = [s for m, p, s in _QUEUE_BODIES if m == request.method and p.match(request.path)]
            if not queue_schemas:
                continue
            schema = queue_schemas[0]
        found += [f"{request.method} {request.path}: {p}" for p in problems(schema, request.body)]
    return found


EmulatorFactory = Callable[[Timings], SaladEmulator]


@pytest.fixture
def salad_emulator_factory(request: pytest.FixtureRequest) -> Iterator[EmulatorFactory]:
    """Starts emulators on demand; on teardown every create/PATCH body they received must satisfy the spec
    (unless the test is marked `sends_invalid_bodies`, i.e. it tests how invalid requests are answered)."""
    started: list[SaladEmulator] = []

    def start(timings: Timings) -> SaladEmulator:
        emulator = SaladEmulator(api_key=TEST_API_KEY, timings=timings).start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()
    if spec_missing_reason() is None and request.node.get_closest_marker("sends_invalid_bodies") is None:
        violations = [v for emulator in started for v in contract_violations(emulator.request_log())]
        assert not violations, "requests broke Salad's OpenAPI contract:\n" + "\n".join(violations)


@pytest.fixture
def salad_emulator(salad_emulator_factory: EmulatorFactory) -> SaladEmulator:
    """A fresh emulator on the default compressed clock."""
    return salad_emulator_factory(Timings())


# --- nothing left running -----------------------------------------------------------------------------

LEFTOVER_GRACE_SECONDS = 10.0  # processes stopped by the last teardown may still be exiting
_session: leaks.Session | None = None


def pytest_sessionstart(session: pytest.Session) -> None:
    global _session
    _session = leaks.Session.begin(REPO_ROOT)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fails the run when a process started during it (by a fixture or a test) is still running; then
    stops those processes, so the shared machine is not left with them."""
    if _session is None:
        return
    left = _session.wait_for_leftovers(LEFTOVER_GRACE_SECONDS)
    if not left:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"  {process.describe()}" for process in left]
    lines.append("start helpers with start_new_session=True and stop their process group in the teardown")
    if reporter is None:
        print("processes left running:", *lines, sep="\n")
    else:
        reporter.write_sep("=", "processes started by this test session are still running", red=True)
        for line in lines:
            reporter.write_line(line, red=True)
    leaks.kill(left)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
