"""Fixtures for the txt2img client and smoke test: a fake A1111 and a gateway stand-in in front of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from components.txt2img.gateway_client import WaitPolicy
from tests.fakes.fake_webui import WebuiServer, serve
from tests.fakes.gateway import FakeGateway

# Distinctive, so a leak into any output is easy to find.
GATEWAY_KEY = "gateway-test-key-5b1e0c7a-DO-NOT-PRINT"
MODEL = "dreamshaper_8"
# Retry quickly, give up after a few seconds: the tests wait for conditions, not for fixed times.
FAST = WaitPolicy(wait_seconds=5.0, first_interval=0.01, max_interval=0.05)

WebuiFactory = Callable[..., WebuiServer]
GatewayFactory = Callable[..., FakeGateway]


@pytest.fixture(autouse=True)
def _quiet_fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_WEBUI_QUIET", "1")
    for knob in ("FAKE_WEBUI_FAIL", "FAKE_WEBUI_NO_IMAGES", "FAKE_WEBUI_LOAD_SECONDS"):
        monkeypatch.delenv(knob, raising=False)
    monkeypatch.delenv("SALAD_API_KEY", raising=False)


@pytest.fixture
def start_webui(tmp_path: Path) -> Iterator[WebuiFactory]:
    """Starts fake A1111 servers (with --api unless told otherwise) on random ports."""
    models = tmp_path / "models" / "Stable-diffusion"
    models.mkdir(parents=True)
    checkpoint = models / f"{MODEL}.safetensors"
    checkpoint.write_bytes(b"not really weights")
    started: list[WebuiServer] = []

    def start(*flags: str) -> WebuiServer:
        argv = ["--listen", *(flags or ("--api",)), "--ckpt", str(checkpoint)]
        server = serve(argv, host="127.0.0.1", port=0)
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


@pytest.fixture
def webui(start_webui: WebuiFactory) -> WebuiServer:
    return start_webui()


@pytest.fixture
def start_gateway(webui: WebuiServer) -> Iterator[GatewayFactory]:
    """Starts gateway stand-ins in front of `webui`; `auth=True` demands GATEWAY_KEY."""
    started: list[FakeGateway] = []

    def start(
        *, auth: bool = False, cutoff_seconds: float = 30.0, upstream: str | None = None,
        echo_headers: bool = False,
    ) -> FakeGateway:
        gateway = FakeGateway(upstream or webui.url, auth=auth, api_key=GATEWAY_KEY,
                              cutoff_seconds=cutoff_seconds, echo_headers=echo_headers).start()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()
