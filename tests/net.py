"""Small network helpers for tests that run servers: a free port, a JSON GET, a ping check."""

from __future__ import annotations

import json
import socket
import urllib.request
from typing import Any


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on `host` a moment ago (IPv6 when `host` has a ':')."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def get_json(url: str, timeout: float) -> Any:
    """GET `url` and parse the body as JSON (raises on an HTTP error, a connection error or bad JSON)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def answers_ping(base_url: str, timeout: float) -> bool:
    """Whether `base_url` answers A1111's `/internal/ping` with `{}` (False on a connection or JSON error)."""
    try:
        return bool(get_json(f"{base_url}/internal/ping", timeout) == {})
    except (OSError, ValueError):
        return False
