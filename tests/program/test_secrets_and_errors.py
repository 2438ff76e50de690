"""The real `__main__.py` under mocks: secrets stay secret, errors are one clean `RunError` before any
resource, and the provider's pickled import path stays what existing stacks' state holds."""

from __future__ import annotations

import base64
import json
import logging
import pickletools
import runpy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.rpc import is_rpc_secret, unwrap_rpc_secret

import components.model_image.resource
import components.program.secrecy
from components.container_group.provider_base import PROVIDER_KEY
from components.model_image.models import ModelError
from tests.paths import REPO_ROOT
from tests.program.test_main_program import EXTRA_OUTPUTS, GROUP_TYPE
from tests.pulumi_mocks import IMAGE_TYPE, RecordingMocks, install_mocks

STACK = "secrets-test"  # no Pulumi.<stack>.yaml unless a test writes one
TOKEN = "hf_token-DO-NOT-STORE-IN-PLAINTEXT-7c1e"
PASSWORD = "registry-password-DO-NOT-STORE-5d2a"
API_KEY = "salad-api-key-for-the-secrets-test"
REPOSITORY = "registry.example.com/team/salad-sd"
# A model, so ModelImage does not warn about an empty list (a log tied to a resource outlives the test).
MODELS = [{"file": "m.safetensors", "kind": "checkpoint", "url": "https://example.com/m.safetensors",
           "sha256": "a" * 64}]
PROVIDER_PATH = ("components.container_group.provider", "ContainerGroupProvider")


