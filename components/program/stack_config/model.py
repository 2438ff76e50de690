"""What the loader returns: frozen, typed, and free of the Salad API key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from components.model_image.extensions import ExtensionSpec
from components.model_image.models import ModelSpec
from components.model_image.queue_worker import QueueWorkerSpec


class ConfigError(ValueError):
    """The stack config is invalid; `problems` lists every problem found, one message each."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        count = len(self.problems)
        heading = f"invalid stack config ({count} problem{'s' if count != 1 else ''}):"
        super().__init__("\n  - ".join([heading, *self.problems]))


@dataclass(frozen=True)
class RegistryConfig:
    """`salad-sd:image.registry`: where the image is pushed and Salad pulls it from."""

    server: str
    """Registry host, optionally with a port (`ghcr.io`, `registry.example.com:5000`)."""
    username: str
    """Registry user name."""
    password: str = field(repr=False)
    """Password or access token. Kept out of repr; wrap it in `pulumi.Output.secret` before use."""

    def salad_authentication(self) -> dict[str, Any]:
        """The ContainerGroup `registry_authentication` input for these credentials (a secret)."""
        return {"basic": {"username": self.username, "password": self.password}}


@dataclass(frozen=True)
class ImageConfig:
    """`salad-sd:image`: either build and push (`repository`) or deploy an existing image (`ref`)."""

    repository: str | None = None
    """Push target without tag or digest (`registry.example.com/team/salad-sd`); None in ref mode."""
    ref: str | None = None
    """Existing image to deploy as is (ideally `repo@sha256:...`); None when building."""
    base_image: str | None = None
    """A1111 image to build on; None: ModelImage's default."""
    tag: str | None = None
    """Tag to push; None: ModelImage's default (the stack name)."""
    registry: RegistryConfig | None = None
    """Credentials; None: the Docker client's own login, and a public image for Salad."""
    models: tuple[ModelSpec, ...] = ()
    """Models to bake in, in config order (the first checkpoint is loaded at start)."""
    extensions: tuple[ExtensionSpec, ...] = ()
    """A1111 extensions to bake in, each at a pinned commit."""
    queue_worker: QueueWorkerSpec | None = None
    """Salad's job-queue worker to download into the image; None leaves it out."""

    @property
    def builds(self) -> bool:
        """True when the program builds and pushes an image, False in `ref` mode."""
        return self.ref is None


@dataclass(frozen=True)
class QueueConfig:
    """`salad-sd:deployment.queue`: the Salad job queue the group takes its jobs from."""

    name: str
    """Queue name (default `<group name>-jobs`); renaming it replaces the queue and the group."""
    description: str
    """The queue's description in Salad."""


@dataclass(frozen=True)
class StackConfig:
    """Everything `__main__.py` needs to register the stack's resources."""

    organization: str
    """Salad organization (`salad:organization`)."""
    project: str
    """Salad project (`salad:project`)."""
    image: ImageConfig
    """What image to deploy, and how to produce it."""
    container_group_inputs: dict[str, Any]
    """Normalized ContainerGroup inputs (snake_case, defaults filled) WITHOUT `image` and without
    `registry_authentication`: merge in the image ref (and `image.registry.salad_authentication()` for a
    private registry) before creating the group."""
    smoke_test: bool
    """Run a txt2img call through the gateway after each deploy."""
    protect: bool
    """Register the container group with `protect=True` (prod: `pulumi destroy` refuses to delete it)."""
    queue: QueueConfig | None = None
    """Queue mode: the job queue to create before the group (None: gateway only)."""

    @property
    def name(self) -> str:
        """The container group's name."""
        return str(self.container_group_inputs["name"])
