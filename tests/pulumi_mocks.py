"""Pulumi mocks that record every registered resource, and their installation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import pulumi

IMAGE_TYPE = "docker:index/image:Image"


class RecordingMocks(pulumi.runtime.Mocks):
    """Records every registered resource; its outputs are its inputs plus `extra_outputs[type]`."""

    def __init__(self, extra_outputs: Mapping[str, Mapping[str, Any]] = {}) -> None:
        self.extra_outputs = extra_outputs
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.resources.append(args)
        return f"{args.name}-id", {**args.inputs, **self.extra_outputs.get(args.typ, {})}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any] | None]:
        return {}, None

    def of_type(self, typ: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [r for r in self.resources if r.typ == typ]


def install_mocks(
    mocks: pulumi.runtime.Mocks,
    *,
    stack: str,
    project: str = "salad-sd",
    preview: bool = False,
    monitor: pulumi.runtime.mocks.MockMonitor | None = None,
    logger: logging.Logger | None = None,
) -> None:
    """Installs `mocks` on a fresh event loop: earlier tests (asyncio.run) can leave the main thread
    without one, and the mocks need one."""
    asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_mocks(
        mocks, project=project, stack=stack, preview=preview, monitor=monitor, logger=logger
    )
