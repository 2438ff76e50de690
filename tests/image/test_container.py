"""The built image, run for real (host networking) on the stand-in base, checked through [::1]:$PORT.

Skips, saying why, without a Docker daemon or a way to build the stand-in base.
"""

from __future__ import annotations

import base64
import json
import random
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from components.txt2img.png import inspect_png
from tests.fakes.waiting import wait_until
from tests.image.conftest import (
    CACHE_FETCH_MARKER,
    INSTALL_MARKER,
    PROBE_EXTENSION,
    PROBE_PACKAGE,
    BuiltImage,
    bench,
)
from tests.image.docker_env import Docker
from tests.net import answers_ping, free_port, get_json

CHECKPOINT_PATH = "/data/models/Stable-diffusion/dummy-sd15.safetensors"
LORA_PATH = "/data/models/Lora/dummy-lora.safetensors"
EXTRA_FLAGS = "--no-hashing --skip-version-check"


def _port_free(family: socket.AddressFamily, host: str, port: int) -> bool:
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def pick_ports() -> tuple[int, int]:
    """The image defaults (7860 public, 7859 webui) when free on this host, else two free ports."""
    if _port_free(socket.AF_INET6, "::", 7860) and _port_free(socket.AF_INET, "127.0.0.1", 7859):
        return 7860, 7859
    return free_port("::"), free_port("::")


class Container:
    def __init__(self, docker: Docker, image: str, env: dict[str, str]) -> None:
        self.docker = docker
        self.name = f"salad-sd-test-{uuid.uuid4().hex[:10]}"
        self.port, self.webui_port = pick_ports()
        flags = ["-e", f"PORT={self.port}", "-e", f"WEBUI_PORT={self.webui_port}"]
        for key, value in env.items():
            flags += ["-e", f"{key}={value}"]
        docker.run("run", "-d", "--name", self.name, "--network", "host", *flags, image)

    @property
    def url(self) -> str:
        return f"http://[::1]:{self.port}"

    def get(self, path: str) -> Any:
        return get_json(self.url + path, timeout=10)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def pings(self) -> bool:
        return answers_ping(self.url, timeout=10)

    def wait_ready(self) -> None:
        wait_until(self.pings, timeout=30, interval=0.1, message=f"ping on {self.url} ({self.logs()})")

    def state(self) -> tuple[str, int]:
        status, code = self.docker.inspect(self.name, "{{.State.Status}} {{.State.ExitCode}}").split()
        return status, int(code)

    def logs(self) -> str:
        result = self.docker.run("logs", self.name, check=False)
        return (result.stdout + result.stderr)[-2000:]

    def exec(self, *command: str) -> str:
        return self.docker.run("exec", self.name, *command).stdout

    def exec_killing(self, script: str) -> None:
        """Runs a kill script; its exec session may die with the container, so its status is moot."""
        self.docker.run("exec", self.name, "bash", "-c", script, check=False)

    def remove(self) -> None:
        self.docker.run("rm", "-f", self.name, check=False)


@pytest.fixture
def start(docker: Docker, built_image: BuiltImage) -> Iterator[Any]:
    started: list[Container] = []

    def run(**env: str) -> Container:
        container = Container(docker, built_image.tag, env)
        started.append(container)
        container.wait_ready()
        return container

    yield run
    for container in started:
        container.remove()


@pytest.fixture(scope="module")
def serving(docker: Docker, built_image: BuiltImage) -> Iterator[Container]:
    container = Container(docker, built_image.tag, {"CLI_ARGS": EXTRA_FLAGS})
    try:
        container.wait_ready()
        yield container
    finally:
        container.remove()


def test_ping_answers_through_the_ipv6_bridge(serving: Container) -> None:
    assert serving.get("/internal/ping") == {}
    assert serving.get("/internal/profile-startup") is not None


def test_txt2img_returns_a_decodable_png(serving: Container) -> None:
    answer = serving.post(
        "/sdapi/v1/txt2img", {"prompt": "a lighthouse", "steps": 1, "width": 64, "height": 48}
    )
    info = inspect_png(base64.b64decode(answer["images"][0]))
    assert (info.width, info.height) == (64, 48)


def test_models_sit_in_a1111_directories(serving: Container, built_image: BuiltImage) -> None:
    listing = serving.exec("ls", "-l", CHECKPOINT_PATH, LORA_PATH)
    assert "dummy-sd15.safetensors" in listing
    assert "dummy-lora.safetensors" in listing
    # A1111 reads models through ${ROOT}/models, which the base entrypoint links to /data/models.
    assert serving.exec("readlink", "/stable-diffusion-webui/models").strip() == "/data/models"
    want = {m.file: m.sha256 for m in built_image.args.models}
    sums = serving.exec("sha256sum", CHECKPOINT_PATH, LORA_PATH)
    got = {line.split()[1].rsplit("/", 1)[1]: line.split()[0] for line in sums.splitlines()}
    assert got == want
    labels = json.loads(serving.docker.inspect(built_image.tag, "{{json .Config.Labels}}"))
    assert (
        labels["io.github.salad-sd.models"] == "checkpoint/dummy-sd15.safetensors lora/dummy-lora.safetensors"
    )


