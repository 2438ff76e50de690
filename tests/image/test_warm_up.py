"""image/warm_up.py against a webui that accepts the connection and never answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from tests.paths import REPO_ROOT

WARM_UP = REPO_ROOT / "image" / "warm_up.py"


def test_a_hanging_attempt_does_not_outlive_the_deadline() -> None:
    """ATTEMPT_SECONDS is 900; with a 2 s deadline, the one hanging call is cut to what is left of it."""
    with socket.socket() as listener:  # the kernel completes the connection; nobody ever answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        env = {**os.environ, "WEBUI_PORT": str(listener.getsockname()[1]), "WARMUP_TIMEOUT_SECONDS": "2"}
        began = time.monotonic()
        result = subprocess.run(
            [sys.executable, str(WARM_UP)], env=env, capture_output=True, text=True, timeout=120
        )
        elapsed = time.monotonic() - began
    assert result.returncode == 1, result.stderr
    assert "salad-warm-up: gave up after 2 s: timed out" in result.stderr
    assert elapsed < 60  # the deadline plus start-up and a loaded machine's slack, far from 900 s
