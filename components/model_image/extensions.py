"""A1111 extensions baked into the image: the `{url, ref, name?}` list, staging at a pinned commit, checks.

Each entry of `salad-sd:image.extensions` names a git `url`, a full 40-hex commit `ref`, and the folder
`name` (default: the repository's name). `stage_extensions` (run by `scripts/stage-image.sh`) checks each
one out at exactly that commit into the build context, `image/extensions/<name>/`, without `.git`, and
records what it staged in `image/extensions/.staged.json` (kept out of the build context) so that a
second run skips it. `verify_staged` is the build-time check: every listed extension staged at its
commit, nothing else in the directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from components.model_image.models import EXTENSIONS_DIR as STAGING_DIR
from components.model_image.models import ModelConfigError, ModelError, check_entries, parse_list

CONFIG_KEY = "salad-sd:image.extensions"
STAMPS = ".staged.json"
STAGE_HINT = "scripts/stage-image.sh <stack>"

_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_GIT_URL = re.compile(r"^(?:(?:https?|ssh|git|file)://\S+|[\w.-]+@[\w.-]+:\S+)$")


class ExtensionError(ModelError):
    """An extension could not be staged, or is not staged as listed."""


@dataclass(frozen=True)
class ExtensionSpec:
    """One A1111 extension to bake into the image."""

    url: str
    """Git URL (https, ssh, git, file or `user@host:path`)."""
    ref: str
    """The full 40-hex commit to check out; a branch or tag is refused (it moves)."""
    name: str
    """Folder under the webui's extensions directory."""

    def staged_path(self, context_dir: Path | str) -> Path:
        return Path(context_dir) / STAGING_DIR / self.name


def default_name(url: str) -> str:
    """The repository's name: the URL's last path segment without `.git`."""
    last = re.split(r"[/:]", url.rstrip("/"))[-1]
    return last[:-4] if last.endswith(".git") else last


def parse_extension(raw: object, where: str) -> ExtensionSpec:
    """One config entry -> ExtensionSpec; errors name `where` (e.g. `salad-sd:image.extensions[0]`)."""
    if not isinstance(raw, Mapping):
        raise ModelConfigError(f"{where} must be an object with url, ref and optionally name, got {raw!r}")
    unknown = sorted(set(raw) - {"url", "ref", "name"})
    if unknown:
        raise ModelConfigError(f"{where} has unknown keys {unknown}; allowed: url, ref, name")
    url = raw.get("url")
    if not isinstance(url, str) or not _GIT_URL.match(url):
        raise ModelConfigError(
            f"{where}.url must be a git URL (https://, ssh://, git://, file:// or user@host:path), "
            f"got {url!r}"
        )
    ref = raw.get("ref")
    if not isinstance(ref, str) or not _COMMIT.match(ref):
        raise ModelConfigError(
            f"{where}.ref must be a full commit: 40 lowercase hex digits (a branch or tag moves), got {ref!r}"
        )
    name = raw.get("name", default_name(url))
    if not isinstance(name, str) or not _NAME.match(name):
        raise ModelConfigError(
            f"{where}.name must be a folder name (letters, digits, '.', '_', '-', not starting with "
            f"'.' or '-'), got {name!r}"
        )
    return ExtensionSpec(url=url, ref=ref, name=name)


def check_extensions(entries: Sequence[object], where: str) -> tuple[list[ExtensionSpec], list[str]]:
    """The valid entries, and every problem: bad entries first, then two extensions in one folder."""
    return check_entries(
        entries,
        where,
        parse_extension,
        key=lambda extension: extension.name,
        repeated=lambda at, ext: f"{at} repeats the folder name {ext.name!r}; set a different name",
    )


def parse_extensions(raw: object, where: str = CONFIG_KEY) -> list[ExtensionSpec]:
    """The whole list (None = empty); raises ModelConfigError with the first problem."""
    return parse_list(raw, where, check_extensions, "a list of {url, ref, name} objects")


# ---------------------------------------------------------------- staging


def _stamps_path(context_dir: Path | str) -> Path:
    return Path(context_dir) / STAGING_DIR / STAMPS


def read_stamps(context_dir: Path | str) -> dict[str, dict[str, str]]:
    try:
        loaded = json.loads(_stamps_path(context_dir).read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in loaded.items() if isinstance(v, dict)} if isinstance(loaded, dict) else {}


def _write_stamps(context_dir: Path | str, stamps: Mapping[str, Mapping[str, str]]) -> None:
    path = _stamps_path(context_dir)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(stamps, indent=1, sort_keys=True))
    tmp.replace(path)


def _stamp(extension: ExtensionSpec) -> dict[str, str]:
    return {"url": extension.url, "ref": extension.ref}


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        # The user's environment (HOME's git config, SSH agent, GIT_SSH_COMMAND, proxies), never a prompt.
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
    )


