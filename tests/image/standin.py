"""A local stand-in for saladtechnologies/a1111:ipv6-*, built without pulling anything.

1. A Debian bookworm rootfs (minbase + python3, pip, socat, and the jq and rsync the real entrypoint
   calls) from `debootstrap` (only the Debian mirror is
   needed), imported as `ROOTFS_TAG`, kept between runs: building it takes ~35 s.
2. `tests/image/standin/Dockerfile` on top: the real base's layout and a `/docker/entrypoint.sh` that
   behaves like the real one (config write, /data links, the `set -e` install.py loop at every start,
   `exec "$@"`), A1111's `launch` module for install.py scripts, and `tests/fakes/fake_webui.py` as
   `webui.py`. Rebuilt every session (a second).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.image.docker_env import Docker
from tests.paths import REPO_ROOT

STANDIN_DIR = Path(__file__).resolve().parent / "standin"
STANDIN_WORKER = STANDIN_DIR / "salad-http-job-queue-worker"  # executable; also baked by test_image_build
FAKE_WEBUI = REPO_ROOT / "tests" / "fakes" / "fake_webui.py"
ROOTFS_TAG = "salad-sd-test/debian-rootfs:bookworm-python3-pip-socat-jq-rsync-1"
STANDIN_REPOSITORY = "salad-sd-test/a1111-standin"
_STANDIN_FILES = ("Dockerfile", "entrypoint.sh", "config.py", "launch.py", "transformers/__init__.py")
MIRROR = os.environ.get("SALAD_SD_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# Trimmed after debootstrap: not needed to run python3 and socat.
_PRUNE = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/locale")


def rootfs_unavailable_reason() -> str | None:
    """Why the rootfs cannot be built here (None when it can, or is already there)."""
    if shutil.which("debootstrap") is None:
        return "debootstrap is not installed (scripts/ci-services.sh installs it)"
    if os.geteuid() != 0:
        return "debootstrap needs root"
    return None


def ensure_rootfs(docker: Docker) -> str:
    """The imported Debian rootfs image tag, building it on first use."""
    if docker.image_exists(ROOTFS_TAG):
        return ROOTFS_TAG
    with tempfile.TemporaryDirectory(prefix="salad-sd-rootfs-") as tmp:
        root = Path(tmp) / "rootfs"
        result = subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                "--include=python3,python3-pip,socat,jq,rsync",
                "bookworm",
                str(root),
                MIRROR,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            raise AssertionError(f"debootstrap from {MIRROR} failed:\n{result.stdout[-2000:]}{result.stderr}")
        for relative in _PRUNE:
            shutil.rmtree(root / relative, ignore_errors=True)
        tar = subprocess.run(["tar", "-C", str(root), "-c", "."], capture_output=True, check=True).stdout
        docker.run("import", "-", ROOTFS_TAG, stdin=tar, timeout=300)
    return ROOTFS_TAG


def standin_tag() -> str:
    """Tagged by content, so that two checkouts testing at once never build on each other's stand-in."""
    digest = hashlib.sha256()
    for path in [*(STANDIN_DIR / name for name in _STANDIN_FILES), FAKE_WEBUI]:
        digest.update(path.read_bytes())
    return f"{STANDIN_REPOSITORY}:{digest.hexdigest()[:16]}"


def build_standin(docker: Docker) -> str:
    """The stand-in base image tag (built on the cached rootfs)."""
    rootfs = ensure_rootfs(docker)
    tag = standin_tag()
    with tempfile.TemporaryDirectory(prefix="salad-sd-standin-") as tmp:
        context = Path(tmp)
        for name in _STANDIN_FILES:
            (context / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(STANDIN_DIR / name, context / name)
        shutil.copy2(FAKE_WEBUI, context / "webui.py")
        docker.build(context, tag, {"ROOTFS_IMAGE": rootfs})
    return tag