class SecretOutputsMonitor(MockMonitor):
    """Also records each resource's `additional_secret_outputs`, which the engine applies to state."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.secret_outputs: dict[str, list[str]] = {}

    def RegisterResource(self, request: Any) -> Any:
        if request.type != "pulumi:pulumi:Stack":
            self.secret_outputs[request.name] = list(request.additionalSecretOutputs)
        return super().RegisterResource(request)


class Recorded(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.warnings: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == logging.WARNING:
            self.warnings.append(record.getMessage())


def base_config(*, api_key: bool = True) -> dict[str, Any]:
    config: dict[str, Any] = {
        "salad:organization": "acme",
        "salad:project": "image-gen",
        "salad-sd:image": {"repository": REPOSITORY, "models": MODELS},
        "salad-sd:deployment": {"replicas": 1},
    }
    if api_key:
        config["salad:apiKey"] = API_KEY
    return config


class Program:
    def __init__(self, mocks: RecordingMocks, monitor: SecretOutputsMonitor, log: Recorded) -> None:
        self.mocks, self.monitor, self.log = mocks, monitor, log
        self.error = ""

    def group(self) -> pulumi.runtime.MockResourceArgs:
        (group,) = self.mocks.of_type(GROUP_TYPE)
        return group

    def image(self) -> pulumi.runtime.MockResourceArgs:
        (image,) = self.mocks.of_type(IMAGE_TYPE)
        return image


def run_main(
    monkeypatch: pytest.MonkeyPatch,
    config: dict[str, Any],
    secret_keys: list[str],
    *,
    preview: bool = False,
) -> tuple[Program, dict[str, Any]]:
    mocks = RecordingMocks(EXTRA_OUTPUTS)
    monitor = SecretOutputsMonitor(mocks)
    log = Recorded()
    logger = logging.getLogger(f"mocks-{id(log)}")
    logger.addHandler(log)
    install_mocks(mocks, stack=STACK, preview=preview, monitor=monitor, logger=logger)
    raw = {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}
    pulumi.runtime.set_all_config(raw, secret_keys=secret_keys)
    monkeypatch.setattr(components.model_image.resource, "check_build_context", lambda _args: None)
    return Program(mocks, monitor, log), runpy.run_path(str(REPO_ROOT / "__main__.py"))


def run_error(
    monkeypatch: pytest.MonkeyPatch,
    config: dict[str, Any],
    secret_keys: list[str],
    check_build_context: Callable[[Any], None] = lambda _args: None,
) -> Program:
    """Runs the program expecting a RunError (the runtime still settles, as after a real failed run);
    returns what was registered."""
    ran: list[Program] = []

    @pulumi.runtime.test
    def run() -> None:
        mocks = RecordingMocks(EXTRA_OUTPUTS)
        ran.append(Program(mocks, SecretOutputsMonitor(mocks), Recorded()))
        install_mocks(mocks, stack=STACK, monitor=ran[0].monitor)
        raw = {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}
        pulumi.runtime.set_all_config(raw, secret_keys=secret_keys)
        monkeypatch.setattr(components.model_image.resource, "check_build_context", check_build_context)
        runpy.run_path(str(REPO_ROOT / "__main__.py"))

    with pytest.raises(pulumi.RunError) as caught:
        run()
    assert type(caught.value) is pulumi.RunError
    ran[0].error = str(caught.value)
    return ran[0]


def plaintext(value: Any) -> Iterator[str]:
    """Every string in `value` that is not inside a secret."""
    if is_rpc_secret(value):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from plaintext(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from plaintext(item)
    elif isinstance(value, str):
        yield value


def all_plaintext(program: Program) -> str:
    return "\n".join(text for r in program.mocks.resources for text in plaintext(r.inputs))


@pytest.fixture
def stack_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(components.program.secrecy, "PROJECT_DIR", tmp_path)
    return tmp_path


def write_stack_file(directory: Path, config: dict[str, Any]) -> None:
    import yaml

    (directory / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": config}))


# --- secrets ------------------------------------------------------------------------------------------


@pulumi.runtime.test
def test_secret_env_value_reaches_the_group_only_inside_a_secret(
    monkeypatch: pytest.MonkeyPatch, stack_dir: Path
) -> None:
    """`pulumi config set --secret --path 'salad-sd:deployment.env.HF_TOKEN'`: the stack file encrypts
    that leaf, the engine calls the whole key secret."""
    config = base_config()
    config["salad-sd:deployment"] = {"replicas": 1, "env": {"HF_TOKEN": TOKEN, "MODE": "fast"}}
    write_stack_file(stack_dir, {"salad-sd:deployment": {"replicas": 1, "env": {
        "HF_TOKEN": {"secure": "v1:ciphertext"}, "MODE": "fast"}}})
    program, main = run_main(monkeypatch, config, ["salad:apiKey", "salad-sd:deployment"])

    def check(_: Any) -> None:
        inputs = program.group().inputs
        env = inputs["environment_variables"]
        assert is_rpc_secret(env) and unwrap_rpc_secret(env) == {"HF_TOKEN": TOKEN, "MODE": "fast"}
        assert TOKEN not in all_plaintext(program)
        # Only the env: the rest of salad-sd:deployment was not set as a secret and stays readable.
        assert inputs["name"] == "salad-sd-secrets-test" and inputs["replicas"] == 1
        assert "environment_variables" in program.monitor.secret_outputs["salad-sd-group"]

    return main["app"].url.apply(check)


@pulumi.runtime.test
def test_a_secret_deployment_key_without_stack_file_keeps_every_setting_secret(
    monkeypatch: pytest.MonkeyPatch, stack_dir: Path
) -> None:
    """Secret config from elsewhere (Automation API, ESC): which leaf is secret is unknown, so all are."""
    config = base_config()
    config["salad-sd:deployment"] = {"replicas": 1, "env": {"HF_TOKEN": TOKEN}}
    program, main = run_main(monkeypatch, config, ["salad:apiKey", "salad-sd:deployment"])

    def check(_: Any) -> None:
        inputs = program.group().inputs
        for name in ("name", "replicas", "cpu", "environment_variables", "gateway", "startup_probe"):
            assert is_rpc_secret(inputs[name]), name
            assert name in program.monitor.secret_outputs["salad-sd-group"]
        assert inputs["organization"] == "acme" and not is_rpc_secret(inputs["image"])
        assert TOKEN not in all_plaintext(program)

    return main["app"].url.apply(check)


@pulumi.runtime.test
def test_env_is_plain_when_nothing_is_secret(monkeypatch: pytest.MonkeyPatch, stack_dir: Path) -> None:
    config = base_config()
    config["salad-sd:deployment"] = {"env": {"MODE": "fast"}}
    program, main = run_main(monkeypatch, config, ["salad:apiKey"])

    def check(_: Any) -> None:
        inputs = program.group().inputs
        assert inputs["environment_variables"] == {"MODE": "fast"}
        assert "environment_variables" not in program.monitor.secret_outputs["salad-sd-group"]

    return main["app"].url.apply(check)


@pulumi.runtime.test
def test_registry_password_is_secret_and_the_rest_of_the_image_stays_readable(
    monkeypatch: pytest.MonkeyPatch, stack_dir: Path
) -> None:
    """The README's `--secret --path 'salad-sd:image.registry.password'` makes salad-sd:image secret."""
    registry = {"server": "registry.example.com", "username": "ci"}
    config = base_config()
    image = {"repository": REPOSITORY, "models": MODELS}
    config["salad-sd:image"] = {**image, "registry": {**registry, "password": PASSWORD}}
    encrypted = {**registry, "password": {"secure": "v1:ciphertext"}}
    write_stack_file(stack_dir, {"salad-sd:image": {**image, "registry": encrypted}})
    program, main = run_main(monkeypatch, config, ["salad:apiKey", "salad-sd:image"])

    def check(_: Any) -> None:
        image, group = program.image().inputs, program.group().inputs
        assert image["imageName"] == f"{REPOSITORY}:{STACK}"
        assert is_rpc_secret(image["registry"])  # the password makes the whole login a secret
        assert unwrap_rpc_secret(image["registry"])["password"] == PASSWORD
        assert is_rpc_secret(group["registry_authentication"])
        assert PASSWORD not in all_plaintext(program)

    return main["app"].url.apply(check)


