"""`salad-sd:image` -> ImageConfig. The registry password is never echoed, whatever its type."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from components.container_group.validation import show
from components.model_image.extensions import ExtensionSpec, check_extensions
from components.model_image.models import (
    ModelConfigError,
    ModelSpec,
    check_models,
    no_checkpoint_problem,
)
from components.model_image.queue_worker import QueueWorkerSpec, parse_queue_worker
from components.program.stack_config.keys import BUILD_ONLY_IMAGE_KEYS, IMAGE, IMAGE_KEYS, REGISTRY_KEYS
from components.program.stack_config.model import ImageConfig, RegistryConfig
from components.program.stack_config.problems import Problems

Item = TypeVar("Item")

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST = rf"{_LABEL}(?:\.{_LABEL})*(?::[0-9]+)?"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = rf"(?:{_HOST}/)?{_COMPONENT}(?:/{_COMPONENT})*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"sha256:[0-9a-f]{64}"
_REFERENCE = rf"{_REPOSITORY}(?::{_TAG})?(?:@{_DIGEST})?"
PATTERNS: Mapping[str, tuple[str, str]] = {
    "repository": (
        _REPOSITORY,
        "an image repository without tag or digest, such as registry.example.com/team/salad-sd",
    ),
    "ref": (_REFERENCE, "an image reference such as registry.example.com/team/salad-sd@sha256:<64 hex>"),
    "baseImage": (
        _REFERENCE,
        "an image reference such as saladtechnologies/a1111:ipv6-v1.9.4, best pinned by digest "
        "(saladtechnologies/a1111:ipv6-v1.9.4@sha256:<64 hex>)",
    ),
    "tag": (_TAG, "a Docker tag: up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'"),
}
_SERVER = (_HOST, "a registry host, optionally with a port, such as ghcr.io or registry.example.com:5000")


@dataclass(frozen=True)
class ParsedImage:
    """The image config, plus the raw registry credentials for the core to check."""

    config: ImageConfig
    registry_authentication: dict[str, Any] | None


def parse_image(raw: Any, problems: Problems) -> ParsedImage:
    """Every problem of `salad-sd:image` is added to `problems`; the result is only meaningful without any."""
    if raw is None:
        problems.add(
            f"{IMAGE} is required: set {IMAGE}.repository (build and push an image) or {IMAGE}.ref "
            f"(deploy an existing image)"
        )
        return ParsedImage(ImageConfig(), None)
    config = problems.object(raw, IMAGE, IMAGE_KEYS)
    if config is None:
        return ParsedImage(ImageConfig(), None)

    has_ref, has_repository = config.get("ref") is not None, config.get("repository") is not None
    if has_ref == has_repository:
        got = "both" if has_ref else "neither"
        problems.add(
            f"{IMAGE} must set exactly one of repository (build and push) or ref "
            f"(deploy an existing image); got {got}"
        )
    if has_ref:
        for key in BUILD_ONLY_IMAGE_KEYS:
            if key != "repository" and config.get(key) not in (None, [], ()):
                problems.add(
                    f"{IMAGE}.{key} has no effect with {IMAGE}.ref (nothing is built); remove one of them"
                )

    texts = {key: _text(config.get(key), f"{IMAGE}.{key}", *PATTERNS[key], problems) for key in PATTERNS}
    registry, authentication = _registry(config.get("registry"), problems)
    models = () if has_ref else _models(config.get("models"), problems)
    builds = has_repository and not has_ref
    if builds and not _has_problem(problems, f"{IMAGE}.models"):
        problem = no_checkpoint_problem(models, f"{IMAGE}.models")
        if problem:
            problems.add(problem)
    image = ImageConfig(
        repository=texts["repository"],
        ref=texts["ref"],
        base_image=texts["baseImage"],
        tag=texts["tag"],
        registry=registry,
        models=models,
        extensions=_extensions(config.get("extensions"), problems),
        queue_worker=_queue_worker(config.get("queueWorker"), problems),
    )
    return ParsedImage(image, authentication)


def _text(value: Any, where: str, pattern: str, described: str, problems: Problems) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(pattern, value):
        return value
    problems.add(f"{where} must be {described}, got {show(value)}")
    return None


def _registry(raw: Any, problems: Problems) -> tuple[RegistryConfig | None, dict[str, Any] | None]:
    """The credentials, and the matching `registry_authentication` input so the core checks their lengths."""
    where = f"{IMAGE}.registry"
    if raw is None:
        return None, None
    config = problems.object(raw, where, REGISTRY_KEYS)
    if config is None:
        return None, None
    server = config.get("server")
    if server is None:
        problems.add(f"{where}.server is required")
    else:
        server = _text(server, f"{where}.server", *_SERVER, problems)
    username, password = config.get("username"), config.get("password")
    authentication = {"basic": {"username": username, "password": password}}
    if isinstance(server, str) and isinstance(username, str) and isinstance(password, str):
        return RegistryConfig(server=server, username=username, password=password), authentication
    return None, authentication  # the core reports username and password without echoing them


def _models(raw: Any, problems: Problems) -> tuple[ModelSpec, ...]:
    return _config_list(raw, f"{IMAGE}.models", check_models, "{file, kind, url, sha256}", problems)


def _has_problem(problems: Problems, key: str) -> bool:
    return any(message.startswith(key) for message in problems.messages)


def _extensions(raw: Any, problems: Problems) -> tuple[ExtensionSpec, ...]:
    return _config_list(raw, f"{IMAGE}.extensions", check_extensions, "{url, ref, name}", problems)


def _config_list(
    raw: Any,
    where: str,
    check: Callable[[Sequence[object], str], tuple[list[Item], list[str]]],
    shape: str,
    problems: Problems,
) -> tuple[Item, ...]:
    """A list of `shape` objects through its `check_*`; every problem is added (None = empty)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.add(f"{where} must be a list of {shape} objects, got {show(raw)}")
        return ()
    items, found = check(raw, where)
    for problem in found:
        problems.add(problem)
    return tuple(items)


def _queue_worker(raw: Any, problems: Problems) -> QueueWorkerSpec | None:
    try:
        return parse_queue_worker(raw, f"{IMAGE}.queueWorker")
    except ModelConfigError as error:
        problems.add(str(error))
        return None
