"""The model list baked into the image: schema, where each kind goes, and checksum verification.

Each entry of `salad-sd:image.models` names a `file`, a `kind` and optionally a `url` (where
`python -m components.model_image.fetch` downloads it from) and a `sha256`. Files are staged in the build
context under `image/models/<kind>/<file>`; the Dockerfile copies each kind's directory to A1111's.

Verification remembers the hash of every file it checked, keyed by size and modification time, in
`image/models/.verified.json` (git-ignored, kept out of the build context), so a multi-GB checkpoint
is hashed once, not on every `pulumi preview`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar, cast, get_args

T = TypeVar("T")

ModelKind = Literal["checkpoint", "lora", "vae", "embedding", "controlnet"]
KINDS: tuple[ModelKind, ...] = get_args(ModelKind)

# Where A1111 (saladtechnologies/a1111 layout) looks for each kind inside the image.
IMAGE_DIRS: Mapping[ModelKind, str] = {
    "checkpoint": "/data/models/Stable-diffusion",
    "lora": "/data/models/Lora",
    "vae": "/data/models/VAE",
    "embedding": "/data/embeddings",
    "controlnet": "/data/models/ControlNet",  # sd-webui-controlnet scans <webui>/models/ControlNet
}
MODELS_DIR = "models"  # inside the build context
EXTENSIONS_DIR = (
    "extensions"  # inside the build context: image/extensions/<name>/ (components.model_image.extensions)
)
CACHE_FILE = ".verified.json"
CONFIG_KEY = "salad-sd:image.models"
FETCH_HINT = "scripts/stage-image.sh <stack>"

SHA256 = re.compile(r"^[0-9a-f]{64}$")  # a lowercase hex digest
_CHUNK = 8 * 1024 * 1024


class ModelError(Exception):
    """A model entry is invalid, or its file is missing or corrupt."""


class ModelConfigError(ModelError, ValueError):
    """An entry of the model list breaks the schema."""


class MissingModelError(ModelError):
    """A listed model file is not in the build context."""


class ChecksumMismatchError(ModelError):
    """A model file's sha256 differs from the one in the config."""


@dataclass(frozen=True)
class ModelSpec:
    """One model file to bake into the image."""

    file: str
    """File name, no directories (`dreamshaper_8.safetensors`)."""
    kind: ModelKind
    """What it is, which decides where A1111 finds it."""
    url: str | None = None
    """Where the fetch command downloads it from; optional when the file is placed by hand."""
    sha256: str | None = None
    """Expected lowercase hex digest; when set, the build refuses a file that differs."""

    @property
    def staged_name(self) -> str:
        """Path inside the build context's `models/` directory (`checkpoint/x.safetensors`)."""
        return f"{self.kind}/{self.file}"

    def staged_path(self, context_dir: Path | str) -> Path:
        """Where the file sits in the build context."""
        return Path(context_dir) / MODELS_DIR / self.kind / self.file

    @property
    def image_path(self) -> str:
        """Where the file sits inside the image."""
        return f"{IMAGE_DIRS[self.kind]}/{self.file}"


