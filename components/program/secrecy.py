"""Which stack config values are secrets, so the program keeps them inside secret Outputs.

Pulumi marks a whole config key secret when any value under it was set with `--secret` (for instance
`pulumi config set --secret --path 'salad-sd:deployment.env.HF_TOKEN' ...` makes all of
`salad-sd:deployment` secret) and tells the program only the key. The stack file shows which leaves are
encrypted (`{secure: v1:...}`), so that is read when it is there; otherwise the whole key counts as secret.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import components
from components.program.stack_config.keys import DEPLOYMENT, IMAGE

PROJECT_DIR = components.PROJECT_DIR
"""Where the `Pulumi.<stack>.yaml` files are."""

Path_ = tuple[Any, ...]
_ENV = ("env",)
_REGISTRY_PASSWORD = ("registry", "password")


@dataclass(frozen=True)
class Secrecy:
    """What must reach the resources only inside secrets."""

    env: bool = False
    """The container environment (`salad-sd:deployment.env`)."""
    deployment: bool = False
    """Every container-group setting from `salad-sd:deployment` (a secret outside `env`, or unknown)."""
    image: bool = False
    """Every image setting (a secret in `salad-sd:image` other than `registry.password`, always secret)."""


def secret_leaves(value: Any, path: Path_ = ()) -> list[Path_]:
    """Paths of the encrypted (`{secure: ...}`) values in a stack file's config value."""
    if isinstance(value, Mapping):
        if set(value) == {"secure"}:
            return [path]
        return [leaf for key, item in value.items() for leaf in secret_leaves(item, (*path, key))]
    if isinstance(value, list):
        return [leaf for index, item in enumerate(value) for leaf in secret_leaves(item, (*path, index))]
    return []


def stack_file_config(stack: str, project_dir: Path | None = None) -> Mapping[str, Any]:
    """The `config:` of `Pulumi.<stack>.yaml` (empty when the file is missing or unreadable)."""
    try:
        document = yaml.safe_load(((project_dir or PROJECT_DIR) / f"Pulumi.{stack}.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return {}
    config = document.get("config") if isinstance(document, Mapping) else None
    return config if isinstance(config, Mapping) else {}


def _leaves(key: str, file_config: Mapping[str, Any]) -> list[Path_]:
    """The secret paths under `key`; `[()]` (the whole key) when the stack file does not say."""
    return secret_leaves(file_config.get(key)) or [()]


def secrecy(is_secret: Callable[[str], bool], file_config: Mapping[str, Any]) -> Secrecy:
    """Secrecy of the program's inputs, given which keys Pulumi calls secret and the stack file's config."""
    deployment = is_secret(DEPLOYMENT)
    deployment_leaves = _leaves(DEPLOYMENT, file_config) if deployment else []
    only_env = all(leaf[:1] == _ENV for leaf in deployment_leaves)
    image_leaves = _leaves(IMAGE, file_config) if is_secret(IMAGE) else []
    return Secrecy(
        env=deployment,
        deployment=deployment and not only_env,
        image=any(leaf != _REGISTRY_PASSWORD for leaf in image_leaves),
    )
