"""`ModelImage` under Pulumi mocks: what it hands pulumi_docker.Image, and when it refuses to build."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import rpc

from components.model_image import resource as model_image
from components.model_image.models import ChecksumMismatchError, MissingModelError, ModelError, ModelSpec
from components.model_image.resource import (
    DEFAULT_BASE_IMAGE,
    ModelImage,
    ModelImageArgs,
    RegistryCredentials,
)
from tests.paths import REPO_ROOT
from tests.pulumi_mocks import IMAGE_TYPE, RecordingMocks, install_mocks

DIGEST = "registry.example.com/team/sd@sha256:" + "d" * 64


@pytest.fixture
def mocks() -> RecordingMocks:
    recorder = RecordingMocks({IMAGE_TYPE: {"repo_digest": DIGEST}})
    install_mocks(recorder, stack="dev")
    return recorder


@pytest.fixture
def context(tmp_path: Path) -> Path:
    """A build context with the real Dockerfile and a staged 1 KiB checkpoint."""
    root = tmp_path / "image"
    root.mkdir()
    shutil.copy2(REPO_ROOT / "image" / "Dockerfile", root / "Dockerfile")
    (root / "models" / "checkpoint").mkdir(parents=True)
    (root / "models" / "checkpoint" / "sd.safetensors").write_bytes(b"w" * 1024)
    (root / "models" / "lora").mkdir()
    (root / "models" / "lora" / "detail.safetensors").write_bytes(b"lora")
    return root


def checkpoint(sha256: str | None = None) -> ModelSpec:
    return ModelSpec("sd.safetensors", "checkpoint", sha256=sha256 or hashlib.sha256(b"w" * 1024).hexdigest())


def args(context: Path, **overrides: Any) -> ModelImageArgs:
    values: dict[str, Any] = {
        "repository": "registry.example.com/team/sd",
        "models": [checkpoint(), ModelSpec("detail.safetensors", "lora")],
        "context_dir": str(context),
        "registry": RegistryCredentials("registry.example.com", "robot", "s3cret-token"),
    }
    return ModelImageArgs(**{**values, **overrides})


@pulumi.runtime.test
def test_builds_from_the_context_for_amd64_with_the_build_args(mocks: RecordingMocks, context: Path) -> Any:
    component = ModelImage("sd", args(context, build_network="host"))

    def check(_: Any) -> None:
        (image,) = mocks.of_type(IMAGE_TYPE)
        build = image.inputs["build"]
        assert build["context"] == str(context)
        assert build["dockerfile"] == f"{context}/Dockerfile"
        assert build["platform"] == "linux/amd64"
        assert build["network"] == "host"
        assert build["args"] == {
            "BASE_IMAGE": DEFAULT_BASE_IMAGE,
            "CHECKPOINT": "sd.safetensors",
            "MODELS": "checkpoint/sd.safetensors lora/detail.safetensors",
            "WARM_HF_CACHE": "1",
        }
        assert image.inputs["imageName"] == "registry.example.com/team/sd:dev"  # default tag: the stack

    return component.ref.apply(check)


@pulumi.runtime.test
def test_overrides_reach_the_build_args(mocks: RecordingMocks, context: Path) -> Any:
    component = ModelImage(
        "sd",
        args(
            context, base_image="me/a1111:custom", warm_hf_cache=False, tag="v3", extra_build_args={"X": "1"}
        ),
    )

    def check(_: Any) -> None:
        (image,) = mocks.of_type(IMAGE_TYPE)
        assert image.inputs["build"]["args"]["BASE_IMAGE"] == "me/a1111:custom"
        assert image.inputs["build"]["args"]["WARM_HF_CACHE"] == "0"
        assert image.inputs["build"]["args"]["X"] == "1"
        assert image.inputs["imageName"] == "registry.example.com/team/sd:v3"

    return component.ref.apply(check)


@pulumi.runtime.test
def test_registry_password_is_a_secret(mocks: RecordingMocks, context: Path) -> Any:
    component = ModelImage("sd", args(context))

    def check(_: Any) -> None:
        (image,) = mocks.of_type(IMAGE_TYPE)
        # A secret password makes the whole registry input secret on the wire (and in the state).
        assert rpc.is_rpc_secret(image.inputs["registry"])
        assert rpc.unwrap_rpc_secret(image.inputs["registry"]) == {
            "server": "registry.example.com",
            "username": "robot",
            "password": "s3cret-token",
        }

    return component.ref.apply(check)


@pulumi.runtime.test
def test_ref_is_the_pushed_digest_and_the_image_is_a_child(mocks: RecordingMocks, context: Path) -> Any:
    component = ModelImage("sd", args(context))

    def check(values: list[Any]) -> None:
        ref, urn = values
        assert ref == DIGEST
        (image,) = mocks.of_type(IMAGE_TYPE)
        assert image.name == "sd-image"
        assert "salad-sd:image:ModelImage$docker:index/image:Image::sd-image" in urn

    assert component.image is not None
    return pulumi.Output.all(component.ref, component.image.urn).apply(check)


@pulumi.runtime.test
def test_ref_mode_deploys_an_existing_image_without_building(mocks: RecordingMocks, tmp_path: Path) -> Any:
    existing = "docker.io/me/sd@sha256:" + "e" * 64
    # No context at all: nothing is checked or built.
    component = ModelImage("sd", ModelImageArgs(ref=existing, context_dir=str(tmp_path / "absent")))

    def check(values: list[Any]) -> None:
        ref, _urn = values
        assert ref == existing
        assert component.image is None
        assert not mocks.of_type(IMAGE_TYPE)
        assert [r.typ for r in mocks.resources] == ["salad-sd:image:ModelImage"]

    return pulumi.Output.all(component.ref, component.urn).apply(check)


def test_a_missing_model_fails_before_anything_is_registered(mocks: RecordingMocks, context: Path) -> None:
    missing = ModelSpec("dreamshaper_8.safetensors", "checkpoint", url="https://x.test/d")
    with pytest.raises(MissingModelError, match=r"model 'dreamshaper_8\.safetensors' .* is missing"):
        ModelImage("sd", args(context, models=[missing]))
    assert mocks.resources == []


def test_a_bad_checksum_fails_before_anything_is_registered(mocks: RecordingMocks, context: Path) -> None:
    with pytest.raises(ChecksumMismatchError, match=r"model 'sd\.safetensors' .* has sha256"):
        ModelImage("sd", args(context, models=[checkpoint(sha256="0" * 64)]))
    assert mocks.resources == []


def test_unlisted_staged_files_are_refused(mocks: RecordingMocks, context: Path) -> None:
    (context / "models" / "vae").mkdir()
    (context / "models" / "vae" / "old.vae.pt").write_bytes(b"v")
    with pytest.raises(ModelError, match=r"vae/old.vae.pt in .* not in salad-sd:image.models"):
        ModelImage("sd", args(context))
    assert mocks.resources == []


def test_a_repository_or_a_ref_is_required(mocks: RecordingMocks, context: Path) -> None:
    with pytest.raises(ValueError, match="needs a repository to push to, or a ref"):
        ModelImage("sd", args(context, repository=None))


@pulumi.runtime.test
def test_an_empty_model_list_builds_with_a_warning(
    mocks: RecordingMocks, context: Path, monkeypatch: pytest.MonkeyPatch
) -> Any:
    warnings: list[str] = []
    monkeypatch.setattr(model_image.pulumi.log, "warn", lambda message, **_: warnings.append(message))
    shutil.rmtree(context / "models")
    component = ModelImage("sd", args(context, models=[]))

    def check(_: Any) -> None:
        assert warnings == [
            "salad-sd:image.models is empty: the image is the base image plus the entrypoint, "
            "and A1111 starts without a baked checkpoint"
        ]
        (image,) = mocks.of_type(IMAGE_TYPE)
        assert image.inputs["build"]["args"]["CHECKPOINT"] == ""
        # The staging directories the Dockerfile copies exist even though git ignores them.
        assert sorted(p.name for p in (context / "models").iterdir() if p.is_dir()) == [
            "checkpoint", "controlnet", "embedding", "extensions", "lora", "vae",
        ]  # fmt: skip

    return component.ref.apply(check)
