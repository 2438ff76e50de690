"""image/entrypoint.sh run directly on this host (no Docker): supervision, signals, flags.

The webui is tests/fakes/fake_webui.py (WEBUI_CMD), the checkpoint an absolute path. Needs bash and socat.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.waiting import wait_until
from tests.image.docker_env import missing_tools
from tests.net import answers_ping, free_port, get_json
from tests.paths import REPO_ROOT

ENTRYPOINT = REPO_ROOT / "image" / "entrypoint.sh"
FAKE_WEBUI = REPO_ROOT / "tests" / "fakes" / "fake_webui.py"

pytestmark = pytest.mark.skipif(
    bool(missing_tools(["bash", "socat"])),
    reason=f"needs {', '.join(missing_tools(['bash', 'socat']))} (scripts/ci-services.sh installs socat)",
)


class Supervisor:
    def __init__(self, tmp: Path, webui_cmd: str | None = None, **env: str) -> None:
        self.port, self.webui_port = free_port("::"), free_port("::")
        self.checkpoint = tmp / "models" / "tiny.safetensors"
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        self.checkpoint.write_bytes(b"not really weights")
        full_env = {
            **os.environ,
            "PORT": str(self.port),
            "WEBUI_PORT": str(self.webui_port),
            "WEBUI_CMD": webui_cmd or f"{sys.executable} -u {FAKE_WEBUI}",
            "SD_CHECKPOINT": str(self.checkpoint),
            "STOP_GRACE_SECONDS": "5",
            **env,
        }
        self.process = subprocess.Popen(
            ["bash", str(ENTRYPOINT)],
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def url(self) -> str:
        return f"http://[::1]:{self.port}"

    def get(self, path: str) -> Any:
        return get_json(self.url + path, timeout=5)

    def pings(self) -> bool:
        return answers_ping(self.url, timeout=5)

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def child(self, name: str) -> int:
        for pid in self.children():
            if name in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                return pid
        raise AssertionError(f"no child running {name}: {self.children()}")

    def finish(self, timeout: float = 10) -> tuple[int, str]:
        out, _ = self.process.communicate(timeout=timeout)
        return self.process.returncode, out.decode(errors="replace")


@pytest.fixture
def supervisors(tmp_path: Path) -> Iterator[Any]:
    started: list[Supervisor] = []

    def start(webui_cmd: str | None = None, **env: str) -> Supervisor:
        supervisor = Supervisor(tmp_path, webui_cmd, **env)
        started.append(supervisor)
        return supervisor

    yield start
    for supervisor in started:
        # The supervisor leads its own process group: killing the group also stops children it left.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(supervisor.process.pid, signal.SIGKILL)
        supervisor.process.wait(timeout=10)


def test_serves_through_the_ipv6_bridge_with_api_ckpt_and_extra_flags(supervisors: Any) -> None:
    supervisor = supervisors(CLI_ARGS="--no-hashing", WEBUI_EXTRA_ARGS="--xformers --skip-version-check")
    wait_until(supervisor.pings, timeout=15, interval=0.05, message="ping through socat")
    argv = supervisor.get("/fake/argv")
    assert argv[1:] == [
        "--listen", "--port", str(supervisor.webui_port), "--api", "--ckpt", str(supervisor.checkpoint),
        "--no-hashing", "--xformers", "--skip-version-check",
    ]  # fmt: skip
    assert supervisor.get("/sdapi/v1/options")["sd_model_checkpoint"] == "tiny.safetensors"


def test_exits_non_zero_when_the_webui_is_killed(supervisors: Any) -> None:
    supervisor = supervisors()
    wait_until(supervisor.pings, timeout=15, interval=0.05, message="ping through socat")
    os.kill(supervisor.child("fake_webui.py"), signal.SIGKILL)
    code, out = supervisor.finish()
    assert code == 137, out
    assert "webui exited with status 137" in out


def test_exits_non_zero_when_the_bridge_dies(supervisors: Any) -> None:
    supervisor = supervisors()
    wait_until(supervisor.pings, timeout=15, interval=0.05, message="ping through socat")
    webui = supervisor.child("fake_webui.py")
    os.kill(supervisor.child("socat"), signal.SIGTERM)
    code, out = supervisor.finish()
    assert code != 0, out
    assert "bridge (socat) exited" in out
    assert not Path(f"/proc/{webui}").exists() or "Z" in Path(f"/proc/{webui}/stat").read_text().split()[2]


def test_a_webui_that_exits_cleanly_still_fails_the_container(supervisors: Any) -> None:
    code, out = supervisors(webui_cmd="true").finish()
    assert code == 1, out
    assert "webui exited with status 0" in out


def test_sigterm_stops_both_promptly(supervisors: Any) -> None:
    supervisor = supervisors()
    wait_until(supervisor.pings, timeout=15, interval=0.05, message="ping through socat")
    children = supervisor.children()
    began = time.monotonic()
    supervisor.process.send_signal(signal.SIGTERM)
    code, out = supervisor.finish()
    assert code == 143, out
    assert time.monotonic() - began < 3
    assert all(not Path(f"/proc/{pid}").exists() for pid in children)


def test_a_webui_ignoring_sigterm_is_killed_after_the_grace_period(supervisors: Any, tmp_path: Path) -> None:
    ignoring = tmp_path / "ignoring-sigterm"
    stubborn = tmp_path / "stubborn.py"
    stubborn.write_text(
        "import pathlib, signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "pathlib.Path(sys.argv[1]).touch()\n"
        "time.sleep(60)\n"
    )
    supervisor = supervisors(
        webui_cmd=f"{sys.executable} {stubborn} {ignoring}", STOP_GRACE_SECONDS="1"
    )
    wait_until(
        lambda: ignoring.exists() and len(supervisor.children()) == 2,
        timeout=10,
        interval=0.05,
        message="both children, the webui ignoring SIGTERM",
    )
    began = time.monotonic()
    supervisor.process.send_signal(signal.SIGTERM)
    code, out = supervisor.finish()
    assert code == 143, out
    assert 0.9 < time.monotonic() - began < 5
    assert "sending SIGKILL" in out


def test_a_missing_checkpoint_stops_before_starting_anything(supervisors: Any) -> None:
    code, out = supervisors(SD_CHECKPOINT="/nonexistent/x.safetensors").finish()
    assert code == 1
    assert "checkpoint /nonexistent/x.safetensors does not exist" in out


def test_sigterm_during_startup_leaves_no_child_behind(supervisors: Any, tmp_path: Path) -> None:
    # A leaked child would keep the output pipe open for 60 s and time finish() out.
    stubborn = tmp_path / "stubborn.py"
    stubborn.write_text(
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)\n"
    )
    for _ in range(5):
        supervisor = supervisors(webui_cmd=f"{sys.executable} {stubborn}", STOP_GRACE_SECONDS="1")
        supervisor.process.send_signal(signal.SIGTERM)
        code, out = supervisor.finish(timeout=10)
        assert code in (143, -signal.SIGTERM), out
