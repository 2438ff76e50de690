"""Finding a Docker daemon for the image tests, and running the docker CLI against it.

The daemon address is `DOCKER_HOST`, else the one `scripts/ci-services.sh` wrote to
`$SALAD_SD_SERVICES_DIR/env` (default /tmp/salad-sd-services/env), else the client's default. Builds use
BuildKit (as pulumi-docker does) through Debian's `/usr/bin/docker` when present (the newer client
needs the missing buildx plugin for BuildKit), with `--network=host` because the test daemon has no
bridge; otherwise the classic builder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SERVICES_ENV = Path(os.environ.get("SALAD_SD_SERVICES_DIR", "/tmp/salad-sd-services")) / "env"
HOW_TO_START = "run scripts/ci-services.sh to install and start one"


def services_env() -> dict[str, str]:
    """KEY=VALUE lines of the file scripts/ci-services.sh writes (empty when absent)."""
    try:
        lines = SERVICES_ENV.read_text().splitlines()
    except OSError:
        return {}
    return dict(line.split("=", 1) for line in lines if "=" in line)


@dataclass(frozen=True)
class Docker:
    """The docker CLI bound to one daemon."""

    client: str
    env: Mapping[str, str]
    buildkit: bool

    def run(
        self, *args: str, timeout: float = 120, check: bool = True, stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[str]:
        raw = subprocess.run(
            [self.client, *args], env=dict(self.env), input=stdin, capture_output=True, timeout=timeout
        )
        result = subprocess.CompletedProcess(
            raw.args, raw.returncode, raw.stdout.decode(errors="replace"), raw.stderr.decode(errors="replace")
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker {' '.join(args)} exited {result.returncode}:\n{result.stdout[-3000:]}\n"
                f"{result.stderr[-3000:]}"
            )
        return result

    def build(
        self,
        context: Path,
        tag: str,
        build_args: Mapping[str, str],
        *,
        timeout: float = 300,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        flags: list[str] = ["--platform", "linux/amd64", "-t", tag]
        if self.buildkit:
            flags += ["--network=host", "--progress=plain"]
        for key, value in build_args.items():
            flags += ["--build-arg", f"{key}={value}"]
        return self.run("build", *flags, str(context), timeout=timeout, check=check)

    def image_exists(self, ref: str) -> bool:
        return self.run("image", "inspect", ref, check=False).returncode == 0

    def inspect(self, ref: str, template: str) -> str:
        return self.run("inspect", "-f", template, ref).stdout.strip()


@cache
def find_docker() -> Docker | str:
    """A reachable daemon, or the reason there is none (for pytest.skip)."""
    env = dict(os.environ)
    if "DOCKER_HOST" not in env and "DOCKER_HOST" in services_env():
        env["DOCKER_HOST"] = services_env()["DOCKER_HOST"]
    debian_client = Path("/usr/bin/docker")
    client = str(debian_client) if debian_client.exists() else shutil.which("docker")
    if client is None:
        return f"no docker client on PATH; {HOW_TO_START}"
    buildkit = client == str(debian_client)
    env["DOCKER_BUILDKIT"] = "1" if buildkit else "0"
    docker = Docker(client=client, env=env, buildkit=buildkit)
    try:
        probe = docker.run("version", "--format", "{{.Server.Version}}", timeout=20, check=False)
    except subprocess.TimeoutExpired:
        return f"the Docker daemon at {env.get('DOCKER_HOST', 'the default socket')} did not answer in 20 s"
    if probe.returncode != 0:
        where = env.get("DOCKER_HOST", "the default socket")
        return f"no Docker daemon reachable at {where} ({probe.stderr.strip()[:200]}); {HOW_TO_START}"
    return docker


def missing_tools(names: Sequence[str]) -> list[str]:
    return [name for name in names if shutil.which(name) is None]
