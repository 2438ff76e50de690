"""The built image, run for real (host networking) on the stand-in base, checked through [::1]:$PORT.

Skips, saying why, without a Docker daemon or a way to build the stand-in base.
"""

from __future__ import annotations

import base64
import json
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
from tests.image.conftest import BuiltImage, bench
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
