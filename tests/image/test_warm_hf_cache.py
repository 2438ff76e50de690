"""image/warm_hf_cache.py against a stub `transformers` (the real one downloads from Hugging Face)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.paths import REPO_ROOT

SCRIPT = REPO_ROOT / "image" / "warm_hf_cache.py"
STUB = """
import os

def _record(kind, repo):
    if repo == "broken/repo":
        raise OSError("We couldn't connect to 'https://huggingface.co'")
    with open(os.path.join(os.environ["HF_HOME"], "calls.txt"), "a") as f:
        f.write(kind + " " + repo + "\\n")

class CLIPTokenizer:
    @classmethod
    def from_pretrained(cls, repo):
        _record("tokenizer", repo)

class CLIPTextConfig:
    @classmethod
    def from_pretrained(cls, repo):
        _record("config", repo)
"""


def _run(tmp_path: Path, *repos: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "stub" / "transformers").mkdir(parents=True, exist_ok=True)
    (tmp_path / "stub" / "transformers" / "__init__.py").write_text(STUB)
    (tmp_path / "hf").mkdir(exist_ok=True)
    env = {"PYTHONPATH": str(tmp_path / "stub"), "HF_HOME": str(tmp_path / "hf"), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *repos], env=env, capture_output=True, text=True, timeout=30
    )


def test_caches_tokenizer_and_config_of_each_repo(tmp_path: Path) -> None:
    result = _run(tmp_path, "openai/clip-vit-large-patch14", "other/clip")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "hf" / "calls.txt").read_text().splitlines() == [
        "tokenizer openai/clip-vit-large-patch14",
        "config openai/clip-vit-large-patch14",
        "tokenizer other/clip",
        "config other/clip",
    ]


def test_a_failed_download_fails_the_build_step(tmp_path: Path) -> None:
    result = _run(tmp_path, "broken/repo")
    assert result.returncode != 0
    assert "couldn't connect" in result.stderr


def test_no_repo_is_a_usage_error(tmp_path: Path) -> None:
    assert _run(tmp_path).returncode == 2
