"""Drive a Pulumi Python dynamic provider over gRPC exactly as the Pulumi engine does, without the CLI.

The engine runs a Python dynamic provider as ``python -u -m pulumi.dynamic`` (through the bundled
``pulumi-resource-pulumi-python`` script) with cwd = the project directory, reads the gRPC port from the
first stdout line, connects, and then calls ``Handshake`` (answered UNIMPLEMENTED), ``GetPluginInfo``,
``Configure`` and ``Check``/``Diff``/``Create``/``Update``/``Read``/``Delete``.
:class:`DynamicProviderProcess` does the same.

Typical use::

    from tests.engine.harness import DynamicProviderProcess, UNKNOWN, make_urn, serialize_provider_like_sdk

    ser = serialize_provider_like_sdk(MyProvider())          # the ``__provider`` value on the wire
    urn = make_urn("cg", "pulumi-python:dynamic/salad:ContainerGroup")
    with DynamicProviderProcess(env={"SALAD_API_URL": "http://127.0.0.1:8080"}) as proc:
        proc.configure({"salad-sd:apiKey": "k"})
        checked, failures = proc.check(urn, {}, {"name": "x", "__provider": ser})
        id_, state = proc.create(urn, checked)
        ...

Values on the wire
    Dicts are converted with the SDK's own ``pulumi.runtime.rpc.serialize_properties`` and
    ``deserialize_properties``. The protobuf ``Struct`` only has doubles, so numbers come back as
    ``float`` (``2`` -> ``2.0``), and keys whose value is ``None`` are dropped. Returned dicts keep
    ``__provider`` (it is part of the engine's state), so they can be passed straight back in.

Unknowns
    Put :data:`UNKNOWN` (the SDK's sentinel string ``pulumi.runtime.rpc.UNKNOWN``; a
    ``pulumi.output.Unknown`` instance works too) anywhere in ``check``/``diff`` inputs. The provider
    then sees ``pulumi.output.Unknown`` instances, because the server deserializes Check/Diff with
    ``keep_unknowns=True``. Unknowns in returned values come back as the :data:`UNKNOWN` **string**
    (never as ``Unknown`` objects). The engine only sends unknowns during a preview, and never to
    ``create``/``update``/``read``/``delete``, so passing one there outside ``preview=True`` raises
    ``ValueError`` here.

Secrets
    The dynamic server answers ``Configure`` with ``acceptSecrets=False``, so the engine strips secret
    wrappers from everything it sends afterwards. Pass plain values. Values wrapped with
    ``pulumi.runtime.rpc.wrap_rpc_secret`` are unwrapped here, as the engine does. In ``Configure``
    the engine does send secrets wrapped (the server unwraps them): use ``configure(...,
    secret_keys=[...])`` to reproduce that.

Errors
    A provider exception reaches the caller as ``grpc.RpcError`` (not caught here):
    ``err.code() == grpc.StatusCode.UNKNOWN`` and ``err.details()`` holds the provider's full Python
    traceback. Where the RPC succeeds but the real engine would fail the deployment (empty id from
    ``Create``, unknowns in ``Create``/``Update``/``Read`` results outside a preview) :class:`EngineError`
    is raised.

Not reproduced (needs the real engine): ``annotateSecrets``/``additional_secret_outputs``, the engine's
own input diff on ``DIFF_UNKNOWN``, ``ignore_changes`` substitution, replace ordering, state
persistence (see the team notes ``pulumi-dynamic-providers.md`` §2.5).
"""

from __future__ import annotations

import asyncio
import codecs
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Literal

import grpc
import yaml
from google.protobuf import empty_pb2, struct_pb2
from pulumi.dynamic.dynamic import ResourceProvider, serialize_provider
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime._grpc_settings import _MAX_RPC_MESSAGE_SIZE
from pulumi.runtime._serialization import _serialize
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from tests.paths import REPO_ROOT

__all__ = [
    "DEFAULT_MUTATION_TIMEOUT",
    "DEFAULT_RPC_TIMEOUT",
    "DEFAULT_STARTUP_TIMEOUT",
    "PROJECT_ROOT",
    "PROVIDER_KEY",
    "UNKNOWN",
    "DiffOutcome",
    "DynamicProviderProcess",
    "EngineError",
    "from_struct",
    "make_urn",
    "provider_is_secret_in_state",
    "serialize_provider_like_sdk",
    "to_struct",
]

