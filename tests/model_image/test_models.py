"""Model list schema, staging layout and verification with the size+mtime hash cache."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

from components.model_image import models
from components.model_image.models import (
    ChecksumMismatchError,
    MissingModelError,
    ModelConfigError,
    ModelSpec,
    default_checkpoint,
    ensure_layout,
    parse_models,
    stray_files,
    verify_models,
)

SHA_A = "a" * 64


def test_parses_entries_and_lowercases_the_checksum() -> None:
    parsed = parse_models(
        [
            {
                "file": "dreamshaper_8.safetensors",
                "kind": "checkpoint",
                "url": "https://x.test/d",
                "sha256": "AB" * 32,
            },
            {"file": "detail.safetensors", "kind": "lora"},
        ]
    )
    assert parsed == [
        ModelSpec("dreamshaper_8.safetensors", "checkpoint", "https://x.test/d", "ab" * 32),
        ModelSpec("detail.safetensors", "lora"),
    ]
    assert parse_models(None) == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("x", "salad-sd:image.models must be a list"),
        (["x"], "salad-sd:image.models[0] must be an object"),
        ([{"kind": "lora"}], "models[0].file must be a plain file name"),
        ([{"file": "../x", "kind": "lora"}], "models[0].file must be a plain file name"),
        ([{"file": "a/b", "kind": "lora"}], "must be a plain file name"),
        ([{"file": ".hidden", "kind": "lora"}], "must not start with '.'"),
        (
            [{"file": "x", "kind": "upscaler"}],
            "models[0].kind must be one of checkpoint, lora, vae, embedding",
        ),
        ([{"file": "x", "kind": "vae", "url": "ftp://h/x"}], "models[0].url must be an http(s) URL"),
        ([{"file": "x", "kind": "vae", "sha256": "abc"}], "models[0].sha256 must be 64 hex digits"),
        ([{"file": "x", "kind": "vae", "size": 3}], "models[0] has unknown keys ['size']"),
        ([{"file": "x", "kind": "vae"}, {"file": "x", "kind": "vae"}], "models[1] repeats vae 'x'"),
    ],
)
def test_rejects_invalid_entries_naming_the_key(raw: object, message: str) -> None:
    with pytest.raises(
        ModelConfigError,
        match=re.escape(message),
    ):
        parse_models(raw)


def test_the_same_file_name_may_appear_under_two_kinds() -> None:
    assert len(parse_models([{"file": "x", "kind": "vae"}, {"file": "x", "kind": "lora"}])) == 2


def test_the_first_checkpoint_is_the_default() -> None:
    listed = parse_models(
        [
            {"file": "l", "kind": "lora"},
            {"file": "c1", "kind": "checkpoint"},
            {"file": "c2", "kind": "checkpoint"},
        ]
    )
    assert default_checkpoint(listed) == listed[1]
    assert default_checkpoint(listed[:1]) is None


def test_paths_in_the_context_and_in_the_image(tmp_path: Path) -> None:
    model = ModelSpec("cn.pth", "controlnet")
    assert model.staged_path(tmp_path) == tmp_path / "models" / "controlnet" / "cn.pth"
    # Not inside an extension's folder: that would create sd-webui-controlnet without the extension.
    assert model.image_path == "/data/models/ControlNet/cn.pth"
    assert ModelSpec("e.pt", "embedding").image_path == "/data/embeddings/e.pt"


def _stage(context: Path, model: ModelSpec, data: bytes) -> Path:
    path = model.staged_path(context)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_missing_file_is_named_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(
        MissingModelError,
        match=r"model 'd.safetensors' \(checkpoint\) is missing: expected .*"
        r"models/checkpoint/d.safetensors; run `scripts/stage-image.sh <stack>`",
    ):
        verify_models([ModelSpec("d.safetensors", "checkpoint", url="https://x.test/d")], tmp_path)
    with pytest.raises(MissingModelError, match="it has no url: copy the file there by hand"):
        verify_models([ModelSpec("d.safetensors", "checkpoint")], tmp_path)


def test_checksum_mismatch_names_both_digests(tmp_path: Path) -> None:
    model = ModelSpec("d.safetensors", "checkpoint", sha256=SHA_A)
    _stage(tmp_path, model, b"weights")
    actual = hashlib.sha256(b"weights").hexdigest()
    with pytest.raises(
        ChecksumMismatchError, match=f"'d.safetensors' .* has sha256 {actual}, but the config says {SHA_A}"
    ):
        verify_models([model], tmp_path)


def test_a_file_without_checksum_only_needs_to_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = ModelSpec("d.safetensors", "checkpoint")
    _stage(tmp_path, model, b"weights")
    monkeypatch.setattr(models, "sha256_file", lambda path: pytest.fail("hashed a file without sha256"))
    verify_models([model], tmp_path)


def test_unchanged_files_are_hashed_once_across_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"weights" * 1000
    model = ModelSpec("d.safetensors", "checkpoint", sha256=hashlib.sha256(data).hexdigest())
    path = _stage(tmp_path, model, data)
    hashed: list[Path] = []
    real = models.sha256_file

    def counting(target: Path) -> str:
        hashed.append(target)
        return real(target)

    monkeypatch.setattr(models, "sha256_file", counting)
    verify_models([model], tmp_path)
    verify_models([model], tmp_path)  # a new cache object, read back from .verified.json
    assert hashed == [path]
    assert (tmp_path / "models" / ".verified.json").is_file()

    # Same size, new content, new mtime: hashed again and caught.
    path.write_bytes(b"WEIGHTS" * 1000)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    with pytest.raises(ChecksumMismatchError):
        verify_models([model], tmp_path)
    assert hashed == [path, path]


def test_a_corrupt_cache_file_only_costs_a_rehash(tmp_path: Path) -> None:
    model = ModelSpec("d.safetensors", "checkpoint", sha256=hashlib.sha256(b"w").hexdigest())
    _stage(tmp_path, model, b"w")
    (tmp_path / "models" / ".verified.json").write_text("{not json")
    verify_models([model], tmp_path)


def test_layout_and_stray_files(tmp_path: Path) -> None:
    ensure_layout(tmp_path)
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == sorted(models.KINDS)
    assert (tmp_path / "extensions").is_dir()
    listed = ModelSpec("keep.safetensors", "lora")
    _stage(tmp_path, listed, b"x")
    _stage(tmp_path, ModelSpec("old.safetensors", "lora"), b"x")
    _stage(tmp_path, ModelSpec("half.safetensors.part", "vae"), b"x")
    assert stray_files([listed], tmp_path) == [tmp_path / "models" / "lora" / "old.safetensors"]


def test_a_build_without_a_checkpoint_is_refused_naming_the_key() -> None:
    assert models.no_checkpoint_problem([ModelSpec("sd.safetensors", "checkpoint")]) is None
    problem = models.no_checkpoint_problem([ModelSpec("detail.safetensors", "lora")])
    assert problem is not None
    assert problem.startswith("salad-sd:image.models lists no checkpoint")
    assert "salad-sd:image.ref" in problem
