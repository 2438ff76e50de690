"""Session fixtures for the real-image tests: a daemon, the stand-in base, and image/ built on it."""

from __future__ import annotations

import hashlib
import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.model_image.models import ModelSpec
from components.model_image.resource import ModelImageArgs, build_args, check_build_context
from tests.image.docker_env import Docker, find_docker
from tests.image.standin import ROOTFS_TAG, build_standin, rootfs_unavailable_reason
from tests.paths import REPO_ROOT

IMAGE_DIR = REPO_ROOT / "image"
CHECKPOINT_BYTES = 16 * 1024 * 1024


BENCH: list[str] = []


def bench(label: str, text: str) -> None:
    """A figure worth reading in the CI log: shown in the terminal summary (pytest captures prints)."""
    BENCH.append(f"{label}: {text}")


def timing(label: str, seconds: float) -> None:
    bench(label, f"{seconds:.1f} s")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if BENCH:
        terminalreporter.section("image bench")
        for line in BENCH:
            terminalreporter.write_line(line)


def copy_context(destination: Path) -> Path:
    """image/ without its staged models (the tests stage their own dummy ones)."""
    shutil.copytree(IMAGE_DIR, destination, ignore=shutil.ignore_patterns("models", "README.md"))
    return destination


def stage(context: Path, kind: str, name: str, size: int, seed: int) -> ModelSpec:
    """Writes a deterministic, incompressible dummy model file and returns its spec with sha256."""
    data = random.Random(seed).randbytes(size)
    spec = ModelSpec(file=name, kind=kind, sha256=hashlib.sha256(data).hexdigest())  # type: ignore[arg-type]
    path = spec.staged_path(context)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return spec


@dataclass(frozen=True)
class BuiltImage:
    tag: str
    context: Path
    args: ModelImageArgs


@pytest.fixture(scope="session")
def docker() -> Docker:
    found = find_docker()
    if isinstance(found, str):
        pytest.skip(found)
    return found


@pytest.fixture(scope="session")
def standin_base(docker: Docker) -> str:
    if not docker.image_exists(ROOTFS_TAG):
        reason = rootfs_unavailable_reason()
        if reason:
            pytest.skip(f"cannot build the stand-in base: {reason}")
    started = time.monotonic()
    tag = build_standin(docker)
    timing(
        "stand-in base (debootstrap rootfs when not cached, + fake webui layer)", time.monotonic() - started
    )
    return tag


@pytest.fixture(scope="session")
def built_image(
    docker: Docker, standin_base: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BuiltImage]:
    """image/Dockerfile built on the stand-in with a 16 MiB checkpoint and a LoRA, using the component's
    own build args and build-context checks."""
    context = copy_context(tmp_path_factory.mktemp("image-build") / "image")
    models = [
        stage(context, "checkpoint", "dummy-sd15.safetensors", CHECKPOINT_BYTES, seed=1),
        stage(context, "lora", "dummy-lora.safetensors", 64 * 1024, seed=2),
    ]
    args = ModelImageArgs(
        repository="salad-sd-test/model-image",
        models=models,
        base_image=standin_base,
        context_dir=str(context),
        warm_hf_cache=False,
    )
    check_build_context(args)
    tag = "salad-sd-test/model-image:session"
    started = time.monotonic()
    docker.build(context, tag, build_args(args))
    timing("image/Dockerfile build on the stand-in (16 MiB checkpoint)", time.monotonic() - started)
    yield BuiltImage(tag=tag, context=context, args=args)
