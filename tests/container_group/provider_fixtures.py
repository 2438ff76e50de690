"""Helpers for provider tests: a provider configured for the emulator, checked inputs, time scaling."""

from __future__ import annotations

import time
from typing import Any

from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from components.container_group.provider import ContainerGroupProvider
from components.container_group.waiting import Pacing
from tests.conftest import TEST_API_KEY
from tests.fakes.salad_api import SaladEmulator

ORG, PROJECT = "acme", "sd-dev"
IMAGE = "registry.example/salad-sd@sha256:" + "1" * 64
NEW_IMAGE = "registry.example/salad-sd@sha256:" + "2" * 64


class ScaledTimeProvider(ContainerGroupProvider):
    """Runs the provider's waits on a clock `factor` times faster, so minute deadlines take seconds."""

    factor = 60.0

    def _pacing(self) -> Pacing:
        base = super()._pacing()
        origin = time.monotonic()
        return Pacing(
            first_poll_seconds=base.first_poll_seconds,
            poll_seconds=base.poll_seconds,
            clock=lambda: origin + (time.monotonic() - origin) * self.factor,
            sleep=lambda seconds: time.sleep(seconds / self.factor),
        )


def provider_config(emulator: SaladEmulator, **overrides: str) -> dict[str, str]:
    """The provider's `salad:*` config for the emulator: fast polling, no rate limit."""
    return {
        "salad:apiKey": TEST_API_KEY,
        "salad:apiUrl": emulator.base_url,
        "salad:organization": ORG,
        "salad:project": PROJECT,
        "salad:pollSeconds": "0.05",
        "salad:requestsPerMinute": "100000",
        **overrides,
    }


def configure(
    provider: ContainerGroupProvider, emulator: SaladEmulator, **config: str
) -> ContainerGroupProvider:
    provider.configure(ConfigureRequest(Config(provider_config(emulator, **config), "salad-sd")))
    return provider


def wire_inputs(**overrides: Any) -> dict[str, Any]:
    """Inputs as the engine sends them: numbers as floats."""
    news: dict[str, Any] = {
        "name": "sd-test",
        "image": IMAGE,
        "replicas": 2.0,
        "cpu": 4.0,
        "memory": 12288.0,
        "gpu_classes": ["RTX 3060 Ti"],
        "gateway": {"port": 7860.0, "auth": True},
        "startup_probe": {
            "http": {"path": "/internal/profile-startup", "port": 7860.0},
            "initial_delay_seconds": 30.0,
            "period_seconds": 10.0,
            "failure_threshold": 20.0,
        },
        "liveness_probe": {"http": {"path": "/internal/ping", "port": 7860.0}},
    }
    news.update(overrides)
    return {k: v for k, v in news.items() if v is not None}


def checked(
    provider: ContainerGroupProvider, olds: dict[str, Any] | None = None, **overrides: Any
) -> dict[str, Any]:
    result = provider.check(olds or {}, wire_inputs(**overrides))
    assert not result.failures, [(f.property, f.reason) for f in result.failures]
    return dict(result.inputs)
