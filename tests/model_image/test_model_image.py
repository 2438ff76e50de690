"""`ModelImage` under Pulumi mocks: what it hands pulumi_docker.Image, and when it refuses to build."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import rpc

from components.model_image.extensions import ExtensionSpec
from components.model_image.models import (
    KINDS,
    ChecksumMismatchError,
    MissingModelError,
    ModelError,
    ModelSpec,
)
from components.model_image.queue_worker import QueueWorkerSpec
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
            "EXTENSIONS": "",
            "WARM_HF_CACHE": "1",
            "QUEUE_WORKER_URL": "",
            "QUEUE_WORKER_SHA256": "",
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


def test_a_build_without_a_checkpoint_is_refused(mocks: RecordingMocks, context: Path) -> None:
    shutil.rmtree(context / "models")
    with pytest.raises(ModelError, match=r"salad-sd:image.models lists no checkpoint"):
        ModelImage("sd", args(context, models=[]))
    assert mocks.resources == []


@pulumi.runtime.test
def test_extensions_and_the_queue_worker_reach_the_build_args(mocks: RecordingMocks, context: Path) -> Any:
    extension = ExtensionSpec(url="https://example.com/x/sd-webui-controlnet.git", ref="a" * 40, name="cn")
    (context / "extensions" / "cn").mkdir(parents=True)
    (context / "extensions" / ".staged.json").write_text(
        json.dumps({"cn": {"url": extension.url, "ref": extension.ref}})
    )
    worker = QueueWorkerSpec(url="https://example.com/worker.tar.gz", sha256="b" * 64)
    component = ModelImage("sd", args(context, extensions=[extension], queue_worker=worker))

    def check(_: Any) -> None:
        (image,) = mocks.of_type(IMAGE_TYPE)
        build_args = image.inputs["build"]["args"]
        assert build_args["EXTENSIONS"] == "cn@" + "a" * 40
        assert build_args["QUEUE_WORKER_URL"] == "https://example.com/worker.tar.gz"
        assert build_args["QUEUE_WORKER_SHA256"] == "b" * 64
        # The staging directories the Dockerfile copies exist even though git ignores them.
        assert sorted(p.name for p in (context / "models").iterdir() if p.is_dir()) == sorted(KINDS)

    return component.ref.apply(check)


def test_an_extension_not_staged_at_its_commit_is_refused(mocks: RecordingMocks, context: Path) -> None:
    extension = ExtensionSpec(url="https://example.com/x/cn.git", ref="a" * 40, name="cn")
    with pytest.raises(ModelError, match=r"extension .cn. is not staged at a{40} .*scripts/stage-image.sh"):
        ModelImage("sd", args(context, extensions=[extension]))
    (context / "extensions" / "cn").mkdir(parents=True)
    (context / "extensions" / ".staged.json").write_text(
        json.dumps({"cn": {"url": extension.url, "ref": "c" * 40}})
    )
    with pytest.raises(ModelError, match=r"extension 'cn' is not staged"):
        ModelImage("sd", args(context, extensions=[extension]))
    assert mocks.resources == []


def test_an_unlisted_staged_extension_is_refused(mocks: RecordingMocks, context: Path) -> None:
    (context / "extensions" / "sd-webui-controlnet").mkdir(parents=True)
    with pytest.raises(ModelError, match=r"sd-webui-controlnet in .* not in salad-sd:image.extensions"):
        ModelImage("sd", args(context))
    assert mocks.resources == []
