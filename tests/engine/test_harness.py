"""Tests of the gRPC engine harness: the echo provider in a real ``python -m pulumi.dynamic`` process."""

from __future__ import annotations

import base64
import json
import pickle
import pickletools
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import yaml
from pulumi.runtime import rpc

from tests.engine.echo_provider import CREATE_LINE, DELETE_LINE, EchoProvider
from tests.engine.harness import (
    PROJECT_ROOT,
    UNKNOWN,
    DiffOutcome,
    DynamicProviderProcess,
    make_urn,
    provider_is_secret_in_state,
    serialize_provider_like_sdk,
)

PROJECT: str = yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))["name"]
TYPE = "pulumi-python:dynamic/echo:Echo"
SER = serialize_provider_like_sdk(EchoProvider())


@pytest.fixture(scope="module")
def proc() -> Iterator[DynamicProviderProcess]:
    with DynamicProviderProcess(cwd=PROJECT_ROOT) as process:
        process.configure(
            {f"{PROJECT}:greeting": "hello", f"{PROJECT}:token": "s3cr3t", "other:thing": "t"},
            secret_keys=[f"{PROJECT}:token"],
        )
        yield process


def _without_provider(props: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in props.items() if k != "__provider"}


def test_startup_handshake_plugin_info_and_protocol(proc: DynamicProviderProcess) -> None:
    assert isinstance(proc.port, int)
    assert proc.returncode is None
    assert proc.handshake_response is None  # Handshake is UNIMPLEMENTED: the engine falls back to Configure
    assert proc.get_plugin_info() == "0.1.0"
    assert proc.configure_response is not None
    assert proc.configure_response.acceptSecrets is False
    assert proc.configure_response.supportsPreview is False


def test_full_lifecycle(proc: DynamicProviderProcess) -> None:
    urn = make_urn("life", TYPE)
    news = {"name": "life", "count": 2, "__provider": SER}

    checked, failures = proc.check(urn, {}, news)
    assert failures == []
    assert checked["__provider"] == SER
    assert checked["name"] == "life"

    id_, state = proc.create(urn, checked)
    assert id_ == "echo-life"
    assert state["__provider"] == SER
    assert state["operation"] == "create"
    assert state["greeting"] == "hello"  # configure(): bare key resolved through PULUMI_PROJECT
    assert state["token"] == "s3cr3t"  # secret config arrives unwrapped
    proc.wait_for_output(f"{CREATE_LINE} life")

    # Same inputs: the provider's own diff (not the engine's) says "none".
    assert proc.diff(id_, urn, state, checked, old_inputs=checked) == DiffOutcome("none", [], False)

    bumped, failures = proc.check(urn, checked, {**news, "count": 3})
    assert failures == []
    assert proc.diff(id_, urn, state, bumped, old_inputs=checked) == DiffOutcome("some", [], False)

    renamed, _ = proc.check(urn, checked, {**news, "name": "life2"})
    assert proc.diff(id_, urn, state, renamed, old_inputs=checked) == DiffOutcome("some", ["name"], True)

    new_state = proc.update(id_, urn, state, bumped, old_inputs=checked)
    assert new_state["operation"] == "update"
    assert new_state["count"] == 3.0
    assert new_state["previousCount"] == 2.0
    assert new_state["__provider"] == SER

    read_id, outs, inputs = proc.read(id_, urn, new_state, bumped)
    assert read_id == id_
    assert outs["operation"] == "read"
    assert inputs == {"name": "life", "count": 3.0, "__provider": SER}

    proc.delete(id_, urn, outs, old_inputs=inputs)
    proc.wait_for_output(f"{DELETE_LINE} {id_} (read)")


def test_check_failure_is_returned(proc: DynamicProviderProcess) -> None:
    checked, failures = proc.check(make_urn("neg", TYPE), {}, {"name": "neg", "count": -1, "__provider": SER})
    assert failures == [("count", "count must be >= 0, got -1.0")]
    assert checked["count"] == -1.0


def test_unknowns_reach_the_provider_as_unknown_instances(proc: DynamicProviderProcess) -> None:
    urn = make_urn("prev", TYPE)
    news = {"name": "prev", "count": UNKNOWN, "tags": ["a", UNKNOWN], "__provider": SER}
    checked, failures = proc.check(urn, {}, news)
    assert failures == []  # an unknown count is not validated
    assert checked["seenUnknownInstances"] == ["count"]
    assert checked["seenNestedUnknowns"] == ["tags"]
    assert checked["count"] == UNKNOWN  # unknowns come back as the sentinel string
    assert checked["tags"] == ["a", UNKNOWN]

    state = {"name": "prev", "count": 1.0, "tags": ["a", "b"], "__provider": SER}
    assert proc.diff("echo-prev", urn, state, checked) == DiffOutcome("some", [], False)


def test_provider_print_is_captured(proc: DynamicProviderProcess) -> None:
    proc.create(make_urn("printer", TYPE), {"name": "printer", "count": 1, "__provider": SER})
    proc.wait_for_output(f"{CREATE_LINE} printer", stream="stdout")
    assert f"{CREATE_LINE} printer\n" in proc.output()
    assert str(proc.port) not in proc.output().splitlines()  # the port line is consumed, not captured


