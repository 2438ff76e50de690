"""Builds of image/Dockerfile that must fail, and the build with Salad's job-queue worker in it.

Each build starts from the session image's context (same models and extension), so the build cache
makes them cheap. Skips, saying why, without a Docker daemon or the stand-in base.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from components.model_image.extensions import ExtensionSpec, stage_extensions
from components.model_image.layer_sizes import describe, group_sizes, history
from components.model_image.queue_worker import QueueWorkerSpec
from components.model_image.resource import ModelImageArgs, build_args, check_build_context
from tests.fakes.waiting import wait_until
from tests.image.conftest import (
    CHECKPOINT_BYTES,
    BuiltImage,
    FileServer,
    bench,
    copy_context,
    git_repository,
    install_py,
)
from tests.image.docker_env import Docker
from tests.image.standin import STANDIN_WORKER, ensure_rootfs


def context_like(built: BuiltImage, destination: Path, **changes: object) -> tuple[Path, ModelImageArgs]:
    """A copy of the session image's build context, with the same staged models and extensions."""
    context = copy_context(destination)
    shutil.copytree(built.context / "models", context / "models")
    shutil.copytree(built.context / "extensions", context / "extensions")
    args = replace(built.args, context_dir=str(context), **changes)  # type: ignore[arg-type]
    return context, args


@pytest.fixture
def tags(docker: Docker) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for tag in made:
        docker.run("rmi", "-f", tag, check=False)


def new_tag(tags: list[str]) -> str:
    tags.append(f"salad-sd-test/build-{uuid.uuid4().hex[:12]}:t")
    return tags[-1]


