"""The image's build-step scripts run on this host: the base check, the job-queue worker install and the
extension installers (the Docker builds in test_image_build.py run them for real on the stand-in base)."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT

INSTALL_WORKER = REPO_ROOT / "image" / "install_queue_worker.py"
RUN_INSTALLERS = REPO_ROOT / "image" / "run_extension_installers.py"
CHECK_BASE = REPO_ROOT / "image" / "check_base.sh"


def _check_base(tmp_path: Path, entrypoint: str) -> subprocess.CompletedProcess[str]:
    """check_base.sh in an empty working directory (no webui.py) with `entrypoint` as the base's setup."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is needed to run image/check_base.sh")
    (tmp_path / "entrypoint.sh").write_text(entrypoint)
    return subprocess.run(
        [bash, str(CHECK_BASE), str(tmp_path / "entrypoint.sh")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("entrypoint", ["#!/bin/bash\n# only comments\n\n", ""])
def test_an_entrypoint_without_commands_is_reported(tmp_path: Path, entrypoint: str) -> None:
    result = _check_base(tmp_path, entrypoint)
    assert result.returncode == 1
    assert "base image check failed" in result.stderr
    assert "entrypoint.sh does not end in exec" in result.stderr
    assert f"no webui.py in the working directory {tmp_path}" in result.stderr


def test_an_entrypoint_ending_in_exec_passes_that_check(tmp_path: Path) -> None:
    result = _check_base(tmp_path, '#!/bin/bash\nset -e\nexec "$@"\n# trailing comment\n')
    assert "base image check failed" in result.stderr  # no webui.py here ...
    assert "does not end in exec" not in result.stderr  # ... but the entrypoint is right


def _install(url: str, sha256: str, target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(INSTALL_WORKER), url, sha256, str(target)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _tarball(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_the_release_archive_is_unpacked_after_its_checksum_matched(tmp_path: Path) -> None:
    data = _tarball({"README.md": b"docs", "salad-http-job-queue-worker": b"#!/bin/sh\necho worker\n"})
    (tmp_path / "w.tar.gz").write_bytes(data)
    target = tmp_path / "bin" / "salad-http-job-queue-worker"
    result = _install(f"file://{tmp_path}/w.tar.gz", hashlib.sha256(data).hexdigest(), target)
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == b"#!/bin/sh\necho worker\n"
    assert target.stat().st_mode & 0o111


def test_a_bare_binary_is_installed_as_is(tmp_path: Path) -> None:
    data = b"\x7fELF not really"
    (tmp_path / "worker").write_bytes(data)
    target = tmp_path / "installed"
    assert _install(f"file://{tmp_path}/worker", hashlib.sha256(data).hexdigest(), target).returncode == 0
    assert target.read_bytes() == data


def test_another_checksum_installs_nothing(tmp_path: Path) -> None:
    (tmp_path / "worker").write_bytes(b"tampered")
    target = tmp_path / "installed"
    result = _install(f"file://{tmp_path}/worker", "a" * 64, target)
    assert result.returncode == 1
    assert "but salad-sd:image.queueWorker.sha256 is " + "a" * 64 in result.stderr
    assert not target.exists()


def test_an_archive_without_the_worker_is_refused(tmp_path: Path) -> None:
    data = _tarball({"other-tool": b"x"})
    (tmp_path / "w.tar.gz").write_bytes(data)
    result = _install(f"file://{tmp_path}/w.tar.gz", hashlib.sha256(data).hexdigest(), tmp_path / "installed")
    assert result.returncode != 0
    assert "the archive holds no salad-http-job-queue-worker (found: other-tool)" in result.stderr


def test_no_url_leaves_the_worker_out(tmp_path: Path) -> None:
    result = _install("", "", tmp_path / "installed")
    assert result.returncode == 0
    assert "left out" in result.stdout
    assert not (tmp_path / "installed").exists()


def _installers(tmp_path: Path, **scripts: str) -> Path:
    root = tmp_path / "extensions"
    for name, body in scripts.items():
        (root / name).mkdir(parents=True)
        (root / name / "install.py").write_text(body)
    (tmp_path / "webui").mkdir()
    (tmp_path / "webui" / "launch.py").write_text("ROOT_MARKER = 'webui root on PYTHONPATH'\n")
    return root


def _run_installers(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUN_INSTALLERS), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"ROOT": str(tmp_path / "webui"), "PATH": "/usr/bin:/bin"},
    )


def test_installers_run_from_the_webui_root_with_it_on_pythonpath(tmp_path: Path) -> None:
    body = "import os, launch\nprint('cwd', os.getcwd(), launch.ROOT_MARKER)\n"
    root = _installers(tmp_path, a=body, b=body)
    for mode in ([], ["--offline"]):
        result = _run_installers(tmp_path, *mode, str(root))
        assert result.returncode == 0, result.stderr
        assert result.stdout.count(f"cwd {tmp_path / 'webui'} webui root on PYTHONPATH") == 2


def test_offline_a_failing_or_network_using_installer_fails_naming_it(tmp_path: Path) -> None:
    root = _installers(
        tmp_path,
        quiet="print('nothing to do')\n",
        failing="import sys\nsys.exit(3)\n",
        sneaky=(
            "import urllib.request\ntry:\n"
            "    urllib.request.urlopen('http://pypi.org/simple/x/', timeout=5)\n"
            "except OSError as error:\n    print('ignored', error)\n"
        ),
    )
    result = _run_installers(tmp_path, "--offline", str(root))
    assert result.returncode == 1
    assert "failing (exit 3)" in result.stderr
    assert "sneaky (exit 0; network requests: GET http://pypi.org/simple/x/)" in result.stderr
    assert "quiet" not in result.stderr