def test_numbers_arrive_as_floats(proc: DynamicProviderProcess) -> None:
    _, outs = proc.create(make_urn("floats", TYPE), {"name": "floats", "count": 2, "__provider": SER})
    assert outs["countType"] == "float"  # what the provider itself received
    assert outs["count"] == 2.0
    assert isinstance(outs["count"], float)


def test_provider_exception_is_an_rpc_error_with_the_traceback(proc: DynamicProviderProcess) -> None:
    props = {"name": "bad", "count": 1, "explode": True, "__provider": SER}
    with pytest.raises(grpc.RpcError) as excinfo:
        proc.create(make_urn("bad", TYPE), props)
    err = excinfo.value
    assert err.code() == grpc.StatusCode.UNKNOWN
    details = err.details()
    assert "Traceback" in details
    assert "RuntimeError: boom: refusing to create 'bad'" in details


def test_secret_wrapped_inputs_are_sent_plain(proc: DynamicProviderProcess) -> None:
    props = {"name": rpc.wrap_rpc_secret("hidden"), "count": 1, "__provider": SER}
    id_, outs = proc.create(make_urn("hidden", TYPE), props)
    assert id_ == "echo-hidden"
    assert outs["name"] == "hidden"


def test_preview_create_and_update_do_not_reach_the_provider(proc: DynamicProviderProcess) -> None:
    urn = make_urn("pv", TYPE)
    props = {"name": "pv", "count": UNKNOWN, "__provider": SER}
    assert proc.create(urn, props, preview=True) == ("", {"name": "pv", "count": UNKNOWN, "__provider": SER})
    assert proc.update("echo-pv", urn, {"name": "pv", "__provider": SER}, props, preview=True) == props


def test_unknowns_outside_preview_are_rejected(proc: DynamicProviderProcess) -> None:
    with pytest.raises(ValueError, match="unknown value"):
        proc.create(make_urn("u", TYPE), {"name": "u", "count": UNKNOWN, "__provider": SER})


def test_serialized_provider_is_a_by_reference_pickle() -> None:
    raw = base64.b64decode(SER)
    assert len(raw) < 200
    globals_ = [arg for op, arg, _ in pickletools.genops(raw) if op.name in ("SHORT_BINUNICODE", "GLOBAL")]
    assert "tests.engine.echo_provider" in globals_
    assert "EchoProvider" in globals_
    assert b"_create_code" not in raw  # no code objects: pickled by reference, not by value
    assert isinstance(pickle.loads(raw), EchoProvider)
    assert serialize_provider_like_sdk(EchoProvider()) == SER  # deterministic
    assert provider_is_secret_in_state(EchoProvider()) is True  # serialize_as_secret_always defaults to True


_REGISTER_UNDER_MOCKS = """
import json
import pulumi
from pulumi.runtime import rpc

captured = {}

class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        captured.update(args.inputs)
        return [args.name + "-id", {}]

    def call(self, args):
        return {}

pulumi.runtime.set_mocks(Mocks(), project="p", stack="s", preview=False)

from pulumi.dynamic import Resource
from tests.engine.echo_provider import EchoProvider

class Echo(Resource, module="echo", name="Echo"):
    pass

@pulumi.runtime.test
def register():
    return Echo(EchoProvider(), "e", {"name": "e"}).urn

register()
value = captured["__provider"]
print(json.dumps({"secret": rpc.is_rpc_secret(value), "provider": rpc.unwrap_rpc_secret(value)}))
"""


def test_serialization_matches_what_a_dynamic_resource_registers() -> None:
    # Run in a child so set_mocks does not touch this process's pulumi settings.
    result = subprocess.run(
        [sys.executable, "-c", _REGISTER_UNDER_MOCKS],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    registered = json.loads(result.stdout.strip().splitlines()[-1])
    assert registered == {"secret": True, "provider": SER}


def test_resource_rpcs_require_configure_and_close_stops_the_child() -> None:
    with DynamicProviderProcess(cwd=PROJECT_ROOT) as process:
        with pytest.raises(RuntimeError, match="call configure"):
            process.check(make_urn("x", TYPE), {}, {"name": "x", "__provider": SER})
        process.configure({})
        with pytest.raises(RuntimeError, match="already called"):
            process.configure({})
    assert process.returncode is not None


def test_wrong_cwd_makes_the_provider_module_unimportable(tmp_path: Path) -> None:
    with DynamicProviderProcess(cwd=tmp_path) as process:
        process.configure({})
        with pytest.raises(grpc.RpcError) as excinfo:
            process.check(make_urn("x", TYPE), {}, {"name": "x", "__provider": SER})
    assert excinfo.value.code() == grpc.StatusCode.UNKNOWN
    assert "ModuleNotFoundError: No module named 'tests'" in excinfo.value.details()


def test_a_child_that_never_reports_a_port_fails_start() -> None:
    false = shutil.which("false")
    assert false is not None
    with pytest.raises(RuntimeError, match="did not report a port"), DynamicProviderProcess(python=false):
        pass
