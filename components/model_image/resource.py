"""`ModelImage`: builds and pushes the model-baked A1111 image, or adopts an existing one.

Wraps `pulumi_docker.Image` (context `image/`, linux/amd64, BuildKit). Its output `ref` is the pushed
image's digest reference (`repo@sha256:...`), which the container group deploys: Salad pulls an image
once, when a group is created or updated, so a mutable tag would never roll out.

Before anything is registered the build context is checked: the listed models present (and the sha256
when given, remembered by size and mtime), the listed extensions staged at their commits, nothing else
staged, and a checkpoint among the models; so `pulumi up` fails fast naming the file or extension.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_docker as docker

from components.model_image.extensions import ExtensionSpec, verify_staged
from components.model_image.models import (
    MODELS_DIR,
    ModelError,
    ModelSpec,
    default_checkpoint,
    ensure_layout,
    no_checkpoint_problem,
    stray_files,
    verify_models,
)
from components.model_image.naming import image_name
from components.model_image.queue_worker import QueueWorkerSpec

DEFAULT_BASE_IMAGE = "saladtechnologies/a1111:ipv6-v1.9.4"
PLATFORM = "linux/amd64"
TYPE_TOKEN = "salad-sd:image:ModelImage"


@dataclass(frozen=True)
class RegistryCredentials:
    """Login for the registry the image is pushed to (and Salad pulls from)."""

    server: str
    """Registry host, e.g. `docker.io` or `ghcr.io`."""
    username: str
    """Registry user name."""
    password: pulumi.Input[str]
    """Password or access token; always handled as a Pulumi secret."""


@dataclass(frozen=True)
class ModelImageArgs:
    """What to build, or which existing image to deploy."""

    repository: str | None = None
    """Push target without tag, e.g. `docker.io/me/salad-sd`. Required unless `ref` is set."""
    models: Sequence[ModelSpec] = ()
    """Models to bake in, staged under `<context_dir>/models/<kind>/`; the first checkpoint is loaded
    at start. A build needs one checkpoint at least."""
    extensions: Sequence[ExtensionSpec] = ()
    """A1111 extensions to bake in, staged at their commits under `<context_dir>/extensions/<name>/`."""
    queue_worker: QueueWorkerSpec | None = None
    """Salad's job-queue worker to download into the image at build; None leaves it out."""
    base_image: str = DEFAULT_BASE_IMAGE
    """The A1111 image to build on (the Dockerfile's BASE_IMAGE build arg)."""
    tag: str | None = None
    """Tag to push; default: the stack name. Deployments use the digest, never the tag."""
    ref: str | None = None
    """An existing image to deploy as is (ideally `repo@sha256:...`): nothing is built or pushed."""
    registry: RegistryCredentials | None = None
    """Push credentials; None falls back to the Docker client's own login (`~/.docker/config.json`)."""
    context_dir: str = "image"
    """Build context, relative to the project directory; holds the Dockerfile."""
    warm_hf_cache: bool = True
    """Download the CLIP tokenizer into the image's Hugging Face cache at build time."""
    build_network: str | None = None
    """Network for RUN steps (`host` when the Docker daemon has no bridge); None = daemon default."""
    extra_build_args: dict[str, str] = field(default_factory=dict)
    """More Dockerfile build args (they override the computed ones)."""
    secret: bool = False
    """Handle the image name, registry login and resulting ref as Pulumi secrets (the user set part of
    `salad-sd:image` as a secret). The registry password is always a secret."""


def build_args(args: ModelImageArgs) -> dict[str, str]:
    """The Dockerfile's build args for these settings."""
    checkpoint = default_checkpoint(args.models)
    computed = {
        "BASE_IMAGE": args.base_image,
        "CHECKPOINT": checkpoint.file if checkpoint else "",
        "MODELS": " ".join(m.staged_name for m in args.models),
        "EXTENSIONS": " ".join(f"{e.name}@{e.ref}" for e in args.extensions),
        "WARM_HF_CACHE": "1" if args.warm_hf_cache else "0",
        "QUEUE_WORKER_URL": args.queue_worker.url if args.queue_worker else "",
        "QUEUE_WORKER_SHA256": args.queue_worker.sha256 if args.queue_worker else "",
    }
    return {**computed, **args.extra_build_args}


def check_build_context(args: ModelImageArgs) -> None:
    """Raises ModelError naming the file or extension when there is no checkpoint, a listed model is
    missing or corrupt, a listed extension is not staged at its commit, or the staging directories hold
    something the lists do not name (it would be baked in silently)."""
    context = Path(args.context_dir)
    if not (context / "Dockerfile").is_file():
        raise ModelError(f"no Dockerfile in the build context {context}")
    problem = no_checkpoint_problem(args.models)
    if problem:
        raise ModelError(problem)
    ensure_layout(context)
    verify_models(args.models, context)
    verify_staged(args.extensions, context)
    stray = stray_files(args.models, context)
    if stray:
        names = ", ".join(str(p.relative_to(context / MODELS_DIR)) for p in stray)
        raise ModelError(
            f"{names} in {context / MODELS_DIR} not in salad-sd:image.models: it would be baked "
            "into the image too; list it or delete it"
        )


class ModelImage(pulumi.ComponentResource):
    """The container image A1111 runs from on Salad."""

    ref: pulumi.Output[str]
    """Digest reference to deploy (`repository@sha256:...`), or `args.ref` unchanged."""
    image: docker.Image | None
    """The build-and-push resource; None in `ref` mode."""

    def __init__(self, name: str, args: ModelImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if args.ref is None:
            if not args.repository:
                raise ValueError("salad-sd:image needs a repository to push to, or a ref to deploy")
            check_build_context(args)
        super().__init__(TYPE_TOKEN, name, {}, opts)
        if args.ref is not None:
            self.image = None
            self.ref = _maybe_secret(args.ref, args.secret)
        else:
            self.image = self._build(name, args)
            self.ref = _maybe_secret(self.image.repo_digest, args.secret)
        self.register_outputs({"ref": self.ref})

    def _build(self, name: str, args: ModelImageArgs) -> docker.Image:
        registry = None
        if args.registry is not None:
            registry = docker.RegistryArgs(
                server=_maybe_secret(args.registry.server, args.secret),
                username=_maybe_secret(args.registry.username, args.secret),
                password=pulumi.Output.secret(args.registry.password),
            )
        return docker.Image(
            f"{name}-image",
            image_name=_maybe_secret(image_name(args.repository, args.tag, pulumi.get_stack()), args.secret),
            build=docker.DockerBuildArgs(
                context=args.context_dir,
                dockerfile=f"{args.context_dir}/Dockerfile",
                platform=PLATFORM,
                args=build_args(args),
                network=args.build_network,
            ),
            registry=registry,
            opts=pulumi.ResourceOptions(parent=self),
        )


def _maybe_secret(value: pulumi.Input[str], secret: bool) -> pulumi.Output[str]:
    output = pulumi.Output.from_input(value)
    return pulumi.Output.secret(output) if secret else output
