"""The txt2img call against the fake A1111, directly and through the gateway stand-in."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from components.txt2img.gateway_client import (
    AuthError,
    AuthMode,
    GatewayCutOff,
    GaveUpWaiting,
    NoImages,
    NotJsonAnswer,
    Txt2ImgError,
    Txt2ImgRequest,
    txt2img,
)
from components.txt2img.png import inspect_png
from tests.fakes.fake_webui import WebuiServer
from tests.txt2img.conftest import FAST, GATEWAY_KEY, MODEL, GatewayFactory, WebuiFactory

SMALL = Txt2ImgRequest(prompt="an apple", steps=1, width=64, height=48, seed=42)


def keyed() -> str:
    return GATEWAY_KEY


def test_direct_call_returns_decodable_png_seed_and_model(webui: WebuiServer) -> None:
    result = txt2img(webui.url, SMALL, policy=FAST, say=print)

    assert len(result.images) == 1
    info = inspect_png(result.images[0])
    assert (info.width, info.height) == (64, 48)
    assert result.seed == 42
    assert result.model == MODEL
    assert result.attempts == 1


def test_random_seed_is_reported_as_the_one_the_server_chose(webui: WebuiServer) -> None:
    result = txt2img(webui.url, replace(SMALL, seed=-1), policy=FAST)

    assert result.seed is not None and result.seed >= 0
    again = txt2img(webui.url, replace(SMALL, seed=result.seed), policy=FAST)
    assert again.images == result.images


def test_batch_returns_every_image_and_seed(webui: WebuiServer) -> None:
    result = txt2img(webui.url, replace(SMALL, batch_size=3, seed=7), policy=FAST)

    assert result.seeds == [7, 8, 9]
    assert len({bytes(image) for image in result.images}) == 3


def test_no_key_is_sent_when_the_gateway_does_not_ask(start_gateway: GatewayFactory) -> None:
    gateway = start_gateway(auth=False)

    result = txt2img(gateway.url, SMALL, api_key=keyed, policy=FAST)

    assert result.model == MODEL
    assert [seen.api_key for seen in gateway.seen] == [None]


def test_key_is_sent_after_the_gateway_asks_and_kept(start_gateway: GatewayFactory) -> None:
    gateway = start_gateway(auth=True)
    said: list[str] = []
    lookups: list[int] = []

    def source() -> str:
        lookups.append(1)
        return GATEWAY_KEY

    txt2img(gateway.url, SMALL, api_key=source, policy=FAST, say=said.append)
    txt2img(gateway.url, SMALL, api_key=source, policy=FAST, say=said.append)

    assert [(seen.status, seen.api_key) for seen in gateway.seen] == [
        (403, None), (200, GATEWAY_KEY), (403, None), (200, GATEWAY_KEY),
    ]
    assert len(lookups) == 2  # once per call, only when asked
    assert any("Salad-Api-Key" in line for line in said)
    assert not any(GATEWAY_KEY in line for line in said)


def test_auth_always_sends_the_key_from_the_first_request(start_gateway: GatewayFactory) -> None:
    gateway = start_gateway(auth=True)

    txt2img(gateway.url, SMALL, auth=AuthMode.ALWAYS, api_key=keyed, policy=FAST)

    assert [seen.api_key for seen in gateway.seen] == [GATEWAY_KEY]


def test_auth_always_without_a_key_fails_before_any_request(start_gateway: GatewayFactory) -> None:
    gateway = start_gateway(auth=True)

    with pytest.raises(AuthError, match="SALAD_API_KEY"):
        txt2img(gateway.url, SMALL, auth=AuthMode.ALWAYS, policy=FAST)
    assert gateway.seen == []


def test_no_auth_never_sends_the_key_and_says_why_it_gave_up(start_gateway: GatewayFactory) -> None:
    gateway = start_gateway(auth=True)

    with pytest.raises(GaveUpWaiting, match="drop --no-auth") as raised:
        txt2img(gateway.url, SMALL, auth=AuthMode.NEVER, api_key=keyed,
                policy=replace(FAST, wait_seconds=0.2))
    assert raised.value.status == 403
    assert gateway.seen and all(seen.api_key is None for seen in gateway.seen)


def test_gateway_wanting_a_key_when_none_is_set_fails_bounded_and_names_the_variable(
    start_gateway: GatewayFactory,
) -> None:
    gateway = start_gateway(auth=True)
    started = time.monotonic()

    with pytest.raises(GaveUpWaiting) as raised:
        txt2img(gateway.url, SMALL, policy=replace(FAST, wait_seconds=0.3))

    assert time.monotonic() - started < 3
    message = str(raised.value)
    assert "403" in message and "SALAD_API_KEY" in message and "gave up after" in message
    assert "Forbidden" in raised.value.body_excerpt


def test_retries_503_and_502_after_a_deploy_then_succeeds(start_gateway: GatewayFactory) -> None:
    gateway = start_gateway(auth=True).script(503, 503, 502, 403, 403)
    said: list[str] = []

    result = txt2img(gateway.url, SMALL, api_key=keyed, policy=FAST, say=said.append)

    assert inspect_png(result.images[0]).width == 64
    assert [seen.status for seen in gateway.seen] == [503, 503, 502, 403, 403, 200]
    assert result.attempts == 6
    waits = [line for line in said if line.startswith("waiting:")]
    assert len(waits) == 4
    assert "503 Service Unavailable: no instance is ready yet" in waits[0]
    assert "502 Bad Gateway" in waits[2]
    assert "creating its routes" in waits[3] and "does not accept the key" in waits[3]
    assert [seen.api_key for seen in gateway.seen][3:] == [None, GATEWAY_KEY, GATEWAY_KEY]


def test_waiting_is_bounded_and_the_error_shows_the_last_answer(start_gateway: GatewayFactory) -> None:
    gateway = start_gateway().script(*[503] * 10_000)
    started = time.monotonic()

    with pytest.raises(GaveUpWaiting) as raised:
        txt2img(gateway.url, SMALL, policy=replace(FAST, wait_seconds=0.3))

    assert time.monotonic() - started < 3
    assert raised.value.status == 503
    assert "503 Service Unavailable" in str(raised.value)
    assert "cloudflare" in str(raised.value)


def test_zero_wait_means_a_single_attempt(start_gateway: GatewayFactory) -> None:
    gateway = start_gateway().script(503)

    with pytest.raises(GaveUpWaiting):
        txt2img(gateway.url, SMALL, policy=replace(FAST, wait_seconds=0))
    assert len(gateway.seen) == 1


def test_connection_refused_is_retried_then_reported(webui: WebuiServer) -> None:
    url = webui.url
    webui.shutdown()
    webui.server_close()

    with pytest.raises(GaveUpWaiting, match="could not reach the gateway") as raised:
        txt2img(url, SMALL, policy=replace(FAST, wait_seconds=0.2))
    assert raised.value.status is None


def test_gateway_cut_off_is_an_error_at_once_by_default(start_gateway: GatewayFactory) -> None:
    gateway = start_gateway(cutoff_seconds=0.05).cut_off_next(1)

    with pytest.raises(GatewayCutOff, match="after 100 s") as raised:
        txt2img(gateway.url, SMALL, policy=FAST)
    assert raised.value.status == 504
    assert "fewer steps" in str(raised.value)
    assert len(gateway.seen) == 1


def test_gateway_cut_off_is_retried_when_asked(start_gateway: GatewayFactory) -> None:
    gateway = start_gateway(cutoff_seconds=0.05).cut_off_next(2)

    result = txt2img(gateway.url, SMALL, policy=replace(FAST, retry_cutoff=True))

    assert [seen.status for seen in gateway.seen] == [504, 504, 200]
    assert result.attempts == 3


def test_cloudflare_524_counts_as_the_cut_off(start_gateway: GatewayFactory) -> None:
    gateway = start_gateway().script(524)

    with pytest.raises(GatewayCutOff):
        txt2img(gateway.url, SMALL, policy=FAST)


def test_client_read_timeout_is_reported_as_the_cut_off(start_gateway: GatewayFactory) -> None:
    gateway = start_gateway(cutoff_seconds=2.0).cut_off_next(1)

    with pytest.raises(GatewayCutOff, match="no answer within") as raised:
        txt2img(gateway.url, SMALL, policy=replace(FAST, read_timeout=0.1))
    assert raised.value.status is None


def test_non_json_answer_is_a_clear_error(start_gateway: GatewayFactory) -> None:
    gateway = start_gateway().script(200)

    with pytest.raises(NotJsonAnswer, match="not with a JSON object") as raised:
        txt2img(gateway.url, SMALL, policy=FAST)
    assert "text/html" in str(raised.value)
    assert "Scripted" in raised.value.body_excerpt


def test_answer_without_images_is_a_clear_error(webui: WebuiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_WEBUI_NO_IMAGES", "1")

    with pytest.raises(NoImages, match="no images") as raised:
        txt2img(webui.url, SMALL, policy=FAST)
    assert MODEL in raised.value.body_excerpt  # the info came along, to show what the server did


def test_server_error_is_reported_with_its_body(webui: WebuiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_WEBUI_FAIL", "1")

    with pytest.raises(Txt2ImgError, match="HTTP 500 Internal Server Error") as raised:
        txt2img(webui.url, SMALL, policy=FAST)
    assert "out of memory" in str(raised.value)
    assert raised.value.status == 500


def test_missing_api_flag_gives_a_hint(start_webui: WebuiFactory) -> None:
    no_api = start_webui("--xformers")

    with pytest.raises(Txt2ImgError, match="--api"):
        txt2img(no_api.url, SMALL, policy=FAST)


def test_the_key_is_redacted_from_answers_that_echo_it(start_gateway: GatewayFactory) -> None:
    gateway = start_gateway(auth=True, echo_headers=True).script(403)

    with pytest.raises(GaveUpWaiting) as raised:
        txt2img(gateway.url, SMALL, auth=AuthMode.ALWAYS, api_key=keyed, policy=replace(FAST, wait_seconds=0))

    assert "salad-api-key" in raised.value.body_excerpt  # the page did echo the header...
    assert GATEWAY_KEY not in str(raised.value) + raised.value.body_excerpt  # ...but not its value
