"""`salad-sd:deployment.queue` -> the Queue resource's inputs and the group's queue-mode inputs.

Queue mode (issue 13): Salad's job-queue worker in the container takes jobs from the queue and POSTs
them to the webui itself (env WEBUI_PORT, default 7859, path /sdapi/v1/txt2img), which needs
`SALAD_SD_QUEUE_WORKER=1` in the container's environment so that the supervisor starts the worker.
The queue autoscaler owns the instance count, so `replicas` is not used; ranges are checked by the
container group core (their failures are mapped back to these keys in `keys.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.container_group.validation import show
from components.program.stack_config.keys import AUTOSCALER_KEYS, DEPLOYMENT, QUEUE_KEYS
from components.program.stack_config.problems import Problems

QUEUE = f"{DEPLOYMENT}.queue"
QUEUE_PATH = "/sdapi/v1/txt2img"
WORKER_ENV = "SALAD_SD_QUEUE_WORKER"
WEBUI_PORT_ENV = "WEBUI_PORT"
DEFAULT_WEBUI_PORT = 7859
QUEUE_SUFFIX = "-jobs"
DEFAULT_MAX_REPLICAS = 3


@dataclass(frozen=True)
class QueueShape:
    """The Queue resource's inputs (without organization and project)."""

    name: Any
    description: Any


def default_queue_name(group_name: Any) -> Any:
    """`<group name>-jobs`, shortened to Salad's 63 characters (a bad group name is reported elsewhere)."""
    if not isinstance(group_name, str):
        return group_name
    return group_name[: 63 - len(QUEUE_SUFFIX)].rstrip("-") + QUEUE_SUFFIX


def build_queue(
    raw: Any, config: Mapping[str, Any], inputs: dict[str, Any], problems: Problems
) -> QueueShape | None:
    """Fill the group's queue inputs for `salad-sd:deployment.queue`; None when the queue is off."""
    if raw is None or raw is False:
        return None
    section = problems.object({} if raw is True else raw, QUEUE, QUEUE_KEYS)
    if section is None:
        return None
    if "replicas" in config:
        problems.add(
            f"{DEPLOYMENT}.replicas has no effect with a queue: the autoscaler decides; set "
            f"{QUEUE}.autoscaler.minReplicas and maxReplicas instead"
        )
    name = section.get("name", default_queue_name(inputs.get("name")))
    auto = problems.object(section.get("autoscaler"), f"{QUEUE}.autoscaler", AUTOSCALER_KEYS) or {}
    autoscaler = {prop: auto[key] for key, prop in AUTOSCALER_KEYS.items() if key in auto}
    autoscaler.setdefault("min_replicas", 0)
    autoscaler.setdefault("max_replicas", DEFAULT_MAX_REPLICAS)
    inputs["queue_autoscaler"] = autoscaler
    inputs["replicas"] = autoscaler["min_replicas"]  # what the group starts with; the autoscaler moves it
    inputs["queue_connection"] = {
        "queue_name": name,
        "port": _webui_port(inputs, problems),
        "path": QUEUE_PATH,
    }
    env = inputs.get("environment_variables")
    if isinstance(env, dict):
        env[WORKER_ENV] = "1"
    description = section.get("description", f"txt2img jobs for {inputs.get('name')} (salad-sd)")
    return QueueShape(name=name, description=description)


def _webui_port(inputs: dict[str, Any], problems: Problems) -> Any:
    env = inputs.get("environment_variables")
    raw = env.get(WEBUI_PORT_ENV) if isinstance(env, dict) else None
    if raw is None:
        return DEFAULT_WEBUI_PORT
    try:
        return int(str(raw))
    except ValueError:
        problems.add(
            f"{DEPLOYMENT}.env.{WEBUI_PORT_ENV} must be a port number (the queue worker calls it), "
            f"got {show(raw)}"
        )
        return DEFAULT_WEBUI_PORT
