"""Provider settings from stack config namespace `salad` (read in `configure`), with env fallbacks."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from components.salad.client import DEFAULT_BASE_URL, SaladClient
from components.salad.rate_budget import DEFAULT_PER_MINUTE, shared_budget

API_KEY = "salad:apiKey"
API_URL = "salad:apiUrl"
ORGANIZATION = "salad:organization"
PROJECT = "salad:project"
POLL_SECONDS = "salad:pollSeconds"
REQUESTS_PER_MINUTE = "salad:requestsPerMinute"
API_KEY_ENV = "SALAD_API_KEY"

DEFAULT_POLL_SECONDS = 5.0
FIRST_POLL_SECONDS = 1.0  # the first poll comes sooner, capped by poll_seconds


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
    requests_per_minute: int = DEFAULT_PER_MINUTE


def settings_from_config(get: Callable[[str], Any], env: Mapping[str, str] = os.environ) -> ProviderSettings:
    """Read `salad:*` keys through `get` (a ConfigureRequest's `config.get`), falling back to env."""
    api_key = _text(get(API_KEY)) or env.get(API_KEY_ENV, "")
    api_url = _text(get(API_URL)) or env.get("SALAD_API_URL", "") or DEFAULT_BASE_URL
    poll_seconds = _number(get, env, POLL_SECONDS, "SALAD_POLL_SECONDS", DEFAULT_POLL_SECONDS, 0.01, 300)
    per_minute = _number(
        get, env, REQUESTS_PER_MINUTE, "SALAD_REQUESTS_PER_MINUTE", DEFAULT_PER_MINUTE, 1, 1_000_000
    )
    return ProviderSettings(
        api_key=api_key,
        api_url=api_url,
        organization=_text(get(ORGANIZATION)) or env.get("SALAD_ORGANIZATION") or None,
        project=_text(get(PROJECT)) or env.get("SALAD_PROJECT") or None,
        poll_seconds=poll_seconds,
        requests_per_minute=int(per_minute),
    )


def salad_client(settings: ProviderSettings) -> SaladClient:
    """A client on the key's shared rate budget; SettingsError when no key is configured."""
    if not settings.api_key:
        raise SettingsError(
            "no Salad API key: run `pulumi config set --secret salad:apiKey <key>` or set SALAD_API_KEY"
        )
    budget = shared_budget(settings.api_key, settings.requests_per_minute)
    return SaladClient(settings.api_key, settings.api_url, rate_budget=budget)


def _number(
    get: Callable[[str], Any],
    env: Mapping[str, str],
    key: str,
    env_name: str,
    default: float,
    minimum: float,
    maximum: float,
) -> float:
    raw = _text(get(key)) or env.get(env_name, "")
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise SettingsError(f"{key} must be a number between {minimum} and {maximum}, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{key} must be between {minimum} and {maximum}, got {raw}")
    return value


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()
