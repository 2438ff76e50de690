"""Waits until the webui can generate: a 1-step 64x64 txt2img on 127.0.0.1:$WEBUI_PORT, retried until it
answers an image. The entrypoint opens the IPv6 bridge (and so Salad's probes and the gateway) only
after this exits 0, and the first generation also warms the GPU kernels.

A1111 answers HTTP while the checkpoint still loads in a background thread, and a txt2img waits for that
load; so one attempt may take minutes (ATTEMPT_SECONDS, cut short to what is left of the deadline).
Exits 1 after WARMUP_TIMEOUT_SECONDS (1800), give or take a second.
Standard library only: it runs with the base image's python before anything else is known to work.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request

BODY = {"prompt": "warm-up", "steps": 1, "width": 64, "height": 64, "batch_size": 1, "n_iter": 1}
ATTEMPT_SECONDS = 900
RETRY_SECONDS = 0.5
REPORT_EVERY_SECONDS = 30


def log(message: str) -> None:
    print(f"salad-warm-up: {message}", file=sys.stderr, flush=True)


def attempt(url: str, timeout: float) -> str | None:
    """None when the webui answered an image, else what went wrong."""
    request = urllib.request.Request(
        url, data=json.dumps(BODY).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except (OSError, ValueError) as error:
        return str(getattr(error, "reason", error))
    if isinstance(answer, dict) and answer.get("images"):
        return None
    return "an answer without images"


def main() -> int:
    url = f"http://127.0.0.1:{os.environ.get('WEBUI_PORT', '7859')}/sdapi/v1/txt2img"
    timeout = float(os.environ.get("WARMUP_TIMEOUT_SECONDS", "1800"))
    started = time.monotonic()
    reported = started
    while True:
        began = time.monotonic()
        # One hanging call must not outlive the deadline: at most what is left of it (at least 1 s).
        problem = attempt(url, max(1.0, min(ATTEMPT_SECONDS, started + timeout - began)))
        now = time.monotonic()
        if problem is None:
            log(f"txt2img answered an image after {now - started:.1f} s (that call took {now - began:.1f} s)")
            return 0
        if now - started >= timeout:
            log(f"gave up after {now - started:.0f} s: {problem}")
            return 1
        if now - reported >= REPORT_EVERY_SECONDS:
            log(f"still waiting after {now - started:.0f} s: {problem}")
            reported = now
        time.sleep(RETRY_SECONDS)


if __name__ == "__main__":
    sys.exit(main())
