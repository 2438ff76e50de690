"""Stages what the image bakes in, from a stack's config file (no Pulumi CLI needed): downloads the
models into the build context with a progress bar and verifies them, and checks the extensions out at
their pinned commits (`components.model_image.extensions`). `scripts/stage-image.sh STACK` runs it.

    python -m components.model_image.fetch --stack dev             # reads Pulumi.dev.yaml
    python -m components.model_image.fetch --config path/to/Pulumi.prod.yaml [--context image]

Files already present with the right checksum are skipped (the hash is remembered by size and mtime).
Downloads go to `<file>.part` (resumed with an HTTP Range request when possible) and are renamed into
place only after the checksum matched. A present file with a wrong checksum is an error, not silently
replaced: delete it to fetch it again. Tokens: `HF_TOKEN` for huggingface.co, `CIVITAI_TOKEN` for
civitai.com, sent as a Bearer header.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO
from urllib.parse import urlparse

import requests
import yaml

from components.model_image.extensions import CONFIG_KEY as EXTENSIONS_KEY
from components.model_image.extensions import parse_extensions, stage_extensions
from components.model_image.models import (
    CONFIG_KEY,
    ModelError,
    ModelSpec,
    VerificationCache,
    ensure_layout,
    parse_models,
    sha256_of,
    verify_model,
)

_CHUNK = 1024 * 1024
_TIMEOUT = (15, 60)  # connect, read
_TOKENS = {"huggingface.co": "HF_TOKEN", "civitai.com": "CIVITAI_TOKEN"}


class FetchError(ModelError):
    """A download failed or produced a file with the wrong checksum."""


def load_image_section(config_path: Path) -> dict[str, object]:
    """The `salad-sd:image` object of a `Pulumi.<stack>.yaml` (empty when unset)."""
    document = yaml.safe_load(config_path.read_text()) or {}
    config = document.get("config") or {}
    image = config.get("salad-sd:image") or {}
    if not isinstance(image, dict):
        raise ModelError(f"salad-sd:image in {config_path} must be an object")
    return image


def load_models(config_path: Path) -> list[ModelSpec]:
    """The model list of a `Pulumi.<stack>.yaml` (`salad-sd:image` -> `models`)."""
    return parse_models(load_image_section(config_path).get("models"), CONFIG_KEY)


class Progress:
    """A one-line progress bar on a terminal; a line per 10% elsewhere (CI logs)."""

    def __init__(self, label: str, total: int | None, out: IO[str]) -> None:
        self.label, self.total, self.out = label, total, out
        self.tty = out.isatty()
        self.started = time.monotonic()
        self._last_decile = -1

    def update(self, done: int) -> None:
        rate = done / max(time.monotonic() - self.started, 1e-6)
        if self.total:
            fraction = min(done / self.total, 1.0)
            if self.tty:
                bar = "#" * int(fraction * 30)
                self.out.write(
                    f"\r  {self.label} [{bar:<30}] {fraction:6.1%} "
                    f"{human_size(done)}/{human_size(self.total)} {human_size(int(rate))}/s"
                )
            elif int(fraction * 10) > self._last_decile:
                self._last_decile = int(fraction * 10)
                self.out.write(f"  {self.label}: {fraction:.0%} of {human_size(self.total)}\n")
        elif self.tty:
            self.out.write(f"\r  {self.label} {human_size(done)} {human_size(int(rate))}/s")
        self.out.flush()

    def finish(self) -> None:
        if self.tty:
            self.out.write("\n")
            self.out.flush()


def human_size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1024
    raise AssertionError("unreachable")


def _headers(url: str) -> dict[str, str]:
    host = urlparse(url).hostname or ""
    for domain, variable in _TOKENS.items():
        token = os.environ.get(variable)
        if token and (host == domain or host.endswith("." + domain)):
            return {"Authorization": f"Bearer {token}"}
    return {}


def download(model: ModelSpec, target: Path, out: IO[str], session: requests.Session) -> None:
    """Downloads to `<target>.part` (resuming it if present), checks the sha256, renames into place."""
    assert model.url is not None
    part = target.with_name(target.name + ".part")
    headers = _headers(model.url)
    have = part.stat().st_size if part.exists() else 0
    if have:
        headers["Range"] = f"bytes={have}-"
    response = session.get(model.url, headers=headers, stream=True, timeout=_TIMEOUT)
    with response:
        if response.status_code == 416 and have:  # the .part cannot be resumed: start over
            response.close()
            part.unlink()
            return download(model, target, out, session)
        if response.status_code != 206:
            have = 0  # the server ignored the Range header: the whole file comes again
        if response.status_code not in (200, 206):
            raise FetchError(
                f"download of {model.file!r} from {model.url} answered HTTP {response.status_code}"
            )
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else None
        progress = Progress(model.file, total, out)
        done = have
        # Hash while writing, so a multi-GB file is not read back; a resumed .part is hashed first.
        digest = sha256_of(part) if have else hashlib.sha256()
        with part.open("ab" if have else "wb") as f:
            for chunk in response.iter_content(_CHUNK):
                f.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                progress.update(done)
        progress.finish()
    if total is not None and done != total:
        raise FetchError(
            f"download of {model.file!r} stopped at {done} of {total} bytes; run again to resume"
        )
    if model.sha256 is not None:
        actual = digest.hexdigest()
        if actual != model.sha256:
            part.unlink()
            raise FetchError(
                f"downloaded {model.file!r} from {model.url} has sha256 {actual}, expected {model.sha256}"
            )
    os.replace(part, target)


def fetch(models: Sequence[ModelSpec], context_dir: Path, out: IO[str] = sys.stdout) -> list[str]:
    """Makes every listed model present and verified; returns the files downloaded."""
    ensure_layout(context_dir)
    cache = VerificationCache.for_context(context_dir)
    fetched: list[str] = []
    try:
        with requests.Session() as session:
            for model in models:
                target = model.staged_path(context_dir)
                if not target.exists():
                    if model.url is None:
                        raise FetchError(f"model {model.file!r} is missing at {target} and has no url")
                    out.write(f"fetching {model.kind} {model.file} from {model.url}\n")
                    try:
                        download(model, target, out, session)
                    except requests.RequestException as error:
                        raise FetchError(
                            f"download of {model.file!r} from {model.url} failed: {error}"
                        ) from None
                    if model.sha256 is not None:
                        cache.remember(model.staged_name, target, model.sha256)
                    fetched.append(model.file)
                verify_model(model, context_dir, cache)
                out.write(f"ok {model.kind} {model.file}\n")
    finally:
        cache.save()
    return fetched


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m components.model_image.fetch", description=__doc__.split("\n")[0]
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--stack", help="stack name: reads Pulumi.<stack>.yaml in the project directory")
    source.add_argument("--config", type=Path, help="path to a Pulumi.<stack>.yaml")
    parser.add_argument(
        "--project-dir", type=Path, default=Path("."), help="where Pulumi.yaml is (default: .)"
    )
    parser.add_argument("--context", type=Path, help="build context (default: <project-dir>/image)")
    options = parser.parse_args(argv)
    config_path = options.config or options.project_dir / f"Pulumi.{options.stack}.yaml"
    context = options.context or options.project_dir / "image"
    try:
        image = load_image_section(config_path)
        if image.get("ref") is not None:
            print("salad-sd:image.ref is set: nothing is built, nothing to stage")
            return 0
        models = parse_models(image.get("models"), CONFIG_KEY)
        extensions = parse_extensions(image.get("extensions"), EXTENSIONS_KEY)
        if models:
            fetched = fetch(models, context)
            print(f"{len(models)} model(s) ready in {context / 'models'}; downloaded {len(fetched)}")
        else:
            print(f"{CONFIG_KEY} is empty in {config_path}: nothing to fetch")
        staged = stage_extensions(extensions, context)
    except (OSError, ModelError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if extensions:
        print(f"{len(extensions)} extension(s) ready in {context / 'extensions'}; checked out {len(staged)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
