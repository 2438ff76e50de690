"""The program's wiring: stack config (read through `pulumi.Config`) → `A1111Deployment` arguments.

Errors meant for the user leave as `pulumi.RunError`: one message, no traceback. Values the user set as
secrets reach the resources only inside secret Outputs (see `secrecy`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import pulumi

from components.container_group.settings import API_KEY, API_KEY_ENV
from components.model_image.resource import DEFAULT_BASE_IMAGE, ModelImageArgs, RegistryCredentials
from components.program.deployment import A1111DeploymentArgs
from components.program.secrecy import Secrecy, secrecy, stack_file_config
from components.program.stack_config import ConfigError, StackConfig, load_stack_config
from components.queue.resource import QueueArgs

SALAD_KEYS = ("organization", "project")
# ContainerGroup inputs that do not come from `salad-sd:deployment`.
_NOT_FROM_DEPLOYMENT = frozenset({"organization", "project", "image", "registry_authentication"})
ENV_INPUT = "environment_variables"
REGISTRY_INPUT = "registry_authentication"


def missing_api_key(salad: pulumi.Config, env: Mapping[str, str] = os.environ) -> str | None:
    """A message when neither `salad:apiKey` nor SALAD_API_KEY is set (the key itself is never kept)."""
    if (salad.get(API_KEY.split(":", 1)[1]) or "").strip() or env.get(API_KEY_ENV, "").strip():
        return None
    return (
        f"{API_KEY} is not set and {API_KEY_ENV} is empty, so the provider cannot call Salad; set it with: "
        f"pulumi config set --secret {API_KEY} <your Salad API key>"
    )


def read_stack_config() -> StackConfig:
    """Read and validate this stack's config before any resource is registered.

    Raises `pulumi.RunError` listing every problem (each naming its key and range). A missing Salad API
    key is one of them in `pulumi up`, and a warning in a preview.
    """
    salad = pulumi.Config("salad")
    project = pulumi.Config("salad-sd")
    problems: list[str] = []
    config: StackConfig | None = None
    try:
        config = load_stack_config(
            stack=pulumi.get_stack(),
            salad={key: salad.get(key) for key in SALAD_KEYS},
            image=project.get_object("image"),
            deployment=project.get_object("deployment"),
        )
    except ConfigError as error:
        problems += error.problems
    key_problem = missing_api_key(salad)
    if key_problem is not None:
        if pulumi.runtime.is_dry_run():
            pulumi.log.warn(f"{key_problem}; `pulumi up` stops here until it is set")
        else:
            problems.append(key_problem)
    if problems or config is None:
        raise pulumi.RunError(str(ConfigError(problems)))
    return config


def program_secrecy() -> Secrecy:
    """The secrecy of this stack's config, from the engine's secret keys and the stack file."""
    return secrecy(pulumi.runtime.is_config_secret, stack_file_config(pulumi.get_stack()))


def deployment_args(config: StackConfig, secret: Secrecy | None = None) -> A1111DeploymentArgs:
    """The component's arguments; inputs that carry a secret are wrapped in secret Outputs."""
    secret = program_secrecy() if secret is None else secret
    image = config.image
    registry = image.registry
    group_inputs: dict[str, Any] = dict(config.container_group_inputs)
    auth = bool((group_inputs.get("gateway") or {}).get("auth"))
    secret_inputs = secret_input_names(group_inputs, secret)
    if registry is not None:
        group_inputs[REGISTRY_INPUT] = registry.salad_authentication()
        secret_inputs.append(REGISTRY_INPUT)
    for name in secret_inputs:
        group_inputs[name] = pulumi.Output.secret(group_inputs[name])
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
            secret=secret.image,
        ),
        container_group=group_inputs,
        protect=config.protect,
        auth=auth,
        secret_outputs=secret_inputs,
        queue=None
        if config.queue is None
        else QueueArgs(name=config.queue.name, description=config.queue.description),
    )


def secret_input_names(group_inputs: Mapping[str, Any], secret: Secrecy) -> list[str]:
    """The ContainerGroup inputs that must be secrets."""
    if secret.deployment:
        return sorted(name for name in group_inputs if name not in _NOT_FROM_DEPLOYMENT)
    return [ENV_INPUT] if secret.env and ENV_INPUT in group_inputs else []
