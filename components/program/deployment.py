"""`A1111Deployment`: the model-baked image and the Salad container group that runs it, as one component."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.container_group.resource import ContainerGroup, ContainerGroupArgs
from components.container_group.settings import API_KEY_ENV
from components.model_image.models import ModelError
from components.model_image.resource import ModelImage, ModelImageArgs
from components.queue.resource import Queue, QueueArgs
from components.salad.client import API_KEY_HEADER
from components.txt2img.gateway_client import TXT2IMG_PATH, Txt2ImgRequest

TYPE_TOKEN = "salad-sd:index:A1111Deployment"
EXAMPLE_REQUEST = Txt2ImgRequest(prompt="a watercolor lighthouse at dawn", steps=20, width=512, height=512)


@dataclass
class A1111DeploymentArgs:
    """Everything one stack deploys."""

    image: ModelImageArgs
    """What to build and push (or which existing image to deploy)."""
    container_group: dict[str, Any]
    """ContainerGroup inputs (snake_case, as checked by the provider) without `image`."""
    protect: bool = False
    """Protect the container group from `pulumi destroy` and replacement (production stacks)."""
    queue: QueueArgs | None = None
    """Queue mode: the job queue, created before the group (whose `queue_connection` names it)."""
    auth: bool = False
    """Callers of the gateway send `Salad-Api-Key` (shapes the example request)."""
    secret_outputs: Sequence[str] = ()
    """Container-group properties that hold secrets: kept secret in its outputs and state too."""


class A1111Deployment(pulumi.ComponentResource):
    """Builds the image, deploys it by digest to a Salad container group and waits until it serves."""

    url: pulumi.Output[str | None]
    container_group_name: pulumi.Output[str]
    container_group_id: pulumi.Output[str]
    image_ref: pulumi.Output[str]
    ready_replicas: pulumi.Output[int]
    estimated_cost_per_hour: pulumi.Output[float | dict[str, float | None] | None]
    example_request: pulumi.Output[str]
    queue_name: pulumi.Output[str | None]

    def __init__(
        self, name: str, args: A1111DeploymentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, {}, opts)
        try:
            image = ModelImage(name, args.image, pulumi.ResourceOptions(parent=self))
        except ModelError as error:  # a missing or corrupt model: the message names the file and fix
            raise pulumi.RunError(str(error)) from None
        group_inputs: dict[str, Any] = {**args.container_group, "image": image.ref}
        depends_on: list[pulumi.Resource] = []
        self.queue_name = pulumi.Output.from_input(None)
        if args.queue is not None:
            queue = Queue(
                f"{name}-queue", args.queue, pulumi.ResourceOptions(parent=self, protect=args.protect)
            )
            depends_on.append(queue)
            self.queue_name = queue.name
            # The name is plain config (known in previews); depends_on orders the queue first.
        group = ContainerGroup(
            f"{name}-group",
            ContainerGroupArgs(**group_inputs),
            pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                depends_on=depends_on,
                additional_secret_outputs=list(args.secret_outputs),
            ),
        )
        auth = args.auth
        self.url = group.url
        self.container_group_name = group.name  # type: ignore[attr-defined]
        self.container_group_id = group.id
        self.image_ref = image.ref
        self.ready_replicas = group.ready_replicas
        self.estimated_cost_per_hour = group.estimated_cost_per_hour
        queued = args.queue is not None
        self.example_request = group.url.apply(lambda url: example_request(url, auth=auth, queued=queued))
        self.register_outputs(
            {
                "url": self.url,
                "container_group_name": self.container_group_name,
                "container_group_id": self.container_group_id,
                "image_ref": self.image_ref,
                "ready_replicas": self.ready_replicas,
                "estimated_cost_per_hour": self.estimated_cost_per_hour,
                "example_request": self.example_request,
                "queue_name": self.queue_name,
            }
        )


def example_request(url: str | None, *, auth: bool, queued: bool = False) -> str:
    """A ready-to-paste curl command for the deployment's txt2img endpoint."""
    if not url:
        if queued:
            return "no gateway: submit jobs with `python -m components.txt2img --stack <stack> --count N`"
        return "no gateway: the group has no public URL"
    key = f' -H "{API_KEY_HEADER}: ${API_KEY_ENV}"' if auth else ""
    body = json.dumps(EXAMPLE_REQUEST.body())
    return (
        f"curl -sS -X POST {url}{TXT2IMG_PATH} -H 'Content-Type: application/json'{key} -d '{body}' "
        '| python3 -c \'import sys,json,base64; open("out.png","wb").write('
        'base64.b64decode(json.load(sys.stdin)["images"][0]))\''
    )
