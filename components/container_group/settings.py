"""Provider settings from stack config namespace `salad` (read in `configure`), with env fallbacks."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from components.salad.client import DEFAULT_BASE_URL

API_KEY = "salad:apiKey"
API_URL = "salad:apiUrl"
ORGANIZATION = "salad:organization"
PROJECT = "salad:project"
POLL_SECONDS = "salad:pollSeconds"

DEFAULT_POLL_SECONDS = 5.0
FIRST_POLL_SECONDS = 1.0


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class ProviderSettings:
    """What the provider needs besides a resource's inputs. The API key is kept out of repr."""

    api_key: str = field(repr=False)
    api_url: str = DEFAULT_BASE_URL
    organization: str | None = None
    project: str | None = None
    poll_seconds: float = DEFAULT_POLL_SECONDS
    first_poll_seconds: float = FIRST_POLL_SECONDS


def settings_from_config(
    get: Callable[[str], Any], env: Mapping[str, str] = os.environ
) -> ProviderSettings:
    """Read `salad:*` keys through `get` (a ConfigureRequest's `config.get`), falling back to env."""
    api_key = _text(get(API_KEY)) or env.get("SALAD_API_KEY", "")
    api_url = _text(get(API_URL)) or env.get("SALAD_API_URL", "") or DEFAULT_BASE_URL
    poll = _text(get(POLL_SECONDS)) or env.get("SALAD_POLL_SECONDS", "")
    try:
        poll_seconds = float(poll) if poll else DEFAULT_POLL_SECONDS
    except ValueError:
        raise SettingsError(f"{POLL_SECONDS} must be a number of seconds, got {poll!r}") from None
    if not 0 < poll_seconds <= 300:
        raise SettingsError(f"{POLL_SECONDS} must be between 0 and 300 seconds, got {poll_seconds}")
    return ProviderSettings(
        api_key=api_key,
        api_url=api_url,
        organization=_text(get(ORGANIZATION)) or env.get("SALAD_ORGANIZATION") or None,
        project=_text(get(PROJECT)) or env.get("SALAD_PROJECT") or None,
        poll_seconds=poll_seconds,
        first_poll_seconds=min(FIRST_POLL_SECONDS, poll_seconds),
    )


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()