def test_the_baked_checkpoint_is_selected(serving: Container) -> None:
    assert serving.get("/sdapi/v1/options")["sd_model_checkpoint"] == "dummy-sd15.safetensors"
    titles = [m["filename"] for m in serving.get("/sdapi/v1/sd-models")]
    assert CHECKPOINT_PATH in titles
    argv = serving.get("/fake/argv")
    assert argv[argv.index("--ckpt") + 1] == CHECKPOINT_PATH


def test_the_webui_gets_api_its_port_and_extra_flags(serving: Container) -> None:
    argv = serving.get("/fake/argv")
    assert argv[0] == "webui.py"
    assert "--api" in argv
    assert "--xformers" in argv
    assert "--no-download-sd-model" in argv
    assert argv[argv.index("--port") + 1] == str(serving.webui_port)
    assert argv[-2:] == EXTRA_FLAGS.split()


def _kill_webui(container: Container) -> None:
    # No procps in the stand-in: find the webui in /proc by its command line (not this shell's own).
    container.exec_killing(
        'for p in /proc/[0-9]*; do c=$(tr "\\0" " " <"$p/cmdline" 2>/dev/null) || continue; '
        'case $c in "python -u webui.py "*) kill -KILL "${p#/proc/}";; esac; done'
    )


def test_container_exits_non_zero_when_the_webui_dies(start: Any) -> None:
    container = start()
    _kill_webui(container)
    wait_until(lambda: container.state()[0] == "exited", timeout=15, interval=0.1, message="container exit")
    assert container.state()[1] != 0, container.logs()
    assert "webui exited with status 137" in container.logs()


def test_container_exits_non_zero_when_the_bridge_dies(start: Any) -> None:
    container = start()
    container.exec_killing(
        'for p in /proc/[0-9]*; do [ "$(cat "$p/comm")" = socat ] && kill "${p#/proc/}"; done'
    )
    wait_until(lambda: container.state()[0] == "exited", timeout=15, interval=0.1, message="container exit")
    assert container.state()[1] != 0
    assert "bridge (socat) exited" in container.logs()


def test_sigterm_stops_the_container_within_seconds(start: Any) -> None:
    container = start()
    began = time.monotonic()
    container.docker.run("stop", "--time", "30", container.name, timeout=60)
    elapsed = time.monotonic() - began
    status, code = container.state()
    assert (status, code) == ("exited", 143), container.logs()
    assert elapsed < 5, (
        f"docker stop took {elapsed:.1f} s (the grace period is 30 s: SIGTERM was not handled)"
    )
    bench("SIGTERM to container exit", f"{elapsed:.2f} s")


def test_a_missing_checkpoint_fails_the_start(docker: Docker, built_image: BuiltImage) -> None:
    name = f"salad-sd-test-{uuid.uuid4().hex[:10]}"
    result = docker.run(
        "run", "--name", name, "--network", "host", "-e", "SD_CHECKPOINT=absent.safetensors",
        built_image.tag, check=False, timeout=60,
    )  # fmt: skip
    docker.run("rm", "-f", name, check=False)
    assert result.returncode == 1
    assert "/data/models/Stable-diffusion/absent.safetensors does not exist" in result.stderr


def test_the_supervisor_is_pid_1_and_ran_the_base_setup(serving: Container) -> None:
    assert serving.exec("cat", "/proc/1/cmdline").split("\0")[:2] == ["bash", "/docker/salad/entrypoint.sh"]
    # The base's setup ran (as the supervisor's child): its links and its config write are there.
    assert (
        serving.exec("readlink", "/stable-diffusion-webui/extensions").strip()
        == "/data/config/auto/extensions"
    )
    config = json.loads(serving.exec("cat", "/data/config/auto/config.json"))
    assert config["outdir_txt2img_samples"] == "/output/txt2img"
    assert INSTALL_MARKER in serving.logs()


def test_the_extension_is_baked_at_its_commit_ready_to_run(
    serving: Container, built_image: BuiltImage
) -> None:
    (extension,) = built_image.args.extensions
    root = "/data/config/auto/extensions"
    # Only the listed extension: no empty sd-webui-controlnet folder, no .git, no pip cache.
    assert serving.exec("ls", "-A", root).split() == [PROBE_EXTENSION]
    staged = (built_image.context / "extensions" / PROBE_EXTENSION / "install.py").read_text()
    assert serving.exec("cat", f"{root}/{PROBE_EXTENSION}/install.py") == staged
    assert serving.exec("find", "/data", "-name", ".git").strip() == ""
    assert serving.exec("find", "/", "-xdev", "-path", "*/.cache/pip").strip() == ""
    # Its install.py pip-installed the package at build time.
    assert (
        serving.exec("python", "-c", f"import {PROBE_PACKAGE}; print({PROBE_PACKAGE}.VERSION)").strip()
        == "1.0"
    )
    labels = json.loads(serving.docker.inspect(built_image.tag, "{{json .Config.Labels}}"))
    assert labels["io.github.salad-sd.extensions"] == f"{PROBE_EXTENSION}@{extension.ref}"


