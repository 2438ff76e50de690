"""`Queue`: a SaladCloud job queue as a Pulumi dynamic resource."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from components.queue.provider import QueueProvider


@dataclass
class QueueArgs:
    """Inputs of a job queue; the provider's check validates them against Salad's ranges first."""

    name: pulumi.Input[str]
    """Queue name, unique in the project (lower-case letters, digits, hyphens; 2-63). Renaming replaces it."""
    organization: pulumi.Input[str] | None = None
    """Salad organization; defaults to stack config `salad:organization`."""
    project: pulumi.Input[str] | None = None
    """Salad project; defaults to stack config `salad:project`."""
    display_name: pulumi.Input[str] | None = None
    """Name shown in the portal (letters, digits, spaces, `,-.`); Salad's default is the name."""
    description: pulumi.Input[str] | None = None
    """Free text, one line, at most 500 characters."""


class Queue(Resource, module="salad", name="Queue"):
    """A Salad job queue; container groups connect to it by name (`queue_connection.queue_name`)."""

    name: pulumi.Output[str]
    queue_id: pulumi.Output[str]

    def __init__(
        self, resource_name: str, args: QueueArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props: dict[str, Any] = {f.name: getattr(args, f.name) for f in fields(args)}
        props = {k: v for k, v in props.items() if v is not None}
        props["queue_id"] = None
        super().__init__(QueueProvider(), resource_name, props, opts)
