"""Session fixtures for the real-image tests: a daemon, the stand-in base, a loopback file server, a
probe extension in a local git repository, and image/ built on the stand-in with both."""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import random
import shutil
import subprocess
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from components.model_image.extensions import ExtensionSpec, stage_extensions
from components.model_image.models import ModelSpec
from components.model_image.resource import ModelImageArgs, build_args, check_build_context
from tests.image.docker_env import Docker, find_docker
from tests.image.standin import ROOTFS_TAG, build_standin, rootfs_unavailable_reason
from tests.paths import REPO_ROOT

IMAGE_DIR = REPO_ROOT / "image"
CHECKPOINT_BYTES = 16 * 1024 * 1024
PROBE_PACKAGE = "salad_sd_probe"
PROBE_EXTENSION = "sd-webui-probe"
INSTALL_MARKER = "sd-webui-probe install.py ran"
CACHE_FETCH_MARKER = "sd-webui-probe fetching into ~/.cache"


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
    """image/ without its staged models and extensions (the tests stage their own)."""
    shutil.copytree(
        IMAGE_DIR, destination, ignore=shutil.ignore_patterns("models", "extensions", "README.md")
    )
    return destination


def make_wheel(directory: Path, name: str, version: str = "1.0") -> Path:
    """A minimal pure-Python wheel (module `name` with VERSION), valid RECORD included."""
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n",
        f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{name}-{version}.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: salad-sd-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{name}-{version}.dist-info/RECORD"] = (
        "\n".join([*record, f"{name}-{version}.dist-info/RECORD,,"]) + "\n"
    )
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    wheel.write_bytes(buffer.getvalue())
    return wheel


def git_repository(path: Path, files: dict[str, str]) -> str:
    """A git repository at `path` with `files` in one commit; returns the commit."""
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "PATH": "/usr/bin:/bin"}  # fmt: skip
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "probe"]):
        subprocess.run(["git", "-C", str(path), *args], env=env, check=True, capture_output=True)
    return subprocess.run(
        ["git", "-C", str(path), "rev-parse", "HEAD"], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


@dataclass(frozen=True)
class FileServer:
    """A loopback HTTP server over a directory (builds run with --network=host, so RUN steps reach it)."""

    root: Path
    url: str


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
def file_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FileServer]:
    root = tmp_path_factory.mktemp("served")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield FileServer(root=root, url=f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def install_py(body: str) -> str:
    """An extension's install.py: says it ran (the container log shows every start's run), then `body`."""
    return f"import launch\nprint({INSTALL_MARKER!r}, flush=True)\n{body}"


@pytest.fixture(scope="session")
def probe_extension(file_server: FileServer, tmp_path_factory: pytest.TempPathFactory) -> ExtensionSpec:
    """A local git repository whose install.py pip-installs a small package from the loopback server
    when it is missing (the way real extensions use A1111's `launch` module) and downloads a file into
    ~/.cache when it is not there yet."""
    if shutil.which("git") is None:
        pytest.skip("git is needed to stage extensions (apt-get install git)")
    wheels = file_server.root / "wheels"
    wheels.mkdir(exist_ok=True)
    make_wheel(wheels, PROBE_PACKAGE)
    pip = f"install --no-index --find-links {file_server.url}/wheels/ {PROBE_PACKAGE}==1.0"
    (file_server.root / "probe-cache.bin").write_bytes(b"fetched once, at build\n")
    fetch_into_cache = (
        # Like installers that keep a download in ~/.cache: fetched when missing, reused when there. The
        # base deletes /root/.cache at every start, so this proves the build kept it where the start finds it.
        "import pathlib, urllib.request\n"
        f"cached = pathlib.Path.home() / '.cache' / {PROBE_EXTENSION!r} / 'probe-cache.bin'\n"
        "if not cached.is_file():\n"
        f"    print({CACHE_FETCH_MARKER!r}, flush=True)\n"
        f"    data = urllib.request.urlopen({file_server.url + '/probe-cache.bin'!r}, timeout=10).read()\n"
        "    cached.parent.mkdir(parents=True, exist_ok=True)\n"
        "    cached.write_bytes(data)\n"
    )
    repo = tmp_path_factory.mktemp("git") / f"{PROBE_EXTENSION}.git"
    commit = git_repository(
        repo,
        {
            "install.py": install_py(
                f"if not launch.is_installed({PROBE_PACKAGE!r}):\n"
                f"    launch.run_pip({pip!r}, {PROBE_PACKAGE!r})\n"
                f"{fetch_into_cache}"
                "import os, sys\n"
                "if os.environ.get('PROBE_INSTALL_FAIL'):\n"  # a failure at start, for the tests
                "    sys.exit(4)\n"
            ),
            "scripts/probe.py": "# an A1111 script would live here\n",
        },
    )
    return ExtensionSpec(url=f"file://{repo}", ref=commit, name=PROBE_EXTENSION)


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
    docker: Docker,
    standin_base: str,
    probe_extension: ExtensionSpec,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BuiltImage]:
    """image/Dockerfile built on the stand-in with a 16 MiB checkpoint, a LoRA and the probe extension
    (staged from its git repository), using the component's own build args and build-context checks."""
    context = copy_context(tmp_path_factory.mktemp("image-build") / "image")
    models = [
        stage(context, "checkpoint", "dummy-sd15.safetensors", CHECKPOINT_BYTES, seed=1),
        stage(context, "lora", "dummy-lora.safetensors", 64 * 1024, seed=2),
    ]
    stage_extensions([probe_extension], context, io.StringIO())
    args = ModelImageArgs(
        repository="salad-sd-test/model-image",
        models=models,
        extensions=[probe_extension],
        base_image=standin_base,
        context_dir=str(context),
        warm_hf_cache=False,
    )
    check_build_context(args)
    tag = f"salad-sd-test/model-image:session-{uuid.uuid4().hex[:12]}"  # never another run's image
    started = time.monotonic()
    docker.build(context, tag, build_args(args))
    timing("image/Dockerfile build on the stand-in (16 MiB checkpoint)", time.monotonic() - started)
    yield BuiltImage(tag=tag, context=context, args=args)
    docker.run("rmi", tag, check=False)
