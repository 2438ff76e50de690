"""Salad request bodies built from the resource inputs: the create body and the merge-patch for an update.

Both normalize their inputs first (numbers come back from the engine as floats), so every integer in a
body is an int.
"""

from __future__ import annotations

import copy
from typing import Any

from components.container_group.properties import BYTES_PER_GIB, PROBE_KEYS
from components.container_group.validation import normalize_inputs

# Changing these restarts every instance and bumps the group's version (salad-api.md §7).
_VERSIONED_CONTAINER_KEYS = ("image", "command", "environment_variables")

# Objects a patch carries whole when anything in them changed (with null for keys the old one had):
# Salad validates a probe or a registry credential as a complete object, and a changed environment is
# safest sent complete whether the server merges it or replaces it.
_SENT_WHOLE = {
    *((probe_key,) for probe_key in PROBE_KEYS),
    ("container", "registry_authentication"),
    ("container", "environment_variables"),
}


def create_body(inputs: dict[str, Any], gpu_class_ids: list[str]) -> dict[str, Any]:
    """The `ContainerGroupPrototype` for `inputs`; optional fields are omitted when unset."""
    props = normalize_inputs(inputs)
    body: dict[str, Any] = {
        "name": props.get("name"),
        "autostart_policy": props["autostart"],
        "replicas": props["replicas"],
        "restart_policy": props["restart_policy"],
        "container": _container(props, gpu_class_ids),
    }
    _set_if_given(body, "display_name", props.get("display_name"))
    _set_if_given(body, "country_codes", props.get("country_codes"))
    if props.get("gateway") is not None:
        body["networking"] = _networking(props["gateway"])
    for probe_key in PROBE_KEYS:
        _set_if_given(body, probe_key, props.get(probe_key))
    _set_if_given(body, "queue_connection", props.get("queue_connection"))
    if props.get("queue_autoscaler") is not None:
        body["queue_autoscaler"] = props["queue_autoscaler"]
        body["replicas"] = props["queue_autoscaler"]["min_replicas"]  # the autoscaler owns the count
    return copy.deepcopy(body)


def patch_body(old: dict[str, Any], new: dict[str, Any], gpu_class_ids: list[str] | None) -> dict[str, Any]:
    """The RFC 7386 merge-patch turning the group built from `old` into the one built from `new`.

    Only changed top-level keys are present; arrays are sent whole; `null` removes what `new` no longer
    sets (a probe, country codes, the display name, a command, ...). Fields Salad cannot patch (name,
    autostart, restart policy, gateway options other than its port) and provider-only settings (waiting,
    adopt) never appear. `gpu_class_ids` are the resolved ids for `new`, or None to leave GPUs alone;
    they are sent when they differ from `old["gpu_class_ids"]` (or, if `old` has none recorded, when the
    `gpu_classes` input changed).
    """
    old_view = _patchable(create_body(old, []))
    new_view = _patchable(create_body(new, []))
    if "networking" not in old_view or "networking" not in new_view:
        old_view.pop("networking", None)
        new_view.pop("networking", None)
    if "queue_autoscaler" in old_view or "queue_autoscaler" in new_view:
        old_view.pop("replicas")  # the autoscaler moves it: patching it would fight the autoscaler
        new_view.pop("replicas")
    patch = _merge_patch(old_view, new_view, ())
    if patch.get("queue_autoscaler") is not None:
        # Whole and without nulls: the spec allows none inside it and needs min, max and length together.
        patch["queue_autoscaler"] = new_view["queue_autoscaler"]
    if gpu_class_ids is not None and _gpu_classes_changed(old, new, gpu_class_ids):
        container = patch.setdefault("container", {})
        container.setdefault("resources", {})["gpu_classes"] = list(gpu_class_ids)
    return patch


def is_versioned_change(patch: dict[str, Any]) -> bool:
    """Whether the patch restarts every instance on a new version.

    True for image, command, environment variables, probes and gateway (networking) changes.
    """
    container = patch.get("container")
    container_keys = container.keys() if isinstance(container, dict) else ()
    return (
        any(key in patch for key in PROBE_KEYS)
        or "networking" in patch
        or any(key in container_keys for key in _VERSIONED_CONTAINER_KEYS)
    )


def _container(props: dict[str, Any], gpu_class_ids: list[str]) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "cpu": props.get("cpu"),
        "memory": props.get("memory"),
        "gpu_classes": list(gpu_class_ids),
    }
    if props.get("storage_gb") is not None:
        resources["storage_amount"] = props["storage_gb"] * BYTES_PER_GIB
    _set_if_given(resources, "shm_size", props.get("shm_size"))
    container: dict[str, Any] = {
        "image": props.get("image"),
        "resources": resources,
        "image_caching": props["image_caching"],
    }
    _set_if_given(container, "command", props.get("command"))
    _set_if_given(container, "environment_variables", props.get("environment_variables") or None)
    _set_if_given(container, "priority", props.get("priority"))
    _set_if_given(container, "registry_authentication", props.get("registry_authentication"))
    return container


def _networking(gateway: dict[str, Any]) -> dict[str, Any]:
    return {
        "protocol": "http",
        "port": gateway["port"],
        "auth": gateway["auth"],
        "load_balancer": gateway["load_balancer"],
        "single_connection_limit": gateway["single_connection_limit"],
        "client_request_timeout": gateway["client_request_timeout_ms"],
        "server_response_timeout": gateway["server_response_timeout_ms"],
    }


def _patchable(body: dict[str, Any]) -> dict[str, Any]:
    fixed = ("name", "autostart_policy", "restart_policy", "queue_connection")
    view = {key: value for key, value in body.items() if key not in fixed}
    if "networking" in view:
        view["networking"] = {"port": view["networking"]["port"]}
    del view["container"]["resources"]["gpu_classes"]
    return view


def _merge_patch(old: dict[str, Any], new: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        if key in old and old[key] == value:
            continue
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            if (*path, key) in _SENT_WHOLE:
                patch[key] = {**{gone: None for gone in before if gone not in value}, **value}
            else:
                patch[key] = _merge_patch(before, value, (*path, key))
        else:
            patch[key] = value
    return patch


def _gpu_classes_changed(old: dict[str, Any], new: dict[str, Any], gpu_class_ids: list[str]) -> bool:
    recorded = old.get("gpu_class_ids")
    if isinstance(recorded, list):
        return recorded != list(gpu_class_ids)
    return bool(normalize_inputs(old)["gpu_classes"] != normalize_inputs(new)["gpu_classes"])


def _set_if_given(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        target[key] = value
