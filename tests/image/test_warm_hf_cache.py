"""image/warm_hf_cache.py against the stand-in base's stub `transformers` (tests/image/standin/transformers:
the real one downloads from Hugging Face). The stub keeps the hub cache's semantics: an online load stores
into $HF_HOME/hub, an offline one reads it or fails; `leaky/repo` forgets to cache its config.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.paths import REPO_ROOT

SCRIPT = REPO_ROOT / "image" / "warm_hf_cache.py"
STANDIN = REPO_ROOT / "tests" / "image" / "standin"  # holds the stub `transformers` package


def _run(tmp_path: Path, *repos: str, hf_home: bool = True) -> subprocess.CompletedProcess[str]:
    (tmp_path / "hf").mkdir(exist_ok=True)
    env = {"PYTHONPATH": str(STANDIN), "PATH": "/usr/bin:/bin"}
    if hf_home:
        env["HF_HOME"] = str(tmp_path / "hf")
    return subprocess.run(
        [sys.executable, str(SCRIPT), *repos], env=env, capture_output=True, text=True, timeout=30
    )


def test_caches_each_repo_then_loads_it_offline(tmp_path: Path) -> None:
    result = _run(tmp_path, "openai/clip-vit-large-patch14", "other/clip")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "hf" / "calls.txt").read_text().splitlines() == [
        "tokenizer openai/clip-vit-large-patch14",
        "config openai/clip-vit-large-patch14",
        "tokenizer other/clip",
        "config other/clip",
        "offline tokenizer openai/clip-vit-large-patch14",
        "offline config openai/clip-vit-large-patch14",
        "offline tokenizer other/clip",
        "offline config other/clip",
    ]


def test_a_cache_that_does_not_serve_offline_fails_the_build_step(tmp_path: Path) -> None:
    result = _run(tmp_path, "leaky/repo")
    assert result.returncode == 1
    assert "config of leaky/repo (offline)" in result.stderr
    assert "does not serve an offline load" in result.stderr


def test_a_failed_download_fails_the_build_step(tmp_path: Path) -> None:
    result = _run(tmp_path, "broken/repo")
    assert result.returncode != 0
    assert "couldn't connect" in result.stderr


def test_hf_home_must_be_explicit(tmp_path: Path) -> None:
    result = _run(tmp_path, "openai/clip-vit-large-patch14", hf_home=False)
    assert result.returncode == 2
    assert "set HF_HOME" in result.stderr


def test_no_repo_is_a_usage_error(tmp_path: Path) -> None:
    assert _run(tmp_path).returncode == 2
