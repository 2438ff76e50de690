"""`ContainerGroup`: a SaladCloud container group as a Pulumi dynamic resource."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from components.container_group.provider import ContainerGroupProvider

OUTPUT_NAMES = (
    "status",
    "url",
    "dns",
    "version",
    "ready_replicas",
    "gpu_class_ids",
    "estimated_cost_per_hour",
)


@dataclass
class ContainerGroupArgs:
    """Inputs of a container group. Unset inputs take the defaults named below; the provider's check
    validates everything against Salad's ranges before any API call."""

    name: pulumi.Input[str]
    """Group name, unique in the project: lower-case letters, digits and hyphens, 2-63 characters."""
    image: pulumi.Input[str]
    """Image reference; a digest reference (`repo@sha256:…`) makes every new build an update."""
    cpu: pulumi.Input[int]
    """vCPUs per instance, 1-16."""
    memory: pulumi.Input[int]
    """Memory per instance in MB, 1024-61440."""
    organization: pulumi.Input[str] | None = None
    """Salad organization; defaults to stack config `salad:organization`."""
    project: pulumi.Input[str] | None = None
    """Salad project; defaults to stack config `salad:project`."""
    display_name: pulumi.Input[str] | None = None
    """Name shown in the portal (letters, digits, spaces, `,-.`); defaults to `name`."""
    replicas: pulumi.Input[int] | None = None
    """Instances to run, 0-500 (default 1)."""
    gpu_classes: pulumi.Input[list[str]] | None = None
    """GPU classes by UUID or name ("RTX 3060 Ti" matches "RTX 3060 Ti (8 GB)"); any of them may be used.
    Empty: CPU only."""
    storage_gb: pulumi.Input[int] | None = None
    """Disk per instance in GiB, 1-250."""
    shm_size: pulumi.Input[int] | None = None
    """Shared memory in MB (at least 64)."""
    priority: pulumi.Input[str] | None = None
    """high, medium, low or batch."""
    country_codes: pulumi.Input[list[str]] | None = None
    """Lower-case ISO country codes nodes must be in; unset allows any country."""
    environment_variables: pulumi.Input[dict[str, str]] | None = None
    """Environment of the container (values 1-1000 characters)."""
    command: pulumi.Input[list[str]] | None = None
    """Overrides the image's ENTRYPOINT and CMD."""
    image_caching: pulumi.Input[bool] | None = None
    """Let Salad cache the image for faster starts (default true)."""
    registry_authentication: pulumi.Input[dict[str, Any]] | None = None
    """Pull credentials, one of basic, docker_hub, aws_ecr, gcp_gar, gcp_gcr; kept secret in state."""
    restart_policy: pulumi.Input[str] | None = None
    """always (default), on_failure or never; changing it replaces the group."""
    autostart: pulumi.Input[bool] | None = None
    """Start as soon as the image is prepared (default true); changing it replaces the group."""
    gateway: pulumi.Input[dict[str, Any]] | None = None
    """Container Gateway: port, auth, load_balancer, single_connection_limit, client_request_timeout_ms,
    server_response_timeout_ms. Only `port` changes in place; anything else replaces the group."""
    startup_probe: pulumi.Input[dict[str, Any]] | None = None
    """Salad probe object (http/tcp/grpc/exec plus timings)."""
    liveness_probe: pulumi.Input[dict[str, Any]] | None = None
    """Salad probe object (http/tcp/grpc/exec plus timings)."""
    readiness_probe: pulumi.Input[dict[str, Any]] | None = None
    """Salad probe object (http/tcp/grpc/exec plus timings)."""
    queue_connection: pulumi.Input[dict[str, Any]] | None = None
    """Job queue mode: {queue_name, port (the app's port), path (default /sdapi/v1/txt2img)}; Salad's
    job-queue worker in the container takes jobs from the queue. Changing it replaces the group."""
    queue_autoscaler: pulumi.Input[dict[str, Any]] | None = None
    """{min_replicas (0), max_replicas, desired_queue_length (1), polling_period (30), max_upscale_per_minute
    (10), max_downscale_per_minute (5)}: the autoscaler owns the instance count (replicas is ignored) and
    changes are one PATCH of the whole object, with no restart."""
    min_ready_replicas: pulumi.Input[int] | None = None
    """Ready instances to wait for on create and update (default 1, never more than replicas)."""
    ready_timeout_minutes: pulumi.Input[int] | None = None
    """Deadline of that wait, default 45 (Pulumi's customTimeouts do not reach dynamic providers)."""
    max_failures: pulumi.Input[int] | None = None
    """Failure events (exits, out of memory, probe failures, disk exceeded, image pull errors) of the
    awaited version after which the wait stops with their reasons (default 3)."""
    reallocate_stuck_after_minutes: pulumi.Input[float] | None = None
    """Opt-in: reallocate an instance that stays downloading or creating this long (fractions allowed)."""
    smoke_test: pulumi.Input[bool] | None = None
    """After readiness, one 1-step 64x64 txt2img through the gateway must return a PNG (default false)."""
    adopt: pulumi.Input[bool] | None = None
    """Take over an existing group of the same name instead of failing (Pulumi import does not work
    for dynamic resources)."""


class ContainerGroup(Resource, module="salad", name="ContainerGroup"):
    """A Salad container group that `pulumi up` moves to its inputs and waits on until it serves."""

    status: pulumi.Output[str]
    url: pulumi.Output[str | None]
    dns: pulumi.Output[str | None]
    version: pulumi.Output[int]
    ready_replicas: pulumi.Output[int]
    gpu_class_ids: pulumi.Output[list[str]]
    estimated_cost_per_hour: pulumi.Output[float | dict[str, float | None] | None]
    """USD per hour for all replicas; with a queue autoscaler a range {min, max} over its replica range."""

    def __init__(
        self, resource_name: str, args: ContainerGroupArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props: dict[str, Any] = {f.name: getattr(args, f.name) for f in fields(args)}
        props = {k: v for k, v in props.items() if v is not None}
        props.update({name: None for name in OUTPUT_NAMES})
        secret_outputs = pulumi.ResourceOptions(additional_secret_outputs=["registry_authentication"])
        super().__init__(
            ContainerGroupProvider(),
            resource_name,
            props,
            pulumi.ResourceOptions.merge(secret_outputs, opts),
        )