PROJECT_ROOT: Final[Path] = REPO_ROOT
"""The project directory (holds ``Pulumi.yaml``); the engine runs the provider with this cwd."""

UNKNOWN: Final[str] = rpc.UNKNOWN
"""The engine's unknown-value sentinel (``"04da6b54-80e4-46f7-96ec-b56ff0331ba9"``)."""

PROVIDER_KEY: Final[str] = "__provider"

DEFAULT_RPC_TIMEOUT: Final[float] = 60.0
"""Deadline (s) for every RPC unless overridden."""

DEFAULT_MUTATION_TIMEOUT: Final[float] = 180.0
"""Default deadline (s) for create/update/delete, which may poll a remote API."""

DEFAULT_STARTUP_TIMEOUT: Final[float] = 30.0
"""How long (s) to wait for the port line and for the gRPC channel to become ready."""

_DYNAMIC_PACKAGE: Final[str] = "pulumi-python"
_CLOSE_TIMEOUT: Final[float] = 10.0

Props = dict[str, Any]
Stream = Literal["all", "stdout", "stderr"]
DiffChanges = Literal["none", "some", "unknown"]

_CHANGES: Final[dict[int, DiffChanges]] = {
    provider_pb2.DiffResponse.DIFF_NONE: "none",
    provider_pb2.DiffResponse.DIFF_SOME: "some",
    provider_pb2.DiffResponse.DIFF_UNKNOWN: "unknown",
}


class EngineError(Exception):
    """The RPC succeeded, but the real engine would reject the response and fail the deployment."""


@dataclass(frozen=True)
class DiffOutcome:
    """A ``DiffResponse`` as the engine reads it (the Python server never sets stables/detailed diff)."""

    changes: DiffChanges
    replaces: list[str]
    delete_before_replace: bool


# --------------------------------------------------------------------------------------------------
# Provider serialization
# --------------------------------------------------------------------------------------------------


def _serialize_like_sdk(provider: ResourceProvider) -> tuple[str, bool]:
    # Same call as pulumi.dynamic.Resource.__init__ (SDK 3.272.0):
    #   serialized_provider, contains_secrets = _serialize(True, serialize_provider, provider)
    serialized, contains_secrets = _serialize(True, serialize_provider, provider)
    if not isinstance(serialized, str):
        raise TypeError(f"serialize_provider returned {type(serialized).__name__}, expected str")
    return serialized, bool(contains_secrets)


def serialize_provider_like_sdk(provider: ResourceProvider) -> str:
    """Return the ``__provider`` value exactly as it goes on the wire to the provider.

    ``pulumi.dynamic.Resource.__init__`` computes it with
    ``pulumi.runtime._serialization._serialize(True, pulumi.dynamic.dynamic.serialize_provider, provider)``
    (dill, ``recurse=True``, sorted dicts, base64) and then wraps it in ``Output.secret`` (see
    :func:`provider_is_secret_in_state`). The engine strips that secret wrapper before calling the
    provider (``acceptSecrets=False``), so the plain base64 string is returned here.
    """
    return _serialize_like_sdk(provider)[0]


def provider_is_secret_in_state(provider: ResourceProvider) -> bool:
    """Whether the SDK would register ``__provider`` as a secret: ``serialize_as_secret_always`` (default
    ``True``) or secret Outputs captured during serialization."""
    _, contains_secrets = _serialize_like_sdk(provider)
    return bool(getattr(provider, "serialize_as_secret_always", True)) or contains_secrets


# --------------------------------------------------------------------------------------------------
# URNs and project
# --------------------------------------------------------------------------------------------------


def _project_name(directory: Path) -> str | None:
    pulumi_yaml = directory / "Pulumi.yaml"
    if not pulumi_yaml.is_file():
        return None
    data = yaml.safe_load(pulumi_yaml.read_text(encoding="utf-8"))
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