_LOCAL_PROBE = (
    "import json, sys, urllib.request as u\n"
    "base = 'http://127.0.0.1:7860'\n"  # through the bridge (no ::1 without a network)
    "assert json.loads(u.urlopen(base + '/internal/ping', timeout=5).read()) == {}\n"
    "body = json.dumps({'steps': 1, 'width': 32, 'height': 32}).encode()\n"
    "r = u.Request(base + '/sdapi/v1/txt2img', data=body, headers={'Content-Type': 'application/json'})\n"
    "print(len(json.loads(u.urlopen(r, timeout=10).read())['images']))\n"
)


def test_without_network_it_reruns_install_py_and_serves(docker: Docker, built_image: BuiltImage) -> None:
    name = f"salad-sd-test-{uuid.uuid4().hex[:10]}"
    docker.run("run", "-d", "--name", name, "--network", "none", built_image.tag)
    try:

        def serves() -> bool:
            return docker.run("exec", name, "python", "-c", _LOCAL_PROBE, check=False).stdout.strip() == "1"

        wait_until(serves, timeout=30, interval=0.2, message="ping and txt2img with --network none")
        logs = docker.run("logs", name).stderr + docker.run("logs", name).stdout
        assert "Installing extension dependencies" in logs  # the base's loop ran at this start ...
        assert logs.count(INSTALL_MARKER) == 1  # ... and ran the extension's install.py ...
        assert f"Installing {PROBE_PACKAGE}" not in logs  # ... which had nothing left to install
        assert CACHE_FETCH_MARKER not in logs  # ... not even its download into ~/.cache, kept from the build
        assert docker.inspect(name, "{{.State.Status}}") == "running"
    finally:
        docker.run("rm", "-f", name, check=False)


def test_an_install_py_failing_at_start_stops_the_container_with_its_status(
    docker: Docker, built_image: BuiltImage
) -> None:
    """The base runs the install.py loop under `set -e` at every start: a failure ends its setup, and the
    supervisor stops there with that status instead of starting a webui without the extension."""
    name = f"salad-sd-test-{uuid.uuid4().hex[:10]}"
    result = docker.run(
        "run", "--name", name, "--network", "none", "-e", "PROBE_INSTALL_FAIL=1", built_image.tag,
        check=False, timeout=60,
    )  # fmt: skip
    docker.run("rm", "-f", name, check=False)
    assert result.returncode == 4, result.stderr
    assert "base setup (/docker/entrypoint.sh) exited with status 4; stopping the container" in result.stderr
    assert "starting webui" not in result.stderr


def test_cli_args_that_break_the_bridge_stop_the_container(docker: Docker, built_image: BuiltImage) -> None:
    name = f"salad-sd-test-{uuid.uuid4().hex[:10]}"
    result = docker.run(
        "run", "--name", name, "--network", "none", "-e", "CLI_ARGS=--port 7860", built_image.tag,
        check=False, timeout=60,
    )  # fmt: skip
    docker.run("rm", "-f", name, check=False)
    assert result.returncode == 2
    assert "refusing --port in CLI_ARGS/WEBUI_EXTRA_ARGS" in result.stderr
    assert "running the base image's setup" not in result.stderr


STOP_RUNS = 12


def test_docker_stop_at_random_moments_of_start_up(docker: Docker, built_image: BuiltImage) -> None:
    """PID 1 handles SIGTERM from its first line: `docker stop` at any moment of start-up (base setup,
    install.py, webui, warm-up, bridge) ends the container with 143 well before docker's SIGKILL."""
    rng = random.Random(7)
    slowest = 0.0
    for run in range(STOP_RUNS):
        name = f"salad-sd-test-{uuid.uuid4().hex[:10]}"
        docker.run("run", "-d", "--name", name, "--network", "none", built_image.tag)
        try:
            time.sleep(rng.uniform(0, 1.5))
            began = time.monotonic()
            docker.run("stop", "--time", "30", name, timeout=60)
            took = time.monotonic() - began
            slowest = max(slowest, took)
            code = int(docker.inspect(name, "{{.State.ExitCode}}"))
            assert (code, took < 5) == (143, True), f"run {run}: exit {code} after {took:.1f} s"
        finally:
            docker.run("rm", "-f", name, check=False)
    bench(f"docker stop at {STOP_RUNS} random start-up moments", f"all 143, slowest {slowest:.2f} s")
