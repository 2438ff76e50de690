"""`load_stack_config`: the one entry point; validation of ranges is delegated to the ContainerGroup core."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.container_group.validation import check_inputs
from components.model_image.queue_worker import CONFIG_KEY as WORKER_KEY
from components.program.stack_config.deployment import build_deployment
from components.program.stack_config.image import parse_image
from components.program.stack_config.keys import config_message
from components.program.stack_config.model import ConfigError, QueueConfig, StackConfig
from components.program.stack_config.problems import Problems, type_name
from components.queue.core import check_queue_inputs

# Stands in for the image while checking the other inputs when nothing (no `ref`) names it yet.
_IMAGE_PLACEHOLDER = "registry.invalid/salad-sd:config-check"
_NOT_RETURNED = ("image", "registry_authentication")


def load_stack_config(*, stack: str, salad: Mapping[str, Any], image: Any, deployment: Any) -> StackConfig:
    """Validate the stack config and turn it into component arguments.

    `salad` holds the `salad:*` values (only organization and project are read; the API key and URL are
    never stored or echoed); `image` and `deployment` are the parsed `salad-sd:image` and
    `salad-sd:deployment` objects, None when unset. Raises ConfigError listing every problem.
    """
    problems = Problems()
    if not isinstance(salad, Mapping):
        problems.add(f"the salad:* settings must be a mapping, got a {type_name(salad)}")
        salad = {}
    parsed_image = parse_image(image, problems)
    shape = build_deployment(stack, deployment, problems)

    news = dict(shape.inputs)
    news["organization"] = salad.get("organization") or None
    news["project"] = salad.get("project") or None
    news["image"] = parsed_image.config.ref or _IMAGE_PLACEHOLDER
    if parsed_image.registry_authentication is not None:
        news["registry_authentication"] = parsed_image.registry_authentication
    checked, failures = check_inputs(news)
    for failure in failures:
        if failure.property not in shape.inherited:
            problems.add(config_message(failure))

    queue = None
    if shape.queue is not None:
        queue_news = {**{k: news[k] for k in ("organization", "project")}, "name": shape.queue.name}
        queue_news["description"] = shape.queue.description
        _, queue_failures = check_queue_inputs(queue_news)
        for failure in queue_failures:
            if failure.property == "description":  # the name is checked as the group's queue_name
                problems.add(f"salad-sd:deployment.queue.{failure.reason}")
        queue = QueueConfig(name=str(shape.queue.name), description=str(shape.queue.description))
        if parsed_image.config.builds and parsed_image.config.queue_worker is None:
            problems.add(
                f"salad-sd:deployment.queue needs Salad's job-queue worker in the image: set {WORKER_KEY} "
                "{url, sha256} (a salad-cloud-job-queue-worker release asset and its sha256; see the README)"
            )

    if problems.messages:
        raise ConfigError(problems.messages)
    return StackConfig(
        organization=str(checked["organization"]),
        project=str(checked["project"]),
        image=parsed_image.config,
        container_group_inputs={k: v for k, v in checked.items() if k not in _NOT_RETURNED},
        smoke_test=shape.smoke_test,
        protect=shape.protect,
        queue=queue,
    )
