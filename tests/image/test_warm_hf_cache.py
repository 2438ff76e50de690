"""image/warm_hf_cache.py against a stub `transformers` (the real one downloads from Hugging Face).

The stub mimics the hub's cache: an online load stores `<HF_HOME>/cache/<repo>/<kind>` (unless the repo
is `leaky/repo`, which "forgets" to cache its config) and an offline load (HF_HUB_OFFLINE=1) reads it,
failing like transformers does when it is absent.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.paths import REPO_ROOT

SCRIPT = REPO_ROOT / "image" / "warm_hf_cache.py"
STUB = """
import os

def _load(kind, repo):
    home = os.environ["HF_HOME"]
    cached = os.path.join(home, "cache", repo.replace("/", "--"), kind)
    offline = os.environ.get("HF_HUB_OFFLINE") == "1"
    with open(os.path.join(home, "calls.txt"), "a") as f:
        f.write(("offline " if offline else "") + kind + " " + repo + "\\n")
    if offline:
        if not os.path.exists(cached):
            raise OSError(f"We couldn't connect to the hub to load {kind} of {repo} (offline)")
        return
    if repo == "broken/repo":
        raise OSError("We couldn't connect to 'https://huggingface.co'")
    if repo == "leaky/repo" and kind == "config":
        return
    os.makedirs(os.path.dirname(cached), exist_ok=True)
    open(cached, "w").close()

class CLIPTokenizer:
    @classmethod
    def from_pretrained(cls, repo):
        _load("tokenizer", repo)

class CLIPTextConfig:
    @classmethod
    def from_pretrained(cls, repo):
        _load("config", repo)
"""


def _run(tmp_path: Path, *repos: str, hf_home: bool = True) -> subprocess.CompletedProcess[str]:
    (tmp_path / "stub" / "transformers").mkdir(parents=True, exist_ok=True)
    (tmp_path / "stub" / "transformers" / "__init__.py").write_text(STUB)
    (tmp_path / "hf").mkdir(exist_ok=True)
    env = {"PYTHONPATH": str(tmp_path / "stub"), "PATH": "/usr/bin:/bin"}
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