def make_urn(
    name: str,
    type_: str = "pulumi-python:dynamic:Resource",
    *,
    project: str | None = None,
    stack: str = "test",
    parent_type: str | None = None,
) -> str:
    """Build a well-formed URN, e.g. ``urn:pulumi:test::salad-sd::pulumi-python:dynamic:Resource::name``.

    ``project`` defaults to the name in the project's ``Pulumi.yaml``; ``parent_type`` prefixes the type
    chain as the engine does for children of a component (``Parent$Child``).
    """
    project_name = project or _project_name(PROJECT_ROOT) or "project"
    qualified = f"{parent_type}${type_}" if parent_type else type_
    return f"urn:pulumi:{stack}::{project_name}::{qualified}::{name}"


def _urn_type_and_name(urn: str) -> tuple[str, str]:
    parts = urn.split("::", 3)
    if not urn.startswith("urn:pulumi:") or len(parts) != 4:
        raise ValueError(f"malformed URN {urn!r}: expected urn:pulumi:<stack>::<project>::<type>::<name>")
    return parts[2].split("$")[-1], parts[3]


# --------------------------------------------------------------------------------------------------
# Value conversion
# --------------------------------------------------------------------------------------------------


def _strip_secrets(value: Any) -> Any:
    if rpc.is_rpc_secret(value):
        return _strip_secrets(rpc.unwrap_rpc_secret(value))
    if isinstance(value, Mapping):
        return {k: _strip_secrets(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strip_secrets(v) for v in value]
    return value


def _contains_unknowns(value: Any) -> bool:
    if isinstance(value, Unknown) or (isinstance(value, str) and value == UNKNOWN):
        return True
    if isinstance(value, Mapping):
        return any(_contains_unknowns(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_contains_unknowns(v) for v in value)
    return False


def _unknowns_to_sentinel(value: Any) -> Any:
    if isinstance(value, Unknown):
        return UNKNOWN
    if isinstance(value, dict):
        return {k: _unknowns_to_sentinel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unknowns_to_sentinel(v) for v in value]
    return value


def to_struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    """Plain dict -> ``Struct`` with the SDK's ``rpc.serialize_properties`` (UNKNOWN kept as the sentinel)."""
    return asyncio.run(rpc.serialize_properties(dict(props), {}))


def from_struct(struct: struct_pb2.Struct) -> Props:
    """``Struct`` -> plain dict with ``rpc.deserialize_properties``; unknowns become the UNKNOWN string."""
    props = rpc.deserialize_properties(struct, keep_unknowns=True)
    if not isinstance(props, dict):
        raise TypeError(f"expected a property map, got {type(props).__name__}")
    result: Props = _unknowns_to_sentinel(props)
    return result


def _wire(props: Mapping[str, Any]) -> struct_pb2.Struct:
    return to_struct(_strip_secrets(props))


def _reject_unknowns(what: str, props: Mapping[str, Any] | None) -> None:
    if props is not None and _contains_unknowns(props):
        raise ValueError(
            f"{what} contains an unknown value: the engine only sends unknowns to Check/Diff "
            "(and to Create/Update in a preview), never to Create/Update/Read/Delete in an update"
        )


def _config_string(value: Any) -> str:
    # provider_plugin.go Configure: non-string config values are json.Marshal'ed (Go: compact).
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


# --------------------------------------------------------------------------------------------------
# Output capture
# --------------------------------------------------------------------------------------------------


class _OutputCapture:
    """Thread-safe accumulation of the child's stdout/stderr, in arrival order."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._chunks: list[tuple[str, str]] = []

    def append(self, stream: str, text: str) -> None:
        if not text:
            return
        with self._cond:
            self._chunks.append((stream, text))
            self._cond.notify_all()

    def _text_locked(self, stream: Stream) -> str:
        return "".join(text for name, text in self._chunks if stream in ("all", name))

    def text(self, stream: Stream = "all") -> str:
        with self._cond:
            return self._text_locked(stream)

    def wait_for(self, predicate: Callable[[str], bool], stream: Stream, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self._text_locked(stream)), timeout=timeout)


# --------------------------------------------------------------------------------------------------
# The provider process
# --------------------------------------------------------------------------------------------------


class DynamicProviderProcess:
    """A ``python -u -m pulumi.dynamic`` child process and a gRPC client for it, used as a context manager.

    The constructor only records settings; ``__enter__`` (or :meth:`start`) spawns the child with
    ``sys.executable`` (override with ``python=``), cwd = ``cwd`` (default: the project root, so
    ``components.*`` and ``tests.*`` import) and env = ``os.environ`` + ``PULUMI_PROJECT`` (the name in
    ``<cwd>/Pulumi.yaml``, as the engine sets it) + ``PULUMI_CONFIG={}`` + ``env``. It reads the port from
    the first stdout line, connects, waits for the channel to be ready and sends ``Handshake`` as the
    engine does (the Python server answers UNIMPLEMENTED; see :attr:`handshake_response`).
    ``__exit__`` closes the channel and terminates the child (terminate, wait, kill).

    Background threads drain stdout and stderr so the pipes never block; see :meth:`output` and
    :meth:`wait_for_output`. The port line itself is not part of the output.

    As in the engine, :meth:`configure` must be called exactly once, before any resource RPC: the server
    deserializes and ``configure()``-s each distinct ``__provider`` once per process, with the config it
    has at that moment, and caches the instance.
    """

    def __init__(
        self,
        cwd: str | os.PathLike[str] = PROJECT_ROOT,
        env: Mapping[str, str] | None = None,
        *,
        python: str | None = None,
        project: str | None = None,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
    ) -> None:
        self.cwd: Path = Path(cwd)
        self.python: str = python or sys.executable
        self.project: str | None = project or _project_name(self.cwd)
        self.startup_timeout: float = startup_timeout
        self._extra_env: dict[str, str] = dict(env or {})

        self._popen: subprocess.Popen[bytes] | None = None
        self._channel: grpc.Channel | None = None
        self._stub: provider_pb2_grpc.ResourceProviderStub | None = None
        self._output = _OutputCapture()
        self._threads: list[threading.Thread] = []
        self._port_event = threading.Event()
        self._port: int | None = None
        self._port_error: str | None = None

        self.handshake_response: provider_pb2.ProviderHandshakeResponse | None = None
        """``None`` when the server answered Handshake with UNIMPLEMENTED (the case for pulumi 3.272.0)."""
        self.configure_response: provider_pb2.ConfigureResponse | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def __enter__(self) -> DynamicProviderProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _child_env(self) -> dict[str, str]:
        child_env = dict(os.environ)
        if self.project:
            child_env["PULUMI_PROJECT"] = self.project
        # The engine passes the stack config filtered to the plugin's own namespace ("pulumi-python"),
        # i.e. nothing for this project; don't leak a PULUMI_CONFIG from the test runner's environment.
        child_env["PULUMI_CONFIG"] = "{}"
        child_env.update(self._extra_env)
        return child_env

    def start(self) -> None:
        """Spawn the provider, read its port and connect. Raises ``RuntimeError`` with the child's output
        when it exits or stays silent before reporting a port."""
        if self._popen is not None:
            raise RuntimeError("provider process already started")
        self._popen = subprocess.Popen(
            [self.python, "-u", "-m", "pulumi.dynamic"],
            cwd=self.cwd,
            env=self._child_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
        assert self._popen.stdout is not None and self._popen.stderr is not None
        self._threads = [
            threading.Thread(
                target=self._pump,
                args=(self._popen.stdout, "stdout", True),
                name="provider-stdout",
                daemon=True,
            ),
            threading.Thread(
                target=self._pump,
                args=(self._popen.stderr, "stderr", False),
                name="provider-stderr",
                daemon=True,
            ),
        ]
        for thread in self._threads:
            thread.start()
        try:
            self._connect()
        except BaseException:
            self.close()
            raise

    def _connect(self) -> None:
        if not self._port_event.wait(timeout=self.startup_timeout):
            raise RuntimeError(
                f"provider process reported no port within {self.startup_timeout}s; output:\n{self.output()}"
            )
        if self._port is None:
            exit_code = self._wait_exit(min(self.startup_timeout, 5.0))
            if exit_code is not None:  # let the pumps collect the rest of the output (e.g. a traceback)
                for thread in self._threads:
                    thread.join(timeout=5.0)
            raise RuntimeError(
                f"provider process did not report a port ({self._port_error}); "
                f"exit code {exit_code}; output:\n{self.output()}"
            )
        self._channel = grpc.insecure_channel(
            f"127.0.0.1:{self._port}", options=[("grpc.max_receive_message_length", _MAX_RPC_MESSAGE_SIZE)]
        )
        grpc.channel_ready_future(self._channel).result(timeout=self.startup_timeout)
        self._stub = provider_pb2_grpc.ResourceProviderStub(self._channel)
        self._handshake()

    def _wait_exit(self, timeout: float) -> int | None:
        assert self._popen is not None
        try:
            return self._popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def _pump(self, pipe: IO[bytes], stream: str, first_line_is_port: bool) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = b""
        waiting_for_port = first_line_is_port
        try:
            while True:
                chunk = pipe.read(65536)
                if not chunk:
                    break
                if waiting_for_port:
                    pending += chunk
                    line, newline, rest = pending.partition(b"\n")
                    if not newline:
                        continue
                    waiting_for_port = False
                    pending = b""
                    try:
                        self._port = int(line.strip())
                    except ValueError:
                        self._port_error = f"first stdout line was {line!r}, not a port"
                        rest = line + newline + rest
                    self._port_event.set()
                    chunk = rest
                self._output.append(stream, decoder.decode(chunk))
            if pending:
                self._output.append(stream, decoder.decode(pending))
            self._output.append(stream, decoder.decode(b"", final=True))
        finally:
            if waiting_for_port:
                self._port_error = self._port_error or "stdout closed before the port line"
                self._port_event.set()

    def close(self) -> None:
        """Close the channel and stop the child (SIGTERM, wait, SIGKILL). Idempotent. Afterwards
        :meth:`output` holds everything the child printed."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
            self._stub = None
        if self._popen is not None and self._popen.poll() is None:
            self._popen.terminate()
            try:
                self._popen.wait(timeout=_CLOSE_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait(timeout=_CLOSE_TIMEOUT)
        for thread in self._threads:
            thread.join(timeout=_CLOSE_TIMEOUT)
        if self._popen is not None:
            for pipe in (self._popen.stdout, self._popen.stderr):
                if pipe is not None:
                    pipe.close()

    # -- state -------------------------------------------------------------------------------------

    @property
    def port(self) -> int | None:
        return self._port

    @property
    def returncode(self) -> int | None:
        """``None`` while the child runs (or before it started)."""
        return self._popen.poll() if self._popen is not None else None

    def output(self, stream: Stream = "all") -> str:
        """Everything the provider printed so far (stdout and stderr interleaved in arrival order, or one
        stream). A snapshot: a line printed just before an RPC returned may still be in flight in the
        pipe; use :meth:`wait_for_output` to wait for it, or read after the context exits."""
        return self._output.text(stream)

    def wait_for_output(self, text: str, timeout: float = 10.0, stream: Stream = "all") -> str:
        """Block until ``text`` appears in the output; return the output. Raises ``TimeoutError``."""
        if not self._output.wait_for(lambda captured: text in captured, stream, timeout):
            raise TimeoutError(f"{text!r} not printed within {timeout}s; output so far:\n{self.output()}")
        return self.output(stream)

    def _client(self) -> provider_pb2_grpc.ResourceProviderStub:
        if self._stub is None:
            raise RuntimeError("provider process is not running (use it as a context manager)")
        return self._stub

    def _configured(self) -> provider_pb2.ConfigureResponse:
        if self.configure_response is None:
            raise RuntimeError(
                "call configure() first: the engine always sends Configure before any resource RPC, and the "
                "server configures (and caches) each provider with the config it has at first use"
            )
        return self.configure_response

    # -- RPCs --------------------------------------------------------------------------------------

    def _handshake(self) -> None:
        request = provider_pb2.ProviderHandshakeRequest(
            engine_address="",  # there is no engine; the Python server ignores this
            root_directory=str(self.cwd),
            program_directory=str(self.cwd),
            configure_with_urn=True,
            supports_views=True,
            supports_refresh_before_update=True,
        )
        try:
            self.handshake_response = self._client().Handshake(request, timeout=DEFAULT_RPC_TIMEOUT)
        except grpc.RpcError as err:
            # provider_plugin.go handshake(): UNIMPLEMENTED means "fall back to Configure".
            if err.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
            self.handshake_response = None

    def get_plugin_info(self, *, timeout: float = DEFAULT_RPC_TIMEOUT) -> str:
        """``GetPluginInfo``; returns the version (``"0.1.0"`` for the Python dynamic server)."""
        info = self._client().GetPluginInfo(empty_pb2.Empty(), timeout=timeout)
        return str(info.version)

    def configure(
        self,
        config: Mapping[str, Any],
        *,
        secret_keys: Iterable[str] = (),
        timeout: float = DEFAULT_RPC_TIMEOUT,
    ) -> provider_pb2.ConfigureResponse:
        """``Configure`` as the engine sends it for the dynamic provider: the whole stack config with
        namespaced keys (``{"salad-sd:apiKey": "k"}``), values as strings (non-strings are JSON-encoded,
        like structured config). ``args`` carries them (``secret_keys`` wrapped as secrets, which the
        server unwraps); ``variables`` carries ``pulumi-python:config:<key>`` copies. Call once.

        The server only stores the config here; the provider's own ``configure(req)`` runs lazily, when a
        ``__provider`` is first deserialized by a later Check/Diff/Create/..., so an exception in it
        surfaces as a ``grpc.RpcError`` from that later call."""
        if self.configure_response is not None:
            raise RuntimeError(
                "configure() was already called: the engine configures a provider process once"
            )
        secrets = set(secret_keys)
        missing = secrets - set(config)
        if missing:
            raise ValueError(f"secret_keys not in config: {sorted(missing)}")
        values = {key: _config_string(value) for key, value in config.items()}
        args = {key: rpc.wrap_rpc_secret(value) if key in secrets else value for key, value in values.items()}
        request = provider_pb2.ConfigureRequest(
            variables={f"{_DYNAMIC_PACKAGE}:config:{key}": value for key, value in values.items()},
            args=to_struct(args),
            acceptSecrets=True,
            acceptResources=True,
            sends_old_inputs=True,
            sends_old_inputs_to_delete=True,
        )
        response: provider_pb2.ConfigureResponse = self._client().Configure(request, timeout=timeout)
        self.configure_response = response
        return response

    def check(
        self,
        urn: str,
        olds: Mapping[str, Any],
        news: Mapping[str, Any],
        *,
        timeout: float = DEFAULT_RPC_TIMEOUT,
    ) -> tuple[Props, list[tuple[str, str]]]:
        """``Check(olds=old inputs or {}, news=new inputs incl. __provider)`` -> (checked inputs, failures as
        ``(property, reason)``). Unknowns are allowed (preview)."""
        self._configured()
        type_, name = _urn_type_and_name(urn)
        request = provider_pb2.CheckRequest(
            urn=urn, name=name, type=type_, olds=_wire(olds), news=_wire(news)
        )
        response = self._client().Check(request, timeout=timeout)
        failures = [(failure.property, failure.reason) for failure in response.failures]
        return from_struct(response.inputs), failures

    def diff(
        self,
        id_: str,
        urn: str,
        olds: Mapping[str, Any],
        news: Mapping[str, Any],
        *,
        old_inputs: Mapping[str, Any] | None = None,
        ignore_changes: Iterable[str] = (),
        timeout: float = DEFAULT_RPC_TIMEOUT,
    ) -> DiffOutcome:
        """``Diff(olds=old outputs/state, news=checked inputs)``. ``old_inputs`` is sent like the engine does
        but the Python server does not pass it on. Unknowns are allowed in ``news`` (preview)."""
        self._configured()
        type_, name = _urn_type_and_name(urn)
        request = provider_pb2.DiffRequest(
            id=id_,
            urn=urn,
            name=name,
            type=type_,
            olds=_wire(olds),
            news=_wire(news),
            old_inputs=_wire(old_inputs or {}),
            ignoreChanges=list(ignore_changes),
        )
        response = self._client().Diff(request, timeout=timeout)
        return DiffOutcome(
            changes=_CHANGES[response.changes],
            replaces=list(response.replaces),
            delete_before_replace=bool(response.deleteBeforeReplace),
        )

    def create(
        self,
        urn: str,
        properties: Mapping[str, Any],
        preview: bool = False,
        *,
        timeout: float = DEFAULT_MUTATION_TIMEOUT,
    ) -> tuple[str, Props]:
        """``Create(properties=checked inputs)`` -> (id, outputs incl. ``__provider``).

        ``preview=True`` does what the engine does for this server (``supportsPreview=False``): the provider
        is **not** called and ``("", properties)`` is returned."""
        protocol = self._configured()
        if preview and not protocol.supportsPreview:
            return "", from_struct(_wire(properties))
        if not preview:
            _reject_unknowns("create properties", properties)
        type_, name = _urn_type_and_name(urn)
        request = provider_pb2.CreateRequest(
            urn=urn, name=name, type=type_, properties=_wire(properties), preview=preview
        )
        response = self._client().Create(request, timeout=timeout)
        outs = from_struct(response.properties)
        if not preview:
            if not response.id:
                raise EngineError(
                    f"plugin for package '{_DYNAMIC_PACKAGE}' returned empty resource.ID from create '{urn}'"
                )
            self._reject_unknown_result("Create", outs)
        return str(response.id), outs

    def update(
        self,
        id_: str,
        urn: str,
        olds: Mapping[str, Any],
        news: Mapping[str, Any],
        *,
        old_inputs: Mapping[str, Any] | None = None,
        ignore_changes: Iterable[str] = (),
        preview: bool = False,
        timeout: float = DEFAULT_MUTATION_TIMEOUT,
    ) -> Props:
        """``Update(olds=old outputs/state, news=checked inputs)`` -> new outputs incl. ``__provider``.
        ``preview=True``: like the engine, the provider is not called and ``news`` is returned."""
        protocol = self._configured()
        if preview and not protocol.supportsPreview:
            return from_struct(_wire(news))
        if not preview:
            _reject_unknowns("update news", news)
        _reject_unknowns("update olds", olds)
        type_, name = _urn_type_and_name(urn)
        request = provider_pb2.UpdateRequest(
            id=id_,
            urn=urn,
            name=name,
            type=type_,
            olds=_wire(olds),
            news=_wire(news),
            old_inputs=_wire(old_inputs or {}),
            ignoreChanges=list(ignore_changes),
            preview=preview,
        )
        response = self._client().Update(request, timeout=timeout)
        outs = from_struct(response.properties)
        if not preview:
            self._reject_unknown_result("Update", outs)
        return outs

    def read(
        self,
        id_: str,
        urn: str,
        properties: Mapping[str, Any],
        inputs: Mapping[str, Any] | None = None,
        *,
        timeout: float = DEFAULT_RPC_TIMEOUT,
    ) -> tuple[str, Props, Props | None]:
        """``Read(properties=old outputs/state, inputs=old inputs)`` (refresh) -> (id, outputs, inputs).
        The returned inputs are ``None`` when the provider returned no ``ReadResult.inputs``; an empty
        id means "the resource is gone" to the engine."""
        self._configured()
        _reject_unknowns("read properties", properties)
        _reject_unknowns("read inputs", inputs)
        type_, name = _urn_type_and_name(urn)
        request = provider_pb2.ReadRequest(
            id=id_, urn=urn, name=name, type=type_, properties=_wire(properties)
        )
        if inputs is not None:
            request.inputs.CopyFrom(_wire(inputs))
        response = self._client().Read(request, timeout=timeout)
        outs = from_struct(response.properties)
        new_inputs = from_struct(response.inputs) if response.HasField("inputs") else None
        self._reject_unknown_result("Read", outs)
        if new_inputs is not None:
            self._reject_unknown_result("Read", new_inputs)
        return str(response.id), outs, new_inputs

    def delete(
        self,
        id_: str,
        urn: str,
        properties: Mapping[str, Any],
        *,
        old_inputs: Mapping[str, Any] | None = None,
        timeout: float = DEFAULT_MUTATION_TIMEOUT,
    ) -> None:
        """``Delete(properties=old outputs/state)``."""
        self._configured()
        _reject_unknowns("delete properties", properties)
        type_, name = _urn_type_and_name(urn)
        request = provider_pb2.DeleteRequest(
            id=id_,
            urn=urn,
            name=name,
            type=type_,
            properties=_wire(properties),
            old_inputs=_wire(old_inputs or {}),
        )
        self._client().Delete(request, timeout=timeout)

    @staticmethod
    def _reject_unknown_result(rpc_name: str, outs: Props) -> None:
        if _contains_unknowns(outs):
            raise EngineError(f"{rpc_name} returned unknown values outside a preview: {outs!r}")
