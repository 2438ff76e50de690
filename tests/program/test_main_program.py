"""The real `__main__.py` under Pulumi mocks, once for every `Pulumi.<stack>.yaml` checked in."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

import components.model_image.resource
from components.container_group.provider_base import PROVIDER_KEY
from tests.paths import REPO_ROOT, STACK_FILES
from tests.program.stack_files import with_worker_checksum
from tests.pulumi_mocks import IMAGE_TYPE, RecordingMocks, install_mocks

GROUP_TYPE = "pulumi-python:dynamic/salad:ContainerGroup"
DIGEST = "registry.example.com/team/salad-sd@sha256:" + "c" * 64


# Answers as the providers would after a successful deploy.
EXTRA_OUTPUTS: dict[str, dict[str, Any]] = {
    IMAGE_TYPE: {"repo_digest": DIGEST},
    GROUP_TYPE: {
        "url": "https://kiwi-bean-0123456789abcdef.salad.cloud",
        "status": "running",
        "ready_replicas": 1,
        "estimated_cost_per_hour": 0.3,
    },
}


def stack_config(path: Path) -> dict[str, str]:
    """The stack file's config as the CLI hands it to the program: objects as JSON strings."""
    raw = yaml.safe_load(path.read_text())["config"]
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in raw.items()}


def run_program(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[RecordingMocks, dict[str, Any]]:
    stack = path.name.split(".")[1]
    mocks = RecordingMocks(EXTRA_OUTPUTS)
    install_mocks(mocks, stack=stack)
    config = {**stack_config(path), "salad:apiKey": "salad-key-for-the-program-test"}
    if "salad-sd:image" in config:
        config["salad-sd:image"] = json.dumps(with_worker_checksum(json.loads(config["salad-sd:image"])))
    pulumi.runtime.set_all_config(config, secret_keys=["salad:apiKey"])
    # The models are multi-GB downloads: the wiring test stands in for their verification.
    monkeypatch.setattr(components.model_image.resource, "check_build_context", lambda _args: None)
    return mocks, runpy.run_path(str(REPO_ROOT / "__main__.py"))


@pytest.mark.parametrize("path", STACK_FILES, ids=[p.name for p in STACK_FILES])
@pulumi.runtime.test
def test_stack_registers_image_and_group(path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    mocks, program = run_program(path, monkeypatch)
    app = program["app"]
    config = program["config"]

    def check(values: list[Any]) -> None:
        url, group_name, image_ref, ready, example = values
        (group,) = mocks.of_type(GROUP_TYPE)
        assert [r.typ for r in mocks.resources].count("salad-sd:index:A1111Deployment") == 1
        inputs = group.inputs
        assert PROVIDER_KEY in inputs
        assert inputs["name"] == config.name == group_name
        assert inputs["organization"] == config.organization
        if config.queue is None:  # queue stacks: tests/program/test_queue_program.py
            assert inputs["gateway"]["port"] == 7860
            assert url.startswith("https://") and url in example and "/sdapi/v1/txt2img" in example
        assert inputs["startup_probe"]["http"]["path"] == "/internal/profile-startup"
        assert inputs["liveness_probe"]["http"]["path"] == "/internal/ping"
        assert inputs["replicas"] == config.container_group_inputs["replicas"]
        if config.image.ref is None:
            (image,) = mocks.of_type(IMAGE_TYPE)
            assert image.inputs["build"]["platform"] == "linux/amd64"
            assert inputs["image"] == DIGEST == image_ref
        else:
            assert not mocks.of_type(IMAGE_TYPE) and inputs["image"] == config.image.ref == image_ref
        assert ready == 1

    return pulumi.Output.all(
        app.url, app.container_group_name, app.image_ref, app.ready_replicas, app.example_request
    ).apply(check)
