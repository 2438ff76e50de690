"""image/entrypoint.sh run directly on this host (no Docker): supervision, signals, flags, warm-up.

The webui is tests/fakes/fake_webui.py (WEBUI_CMD), the checkpoint an absolute path, the base image's
setup a small script with the real one's shape (BASE_ENTRYPOINT; none unless a test gives one). Each
supervisor leads its own session, so "no process left" is checked over the whole session. Needs bash
and socat.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.model_image.webui_flags import refused_flags
from components.program.stack_config import PROBE_DEFAULTS
from tests.fakes.waiting import wait_until
from tests.image.conftest import bench
from tests.image.docker_env import missing_tools
from tests.image.standin import FAKE_WEBUI, STANDIN_WORKER
from tests.net import answers_ping, free_port, get_json
from tests.paths import REPO_ROOT

ENTRYPOINT = REPO_ROOT / "image" / "entrypoint.sh"

pytestmark = pytest.mark.skipif(
    bool(missing_tools(["bash", "socat"])),
    reason=f"needs {', '.join(missing_tools(['bash', 'socat']))} (scripts/ci-services.sh installs socat)",
)

# The base's setup in miniature: set -e, a child process per "install.py" (it appends to a log), then
# exec "$@" like /docker/entrypoint.sh. SETUP_FAIL=1 makes the install step fail.
BASE_SETUP = """#!/usr/bin/env bash
set -Eeuo pipefail
for ext in one two; do
  "$PYTHON" -c 'import sys, time; time.sleep(float(sys.argv[2])); open(sys.argv[1], "a").write("ran\\n")' \
    "$SETUP_LOG" "${SETUP_SECONDS:-0.05}"
  [ "${SETUP_FAIL:-0}" = 1 ] && { echo "install.py of $ext failed" >&2; exit 3; }
