"""The post-deploy smoke check against a healthy and a broken fake A1111, through the gateway stand-in."""

from __future__ import annotations

import time

import pytest

from components.txt2img.smoke_test import SmokeResult, SmokeTestFailed, smoke_test
from tests.fakes.fake_webui import WebuiServer
from tests.txt2img.conftest import FAST, GATEWAY_KEY, MODEL, GatewayFactory, WebuiFactory


def test_passes_against_a_healthy_fake_behind_an_auth_gateway(start_gateway: GatewayFactory) -> None:
    gateway = start_gateway(auth=True).script(403, 503)
    said: list[str] = []

    result = smoke_test(gateway.url, GATEWAY_KEY, timeout_seconds=5, say=said.append, policy=FAST)

    assert isinstance(result, SmokeResult)
    assert (result.width, result.height, result.model, result.seed) == (64, 64, MODEL, 1)
    assert any(line.startswith("smoke test passed: 64x64 PNG") for line in said)
    assert not any(GATEWAY_KEY in line for line in said)
    body = gateway.seen[-1]
    assert body.status == 200 and body.api_key == GATEWAY_KEY


def test_sends_no_key_to_a_gateway_without_auth(start_gateway: GatewayFactory) -> None:
    gateway = start_gateway(auth=False)

    smoke_test(gateway.url, GATEWAY_KEY, timeout_seconds=5, say=lambda _: None, policy=FAST)

    assert [seen.api_key for seen in gateway.seen] == [None]


def test_fails_with_the_response_against_a_broken_fake(
    start_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_WEBUI_FAIL", "1")
    gateway = start_gateway(auth=True)

    with pytest.raises(SmokeTestFailed) as raised:
        smoke_test(gateway.url, GATEWAY_KEY, timeout_seconds=5, say=lambda _: None, policy=FAST)

    assert raised.value.status == 500
    assert "out of memory" in raised.value.body_excerpt
    assert "HTTP 500" in str(raised.value) and "out of memory" in str(raised.value)
    assert GATEWAY_KEY not in str(raised.value)


def test_fails_when_the_answer_has_no_image(webui: WebuiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_WEBUI_NO_IMAGES", "1")

    with pytest.raises(SmokeTestFailed, match="no images") as raised:
        smoke_test(webui.url, None, timeout_seconds=5, say=lambda _: None, policy=FAST)
    assert raised.value.status == 200
    assert "images=[]" in str(raised.value)


def test_waiting_is_bounded_and_the_last_response_is_in_the_error(start_gateway: GatewayFactory) -> None:
    gateway = start_gateway().script(*[503] * 10_000)
    started = time.monotonic()

    with pytest.raises(SmokeTestFailed) as raised:
        smoke_test(gateway.url, None, timeout_seconds=0.3, say=lambda _: None, policy=FAST)

    assert time.monotonic() - started < 3
    assert raised.value.status == 503
    assert "gave up after" in str(raised.value) and "Service Unavailable" in str(raised.value)
    assert "cloudflare" in raised.value.body_excerpt


def test_cut_offs_while_the_model_loads_are_waited_out(
    start_webui: WebuiFactory, start_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_WEBUI_LOAD_SECONDS", "1.0")
    loading = start_webui()
    gateway = start_gateway(cutoff_seconds=0.1, upstream=loading.url)
    said: list[str] = []

    result = smoke_test(gateway.url, None, timeout_seconds=10, say=said.append, policy=FAST)

    assert loading.webui.model_loaded.is_set()
    assert gateway.seen[0].status == 504 and gateway.seen[-1].status == 200
    assert result.attempts >= 2
    assert any("cut off" in line for line in said)