def parse_model(raw: object, where: str) -> ModelSpec:
    """One config entry -> ModelSpec; errors name `where` (e.g. `salad-sd:image.models[0]`)."""
    if not isinstance(raw, Mapping):
        raise ModelConfigError(f"{where} must be an object with file and kind, got {raw!r}")
    unknown = sorted(set(raw) - {"file", "kind", "url", "sha256"})
    if unknown:
        raise ModelConfigError(f"{where} has unknown keys {unknown}; allowed: file, kind, url, sha256")
    file = raw.get("file")
    if not isinstance(file, str) or not file or file in (".", "..") or "/" in file or "\\" in file:
        raise ModelConfigError(f"{where}.file must be a plain file name (no directories), got {file!r}")
    if file.startswith("."):
        raise ModelConfigError(f"{where}.file must not start with '.', got {file!r}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ModelConfigError(f"{where}.kind must be one of {', '.join(KINDS)}, got {kind!r}")
    url = raw.get("url")
    if url is not None and (not isinstance(url, str) or not re.match(r"^https?://", url)):
        raise ModelConfigError(f"{where}.url must be an http(s) URL, got {url!r}")
    sha256 = raw.get("sha256")
    if sha256 is not None:
        if not isinstance(sha256, str) or not SHA256.match(sha256.lower()):
            raise ModelConfigError(f"{where}.sha256 must be 64 hex digits, got {sha256!r}")
        sha256 = sha256.lower()
    return ModelSpec(file=file, kind=cast(ModelKind, kind), url=url, sha256=sha256)


def parse_models(raw: object, where: str = CONFIG_KEY) -> list[ModelSpec]:
    """The whole list (None = empty); rejects duplicates of the same kind and file."""
    return parse_list(raw, where, check_models, "a list")


def parse_list(
    raw: object,
    where: str,
    check: Callable[[Sequence[object], str], tuple[list[T], list[str]]],
    expected: str,
) -> list[T]:
    """A whole config list through its `check_*` (None = empty); ModelConfigError with the first problem."""
    if raw is None:
        return []
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise ModelConfigError(f"{where} must be {expected}, got {raw!r}")
    items, problems = check(raw, where)
    if problems:
        raise ModelConfigError(problems[0])
    return items


def check_entries(
    entries: Sequence[object],
    where: str,
    parse: Callable[[object, str], T],
    key: Callable[[T], str],
    repeated: Callable[[str, T], str],
) -> tuple[list[T], list[str]]:
    """Parse a config list: the valid entries, and every problem (bad entries first, then repeats of a
    `key`, each described by `repeated(entry_location, entry)`)."""
    parsed: list[T] = []
    problems: list[str] = []
    repeats: list[str] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        try:
            item = parse(entry, f"{where}[{i}]")
        except ModelConfigError as error:
            problems.append(str(error))
            continue
        if key(item) in seen:
            repeats.append(repeated(f"{where}[{i}]", item))
        seen.add(key(item))
        parsed.append(item)
    return parsed, problems + repeats


def check_models(entries: Sequence[object], where: str) -> tuple[list[ModelSpec], list[str]]:
    """The valid entries, and every problem: bad entries first, then repeats of the same kind and file."""
    return check_entries(
        entries,
        where,
        parse_model,
        key=lambda model: model.staged_name,
        repeated=lambda at, model: f"{at} repeats {model.kind} {model.file!r}",
    )


def no_checkpoint_problem(models: Sequence[ModelSpec], where: str = CONFIG_KEY) -> str | None:
    """Why a build with these models is refused, or None. Without a checkpoint A1111 1.9 downloads
    runwayml/stable-diffusion-v1-5 at start, a repository that is gone, and (with
    --no-download-sd-model) starts with no model: it never generates."""
    if default_checkpoint(models) is not None:
        return None
    return (
        f"{where} lists no checkpoint (kind: checkpoint): A1111 would start with no model and never "
        f"generate; add one, or deploy an existing image with salad-sd:image.ref"
    )


def default_checkpoint(models: Sequence[ModelSpec]) -> ModelSpec | None:
    """The checkpoint A1111 loads at start (`--ckpt`): the first one listed."""
    return next((m for m in models if m.kind == "checkpoint"), None)


def ensure_layout(context_dir: Path | str) -> None:
    """Creates the staging directories the Dockerfile copies (they are git-ignored, so a fresh clone
    lacks them, and COPY fails on a missing source)."""
    root = Path(context_dir) / MODELS_DIR
    for name in KINDS:
        (root / name).mkdir(parents=True, exist_ok=True)
    (Path(context_dir) / EXTENSIONS_DIR).mkdir(parents=True, exist_ok=True)


def stray_files(models: Sequence[ModelSpec], context_dir: Path | str) -> list[Path]:
    """Files in the staging directories that the model list does not name (they would be baked in too)."""
    listed = {m.staged_path(context_dir) for m in models}
    stray = []
    for kind in KINDS:
        directory = Path(context_dir) / MODELS_DIR / kind
        if directory.is_dir():
            stray += [
                p for p in sorted(directory.iterdir()) if p not in listed and not p.name.endswith(".part")
            ]
    return stray


def sha256_file(path: Path, progress: Callable[[int], None] | None = None) -> str:
    """Hex sha256 of a file, read in chunks; `progress` gets the byte count after each chunk."""
    return sha256_of(path, progress).hexdigest()


def sha256_of(path: Path, progress: Callable[[int], None] | None = None) -> hashlib._Hash:
    """The running sha256 of a file's content (more bytes can still be added to it)."""
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done)
    return digest


class VerificationCache:
    """sha256 of staged files by (size, mtime_ns), persisted as JSON next to the models."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, dict[str, object]] = {}
        try:
            loaded = json.loads(path.read_text())
        except (OSError, ValueError):
            loaded = {}
        if isinstance(loaded, dict):
            self._entries = {k: v for k, v in loaded.items() if isinstance(v, dict)}

    @classmethod
    def for_context(cls, context_dir: Path | str) -> VerificationCache:
        return cls(Path(context_dir) / MODELS_DIR / CACHE_FILE)

    def digest(self, key: str, path: Path) -> str:
        """The file's sha256: remembered when size and mtime are unchanged, else computed and stored."""
        stat = path.stat()
        entry = self._entries.get(key)
        if entry and entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns:
            remembered = entry.get("sha256")
            if isinstance(remembered, str):
                return remembered
        value = sha256_file(path)
        self.remember(key, path, value)
        return value

    def remember(self, key: str, path: Path, sha256: str) -> None:
        stat = path.stat()
        self._entries[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256}

    def save(self) -> None:
        """Writes atomically; a cache that cannot be written only costs a re-hash next time."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self._entries, indent=1, sort_keys=True))
            os.replace(tmp, self.path)
        except OSError:
            pass


def verify_model(model: ModelSpec, context_dir: Path | str, cache: VerificationCache) -> None:
    """Raises MissingModelError or ChecksumMismatchError, naming the file and what to do."""
    path = model.staged_path(context_dir)
    if not path.is_file():
        how = f"run `{FETCH_HINT}`" if model.url else "it has no url: copy the file there by hand"
        raise MissingModelError(f"model {model.file!r} ({model.kind}) is missing: expected {path}; {how}")
    if model.sha256 is None:
        return
    actual = cache.digest(model.staged_name, path)
    if actual != model.sha256:
        raise ChecksumMismatchError(
            f"model {model.file!r} ({model.kind}) at {path} has sha256 {actual}, but the config says "
            f"{model.sha256}; delete the file and run `{FETCH_HINT}`, or fix the sha256"
        )


def verify_models(models: Sequence[ModelSpec], context_dir: Path | str) -> None:
    """Checks every listed model (presence, then checksum when given), using and updating the cache."""
    cache = VerificationCache.for_context(context_dir)
    try:
        for model in models:
            verify_model(model, context_dir, cache)
    finally:
        cache.save()