done
exec "$@"
"""


def session_processes(sid: int) -> list[str]:
    """`pid command` of every live (not zombie) process in session `sid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid and fields[0] != "Z":
                found.append(f"{stat.parent.name} {(stat.parent / 'cmdline').read_bytes()!r}")
    return found


def nothing_left(supervisor: Supervisor) -> bool:
    """No live process in the exited supervisor's session (one still exiting gets a moment to finish)."""
    deadline = time.monotonic() + 1.0
    while session_processes(supervisor.process.pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


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
            "BASE_ENTRYPOINT": "",
            "SALAD_PYTHON": sys.executable,
            "PYTHON": sys.executable,
            "FAKE_WEBUI_QUIET": "1",
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
        # The supervisor leads its own session; its children lead their own process groups in it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(supervisor.process.pid, signal.SIGKILL)
        for line in session_processes(supervisor.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(line.split()[0]), signal.SIGKILL)
        supervisor.process.wait(timeout=10)


def _base_setup(tmp_path: Path) -> Path:
    script = tmp_path / "base-entrypoint.sh"
    script.write_text(BASE_SETUP)
    script.chmod(0o755)
    return script


def test_serves_through_the_ipv6_bridge_with_api_ckpt_and_extra_flags(supervisors: Any) -> None:
    supervisor = supervisors(CLI_ARGS="--no-hashing", WEBUI_EXTRA_ARGS="--medvram --skip-version-check")
    wait_until(supervisor.pings, timeout=15, interval=0.05, message="ping through socat")
    argv = supervisor.get("/fake/argv")
    assert argv[1:] == [
        "--listen", "--port", str(supervisor.webui_port), "--api", "--no-download-sd-model", "--xformers",
        "--ckpt", str(supervisor.checkpoint), "--no-hashing", "--medvram", "--skip-version-check",
    ]  # fmt: skip
    assert supervisor.get("/sdapi/v1/options")["sd_model_checkpoint"] == "tiny.safetensors"


def test_xformers_can_be_turned_off(supervisors: Any) -> None:
    supervisor = supervisors(SALAD_SD_XFORMERS="0")
    wait_until(supervisor.pings, timeout=15, interval=0.05, message="ping through socat")
    argv = supervisor.get("/fake/argv")
    assert "--xformers" not in argv
    assert "--no-download-sd-model" in argv


@pytest.mark.parametrize(
    "cli_args", ["--port 7860", "--medvram --port=7860", "--nowebui", "--server-name ::", "--api-auth a:b"]
)
def test_flags_that_break_the_bridge_or_probes_are_refused(supervisors: Any, cli_args: str) -> None:
    code, out = supervisors(CLI_ARGS=cli_args).finish()
    flag = next(a for a in cli_args.split() if a.split("=")[0] != "--medvram").split("=")[0]
    assert code == 2, out
    assert f"refusing {flag} in CLI_ARGS/WEBUI_EXTRA_ARGS" in out
    assert "starting webui" not in out


@pytest.mark.parametrize(
    ("cli_args", "flag", "expands_to"),
    [
        ("--por 7860", "--por", "--port"),
        ("--medvram --nowe", "--nowe", "--nowebui"),
        ("--server-n=::", "--server-n", "--server-name"),
        ("--subp /sd", "--subp", "--subpath"),
        ("--tls-k key.pem", "--tls-k", "--tls-keyfile"),
        ("--api-a a:b", "--api-a", "--api-auth"),
        ("--ui-debug", "--ui-debug", "--ui-debug-mode"),
    ],
)
def test_prefixes_of_refused_flags_are_refused(
    supervisors: Any, cli_args: str, flag: str, expands_to: str
) -> None:
    """A1111's argparse takes a unique prefix for the whole flag: `--por 7860` is `--port 7860`."""
    code, out = supervisors(CLI_ARGS=cli_args).finish()
    assert code == 2, out
    assert f"refusing {flag} in CLI_ARGS/WEBUI_EXTRA_ARGS: a prefix of {expands_to}" in out
    assert "starting webui" not in out


def test_a1111_flags_that_prefix_a_refused_flag_pass(supervisors: Any) -> None:
    """`--api` is a prefix of the refused `--api-auth`, but an A1111 flag of its own."""
    supervisor = supervisors(CLI_ARGS="--api --api-log", WEBUI_EXTRA_ARGS="--portable")
    wait_until(supervisor.pings, timeout=15, interval=0.05, message="ping through socat")
    assert supervisor.get("/fake/argv")[-3:] == ["--api", "--api-log", "--portable"]


def test_every_flag_the_config_refuses_is_refused_by_the_entrypoint(supervisors: Any) -> None:
    for flag in refused_flags():
        code, out = supervisors(WEBUI_EXTRA_ARGS=f"{flag}=x").finish()
        assert code == 2, out
        assert f"refusing {flag} in CLI_ARGS/WEBUI_EXTRA_ARGS" in out


def test_the_bridge_opens_only_once_a_txt2img_works(supervisors: Any) -> None:
    """The default startup probe, through $PORT, fails while the model loads and succeeds once it can
    generate; at that moment a txt2img on the webui's own port answers at once."""
    load_seconds = 4.0
    supervisor = supervisors(FAKE_WEBUI_LOAD_SECONDS=str(load_seconds))
    probe_path = PROBE_DEFAULTS["startupProbe"]["path"]
    webui_up = f"http://127.0.0.1:{supervisor.webui_port}/internal/ping"
    wait_until(lambda: answers_ping(webui_up.rsplit("/internal", 1)[0], 2), timeout=15, interval=0.05)
    began = time.monotonic()
    failures = 0

    def probe_passes() -> bool:
        nonlocal failures
        try:
            get_json(supervisor.url + probe_path, timeout=2)
            return True
        except OSError:
            failures += 1
            return False

    wait_until(probe_passes, timeout=30, interval=0.1, message=f"startup probe {probe_path} through $PORT")
    waited = time.monotonic() - began
    assert failures > 0, "the probe passed while the model was still loading"
    assert waited > load_seconds - 1.5, f"the probe passed after {waited:.1f} s of a {load_seconds} s load"
    request = urllib.request.Request(
        f"http://127.0.0.1:{supervisor.webui_port}/sdapi/v1/txt2img",
        data=json.dumps({"steps": 1, "width": 8, "height": 8}).encode(),
        headers={"Content-Type": "application/json"},
    )
    quick = time.monotonic()
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read())["images"]
    # What matters: the request did not wait for a model load (a loaded machine may still be slow).
    assert time.monotonic() - quick < load_seconds / 2
    bench("startup probe through the bridge, 4 s fake model load", f"passed after {waited:.1f} s")


def test_exits_non_zero_when_the_webui_is_killed(supervisors: Any) -> None:
    supervisor = supervisors()
    wait_until(supervisor.pings, timeout=15, interval=0.05, message="ping through socat")
    os.kill(supervisor.child("fake_webui.py"), signal.SIGKILL)
    code, out = supervisor.finish()
    assert code == 137, out
    assert "webui exited with status 137" in out


def test_exits_non_zero_when_the_webui_dies_during_the_warm_up(supervisors: Any) -> None:
    supervisor = supervisors(FAKE_WEBUI_LOAD_SECONDS="30")
    wait_until(
        lambda: len(supervisor.children()) == 2, timeout=10, interval=0.05, message="webui and warm-up"
    )
    os.kill(supervisor.child("fake_webui.py"), signal.SIGKILL)
    code, out = supervisor.finish()
    assert code == 137, out
    assert "webui exited with status 137 before the webui could generate" in out
    assert "starting bridge" not in out


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


def test_the_base_setup_runs_first_as_a_child(supervisors: Any, tmp_path: Path) -> None:
    setup_log = tmp_path / "setup.log"
    supervisor = supervisors(BASE_ENTRYPOINT=str(_base_setup(tmp_path)), SETUP_LOG=str(setup_log))
    wait_until(supervisor.pings, timeout=15, interval=0.05, message="ping through socat")
    assert setup_log.read_text() == "ran\nran\n"
    supervisor.process.send_signal(signal.SIGTERM)
    code, out = supervisor.finish()
    assert code == 143
    assert out.index("running the base image's setup") < out.index("starting webui")


# A setup that leaves a daemon behind, as a startup.sh with `cmd &` would: it says "ready", then on
# SIGTERM says "TERM" and exits, or (LEFTOVER_IGNORES_TERM=1) ignores SIGTERM.
LEAVING_SETUP = """#!/usr/bin/env bash
set -Eeuo pipefail
"$PYTHON" -c '
import os, signal, sys, time
def on_term(*_):
    open(sys.argv[1], "a").write("TERM\\n")
    sys.exit(0)
ignore = os.environ.get("LEFTOVER_IGNORES_TERM") == "1"
signal.signal(signal.SIGTERM, signal.SIG_IGN if ignore else on_term)
open(sys.argv[1], "a").write("ready\\n")
time.sleep(60)
' "$LEFTOVER_LOG" &
while [ ! -s "$LEFTOVER_LOG" ]; do sleep 0.01; done
exec "$@"
"""


@pytest.mark.parametrize("ignores_term", [False, True])
def test_processes_left_by_the_base_setup_get_sigterm_then_sigkill(
    supervisors: Any, tmp_path: Path, ignores_term: bool
) -> None:
    setup = tmp_path / "leaving-setup"
    setup.write_text(LEAVING_SETUP)
    setup.chmod(0o755)
    leftover_log = tmp_path / "leftover.log"
    supervisor = supervisors(
        BASE_ENTRYPOINT=str(setup),
        LEFTOVER_LOG=str(leftover_log),
        LEFTOVER_IGNORES_TERM="1" if ignores_term else "0",
        STOP_GRACE_SECONDS="1",
    )
    wait_until(supervisor.pings, timeout=20, interval=0.05, message="ping through socat")
    # SIGTERM first: a daemon that handles it shuts down cleanly; one that ignores it is killed later.
    assert leftover_log.read_text() == ("ready\n" if ignores_term else "ready\nTERM\n")
    supervisor.process.send_signal(signal.SIGTERM)
    code, out = supervisor.finish()
    assert code == 143, out
    assert "the base image's setup left processes running; stopping them" in out
    assert ("sending SIGKILL" in out) == ignores_term
    assert out.index("stopping them") < out.index("starting webui")
    assert nothing_left(supervisor), session_processes(supervisor.process.pid)


def test_a_failing_base_setup_stops_before_the_webui(supervisors: Any, tmp_path: Path) -> None:
    code, out = supervisors(
        BASE_ENTRYPOINT=str(_base_setup(tmp_path)), SETUP_LOG=str(tmp_path / "log"), SETUP_FAIL="1"
    ).finish()
    assert code == 3, out
    assert "install.py of one failed" in out
    assert "exited with status 3" in out
    assert "starting webui" not in out


def test_sigterm_stops_everything_promptly(supervisors: Any) -> None:
    supervisor = supervisors()
    wait_until(supervisor.pings, timeout=15, interval=0.05, message="ping through socat")
    began = time.monotonic()
    supervisor.process.send_signal(signal.SIGTERM)
    code, out = supervisor.finish()
    assert code == 143, out
    assert time.monotonic() - began < 3
    assert nothing_left(supervisor), session_processes(supervisor.process.pid)


def test_a_webui_ignoring_sigterm_is_killed_after_the_grace_period(supervisors: Any, tmp_path: Path) -> None:
    ignoring = tmp_path / "ignoring-sigterm"
    stubborn = tmp_path / "stubborn.py"
    stubborn.write_text(
        "import pathlib, signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "pathlib.Path(sys.argv[1]).touch()\n"
        "time.sleep(60)\n"
    )
    supervisor = supervisors(webui_cmd=f"{sys.executable} {stubborn} {ignoring}", STOP_GRACE_SECONDS="1")
    wait_until(
        lambda: ignoring.exists() and len(supervisor.children()) == 2,
        timeout=10,
        interval=0.05,
        message="the webui ignoring SIGTERM, and the warm-up",
    )
    began = time.monotonic()
    supervisor.process.send_signal(signal.SIGTERM)
    code, out = supervisor.finish()
    assert code == 143, out
    assert 0.9 < time.monotonic() - began < 5
    assert "sending SIGKILL" in out
    assert nothing_left(supervisor), session_processes(supervisor.process.pid)


def test_a_missing_checkpoint_stops_before_starting_anything(supervisors: Any) -> None:
    code, out = supervisors(SD_CHECKPOINT="/nonexistent/x.safetensors").finish()
    assert code == 1
    assert "checkpoint /nonexistent/x.safetensors does not exist" in out


# ---------------------------------------------------------------- the job-queue worker (third child)


def test_the_queue_worker_runs_as_a_third_child_in_queue_mode(supervisors: Any, tmp_path: Path) -> None:
    worker_log = tmp_path / "worker.log"
    supervisor = supervisors(
        SALAD_SD_QUEUE_WORKER="1", QUEUE_WORKER_CMD=str(STANDIN_WORKER), WORKER_LOG=str(worker_log)
    )
    wait_until(worker_log.exists, timeout=15, interval=0.05, message="the stand-in worker's job")
    assert worker_log.read_text() == "job done: 1 image(s)\n"
    assert supervisor.pings()
    os.kill(supervisor.child("salad-http-job-queue-worker"), signal.SIGKILL)
    code, out = supervisor.finish()
    assert code == 137, out
    assert "queue worker exited with status 137" in out
    assert nothing_left(supervisor), session_processes(supervisor.process.pid)


def test_no_queue_worker_without_queue_mode(supervisors: Any, tmp_path: Path) -> None:
    worker_log = tmp_path / "worker.log"
    supervisor = supervisors(QUEUE_WORKER_CMD=str(STANDIN_WORKER), WORKER_LOG=str(worker_log))
    wait_until(supervisor.pings, timeout=15, interval=0.05, message="ping through socat")
    assert len(supervisor.children()) == 2  # webui and bridge
    assert not worker_log.exists()


def test_queue_mode_without_a_worker_in_the_image_fails_at_once(supervisors: Any, tmp_path: Path) -> None:
    code, out = supervisors(SALAD_SD_QUEUE_WORKER="1", QUEUE_WORKER_CMD=str(tmp_path / "absent")).finish()
    assert code == 1
    assert "the image has no job-queue worker" in out


# ---------------------------------------------------------------- signals at random moments of start-up

RACE_RUNS = 60
# Far below the 10 s grace before SIGKILL: a run that reaches it had a child that SIGTERM did not stop.
EXIT_BOUND_SECONDS = 6.0


def test_a_signal_at_any_moment_of_start_up_stops_everything(supervisors: Any, tmp_path: Path) -> None:
    """SIGTERM/SIGINT at random moments from the supervisor's first instant to serving: during the base
    setup and its install.py children, the webui start, the warm-up, the bridge and worker start. Every
    run must exit 143/130 within the bound and leave no process of its session behind."""
    env = {
        "BASE_ENTRYPOINT": str(_base_setup(tmp_path)),
        "SETUP_LOG": str(tmp_path / "setup.log"),
        "SETUP_SECONDS": "0.15",
        "FAKE_WEBUI_LOAD_SECONDS": "0.3",
        "SALAD_SD_QUEUE_WORKER": "1",
        "QUEUE_WORKER_CMD": str(STANDIN_WORKER),
        "WORKER_LOG": str(tmp_path / "worker.log"),
        "STOP_GRACE_SECONDS": "10",
    }
    # How long start-up takes here, to spread the signals over all of it.
    first = supervisors(**env)
    began = time.monotonic()
    wait_until(lambda: (tmp_path / "worker.log").exists(), timeout=20, interval=0.02, message="full start")
    startup = time.monotonic() - began
    first.process.send_signal(signal.SIGTERM)
    assert first.finish()[0] == 143

    rng = random.Random(12)
    slowest = (0.0, 0.0)
    for run in range(RACE_RUNS):
        delay = rng.uniform(0, startup * 1.2)
        sig = signal.SIGINT if run % 4 == 3 else signal.SIGTERM
        supervisor = supervisors(**env)
        time.sleep(delay)
        sent = time.monotonic()
        supervisor.process.send_signal(sig)
        code, out = supervisor.finish(timeout=EXIT_BOUND_SECONDS + 5)
        took = time.monotonic() - sent
        slowest = max(slowest, (took, delay))
        expected = 130 if sig == signal.SIGINT else 143
        # Before its first line ran, bash has no trap and dies of the signal; it had started nothing.
        assert code == expected or (delay < 0.05 and code == -sig), f"run {run}, {delay:.3f} s: {code}\n{out}"
        assert took < EXIT_BOUND_SECONDS, f"run {run}: exit took {took:.1f} s\n{out}"
        assert nothing_left(supervisor), (
            f"run {run}, {delay:.3f} s: {session_processes(supervisor.process.pid)}\n{out}"
        )
    bench(
        f"signal at {RACE_RUNS} random start-up moments (start-up {startup:.2f} s)",
        f"all exited 143/130, slowest {slowest[0]:.2f} s (signalled {slowest[1]:.2f} s in), nothing left",
    )
