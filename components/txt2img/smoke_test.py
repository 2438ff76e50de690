"""Post-deploy smoke test: one tiny txt2img through the gateway must bring back a PNG."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from components.txt2img.gateway_client import (
    AuthMode,
    Txt2ImgError,
    Txt2ImgRequest,
    WaitPolicy,
    body_note,
    txt2img,
)

SMOKE_REQUEST = Txt2ImgRequest(prompt="a red apple on a wooden table", steps=1, width=64, height=64, seed=1)


class SmokeTestFailed(Txt2ImgError):
    """No PNG came back; `status` and `body_excerpt` describe the last answer (status None: no answer)."""


@dataclass(frozen=True)
class SmokeResult:
    url: str
    seed: int | None
    model: str | None
    width: int
    height: int
    seconds: float
    attempts: int


def smoke_test(
    url: str,
    api_key: str | None,
    *,
    timeout_seconds: float = 600,
    say: Callable[[str], None] = print,
    policy: WaitPolicy | None = None,
) -> SmokeResult:
    """Run SMOKE_REQUEST against `url`, waiting up to `timeout_seconds` for the gateway and the model.

    The key is sent only if the gateway asks for it. A cut-off (504/524) is retried too: for a 1-step
    64x64 image it means the model is still loading. `policy` overrides the retry timing (tests).
    """
    wait = replace(policy or WaitPolicy(), wait_seconds=timeout_seconds, retry_cutoff=True)
    say(f"smoke test: 1-step 64x64 txt2img through {url}")
    try:
        result = txt2img(
            url, SMOKE_REQUEST, auth=AuthMode.AUTO, api_key=lambda: api_key, policy=wait, say=say
        )
    except Txt2ImgError as error:
        answer = f"HTTP {error.status}" if error.status is not None else "no HTTP answer"
        message = f"smoke test of {url} failed ({answer}): {error}"
        message += body_note(error.body_excerpt, message)
        raise SmokeTestFailed(
            message,
            status=error.status,
            body_excerpt=error.body_excerpt,
        ) from error
    image = result.image_info[0]
    say(
        f"smoke test passed: {image.width}x{image.height} PNG, model {result.model or 'unknown'}, "
        f"seed {result.seed}, {result.seconds:.1f} s"
    )
    return SmokeResult(
        url, result.seed, result.model, image.width, image.height, result.seconds, result.attempts
    )