def _checkout(extension: ExtensionSpec, where: Path) -> None:
    """`where` becomes a checkout of exactly `extension.ref`, without any `.git`."""
    _git("init", "-q", str(where))
    # A single commit is enough and is what most servers allow; else everything the remote advertises.
    shallow = _git("fetch", "-q", "--depth", "1", extension.url, extension.ref, cwd=where)
    if shallow.returncode != 0:
        full = _git(
            "fetch",
            "-q",
            extension.url,
            "+refs/heads/*:refs/remotes/src/*",
            "+refs/tags/*:refs/tags/*",
            cwd=where,
        )
        if full.returncode != 0:
            raise ExtensionError(
                f"extension {extension.name!r}: cannot fetch {extension.url}: {full.stderr.strip()[-400:]}"
            )
    if _git("cat-file", "-e", f"{extension.ref}^{{commit}}", cwd=where).returncode != 0:
        raise ExtensionError(
            f"extension {extension.name!r}: commit {extension.ref} is not in {extension.url}; "
            f"check {CONFIG_KEY} (ref must be a commit of that repository)"
        )
    checkout = _git("-c", "advice.detachedHead=false", "checkout", "-q", extension.ref, cwd=where)
    head = _git("rev-parse", "HEAD", cwd=where).stdout.strip()
    if checkout.returncode != 0 or head != extension.ref:
        raise ExtensionError(
            f"extension {extension.name!r}: checkout of {extension.ref} failed: {checkout.stderr.strip()}"
        )
    if (where / ".gitmodules").exists():
        modules = _git("submodule", "update", "--init", "--recursive", "--depth", "1", cwd=where)
        if modules.returncode != 0:
            raise ExtensionError(
                f"extension {extension.name!r}: submodules failed: {modules.stderr.strip()[-400:]}"
            )
    for dot_git in sorted(where.rglob(".git"), key=lambda p: len(p.parts), reverse=True):
        if dot_git.is_dir():
            shutil.rmtree(dot_git)
        else:
            dot_git.unlink()


def stage_extensions(
    extensions: Sequence[ExtensionSpec], context_dir: Path | str, out: IO[str] = sys.stdout
) -> list[str]:
    """Stages every listed extension at its commit (skipping those already staged so); removes those it
    staged before that are no longer listed. Returns the names checked out now."""
    root = Path(context_dir) / STAGING_DIR
    root.mkdir(parents=True, exist_ok=True)
    stamps = read_stamps(context_dir)
    listed = {e.name for e in extensions}
    for name in sorted(set(stamps) - listed):
        shutil.rmtree(root / name, ignore_errors=True)
        del stamps[name]
        out.write(f"removed extension {name} (no longer listed)\n")
    staged: list[str] = []
    for extension in extensions:
        target = extension.staged_path(context_dir)
        if stamps.get(extension.name) == _stamp(extension) and target.is_dir():
            out.write(f"ok extension {extension.name} at {extension.ref[:12]} (already staged)\n")
            continue
        out.write(f"staging extension {extension.name} from {extension.url} at {extension.ref}\n")
        with tempfile.TemporaryDirectory(prefix=".staging-", dir=root) as tmp:
            checkout = Path(tmp) / "checkout"
            _checkout(extension, checkout)
            stamps.pop(extension.name, None)
            _write_stamps(context_dir, stamps)
            if target.exists():
                shutil.rmtree(target)
            checkout.replace(target)
        stamps[extension.name] = _stamp(extension)
        _write_stamps(context_dir, stamps)
        staged.append(extension.name)
    _write_stamps(context_dir, stamps)
    return staged


def verify_staged(extensions: Sequence[ExtensionSpec], context_dir: Path | str) -> None:
    """Raises ExtensionError when a listed extension is not staged at its commit, or when the staging
    directory holds a folder the list does not name (it would be baked in too)."""
    stamps = read_stamps(context_dir)
    for extension in extensions:
        if stamps.get(extension.name) != _stamp(extension) or not extension.staged_path(context_dir).is_dir():
            raise ExtensionError(
                f"extension {extension.name!r} is not staged at {extension.ref} from {extension.url}: "
                f"run `{STAGE_HINT}`"
            )
    root = Path(context_dir) / STAGING_DIR
    listed = {e.name for e in extensions}
    stray = sorted(p.name for p in root.iterdir() if not p.name.startswith(".") and p.name not in listed)
    if stray:
        raise ExtensionError(
            f"{', '.join(stray)} in {root} not in {CONFIG_KEY}: it would be baked into the image too; "
            f"list it or delete it (or run `{STAGE_HINT}`)"
        )