@pulumi.runtime.test
def test_a_secret_image_key_without_stack_file_keeps_the_image_secret(
    monkeypatch: pytest.MonkeyPatch, stack_dir: Path
) -> None:
    config = base_config()
    program, main = run_main(monkeypatch, config, ["salad:apiKey", "salad-sd:image"])

    def check(_: Any) -> None:
        assert is_rpc_secret(program.image().inputs["imageName"])
        assert is_rpc_secret(program.group().inputs["image"])
        assert REPOSITORY not in all_plaintext(program)

    return main["app"].url.apply(check)


# --- clean errors ---------------------------------------------------------------------------------------


def test_a_config_error_is_one_run_error_naming_key_and_range_before_any_resource(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = base_config()
    config["salad-sd:deployment"] = {"replicas": 600}
    program = run_error(monkeypatch, config, ["salad:apiKey"])
    message = program.error
    assert "salad-sd:deployment.replicas" in message and "between 0 and 500" in message
    assert "600" in message
    assert program.mocks.resources == [] and list(program.monitor.secret_outputs) == []


def test_a_missing_api_key_stops_up_before_any_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SALAD_API_KEY", raising=False)
    program = run_error(monkeypatch, base_config(api_key=False), [])
    message = program.error
    assert "pulumi config set --secret salad:apiKey <your Salad API key>" in message
    assert "SALAD_API_KEY" in message
    assert program.mocks.resources == [] and list(program.monitor.secret_outputs) == []


def test_a_missing_model_is_a_run_error_naming_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(_args: Any) -> None:
        raise ModelError("m.safetensors is missing from image/models/Stable-diffusion: run the fetcher")

    program = run_error(monkeypatch, base_config(), ["salad:apiKey"], missing)
    assert "m.safetensors is missing" in program.error
    assert not program.mocks.of_type(GROUP_TYPE) and not program.mocks.of_type(IMAGE_TYPE)


def test_config_errors_and_a_missing_key_come_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SALAD_API_KEY", raising=False)
    config = base_config(api_key=False)
    config["salad-sd:deployment"] = {"cpu": 64}
    message = run_error(monkeypatch, config, []).error
    assert "salad-sd:deployment.cpu" in message and "salad:apiKey" in message


@pulumi.runtime.test
def test_the_api_key_may_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALAD_API_KEY", "from-env")
    program, main = run_main(monkeypatch, base_config(api_key=False), [])

    def check(_: Any) -> None:
        assert program.mocks.of_type(GROUP_TYPE)
        assert not [w for w in program.log.warnings if "apiKey" in w]

    return main["app"].url.apply(check)


@pulumi.runtime.test
def test_a_missing_api_key_is_a_warning_in_preview(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SALAD_API_KEY", raising=False)
    program, main = run_main(monkeypatch, base_config(api_key=False), [], preview=True)

    def check(_: Any) -> None:
        assert any("salad:apiKey is not set" in w for w in program.log.warnings), program.log.warnings
        assert program.mocks.of_type(GROUP_TYPE)

    return main["app"].container_group_id.apply(check)


# --- the provider's import path in state ------------------------------------------------------------------


def pickled_globals(pickle: bytes) -> list[tuple[str, str]]:
    """(module, name) of every global a pickle references (GLOBAL and STACK_GLOBAL opcodes)."""
    found: list[tuple[str, str]] = []
    strings: list[str] = []
    for opcode, arg, _ in pickletools.genops(pickle):
        if isinstance(arg, str):
            strings.append(arg)
        if opcode.name == "GLOBAL":
            module, _, name = str(arg).partition(" ")
            found.append((module, name))
        elif opcode.name == "STACK_GLOBAL":
            found.append((strings[-2], strings[-1]))
    return found


@pulumi.runtime.test
def test_state_names_the_provider_by_its_import_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every stack's state holds this path: renaming the module breaks refresh and destroy of them."""
    program, main = run_main(monkeypatch, base_config(), ["salad:apiKey"])

    def check(_: Any) -> None:
        serialized = program.group().inputs[PROVIDER_KEY]
        assert is_rpc_secret(serialized)
        pickle = base64.b64decode(unwrap_rpc_secret(serialized))
        assert PROVIDER_PATH in pickled_globals(pickle)
        assert API_KEY.encode() not in pickle

    return main["app"].url.apply(check)


def test_the_shipped_batch_stack_stops_at_its_placeholder_worker_checksum_before_any_resource(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shipped = yaml.safe_load((REPO_ROOT / "Pulumi.batch.yaml").read_text())["config"]
    config = {**shipped, "salad:apiKey": "salad-key-for-the-program-test"}
    program = run_error(monkeypatch, config, ["salad:apiKey"])
    assert "salad-sd:image.queueWorker.sha256 is the all-zero placeholder" in program.error
    assert program.mocks.resources == []
