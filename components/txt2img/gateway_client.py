"""One txt2img call to A1111 through SaladCloud's Container Gateway, with the waiting a fresh deploy needs.

Rules (shared by the `txt2img` CLI and the post-deploy smoke test):

- **Auth.** `AuthMode.AUTO` (default) first sends no key. When the gateway answers 401/403 and a key is
  available (the key source is asked at most once, and only then), the call is repeated with
  `Salad-Api-Key` at once and the key is kept for later attempts. So the key, which is an
  organisation-wide Salad credential, only leaves this machine for a gateway that asked for it.
  `ALWAYS` sends it from the first request (and fails up front without one); `NEVER` never sends it.
- **Waiting.** 403 (route tables still being created after a deploy), 502 and 503 (no ready instance)
  and connection failures are retried until `wait_seconds` have passed, with a growing interval and
  a message through `say` for each wait. 401 is not retried: the gateway rejected (or needs) the key.
- **The 100-second cut-off.** Salad's gateway (Cloudflare) ends requests after 100 s with 504 or 524.
  By default that is an error at once (a long generation would only be cut off again);
  `retry_cutoff=True` retries it, for calls small enough that a cut-off means "model still loading".
- **Answers.** Only a JSON object with at least one base64 PNG that decodes completely is a success.
  Error texts carry the HTTP status and a short excerpt of the body, never the key.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from http import HTTPStatus
from typing import Any

import requests

from components.salad.client import API_KEY_HEADER
from components.salad.errors import readable_text
from components.txt2img.png import NotAPng, PngInfo, inspect_png

TXT2IMG_PATH = "/sdapi/v1/txt2img"
GATEWAY_CUTOFF_SECONDS = 100
_WAIT_STATUSES = frozenset({403, 502, 503})
_CUTOFF_STATUSES = frozenset({504, 524})

Say = Callable[[str], None]
KeySource = Callable[[], str | None]


class AuthMode(Enum):
    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


class Txt2ImgError(Exception):
    """A txt2img call that brought back no image; `status` is None when no HTTP answer arrived."""

    def __init__(self, message: str, *, status: int | None = None, body_excerpt: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body_excerpt = body_excerpt


class AuthError(Txt2ImgError):
    """The gateway wants a key that is missing, or rejected the one sent."""


class GatewayCutOff(Txt2ImgError):
    """The gateway's 100-second limit (504/524), or no answer within the client's read timeout."""


class NotJsonAnswer(Txt2ImgError):
    """HTTP 200, but the body is not a JSON object."""


class NoImages(Txt2ImgError):
    """A JSON answer without any (valid PNG) image."""


class GaveUpWaiting(Txt2ImgError):
    """The deployment was still not answering when `wait_seconds` ran out."""


@dataclass(frozen=True)
class Txt2ImgRequest:
    prompt: str = ""
    negative_prompt: str = ""
    steps: int = 20
    seed: int = -1
    width: int = 512
    height: int = 512
    batch_size: int = 1

    def body(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "steps": self.steps,
            "seed": self.seed,
            "width": self.width,
            "height": self.height,
            "batch_size": self.batch_size,
            "send_images": True,
            "save_images": False,
        }


@dataclass(frozen=True)
class Txt2ImgResult:
    images: list[bytes]
    image_info: list[PngInfo]
    seeds: list[int]
    model: str | None
    seconds: float
    attempts: int

    @property
    def seed(self) -> int | None:
        return self.seeds[0] if self.seeds else None


@dataclass(frozen=True)
class WaitPolicy:
    wait_seconds: float = 600.0
    first_interval: float = 2.0
    max_interval: float = 15.0
    growth: float = 1.5
    connect_timeout: float = 15.0
    # A little above the gateway's cut-off, so the gateway's own 504 normally arrives first.
    read_timeout: float = GATEWAY_CUTOFF_SECONDS + 20.0
    retry_cutoff: bool = False


def no_key() -> str | None:
    return None


@dataclass
class _Attempt:
    """What one failed attempt said: whether to wait and retry, and the error if not (or at the end)."""

    error: Txt2ImgError
    retry: bool


@dataclass
class _Auth:
    mode: AuthMode
    source: KeySource
    key: str | None = None
    sending: bool = False
    asked: bool = field(default=False)

    def lookup(self) -> str | None:
        if not self.asked:
            self.asked = True
            self.key = self.source() or None
        return self.key

    def headers(self) -> dict[str, str]:
        return {API_KEY_HEADER: self.key} if self.sending and self.key else {}


def txt2img(
    url: str,
    request: Txt2ImgRequest,
    *,
    auth: AuthMode = AuthMode.AUTO,
    api_key: KeySource = no_key,
    policy: WaitPolicy | None = None,
    say: Say = print,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Txt2ImgResult:
    """POST `request` to `url` + /sdapi/v1/txt2img under the rules in the module docstring."""
    policy = policy or WaitPolicy()
    state = _Auth(auth, api_key)
    if auth is AuthMode.ALWAYS:
        if not state.lookup():
            raise AuthError(
                "auth is on but no API key was found: set SALAD_API_KEY (or use --stack with "
                "salad:apiKey in the stack's config)"
            )
        state.sending = True
    endpoint = url.rstrip("/") + TXT2IMG_PATH
    own_session = session is None
    http = session or requests.Session()
    started = clock()
    interval = policy.first_interval
    attempts = 0
    try:
        while True:
            attempts += 1
            outcome = _attempt(http, endpoint, request, state, policy, say)
            if isinstance(outcome, _Answer):
                return _result(outcome, state, clock() - started, attempts)
            if outcome is None:  # switched to sending the key: repeat at once
                continue
            waited = clock() - started
            remaining = policy.wait_seconds - waited
            if not outcome.retry:
                raise outcome.error
            if remaining <= 0:
                raise GaveUpWaiting(
                    f"gave up after {waited:.0f} s ({attempts} attempts) waiting for {url}; "
                    f"last answer: {outcome.error}"
                    + body_note(outcome.error.body_excerpt, str(outcome.error)),
                    status=outcome.error.status,
                    body_excerpt=outcome.error.body_excerpt,
                ) from outcome.error
            pause = min(interval, remaining)
            say(
                f"waiting: {outcome.error}; retrying in {pause:.0f} s "
                f"({waited:.0f} of {policy.wait_seconds:.0f} s used)"
            )
            sleep(pause)
            interval = min(interval * policy.growth, policy.max_interval)
    finally:
        if own_session:
            http.close()


@dataclass
class _Answer:
    payload: dict[str, Any]
    body: bytes


def _attempt(
    http: requests.Session,
    endpoint: str,
    request: Txt2ImgRequest,
    state: _Auth,
    policy: WaitPolicy,
    say: Say,
) -> _Answer | _Attempt | None:
    headers = {"Accept": "application/json", **state.headers()}
    try:
        response = http.post(
            endpoint,
            json=request.body(),
            headers=headers,
            timeout=(policy.connect_timeout, policy.read_timeout),
        )
    except requests.ReadTimeout:
        return _Attempt(
            GatewayCutOff(_cutoff_text(f"no answer within {policy.read_timeout:.0f} s")),
            retry=policy.retry_cutoff,
        )
    except requests.RequestException as error:
        return _Attempt(Txt2ImgError(f"could not reach the gateway ({type(error).__name__})"), retry=True)
    status = response.status_code
    if status == 200:
        return _answer(response, state)
    excerpt = _excerpt(response.content, state)
    if status in (401, 403) and state.mode is AuthMode.AUTO and not state.sending and state.lookup():
        say(f"the gateway answered HTTP {status} without a key; repeating the request with {API_KEY_HEADER}")
        state.sending = True
        return None
    label = _status_label(status)
    if status == 401:
        text = (
            f"the gateway rejected the {API_KEY_HEADER} sent ({label})"
            if state.sending
            else f"the gateway requires {API_KEY_HEADER} ({label}); set SALAD_API_KEY or drop --no-auth"
        )
        return _Attempt(AuthError(text, status=status, body_excerpt=excerpt), retry=False)
    if status in _WAIT_STATUSES:
        return _Attempt(Txt2ImgError(_wait_reason(status, state), status=status, body_excerpt=excerpt), True)
    if status in _CUTOFF_STATUSES:
        return _Attempt(
            GatewayCutOff(_cutoff_text(label), status=status, body_excerpt=excerpt), retry=policy.retry_cutoff
        )
    hint = " (is A1111 started with --api, and is this the gateway's URL?)" if status == 404 else ""
    return _Attempt(
        Txt2ImgError(f"txt2img failed with {label}{hint}: {excerpt}", status=status, body_excerpt=excerpt),
        retry=False,
    )


def _answer(response: requests.Response, state: _Auth) -> _Answer:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        kind = response.headers.get("Content-Type") or "no content type"
        excerpt = _excerpt(response.content, state)
        raise NotJsonAnswer(
            f"the server answered HTTP 200 but not with a JSON object ({kind}): {excerpt}",
            status=200,
            body_excerpt=excerpt,
        )
    return _Answer(payload, response.content)


def _result(answer: _Answer, state: _Auth, seconds: float, attempts: int) -> Txt2ImgResult:
    payload = answer.payload
    info = _info(payload.get("info"))
    images = payload.get("images") or []
    if not isinstance(images, list) or not images:
        known = {key: info.get(key) for key in ("sd_model_name", "seed", "version") if key in info}
        summary = f"images={payload.get('images')!r}, info {json.dumps(known)}; body: {answer.body[:300]!r}"
        excerpt = _excerpt(summary.encode(), state)
        raise NoImages(f"the answer has no images ({excerpt})", status=200, body_excerpt=excerpt)
    decoded: list[bytes] = []
    checked: list[PngInfo] = []
    for number, image in enumerate(images, start=1):
        try:
            data = _decode_image(image)
            checked.append(inspect_png(data))
        except (NotAPng, ValueError, binascii.Error) as error:
            raise NoImages(
                f"image {number} of {len(images)} is not a valid PNG: {error}",
                status=200,
                body_excerpt=_excerpt(str(image)[:200].encode(), state),
            ) from error
        decoded.append(data)
    raw_seeds = info.get("all_seeds") or [info.get("seed", (payload.get("parameters") or {}).get("seed"))]
    return Txt2ImgResult(
        images=decoded,
        image_info=checked,
        seeds=[seed for seed in raw_seeds if isinstance(seed, int) and not isinstance(seed, bool)],
        model=info.get("sd_model_name") or None,
        seconds=seconds,
        attempts=attempts,
    )


def _decode_image(image: object) -> bytes:
    if not isinstance(image, str):
        raise ValueError(f"expected a base64 string, got {type(image).__name__}")
    if image.startswith("data:") and "," in image:
        image = image.split(",", 1)[1]
    return base64.b64decode(image, validate=True)


def _info(raw: object) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _wait_reason(status: int, state: _Auth) -> str:
    label = _status_label(status)
    if status == 502:
        return f"{label}: the instance is not answering yet (A1111 still starting?)"
    if status == 503:
        return f"{label}: no instance is ready yet"
    routes = f"{label}: the gateway may still be creating its routes (usual for a few minutes after a deploy)"
    if state.sending:
        return f"{routes}, or it does not accept the key"
    if state.mode is AuthMode.NEVER:
        return f"{routes}, or it requires {API_KEY_HEADER} (drop --no-auth)"
    return f"{routes}, or it requires {API_KEY_HEADER} and no key is set (SALAD_API_KEY)"


def body_note(excerpt: str, text: str) -> str:
    """`; response body: …` for an error text that does not already quote the body."""
    return f"; response body: {excerpt}" if excerpt and excerpt not in text else ""


def _cutoff_text(what: str) -> str:
    return (
        f"the request was cut off ({what}): Salad's gateway ends requests after {GATEWAY_CUTOFF_SECONDS} s. "
        "Use fewer steps or a smaller image; right after a deploy the first request also waits for the "
        "model to load, so trying again may work"
    )


def _status_label(status: int) -> str:
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _excerpt(body: bytes, state: _Auth) -> str:
    text = readable_text(body) or "(empty body)"
    return text.replace(state.key, "***") if state.key else text


def result_from_payload(payload: dict[str, Any], *, seconds: float, attempts: int = 1) -> Txt2ImgResult:
    """A1111's txt2img answer (e.g. a queue job's output) checked like a gateway answer: PNGs or NoImages."""
    body = json.dumps(payload).encode()
    return _result(_Answer(payload, body), _Auth(AuthMode.NEVER, no_key), seconds, attempts)