def test_a_base_that_is_not_the_a1111_base_is_refused_early(
    docker: Docker, built_image: BuiltImage, tmp_path: Path, tags: list[str]
) -> None:
    context, args = context_like(built_image, tmp_path / "image", base_image=ensure_rootfs(docker))
    result = docker.build(context, new_tag(tags), build_args(args), check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "base image check failed: this is not the AUTOMATIC1111 base" in output
    assert "no /docker/entrypoint.sh" in output
    assert "no webui.py in the working directory" in output
    assert "no python on PATH" in output  # the plain rootfs has python3 only
    assert "COPY models/checkpoint" not in output.split("base image check failed")[0][-2000:]


def test_an_extension_that_needs_the_network_at_start_fails_the_build(
    docker: Docker,
    built_image: BuiltImage,
    file_server: FileServer,
    tmp_path: Path,
    tags: list[str],
) -> None:
    """Its install.py "checks for updates" at every run and swallows the error: the offline run's
    tripwire still sees the request, names the extension and fails the build."""
    repo = tmp_path / "git" / "sd-webui-phones-home.git"
    check = (
        "import urllib.request\n"
        "try:\n"
        f"    urllib.request.urlopen({file_server.url + '/wheels/'!r}, timeout=5).read()\n"
        "except OSError as error:\n"
        "    print('update check failed, never mind:', error)\n"
    )
    commit = git_repository(repo, {"install.py": install_py(check)})
    chatty = ExtensionSpec(url=f"file://{repo}", ref=commit, name="sd-webui-phones-home")
    context, args = context_like(
        built_image, tmp_path / "image", extensions=[*built_image.args.extensions, chatty]
    )
    stage_extensions(args.extensions, context, io.StringIO())
    check_build_context(args)
    result = docker.build(context, new_tag(tags), build_args(args), check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "with the network off, these install.py scripts failed or tried the network" in output
    assert "sd-webui-phones-home (exit 0; network requests: GET " in output
    assert "sd-webui-probe (" not in output.split("with the network off")[-1]


def _worker_archive(file_server: FileServer) -> tuple[str, str]:
    """The stand-in worker packed like Salad's release asset; returns (url, sha256)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(STANDIN_WORKER, arcname="salad-http-job-queue-worker")
    data = buffer.getvalue()
    name = f"salad-http-job-queue-worker-{uuid.uuid4().hex[:8]}_x86_64.tar.gz"
    (file_server.root / name).write_bytes(data)
    return f"{file_server.url}/{name}", hashlib.sha256(data).hexdigest()


def test_a_worker_download_with_another_sha256_fails_the_build(
    docker: Docker, built_image: BuiltImage, file_server: FileServer, tmp_path: Path, tags: list[str]
) -> None:
    url, _ = _worker_archive(file_server)
    worker = QueueWorkerSpec(url=url, sha256="0" * 64)
    context, args = context_like(built_image, tmp_path / "image", queue_worker=worker)
    result = docker.build(context, new_tag(tags), build_args(args), check=False)
    assert result.returncode != 0
    assert f"queue worker: {url} has sha256" in result.stdout + result.stderr
    assert "but salad-sd:image.queueWorker.sha256 is " + "0" * 64 in result.stdout + result.stderr


@pytest.fixture(scope="module")
def worker_image(
    docker: Docker,
    built_image: BuiltImage,
    file_server: FileServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    url, sha256 = _worker_archive(file_server)
    worker = QueueWorkerSpec(url=url, sha256=sha256)
    context, args = context_like(
        built_image, tmp_path_factory.mktemp("worker") / "image", queue_worker=worker
    )
    tag = f"salad-sd-test/worker-{uuid.uuid4().hex[:12]}:t"
    docker.build(context, tag, build_args(args))
    yield tag
    docker.run("rmi", "-f", tag, check=False)


# The supervisor's child running the worker (no procps in the stand-in: /proc it is).
KILL_WORKER = (
    "for p in $(cat /proc/1/task/1/children); do "
    "grep -q job-queue-worker /proc/$p/cmdline && kill -KILL $p; done"
)


def _start(docker: Docker, image: str, *env: str) -> str:
    name = f"salad-sd-test-{uuid.uuid4().hex[:10]}"
    flags = [item for pair in (("-e", e) for e in env) for item in pair]
    docker.run("run", "-d", "--name", name, "--network", "none", *flags, image)
    return name


def _logs(docker: Docker, name: str) -> str:
    result = docker.run("logs", name, check=False)
    return result.stdout + result.stderr


def test_in_queue_mode_the_worker_is_a_third_supervised_child(docker: Docker, worker_image: str) -> None:
    name = _start(docker, worker_image, "SALAD_SD_QUEUE_WORKER=1")
    try:
        wait_until(lambda: "job done: 1 image(s)" in _logs(docker, name), timeout=30, interval=0.2,
                   message="the stand-in worker's job through the webui")  # fmt: skip
        logs = _logs(docker, name)
        assert logs.index("starting bridge") < logs.index("starting the job-queue worker")
        # The worker dies: the container stops, non-zero, naming it.
        docker.run("exec", name, "bash", "-c", KILL_WORKER, check=False)
        wait_until(lambda: docker.inspect(name, "{{.State.Status}}") == "exited", timeout=20, interval=0.1)
        assert docker.inspect(name, "{{.State.ExitCode}}") == "137"
        assert "queue worker exited with status 137" in _logs(docker, name)
    finally:
        docker.run("rm", "-f", name, check=False)


def test_without_queue_mode_the_worker_stays_off(docker: Docker, worker_image: str) -> None:
    name = _start(docker, worker_image)
    try:
        wait_until(lambda: "starting bridge" in _logs(docker, name), timeout=30, interval=0.2)
        children = docker.run("exec", name, "cat", "/proc/1/task/1/children").stdout.split()
        assert len(children) == 2  # webui and bridge
        assert "job-queue worker" not in _logs(docker, name)
        assert docker.run("exec", name, "test", "-x", "/usr/local/bin/salad-http-job-queue-worker",
                          check=False).returncode == 0  # fmt: skip
    finally:
        docker.run("rm", "-f", name, check=False)


def test_layer_groups_add_up_to_the_image(docker: Docker, built_image: BuiltImage) -> None:
    sizes = group_sizes(history(built_image.tag, docker.client, docker.env))
    total = int(docker.inspect(built_image.tag, "{{.Size}}"))
    assert sum(sizes.values()) == total
    assert sizes["models"] >= CHECKPOINT_BYTES + 64 * 1024
    assert 0 < sizes["extensions"] < 64 * 1024  # the probe extension and its small package
    assert 0 < sizes["ours"] < 256 * 1024
    assert sizes["hf-cache"] < 16 * 1024  # WARM_HF_CACHE=0: its script only
    assert sizes["worker"] < 16 * 1024  # no queueWorker: its install script only
    assert sizes["base"] == int(docker.inspect(built_image.args.base_image, "{{.Size}}"))
    bench("image by layer group", " ".join(describe(sizes).split()))


def test_the_hf_cache_is_warmed_at_build_and_loads_offline_after_the_base_setup(
    docker: Docker, built_image: BuiltImage, tmp_path: Path, tags: list[str]
) -> None:
    """With WARM_HF_CACHE=1 (the stand-in's stub transformers plays the hub): the build proves the offline
    load, and in a container without network, after the base relinked /root/.cache, it still loads."""
    context, args = context_like(built_image, tmp_path / "image", warm_hf_cache=True)
    tag = new_tag(tags)
    docker.build(context, tag, build_args(args))
    # The stub logs every load in HF_HOME: the build downloaded, then loaded offline (the build log may
    # come from the cache, the image cannot).
    calls = docker.run("run", "--rm", "--entrypoint", "cat", tag, "/data/.cache/huggingface/calls.txt").stdout
    repo = "openai/clip-vit-large-patch14"
    assert calls.splitlines() == [
        f"tokenizer {repo}",
        f"config {repo}",
        f"offline tokenizer {repo}",
        f"offline config {repo}",
    ]
    name = _start(docker, tag)
    try:
        wait_until(lambda: "starting bridge" in _logs(docker, name), timeout=30, interval=0.2)
        load = (
            "import os; os.environ['HF_HUB_OFFLINE'] = '1'\n"
            "from transformers import CLIPTextConfig, CLIPTokenizer\n"
            "CLIPTokenizer.from_pretrained('openai/clip-vit-large-patch14')\n"
            "CLIPTextConfig.from_pretrained('openai/clip-vit-large-patch14')\n"
            "print(os.environ['HF_HOME'], os.path.realpath('/root/.cache'))\n"
        )
        result = docker.run("exec", name, "python", "-c", load, check=False)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["/data/.cache/huggingface", "/data/.cache"]
    finally:
        docker.run("rm", "-f", name, check=False)
