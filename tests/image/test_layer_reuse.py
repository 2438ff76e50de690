"""Layer reuse, measured: push, change only the entrypoint, rebuild and push again, then rebuild unchanged.

Pushes go to a registry started for this module (fresh storage, loopback port), so "bytes pushed" is the
growth of its blob store: exactly what was uploaded. The figures appear in the "image bench" section of
pytest's summary. Skips, saying why, without a Docker daemon, the stand-in base or `docker-registry`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from components.model_image.models import ensure_layout
from components.model_image.resource import build_args, check_build_context
from tests.fakes.waiting import wait_until
from tests.image.conftest import BuiltImage, bench, copy_context
from tests.image.docker_env import Docker
from tests.net import free_port

REPOSITORY = "salad-sd-test/layers"
RUN = uuid.uuid4().hex[:8]  # local tags of this run only: another checkout may test at the same time
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


@dataclass(frozen=True)
class Registry:
    address: str
    storage: Path

    def stored_bytes(self) -> int:
        blobs = self.storage / "docker" / "registry" / "v2" / "blobs"
        return sum(p.stat().st_size for p in blobs.rglob("data")) if blobs.exists() else 0

    def layers(self, tag: str) -> list[tuple[str, int]]:
        request = urllib.request.Request(
            f"http://{self.address}/v2/{REPOSITORY}/manifests/{tag}", headers={"Accept": MANIFEST_V2}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            manifest = json.loads(response.read())
        return [(layer["digest"], layer["size"]) for layer in manifest["layers"]]


@dataclass(frozen=True)
class Push:
    uploaded_bytes: int
    layers_pushed: int
    layers_existing: int
    digest: str
    seconds: float

    def describe(self) -> str:
        return (
            f"{self.uploaded_bytes:,} bytes uploaded, {self.layers_pushed} layer(s) pushed, "
            f"{self.layers_existing} already there, {self.seconds:.1f} s, {self.digest}"
        )


def _registry_answers(address: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.skip("docker-registry is not installed (scripts/ci-services.sh installs it)")
    root = tmp_path_factory.mktemp("registry")
    # 127.0.0.0/8 is an insecure (plain HTTP) registry for dockerd by default
    address = f"127.0.0.1:{free_port()}"
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog: {level: warn}\n"
        f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}}}\nhttp: {{addr: {address}}}\n"
    )
    process = subprocess.Popen(
        [binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_until(lambda: _registry_answers(address), timeout=20, interval=0.05, message="registry start")
        yield Registry(address=address, storage=root / "data")
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def local_tags(docker: Docker, registry: Registry) -> Iterator[None]:
    """Removes this run's local tags afterwards (the registry's storage goes with its temporary dir)."""
    yield
    for tag in "abc":
        docker.run("rmi", f"salad-sd-test/layers:{tag}-{RUN}", check=False)
        docker.run("rmi", f"{registry.address}/{REPOSITORY}:{tag}", check=False)


def push(docker: Docker, registry: Registry, image: str, tag: str) -> Push:
    target = f"{registry.address}/{REPOSITORY}:{tag}"
    docker.run("tag", image, target)
    before = registry.stored_bytes()
    started = time.monotonic()
    output = docker.run("push", target, timeout=300).stdout
    seconds = time.monotonic() - started
    digest = re.search(r"digest: (sha256:[0-9a-f]{64})", output)
    assert digest, output
    return Push(
        uploaded_bytes=registry.stored_bytes() - before,
        layers_pushed=len(re.findall(r": Pushed$", output, re.MULTILINE)),
        layers_existing=len(re.findall(r": Layer already exists$", output, re.MULTILINE)),
        digest=digest.group(1),
        seconds=seconds,
    )


@pytest.mark.usefixtures("local_tags")
def test_entrypoint_change_does_not_reupload_models(
    docker: Docker, registry: Registry, built_image: BuiltImage, tmp_path: Path
) -> None:
    context = copy_context(tmp_path / "image")
    args = replace(built_image.args, context_dir=str(context))
    ensure_layout(context)
    for model in args.models:
        shutil.copy2(model.staged_path(built_image.context), model.staged_path(context))
    shutil.copytree(built_image.context / "extensions", context / "extensions", dirs_exist_ok=True)
    check_build_context(args)

    started = time.monotonic()
    docker.build(context, f"salad-sd-test/layers:a-{RUN}", build_args(args))
    bench("build A", f"{time.monotonic() - started:.1f} s")
    first = push(docker, registry, f"salad-sd-test/layers:a-{RUN}", "a")
    bench("push A (everything new)", first.describe())

    with (context / "entrypoint.sh").open("a") as f:
        f.write(f"# changed by {__name__} at {time.time()}\n")
    started = time.monotonic()
    docker.build(context, f"salad-sd-test/layers:b-{RUN}", build_args(args))
    bench("build B (entrypoint changed)", f"{time.monotonic() - started:.1f} s")
    second = push(docker, registry, f"salad-sd-test/layers:b-{RUN}", "b")
    bench("push B (entrypoint changed)", second.describe())

    layers_a, layers_b = registry.layers("a"), registry.layers("b")
    assert len(layers_a) == len(layers_b)
    assert layers_a[:-1] == layers_b[:-1], "a layer before the entrypoint changed"
    assert layers_a[-1] != layers_b[-1], "the entrypoint layer should be the last and the only new one"
    # The biggest layer after the base's is the checkpoint COPY.
    base_layers = json.loads(docker.inspect(args.base_image, "{{json .RootFS.Layers}}"))
    model_digest, model_size = max(layers_b[len(base_layers) :], key=lambda layer: layer[1])
    bench("checkpoint layer", f"{model_digest} ({model_size:,} bytes compressed), not uploaded again")
    assert model_size > 16 * 1024 * 1024
    assert second.layers_pushed == 1
    assert second.uploaded_bytes < 64 * 1024, (
        "more than the entrypoint layer, config and manifest were uploaded"
    )
    assert first.uploaded_bytes > 16 * 1024 * 1024

    started = time.monotonic()
    docker.build(context, f"salad-sd-test/layers:c-{RUN}", build_args(args))
    bench("build C (unchanged rebuild)", f"{time.monotonic() - started:.1f} s")
    image_b = docker.inspect(f"salad-sd-test/layers:b-{RUN}", "{{.Id}}")
    assert docker.inspect(f"salad-sd-test/layers:c-{RUN}", "{{.Id}}") == image_b
    third = push(docker, registry, f"salad-sd-test/layers:c-{RUN}", "c")
    bench("push C (unchanged rebuild)", third.describe())
    assert third.digest == second.digest
    assert third.layers_pushed == 0
