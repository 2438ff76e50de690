"""Extensions: the `{url, ref, name?}` entries, staging from real local (file://) git repositories."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from components.model_image import fetch
from components.model_image.extensions import (
    ExtensionError,
    ExtensionSpec,
    default_name,
    parse_extensions,
    read_stamps,
    stage_extensions,
    verify_staged,
)
from components.model_image.models import ModelConfigError

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "PATH": "/usr/bin:/bin",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], env=GIT_ENV, capture_output=True, text=True, check=True
    ).stdout.strip()


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def upstream(tmp_path: Path) -> tuple[Path, str, str]:
    """A repository `sd-webui-tool.git` with two commits: (path, first, second)."""
    repo = tmp_path / "upstream" / "sd-webui-tool.git"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    first = commit(repo, {"install.py": "print('v1')\n", "scripts/tool.py": "V = 1\n"}, "v1")
    second = commit(repo, {"install.py": "print('v2')\n"}, "v2")
    return repo, first, second


def test_parses_entries_with_a_default_name() -> None:
    ref = "a" * 40
    assert parse_extensions(
        [
            {"url": "https://github.com/Mikubill/sd-webui-controlnet.git", "ref": ref},
            {"url": "git@github.com:me/tools", "ref": ref, "name": "my-tools"},
        ]
    ) == [
        ExtensionSpec("https://github.com/Mikubill/sd-webui-controlnet.git", ref, "sd-webui-controlnet"),
        ExtensionSpec("git@github.com:me/tools", ref, "my-tools"),
    ]
    assert default_name("file:///srv/git/x/") == "x"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([{"url": "https://x.test/a.git", "ref": "A" * 40}], r"\[0\]\.ref must be a full commit"),
        ([{"url": "https://x.test/a.git", "ref": "abc123"}], r"\[0\]\.ref must be a full commit"),
        ([{"url": "https://x.test/a.git", "ref": "a" * 40, "branch": "x"}], r"unknown keys \['branch'\]"),
        ([{"url": "https://x.test/.git", "ref": "a" * 40}], r"\[0\]\.name must be a folder name"),
        ("https://x.test/a.git", r"must be a list"),
    ],
)
def test_rejects_invalid_entries_naming_the_key(raw: object, message: str) -> None:
    with pytest.raises(ModelConfigError, match=message):
        parse_extensions(raw)


def test_stages_exactly_the_commit_without_git_metadata(
    upstream: tuple[Path, str, str], tmp_path: Path
) -> None:
    repo, first, _second = upstream
    context = tmp_path / "image"
    extension = ExtensionSpec(f"file://{repo}", first, "tool")
    out = io.StringIO()
    assert stage_extensions([extension], context, out) == ["tool"]
    staged = context / "extensions" / "tool"
    assert (staged / "install.py").read_text() == "print('v1')\n"  # the first commit, not main's head
    assert (staged / "scripts" / "tool.py").read_text() == "V = 1\n"
    assert not list(staged.rglob(".git"))
    assert read_stamps(context) == {"tool": {"url": f"file://{repo}", "ref": first}}
    verify_staged([extension], context)
    assert [p.name for p in (context / "extensions").iterdir() if not p.name.startswith(".")] == ["tool"]


def test_git_runs_with_the_users_environment(
    upstream: tuple[Path, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HOME's git config (here a url rewrite, as for credentials or mirrors) reaches git."""
    repo, first, _second = upstream
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(f'[url "file://{repo}"]\n\tinsteadOf = https://git.invalid/tool\n')
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    context = tmp_path / "image"
    extension = ExtensionSpec("https://git.invalid/tool", first, "tool")
    assert stage_extensions([extension], context, io.StringIO()) == ["tool"]
    assert (context / "extensions" / "tool" / "install.py").read_text() == "print('v1')\n"


