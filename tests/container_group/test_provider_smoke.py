"""The optional smoke check of `pulumi up`: a tiny txt2img through the gateway after readiness."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from components.container_group.provider import ContainerGroupError, ContainerGroupProvider
from tests.conftest import TEST_API_KEY
from tests.container_group.provider_fixtures import ScaledTimeProvider, checked, configure
from tests.fakes.fake_webui import WebuiServer, serve
from tests.fakes.gateway import FakeGateway
from tests.fakes.salad_api import SaladEmulator


class LocalGatewayProvider(ScaledTimeProvider):
    """Sends the smoke test to a local gateway stand-in instead of the emulator's made-up DNS name."""

    gateway_url = ""

    def _smoke_url(self, url: str) -> str:
        assert url.startswith("https://") and url.endswith(".salad.cloud")
        return self.gateway_url


@pytest.fixture
def gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGateway]:
    monkeypatch.setenv("FAKE_WEBUI_QUIET", "1")
    monkeypatch.delenv("FAKE_WEBUI_FAIL", raising=False)
    checkpoint = tmp_path / "Stable-diffusion" / "dreamshaper_8.safetensors"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"weights stand-in")
    webui: WebuiServer = serve(["--listen", "--api", "--ckpt", str(checkpoint)], host="127.0.0.1", port=0)
    with FakeGateway(webui.url, auth=True, api_key=TEST_API_KEY) as stand_in:
        yield stand_in
    webui.shutdown()
    webui.server_close()


@pytest.fixture
def provider(salad_emulator: SaladEmulator, gateway: FakeGateway) -> ContainerGroupProvider:
    provider = configure(LocalGatewayProvider(), salad_emulator)
    provider.gateway_url = gateway.url
    return provider


def test_smoke_check_passes_against_a_healthy_deployment(
    provider: ContainerGroupProvider, gateway: FakeGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    result = provider.create(checked(provider, smoke_test=True, replicas=1.0))
    assert result.outs is not None and result.outs["smoke_test"] is True
    txt2img = [r for r in gateway.seen if r.path == "/sdapi/v1/txt2img" and r.status == 200]
    assert len(txt2img) == 1
    assert txt2img[0].api_key == TEST_API_KEY  # the gateway demands the Salad key when auth is on
    out = capsys.readouterr().out
    assert "smoke test" in out and TEST_API_KEY not in out


def test_smoke_check_fails_the_update_showing_the_response(
    provider: ContainerGroupProvider, salad_emulator: SaladEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = provider.create(checked(provider, replicas=1.0))
    olds = dict(created.outs or {})
    monkeypatch.setenv("FAKE_WEBUI_FAIL", "1")
    with pytest.raises(ContainerGroupError, match="HTTP 500") as caught:
        provider.update(created.id, olds, checked(provider, olds, smoke_test=True, replicas=1.0))
    assert "CUDA error: out of memory" in str(caught.value)  # what the deployment answered
    assert not salad_emulator.requests_to("PATCH")
