"""The session's leftover-process check: it finds what a test leaves running, and only that."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import leaks
from tests.fakes.waiting import wait_until
from tests.paths import REPO_ROOT

SLEEPER = ["sleep", "60"]
UNTAGGED = {key: value for key, value in os.environ.items() if key != leaks.TAG_ENV}


def session_now() -> leaks.Session:
    """A session of this test process that begins now (the real one is checked at the end of the run)."""
    return leaks.Session(os.getpid(), os.environ[leaks.TAG_ENV], leaks.uptime_ticks(), REPO_ROOT.resolve())


@pytest.fixture
def groups() -> Iterator[list[int]]:
    """Process groups to SIGKILL after the test, whatever happened."""
    started: list[int] = []
    yield started
    for group in started:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            continue


def orphan(tmp_path: Path, env: dict[str, str], cwd: Path) -> int:
    """Starts a sleeper whose parent exits at once, so it is reparented to init; returns its pid."""
    pid_file = tmp_path / f"orphan-{len(list(tmp_path.iterdir()))}"
    spawn = (
        f"import subprocess; p = subprocess.Popen({SLEEPER!r}, start_new_session=True); "
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))"
    )
    subprocess.run([sys.executable, "-c", spawn], env=env, cwd=cwd, check=True, timeout=30)
    pid = int(pid_file.read_text())
    wait_until(lambda: (p := leaks.read_process(pid)) is not None and p.ppid == 1, timeout=10,
               message="the sleeper to be reparented to init")
    return pid


def pids(found: list[leaks.Process]) -> set[int]:
    return {process.pid for process in found}


def test_a_running_child_is_a_leftover_until_stopped(groups: list[int]) -> None:
    session = session_now()
    child = subprocess.Popen(SLEEPER, start_new_session=True)
    groups.append(child.pid)
    assert child.pid in pids(session.leftovers())

    os.killpg(child.pid, signal.SIGTERM)
    child.wait(timeout=10)
    assert child.pid not in pids(session.leftovers())


def test_an_orphan_is_found_by_the_session_tag(groups: list[int], tmp_path: Path) -> None:
    session = session_now()
    pid = orphan(tmp_path, dict(os.environ), cwd=tmp_path)
    groups.append(pid)
    assert pid not in leaks.descendants(os.getpid(), leaks.processes())
    assert pid in pids(session.leftovers())

    os.killpg(pid, signal.SIGKILL)
    wait_until(lambda: pid not in pids(session.leftovers()), timeout=10, message="the orphan to go")


def test_an_untagged_orphan_counts_only_when_born_during_the_session_in_this_checkout(
    groups: list[int], tmp_path: Path
) -> None:
    older = orphan(tmp_path, UNTAGGED, cwd=REPO_ROOT)  # like the Docker daemon ci-services.sh started
    groups.append(older)
    process = leaks.read_process(older)
    assert process is not None
    older_start = process.start_ticks
    wait_until(lambda: leaks.uptime_ticks() > older_start, timeout=5, message="the clock to tick")
    session = session_now()
    elsewhere = orphan(tmp_path, UNTAGGED, cwd=tmp_path)  # another checkout's, or anyone's
    groups.append(elsewhere)
    born_here = orphan(tmp_path, UNTAGGED, cwd=REPO_ROOT)  # a helper started with a clean environment
    groups.append(born_here)

    found = pids(session.leftovers())
    assert born_here in found
    assert older not in found and elsewhere not in found


def test_another_sessions_helpers_are_not_ours(groups: list[int], tmp_path: Path) -> None:
    other_env = {**os.environ, leaks.TAG_ENV: "another-run"}
    pid = orphan(tmp_path, other_env, cwd=tmp_path)
    groups.append(pid)
    assert pid not in pids(session_now().leftovers())