def test_a_second_run_skips_work_done_and_a_new_ref_restages(
    upstream: tuple[Path, str, str], tmp_path: Path
) -> None:
    repo, first, second = upstream
    context = tmp_path / "image"
    stage_extensions([ExtensionSpec(f"file://{repo}", first, "tool")], context, io.StringIO())
    out = io.StringIO()
    assert stage_extensions([ExtensionSpec(f"file://{repo}", first, "tool")], context, out) == []
    assert "already staged" in out.getvalue()
    assert stage_extensions([ExtensionSpec(f"file://{repo}", second, "tool")], context, io.StringIO()) == [
        "tool"
    ]
    assert (context / "extensions" / "tool" / "install.py").read_text() == "print('v2')\n"


def test_an_extension_no_longer_listed_is_removed(upstream: tuple[Path, str, str], tmp_path: Path) -> None:
    repo, first, _ = upstream
    context = tmp_path / "image"
    stage_extensions([ExtensionSpec(f"file://{repo}", first, "tool")], context, io.StringIO())
    stage_extensions([], context, io.StringIO())
    assert not (context / "extensions" / "tool").exists()
    assert read_stamps(context) == {}


def test_a_wrong_commit_fails_with_a_clear_message(upstream: tuple[Path, str, str], tmp_path: Path) -> None:
    repo, _, _ = upstream
    wrong = "0123456789abcdef0123456789abcdef01234567"
    context = tmp_path / "image"
    with pytest.raises(ExtensionError, match=rf"extension 'tool': commit {wrong} is not in file://{repo}"):
        stage_extensions([ExtensionSpec(f"file://{repo}", wrong, "tool")], context, io.StringIO())
    assert not (context / "extensions" / "tool").exists()
    assert read_stamps(context) == {}


def test_an_unreachable_repository_fails_naming_it(tmp_path: Path) -> None:
    extension = ExtensionSpec(f"file://{tmp_path}/absent.git", "a" * 40, "absent")
    with pytest.raises(ExtensionError, match=r"extension 'absent': cannot fetch file://.*absent\.git"):
        stage_extensions([extension], tmp_path / "image", io.StringIO())


def test_verify_staged_names_what_is_missing_or_stray(
    upstream: tuple[Path, str, str], tmp_path: Path
) -> None:
    repo, first, second = upstream
    context = tmp_path / "image"
    (context / "extensions" / "hand-copied").mkdir(parents=True)
    with pytest.raises(ExtensionError, match=r"'tool' is not staged at .*scripts/stage-image.sh"):
        verify_staged([ExtensionSpec(f"file://{repo}", first, "tool")], context)
    stage_extensions([ExtensionSpec(f"file://{repo}", first, "tool")], context, io.StringIO())
    with pytest.raises(ExtensionError, match=r"'tool' is not staged at " + second):
        verify_staged([ExtensionSpec(f"file://{repo}", second, "tool")], context)
    with pytest.raises(ExtensionError, match=r"hand-copied in .* not in salad-sd:image.extensions"):
        verify_staged([ExtensionSpec(f"file://{repo}", first, "tool")], context)


def test_the_fetch_command_stages_the_stack_files_extensions(
    upstream: tuple[Path, str, str], tmp_path: Path
) -> None:
    repo, first, _ = upstream
    context = tmp_path / "image"
    (context / "models" / "checkpoint").mkdir(parents=True)
    (context / "models" / "checkpoint" / "sd.safetensors").write_bytes(b"weights")
    config = tmp_path / "Pulumi.test.yaml"
    image = {
        "repository": "r.example.com/a/b",
        "models": [{"file": "sd.safetensors", "kind": "checkpoint"}],
        "extensions": [{"url": f"file://{repo}", "ref": first}],
    }
    config.write_text(yaml.safe_dump({"config": {"salad-sd:image": image}}))
    assert fetch.main(["--config", str(config), "--context", str(context)]) == 0
    assert (context / "extensions" / "sd-webui-tool" / "install.py").exists()
    image["extensions"] = [{"url": f"file://{repo}", "ref": "f" * 40}]
    config.write_text(yaml.safe_dump({"config": {"salad-sd:image": image}}))
    assert fetch.main(["--config", str(config), "--context", str(context)]) == 1
