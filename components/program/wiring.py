"""The program's wiring: stack config (read through `pulumi.Config`) → `A1111Deployment` arguments."""

from __future__ import annotations

import pulumi

from components.model_image.resource import DEFAULT_BASE_IMAGE, ModelImageArgs, RegistryCredentials
from components.program.deployment import A1111DeploymentArgs
from components.program.stack_config import StackConfig, load_stack_config

SALAD_KEYS = ("organization", "project")


def read_stack_config() -> StackConfig:
    """Read and validate this stack's config; raises ConfigError before any resource is registered."""
    salad = pulumi.Config("salad")
    project = pulumi.Config("salad-sd")
    return load_stack_config(
        stack=pulumi.get_stack(),
        salad={key: salad.get(key) for key in SALAD_KEYS},
        image=project.get_object("image"),
        deployment=project.get_object("deployment"),
    )


def deployment_args(config: StackConfig) -> A1111DeploymentArgs:
    image = config.image
    registry = image.registry
    group_inputs = dict(config.container_group_inputs)
    if registry is not None:
        group_inputs["registry_authentication"] = pulumi.Output.secret(registry.salad_authentication())
    return A1111DeploymentArgs(
        image=ModelImageArgs(
            repository=image.repository,
            models=image.models,
            extensions=image.extensions,
            queue_worker=image.queue_worker,
            base_image=image.base_image or DEFAULT_BASE_IMAGE,
            tag=image.tag,
            ref=image.ref,
            registry=None
            if registry is None
            else RegistryCredentials(registry.server, registry.username, registry.password),
        ),
        container_group=group_inputs,
        protect=config.protect,
    )
